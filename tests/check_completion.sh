#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# check_completion.sh - the bash completion in completion/: source it with
# bash-completion's helpers and drive its functions as bash does (COMP_WORDS,
# COMP_CWORD, COMP_LINE, COMP_POINT): options, address forms, a file after
# udo-vsockd -c, the command names of a real udo-vsockd on a unix socket
# (from its HELP), and nothing, quickly, when nothing answers.
set -u
srcdir=${UDO_TEST_SRCDIR:?}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"

bc=$(pkg-config --variable=datadir bash-completion 2>/dev/null)/bash-completion/bash_completion
[ -r "$bc" ] || bc=/usr/share/bash-completion/bash_completion
[ -r "$bc" ] || { echo "SKIP: no bash-completion (scripts/deps installs it)"; exit 77; }
# shellcheck disable=SC1090
. "$bc"
. "$srcdir/completion/udo-vsock"
. "$srcdir/completion/udo-vsockd"

test_init completion

status=0
# Reports a failure and remembers it.
fail() {
	echo "FAIL: $*"
	status=1
}

# Runs the completion function FUNC for the line LINE (cursor at its end)
# split by bash into the words WORD...; the last word is the one being
# completed. Leaves the candidates in COMPREPLY, one per line in $got.
complete_as() {
	local func=$1 line=$2
	shift 2
	COMP_WORDS=("$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE=$line
	COMP_POINT=${#line}
	COMPREPLY=()
	local prev=
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
	"$func" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "$prev"
	got=$(printf '%s\n' "${COMPREPLY[@]}")
}

# Checks that the last completion offered each of the candidates WANT...
offers() {
	local w
	for w in "$@"; do
		grep -qxF -- "$w" <<<"$got" || fail "'$COMP_LINE' does not offer '$w' (got: ${got//$'\n'/ })"
	done
}

# Checks that the last completion did not offer any of NAME...
lacks() {
	local w
	for w in "$@"; do
		grep -qxF -- "$w" <<<"$got" && fail "'$COMP_LINE' offers '$w' (got: ${got//$'\n'/ })"
	done
	return 0
}

# --- Options and address forms, no daemon needed.
complete_as _udo_vsock "udo-vsock --ti" udo-vsock --ti
offers --timeout
lacks --connect-timeout --raw
complete_as _udo_vsock "udo-vsock -" udo-vsock -
offers -t --tty -w --timeout -c --connect-timeout --retry --wait --window --raw --no-ok --json -v --verbose -h --help -V --version
complete_as _udo_vsock "udo-vsock " udo-vsock ""
offers vsock: unix: vsock-mux:
complete_as _udo_vsock "udo-vsock -w 5 un" udo-vsock -w 5 un
offers unix:
lacks vsock:
# -t (--tty) takes no argument: the next word is the address.
complete_as _udo_vsock "udo-vsock -t un" udo-vsock -t un
offers unix:
complete_as _udo_vsock "udo-vsock --timeout " udo-vsock --timeout ""
[ -z "$got" ] || fail "a timeout value is completed: $got"
# bash splits at the ':' of COMP_WORDBREAKS: the candidates replace the
# part after the last colon.
complete_as _udo_vsock "udo-vsock vsock:h" udo-vsock vsock : h
offers host: hypervisor:
mkdir "$dir/sub"
: >"$dir/sub/d.sock"
complete_as _udo_vsock "udo-vsock unix:$dir/sub/" udo-vsock unix : "$dir/sub/"
offers "$dir/sub/d.sock"
complete_as _udo_vsock "udo-vsock vsock-mux:$dir/s" udo-vsock vsock-mux : "$dir/s"
offers "$dir/sub/"

complete_as _udo_vsockd "udo-vsockd -" udo-vsockd -
offers -c -t -D --dump-config -v -h --help -V --version
complete_as _udo_vsockd "udo-vsockd -c $dir/su" udo-vsockd -c "$dir/su"
offers "$dir/sub"

# --- Command names from a real daemon on a unix socket.
sock="$dir/c.sock"
cat >"$dir/udo-vsockd.conf" <<CONF
[daemon]
listen = unix:$sock identity=tester
allow = any
[command ping]
handler = ping
[command help]
handler = help
[command whoami]
handler = whoami
[command pong]
handler = ping
[command secret]
handler = ping
allow = 7
CONF
if ! start_daemon "unix:$sock" 30 env UDO_VSOCKD_STRICT_MODES=no "$daemon_bin" -c "$dir/udo-vsockd.conf"; then
	cat "$dir/daemon.log"
	echo "FAIL: the daemon did not answer on unix:$sock"
	exit 1
fi

complete_as _udo_vsock "$cli unix:$sock " "$cli" unix : "$sock" ""
offers ping help whoami pong
lacks secret
complete_as _udo_vsock "$cli -c 3 --timeout=9 -v unix:$sock p" "$cli" -c 3 --timeout = 9 -v unix : "$sock" p
offers ping pong
lacks help whoami
complete_as _udo_vsock "$cli -t -w 9 unix:$sock p" "$cli" -t -w 9 unix : "$sock" p
offers ping pong
# Only the word right after ADDRESS is a command; options after ADDRESS
# are the command's.
complete_as _udo_vsock "$cli unix:$sock ping " "$cli" unix : "$sock" ping ""
[ -z "$got" ] || fail "a command's argument is completed as a command: ${got//$'\n'/ }"
# The client's own put and get, and their local file (not the remote one).
complete_as _udo_vsock "$cli unix:$sock " "$cli" unix : "$sock" ""
offers put get
: >"$dir/sub/report.txt"
complete_as _udo_vsock "$cli unix:$sock put $dir/sub/rep" "$cli" unix : "$sock" put "$dir/sub/rep"
offers "$dir/sub/report.txt"
complete_as _udo_vsock "$cli unix:$sock put $dir/sub/report.txt $dir/sub/rep" "$cli" unix : "$sock" put "$dir/sub/report.txt" "$dir/sub/rep"
[ -z "$got" ] || fail "put's REMOTE is completed from local files: ${got//$'\n'/ }"
complete_as _udo_vsock "$cli unix:$sock get --r" "$cli" unix : "$sock" get --r
offers --resume
complete_as _udo_vsock "$cli unix:$sock get r.txt $dir/sub/rep" "$cli" unix : "$sock" get r.txt "$dir/sub/rep"
offers "$dir/sub/report.txt"
complete_as _udo_vsock "$cli unix:$sock get --resume r.txt $dir/sub/rep" "$cli" unix : "$sock" get --resume r.txt "$dir/sub/rep"
offers "$dir/sub/report.txt"
complete_as _udo_vsock "$cli unix:$sock get $dir/sub/rep" "$cli" unix : "$sock" get "$dir/sub/rep"
[ -z "$got" ] || fail "get's REMOTE is completed from local files: ${got//$'\n'/ }"

# --- Nothing answers: nothing offered, no message, within 3 s. First no
# socket at all, then a socket that accepts but never replies.
# Completes a command against the dead address $1; fails when anything is
# offered, written to stderr, or it takes 3 s or more.
dead_is_quiet() {
	local start ms
	start=$(now_ms)
	complete_as _udo_vsock "$cli $1 " "$cli" unix : "${1#unix:}" "" 2>"$dir/err"
	ms=$(($(now_ms) - start))
	[ -z "$got" ] || fail "$1: offers ${got//$'\n'/ }"
	[ -s "$dir/err" ] && fail "$1: writes $(cat "$dir/err")"
	((ms < 3000)) || fail "$1: took $ms ms"
	echo "dead address $1: $ms ms"
}
dead_is_quiet "unix:$dir/none.sock"
python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen()
time.sleep(60)' "$dir/mute.sock" &
pids+=("$!")
wait_until 30 test -S "$dir/mute.sock" || fail "the mute listener did not start"
dead_is_quiet "unix:$dir/mute.sock"

exit $status
