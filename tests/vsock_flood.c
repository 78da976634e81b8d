/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsock_flood - one guest floods udo-vsockd over AF_VSOCK CID 1 with
 * requests whose replies it never reads, then closes everything: the
 * daemon's memory stays bounded, clients of the same CID and of another
 * peer (a unix listener with its own identity) keep being answered
 * quickly, and every connection, fd and byte is released soon after the
 * flood closes. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon-harness.h"

/* The bounds: a closed guest is released within 2 s; a canary
 * is answered within 100 ms throughout. User-mode Linux runs the daemon,
 * the flood and the canaries on one virtual CPU that the host (a loaded
 * CI machine, UBSan) may stop for tens of ms at any time, so 99 in 100
 * answers must come within 100 ms (max seen: 25 to 86 ms alone, up to
 * 79 ms under UBSan beside vsock_hostile; before the fix p99 was 160 to
 * 290 ms) and every one within 200 ms: with busy connections served
 * after the rest and a byte budget per turn, the slowest answer was 11
 * to 97 ms over 12 cases alone and up to 56 ms beside vsock_hostile;
 * before, 93 to 358 ms, and up to 5 s before the first fix. What is
 * left is user-mode Linux preempting the daemon (its flooding guest's
 * sender and vsock worker share the CPU) and the host stopping it. */
#define RELEASE_MS         2000
#define CANARY_MS          100
#define CANARY_MAX_MS      200
#define CANARY_SAMPLES_MIN 200
#define FLOOD_CONNS        128
/* An endless flood connection is saturated once no send goes for this
 * long; one with a number of lines waits longer for all to go (with
 * max-buffered reached, the daemon may never take them all). */
#define STALL_MS       1000
#define STALL_LINES_MS 3000
#define RSS_SLACK_KIB  (6 * 1024)

/* One flood: CONNS connections each sending LINES copies (0: without
 * end, until saturated) of "PING <TOKEN_LEN bytes>\n", never reading. */
struct flood {
	int conns;
	size_t token_len;
	long lines;
	int over_unix; /* from the unix listener of identity "flood", not vsock */
};

/* What the flooding child reports once every connection is saturated. */
struct flood_report {
	long long sent; /* bytes, all connections */
	int connected;  /* connections opened */
	int failed;     /* connections whose send failed (not would-block) */
	int complete;   /* connections that sent all their lines */
};

/* The daemon of the running test, with a unix listener for the other peer. */
static struct daemon D;
static char canary_path[300], flood_path[300];
static int base_fds;
static long base_rss;

/* Sends "PING TOKEN" on C and asserts the reply within 5 s. Returns the
 * round trip in ms. */
static int probe(struct client *c, const char *who, const char *token)
{
	char req[128], want[128], line[HARNESS_LINE_MAX];
	int64_t t0 = now_ms();

	snprintf(req, sizeof(req), "PING %s\n", token);
	snprintf(want, sizeof(want), "OK pong %s", token);
	client_send_str(c, req);
	int n = client_read_line(c, line, sizeof(line), 5000);
	ck_assert_msg(n >= 0, "%s canary %s: %s", who, token, n == -1 ? "no reply in 5 s" : "end of input");
	ck_assert_msg(strcmp(line, want) == 0, "%s canary %s: got '%s'", who, token, line);
	return (int)(now_ms() - t0);
}

/* Sorts ints ascending (qsort). */
static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Starts D with DAEMON_EXTRA, a vsock listener and a unix listener of
 * identity "canary"; takes the fd and RSS baselines after warm-up. */
static void start(const char *daemon_extra)
{
	char extra[1024];
	struct client c;

	need_nofile(FLOOD_CONNS * 2 + 64);
	daemon_init(&D);
	D.backlog = FLOOD_CONNS + 64; /* vsock resets a connect to a full accept queue */
	snprintf(canary_path, sizeof(canary_path), "%s/canary.sock", D.dir);
	snprintf(flood_path, sizeof(flood_path), "%s/flood.sock", D.dir);
	snprintf(extra, sizeof(extra),
	         "listen = unix:%s identity=canary\nlisten = unix:%s identity=flood backlog=%d\n"
	         "max-connections-per-peer = %d\nidle-timeout = 60s\n%s",
	         canary_path, flood_path, FLOOD_CONNS + 64, FLOOD_CONNS + 2, daemon_extra != NULL ? daemon_extra : "");
	daemon_write_config(&D, extra, NULL);
	ck_assert_msg(daemon_start(&D, NULL, 10000) == 0, "udo-vsockd did not report READY=1 within 10 s");
	int ready_fds = process_fd_count(D.pid);
	/* Warm up both transports: the shared buffers exist from now on. */
	client_open(&c, D.port);
	probe(&c, "vsock", "warm-up");
	client_close(&c);
	client_open_unix(&c, canary_path);
	probe(&c, "unix", "warm-up");
	client_close(&c);
	/* The daemon has closed both warm-up connections and freed what they held. */
	WAIT_FOR(process_fd_count(D.pid) <= ready_fds, 5000,
	         "the daemon kept a warm-up connection: %d fds, %d at READY", process_fd_count(D.pid), ready_fds);
	base_fds = process_fd_count(D.pid);
	base_rss = process_rss_kib(D.pid);
	ck_assert_int_gt(base_rss, 0);
}

/* The flooding child: opens F's connections to PORT and sends on all of
 * them without reading until each has sent everything or is stalled for
 * STALL_MS; reports on TO_PARENT, waits for a byte on FROM_PARENT, then
 * closes them all and exits. */
static void flood_child(unsigned int port, const struct flood *f, int to_parent, int from_parent)
{
	static int fds[FLOOD_CONNS];
	static long long sent[FLOOD_CONNS];
	static int64_t progress[FLOOD_CONNS];
	static char done[FLOOD_CONNS];
	struct flood_report rep = {0};
	size_t line_len = 5 + f->token_len + 1;
	size_t reps = 65536 / line_len + 1, pat_len = reps * line_len;
	long long target = f->lines > 0 ? (long long)f->lines * (long long)line_len : -1;
	int stall_ms = target >= 0 ? STALL_LINES_MS : STALL_MS;
	char *pat = malloc(pat_len);

	if (pat == NULL)
		_exit(2);
	/* A flooding guest has CPUs of its own; here it shares user-mode
	 * Linux's one with the daemon and the canaries, whose answer times
	 * should measure the daemon, not this loop's time slices. */
	(void)!nice(10);
	for (size_t i = 0; i < reps; i++) {
		char *l = pat + i * line_len;
		memcpy(l, "PING ", 5);
		memset(l + 5, 'a' + (int)(i % 26), f->token_len);
		l[line_len - 1] = '\n';
	}
	for (int i = 0; i < f->conns; i++) {
		if (f->over_unix) {
			fds[i] = test_connect_unix(flood_path, 0);
		} else {
			fds[i] = vsock_connect_local(port, 5000, 0);
		}
		if (fds[i] < 0) {
			done[i] = 1;
			continue;
		}
		rep.connected++;
		progress[i] = now_ms();
	}
	for (int left = rep.connected; left > 0;) {
		struct pollfd pfd[FLOOD_CONNS];
		int map[FLOOD_CONNS], n = 0;
		for (int i = 0; i < f->conns; i++) {
			if (done[i])
				continue;
			pfd[n] = (struct pollfd){fds[i], POLLOUT, 0};
			map[n++] = i;
		}
		poll(pfd, (nfds_t)n, 50);
		int64_t now = now_ms();
		for (int k = 0; k < n; k++) {
			int i = map[k];
			while ((pfd[k].revents & POLLOUT) && (target < 0 || sent[i] < target)) {
				size_t off = (size_t)(sent[i] % (long long)pat_len), len = pat_len - off;
				if (target >= 0 && (long long)len > target - sent[i])
					len = (size_t)(target - sent[i]);
				ssize_t r = send(fds[i], pat + off, len, MSG_NOSIGNAL | MSG_DONTWAIT);
				if (r > 0) {
					sent[i] += r;
					rep.sent += r;
					progress[i] = now;
					continue;
				}
				if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
					rep.failed++;
					done[i] = 1;
				}
				break;
			}
			if (!done[i] && ((target >= 0 && sent[i] >= target) || now - progress[i] >= stall_ms)) {
				rep.complete += target >= 0 && sent[i] >= target;
				done[i] = 1;
				left--;
			} else if (done[i]) {
				left--;
			}
		}
	}
	if (write(to_parent, &rep, sizeof(rep)) != sizeof(rep))
		_exit(3);
	char go;
	if (read(from_parent, &go, 1) != 1)
		_exit(4);
	for (int i = 0; i < f->conns; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
	}
	_exit(0);
}

/* Canary state: one client of the flood's CID, one of another peer. */
#define CANARY_PROBES_MAX 8192
struct canaries {
	struct client vsock, unix_;
	int max_vsock, max_unix, n;
	int64_t t0, max_at; /* when the flood began, and the slowest answer came */
	long peak_rss;
	int lat[CANARY_PROBES_MAX]; /* every answer's time, both canaries */
	int nlat;
};

/* One probe on each canary, noting the latencies and the daemon's RSS. */
static void canaries_probe(struct canaries *k)
{
	char token[32];
	int lat;

	snprintf(token, sizeof(token), "v%d", k->n);
	lat = probe(&k->vsock, "vsock (same CID)", token);
	if (lat > k->max_vsock)
		k->max_vsock = lat;
	if (lat >= k->max_vsock && lat >= k->max_unix)
		k->max_at = now_ms() - k->t0;
	if (k->nlat < CANARY_PROBES_MAX)
		k->lat[k->nlat++] = lat;
	snprintf(token, sizeof(token), "u%d", k->n);
	lat = probe(&k->unix_, "unix (other peer)", token);
	if (lat > k->max_unix)
		k->max_unix = lat;
	if (lat >= k->max_vsock && lat >= k->max_unix)
		k->max_at = now_ms() - k->t0;
	if (k->nlat < CANARY_PROBES_MAX)
		k->lat[k->nlat++] = lat;
	k->n++;
	long rss = process_rss_kib(D.pid);
	if (rss > k->peak_rss)
		k->peak_rss = rss;
}

/* Runs flood F against D with both canaries probing throughout; closes
 * the flood and expects the daemon back at its fd and RSS baselines
 * within RELEASE_MS, and the canary answers within CANARY_MS (99 in
 * 100) and CANARY_MAX_MS (all). Returns
 * the peak RSS in KiB. */
static long run_flood(const char *name, const struct flood *f)
{
	struct canaries k = {.peak_rss = base_rss};
	struct flood_report rep;
	int to_parent[2], from_parent[2], status;

	client_open(&k.vsock, D.port);
	client_open_unix(&k.unix_, canary_path);
	ck_assert_int_eq(pipe2(to_parent, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(from_parent, O_CLOEXEC), 0);
	int64_t t0 = now_ms();
	k.t0 = t0;
	pid_t child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		close(to_parent[0]);
		close(from_parent[1]);
		flood_child(D.port, f, to_parent[1], from_parent[0]);
	}
	close(to_parent[1]);
	close(from_parent[0]);
	/* Flooding: until every flood connection is saturated (or done). */
	for (;;) {
		canaries_probe(&k);
		struct pollfd p = {to_parent[0], POLLIN, 0};
		if (poll(&p, 1, 20) > 0)
			break;
		ck_assert_msg(now_ms() - t0 < 120000, "%s: the flood did not saturate within 120 s", name);
	}
	ck_assert_int_eq(read(to_parent[0], &rep, sizeof(rep)), (ssize_t)sizeof(rep));
	int64_t saturated = now_ms();
	int fds_flooded = process_fd_count(D.pid);
	/* Saturated: the canaries keep their answers, for 500 ms and until
	 * there are CANARY_SAMPLES_MIN answers in all: below 100, the 99th
	 * percentile would be the slowest answer, and one host stall would
	 * be judged against the p99 bound instead of the max bound. */
	while (now_ms() - saturated < 500 || k.nlat < CANARY_SAMPLES_MIN) {
		canaries_probe(&k);
		sleep_ms(20); /* a pace: canary latency sampled over 500 ms of saturation */
	}
	long rss_flooded = process_rss_kib(D.pid);
	/* Close every flood connection. */
	ck_assert_int_eq(write(from_parent[1], "x", 1), 1);
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	int64_t closed = now_ms();
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "flood child status %d", status);
	close(to_parent[0]);
	close(from_parent[1]);
	int fds = 0;
	long rss = 0;
	int64_t released = -1;
	while (now_ms() - closed < RELEASE_MS + 3000) {
		canaries_probe(&k);
		fds = process_fd_count(D.pid);
		rss = process_rss_kib(D.pid);
		if (fds == base_fds + 2 && rss <= base_rss + RSS_SLACK_KIB) {
			released = now_ms() - closed;
			break;
		}
		sleep_ms(20); /* poll interval: release is timed to 20 ms */
	}
	qsort(k.lat, (size_t)k.nlat, sizeof(k.lat[0]), cmp_int);
	int p99 = k.lat[k.nlat * 99 / 100], max = k.lat[k.nlat - 1];
	printf("%s: canary p50 %d ms, p99 %d ms, max %d ms at %lld ms over %d answers (saturated at %lld, closed at "
	       "%lld)\n",
	       name, k.lat[k.nlat / 2], p99, max, (long long)k.max_at, k.nlat, (long long)(saturated - t0),
	       (long long)(closed - t0));
	printf("%s: %d connections x %ld lines of %zu bytes (%s): %d connected, %d failed, %d sent all, %lld MB sent "
	       "in %lld ms; "
	       "daemon fds %d -> %d, RSS %ld -> %ld KiB (peak %ld); after the close: fds %d, RSS %ld KiB, "
	       "released in %lld ms; canary max %d ms (vsock, same CID) and %d ms (unix, other peer) over %d "
	       "probes\n",
	       name, f->conns, f->lines, 5 + f->token_len + 1, f->lines > 0 ? "then wait" : "until stalled",
	       rep.connected, rep.failed, rep.complete, rep.sent >> 20, (long long)(saturated - t0), base_fds,
	       fds_flooded, base_rss, rss_flooded, k.peak_rss, fds, rss, (long long)released, k.max_vsock, k.max_unix,
	       k.n);
	fflush(stdout); /* a failed check ends this process without flushing */
	ck_assert_msg(rep.connected == f->conns, "%s: %d of %d flood connections opened", name, rep.connected,
	              f->conns);
	ck_assert_msg(released >= 0 && released <= RELEASE_MS,
	              "%s: %lld ms after the close the daemon has %d fds (%d before) and RSS %ld KiB (%ld before)",
	              name, (long long)(now_ms() - closed), fds, base_fds + 2, rss, base_rss);
	ck_assert_msg(p99 <= CANARY_MS && max <= CANARY_MAX_MS,
	              "%s: canary answers: p99 %d ms (bound %d), max %d ms (bound %d; vsock %d, unix %d)", name, p99,
	              CANARY_MS, max, CANARY_MAX_MS, k.max_vsock, k.max_unix);
	/* A fresh connection from the flood's CID is let in and answered. */
	struct client fresh;
	client_open(&fresh, D.port);
	probe(&fresh, "vsock (fresh)", "after");
	client_close(&fresh);
	client_close(&k.vsock);
	client_close(&k.unix_);
	return k.peak_rss;
}

/* Stops D, expecting exit status 0 within 5 s. */
static void stop(void)
{
	int rc = daemon_stop(&D, 5000);

	ck_assert_msg(rc == 0, "udo-vsockd exit status %d after SIGTERM (-1: did not exit in 5 s)", rc);
	daemon_cleanup(&D);
}

/* The first shape: 128 connections of one CID each send 13,000
 * PINGs with 100-byte tokens and never read: about 1.4 MB of replies
 * each, more than max-output-buffer. */
START_TEST(test_pin)
{
	const struct flood f = {FLOOD_CONNS, 100, 13000, 0};

	start(NULL);
	run_flood("pin", &f);
	stop();
}
END_TEST

/* The second shape: 127 connections keep sending PING blobs
 * (4,000-byte tokens) without reading until no send goes for 1 s. */
START_TEST(test_blobs)
{
	const struct flood f = {FLOOD_CONNS - 1, 4000, 0, 0};

	start(NULL);
	run_flood("blobs", &f);
	stop();
}
END_TEST

/* The second shape from a unix listener's identity: the canary of the
 * same CID is then another peer, the unix canary a peer of the same
 * transport. */
START_TEST(test_blobs_unix)
{
	const struct flood f = {FLOOD_CONNS - 1, 4000, 0, 1};

	start(NULL);
	run_flood("blobs over unix", &f);
	stop();
}
END_TEST

/* max-buffered: the first shape again under a 16 MiB bound: the daemon
 * stops reading the biggest holders instead of growing past it. */
START_TEST(test_max_buffered)
{
	const struct flood f = {FLOOD_CONNS, 100, 13000, 0};

	start("max-buffered = 16M");
	long peak = run_flood("max-buffered 16M", &f);
	/* Up to the bound, plus one read turn per connection. */
	ck_assert_msg(peak - base_rss <= 32 * 1024, "RSS grew by %ld KiB under max-buffered = 16M", peak - base_rss);
	stop();
}
END_TEST

/* The suite. */
static Suite *flood_suite(void)
{
	Suite *s = suite_create("flood");
	TCase *tc = tcase_create("flood");

	/* Inside user-mode Linux under a parallel make check. */
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_pin);
	tcase_add_test(tc, test_blobs);
	tcase_add_test(tc, test_blobs_unix);
	tcase_add_test(tc, test_max_buffered);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(flood_suite());

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
