# SPDX-License-Identifier: LGPL-2.1-or-later
"""The udo-vsock line protocol, client side (udo-vsock-protocol(7)).

Quoting follows lib/vsock-proto.c: a word is sent as it is unless it is
empty or holds a blank (space, tab), a double quote, a backslash or a CR;
then it goes in double quotes with ``"`` and ``\\`` escaped.  LF and NUL
cannot be sent at all.  Text (str) is sent as UTF-8; lone surrogates from
``surrogateescape`` decoding turn back into the bytes they stand for.
"""

from dataclasses import dataclass, field

from .errors import CommandError, ProtocolError

__all__ = [
    "Reply",
    "encode_word",
    "needs_quotes",
    "quote",
    "build_request",
    "parse_reply_line",
    "ReplyParser",
]

_NEEDS_QUOTES = frozenset(b' \t"\\\r')
_CODE_CHARS = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789-_")


def encode_word(word):
    """Returns WORD (str or bytes-like) as bytes; str is encoded as UTF-8."""
    if isinstance(word, str):
        return word.encode("utf-8", "surrogateescape")
    if isinstance(word, (bytes, bytearray, memoryview)):
        return bytes(word)
    raise TypeError(f"a request word must be str or bytes, not {type(word).__name__}")


def needs_quotes(word):
    """True when WORD must be quoted to reach the server as one word with the same bytes."""
    data = encode_word(word)
    return len(data) == 0 or any(b in _NEEDS_QUOTES for b in data)


def quote(word):
    """Returns WORD as one protocol word (bytes), quoted only when needed.

    Raises ValueError for a word holding LF or NUL, which no request can carry.
    """
    data = encode_word(word)
    if b"\n" in data or b"\0" in data:
        raise ValueError(f"a request word cannot hold LF or NUL: {word!r}")
    if len(data) > 0 and not any(b in _NEEDS_QUOTES for b in data):
        return data
    return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def build_request(command, *args):
    """Returns the request line (bytes, LF included) for COMMAND and ARGS."""
    return b" ".join(quote(w) for w in (command, *args)) + b"\n"


@dataclass
class Reply:
    """A successful reply: its data lines and the text of its OK line."""

    #: The payload of each ``D`` line, as bytes (any byte but LF).
    data: list = field(default_factory=list)
    #: The text after ``OK `` (empty for a bare ``OK``), decoded as UTF-8.
    text: str = ""

    @property
    def lines(self):
        """The data lines as str (UTF-8, undecodable bytes as surrogates)."""
        return [d.decode("utf-8", "surrogateescape") for d in self.data]

    def __iter__(self):
        return iter(self.lines)

    def __len__(self):
        return len(self.data)


def _after_word(line, word):
    """The bytes after WORD and one space, b"" for WORD alone, else None."""
    if line == word:
        return b""
    if line.startswith(word + b" "):
        return line[len(word) + 1 :]
    return None


def parse_reply_line(line):
    """Classifies one reply line (bytes, without its LF).

    Returns ("D", payload), ("OK", text) or ("ERR", code, message), with
    payload bytes and text, code and message str.  Raises ProtocolError
    for any other line, as udo_vsock_proto_classify_reply() does.
    """
    rest = _after_word(line, b"D")
    if rest is not None:
        return ("D", rest)
    rest = _after_word(line, b"OK")
    if rest is not None:
        return ("OK", rest.decode("utf-8", "surrogateescape"))
    rest = _after_word(line, b"ERR")
    if rest is not None:
        end = 0
        while end < len(rest) and rest[end] in _CODE_CHARS:
            end += 1
        if end > 0 and (end == len(rest) or rest[end : end + 1] == b" "):
            code = rest[:end].decode("ascii")
            message = rest[end + 1 :].decode("utf-8", "surrogateescape")
            return ("ERR", code, message)
    shown = line[:80].decode("utf-8", "backslashreplace")
    raise ProtocolError(f"not a reply line: {shown!r}")


class ReplyParser:
    """Turns reply lines into Reply objects and CommandError instances."""

    def __init__(self):
        self._data = []

    @property
    def in_reply(self):
        """True when data lines of an unfinished reply have been seen."""
        return bool(self._data)

    def feed(self, line):
        """Takes one line (no LF); returns a finished Reply or CommandError, or None."""
        kind = parse_reply_line(line)
        if kind[0] == "D":
            self._data.append(kind[1])
            return None
        data, self._data = self._data, []
        if kind[0] == "OK":
            return Reply(data, kind[1])
        return CommandError.from_reply(kind[1], kind[2], data)
