/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsock-mux.c - the hybrid vsock (Firecracker, Cloud Hypervisor) handshake */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "vsock-addr-private.h"
#include "vsock-tcp-private.h"

/* Milliseconds left until DEADLINE; -1 for no deadline. */
int udo_vsock_deadline_left(const struct timespec *deadline)
{
	struct timespec now;
	long long ms;

	if (!deadline)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (deadline->tv_sec - now.tv_sec) * 1000LL + (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms > 0 ? (int)ms : 0;
}

/* Parses the LEN-byte reply LINE (no newline) "OK <decimal host port>". */
int udo_vsock_mux_parse_reply(const char *line, size_t len, uint32_t *host_port)
{
	uint64_t v = 0;

	/* 1 to 10 digits: the decimal forms of a u32. */
	if (len < 4 || len > 13 || memcmp(line, "OK ", 3) != 0)
		return -1;
	for (size_t i = 3; i < len; i++) {
		if (line[i] < '0' || line[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(line[i] - '0');
	}
	if (v > UINT32_MAX)
		return -1;
	*host_port = (uint32_t)v;
	return 0;
}

/* Reads one reply line byte by byte, never past its newline, so the bytes
 * after it stay for the application. Returns 0, or -1 (errno, ERR). */
static int read_reply(int fd, uint32_t port, const struct timespec *deadline, char *err, size_t errlen)
{
	char line[UDO_VSOCK_MUX_REPLY_MAX + 1];
	size_t len = 0;

	while (len < UDO_VSOCK_MUX_REPLY_MAX) {
		ssize_t n;

		if (udo_vsock_io_wait(fd, POLLIN, udo_vsock_deadline_left(deadline)) < 0) {
			udo_log_format(err, errlen, errno, "vsock-mux: waiting for the reply to CONNECT %u", port);
			return -1;
		}
		n = udo_vsock_tcp_recv_data(fd, line + len, 1, NULL);
		if (n == UDO_VSOCK_IO_DISCONNECT && len == 0) {
			udo_log_format(err, errlen, 0, "vsock-mux: nothing listens on guest port %u", port);
			errno = ECONNREFUSED;
			return -1;
		}
		if (n == UDO_VSOCK_IO_DISCONNECT) {
			udo_log_format(err, errlen, 0, "vsock-mux: the VMM closed in the middle of its reply");
			errno = EPROTO;
			return -1;
		}
		if (n < 0) {
			udo_log_format(err, errlen, errno, "vsock-mux: reading the reply to CONNECT %u", port);
			return -1;
		}
		if (line[len] == '\n') {
			uint32_t host_port;

			line[len] = '\0';
			if (udo_vsock_mux_parse_reply(line, len, &host_port) == 0)
				return 0;
			udo_log_format(err, errlen, 0, "vsock-mux: malformed reply to CONNECT %u: \"%s\"", port, line);
			errno = EPROTO;
			return -1;
		}
		len++;
	}
	udo_log_format(err, errlen, 0, "vsock-mux: reply to CONNECT %u longer than %d bytes", port,
	               UDO_VSOCK_MUX_REPLY_MAX);
	errno = EPROTO;
	return -1;
}

/* Sends "CONNECT PORT\n" and reads the "OK" line unless told not to. */
int udo_vsock_mux_handshake(int fd, uint32_t port, unsigned int flags, const struct timespec *deadline, char *err,
                            size_t errlen)
{
	char request[32];
	int len = snprintf(request, sizeof(request), "CONNECT %u\n", port);

	/* The request is tiny: it fits in the fresh socket's send buffer. */
	if (udo_vsock_tcp_send_data(fd, request, (size_t)len, NULL) != len) {
		udo_log_format(err, errlen, errno, "vsock-mux: sending CONNECT %u", port);
		return -1;
	}
	if (flags & UDO_VSOCK_ADDR_MUX_NO_OK)
		return 0;
	return read_reply(fd, port, deadline, err, errlen);
}
