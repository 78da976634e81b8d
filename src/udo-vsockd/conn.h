/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* conn.h - one client connection: lines in, replies out */
#ifndef UDO_VSOCKD_CONN_H
#define UDO_VSOCKD_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "handler.h"
#include "log.h"
#include "server.h"

struct bufferevent;
struct evbuffer;

/* Receives a connection being handed away: FD is the client's socket
 * (still the connection's: dup or pass it before returning), PENDING the
 * PENDING_LEN bytes of input read but not handled. FD is -1 if the
 * connection failed first: then only release ARG. */
typedef void (*conn_detach_fn)(int fd, const char *pending, size_t pending_len, const struct peer *peer, void *arg);

/*
 * The socket is served with plain events, not a bufferevent: a read turn
 * reads into the daemon's shared line buffer, handles the complete lines
 * in place and keeps only an unfinished rest (IN); replies of that turn
 * are gathered in the shared stage and written with one send. Only what
 * the socket does not take waits in OUT. An idle connection thus holds
 * no buffer memory, and a request costs no buffer callbacks.
 */
struct conn {
	struct server *server;
	int fd;
	struct event *rev;    /* readable: added while requests are read */
	struct event *wev;    /* writable: added while OUT waits for the socket */
	struct evbuffer *out; /* replies the socket has not taken yet */
	char *in;             /* input read but not handled (malloc'd; NULL when none) */
	size_t in_off;        /* ... from IN + IN_OFF (0 once replies are flushed) */
	size_t in_len, in_size;
	int reading;             /* REV is added */
	int writing;             /* WEV is added */
	int broken;              /* a write failed: free at the next safe point */
	int flush_soon;          /* WEV is active to write at the end of this turn */
	int input_seen;          /* bytes read since the last timeout sweep */
	uint64_t last_input_ms;  /* uptime the last input was noted (idle-timeout) */
	uint64_t write_wait_ms;  /* uptime OUT last made progress while waiting */
	struct bufferevent *bev; /* a bridge's, once bridged (fd still ours) */
	struct config *config;   /* the config in force (a reference; a reload swaps it) */
	struct peer peer;
	char peer_key[80];                 /* key in the per-peer counts */
	uint32_t peer_hash;                /* util_fnv1a(peer_key) */
	struct metrics_peer *metrics_peer; /* its peer's counters, found at its first request (metrics.c) */
	struct request req;                /* the request being answered, if req_active */
	int req_active;
	int closing;               /* no more requests; free once output is flushed */
	int output_paused;         /* too much unread output: requests wait */
	int memory_paused;         /* over its share of max-buffered: requests wait */
	size_t held;               /* OUT and IN bytes counted in server->buffered */
	int more_lines;            /* the last turn stopped at commands-per-read */
	struct run_peer *run_peer; /* waiting for a turn in this peer's queue; NULL: not */
	struct conn *run_prev, *run_next;
	int eof;                  /* the client shut down its sending side */
	uint64_t line_started;    /* monotonic ms the unfinished line began; 0: none */
	struct event *resume;     /* handles more lines on a later loop turn */
	conn_detach_fn detach_fn; /* called once replies are flushed, before freeing */
	void *detach_arg;
	/* A bridge gets a bufferevent on the socket once replies are flushed
	 * and keeps the connection (and its place in the limits) until it ends. */
	void (*bridge_start)(struct conn *c, void *arg);
	void (*bridge_release)(void *arg);
	void *bridge_arg;
	int bridged;
	struct conn *prev, *next;
};

/* Takes over an accepted FD from listener L. Never fails: on error the
 * fd is closed and the reason logged. */
void conn_accept(struct listener *l, int fd, const struct sockaddr *sa, int socklen);

/* Appends LEN bytes of reply DATA to C's output. Never fails: without
 * memory the connection is marked broken and closed at the next safe point. */
void conn_write(struct conn *c, const void *data, size_t len);

/* Marks C broken (a write failed or memory ran out), logging WHY at
 * LEVEL: its output is dropped and it is freed from the event loop,
 * never from inside a handler's call. */
void conn_break(struct conn *c, enum log_level level, const char *why);

/* Writes C's pending replies now, as far as the socket takes them; the
 * rest goes when it is writable. */
void conn_flush(struct conn *c);

/* Writes C's pending replies at the end of this loop turn, once however
 * often it is asked: a handler streaming many lines from one callback
 * costs one write, not one per line. */
void conn_flush_soon(struct conn *c);

/* Stops reading requests and frees C once its replies are sent. */
void conn_close_after_flush(struct conn *c);

/* Frees C now, cancelling its request if one is running. */
void conn_free(struct conn *c);

/* (Re)arms S's timeout sweep for the idle-timeout and line-timeout in
 * force: one daemon-wide timer, not one per connection, checking every
 * quarter of the shorter (at least every 100 ms, at most every half
 * second; it also frees connections whose client has gone while they
 * were not read, cancelling their request). Returns 0, or -1 if
 * the timer cannot be set up (then no connection is ever timed out). */
int conn_sweep_arm(struct server *s);

/* C's key in the per-peer counts and logs ("cid:N", "unix:IDENTITY"),
 * and its util_fnv1a() in *HASH. */
const char *conn_peer_key(const struct conn *c, uint32_t *hash);

/* Called by the request_* functions when C's pending request (run()
 * returned REQ_PENDING) has finished. */
void conn_request_done(struct conn *c);

#endif /* UDO_VSOCKD_CONN_H */
