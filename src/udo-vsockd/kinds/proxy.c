/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kinds/proxy.c - the `proxy` handler: bridge the connection to a local
 * unix or loopback TCP service, a byte pump with backpressure */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "../conf.h"
#include "../conn.h"
#include "../handler.h"
#include "../log.h"
#include "../proto.h"
#include "../request.h"
#include "../server.h"
#include "../util.h"

/* Bytes one read of a bridge asks for at most (max-buffer bounds it too). */
#define PROXY_CHUNK (256 * 1024)

/* The most a bridge's pipe holds (max-buffer bounds it too): 1 MiB is
 * the default /proc/sys/fs/pipe-max-size, what anyone may ask for. */
#define PROXY_PIPE_MAX (1024 * 1024)

/* Reads of one side per loop turn at most, while each fills its ask. */
#define PROXY_READS_PER_TURN 4

/* How often a bridge checks its idle time and its paused sides (ms). */
#define PROXY_TICK_MS 500

/* idle_ms: take the daemon's idle-timeout in force. */
#define PROXY_IDLE_DAEMON UINT_MAX

/* The bridges' shared read buffer (one thread: one turn uses it at a
 * time), held while any bridge is open. */
static char *proxy_scratch;
static unsigned int proxy_bridges;

/* A command's options. */
struct proxy_conf {
	struct sockaddr_storage target;
	socklen_t target_len;
	char text[UDO_VSOCK_ADDR_STRLEN];
	size_t max_buffer; /* bytes queued per direction before reading stops */
	unsigned int connect_timeout_ms;
	unsigned int idle_ms; /* PROXY_IDLE_DAEMON unless set */
};

/* One proxied connection. Side 0 is the client, side 1 the service;
 * direction i carries the bytes side i sends. */
struct proxy {
	struct request *req;         /* while connecting; NULL after */
	struct conn *client;         /* once bridged */
	struct bufferevent *service; /* connects, then owns the service's socket */
	size_t max_buffer;
	unsigned int idle_ms;
	int unix_service; /* the service is on a unix socket */
	int counted;      /* in proxy_bridges */
	int fd[2];
	struct event *rev[2], *wev[2]; /* side i readable, writable */
	int reading[2], writing[2];    /* rev[i], wev[i] are added */
	struct evbuffer *queue[2];     /* read from side i, not yet taken by the other */
	int pipe[2][2];                /* direction i's pipe for splice(2); -1 until made */
	size_t piped[2];               /* bytes of direction i in its pipe */
	int no_splice[2];              /* direction i copies: no pipe, or splice refused */
	uint64_t moved[2];             /* bytes of direction i delivered */
	uint64_t moved_at_tick;        /* moved[0] at the last tick */
	int activity;                  /* a byte moved since the last tick */
	uint64_t last_activity_ms;     /* uptime of the last tick that saw activity */
	struct event *tick;
	int eof[2];  /* side i has sent everything */
	int shut[2]; /* side i was told so with shutdown(SHUT_WR) */
};

/* `connect`: "unix:PATH", "unix:@NAME" or "tcp:ADDR:PORT" (loopback only). */
static int proxy_connect(const struct option_spec *spec, void *target, void *ctx, const char *value, char *why,
                         size_t whylen)
{
	struct proxy_conf *pc = target;

	memset(&pc->target, 0, sizeof(pc->target));
	if (strncmp(value, "tcp:", 4) == 0) {
		char host[64];
		const char *colon = strrchr(value + 4, ':');
		unsigned long long port;
		if (colon == NULL || (size_t)(colon - value - 4) >= sizeof(host) ||
		    util_parse_size(colon + 1, 1, 65535, &port) < 0) {
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
	if (udo_vsock_addr_to_sockaddr(&a, &pc->target, &pc->target_len) < 0) {
		snprintf(why, whylen, "connect: '%s': %s", value, strerror(errno));
		return -1;
	}
	snprintf(pc->text, sizeof(pc->text), "%s", value);
	return 0;
}

/* The proxy conf of CMD, made with the defaults on first use; NULL when
 * out of memory. */
static void *proxy_get_data(struct command *cmd)
{
	struct proxy_conf *pc = cmd->data;

	if (pc == NULL && (pc = calloc(1, sizeof(*pc))) != NULL) {
		pc->max_buffer = 262144;
		pc->connect_timeout_ms = 5000;
		pc->idle_ms = PROXY_IDLE_DAEMON;
		cmd->data = pc;
	}
	return pc;
}

/* Writes `connect` as it was given. */
static void proxy_connect_format(const struct option_spec *spec, const void *target, const void *ctx, FILE *out)
{
	const struct proxy_conf *pc = target;

	if (pc->target_len == 0)
		option_format_unset(spec->name, out);
	else
		fprintf(out, "%s = %s\n", spec->name, pc->text);
}

/* The options of a proxy command. */
static const struct option_spec proxy_options[] = {
    OPTION_CUSTOM("connect", proxy_connect, proxy_connect_format),
    OPTION("max-buffer", OPT_SIZE, 4096, 1ULL << 30, struct proxy_conf, max_buffer, NULL),
    OPTION("connect-timeout", OPT_DURATION, 1, 600000, struct proxy_conf, connect_timeout_ms, NULL),
    OPTION("idle-timeout", OPT_DURATION, 0, 86400000, struct proxy_conf, idle_ms, NULL),
    OPTION_END,
};

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

/* Closes direction I's pipe, if it has one; what it held is dropped. */
static void proxy_pipe_close(struct proxy *p, int i)
{
	for (int k = 0; k < 2; k++) {
		if (p->pipe[i][k] >= 0)
			close(p->pipe[i][k]);
		p->pipe[i][k] = -1;
	}
	p->piped[i] = 0;
}

/* Frees the proxy's service side and events; the client's socket is
 * the connection's. */
static void proxy_release(void *arg)
{
	struct proxy *p = arg;

	for (int i = 0; i < 2; i++) {
		if (p->rev[i] != NULL)
			event_free(p->rev[i]);
		if (p->wev[i] != NULL)
			event_free(p->wev[i]);
		if (p->queue[i] != NULL)
			evbuffer_free(p->queue[i]);
		proxy_pipe_close(p, i);
	}
	if (p->tick != NULL)
		event_free(p->tick);
	if (p->counted && --proxy_bridges == 0) {
		free(proxy_scratch); /* an idle daemon holds no bridge memory */
		proxy_scratch = NULL;
	}
	if (p->service != NULL)
		bufferevent_free(p->service);
	free(p);
}

/* Ends the bridge, saying WHY at debug level (or at info when INFO):
 * frees the connection, whose release frees the rest. */
static void proxy_end(struct proxy *p, int info, const char *why)
{
	const struct peer *peer = conn_peer(p->client);

	log_peer(info ? LOG_LEVEL_INFO : LOG_LEVEL_DEBUG, peer->text, peer->cid, NULL, "proxy: %s", why);
	conn_free(p->client);
}

/* Watches side I for input (ON) or stops (off); no-op when unchanged. */
static void proxy_set_reading(struct proxy *p, int i, int on)
{
	if (on == p->reading[i])
		return;
	if (on)
		event_add(p->rev[i], NULL);
	else
		event_del(p->rev[i]);
	p->reading[i] = on;
}

/* Watches side I for room to write (ON) or stops; no-op when unchanged. */
static void proxy_set_writing(struct proxy *p, int i, int on)
{
	if (on == p->writing[i])
		return;
	if (on)
		event_add(p->wev[i], NULL);
	else
		event_del(p->wev[i]);
	p->writing[i] = on;
}

/* Bytes of direction I the daemon holds: its queue and its pipe. */
static size_t proxy_pending(const struct proxy *p, int i)
{
	return evbuffer_get_length(p->queue[i]) + p->piped[i];
}

/* Counts what P holds, both ways, in max-buffered as its client
 * connection's. Returns how many more bytes it may take now (0: it
 * reads no more until what it holds goes down; conn_bridge_hold). */
static size_t proxy_account(struct proxy *p)
{
	return conn_bridge_hold(p->client, proxy_pending(p, 0) + proxy_pending(p, 1));
}

/* Passes end of stream on: once side I's peer has sent everything and
 * all of it reached side I, shut side I's writing. Ends the bridge when
 * both directions are done. Returns 1 if it ended (P is gone). */
static int proxy_pass_eof(struct proxy *p)
{
	for (int i = 0; i < 2; i++) {
		if (p->eof[!i] && !p->shut[i] && proxy_pending(p, !i) == 0) {
			shutdown(p->fd[i], SHUT_WR);
			p->shut[i] = 1;
		}
	}
	if (p->shut[0] && p->shut[1]) {
		proxy_end(p, 0, "both sides finished");
		return 1;
	}
	return 0;
}

/* True for a send or receive failure that is only a wait. */
static int proxy_would_block(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

/* Ends the bridge after side I failed with errno ERR. */
static void proxy_fail(struct proxy *p, int i, int err)
{
	char why[96];

	snprintf(why, sizeof(why), "%s side failed: %s", i ? "service" : "client", strerror(err));
	proxy_end(p, 0, why);
}

/* True if direction I moves through its pipe now: splice(2) takes a
 * copy out (the kernel hands the pipe's pages to a unix or TCP socket),
 * and nothing waits in its queue, which goes first. The pipe is made on
 * first use, at most max-buffer (and PROXY_PIPE_MAX) large; without one
 * (fds past half the limit, say) direction I copies. */
static int proxy_splicing(struct proxy *p, int i)
{
	if (p->no_splice[i] || evbuffer_get_length(p->queue[i]) > 0)
		return 0;
	if (p->pipe[i][0] >= 0)
		return 1;
	static int fd_cap;
	struct rlimit rl;
	if (fd_cap == 0)
		fd_cap = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < INT_MAX ? (int)(rl.rlim_cur / 2) : INT_MAX;
	/* Pipes take only the lower half of the fds: the rest stays for connections. */
	if (pipe2(p->pipe[i], O_CLOEXEC | O_NONBLOCK) < 0 || p->pipe[i][1] >= fd_cap) {
		proxy_pipe_close(p, i);
		p->no_splice[i] = 1;
		return 0;
	}
	size_t size = p->max_buffer < PROXY_PIPE_MAX ? p->max_buffer : PROXY_PIPE_MAX;
	(void)fcntl(p->pipe[i][1], F_SETPIPE_SZ, (int)size); /* refused: the default size stays */
	return 1;
}

/* True if FD has input waiting: a splice from it that would block
 * then blocks on the pipe, not on FD. */
static int proxy_readable(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	return poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN) != 0;
}

/* Sends side !I what direction I's pipe holds, as much as it takes.
 * Returns 0, or -1 when side !I failed (errno set). */
static int proxy_pipe_flush(struct proxy *p, int i)
{
	while (p->piped[i] > 0) {
		ssize_t w =
		    splice(p->pipe[i][0], NULL, p->fd[!i], NULL, p->piped[i], SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (w < 0)
			return proxy_would_block(errno) ? 0 : -1;
		if (w == 0)
			return 0;
		p->piped[i] -= (size_t)w;
		p->moved[i] += (uint64_t)w;
	}
	return 0;
}

/* Side I is readable: moves what it sent to the other side. The bytes
 * are spliced into direction I's pipe, or read into one shared buffer,
 * and sent on at once; only what the other side does not take waits in
 * the pipe or in QUEUE[I], at most max-buffer bytes, and reading I stops
 * while that is full. A few reads per turn, while they fill what was
 * asked, so other connections get their turn. */
static void proxy_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proxy *p = arg;
	int i = fd == p->fd[0] ? 0 : 1;
	struct evbuffer *q = p->queue[i];
	int dst = p->fd[!i];

	for (int turn = 0; turn < PROXY_READS_PER_TURN; turn++) {
		size_t room = proxy_account(p);
		if (room == 0) {
			proxy_set_reading(p, i, 0); /* the daemon holds too much: its write callback resumes */
			break;
		}
		size_t queued = proxy_pending(p, i);
		size_t want = p->max_buffer - queued < PROXY_CHUNK ? p->max_buffer - queued : PROXY_CHUNK;
		if (want > room)
			want = room;
		if (want == 0) {
			proxy_set_reading(p, i, 0); /* full: the write callback resumes */
			break;
		}
		int spliced = proxy_splicing(p, i);
		ssize_t n = -1;
		if (spliced) {
			n = splice(fd, NULL, p->pipe[i][1], NULL, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n < 0 && (errno == EINVAL || errno == ENOSYS) && p->piped[i] == 0) {
				proxy_pipe_close(p, i); /* this socket cannot splice: copy */
				p->no_splice[i] = 1;
				spliced = 0;
			} else if (n < 0 && proxy_would_block(errno) && p->piped[i] > 0 && proxy_readable(fd)) {
				/* Input waits, so the pipe is full (a splice takes whole
				 * pages): wait for the other side to take some. */
				proxy_set_reading(p, i, 0);
				break;
			}
		}
		if (!spliced) {
			if (proxy_scratch == NULL && (proxy_scratch = malloc(PROXY_CHUNK)) == NULL) {
				proxy_end(p, 1, "out of memory for the bridge");
				return;
			}
			n = recv(fd, proxy_scratch, want, 0);
		}
		if (n == 0) {
			/* Half close: what it sent goes on, then the other side learns it ended. */
			p->eof[i] = 1;
			proxy_set_reading(p, i, 0);
			proxy_pass_eof(p); /* may free P */
			return;
		}
		if (n < 0) {
			if (proxy_would_block(errno))
				break;
			proxy_fail(p, i, errno);
			return;
		}
		p->activity = 1;
		if (spliced) {
			p->piped[i] += (size_t)n;
			if (proxy_pipe_flush(p, i) < 0) {
				proxy_fail(p, !i, errno);
				return;
			}
			if (p->piped[i] > 0) {
				proxy_set_writing(p, !i, 1);
				if (p->piped[i] >= p->max_buffer) {
					proxy_set_reading(p, i, 0); /* backpressure, as below */
					break;
				}
			}
			if ((size_t)n < want)
				break;
			continue;
		}
		size_t sent = 0;
		if (queued == 0) {
			ssize_t w = send(dst, proxy_scratch, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w < 0 && !proxy_would_block(errno)) {
				proxy_fail(p, !i, errno);
				return;
			}
			sent = w > 0 ? (size_t)w : 0;
			p->moved[i] += sent;
		}
		if (sent < (size_t)n) {
			if (evbuffer_add(q, proxy_scratch + sent, (size_t)n - sent) < 0) {
				proxy_end(p, 1, "out of memory for the bridge");
				return;
			}
			proxy_set_writing(p, !i, 1);
			if (evbuffer_get_length(q) >= p->max_buffer) {
				/* Backpressure: read no more until the other side took half. */
				proxy_set_reading(p, i, 0);
				break;
			}
		}
		if ((size_t)n < want)
			break; /* most likely all there was */
	}
	if (proxy_account(p) == 0)
		proxy_set_reading(p, i, 0); /* over its share of max-buffered */
}

/* Side J can take more: sends it what waits for it, the queue's bytes
 * and then the pipe's; resumes reading the other side once half of
 * max-buffer is gone. */
static void proxy_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proxy *p = arg;
	int j = fd == p->fd[0] ? 0 : 1;
	struct evbuffer *q = p->queue[!j];
	int n = evbuffer_get_length(q) > 0 ? evbuffer_write(q, fd) : 0;

	if (n < 0 && !proxy_would_block(errno)) {
		proxy_fail(p, j, errno);
		return;
	}
	if (n > 0) {
		p->moved[!j] += (uint64_t)n;
		p->activity = 1;
	}
	if (evbuffer_get_length(q) == 0 && p->piped[!j] > 0) {
		uint64_t before = p->moved[!j];
		if (proxy_pipe_flush(p, !j) < 0) {
			proxy_fail(p, j, errno);
			return;
		}
		p->activity |= p->moved[!j] != before;
	}
	size_t left = proxy_pending(p, !j);
	int over = proxy_account(p) == 0;
	if (left == 0) {
		proxy_set_writing(p, j, 0);
		if (proxy_pass_eof(p))
			return;
	}
	/* Reading resumes once half of max-buffer is gone, on either side,
	 * since either may have stopped for the daemon-wide bound. */
	for (int k = 0; k < 2 && !over; k++) {
		if (!p->eof[k] && proxy_pending(p, k) <= p->max_buffer / 2)
			proxy_set_reading(p, k, 1);
	}
}

/* True if the peer on side I of P can no longer receive: it closed its
 * socket or it failed. A unix or TCP socket polls hang-up or an error;
 * a vsock socket does neither while input waits unread in it (a paused
 * side), but then refuses an empty send with EPIPE (which transmits
 * nothing). Never true for a peer that only shut down its sending. */
static int proxy_side_gone(const struct proxy *p, int i)
{
	int fd = p->fd[i];
	struct pollfd pfd = {.fd = fd, .events = 0};

	if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLHUP | POLLERR)) != 0)
		return 1;
	return send(fd, "", 0, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
	       (errno == EPIPE || errno == ENOTCONN || errno == ECONNRESET);
}

/* The bridge's timer: ends it when no byte moved either way for the idle
 * timeout, or when a side whose input is not watched (paused, or after
 * its end of stream) is gone, since its close would never be seen
 * otherwise: the service once everything it sent has reached the client;
 * the client once what it sent no longer moves on (a service that reads
 * it still gets it), as nothing can reach it any more. */
static void proxy_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proxy *p = arg;
	struct server *s = conn_server(p->client);
	uint64_t now = server_uptime_ms(s);
	unsigned int idle = p->idle_ms != PROXY_IDLE_DAEMON ? p->idle_ms : s->config->limits.idle_timeout_ms;
	int stalled = p->moved[0] == p->moved_at_tick;

	p->moved_at_tick = p->moved[0];
	if (p->activity) {
		p->activity = 0;
		p->last_activity_ms = now;
	}
	for (int i = 0; i < 2; i++) {
		/* A side that owes the other bytes, or whose bytes still flow, stays. */
		if (p->reading[i] || p->shut[i] || !(p->shut[!i] || (i == 0 && stalled)) || !proxy_side_gone(p, i))
			continue;
		proxy_end(p, 1, i ? "the service left; closing the bridge" : "the client left; closing the bridge");
		return;
	}
	if (idle > 0 && now - p->last_activity_ms >= idle) {
		char why[80];
		snprintf(why, sizeof(why), "no bytes either way for %u ms; closing the bridge", idle);
		proxy_end(p, 1, why);
	}
}

/* The OK is sent: pump bytes both ways from now on. */
static void proxy_start(struct conn *c, void *arg)
{
	struct proxy *p = arg;
	struct server *s = conn_server(c);
	const struct peer *peer = conn_peer(c);
	struct event_base *base = s->base;
	unsigned int idle = p->idle_ms != PROXY_IDLE_DAEMON ? p->idle_ms : s->config->limits.idle_timeout_ms;
	size_t in_len;
	const char *in = conn_unhandled_input(c, &in_len);
	unsigned int every = idle == 0 || idle / 4 > PROXY_TICK_MS ? PROXY_TICK_MS : idle / 4 < 100 ? 100 : idle / 4;
	struct timeval tv = util_timeval_ms(every);
	int ok = 1;

	p->client = c;
	p->counted = 1;
	proxy_bridges++;
	/* The pump uses plain events: a bufferevent reads at most 4 KiB a
	 * turn (libevent 2.1), which costs a loop turn per 4 KiB. */
	p->fd[0] = conn_fd(c);
	p->fd[1] = bufferevent_getfd(p->service);
	if (p->unix_service) {
		/* The default unix send buffer (wmem_default, about 208 KiB) is
		 * less than one read: every read would end in a partial send and
		 * a wait for room. Ask for a read's worth; the kernel doubles it,
		 * up to twice wmem_max. TCP tunes its own; setting it would stop that. */
		int size = PROXY_CHUNK;
		(void)setsockopt(p->fd[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	}
	for (int i = 0; i < 2; i++) {
		p->rev[i] = event_new(base, p->fd[i], EV_READ | EV_PERSIST, proxy_read_cb, p);
		p->wev[i] = event_new(base, p->fd[i], EV_WRITE | EV_PERSIST, proxy_write_cb, p);
		p->queue[i] = evbuffer_new();
		ok = ok && p->rev[i] != NULL && p->wev[i] != NULL && p->queue[i] != NULL;
	}
	p->tick = event_new(base, -1, EV_PERSIST, proxy_tick_cb, p);
	p->last_activity_ms = server_uptime_ms(s);
	/* Bytes the client sent after its request go first. */
	if (!ok || p->tick == NULL || event_add(p->tick, &tv) < 0 ||
	    (in_len > 0 && evbuffer_add(p->queue[0], in, in_len) < 0)) {
		log_peer(LOG_LEVEL_WARNING, peer->text, peer->cid, NULL, "proxy: out of memory");
		conn_free(c); /* releases P */
		return;
	}
	if (in_len > 0)
		proxy_set_writing(p, 1, 1);
	int over = proxy_account(p) == 0;
	proxy_set_reading(p, 0, evbuffer_get_length(p->queue[0]) < p->max_buffer && !over);
	proxy_set_reading(p, 1, !over);
	log_peer(LOG_LEVEL_INFO, peer->text, peer->cid, NULL, "proxying");
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
		bufferevent_disable(bev, EV_READ | EV_WRITE);
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
static enum req_status proxy_run(struct request *req)
{
	const struct proxy_conf *pc = req->cmd->data;
	struct proxy *p = calloc(1, sizeof(*p));

	if (p == NULL) {
		request_err(req, PROTO_ERR_INTERNAL, "out of memory");
		return REQ_DONE;
	}
	p->req = req;
	p->pipe[0][0] = p->pipe[0][1] = p->pipe[1][0] = p->pipe[1][1] = -1;
	p->max_buffer = pc->max_buffer;
	p->idle_ms = pc->idle_ms;
	p->unix_service = pc->target.ss_family == AF_UNIX;
	p->service = bufferevent_socket_new(req->server->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (p->service == NULL) {
		free(p);
		request_err(req, PROTO_ERR_INTERNAL, "out of memory");
		return REQ_DONE;
	}
	struct timeval tv = util_timeval_ms(pc->connect_timeout_ms);
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
	return request_outcome(req); /* proxy_connect_cb answers, maybe already */
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
    .options = proxy_options,
    .get_data = proxy_get_data,
    .check = proxy_check,
    .run = proxy_run,
    .cancel = proxy_cancel,
    .free_data = free,
};
