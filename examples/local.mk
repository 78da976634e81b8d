# SPDX-License-Identifier: LGPL-2.1-or-later
# examples: small programs built on libudo-vsock, also used by the tests.
noinst_PROGRAMS += examples/handoff-echo
examples_handoff_echo_SOURCES = examples/handoff-echo.c
examples_handoff_echo_LDADD = lib/libudo-vsock.la
# A libvirt qemu hook that names VMs for udo-vsockd's peers-dir.
EXTRA_DIST += examples/libvirt-qemu-hook
