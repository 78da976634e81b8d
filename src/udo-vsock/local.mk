# SPDX-License-Identifier: LGPL-2.1-or-later
# udo-vsock(1): the command-line client.
bin_PROGRAMS += src/udo-vsock/udo-vsock
src_udo_vsock_udo_vsock_SOURCES = \
	src/udo-vsock/main.c \
	src/udo-vsock/cli.h \
	src/udo-vsock/buf.c \
	src/udo-vsock/buf.h \
	src/udo-vsock/escape.c \
	src/udo-vsock/escape.h \
	src/udo-vsock/proto.c \
	src/udo-vsock/proto.h \
	src/udo-vsock/pump.c \
	src/udo-vsock/pump.h \
	src/udo-vsock/connect.c \
	src/udo-vsock/session.c \
	src/udo-vsock/pipe.c \
	src/udo-vsock/session-frames.c \
	src/udo-vsock/tty.c \
	src/udo-vsock/tty.h \
	src/udo-vsock/interactive.c \
	src/udo-vsock/json.c \
	src/udo-vsock/json.h \
	src/udo-vsock/files.c
src_udo_vsock_udo_vsock_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(CRYPTO_CFLAGS)
src_udo_vsock_udo_vsock_LDADD = lib/libudo-vsock.la $(JANSSON_LIBS) $(CRYPTO_LIBS)
