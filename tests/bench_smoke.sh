#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench_smoke.sh - bench/run --smoke: every benchmark workload runs,
# tiny, so the suite never rots. The benchmark itself is not a test; this
# only checks that each workload measures something. It runs as the
# benchmark does: bench/run starts workloads 1-4 through tests/vsock-run
# (natively with vsock loopback, else inside user-mode Linux) and runs
# workload 5 (callgrind over AF_UNIX) here, on this kernel.
set -euo pipefail
srcdir=${UDO_TEST_SRCDIR:?}
builddir=${UDO_TEST_BUILDDIR:?}
export UDO_BENCH_BUILDDIR=$builddir UDO_BENCH_NO_BUILD=1
exec bash "$srcdir/bench/run" --smoke
