/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-transport.c - the daemon tests' way to the daemon: vsock CID 1 or a
 * unix socket standing for the port (UDO_TEST_TRANSPORT=unix) */
#include "test-transport.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

int test_transport_unix(void)
{
	const char *t = getenv("UDO_TEST_TRANSPORT");

	return t != NULL && strcmp(t, "unix") == 0;
}

void test_unix_path(unsigned int port, char *buf, size_t len)
{
	const char *tmp = getenv("TMPDIR");
	char dir[200];

	snprintf(dir, sizeof(dir), "%s/udo-test-unix", tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if (mkdir(dir, 0700) < 0)
		ck_assert_msg(errno == EEXIST, "mkdir %s: %s", dir, strerror(errno));
	ck_assert_int_lt(snprintf(buf, len, "%s/%u.sock", dir, port), (int)len);
}

/* A seed for picking random ports, different in every test process. */
static unsigned int port_seed(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned int)getpid() ^ (unsigned int)ts.tv_nsec;
}

/* True if vsock PORT can be bound on any CID right now. */
static int vsock_port_free(unsigned int port)
{
	struct sockaddr_vm a = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port};
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_msg(fd >= 0, "socket(AF_VSOCK): %s", strerror(errno));
	int ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

unsigned int test_free_port(void)
{
	unsigned int seed = port_seed();

	if (!test_transport_unix()) {
		struct sockaddr_vm addr = {
		    .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = VMADDR_PORT_ANY};
		socklen_t len = sizeof(addr);
		int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

		ck_assert_msg(fd >= 0, "socket(AF_VSOCK): %s", strerror(errno));
		ck_assert_msg(bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0, "bind: %s", strerror(errno));
		ck_assert_msg(getsockname(fd, (struct sockaddr *)&addr, &len) == 0, "getsockname: %s", strerror(errno));
		close(fd);
		if (addr.svm_port <= INT32_MAX)
			return addr.svm_port;
	}
	/* The kernel hands out ephemeral vsock ports anywhere in 1024..2^32-2,
	 * but the daemon's config and libudo-vsock's seed API take ports as
	 * int: try random ones below 2^31. */
	for (int tries = 0; tries < 1000; tries++) {
		unsigned int port = 1024 + (unsigned int)rand_r(&seed) % (INT32_MAX - 1024U);
		if (test_transport_unix()) {
			char path[256];
			test_unix_path(port, path, sizeof(path));
			if (access(path, F_OK) < 0 && errno == ENOENT)
				return port;
		} else if (vsock_port_free(port)) {
			return port;
		}
	}
	ck_abort_msg("no free port below 2^31");
	return 0;
}

void test_listen_address(unsigned int port, char *buf, size_t len)
{
	if (test_transport_unix()) {
		char path[256];
		test_unix_path(port, path, sizeof(path));
		ck_assert_int_lt(snprintf(buf, len, "unix:%s", path), (int)len);
	} else {
		ck_assert_int_lt(snprintf(buf, len, "vsock:any:%u", port), (int)len);
	}
}

/* Connects FD to SA and makes it non-blocking; closes it on failure.
 * Returns FD or -1, errno set. */
static int connect_nonblocking(int fd, const struct sockaddr *sa, socklen_t len)
{
	if (connect(fd, sa, len) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

int test_connect_unix(const char *path, unsigned long long rcvbuf)
{
	struct sockaddr_un to = {.sun_family = AF_UNIX};

	if (strlen(path) >= sizeof(to.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(to.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (rcvbuf != 0) {
		int size = rcvbuf > INT_MAX / 2 ? INT_MAX / 2 : (int)rcvbuf;
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	}
	return connect_nonblocking(fd, (struct sockaddr *)&to, sizeof(to));
}

/* Connects to the unix socket standing for PORT. */
static int unix_connect_port(unsigned int port, unsigned long long rcvbuf)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];

	test_unix_path(port, path, sizeof(path));
	return test_connect_unix(path, rcvbuf);
}

int test_connect_port(unsigned int port, int timeout_ms, unsigned long long rcvbuf)
{
	if (test_transport_unix())
		return unix_connect_port(port, rcvbuf);

	struct sockaddr_vm to = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_LOCAL, .svm_port = port};
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv, sizeof(tv));
	if (rcvbuf != 0) {
		/* The minimum first: the kernel keeps min <= size <= max. */
		setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_MIN_SIZE, &rcvbuf, sizeof(rcvbuf));
		if (setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, &rcvbuf, sizeof(rcvbuf)) < 0) {
			int e = errno;
			close(fd);
			errno = e;
			return -1;
		}
	}
	return connect_nonblocking(fd, (struct sockaddr *)&to, sizeof(to));
}
