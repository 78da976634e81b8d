# SPDX-License-Identifier: LGPL-2.1-or-later
# Tests: Check programs. Those named vsock_* need AF_VSOCK over CID 1 and
# run through tests/vsock-run (natively or inside user-mode Linux).
LOG_COMPILER = $(SHELL) $(top_srcdir)/tests/vsock-run
AM_TESTS_ENVIRONMENT = \
	UDO_TEST_BUILDDIR='$(abs_top_builddir)'; export UDO_TEST_BUILDDIR; \
	UDO_TEST_SRCDIR='$(abs_top_srcdir)'; export UDO_TEST_SRCDIR; \
	UDO_TEST_SANITIZER_CFLAGS='$(SANITIZER_CFLAGS)'; export UDO_TEST_SANITIZER_CFLAGS; \
	CK_DEFAULT_TIMEOUT=$${CK_DEFAULT_TIMEOUT:-120}; export CK_DEFAULT_TIMEOUT;
EXTRA_DIST += tests/vsock-run tests/uml-cpu.sh
# What the shell tests that run the daemon share.
EXTRA_DIST += tests/lib.sh
# scripts/test --ci runs the daemon tests again with udo-vsockd under
# valgrind memcheck through this wrapper, then reads its logs.
EXTRA_DIST += tests/valgrind-vsockd tests/memcheck-logs.sh
check_PROGRAMS += tests/vsock-probe
tests_vsock_probe_SOURCES = tests/vsock-probe.c
CLEANFILES += tests/.vsock-mode

TEST_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -DTEST_BUILDDIR='"$(abs_top_builddir)"' -DTEST_SRCDIR='"$(abs_top_srcdir)"'
TEST_LIBS = lib/libudo-vsock.la $(CHECK_LIBS)

clean-local: clean-uml
clean-uml:
	-rm -rf tests/uml tests/memcheck
.PHONY: clean-uml

# Man pages render without warnings; the installed headers and pkg-config
# file are enough to build a program that connects over CID 1.
TESTS += tests/check_man.sh tests/check_format.sh tests/check_spdx.sh tests/check_layers.sh tests/vsock_installed.sh
EXTRA_DIST += tests/check_man.sh tests/check_format.sh tests/check_spdx.sh tests/check_layers.sh tests/vsock_installed.sh tests/installed-client.c

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

check_PROGRAMS += tests/check_frame
TESTS += tests/check_frame
tests_check_frame_SOURCES = tests/check_frame.c
tests_check_frame_CFLAGS = $(TEST_CFLAGS)
tests_check_frame_LDADD = $(TEST_LIBS)
# The exported symbols match lib/libudo-vsock.sym, the headers and the
# Debian symbols file; every installed header compiles on its own.
TESTS += tests/check_symbols.sh tests/check_headers.sh
EXTRA_DIST += tests/check_symbols.sh tests/check_headers.sh
# The library's protocol: parse(quote(x)) == x over generated vectors.
check_PROGRAMS += tests/check_proto_roundtrip
TESTS += tests/check_proto_roundtrip
tests_check_proto_roundtrip_SOURCES = tests/check_proto_roundtrip.c
tests_check_proto_roundtrip_CFLAGS = $(TEST_CFLAGS)
tests_check_proto_roundtrip_LDADD = $(TEST_LIBS)

# --- Daemon tests (branch dtests): the request parser and config parser
# linked in (check_*), and the built udo-vsockd run as a real process over
# AF_VSOCK CID 1 (vsock_daemon). tests/daemon-harness.[ch] starts, talks to
# and stops daemons; other tests may link it too.
check_PROGRAMS += tests/check_proto tests/check_conf tests/vsock_daemon
TESTS += tests/check_proto tests/check_conf tests/vsock_daemon
tests_check_proto_SOURCES = tests/check_proto.c
tests_check_proto_CFLAGS = $(TEST_CFLAGS) $(LIBEVENT_CFLAGS)
tests_check_proto_LDADD = src/udo-vsockd/libvsockd.la $(TEST_LIBS)
tests_check_conf_SOURCES = tests/check_conf.c tests/conf-harness.c tests/conf-harness.h tests/daemon-harness.c tests/daemon-harness.h tests/test-transport.c tests/test-transport.h
tests_check_conf_CFLAGS = $(TEST_CFLAGS) $(LIBEVENT_CFLAGS)
tests_check_conf_LDADD = src/udo-vsockd/libvsockd.la $(TEST_LIBS)
tests_vsock_daemon_SOURCES = tests/vsock_daemon.c tests/daemon-harness.c tests/daemon-harness.h tests/test-transport.c tests/test-transport.h
tests_vsock_daemon_CFLAGS = $(TEST_CFLAGS) $(LIBEVENT_CFLAGS)
tests_vsock_daemon_LDADD = $(TEST_LIBS)
# Both run the built daemon binary: `make check` builds sbin_PROGRAMS
# first anyway; this keeps building a single test program right too.
EXTRA_tests_check_conf_DEPENDENCIES = src/udo-vsockd/udo-vsockd$(EXEEXT)

# `udo-vsockd -D`: the dump of several configs read back gives itself.
check_PROGRAMS += tests/check_dump
TESTS += tests/check_dump
tests_check_dump_SOURCES = tests/check_dump.c tests/conf-harness.c tests/conf-harness.h tests/daemon-harness.c tests/daemon-harness.h tests/test-transport.c tests/test-transport.h
tests_check_dump_CFLAGS = $(TEST_CFLAGS) $(LIBEVENT_CFLAGS)
tests_check_dump_LDADD = src/udo-vsockd/libvsockd.la $(TEST_LIBS)
EXTRA_tests_check_dump_DEPENDENCIES = src/udo-vsockd/udo-vsockd$(EXEEXT) tests/modules/counter.la

# The exec arg-pattern engine (PCRE2) linked in: refusals, anchoring, and
# the time bound on adversarial subjects.
check_PROGRAMS += tests/check_pattern
TESTS += tests/check_pattern
tests_check_pattern_SOURCES = tests/check_pattern.c
tests_check_pattern_CFLAGS = $(TEST_CFLAGS)
tests_check_pattern_LDADD = src/udo-vsockd/libvsockd.la $(TEST_LIBS)

# The per-peer log rate limit (ratelimit.c) linked in, on an explicit
# clock: bursts, windows, suppressed counts, a clock that steps back.
check_PROGRAMS += tests/check_ratelimit
TESTS += tests/check_ratelimit
tests_check_ratelimit_SOURCES = tests/check_ratelimit.c
tests_check_ratelimit_CFLAGS = $(TEST_CFLAGS)
tests_check_ratelimit_LDADD = src/udo-vsockd/libvsockd.la $(TEST_LIBS)

# The daemon's shared helpers (util.c) compiled in alone: parsing bounds,
# suffixes, overflow and junk; FNV-1a; timevals; peer keys; option tables.
check_PROGRAMS += tests/check_util
TESTS += tests/check_util
tests_check_util_SOURCES = tests/check_util.c src/udo-vsockd/util.c src/udo-vsockd/util.h
tests_check_util_CFLAGS = $(TEST_CFLAGS)
tests_check_util_LDADD = $(CHECK_LIBS)

# The files kind's confined file operations, on real directories.
check_PROGRAMS += tests/check_files
TESTS += tests/check_files
tests_check_files_SOURCES = tests/check_files.c src/udo-vsockd/files-fs.c src/udo-vsockd/files-fs.h
tests_check_files_CFLAGS = $(TEST_CFLAGS) $(CRYPTO_CFLAGS)
tests_check_files_LDADD = $(CRYPTO_LIBS) $(CHECK_LIBS)

# Connection hand-off and proxy, through the real daemon over CID 1 with
# examples/handoff-echo and echo services as separate processes.
check_PROGRAMS += tests/vsock_handoff
TESTS += tests/vsock_handoff
tests_vsock_handoff_SOURCES = tests/vsock_handoff.c tests/daemon-harness.c tests/daemon-harness.h tests/test-transport.c tests/test-transport.h
tests_vsock_handoff_CFLAGS = $(TEST_CFLAGS)
tests_vsock_handoff_LDADD = $(TEST_LIBS)
EXTRA_tests_vsock_handoff_DEPENDENCIES = src/udo-vsockd/udo-vsockd$(EXEEXT) examples/handoff-echo$(EXEEXT)

# ---- udo-vsock CLI (src/udo-vsock) and its hybrid-vsock VMM test double ----
check_PROGRAMS += tests/fake-vmm tests/check_cli_proto tests/vsock_cli
TESTS += tests/check_cli_proto tests/vsock_cli
tests_fake_vmm_SOURCES = tests/fake-vmm.c
tests_check_cli_proto_SOURCES = tests/check_cli_proto.c \
	src/udo-vsock/proto.c src/udo-vsock/buf.c src/udo-vsock/escape.c
tests_check_cli_proto_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/udo-vsock
tests_check_cli_proto_CFLAGS = $(TEST_CFLAGS)
tests_check_cli_proto_LDADD = $(TEST_LIBS)
tests_vsock_cli_SOURCES = tests/vsock_cli.c tests/daemon-harness.c tests/daemon-harness.h tests/test-transport.c tests/test-transport.h
tests_vsock_cli_CFLAGS = $(TEST_CFLAGS)
tests_vsock_cli_LDADD = $(TEST_LIBS)
# udo-vsock --json, checked with jq (tests/vsock_cli_json.sh).
TESTS += tests/vsock_cli_json.sh
EXTRA_DIST += tests/vsock_cli_json.sh

# udo-vsock -t in tmux, as a person runs it (tests/vsock_cli_tmux.sh).
TESTS += tests/vsock_cli_tmux.sh
EXTRA_DIST += tests/vsock_cli_tmux.sh
# ---- end udo-vsock CLI ----

# The exec handler kind end to end: a real daemon on CID 1 running real
# programs (argv, timeouts, output caps, limits, environment, leaks).
check_PROGRAMS += tests/vsock_exec
TESTS += tests/vsock_exec
tests_vsock_exec_SOURCES = tests/vsock_exec.c tests/daemon-harness.c tests/daemon-harness.h tests/test-transport.c tests/test-transport.h
tests_vsock_exec_CFLAGS = $(TEST_CFLAGS)
tests_vsock_exec_LDADD = $(TEST_LIBS)

# exec's mode = session over CID 1: frames, a pty shell, flow control,
# protocol errors, vanishing clients (a raw frame client on the codec).
check_PROGRAMS += tests/vsock_session
TESTS += tests/vsock_session
tests_vsock_session_SOURCES = tests/vsock_session.c tests/daemon-harness.c tests/daemon-harness.h tests/test-transport.c tests/test-transport.h
tests_vsock_session_CFLAGS = $(TEST_CFLAGS)
tests_vsock_session_LDADD = $(TEST_LIBS)

EXTRA_tests_vsock_daemon_DEPENDENCIES = src/udo-vsockd/udo-vsockd$(EXEEXT)
EXTRA_tests_vsock_session_DEPENDENCIES = src/udo-vsockd/udo-vsockd$(EXEEXT)
EXTRA_tests_vsock_exec_DEPENDENCIES = src/udo-vsockd/udo-vsockd$(EXEEXT)

# The files kind over CID 1: content, escapes, limits, a full tmpfs,
# cut-short transfers, concurrency, fairness and 1 GiB each way.
check_PROGRAMS += tests/vsock_files
TESTS += tests/vsock_files
tests_vsock_files_SOURCES = tests/vsock_files.c tests/daemon-harness.c tests/daemon-harness.h tests/test-transport.c \
	tests/test-transport.h
tests_vsock_files_CFLAGS = $(TEST_CFLAGS) $(CRYPTO_CFLAGS)
tests_vsock_files_LDADD = $(TEST_LIBS) $(CRYPTO_LIBS)
EXTRA_tests_vsock_files_DEPENDENCIES = src/udo-vsockd/udo-vsockd$(EXEEXT) src/udo-vsock/udo-vsock$(EXEEXT)
EXTRA_tests_vsock_cli_DEPENDENCIES = src/udo-vsock/udo-vsock$(EXEEXT) tests/fake-vmm$(EXEEXT) \
	src/udo-vsockd/udo-vsockd$(EXEEXT) examples/handoff-echo$(EXEEXT)

# systemd integration: unit sanity (verify + exposure) and a real systemd
# 252 booted in user-mode Linux driving the installed daemon.
TESTS += tests/check_units.sh tests/systemd_boot.sh
EXTRA_DIST += tests/check_units.sh tests/systemd_boot.sh tests/uml-systemd

# Preloaded into user-mode Linux by tests/vsock-run and tests/uml-systemd:
# its FPU state on hosts with a larger XSAVE area (see the file). Never
# with sanitizers: UML is not built with them.
check_LTLIBRARIES += tests/uml-xstate.la
tests_uml_xstate_la_SOURCES = tests/uml-xstate.c
tests_uml_xstate_la_CFLAGS = $(WARN_CFLAGS)
tests_uml_xstate_la_LDFLAGS = -module -avoid-version -shared -rpath $(abs_builddir)/tests
tests_uml_xstate_la_LIBADD = -ldl

# --- Modules (branch modules): test modules built as real shared objects
# (-rpath makes libtool build a .so for a check library), the loader's
# config errors without sockets (check_modules), and the facts module,
# async answers and access control over CID 1 with the real daemon.
TEST_MODULE_LDFLAGS = -module -avoid-version -shared -rpath $(abs_builddir)/tests/modules
check_LTLIBRARIES += tests/modules/counter.la tests/modules/bad-abi.la tests/modules/no-symbol.la \
	tests/modules/clash-ping.la tests/modules/clash-delay.la tests/modules/faulty.la
tests_modules_counter_la_SOURCES = tests/modules/counter.c
tests_modules_counter_la_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
tests_modules_counter_la_LDFLAGS = $(TEST_MODULE_LDFLAGS)
tests_modules_counter_la_LIBADD = $(LIBEVENT_LIBS)
tests_modules_faulty_la_SOURCES = tests/modules/faulty.c
tests_modules_faulty_la_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
tests_modules_faulty_la_LDFLAGS = $(TEST_MODULE_LDFLAGS)
tests_modules_faulty_la_LIBADD = $(LIBEVENT_LIBS)
tests_modules_bad_abi_la_SOURCES = tests/modules/bad-abi.c
tests_modules_bad_abi_la_LDFLAGS = $(TEST_MODULE_LDFLAGS)
tests_modules_no_symbol_la_SOURCES = tests/modules/no-symbol.c
tests_modules_no_symbol_la_LDFLAGS = $(TEST_MODULE_LDFLAGS)
tests_modules_clash_ping_la_SOURCES = tests/modules/clash.c
tests_modules_clash_ping_la_CFLAGS = $(AM_CFLAGS) -DCLASH_KIND='"ping"'
tests_modules_clash_ping_la_LDFLAGS = $(TEST_MODULE_LDFLAGS)
tests_modules_clash_delay_la_SOURCES = tests/modules/clash.c
tests_modules_clash_delay_la_CFLAGS = $(AM_CFLAGS) -DCLASH_KIND='"delay"'
tests_modules_clash_delay_la_LDFLAGS = $(TEST_MODULE_LDFLAGS)

check_PROGRAMS += tests/check_modules tests/vsock_modules tests/vsock_acl
TESTS += tests/check_modules tests/vsock_modules tests/vsock_acl
tests_check_modules_SOURCES = tests/check_modules.c tests/daemon-harness.c tests/daemon-harness.h tests/test-transport.c tests/test-transport.h
tests_check_modules_CFLAGS = $(TEST_CFLAGS) $(LIBEVENT_CFLAGS)
tests_check_modules_LDADD = src/udo-vsockd/libvsockd.la $(TEST_LIBS)
tests_vsock_modules_SOURCES = tests/vsock_modules.c tests/daemon-harness.c tests/daemon-harness.h tests/test-transport.c tests/test-transport.h
tests_vsock_modules_CFLAGS = $(TEST_CFLAGS)
tests_vsock_modules_LDADD = $(TEST_LIBS)
tests_vsock_acl_SOURCES = tests/vsock_acl.c tests/daemon-harness.c tests/daemon-harness.h tests/test-transport.c tests/test-transport.h
tests_vsock_acl_CFLAGS = $(TEST_CFLAGS)
tests_vsock_acl_LDADD = $(TEST_LIBS)
# They load modules/facts.so and the test modules, and run the daemon.
EXTRA_tests_check_modules_DEPENDENCIES = src/udo-vsockd/udo-vsockd$(EXEEXT) modules/facts.la $(check_LTLIBRARIES)
EXTRA_tests_vsock_modules_DEPENDENCIES = src/udo-vsockd/udo-vsockd$(EXEEXT) modules/facts.la $(check_LTLIBRARIES)
EXTRA_tests_vsock_acl_DEPENDENCIES = src/udo-vsockd/udo-vsockd$(EXEEXT) $(check_LTLIBRARIES)

# The receiver of guests' systemd notifications (notify-listen, GUESTS)
# over vsock CID 1; links the daemon's code for the guest table.
check_PROGRAMS += tests/vsock_notify
TESTS += tests/vsock_notify
tests_vsock_notify_SOURCES = tests/vsock_notify.c tests/notify-sender.c tests/notify-sender.h tests/daemon-harness.c tests/daemon-harness.h tests/test-transport.c tests/test-transport.h
tests_vsock_notify_CFLAGS = $(TEST_CFLAGS)
tests_vsock_notify_LDADD = src/udo-vsockd/libvsockd.la $(TEST_LIBS)
EXTRA_tests_vsock_notify_DEPENDENCIES = src/udo-vsockd/udo-vsockd$(EXEEXT)
# The same sender as a program, for systemd_boot.sh's guest stand-in.
check_PROGRAMS += tests/vmm-notify-send
tests_vmm_notify_send_SOURCES = tests/vmm-notify-send.c tests/notify-sender.c tests/notify-sender.h

check_PROGRAMS += tests/vsock_announce
TESTS += tests/vsock_announce
tests_vsock_announce_SOURCES = tests/vsock_announce.c tests/daemon-harness.c tests/daemon-harness.h tests/test-transport.c tests/test-transport.h
tests_vsock_announce_CFLAGS = $(TEST_CFLAGS)
tests_vsock_announce_LDADD = $(TEST_LIBS)
EXTRA_tests_vsock_announce_DEPENDENCIES = src/udo-vsockd/udo-vsockd$(EXEEXT)

# The guest lifecycle kinds (FREEZE on an ext4 on a UML block device,
# SETTIME on UML's clock): built here, run only inside user-mode Linux
# by lifecycle_uml.sh, which makes the image.
check_PROGRAMS += tests/vsock_lifecycle
TESTS += tests/lifecycle_uml.sh
EXTRA_DIST += tests/lifecycle_uml.sh
tests_vsock_lifecycle_SOURCES = tests/vsock_lifecycle.c tests/daemon-harness.c tests/daemon-harness.h tests/test-transport.c tests/test-transport.h
tests_vsock_lifecycle_CFLAGS = $(TEST_CFLAGS)
tests_vsock_lifecycle_LDADD = $(TEST_LIBS)
EXTRA_tests_vsock_lifecycle_DEPENDENCIES = src/udo-vsockd/udo-vsockd$(EXEEXT)

# For scripts/test: the test programs, one per line.
print-tests:
	@for t in $(TESTS); do echo "$$t"; done
.PHONY: print-tests

# --- Benchmark smoke test (bench/, issue 7) ----------------------------
# bench/run --smoke runs every benchmark workload tiny (<= 30 s) so the
# suite never rots; the benchmark itself (bench/run) is not part of check.
# It starts user-mode Linux itself (through tests/vsock-run) when needed.
TESTS += tests/bench_smoke.sh
EXTRA_DIST += tests/bench_smoke.sh bench/run bench/vsock_workloads.sh bench/Makefile \
	bench/loadgen.c bench/echo-floor.c bench/session-load.c bench/bench-util.c bench/bench-util.h bench/README.md bench/files_workload.sh \
	bench/qga-file
CLEANFILES += bench/loadgen bench/echo-floor bench/session-load
clean-local: clean-bench
clean-bench:
	-rm -rf bench/raw bench/smoke
.PHONY: clean-bench

# Hostile and heavy clients against the real daemon over CID 1: malformed
# input, slowloris (line-timeout), fd exhaustion, signal storms, load.
check_PROGRAMS += tests/vsock_hostile
TESTS += tests/vsock_hostile
tests_vsock_hostile_SOURCES = tests/vsock_hostile.c tests/daemon-harness.c tests/daemon-harness.h tests/test-transport.c tests/test-transport.h
tests_vsock_hostile_CFLAGS = $(TEST_CFLAGS)
tests_vsock_hostile_LDADD = $(TEST_LIBS)
EXTRA_tests_vsock_hostile_DEPENDENCIES = src/udo-vsockd/udo-vsockd$(EXEEXT)

# A guest flooding requests it never reads the replies of, then closing:
# bounded memory, fair service for others, release within 2 s.
check_PROGRAMS += tests/vsock_flood
TESTS += tests/vsock_flood
tests_vsock_flood_SOURCES = tests/vsock_flood.c tests/daemon-harness.c tests/daemon-harness.h tests/test-transport.c tests/test-transport.h
tests_vsock_flood_CFLAGS = $(TEST_CFLAGS)
tests_vsock_flood_LDADD = $(TEST_LIBS)
EXTRA_tests_vsock_flood_DEPENDENCIES = src/udo-vsockd/udo-vsockd$(EXEEXT)

# Guest-initiated hybrid vsock: the test plays the VMM on the vsock-mux
# listener's unix socket; no vsock traffic, so it runs here directly.
check_PROGRAMS += tests/check_mux_listen
TESTS += tests/check_mux_listen
tests_check_mux_listen_SOURCES = tests/check_mux_listen.c tests/daemon-harness.c tests/daemon-harness.h tests/test-transport.c tests/test-transport.h
tests_check_mux_listen_CFLAGS = $(TEST_CFLAGS)
tests_check_mux_listen_LDADD = $(TEST_LIBS)
EXTRA_tests_check_mux_listen_DEPENDENCIES = src/udo-vsockd/udo-vsockd$(EXEEXT)

# The daemon under valgrind memcheck through every handler kind, reload
# and stop: no memory error, no definite or indirect leak.
TESTS += tests/vsock_memcheck.sh
EXTRA_DIST += tests/vsock_memcheck.sh

# Faults against the real daemon over CID 1: out of memory (RLIMIT_DATA
# lowered on the running daemon), modules that fail, crash, hang or flood
# (tests/modules/faulty.c), programs that flood; fds and children counted.
check_PROGRAMS += tests/vsock_faults
TESTS += tests/vsock_faults
tests_vsock_faults_SOURCES = tests/vsock_faults.c tests/daemon-harness.c tests/daemon-harness.h tests/test-transport.c tests/test-transport.h
tests_vsock_faults_CFLAGS = $(TEST_CFLAGS)
tests_vsock_faults_LDADD = $(TEST_LIBS)
# The daemon tests again over unix sockets on this kernel (ASan's view of
# the daemon's logic; see tests/daemon_unix.sh).
TESTS += tests/daemon_unix.sh
EXTRA_DIST += tests/daemon_unix.sh
EXTRA_tests_vsock_faults_DEPENDENCIES = src/udo-vsockd/udo-vsockd$(EXEEXT) $(check_LTLIBRARIES)

# The Python client (python/): pip-installed from a copy of python/, then
# its pytest suite against the built daemon over CID 1, unix, vsock-mux.
TESTS += tests/vsock_python.sh
EXTRA_DIST += tests/vsock_python.sh python/pyproject.toml python/README.md \
	python/udo_vsock/__init__.py python/udo_vsock/address.py python/udo_vsock/client.py \
	python/udo_vsock/errors.py python/udo_vsock/protocol.py \
	python/tests/conftest.py python/tests/test_protocol.py python/tests/test_daemon.py

# Bash completion (completion/): options, address forms, and command names
# from a real daemon's HELP on a unix socket.
TESTS += tests/check_completion.sh
EXTRA_DIST += tests/check_completion.sh

# The metrics endpoint (metrics-listen) scraped with curl while the daemon
# serves vsock traffic; promtool (Debian's prometheus) checks the page.
TESTS += tests/vsock_metrics.sh
EXTRA_DIST += tests/vsock_metrics.sh

# The libvirt qemu hook example (examples/libvirt-qemu-hook) run with
# libvirt's arguments and domain XML: it writes and removes peers-dir files.
TESTS += tests/check_libvirt_hook.sh
EXTRA_DIST += tests/check_libvirt_hook.sh

# Detached jobs over CID 1: detach, ATTACH with the CLI, JOB, KILL, the
# limits, and another peer (a unix listener's identity) that sees nothing.
check_PROGRAMS += tests/vsock_jobs
TESTS += tests/vsock_jobs
tests_vsock_jobs_SOURCES = tests/vsock_jobs.c tests/daemon-harness.c tests/daemon-harness.h tests/test-transport.c tests/test-transport.h
tests_vsock_jobs_CFLAGS = $(TEST_CFLAGS)
tests_vsock_jobs_LDADD = $(TEST_LIBS)
EXTRA_tests_vsock_jobs_DEPENDENCIES = src/udo-vsockd/udo-vsockd$(EXEEXT) src/udo-vsock/udo-vsock$(EXEEXT)
