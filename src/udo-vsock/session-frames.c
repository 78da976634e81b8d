/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* session-frames.c - after OK session: the client's end of an exec
 * session, frames both ways (udo/vsock-frame.h, udo-vsock-protocol(7))
 *
 * One poll loop moves standard input into DATA(stdin) frames within the
 * window the daemon granted, DATA(stdout) and DATA(stderr) to descriptors
 * 1 and 2, grants the daemon more window as those bytes are written out
 * (so a slow local reader throttles the remote program; --window bytes
 * ahead at most, per channel), and turns
 * signals (through a self-pipe) into RESIZE and SIGNAL frames. The
 * program's EXIT frame becomes the exit status. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <udo/vsock-frame.h>

#include "escape.h"
#include "pump.h"
#include "tty.h"

#define SF_SEND_HIGH    (256 * 1024) /* stop reading standard input above this much unsent */
#define SF_RECV_ROUNDS  16           /* socket reads per turn of the loop */
#define SF_INT_TWICE_MS 1000         /* a second SIGINT this soon ends the CLI */

/* A channel from the daemon to a local descriptor. */
struct sf_out {
	int fd;
	bool escape;          /* a terminal without -t: show control bytes as cat -v */
	struct cli_buf buf;   /* bytes to write (escaped when ESCAPE) */
	struct cli_buf carry; /* ESCAPE: an incomplete UTF-8 tail */
	uint64_t window;      /* bytes the daemon may still send */
	uint64_t unreleased;  /* bytes received and not yet granted again */
	uint64_t to_grant;    /* grants not yet sent */
	bool eof;             /* EOF received */
	bool broken;          /* writing failed: the rest is dropped */
};

/* The session's state. */
struct sf {
	const struct cli_options *opt;
	int sock;
	struct cli_buf rx;  /* from the daemon: at most one partial frame after parsing */
	struct cli_buf tx;  /* frames to send */
	struct cli_buf pre; /* input read before the session began (batch mode) */
	int in_fd;          /* standard input, -1 once it ended */
	bool in_done;       /* EOF(stdin) queued */
	uint64_t in_window; /* DATA(stdin) bytes the daemon still takes */
	struct sf_out out[3];
	int sig_r;               /* the self-pipe's read end */
	int64_t last_int_ms;     /* the last SIGINT forwarded, or 0 */
	uint16_t rows, cols;     /* the terminal size sent last, 0 0 before */
	bool rx_eof;             /* the daemon closed, or the connection failed */
	bool tx_closed;          /* sending failed */
	int lost_errno;          /* why, when it was an error */
	bool got_exit;           /* EXIT arrived: status in exit_status */
	int exit_status;         /* 0..255 */
	bool got_error;          /* ERROR arrived (printed) */
	bool failed;             /* a failure of our own (printed): exit 255 */
	bool sent_pipe;          /* SIGNAL(PIPE) sent for a closed stdout */
	bool caught;             /* the handlers are installed: OLD holds what to put back */
	struct sigaction old[6]; /* dispositions to put back */
};

/* The signals a session catches (SIGPIPE: ignored), in the order of
 * struct sf's old[]. */
static const int sf_signals[6] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH, SIGPIPE};

static volatile sig_atomic_t sf_sig_w = -1; /* the self-pipe's write end */
static volatile sig_atomic_t sf_die_on_signal;

/* Signal handler: under -t (or for SIGQUIT) restore the terminal and die
 * of the signal; otherwise tell the loop through the self-pipe. */
static void sf_on_signal(int sig)
{
	if (sig != SIGWINCH && (sf_die_on_signal || sig == SIGQUIT))
		cli_tty_die(sig);
	int saved = errno;
	unsigned char c = (unsigned char)sig;
	if (sf_sig_w >= 0 && write(sf_sig_w, &c, 1) < 0) {
		/* full: a signal of that kind is already waiting */
	}
	errno = saved;
}

/* Prints MESSAGE as cli_error() does, the terminal first put back so the
 * line shows as a line; marks the session failed. */
static void __attribute__((format(printf, 2, 3))) sf_fail(struct sf *s, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	cli_tty_restore();
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cli_error("%s", msg);
	s->failed = true;
}

/* Queues a frame of TYPE on CHANNEL with LEN bytes of PAYLOAD. */
static void sf_queue(struct sf *s, uint8_t type, uint8_t channel, const void *payload, size_t len)
{
	struct udo_vsock_frame f = {.type = type, .channel = channel, .length = (uint32_t)len};
	char hdr[UDO_VSOCK_FRAME_HEADER_SIZE];

	if (s->failed || s->tx_closed)
		return;
	if (udo_vsock_frame_encode_header(hdr, &f) < 0) {
		sf_fail(s, "internal error: bad frame type %u", type);
		return;
	}
	if (cli_buf_reserve(&s->tx, sizeof(hdr) + len) < 0) {
		sf_fail(s, "out of memory");
		return;
	}
	cli_buf_append(&s->tx, hdr, sizeof(hdr));
	cli_buf_append(&s->tx, payload, len);
}

/* Queues WINDOW(CHANNEL, N). */
static void sf_queue_window(struct sf *s, uint8_t channel, uint32_t n)
{
	unsigned char b[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8),
	                      (unsigned char)n};
	sf_queue(s, UDO_VSOCK_FRAME_WINDOW, channel, b, sizeof(b));
}

/* Queues SIGNAL(SIG), when sessions carry it. */
static void sf_queue_signal(struct sf *s, int sig)
{
	const char *name = udo_vsock_frame_signal_name(sig);
	if (name)
		sf_queue(s, UDO_VSOCK_FRAME_SIGNAL, 0, name, strlen(name));
}

/* Queues RESIZE with the size of the local terminal, if there is one
 * and it is not the size sent last (a burst of SIGWINCH sends one). */
static void sf_queue_resize(struct sf *s)
{
	uint16_t rows, cols;
	if (cli_tty_size(STDIN_FILENO, &rows, &cols) < 0 && cli_tty_size(STDOUT_FILENO, &rows, &cols) < 0)
		return;
	if (rows == s->rows && cols == s->cols)
		return;
	s->rows = rows;
	s->cols = cols;
	unsigned char b[4] = {(unsigned char)(rows >> 8), (unsigned char)rows, (unsigned char)(cols >> 8),
	                      (unsigned char)cols};
	sf_queue(s, UDO_VSOCK_FRAME_RESIZE, 0, b, sizeof(b));
}

/* The TERM that START carries: $TERM under -t when it is a valid name
 * ([A-Za-z0-9._+-], at most UDO_VSOCK_FRAME_TERM_MAX bytes), else "". */
static const char *sf_term(const struct sf *s)
{
	const char *t = s->opt->tty ? getenv("TERM") : NULL;
	if (!t || strlen(t) > UDO_VSOCK_FRAME_TERM_MAX)
		return "";
	for (const char *c = t; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      strchr("._+-", *c)))
			return "";
	return t;
}

/* The local number of the signal NAME (without "SIG"), or -1. */
static int sf_signal_number(const char *name, size_t len)
{
	int sig = udo_vsock_frame_signal_number(name, len);
	for (int i = 1; sig < 0 && i < NSIG; i++) {
		const char *a = sigabbrev_np(i);
		if (a && strlen(a) == len && memcmp(a, name, len) == 0)
			sig = i;
	}
	return sig;
}

/* Handles EXIT's payload P of LEN bytes. */
static void sf_take_exit(struct sf *s, const unsigned char *p, size_t len)
{
	if (p[0] == UDO_VSOCK_FRAME_EXITED && len == 2) {
		s->exit_status = p[1];
	} else if (p[0] == UDO_VSOCK_FRAME_SIGNALED) {
		int sig = sf_signal_number((const char *)p + 1, len - 1);
		if (sig < 0 || 128 + sig > 254) {
			sf_fail(s, "the remote program was killed by signal %.*s, which has no number here",
			        (int)(len - 1), (const char *)p + 1);
			return;
		}
		s->exit_status = 128 + sig;
	} else {
		sf_fail(s, "protocol error: malformed EXIT frame");
		return;
	}
	s->got_exit = true;
}

/* Adds LEN bytes of DATA received on output channel O to its buffer. */
static void sf_take_data(struct sf *s, struct sf_out *o, const char *p, size_t len)
{
	o->window -= len;
	if (o->broken) {
		o->to_grant += len; /* dropped, and granted again at once */
		return;
	}
	o->unreleased += len;
	if (!o->escape) {
		if (cli_buf_append(&o->buf, p, len) < 0)
			sf_fail(s, "out of memory");
		return;
	}
	if (cli_buf_append(&o->carry, p, len) < 0) {
		sf_fail(s, "out of memory");
		return;
	}
	size_t used = cli_escape(&o->buf, cli_buf_head(&o->carry), cli_buf_used(&o->carry), !o->eof);
	if (used == (size_t)-1) {
		sf_fail(s, "out of memory");
		return;
	}
	cli_buf_consume(&o->carry, used);
}

/* Handles one frame F with its payload P. */
static void sf_take_frame(struct sf *s, const struct udo_vsock_frame *f, const char *p)
{
	struct sf_out *o = f->channel != UDO_VSOCK_FRAME_STDIN ? &s->out[f->channel] : NULL;

	switch (f->type) {
	case UDO_VSOCK_FRAME_DATA:
		if (!o || o->eof || f->length > o->window) {
			sf_fail(s, "protocol error: DATA on channel %u %s", f->channel,
			        !o       ? "from the daemon"
			        : o->eof ? "after its EOF"
			                 : "beyond the window granted");
			return;
		}
		sf_take_data(s, o, p, f->length);
		return;
	case UDO_VSOCK_FRAME_EOF:
		if (!o) {
			sf_fail(s, "protocol error: EOF on the input channel from the daemon");
			return;
		}
		o->eof = true;
		if (o->escape && cli_buf_used(&o->carry) > 0)
			sf_take_data(s, o, "", 0); /* the incomplete tail, escaped as it is */
		return;
	case UDO_VSOCK_FRAME_WINDOW:
		if (o) {
			sf_fail(s, "protocol error: WINDOW for output channel %u from the daemon", f->channel);
			return;
		}
		s->in_window += (uint32_t)((unsigned char)p[0] << 24 | (unsigned char)p[1] << 16 |
		                           (unsigned char)p[2] << 8 | (unsigned char)p[3]);
		return;
	case UDO_VSOCK_FRAME_EXIT:
		sf_take_exit(s, (const unsigned char *)p, f->length);
		return;
	case UDO_VSOCK_FRAME_ERROR:
		cli_tty_restore();
		fflush(stdout);
		fputs("udo-vsock: ", stderr);
		cli_put_text(stderr, p, f->length, !s->opt->raw && isatty(STDERR_FILENO));
		fputc('\n', stderr);
		s->got_error = true;
		return;
	default:
		sf_fail(s, "protocol error: frame type %u comes from clients only", f->type);
		return;
	}
}

/* Handles the complete frames received; stops after EXIT. */
static void sf_take_frames(struct sf *s)
{
	while (!s->failed && !s->got_exit && cli_buf_used(&s->rx) >= UDO_VSOCK_FRAME_HEADER_SIZE) {
		struct udo_vsock_frame f;
		char err[128];
		const char *h = cli_buf_head(&s->rx);
		if (udo_vsock_frame_decode_header(h, cli_buf_used(&s->rx), &f, err, sizeof(err)) < 0) {
			sf_fail(s, "protocol error: %s", err);
			return;
		}
		if (cli_buf_used(&s->rx) < UDO_VSOCK_FRAME_HEADER_SIZE + f.length)
			return;
		sf_take_frame(s, &f, h + UDO_VSOCK_FRAME_HEADER_SIZE);
		cli_buf_consume(&s->rx, UDO_VSOCK_FRAME_HEADER_SIZE + f.length);
	}
}

/* Reads what the socket has and handles the frames in it. */
static void sf_recv(struct sf *s)
{
	for (int i = 0; i < SF_RECV_ROUNDS && !s->rx_eof && !s->got_exit && !s->failed; i++) {
		size_t room = UDO_VSOCK_FRAME_HEADER_SIZE + UDO_VSOCK_FRAME_PAYLOAD_MAX;
		if (cli_buf_reserve(&s->rx, room) < 0) {
			sf_fail(s, "out of memory");
			return;
		}
		ssize_t n = recv(s->sock, s->rx.data + s->rx.len, room, MSG_DONTWAIT);
		if (n > 0) {
			s->rx.len += (size_t)n;
			sf_take_frames(s);
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return;
		} else {
			s->lost_errno = n < 0 ? errno : 0;
			s->rx_eof = true;
		}
	}
}

/* Sends what the socket takes; a failure drops the rest (the daemon is
 * gone, or going: what it still sent is read to the end). */
static void sf_send(struct sf *s)
{
	while (cli_buf_used(&s->tx) > 0 && !s->tx_closed) {
		ssize_t n = send(s->sock, cli_buf_head(&s->tx), cli_buf_used(&s->tx), MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			cli_buf_consume(&s->tx, (size_t)n);
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return;
		} else {
			if (!s->lost_errno)
				s->lost_errno = n < 0 ? errno : EPIPE;
			s->tx_closed = true;
			cli_buf_clear(&s->tx);
		}
	}
}

/* Queues DATA(stdin) from the bytes read before the session, within the
 * window. */
static void sf_send_pre(struct sf *s)
{
	while (cli_buf_used(&s->pre) > 0 && s->in_window > 0 && !s->failed && !s->tx_closed) {
		size_t n = cli_buf_used(&s->pre);
		if (n > UDO_VSOCK_FRAME_PAYLOAD_MAX)
			n = UDO_VSOCK_FRAME_PAYLOAD_MAX;
		if (n > s->in_window)
			n = (size_t)s->in_window;
		sf_queue(s, UDO_VSOCK_FRAME_DATA, UDO_VSOCK_FRAME_STDIN, cli_buf_head(&s->pre), n);
		cli_buf_consume(&s->pre, n);
		s->in_window -= n;
	}
}

/* Queues EOF(stdin) once the input ended and all of it is queued. */
static void sf_maybe_eof(struct sf *s)
{
	if (s->in_fd < 0 && !s->in_done && cli_buf_used(&s->pre) == 0) {
		sf_queue(s, UDO_VSOCK_FRAME_EOF, UDO_VSOCK_FRAME_STDIN, NULL, 0);
		s->in_done = true;
	}
}

/* Reads standard input straight into a DATA(stdin) frame. */
static void sf_read_input(struct sf *s)
{
	size_t max = UDO_VSOCK_FRAME_PAYLOAD_MAX;
	if (max > s->in_window)
		max = (size_t)s->in_window;
	if (cli_buf_reserve(&s->tx, UDO_VSOCK_FRAME_HEADER_SIZE + max) < 0) {
		sf_fail(s, "out of memory");
		return;
	}
	char *frame = s->tx.data + s->tx.len;
	ssize_t n = read(s->in_fd, frame + UDO_VSOCK_FRAME_HEADER_SIZE, max);
	if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n < 0 && !(errno == EIO && s->opt->tty)) /* EIO: the terminal hung up */
		cli_error("cannot read standard input: %s; sending its end", strerror(errno));
	if (n <= 0) {
		s->in_fd = -1;
		sf_maybe_eof(s);
		return;
	}
	struct udo_vsock_frame f = {
	    .type = UDO_VSOCK_FRAME_DATA, .channel = UDO_VSOCK_FRAME_STDIN, .length = (uint32_t)n};
	udo_vsock_frame_encode_header(frame, &f);
	s->tx.len += UDO_VSOCK_FRAME_HEADER_SIZE + (size_t)n;
	s->in_window -= (size_t)n;
}

/* Grants channel CH what was written out: in batches of a quarter of the
 * window, or all of it once the local buffer is empty. */
static void sf_grant(struct sf *s, int ch)
{
	struct sf_out *o = &s->out[ch];
	if (cli_buf_used(&o->buf) == 0) {
		o->to_grant += o->unreleased;
		o->unreleased = 0;
	}
	if (o->to_grant == 0 || o->eof || (o->to_grant < s->opt->window / 4 && cli_buf_used(&o->buf) > 0))
		return;
	sf_queue_window(s, (uint8_t)ch, (uint32_t)o->to_grant);
	o->window += o->to_grant;
	o->to_grant = 0;
}

/* Writes what channel CH holds to its descriptor. */
static void sf_write_out(struct sf *s, int ch)
{
	struct sf_out *o = &s->out[ch];
	ssize_t n = write(o->fd, cli_buf_head(&o->buf), cli_buf_used(&o->buf));

	if (n > 0) {
		cli_buf_consume(&o->buf, (size_t)n);
		uint64_t g = (uint64_t)n < o->unreleased ? (uint64_t)n : o->unreleased;
		o->unreleased -= g;
		o->to_grant += g;
		return;
	}
	if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	/* The local reader is gone: give the remote program what a local
	 * one would get, SIGPIPE, and drop what still comes on this channel,
	 * granting it again: the daemon sends EXIT only after all the output
	 * it read, so holding the window back would hold back the EXIT. */
	int err = n < 0 ? errno : EIO;
	o->broken = true;
	cli_buf_clear(&o->buf);
	cli_buf_clear(&o->carry);
	if (ch == UDO_VSOCK_FRAME_STDOUT && !s->sent_pipe) {
		sf_queue_signal(s, SIGPIPE);
		s->sent_pipe = true;
	}
	if (err != EPIPE) {
		cli_tty_restore();
		cli_error("cannot write standard %s: %s", ch == UDO_VSOCK_FRAME_STDOUT ? "output" : "error",
		          strerror(err));
		s->failed = ch == UDO_VSOCK_FRAME_STDOUT ? true : s->failed;
	}
}

/* Acts on the signals the self-pipe holds. */
static void sf_take_signals(struct sf *s)
{
	unsigned char sigs[64];
	ssize_t n = read(s->sig_r, sigs, sizeof(sigs));

	for (ssize_t i = 0; i < n; i++) {
		int sig = sigs[i];
		if (sig == SIGWINCH) {
			if (s->opt->tty)
				sf_queue_resize(s);
		} else if (sig == SIGINT) {
			int64_t now = cli_now_ms();
			if (s->last_int_ms && now - s->last_int_ms < SF_INT_TWICE_MS)
				cli_tty_die(SIGINT);
			s->last_int_ms = now;
			sf_queue_signal(s, SIGINT);
		} else {
			sf_queue_signal(s, sig);
		}
	}
}

/* Is output waiting for a local descriptor? */
static bool sf_output_pending(const struct sf *s)
{
	return cli_buf_used(&s->out[1].buf) > 0 || cli_buf_used(&s->out[2].buf) > 0;
}

/* The loop; returns when the session is over (EXIT, failure, loss). */
static void sf_loop(struct sf *s)
{
	for (;;) {
		sf_send_pre(s);
		sf_maybe_eof(s);
		sf_grant(s, UDO_VSOCK_FRAME_STDOUT);
		sf_grant(s, UDO_VSOCK_FRAME_STDERR);
		if (s->failed)
			return;
		if ((s->got_exit || s->rx_eof) && !sf_output_pending(s))
			return;
		bool live = !s->got_exit && !s->rx_eof;
		bool may_read = live && s->in_fd >= 0 && s->in_window > 0 && !s->tx_closed &&
		                cli_buf_used(&s->pre) == 0 && cli_buf_used(&s->tx) < SF_SEND_HIGH;
		struct pollfd fds[5] = {
		    {.fd = live ? s->sock : -1,
		     .events = POLLIN | (cli_buf_used(&s->tx) > 0 && !s->tx_closed ? POLLOUT : 0)},
		    {.fd = may_read ? s->in_fd : -1, .events = POLLIN},
		    {.fd = cli_buf_used(&s->out[1].buf) > 0 ? s->out[1].fd : -1, .events = POLLOUT},
		    {.fd = cli_buf_used(&s->out[2].buf) > 0 ? s->out[2].fd : -1, .events = POLLOUT},
		    {.fd = live ? s->sig_r : -1, .events = POLLIN},
		};
		if (poll(fds, 5, -1) < 0) {
			if (errno == EINTR)
				continue;
			sf_fail(s, "poll: %s", strerror(errno));
			return;
		}
		if (fds[4].revents & POLLIN)
			sf_take_signals(s);
		if (fds[0].revents & (POLLIN | POLLHUP | POLLERR))
			sf_recv(s);
		if (fds[2].revents & (POLLOUT | POLLERR | POLLHUP | POLLNVAL))
			sf_write_out(s, UDO_VSOCK_FRAME_STDOUT);
		if (fds[3].revents & (POLLOUT | POLLERR | POLLHUP | POLLNVAL))
			sf_write_out(s, UDO_VSOCK_FRAME_STDERR);
		if (fds[1].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))
			sf_read_input(s);
		if (fds[0].revents & POLLOUT || (fds[0].revents & POLLERR))
			sf_send(s);
		else if (live && cli_buf_used(&s->tx) > 0)
			sf_send(s); /* frames queued this turn: try at once */
	}
}

/* Sets up signals, the descriptors and raw mode. Returns 0 or -1 (printed). */
static int sf_setup(struct sf *s)
{
	int sp[2];

	if (pipe2(sp, O_CLOEXEC | O_NONBLOCK) < 0) {
		sf_fail(s, "pipe: %s", strerror(errno));
		return -1;
	}
	s->sig_r = sp[0];
	sf_sig_w = sp[1];
	sf_die_on_signal = s->opt->tty;
	struct sigaction sa = {.sa_handler = sf_on_signal, .sa_flags = SA_RESTART};
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sf_signals) / sizeof(sf_signals[0]); i++) {
		/* A closed stdout is EPIPE, forwarded as SIGNAL(PIPE). */
		sa.sa_handler = sf_signals[i] == SIGPIPE ? SIG_IGN : sf_on_signal;
		sigaction(sf_signals[i], &sa, &s->old[i]);
	}
	s->caught = true;

	/* Descriptors that are not terminals are made non-blocking, so that
	 * a stalled reader stops one channel only; terminals stay blocking
	 * (the shell shares them), written after POLLOUT. */
	for (int fd = STDOUT_FILENO; fd <= STDERR_FILENO; fd++)
		if (!isatty(fd) && cli_tty_nonblock(fd) < 0 && errno != EBADF) {
			sf_fail(s, "fcntl: %s", strerror(errno));
			return -1;
		}
	if (s->opt->tty && isatty(STDIN_FILENO) && cli_tty_raw(STDIN_FILENO) < 0) {
		sf_fail(s, "cannot put the terminal into raw mode: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Puts back the signal dispositions and closes the self-pipe. */
static void sf_teardown(struct sf *s)
{
	for (size_t i = 0; s->caught && i < sizeof(sf_signals) / sizeof(sf_signals[0]); i++)
		sigaction(sf_signals[i], &s->old[i], NULL);
	int w = sf_sig_w;
	sf_sig_w = -1;
	if (w >= 0)
		close(w);
	if (s->sig_r >= 0)
		close(s->sig_r);
	cli_tty_restore();
	cli_buf_free(&s->rx);
	cli_buf_free(&s->tx);
	cli_buf_free(&s->pre);
	for (int ch = 1; ch <= 2; ch++) {
		cli_buf_free(&s->out[ch].buf);
		cli_buf_free(&s->out[ch].carry);
	}
}

/* The exit status the session ended with. */
static int sf_status(struct sf *s)
{
	if (s->failed || s->got_error)
		return CLI_EXIT_SESSION;
	if (s->got_exit)
		return s->exit_status;
	cli_tty_restore();
	if (s->lost_errno)
		cli_error("connection lost before the remote program's exit status (%s)", strerror(s->lost_errno));
	else
		cli_error("the server closed the connection before the remote program's exit status");
	return CLI_EXIT_SESSION;
}

/* After OK session: runs the session over P's connection. */
int cli_pump_session(struct cli_pump *p, const struct cli_options *opt)
{
	struct sf s = {
	    .opt = opt,
	    .sock = p->sock,
	    .in_fd = p->in_fd >= 0 && p->in_eof ? -1 : p->pipe_fd,
	    .sig_r = -1,
	};
	for (int ch = 1; ch <= 2; ch++)
		s.out[ch] = (struct sf_out){
		    .fd = ch,
		    .escape = !opt->tty && (ch == 1 ? opt->escape_out : opt->escape_err),
		    .window = opt->window,
		};

	fflush(stdout);
	/* Frames the daemon sent after the OK line; request lines not yet
	 * sent and a partial input line (batch mode) are input bytes now. */
	if (cli_buf_append(&s.rx, cli_buf_head(&p->reply), cli_buf_used(&p->reply)) < 0 ||
	    cli_buf_append(&s.pre, cli_buf_head(&p->out), cli_buf_used(&p->out)) < 0 ||
	    cli_buf_append(&s.pre, cli_buf_head(&p->in), cli_buf_used(&p->in)) < 0)
		sf_fail(&s, "out of memory");
	cli_buf_clear(&p->reply);
	cli_buf_clear(&p->out);
	cli_buf_clear(&p->in);
	p->outstanding = 0;

	if (!s.failed && sf_setup(&s) == 0) {
		sf_queue_window(&s, UDO_VSOCK_FRAME_STDOUT, opt->window);
		sf_queue_window(&s, UDO_VSOCK_FRAME_STDERR, opt->window);
		if (opt->tty)
			sf_queue_resize(&s);
		const char *term = sf_term(&s);
		sf_queue(&s, UDO_VSOCK_FRAME_START, 0, term, strlen(term));
		sf_take_frames(&s);
		sf_loop(&s);
	}
	int rc = sf_status(&s);
	sf_teardown(&s);
	return rc;
}
