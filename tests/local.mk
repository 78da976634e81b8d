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

# libudo-vsock: the vsock_* program needs AF_VSOCK, the check_* ones do not.
check_PROGRAMS += tests/vsock_tcp tests/check_addr tests/check_fdpass
TESTS += tests/vsock_tcp tests/check_addr tests/check_fdpass
tests_vsock_tcp_SOURCES = tests/vsock_tcp.c tests/test-util.h
tests_vsock_tcp_CFLAGS = $(TEST_CFLAGS)
tests_vsock_tcp_LDADD = $(TEST_LIBS)
tests_check_addr_SOURCES = tests/check_addr.c tests/test-util.h
tests_check_addr_CFLAGS = $(TEST_CFLAGS)
tests_check_addr_LDADD = $(TEST_LIBS)
tests_check_fdpass_SOURCES = tests/check_fdpass.c tests/test-util.h
tests_check_fdpass_CFLAGS = $(TEST_CFLAGS)
tests_check_fdpass_LDADD = $(TEST_LIBS)

# ---- udo-vsock CLI (src/udo-vsock) and its hybrid-vsock VMM test double ----
check_PROGRAMS += tests/fake-vmm tests/check_cli_proto tests/vsock_cli
TESTS += tests/check_cli_proto tests/vsock_cli
tests_fake_vmm_SOURCES = tests/fake-vmm.c
tests_check_cli_proto_SOURCES = tests/check_cli_proto.c \
	src/udo-vsock/proto.c src/udo-vsock/buf.c
tests_check_cli_proto_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/udo-vsock
tests_check_cli_proto_CFLAGS = $(TEST_CFLAGS)
tests_check_cli_proto_LDADD = $(CHECK_LIBS)
tests_vsock_cli_SOURCES = tests/vsock_cli.c
tests_vsock_cli_CFLAGS = $(TEST_CFLAGS)
tests_vsock_cli_LDADD = $(TEST_LIBS)
# ---- end udo-vsock CLI ----
