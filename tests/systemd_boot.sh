#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# systemd_boot.sh - the installed udo-vsockd under a real systemd (the
# host's, 252) booted in user-mode Linux by tests/uml-systemd: first what we
# ship as we ship it (udo-vsockd.service and udo-vsockd@guest with their
# installed configurations, every command HELP lists answering from CID 1),
# then readiness via sd_notify, socket activation over vsock CID 1,
# synchronous reload (good, and broken: systemctl reload fails), watchdog,
# quick clean stop, the @instance template (DefaultInstance=, enable), the
# journal fields (caller's CODE_FILE=, MESSAGE_ID=), the hardened unit
# serving PING/HELP/VERSION/WHOAMI/STATS/TIME, reading a peers-dir
# that examples/libvirt-qemu-hook writes under /run, the lines the shipped
# configurations carry commented out, uncommented (notify-listen with a
# guest's PID 1 emulated by tests/vmm-notify-send, the guest hooks,
# announce from udo-vsockd@guest to the host unit, the files shares), and
# last the opt-in guest admin unit as installed: its user and
# capabilities, SETTIME, FREEZE reaching the ioctl, and POWEROFF powering
# the guest off through logind and polkit, which the outside sees in the
# console.
#
# Outside (make check): installs the build tree into a staging directory
# (or, with UDO_TEST_DEBS=DIR, unpacks the Debian packages scripts/deb
# left there), adds a test configuration and boots. Inside (UDO_IN_UML_SYSTEMD=1): the
# checks, as root in the guest.
set -uo pipefail

port=5000
guest_port=5001

# The daemon configuration the checks rely on: the built-in handlers, each
# as a command of the same name; CID 1, where the checks ask from, is
# named `me` (udo-vsockd.conf(5) [peer]).
write_conf() {
	local listen=$1
	printf '[daemon]\nlisten = %s\nallow = any\n\n[peer me]\ncid = 1\n' "$listen"
	for c in ping help version whoami stats time; do
		printf '\n[command %s]\nhandler = %s\n' "$c" "$c"
	done
}

# An install prefix under /tmp or a home directory (make distcheck, a
# checkout in $HOME) is hidden by PrivateTmp=/ProtectHome=: a test-only
# drop-in binds exactly the installed directories there back, read-only.
sandbox_binds() {
	local stage=$1 dirs u d
	dirs=$(cd "$stage" && find . -type f | sed 's|^\.||' | grep -E '^/(tmp|var/tmp|home|root|run/user)/' |
		xargs -r -n 1 dirname | sort -u | tr '\n' ' ')
	[ -n "$dirs" ] || return 0
	echo "systemd_boot: test drop-in, installed under a hidden path: BindReadOnlyPaths=$dirs"
	for u in udo-vsockd.service udo-vsockd@.service udo-vsockd-guest-admin.service; do
		d=$stage/etc/systemd/system/$u.d
		mkdir -p "$d"
		printf '[Service]\nBindReadOnlyPaths=%s\n' "$dirs" >"$d/50-test-install-paths.conf"
	done
}

# True when the console CONSOLE shows that systemd powered the guest off
# (the guest's last check asked for it with POWEROFF): poweroff.target
# reached and systemd-shutdown's "Powering off.", which the harness's own
# `systemctl poweroff -ff` (reboot(2) at once) never prints. The guest's
# log may miss its last lines: the results are unmounted on the way down.
poweroff_seen() {
	local target shutdown
	target=$(grep -c 'Reached target.*poweroff\.target' "$1")
	shutdown=$(grep -c '^Powering off\.' "$1")
	echo "systemd_boot: console: 'Reached target poweroff.target' $target, systemd-shutdown's 'Powering off.' $shutdown"
	if [ "$target" -gt 0 ] && [ "$shutdown" -gt 0 ]; then
		echo "ok: POWEROFF powered the guest off through systemd"
		return 0
	fi
	echo "FAIL: POWEROFF: the console shows no power-off by systemd; its tail:"
	tail -n 15 "$1"
	return 1
}

# Outside: stage `make install`, then boot the guest on it and run ourselves.
outside() {
	local builddir self work stage unit conf rc=0
	builddir=${UDO_TEST_BUILDDIR:-$PWD}
	self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
	work=$(mktemp -d "${TMPDIR:-/tmp}/systemd_boot.XXXXXX") || exit 99
	trap 'rm -rf "$work"' EXIT
	stage=$work/stage
	mkdir -p "$stage" "$work/results"

	if [ -n "${UDO_TEST_DEBS:-}" ]; then
		# The Debian packages (scripts/deb) instead: their files as dpkg
		# unpacks them.
		local deb debs=("$UDO_TEST_DEBS"/*.deb)
		[ -f "${debs[0]}" ] || { echo "systemd_boot: no .deb in $UDO_TEST_DEBS" >&2; exit 99; }
		for deb in "${debs[@]}"; do
			dpkg-deb -x "$deb" "$stage" || { echo "systemd_boot: cannot unpack $deb" >&2; exit 99; }
			echo "systemd_boot: staged package $(basename "$deb")"
		done
		# dpkg follows the merged-/usr links (/lib -> usr/lib); a
		# directory copied over them would hide the root's /lib.
		for d in bin sbin lib; do
			if [ -d "$stage/$d" ] && [ ! -L "$stage/$d" ]; then
				mkdir -p "$stage/usr/$d"
				cp -a "$stage/$d/." "$stage/usr/$d/" && rm -rf "${stage:?}/$d"
			fi
		done
		unit=$stage/usr/lib/systemd/system/udo-vsockd.service
	else
		# Installed as configured; the units, the sysusers.d file and the
		# polkit rule into directories systemd and polkitd search (a
		# distcheck prefix is under /tmp).
		if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "${MAKE:-make}" -s -C "$builddir" install \
			DESTDIR="$stage" systemdsystemunitdir=/usr/lib/systemd/system sysusersdir=/usr/lib/sysusers.d \
			polkitrulesdir=/usr/share/polkit-1/rules.d >"$work/install.log" 2>&1; then
			cat "$work/install.log"
			echo "systemd_boot: make install DESTDIR=$stage failed" >&2
			exit 99
		fi
		unit=$stage/usr/lib/systemd/system/udo-vsockd.service
	fi
	conf=$(sed -n 's/^ExecStart=.* -c *\([^ ]*\).*/\1/p' "$unit")
	[ -n "$conf" ] || { echo "systemd_boot: no -c FILE in $unit" >&2; exit 99; }
	echo "systemd_boot: staged $(grep '^ExecStart=' "$unit")"
	# The shipped configurations stay as installed (the first checks run
	# them); the later checks swap these test files in.
	mkdir -p "$stage$(dirname "$conf")"
	write_conf "vsock:any:$port" >"$stage$conf.test"
	write_conf "vsock:any:$guest_port" >"$stage$(dirname "$conf")/guest.conf.test"

	sandbox_binds "$stage"
	# The guest systemd stand-in (make check builds it).
	[ -x "$builddir/tests/vmm-notify-send" ] || { echo "systemd_boot: no $builddir/tests/vmm-notify-send" >&2; exit 99; }

	export UDO_UML_KEEP_CONSOLE=${UDO_UML_KEEP_CONSOLE:-$work/console}
	"$(dirname "$self")/uml-systemd" -t "${UDO_UML_TIMEOUT:-150}" -r "$stage" -o "$work/results" -- "$self" "$builddir" || rc=$?
	[ "$rc" = 0 ] && ! poweroff_seen "$UDO_UML_KEEP_CONSOLE" && rc=1
	exit "$rc"
}

fails=0
# Records one check: "ok: WHAT" or "FAIL: WHAT".
check() {
	local what=$1
	shift
	if "$@"; then
		echo "ok: $what"
	else
		echo "FAIL: $what"
		fails=$((fails + 1))
	fi
}

# Sends the given lines to vsock CID 1 PORT and prints the replies: one
# line per request (waiting up to 5 s, long enough for socket activation),
# then whatever else arrives within 0.3 s.
ask() {
	local p=$1 line n
	shift
	coproc ASK { exec timeout -k 1 10 socat - "VSOCK-CONNECT:1:$p" 2>/dev/null; }
	# Copies: bash unsets the coproc's variables once it has ended.
	local pid=${ASK_PID:-} in=${ASK[0]:-} out=${ASK[1]:-}
	{
		printf '%s\n' "$@" >&"$out"
		for ((n = 0; n < $#; n++)); do
			IFS= read -r -t 5 -u "$in" line || break
			printf '%s\n' "$line"
		done
		while IFS= read -r -t 0.3 -u "$in" line; do
			printf '%s\n' "$line"
		done
	} 2>/dev/null
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	return 0
}

# Prints one property of a unit.
prop() {
	systemctl show -P "$2" "$1"
}

# Prints how long systemd took for the last stop of UNIT, in ms (-1: unknown).
stop_ms() {
	journalctl --sync 2>/dev/null
	journalctl -u "$1" -o short-monotonic --no-pager |
		sed -n -e "s/^\[ *\([0-9.]*\)\] .*systemd\[1\]: Stopping $1 .*/start \1/p" \
			-e "s/^\[ *\([0-9.]*\)\] .*systemd\[1\]: Stopped $1 .*/end \1/p" |
		awk '{ t[$1] = $2 } END { if (t["start"] && t["end"] >= t["start"]) printf "%d\n", (t["end"] - t["start"]) * 1000; else print -1 }'
}

# Prints where the test is, with the guest's uptime: the time each part takes.
mark() {
	local up
	read -r up _ </proc/uptime
	echo "-- ${up}s: $1"
}

# Milliseconds since the epoch, for timings.
now_ms() {
	date +%s%3N
}

# Sends the request lines to vsock CID 1 PORT over one connection, then
# ends its input (the daemon answers everything, then closes), and prints,
# for each, "> REQUEST" and its reply: the lines up to and including its
# OK or ERR line (all within 60 s).
ask_replies() {
	local p=$1 line req all
	shift
	# One socat to the end of the connection, not a coproc: bash closes a
	# coproc's descriptors once it has exited, so after QUIT the reader lost
	# whatever it had not read yet when socat went away.
	all=$(printf '%s\n' "$@" | timeout -k 1 90 socat -t 60 - "VSOCK-CONNECT:1:$p" 2>/dev/null)
	{
		for req in "$@"; do
			printf '> %s\n' "$req"
			while IFS= read -r line; do
				printf '%s\n' "$line"
				case $line in OK* | ERR*) continue 2 ;; esac
			done
			break
		done
	} <<<"$all"
	return 0
}

# True when REPLY (lines) ends in an OK line and no line is an ERR or
# reads unknown or unavailable.
reply_good() {
	local r=${1%$'\n'} low=${1,,}
	[[ ${r##*$'\n'} == OK* ]] && [[ $'\n'$r != *$'\n'ERR* ]] && [[ $low != *unknown* && $low != *unavailable* ]]
}

# Checks each reply that ask_replies printed (on stdin) with reply_good;
# the facts the reply to FACTS lists ("D NAME=VALUE") go to seen_facts.
check_replies() {
	local what=$1 line req= reply= r
	while IFS= read -r line || [ -n "$req" ]; do
		if [[ -z $line || $line == '> '* ]]; then
			if [ -n "$req" ]; then
				r=${reply%$'\n'}
				echo "  $req -> ${r//$'\n'/ | }"
				check "$what: $req answers OK, no ERR/unknown/unavailable" reply_good "$reply"
			fi
			req=${line#> } reply=
			[ -n "$line" ] || break
			continue
		fi
		reply+=$line$'\n'
		[[ $req == facts && $line =~ ^D\ ([a-z]+)= ]] && seen_facts+=("${BASH_REMATCH[1]}")
	done
}

# The shipped configuration under the shipped UNIT: starts it, then runs
# every command its HELP lists from CID 1 on PORT (no arguments; QUIT
# last), and then each fact of its facts command alone (FACTS NAME).
shipped_commands() {
	local unit=$1 p=$2 help cmds= c line reqs=() quit=
	check "$unit start, shipped config" systemctl start "$unit"
	help=$(ask_replies "$p" HELP)
	while IFS= read -r line; do
		[[ $line =~ ^D\ ([^ ]+) ]] || continue
		c=${BASH_REMATCH[1]}
		[ "$c" = quit ] && quit=$c || cmds+=" $c"
	done <<<"$help"
	echo "  $unit HELP lists:$cmds${quit:+ $quit}"
	check "$unit: HELP lists commands" test -n "$cmds"
	seen_facts=()
	# shellcheck disable=SC2086 # one request per command name
	check_replies "$unit" < <(ask_replies "$p" $cmds $quit)
	for c in "${seen_facts[@]}"; do
		reqs+=("facts $c")
	done
	[ ${#reqs[@]} -eq 0 ] || check_replies "$unit" < <(ask_replies "$p" "${reqs[@]}")
	check "$unit stop" systemctl stop "$unit"
}

# True when the reply to PING on PORT is exactly "OK pong".
pings() {
	[ "$(ask "$1" PING)" = "OK pong" ]
}

# The MESSAGE_IDs of udo-vsockd(8) and the function that logs each event.
msgids="ready 999fd67f5e3943d0a7b592ecf670fa62 main
reloaded 9def5771dea946f9aed1ffd9cfb9ce62 server_reload
reload-failed bcd1410b5252474b94d2e31685743f47 main
denied 0cf2e41bfc3e43549e63df7a415b5347 dispatch_request
refused e0dbf8d4ac614ce58eb3432e38edd493 conn_accept
stopping 3faacfe694394b18be5cfe24ae59abcb server_begin_shutdown"

# The journal entries of the daemons so far: each event carries its
# MESSAGE_ID and the caller's CODE_FILE=/CODE_FUNC=, never log.c's. One
# journalctl, reduced by awk to "MESSAGE_ID CODE_FUNC CODE_FILE" lines.
journal_fields() {
	local name id func entries entry n
	journalctl --sync 2>/dev/null
	entries=$(journalctl --no-pager -o export SYSLOG_IDENTIFIER=udo-vsockd | awk -F = '
		/^$/ { print (m == "" ? "-" : m), (f == "" ? "-" : f), (c == "" ? "-" : c); m = f = c = ""; next }
		$1 == "MESSAGE_ID" { m = $2 } $1 == "CODE_FUNC" { f = $2 } $1 == "CODE_FILE" { c = $2 }')
	while read -r name id func; do
		entry=$(grep -m 1 "^$id " <<<"$entries")
		echo "  $name: MESSAGE_ID CODE_FUNC CODE_FILE = ${entry:-none}"
		check "journal: $name has MESSAGE_ID=$id" test -n "$entry"
		check "journal: $name logged by $func, not in log.c" \
			test "$(cut -d ' ' -f 2 <<<"$entry")" = "$func" -a "${entry%/log.c}" = "$entry" -a "${entry%.c}" != "$entry"
	done <<<"$msgids"
	n=$(grep -c '/log\.c$' <<<"$entries")
	check "journal: no udo-vsockd entry names log.c as its CODE_FILE ($n do, of $(wc -l <<<"$entries"))" test "$n" = 0
}

# The audit entry of a PING in the journal (udo-vsockd.conf(5) audit =,
# on by default): its fields as the kernel and the daemon saw them.
audit_journal() {
	local e ok=1 field
	journalctl --sync 2>/dev/null
	e=$(journalctl --no-pager -o export MESSAGE_ID=de3b711fe2a04d87bd948678b7f57899 COMMAND=ping |
		awk '/^$/ { exit } { print }')
	echo "  audit entry of a PING: $(grep -E '^(PEER|PEER_CID|COMMAND|ARGC|STATUS|DURATION_USEC|BYTES_OUT)=' <<<"$e" | tr '\n' ' ')"
	for field in PEER_CID=1 COMMAND=ping ARGC=0 STATUS=OK 'DURATION_USEC=[0-9]+' 'BYTES_OUT=[1-9][0-9]*' 'PEER=cid 1 port [0-9]+'; do
		grep -qxE "$field" <<<"$e" || { echo "  missing: $field"; ok=0; }
	done
	grep -q '^ARGS=' <<<"$e" && { echo "  ARGS= without audit-args"; ok=0; }
	check "journal: the shipped unit's audit entry of a PING has its fields" test $ok = 1
}

# The latest audit entry of a PING carries the name the test
# configuration gives CID 1.
audit_journal_named() {
	local e
	journalctl --sync 2>/dev/null
	e=$(journalctl --no-pager -r -o export MESSAGE_ID=de3b711fe2a04d87bd948678b7f57899 COMMAND=ping |
		awk '/^$/ { exit } { print }')
	check "journal: the audit entry of a named peer's PING has PEER_NAME=me" \
		test "$(grep -cx 'PEER_NAME=me' <<<"$e")" = 1
}

# Runs the example libvirt hook ($hook) as libvirt would for VM $1,
# operation $2, with a domain XML whose vsock CID is $3.
libvirt_hook() {
	printf "<domain type='kvm'>\n  <name>%s</name>\n  <devices>\n    <vsock model='virtio'>\n      <cid auto='yes' address='%s'/>\n    </vsock>\n  </devices>\n</domain>\n" "$1" "$3" |
		"$hook" "$1" "$2" begin -
}

# The shipped host configuration's commented-out guest lines in FILE,
# uncommented as an operator would: notify-listen, the two hooks, and
# the [command guests], [command on-guest-ready] and [command announce]
# sections.
uncomment_guest_lines() {
	sed -i -e 's/^#\(notify-listen\|guest-ready-hook\|guest-shutdown-hook\) = /\1 = /' \
		-e '/^#\[command \(guests\|on-guest-ready\|announce\)\]$/,/^$/ s/^#//' "$1"
}

# Waits (up to 10 s) until FILE has a line matching the extended regex RE.
wait_line() {
	local n
	for ((n = 0; n < 100; n++)); do
		grep -Eq "$2" "$1" 2>/dev/null && return 0
		sleep 0.1 # poll interval
	done
	return 1
}

# GUESTS from this host's own side, as a person types it (udo-vsock(1)),
# on port $port; -v adds the status line ("udo-vsock: OK ...").
cli_guests() {
	udo-vsock -v "vsock:local:$port" guests 2>&1
}

# notify-listen and the guest hooks as shipped: the host unit with its
# configuration's commented-out lines uncommented (FILE), a guest's PID 1
# (vmm-notify-send, the emulation vsock_notify uses) reporting READY=1
# and STATUS= over vsock CID 1 and then its shutdown, the CLI showing it,
# and the hook program of the shipped comment run under the hardened unit.
guest_notify_shipped() {
	local conf=$1 svc=udo-vsockd.service nport hook events=/run/udo-vsockd/guest-events out send
	send=$builddir/tests/vmm-notify-send
	mark "notify-listen and the guest hooks, shipped lines uncommented"
	uncomment_guest_lines "$conf"
	nport=$(sed -n 's/^notify-listen = vsock:any:\([0-9]*\)$/\1/p' "$conf")
	hook=$(sed -n '/^\[command on-guest-ready\]$/,/^$/ s/^path = //p' "$conf")
	echo "  uncommented: $(grep -E '^(notify-listen|guest-[a-z]+-hook) = |^\[command (guests|on-guest-ready|announce)\]' "$conf" | tr '\n' ' ')"
	check "shipped config: notify-listen on a vsock port, a hook path" test -n "$nport" -a -n "$hook"
	# The hook, as an operator would install it: it writes what it was
	# run with where the unit lets it write (its RuntimeDirectory). The
	# exec environment is cleared: shell built-ins only.
	mkdir -p "$(dirname "$hook")"
	cat >"$hook" <<'HOOK'
#!/bin/sh
nnp=? uid=?
while read -r k v _; do
	case $k in NoNewPrivs:) nnp=$v ;; Uid:) uid=$v ;; esac
done </proc/self/status
echo "$UDO_GUEST_EVENT cid=$UDO_GUEST_CID status=$UDO_GUEST_STATUS shutdown=$UDO_GUEST_SHUTDOWN uid=$uid nnp=$nnp" >>/run/udo-vsockd/guest-events
HOOK
	chmod 0755 "$hook"
	check "$svc start, notify-listen = vsock:any:$nport" systemctl start $svc
	# What systemd's PID 1 sends once booted (src/core/manager.c,
	# manager_notify_finished()).
	check "a guest's READY=1 and STATUS= taken (the receiver closed)" \
		"$send" 1 "$nport" $'READY=1\nSTATUS=Startup finished in 2.512s.'
	check "the guest-ready-hook ran under $svc" wait_line "$events" '^ready cid=1 '
	out=$(cli_guests)
	echo "  udo-vsock -v vsock:local:$port guests -> ${out//$'\n'/ | }"
	check "udo-vsock ... guests: CID 1 is READY" grep -Eq '^cid=1 .*ready=1 ready_time=[0-9]+' <<<"$out"
	check "udo-vsock ... guests: CID 1's STATUS" grep -q ' status="Startup finished in 2.512s." ' <<<"$out"
	check "a guest's X_SYSTEMD_SHUTDOWN= taken" "$send" 1 "$nport" 'X_SYSTEMD_SHUTDOWN=poweroff'
	check "the guest-shutdown-hook ran" wait_line "$events" '^shutdown cid=1 .*shutdown=poweroff '
	echo "  hook runs: $(tr '\n' '|' <"$events" 2>/dev/null)"
	check "the hook ran unprivileged, with NoNewPrivs" \
		bash -c "test -s \"\$1\" && ! grep -Ev ' uid=[1-9][0-9]* nnp=1$' \"\$1\"" _ "$events"
	check "GUESTS counts two hooks, none dropped" grep -Eq '^udo-vsock: OK .* hooks=2 hooks_dropped=0' <<<"$(cli_guests)"
}

# announce as shipped: udo-vsockd@guest with the guest configuration's
# commented-out announce line uncommented (GCONF), its announce taken by
# the host unit running (guest_notify_shipped). In one machine the host
# is CID 1, not 2, and the guest agent needs a port of its own: only
# those two words change.
guest_announce_shipped() {
	local gconf=$1 gsvc=udo-vsockd@guest.service gport=$((port + 2)) out log bid mid host n
	mark "announce, the shipped line uncommented"
	sed -i -e 's/^#\(announce = vsock:\)host:/\11:/' -e "s/^\(listen = vsock:any:\)$port\$/\1$gport/" "$gconf"
	echo "  $(grep -E '^(announce|listen) = ' "$gconf" | tr '\n' ' ')"
	check "shipped guest config: announce to the host's port $port" grep -qx "announce = vsock:1:$port" "$gconf"
	check "$gsvc start, announce = vsock:1:$port" systemctl start $gsvc
	# The guest's first outcome: announced, refused, or cannot connect.
	for ((n = 0; n < 50; n++)); do
		journalctl --sync 2>/dev/null
		log=$(journalctl --no-pager -o cat -u $gsvc | grep -i announc)
		[ -n "$log" ] && break
		sleep 0.2 # poll interval
	done
	echo "  $gsvc: ${log//$'\n'/ | }"
	check "$gsvc logged the host's OK" grep -Eq "^announced to vsock:(1|local):$port: OK cid=1( |$)" <<<"$log"
	out=$(cli_guests)
	echo "  udo-vsock -v vsock:local:$port guests -> ${out//$'\n'/ | }"
	bid=$(tr -d '-' </proc/sys/kernel/random/boot_id)
	mid=$(cat /etc/machine-id)
	host=$(hostname)
	check "the host records CID 1's boot id ($bid)" grep -Eq "^cid=1 .* boot_id=$bid( |$)" <<<"$out"
	check "the host records CID 1's machine id ($mid)" grep -Eq "^cid=1 .* machine_id=$mid( |$)" <<<"$out"
	if [ -n "$host" ] && [ "$host" != "(none)" ]; then
		check "the host records CID 1's name ($host)" grep -Eq "^cid=1 .* announced_name=$host( |$)" <<<"$out"
	fi
	check "$gsvc stop" systemctl stop $gsvc
	check "udo-vsockd.service stop" systemctl stop udo-vsockd.service
}

# The opt-in guest admin unit as installed (udo-vsockd-guest-admin,
# guest-admin.conf), up to POWEROFF (admin_poweroff): its static user from
# sysusers.d (created as the package's postinst does), exactly
# CAP_SYS_ADMIN and CAP_SYS_TIME, SETTIME moving this guest's clock, and
# FREEZE reaching FIFREEZE with the capability (on /run, a tmpfs, which
# cannot be frozen: EOPNOTSUPP, where a missing capability is EPERM). The
# configuration also lets CID 1 in, where the checks ask from.
guest_admin() {
	local unit=udo-vsockd-guest-admin.service aconf pid out t0 t1 inh n
	aconf=$(dirname "$conf")/guest-admin.conf
	check "guest-admin.conf installed" test -f "$aconf"
	check "systemd-sysusers creates udo-vsockd-admin" bash -c 'systemd-sysusers && id udo-vsockd-admin >/dev/null'
	sed -i -e 's/^allow = host$/allow = host local/' -e 's|^handler = freeze$|&\nfilesystems = /run|' "$aconf"
	check "$unit start" systemctl start $unit
	pid=$(prop $unit MainPID)
	echo "  main pid $pid: $(grep -E '^(Uid|CapEff|CapBnd|NoNewPrivs|Seccomp):' "/proc/$pid/status" | tr -s '\t\n' '  ')"
	check "$unit runs as udo-vsockd-admin" test "$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")" = "$(id -u udo-vsockd-admin)"
	# CAP_SYS_ADMIN (21) and CAP_SYS_TIME (25), nothing else.
	check "$unit has exactly CAP_SYS_ADMIN and CAP_SYS_TIME" \
		test "$(awk '/^CapEff:/ { print $2 }' "/proc/$pid/status")" = 0000000002200000
	check "$unit PING on 5001" pings 5001
	# An hour back, then forward to where it was: a forward jump could
	# pass a calendar timer's time and start its service. One socat, not
	# ask: bash's read -t miscounts when the clock jumps under it.
	t0=$(date +%s)
	out=$(echo "SETTIME $((t0 - 3600)).25" | timeout -k 1 10 socat -t 5 - VSOCK-CONNECT:1:5001)
	t1=$(date +%s)
	echo "  SETTIME $((t0 - 3600)).25 -> $out; the clock now reads $t1"
	check "$unit SETTIME answers OK" grep -q "^OK $((t0 - 3600)).250000000 step=-" <<<"$out"
	check "$unit SETTIME sets the guest's clock" test "$t1" -ge $((t0 - 3600)) -a "$t1" -le $((t0 - 3590))
	out=$(echo "SETTIME $((t1 + 3600))" | timeout -k 1 10 socat -t 5 - VSOCK-CONNECT:1:5001)
	echo "  SETTIME back -> $out"
	out=$(ask 5001 FREEZE)
	echo "  FREEZE of /run (tmpfs) -> $out"
	check "$unit FREEZE reaches FIFREEZE (EOPNOTSUPP, not EPERM)" \
		test "$out" = "ERR failed /run: this filesystem cannot be frozen"
	check "$unit FROZEN" grep -q '^OK frozen=0 ' <<<"$(ask 5001 FROZEN)"
	# A shutdown inhibitor holds against it: polkit grants the unit's user
	# no ignore-inhibit, so REBOOT is refused (and the guest stays up).
	systemd-inhibit --what=shutdown --mode=block --who=systemd_boot --why=test sleep 60 &
	inh=$!
	for ((n = 0; n < 50; n++)); do
		systemd-inhibit --list --no-pager 2>/dev/null | grep -q systemd_boot && break
		sleep 0.1 # poll interval
	done
	out=$(ask 5001 REBOOT)
	echo "  REBOOT with a shutdown inhibitor held -> $out"
	check "$unit REBOOT refused while an inhibitor blocks shutdown" grep -q '^ERR failed logind Reboot: ' <<<"$out"
	kill "$inh" 2>/dev/null
	wait "$inh" 2>/dev/null
}

# The last check: POWEROFF on the guest admin unit. The status goes to
# the results first (the harness goes down with the machine); the outside
# checks the console for systemd's power-off. Returns only on failure.
admin_poweroff() {
	local out n
	mark "POWEROFF"
	echo 0 >"$UDO_UML_RESULTS/rc.tmp" && sync && mv "$UDO_UML_RESULTS/rc.tmp" "$UDO_UML_RESULTS/rc" && sync
	out=$(ask 5001 POWEROFF)
	echo "  POWEROFF -> $out"
	if [ "$out" = "OK poweroff" ]; then
		echo "ok: POWEROFF answers OK poweroff; waiting for the machine to go down"
		for ((n = 0; n < 300; n++)); do
			sleep 0.1 # the machine goes down under us
		done
		echo "FAIL: the machine is still up 30 s after POWEROFF"
	else
		echo "FAIL: POWEROFF answers OK poweroff"
		journalctl --no-pager -o short-monotonic -u udo-vsockd-guest-admin -u systemd-logind -u polkit | tail -n 20
	fi
	echo 1 >"$UDO_UML_RESULTS/rc.tmp" && sync && mv "$UDO_UML_RESULTS/rc.tmp" "$UDO_UML_RESULTS/rc" && sync
	return 1
}

# Exit status of "$@" is STATUS (a check's command).
exits() {
	local want=$1
	shift
	"$@" >/dev/null 2>&1
	[ "$?" = "$want" ]
}

# files as shipped: the host's inbox and the guest's share with their
# commented-out lines uncommented (CONF, GCONF), under the hardened units,
# driven by udo-vsock put/get as a person types them. In one machine the
# guest leaving a report in the host's inbox is CID 1, and so is the host
# reaching the guest's share: that share's "allow = host" becomes "allow =
# local", the one word changed (and the guest keeps the port of its own
# that guest_announce_shipped gave it).
files_shipped() {
	local conf=$1 gconf=$2 gsvc=udo-vsockd@guest.service gport=$((port + 2)) src=/run/udo-files.src
	local got=/run/udo-files.got svc=udo-vsockd.service out
	mark "files, the shipped lines uncommented"
	sed -i '/^#\[command inbox\]$/,/^$/ s/^#//' "$conf"
	sed -i -e '/^#\[command files\]$/,/^$/ s/^#//' -e "s/^\(listen = vsock:any:\)$port\$/\1$gport/" "$gconf"
	sed -i '/^\[command files\]$/,/^$/ s/^allow = host$/allow = local/' "$gconf"
	echo "  host: $(sed -n '/^\[command inbox\]$/,/^$/p' "$conf" | tr '\n' ' ')"
	echo "  guest: $(sed -n '/^\[command files\]$/,/^$/p' "$gconf" | tr '\n' ' ')"
	head -c 3000000 /dev/urandom >"$src"
	check "$svc start with [command inbox]" systemctl restart $svc
	out=$(udo-vsock -v "vsock:local:$port" put "$src" inbox:report.bin 2>&1)
	check "udo-vsock put into the host's inbox: ${out//$'\n'/ | }" grep -q '^udo-vsock: OK sha256=' <<<"$out"
	check "the report is in /var/lib/udo-vsockd/inbox/cid-1, whole" cmp "$src" /var/lib/udo-vsockd/inbox/cid-1/report.bin
	check "the inbox is write-only: get is ERR (exit 1)" exits 1 udo-vsock "vsock:local:$port" get inbox:report.bin "$got"
	check "$gsvc start with [command files]" systemctl restart $gsvc
	out=$(udo-vsock -v "vsock:local:$gport" put "$src" app.bin 2>&1)
	check "udo-vsock put into the guest's share: ${out//$'\n'/ | }" grep -q '^udo-vsock: OK sha256=' <<<"$out"
	check "udo-vsock get it back" udo-vsock "vsock:local:$gport" get app.bin "$got"
	check "the same bytes came back" cmp "$src" "$got"
	check "the file is in /var/lib/udo-vsockd-guest/share" cmp "$src" /var/lib/udo-vsockd-guest/share/app.bin
	check "the share refuses .. (ERR, exit 1)" exits 1 udo-vsock "vsock:local:$gport" get ../../../etc/machine-id "$got"
	rm -f "$src" "$got"
	check "$gsvc stop" systemctl stop $gsvc
	check "$svc stop" systemctl stop $svc
}

# Jobs as shipped: the guest's commented-out run-job and job commands
# uncommented (GCONF), its program named (seq, with the client's count),
# under the hardened guest unit, driven by udo-vsock as a person types it:
# start a job, leave, ATTACH from a new connection (its output and exit
# status), JOB, then gone with the unit's stop. CID 1 is the host here, as
# in files_shipped ("allow = host" becomes "allow = local").
jobs_shipped() {
	local gconf=$1 gsvc=udo-vsockd@guest.service gport=$((port + 2)) out id
	mark "jobs, the shipped lines uncommented"
	sed -i -e '/^#\[command run-job\]$/,/^$/ s/^#//' "$gconf"
	sed -i -e '/^\[command run-job\]$/,/^$/ s|^path = .*|path = /usr/bin/seq|' \
		-e '/^\[command run-job\]$/,/^$/ s/^allow = host$/allow = local/' "$gconf"
	echo "  guest: $(sed -n '/^\[command run-job\]$/,/^$/p' "$gconf" | tr '\n' ' ')"
	check "$gsvc start with [command run-job]" systemctl restart $gsvc
	out=$(udo-vsock "vsock:local:$gport" run-job 3 2>&1)
	check "udo-vsock run-job 3 answers job=N: $out" grep -Eq '^job=[0-9]+$' <<<"$out"
	id=${out#job=}
	out=$(udo-vsock "vsock:local:$gport" attach "$id" 2>&1)
	check "udo-vsock attach $id: the job's output, exit 0: ${out//$'\n'/ | }" test "$out" = $'1\n2\n3'
	out=$(udo-vsock "vsock:local:$gport" job "$id" 2>&1)
	check "udo-vsock job $id: exited, exit=0: $out" grep -q "^id=$id command=run-job state=exited .* exit=0 " <<<"$out"
	out=$(udo-vsock "vsock:local:$gport" jobs 2>&1)
	check "udo-vsock jobs lists it: ${out//$'\n'/ | }" grep -q "^id=$id " <<<"$out"
	check "$gsvc stop" systemctl stop $gsvc
}

# Inside: the checks.
inside() {
	local svc=udo-vsockd.service sock=udo-vsockd.socket conf gconf t0 t1 secs pid out wd1 wd2 n1 f0 rc hold_pid hold_fd hook
	conf=$(systemctl cat "$svc" | sed -n 's/^ExecStart=.* -c *\([^ ]*\).*/\1/p')
	# The installed udo-vsock, as a person types it: the bin directory
	# beside the unit's sbin (a staged prefix in make check and
	# distcheck, /usr in the packages), first on PATH.
	PATH=$(dirname "$(dirname "$(systemctl cat "$svc" | sed -n 's/^ExecStart=\([^ ]*\) .*/\1/p' | head -n 1)")")/bin:$PATH
	echo "guest: udo-vsock is $(command -v udo-vsock)"
	echo "guest: $(uname -r), $(systemctl --version | head -n 1), config $conf"
	echo "guest: up $(cut -d ' ' -f 1 /proc/uptime) s at test start; $(systemd-analyze time 2>/dev/null | head -n 1)"
	# /dev/vsock is 0666 on a system with udev (50-udev-default.rules); this
	# guest runs no udev, so the kernel's 0600 is set as udev would.
	[ -c /dev/vsock ] && chmod 0666 /dev/vsock

	# What we ship, as we ship it: both units with their installed
	# configurations (guest.conf includes guest.d, as shipped), every
	# command answering from CID 1. Then the test configurations.
	mark "the shipped units"
	shipped_commands $svc $port
	shipped_commands udo-vsockd@guest.service $port
	audit_journal
	guest_notify_shipped "$conf"
	guest_announce_shipped "$(dirname "$conf")/guest.conf"
	files_shipped "$conf" "$(dirname "$conf")/guest.conf"
	jobs_shipped "$(dirname "$conf")/guest.conf"
	mark "the test configurations"
	cp "$conf.test" "$conf"
	cp "$(dirname "$conf")/guest.conf.test" "$(dirname "$conf")/guest.conf"

	# Standalone: systemctl start returns on READY=1, the listener must be up.
	f0=$fails
	t0=$(now_ms)
	check "standalone start (Type=$(prop $svc Type))" systemctl start $svc
	t1=$(now_ms)
	out=$(ask $port PING)
	echo "  start took $((t1 - t0)) ms; first PING right after: '$out'"
	check "listening as soon as active (READY=1 after listeners)" test "$out" = "OK pong"
	audit_journal_named
	check "active" test "$(prop $svc ActiveState)" = active
	if [ $fails -gt "$f0" ]; then
		echo "== the daemon does not start; stopping here. Journal:"
		journalctl --no-pager -o short-monotonic -u 'udo-vsockd*' | tail -n 40
		return 1
	fi
	echo "  status: '$(prop $svc StatusText)'"
	check "STATUS= sent" test -n "$(prop $svc StatusText)"
	pid=$(prop $svc MainPID)
	echo "  main pid $pid: $(grep -E '^(Uid|CapEff|NoNewPrivs|Seccomp):' "/proc/$pid/status" | tr -s '\t\n' '  ')"
	check "runs unprivileged (DynamicUser)" test "$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")" != 0
	check "PrivateNetwork=yes, yet vsock works (not namespaced)" test "$(prop $svc PrivateNetwork)" = yes
	check "PrivateDevices=yes (only /dev/vsock bound in, for the CID)" test "$(prop $svc PrivateDevices)" = yes
	# Each command of the hardened unit answers OK.
	for c in PING HELP VERSION WHOAMI STATS TIME; do
		out=$(ask $port "$c")
		echo "  $c -> ${out//$'\n'/ | }"
		check "$c answers OK" grep -q '^OK' <<<"$out"
	done
	# TIME's format and clock; the unit's ProtectClock= and system call
	# filter deny even the read-only adjtimex(2): no sync word then.
	t0=$(date +%s)
	out=$(ask $port TIME)
	t1=$(date +%s)
	check "TIME is 'OK SECONDS.NANOS RFC3339-UTC [SYNC]'" grep -Eq \
		'^OK [0-9]+\.[0-9]{9} [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z( synced| unsynced)?$' <<<"$out"
	secs=$(awk '{ print int($2) }' <<<"$out")
	check "TIME within a second of the guest's clock" test "${secs:-0}" -ge $((t0 - 1)) -a "${secs:-0}" -le $((t1 + 1))
	if grep -Eq '^Seccomp:[[:space:]]+2' "/proc/$pid/status"; then
		check "TIME under the seccomp filter: no sync word" grep -Eq 'Z$' <<<"$out"
	fi

	# Clean, quick stop: measured by systemd ("Stopping" to "Stopped" in the
	# journal), so a loaded host's systemctl start-up does not count.
	t0=$(now_ms)
	check "stop" systemctl stop $svc
	t1=$(now_ms)
	n1=$(stop_ms $svc)
	echo "  stop took $n1 ms in systemd, $((t1 - t0)) ms for systemctl stop"
	check "stop under 2 s" test "$n1" -ge 0 -a "$n1" -lt 2000
	check "stopped cleanly (Result=$(prop $svc Result))" test "$(prop $svc Result)" = success

	mark "socket activation, reload"
	# Socket activation on the first connection.
	check "socket start" systemctl start $sock
	echo "  listening on: $(prop $sock Listen); kernel: $(ss -H -l --vsock 2>/dev/null | awk '{ print $5 }' | tr '\n' ' ')"
	check "socket bound to any CID, port $port" bash -c "ss -H -l --vsock | awk '{ print \$5 }' | grep -qx '\*:$port'"
	check "service not running before a connection" test "$(prop $svc ActiveState)" = inactive
	t0=$(now_ms)
	out=$(ask $port PING)
	t1=$(now_ms)
	echo "  first PING via activation: '$out' in $((t1 - t0)) ms"
	check "socket-activated PING" test "$out" = "OK pong"
	check "service active after the connection" test "$(prop $svc ActiveState)" = active
	check "PING again" pings $port

	# Reload with a new command: visible in HELP, same process.
	pid=$(prop $svc MainPID)
	check "HELP lacks 'hello' before reload" bash -c "! grep -qi hello <<<\"\$1\"" _ "$(ask $port HELP)"
	cp "$conf" "$conf.good"
	printf '\n[command hello]\nhandler = ping\n' >>"$conf"
	t0=$(now_ms)
	check "reload" systemctl reload $svc
	t1=$(now_ms)
	out=$(ask $port HELP)
	echo "  reload took $((t1 - t0)) ms; HELP -> ${out//$'\n'/ | }"
	check "HELP lists 'hello' after reload" grep -qi hello <<<"$out"
	check "new command answers" test "$(ask $port HELLO)" = "OK pong"
	check "same main pid after reload" test "$(prop $svc MainPID)" = "$pid"

	# Reload with a broken file keeps the old configuration.
	cp "$conf" "$conf.reloaded"
	printf '[daemon\nlisten = nowhere:at:all\n[command\n' >"$conf"
	systemctl reload $svc
	rc=$?
	echo "  reload with a broken file: systemctl status $rc, state $(prop $svc ActiveState)"
	check "systemctl reload fails on a broken file" test "$rc" != 0
	check "still active after a broken reload" test "$(prop $svc ActiveState)" = active
	check "same main pid after a broken reload" test "$(prop $svc MainPID)" = "$pid"
	check "old config kept: PING" pings $port
	check "old config kept: HELP still lists 'hello'" grep -qi hello <<<"$(ask $port HELP)"
	cp "$conf.good" "$conf"

	mark "watchdog"
	# Watchdog: a short period, survived for well over two periods.
	mkdir -p /run/systemd/system/$svc.d
	printf '[Service]\nWatchdogSec=1s\n' >/run/systemd/system/$svc.d/50-test-watchdog.conf
	systemctl daemon-reload
	check "restart with WatchdogSec=1s" systemctl restart $svc
	pid=$(prop $svc MainPID)
	n1=$(prop $svc NRestarts)
	wd1=$(prop $svc WatchdogTimestampMonotonic)
	sleep 2.6 # a measurement: the unit survives 2.6 watchdog periods
	wd2=$(prop $svc WatchdogTimestampMonotonic)
	echo "  WatchdogUSec=$(prop $svc WatchdogUSec); WatchdogTimestampMonotonic $wd1 -> $wd2 over 2.6 s"
	check "watchdog pings (timestamp moved)" test "$wd1" != "$wd2"
	check "alive after 2.6 periods (same pid, no restart)" \
		test "$(prop $svc MainPID)" = "$pid" -a "$(prop $svc NRestarts)" = "$n1" -a "$(prop $svc ActiveState)" = active
	check "PING with the watchdog on" pings $port
	rm -r /run/systemd/system/$svc.d
	systemctl daemon-reload
	systemctl stop $sock $svc

	mark "the template"
	# The template: its own configuration file and port; one connection per
	# peer and a command CID 1 may not run, for the refused and denied events.
	gconf=$(dirname "$conf")/guest.conf
	sed -i 's/^\[daemon\]$/&\nmax-connections-per-peer = 1/' "$gconf"
	printf '\n[command secret]\nhandler = ping\nallow = 3\n' >>"$gconf"
	# CID 1's name from a peers-dir the example libvirt hook writes (root's,
	# under /run, outside the unit's RuntimeDirectory), not a [peer] section.
	sed -i -e '/^\[peer me\]$/,/^cid = 1$/d' -e 's|^\[daemon\]$|&\npeers-dir = /run/udo-vsock/peers|' "$gconf"
	hook=$(cd "$(dirname "$0")/.." && pwd)/examples/libvirt-qemu-hook
	libvirt_hook vm1 started 1
	check "udo-vsockd@guest start" systemctl start udo-vsockd@guest.service
	check "udo-vsockd@guest PING on $guest_port" pings $guest_port
	out=$(ask $guest_port WHOAMI)
	echo "  peers-dir $(ls -ld /run/udo-vsock/peers | cut -d ' ' -f 1,3): WHOAMI -> ${out//$'\n'/ | }"
	check "the hardened unit reads peers-dir: CID 1 is vm1" grep -qx 'D name=vm1' <<<"$out"
	libvirt_hook vm1 stopped 1
	libvirt_hook vm2 started 1
	for ((n1 = 0; n1 < 50; n1++)); do
		out=$(ask $guest_port WHOAMI)
		grep -qx 'D name=vm2' <<<"$out" && break
		sleep 0.1 # poll interval
	done
	check "peers-dir followed without a reload: CID 1 is vm2" grep -qx 'D name=vm2' <<<"$out"
	echo "  udo-vsockd@guest: $(prop udo-vsockd@guest.service ExecStart | grep -o 'argv\[\]=[^;]*')"
	out=$(ask $guest_port SECRET)
	echo "  SECRET from CID 1 -> $out"
	check "udo-vsockd@guest denies SECRET to CID 1" grep -q '^ERR denied' <<<"$out"
	# One connection held open (answered), then a second, which only reads.
	mkfifo /run/udo-hold
	timeout -k 1 20 socat - "VSOCK-CONNECT:1:$guest_port" </run/udo-hold >/run/udo-hold.out 2>/dev/null &
	hold_pid=$!
	exec {hold_fd}>/run/udo-hold
	printf 'PING\n' >&$hold_fd
	for ((n1 = 0; n1 < 50; n1++)); do
		grep -q pong /run/udo-hold.out && break
		sleep 0.1 # poll interval
	done
	out=$(head -n 1 /run/udo-hold.out)/$(timeout -k 1 5 socat -u "VSOCK-CONNECT:1:$guest_port" - 2>/dev/null | head -n 1)
	echo "  a connection held, then another: $out"
	check "udo-vsockd@guest refuses a second connection of CID 1" grep -q '^OK pong/ERR busy' <<<"$out"
	exec {hold_fd}>&-
	kill "$hold_pid" 2>/dev/null
	wait "$hold_pid" 2>/dev/null
	t0=$(now_ms)
	check "udo-vsockd@guest stop" systemctl stop udo-vsockd@guest.service
	t1=$(now_ms)
	echo "  stop took $(stop_ms udo-vsockd@guest.service) ms in systemd, $((t1 - t0)) ms for systemctl stop"
	# --no-reload: only the links matter here, and a daemon-reload is slow.
	check "systemctl enable udo-vsockd@.service (DefaultInstance=)" systemctl enable --no-reload udo-vsockd@.service
	check "enabled as udo-vsockd@guest" test "$(systemctl is-enabled udo-vsockd@guest.service)" = enabled
	systemctl disable --no-reload udo-vsockd@.service

	mark "the journal"
	journal_fields
	mark "the guest admin unit"
	guest_admin
	mark "done"

	if [ $fails -gt 0 ]; then
		echo "== $fails check(s) failed; journal:"
		journalctl --no-pager -o short-monotonic -u 'udo-vsockd*' | tail -n 40
		return 1
	fi
	echo "== all checks passed"
}

if [ -n "${UDO_IN_UML_SYSTEMD:-}" ]; then
	builddir=${1:-$PWD} # the build tree, for tests/vmm-notify-send
	inside || exit 1
	admin_poweroff
else
	outside
fi
