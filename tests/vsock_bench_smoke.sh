#!/bin/bash
# vsock_bench_smoke.sh - bench/run --smoke: every benchmark workload runs,
# tiny, so the suite never rots. The benchmark itself is not a test; this
# only checks that each workload measures something. It needs AF_VSOCK,
# so tests/vsock-run runs it where vsock works (inside user-mode Linux
# when this kernel lacks loopback); bench/run then runs its workloads
# directly.
set -euo pipefail
srcdir=${UDO_TEST_SRCDIR:?}
builddir=${UDO_TEST_BUILDDIR:?}
export UDO_BENCH_BUILDDIR=$builddir UDO_BENCH_NO_BUILD=1
exec bash "$srcdir/bench/run" --smoke
