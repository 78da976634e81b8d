#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# check_spdx.sh - every source file, script, unit, config, man page and
# document of the project names its license in an SPDX line near its top.
# Data files (the fuzz corpora, images) are covered by LICENSE alone, and
# debian/changelog and debian/source/format (formats with no comments) by
# debian/copyright.
set -u
srcdir=${UDO_TEST_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$srcdir" || exit 99
# A git checkout (a worktree's .git is a file) lists what it tracks; a
# release tarball unpacked inside one (distcheck) is not its top level.
if command -v git >/dev/null && [ "$(git rev-parse --show-toplevel 2>/dev/null)" = "$(pwd -P)" ]; then
	list() { git ls-files; }
else
	# A release tarball: every file in it, less what configure and
	# automake generate and distcheck's build and install trees in it.
	list() {
		find . -type f ! -path './build*' ! -path './_build/*' ! -path './_inst/*' ! -path './autom4te.cache/*' \
			! -path './build-aux/*' ! -path './m4/*' \
			! -name 'Makefile.in' ! -name configure ! -name aclocal.m4 ! -name 'config.h.in' | sed 's|^\./||'
	}
fi
status=0
count=0
while IFS= read -r f; do
	case "$f" in
	LICENSE | tests/fuzz/corpus/* | *.png | */.keep | debian/changelog | debian/source/format) continue ;;
	esac
	[ -f "$f" ] || continue
	count=$((count + 1))
	if ! head -n 5 "$f" | grep -q 'SPDX-License-Identifier: LGPL-2.1-or-later'; then
		echo "FAIL: $f has no SPDX-License-Identifier line in its first 5 lines"
		status=1
	fi
done < <(list)
[ "$count" -gt 0 ] || { echo "no files found under $srcdir"; exit 99; }
echo "$count files checked"
exit $status
