/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsock_handoff - the handoff and proxy handlers, driving the real daemon
 * over AF_VSOCK CID 1 with real local services as separate processes. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <udo/vsock-addr.h>
#include <udo/vsock-tcp.h>

#include "daemon-harness.h"

/* A listening unix socket at PATH. */
static int unix_listen(const char *path)
{
	struct sockaddr_un su = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(su.sun_path, sizeof(su.sun_path), "%s", path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&su, sizeof(su)), 0);
	/* Room for every connect of a test (20 at most) before the service
	 * process first runs: a unix connect to a full queue fails at once. */
	ck_assert_int_eq(listen(fd, 64), 0);
	return fd;
}

/* A listening TCP socket on 127.0.0.1 and a free port (in *PORT). */
static int tcp_listen_loopback(unsigned int *port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* The daemon's fd count once it is idle: after a round trip, once the
 * daemon has closed that connection. */
static int idle_fds(struct daemon *d)
{
	struct client c;
	struct reply r;

	client_open(&c, d->port);
	client_request(&c, "ping", &r, 5000);
	client_close(&c);
	daemon_wait_idle(d, 5000);
	return process_fd_count(d->pid);
}

/* The daemon's counter KEY from STATS asked on C (its data lines read
 * KEY=N), or -1 if the reply has no such line. */
static long stats_counter(struct client *c, const char *key)
{
	struct reply r;

	client_request(c, "stats", &r, 5000);
	return (long)reply_number(&r, key);
}

/* The service gets the socket, the peer's identity, the words and the
 * bytes pipelined after the request, and then talks to the client. */
START_TEST(handoff_passes_connection)
{
	TEST_VSOCK_ONLY(); /* the hand-off carries the CID */
	struct daemon d;
	struct client c;
	char svc[300], sections[600], line[512];

	daemon_init(&d);
	snprintf(svc, sizeof(svc), "%s/svc.sock", d.dir);
	pid_t echo = handoff_echo_start(svc);
	snprintf(sections, sizeof(sections), "[command shell]\nhandler = handoff\nsocket = unix:%s\n", svc);
	daemon_write_config(&d, NULL, sections);
	ck_assert_int_eq(daemon_start(&d, NULL, 10000), 0);
	int fds_before = idle_fds(&d);

	client_open(&c, d.port);
	client_send_str(&c, "PING 1\nshell alpha \"b c\"\npipelined bytes\n");
	client_expect_line(&c, "OK pong 1", 5000);
	client_expect_line(&c, "OK handoff", 5000);
	ck_assert_int_ge(client_read_line(&c, line, sizeof(line), 5000), 0);
	ck_assert_msg(strstr(line, "cid=1 ") != NULL && strstr(line, "words=3 command=shell") != NULL, "%s", line);
	client_expect_line(&c, "handoff-echo: arg 1: alpha", 5000);
	client_expect_line(&c, "handoff-echo: arg 2: b c", 5000);
	client_expect_line(&c, "pipelined bytes", 5000);
	/* The daemon is out of the way: a PING is echoed, not answered. */
	client_send_str(&c, "PING 2\n");
	client_expect_line(&c, "PING 2", 5000);
	client_close(&c);

	/* The daemon kept no copy of the handed-off socket. */
	ck_assert_int_eq(wait_fd_count(d.pid, fds_before, 2000), fds_before);
	ck_assert_int_eq(daemon_stop(&d, 10000), 0);
	kill_and_reap(echo);
	daemon_cleanup(&d);
}
END_TEST

/* No service: ERR unavailable, and the connection goes on serving. */
START_TEST(handoff_without_service)
{
	struct daemon d;
	struct client c;
	struct reply r;
	char sections[600];

	daemon_init(&d);
	snprintf(sections, sizeof(sections), "[command shell]\nhandler = handoff\nsocket = unix:%s/none.sock\n", d.dir);
	daemon_write_config(&d, NULL, sections);
	ck_assert_int_eq(daemon_start(&d, NULL, 10000), 0);
	client_open(&c, d.port);
	client_request(&c, "shell", &r, 5000);
	ck_assert_msg(strncmp(r.status, "ERR unavailable ", 16) == 0, "%s", r.status);
	client_request(&c, "ping", &r, 5000);
	ck_assert_str_eq(r.status, "OK pong");
	client_close(&c);
	ck_assert_int_eq(daemon_stop(&d, 10000), 0);
	daemon_cleanup(&d);
}
END_TEST

/* A service whose backlog is full: the daemon's connect does not wait
 * (that would stall every client) but answers ERR busy at once, and the
 * connection goes on serving. */
START_TEST(handoff_service_busy)
{
	struct daemon d;
	struct client c;
	struct reply r;
	struct udo_vsock_addr svc;
	struct sockaddr_storage ss;
	socklen_t sslen;
	char text[300], sections[600];
	int lfd, queued[16], n = 0;

	daemon_init(&d);
	snprintf(text, sizeof(text), "unix:%s/busy.sock", d.dir);
	ck_assert_int_eq(udo_vsock_addr_parse(&svc, text, NULL, 0), 0);
	ck_assert_int_eq(udo_vsock_addr_to_sockaddr(&svc, &ss, &sslen), 0);
	lfd = udo_vsock_addr_listen(&svc, 1, 0, NULL, 0);
	ck_assert_int_ge(lfd, 0);
	/* Fill the backlog: it never accepts. */
	for (;; n++) {
		ck_assert_int_lt(n, 16);
		queued[n] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		ck_assert_int_ge(queued[n], 0);
		if (connect(queued[n], (struct sockaddr *)&ss, sslen) < 0) {
			ck_assert_int_eq(errno, EAGAIN);
			close(queued[n]);
			break;
		}
	}
	snprintf(sections, sizeof(sections), "[command shell]\nhandler = handoff\nsocket = %s\n", text);
	daemon_write_config(&d, NULL, sections);
	ck_assert_int_eq(daemon_start(&d, NULL, 10000), 0);
	client_open(&c, d.port);
	client_request(&c, "shell", &r, 5000);
	ck_assert_msg(strncmp(r.status, "ERR busy ", 9) == 0, "%s", r.status);
	client_request(&c, "ping", &r, 5000);
	ck_assert_str_eq(r.status, "OK pong");
	client_close(&c);
	ck_assert_int_eq(daemon_stop(&d, 10000), 0);
	while (n > 0)
		close(queued[--n]);
	close(lfd);
	daemon_cleanup(&d);
}
END_TEST

/* Clients that vanish around a hand-off cost the daemon nothing. */
START_TEST(handoff_client_vanishes)
{
	struct daemon d;
	struct client c;
	char svc[300], sections[600];

	daemon_init(&d);
	snprintf(svc, sizeof(svc), "%s/svc.sock", d.dir);
	pid_t echo = handoff_echo_start(svc);
	snprintf(sections, sizeof(sections), "[command shell]\nhandler = handoff\nsocket = unix:%s\n", svc);
	/* At debug level the log says what became of each connection. */
	daemon_write_config(&d, "log-level = debug", sections);
	ck_assert_int_eq(daemon_start(&d, NULL, 10000), 0);
	int fds_before = idle_fds(&d);
	for (int i = 0; i < 50; i++) {
		client_open(&c, d.port);
		client_send_str(&c, "shell x\n");
		client_close(&c);
	}
	/* A connect completes before the daemon accepts it: first wait until
	 * it has read every request (its command count covers the warm-up
	 * PING and the 50 requests), else the fd count below could still be
	 * the one from before it saw any of them. The harness's STATS
	 * connection is one fd of the daemon's. */
	daemon_wait_stat(&d, "commands", 1 + 50, 5000);
	int fds_after = wait_fd_count(d.pid, fds_before + 1, 4000) - 1;
	if (fds_after != fds_before) {
		/* Say whether the daemon still counts the connections. */
		printf("handoff vanishes: daemon connections=%lld\n", daemon_stat(&d, "connections"));
		fflush(stdout);
	}
	daemon_stat_close(&d);
	ck_assert_msg(fds_after == fds_before, "daemon has %d fds 4 s after handling 50 vanishing clients, %d before",
	              fds_after, fds_before);
	struct reply r;
	client_open(&c, d.port);
	client_request(&c, "ping", &r, 5000);
	ck_assert_str_eq(r.status, "OK pong");
	client_close(&c);
	ck_assert_int_eq(daemon_stop(&d, 10000), 0);
	kill_and_reap(echo);
	daemon_cleanup(&d);
}
END_TEST

/* Runs the proxy round trip through the command NAME of D. */
static void proxy_round_trip(struct daemon *d, const char *name)
{
	struct client c;
	char req[64];

	client_open(&c, d->port);
	snprintf(req, sizeof(req), "%s\nfirst line, pipelined\n", name);
	client_send_str(&c, req);
	client_expect_line(&c, "OK proxy", 5000);
	client_expect_line(&c, "first line, pipelined", 5000);
	client_send_str(&c, "second line\n");
	client_expect_line(&c, "second line", 5000);
	/* Half close: the echo still comes back, then end of input. */
	client_send_str(&c, "last words\n");
	shutdown(c.fd, SHUT_WR);
	client_expect_line(&c, "last words", 5000);
	ck_assert(client_wait_eof(&c, 5000));
	client_close(&c);
}

/* Bytes flow both ways through unix and loopback TCP services. */
START_TEST(proxy_unix_and_tcp)
{
	struct daemon d;
	char svc[300], sections[800];
	unsigned int tport;

	daemon_init(&d);
	snprintf(svc, sizeof(svc), "%s/echo.sock", d.dir);
	pid_t e1 = echo_service_start(unix_listen(svc));
	pid_t e2 = echo_service_start(tcp_listen_loopback(&tport));
	snprintf(sections, sizeof(sections),
	         "[command echo]\nhandler = proxy\nconnect = unix:%s\n\n"
	         "[command tcpecho]\nhandler = proxy\nconnect = tcp:127.0.0.1:%u\n\n"
	         "[command gone]\nhandler = proxy\nconnect = unix:%s/none.sock\n",
	         svc, tport, d.dir);
	daemon_write_config(&d, NULL, sections);
	ck_assert_int_eq(daemon_start(&d, NULL, 10000), 0);
	int fds_before = idle_fds(&d);
	proxy_round_trip(&d, "echo");
	proxy_round_trip(&d, "tcpecho");

	struct client c;
	struct reply r;
	client_open(&c, d.port);
	client_request(&c, "gone", &r, 5000);
	ck_assert_msg(strncmp(r.status, "ERR unavailable ", 16) == 0, "%s", r.status);
	client_close(&c);
	ck_assert_int_eq(wait_fd_count(d.pid, fds_before, 2000), fds_before);
	ck_assert_int_eq(daemon_stop(&d, 10000), 0);
	kill_and_reap(e1);
	kill_and_reap(e2);
	daemon_cleanup(&d);
}
END_TEST

/* A client that writes but does not read: the daemon stops reading it
 * instead of buffering; memory stays bounded; nothing is lost. */
START_TEST(proxy_backpressure)
{
	enum { TOTAL = 8 << 20 };
	struct daemon d;
	struct client c;
	char svc[300], sections[600];

	daemon_init(&d);
	snprintf(svc, sizeof(svc), "%s/echo.sock", d.dir);
	pid_t echo = echo_service_start(unix_listen(svc));
	snprintf(sections, sizeof(sections), "[command echo]\nhandler = proxy\nconnect = unix:%s\nmax-buffer = 64K\n",
	         svc);
	daemon_write_config(&d, NULL, sections);
	ck_assert_int_eq(daemon_start(&d, NULL, 10000), 0);
	long rss_before = process_rss_kib(d.pid);
	client_open(&c, d.port);
	client_send_str(&c, "echo\n");
	client_expect_line(&c, "OK proxy", 5000);

	/* A child writes everything; we read nothing for a while. */
	pid_t writer = fork();
	ck_assert_int_ge(writer, 0);
	if (writer == 0) {
		static char block[65536];
		memset(block, 'x', sizeof(block));
		/* Blocking sends (the parent reads with MSG_DONTWAIT). */
		fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) & ~O_NONBLOCK);
		for (size_t sent = 0; sent < TOTAL; sent += sizeof(block))
			if (udo_vsock_tcp_send_data(c.fd, block, sizeof(block), NULL) != (ssize_t)sizeof(block))
				_exit(1);
		_exit(0);
	}
	sleep_ms(1500); /* a measurement: the daemon's growth over 1.5 s of a stalled reader */
	long rss_stalled = process_rss_kib(d.pid);
	ck_assert_msg(rss_stalled - rss_before < 8192, "daemon grew from %ld to %ld KiB", rss_before, rss_stalled);

	/* Now read it all back. */
	size_t got = c.len;
	c.len = 0;
	char buf[65536];
	int64_t deadline = now_ms() + 60000;
	int64_t started = now_ms();
	size_t bad = 0;
	int last_errno = 0;
	while (got < TOTAL && now_ms() < deadline) {
		ssize_t n = recv(c.fd, buf, sizeof(buf), MSG_DONTWAIT);
		last_errno = n < 0 ? errno : 0;
		if (n > 0) {
			/* One check per block: every ck_assert call costs a syscall. */
			for (ssize_t i = 0; i < n; i++)
				bad += buf[i] != 'x';
			got += (size_t)n;
		} else if (n == 0) {
			break;
		} else {
			struct pollfd pfd = {c.fd, POLLIN, 0};
			poll(&pfd, 1, 1000);
		}
	}
	ck_assert_msg(got == TOTAL, "got %zu of %d bytes after %lld ms (last errno %d)", got, TOTAL,
	              (long long)(now_ms() - started), last_errno);
	ck_assert_uint_eq(bad, 0);
	int status;
	ck_assert_int_eq(waitpid(writer, &status, 0), writer);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	client_close(&c);
	ck_assert_int_eq(daemon_stop(&d, 10000), 0);
	kill_and_reap(echo);
	daemon_cleanup(&d);
}
END_TEST

/* Byte K of the stream proxy_byte_order sends: no period that a lost,
 * doubled or reordered block of any power-of-two size could hide. */
static unsigned char order_byte(size_t k)
{
	return (unsigned char)((k % 251) ^ (k >> 13));
}

/* Sends TOTAL pattern bytes through the command NAME of D to an echo
 * service and checks that every byte comes back in order. The first
 * bytes ride with the request (the bridge's queue), the rest stream
 * from a child while the parent reads (the pipe, when splicing), both
 * ways at once. */
static void proxy_order_round(struct daemon *d, const char *name, size_t total)
{
	struct client c;
	char first[1100];
	size_t head = 1000, nlen = strlen(name);

	memcpy(first, name, nlen);
	first[nlen] = '\n';
	for (size_t k = 0; k < head; k++)
		first[nlen + 1 + k] = (char)order_byte(k);
	client_open(&c, d->port);
	ck_assert_int_eq(client_send(&c, first, nlen + 1 + head, 5000), (ssize_t)(nlen + 1 + head));
	client_expect_line(&c, "OK proxy", 5000);
	pid_t writer = fork();
	ck_assert_int_ge(writer, 0);
	if (writer == 0) {
		static unsigned char block[65536];
		fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) & ~O_NONBLOCK);
		for (size_t k = head; k < total;) {
			size_t n = total - k < sizeof(block) ? total - k : sizeof(block);
			for (size_t b = 0; b < n; b++)
				block[b] = order_byte(k + b);
			if (udo_vsock_tcp_send_data(c.fd, block, n, NULL) != (ssize_t)n)
				_exit(1);
			k += n;
		}
		shutdown(c.fd, SHUT_WR);
		_exit(0);
	}
	size_t got = 0, bad_at = SIZE_MAX;
	for (size_t b = 0; b < c.len; b++, got++)
		if (bad_at == SIZE_MAX && (unsigned char)c.buf[b] != order_byte(got))
			bad_at = got;
	c.len = 0;
	unsigned char buf[65536];
	int64_t deadline = now_ms() + 60000;
	int eof = 0;
	while (!eof && now_ms() < deadline) {
		ssize_t n = recv(c.fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0) {
			for (ssize_t b = 0; b < n; b++, got++)
				if (bad_at == SIZE_MAX && buf[b] != order_byte(got))
					bad_at = got;
		} else if (n == 0) {
			eof = 1;
		} else {
			struct pollfd pfd = {c.fd, POLLIN, 0};
			poll(&pfd, 1, 1000);
		}
	}
	ck_assert_msg(eof && got == total, "%s: got %zu of %zu bytes (end of stream: %d)", name, got, total, eof);
	ck_assert_msg(bad_at == SIZE_MAX, "%s: byte %zu differs", name, bad_at);
	int status;
	ck_assert_int_eq(waitpid(writer, &status, 0), writer);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	client_close(&c);
}

/* Every byte arrives once and in order, both ways, from the bytes that
 * came with the request through a stream that outruns the smallest and
 * the default max-buffer, and the end of stream follows the last byte. */
START_TEST(proxy_byte_order)
{
	struct daemon d;
	char svc[300], sections[800];

	daemon_init(&d);
	snprintf(svc, sizeof(svc), "%s/echo.sock", d.dir);
	pid_t echo = echo_service_start(unix_listen(svc));
	snprintf(sections, sizeof(sections),
	         "[command small]\nhandler = proxy\nconnect = unix:%s\nmax-buffer = 4K\n\n"
	         "[command big]\nhandler = proxy\nconnect = unix:%s\n",
	         svc, svc);
	daemon_write_config(&d, NULL, sections);
	ck_assert_int_eq(daemon_start(&d, NULL, 10000), 0);
	proxy_order_round(&d, "small", 2u << 20);
	proxy_order_round(&d, "big", 16u << 20);
	ck_assert_int_eq(daemon_stop(&d, 10000), 0);
	kill_and_reap(echo);
	daemon_cleanup(&d);
}
END_TEST

/* Starts a service on the listening socket LFD that accepts connections
 * and never reads them (one child, holding every connection). */
static pid_t start_deaf_service(int lfd)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		for (;;) {
			if (accept(lfd, NULL, NULL) < 0 && errno != EINTR)
				pause();
		}
	}
	close(lfd);
	return pid;
}

/* Starts a service on LFD that greets each connection with "bye" and
 * closes it at once. */
static pid_t start_bye_service(int lfd)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		for (;;) {
			int fd = accept(lfd, NULL, NULL);
			if (fd < 0)
				_exit(0);
			(void)!write(fd, "bye\n", 4);
			close(fd);
		}
	}
	close(lfd);
	return pid;
}

/* Clients that send and leave while the service reads nothing: with
 * reading paused by backpressure the daemon never sees them close on
 * vsock, yet each bridge (client socket and service socket) must go
 * within 2 s of the close, idle-timeout notwithstanding. */
START_TEST(proxy_gone_clients_released)
{
	enum { CLIENTS = 20, BYTES = 1 << 20 };
	static char block[BYTES];
	struct daemon d;
	struct client cs[CLIENTS], c;
	char svc[300], sections[600];

	daemon_init(&d);
	snprintf(svc, sizeof(svc), "%s/deaf.sock", d.dir);
	pid_t deaf = start_deaf_service(unix_listen(svc));
	snprintf(sections, sizeof(sections), "[command hold]\nhandler = proxy\nconnect = unix:%s\nmax-buffer = 4K\n",
	         svc);
	daemon_write_config(&d, "idle-timeout = 300s", sections);
	ck_assert_int_eq(daemon_start(&d, NULL, 10000), 0);
	int fds_before = idle_fds(&d);
	memset(block, 'x', sizeof(block));
	for (int i = 0; i < CLIENTS; i++) {
		client_open(&cs[i], d.port);
		client_send_str(&cs[i], "hold\n");
		client_expect_line(&cs[i], "OK proxy", 5000);
	}
	/* Each sends up to 1 MB: what the buffers on the way take. */
	for (int i = 0; i < CLIENTS; i++) {
		ssize_t n = client_send(&cs[i], block, sizeof(block), 300);
		ck_assert_msg(n > 0, "client %d could send nothing: %s", i, n < 0 ? strerror(errno) : "timeout");
	}
	ck_assert_int_ge(process_fd_count(d.pid), fds_before + 2 * CLIENTS);
	int64_t closed = now_ms();
	for (int i = 0; i < CLIENTS; i++)
		client_close(&cs[i]);
	int fds = wait_fd_count(d.pid, fds_before, 2000);
	ck_assert_msg(fds == fds_before, "daemon has %d fds %lld ms after %d proxied clients closed, %d before", fds,
	              (long long)(now_ms() - closed), CLIENTS, fds_before);
	client_open(&c, d.port);
	ck_assert_int_eq(stats_counter(&c, "connections"), 1);
	client_close(&c);
	ck_assert_int_eq(daemon_stop(&d, 10000), 0);
	kill_and_reap(deaf);
	daemon_cleanup(&d);
}
END_TEST

/* Sends BLOCK to C until nothing more goes in for half a second;
 * returns the bytes sent. */
static size_t send_until_stuck(struct client *c, const char *block, size_t len)
{
	size_t total = 0;

	for (;;) {
		ssize_t n = client_send(c, block, len, 500);
		ck_assert_msg(n >= 0, "send: %s", strerror(errno));
		if (n == 0)
			return total;
		total += (size_t)n;
	}
}

/* Opens CLIENTS bridges through a proxy (max-buffer = 1M) to a service
 * that never reads, under the daemon setting MAX_BUFFERED, and fills
 * each in turn until it takes no more. Returns the bytes all clients
 * sent: what the kernel's buffers took, the same for every setting,
 * plus what the daemon took into its bridges; *HELD: what the daemon
 * counts as held then (its metrics' buffered_bytes). Checks on the way
 * that a new client is still answered and that everything is released
 * after the close. */
static size_t proxy_fill(const char *max_buffered, int clients, long long *held)
{
	static char block[1 << 20];
	struct daemon d;
	struct client cs[8], c;
	char svc[300], sections[600], extra[600], metrics[300];
	size_t total = 0;

	ck_assert_int_le(clients, 8);
	daemon_init(&d);
	snprintf(svc, sizeof(svc), "%s/deaf.sock", d.dir);
	snprintf(metrics, sizeof(metrics), "%s/metrics.sock", d.dir);
	pid_t deaf = start_deaf_service(unix_listen(svc));
	snprintf(sections, sizeof(sections), "[command hold]\nhandler = proxy\nconnect = unix:%s\nmax-buffer = 1M\n",
	         svc);
	snprintf(extra, sizeof(extra), "max-buffered = %s\nmetrics-listen = unix:%s", max_buffered, metrics);
	daemon_write_config(&d, extra, sections);
	ck_assert_int_eq(daemon_start(&d, NULL, 10000), 0);
	int fds_before = idle_fds(&d);
	memset(block, 'x', sizeof(block));
	for (int i = 0; i < clients; i++) {
		client_open(&cs[i], d.port);
		client_send_str(&cs[i], "hold\n");
		client_expect_line(&cs[i], "OK proxy", 5000);
		total += send_until_stuck(&cs[i], block, sizeof(block));
	}
	char *page = metrics_http_get(metrics, "/metrics");
	ck_assert_ptr_nonnull(page);
	*held = metrics_sample(page, "udo_vsockd_buffered_bytes");
	free(page);
	client_open(&c, d.port);
	client_send_str(&c, "PING still\n");
	client_expect_line(&c, "OK pong still", 5000);
	client_close(&c);
	for (int i = 0; i < clients; i++)
		client_close(&cs[i]);
	int fds = wait_fd_count(d.pid, fds_before, 2000);
	ck_assert_msg(fds == fds_before, "daemon has %d fds after the bridges' clients closed, %d before", fds,
	              fds_before);
	ck_assert_int_eq(daemon_stop(&d, 10000), 0);
	kill_and_reap(deaf);
	daemon_cleanup(&d);
	return total;
}

/* max-buffered bounds what proxy bridges hold too: eight bridges to a
 * service that never reads take up to 1 MiB each (max-buffer) into the
 * daemon under a loose bound, and together at most twice a bound of
 * 256K (the bound is soft: udo-vsockd.conf(5)), which the daemon
 * counts, while it goes on answering. */
START_TEST(proxy_bridges_within_max_buffered)
{
	enum { CLIENTS = 8, TIGHT = 256 << 10 };
	long long loose_held, tight_held;
	size_t loose = proxy_fill("64M", CLIENTS, &loose_held);
	size_t tight = proxy_fill("256K", CLIENTS, &tight_held);

	printf("proxy_bridges_within_max_buffered: %d clients sent %zu bytes under max-buffered = 64M (%lld held), "
	       "%zu under 256K (%lld held)\n",
	       CLIENTS, loose, loose_held, tight, tight_held);
	fflush(stdout);
	ck_assert_msg(loose_held > 2 * TIGHT, "8 full bridges hold %lld bytes under max-buffered = 64M", loose_held);
	ck_assert_msg(tight_held >= 64 << 10 && tight_held <= 2 * TIGHT,
	              "the daemon counts %lld bytes held by 8 full bridges under max-buffered = 256K", tight_held);
	/* The kernel's buffers take the same under either bound. */
	ck_assert_msg(loose > tight && loose - tight >= (size_t)(loose_held - 2 * TIGHT),
	              "the bridges took %zu bytes under max-buffered = 256K, %zu under 64M: not bounded", tight, loose);
}
END_TEST

/* A service that closes: once all it sent reached the client, the
 * bridge ends, though the client stays connected and silent. */
START_TEST(proxy_gone_service_released)
{
	struct daemon d;
	struct client c;
	char svc[300], sections[600];

	daemon_init(&d);
	snprintf(svc, sizeof(svc), "%s/bye.sock", d.dir);
	pid_t bye = start_bye_service(unix_listen(svc));
	snprintf(sections, sizeof(sections), "[command bye]\nhandler = proxy\nconnect = unix:%s\n", svc);
	daemon_write_config(&d, "idle-timeout = 300s", sections);
	ck_assert_int_eq(daemon_start(&d, NULL, 10000), 0);
	int fds_before = idle_fds(&d);
	client_open(&c, d.port);
	client_send_str(&c, "bye\n");
	client_expect_line(&c, "OK proxy", 5000);
	client_expect_line(&c, "bye", 5000);
	ck_assert(client_wait_eof(&c, 5000));
	int64_t eof_at = now_ms();
	/* The client keeps its socket open: the daemon's end of it must still go. */
	int fds = wait_fd_count(d.pid, fds_before, 2000);
	ck_assert_msg(fds == fds_before, "daemon has %d fds %lld ms after the service left, %d before", fds,
	              (long long)(now_ms() - eof_at), fds_before);
	client_close(&c);
	ck_assert_int_eq(daemon_stop(&d, 10000), 0);
	kill_and_reap(bye);
	daemon_cleanup(&d);
}
END_TEST

/* A bridge that moves bytes outlives idle-timeout; a silent one ends
 * after it (the daemon's idle-timeout applies to bridges). */
START_TEST(proxy_idle_timeout)
{
	struct daemon d;
	struct client c;
	char svc[300], sections[600], line[64];

	daemon_init(&d);
	snprintf(svc, sizeof(svc), "%s/echo.sock", d.dir);
	pid_t echo = echo_service_start(unix_listen(svc));
	snprintf(sections, sizeof(sections), "[command echo]\nhandler = proxy\nconnect = unix:%s\n", svc);
	daemon_write_config(&d, "idle-timeout = 1s", sections);
	ck_assert_int_eq(daemon_start(&d, NULL, 10000), 0);
	int fds_before = idle_fds(&d);
	client_open(&c, d.port);
	client_send_str(&c, "echo\n");
	client_expect_line(&c, "OK proxy", 5000);
	/* Traffic every 250 ms for 2.5 s keeps it open. */
	for (int k = 0; k < 10; k++) {
		sleep_ms(250); /* a pace: time passes, with traffic */
		snprintf(line, sizeof(line), "tick %d\n", k);
		client_send_str(&c, line);
		line[strlen(line) - 1] = '\0';
		client_expect_line(&c, line, 5000);
	}
	/* Then silence: it ends after 1 s, not before. */
	int64_t t0 = now_ms();
	ck_assert_msg(client_wait_eof(&c, 5000), "a silent bridge is still open after 5 s (idle-timeout 1s)");
	int64_t took = now_ms() - t0;
	ck_assert_msg(took >= 800, "a silent bridge ended after %lld ms (idle-timeout 1s)", (long long)took);
	client_close(&c);
	ck_assert_int_eq(wait_fd_count(d.pid, fds_before, 2000), fds_before);
	ck_assert_int_eq(daemon_stop(&d, 10000), 0);
	kill_and_reap(echo);
	daemon_cleanup(&d);
}
END_TEST

/* A proxy command's own idle-timeout overrides the daemon's: 300 ms ends
 * a silent bridge early, 0 keeps one open past the daemon's 1 s. */
START_TEST(proxy_idle_timeout_option)
{
	struct daemon d;
	struct client quick, forever;
	char svc[300], sections[800];

	daemon_init(&d);
	snprintf(svc, sizeof(svc), "%s/echo.sock", d.dir);
	pid_t echo = echo_service_start(unix_listen(svc));
	snprintf(sections, sizeof(sections),
	         "[command quick]\nhandler = proxy\nconnect = unix:%s\nidle-timeout = 300ms\n\n"
	         "[command forever]\nhandler = proxy\nconnect = unix:%s\nidle-timeout = 0\n",
	         svc, svc);
	daemon_write_config(&d, "idle-timeout = 1s", sections);
	ck_assert_int_eq(daemon_start(&d, NULL, 10000), 0);
	client_open(&quick, d.port);
	client_send_str(&quick, "quick\n");
	client_expect_line(&quick, "OK proxy", 5000);
	client_open(&forever, d.port);
	client_send_str(&forever, "forever\n");
	client_expect_line(&forever, "OK proxy", 5000);
	ck_assert_msg(client_wait_eof(&quick, 900), "idle-timeout = 300ms did not end a silent bridge within 900 ms");
	ck_assert(client_silent_for(&forever, 2000));
	client_send_str(&forever, "still here\n");
	client_expect_line(&forever, "still here", 5000);
	client_close(&quick);
	client_close(&forever);
	ck_assert_int_eq(daemon_stop(&d, 10000), 0);
	kill_and_reap(echo);
	daemon_cleanup(&d);
}
END_TEST

/* The suite. */
static Suite *handoff_suite(void)
{
	Suite *s = suite_create("handoff");
	TCase *tc = tcase_create("handoff");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, handoff_passes_connection);
	tcase_add_test(tc, handoff_without_service);
	tcase_add_test(tc, handoff_service_busy);
	tcase_add_test(tc, handoff_client_vanishes);
	tcase_add_test(tc, proxy_unix_and_tcp);
	tcase_add_test(tc, proxy_backpressure);
	tcase_add_test(tc, proxy_byte_order);
	tcase_add_test(tc, proxy_gone_clients_released);
	tcase_add_test(tc, proxy_gone_service_released);
	tcase_add_test(tc, proxy_bridges_within_max_buffered);
	tcase_add_test(tc, proxy_idle_timeout);
	tcase_add_test(tc, proxy_idle_timeout_option);
	suite_add_tcase(s, tc);
	return s;
}

/* Runs the suite. */
int main(void)
{
	SRunner *sr = srunner_create(handoff_suite());

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
