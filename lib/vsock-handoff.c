/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsock-handoff.c - the wire format of connection hand-off */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <udo/vsock-fdpass.h>
#include <udo/vsock-handoff.h>
#include <udo/vsock-tcp.h>

#include "log-private.h"

/* Field offsets in the header. */
enum {
	OFF_VERSION = 8,
	OFF_TRANSPORT = 12,
	OFF_CID = 16,
	OFF_PORT = 20,
	OFF_IDENTITY_LEN = 24,
	OFF_ARGC = 28,
	OFF_ARGS_LEN = 32,
	OFF_PENDING_LEN = 36,
};

/* Stores V at OFF in BUF. */
static void put32(unsigned char *buf, size_t off, uint32_t v)
{
	memcpy(buf + off, &v, sizeof(v));
}

/* Loads the value at OFF in BUF. */
static uint32_t get32(const unsigned char *buf, size_t off)
{
	uint32_t v;

	memcpy(&v, buf + off, sizeof(v));
	return v;
}

int udo_vsock_handoff_encode_header(void *buf, const struct udo_vsock_handoff *h, uint32_t args_len)
{
	size_t idlen = strnlen(h->identity, sizeof(h->identity));
	unsigned char *b = buf;

	if (idlen > UDO_VSOCK_HANDOFF_IDENTITY_MAX || h->argc == 0 || h->argc > UDO_VSOCK_HANDOFF_ARGC_MAX ||
	    args_len < h->argc || args_len > UDO_VSOCK_HANDOFF_ARGS_MAX ||
	    h->pending_len > UDO_VSOCK_HANDOFF_PENDING_MAX) {
		errno = EINVAL;
		return -1;
	}
	memcpy(b, UDO_VSOCK_HANDOFF_MAGIC, 8);
	put32(b, OFF_VERSION, UDO_VSOCK_HANDOFF_VERSION);
	put32(b, OFF_TRANSPORT, h->transport);
	put32(b, OFF_CID, h->peer_cid);
	put32(b, OFF_PORT, h->peer_port);
	put32(b, OFF_IDENTITY_LEN, (uint32_t)idlen);
	put32(b, OFF_ARGC, h->argc);
	put32(b, OFF_ARGS_LEN, args_len);
	put32(b, OFF_PENDING_LEN, (uint32_t)h->pending_len);
	return 0;
}

int udo_vsock_handoff_decode_header(const void *buf, size_t len, struct udo_vsock_handoff *h,
                                    struct udo_vsock_handoff_sizes *sizes, char *err, size_t errlen)
{
	const unsigned char *b = buf;
	const char *why = NULL;

	if (len != UDO_VSOCK_HANDOFF_HEADER_SIZE)
		why = "header has the wrong size";
	else if (memcmp(b, UDO_VSOCK_HANDOFF_MAGIC, 8) != 0)
		why = "bad magic: not a udo-vsockd hand-off";
	else if (get32(b, OFF_VERSION) != UDO_VSOCK_HANDOFF_VERSION)
		why = "unsupported hand-off version";
	else if (get32(b, OFF_TRANSPORT) < 1 || get32(b, OFF_TRANSPORT) > 3)
		why = "unknown transport";
	else if (get32(b, OFF_IDENTITY_LEN) > UDO_VSOCK_HANDOFF_IDENTITY_MAX)
		why = "identity too long";
	else if (get32(b, OFF_ARGC) == 0 || get32(b, OFF_ARGC) > UDO_VSOCK_HANDOFF_ARGC_MAX)
		why = "word count out of range";
	else if (get32(b, OFF_ARGS_LEN) < get32(b, OFF_ARGC) || get32(b, OFF_ARGS_LEN) > UDO_VSOCK_HANDOFF_ARGS_MAX)
		why = "words size out of range";
	else if (get32(b, OFF_PENDING_LEN) > UDO_VSOCK_HANDOFF_PENDING_MAX)
		why = "pending data too large";
	if (why != NULL) {
		udo_log_format(err, errlen, 0, "%s", why);
		errno = EPROTO;
		return -1;
	}
	h->transport = get32(b, OFF_TRANSPORT);
	h->peer_cid = get32(b, OFF_CID);
	h->peer_port = get32(b, OFF_PORT);
	h->argc = get32(b, OFF_ARGC);
	h->pending_len = get32(b, OFF_PENDING_LEN);
	sizes->identity_len = get32(b, OFF_IDENTITY_LEN);
	sizes->args_len = get32(b, OFF_ARGS_LEN);
	sizes->pending_len = get32(b, OFF_PENDING_LEN);
	return 0;
}

char **udo_vsock_handoff_decode_args(const char *buf, size_t len, uint32_t argc)
{
	size_t words = 0;

	if (len == 0 || buf[len - 1] != '\0' || argc == 0 || argc > UDO_VSOCK_HANDOFF_ARGC_MAX) {
		errno = EPROTO;
		return NULL;
	}
	for (size_t i = 0; i < len; i++)
		words += buf[i] == '\0';
	if (words != argc) {
		errno = EPROTO;
		return NULL;
	}
	/* The pointers and a copy of the words in one block. */
	char **argv = malloc(sizeof(char *) * ((size_t)argc + 1) + len);
	if (argv == NULL)
		return NULL;
	char *text = (char *)(argv + argc + 1);
	memcpy(text, buf, len);
	for (uint32_t i = 0; i < argc; i++) {
		argv[i] = text;
		text += strlen(text) + 1;
	}
	argv[argc] = NULL;
	return argv;
}

int udo_vsock_handoff_send(int sock, int client_fd, const struct udo_vsock_handoff *h)
{
	unsigned char header[UDO_VSOCK_HANDOFF_HEADER_SIZE];
	size_t args_len = 0;

	if (h->argv == NULL) {
		errno = EINVAL;
		return UDO_VSOCK_IO_OTHER;
	}
	for (uint32_t i = 0; i < h->argc; i++) {
		if (h->argv[i] == NULL) {
			errno = EINVAL;
			return UDO_VSOCK_IO_OTHER;
		}
		args_len += strlen(h->argv[i]) + 1;
		if (args_len > UDO_VSOCK_HANDOFF_ARGS_MAX)
			break;
	}
	if (args_len > UDO_VSOCK_HANDOFF_ARGS_MAX ||
	    udo_vsock_handoff_encode_header(header, h, (uint32_t)args_len) < 0) {
		errno = EINVAL;
		return UDO_VSOCK_IO_OTHER;
	}
	/* Everything in one vector: header (with the fd), identity, words, pending. */
	size_t n = 2 + (size_t)h->argc + 1;
	struct iovec *iov = calloc(n, sizeof(*iov));
	if (iov == NULL)
		return UDO_VSOCK_IO_RETRY;
	iov[0] = (struct iovec){header, sizeof(header)};
	iov[1] = (struct iovec){(void *)h->identity, strnlen(h->identity, sizeof(h->identity))};
	for (uint32_t i = 0; i < h->argc; i++)
		iov[2 + i] = (struct iovec){h->argv[i], strlen(h->argv[i]) + 1};
	iov[n - 1] = (struct iovec){h->pending, h->pending_len};
	ssize_t r = udo_vsock_sendv_all(sock, iov, (int)n, &client_fd, 1);
	int saved = errno;
	free(iov);
	errno = saved;
	return r < 0 ? (int)r : 0;
}

/* Receives exactly LEN bytes into BUF. Returns 0 or an io status. */
static int recv_exact(int sock, void *buf, size_t len)
{
	int flags = MSG_WAITALL;

	while (len > 0) {
		ssize_t n = udo_vsock_tcp_recv_data(sock, buf, len, &flags);
		if (n < 0)
			return (int)n;
		buf = (char *)buf + n;
		len -= (size_t)n;
	}
	return 0;
}

int udo_vsock_handoff_recv(int sock, struct udo_vsock_handoff *h, char *err, size_t errlen)
{
	unsigned char header[UDO_VSOCK_HANDOFF_HEADER_SIZE];
	struct udo_vsock_handoff_sizes sizes;
	int fds[1];
	size_t nfds = 1;
	char *args = NULL;
	int r;

	memset(h, 0, sizeof(*h));
	h->fd = -1;
	/* The header alone, so the fd is taken with it and nothing more is read. */
	ssize_t got = udo_vsock_recv_msg(sock, header, sizeof(header), fds, &nfds);
	if (got < 0) {
		udo_log_format(err, errlen, errno, "receiving the hand-off header");
		return (int)got;
	}
	if (nfds != 1) {
		udo_log_format(err, errlen, 0, "hand-off header came without the client's socket");
		errno = EPROTO;
		return UDO_VSOCK_IO_OTHER;
	}
	h->fd = fds[0];
	if (udo_vsock_handoff_decode_header(header, sizeof(header), h, &sizes, err, errlen) < 0) {
		r = UDO_VSOCK_IO_OTHER;
		goto fail;
	}
	r = recv_exact(sock, h->identity, sizes.identity_len);
	h->identity[sizes.identity_len] = '\0';
	args = r == 0 ? malloc(sizes.args_len) : NULL;
	if (r == 0 && args == NULL) {
		r = UDO_VSOCK_IO_RETRY;
		errno = ENOMEM;
	}
	if (r == 0)
		r = recv_exact(sock, args, sizes.args_len);
	if (r == 0 && sizes.pending_len > 0) {
		h->pending = malloc(sizes.pending_len);
		if (h->pending == NULL) {
			r = UDO_VSOCK_IO_RETRY;
			errno = ENOMEM;
		} else {
			r = recv_exact(sock, h->pending, sizes.pending_len);
		}
	}
	if (r < 0) {
		udo_log_format(err, errlen, errno, "receiving the hand-off body");
		goto fail;
	}
	h->argv = udo_vsock_handoff_decode_args(args, sizes.args_len, h->argc);
	if (h->argv == NULL) {
		udo_log_format(err, errlen, errno, "hand-off words");
		r = errno == ENOMEM ? UDO_VSOCK_IO_RETRY : UDO_VSOCK_IO_OTHER;
		goto fail;
	}
	free(args);
	return 0;
fail:
	free(args);
	udo_vsock_handoff_clear(h);
	return r;
}

void udo_vsock_handoff_clear(struct udo_vsock_handoff *h)
{
	int saved = errno;

	if (h->fd >= 0)
		close(h->fd);
	free(h->argv);
	free(h->pending);
	h->fd = -1;
	h->argv = NULL;
	h->pending = NULL;
	h->pending_len = 0;
	errno = saved;
}
