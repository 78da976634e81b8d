/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz_frame.c - libFuzzer target: the session frame header decoder and
 * the signal name lookup, the first things a hostile peer's bytes reach */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <udo/vsock-frame.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A header that decodes must encode back to the same bytes and obey its
 * type's shape; the rest of the input, read as a signal name, must map
 * to a number whose name is that one, or to -1. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct udo_vsock_frame f;
	unsigned char again[UDO_VSOCK_FRAME_HEADER_SIZE];
	char err[128];

	if (udo_vsock_frame_decode_header(data, size, &f, err, sizeof(err)) == 0) {
		if (size < UDO_VSOCK_FRAME_HEADER_SIZE || f.length > UDO_VSOCK_FRAME_PAYLOAD_MAX ||
		    udo_vsock_frame_encode_header(again, &f) != 0 || memcmp(again, data, sizeof(again)) != 0)
			abort();
	} else if (err[0] == '\0') {
		abort();
	}
	if (size > UDO_VSOCK_FRAME_HEADER_SIZE) {
		const char *name = (const char *)data + UDO_VSOCK_FRAME_HEADER_SIZE;
		size_t len = size - UDO_VSOCK_FRAME_HEADER_SIZE;
		int sig = udo_vsock_frame_signal_number(name, len);

		if (sig >= 0) {
			const char *back = udo_vsock_frame_signal_name(sig);

			if (back == NULL || strlen(back) != len || memcmp(back, name, len) != 0)
				abort();
		}
	}
	return 0;
}
