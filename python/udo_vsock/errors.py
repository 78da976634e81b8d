# SPDX-License-Identifier: LGPL-2.1-or-later
"""The exceptions of the udo-vsock client.

Every exception the library raises on purpose derives from Error.  A
daemon's ``ERR <code> <message>`` reply becomes a CommandError (or the
subclass for its code) carrying the stable ``code``; connection and
handshake failures are also OSErrors, so ``except OSError`` still works.
"""

import errno as _errno

__all__ = [
    "Error",
    "AddressError",
    "ProtocolError",
    "ConnectionClosed",
    "HandshakeError",
    "HandshakeRefused",
    "CommandError",
    "RequestSyntaxError",
    "UnknownCommand",
    "UsageError",
    "Denied",
    "TooLong",
    "Busy",
    "CommandTimeout",
    "Failed",
    "InternalError",
    "Unavailable",
]


class Error(Exception):
    """Base class of the exceptions this library raises."""


class AddressError(Error, ValueError):
    """An address text that is not vsock:CID:PORT, unix:PATH or vsock-mux:PATH:PORT."""


class ProtocolError(Error):
    """The server sent something the protocol does not allow."""


class ConnectionClosed(Error, ConnectionError):
    """The connection ended while a reply was still due."""

    def __init__(self, message, pending=0):
        super().__init__(_errno.ECONNRESET, message)
        #: How many requests were left unanswered.
        self.pending = pending

    def __str__(self):
        return self.strerror


class HandshakeError(Error, ConnectionError):
    """The VMM of a vsock-mux address did not accept ``CONNECT <port>``."""

    def __init__(self, err, message):
        super().__init__(err, message)

    def __str__(self):
        return self.strerror


class HandshakeRefused(HandshakeError, ConnectionRefusedError):
    """The VMM closed without a reply: nothing listens on that guest port."""


class CommandError(Error):
    """An ``ERR <code> <message>`` reply.

    ``code`` is the stable, machine-readable code (``usage``, ``denied``,
    ...); ``message`` is meant for people and may change between daemon
    versions; ``data`` holds the data lines (bytes) sent before the ERR.
    """

    #: The code this class stands for (None: the base class, any code).
    CODE = None
    _by_code = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.CODE is not None:
            CommandError._by_code[cls.CODE] = cls

    def __init__(self, code, message="", data=None):
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.data = list(data or [])

    def __str__(self):
        return f"{self.code}: {self.message}" if self.message else self.code

    def __repr__(self):
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"

    @classmethod
    def from_reply(cls, code, message, data=None):
        """Builds the exception for CODE: its subclass if it has one."""
        return CommandError._by_code.get(code, CommandError)(code, message, data)


class RequestSyntaxError(CommandError):
    """ERR syntax: the request line was malformed."""

    CODE = "syntax"


class UnknownCommand(CommandError):
    """ERR unknown-command: no command of that name is configured."""

    CODE = "unknown-command"


class UsageError(CommandError):
    """ERR usage: too few or too many arguments."""

    CODE = "usage"


class Denied(CommandError):
    """ERR denied: this peer may not run the command."""

    CODE = "denied"


class TooLong(CommandError):
    """ERR too-long: the request line exceeded max-line-length (the daemon closes)."""

    CODE = "too-long"


class Busy(CommandError):
    """ERR busy: a connection or program limit is reached."""

    CODE = "busy"


class CommandTimeout(CommandError):
    """ERR timeout: the command, the connection or the request line took too long."""

    CODE = "timeout"


class Failed(CommandError):
    """ERR failed: the command ran and failed."""

    CODE = "failed"


class InternalError(CommandError):
    """ERR internal: the daemon could not carry out the request."""

    CODE = "internal"


class Unavailable(CommandError):
    """ERR unavailable: the handler is not available right now."""

    CODE = "unavailable"
