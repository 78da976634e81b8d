/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* conn.c - one client connection: lines in, replies out */
#include "conn.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <linux/vm_sockets.h>
#include <sys/un.h>

#include "dispatch.h"
#include "log.h"
#include "proto.h"
#include "ratelimit.h"

/* Reply bytes one read turn gathers in the shared stage before sending. */
#define CONN_STAGE_SIZE 65536

/* Connections the timeout sweep cuts in one loop turn at most. */
#define CONN_SWEEP_BATCH 64

/* Input the daemon reads ahead beyond one request line (see max-line-length). */
#define CONN_READ_AHEAD 65536

static void conn_process(struct conn *c, int do_read);

/* Reading requests is on unless a request runs, replies back up or we close. */
static void conn_update_reading(struct conn *c)
{
	int want = !(c->closing || c->req_active || c->output_paused || c->eof || c->bridged);

	if (want == c->reading)
		return;
	if (want) {
		if (event_add(c->rev, NULL) < 0) {
			log_peer(LOG_LEVEL_WARNING, c->peer.text, c->peer.cid, NULL,
			         "cannot watch the socket; closing");
			c->broken = 1;
			event_active(c->resume, EV_READ, 0);
			return;
		}
		/* idle-timeout counts from now, not across the pause. */
		c->last_input_ms = server_uptime_ms(c->server);
	} else {
		event_del(c->rev);
	}
	c->reading = want;
}

/* Starts watching for writability while output waits for the socket. */
static void conn_want_write(struct conn *c)
{
	if (c->writing || evbuffer_get_length(c->out) == 0)
		return;
	if (event_add(c->wev, NULL) < 0) {
		c->broken = 1;
		event_active(c->resume, EV_READ, 0);
		return;
	}
	c->writing = 1;
	c->write_wait_ms = server_uptime_ms(c->server);
}

/* Unlinks C and releases everything it holds. */
static void conn_destroy(struct conn *c)
{
	struct server *s = c->server;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	s->nconns--;
	if (s->stage_owner == c) {
		s->stage_owner = NULL;
		s->stage_len = 0;
	}
	peer_count_remove(s, c->peer_key);
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	event_free(c->rev);
	event_free(c->wev);
	event_free(c->resume);
	evbuffer_free(c->out);
	free(c->in);
	close(c->fd);
	config_unref(c->config);
	log_peer(LOG_LEVEL_DEBUG, c->peer.text, c->peer.cid, NULL, "connection closed");
	free(c);
	/* A slot is free: accepting may resume, and a stop may be complete. */
	server_resume_accepting(s, ACCEPT_PAUSE_LIMIT | ACCEPT_PAUSE_NOFILE);
	if (s->stopping && s->nconns == 0)
		event_base_loopexit(s->base, NULL);
}

void conn_free(struct conn *c)
{
	if (c->bridge_release != NULL) {
		void (*release)(void *) = c->bridge_release;
		c->bridge_release = NULL;
		c->bridge_start = NULL;
		release(c->bridge_arg);
	}
	if (c->detach_fn != NULL) {
		/* Never flushed: the receiver only releases its state. */
		conn_detach_fn fn = c->detach_fn;
		c->detach_fn = NULL;
		fn(-1, NULL, 0, &c->peer, c->detach_arg);
	}
	if (c->req_active) {
		/* Detach first: the handler's cancel finishes the request. */
		c->req.conn = NULL;
		if (c->req.cmd->kind->cancel != NULL)
			c->req.cmd->kind->cancel(&c->req);
		if (c->req.config != NULL) {
			log_peer(LOG_LEVEL_ERR, c->peer.text, c->peer.cid, c->req.cmd->name,
			         "handler did not finish a cancelled request");
			abort();
		}
	}
	conn_destroy(c);
}

/* Gives the socket a bufferevent and starts the bridge on it (the
 * unhandled input stays in C->in for it). Returns 0, or -1 if C must be
 * freed. */
static int conn_start_bridge(struct conn *c)
{
	void (*start)(struct conn *, void *) = c->bridge_start;
	struct bufferevent *bev = bufferevent_socket_new(c->server->base, c->fd, 0);

	if (bev == NULL) {
		log_peer(LOG_LEVEL_WARNING, c->peer.text, c->peer.cid, NULL, "cannot start a bridge: out of memory");
		return -1;
	}
	event_del(c->rev);
	event_del(c->wev);
	c->reading = c->writing = 0;
	c->bev = bev;
	c->bridge_start = NULL;
	c->bridged = 1;
	c->closing = 0;
	start(c, c->bridge_arg);
	return 0;
}

/* Replies are all sent: hand the socket on or start a bridge if asked
 * to, else free C. */
static void conn_finish(struct conn *c)
{
	if (c->bridge_start != NULL && !c->broken) {
		if (conn_start_bridge(c) == 0)
			return;
	}
	if (c->detach_fn != NULL && !c->broken) {
		conn_detach_fn fn = c->detach_fn;
		c->detach_fn = NULL;
		fn(c->fd, c->in, c->in_len, &c->peer, c->detach_arg);
	}
	conn_free(c);
}

void conn_break(struct conn *c, enum log_level level, const char *why)
{
	if (!c->broken)
		log_peer(level, c->peer.text, c->peer.cid, NULL, "connection dropped: %s", why);
	c->broken = 1;
	c->closing = 1;
	event_active(c->resume, EV_READ, 0);
}

/* Sends C's staged replies; what the socket does not take moves to
 * C->out, and then the stage is no longer C's. */
static void conn_stage_flush(struct conn *c)
{
	struct server *s = c->server;
	size_t len = s->stage_len, done = 0;

	if (s->stage_owner != c)
		return;
	s->stage_len = 0;
	if (len > 0) {
		ssize_t n = send(c->fd, s->stage, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0)
			done = (size_t)n;
		else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			s->stage_owner = NULL;
			conn_break(c, LOG_LEVEL_DEBUG, strerror(errno));
			return;
		}
	}
	if (done < len) {
		s->stage_owner = NULL;
		if (evbuffer_add(c->out, s->stage + done, len - done) < 0) {
			conn_break(c, LOG_LEVEL_WARNING, "out of memory for its replies");
			return;
		}
		conn_want_write(c);
	}
}

void conn_write(struct conn *c, const void *data, size_t len)
{
	struct server *s = c->server;

	if (c->broken)
		return;
	if (s->stage_owner == c) {
		if (len <= CONN_STAGE_SIZE - s->stage_len) {
			memcpy(s->stage + s->stage_len, data, len);
			s->stage_len += len;
			return;
		}
		conn_stage_flush(c);
		if (s->stage_owner == c) {
			/* The stage went out in full. */
			if (len <= CONN_STAGE_SIZE) {
				memcpy(s->stage, data, len);
				s->stage_len = len;
				return;
			}
			s->stage_owner = NULL; /* from now on OUT keeps the order */
		}
	}
	if (evbuffer_add(c->out, data, len) < 0)
		conn_break(c, LOG_LEVEL_WARNING, "out of memory for its replies");
}

/* Unsent reply bytes of C, staged or waiting. */
static size_t conn_output_length(const struct conn *c)
{
	return (c->server->stage_owner == c ? c->server->stage_len : 0) + evbuffer_get_length(c->out);
}

void conn_flush(struct conn *c)
{
	if (c->server->stage_owner == c) {
		conn_stage_flush(c);
		return;
	}
	/* Replies go out at once; the socket is watched for writability only
	 * when it cannot take them all. */
	if (c->writing || c->broken || evbuffer_get_length(c->out) == 0)
		return;
	if (evbuffer_write(c->out, c->fd) < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
		conn_break(c, LOG_LEVEL_DEBUG, strerror(errno));
		return;
	}
	conn_want_write(c);
}

void conn_flush_soon(struct conn *c)
{
	if (c->writing || c->flush_soon || c->broken)
		return;
	/* The write callback runs on this loop turn's end, once. */
	c->flush_soon = 1;
	event_active(c->wev, EV_WRITE, 0);
}

void conn_close_after_flush(struct conn *c)
{
	c->closing = 1;
	conn_update_reading(c);
	if (c->req_active)
		return; /* conn_request_done() comes back here */
	conn_flush(c);
	if (c->server->stage_owner == c)
		c->server->stage_owner = NULL; /* flushed in full */
	if (c->broken) {
		conn_free(c);
		return;
	}
	if (evbuffer_get_length(c->out) == 0)
		conn_finish(c);
	/* Otherwise the write callback finishes C once OUT is empty. */
}

/* Writes a complete error status line outside any request (too-long). */
static void conn_send_err(struct conn *c, const char *code, const char *msg)
{
	char line[160];
	int n = snprintf(line, sizeof(line), "ERR %s %s\n", code, msg);

	conn_write(c, line, n > 0 && (size_t)n < sizeof(line) ? (size_t)n : strlen(line));
	server_count(c->server, c->peer_key, COUNT_ERROR);
}

void conn_request_done(struct conn *c)
{
	c->req_active = 0;
	if (c->in_run)
		return; /* finished synchronously: the line loop carries on */
	if (c->closing) {
		conn_close_after_flush(c);
		return;
	}
	conn_update_reading(c);
	/* Lines may be waiting behind the request; handle them on a later turn. */
	event_active(c->resume, EV_READ, 0);
}

/* Handles one complete request LINE of LEN bytes (no line end), which
 * has room for a terminating NUL. */
static void conn_handle_line(struct conn *c, char *line, size_t len)
{
	struct server *s = c->server;
	const char *why;
	int argc;
	/* The connection's limit, not the scratch array's size: that only grows. */
	enum proto_parse_result r =
	    proto_parse_line(line, len, s->argv, (int)c->config->limits.max_arguments, &argc, &why);

	if (r == PROTO_PARSE_EMPTY)
		return;
	server_count(s, c->peer_key, COUNT_COMMAND);
	if (r != PROTO_PARSE_OK) {
		conn_send_err(c, r == PROTO_PARSE_TOO_MANY ? PROTO_ERR_USAGE : PROTO_ERR_SYNTAX, why);
		log_peer(LOG_LEVEL_INFO, c->peer.text, c->peer.cid, NULL, "bad request: %s", why);
		return;
	}
	dispatch_request(c, argc, s->argv);
}

/* Refuses a request line longer than max-line-length and closes. */
static void conn_refuse_long_line(struct conn *c)
{
	char msg[96];

	snprintf(msg, sizeof(msg), "request longer than %u bytes; closing", c->config->limits.max_line_length);
	server_count(c->server, c->peer_key, COUNT_COMMAND);
	conn_send_err(c, PROTO_ERR_TOO_LONG, msg);
	log_peer(LOG_LEVEL_INFO, c->peer.text, c->peer.cid, NULL, "request too long");
	c->closing = 1;
}

/* Handles the complete lines in BUF[*OFF, LEN): at most commands-per-read,
 * and none while a request runs, replies back up or C closes. Advances
 * *OFF past what it handled. At end of input an unterminated last line
 * counts as complete, and once all is handled C is set to close. */
static void conn_handle_lines(struct conn *c, char *buf, size_t len, size_t *off)
{
	const struct limits *lim = &c->config->limits;
	size_t max = lim->max_line_length;

	for (unsigned int n = 0;; n++) {
		if (c->closing || c->req_active || c->bridged || c->broken)
			return;
		if (conn_output_length(c) >= lim->max_output_buffer) {
			/* Backpressure: requests wait until the client reads. */
			c->output_paused = 1;
			return;
		}
		if (n == lim->commands_per_read) {
			/* Fairness: let other connections run first. */
			event_active(c->resume, EV_READ, 0);
			return;
		}
		char *line = buf + *off;
		size_t rest = len - *off, llen, used;
		char *lf = memchr(line, '\n', rest);
		if (lf == NULL) {
			if (rest > max + 1) {
				conn_refuse_long_line(c);
				return;
			}
			if (!c->eof || rest == 0) {
				if (c->eof)
					c->closing = 1; /* all handled: answer, then close */
				return;
			}
			llen = used = rest;
		} else {
			llen = (size_t)(lf - line);
			used = llen + 1;
		}
		/* One CR before the LF belongs to the line end. */
		if (llen > 0 && line[llen - 1] == '\r')
			llen--;
		if (llen > max) {
			conn_refuse_long_line(c);
			return;
		}
		*off += used;
		c->in_run = 1;
		conn_handle_line(c, line, llen);
		c->in_run = 0;
	}
}

/* Keeps the unhandled input BUF[0, LEN) in C->in (freed when empty, so an
 * idle connection holds no input memory). Returns 0, or -1 without memory. */
static int conn_keep_input(struct conn *c, const char *buf, size_t len)
{
	if (len == 0) {
		free(c->in);
		c->in = NULL;
		c->in_len = c->in_size = 0;
		return 0;
	}
	if (len > c->in_size) {
		char *in = realloc(c->in, len);
		if (in == NULL)
			return -1;
		c->in = in;
		c->in_size = len;
	}
	memmove(c->in, buf, len);
	c->in_len = len;
	return 0;
}

/* One turn for C: reads what the socket has (if DO_READ), handles the
 * complete lines, keeps the rest, sends the replies in one go. */
static void conn_process(struct conn *c, int do_read)
{
	struct server *s = c->server;
	const struct limits *lim = &c->config->limits;
	size_t cap = (size_t)lim->max_line_length + CONN_READ_AHEAD;
	size_t len = c->in_len, off = 0;

	if (c->broken) {
		conn_free(c);
		return;
	}
	if (c->bridged || (c->closing && !c->req_active && c->in_len == 0 && !do_read))
		return;
	if (server_reserve_scratch(s, cap, (int)lim->max_arguments) < 0) {
		log_peer(LOG_LEVEL_WARNING, c->peer.text, c->peer.cid, NULL,
		         "out of memory for the read buffer; closing");
		conn_free(c);
		return;
	}
	char *buf = s->line;
	if (len > 0)
		memcpy(buf, c->in, len);
	if (do_read && c->reading && len < cap) {
		ssize_t n = recv(c->fd, buf + len, cap - len, 0);
		if (n > 0) {
			len += (size_t)n;
			c->input_seen = 1; /* the sweep notes the time: no clock read per read */
		} else if (n == 0) {
			c->eof = 1; /* the client has sent everything: answer, then close */
			conn_update_reading(c);
		} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			/* The kernel's lack of memory is worth a warning; a reset is not. */
			int oom = errno == ENOMEM || errno == ENOBUFS;
			log_peer(oom ? LOG_LEVEL_WARNING : LOG_LEVEL_DEBUG, c->peer.text, c->peer.cid, NULL,
			         "connection dropped: %s%s", oom ? "out of memory: " : "", strerror(errno));
			conn_free(c);
			return;
		}
	}
	if (s->stage_owner == NULL && evbuffer_get_length(c->out) == 0) {
		if (s->stage == NULL)
			s->stage = malloc(CONN_STAGE_SIZE); /* without it replies go to OUT */
		if (s->stage != NULL) {
			s->stage_owner = c;
			s->stage_len = 0;
		}
	}
	conn_handle_lines(c, buf, len, &off);
	if (c->closing && !c->bridge_start && !c->detach_fn)
		off = len; /* nothing more is read from a closing connection */
	if (conn_keep_input(c, buf + off, len - off) < 0)
		conn_break(c, LOG_LEVEL_WARNING, "out of memory for its unhandled input");
	conn_flush(c);
	if (s->stage_owner == c)
		s->stage_owner = NULL; /* sent in full */
	if (c->broken) {
		conn_free(c);
		return;
	}
	if (c->closing) {
		conn_close_after_flush(c); /* may free C */
		return;
	}
	if (c->output_paused && evbuffer_get_length(c->out) <= lim->max_output_buffer / 2) {
		/* The socket took the staged replies: no need to wait. */
		c->output_paused = 0;
		event_active(c->resume, EV_READ, 0);
	}
	conn_update_reading(c);
	/* A started line must be completed within line-timeout; a line
	 * handled in this turn means the rest is a new line. */
	if (off > 0)
		c->line_started = 0;
	if (c->in_len > 0 && memchr(c->in, '\n', c->in_len) == NULL) {
		if (c->line_started == 0)
			c->line_started = server_uptime_ms(s) + 1;
	} else {
		c->line_started = 0;
	}
}

/* True if C's client has closed its socket entirely (or it failed),
 * never for a client that only shut down sending, which still wants its
 * reply. Asked by the sweep only for connections whose request runs (no
 * read tells then): a unix socket polls hang-up; a vsock socket does not,
 * but refuses an empty send with EPIPE once the peer stopped receiving
 * (an empty send transmits nothing). */
static int conn_client_gone(const struct conn *c)
{
	struct pollfd p = {.fd = c->fd, .events = 0};

	if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR)) != 0)
		return 1;
	return send(c->fd, "", 0, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
	       (errno == EPIPE || errno == ENOTCONN || errno == ECONNRESET);
}

/* Cuts C if one of its timeouts has passed at NOW (uptime ms): idle
 * longer than idle-timeout, a client that has read none of its replies
 * for as long, or an unfinished request line begun longer than
 * line-timeout ago. Returns 1 if C was cut (and may be freed), else 0. */
static int conn_sweep_one(struct conn *c, uint64_t now)
{
	const struct limits *lim = &c->server->config->limits;

	if (c->bridged || c->broken)
		return 0;
	if (c->req_active && !c->closing && conn_client_gone(c)) {
		log_peer(LOG_LEVEL_INFO, c->peer.text, c->peer.cid, NULL,
		         "client left during a request; cancelling it");
		conn_free(c);
		return 1;
	}
	if (c->input_seen) {
		/* Input came since the last sweep: idle from now on at most. */
		c->input_seen = 0;
		c->last_input_ms = now;
	}
	if (c->writing && lim->idle_timeout_ms > 0 && now - c->write_wait_ms > lim->idle_timeout_ms) {
		log_peer(LOG_LEVEL_INFO, c->peer.text, c->peer.cid, NULL, "client does not read its replies; closing");
		conn_free(c);
		return 1;
	}
	if (c->closing || c->req_active || c->output_paused || c->eof)
		return 0;
	if (lim->line_timeout_ms > 0 && c->line_started != 0 && now + 1 - c->line_started > lim->line_timeout_ms) {
		char msg[80];
		snprintf(msg, sizeof(msg), "request line not completed in %u ms", lim->line_timeout_ms);
		log_peer(LOG_LEVEL_INFO, c->peer.text, c->peer.cid, NULL, "line timeout");
		conn_send_err(c, PROTO_ERR_TIMEOUT, msg);
		conn_close_after_flush(c); /* may free C */
		return 1;
	}
	if (lim->idle_timeout_ms > 0 && c->reading && now - c->last_input_ms > lim->idle_timeout_ms) {
		log_peer(LOG_LEVEL_INFO, c->peer.text, c->peer.cid, NULL, "idle timeout");
		conn_send_err(c, PROTO_ERR_TIMEOUT, "idle connection closed");
		conn_close_after_flush(c); /* may free C */
		return 1;
	}
	return 0;
}

/* The timeout sweep over every connection. It cuts at most
 * CONN_SWEEP_BATCH per loop turn, so clients still talking are not held
 * up behind a thousand cuts; the rest follow on the next turns, through
 * the one-shot SWEEP_MORE: activating the persistent timer by hand would
 * move its next run a whole period later each time (libevent counts a
 * persistent timeout from the last one), and 800 cuts put every other
 * timeout 6.5 s late. */
static void conn_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	uint64_t now = server_uptime_ms(s);
	unsigned int cuts = 0;

	for (struct conn *c = s->conns, *next; c != NULL; c = next) {
		next = c->next;
		if (cuts == CONN_SWEEP_BATCH) {
			event_active(s->sweep_more, EV_TIMEOUT, 0);
			return;
		}
		cuts += (unsigned int)conn_sweep_one(c, now);
	}
}

int conn_sweep_arm(struct server *s)
{
	unsigned int line_limit = s->config->limits.line_timeout_ms;
	unsigned int idle_limit = s->config->limits.idle_timeout_ms;
	unsigned int shortest = line_limit == 0           ? idle_limit
	                        : idle_limit == 0         ? line_limit
	                        : line_limit < idle_limit ? line_limit
	                                                  : idle_limit;
	/* At least every second: it also finds clients gone while their
	 * request runs. */
	unsigned int every = shortest == 0 || shortest / 4 > 1000 ? 1000 : shortest / 4 < 100 ? 100 : shortest / 4;

	if (s->sweep_more == NULL && (s->sweep_more = event_new(s->base, -1, 0, conn_sweep_cb, s)) == NULL)
		return -1;
	if (s->sweep_timer == NULL) {
		s->sweep_timer = event_new(s->base, -1, EV_PERSIST, conn_sweep_cb, s);
		if (s->sweep_timer == NULL)
			return -1;
	} else if (every == s->sweep_ms && event_pending(s->sweep_timer, EV_TIMEOUT, NULL)) {
		return 0;
	}
	struct timeval tv = {every / 1000, (every % 1000) * 1000};
	if (event_add(s->sweep_timer, &tv) < 0)
		return -1;
	s->sweep_ms = every;
	return 0;
}

/* The socket is readable: new bytes or end of input. */
static void conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_process(arg, 1);
}

/* Deferred continuation: more lines, a finished request, or a break. */
static void conn_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_process(arg, 0);
}

/* The socket takes more output (or conn_flush_soon asked to write). */
static void conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	int n = evbuffer_get_length(c->out) > 0 ? evbuffer_write(c->out, c->fd) : 0;

	c->flush_soon = 0;

	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
		log_peer(LOG_LEVEL_DEBUG, c->peer.text, c->peer.cid, NULL, "connection error: %s", strerror(errno));
		conn_free(c);
		return;
	}
	size_t left = evbuffer_get_length(c->out);
	if (n > 0)
		c->write_wait_ms = server_uptime_ms(c->server);
	if (left == 0) {
		event_del(c->wev); /* back to writing at once (conn_flush) */
		c->writing = 0;
	} else {
		conn_want_write(c); /* no-op if already watching */
	}
	if (c->closing) {
		if (!c->req_active && left == 0)
			conn_finish(c);
		return;
	}
	if (c->output_paused && left <= c->config->limits.max_output_buffer / 2) {
		/* Half the backlog is gone: read requests again. */
		c->output_paused = 0;
		conn_process(c, 0);
	}
}

/* Fills *P from the accepted address SA of listener L. */
static void peer_from_accept(struct peer *p, const struct listener *l, const struct sockaddr *sa, int socklen)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->listener, sizeof(p->listener), "%s", l->text);
	if (sa->sa_family == AF_VSOCK && (size_t)socklen >= sizeof(struct sockaddr_vm)) {
		const struct sockaddr_vm *svm = (const struct sockaddr_vm *)sa;
		p->transport = UDO_VSOCK_ADDR_VSOCK;
		p->cid = svm->svm_cid;
		p->port = svm->svm_port;
		snprintf(p->text, sizeof(p->text), "cid %u port %u", p->cid, p->port);
		return;
	}
	if (l->transport == UDO_VSOCK_ADDR_VSOCK_MUX) {
		/* Hybrid vsock: the VMM connected for its guest; the listener says which. */
		p->transport = UDO_VSOCK_ADDR_VSOCK_MUX;
		p->cid = l->mux_cid;
		snprintf(p->identity, sizeof(p->identity), "%s", l->identity);
		snprintf(p->text, sizeof(p->text), "vm %s cid %u", p->identity[0] ? p->identity : "-", p->cid);
		return;
	}
	p->transport = UDO_VSOCK_ADDR_UNIX;
	p->cid = UINT32_MAX;
	snprintf(p->identity, sizeof(p->identity), "%s", l->identity);
	snprintf(p->text, sizeof(p->text), "unix:%s", p->identity);
}

/* Refuses FD at a limit with a one-line reason, without blocking. */
static void conn_refuse(struct server *s, int fd, const char *key, const char *msg)
{
	char line[128];
	int n = snprintf(line, sizeof(line), "ERR %s %s\n", PROTO_ERR_BUSY, msg);

	(void)!send(fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	close(fd);
	server_count(s, key, COUNT_REJECTED);
}

void conn_accept(struct listener *l, int fd, const struct sockaddr *sa, int socklen)
{
	struct server *s = l->server;
	const struct limits *lim = &s->config->limits;
	struct peer p;
	char key[80];

	if (s->stopping) {
		close(fd);
		return;
	}
	peer_from_accept(&p, l, sa, socklen);
	if (p.transport != UDO_VSOCK_ADDR_UNIX)
		snprintf(key, sizeof(key), "cid:%u", p.cid);
	else
		snprintf(key, sizeof(key), "unix:%s", p.identity);
	if (peer_count_add(s, key) > lim->max_connections_per_peer) {
		peer_count_remove(s, key);
		if (log_ratelimit(s->base, key, p.text, p.cid, lim->log_peer_burst, lim->log_peer_interval_ms))
			log_peer_id(LOG_LEVEL_NOTICE, LOG_MSGID_REFUSED, p.text, p.cid, NULL,
			            "refused: max-connections-per-peer (%u) reached", lim->max_connections_per_peer);
		conn_refuse(s, fd, key, "too many connections from this peer");
		return;
	}
	struct conn *c = calloc(1, sizeof(*c));
	if (c != NULL) {
		c->rev = event_new(s->base, fd, EV_READ | EV_PERSIST, conn_read_cb, c);
		c->wev = event_new(s->base, fd, EV_WRITE | EV_PERSIST, conn_write_cb, c);
		c->resume = event_new(s->base, -1, 0, conn_resume_cb, c);
		c->out = evbuffer_new();
	}
	if (c == NULL || c->rev == NULL || c->wev == NULL || c->resume == NULL || c->out == NULL) {
		log_warnx("cannot allocate a connection for %s", p.text);
		if (c != NULL) {
			if (c->rev != NULL)
				event_free(c->rev);
			if (c->wev != NULL)
				event_free(c->wev);
			if (c->resume != NULL)
				event_free(c->resume);
			if (c->out != NULL)
				evbuffer_free(c->out);
			free(c);
		}
		close(fd);
		peer_count_remove(s, key);
		return;
	}
	c->server = s;
	c->fd = fd;
	c->peer = p;
	memcpy(c->peer_key, key, sizeof(key));
	c->config = config_ref(s->config);
	c->next = s->conns;
	if (s->conns != NULL)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	server_count(s, key, COUNT_CONNECTION);

	conn_update_reading(c); /* the socket is watched for writing only while output waits */
	log_peer(LOG_LEVEL_DEBUG, p.text, p.cid, NULL, "connection accepted on %s", l->text);
	if (s->nconns >= lim->max_connections)
		server_pause_accepting(s, ACCEPT_PAUSE_LIMIT);
}
