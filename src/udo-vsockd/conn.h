/* conn.h - one client connection: lines in, replies out */
#ifndef UDO_VSOCKD_CONN_H
#define UDO_VSOCKD_CONN_H

#include <stdint.h>
#include <sys/socket.h>

#include "handler.h"
#include "server.h"

struct evbuffer;

/* Receives a connection being handed away: FD is the client's socket
 * (still the connection's: dup or pass it before returning), PENDING the
 * input read but not handled. FD is -1 if the connection failed first:
 * then only release ARG. */
typedef void (*conn_detach_fn)(int fd, struct evbuffer *pending, const struct peer *peer, void *arg);

struct conn {
	struct server *server;
	struct bufferevent *bev;
	struct config *config; /* limits in force when accepted (a reference) */
	struct peer peer;
	char peer_key[80];     /* key in the per-peer counts */
	struct request req;    /* the request being answered, if req_active */
	int req_active;
	int in_run;            /* inside a handler's run() */
	int closing;           /* no more requests; free once output is flushed */
	int output_paused;     /* too much unread output: requests wait */
	int eof;               /* the client shut down its sending side */
	uint64_t line_started; /* monotonic ms the unfinished line began; 0: none */
	struct event *resume;  /* handles more lines on a later loop turn */
	conn_detach_fn detach_fn; /* called once replies are flushed, before freeing */
	void *detach_arg;
	/* A bridge takes over the bufferevent once replies are flushed and
	 * keeps the connection (and its place in the limits) until it ends. */
	void (*bridge_start)(struct conn *c, void *arg);
	void (*bridge_release)(void *arg);
	void *bridge_arg;
	int bridged;
	struct conn *prev, *next;
};

/* Takes over an accepted FD from listener L. Never fails: on error the
 * fd is closed and the reason logged. */
void conn_accept(struct listener *l, int fd, const struct sockaddr *sa, int socklen);

/* Writes C's pending replies now, as far as the socket takes them; the
 * rest goes when it is writable. */
void conn_flush(struct conn *c);

/* Stops reading requests and frees C once its replies are sent. */
void conn_close_after_flush(struct conn *c);

/* Frees C now, cancelling its request if one is running. */
void conn_free(struct conn *c);

/* (Re)arms S's line-timeout sweep for the line-timeout in force: one
 * daemon-wide timer, not one per connection. Returns 0, or -1 if the
 * timer cannot be set up (then no line is ever cut). */
int conn_line_sweep_arm(struct server *s);

/* Called by the request_* functions when C's request has finished. */
void conn_request_done(struct conn *c);

#endif /* UDO_VSOCKD_CONN_H */
