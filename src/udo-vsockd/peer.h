/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* peer.h - who is on the other end of a connection */
#ifndef UDO_VSOCKD_PEER_H
#define UDO_VSOCKD_PEER_H

#include <stdint.h>

#include <udo/vsock-addr.h>

/* The identity of a peer. For vsock it is the CID and port the kernel
 * reported at accept; for unix listeners the identity configured for the
 * listener. Nothing a client says changes it. A vsock peer's name is
 * the config's for its CID, looked up at accept and after each reload. */
struct peer {
	enum udo_vsock_addr_kind transport;
	uint32_t cid;                         /* vsock: the peer's CID; unix: UINT32_MAX */
	uint32_t port;                        /* vsock: the peer's port; unix: 0 */
	char identity[64];                    /* unix: configured identity */
	char name[33];                        /* vsock: its [peer] name in the config in force; "": none */
	char text[80];                        /* for logs: "cid 3 port 1034" or "unix:admin" */
	char listener[UDO_VSOCK_ADDR_STRLEN]; /* the listener's address text */
};

#endif /* UDO_VSOCKD_PEER_H */
