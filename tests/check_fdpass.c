/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* check_fdpass.c - udo_vsock_sendv_all/_nonblock/udo_vsock_recv_msg and the send/recv
 * helpers over AF_UNIX socketpairs (no vsock needed). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <udo/vsock-fdpass.h>
#include <udo/vsock-tcp.h>

#include "test-util.h"

/* A connected AF_UNIX stream pair in SV. */
static void pair(int sv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

/* The byte at offset I of the test pattern. */
static unsigned char pattern(size_t i)
{
	return (unsigned char)(i * 7 + i / 251);
}

/* Asserts that nobody holds the write end of the pipe whose read end is
 * RFD any more: read sees end of file. */
static void assert_pipe_orphaned(int rfd)
{
	char c;

	ck_assert_int_eq(read(rfd, &c, 1), 0);
}

/* Many iovecs of varied sizes, empty ones included, arrive as one
 * message in order; the caller's vector is left unchanged. */
START_TEST(many_iovecs)
{
	struct iovec iov[64], before[64];
	static unsigned char src[64 * 40], dst[64 * 40];
	size_t off = 0;
	int sv[2];

	pair(sv);
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = pattern(i);
	for (int i = 0; i < 64; i++) {
		size_t len = (size_t)(i % 5) * 13;
		iov[i] = (struct iovec){.iov_base = src + off, .iov_len = len};
		off += len;
	}
	memcpy(before, iov, sizeof(iov));
	ck_assert_int_eq(udo_vsock_sendv_all(sv[0], iov, 64, NULL, 0), (ssize_t)off);
	ck_assert_mem_eq(iov, before, sizeof(iov));
	ck_assert_int_eq(udo_vsock_recv_msg(sv[1], dst, off, NULL, NULL), (ssize_t)off);
	ck_assert_mem_eq(src, dst, off);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

#define BIG (4u << 20)

/* Reads one BIG message with its fd from the socket in ARG and checks
 * every byte and the fd. */
static void big_reader(void *arg)
{
	int fd = *(int *)arg, got_fd;
	size_t nfds = 1;
	unsigned char *buf = malloc(BIG);

	CHILD_REQUIRE(buf);
	/* Let the sender fill the small buffer first: its worth is queued. */
	for (int queued = 0; ioctl(fd, FIONREAD, &queued) == 0 && queued < 4096;)
		usleep(1000); /* poll interval */
	CHILD_REQUIRE(udo_vsock_recv_msg(fd, buf, BIG, &got_fd, &nfds) == (ssize_t)BIG);
	CHILD_REQUIRE(nfds == 1);
	for (size_t i = 0; i < BIG; i++)
		CHILD_REQUIRE(buf[i] == pattern(i));
	CHILD_REQUIRE(write(got_fd, "k", 1) == 1);
	free(buf);
}

/* A message far bigger than SO_SNDBUF is completed across many partial
 * sends, blocking or (polling) non-blocking, its fd sent once. */
static void send_big(bool nonblock)
{
	unsigned char *buf = malloc(BIG);
	struct iovec iov[3];
	int sv[2], p[2], small = 4096;
	char c;
	pid_t pid;

	ck_assert_ptr_nonnull(buf);
	for (size_t i = 0; i < BIG; i++)
		buf[i] = pattern(i);
	pair(sv);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	if (nonblock)
		ck_assert_int_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	pid = child_start(big_reader, &sv[1]);
	iov[0] = (struct iovec){buf, 10};
	iov[1] = (struct iovec){buf + 10, BIG / 2};
	iov[2] = (struct iovec){buf + 10 + BIG / 2, BIG / 2 - 10};
	ck_assert_int_eq(udo_vsock_sendv_all(sv[0], iov, 3, &p[1], 1), (ssize_t)BIG);
	child_wait(pid);
	close(p[1]);
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	assert_pipe_orphaned(p[0]);
	close(p[0]);
	close(sv[0]);
	close(sv[1]);
	free(buf);
}

/* Blocking sender. */
START_TEST(large_blocking)
{
	send_big(false);
}
END_TEST

/* Non-blocking sender: EAGAIN is waited out with poll. */
START_TEST(large_nonblocking)
{
	send_big(true);
}
END_TEST

/* Received descriptors are usable, close-on-exec, and stay with their own
 * message when two messages with fds are queued back to back. */
START_TEST(fds_per_message)
{
	int sv[2], p1[2], p2[2], fds[4];
	size_t nfds;
	char msg[100], c;

	pair(sv);
	ck_assert_int_eq(pipe(p1), 0);
	ck_assert_int_eq(pipe(p2), 0);
	memset(msg, 'a', sizeof(msg));
	ck_assert_int_eq(udo_vsock_sendv_all(sv[0], &(struct iovec){msg, sizeof(msg)}, 1, &p1[1], 1), 100);
	memset(msg, 'b', sizeof(msg));
	ck_assert_int_eq(udo_vsock_sendv_all(sv[0], &(struct iovec){msg, sizeof(msg)}, 1, &p2[1], 1), 100);
	close(p1[1]);
	close(p2[1]);

	nfds = 4;
	ck_assert_int_eq(udo_vsock_recv_msg(sv[1], msg, sizeof(msg), fds, &nfds), 100);
	ck_assert_uint_eq(nfds, 1);
	ck_assert_int_eq(msg[0], 'a');
	ck_assert_int_eq(msg[99], 'a');
	ck_assert_int_ne(fcntl(fds[0], F_GETFD) & FD_CLOEXEC, 0);
	ck_assert_int_eq(write(fds[0], "1", 1), 1);
	close(fds[0]);
	ck_assert_int_eq(read(p1[0], &c, 1), 1);
	ck_assert_int_eq(c, '1');
	assert_pipe_orphaned(p1[0]);

	nfds = 4;
	ck_assert_int_eq(udo_vsock_recv_msg(sv[1], msg, sizeof(msg), fds, &nfds), 100);
	ck_assert_uint_eq(nfds, 1);
	ck_assert_int_eq(msg[0], 'b');
	ck_assert_int_eq(write(fds[0], "2", 1), 1);
	close(fds[0]);
	ck_assert_int_eq(read(p2[0], &c, 1), 1);
	ck_assert_int_eq(c, '2');
	assert_pipe_orphaned(p2[0]);
	close(p1[0]);
	close(p2[0]);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* More fds than the caller has room for: all received ones are closed,
 * EMSGSIZE reported, and the next message is still in step. */
START_TEST(too_many_fds)
{
	int sv[2], p[2], fds[3], got[1];
	size_t nfds = 1;
	char msg[8];

	pair(sv);
	ck_assert_int_eq(pipe(p), 0);
	fds[0] = fds[1] = fds[2] = p[1];
	ck_assert_int_eq(udo_vsock_sendv_all(sv[0], &(struct iovec){"first", 5}, 1, fds, 3), 5);
	ck_assert_int_eq(udo_vsock_sendv_all(sv[0], &(struct iovec){"again", 5}, 1, NULL, 0), 5);
	close(p[1]);
	errno = 0;
	ck_assert_int_eq(udo_vsock_recv_msg(sv[1], msg, 5, got, &nfds), UDO_VSOCK_IO_OTHER);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_uint_eq(nfds, 0);
	assert_pipe_orphaned(p[0]);
	nfds = 1;
	ck_assert_int_eq(udo_vsock_recv_msg(sv[1], msg, 5, got, &nfds), 5);
	ck_assert_mem_eq(msg, "again", 5);
	ck_assert_uint_eq(nfds, 0);
	close(p[0]);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* End of file before or inside a message is DISCONNECT, and fds that
 * came with the cut-off message are closed. */
START_TEST(eof)
{
	int sv[2], p[2], fds[1];
	size_t nfds = 1;
	char msg[16];

	pair(sv);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(udo_vsock_sendv_all(sv[0], &(struct iovec){"half", 4}, 1, &p[1], 1), 4);
	close(p[1]);
	close(sv[0]);
	ck_assert_int_eq(udo_vsock_recv_msg(sv[1], msg, sizeof(msg), fds, &nfds), UDO_VSOCK_IO_DISCONNECT);
	ck_assert_uint_eq(nfds, 0);
	assert_pipe_orphaned(p[0]);
	nfds = 1;
	ck_assert_int_eq(udo_vsock_recv_msg(sv[1], msg, sizeof(msg), fds, &nfds), UDO_VSOCK_IO_DISCONNECT);
	ck_assert_int_eq(udo_vsock_tcp_recv_data(sv[1], msg, sizeof(msg), NULL), UDO_VSOCK_IO_DISCONNECT);
	close(p[0]);
	close(sv[1]);
}
END_TEST

/* Sending to a closed peer is DISCONNECT (EPIPE), with no SIGPIPE even
 * when SIGPIPE has its default, fatal action. */
START_TEST(no_sigpipe)
{
	int sv[2];

	signal(SIGPIPE, SIG_DFL);
	pair(sv);
	close(sv[1]);
	ck_assert_int_eq(udo_vsock_sendv_all(sv[0], &(struct iovec){"x", 1}, 1, NULL, 0), UDO_VSOCK_IO_DISCONNECT);
	ck_assert_int_eq(errno, EPIPE);
	ck_assert_int_eq(udo_vsock_tcp_send_data(sv[0], "x", 1, NULL), UDO_VSOCK_IO_DISCONNECT);
	ck_assert_int_eq(errno, EPIPE);
	close(sv[0]);
}
END_TEST

/* Bad arguments fail with EINVAL before anything is sent; an empty
 * message without fds is a no-op. */
START_TEST(bad_args)
{
	int sv[2], fds[UDO_VSOCK_FDPASS_MAX + 1] = {0};
	char c;

	pair(sv);
	ck_assert_int_eq(udo_vsock_sendv_all(sv[0], &(struct iovec){"x", 1}, 1, fds, UDO_VSOCK_FDPASS_MAX + 1),
	                 UDO_VSOCK_IO_OTHER);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(udo_vsock_sendv_all(sv[0], &(struct iovec){"x", 0}, 1, fds, 1), UDO_VSOCK_IO_OTHER);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(udo_vsock_sendv_all(sv[0], NULL, 1, NULL, 0), UDO_VSOCK_IO_OTHER);
	ck_assert_int_eq(udo_vsock_sendv_all(sv[0], NULL, -1, NULL, 0), UDO_VSOCK_IO_OTHER);
	ck_assert_int_eq(udo_vsock_sendv_all(sv[0], NULL, 0, NULL, 0), 0);
	ck_assert_int_eq(udo_vsock_recv_msg(sv[1], NULL, 1, NULL, NULL), UDO_VSOCK_IO_OTHER);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(udo_vsock_sendv_all(-1, &(struct iovec){"x", 1}, 1, NULL, 0), UDO_VSOCK_IO_OTHER);
	ck_assert_int_eq(errno, EBADF);
	ck_assert_int_eq(udo_vsock_tcp_send_data(sv[0], NULL, 1, NULL), UDO_VSOCK_IO_OTHER);
	ck_assert_int_eq(udo_vsock_tcp_recv_data(sv[1], &c, 0, NULL), 0);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* A non-blocking receiver with nothing queued gets RETRY (EAGAIN). */
START_TEST(nonblocking_empty)
{
	int sv[2];
	char c;

	pair(sv);
	ck_assert_int_eq(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
	ck_assert_int_eq(udo_vsock_recv_msg(sv[1], &c, 1, NULL, NULL), UDO_VSOCK_IO_RETRY);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(udo_vsock_tcp_recv_data(sv[1], &c, 1, NULL), UDO_VSOCK_IO_RETRY);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* Fills the send buffer of the stream socket FD until a one-byte send
 * would block. Returns the bytes queued. */
static size_t fill_send_buffer(int fd)
{
	static char chunk[65536];
	size_t queued = 0, step = sizeof(chunk);

	for (;;) {
		ssize_t n = send(fd, chunk, step, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n > 0) {
			queued += (size_t)n;
			continue;
		}
		ck_assert_int_eq(errno, EAGAIN);
		if (step == 1)
			return queued;
		step = 1; /* the last bytes a smaller send still fits */
	}
}

/* A non-blocking send on a full socket returns RETRY (EAGAIN) having sent
 * nothing: the fd stays the caller's and goes with the retry, once the
 * reader made room; no stale fd rides on the bytes ahead of it. */
START_TEST(nonblock_full_keeps_fd)
{
	static char drain[1 << 22];
	int sv[2], p[2], got[2];
	size_t nfds, queued;
	struct iovec iov = {"HDR1", 4};
	char msg[4], c;

	pair(sv);
	ck_assert_int_eq(pipe(p), 0);
	queued = fill_send_buffer(sv[0]);
	ck_assert_uint_gt(queued, 0);
	ck_assert_uint_le(queued, sizeof(drain));
	errno = 0;
	ck_assert_int_eq(udo_vsock_sendv_nonblock(sv[0], &iov, 1, &p[1], 1), UDO_VSOCK_IO_RETRY);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_ne(fcntl(p[1], F_GETFD), -1); /* still open, still ours */

	/* The filler arrives without any descriptor, and nothing follows it. */
	nfds = 2;
	ck_assert_int_eq(udo_vsock_recv_msg(sv[1], drain, queued, got, &nfds), (ssize_t)queued);
	ck_assert_uint_eq(nfds, 0);
	ck_assert_int_eq(recv(sv[1], msg, sizeof(msg), MSG_DONTWAIT), -1);
	ck_assert_int_eq(errno, EAGAIN);

	/* Room again: the same call now sends the header with the fd. */
	ck_assert_int_eq(udo_vsock_sendv_nonblock(sv[0], &iov, 1, &p[1], 1), 4);
	close(p[1]);
	nfds = 2;
	ck_assert_int_eq(udo_vsock_recv_msg(sv[1], msg, sizeof(msg), got, &nfds), 4);
	ck_assert_mem_eq(msg, "HDR1", 4);
	ck_assert_uint_eq(nfds, 1);
	ck_assert_int_eq(write(got[0], "k", 1), 1);
	close(got[0]);
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	assert_pipe_orphaned(p[0]);
	close(p[0]);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* A message bigger than the send buffer goes in part; the fd rides on
 * the part sent, and the rest follows without one. */
START_TEST(nonblock_partial)
{
	static unsigned char buf[1 << 20], back[1 << 20];
	int sv[2], p[2], got[2], small = 4096;
	size_t nfds = 2;
	ssize_t n;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = pattern(i);
	pair(sv);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	n = udo_vsock_sendv_nonblock(sv[0], &(struct iovec){buf, sizeof(buf)}, 1, &p[1], 1);
	ck_assert_int_gt(n, 0);
	ck_assert_int_lt(n, (ssize_t)sizeof(buf));
	close(p[1]);
	ck_assert_int_eq(udo_vsock_recv_msg(sv[1], back, (size_t)n, got, &nfds), n);
	ck_assert_uint_eq(nfds, 1);
	close(got[0]);
	assert_pipe_orphaned(p[0]);
	/* The rest, with no fd, continues the same byte stream. */
	ck_assert_int_eq(udo_vsock_sendv_nonblock(sv[0], &(struct iovec){buf + n, 1}, 1, NULL, 0), 1);
	nfds = 2;
	ck_assert_int_eq(udo_vsock_recv_msg(sv[1], back + n, 1, got, &nfds), 1);
	ck_assert_uint_eq(nfds, 0);
	ck_assert_mem_eq(back, buf, (size_t)n + 1);
	close(p[0]);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* The non-blocking send checks its arguments like sendv_all, reports a
 * closed peer as DISCONNECT (EPIPE) without SIGPIPE, and closes no fd. */
START_TEST(nonblock_errors)
{
	int sv[2], p[2], fds[UDO_VSOCK_FDPASS_MAX + 1] = {0};

	signal(SIGPIPE, SIG_DFL);
	pair(sv);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(udo_vsock_sendv_nonblock(sv[0], &(struct iovec){"x", 1}, 1, fds, UDO_VSOCK_FDPASS_MAX + 1),
	                 UDO_VSOCK_IO_OTHER);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(udo_vsock_sendv_nonblock(sv[0], &(struct iovec){"x", 0}, 1, &p[1], 1), UDO_VSOCK_IO_OTHER);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(udo_vsock_sendv_nonblock(sv[0], NULL, 1, NULL, 0), UDO_VSOCK_IO_OTHER);
	ck_assert_int_eq(udo_vsock_sendv_nonblock(sv[0], &(struct iovec){"x", 1}, 1, NULL, 1), UDO_VSOCK_IO_OTHER);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(udo_vsock_sendv_nonblock(sv[0], NULL, 0, NULL, 0), 0);
	close(sv[1]);
	ck_assert_int_eq(udo_vsock_sendv_nonblock(sv[0], &(struct iovec){"x", 1}, 1, &p[1], 1),
	                 UDO_VSOCK_IO_DISCONNECT);
	ck_assert_int_eq(errno, EPIPE);
	ck_assert_int_ne(fcntl(p[1], F_GETFD), -1);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
}
END_TEST

/* errno values map to the classes callers act on. */
START_TEST(classify)
{
	static const struct {
		int err, status;
	} table[] = {
	    {EPIPE, UDO_VSOCK_IO_DISCONNECT},
	    {ECONNRESET, UDO_VSOCK_IO_DISCONNECT},
	    {ENOTCONN, UDO_VSOCK_IO_DISCONNECT},
	    {EAGAIN, UDO_VSOCK_IO_RETRY},
	    {EWOULDBLOCK, UDO_VSOCK_IO_RETRY},
	    {ENOBUFS, UDO_VSOCK_IO_RETRY},
	    {ENOMEM, UDO_VSOCK_IO_RETRY},
	    {EINTR, UDO_VSOCK_IO_RETRY},
	    {ETIMEDOUT, UDO_VSOCK_IO_BROKEN},
	    {ENETDOWN, UDO_VSOCK_IO_BROKEN},
	    {EHOSTUNREACH, UDO_VSOCK_IO_BROKEN},
	    {ENODEV, UDO_VSOCK_IO_BROKEN},
	    {EBADF, UDO_VSOCK_IO_OTHER},
	    {EINVAL, UDO_VSOCK_IO_OTHER},
	    {0, UDO_VSOCK_IO_OTHER},
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		ck_assert_int_eq(udo_vsock_io_classify(table[i].err), table[i].status);
}
END_TEST

/* The fdpass test suite. */
static Suite *fdpass_suite(void)
{
	Suite *s = suite_create("vsock-fdpass");
	TCase *tc = tcase_create("fdpass");

	tcase_add_test(tc, many_iovecs);
	tcase_add_test(tc, large_blocking);
	tcase_add_test(tc, large_nonblocking);
	tcase_add_test(tc, fds_per_message);
	tcase_add_test(tc, too_many_fds);
	tcase_add_test(tc, eof);
	tcase_add_test(tc, no_sigpipe);
	tcase_add_test(tc, bad_args);
	tcase_add_test(tc, nonblocking_empty);
	tcase_add_test(tc, classify);
	tcase_add_test(tc, nonblock_full_keeps_fd);
	tcase_add_test(tc, nonblock_partial);
	tcase_add_test(tc, nonblock_errors);
	suite_add_tcase(s, tc);
	return s;
}

/* Runs the suite; exit status 0 when every test passed. */
int main(void)
{
	SRunner *sr = srunner_create(fdpass_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
