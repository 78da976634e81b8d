/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pipe.c - after OK proxy / OK handoff: a byte pipe between standard
 * input/output and the connection, with half-close (as ncat --vsock) */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "escape.h"
#include "pump.h"

#define PIPE_CHUNK (64 * 1024)
#define PIPE_HIGH  (256 * 1024) /* stop reading input above this backlog */

/* The byte pipe's state. */
struct cli_pipe {
	int sock;
	int in_fd;   /* -1 once the input ended */
	bool escape; /* stdout is a terminal: escape as cli_escape() */
	struct cli_buf tosock;
	struct cli_buf carry; /* escape: an incomplete UTF-8 tail */
	struct cli_buf esc;   /* escape: the escaped text */
	int klass;            /* failure class, 0 if none */
};

/* Writes LEN bytes from the server to stdout; MORE false flushes an
 * incomplete UTF-8 tail too. Returns 0, or -1 (out of memory, reported). */
static int pipe_emit(struct cli_pipe *q, const char *s, size_t len, bool more)
{
	if (!q->escape) {
		if (len > 0) /* S may be NULL then: fwrite's pointer must not be */
			fwrite(s, 1, len, stdout);
		return 0;
	}
	if (cli_buf_append(&q->carry, s, len) < 0)
		goto oom;
	cli_buf_clear(&q->esc);
	size_t used = cli_escape(&q->esc, cli_buf_head(&q->carry), cli_buf_used(&q->carry), more);
	if (used == (size_t)-1)
		goto oom;
	cli_buf_consume(&q->carry, used);
	if (q->esc.len > 0)
		fwrite(q->esc.data, 1, q->esc.len, stdout);
	return 0;
oom:
	cli_error("out of memory");
	q->klass = CLI_EXIT_PROTOCOL;
	return -1;
}

/* Reads what the connection has and writes it out. Returns false once
 * the server closed it (or it failed). */
static bool pipe_from_sock(struct cli_pipe *q)
{
	char buf[PIPE_CHUNK];
	ssize_t n = recv(q->sock, buf, sizeof(buf), MSG_DONTWAIT);

	if (n > 0)
		return pipe_emit(q, buf, (size_t)n, true) == 0;
	if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
		return true;
	if (n < 0) {
		cli_error("connection lost: %s", strerror(errno));
		q->klass = CLI_EXIT_PROTOCOL;
	}
	return false;
}

/* Reads a chunk of input into the send buffer. */
static void pipe_from_input(struct cli_pipe *q)
{
	if (cli_buf_reserve(&q->tosock, PIPE_CHUNK) < 0) {
		cli_error("out of memory");
		q->klass = CLI_EXIT_PROTOCOL;
		q->in_fd = -1;
		return;
	}
	ssize_t n = read(q->in_fd, q->tosock.data + q->tosock.len, PIPE_CHUNK);
	if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n < 0) {
		cli_error("cannot read standard input: %s", strerror(errno));
		q->klass = CLI_EXIT_USAGE;
	}
	if (n <= 0)
		q->in_fd = -1;
	else
		q->tosock.len += (size_t)n;
}

/* Sends what the socket takes; on an error the rest of the input is
 * dropped (the server side is gone) and reading goes on to the end. */
static void pipe_to_sock(struct cli_pipe *q)
{
	while (cli_buf_used(&q->tosock) > 0) {
		ssize_t n =
		    send(q->sock, cli_buf_head(&q->tosock), cli_buf_used(&q->tosock), MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			cli_buf_consume(&q->tosock, (size_t)n);
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return;
		} else {
			cli_error("cannot send to the connection: %s", strerror(n < 0 ? errno : EPIPE));
			q->klass = CLI_EXIT_PROTOCOL;
			cli_buf_clear(&q->tosock);
			q->in_fd = -1;
			return;
		}
	}
}

/* The pipe's poll loop; ends when the server closes the connection. */
static void pipe_loop(struct cli_pipe *q)
{
	bool shut = false;

	for (;;) {
		if (q->in_fd < 0 && cli_buf_used(&q->tosock) == 0 && !shut) {
			shutdown(q->sock, SHUT_WR); /* the half-close: no more input */
			shut = true;
		}
		struct pollfd fds[2] = {
		    {.fd = q->sock, .events = POLLIN | (cli_buf_used(&q->tosock) > 0 ? POLLOUT : 0)},
		    {.fd = q->in_fd >= 0 && cli_buf_used(&q->tosock) < PIPE_HIGH ? q->in_fd : -1, .events = POLLIN},
		};
		if (fflush(stdout) != 0)
			return; /* reported by main's finish() */
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			cli_error("poll: %s", strerror(errno));
			q->klass = CLI_EXIT_PROTOCOL;
			return;
		}
		if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) && !pipe_from_sock(q))
			return;
		if (fds[0].revents & POLLOUT)
			pipe_to_sock(q);
		if (fds[1].revents & (POLLIN | POLLHUP | POLLERR))
			pipe_from_input(q);
	}
}

/* Hands the pump's connection and leftovers over to the byte pipe. */
int cli_pump_pipe(struct cli_pump *p)
{
	struct cli_pipe q = {
	    .sock = p->sock,
	    /* Batch input that already ended has nothing more to give. */
	    .in_fd = p->in_fd >= 0 && p->in_eof ? -1 : p->pipe_fd,
	    .escape = p->escape_out,
	};

	/* Request lines not yet sent and a partial input line are bytes of
	 * the stream now, as are the bytes after the OK line. */
	if (cli_buf_append(&q.tosock, cli_buf_head(&p->out), cli_buf_used(&p->out)) < 0 ||
	    cli_buf_append(&q.tosock, cli_buf_head(&p->in), cli_buf_used(&p->in)) < 0) {
		cli_error("out of memory");
		q.klass = CLI_EXIT_PROTOCOL;
	} else if (pipe_emit(&q, cli_buf_head(&p->reply), cli_buf_used(&p->reply), true) == 0) {
		cli_buf_clear(&p->out);
		cli_buf_clear(&p->in);
		cli_buf_clear(&p->reply);
		p->outstanding = 0;
		pipe_loop(&q);
		pipe_emit(&q, NULL, 0, false);
	}
	fflush(stdout);
	cli_buf_free(&q.tosock);
	cli_buf_free(&q.carry);
	cli_buf_free(&q.esc);
	return q.klass;
}
