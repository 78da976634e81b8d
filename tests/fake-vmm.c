/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fake-vmm - test double for the VMM side of hybrid vsock (Firecracker,
 * Cloud Hypervisor): a host program connects to the VMM's AF_UNIX socket,
 * sends "CONNECT <port>\n", the VMM connects to that port in the guest and
 * answers "OK <host_port>\n", then relays bytes both ways.
 *
 * Usage: fake-vmm [-m MODE] [-u GUEST_UNIX_PATH] [-n COUNT] UDS_PATH
 *   -m ok         (default) forward as above; if the guest connect fails,
 *                 close without a reply, as a VMM does when nothing listens
 *   -m close      close right after the CONNECT line
 *   -m overlong   answer an "OK" line longer than any VMM sends
 *   -m malformed  answer "OK not-a-port"
 *   -m no-ok      forward, but send no OK line (older VMMs)
 *   -m silent     read CONNECT and never answer
 *   -u PATH       the "guest" is the AF_UNIX socket PATH, whatever the port;
 *                 default: AF_VSOCK CID 1 (loopback) at the requested port
 *   -n COUNT      exit after COUNT connections are done (default: never)
 * Prints "ready" on stdout once listening. Exits 0, or 1 if a connection
 * handler failed unexpectedly, 2 on a usage or setup error.
 */
#include <errno.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define CONNECT_LINE_MAX     32
#define HANDSHAKE_TIMEOUT_MS 5000
#define RELAY_BUF            65536
#define HOST_PORT_FIRST      1073741824u

enum mode { MODE_OK, MODE_CLOSE, MODE_OVERLONG, MODE_MALFORMED, MODE_NO_OK, MODE_SILENT };

static enum mode mode = MODE_OK;
static const char *guest_unix;

/* Fills a sockaddr_un for PATH. Returns its length, or -1 if too long. */
static socklen_t unix_addr(struct sockaddr_un *sun, const char *path)
{
	size_t len = strlen(path);
	if (len >= sizeof(sun->sun_path))
		return (socklen_t)-1;
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, len);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
}

/* Reads "CONNECT <port>\n" one byte at a time (never past the LF) within
 * the handshake timeout. Returns 0 with *PORT set, or -1 (closed, slow,
 * longer than CONNECT_LINE_MAX or malformed). */
static int read_connect(int fd, unsigned int *port)
{
	char line[CONNECT_LINE_MAX + 1];
	size_t len = 0;

	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, HANDSHAKE_TIMEOUT_MS) <= 0)
			return -1;
		ssize_t n = recv(fd, line + len, 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		if (line[len] == '\n')
			break;
		if (++len >= CONNECT_LINE_MAX)
			return -1;
	}
	line[len] = '\0';
	if (len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';
	char *end;
	if (strncmp(line, "CONNECT ", 8) != 0 || line[8] < '0' || line[8] > '9')
		return -1;
	errno = 0;
	unsigned long v = strtoul(line + 8, &end, 10);
	if (errno || *end != '\0' || v > 0xffffffffUL)
		return -1;
	*port = (unsigned int)v;
	return 0;
}

/* Connects to the guest service for PORT. Returns the fd or -1. */
static int connect_guest(unsigned int port)
{
	int fd;
	if (guest_unix) {
		struct sockaddr_un sun;
		socklen_t len = unix_addr(&sun, guest_unix);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || len == (socklen_t)-1 || connect(fd, (struct sockaddr *)&sun, len) < 0)
			goto fail;
		return fd;
	}
	struct sockaddr_vm svm = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_LOCAL, .svm_port = port};
	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&svm, sizeof(svm)) < 0)
		goto fail;
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

/* Sends all LEN bytes. Returns 0 or -1. */
static int send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One direction of the relay. */
struct pipe_dir {
	int from, to;
	char buf[RELAY_BUF];
	size_t off, len;
	bool eof;
};

/* Copies bytes both ways between A and B until both sides finished
 * sending, passing each end of file on with shutdown(SHUT_WR). Returns 0,
 * or -1 on a socket error. */
static int relay(int a, int b)
{
	static struct pipe_dir d[2];
	d[0] = (struct pipe_dir){.from = a, .to = b};
	d[1] = (struct pipe_dir){.from = b, .to = a};

	while (!(d[0].eof && d[0].len == 0 && d[1].eof && d[1].len == 0)) {
		struct pollfd pfd[4];
		for (int i = 0; i < 2; i++) {
			pfd[2 * i] =
			    (struct pollfd){.fd = !d[i].eof && d[i].len == 0 ? d[i].from : -1, .events = POLLIN};
			pfd[2 * i + 1] = (struct pollfd){.fd = d[i].len > 0 ? d[i].to : -1, .events = POLLOUT};
		}
		if (poll(pfd, 4, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		for (int i = 0; i < 2; i++) {
			struct pipe_dir *p = &d[i];
			if (pfd[2 * i].revents) {
				ssize_t n = recv(p->from, p->buf, sizeof(p->buf), MSG_DONTWAIT);
				if (n > 0) {
					p->off = 0;
					p->len = (size_t)n;
				} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
					p->eof = true;
					shutdown(p->to, SHUT_WR);
				}
			}
			if (pfd[2 * i + 1].revents) {
				ssize_t n = send(p->to, p->buf + p->off, p->len - p->off, MSG_DONTWAIT | MSG_NOSIGNAL);
				if (n < 0 && errno != EINTR && errno != EAGAIN)
					return -1;
				if (n > 0)
					p->off += (size_t)n;
				if (p->off == p->len) {
					p->off = p->len = 0;
					if (p->eof)
						shutdown(p->to, SHUT_WR);
				}
			}
		}
	}
	return 0;
}

/* Waits until the peer on FD closes (or 5 s pass), discarding input. */
static void drain_until_closed(int fd)
{
	char buf[256];
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	while (poll(&pfd, 1, HANDSHAKE_TIMEOUT_MS) > 0 && recv(fd, buf, sizeof(buf), 0) > 0)
		;
}

/* Serves one host connection according to the mode. Returns the exit
 * status of the handler process: 0 for a completed (or deliberately
 * failed) exchange, 1 for an unexpected error. */
static int serve(int conn, unsigned int host_port)
{
	unsigned int port;
	char line[256];

	if (read_connect(conn, &port) < 0)
		return 0; /* a VMM just drops a bad request */
	switch (mode) {
	case MODE_CLOSE:
		return 0;
	case MODE_SILENT:
		drain_until_closed(conn);
		return 0;
	case MODE_OVERLONG:
		memset(line, '1', 200);
		memcpy(line, "OK ", 3);
		line[200] = '\n';
		send_all(conn, line, 201);
		drain_until_closed(conn);
		return 0;
	case MODE_MALFORMED:
		send_all(conn, "OK not-a-port\n", 14);
		drain_until_closed(conn);
		return 0;
	case MODE_OK:
	case MODE_NO_OK:
		break;
	}
	int guest = connect_guest(port);
	if (guest < 0)
		return 0; /* nothing listens there: close without OK */
	if (mode == MODE_OK) {
		int len = snprintf(line, sizeof(line), "OK %u\n", host_port);
		if (send_all(conn, line, (size_t)len) < 0) {
			close(guest);
			return 1;
		}
	}
	int rc = relay(conn, guest) < 0 ? 1 : 0;
	close(guest);
	return rc;
}

/* Reaps finished handlers; returns how many, and records failures. */
static int reap(bool block, bool *failed)
{
	int count = 0, status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, block ? 0 : WNOHANG)) > 0) {
		count++;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			*failed = true;
	}
	return count;
}

/* Parses the mode name. Returns 0 or -1. */
static int parse_mode(const char *s)
{
	static const char *const names[] = {"ok", "close", "overlong", "malformed", "no-ok", "silent"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i]) == 0) {
			mode = (enum mode)i;
			return 0;
		}
	}
	return -1;
}

/* fake-vmm [-m MODE] [-u GUEST_UNIX_PATH] [-n COUNT] UDS_PATH */
int main(int argc, char **argv)
{
	long count = -1;
	int c;

	while ((c = getopt(argc, argv, "m:u:n:")) != -1) {
		switch (c) {
		case 'm':
			if (parse_mode(optarg) < 0) {
				fprintf(stderr, "fake-vmm: unknown mode %s\n", optarg);
				return 2;
			}
			break;
		case 'u':
			guest_unix = optarg;
			break;
		case 'n':
			count = strtol(optarg, NULL, 10);
			break;
		default:
			return 2;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: fake-vmm [-m MODE] [-u GUEST_UNIX_PATH] [-n COUNT] UDS_PATH\n");
		return 2;
	}
	struct sockaddr_un sun;
	socklen_t len = unix_addr(&sun, argv[optind]);
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || len == (socklen_t)-1 || bind(lfd, (struct sockaddr *)&sun, len) < 0 || listen(lfd, 16) < 0) {
		fprintf(stderr, "fake-vmm: cannot listen on %s: %s\n", argv[optind], strerror(errno));
		return 2;
	}
	printf("ready\n");
	fflush(stdout);

	bool failed = false;
	unsigned int host_port = HOST_PORT_FIRST;
	long accepted = 0;
	while (count < 0 || accepted < count) {
		int conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (conn < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			fprintf(stderr, "fake-vmm: accept: %s\n", strerror(errno));
			failed = true;
			break;
		}
		accepted++;
		reap(false, &failed);
		pid_t pid = fork();
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			close(lfd);
			_exit(serve(conn, host_port));
		}
		close(conn);
		if (pid < 0) {
			fprintf(stderr, "fake-vmm: fork: %s\n", strerror(errno));
			failed = true;
			break;
		}
		host_port++;
	}
	close(lfd);
	unlink(argv[optind]);
	reap(true, &failed);
	return failed ? 1 : 0;
}
