# SPDX-License-Identifier: LGPL-2.1-or-later
"""udo_vsock - a client for udo-vsockd, the vsock control channel daemon.

    import udo_vsock

    with udo_vsock.connect("vsock:2:5000") as c:
        print(c.call("ping").text)                 # pong
        for line in c.call("facts", "kernel"):     # the data lines, as str
            print(line)
        replies = c.pipeline([("ping", str(i)) for i in range(100)])

ERR replies raise udo_vsock.CommandError (or its subclass for the code:
UnknownCommand, UsageError, Denied, ...), whose ``.code`` is the stable
code of udo-vsock-protocol(7).
"""

from .address import (
    CID_ANY,
    CID_HOST,
    CID_HYPERVISOR,
    CID_LOCAL,
    PORT_ANY,
    Address,
    open_socket,
    parse_address,
)
from .client import Client, Stream, connect
from .errors import (
    AddressError,
    Busy,
    CommandError,
    CommandTimeout,
    ConnectionClosed,
    Denied,
    Error,
    Failed,
    HandshakeError,
    HandshakeRefused,
    InternalError,
    ProtocolError,
    RequestSyntaxError,
    TooLong,
    Unavailable,
    UnknownCommand,
    UsageError,
)
from .protocol import Reply, build_request, needs_quotes, parse_reply_line, quote

__version__ = "0.1.0"

__all__ = [
    "connect",
    "Client",
    "Stream",
    "Reply",
    "Address",
    "parse_address",
    "open_socket",
    "quote",
    "needs_quotes",
    "build_request",
    "parse_reply_line",
    "CID_ANY",
    "CID_HOST",
    "CID_HYPERVISOR",
    "CID_LOCAL",
    "PORT_ANY",
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
