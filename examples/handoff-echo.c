/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* handoff-echo - an example service for udo-vsockd's `handoff` handler.
 *
 *   handoff-echo unix:PATH|unix:@NAME
 *
 * Takes client connections handed off by udo-vsockd, greets each client
 * with who it is (as the daemon saw it) and the words of its request,
 * then echoes everything the client sends, starting with the bytes the
 * daemon had read but not handled. One child process per client.
 *
 * Built alone (libudo-vsock-dev installs it as an example):
 *   cc -o handoff-echo handoff-echo.c $(pkg-config --cflags --libs udo-vsock) */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4() */
#endif
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <udo/vsock-addr.h>
#include <udo/vsock-handoff.h>
#include <udo/vsock-tcp.h>

/* Greets and echoes one handed-off client, then exits. */
static int serve_client(struct udo_vsock_handoff *h)
{
	char line[512];
	int n = snprintf(line, sizeof(line), "handoff-echo: cid=%u port=%u identity=%s words=%u command=%s\n",
	                 h->peer_cid, h->peer_port, h->identity, h->argc, h->argv[0]);

	if (udo_vsock_tcp_send_data(h->fd, line, (size_t)n, NULL) < 0)
		return 1;
	for (uint32_t i = 1; i < h->argc; i++) {
		n = snprintf(line, sizeof(line), "handoff-echo: arg %u: %s\n", i, h->argv[i]);
		if (udo_vsock_tcp_send_data(h->fd, line, (size_t)n, NULL) < 0)
			return 1;
	}
	if (h->pending_len > 0 && udo_vsock_tcp_send_data(h->fd, h->pending, h->pending_len, NULL) < 0)
		return 1;
	for (;;) {
		char buf[4096];
		ssize_t got = udo_vsock_tcp_recv_data(h->fd, buf, sizeof(buf), NULL);
		if (got == UDO_VSOCK_IO_DISCONNECT)
			return 0;
		if (got < 0 || udo_vsock_tcp_send_data(h->fd, buf, (size_t)got, NULL) < 0)
			return 1;
	}
}

/* Accepts daemon connections and forks a child per hand-off. */
int main(int argc, char **argv)
{
	struct udo_vsock_addr addr;
	char err[256];

	if (argc != 2 || udo_vsock_addr_parse(&addr, argv[1], err, sizeof(err)) < 0 ||
	    addr.kind != UDO_VSOCK_ADDR_UNIX) {
		fprintf(stderr, "usage: handoff-echo unix:PATH\n");
		return 2;
	}
	int lfd = udo_vsock_addr_listen(&addr, 16, 0, err, sizeof(err));
	if (lfd < 0) {
		fprintf(stderr, "handoff-echo: %s\n", err);
		return 1;
	}
	signal(SIGCHLD, SIG_IGN); /* children are reaped by the kernel */
	fprintf(stderr, "handoff-echo: listening on %s\n", argv[1]);
	for (;;) {
		int dfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (dfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("handoff-echo: accept");
			return 1;
		}
		struct udo_vsock_handoff h;
		int r = udo_vsock_handoff_recv(dfd, &h, err, sizeof(err));
		close(dfd);
		if (r < 0) {
			fprintf(stderr, "handoff-echo: %s\n", err);
			continue;
		}
		pid_t pid = fork();
		if (pid == 0) {
			close(lfd);
			int rc = serve_client(&h);
			udo_vsock_handoff_clear(&h);
			_exit(rc);
		}
		if (pid < 0)
			perror("handoff-echo: fork");
		udo_vsock_handoff_clear(&h);
	}
}
