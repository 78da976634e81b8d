/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* buf.c - growable byte buffer with a consumed prefix (udo-vsock CLI) */
#include "buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Moves the pending bytes to the front unless the prefix must be kept. */
static void cli_buf_compact(struct cli_buf *b)
{
	if (b->keep || b->off == 0)
		return;
	memmove(b->data, b->data + b->off, b->len - b->off);
	b->len -= b->off;
	b->off = 0;
}

/* Makes room for N more bytes; fails with ENOMEM on overflow or no memory. */
int cli_buf_reserve(struct cli_buf *b, size_t n)
{
	if (b->cap - b->len >= n)
		return 0;
	cli_buf_compact(b);
	if (b->cap - b->len >= n)
		return 0;
	if (n > SIZE_MAX / 2 - b->len) {
		errno = ENOMEM;
		return -1;
	}
	size_t cap = b->cap ? b->cap : 256;
	while (cap - b->len < n)
		cap *= 2;
	char *data = realloc(b->data, cap);
	if (!data)
		return -1;
	b->data = data;
	b->cap = cap;
	return 0;
}

/* Appends N bytes; fails like cli_buf_reserve. */
int cli_buf_append(struct cli_buf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (cli_buf_reserve(b, n) < 0)
		return -1;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

/* Consumes N pending bytes; an empty unkept buffer restarts at 0. */
void cli_buf_consume(struct cli_buf *b, size_t n)
{
	if (n > b->len - b->off)
		n = b->len - b->off;
	b->off += n;
	if (b->off == b->len && !b->keep)
		b->off = b->len = 0;
}

/* Makes the kept prefix pending again; nothing when it is not kept. */
void cli_buf_rewind(struct cli_buf *b)
{
	if (b->keep)
		b->off = 0;
}

/* Stops keeping the prefix and drops it. */
void cli_buf_forget(struct cli_buf *b)
{
	b->keep = false;
	cli_buf_compact(b);
}

/* Empties the buffer. */
void cli_buf_clear(struct cli_buf *b)
{
	b->off = b->len = 0;
}

/* Frees the buffer. */
void cli_buf_free(struct cli_buf *b)
{
	free(b->data);
	*b = (struct cli_buf){0};
}
