#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vsock_cli_tmux.sh - udo-vsock -t as a person runs it: in a tmux pane
# whose local shell starts the CLI, keys sent with send-keys and the
# screen read with capture-pane, against the built daemon over AF_VSOCK
# CID 1 with a shell session command (pty = yes). The daemon is killed
# mid-session; the CLI must exit 255 and leave the pane's terminal in
# cooked mode, exactly as it was (stty -g before and after), so that the
# local shell takes a typed line again.
set -u
# shellcheck source=tests/lib.sh
. "${UDO_TEST_SRCDIR:?}/tests/lib.sh"
command -v tmux >/dev/null || { echo "tmux is not installed (scripts/deps installs it)"; exit 99; }
test_init cli-tmux

# Inside user-mode Linux devtmpfs has /dev/ptmx but no /dev/pts: tmux and
# the daemon open terminals through it.
if [ -n "${UDO_VSOCK_IN_UML:-}" ]; then
	mkdir -p /dev/pts
	mountpoint -q /dev/pts || mount -t devpts -o ptmxmode=0666,mode=0620 devpts /dev/pts
fi

port=$(free_port)
addr="vsock:1:$port"
cat >"$dir/udo-vsockd.conf" <<CONF
[daemon]
listen = vsock:any:$port
allow = any

[command ping]
handler = ping

[command shell]
handler = exec
path = /bin/sh
mode = session
pty = yes
CONF
if ! start_daemon "$addr" 30 env UDO_VSOCKD_STRICT_MODES=no "$daemon_bin" -c "$dir/udo-vsockd.conf"; then
	cat "$dir/daemon.log"
	echo "FAIL: the daemon did not answer on $addr"
	exit 1
fi

# tmux with a server of its own under $dir, no user config.
export TMUX_TMPDIR=$dir
unset TMUX
tm() {
	tmux -L udo-test -f /dev/null "$@"
}
# shellcheck disable=SC2317 # called from the EXIT trap
tmux_cleanup() {
	tm kill-server 2>/dev/null
	test_cleanup
}
trap tmux_cleanup EXIT

# Is the text $1 on the pane's screen?
pane_has() {
	tm capture-pane -p -t t | grep -qF -- "$1"
}

# Waits up to 30 s for the text $1 on the pane; shows the pane if not.
await_pane() {
	wait_until 30 pane_has "$1" && return 0
	echo "--- the pane, without '$1':"
	tm capture-pane -p -t t
	return 1
}

# A plain sh as the pane's local shell, as a person's terminal has one.
tm new-session -d -s t -x 100 -y 30 "env PS1='local\$ ' TERM=screen sh"
await_pane 'local$' || exit 1
tm send-keys -t t "stty -g >$dir/before; $cli -t $addr shell; echo \"rc=\$?\" >$dir/rc; stty -g >$dir/after" Enter
tm send-keys -t t 'echo "remote-$((6*7))"' Enter
check "typed into the remote shell, the answer on the screen" await_pane "remote-42"
size=$(tm display-message -p -t t '#{pane_height} #{pane_width}')
tm send-keys -t t 'stty size' Enter
check "the remote terminal has the pane's size ($size)" await_pane "$size"

kill -9 "$daemon"
wait "$daemon" 2>/dev/null
forget_pid "$daemon"
check "the CLI ended after the connection was killed" wait_until 30 test -s "$dir/after"
check "and exited 255" grep -qx "rc=255" "$dir/rc"
check "with a message" await_pane "udo-vsock: "
check "the terminal's settings are as before the CLI" cmp -s "$dir/before" "$dir/after"
tm send-keys -t t 'echo "cooked-$((2+3))"' Enter
check "the local shell takes a typed line again (cooked mode)" await_pane "cooked-5"

((fails == 0)) || { tm capture-pane -p -t t; exit 1; }
echo "all checks passed"
