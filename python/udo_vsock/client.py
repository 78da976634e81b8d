# SPDX-License-Identifier: LGPL-2.1-or-later
"""A connection to udo-vsockd: requests, pipelining, replies, byte streams."""

import errno
import select
import socket

from .address import open_socket
from .errors import CommandError, ConnectionClosed, ProtocolError
from .protocol import ReplyParser, build_request

__all__ = ["Client", "Stream", "connect"]

_RECV_SIZE = 65536


class Client:
    """One connection to the daemon.

    Requests may be sent ahead of their replies (pipelining): send()
    queues a request and writes what the socket takes without blocking;
    read_reply() returns the replies in request order and keeps writing
    queued requests while it waits, so a long pipeline cannot deadlock
    against a daemon that stops reading until its replies are read.

    TIMEOUT (seconds, None to wait forever) limits how long a reply may be
    due with nothing arriving; it raises TimeoutError.
    """

    def __init__(self, address=None, *, timeout=30.0, connect_timeout=5.0, mux_no_ok=False, sock=None):
        if (address is None) == (sock is None):
            raise TypeError("give either an address or a connected sock")
        self.timeout = timeout
        self._sock = sock if sock is not None else open_socket(address, connect_timeout, mux_no_ok)
        self._sock.setblocking(False)
        self._poll = select.poll()
        self._poll.register(self._sock, select.POLLIN)
        self._out = bytearray()
        self._in = bytearray()
        self._scan = 0  # bytes of _in already searched for a LF
        self._eof = False
        self._write_failed = None
        self._pending = 0
        self._parser = ReplyParser()

    # --- context manager and plumbing ---

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Closes the connection; unread replies are dropped."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def fileno(self):
        """The socket's file descriptor."""
        return self._sock.fileno()

    @property
    def pending(self):
        """Requests sent (or queued) whose replies have not been read yet."""
        return self._pending

    def _check_open(self):
        """Raises ValueError on a closed client."""
        if self._sock is None:
            raise ValueError("the client is closed")

    # --- requests ---

    def send(self, command, *args):
        """Queues one request and writes what the socket takes now.

        The words are quoted as the protocol needs (ValueError for LF or
        NUL); read its reply with read_reply().
        """
        self._check_open()
        self._out += build_request(command, *args)
        self._pending += 1
        self._flush_some()

    def send_line(self, line):
        """Queues one request line written already quoted (str or bytes, no LF)."""
        self._check_open()
        data = line.encode("utf-8", "surrogateescape") if isinstance(line, str) else bytes(line)
        if b"\n" in data or b"\0" in data:
            raise ValueError("a request line cannot hold LF or NUL")
        if not data.strip(b" \t\r"):
            raise ValueError("a blank line is not a request and gets no reply")
        self._out += data + b"\n"
        self._pending += 1
        self._flush_some()

    def flush(self):
        """Writes every queued request (reading nothing)."""
        self._check_open()
        while self._out and self._write_failed is None:
            if not self._poll_once(select.POLLOUT):
                raise TimeoutError(errno.ETIMEDOUT, f"could not write requests for {self.timeout} s")
            self._flush_some()
        if self._write_failed is not None:
            raise self._write_failed

    def read_reply(self, check=True):
        """Returns the next reply in request order.

        An ERR reply raises its CommandError, or is returned as one when
        CHECK is false.  Raises ConnectionClosed when the server closes
        before the reply is complete, ProtocolError for a line that is not
        D, OK or ERR, and TimeoutError when nothing arrives for timeout s.
        """
        self._check_open()
        if self._pending == 0:
            raise ProtocolError("no request is waiting for a reply")
        while True:
            line = self._next_line()
            result = self._parser.feed(line)
            if result is None:
                continue
            self._pending -= 1
            if check and isinstance(result, CommandError):
                raise result
            return result

    def call(self, command, *args):
        """Sends one request and returns its Reply; ERR raises CommandError."""
        if self._pending:
            raise ProtocolError(f"{self._pending} earlier replies are unread: read them first")
        self.send(command, *args)
        return self.read_reply()

    def pipeline(self, requests):
        """Sends every request of REQUESTS (each a sequence: command, args...)
        before reading, and returns their replies in order: a Reply, or the
        CommandError of an ERR reply (returned, not raised)."""
        if self._pending:
            raise ProtocolError(f"{self._pending} earlier replies are unread: read them first")
        # Every line is built before any is queued: a word that cannot be
        # sent (ValueError) leaves the connection as it was.
        lines = [build_request(*((w,) if isinstance(w, (str, bytes)) else w)) for w in requests]
        for line in lines:
            self._out += line
        self._pending += len(lines)
        self._flush_some()
        return [self.read_reply(check=False) for _ in lines]

    # --- byte streams (proxy, handoff) ---

    def stream(self):
        """After an ``OK proxy`` or ``OK handoff`` reply, the connection
        carries bytes: returns it as a Stream, starting with whatever the
        service already sent.  The Client is closed by this (it gives the
        socket away)."""
        self._check_open()
        if self._pending:
            raise ProtocolError(f"{self._pending} replies are unread")
        if self._out:
            self.flush()
        sock, rest = self._sock, bytes(self._in)
        self._sock = None
        sock.setblocking(True)
        return Stream(sock, rest)

    # --- I/O ---

    def _poll_once(self, events):
        """Waits up to timeout for EVENTS; returns the events seen (0: none)."""
        if self._out and self._write_failed is None:
            events |= select.POLLOUT
        self._poll.modify(self._sock, events)
        ms = None if self.timeout is None else int(self.timeout * 1000)
        while True:
            try:
                ready = self._poll.poll(ms)
                break
            except InterruptedError:
                continue
        return ready[0][1] if ready else 0

    def _flush_some(self):
        """Writes what the socket takes of the queued requests, without blocking."""
        while self._out and self._write_failed is None:
            try:
                n = self._sock.send(self._out)
            except (BlockingIOError, InterruptedError):
                return
            except (BrokenPipeError, ConnectionResetError) as e:
                # The server closed (after ERR too-long, busy or timeout):
                # what it sent before is still there to be read.
                self._write_failed = ConnectionClosed(f"the server closed the connection: {e.strerror}", 0)
                self._out.clear()
                return
            del self._out[:n]

    def _fill(self):
        """Reads what has arrived (waiting up to timeout); sets _eof at the end."""
        while True:
            events = self._poll_once(select.POLLIN)
            if events == 0:
                raise TimeoutError(errno.ETIMEDOUT, f"no reply data for {self.timeout} s ({self._pending} due)")
            if events & select.POLLOUT:
                self._flush_some()
            if events & (select.POLLIN | select.POLLHUP | select.POLLERR):
                try:
                    chunk = self._sock.recv(_RECV_SIZE)
                except (BlockingIOError, InterruptedError):
                    continue
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    self._eof = True
                else:
                    self._in += chunk
                return

    def _next_line(self):
        """Returns the next LF-terminated line (without the LF)."""
        while True:
            i = self._in.find(b"\n", self._scan)
            if i >= 0:
                line = bytes(self._in[:i])
                del self._in[: i + 1]
                self._scan = 0
                return line
            self._scan = len(self._in)
            if self._eof:
                what = "in the middle of a reply" if self._in or self._parser.in_reply else "before replying"
                raise ConnectionClosed(
                    f"the server closed the connection {what} ({self._pending} replies due)", self._pending
                )
            self._fill()


class Stream:
    """The byte stream after ``OK proxy`` / ``OK handoff``: a socket whose
    first bytes may already have been read with the reply."""

    def __init__(self, sock, buffered=b""):
        self.sock = sock
        self._buffered = bytes(buffered)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def recv(self, size=_RECV_SIZE):
        """Returns up to SIZE bytes (b"" at the end of the stream)."""
        if self._buffered:
            data, self._buffered = self._buffered[:size], self._buffered[size:]
            return data
        return self.sock.recv(size)

    def read_all(self):
        """Reads until the service closes its side."""
        parts = [self._buffered]
        self._buffered = b""
        while True:
            chunk = self.sock.recv(_RECV_SIZE)
            if not chunk:
                return b"".join(parts)
            parts.append(chunk)

    def sendall(self, data):
        """Sends all of DATA to the service."""
        self.sock.sendall(data)

    def shutdown_write(self):
        """Ends what is sent (the service sees end of file); reading goes on."""
        self.sock.shutdown(socket.SHUT_WR)

    def settimeout(self, timeout):
        """Sets the socket's timeout for recv and sendall."""
        self.sock.settimeout(timeout)

    def close(self):
        """Closes the stream."""
        self.sock.close()


def connect(address, *, timeout=30.0, connect_timeout=5.0, mux_no_ok=False):
    """Connects to ADDRESS (vsock:CID:PORT, unix:PATH, vsock-mux:PATH:PORT) and returns a Client."""
    return Client(address, timeout=timeout, connect_timeout=connect_timeout, mux_no_ok=mux_no_ok)
