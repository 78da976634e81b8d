#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# check_symbols.sh - libudo-vsock exports exactly what lib/libudo-vsock.sym
# names, each at version UDO_VSOCK_0: no internal helper leaks, no listed
# symbol is missing. The same list must match every function the installed
# headers declare and debian/libudo-vsock0.symbols (checked at -c4 only
# when the package is built).
set -u
srcdir=${UDO_TEST_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${UDO_TEST_BUILDDIR:-$srcdir/build}
lib=$builddir/lib/.libs/libudo-vsock.so.0
sym=$srcdir/lib/libudo-vsock.sym
version=UDO_VSOCK_0
command -v nm >/dev/null || { echo "SKIP: no nm"; exit 77; }
[ -e "$lib" ] || { echo "SKIP: no shared library at $lib (--disable-shared?)"; exit 77; }
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
status=0

# The script's global names: the lines between "global:" and "local:".
sed -n '/^global:/,/^local:/{s/^[[:space:]]*\([A-Za-z_][A-Za-z0-9_]*\);.*/\1/p}' "$sym" | sort >"$tmp/script"
[ -s "$tmp/script" ] || { echo "no symbol found in $sym"; exit 99; }

# Defined dynamic symbols, without the version node's own absolute symbol.
nm -D --defined-only "$lib" | awk -v v="$version" '$3 != v { print $3 }' | sort >"$tmp/exported" || exit 99
if grep -v "@@$version\$" "$tmp/exported" >"$tmp/unversioned"; then
	echo "exported without version $version (not in $sym?):"
	sed 's/^/  /' "$tmp/unversioned"
	status=1
fi
sed 's/@.*//' "$tmp/exported" | sort >"$tmp/names"
if ! diff -u --label "$sym" --label "exported by $lib" "$tmp/script" "$tmp/names"; then
	echo "the library exports a symbol the version script does not name (+), or misses one (-)"
	status=1
fi

# Every function declared in an installed header (a declaration begins at
# column 0; comments and continuation lines do not) is exported, and
# nothing the script names is undeclared.
for h in "$srcdir"/lib/udo/*.h; do
	grep -E '^[a-z]' "$h" | grep -oE '\budo_[a-z0-9_]+\(' | tr -d '('
done | sort -u >"$tmp/declared"
if ! diff -u --label "$sym" --label "declared in lib/udo/*.h" "$tmp/script" "$tmp/declared"; then
	echo "the version script and the installed headers disagree"
	status=1
fi

# The Debian symbols file lists the same names at the same version, plus
# the version node itself.
deb=$srcdir/debian/libudo-vsock0.symbols
if [ -f "$deb" ]; then
	{ echo "$version@$version"; sed "s/\$/@$version/" "$tmp/script"; } | sort >"$tmp/want"
	awk '/^ [A-Za-z_]/ { print $1 }' "$deb" | sort >"$tmp/deb"
	if ! diff -u --label "from $sym" --label "$deb" "$tmp/want" "$tmp/deb"; then
		echo "debian/libudo-vsock0.symbols does not match the version script"
		status=1
	fi
fi
[ "$status" = 0 ] && echo "ok: $(wc -l <"$tmp/script") symbols, all at $version"
exit "$status"
