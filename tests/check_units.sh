#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# check_units.sh - the generated systemd units are valid and sandboxed:
# `systemd-analyze verify` is clean for each, and the offline security
# exposure of each service is at most UDO_MAX_EXPOSURE (2.0), and of the
# opt-in guest admin unit (CAP_SYS_ADMIN, CAP_SYS_TIME, a static user for
# D-Bus) at most UDO_MAX_EXPOSURE_ADMIN (1.6, as documented). Also the
# daemon's -h/--help and -V/--version.
set -euo pipefail

builddir=${UDO_TEST_BUILDDIR:-$PWD}
srcdir=${UDO_TEST_SRCDIR:-$builddir}
max=${UDO_MAX_EXPOSURE:-2.0}
max_admin=${UDO_MAX_EXPOSURE_ADMIN:-1.6}

command -v systemd-analyze >/dev/null || { echo "check_units: SKIP: no systemd-analyze"; exit 77; }

work=$(mktemp -d "${TMPDIR:-/tmp}/check_units.XXXXXX")
trap 'rm -rf "$work"' EXIT

# verify needs ExecStart= and ExecReload= to exist: point only their
# daemon path at the built daemon, everything else is the generated unit
# as installed.
daemon=$builddir/src/udo-vsockd/udo-vsockd
[ -x "$daemon" ] || { echo "check_units: $daemon was not built" >&2; exit 99; }
for u in udo-vsockd.service udo-vsockd@.service udo-vsockd-guest-admin.service; do
	sed -E "s|^(ExecStart\|ExecReload)=[^ ]*/udo-vsockd |\1=$daemon |" "$builddir/systemd/$u" >"$work/$u"
done
cp "$srcdir/systemd/udo-vsockd.socket" "$work/"

fail=0
# Prints systemd-analyze verify's complaints about one unit; fails on any.
verify_unit() {
	local out
	out=$(cd "$work" && systemd-analyze verify --man=no "$1" 2>&1) || true
	if [ -n "$out" ]; then
		echo "FAIL: systemd-analyze verify $1:"
		printf '%s\n' "$out" | sed 's/^/  /'
		fail=1
	else
		echo "ok: systemd-analyze verify $1"
	fi
}

# Prints the offline exposure score of one service; fails above $2
# (default $max).
check_exposure() {
	local out score max=${2:-$max}
	out=$(cd "$work" && systemd-analyze security --offline=true --no-pager "$1" 2>&1) || true
	score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
	if [ -z "$score" ]; then
		echo "FAIL: no exposure score for $1:"
		printf '%s\n' "$out" | tail -n 20 | sed 's/^/  /'
		fail=1
	elif awk -v s="$score" -v m="$max" 'BEGIN { exit !(s > m) }'; then
		echo "FAIL: $1 exposure $score > $max; the weak spots:"
		printf '%s\n' "$out" | grep '✗' | sed 's/^/  /'
		fail=1
	else
		echo "ok: $1 exposure $score (<= $max)"
	fi
}

for u in udo-vsockd.service udo-vsockd.socket udo-vsockd@.service udo-vsockd-guest-admin.service; do
	verify_unit "$u"
done

# The daemon the units run: the long options besides -h and -V.
# Checks that "udo-vsockd ARGS" exits 0 and prints text matching RE.
check_option() {
	local re=$1 out rc=0
	shift
	out=$("$daemon" "$@" 2>&1) || rc=$?
	if [ "$rc" = 0 ] && grep -qE "$re" <<<"$out"; then
		echo "ok: udo-vsockd $*"
	else
		echo "FAIL: udo-vsockd $*: status $rc, output: $out"
		fail=1
	fi
}
version=$("$daemon" -V)
check_option '^Usage: udo-vsockd ' -h
check_option '^Usage: udo-vsockd ' --help
check_option "^$version\$" --version
check_option '^udo-vsockd [0-9]' -V
if "$daemon" --no-such-option >/dev/null 2>&1; then
	echo "FAIL: udo-vsockd --no-such-option exits 0"
	fail=1
else
	echo "ok: udo-vsockd --no-such-option fails"
fi
check_exposure udo-vsockd.service
check_exposure udo-vsockd@.service
check_exposure udo-vsockd-guest-admin.service "$max_admin"
exit $fail
