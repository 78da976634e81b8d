#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# check_man.sh - every man page renders without a single groff warning.
# Link pages (".so man3/udo_vsock_tcp.3") are rendered through the page
# they name: groff runs in a scratch directory whose man1..man8 point at
# doc/, so a .so to a missing page fails like any other warning.
set -u
srcdir=${UDO_TEST_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
status=0
count=0
scratch=$(mktemp -d) || exit 99
trap 'rm -rf "$scratch"' EXIT
for section in 1 2 3 4 5 6 7 8; do
	ln -s "$srcdir/doc" "$scratch/man$section"
done
for page in "$srcdir"/doc/*.[1-8]; do
	count=$((count + 1))
	out=$(cd "$scratch" && LC_ALL=C.UTF-8 groff -ww -man -z "$page" 2>&1)
	if [ -n "$out" ]; then
		echo "FAIL: $page"
		echo "$out"
		status=1
	else
		echo "ok: $(basename "$page")"
	fi
done
[ "$count" -gt 0 ] || { echo "no man pages found under $srcdir/doc"; exit 1; }
exit $status
