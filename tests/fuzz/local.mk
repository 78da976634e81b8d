# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/fuzz: libFuzzer targets, built on demand by `make fuzz` (never by
# `make` or `make check`) with clang straight from the sources, so the
# code under test gets the fuzzer's coverage instrumentation and ASan and
# UBSan (clang, unlike gcc, flags the v*printf wrappers without a format
# attribute: -Wno-format-nonliteral). Run them with scripts/fuzz; see doc/fuzzing.md.
FUZZ_CC = clang
FUZZ_SANITIZERS = -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS = -std=gnu11 -g -O1 -fno-omit-frame-pointer $(FUZZ_SANITIZERS) $(WARN_CFLAGS) \
	-Wno-format-nonliteral \
	-I$(abs_top_srcdir)/lib -I$(abs_top_builddir) -D_GNU_SOURCE \
	-DSYSCONFDIR='"$(sysconfdir)"' -DPKGLIBDIR='"$(pkglibdir)"'

# The library without its headers.
FUZZ_LIB_SRCS = \
	$(abs_top_srcdir)/lib/log.c \
	$(abs_top_srcdir)/lib/vsock-tcp.c \
	$(abs_top_srcdir)/lib/vsock-io.c \
	$(abs_top_srcdir)/lib/vsock-addr.c \
	$(abs_top_srcdir)/lib/vsock-fdpass.c \
	$(abs_top_srcdir)/lib/vsock-mux.c \
	$(abs_top_srcdir)/lib/vsock-handoff.c \
	$(abs_top_srcdir)/lib/vsock-frame.c \
	$(abs_top_srcdir)/lib/vsock-proto.c
FUZZ_INCLUDES = $(top_srcdir)/lib/*.h $(top_srcdir)/lib/udo/*.h $(top_srcdir)/src/udo-vsockd/*.h

FUZZ_TARGETS = tests/fuzz/fuzz_proto tests/fuzz/fuzz_conf tests/fuzz/fuzz_addr tests/fuzz/fuzz_mux \
	tests/fuzz/fuzz_handoff tests/fuzz/fuzz_pattern tests/fuzz/fuzz_frame

fuzz: $(FUZZ_TARGETS)
.PHONY: fuzz

tests/fuzz/fuzz_proto: $(top_srcdir)/tests/fuzz/fuzz_proto.c $(top_srcdir)/lib/vsock-proto.c $(FUZZ_INCLUDES)
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CC)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(top_srcdir)/tests/fuzz/fuzz_proto.c \
		$(top_srcdir)/lib/vsock-proto.c
tests/fuzz/fuzz_addr: $(top_srcdir)/tests/fuzz/fuzz_addr.c $(FUZZ_LIB_SRCS) $(FUZZ_INCLUDES)
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CC)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(top_srcdir)/tests/fuzz/fuzz_addr.c $(FUZZ_LIB_SRCS)
tests/fuzz/fuzz_mux: $(top_srcdir)/tests/fuzz/fuzz_mux.c $(FUZZ_LIB_SRCS) $(FUZZ_INCLUDES)
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CC)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(top_srcdir)/tests/fuzz/fuzz_mux.c $(FUZZ_LIB_SRCS)
tests/fuzz/fuzz_frame: $(top_srcdir)/tests/fuzz/fuzz_frame.c $(FUZZ_LIB_SRCS) $(FUZZ_INCLUDES)
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CC)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(top_srcdir)/tests/fuzz/fuzz_frame.c $(FUZZ_LIB_SRCS)
tests/fuzz/fuzz_handoff: $(top_srcdir)/tests/fuzz/fuzz_handoff.c $(FUZZ_LIB_SRCS) $(FUZZ_INCLUDES)
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CC)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(top_srcdir)/tests/fuzz/fuzz_handoff.c $(FUZZ_LIB_SRCS)
# The config parser alone: $(vsockd_conf_sources) of src/local.mk (paths
# relative to the source tree, so that rule runs there and names the
# output absolutely) and the library's tokenizer, instrumented; the rest
# of the library (address parsing) comes from its built archive.
tests/fuzz/fuzz_conf: $(top_srcdir)/tests/fuzz/fuzz_conf.c $(vsockd_conf_sources) \
		$(top_srcdir)/lib/vsock-proto.c lib/libudo-vsock.la $(FUZZ_INCLUDES)
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CC)cd $(top_srcdir) && $(FUZZ_CC) $(FUZZ_CFLAGS) -o $(abs_top_builddir)/$@ \
		tests/fuzz/fuzz_conf.c $(vsockd_conf_sources) lib/vsock-proto.c \
		$(abs_top_builddir)/lib/.libs/libudo-vsock.a $(LIBS)
# The arg-pattern engine alone: PCRE2 itself is not instrumented (nor is
# its JIT code), the daemon's side of it (callout, budget) is.
tests/fuzz/fuzz_pattern: $(top_srcdir)/tests/fuzz/fuzz_pattern.c \
		$(top_srcdir)/src/udo-vsockd/arg-pattern.c $(FUZZ_INCLUDES)
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CC)$(FUZZ_CC) $(FUZZ_CFLAGS) $(PCRE2_CFLAGS) -o $@ $(top_srcdir)/tests/fuzz/fuzz_pattern.c \
		$(top_srcdir)/src/udo-vsockd/arg-pattern.c $(PCRE2_LIBS)

CLEANFILES += $(FUZZ_TARGETS)
EXTRA_DIST += tests/fuzz/fuzz_proto.c tests/fuzz/fuzz_conf.c tests/fuzz/fuzz_addr.c tests/fuzz/fuzz_mux.c \
	tests/fuzz/fuzz_handoff.c tests/fuzz/fuzz_pattern.c tests/fuzz/fuzz_frame.c tests/fuzz/corpus scripts/fuzz \
	doc/fuzzing.md

# make check replays each target's seed corpus through a plain main()
# (replay.c) built from the same sources with the suite's compiler and
# flags, so a target that no longer links, or a seed that now crashes,
# fails the suite and the sanitizer builds without clang or libFuzzer.
# The config target also replays the shipped configs, which the seed
# corpus would otherwise hold as a stale copy. -static: the library's
# archive, with its private symbols, as `make fuzz` uses.
REPLAY_TARGETS = tests/fuzz/replay_proto tests/fuzz/replay_conf tests/fuzz/replay_addr tests/fuzz/replay_mux \
	tests/fuzz/replay_handoff tests/fuzz/replay_pattern tests/fuzz/replay_frame
check_PROGRAMS += $(REPLAY_TARGETS)
TESTS += $(REPLAY_TARGETS)
replay_corpus = $(abs_top_srcdir)/tests/fuzz/corpus
tests_fuzz_replay_proto_SOURCES = tests/fuzz/fuzz_proto.c tests/fuzz/replay.c
tests_fuzz_replay_proto_CFLAGS = $(TEST_CFLAGS) -DREPLAY_INPUTS='"$(replay_corpus)/proto"'
tests_fuzz_replay_proto_LDFLAGS = -static
tests_fuzz_replay_proto_LDADD = lib/libudo-vsock.la
tests_fuzz_replay_addr_SOURCES = tests/fuzz/fuzz_addr.c tests/fuzz/replay.c
tests_fuzz_replay_addr_CFLAGS = $(TEST_CFLAGS) -DREPLAY_INPUTS='"$(replay_corpus)/addr"'
tests_fuzz_replay_addr_LDFLAGS = -static
tests_fuzz_replay_addr_LDADD = lib/libudo-vsock.la
tests_fuzz_replay_mux_SOURCES = tests/fuzz/fuzz_mux.c tests/fuzz/replay.c
tests_fuzz_replay_mux_CFLAGS = $(TEST_CFLAGS) -DREPLAY_INPUTS='"$(replay_corpus)/mux"'
tests_fuzz_replay_mux_LDFLAGS = -static
tests_fuzz_replay_mux_LDADD = lib/libudo-vsock.la
tests_fuzz_replay_handoff_SOURCES = tests/fuzz/fuzz_handoff.c tests/fuzz/replay.c
tests_fuzz_replay_handoff_CFLAGS = $(TEST_CFLAGS) -DREPLAY_INPUTS='"$(replay_corpus)/handoff"'
tests_fuzz_replay_handoff_LDFLAGS = -static
tests_fuzz_replay_handoff_LDADD = lib/libudo-vsock.la
tests_fuzz_replay_frame_SOURCES = tests/fuzz/fuzz_frame.c tests/fuzz/replay.c
tests_fuzz_replay_frame_CFLAGS = $(TEST_CFLAGS) -DREPLAY_INPUTS='"$(replay_corpus)/frame"'
tests_fuzz_replay_frame_LDFLAGS = -static
tests_fuzz_replay_frame_LDADD = lib/libudo-vsock.la
tests_fuzz_replay_conf_SOURCES = tests/fuzz/fuzz_conf.c tests/fuzz/replay.c $(vsockd_conf_sources)
tests_fuzz_replay_conf_CFLAGS = $(TEST_CFLAGS) \
	-DREPLAY_INPUTS='"$(replay_corpus)/conf:$(abs_top_srcdir)/conf/udo-vsockd.conf:$(abs_top_srcdir)/conf/udo-vsockd-guest.conf"'
tests_fuzz_replay_conf_LDFLAGS = -static
tests_fuzz_replay_conf_LDADD = lib/libudo-vsock.la
tests_fuzz_replay_pattern_SOURCES = tests/fuzz/fuzz_pattern.c tests/fuzz/replay.c src/udo-vsockd/arg-pattern.c
tests_fuzz_replay_pattern_CFLAGS = $(TEST_CFLAGS) $(PCRE2_CFLAGS) -DREPLAY_INPUTS='"$(replay_corpus)/pattern"'
tests_fuzz_replay_pattern_LDADD = $(PCRE2_LIBS)

