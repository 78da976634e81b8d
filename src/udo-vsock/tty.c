/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tty.c - the local side of a session: the terminal in raw mode, its
 * size, non-blocking standard descriptors, and putting all of that back
 * on every way out (udo-vsock CLI)
 *
 * What was changed is kept in static storage written before the change,
 * so that a signal handler can put it back with tcsetattr() and fcntl(),
 * which are async-signal-safe. */
#include "tty.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#define TTY_FLAG_SLOTS 3 /* standard input, output and error */

static struct termios tty_saved;
static volatile sig_atomic_t tty_saved_fd = -1; /* the raw terminal, or -1 */

static struct {
	int fd;
	int flags;
} tty_flags[TTY_FLAG_SLOTS];
static volatile sig_atomic_t tty_nflags;

static bool tty_atexit_done;

/* Registers cli_tty_restore() with atexit() once. */
static void tty_restore_at_exit(void)
{
	if (!tty_atexit_done && atexit(cli_tty_restore) == 0)
		tty_atexit_done = true;
}

/* Raw mode on FD, as ssh's enter_raw_mode(). */
int cli_tty_raw(int fd)
{
	struct termios t;

	if (tty_saved_fd >= 0)
		return 0;
	if (tcgetattr(fd, &t) < 0)
		return -1;
	tty_saved = t;
	tty_restore_at_exit();
	t.c_iflag |= IGNPAR;
	t.c_iflag &= ~(tcflag_t)(ISTRIP | INLCR | IGNCR | ICRNL | IXON | IXANY | IXOFF);
#ifdef IUCLC
	t.c_iflag &= ~(tcflag_t)IUCLC;
#endif
	t.c_lflag &= ~(tcflag_t)(ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHONL | IEXTEN);
	t.c_oflag &= ~(tcflag_t)OPOST;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	tty_saved_fd = fd; /* before the change: a signal in between restores */
	if (tcsetattr(fd, TCSADRAIN, &t) < 0) {
		int saved = errno;
		tty_saved_fd = -1;
		errno = saved;
		return -1;
	}
	return 0;
}

/* O_NONBLOCK on FD, its old flags recorded first. */
int cli_tty_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -1;
	if (fl & O_NONBLOCK)
		return 0;
	if (tty_nflags >= TTY_FLAG_SLOTS) {
		errno = ENOSPC;
		return -1;
	}
	tty_restore_at_exit();
	tty_flags[tty_nflags].fd = fd;
	tty_flags[tty_nflags].flags = fl;
	tty_nflags++;
	if (fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		int saved = errno;
		tty_nflags--;
		errno = saved;
		return -1;
	}
	return 0;
}

/* Puts back the terminal and the flags; safe in a signal handler. */
void cli_tty_restore(void)
{
	int saved = errno;
	int fd = tty_saved_fd;

	if (fd >= 0) {
		/* TCSANOW: draining could wait forever for a stopped terminal. */
		tcsetattr(fd, TCSANOW, &tty_saved);
		tty_saved_fd = -1;
	}
	while (tty_nflags > 0) {
		tty_nflags--;
		fcntl(tty_flags[tty_nflags].fd, F_SETFL, tty_flags[tty_nflags].flags);
	}
	errno = saved;
}

/* Restores, then dies of SIG with its default action. */
void cli_tty_die(int sig)
{
	struct sigaction sa = {.sa_handler = SIG_DFL};
	sigset_t set;

	cli_tty_restore();
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
	_exit(128 + sig); /* a signal whose default action is not to end */
}

/* TIOCGWINSZ on FD. */
int cli_tty_size(int fd, uint16_t *rows, uint16_t *cols)
{
	struct winsize ws;

	if (ioctl(fd, TIOCGWINSZ, &ws) < 0 || ws.ws_row == 0 || ws.ws_col == 0)
		return -1;
	*rows = ws.ws_row;
	*cols = ws.ws_col;
	return 0;
}
