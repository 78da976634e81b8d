/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* proto.c - request quoting and reply classification (pure functions) */
#include "proto.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

/* Is C a token separator of the protocol? */
static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* True when ARG must be quoted to stay one token with the same bytes. */
bool cli_arg_needs_quotes(const char *arg, size_t len)
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

/* Appends ARG as one token; fails on LF/NUL (EINVAL) or ENOMEM. */
int cli_quote_arg(struct cli_buf *out, const char *arg, size_t len)
{
	if (memchr(arg, '\n', len) || memchr(arg, '\0', len)) {
		errno = EINVAL;
		return -1;
	}
	if (!cli_arg_needs_quotes(arg, len))
		return cli_buf_append(out, arg, len);

	size_t extra = 2;
	for (size_t i = 0; i < len; i++)
		extra += arg[i] == '"' || arg[i] == '\\';
	if (cli_buf_reserve(out, len + extra) < 0)
		return -1;
	char *p = out->data + out->len;
	*p++ = '"';
	for (size_t i = 0; i < len; i++) {
		if (arg[i] == '"' || arg[i] == '\\')
			*p++ = '\\';
		*p++ = arg[i];
	}
	*p++ = '"';
	out->len += len + extra;
	return 0;
}

/* Appends a whole request line; on failure truncates OUT back. */
int cli_build_request(struct cli_buf *out, int argc, char *const argv[], int *bad)
{
	if (argc < 1) {
		errno = EINVAL;
		return -1;
	}
	size_t start = out->len;
	for (int i = 0; i < argc; i++) {
		if ((i > 0 && cli_buf_append(out, " ", 1) < 0) || cli_quote_arg(out, argv[i], strlen(argv[i])) < 0) {
			if (bad && errno == EINVAL)
				*bad = i;
			out->len = start;
			return -1;
		}
	}
	if (cli_buf_append(out, "\n", 1) < 0) {
		out->len = start;
		return -1;
	}
	return 0;
}

/* Blank: spaces and tabs only, with an optional final CR. */
bool cli_line_is_blank(const char *line, size_t len)
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
bool cli_line_command_is(const char *line, size_t len, const char *word)
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

/* Splits one reply line into kind, text and code. */
enum cli_reply_kind cli_reply_classify(const char *line, size_t len, struct cli_reply *reply)
{
	size_t rest;

	*reply = (struct cli_reply){.kind = CLI_REPLY_INVALID, .text = line, .text_len = 0};
	if (starts_with_word(line, len, "D", &rest))
		reply->kind = CLI_REPLY_DATA;
	else if (starts_with_word(line, len, "OK", &rest))
		reply->kind = CLI_REPLY_OK;
	else if (starts_with_word(line, len, "ERR", &rest)) {
		size_t end = rest;
		while (end < len && is_code_char(line[end]))
			end++;
		if (end == rest || (end < len && line[end] != ' '))
			return CLI_REPLY_INVALID;
		reply->code = line + rest;
		reply->code_len = end - rest;
		rest = end < len ? end + 1 : end;
		reply->kind = CLI_REPLY_ERR;
	} else {
		return CLI_REPLY_INVALID;
	}
	reply->text = line + rest;
	reply->text_len = len - rest;
	return reply->kind;
}
