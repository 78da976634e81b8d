# SPDX-License-Identifier: LGPL-2.1-or-later
# bench/files_workload.sh - workload 9, sourced by bench/vsock_workloads.sh
# (its helpers and variables): file transfer. A file of file_bytes (1 GiB)
# goes up with `udo-vsock put` and comes down with `udo-vsock get` through
# udo-vsockd's files kind, against a direct vsock copy of the same bytes
# between two socat processes (file to vsock to file, 1 MiB buffers), and
# qemu-ga's guest-file-write and guest-file-read (base64 in JSON) for
# qga_bytes (32 MiB; qemu-ga is slow). The subjects alternate in
# file_reps rounds; the source lies in the share's root (GET reads it),
# and every copy is deleted after it is measured, so the files live on a
# tmpfs of their own sized for two copies. The daemon's
# peak RSS growth during each transfer is VmHWM after it minus VmRSS
# before it, with the peak reset first (clear_refs 5), after one small
# warm-up PUT and GET (the first loads libcrypto's SHA-256, once).

port_files=6020 port_copy=6021
if [ "$smoke" = 1 ]; then
	file_bytes=$((8 << 20)) qga_bytes=$((1 << 20)) file_reps=1
else
	file_bytes=$((${BENCH_FILE_MIB:-1024} << 20)) qga_bytes=$((${BENCH_QGA_FILE_MIB:-32} << 20))
	file_reps=${BENCH_FILE_REPS:-3}
fi
fdir=$work/files
mkdir -p "$fdir"
# Room for the source and one copy (user-mode Linux: RAM-backed anyway).
mount -t tmpfs -o "size=$((2 * file_bytes / 1048576 + 64))M" tmpfs "$fdir" 2>/dev/null || true
head -c "$file_bytes" /dev/urandom >"$fdir/src"

# Seconds and MiB/s of BYTES moved between T0 and T1 (date +%s.%N), as a result line.
rate_line() {
	awk -v b="$1" -v t0="$2" -v t1="$3" -v d="$4" 'BEGIN { s = t1 - t0; if (s <= 0) s = 1e-9
		printf "mode=files dir=%s bytes=%d secs=%.4f mib_per_s=%.1f\n", d, b, s, b / 1048576 / s }'
}

# Peak RSS growth (KiB) of PID since reset_peak.
reset_peak() {
	echo 5 >"/proc/$1/clear_refs" 2>/dev/null
	rss_before=$(awk '/^VmRSS:/ { print $2 }' "/proc/$1/status")
}
peak_growth() {
	awk -v b="$rss_before" '/^VmHWM:/ { print $2 - b }' "/proc/$1/status"
}

# The direct copy: a socat receiver (UP: writing the file; down: the
# sender listens) and the other side connecting; retried until the
# listener is up. Records one result line.
direct_copy() {
	local dir=$1 t0 t1 lpid n
	if [ "$dir" = up ]; then
		socat -u -b 1048576 "VSOCK-LISTEN:$port_copy,reuseaddr" "CREATE:$fdir/copy" &
	else
		socat -u -b 1048576 "OPEN:$fdir/src" "VSOCK-LISTEN:$port_copy,reuseaddr" &
	fi
	lpid=$!
	for ((n = 0; n < 100; n++)); do
		t0=$(date +%s.%N)
		if [ "$dir" = up ]; then
			socat -u -b 1048576 "OPEN:$fdir/src" "VSOCK-CONNECT:1:$port_copy" 2>/dev/null && break
		else
			socat -u -b 1048576 "VSOCK-CONNECT:1:$port_copy" "CREATE:$fdir/copy" 2>/dev/null && break
		fi
		sleep 0.05 # the listener is not up yet
	done
	wait "$lpid"
	t1=$(date +%s.%N)
	if cmp -s "$fdir/src" "$fdir/copy"; then
		record 9 direct "$dir" "$(rate_line "$file_bytes" "$t0" "$t1" "$dir")"
	else
		record 9 direct "$dir" "error=\"the copy differs\""
		failures=$((failures + 1))
	fi
	rm -f "$fdir/copy"
}

# udo-vsock put (UP) or get through the files kind; records the rate and
# the daemon's peak RSS growth.
udo_copy() {
	local dir=$1 t0 t1 rc
	reset_peak "$pid_files"
	t0=$(date +%s.%N)
	if [ "$dir" = up ]; then
		"$cli" "vsock:1:$port_files" put "$fdir/src" copy 2>"$work/cli.err"
	else
		"$cli" "vsock:1:$port_files" get src "$fdir/copy" 2>"$work/cli.err"
	fi
	rc=$?
	t1=$(date +%s.%N)
	cmp -s "$fdir/src" "$fdir/copy" || rc=1
	rm -f "$fdir/copy"
	if [ "$rc" = 0 ]; then
		record 9 udo-vsockd "$dir" "$(rate_line "$file_bytes" "$t0" "$t1" "$dir") rss_growth_kib=$(peak_growth "$pid_files")"
	else
		record 9 udo-vsockd "$dir" "error=\"$(tr '\n' ' ' <"$work/cli.err" | tr -d '"' | cut -c1-200)\""
		failures=$((failures + 1))
	fi
}

cat >"$work/files.conf" <<EOF2
[command files]
handler = files
root = $fdir
access = read-write
max-file-size = 1048576M
EOF2
daemon_conf "$work/df.conf" "$port_files" "$work/files.conf"
start "$daemon" -c "$work/df.conf"
pid_files=$last
if wait_ready "vsock:1:$port_files"; then
	head -c 65536 /dev/urandom >"$fdir/warm"
	"$cli" "vsock:1:$port_files" put "$fdir/warm" warm.put && "$cli" "vsock:1:$port_files" get warm "$fdir/warm.got" ||
		failures=$((failures + 1))
	rm -f "$fdir/warm" "$fdir/warm.got" "$fdir/warm.put"
	for ((r = 0; r < file_reps; r++)); do
		direct_copy up
		udo_copy up
		direct_copy down
		udo_copy down
	done
else
	echo "bench: workload 9: udo-vsockd does not answer" >&2
	failures=$((failures + 1))
fi
stop "$pid_files"
if [ "$have_qga" = 1 ] && command -v python3 >/dev/null; then
	start qemu-ga -m vsock-listen -p "1:$port_qga" -t "$work/qga" -f "$work/qga/pid"
	pid_qga=$last
	if wait_ready "$qga" "$qping" '{"return"'; then
		for dir in up down; do
			op=write
			[ "$dir" = down ] && op=read
			if out=$(python3 "$(dirname "${BASH_SOURCE[0]}")/qga-file" $op "$qga" "$fdir/qga" "$qga_bytes" 2>"$work/qga.err"); then
				record 9 qemu-ga "$dir" "$out"
			else
				record 9 qemu-ga "$dir" "error=\"$(tr '\n' ' ' <"$work/qga.err" | tr -d '"' | cut -c1-200)\""
				failures=$((failures + 1))
			fi
		done
	fi
	stop "$pid_qga"
	rm -f "$fdir/qga"
else
	not_measured 9 qemu-ga up "qemu-ga or python3 is not installed"
fi
rm -f "$fdir/src"
umount "$fdir" 2>/dev/null || true
