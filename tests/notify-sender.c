/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * notify-sender.c - sends what a guest's PID 1 sends to the address of its
 * vmm.notify_socket credential, as systemd's sources do it
 * (src/libsystemd/sd-daemon/sd-daemon.c, pid_notify_with_fds_internal(),
 * commit 01cae7a7446e5f2ac43a13d94fdf633511e5ff23): bind a privileged
 * port (1023 down) when allowed, connect with SOCK_SEQPACKET ("vsock:",
 * where the transport has no datagrams, and "vsock-seqpacket:") or
 * SOCK_STREAM ("vsock-stream:"), send the whole message, shutdown
 * SHUT_WR, then wait for the receiver's EOF. Shared by vsock_notify and
 * vmm-notify-send (systemd_boot.sh).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "notify-sender.h"

int notify_sender_connect(int type, unsigned int cid, unsigned int port, char *err, size_t errlen)
{
	int fd = socket(AF_VSOCK, type | SOCK_CLOEXEC, 0);
	struct sockaddr_vm sa = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = 1023};
	struct timeval tv = {5, 0};
	int rc;

	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	while ((rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa))) < 0 && errno == EADDRINUSE && --sa.svm_port > 0)
		;
	/* systemd goes on unbound without the privilege; so do we. */
	if (rc < 0 && errno != EACCES && errno != EPERM) {
		snprintf(err, errlen, "bind: %s", strerror(errno));
		close(fd);
		return -1;
	}
	sa.svm_cid = cid;
	sa.svm_port = port;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(err, errlen, "connect to notify port %u: %s", port, strerror(errno));
		close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

ssize_t notify_sender_send(int type, unsigned int cid, unsigned int port, const char *msg, size_t len, char *err,
                           size_t errlen)
{
	int fd = notify_sender_connect(type, cid, port, err, errlen);
	struct iovec iov = {(void *)msg, len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	char c;

	if (fd < 0)
		return -2;
	ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	if (n != (ssize_t)len || shutdown(fd, SHUT_WR) < 0) {
		snprintf(err, errlen, "%s: %s", n != (ssize_t)len ? "sendmsg" : "shutdown",
		         n < 0 || n == (ssize_t)len ? strerror(errno) : "short send");
		close(fd);
		return -2;
	}
	n = recv(fd, &c, 1, 0);
	close(fd);
	return n;
}
