# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/lib.sh - sourced by the shell tests that run the built udo-vsockd:
# a private directory removed at exit with every helper process, counted
# checks, a free vsock port, waits on a condition with a deadline, and the
# daemon started until it answers. The shell counterpart of
# tests/daemon-harness.[ch].
# shellcheck shell=bash

builddir=${UDO_TEST_BUILDDIR:?}
cli="$builddir/src/udo-vsock/udo-vsock"
# shellcheck disable=SC2034 # used by the tests that source this
daemon_bin=${UDO_TEST_VSOCKD:-$builddir/src/udo-vsockd/udo-vsockd}
fails=0
pids=()
daemon=

# Makes the test's private directory $dir (named after $1) and arranges
# for test_cleanup to run at exit.
test_init() {
	dir=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
	trap test_cleanup EXIT
}

# Kills every process still in $pids and removes $dir (the EXIT trap).
# shellcheck disable=SC2317
test_cleanup() {
	local p
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$dir"
}

# Takes PID off the processes killed at exit (the test has reaped it).
forget_pid() {
	local p keep=()
	for p in "${pids[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	pids=("${keep[@]}")
}

# Records one check: CMD... must succeed ($fails counts the failures).
check() {
	local what=$1
	shift
	if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; fails=$((fails + 1)); fi
}

# A free vsock port: bind port "any", read it back.
free_port() {
	python3 -c 'import socket; s=socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM); s.bind((socket.VMADDR_CID_ANY, socket.VMADDR_PORT_ANY)); print(s.getsockname()[1])'
}

# Wall-clock milliseconds.
now_ms() {
	local t=${EPOCHREALTIME/[.,]/}
	echo $((t / 1000))
}

# Runs CMD... every 0.1 s until it succeeds (returns 0) or SECONDS have
# passed (returns 1): a wait on a condition, with a deadline.
wait_until() {
	local end=$(($(now_ms) + $1 * 1000))
	shift
	until "$@"; do
		(($(now_ms) < end)) || return 1
		sleep 0.1 # poll interval
	done
}

# True if the file $1 holds the fixed string $2.
file_has() {
	grep -qF -- "$2" "$1" 2>/dev/null
}

# Starts CMD... (the daemon with its arguments; "env K=V" in front for its
# environment) in the background, its stderr in $dir/daemon.log, as
# $daemon (killed at exit), and waits until it answers PING on ADDR within
# SECONDS. Returns 1 if it does not.
start_daemon() {
	local addr=$1 secs=$2
	shift 2
	"$@" 2>"$dir/daemon.log" &
	daemon=$!
	pids+=("$daemon")
	"$cli" --wait "$secs" "$addr" ping >/dev/null 2>&1
}
