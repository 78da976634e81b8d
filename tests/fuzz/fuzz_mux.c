/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz_mux.c - libFuzzer target: the hybrid-vsock reply parser and handshake */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../lib/vsock-addr-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The reply format spelt out independently: "OK " and 1-10 digits <= u32. */
static int model_reply(const uint8_t *line, size_t len, uint32_t *port)
{
	unsigned long long v = 0;

	if (len < 4 || line[0] != 'O' || line[1] != 'K' || line[2] != ' ' || len - 3 > 10)
		return -1;
	for (size_t i = 3; i < len; i++) {
		if (line[i] < '0' || line[i] > '9')
			return -1;
		v = v * 10 + (line[i] - '0');
	}
	if (v > 0xffffffffULL)
		return -1;
	*port = (uint32_t)v;
	return 0;
}

/* Runs the handshake against DATA sent by a fake VMM over a socketpair:
 * it must succeed exactly when the first line is a good reply, and must
 * not read past that line's newline. */
static void check_handshake(const uint8_t *data, size_t size)
{
	int sv[2];
	char err[128], rest[4096], request[32];
	uint32_t port;

	if (size > sizeof(rest) || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return;
	if ((size > 0 && write(sv[1], data, size) != (ssize_t)size) || shutdown(sv[1], SHUT_WR) < 0)
		abort();
	int r = udo_vsock_mux_handshake(sv[0], 52, 0, NULL, err, sizeof(err));
	const uint8_t *nl = memchr(data, '\n', size);
	size_t linelen = nl != NULL ? (size_t)(nl - data) : size;
	int want = nl != NULL && linelen <= UDO_VSOCK_MUX_REPLY_MAX && model_reply(data, linelen, &port) == 0;
	if ((r == 0) != want)
		abort();
	if (r == 0) {
		/* Everything after the newline is left for the application. */
		size_t left = size - linelen - 1, got = 0;
		ssize_t n;
		while ((n = read(sv[0], rest + got, sizeof(rest) - got)) > 0)
			got += (size_t)n;
		if (got != left || memcmp(rest, nl + 1, left) != 0)
			abort();
	}
	if (read(sv[1], request, sizeof(request)) != 11 || memcmp(request, "CONNECT 52\n", 11) != 0)
		abort();
	close(sv[0]);
	close(sv[1]);
}

/* Parses DATA as one reply line (exact size: no NUL after it), then as
 * the whole byte stream of a VMM answering CONNECT. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t got = 0, want = 0;
	char *line = malloc(size > 0 ? size : 1);

	if (line == NULL)
		abort();
	if (size > 0)
		memcpy(line, data, size);
	int r = udo_vsock_mux_parse_reply(line, size, &got);
	if (r != model_reply(data, size, &want) || (r == 0 && got != want))
		abort();
	free(line);
	check_handshake(data, size);
	return 0;
}
