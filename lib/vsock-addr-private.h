/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsock-addr-private.h - pieces of udo_vsock_addr_connect shared between files */
#ifndef UDO_VSOCK_ADDR_PRIVATE_H
#define UDO_VSOCK_ADDR_PRIVATE_H

#include <stddef.h>
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

/* Parses the hybrid-vsock reply LINE of LEN bytes (its newline left off):
 * exactly "OK " and the decimal host port, 1 to 10 digits, at most
 * UINT32_MAX. Returns 0 with *HOST_PORT set, or -1 when malformed. A pure
 * function (no I/O): LINE need not be NUL-terminated. */
UDO_PRIVATE int udo_vsock_mux_parse_reply(const char *line, size_t len, uint32_t *host_port);

#endif /* UDO_VSOCK_ADDR_PRIVATE_H */
