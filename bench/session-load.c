/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* session-load.c - the benchmark client of exec sessions (workloads 7, 8).
 *
 * Usage: session-load MODE [options] ADDR
 *   ADDR: vsock:CID:PORT (a server's: vsock:any:PORT), unix:PATH
 * Modes:
 *   echo-server  the floor: a server that writes back every byte each
 *                connection sends, until that connection's end of file;
 *                poll(2), 256 KiB reads, nothing else. Runs until killed.
 *   stream       throughput of bytes up and back down: -b BYTES (a
 *                pattern, checked on return) are written while what comes
 *                back is read, timed from the first byte written to the
 *                last byte read. Raw (an echo server, socat EXEC:cat): the
 *                sending side is shut after the last byte. -s: a session:
 *                the request -r is answered "OK session", then START, DATA
 *                (stdin) within the daemon's window, EOF(stdin); stdout's
 *                DATA is read and its window granted as it is consumed;
 *                EXIT must say 0.
 *   keys         keystroke echo latency: -n keystrokes (after -W unmeasured
 *                ones), each one byte 'a' written and timed until its echo
 *                is read, then erased with DEL (its echo awaited, not
 *                timed) so a terminal's line never fills. -p: the peer is
 *                a shell on a terminal: waits for its prompt ("$ " or "# ")
 *                first, and DEL echoes as "\b \b". -s: in a session, as
 *                for stream.
 *   exec-relay   the floor of an agent: a server that, for each connection,
 *                runs -x PROGRAM (no arguments; on a pty as its terminal
 *                with -p, else on pipes of 1 MiB, as udo-vsockd's) and
 *                copies bytes both ways between the socket and it, with
 *                poll(2) and 1 MiB reads: no frames, no policy, nothing
 *                else. Runs until killed.
 *   qga-cat      qemu-guest-agent guest-exec of /bin/cat with -b BYTES as
 *                input-data and capture-output, then guest-exec-status
 *                until it has exited; its out-data must be the same bytes.
 *                Timed from the guest-exec request to the decoded output.
 * Options: -r REQUEST (C escapes \n \t \\; default "CAT\n"), -g WINDOW
 *   (bytes of stdout window a session client keeps granted; default 4 MiB),
 *   -T SECONDS (give up after; default 300), -o FILE (keys: latency samples
 *   in microseconds, one a line).
 * Prints one line of key=value results; exit status 1 if anything failed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "bench-util.h"

#include <udo/vsock-frame.h>

#define PATTERN_PERIOD 251u       /* a prime: a shifted or dropped chunk shows */
#define SEND_MAX       (1u << 20) /* bytes queued per fill: raw, or within the window */
#define RECV_MAX       (1u << 20) /* a raw read, and the echo server's */
/* A session read: as much as a raw read, plus a frame split across the end. */
#define RBUF_SIZE (RECV_MAX + UDO_VSOCK_FRAME_HEADER_SIZE + UDO_VSOCK_FRAME_PAYLOAD_MAX)
#define KEY       'a'
#define KEY_ERASE '\177'

/* The command line. */
struct opts {
	const char *mode, *addr, *out, *program;
	int session, pty;
	unsigned long long bytes;
	long keys, warm;
	uint32_t window;
	double timeout;
	char req[1024];
	size_t reqlen;
};

/* One connection: the socket, bytes waiting to be sent, frames being read. */
struct conn {
	int fd;
	int session;
	unsigned char *sbuf; /* pending output: frames or raw bytes */
	size_t slen, soff, scap;
	unsigned char *rbuf; /* RBUF_SIZE bytes, frames */
	unsigned char *raw;  /* RECV_MAX bytes, raw reads */
	size_t rlen;
	uint64_t stdin_credit; /* session: stdin bytes the daemon still takes */
	uint64_t ungranted;    /* session: stdout bytes consumed, not yet granted back */
	int exited, exit_code, started;
	char exit_sig[UDO_VSOCK_FRAME_SIGNAL_MAX + 1];
};

static unsigned char pattern[UDO_VSOCK_FRAME_PAYLOAD_MAX + RECV_MAX + PATTERN_PERIOD];
static uint64_t deadline;

/* Prints the result line of a failed MODE, saying WHY, and exits with status 1. */
static void fail(const char *mode, const char *why)
{
	printf("mode=%s errors=1 error=\"%s\"\n", mode, why);
	fprintf(stderr, "session-load: %s: %s\n", mode, why);
	exit(1);
}

/* Connects to ADDR (blocking); exits on failure. */
static int open_conn(const char *addr)
{
	struct sockaddr_storage sa;
	socklen_t len = bench_parse_addr(addr, &sa);
	int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, len) < 0)
		bench_die(addr);
	return fd;
}

/* Milliseconds left before the -T deadline (at least 1), for poll. */
static int left_ms(const char *mode)
{
	uint64_t t = bench_now_ns();

	if (t >= deadline)
		fail(mode, "timed out");
	uint64_t ms = (deadline - t) / 1000000u + 1;
	return ms > 1000 ? 1000 : (int)ms;
}

/* Appends a frame of TYPE on CHANNEL with LEN bytes of PAYLOAD to C's output. */
static void queue_frame(struct conn *c, uint8_t type, uint8_t channel, const void *payload, uint32_t len)
{
	struct udo_vsock_frame f = {.type = type, .channel = channel, .length = len};

	if (c->slen + UDO_VSOCK_FRAME_HEADER_SIZE + len > c->scap) {
		errno = ENOBUFS;
		bench_die("frames pending");
	}
	if (udo_vsock_frame_encode_header(c->sbuf + c->slen, &f) < 0)
		bench_die("udo_vsock_frame_encode_header");
	memcpy(c->sbuf + c->slen + UDO_VSOCK_FRAME_HEADER_SIZE, payload, len);
	c->slen += UDO_VSOCK_FRAME_HEADER_SIZE + len;
}

/* Queues a WINDOW frame granting N more bytes on CHANNEL. */
static void queue_window(struct conn *c, uint8_t channel, uint32_t n)
{
	unsigned char b[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8),
	                      (unsigned char)n};

	queue_frame(c, UDO_VSOCK_FRAME_WINDOW, channel, b, 4);
}

/* Sends what C has pending, without blocking. 0, or -1 on an error. */
static int flush_conn(struct conn *c)
{
	while (c->soff < c->slen) {
		ssize_t w = send(c->fd, c->sbuf + c->soff, c->slen - c->soff, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		c->soff += (size_t)w;
	}
	c->soff = c->slen = 0;
	return 0;
}

/* Sends everything pending on C, waiting as long as the deadline allows. */
static void flush_all(struct conn *c, const char *mode)
{
	while (c->slen > 0) {
		if (flush_conn(c) < 0)
			fail(mode, "send failed");
		if (c->slen > 0) {
			struct pollfd p = {.fd = c->fd, .events = POLLOUT};
			poll(&p, 1, left_ms(mode));
		}
	}
}

/* Sends the request and checks the reply line is "OK session", read byte
 * by byte so no frame after it is consumed; then grants the stdout and
 * stderr windows and sends START with TERM (may be ""). */
static void session_open(struct conn *c, const struct opts *o, const char *term)
{
	char line[512];
	size_t n = 0;

	if (send(c->fd, o->req, o->reqlen, MSG_NOSIGNAL) != (ssize_t)o->reqlen)
		fail(o->mode, "sending the request failed");
	while (n + 1 < sizeof(line)) {
		ssize_t r = recv(c->fd, line + n, 1, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			fail(o->mode, "no reply to the session request");
		if (line[n++] == '\n')
			break;
	}
	line[n > 0 ? n - 1 : 0] = '\0';
	if (strcmp(line, "OK session") != 0) {
		char why[600];
		snprintf(why, sizeof(why), "the request was answered '%s', not 'OK session'", line);
		for (char *p = why; *p != '\0'; p++)
			if (*p == '"')
				*p = '\'';
		fail(o->mode, why);
	}
	queue_window(c, UDO_VSOCK_FRAME_STDOUT, o->window);
	queue_window(c, UDO_VSOCK_FRAME_STDERR, o->window);
	queue_frame(c, UDO_VSOCK_FRAME_START, 0, term, (uint32_t)strlen(term));
	flush_all(c, o->mode);
	c->started = 1;
}

/* Takes one complete frame F (payload in P) from the daemon. Output bytes
 * go to SINK (with their count); 0, or -1 on a protocol error. */
static int session_frame(struct conn *c, const struct opts *o, const struct udo_vsock_frame *f, const unsigned char *p,
                         void (*sink)(const unsigned char *, size_t, void *), void *arg)
{
	switch (f->type) {
	case UDO_VSOCK_FRAME_WINDOW:
		if (f->channel == UDO_VSOCK_FRAME_STDIN)
			c->stdin_credit += (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
		return 0;
	case UDO_VSOCK_FRAME_DATA:
		if (f->channel == UDO_VSOCK_FRAME_STDERR) {
			fprintf(stderr, "session-load: stderr: %.*s\n", (int)f->length, (const char *)p);
			return -1;
		}
		sink(p, f->length, arg);
		c->ungranted += f->length;
		/* Grants back what was consumed once it is a quarter of the window. */
		if (c->ungranted >= o->window / 4) {
			queue_window(c, UDO_VSOCK_FRAME_STDOUT, (uint32_t)c->ungranted);
			c->ungranted = 0;
		}
		return 0;
	case UDO_VSOCK_FRAME_EOF:
		return 0;
	case UDO_VSOCK_FRAME_EXIT:
		c->exited = 1;
		if (p[0] == UDO_VSOCK_FRAME_EXITED) {
			c->exit_code = p[1];
		} else {
			c->exit_code = -1;
			snprintf(c->exit_sig, sizeof(c->exit_sig), "%.*s", (int)f->length - 1, (const char *)p + 1);
		}
		return 0;
	case UDO_VSOCK_FRAME_ERROR:
		fprintf(stderr, "session-load: the daemon: %.*s\n", (int)f->length, (const char *)p);
		return -1;
	default:
		fprintf(stderr, "session-load: unexpected frame type %u from the daemon\n", f->type);
		return -1;
	}
}

/* Reads what C's socket has; raw: gives it to SINK; session: handles each
 * complete frame. Returns 1 on data, 0 at end of file, -1 on an error. */
static int conn_read(struct conn *c, const struct opts *o, void (*sink)(const unsigned char *, size_t, void *),
                     void *arg)
{
	ssize_t r = c->session ? recv(c->fd, c->rbuf + c->rlen, RBUF_SIZE - c->rlen, MSG_DONTWAIT)
	                       : recv(c->fd, c->raw, RECV_MAX, MSG_DONTWAIT);

	if (r < 0)
		return errno == EAGAIN || errno == EINTR ? 1 : -1;
	if (r == 0)
		return 0;
	if (!c->session) {
		sink(c->raw, (size_t)r, arg);
		return 1;
	}
	c->rlen += (size_t)r;
	size_t off = 0;
	while (c->rlen - off >= UDO_VSOCK_FRAME_HEADER_SIZE) {
		struct udo_vsock_frame f;
		char err[128];
		if (udo_vsock_frame_decode_header(c->rbuf + off, c->rlen - off, &f, err, sizeof(err)) < 0) {
			fprintf(stderr, "session-load: %s\n", err);
			return -1;
		}
		if (c->rlen - off < UDO_VSOCK_FRAME_HEADER_SIZE + f.length)
			break;
		if (session_frame(c, o, &f, c->rbuf + off + UDO_VSOCK_FRAME_HEADER_SIZE, sink, arg) < 0)
			return -1;
		off += UDO_VSOCK_FRAME_HEADER_SIZE + f.length;
	}
	memmove(c->rbuf, c->rbuf + off, c->rlen - off);
	c->rlen -= off;
	return 1;
}

/* Bytes of the pattern starting at stream offset OFF. */
static const unsigned char *pattern_at(uint64_t off)
{
	return pattern + off % PATTERN_PERIOD;
}

/* What a stream has taken back so far. */
struct stream_in {
	uint64_t got;
	uint64_t t_last;
	int bad;
};

/* Stream sink: checks the LEN bytes at P against the pattern. */
static void stream_sink(const unsigned char *p, size_t len, void *arg)
{
	struct stream_in *in = arg;

	while (len > 0) {
		size_t n = len < RECV_MAX ? len : RECV_MAX;
		if (memcmp(p, pattern_at(in->got), n) != 0)
			in->bad = 1;
		in->got += n;
		p += n;
		len -= n;
	}
	in->t_last = bench_now_ns();
}

/* Queues the next stdin bytes of a stream: up to SEND_MAX, within the
 * session's window; EOF (session) or a shut sending side (raw) after the
 * last. SENT is updated. */
static void stream_fill(struct conn *c, const struct opts *o, uint64_t *sent, int *eof_sent)
{
	while (*sent < o->bytes && c->slen < SEND_MAX) {
		uint64_t n = o->bytes - *sent;
		if (c->session) {
			if (n > c->stdin_credit)
				n = c->stdin_credit;
			if (n > UDO_VSOCK_FRAME_PAYLOAD_MAX)
				n = UDO_VSOCK_FRAME_PAYLOAD_MAX;
			if (n == 0)
				break;
			queue_frame(c, UDO_VSOCK_FRAME_DATA, UDO_VSOCK_FRAME_STDIN, pattern_at(*sent), (uint32_t)n);
			c->stdin_credit -= n;
		} else {
			if (n > SEND_MAX - c->slen)
				n = SEND_MAX - c->slen;
			if (n > RECV_MAX)
				n = RECV_MAX;
			memcpy(c->sbuf + c->slen, pattern_at(*sent), n);
			c->slen += n;
		}
		*sent += n;
	}
	if (*sent == o->bytes && !*eof_sent && c->session) {
		queue_frame(c, UDO_VSOCK_FRAME_EOF, UDO_VSOCK_FRAME_STDIN, NULL, 0);
		*eof_sent = 1;
	}
}

/* Mode stream: BYTES up and back, raw or through a session's program. */
static int run_stream(const struct opts *o)
{
	struct conn c = {.session = o->session};
	struct stream_in in = {0};
	uint64_t sent = 0, t0 = 0;
	int eof_sent = 0, at_eof = 0;

	c.scap = SEND_MAX + 2 * (UDO_VSOCK_FRAME_HEADER_SIZE + UDO_VSOCK_FRAME_PAYLOAD_MAX);
	c.sbuf = malloc(c.scap);
	c.raw = malloc(RECV_MAX);
	c.rbuf = malloc(RBUF_SIZE);
	if (c.sbuf == NULL || c.raw == NULL || c.rbuf == NULL)
		bench_die("malloc");
	c.fd = open_conn(o->addr);
	if (o->session) {
		session_open(&c, o, "");
		/* The program runs once the daemon grants stdin's first window. */
		while (c.stdin_credit == 0) {
			struct pollfd p = {.fd = c.fd, .events = POLLIN};
			poll(&p, 1, left_ms(o->mode));
			if (conn_read(&c, o, stream_sink, &in) <= 0 || c.exited)
				fail(o->mode, "the session ended before its first stdin window");
		}
	}
	t0 = bench_now_ns();
	for (;;) {
		stream_fill(&c, o, &sent, &eof_sent);
		if (flush_conn(&c) < 0)
			fail(o->mode, "send failed");
		if (!o->session && sent == o->bytes && c.slen == 0 && !eof_sent) {
			shutdown(c.fd, SHUT_WR);
			eof_sent = 1;
		}
		if (in.got >= o->bytes && (!o->session || c.exited))
			break;
		if (at_eof)
			break;
		struct pollfd p = {.fd = c.fd, .events = POLLIN | (c.slen > 0 ? POLLOUT : 0)};
		poll(&p, 1, left_ms(o->mode));
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			int rc = conn_read(&c, o, stream_sink, &in);
			if (rc < 0)
				fail(o->mode, "receive failed or the daemon broke the protocol");
			at_eof = rc == 0;
		}
	}
	double secs = in.t_last > t0 ? (double)(in.t_last - t0) / 1e9 : 0;
	int errors = in.got != o->bytes || in.bad || (o->session && (!c.exited || c.exit_code != 0));
	printf("mode=stream session=%d bytes=%llu back=%llu errors=%d secs=%.4f mib_per_s=%.1f", o->session, o->bytes,
	       (unsigned long long)in.got, errors, secs, secs > 0 ? (double)in.got / 1048576.0 / secs : 0.0);
	if (o->session)
		printf(" exit=%s%d%s", c.exit_sig, c.exit_code, c.exited ? "" : "(none)");
	printf("%s\n", in.bad ? " corrupt=1" : "");
	if (in.got != o->bytes)
		fprintf(stderr, "session-load: stream: %llu of %llu bytes came back\n", (unsigned long long)in.got,
		        o->bytes);
	close(c.fd);
	return errors ? 1 : 0;
}

/* What a keystroke client has seen since its last keystroke. */
struct keys_in {
	char buf[4096];
	size_t len;
};

/* Keys sink: keeps the latest output (the tail, if it is long). */
static void keys_sink(const unsigned char *p, size_t len, void *arg)
{
	struct keys_in *in = arg;

	if (len >= sizeof(in->buf)) {
		p += len - (sizeof(in->buf) - 1);
		len = sizeof(in->buf) - 1;
	}
	if (in->len + len >= sizeof(in->buf)) {
		size_t drop = in->len + len - (sizeof(in->buf) - 1);
		memmove(in->buf, in->buf + drop, in->len - drop);
		in->len -= drop;
	}
	memcpy(in->buf + in->len, p, len);
	in->len += len;
}

/* Reads until the output seen since the last reset contains WANT (of
 * WLEN bytes), or with PROMPT set until it ends with "$ " or "# ". */
static void keys_wait(struct conn *c, const struct opts *o, struct keys_in *in, const char *want, size_t wlen)
{
	for (;;) {
		if (want != NULL && memmem(in->buf, in->len, want, wlen) != NULL)
			return;
		if (want == NULL && in->len >= 2 && in->buf[in->len - 1] == ' ' &&
		    (in->buf[in->len - 2] == '$' || in->buf[in->len - 2] == '#'))
			return;
		if (flush_conn(c) < 0)
			fail(o->mode, "send failed");
		struct pollfd p = {.fd = c->fd, .events = POLLIN | (c->slen > 0 ? POLLOUT : 0)};
		poll(&p, 1, left_ms(o->mode));
		if ((p.revents & (POLLIN | POLLHUP | POLLERR)) && conn_read(c, o, keys_sink, in) <= 0)
			fail(o->mode, "the connection ended while waiting for an echo");
		if (c->exited)
			fail(o->mode, "the program exited while waiting for an echo");
	}
}

/* Writes the keystroke K (a DATA frame in a session), within the window. */
static void keys_send(struct conn *c, const struct opts *o, struct keys_in *in, char k)
{
	if (c->session) {
		while (c->stdin_credit == 0) {
			struct pollfd p = {.fd = c->fd, .events = POLLIN};
			poll(&p, 1, left_ms(o->mode));
			if (conn_read(c, o, keys_sink, in) <= 0)
				fail(o->mode, "the connection ended while waiting for a stdin window");
		}
		queue_frame(c, UDO_VSOCK_FRAME_DATA, UDO_VSOCK_FRAME_STDIN, &k, 1);
		c->stdin_credit--;
	} else {
		c->sbuf[c->slen++] = (unsigned char)k;
	}
	if (flush_conn(c) < 0)
		fail(o->mode, "send failed");
}

/* Orders two samples for qsort. */
static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Mode keys: keystroke echo latency, raw or in a session. */
static int run_keys(const struct opts *o)
{
	struct conn c = {.session = o->session};
	struct keys_in in = {.len = 0};
	uint64_t *samples = calloc((size_t)o->keys, sizeof(uint64_t));
	const char erase_echo[] = "\b \b", raw_erase[] = {KEY_ERASE, 0}, key[] = {KEY, 0};

	c.scap = SEND_MAX;
	c.sbuf = malloc(c.scap);
	c.raw = malloc(RECV_MAX);
	c.rbuf = malloc(RBUF_SIZE);
	if (samples == NULL || c.sbuf == NULL || c.raw == NULL || c.rbuf == NULL)
		bench_die("malloc");
	c.fd = open_conn(o->addr);
	if (o->session)
		session_open(&c, o, o->pty ? "dumb" : "");
	if (o->pty)
		keys_wait(&c, o, &in, NULL, 0); /* the shell's prompt */
	for (long i = 0; i < o->warm + o->keys; i++) {
		in.len = 0;
		uint64_t t0 = bench_now_ns();
		keys_send(&c, o, &in, KEY);
		keys_wait(&c, o, &in, key, 1);
		if (i >= o->warm)
			samples[i - o->warm] = bench_now_ns() - t0;
		in.len = 0;
		keys_send(&c, o, &in, KEY_ERASE);
		keys_wait(&c, o, &in, o->pty ? erase_echo : raw_erase, o->pty ? 3 : 1);
	}
	int errors = 0;
	if (o->session) {
		/* EOF on an empty line: the shell exits; its EXIT ends the session. */
		queue_frame(&c, UDO_VSOCK_FRAME_EOF, UDO_VSOCK_FRAME_STDIN, NULL, 0);
		flush_all(&c, o->mode);
		while (!c.exited) {
			struct pollfd p = {.fd = c.fd, .events = POLLIN};
			poll(&p, 1, left_ms(o->mode));
			if (conn_read(&c, o, keys_sink, &in) <= 0)
				break;
		}
		errors = !c.exited;
		if (errors)
			fprintf(stderr, "session-load: keys: no EXIT after EOF(stdin)\n");
	}
	close(c.fd);
	qsort(samples, (size_t)o->keys, sizeof(samples[0]), cmp_u64);
	printf("mode=keys session=%d pty=%d keys=%ld errors=%d p50_us=%.2f p99_us=%.2f max_us=%.2f\n", o->session,
	       o->pty, o->keys, errors, samples[o->keys / 2] / 1e3, samples[(size_t)((double)o->keys * 0.99)] / 1e3,
	       samples[o->keys - 1] / 1e3);
	if (o->out != NULL) {
		FILE *f = fopen(o->out, "w");
		if (f == NULL)
			bench_die(o->out);
		for (long i = 0; i < o->keys; i++)
			fprintf(f, "%.2f\n", samples[i] / 1e3);
		fclose(f);
	}
	return errors ? 1 : 0;
}

/* Mode echo-server: writes back every byte, per connection, until killed. */
static int run_echo_server(const struct opts *o)
{
	int lfd = bench_listen(o->addr);
	size_t cap = 64;
	struct pollfd *p = calloc(cap, sizeof(*p));
	unsigned char *buf = malloc(RECV_MAX);

	if (p == NULL || buf == NULL)
		bench_die("malloc");
	signal(SIGPIPE, SIG_IGN);
	p[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
	size_t n = 1;
	for (;;) {
		if (poll(p, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			bench_die("poll");
		}
		for (size_t i = 1; i < n; i++) {
			if (p[i].revents == 0)
				continue;
			/* Blocking writes: a client that reads what it sends never stalls this. */
			ssize_t r = recv(p[i].fd, buf, RECV_MAX, MSG_DONTWAIT);
			int done = r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR);
			for (ssize_t off = 0; !done && off < r;) {
				ssize_t w = send(p[i].fd, buf + off, (size_t)(r - off), MSG_NOSIGNAL);
				if (w < 0 && errno != EINTR)
					done = 1;
				off += w > 0 ? w : 0;
			}
			if (done) {
				close(p[i].fd);
				p[i--] = p[--n];
			}
		}
		if (p[0].revents & POLLIN) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (fd < 0)
				continue;
			if (n == cap) {
				struct pollfd *np = realloc(p, 2 * cap * sizeof(*p));
				if (np == NULL) {
					close(fd);
					continue;
				}
				p = np;
				cap *= 2;
			}
			p[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
		}
	}
	return 0;
}

/* Starts O's program on a pty (its terminal, in its own session) or on
 * pipes; *IN and *OUT get its input and output (one fd for a pty). */
static pid_t relay_spawn(const struct opts *o, int *in, int *out)
{
	if (o->pty) {
		int m;
		pid_t pid = forkpty(&m, NULL, NULL, NULL);
		if (pid == 0) {
			execl(o->program, o->program, (char *)NULL);
			_exit(127);
		}
		*in = *out = m;
		return pid;
	}
	int pin[2], pout[2];
	if (pipe2(pin, O_CLOEXEC) < 0 || pipe2(pout, O_CLOEXEC) < 0)
		return -1;
	(void)fcntl(pin[1], F_SETPIPE_SZ, 1 << 20);
	(void)fcntl(pout[0], F_SETPIPE_SZ, 1 << 20);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pin[0], 0);
		dup2(pout[1], 1);
		execl(o->program, o->program, (char *)NULL);
		_exit(127);
	}
	close(pin[0]);
	close(pout[1]);
	*in = pin[1];
	*out = pout[0];
	return pid;
}

/* One buffered direction of a relay: bytes read from one fd, not yet
 * written to the other. */
struct relay_dir {
	unsigned char *buf;
	size_t len, off;
	int eof;
};

/* Moves bytes from FROM to TO through D, without blocking: reads when
 * READABLE (poll said so) and D is empty, writes what D holds. 0, or -1
 * when TO failed. Sets D->eof at FROM's end (or a pty's EIO). */
static int relay_move(struct relay_dir *d, int from, int to, int readable)
{
	if (readable && d->len == d->off && !d->eof) {
		ssize_t r = read(from, d->buf, RECV_MAX);
		if (r > 0) {
			d->len = (size_t)r;
			d->off = 0;
		} else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
			d->eof = 1;
		}
	}
	if (d->len > d->off) {
		ssize_t w = write(to, d->buf + d->off, d->len - d->off);
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		d->off += w > 0 ? (size_t)w : 0;
	}
	return 0;
}

/* Relays between the socket FD and a fresh run of O's program until
 * either side ends; exits the process. */
static void relay_conn(const struct opts *o, int fd)
{
	struct relay_dir up = {.buf = malloc(RECV_MAX)}, down = {.buf = malloc(RECV_MAX)};
	int in, out;
	pid_t pid = relay_spawn(o, &in, &out);

	if (pid < 0 || up.buf == NULL || down.buf == NULL)
		_exit(1);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	fcntl(in, F_SETFL, O_NONBLOCK);
	fcntl(out, F_SETFL, O_NONBLOCK);
	while (!down.eof || down.len > down.off) {
		struct pollfd p[3] = {
		    {.fd = fd,
		     .events = (up.len == up.off && !up.eof ? POLLIN : 0) | (down.len > down.off ? POLLOUT : 0)},
		    {.fd = in, .events = up.len > up.off ? POLLOUT : 0},
		    {.fd = out, .events = down.len == down.off && !down.eof ? POLLIN : 0},
		};
		if (in == out) { /* a pty: one fd, both ways */
			p[1].events |= p[2].events;
			p[2].fd = -1;
		}
		if (in < 0)
			p[1].fd = -1;
		if (poll(p, 3, -1) < 0 && errno != EINTR)
			break;
		short ready = POLLIN | POLLHUP | POLLERR;
		if (in >= 0 && relay_move(&up, fd, in, p[0].revents & ready) < 0)
			break;
		if (up.eof && up.len == up.off && in >= 0 && in != out) {
			close(in); /* the client's end of file, passed on */
			in = -1;
		}
		if (up.eof && in == out)
			break; /* a pty's client left */
		if (relay_move(&down, out, fd, (in == out ? p[1].revents : p[2].revents) & ready) < 0)
			break;
	}
	shutdown(fd, SHUT_WR);
	kill(pid, SIGKILL);
	_exit(0);
}

/* Mode exec-relay: the floor of an agent, one process per connection. */
static int run_exec_relay(const struct opts *o)
{
	int lfd = bench_listen(o->addr);

	if (o->program == NULL)
		bench_die("exec-relay needs -x PROGRAM");
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_IGN); /* no zombies: nobody waits */
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		pid_t pid = fork();
		if (pid == 0) {
			close(lfd);
			signal(SIGCHLD, SIG_DFL);
			relay_conn(o, fd);
		}
		close(fd);
	}
	return 0;
}

/* Appends the base64 of LEN bytes at P to OUT (room for 4 * ceil(LEN / 3)). */
static size_t base64_encode(const unsigned char *p, size_t len, char *out)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v =
		    (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < len ? p[i + 2] : 0);
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = i + 1 < len ? tab[v >> 6 & 63] : '=';
		out[o++] = i + 2 < len ? tab[v & 63] : '=';
	}
	return o;
}

/* Decodes base64 at S (up to a '"' or the end) into OUT; returns the bytes. */
static size_t base64_decode(const char *s, unsigned char *out)
{
	uint32_t v = 0;
	int bits = 0;
	size_t o = 0;

	for (; *s != '\0' && *s != '"'; s++) {
		int d;
		if (*s >= 'A' && *s <= 'Z')
			d = *s - 'A';
		else if (*s >= 'a' && *s <= 'z')
			d = *s - 'a' + 26;
		else if (*s >= '0' && *s <= '9')
			d = *s - '0' + 52;
		else if (*s == '+')
			d = 62;
		else if (*s == '/')
			d = 63;
		else
			continue; /* '=' and escapes like "\/" */
		v = v << 6 | (uint32_t)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(v >> bits);
		}
	}
	return o;
}

/* Sends the JSON command CMD to qemu-ga on FD and reads its one-line reply
 * into *BUF (grown as needed, *CAP bytes). 0 or -1. */
static int qga_call(int fd, const char *cmd, size_t len, char **buf, size_t *cap)
{
	size_t have = 0;

	for (size_t off = 0; off < len;) {
		ssize_t w = send(fd, cmd + off, len - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		off += (size_t)w;
	}
	for (;;) {
		if (have + 1 >= *cap) {
			char *nb = realloc(*buf, *cap * 2);
			if (nb == NULL)
				return -1;
			*buf = nb;
			*cap *= 2;
		}
		ssize_t r = recv(fd, *buf + have, *cap - have - 1, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		have += (size_t)r;
		if ((*buf)[have - 1] == '\n')
			break;
	}
	(*buf)[have] = '\0';
	return 0;
}

/* Mode qga-cat: guest-exec /bin/cat with input-data, status until exited. */
static int run_qga_cat(const struct opts *o)
{
	size_t b64 = (o->bytes + 2) / 3 * 4;
	char *cmd = malloc(b64 + 256), *buf = malloc(65536), *p;
	size_t cap = 65536;
	unsigned char *src = malloc(o->bytes + 1), *out = malloc(o->bytes + 16);
	long polls = 0;

	if (cmd == NULL || buf == NULL || src == NULL || out == NULL)
		bench_die("malloc");
	for (uint64_t i = 0; i < o->bytes; i += PATTERN_PERIOD)
		memcpy(src + i, pattern, o->bytes - i < PATTERN_PERIOD ? o->bytes - i : PATTERN_PERIOD);
	int fd = open_conn(o->addr);
	uint64_t t0 = bench_now_ns();
	size_t n = (size_t)sprintf(cmd, "{\"execute\":\"guest-exec\",\"arguments\":{\"path\":\"/bin/cat\","
	                                "\"capture-output\":true,\"input-data\":\"");
	n += base64_encode(src, o->bytes, cmd + n);
	n += (size_t)sprintf(cmd + n, "\"}}\n");
	if (qga_call(fd, cmd, n, &buf, &cap) < 0 || (p = strstr(buf, "\"pid\"")) == NULL) {
		fprintf(stderr, "session-load: guest-exec: %.300s\n", buf);
		fail(o->mode, "guest-exec failed");
	}
	long pid = strtol(p + 5 + strspn(p + 5, ": "), NULL, 10);
	n = (size_t)sprintf(cmd, "{\"execute\":\"guest-exec-status\",\"arguments\":{\"pid\":%ld}}\n", pid);
	for (;;) {
		polls++;
		left_ms(o->mode);
		if (qga_call(fd, cmd, n, &buf, &cap) < 0 || strstr(buf, "\"return\"") == NULL) {
			fprintf(stderr, "session-load: guest-exec-status: %.300s\n", buf);
			fail(o->mode, "guest-exec-status failed");
		}
		p = strstr(buf, "\"exited\"");
		if (p != NULL && strncmp(p + 8 + strspn(p + 8, ": "), "true", 4) == 0)
			break;
	}
	size_t got = 0;
	p = strstr(buf, "\"out-data\"");
	if (p != NULL && (p = strchr(p + 10, '"')) != NULL)
		got = base64_decode(p + 1, out);
	uint64_t t1 = bench_now_ns();
	int truncated = strstr(buf, "\"out-truncated\": true") != NULL || strstr(buf, "\"out-truncated\":true") != NULL;
	int errors = got != o->bytes || memcmp(out, src, got) != 0 || truncated;
	double secs = (double)(t1 - t0) / 1e9;
	printf("mode=qga-cat bytes=%llu back=%zu errors=%d secs=%.4f mib_per_s=%.1f status_polls=%ld%s\n", o->bytes,
	       got, errors, secs, (double)got / 1048576.0 / secs, polls, truncated ? " out_truncated=1" : "");
	close(fd);
	return errors ? 1 : 0;
}

/* Parses the command line and runs the mode. */
int main(int argc, char **argv)
{
	struct opts o = {.bytes = 1u << 20, .keys = 1000, .warm = 20, .window = 4u << 20, .timeout = 300};
	int opt;

	bench_name = "session-load";

	o.reqlen = bench_unescape("CAT\\n", o.req, sizeof(o.req));
	if (argc < 2) {
		fprintf(stderr,
		        "usage: session-load echo-server|exec-relay|stream|keys|qga-cat [-s] [-p] [-r REQ] "
		        "[-b BYTES] [-n KEYS] [-W KEYS] [-g WINDOW] [-T SECONDS] [-o FILE] [-x PROGRAM] ADDR\n");
		return 2;
	}
	o.mode = argv[1];
	optind = 2;
	while ((opt = getopt(argc, argv, "spr:b:n:W:g:T:o:x:")) != -1) {
		switch (opt) {
		case 's':
			o.session = 1;
			break;
		case 'p':
			o.pty = 1;
			break;
		case 'r':
			o.reqlen = bench_unescape(optarg, o.req, sizeof(o.req));
			break;
		case 'b':
			o.bytes = strtoull(optarg, NULL, 10);
			break;
		case 'n':
			o.keys = atol(optarg);
			break;
		case 'W':
			o.warm = atol(optarg);
			break;
		case 'g':
			o.window = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'T':
			o.timeout = atof(optarg);
			break;
		case 'o':
			o.out = optarg;
			break;
		case 'x':
			o.program = optarg;
			break;
		default:
			return 2;
		}
	}
	if (optind != argc - 1 || o.keys < 1 || o.warm < 0 || o.window < 4 || o.bytes == 0) {
		errno = 0;
		bench_die("bad arguments (one ADDR; -n >= 1, -W >= 0, -g >= 4, -b >= 1)");
	}
	o.addr = argv[optind];
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (unsigned char)(i % PATTERN_PERIOD);
	deadline = bench_now_ns() + (uint64_t)(o.timeout * 1e9);
	errno = 0;
	if (strcmp(o.mode, "echo-server") == 0)
		return run_echo_server(&o);
	if (strcmp(o.mode, "exec-relay") == 0)
		return run_exec_relay(&o);
	if (strcmp(o.mode, "stream") == 0)
		return run_stream(&o);
	if (strcmp(o.mode, "keys") == 0)
		return run_keys(&o);
	if (strcmp(o.mode, "qga-cat") == 0)
		return run_qga_cat(&o);
	bench_die("unknown mode");
	return 2;
}
