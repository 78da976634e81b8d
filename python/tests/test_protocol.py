# SPDX-License-Identifier: LGPL-2.1-or-later
"""The pure parts: quoting, request lines, reply lines, addresses."""

import pytest

import udo_vsock
from udo_vsock import AddressError, parse_address
from udo_vsock.protocol import ReplyParser


@pytest.mark.parametrize(
    "word, wire",
    [
        ("ping", b"ping"),
        ("", b'""'),
        ("a b", b'"a b"'),
        ("a\tb", b'"a\tb"'),
        ('say "hi"', b'"say \\"hi\\""'),
        ("back\\slash", b'"back\\\\slash"'),
        ("cr\r", b'"cr\r"'),
        ("h\u00e9llo", "h\u00e9llo".encode()),
        ("a'b$c*", b"a'b$c*"),
        (b"\xff\xfe", b"\xff\xfe"),
    ],
)
def test_quote_only_when_needed(word, wire):
    assert udo_vsock.quote(word) == wire
    assert udo_vsock.needs_quotes(word) == (wire != udo_vsock.protocol.encode_word(word))


@pytest.mark.parametrize("word", ["a\nb", "nul\0", b"\n"])
def test_quote_refuses_lf_and_nul(word):
    with pytest.raises(ValueError):
        udo_vsock.quote(word)


def test_build_request():
    assert udo_vsock.build_request("echo", "a b", "", "c") == b'echo "a b" "" c\n'
    assert udo_vsock.build_request("PING") == b"PING\n"


@pytest.mark.parametrize(
    "line, parsed",
    [
        (b"D x=1", ("D", b"x=1")),
        (b"D", ("D", b"")),
        (b"D ", ("D", b"")),
        (b"D OK fake", ("D", b"OK fake")),
        (b"OK", ("OK", "")),
        (b"OK pong", ("OK", "pong")),
        (b"ERR usage", ("ERR", "usage", "")),
        (b"ERR unknown-command no such command: x", ("ERR", "unknown-command", "no such command: x")),
    ],
)
def test_parse_reply_line(line, parsed):
    assert udo_vsock.parse_reply_line(line) == parsed


@pytest.mark.parametrize("line", [b"", b"OKAY", b"Dx", b"ERR", b"ERR ", b"ERR Bad code", b"ERR x!y", b"hello"])
def test_parse_reply_line_refuses(line):
    with pytest.raises(udo_vsock.ProtocolError):
        udo_vsock.parse_reply_line(line)


def test_reply_parser_groups_data_lines():
    p = ReplyParser()
    assert p.feed(b"D a") is None
    assert p.feed(b"D \xc3\xa9") is None
    r = p.feed(b"OK done")
    assert r.data == [b"a", b"\xc3\xa9"] and r.lines == ["a", "\u00e9"] and r.text == "done"
    e = p.feed(b"ERR denied not for you")
    assert isinstance(e, udo_vsock.Denied) and e.code == "denied" and e.message == "not for you"
    e = p.feed(b"ERR some-new-code text")
    assert type(e) is udo_vsock.CommandError and e.code == "some-new-code"


@pytest.mark.parametrize(
    "text, kind, cid, port, path",
    [
        ("vsock:1:5000", "vsock", 1, 5000, ""),
        ("vsock:host:5000", "vsock", 2, 5000, ""),
        ("vsock:local:1", "vsock", 1, 1, ""),
        ("vsock:hypervisor:7", "vsock", 0, 7, ""),
        ("vsock:any:any", "vsock", 0xFFFFFFFF, 0xFFFFFFFF, ""),
        ("vsock:4294967295:4294967295", "vsock", 0xFFFFFFFF, 0xFFFFFFFF, ""),
        ("unix:/run/x.sock", "unix", 0, 0, "/run/x.sock"),
        ("unix:@abstract", "unix", 0, 0, "@abstract"),
        ("vsock-mux:/run/v.sock:52", "vsock-mux", 0, 52, "/run/v.sock"),
        ("vsock-mux:/a:b/v.sock:52", "vsock-mux", 0, 52, "/a:b/v.sock"),
    ],
)
def test_parse_address(text, kind, cid, port, path):
    a = parse_address(text)
    assert (a.kind, a.cid, a.port, a.path) == (kind, cid, port, path)
    assert parse_address(str(a)) == a


def test_format_address_names_special_cids():
    assert str(parse_address("vsock:2:5000")) == "vsock:host:5000"
    assert str(parse_address("vsock:3:any")) == "vsock:3:any"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "tcp:1.2.3.4:5",
        "vsock:1",
        "vsock:1:",
        "vsock::5",
        "vsock:-1:5",
        "vsock:1:+5",
        "vsock:4294967296:5",
        "vsock:1:4294967296",
        "vsock:guest:5",
        "unix:",
        "unix:@",
        "unix:" + "x" * 108,
        "vsock-mux:/v.sock",
        "vsock-mux::5",
        "vsock-mux:/v.sock:any",
        "vsock-mux:/v.sock:x",
    ],
)
def test_parse_address_refuses(text):
    with pytest.raises(AddressError):
        parse_address(text)


def test_longest_unix_path_accepted():
    assert parse_address("unix:" + "x" * 107).path == "x" * 107
