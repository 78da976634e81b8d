/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz_addr.c - libFuzzer target: udo_vsock_addr_parse/format round trip */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <udo/vsock-addr.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The first byte sizes the error buffer; the rest is the address text.
 * Whatever parses must format, and the text must parse back the same. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct udo_vsock_addr a, b;
	char text[UDO_VSOCK_ADDR_STRLEN], again[UDO_VSOCK_ADDR_STRLEN];

	if (size < 1)
		return 0;
	size_t errlen = data[0] % 200;
	data++;
	size--;
	char *in = malloc(size + 1);
	char *err = malloc(errlen > 0 ? errlen : 1);
	if (in == NULL || err == NULL)
		abort();
	if (size > 0)
		memcpy(in, data, size);
	in[size] = '\0';
	int r = udo_vsock_addr_parse(&a, in, errlen > 0 ? err : NULL, errlen);
	if (r < 0 && errlen > 0 && memchr(err, '\0', errlen) == NULL)
		abort(); /* the message must be terminated inside ERR */
	if (r == 0) {
		int n = udo_vsock_addr_format(&a, text, sizeof(text));
		if (n <= 0 || (size_t)n != strlen(text))
			abort();
		if (udo_vsock_addr_parse(&b, text, NULL, 0) != 0)
			abort();
		if (memcmp(&a, &b, sizeof(a)) != 0)
			abort();
		/* The canonical text is a fixed point. */
		if (udo_vsock_addr_format(&b, again, sizeof(again)) != n || strcmp(text, again) != 0)
			abort();
		/* One byte short: ENOSPC, never an overflow. */
		char *tight = malloc((size_t)n);
		if (tight == NULL)
			abort();
		if (udo_vsock_addr_format(&a, tight, (size_t)n) != -1)
			abort();
		free(tight);
	}
	free(err);
	free(in);
	return 0;
}
