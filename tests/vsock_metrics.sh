#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vsock_metrics.sh - the metrics endpoint of the built udo-vsockd, fed real
# vsock traffic over CID 1: its page is scraped with curl over its unix
# socket and must pass `promtool check metrics` (Debian's prometheus) with
# no lint complaint; the counters and the exec-jobs gauge follow the
# traffic, and other paths are 404.
set -u
# shellcheck source=tests/lib.sh
. "${UDO_TEST_SRCDIR:?}/tests/lib.sh"
for tool in curl promtool; do
	command -v "$tool" >/dev/null || { echo "no $tool (scripts/deps installs it)"; exit 77; }
done
test_init metrics

fail() {
	echo "FAIL: $*"
	cat "$dir/daemon.log"
	exit 1
}

# Scrapes the page into $dir/page (headers in $dir/headers).
scrape() {
	curl -sS --max-time 5 --unix-socket "$dir/metrics.sock" -D "$dir/headers" -o "$dir/page" \
		http://localhost/metrics || fail "curl could not scrape /metrics"
}

# The value of the sample $1 (name and labels, exactly) on the last page.
sample() {
	awk -v s="$1" '$1 == s { print $2; found = 1 } END { if (!found) print 0 }' "$dir/page"
}

# True if a fresh scrape has sample $1 at $2.
sample_is() {
	scrape
	[ "$(sample "$1")" = "$2" ]
}

# Waits up to 10 s until sample $1 is $2.
wait_sample() {
	wait_until 10 sample_is "$1" "$2" || fail "$1 is $(sample "$1"), not $2"
}

port=$(free_port)
cat >"$dir/udo-vsockd.conf" <<CONF
[daemon]
listen = vsock:any:$port
metrics-listen = unix:$dir/metrics.sock
allow = any
[command ping]
handler = ping
[command secret]
handler = ping
allow = 7
[command slow]
handler = exec
path = /bin/sleep
args = 30
[command bg]
handler = exec
path = /bin/sleep
args = 30
detach = yes
[command kill]
handler = kill
CONF
start_daemon "vsock:1:$port" 30 env UDO_VSOCKD_STRICT_MODES=no "$daemon_bin" -c "$dir/udo-vsockd.conf" ||
	fail "the daemon did not answer"

printf 'ping a\nping b\nping c\nfrob\nsecret\n' | "$cli" "vsock:1:$port" >/dev/null 2>&1
scrape
grep -qi '^Content-Type: text/plain; version=0.0.4' "$dir/headers" || fail "no text format 0.0.4 content type"
if ! promtool check metrics <"$dir/page" >"$dir/promtool.out" 2>&1 || [ -s "$dir/promtool.out" ]; then
	cat "$dir/page" "$dir/promtool.out"
	fail "promtool check metrics did not pass the page"
fi
[ "$(sample 'udo_vsockd_requests_total{command="ping"}')" = 4 ] || fail "ping requests: $(sample 'udo_vsockd_requests_total{command="ping"}'), not 4"
[ "$(sample 'udo_vsockd_errors_total{command="(unknown)",code="unknown-command"}')" = 1 ] || fail "no unknown command counted"
[ "$(sample 'udo_vsockd_errors_total{command="secret",code="denied"}')" = 1 ] || fail "no denied request counted"
[ "$(sample 'udo_vsockd_peer_requests_total{peer="cid:1"}')" = 6 ] || fail "peer cid:1: $(sample 'udo_vsockd_peer_requests_total{peer="cid:1"}') requests, not 6"

# A running exec job shows in the gauge, and leaves it with its client.
"$cli" -w 0 "vsock:1:$port" slow >/dev/null 2>&1 &
job=$!
pids+=("$job")
wait_sample udo_vsockd_exec_jobs 1
[ "$(sample udo_vsockd_connections)" = 1 ] || fail "connections: $(sample udo_vsockd_connections), not 1"
promtool check metrics <"$dir/page" >"$dir/promtool.out" 2>&1 && [ ! -s "$dir/promtool.out" ] ||
	fail "promtool check metrics: $(cat "$dir/promtool.out")"
kill "$job"
wait "$job" 2>/dev/null
forget_pid "$job"
wait_sample udo_vsockd_exec_jobs 0
wait_sample udo_vsockd_connections 0

# A detached job counts in its own gauge while it runs, with no client.
out=$("$cli" "vsock:1:$port" bg) || fail "bg: $out"
wait_sample udo_vsockd_detached_jobs 1
"$cli" "vsock:1:$port" kill "${out#job=}" KILL >/dev/null || fail "kill ${out#job=} failed"
wait_sample udo_vsockd_detached_jobs 0

code=$(curl -sS --max-time 5 --unix-socket "$dir/metrics.sock" -o /dev/null -w '%{http_code}' http://localhost/nothing)
[ "$code" = 404 ] || fail "GET /nothing: $code, not 404"
kill -0 "$daemon" 2>/dev/null || fail "the daemon died"
kill "$daemon"
wait "$daemon"
status=$?
forget_pid "$daemon"
[ "$status" = 0 ] || fail "the daemon exited with $status"
[ ! -e "$dir/metrics.sock" ] || fail "the metrics socket was left behind"
echo "PASS: promtool accepts the page; counters and gauges follow the traffic"
