/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* proto.h - the udo-vsock line protocol, client side (pure functions) */
#ifndef UDO_CLI_PROTO_H
#define UDO_CLI_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Longest reply line the client accepts (a longer one is a protocol error). */
#define CLI_REPLY_LINE_MAX (1024 * 1024)

/* Does ARG (LEN bytes) need double quotes to travel as one token? True
 * when it is empty or holds a blank, a quote, a backslash or a CR. */
bool cli_arg_needs_quotes(const char *arg, size_t len);

/* Appends ARG (LEN bytes) to OUT as one protocol token, quoted when
 * needed. Returns 0, or -1 with errno EINVAL when ARG contains LF or NUL
 * (no token can carry them) or ENOMEM; OUT is unchanged on failure. */
int cli_quote_arg(struct cli_buf *out, const char *arg, size_t len);

/* Appends one request line of the ARGC strings in ARGV (the command
 * first), separated by spaces and ended by LF, to OUT. Returns 0, or -1
 * with errno EINVAL (ARGC < 1, or ARGV[*BAD] contains LF) or ENOMEM;
 * OUT is unchanged on failure. BAD may be NULL. */
int cli_build_request(struct cli_buf *out, int argc, char *const argv[], int *bad);

/* Is LINE (LEN bytes, no LF) blank: only spaces and tabs, perhaps a final
 * CR? The server does not answer blank lines. */
bool cli_line_is_blank(const char *line, size_t len);

/* Is the first token of LINE (LEN bytes) the unquoted word WORD, compared
 * case-insensitively? */
bool cli_line_command_is(const char *line, size_t len, const char *word);

enum cli_reply_kind {
	CLI_REPLY_INVALID = 0, /* none of the forms below: a protocol error */
	CLI_REPLY_DATA,        /* "D" or "D <payload>" */
	CLI_REPLY_OK,          /* "OK" or "OK <text>" */
	CLI_REPLY_ERR,         /* "ERR <code>" or "ERR <code> <message>" */
};

/* One classified reply line; the pointers point into the line. */
struct cli_reply {
	enum cli_reply_kind kind;
	const char *text; /* DATA payload, OK text or ERR message; may be empty */
	size_t text_len;
	const char *code; /* ERR code: [a-z0-9_-]+; else NULL */
	size_t code_len;
};

/* Classifies reply LINE of LEN bytes (without its LF) into *REPLY.
 * Returns REPLY->kind; CLI_REPLY_INVALID when the line has no valid form. */
enum cli_reply_kind cli_reply_classify(const char *line, size_t len, struct cli_reply *reply);

#endif /* UDO_CLI_PROTO_H */
