/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* escape.h - make server bytes safe to show on a terminal (udo-vsock CLI) */
#ifndef UDO_CLI_ESCAPE_H
#define UDO_CLI_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/*
 * Appends the LEN bytes of S to OUT in the notation of `cat -v`, so that
 * a terminal shows them instead of obeying them: a control byte other
 * than tab and LF becomes ^X (ESC ^[, CR ^M, BEL ^G, DEL ^?); a byte of
 * 0x80 and up that is not part of a valid UTF-8 character, and every
 * byte of an encoded C1 control (U+0080..U+009F), becomes M- followed by
 * the notation of its low seven bits. Valid UTF-8 text passes unchanged.
 *
 * With MORE true, an incomplete UTF-8 sequence at the end of S is left
 * for the next call (the return value is then less than LEN). Returns
 * the number of bytes of S consumed, or (size_t)-1 with errno ENOMEM
 * (OUT is then truncated back to what it held before).
 */
size_t cli_escape(struct cli_buf *out, const char *s, size_t len, bool more);

#endif /* UDO_CLI_ESCAPE_H */
