#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vsock_memcheck.sh - udo-vsockd under valgrind memcheck, driven over
# AF_VSOCK CID 1 (and a unix listener) through every handler kind, bad
# input, clients that vanish mid-request, a good and a broken reload and
# a stop. Fails on any memcheck error or definitely/indirectly lost block.
# No timing bounds beyond generous time-outs: valgrind makes the daemon
# many times slower, and the question here is correctness, not speed.
set -u
# shellcheck source=tests/lib.sh
. "${UDO_TEST_SRCDIR:?}/tests/lib.sh"
command -v valgrind >/dev/null || { echo "valgrind is not installed"; exit 99; }
test_init memcheck

# Runs CMD... with its output discarded.
silently() {
	"$@" >/dev/null 2>&1
}

# Waits up to 60 s for the daemon's log to contain the fixed string $1.
log_shows() {
	wait_until 60 file_has "$dir/daemon.log" "$1"
}

port=$(free_port)
addr="vsock:1:$port"

write_conf() {
	cat <<CONF
[daemon]
listen = vsock:any:$port
listen = unix:$dir/admin.sock identity=admin
allow = any
module-dir = $builddir/modules/.libs
module = facts
line-timeout = 3s
idle-timeout = 6s
$1
[command ping]
handler = ping
[command help]
handler = help
[command version]
handler = version
[command whoami]
handler = whoami
[command stats]
handler = stats
[command quit]
handler = quit
[command true]
handler = exec
path = /bin/true
[command echoargs]
handler = exec
path = /bin/echo
client-args = yes
[command sleepy]
handler = exec
path = /bin/sleep
args = 30
timeout = 2s
[command facts]
handler = facts
[command later]
handler = delay
[command stuck]
handler = delay
timeout = 300ms
[command many]
handler = exec
path = /bin/sh
args = -c "/usr/bin/yes 0123456789012345678901234567890123456789012345678901234567890123456789 | /usr/bin/head -n 16000"
max-output-bytes = 8M
max-output-lines = 100000
timeout = 110s
[command shell]
handler = handoff
socket = unix:$dir/svc.sock
[command echo]
handler = proxy
connect = unix:$dir/echo.sock
CONF
}
write_conf "" >"$dir/udo-vsockd.conf"

"$builddir/examples/handoff-echo" "unix:$dir/svc.sock" 2>/dev/null &
pids+=("$!")
socat "UNIX-LISTEN:$dir/echo.sock,fork" EXEC:cat 2>/dev/null &
pids+=("$!")

check "daemon answers under valgrind" start_daemon "$addr" 120 \
	env UDO_VALGRIND_LOG="$dir/valgrind.log" bash "$UDO_TEST_SRCDIR/tests/valgrind-vsockd" -c "$dir/udo-vsockd.conf"
out=$(printf '%s\n' ping 'PING tok' help version whoami stats nosuch 'ping a b' '"unterminated' true \
	'echoargs a "b c"' facts 'facts kernel' 'later 50 done' | "$cli" -w 60 "$addr" 2>&1)
check "built-ins, errors, exec and module answered" grep -q 'OK pong tok' <<<"$out"
check "exec passes arguments as words" grep -qx 'D a b c' <<<"$out"
check "unknown command refused" grep -q 'unknown-command' <<<"$out"
check "delayed module answer" grep -q 'OK done' <<<"$out"
# shellcheck disable=SC2016 # expanded by the inner bash
check "exec timeout" bash -c '"$1" -w 60 "$2" sleepy 2>&1 | grep -q timeout' _ "$cli" "$addr"
# The daemon refuses as soon as it has read more than max-line-length and
# closes, so the rest of the send may fail (EPIPE); the client reads the
# reply anyway (socat would give up on the failed write).
# shellcheck disable=SC2016 # python source
timeout 60 python3 -c '
import socket, sys
s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
s.settimeout(50)
s.connect((1, int(sys.argv[1])))
try:
    s.sendall(b"a" * 10000)
    s.shutdown(socket.SHUT_WR)
except (BrokenPipeError, ConnectionResetError):
    pass
got = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    got += chunk
sys.stdout.write(got.decode(errors="replace"))
' "$port" >"$dir/toolong" 2>&1
check "over-long line refused" grep -q 'too-long' "$dir/toolong"
# shellcheck disable=SC2016 # expanded by the inner bash
check "module request cut by its timeout" bash -c '"$1" -w 60 "$2" stuck 5000 2>&1 | grep -q "timeout: no answer in 300 ms"' _ "$cli" "$addr"
# A reader slower than the program: the daemon pauses reading its output
# (1.2 MB of replies, beyond the default max-output-buffer; long lines,
# since each line costs valgrind much more than its bytes).
# shellcheck disable=SC2016 # expanded by the inner bash
check "exec output paused for a slow reader, none lost" bash -c '"$1" -w 120 "$2" many | (sleep 2; wc -l) | grep -qx 16000' _ "$cli" "$addr"
# Clients that vanish while their request runs.
timeout 3 "$cli" -w 60 "$addr" sleepy >/dev/null 2>&1
timeout 1 "$cli" -w 60 "$addr" later 2000 >/dev/null 2>&1
# A line begun and never finished (the connection stays open: no EOF),
# read until the daemon closes it, for 15 s at the most.
# shellcheck disable=SC2016 # python source
timeout 30 python3 -c '
import socket, sys
s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
s.settimeout(15)
s.connect((1, int(sys.argv[1])))
s.sendall(b"pin")
got = b""
try:
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
except socket.timeout:
    pass
sys.stdout.write(got.decode(errors="replace"))
' "$port" >"$dir/partial" 2>&1
check "unfinished line cut by line-timeout" grep -q 'timeout' "$dir/partial"
# 3,000 pipelined PINGs sent in odd-sized pieces (lines split across
# reads, more than commands-per-read per read), every reply checked; and
# a client that never reads its ~600 KiB of replies, cut by idle-timeout.
# shellcheck disable=SC2016 # python source
check "pipelined PINGs answered in order" timeout 120 python3 -c '
import socket, sys
s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
s.settimeout(100)
s.connect((1, int(sys.argv[1])))
data = b"".join(b"PING t%d\n" % i for i in range(3000))
for i in range(0, len(data), 777):
    s.sendall(data[i:i + 777])
want = b"".join(b"OK pong t%d\n" % i for i in range(3000))
got = b""
while len(got) < len(want):
    chunk = s.recv(65536)
    if not chunk:
        break
    got += chunk
sys.exit(0 if got == want else 1)
' "$port"
# shellcheck disable=SC2016 # python source
check "a client that reads no replies is cut" timeout 120 python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
s.setsockopt(socket.AF_VSOCK, socket.SO_VM_SOCKETS_BUFFER_SIZE, 4096)
s.settimeout(100)
s.connect((1, int(sys.argv[1])))
s.sendall(b"".join(b"PING %0190d\n" % i for i in range(3000)))
time.sleep(15)
n = 0
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    n += len(chunk)
sys.exit(0 if 0 < n < 3000 * 206 else 1)
' "$port"
out=$(printf 'shell a\nhello handoff\n' | timeout 60 socat -t 10 - "VSOCK-CONNECT:1:$port" 2>&1)
check "hand-off" grep -qx 'hello handoff' <<<"$out"
out=$(printf 'echo\nhello proxy\n' | timeout 60 socat -t 10 - "VSOCK-CONNECT:1:$port" 2>&1)
check "proxy" grep -qx 'hello proxy' <<<"$out"
# shellcheck disable=SC2016 # expanded by the inner bash
check "unix listener identity" bash -c '"$1" -w 60 "unix:$2/admin.sock" whoami | grep -qx identity=admin' _ "$cli" "$dir"

write_conf "" >"$dir/udo-vsockd.conf"
printf '[command added]\nhandler = ping\n' >>"$dir/udo-vsockd.conf"
# A reload is asynchronous (valgrind delays signals further): each check
# waits for the daemon to log the reload's outcome.
kill -HUP "$daemon"
check "reload logged" log_shows 'configuration reloaded'
check "reload adds a command" silently "$cli" -w 60 "$addr" added
printf 'this is not a config\n' >>"$dir/udo-vsockd.conf"
kill -HUP "$daemon"
check "broken reload logged" log_shows 'reload failed'
check "broken reload keeps the old config" silently "$cli" -w 60 "$addr" added

kill -TERM "$daemon"
wait "$daemon"
status=$?
forget_pid "$daemon"
check "daemon exits 0 with no memcheck error or leak (valgrind status $status)" test "$status" = 0
if [ -s "$dir/valgrind.log" ]; then
	echo "--- valgrind:"
	cat "$dir/valgrind.log"
fi
echo "memcheck: $fails check(s) failed"
[ "$fails" = 0 ]
