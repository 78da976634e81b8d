/* proto.c - the line protocol: pure request parsing and reply framing */
#include "proto.h"

#include <string.h>

/* True for the bytes that separate words. */
static int is_blank(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* True for bytes a request may not contain anywhere. */
static int is_forbidden(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

enum proto_parse_result proto_parse_line(char *line, size_t len, char **argv, int max_args, int *argc,
					 const char **why)
{
	size_t in = 0, out = 0;
	int n = 0;

	*argc = 0;
	*why = NULL;
	for (size_t i = 0; i < len; i++) {
		if (is_forbidden((unsigned char)line[i])) {
			*why = "control character in request";
			return PROTO_PARSE_SYNTAX;
		}
	}
	while (in < len) {
		while (in < len && is_blank((unsigned char)line[in]))
			in++;
		if (in == len)
			break;
		if (n == max_args) {
			*why = "too many arguments";
			return PROTO_PARSE_TOO_MANY;
		}
		/* Words are written compacted at OUT <= IN, so no byte is lost. */
		argv[n++] = line + out;
		int quoted = 0;
		while (in < len && (quoted || !is_blank((unsigned char)line[in]))) {
			char c = line[in++];
			if (c == '"') {
				quoted = !quoted;
				continue;
			}
			if (quoted && c == '\\' && in < len && (line[in] == '"' || line[in] == '\\'))
				c = line[in++];
			line[out++] = c;
		}
		if (quoted) {
			*why = "unterminated quote";
			return PROTO_PARSE_SYNTAX;
		}
		/* The terminator may land on the blank just consumed, or at LEN. */
		line[out++] = '\0';
		if (in < len)
			in++;
	}
	if (n == 0)
		return PROTO_PARSE_EMPTY;
	for (char *p = argv[0]; *p != '\0'; p++) {
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	}
	*argc = n;
	return PROTO_PARSE_OK;
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
