/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udo/vsock-handoff.h - handing a client connection to a local service */
#ifndef UDO_VSOCK_HANDOFF_H
#define UDO_VSOCK_HANDOFF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <udo/vsock-addr.h> /* enum udo_vsock_addr_kind, the transport */
#include <udo/vsock-tcp.h>  /* enum udo_vsock_io_status, the results */

#ifdef __cplusplus
extern "C" {
#endif

/*
 * udo-vsockd's `handoff` handler passes a client's connection to a local
 * service over an AF_UNIX stream socket. One message per service
 * connection, in host byte order:
 *
 *   header (UDO_VSOCK_HANDOFF_HEADER_SIZE bytes), carrying the client's
 *   socket as SCM_RIGHTS:
 *     char     magic[8]      "UDOHOFF1"
 *     uint32_t version       UDO_VSOCK_HANDOFF_VERSION
 *     uint32_t transport     1 vsock, 2 unix, 3 vsock-mux (enum udo_vsock_addr_kind)
 *     uint32_t peer_cid      as the kernel reported it (UINT32_MAX for unix)
 *     uint32_t peer_port
 *     uint32_t identity_len  0..63: unix identity or VM name
 *     uint32_t argc          1..UDO_VSOCK_HANDOFF_ARGC_MAX: the request's words
 *     uint32_t args_len      bytes of argc NUL-terminated words
 *     uint32_t pending_len   bytes the client sent after its request
 *   identity, args, pending: the three variable parts, back to back.
 *
 * The daemon has already sent the client "OK" when the service gets the
 * socket; from then on the service alone talks to the client, starting
 * with the pending bytes, which the daemon read but did not handle.
 */
#define UDO_VSOCK_HANDOFF_MAGIC        "UDOHOFF1"
#define UDO_VSOCK_HANDOFF_VERSION      1u
#define UDO_VSOCK_HANDOFF_HEADER_SIZE  40u
#define UDO_VSOCK_HANDOFF_IDENTITY_MAX 63u
#define UDO_VSOCK_HANDOFF_ARGC_MAX     65536u
#define UDO_VSOCK_HANDOFF_ARGS_MAX     (1u << 20)
#define UDO_VSOCK_HANDOFF_PENDING_MAX  (16u << 20)

/* A received (or to be sent) hand-off. */
struct udo_vsock_handoff {
	int fd; /* the client's connection; -1 if none */
	uint32_t transport;
	uint32_t peer_cid;
	uint32_t peer_port;
	char identity[UDO_VSOCK_HANDOFF_IDENTITY_MAX + 1];
	uint32_t argc;
	char **argv;            /* argc words and a NULL, in one allocation */
	unsigned char *pending; /* pending_len bytes, or NULL */
	size_t pending_len;
};

/* Sizes announced by a header, for reading the variable part. */
struct udo_vsock_handoff_sizes {
	uint32_t identity_len;
	uint32_t args_len;
	uint32_t pending_len;
};

/* Writes the header for H, whose words take ARGS_LEN bytes, into BUF of
 * UDO_VSOCK_HANDOFF_HEADER_SIZE bytes. Returns 0, or -1 (errno EINVAL)
 * if a size is out of range. */
int udo_vsock_handoff_encode_header(void *buf, const struct udo_vsock_handoff *h, uint32_t args_len);

/* Checks and decodes the header in BUF of LEN bytes into H (fd, argv and
 * pending untouched) and *SIZES. Pure: no I/O. Returns 0, or -1 with
 * errno EPROTO and a reason in ERR. */
int udo_vsock_handoff_decode_header(const void *buf, size_t len, struct udo_vsock_handoff *h,
                                    struct udo_vsock_handoff_sizes *sizes, char *err, size_t errlen);

/* Splits LEN bytes of ARGC NUL-terminated words into a new NULL-ended
 * array (one allocation; free() it). Returns it, or NULL with errno
 * EPROTO (the count or termination is wrong) or ENOMEM. */
char **udo_vsock_handoff_decode_args(const char *buf, size_t len, uint32_t argc);

/* Sends H (argc words in argv) with CLIENT_FD attached, blocking until
 * all is sent. Returns 0 or an enum udo_vsock_io_status (errno set). */
int udo_vsock_handoff_send(int sock, int client_fd, const struct udo_vsock_handoff *h);

/* Receives one hand-off from SOCK into H (cleared first). Returns 0, or
 * an enum udo_vsock_io_status (errno set, reason in ERR); on failure no
 * fd is left open. Release H with udo_vsock_handoff_clear(). */
int udo_vsock_handoff_recv(int sock, struct udo_vsock_handoff *h, char *err, size_t errlen);

/* Closes H's fd (if any) and frees its words and pending bytes. */
void udo_vsock_handoff_clear(struct udo_vsock_handoff *h);

#ifdef __cplusplus
}
#endif

#endif /* UDO_VSOCK_HANDOFF_H */
