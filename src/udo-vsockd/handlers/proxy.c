/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* handlers/proxy.c - the `proxy` handler: bridge the connection to a local
 * unix or loopback TCP service, a byte pump with backpressure */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "../conf.h"
#include "../conn.h"
#include "../dispatch.h"
#include "../log.h"
#include "../proto.h"
#include "../server.h"
#include "handlers.h"

/* A command's options. */
struct proxy_conf {
	struct sockaddr_storage target;
	socklen_t target_len;
	char text[UDO_VSOCK_ADDR_STRLEN];
	size_t max_buffer; /* bytes queued per direction before reading stops */
	unsigned int connect_timeout_ms;
};

/* One proxied connection. */
struct proxy {
	struct request *req; /* while connecting; NULL after */
	struct conn *client; /* once bridged */
	struct bufferevent *service;
	size_t max_buffer;
	int eof[2];  /* side i (0 client, 1 service) has sent everything */
	int shut[2]; /* side i was told so with shutdown(SHUT_WR) */
};

/* Parses "unix:PATH", "unix:@NAME" or "tcp:ADDR:PORT" (loopback only). */
static int parse_target(struct proxy_conf *pc, const char *value, char *why, size_t whylen)
{
	memset(&pc->target, 0, sizeof(pc->target));
	if (strncmp(value, "tcp:", 4) == 0) {
		char host[64];
		const char *colon = strrchr(value + 4, ':');
		unsigned long long port;
		if (colon == NULL || (size_t)(colon - value - 4) >= sizeof(host) ||
		    config_parse_number(colon + 1, 0, 65535, &port) < 0 || port == 0) {
			snprintf(why, whylen, "connect: '%s' is not tcp:ADDRESS:PORT", value);
			return -1;
		}
		snprintf(host, sizeof(host), "%.*s", (int)(colon - value - 4), value + 4);
		struct sockaddr_in *sin = (struct sockaddr_in *)&pc->target;
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&pc->target;
		if (inet_pton(AF_INET, host, &sin->sin_addr) == 1 && (ntohl(sin->sin_addr.s_addr) >> 24) == 127) {
			sin->sin_family = AF_INET;
			sin->sin_port = htons((uint16_t)port);
			pc->target_len = sizeof(*sin);
		} else if (strcmp(host, "[::1]") == 0 || strcmp(host, "::1") == 0) {
			sin6->sin6_family = AF_INET6;
			sin6->sin6_addr = in6addr_loopback;
			sin6->sin6_port = htons((uint16_t)port);
			pc->target_len = sizeof(*sin6);
		} else {
			snprintf(why, whylen, "connect: %s is not a loopback address (127.0.0.0/8 or ::1)", host);
			return -1;
		}
		snprintf(pc->text, sizeof(pc->text), "%s", value);
		return 0;
	}
	struct udo_vsock_addr a;
	if (udo_vsock_addr_parse(&a, value, why, whylen) < 0)
		return -1;
	if (a.kind != UDO_VSOCK_ADDR_UNIX) {
		snprintf(why, whylen, "connect: the service must be unix:PATH or tcp:127.0.0.1:PORT");
		return -1;
	}
	struct sockaddr_un *su = (struct sockaddr_un *)&pc->target;
	size_t len = strlen(a.path);
	su->sun_family = AF_UNIX;
	memcpy(su->sun_path, a.path, len);
	if (a.path[0] == '@')
		su->sun_path[0] = '\0';
	pc->target_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (a.path[0] != '@'));
	snprintf(pc->text, sizeof(pc->text), "%s", value);
	return 0;
}

/* Takes the `connect`, `max-buffer` and `connect-timeout` options. */
static int proxy_set_option(struct command *cmd, const char *key, const char *value, char *why, size_t whylen)
{
	struct proxy_conf *pc = cmd->data;
	unsigned long long v;

	if (pc == NULL) {
		pc = calloc(1, sizeof(*pc));
		if (pc == NULL) {
			snprintf(why, whylen, "out of memory");
			return -1;
		}
		pc->max_buffer = 262144;
		pc->connect_timeout_ms = 5000;
		cmd->data = pc;
	}
	if (strcmp(key, "connect") == 0)
		return parse_target(pc, value, why, whylen);
	if (strcmp(key, "max-buffer") == 0) {
		if (config_parse_number(value, 0, 1ULL << 30, &v) < 0 || v < 4096) {
			snprintf(why, whylen, "max-buffer: '%s' is not a size from 4K to 1G", value);
			return -1;
		}
		pc->max_buffer = (size_t)v;
		return 0;
	}
	if (strcmp(key, "connect-timeout") == 0) {
		if (config_parse_number(value, 1, 600000, &v) < 0 || v == 0) {
			snprintf(why, whylen, "connect-timeout: '%s' is not a duration", value);
			return -1;
		}
		pc->connect_timeout_ms = (unsigned int)v;
		return 0;
	}
	snprintf(why, whylen, "handler 'proxy' has no option '%s'", key);
	return -1;
}

/* Requires the `connect` option. */
static int proxy_check(struct command *cmd, char *why, size_t whylen)
{
	const struct proxy_conf *pc = cmd->data;

	if (pc == NULL || pc->target_len == 0) {
		snprintf(why, whylen, "handler 'proxy' needs 'connect = unix:PATH' or 'connect = tcp:127.0.0.1:PORT'");
		return -1;
	}
	return 0;
}

/* Frees the proxy's service side; the client side is the connection's. */
static void proxy_release(void *arg)
{
	struct proxy *p = arg;

	if (p->service != NULL)
		bufferevent_free(p->service);
	free(p);
}

/* Ends the bridge: frees the connection, whose release frees the rest. */
static void proxy_end(struct proxy *p)
{
	conn_free(p->client);
}

/* The index of BEV: 0 for the client, 1 for the service. */
static int proxy_side(const struct proxy *p, const struct bufferevent *bev)
{
	return bev == p->service;
}

/* The bufferevent of side I. */
static struct bufferevent *proxy_bev(struct proxy *p, int i)
{
	return i == 0 ? p->client->bev : p->service;
}

/* Passes end of stream on: once side I's peer has sent everything and
 * all of it reached side I, shut side I's writing. Ends the bridge when
 * both directions are done. Returns 1 if it ended (P is gone). */
static int proxy_pass_eof(struct proxy *p)
{
	for (int i = 0; i < 2; i++) {
		struct bufferevent *bev = proxy_bev(p, i);
		if (p->eof[!i] && !p->shut[i] && evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
			shutdown(bufferevent_getfd(bev), SHUT_WR);
			p->shut[i] = 1;
		}
	}
	if (p->shut[0] && p->shut[1]) {
		proxy_end(p);
		return 1;
	}
	return 0;
}

/* Moves what BEV read to the other side; pauses BEV when that backs up. */
static void proxy_read_cb(struct bufferevent *bev, void *arg)
{
	struct proxy *p = arg;
	struct bufferevent *dst = proxy_bev(p, !proxy_side(p, bev));

	bufferevent_write_buffer(dst, bufferevent_get_input(bev));
	if (evbuffer_get_length(bufferevent_get_output(dst)) >= p->max_buffer) {
		/* Backpressure: read no more until DST has sent half of it. */
		bufferevent_disable(bev, EV_READ);
		bufferevent_setwatermark(dst, EV_WRITE, p->max_buffer / 2, 0);
	}
}

/* BEV drained to its low watermark: resume the side feeding it. */
static void proxy_write_cb(struct bufferevent *bev, void *arg)
{
	struct proxy *p = arg;
	int from = !proxy_side(p, bev);

	if (proxy_pass_eof(p))
		return;
	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	if (!p->eof[from])
		bufferevent_enable(proxy_bev(p, from), EV_READ);
}

/* End of stream or an error on one side. */
static void proxy_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct proxy *p = arg;
	int side = proxy_side(p, bev);

	if (what & BEV_EVENT_ERROR) {
		log_peer(LOG_LEVEL_DEBUG, p->client->peer.text, p->client->peer.cid, NULL, "proxy: %s side failed: %s",
		         side ? "service" : "client", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		proxy_end(p); /* a reset or failure: nothing more can be delivered */
		return;
	}
	if (!(what & BEV_EVENT_EOF))
		return;
	log_peer(LOG_LEVEL_DEBUG, p->client->peer.text, p->client->peer.cid, NULL, "proxy: %s side finished sending",
	         side ? "service" : "client");
	/* Half close: what it sent goes on, then the other side learns it ended. */
	proxy_read_cb(bev, p);
	p->eof[side] = 1;
	bufferevent_disable(bev, EV_READ);
	proxy_pass_eof(p);
}

/* The OK is sent: pump bytes both ways from now on. */
static void proxy_start(struct conn *c, void *arg)
{
	struct proxy *p = arg;

	p->client = c;
	bufferevent_setcb(c->bev, proxy_read_cb, proxy_write_cb, proxy_event_cb, p);
	bufferevent_setcb(p->service, proxy_read_cb, proxy_write_cb, proxy_event_cb, p);
	bufferevent_setwatermark(c->bev, EV_READ, 0, p->max_buffer);
	bufferevent_setwatermark(p->service, EV_READ, 0, p->max_buffer);
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	bufferevent_enable(p->service, EV_READ | EV_WRITE);
	/* Bytes the client sent after its request go first. */
	if (c->in_len > 0 && bufferevent_write(p->service, c->in, c->in_len) < 0) {
		log_peer(LOG_LEVEL_WARNING, c->peer.text, c->peer.cid, NULL, "proxy: out of memory");
		conn_free(c); /* releases P */
		return;
	}
	log_peer(LOG_LEVEL_INFO, c->peer.text, c->peer.cid, NULL, "proxying");
}

/* Connection to the service done (or failed): answer the request. */
static void proxy_connect_cb(struct bufferevent *bev, short what, void *arg)
{
	struct proxy *p = arg;
	struct request *req = p->req;

	p->req = NULL;
	req->state = NULL;
	if (what & BEV_EVENT_CONNECTED) {
		bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
		bufferevent_disable(bev, EV_READ);
		bufferevent_set_timeouts(bev, NULL, NULL);
		request_bridge(req, proxy_start, proxy_release, p);
		request_ok(req, "proxy");
		return;
	}
	log_peer(LOG_LEVEL_WARNING, req->peer->text, req->peer->cid, req->cmd->name, "proxy: cannot reach %s: %s",
	         ((const struct proxy_conf *)req->cmd->data)->text,
	         (what & BEV_EVENT_TIMEOUT) ? "timed out" : evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	proxy_release(p);
	request_err(req, (what & BEV_EVENT_TIMEOUT) ? PROTO_ERR_TIMEOUT : PROTO_ERR_UNAVAILABLE,
	            "the service is not reachable");
}

/* Starts connecting to the service; the reply waits for the outcome. */
static void proxy_run(struct request *req)
{
	const struct proxy_conf *pc = req->cmd->data;
	struct proxy *p = calloc(1, sizeof(*p));

	if (p == NULL) {
		request_err(req, PROTO_ERR_INTERNAL, "out of memory");
		return;
	}
	p->req = req;
	p->max_buffer = pc->max_buffer;
	p->service = bufferevent_socket_new(req->server->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (p->service == NULL) {
		free(p);
		request_err(req, PROTO_ERR_INTERNAL, "out of memory");
		return;
	}
	struct timeval tv = {pc->connect_timeout_ms / 1000, (pc->connect_timeout_ms % 1000) * 1000};
	bufferevent_setcb(p->service, NULL, NULL, proxy_connect_cb, p);
	bufferevent_set_timeouts(p->service, &tv, &tv);
	req->state = p;
	/* On an immediate failure libevent may already have run
	 * proxy_connect_cb, which answered and cleared req->state. */
	if (bufferevent_socket_connect(p->service, (struct sockaddr *)&pc->target, (int)pc->target_len) < 0 &&
	    req->state == p) {
		req->state = NULL;
		proxy_release(p);
		request_err(req, PROTO_ERR_UNAVAILABLE, "the service is not reachable");
	}
}

/* The client went away while we were connecting. */
static void proxy_cancel(struct request *req)
{
	struct proxy *p = req->state;

	if (p != NULL) {
		req->state = NULL;
		proxy_release(p);
	}
	request_finish_cancelled(req);
}

const struct handler_kind handler_proxy = {
    .name = "proxy",
    .min_args = 0,
    .max_args = 0,
    .usage = "",
    .summary = "turn this connection into a byte stream to a local service",
    .set_option = proxy_set_option,
    .check = proxy_check,
    .run = proxy_run,
    .cancel = proxy_cancel,
    .free_data = free,
};
