/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vsock_notify - the receiver of guests' own systemd notifications
 * (notify-listen, GUESTS) in the real daemon over AF_VSOCK CID 1.
 *
 * The test peer (notify-sender.c) sends what a guest's PID 1 sends to
 * the address of its vmm.notify_socket credential, as systemd's sources
 * do it
 * (src/libsystemd/sd-daemon/sd-daemon.c, pid_notify_with_fds_internal(),
 * commit 01cae7a7446e5f2ac43a13d94fdf633511e5ff23): bind a privileged
 * port (1023 down) when allowed, connect with SOCK_SEQPACKET ("vsock:",
 * where the transport has no datagrams, and "vsock-seqpacket:") or
 * SOCK_STREAM ("vsock-stream:"), send the whole message, shutdown
 * SHUT_WR, then wait for the receiver's EOF. The message is KEY=VALUE
 * lines joined by newlines, the fields systemd(1) documents for its
 * supervisor: READY=1, STATUS=, X_SYSTEMD_UNIT_ACTIVE= (a target
 * reached), X_SYSTEMD_SHUTDOWN= (reboot, halt, poweroff, kexec) and
 * EXIT_STATUS=. Debian 12's systemd is 252, older than vmm.notify_socket
 * (254), so no real guest systemd is run here: this peer stands in.
 * vsock_loopback (CID 1) has no datagrams, so vsock-dgram: is not
 * tested. Many guests need many CIDs, which loopback cannot give: the
 * guest table's eviction is tested in-process, on the daemon's own code.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "../src/udo-vsockd/conf.h"
#include "../src/udo-vsockd/guests.h"
#include "daemon-harness.h"
#include "notify-sender.h"

static struct daemon d;
static unsigned int seq_port, stream_port;
static char log_path[300];
static char more_buf[512];
static char sections_more[1024];  /* more sections for the config */
static unsigned int start_nofile; /* > 0: the daemon's RLIMIT_NOFILE */

/* Writes the config: notify listeners (seqpacket if WITH_SEQ, and
 * stream) and the [daemon] settings MORE. */
static void write_config(int with_seq, const char *more)
{
	char extra[1024];

	/* The vsock-mux listener: a guest's view (CID 7). */
	snprintf(extra, sizeof(extra),
	         "%s%u\nnotify-listen = vsock-stream:any:%u\nlisten = vsock-mux:%s/vm.sock:52 cid=7\n%s",
	         with_seq ? "notify-listen = vsock:any:" : "# no seqpacket listener ", seq_port, stream_port, d.dir,
	         more);
	char sections[1536];
	snprintf(sections, sizeof(sections), "[command guests]\nhandler = guests\n\n[peer vm-one]\ncid = local\n\n%s",
	         sections_more);
	daemon_write_config(&d, extra, sections);
}

/* start() after daemon_init(&d). */
static void start_inited(const char *more)
{
	struct daemon_opts opts = {.listen_fd = -1, .nofile = start_nofile};

	seq_port = free_vsock_port();
	do
		stream_port = free_vsock_port();
	while (stream_port == seq_port);
	/* Not root: the sender cannot bind a privileged port as PID 1 does. */
	snprintf(more_buf, sizeof(more_buf), "%s%s", geteuid() == 0 ? "" : "notify-any-port = yes\n", more);
	write_config(1, more_buf);
	snprintf(log_path, sizeof(log_path), "%s/daemon.log", d.dir);
	opts.log_path = log_path;
	ck_assert_int_eq(daemon_start(&d, &opts, 10000), 0);
}

/* Starts the daemon with notify listeners (seqpacket and stream) and
 * the [daemon] settings MORE. */
static void start(const char *more)
{
	daemon_init(&d);
	start_inited(more);
}

/* Reloads with WITH_SEQ and MORE, and waits until it is done. */
static void reload(int with_seq, const char *more)
{
	snprintf(more_buf, sizeof(more_buf), "%s%s", geteuid() == 0 ? "" : "notify-any-port = yes\n", more);
	write_config(with_seq, more_buf);
	daemon_signal(&d, SIGHUP);
	ck_assert_ptr_nonnull(daemon_wait_notify(&d, "RELOADING=1", 5000));
	ck_assert_ptr_nonnull(daemon_wait_notify(&d, "READY=1", 5000));
}

/* Kills whatever still runs. */
static void teardown(void)
{
	daemon_cleanup(&d);
	sections_more[0] = '\0';
	start_nofile = 0;
}

/* Connects a socket of TYPE to CID 1 PORT as systemd does: from a
 * privileged port when it may (notify-sender.c). Returns the fd. */
static int notify_connect(int type, unsigned int port)
{
	char err[256];
	int fd = notify_sender_connect(type, VMADDR_CID_LOCAL, port, err, sizeof(err));

	/* Unbound without the privilege, as systemd: start() has set
	 * notify-any-port then. */
	ck_assert_msg(fd >= 0, "%s", err);
	return fd;
}

/* Sends MSG (LEN bytes) over a socket of TYPE as systemd does, and
 * returns what the wait for the receiver's EOF gave: 0 is EOF. */
static ssize_t notify_send_len(int type, const char *msg, size_t len)
{
	char err[256];
	ssize_t n = notify_sender_send(type, VMADDR_CID_LOCAL, type == SOCK_STREAM ? stream_port : seq_port, msg, len,
	                               err, sizeof(err));

	ck_assert_msg(n != -2, "%s", err);
	return n;
}

/* notify_send_len of the string MSG; fails unless the daemon ends it. */
static void notify_send(int type, const char *msg)
{
	ck_assert_int_eq(notify_send_len(type, msg, strlen(msg)), 0);
}

/* GUESTS asked over a fresh connection, into R. */
static void guests(struct reply *r)
{
	struct client c;

	client_open(&c, d.port);
	client_request(&c, "GUESTS", r, 5000);
	client_close(&c);
	ck_assert_msg(strncmp(r->status, "OK", 2) == 0, "GUESTS: %s", r->status);
}

/* The number in "KEY=N" of GUESTS's status line, or -1. */
static long long guests_count(const char *key)
{
	struct reply r;
	char want[64];

	guests(&r);
	snprintf(want, sizeof(want), " %s=", key);
	const char *p = strstr(r.status, want);
	return p != NULL ? atoll(p + strlen(want)) : -1;
}

/* True if GUESTS's line of CID 1 contains TEXT. */
static int guest_line_has(const char *text)
{
	struct reply r;

	guests(&r);
	for (int i = 0; i < r.ndata && i < HARNESS_REPLY_DATA_MAX; i++) {
		if (strncmp(r.data[i], "cid=1 ", 6) == 0)
			return strstr(r.data[i], text) != NULL;
	}
	return 0;
}

/* How many lines of the daemon's log contain TEXT. */
static int log_lines_with(const char *text)
{
	FILE *f = fopen(log_path, "r");
	char line[4096];
	int n = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, text) != NULL;
	fclose(f);
	return n;
}

/* How many lines of file PATH contain TEXT. */
static int file_lines_with(const char *path, const char *text)
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

/* Writes the hook script DIR/hook.sh, which appends one line of what it
 * was given to DIR/hooks.out (shell builtins only: the hook gets no PATH),
 * then runs TAIL. Sets the [command on-ready] and [command on-down]
 * sections (exec, TIMEOUT) naming it. */
static void hook_setup(const char *dir, const char *tail, const char *timeout, char *out, size_t outlen)
{
	char path[300], text[1024];

	snprintf(path, sizeof(path), "%s/hook.sh", dir);
	snprintf(out, outlen, "%s/hooks.out", dir);
	snprintf(text, sizeof(text),
	         "#!/bin/sh\necho \"run $UDO_GUEST_EVENT cid=$UDO_GUEST_CID name=$UDO_GUEST_NAME "
	         "status=$UDO_GUEST_STATUS shutdown=$UDO_GUEST_SHUTDOWN cmd=$UDO_COMMAND args=$# pid=$$\" >>%s\n%s\n",
	         out, tail);
	write_file(path, text);
	ck_assert_int_eq(chmod(path, 0755), 0);
	snprintf(sections_more, sizeof(sections_more),
	         "[command on-ready]\nhandler = exec\npath = %s\ntimeout = %s\ndeny = any\n\n"
	         "[command on-down]\nhandler = exec\npath = %s\ntimeout = %s\ndeny = any\n",
	         path, timeout, path, timeout);
}

/* guest-ready-hook runs once when a guest becomes ready, not again on a
 * repeated READY=1; guest-shutdown-hook once at X_SYSTEMD_SHUTDOWN; a
 * reboot (READY=1 after the shutdown) is ready again. Each hook gets the
 * guest in UDO_GUEST_*, and leaves no child nor fd behind. */
START_TEST(test_hooks)
{
	char out[300];

	daemon_init(&d);
	hook_setup(d.dir, "exit 3", "5s", out, sizeof(out));
	start_inited("guest-ready-hook = on-ready\nguest-shutdown-hook = on-down\n");
	int fds = process_fd_count(d.pid);
	notify_send(SOCK_SEQPACKET, "READY=1\nSTATUS=up and running");
	wait_file_contains(
	    out, "run ready cid=1 name=vm-one status=up and running shutdown= cmd=on-ready args=0 pid=", 5000);
	/* A repeat is no transition: the count moves at once if it were. */
	notify_send(SOCK_SEQPACKET, "READY=1");
	notify_send(SOCK_SEQPACKET, "READY=1\nSTATUS=still up");
	ck_assert_int_eq(guests_count("hooks"), 1);
	notify_send(SOCK_STREAM, "X_SYSTEMD_SHUTDOWN=reboot");
	wait_file_contains(out, "run shutdown cid=1 name=vm-one status=still up shutdown=reboot cmd=on-down", 5000);
	notify_send(SOCK_STREAM, "X_SYSTEMD_SHUTDOWN=reboot");
	ck_assert_int_eq(guests_count("hooks"), 2);
	/* Booted again. */
	notify_send(SOCK_SEQPACKET, "READY=1");
	WAIT_FOR(file_lines_with(out, "run ready ") == 2, 5000, "the ready hook after a reboot");
	ck_assert_int_eq(guests_count("hooks"), 3);
	ck_assert_int_eq(guests_count("hooks_dropped"), 0);
	/* Each end logged once, with its exit status. */
	ck_assert_int_eq(wait_child_count(d.pid, 0, 5000), 0);
	WAIT_FOR(log_lines_with("guest-ready-hook on-ready for vm-one (cid 1): exit=3") == 2, 5000,
	         "the ready hook's exit logged");
	ck_assert_int_eq(log_lines_with("guest-shutdown-hook on-down for vm-one (cid 1): exit=3"), 1);
	ck_assert_int_eq(file_lines_with(out, "run "), 3);
	ck_assert_int_eq(wait_fd_count(d.pid, fds, 5000), fds);
	ck_assert_int_eq(daemon_stop(&d, 5000), 0);
}
END_TEST

/* At most guest-max-hooks hooks run at once: one more is dropped and
 * counted; a hook over its exec timeout is killed, group and all. */
START_TEST(test_hook_bounds)
{
	char out[300];

	daemon_init(&d);
	hook_setup(d.dir, "/bin/sleep 60 & wait", "2s", out, sizeof(out));
	start_inited("guest-ready-hook = on-ready\nguest-shutdown-hook = on-down\nguest-max-hooks = 1\n");
	notify_send(SOCK_SEQPACKET, "READY=1");
	wait_file_contains(out, "run ready ", 5000);
	notify_send(SOCK_SEQPACKET, "X_SYSTEMD_SHUTDOWN=poweroff");
	ck_assert_int_eq(guests_count("hooks"), 1);
	ck_assert_int_eq(guests_count("hooks_dropped"), 1);
	WAIT_FOR(log_lines_with("dropped: 1 hooks running (guest-max-hooks)") == 1, 5000, "the drop logged");
	WAIT_FOR(log_lines_with("guest-ready-hook on-ready for vm-one (cid 1): killed after 2000 ms") == 1, 5000,
	         "the hook killed at its timeout");
	/* The shell and its sleep: the whole group is gone. */
	ck_assert_int_eq(wait_child_count(d.pid, 0, 5000), 0);
	ck_assert_int_eq(file_lines_with(out, "run shutdown "), 0);
	/* Booted again; the daemon stops while the hook runs: it goes too. */
	notify_send(SOCK_SEQPACKET, "READY=1");
	WAIT_FOR(file_lines_with(out, "run ready ") == 2, 5000, "the ready hook after a reboot");
	char text[4096];
	FILE *f = fopen(out, "r");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	const char *pid = strrchr(text, '=');
	ck_assert_ptr_nonnull(pid);
	ck_assert_int_eq(daemon_stop(&d, 5000), 0);
	wait_process_gone((pid_t)atol(pid + 1), 5000);
}
END_TEST

/* Every field systemd sends, over SOCK_SEQPACKET ("vsock:") and over
 * SOCK_STREAM ("vsock-stream:"); one log line per change, not per
 * message; the sender gets its EOF. */
START_TEST(test_every_field)
{
	start("");
	/* What PID 1 sends once booted: READY=1 with its STATUS, and a
	 * target reached (newline-separated, one message). */
	notify_send(SOCK_SEQPACKET,
	            "READY=1\nSTATUS=Startup finished in 1.203s.\nX_SYSTEMD_UNIT_ACTIVE=multi-user.target");
	ck_assert(guest_line_has("cid=1 name=vm-one "));
	ck_assert(guest_line_has(" ready=1 ready_time="));
	ck_assert(guest_line_has(" status=\"Startup finished in 1.203s.\" status_time="));
	ck_assert(guest_line_has(" unit_active=multi-user.target unit_active_time="));
	ck_assert(!guest_line_has(" shutdown="));
	/* The same again changes nothing: no new log lines. */
	notify_send(SOCK_SEQPACKET, "READY=1");
	WAIT_FOR(log_lines_with("guest vm-one (cid 1): READY=1") == 1, 5000, "READY=1 logged once");
	ck_assert_int_eq(log_lines_with("X_SYSTEMD_UNIT_ACTIVE=multi-user.target"), 1);
	/* Going down, over a stream: shutdown kind, then the exit status. */
	notify_send(SOCK_STREAM, "X_SYSTEMD_SHUTDOWN=poweroff");
	notify_send(SOCK_STREAM, "EXIT_STATUS=0");
	ck_assert(guest_line_has(" shutdown=poweroff shutdown_time="));
	ck_assert(guest_line_has(" exit_status=0 exit_status_time="));
	ck_assert(guest_line_has(" ready=1 "));
	ck_assert_int_eq(log_lines_with("guest vm-one (cid 1): X_SYSTEMD_SHUTDOWN=poweroff"), 1);
	ck_assert_int_eq(log_lines_with("guest vm-one (cid 1): EXIT_STATUS=0"), 1);
	ck_assert_int_eq(guests_count("messages"), 4);
	ck_assert_int_eq(guests_count("guests"), 1);
	/* A control byte from a guest never reaches a reply or a log. */
	notify_send(SOCK_SEQPACKET, "STATUS=a\033[2Jb");
	ck_assert(guest_line_has(" status=a?[2Jb "));
	ck_assert_int_eq(daemon_stop(&d, 5000), 0);
}
END_TEST

/* A sender on a port above 1023 (any guest process may bind one; PID 1
 * binds one of 1023 and below) is refused unless notify-any-port. */
START_TEST(test_unprivileged_port)
{
	struct sockaddr_vm sa = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_LOCAL};
	char c;

	if (geteuid() != 0)
		return; /* the privileged side cannot be shown */
	start("");
	sa.svm_port = seq_port;
	int fd = socket(AF_VSOCK, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0); /* bound to a port above 1023 */
	send(fd, "READY=1", 7, MSG_NOSIGNAL);
	ck_assert_int_le(recv(fd, &c, 1, 0), 0);
	close(fd);
	WAIT_FOR(guests_count("unprivileged") == 1, 5000, "the unprivileged sender counted");
	ck_assert_int_eq(guests_count("messages"), 0);
	ck_assert(!guest_line_has(" ready="));
	reload(1, "notify-any-port = yes\n");
	fd = socket(AF_VSOCK, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(send(fd, "READY=1", 7, MSG_NOSIGNAL), 7);
	shutdown(fd, SHUT_WR);
	ck_assert_int_eq(recv(fd, &c, 1, 0), 0);
	close(fd);
	ck_assert(guest_line_has(" ready=1 "));
	ck_assert_int_eq(daemon_stop(&d, 5000), 0);
}
END_TEST

/* A guest (CID 7 behind the vsock-mux listener) sees only its own
 * line in GUESTS, and none of the counts. */
START_TEST(test_guest_sees_its_own)
{
	char path[300];
	struct client vm;
	struct reply r;

	start("");
	notify_send(SOCK_SEQPACKET, "READY=1");
	ck_assert(guest_line_has(" ready=1 "));
	snprintf(path, sizeof(path), "%s/vm.sock_52", d.dir);
	client_open_unix(&vm, path);
	client_request(&vm, "GUESTS", &r, 5000);
	client_close(&vm);
	ck_assert_str_eq(r.status, "OK");
	ck_assert_int_eq(r.ndata, 0);
	ck_assert_int_eq(daemon_stop(&d, 5000), 0);
}
END_TEST

/* A message over notify-max-message is dropped and counted, on both
 * socket types, and the daemon goes on taking and answering. */
START_TEST(test_oversized)
{
	char big[2000];

	start("notify-max-message = 256\n");
	memset(big, 'x', sizeof(big));
	memcpy(big, "STATUS=", 7);
	ck_assert_int_eq(notify_send_len(SOCK_SEQPACKET, big, sizeof(big)), 0);
	ck_assert_int_eq(guests_count("oversized"), 1);
	ck_assert(!guest_line_has(" status="));
	/* A stream is cut once it passes the limit. */
	ck_assert_int_ge(notify_send_len(SOCK_STREAM, big, sizeof(big)), -1);
	WAIT_FOR(guests_count("oversized") == 2, 5000, "the stream message counted as oversized");
	ck_assert_int_eq(guests_count("messages"), 0);
	/* Exactly the limit is taken. */
	big[255] = '\0';
	notify_send(SOCK_SEQPACKET, big);
	ck_assert(guest_line_has(" status=xxx"));
	ck_assert_int_eq(guests_count("messages"), 1);
	ck_assert_int_eq(daemon_stop(&d, 5000), 0);
}
END_TEST

/* A guest sending faster than notify-burst per notify-interval has the
 * rest dropped and counted; the daemon still answers. */
START_TEST(test_flood)
{
	char msg[64];

	start("notify-burst = 5\nnotify-interval = 60s\n");
	for (int i = 0; i < 20; i++) {
		snprintf(msg, sizeof(msg), "STATUS=step %d", i);
		notify_send(SOCK_SEQPACKET, msg);
	}
	ck_assert_int_eq(guests_count("messages"), 5);
	ck_assert_int_eq(guests_count("rate_limited"), 15);
	ck_assert(guest_line_has(" status=\"step 4\" "));
	ck_assert_int_eq(log_lines_with("more than 5 notify messages"), 1);
	ck_assert_int_eq(daemon_stop(&d, 5000), 0);
}
END_TEST

/* Open connections beyond notify-max-connections are closed at once;
 * one that sends nothing is closed after notify-timeout. */
START_TEST(test_connection_bounds)
{
	int fd[3];
	char c;

	start("notify-max-connections = 2\nnotify-timeout = 500ms\n");
	int base = process_fd_count(d.pid);
	fd[0] = notify_connect(SOCK_STREAM, stream_port);
	fd[1] = notify_connect(SOCK_SEQPACKET, seq_port);
	/* Both are the daemon's before the third comes. */
	ck_assert_int_eq(wait_fd_count(d.pid, base + 2, 5000), base + 2);
	fd[2] = notify_connect(SOCK_STREAM, stream_port);
	int64_t t0 = now_ms();
	ck_assert_int_eq(recv(fd[2], &c, 1, 0), 0);
	ck_assert_int_eq(guests_count("rejected"), 1);
	/* The two quiet ones are closed by the timeout, not before. */
	ck_assert_int_eq(recv(fd[0], &c, 1, 0), 0);
	ck_assert_int_eq(recv(fd[1], &c, 1, 0), 0);
	ck_assert_int_ge(now_ms() - t0, 300);
	ck_assert_int_eq(guests_count("timed_out"), 2);
	for (int i = 0; i < 3; i++)
		close(fd[i]);
	ck_assert_int_eq(daemon_stop(&d, 5000), 0);
}
END_TEST

/* One guest holding notify-max-connections-per-guest connections open
 * gets its next one closed at once, while the total has room; once it
 * lets one go, it reports again. */
START_TEST(test_connections_per_guest)
{
	int fd[2];
	char c;

	start("notify-max-connections-per-guest = 1\nnotify-timeout = 10s\n");
	int base = process_fd_count(d.pid);
	fd[0] = notify_connect(SOCK_STREAM, stream_port);
	ck_assert_int_eq(wait_fd_count(d.pid, base + 1, 5000), base + 1);
	fd[1] = notify_connect(SOCK_SEQPACKET, seq_port);
	ck_assert_int_eq(recv(fd[1], &c, 1, 0), 0);
	ck_assert_int_eq(guests_count("rejected"), 1);
	close(fd[1]);
	close(fd[0]);
	ck_assert_int_eq(wait_fd_count(d.pid, base, 5000), base);
	notify_send(SOCK_SEQPACKET, "READY=1");
	ck_assert(guest_line_has(" ready=1 "));
	ck_assert_int_eq(guests_count("rejected"), 1);
	ck_assert_int_eq(daemon_stop(&d, 5000), 0);
}
END_TEST

/* Out of descriptors, a notify listener pauses accepting (as the
 * config's listeners do) rather than spin on the connections left
 * queued, and resumes as soon as a notify connection closes (accept-pause
 * is long here, so not its timer). */
START_TEST(test_emfile_pauses)
{
	enum { NOFILE = 32 };
	int fd[NOFILE + 2], n, warned;

	start_nofile = NOFILE;
	start("log-level = info\nnotify-timeout = 60min\naccept-pause = 60s\n"
	      "notify-max-connections-per-guest = 100\n");
	/* Two quiet connections more than the daemon has descriptors left. */
	int spare = NOFILE - process_fd_count(d.pid);
	ck_assert_int_gt(spare, 0);
	for (n = 0; n < spare + 2; n++)
		fd[n] = notify_connect(SOCK_STREAM, stream_port);
	/* Out of them for good: every descriptor taken, or accepting paused. */
	int64_t end = now_ms() + 5000;
	while (
	    !(log_lines_with("accept on notify listener") > 0 &&
	      (process_fd_count(d.pid) == NOFILE || log_lines_with("accepting paused: out of file descriptors") > 0)) &&
	    now_ms() < end)
		sleep_ms(10);
	warned = log_lines_with("accept on notify listener");
	ck_assert_msg(warned > 0, "the daemon never ran out of descriptors");
	sleep_ms(300); /* a measurement: a listener spinning on EMFILE logs thousands of lines in it */
	ck_assert_int_eq(log_lines_with("accept on notify listener"), warned);
	/* The others close: the last one is accepted and its message taken. */
	for (int i = 0; i < n - 1; i++)
		close(fd[i]);
	const char *msg = "READY=1\nSTATUS=after EMFILE";
	ck_assert_int_eq(send(fd[n - 1], msg, strlen(msg), MSG_NOSIGNAL), (ssize_t)strlen(msg));
	ck_assert_int_eq(shutdown(fd[n - 1], SHUT_WR), 0);
	char c;
	ck_assert_int_eq(recv(fd[n - 1], &c, 1, 0), 0);
	close(fd[n - 1]);
	ck_assert(guest_line_has(" status=\"after EMFILE\" "));
	ck_assert_int_eq(daemon_stop(&d, 5000), 0);
}
END_TEST

/* A reload opens and closes notify listeners; the guests stay. */
START_TEST(test_reload)
{
	int fd;

	start("");
	notify_send(SOCK_SEQPACKET, "READY=1");
	reload(0, "");
	ck_assert(guest_line_has(" ready=1 "));
	fd = socket(AF_VSOCK, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	struct sockaddr_vm sa = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_LOCAL, .svm_port = seq_port};
	ck_assert_int_ne(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	notify_send(SOCK_STREAM, "STATUS=still here");
	reload(1, "");
	notify_send(SOCK_SEQPACKET, "X_SYSTEMD_UNIT_ACTIVE=graphical.target");
	ck_assert(guest_line_has(" ready=1 "));
	ck_assert(guest_line_has(" status=\"still here\" "));
	ck_assert(guest_line_has(" unit_active=graphical.target "));
	ck_assert_int_eq(daemon_stop(&d, 5000), 0);
}
END_TEST

/* systemd's spellings of the credential are the notify-listen forms;
 * "vsock:" listens with SOCK_SEQPACKET (in-process, the daemon's code). */
START_TEST(test_address_forms)
{
	static const char *const forms[][2] = {
	    {"vsock:any:5001", "vsock-seqpacket:any:5001"},
	    {"vsock-seqpacket:any:5001", "vsock-seqpacket:any:5001"},
	    {"vsock-stream:2:5002", "vsock-stream:host:5002"},
	    {"vsock-dgram:any:5003", "vsock-dgram:any:5003"},
	};
	char canon[96], why[256];

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		ck_assert_msg(notify_listen_parse(forms[i][0], canon, sizeof(canon), why, sizeof(why)) == 0, "%s: %s",
		              forms[i][0], why);
		ck_assert_str_eq(canon, forms[i][1]);
	}
	ck_assert_int_eq(notify_listen_parse("vsock-raw:any:1", canon, sizeof(canon), why, sizeof(why)), -1);
	ck_assert_int_eq(notify_listen_parse("unix:/run/x", canon, sizeof(canon), why, sizeof(why)), -1);
	ck_assert_int_eq(notify_listen_parse("vsock:any:any", canon, sizeof(canon), why, sizeof(why)), -1);
	ck_assert_int_eq(notify_listen_parse("vsock:any", canon, sizeof(canon), why, sizeof(why)), -1);
}
END_TEST

/* vsock_loopback has no datagrams: a vsock-dgram: listener cannot open,
 * and the daemon says why instead of starting without it. */
START_TEST(test_dgram_needs_transport)
{
	char extra[256];
	struct daemon_opts opts = {.listen_fd = -1};

	daemon_init(&d);
	snprintf(extra, sizeof(extra), "notify-listen = vsock-dgram:any:%u\n", free_vsock_port());
	daemon_write_config(&d, extra, NULL);
	snprintf(log_path, sizeof(log_path), "%s/daemon.log", d.dir);
	opts.log_path = log_path;
	if (daemon_start(&d, &opts, 10000) == 0) {
		/* A transport with datagrams (VMCI, Hyper-V) takes it. */
		fprintf(stderr, "vsock_notify: this vsock has datagrams: vsock-dgram: listens\n");
		ck_assert_int_eq(daemon_stop(&d, 5000), 0);
		return;
	}
	ck_assert_int_eq(log_lines_with("vsock datagrams need a transport that has them"), 1);
}
END_TEST

/* The guest table (the daemon's code, in-process): at most MAX guests,
 * the least recently heard forgotten first; hearing one again keeps it. */
START_TEST(test_evict_oldest)
{
	struct guest_table t = {0};

	for (uint32_t cid = 10; cid < 15; cid++)
		ck_assert_ptr_nonnull(guest_table_take(&t, 3, cid, "READY=1", 7, 100 + cid, NULL, NULL));
	ck_assert_uint_eq(t.n, 3);
	ck_assert_uint_eq(t.counts.evicted, 2);
	ck_assert_ptr_null(guest_table_find(&t, 10));
	ck_assert_ptr_null(guest_table_find(&t, 11));
	/* 12 is heard again: 13 is now the oldest. */
	ck_assert_ptr_nonnull(guest_table_take(&t, 3, 12, "STATUS=up", 9, 200, NULL, NULL));
	ck_assert_ptr_nonnull(guest_table_take(&t, 3, 15, "READY=1", 7, 201, NULL, NULL));
	ck_assert_ptr_null(guest_table_find(&t, 13));
	const struct guest *g = guest_table_find(&t, 12);
	ck_assert_ptr_nonnull(g);
	ck_assert_str_eq(g->value[GUEST_READY], "1");
	ck_assert_str_eq(g->value[GUEST_STATUS], "up");
	ck_assert_int_eq(g->when[GUEST_STATUS], 200);
	ck_assert_uint_eq(t.counts.evicted, 3);
	guest_table_clear(&t);
}
END_TEST

/* The suite. */
static Suite *notify_suite(void)
{
	Suite *s = suite_create("vsock_notify");
	TCase *tc = tcase_create("notify");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_every_field);
	tcase_add_test(tc, test_guest_sees_its_own);
	tcase_add_test(tc, test_unprivileged_port);
	tcase_add_test(tc, test_oversized);
	tcase_add_test(tc, test_flood);
	tcase_add_test(tc, test_connection_bounds);
	tcase_add_test(tc, test_connections_per_guest);
	tcase_add_test(tc, test_emfile_pauses);
	tcase_add_test(tc, test_reload);
	tcase_add_test(tc, test_evict_oldest);
	tcase_add_test(tc, test_hooks);
	tcase_add_test(tc, test_hook_bounds);
	tcase_add_test(tc, test_address_forms);
	tcase_add_test(tc, test_dgram_needs_transport);
	suite_add_tcase(s, tc);
	return s;
}

/* Runs the suite. */
int main(void)
{
	SRunner *sr = srunner_create(notify_suite());

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
