#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# lifecycle_uml.sh - runs tests/vsock_lifecycle (FREEZE/THAW/FROZEN on a
# real ext4, SETTIME) inside user-mode Linux with a disk image as its
# block device: makes a fresh ext4 image here with mkfs.ext4 (e2fsprogs),
# then tests/vsock-run boots UML with it (UDO_UML_UBD). Always in UML,
# even where this kernel has vsock loopback: the test freezes filesystems
# and sets the clock, which only a throw-away kernel may have done to it.
set -u
builddir=${UDO_TEST_BUILDDIR:-$PWD}
srcdir=${UDO_TEST_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}

# ASan cannot run inside user-mode Linux (scripts/test leaves the UML
# tests out of its ASan run for that reason); the plain and the UBSan
# builds run this test.
case "${UDO_TEST_SANITIZER_CFLAGS:-}" in
*address*)
	echo "lifecycle_uml: SKIP: an ASan build cannot run inside user-mode Linux"
	exit 77
	;;
esac
mkfs=$(PATH=$PATH:/sbin:/usr/sbin command -v mkfs.ext4 || true)
if [ -z "$mkfs" ]; then
	if [ "${UDO_VSOCK_REQUIRE:-0}" = 1 ]; then
		echo "lifecycle_uml: mkfs.ext4 (e2fsprogs) is not installed; UDO_VSOCK_REQUIRE=1 forbids skipping" >&2
		exit 99
	fi
	echo "lifecycle_uml: SKIP: mkfs.ext4 (e2fsprogs) is not installed" >&2
	exit 77
fi
mkdir -p "$builddir/tests/uml"
img=$(mktemp "$builddir/tests/uml/lifecycle-ext4.XXXXXX") || exit 99
trap 'rm -f "$img"' EXIT
# 32 MiB, sparse: what the test writes is a few 64 KiB files.
truncate -s 32M "$img" && "$mkfs" -q -F -E nodiscard "$img" || { echo "lifecycle_uml: mkfs.ext4 $img failed" >&2; exit 99; }
UDO_UML_UBD=$img "$srcdir/tests/vsock-run" "$builddir/tests/vsock_lifecycle"
