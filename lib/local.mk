# SPDX-License-Identifier: LGPL-2.1-or-later
# libudo-vsock: installed shared library, headers under udo/, pkg-config file.
lib_LTLIBRARIES += lib/libudo-vsock.la
lib_libudo_vsock_la_SOURCES = \
	lib/log.c \
	lib/log-private.h \
	lib/vsock-tcp.c \
	lib/vsock-tcp-private.h \
	lib/vsock-io.c \
	lib/vsock-addr.c \
	lib/vsock-fdpass.c \
	lib/vsock-addr-private.h \
	lib/vsock-mux.c \
	lib/vsock-handoff.c
# current:revision:age - bump per libtool rules on every release.
# 1:0:0: the create_info structs lost flags and connect_timeout_ms (back to
# the seed's layout) and UDO_VSOCK_TCP_NONBLOCK went away, an incompatible
# change, so current+1 and age 0 (soname libudo-vsock.so.1).
lib_libudo_vsock_la_LDFLAGS = $(AM_LDFLAGS) -version-info 1:0:0 -export-symbols-regex '^udo_'

udoincludedir = $(includedir)/udo
udoinclude_HEADERS = \
	lib/udo/log.h \
	lib/udo/vsock-tcp.h \
	lib/udo/vsock-addr.h \
	lib/udo/vsock-fdpass.h \
	lib/udo/vsock-handoff.h \
	lib/udo/vsockd-module.h

pkgconfig_DATA = lib/udo-vsock.pc
EXTRA_DIST += lib/udo-vsock.pc.in
