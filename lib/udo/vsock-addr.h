/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udo/vsock-addr.h - the address syntax shared by the library, daemon and CLI */
#ifndef UDO_VSOCK_ADDR_H
#define UDO_VSOCK_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h> /* struct sockaddr_storage, socklen_t */

#ifdef __cplusplus
extern "C" {
#endif

/*
 *   vsock:CID:PORT        CID a number or any|local|host|hypervisor,
 *                          PORT a number or any
 *   unix:PATH             PATH absolute or relative; @NAME is abstract
 *   vsock-mux:PATH:PORT   hybrid vsock (Firecracker, Cloud Hypervisor):
 *                          the VMM's AF_UNIX socket and the guest port
 */
enum udo_vsock_addr_kind {
	UDO_VSOCK_ADDR_VSOCK = 1,
	UDO_VSOCK_ADDR_UNIX = 2,
	UDO_VSOCK_ADDR_VSOCK_MUX = 3,
};

#define UDO_VSOCK_ADDR_PATH_MAX 108 /* sizeof(sun_path), NUL included */
#define UDO_VSOCK_ADDR_STRLEN   (16 + UDO_VSOCK_ADDR_PATH_MAX + 16)

struct udo_vsock_addr {
	enum udo_vsock_addr_kind kind;
	uint32_t cid;                       /* vsock: CID in host byte order */
	uint32_t port;                      /* vsock, vsock-mux: port (UINT32_MAX is "any") */
	char path[UDO_VSOCK_ADDR_PATH_MAX]; /* unix, vsock-mux; "@x" is abstract */
};

/* Parses TEXT into *ADDR. Returns 0, or -1 with errno EINVAL and a
 * message in ERR (if ERR is not NULL and ERRLEN > 0). */
int udo_vsock_addr_parse(struct udo_vsock_addr *addr, const char *text, char *err, size_t errlen);

/* Writes the canonical text of ADDR (names for the special CIDs) into
 * BUF. Returns its length, or -1 with errno ENOSPC or EINVAL. */
int udo_vsock_addr_format(const struct udo_vsock_addr *addr, char *buf, size_t len);

/* Fills *SS with the socket address of ADDR and *LEN with its length: a
 * struct sockaddr_vm for vsock, a struct sockaddr_un for unix and for
 * vsock-mux (the VMM's socket). A unix path's length counts its final
 * NUL; "@name" is abstract, exactly as long as the name. Returns 0, or
 * -1 with errno EINVAL. */
int udo_vsock_addr_to_sockaddr(const struct udo_vsock_addr *addr, struct sockaddr_storage *ss, socklen_t *len);

/* Fills *ADDR (cleared first) from the AF_VSOCK or AF_UNIX socket address
 * SA of LEN bytes, as accept(2) or getsockname(2) give it. Returns 0, or
 * -1 with errno EAFNOSUPPORT (another family) or EINVAL (an unnamed unix
 * socket, or a name no udo address can hold). */
int udo_vsock_addr_from_sockaddr(struct udo_vsock_addr *addr, const struct sockaddr *sa, socklen_t len);

/* Flags for udo_vsock_addr_listen/_connect. */
#define UDO_VSOCK_ADDR_NONBLOCK  0x1u /* the returned fd is O_NONBLOCK */
#define UDO_VSOCK_ADDR_MUX_NO_OK 0x2u /* vsock-mux: the VMM sends no "OK <port>" line */
#define UDO_VSOCK_ADDR_NOWAIT    0x4u /* connect, unix only: never wait (EAGAIN if the backlog is full) */

/* Longest "OK <host_port>" line a hybrid-vsock VMM may send. */
#define UDO_VSOCK_MUX_REPLY_MAX 64

/* Creates a listening socket (SOCK_CLOEXEC) for a vsock or unix ADDR
 * with BACKLOG. A unix path is not unlinked first. Returns the fd or -1
 * (errno set; message in ERR). */
int udo_vsock_addr_listen(const struct udo_vsock_addr *addr, int backlog, unsigned int flags, char *err, size_t errlen);

/* Connects to ADDR within TIMEOUT_MS (0: no limit of ours), doing the
 * hybrid-vsock CONNECT handshake for vsock-mux. Returns the connected
 * fd or -1 (errno set; ETIMEDOUT on timeout; message in ERR). With
 * UDO_VSOCK_ADDR_NOWAIT (unix only, else EINVAL) the socket is
 * non-blocking from the start and a listener whose backlog is full
 * fails at once with EAGAIN. */
int udo_vsock_addr_connect(const struct udo_vsock_addr *addr, unsigned int timeout_ms, unsigned int flags, char *err,
                           size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* UDO_VSOCK_ADDR_H */
