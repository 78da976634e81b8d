/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* buf.h - growable byte buffer with a consumed prefix (udo-vsock CLI) */
#ifndef UDO_CLI_BUF_H
#define UDO_CLI_BUF_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Bytes [off, len) of DATA are pending; [0, off) were consumed. While
 * KEEP is true the consumed prefix is never discarded, so it can be
 * replayed with cli_buf_rewind() (used to re-send requests after a
 * connection reset). A zeroed struct is an empty buffer.
 */
struct cli_buf {
	char *data;
	size_t off;
	size_t len;
	size_t cap;
	bool keep;
};

/* Number of pending bytes. */
static inline size_t cli_buf_used(const struct cli_buf *b)
{
	return b->len - b->off;
}

/* Pointer to the first pending byte (NULL for a never-filled buffer). */
static inline char *cli_buf_head(const struct cli_buf *b)
{
	return b->data ? b->data + b->off : NULL;
}

/* Makes room for N more bytes at the end. Returns 0, or -1 with errno
 * ENOMEM (the buffer is unchanged). */
int cli_buf_reserve(struct cli_buf *b, size_t n);

/* Appends N bytes from P. Returns 0, or -1 with errno ENOMEM (unchanged). */
int cli_buf_append(struct cli_buf *b, const void *p, size_t n);

/* Marks N pending bytes (at most cli_buf_used) as consumed. */
void cli_buf_consume(struct cli_buf *b, size_t n);

/* Makes the kept consumed prefix pending again (no-op unless KEEP). */
void cli_buf_rewind(struct cli_buf *b);

/* Drops the consumed prefix now and stops keeping it. */
void cli_buf_forget(struct cli_buf *b);

/* Empties the buffer, keeping its memory. */
void cli_buf_clear(struct cli_buf *b);

/* Frees the memory and leaves an empty buffer. */
void cli_buf_free(struct cli_buf *b);

#endif /* UDO_CLI_BUF_H */
