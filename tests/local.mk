# Tests: Check programs. Those named vsock_* need AF_VSOCK over CID 1 and
# run through tests/vsock-run (natively or inside user-mode Linux).
LOG_COMPILER = $(SHELL) $(top_srcdir)/tests/vsock-run
AM_TESTS_ENVIRONMENT = \
	UDO_TEST_BUILDDIR='$(abs_top_builddir)'; export UDO_TEST_BUILDDIR; \
	UDO_TEST_SRCDIR='$(abs_top_srcdir)'; export UDO_TEST_SRCDIR; \
	CK_DEFAULT_TIMEOUT=$${CK_DEFAULT_TIMEOUT:-120}; export CK_DEFAULT_TIMEOUT;
EXTRA_DIST += tests/vsock-run
check_PROGRAMS += tests/vsock-probe
tests_vsock_probe_SOURCES = tests/vsock-probe.c
CLEANFILES += tests/.vsock-mode

TEST_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -DTEST_BUILDDIR='"$(abs_top_builddir)"' -DTEST_SRCDIR='"$(abs_top_srcdir)"'
TEST_LIBS = lib/libudo-vsock.la $(CHECK_LIBS)

clean-local: clean-uml
clean-uml:
	-rm -rf tests/uml
.PHONY: clean-uml

# Man pages render without warnings; the installed headers and pkg-config
# file are enough to build a program that connects over CID 1.
TESTS += tests/check_man.sh tests/vsock_installed.sh
EXTRA_DIST += tests/check_man.sh tests/vsock_installed.sh tests/installed-client.c

# The exec handler kind end to end: a real daemon on CID 1 running real
# programs (argv, timeouts, output caps, limits, environment, leaks).
check_PROGRAMS += tests/vsock_exec
TESTS += tests/vsock_exec
tests_vsock_exec_SOURCES = tests/vsock_exec.c
tests_vsock_exec_CFLAGS = $(TEST_CFLAGS)
tests_vsock_exec_LDADD = $(TEST_LIBS)

# --- Benchmark smoke test (bench/, issue 7) ----------------------------
# bench/run --smoke runs every benchmark workload tiny (<= 30 s) so the
# suite never rots; the benchmark itself (bench/run) is not part of check.
TESTS += tests/check_bench_smoke.sh
EXTRA_DIST += tests/check_bench_smoke.sh bench/run bench/vsock_workloads.sh bench/Makefile \
	bench/loadgen.c bench/echo-floor.c bench/README.md
CLEANFILES += bench/loadgen bench/echo-floor
clean-local: clean-bench
clean-bench:
	-rm -rf bench/raw bench/smoke
.PHONY: clean-bench
