/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* notify-addr.h - notify-listen addresses (systemd's vmm.notify_socket forms) */
#ifndef UDO_VSOCKD_NOTIFY_ADDR_H
#define UDO_VSOCKD_NOTIFY_ADDR_H

#include <stddef.h>

#include <udo/vsock-addr.h>

/* At most this many notify-listen lines. */
#define NOTIFY_LISTEN_MAX 4

/* Parses a notify-listen address, systemd's spellings: vsock:CID:PORT
 * (SOCK_SEQPACKET here), vsock-seqpacket:, vsock-stream:, vsock-dgram:,
 * into *A. Returns the socket type, or -1 with WHY. */
int notify_addr_parse(const char *text, struct udo_vsock_addr *a, char *why, size_t whylen);

/* notify_addr_parse, writing the canonical text to CANON. Returns 0, or
 * -1 with WHY. */
int notify_listen_parse(const char *text, char *canon, size_t canonlen, char *why, size_t whylen);

#endif /* UDO_VSOCKD_NOTIFY_ADDR_H */
