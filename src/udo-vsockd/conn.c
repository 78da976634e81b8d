/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* conn.c - one client connection: lines in, replies out */
#include "conn.h"

#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <linux/vm_sockets.h>
#include <sys/un.h>

#include "conf.h"
#include "dispatch.h"
#include "handler.h"
#include "log.h"
#include "peers-dir.h"
#include "proto.h"
#include "ratelimit.h"
#include "server.h"
#include "util.h"

/* Reply bytes one read turn gathers in the shared stage before sending. */
#define CONN_STAGE_SIZE 65536

/* Connections the timeout sweep cuts in one loop turn at most. */
#define CONN_SWEEP_BATCH 64

/* Input the daemon reads ahead beyond one request line (see max-line-length). */
#define CONN_READ_AHEAD 65536

/* Bytes freed by connections' buffers after which the sweep gives free
 * heap back to the kernel: a flood's replies are many small chunks, which
 * free() alone keeps in the process. */
#define CONN_TRIM_AFTER (1024 * 1024)

/* Microseconds of turns one run of the queue of busy connections takes
 * at most before the loop polls the sockets again. */
#define CONN_RUN_BUDGET_US 2000

/* How much a turn reads: nothing, a first bite straight from the read
 * event (a request is small; a flood of a hundred connections readable
 * at once must not cost a hundred full reads before anything else), or
 * up to the buffer's room in a turn of the run queue. */
enum conn_read { CONN_READ_NONE, CONN_READ_BITE, CONN_READ_FULL };
#define CONN_BITE 4096

/*
 * What a connection does: one state, written only by conn_set_state().
 * What it reads, which events are armed and what the timeout sweep checks
 * all follow from it (conn_update_reading, conn_sweep_rules), memcached's
 * drive_machine shape. There is no "handed-off" state: a hand-off
 * (request_detach) happens as a DRAINING connection's replies are out,
 * and the connection is freed in the same call (conn_finish).
 */
enum conn_state {
	/* Requests are read and handled: the read event is armed unless
	 * input ended (EOF) or C waits in the run queue. A request answered
	 * inside its run() never leaves this state: the turn goes on with
	 * the next line. */
	CONN_READING = 0, /* calloc's: a new connection reads */
	/* A request awaits its answer from the event loop (run() returned
	 * REQ_PENDING): nothing is read until conn_request_done. */
	CONN_RUNNING,
	/* As RUNNING, and the connection drains once the answer is out: the
	 * request asked to close, hand off or bridge, or the daemon asked to
	 * close while it ran (reload, peers-dir, stop). */
	CONN_RUNNING_LAST,
	/* Too much unread output (max-output-buffer): requests wait until
	 * the client has read half of it (conn_write_cb). */
	CONN_PAUSED_OUTPUT,
	/* Over its share of max-buffered: requests wait until the daemon
	 * holds less (conn_account, conn_memory_wake, the sweep). Counted in
	 * server->memory_paused. */
	CONN_PAUSED_MEMORY,
	/* No more requests: freed, handed off or bridged (conn_finish) once
	 * its replies are out. */
	CONN_DRAINING,
	/* A bridge (proxy) owns the socket; it times itself out and ends C
	 * with conn_free(). Neither event is armed. */
	CONN_BRIDGED,
	/* Broken (a write failed, memory ran out): its output is dropped and
	 * it is freed at the next safe point, from the event loop (its resume
	 * event is active), never inside a handler's call. */
	CONN_CLOSING,
};

/* State names for the debug log, by enum conn_state. */
static const char *const conn_state_names[] = {
    [CONN_READING] = "reading",
    [CONN_RUNNING] = "running",
    [CONN_RUNNING_LAST] = "running-last",
    [CONN_PAUSED_OUTPUT] = "paused-output",
    [CONN_PAUSED_MEMORY] = "paused-memory",
    [CONN_DRAINING] = "draining",
    [CONN_BRIDGED] = "bridged",
    [CONN_CLOSING] = "closing",
};

/*
 * The socket is served with plain events, not a bufferevent: a read turn
 * reads into the daemon's shared line buffer, handles the complete lines
 * in place and keeps only an unfinished rest (IN); replies of that turn
 * are gathered in the shared stage and written with one send. Only what
 * the socket does not take waits in OUT. An idle connection thus holds
 * no buffer memory, and a request costs no buffer callbacks.
 *
 * Besides STATE, a few facts are kept that are not states, because they
 * hold across several states and folding them in would multiply them:
 * READING and WRITING mirror which events are added (libevent's own
 * record costs a call), FLUSH_SOON a write event activated by hand, EOF
 * that input ended (requests still run, pause and drain after it),
 * MORE_LINES that complete lines wait in IN, BUSY the events' priority
 * class, INPUT_SEEN the sweep's note of input, and RUN_PEER a place in
 * the run queue.
 */
struct conn {
	struct server *server;
	int fd;
	enum conn_state state; /* written by conn_set_state() only */
	struct event *rev;     /* readable: added while requests are read */
	struct event *wev;     /* writable: added while OUT waits for the socket */
	struct evbuffer *out;  /* replies the socket has not taken yet */
	char *in;              /* input read but not handled (malloc'd; NULL when none) */
	size_t in_off;         /* ... from IN + IN_OFF (0 once replies are flushed) */
	size_t in_len, in_size;
	int reading;            /* REV is added */
	int writing;            /* WEV is added */
	int flush_soon;         /* WEV is active to write at the end of this turn */
	int input_seen;         /* bytes read since the last timeout sweep */
	uint64_t last_input_ms; /* uptime the last input was noted (idle-timeout) */
	uint64_t write_wait_ms; /* uptime OUT last made progress while waiting */
	struct config *config;  /* the config in force (a reference; a reload swaps it) */
	struct peer peer;
	char peer_key[80];                 /* key in the per-peer counts (REQ.peer_key points here) */
	struct peer_count *counted;        /* its entry there (NULL: none): no lookup per request */
	struct metrics_peer *metrics_peer; /* its peer's counters, found at its first request (metrics.c) */
	struct request req;                /* the last request (conn_request_pending: still unanswered) */
	size_t held;                       /* OUT and IN bytes counted in server->buffered */
	size_t bridge_held;                /* a bridge's queues and pipes (conn_bridge_hold) */
	int more_lines;                    /* the last turn stopped at commands- or bytes-per-read */
	int busy;                          /* its events run at SERVER_PRIO_BUSY (server.h) */
	struct run_peer *run_peer;         /* waiting for a turn in this peer's queue; NULL: not */
	struct conn *run_prev, *run_next;
	int eof;                     /* the client shut down its sending side */
	uint64_t line_started;       /* monotonic ms the unfinished line began; 0: none */
	struct event *resume;        /* handles more lines on a later loop turn */
	request_detach_fn detach_fn; /* called once replies are flushed, before freeing */
	void *detach_arg;
	/* A handler waiting for unsent output to fall to DRAIN_BELOW bytes
	 * (request_on_drain): called once, then forgotten. */
	void (*drain_cb)(void *arg);
	void *drain_arg;
	size_t drain_below;
	/* A bridge gets the socket once replies are flushed and keeps the
	 * connection (and its place in the limits) until it ends. */
	void (*bridge_start)(struct conn *c, void *arg);
	void (*bridge_release)(void *arg);
	void *bridge_arg;
	struct conn *prev, *next;
};

/* A peer (a CID or a unix identity) whose connections wait for turns. */
struct run_peer {
	char key[80];
	struct conn *head, *tail;     /* its waiting connections, in turn order */
	struct run_peer *prev, *next; /* the server's ring of waiting peers */
	struct run_peer *hnext;       /* its bucket in the server's run_index */
};

static void conn_process(struct conn *c, enum conn_read do_read);
static void conn_close_after_flush(struct conn *c);
static void conn_set_state(struct conn *c, enum conn_state state);

/* True if requests may be read from C now (whether by the socket's event
 * or in a turn of the run queue). */
static int conn_may_read(const struct conn *c)
{
	return c->state == CONN_READING && !c->eof;
}

/* True while C's last request awaits its answer (run() returned
 * REQ_PENDING): the request itself says so, also once C is CLOSING. */
static int conn_request_pending(const struct conn *c)
{
	return c->req.pending && !c->req.finished;
}

/* The read event is added exactly while requests may be read and C does
 * not wait in the run queue (which reads it in its turn): derived from
 * the state, after each change of it and of EOF or the queue. */
static void conn_update_reading(struct conn *c)
{
	int want = conn_may_read(c) && c->run_peer == NULL;

	if (want == c->reading)
		return;
	if (want) {
		if (event_add(c->rev, NULL) < 0) {
			log_peer(LOG_LEVEL_WARNING, c->peer.text, c->peer.cid, NULL,
			         "cannot watch the socket; closing");
			event_active(c->resume, EV_READ, 0);
			conn_set_state(c, CONN_CLOSING);
			return;
		}
		/* idle-timeout counts from now, not across the pause. */
		c->last_input_ms = server_uptime_ms(c->server);
	} else {
		event_del(c->rev);
	}
	c->reading = want;
}

/* Moves C to STATE: the one writer of C->state. Keeps the count of
 * connections paused for memory, takes a bridge's socket off both events
 * and re-derives the read event. Within a turn that answers requests
 * inside their run() nothing changes state: the hot path pays nothing. */
static void conn_set_state(struct conn *c, enum conn_state state)
{
	enum conn_state was = c->state;

	if (state == was)
		return;
	if (was == CONN_PAUSED_MEMORY)
		c->server->memory_paused--;
	if (state == CONN_PAUSED_MEMORY)
		c->server->memory_paused++;
	c->state = state;
	if (log_enabled(LOG_LEVEL_DEBUG))
		log_peer(LOG_LEVEL_DEBUG, c->peer.text, c->peer.cid, NULL, "connection %s -> %s", conn_state_names[was],
		         conn_state_names[state]);
	if (state == CONN_BRIDGED) {
		event_del(c->wev); /* the socket is the bridge's */
		c->writing = 0;
	}
	conn_update_reading(c);
}

/* True once C reads no more requests: it drains, its last request runs,
 * it is broken or a bridge has it. */
static int conn_closing(const struct conn *c)
{
	switch (c->state) {
	case CONN_READING:
	case CONN_RUNNING:
	case CONN_PAUSED_OUTPUT:
	case CONN_PAUSED_MEMORY:
		return 0;
	case CONN_RUNNING_LAST:
	case CONN_DRAINING:
	case CONN_BRIDGED:
	case CONN_CLOSING:
		return 1;
	}
	return 1;
}

/* Starts watching for writability while output waits for the socket. */
static void conn_want_write(struct conn *c)
{
	if (c->writing || evbuffer_get_length(c->out) == 0)
		return;
	if (event_add(c->wev, NULL) < 0) {
		event_active(c->resume, EV_READ, 0);
		conn_set_state(c, CONN_CLOSING);
		return;
	}
	c->writing = 1;
	c->write_wait_ms = server_uptime_ms(c->server);
}

/* Moves C's events to the busy priority (BUSY) or back: a connection
 * that sends more than one turn handles waits behind the others. An
 * active event keeps its priority (libevent refuses the change); the
 * flag follows the read event, whose turns are what costs. */
static void conn_set_busy(struct conn *c, int busy)
{
	int pri = busy ? SERVER_PRIO_BUSY : SERVER_PRIO_NORMAL;

	if (c->busy == busy)
		return;
	(void)event_priority_set(c->wev, pri);
	(void)event_priority_set(c->resume, pri);
	if (event_priority_set(c->rev, pri) == 0)
		c->busy = busy;
}

/* The bucket of peer KEY in the run index (FNV-1a). */
static unsigned int run_bucket(const char *key)
{
	return util_fnv1a(key) % RUN_PEER_BUCKETS;
}

/* The run-queue callback: turns for the waiting connections. */
static void conn_run_cb(evutil_socket_t fd, short what, void *arg);

static void conn_sweep_step(struct server *s);

/* Makes sure S's run queue gets its turn on the next loop iteration,
 * after the sockets were polled. Returns 0 or -1. */
static int conn_run_arm(struct server *s)
{
	static const struct timeval now = {0, 0};

	if (s->run_ev == NULL) {
		s->run_ev = evtimer_new(s->base, conn_run_cb, s);
		if (s->run_ev == NULL)
			return -1;
		/* Turns are for the busy: the rest of the loop goes first. */
		(void)event_priority_set(s->run_ev, SERVER_PRIO_BUSY);
	}
	/* A timer, not event_active(): libevent runs events activated from a
	 * callback in the same pass, before it polls again. */
	if (!evtimer_pending(s->run_ev, NULL) && evtimer_add(s->run_ev, &now) < 0)
		return -1;
	return 0;
}

/* Puts C at the end of its peer's queue for another turn, and the peer
 * in the ring of waiting peers if it is not there. */
static void conn_enqueue(struct conn *c)
{
	struct server *s = c->server;
	unsigned int b = c->req.peer_hash % RUN_PEER_BUCKETS; /* run_bucket(c->peer_key) */
	struct run_peer *p;

	if (c->run_peer != NULL)
		return;
	if (conn_run_arm(s) < 0) {
		event_active(c->resume, EV_READ, 0); /* unfair, but not stuck */
		return;
	}
	for (p = s->run_index[b]; p != NULL && strcmp(p->key, c->peer_key) != 0; p = p->hnext)
		;
	if (p == NULL) {
		p = calloc(1, sizeof(*p));
		if (p == NULL) {
			event_active(c->resume, EV_READ, 0);
			return;
		}
		_Static_assert(sizeof(p->key) == sizeof(c->peer_key), "run_peer key and peer_key differ");
		memcpy(p->key, c->peer_key, sizeof(p->key)); /* no snprintf per turn */
		p->hnext = s->run_index[b];
		s->run_index[b] = p;
		p->prev = s->run_tail;
		if (s->run_tail != NULL)
			s->run_tail->next = p;
		else
			s->run_head = p;
		s->run_tail = p;
	}
	c->run_peer = p;
	c->run_next = NULL;
	c->run_prev = p->tail;
	if (p->tail != NULL)
		p->tail->run_next = c;
	else
		p->head = c;
	p->tail = c;
	conn_set_busy(c, 1);
	conn_update_reading(c); /* its turns read it */
}

/* Takes P out of S's ring and index, and frees it. */
static void run_peer_free(struct server *s, struct run_peer *p)
{
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		s->run_head = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	else
		s->run_tail = p->prev;
	for (struct run_peer **pp = &s->run_index[run_bucket(p->key)]; *pp != NULL; pp = &(*pp)->hnext) {
		if (*pp == p) {
			*pp = p->hnext;
			break;
		}
	}
	free(p);
}

/* Takes C out of its peer's queue; the peer leaves the ring once none of
 * its connections waits. */
static void conn_dequeue(struct conn *c)
{
	struct run_peer *p = c->run_peer;

	if (p == NULL)
		return;
	if (c->run_prev != NULL)
		c->run_prev->run_next = c->run_next;
	else
		p->head = c->run_next;
	if (c->run_next != NULL)
		c->run_next->run_prev = c->run_prev;
	else
		p->tail = c->run_prev;
	c->run_peer = NULL;
	c->run_prev = c->run_next = NULL;
	if (p->head == NULL)
		run_peer_free(c->server, p);
}

/* Microseconds since T0 (CLOCK_MONOTONIC). */
static long run_elapsed_us(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - t0->tv_sec) * 1000000 + (now.tv_nsec - t0->tv_nsec) / 1000;
}

/* Gives the waiting connections turns: one for the first connection of
 * each peer in the ring in turn, so a peer with a hundred busy
 * connections gets no more turns than a peer with one, and within a peer
 * its connections take turns. After CONN_RUN_BUDGET_US the loop polls
 * the sockets (new connections, and requests of idle connections, which
 * are answered at once) before the queue goes on. */
static void conn_run_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	struct timespec t0;

	if (s->sweeping)
		conn_sweep_step(s); /* a sweep in parts goes on first */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (s->run_head != NULL) {
		struct run_peer *p = s->run_head;
		struct conn *c = p->head;
		if (p->head != p->tail && s->run_head != s->run_tail) {
			/* The peer goes to the end of the ring for its next turn. */
			s->run_head = p->next;
			s->run_head->prev = NULL;
			p->prev = s->run_tail;
			p->next = NULL;
			s->run_tail->next = p;
			s->run_tail = p;
		}
		conn_dequeue(c);                 /* frees P if C was its last */
		conn_process(c, CONN_READ_FULL); /* may queue C again, or free it */
		if (run_elapsed_us(&t0) >= CONN_RUN_BUDGET_US)
			break;
	}
	if (s->run_head != NULL && conn_run_arm(s) < 0) {
		/* Without the timer, let each connection go on by itself. */
		while (s->run_head != NULL) {
			struct conn *c = s->run_head->head;
			conn_dequeue(c);
			event_active(c->resume, EV_READ, 0);
		}
	}
}

/* conn_over_share() for C with WAITING bytes in its output buffer (the
 * caller has just read that length). */
static int conn_over_share_waiting(const struct conn *c, size_t waiting)
{
	const struct server *s = c->server;
	size_t max = s->config->limits.max_buffered;
	size_t held = waiting + c->in_size + c->bridge_held;
	size_t total = s->buffered - c->held + held;

	return total >= max && held >= max / (s->nconns > 0 ? s->nconns : 1);
}

/* True if C holds at least an equal share of max-buffered (the limit
 * over the number of connections) while all together hold the limit or
 * more: then C is not read until that changes. */
static int conn_over_share(const struct conn *c)
{
	return conn_over_share_waiting(c, evbuffer_get_length(c->out));
}

/* Stops C's requests while it is over its share of max-buffered. */
static void conn_memory_pause(struct conn *c)
{
	conn_set_state(c, CONN_PAUSED_MEMORY);
}

/* Lets C's requests go on again, in a turn of the run queue (not all
 * at once when many resume together). Queued first, so that reading
 * again arms no read event only to take it off. */
static void conn_memory_resume(struct conn *c)
{
	conn_enqueue(c);
	conn_set_state(c, CONN_READING);
}

/* Resumes every connection paused for max-buffered once the total is
 * well below it (an eighth, so that a total hovering at the limit does
 * not wake them all at every byte). */
static void conn_memory_wake(struct server *s)
{
	size_t max = s->config->limits.max_buffered;

	if (s->memory_paused == 0 || s->buffered >= max - max / 8)
		return;
	for (struct conn *c = s->conns; c != NULL && s->memory_paused > 0; c = c->next) {
		if (c->state == CONN_PAUSED_MEMORY)
			conn_memory_resume(c);
	}
}

/* Brings S->buffered up to date with what C's buffers hold now. */
static void conn_account(struct conn *c)
{
	struct server *s = c->server;
	size_t held = evbuffer_get_length(c->out) + c->in_size + c->bridge_held;

	if (held >= c->held) {
		s->buffered += held - c->held;
		c->held = held;
		return;
	}
	s->buffered -= c->held - held;
	s->freed_since_trim += c->held - held;
	c->held = held;
	if (c->state == CONN_PAUSED_MEMORY && !conn_over_share(c))
		conn_memory_resume(c);
	conn_memory_wake(s);
}

size_t conn_bridge_hold(struct conn *c, size_t bytes)
{
	struct server *s = c->server;
	size_t max = s->config->limits.max_buffered;
	size_t share = max / (s->nconns > 0 ? s->nconns : 1);

	c->bridge_held = bytes;
	conn_account(c);
	size_t room = s->buffered < max ? max - s->buffered : 0;
	size_t share_room = c->held < share ? share - c->held : 0;
	/* Below its share, a bridge may still take the total to twice the
	 * limit (the bound is soft, as for requests), never past it. */
	size_t ceiling = s->buffered < 2 * max ? 2 * max - s->buffered : 0;

	if (share_room > ceiling)
		share_room = ceiling;
	return room > share_room ? room : share_room;
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
	if (s->sweep_cursor == c)
		s->sweep_cursor = c->next;
	if (s->stage_owner == c) {
		s->stage_owner = NULL;
		s->stage_len = 0;
	}
	peer_count_remove(s, c->peer_key);
	c->counted = NULL;
	conn_dequeue(c);
	s->buffered -= c->held;
	s->freed_since_trim += c->held;
	if (c->state == CONN_PAUSED_MEMORY)
		s->memory_paused--; /* it leaves that state here, unannounced */
	event_free(c->rev);
	event_free(c->wev);
	event_free(c->resume);
	evbuffer_free(c->out);
	free(c->in);
	close(c->fd);
	config_unref(c->config);
	log_peer(LOG_LEVEL_DEBUG, c->peer.text, c->peer.cid, NULL, "connection closed");
	free(c);
	if (s->nconns == 0 && s->run_ev != NULL) {
		event_free(s->run_ev); /* nothing can wait in the run queue */
		s->run_ev = NULL;
	}
	conn_memory_wake(s);
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
		request_detach_fn fn = c->detach_fn;
		c->detach_fn = NULL;
		fn(-1, NULL, 0, &c->peer, c->detach_arg);
	}
	if (conn_request_pending(c)) {
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

/* Starts the bridge on the socket (the unhandled input stays in C->in
 * for it). */
static void conn_start_bridge(struct conn *c)
{
	void (*start)(struct conn *, void *) = c->bridge_start;

	conn_dequeue(c);
	c->bridge_start = NULL;
	conn_set_state(c, CONN_BRIDGED); /* takes both events off */
	start(c, c->bridge_arg);
}

/* Replies are all sent (C is DRAINING, never CLOSING): hand the socket
 * on or start a bridge if asked to, else free C. */
static void conn_finish(struct conn *c)
{
	if (c->in_off > 0) {
		/* Bridges and receivers take the unhandled input at C->in. */
		memmove(c->in, c->in + c->in_off, c->in_len);
		c->in_off = 0;
	}
	if (c->bridge_start != NULL) {
		conn_start_bridge(c);
		return;
	}
	if (c->detach_fn != NULL) {
		request_detach_fn fn = c->detach_fn;
		c->detach_fn = NULL;
		fn(c->fd, c->in, c->in_len, &c->peer, c->detach_arg);
	}
	conn_free(c);
}

/* Marks C broken (a write failed or memory ran out), logging WHY at
 * LEVEL: its output is dropped and it is freed from the event loop,
 * never from inside a handler's call. */
static void conn_break(struct conn *c, enum log_level level, const char *why)
{
	if (c->state != CONN_CLOSING)
		log_peer(level, c->peer.text, c->peer.cid, NULL, "connection dropped: %s", why);
	conn_set_state(c, CONN_CLOSING);
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
		conn_account(c);
		conn_want_write(c);
	}
}

/* conn_write past the common case: C does not own the stage, or the
 * stage is too full for LEN bytes. */
static __attribute__((noinline)) void conn_write_more(struct conn *c, const void *data, size_t len)
{
	struct server *s = c->server;

	if (c->state == CONN_CLOSING)
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
	else
		conn_account(c);
}

/* Appends LEN bytes of reply DATA to C's output. Never fails: without
 * memory the connection is marked broken and closed at the next safe
 * point. The common case, a reply that fits C's stage, saves no
 * register and ends in the copy. */
static void conn_write(struct conn *c, const void *data, size_t len)
{
	struct server *s = c->server;
	size_t at = s->stage_len;

	if (c->state == CONN_CLOSING || s->stage_owner != c || len > CONN_STAGE_SIZE - at) {
		conn_write_more(c, data, len);
		return;
	}
	s->stage_len = at + len;
	memcpy(s->stage + at, data, len);
}

/* Unsent reply bytes of C, staged or waiting. */
static size_t conn_output_length(const struct conn *c)
{
	return (c->server->stage_owner == c ? c->server->stage_len : 0) + evbuffer_get_length(c->out);
}

/* Output went out: calls the handler waiting for C's unsent output to
 * drain (request_on_drain), once, if it has. */
static void conn_drained(struct conn *c)
{
	void (*cb)(void *) = c->drain_cb;

	if (cb == NULL || conn_output_length(c) > c->drain_below)
		return;
	c->drain_cb = NULL;
	cb(c->drain_arg);
}

/* Writes C's pending replies now, as far as the socket takes them; the
 * rest goes when it is writable. */
static void conn_flush(struct conn *c)
{
	if (c->server->stage_owner == c) {
		conn_stage_flush(c);
		return;
	}
	/* Replies go out at once; the socket is watched for writability only
	 * when it cannot take them all. */
	if (c->writing || c->state == CONN_CLOSING || evbuffer_get_length(c->out) == 0)
		return;
	if (evbuffer_write(c->out, c->fd) < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
		conn_break(c, LOG_LEVEL_DEBUG, strerror(errno));
		return;
	}
	conn_account(c);
	conn_want_write(c);
	conn_drained(c);
}

/* Writes C's pending replies at the end of this loop turn, once however
 * often it is asked: a handler streaming many lines from one callback
 * costs one write, not one per line. */
static void conn_flush_soon(struct conn *c)
{
	if (c->writing || c->flush_soon || c->state == CONN_CLOSING)
		return;
	/* The write callback runs on this loop turn's end, once. */
	c->flush_soon = 1;
	event_active(c->wev, EV_WRITE, 0);
}

/* Stops reading requests and frees C once its replies are sent. */
static void conn_close_after_flush(struct conn *c)
{
	switch (c->state) {
	case CONN_READING:
	case CONN_PAUSED_OUTPUT:
	case CONN_PAUSED_MEMORY:
		conn_set_state(c, CONN_DRAINING);
		break;
	case CONN_DRAINING:
		break;
	case CONN_RUNNING:
		conn_set_state(c, CONN_RUNNING_LAST);
		return; /* conn_request_done() comes back here */
	case CONN_RUNNING_LAST:
		return;
	case CONN_BRIDGED:
		return; /* a bridge ends by itself */
	case CONN_CLOSING:
		if (conn_request_pending(c))
			return; /* its resume event frees C and cancels the request */
		break;
	}
	conn_flush(c);
	if (c->server->stage_owner == c)
		c->server->stage_owner = NULL; /* flushed in full */
	if (c->state == CONN_CLOSING) {
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

/* A pending request (run() returned REQ_PENDING) has finished: its reply
 * goes out, and the lines behind it are handled (request_ops.done). */
static void conn_request_done(struct conn *c)
{
	conn_flush(c);
	switch (c->state) {
	case CONN_RUNNING:
	case CONN_READING: /* not reached: only a running request is pending */
	case CONN_PAUSED_OUTPUT:
	case CONN_PAUSED_MEMORY:
		conn_set_state(c, CONN_READING);
		/* Lines may be waiting behind the request; handle them on a later turn. */
		event_active(c->resume, EV_READ, 0);
		return;
	case CONN_RUNNING_LAST:
		conn_set_state(c, CONN_DRAINING);
		conn_close_after_flush(c);
		return;
	case CONN_DRAINING: /* not reached, as above */
	case CONN_CLOSING:
		conn_close_after_flush(c); /* frees a CLOSING C */
		return;
	case CONN_BRIDGED: /* not reached: a bridge starts after its answer */
		return;
	}
}

/* Handles one complete request LINE of LEN bytes (no line end), which
 * has room for a terminating NUL, and decides what follows from what
 * run() returned: answered, the line loop goes on; else C waits for
 * conn_request_done. Whether it was answered decides, should a kind's
 * return value say otherwise, so that no request is answered twice. */
static void conn_handle_line(struct conn *c, char *line, size_t len)
{
	struct server *s = c->server;
	const char *why;
	int argc;
	/* The connection's limit, not the scratch array's size: that only grows. */
	enum udo_vsock_proto_parse_result r =
	    udo_vsock_proto_parse_line(line, len, s->argv, (int)c->config->limits.max_arguments, &argc, &why);

	if (r == UDO_VSOCK_PROTO_PARSE_EMPTY)
		return;
	server_count_command(s, c->counted);
	if (r != UDO_VSOCK_PROTO_PARSE_OK) {
		conn_send_err(c, r == UDO_VSOCK_PROTO_PARSE_TOO_MANY ? PROTO_ERR_USAGE : PROTO_ERR_SYNTAX, why);
		log_peer(LOG_LEVEL_INFO, c->peer.text, c->peer.cid, NULL, "bad request: %s", why);
		return;
	}
	struct request *req = &c->req;
	req->conn = c; /* the rest of what comes from C is set at accept */
	enum req_status st = dispatch_request(req, argc, s->argv);
	if (st == REQ_DONE && !req->finished) /* a kind's bug */
		log_peer(LOG_LEVEL_ERR, c->peer.text, c->peer.cid, req->cmd->name,
		         "handler '%s' returned done without answering; waiting for its answer", req->cmd->kind->name);
	if (req->finished)
		return;   /* answered: the line loop goes on */
	req->pending = 1; /* the answer comes later: conn_request_done */
	if (c->state == CONN_READING)
		conn_set_state(c, CONN_RUNNING);
	else if (c->state == CONN_DRAINING)
		conn_set_state(c, CONN_RUNNING_LAST); /* it asked to close, hand off or bridge */
	                                              /* A CLOSING C stays so: freed, it cancels the request. */
}

/* Refuses a request line longer than max-line-length and closes. */
static void conn_refuse_long_line(struct conn *c)
{
	char msg[96];

	snprintf(msg, sizeof(msg), "request longer than %u bytes; closing", c->config->limits.max_line_length);
	server_count_command(c->server, c->counted);
	conn_send_err(c, PROTO_ERR_TOO_LONG, msg);
	log_peer(LOG_LEVEL_INFO, c->peer.text, c->peer.cid, NULL, "request too long");
	conn_set_state(c, CONN_DRAINING);
}

/* Handles the complete lines in BUF[*OFF, LEN): at most commands-per-read
 * and, past the first, none beyond bytes-per-read bytes, and none while a
 * request runs, replies back up or C closes. Advances
 * *OFF past what it handled. At end of input an unterminated last line
 * counts as complete, and once all is handled C is set to close. */
static void conn_handle_lines(struct conn *c, char *buf, size_t len, size_t *off)
{
	const struct limits *lim = &c->config->limits;
	size_t max = lim->max_line_length, stop = *off + lim->bytes_per_read;

	c->more_lines = 0;
	for (unsigned int n = 0;; n++) {
		if (c->state != CONN_READING)
			return;                               /* a request runs, requests wait, or C closes */
		size_t waiting = evbuffer_get_length(c->out); /* read once per line: the hot path */
		if ((c->server->stage_owner == c ? c->server->stage_len : 0) + waiting >= lim->max_output_buffer) {
			/* Backpressure: requests wait until the client reads. */
			conn_set_state(c, CONN_PAUSED_OUTPUT);
			return;
		}
		if (conn_over_share_waiting(c, waiting)) {
			/* The daemon holds too much: the biggest holders wait. */
			conn_memory_pause(c);
			return;
		}
		if (n == lim->commands_per_read || *off >= stop) {
			/* Fairness: the rest in a later turn of the run queue (a
			 * turn of long lines costs as much as one of many). */
			c->more_lines = 1;
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
				if (c->eof) /* all handled: answer, then close */
					conn_set_state(c, CONN_DRAINING);
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
		conn_handle_line(c, line, llen);
	}
}

/* Keeps the unhandled input BUF[0, LEN) in C->in, with room for a NUL
 * after it (lines are parsed there in place in later turns). Freed when
 * empty, so an idle connection holds no input memory. Returns 0, or -1
 * without memory. */
static int conn_keep_input(struct conn *c, const char *buf, size_t len)
{
	c->in_off = 0;
	if (len == 0) {
		free(c->in);
		c->in = NULL;
		c->in_len = c->in_size = 0;
		conn_account(c);
		return 0;
	}
	if (len + 1 > c->in_size) {
		char *in = realloc(c->in, len + 1);
		if (in == NULL)
			return -1;
		c->in = in;
		c->in_size = len + 1;
		conn_account(c);
	}
	memmove(c->in, buf, len);
	c->in_len = len;
	return 0;
}

/* Drops the first USED bytes of the unhandled input, which a turn has
 * handled where it lies in C->in. */
static void conn_consume_input(struct conn *c, size_t used)
{
	if (used == c->in_len) {
		conn_keep_input(c, NULL, 0);
		return;
	}
	c->in_off += used;
	c->in_len -= used;
}

/* One turn for C: reads what the socket has (as DO_READ says), handles the
 * complete lines (up to commands-per-read), keeps the rest, sends the
 * replies in one go. If more lines wait, or the read filled the buffer
 * (the socket likely holds more), C goes to the run queue for its next
 * turn instead of back to the socket's event. While lines of an earlier
 * read wait, a turn handles them where they lie and reads nothing: a
 * turn costs no copy of the input kept. */
static void conn_process(struct conn *c, enum conn_read do_read)
{
	struct server *s = c->server;
	const struct limits *lim = &c->config->limits;
	size_t cap = (size_t)lim->max_line_length + CONN_READ_AHEAD;
	size_t len = c->in_len, off = 0;
	int filled = 0, in_place = 0, skipped = 0, defer = 0;

	switch (c->state) {
	case CONN_CLOSING:
		conn_free(c);
		return;
	case CONN_BRIDGED:
		return;
	case CONN_DRAINING:
		if (c->in_len == 0 && !do_read)
			return; /* the write callback finishes C */
		break;
	case CONN_READING:
	case CONN_RUNNING:
	case CONN_RUNNING_LAST:
	case CONN_PAUSED_OUTPUT:
	case CONN_PAUSED_MEMORY:
		break;
	}
	if (server_reserve_scratch(s, cap, (int)lim->max_arguments) < 0) {
		log_peer(LOG_LEVEL_WARNING, c->peer.text, c->peer.cid, NULL,
		         "out of memory for the read buffer; closing");
		conn_free(c);
		return;
	}
	int want_read = do_read && conn_may_read(c) && len < cap;
	if (want_read && c->more_lines && len > 0) {
		want_read = 0; /* the lines kept first */
		skipped = 1;
	}
	char *buf = s->line;
	if (!want_read && len > 0) {
		buf = c->in + c->in_off;
		in_place = 1;
	} else if (len > 0) {
		memcpy(buf, c->in + c->in_off, len);
	}
	if (want_read && conn_over_share(c)) {
		conn_memory_pause(c); /* the bytes wait in the kernel */
	} else if (want_read) {
		size_t room = do_read == CONN_READ_BITE && cap - len > CONN_BITE ? CONN_BITE : cap - len;
		ssize_t n = recv(c->fd, buf + len, room, 0);
		if (n > 0) {
			filled = (size_t)n == room;
			/* A full first bite is a client sending more than a
			 * request: its lines wait for its turn in the run queue,
			 * at the busy priority, not before other clients'. */
			defer = filled && do_read == CONN_READ_BITE;
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
	if (!defer) {
		s->turn_us = 0; /* read at this turn's first request */
		conn_handle_lines(c, buf, len, &off);
		s->turn_us = 0;
	}
	if (conn_closing(c) && !c->bridge_start && !c->detach_fn)
		off = len; /* nothing more is read from a closing connection */
	if (in_place)
		conn_consume_input(c, off);
	else if (conn_keep_input(c, buf + off, len - off) < 0)
		conn_break(c, LOG_LEVEL_WARNING, "out of memory for its unhandled input");
	conn_flush(c);
	if (s->stage_owner == c)
		s->stage_owner = NULL; /* sent in full */
	switch (c->state) {
	case CONN_CLOSING:
		conn_free(c);
		return;
	case CONN_DRAINING:
	case CONN_RUNNING_LAST:
		conn_close_after_flush(c); /* may free C */
		return;
	case CONN_BRIDGED: /* not reached: a bridge starts from conn_close_after_flush */
		return;
	case CONN_PAUSED_OUTPUT:
		if (evbuffer_get_length(c->out) <= lim->max_output_buffer / 2) {
			/* The socket took the staged replies: no need to wait. */
			conn_set_state(c, CONN_READING);
			event_active(c->resume, EV_READ, 0);
		}
		break;
	case CONN_READING:
	case CONN_RUNNING:
	case CONN_PAUSED_MEMORY:
		break;
	}
	/* An ended input (EOF) may still hold lines to handle. */
	if (c->state == CONN_READING && (c->more_lines || filled || skipped))
		conn_enqueue(c);
	else if (c->busy && c->run_peer == NULL && c->in_len == 0 && conn_may_read(c))
		conn_set_busy(c, 0); /* caught up: its next request is answered at once */
	conn_update_reading(c);
	/* A started line must be completed within line-timeout; a line
	 * handled in this turn means the rest is a new line. */
	if (off > 0)
		c->line_started = 0;
	if (c->in_len > 0 && memchr(c->in + c->in_off, '\n', c->in_len) == NULL) {
		if (c->line_started == 0)
			c->line_started = server_uptime_ms(s) + 1;
	} else {
		c->line_started = 0;
	}
}

/* True if C's client has closed its socket entirely (or it failed),
 * never for a client that only shut down sending, which still wants its
 * reply. Asked by the sweep for connections that are not being read (a
 * request runs, replies back up, or reading is paused), where no read
 * tells. A unix socket polls hang-up. A vsock socket (Linux 6.1) shows
 * neither hang-up nor SO_ERROR, polls the same RDHUP for a close as for
 * a half-close, and peeks queued input the client sent before closing;
 * but it refuses an empty send with EPIPE once the peer stopped
 * receiving, in every one of those states (an empty send transmits
 * nothing). */
static int conn_client_gone(const struct conn *c)
{
	struct pollfd p = {.fd = c->fd, .events = 0};

	/* One system call per connection: the sweep asks a thousand. */
	if (c->peer.transport != UDO_VSOCK_ADDR_VSOCK)
		return poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR)) != 0;
	return send(c->fd, "", 0, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
	       (errno == EPIPE || errno == ENOTCONN || errno == ECONNRESET);
}

/* What the timeout sweep checks of a connection (conn_sweep_rules). */
enum {
	SWEEP_GONE = 1 << 0,  /* its client has closed (conn_client_gone), where no read tells */
	SWEEP_SHARE = 1 << 1, /* its share of max-buffered has fallen: it goes on */
	SWEEP_STALL = 1 << 2, /* output waits and the client has read none of it for idle-timeout */
	SWEEP_LINE = 1 << 3,  /* an unfinished request line began longer than line-timeout ago */
	SWEEP_IDLE = 1 << 4,  /* no input for idle-timeout while it is read */
};

/* What the sweep checks of C: a rule for every state, so that none is
 * forgotten (a client gone while its request ran, or while its bridge
 * was being set up, once was). */
static unsigned int conn_sweep_rules(const struct conn *c)
{
	switch (c->state) {
	case CONN_READING:
		/* While its event reads it, a read tells when the client goes:
		 * not once input ended, while it waits in the run queue or while
		 * its output waits. Only a connection that is read times out
		 * for idleness, and only one with input to come for a line. */
		if (c->eof)
			return SWEEP_GONE | SWEEP_STALL;
		return (c->reading && !c->writing ? 0 : SWEEP_GONE) | SWEEP_STALL | SWEEP_LINE |
		       (c->reading ? SWEEP_IDLE : 0);
	case CONN_RUNNING:
	case CONN_RUNNING_LAST:
		/* A client gone during its request: the request is cancelled. */
		return SWEEP_GONE | SWEEP_STALL;
	case CONN_PAUSED_OUTPUT:
		return SWEEP_GONE | SWEEP_STALL;
	case CONN_PAUSED_MEMORY:
		return SWEEP_GONE | SWEEP_SHARE | SWEEP_STALL;
	case CONN_DRAINING:
		return SWEEP_GONE | SWEEP_STALL;
	case CONN_BRIDGED:
		/* The bridge's own timer ends it for idleness (proxy.c), and
		 * its reads see the client go. */
		return 0;
	case CONN_CLOSING:
		return 0; /* it is freed at the next safe point */
	}
	return 0;
}

/* Cuts C if one of its timeouts has passed at NOW (uptime ms), as its
 * state's rule says (conn_sweep_rules): a client gone, one that has read
 * none of its replies for idle-timeout, an unfinished request line begun
 * longer than line-timeout ago, or idle longer than idle-timeout. Returns
 * 1 if C was cut (and may be freed), else 0. */
static int conn_sweep_one(struct conn *c, uint64_t now)
{
	const struct limits *lim = &c->server->config->limits;
	unsigned int rules = conn_sweep_rules(c);

	if (rules == 0)
		return 0;
	if ((rules & SWEEP_GONE) && conn_client_gone(c)) {
		log_peer(LOG_LEVEL_INFO, c->peer.text, c->peer.cid, NULL, "client left%s",
		         conn_request_pending(c) ? " during a request; cancelling it" : "; releasing its connection");
		conn_free(c);
		return 1;
	}
	if ((rules & SWEEP_SHARE) && !conn_over_share(c)) {
		conn_memory_resume(c);
		rules = conn_sweep_rules(c) & ~SWEEP_GONE; /* READING's now; gone was asked */
	}
	if (c->input_seen) {
		/* Input came since the last sweep: idle from now on at most. */
		c->input_seen = 0;
		c->last_input_ms = now;
	}
	if ((rules & SWEEP_STALL) && c->writing && lim->idle_timeout_ms > 0 &&
	    now - c->write_wait_ms > lim->idle_timeout_ms) {
		log_peer(LOG_LEVEL_INFO, c->peer.text, c->peer.cid, NULL, "client does not read its replies; closing");
		conn_free(c);
		return 1;
	}
	if ((rules & SWEEP_LINE) && lim->line_timeout_ms > 0 && c->line_started != 0 &&
	    now + 1 - c->line_started > lim->line_timeout_ms) {
		char msg[80];
		snprintf(msg, sizeof(msg), "request line not completed in %u ms", lim->line_timeout_ms);
		log_peer(LOG_LEVEL_INFO, c->peer.text, c->peer.cid, NULL, "line timeout");
		conn_send_err(c, PROTO_ERR_TIMEOUT, msg);
		conn_close_after_flush(c); /* may free C */
		return 1;
	}
	if ((rules & SWEEP_IDLE) && lim->idle_timeout_ms > 0 && now - c->last_input_ms > lim->idle_timeout_ms) {
		log_peer(LOG_LEVEL_INFO, c->peer.text, c->peer.cid, NULL, "idle timeout");
		conn_send_err(c, PROTO_ERR_TIMEOUT, "idle connection closed");
		conn_close_after_flush(c); /* may free C */
		return 1;
	}
	return 0;
}

/* Sweeps on from S->sweep_cursor: cuts at most CONN_SWEEP_BATCH
 * connections and spends at most CONN_RUN_BUDGET_US per loop iteration,
 * so clients still talking are not held up behind a thousand checks or
 * cuts; the run-queue timer goes on with the rest after the sockets were
 * polled (never the persistent sweep timer activated by hand: libevent
 * would count its next run from then, and 800 cuts once put every other
 * timeout 6.5 s late). At the end, once connections have freed a megabyte or more of
 * buffers, it returns the free heap to the kernel. */
static void conn_sweep_step(struct server *s)
{
	struct timespec t0;
	unsigned int cuts = 0, seen = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* Now, not when the sweep began: connections noted times since, and
	 * a time after NOW would look like a very old one. */
	uint64_t now = server_uptime_ms(s);
	while (s->sweep_cursor != NULL) {
		struct conn *c = s->sweep_cursor;
		s->sweep_cursor = c->next; /* conn_destroy moves it on too */
		int cut = conn_sweep_one(c, now);
		cuts += (unsigned int)cut;
		/* A cut (a close, buffers freed) costs far more than the clock. */
		if (cuts == CONN_SWEEP_BATCH ||
		    ((cut || ++seen % 16 == 0) && run_elapsed_us(&t0) >= CONN_RUN_BUDGET_US)) {
			if (s->sweep_cursor != NULL && conn_run_arm(s) == 0)
				return;
		}
	}
	s->sweeping = 0;
	if (s->freed_since_trim >= CONN_TRIM_AFTER) {
		s->freed_since_trim = 0;
		malloc_trim(0);
	}
}

/* The timeout sweep timer: begins a sweep over every connection, unless
 * one is still under way. */
static void conn_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;

	if (!s->sweeping) {
		s->sweeping = 1;
		s->sweep_cursor = s->conns;
	}
	conn_sweep_step(s);
}

int conn_sweep_arm(struct server *s)
{
	unsigned int line_limit = s->config->limits.line_timeout_ms;
	unsigned int idle_limit = s->config->limits.idle_timeout_ms;
	unsigned int shortest = line_limit == 0           ? idle_limit
	                        : idle_limit == 0         ? line_limit
	                        : line_limit < idle_limit ? line_limit
	                                                  : idle_limit;
	/* At least every half second: it also finds clients gone while they
	 * are not read, and they must be released within 2 s. */
	unsigned int every = shortest == 0 || shortest / 4 > 500 ? 500 : shortest / 4 < 100 ? 100 : shortest / 4;

	if (s->sweep_timer == NULL) {
		s->sweep_timer = event_new(s->base, -1, EV_PERSIST, conn_sweep_cb, s);
		if (s->sweep_timer == NULL)
			return -1;
	} else if (every == s->sweep_ms && event_pending(s->sweep_timer, EV_TIMEOUT, NULL)) {
		return 0;
	}
	struct timeval tv = util_timeval_ms(every);
	if (event_add(s->sweep_timer, &tv) < 0)
		return -1;
	s->sweep_ms = every;
	return 0;
}

/* The socket is readable: new bytes or end of input. */
static void conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_process(arg, CONN_READ_BITE);
}

/* Deferred continuation: more lines, a finished request, or a break. */
static void conn_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_process(arg, CONN_READ_NONE);
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
	if (n > 0) {
		c->write_wait_ms = server_uptime_ms(c->server);
		conn_account(c);
		conn_drained(c);
	}
	if (left == 0) {
		event_del(c->wev); /* back to writing at once (conn_flush) */
		c->writing = 0;
	} else {
		conn_want_write(c); /* no-op if already watching */
	}
	switch (c->state) {
	case CONN_DRAINING:
		if (left == 0)
			conn_finish(c);
		return;
	case CONN_CLOSING:
		if (left == 0 && !conn_request_pending(c))
			conn_free(c);
		return;
	case CONN_PAUSED_OUTPUT:
		if (left <= c->config->limits.max_output_buffer / 2) {
			/* Half the backlog is gone: read requests again. */
			conn_set_state(c, CONN_READING);
			conn_process(c, CONN_READ_NONE);
		}
		return;
	case CONN_READING:
	case CONN_RUNNING:
	case CONN_RUNNING_LAST: /* conn_request_done finishes it */
	case CONN_PAUSED_MEMORY:
	case CONN_BRIDGED:
		return;
	}
}

/* Sets vsock peer P's name to the one CONF or S's peers-dir gives its
 * CID (or none): at accept and after a reload, never per request. */
static void peer_take_name(struct peer *p, const struct server *s, const struct config *conf)
{
	const char *name = p->transport == UDO_VSOCK_ADDR_VSOCK ? peers_dir_lookup(s, conf, p->cid) : NULL;

	snprintf(p->name, sizeof(p->name), "%s", name != NULL ? name : "");
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

/* request_ops.fail: drops C at the next safe point. */
static void conn_req_fail(struct conn *c, const char *why)
{
	conn_break(c, LOG_LEVEL_WARNING, why);
}

/* request_ops.output_pending: unsent bytes and max-output-buffer. */
static size_t conn_req_output_pending(const struct conn *c, size_t *limit)
{
	*limit = c->config->limits.max_output_buffer;
	return conn_output_length(c);
}

/* request_ops.on_drain: one handler waits at a time (one request runs). */
static int conn_req_on_drain(struct conn *c, size_t below, void (*cb)(void *arg), void *arg)
{
	c->drain_cb = cb;
	c->drain_arg = arg;
	c->drain_below = below;
	return 0;
}

/* request_ops.broken. */
static int conn_req_broken(const struct conn *c)
{
	return c->state == CONN_CLOSING;
}

/* No more requests for C once the one asking is answered: from inside
 * its run() (READING) or while it is pending (RUNNING). */
static void conn_close_when_answered(struct conn *c)
{
	switch (c->state) {
	case CONN_READING:
	case CONN_PAUSED_OUTPUT: /* asked after its answer */
	case CONN_PAUSED_MEMORY:
		conn_set_state(c, CONN_DRAINING);
		break;
	case CONN_RUNNING:
		conn_set_state(c, CONN_RUNNING_LAST);
		break;
	case CONN_RUNNING_LAST:
	case CONN_DRAINING:
	case CONN_BRIDGED:
	case CONN_CLOSING:
		break;
	}
}

/* request_ops.close_after_reply: no more requests once this is answered. */
static void conn_req_close(struct conn *c)
{
	conn_close_when_answered(c);
}

/* request_ops.detach_after_flush: FN gets the socket once replies are sent. */
static void conn_req_detach(struct conn *c, request_detach_fn fn, void *arg)
{
	c->detach_fn = fn;
	c->detach_arg = arg;
	conn_close_when_answered(c);
}

/* request_ops.bridge_after_flush: START gets the socket once replies are
 * sent; RELEASE when C is freed. */
static void conn_req_bridge(struct conn *c, void (*start)(struct conn *c, void *arg), void (*release)(void *arg),
                            void *arg)
{
	c->bridge_start = start;
	c->bridge_release = release;
	c->bridge_arg = arg;
	conn_close_when_answered(c);
}

/* How a request of a connection reaches it (request.h). */
static const struct request_ops conn_request_ops = {
    .write = conn_write,
    .flush = conn_flush,
    .flush_soon = conn_flush_soon,
    .fail = conn_req_fail,
    .done = conn_request_done,
    .output_pending = conn_req_output_pending,
    .on_drain = conn_req_on_drain,
    .broken = conn_req_broken,
    .close_after_reply = conn_req_close,
    .detach_after_flush = conn_req_detach,
    .bridge_after_flush = conn_req_bridge,
};

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
	peer_take_name(&p, s, s->config);
	util_peer_key(&p, key, sizeof(key));
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
	c->counted = peer_count_entry(s, key);
	c->config = config_ref(s->config);
	c->req.server = s;
	c->req.ops = &conn_request_ops;
	c->req.peer = &c->peer;
	c->req.peer_key = c->peer_key;
	c->req.peer_hash = util_fnv1a(c->peer_key);
	c->req.metrics_slot = &c->metrics_peer;
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

/* Fills the parts of peer P that come from its listener L (as at
 * accept, see peer_from_accept): a unix peer's identity, a vsock-mux
 * VM's name and CID. A vsock peer's CID is the kernel's. */
static void peer_follow_listener(struct peer *p, const struct listener *l)
{
	if (p->transport == UDO_VSOCK_ADDR_VSOCK_MUX) {
		p->cid = l->mux_cid;
		snprintf(p->identity, sizeof(p->identity), "%s", l->identity);
		snprintf(p->text, sizeof(p->text), "vm %s cid %u", p->identity[0] ? p->identity : "-", p->cid);
	} else if (p->transport == UDO_VSOCK_ADDR_UNIX) {
		snprintf(p->identity, sizeof(p->identity), "%s", l->identity);
		snprintf(p->text, sizeof(p->text), "unix:%s", p->identity);
	}
}

/* Takes the configuration in force and what C's listener now says of
 * its peer (see conn_follow_reload). May free C. */
static void conn_reconfigure(struct conn *c)
{
	struct server *s = c->server;

	config_unref(c->config);
	c->config = config_ref(s->config);
	/* Never judged under another VM's name: a CID's name is the new config's. */
	char was_name[sizeof(c->peer.name)];
	memcpy(was_name, c->peer.name, sizeof(was_name));
	peer_take_name(&c->peer, s, c->config);
	if (strcmp(was_name, c->peer.name) != 0)
		log_peer(LOG_LEVEL_INFO, c->peer.text, c->peer.cid, NULL, "named '%s' after the reload, was '%s'",
		         c->peer.name, was_name);
	const struct listener *l = listener_find(s, c->peer.listener);
	if (l == NULL) {
		if (conn_closing(c))
			return;
		log_peer(LOG_LEVEL_INFO, c->peer.text, c->peer.cid, NULL,
		         "listener %s is gone after the reload; closing", c->peer.listener);
		conn_close_after_flush(c); /* may free C */
		return;
	}
	char was[sizeof(c->peer.text)];
	memcpy(was, c->peer.text, sizeof(was));
	peer_follow_listener(&c->peer, l);
	char key[sizeof(c->peer_key)];
	util_peer_key(&c->peer, key, sizeof(key));
	if (strcmp(key, c->peer_key) != 0) {
		/* Already open: counted under its new key even past the limit. */
		peer_count_remove(s, c->peer_key);
		c->counted = NULL;
		c->metrics_peer = NULL; /* found again under the new key */
		c->req.audit_rl.entry = NULL;
		if (peer_count_add(s, key) != UINT32_MAX) {
			memcpy(c->peer_key, key, sizeof(key));
			c->counted = peer_count_entry(s, key);
		} else {
			c->peer_key[0] = '\0'; /* not counted (out of memory) */
		}
		c->req.peer_hash = util_fnv1a(c->peer_key);
		log_peer(LOG_LEVEL_INFO, c->peer.text, c->peer.cid, NULL, "was %s before the reload", was);
	}
}

void conn_follow_reload(struct server *s)
{
	for (struct conn *c = s->conns, *next; c != NULL; c = next) {
		next = c->next;
		conn_reconfigure(c); /* may free C */
	}
	if (conn_sweep_arm(s) < 0)
		log_warnx("cannot rearm the timeout sweep: connections are not timed out");
}

void conn_follow_names(struct server *s)
{
	for (struct conn *c = s->conns, *next; c != NULL; c = next) {
		next = c->next;
		if (c->peer.transport != UDO_VSOCK_ADDR_VSOCK || conn_closing(c))
			continue;
		const char *name = peers_dir_lookup(s, c->config, c->peer.cid);
		if (strcmp(name != NULL ? name : "", c->peer.name) == 0)
			continue;
		log_peer(LOG_LEVEL_NOTICE, c->peer.text, c->peer.cid, NULL,
		         "CID %u is named '%s' now, was '%s' (peers-dir): closing", c->peer.cid,
		         name != NULL ? name : "", c->peer.name);
		conn_close_after_flush(c); /* may free C */
	}
}

void conn_close_all(struct server *s)
{
	for (struct conn *c = s->conns, *next; c != NULL; c = next) {
		next = c->next;
		if (c->state == CONN_BRIDGED)
			conn_free(c); /* a proxied byte stream has no reply to wait for */
		else
			conn_close_after_flush(c);
	}
}

const struct peer *conn_peer(const struct conn *c)
{
	return &c->peer;
}

struct server *conn_server(const struct conn *c)
{
	return c->server;
}

int conn_fd(const struct conn *c)
{
	return c->fd;
}

const char *conn_unhandled_input(const struct conn *c, size_t *len)
{
	*len = c->in_len;
	return c->in_len > 0 ? c->in + c->in_off : NULL;
}
