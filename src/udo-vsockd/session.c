/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* session.c - an exec session: after "OK session" the connection carries
 * frames (udo/vsock-frame.h, udo-vsock-protocol(7)) between the client and
 * one program, until EXIT or ERROR.
 *
 * Flow control is SSH's: every DATA needs window. The daemon reads the
 * program's stdout or stderr only while the client has granted window on
 * that channel and fewer than max-output-buffer frame bytes wait for the
 * client; it grants stdin window (session-window at the start) only as the
 * program takes the bytes, half a window at a time. So one session holds
 * at most session-window of stdin and max-output-buffer plus one read
 * (SESSION_READ_MAX) of output, whatever the
 * client does, and that counts in max-buffered (conn_bridge_hold). The
 * socket is always read, so a resize, a signal or an EOF is never held up
 * behind data. A client that breaks the rules gets ERROR and the program's
 * group is killed. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include <udo/vsock-frame.h>

#include "conf.h"
#include "conn.h"
#include "event-watch.h"
#include "frame-queue.h"
#include "log.h"
#include "server.h"
#include "session.h"
#include "util.h"

/* Socket reads per loop turn at most. */
#define SESSION_READS_PER_TURN 4
/* stdin window is granted again once this part of the window is owed (as
 * SSH does): not a frame for each keystroke. */
#define SESSION_GRANT_PART 2
/* How often the timer looks at the timeouts and the memory share (ms). */
#define SESSION_TICK_MS 250
/* After the last frame is sent: how long the client may take to close (ms). */
#define SESSION_LINGER_MS 2000
/* The most one window may add up to (a WINDOW total beyond is an error). */
#define SESSION_WINDOW_MAX UINT32_MAX

/* The most one read of the socket or of the program takes: a few frames'
 * worth, so bulk data costs fewer system calls (and, in a VM, switches). */
#define SESSION_READ_MAX (4 * UDO_VSOCK_FRAME_PAYLOAD_MAX)
/* The most one read of the program's output takes: its frames, headers
 * included, and a WINDOW grant sent in the same loop turn fit in a vsock
 * socket's default buffer (256 KiB), the most the client's side takes at
 * once. A read of SESSION_READ_MAX would leave the last few header bytes
 * behind, and sending those cost another turn and two epoll_ctl calls. */
#define SESSION_OUTPUT_READ_MAX (SESSION_READ_MAX - 4096)
/* stdin pieces written to the program with one writev at most. */
#define SESSION_STDIN_IOV 16

/* One read of the socket or of the program (one thread: one user at a time). */
static unsigned char session_scratch[UDO_VSOCK_FRAME_HEADER_SIZE + SESSION_READ_MAX];

enum session_phase {
	SESSION_SETUP,   /* before START: WINDOW and RESIZE may come */
	SESSION_RUNNING, /* the program runs, or its output drains */
	SESSION_CLOSING, /* EXIT or ERROR queued: flush, then close */
};

/* One output channel of the program (stdout or stderr). */
struct session_out {
	int fd; /* -1 once at EOF (or closed) */
	struct event *ev;
	int reading;
	uint64_t window; /* bytes the client still takes on this channel */
	int waiting;     /* bytes wait in it for window (else it is watched for its EOF) */
};

/* One session, owned by its bridged connection. */
struct session {
	struct conn *conn; /* NULL until the bridge starts */
	int fd;            /* the client's socket (the connection's) */
	struct session_limits lim;
	const struct session_program *prog;
	void *arg;
	int released; /* prog->release was called */
	enum session_phase phase;
	struct event *rev, *wev, *tick;
	int reading_sock, writing_sock;
	int shut;             /* the last frame is sent and our side shut: wait for the client's close */
	uint64_t shut_ms;     /* when */
	struct evbuffer *out; /* frames for the client */
	size_t max_out;       /* max-output-buffer */
	/* The frame being read: its header, then its payload. */
	unsigned char hdr[UDO_VSOCK_FRAME_HEADER_SIZE];
	size_t hdr_len;
	int in_payload;
	struct udo_vsock_frame f;
	size_t body_len; /* payload bytes of F read so far */
	unsigned char ctl[UDO_VSOCK_FRAME_TERM_MAX + 8];
	/* stdin: what the client sent and the program has not taken */
	int in_fd;
	struct event *in_ev;
	int writing_in;
	struct evbuffer *in;
	uint64_t in_window;      /* stdin bytes the client may still send */
	uint64_t in_owed;        /* taken by the program, not yet granted again */
	int in_eof;              /* the client sent EOF(stdin) */
	int in_eof_done;         /* ... and it was passed on */
	struct session_out o[3]; /* [1] stdout, [2] stderr */
	unsigned short rows, cols;
	pid_t pid;
	int reaped, status;
	uint64_t started_ms, reaped_ms;
	uint64_t last_frame_ms; /* when the timer last saw a frame go either way */
	int framed;             /* a frame went either way since: the clock is read
	                         * by the timer only (in a VM it is a system call) */
};

static void session_update(struct session *s);
static void session_stdin_cb(evutil_socket_t fd, short what, void *arg);
static void session_output_cb(evutil_socket_t fd, short what, void *arg);

/* Milliseconds since the daemon started. */
static uint64_t session_now(const struct session *s)
{
	return server_uptime_ms(conn_server(s->conn));
}

/* Appends to BUF what is left of the N pieces at IOV after their first
 * DONE bytes went out. Returns 0, or -1 out of memory. */
static int session_queue_rest(struct evbuffer *buf, const struct iovec *iov, int n, size_t done)
{
	for (int i = 0; i < n; i++) {
		if (done >= iov[i].iov_len) {
			done -= iov[i].iov_len;
			continue;
		}
		if (evbuffer_add(buf, (const char *)iov[i].iov_base + done, iov[i].iov_len - done) < 0)
			return -1;
		done = 0;
	}
	return 0;
}

/* Sends the N pieces at IOV to the client now, as far as its socket takes
 * them without blocking, when no frame waits before them, and queues the
 * rest: a frame that waited for the write event cost a loop turn (in a VM,
 * a switch) of its own, and one sent at once needs no buffer. A failed
 * send is left to the write event. Returns 0, or -1 out of memory. */
static int session_emit(struct session *s, struct iovec *iov, int n)
{
	size_t sent = 0;

	if (s->fd >= 0 && !s->shut && evbuffer_get_length(s->out) == 0) {
		struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n};
		ssize_t w = sendmsg(s->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w > 0) {
			sent = (size_t)w;
			s->framed = 1;
		}
	}
	return session_queue_rest(s->out, iov, n, sent);
}

/* Sends or queues a frame of TYPE on CHANNEL with LEN bytes of PAYLOAD. */
static void session_queue(struct session *s, uint8_t type, uint8_t channel, const void *payload, size_t len)
{
	struct udo_vsock_frame f = {.type = type, .channel = channel, .length = (uint32_t)len};
	unsigned char hdr[UDO_VSOCK_FRAME_HEADER_SIZE];
	struct iovec iov[2] = {{hdr, sizeof(hdr)}, {(void *)payload, len}};

	if (udo_vsock_frame_encode_header(hdr, &f) < 0 || session_emit(s, iov, len > 0 ? 2 : 1) < 0)
		log_warnx("session: cannot queue a frame of type %u", type);
}

/* Sends or queues a WINDOW frame granting N more bytes on CHANNEL. */
static void session_queue_window(struct session *s, uint8_t channel, uint32_t n)
{
	unsigned char b[4];

	frame_window_payload(b, n);
	session_queue(s, UDO_VSOCK_FRAME_WINDOW, channel, b, sizeof(b));
}

/* Sends or queues LEN bytes of output at P as DATA frames on CHANNEL. */
static void session_queue_data(struct session *s, uint8_t channel, const unsigned char *p, size_t len)
{
	unsigned char hdr[SESSION_READ_MAX / UDO_VSOCK_FRAME_PAYLOAD_MAX][UDO_VSOCK_FRAME_HEADER_SIZE];
	struct iovec iov[2 * (SESSION_READ_MAX / UDO_VSOCK_FRAME_PAYLOAD_MAX)];
	int n = 0;

	for (size_t off = 0, k = 0; off < len && k < sizeof(hdr) / sizeof(hdr[0]); k++) {
		size_t piece = len - off < UDO_VSOCK_FRAME_PAYLOAD_MAX ? len - off : UDO_VSOCK_FRAME_PAYLOAD_MAX;
		struct udo_vsock_frame f = {
		    .type = UDO_VSOCK_FRAME_DATA, .channel = channel, .length = (uint32_t)piece};
		(void)udo_vsock_frame_encode_header(hdr[k], &f);
		iov[n++] = (struct iovec){hdr[k], sizeof(hdr[k])};
		iov[n++] = (struct iovec){(void *)(p + off), piece};
		off += piece;
	}
	if (session_emit(s, iov, n) < 0)
		log_warnx("session: cannot queue %zu bytes of output", len);
}

/* Once the last frame is out, shuts our side, so the client reads it all
 * and an end of input, and waits a little for its close (closing with its
 * late grants unread could reset the connection before it read the end). */
static void session_shut_when_sent(struct session *s)
{
	if (s->phase == SESSION_CLOSING && evbuffer_get_length(s->out) == 0 && !s->shut) {
		shutdown(s->fd, SHUT_WR);
		s->shut = 1;
		s->shut_ms = session_now(s);
	}
}

/* Ends the program's side once: its group is killed unless reaped (at
 * once when the daemon stops: its loop would not wait for the grace). */
static void session_release_program(struct session *s)
{
	if (!s->released) {
		s->released = 1;
		if (s->conn != NULL && conn_server(s->conn)->stopping && s->pid > 0 && !s->reaped && !s->lim.observer)
			(void)kill(-s->pid, SIGKILL);
		s->prog->release(s->arg);
	}
}

/* Closes the program's ends of S: stdin, stdout, stderr (one master with a pty). */
static void session_close_program_fds(struct session *s)
{
	int closed[3] = {-1, -1, -1};
	int n = 0;

	if (s->in_ev != NULL)
		event_free(s->in_ev);
	s->in_ev = NULL;
	s->writing_in = 0;
	for (int i = 1; i <= 2; i++) {
		if (s->o[i].ev != NULL)
			event_free(s->o[i].ev);
		s->o[i].ev = NULL;
		s->o[i].reading = 0;
	}
	int fds[3] = {s->in_fd, s->o[1].fd, s->o[2].fd};
	for (int i = 0; i < 3; i++) {
		int dup = fds[i] < 0;
		for (int k = 0; k < n; k++)
			dup |= closed[k] == fds[i];
		if (!dup) {
			close(fds[i]);
			closed[n++] = fds[i];
		}
	}
	s->in_fd = s->o[1].fd = s->o[2].fd = -1;
}

/* Ends S now with ERROR "ERR CODE TEXT": the program's group is killed,
 * the frame flushed (bounded by the idle-timeout), the connection closed. */
static void session_fail(struct session *s, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void session_fail(struct session *s, const char *code, const char *fmt, ...)
{
	char text[UDO_VSOCK_FRAME_ERROR_MAX + 1], line[UDO_VSOCK_FRAME_ERROR_MAX + 1];
	const struct peer *peer = conn_peer(s->conn);
	va_list ap;

	if (s->phase == SESSION_CLOSING)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	int n = snprintf(line, sizeof(line), "ERR %s %s", code, text);
	if (n < 0 || (size_t)n > UDO_VSOCK_FRAME_ERROR_MAX)
		n = UDO_VSOCK_FRAME_ERROR_MAX;
	log_peer(LOG_LEVEL_INFO, peer->text, peer->cid, NULL, "session: %s", line);
	session_queue(s, UDO_VSOCK_FRAME_ERROR, 0, line, (size_t)n);
	s->phase = SESSION_CLOSING;
	s->last_frame_ms = session_now(s); /* the client gets an idle-timeout to read it */
	s->framed = 0;
	session_close_program_fds(s);
	session_release_program(s);
	evbuffer_drain(s->in, evbuffer_get_length(s->in));
	session_update(s);
}

/* Ends S at once without a word (the client has gone): frees the connection. */
static void session_end(struct session *s, const char *why)
{
	const struct peer *peer = conn_peer(s->conn);

	log_peer(LOG_LEVEL_INFO, peer->text, peer->cid, NULL, "session: %s", why);
	conn_free(s->conn); /* session_release frees S */
}

/* The signal number of the SIGNAL payload, and sends it to the group. */
static void session_signal(struct session *s, const unsigned char *name, size_t len)
{
	int sig = udo_vsock_frame_signal_number((const char *)name, len);

	if (sig < 0) {
		session_fail(s, "protocol", "SIGNAL of an unknown signal");
		return;
	}
	if (!s->reaped && s->pid > 0 && kill(-s->pid, sig) < 0 && errno != ESRCH)
		log_warn("session: kill(-%ld, %d)", (long)s->pid, sig);
}

/* Sets the terminal's size to S->rows x S->cols (the kernel sends SIGWINCH). */
static void session_set_size(struct session *s)
{
	struct winsize ws = {.ws_row = s->rows, .ws_col = s->cols};

	if (s->lim.pty && s->in_fd >= 0 && ioctl(s->in_fd, TIOCSWINSZ, &ws) < 0)
		log_warn("session: TIOCSWINSZ");
}

/* Whether the LEN bytes of TERM are a terminal name: [A-Za-z0-9._+-]. */
static int session_term_ok(const unsigned char *term, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = term[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '_' || c == '+' || c == '-'))
			return 0;
	}
	return 1;
}

/* START: spawns the program and grants the first stdin window. */
static void session_spawn(struct session *s, const unsigned char *term, size_t len)
{
	char tbuf[UDO_VSOCK_FRAME_TERM_MAX + 1];
	struct session_spawn sp = {.pty = s->lim.pty, .rows = s->rows, .cols = s->cols};
	struct event_base *base = conn_server(s->conn)->base;

	if (len > 0 && session_term_ok(term, len)) {
		memcpy(tbuf, term, len);
		tbuf[len] = '\0';
		sp.term = tbuf;
	}
	int err = s->prog->spawn(s->arg, &sp);
	if (err != 0) {
		session_fail(s, "failed", "cannot run the program: %s", strerror(err));
		return;
	}
	s->pid = sp.pid;
	s->in_fd = sp.in_fd;
	s->o[1].fd = sp.out_fd;
	s->o[2].fd = sp.err_fd;
	s->phase = SESSION_RUNNING;
	int ok = 1;
	for (int i = 0; i < 3; i++) {
		int fd = i == 0 ? s->in_fd : s->o[i].fd;
		if (fd >= 0 && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
			ok = 0;
	}
	if (s->in_fd >= 0) {
		s->in_ev = event_new(base, s->in_fd, EV_WRITE | EV_PERSIST, session_stdin_cb, s);
		ok = ok && s->in_ev != NULL;
	}
	for (int i = 1; i <= 2 && ok; i++) {
		if (s->o[i].fd >= 0) {
			s->o[i].ev = event_new(base, s->o[i].fd, EV_READ | EV_PERSIST, session_output_cb, s);
			ok = s->o[i].ev != NULL;
		}
	}
	if (!ok) {
		session_fail(s, "internal", "out of memory");
		return;
	}
	s->in_window = s->lim.window;
	session_queue_window(s, UDO_VSOCK_FRAME_STDIN, (uint32_t)s->lim.window);
	if (s->o[2].fd < 0)
		session_queue(s, UDO_VSOCK_FRAME_EOF, UDO_VSOCK_FRAME_STDERR, NULL, 0); /* none (a pty has none) */
}

/* A whole control frame F with its payload P arrived. */
static void session_control(struct session *s, const struct udo_vsock_frame *f, const unsigned char *p)
{
	uint32_t n;

	switch (f->type) {
	case UDO_VSOCK_FRAME_WINDOW:
		n = frame_window_value(p);
		if (f->channel == UDO_VSOCK_FRAME_STDIN) {
			session_fail(s, "protocol", "WINDOW on stdin (the daemon grants that one)");
			return;
		}
		if (s->o[f->channel].window + n > SESSION_WINDOW_MAX) {
			session_fail(s, "protocol", "window of channel %u beyond %u bytes", f->channel,
			             SESSION_WINDOW_MAX);
			return;
		}
		s->o[f->channel].window += n;
		return;
	case UDO_VSOCK_FRAME_RESIZE:
		s->rows = (unsigned short)(p[0] << 8 | p[1]);
		s->cols = (unsigned short)(p[2] << 8 | p[3]);
		if (s->phase == SESSION_RUNNING)
			session_set_size(s);
		return;
	case UDO_VSOCK_FRAME_START:
		if (s->phase != SESSION_SETUP) {
			session_fail(s, "protocol", "a second START");
			return;
		}
		session_spawn(s, p, f->length);
		return;
	case UDO_VSOCK_FRAME_EOF:
		if (f->channel != UDO_VSOCK_FRAME_STDIN || s->phase != SESSION_RUNNING || s->in_eof) {
			session_fail(s, "protocol", "EOF on channel %u %s", f->channel,
			             f->channel != UDO_VSOCK_FRAME_STDIN ? "from the client"
			             : s->in_eof                         ? "twice"
			                                                 : "before START");
			return;
		}
		s->in_eof = 1;
		return;
	case UDO_VSOCK_FRAME_SIGNAL:
		if (s->phase != SESSION_RUNNING) {
			session_fail(s, "protocol", "SIGNAL before START");
			return;
		}
		session_signal(s, p, f->length);
		return;
	default:
		session_fail(s, "protocol", "frame type %u from the client", f->type);
		return;
	}
}

/* A frame header arrived in S->hdr: checks it. Returns 0, or -1 after
 * failing S. */
static int session_header(struct session *s)
{
	char err[128];
	struct udo_vsock_frame *f = &s->f;

	if (udo_vsock_frame_decode_header(s->hdr, sizeof(s->hdr), f, err, sizeof(err)) < 0) {
		session_fail(s, "protocol", "%s", err);
		return -1;
	}
	switch (f->type) {
	case UDO_VSOCK_FRAME_DATA:
		if (f->channel != UDO_VSOCK_FRAME_STDIN) {
			session_fail(s, "protocol", "DATA on channel %u from the client", f->channel);
			return -1;
		}
		if (s->phase != SESSION_RUNNING || s->in_eof) {
			session_fail(s, "protocol", "DATA on stdin %s", s->in_eof ? "after its EOF" : "before START");
			return -1;
		}
		if (f->length > s->in_window) {
			session_fail(s, "protocol", "DATA of %u bytes on stdin overruns its window of %llu", f->length,
			             (unsigned long long)s->in_window);
			return -1;
		}
		s->in_window -= f->length;
		return 0;
	case UDO_VSOCK_FRAME_EXIT:
	case UDO_VSOCK_FRAME_ERROR:
		session_fail(s, "protocol", "frame type %u from the client", f->type);
		return -1;
	default:
		if (s->phase == SESSION_SETUP && f->type != UDO_VSOCK_FRAME_WINDOW &&
		    f->type != UDO_VSOCK_FRAME_RESIZE && f->type != UDO_VSOCK_FRAME_START) {
			session_fail(s, "protocol", "frame type %u before START", f->type);
			return -1;
		}
		return 0;
	}
}

/* The program's stdin failed (it closed it: EPIPE): DROPPED bytes and what
 * waits are dropped (and granted again), a pipe is closed. */
static void session_stdin_lost(struct session *s, size_t dropped)
{
	size_t queued = evbuffer_get_length(s->in);

	s->in_owed += dropped + queued;
	evbuffer_drain(s->in, queued);
	if (!s->lim.pty)
		watch_close(&s->in_ev, &s->writing_in, &s->in_fd);
}

/* Passes the N stdin pieces at IOV on: written to the program now as far
 * as its stdin takes them, when nothing waits before them (a chunk that
 * waited for the write event cost a loop turn of its own), the rest
 * queued, bounded by the window. Returns 0, or -1 out of memory. */
static int session_stdin_push(struct session *s, struct iovec *iov, int n)
{
	size_t total = 0, done = 0;

	for (int i = 0; i < n; i++)
		total += iov[i].iov_len;
	if (s->in_fd < 0) {
		s->in_owed += total; /* an input the program closed takes nothing */
		return 0;
	}
	if (evbuffer_get_length(s->in) == 0) {
		ssize_t w = writev(s->in_fd, iov, n);
		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			session_stdin_lost(s, total);
			return 0;
		}
		if (w > 0) {
			done = (size_t)w;
			s->in_owed += done;
		}
	}
	return session_queue_rest(s->in, iov, n, done);
}

/* Takes LEN bytes from the client through the frame parser. Returns 0, or
 * -1 once S is closing. */
static int session_input(struct session *s, const unsigned char *b, size_t len)
{
	struct iovec pend[SESSION_STDIN_IOV]; /* stdin pieces of B not yet passed on */
	int npend = 0;

	while (len > 0 && s->phase != SESSION_CLOSING) {
		if (!s->in_payload) {
			size_t n = sizeof(s->hdr) - s->hdr_len < len ? sizeof(s->hdr) - s->hdr_len : len;
			memcpy(s->hdr + s->hdr_len, b, n);
			s->hdr_len += n;
			b += n;
			len -= n;
			if (s->hdr_len < sizeof(s->hdr))
				break;
			s->hdr_len = 0;
			if (session_header(s) < 0)
				return -1;
			s->in_payload = 1;
			s->body_len = 0;
			s->framed = 1;
		}
		size_t want = s->f.length - s->body_len;
		size_t n = want < len ? want : len;
		if (s->f.type == UDO_VSOCK_FRAME_DATA && n > 0) {
			/* To the program's stdin, a few pieces at once: the
			 * window bounds what waits. */
			if (npend == SESSION_STDIN_IOV) {
				if (session_stdin_push(s, pend, npend) < 0) {
					session_fail(s, "internal", "out of memory");
					return -1;
				}
				npend = 0;
			}
			pend[npend++] = (struct iovec){(void *)b, n};
		} else if (s->f.type != UDO_VSOCK_FRAME_DATA) {
			memcpy(s->ctl + s->body_len, b, n);
		}
		s->body_len += n;
		b += n;
		len -= n;
		if (s->body_len == s->f.length) {
			s->in_payload = 0;
			if (s->f.type != UDO_VSOCK_FRAME_DATA)
				session_control(s, &s->f, s->ctl);
		}
	}
	if (npend > 0 && s->phase != SESSION_CLOSING && session_stdin_push(s, pend, npend) < 0)
		session_fail(s, "internal", "out of memory");
	return s->phase == SESSION_CLOSING ? -1 : 0;
}

/* The socket is readable: frames from the client. */
static void session_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	for (int i = 0; i < SESSION_READS_PER_TURN; i++) {
		ssize_t n = recv(fd, session_scratch, sizeof(session_scratch), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (s->shut && n > 0)
			continue; /* what the client sent before it saw the end */
		if (s->shut) {
			session_end(s, "closed");
			return;
		}
		if (n <= 0) {
			session_end(s, n == 0 ? "the client left; ending the program" : "the client's socket failed");
			return;
		}
		if (session_input(s, session_scratch, (size_t)n) < 0)
			return; /* session_fail updated S */
		if ((size_t)n < sizeof(session_scratch))
			break;
	}
	session_update(s);
}

/* The socket is writable: sends queued frames. */
static void session_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	int n = evbuffer_write(s->out, fd);

	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
		session_end(s, "the client's socket failed; ending the program");
		return;
	}
	if (n > 0)
		s->framed = 1;
	session_shut_when_sent(s);
	session_update(s);
}

/* The program's stdin takes bytes: writes the queue, passes EOF on. */
static void session_stdin_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	int n = evbuffer_write(s->in, fd);

	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		/* The program closed its stdin (EPIPE): what comes is dropped. */
		session_stdin_lost(s, 0);
	} else if (n > 0) {
		s->in_owed += (size_t)n;
	}
	session_update(s);
}

/* Channel I of S reached its end: closes it and sends EOF. */
static void session_output_eof(struct session *s, int i)
{
	struct session_out *o = &s->o[i];

	event_free(o->ev);
	o->ev = NULL;
	o->reading = 0;
	if (o->fd == s->in_fd) {
		/* The terminal is gone: stdin with it. */
		if (s->in_ev != NULL)
			event_free(s->in_ev);
		s->in_ev = NULL;
		s->writing_in = 0;
		s->in_fd = -1;
	}
	close(o->fd);
	o->fd = -1;
	session_queue(s, UDO_VSOCK_FRAME_EOF, (uint8_t)i, NULL, 0);
}

/* Reads channel I of S once, at most SESSION_OUTPUT_READ_MAX within its
 * window (open: the caller checked), into DATA frames. */
static void session_read_output(struct session *s, int i)
{
	struct session_out *o = &s->o[i];
	size_t want = SESSION_OUTPUT_READ_MAX;

	if (want > o->window)
		want = (size_t)o->window;
	ssize_t n = read(o->fd, session_scratch, want);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* EOF, or EIO: a pty whose last slave closed. */
		if (n < 0 && errno != EIO)
			log_warn("session: reading the output of pid %ld", (long)s->pid);
		session_output_eof(s, i);
		return;
	}
	o->window -= (size_t)n;
	o->waiting = 0;
	session_queue_data(s, (uint8_t)i, session_scratch, (size_t)n);
}

/* Output is readable: reads what the window and the buffer bounds allow
 * into DATA frames. */
static void session_output_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	for (int i = 1; i <= 2; i++) {
		struct session_out *o = &s->o[i];
		int avail = 0;
		if (o->fd != fd || evbuffer_get_length(s->out) >= s->max_out)
			continue;
		/* Without window only its end may be read: readable with nothing
		 * in it is end of file (or a pty's EIO). */
		if (o->window > 0) {
			/* One read a turn: its frames are what the client's
			 * socket takes at once; what is left keeps the fd
			 * readable for the next turn. */
			session_read_output(s, i);
		} else if (ioctl(fd, FIONREAD, &avail) < 0 || avail > 0)
			o->waiting = 1; /* until the client grants window */
		else
			session_output_eof(s, i);
		break;
	}
	session_update(s);
}

/* Whether channel I is watched now: open, room for frames (ROOM: what
 * max-buffered allows), and window, or else no bytes known to wait in it
 * (its EOF needs no window). */
static int session_may_read(const struct session *s, int i, size_t room)
{
	const struct session_out *o = &s->o[i];

	return o->fd >= 0 && (o->window > 0 || !o->waiting) && evbuffer_get_length(s->out) < s->max_out && room > 0;
}

/* Derives every event of S from its state, grants stdin window, passes
 * EOF on and sends EXIT once the program is reaped and its output done. */
static void session_update(struct session *s)
{
	size_t outlen = evbuffer_get_length(s->out);
	size_t room = conn_bridge_hold(s->conn, outlen + evbuffer_get_length(s->in));

	if (s->phase == SESSION_RUNNING) {
		/* stdin: write what waits; EOF once all is written. */
		if (s->in_eof && !s->in_eof_done && evbuffer_get_length(s->in) == 0 && s->in_fd >= 0) {
			s->in_eof_done = 1;
			if (s->lim.pty) {
				/* The terminal's end-of-file character, as ssh does. */
				struct termios t;
				unsigned char veof = tcgetattr(s->in_fd, &t) == 0 ? t.c_cc[VEOF] : 4;
				evbuffer_add(s->in, &veof, 1);
			} else {
				watch_close(&s->in_ev, &s->writing_in, &s->in_fd);
			}
		}
		watch_set(s->in_ev, &s->writing_in, evbuffer_get_length(s->in) > 0);
		/* The window the program's reads opened, while the client reads. */
		if (s->in_owed >= s->lim.window / SESSION_GRANT_PART && !s->in_eof && outlen < s->max_out) {
			session_queue_window(s, UDO_VSOCK_FRAME_STDIN, (uint32_t)s->in_owed);
			s->in_window += s->in_owed;
			s->in_owed = 0;
		}
		for (int i = 1; i <= 2; i++)
			watch_set(s->o[i].ev, &s->o[i].reading, session_may_read(s, i, room));
		if (s->reaped && s->o[1].fd < 0 && s->o[2].fd < 0) {
			unsigned char p[1 + UDO_VSOCK_FRAME_SIGNAL_MAX];
			size_t len = 2;
			if (WIFSIGNALED(s->status)) {
				char num[UDO_VSOCK_FRAME_SIGNAL_MAX + 1];
				const char *name = frame_exit_signal_name(WTERMSIG(s->status), num, sizeof(num));
				p[0] = UDO_VSOCK_FRAME_SIGNALED;
				len = 1 + strlen(name);
				memcpy(p + 1, name, len - 1);
			} else {
				p[0] = UDO_VSOCK_FRAME_EXITED;
				p[1] = (unsigned char)WEXITSTATUS(s->status);
			}
			session_queue(s, UDO_VSOCK_FRAME_EXIT, 0, p, len);
			const struct peer *peer = conn_peer(s->conn);
			log_peer(LOG_LEVEL_INFO, peer->text, peer->cid, NULL, "session: pid %ld %s=%d", (long)s->pid,
			         WIFSIGNALED(s->status) ? "signal" : "exit",
			         WIFSIGNALED(s->status) ? WTERMSIG(s->status) : WEXITSTATUS(s->status));
			s->phase = SESSION_CLOSING;
			session_close_program_fds(s);
			session_release_program(s);
			outlen = evbuffer_get_length(s->out);
		}
	}
	session_shut_when_sent(s);
	if (s->phase == SESSION_CLOSING)
		watch_set(s->rev, &s->reading_sock, s->shut);
	watch_set(s->wev, &s->writing_sock, evbuffer_get_length(s->out) > 0);
}

/* The timer: idle-timeout, the longest session, the drain after exit, and
 * a share of max-buffered that came back. */
static void session_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	uint64_t now = session_now(s);
	unsigned int idle = s->lim.idle_ms;

	if (s->framed) {
		s->last_frame_ms = now;
		s->framed = 0;
	}
	if (s->phase == SESSION_CLOSING) {
		if (s->shut && now - s->shut_ms >= SESSION_LINGER_MS) {
			session_end(s, "closed (the client did not close)");
			return;
		}
		/* A client that reads nothing more: the ERROR or EXIT is lost. */
		if (idle == 0)
			idle = conn_server(s->conn)->config->limits.idle_timeout_ms;
		if (idle > 0 && now - s->last_frame_ms >= idle)
			session_end(s, "the client does not read its last frames; closing");
		return;
	}
	if (idle > 0 && now - s->last_frame_ms >= idle) {
		session_fail(s, "timeout", "no frame either way for %u ms (idle-timeout)", idle);
		return;
	}
	if (now - s->started_ms >= s->lim.max_ms) {
		session_fail(s, "timeout", "the session lasted %u ms (timeout)", s->lim.max_ms);
		return;
	}
	if (s->reaped && !s->lim.observer && now - s->reaped_ms >= s->lim.drain_ms) {
		/* Exited, but something (a grandchild) keeps its output open:
		 * unless only the client's window holds the output back. */
		int waiting = 0;
		for (int i = 1; i <= 2; i++)
			waiting |= s->o[i].fd >= 0 && s->o[i].window == 0;
		if (!waiting) {
			if (kill(-s->pid, SIGKILL) < 0 && errno != ESRCH)
				log_warn("session: kill(-%ld, KILL)", (long)s->pid);
			for (int i = 1; i <= 2; i++) {
				if (s->o[i].fd >= 0)
					session_queue(s, UDO_VSOCK_FRAME_EOF, (uint8_t)i, NULL, 0);
			}
			session_close_program_fds(s);
		}
	}
	session_update(s);
}

struct session *session_new(const struct session_limits *limits, const struct session_program *prog, void *arg)
{
	struct session *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->lim = *limits;
	s->prog = prog;
	s->arg = arg;
	s->fd = s->in_fd = s->o[1].fd = s->o[2].fd = -1;
	s->rows = 24;
	s->cols = 80;
	s->out = evbuffer_new();
	s->in = evbuffer_new();
	if (s->out == NULL || s->in == NULL) {
		s->released = 1; /* the caller still has its program's side */
		session_release(s);
		return NULL;
	}
	return s;
}

void session_start(struct conn *c, void *arg)
{
	struct session *s = arg;
	struct server *srv = conn_server(c);
	const struct peer *peer = conn_peer(c);
	unsigned int every =
	    s->lim.idle_ms > 0 && s->lim.idle_ms / 4 < SESSION_TICK_MS ? s->lim.idle_ms / 4 : SESSION_TICK_MS;
	struct timeval tv = util_timeval_ms(every > 10 ? every : 10);
	size_t in_len;
	const char *in = conn_unhandled_input(c, &in_len);

	s->conn = c;
	s->fd = conn_fd(c);
	s->max_out = srv->config->limits.max_output_buffer;
	s->started_ms = s->last_frame_ms = server_uptime_ms(srv);
	s->rev = event_new(srv->base, s->fd, EV_READ | EV_PERSIST, session_read_cb, s);
	s->wev = event_new(srv->base, s->fd, EV_WRITE | EV_PERSIST, session_write_cb, s);
	s->tick = event_new(srv->base, -1, EV_PERSIST, session_tick_cb, s);
	if (s->rev == NULL || s->wev == NULL || s->tick == NULL || event_add(s->tick, &tv) < 0) {
		log_peer(LOG_LEVEL_WARNING, peer->text, peer->cid, NULL, "session: out of memory");
		conn_free(c); /* releases S */
		return;
	}
	log_peer(LOG_LEVEL_INFO, peer->text, peer->cid, NULL, "session: waiting for START");
	/* Frames the client sent right behind its request line. */
	if (in_len > 0 && session_input(s, (const unsigned char *)in, in_len) < 0)
		return;
	watch_set(s->rev, &s->reading_sock, 1);
	session_update(s);
}

/* Frees S's events and buffers (the socket is the connection's). */
void session_release(void *arg)
{
	struct session *s = arg;

	session_close_program_fds(s);
	session_release_program(s);
	if (s->rev != NULL)
		event_free(s->rev);
	if (s->wev != NULL)
		event_free(s->wev);
	if (s->tick != NULL)
		event_free(s->tick);
	if (s->out != NULL)
		evbuffer_free(s->out);
	if (s->in != NULL)
		evbuffer_free(s->in);
	if (s->conn != NULL)
		conn_bridge_hold(s->conn, 0);
	free(s);
}

void session_program_exited(struct session *s, int status)
{
	s->reaped = 1;
	s->status = status;
	if (s->conn == NULL)
		return;
	s->reaped_ms = session_now(s);
	session_update(s);
}
