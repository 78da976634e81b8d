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
	$(abs_top_srcdir)/lib/vsock-proto.c
FUZZ_INCLUDES = $(top_srcdir)/lib/*.h $(top_srcdir)/lib/udo/*.h $(top_srcdir)/src/udo-vsockd/*.h

FUZZ_TARGETS = tests/fuzz/fuzz_proto tests/fuzz/fuzz_conf tests/fuzz/fuzz_addr tests/fuzz/fuzz_mux \
	tests/fuzz/fuzz_handoff tests/fuzz/fuzz_pattern

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
	tests/fuzz/fuzz_handoff.c tests/fuzz/fuzz_pattern.c tests/fuzz/corpus scripts/fuzz doc/fuzzing.md
