/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* check_conf - the udo-vsockd configuration parser, linked in and through
 * the built `udo-vsockd -t`; no sockets. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../src/udo-vsockd/conf.h"
#include "../src/udo-vsockd/dispatch.h"
#include "../src/udo-vsockd/handler.h"
#include "../src/udo-vsockd/resolve.h"
#include "conf-harness.h"
#include "daemon-harness.h"

/* Asserts error line I of L starts with "PATH:LINE: " and contains WHAT. */
static void assert_error(const struct conf_load *l, int i, const char *path, int line, const char *what)
{
	char prefix[600];

	ck_assert_msg(i < l->nlines, "only %d error lines, wanted line %d (%s)", l->nlines, i, what);
	snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
	ck_assert_msg(strncmp(l->lines[i], prefix, strlen(prefix)) == 0, "error '%s' does not start with '%s'",
	              l->lines[i], prefix);
	ck_assert_msg(strstr(l->lines[i], what) != NULL, "error '%s' does not mention '%s'", l->lines[i], what);
}

/* Asserts that PATH is refused with one error, at LINE, mentioning WHAT. */
static void expect_one_error(const char *path, int line, const char *what)
{
	struct conf_load l;

	conf_load(path, &l);
	ck_assert_ptr_null(l.conf);
	ck_assert_msg(l.nlines == 1, "%d error lines:\n%.2000s", l.nlines, l.errors);
	assert_error(&l, 0, path, line, what);
	conf_unload(&l);
}

/* Counts the commands of CONF. */
static int count_commands(const struct config *conf)
{
	int n = 0;

	for (const struct command *c = conf->commands; c != NULL; c = c->next)
		n++;
	return n;
}

#define HEAD "[daemon]\nlisten = vsock:any:5000\nallow = any\n"

/* The shipped config, unchanged, with the module directory of the build tree. */
static const char *shipped_wrapper(void)
{
	return conf_put("shipped.conf", "[daemon]\nmodule-dir = " TEST_BUILDDIR "/modules/.libs\n"
	                                "include = " TEST_SRCDIR "/conf/udo-vsockd.conf\n");
}

/* The shipped config parses, with built-in and module commands (its
 * uptime comes from the facts module: uptime(1) needs /proc files the
 * shipped unit hides) and the documented defaults. */
START_TEST(test_shipped_config)
{
	struct conf_load l;

	conf_load(shipped_wrapper(), &l);
	ck_assert_msg(l.conf != NULL, "shipped config: %s", l.errors);
	ck_assert_int_eq(l.nlines, 0);
	ck_assert_int_eq(count_commands(l.conf), 9);
	static const char *const names[] = {"ping", "help", "version", "whoami", "stats",
	                                    "time", "quit", "uptime",  "facts"};
	static const char *const kinds[] = {"ping", "help", "version", "whoami", "stats",
	                                    "time", "quit", "facts",   "facts"};
	for (size_t i = 0; i < 9; i++) {
		const struct command *c = config_find_command(l.conf, names[i]);
		ck_assert_msg(c != NULL, "no command %s", names[i]);
		ck_assert_str_eq(c->kind->name, kinds[i]);
	}
	/* Host-local only: a guest (CID 3) may not run them. */
	struct peer guest = {.transport = UDO_VSOCK_ADDR_VSOCK, .cid = 3};
	ck_assert(!access_allows(l.conf, config_find_command(l.conf, "uptime"), &guest));
	ck_assert(access_allows(l.conf, config_find_command(l.conf, "ping"), &guest));
	ck_assert_ptr_null(config_find_command(l.conf, "PING"));
	ck_assert_ptr_nonnull(l.conf->listeners);
	ck_assert_str_eq(l.conf->listeners->text, "vsock:any:5000");
	ck_assert_ptr_null(l.conf->listeners->next);
	ck_assert_ptr_nonnull(l.conf->default_acl);
	ck_assert_int_eq(l.conf->default_acl->any, 1);
	ck_assert_int_eq(l.conf->default_acl->allow, 1);
	const struct limits *lim = &l.conf->limits;
	ck_assert_uint_eq(lim->max_connections, 4096);
	ck_assert_uint_eq(lim->max_connections_per_peer, 128);
	ck_assert_uint_eq(lim->idle_timeout_ms, 300000);
	ck_assert_uint_eq(lim->line_timeout_ms, 10000);
	ck_assert_uint_eq(lim->max_line_length, 4096);
	ck_assert_uint_eq(lim->max_arguments, 64);
	ck_assert_uint_eq(lim->max_output_buffer, 1048576);
	conf_unload(&l);
}
END_TEST

/* Three different mistakes give three errors, each at its own line. */
START_TEST(test_all_errors_reported)
{
	struct conf_load l;
	const char *path = conf_put("three.conf", "[daemon]\n"                /* 1 */
	                                          "listen = vsock:any:5000\n" /* 2 */
	                                          "max-connections = lots\n"  /* 3 */
	                                          "allow = any\n"             /* 4 */
	                                          "colour = blue\n"           /* 5 */
	                                          "\n"                        /* 6 */
	                                          "[command ping]\n"          /* 7 */
	                                          "handler = pnig\n");        /* 8 */

	conf_load(path, &l);
	ck_assert_ptr_null(l.conf);
	ck_assert_msg(l.nlines == 3, "expected 3 error lines, got %d:\n%s", l.nlines, l.errors);
	assert_error(&l, 0, path, 3, "max-connections");
	assert_error(&l, 1, path, 5, "colour");
	assert_error(&l, 2, path, 8, "pnig");
	conf_unload(&l);
}
END_TEST

/* A misspelt handler is an error, not a command that fails at run time. */
START_TEST(test_unknown_handler)
{
	const char *path =
	    conf_put("typo.conf", HEAD "[command ping]\nhandler = ping\n[command pong]\nhandler = pingg\n");

	expect_one_error(path, 7, "unknown handler 'pingg'");

	path = conf_put("nohandler.conf", HEAD "[command ping]\nsummary = nothing\n");
	expect_one_error(path, 4, "no handler");
}
END_TEST

/* An arg-pattern is a PCRE2 pattern anchored at both ends by compile
 * options: syntax errors (also the old wrapper's anchoring escape
 * "[a-z]+)|(.*"), back-references (the first stalled the daemon for 5 s
 * on 90 bytes), patterns too large or too deeply nested are config
 * errors. What glibc's regcomp could not compile cheaply (the first two
 * are what fuzz_conf found) stays refused where PCRE2 refuses it too;
 * the rest now load, and their matching is bounded in time (check_pattern). */
START_TEST(test_arg_pattern_bounded)
{
	static const struct {
		const char *pattern, *why;
	} bad[] = {
	    {"l+++++++++++++++++++++++++++++++++++++++++++++++++++++++++", "quantifier does not follow"},
	    {".co*++++++++++", "quantifier does not follow"},
	    {"((a{255}){255}){255}", "too large"},
	    {"((((((((((((((((((a))))))))))))))))))", "too deeply nested"},
	    {"(a*)(a*)(a*)\\2\\3\\4b", "non-existent subpattern"},
	    {"(a*)(a*)(a*)\\1\\2\\3b", "back-references are not allowed"},
	    {"[a-z]+)|(.*", "unmatched closing parenthesis"},
	};
	static const char *const good[] = {
	    "[a-z0-9-]{1,63}",
	    "([0-9]{1,3}\\.){3}[0-9]{1,3}",
	    "(a{44}){45}",
	    "[]{}a]+|[[:alpha:]]{1990}",
	    "x{3,}y?z*",
	    "([a-z]+\\.)*[a-z]+",
	    "(on|off|[0-9]{1,3}%)",
	    "(a|b)+c{0,3}",
	    "((((a*)+)+)+)+",
	    "(((((a?)+)+)+)+)+",
	    "(x|)+",
	    "(a{45}){45}",
	    "[a-z]{2001}",
	};
	struct conf_load l;
	char text[600];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text),
		         HEAD "[command x]\nhandler = exec\npath = /bin/echo\nclient-args = yes\n"
		              "arg-pattern = %s\n",
		         bad[i].pattern);
		const char *path = conf_put("pattern.conf", text);
		conf_load(path, &l);
		ck_assert_msg(l.conf == NULL, "pattern '%s' was accepted", bad[i].pattern);
		ck_assert_int_eq(l.nlines, 1);
		assert_error(&l, 0, path, 8, bad[i].why);
		conf_unload(&l);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(text, sizeof(text),
		         HEAD "[command x]\nhandler = exec\npath = /bin/echo\nclient-args = yes\n"
		              "arg-pattern = %s\n",
		         good[i]);
		conf_load(conf_put("pattern.conf", text), &l);
		ck_assert_msg(l.conf != NULL, "pattern '%s' refused: %s", good[i], l.nlines > 0 ? l.lines[0] : "-");
		conf_unload(&l);
	}
}
END_TEST

/* Unknown keys in [daemon] and [command] are errors; so are stray lines. */
START_TEST(test_unknown_keys)
{
	struct conf_load l;
	const char *path = conf_put("keys.conf", "port = 5\n"                /* 1 */
	                                         "[daemon]\n"                /* 2 */
	                                         "listen = vsock:any:5000\n" /* 3 */
	                                         "max-conections = 4\n"      /* 4 */
	                                         "just words\n"              /* 5 */
	                                         "= value\n"                 /* 6 */
	                                         "key =\n"                   /* 7 */
	                                         "[demon]\n"                 /* 8 */
	                                         "listen = vsock:any:5001\n" /* 9: skipped */
	                                         "[command ping]\n"          /* 10 */
	                                         "handler = ping\n"          /* 11 */
	                                         "colour = red\n"            /* 12 */
	                                         "[command Bad!Name]\n"      /* 13 */
	                                         "handler = ping\n");        /* 14: skipped */

	conf_load(path, &l);
	ck_assert_ptr_null(l.conf);
	ck_assert_msg(l.nlines == 8, "expected 8 errors, got %d:\n%s", l.nlines, l.errors);
	assert_error(&l, 0, path, 1, "outside a section");
	assert_error(&l, 1, path, 4, "unknown setting 'max-conections'");
	assert_error(&l, 2, path, 5, "key = value");
	assert_error(&l, 3, path, 6, "missing key");
	assert_error(&l, 4, path, 7, "missing value");
	assert_error(&l, 5, path, 8, "unknown section [demon]");
	assert_error(&l, 6, path, 12, "no option 'colour'");
	assert_error(&l, 7, path, 13, "not a valid command name");
	conf_unload(&l);
}
END_TEST

/* A command defined twice names where it first was. */
START_TEST(test_duplicate_command)
{
	struct conf_load l;
	const char *path =
	    conf_put("dup.conf", HEAD "[command ping]\nhandler = ping\n\n[command PING]\nhandler = version\n");
	char where[600];

	conf_load(path, &l);
	ck_assert_ptr_null(l.conf);
	ck_assert_int_eq(l.nlines, 1);
	assert_error(&l, 0, path, 7, "already defined");
	snprintf(where, sizeof(where), "%s:4", path);
	ck_assert_ptr_nonnull(strstr(l.lines[0], where));
	conf_unload(&l);
}
END_TEST

/* Two listen lines for the same address are refused. */
START_TEST(test_duplicate_listen)
{
	struct conf_load l;
	const char *path = conf_put("listen.conf", "[daemon]\nlisten = vsock:any:7\nlisten = vsock:any:7\n"
	                                           "listen = nowhere:1\nlisten = vsock:any:8 backlog=0\n"
	                                           "[command ping]\nhandler = ping\n");

	conf_load(path, &l);
	ck_assert_ptr_null(l.conf);
	ck_assert_msg(l.nlines == 3, "got %d errors:\n%s", l.nlines, l.errors);
	assert_error(&l, 0, path, 3, "already listed");
	assert_error(&l, 1, path, 4, "listen");
	assert_error(&l, 2, path, 5, "backlog=0");
	conf_unload(&l);
}
END_TEST

/* metrics-listen takes loopback TCP and unix addresses only, in their
 * canonical form; anything else is refused at its file:line. */
START_TEST(test_metrics_listen)
{
	struct conf_load l;
	const char *ok =
	    conf_put("metrics-ok.conf", "[daemon]\nlisten = vsock:any:7\nmetrics-listen = tcp:localhost:9464\n"
	                                "metrics-max-peers = 0\n[command ping]\nhandler = ping\n");
	const char *bad =
	    conf_put("metrics-bad.conf", "[daemon]\nlisten = vsock:any:7\nmetrics-listen = tcp:0.0.0.0:9464\n"
	                                 "metrics-listen = tcp:10.1.2.3:80\nmetrics-listen = tcp:[::]:80\n"
	                                 "metrics-listen = tcp:127.0.0.1:0\nmetrics-listen = vsock:any:9\n"
	                                 "metrics-listen = unix:\nmetrics-max-peers = 65537\n"
	                                 "[command ping]\nhandler = ping\n");

	conf_load(ok, &l);
	ck_assert_ptr_nonnull(l.conf);
	ck_assert_str_eq(l.conf->metrics_listen, "tcp:127.0.0.1:9464");
	ck_assert_uint_eq(l.conf->limits.metrics_max_peers, 0);
	conf_unload(&l);
	conf_load(bad, &l);
	ck_assert_ptr_null(l.conf);
	ck_assert_msg(l.nlines == 7, "got %d errors:\n%s", l.nlines, l.errors);
	assert_error(&l, 0, bad, 3, "only a loopback address");
	assert_error(&l, 1, bad, 4, "only a loopback address");
	assert_error(&l, 2, bad, 5, "only a loopback address");
	assert_error(&l, 3, bad, 6, "PORT 1-65535");
	assert_error(&l, 4, bad, 7, "is not tcp:ADDRESS:PORT or unix:PATH");
	assert_error(&l, 5, bad, 8, "empty or too long");
	assert_error(&l, 6, bad, 9, "metrics-max-peers");
	conf_unload(&l);
}
END_TEST

/* guest-ready-hook and guest-shutdown-hook name an exec command, which
 * may come later in the files; another name is an error at its line. */
START_TEST(test_guest_hooks)
{
	struct conf_load l;
	const char *ok = conf_put("hooks-ok.conf", HEAD "guest-ready-hook = up\nguest-max-hooks = 2\n"
	                                                "[command up]\nhandler = exec\npath = /bin/true\n");
	const char *bad = conf_put("hooks-bad.conf", HEAD "guest-ready-hook = nosuch\n"  /* 4 */
	                                                  "guest-shutdown-hook = ping\n" /* 5 */
	                                                  "guest-max-hooks = 0\n"        /* 6 */
	                                                  "[command ping]\nhandler = ping\n");

	conf_load(ok, &l);
	ck_assert_msg(l.conf != NULL, "%s", l.errors);
	ck_assert_str_eq(l.conf->guest_hook[0], "up");
	ck_assert_ptr_null(l.conf->guest_hook[1]);
	ck_assert_uint_eq(l.conf->limits.guest_max_hooks, 2);
	conf_unload(&l);
	conf_load(bad, &l);
	ck_assert_ptr_null(l.conf);
	ck_assert_msg(l.nlines == 3, "got %d errors:\n%s", l.nlines, l.errors);
	assert_error(&l, 0, bad, 4, "guest-ready-hook: no [command] named 'nosuch'");
	assert_error(&l, 1, bad, 5, "guest-shutdown-hook: not an exec command: 'ping'");
	assert_error(&l, 2, bad, 6, "guest-max-hooks");
	conf_unload(&l);
}
END_TEST

/* The shipped guest admin config parses, host only, with the lifecycle
 * kinds; their options are checked: auto-thaw is never 0 nor above
 * 10min, filesystems are absolute paths, power needs an action. */
START_TEST(test_lifecycle_kinds)
{
	struct conf_load l;
	const char *shipped =
	    conf_put("admin.conf", "[daemon]\ninclude = " TEST_SRCDIR "/conf/udo-vsockd-guest-admin.conf\n");
	const char *bad = conf_put("admin-bad.conf", HEAD "[command freeze]\nhandler = freeze\n" /* 4-5 */
	                                                  "auto-thaw = 0\n"                      /* 6 */
	                                                  "auto-thaw = 11min\n"                  /* 7 */
	                                                  "filesystems = / var\n"                /* 8 */
	                                                  "[command halt]\nhandler = power\n"    /* 9-10 */
	                                                  "action = halt\n"                      /* 11 */
	                                                  "[command off]\nhandler = power\n");   /* 12-13 */

	conf_load(shipped, &l);
	ck_assert_msg(l.conf != NULL, "shipped guest-admin.conf: %s", l.errors);
	static const char *const names[] = {"settime", "freeze", "thaw", "frozen", "poweroff", "reboot"};
	static const char *const kinds[] = {"settime", "freeze", "thaw", "frozen", "power", "power"};
	for (size_t i = 0; i < 6; i++) {
		const struct command *c = config_find_command(l.conf, names[i]);
		ck_assert_msg(c != NULL, "no command %s", names[i]);
		ck_assert_str_eq(c->kind->name, kinds[i]);
	}
	struct peer host = {.transport = UDO_VSOCK_ADDR_VSOCK, .cid = 2}, local = host, guest = host;
	local.cid = 1;
	guest.cid = 3;
	const struct command *off = config_find_command(l.conf, "poweroff");
	ck_assert(access_allows(l.conf, off, &host));
	ck_assert(!access_allows(l.conf, off, &local));
	ck_assert(!access_allows(l.conf, off, &guest));
	conf_unload(&l);

	conf_load(bad, &l);
	ck_assert_ptr_null(l.conf);
	ck_assert_msg(l.nlines == 6, "got %d errors:\n%s", l.nlines, l.errors);
	assert_error(&l, 0, bad, 6, "auto-thaw: '0' is not a duration from 1000 to 600000 ms");
	assert_error(&l, 1, bad, 7, "auto-thaw: '11min' is not a duration");
	assert_error(&l, 2, bad, 8, "filesystems: 'var' is not an absolute path");
	assert_error(&l, 3, bad, 11, "action: 'halt' is not poweroff or reboot");
	assert_error(&l, 4, bad, 9, "[command halt] handler 'power' needs 'action = poweroff' or 'action = reboot'");
	assert_error(&l, 5, bad, 12, "[command off] handler 'power' needs 'action = poweroff' or 'action = reboot'");
	conf_unload(&l);
}
END_TEST

/* detach = yes and the job kinds: each bad combination is an error at
 * its command's line; a good job command loads with the kinds bound. */
START_TEST(test_job_kinds)
{
	struct conf_load l;
	const char *good = conf_put("jobs.conf", HEAD "[command bg]\nhandler = exec\npath = /bin/true\ndetach = yes\n"
	                                              "job-output = 1M\njob-keep = 60min\n"
	                                              "[command jobs]\nhandler = jobs\n[command job]\nhandler = job\n"
	                                              "[command attach]\nhandler = attach\nidle-timeout = 5min\n"
	                                              "[command kill]\nhandler = kill\n");
	const char *bad = conf_put("jobs-bad.conf", HEAD "[command a]\nhandler = exec\npath = /bin/true\n" /* 4-6 */
	                                                 "detach = yes\nmode = session\n"                  /* 7-8 */
	                                                 "[command b]\nhandler = exec\npath = /bin/true\n" /* 9-11 */
	                                                 "job-keep = 60min\n"                              /* 12 */
	                                                 "[command c]\nhandler = exec\npath = /bin/true\n" /* 13-15 */
	                                                 "detach = yes\njob-output = 100\n");              /* 16-17 */

	conf_load(good, &l);
	ck_assert_msg(l.conf != NULL, "%s", l.errors);
	static const char *const names[] = {"jobs", "job", "attach", "kill"};
	for (size_t i = 0; i < 4; i++)
		ck_assert_str_eq(config_find_command(l.conf, names[i])->kind->name, names[i]);
	ck_assert_int_eq(config_find_command(l.conf, "job")->min_args, 1);
	ck_assert_int_eq(config_find_command(l.conf, "kill")->max_args, 2);
	conf_unload(&l);

	conf_load(bad, &l);
	ck_assert_ptr_null(l.conf);
	ck_assert_msg(l.nlines == 3, "got %d errors:\n%s", l.nlines, l.errors);
	assert_error(&l, 0, bad, 4, "[command a] detach = yes is for mode = request");
	assert_error(&l, 1, bad, 9, "[command b] job-output and job-keep need detach = yes");
	assert_error(&l, 2, bad, 17, "job-output: '100' is not a size from 1K to 16M");
	conf_unload(&l);
}
END_TEST

/* announce: a vsock address with a CID and a port, kept canonical;
 * anything else is refused with the line. */
START_TEST(test_announce)
{
	struct conf_load l;
	const char *ok = conf_put("announce-ok.conf", "[daemon]\nlisten = vsock:any:7\nannounce = vsock:2:5000\n"
	                                              "[command ping]\nhandler = ping\n");
	const char *bad =
	    conf_put("announce-bad.conf", "[daemon]\nlisten = vsock:any:7\nannounce = unix:/run/x.sock\n"
	                                  "announce = vsock:any:5000\nannounce = vsock:host:any\nannounce = vsock:2\n"
	                                  "[command ping]\nhandler = ping\n");

	conf_load(ok, &l);
	ck_assert_ptr_nonnull(l.conf);
	ck_assert_str_eq(l.conf->announce, "vsock:host:5000");
	conf_unload(&l);
	conf_load(bad, &l);
	ck_assert_ptr_null(l.conf);
	ck_assert_msg(l.nlines == 4, "got %d errors:\n%s", l.nlines, l.errors);
	for (int i = 0; i < 3; i++)
		assert_error(&l, i, bad, 3 + i, "is not vsock:CID:PORT with a CID and a port");
	assert_error(&l, 3, bad, 6, "vsock:2");
	conf_unload(&l);
}
END_TEST

/* include of a directory: only *.conf, not hidden, in name order. */
START_TEST(test_include_directory)
{
	struct conf_load l;
	char sub[400];

	snprintf(sub, sizeof(sub), "%s/conf.d", conf_dir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	conf_put("conf.d/20-b.conf", "[command version]\nhandler = version\n");
	conf_put("conf.d/10-a.conf", "[command ping]\nhandler = ping\n");
	conf_put("conf.d/30-c.conf", "[command stats]\nhandler = stats\n");
	conf_put("conf.d/README", "this is not a config file\n");
	conf_put("conf.d/40-d.conf.bak", "[command junk]\nhandler = nonsense\n");
	conf_put("conf.d/.50-hidden.conf", "[command junk]\nhandler = nonsense\n");
	/* Relative to the including file's directory. */
	const char *path = conf_put("main.conf", HEAD "include = conf.d\n[command help]\nhandler = help\n");

	conf_load(path, &l);
	ck_assert_msg(l.conf != NULL, "errors: %s", l.errors);
	static const char *const order[] = {"ping", "version", "stats", "help"};
	const struct command *c = l.conf->commands;
	for (size_t i = 0; i < 4; i++, c = c->next) {
		ck_assert_msg(c != NULL, "only %zu commands", i);
		ck_assert_str_eq(c->name, order[i]);
	}
	ck_assert_ptr_null(c);
	conf_unload(&l);
}
END_TEST

/* Errors in a drop-in carry the drop-in's name; a later drop-in that
 * repeats a command points back at the earlier one. */
START_TEST(test_include_errors)
{
	struct conf_load l;
	char sub[400], a[500], b[500];

	snprintf(sub, sizeof(sub), "%s/d", conf_dir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	snprintf(a, sizeof(a), "%s/d/10-a.conf", conf_dir);
	snprintf(b, sizeof(b), "%s/d/20-b.conf", conf_dir);
	conf_put("d/20-b.conf", "# b\n[command foo]\nhandler = version\n");
	conf_put("d/10-a.conf", "[command foo]\nhandler = ping\n");
	const char *path = conf_put("main.conf", HEAD "include = d\ninclude = missing.d\n");

	conf_load(path, &l);
	ck_assert_ptr_null(l.conf);
	ck_assert_msg(l.nlines == 2, "got %d errors:\n%s", l.nlines, l.errors);
	assert_error(&l, 0, b, 2, "already defined");
	ck_assert_ptr_nonnull(strstr(l.lines[0], a));
	assert_error(&l, 1, path, 5, "missing.d");
	conf_unload(&l);
}
END_TEST

/* An include loop is stopped as a cycle, reported once at its line,
 * not by the depth limit, a stack overflow or one error per level. */
START_TEST(test_include_loop)
{
	const char *path = conf_put("loop.conf", HEAD "include = loop.conf\n[command ping]\nhandler = ping\n");

	expect_one_error(path, 4, "include cycle");
}
END_TEST

/* Five files each including their own directory (`include = .`): one
 * cycle error, a handful of files read, not tens of thousands. */
START_TEST(test_include_fanout)
{
	struct conf_load l;
	char sub[400], name[64];

	snprintf(sub, sizeof(sub), "%s/d", conf_dir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "d/%d.conf", i);
		conf_put(name, "[daemon]\ninclude = .\n");
	}
	const char *path = conf_put("main.conf", HEAD "include = d\n[command ping]\nhandler = ping\n");
	int64_t t0 = now_ms();
	conf_load(path, &l);
	int64_t took = now_ms() - t0;
	ck_assert_ptr_null(l.conf);
	ck_assert_msg(l.nlines == 1, "%d error lines in %lld ms:\n%.2000s", l.nlines, (long long)took, l.errors);
	ck_assert_ptr_nonnull(strstr(l.lines[0], "include cycle"));
	ck_assert_msg(took < 1000, "%lld ms to load 6 small files", (long long)took);
	conf_unload(&l);
}
END_TEST

/* Past 1024 files in all, no more includes are read, with one error. */
START_TEST(test_include_count_limit)
{
	struct conf_load l;
	char sub[400], name[64];

	snprintf(sub, sizeof(sub), "%s/many", conf_dir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	for (int i = 0; i < 1030; i++) {
		snprintf(name, sizeof(name), "many/%04d.conf", i);
		conf_put(name, "# nothing\n");
	}
	const char *path = conf_put("main.conf", HEAD "include = many\n[command ping]\nhandler = ping\n");
	expect_one_error(path, 4, "more than 1024 files");

	/* 1023 drop-ins and the main file are fine. */
	for (int i = 1023; i < 1030; i++) {
		snprintf(sub, sizeof(sub), "%s/many/%04d.conf", conf_dir, i);
		ck_assert_int_eq(unlink(sub), 0);
	}
	conf_load(path, &l);
	ck_assert_msg(l.conf != NULL, "%.2000s", l.errors);
	conf_unload(&l);
}
END_TEST

/* Only regular files are read: a FIFO (which would block the open) and
 * a character device given to include, or found in an included
 * directory, are errors at the include line. */
START_TEST(test_include_special_files)
{
	struct conf_load l;
	char fifo[400], sub[400];

	snprintf(fifo, sizeof(fifo), "%s/fifo", conf_dir);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	snprintf(sub, sizeof(sub), "%s/d", conf_dir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	snprintf(sub, sizeof(sub), "%s/d/10-fifo.conf", conf_dir);
	ck_assert_int_eq(mkfifo(sub, 0600), 0);
	const char *path = conf_put(
	    "main.conf", HEAD "include = fifo\ninclude = /dev/zero\ninclude = d\n[command ping]\nhandler = ping\n");
	conf_load(path, &l);
	ck_assert_ptr_null(l.conf);
	ck_assert_msg(l.nlines == 3, "%d error lines:\n%s", l.nlines, l.errors);
	assert_error(&l, 0, path, 4, "not a regular file");
	assert_error(&l, 1, path, 5, "/dev/zero: not a regular file");
	assert_error(&l, 2, path, 6, "10-fifo.conf: not a regular file");
	conf_unload(&l);
}
END_TEST

/* Strict modes: a config file, include directory, included file or
 * module that others may write, or that a third user owns, is refused
 * with its file:line; UDO_VSOCKD_STRICT_MODES=no allows them. */
START_TEST(test_strict_modes)
{
	struct conf_load l;
	char sub[400], mod[400], cmd[1024];

	snprintf(sub, sizeof(sub), "%s/d", conf_dir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	const char *inc = conf_put("d/10-a.conf", "[command version]\nhandler = version\n");
	const char *other = conf_put("other.conf", "[command stats]\nhandler = stats\n");
	snprintf(mod, sizeof(mod), "%s/counter.so", conf_dir);
	snprintf(cmd, sizeof(cmd), "cp " TEST_BUILDDIR "/tests/modules/.libs/counter.so %s", mod);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(chmod(mod, 0755), 0);
	char text[1024];
	snprintf(text, sizeof(text),
	         HEAD "include = d\ninclude = other.conf\nmodule = %s\n[command ping]\nhandler = ping\n", mod);
	const char *path = conf_put("main.conf", text);
	conf_load(path, &l);
	ck_assert_msg(l.conf != NULL && l.nlines == 0, "0644/0700 files refused:\n%s", l.errors);
	conf_unload(&l);

	ck_assert_int_eq(chmod(sub, 0770), 0);
	ck_assert_int_eq(chmod(other, 0646), 0);
	ck_assert_int_eq(chmod(mod, 0775), 0);
	conf_load(path, &l);
	ck_assert_ptr_null(l.conf);
	ck_assert_msg(l.nlines == 3, "%d error lines:\n%s", l.nlines, l.errors);
	assert_error(&l, 0, path, 4, "d: group-writable (mode 0770); refused (strict modes");
	assert_error(&l, 1, path, 5, "other.conf: world-writable (mode 0646)");
	assert_error(&l, 2, path, 6, "counter.so: group-writable (mode 0775)");
	conf_unload(&l);

	/* The switch for tests. */
	setenv("UDO_VSOCKD_STRICT_MODES", "no", 1);
	conf_load(path, &l);
	unsetenv("UDO_VSOCKD_STRICT_MODES");
	ck_assert_msg(l.conf != NULL, "UDO_VSOCKD_STRICT_MODES=no: %s", l.errors);
	conf_unload(&l);

	/* The main file itself; and a file of a third user. */
	ck_assert_int_eq(chmod(sub, 0755), 0);
	ck_assert_int_eq(chmod(other, 0644), 0);
	ck_assert_int_eq(chmod(mod, 0755), 0);
	ck_assert_int_eq(chmod(path, 0664), 0);
	conf_load(path, &l);
	ck_assert_ptr_null(l.conf);
	ck_assert_msg(l.nlines == 1, "%d error lines:\n%s", l.nlines, l.errors);
	snprintf(text, sizeof(text), "%s: group-writable (mode 0664); refused", path);
	ck_assert_msg(strncmp(l.lines[0], text, strlen(text)) == 0, "'%s' does not start with '%s'", l.lines[0], text);
	conf_unload(&l);
	/* The same through the daemon itself, and its switch. */
	char out[4096], err[4096];
	int rc = conf_run_daemon("-t", path, NULL, out, err, sizeof(out));
	ck_assert_msg(rc == 1 && strncmp(err, text, strlen(text)) == 0, "-t: exit %d, stderr: %s", rc, err);
	setenv("UDO_VSOCKD_STRICT_MODES", "no", 1);
	rc = conf_run_daemon("-t", path, NULL, out, err, sizeof(out));
	unsetenv("UDO_VSOCKD_STRICT_MODES");
	ck_assert_msg(rc == 0, "-t with UDO_VSOCKD_STRICT_MODES=no: exit %d, stderr: %s", rc, err);
	ck_assert_int_eq(chmod(path, 0644), 0);
	if (geteuid() == 0) {
		ck_assert_int_eq(chown(inc, 12345, 12345), 0);
		expect_one_error(path, 4, "10-a.conf: owned by uid 12345, neither root nor the daemon's user");
	}
}
END_TEST

/* One number with its unit, and what it must become. */
struct number_case {
	const char *text;
	int duration;
	unsigned long long max;
	int ok;
	unsigned long long value;
};

static const struct number_case numbers[] = {
    {"0", 0, 100, 1, 0},
    {"10", 0, 100, 1, 10},
    {"4K", 0, 1ULL << 30, 1, 4096},
    {"4KiB", 0, 1ULL << 30, 1, 4096},
    {"1M", 0, 1ULL << 30, 1, 1048576},
    {"2MiB", 0, 1ULL << 30, 1, 2097152},
    {"1024M", 0, 1ULL << 30, 1, 1ULL << 30},
    {"1025M", 0, 1ULL << 30, 0, 0},
    {"101", 0, 100, 0, 0},
    {"10KB", 0, 1ULL << 30, 0, 0},
    {"10k", 0, 1ULL << 30, 0, 0},
    {"10 K", 0, 1ULL << 30, 0, 0},
    {"1.5", 0, 100, 0, 0},
    {"-1", 0, 100, 0, 0},
    {"+1", 0, 100, 0, 0},
    {" 1", 0, 100, 0, 0},
    {"", 0, 100, 0, 0},
    {"x", 0, 100, 0, 0},
    {"0x10", 0, 100, 0, 0},
    {"18446744073709551616", 0, ~0ULL, 0, 0},
    {"18446744073709551615K", 0, ~0ULL, 0, 0},
    {"5", 1, 86400000, 1, 5000},
    {"2s", 1, 86400000, 1, 2000},
    {"300ms", 1, 86400000, 1, 300},
    {"1min", 1, 86400000, 1, 60000},
    {"1440min", 1, 86400000, 1, 86400000},
    {"1441min", 1, 86400000, 0, 0},
    {"5h", 1, 86400000, 0, 0},
    {"5 s", 1, 86400000, 0, 0},
    {"5S", 1, 86400000, 0, 0},
    {"5K", 1, 86400000, 0, 0},
    {"10ms", 0, 100, 0, 0},
};

/* Row _i of the number table. */
START_TEST(test_parse_number)
{
	const struct number_case *tc = &numbers[_i];
	unsigned long long v = 12345;
	int r = config_parse_number(tc->text, tc->duration, tc->max, &v);

	ck_assert_msg((r == 0) == tc->ok, "'%s' (%s, max %llu): result %d, expected %s", tc->text,
	              tc->duration ? "duration" : "size", tc->max, r, tc->ok ? "ok" : "an error");
	if (tc->ok)
		ck_assert_msg(v == tc->value, "'%s' gave %llu, expected %llu", tc->text, v, tc->value);
}
END_TEST

/* Numbers in [daemon]: units apply, bounds are enforced, each bad one reported. */
START_TEST(test_daemon_numbers)
{
	struct conf_load l;
	const char *path = conf_put("limits.conf", HEAD "idle-timeout = 300ms\n"    /* 4 */
	                                                "max-output-buffer = 64K\n" /* 5 */
	                                                "max-line-length = 1M\n"    /* 6 */
	                                                "shutdown-grace = 2s\n"     /* 7 */
	                                                "max-connections = 4\n"     /* 8 */
	                                                "max-connections-per-peer = 2\n"
	                                                "line-timeout = 2s\n"
	                                                "max-buffered = 512M\n"
	                                                "bytes-per-read = 64K\n"
	                                                "[command ping]\nhandler = ping\n");

	conf_load(path, &l);
	ck_assert_msg(l.conf != NULL, "errors: %s", l.errors);
	ck_assert_uint_eq(l.conf->limits.max_buffered, 512 * 1048576ULL);
	ck_assert_uint_eq(l.conf->limits.idle_timeout_ms, 300);
	ck_assert_uint_eq(l.conf->limits.line_timeout_ms, 2000);
	ck_assert_uint_eq(l.conf->limits.max_output_buffer, 65536);
	ck_assert_uint_eq(l.conf->limits.max_line_length, 1048576);
	ck_assert_uint_eq(l.conf->limits.shutdown_grace_ms, 2000);
	ck_assert_uint_eq(l.conf->limits.max_connections, 4);
	ck_assert_uint_eq(l.conf->limits.max_connections_per_peer, 2);
	ck_assert_uint_eq(l.conf->limits.bytes_per_read, 65536);
	conf_unload(&l);

	path = conf_put("badlimits.conf", HEAD "max-connections = 0\n"       /* 4: below the minimum */
	                                       "idle-timeout = 10 parsecs\n" /* 5 */
	                                       "max-output-buffer = 1K\n"    /* 6: below 4096 */
	                                       "max-line-length = 2M\n"      /* 7: above 1 MiB */
	                                       "accept-pause = 5ms\n"        /* 8: below 10 ms */
	                                       "log-level = loud\n"          /* 9 */
	                                       "max-buffered = 1K\n"         /* 10: below 64 KiB */
	                                       "bytes-per-read = 512\n"      /* 11: below 1 KiB */
	                                       "[command ping]\nhandler = ping\n");
	conf_load(path, &l);
	ck_assert_ptr_null(l.conf);
	ck_assert_msg(l.nlines == 8, "got %d errors:\n%s", l.nlines, l.errors);
	assert_error(&l, 0, path, 4, "max-connections");
	assert_error(&l, 1, path, 5, "idle-timeout");
	assert_error(&l, 2, path, 6, "max-output-buffer");
	assert_error(&l, 3, path, 7, "max-line-length");
	assert_error(&l, 4, path, 8, "accept-pause");
	assert_error(&l, 5, path, 9, "log-level");
	assert_error(&l, 6, path, 10, "max-buffered");
	assert_error(&l, 7, path, 11, "bytes-per-read");
	conf_unload(&l);
}
END_TEST

/* One access-list value and what it must parse to. */
struct acl_case {
	const char *text;
	int ok;
	int any;
	unsigned int low, high;
	const char *identity;
};

static const struct acl_case acls[] = {
    {"any", 1, 1, 0, 0, NULL},
    {"3", 1, 0, 3, 3, NULL},
    {"3-100", 1, 0, 3, 100, NULL},
    {"0-4294967294", 1, 0, 0, 4294967294u, NULL},
    {"host", 1, 0, 2, 2, NULL},
    {"local-host", 1, 0, 1, 2, NULL},
    {"hypervisor", 1, 0, 0, 0, NULL},
    {"unix:admin", 1, 0, 0, 0, "admin"},
    {"7-7", 1, 0, 7, 7, NULL},
    {"100-3", 0, 0, 0, 0, NULL},
    {"3-", 0, 0, 0, 0, NULL},
    {"-3", 0, 0, 0, 0, NULL},
    {"3-100-200", 0, 0, 0, 0, NULL},
    {"abc", 0, 0, 0, 0, NULL},
    {"ANY", 0, 0, 0, 0, NULL},
    {"unix:", 0, 0, 0, 0, NULL},
    {"4294967295", 0, 0, 0, 0, NULL},
    {"4K", 0, 0, 0, 0, NULL},
    {"1M-2M", 0, 0, 0, 0, NULL},
    {"", 0, 0, 0, 0, NULL},
    {"00000000000000000000000000000000000000003", 0, 0, 0, 0, NULL},
};

/* Row _i of the ACL table. */
START_TEST(test_acl_parse)
{
	const struct acl_case *tc = &acls[_i];
	struct acl_entry e;
	char why[200] = "";
	int r = acl_entry_parse(tc->text, 1, &e, why, sizeof(why));

	ck_assert_msg((r == 0) == tc->ok, "'%s': result %d, expected %s (%s)", tc->text, r, tc->ok ? "ok" : "an error",
	              why);
	if (!tc->ok) {
		ck_assert_msg(why[0] != '\0', "'%s': no reason", tc->text);
		free(e.identity);
		return;
	}
	ck_assert_int_eq(e.allow, 1);
	ck_assert_int_eq(e.any, tc->any);
	if (tc->identity != NULL) {
		ck_assert_ptr_nonnull(e.identity);
		ck_assert_str_eq(e.identity, tc->identity);
	} else {
		ck_assert_ptr_null(e.identity);
	}
	if (!tc->any && tc->identity == NULL) {
		ck_assert_uint_eq(e.cid_low, tc->low);
		ck_assert_uint_eq(e.cid_high, tc->high);
	}
	free(e.identity);
}
END_TEST

/* A value that is no CID names every form of one, the CID names
 * (hypervisor, local, host) included: `-t` prints this message. */
START_TEST(test_acl_message)
{
	struct acl_entry e;
	char why[200] = "";

	ck_assert_int_eq(acl_entry_parse("guest", 1, &e, why, sizeof(why)), -1);
	ck_assert_msg(strstr(why, "hypervisor") != NULL && strstr(why, "local") != NULL && strstr(why, "host") != NULL,
	              "'%s' does not name hypervisor, local and host", why);
	ck_assert_ptr_nonnull(strstr(why, "unix:IDENTITY"));
}
END_TEST

/* Access lists in the file: order kept, per-command lists, errors located. */
START_TEST(test_acl_config)
{
	struct conf_load l;
	const char *path = conf_put("acl.conf", "[daemon]\nlisten = vsock:any:5000\n"
	                                        "deny = 5\nallow = 3-10 unix:admin\n"
	                                        "[command ping]\nhandler = ping\nallow = host\ndeny = any\n");

	conf_load(path, &l);
	ck_assert_msg(l.conf != NULL, "errors: %s", l.errors);
	const struct acl_entry *e = l.conf->default_acl;
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(e->allow, 0);
	ck_assert_uint_eq(e->cid_low, 5);
	e = e->next;
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(e->allow, 1);
	ck_assert_uint_eq(e->cid_low, 3);
	ck_assert_uint_eq(e->cid_high, 10);
	e = e->next;
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e->identity, "admin");
	ck_assert_ptr_null(e->next);
	const struct command *c = config_find_command(l.conf, "ping");
	ck_assert_ptr_nonnull(c->acl);
	ck_assert_int_eq(c->acl->allow, 1);
	ck_assert_uint_eq(c->acl->cid_low, 2);
	ck_assert_int_eq(c->acl->next->any, 1);
	ck_assert_int_eq(c->acl->next->allow, 0);
	conf_unload(&l);

	path = conf_put("badacl.conf", "[daemon]\nlisten = vsock:any:5000\nallow = 3 100-3 any\n"
	                               "[command ping]\nhandler = ping\ndeny = unix:\n");
	conf_load(path, &l);
	ck_assert_ptr_null(l.conf);
	ck_assert_msg(l.nlines == 2, "got %d errors:\n%s", l.nlines, l.errors);
	assert_error(&l, 0, path, 3, "CID range '100-3' is empty");
	assert_error(&l, 1, path, 6, "unix");
	conf_unload(&l);
}
END_TEST

/* [peer NAME] sections name vsock CIDs; allow and deny take the names
 * (checked against the sections, wherever they are) and globs (which
 * may match nothing), kept as written for the matcher and -D. */
START_TEST(test_peers_config)
{
	struct conf_load l;
	const char *path = conf_put("peers.conf", "[daemon]\nlisten = vsock:any:5000\nallow = web1 db-* 3\n"
	                                          "[peer web1]\ncid = 7\n"
	                                          "[command ping]\nhandler = ping\nallow = DB-1 nomatch-*\n"
	                                          "[peer DB-1]\ncid = host\n");

	conf_load(path, &l);
	ck_assert_msg(l.conf != NULL, "errors: %s", l.errors);
	ck_assert_int_eq(l.nlines, 0);
	ck_assert_str_eq(config_peer_name(l.conf, 7), "web1");
	ck_assert_str_eq(config_peer_name(l.conf, 2), "db-1");
	ck_assert_ptr_null(config_peer_name(l.conf, 3));
	const struct acl_entry *e = l.conf->default_acl;
	ck_assert_str_eq(e->name, "web1");
	ck_assert_int_eq(e->glob, 0);
	ck_assert_str_eq(e->next->name, "db-*");
	ck_assert_int_eq(e->next->glob, 1);
	ck_assert_ptr_null(e->next->next->name);
	ck_assert_uint_eq(e->next->next->cid_low, 3);
	const struct command *c = config_find_command(l.conf, "ping");
	ck_assert_str_eq(c->acl->name, "db-1");
	ck_assert_str_eq(c->acl->next->name, "nomatch-*");

	/* The matcher: a name is a vsock peer's alone; a glob by fnmatch(3). */
	struct peer p = {.transport = UDO_VSOCK_ADDR_VSOCK, .cid = 7, .name = "web1"};
	ck_assert_int_eq(access_list_allows(l.conf->default_acl, &p), 1);
	snprintf(p.name, sizeof(p.name), "db-7");
	ck_assert_int_eq(access_list_allows(l.conf->default_acl, &p), 1);
	ck_assert_int_eq(access_list_allows(c->acl, &p), 0);
	p.name[0] = '\0';
	ck_assert_int_eq(access_list_allows(l.conf->default_acl, &p), 0);
	struct peer u = {.transport = UDO_VSOCK_ADDR_UNIX, .cid = UINT32_MAX, .identity = "web1"};
	ck_assert_int_eq(access_list_allows(l.conf->default_acl, &u), 0);
	conf_unload(&l);
}
END_TEST

/* A CID with two names, a name with two CIDs, a name no [peer] defines,
 * a name that would read as a CID, a section without a cid: every one
 * reported at its line, in the order of the file. */
START_TEST(test_peers_errors)
{
	struct conf_load l;
	const char *path = conf_put("badpeers.conf", "[daemon]\nlisten = vsock:any:5000\nallow = web1 wbe1 db-*\n"
	                                             "[peer web1]\ncid = 7\n"
	                                             "[peer web2]\ncid = 7\n"
	                                             "[peer web1]\ncid = 9\n"
	                                             "[peer host]\ncid = 10\n"
	                                             "[peer 10-3]\ncid = 10\n"
	                                             "[peer nocid]\n"
	                                             "[command ping]\nhandler = ping\ndeny = typo\n"
	                                             "[peer x]\ncid = 11\ncid = 12\ntag = a\n");

	conf_load(path, &l);
	ck_assert_ptr_null(l.conf);
	ck_assert_msg(l.nlines == 9, "got %d errors:\n%s", l.nlines, l.errors);
	assert_error(&l, 0, path, 3, "no [peer wbe1]");
	assert_error(&l, 1, path, 7, "CID 7 is already named 'web1'");
	assert_error(&l, 2, path, 8, "peer 'web1' is already defined");
	assert_error(&l, 3, path, 10, "'host' is not a valid peer name");
	assert_error(&l, 4, path, 12, "'10-3' is not a valid peer name");
	assert_error(&l, 5, path, 14, "[peer nocid] has no cid");
	assert_error(&l, 6, path, 17, "no [peer typo]");
	assert_error(&l, 7, path, 20, "cid: already set at line 19");
	assert_error(&l, 8, path, 21, "unknown setting 'tag'");
	conf_unload(&l);
}
END_TEST

/* A [peer]'s cid is a table option of type CID: a number below
 * 4294967295 or hypervisor, local, host; anything else is refused with
 * the type's one error text, at its line. */
START_TEST(test_peer_cid_values)
{
	struct conf_load l;
	const char *path = conf_put("peercid.conf", "[daemon]\nlisten = vsock:any:5000\nallow = any\n"
	                                            "[peer a]\ncid = nope\n"
	                                            "[peer b]\ncid = 4294967295\n"
	                                            "[peer c]\ncid = -1\n"
	                                            "[peer d]\ncid = hypervisor\n"
	                                            "[peer e]\ncid = 4294967294\n");

	conf_load(path, &l);
	ck_assert_ptr_null(l.conf);
	ck_assert_msg(l.nlines == 6, "got %d errors:\n%s", l.nlines, l.errors);
	assert_error(&l, 0, path, 5, "cid: 'nope' is not a CID (a number, hypervisor, local or host)");
	assert_error(&l, 1, path, 4, "[peer a] has no cid");
	assert_error(&l, 2, path, 7, "cid: '4294967295' is not a CID (a number, hypervisor, local or host)");
	assert_error(&l, 3, path, 6, "[peer b] has no cid");
	assert_error(&l, 4, path, 9, "cid: '-1' is not a CID");
	assert_error(&l, 5, path, 8, "[peer c] has no cid");
	conf_unload(&l);
	path = conf_put("peercid-ok.conf", "[daemon]\nlisten = vsock:any:5000\nallow = any\n"
	                                   "[peer d]\ncid = hypervisor\n[peer e]\ncid = 4294967294\n"
	                                   "[command ping]\nhandler = ping\n");
	conf_load(path, &l);
	ck_assert_msg(l.conf != NULL, "%s", l.errors);
	ck_assert_str_eq(config_peer_name(l.conf, 0), "d");
	ck_assert_str_eq(config_peer_name(l.conf, 4294967294u), "e");
	conf_unload(&l);
}
END_TEST

/* peers-dir: an absolute path; with it set, a name no [peer] defines
 * is no error (the directory names VMs as they come and go), a glob
 * neither; without it, such a name stays an error (test_peers_errors).
 * A relative path, or none, is reported at its line. */
START_TEST(test_peers_dir_config)
{
	struct conf_load l;
	const char *path = conf_put("peersdir.conf", "[daemon]\nlisten = vsock:any:5000\nallow = web9 db-*\n"
	                                             "peers-dir = /run/udo-vsockd/peers\n"
	                                             "[peer web1]\ncid = 7\n"
	                                             "[command ping]\nhandler = ping\ndeny = typo\nallow = any\n");

	conf_load(path, &l);
	ck_assert_msg(l.conf != NULL, "errors: %s", l.errors);
	ck_assert_msg(l.nlines == 0, "%s", l.errors);
	ck_assert_str_eq(l.conf->peers_dir, "/run/udo-vsockd/peers");
	ck_assert_str_eq(l.conf->default_acl->name, "web9");
	ck_assert_str_eq(config_find_command(l.conf, "ping")->acl->name, "typo");
	conf_unload(&l);

	path = conf_put("peersdir-bad.conf", "[daemon]\nlisten = vsock:any:5000\nallow = web9\n"
	                                     "peers-dir = run/peers\npeers-dir =\n"
	                                     "[command ping]\nhandler = ping\n");
	conf_load(path, &l);
	ck_assert_ptr_null(l.conf);
	ck_assert_msg(l.nlines == 3, "got %d errors:\n%s", l.nlines, l.errors);
	assert_error(&l, 0, path, 3, "no [peer web9]");
	assert_error(&l, 1, path, 4, "peers-dir: 'run/peers' is not an absolute path");
	assert_error(&l, 2, path, 5, "missing value");
	conf_unload(&l);
}
END_TEST

/* No listen line, or no command: the daemon would be useless. */
START_TEST(test_nothing_to_do)
{
	struct conf_load l;
	const char *path = conf_put("nolisten.conf", "[daemon]\nallow = any\n[command ping]\nhandler = ping\n");

	conf_load(path, &l);
	ck_assert_ptr_null(l.conf);
	ck_assert_int_eq(l.nlines, 1);
	ck_assert_ptr_nonnull(strstr(l.lines[0], "listen"));
	conf_unload(&l);

	path = conf_put("nocmd.conf", HEAD);
	conf_load(path, &l);
	ck_assert_ptr_null(l.conf);
	ck_assert_int_eq(l.nlines, 1);
	ck_assert_ptr_nonnull(strstr(l.lines[0], "command"));
	conf_unload(&l);

	/* A file that cannot be read has no line to point at: no ":0:". */
	conf_load("/nonexistent/udo-vsockd.conf", &l);
	ck_assert_ptr_null(l.conf);
	ck_assert_int_eq(l.nlines, 1);
	ck_assert_str_eq(l.lines[0], "/nonexistent/udo-vsockd.conf: No such file or directory");
	conf_unload(&l);
}
END_TEST

/* `udo-vsockd -t` on a good file: exit 0, "configuration OK". */
START_TEST(test_binary_t_ok)
{
	char out[4096], err[4096];
	const char *path = conf_put("good.conf", HEAD "[command ping]\nhandler = ping\n");

	int rc = conf_run_daemon("-t", path, NULL, out, err, sizeof(out));
	ck_assert_msg(rc == 0, "exit %d; stderr: %s", rc, err);
	ck_assert_str_eq(out, "configuration OK\n");

	rc = conf_run_daemon("-t", shipped_wrapper(), NULL, out, err, sizeof(out));
	ck_assert_msg(rc == 0, "exit %d; stderr: %s", rc, err);
	ck_assert_str_eq(out, "configuration OK\n");
}
END_TEST

/* `udo-vsockd -t` on a bad file: exit 1, every error as file:line: message. */
START_TEST(test_binary_t_errors)
{
	char out[4096], err[4096], want[600];
	const char *path =
	    conf_put("bad.conf", "[daemon]\nlisten = vsock:any:5000\nmax-connections = -1\n"
	                         "[command ping]\nhandler = pnig\n[command help]\nhandler = help\nx = y\n");

	int rc = conf_run_daemon("-t", path, NULL, out, err, sizeof(out));
	ck_assert_msg(rc == 1, "exit %d; stdout: %s; stderr: %s", rc, out, err);
	ck_assert_ptr_null(strstr(out, "configuration OK"));
	static const int lines[] = {3, 5, 8};
	const char *p = err;
	for (size_t i = 0; i < 3; i++) {
		snprintf(want, sizeof(want), "%s:%d: ", path, lines[i]);
		ck_assert_msg(strncmp(p, want, strlen(want)) == 0, "stderr line %zu: expected '%s...' in:\n%s", i, want,
		              err);
		p = strchr(p, '\n');
		ck_assert_ptr_nonnull(p);
		p++;
	}
	ck_assert_msg(*p == '\0', "more than 3 lines on stderr:\n%s", err);

	rc = conf_run_daemon("-t", "/nonexistent.conf", NULL, out, err, sizeof(out));
	ck_assert_int_eq(rc, 1);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent.conf:"));

	rc = conf_run_daemon("-t", path, "extra", out, err, sizeof(out));
	ck_assert_int_eq(rc, 2);
}
END_TEST

/* The suite: parser unit tests and the -t command line. */
static Suite *conf_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("parse");

	tcase_add_checked_fixture(tc, conf_setup, conf_teardown);
	tcase_add_test(tc, test_shipped_config);
	tcase_add_test(tc, test_all_errors_reported);
	tcase_add_test(tc, test_unknown_handler);
	tcase_add_test(tc, test_unknown_keys);
	tcase_add_test(tc, test_duplicate_command);
	tcase_add_test(tc, test_duplicate_listen);
	tcase_add_test(tc, test_include_directory);
	tcase_add_test(tc, test_include_errors);
	tcase_add_test(tc, test_include_loop);
	tcase_add_test(tc, test_include_fanout);
	tcase_add_test(tc, test_include_count_limit);
	tcase_add_test(tc, test_include_special_files);
	tcase_add_test(tc, test_strict_modes);
	tcase_add_loop_test(tc, test_parse_number, 0, (int)(sizeof(numbers) / sizeof(numbers[0])));
	tcase_add_test(tc, test_daemon_numbers);
	tcase_add_loop_test(tc, test_acl_parse, 0, (int)(sizeof(acls) / sizeof(acls[0])));
	tcase_add_test(tc, test_acl_config);
	tcase_add_test(tc, test_acl_message);
	tcase_add_test(tc, test_peers_config);
	tcase_add_test(tc, test_peers_errors);
	tcase_add_test(tc, test_peer_cid_values);
	tcase_add_test(tc, test_peers_dir_config);
	tcase_add_test(tc, test_nothing_to_do);
	suite_add_tcase(s, tc);

	tc = tcase_create("binary");
	tcase_add_checked_fixture(tc, conf_setup, conf_teardown);
	tcase_add_test(tc, test_binary_t_ok);
	tcase_add_test(tc, test_binary_t_errors);
	tcase_add_test(tc, test_arg_pattern_bounded);
	tcase_add_test(tc, test_metrics_listen);
	tcase_add_test(tc, test_guest_hooks);
	tcase_add_test(tc, test_announce);
	tcase_add_test(tc, test_lifecycle_kinds);
	tcase_add_test(tc, test_job_kinds);
	suite_add_tcase(s, tc);
	return s;
}

/* Runs the suite; exit status 0 only if every test passed. */
int main(void)
{
	SRunner *sr = srunner_create(conf_suite());

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
