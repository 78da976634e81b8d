/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pump.c - pipelined request/reply engine of the udo-vsock client
 *
 * Resend rule: after the connection is lost, a reconnect may carry on
 * when (a) no reply byte arrived on that connection, so every request
 * sent on it is sent again, or (b) every request sent on it was fully
 * answered, so only never-sent requests go out on the new connection.
 * A request whose reply was partly received is never sent twice.
 *
 * A status line counts as a reply only while a request sent on this
 * connection is unanswered; the server cannot answer what it has not
 * received. An ERR line otherwise is the server's unasked word before it
 * closes (ERR busy at the connection limit, ERR timeout when idle): it is
 * reported on stderr and answers nothing; nothing more is sent on that
 * connection, so the requests not yet sent may go out on a new one
 * (under --retry).
 */
#include "pump.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "escape.h"
#include "proto.h"

#define CLI_IO_CHUNK   (64 * 1024)
#define CLI_OUT_HIGH   (256 * 1024)  /* stop reading input above this backlog */
#define CLI_RESEND_MAX (1024 * 1024) /* keep at most this much for a resend */

/* Sets up an empty pump for OPT. */
void cli_pump_init(struct cli_pump *p, const struct cli_options *opt, enum cli_output output, int in_fd)
{
	*p = (struct cli_pump){
	    .output = output,
	    .raw = opt->raw,
	    .json = opt->json,
	    .verbose = opt->verbose,
	    .escape_out = opt->escape_out,
	    .escape_err = opt->escape_err,
	    .reply_timeout_ms = opt->reply_timeout_ms,
	    .pipe_fd = in_fd >= 0 ? in_fd : STDIN_FILENO,
	    .sock = -1,
	    .in_fd = in_fd,
	    .in_eof = in_fd < 0,
	    .js = {.ascii = opt->escape_out},
	};
	p->out.keep = true;
}

/* Appends one request line and its LF; fails with ENOMEM. */
int cli_pump_queue(struct cli_pump *p, const char *line, size_t len)
{
	if (udo_vsock_proto_line_is_blank(line, len))
		return 0;
	size_t out_len = p->out.len, echo_len = p->echo.len;
	if (cli_buf_reserve(&p->out, len + 1) < 0 ||
	    (p->raw && (cli_buf_append(&p->echo, line, len) < 0 || cli_buf_append(&p->echo, "\n", 1) < 0))) {
		p->echo.len = echo_len;
		return -1;
	}
	if (cli_buf_append(&p->out, line, len) < 0 || cli_buf_append(&p->out, "\n", 1) < 0) {
		/* Cannot happen after the reserve above; keep the state sane anyway. */
		p->out.len = out_len;
		p->echo.len = echo_len;
		return -1;
	}
	p->outstanding++;
	return 0;
}

/* Takes SOCK as the new connection; replays the kept requests. */
void cli_pump_attach(struct cli_pump *p, int sock)
{
	if (p->sock >= 0)
		close(p->sock);
	p->sock = sock;
	cli_buf_rewind(&p->out);
	p->out.keep = true;
	cli_buf_clear(&p->reply);
	p->ndata = 0;
	cli_json_reset(&p->js);
	p->echoed = false;
	p->got_reply_bytes = false;
	p->peer_eof = false;
	p->write_closed = false;
	p->lost_errno = 0;
	p->sent_lines = 0;
	p->sent_partial = false;
	p->answered = 0;
	p->unasked_err = false;
}

/* Records a fatal error of class KLASS and returns CLI_PUMP_FAILED. */
static enum cli_pump_status pump_fail(struct cli_pump *p, int klass)
{
	p->fatal = klass;
	if (p->result == 0)
		p->result = klass;
	return CLI_PUMP_FAILED;
}

/* Prints at most 80 bytes of LINE with control bytes escaped, for messages. */
static void print_excerpt(const char *line, size_t len)
{
	for (size_t i = 0; i < len && i < 80; i++) {
		unsigned char c = (unsigned char)line[i];
		if (c < 0x20 || c == 0x7f)
			fprintf(stderr, "\\x%02x", c);
		else
			fputc(c, stderr);
	}
	fputs(len > 80 ? "...\n" : "\n", stderr);
}

/* Writes S to F, escaped when ESCAPE; without memory for that, control
 * bytes become '?' rather than reach the terminal. */
void cli_put_text(FILE *f, const char *s, size_t len, bool escape)
{
	if (len == 0) /* nothing to write, and S or the escaped text may be NULL */
		return;
	if (!escape) {
		fwrite(s, 1, len, f);
		return;
	}
	struct cli_buf b = {0};
	if (cli_escape(&b, s, len, false) != (size_t)-1) {
		fwrite(b.data, 1, b.len, f);
	} else {
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)s[i];
			fputc(c < 0x20 || c >= 0x7f ? '?' : c, f);
		}
	}
	cli_buf_free(&b);
}

/* Writes LEN bytes and an LF to stdout (escaped when P says so). */
static void put_line(const struct cli_pump *p, const char *s, size_t len)
{
	cli_put_text(stdout, s, len, p->escape_out);
	fputc('\n', stdout);
}

/* Prints ERR reply R to stderr as "udo-vsock: CODE: MESSAGE", or as
 * "udo-vsock: MESSAGE" when the message already begins with "CODE:"
 * (ERR usage usage: ping [token]). */
static void put_err(const struct cli_pump *p, const struct udo_vsock_proto_reply *r)
{
	fflush(stdout);
	fputs("udo-vsock: ", stderr);
	if (!(r->text_len > r->code_len && memcmp(r->text, r->code, r->code_len) == 0 && r->text[r->code_len] == ':')) {
		fwrite(r->code, 1, r->code_len, stderr);
		fputs(": ", stderr);
	}
	cli_put_text(stderr, r->text, r->text_len, p->escape_err);
	fputc('\n', stderr);
}

/* Is R the OK that turns the connection into a byte stream? */
static bool reply_starts_pipe(const struct udo_vsock_proto_reply *r)
{
	return r->kind == UDO_VSOCK_PROTO_REPLY_OK && ((r->text_len == 5 && memcmp(r->text, "proxy", 5) == 0) ||
	                                               (r->text_len == 7 && memcmp(r->text, "handoff", 7) == 0));
}

/* Is R the OK that turns the connection into session frames? */
static bool reply_starts_session(const struct udo_vsock_proto_reply *r)
{
	return r->kind == UDO_VSOCK_PROTO_REPLY_OK && r->text_len == 7 && memcmp(r->text, "session", 7) == 0;
}

/* --json: adds data line R to the reply under way, or prints the reply
 * that status line R ends. Returns 0, or -1 (fatal: out of memory). */
static int put_json(struct cli_pump *p, const struct udo_vsock_proto_reply *r)
{
	int rc = r->kind == UDO_VSOCK_PROTO_REPLY_DATA ? cli_json_data(&p->js, r->text, r->text_len)
	                                               : cli_json_reply(&p->js, stdout, r);
	if (rc < 0) {
		cli_error("out of memory");
		pump_fail(p, CLI_EXIT_PROTOCOL);
	}
	return rc;
}

/* Handles one complete reply LINE. Returns 0, 1 when the connection is
 * a byte stream from now on, or -1 after a fatal error. */
static int pump_reply_line(struct cli_pump *p, const char *line, size_t len)
{
	struct udo_vsock_proto_reply r;
	enum udo_vsock_proto_reply_kind kind = udo_vsock_proto_classify_reply(line, len, &r);

	if (p->sent_lines <= p->answered && kind == UDO_VSOCK_PROTO_REPLY_ERR) {
		put_err(p, &r);
		p->unasked_err = true;
		return 0;
	}
	if (p->sent_lines <= p->answered) {
		cli_error("protocol error: reply line with no request pending: ");
		print_excerpt(line, len);
		pump_fail(p, CLI_EXIT_PROTOCOL);
		return -1;
	}
	if (kind == UDO_VSOCK_PROTO_REPLY_INVALID) {
		cli_error("protocol error: malformed reply line: ");
		print_excerpt(line, len);
		pump_fail(p, CLI_EXIT_PROTOCOL);
		return -1;
	}
	if (p->json) {
		if (put_json(p, &r) < 0)
			return -1;
	} else if (p->raw) {
		if (!p->echoed) {
			const char *req = cli_buf_head(&p->echo);
			const char *nl = req ? memchr(req, '\n', cli_buf_used(&p->echo)) : NULL;
			if (nl) {
				fputs("> ", stdout);
				put_line(p, req, (size_t)(nl - req));
				cli_buf_consume(&p->echo, (size_t)(nl - req) + 1);
			}
			p->echoed = true;
		}
		put_line(p, line, len);
	} else if (p->output == CLI_OUTPUT_LIST) {
		put_line(p, line, len);
	} else if (r.kind == UDO_VSOCK_PROTO_REPLY_DATA) {
		put_line(p, r.text, r.text_len);
	} else if (r.kind == UDO_VSOCK_PROTO_REPLY_OK) {
		if (p->ndata == 0 && r.text_len > 0 && !reply_starts_pipe(&r) && !reply_starts_session(&r))
			put_line(p, r.text, r.text_len);
	} else {
		put_err(p, &r);
	}
	if (p->verbose && r.kind == UDO_VSOCK_PROTO_REPLY_OK && !p->raw) {
		fflush(stdout);
		fputs("udo-vsock: ", stderr);
		cli_put_text(stderr, line, len, p->escape_err);
		fputc('\n', stderr);
	}

	if (r.kind == UDO_VSOCK_PROTO_REPLY_DATA) {
		p->ndata++;
		return 0;
	}
	if (r.kind == UDO_VSOCK_PROTO_REPLY_ERR && p->result == 0)
		p->result = CLI_EXIT_ERR;
	p->outstanding--;
	p->answered++;
	p->ndata = 0;
	p->echoed = false;
	if (reply_starts_pipe(&r) || reply_starts_session(&r)) {
		p->piped = true;
		p->session = reply_starts_session(&r);
		return 1;
	}
	return 0;
}

/* Handles every complete line in the reply buffer, up to one that makes
 * the connection a byte stream. Returns 0 or -1 (fatal). */
static int pump_take_replies(struct cli_pump *p)
{
	while (!p->piped) {
		char *h = cli_buf_head(&p->reply);
		size_t n = cli_buf_used(&p->reply);
		char *nl = h ? memchr(h, '\n', n) : NULL;
		if (!nl)
			break;
		if (pump_reply_line(p, h, (size_t)(nl - h)) < 0)
			return -1;
		cli_buf_consume(&p->reply, (size_t)(nl - h) + 1);
	}
	if (p->piped)
		return 0;
	if (cli_buf_used(&p->reply) > CLI_REPLY_LINE_MAX) {
		cli_error("protocol error: reply line longer than %d bytes", CLI_REPLY_LINE_MAX);
		pump_fail(p, CLI_EXIT_PROTOCOL);
		return -1;
	}
	return 0;
}

/* Queues every complete input line. Returns 0 or -1 (fatal). */
static int pump_take_input(struct cli_pump *p)
{
	for (;;) {
		char *h = cli_buf_head(&p->in);
		size_t n = cli_buf_used(&p->in);
		char *nl = h ? memchr(h, '\n', n) : NULL;
		size_t len = nl ? (size_t)(nl - h) : n;
		if (!nl && (!p->in_eof || n == 0))
			break;
		if (cli_pump_queue(p, h, len) < 0) {
			cli_error("out of memory");
			pump_fail(p, CLI_EXIT_USAGE);
			return -1;
		}
		cli_buf_consume(&p->in, nl ? len + 1 : len);
	}
	if (cli_buf_used(&p->in) > CLI_INPUT_LINE_MAX) {
		cli_error("input line longer than %d bytes", CLI_INPUT_LINE_MAX);
		pump_fail(p, CLI_EXIT_USAGE);
		return -1;
	}
	return 0;
}

/* Receives what the socket has. Returns the bytes received, or -1 (fatal). */
static ssize_t pump_recv(struct cli_pump *p)
{
	ssize_t total = 0;

	for (int i = 0; i < 16 && !p->peer_eof && !p->piped; i++) {
		if (cli_buf_reserve(&p->reply, CLI_IO_CHUNK) < 0) {
			cli_error("out of memory");
			pump_fail(p, CLI_EXIT_PROTOCOL);
			return -1;
		}
		ssize_t n = recv(p->sock, p->reply.data + p->reply.len, p->reply.cap - p->reply.len, MSG_DONTWAIT);
		if (n > 0) {
			p->reply.len += (size_t)n;
			total += n;
			if (!p->got_reply_bytes) {
				p->got_reply_bytes = true;
				cli_buf_forget(&p->out);
			}
			if (pump_take_replies(p) < 0)
				return -1;
		} else if (n == 0) {
			p->peer_eof = true;
		} else if (errno == EINTR) {
			continue;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			break;
		} else {
			p->lost_errno = errno;
			p->peer_eof = true;
		}
	}
	return total;
}

/* Counts the complete lines and the partial tail in the LEN bytes sent. */
static void pump_count_sent(struct cli_pump *p, const char *s, size_t len)
{
	for (const char *end = s + len; s < end;) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		if (!nl) {
			p->sent_partial = true;
			return;
		}
		p->sent_lines++;
		p->sent_partial = false;
		s = nl + 1;
	}
}

/* Sends what the socket takes. Errors end sending (the replies already
 * on their way are still read); never fatal. */
static void pump_send(struct cli_pump *p)
{
	while (cli_buf_used(&p->out) > 0) {
		const char *h = cli_buf_head(&p->out);
		ssize_t n = send(p->sock, h, cli_buf_used(&p->out), MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			pump_count_sent(p, h, (size_t)n);
			cli_buf_consume(&p->out, (size_t)n);
			if (p->out.keep && p->out.off > CLI_RESEND_MAX)
				cli_buf_forget(&p->out);
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return;
		} else {
			p->lost_errno = n < 0 ? errno : EPIPE;
			p->write_closed = true;
			return;
		}
	}
}

/* Reads one chunk of input. Returns 0 or -1 (fatal). */
static int pump_read_input(struct cli_pump *p)
{
	if (cli_buf_reserve(&p->in, CLI_IO_CHUNK) < 0) {
		cli_error("out of memory");
		pump_fail(p, CLI_EXIT_USAGE);
		return -1;
	}
	ssize_t n = read(p->in_fd, p->in.data + p->in.len, p->in.cap - p->in.len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n < 0) {
		cli_error("cannot read standard input: %s", strerror(errno));
		pump_fail(p, CLI_EXIT_USAGE);
		return -1;
	}
	if (n == 0)
		p->in_eof = true;
	p->in.len += (size_t)n;
	return pump_take_input(p);
}

/* Requests sent (even partly) on this connection and not answered; a
 * status line counts as a reply only while sent_lines > answered, so
 * this never goes below zero. */
static uint64_t pump_sent_unanswered(const struct cli_pump *p)
{
	return p->sent_lines + (p->sent_partial ? 1 : 0) - p->answered;
}

/* Decides what a lost connection means: a resend point or a failure. */
static enum cli_pump_status pump_lost(struct cli_pump *p)
{
	if (cli_buf_used(&p->reply) == 0 && ((!p->got_reply_bytes && p->out.keep) || pump_sent_unanswered(p) == 0))
		return CLI_PUMP_RESEND;
	cli_pump_give_up(p);
	return CLI_PUMP_FAILED;
}

/* Reports the loss; counts what could not be completed. */
int cli_pump_give_up(struct cli_pump *p)
{
	fflush(stdout);
	uint64_t unanswered = pump_sent_unanswered(p);
	uint64_t unsent = p->outstanding - unanswered;
	char why[128] = "";
	if (p->lost_errno)
		snprintf(why, sizeof(why), " (%s)", strerror(p->lost_errno));
	/* After an unasked ERR the server has said why; its class stands. */
	int klass = p->unasked_err ? CLI_EXIT_ERR : CLI_EXIT_PROTOCOL;
	if (unanswered > 0 || cli_buf_used(&p->reply) > 0)
		cli_error("connection lost before the reply to %llu request(s) was complete%s",
		          (unsigned long long)(unanswered ? unanswered : 1), why);
	else
		cli_error("the server closed the connection%s; %llu request(s) not sent", why,
		          (unsigned long long)unsent);
	pump_fail(p, klass);
	return p->result;
}

/* The poll loop. */
enum cli_pump_status cli_pump_run(struct cli_pump *p)
{
	int64_t progress = cli_now_ms();

	if (pump_take_input(p) < 0)
		return CLI_PUMP_FAILED;
	for (;;) {
		bool pending = cli_buf_used(&p->out) > 0;
		/* After an unasked ERR the server is closing: send nothing more
		 * on this connection, so what is unsent stays safe to resend. */
		bool may_send = pending && !p->write_closed && !p->unasked_err;
		bool want_input = !p->in_eof && cli_buf_used(&p->out) < CLI_OUT_HIGH;

		if (p->peer_eof && (pending || p->outstanding > 0 || cli_buf_used(&p->reply) > 0))
			return pump_lost(p);
		if (!pending && p->outstanding == 0 && p->in_eof)
			return CLI_PUMP_IDLE;

		struct pollfd fds[2] = {
		    {.fd = p->peer_eof ? -1 : p->sock, .events = POLLIN | (may_send ? POLLOUT : 0)},
		    {.fd = want_input ? p->in_fd : -1, .events = POLLIN},
		};
		int timeout = -1;
		if ((pending || p->outstanding > 0) && p->reply_timeout_ms >= 0) {
			int64_t left = progress + p->reply_timeout_ms - cli_now_ms();
			if (left <= 0) {
				fflush(stdout);
				cli_error("timeout: no reply within %d.%03d s", p->reply_timeout_ms / 1000,
				          p->reply_timeout_ms % 1000);
				return pump_fail(p, CLI_EXIT_TIMEOUT);
			}
			timeout = left > 1000000 ? 1000000 : (int)left;
		}
		fflush(stdout);
		int n = poll(fds, 2, timeout);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cli_error("poll: %s", strerror(errno));
			return pump_fail(p, CLI_EXIT_PROTOCOL);
		}
		if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t got = pump_recv(p);
			if (got < 0)
				return CLI_PUMP_FAILED;
			if (p->piped)
				return p->session ? CLI_PUMP_SESSION : CLI_PUMP_PIPE;
			if (got > 0)
				progress = cli_now_ms();
		}
		if (fds[0].revents & POLLOUT) {
			size_t before = cli_buf_used(&p->out);
			pump_send(p);
			if (cli_buf_used(&p->out) != before)
				progress = cli_now_ms();
		}
		if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (pump_read_input(p) < 0)
				return CLI_PUMP_FAILED;
		}
	}
}

/* Reads what the idle connection holds (unasked lines, end of file or a
 * reset) without blocking. */
bool cli_pump_peer_closed(struct cli_pump *p)
{
	if (p->peer_eof || p->sock < 0)
		return true;
	if (pump_recv(p) < 0)
		return true;
	return p->peer_eof;
}

/* Releases everything. */
void cli_pump_destroy(struct cli_pump *p)
{
	if (p->sock >= 0)
		close(p->sock);
	p->sock = -1;
	cli_buf_free(&p->in);
	cli_buf_free(&p->out);
	cli_buf_free(&p->echo);
	cli_buf_free(&p->reply);
	cli_json_reset(&p->js);
}
