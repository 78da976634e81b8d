/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* proto.c - the line protocol: pure request parsing and reply framing */
#include "proto.h"

#include <string.h>

/* What a request byte is to the tokenizer. */
enum byte_class {
	BYTE_WORD = 0, /* part of a word */
	BYTE_BLANK,    /* space or tab: separates words */
	BYTE_QUOTE,    /* " groups */
	BYTE_BAD,      /* a control character (but tab) or DEL: refused */
};

static const unsigned char byte_class[256] = {
    [0 ... 0x08] = BYTE_BAD, ['\t'] = BYTE_BLANK, [0x0a ... 0x1f] = BYTE_BAD,
    [' '] = BYTE_BLANK,      ['"'] = BYTE_QUOTE,  [0x7f] = BYTE_BAD,
};

/* True if any of the bytes P..END is refused. */
static int has_bad_byte(const char *p, const char *end)
{
	for (; p < end; p++) {
		if (byte_class[(unsigned char)*p] == BYTE_BAD)
			return 1;
	}
	return 0;
}

/* One pass: words are copied compacted to OUT <= P (quotes and escapes
 * removed), so no byte is lost and nothing is scanned twice. */
enum proto_parse_result proto_parse_line(char *line, size_t len, char **argv, int max_args, int *argc, const char **why)
{
	const char *p = line, *end = line + len;
	char *out = line;
	int n = 0;

	*argc = 0;
	*why = NULL;
	for (;;) {
		while (p < end && byte_class[(unsigned char)*p] == BYTE_BLANK)
			p++;
		if (p == end)
			break;
		if (n == max_args) {
			/* A control character anywhere outranks the word count. */
			if (has_bad_byte(p, end))
				goto bad_byte;
			*why = "too many arguments";
			return PROTO_PARSE_TOO_MANY;
		}
		argv[n++] = out;
		while (p < end) {
			/* A run of plain bytes: scanned, then moved only if a
			 * quote or extra blanks came before. */
			const char *run = p;
			while (p < end && byte_class[(unsigned char)*p] == BYTE_WORD)
				p++;
			if (out != run)
				memmove(out, run, (size_t)(p - run));
			out += p - run;
			if (p == end)
				break;
			unsigned char c = (unsigned char)*p;
			enum byte_class k = byte_class[c];
			if (k == BYTE_BLANK) {
				p++;
				break;
			}
			if (k == BYTE_BAD)
				goto bad_byte;
			/* A quoted part: up to the closing quote, \" and \\ escaped. */
			for (p++;; p++) {
				if (p == end) {
					*why = "unterminated quote";
					return PROTO_PARSE_SYNTAX;
				}
				c = (unsigned char)*p;
				if (c == '"')
					break;
				if (byte_class[c] == BYTE_BAD)
					goto bad_byte;
				if (c == '\\' && p + 1 < end && (p[1] == '"' || p[1] == '\\'))
					c = (unsigned char)*++p;
				*out++ = (char)c;
			}
			p++;
		}
		/* The terminator lands on a byte already consumed, or at LEN. */
		*out++ = '\0';
	}
	if (n == 0)
		return PROTO_PARSE_EMPTY;
	for (char *q = argv[0]; *q != '\0'; q++)
		*q = (char)((unsigned char)*q | ((unsigned char)(*q - 'A') < 26 ? 0x20 : 0));
	*argc = n;
	return PROTO_PARSE_OK;

bad_byte:
	*argc = 0;
	*why = "control character in request";
	return PROTO_PARSE_SYNTAX;
}

int proto_is_line_safe(const char *text, size_t len)
{
	return memchr(text, '\n', len) == NULL && memchr(text, '\r', len) == NULL && memchr(text, '\0', len) == NULL;
}

int proto_is_error_code(const char *code)
{
	if (code[0] < 'a' || code[0] > 'z')
		return 0;
	for (const char *p = code; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || *p == '-'))
			return 0;
	}
	return 1;
}
