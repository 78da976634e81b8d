/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* proto.h - request lines into the client's buffers (udo/vsock-proto.h) */
#ifndef UDO_CLI_PROTO_H
#define UDO_CLI_PROTO_H

#include <stddef.h>

#include <udo/vsock-proto.h>

#include "buf.h"

/* Longest reply line the client accepts (a longer one is a protocol error). */
#define CLI_REPLY_LINE_MAX (1024 * 1024)

/* Appends ARG (LEN bytes) to OUT as one protocol word, quoted when
 * needed (udo_vsock_proto_quote()). Returns 0, or -1 with errno EINVAL
 * when ARG contains LF or NUL (no word can carry them) or ENOMEM; OUT is
 * unchanged on failure. */
int cli_quote_arg(struct cli_buf *out, const char *arg, size_t len);

/* Appends one request line of the ARGC strings in ARGV (the command
 * first), separated by spaces and ended by LF, to OUT
 * (udo_vsock_proto_build_request()). Returns 0, or -1 with errno EINVAL
 * (ARGC < 1, or ARGV[*BAD] contains LF) or ENOMEM; OUT is unchanged on
 * failure. BAD may be NULL. */
int cli_build_request(struct cli_buf *out, int argc, char *const argv[], int *bad);

#endif /* UDO_CLI_PROTO_H */
