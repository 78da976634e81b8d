/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* echo-floor.c - the benchmark floor: a minimal epoll line echo server.
 *
 * Usage: echo-floor ADDR   (ADDR: vsock:PORT or unix:PATH, unix:@NAME)
 *
 * Answers each line "PING rest" with "OK pong rest", the same bytes
 * udo-vsockd sends for PING, with nothing else: one read and one write
 * per batch of lines, no parsing beyond the line end. It is the physical
 * limit of a request/response over the transport. Exits on SIGTERM. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#define BUF_SIZE 65536

/* Per connection: only bytes that could not be handled yet. */
struct fconn {
	int fd;
	size_t inlen, outlen; /* partial line kept; unsent reply bytes */
	int want_out;         /* EPOLLOUT is requested */
	char *in, *out;       /* heap, allocated only when needed */
};

static volatile sig_atomic_t stop;

/* SIGTERM/SIGINT: leave the loop. */
static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Opens a listening socket for ADDR; exits on error. */
static int listen_on(const char *addr)
{
	int fd;

	if (strncmp(addr, "vsock:", 6) == 0) {
		struct sockaddr_vm sa = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY};
		sa.svm_port = (unsigned int)strtoul(addr + 6, NULL, 10);
		fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			goto fail;
	} else if (strncmp(addr, "unix:", 5) == 0) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		const char *path = addr + 5;
		size_t n = strlen(path);
		if (n >= sizeof(sa.sun_path))
			goto fail;
		memcpy(sa.sun_path, path, n);
		if (path[0] == '@')
			sa.sun_path[0] = '\0';
		else
			unlink(path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0 ||
		    bind(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) < 0)
			goto fail;
	} else {
		fprintf(stderr, "echo-floor: address must be vsock:PORT or unix:PATH\n");
		exit(2);
	}
	if (listen(fd, 4096) < 0)
		goto fail;
	return fd;
fail:
	fprintf(stderr, "echo-floor: %s: %s\n", addr, strerror(errno));
	exit(1);
}

/* Frees C and closes its socket. */
static void fconn_close(struct fconn *c)
{
	close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
}

/* Appends LEN bytes to the heap buffer *BUF holding *HAVE bytes. */
static int keep(char **buf, size_t *have, const char *data, size_t len)
{
	char *nb = realloc(*buf, *have + len);

	if (nb == NULL)
		return -1;
	memcpy(nb + *have, data, len);
	*buf = nb;
	*have += len;
	return 0;
}

/* Sends LEN bytes of DATA after anything pending; 0, or -1 when C must close. */
static int flush_out(int ep, struct fconn *c, const char *data, size_t len)
{
	ssize_t w;

	if (c->outlen == 0 && len > 0) {
		w = send(c->fd, data, len, MSG_NOSIGNAL);
		if (w < 0 && errno != EAGAIN)
			return -1;
		if (w < 0)
			w = 0;
		if ((size_t)w < len && keep(&c->out, &c->outlen, data + w, len - (size_t)w) < 0)
			return -1;
	} else if (c->outlen > 0) {
		if (len > 0 && keep(&c->out, &c->outlen, data, len) < 0)
			return -1;
		w = send(c->fd, c->out, c->outlen, MSG_NOSIGNAL);
		if (w < 0 && errno != EAGAIN)
			return -1;
		if (w > 0) {
			memmove(c->out, c->out + w, c->outlen - (size_t)w);
			c->outlen -= (size_t)w;
		}
	}
	int want = c->outlen > 0;
	if (want == c->want_out)
		return 0;
	c->want_out = want;
	struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};
	return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Reads what has arrived and answers every complete line. 0 or -1. */
static int serve(int ep, struct fconn *c, char *in, char *out)
{
	size_t have = c->inlen;
	ssize_t r;

	if (have > 0)
		memcpy(in, c->in, have);
	r = recv(c->fd, in + have, BUF_SIZE - have, 0);
	if (r == 0 || (r < 0 && errno != EAGAIN))
		return -1;
	if (r < 0)
		return 0;
	have += (size_t)r;
	size_t o = 0, start = 0;
	for (size_t i = 0; i < have; i++) {
		if (in[i] != '\n')
			continue;
		/* "PING rest\n" -> "OK pong rest\n": 3 bytes longer. */
		size_t rest = i - start > 4 ? i - start - 4 : 0;
		if (o + rest + 8 > BUF_SIZE) {
			if (flush_out(ep, c, out, o) < 0)
				return -1;
			o = 0;
		}
		memcpy(out + o, "OK pong", 7);
		memcpy(out + o + 7, in + start + 4, rest);
		o += 7 + rest;
		out[o++] = '\n';
		start = i + 1;
	}
	c->inlen = 0;
	if (start < have && keep(&c->in, &c->inlen, in + start, have - start) < 0)
		return -1;
	if (have - start >= BUF_SIZE)
		return -1; /* a line longer than the buffer */
	return flush_out(ep, c, out, o);
}

/* Accepts every pending connection on listening socket LFD. */
static void accept_all(int ep, int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct fconn *c = calloc(1, sizeof(*c));
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		if (c == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
			fconn_close(c);
	}
}

/* Serves ADDR until SIGTERM. */
int main(int argc, char **argv)
{
	static char in[BUF_SIZE], out[BUF_SIZE];
	struct rlimit rl;
	struct sigaction sa = {.sa_handler = on_signal};

	if (argc != 2) {
		fprintf(stderr, "usage: echo-floor vsock:PORT|unix:PATH\n");
		return 2;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* SIGTERM and SIGINT stay blocked except inside epoll_pwait, so one
	 * that comes between the check of stop and the wait cannot be lost. */
	sigset_t block, wait_mask;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &wait_mask);
	sigdelset(&wait_mask, SIGTERM);
	sigdelset(&wait_mask, SIGINT);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	int lfd = listen_on(argv[1]);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev) < 0) {
		perror("echo-floor: epoll");
		return 1;
	}
	printf("echo-floor: listening on %s\n", argv[1]);
	fflush(stdout);
	while (!stop) {
		struct epoll_event evs[256];
		int n = epoll_pwait(ep, evs, 256, -1, &wait_mask);
		for (int i = 0; i < n; i++) {
			struct fconn *c = evs[i].data.ptr;
			if (c == NULL) {
				accept_all(ep, lfd);
				continue;
			}
			int rc = 0;
			if ((evs[i].events & EPOLLOUT) && c->outlen > 0)
				rc = flush_out(ep, c, NULL, 0);
			if (rc == 0 && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
				rc = serve(ep, c, in, out);
			if (rc < 0)
				fconn_close(c);
		}
	}
	return 0;
}
