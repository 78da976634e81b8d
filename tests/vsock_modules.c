/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsock_modules - handler modules in the real daemon over AF_VSOCK CID 1:
 * the facts module, its options, asynchronous answers, clients leaving
 * while an answer is pending, reloads that drop a module in use, and
 * the shipped guest-agent config. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "daemon-harness.h"

#define FACTS_SO   TEST_BUILDDIR "/modules/.libs/facts.so"
#define COUNTER_SO TEST_BUILDDIR "/tests/modules/.libs/counter.so"

static struct daemon d;

/* The daemon's log (its stderr), for the tests that read it. */
static char log_path[300];

/* A daemon with the facts module: facts (all), hostfacts (hostname only),
 * delay (max 2 s); short shutdown grace so stops are quick. Its log goes
 * to log_path. */
static void start_facts_daemon(void)
{
	struct daemon_opts opts = {.listen_fd = -1, .log_path = log_path};

	daemon_init(&d);
	snprintf(log_path, sizeof(log_path), "%s/daemon.log", d.dir);
	daemon_write_config(&d, "module = " FACTS_SO "\nshutdown-grace = 300ms\n",
	                    "[command facts]\nhandler = facts\n\n"
	                    "[command hostfacts]\nhandler = facts\nfacts = hostname\n\n"
	                    "[command delay]\nhandler = delay\nmax = 2s\n");
	ck_assert_int_eq(daemon_start(&d, &opts, 10000), 0);
}

/* Kills whatever still runs. */
static void teardown(void)
{
	daemon_cleanup(&d);
}

/* Rewrites the config without any module and reloads; waits for it. */
static void reload_without_module(void)
{
	daemon_write_config(&d, "shutdown-grace = 300ms\n", NULL);
	daemon_signal(&d, SIGHUP);
	ck_assert_ptr_nonnull(daemon_wait_notify(&d, "RELOADING=1", 5000));
	ck_assert_ptr_nonnull(daemon_wait_notify(&d, "READY=1", 5000));
}

START_TEST(test_facts)
{
	struct client c;
	struct reply r;
	char host[256];
	struct utsname u;

	start_facts_daemon();
	client_open(&c, d.port);
	client_request(&c, "facts", &r, 5000);
	ck_assert_str_eq(r.status, "OK");
	ck_assert_int_eq(gethostname(host, sizeof(host)), 0);
	ck_assert_int_eq(uname(&u), 0);
	ck_assert_ptr_nonnull(reply_value(&r, "hostname"));
	ck_assert_str_eq(reply_value(&r, "hostname"), host);
	ck_assert_str_eq(reply_value(&r, "kernel"), u.release);
	ck_assert_ptr_nonnull(reply_value(&r, "uptime"));
	ck_assert_ptr_nonnull(reply_value(&r, "loadavg"));
	ck_assert_ptr_nonnull(reply_value(&r, "cid"));
	ck_assert_ptr_nonnull(reply_value(&r, "os"));
	/* From sysinfo(2), which works where /proc's system files are hidden. */
	ck_assert_ptr_nonnull(reply_value(&r, "memory"));
	ck_assert_msg(strncmp(reply_value(&r, "memory"), "total ", 6) == 0, "%s", reply_value(&r, "memory"));

	client_request(&c, "FACTS kernel", &r, 5000);
	ck_assert_int_eq(r.ndata, 0);
	ck_assert_str_eq(r.status + 3, u.release);
	client_request(&c, "facts cid", &r, 5000);
	ck_assert_msg(strncmp(r.status, "OK ", 3) == 0 || strncmp(r.status, "ERR unavailable", 15) == 0, "%s",
	              r.status);
	client_request(&c, "facts nosuch", &r, 5000);
	ck_assert_str_eq(r.status, "ERR usage no such fact; FACTS lists them");

	/* The option facts = hostname limits what this command shows. */
	client_request(&c, "hostfacts", &r, 5000);
	ck_assert_int_eq(r.ndata, 1);
	ck_assert_str_eq(reply_value(&r, "hostname"), host);
	client_request(&c, "hostfacts kernel", &r, 5000);
	ck_assert_str_eq(r.status, "ERR usage no such fact; FACTS lists them");
	/* The daemon checks the kind's arity. */
	client_request(&c, "facts a b", &r, 5000);
	ck_assert_str_eq(r.status, "ERR usage usage: facts [NAME]");
	/* And the option max = 2s. */
	client_request(&c, "delay 2001", &r, 5000);
	ck_assert_str_eq(r.status, "ERR usage delay is a duration up to 2000ms");
	client_close(&c);
	ck_assert_int_eq(daemon_stop(&d, 5000), 0);
}
END_TEST

START_TEST(test_async_answer)
{
	struct client a, b;
	struct reply r;

	start_facts_daemon();
	client_open(&a, d.port);
	client_open(&b, d.port);
	int64_t t0 = now_ms();
	/* Pipelined: the ping waits behind the pending delay. */
	client_send_str(&a, "delay 400 later\nping one\n");
	daemon_wait_stat(&d, "commands", 1, 5000); /* the delay is pending */
	/* Meanwhile the daemon answers other clients at once. */
	client_request(&b, "ping other", &r, 5000);
	ck_assert_str_eq(r.status, "OK pong other");
	ck_assert_int_lt(now_ms() - t0, 300);
	ck_assert_int_eq(client_read_reply(&a, &r, 5000), 0);
	ck_assert_str_eq(r.status, "OK later");
	ck_assert_int_ge(now_ms() - t0, 390);
	ck_assert_int_eq(client_read_reply(&a, &r, 5000), 0);
	ck_assert_str_eq(r.status, "OK pong one");
	/* Its audit entry, written at the answer (after run() returned and
	 * the words were gone), counts the two arguments, not -1. */
	wait_file_contains(log_path, ": delay: OK argc=2 ", 5000);
	client_close(&a);
	client_close(&b);
	ck_assert_int_eq(daemon_stop(&d, 5000), 0);
}
END_TEST

START_TEST(test_disconnect_while_pending)
{
	struct client a, b;
	struct reply r;

	start_facts_daemon();
	for (int i = 0; i < 20; i++) {
		/* Two in three leave once their request is pending; the third
		 * at once, racing its request's arrival. */
		long long seen = 0;
		if (i % 3 != 0) {
			daemon_wait_stat_eq(&d, "connections", 0, 5000); /* earlier ones are counted */
			seen = daemon_stat(&d, "commands");
		}
		client_open(&a, d.port);
		client_send_str(&a, "delay 300\n");
		if (i % 3 != 0)
			daemon_wait_stat(&d, "commands", seen + 1, 5000);
		client_close(&a);
	}
	/* Half-closed: sent the request and shut down the sending side. */
	client_open(&a, d.port);
	client_send_str(&a, "delay 100 half\n");
	shutdown(a.fd, SHUT_WR);
	ck_assert_int_eq(client_read_reply(&a, &r, 5000), 0);
	ck_assert_str_eq(r.status, "OK half");
	client_close(&a);

	/* A measurement: lets every cancelled 300 ms timer's time pass. */
	sleep_ms(500);
	ck_assert(daemon_alive(&d));
	client_open(&b, d.port);
	client_request(&b, "ping", &r, 5000);
	ck_assert_str_eq(r.status, "OK pong");
	client_close(&b);
	ck_assert_int_eq(daemon_stop(&d, 5000), 0);
}
END_TEST

START_TEST(test_stop_while_pending)
{
	struct client a;

	start_facts_daemon();
	client_open(&a, d.port);
	client_send_str(&a, "delay 2000\n");
	daemon_wait_stat(&d, "commands", 1, 5000); /* it is pending */
	/* Grace (300 ms) runs out: the pending request is cancelled at exit. */
	int64_t t0 = now_ms();
	ck_assert_int_eq(daemon_stop(&d, 5000), 0);
	int64_t took = now_ms() - t0;
	ck_assert_msg(took >= 290, "stopped in %lld ms: the pending request did not hold the grace", (long long)took);
	client_close(&a);
}
END_TEST

START_TEST(test_reload_drops_module_in_use)
{
	struct client a, b;
	struct reply r;

	start_facts_daemon();
	client_open(&a, d.port);
	client_send_str(&a, "delay 600 kept\n");
	daemon_wait_stat(&d, "commands", 1, 5000);
	daemon_stat_close(&d); /* it would keep the module's config too */
	reload_without_module();
	/* The old config, and so its module, lives until the answer is out. */
	ck_assert_int_eq(client_read_reply(&a, &r, 5000), 0);
	ck_assert_str_eq(r.status, "OK kept");
	client_request(&a, "delay 1", &r, 5000);
	ck_assert_str_eq(r.status, "ERR unknown-command unknown command; HELP lists the commands");
	WAIT_FOR(!daemon_alive(&d) || !daemon_maps(&d, "/facts.so"), 5000, "facts.so still mapped");
	ck_assert(daemon_alive(&d));
	client_open(&b, d.port);
	client_request(&b, "ping", &r, 5000);
	ck_assert_str_eq(r.status, "OK pong");
	client_close(&a);
	client_close(&b);
	ck_assert_int_eq(daemon_stop(&d, 5000), 0);
}
END_TEST

START_TEST(test_reload_then_disconnect)
{
	struct client a, b;
	struct reply r;

	start_facts_daemon();
	client_open(&a, d.port);
	client_send_str(&a, "delay 1500\n");
	daemon_wait_stat(&d, "commands", 1, 5000);
	daemon_stat_close(&d); /* it would keep the module's config too */
	reload_without_module();
	/* The cancel drops the last reference to the config of the module
	 * whose cancel() is running: the unload must wait. */
	ck_assert(daemon_maps(&d, "/facts.so"));
	client_close(&a);
	WAIT_FOR(!daemon_alive(&d) || !daemon_maps(&d, "/facts.so"), 5000, "facts.so still mapped");
	ck_assert(daemon_alive(&d));
	client_open(&b, d.port);
	client_request(&b, "ping", &r, 5000);
	ck_assert_str_eq(r.status, "OK pong");
	client_close(&b);
	ck_assert_int_eq(daemon_stop(&d, 5000), 0);
}
END_TEST

/* Reloads into a config with the counter test module; waits for it. */
static void reload_with_module(void)
{
	daemon_write_config(&d, "module = " COUNTER_SO "\nshutdown-grace = 300ms\n",
	                    "[command later]\nhandler = counter-later\n");
	daemon_signal(&d, SIGHUP);
	ck_assert_ptr_nonnull(daemon_wait_notify(&d, "RELOADING=1", 5000));
	ck_assert_ptr_nonnull(daemon_wait_notify(&d, "READY=1", 5000));
}

START_TEST(test_last_reference_inside_module)
{
	struct client a, b;
	struct reply r;

	/* The connection is accepted under a config without the module, so
	 * only the request holds the module's config: when the module
	 * answers (from its own timer callback) or cancels after a reload,
	 * the daemon drops the last reference while module code is on the
	 * stack. Unloading then must wait for the next loop turn. */
	daemon_init(&d);
	daemon_write_config(&d, "shutdown-grace = 300ms\n", NULL);
	ck_assert_int_eq(daemon_start(&d, NULL, 10000), 0);
	client_open(&a, d.port);
	client_open(&b, d.port);
	/* The harness's STATS connection is accepted under this config too. */
	ck_assert_int_eq(daemon_stat(&d, "commands"), 0);
	reload_with_module();
	client_send_str(&a, "later\n");
	client_send_str(&b, "later\n");
	daemon_wait_stat(&d, "commands", 2, 5000);
	reload_without_module();
	ck_assert_int_eq(client_read_reply(&a, &r, 5000), 0);
	ck_assert_str_eq(r.status, "OK later");
	client_request(&a, "ping", &r, 5000);
	ck_assert_str_eq(r.status, "OK pong");

	reload_with_module();
	client_request(&a, "later", &r, 5000);
	ck_assert_str_eq(r.status, "OK later");
	client_send_str(&a, "later\n");
	daemon_wait_stat(&d, "commands", 5, 5000);
	reload_without_module();
	ck_assert(daemon_maps(&d, "/counter.so"));
	client_close(&a); /* cancel() in the module drops the last reference */
	client_close(&b); /* b's answer went to a connection config A keeps */
	WAIT_FOR(!daemon_alive(&d) || !daemon_maps(&d, "/counter.so"), 5000, "counter.so still mapped");
	ck_assert(daemon_alive(&d));
	client_open(&a, d.port);
	client_request(&a, "ping", &r, 5000);
	ck_assert_str_eq(r.status, "OK pong");
	client_close(&a);
	ck_assert_int_eq(daemon_stop(&d, 5000), 0);
}
END_TEST

START_TEST(test_guest_config)
{
	TEST_VSOCK_ONLY(); /* the shipped config listens on vsock */
	struct client c;
	struct reply r;
	char text[1024];

	/* The shipped file, unchanged: only the module directory is the build tree's. */
	daemon_init(&d);
	snprintf(text, sizeof(text),
	         "[daemon]\nmodule-dir = " TEST_BUILDDIR "/modules/.libs\n"
	         "include = " TEST_SRCDIR "/conf/udo-vsockd-guest.conf\n");
	write_file(d.conf_path, text);
	d.port = 5000;
	ck_assert_int_eq(daemon_start(&d, NULL, 10000), 0);
	client_open(&c, d.port);
	client_request(&c, "ping", &r, 5000);
	ck_assert_str_eq(r.status, "OK pong");
	client_request(&c, "whoami", &r, 5000);
	ck_assert_str_eq(reply_value(&r, "cid"), "1");
	client_request(&c, "version", &r, 5000);
	ck_assert_ptr_nonnull(reply_value(&r, "protocol"));
	client_request(&c, "stats", &r, 5000);
	ck_assert_ptr_nonnull(reply_value(&r, "connections"));
	client_request(&c, "facts", &r, 5000);
	ck_assert_str_eq(r.status, "OK");
	static const char *const keys[] = {"hostname", "kernel", "os", "uptime", "cid"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		ck_assert_msg(reply_value(&r, keys[i]) != NULL, "no %s in facts", keys[i]);
	char host[256], want[300];
	ck_assert_int_eq(gethostname(host, sizeof(host)), 0);
	snprintf(want, sizeof(want), "OK %s", host);
	client_request(&c, "facts hostname", &r, 5000);
	ck_assert_str_eq(r.status, want);
	/* A read-only check run by the exec handler. */
	client_request(&c, "disk-usage", &r, 10000);
	ck_assert_str_eq(r.status, "OK exit=0");
	ck_assert_int_ge(r.ndata, 2);
	/* Memory from the facts module (sysinfo), not free(1) and /proc/meminfo. */
	client_request(&c, "memory", &r, 5000);
	ck_assert_str_eq(r.status, "OK");
	ck_assert_ptr_nonnull(reply_value(&r, "memory"));
	/* The nine shipped commands (no systemctl checks: doc/systemd-notes.md). */
	client_request(&c, "help", &r, 5000);
	ck_assert_int_ge(r.ndata, 9);
	client_close(&c);
	ck_assert_int_eq(daemon_stop(&d, 5000), 0);
}
END_TEST

/* The suite. */
static Suite *modules_suite(void)
{
	Suite *s = suite_create("vsock_modules");
	TCase *tc = tcase_create("daemon");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_facts);
	tcase_add_test(tc, test_async_answer);
	tcase_add_test(tc, test_disconnect_while_pending);
	tcase_add_test(tc, test_stop_while_pending);
	tcase_add_test(tc, test_reload_drops_module_in_use);
	tcase_add_test(tc, test_reload_then_disconnect);
	tcase_add_test(tc, test_last_reference_inside_module);
	tcase_add_test(tc, test_guest_config);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(modules_suite());

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
