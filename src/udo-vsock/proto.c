/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* proto.c - request lines into the client's buffers (udo/vsock-proto.h) */
#include "proto.h"

#include <errno.h>
#include <string.h>

/* Appends ARG as one word; fails on LF/NUL (EINVAL) or ENOMEM. */
int cli_quote_arg(struct cli_buf *out, const char *arg, size_t len)
{
	ssize_t n = udo_vsock_proto_quoted_len(arg, len);
	if (n < 0 || cli_buf_reserve(out, (size_t)n) < 0)
		return -1;
	if (udo_vsock_proto_quote(out->data + out->len, (size_t)n, arg, len) != n)
		return -1;
	out->len += (size_t)n;
	return 0;
}

/* Appends a whole request line; OUT is untouched on failure. */
int cli_build_request(struct cli_buf *out, int argc, char *const argv[], int *bad)
{
	ssize_t n = udo_vsock_proto_request_len(argc, argv, bad);
	if (n < 0 || cli_buf_reserve(out, (size_t)n) < 0)
		return -1;
	if (udo_vsock_proto_build_request(out->data + out->len, (size_t)n, argc, argv, bad) != n)
		return -1;
	out->len += (size_t)n;
	return 0;
}
