/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* proto.h - the line protocol: pure request parsing and reply framing */
#ifndef UDO_VSOCKD_PROTO_H
#define UDO_VSOCKD_PROTO_H

#include <stddef.h>

/* Stable error codes of ERR status lines (udo-vsock-protocol(7)). */
#define PROTO_ERR_SYNTAX      "syntax"
#define PROTO_ERR_UNKNOWN     "unknown-command"
#define PROTO_ERR_USAGE       "usage"
#define PROTO_ERR_DENIED      "denied"
#define PROTO_ERR_TOO_LONG    "too-long"
#define PROTO_ERR_BUSY        "busy"
#define PROTO_ERR_TIMEOUT     "timeout"
#define PROTO_ERR_FAILED      "failed"
#define PROTO_ERR_INTERNAL    "internal"
#define PROTO_ERR_UNAVAILABLE "unavailable"

enum proto_parse_result {
	PROTO_PARSE_OK = 0,        /* *ARGC >= 1 arguments in ARGV */
	PROTO_PARSE_EMPTY = 1,     /* a blank line: no request, no reply */
	PROTO_PARSE_SYNTAX = -1,   /* bad quoting or a control character */
	PROTO_PARSE_TOO_MANY = -2, /* more than MAX_ARGS words */
};

/*
 * Splits the request LINE of LEN bytes (no line end) in place into words:
 * blanks (space, tab) separate them; double quotes group, and inside them
 * \" and \\ stand for " and \. Control characters (below 0x20 but tab, and
 * 0x7f) are refused. The words are NUL-terminated inside LINE, which needs
 * room for LEN + 1 bytes; ARGV receives up to MAX_ARGS pointers into it.
 * The first word is lower-cased (commands are case-insensitive).
 * Returns an enum proto_parse_result; *WHY explains a negative result.
 */
enum proto_parse_result proto_parse_line(char *line, size_t len, char **argv, int max_args, int *argc,
                                         const char **why);

/* True if TEXT is safe as one protocol line: no LF, CR or NUL in LEN bytes. */
int proto_is_line_safe(const char *text, size_t len);

/* True if CODE is a well-formed error code: [a-z][a-z-]*. */
int proto_is_error_code(const char *code);

#endif /* UDO_VSOCKD_PROTO_H */
