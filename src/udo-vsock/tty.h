/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tty.h - the local side of a session: the terminal in raw mode, its
 * size, non-blocking standard descriptors, and putting all of that back
 * on every way out (udo-vsock CLI) */
#ifndef UDO_CLI_TTY_H
#define UDO_CLI_TTY_H

#include <stdint.h>

/* Saves the settings of the terminal FD and puts it into raw mode as
 * ssh -t does: no echo, no line editing, no signals from ^C, ^Z or ^\,
 * no flow control, no output processing. The first change of this
 * process registers cli_tty_restore() with atexit(). Returns 0, or -1
 * with errno (FD is then unchanged). */
int cli_tty_raw(int fd);

/* Sets O_NONBLOCK on FD, remembering its flags for cli_tty_restore().
 * Returns 0, or -1 with errno. */
int cli_tty_nonblock(int fd);

/* Puts back every terminal setting and descriptor flag changed above.
 * Idempotent and async-signal-safe (tcsetattr and fcntl only), so a
 * signal handler may call it. */
void cli_tty_restore(void);

/* Restores as cli_tty_restore(), then dies of signal SIG as if it had
 * never been caught (the default action, re-raised), so that a shell
 * sees how the CLI ended. Async-signal-safe; does not return. */
void cli_tty_die(int sig) __attribute__((noreturn));

/* The size of the terminal on FD in *ROWS and *COLS. Returns 0, or -1
 * when FD is no terminal or reports no size (0 rows or columns). */
int cli_tty_size(int fd, uint16_t *rows, uint16_t *cols);

#endif /* UDO_CLI_TTY_H */
