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
	lib/vsock-handoff.c \
	lib/vsock-frame.c \
	lib/vsock-proto.c
# current:revision:age - bump per libtool rules on every release. Still
# 0:0:0: no release has shipped yet, so the return of the seed's exact
# create_info layout defines ABI 0 rather than breaking it (libudo-vsock0).
# The version script names every exported symbol (version UDO_VSOCK_0)
# and keeps everything else local; tests/check_symbols.sh holds it to the
# built library, the headers and debian/libudo-vsock0.symbols.
lib_libudo_vsock_la_LDFLAGS = $(AM_LDFLAGS) -version-info 0:0:0 \
	-Wl,--version-script=$(top_srcdir)/lib/libudo-vsock.sym
EXTRA_lib_libudo_vsock_la_DEPENDENCIES = lib/libudo-vsock.sym

udoincludedir = $(includedir)/udo
udoinclude_HEADERS = \
	lib/udo/log.h \
	lib/udo/vsock-tcp.h \
	lib/udo/vsock-addr.h \
	lib/udo/vsock-fdpass.h \
	lib/udo/vsock-handoff.h \
	lib/udo/vsock-frame.h \
	lib/udo/vsock-proto.h \
	lib/udo/vsockd-module.h

pkgconfig_DATA = lib/udo-vsock.pc
EXTRA_DIST += lib/udo-vsock.pc.in lib/libudo-vsock.sym
