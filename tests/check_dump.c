/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* check_dump - `udo-vsockd -D`: the effective configuration, every
 * default filled in, run as the built binary; reading the dump back
 * gives the same dump byte for byte and the same configuration. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/udo-vsockd/conf.h"
#include "../src/udo-vsockd/handler.h"
#include "../src/udo-vsockd/resolve.h"
#include "conf-harness.h"
#include "daemon-harness.h"

#define DUMP_MAX 65536

/* Every [daemon] key, in the order of the dump. */
static const char *const daemon_keys[] = {
    "listen",
    "include",
    "allow",
    "deny",
    "module-dir",
    "module",
    "log-level",
    "max-connections",
    "max-connections-per-peer",
    "idle-timeout",
    "line-timeout",
    "max-line-length",
    "max-arguments",
    "max-output-buffer",
    "max-buffered",
    "commands-per-read",
    "bytes-per-read",
    "shutdown-grace",
    "accept-pause",
    "log-peer-burst",
    "log-peer-interval",
    "audit",
    "audit-burst",
    "audit-interval",
    "metrics-listen",
    "metrics-max-peers",
    "peers-dir",
};

/* True if TEXT has a line starting with PREFIX. */
static int has_line_start(const char *text, const char *prefix)
{
	size_t len = strlen(prefix);

	for (const char *p = text; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p != NULL ? p + 1 : NULL) {
		if (strncmp(p, prefix, len) == 0)
			return 1;
	}
	return 0;
}

/* Asserts that DUMP has the line LINE (without its LF). */
static void assert_line(const char *dump, const char *line)
{
	char want[1024];

	snprintf(want, sizeof(want), "\n%s\n", line);
	ck_assert_msg(strstr(dump, want) != NULL, "no line '%s' in the dump:\n%.2000s", line, dump);
}

/* Asserts two access lists are the same rules in the same order. */
static void assert_same_acl(const struct acl_entry *a, const struct acl_entry *b, const char *what)
{
	for (; a != NULL && b != NULL; a = a->next, b = b->next) {
		ck_assert_msg(
		    a->allow == b->allow && a->any == b->any && a->cid_low == b->cid_low &&
		        a->cid_high == b->cid_high &&
		        (a->identity == NULL ? b->identity == NULL
		                             : b->identity != NULL && strcmp(a->identity, b->identity) == 0) &&
		        a->glob == b->glob &&
		        (a->name == NULL ? b->name == NULL : b->name != NULL && strcmp(a->name, b->name) == 0),
		    "%s: access rules differ", what);
	}
	ck_assert_msg(a == NULL && b == NULL, "%s: access lists differ in length", what);
}

/* Asserts the configurations at PATH_A and PATH_B are the same as the
 * daemon sees them: limits, log level, listeners, rules and commands. */
static void assert_same_config(const char *path_a, const char *path_b)
{
	struct config *a = config_load(path_a, stderr), *b = config_load(path_b, stderr);

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_msg(memcmp(&a->limits, &b->limits, sizeof(a->limits)) == 0, "[daemon] limits differ: %s and %s",
	              path_a, path_b);
	ck_assert_int_eq(a->log_level, b->log_level);
	ck_assert_str_eq(a->peers_dir != NULL ? a->peers_dir : "(none)",
	                 b->peers_dir != NULL ? b->peers_dir : "(none)");
	ck_assert_str_eq(a->metrics_listen != NULL ? a->metrics_listen : "(none)",
	                 b->metrics_listen != NULL ? b->metrics_listen : "(none)");
	const struct listen_conf *la = a->listeners, *lb = b->listeners;
	for (; la != NULL && lb != NULL; la = la->next, lb = lb->next) {
		ck_assert_str_eq(la->text, lb->text);
		ck_assert_int_eq(la->backlog, lb->backlog);
		ck_assert_uint_eq(la->mux_cid, lb->mux_cid);
		ck_assert_str_eq(la->identity != NULL ? la->identity : "(none)",
		                 lb->identity != NULL ? lb->identity : "(none)");
	}
	ck_assert_msg(la == NULL && lb == NULL, "listeners differ in number");
	assert_same_acl(a->default_acl, b->default_acl, "[daemon]");
	const struct peer_conf *pa = a->peers, *pb = b->peers;
	for (; pa != NULL && pb != NULL; pa = pa->next, pb = pb->next) {
		ck_assert_str_eq(pa->name, pb->name);
		ck_assert_uint_eq(pa->cid, pb->cid);
	}
	ck_assert_msg(pa == NULL && pb == NULL, "[peer] sections differ in number");
	const struct command *ca = a->commands, *cb = b->commands;
	for (; ca != NULL && cb != NULL; ca = ca->next, cb = cb->next) {
		ck_assert_str_eq(ca->name, cb->name);
		ck_assert_str_eq(ca->kind->name, cb->kind->name);
		ck_assert_int_eq(ca->min_args, cb->min_args);
		ck_assert_int_eq(ca->max_args, cb->max_args);
		ck_assert_str_eq(ca->usage, cb->usage);
		ck_assert_str_eq(ca->summary, cb->summary);
		assert_same_acl(ca->acl, cb->acl, ca->name);
	}
	ck_assert_msg(ca == NULL && cb == NULL, "commands differ in number");
	config_unref(a);
	config_unref(b);
}

/*
 * Dumps PATH, writes the dump to a file and dumps that: both exit 0, the
 * dumps are equal byte for byte, every [daemon] key is in them, and both
 * files load to the same configuration. Returns the first dump (static).
 */
static const char *round_trip(const char *path)
{
	static char first[DUMP_MAX];
	char err[DUMP_MAX], again[DUMP_MAX], name[64];
	static int n;

	int rc = conf_run_daemon("-D", path, NULL, first, err, DUMP_MAX);
	ck_assert_msg(rc == 0, "-D %s: exit %d; stderr: %.2000s", path, rc, err);
	ck_assert_msg(strlen(first) < DUMP_MAX - 1, "dump of %s cut short", path);
	for (size_t i = 0; i < sizeof(daemon_keys) / sizeof(daemon_keys[0]); i++) {
		char set[64], unset[64];
		snprintf(set, sizeof(set), "%s = ", daemon_keys[i]);
		snprintf(unset, sizeof(unset), "# %s:", daemon_keys[i]);
		ck_assert_msg(has_line_start(first, set) || has_line_start(first, unset),
		              "no key '%s' in the dump:\n%.2000s", daemon_keys[i], first);
	}
	ck_assert_msg(!has_line_start(first, "include ="), "an include line in the dump:\n%.2000s", first);
	/* Every [peer] section with its every key (cid, its only one). */
	for (const char *sec = strstr(first, "\n[peer "); sec != NULL; sec = strstr(sec + 1, "\n[peer ")) {
		const char *body = strchr(sec + 1, '\n');
		ck_assert_msg(body != NULL && strncmp(body, "\ncid = ", 7) == 0, "a [peer] without its cid:\n%.2000s",
		              first);
	}
	snprintf(name, sizeof(name), "dump%d.conf", n++);
	const char *dumped = conf_put(name, first);
	rc = conf_run_daemon("--dump-config", dumped, NULL, again, err, DUMP_MAX);
	ck_assert_msg(rc == 0, "-D of the dump: exit %d; stderr: %.1500s", rc, err);
	if (strcmp(first, again) != 0) {
		/* Check's messages are short: the first line that differs. */
		size_t at = 0;
		while (first[at] == again[at])
			at++;
		while (at > 0 && first[at - 1] != '\n')
			at--;
		ck_abort_msg("the dump of the dump of %s differs at line\n  %.*s\nwhich became\n  %.*s", path,
		             (int)strcspn(first + at, "\n"), first + at, (int)strcspn(again + at, "\n"), again + at);
	}
	assert_same_config(path, dumped);
	return first;
}

/* A minimal config: the defaults are all filled in. */
START_TEST(test_dump_minimal)
{
	const char *d = round_trip(conf_put("min.conf", "[daemon]\nlisten = vsock:any:5000\nallow = any\n"
	                                                "[command ping]\nhandler = ping\n"));

	ck_assert_msg(strncmp(strstr(d, "[daemon]\n"), "[daemon]\nlisten = vsock:any:5000 backlog=1024\n", 45) == 0,
	              "[daemon] does not start with its listener:\n%.2000s", d);
	assert_line(d, "allow = any");
	assert_line(d, "# deny: none");
	assert_line(d, "max-connections = 4096");
	assert_line(d, "idle-timeout = 5min");
	assert_line(d, "accept-pause = 500ms");
	assert_line(d, "max-buffered = 64M");
	assert_line(d, "max-line-length = 4K");
	assert_line(d, "log-level = notice");
	assert_line(d, "module-dir = " PKGLIBDIR);
	assert_line(d, "[command ping]\nhandler = ping\n# allow: not set (the [daemon] rules apply)");
	assert_line(d, "summary = check that the daemon answers; echoes TOKEN");
}
END_TEST

/* Every key of every kind, none at its default. */
START_TEST(test_dump_every_key)
{
	char text[8192];

	conf_put("inc.conf", "[command pass]\nhandler = handoff\nsocket = unix:@svc\nsend-timeout = 20s\n");
	snprintf(text, sizeof(text),
	         "# a comment the dump does not keep\n"
	         "[daemon]\n"
	         "listen = vsock:any:5000 backlog=77\n"
	         "listen = unix:%s/s.sock identity=admin\n"
	         "listen = vsock-mux:%s/mux.sock:6000 cid=7 name=\"vm one\"\n"
	         "allow = 3-100 unix:admin\n"
	         "deny = 42\n"
	         "allow = host web-1 db-*\n"
	         "module-dir = " TEST_BUILDDIR "/modules/.libs\n"
	         "module = facts\n"
	         "module = " TEST_BUILDDIR "/tests/modules/.libs/counter.so\n"
	         "log-level = debug\n"
	         "max-connections = 100\n"
	         "max-connections-per-peer = 7\n"
	         "idle-timeout = 90s\n"
	         "line-timeout = 1500ms\n"
	         "max-line-length = 2048\n"
	         "max-arguments = 10\n"
	         "max-output-buffer = 8192\n"
	         "max-buffered = 2MiB\n"
	         "commands-per-read = 5\n"
	         "bytes-per-read = 8K\n"
	         "shutdown-grace = 120s\n"
	         "accept-pause = 250ms\n"
	         "log-peer-burst = 0\n"
	         "log-peer-interval = 1s\n"
	         "audit = denied\n"
	         "audit-burst = 7\n"
	         "audit-interval = 120000ms\n"
	         "metrics-listen = tcp:localhost:9464\n"
	         "metrics-max-peers = 16\n"
	         "peers-dir = /run/udo-vsockd/peers\n"
	         "include = inc.conf\n"
	         "[peer Web-1]\n"
	         "cid = 12\n"
	         "[peer db-a]\n"
	         "cid = local\n"
	         "[command run]\n"
	         "handler = exec\n"
	         "allow = local\n"
	         "deny = any\n"
	         "summary = run it\n"
	         "audit-args = yes\n"
	         "path = /bin/echo\n"
	         "directory = /tmp\n"
	         "args = -n \"two words\" \"say \\\"hi\\\"\" back\\slash\n"
	         "client-args = yes\n"
	         "max-client-args = 3\n"
	         "arg-pattern = [a-z]+( [0-9])?\n"
	         "env-pass = HOME LANG\n"
	         "env-set = A=1 2\n"
	         "env-set = B=x=y\n"
	         "timeout = 3000ms\n"
	         "max-output-bytes = 524288\n"
	         "max-output-lines = 20\n"
	         "stdin = request\n"
	         "max-concurrent = 2\n"
	         "max-concurrent-per-peer = 1\n"
	         "usage = WORD...\n"
	         "[command fwd]\n"
	         "handler = proxy\n"
	         "connect = tcp:127.0.0.1:8080\n"
	         "max-buffer = 64K\n"
	         "connect-timeout = 750ms\n"
	         "idle-timeout = 0\n"
	         "[command shell]\n"
	         "handler = exec\n"
	         "path = /bin/sh\n"
	         "mode = session\n"
	         "pty = yes\n"
	         "session-window = 65536\n"
	         "idle-timeout = 90000ms\n"
	         "[command stats]\n"
	         "handler = stats\n"
	         "stats-all = local 5-9\n"
	         "[command nostats]\n"
	         "handler = stats\n"
	         "stats-all = none\n"
	         "[command count]\n"
	         "handler = counter\n"
	         "greeting = hello there\n"
	         "[command later]\n"
	         "handler = counter-later\n"
	         "timeout = 2s\n"
	         "[command uptime]\n"
	         "handler = facts\n"
	         "facts = uptime loadavg\n",
	         conf_dir, conf_dir);
	const char *d = round_trip(conf_put("full.conf", text));
	char line[600];

	ck_assert_ptr_null(strstr(d, "a comment the dump"));
	assert_line(d, "listen = vsock:any:5000 backlog=77");
	snprintf(line, sizeof(line), "listen = unix:%s/s.sock identity=admin backlog=1024", conf_dir);
	assert_line(d, line);
	snprintf(line, sizeof(line), "listen = vsock-mux:%s/mux.sock:6000 \"name=vm one\" cid=7 backlog=1024",
	         conf_dir);
	assert_line(d, line);
	assert_line(d, "allow = 3-100\nallow = unix:admin\ndeny = 42\nallow = host\nallow = web-1\nallow = db-*");
	/* After [daemon], before the commands, lower case, CIDs as numbers. */
	assert_line(d, "[peer web-1]\ncid = 12\n\n[peer db-a]\ncid = 1");
	ck_assert_msg(strstr(d, "[peer web-1]") < strstr(d, "[command "), "[peer] after a command:\n%.2000s", d);
	assert_line(d, "module = " TEST_BUILDDIR "/modules/.libs/facts.so");
	assert_line(d, "log-level = debug");
	assert_line(d, "idle-timeout = 90s");
	assert_line(d, "line-timeout = 1500ms");
	assert_line(d, "max-line-length = 2K");
	assert_line(d, "max-output-buffer = 8K");
	assert_line(d, "max-buffered = 2M");
	assert_line(d, "commands-per-read = 5\nbytes-per-read = 8K");
	assert_line(d, "shutdown-grace = 2min");
	assert_line(d, "log-peer-burst = 0");
	assert_line(d, "audit = denied\naudit-burst = 7\naudit-interval = 2min");
	assert_line(d,
	            "metrics-listen = tcp:127.0.0.1:9464\nmetrics-max-peers = 16\npeers-dir = /run/udo-vsockd/peers");
	/* The included command where the include line was: before the others. */
	ck_assert_ptr_nonnull(strstr(d, "[command run]"));
	ck_assert_msg(strstr(d, "[command pass]") < strstr(d, "[command run]"), "commands out of order:\n%.2000s", d);
	assert_line(d, "[command pass]\nhandler = handoff");
	assert_line(d, "socket = unix:@svc\nsend-timeout = 20s");
	assert_line(d, "[command run]\nhandler = exec\nallow = local\ndeny = any\nsummary = run it\naudit-args = yes");
	/* Blanks and quotes quoted; the backslash too (the quoting function does). */
	assert_line(d, "args = -n \"two words\" \"say \\\"hi\\\"\" \"back\\\\slash\"");
	assert_line(d, "directory = /tmp");
	assert_line(d, "client-args = yes");
	assert_line(d, "max-client-args = 3");
	assert_line(d, "arg-pattern = [a-z]+( [0-9])?");
	assert_line(d, "env-pass = HOME LANG");
	assert_line(d, "env-set = A=1 2\nenv-set = B=x=y");
	assert_line(d, "timeout = 3s");
	/* A session: its own defaults (timeout a day), its keys back. */
	assert_line(d, "[command shell]\nhandler = exec");
	assert_line(d, "timeout = 1440min\nmode = session\npty = yes\nsession-window = 64K\nidle-timeout = 90s");
	/* A request command shows the session keys unset. */
	assert_line(d, "mode = request\npty = no\n# session-window: not set\n# idle-timeout: not set");
	assert_line(d, "max-output-bytes = 512K");
	assert_line(d, "stdin = request");
	assert_line(d, "usage = WORD...");
	assert_line(d, "connect = tcp:127.0.0.1:8080\nmax-buffer = 64K\nconnect-timeout = 750ms\nidle-timeout = 0");
	assert_line(d, "stats-all = local 5-9");
	assert_line(d, "stats-all = none");
	assert_line(d, "# timeout: none (handler 'counter' always answers at once)\ngreeting = hello there");
	assert_line(d, "[command later]\nhandler = counter-later");
	assert_line(d, "timeout = 2s");
	assert_line(d, "facts = uptime loadavg");
}
END_TEST

/* The shipped host and guest configs, with the build tree's modules. */
START_TEST(test_dump_shipped)
{
	static const char *const files[] = {"udo-vsockd.conf", "udo-vsockd-guest.conf"};

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char text[1024], name[32];
		snprintf(text, sizeof(text),
		         "[daemon]\nmodule-dir = " TEST_BUILDDIR "/modules/.libs\ninclude = " TEST_SRCDIR "/conf/%s\n",
		         files[i]);
		snprintf(name, sizeof(name), "shipped%zu.conf", i);
		const char *d = round_trip(conf_put(name, text));
		assert_line(d, "[command ping]\nhandler = ping");
		assert_line(d, "[command facts]\nhandler = facts");
	}
}
END_TEST

/* A bad config: exit 1, file:line: messages as -t gives, nothing dumped. */
START_TEST(test_dump_errors)
{
	char out[DUMP_MAX], err[DUMP_MAX], want[600];
	const char *path = conf_put("bad.conf", "[daemon]\nlisten = vsock:any:5000\nidle-timeout = soon\n"
	                                        "[command ping]\nhandler = ping\n");

	int rc = conf_run_daemon("-D", path, NULL, out, err, DUMP_MAX);
	ck_assert_msg(rc == 1, "exit %d; stdout: %.1500s; stderr: %.1500s", rc, out, err);
	ck_assert_str_eq(out, "");
	snprintf(want, sizeof(want), "%s:3: idle-timeout: 'soon' is not a duration", path);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "stderr: %.1500s", err);
}
END_TEST

/* `--help` lists -D. */
START_TEST(test_dump_help)
{
	char out[DUMP_MAX], err[DUMP_MAX];
	char *argv[] = {(char *)daemon_binary(), (char *)"--help", NULL};

	ck_assert_int_eq(run_process(argv, out, sizeof(out), err, sizeof(err), 10000), 0);
	ck_assert_ptr_nonnull(strstr(out, "-D, --dump-config"));
}
END_TEST

/* The suite. */
static Suite *dump_suite(void)
{
	Suite *s = suite_create("dump");
	TCase *tc = tcase_create("dump");

	tcase_add_checked_fixture(tc, conf_setup, conf_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_dump_minimal);
	tcase_add_test(tc, test_dump_every_key);
	tcase_add_test(tc, test_dump_shipped);
	tcase_add_test(tc, test_dump_errors);
	tcase_add_test(tc, test_dump_help);
	suite_add_tcase(s, tc);
	return s;
}

/* Runs the suite; exit status 0 only if every test passed. */
int main(void)
{
	SRunner *sr = srunner_create(dump_suite());

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
