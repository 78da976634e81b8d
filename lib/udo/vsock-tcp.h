/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udo/vsock-tcp.h - AF_VSOCK stream sockets (the udo_vsock_tcp_* API) */
#ifndef UDO_VSOCK_TCP_H
#define UDO_VSOCK_TCP_H

#include <linux/vm_sockets.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <udo/log.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Results, in the whole of libudo-vsock: a function that can fail returns
 * a value >= 0 on success (0, a count, a descriptor or a non-negative
 * enumerator) and a negative one with errno set on failure: -1, or a
 * negative enumerator of the enum it returns (enum udo_vsock_io_status
 * below, whose UDO_VSOCK_IO_OTHER is -1), so "< 0" is always the test. A
 * function returning a pointer returns NULL with errno set. An ERR buffer
 * or a context's udo_log error adds a message to errno, never replaces
 * it. The seed's getters keep their documented values for "none" (-1,
 * UINT32_MAX); predicates (bool) and void functions cannot fail.
 */

/* Special CIDs and ports, as in vsock(7); repeated here so that callers
 * need not include <linux/vm_sockets.h>. */
#define UDO_VSOCK_CID_ANY        UINT32_MAX
#define UDO_VSOCK_CID_HYPERVISOR 0u
#define UDO_VSOCK_CID_LOCAL      1u
#define UDO_VSOCK_CID_HOST       2u
#define UDO_VSOCK_PORT_ANY       (-1)

/* Ports are u32 (the kernel picks random ones above INT_MAX for PORT_ANY).
 * The seed's int port holds the same 32 bits, so (uint32_t)port is the
 * real port and only -1 (UDO_VSOCK_PORT_ANY, VMADDR_PORT_ANY) is special;
 * udo_vsock_tcp_get_port_u32() returns the port as it is. */

/* Opaque context; its size is udo_vsock_tcp_get_sizeof(). */
struct udo_vsock_tcp;

/* How to create a server: bind VCID:PORT, listen with a backlog of
 * CONNECTIONS. VCID may be UDO_VSOCK_CID_ANY, _LOCAL or a specific CID
 * and is honoured as given; PORT may be UDO_VSOCK_PORT_ANY. Exactly the
 * seed's fields: options beyond them are setters on the context. */
struct udo_vsock_tcp_server_create_info {
	uint32_t vcid;
	int port;
	int connections; /* listen(2) backlog; <= 0 means SOMAXCONN */
};

/* How to create a client that connects to VCID:PORT. Exactly the seed's
 * fields: udo_vsock_tcp_set_nonblock() and _set_connect_timeout() apply
 * between create and connect. */
struct udo_vsock_tcp_client_create_info {
	uint32_t vcid;
	int port;
};

/*
 * Error classes of the I/O helpers: every failing send/recv returns one
 * of these (all < 0) and leaves errno set to the underlying cause.
 */
enum udo_vsock_io_status {
	UDO_VSOCK_IO_OTHER = -1,      /* any other socket error (EBADF, EINVAL, ...) */
	UDO_VSOCK_IO_DISCONNECT = -2, /* peer closed: EOF, EPIPE, ECONNRESET, ENOTCONN */
	UDO_VSOCK_IO_RETRY = -3,      /* temporary: EAGAIN, ENOBUFS, ENOMEM */
	UDO_VSOCK_IO_BROKEN = -4,     /* the transport failed: ETIMEDOUT, ENETDOWN, ... */
};

/* Creates, binds and listens; VSOCK may be caller memory of
 * udo_vsock_tcp_get_sizeof() bytes or NULL to allocate. Returns the
 * context or NULL (errno set; the reason is kept in caller memory and in
 * udo_vsock_tcp_get_create_error()). */
struct udo_vsock_tcp *udo_vsock_tcp_server_create(struct udo_vsock_tcp *vsock, const void *vsock_info);

/* Accepts one connection (accept4, SOCK_CLOEXEC, EINTR retried); fills
 * ADDR if not NULL. Returns the new fd or -1 (errno set). */
int udo_vsock_tcp_server_accept(struct udo_vsock_tcp *vsock, struct sockaddr_vm *addr);

/* Creates a client socket for a later udo_vsock_tcp_client_connect();
 * VSOCK and the result as for udo_vsock_tcp_server_create(). */
struct udo_vsock_tcp *udo_vsock_tcp_client_create(struct udo_vsock_tcp *vsock, const void *vsock_info);

/* Connects the client. Returns 0 or -1 (errno set; EINPROGRESS for a
 * non-blocking client whose connect is under way). */
int udo_vsock_tcp_client_connect(struct udo_vsock_tcp *vsock);

/* Sends all SIZE bytes on the client (see udo_vsock_tcp_send_data). */
ssize_t udo_vsock_tcp_client_send_data(struct udo_vsock_tcp *vsock, const void *data, const size_t size,
                                       const void *vsock_info);

/* The context's socket, or -1. */
int udo_vsock_tcp_get_fd(struct udo_vsock_tcp *vsock);

/* The CID bound (server) or connected to (client), or UINT32_MAX. */
uint32_t udo_vsock_tcp_get_vcid(struct udo_vsock_tcp *vsock);

/* The seed's getter: the port bound (the real one, also after PORT_ANY)
 * or connected to, as its 32 bits in an int, or -1. Other negative values
 * are ports above INT_MAX (see above); prefer udo_vsock_tcp_get_port_u32(). */
int udo_vsock_tcp_get_port(struct udo_vsock_tcp *vsock);

/* The same port as a u32, or UINT32_MAX (VMADDR_PORT_ANY, never a port
 * bound or connected to) for a NULL context or one without a port. */
uint32_t udo_vsock_tcp_get_port_u32(struct udo_vsock_tcp *vsock);

/* The reason the calling thread's last server or client create failed,
 * for udo_log_get_error() and udo_log_get_error_code(); "" and 0 after a
 * create that succeeded. Never NULL; valid until the thread exits. */
const struct udo_log_error_struct *udo_vsock_tcp_get_create_error(void);

/* Closes the socket once and frees the context if the library allocated
 * it; caller memory is left to the caller. errno is preserved. */
void udo_vsock_tcp_destroy(struct udo_vsock_tcp *vsock);

/* sizeof(struct udo_vsock_tcp), for caller-allocated contexts. */
int udo_vsock_tcp_get_sizeof(void);

/* The local CID from IOCTL_VM_SOCKETS_GET_LOCAL_CID on /dev/vsock, or UINT32_MAX. */
uint32_t udo_vsock_tcp_get_local_vcid(void);

/* One recv(2) of up to SIZE bytes, EINTR retried, never SIGPIPE.
 * VSOCK_INFO, if not NULL, points to an int of extra recv(2) flags
 * (MSG_WAITALL receives all SIZE bytes). Returns the bytes received
 * (>0), 0 only for SIZE 0, or an enum udo_vsock_io_status; end of file
 * is UDO_VSOCK_IO_DISCONNECT. */
ssize_t udo_vsock_tcp_recv_data(const int sock_fd, void *data, const size_t size, const void *vsock_info);

/* Sends all SIZE bytes: partial sends are continued, EINTR retried,
 * MSG_NOSIGNAL always set; VSOCK_INFO, if not NULL, points to an int of
 * extra send(2) flags. Returns SIZE, or on a non-blocking socket that
 * fills up the bytes sent so far (> 0), or an enum udo_vsock_io_status. */
ssize_t udo_vsock_tcp_send_data(const int sock_fd, const void *data, const size_t size, const void *vsock_info);

/* Gives up ownership of the socket: returns the fd and leaves the
 * context without one, so destroy will not close it; or -1 with errno
 * EINVAL (NULL context) or EBADF (it holds no socket). */
int udo_vsock_tcp_release_fd(struct udo_vsock_tcp *vsock);

/* Makes the socket non-blocking (O_NONBLOCK) or blocking again: set it
 * between client create and connect, or on a server before accepting
 * (accepted fds inherit it). Returns 0 or -1. */
int udo_vsock_tcp_set_nonblock(struct udo_vsock_tcp *vsock, bool nonblock);

/* SO_VM_SOCKETS_CONNECT_TIMEOUT for the next connect. Returns 0 or -1. */
int udo_vsock_tcp_set_connect_timeout(struct udo_vsock_tcp *vsock, unsigned int timeout_ms);

/* SO_VM_SOCKETS_BUFFER_SIZE and its MIN/MAX companions; 0 leaves one
 * unchanged. Returns 0 or -1. */
int udo_vsock_tcp_set_buffer_size(struct udo_vsock_tcp *vsock, uint64_t size, uint64_t min, uint64_t max);

/* Reads SO_VM_SOCKETS_BUFFER_SIZE into *SIZE. Returns 0 or -1. */
int udo_vsock_tcp_get_buffer_size(struct udo_vsock_tcp *vsock, uint64_t *size);

/* Maps an errno value to an enum udo_vsock_io_status. */
int udo_vsock_io_classify(int err);

#ifdef __cplusplus
}
#endif

#endif /* UDO_VSOCK_TCP_H */
