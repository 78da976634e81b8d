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

# systemd integration: unit sanity (verify + exposure) and a real systemd
# 252 booted in user-mode Linux driving the installed daemon.
TESTS += tests/check_units.sh tests/systemd_boot.sh
EXTRA_DIST += tests/check_units.sh tests/systemd_boot.sh tests/uml-systemd
