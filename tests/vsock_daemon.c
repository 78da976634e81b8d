/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsock_daemon - the built udo-vsockd as a real process: protocol over
 * AF_VSOCK CID 1, limits, signals, sd_notify, socket activation. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timex.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "daemon-harness.h"

/* The daemon of the running test; one per test process. */
static struct daemon D;

/* Starts D with the harness config plus DAEMON_EXTRA and SECTIONS. */
static void start(const char *daemon_extra, const char *sections, const struct daemon_opts *opts)
{
	daemon_init(&D);
	daemon_write_config(&D, daemon_extra, sections);
	ck_assert_msg(daemon_start(&D, opts, 10000) == 0, "udo-vsockd did not report READY=1 within 10 s");
}

/* Stops D with SIGTERM, expecting exit status 0 within 5 s, and cleans up. */
static void stop(void)
{
	int rc = daemon_stop(&D, 5000);

	ck_assert_msg(rc == 0, "udo-vsockd exit status %d after SIGTERM (-1: did not exit in 5 s)", rc);
	daemon_cleanup(&D);
}

/* Sends LINE and asserts the status line equals WANT, with no data lines. */
static void expect_status(struct client *c, const char *line, const char *want)
{
	struct reply r;

	client_request(c, line, &r, 5000);
	ck_assert_msg(strcmp(r.status, want) == 0, "'%s': got '%s', expected '%s'", line, r.status, want);
	ck_assert_msg(r.ndata == 0, "'%s': %d unexpected data lines", line, r.ndata);
}

/* Sends LINE and asserts the status line starts with PREFIX. */
static void expect_prefix(struct client *c, const char *line, const char *prefix)
{
	struct reply r;

	client_request(c, line, &r, 5000);
	ck_assert_msg(strncmp(r.status, prefix, strlen(prefix)) == 0, "'%s': got '%s', expected '%s...'", line,
	              r.status, prefix);
}

/* True if R has the data line LINE. */
static int has_data(const struct reply *r, const char *line)
{
	for (int i = 0; i < r->ndata && i < HARNESS_REPLY_DATA_MAX; i++) {
		if (strcmp(r->data[i], line) == 0)
			return 1;
	}
	return 0;
}

/* A STATS counter, read over C. */
static long long stat_value(struct client *c, const char *key)
{
	struct reply r;

	client_request(c, "STATS", &r, 5000);
	ck_assert_str_eq(r.status, "OK");
	long long v = reply_number(&r, key);
	ck_assert_msg(v >= 0, "STATS has no %s", key);
	return v;
}

/* PING, HELP, VERSION, WHOAMI, STATS and QUIT answer as documented. */
START_TEST(test_builtins)
{
	TEST_VSOCK_ONLY(); /* WHOAMI shows the CID and port */
	struct client c;
	struct reply r;
	char want[128];

	start(NULL, NULL, NULL);
	client_open(&c, D.port);

	expect_status(&c, "PING", "OK pong");
	expect_status(&c, "PING tok-1", "OK pong tok-1");

	client_request(&c, "HELP", &r, 5000);
	ck_assert_str_eq(r.status, "OK");
	ck_assert_int_eq(r.ndata, 6);
	ck_assert_str_eq(r.data[0], "ping [TOKEN] - check that the daemon answers; echoes TOKEN");
	ck_assert_str_eq(r.data[1], "help - list the commands you may run");
	ck_assert_str_eq(r.data[2], "version - show the daemon and protocol versions");
	ck_assert_str_eq(r.data[3], "whoami - show your identity as the daemon sees it");
	ck_assert_str_eq(r.data[4], "stats - show connection and command counters");
	ck_assert_str_eq(r.data[5], "quit - close this connection");

	client_request(&c, "VERSION", &r, 5000);
	ck_assert_str_eq(r.status, "OK");
	ck_assert_int_eq(r.ndata, 2);
	ck_assert_str_eq(r.data[0], "version=" PACKAGE_VERSION);
	ck_assert_str_eq(r.data[1], "protocol=1");

	struct sockaddr_vm self;
	socklen_t len = sizeof(self);
	ck_assert_int_eq(getsockname(c.fd, (struct sockaddr *)&self, &len), 0);
	client_request(&c, "WHOAMI", &r, 5000);
	ck_assert_str_eq(r.status, "OK");
	ck_assert_int_eq(r.ndata, 4);
	ck_assert_str_eq(r.data[0], "transport=vsock");
	ck_assert_str_eq(r.data[1], "cid=1");
	snprintf(want, sizeof(want), "port=%u", self.svm_port);
	ck_assert_str_eq(r.data[2], want);
	snprintf(want, sizeof(want), "listener=vsock:any:%u", D.port);
	ck_assert_str_eq(r.data[3], want);

	client_request(&c, "STATS", &r, 5000);
	ck_assert_str_eq(r.status, "OK");
	static const char *const keys[] = {
	    "connections", "connections_total", "connections_rejected", "commands", "errors", "reloads", "uptime"};
	ck_assert_int_eq(r.ndata, 7);
	for (size_t i = 0; i < 7; i++)
		ck_assert_msg(reply_number(&r, keys[i]) >= 0, "STATS lacks %s", keys[i]);
	ck_assert_int_eq(reply_number(&r, "connections"), 1);
	ck_assert_int_eq(reply_number(&r, "connections_total"), 1);
	ck_assert_int_eq(reply_number(&r, "commands"), 6); /* this STATS included */
	ck_assert_int_eq(reply_number(&r, "errors"), 0);
	ck_assert_int_eq(reply_number(&r, "reloads"), 0);
	ck_assert_int_eq(stat_value(&c, "commands"), 7);

	expect_status(&c, "QUIT", "OK bye");
	ck_assert_msg(client_wait_eof(&c, 3000), "no end of input after QUIT");
	client_close(&c);
	stop();
}
END_TEST

/* The status line of TIME at an instant SEC.NSEC with sync word SYNC
 * (blank first, or ""), formatted independently of the daemon. */
static void time_status(long long sec, long nsec, const char *sync, char *out, size_t size)
{
	time_t t = (time_t)sec;
	struct tm tm;
	char stamp[40];

	ck_assert_ptr_nonnull(gmtime_r(&t, &tm));
	ck_assert_uint_ne(strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm), 0);
	snprintf(out, size, "OK %lld.%09ld %s.%09ldZ%s", sec, nsec, stamp, nsec, sync);
}

/* The kernel's sync state as TIME words it, read by the test itself:
 * the daemon under test runs with the same rights. */
static const char *test_sync_state(void)
{
	struct timex tx = {.modes = 0};
	int rc = adjtimex(&tx);

	if (rc == -1)
		return "";
	return rc == TIME_ERROR || (tx.status & STA_UNSYNC) ? " unsynced" : " synced";
}

/* TIME: the daemon host's CLOCK_REALTIME as Unix seconds with nine
 * digits of nanoseconds, the same instant in RFC 3339 UTC, and the
 * kernel's sync state if it may ask; within a second of the test's own
 * clock. */
START_TEST(test_time)
{
	struct client c;
	struct reply r;
	struct timespec before, after;
	long long sec = 0;
	long nsec = 0;
	char want[128];

	start(NULL, "[command time]\nhandler = time\n", NULL);
	client_open(&c, D.port);

	client_request(&c, "HELP", &r, 5000);
	ck_assert_int_eq(r.ndata, 7);
	ck_assert_str_eq(r.data[6],
	                 "time - show this machine's clock (Unix time, UTC) and, if known, whether it is synced");

	ck_assert_int_eq(clock_gettime(CLOCK_REALTIME, &before), 0);
	client_request(&c, "TIME", &r, 5000);
	ck_assert_int_eq(clock_gettime(CLOCK_REALTIME, &after), 0);
	ck_assert_int_eq(r.ndata, 0);
	ck_assert_msg(sscanf(r.status, "OK %lld.%ld ", &sec, &nsec) == 2 && nsec >= 0 && nsec < 1000000000L,
	              "TIME: '%s'", r.status);
	time_status(sec, nsec, test_sync_state(), want, sizeof(want));
	ck_assert_msg(strcmp(r.status, want) == 0, "TIME: got '%s', expected '%s'", r.status, want);
	long long t = sec * 1000000000LL + nsec;
	long long lo = (long long)before.tv_sec * 1000000000LL + before.tv_nsec - 1000000000LL;
	long long hi = (long long)after.tv_sec * 1000000000LL + after.tv_nsec + 1000000000LL;
	ck_assert_msg(t >= lo && t <= hi, "TIME %lld.%09ld is not within a second of %lld.%09ld..%lld.%09ld", sec, nsec,
	              (long long)before.tv_sec, before.tv_nsec, (long long)after.tv_sec, after.tv_nsec);

	expect_status(&c, "TIME now", "ERR usage usage: time");
	client_close(&c);
	stop();
}
END_TEST

/* Errors: unknown, usage, syntax, too many words, denied; the connection survives them. */
START_TEST(test_errors)
{
	struct client c;
	struct reply r;

	start("max-arguments = 4", "[command secret]\nhandler = version\ndeny = any\n", NULL);
	client_open(&c, D.port);

	expect_prefix(&c, "FROB", "ERR unknown-command ");
	expect_status(&c, "PING a b", "ERR usage usage: ping [TOKEN]");
	expect_status(&c, "HELP me", "ERR usage usage: help");
	expect_prefix(&c, "PING \x01", "ERR syntax ");
	expect_prefix(&c, "PING \"open", "ERR syntax ");
	expect_prefix(&c, "PING a\rb", "ERR syntax ");
	expect_prefix(&c, "PING 1 2 3 4", "ERR usage ");
	expect_prefix(&c, "SECRET", "ERR denied ");
	/* Case-insensitive commands, quoting, escapes. */
	expect_status(&c, "pInG ToK", "OK pong ToK");
	expect_status(&c, "PING \"a b\"", "OK pong a b");
	expect_status(&c, "PING \"say \\\"hi\\\"\"", "OK pong say \"hi\"");
	/* Blank lines get no reply: the next reply is PING's. */
	client_send_str(&c, "\n   \n\t\n");
	expect_status(&c, "PING after-blanks", "OK pong after-blanks");

	/* HELP hides the denied command. */
	client_request(&c, "HELP", &r, 5000);
	ck_assert_int_eq(r.ndata, 6);
	for (int i = 0; i < r.ndata; i++)
		ck_assert_msg(strncmp(r.data[i], "secret", 6) != 0, "HELP lists a denied command");
	ck_assert_int_eq(stat_value(&c, "errors"), 8);
	client_close(&c);
	stop();
}
END_TEST

/* A long token comes back whole in the status line. */
START_TEST(test_long_token)
{
	struct client c;
	struct reply r;
	char line[2100], want[2200];

	start(NULL, NULL, NULL);
	client_open(&c, D.port);
	memcpy(line, "PING ", 5);
	for (int i = 0; i < 2000; i++)
		line[5 + i] = (char)('a' + i % 26);
	line[2005] = '\0';
	snprintf(want, sizeof(want), "OK pong %s", line + 5);
	client_request(&c, line, &r, 5000);
	/* Short messages: Check cannot carry kilobytes of them. */
	ck_assert_msg(strlen(r.status) == strlen(want), "2000-byte token: reply of %zu bytes, expected %zu",
	              strlen(r.status), strlen(want));
	ck_assert_msg(strcmp(r.status, want) == 0, "2000-byte token: the reply differs");
	client_close(&c);
	stop();
}
END_TEST

/* LF and CRLF line ends both work, mixed in one write. */
START_TEST(test_crlf)
{
	struct client c;

	start(NULL, NULL, NULL);
	client_open(&c, D.port);
	client_send_str(&c, "PING a\r\nPING b\nPING c\r\n\r\nPING d\n");
	client_expect_line(&c, "OK pong a", 5000);
	client_expect_line(&c, "OK pong b", 5000);
	client_expect_line(&c, "OK pong c", 5000);
	client_expect_line(&c, "OK pong d", 5000);
	ck_assert(client_silent_for(&c, 100));
	client_close(&c);
	stop();
}
END_TEST

/* The last line may lack its LF when the client shuts down its side. */
START_TEST(test_half_close)
{
	struct client c;

	start(NULL, NULL, NULL);
	client_open(&c, D.port);
	client_send_str(&c, "PING one\nPING two");
	ck_assert_int_eq(shutdown(c.fd, SHUT_WR), 0);
	client_expect_line(&c, "OK pong one", 5000);
	client_expect_line(&c, "OK pong two", 5000);
	ck_assert(client_wait_eof(&c, 3000));
	client_close(&c);
	stop();
}
END_TEST

/* A 1 MiB line without LF: ERR too-long, then EOF; memory stays bounded. */
START_TEST(test_too_long)
{
	const size_t total = 1 << 20;
	struct client c, other;
	char line[HARNESS_LINE_MAX];

	start(NULL, NULL, NULL);
	client_open(&c, D.port);
	expect_status(&c, "PING warm", "OK pong warm");
	long before = process_rss_kib(D.pid);
	ck_assert_int_gt(before, 0);

	char *big = malloc(total);
	ck_assert_ptr_nonnull(big);
	memset(big, 'A', total);
	size_t sent = 0;
	int64_t deadline = now_ms() + 20000;
	int got = -1;
	/* Send while reading, so neither side blocks the other. */
	while (now_ms() < deadline) {
		if (sent < total) {
			ssize_t n = send(c.fd, big + sent, total - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
			else if (n < 0 && errno != EAGAIN && errno != EINTR)
				sent = total; /* the daemon closed: stop sending */
		}
		got = client_read_line(&c, line, sizeof(line), 20);
		if (got != -1)
			break;
	}
	free(big);
	ck_assert_msg(got >= 0, "no reply to the over-long line (%d, sent %zu bytes)", got, sent);
	ck_assert_str_eq(line, "ERR too-long request longer than 4096 bytes; closing");
	ck_assert_msg(client_wait_eof(&c, 5000), "no end of input after ERR too-long");
	client_close(&c);

	long after = process_rss_kib(D.pid);
	ck_assert_msg(after > 0 && after - before < 8192, "RSS grew from %ld to %ld KiB", before, after);
	/* A line just over the limit, LF included, is refused the same way. */
	client_open(&other, D.port);
	char *over = malloc(5000);
	ck_assert_ptr_nonnull(over);
	memset(over, 'B', 4097);
	strcpy(over + 4097, "\n");
	client_send_str(&other, over);
	free(over);
	client_expect_line(&other, "ERR too-long request longer than 4096 bytes; closing", 5000);
	ck_assert(client_wait_eof(&other, 5000));
	client_close(&other);
	/* Exactly the limit is fine. */
	client_open(&other, D.port);
	char *exact = malloc(4200);
	ck_assert_ptr_nonnull(exact);
	memcpy(exact, "PING ", 5);
	memset(exact + 5, 'C', 4091);
	strcpy(exact + 4096, "\r\n");
	client_send_str(&other, exact);
	free(exact);
	struct reply r;
	ck_assert_int_eq(client_read_reply(&other, &r, 5000), 0);
	ck_assert_msg(strncmp(r.status, "OK pong CCC", 11) == 0, "4096-byte line: '%.40s'", r.status);
	client_close(&other);
	stop();
}
END_TEST

/* Sends DATA on C while reading lines; checks line I is "OK pong tokI"
 * for N lines. Returns the number of lines that matched in order. */
static int pipeline(struct client *c, const char *data, size_t len, int n, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	size_t sent = 0;
	int i = 0;
	char line[HARNESS_LINE_MAX], want[64];

	while (i < n && now_ms() < deadline) {
		struct pollfd pfd = {c->fd, POLLIN | (sent < len ? POLLOUT : 0), 0};
		if (c->len == 0 || memchr(c->buf, '\n', c->len) == NULL)
			poll(&pfd, 1, 100);
		if (sent < len && (pfd.revents & POLLOUT)) {
			ssize_t k = send(c->fd, data + sent, len - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (k > 0)
				sent += (size_t)k;
		}
		while (i < n) {
			int r = client_read_line(c, line, sizeof(line), 0);
			if (r == -2 || r == -3)
				return i;
			if (r < 0)
				break;
			snprintf(want, sizeof(want), "OK pong tok%d", i);
			ck_assert_msg(strcmp(line, want) == 0, "reply %d is '%s', expected '%s'", i, line, want);
			i++;
		}
	}
	return i;
}

/* Builds "PING tok0\nPING tok1\n..." for N requests; sets *LEN. */
static char *ping_batch(int n, size_t *len)
{
	char *buf = malloc((size_t)n * 20 + 1);
	size_t off = 0;

	ck_assert_ptr_nonnull(buf);
	for (int i = 0; i < n; i++)
		off += (size_t)sprintf(buf + off, "PING tok%d\n", i);
	*len = off;
	return buf;
}

/* 10,000 pipelined PINGs come back complete and in order. */
START_TEST(test_pipeline)
{
	const int n = 10000;
	struct client c;
	size_t len;

	start(NULL, NULL, NULL);
	client_open(&c, D.port);
	char *batch = ping_batch(n, &len);
	int got = pipeline(&c, batch, len, n, 30000);
	free(batch);
	ck_assert_msg(got == n, "only %d of %d replies", got, n);
	ck_assert(client_silent_for(&c, 100));
	ck_assert_int_eq(stat_value(&c, "commands"), n + 1);
	client_close(&c);
	stop();
}
END_TEST

/* A client that never reads: the daemon stops reading from it, stays
 * small, and keeps answering another client promptly. */
START_TEST(test_slow_reader)
{
	const int n = 100000;
	struct client hog, c;
	size_t len;
	char tok[64];
	int answered = 0;
	int64_t worst = 0;

	/* The hog's unread requests keep the kernel from telling the daemon it
	 * left; a short grace keeps the final stop quick. */
	start("max-output-buffer = 4096\nshutdown-grace = 1s", NULL, NULL);
	client_open_rcvbuf(&hog, D.port, 4096);
	client_open(&c, D.port);
	expect_status(&c, "PING warm", "OK pong warm");
	long before = process_rss_kib(D.pid);
	ck_assert_int_gt(before, 0);

	char *batch = ping_batch(n, &len);
	size_t sent = 0;
	int64_t end = now_ms() + 3000;
	while (now_ms() < end && sent < len) {
		ssize_t k = send(hog.fd, batch + sent, len - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (k > 0)
			sent += (size_t)k;
		else
			ck_assert_msg(k < 0 && (errno == EAGAIN || errno == EINTR), "send: %s", strerror(errno));
		/* Meanwhile the other client is served promptly. */
		snprintf(tok, sizeof(tok), "PING other%d", answered);
		int64_t t0 = now_ms();
		struct reply r;
		client_request(&c, tok, &r, 1000);
		int64_t took = now_ms() - t0;
		worst = took > worst ? took : worst;
		char want[80];
		snprintf(want, sizeof(want), "OK pong other%d", answered);
		ck_assert_str_eq(r.status, want);
		answered++;
		sleep_ms(20); /* a pace: PINGs spread over the flood, measuring their latency */
	}
	free(batch);
	ck_assert_msg(worst < 1000, "a PING took %lld ms", (long long)worst);
	ck_assert_int_ge(answered, 10);
	ck_assert_msg(sent < len, "the daemon read all %zu bytes of a client that never reads", len);
	long after = process_rss_kib(D.pid);
	ck_assert_msg(after - before < 8192, "RSS grew from %ld to %ld KiB (%zu bytes sent unread)", before, after,
	              sent);
	/* The backed-up client is still open; the daemon is not stuck. */
	ck_assert(daemon_alive(&D));
	client_close(&hog);
	expect_status(&c, "PING still", "OK pong still");
	client_close(&c);
	stop();
}
END_TEST

/* 1,000 concurrent connections, each answered. */
START_TEST(test_many_connections)
{
	const int n = 1000;
	struct client *cs = calloc((size_t)n, sizeof(*cs));
	char line[HARNESS_LINE_MAX], want[64];

	ck_assert_ptr_nonnull(cs);
	need_nofile(2 * n + 64);
	start("max-connections-per-peer = 2000", NULL, NULL);
	for (int i = 0; i < n; i++) {
		int64_t deadline = now_ms() + 5000;
		/* A full accept queue resets the connect: try again shortly. */
		while (client_try_open(&cs[i], D.port) < 0) {
			ck_assert_msg(errno == ECONNRESET && now_ms() < deadline, "connection %d: %s", i,
			              strerror(errno));
			sleep_ms(5); /* poll interval: retry the connect */
		}
	}
	for (int i = 0; i < n; i++) {
		char req[64];
		snprintf(req, sizeof(req), "PING c%d\n", i);
		client_send_str(&cs[i], req);
	}
	for (int i = 0; i < n; i++) {
		snprintf(want, sizeof(want), "OK pong c%d", i);
		int r = client_read_line(&cs[i], line, sizeof(line), 10000);
		ck_assert_msg(r >= 0, "connection %d: no reply (%d)", i, r);
		ck_assert_str_eq(line, want);
	}
	struct client c;
	client_open(&c, D.port);
	ck_assert_int_eq(stat_value(&c, "connections"), n + 1);
	for (int i = 0; i < n; i++)
		client_close(&cs[i]);
	free(cs);
	/* Closed connections are forgotten. */
	int64_t deadline = now_ms() + 5000;
	while (stat_value(&c, "connections") != 1 && now_ms() < deadline)
		sleep_ms(20); /* poll interval */
	ck_assert_int_eq(stat_value(&c, "connections"), 1);
	client_close(&c);
	stop();
}
END_TEST

/* max-connections = 4: the 5th waits unanswered until one closes. */
START_TEST(test_max_connections)
{
	struct client cs[4], fifth;
	char tok[32], want[48];

	start("max-connections = 4", NULL, NULL);
	for (int i = 0; i < 4; i++) {
		client_open(&cs[i], D.port);
		snprintf(tok, sizeof(tok), "PING c%d", i);
		snprintf(want, sizeof(want), "OK pong c%d", i);
		expect_status(&cs[i], tok, want);
	}
	client_open(&fifth, D.port);
	client_send_str(&fifth, "PING fifth\n");
	ck_assert_msg(client_silent_for(&fifth, 300), "the 5th connection was served at max-connections = 4");
	/* The four are still served. */
	expect_status(&cs[3], "PING again", "OK pong again");
	client_close(&cs[0]);
	client_expect_line(&fifth, "OK pong fifth", 3000);
	expect_status(&cs[1], "PING c1b", "OK pong c1b");
	for (int i = 1; i < 4; i++)
		client_close(&cs[i]);
	client_close(&fifth);
	stop();
}
END_TEST

/* max-connections-per-peer = 2: the 3rd gets ERR busy and is closed. */
START_TEST(test_per_peer_limit)
{
	struct client a, b, third, c;

	start("max-connections-per-peer = 2", NULL, NULL);
	client_open(&a, D.port);
	client_open(&b, D.port);
	expect_status(&a, "PING a", "OK pong a");
	expect_status(&b, "PING b", "OK pong b");
	client_open(&third, D.port);
	client_expect_line(&third, "ERR busy too many connections from this peer", 3000);
	ck_assert(client_wait_eof(&third, 3000));
	client_close(&third);
	ck_assert_int_eq(stat_value(&a, "connections_rejected"), 1);
	/* One leaves: a new one is welcome. */
	client_close(&b);
	WAIT_FOR(stat_value(&a, "connections") == 1, 3000, "b's leaving is not counted");
	client_open(&c, D.port);
	expect_status(&c, "PING c", "OK pong c");
	client_close(&c);
	client_close(&a);
	stop();
}
END_TEST

/* idle-timeout = 300ms: a quiet client gets ERR timeout then EOF; a
 * talking one stays. */
START_TEST(test_idle_timeout)
{
	struct client quiet, busy;
	char line[HARNESS_LINE_MAX];

	start("idle-timeout = 300ms", NULL, NULL);
	client_open(&quiet, D.port);
	int64_t t0 = now_ms();
	client_open(&busy, D.port);
	for (int i = 0; i < 8; i++) {
		expect_status(&busy, "PING", "OK pong");
		sleep_ms(100); /* a pace: activity spread over 900 ms, never 300 ms idle */
	}
	/* 900 ms of activity: busy was never idle for 300 ms. */
	int n = client_read_line(&quiet, line, sizeof(line), 3000);
	int64_t waited = now_ms() - t0;
	ck_assert_msg(n >= 0, "no timeout message (%d)", n);
	ck_assert_str_eq(line, "ERR timeout idle connection closed");
	ck_assert_msg(waited >= 250, "closed after %lld ms, before the idle timeout", (long long)waited);
	ck_assert(client_wait_eof(&quiet, 2000));
	client_close(&quiet);
	expect_status(&busy, "PING", "OK pong");
	n = client_read_line(&busy, line, sizeof(line), 3000);
	ck_assert_int_ge(n, 0);
	ck_assert_str_eq(line, "ERR timeout idle connection closed");
	ck_assert(client_wait_eof(&busy, 2000));
	client_close(&busy);
	stop();
}
END_TEST

/* idle-timeout = 500ms also cuts a client that sends requests but never
 * reads the replies once they wait for its socket: the connection is
 * freed (its fd gone), but not before the timeout, while another
 * client is served throughout. */
START_TEST(test_unread_replies_timeout)
{
	TEST_VSOCK_ONLY(); /* sized to vsock's buffers */
	enum { REQUESTS = 400 };
	struct client stuck, other;
	static char batch[REQUESTS * 208];
	size_t len = 0;

	start("idle-timeout = 500ms", NULL, NULL);
	client_open(&other, D.port);
	expect_status(&other, "PING", "OK pong");
	/* No settling wait: the daemon's notify socket stays open (notify.c). */
	int fds_idle = process_fd_count(D.pid);
	/* A 4 KiB receive buffer: most of ~84 KiB of replies must wait. */
	client_open_rcvbuf(&stuck, D.port, 4096);
	for (int i = 0; i < REQUESTS; i++)
		len += (size_t)snprintf(batch + len, sizeof(batch) - len, "PING %0200d\n", i);
	/* The daemon's writes stall somewhere between these two times: the
	 * bounds below count from the first (not cut before idle-timeout)
	 * and from the second (cut soon after it). */
	int64_t sending = now_ms();
	ck_assert_int_eq(client_send(&stuck, batch, len, 10000), (ssize_t)len);
	int64_t sent = now_ms();
	/* Busy with the other client, it is still not cut 400 ms on. */
	for (;;) {
		int fds = process_fd_count(D.pid);
		int64_t at = now_ms() - sending;
		if (at >= 400)
			break;
		ck_assert_msg(fds == fds_idle + 1, "unread connection freed within %lld ms", (long long)at);
		expect_status(&other, "PING", "OK pong");
		sleep_ms(50); /* a pace: sampling over 400 ms that it is not cut */
	}
	int64_t gone = -1;
	for (int i = 0; i < 200 && gone < 0; i++) {
		if (process_fd_count(D.pid) == fds_idle)
			gone = now_ms() - sent;
		else
			sleep_ms(20); /* poll interval */
	}
	ck_assert_msg(gone >= 0 && gone <= 2500, "unread connection not freed %lld ms after its last request",
	              (long long)(now_ms() - sent));
	expect_status(&other, "PING", "OK pong");
	client_close(&stuck);
	client_close(&other);
	stop();
}
END_TEST

/* Asserts the next state notifications are RELOADING=1 (with a current
 * MONOTONIC_USEC) and then READY=1. */
static void expect_reload_notify(int64_t before_us)
{
	const char *m = daemon_wait_notify(&D, "RELOADING=1", 5000);
	ck_assert_msg(m != NULL, "no RELOADING=1");
	const char *mono = strstr(m, "MONOTONIC_USEC=");
	ck_assert_msg(mono != NULL, "RELOADING=1 without MONOTONIC_USEC: '%s'", m);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	long long usec = strtoll(mono + 15, NULL, 10);
	long long now_us = (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	ck_assert_msg(usec >= before_us && usec <= now_us, "MONOTONIC_USEC=%lld not within [%lld, %lld]", usec,
	              (long long)before_us, now_us);
	ck_assert_msg(daemon_wait_notify(&D, "READY=1", 5000) != NULL, "no READY=1 after RELOADING=1");
}

/* Now in CLOCK_MONOTONIC microseconds. */
static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* SIGHUP with a valid config adds a command, usable on an old connection. */
START_TEST(test_reload_valid)
{
	struct client old, fresh;
	struct reply r;

	start(NULL, NULL, NULL);
	client_open(&old, D.port);
	expect_prefix(&old, "HELLO x", "ERR unknown-command ");
	daemon_write_config(&D, NULL, "[command hello]\nhandler = ping\nsummary = say hello\n");
	int64_t t0 = mono_us();
	daemon_signal(&D, SIGHUP);
	expect_reload_notify(t0);
	expect_status(&old, "HELLO x", "OK pong x");
	client_request(&old, "HELP", &r, 5000);
	ck_assert_int_eq(r.ndata, 7);
	ck_assert(has_data(&r, "hello [TOKEN] - say hello"));
	ck_assert_int_eq(stat_value(&old, "reloads"), 1);
	client_open(&fresh, D.port);
	expect_status(&fresh, "hello y", "OK pong y");
	client_close(&fresh);
	client_close(&old);
	stop();
}
END_TEST

/* SIGHUP with a broken config keeps the old one; notify still says RELOADING then READY. */
START_TEST(test_reload_broken)
{
	struct client old, fresh;
	struct reply r;

	start(NULL, NULL, NULL);
	client_open(&old, D.port);
	expect_status(&old, "PING a", "OK pong a");
	write_file(D.conf_path, "[daemon]\nlisten = vsock:any:1\nbogus = 1\n[command hello]\nhandler = ping\n");
	int64_t t0 = mono_us();
	daemon_signal(&D, SIGHUP);
	expect_reload_notify(t0);
	ck_assert(daemon_alive(&D));
	expect_status(&old, "PING b", "OK pong b");
	expect_prefix(&old, "HELLO", "ERR unknown-command ");
	client_request(&old, "HELP", &r, 5000);
	ck_assert_int_eq(r.ndata, 6);
	ck_assert_int_eq(stat_value(&old, "reloads"), 0);
	client_open(&fresh, D.port);
	expect_status(&fresh, "PING c", "OK pong c");
	client_close(&fresh);
	client_close(&old);
	stop();
}
END_TEST

/* A reload that lowers max-arguments applies it to new connections. */
START_TEST(test_reload_lowers_max_arguments)
{
	struct client old, fresh;

	start("max-arguments = 8", NULL, NULL);
	client_open(&old, D.port);
	/* Five words fit under 8: PING itself refuses the extra ones. */
	expect_status(&old, "PING 1 2 3 4", "ERR usage usage: ping [TOKEN]");
	daemon_write_config(&D, "max-arguments = 4", NULL);
	int64_t t0 = mono_us();
	daemon_signal(&D, SIGHUP);
	expect_reload_notify(t0);
	client_open(&fresh, D.port);
	expect_status(&fresh, "PING 1 2 3 4", "ERR usage too many arguments");
	expect_status(&fresh, "PING 1", "OK pong 1");
	client_close(&fresh);
	client_close(&old);
	stop();
}
END_TEST

/* A request line of LEN bytes: PING, LEN - 6 blanks, x. */
static char *long_ping(size_t len)
{
	char *line = malloc(len + 1);

	ck_assert_ptr_nonnull(line);
	memcpy(line, "PING", 4);
	memset(line + 4, ' ', len - 5);
	line[len - 1] = 'x';
	line[len] = '\0';
	return line;
}

/* As expect_status() for a long LINE, which a failure message must not
 * carry (Check cannot pass on a message that long). */
static void expect_long_line(struct client *c, const char *line, const char *want)
{
	struct reply r;

	client_request(c, line, &r, 5000);
	ck_assert_msg(strcmp(r.status, want) == 0, "a %zu-byte line: got '%s', expected '%s'", strlen(line), r.status,
	              want);
}

/* A reload's limits reach a connection accepted before it, from its
 * next request on: a lowered max-line-length and max-arguments. */
START_TEST(test_reload_limits_reach_old_connection)
{
	struct client old, old2;
	char *line = long_ping(50000);

	start("max-line-length = 65536\nmax-arguments = 8", NULL, NULL);
	client_open(&old, D.port);
	client_open(&old2, D.port);
	expect_long_line(&old, line, "OK pong x");
	expect_status(&old2, "PING 1 2 3 4", "ERR usage usage: ping [TOKEN]");
	daemon_write_config(&D, "max-arguments = 4", NULL);
	int64_t t0 = mono_us();
	daemon_signal(&D, SIGHUP);
	expect_reload_notify(t0);
	expect_long_line(&old, line, "ERR too-long request longer than 4096 bytes; closing");
	ck_assert(client_wait_eof(&old, 5000));
	expect_status(&old2, "PING 1 2 3 4", "ERR usage too many arguments");
	free(line);
	client_close(&old);
	client_close(&old2);
	stop();
}
END_TEST

/* A module the reload removed is unloaded although a connection that
 * used it stays open (idle between requests). */
START_TEST(test_reload_unmaps_removed_module)
{
	struct client old;

	start("module = " TEST_BUILDDIR "/tests/modules/.libs/counter.so", "[command counted]\nhandler = counter\n",
	      NULL);
	client_open(&old, D.port);
	expect_status(&old, "counted", "OK 1");
	ck_assert(daemon_maps(&D, "/counter.so"));
	daemon_write_config(&D, NULL, NULL);
	int64_t t0 = mono_us();
	daemon_signal(&D, SIGHUP);
	expect_reload_notify(t0);
	expect_prefix(&old, "counted", "ERR unknown-command ");
	WAIT_FOR(!daemon_maps(&D, "/counter.so"), 3000, "counter.so still mapped 3 s after the reload removed it");
	expect_status(&old, "PING still", "OK pong still");
	client_close(&old);
	stop();
}
END_TEST

/* SIGTERM drains: replies already produced reach a slow client, then
 * the daemon closes and exits 0. */
START_TEST(test_sigterm_drain)
{
	TEST_VSOCK_ONLY(); /* sized to vsock's buffers */
	const int n = 3000;
	struct client c;
	size_t len;
	char line[HARNESS_LINE_MAX], want[64];

	start("max-output-buffer = 4096\nshutdown-grace = 10s", NULL, NULL);
	client_open_rcvbuf(&c, D.port, 4096);
	char *batch = ping_batch(n, &len);
	ssize_t sent = client_send(&c, batch, len, 1000);
	free(batch);
	ck_assert_int_gt(sent, 0);
	/* 400 replies (~5.8 KB) overflow our 4 KiB buffer: some wait in the daemon. */
	daemon_wait_stat(&D, "commands", 400, 5000);
	daemon_stat_close(&D);
	daemon_signal(&D, SIGTERM);
	ck_assert_msg(daemon_wait_notify(&D, "STOPPING=1", 5000) != NULL, "no STOPPING=1");
	sleep_ms(300); /* a measurement: the daemon does not exit within 300 ms with replies pending */
	ck_assert_msg(daemon_alive(&D), "the daemon exited with replies pending");
	int i = 0;
	for (;;) {
		int r = client_read_line(&c, line, sizeof(line), 5000);
		if (r == -2)
			break;
		ck_assert_msg(r >= 0, "reading reply %d: %d", i, r);
		snprintf(want, sizeof(want), "OK pong tok%d", i);
		ck_assert_msg(strcmp(line, want) == 0, "reply %d is '%s', expected '%s'", i, line, want);
		i++;
	}
	ck_assert_msg(c.len == 0, "a partial line at the end: '%.*s'", (int)c.len, c.buf);
	/* At least the paused output buffer's worth (4096 bytes, 15 per reply). */
	ck_assert_msg(i >= 4096 / 15, "only %d replies before the close", i);
	client_close(&c);
	int rc = daemon_wait_exit(&D, 5000);
	ck_assert_msg(rc == 0, "exit status %d after the drain", rc);
	daemon_cleanup(&D);
}
END_TEST

/* The whole sd_notify story: READY, RELOADING, READY, STOPPING, in order. */
START_TEST(test_notify_sequence)
{
	start(NULL, NULL, NULL);
	int64_t t0 = mono_us();
	daemon_signal(&D, SIGHUP);
	expect_reload_notify(t0);
	daemon_signal(&D, SIGTERM);
	ck_assert_msg(daemon_wait_notify(&D, "STOPPING=1", 5000) != NULL, "no STOPPING=1");
	ck_assert_int_eq(daemon_wait_exit(&D, 5000), 0);
	daemon_collect_notify(&D, 50);

	static const char *const states[] = {"READY=1", "RELOADING=1", "STOPPING=1"};
	static const char *const want[] = {"READY=1", "RELOADING=1", "READY=1", "STOPPING=1"};
	int k = 0;
	for (int i = 0; i < D.nnotes; i++) {
		for (size_t s = 0; s < 3; s++) {
			if (strncmp(D.notes[i], states[s], strlen(states[s])) != 0 &&
			    strstr(D.notes[i], states[s]) == NULL)
				continue;
			ck_assert_msg(k < 4, "extra state message '%s'", D.notes[i]);
			ck_assert_msg(strstr(D.notes[i], want[k]) != NULL, "state %d is '%s', expected %s", k,
			              D.notes[i], want[k]);
			k++;
		}
	}
	ck_assert_int_eq(k, 4);
	ck_assert_ptr_nonnull(strstr(D.notes[0], "STATUS="));
	daemon_cleanup(&D);
}
END_TEST

/* WATCHDOG_USEC=200000: WATCHDOG=1 about every 100 ms; none when
 * WATCHDOG_PID names another process. */
START_TEST(test_watchdog)
{
	struct daemon_opts opts = {.env = {"WATCHDOG_USEC=200000"}, .listen_fd = -1};

	start(NULL, NULL, &opts);
	int before = daemon_count_notify(&D, "WATCHDOG=1");
	daemon_collect_notify(&D, 1000);
	int pings = daemon_count_notify(&D, "WATCHDOG=1") - before;
	ck_assert_msg(pings >= 5 && pings <= 15, "%d watchdog pings in 1 s at WATCHDOG_USEC=200000", pings);
	stop();

	opts.watchdog_pid_self = 1;
	start(NULL, NULL, &opts);
	daemon_collect_notify(&D, 500);
	ck_assert_int_ge(daemon_count_notify(&D, "WATCHDOG=1"), 3);
	stop();

	/* Meant for another process (this test's): the daemon stays quiet. */
	static char pidenv[64];
	snprintf(pidenv, sizeof(pidenv), "WATCHDOG_PID=%d", (int)getpid());
	struct daemon_opts other = {.env = {"WATCHDOG_USEC=200000", pidenv}, .listen_fd = -1};
	start(NULL, NULL, &other);
	daemon_collect_notify(&D, 500);
	ck_assert_int_eq(daemon_count_notify(&D, "WATCHDOG=1"), 0);
	stop();
}
END_TEST

/* Socket activation: the passed fd is served; the config's port is not bound. */
START_TEST(test_socket_activation)
{
	TEST_VSOCK_ONLY(); /* systemd passes a vsock socket */
	unsigned int port;
	int lfd = vsock_listen_any(&port);
	struct daemon_opts opts = {.listen_fd = lfd};
	struct client c, none;
	struct reply r;
	char want[64];

	start(NULL, NULL, &opts);
	close(lfd);
	ck_assert_uint_ne(port, D.port);
	client_open(&c, port);
	expect_status(&c, "PING act", "OK pong act");
	client_request(&c, "WHOAMI", &r, 5000);
	snprintf(want, sizeof(want), "listener=vsock:any:%u", port);
	ck_assert(has_data(&r, want));
	ck_assert_msg(client_try_open(&none, D.port) < 0, "the config's port %u is bound under socket activation",
	              D.port);
	/* A reload keeps the passed socket and still binds nothing. */
	int64_t t0 = mono_us();
	daemon_signal(&D, SIGHUP);
	expect_reload_notify(t0);
	expect_status(&c, "PING again", "OK pong again");
	ck_assert_msg(client_try_open(&none, D.port) < 0, "the config's port is bound after a reload");
	client_close(&c);
	client_open(&c, port);
	expect_status(&c, "PING new", "OK pong new");
	client_close(&c);
	stop();
}
END_TEST

/* QUIT: OK bye, then the connection closes; what follows is ignored. */
START_TEST(test_quit)
{
	struct client c;
	char line[HARNESS_LINE_MAX];

	start(NULL, NULL, NULL);
	client_open(&c, D.port);
	client_send_str(&c, "PING before\nQUIT\nPING after\nHELP\n");
	client_expect_line(&c, "OK pong before", 5000);
	client_expect_line(&c, "OK bye", 5000);
	int n = client_read_line(&c, line, sizeof(line), 3000);
	ck_assert_msg(n == -2, "after QUIT: got %s'%s'", n >= 0 ? "the line " : "no EOF ", n >= 0 ? line : "");
	client_close(&c);
	stop();
}
END_TEST

/* The suite; the slow cases get longer timeouts. */
/* The one peer series on PAGE other than peer="other" into KEY; fails
 * the test unless there is exactly one. */
static void only_peer(const char *page, char *key, size_t size)
{
	const char *prefix = "\nudo_vsockd_peer_requests_total{peer=\"";
	int found = 0;

	for (const char *p = page; (p = strstr(p, prefix)) != NULL; p++) {
		const char *v = p + strlen(prefix), *end = strchr(v, '"');
		if (strncmp(v, "other\"", 6) == 0)
			continue;
		snprintf(key, size, "udo_vsockd_peer_requests_total{peer=\"%.*s\"}", (int)(end - v), v);
		found++;
	}
	ck_assert_msg(found == 1, "%d peer series besides other:\n%.1000s", found, strstr(page, "peer_requests_total"));
}

/* The metrics endpoint counts known traffic exactly: requests, errors by
 * code, reply bytes, the latency histogram, the peer and the gauges;
 * other paths are 404. */
START_TEST(test_metrics)
{
	struct client c;
	char extra[512], sock[300], peer[200], line[64];

	snprintf(sock, sizeof(sock), "%s", "");
	daemon_init(&D);
	snprintf(sock, sizeof(sock), "%s/metrics.sock", D.dir);
	snprintf(extra, sizeof(extra), "metrics-listen = unix:%s\naudit = none", sock);
	daemon_write_config(&D, extra, "[command secret]\nhandler = version\ndeny = any\n");
	ck_assert_msg(daemon_start(&D, NULL, 10000) == 0, "udo-vsockd did not report READY=1 within 10 s");
	client_open(&c, D.port);
	expect_status(&c, "PING warm", "OK pong warm"); /* the peer has a series now */
	char *before = metrics_http_get(sock, "/metrics");
	ck_assert_ptr_nonnull(before);
	ck_assert_msg(strncmp(before, "HTTP/1.0 200 ", 13) == 0 || strncmp(before, "HTTP/1.1 200 ", 13) == 0,
	              "GET /metrics: %.200s", before);
	ck_assert_msg(strstr(before, "\r\nContent-Type: text/plain; version=0.0.4\r\n") != NULL,
	              "no content type: %.400s", before);
	ck_assert_int_eq(metrics_sample(before, "udo_vsockd_connections"), 1);
	only_peer(before, peer, sizeof(peer));

	long long ping_bytes = 0;
	for (int i = 0; i < 10; i++) {
		char ping[32], want[32];
		snprintf(ping, sizeof(ping), "PING t%d", i);
		snprintf(want, sizeof(want), "OK pong t%d", i);
		expect_status(&c, ping, want);
		ping_bytes += (long long)strlen(want) + 1;
	}
	for (int i = 0; i < 3; i++)
		expect_prefix(&c, "FROB", "ERR unknown-command ");
	for (int i = 0; i < 2; i++)
		expect_prefix(&c, "SECRET", "ERR denied ");
	char *after = metrics_http_get(sock, "/metrics");
	ck_assert_ptr_nonnull(after);

	static const struct {
		const char *series;
		long long delta;
	} want[] = {
	    {"udo_vsockd_requests_total{command=\"ping\"}", 10},
	    {"udo_vsockd_requests_total{command=\"(unknown)\"}", 3},
	    {"udo_vsockd_requests_total{command=\"secret\"}", 2},
	    {"udo_vsockd_requests_total{command=\"help\"}", 0},
	    {"udo_vsockd_errors_total{command=\"(unknown)\",code=\"unknown-command\"}", 3},
	    {"udo_vsockd_errors_total{command=\"secret\",code=\"denied\"}", 2},
	    {"udo_vsockd_errors_total{command=\"ping\",code=\"usage\"}", 0},
	    {"udo_vsockd_request_duration_seconds_count{command=\"ping\"}", 10},
	    {"udo_vsockd_request_duration_seconds_bucket{command=\"ping\",le=\"+Inf\"}", 10},
	    {"udo_vsockd_request_duration_seconds_count{command=\"secret\"}", 2},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		long long d = metrics_sample(after, want[i].series) - metrics_sample(before, want[i].series);
		ck_assert_msg(d == want[i].delta, "%s went up by %lld, not %lld", want[i].series, d, want[i].delta);
	}
	long long d = metrics_sample(after, "udo_vsockd_bytes_out_total{command=\"ping\"}") -
	              metrics_sample(before, "udo_vsockd_bytes_out_total{command=\"ping\"}");
	ck_assert_msg(d == ping_bytes, "ping's reply bytes went up by %lld, not %lld", d, ping_bytes);
	d = metrics_sample(after, peer) - metrics_sample(before, peer);
	ck_assert_msg(d == 15, "%s went up by %lld, not 15", peer, d);
	ck_assert_int_eq(metrics_sample(after, "udo_vsockd_peer_requests_total{peer=\"other\"}"), 0);
	ck_assert_msg(strstr(after, "\n# TYPE udo_vsockd_request_duration_seconds histogram\n") != NULL,
	              "no histogram");
	ck_assert_msg(metrics_sample(after, "udo_vsockd_resident_memory_bytes") > 0, "no resident memory");
	snprintf(line, sizeof(line), "udo_vsockd_exec_jobs 0\n");
	ck_assert_msg(strstr(after, line) != NULL, "exec jobs not 0");
	free(before);
	free(after);

	char *other = metrics_http_get(sock, "/other");
	ck_assert_ptr_nonnull(other);
	ck_assert_msg(strncmp(other + 9, "404", 3) == 0, "GET /other: %.200s", other);
	free(other);
	client_close(&c);
	stop();
}
END_TEST

/* metrics-max-peers bounds the peer series; a reload moves the endpoint
 * (counters kept), a reload whose endpoint cannot bind keeps the old
 * one, and one without metrics-listen closes it and removes its socket. */
START_TEST(test_metrics_reload)
{
	struct client c;
	char extra[512], sock_a[300], sock_b[300];

	daemon_init(&D);
	snprintf(sock_a, sizeof(sock_a), "%s/a.sock", D.dir);
	snprintf(sock_b, sizeof(sock_b), "%s/b.sock", D.dir);
	snprintf(extra, sizeof(extra), "metrics-listen = unix:%s\nmetrics-max-peers = 0", sock_a);
	daemon_write_config(&D, extra, NULL);
	ck_assert_msg(daemon_start(&D, NULL, 10000) == 0, "udo-vsockd did not report READY=1 within 10 s");
	client_open(&c, D.port);
	expect_status(&c, "PING a", "OK pong a");
	char *page = metrics_http_get(sock_a, "/metrics");
	ck_assert_ptr_nonnull(page);
	ck_assert_int_eq(metrics_sample(page, "udo_vsockd_peer_requests_total{peer=\"other\"}"), 1);
	ck_assert_msg(strstr(page, "udo_vsockd_peer_requests_total{peer=\"other\"} 1\n# HELP") != NULL,
	              "a peer series past metrics-max-peers = 0:\n%.1000s", strstr(page, "peer_requests_total"));
	free(page);

	/* Moved: the old socket goes, the new one has the same counters. */
	snprintf(extra, sizeof(extra), "metrics-listen = unix:%s", sock_b);
	daemon_write_config(&D, extra, NULL);
	int64_t t0 = mono_us();
	daemon_signal(&D, SIGHUP);
	expect_reload_notify(t0);
	WAIT_FOR((page = metrics_http_get(sock_b, "/metrics")) != NULL, 5000, "no endpoint on %s after the reload",
	         sock_b);
	ck_assert_int_eq(metrics_sample(page, "udo_vsockd_requests_total{command=\"ping\"}"), 1);
	free(page);
	ck_assert_msg(access(sock_a, F_OK) < 0, "%s left behind", sock_a);
	expect_status(&c, "PING b", "OK pong b"); /* the old connection, counted across the reload */

	/* Cannot bind: the reload fails whole, the endpoint stays. */
	snprintf(extra, sizeof(extra), "metrics-listen = unix:%s/missing/dir.sock\nmax-arguments = 1", D.dir);
	daemon_write_config(&D, extra, "[command ghost]\nhandler = ping\n");
	t0 = mono_us();
	daemon_signal(&D, SIGHUP);
	expect_reload_notify(t0);
	expect_status(&c, "PING c", "OK pong c"); /* max-arguments = 1 did not take */
	page = metrics_http_get(sock_b, "/metrics");
	ck_assert_msg(page != NULL, "the failed reload closed the endpoint");
	ck_assert_int_eq(metrics_sample(page, "udo_vsockd_requests_total{command=\"ping\"}"), 3);
	ck_assert_msg(strstr(page, "command=\"ghost\"") == NULL, "a command of the failed reload is shown: %.80s",
	              strstr(page, "command=\"ghost\""));
	free(page);

	/* Gone: no endpoint, no socket file. */
	daemon_write_config(&D, NULL, NULL);
	t0 = mono_us();
	daemon_signal(&D, SIGHUP);
	expect_reload_notify(t0);
	WAIT_FOR(access(sock_b, F_OK) < 0, 5000, "%s left behind", sock_b);
	ck_assert_ptr_null(metrics_http_get(sock_b, "/metrics"));
	expect_status(&c, "PING d", "OK pong d");
	client_close(&c);
	stop();
}
END_TEST

static Suite *daemon_suite(void)
{
	Suite *s = suite_create("daemon");
	TCase *tc = tcase_create("protocol");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_builtins);
	tcase_add_test(tc, test_time);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_long_token);
	tcase_add_test(tc, test_crlf);
	tcase_add_test(tc, test_half_close);
	tcase_add_test(tc, test_quit);
	tcase_add_test(tc, test_too_long);
	suite_add_tcase(s, tc);

	tc = tcase_create("load");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_pipeline);
	tcase_add_test(tc, test_slow_reader);
	tcase_add_test(tc, test_many_connections);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_max_connections);
	tcase_add_test(tc, test_per_peer_limit);
	tcase_add_test(tc, test_idle_timeout);
	tcase_add_test(tc, test_unread_replies_timeout);
	suite_add_tcase(s, tc);

	tc = tcase_create("lifecycle");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_reload_valid);
	tcase_add_test(tc, test_reload_broken);
	tcase_add_test(tc, test_reload_lowers_max_arguments);
	tcase_add_test(tc, test_reload_limits_reach_old_connection);
	tcase_add_test(tc, test_reload_unmaps_removed_module);
	tcase_add_test(tc, test_sigterm_drain);
	tcase_add_test(tc, test_notify_sequence);
	tcase_add_test(tc, test_watchdog);
	tcase_add_test(tc, test_socket_activation);
	suite_add_tcase(s, tc);

	tc = tcase_create("metrics");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_metrics);
	tcase_add_test(tc, test_metrics_reload);
	suite_add_tcase(s, tc);
	return s;
}

/* Runs the suite; exit status 0 only if every test passed. */
int main(void)
{
	SRunner *sr = srunner_create(daemon_suite());

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
