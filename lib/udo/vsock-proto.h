/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udo/vsock-proto.h - the udo-vsock line protocol: pure parsing, quoting, replies */
#ifndef UDO_VSOCK_PROTO_H
#define UDO_VSOCK_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The protocol of udo-vsock-protocol(7): a request is one line of words,
 * a reply is "D <payload>" lines ended by one "OK [text]" or
 * "ERR <code> [message]" line. These functions do no I/O and allocate
 * nothing; the daemon, the CLI and any other client share them.
 *
 * Results follow the one convention of libudo-vsock (udo/vsock-tcp.h):
 * failure is a negative value with errno set. Predicates (bool) cannot
 * fail and leave errno alone.
 */

/* Stable error codes of ERR lines (udo-vsock-protocol(7)). */
#define UDO_VSOCK_PROTO_ERR_SYNTAX      "syntax"
#define UDO_VSOCK_PROTO_ERR_UNKNOWN     "unknown-command"
#define UDO_VSOCK_PROTO_ERR_USAGE       "usage"
#define UDO_VSOCK_PROTO_ERR_DENIED      "denied"
#define UDO_VSOCK_PROTO_ERR_TOO_LONG    "too-long"
#define UDO_VSOCK_PROTO_ERR_BUSY        "busy"
#define UDO_VSOCK_PROTO_ERR_TIMEOUT     "timeout"
#define UDO_VSOCK_PROTO_ERR_FAILED      "failed"
#define UDO_VSOCK_PROTO_ERR_INTERNAL    "internal"
#define UDO_VSOCK_PROTO_ERR_UNAVAILABLE "unavailable"
#define UDO_VSOCK_PROTO_ERR_NOT_FOUND   "not-found" /* files: no such path; jobs: no such job */
#define UDO_VSOCK_PROTO_ERR_EXISTS      "exists"    /* files: a directory where a file is needed */
#define UDO_VSOCK_PROTO_ERR_TOO_LARGE   "too-large" /* files: over a size or count limit */
#define UDO_VSOCK_PROTO_ERR_NO_SPACE    "no-space"  /* files: the file system is full */

/* --- Requests: the server side --- */

enum udo_vsock_proto_parse_result {
	UDO_VSOCK_PROTO_PARSE_OK = 0,        /* *ARGC >= 1 words in ARGV */
	UDO_VSOCK_PROTO_PARSE_EMPTY = 1,     /* a blank line: no request, no reply */
	UDO_VSOCK_PROTO_PARSE_SYNTAX = -1,   /* bad quoting or a control character; errno EINVAL */
	UDO_VSOCK_PROTO_PARSE_TOO_MANY = -2, /* more than MAX_ARGS words; errno E2BIG */
};

/*
 * Splits the request LINE of LEN bytes (no line end) in place into words:
 * blanks (space, tab) separate them; double quotes group, and inside them
 * \" and \\ stand for " and \ (any other backslash is itself). Control
 * characters (below 0x20 but tab, and 0x7f) are refused anywhere. The
 * words are NUL-terminated inside LINE, which needs room for LEN + 1
 * bytes (the byte at LEN is always overwritten); ARGV receives up to
 * MAX_ARGS pointers into it. The first word is lower-cased (commands
 * are case-insensitive). Returns an enum
 * udo_vsock_proto_parse_result; on a negative one *ARGC is 0, errno is
 * set and *WHY explains it in words (a static string).
 */
enum udo_vsock_proto_parse_result udo_vsock_proto_parse_line(char *line, size_t len, char **argv, int max_args,
                                                             int *argc, const char **why);

/* True if TEXT of LEN bytes can travel inside one protocol line: it
 * holds no LF, CR or NUL. */
bool udo_vsock_proto_is_line_safe(const char *text, size_t len);

/* True if CODE is an error code a server may send: [a-z][a-z-]*. */
bool udo_vsock_proto_is_error_code(const char *code);

/* --- Requests: the client side --- */

/* True if ARG (LEN bytes) needs double quotes to travel as one word with
 * the same bytes: it is empty or holds a blank, a quote, a backslash or a
 * CR. */
bool udo_vsock_proto_needs_quotes(const char *arg, size_t len);

/* The length of ARG (LEN bytes) as one word on the wire, quoted when
 * needed. Returns it, or -1 with errno EINVAL when ARG holds LF or NUL,
 * which no word can carry. */
ssize_t udo_vsock_proto_quoted_len(const char *arg, size_t len);

/* Writes ARG (LEN bytes) as one word, quoted when needed, to OUT of SIZE
 * bytes (no NUL is added). udo_vsock_proto_parse_line() gives back
 * exactly ARG's bytes. Returns the length written, or -1 with errno
 * EINVAL (ARG holds LF or NUL) or ENOSPC (SIZE is too small; nothing is
 * written). */
ssize_t udo_vsock_proto_quote(char *out, size_t size, const char *arg, size_t len);

/* The length of the request line of the ARGC strings in ARGV, LF
 * included (see udo_vsock_proto_build_request()). Returns it, or -1 with
 * errno EINVAL: ARGC < 1, or ARGV[*BAD] holds LF (BAD may be NULL). */
ssize_t udo_vsock_proto_request_len(int argc, char *const argv[], int *bad);

/* Writes one request line to OUT of SIZE bytes: the ARGC strings in ARGV
 * (the command first) as words separated by one space, ended by LF (no
 * NUL is added). Returns its length, or -1 with errno EINVAL (ARGC < 1,
 * or ARGV[*BAD] holds LF; BAD may be NULL) or ENOSPC (SIZE is too small;
 * nothing is written). */
ssize_t udo_vsock_proto_build_request(char *out, size_t size, int argc, char *const argv[], int *bad);

/* True if LINE (LEN bytes, no LF) is blank: spaces and tabs only, perhaps
 * a final CR. A server does not answer a blank line. */
bool udo_vsock_proto_line_is_blank(const char *line, size_t len);

/* True if the first word of LINE (LEN bytes) is WORD, unquoted, compared
 * without regard to case. */
bool udo_vsock_proto_line_command_is(const char *line, size_t len, const char *word);

/* --- Replies --- */

enum udo_vsock_proto_reply_kind {
	UDO_VSOCK_PROTO_REPLY_INVALID = -1, /* none of the forms below: a protocol error; errno EPROTO */
	UDO_VSOCK_PROTO_REPLY_DATA = 1,     /* "D" or "D <payload>" */
	UDO_VSOCK_PROTO_REPLY_OK = 2,       /* "OK" or "OK <text>" */
	UDO_VSOCK_PROTO_REPLY_ERR = 3,      /* "ERR <code>" or "ERR <code> <message>" */
};

/* One classified reply line; the pointers point into the line. */
struct udo_vsock_proto_reply {
	enum udo_vsock_proto_reply_kind kind;
	const char *text; /* DATA payload, OK text or ERR message; may be empty */
	size_t text_len;
	const char *code; /* ERR code: [a-z0-9_-]+ (lenient on purpose); else NULL */
	size_t code_len;
};

/* Classifies the reply LINE of LEN bytes (without its LF) into *REPLY.
 * Returns REPLY->kind (> 0), or UDO_VSOCK_PROTO_REPLY_INVALID (-1) with
 * errno EPROTO when the line has none of the forms. */
enum udo_vsock_proto_reply_kind udo_vsock_proto_classify_reply(const char *line, size_t len,
                                                               struct udo_vsock_proto_reply *reply);

#ifdef __cplusplus
}
#endif

#endif /* UDO_VSOCK_PROTO_H */
