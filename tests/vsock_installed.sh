#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vsock_installed.sh - "make install" into a staging root, then build a
# program against only the installed headers and pkg-config file, and
# run it: it must connect over AF_VSOCK CID 1.
set -eu
builddir=${UDO_TEST_BUILDDIR:?}
srcdir=${UDO_TEST_SRCDIR:?}
stage=$(mktemp -d "${TMPDIR:-/tmp}/udo-install.XXXXXX")
trap 'rm -rf "$stage"' EXIT

make -s -C "$builddir" install DESTDIR="$stage" >"$stage/install.log" 2>&1 || { cat "$stage/install.log"; exit 1; }
prefix=$(sed -n 's/^prefix=//p' "$builddir/lib/udo-vsock.pc")
pcdir=$(dirname "$(find "$stage" -name udo-vsock.pc | head -n 1)")
[ -n "$pcdir" ] || { echo "udo-vsock.pc was not installed"; exit 1; }
for h in log.h vsock-tcp.h vsock-addr.h vsock-fdpass.h vsockd-module.h; do
	[ -f "$stage$prefix/include/udo/$h" ] || { echo "missing installed header udo/$h"; exit 1; }
done
export PKG_CONFIG_PATH=$pcdir PKG_CONFIG_SYSROOT_DIR=$stage
flags=$(pkg-config --cflags --libs udo-vsock)
echo "pkg-config --cflags --libs udo-vsock: $flags"
# A sanitizer build installs an instrumented library: build the client alike.
# shellcheck disable=SC2086
cc -std=gnu11 -Wall -Wextra -Werror ${UDO_TEST_SANITIZER_CFLAGS:-} -o "$stage/installed-client" "$srcdir/tests/installed-client.c" $flags
# The library directory as pkg-config gives it (sysroot included).
libdir=$(pkg-config --libs-only-L udo-vsock | sed 's/^ *-L//; s/ *$//')
LD_LIBRARY_PATH=$libdir "$stage/installed-client"
