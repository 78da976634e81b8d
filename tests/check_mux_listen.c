/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* check_mux_listen - guest-initiated hybrid vsock: a vsock-mux listener
 * is the unix socket PATH_PORT where a Firecracker or Cloud Hypervisor
 * VMM connects for its guest. Here the test plays the VMM with plain
 * unix connects to the real daemon; no vsock traffic is needed. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon-harness.h"

/* Writes D's config: a vsock-mux listener for guest CID 42 named vm1, and
 * a command only that guest may run. */
static void write_mux_config(struct daemon *d, char *base, size_t baselen)
{
	char extra[512];

	snprintf(base, baselen, "%s/vm1.vsock", d->dir);
	snprintf(extra, sizeof(extra), "listen = vsock-mux:%s:5000 cid=42 name=vm1\n", base);
	daemon_write_config(d, extra, "[command secret]\nhandler = ping\nallow = 42\n");
}

/* The VMM's connection carries the listener's identity, and access rules
 * see the guest's CID. */
START_TEST(mux_identity_and_access)
{
	struct daemon d;
	struct client c;
	struct reply r;
	char base[300], path[320];

	daemon_init(&d);
	write_mux_config(&d, base, sizeof(base));
	ck_assert_int_eq(daemon_start(&d, NULL, 10000), 0);
	snprintf(path, sizeof(path), "%s_5000", base);
	client_open_unix(&c, path);
	client_request(&c, "whoami", &r, 5000);
	ck_assert_str_eq(r.status, "OK");
	ck_assert_str_eq(reply_value(&r, "transport"), "vsock-mux");
	ck_assert_str_eq(reply_value(&r, "cid"), "42");
	ck_assert_str_eq(reply_value(&r, "identity"), "vm1");
	ck_assert_ptr_null(reply_value(&r, "port")); /* hybrid vsock does not tell it */
	client_request(&c, "secret", &r, 5000);
	ck_assert_str_eq(r.status, "OK pong");
	/* Nothing the client says changes who it is. */
	client_request(&c, "whoami cid=2", &r, 5000);
	ck_assert_msg(strncmp(r.status, "ERR usage ", 10) == 0, "%s", r.status);
	client_close(&c);
	ck_assert_int_eq(daemon_stop(&d, 10000), 0);
	/* A clean stop removes the socket and its lock file. */
	ck_assert_int_ne(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s_5000.lock", base);
	ck_assert_int_ne(access(path, F_OK), 0);
	daemon_cleanup(&d);
}
END_TEST

/* A socket left by a killed udo-vsockd is replaced on the next start. */
START_TEST(mux_stale_socket_replaced)
{
	struct daemon d;
	struct client c;
	struct reply r;
	char base[300], path[320];

	daemon_init(&d);
	write_mux_config(&d, base, sizeof(base));
	ck_assert_int_eq(daemon_start(&d, NULL, 10000), 0);
	daemon_signal(&d, SIGKILL);
	daemon_wait_exit(&d, 5000);
	snprintf(path, sizeof(path), "%s_5000", base);
	ck_assert_int_eq(access(path, F_OK), 0); /* left behind */
	ck_assert_int_eq(daemon_start(&d, NULL, 10000), 0);
	client_open_unix(&c, path);
	client_request(&c, "ping", &r, 5000);
	ck_assert_str_eq(r.status, "OK pong");
	client_close(&c);
	ck_assert_int_eq(daemon_stop(&d, 10000), 0);
	daemon_cleanup(&d);
}
END_TEST

/* A file some other program made at the path is never removed: the
 * daemon refuses to start instead. */
START_TEST(mux_foreign_file_kept)
{
	struct daemon d;
	char base[300], path[320];
	struct stat st;

	daemon_init(&d);
	write_mux_config(&d, base, sizeof(base));
	snprintf(path, sizeof(path), "%s_5000", base);
	write_file(path, "not ours\n");
	ck_assert_int_eq(daemon_start(&d, NULL, 3000), -1);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	daemon_cleanup(&d);
}
END_TEST

/* The suite. */
static Suite *mux_suite(void)
{
	Suite *s = suite_create("mux-listen");
	TCase *tc = tcase_create("mux-listen");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, mux_identity_and_access);
	tcase_add_test(tc, mux_stale_socket_replaced);
	tcase_add_test(tc, mux_foreign_file_kept);
	suite_add_tcase(s, tc);
	return s;
}

/* Runs the suite. */
int main(void)
{
	SRunner *sr = srunner_create(mux_suite());

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
