/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* loadgen.c - the benchmark load generator: plain sockets and epoll.
 *
 * Usage: loadgen MODE [options] [ADDR]
 *   ADDR: vsock:CID:PORT, unix:PATH or unix:@NAME
 * Modes:
 *   rr        request/response: -c connections, -d requests in flight on
 *             each; one reply line per request. Latency and ops/s.
 *   scale     opens -c connections, PINGs each once, prints "phase=idle"
 *             and waits for a line on stdin; then -n rounds of one PING on
 *             every connection at once; all must be answered. -s STEP:
 *             also "phase=step" and a wait after every STEP connections.
 *   connect   each operation connects and reads until the server closes
 *             (socat ... EXEC:prog); -c operations at once.
 *   qga-exec  qemu-guest-agent guest-exec of -r PROG, then guest-exec-status
 *             until it has exited; one connection.
 *   spawn     posix_spawn(-r PROG) + waitpid, -c children at once; no ADDR.
 *   stream    throughput of one connection: after the request -r (if any)
 *             is answered (-e), sends -b BYTES in -w CHUNK writes (default
 *             1 MiB), shuts its sending side and waits for the server's
 *             end of file. -D: sends -r and counts the data lines' bytes
 *             of the reply until its status line (exec output).
 *   sink      a server on ADDR (vsock:any:PORT or unix:PATH) that reads
 *             each connection to its end, then closes it. -H: ADDR gets
 *             udo-vsockd's hand-offs; the handed-off client is read.
 *   relay     the floor of a bridge: a server on ADDR that copies each
 *             connection's bytes to -x TARGET with blocking recv/send.
 *   splice    relay's shape, but the bytes go through a pipe with
 *             splice(2) (one copy fewer where the kernel can), both ways.
 * Options: -t SECONDS (measured time), -W SECONDS (warm-up, not counted),
 *   -n COUNT (stop after COUNT operations), -r REQUEST (C escapes \n \t \\),
 *   -e PREFIX (each reply line must start with it), -o FILE (latency
 *   samples in microseconds, one a line).
 * Prints one line of key=value results; exit status 1 if anything failed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "bench-util.h"

#define RBUF_SIZE   8192
#define MAX_SAMPLES (4u << 20)
#define STALL_NS    (15ull * 1000000000ull)

extern char **environ;

/* The command line. */
struct opts {
	const char *mode, *addr, *out;
	int conns, depth;
	double secs, warmup;
	unsigned long long count;
	char req[1024];
	size_t reqlen;
	const char *expect;
	int step;                 /* scale: pause after every STEP connections */
	int req_set;              /* -r was given */
	unsigned long long bytes; /* stream: -b bytes to send */
	size_t chunk;             /* stream: -w bytes per write */
	int download;             /* stream: -D */
	int handoff;              /* sink: -H */
	const char *target;       /* relay: -x ADDR */
};

/* One client connection. */
struct lconn {
	int fd;
	int state;    /* scale/connect: 0 connecting, 1 open, 2 done */
	int inflight; /* requests sent, replies not yet read */
	size_t rlen;  /* bytes of an incomplete reply line in rbuf */
	size_t wlen;  /* bytes of requests not yet sent, in wbuf */
	uint64_t *ts; /* send times, a ring of depth entries */
	unsigned int head, tail;
	char *wbuf;
	char rbuf[RBUF_SIZE];
};

/* Results shared by the modes. */
static struct {
	unsigned long long ops, errors, sent;
	uint32_t *samples; /* latencies in ns */
	size_t nsamples;
	uint64_t t_measure, t_last;
} res;

/* Starts a connection to ADDR; NONBLOCK: returns during the connect. */
static int open_conn(const struct opts *o, int nonblock)
{
	struct sockaddr_storage sa;
	socklen_t len = bench_parse_addr(o->addr, &sa);
	int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, len) < 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Records one finished operation that started at T0 (0: no latency). */
static void op_done(uint64_t t0)
{
	uint64_t t = bench_now_ns();

	if (t < res.t_measure)
		return;
	res.ops++;
	res.t_last = t;
	if (t0 != 0 && res.nsamples < MAX_SAMPLES) {
		uint64_t d = t - t0;
		res.samples[res.nsamples++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
	}
}

/* Orders two samples for qsort. */
static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Prints the result line; returns the exit status. */
static int report(const struct opts *o, const char *extra)
{
	double secs = res.t_last > res.t_measure ? (double)(res.t_last - res.t_measure) / 1e9 : 0;

	printf("mode=%s conns=%d depth=%d sent=%llu ops=%llu errors=%llu secs=%.3f ops_per_s=%.1f", o->mode, o->conns,
	       o->depth, res.sent, res.ops, res.errors, secs, secs > 0 ? (double)res.ops / secs : 0.0);
	if (res.nsamples > 0) {
		qsort(res.samples, res.nsamples, sizeof(res.samples[0]), cmp_u32);
		printf(" p50_us=%.2f p99_us=%.2f max_us=%.2f", res.samples[res.nsamples / 2] / 1e3,
		       res.samples[(size_t)((double)res.nsamples * 0.99)] / 1e3, res.samples[res.nsamples - 1] / 1e3);
		if (o->out != NULL) {
			FILE *f = fopen(o->out, "w");
			if (f == NULL)
				bench_die(o->out);
			for (size_t i = 0; i < res.nsamples; i++)
				fprintf(f, "%.2f\n", res.samples[i] / 1e3);
			fclose(f);
		}
	}
	printf("%s%s\n", extra != NULL ? " " : "", extra != NULL ? extra : "");
	fflush(stdout);
	return res.errors > 0 ? 1 : 0;
}

/* Queues K requests on C and sends what the socket takes. 0 or -1. */
static int send_requests(const struct opts *o, struct lconn *c, int k)
{
	uint64_t t = bench_now_ns();

	for (int i = 0; i < k; i++) {
		memcpy(c->wbuf + c->wlen, o->req, o->reqlen);
		c->wlen += o->reqlen;
		c->ts[c->head++ % (unsigned int)o->depth] = t;
		c->inflight++;
		res.sent++;
	}
	if (c->wlen == 0)
		return 0;
	ssize_t w = send(c->fd, c->wbuf, c->wlen, MSG_NOSIGNAL);
	if (w < 0)
		return errno == EAGAIN ? 0 : -1;
	memmove(c->wbuf, c->wbuf + w, c->wlen - (size_t)w);
	c->wlen -= (size_t)w;
	return 0;
}

/* Reads replies on C; returns how many complete lines came, or -1. */
static int read_replies(const struct opts *o, struct lconn *c, int timed)
{
	ssize_t r = recv(c->fd, c->rbuf + c->rlen, RBUF_SIZE - c->rlen, 0);
	int lines = 0;

	if (r == 0 || (r < 0 && errno != EAGAIN))
		return -1;
	if (r < 0)
		return 0;
	size_t have = c->rlen + (size_t)r, start = 0;
	for (size_t i = c->rlen; i < have; i++) {
		if (c->rbuf[i] != '\n')
			continue;
		size_t elen = strlen(o->expect);
		if (i - start < elen || memcmp(c->rbuf + start, o->expect, elen) != 0) {
			res.errors++;
			if (res.errors <= 3)
				fprintf(stderr, "loadgen: unexpected reply: %.*s\n", (int)(i - start), c->rbuf + start);
		}
		uint64_t t0 = c->ts[c->tail++ % (unsigned int)o->depth];
		op_done(timed ? t0 : 0);
		c->inflight--;
		lines++;
		start = i + 1;
	}
	if (start == 0 && have == RBUF_SIZE)
		return -1; /* a reply line longer than the buffer */
	memmove(c->rbuf, c->rbuf + start, have - start);
	c->rlen = have - start;
	return lines;
}

/* Allocates connection state for N connections of depth DEPTH. */
static struct lconn *alloc_conns(const struct opts *o, int n)
{
	struct lconn *cs = calloc((size_t)n, sizeof(*cs));

	if (cs == NULL)
		bench_die("calloc");
	for (int i = 0; i < n; i++) {
		cs[i].fd = -1;
		cs[i].ts = calloc((size_t)o->depth, sizeof(uint64_t));
		cs[i].wbuf = malloc(o->reqlen * (size_t)o->depth + 1);
		if (cs[i].ts == NULL || cs[i].wbuf == NULL)
			bench_die("calloc");
	}
	return cs;
}

/* Mode rr: -c connections with -d requests in flight each. */
static int run_rr(const struct opts *o)
{
	struct lconn *cs = alloc_conns(o, o->conns);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	uint64_t t0 = bench_now_ns(), deadline;
	int open = 0;

	for (int i = 0; i < o->conns; i++) {
		cs[i].fd = open_conn(o, 0);
		if (cs[i].fd < 0)
			bench_die("connect");
		fcntl(cs[i].fd, F_SETFL, O_NONBLOCK);
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev) < 0)
			bench_die("epoll_ctl");
		open++;
	}
	res.t_measure = bench_now_ns() + (uint64_t)(o->warmup * 1e9);
	deadline = res.t_measure + (uint64_t)(o->secs * 1e9);
	res.t_last = res.t_measure;
	for (int i = 0; i < o->conns; i++) {
		if (send_requests(o, &cs[i], o->depth) < 0)
			bench_die("send");
	}
	uint64_t progress = bench_now_ns();
	int stopping = 0;
	while (open > 0) {
		struct epoll_event evs[256];
		int n = epoll_wait(ep, evs, 256, 1000);
		uint64_t t = bench_now_ns();
		if (!stopping && (t >= deadline || (o->count > 0 && res.ops >= o->count)))
			stopping = 1;
		if (n > 0)
			progress = t;
		else if (t - progress > STALL_NS) {
			fprintf(stderr, "loadgen: no reply for %llu s\n", STALL_NS / 1000000000ull);
			res.errors++;
			break;
		}
		for (int i = 0; i < n; i++) {
			struct lconn *c = evs[i].data.ptr;
			int got = read_replies(o, c, 1);
			if (got < 0) {
				res.errors++;
				close(c->fd);
				c->fd = -1;
				open--;
				continue;
			}
			if (!stopping && got > 0 && send_requests(o, c, got) < 0)
				res.errors++;
			else if (c->wlen > 0 && send_requests(o, c, 0) < 0)
				res.errors++;
			if (stopping && c->inflight == 0) {
				close(c->fd);
				c->fd = -1;
				open--;
			}
		}
	}
	(void)t0;
	return report(o, NULL);
}

/* Reads one line from stdin (the driver's go-ahead); -1 at its end. */
static int wait_driver(void)
{
	char line[64];

	return fgets(line, sizeof(line), stdin) != NULL ? 0 : -1;
}

/* Mode scale: many concurrent connections, idle, then all at once. */
static int run_scale(const struct opts *o)
{
	struct lconn *cs = alloc_conns(o, o->conns);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int started = 0, connected = 0, failed = 0, pending = 0;
	unsigned long long rounds = o->count > 0 ? o->count : 1;
	uint64_t t_start = bench_now_ns(), progress = t_start;
	char extra[256];

	res.t_measure = 0;
	/* Phase 1: connect everyone (at most 256 connects in progress), one PING each. */
	int step = o->step > 0 ? o->step : o->conns, limit = step < o->conns ? step : o->conns;
	while (connected + failed < o->conns) {
		int retry = 0;
		if (connected + failed == limit) {
			/* A step is complete: let the driver look at the server. */
			printf("phase=step connected=%d failed=%d\n", connected, failed);
			fflush(stdout);
			if (wait_driver() < 0)
				return 1;
			limit = limit + step < o->conns ? limit + step : o->conns;
		}
		while (started < limit && pending < 256) {
			struct lconn *c = &cs[started++];
			c->fd = open_conn(o, 1);
			if (c->fd < 0 && errno == EAGAIN) {
				/* The listen backlog is full: try again after the next wait. */
				started--;
				retry = 1;
				break;
			}
			struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
			if (c->fd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
				failed++;
				if (failed <= 3)
					fprintf(stderr, "loadgen: connect %d: %s\n", started, strerror(errno));
				continue;
			}
			pending++;
		}
		struct epoll_event evs[256];
		int n = epoll_wait(ep, evs, 256, retry ? 10 : 1000);
		uint64_t t = bench_now_ns();
		if (n > 0)
			progress = t;
		else if (t - progress > STALL_NS) {
			fprintf(stderr, "loadgen: connecting stalled at %d of %d\n", connected + failed, o->conns);
			failed += o->conns - connected - failed;
			break;
		}
		for (int i = 0; i < n; i++) {
			struct lconn *c = evs[i].data.ptr;
			int err = 0;
			socklen_t len = sizeof(err);
			if (c->state == 0) {
				getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
				if (err != 0 || (evs[i].events & (EPOLLERR | EPOLLHUP))) {
					if (++failed <= 3)
						fprintf(stderr, "loadgen: connect: %s\n",
						        strerror(err ? err : ECONNRESET));
					close(c->fd);
					c->fd = -1;
					c->state = 2;
					pending--;
					continue;
				}
				struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
				epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
				c->state = 1;
				if (send_requests(o, c, 1) < 0)
					res.errors++;
				continue;
			}
			int got = read_replies(o, c, 0);
			if (got < 0 || (got > 0 && c->inflight == 0)) {
				pending--;
				if (got < 0) {
					failed++;
					close(c->fd);
					c->fd = -1;
					c->state = 2;
				} else {
					connected++;
				}
			}
		}
	}
	double connect_s = (double)(bench_now_ns() - t_start) / 1e9;
	printf("phase=idle connected=%d failed=%d connect_s=%.3f\n", connected, failed, connect_s);
	fflush(stdout);
	if (wait_driver() < 0)
		return 1;
	/* Phase 2: ROUNDS times, one PING on every open connection at once. */
	unsigned long long expected = 0, answered0 = res.ops;
	res.t_measure = bench_now_ns();
	res.t_last = res.t_measure;
	for (unsigned long long r = 0; r < rounds; r++) {
		int waiting = 0;
		for (int i = 0; i < o->conns; i++) {
			if (cs[i].state != 1)
				continue;
			if (send_requests(o, &cs[i], 1) < 0) {
				res.errors++;
				continue;
			}
			expected++;
			waiting++;
		}
		progress = bench_now_ns();
		while (waiting > 0) {
			struct epoll_event evs[256];
			int n = epoll_wait(ep, evs, 256, 1000);
			uint64_t t = bench_now_ns();
			if (n > 0)
				progress = t;
			else if (t - progress > STALL_NS) {
				fprintf(stderr, "loadgen: %d replies missing\n", waiting);
				res.errors += (unsigned long long)waiting;
				break;
			}
			for (int i = 0; i < n; i++) {
				struct lconn *c = evs[i].data.ptr;
				int got = read_replies(o, c, 1);
				if (got < 0) {
					res.errors++;
					waiting -= c->inflight;
					c->inflight = 0;
					close(c->fd);
					c->fd = -1;
					c->state = 2;
					continue;
				}
				waiting -= got;
			}
		}
	}
	snprintf(extra, sizeof(extra), "connected=%d failed=%d connect_s=%.3f expected=%llu answered=%llu", connected,
	         failed, connect_s, expected, res.ops - answered0);
	if (failed > 0)
		res.errors += (unsigned long long)failed;
	return report(o, extra);
}

/* Mode connect: each operation connects and reads until end of file. */
static int run_connect(const struct opts *o)
{
	struct lconn *cs = alloc_conns(o, o->conns);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int active = 0, stopping = 0;
	uint64_t deadline, progress;

	res.t_measure = bench_now_ns() + (uint64_t)(o->warmup * 1e9);
	deadline = res.t_measure + (uint64_t)(o->secs * 1e9);
	res.t_last = res.t_measure;
	progress = bench_now_ns();
	for (;;) {
		for (int i = 0; i < o->conns && !stopping; i++) {
			struct lconn *c = &cs[i];
			if (c->fd >= 0)
				continue;
			c->fd = open_conn(o, 1);
			struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
			if (c->fd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
				res.errors++;
				if (c->fd >= 0)
					close(c->fd);
				c->fd = -1;
				continue;
			}
			c->ts[0] = bench_now_ns();
			active++;
		}
		if (active == 0)
			break;
		struct epoll_event evs[64];
		int n = epoll_wait(ep, evs, 64, 1000);
		uint64_t t = bench_now_ns();
		if (t >= deadline || (o->count > 0 && res.ops >= o->count))
			stopping = 1;
		if (n > 0)
			progress = t;
		else if (t - progress > STALL_NS) {
			res.errors++;
			fprintf(stderr, "loadgen: no connection finished for %llu s\n", STALL_NS / 1000000000ull);
			break;
		}
		for (int i = 0; i < n; i++) {
			struct lconn *c = evs[i].data.ptr;
			ssize_t r;
			while ((r = recv(c->fd, c->rbuf, RBUF_SIZE, 0)) > 0)
				;
			if (r < 0 && errno == EAGAIN)
				continue;
			if (r < 0 && errno != ECONNRESET)
				res.errors++;
			else
				op_done(c->ts[0]);
			close(c->fd);
			c->fd = -1;
			active--;
		}
	}
	return report(o, NULL);
}

/* Sends LINE on blocking FD and reads one reply line into BUF. 0 or -1. */
static int qga_call(int fd, const char *line, char *buf, size_t size)
{
	size_t len = strlen(line), have = 0;

	if (send(fd, line, len, MSG_NOSIGNAL) != (ssize_t)len)
		return -1;
	while (have + 1 < size) {
		ssize_t r = recv(fd, buf + have, 1, 0);
		if (r <= 0)
			return -1;
		if (buf[have++] == '\n')
			break;
	}
	buf[have] = '\0';
	return 0;
}

/* Mode qga-exec: guest-exec, then guest-exec-status until exited. */
static int run_qga_exec(const struct opts *o)
{
	char line[1200], buf[4096];
	int fd = open_conn(o, 0);
	unsigned long long polls = 0;
	uint64_t deadline;

	if (fd < 0)
		bench_die("connect");
	res.t_measure = bench_now_ns() + (uint64_t)(o->warmup * 1e9);
	deadline = res.t_measure + (uint64_t)(o->secs * 1e9);
	res.t_last = res.t_measure;
	while (bench_now_ns() < deadline && (o->count == 0 || res.ops < o->count)) {
		uint64_t t0 = bench_now_ns();
		snprintf(line, sizeof(line), "{\"execute\":\"guest-exec\",\"arguments\":{\"path\":\"%s\"}}\n", o->req);
		const char *p;
		if (qga_call(fd, line, buf, sizeof(buf)) < 0 || (p = strstr(buf, "\"pid\"")) == NULL) {
			fprintf(stderr, "loadgen: guest-exec: %s\n", buf);
			res.errors++;
			break;
		}
		long pid = strtol(p + 5 + strspn(p + 5, ": "), NULL, 10);
		snprintf(line, sizeof(line), "{\"execute\":\"guest-exec-status\",\"arguments\":{\"pid\":%ld}}\n", pid);
		for (;;) {
			polls++;
			if (qga_call(fd, line, buf, sizeof(buf)) < 0 || strstr(buf, "\"return\"") == NULL) {
				res.errors++;
				break;
			}
			p = strstr(buf, "\"exited\"");
			if (p != NULL && strncmp(p + 8 + strspn(p + 8, ": "), "true", 4) == 0)
				break;
		}
		if (res.errors > 0)
			break;
		op_done(t0);
	}
	close(fd);
	snprintf(buf, sizeof(buf), "status_polls=%llu", polls);
	return report(o, buf);
}

/* Mode spawn: posix_spawn + waitpid, -c children at once. */
static int run_spawn(const struct opts *o)
{
	char *argv[] = {(char *)o->req, NULL};
	uint64_t deadline;
	int running = 0;

	res.t_measure = bench_now_ns() + (uint64_t)(o->warmup * 1e9);
	deadline = res.t_measure + (uint64_t)(o->secs * 1e9);
	res.t_last = res.t_measure;
	for (;;) {
		int stopping = bench_now_ns() >= deadline || (o->count > 0 && res.ops >= o->count);
		while (!stopping && running < o->conns) {
			pid_t pid;
			if (posix_spawn(&pid, o->req, NULL, NULL, argv, environ) != 0) {
				res.errors++;
				break;
			}
			running++;
		}
		if (running == 0)
			break;
		int st;
		if (waitpid(-1, &st, 0) < 0)
			bench_die("waitpid");
		running--;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			res.errors++;
		op_done(0);
	}
	return report(o, NULL);
}

/* Reads one reply line (at most SIZE - 1 bytes) from blocking FD into
 * BUF, byte by byte so nothing after it is consumed. 0 or -1. */
static int read_line(int fd, char *buf, size_t size)
{
	size_t have = 0;

	while (have + 1 < size) {
		ssize_t r = recv(fd, buf + have, 1, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		if (buf[have++] == '\n')
			break;
	}
	buf[have] = '\0';
	return 0;
}

/* Prints the result line of a stream of BYTES moved in SECS; returns the
 * exit status. */
static int report_stream(const struct opts *o, unsigned long long bytes, double secs, const char *dir)
{
	printf("mode=stream dir=%s bytes=%llu errors=%llu secs=%.4f mib_per_s=%.1f\n", dir, bytes, res.errors, secs,
	       secs > 0 ? (double)bytes / 1048576.0 / secs : 0.0);
	fflush(stdout);
	(void)o;
	return res.errors > 0 ? 1 : 0;
}

/* Mode stream: one connection; the request -r (if given) must be answered
 * by a line starting with -e; then -b BYTES go up in -w CHUNK writes,
 * the sending side is shut, and the server's end of file ends the clock
 * (the service has read everything). -D: the bytes come down instead, as
 * the data lines ("D ...") of the reply, until its status line. */
static int run_stream(const struct opts *o)
{
	char line[1024];
	size_t chunk = o->chunk > 0 ? o->chunk : 1u << 20;
	char *buf = malloc(chunk < RBUF_SIZE ? RBUF_SIZE : chunk);
	unsigned long long moved = 0;
	int fd = open_conn(o, 0);
	uint64_t t0;

	if (buf == NULL)
		bench_die("malloc");
	if (fd < 0)
		bench_die("connect");
	if (o->req_set && !o->download) {
		if (send(fd, o->req, o->reqlen, MSG_NOSIGNAL) != (ssize_t)o->reqlen ||
		    read_line(fd, line, sizeof(line)) < 0 || strncmp(line, o->expect, strlen(o->expect)) != 0) {
			fprintf(stderr, "loadgen: stream: the request was not answered '%s...'\n", o->expect);
			res.errors++;
			return report_stream(o, 0, 0, "up");
		}
	}
	if (o->download) {
		/* Data lines until the status line; counts their payload bytes. */
		size_t have = 0, off;
		int at_line_start = 1, in_data = 0, done = 0;
		t0 = bench_now_ns();
		if (send(fd, o->req, o->reqlen, MSG_NOSIGNAL) != (ssize_t)o->reqlen)
			bench_die("send");
		while (!done) {
			ssize_t r = recv(fd, buf + have, chunk - have, 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				fprintf(stderr, "loadgen: stream: the reply ended without a status line\n");
				res.errors++;
				break;
			}
			have += (size_t)r;
			off = 0;
			while (off < have) {
				if (at_line_start) {
					if (have - off < 2 && buf[off] == 'D')
						break; /* wait for the byte after the D */
					in_data = buf[off] == 'D' && buf[off + 1] == ' ';
					if (!in_data) {
						/* The status line: complete it, then check it. */
						char *lf = memchr(buf + off, '\n', have - off);
						if (lf == NULL)
							break;
						*lf = '\0';
						if (strncmp(buf + off, o->expect, strlen(o->expect)) != 0) {
							fprintf(stderr, "loadgen: stream: status '%s'\n", buf + off);
							res.errors++;
						}
						done = 1;
						break;
					}
					off += 2;
					at_line_start = 0;
				}
				char *lf = memchr(buf + off, '\n', have - off);
				size_t n = lf != NULL ? (size_t)(lf - (buf + off)) : have - off;
				moved += n + (lf != NULL); /* the payload and its line end */
				off += n + (lf != NULL);
				at_line_start = lf != NULL;
			}
			memmove(buf, buf + off, have - off);
			have -= off;
		}
		double secs = (double)(bench_now_ns() - t0) / 1e9;
		close(fd);
		return report_stream(o, moved, secs, "down");
	}
	memset(buf, 'x', chunk);
	t0 = bench_now_ns();
	while (moved < o->bytes) {
		size_t n = o->bytes - moved < chunk ? (size_t)(o->bytes - moved) : chunk;
		ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			fprintf(stderr, "loadgen: stream: send: %s\n", strerror(errno));
			res.errors++;
			break;
		}
		moved += (unsigned long long)w;
	}
	shutdown(fd, SHUT_WR);
	for (;;) {
		ssize_t r = recv(fd, buf, chunk, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno != ECONNRESET)
			res.errors++;
		if (r <= 0)
			break;
	}
	double secs = (double)(bench_now_ns() - t0) / 1e9;
	close(fd);
	return report_stream(o, moved, secs, "up");
}

/* Receives one hand-off from udo-vsockd on the unix connection FD: the
 * header with the client's socket, then identity, words and pending
 * bytes (read and dropped). Returns the client's socket, or -1. */
static int recv_handoff(int fd)
{
	unsigned char hdr[40];
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {hdr, sizeof(hdr)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	int client = -1;

	if (recvmsg(fd, &msg, MSG_WAITALL | MSG_CMSG_CLOEXEC) != (ssize_t)sizeof(hdr))
		return -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(&client, CMSG_DATA(c), sizeof(int));
	if (client < 0 || memcmp(hdr, "UDOHOFF1", 8) != 0) {
		if (client >= 0)
			close(client);
		return -1;
	}
	/* Identity, words and pending bytes (offsets 24, 32, 36) follow. */
	uint32_t lens[3];
	memcpy(&lens[0], hdr + 24, 4);
	memcpy(&lens[1], hdr + 32, 4);
	memcpy(&lens[2], hdr + 36, 4);
	unsigned long long rest = (unsigned long long)lens[0] + lens[1] + lens[2];
	char skip[4096];
	while (rest > 0) {
		ssize_t r = recv(fd, skip, rest < sizeof(skip) ? rest : sizeof(skip), 0);
		if (r <= 0) {
			close(client);
			return -1;
		}
		rest -= (unsigned long long)r;
	}
	return client;
}

/* Mode sink: a server on ADDR that reads each connection until end of
 * file, then closes it; one connection at a time, until killed. -H: the
 * connections on ADDR (unix) are udo-vsockd's hand-offs; the handed-off
 * client is read instead. */
static int run_sink(const struct opts *o)
{
	int lfd = bench_listen(o->addr);
	size_t size = 1u << 20;
	char *buf = malloc(size);

	if (buf == NULL)
		bench_die("malloc");
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			bench_die("accept");
		}
		if (o->handoff) {
			int client = recv_handoff(fd);
			close(fd);
			if (client < 0) {
				fprintf(stderr, "loadgen: sink: a hand-off failed\n");
				continue;
			}
			fd = client;
		}
		while (recv(fd, buf, size, 0) > 0 || errno == EINTR)
			errno = 0;
		close(fd);
	}
	return 0;
}

/* Mode relay: the floor of a bridge. A server on ADDR that, for each
 * connection in turn, connects to -x TARGET and copies what the client
 * sends to it with blocking recv and send of 256 KiB, then passes the end
 * of stream on and waits for TARGET to close. One direction, no events:
 * the least work a byte relay can do. */
static int run_relay(const struct opts *o)
{
	struct sockaddr_storage ta;
	socklen_t tlen = bench_parse_addr(o->target, &ta);
	int lfd = bench_listen(o->addr);
	size_t size = 256u << 10;
	char *buf = malloc(size);

	if (buf == NULL)
		bench_die("malloc");
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			bench_die("accept");
		}
		int t = socket(ta.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (t < 0 || connect(t, (struct sockaddr *)&ta, tlen) < 0) {
			fprintf(stderr, "loadgen: relay: cannot reach %s: %s\n", o->target, strerror(errno));
			if (t >= 0)
				close(t);
			close(fd);
			continue;
		}
		ssize_t n;
		while ((n = recv(fd, buf, size, 0)) > 0 || (n < 0 && errno == EINTR)) {
			for (ssize_t off = 0; off < n;) {
				ssize_t w = send(t, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
				if (w <= 0 && errno != EINTR)
					break;
				off += w > 0 ? w : 0;
			}
		}
		shutdown(t, SHUT_WR);
		while (recv(t, buf, size, 0) > 0 || errno == EINTR)
			errno = 0;
		close(t);
		close(fd);
	}
	return 0;
}

/* Moves everything FROM sends to TO through PIPEFD with blocking
 * splice(2), up to FROM's end of stream. Returns 0, or -1 on an error. */
static int splice_all(int from, int to, const int pipefd[2], size_t size)
{
	for (;;) {
		ssize_t n = splice(from, NULL, pipefd[1], NULL, size, SPLICE_F_MOVE | SPLICE_F_MORE);
		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		while (n > 0) {
			ssize_t w = splice(pipefd[0], NULL, to, NULL, (size_t)n, SPLICE_F_MOVE | SPLICE_F_MORE);
			if (w <= 0) {
				if (w < 0 && errno == EINTR)
					continue;
				return -1;
			}
			n -= w;
		}
	}
}

/* Mode splice: relay's shape through a pipe. For each connection in
 * turn, connects to -x TARGET and splices what the client sends to it
 * through a pipe of 1 MiB (or the most /proc/sys/fs/pipe-max-size
 * allows), passes the end of stream on, then splices what TARGET sends
 * back to the client until TARGET closes. */
static int run_splice(const struct opts *o)
{
	struct sockaddr_storage ta;
	socklen_t tlen = bench_parse_addr(o->target, &ta);
	int lfd = bench_listen(o->addr);
	int pipefd[2];

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		bench_die("pipe2");
	int psize = fcntl(pipefd[1], F_SETPIPE_SZ, 1 << 20);
	if (psize < 0)
		psize = fcntl(pipefd[1], F_GETPIPE_SZ);
	if (psize <= 0)
		bench_die("F_GETPIPE_SZ");
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			bench_die("accept");
		}
		int t = socket(ta.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (t < 0 || connect(t, (struct sockaddr *)&ta, tlen) < 0) {
			fprintf(stderr, "loadgen: splice: cannot reach %s: %s\n", o->target, strerror(errno));
			if (t >= 0)
				close(t);
			close(fd);
			continue;
		}
		if (splice_all(fd, t, pipefd, (size_t)psize) < 0 ||
		    (shutdown(t, SHUT_WR) == 0 && splice_all(t, fd, pipefd, (size_t)psize) < 0)) {
			fprintf(stderr, "loadgen: splice: %s\n", strerror(errno));
			/* What a failed splice left in the pipe belongs to no one. */
			close(pipefd[0]);
			close(pipefd[1]);
			if (pipe2(pipefd, O_CLOEXEC) < 0)
				bench_die("pipe2");
			(void)fcntl(pipefd[1], F_SETPIPE_SZ, psize);
		}
		close(t);
		close(fd);
	}
	return 0;
}

/* Parses the command line and runs the mode. */
int main(int argc, char **argv)
{
	struct opts o = {.conns = 1, .depth = 1, .secs = 3, .warmup = 0.3, .expect = "OK"};
	struct rlimit rl;
	int opt;

	bench_name = "loadgen";

	o.reqlen = bench_unescape("PING 12345678\\n", o.req, sizeof(o.req));
	if (argc < 2) {
		fprintf(stderr,
		        "usage: loadgen rr|scale|connect|qga-exec|spawn|stream|sink|relay|splice [-c N] [-d N] [-t S] "
		        "[-W S] [-n N] [-r REQ] [-e PREFIX] [-o FILE] [-b BYTES] [-w CHUNK] [-D] [-H] [-x "
		        "TARGET] [ADDR]\n");
		return 2;
	}
	o.mode = argv[1];
	optind = 2;
	while ((opt = getopt(argc, argv, "c:d:t:W:n:r:e:o:s:b:w:DHx:")) != -1) {
		switch (opt) {
		case 'c':
			o.conns = atoi(optarg);
			break;
		case 'd':
			o.depth = atoi(optarg);
			break;
		case 't':
			o.secs = atof(optarg);
			break;
		case 'W':
			o.warmup = atof(optarg);
			break;
		case 'n':
			o.count = strtoull(optarg, NULL, 10);
			break;
		case 'r':
			o.reqlen = bench_unescape(optarg, o.req, sizeof(o.req));
			o.req_set = 1;
			break;
		case 'b':
			o.bytes = strtoull(optarg, NULL, 10);
			break;
		case 'w':
			o.chunk = (size_t)strtoull(optarg, NULL, 10);
			break;
		case 'D':
			o.download = 1;
			break;
		case 'H':
			o.handoff = 1;
			break;
		case 'x':
			o.target = optarg;
			break;
		case 'e':
			o.expect = optarg;
			break;
		case 'o':
			o.out = optarg;
			break;
		case 's':
			o.step = atoi(optarg);
			break;
		default:
			return 2;
		}
	}
	if (o.conns < 1 || o.depth < 1 || o.secs <= 0)
		bench_die("bad -c, -d or -t");
	o.addr = optind < argc ? argv[optind] : NULL;
	if (o.addr == NULL && strcmp(o.mode, "spawn") != 0)
		bench_die("an address is needed");
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	res.samples = malloc(MAX_SAMPLES * sizeof(uint32_t));
	if (res.samples == NULL)
		bench_die("malloc");
	/* A backstop against a server that hangs: the modes stop on their own earlier. */
	alarm((unsigned int)(o.warmup + o.secs) + 120);
	errno = 0;
	if (strcmp(o.mode, "rr") == 0)
		return run_rr(&o);
	if (strcmp(o.mode, "scale") == 0)
		return run_scale(&o);
	if (strcmp(o.mode, "connect") == 0)
		return run_connect(&o);
	if (strcmp(o.mode, "qga-exec") == 0)
		return run_qga_exec(&o);
	if (strcmp(o.mode, "spawn") == 0)
		return run_spawn(&o);
	if (strcmp(o.mode, "stream") == 0)
		return run_stream(&o);
	if (strcmp(o.mode, "sink") == 0 || strcmp(o.mode, "relay") == 0 || strcmp(o.mode, "splice") == 0) {
		alarm(0); /* it runs until killed */
		if (strcmp(o.mode, "sink") != 0 && o.target == NULL)
			bench_die("relay and splice need -x TARGET");
		if (strcmp(o.mode, "sink") == 0)
			return run_sink(&o);
		return strcmp(o.mode, "relay") == 0 ? run_relay(&o) : run_splice(&o);
	}
	bench_die("unknown mode");
	return 2;
}
