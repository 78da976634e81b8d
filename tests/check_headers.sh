#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# check_headers.sh - every header installed under udo/ compiles on its own
# (a generated .c that includes only it, -Wall -Wextra -Werror, as C and,
# when a C++ compiler is there, as C++), and makes usable every constant
# and enum it names, even in its comments: a header that documents
# "returns an enum udo_vsock_io_status" must bring that enum along.
set -u
srcdir=${UDO_TEST_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
cc=${CC:-cc}
cxx=${CXX:-c++}
command -v "$cc" >/dev/null || { echo "SKIP: no C compiler '$cc'"; exit 77; }
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
flags=(-Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes -I"$srcdir/lib" -c)
status=0
count=0
for h in "$srcdir"/lib/udo/*.h; do
	name=udo/${h##*/}
	c=$tmp/$(basename "$h" .h | tr -c 'a-z0-9\n' _).c
	{
		printf '#include <%s>\n' "$name"
		echo 'int udo_header_check(void);'
		echo 'int udo_header_check(void)'
		echo '{'
		echo '	int n = 0;'
		# Object-like UDO_ macros and enumerators (not the include guard,
		# not function-like macros), and the enums the text names.
		grep -oE '\bUDO_[A-Z0-9_]+\b' "$h" | sort -u | while read -r m; do
			case $m in *_H) continue ;; esac
			grep -qE "^#define $m\(" "$h" && continue
			printf '\tn += (int)sizeof(%s);\n' "$m"
		done
		grep -oE '\benum udo_[a-z0-9_]+' "$h" | sort -u | while read -r _ e; do
			printf '\tn += (int)sizeof(enum %s);\n' "$e"
		done
		echo '	return n;'
		echo '}'
	} >"$c"
	count=$((count + 1))
	if ! out=$("$cc" -std=gnu11 "${flags[@]}" -o "$tmp/o.o" "$c" 2>&1); then
		echo "FAIL: <$name> does not compile on its own (C):"
		echo "$out" | head -n 20
		status=1
	fi
	if command -v "$cxx" >/dev/null; then
		if ! out=$("$cxx" -x c++ -Wall -Wextra -Werror -I"$srcdir/lib" -c -o "$tmp/o.o" "$c" 2>&1); then
			echo "FAIL: <$name> does not compile on its own (C++):"
			echo "$out" | head -n 20
			status=1
		fi
	fi
done
[ "$count" -gt 0 ] || { echo "no header found under $srcdir/lib/udo"; exit 99; }
[ "$status" = 0 ] && echo "ok: $count headers compile on their own"
exit "$status"
