#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# memcheck-logs.sh BUILDDIR - after the daemon tests ran with udo-vsockd
# under tests/valgrind-vsockd: fails, printing them, if any daemon's log
# reports a memcheck error or a lost block, or if no daemon ran at all.
# Not a test of its own: scripts/test --ci runs it.
set -u
logdir=${1:?}/tests/memcheck
shopt -s nullglob
logs=("$logdir"/udo-vsockd.*.log)
if ((${#logs[@]} == 0)); then
	echo "memcheck: no daemon ran under valgrind (no logs in $logdir)"
	exit 1
fi
bad=0
for f in "${logs[@]}"; do
	# -q leaves only errors and leaks, plus valgrind's notice that it
	# does not know the ioctl that reads the local CID
	# (IOCTL_VM_SOCKETS_GET_LOCAL_CID, 0x7b9).
	if grep -v -E 'unhandled ioctl 0x7b9 with no size/direction hints|could cause spurious value errors|README_MISSING_SYSCALL_OR_IOCTL|^==[0-9]+== *$' "$f" | grep -q .; then
		echo "==== $f"
		head -n 60 "$f"
		bad=$((bad + 1))
	fi
done
echo "memcheck: ${#logs[@]} daemons ran under valgrind memcheck; $bad reported errors or leaks"
((bad == 0))
