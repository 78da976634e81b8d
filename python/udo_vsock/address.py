# SPDX-License-Identifier: LGPL-2.1-or-later
"""Addresses as udo-vsock(1) and udo_vsock_addr_parse(3) write them, and connecting to them.

    vsock:CID:PORT        CID a number or any, local (1), host (2), hypervisor (0);
                          PORT a number (any only to listen)
    unix:PATH             an AF_UNIX stream socket; @NAME is abstract
    vsock-mux:PATH:PORT   hybrid vsock (Firecracker, Cloud Hypervisor): connect
                          to the VMM's socket PATH, send "CONNECT PORT\\n" and
                          wait for its "OK <host_port>\\n" line
"""

import errno
import os
import socket
import time
from dataclasses import dataclass

from .errors import AddressError, HandshakeError, HandshakeRefused

__all__ = [
    "Address",
    "parse_address",
    "open_socket",
    "CID_ANY",
    "CID_HYPERVISOR",
    "CID_LOCAL",
    "CID_HOST",
    "PORT_ANY",
]

CID_ANY = 0xFFFFFFFF
CID_HYPERVISOR = 0
CID_LOCAL = 1
CID_HOST = 2
PORT_ANY = 0xFFFFFFFF
_U32_MAX = 0xFFFFFFFF
_CID_NAMES = {"any": CID_ANY, "hypervisor": CID_HYPERVISOR, "local": CID_LOCAL, "host": CID_HOST}
_PATH_MAX = 108  # sizeof(sun_path), NUL included
_MUX_REPLY_MAX = 64  # UDO_VSOCK_MUX_REPLY_MAX: the longest "OK <port>" line read


@dataclass(frozen=True)
class Address:
    """A parsed address: kind "vsock" (cid, port), "unix" (path) or "vsock-mux" (path, port)."""

    kind: str
    cid: int = 0
    port: int = 0
    path: str = ""

    @classmethod
    def parse(cls, text):
        """Parses TEXT; raises AddressError for anything udo_vsock_addr_parse() refuses."""
        return parse_address(text)

    def __str__(self):
        if self.kind == "vsock":
            cid = next((n for n, v in _CID_NAMES.items() if v == self.cid), str(self.cid))
            port = "any" if self.port == PORT_ANY else str(self.port)
            return f"vsock:{cid}:{port}"
        if self.kind == "unix":
            return f"unix:{self.path}"
        return f"vsock-mux:{self.path}:{self.port}"


def _u32(s):
    """S as a plain decimal u32 (digits only), or None."""
    if not s or not all("0" <= c <= "9" for c in s):
        return None
    v = int(s)
    return v if v <= _U32_MAX else None


def _port(s, text, any_ok):
    """Parses a port (decimal, or "any" when ANY_OK)."""
    if any_ok and s == "any":
        return PORT_ANY
    v = _u32(s)
    if v is None:
        raise AddressError(
            f'bad port "{s}" in "{text}": want a number up to 4294967295' + (" or any" if any_ok else "")
        )
    return v


def _path(path, text):
    """Checks a unix socket PATH as udo_vsock_addr_parse() does."""
    raw = os.fsencode(path)
    if raw in (b"", b"@"):
        raise AddressError(f'empty socket path in "{text}"')
    if len(raw) >= _PATH_MAX:
        raise AddressError(f'socket path in "{text}" is {len(raw)} bytes, at most {_PATH_MAX - 1} allowed')
    if b"\0" in raw:
        raise AddressError(f'socket path in "{text}" holds a NUL byte')
    return path


def parse_address(text):
    """Parses "vsock:CID:PORT", "unix:PATH" or "vsock-mux:PATH:PORT" into an Address."""
    if isinstance(text, Address):
        return text
    if not isinstance(text, str):
        raise AddressError(f"an address must be a str, not {type(text).__name__}")
    if text.startswith("vsock:"):
        rest = text[6:]
        cid_text, colon, port_text = rest.partition(":")
        if not colon:
            raise AddressError(f'"{text}" lacks the port: want vsock:CID:PORT')
        cid = _CID_NAMES.get(cid_text)
        if cid is None:
            cid = _u32(cid_text)
        if cid is None:
            raise AddressError(
                f'bad CID "{cid_text}" in "{text}": want a number up to 4294967295 or any, local, host, hypervisor'
            )
        return Address("vsock", cid=cid, port=_port(port_text, text, True))
    if text.startswith("unix:"):
        return Address("unix", path=_path(text[5:], text))
    if text.startswith("vsock-mux:"):
        path, colon, port_text = text[10:].rpartition(":")
        if not colon:
            raise AddressError(f'"{text}" lacks the port: want vsock-mux:PATH:PORT')
        path = _path(path, text)
        return Address("vsock-mux", path=path, port=_port(port_text, text, False))
    raise AddressError(f'unknown address "{text}": want vsock:CID:PORT, unix:PATH or vsock-mux:PATH:PORT')


def _unix_name(path):
    """The sockaddr for PATH: "@name" is the abstract name."""
    return "\0" + path[1:] if path.startswith("@") else path


def _left(deadline):
    """Seconds left until DEADLINE (a monotonic time), None for no deadline."""
    if deadline is None:
        return None
    return max(0.0, deadline - time.monotonic())


def _mux_handshake(sock, port, deadline, no_ok):
    """Sends "CONNECT PORT\\n" and reads the VMM's "OK <host_port>\\n" line.

    Reads one byte at a time, never past the LF, so that what follows it
    stays in the socket for the protocol.  Returns the host port (None
    with NO_OK, for a VMM that sends no OK line).
    """
    sock.sendall(b"CONNECT %d\n" % port)
    if no_ok:
        return None
    line = b""
    while len(line) < _MUX_REPLY_MAX:
        sock.settimeout(_left(deadline))
        try:
            c = sock.recv(1)
        except socket.timeout:
            raise TimeoutError(errno.ETIMEDOUT, f"vsock-mux: no reply to CONNECT {port} in time") from None
        if not c:
            if not line:
                raise HandshakeRefused(errno.ECONNREFUSED, f"vsock-mux: nothing listens on guest port {port}")
            raise HandshakeError(errno.EPROTO, "vsock-mux: the VMM closed in the middle of its reply")
        if c == b"\n":
            digits = line[3:]
            if line.startswith(b"OK ") and 1 <= len(digits) <= 10 and digits.isdigit() and int(digits) <= _U32_MAX:
                return int(digits)
            shown = line.decode("utf-8", "backslashreplace")
            raise HandshakeError(errno.EPROTO, f'vsock-mux: malformed reply to CONNECT {port}: "{shown}"')
        line += c
    raise HandshakeError(errno.EPROTO, f"vsock-mux: reply to CONNECT {port} longer than {_MUX_REPLY_MAX} bytes")


def open_socket(address, connect_timeout=5.0, mux_no_ok=False):
    """Connects to ADDRESS (text or Address) and returns the connected, blocking socket.

    CONNECT_TIMEOUT (seconds, None for the kernel's) bounds the connect and
    the vsock-mux handshake.  Connection failures raise OSError subclasses
    (ConnectionRefusedError, FileNotFoundError, TimeoutError, ...); a VMM
    that refuses the handshake raises HandshakeError.
    """
    addr = parse_address(address)
    deadline = None if connect_timeout is None else time.monotonic() + connect_timeout
    if addr.kind == "vsock":
        if addr.port == PORT_ANY:
            raise AddressError(f'cannot connect to port any: "{addr}"')
        sock = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
        target = (addr.cid, addr.port)
    else:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        target = _unix_name(addr.path)
    try:
        sock.settimeout(connect_timeout)
        try:
            sock.connect(target)
        except socket.timeout:
            raise TimeoutError(errno.ETIMEDOUT, f"connecting to {addr} timed out") from None
        if addr.kind == "vsock-mux":
            _mux_handshake(sock, addr.port, deadline, mux_no_ok)
        sock.settimeout(None)
    except BaseException:
        sock.close()
        raise
    return sock
