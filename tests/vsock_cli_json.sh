#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vsock_cli_json.sh - udo-vsock --json end to end over AF_VSOCK CID 1
# against the built daemon: every reply one JSON object (checked with jq),
# OK with data lines, ERR with its code, batches, bytes that are not UTF-8
# (base64), a proxy's byte pipe after its object, terminals, exit codes.
set -u
# shellcheck source=tests/lib.sh
. "${UDO_TEST_SRCDIR:?}/tests/lib.sh"
command -v jq >/dev/null || { echo "jq is not installed"; exit 99; }
test_init cli-json

# Runs the CLI with --json; sets $out, $err and $rc.
run() {
	out=$("$cli" --json -w 30 "$@" 2>"$dir/stderr")
	rc=$?
	err=$(cat "$dir/stderr")
}

# jq -e FILTER on $out: true when every object satisfies it (-s: the
# whole list). Any line that is not JSON makes jq fail.
jqe() {
	jq -e "$@" <<<"$out" >/dev/null
}

# Is $rc equal to $1?
rc_is() {
	[ "$rc" = "$1" ] || { echo "exit status $rc, expected $1; stderr: $err"; return 1; }
}

port=$(free_port)
addr="vsock:1:$port"

# Data lines: two, an empty one, then UTF-8; and bytes that are not UTF-8.
printf '#!/bin/sh\nprintf "line1\\nline2\\n\\ncaf\\303\\251\\n"\n' >"$dir/lines.sh"
printf '#!/bin/sh\nprintf "ok\\n\\377\\376x\\n\\355\\240\\200\\n\\n"\n' >"$dir/bytes.sh"
chmod +x "$dir/lines.sh" "$dir/bytes.sh"
cat >"$dir/udo-vsockd.conf" <<CONF
[daemon]
listen = vsock:any:$port
allow = any
[command ping]
handler = ping
[command quit]
handler = quit
[command lines]
handler = exec
path = $dir/lines.sh
[command bytes]
handler = exec
path = $dir/bytes.sh
[command echo]
handler = proxy
connect = unix:$dir/echo.sock
CONF

socat "UNIX-LISTEN:$dir/echo.sock,fork" EXEC:cat 2>/dev/null &
pids+=("$!")
check "daemon answers" start_daemon "$addr" 30 "$builddir/src/udo-vsockd/udo-vsockd" -c "$dir/udo-vsockd.conf"

run "$addr" ping
check "OK without data: exact object" [ "$out" = '{"status":"OK","code":null,"text":"pong","data":[]}' ]
check "OK: exit 0, nothing on stderr" rc_is 0
check "OK: stderr empty" [ -z "$err" ]

run "$addr" lines
check "OK with data lines, empty and UTF-8 ones included" \
	jqe '.status == "OK" and .code == null and (.text | type) == "string" and
	     .data == ["line1", "line2", "", "café"] and (has("data_b64") | not)'
check "one line of output" [ "$(wc -l <<<"$out")" = 1 ]
check "data lines: exit 0" rc_is 0

run "$addr" nosuch arg
check "ERR with its code" jqe '.status == "ERR" and .code == "unknown-command" and
	(.text | length) > 0 and .data == []'
check "ERR: exit 1" rc_is 1
check "ERR: only in the JSON, not on stderr" [ -z "$err" ]

out=$(printf 'ping a\nnosuch\n\nlines\nping "b c"\n' | "$cli" --json -w 30 "$addr" 2>"$dir/stderr")
rc=$?
err=$(cat "$dir/stderr")
check "batch: one object per request, in order" jqe -s 'map(.status) == ["OK", "ERR", "OK", "OK"] and
	.[0].text == "pong a" and .[1].code == "unknown-command" and
	.[2].data[0] == "line1" and .[3].text == "pong b c"'
check "batch: exit status of the first failure" rc_is 1

run "$addr" bytes
check "bytes that are not UTF-8: null in data, base64 in data_b64" \
	jqe '.data == ["ok", null, null, ""] and .data_b64[0] == null and .data_b64[3] == null and
	     (.data_b64 | length) == 4'
check "base64 is lossless" [ "$(jq -r '.data_b64[1]' <<<"$out" | base64 -d | od -An -tx1 | tr -d ' ')" = fffe78 ]
check "a surrogate is not UTF-8 either" [ "$(jq -r '.data_b64[2]' <<<"$out" | base64 -d | od -An -tx1 | tr -d ' ')" = eda080 ]
check "bytes: exit 0" rc_is 0

out=$(printf 'ping \377\n' | "$cli" --json -w 30 "$addr" 2>"$dir/stderr")
rc=$?
check "reply text that is not UTF-8: text null, text_b64" jqe '.text == null and (.text_b64 | @base64d | startswith("pong"))'
check "text bytes are lossless" [ "$(jq -r '.text_b64' <<<"$out" | base64 -d | od -An -tx1 | tr -d ' ')" = 706f6e6720ff ]

out=$(printf 'hello\n' | "$cli" --json -w 30 "$addr" echo 2>"$dir/stderr")
rc=$?
check "proxy: the OK object, then the byte stream" \
	[ "$out" = $'{"status":"OK","code":null,"text":"proxy","data":[]}\nhello' ]
check "proxy: exit 0" rc_is 0
out=$(printf 'ping\necho\nping\n' | "$cli" --json -w 30 "$addr" 2>"$dir/stderr")
check "batch into a proxy: objects, then what follows as bytes" \
	[ "$out" = $'{"status":"OK","code":null,"text":"pong","data":[]}\n{"status":"OK","code":null,"text":"proxy","data":[]}\nping' ]

# Runs CMD... with stdout and stderr on a pseudo-terminal and prints what
# it wrote there; with $TTY_INPUT set, stdin too, and that is typed. Inside user-mode Linux /dev/pts is not usable: a private
# devpts instance is mounted in $dir instead (as tests/vsock_cli.c does).
on_tty() {
	# shellcheck disable=SC2016 # python source
	timeout 60 python3 -c '
import fcntl, os, pty, struct, subprocess, sys
try:
    m, s = pty.openpty()
except OSError:
    d = sys.argv[1] + "/pts"
    os.mkdir(d)
    subprocess.run(["mount", "-t", "devpts", "-o", "newinstance,ptmxmode=0666,mode=0620", "devpts", d], check=True)
    m = os.open(d + "/ptmx", os.O_RDWR | os.O_NOCTTY)
    subprocess.run(["umount", "-l", d], check=True)
    os.rmdir(d)
    fcntl.ioctl(m, 0x40045431, struct.pack("i", 0))  # TIOCSPTLCK: unlock
    s = fcntl.ioctl(m, 0x5441, os.O_RDWR | os.O_NOCTTY)  # TIOCGPTPEER
typed = os.environ.get("TTY_INPUT")
p = subprocess.Popen(sys.argv[2:], stdin=s if typed else subprocess.DEVNULL, stdout=s, stderr=s)
os.close(s)
if typed:
    os.write(m, typed.encode())
out = b""
while True:
    try:
        chunk = os.read(m, 65536)
    except OSError:  # EIO: the child closed the terminal
        break
    if not chunk:
        break
    out += chunk
p.wait()
sys.stdout.buffer.write(out.replace(b"\r", b""))
' "$dir" "$@"
}

# Did the CLI on a terminal (output in $1) print the object with every
# non-ASCII character as \u, the value unchanged?
tty_ascii() {
	grep -qiF '"caf\u00e9"' "$1" && jq -e '.data[3] == "café"' "$1" >/dev/null && return 0
	od -c "$1" | head -20
	return 1
}
on_tty "$cli" --json -w 30 "$addr" lines >"$dir/tty" 2>&1
check "terminal: non-ASCII escaped as \\u, same value" tty_ascii "$dir/tty"
# Interactive mode: the prompt, then one object per request; ERR replies
# leave the exit status 0 there, as without --json.
TTY_INPUT=$'ping hi\nnosuch\nquit\n' on_tty bash -c '"$@"; echo "exit=$?"' _ "$cli" --json -w 30 "$addr" >"$dir/tty" 2>&1
out=$(grep -o '{.*}' "$dir/tty")
check "interactive: objects in order" jqe -s 'map(.status) == ["OK", "ERR", "OK"] and .[0].text == "pong hi" and
	.[1].code == "unknown-command" and .[2].text == "bye"'
check "interactive: prompts" grep -qF 'udo-vsock> ' "$dir/tty"
check "interactive: exit 0" grep -qx 'exit=0' "$dir/tty"

# Hybrid vsock through the VMM test double, with and without its OK line:
# --json changes nothing in the handshake.
# True once the fake VMM writing to $1 says it listens.
vmm_ready() {
	grep -qx ready "$1" 2>/dev/null
}
for mode in ok no-ok; do
	"$builddir/tests/fake-vmm" -m "$mode" "$dir/vmm-$mode.sock" >"$dir/vmm-$mode.out" 2>&1 &
	pids+=("$!")
	check "fake VMM ($mode) listens" wait_until 10 vmm_ready "$dir/vmm-$mode.out"
	opt=()
	[ "$mode" = no-ok ] && opt=(--no-ok)
	run "${opt[@]}" "vsock-mux:$dir/vmm-$mode.sock:$port" lines
	check "vsock-mux, VMM mode $mode: the object" jqe '.status == "OK" and .data[1] == "line2"'
	check "vsock-mux, VMM mode $mode: exit 0" rc_is 0
done

run --raw "$addr" ping
check "--json with --raw: usage error" rc_is 2
check "--json with --raw: no output" [ -z "$out" ]
run "vsock:1:$(free_port)" ping
check "connection refused: exit 3" rc_is 3
check "connection refused: no object" [ -z "$out" ]

[ "$fails" = 0 ]
