/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsock_tcp.c - every udo_vsock_tcp_* function over real AF_VSOCK through
 * CID 1 (VMADDR_CID_LOCAL), error paths and the fixed defects included.
 * Ports are always PORT_ANY and read back, never fixed. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/time_types.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <udo/vsock-addr.h>
#include <udo/vsock-tcp.h>

#include "test-util.h"

/* A listening server on CID:PORT_ANY, non-blocking if NONBLOCK (asserts). */
static struct udo_vsock_tcp *server(uint32_t cid, bool nonblock)
{
	struct udo_vsock_tcp_server_create_info info = {.vcid = cid, .port = UDO_VSOCK_PORT_ANY};
	struct udo_vsock_tcp *s = udo_vsock_tcp_server_create(NULL, &info);

	ck_assert_msg(s != NULL, "server_create: %s", udo_log_get_error(udo_vsock_tcp_get_create_error()));
	if (nonblock)
		ck_assert_msg(udo_vsock_tcp_set_nonblock(s, true) == 0, "set_nonblock: %s", udo_log_get_error(s));
	return s;
}

/* A client of CID 1:PORT, non-blocking if NONBLOCK (asserts). */
static struct udo_vsock_tcp *client(int port, bool nonblock)
{
	struct udo_vsock_tcp_client_create_info info = {.vcid = UDO_VSOCK_CID_LOCAL, .port = port};
	struct udo_vsock_tcp *c = udo_vsock_tcp_client_create(NULL, &info);

	ck_assert_msg(c != NULL, "client_create: %s", udo_log_get_error(udo_vsock_tcp_get_create_error()));
	if (nonblock)
		ck_assert_msg(udo_vsock_tcp_set_nonblock(c, true) == 0, "set_nonblock: %s", udo_log_get_error(c));
	return c;
}

/* Connects a blocking client to S and accepts it: returns the client and
 * the accepted fd in *AFD. */
static struct udo_vsock_tcp *connected(struct udo_vsock_tcp *s, int *afd)
{
	struct udo_vsock_tcp *c = client(udo_vsock_tcp_get_port(s), false);

	ck_assert_msg(udo_vsock_tcp_client_connect(c) == 0, "connect: %s", udo_log_get_error(c));
	*afd = udo_vsock_tcp_server_accept(s, NULL);
	ck_assert_msg(*afd >= 0, "accept: %s", udo_log_get_error(s));
	return c;
}

/* Asserts FD has close-on-exec set and O_NONBLOCK as NONBLOCK says. */
static void assert_fd_flags(int fd, bool nonblock)
{
	ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	ck_assert_int_eq(!!(fcntl(fd, F_GETFL) & O_NONBLOCK), nonblock);
}

/* A server on ANY:PORT_ANY reports the real port (getsockname) and the
 * CID as given; the socket is CLOEXEC and blocking. */
START_TEST(server_port_any)
{
	struct udo_vsock_tcp *s = server(UDO_VSOCK_CID_ANY, false);
	struct sockaddr_vm sa;
	socklen_t len = sizeof(sa);

	ck_assert_int_ge(udo_vsock_tcp_get_fd(s), 0);
	ck_assert_int_eq(getsockname(udo_vsock_tcp_get_fd(s), (struct sockaddr *)&sa, &len), 0);
	ck_assert_int_ne(udo_vsock_tcp_get_port(s), UDO_VSOCK_PORT_ANY);
	ck_assert_int_eq(udo_vsock_tcp_get_port(s), (int)sa.svm_port);
	ck_assert_uint_eq(udo_vsock_tcp_get_vcid(s), UDO_VSOCK_CID_ANY);
	ck_assert_uint_eq(sa.svm_cid, VMADDR_CID_ANY);
	assert_fd_flags(udo_vsock_tcp_get_fd(s), false);
	ck_assert_str_eq(udo_log_get_error(s), "");
	ck_assert_int_eq(udo_log_get_error_code(s), 0);
	udo_vsock_tcp_destroy(s);
}
END_TEST

/* The caller's CID is honoured: LOCAL binds CID 1, a CID that is not ours
 * fails with EADDRNOTAVAIL instead of being replaced by ANY. */
START_TEST(server_cid_honoured)
{
	struct udo_vsock_tcp *s = server(UDO_VSOCK_CID_LOCAL, false);
	struct udo_vsock_tcp_server_create_info info = {.vcid = 4000000, .port = UDO_VSOCK_PORT_ANY};
	alignas(max_align_t) char mem[1024];
	struct sockaddr_vm sa;
	socklen_t len = sizeof(sa);

	ck_assert_int_eq(getsockname(udo_vsock_tcp_get_fd(s), (struct sockaddr *)&sa, &len), 0);
	ck_assert_uint_eq(sa.svm_cid, VMADDR_CID_LOCAL);
	ck_assert_uint_eq(udo_vsock_tcp_get_vcid(s), UDO_VSOCK_CID_LOCAL);
	udo_vsock_tcp_destroy(s);

	ck_assert_int_le(udo_vsock_tcp_get_sizeof(), (int)sizeof(mem));
	ck_assert_ptr_null(udo_vsock_tcp_server_create((struct udo_vsock_tcp *)mem, &info));
	ck_assert_int_eq(errno, EADDRNOTAVAIL);
	ck_assert_int_eq(udo_log_get_error_code(mem), EADDRNOTAVAIL);
	ck_assert_ptr_nonnull(strstr(udo_log_get_error(mem), "4000000"));
	ck_assert_int_eq(udo_vsock_tcp_get_fd((struct udo_vsock_tcp *)mem), -1);
}
END_TEST

/* Client and server exchange data both ways; accept fills the peer
 * address; client getters report the target. */
START_TEST(client_server_data)
{
	struct udo_vsock_tcp *s = server(UDO_VSOCK_CID_ANY, false);
	struct udo_vsock_tcp *c = client(udo_vsock_tcp_get_port(s), false);
	struct sockaddr_vm peer = {0};
	int waitall = MSG_WAITALL, afd;
	char buf[16] = "";

	ck_assert_uint_eq(udo_vsock_tcp_get_vcid(c), UDO_VSOCK_CID_LOCAL);
	ck_assert_int_eq(udo_vsock_tcp_get_port(c), udo_vsock_tcp_get_port(s));
	ck_assert_int_eq(udo_vsock_tcp_client_connect(c), 0);
	afd = udo_vsock_tcp_server_accept(s, &peer);
	ck_assert_int_ge(afd, 0);
	assert_fd_flags(afd, false);
	ck_assert_uint_eq(peer.svm_family, AF_VSOCK);
	ck_assert_uint_eq(peer.svm_cid, VMADDR_CID_LOCAL);

	ck_assert_int_eq(udo_vsock_tcp_client_send_data(c, "hello", 5, NULL), 5);
	ck_assert_int_eq(udo_vsock_tcp_recv_data(afd, buf, 5, &waitall), 5);
	ck_assert_str_eq(buf, "hello");
	ck_assert_int_eq(udo_vsock_tcp_send_data(afd, "world!", 6, NULL), 6);
	ck_assert_int_eq(udo_vsock_tcp_recv_data(udo_vsock_tcp_get_fd(c), buf, 6, &waitall), 6);
	ck_assert_str_eq(buf, "world!");
	ck_assert_int_eq(udo_vsock_tcp_send_data(afd, "", 0, NULL), 0);
	ck_assert_int_eq(udo_vsock_tcp_recv_data(afd, buf, 0, NULL), 0);

	/* The peer closing is end of file: DISCONNECT. */
	udo_vsock_tcp_destroy(c);
	ck_assert_int_eq(udo_vsock_tcp_recv_data(afd, buf, sizeof(buf), NULL), UDO_VSOCK_IO_DISCONNECT);
	close(afd);
	udo_vsock_tcp_destroy(s);
}
END_TEST

/* Ports above INT_MAX (the kernel's PORT_ANY picks them too) travel as
 * negative ints and work for bind, get_port and connect. */
START_TEST(high_port)
{
	struct udo_vsock_tcp_server_create_info info = {.vcid = UDO_VSOCK_CID_ANY};
	struct udo_vsock_tcp *s = NULL, *c;
	int afd;

	srand((unsigned int)getpid());
	for (int i = 0; i < 10 && !s; i++) {
		info.port = (int)(0x80000000u + (unsigned int)rand() % 0x7ffffff0u);
		s = udo_vsock_tcp_server_create(NULL, &info);
	}
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(udo_vsock_tcp_get_port(s), info.port);
	ck_assert_int_lt(udo_vsock_tcp_get_port(s), -1);
	c = connected(s, &afd);
	ck_assert_int_eq(udo_vsock_tcp_get_port(c), info.port);
	close(afd);
	udo_vsock_tcp_destroy(c);
	udo_vsock_tcp_destroy(s);
}
END_TEST

/* NONBLOCK servers accept non-blocking fds (accept4) and say EAGAIN when
 * nobody waits; NONBLOCK clients connect with EINPROGRESS. */
START_TEST(nonblocking)
{
	struct udo_vsock_tcp *s = server(UDO_VSOCK_CID_ANY, true);
	struct udo_vsock_tcp *c = client(udo_vsock_tcp_get_port(s), true);
	struct pollfd pfd = {.fd = udo_vsock_tcp_get_fd(s), .events = POLLIN};
	int soerr = -1, afd;
	socklen_t len = sizeof(soerr);

	assert_fd_flags(udo_vsock_tcp_get_fd(s), true);
	assert_fd_flags(udo_vsock_tcp_get_fd(c), true);
	ck_assert_int_eq(udo_vsock_tcp_server_accept(s, NULL), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(udo_log_get_error_code(s), EAGAIN);

	if (udo_vsock_tcp_client_connect(c) < 0)
		ck_assert_int_eq(errno, EINPROGRESS);
	ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
	afd = udo_vsock_tcp_server_accept(s, NULL);
	ck_assert_int_ge(afd, 0);
	assert_fd_flags(afd, true);
	pfd = (struct pollfd){.fd = udo_vsock_tcp_get_fd(c), .events = POLLOUT};
	ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
	ck_assert_int_eq(getsockopt(pfd.fd, SOL_SOCKET, SO_ERROR, &soerr, &len), 0);
	ck_assert_int_eq(soerr, 0);

	/* Nobody reads: a big send stops when the buffer is full and says
	 * how much went out. */
	size_t big = 8u << 20;
	char *buf = calloc(1, big);
	ck_assert_ptr_nonnull(buf);
	ssize_t n = udo_vsock_tcp_send_data(pfd.fd, buf, big, NULL);
	ck_assert_int_gt(n, 0);
	ck_assert_int_lt(n, (ssize_t)big);
	ck_assert_int_eq(udo_vsock_tcp_send_data(pfd.fd, buf, big, NULL), UDO_VSOCK_IO_RETRY);
	free(buf);
	/* ... and blocking again on request. */
	ck_assert_int_eq(udo_vsock_tcp_set_nonblock(c, false), 0);
	assert_fd_flags(pfd.fd, false);
	close(afd);
	udo_vsock_tcp_destroy(c);
	udo_vsock_tcp_destroy(s);
}
END_TEST

#define BIG (4u << 20)

/* Reads BIG bytes from the fd in ARG in odd-sized pieces and checks them. */
static void big_reader(void *arg)
{
	int fd = *(int *)arg;
	size_t got = 0;
	char buf[3001];

	while (got < BIG) {
		ssize_t n = udo_vsock_tcp_recv_data(fd, buf, sizeof(buf), NULL);

		CHILD_REQUIRE(n > 0);
		for (ssize_t i = 0; i < n; i++)
			CHILD_REQUIRE(buf[i] == (char)((got + (size_t)i) % 251));
		got += (size_t)n;
	}
}

/* A send much larger than the vsock buffer comes back only when all of
 * it has gone, and arrives intact. */
START_TEST(send_all)
{
	struct udo_vsock_tcp *s = server(UDO_VSOCK_CID_ANY, false);
	int afd;
	struct udo_vsock_tcp *c = connected(s, &afd);
	char *buf = malloc(BIG);
	pid_t pid;

	ck_assert_ptr_nonnull(buf);
	for (size_t i = 0; i < BIG; i++)
		buf[i] = (char)(i % 251);
	pid = child_start(big_reader, &afd);
	ck_assert_int_eq(udo_vsock_tcp_client_send_data(c, buf, BIG, NULL), (ssize_t)BIG);
	child_wait(pid);
	free(buf);
	close(afd);
	udo_vsock_tcp_destroy(c);
	udo_vsock_tcp_destroy(s);
}
END_TEST

static int alarm_pipe[2]; /* on_alarm tells late_writer that it ran */

/* Signal handler that only interrupts, and says so on alarm_pipe. */
static void on_alarm(int sig)
{
	(void)sig;
	(void)!write(alarm_pipe[1], "a", 1);
}

/* Writes to the fd in ARG after the parent's recv got interrupted. */
static void late_writer(void *arg)
{
	char a;

	CHILD_REQUIRE(read(alarm_pipe[0], &a, 1) == 1);
	CHILD_REQUIRE(write(*(int *)arg, "late", 4) == 4);
}

/* A signal interrupting a blocked recv (no SA_RESTART) is retried. */
START_TEST(recv_eintr)
{
	struct udo_vsock_tcp *s = server(UDO_VSOCK_CID_ANY, false);
	int afd;
	struct udo_vsock_tcp *c = connected(s, &afd);
	struct sigaction sa = {.sa_handler = on_alarm};
	struct itimerval it = {.it_value = {.tv_usec = 50 * 1000}};
	int cfd = udo_vsock_tcp_get_fd(c);
	int waitall = MSG_WAITALL;
	char buf[8] = "";
	pid_t pid;

	ck_assert_int_eq(pipe(alarm_pipe), 0);
	ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
	pid = child_start(late_writer, &cfd);
	ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
	ck_assert_int_eq(udo_vsock_tcp_recv_data(afd, buf, 4, &waitall), 4);
	ck_assert_str_eq(buf, "late");
	child_wait(pid);
	close(alarm_pipe[0]);
	close(alarm_pipe[1]);
	close(afd);
	udo_vsock_tcp_destroy(c);
	udo_vsock_tcp_destroy(s);
}
END_TEST

/* Sending after the peer shut down is DISCONNECT (EPIPE) and, thanks to
 * MSG_NOSIGNAL, does not kill the process (SIGPIPE at its default). Linux
 * vsock raises SIGPIPE only since 6.3; check_fdpass covers it on AF_UNIX. */
START_TEST(no_sigpipe)
{
	struct udo_vsock_tcp *s = server(UDO_VSOCK_CID_ANY, false);
	int afd;
	struct udo_vsock_tcp *c = connected(s, &afd);
	ssize_t n = 0;

	signal(SIGPIPE, SIG_DFL);
	ck_assert_int_eq(shutdown(afd, SHUT_RDWR), 0);
	for (int i = 0; i < 500 && n >= 0; i++) {
		n = udo_vsock_tcp_client_send_data(c, "x", 1, NULL);
		if (n >= 0)
			usleep(10 * 1000); /* poll interval: until the reset is seen */
	}
	ck_assert_int_eq(n, UDO_VSOCK_IO_DISCONNECT);
	ck_assert_int_eq(errno, EPIPE);
	ck_assert_int_eq(udo_log_get_error_code(c), EPIPE);
	/* Our own side shut for writing: EPIPE at once. */
	ck_assert_int_eq(shutdown(afd, SHUT_WR), 0);
	ck_assert_int_eq(udo_vsock_tcp_send_data(afd, "x", 1, NULL), UDO_VSOCK_IO_DISCONNECT);
	ck_assert_int_eq(errno, EPIPE);
	close(afd);
	udo_vsock_tcp_destroy(c);
	udo_vsock_tcp_destroy(s);
}
END_TEST

/* Caller memory (malloc or a char buffer, garbage-filled) is initialised
 * by the library and never freed by it; destroy twice is safe. */
START_TEST(caller_memory)
{
	int size = udo_vsock_tcp_get_sizeof();
	unsigned char *mem = malloc((size_t)size);
	alignas(max_align_t) char buf[1024];
	struct udo_vsock_tcp_server_create_info sinfo = {.vcid = UDO_VSOCK_CID_ANY, .port = UDO_VSOCK_PORT_ANY};
	struct udo_vsock_tcp *s, *c;
	int afd;

	ck_assert_int_ge(size, (int)sizeof(struct udo_log_error_struct));
	ck_assert_int_le(size, (int)sizeof(buf));
	ck_assert_ptr_nonnull(mem);
	memset(mem, 0xa5, (size_t)size);
	memset(buf, 0x5a, sizeof(buf));
	s = udo_vsock_tcp_server_create((struct udo_vsock_tcp *)mem, &sinfo);
	ck_assert_ptr_eq(s, mem);
	ck_assert_str_eq(udo_log_get_error(s), "");
	struct udo_vsock_tcp_client_create_info cinfo = {.vcid = UDO_VSOCK_CID_LOCAL,
	                                                 .port = udo_vsock_tcp_get_port(s)};
	c = udo_vsock_tcp_client_create((struct udo_vsock_tcp *)buf, &cinfo);
	ck_assert_ptr_eq(c, (void *)buf);
	ck_assert_int_eq(udo_vsock_tcp_client_connect(c), 0);
	afd = udo_vsock_tcp_server_accept(s, NULL);
	ck_assert_int_ge(afd, 0);
	close(afd);

	udo_vsock_tcp_destroy(c);
	ck_assert_int_eq(udo_vsock_tcp_get_fd(c), -1);
	udo_vsock_tcp_destroy(c);
	udo_vsock_tcp_destroy(s);
	udo_vsock_tcp_destroy(s);
	free(mem); /* a library free() would make this a double free */
}
END_TEST

/* A failed create on caller memory keeps the reason and code there. */
START_TEST(caller_memory_failure)
{
	alignas(max_align_t) char mem[1024];
	struct udo_vsock_tcp_client_create_info badc = {.vcid = UDO_VSOCK_CID_LOCAL, .port = -1};

	memset(mem, 0x11, sizeof(mem));
	ck_assert_ptr_null(udo_vsock_tcp_client_create((struct udo_vsock_tcp *)mem, &badc));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(udo_log_get_error_code(mem), UDO_LOG_ERR_INVALID_ARGUMENT);
	ck_assert_ptr_nonnull(strstr(udo_log_get_error(mem), "port"));
	ck_assert_ptr_null(udo_vsock_tcp_server_create((struct udo_vsock_tcp *)mem, NULL));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_nonnull(strstr(udo_log_get_error(mem), "info"));
	ck_assert_ptr_null(udo_vsock_tcp_client_create(NULL, NULL));
	ck_assert_int_eq(errno, EINVAL);
	udo_vsock_tcp_destroy((struct udo_vsock_tcp *)mem);
}
END_TEST

/* destroy keeps errno; release_fd hands the socket over so destroy
 * leaves it open. */
START_TEST(destroy_release)
{
	struct udo_vsock_tcp *s = server(UDO_VSOCK_CID_ANY, false);
	struct udo_vsock_tcp *t = server(UDO_VSOCK_CID_ANY, false);
	int fd = udo_vsock_tcp_get_fd(t);

	errno = EXDEV;
	udo_vsock_tcp_destroy(s);
	ck_assert_int_eq(errno, EXDEV);
	udo_vsock_tcp_destroy(NULL);
	ck_assert_int_eq(errno, EXDEV);

	ck_assert_int_eq(udo_vsock_tcp_release_fd(t), fd);
	ck_assert_int_eq(udo_vsock_tcp_get_fd(t), -1);
	errno = 0;
	ck_assert_int_eq(udo_vsock_tcp_release_fd(t), -1);
	ck_assert_int_eq(errno, EBADF);
	ck_assert_int_eq(udo_vsock_tcp_server_accept(t, NULL), -1);
	ck_assert_int_eq(errno, EBADF);
	ck_assert_int_eq(udo_log_get_error_code(t), UDO_LOG_ERR_NO_FD);
	ck_assert_int_eq(udo_vsock_tcp_set_connect_timeout(t, 10), -1);
	ck_assert_int_eq(udo_vsock_tcp_set_nonblock(t, true), -1);
	ck_assert_int_eq(errno, EBADF);
	ck_assert_int_eq(udo_vsock_tcp_set_buffer_size(t, 1, 0, 0), -1);
	ck_assert_int_eq(udo_vsock_tcp_client_send_data(t, "x", 1, NULL), UDO_VSOCK_IO_OTHER);
	udo_vsock_tcp_destroy(t);
	ck_assert_int_ge(fcntl(fd, F_GETFD), 0);
	close(fd);
}
END_TEST

/* fd 0 is a valid socket: everything works and destroy closes it. */
START_TEST(fd_zero)
{
	struct udo_vsock_tcp *s, *c;
	int afd;
	char buf[4];

	close(0);
	s = server(UDO_VSOCK_CID_ANY, false);
	ck_assert_int_eq(udo_vsock_tcp_get_fd(s), 0);
	c = connected(s, &afd);
	ck_assert_int_eq(udo_vsock_tcp_client_send_data(c, "zero", 4, NULL), 4);
	ck_assert_int_eq(udo_vsock_tcp_recv_data(afd, buf, 4, &(int){MSG_WAITALL}), 4);
	ck_assert_mem_eq(buf, "zero", 4);
	udo_vsock_tcp_destroy(s);
	ck_assert_int_eq(fcntl(0, F_GETFD), -1);
	ck_assert_int_eq(errno, EBADF);
	close(afd);
	udo_vsock_tcp_destroy(c);
}
END_TEST

/* Binding a CID:port that is taken fails with EADDRINUSE. */
START_TEST(addr_in_use)
{
	struct udo_vsock_tcp *s = server(UDO_VSOCK_CID_ANY, false);
	struct udo_vsock_tcp_server_create_info info = {.vcid = UDO_VSOCK_CID_ANY, .port = udo_vsock_tcp_get_port(s)};
	alignas(max_align_t) char mem[1024];

	ck_assert_ptr_null(udo_vsock_tcp_server_create((struct udo_vsock_tcp *)mem, &info));
	ck_assert_int_eq(errno, EADDRINUSE);
	ck_assert_int_eq(udo_log_get_error_code(mem), EADDRINUSE);
	ck_assert_ptr_null(udo_vsock_tcp_server_create(NULL, &info));
	ck_assert_int_eq(errno, EADDRINUSE);
	udo_vsock_tcp_destroy(s);
}
END_TEST

/* Without CAP_NET_BIND_SERVICE (as nobody) a port below 1024 is EACCES. */
static void unprivileged_bind(void *arg)
{
	struct udo_vsock_tcp_server_create_info info = {.vcid = UDO_VSOCK_CID_ANY, .port = 1023};
	void *mem = malloc((size_t)udo_vsock_tcp_get_sizeof());

	(void)arg;
	CHILD_REQUIRE(mem && setgid(65534) == 0 && setuid(65534) == 0);
	CHILD_REQUIRE(udo_vsock_tcp_server_create(mem, &info) == NULL);
	CHILD_REQUIRE(errno == EACCES);
	CHILD_REQUIRE(udo_log_get_error_code(mem) == EACCES);
	CHILD_REQUIRE(strstr(udo_log_get_error(mem), "1023") != NULL);
	free(mem);
}

/* The EACCES case runs in a child that gave up root. */
START_TEST(privileged_port)
{
	if (geteuid() != 0)
		return; /* already unprivileged: the child would fail setuid */
	child_wait(child_start(unprivileged_bind, NULL));
}
END_TEST

/* The connect timeout round-trips through getsockopt; connecting where
 * nothing listens fails fast with a reset/refusal, not a timeout. */
START_TEST(connect_timeout)
{
	struct udo_vsock_tcp *s = server(UDO_VSOCK_CID_ANY, false);
	int port = udo_vsock_tcp_get_port(s);
	struct udo_vsock_tcp_client_create_info info = {.vcid = UDO_VSOCK_CID_LOCAL, .port = port};
	struct __kernel_sock_timeval tv;
	socklen_t len = sizeof(tv);
	struct timespec t0, t1;
	struct udo_vsock_tcp *c;

	udo_vsock_tcp_destroy(s); /* now nothing listens on PORT */
	c = udo_vsock_tcp_client_create(NULL, &info);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(udo_vsock_tcp_set_connect_timeout(c, 1500), 0);
	ck_assert_int_eq(getsockopt(udo_vsock_tcp_get_fd(c), AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT_NEW, &tv, &len),
	                 0);
	ck_assert_int_eq(tv.tv_sec, 1);
	ck_assert_int_eq(tv.tv_usec, 500000);
	ck_assert_int_eq(udo_vsock_tcp_set_connect_timeout(c, 250), 0);
	ck_assert_int_eq(getsockopt(udo_vsock_tcp_get_fd(c), AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT_NEW, &tv, &len),
	                 0);
	ck_assert_int_eq(tv.tv_sec, 0);
	ck_assert_int_eq(tv.tv_usec, 250000);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(udo_vsock_tcp_client_connect(c), -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_msg(errno == ECONNRESET || errno == ECONNREFUSED, "errno %d", errno);
	ck_assert_int_eq(udo_log_get_error_code(c), errno);
	ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 2);
	udo_vsock_tcp_destroy(c);
}
END_TEST

/* Buffer size options round-trip; 0 leaves a value unchanged. */
START_TEST(buffer_size)
{
	struct udo_vsock_tcp *c = client(1234, false);
	int fd = udo_vsock_tcp_get_fd(c);
	uint64_t size = 0, v;
	socklen_t len = sizeof(v);

	ck_assert_int_eq(udo_vsock_tcp_set_buffer_size(c, 65536, 4096, 1 << 20), 0);
	ck_assert_int_eq(udo_vsock_tcp_get_buffer_size(c, &size), 0);
	ck_assert_uint_eq(size, 65536);
	ck_assert_int_eq(getsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_MIN_SIZE, &v, &len), 0);
	ck_assert_uint_eq(v, 4096);
	ck_assert_int_eq(getsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_MAX_SIZE, &v, &len), 0);
	ck_assert_uint_eq(v, 1 << 20);
	ck_assert_int_eq(udo_vsock_tcp_set_buffer_size(c, 0, 0, 0), 0);
	ck_assert_int_eq(udo_vsock_tcp_get_buffer_size(c, &size), 0);
	ck_assert_uint_eq(size, 65536);
	ck_assert_int_eq(udo_vsock_tcp_get_buffer_size(c, NULL), -1);
	ck_assert_int_eq(udo_log_get_error_code(c), UDO_LOG_ERR_INVALID_ARGUMENT);
	udo_vsock_tcp_destroy(c);
}
END_TEST

/* Calls on the wrong kind of context, or on none, fail cleanly. */
START_TEST(misuse)
{
	struct udo_vsock_tcp *s = server(UDO_VSOCK_CID_ANY, false);
	struct udo_vsock_tcp *c = client(udo_vsock_tcp_get_port(s), false);

	ck_assert_int_eq(udo_vsock_tcp_server_accept(c, NULL), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(udo_vsock_tcp_client_connect(s), -1);
	ck_assert_int_eq(udo_log_get_error_code(s), UDO_LOG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(udo_vsock_tcp_client_send_data(s, "x", 1, NULL), UDO_VSOCK_IO_OTHER);
	ck_assert_int_eq(udo_log_get_error_code(s), UDO_LOG_ERR_NOT_CONNECTED);
	/* Not connected yet: the kernel says ENOTCONN. */
	ck_assert_int_eq(udo_vsock_tcp_client_send_data(c, "x", 1, NULL), UDO_VSOCK_IO_DISCONNECT);
	ck_assert_int_eq(errno, ENOTCONN);
	ck_assert_int_eq(udo_log_get_error_code(c), ENOTCONN);

	ck_assert_int_eq(udo_vsock_tcp_server_accept(NULL, NULL), -1);
	ck_assert_int_eq(udo_vsock_tcp_client_connect(NULL), -1);
	ck_assert_int_eq(udo_vsock_tcp_client_send_data(NULL, "x", 1, NULL), UDO_VSOCK_IO_OTHER);
	ck_assert_int_eq(udo_vsock_tcp_get_fd(NULL), -1);
	ck_assert_uint_eq(udo_vsock_tcp_get_vcid(NULL), UINT32_MAX);
	ck_assert_int_eq(udo_vsock_tcp_get_port(NULL), -1);
	errno = 0;
	ck_assert_int_eq(udo_vsock_tcp_release_fd(NULL), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(udo_vsock_tcp_set_connect_timeout(NULL, 1), -1);
	ck_assert_int_eq(udo_vsock_tcp_set_nonblock(NULL, true), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(udo_vsock_tcp_get_buffer_size(NULL, &(uint64_t){0}), -1);
	ck_assert_str_eq(udo_log_get_error(NULL), "");
	ck_assert_int_eq(udo_log_get_error_code(NULL), UDO_LOG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(udo_vsock_tcp_recv_data(-1, &(char){0}, 1, NULL), UDO_VSOCK_IO_OTHER);
	ck_assert_int_eq(errno, EBADF);
	udo_vsock_tcp_destroy(c);
	udo_vsock_tcp_destroy(s);
}
END_TEST

/* The local CID comes from /dev/vsock, UINT32_MAX without it. */
START_TEST(local_vcid)
{
	uint32_t cid = udo_vsock_tcp_get_local_vcid();

	if (access("/dev/vsock", R_OK) != 0)
		ck_assert_uint_eq(cid, UINT32_MAX);
	ck_assert_uint_eq(udo_vsock_tcp_get_local_vcid(), cid);
}
END_TEST

/* udo_vsock_addr_listen/_connect over vsock: listen on any port, read it
 * back, connect within a timeout; flags give non-blocking fds. */
START_TEST(addr_vsock)
{
	struct udo_vsock_addr addr;
	struct sockaddr_vm sa;
	socklen_t len = sizeof(sa);
	char err[256] = "", text[64];
	int lfd, cfd, afd;

	ck_assert_int_eq(udo_vsock_addr_parse(&addr, "vsock:any:any", err, sizeof(err)), 0);
	lfd = udo_vsock_addr_listen(&addr, 4, UDO_VSOCK_ADDR_NONBLOCK, err, sizeof(err));
	ck_assert_msg(lfd >= 0, "%s", err);
	assert_fd_flags(lfd, true);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
	snprintf(text, sizeof(text), "vsock:local:%u", sa.svm_port);
	ck_assert_int_eq(udo_vsock_addr_parse(&addr, text, err, sizeof(err)), 0);
	ck_assert_int_eq(udo_vsock_addr_listen(&addr, 4, 0, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, EADDRINUSE);
	ck_assert_ptr_nonnull(strstr(err, "bind"));

	cfd = udo_vsock_addr_connect(&addr, 1000, UDO_VSOCK_ADDR_NONBLOCK, err, sizeof(err));
	ck_assert_msg(cfd >= 0, "%s", err);
	assert_fd_flags(cfd, true);
	ck_assert_int_eq(poll(&(struct pollfd){.fd = lfd, .events = POLLIN}, 1, 5000), 1);
	afd = accept(lfd, NULL, NULL);
	ck_assert_int_ge(afd, 0);
	close(afd);
	close(cfd);
	close(lfd);

	/* Nothing listens any more: refused or reset, with a message. */
	ck_assert_int_eq(udo_vsock_addr_connect(&addr, 1000, 0, err, sizeof(err)), -1);
	ck_assert_msg(errno == ECONNRESET || errno == ECONNREFUSED, "errno %d", errno);
	ck_assert_ptr_nonnull(strstr(err, "connect"));
	ck_assert_int_eq(udo_vsock_addr_parse(&addr, "vsock:local:any", err, sizeof(err)), 0);
	ck_assert_int_eq(udo_vsock_addr_connect(&addr, 0, 0, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

/* The create_info structs are exactly the seed's: a server has vcid, port
 * and connections, a client vcid and port, and nothing else that a caller
 * who sets only those would leave as garbage. */
START_TEST(seed_info_layout)
{
	ck_assert_uint_eq(sizeof(struct udo_vsock_tcp_server_create_info), 3 * sizeof(int));
	ck_assert_uint_eq(offsetof(struct udo_vsock_tcp_server_create_info, vcid), 0);
	ck_assert_uint_eq(offsetof(struct udo_vsock_tcp_server_create_info, port), sizeof(int));
	ck_assert_uint_eq(offsetof(struct udo_vsock_tcp_server_create_info, connections), 2 * sizeof(int));
	ck_assert_uint_eq(sizeof(struct udo_vsock_tcp_client_create_info), 2 * sizeof(int));
	ck_assert_uint_eq(offsetof(struct udo_vsock_tcp_client_create_info, vcid), 0);
	ck_assert_uint_eq(offsetof(struct udo_vsock_tcp_client_create_info, port), sizeof(int));
}
END_TEST

/* Written as the seed documents it: the info structs live on memory that
 * is not zeroed, and only the seed's fields are set. The sockets are the
 * seed's blocking ones, and connect, accept and send work. */
START_TEST(seed_info_garbage)
{
	struct udo_vsock_tcp_server_create_info *sinfo = malloc(sizeof(*sinfo));
	struct udo_vsock_tcp_client_create_info cinfo;
	struct udo_vsock_tcp *server, *client;
	int waitall = MSG_WAITALL, fd;
	char buf[8] = "";

	ck_assert_ptr_nonnull(sinfo);
	memset(sinfo, 0xff, sizeof(*sinfo));
	memset(&cinfo, 0xff, sizeof(cinfo));
	sinfo->vcid = UDO_VSOCK_CID_ANY;
	sinfo->port = UDO_VSOCK_PORT_ANY;
	sinfo->connections = 4;
	server = udo_vsock_tcp_server_create(NULL, sinfo);
	ck_assert_msg(server != NULL, "server_create: %s", strerror(errno));
	assert_fd_flags(udo_vsock_tcp_get_fd(server), false);

	cinfo.vcid = UDO_VSOCK_CID_LOCAL;
	cinfo.port = udo_vsock_tcp_get_port(server);
	client = udo_vsock_tcp_client_create(NULL, &cinfo);
	ck_assert_msg(client != NULL, "client_create: %s", strerror(errno));
	assert_fd_flags(udo_vsock_tcp_get_fd(client), false);
	ck_assert_msg(udo_vsock_tcp_client_connect(client) == 0, "connect: %s", udo_log_get_error(client));
	fd = udo_vsock_tcp_server_accept(server, NULL);
	ck_assert_msg(fd >= 0, "accept: %s", udo_log_get_error(server));
	assert_fd_flags(fd, false);
	ck_assert_int_eq(udo_vsock_tcp_client_send_data(client, "seed", 4, NULL), 4);
	ck_assert_int_eq(udo_vsock_tcp_recv_data(fd, buf, 4, &waitall), 4);
	ck_assert_str_eq(buf, "seed");
	close(fd);
	udo_vsock_tcp_destroy(client);
	udo_vsock_tcp_destroy(server);
	free(sinfo);
}
END_TEST

/* Seed-style PORT_ANY servers, many times over: the kernel picks random
 * 32-bit ports, often above INT_MAX. get_port_u32() returns each one as
 * getsockname(2) does and never its failure value; the seed's get_port()
 * returns the same 32 bits in an int and is -1 only for failure. */
START_TEST(seed_port_getters)
{
	struct udo_vsock_tcp_server_create_info sinfo;
	struct udo_vsock_tcp_client_create_info cinfo;
	struct udo_vsock_tcp *server, *client;
	int high = 0, fd;

	memset(&sinfo, 0xff, sizeof(sinfo));
	memset(&cinfo, 0xff, sizeof(cinfo));
	sinfo.vcid = UDO_VSOCK_CID_ANY;
	sinfo.connections = 1;
	srand((unsigned int)getpid());
	for (int i = 0; i < 40 || !high; i++) {
		struct sockaddr_vm sa;
		socklen_t len = sizeof(sa);

		/* Should 40 random ports all be low (about 1 in 2^40), bind a
		 * high one explicitly. */
		sinfo.port = i < 40 ? UDO_VSOCK_PORT_ANY : (int)(0x80000000u + (unsigned int)rand() % 0x7ffffff0u);
		server = udo_vsock_tcp_server_create(NULL, &sinfo);
		if (!server && i >= 40 && errno == EADDRINUSE)
			continue;
		ck_assert_msg(server != NULL, "server_create: %s", strerror(errno));
		ck_assert_int_eq(getsockname(udo_vsock_tcp_get_fd(server), (struct sockaddr *)&sa, &len), 0);
		ck_assert_uint_eq(udo_vsock_tcp_get_port_u32(server), sa.svm_port);
		ck_assert_uint_ne(udo_vsock_tcp_get_port_u32(server), UINT32_MAX);
		ck_assert_int_eq(udo_vsock_tcp_get_port(server), (int)sa.svm_port);
		ck_assert_int_ne(udo_vsock_tcp_get_port(server), -1);
		if (sa.svm_port <= INT32_MAX) {
			udo_vsock_tcp_destroy(server);
			continue;
		}
		high++;
		/* A client of a port above INT_MAX connects and reports it. */
		cinfo.vcid = UDO_VSOCK_CID_LOCAL;
		cinfo.port = udo_vsock_tcp_get_port(server);
		client = udo_vsock_tcp_client_create(NULL, &cinfo);
		ck_assert_ptr_nonnull(client);
		ck_assert_uint_eq(udo_vsock_tcp_get_port_u32(client), sa.svm_port);
		ck_assert_msg(udo_vsock_tcp_client_connect(client) == 0, "connect: %s", udo_log_get_error(client));
		fd = udo_vsock_tcp_server_accept(server, NULL);
		ck_assert_int_ge(fd, 0);
		close(fd);
		udo_vsock_tcp_destroy(client);
		udo_vsock_tcp_destroy(server);
	}
	ck_assert_uint_eq(udo_vsock_tcp_get_port_u32(NULL), UINT32_MAX);
}
END_TEST

/* Creates a server on a taken port in a thread: its failure must not
 * touch the create error of the thread that reads it. */
static void *failing_create(void *arg)
{
	struct udo_vsock_tcp_server_create_info *info = arg;

	return udo_vsock_tcp_server_create(NULL, info) == NULL &&
	               udo_log_get_error_code(udo_vsock_tcp_get_create_error()) == EADDRINUSE
	           ? arg
	           : NULL;
}

/* A create that fails on a context the library allocated frees it, but
 * the reason stays readable through udo_vsock_tcp_get_create_error(),
 * per thread; a create that succeeds leaves it empty. */
START_TEST(seed_create_error_kept)
{
	struct udo_vsock_tcp_server_create_info sinfo;
	struct udo_vsock_tcp_client_create_info cinfo;
	struct udo_vsock_tcp *server, *other;
	const struct udo_log_error_struct *err = udo_vsock_tcp_get_create_error();
	alignas(max_align_t) char mem[1024];
	pthread_t thread;
	void *result;

	ck_assert_ptr_nonnull(err);
	memset(&sinfo, 0xff, sizeof(sinfo));
	memset(&cinfo, 0xff, sizeof(cinfo));
	sinfo.vcid = UDO_VSOCK_CID_ANY;
	sinfo.port = UDO_VSOCK_PORT_ANY;
	sinfo.connections = 1;
	server = udo_vsock_tcp_server_create(NULL, &sinfo);
	ck_assert_ptr_nonnull(server);
	ck_assert_str_eq(udo_log_get_error(err), "");
	ck_assert_int_eq(udo_log_get_error_code(err), 0);

	/* The port is taken: bind fails, and the reason outlives the context. */
	sinfo.port = udo_vsock_tcp_get_port(server);
	ck_assert_ptr_null(udo_vsock_tcp_server_create(NULL, &sinfo));
	ck_assert_int_eq(errno, EADDRINUSE);
	ck_assert_ptr_eq(udo_vsock_tcp_get_create_error(), err);
	ck_assert_int_eq(udo_log_get_error_code(err), EADDRINUSE);
	ck_assert_msg(strstr(udo_log_get_error(err), "bind") != NULL, "error: %s", udo_log_get_error(err));
	ck_assert_ptr_nonnull(strstr(udo_log_get_error(err), strerror(EADDRINUSE)));

	/* Another thread's failure is its own. */
	cinfo.vcid = UDO_VSOCK_CID_LOCAL;
	cinfo.port = UDO_VSOCK_PORT_ANY;
	ck_assert_ptr_null(udo_vsock_tcp_client_create(NULL, &cinfo));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(pthread_create(&thread, NULL, failing_create, &sinfo), 0);
	ck_assert_int_eq(pthread_join(thread, &result), 0);
	ck_assert_ptr_eq(result, &sinfo);
	ck_assert_int_eq(udo_log_get_error_code(err), UDO_LOG_ERR_INVALID_ARGUMENT);
	ck_assert_ptr_nonnull(strstr(udo_log_get_error(err), "port"));

	/* Caller memory keeps the reason too, and the same text is here. */
	ck_assert_ptr_null(udo_vsock_tcp_server_create((struct udo_vsock_tcp *)mem, &sinfo));
	ck_assert_int_eq(udo_log_get_error_code(err), EADDRINUSE);
	ck_assert_str_eq(udo_log_get_error(err), udo_log_get_error(mem));

	/* A create that succeeds clears it. */
	sinfo.port = UDO_VSOCK_PORT_ANY;
	other = udo_vsock_tcp_server_create(NULL, &sinfo);
	ck_assert_ptr_nonnull(other);
	ck_assert_str_eq(udo_log_get_error(err), "");
	ck_assert_int_eq(udo_log_get_error_code(err), 0);
	udo_vsock_tcp_destroy(other);
	udo_vsock_tcp_destroy(server);
}
END_TEST

/* The vsock_tcp test suite. */
static Suite *tcp_suite(void)
{
	Suite *s = suite_create("vsock-tcp");
	TCase *tc = tcase_create("tcp");

	tcase_add_test(tc, server_port_any);
	tcase_add_test(tc, server_cid_honoured);
	tcase_add_test(tc, client_server_data);
	tcase_add_test(tc, high_port);
	tcase_add_test(tc, nonblocking);
	tcase_add_test(tc, send_all);
	tcase_add_test(tc, recv_eintr);
	tcase_add_test(tc, no_sigpipe);
	tcase_add_test(tc, caller_memory);
	tcase_add_test(tc, caller_memory_failure);
	tcase_add_test(tc, destroy_release);
	tcase_add_test(tc, fd_zero);
	tcase_add_test(tc, addr_in_use);
	tcase_add_test(tc, privileged_port);
	tcase_add_test(tc, connect_timeout);
	tcase_add_test(tc, buffer_size);
	tcase_add_test(tc, misuse);
	tcase_add_test(tc, local_vcid);
	tcase_add_test(tc, addr_vsock);
	suite_add_tcase(s, tc);

	/* Code written from the seed's documentation, as its users write it. */
	tc = tcase_create("seed");
	tcase_add_test(tc, seed_info_layout);
	tcase_add_test(tc, seed_info_garbage);
	tcase_add_test(tc, seed_port_getters);
	tcase_add_test(tc, seed_create_error_kept);
	suite_add_tcase(s, tc);
	return s;
}

/* Runs the suite; exit status 0 when every test passed. */
int main(void)
{
	SRunner *sr = srunner_create(tcp_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
