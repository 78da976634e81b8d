/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsock_jobs.c - detached jobs end to end (exec's detach = yes, JOBS, JOB,
 * ATTACH, KILL): a real udo-vsockd on CID 1, real programs, the real
 * udo-vsock CLI for ATTACH, and a unix listener with its own identity as
 * the other peer. tests/daemon_unix.sh runs it again over unix sockets
 * (under ASan in the ASan build). */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon-harness.h"
#include "test-transport.h"

#define CLI_BIN TEST_BUILDDIR "/src/udo-vsock/udo-vsock"

static struct daemon d; /* one daemon for all tests */

/* The commands under test (the harness adds [daemon] and the built-ins). */
static const char config_text[] =
    "[command count]\n"
    "handler = exec\n"
    "path = /bin/sh\n"
    "args = -c \"i=0; while [ $i -lt $1 ]; do echo line $i; i=$((i+1)); sleep 0.05; done; echo done >&2; exit "
    "3\" sh\n"
    "client-args = yes\n"
    "arg-pattern = [0-9]+\n"
    "detach = yes\n"
    "allow = any\n"
    "[command waiter]\n"
    "handler = exec\n"
    "path = /bin/sh\n"
    "args = -c \"echo ready; exec sleep 1000\"\n"
    "detach = yes\n"
    "max-concurrent-per-peer = 2\n"
    "job-keep = 1s\n"
    "allow = any\n"
    "[command seq]\n"
    "handler = exec\n"
    "path = /usr/bin/seq\n"
    "client-args = yes\n"
    "arg-pattern = [0-9]+\n"
    "detach = yes\n"
    "job-output = 4K\n"
    "allow = any\n"
    "[command gated]\n"
    "handler = exec\n"
    "path = /bin/sh\n"
    "args = -c \"read go < \\\"$1\\\"; exec seq 300000\" sh\n"
    "client-args = yes\n"
    "arg-pattern = /[a-zA-Z0-9/._-]+\n"
    "detach = yes\n"
    "job-output = 4K\n"
    "allow = any\n"
    "[command brief]\n"
    "handler = exec\n"
    "path = /bin/sleep\n"
    "args = 1000\n"
    "detach = yes\n"
    "timeout = 300ms\n"
    "allow = any\n"
    "[command jobs]\nhandler = jobs\nallow = any\n"
    "[command job]\nhandler = job\nallow = any\n"
    "[command attach]\nhandler = attach\nallow = any\n"
    "[command kill]\nhandler = kill\nallow = any\n";

/* Sends LINE on a new connection to PORT and reads its reply into R. */
static void request_port(unsigned int port, const char *line, struct reply *r)
{
	struct client c;

	client_open(&c, port);
	client_request(&c, line, r, 10000);
	client_close(&c);
}

/* Sends LINE on a new connection (vsock, or the unix listener OTHER when
 * set) and reads its reply into R. */
static void request_on(const char *other, const char *line, struct reply *r)
{
	struct client c;
	char path[400];

	if (other == NULL) {
		request_port(d.port, line, r);
		return;
	}
	snprintf(path, sizeof(path), "%s/%s", d.dir, other);
	client_open_unix(&c, path);
	client_request(&c, line, r, 10000);
	client_close(&c);
}

/* Starts a job with LINE and returns its id. */
static unsigned int start_job(const char *line)
{
	struct reply r;

	request_on(NULL, line, &r);
	ck_assert_msg(strncmp(r.status, "OK job=", 7) == 0, "%s: %s", line, r.status);
	return (unsigned int)strtoul(r.status + 7, NULL, 10);
}

/* JOB ID's status line in R, from the vsock peer. */
static void job_status(unsigned int id, struct reply *r)
{
	char line[64];

	snprintf(line, sizeof(line), "job %u", id);
	request_on(NULL, line, r);
}

/* KILL ID, with SIG unless NULL, from the vsock peer; the reply in R. */
static void kill_job(unsigned int id, const char *sig, struct reply *r)
{
	char line[64];

	snprintf(line, sizeof(line), "kill %u%s%s", id, sig != NULL ? " " : "", sig != NULL ? sig : "");
	request_on(NULL, line, r);
}

/* Whether JOB ID says WORD (e.g. "state=exited"). */
static int job_says(unsigned int id, const char *word)
{
	struct reply r;

	job_status(id, &r);
	return strstr(r.status, word) != NULL;
}

/* Starts DD on config_text, with a second, unix listener whose peer is
 * "other" (other.sock in its directory). */
static void jobs_daemon_boot(struct daemon *dd)
{
	char extra[600];

	daemon_init(dd);
	snprintf(extra, sizeof(extra), "listen = unix:%s/other.sock identity=other\n", dd->dir);
	daemon_write_config(dd, extra, config_text);
	ck_assert_msg(daemon_start(dd, NULL, 10000) == 0, "udo-vsockd did not report READY=1 on port %u", dd->port);
}

/* Runs the CLI: udo-vsock vsock:1:PORT ARGS...; its output in OUT. Returns its exit status. */
static int run_cli(char *out, size_t outlen, const char *a1, const char *a2)
{
	char addr[300], err[4096];
	char *argv[] = {CLI_BIN, addr, (char *)a1, (char *)a2, NULL};

	if (test_transport_unix()) {
		memcpy(addr, "unix:", 5);
		test_unix_path(d.port, addr + 5, sizeof(addr) - 5);
	} else {
		snprintf(addr, sizeof(addr), "vsock:1:%u", d.port);
	}
	int rc = run_process(argv, out, outlen, err, sizeof(err), 120000);
	if (rc != 0 && err[0] != '\0')
		fprintf(stderr, "udo-vsock %s %s: rc %d: %s\n", a1, a2, rc, err);
	return rc;
}

/* Detach, leave, ATTACH from a new connection with the CLI: every line
 * and the exit status come back; JOB and JOBS tell the end. */
START_TEST(test_detach_attach_exit)
{
	static char out[65536];
	char id[16], want[64];
	struct reply r;
	unsigned int n = start_job("count 20");

	/* The connection that started it is closed: the job runs on. */
	ck_assert(job_says(n, "state=running"));
	snprintf(id, sizeof(id), "%u", n);
	int rc = run_cli(out, sizeof(out), "attach", id);
	ck_assert_int_eq(rc, 3);
	for (int i = 0; i < 20; i++) {
		snprintf(want, sizeof(want), "line %d\n", i);
		ck_assert_msg(strstr(out, want) != NULL, "attach lost '%s' of\n%s", want, out);
	}
	ck_assert_ptr_nonnull(strstr(out, "done\n")); /* stderr, merged into the kept output */
	WAIT_FOR(job_says(n, "state=exited"), 10000, "JOB %u never says exited", n);
	job_status(n, &r);
	ck_assert_ptr_nonnull(strstr(r.status, " exit=3"));
	ck_assert_ptr_nonnull(strstr(r.status, "command=count"));
	/* Reattaching to an ended job replays what was kept, then its EXIT. */
	rc = run_cli(out, sizeof(out), "attach", id);
	ck_assert_int_eq(rc, 3);
	ck_assert_ptr_nonnull(strstr(out, "line 0\nline 1\n"));
	request_on(NULL, "jobs", &r);
	snprintf(want, sizeof(want), "id=%u command=count state=exited", n);
	int seen = 0;
	for (int i = 0; i < r.ndata; i++)
		seen |= strstr(r.data[i], want) != NULL;
	ck_assert_msg(seen, "JOBS does not list job %u", n);
}
END_TEST

/* Another peer (the unix listener's identity) neither sees nor touches
 * the job: JOBS, JOB, ATTACH and KILL all say not-found. */
START_TEST(test_other_peer)
{
	char line[64];
	struct reply r;
	unsigned int n = start_job("waiter");

	request_on("other.sock", "jobs", &r);
	ck_assert_int_eq(r.ndata, 0);
	ck_assert_str_eq(r.status, "OK");
	const char *verbs[] = {"job", "attach", "kill"};
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		snprintf(line, sizeof(line), "%s %u%s", verbs[i], n, i == 2 ? " KILL" : "");
		request_on("other.sock", line, &r);
		ck_assert_msg(strncmp(r.status, "ERR not-found ", 14) == 0, "%s from another peer: %s", line, r.status);
	}
	ck_assert(job_says(n, "state=running"));
	/* Its own peer may. */
	kill_job(n, "KILL", &r);
	ck_assert_str_eq(r.status, "OK");
	WAIT_FOR(job_says(n, "signal=KILL"), 10000, "job %u not killed", n);
}
END_TEST

/* KILL sends the named signal; the job's group dies of it; a second
 * KILL says it has ended; a bad signal or id is a usage error. */
START_TEST(test_kill)
{
	struct reply r;
	unsigned int n = start_job("waiter");

	kill_job(n, "NOSUCH", &r);
	ck_assert_msg(strncmp(r.status, "ERR usage ", 10) == 0, "%s", r.status);
	request_on(NULL, "kill x1", &r);
	ck_assert_msg(strncmp(r.status, "ERR usage ", 10) == 0, "%s", r.status);
	kill_job(n, "SIGINT", &r);
	ck_assert_str_eq(r.status, "OK");
	WAIT_FOR(job_says(n, "state=signaled"), 10000, "job %u did not die of SIGINT", n);
	ck_assert(job_says(n, "signal=INT"));
	kill_job(n, "SIGINT", &r);
	ck_assert_msg(strncmp(r.status, "ERR failed ", 11) == 0, "%s", r.status);
}
END_TEST

/* max-concurrent-per-peer counts running jobs and remembered ones: with
 * two running a third is busy; an ended one is forgotten for a new one,
 * and by itself after job-keep. */
START_TEST(test_limits_and_keep)
{
	struct reply r;
	unsigned int a = start_job("waiter"), b = start_job("waiter");

	request_on(NULL, "waiter", &r);
	ck_assert_msg(strncmp(r.status, "ERR busy ", 9) == 0, "a third job: %s", r.status);
	kill_job(a, NULL, &r);
	ck_assert_str_eq(r.status, "OK");
	WAIT_FOR(job_says(a, "signal=TERM"), 10000, "job %u did not end", a);
	unsigned int c = start_job("waiter"); /* forgets A */
	job_status(a, &r);
	ck_assert_msg(strncmp(r.status, "ERR not-found ", 14) == 0, "job %u kept: %s", a, r.status);
	kill_job(b, "KILL", &r);
	kill_job(c, "KILL", &r);
	WAIT_FOR(job_says(b, "state=signaled"), 10000, "job %u did not end", b);
	/* job-keep = 1s: then it is gone. */
	WAIT_FOR(!job_says(b, "id="), 10000, "job %u never forgotten", b);
	job_status(b, &r);
	ck_assert_msg(strncmp(r.status, "ERR not-found ", 14) == 0, "%s", r.status);
}
END_TEST

/* The output of seq 1 N in BUF. Returns its length. */
static size_t seq_text(int n, char *buf, size_t size)
{
	size_t len = 0;

	for (int i = 1; i <= n && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%d\n", i);
	return len;
}

/* Nobody attached: a job writing far more than job-output never blocks;
 * the newest 4 KiB are kept, and ATTACH gives exactly those. */
START_TEST(test_output_kept_bounded)
{
	static char out[65536], all[2000000];
	char id[16];
	struct reply r;
	unsigned int n = start_job("seq 100000");
	size_t len = seq_text(100000, all, sizeof(all));

	WAIT_FOR(job_says(n, "state=exited"), 20000, "seq blocked: its output is not drained");
	job_status(n, &r);
	ck_assert_msg(strstr(r.status, " exit=0") != NULL && strstr(r.status, " output=588895 kept=4096") != NULL, "%s",
	              r.status);
	snprintf(id, sizeof(id), "%u", n);
	ck_assert_int_eq(run_cli(out, sizeof(out), "attach", id), 0);
	ck_assert_uint_eq(strlen(out), 4096);
	ck_assert(memcmp(out, all + len - 4096, 4096) == 0);
}
END_TEST

/* Attached, a client misses nothing although the ring is 4 KiB: the
 * program waits for the client. The job starts writing only once the CLI
 * is attached (it waits on a FIFO the test opens then). */
START_TEST(test_attached_misses_nothing)
{
	static char out[2200000], want[2200000];
	char id[16], words[64], fifo[300], line[400];
	struct reply r;
	size_t len = seq_text(300000, want, sizeof(want));

	snprintf(fifo, sizeof(fifo), "%s/gate", d.dir);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	snprintf(line, sizeof(line), "gated %s", fifo);
	unsigned int n = start_job(line);
	snprintf(id, sizeof(id), "%u", n);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int rc = run_cli(out, sizeof(out), "attach", id);
		if (rc != 0 || strlen(out) != len || memcmp(out, want, len) != 0) {
			fprintf(stderr, "attached: rc %d, got %zu bytes of seq's %zu, or other bytes\n", rc,
			        strlen(out), len);
			_exit(1);
		}
		_exit(0);
	}
	WAIT_FOR(job_says(n, "attached=yes"), 20000, "the CLI never attached to job %u", n);
	FILE *gate = fopen(fifo, "w");
	ck_assert_ptr_nonnull(gate);
	fputs("go\n", gate);
	fclose(gate);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the attached CLI missed output");
	/* The daemon counted all of it too. */
	job_status(n, &r);
	snprintf(words, sizeof(words), " output=%zu ", len);
	ck_assert_msg(strstr(r.status, words) != NULL, "%s (want%s)", r.status, words);
	unlink(fifo);
}
END_TEST

/* One client at a time: a second ATTACH is busy until the first leaves,
 * and leaving does not touch the job. */
START_TEST(test_one_attached)
{
	char line[64], busy[512];
	struct client a, b;
	struct reply r;
	unsigned int n = start_job("waiter");

	snprintf(line, sizeof(line), "attach %u\n", n);
	client_open(&a, d.port);
	client_send_str(&a, line);
	client_expect_line(&a, "OK session", 10000);
	WAIT_FOR(job_says(n, "attached=yes"), 10000, "ATTACH did not attach");
	client_open(&b, d.port);
	client_send_str(&b, line);
	ck_assert_int_gt(client_read_line(&b, busy, sizeof(busy), 10000), 0);
	ck_assert_msg(strncmp(busy, "ERR busy ", 9) == 0, "a second ATTACH: %s", busy);
	client_close(&b);
	client_close(&a);
	WAIT_FOR(job_says(n, "attached=no"), 10000, "the client left, the job stays attached");
	ck_assert(job_says(n, "state=running"));
	client_open(&b, d.port);
	client_send_str(&b, line);
	client_expect_line(&b, "OK session", 10000);
	client_close(&b);
	kill_job(n, "KILL", &r);
	ck_assert_str_eq(r.status, "OK");
}
END_TEST

/* A job's timeout: SIGTERM, and JOB says timeout. */
START_TEST(test_timeout)
{
	unsigned int n = start_job("brief");

	WAIT_FOR(job_says(n, "state=timeout"), 10000, "job %u was not stopped at its timeout", n);
	ck_assert(job_says(n, "signal=TERM"));
}
END_TEST

/* The daemon's stop kills a running job's process group, and the daemon
 * exits cleanly (status 0: under ASan, also no leak) with jobs running
 * and remembered. */
START_TEST(test_daemon_stop)
{
	struct daemon d2;
	struct reply r;

	jobs_daemon_boot(&d2);
	request_port(d2.port, "count 1", &r);
	ck_assert_msg(strncmp(r.status, "OK job=", 7) == 0, "%s", r.status);
	request_port(d2.port, "waiter", &r);
	ck_assert_msg(strncmp(r.status, "OK job=", 7) == 0, "%s", r.status);
	char line[64];
	snprintf(line, sizeof(line), "job %lu", strtoul(r.status + 7, NULL, 10));
	request_port(d2.port, line, &r);
	const char *p = strstr(r.status, " pid=");
	ck_assert_msg(p != NULL && strstr(r.status, "state=running") != NULL, "%s", r.status);
	pid_t pid = (pid_t)atol(p + 5);
	ck_assert_int_eq(daemon_stop(&d2, 10000), 0);
	wait_process_gone(pid, 10000);
	daemon_cleanup(&d2);
}
END_TEST

/* Starts the daemon for every test. */
static void jobs_daemon_start(void)
{
	jobs_daemon_boot(&d);
}

/* Stops it: every job's process dies with it. */
static void jobs_daemon_stop(void)
{
	daemon_stop(&d, 10000);
	daemon_cleanup(&d);
}

/* The suite; the daemon runs once for all tests (unchecked fixture). */
static Suite *jobs_suite(void)
{
	Suite *s = suite_create("jobs");
	TCase *tc = tcase_create("jobs");

	tcase_add_unchecked_fixture(tc, jobs_daemon_start, jobs_daemon_stop);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_detach_attach_exit);
	tcase_add_test(tc, test_other_peer);
	tcase_add_test(tc, test_kill);
	tcase_add_test(tc, test_limits_and_keep);
	tcase_add_test(tc, test_output_kept_bounded);
	tcase_add_test(tc, test_attached_misses_nothing);
	tcase_add_test(tc, test_one_attached);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_daemon_stop);
	suite_add_tcase(s, tc);
	return s;
}

/* Runs the suite. */
int main(void)
{
	SRunner *sr = srunner_create(jobs_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
