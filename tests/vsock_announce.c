/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vsock_announce - a guest's daemon announces itself to its host
 * (`announce =`, the ANNOUNCE kind, GUESTS) over AF_VSOCK CID 1: two
 * real daemons, the guest's with `announce = vsock:1:PORT` and the
 * host's with `[command announce] handler = announce`. The host's
 * vsock-mux listener gives a second guest view (CID 7) for a machine
 * that moves to another CID. A real suspend cannot be made here: a
 * reload (SIGHUP), which announces again too, stands in for it.
 */
#include <check.h>
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon-harness.h"

static struct daemon host, guest;
static char host_log[300], guest_log[300];

/* Writes the host's config: ANNOUNCE, GUESTS, CID 1 named vm-one, and a
 * vsock-mux listener whose peers are CID 7. */
static void host_config(void)
{
	char extra[512];

	snprintf(extra, sizeof(extra), "listen = vsock-mux:%s/vm.sock:52 cid=7\n", host.dir);
	daemon_write_config(&host, extra,
	                    "[command announce]\nhandler = announce\n\n[command guests]\nhandler = guests\n\n"
	                    "[peer vm-one]\ncid = local\n");
}

/* Starts the host daemon (daemon_init done). */
static void host_start(void)
{
	struct daemon_opts opts = {.listen_fd = -1, .log_path = host_log};

	snprintf(host_log, sizeof(host_log), "%s/daemon.log", host.dir);
	host_config();
	ck_assert_int_eq(daemon_start(&host, &opts, 10000), 0);
}

/* Starts a guest daemon announcing to the host's port, with ENV (one
 * "KEY=VALUE" or NULL) in its environment. */
static void guest_start_env(const char *env)
{
	struct daemon_opts opts = {.env = {env, NULL}, .listen_fd = -1, .log_path = guest_log};
	char extra[128];

	daemon_init(&guest);
	snprintf(guest_log, sizeof(guest_log), "%s/daemon.log", guest.dir);
	snprintf(extra, sizeof(extra), "announce = vsock:1:%u\n", host.port);
	daemon_write_config(&guest, extra, NULL);
	ck_assert_int_eq(daemon_start(&guest, &opts, 10000), 0);
}

/* Starts a guest daemon announcing to the host's port. */
static void guest_start(void)
{
	guest_start_env(NULL);
}

/* Frees both daemons. */
static void teardown(void)
{
	daemon_cleanup(&guest);
	daemon_cleanup(&host);
}

/* How many lines of the log at PATH contain TEXT. */
static int log_lines_with(const char *path, const char *text)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	int n = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, text) != NULL;
	fclose(f);
	return n;
}

/* Copies both daemons' logs to stderr: what a failed wait needs to be understood. */
static void dump_logs(void)
{
	const char *paths[] = {guest_log, host_log};
	char line[4096];

	for (int i = 0; i < 2; i++) {
		FILE *f = paths[i][0] != '\0' ? fopen(paths[i], "r") : NULL;
		while (f != NULL && fgets(line, sizeof(line), f) != NULL)
			fprintf(stderr, "%s log: %s", i == 0 ? "guest" : "host", line);
		if (f != NULL)
			fclose(f);
	}
}

/* Waits up to MS for N lines with TEXT in the log at PATH. */
static int wait_log(const char *path, const char *text, int n, int ms)
{
	int64_t end = now_ms() + ms;

	while (log_lines_with(path, text) < n) {
		if (now_ms() > end) {
			dump_logs();
			return 0;
		}
		sleep_ms(20);
	}
	return 1;
}

/* Sends LINE to the host from CID 1 into *R. */
static void ask(const char *line, struct reply *r)
{
	struct client c;

	client_open(&c, host.port);
	client_request(&c, line, r, 5000);
	client_close(&c);
}

/* Copies GUESTS's line of CID into LINE ("" if none). */
static void guest_line(unsigned int cid, char *line, size_t len)
{
	struct reply r;
	char want[32];

	ask("GUESTS", &r);
	ck_assert_msg(strncmp(r.status, "OK", 2) == 0, "GUESTS: %s", r.status);
	snprintf(want, sizeof(want), "cid=%u ", cid);
	line[0] = '\0';
	for (int i = 0; i < r.ndata && i < HARNESS_REPLY_DATA_MAX; i++) {
		if (strncmp(r.data[i], want, strlen(want)) == 0)
			snprintf(line, len, "%s", r.data[i]);
	}
}

/* Waits up to MS for GUESTS's line of CID to contain TEXT. */
static int wait_guest_line(unsigned int cid, const char *text, int ms)
{
	int64_t end = now_ms() + ms;
	char line[HARNESS_LINE_MAX];

	for (;;) {
		guest_line(cid, line, sizeof(line));
		if (strstr(line, text) != NULL)
			return 1;
		if (now_ms() > end) {
			char cmd[700];
			snprintf(cmd, sizeof(cmd), "cat %s %s >&2", guest_log, host_log);
			if (system(cmd)) {
			}
			return 0;
		}
		sleep_ms(50);
	}
}

/* This kernel's boot id as 32 lowercase hex digits. */
static void boot_id(char out[33])
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
	char buf[64];
	size_t n = 0;

	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	fclose(f);
	for (char *p = buf; *p != '\0' && n < 32; p++) {
		if (isxdigit((unsigned char)*p))
			out[n++] = (char)tolower((unsigned char)*p);
	}
	out[n] = '\0';
}

/* At start the guest announces; the host records it under the kernel's
 * CID with its config name, and the guest logs the host's reply. */
START_TEST(test_announce_at_start)
{
	char want[64], id[33], line[HARNESS_LINE_MAX], host_name[256];

	daemon_init(&host);
	host_start();
	guest_start();
	boot_id(id);
	snprintf(want, sizeof(want), " boot_id=%s ", id);
	ck_assert_msg(wait_guest_line(1, want, 10000), "no announce with %s in GUESTS", want);
	guest_line(1, line, sizeof(line));
	ck_assert_ptr_nonnull(strstr(line, " name=vm-one "));
	/* User-mode Linux may leave the host name unset ("(none)"): then none is sent. */
	ck_assert(gethostname(host_name, sizeof(host_name)) == 0);
	snprintf(want, sizeof(want), " announced_name=%.40s ", strcmp(host_name, "(none)") != 0 ? host_name : "-");
	ck_assert_msg(strstr(line, want) != NULL, "%s not in %s", want, line);
	ck_assert_msg(wait_log(guest_log, "OK cid=1 name=vm-one", 1, 5000), "the guest did not log the reply");
	ck_assert_int_eq(daemon_stop(&guest, 5000), 0);
	ck_assert_int_eq(daemon_stop(&host, 5000), 0);
}
END_TEST

/* A guest whose host is not there yet retries, and announces once it is. */
START_TEST(test_retry_until_host)
{
	daemon_init(&host);
	guest_start();
	ck_assert_msg(wait_log(guest_log, "cannot announce to", 1, 5000), "no failed attempt logged");
	host_start();
	ck_assert_msg(wait_guest_line(1, " announced_name=", 15000), "no announce after the host came");
	ck_assert_int_eq(daemon_stop(&guest, 5000), 0);
}
END_TEST

/* A reload (what a resume the guest kernel cannot see needs) announces again. */
START_TEST(test_reload_announces_again)
{
	daemon_init(&host);
	host_start();
	guest_start();
	ck_assert(wait_log(guest_log, "announced to vsock:", 1, 10000));
	daemon_signal(&guest, SIGHUP);
	ck_assert_msg(wait_log(guest_log, "announced to vsock:", 2, 10000), "no second announce after SIGHUP");
	ck_assert_int_eq(daemon_stop(&guest, 5000), 0);
}
END_TEST

/* Under udo-vsockd@.service the daemon cannot read /proc's boot id
 * (ProcSubset=pid): systemd passes it (%b) as UDO_VSOCKD_BOOT_ID, which
 * the guest sends. */
START_TEST(test_boot_id_from_unit)
{
	daemon_init(&host);
	host_start();
	guest_start_env("UDO_VSOCKD_BOOT_ID=0badc0de00004000800000000000cafe");
	ck_assert_msg(wait_guest_line(1, " boot_id=0badc0de00004000800000000000cafe ", 10000),
	              "UDO_VSOCKD_BOOT_ID is not the boot id the host recorded");
	ck_assert_int_eq(daemon_stop(&guest, 5000), 0);
}
END_TEST

/* Bad announces get a clear ERR and are not recorded; the name a guest
 * claims never replaces the config's. */
START_TEST(test_invalid)
{
	static const char *const bad[] = {
	    "ANNOUNCE name=bad_name! boot-id=0123456789abcdef0123456789abcdef",
	    "ANNOUNCE name=web1 boot-id=not-hex",
	    "ANNOUNCE name=web1 boot-id=0123456789abcdef0123456789abcdef machine-id=12345",
	    "ANNOUNCE name=web1 boot-id=0123456789abcdef0123456789abcdef cid=9",
	    "ANNOUNCE name=web1 name=web2 boot-id=0123456789abcdef0123456789abcdef",
	    "ANNOUNCE name=web1",
	    "ANNOUNCE name=(none) boot-id=0123456789abcdef0123456789abcdef",
	};
	struct reply r;
	char line[HARNESS_LINE_MAX];

	daemon_init(&host);
	host_start();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ask(bad[i], &r);
		ck_assert_msg(strncmp(r.status, "ERR ", 4) == 0, "%s: %s", bad[i], r.status);
	}
	guest_line(1, line, sizeof(line));
	ck_assert_msg(strstr(line, "announced") == NULL, "recorded: %s", line);
	ask("ANNOUNCE name=admin boot-id=01234567-89ab-cdef-0123-456789ABCDEF", &r);
	ck_assert_str_eq(r.status, "OK cid=1 name=vm-one");
	guest_line(1, line, sizeof(line));
	ck_assert_msg(strstr(line, " name=vm-one ") != NULL && strstr(line, " announced_name=admin ") != NULL &&
	                  strstr(line, " boot_id=0123456789abcdef0123456789abcdef ") != NULL,
	              "%s", line);
}
END_TEST

/* A new boot id under the same CID is logged once; a machine id seen
 * under a new CID (here the vsock-mux listener's CID 7) is logged as moved. */
START_TEST(test_reboot_and_move)
{
	struct reply r;
	struct client vm;
	char path[300], line[HARNESS_LINE_MAX];

	daemon_init(&host);
	host_start();
	ask("ANNOUNCE name=web1 boot-id=11111111111111111111111111111111 machine-id=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    &r);
	ck_assert_str_eq(r.status, "OK cid=1 name=vm-one");
	ask("ANNOUNCE name=web1 boot-id=11111111111111111111111111111111 machine-id=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    &r);
	ck_assert(wait_log(host_log, "announced itself as web1", 1, 5000));
	ck_assert_int_eq(log_lines_with(host_log, "rebooted or was replaced"), 0);
	ask("ANNOUNCE name=web1 boot-id=22222222222222222222222222222222 machine-id=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    &r);
	ck_assert_str_eq(r.status, "OK cid=1 name=vm-one");
	ck_assert_msg(wait_log(host_log, "rebooted or was replaced", 1, 5000), "no reboot logged");
	snprintf(path, sizeof(path), "%s/vm.sock_52", host.dir);
	client_open_unix(&vm, path);
	client_request(&vm,
	               "ANNOUNCE name=web1 boot-id=33333333333333333333333333333333 "
	               "machine-id=AAAAAAAA-AAAA-AAAA-AAAA-AAAAAAAAAAAA",
	               &r, 5000);
	client_close(&vm);
	ck_assert_str_eq(r.status, "OK cid=7");
	ck_assert_msg(wait_log(host_log, "moved from cid 1 to cid 7", 1, 5000), "no move logged");
	guest_line(7, line, sizeof(line));
	ck_assert_msg(strstr(line, " machine_id=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa ") != NULL, "%s", line);
	ck_assert_int_eq(log_lines_with(host_log, "rebooted or was replaced"), 1);
}
END_TEST

/* The suite. */
static Suite *announce_suite(void)
{
	Suite *s = suite_create("vsock_announce");
	TCase *tc = tcase_create("announce");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_announce_at_start);
	tcase_add_test(tc, test_retry_until_host);
	tcase_add_test(tc, test_reload_announces_again);
	tcase_add_test(tc, test_boot_id_from_unit);
	tcase_add_test(tc, test_invalid);
	tcase_add_test(tc, test_reboot_and_move);
	suite_add_tcase(s, tc);
	return s;
}

/* Runs the suite. */
int main(void)
{
	SRunner *sr = srunner_create(announce_suite());

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
