/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-transport.h - how the daemon tests reach the daemon: AF_VSOCK over
 * CID 1, or, with UDO_TEST_TRANSPORT=unix, a unix socket standing for the
 * same port, so the daemon's logic also runs on a kernel without vsock
 * loopback (under ASan, which cannot run inside user-mode Linux). */
#ifndef UDO_TESTS_TEST_TRANSPORT_H
#define UDO_TESTS_TEST_TRANSPORT_H

#include <stddef.h>
#include <stdio.h>

/* True when UDO_TEST_TRANSPORT=unix. */
int test_transport_unix(void);

/* Skips the rest of a test that needs AF_VSOCK itself (CIDs, vsock
 * buffers, vsock services) when the tests run over unix sockets; the
 * vsock run of the same program covers it. */
#define TEST_VSOCK_ONLY()                                                                                              \
	do {                                                                                                           \
		if (test_transport_unix()) {                                                                           \
			printf("%s: needs AF_VSOCK; covered by the vsock run\n", __func__);                            \
			return;                                                                                        \
		}                                                                                                      \
	} while (0)

/* The unix socket path standing for vsock PORT, in BUF. */
void test_unix_path(unsigned int port, char *buf, size_t len);

/* A port free right now: a vsock port nobody has bound, or over unix
 * one whose socket path does not exist. */
unsigned int test_free_port(void);

/* The daemon's listen address for PORT: "vsock:any:PORT" or "unix:PATH". */
void test_listen_address(unsigned int port, char *buf, size_t len);

/* Connects to the unix socket PATH, with a receive buffer of RCVBUF
 * bytes if not 0. Returns a non-blocking fd or -1, errno set. */
int test_connect_unix(const char *path, unsigned long long rcvbuf);

/* Connects to the daemon's PORT within TIMEOUT_MS, with a receive buffer
 * of RCVBUF bytes if not 0. Returns a non-blocking fd or -1, errno set. */
int test_connect_port(unsigned int port, int timeout_ms, unsigned long long rcvbuf);

#endif /* UDO_TESTS_TEST_TRANSPORT_H */
