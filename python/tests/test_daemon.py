# SPDX-License-Identifier: LGPL-2.1-or-later
"""The client against the real udo-vsockd over AF_VSOCK CID 1 (and unix,
and vsock-mux through tests/fake-vmm), as tests/vsock_python.sh starts it."""

import errno
import os
import socket
import threading
import time

import pytest

import udo_vsock


def test_ping(vsock_addr):
    with udo_vsock.connect(vsock_addr) as c:
        r = c.call("ping")
        assert r.text == "pong" and r.data == []
        assert c.call("PING", "tok").text == "pong tok"
        assert c.call("ping", "two words").text == "pong two words"


def test_pipeline_1000_pings_in_order(vsock_addr):
    with udo_vsock.connect(vsock_addr) as c:
        replies = c.pipeline([("ping", f"t{i}") for i in range(1000)])
    assert [r.text for r in replies] == [f"pong t{i}" for i in range(1000)]


def test_send_then_read_large_pipeline_does_not_deadlock(vsock_addr):
    # ~600 KB each way, beyond the socket buffers: the daemon stops reading
    # until its replies are read, so the client must read while it writes.
    n = 3000
    with udo_vsock.connect(vsock_addr, timeout=60) as c:
        for i in range(n):
            c.send("ping", "%0190d" % i)
        assert c.pending == n
        for i in range(n):
            assert c.read_reply().text == "pong %0190d" % i
        assert c.pending == 0


ARGS = [
    "plain",
    "two words",
    "",
    " lead",
    "trail ",
    "tab\there",
    'quote"in',
    '"',
    '""',
    "\\",
    "back\\slash",
    "end\\",
    '\\"',
    'a "b\\" c',
    "h\u00e9llo w\u00f6rld \u2713",
    "\u65e5\u672c\u8a9e",
    "a'b",
    "$HOME",
    "*",
    "-n",
    "%s%d",
    "OK fake",
    "ERR usage fake",
    "D x",
]


def test_quoting_round_trip_through_exec_argv(vsock_addr):
    with udo_vsock.connect(vsock_addr) as c:
        r = c.call("argv", *ARGS)
        assert r.lines == [f"<{a}>" for a in ARGS]
        assert r.text == "exit=0"
        # Bytes that are not UTF-8 pass through unchanged both ways.
        r = c.call("argv", b"\xff\xfe raw", "\udcff")
        assert r.data == [b"<\xff\xfe raw>", b"<\xff>"]


def test_quoting_refuses_lf_and_nul_before_sending(vsock_addr):
    with udo_vsock.connect(vsock_addr) as c:
        with pytest.raises(ValueError):
            c.send("argv", "a\nping")
        with pytest.raises(ValueError):
            c.call("argv", "nul\0")
        assert c.pending == 0
        assert c.call("ping").text == "pong"


@pytest.mark.parametrize(
    "words, cls, code",
    [
        (("nosuch",), udo_vsock.UnknownCommand, "unknown-command"),
        (("ping", "a", "b"), udo_vsock.UsageError, "usage"),
        (("secret",), udo_vsock.Denied, "denied"),
        (("fail",), udo_vsock.Failed, "failed"),
    ],
)
def test_err_raises_with_code(vsock_addr, words, cls, code):
    with udo_vsock.connect(vsock_addr) as c:
        with pytest.raises(udo_vsock.CommandError) as info:
            c.call(*words)
        assert type(info.value) is cls
        assert info.value.code == code
        assert info.value.message
        # The connection goes on after an ERR.
        assert c.call("ping").text == "pong"


def test_pipeline_refuses_a_bad_word_before_sending_any(vsock_addr):
    with udo_vsock.connect(vsock_addr) as c:
        with pytest.raises(ValueError):
            c.pipeline([("ping", "1"), ("argv", "a\nb")])
        assert c.pending == 0
        assert c.call("ping", "after").text == "pong after"


def test_too_long_line_raises_and_closes(vsock_addr):
    # max-line-length is 4096 by default; the daemon answers and closes.
    with udo_vsock.connect(vsock_addr) as c:
        with pytest.raises(udo_vsock.TooLong) as info:
            c.call("ping", "x" * 10000)
        assert info.value.code == "too-long"
        with pytest.raises(udo_vsock.ConnectionClosed):
            c.call("ping")


def test_err_syntax_from_a_raw_line(vsock_addr):
    with udo_vsock.connect(vsock_addr) as c:
        c.send_line('ping "unterminated')
        with pytest.raises(udo_vsock.RequestSyntaxError) as info:
            c.read_reply()
        assert info.value.code == "syntax"


def test_pipeline_returns_errors_in_place(vsock_addr):
    with udo_vsock.connect(vsock_addr) as c:
        out = c.pipeline([("ping", "1"), ("nosuch",), ("argv", "x y"), ("secret",), ("ping", "2")])
    assert out[0].text == "pong 1"
    assert isinstance(out[1], udo_vsock.UnknownCommand)
    assert out[2].lines == ["<x y>"]
    assert isinstance(out[3], udo_vsock.Denied) and out[3].code == "denied"
    assert out[4].text == "pong 2"


def test_failed_keeps_data_lines(vsock_addr):
    with udo_vsock.connect(vsock_addr) as c:
        with pytest.raises(udo_vsock.Failed) as info:
            c.call("argvfail", "kept")
        assert info.value.data == [b"<kept>"]
        assert info.value.message == "exit=1"


def test_whoami_over_vsock(vsock_addr):
    with udo_vsock.connect(vsock_addr) as c:
        lines = c.call("whoami").lines
    assert "transport=vsock" in lines and "cid=1" in lines


def test_unix_address(unix_addr):
    with udo_vsock.connect(unix_addr) as c:
        assert "identity=py" in c.call("whoami").lines
        assert [r.text for r in c.pipeline([("ping", str(i)) for i in range(50)])] == [
            f"pong {i}" for i in range(50)
        ]


def test_vsock_mux_handshake(vsock_addr, fake_vmm):
    port = udo_vsock.parse_address(vsock_addr).port
    with fake_vmm("ok") as path:
        with udo_vsock.connect(f"vsock-mux:{path}:{port}") as c:
            assert c.call("ping", "via mux").text == "pong via mux"
            assert "transport=vsock" in c.call("whoami").lines
            replies = c.pipeline([("ping", str(i)) for i in range(200)])
            assert [r.text for r in replies] == [f"pong {i}" for i in range(200)]


def test_vsock_mux_no_ok(vsock_addr, fake_vmm):
    port = udo_vsock.parse_address(vsock_addr).port
    with fake_vmm("no-ok") as path:
        with udo_vsock.connect(f"vsock-mux:{path}:{port}", mux_no_ok=True) as c:
            assert c.call("ping").text == "pong"


def _dead_vsock_port():
    """A vsock port nothing listens on: bound once, then closed."""
    with socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM) as s:
        s.bind((socket.VMADDR_CID_ANY, socket.VMADDR_PORT_ANY))
        return s.getsockname()[1]


def test_vsock_mux_nothing_listens(fake_vmm):
    port = _dead_vsock_port()
    with fake_vmm("ok") as path:
        with pytest.raises(udo_vsock.HandshakeRefused) as info:
            udo_vsock.connect(f"vsock-mux:{path}:{port}")
    assert isinstance(info.value, ConnectionRefusedError)
    assert info.value.errno == errno.ECONNREFUSED
    assert f"nothing listens on guest port {port}" in str(info.value)


def test_vsock_mux_vmm_closes(fake_vmm):
    with fake_vmm("close") as path:
        with pytest.raises(udo_vsock.HandshakeRefused):
            udo_vsock.connect(f"vsock-mux:{path}:5000")


@pytest.mark.parametrize("mode, words", [("malformed", "malformed reply"), ("overlong", "longer than 64")])
def test_vsock_mux_bad_reply(fake_vmm, mode, words):
    with fake_vmm(mode) as path:
        with pytest.raises(udo_vsock.HandshakeError) as info:
            udo_vsock.connect(f"vsock-mux:{path}:5000")
    assert info.value.errno == errno.EPROTO
    assert words in str(info.value)
    assert not isinstance(info.value, ConnectionRefusedError)


def test_vsock_mux_silent_vmm_times_out(fake_vmm):
    with fake_vmm("silent") as path:
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            udo_vsock.connect(f"vsock-mux:{path}:5000", connect_timeout=0.5)
        assert time.monotonic() - start < 5


def test_connection_refused_vsock(vsock_addr):
    with pytest.raises(OSError) as info:
        udo_vsock.connect(f"vsock:1:{_dead_vsock_port()}")
    assert info.value.errno in (errno.ECONNREFUSED, errno.ECONNRESET)


def test_connection_missing_unix_socket(scratch):
    with pytest.raises(FileNotFoundError):
        udo_vsock.connect(f"unix:{os.path.join(scratch, 'nobody.sock')}")


def test_cannot_connect_to_port_any():
    with pytest.raises(udo_vsock.AddressError):
        udo_vsock.connect("vsock:1:any")


def test_bad_address_text():
    with pytest.raises(udo_vsock.AddressError):
        udo_vsock.connect("tcp:127.0.0.1:22")


def test_closed_after_quit(vsock_addr):
    with udo_vsock.connect(vsock_addr) as c:
        assert c.call("quit").text == "bye"
        with pytest.raises(udo_vsock.ConnectionClosed) as info:
            c.call("ping")
        assert isinstance(info.value, ConnectionError)


def test_replies_lost_to_quit_in_a_pipeline(vsock_addr):
    with udo_vsock.connect(vsock_addr) as c:
        c.send("ping")
        c.send("quit")
        c.send("ping")
        assert c.read_reply().text == "pong"
        assert c.read_reply().text == "bye"
        with pytest.raises(udo_vsock.ConnectionClosed) as info:
            c.read_reply()
        assert info.value.pending == 1


def test_reply_timeout(vsock_addr):
    with udo_vsock.connect(vsock_addr, timeout=0.3) as c:
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            c.call("slow")
        assert time.monotonic() - start < 5


def test_call_with_unread_replies_refused(vsock_addr):
    with udo_vsock.connect(vsock_addr) as c:
        c.send("ping")
        with pytest.raises(udo_vsock.ProtocolError):
            c.call("ping")
        assert c.read_reply().text == "pong"
        with pytest.raises(udo_vsock.ProtocolError):
            c.read_reply()


def test_proxy_byte_stream(vsock_addr, scratch):
    path = os.path.join(scratch, "echo.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as srv:
        srv.bind(path)
        srv.listen(1)

        def echo():
            conn, _ = srv.accept()
            with conn:
                while True:
                    data = conn.recv(65536)
                    if not data:
                        return
                    conn.sendall(data)

        t = threading.Thread(target=echo, daemon=True)
        t.start()
        try:
            c = udo_vsock.connect(vsock_addr)
            assert c.call("echo").text == "proxy"
            with c.stream() as s:
                payload = b"line one\nOK not a reply\n\0binary\xff" * 1000
                s.settimeout(30)
                s.sendall(payload)
                s.shutdown_write()
                assert s.read_all() == payload
            t.join(30)
        finally:
            os.unlink(path)
