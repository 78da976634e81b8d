/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsock-fdpass.c - full-transfer scatter-gather I/O with SCM_RIGHTS */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <udo/vsock-fdpass.h>

#include "vsock-tcp-private.h"

/* Control buffer big enough for UDO_VSOCK_FDPASS_MAX descriptors. */
union fd_control {
	struct cmsghdr align;
	char buf[CMSG_SPACE(sizeof(int) * UDO_VSOCK_FDPASS_MAX)];
};

/* Adds up the lengths in IOV. Returns the total, or -1 (errno EINVAL) when
 * it does not fit in ssize_t. */
static ssize_t iov_total(const struct iovec *iov, int iovcnt)
{
	size_t total = 0;

	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > (size_t)SSIZE_MAX - total) {
			errno = EINVAL;
			return -1;
		}
		total += iov[i].iov_len;
	}
	return (ssize_t)total;
}

/* Drops N sent bytes from the front of *IOV and *IOVCNT, skipping emptied
 * entries and shortening a partly sent one. */
static void iov_advance(struct iovec **iov, int *iovcnt, size_t n)
{
	while (*iovcnt > 0 && n >= (*iov)->iov_len) {
		n -= (*iov)->iov_len;
		(*iov)++;
		(*iovcnt)--;
	}
	if (*iovcnt > 0) {
		(*iov)->iov_base = (char *)(*iov)->iov_base + n;
		(*iov)->iov_len -= n;
	}
}

/* Checks a send's arguments and adds up IOV. Returns the total, or -1
 * with errno EINVAL (bad arguments, or fds with no byte to ride on). */
static ssize_t send_check(const struct iovec *iov, int iovcnt, const int *fds, size_t nfds)
{
	ssize_t total;

	if (iovcnt < 0 || iovcnt > IOV_MAX || (iovcnt > 0 && !iov) || nfds > UDO_VSOCK_FDPASS_MAX ||
	    (nfds > 0 && !fds)) {
		errno = EINVAL;
		return -1;
	}
	total = iov_total(iov, iovcnt);
	if (total < 0 || (total == 0 && nfds > 0)) { /* fds need at least one byte to ride on */
		errno = EINVAL;
		return -1;
	}
	return total;
}

/* Attaches the NFDS descriptors in FDS to MSG as SCM_RIGHTS in CONTROL;
 * with NFDS 0, MSG carries no control data. */
static void attach_fds(struct msghdr *msg, union fd_control *control, const int *fds, size_t nfds)
{
	struct cmsghdr *cmsg;

	msg->msg_control = NULL;
	msg->msg_controllen = 0;
	if (nfds == 0)
		return;
	/* CMSG_SPACE pads past CMSG_LEN: no uninitialised byte goes out. */
	memset(control, 0, sizeof(*control));
	msg->msg_control = control->buf;
	msg->msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
	cmsg = CMSG_FIRSTHDR(msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
	memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
}

/* One sendmsg that never waits, FDS attached. Returns the bytes sent
 * (the fds went with them) or an enum udo_vsock_io_status (errno set;
 * the fds did not go and stay the caller's). */
ssize_t udo_vsock_sendv_nonblock(int fd, const struct iovec *iov, int iovcnt, const int *fds, size_t nfds)
{
	union fd_control control;
	struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)(iovcnt > 0 ? iovcnt : 0)};
	ssize_t total = send_check(iov, iovcnt, fds, nfds);
	ssize_t n;

	if (total < 0)
		return UDO_VSOCK_IO_OTHER;
	if (total == 0)
		return 0;
	attach_fds(&msg, &control, fds, nfds);
	do {
		n = sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return udo_vsock_io_classify(errno);
	return n;
}

/* Sends the whole vector, FDS with the first sendmsg. Returns the total
 * or an enum udo_vsock_io_status (errno set). */
ssize_t udo_vsock_sendv_all(int fd, const struct iovec *iov, int iovcnt, const int *fds, size_t nfds)
{
	union fd_control control;
	struct msghdr msg = {0};
	struct iovec *copy, *cur;
	ssize_t total;
	size_t sent = 0;

	total = send_check(iov, iovcnt, fds, nfds);
	if (total < 0)
		return UDO_VSOCK_IO_OTHER;
	if (total == 0)
		return 0;
	copy = malloc(sizeof(*copy) * (size_t)iovcnt);
	if (!copy)
		return UDO_VSOCK_IO_RETRY;
	memcpy(copy, iov, sizeof(*copy) * (size_t)iovcnt);
	cur = copy;
	attach_fds(&msg, &control, fds, nfds);
	while (sent < (size_t)total) {
		ssize_t n;

		msg.msg_iov = cur;
		msg.msg_iovlen = (size_t)iovcnt;
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if ((errno == EAGAIN || errno == EWOULDBLOCK) && udo_vsock_io_wait(fd, POLLOUT, -1) == 0)
				continue;
			int err = errno;
			free(copy);
			errno = err;
			return udo_vsock_io_classify(err);
		}
		/* The descriptors went with the first bytes; never again. */
		msg.msg_control = NULL;
		msg.msg_controllen = 0;
		sent += (size_t)n;
		iov_advance(&cur, &iovcnt, (size_t)n);
	}
	free(copy);
	return total;
}

/* Closes the N descriptors in FDS; keeps errno. */
static void close_fds(const int *fds, size_t n)
{
	int saved = errno;

	for (size_t i = 0; i < n; i++)
		close(fds[i]);
	errno = saved;
}

/* Moves the SCM_RIGHTS descriptors of MSG into FDS (room CAP, *GOT used),
 * closing those that do not fit. Returns false if any were dropped. */
static bool take_fds(struct msghdr *msg, int *fds, size_t cap, size_t *got)
{
	bool fit = !(msg->msg_flags & MSG_CTRUNC);

	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		size_t n;
		int *data = (int *)CMSG_DATA(c);

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int one;

			memcpy(&one, data + i, sizeof(one));
			if (*got < cap) {
				fds[(*got)++] = one;
			} else {
				close_fds(&one, 1);
				fit = false;
			}
		}
	}
	return fit;
}

/* Receives exactly LEN bytes of one message and its descriptors. Returns
 * LEN or an enum udo_vsock_io_status (errno set); a non-blocking socket
 * with nothing to read yet gives UDO_VSOCK_IO_RETRY, a started message is
 * waited for with poll. */
ssize_t udo_vsock_recv_msg(int fd, void *buf, size_t len, int *fds, size_t *nfds)
{
	size_t cap = nfds ? *nfds : 0;
	size_t got = 0, done = 0;
	bool fit = true;

	if (!buf || len > SSIZE_MAX || (cap > 0 && !fds)) {
		errno = EINVAL;
		return UDO_VSOCK_IO_OTHER;
	}
	while (done < len) {
		union fd_control control;
		struct iovec iov = {.iov_base = (char *)buf + done, .iov_len = len - done};
		struct msghdr msg = {
		    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof(control)};
		ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && done > 0 &&
		    udo_vsock_io_wait(fd, POLLIN, -1) == 0)
			continue;
		if (n >= 0 && !take_fds(&msg, fds, cap, &got))
			fit = false;
		if (n <= 0) {
			int err = n == 0 ? UDO_VSOCK_EOF_ERRNO : errno;

			close_fds(fds, got);
			if (nfds)
				*nfds = 0;
			errno = err;
			return n == 0 ? UDO_VSOCK_IO_DISCONNECT : udo_vsock_io_classify(err);
		}
		done += (size_t)n;
	}
	if (nfds)
		*nfds = fit ? got : 0;
	if (!fit) {
		close_fds(fds, got);
		errno = EMSGSIZE;
		return UDO_VSOCK_IO_OTHER;
	}
	return (ssize_t)len;
}
