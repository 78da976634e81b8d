#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench/vsock_workloads.sh - workloads 1-4 and 6-9 over AF_VSOCK CID 1.
#
# Started by bench/run through tests/vsock-run, so it runs natively when
# this kernel has vsock loopback and inside user-mode Linux otherwise.
# Environment (set by bench/run): BENCH_BIN (loadgen, echo-floor),
# BENCH_DAEMON (udo-vsockd), BENCH_CLI (udo-vsock), BENCH_RAW (results directory), BENCH_SMOKE
# (1: tiny runs), BENCH_EXEC_CONF (a [command true] section for the exec
# handler), BENCH_SESSION_CONF (the [command scat] and [command sh]
# sections of workloads 7 and 8). Writes BENCH_RAW/raw.txt: "WORKLOAD
# SUBJECT VARIANT key=value...".
set -u

bin=$BENCH_BIN
daemon=$BENCH_DAEMON
cli=${BENCH_CLI:-}
raw=$BENCH_RAW
smoke=${BENCH_SMOKE:-0}
settle=0.2
work=$(mktemp -d "${TMPDIR:-/tmp}/bench.XXXXXX")
pids=()
failures=0

if [ "$smoke" = 1 ]; then
	secs=0.2 warm=0.05 reps=1 conns_scale=100 step=50 rounds=1 exec_secs=0.2 exec_clients="1 2" exec_n=(-n 1) settle=0.05
	stream_bytes=$((4 << 20)) stream_reps=1
	session_bytes=$((1 << 20)) qga_bytes=$((64 << 10)) keys=50 keys_warm=5
else
	secs=${BENCH_SECS:-1} warm=0.2 reps=${BENCH_REPS:-7} conns_scale=10000 step=2000 rounds=3
	exec_secs=${BENCH_EXEC_SECS:-6} exec_clients="1 16" exec_n=()
	stream_bytes=$((${BENCH_STREAM_MIB:-256} << 20)) stream_reps=${BENCH_STREAM_REPS:-5}
	session_bytes=$((${BENCH_SESSION_MIB:-64} << 20)) qga_bytes=$((${BENCH_QGA_MIB:-8} << 20))
	keys=${BENCH_KEYS:-1000} keys_warm=20
fi
port_floor=6001 port_daemon=6002 port_qga=6003 port_socat=6004 port_exec=6005
port_sink=6006 port_stream=6007 port_relay=6008 port_splice=6009
port_echo=6010 port_session=6011 port_socat_cat=6012 port_socat_sh=6013
port_relay_cat=6014 port_relay_sh=6015 port_cat_fd=6016

# Stops every server this script started.
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

# Appends one result line: WORKLOAD SUBJECT VARIANT RESULT-LINE.
record() {
	echo "$1 $2 $3 $4" >>"$raw/raw.txt"
	echo "bench: $1 $2 $3: $4"
}

# Records that SUBJECT was not measured, and why.
not_measured() {
	record "$1" "$2" "$3" "not_measured=\"$4\""
}

# Runs the load generator (with LOADGEN=session-load set, that program);
# records its result line (or the failure) and returns its status.
measure() {
	local w=$1 subj=$2 var=$3 out
	shift 3
	out=$("$bin/${LOADGEN:-loadgen}" "$@" 2>"$work/lg.err")
	local rc=$?
	if [ -z "$out" ]; then
		out="error=\"$(tr '\n' ' ' <"$work/lg.err" | tr -d '"' | cut -c1-200)\""
		failures=$((failures + 1))
	elif [ "$rc" != 0 ]; then
		failures=$((failures + 1))
		sed 's/^/bench: /' "$work/lg.err" >&2
	fi
	record "$w" "$subj" "$var" "$out"
	return "$rc"
}

# Waits until ADDR answers one request REQ with PREFIX; 0 or 1.
wait_ready() {
	local addr=$1 req=${2:-PING\\n} prefix=${3:-OK} i
	for ((i = 0; i < 100; i++)); do
		"$bin/loadgen" rr -W 0 -n 1 -t 5 -r "$req" -e "$prefix" "$addr" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# Starts a server in the background; its pid goes to pids and $last.
start() {
	"$@" >"$work/server.${#pids[@]}.log" 2>&1 &
	last=$!
	pids+=("$last")
}

# Stops the server with pid P.
stop() {
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# Resident set size of PID in KiB.
rss_kib() {
	awk '/^VmRSS:/ {print $2}' "/proc/$1/status"
}

# Writes a daemon config listening on PORT, limits raised, plus EXTRA.
# The listen backlog is the default (1024), deeper than the load
# generator's 256 connects in flight: AF_VSOCK resets connections that
# find the accept queue full.
daemon_conf() {
	local file=$1 port=$2 extra=${3:-}
	cat >"$file" <<EOF
[daemon]
listen = vsock:any:$port
allow = any
max-connections = 30000
max-connections-per-peer = 30000
idle-timeout = 0
log-level = warning

[command ping]
handler = ping
EOF
	[ -n "$extra" ] && cat "$extra" >>"$file"
}

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
: >"$raw/raw.txt"
rm -f "$raw"/lat-*.txt "$raw"/keys-*.txt
echo "bench: kernel $(uname -r), $(nproc) CPU(s), nofile $(ulimit -n)"

floor=vsock:1:$port_floor
udo=vsock:1:$port_daemon
qga=vsock:1:$port_qga
qping='{"execute":"guest-ping"}\n'

start "$bin/echo-floor" "vsock:$port_floor"
pid_floor=$last
daemon_conf "$work/d.conf" "$port_daemon"
start "$daemon" -c "$work/d.conf"
pid_daemon=$last
have_qga=0
if command -v qemu-ga >/dev/null; then
	mkdir -p "$work/qga"
	start qemu-ga -m vsock-listen -p "1:$port_qga" -t "$work/qga" -f "$work/qga/pid"
	pid_qga=$last
	wait_ready "$qga" "$qping" '{"return"' && have_qga=1
fi
wait_ready "$floor" || { echo "bench: the echo floor does not answer" >&2; exit 1; }
wait_ready "$udo" || { echo "bench: udo-vsockd does not answer" >&2; exit 1; }

# 1 and 2 alternate the subjects in REPS short rounds, so that drift and
# noise of a shared machine hit all of them alike; bench/run takes the
# median of the rounds (latency: percentiles of all rounds' samples).
# 1: PING round trip, one connection, one request in flight.
# 2: pipelined, depth 64, 1 and 100 connections.
for ((r = 0; r < reps; r++)); do
	measure 1 floor c1d1 rr -c 1 -d 1 -t "$secs" -W "$warm" -o "$work/lat" "$floor"
	cat "$work/lat" >>"$raw/lat-floor.txt"
	measure 1 udo-vsockd c1d1 rr -c 1 -d 1 -t "$secs" -W "$warm" -o "$work/lat" "$udo"
	cat "$work/lat" >>"$raw/lat-udo-vsockd.txt"
	if [ "$have_qga" = 1 ]; then
		measure 1 qemu-ga c1d1 rr -c 1 -d 1 -t "$secs" -W "$warm" -r "$qping" -e '{"return"' -o "$work/lat" "$qga"
		cat "$work/lat" >>"$raw/lat-qemu-ga.txt"
	fi
	for c in 1 100; do
		measure 2 floor "c${c}d64" rr -c "$c" -d 64 -t "$secs" -W "$warm" "$floor"
		measure 2 udo-vsockd "c${c}d64" rr -c "$c" -d 64 -t "$secs" -W "$warm" "$udo"
	done
	if [ "$have_qga" = 1 ]; then
		measure 2 qemu-ga c1d64 rr -c 1 -d 64 -t "$secs" -W "$warm" -r "$qping" -e '{"return"' "$qga"
	fi
done
[ "$have_qga" = 1 ] || not_measured 1 qemu-ga c1d1 "qemu-ga is not installed"

# 3: scale. RSS of the server before, after every step of connections
# (all idle, each has answered one PING), then after all PING at once
# and after they closed.
scale() {
	local subj=$1 pid=$2 addr=$3 line before idle after
	before=$(rss_kib "$pid")
	echo "3 $subj rss 0 $before" >>"$raw/scale.txt"
	rm -f "$work/to" "$work/from"
	mkfifo "$work/to" "$work/from"
	"$bin/loadgen" scale -c "$conns_scale" -s "$step" -n "$rounds" "$addr" <"$work/to" >"$work/from" 2>"$work/scale.err" &
	local lg=$! lg_in lg_out
	exec {lg_in}>"$work/to" {lg_out}<"$work/from"
	while read -r line <&"$lg_out"; do
		case "$line" in
		phase=step*)
			sleep "$settle"
			echo "3 $subj rss ${line#*connected=} $(rss_kib "$pid")" | sed 's/ failed=[0-9]*//' >>"$raw/scale.txt"
			echo go >&"$lg_in"
			;;
		phase=idle*)
			sleep "$settle"
			idle=$(rss_kib "$pid")
			echo "3 $subj rss ${conns_scale} $idle" >>"$raw/scale.txt"
			echo go >&"$lg_in"
			;;
		mode=scale*)
			sleep "$settle"
			after=$(rss_kib "$pid")
			record 3 "$subj" "c$conns_scale" "$line rss_before_kib=$before rss_idle_kib=$idle rss_after_kib=$after"
			case "$line" in *" errors=0 "*) ;; *) failures=$((failures + 1)) ;; esac
			;;
		esac
	done
	exec {lg_in}>&- {lg_out}<&-
	wait "$lg"
	[ -s "$work/scale.err" ] && sed 's/^/bench: /' "$work/scale.err" | head -5 >&2
}
: >"$raw/scale.txt"
scale floor "$pid_floor" "$floor"
scale udo-vsockd "$pid_daemon" "$udo"
[ "$have_qga" = 1 ] && stop "$pid_qga"
stop "$pid_floor"
stop "$pid_daemon"

# 4: exec /bin/true, 1 and 16 clients.
for c in $exec_clients; do
	measure 4 posix_spawn "c$c" spawn -c "$c" -r /bin/true -t "$exec_secs" -W "$warm" "${exec_n[@]}"
done
# All 16 clients come from one peer (CID 1): raise the per-peer limit (default 4).
cat >"$work/exec.conf" <<EOF
[command true]
handler = exec
path = /bin/true
max-concurrent = 64
max-concurrent-per-peer = 64
EOF
[ -n "${BENCH_EXEC_CONF:-}" ] && cp "$BENCH_EXEC_CONF" "$work/exec.conf"
daemon_conf "$work/dx.conf" "$port_exec" "$work/exec.conf"
if "$daemon" -t -c "$work/dx.conf" >"$work/exec-t.log" 2>&1; then
	start "$daemon" -c "$work/dx.conf"
	pid_exec=$last
	if wait_ready "vsock:1:$port_exec"; then
		for c in $exec_clients; do
			measure 4 udo-vsockd "c$c" rr -c "$c" -d 1 -r 'TRUE\n' -t "$exec_secs" -W "$warm" "${exec_n[@]}" \
				"vsock:1:$port_exec"
		done
	else
		not_measured 4 udo-vsockd c1 "the exec daemon does not answer"
	fi
	stop "$pid_exec"
else
	echo "bench: udo-vsockd -t on the exec config: $(head -c 300 "$work/exec-t.log")"
	for c in $exec_clients; do
		not_measured 4 udo-vsockd "c$c" "exec handler unavailable"
	done
fi
if [ "$have_qga" = 1 ]; then
	start qemu-ga -m vsock-listen -p "1:$port_qga" -t "$work/qga" -f "$work/qga/pid"
	pid_qga=$last
	if wait_ready "$qga" "$qping" '{"return"'; then
		measure 4 qemu-ga c1 qga-exec -r /bin/true -t "$exec_secs" -W "$warm" "${exec_n[@]}" "$qga"
	fi
	for c in $exec_clients; do
		[ "$c" = 1 ] || not_measured 4 qemu-ga "c$c" "qemu-ga serves one connection at a time"
	done
	stop "$pid_qga"
else
	not_measured 4 qemu-ga c1 "qemu-ga is not installed"
fi
start socat "VSOCK-LISTEN:$port_socat,fork,backlog=256" EXEC:/bin/true
pid_socat=$last
# Ready once one connection is accepted and closed by the server.
for ((i = 0; i < 100; i++)); do
	"$bin/loadgen" connect -W 0 -n 1 -t 5 "vsock:1:$port_socat" >/dev/null 2>&1 && break
	sleep 0.1
done
for c in $exec_clients; do
	measure 4 socat "c$c" connect -c "$c" -t "$exec_secs" -W "$warm" "${exec_n[@]}" "vsock:1:$port_socat"
done
stop "$pid_socat"

# 6: throughput of one connection, in MiB/s: stream_bytes sent in 1 MiB
# writes straight to a vsock sink (the floor), through the relay floor
# (a minimal blocking recv/send relay), the same relay with splice(2)
# through a pipe, and udo-vsockd's proxy to a unix
# sink, and after a hand-off to a sink that takes the client's socket;
# and the output of an exec'd cat of a file of 1 KiB lines, which comes
# as data lines. The subjects alternate in stream_reps rounds.
# Waits until the byte sink (or relay) at ADDR takes a stream, or with
# -S until the socket file ADDR exists; 0 or 1.
wait_sink() {
	local i
	for ((i = 0; i < 100; i++)); do
		if [ "$1" = -S ]; then
			[ -S "$2" ] && return 0
		else
			"$bin/loadgen" stream -b 1 "$1" >"$work/ws.out" 2>&1 && return 0
		fi
		sleep 0.1
	done
	echo "bench: workload 6: $*: $(head -c 300 "$work/ws.out" 2>/dev/null)" >&2
	return 1
}
start "$bin/loadgen" sink "vsock:any:$port_sink"
start "$bin/loadgen" sink "unix:$work/psink.sock"
start "$bin/loadgen" sink -H "unix:$work/hsink.sock"
start "$bin/loadgen" relay -x "unix:$work/psink.sock" "vsock:any:$port_relay"
start "$bin/loadgen" splice -x "unix:$work/psink.sock" "vsock:any:$port_splice"
awk -v n="$stream_bytes" 'BEGIN { line = sprintf("%1023s", ""); gsub(/ /, "x", line)
	for (i = 0; i < n / 1024; i++) print line }' >"$work/lines"
cat >"$work/stream.conf" <<EOF
[command sink]
handler = proxy
connect = unix:$work/psink.sock

[command hsink]
handler = handoff
socket = unix:$work/hsink.sock

[command cat]
handler = exec
path = /bin/cat
args = $work/lines
max-output-bytes = 1024M
max-output-lines = 100000000
timeout = 600s
EOF
daemon_conf "$work/ds.conf" "$port_stream" "$work/stream.conf"
start "$daemon" -c "$work/ds.conf"
pid_stream=$last
if wait_ready "vsock:1:$port_stream" && wait_sink "vsock:1:$port_sink" && wait_sink -S "$work/hsink.sock" &&
	wait_sink -S "$work/psink.sock" && wait_sink "vsock:1:$port_relay" && wait_sink "vsock:1:$port_splice"; then
	for ((r = 0; r < stream_reps; r++)); do
		measure 6 direct up stream -b "$stream_bytes" "vsock:1:$port_sink"
		measure 6 relay up stream -b "$stream_bytes" "vsock:1:$port_relay"
		measure 6 splice up stream -b "$stream_bytes" "vsock:1:$port_splice"
		measure 6 udo-vsockd proxy stream -b "$stream_bytes" -r 'SINK\n' -e 'OK proxy' "vsock:1:$port_stream"
		measure 6 udo-vsockd handoff stream -b "$stream_bytes" -r 'HSINK\n' -e 'OK handoff' "vsock:1:$port_stream"
		measure 6 udo-vsockd exec stream -D -r 'CAT\n' -e 'OK exit=0' "vsock:1:$port_stream"
	done
else
	echo "bench: workload 6: a sink, the relay or udo-vsockd does not answer" >&2
	failures=$((failures + 1))
fi
stop "$pid_stream"

# 7 and 8: exec sessions (issue 14). 7: bytes through cat, up and back
# down, in one connection: a direct vsock connection to a byte echo
# server (the floor), a session of cat (no pty), socat's fork EXEC:cat,
# and qemu-ga guest-exec of cat with input-data (at most qga_bytes: its
# output is capped at 16 MiB). 8: keystroke echo, one byte written and
# timed until its echo is back: the echo server (the floor), a shell on a
# pty in a session, and socat's shell on a pty (the usual stopgap).
# The least any agent can do, for both: session-load exec-relay, which
# runs the program for each connection and copies bytes between it and
# the socket with nothing else (no frames, no policy); and for 7 cat
# with the socket itself as its stdin and stdout (socat's nofork: no
# agent at all). Subjects alternate in stream_reps rounds.
if [ -n "${UDO_VSOCK_IN_UML:-}" ] && ! awk '$2 == "/dev/pts" && $3 == "devpts" { f = 1 } END { exit !f }' /proc/mounts; then
	# User-mode Linux's /dev (its own devtmpfs) has no devpts, so its
	# /dev/ptmx opens nothing: mount one there (in that kernel only).
	mkdir -p /dev/pts && mount -t devpts -o ptmxmode=0666,mode=0620 devpts /dev/pts ||
		echo "bench: workload 8: cannot mount devpts; pty sessions will fail" >&2
fi
cat >"$work/session.conf" <<EOF
[command scat]
handler = exec
path = /bin/cat
mode = session
timeout = 600s

[command sh]
handler = exec
path = /bin/sh
mode = session
pty = yes
timeout = 600s
EOF
[ -n "${BENCH_SESSION_CONF:-}" ] && cp "$BENCH_SESSION_CONF" "$work/session.conf"
daemon_conf "$work/dss.conf" "$port_session" "$work/session.conf"
start "$bin/session-load" echo-server "vsock:any:$port_echo"
start socat "VSOCK-LISTEN:$port_socat_cat,fork,backlog=64" EXEC:/bin/cat
# The stopgap as it is usually written: the shell on a pty, in its own
# session with the pty as its terminal, its stderr (the prompt) there too.
start socat "VSOCK-LISTEN:$port_socat_sh,fork,backlog=64" EXEC:/bin/sh,pty,stderr,setsid,sigint,sane
start "$bin/session-load" exec-relay -x /bin/cat "vsock:any:$port_relay_cat"
start "$bin/session-load" exec-relay -p -x /bin/sh "vsock:any:$port_relay_sh"
start socat "VSOCK-LISTEN:$port_cat_fd,fork,backlog=64" EXEC:/bin/cat,nofork
have_session=0
if "$daemon" -t -c "$work/dss.conf" >"$work/session-t.log" 2>&1; then
	start "$daemon" -c "$work/dss.conf"
	pid_session=$last
	if wait_ready "vsock:1:$port_session"; then
		have_session=1
	else
		echo "bench: workloads 7, 8: the session daemon does not answer" >&2
		failures=$((failures + 1))
	fi
else
	echo "bench: udo-vsockd -t on the session config: $(head -c 300 "$work/session-t.log")"
	not_measured 7 udo-vsockd session "session mode unavailable"
	not_measured 8 udo-vsockd session-pty "session mode unavailable"
fi
have_qga=0
if command -v qemu-ga >/dev/null; then
	start qemu-ga -m vsock-listen -p "1:$port_qga" -t "$work/qga" -f "$work/qga/pid"
	pid_qga=$last
	wait_ready "$qga" "$qping" '{"return"' && have_qga=1
fi
[ "$have_qga" = 1 ] || not_measured 7 qemu-ga guest-exec-cat "qemu-ga is not installed or does not answer"
not_measured 8 qemu-ga guest-exec "guest-exec takes stdin only at the start and returns output only after exit"
# Waits until the raw stream server at ADDR echoes a few bytes; 0 or 1.
wait_echo() {
	local i
	for ((i = 0; i < 100; i++)); do
		"$bin/session-load" stream -b 16 -T 5 "$1" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "bench: workloads 7, 8: $1 does not echo" >&2
	return 1
}
if wait_echo "vsock:1:$port_echo" && wait_echo "vsock:1:$port_socat_cat" &&
	wait_echo "vsock:1:$port_relay_cat" && wait_echo "vsock:1:$port_cat_fd"; then
	for ((r = 0; r < stream_reps; r++)); do
		LOADGEN=session-load measure 7 direct echo stream -b "$session_bytes" "vsock:1:$port_echo"
		[ "$have_session" = 1 ] && LOADGEN=session-load measure 7 udo-vsockd session \
			stream -s -r 'SCAT\n' -b "$session_bytes" "vsock:1:$port_session"
		LOADGEN=session-load measure 7 socat exec-cat stream -b "$session_bytes" "vsock:1:$port_socat_cat"
		LOADGEN=session-load measure 7 relay exec-cat stream -b "$session_bytes" "vsock:1:$port_relay_cat"
		LOADGEN=session-load measure 7 cat socket-fd stream -b "$session_bytes" "vsock:1:$port_cat_fd"
		[ "$have_qga" = 1 ] && LOADGEN=session-load measure 7 qemu-ga guest-exec-cat qga-cat -b "$qga_bytes" "$qga"
		LOADGEN=session-load measure 8 floor echo keys -n "$keys" -W "$keys_warm" -o "$work/lat" \
			"vsock:1:$port_echo" && cat "$work/lat" >>"$raw/keys-floor.txt"
		if [ "$have_session" = 1 ]; then
			LOADGEN=session-load measure 8 udo-vsockd session-pty keys -s -p -r 'SH\n' -n "$keys" \
				-W "$keys_warm" -o "$work/lat" "vsock:1:$port_session" &&
				cat "$work/lat" >>"$raw/keys-udo-vsockd.txt"
		fi
		LOADGEN=session-load measure 8 socat sh-pty keys -p -n "$keys" -W "$keys_warm" -o "$work/lat" \
			"vsock:1:$port_socat_sh" && cat "$work/lat" >>"$raw/keys-socat.txt"
		LOADGEN=session-load measure 8 relay sh-pty keys -p -n "$keys" -W "$keys_warm" -o "$work/lat" \
			"vsock:1:$port_relay_sh" && cat "$work/lat" >>"$raw/keys-relay.txt"
	done
else
	failures=$((failures + 1))
fi
[ "$have_session" = 1 ] && stop "$pid_session"
[ "$have_qga" = 1 ] && stop "$pid_qga"

# 9: file transfer (bench/files_workload.sh).
if [ -n "$cli" ]; then
	# shellcheck source=bench/files_workload.sh
	. "$(dirname "${BASH_SOURCE[0]}")/files_workload.sh"
else
	not_measured 9 udo-vsockd up "BENCH_CLI is not set"
fi

echo "bench: done, $failures failure(s)"
[ "$failures" = 0 ]
