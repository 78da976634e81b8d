#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# check_layers.sh - the daemon's modules (src/udo-vsockd/NAME.[ch], with
# kinds/ as one module) include each other without a cycle: each layer
# knows only the ones below it, and an answer reaches the connection
# through request_ops, not an include. Prints the loop when there is one.
set -u
srcdir=${UDO_TEST_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$srcdir/src/udo-vsockd" || exit 99

# Prints "FROM TO" for each module FROM including module TO's header
# (config.h, made by configure, is not a module).
edges() {
	local f from to
	for f in *.c *.h kinds/*.c; do
		from=${f##*/}
		from=${from%.*}
		case $f in kinds/*) from=kinds ;; esac
		sed -n 's|^#include "\(\.\./\)\{0,1\}\([a-z-]*\)\.h"$|\2|p' "$f" | while read -r to; do
			[ "$to" = "$from" ] || [ "$to" = config ] || echo "$from $to"
		done
	done | sort -u
}

deps=$(edges)
n=$(wc -l <<<"$deps")
# Sanity: the scan found the layers it is meant to judge.
for want in "conn dispatch" "dispatch request" "kinds request" "resolve conf"; do
	grep -qx "$want" <<<"$deps" || {
		echo "check_layers: expected the include '$want' (did a file move?)"
		exit 1
	}
done
if ! loop=$(tsort <<<"$deps" 2>&1 >/dev/null) || [ -n "$loop" ]; then
	echo "check_layers: the daemon's modules include each other in a loop (the first one tsort found):"
	awk '/contains a loop/ { if (++n > 1) exit; next } { sub(/^tsort: /, "  "); print }' <<<"$loop"
	exit 1
fi
echo "check_layers: $n includes between the daemon's modules, no loop"
