/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsock_faults - the built udo-vsockd under faults over AF_VSOCK CID 1:
 * out of memory (a real RLIMIT_DATA on the running daemon), modules that
 * fail, crash, hang or flood, and programs that flood. Every case counts
 * the daemon's fds and children before and after, and checks that other
 * clients keep their answers. */
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
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon-harness.h"

#define FAULTY_SO TEST_BUILDDIR "/tests/modules/.libs/faulty.so"
/* The status of a module reply cut at max-output-buffer. */
#define CUT_STATUS "ERR failed output exceeded max-output-buffer"

/* The commands of every fault daemon: the faulty module's kinds under
 * their own names, and programs. */
static const char sections[] = "[command crash]\nhandler = crash\n\n"
                               "[command hang]\nhandler = hang\n\n"
                               "[command hangt]\nhandler = hang\ntimeout = 500ms\n\n"
                               "[command fail]\nhandler = fail\n\n"
                               "[command alloc]\nhandler = alloc\n\n"
                               "[command flood]\nhandler = flood\n\n"
                               "[command faultstat]\nhandler = faultstat\n\n"
                               "[command echo]\nhandler = exec\npath = /bin/echo\nargs = hello\n\n"
                               "[command seq]\nhandler = exec\npath = /usr/bin/seq\nclient-args = yes\n"
                               "max-output-bytes = 64M\nmax-output-lines = 10000000\ntimeout = 60s\n\n";

/* The daemon of the running test; one per test process. */
static struct daemon D;
static char log_path[300], unix_path[300];
/* Its fds and children after a warm-up round trip. */
static int base_fds, base_children;

/* Writes D's config: the faulty module, a unix listener, DAEMON_EXTRA and
 * the fault sections, then MORE sections. */
static void write_config(const char *daemon_extra, const char *more)
{
	char extra[1024], *all = NULL;

	snprintf(extra, sizeof(extra), "module = %s\nlisten = unix:%s identity=ctl\nshutdown-grace = 500ms\n%s",
	         FAULTY_SO, unix_path, daemon_extra != NULL ? daemon_extra : "");
	ck_assert_int_ge(asprintf(&all, "%s%s", sections, more != NULL ? more : ""), 0);
	daemon_write_config(&D, extra, all);
	free(all);
}

/* Sends "PING TOKEN" on C and asserts the exact reply within 5 s. */
static void probe(struct client *c, const char *token)
{
	char req[128], want[128];
	struct reply r;

	snprintf(req, sizeof(req), "PING %s", token);
	snprintf(want, sizeof(want), "OK pong %s", token);
	client_request(c, req, &r, 5000);
	ck_assert_msg(strcmp(r.status, want) == 0, "probe %s: got '%s'", token, r.status);
}

static void print_log_warnings(const char *prefix);

/* Starts D (DAEMON_EXTRA, MORE sections), its log in a file, then takes
 * the fd and child baseline after a warm-up round trip on each listener. */
static void start(const char *daemon_extra, const char *more)
{
	struct daemon_opts opts = {.listen_fd = -1, .log_path = log_path};
	struct client c;

	daemon_init(&D);
	snprintf(log_path, sizeof(log_path), "%s/daemon.log", D.dir);
	snprintf(unix_path, sizeof(unix_path), "%s/ctl.sock", D.dir);
	write_config(daemon_extra, more);
	if (daemon_start(&D, &opts, 10000) != 0) {
		print_log_warnings("daemon not ready");
		ck_abort_msg("udo-vsockd did not report READY=1 within 10 s (%s)",
		             D.status != 0 ? "it exited" : "no exit seen: killed");
	}
	client_open(&c, D.port);
	probe(&c, "warm-up");
	client_close(&c);
	client_open_unix(&c, unix_path);
	probe(&c, "warm-up-unix");
	client_close(&c);
	daemon_wait_idle(&D, 5000);
	base_fds = process_fd_count(D.pid);
	base_children = process_child_count(D.pid);
	ck_assert_int_eq(base_children, 0);
}

/* Prints what each open fd of PID is, to see what leaked. */
static void print_fds(pid_t pid)
{
	char path[64], link[300], target[256];

	for (int fd = 0; fd < 1024; fd++) {
		snprintf(link, sizeof(link), "/proc/%d/fd/%d", (int)pid, fd);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		snprintf(path, sizeof(path), "fd %d", fd);
		printf("daemon %s -> %s\n", path, target);
	}
	fflush(stdout);
}

/* Asserts that D's fds and children return to the baseline within 5 s. */
static void expect_baseline(const char *when)
{
	int64_t deadline = now_ms() + 5000;
	int fds, kids;

	daemon_stat_close(&D);
	while (((fds = process_fd_count(D.pid)) != base_fds || (kids = process_child_count(D.pid)) != base_children) &&
	       now_ms() < deadline)
		sleep_ms(50); /* poll interval */
	kids = process_child_count(D.pid);
	if (fds != base_fds)
		print_fds(D.pid);
	ck_assert_msg(fds == base_fds, "%s: daemon has %d fds, %d before", when, fds, base_fds);
	ck_assert_msg(kids == base_children, "%s: daemon has %d children, %d before", when, kids, base_children);
}

/* Waits until the daemon has read one more request than BEFORE (a
 * STATS commands count): the request is pending now. Closes the STATS
 * connection, which would hold the current config across a reload. */
static void wait_pending(long long before)
{
	daemon_wait_stat(&D, "commands", before + 1, 5000);
	daemon_stat_close(&D);
}

/* Stops D with SIGTERM, expecting exit status 0 within 5 s. */
static void stop(void)
{
	int rc = daemon_stop(&D, 5000);

	ck_assert_msg(rc == 0, "udo-vsockd exit status %d after SIGTERM (-1: did not exit in 5 s)", rc);
}

/* Kills whatever still runs and removes the test's files. */
static void teardown(void)
{
	daemon_cleanup(&D);
}

/* Prints the daemon's log lines at warning level and above, PREFIXed. */
static void print_log_warnings(const char *prefix)
{
	char line[1200];
	FILE *f = fopen(log_path, "re");

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "udo-vsockd: warning: ", 21) == 0 || strncmp(line, "udo-vsockd: error: ", 19) == 0)
			printf("%s: %s", prefix, line);
	}
	fclose(f);
}

/* The kB value of FIELD ("VmData:") in /proc/PID/status, or -1. */
static long status_kib(pid_t pid, const char *field)
{
	char path[64], line[256];
	long kib = -1;
	size_t n = strlen(field);

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, field, n) == 0 && sscanf(line + n, " %ld", &kib) == 1)
			break;
	}
	fclose(f);
	return kib;
}

/* Sends LINE on C and reads its reply into R; returns client_read_reply's code. */
static int ask(struct client *c, const char *line, struct reply *r, int timeout_ms)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "%s\n", line);
	client_send_str(c, buf);
	return client_read_reply(c, r, timeout_ms);
}

/* Asks the faulty module for its counters ("hang=S/C flood=S/C/T"). */
static void faultstat(struct client *c, char *out, size_t len)
{
	struct reply r;

	client_request(c, "faultstat", &r, 5000);
	ck_assert_msg(strncmp(r.status, "OK ", 3) == 0, "faultstat: %s", r.status);
	snprintf(out, len, "%.*s", (int)len - 1, r.status + 3);
}

/* What read_numbered saw of a reply of numbered lines. */
struct numbered {
	long lines;       /* data lines in order */
	long bad;         /* data lines out of order or malformed */
	char status[256]; /* the status line, "" if none came */
	int eof;
};

/* Reads data lines on FD that must be "D " followed by a counter from
 * FIRST up (flood: "%08lu ..." from 0; seq: "%lu" from 1), then a
 * status line, within TIMEOUT_MS. Reads in bulk: no per-line syscall. */
static void read_numbered(int fd, long first, struct numbered *out, int timeout_ms)
{
	static char buf[1 << 20];
	size_t have = 0;
	int64_t deadline = now_ms() + timeout_ms;

	memset(out, 0, sizeof(*out));
	for (;;) {
		char *p = buf, *end = buf + have, *lf;
		while ((lf = memchr(p, '\n', (size_t)(end - p))) != NULL) {
			*lf = '\0';
			if (strncmp(p, "D ", 2) != 0) {
				snprintf(out->status, sizeof(out->status), "%.*s", (int)sizeof(out->status) - 1, p);
				return;
			}
			char *num_end;
			long v = strtol(p + 2, &num_end, 10);
			if (v == first + out->lines && (*num_end == '\0' || *num_end == ' '))
				out->lines++;
			else
				out->bad++;
			p = lf + 1;
		}
		have = (size_t)(end - p);
		memmove(buf, p, have);
		int left = (int)(deadline - now_ms());
		if (left <= 0 || have == sizeof(buf))
			return;
		struct pollfd pfd = {fd, POLLIN, 0};
		if (poll(&pfd, 1, left) <= 0)
			continue;
		ssize_t n = recv(fd, buf + have, sizeof(buf) - have, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			out->eof = 1;
			return;
		}
		if (n > 0)
			have += (size_t)n;
	}
}

/* A module's errors reach the client with their documented codes. */
START_TEST(test_module_errors)
{
	struct client c, other;
	struct reply r;

	start(NULL, NULL);
	client_open(&c, D.port);
	client_open(&other, D.port);
	client_request(&c, "fail failed \"disk is full\"", &r, 5000);
	ck_assert_str_eq(r.status, "ERR failed disk is full");
	client_request(&c, "fail unavailable later", &r, 5000);
	ck_assert_str_eq(r.status, "ERR unavailable later");
	/* A code the protocol does not have, or none, is sent as internal. */
	client_request(&c, "fail no-such-code what", &r, 5000);
	ck_assert_str_eq(r.status, "ERR internal what");
	client_request(&c, "fail null what", &r, 5000);
	ck_assert_str_eq(r.status, "ERR internal what");
	client_request(&c, "alloc 1000000", &r, 5000);
	ck_assert_str_eq(r.status, "OK allocated=1000000");
	probe(&other, "after-errors");
	probe(&c, "same-connection");
	client_close(&c);
	client_close(&other);
	expect_baseline("after module errors");
	stop();
}
END_TEST

/* The config a reload under memory pressure is given: a command whose
 * deny rule comes after a line of 1 MiB. Reading that line needs 1 MiB
 * at once; if the daemon took the file as ending there, "guarded" would
 * be open to everyone. */
static char *guarded_sections(void)
{
	const size_t big = 1 << 20;
	char *text = malloc(big + 256);

	ck_assert_ptr_nonnull(text);
	int n = snprintf(text, 256, "[command guarded]\nhandler = ping\n#");
	memset(text + n, 'x', big);
	snprintf(text + n + big, 256 - 1, "\ndeny = any\n");
	return text;
}

/* Lowers the daemon's RLIMIT_DATA to the data it uses now, so its next
 * allocations fail; the old limit goes to *OLD. Returns the KiB set. */
static long squeeze_data_limit(struct rlimit *old)
{
	struct rlimit low;
	long data_kib = status_kib(D.pid, "VmData:");

	ck_assert_int_gt(data_kib, 0);
	ck_assert_int_eq(prlimit(D.pid, RLIMIT_DATA, NULL, old), 0);
	low.rlim_cur = (rlim_t)data_kib * 1024;
	low.rlim_max = old->rlim_max;
	ck_assert_msg(prlimit(D.pid, RLIMIT_DATA, &low, NULL) == 0, "prlimit: %s", strerror(errno));
	return data_kib;
}

/* Opens 8 clients that each send LEN bytes of one unfinished LINE, more
 * than the squeezed daemon can buffer. Returns how many it dropped. */
static int drop_hogs(const char *line, size_t len)
{
	struct client hogs[8];
	int dropped = 0;

	for (int i = 0; i < 8; i++) {
		client_open(&hogs[i], D.port);
		(void)client_send(&hogs[i], line, len, 2000);
	}
	for (int i = 0; i < 8; i++) {
		dropped += client_wait_eof(&hogs[i], 2000);
		client_close(&hogs[i]);
	}
	return dropped;
}

/* Out of memory for real: RLIMIT_DATA of the running daemon is lowered
 * to what it uses now, so its heap and anonymous mappings cannot grow.
 * It must refuse cleanly, never die, keep what it can working, and be
 * whole again once the limit is lifted. */
START_TEST(test_out_of_memory)
{
	struct client a, u;
	struct reply r;
	struct numbered nb;
	struct rlimit old;
	char *hog_line;
	const size_t hog_len = 900 * 1024;

	start("max-line-length = 1M", NULL);
	client_open(&a, D.port);
	client_open_unix(&u, unix_path);
	probe(&a, "before");
	char *more = guarded_sections();
	write_config("max-line-length = 1M", more);
	free(more);
	hog_line = malloc(hog_len);
	ck_assert_ptr_nonnull(hog_line);
	memcpy(hog_line, "PING ", 5);
	memset(hog_line + 5, 'h', hog_len - 5);

	long data_kib = squeeze_data_limit(&old);
	printf("out of memory: RLIMIT_DATA of the daemon lowered to %ld KiB (its VmData)\n", data_kib);

	/* A module that needs memory it cannot get says so. */
	client_request(&a, "alloc 16000000", &r, 5000);
	ck_assert_str_eq(r.status, "ERR internal out of memory");

	/* A reload that cannot read the whole file keeps the one in force. */
	daemon_signal(&D, SIGHUP);
	ck_assert_ptr_nonnull(daemon_wait_notify(&D, "RELOADING=1", 5000));
	ck_assert_ptr_nonnull(daemon_wait_notify(&D, "READY=1", 5000));
	client_request(&a, "guarded", &r, 5000);
	ck_assert_msg(strcmp(r.status, "ERR unknown-command unknown command; HELP lists the commands") == 0,
	              "a reload under memory pressure took a truncated file: guarded says '%s'", r.status);
	ck_assert(file_contains(log_path, "reload failed: the configuration in force is kept"));

	/* A program cannot be started without memory: the documented error. */
	client_request(&a, "echo", &r, 5000);
	printf("out of memory: echo -> %s\n", r.status);
	ck_assert_msg(strcmp(r.status, "OK exit=0") == 0 ||
	                  strncmp(r.status, "ERR failed cannot run the program: ", 35) == 0,
	              "echo: %s", r.status);

	/* Output the daemon cannot buffer, on a connection of its own: the
	 * lines that arrive are whole and in order, and the reply ends in an
	 * error, or the connection closes (nothing could be buffered). */
	struct client f;
	client_open(&f, D.port);
	client_send_str(&f, "flood 3000000\n");
	read_numbered(f.fd, 0, &nb, 20000);
	printf("out of memory: flood of 30000 lines -> %ld lines, %ld bad, status '%s'%s\n", nb.lines, nb.bad,
	       nb.status, nb.eof ? ", connection closed" : "");
	ck_assert_msg(nb.bad == 0, "%ld malformed or missing lines", nb.bad);
	ck_assert_msg((nb.lines == 30000 && strcmp(nb.status, "OK sent=3000000") == 0) ||
	                  strncmp(nb.status, "ERR ", 4) == 0 || (nb.status[0] == '\0' && nb.eof),
	              "%ld of 30000 lines, then '%s'%s", nb.lines, nb.status, nb.eof ? " and end of input" : "");
	client_close(&f);

	/* Clients that want 900 KiB buffered each: the daemon cannot, and
	 * must drop them rather than die. */
	int dropped = drop_hogs(hog_line, hog_len);
	printf("out of memory: %d of 8 clients buffering 900 KiB were dropped\n", dropped);
	ck_assert(daemon_alive(&D));

	/* New connections: each answered right or refused, never wrong. */
	int answered = 0, refused = 0;
	for (int i = 0; i < 20; i++) {
		struct client c;
		if (client_try_open(&c, D.port) < 0) {
			refused++;
			continue;
		}
		int rc = ask(&c, "PING new", &r, 3000);
		if (rc == 0 && strcmp(r.status, "OK pong new") == 0)
			answered++;
		else if (rc == -2 || (rc == 0 && strncmp(r.status, "ERR ", 4) == 0))
			refused++;
		else
			ck_abort_msg("new connection %d: rc %d, '%s'", i, rc, r.status);
		client_close(&c);
	}
	printf("out of memory: 20 new connections: %d answered, %d refused\n", answered, refused);
	/* The connections that were open all along still work. */
	probe(&a, "still-here");
	probe(&u, "still-here-unix");
	ck_assert(daemon_alive(&D));

	print_log_warnings("out of memory: logged");

	/* Lift the limit: everything works again, nothing leaked. */
	ck_assert_int_eq(prlimit(D.pid, RLIMIT_DATA, &old, NULL), 0);
	probe(&a, "recovered");
	client_request(&a, "echo", &r, 5000);
	ck_assert_str_eq(r.status, "OK exit=0");
	ck_assert_int_eq(r.ndata, 1);
	ck_assert_str_eq(r.data[0], "hello");
	client_request(&a, "alloc 16000000", &r, 5000);
	ck_assert_str_eq(r.status, "OK allocated=16000000");
	client_send_str(&a, "flood 500000\n");
	read_numbered(a.fd, 0, &nb, 20000);
	ck_assert_msg(nb.lines == 5000 && nb.bad == 0 && strcmp(nb.status, "OK sent=500000") == 0,
	              "flood after recovery: %ld lines, %ld bad, '%s'", nb.lines, nb.bad, nb.status);
	daemon_signal(&D, SIGHUP);
	ck_assert_ptr_nonnull(daemon_wait_notify(&D, "RELOADING=1", 5000));
	ck_assert_ptr_nonnull(daemon_wait_notify(&D, "READY=1", 5000));
	client_request(&a, "guarded", &r, 5000);
	ck_assert_str_eq(r.status, "ERR denied not allowed for this peer");
	client_close(&a);
	client_close(&u);
	struct client c;
	client_open(&c, D.port);
	probe(&c, "new-after");
	client_close(&c);
	free(hog_line);
	expect_baseline("after out of memory");
	stop();
}
END_TEST

/* Counts the daemon's log lines at warning level or above that mention
 * memory. */
static int log_memory_warnings(void)
{
	char line[1200];
	int n = 0;
	FILE *f = fopen(log_path, "re");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		int warn =
		    strncmp(line, "udo-vsockd: warning: ", 21) == 0 || strncmp(line, "udo-vsockd: error: ", 19) == 0;
		n += warn && (strstr(line, "memory") != NULL);
	}
	fclose(f);
	return n;
}

/* Out of memory for a client's input: the connection may be dropped, but
 * never without a logged reason. */
START_TEST(test_out_of_memory_drop_logged)
{
	struct client a;
	struct rlimit old;
	const size_t hog_len = 900 * 1024;
	char *hog_line = malloc(hog_len);

	ck_assert_ptr_nonnull(hog_line);
	memcpy(hog_line, "PING ", 5);
	memset(hog_line + 5, 'h', hog_len - 5);
	start("max-line-length = 1M", NULL);
	client_open(&a, D.port);
	squeeze_data_limit(&old);
	int before = log_memory_warnings();
	int dropped = drop_hogs(hog_line, hog_len);
	ck_assert_int_eq(prlimit(D.pid, RLIMIT_DATA, &old, NULL), 0);
	int logged = log_memory_warnings() - before;
	print_log_warnings("out of memory, dropped clients: logged");
	ck_assert_msg(dropped > 0, "no client was dropped: the limit did not bite");
	ck_assert_msg(logged > 0,
	              "%d clients were dropped for lack of memory without a warning (conn.c: conn_break() and "
	              "recv() errors log at debug level only)",
	              dropped);
	probe(&a, "after");
	client_close(&a);
	free(hog_line);
	expect_baseline("after dropped clients");
	stop();
}
END_TEST

/* Reads on FD into BUF (CAP bytes, *HAVE in use) until it holds a whole
 * line, within TIMEOUT_MS, in bulk. Returns the line's length (its LF
 * made a NUL; the bytes after it stay in BUF), -1 on timeout, -2 at end
 * of input. */
static long read_long_line(int fd, char *buf, size_t cap, size_t *have, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;

	for (;;) {
		char *lf = memchr(buf, '\n', *have);
		if (lf != NULL) {
			long n = (long)(lf - buf);
			*lf = '\0';
			return n;
		}
		int left = (int)(deadline - now_ms());
		if (left <= 0 || *have == cap)
			return -1;
		struct pollfd pfd = {fd, POLLIN, 0};
		if (poll(&pfd, 1, left) <= 0)
			continue;
		ssize_t n = recv(fd, buf + *have, cap - *have, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return -2;
		if (n > 0)
			*have += (size_t)n;
	}
}

/* A status line longer than the daemon's stack line, built when memory
 * has run out: the client gets the whole reply, an error, or the end of
 * the connection, never a status without its text (and a stray blank
 * line that answers its next request). The long request is read before
 * the limit: it waits in the socket behind a hanging request. */
START_TEST(test_out_of_memory_long_reply)
{
	struct client a;
	struct rlimit old;
	const size_t tok_len = 200000;
	size_t cap = tok_len + 4096, have = 0;
	char *req = malloc(tok_len + 32), *buf = malloc(cap);

	ck_assert_ptr_nonnull(req);
	ck_assert_ptr_nonnull(buf);
	start("max-line-length = 1M", NULL);
	client_open(&a, D.port);
	memcpy(req, "PING ", 5);
	memset(req + 5, 't', tok_len);
	memcpy(req + 5 + tok_len, "\nPING next\n", 11);
	long long before = daemon_stat(&D, "commands");
	client_send_str(&a, "hangt\n");
	wait_pending(before);
	ck_assert_int_eq(client_send(&a, req, tok_len + 16, 5000), (ssize_t)(tok_len + 16));
	squeeze_data_limit(&old);
	/* hangt times out after 500 ms; then the PINGs are read. */
	long n = read_long_line(a.fd, buf, cap, &have, 5000);
	ck_assert_msg(n >= 0 && strcmp(buf, "ERR timeout no answer in 500 ms") == 0, "hangt: %ld '%.80s'", n, buf);
	have -= (size_t)n + 1;
	memmove(buf, buf + n + 1, have);
	n = read_long_line(a.fd, buf, cap, &have, 5000);
	int whole = n == (long)tok_len + 8 && strncmp(buf, "OK pong ", 8) == 0 && strspn(buf + 8, "t") == tok_len;
	printf("out of memory, long reply: %s\n", n == -2  ? "connection closed"
	                                          : whole  ? "whole"
	                                          : n >= 0 ? buf
	                                                   : "nothing in 5 s");
	ck_assert_msg(n == -2 || whole || strncmp(buf, "ERR ", 4) == 0,
	              "PING with a %zu-byte token answered '%.60s' (%ld bytes): a status without its text", tok_len,
	              buf, n);
	if (n >= 0) {
		/* The next reply is the next PING's. */
		have -= (size_t)n + 1;
		memmove(buf, buf + n + 1, have);
		n = read_long_line(a.fd, buf, cap, &have, 5000);
		ck_assert_msg(n == -2 || strcmp(buf, "OK pong next") == 0, "the reply to PING next is '%.60s'", buf);
	}
	ck_assert_int_eq(prlimit(D.pid, RLIMIT_DATA, &old, NULL), 0);
	client_close(&a);
	free(req);
	free(buf);
	expect_baseline("after a long reply out of memory");
	stop();
}
END_TEST

/* Appends OPTION to the sanitizer options variable NAME in this process's
 * environment, which the daemons it starts inherit. */
static void add_sanitizer_option(const char *name, const char *option)
{
	const char *old = getenv(name);
	char *value = NULL;

	ck_assert_int_ge(asprintf(&value, "%s%s%s", old != NULL ? old : "", old != NULL && *old ? ":" : "", option), 0);
	ck_assert_int_eq(setenv(name, value, 1), 0);
	free(value);
}

/* A module that crashes takes the daemon down (it runs in-process): the
 * daemon dies of the signal, and a new one on the same addresses, unix
 * socket file included, serves again. */
static void crash_and_restart(const char *how, int sig)
{
	struct daemon_opts opts = {.listen_fd = -1, .log_path = log_path};
	struct client c, other, u;
	struct reply r;
	struct stat st;
	char req[64], logged[64];

	/* A sanitizer runtime may catch SIGSEGV itself (ASan does), report it
	 * and exit with status 1; let the signal through, as a build without
	 * sanitizers does, so the daemon dies of it. (Each test runs in a
	 * process of its own: this reaches no other test.) */
	add_sanitizer_option("UBSAN_OPTIONS", "handle_segv=0:handle_sigbus=0:handle_abort=0");
	add_sanitizer_option("ASAN_OPTIONS", "handle_segv=0:handle_sigbus=0:handle_abort=0");
	start(NULL, NULL);
	client_open(&other, D.port);
	client_open_unix(&u, unix_path);
	probe(&other, "before-crash");
	client_open(&c, D.port);
	snprintf(req, sizeof(req), "crash %s\n", how);
	client_send_str(&c, req);
	int rc = daemon_wait_exit(&D, 5000);
	ck_assert_msg(rc == 128 + sig, "udo-vsockd ended with %d, not signal %d", rc, sig);
	snprintf(logged, sizeof(logged), "faulty: crashing with %s", how);
	ck_assert(file_contains(log_path, logged));
	/* Everyone's connection ends; the unix socket file stays behind. */
	ck_assert(client_wait_eof(&c, 2000));
	ck_assert(client_wait_eof(&other, 2000));
	ck_assert(client_wait_eof(&u, 2000));
	client_close(&c);
	client_close(&other);
	client_close(&u);
	ck_assert_int_eq(lstat(unix_path, &st), 0);

	/* What a supervisor does (systemd: Restart=on-failure). */
	ck_assert_msg(daemon_start(&D, &opts, 10000) == 0, "no READY=1 from the restarted daemon");
	client_open(&c, D.port);
	probe(&c, "after-restart");
	client_open_unix(&u, unix_path);
	probe(&u, "after-restart-unix");
	client_request(&c, "alloc 1000", &r, 5000);
	ck_assert_str_eq(r.status, "OK allocated=1000");
	client_close(&c);
	client_close(&u);
	WAIT_FOR(process_child_count(D.pid) == 0, 5000, "the daemon has %d children", process_child_count(D.pid));
	stop();
}

START_TEST(test_module_segv)
{
	crash_and_restart("segv", SIGSEGV);
}
END_TEST

START_TEST(test_module_abort)
{
	crash_and_restart("abort", SIGABRT);
}
END_TEST

/* A module request that never answers holds only its own connection;
 * when that client goes away the request is cancelled and everything it
 * held is freed. */
START_TEST(test_module_hang_disconnect)
{
	struct client a, b;
	char stat[160];

	start(NULL, NULL);
	client_open(&a, D.port);
	client_open(&b, D.port);
	client_send_str(&a, "hang\nPING behind\n");
	for (int i = 0; i < 5; i++) {
		int64_t t0 = now_ms();
		probe(&b, "meanwhile");
		ck_assert_int_lt(now_ms() - t0, 1000);
	}
	/* Replies stay in order: nothing comes while the first one hangs. */
	ck_assert(client_silent_for(&a, 300));
	faultstat(&b, stat, sizeof(stat));
	ck_assert_str_eq(stat, "hang=1/0 flood=0/0/0");
	client_close(&a);
	int64_t deadline = now_ms() + 3000;
	do {
		sleep_ms(100); /* poll interval */
		faultstat(&b, stat, sizeof(stat));
	} while (strcmp(stat, "hang=1/1 flood=0/0/0") != 0 && now_ms() < deadline);
	ck_assert_msg(strcmp(stat, "hang=1/1 flood=0/0/0") == 0,
	              "the client of a hanging module request left 3 s ago and the request was not cancelled (%s)",
	              stat);
	client_close(&b);
	expect_baseline("after a hanging request's client left");
	stop();
}
END_TEST

/* Reloads D's config file and waits until the daemon is ready again. */
static void reload(void)
{
	daemon_signal(&D, SIGHUP);
	ck_assert_ptr_nonnull(daemon_wait_notify(&D, "RELOADING=1", 5000));
	ck_assert_ptr_nonnull(daemon_wait_notify(&D, "READY=1", 5000));
}

/* A module request that never answers is cut by the command's timeout:
 * the module cancels it, the client gets ERR timeout and its connection
 * goes on; also when a reload dropped the module meanwhile. */
START_TEST(test_module_timeout)
{
	struct client a, b;
	struct reply r;
	char stat[160];

	start(NULL, NULL);
	client_open(&a, D.port);
	client_open(&b, D.port);
	int64_t t0 = now_ms();
	client_send_str(&a, "hangt\nPING behind\n");
	probe(&b, "meanwhile");
	ck_assert_int_eq(client_read_reply(&a, &r, 5000), 0);
	int64_t took = now_ms() - t0;
	ck_assert_str_eq(r.status, "ERR timeout no answer in 500 ms");
	ck_assert_msg(took >= 450 && took < 3000, "ERR timeout after %lld ms", (long long)took);
	ck_assert_int_eq(client_read_reply(&a, &r, 5000), 0);
	ck_assert_str_eq(r.status, "OK pong behind");
	faultstat(&b, stat, sizeof(stat));
	ck_assert_str_eq(stat, "hang=1/1 flood=0/0/0");
	/* The client leaves first: its cancel comes from the timeout too. */
	long long before = daemon_stat(&D, "commands");
	client_send_str(&a, "hangt\n");
	wait_pending(before);
	client_close(&a);
	WAIT_FOR((faultstat(&b, stat, sizeof(stat)), strcmp(stat, "hang=2/2 flood=0/0/0") == 0), 3000,
	         "the timed-out request of a client that left was not cancelled (%s)", stat);
	ck_assert_str_eq(stat, "hang=2/2 flood=0/0/0");
	client_close(&b);
	expect_baseline("after timed-out requests");
	client_open(&b, D.port);

	/* The module's config goes away while its request hangs, and only
	 * the request holds it (the connection was accepted under a config
	 * without the module): the timeout's cancel drops the last reference
	 * from inside module code. */
	daemon_write_config(&D, "shutdown-grace = 500ms\n", NULL);
	reload();
	client_open(&a, D.port);
	write_config(NULL, NULL);
	reload();
	before = daemon_stat(&D, "commands");
	client_send_str(&a, "hangt\n");
	wait_pending(before);
	daemon_write_config(&D, "shutdown-grace = 500ms\n", NULL);
	reload();
	ck_assert_int_eq(client_read_reply(&a, &r, 5000), 0);
	ck_assert_str_eq(r.status, "ERR timeout no answer in 500 ms");
	client_request(&a, "hangt", &r, 5000);
	ck_assert_str_eq(r.status, "ERR unknown-command unknown command; HELP lists the commands");
	probe(&a, "after-unload");
	probe(&b, "after-unload");
	client_close(&a);
	client_close(&b);
	ck_assert(daemon_alive(&D));
	stop();
}
END_TEST

/* A module that floods output, synchronously or from its own timer, to
 * a client that reads or one that does not: the daemon's memory stays
 * bounded by max-output-buffer and other clients are served. */
START_TEST(test_module_flood)
{
	struct client a, slow, other;
	struct numbered nb;
	char stat[160];

	TEST_VSOCK_ONLY(); /* a cut reply and a stalled reader need vsock's pace and buffers */

	start("max-output-buffer = 256K", NULL);
	/* A reader with a small socket buffer: it takes the bytes as it is
	 * scheduled, and when the kernel preempts run() it cannot drain much,
	 * so a synchronous flood surely outruns max-output-buffer (with the
	 * default 256 KiB it sometimes kept pace and took all 64 MB). */
	client_open_rcvbuf(&a, D.port, 4096);
	client_open(&other, D.port);
	/* Within the buffer: all of it, in order. */
	client_send_str(&a, "flood 200000\n");
	read_numbered(a.fd, 0, &nb, 10000);
	ck_assert_msg(nb.lines == 2000 && nb.bad == 0 && strcmp(nb.status, "OK sent=200000") == 0,
	              "flood 200000: %ld lines, %ld bad, '%s'", nb.lines, nb.bad, nb.status);
	long rss0 = process_rss_kib(D.pid);

	/* 64 MB in one run(): far beyond max-output-buffer. */
	client_send_str(&a, "flood 64000000\n");
	read_numbered(a.fd, 0, &nb, 20000);
	long rss1 = process_rss_kib(D.pid);
	printf("module flood: 64 MB in run() -> %ld lines, %ld bad, '%s'; RSS %ld -> %ld KiB\n", nb.lines, nb.bad,
	       nb.status, rss0, rss1);
	ck_assert_msg(nb.bad == 0, "%ld malformed or missing lines", nb.bad);
	ck_assert_msg(strncmp(nb.status, CUT_STATUS, strlen(CUT_STATUS)) == 0, "after %ld lines: '%s'", nb.lines,
	              nb.status);
	ck_assert_msg(rss1 - rss0 < 8192, "RSS grew from %ld to %ld KiB", rss0, rss1);
	probe(&a, "after-sync-flood");

	/* Without end, from a timer, to a client that never reads. */
	client_open_rcvbuf(&slow, D.port, 4096);
	client_send_str(&slow, "flood 0 async\n");
	for (int i = 0; i < 10; i++) {
		int64_t t0 = now_ms();
		probe(&other, "during-async-flood");
		ck_assert_int_lt(now_ms() - t0, 1000);
		sleep_ms(100); /* a pace: probes spread over the flood's first second */
	}
	long rss2 = process_rss_kib(D.pid);
	faultstat(&other, stat, sizeof(stat));
	printf("module flood: endless flood to a client that does not read: RSS %ld -> %ld KiB; %s\n", rss0, rss2,
	       stat);
	ck_assert_msg(rss2 - rss0 < 8192, "RSS grew from %ld to %ld KiB", rss0, rss2);
	/* connected() told the module to stop. */
	ck_assert_str_eq(stat, "hang=0/0 flood=3/0/1");
	client_close(&slow);
	client_close(&a);
	probe(&other, "after-floods");
	client_close(&other);
	expect_baseline("after module floods");
	stop();
}
END_TEST

/* A program that writes much more than max-output-buffer to a client
 * that reads late: the daemon stops reading the program's output rather
 * than buffering it, and the client still gets every line. */
START_TEST(test_exec_flood_backpressure)
{
	struct client a, other;
	struct numbered nb;

	start("max-output-buffer = 64K", NULL);
	client_open(&other, D.port);
	client_open_rcvbuf(&a, D.port, 65536);
	long rss0 = process_rss_kib(D.pid);
	/* 400,000 lines, about 2.7 MB. */
	client_send_str(&a, "seq 400000\n");
	for (int i = 0; i < 10; i++) {
		int64_t t0 = now_ms();
		probe(&other, "during-exec-flood");
		ck_assert_int_lt(now_ms() - t0, 1000);
		sleep_ms(100); /* a pace: probes spread over the flood's first second */
	}
	long rss1 = process_rss_kib(D.pid);
	int kids = process_child_count(D.pid);
	read_numbered(a.fd, 1, &nb, 60000);
	printf("exec flood: seq 400000 read after 1 s: RSS %ld -> %ld KiB meanwhile, %d child; %ld lines, %ld bad, "
	       "'%s'\n",
	       rss0, rss1, kids, nb.lines, nb.bad, nb.status);
	ck_assert_msg(rss1 - rss0 < 1024, "RSS grew from %ld to %ld KiB while the client did not read", rss0, rss1);
	ck_assert_msg(nb.lines == 400000 && nb.bad == 0 && strcmp(nb.status, "OK exit=0") == 0,
	              "%ld of 400000 lines, %ld bad, then '%s'", nb.lines, nb.bad, nb.status);
	probe(&a, "after-exec-flood");
	client_close(&a);
	client_close(&other);
	expect_baseline("after an exec flood");
	stop();
}
END_TEST

/* True if the daemon under test is built with ASan: its allocator maps
 * its heap ahead, so lowering RLIMIT_DATA does not fail the daemon's next
 * allocation, and the out-of-memory cases cannot be staged that way. */
static int daemon_has_asan(void)
{
	const char *flags = getenv("UDO_TEST_SANITIZER_CFLAGS");

	return flags != NULL && strstr(flags, "address") != NULL;
}

/* The suite. */
static Suite *faults_suite(void)
{
	Suite *s = suite_create("faults");
	TCase *tc = tcase_create("module");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_module_errors);
	tcase_add_test(tc, test_module_segv);
	tcase_add_test(tc, test_module_abort);
	tcase_add_test(tc, test_module_hang_disconnect);
	tcase_add_test(tc, test_module_timeout);
	tcase_add_test(tc, test_module_flood);
	suite_add_tcase(s, tc);
	tc = tcase_create("memory");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 90);
	if (daemon_has_asan()) {
		printf("faults: the RLIMIT_DATA cases are left to the builds without ASan\n");
	} else {
		tcase_add_test(tc, test_out_of_memory);
		tcase_add_test(tc, test_out_of_memory_drop_logged);
		tcase_add_test(tc, test_out_of_memory_long_reply);
	}
	tcase_add_test(tc, test_exec_flood_backpressure);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(faults_suite());

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
