#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# daemon_unix.sh - the daemon tests whose subject is the daemon's logic
# (protocol, handlers, reload, faults, hostile input, load) again, with
# the daemon on unix sockets instead of vsock (UDO_TEST_TRANSPORT=unix),
# on this kernel. That puts the daemon under ASan in the ASan build,
# which cannot run inside user-mode Linux, and runs the 1,000-connection
# slowloris without user-mode Linux's vsock in the way. Cases that need
# AF_VSOCK itself say so and leave it to the vsock run.
set -u
builddir=${UDO_TEST_BUILDDIR:-$(pwd)}
export UDO_TEST_TRANSPORT=unix
status=0
for t in vsock_daemon vsock_acl vsock_exec vsock_session vsock_jobs vsock_modules vsock_handoff vsock_faults vsock_hostile; do
	echo "== $t over unix sockets"
	"$builddir/tests/$t" || { echo "FAIL: $t over unix sockets"; status=1; }
done
exit $status
