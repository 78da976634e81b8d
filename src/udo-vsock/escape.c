/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* escape.c - make server bytes safe to show on a terminal (udo-vsock CLI) */
#include "escape.h"

#include <errno.h>
#include <stdint.h>

/* Length of the valid UTF-8 character at S (AVAIL bytes there) that is
 * printable (not a C1 control), 0 if there is none, or -1 when S holds
 * only a valid but incomplete beginning of one. */
static int utf8_printable_len(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	int n;
	uint32_t cp, min;

	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	for (int i = 1; i < n; i++) {
		if ((size_t)i >= avail)
			return -1;
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
		/* Reject overlong forms, surrogates and values past U+10FFFF as
		 * soon as the second byte tells, so a prefix is never kept. */
		if (i == 1 && n == 3 && ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0)))
			return 0;
		if (i == 1 && n == 4 && ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90)))
			return 0;
	}
	if (cp < min || (cp >= 0x80 && cp < 0xa0))
		return 0;
	return n;
}

/* Appends the cat -v notation of the single byte C. */
static int escape_byte(struct cli_buf *out, unsigned char c)
{
	char t[4];
	size_t n = 0;

	if (c >= 0x80) {
		t[n++] = 'M';
		t[n++] = '-';
		c &= 0x7f;
	}
	if (c < 0x20 || c == 0x7f) {
		t[n++] = '^';
		t[n++] = c == 0x7f ? '?' : (char)(c + 0x40);
	} else {
		t[n++] = (char)c;
	}
	return cli_buf_append(out, t, n);
}

/* Escapes S into OUT; keeps an incomplete UTF-8 tail when MORE. */
size_t cli_escape(struct cli_buf *out, const char *s, size_t len, bool more)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t start_len = out->len, i = 0, run = 0;

	while (i < len) {
		unsigned char c = u[i];
		int n = 1;
		bool plain;
		if (c >= 0x80) {
			n = utf8_printable_len(u + i, len - i);
			if (n < 0 && more)
				break;
			plain = n > 0;
			if (n <= 0)
				n = 1;
		} else {
			plain = c == '\t' || c == '\n' || (c >= 0x20 && c != 0x7f);
		}
		if (plain) {
			i += (size_t)n;
			run += (size_t)n;
			continue;
		}
		if (cli_buf_append(out, s + i - run, run) < 0 || escape_byte(out, c) < 0)
			goto fail;
		run = 0;
		i++;
	}
	if (cli_buf_append(out, s + i - run, run) < 0)
		goto fail;
	return i;
fail:
	out->len = start_len;
	errno = ENOMEM;
	return (size_t)-1;
}
