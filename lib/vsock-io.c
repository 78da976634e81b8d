/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsock-io.c - send/recv helpers that finish the job and classify errors */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>

#include "vsock-tcp-private.h"

/* Maps errno value ERR to the enum udo_vsock_io_status callers act on. */
int udo_vsock_io_classify(int err)
{
	switch (err) {
	case EPIPE:
	case ECONNRESET:
	case ENOTCONN:
	case ECONNABORTED:
	case ESHUTDOWN:
		return UDO_VSOCK_IO_DISCONNECT;
	case EAGAIN:
#if EWOULDBLOCK != EAGAIN
	case EWOULDBLOCK:
#endif
	case EINTR:
	case ENOBUFS:
	case ENOMEM:
		return UDO_VSOCK_IO_RETRY;
	case ETIMEDOUT:
	case ENETDOWN:
	case ENETUNREACH:
	case ENETRESET:
	case EHOSTDOWN:
	case EHOSTUNREACH:
	case ENODEV:
	case EIO:
		return UDO_VSOCK_IO_BROKEN;
	default:
		return UDO_VSOCK_IO_OTHER;
	}
}

/* Polls FD for EVENTS; returns 0 when ready, -1 with errno (ETIMEDOUT). */
int udo_vsock_io_wait(int fd, short events, int timeout_ms)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	int n;

	do {
		n = poll(&pfd, 1, timeout_ms);
	} while (n < 0 && errno == EINTR);
	if (n == 0)
		errno = ETIMEDOUT;
	return n > 0 ? 0 : -1;
}

/* One recv(2) of up to SIZE bytes; returns the count or a status (< 0). */
ssize_t udo_vsock_tcp_recv_data(const int sock_fd, void *data, const size_t size, const void *vsock_info)
{
	int flags = vsock_info ? *(const int *)vsock_info : 0;
	ssize_t n;

	if (size == 0)
		return 0;
	if (!data) {
		errno = EINVAL;
		return UDO_VSOCK_IO_OTHER;
	}
	do {
		n = recv(sock_fd, data, size, flags | MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n > 0)
		return n;
	if (n == 0) {
		errno = UDO_VSOCK_EOF_ERRNO;
		return UDO_VSOCK_IO_DISCONNECT;
	}
	return udo_vsock_io_classify(errno);
}

/* Sends all SIZE bytes; returns SIZE, the bytes sent before a non-blocking
 * socket filled up, or a status (< 0). */
ssize_t udo_vsock_tcp_send_data(const int sock_fd, const void *data, const size_t size, const void *vsock_info)
{
	int flags = (vsock_info ? *(const int *)vsock_info : 0) | MSG_NOSIGNAL;
	const char *p = data;
	size_t done = 0;

	if (size > 0 && !data) {
		errno = EINVAL;
		return UDO_VSOCK_IO_OTHER;
	}
	while (done < size) {
		ssize_t n = send(sock_fd, p + done, size - done, flags);

		if (n >= 0) {
			done += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if ((errno == EAGAIN || errno == EWOULDBLOCK) && done > 0)
			break;
		return udo_vsock_io_classify(errno);
	}
	return (ssize_t)done;
}
