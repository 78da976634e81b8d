#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# check_format.sh - every C file of the project is as .clang-format says.
# The style is pinned to Debian 12's clang-format 14 (scripts/deps installs
# it); other major versions format some constructs differently, so with
# one of those the check is skipped rather than failed.
set -u
srcdir=${UDO_TEST_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
command -v clang-format >/dev/null || { echo "clang-format is not installed (scripts/deps installs it)"; exit 99; }
version=$(clang-format --version | sed -n 's/.*version \([0-9]*\)\..*/\1/p')
[ "$version" = 14 ] || { echo "clang-format $version, not 14: the style is pinned to 14"; exit 77; }
[ -f "$srcdir/.clang-format" ] || { echo "no $srcdir/.clang-format"; exit 99; }
status=0
count=0
while IFS= read -r -d '' f; do
	count=$((count + 1))
	if ! out=$(cd "$srcdir" && clang-format --style=file --dry-run -Werror "$f" 2>&1); then
		echo "FAIL: $f (clang-format -i $f fixes it)"
		head -n 20 <<<"$out"
		status=1
	fi
done < <(cd "$srcdir" && find lib src modules tests examples bench -name '*.[ch]' -print0 | sort -z)
[ "$count" -gt 0 ] || { echo "no C files found under $srcdir"; exit 99; }
echo "$count files checked"
exit $status
