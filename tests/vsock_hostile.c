/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsock_hostile - the built udo-vsockd against hostile and heavy clients
 * over AF_VSOCK CID 1: malformed input, slowloris, fd exhaustion, signal
 * storms, load. Every case checks that a well-behaved client keeps its
 * answers and that the daemon's fds and children return to baseline. */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon-harness.h"

/* Slowloris shapes: connections, and how many of them trickle a byte a
 * second (the rest are silent): all trickling, and silent ones beside
 * tricklers, which idle-timeout must cut meanwhile. Over vsock (inside
 * user-mode Linux) 500, 250 and the 1,000 with 200 silent; over
 * unix sockets on this kernel (UDO_TEST_TRANSPORT=unix) the 1,000
 * both ways, which separates the daemon from user-mode Linux's vsock.
 * UDO_TEST_SLOWLORIS=CONNS/TRICKLING runs one shape of your own instead.
 *
 * 1000/800 failed every run until 2026-12-03, always at the first silent
 * connection, and was put down to the guest kernel's vsock. It failed the
 * same way over unix sockets on the host: the sweep, cutting at most 64
 * connections a loop turn, re-activated its persistent timer for the next
 * batch, and libevent then scheduled the timer's next run a period later
 * for each batch; 800 line-timeout cuts in 13 batches put the idle-timeout
 * cuts 6.5 s late, past the client's wait. With that fixed, 1000/800 and
 * 1000/1000 pass over vsock inside user-mode Linux too. */
#define SLOW_CONNS_MAX 1000
static const struct slow_shape {
	int conns, trickling;
} slow_shapes_vsock[] = {{500, 500}, {250, 200}, {1000, 800}}, slow_shapes_unix[] = {{1000, 1000}, {1000, 800}};
static const struct slow_shape *slow_shapes;
static struct slow_shape slow_custom;
/* The load case: 1,000 connections x 1,000 PINGs each. */
#define LOAD_CONNS 1000
#define LOAD_PINGS 1000

/* The daemon of the running test; one per test process. */
static struct daemon D;
/* Its fd count after a warm-up round trip. */
static int base_fds;

/* utime + stime of PID in milliseconds, or -1. */
static long long cpu_ms(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long long ut, st;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return -1;
	size_t got = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[got] = '\0';
	char *rp = strrchr(buf, ')');
	if (rp == NULL || sscanf(rp + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (long long)((ut + st) * 1000 / (unsigned long long)sysconf(_SC_CLK_TCK));
}

/* Sends "PING TOKEN" on C and asserts the exact reply within 5 s.
 * Returns the round trip in ms. */
static int probe(struct client *c, const char *token)
{
	char req[128], want[128], line[HARNESS_LINE_MAX];
	int64_t t0 = now_ms();

	snprintf(req, sizeof(req), "PING %s\n", token);
	snprintf(want, sizeof(want), "OK pong %s", token);
	client_send_str(c, req);
	int n = client_read_line(c, line, sizeof(line), 5000);
	ck_assert_msg(n >= 0, "probe %s: %s", token, n == -1 ? "no reply in 5 s" : "end of input");
	ck_assert_msg(strcmp(line, want) == 0, "probe %s: got '%s'", token, line);
	return (int)(now_ms() - t0);
}

/* Starts D with DAEMON_EXTRA (and OPTS) and a listen backlog of BACKLOG
 * (0: the default), then takes the fd baseline after a warm-up round trip
 * (the notify socket is open briefly after READY). */
static void start_backlog(const char *daemon_extra, const struct daemon_opts *opts, unsigned int backlog)
{
	struct client c;

	daemon_init(&D);
	D.backlog = backlog;
	daemon_write_config(&D, daemon_extra, NULL);
	ck_assert_msg(daemon_start(&D, opts, 10000) == 0, "udo-vsockd did not report READY=1 within 10 s");
	client_open(&c, D.port);
	probe(&c, "warm-up");
	client_close(&c);
	daemon_wait_idle(&D, 5000);
	base_fds = process_fd_count(D.pid);
	ck_assert_int_gt(base_fds, 0);
}

/* Starts D with DAEMON_EXTRA (and OPTS) and the default backlog. */
static void start(const char *daemon_extra, const struct daemon_opts *opts)
{
	start_backlog(daemon_extra, opts, 0);
}

/* Asserts that D's fds return to the baseline within 5 s and that it has
 * no children. */
static void expect_baseline(void)
{
	daemon_stat_close(&D);
	int fds = wait_fd_count(D.pid, base_fds, 5000);
	ck_assert_msg(fds == base_fds, "daemon has %d fds, %d before", fds, base_fds);
	ck_assert_int_eq(process_child_count(D.pid), 0);
}

/* Stops D with SIGTERM, expecting exit status 0 within 5 s, and cleans up. */
static void stop(void)
{
	int rc = daemon_stop(&D, 5000);

	ck_assert_msg(rc == 0, "udo-vsockd exit status %d after SIGTERM (-1: did not exit in 5 s)", rc);
	daemon_cleanup(&D);
}

/* Reads one line on C and asserts it is WANT (LEN bytes, may hold any byte). */
static void expect_bytes(struct client *c, const char *want, size_t len)
{
	char line[HARNESS_LINE_MAX];
	int n = client_read_line(c, line, sizeof(line), 5000);

	ck_assert_msg(n >= 0, "expected '%s', got %s", want, n == -1 ? "nothing in time" : "end of input");
	ck_assert_msg((size_t)n == len && memcmp(line, want, len) == 0, "got '%s', expected '%s'", line, want);
}

/* The batch "PING <PREFIX>-0\n" ... for N tokens; its length in *LEN. */
static char *ping_batch(const char *prefix, int n, size_t *len)
{
	size_t cap = (size_t)n * (strlen(prefix) + 20) + 1, off = 0;
	char *buf = malloc(cap);

	ck_assert_ptr_nonnull(buf);
	for (int i = 0; i < n; i++)
		off += (size_t)snprintf(buf + off, cap - off, "PING %s-%d\n", prefix, i);
	*len = off;
	return buf;
}

/* Reads replies on C to the batch PREFIX-0.. in order until N came, the
 * input ends or nothing comes for TIMEOUT_MS. Returns how many matched;
 * *BAD counts the wrong ones (no assertion per reply: UML is slow). */
static int read_pongs(struct client *c, const char *prefix, int n, int timeout_ms, int *bad)
{
	char line[HARNESS_LINE_MAX], want[128];
	int good = 0;

	*bad = 0;
	for (int i = 0; i < n; i++) {
		if (client_read_line(c, line, sizeof(line), timeout_ms) < 0)
			break;
		snprintf(want, sizeof(want), "OK pong %s-%d", prefix, i);
		if (strcmp(line, want) == 0)
			good++;
		else
			(*bad)++;
	}
	return good;
}

/* Malformed and odd input, each with its documented reply; a parallel
 * client is answered throughout. */
START_TEST(test_input_battery)
{
	struct client c, good;
	size_t big = 1 << 20;
	char *buf = malloc(big + 64);

	ck_assert_ptr_nonnull(buf);
	start("max-line-length = 65536", NULL);
	client_open(&good, D.port);

	/* 1 MiB of NUL bytes: no line end within the limit, so too-long. */
	client_open(&c, D.port);
	memset(buf, 0, big);
	(void)client_send(&c, buf, big, 3000); /* the daemon closes midway */
	client_expect_line(&c, "ERR too-long request longer than 65536 bytes; closing", 5000);
	ck_assert(client_wait_eof(&c, 3000));
	client_close(&c);
	probe(&good, "after-nul");

	client_open(&c, D.port);
	/* Invalid UTF-8 passes through byte-exact. */
	client_send_str(&c, "PING \xff\xfe\xc3\x28\xed\xa0\x80z\n");
	static const char utf8[] = "OK pong \xff\xfe\xc3\x28\xed\xa0\x80z";
	expect_bytes(&c, utf8, sizeof(utf8) - 1);
	/* A lone CR inside a line is a control character. */
	client_send_str(&c, "PING a\rb\n");
	client_expect_line(&c, "ERR syntax control character in request", 5000);
	/* 10,000 blanks then PING: within max-line-length, a normal request. */
	memset(buf, ' ', 10000);
	memcpy(buf + 10000, "PING blanks\n", 12);
	ck_assert_int_eq(client_send(&c, buf, 10012, 5000), 10012);
	client_expect_line(&c, "OK pong blanks", 5000);
	/* 10,000 empty lines get no reply at all. */
	memset(buf, '\n', 10000);
	ck_assert_int_eq(client_send(&c, buf, 10000, 5000), 10000);
	probe(&c, "after-empty-lines");
	/* 10,000 words (20,000 bytes, within the limit): too many arguments. */
	memcpy(buf, "PING", 4);
	for (int i = 1; i < 10000; i++)
		memcpy(buf + 2 * i + 2, " a", 2);
	buf[20000] = '\n';
	ck_assert_int_eq(client_send(&c, buf, 20001, 5000), 20001);
	client_expect_line(&c, "ERR usage too many arguments", 5000);
	probe(&c, "after-args");
	client_close(&c);
	probe(&good, "after-battery");

	/* Whatever follows QUIT, even 64 KiB of junk, is never answered. */
	client_open(&c, D.port);
	memcpy(buf, "QUIT\n", 5);
	for (int i = 5; i < 65536; i++)
		buf[i] = (char)(i % 7 == 0 ? '\n' : i % 251);
	(void)client_send(&c, buf, 65536, 3000);
	client_expect_line(&c, "OK bye", 5000);
	ck_assert(client_wait_eof(&c, 3000));
	client_close(&c);

	/* Half-closed after 2,000 pipelined PINGs: all answered, then EOF. */
	client_open(&c, D.port);
	size_t len;
	char *batch = ping_batch("half", 2000, &len);
	ck_assert_int_eq(client_send(&c, batch, len, 5000), (ssize_t)len);
	free(batch);
	ck_assert_int_eq(shutdown(c.fd, SHUT_WR), 0);
	int bad, got = read_pongs(&c, "half", 2000, 5000, &bad);
	ck_assert_msg(got == 2000 && bad == 0, "half-closed: %d right, %d wrong of 2000", got, bad);
	ck_assert(client_wait_eof(&c, 3000));
	client_close(&c);

	probe(&good, "end");
	client_close(&good);
	free(buf);
	expect_baseline();
	stop();
}
END_TEST

/* 100,000 pipelined PINGs with unique tokens, written by a child while
 * the parent reads: every one answered, in order. */
START_TEST(test_pipeline_100k)
{
	const int n = 100000;
	struct client c, good;
	size_t len;

	start(NULL, NULL);
	client_open(&good, D.port);
	client_open(&c, D.port);
	char *batch = ping_batch("p", n, &len);
	int64_t t0 = now_ms();
	pid_t writer = fork();
	ck_assert_int_ge(writer, 0);
	if (writer == 0)
		_exit(client_send(&c, batch, len, 60000) == (ssize_t)len ? 0 : 1);
	free(batch);
	int bad, got = read_pongs(&c, "p", n, 10000, &bad);
	int64_t took = now_ms() - t0;
	int status;
	ck_assert_int_eq(waitpid(writer, &status, 0), writer);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the writer did not send everything");
	printf("pipeline: %d of %d replies right, %d wrong, in %lld ms\n", got, n, bad, (long long)took);
	ck_assert_msg(got == n && bad == 0, "%d right, %d wrong of %d", got, bad, n);
	ck_assert(client_silent_for(&c, 100));
	client_close(&c);
	probe(&good, "after-pipeline");
	client_close(&good);
	expect_baseline();
	stop();
}
END_TEST

/* Sorts ints ascending (qsort). */
static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Slowloris, one shape per loop iteration (slow_shapes, or
 * UDO_TEST_SLOWLORIS): slow_conns clients; slow_trickle of them trickle a
 * byte a second each (line-timeout cuts them), the rest never send
 * (idle-timeout cuts them), while a well-behaved client keeps a low
 * latency. */
START_TEST(test_slowloris)
{
	static struct client slow[SLOW_CONNS_MAX];
	const struct slow_shape *shape = slow_custom.conns > 0 ? &slow_custom : &slow_shapes[_i];
	int slow_conns = shape->conns, slow_trickle = shape->trickling;
	struct client good;
	const char *line = "PING slowly-never-finished\n";
	int lat[256], nlat = 0;
	char token[32], got[HARNESS_LINE_MAX];

	need_nofile((unsigned int)slow_conns + 64);
	/* The connects come faster than the daemon may get to accept them,
	 * and vsock resets a connect to a full accept queue (no SYN retry). */
	start_backlog("line-timeout = 2s\nidle-timeout = 3s\nmax-connections-per-peer = 1100", NULL,
	              (unsigned int)slow_conns + 64);
	/* A trickler sends its first byte at once, so none is idle for long. */
	for (int i = 0; i < slow_conns; i++) {
		client_open(&slow[i], D.port);
		if (i < slow_trickle)
			(void)send(slow[i].fd, line, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	client_open(&good, D.port);
	int64_t t0 = now_ms();
	/* 5 s: a byte a second each, a probe every ~100 ms in between. */
	for (int sec = 0; sec < 5; sec++) {
		for (int i = 0; i < slow_trickle; i++)
			(void)send(slow[i].fd, line + 1 + sec, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		while (now_ms() < t0 + (sec + 1) * 1000 && nlat < 256) {
			snprintf(token, sizeof(token), "t%d", nlat);
			lat[nlat++] = probe(&good, token);
			sleep_ms(100); /* a pace: slowloris bytes 1/s, probes every ~100 ms */
		}
	}
	int cut = 0, idle = 0, other = 0;
	for (int i = 0; i < slow_conns; i++) {
		int n = client_read_line(&slow[i], got, sizeof(got), 2000);
		const char *want = i < slow_trickle ? "ERR timeout request line not completed in 2000 ms"
		                                    : "ERR timeout idle connection closed";
		if (n >= 0 && strcmp(got, want) == 0 && client_wait_eof(&slow[i], 2000))
			*(i < slow_trickle ? &cut : &idle) += 1;
		else if (other++ < 5)
			printf("slowloris: connection %d: %s '%s'\n", i, n >= 0 ? "got" : "no line; wanted",
			       n >= 0 ? got : want);
		client_close(&slow[i]);
	}
	qsort(lat, (size_t)nlat, sizeof(lat[0]), cmp_int);
	printf("slowloris: %d connections, %d of %d cut by line-timeout, %d of %d by idle-timeout, %d not; "
	       "probe p50 %d ms, max %d ms over %d PINGs in %lld ms\n",
	       slow_conns, cut, slow_trickle, idle, slow_conns - slow_trickle, other, lat[nlat / 2], lat[nlat - 1],
	       nlat, (long long)(now_ms() - t0));
	fflush(stdout); /* a failed check ends this process without flushing */
	ck_assert_msg(cut == slow_trickle && idle == slow_conns - slow_trickle, "%d and %d of %d and %d were cut", cut,
	              idle, slow_trickle, slow_conns - slow_trickle);
	ck_assert_msg(lat[nlat - 1] < 500, "probe max latency %d ms", lat[nlat - 1]);
	probe(&good, "after-slowloris");
	client_close(&good);
	expect_baseline();
	stop();
}
END_TEST

/* Load with accounting: LOAD_CONNS connections x LOAD_PINGS PINGs with
 * unique tokens; not one reply lost or misrouted. */
START_TEST(test_load)
{
	static struct client cs[LOAD_CONNS];
	struct client good;
	char prefix[16];
	size_t len;
	int total = 0, wrong = 0;

	need_nofile((unsigned int)LOAD_CONNS + 64);
	start_backlog("max-connections-per-peer = 1100", NULL, (unsigned int)LOAD_CONNS + 64);
	client_open(&good, D.port);
	for (int i = 0; i < LOAD_CONNS; i++)
		client_open(&cs[i], D.port);
	int64_t t0 = now_ms();
	/* About 20 KB each way per connection: fits the socket buffers. */
	for (int i = 0; i < LOAD_CONNS; i++) {
		snprintf(prefix, sizeof(prefix), "c%d", i);
		char *batch = ping_batch(prefix, LOAD_PINGS, &len);
		ck_assert_int_eq(client_send(&cs[i], batch, len, 10000), (ssize_t)len);
		free(batch);
	}
	int lat = probe(&good, "under-load");
	for (int i = 0; i < LOAD_CONNS; i++) {
		int bad;
		snprintf(prefix, sizeof(prefix), "c%d", i);
		total += read_pongs(&cs[i], prefix, LOAD_PINGS, 10000, &bad);
		wrong += bad;
		client_close(&cs[i]);
	}
	printf("load: %d connections x %d PINGs: %d right, %d wrong, %lld ms; probe under load %d ms\n", LOAD_CONNS,
	       LOAD_PINGS, total, wrong, (long long)(now_ms() - t0), lat);
	ck_assert_msg(total == LOAD_CONNS * LOAD_PINGS && wrong == 0, "%d right, %d wrong", total, wrong);
	probe(&good, "after-load");
	client_close(&good);
	expect_baseline();
	stop();
}
END_TEST

/* fd exhaustion: with RLIMIT_NOFILE 32 the daemon pauses accepting
 * instead of spinning, keeps serving its connections, and accepts again
 * once some close. */
START_TEST(test_fd_exhaustion)
{
	static struct client cs[64];
	struct daemon_opts opts = {.listen_fd = -1, .nofile = 32};
	char line[HARNESS_LINE_MAX];
	int opened = 0, answered = 0;

	start("accept-pause = 500ms", &opts);
	/* Open until one is not answered: the daemon is out of fds. */
	while (opened < 64) {
		ck_assert_int_eq(client_try_open(&cs[opened], D.port), 0);
		client_send_str(&cs[opened++], "PING waiting\n");
		if (client_read_line(&cs[opened - 1], line, sizeof(line), 1000) < 0)
			break;
		ck_assert_str_eq(line, "OK pong waiting");
		answered++;
	}
	ck_assert_msg(answered < opened && answered > 5, "%d of %d answered: no EMFILE pause", answered, opened);
	/* Paused: the daemon must not busy-loop on accept. */
	long long c0 = cpu_ms(D.pid);
	int64_t t0 = now_ms();
	probe(&cs[answered - 1], "while-paused");
	sleep_ms(2000); /* a measurement: CPU used over 2 s while paused */
	long long used = cpu_ms(D.pid) - c0, wall = now_ms() - t0;
	printf("fd exhaustion: %d connections answered, the next waits; daemon CPU %lld ms in %lld ms paused\n",
	       answered, used, wall);
	ck_assert_msg(c0 >= 0 && used * 5 < wall, "daemon used %lld ms CPU in %lld ms while paused", used, wall);
	/* Closing some lets the waiting one in, and it gets its answer. */
	for (int i = 0; i < 5; i++)
		client_close(&cs[i]);
	int n = client_read_line(&cs[opened - 1], line, sizeof(line), 5000);
	ck_assert_msg(n >= 0, "the waiting connection was never answered (%d)", n);
	ck_assert_str_eq(line, "OK pong waiting");
	probe(&cs[answered - 1], "after-resume");
	for (int i = 5; i < opened; i++)
		client_close(&cs[i]);
	expect_baseline();
	stop();
}
END_TEST

/* 50 SIGHUPs while 5 clients pipeline PINGs: every reply right and in
 * order, and one READY=1 per RELOADING=1 (signals may coalesce). */
START_TEST(test_sighup_storm)
{
	struct client cs[5];
	char buf[2048], prefix[16];
	const int rounds = 50, per = 40;

	start(NULL, NULL);
	for (int i = 0; i < 5; i++)
		client_open(&cs[i], D.port);
	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < 5; i++) {
			size_t off = 0;
			for (int k = 0; k < per; k++)
				off += (size_t)snprintf(buf + off, sizeof(buf) - off, "PING h%d-%d\n", i, r * per + k);
			ck_assert_int_eq(client_send(&cs[i], buf, off, 5000), (ssize_t)off);
		}
		daemon_signal(&D, SIGHUP);
		daemon_collect_notify(&D, 10); /* also drains the notify socket */
	}
	int total = 0, wrong = 0;
	for (int i = 0; i < 5; i++) {
		int bad;
		snprintf(prefix, sizeof(prefix), "h%d", i);
		total += read_pongs(&cs[i], prefix, rounds * per, 10000, &bad);
		wrong += bad;
		probe(&cs[i], "after-storm");
		client_close(&cs[i]);
	}
	ck_assert(daemon_alive(&D));
	daemon_collect_notify(&D, 300);
	int reloading = daemon_count_notify(&D, "RELOADING=1"), ready = daemon_count_notify(&D, "READY=1");
	printf("sighup storm: %d SIGHUPs, %d RELOADING=1, %d READY=1; %d replies right, %d wrong\n", rounds, reloading,
	       ready, total, wrong);
	ck_assert_msg(total == 5 * rounds * per && wrong == 0, "%d right, %d wrong", total, wrong);
	ck_assert_msg(reloading >= 1 && reloading <= rounds, "%d RELOADING=1", reloading);
	ck_assert_msg(ready == reloading + 1, "%d READY=1 for %d RELOADING=1", ready, reloading);
	expect_baseline();
	stop();
}
END_TEST

/* SIGTERM with pipelined work outstanding on 10 clients: each gets whole
 * reply lines, in order, then EOF; the daemon exits 0 within the grace. */
START_TEST(test_sigterm_load)
{
	struct client cs[10];
	char prefix[16], line[HARNESS_LINE_MAX], want[64];
	size_t len;
	int total = 0, wrong = 0, partial = 0, stuck = 0;

	start("shutdown-grace = 10s", NULL);
	for (int i = 0; i < 10; i++) {
		client_open(&cs[i], D.port);
		snprintf(prefix, sizeof(prefix), "s%d", i);
		char *batch = ping_batch(prefix, 2000, &len);
		ck_assert_int_eq(client_send(&cs[i], batch, len, 5000), (ssize_t)len);
		free(batch);
	}
	int64_t t0 = now_ms();
	daemon_signal(&D, SIGTERM);
	for (int i = 0; i < 10; i++) {
		for (int k = 0;; k++) {
			int r = client_read_line(&cs[i], line, sizeof(line), 5000);
			if (r == -2)
				break;
			if (r < 0) {
				stuck++;
				break;
			}
			snprintf(want, sizeof(want), "OK pong s%d-%d", i, k);
			if (strcmp(line, want) == 0)
				total++;
			else
				wrong++;
		}
		partial += cs[i].len != 0;
		client_close(&cs[i]);
	}
	int rc = daemon_wait_exit(&D, 10000);
	printf("sigterm under load: %d replies of %d asked, %d wrong, %d cut lines, %d stuck; exit %d after %lld "
	       "ms\n",
	       total, 10 * 2000, wrong, partial, stuck, rc, (long long)(now_ms() - t0));
	ck_assert_msg(wrong == 0 && partial == 0 && stuck == 0, "%d wrong, %d cut, %d stuck", wrong, partial, stuck);
	ck_assert_msg(rc == 0, "exit status %d (-1: not within 10 s)", rc);
	daemon_cleanup(&D);
}
END_TEST

/* The reloads counter in D's STATS reply, read on C. */
static long stats_reloads(struct client *c)
{
	struct reply r;

	client_request(c, "STATS", &r, 5000);
	const char *v = reply_value(&r, "reloads");
	ck_assert_msg(v != NULL, "STATS has no reloads= line");
	return atol(v);
}

/* A service manager that does not read its notify socket (whose queue
 * holds 10 datagrams): 12 reloads, 24 messages and more, while clients
 * are answered throughout; once it reads, every message comes, in order. */
START_TEST(test_notify_not_read)
{
	const int reloads = 12;
	struct client c;
	char token[32];

	start(NULL, NULL); /* READY=1 read; from here on nobody reads */
	client_open(&c, D.port);
	for (int i = 1; i <= reloads; i++) {
		daemon_signal(&D, SIGHUP);
		int64_t deadline = now_ms() + 5000;
		while (stats_reloads(&c) < i && now_ms() < deadline)
			sleep_ms(20); /* poll interval */
		ck_assert_msg(stats_reloads(&c) == i, "reload %d not done within 5 s", i);
		snprintf(token, sizeof(token), "reload-%d", i);
		probe(&c, token);
	}
	/* Now read: what waited in the daemon arrives. */
	daemon_collect_notify(&D, 1000);
	int reloading = daemon_count_notify(&D, "RELOADING=1"), ready = daemon_count_notify(&D, "READY=1");
	printf("notify not read: %d reloads answered; then %d RELOADING=1, %d READY=1 in %d messages\n", reloads,
	       reloading, ready, D.nnotes);
	ck_assert_msg(reloading == reloads && ready == reloads + 1, "%d RELOADING=1, %d READY=1 for %d reloads",
	              reloading, ready, reloads);
	/* In order: READY=1 first, then RELOADING=1 and READY=1 in turn. */
	int want_ready = 1;
	for (int i = 0; i < D.nnotes; i++) {
		int is_reloading = strstr(D.notes[i], "RELOADING=1") != NULL;
		int is_ready = strstr(D.notes[i], "READY=1") != NULL;
		if (!is_reloading && !is_ready)
			continue;
		ck_assert_msg(is_ready == want_ready, "notify message %d out of order: %s", i, D.notes[i]);
		want_ready = !want_ready;
	}
	probe(&c, "after-reading");
	client_close(&c);
	expect_baseline();
	stop();
}
END_TEST

/* The suite. */
static Suite *hostile_suite(void)
{
	Suite *s = suite_create("hostile");
	TCase *tc = tcase_create("input");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_input_battery);
	tcase_add_test(tc, test_pipeline_100k);
	suite_add_tcase(s, tc);
	tc = tcase_create("load");
	const char *shape = getenv("UDO_TEST_SLOWLORIS");
	slow_shapes = test_transport_unix() ? slow_shapes_unix : slow_shapes_vsock;
	int n_shapes = test_transport_unix() ? (int)(sizeof(slow_shapes_unix) / sizeof(slow_shapes_unix[0]))
	                                     : (int)(sizeof(slow_shapes_vsock) / sizeof(slow_shapes_vsock[0]));
	if (shape != NULL) {
		if (sscanf(shape, "%d/%d", &slow_custom.conns, &slow_custom.trickling) != 2 || slow_custom.conns < 1 ||
		    slow_custom.conns > SLOW_CONNS_MAX || slow_custom.trickling < 0 ||
		    slow_custom.trickling > slow_custom.conns) {
			fprintf(stderr, "UDO_TEST_SLOWLORIS=%s: want CONNS/TRICKLING, 0 <= TRICKLING <= CONNS <= %d\n",
			        shape, SLOW_CONNS_MAX);
			exit(EXIT_FAILURE);
		}
		n_shapes = 1;
	}
	/* Inside user-mode Linux under a parallel make check: about 20 s for
	 * the load, 10 s for each slowloris shape. */
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_slowloris, 0, n_shapes);
	tcase_add_test(tc, test_load);
	suite_add_tcase(s, tc);
	tc = tcase_create("process");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_fd_exhaustion);
	tcase_add_test(tc, test_sighup_storm);
	tcase_add_test(tc, test_sigterm_load);
	tcase_add_test(tc, test_notify_not_read);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(hostile_suite());

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
