#!/bin/bash
# check_man.sh - every man page renders without a single groff warning.
set -u
srcdir=${UDO_TEST_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
status=0
count=0
for page in "$srcdir"/doc/*.[1-8]; do
	count=$((count + 1))
	out=$(LC_ALL=C.UTF-8 groff -ww -man -z "$page" 2>&1)
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
