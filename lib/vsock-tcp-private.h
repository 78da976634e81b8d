/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsock-tcp-private.h - the udo_vsock_tcp context and shared I/O helpers */
#ifndef UDO_VSOCK_TCP_PRIVATE_H
#define UDO_VSOCK_TCP_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>

#include <udo/vsock-tcp.h>

#include "log-private.h"

/* errno reported with UDO_VSOCK_IO_DISCONNECT when the peer closed (EOF). */
#define UDO_VSOCK_EOF_ERRNO ENOTCONN

struct udo_vsock_tcp {
	struct udo_log_error_struct err; /* first: udo_log_get_error() reads it */
	bool free;                       /* the library allocated the context */
	int fd;                          /* the socket, or -1 */
	uint32_t vcid;                   /* CID bound (server) or to connect to (client) */
	int port;                        /* port bound (the real one) or to connect to */
	struct sockaddr_vm addr;         /* the address bound or to connect to */
	bool server;                     /* a listening socket, not a client */
};

/* Waits with poll(2) until FD has EVENTS, for at most TIMEOUT_MS (< 0: no
 * limit), retrying EINTR. Returns 0, or -1 with errno (ETIMEDOUT). */
UDO_PRIVATE int udo_vsock_io_wait(int fd, short events, int timeout_ms);

#endif /* UDO_VSOCK_TCP_PRIVATE_H */
