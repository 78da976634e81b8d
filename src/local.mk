# SPDX-License-Identifier: LGPL-2.1-or-later
# src: the daemon (udo-vsockd) and the command-line client (udo-vsock).

# The config parser and all it needs but libudo-vsock: no handler,
# module or socket code (resolve.c binds those). tests/fuzz/local.mk
# builds fuzz_conf from these files.
vsockd_conf_sources = \
	src/udo-vsockd/conf.c \
	src/udo-vsockd/util.c

# The daemon's code minus main(), so tests can link the pure parts; the
# one list of it. A handler kind is one file in kinds/, listed here, and
# one line in kinds.c's table.
noinst_LTLIBRARIES += src/udo-vsockd/libvsockd.la
vsockd_sources = \
	$(vsockd_conf_sources) \
	src/udo-vsockd/access.c \
	src/udo-vsockd/announce.c \
	src/udo-vsockd/arg-pattern.c \
	src/udo-vsockd/audit.c \
	src/udo-vsockd/conn.c \
	src/udo-vsockd/dispatch.c \
	src/udo-vsockd/files-fs.c \
	src/udo-vsockd/frame-queue.c \
	src/udo-vsockd/fsfreeze.c \
	src/udo-vsockd/guests.c \
	src/udo-vsockd/jobs.c \
	src/udo-vsockd/kinds.c \
	src/udo-vsockd/listener.c \
	src/udo-vsockd/log.c \
	src/udo-vsockd/metrics.c \
	src/udo-vsockd/module.c \
	src/udo-vsockd/notify.c \
	src/udo-vsockd/peers-dir.c \
	src/udo-vsockd/ratelimit.c \
	src/udo-vsockd/request.c \
	src/udo-vsockd/resolve.c \
	src/udo-vsockd/server.c \
	src/udo-vsockd/session.c \
	src/udo-vsockd/kinds/announce.c \
	src/udo-vsockd/kinds/attach.c \
	src/udo-vsockd/kinds/exec.c \
	src/udo-vsockd/kinds/files.c \
	src/udo-vsockd/kinds/freeze.c \
	src/udo-vsockd/kinds/frozen.c \
	src/udo-vsockd/kinds/guests.c \
	src/udo-vsockd/kinds/handoff.c \
	src/udo-vsockd/kinds/job.c \
	src/udo-vsockd/kinds/jobs.c \
	src/udo-vsockd/kinds/kill.c \
	src/udo-vsockd/kinds/help.c \
	src/udo-vsockd/kinds/ping.c \
	src/udo-vsockd/kinds/power.c \
	src/udo-vsockd/kinds/proxy.c \
	src/udo-vsockd/kinds/quit.c \
	src/udo-vsockd/kinds/settime.c \
	src/udo-vsockd/kinds/stats.c \
	src/udo-vsockd/kinds/thaw.c \
	src/udo-vsockd/kinds/time.c \
	src/udo-vsockd/kinds/version.c \
	src/udo-vsockd/kinds/whoami.c
vsockd_headers = \
	src/udo-vsockd/announce.h \
	src/udo-vsockd/arg-pattern.h \
	src/udo-vsockd/audit.h \
	src/udo-vsockd/conf.h \
	src/udo-vsockd/conn.h \
	src/udo-vsockd/dispatch.h \
	src/udo-vsockd/exec-hook.h \
	src/udo-vsockd/files-fs.h \
	src/udo-vsockd/event-watch.h \
	src/udo-vsockd/frame-queue.h \
	src/udo-vsockd/fsfreeze.h \
	src/udo-vsockd/guests.h \
	src/udo-vsockd/jobs.h \
	src/udo-vsockd/handler.h \
	src/udo-vsockd/log.h \
	src/udo-vsockd/metrics.h \
	src/udo-vsockd/module.h \
	src/udo-vsockd/peer.h \
	src/udo-vsockd/peers-dir.h \
	src/udo-vsockd/proto.h \
	src/udo-vsockd/ratelimit.h \
	src/udo-vsockd/request.h \
	src/udo-vsockd/resolve.h \
	src/udo-vsockd/server.h \
	src/udo-vsockd/session.h \
	src/udo-vsockd/util.h
src_udo_vsockd_libvsockd_la_SOURCES = $(vsockd_sources) $(vsockd_headers)
src_udo_vsockd_libvsockd_la_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(LIBSYSTEMD_CFLAGS) $(PCRE2_CFLAGS) $(CRYPTO_CFLAGS)
src_udo_vsockd_libvsockd_la_LIBADD = lib/libudo-vsock.la $(LIBEVENT_LIBS) $(LIBSYSTEMD_LIBS) $(PCRE2_LIBS) $(CRYPTO_LIBS)

sbin_PROGRAMS += src/udo-vsockd/udo-vsockd
src_udo_vsockd_udo_vsockd_SOURCES = src/udo-vsockd/main.c
src_udo_vsockd_udo_vsockd_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(LIBSYSTEMD_CFLAGS)
src_udo_vsockd_udo_vsockd_LDADD = src/udo-vsockd/libvsockd.la

include src/udo-vsock/local.mk
