/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz_handoff.c - libFuzzer target: the connection hand-off decoders
 * (udo_vsock_handoff_decode_header, udo_vsock_handoff_decode_args) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <udo/vsock-handoff.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Checks ARGV, decoded from LEN bytes: ARGC words inside its own block,
 * NULL-terminated, their sizes adding up to LEN. */
static void check_args(char **argv, uint32_t argc, size_t len)
{
	size_t total = 0;

	for (uint32_t i = 0; i < argc; i++) {
		if (argv[i] == NULL)
			abort();
		total += strlen(argv[i]) + 1;
	}
	if (argv[argc] != NULL || total != len)
		abort();
}

/* The input is a header followed by a words block. A header that decodes
 * must encode back to the same bytes; words that decode must be sound. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct udo_vsock_handoff h;
	struct udo_vsock_handoff_sizes sizes;
	unsigned char again[UDO_VSOCK_HANDOFF_HEADER_SIZE];
	char err[128];
	size_t hlen = size < UDO_VSOCK_HANDOFF_HEADER_SIZE ? size : UDO_VSOCK_HANDOFF_HEADER_SIZE;

	memset(&h, 0, sizeof(h));
	/* Any other length is refused. */
	if (size != UDO_VSOCK_HANDOFF_HEADER_SIZE &&
	    udo_vsock_handoff_decode_header(data, size, &h, &sizes, err, sizeof(err)) == 0)
		abort();
	if (udo_vsock_handoff_decode_header(data, hlen, &h, &sizes, err, sizeof(err)) == 0) {
		if (hlen != UDO_VSOCK_HANDOFF_HEADER_SIZE || h.transport < 1 || h.transport > 3 || h.argc == 0 ||
		    h.argc > UDO_VSOCK_HANDOFF_ARGC_MAX || sizes.identity_len > UDO_VSOCK_HANDOFF_IDENTITY_MAX ||
		    sizes.args_len < h.argc || sizes.args_len > UDO_VSOCK_HANDOFF_ARGS_MAX ||
		    sizes.pending_len > UDO_VSOCK_HANDOFF_PENDING_MAX || h.pending_len != sizes.pending_len)
			abort();
		memset(h.identity, 'x', sizes.identity_len);
		h.identity[sizes.identity_len] = '\0';
		if (udo_vsock_handoff_encode_header(again, &h, sizes.args_len) != 0 ||
		    memcmp(again, data, sizeof(again)) != 0)
			abort();
	}
	/* The words block: its word count taken from the header's field if
	 * there is one, else from the first byte. */
	const char *words = (const char *)data + hlen;
	size_t wlen = size - hlen;
	uint32_t argc = hlen > 28 ? h.argc : (size > 0 ? data[0] % 8 : 0);
	if (argc == 0 || argc > UDO_VSOCK_HANDOFF_ARGC_MAX)
		argc = 1 + (uint32_t)(wlen % 5);
	char **argv = udo_vsock_handoff_decode_args(words, wlen, argc);
	if (argv != NULL) {
		check_args(argv, argc, wlen);
		free(argv);
	}
	return 0;
}
