/* conn.c - one client connection: lines in, replies out */
#include "conn.h"

#include <errno.h>
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

static void conn_process_lines(struct conn *c);
static int conn_handle_lines(struct conn *c);

/* Reading requests is on unless a request runs, replies back up or we close. */
static void conn_update_reading(struct conn *c)
{
	if (c->closing || c->req_active || c->output_paused || c->eof)
		bufferevent_disable(c->bev, EV_READ);
	else
		bufferevent_enable(c->bev, EV_READ);
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
	peer_count_remove(s, c->peer_key);
	bufferevent_free(c->bev);
	event_free(c->resume);
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
		fn(-1, NULL, &c->peer, c->detach_arg);
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

/* Replies are all sent: hand the socket on or start a bridge if asked
 * to, else free C. */
static void conn_finish(struct conn *c)
{
	if (c->bridge_start != NULL) {
		void (*start)(struct conn *, void *) = c->bridge_start;
		c->bridge_start = NULL;
		c->bridged = 1;
		c->closing = 0;
		bufferevent_set_timeouts(c->bev, NULL, NULL);
		start(c, c->bridge_arg);
		return;
	}
	if (c->detach_fn != NULL) {
		conn_detach_fn fn = c->detach_fn;
		c->detach_fn = NULL;
		fn(bufferevent_getfd(c->bev), bufferevent_get_input(c->bev), &c->peer, c->detach_arg);
	}
	conn_free(c);
}

void conn_flush(struct conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	/* Replies go out at once; libevent watches for writability only
	 * when the socket cannot take them all (a write error is reported
	 * by that watch). This saves two epoll_ctl calls and a loop turn
	 * per reply. */
	if (evbuffer_get_length(out) == 0 || (bufferevent_get_enabled(c->bev) & EV_WRITE))
		return;
	evbuffer_write(out, bufferevent_getfd(c->bev));
	if (evbuffer_get_length(out) > 0)
		bufferevent_enable(c->bev, EV_WRITE);
}

void conn_close_after_flush(struct conn *c)
{
	c->closing = 1;
	conn_update_reading(c);
	if (c->req_active)
		return; /* conn_request_done() comes back here */
	conn_flush(c);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		conn_finish(c);
		return;
	}
	/* The write callback frees C once the output buffer is empty. */
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	bufferevent_enable(c->bev, EV_WRITE);
}

/* Writes a complete error status line outside any request (too-long). */
static void conn_send_err(struct conn *c, const char *code, const char *msg)
{
	evbuffer_add_printf(bufferevent_get_output(c->bev), "ERR %s %s\n", code, msg);
	c->server->stats.errors++;
}

void conn_request_done(struct conn *c)
{
	c->req_active = 0;
	if (c->in_run)
		return; /* finished synchronously: conn_process_lines carries on */
	if (c->closing) {
		conn_close_after_flush(c);
		return;
	}
	conn_update_reading(c);
	/* Lines may be waiting behind the request; handle them on a later turn. */
	event_active(c->resume, EV_READ, 0);
}

/* Handles one complete request line already copied to the shared buffer. */
static void conn_handle_line(struct conn *c, size_t len)
{
	struct server *s = c->server;
	const char *why;
	int argc;
	/* The connection's limit, not the scratch array's size: that only grows. */
	enum proto_parse_result r =
		proto_parse_line(s->line, len, s->argv, (int)c->config->limits.max_arguments, &argc, &why);

	if (r == PROTO_PARSE_EMPTY)
		return;
	s->stats.commands++;
	if (r != PROTO_PARSE_OK) {
		conn_send_err(c, r == PROTO_PARSE_TOO_MANY ? PROTO_ERR_USAGE : PROTO_ERR_SYNTAX, why);
		log_peer(LOG_LEVEL_INFO, c->peer.text, c->peer.cid, NULL, "bad request: %s", why);
		return;
	}
	dispatch_request(c, argc, s->argv);
}

/* Copies the next line (without its end) into the shared buffer. Returns
 * its length, -1 if no complete line is buffered, -2 if it is too long. */
static ssize_t conn_take_line(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t max = c->config->limits.max_line_length;
	size_t eol_len = 0;
	struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
	size_t len;

	if (eol.pos < 0) {
		size_t have = evbuffer_get_length(in);
		if (have > max + 1)
			return -2;
		if (!c->eof || have == 0)
			return -1;
		/* At end of input an unterminated last line counts as complete. */
		len = have;
	} else {
		len = (size_t)eol.pos;
	}
	/* One CR before the LF belongs to the line end. */
	if (len > max + 1)
		return -2;
	/* The line and its end in one removal (one round of buffer callbacks). */
	if (server_reserve_scratch(c->server, len + eol_len, (int)c->config->limits.max_arguments) < 0)
		return -2;
	evbuffer_remove(in, c->server->line, len + eol_len);
	if (len > 0 && c->server->line[len - 1] == '\r')
		len--;
	if (len > max)
		return -2;
	return (ssize_t)len;
}

/* Handles buffered lines: at most commands-per-read, then yields. */
static void conn_process_lines(struct conn *c)
{
	if (conn_handle_lines(c))
		conn_flush(c);
}

/* The loop of conn_process_lines. Returns 0 if C was freed. */
static int conn_handle_lines(struct conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	const struct limits *lim = &c->config->limits;

	for (unsigned int n = 0;; n++) {
		if (c->closing || c->req_active || c->bridged)
			return 1;
		if (evbuffer_get_length(out) >= lim->max_output_buffer) {
			/* Backpressure: requests wait until the client reads. */
			c->output_paused = 1;
			bufferevent_setwatermark(c->bev, EV_WRITE, lim->max_output_buffer / 2, 0);
			conn_update_reading(c);
			return 1;
		}
		if (n == lim->commands_per_read) {
			/* Fairness: let other connections run first. */
			event_active(c->resume, EV_READ, 0);
			return 1;
		}
		ssize_t len = conn_take_line(c);
		if (len == -1) {
			if (!c->eof) {
				if (c->line_started == 0 && evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
					c->line_started = server_uptime_ms(c->server) + 1; /* line-timeout runs */
				return 1;
			}
			conn_close_after_flush(c); /* may free C */
			return 0;
		}
		c->line_started = 0; /* complete (or refused): the next line starts afresh */
		if (len == -2) {
			char msg[96];
			snprintf(msg, sizeof(msg), "request longer than %u bytes; closing",
				 lim->max_line_length);
			c->server->stats.commands++;
			conn_send_err(c, PROTO_ERR_TOO_LONG, msg);
			log_peer(LOG_LEVEL_INFO, c->peer.text, c->peer.cid, NULL, "request too long");
			conn_close_after_flush(c); /* may free C */
			return 0;
		}
		c->in_run = 1;
		conn_handle_line(c, (size_t)len);
		c->in_run = 0;
		if (c->req_active) {
			conn_update_reading(c); /* asynchronous: wait for it */
			return 1;
		}
		if (c->closing) {
			conn_close_after_flush(c); /* may free C */
			return 0;
		}
	}
}

/* The line-timeout sweep: cuts every connection whose unfinished request
 * line began longer than line-timeout ago. */
static void conn_line_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	unsigned int limit = s->config->limits.line_timeout_ms;
	uint64_t now = server_uptime_ms(s) + 1;

	if (limit == 0)
		return;
	for (struct conn *c = s->conns, *next; c != NULL; c = next) {
		next = c->next;
		if (c->line_started == 0 || c->closing || c->bridged || c->req_active || c->output_paused || c->eof)
			continue;
		if (now - c->line_started <= limit)
			continue;
		char msg[80];
		snprintf(msg, sizeof(msg), "request line not completed in %u ms", limit);
		log_peer(LOG_LEVEL_INFO, c->peer.text, c->peer.cid, NULL, "line timeout");
		conn_send_err(c, PROTO_ERR_TIMEOUT, msg);
		/* The reply is buffered, so this never frees C here. */
		conn_close_after_flush(c);
	}
}

int conn_line_sweep_arm(struct server *s)
{
	unsigned int limit = s->config->limits.line_timeout_ms;
	unsigned int every = limit / 4 < 100 ? 100 : limit / 4;

	if (limit == 0) {
		if (s->line_timer != NULL)
			event_del(s->line_timer);
		return 0;
	}
	if (s->line_timer == NULL) {
		s->line_timer = event_new(s->base, -1, EV_PERSIST, conn_line_sweep_cb, s);
		if (s->line_timer == NULL)
			return -1;
	} else if (every == s->line_sweep_ms && event_pending(s->line_timer, EV_TIMEOUT, NULL)) {
		return 0;
	}
	struct timeval tv = {every / 1000, (every % 1000) * 1000};
	if (event_add(s->line_timer, &tv) < 0)
		return -1;
	s->line_sweep_ms = every;
	return 0;
}

/* bufferevent read callback: new bytes arrived. */
static void conn_read_cb(struct bufferevent *bev, void *arg)
{
	conn_process_lines(arg);
}

/* Deferred continuation of conn_process_lines. */
static void conn_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_process_lines(arg);
}

/* bufferevent write callback: output drained to the low watermark. */
static void conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->closing) {
		if (!c->req_active && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			conn_finish(c);
		return;
	}
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		bufferevent_disable(bev, EV_WRITE); /* back to writing at once (conn_flush) */
	if (c->output_paused) {
		c->output_paused = 0;
		bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
		conn_update_reading(c);
		conn_process_lines(c);
	}
}

/* bufferevent event callback: end of input, errors and timeouts. */
static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	if (what & BEV_EVENT_EOF) {
		/* The client has sent everything: answer what is buffered, then close. */
		c->eof = 1;
		if (c->req_active || c->output_paused)
			return;
		conn_process_lines(c);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if ((what & BEV_EVENT_READING) && !c->closing) {
			log_peer(LOG_LEVEL_INFO, c->peer.text, c->peer.cid, NULL, "idle timeout");
			conn_send_err(c, PROTO_ERR_TIMEOUT, "idle connection closed");
			conn_close_after_flush(c);
			bufferevent_set_timeouts(bev, NULL, NULL);
			return;
		}
		log_peer(LOG_LEVEL_INFO, c->peer.text, c->peer.cid, NULL, "client does not read its replies; closing");
		conn_free(c);
		return;
	}
	if (what & BEV_EVENT_ERROR)
		log_peer(LOG_LEVEL_DEBUG, c->peer.text, c->peer.cid, NULL, "connection error: %s",
			 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	conn_free(c);
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
static void conn_refuse(struct server *s, int fd, const char *msg)
{
	char line[128];
	int n = snprintf(line, sizeof(line), "ERR %s %s\n", PROTO_ERR_BUSY, msg);

	(void)!send(fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	close(fd);
	s->stats.connections_rejected++;
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
		log_peer(LOG_LEVEL_NOTICE, p.text, p.cid, NULL, "refused: max-connections-per-peer (%u) reached",
			 lim->max_connections_per_peer);
		conn_refuse(s, fd, "too many connections from this peer");
		return;
	}
	struct conn *c = calloc(1, sizeof(*c));
	struct bufferevent *bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	struct event *resume = event_new(s->base, -1, 0, conn_resume_cb, c);
	if (c == NULL || bev == NULL || resume == NULL) {
		log_warnx("cannot allocate a connection for %s", p.text);
		if (bev != NULL)
			bufferevent_free(bev);
		else
			close(fd);
		if (resume != NULL)
			event_free(resume);
		free(c);
		peer_count_remove(s, key);
		return;
	}
	c->server = s;
	c->bev = bev;
	c->resume = resume;
	c->peer = p;
	memcpy(c->peer_key, key, sizeof(key));
	c->config = config_ref(s->config);
	c->next = s->conns;
	if (s->conns != NULL)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	s->stats.connections_total++;

	bufferevent_setcb(bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	/* Bound what one client can make us buffer: a line and some more. */
	bufferevent_setwatermark(bev, EV_READ, 0, (size_t)lim->max_line_length + 65536);
	if (lim->idle_timeout_ms > 0) {
		struct timeval tv = {lim->idle_timeout_ms / 1000, (lim->idle_timeout_ms % 1000) * 1000};
		bufferevent_set_timeouts(bev, &tv, &tv);
	}
	bufferevent_enable(bev, EV_READ); /* EV_WRITE only while output waits: see conn_flush */
	log_peer(LOG_LEVEL_DEBUG, p.text, p.cid, NULL, "connection accepted on %s", l->text);
	if (s->nconns >= lim->max_connections)
		server_pause_accepting(s, ACCEPT_PAUSE_LIMIT);
}
