/* vsock-addr-private.h - pieces of udo_vsock_addr_connect shared between files */
#ifndef UDO_VSOCK_ADDR_PRIVATE_H
#define UDO_VSOCK_ADDR_PRIVATE_H

#include <stdint.h>
#include <time.h>

#include <udo/vsock-addr.h>

#include "log-private.h"

/* Milliseconds left until DEADLINE (CLOCK_MONOTONIC), 0 when passed; -1
 * when DEADLINE is NULL (no limit). Cannot fail. */
UDO_PRIVATE int udo_vsock_deadline_left(const struct timespec *deadline);

/* Does the hybrid-vsock "CONNECT PORT" handshake on the connected AF_UNIX
 * socket FD before DEADLINE (NULL: none), reading the "OK" line unless
 * FLAGS has UDO_VSOCK_ADDR_MUX_NO_OK. Returns 0, or -1 with errno
 * (ECONNREFUSED, EPROTO, ETIMEDOUT, ...) and a message in ERR. */
UDO_PRIVATE int udo_vsock_mux_handshake(int fd, uint32_t port, unsigned int flags, const struct timespec *deadline,
                                        char *err, size_t errlen);

#endif /* UDO_VSOCK_ADDR_PRIVATE_H */
