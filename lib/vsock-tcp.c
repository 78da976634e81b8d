/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsock-tcp.c - AF_VSOCK stream server and client contexts */
#include <errno.h>
#include <fcntl.h>
#include <linux/time_types.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vsock-tcp-private.h"

/* The reason for the calling thread's last failed create, kept here
 * because a failed create frees the context the library allocated. */
static _Thread_local struct udo_log_error_struct create_error;

/* Prepares caller memory VSOCK or allocates a zeroed context, clearing the
 * thread's create error. Returns it, or NULL with errno ENOMEM. */
static struct udo_vsock_tcp *context_init(struct udo_vsock_tcp *vsock)
{
	memset(&create_error, 0, sizeof(create_error));
	if (vsock) {
		memset(vsock, 0, sizeof(*vsock));
	} else {
		vsock = calloc(1, sizeof(*vsock));
		if (!vsock) {
			udo_log_set_error(&create_error, ENOMEM, "allocating a context");
			return NULL;
		}
		vsock->free = true;
	}
	vsock->fd = -1;
	vsock->vcid = UDO_VSOCK_CID_ANY;
	vsock->port = -1;
	return vsock;
}

/* Opens the AF_VSOCK stream socket for VSOCK, blocking as in the seed.
 * Returns 0, or -1 (errno set, error recorded). */
static int open_socket(struct udo_vsock_tcp *vsock)
{
	vsock->fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (vsock->fd < 0) {
		udo_log_set_error(vsock, errno, "socket(AF_VSOCK)");
		return -1;
	}
	return 0;
}

/* Ends a failed create: keeps the reason for the thread, then frees a
 * library-allocated context or leaves the reason in caller memory too;
 * errno is kept. Returns NULL. */
static struct udo_vsock_tcp *create_failed(struct udo_vsock_tcp *vsock)
{
	create_error = vsock->err;
	udo_vsock_tcp_destroy(vsock);
	return NULL;
}

/* Creates, binds and listens on the CID:port the caller gave. */
struct udo_vsock_tcp *udo_vsock_tcp_server_create(struct udo_vsock_tcp *vsock, const void *vsock_info)
{
	const struct udo_vsock_tcp_server_create_info *info = vsock_info;
	socklen_t len = sizeof(vsock->addr);

	vsock = context_init(vsock);
	if (!vsock)
		return NULL;
	vsock->server = true;
	if (!info) {
		errno = EINVAL;
		udo_log_set_error(vsock, UDO_LOG_ERR_INVALID_ARGUMENT, "server: no create info");
		return create_failed(vsock);
	}
	if (open_socket(vsock) < 0)
		return create_failed(vsock);
	vsock->vcid = info->vcid;
	vsock->addr.svm_family = AF_VSOCK;
	vsock->addr.svm_cid = info->vcid;
	vsock->addr.svm_port = (unsigned int)info->port;
	if (bind(vsock->fd, (struct sockaddr *)&vsock->addr, sizeof(vsock->addr)) < 0) {
		udo_log_set_error(vsock, errno, "bind(vsock %u:%u)", info->vcid, (unsigned int)info->port);
		return create_failed(vsock);
	}
	if (listen(vsock->fd, info->connections > 0 ? info->connections : SOMAXCONN) < 0) {
		udo_log_set_error(vsock, errno, "listen(vsock %u:%u)", info->vcid, (unsigned int)info->port);
		return create_failed(vsock);
	}
	if (getsockname(vsock->fd, (struct sockaddr *)&vsock->addr, &len) < 0) {
		udo_log_set_error(vsock, errno, "getsockname(vsock)");
		return create_failed(vsock);
	}
	vsock->port = (int)vsock->addr.svm_port;
	return vsock;
}

/* Accepts one connection. Returns the new fd or -1 (errno set, error
 * recorded in VSOCK). */
int udo_vsock_tcp_server_accept(struct udo_vsock_tcp *vsock, struct sockaddr_vm *addr)
{
	struct sockaddr_vm peer;
	socklen_t len = sizeof(peer);
	int flags = SOCK_CLOEXEC;
	int fd;

	if (!vsock) {
		errno = EINVAL;
		return -1;
	}
	if (vsock->fd < 0 || !vsock->server) {
		errno = vsock->fd < 0 ? EBADF : EINVAL;
		udo_log_set_error(vsock, vsock->fd < 0 ? UDO_LOG_ERR_NO_FD : UDO_LOG_ERR_INVALID_ARGUMENT, "accept: %s",
		                  vsock->fd < 0 ? "no socket" : "not a server");
		return -1;
	}
	if (fcntl(vsock->fd, F_GETFL) & O_NONBLOCK)
		flags |= SOCK_NONBLOCK;
	do {
		fd = accept4(vsock->fd, (struct sockaddr *)&peer, &len, flags);
	} while (fd < 0 && errno == EINTR);
	if (fd < 0) {
		udo_log_set_error(vsock, errno, "accept(vsock port %u)", (unsigned int)vsock->port);
		return -1;
	}
	if (addr)
		*addr = peer;
	return fd;
}

/* Creates a client socket; options are set on it before connecting. */
struct udo_vsock_tcp *udo_vsock_tcp_client_create(struct udo_vsock_tcp *vsock, const void *vsock_info)
{
	const struct udo_vsock_tcp_client_create_info *info = vsock_info;

	vsock = context_init(vsock);
	if (!vsock)
		return NULL;
	if (!info || info->port == UDO_VSOCK_PORT_ANY) {
		errno = EINVAL;
		udo_log_set_error(vsock, UDO_LOG_ERR_INVALID_ARGUMENT, "client: %s",
		                  info ? "no port to connect to" : "no create info");
		return create_failed(vsock);
	}
	if (open_socket(vsock) < 0)
		return create_failed(vsock);
	vsock->vcid = info->vcid;
	vsock->port = info->port;
	vsock->addr.svm_family = AF_VSOCK;
	vsock->addr.svm_cid = info->vcid;
	vsock->addr.svm_port = (unsigned int)info->port;
	return vsock;
}

/* Connects the client, retrying EINTR (vsock cancels an interrupted
 * connect). Returns 0 or -1 (errno set; EINPROGRESS when non-blocking). */
int udo_vsock_tcp_client_connect(struct udo_vsock_tcp *vsock)
{
	int rc;

	if (!vsock) {
		errno = EINVAL;
		return -1;
	}
	if (vsock->fd < 0 || vsock->server) {
		errno = vsock->fd < 0 ? EBADF : EINVAL;
		udo_log_set_error(vsock, vsock->fd < 0 ? UDO_LOG_ERR_NO_FD : UDO_LOG_ERR_INVALID_ARGUMENT,
		                  "connect: %s", vsock->fd < 0 ? "no socket" : "not a client");
		return -1;
	}
	do {
		rc = connect(vsock->fd, (struct sockaddr *)&vsock->addr, sizeof(vsock->addr));
	} while (rc < 0 && errno == EINTR);
	if (rc < 0)
		udo_log_set_error(vsock, errno, "connect(vsock %u:%u)", vsock->vcid, (unsigned int)vsock->port);
	return rc;
}

/* Sends all SIZE bytes on the client's socket; errors are also recorded. */
ssize_t udo_vsock_tcp_client_send_data(struct udo_vsock_tcp *vsock, const void *data, const size_t size,
                                       const void *vsock_info)
{
	ssize_t n;

	if (!vsock) {
		errno = EINVAL;
		return UDO_VSOCK_IO_OTHER;
	}
	if (vsock->fd < 0 || vsock->server) {
		errno = vsock->fd < 0 ? EBADF : ENOTCONN;
		udo_log_set_error(vsock, vsock->fd < 0 ? UDO_LOG_ERR_NO_FD : UDO_LOG_ERR_NOT_CONNECTED, "send: %s",
		                  vsock->fd < 0 ? "no socket" : "not a client");
		return UDO_VSOCK_IO_OTHER;
	}
	n = udo_vsock_tcp_send_data(vsock->fd, data, size, vsock_info);
	if (n < 0)
		udo_log_set_error(vsock, errno, "send(vsock %u:%u)", vsock->vcid, (unsigned int)vsock->port);
	return n;
}

/* The context's socket, or -1. */
int udo_vsock_tcp_get_fd(struct udo_vsock_tcp *vsock)
{
	return vsock ? vsock->fd : -1;
}

/* The CID bound or connected to, or UINT32_MAX. */
uint32_t udo_vsock_tcp_get_vcid(struct udo_vsock_tcp *vsock)
{
	return vsock ? vsock->vcid : UINT32_MAX;
}

/* The port bound or connected to (a u32 in an int), or -1. */
int udo_vsock_tcp_get_port(struct udo_vsock_tcp *vsock)
{
	return vsock ? vsock->port : -1;
}

/* The port bound or connected to, or UINT32_MAX (the int's -1). */
uint32_t udo_vsock_tcp_get_port_u32(struct udo_vsock_tcp *vsock)
{
	return vsock ? (uint32_t)vsock->port : UINT32_MAX;
}

/* The calling thread's last create error; never NULL. */
const struct udo_log_error_struct *udo_vsock_tcp_get_create_error(void)
{
	return &create_error;
}

/* Closes the socket once, frees library memory; errno is preserved. */
void udo_vsock_tcp_destroy(struct udo_vsock_tcp *vsock)
{
	int saved = errno;

	if (!vsock)
		return;
	if (vsock->fd >= 0)
		close(vsock->fd);
	vsock->fd = -1;
	if (vsock->free)
		free(vsock);
	errno = saved;
}

/* sizeof(struct udo_vsock_tcp). */
int udo_vsock_tcp_get_sizeof(void)
{
	return (int)sizeof(struct udo_vsock_tcp);
}

/* Asks /dev/vsock for the local CID; UINT32_MAX on failure. */
uint32_t udo_vsock_tcp_get_local_vcid(void)
{
	unsigned int cid = UINT32_MAX;
	int fd = open("/dev/vsock", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return UINT32_MAX;
	if (ioctl(fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid) < 0)
		cid = UINT32_MAX;
	close(fd);
	return cid;
}

/* Hands the socket to the caller. Returns the fd, or -1 (errno EINVAL
 * or EBADF). */
int udo_vsock_tcp_release_fd(struct udo_vsock_tcp *vsock)
{
	int fd;

	if (!vsock || vsock->fd < 0) {
		errno = vsock ? EBADF : EINVAL;
		return -1;
	}
	fd = vsock->fd;
	vsock->fd = -1;
	return fd;
}

/* Checks VSOCK holds a socket for an option call. Returns 0 or -1 (errno
 * set, error recorded). */
static int need_fd(struct udo_vsock_tcp *vsock, const char *what)
{
	if (!vsock) {
		errno = EINVAL;
		return -1;
	}
	if (vsock->fd < 0) {
		errno = EBADF;
		udo_log_set_error(vsock, UDO_LOG_ERR_NO_FD, "%s: no socket", what);
		return -1;
	}
	return 0;
}

/* Sets or clears O_NONBLOCK on the socket. Returns 0 or -1 (errno set,
 * error recorded). */
int udo_vsock_tcp_set_nonblock(struct udo_vsock_tcp *vsock, bool nonblock)
{
	int flags;

	if (need_fd(vsock, "non-blocking") < 0)
		return -1;
	flags = fcntl(vsock->fd, F_GETFL);
	if (flags < 0 || fcntl(vsock->fd, F_SETFL, nonblock ? flags | O_NONBLOCK : flags & ~O_NONBLOCK) < 0) {
		udo_log_set_error(vsock, errno, "fcntl(O_NONBLOCK)");
		return -1;
	}
	return 0;
}

/* Sets the connect timeout, with the old option for kernels before 5.14.
 * Returns 0 or -1 (errno set, error recorded). */
int udo_vsock_tcp_set_connect_timeout(struct udo_vsock_tcp *vsock, unsigned int timeout_ms)
{
	struct __kernel_sock_timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	struct __kernel_old_timeval old = {.tv_sec = tv.tv_sec, .tv_usec = tv.tv_usec};

	if (need_fd(vsock, "connect timeout") < 0)
		return -1;
	if (setsockopt(vsock->fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT_NEW, &tv, sizeof(tv)) == 0)
		return 0;
	if (errno == ENOPROTOOPT &&
	    setsockopt(vsock->fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT_OLD, &old, sizeof(old)) == 0)
		return 0;
	udo_log_set_error(vsock, errno, "setsockopt(SO_VM_SOCKETS_CONNECT_TIMEOUT, %u ms)", timeout_ms);
	return -1;
}

/* Sets one u64 buffer option unless VALUE is 0. Returns 0 or -1 (errno
 * set, error recorded). */
static int set_u64(struct udo_vsock_tcp *vsock, int option, const char *name, uint64_t value)
{
	if (value == 0 || setsockopt(vsock->fd, AF_VSOCK, option, &value, sizeof(value)) == 0)
		return 0;
	udo_log_set_error(vsock, errno, "setsockopt(%s, %llu)", name, (unsigned long long)value);
	return -1;
}

/* Sets the limits before SIZE, since the kernel clamps the size to
 * [MIN, MAX] on every change. Returns 0 or -1 (errno set, error recorded). */
int udo_vsock_tcp_set_buffer_size(struct udo_vsock_tcp *vsock, uint64_t size, uint64_t min, uint64_t max)
{
	if (need_fd(vsock, "buffer size") < 0)
		return -1;
	if (set_u64(vsock, SO_VM_SOCKETS_BUFFER_MAX_SIZE, "SO_VM_SOCKETS_BUFFER_MAX_SIZE", max) < 0 ||
	    set_u64(vsock, SO_VM_SOCKETS_BUFFER_MIN_SIZE, "SO_VM_SOCKETS_BUFFER_MIN_SIZE", min) < 0 ||
	    set_u64(vsock, SO_VM_SOCKETS_BUFFER_SIZE, "SO_VM_SOCKETS_BUFFER_SIZE", size) < 0)
		return -1;
	return 0;
}

/* Reads the buffer size. Returns 0 or -1 (errno set, error recorded). */
int udo_vsock_tcp_get_buffer_size(struct udo_vsock_tcp *vsock, uint64_t *size)
{
	socklen_t len = sizeof(*size);

	if (need_fd(vsock, "buffer size") < 0)
		return -1;
	if (!size) {
		errno = EINVAL;
		udo_log_set_error(vsock, UDO_LOG_ERR_INVALID_ARGUMENT, "buffer size: no result pointer");
		return -1;
	}
	if (getsockopt(vsock->fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, size, &len) < 0) {
		udo_log_set_error(vsock, errno, "getsockopt(SO_VM_SOCKETS_BUFFER_SIZE)");
		return -1;
	}
	return 0;
}
