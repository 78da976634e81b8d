/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udo/vsock-fdpass.h - scatter-gather I/O with fd passing: full-transfer and non-blocking */
#ifndef UDO_VSOCK_FDPASS_H
#define UDO_VSOCK_FDPASS_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <udo/vsock-tcp.h> /* enum udo_vsock_io_status, the results */

#ifdef __cplusplus
extern "C" {
#endif

#define UDO_VSOCK_FDPASS_MAX 16 /* most fds one message may carry */

/*
 * Sends every byte of IOV[0..IOVCNT) on the stream socket FD, continuing
 * partial sends and retrying EINTR (MSG_NOSIGNAL). The NFDS descriptors
 * in FDS (may be 0) travel as SCM_RIGHTS with the first sendmsg, so they
 * belong to this message. IOV is not modified. Returns the total sent or
 * an enum udo_vsock_io_status (< 0, errno set). A non-blocking socket is
 * waited on with poll until the message is complete.
 */
ssize_t udo_vsock_sendv_all(int fd, const struct iovec *iov, int iovcnt, const int *fds, size_t nfds);

/*
 * One sendmsg of IOV[0..IOVCNT) on the stream socket FD that never waits
 * (MSG_DONTWAIT, MSG_NOSIGNAL, EINTR retried), for event loops. The NFDS
 * descriptors in FDS (may be 0) go as SCM_RIGHTS with the bytes sent.
 * Returns the bytes sent, which may be fewer than the total: the
 * descriptors went with them, and the caller sends the rest without
 * them. Or an enum udo_vsock_io_status (< 0, errno set): nothing was
 * sent and the descriptors did not go; UDO_VSOCK_IO_RETRY (errno EAGAIN)
 * when FD has no room now, to try again with the same FDS once it is
 * writable. FDS are never closed: the caller still owns its copies.
 */
ssize_t udo_vsock_sendv_nonblock(int fd, const struct iovec *iov, int iovcnt, const int *fds, size_t nfds);

/*
 * Receives exactly LEN bytes of one message into BUF: the first recvmsg
 * asks for LEN bytes only, so it never reads across the boundary into
 * the next message, and takes up to *NFDS descriptors (MSG_CMSG_CLOEXEC)
 * into FDS; *NFDS is set to how many came. If more descriptors came than
 * *NFDS allows, or the control message was truncated, ALL received
 * descriptors are closed, *NFDS is 0, the message's bytes are still
 * consumed (so the next message lines up) and the result is
 * UDO_VSOCK_IO_OTHER with errno EMSGSIZE. Returns LEN or an enum
 * udo_vsock_io_status; end of file before LEN bytes is
 * UDO_VSOCK_IO_DISCONNECT (errno ENOTCONN) and closes any fds received.
 * On a non-blocking socket with nothing queued the result is
 * UDO_VSOCK_IO_RETRY; once a message has begun it is waited for.
 */
ssize_t udo_vsock_recv_msg(int fd, void *buf, size_t len, int *fds, size_t *nfds);

#ifdef __cplusplus
}
#endif

#endif /* UDO_VSOCK_FDPASS_H */
