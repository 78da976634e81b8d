/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsock-proto.c - the line protocol: request words, quoting, replies (pure) */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <udo/vsock-proto.h>

/* What a request byte is to the tokenizer. */
enum byte_class {
	BYTE_WORD = 0, /* part of a word */
	BYTE_BLANK,    /* space or tab: separates words */
	BYTE_QUOTE,    /* " groups */
	BYTE_BAD,      /* a control character (but tab) or DEL: refused */
	/* A flag on the word bytes A-Z: OR-ed into the byte, it lower-cases it. */
	BYTE_UPPER = 0x20,
};

static const unsigned char byte_class[256] = {
    [0 ... 0x08] = BYTE_BAD, ['\t'] = BYTE_BLANK, [0x0a ... 0x1f] = BYTE_BAD, [' '] = BYTE_BLANK,
    ['"'] = BYTE_QUOTE,      [0x7f] = BYTE_BAD,   ['A' ... 'Z'] = BYTE_UPPER,
};

/* The first byte at or after P that is no word byte: a blank, a quote,
 * a refused byte or the NUL at END. Eight bytes a step while a whole
 * step fits before END (so no read goes past the NUL), with the
 * zero-byte tests: a byte below 0x21, a quote or DEL ends the step. */
static char *word_end(char *p, const char *end)
{
	const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;

	while (end - p >= 8) {
		uint64_t x, q, d;
		memcpy(&x, p, 8);
		q = x ^ (ones * '"');
		d = x ^ (ones * 0x7f);
		if ((((x - ones * 0x21) & ~x) | ((q - ones) & ~q) | ((d - ones) & ~d)) & highs)
			break;
		p += 8;
	}
	while ((byte_class[(unsigned char)*p] & ~BYTE_UPPER) == BYTE_WORD)
		p++;
	return p;
}

/* True if any of the bytes P..END is refused. */
static int has_bad_byte(const char *p, const char *end)
{
	for (; p < end; p++) {
		if (byte_class[(unsigned char)*p] == BYTE_BAD)
			return 1;
	}
	return 0;
}

/* Copies the word at P, which holds a quote, compacted to *OUTP <= P
 * (quotes and escapes removed) and NUL-terminates it; *OUTP moves past
 * the terminator. Returns where the next word may start (past one
 * blank), or NULL with *WHY set. */
static char *copy_word(char *p, const char *end, char **outp, const char **why)
{
	char *out = *outp;

	for (;;) {
		/* A run of plain bytes, moved only if a quote came before. */
		char *run = p;
		while ((byte_class[(unsigned char)*p] & ~BYTE_UPPER) == BYTE_WORD)
			p++;
		if (out != run)
			memmove(out, run, (size_t)(p - run));
		out += p - run;
		unsigned char c = (unsigned char)*p;
		enum byte_class k = byte_class[c];
		if (k == BYTE_BLANK) {
			p++;
			break;
		}
		if (k == BYTE_BAD) {
			if (p == end)
				break;
			*why = "control character in request";
			return NULL;
		}
		/* A quoted part: up to the closing quote, \" and \\ escaped
		 * (the NUL at END is neither). */
		for (p++;; p++) {
			c = (unsigned char)*p;
			if (c == '"')
				break;
			if (byte_class[c] == BYTE_BAD) {
				*why = p == end ? "unterminated quote" : "control character in request";
				return NULL;
			}
			if (c == '\\' && (p[1] == '"' || p[1] == '\\'))
				c = (unsigned char)*++p;
			*out++ = (char)c;
		}
		p++;
	}
	/* The terminator lands on a byte already consumed, or at END. */
	*out++ = '\0';
	*outp = out;
	return p;
}

/* A line with more than MAX_ARGS words: refused as too long, unless a
 * control character from P to END makes it a syntax error (which
 * outranks the word count). *ARGC is still 0. */
static enum udo_vsock_proto_parse_result parse_too_many(const char *p, const char *end, const char **why)
{
	if (has_bad_byte(p, end)) {
		*why = "control character in request";
		errno = EINVAL;
		return UDO_VSOCK_PROTO_PARSE_SYNTAX;
	}
	*why = "too many arguments";
	errno = E2BIG;
	return UDO_VSOCK_PROTO_PARSE_TOO_MANY;
}

/* The rest of the line from P, the quote in word N (already in ARGV),
 * of a line whose words so far stayed in place: from here every word is
 * copied compacted to OUT <= P by copy_word(), so no byte is lost and
 * nothing is scanned twice. Out of line: the unquoted loop keeps its
 * registers. */
static __attribute__((noinline)) enum udo_vsock_proto_parse_result
parse_quoted(char *p, const char *end, char **argv, int max_args, int n, int *argc, const char **why)
{
	char *out = p; /* the word so far stays; compaction starts here */
	int quoted_command = n == 1;

	p = copy_word(p, end, &out, why);
	if (p == NULL)
		goto syntax;
	for (;;) {
		while (byte_class[(unsigned char)*p] == BYTE_BLANK)
			p++;
		if (p == end)
			break;
		if (n == max_args)
			return parse_too_many(p, end, why);
		argv[n++] = out;
		p = copy_word(p, end, &out, why);
		if (p == NULL)
			goto syntax;
	}
	if (quoted_command) {
		for (char *q = argv[0]; *q != '\0'; q++)
			*q = (char)((unsigned char)*q | (byte_class[(unsigned char)*q] & BYTE_UPPER));
	}
	*argc = n;
	return UDO_VSOCK_PROTO_PARSE_OK;

syntax:
	errno = EINVAL;
	return UDO_VSOCK_PROTO_PARSE_SYNTAX;
}

/* One pass. A NUL put at LEN (refused, so never part of a word) stops
 * every scan there without a bounds check per byte. Words without
 * quotes stay where they are, terminated on the blank after them; from
 * the first quote on, parse_quoted() takes over. */
enum udo_vsock_proto_parse_result udo_vsock_proto_parse_line(char *line, size_t len, char **argv, int max_args,
                                                             int *argc, const char **why)
{
	char *p = line;
	const char *end = line + len;
	int n = 0;

	*argc = 0;
	*why = NULL;
	line[len] = '\0';
	for (;;) {
		while (byte_class[(unsigned char)*p] == BYTE_BLANK)
			p++;
		if (p == end)
			break;
		if (n == max_args)
			return parse_too_many(p, end, why);
		argv[n++] = p;
		if (n == 1) {
			/* The command, lower-cased as it is scanned. */
			unsigned char k;
			while (((k = byte_class[(unsigned char)*p]) & ~BYTE_UPPER) == BYTE_WORD)
				*p++ |= (char)k;
		} else {
			p = word_end(p, end);
		}
		enum byte_class k = byte_class[(unsigned char)*p];
		if (k == BYTE_BLANK) {
			*p++ = '\0';
			continue;
		}
		if (k == BYTE_QUOTE)
			return parse_quoted(p, end, argv, max_args, n, argc, why);
		if (p == end)
			break; /* the NUL at LEN ends the word */
		*why = "control character in request";
		errno = EINVAL;
		return UDO_VSOCK_PROTO_PARSE_SYNTAX;
	}
	if (n == 0)
		return UDO_VSOCK_PROTO_PARSE_EMPTY;
	*argc = n;
	return UDO_VSOCK_PROTO_PARSE_OK;
}

/* No LF, CR or NUL in the LEN bytes of TEXT. */
bool udo_vsock_proto_is_line_safe(const char *text, size_t len)
{
	return memchr(text, '\n', len) == NULL && memchr(text, '\r', len) == NULL && memchr(text, '\0', len) == NULL;
}

/* [a-z][a-z-]*: the codes a server sends. */
bool udo_vsock_proto_is_error_code(const char *code)
{
	if (code[0] < 'a' || code[0] > 'z')
		return false;
	for (const char *p = code; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || *p == '-'))
			return false;
	}
	return true;
}

/* --- The client side --- */

/* Is C a token separator of the protocol? */
static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* True when ARG must be quoted to stay one word with the same bytes. */
bool udo_vsock_proto_needs_quotes(const char *arg, size_t len)
{
	if (len == 0)
		return true;
	for (size_t i = 0; i < len; i++) {
		char c = arg[i];
		if (is_blank(c) || c == '"' || c == '\\' || c == '\r')
			return true;
	}
	return false;
}

/* ARG's length as one word: plain, or quoted with " and \ escaped. */
ssize_t udo_vsock_proto_quoted_len(const char *arg, size_t len)
{
	if (memchr(arg, '\n', len) || memchr(arg, '\0', len)) {
		errno = EINVAL;
		return -1;
	}
	if (!udo_vsock_proto_needs_quotes(arg, len))
		return (ssize_t)len;
	size_t n = len + 2;
	for (size_t i = 0; i < len; i++)
		n += arg[i] == '"' || arg[i] == '\\';
	return (ssize_t)n;
}

/* Writes ARG as one word when all of it fits in SIZE bytes. */
ssize_t udo_vsock_proto_quote(char *out, size_t size, const char *arg, size_t len)
{
	ssize_t n = udo_vsock_proto_quoted_len(arg, len);
	if (n < 0)
		return -1;
	if ((size_t)n > size) {
		errno = ENOSPC;
		return -1;
	}
	if ((size_t)n == len) {
		memcpy(out, arg, len);
		return n;
	}
	char *p = out;
	*p++ = '"';
	for (size_t i = 0; i < len; i++) {
		if (arg[i] == '"' || arg[i] == '\\')
			*p++ = '\\';
		*p++ = arg[i];
	}
	*p = '"';
	return n;
}

/* Sums the words, the spaces between them and the LF. */
ssize_t udo_vsock_proto_request_len(int argc, char *const argv[], int *bad)
{
	if (argc < 1) {
		errno = EINVAL;
		return -1;
	}
	size_t total = (size_t)argc; /* argc - 1 spaces and the LF */
	for (int i = 0; i < argc; i++) {
		ssize_t n = udo_vsock_proto_quoted_len(argv[i], strlen(argv[i]));
		if (n < 0) {
			if (bad)
				*bad = i;
			return -1;
		}
		total += (size_t)n;
	}
	return (ssize_t)total;
}

/* Writes the whole line when it fits; nothing otherwise. */
ssize_t udo_vsock_proto_build_request(char *out, size_t size, int argc, char *const argv[], int *bad)
{
	ssize_t total = udo_vsock_proto_request_len(argc, argv, bad);
	if (total < 0)
		return -1;
	if ((size_t)total > size) {
		errno = ENOSPC;
		return -1;
	}
	char *p = out;
	for (int i = 0; i < argc; i++) {
		if (i > 0)
			*p++ = ' ';
		/* Cannot fail: the lengths were checked above. */
		p += udo_vsock_proto_quote(p, (size_t)(out + total - p), argv[i], strlen(argv[i]));
	}
	*p = '\n';
	return total;
}

/* Blank: spaces and tabs only, with an optional final CR. */
bool udo_vsock_proto_line_is_blank(const char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\r')
		len--;
	for (size_t i = 0; i < len; i++) {
		if (!is_blank(line[i]))
			return false;
	}
	return true;
}

/* Compares the first unquoted token with WORD, ignoring case. */
bool udo_vsock_proto_line_command_is(const char *line, size_t len, const char *word)
{
	size_t i = 0;
	while (i < len && is_blank(line[i]))
		i++;
	size_t start = i;
	while (i < len && !is_blank(line[i]) && line[i] != '\r')
		i++;
	size_t wlen = strlen(word);
	return i - start == wlen && strncasecmp(line + start, word, wlen) == 0;
}

/* Is C allowed in an ERR code token? */
static bool is_code_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Does LINE start with WORD followed by the end of line or one space?
 * Sets *REST to the offset of what follows the space (or LEN). */
static bool starts_with_word(const char *line, size_t len, const char *word, size_t *rest)
{
	size_t wlen = strlen(word);
	if (len < wlen || memcmp(line, word, wlen) != 0)
		return false;
	if (len == wlen) {
		*rest = len;
		return true;
	}
	if (line[wlen] != ' ')
		return false;
	*rest = wlen + 1;
	return true;
}

/* Fails a classification: errno EPROTO. Returns REPLY_INVALID. */
static enum udo_vsock_proto_reply_kind reply_invalid(void)
{
	errno = EPROTO;
	return UDO_VSOCK_PROTO_REPLY_INVALID;
}

/* Splits one reply line into kind, text and code. */
enum udo_vsock_proto_reply_kind udo_vsock_proto_classify_reply(const char *line, size_t len,
                                                               struct udo_vsock_proto_reply *reply)
{
	size_t rest;

	*reply = (struct udo_vsock_proto_reply){.kind = UDO_VSOCK_PROTO_REPLY_INVALID, .text = line, .text_len = 0};
	if (starts_with_word(line, len, "D", &rest))
		reply->kind = UDO_VSOCK_PROTO_REPLY_DATA;
	else if (starts_with_word(line, len, "OK", &rest))
		reply->kind = UDO_VSOCK_PROTO_REPLY_OK;
	else if (starts_with_word(line, len, "ERR", &rest)) {
		size_t end = rest;
		while (end < len && is_code_char(line[end]))
			end++;
		if (end == rest || (end < len && line[end] != ' '))
			return reply_invalid();
		reply->code = line + rest;
		reply->code_len = end - rest;
		rest = end < len ? end + 1 : end;
		reply->kind = UDO_VSOCK_PROTO_REPLY_ERR;
	} else {
		return reply_invalid();
	}
	reply->text = line + rest;
	reply->text_len = len - rest;
	return reply->kind;
}
