/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsock_session.c - exec's mode = session end to end: a real udo-vsockd on
 * CID 1, real programs on a real pseudo-terminal or pipes, and a small raw
 * frame client built on the library's codec (udo/vsock-frame.h). */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <udo/vsock-frame.h>

#include "daemon-harness.h"

static struct daemon d;        /* one daemon for all tests */
static unsigned int sess_port; /* sess_open's port when not D's */

/* The commands under test (the harness adds [daemon] and the built-ins). */
static const char config_text[] = "[command shell]\n"
                                  "handler = exec\n"
                                  "path = /bin/sh\n"
                                  "mode = session\n"
                                  "pty = yes\n"
                                  "[command cat]\n"
                                  "handler = exec\n"
                                  "path = /bin/cat\n"
                                  "mode = session\n"
                                  "[command sleeper]\n"
                                  "handler = exec\n"
                                  "path = /bin/sleep\n"
                                  "args = 1000\n"
                                  "mode = session\n"
                                  "session-window = 1K\n"
                                  "[command yes]\n"
                                  "handler = exec\n"
                                  "path = /usr/bin/yes\n"
                                  "args = 0123456789abcdef\n"
                                  "mode = session\n"
                                  "[command stubborn]\n"
                                  "handler = exec\n"
                                  "path = /bin/sh\n"
                                  "args = -c \"trap '' TERM; sleep 1000 & sleep 1000\"\n"
                                  "mode = session\n"
                                  "[command idle]\n"
                                  "handler = exec\n"
                                  "path = /bin/sleep\n"
                                  "args = 1000\n"
                                  "mode = session\n"
                                  "idle-timeout = 300ms\n"
                                  "[command brief]\n"
                                  "handler = exec\n"
                                  "path = /usr/bin/yes\n"
                                  "mode = session\n"
                                  "idle-timeout = 0\n"
                                  "timeout = 500ms\n"
                                  "[command split]\n"
                                  "handler = exec\n"
                                  "path = /bin/sh\n"
                                  "args = -c \"echo out; echo err >&2; exit 5\"\n"
                                  "mode = session\n"
                                  "[command segv]\n"
                                  "handler = exec\n"
                                  "path = /bin/sh\n"
                                  "args = -c \"kill -SEGV $$\"\n"
                                  "mode = session\n"
                                  "[command env]\n"
                                  "handler = exec\n"
                                  "path = /usr/bin/env\n"
                                  "client-args = yes\n"
                                  "arg-pattern = [A-Z]+=[0-9]+\n"
                                  "env-set = FROM_CONFIG=yes\n"
                                  "mode = session\n"
                                  "pty = yes\n"
                                  "[command one]\n"
                                  "handler = exec\n"
                                  "path = /bin/sleep\n"
                                  "args = 1000\n"
                                  "mode = session\n"
                                  "max-concurrent = 1\n"
                                  "[command nobody]\n"
                                  "handler = exec\n"
                                  "path = /bin/cat\n"
                                  "mode = session\n"
                                  "allow = 4242\n";

/* One session seen from the client: frames in, what they said. */
struct sess {
	struct client c;
	uint64_t in_win;          /* stdin bytes we may still send */
	int autogrant;            /* grant stdout/stderr window back as DATA comes */
	int lax;                  /* a failed send is no failure (the daemon may have closed) */
	char out[65536];          /* the last stdout bytes, NUL-terminated */
	size_t outlen;            /* ... kept in OUT */
	uint64_t got[3];          /* DATA bytes per channel */
	int eof[3];               /* EOF per channel */
	int exited, exit_kind;    /* EXIT seen, its kind */
	int code;                 /* its code */
	char signame[32];         /* or signal */
	int error;                /* ERROR seen */
	char errtext[1100];       /* its text */
	int closed;               /* the daemon closed the connection */
	int after_exit;           /* frames after EXIT (must stay 0) */
	uint64_t out_hash;        /* FNV-1a of every stdout byte */
	unsigned char pay[65536]; /* the last frame's payload */
};

/* 64-bit FNV-1a of LEN bytes at P, continuing from H. */
static uint64_t fnv(uint64_t h, const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

#define FNV_START 14695981039346656037ULL

static int pump(struct sess *s, int timeout_ms);

/* A send failed: fails the test with what the daemon said last. */
static void send_failed(struct sess *s)
{
	int err = errno;

	while (!s->closed && !s->error && pump(s, 2000) >= 0)
		continue;
	ck_abort_msg("cannot send a frame: %s (ERROR '%s')", strerror(err), s->errtext);
}

/* Sends a frame of TYPE on CHANNEL with LEN bytes of P; fails the test unless all is sent in 10 s. */
static void send_frame(struct sess *s, uint8_t type, uint8_t channel, const void *p, size_t len)
{
	unsigned char h[UDO_VSOCK_FRAME_HEADER_SIZE];
	struct udo_vsock_frame f = {.type = type, .channel = channel, .length = (uint32_t)len};

	/* The codec refuses a bad shape; tests of the daemon's checks build the header by hand. */
	if (udo_vsock_frame_encode_header(h, &f) < 0) {
		h[0] = type;
		h[1] = channel;
		h[2] = h[3] = 0;
		h[4] = (unsigned char)(len >> 24);
		h[5] = (unsigned char)(len >> 16);
		h[6] = (unsigned char)(len >> 8);
		h[7] = (unsigned char)len;
	}
	if (client_send(&s->c, h, sizeof(h), 10000) != (ssize_t)sizeof(h) ||
	    (len > 0 && client_send(&s->c, p, len, 10000) != (ssize_t)len)) {
		if (!s->lax)
			send_failed(s);
	}
}

/* Sends WINDOW(CHANNEL, N). */
static void send_window(struct sess *s, uint8_t channel, uint32_t n)
{
	unsigned char b[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8),
	                      (unsigned char)n};
	send_frame(s, UDO_VSOCK_FRAME_WINDOW, channel, b, 4);
}

/* Sends RESIZE(ROWS, COLS). */
static void send_resize(struct sess *s, unsigned rows, unsigned cols)
{
	unsigned char b[4] = {(unsigned char)(rows >> 8), (unsigned char)rows, (unsigned char)(cols >> 8),
	                      (unsigned char)cols};
	send_frame(s, UDO_VSOCK_FRAME_RESIZE, 0, b, 4);
}

/* Reads exactly LEN bytes into BUF within the deadline DL (buffered bytes
 * of the line reader first). Returns 0, -1 on timeout, -2 at EOF. */
static int read_exact(struct sess *s, void *buf, size_t len, int64_t dl)
{
	unsigned char *b = buf;
	size_t got = 0;

	while (got < len) {
		if (s->c.len > 0) {
			size_t n = s->c.len < len - got ? s->c.len : len - got;
			memcpy(b + got, s->c.buf, n);
			memmove(s->c.buf, s->c.buf + n, s->c.len - n);
			s->c.len -= n;
			got += n;
			continue;
		}
		int left = (int)(dl - now_ms());
		if (left <= 0)
			return -1;
		struct pollfd pfd = {.fd = s->c.fd, .events = POLLIN};
		if (poll(&pfd, 1, left) <= 0)
			continue;
		ssize_t n = recv(s->c.fd, b + got, len - got, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			return -2;
		got += (size_t)n;
	}
	return 0;
}

/* Reads and handles one frame within TIMEOUT_MS. Returns its type, -1 on
 * timeout, -2 at end of input (S->closed). */
static int pump(struct sess *s, int timeout_ms)
{
	unsigned char h[UDO_VSOCK_FRAME_HEADER_SIZE];
	struct udo_vsock_frame f;
	char err[128];
	int64_t dl = now_ms() + timeout_ms;
	int rc = read_exact(s, h, sizeof(h), dl);

	if (rc == -2)
		s->closed = 1;
	if (rc < 0)
		return rc;
	ck_assert_msg(udo_vsock_frame_decode_header(h, sizeof(h), &f, err, sizeof(err)) == 0, "bad frame: %s", err);
	rc = read_exact(s, s->pay, f.length, now_ms() + 10000);
	ck_assert_msg(rc == 0, "frame payload of %u bytes cut (%d)", f.length, rc);
	if (s->exited || s->error)
		s->after_exit++;
	switch (f.type) {
	case UDO_VSOCK_FRAME_DATA:
		ck_assert_msg(f.channel != 0, "DATA on stdin from the daemon");
		s->got[f.channel] += f.length;
		if (f.channel == 1) {
			s->out_hash = fnv(s->out_hash, s->pay, f.length);
			if (s->outlen + f.length >= sizeof(s->out)) {
				size_t drop = s->outlen + f.length - (sizeof(s->out) - 1);
				drop = drop > s->outlen ? s->outlen : drop;
				memmove(s->out, s->out + drop, s->outlen - drop);
				s->outlen -= drop;
			}
			size_t n = f.length < sizeof(s->out) - 1 ? f.length : sizeof(s->out) - 1;
			memcpy(s->out + s->outlen, s->pay + f.length - n, n);
			s->outlen += n;
			s->out[s->outlen] = '\0';
		}
		if (s->autogrant) {
			/* The daemon may have sent its EXIT and shut down already. */
			int lax = s->lax;
			s->lax = 1;
			send_window(s, f.channel, f.length);
			s->lax = lax;
		}
		break;
	case UDO_VSOCK_FRAME_EOF:
		s->eof[f.channel] = 1;
		break;
	case UDO_VSOCK_FRAME_WINDOW:
		ck_assert_int_eq(f.channel, 0);
		s->in_win +=
		    (uint32_t)s->pay[0] << 24 | (uint32_t)s->pay[1] << 16 | (uint32_t)s->pay[2] << 8 | s->pay[3];
		break;
	case UDO_VSOCK_FRAME_EXIT:
		s->exited = 1;
		s->exit_kind = s->pay[0];
		if (s->pay[0] == UDO_VSOCK_FRAME_EXITED)
			s->code = s->pay[1];
		else
			snprintf(s->signame, sizeof(s->signame), "%.*s", (int)f.length - 1, (const char *)s->pay + 1);
		break;
	case UDO_VSOCK_FRAME_ERROR:
		s->error = 1;
		snprintf(s->errtext, sizeof(s->errtext), "%.*s", (int)f.length, (const char *)s->pay);
		break;
	default:
		ck_abort_msg("frame type %u from the daemon", f.type);
	}
	return f.type;
}

/* Pumps frames until COND holds; fails the test after TIMEOUT_MS. */
#define PUMP_UNTIL(s, cond, timeout_ms, ...)                                                                           \
	do {                                                                                                           \
		int64_t pump_dl_ = now_ms() + (timeout_ms);                                                            \
		while (!(cond)) {                                                                                      \
			int left_ = (int)(pump_dl_ - now_ms());                                                        \
			if (left_ <= 0 || (s)->closed)                                                                 \
				ck_abort_msg(__VA_ARGS__);                                                             \
			pump((s), left_);                                                                              \
		}                                                                                                      \
	} while (0)

/* Opens a session of command LINE: the request, "OK session", a RESIZE of
 * ROWS x COLS when ROWS > 0, WINDOW of GRANT on stdout and stderr, START
 * with TERM (NULL: empty); waits for the first stdin window. */
static void sess_open(struct sess *s, const char *line, unsigned rows, unsigned cols, uint32_t grant, const char *term)
{
	memset(s, 0, sizeof(*s));
	s->out_hash = FNV_START;
	client_open(&s->c, sess_port != 0 ? sess_port : d.port);
	client_send_str(&s->c, line);
	client_send_str(&s->c, "\n");
	client_expect_line(&s->c, "OK session", 5000);
	if (rows > 0)
		send_resize(s, rows, cols);
	if (grant > 0) {
		send_window(s, UDO_VSOCK_FRAME_STDOUT, grant);
		send_window(s, UDO_VSOCK_FRAME_STDERR, grant);
	}
	send_frame(s, UDO_VSOCK_FRAME_START, 0, term, term != NULL ? strlen(term) : 0);
	PUMP_UNTIL(s, s->in_win > 0, 10000, "no stdin window after START (ERROR '%s')", s->errtext);
}

/* Sends TEXT as DATA on stdin (within the window, which it waits for). */
static void sess_type(struct sess *s, const char *text)
{
	size_t len = strlen(text);

	PUMP_UNTIL(s, s->in_win >= len, 10000, "no stdin window for %zu bytes", len);
	send_frame(s, UDO_VSOCK_FRAME_DATA, UDO_VSOCK_FRAME_STDIN, text, len);
	s->in_win -= len;
}

/* Pumps until the connection closes; asserts nothing came after EXIT or ERROR. */
static void sess_wait_closed(struct sess *s, int timeout_ms)
{
	int64_t dl = now_ms() + timeout_ms;

	while (!s->closed) {
		ck_assert_msg(now_ms() < dl, "the daemon did not close the session");
		pump(s, (int)(dl - now_ms()));
	}
	ck_assert_int_eq(s->after_exit, 0);
	client_close(&s->c);
}

/* True if some process runs with the NUL-separated command line WANT of LEN bytes; its pid in *PID. */
static int find_process(const char *want, size_t len, pid_t *pid)
{
	DIR *dir = opendir("/proc");
	struct dirent *e;
	int found = 0;

	if (dir == NULL)
		return 0;
	while (!found && (e = readdir(dir)) != NULL) {
		char path[300], buf[256];
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, buf, sizeof(buf));
		close(fd);
		if (n == (ssize_t)len && memcmp(buf, want, len) == 0 && !process_gone(atoi(e->d_name))) {
			*pid = atoi(e->d_name);
			found = 1;
		}
	}
	closedir(dir);
	return found;
}

/* The pids whose parent is PARENT, into PIDS (up to MAX). Returns how many. */
static int children_of(pid_t parent, pid_t *pids, int max)
{
	DIR *dir = opendir("/proc");
	struct dirent *e;
	int n = 0;

	if (dir == NULL)
		return 0;
	while (n < max && (e = readdir(dir)) != NULL) {
		char path[300], buf[512];
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		FILE *f = fopen(path, "r");
		if (f == NULL)
			continue;
		if (fgets(buf, sizeof(buf), f) != NULL) {
			const char *rp = strrchr(buf, ')');
			int ppid;
			if (rp != NULL && sscanf(rp + 2, "%*c %d", &ppid) == 1 && ppid == parent)
				pids[n++] = atoi(e->d_name);
		}
		fclose(f);
	}
	closedir(dir);
	return n;
}

/* The wchar of process PID (bytes it wrote), or -1. */
static long long process_wchar(pid_t pid)
{
	char path[64], line[128];
	long long v = -1;

	snprintf(path, sizeof(path), "/proc/%ld/io", (long)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "wchar: %lld", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* Waits until process PID writes nothing more for a while (blocked on a
 * full pipe); fails the test after TIMEOUT_MS. Returns its wchar. */
static long long wait_writer_blocked(pid_t pid, int timeout_ms)
{
	int64_t dl = now_ms() + timeout_ms;
	long long last = -2;
	int same = 0;

	while (same < 20) {
		ck_assert_msg(now_ms() < dl, "pid %ld never blocked writing", (long)pid);
		long long w = process_wchar(pid);
		same = w == last && w > 0 ? same + 1 : 0;
		last = w;
		sleep_ms(10);
	}
	return last;
}

/* A pty shell: arithmetic, a resize, ^C, the exit code. */
START_TEST(test_pty_shell)
{
	struct sess s;
	pid_t sleeper;
	static const char sleep_cmd[] = "sleep\0"
	                                "100";

	sess_open(&s, "shell", 30, 100, 1 << 20, "xterm-256color");
	s.autogrant = 1;
	sess_type(&s, "echo $((6*7)) $TERM\n");
	PUMP_UNTIL(&s, strstr(s.out, "42 xterm-256color\r\n") != NULL, 10000, "no 42, output: '%s'", s.out);
	sess_type(&s, "stty size\n");
	PUMP_UNTIL(&s, strstr(s.out, "30 100\r\n") != NULL, 10000, "no 30 100, output: '%s'", s.out);
	send_resize(&s, 50, 132);
	sess_type(&s, "stty size\n");
	PUMP_UNTIL(&s, strstr(s.out, "50 132\r\n") != NULL, 10000, "no 50 132, output: '%s'", s.out);
	/* ^C reaches the foreground sleep through the terminal. */
	sess_type(&s, "sleep 100\n");
	WAIT_FOR(find_process(sleep_cmd, sizeof(sleep_cmd), &sleeper), 10000, "sleep 100 did not start");
	sess_type(&s, "\003");
	int64_t dl = now_ms() + 10000;
	while (!process_gone(sleeper) && now_ms() < dl)
		pump(&s, 50);
	ck_assert_msg(process_gone(sleeper), "^C did not interrupt sleep 100");
	sess_type(&s, "echo after$((1+1))\n");
	PUMP_UNTIL(&s, strstr(s.out, "after2\r\n") != NULL, 10000, "the shell did not go on: '%s'", s.out);
	sess_type(&s, "exit 3\n");
	PUMP_UNTIL(&s, s.exited, 10000, "no EXIT after exit 3");
	ck_assert_int_eq(s.exit_kind, UDO_VSOCK_FRAME_EXITED);
	ck_assert_int_eq(s.code, 3);
	ck_assert_msg(s.eof[1] && s.eof[2], "EXIT before EOF of stdout and stderr");
	sess_wait_closed(&s, 10000);
}
END_TEST

/* EOF(stdin) on a terminal is its VEOF character: sh reads end of file and exits 0. */
START_TEST(test_pty_eof)
{
	struct sess s;

	sess_open(&s, "shell", 0, 0, 1 << 20, NULL);
	s.autogrant = 1;
	sess_type(&s, "stty size\n");
	PUMP_UNTIL(&s, strstr(s.out, "24 80\r\n") != NULL, 10000, "default size not 24 80: '%s'", s.out);
	send_frame(&s, UDO_VSOCK_FRAME_EOF, UDO_VSOCK_FRAME_STDIN, NULL, 0);
	PUMP_UNTIL(&s, s.exited, 10000, "EOF(stdin) did not end the shell");
	ck_assert_int_eq(s.exit_kind, UDO_VSOCK_FRAME_EXITED);
	ck_assert_int_eq(s.code, 0);
	sess_wait_closed(&s, 10000);
}
END_TEST

/* Next bytes of a xorshift stream into BUF. */
static void fill_random(uint64_t *state, unsigned char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint64_t x = *state;
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		*state = x;
		buf[i] = (unsigned char)(x >> 24);
	}
}

/* 64 MiB of random binary through cat without a pty come back identical. */
START_TEST(test_cat_binary)
{
	static unsigned char chunk[UDO_VSOCK_FRAME_PAYLOAD_MAX];
	const uint64_t total = 64ULL << 20;
	uint64_t sent = 0, state = (uint64_t)now_ms() | 1, in_hash = FNV_START;
	struct sess s;
	int64_t dl = now_ms() + 240000;

	sess_open(&s, "cat", 0, 0, 1 << 20, NULL);
	s.autogrant = 1;
	while (!s.exited) {
		ck_assert_msg(now_ms() < dl, "cat: %llu of %llu bytes back after 240 s", (unsigned long long)s.got[1],
		              (unsigned long long)total);
		if (sent < total && s.in_win > 0) {
			size_t n = sizeof(chunk);
			if (n > s.in_win)
				n = (size_t)s.in_win;
			if (n > total - sent)
				n = (size_t)(total - sent);
			fill_random(&state, chunk, n);
			in_hash = fnv(in_hash, chunk, n);
			send_frame(&s, UDO_VSOCK_FRAME_DATA, UDO_VSOCK_FRAME_STDIN, chunk, n);
			s.in_win -= n;
			sent += n;
			if (sent == total)
				send_frame(&s, UDO_VSOCK_FRAME_EOF, UDO_VSOCK_FRAME_STDIN, NULL, 0);
			/* Take what is there without waiting. */
			while (s.c.len > 0 || (poll(&(struct pollfd){.fd = s.c.fd, .events = POLLIN}, 1, 0) > 0))
				if (pump(&s, 1000) < 0)
					break;
			continue;
		}
		ck_assert_int_ne(pump(&s, 10000), -2);
	}
	ck_assert_int_eq(s.got[1], total);
	ck_assert_int_eq(s.got[2], 0);
	ck_assert_msg(s.out_hash == in_hash, "the bytes came back changed");
	ck_assert_int_eq(s.exit_kind, UDO_VSOCK_FRAME_EXITED);
	ck_assert_int_eq(s.code, 0);
	sess_wait_closed(&s, 10000);
}
END_TEST

/* A program that never reads stdin: the client can send only the window
 * (plus what the pipe took), the daemon's RSS stays flat, and SIGNAL TERM
 * still gets through and ends it. */
START_TEST(test_stalled_program)
{
	static unsigned char chunk[1024];
	struct sess s;
	long rss0 = process_rss_kib(d.pid);
	uint64_t sent = 0;

	sess_open(&s, "sleeper", 0, 0, 4096, NULL);
	/* Write whatever window comes until none has come for a while. */
	for (int quiet = 0; quiet < 20;) {
		if (s.in_win > 0) {
			size_t n = s.in_win < sizeof(chunk) ? (size_t)s.in_win : sizeof(chunk);
			send_frame(&s, UDO_VSOCK_FRAME_DATA, UDO_VSOCK_FRAME_STDIN, chunk, n);
			s.in_win -= n;
			sent += n;
			quiet = 0;
			continue;
		}
		if (pump(&s, 50) == -1)
			quiet++;
		ck_assert(!s.closed && !s.error);
	}
	/* session-window (1K) plus at most a pipe's capacity (1 MiB at most). */
	ck_assert_msg(sent >= 1024 && sent <= 1024 + (1 << 20), "the daemon took %llu bytes of stdin",
	              (unsigned long long)sent);
	long rss1 = process_rss_kib(d.pid);
	ck_assert_msg(rss1 - rss0 < 4096, "daemon RSS grew from %ld to %ld KiB", rss0, rss1);
	send_frame(&s, UDO_VSOCK_FRAME_SIGNAL, 0, "TERM", 4);
	PUMP_UNTIL(&s, s.exited, 10000, "SIGNAL TERM did not end sleep");
	ck_assert_int_eq(s.exit_kind, UDO_VSOCK_FRAME_SIGNALED);
	ck_assert_str_eq(s.signame, "TERM");
	sess_wait_closed(&s, 10000);
}
END_TEST

/* A client that grants no stdout window gets nothing and costs nothing; one
 * that grants a lot but never reads costs at most max-output-buffer. */
START_TEST(test_stalled_client)
{
	struct sess s, t;
	pid_t kids[16];

	daemon_wait_idle(&d, 10000);
	long rss0 = process_rss_kib(d.pid);
	sess_open(&s, "yes", 0, 0, 0, NULL);
	WAIT_FOR(children_of(d.pid, kids, 16) == 1, 10000, "yes did not start");
	long long w = wait_writer_blocked(kids[0], 20000);
	ck_assert_msg(w <= (1 << 20), "yes wrote %lld bytes without a window", w);
	ck_assert_int_eq(pump(&s, 200), -1); /* no DATA without a window */
	send_window(&s, UDO_VSOCK_FRAME_STDOUT, 100);
	PUMP_UNTIL(&s, s.got[1] == 100, 10000, "100 bytes of window gave %llu", (unsigned long long)s.got[1]);
	ck_assert_int_eq(pump(&s, 200), -1); /* and no more */
	ck_assert_str_eq(s.out, "0123456789abcdef\n0123456789abcdef\n0123456789abcdef\n0123456789abcdef\n"
	                        "0123456789abcdef\n0123456789abcde");
	/* A second client grants 1 GiB and reads nothing. */
	sess_open(&t, "yes", 0, 0, 1u << 30, NULL);
	pid_t kids2[16];
	int n = 0;
	WAIT_FOR((n = children_of(d.pid, kids2, 16)) == 2, 10000, "the second yes did not start");
	pid_t other = kids2[0] == kids[0] ? kids2[1] : kids2[0];
	w = wait_writer_blocked(other, 30000);
	long rss1 = process_rss_kib(d.pid);
	/* max-output-buffer is 1 MiB, plus one read and the allocator's slack. */
	ck_assert_msg(rss1 - rss0 < 8192, "daemon RSS grew from %ld to %ld KiB (yes wrote %lld)", rss0, rss1, w);
	client_close(&s.c);
	client_close(&t.c);
	WAIT_FOR(children_of(d.pid, kids, 16) == 0, 10000, "the programs of closed sessions live on");
}
END_TEST

/* Without a pty stdout and stderr are two channels, each with its EOF,
 * and EXIT carries the code, or the name of the signal that killed it. */
START_TEST(test_pipes)
{
	struct sess s;
	int64_t dl = now_ms() + 10000;

	sess_open(&s, "split", 0, 0, 4096, NULL);
	while (!s.exited) {
		ck_assert_msg(now_ms() < dl && !s.closed, "no EXIT");
		pump(&s, 1000);
	}
	ck_assert_str_eq(s.out, "out\n");
	ck_assert_int_eq(s.got[1], 4);
	ck_assert_int_eq(s.got[2], 4);
	ck_assert_msg(s.eof[1] && s.eof[2], "no EOF on stdout or stderr before EXIT");
	ck_assert_int_eq(s.exit_kind, UDO_VSOCK_FRAME_EXITED);
	ck_assert_int_eq(s.code, 5);
	sess_wait_closed(&s, 10000);
	/* A crash: EXIT names the signal. */
	sess_open(&s, "segv", 0, 0, 4096, NULL);
	PUMP_UNTIL(&s, s.exited, 10000, "no EXIT");
	ck_assert_int_eq(s.exit_kind, UDO_VSOCK_FRAME_SIGNALED);
	ck_assert_str_eq(s.signame, "SEGV");
	sess_wait_closed(&s, 10000);
}
END_TEST

/* Exec's policy holds for sessions: the access list, arg-pattern,
 * max-concurrent, and the environment (config, UDO_*, TERM, nothing of
 * the daemon's own). */
START_TEST(test_policy)
{
	struct sess s;
	struct client c;
	struct reply r;

	client_open(&c, d.port);
	client_request(&c, "nobody", &r, 5000);
	ck_assert_msg(strncmp(r.status, "ERR denied", 10) == 0, "status '%s'", r.status);
	client_request(&c, "env X=abc", &r, 5000);
	ck_assert_msg(strncmp(r.status, "ERR usage", 9) == 0, "status '%s'", r.status);
	sess_open(&s, "env ARG=42", 0, 0, 1 << 20, "vt100");
	PUMP_UNTIL(&s, s.exited, 10000, "env did not end");
	ck_assert_int_eq(s.code, 0);
	ck_assert_msg(strstr(s.out, "ARG=42\r\n") != NULL, "no ARG=42 in '%s'", s.out);
	ck_assert_msg(strstr(s.out, "FROM_CONFIG=yes\r\n") != NULL && strstr(s.out, "TERM=vt100\r\n") != NULL &&
	                  strstr(s.out, "UDO_COMMAND=env\r\n") != NULL,
	              "environment: '%s'", s.out);
	ck_assert_msg(strstr(s.out, "PATH=") == NULL && strstr(s.out, "HOME=") == NULL,
	              "the daemon's environment leaked: '%s'", s.out);
	sess_wait_closed(&s, 10000);
	/* Once it has been reaped, the next one may run. */
	sess_open(&s, "env ARG=44", 0, 0, 1 << 20, "bad term!");
	PUMP_UNTIL(&s, s.exited, 10000, "env did not end");
	ck_assert_msg(strstr(s.out, "ARG=44\r\n") != NULL && strstr(s.out, "TERM=") == NULL, "'%s'", s.out);
	sess_wait_closed(&s, 10000);
	/* max-concurrent counts a session from OK session, before START. */
	struct client first, other;
	client_open(&first, d.port);
	client_send_str(&first, "one\n");
	client_expect_line(&first, "OK session", 5000);
	client_request(&c, "one", &r, 5000);
	ck_assert_msg(strncmp(r.status, "ERR busy", 8) == 0, "a second session: '%s'", r.status);
	client_close(&first);
	/* Once the first is gone, another may run. */
	int64_t dl = now_ms() + 10000;
	for (;;) {
		client_open(&other, d.port);
		client_send_str(&other, "one\n");
		char line[256];
		ck_assert_int_ge(client_read_line(&other, line, sizeof(line), 5000), 0);
		client_close(&other);
		if (strcmp(line, "OK session") == 0)
			break;
		ck_assert_msg(strncmp(line, "ERR busy", 8) == 0 && now_ms() < dl, "after the first left: '%s'", line);
		sleep_ms(20);
	}
	client_close(&c);
}
END_TEST

/* A client that vanishes: the program's whole group dies (SIGKILL after
 * the grace, as it ignores SIGTERM); the daemon's fds and children are
 * back to where they were. */
START_TEST(test_vanishing_client)
{
	struct sess s;
	pid_t kids[16];
	static const char sleep_cmd[] = "sleep\0"
	                                "1000";
	pid_t grandchild;

	daemon_wait_idle(&d, 10000);
	int fds0 = process_fd_count(d.pid);
	ck_assert_int_eq(process_child_count(d.pid), 0);
	sess_open(&s, "stubborn", 0, 0, 4096, NULL);
	WAIT_FOR(children_of(d.pid, kids, 16) == 1, 10000, "the program did not start");
	WAIT_FOR(find_process(sleep_cmd, sizeof(sleep_cmd), &grandchild) && grandchild != kids[0], 10000,
	         "the background sleep did not start");
	client_close(&s.c);
	wait_process_gone(grandchild, 10000);
	wait_process_gone(kids[0], 10000);
	ck_assert_int_eq(wait_child_count(d.pid, 0, 10000), 0);
	daemon_wait_idle(&d, 10000);
	ck_assert_int_eq(wait_fd_count(d.pid, fds0, 10000), fds0);
}
END_TEST

/* Protocol violations: ERROR "ERR protocol ...", the program killed, the
 * connection closed; other sessions and clients go on. */
START_TEST(test_protocol_errors)
{
	struct sess s, keep;
	static unsigned char big[2048];
	pid_t kids[16];

	sess_open(&keep, "cat", 0, 0, 1 << 20, NULL);
	keep.autogrant = 1;
	/* DATA before START. */
	memset(&s, 0, sizeof(s));
	client_open(&s.c, d.port);
	client_send_str(&s.c, "cat\n");
	client_expect_line(&s.c, "OK session", 5000);
	s.lax = 1; /* the daemon may close before it has read the whole frame */
	send_frame(&s, UDO_VSOCK_FRAME_DATA, UDO_VSOCK_FRAME_STDIN, "x", 1);
	PUMP_UNTIL(&s, s.error, 10000, "no ERROR for DATA before START");
	ck_assert_msg(strncmp(s.errtext, "ERR protocol ", 13) == 0, "ERROR '%s'", s.errtext);
	sess_wait_closed(&s, 10000);
	/* A window overrun: session-window is 1K, one frame of 1025 bytes. */
	sess_open(&s, "sleeper", 0, 0, 4096, NULL);
	ck_assert_int_eq(s.in_win, 1024);
	int n = children_of(d.pid, kids, 16);
	ck_assert_int_eq(n, 2);
	s.lax = 1;
	send_frame(&s, UDO_VSOCK_FRAME_DATA, UDO_VSOCK_FRAME_STDIN, big, 1025);
	PUMP_UNTIL(&s, s.error, 10000, "no ERROR for a window overrun");
	ck_assert_msg(strncmp(s.errtext, "ERR protocol ", 13) == 0 && strstr(s.errtext, "window") != NULL, "ERROR '%s'",
	              s.errtext);
	sess_wait_closed(&s, 10000);
	WAIT_FOR(children_of(d.pid, kids, 16) == 1, 10000, "the overrun session's program lives on");
	/* A frame of the daemon's direction. */
	sess_open(&s, "sleeper", 0, 0, 4096, NULL);
	s.lax = 1;
	send_frame(&s, UDO_VSOCK_FRAME_EXIT, 0, "\0\0", 2);
	PUMP_UNTIL(&s, s.error, 10000, "no ERROR for EXIT from the client");
	ck_assert_msg(strncmp(s.errtext, "ERR protocol ", 13) == 0, "ERROR '%s'", s.errtext);
	sess_wait_closed(&s, 10000);
	/* A malformed header. */
	sess_open(&s, "sleeper", 0, 0, 4096, NULL);
	s.lax = 1;
	send_frame(&s, 99, 0, NULL, 0);
	PUMP_UNTIL(&s, s.error, 10000, "no ERROR for an unknown frame type");
	sess_wait_closed(&s, 10000);
	/* The daemon goes on: the first session still echoes, PING answers. */
	sess_type(&keep, "still here\n");
	PUMP_UNTIL(&keep, strstr(keep.out, "still here\n") != NULL, 10000, "the other session stopped");
	struct reply r;
	struct client c;
	client_open(&c, d.port);
	client_request(&c, "PING", &r, 5000);
	ck_assert_str_eq(r.status, "OK pong");
	client_close(&c);
	send_frame(&keep, UDO_VSOCK_FRAME_EOF, UDO_VSOCK_FRAME_STDIN, NULL, 0);
	PUMP_UNTIL(&keep, keep.exited, 10000, "cat did not end at EOF");
	sess_wait_closed(&keep, 10000);
}
END_TEST

/* idle-timeout: no frame either way ends the session with ERROR timeout;
 * timeout ends one that is busy all along. */
START_TEST(test_idle_timeout)
{
	struct sess s;
	pid_t kids[16];

	daemon_wait_idle(&d, 10000);
	sess_open(&s, "idle", 0, 0, 4096, NULL);
	WAIT_FOR(children_of(d.pid, kids, 16) == 1, 10000, "the program did not start");
	PUMP_UNTIL(&s, s.error, 10000, "no ERROR after idle-timeout");
	ck_assert_msg(strncmp(s.errtext, "ERR timeout ", 12) == 0, "ERROR '%s'", s.errtext);
	sess_wait_closed(&s, 10000);
	wait_process_gone(kids[0], 10000);
	/* timeout: the longest session, however busy (yes prints all along). */
	sess_open(&s, "brief", 0, 0, 1 << 20, NULL);
	s.autogrant = 1;
	WAIT_FOR(children_of(d.pid, kids, 16) == 1, 10000, "yes did not start");
	PUMP_UNTIL(&s, s.error, 10000, "no ERROR after the session's timeout");
	ck_assert_msg(strncmp(s.errtext, "ERR timeout ", 12) == 0 && strstr(s.errtext, "(timeout)") != NULL,
	              "ERROR '%s'", s.errtext);
	ck_assert_msg(s.got[1] > 0, "yes printed nothing");
	sess_wait_closed(&s, 10000);
	wait_process_gone(kids[0], 10000);
}
END_TEST

/* Waits for the daemon's RELOADING=1 then READY=1 after a SIGHUP. */
static void reload_and_wait(void)
{
	daemon_signal(&d, SIGHUP);
	ck_assert_msg(daemon_wait_notify(&d, "RELOADING=1", 10000) != NULL, "no RELOADING=1");
	ck_assert_msg(daemon_wait_notify(&d, "READY=1", 10000) != NULL, "no READY=1 after RELOADING=1");
}

/* A session outlives a reload that drops its command: it starts, runs and
 * ends under what it was given; new requests see the new config. The
 * client grants no stderr window: EOF and EXIT come all the same. */
START_TEST(test_reload)
{
	struct sess s;
	struct client c;
	struct reply r;

	memset(&s, 0, sizeof(s));
	s.out_hash = FNV_START;
	client_open(&s.c, d.port);
	client_send_str(&s.c, "cat\n");
	client_expect_line(&s.c, "OK session", 5000);
	daemon_stat_close(&d);
	daemon_write_config(&d, NULL, "[command other]\nhandler = exec\npath = /bin/true\n");
	reload_and_wait();
	/* No stderr window: its EOF, and so EXIT, must not need one. */
	send_window(&s, UDO_VSOCK_FRAME_STDOUT, 1 << 20);
	send_frame(&s, UDO_VSOCK_FRAME_START, 0, NULL, 0);
	s.autogrant = 1;
	sess_type(&s, "after the reload\n");
	PUMP_UNTIL(&s, strstr(s.out, "after the reload\n") != NULL, 10000, "cat did not echo after the reload");
	client_open(&c, d.port);
	client_request(&c, "cat", &r, 5000);
	ck_assert_msg(strncmp(r.status, "ERR unknown-command", 19) == 0, "status '%s'", r.status);
	client_close(&c);
	send_frame(&s, UDO_VSOCK_FRAME_EOF, UDO_VSOCK_FRAME_STDIN, NULL, 0);
	PUMP_UNTIL(&s, s.exited, 10000, "cat did not end at EOF (closed %d, eof %d %d, ERROR '%s')", s.closed, s.eof[1],
	           s.eof[2], s.errtext);
	ck_assert_int_eq(s.code, 0);
	sess_wait_closed(&s, 10000);
	daemon_write_config(&d, NULL, config_text);
	reload_and_wait();
}
END_TEST

/* A daemon that stops kills the programs of its sessions at once, even
 * one that ignores SIGTERM, and the group's other members. */
START_TEST(test_daemon_stop)
{
	struct daemon d2;
	struct sess s;
	pid_t kids[16], grandchild;
	static const char sleep_cmd[] = "sleep\0"
	                                "1000";

	daemon_init(&d2);
	daemon_write_config(&d2, NULL, config_text);
	ck_assert_msg(daemon_start(&d2, NULL, 10000) == 0, "the second daemon did not start");
	sess_port = d2.port;
	sess_open(&s, "stubborn", 0, 0, 4096, NULL);
	sess_port = 0;
	WAIT_FOR(children_of(d2.pid, kids, 16) == 1, 10000, "the program did not start");
	WAIT_FOR(find_process(sleep_cmd, sizeof(sleep_cmd), &grandchild) && grandchild != kids[0], 10000,
	         "the background sleep did not start");
	ck_assert_int_eq(daemon_stop(&d2, 10000), 0);
	wait_process_gone(kids[0], 10000);
	wait_process_gone(grandchild, 10000);
	client_close(&s.c);
	daemon_cleanup(&d2);
}
END_TEST

/* Runs udo-vsockd -t on a config with command OPTIONS; its messages in ERRTEXT. Returns its status. */
static int check_config(const char *options, char *errtext, size_t size)
{
	char conf[2048], path[512], out[1024];

	snprintf(conf, sizeof(conf), "[daemon]\nlisten = vsock:local:%u\nallow = any\n[command x]\nhandler = exec\n%s",
	         d.port, options);
	snprintf(path, sizeof(path), "%s/check.conf", d.dir);
	write_file(path, conf);
	char *const argv[] = {(char *)TEST_BUILDDIR "/src/udo-vsockd/udo-vsockd", (char *)"-t", (char *)"-c", path,
	                      NULL};
	int st = run_process(argv, out, sizeof(out), errtext, size, 10000);
	strncat(errtext, out, size - strlen(errtext) - 1);
	return st;
}

/* Nonsense combinations are config errors with file:line. */
START_TEST(test_config_errors)
{
	static const struct {
		const char *options, *message;
	} bad[] = {
	    {"path = /bin/sh\npty = yes\n", "need mode = session"},
	    {"path = /bin/sh\nidle-timeout = 5s\n", "need mode = session"},
	    {"path = /bin/sh\nmode = session\nstdin = request\n", "stdin = request is for mode = request"},
	    {"path = /bin/sh\nmode = shell\n", "mode: 'shell' is not request or session"},
	    {"path = /bin/sh\nmode = session\nsession-window = 100\n", "session-window"},
	    {"path = /bin/sh\nmode = session\nsession-window = 1G\n", "session-window"},
	};
	char out[4096];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		out[0] = '\0';
		int st = check_config(bad[i].options, out, sizeof(out));
		ck_assert_msg(st != 0 && strstr(out, bad[i].message) != NULL && strstr(out, "check.conf:") != NULL,
		              "'%s': status %d, output '%s'", bad[i].options, st, out);
	}
	out[0] = '\0';
	ck_assert_msg(check_config("path = /bin/sh\nmode = session\npty = yes\nidle-timeout = 0\n", out, sizeof(out)) ==
	                  0,
	              "a good session config refused: %s", out);
}
END_TEST

/* Mounts devpts on /dev/pts inside user-mode Linux, whose devtmpfs has
 * /dev/ptmx but no pts (the daemon opens /dev/ptmx and the slave by name). */
static void pty_setup(void)
{
	if (getenv("UDO_VSOCK_IN_UML") == NULL)
		return;
	(void)mkdir("/dev/pts", 0755);
	if (mount("devpts", "/dev/pts", "devpts", 0, "ptmxmode=0666,mode=0620") < 0 && errno != EBUSY)
		fprintf(stderr, "vsock_session: mounting devpts on /dev/pts: %s\n", strerror(errno));
}

/* Starts the daemon for every test. */
static void session_daemon_start(void)
{
	pty_setup();
	daemon_init(&d);
	daemon_write_config(&d, NULL, config_text);
	struct daemon_opts opts = {.listen_fd = -1, .extra_arg = getenv("SESSION_DEBUG")};
	ck_assert_msg(daemon_start(&d, &opts, 10000) == 0, "udo-vsockd did not report READY=1 on port %u", d.port);
}

/* Stops it. */
static void session_daemon_stop(void)
{
	daemon_stop(&d, 10000);
	daemon_cleanup(&d);
}

/* The suite; the daemon runs once for all tests (unchecked fixture). */
static Suite *session_suite(void)
{
	Suite *s = suite_create("session");
	TCase *tc = tcase_create("session");

	tcase_add_unchecked_fixture(tc, session_daemon_start, session_daemon_stop);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_pty_shell);
	tcase_add_test(tc, test_pty_eof);
	tcase_add_test(tc, test_cat_binary);
	tcase_add_test(tc, test_pipes);
	tcase_add_test(tc, test_policy);
	tcase_add_test(tc, test_stalled_program);
	tcase_add_test(tc, test_stalled_client);
	tcase_add_test(tc, test_vanishing_client);
	tcase_add_test(tc, test_protocol_errors);
	tcase_add_test(tc, test_idle_timeout);
	tcase_add_test(tc, test_config_errors);
	tcase_add_test(tc, test_reload);
	tcase_add_test(tc, test_daemon_stop);
	suite_add_tcase(s, tc);
	return s;
}

/* Runs the suite. */
int main(void)
{
	SRunner *sr = srunner_create(session_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
