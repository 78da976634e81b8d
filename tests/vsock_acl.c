/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsock_acl - access control in the real daemon over AF_VSOCK CID 1 and
 * unix listeners: a denied request gets ERR denied and never reaches its
 * handler (the counter test module counts real runs), CID ranges,
 * first-match order, HELP, every spelling of a denied command, and a
 * reload changing the rules for a connection already open. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "daemon-harness.h"

#define COUNTER_SO TEST_BUILDDIR "/tests/modules/.libs/counter.so"

static struct daemon d;

/* The commands of every test. The vsock peer is CID 1. */
static const char sections[] = "[command peek]\nhandler = counter-peek\n\n"
                               "[command counted]\nhandler = counter\ndeny = 1\nallow = unix:admin\n\n"
                               "[command in-range]\nhandler = counter\nallow = 0-5\n\n"
                               "[command exact]\nhandler = counter\nallow = local\n\n"
                               "[command out-range]\nhandler = counter\nallow = 2-100 unix:admin\n\n"
                               "[command deny-first]\nhandler = counter\ndeny = 0-3\nallow = any\n\n"
                               "[command allow-first]\nhandler = counter\nallow = any\ndeny = 1\n\n"
                               "[command nobody]\nhandler = counter\ndeny = any\n\n";

/* [daemon] settings added to every config written (audit tests). */
static const char *daemon_more = "";

/* Writes the config with SECS after the built-ins and the counter module. */
static void write_config(const char *secs)
{
	char extra[1024];

	snprintf(extra, sizeof(extra),
	         "module = " COUNTER_SO "\n"
	         "listen = unix:%s/admin.sock identity=admin\n"
	         "listen = unix:%s/guest.sock identity=guest\n%s",
	         d.dir, d.dir, daemon_more);
	daemon_write_config(&d, extra, secs);
}

/* Starts the daemon with the standard commands. */
static void start(void)
{
	daemon_init(&d);
	write_config(sections);
	ck_assert_int_eq(daemon_start(&d, NULL, 10000), 0);
}

/* Kills whatever still runs. */
static void teardown(void)
{
	daemon_cleanup(&d);
	daemon_more = "";
}

/* Connects C to the unix listener NAME in the daemon's directory. */
static void unix_open(struct client *c, const char *name)
{
	char path[300];

	snprintf(path, sizeof(path), "%s/%s", d.dir, name);
	client_open_unix(c, path);
}

/* The counter's runs so far, asked over C. */
static long runs(struct client *c)
{
	struct reply r;

	client_request(c, "peek", &r, 5000);
	ck_assert_msg(strncmp(r.status, "OK ", 3) == 0, "%s", r.status);
	return strtol(r.status + 3, NULL, 10);
}

/* Sends LINE over C and asserts the status WANT (a prefix). */
static void expect(struct client *c, const char *line, const char *want)
{
	struct reply r;

	client_request(c, line, &r, 5000);
	ck_assert_msg(strncmp(r.status, want, strlen(want)) == 0, "'%s': got '%s', want '%s'", line, r.status, want);
}

/* True if HELP over C lists command NAME. */
static int help_lists(struct client *c, const char *name)
{
	struct reply r;
	size_t n = strlen(name);

	client_request(c, "help", &r, 5000);
	ck_assert_str_eq(r.status, "OK");
	for (int i = 0; i < r.ndata; i++) {
		if (strncmp(r.data[i], name, n) == 0 && r.data[i][n] == ' ')
			return 1;
	}
	return 0;
}

START_TEST(test_allowed_and_denied)
{
	TEST_VSOCK_ONLY(); /* rules by CID */
	struct client c;

	start();
	client_open(&c, d.port);
	ck_assert_int_eq(runs(&c), 0);
	expect(&c, "counted", "ERR denied ");
	expect(&c, "nobody", "ERR denied ");
	ck_assert_int_eq(runs(&c), 0);
	expect(&c, "in-range", "OK 1");
	expect(&c, "exact", "OK 2");
	expect(&c, "out-range", "ERR denied ");
	ck_assert_int_eq(runs(&c), 2);
	client_close(&c);
	ck_assert_int_eq(daemon_stop(&d, 5000), 0);
}
END_TEST

START_TEST(test_first_match_wins)
{
	TEST_VSOCK_ONLY(); /* rules by CID */
	struct client c;

	start();
	client_open(&c, d.port);
	expect(&c, "deny-first", "ERR denied ");
	expect(&c, "allow-first", "OK 1");
	ck_assert_int_eq(runs(&c), 1);
	client_close(&c);
	ck_assert_int_eq(daemon_stop(&d, 5000), 0);
}
END_TEST

START_TEST(test_every_spelling_denied)
{
	static const char *const spellings[] = {
	    "COUNTED",         "Counted",         "  counted",       "counted  ",   "\tcounted\t",
	    "\"counted\"",     "\"count\"\"ed\"", "count\"ed\"",     "\"COUNT\"ED", "counted arg",
	    "counted a b c d", "counted\r",       " \t counted \t ", "\"\"counted", "counted \"\"",
	};
	struct client c;

	start();
	client_open(&c, d.port);
	for (size_t i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++)
		expect(&c, spellings[i], "ERR denied ");
	ck_assert_int_eq(runs(&c), 0);
	/* Pipelined, in one write. */
	client_send_str(&c, "counted\nCOUNTED x\n\"counted\"\n");
	for (int i = 0; i < 3; i++) {
		struct reply r;
		ck_assert_int_eq(client_read_reply(&c, &r, 5000), 0);
		ck_assert_msg(strncmp(r.status, "ERR denied ", 11) == 0, "%s", r.status);
	}
	ck_assert_int_eq(runs(&c), 0);
	client_close(&c);
	ck_assert_int_eq(daemon_stop(&d, 5000), 0);
}
END_TEST

START_TEST(test_help_lists_only_allowed)
{
	TEST_VSOCK_ONLY(); /* rules by CID */
	struct client c, admin;

	start();
	client_open(&c, d.port);
	ck_assert(help_lists(&c, "peek"));
	ck_assert(help_lists(&c, "in-range"));
	ck_assert(help_lists(&c, "exact"));
	ck_assert(help_lists(&c, "allow-first"));
	ck_assert(help_lists(&c, "ping"));
	ck_assert(!help_lists(&c, "counted"));
	ck_assert(!help_lists(&c, "out-range"));
	ck_assert(!help_lists(&c, "deny-first"));
	ck_assert(!help_lists(&c, "nobody"));
	unix_open(&admin, "admin.sock");
	ck_assert(help_lists(&admin, "counted"));
	ck_assert(help_lists(&admin, "out-range"));
	ck_assert(!help_lists(&admin, "in-range"));
	ck_assert(!help_lists(&admin, "nobody"));
	client_close(&c);
	client_close(&admin);
	ck_assert_int_eq(daemon_stop(&d, 5000), 0);
}
END_TEST

START_TEST(test_unix_identities)
{
	struct client admin, guest, c;
	struct reply r;

	start();
	unix_open(&admin, "admin.sock");
	unix_open(&guest, "guest.sock");
	client_request(&admin, "whoami", &r, 5000);
	ck_assert_str_eq(r.data[1], "identity=admin");
	expect(&guest, "counted", "ERR denied ");
	/* CID rules never match unix peers. */
	expect(&guest, "in-range", "ERR denied ");
	expect(&admin, "in-range", "ERR denied ");
	ck_assert_int_eq(runs(&guest), 0);
	expect(&admin, "counted", "OK 1");
	expect(&admin, "out-range", "OK 2");
	client_open(&c, d.port);
	expect(&c, "counted", "ERR denied ");
	ck_assert_int_eq(runs(&c), 2);
	client_close(&admin);
	client_close(&guest);
	client_close(&c);
	ck_assert_int_eq(daemon_stop(&d, 5000), 0);
}
END_TEST

/* Rewrites the config with SECS and reloads; waits until it is in force. */
static void reload(const char *secs)
{
	write_config(secs);
	daemon_signal(&d, SIGHUP);
	ck_assert_ptr_nonnull(daemon_wait_notify(&d, "RELOADING=1", 5000));
	ck_assert_ptr_nonnull(daemon_wait_notify(&d, "READY=1", 5000));
}

START_TEST(test_reload_changes_open_connection)
{
	TEST_VSOCK_ONLY(); /* rules by CID */
	struct client c;
	char secs[2048];

	daemon_init(&d);
	write_config("[command peek]\nhandler = counter-peek\n\n[command toggle]\nhandler = counter\nallow = 1\n");
	ck_assert_int_eq(daemon_start(&d, NULL, 10000), 0);
	client_open(&c, d.port);
	ck_assert_int_eq(runs(&c), 0);
	expect(&c, "toggle", "OK 1");
	ck_assert(help_lists(&c, "toggle"));

	/* Now denied: the same connection sees it at once. */
	snprintf(secs, sizeof(secs), "%s",
	         "[command peek]\nhandler = counter-peek\n\n[command toggle]\nhandler = counter\ndeny = 0-10\nallow = "
	         "any\n");
	reload(secs);
	expect(&c, "toggle", "ERR denied ");
	ck_assert(!help_lists(&c, "toggle"));
	ck_assert_int_eq(runs(&c), 1);

	/* And allowed again. */
	reload("[command peek]\nhandler = counter-peek\n\n[command toggle]\nhandler = counter\nallow = 1-1\n");
	expect(&c, "toggle", "OK 2");
	client_close(&c);
	ck_assert_int_eq(daemon_stop(&d, 5000), 0);
}
END_TEST

/* Starts the daemon with the standard commands, a vsock-mux listener
 * whose peers are CID 7 (a guest), and SECS. */
static void start_with_guest(const char *secs)
{
	char extra[1024];

	daemon_init(&d);
	snprintf(extra, sizeof(extra),
	         "module = " COUNTER_SO "\n"
	         "listen = unix:%s/admin.sock identity=admin\n"
	         "listen = unix:%s/guest.sock identity=guest\n"
	         "listen = vsock-mux:%s/vm.sock:52 cid=7\n",
	         d.dir, d.dir, d.dir);
	daemon_write_config(&d, extra, secs);
	ck_assert_int_eq(daemon_start(&d, NULL, 10000), 0);
}

/* STATS shows a guest its own counters only; daemon-wide counters go to
 * the host side by default (unix listeners, CIDs 0-2). The guest is CID
 * 7 behind a vsock-mux listener; CID 1 is local. Before, every peer saw
 * every counter. */
START_TEST(test_stats_guest_sees_own)
{
	struct client local, guest;
	struct reply r;

	TEST_VSOCK_ONLY(); /* the other tenant is CID 1 */

	start_with_guest(sections);
	/* Activity of another tenant: CID 1, 3 commands and a denial. */
	client_open(&local, d.port);
	expect(&local, "peek", "OK ");
	expect(&local, "in-range", "OK 1");
	expect(&local, "nobody", "ERR denied ");
	unix_open(&guest, "vm.sock_52");
	expect(&guest, "nobody", "ERR denied ");
	client_request(&guest, "stats", &r, 5000);
	ck_assert_str_eq(r.status, "OK");
	ck_assert_msg(r.ndata > 0 && strcmp(r.data[0], "scope=peer") == 0,
	              "the guest got daemon-wide counters (%d lines: %s, connections=%lld, commands=%lld)", r.ndata,
	              r.ndata > 0 ? r.data[0] : "", reply_number(&r, "connections"), reply_number(&r, "commands"));
	ck_assert_int_eq(reply_number(&r, "connections"), 1);
	ck_assert_int_eq(reply_number(&r, "connections_total"), 1);
	ck_assert_int_eq(reply_number(&r, "commands"), 2); /* the denial and this STATS */
	ck_assert_int_eq(reply_number(&r, "errors"), 1);
	ck_assert_int_eq(reply_number(&r, "reloads"), -1);
	/* The local peer sees everything: 2 connections, 6 commands, 2 errors. */
	client_request(&local, "stats", &r, 5000);
	ck_assert_int_eq(r.ndata, 7);
	ck_assert_int_eq(reply_number(&r, "connections"), 2);
	ck_assert_int_eq(reply_number(&r, "commands"), 6);
	ck_assert_int_eq(reply_number(&r, "errors"), 2);
	client_close(&guest);
	client_close(&local);
	ck_assert_int_eq(daemon_stop(&d, 5000), 0);
}
END_TEST

/* Writes the config with the unix listeners' identities GUEST (guest.sock)
 * and ADMIN (admin.sock), a vsock-mux listener fc.vsock_9 for CID MUX_CID
 * and the listen line MORE (or nothing), then SECS. */
static void write_listeners(const char *guest, const char *admin, unsigned int mux_cid, const char *more,
                            const char *secs)
{
	char extra[2048];

	snprintf(extra, sizeof(extra),
	         "module = " COUNTER_SO "\n"
	         "listen = unix:%s/admin.sock identity=%s\n"
	         "listen = unix:%s/guest.sock identity=%s\n"
	         "listen = vsock-mux:%s/fc.vsock:9 cid=%u name=vm\n"
	         "%s",
	         d.dir, admin, d.dir, guest, d.dir, mux_cid, more != NULL ? more : "");
	daemon_write_config(&d, extra, secs);
}

/* Asserts that WHOAMI over C has the data line WANT. */
static void expect_whoami(struct client *c, const char *want)
{
	struct reply r;

	client_request(c, "whoami", &r, 5000);
	ck_assert_str_eq(r.status, "OK");
	for (int i = 0; i < r.ndata; i++) {
		if (strcmp(r.data[i], want) == 0)
			return;
	}
	ck_assert_msg(0, "WHOAMI has no '%s' (first line '%s')", want, r.ndata > 0 ? r.data[0] : "");
}

/* A reload that fails because a new listener cannot open changes
 * nothing: not the identity of a kept unix listener, not the CID of a
 * kept vsock-mux listener, for old and new connections alike. */
START_TEST(test_failed_reload_keeps_identities)
{
	struct client old_guest, old_vm, guest, vm;

	daemon_init(&d);
	write_listeners("guest", "admin", 5, NULL, sections);
	ck_assert_int_eq(daemon_start(&d, NULL, 10000), 0);
	unix_open(&old_guest, "guest.sock");
	unix_open(&old_vm, "fc.vsock_9");
	expect(&old_guest, "counted", "ERR denied ");

	/* Promoted and moved, but a listener cannot open: all or nothing. */
	write_listeners("admin", "admin", 7, "listen = unix:/nonexistent/x.sock\n", sections);
	daemon_signal(&d, SIGHUP);
	ck_assert_ptr_nonnull(daemon_wait_notify(&d, "RELOADING=1", 5000));
	ck_assert_ptr_nonnull(daemon_wait_notify(&d, "READY=1", 5000));
	unix_open(&guest, "guest.sock");
	unix_open(&vm, "fc.vsock_9");
	expect_whoami(&guest, "identity=guest");
	expect_whoami(&old_guest, "identity=guest");
	expect(&guest, "counted", "ERR denied ");
	expect(&old_guest, "counted", "ERR denied ");
	expect_whoami(&vm, "cid=5");
	expect_whoami(&old_vm, "cid=5");
	ck_assert_int_eq(runs(&guest), 0);
	client_close(&old_guest);
	client_close(&old_vm);
	client_close(&guest);
	client_close(&vm);
	ck_assert_int_eq(daemon_stop(&d, 5000), 0);
}
END_TEST

/* stats-all = unix:admin: the admin identity sees all, CID 1 and the
 * unix guest identity their own; a bad entry is a config error. */
START_TEST(test_stats_all_option)
{
	char secs[sizeof(sections) + 128];
	struct client local, admin, uguest;
	struct reply r;

	snprintf(secs, sizeof(secs), "%s[command stats-admin]\nhandler = stats\nstats-all = unix:admin\n", sections);
	start_with_guest(secs);
	client_open(&local, d.port);
	expect(&local, "peek", "OK ");
	unix_open(&admin, "admin.sock");
	unix_open(&uguest, "guest.sock");
	client_request(&admin, "stats-admin", &r, 5000);
	ck_assert_int_eq(r.ndata, 7);
	ck_assert_int_eq(reply_number(&r, "connections"), 3);
	ck_assert_int_eq(reply_number(&r, "commands"), 2);
	client_request(&uguest, "stats-admin", &r, 5000);
	ck_assert_str_eq(r.data[0], "scope=peer");
	ck_assert_int_eq(reply_number(&r, "commands"), 1);
	client_request(&local, "stats-admin", &r, 5000);
	ck_assert_str_eq(r.data[0], "scope=peer");
	ck_assert_int_eq(reply_number(&r, "commands"), 2);
	client_close(&uguest);
	client_close(&admin);
	client_close(&local);
	ck_assert_int_eq(daemon_stop(&d, 5000), 0);

	char out[2048], err[2048];
	snprintf(secs, sizeof(secs), "%s[command stats-admin]\nhandler = stats\nstats-all = unix:\n", sections);
	daemon_write_config(&d, "", secs);
	char *argv[] = {(char *)daemon_binary(), (char *)"-t", (char *)"-c", d.conf_path, NULL};
	ck_assert_int_eq(run_process(argv, out, sizeof(out), err, sizeof(err), 10000), 1);
	ck_assert_msg(strstr(err, "stats-all") != NULL, "%s", err);
}
END_TEST

/* Counts the lines of the file PATH containing NEEDLE; adds the number
 * before NUMBER_BEFORE (if not NULL) in those lines to *SUM. */
static long count_log_lines(const char *path, const char *needle, const char *number_before, long long *sum)
{
	FILE *f = fopen(path, "r");
	char line[2048];
	long n = 0;

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		char *at = strstr(line, needle);
		if (at == NULL)
			continue;
		n++;
		if (number_before != NULL && sum != NULL) {
			char *end = strstr(line, number_before);
			char *start = end;
			while (start != NULL && start > line && start[-1] >= '0' && start[-1] <= '9')
				start--;
			if (start != NULL && start < end)
				*sum += strtoll(start, NULL, 10);
		}
	}
	fclose(f);
	return n;
}

/* Pipelines N copies of LINE on C while reading the replies; returns when
 * all N replies (one line each) have come, failing after TIMEOUT_MS. */
static void pipeline(struct client *c, const char *line, long n, int timeout_ms)
{
	size_t len = strlen(line);
	long sent_lines = 0, replies = 0;
	size_t partial = 0; /* bytes of the line being sent */
	int64_t deadline = now_ms() + timeout_ms;
	char buf[65536];

	while (replies < n) {
		ck_assert_msg(now_ms() < deadline, "%ld of %ld replies within %d ms", replies, n, timeout_ms);
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN | (sent_lines < n ? POLLOUT : 0)};
		ck_assert_int_ge(poll(&pfd, 1, 100), 0);
		if ((pfd.revents & POLLOUT) != 0) {
			/* As many whole lines as fit a buffer. */
			size_t fill = 0;
			for (long i = sent_lines; i < n && fill + len < sizeof(buf); i++) {
				memcpy(buf + fill, line, len);
				fill += len;
			}
			ssize_t w = send(c->fd, buf + partial, fill - partial, MSG_DONTWAIT | MSG_NOSIGNAL);
			ck_assert_msg(w >= 0 || errno == EAGAIN, "send: %s", strerror(errno));
			if (w > 0) {
				partial += (size_t)w;
				sent_lines += (long)(partial / len);
				partial %= len;
			}
		}
		if ((pfd.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
			ssize_t r = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
			ck_assert_msg(r > 0 || (r < 0 && errno == EAGAIN), "recv: %s",
			              r == 0 ? "EOF" : strerror(errno));
			for (ssize_t i = 0; i < r; i++)
				replies += buf[i] == '\n';
		}
	}
}

/* After a flood of TOTAL requests whose log lines hold ENTRY, sends LINE
 * on C (its reply starting with WANT) every 250 ms until the ENTRY lines
 * of the log at PATH plus the counts before COUNTED in its lines holding
 * SUPPRESSED_TEXT make TOTAL and what was sent since: each window's count
 * of suppressed lines comes with the first line of the next. Gives up
 * after 15 s. Returns the number sent; *LOGGED and *SUPPRESSED get the
 * last counts. */
static long send_until_counted(struct client *c, const char *line, const char *want, const char *path,
                               const char *entry, const char *suppressed_text, const char *counted, long total,
                               long *logged, long long *suppressed)
{
	int64_t deadline = now_ms() + 15000;
	long extra = 0;

	for (;;) {
		*suppressed = 0;
		*logged = count_log_lines(path, entry, NULL, NULL);
		count_log_lines(path, suppressed_text, counted, suppressed);
		if (*logged + *suppressed == total + extra || now_ms() >= deadline)
			return extra;
		expect(c, line, want);
		extra++;
		sleep_ms(250); /* a pace: lets the log window pass between requests */
	}
}

/* 100,000 pipelined denied requests from one peer make a bounded number
 * of log lines (default log-peer-burst 10 per log-peer-interval 5s, plus
 * a line when suppression begins), and the count of what was suppressed
 * is logged once a later window begins: logged plus suppressed is every
 * denial. Before the limit this was 100,000 lines. */
START_TEST(test_denied_log_flood)
{
	enum { FLOOD = 100000 };
	struct daemon_opts opts = {.listen_fd = -1};
	char log_path[300];
	struct client c;

	daemon_init(&d);
	snprintf(log_path, sizeof(log_path), "%s/daemon.log", d.dir);
	opts.log_path = log_path;
	write_config(sections);
	ck_assert_int_eq(daemon_start(&d, &opts, 10000), 0);
	client_open(&c, d.port);
	int64_t t0 = now_ms();
	pipeline(&c, "nobody\n", FLOOD, 120000);
	long flood_ms = (long)(now_ms() - t0);
	/* The notices ("...: nobody: denied"), not the audit entries. */
	long denied = count_log_lines(log_path, ": denied\n", NULL, NULL);
	fprintf(stderr, "vsock_acl: %d denied requests in %ld ms: %ld 'denied' log lines\n", FLOOD, flood_ms, denied);
	/* One window per log-peer-interval of flooding, 12 lines each at most. */
	ck_assert_msg(denied <= 12 * (flood_ms / 5000 + 1), "%ld 'denied' lines for %d denied requests in %ld ms",
	              denied, FLOOD, flood_ms);
	/* A later denial, past the window, brings the count of the rest. A
	 * slow run (valgrind) floods across several windows, and each one's
	 * count comes with the first denial of the next: send a denial every
	 * 250 ms until every denial is logged or counted. */
	long long suppressed;
	long extra = send_until_counted(&c, "nobody", "ERR denied ", log_path, ": denied\n",
	                                "suppressed (log-peer-burst)", " log messages", FLOOD, &denied, &suppressed);
	long began = count_log_lines(log_path, "log messages about this peer in", NULL, NULL);
	fprintf(stderr, "vsock_acl: then %ld more: %ld 'denied' lines, %lld suppressed, %ld suppression notices\n",
	        extra, denied, suppressed, began);
	ck_assert_int_eq(denied + suppressed, FLOOD + extra);
	ck_assert_int_ge(began, 1);
	client_close(&c);
	ck_assert_int_eq(daemon_stop(&d, 5000), 0);
}
END_TEST

/* Connections refused at max-connections-per-peer are rate-limited in the
 * log the same way: 300 refused connects, a bounded number of lines. */
START_TEST(test_refusal_log_flood)
{
	enum { CONNECTS = 300 };
	struct daemon_opts opts = {.listen_fd = -1};
	char log_path[300], extra[1024];
	struct client keep;

	daemon_init(&d);
	snprintf(log_path, sizeof(log_path), "%s/daemon.log", d.dir);
	opts.log_path = log_path;
	snprintf(extra, sizeof(extra), "module = " COUNTER_SO "\nmax-connections-per-peer = 1\n");
	daemon_write_config(&d, extra, sections);
	ck_assert_int_eq(daemon_start(&d, &opts, 10000), 0);
	client_open(&keep, d.port);
	expect(&keep, "peek", "OK ");
	int64_t t0 = now_ms();
	for (int i = 0; i < CONNECTS; i++) {
		struct client c;
		char line[256];
		client_open(&c, d.port);
		ck_assert_int_gt(client_read_line(&c, line, sizeof(line), 5000), 0);
		ck_assert_msg(strncmp(line, "ERR busy", 8) == 0, "connection %d: '%s'", i, line);
		client_close(&c);
	}
	long took = (long)(now_ms() - t0);
	/* The daemon logs the last refusal before answering it: all are in. */
	long refused = count_log_lines(log_path, "refused: max-connections-per-peer", NULL, NULL);
	fprintf(stderr, "vsock_acl: %d refused connections in %ld ms: %ld 'refused' log lines\n", CONNECTS, took,
	        refused);
	ck_assert_msg(refused <= 10 * (took / 5000 + 1), "%ld 'refused' lines for %d refusals in %ld ms", refused,
	              CONNECTS, took);
	client_close(&keep);
	ck_assert_int_eq(daemon_stop(&d, 5000), 0);
}
END_TEST

/* A reload reaches open connections: an identity demoted or promoted, a
 * vsock-mux CID changed, applies to the next request of a connection
 * accepted before; a connection whose listener is gone is closed; and
 * the per-peer connection counts move with the identities. */
START_TEST(test_reload_reaches_open_connections)
{
	struct client admin, guest, vm, gone, second, third, fourth;
	struct reply r;

	daemon_init(&d);
	char more[512];
	snprintf(more, sizeof(more), "listen = unix:%s/extra.sock identity=admin\nmax-connections-per-peer = 2\n",
	         d.dir);
	write_listeners("guest", "admin", 5, more, sections);
	ck_assert_int_eq(daemon_start(&d, NULL, 10000), 0);
	unix_open(&admin, "admin.sock");
	unix_open(&guest, "guest.sock");
	unix_open(&vm, "fc.vsock_9");
	unix_open(&gone, "extra.sock");
	unix_open(&second, "guest.sock");
	expect_whoami(&second, "identity=guest");
	expect(&admin, "counted", "OK 1");
	expect(&guest, "counted", "ERR denied ");
	expect(&gone, "counted", "OK 2");
	expect_whoami(&vm, "cid=5");
	expect(&vm, "in-range", "OK 3");

	/* The identities swap, the VM's CID changes, extra.sock goes. */
	write_listeners("admin", "guest", 7, "max-connections-per-peer = 2\n", sections);
	daemon_signal(&d, SIGHUP);
	ck_assert_ptr_nonnull(daemon_wait_notify(&d, "RELOADING=1", 5000));
	ck_assert_ptr_nonnull(daemon_wait_notify(&d, "READY=1", 5000));
	expect_whoami(&admin, "identity=guest");
	expect(&admin, "counted", "ERR denied ");
	expect_whoami(&guest, "identity=admin");
	expect(&guest, "counted", "OK 4");
	expect_whoami(&vm, "cid=7");
	expect(&vm, "in-range", "ERR denied "); /* 0-5 */
	ck_assert_msg(client_wait_eof(&gone, 5000), "a connection on a removed listener is still open");
	/* Counted under their new identities: admin now holds the two
	 * connections accepted as guest, so a third is refused under
	 * max-connections-per-peer = 2; guest holds the one accepted as
	 * admin (extra.sock's is gone), so one more fits and then no more. */
	expect_whoami(&second, "identity=admin");
	unix_open(&third, "guest.sock");
	client_expect_line(&third, "ERR busy too many connections from this peer", 5000);
	ck_assert(client_wait_eof(&third, 5000));
	client_close(&third);
	unix_open(&fourth, "admin.sock");
	expect_whoami(&fourth, "identity=guest");
	unix_open(&third, "admin.sock");
	client_expect_line(&third, "ERR busy too many connections from this peer", 5000);
	ck_assert(client_wait_eof(&third, 5000));
	client_close(&third);
	client_close(&fourth);
	client_close(&second);
	client_request(&admin, "peek", &r, 5000);
	ck_assert_str_eq(r.status, "OK 4");
	client_close(&admin);
	client_close(&guest);
	client_close(&vm);
	client_close(&gone);
	ck_assert_int_eq(daemon_stop(&d, 5000), 0);
}
END_TEST

/* The suite. */
/* Commands of the audit tests: SAY logs its arguments, HUSH does not. */
static const char audit_sections[] = "[command nobody]\nhandler = counter\ndeny = any\n\n"
                                     "[command say]\nhandler = ping\naudit-args = yes\n\n"
                                     "[command hush]\nhandler = ping\n";

/* Starts the daemon with audit_sections, its log in LOG_PATH (of SIZE). */
static void start_audited(char *log_path, size_t size)
{
	struct daemon_opts opts = {.listen_fd = -1};

	daemon_init(&d);
	snprintf(log_path, size, "%s/daemon.log", d.dir);
	opts.log_path = log_path;
	write_config(audit_sections);
	ck_assert_int_eq(daemon_start(&d, &opts, 10000), 0);
}

/* Waits up to 5 s until the log at PATH has WANT lines holding NEEDLE. */
static void wait_log_lines(const char *path, const char *needle, long want)
{
	int64_t deadline = now_ms() + 5000;
	long n;

	while ((n = count_log_lines(path, needle, NULL, NULL)) < want && now_ms() < deadline)
		sleep_ms(20); /* poll interval */
	ck_assert_msg(n == want, "%ld log lines with '%s', expected %ld", n, needle, want);
}

/* Every request gets one audit entry by default (audit = all): command,
 * status, error code, argument count, duration and reply bytes; the
 * arguments only where the command says audit-args = yes. A reload to
 * `denied` and to `none` reaches the open connection. */
START_TEST(test_audit_entries)
{
	char log_path[300];
	struct client c;

	start_audited(log_path, sizeof(log_path));
	client_open(&c, d.port);
	expect(&c, "say \"two words\"", "OK pong two words");
	expect(&c, "hush pw123", "OK pong pw123");
	expect(&c, "nobody", "ERR denied ");
	expect(&c, "no-such-command x y", "ERR unknown-command ");
	wait_log_lines(log_path, "audit: ", 4);
	wait_log_lines(log_path, ": say: OK argc=1 duration_us=", 1);
	wait_log_lines(log_path, "bytes_out=18 args=\"two words\"\n", 1);
	wait_log_lines(log_path, ": hush: OK argc=1 duration_us=", 1);
	wait_log_lines(log_path, "pw123", 0);
	wait_log_lines(log_path, ": nobody: ERR denied argc=0 ", 1);
	wait_log_lines(log_path, ": no-such-command: ERR unknown-command argc=2 ", 1);

	/* audit = denied: only refusals, from the next request on. */
	daemon_more = "audit = denied\n";
	reload(audit_sections);
	expect(&c, "say x", "OK pong x");
	expect(&c, "nobody", "ERR denied ");
	wait_log_lines(log_path, ": nobody: ERR denied", 2);
	wait_log_lines(log_path, ": say: ", 1);

	/* audit = none: nothing; back to all, and only the last one shows. */
	daemon_more = "audit = none\n";
	reload(audit_sections);
	expect(&c, "nobody", "ERR denied ");
	expect(&c, "say y", "OK pong y");
	daemon_more = "";
	reload(audit_sections);
	expect(&c, "say z", "OK pong z");
	wait_log_lines(log_path, ": say: ", 2);
	wait_log_lines(log_path, "args=z\n", 1);
	wait_log_lines(log_path, ": nobody: ERR denied", 2);
	wait_log_lines(log_path, "args=y\n", 0);
	client_close(&c);
	ck_assert_int_eq(daemon_stop(&d, 5000), 0);
}
END_TEST

/* The sections of the named-peer test, NAMES ([peer] sections) first. */
static const char *named_sections(const char *names)
{
	static char secs[1024];

	snprintf(secs, sizeof(secs),
	         "%s\n[command peek]\nhandler = counter-peek\n\n"
	         "[command mine]\nhandler = counter\nallow = me\n\n"
	         "[command theirs]\nhandler = counter\nallow = other-*\n\n"
	         "[command mystats]\nhandler = stats\nstats-all = none\n",
	         names);
	return secs;
}

/* Asserts that STATS over C (scope=peer) has the data line WANT, or no
 * name= line when WANT is NULL. */
static void expect_stats_name(struct client *c, const char *want)
{
	struct reply r;
	int found = 0;

	client_request(c, "mystats", &r, 5000);
	ck_assert_str_eq(r.status, "OK");
	ck_assert_str_eq(r.data[0], "scope=peer");
	for (int i = 0; i < r.ndata; i++) {
		if (strncmp(r.data[i], "name=", 5) == 0) {
			ck_assert_msg(want != NULL && strcmp(r.data[i], want) == 0, "STATS has '%s', want '%s'",
			              r.data[i], want != NULL ? want : "no name");
			found = 1;
		}
	}
	ck_assert_msg(found || want == NULL, "STATS has no '%s'", want);
}

/* A [peer] section names CID 1: `allow = me` lets it in, a glob that
 * does not match keeps it out, WHOAMI, STATS and the audit entry show
 * the name. A reload that gives CID 1 another name applies to the same
 * open connection's next request, WHOAMI and rules alike. */
START_TEST(test_peer_names)
{
	TEST_VSOCK_ONLY(); /* names are those of vsock CIDs */
	struct daemon_opts opts = {.listen_fd = -1};
	char log_path[300];
	struct client c;

	daemon_init(&d);
	snprintf(log_path, sizeof(log_path), "%s/daemon.log", d.dir);
	opts.log_path = log_path;
	write_config(named_sections("[peer me]\ncid = local\n"));
	ck_assert_int_eq(daemon_start(&d, &opts, 10000), 0);
	client_open(&c, d.port);
	expect_whoami(&c, "name=me");
	expect_whoami(&c, "cid=1");
	expect_stats_name(&c, "name=me");
	expect(&c, "mine", "OK 1");
	expect(&c, "theirs", "ERR denied ");
	wait_log_lines(log_path, ": mine: OK argc=0 duration_us=", 1);
	wait_log_lines(log_path, " name=me\n", 5); /* whoami twice, mystats, mine, theirs */

	/* CID 1 is other-vm now, `me` another CID: the open connection follows. */
	reload(named_sections("[peer me]\ncid = 99\n[peer other-vm]\ncid = 1\n"));
	expect_whoami(&c, "name=other-vm");
	expect_stats_name(&c, "name=other-vm");
	expect(&c, "mine", "ERR denied ");
	expect(&c, "theirs", "OK 2");

	/* And unnamed: no name, neither rule. */
	reload(named_sections("[peer me]\ncid = 99\n"));
	expect_stats_name(&c, NULL);
	expect(&c, "theirs", "ERR denied ");
	client_close(&c);
	ck_assert_int_eq(daemon_stop(&d, 5000), 0);
}
END_TEST

/* Writes peers-dir file NAME in DIR with TEXT as a writer should: a
 * dotfile (which the daemon ignores), then renamed into place. */
static void put_peer(const char *dir, const char *name, const char *text)
{
	char tmp[400], path[400];

	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(tmp, "w");
	ck_assert_msg(f != NULL, "fopen(%s): %s", tmp, strerror(errno));
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_msg(rename(tmp, path) == 0, "rename(%s): %s", path, strerror(errno));
}

/* Renames peers-dir file FROM in DIR to TO, or removes it if TO is NULL. */
static void move_peer(const char *dir, const char *from, const char *to)
{
	char a[400], b[400];

	snprintf(a, sizeof(a), "%s/%s", dir, from);
	if (to == NULL) {
		ck_assert_msg(unlink(a) == 0, "unlink(%s): %s", a, strerror(errno));
		return;
	}
	snprintf(b, sizeof(b), "%s/%s", dir, to);
	ck_assert_msg(rename(a, b) == 0, "rename(%s): %s", a, strerror(errno));
}

/* The name= WHOAMI gives over C, in NAME (SIZE bytes; "" for none).
 * Returns 0, or -1 if the daemon closed C first (its CID's name changed
 * between accept and WHOAMI). */
static int whoami_name(struct client *c, char *name, size_t size)
{
	struct reply r;

	client_send_str(c, "whoami\n");
	int rc = client_read_reply(c, &r, 5000);
	if (rc == -2)
		return -1;
	ck_assert_msg(rc == 0, "whoami: no reply (%d)", rc);
	ck_assert_str_eq(r.status, "OK");
	name[0] = '\0';
	for (int i = 0; i < r.ndata; i++) {
		if (strncmp(r.data[i], "name=", 5) == 0)
			snprintf(name, size, "%s", r.data[i] + 5);
	}
	return 0;
}

/* Opens new connections to the daemon until one's WHOAMI has the name
 * WANT ("": none), within 5 s; leaves that one open in C. The daemon
 * takes a peers-dir change from inotify in its own time. */
static void open_named(struct client *c, const char *want)
{
	int64_t deadline = now_ms() + 5000;
	char name[64];

	for (;;) {
		client_open(c, d.port);
		if (whoami_name(c, name, sizeof(name)) == 0 && strcmp(name, want) == 0)
			return;
		client_close(c);
		ck_assert_msg(now_ms() < deadline, "a new connection is named '%s', not '%s'", name, want);
		sleep_ms(20); /* poll interval */
	}
}

/* A fresh daemon dir whose config names no [peer] and sets peers-dir =
 * DIR (D.dir/peers, made if MAKE_DIR), its log in LOG_PATH (set in
 * *OPTS); the caller starts the daemon. DIR and LOG_PATH hold 300. */
static void peers_dir_config(char *dir, char *log_path, struct daemon_opts *opts, int make_dir)
{
	static char more[400];

	daemon_init(&d);
	snprintf(log_path, 300, "%s/daemon.log", d.dir);
	snprintf(dir, 300, "%s/peers", d.dir);
	if (make_dir)
		ck_assert_int_eq(mkdir(dir, 0755), 0);
	opts->log_path = log_path;
	snprintf(more, sizeof(more), "peers-dir = %s\n", dir);
	daemon_more = more;
	write_config(named_sections(""));
}

/* peers-dir names CID 1 from a file, without a reload: a new connection
 * takes the name at once (WHOAMI, allow = me), one already open whose
 * CID's name changes is closed, never judged under the other name: a
 * CID moving from one name to another (a rename), a second file naming
 * the same CID (then neither name), the file removed. Bad files are
 * logged by name and reason and change nothing; dotfiles are a writer's
 * temporaries. The configuration's [peer] sections win. */
START_TEST(test_peers_dir)
{
	TEST_VSOCK_ONLY(); /* names are those of vsock CIDs */
	struct daemon_opts opts = {.listen_fd = -1};
	char dir[300], log_path[300], path[400];
	struct client unnamed, me, other, none;

	/* `me` and `other-*` name no [peer]: with a peers-dir that is no error. */
	peers_dir_config(dir, log_path, &opts, 1);
	ck_assert_int_eq(daemon_start(&d, &opts, 10000), 0);
	client_open(&unnamed, d.port);
	expect_stats_name(&unnamed, NULL);
	expect(&unnamed, "mine", "ERR denied ");

	/* A file names CID 1: new connections are `me`; the unnamed one closes. */
	put_peer(dir, "me", "# written by a hook\n\n  cid = local  \n; the end\n");
	open_named(&me, "me");
	expect(&me, "mine", "OK 1");
	expect(&me, "theirs", "ERR denied ");
	ck_assert_int_eq(client_wait_eof(&unnamed, 5000), 1);
	client_close(&unnamed);
	wait_file_contains(log_path, "CID 1 is named 'me' now, was '' (peers-dir): closing", 5000);

	/* Bad files: logged with the reason, ignored; `me` stays. */
	put_peer(dir, "bad1", "cid = nope\n");
	put_peer(dir, "bad2", "cid = 1\ncid = 2\n");
	put_peer(dir, "bad3", "name = x\n");
	put_peer(dir, "Upper", "cid = 1\n");
	char big[400];
	memset(big, '#', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	put_peer(dir, "big", big);
	snprintf(path, sizeof(path), "%s/link", dir);
	ck_assert_int_eq(symlink("me", path), 0);
	move_peer(dir, "link", "link2"); /* a moved-in symlink: IN_MOVED_TO */
	wait_file_contains(log_path, "bad1: ignored: line 1: 'nope' is not a CID", 5000);
	wait_file_contains(log_path, "bad2: ignored: line 2: cid set twice", 5000);
	wait_file_contains(log_path, "bad3: ignored: line 1: expected 'cid = N'", 5000);
	wait_file_contains(log_path, "Upper: ignored: not a peer name", 5000);
	wait_file_contains(log_path, "big: ignored: larger than 256 bytes", 5000);
	wait_file_contains(log_path, "link2: ignored: not a regular file", 5000);
	ck_assert_int_eq(file_contains(log_path, ".me.tmp"), 0);
	expect(&me, "mine", "OK 2");
	ck_assert(daemon_alive(&d));

	/* CID 1 moves from `me` to `other-vm` while `me` is open: closed. */
	move_peer(dir, "me", "other-vm");
	ck_assert_int_eq(client_wait_eof(&me, 5000), 1);
	client_close(&me);
	open_named(&other, "other-vm");
	expect(&other, "mine", "ERR denied ");
	expect(&other, "theirs", "OK 3");

	/* Two files name CID 1: neither name is used. */
	put_peer(dir, "twin", "cid = 1\n");
	ck_assert_int_eq(client_wait_eof(&other, 5000), 1);
	client_close(&other);
	wait_file_contains(log_path, "twin: CID 1 is also in file other-vm: neither name is used", 5000);
	open_named(&none, "");
	expect(&none, "theirs", "ERR denied ");
	client_close(&none);
	move_peer(dir, "twin", NULL);
	open_named(&other, "other-vm");
	client_close(&other);

	/* The configuration wins: [peer other-vm] is CID 99, so CID 1 has no name. */
	reload(named_sections("[peer other-vm]\ncid = 99\n"));
	wait_file_contains(log_path, "other-vm: ignored: [peer other-vm] of the configuration", 5000);
	open_named(&none, "");
	client_close(&none);
	reload(named_sections(""));
	open_named(&other, "other-vm");

	/* The file removed: a new connection has no name, the open one closes. */
	move_peer(dir, "other-vm", NULL);
	ck_assert_int_eq(client_wait_eof(&other, 5000), 1);
	client_close(&other);
	open_named(&none, "");
	expect(&none, "theirs", "ERR denied ");
	client_close(&none);
	ck_assert_int_eq(daemon_stop(&d, 5000), 0);
}
END_TEST

/* Writes TEXT to PATH in place (a sysctl, a peers-dir file as `echo >`
 * writes it: IN_CLOSE_WRITE, no rename). */
static void write_in_place(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_msg(f != NULL, "fopen(%s): %s", path, strerror(errno));
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_msg(fclose(f) == 0, "%s: %s", path, strerror(errno));
}

/* The directory missing at start, untrusted (strict modes), then fine:
 * tried again until it is watched. Moved away: its names go, and an open
 * connection of a named CID closes; moved back: they come back. A file
 * rewritten with another CID moves the name. */
START_TEST(test_peers_dir_comes_back)
{
	TEST_VSOCK_ONLY(); /* names are those of vsock CIDs */
	struct daemon_opts opts = {.listen_fd = -1};
	char dir[300], away[320], log_path[300], want[400];
	struct client c;
	struct stat st;

	peers_dir_config(dir, log_path, &opts, 0);
	snprintf(away, sizeof(away), "%s.away", dir);
	ck_assert_int_eq(daemon_start(&d, &opts, 10000), 0);
	snprintf(want, sizeof(want), "peers-dir %s: No such file or directory; no names from it", dir);
	wait_file_contains(log_path, want, 5000);
	/* Strict modes are on unless the harness turned them off (a build
	 * tree not owned by the daemon's user, see daemon-harness.c). */
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	if (stat(TEST_BUILDDIR, &st) == 0 && (st.st_uid == 0 || st.st_uid == geteuid())) {
		ck_assert_int_eq(chmod(dir, 0777), 0);
		wait_file_contains(log_path, "world-writable (mode 0777); refused (strict modes", 5000);
	}
	ck_assert_int_eq(chmod(dir, 0755), 0);
	put_peer(dir, "me", "cid = 1\n");
	open_named(&c, "me");
	wait_file_contains(log_path, ": watched again", 5000);

	ck_assert_int_eq(rename(dir, away), 0);
	ck_assert_int_eq(client_wait_eof(&c, 5000), 1);
	client_close(&c);
	wait_file_contains(log_path, "the directory is gone", 5000);
	open_named(&c, "");
	client_close(&c);
	ck_assert_int_eq(rename(away, dir), 0);
	open_named(&c, "me");
	expect(&c, "mine", "OK 1");
	client_close(&c);
	/* `me` rewritten with another CID, then back: CID 1 loses the name and gets it again. */
	snprintf(want, sizeof(want), "%s/me", dir);
	write_in_place(want, "cid = 5\n");
	open_named(&c, "");
	client_close(&c);
	put_peer(dir, "me", "cid = 1\n");
	open_named(&c, "me");
	client_close(&c);
	ck_assert_int_eq(daemon_stop(&d, 5000), 0);
}
END_TEST

/* The inotify queue overflows (the daemon stopped while 40 VMs' files
 * and `me` are written, with the kernel's queue cut to 16 events for
 * its instance): the daemon reads the directory afresh and names CID 1. */
START_TEST(test_peers_dir_overflow)
{
	TEST_VSOCK_ONLY(); /* names are those of vsock CIDs */
	static const char knob[] = "/proc/sys/fs/inotify/max_queued_events";
	struct daemon_opts opts = {.listen_fd = -1};
	char dir[300], log_path[300], name[32], old[32] = "";
	struct client c;

	FILE *f = fopen(knob, "r");
	if (f == NULL || fgets(old, sizeof(old), f) == NULL || access(knob, W_OK) != 0) {
		printf("%s: %s is not writable here; skipped\n", __func__, knob);
		if (f != NULL)
			fclose(f);
		return;
	}
	fclose(f);
	peers_dir_config(dir, log_path, &opts, 1);
	/* Read once, when the daemon makes its inotify instance. */
	write_in_place(knob, "16\n");
	int started = daemon_start(&d, &opts, 10000);
	write_in_place(knob, old);
	ck_assert_int_eq(started, 0);
	daemon_signal(&d, SIGSTOP);
	for (int i = 0; i < 40; i++) {
		char text[32];
		snprintf(name, sizeof(name), "vm%d", i);
		snprintf(text, sizeof(text), "cid = %d\n", 100 + i);
		put_peer(dir, name, text);
	}
	put_peer(dir, "me", "cid = 1\n");
	daemon_signal(&d, SIGCONT);
	wait_file_contains(log_path, "inotify queue overflow: reading it afresh", 5000);
	open_named(&c, "me");
	expect(&c, "mine", "OK 1");
	client_close(&c);
	ck_assert_int_eq(daemon_stop(&d, 5000), 0);
}
END_TEST

/* Audit entries are rate-limited per peer (audit-burst per
 * audit-interval) apart from the notices, and what was suppressed is
 * counted: entries plus the suppressed count is every request. */
START_TEST(test_audit_burst)
{
	enum { FLOOD = 2000, BURST = 5 };
	char log_path[300];
	struct client c;

	daemon_more = "audit-burst = 5\naudit-interval = 1s\n";
	start_audited(log_path, sizeof(log_path));
	client_open(&c, d.port);
	pipeline(&c, "hush\n", FLOOD, 60000);
	long logged = count_log_lines(log_path, ": hush: OK", NULL, NULL);
	ck_assert_int_ge(logged, BURST);
	/* A ping every 250 ms until the count of the rest comes (a window
	 * must pass: this measures the limit's interval). */
	long long suppressed;
	long extra = send_until_counted(&c, "hush", "OK pong", log_path, ": hush: OK", "suppressed (audit-burst)",
	                                " audit entries", FLOOD, &logged, &suppressed);
	fprintf(stderr, "vsock_acl: %d pings: %ld audit entries, %lld suppressed, %ld more pings\n", FLOOD, logged,
	        suppressed, extra);
	ck_assert_int_eq(logged + suppressed, FLOOD + extra);
	ck_assert_int_ge(count_log_lines(log_path, "audit entries about this peer in", NULL, NULL), 1);
	/* The notices' own limit is untouched by the entries. */
	ck_assert_int_eq(count_log_lines(log_path, "log messages about this peer", NULL, NULL), 0);
	client_close(&c);
	ck_assert_int_eq(daemon_stop(&d, 5000), 0);
}
END_TEST

/* A reload that gives an open connection another identity gives it the
 * audit window of that identity: the next entry is the new peer's
 * first, though the old peer's window still suppresses. Before the
 * connection forgot its cached window there, the entry was suppressed
 * under the old identity's window. */
START_TEST(test_audit_window_follows_identity)
{
	const char *limits = "audit-burst = 2\naudit-interval = 60min\n";
	struct daemon_opts opts = {.listen_fd = -1};
	char log_path[300];
	struct client c;

	daemon_init(&d);
	snprintf(log_path, sizeof(log_path), "%s/daemon.log", d.dir);
	opts.log_path = log_path;
	write_listeners("guest", "admin", 5, limits, audit_sections);
	ck_assert_int_eq(daemon_start(&d, &opts, 10000), 0);
	unix_open(&c, "admin.sock");
	/* Two entries, then suppressed (the window of unix:admin is cached). */
	for (int i = 0; i < 6; i++)
		expect(&c, "hush", "OK pong");
	wait_log_lines(log_path, "unix:admin: hush: OK", 2);
	wait_log_lines(log_path, "audit entries about this peer in", 1);

	write_listeners("admin", "guest", 5, limits, audit_sections); /* admin.sock is now guest */
	daemon_signal(&d, SIGHUP);
	ck_assert_ptr_nonnull(daemon_wait_notify(&d, "RELOADING=1", 5000));
	ck_assert_ptr_nonnull(daemon_wait_notify(&d, "READY=1", 5000));
	expect(&c, "hush", "OK pong");
	wait_log_lines(log_path, "unix:guest: hush: OK", 1);
	ck_assert_int_eq(count_log_lines(log_path, "unix:admin: hush: OK", NULL, NULL), 2);
	client_close(&c);
	ck_assert_int_eq(daemon_stop(&d, 5000), 0);
}
END_TEST

static Suite *acl_suite(void)
{
	Suite *s = suite_create("vsock_acl");
	TCase *tc = tcase_create("acl");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_allowed_and_denied);
	tcase_add_test(tc, test_first_match_wins);
	tcase_add_test(tc, test_every_spelling_denied);
	tcase_add_test(tc, test_help_lists_only_allowed);
	tcase_add_test(tc, test_unix_identities);
	tcase_add_test(tc, test_audit_window_follows_identity);
	tcase_add_test(tc, test_reload_changes_open_connection);
	tcase_add_test(tc, test_stats_guest_sees_own);
	tcase_add_test(tc, test_stats_all_option);
	tcase_add_test(tc, test_failed_reload_keeps_identities);
	tcase_add_test(tc, test_reload_reaches_open_connections);
	suite_add_tcase(s, tc);

	/* Floods of denials and refusals: the log stays small. */
	tc = tcase_create("log-flood");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, test_denied_log_flood);
	tcase_add_test(tc, test_refusal_log_flood);
	tcase_add_test(tc, test_audit_burst);
	suite_add_tcase(s, tc);

	tc = tcase_create("audit");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_audit_entries);
	tcase_add_test(tc, test_peer_names);
	tcase_add_test(tc, test_peers_dir);
	tcase_add_test(tc, test_peers_dir_overflow);
	tcase_add_test(tc, test_peers_dir_comes_back);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(acl_suite());

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
