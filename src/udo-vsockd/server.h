/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* server.h - the daemon's state: listeners, connections, counters */
#ifndef UDO_VSOCKD_SERVER_H
#define UDO_VSOCKD_SERVER_H

#include <stdint.h>
#include <time.h>

#include "conf.h"
#include "peer.h"

struct event_base;
struct event;
struct evconnlistener;
struct bufferevent;
struct metrics;
struct peers_dir;
struct guests;

/* Counters shown by STATS and in the systemd STATUS line. */
struct stats {
	uint64_t connections_total;
	uint64_t connections_rejected; /* refused at a limit */
	uint64_t commands;
	uint64_t errors; /* ERR replies */
	uint64_t reloads;
	struct timespec started; /* CLOCK_MONOTONIC */
};

/* Why accepting is paused (a bit each). */
enum accept_pause {
	ACCEPT_PAUSE_LIMIT = 1,  /* max-connections reached */
	ACCEPT_PAUSE_NOFILE = 2, /* accept failed with EMFILE/ENFILE/ENOBUFS/ENOMEM */
};

/* One listening socket. */
struct listener {
	struct server *server;
	struct evconnlistener *evl;
	enum udo_vsock_addr_kind transport;
	char text[UDO_VSOCK_ADDR_STRLEN];   /* address, also the key when reloading */
	char identity[64];                  /* unix peers' identity; vsock-mux: the VM's name */
	uint32_t mux_cid;                   /* vsock-mux: the VM's CID */
	char path[UDO_VSOCK_ADDR_PATH_MAX]; /* a socket file we created, removed on close */
	int lock_fd;                        /* held on PATH.lock while we own PATH; -1 if none */
	int from_systemd;
	struct listener *next;
};

/* A peer's own counters, shown to it by STATS. */
struct peer_stats {
	uint64_t connections_total;
	uint64_t connections_rejected;
	uint64_t commands;
	uint64_t errors;
};

/* Connections counted per peer, for max-connections-per-peer; also the
 * peer's counters, kept while it has a connection open. */
struct peer_count {
	char key[80];
	unsigned int count;
	struct peer_stats stats;
	struct peer_count *next;
};

/* The counters server_count() adds to. */
enum server_counter {
	COUNT_CONNECTION,
	COUNT_REJECTED,
	COUNT_COMMAND,
	COUNT_ERROR,
};
#define PEER_COUNT_BUCKETS 1024

struct conn;
struct run_peer;
#define RUN_PEER_BUCKETS 64

/* Event priorities: every event runs at SERVER_PRIO_NORMAL (libevent's
 * default with SERVER_PRIORITIES) except the busy connections' events
 * and the run queue, at SERVER_PRIO_BUSY: a loop pass runs them only
 * when nothing else is ready, and then at most SERVER_BUSY_PER_PASS of
 * them before it polls the sockets again (main.c). A flood's hundred
 * readable connections thus wait behind accepting and behind one other
 * client's request, not the other way round. */
#define SERVER_PRIORITIES    3
#define SERVER_PRIO_NORMAL   1
#define SERVER_PRIO_BUSY     2
#define SERVER_BUSY_PER_PASS 8

struct server {
	struct event_base *base;
	struct config *config; /* the one in force */
	const char *config_path;
	struct listener *listeners;
	struct conn *conns; /* every open connection */
	unsigned int nconns;
	struct peer_count *peer_counts[PEER_COUNT_BUCKETS];
	struct stats stats;
	int accept_paused; /* enum accept_pause bits */
	int stopping;
	int socket_activated;
	struct event *accept_timer;
	struct event *grace_timer;
	struct event *status_timer;
	struct event *watchdog_timer;
	struct event *sweep_timer; /* idle- and line-timeout sweep; NULL while off */
	unsigned int sweep_ms;     /* its period */
	int sweeping;              /* a sweep is under way (in parts) */
	struct conn *sweep_cursor; /* the next connection it looks at */
	struct event *signals[4];
	/* Scratch space: one connection is read and one line handled at a
	 * time, so every connection shares the read buffer LINE (lines are
	 * parsed in place) and the words ARGV. */
	char *line;
	size_t line_size;
	char **argv;
	int argv_size;
	/* Replies of the connection being read (STAGE_OWNER), gathered to
	 * leave in one send at the end of its read turn. */
	char *stage;
	size_t stage_len;
	struct conn *stage_owner;
	/* Bytes all connections hold in their buffers (max-buffered), how
	 * many of them were freed since the heap was last trimmed, and how
	 * many connections wait for the total to fall. */
	size_t buffered;
	size_t freed_since_trim;
	unsigned int memory_paused;
	/* Connections with more input than one turn handles wait here for
	 * RUN_EV: a ring of peers, each with its connections in turn order,
	 * found by key in RUN_INDEX (conn.c). */
	struct run_peer *run_head, *run_tail;
	struct run_peer *run_index[RUN_PEER_BUCKETS];
	struct event *run_ev;
	/* Monotonic microseconds when the turn being handled began, read
	 * at its first request (server_turn_us); 0 between turns. */
	uint64_t turn_us;
	struct metrics *metrics;     /* counters and the metrics endpoint (metrics.c) */
	int metrics_counting;        /* the endpoint is on: requests are counted */
	struct peers_dir *peers_dir; /* `peers-dir` names (peers-dir.c); NULL: none */
	struct guests *guests;       /* guests' systemd notifications (guests.c) */
};

/* Milliseconds since the daemon started. */
uint64_t server_uptime_ms(const struct server *s);

/* The monotonic clock in microseconds as the current turn began
 * handling requests: read once per turn, not per request (pipelined
 * requests share it), so a request's time counts from that moment. */
uint64_t server_turn_us(struct server *s);

/* Pauses accepting on every listener for REASON (the notify listeners
 * only for ACCEPT_PAUSE_NOFILE; listeners_follow_pause()). */
void server_pause_accepting(struct server *s, enum accept_pause reason);

/* Lifts REASON; accepting resumes once no reason is left. */
void server_resume_accepting(struct server *s, enum accept_pause reason);

/* Counts one more connection for KEY. Returns the new count. */
unsigned int peer_count_add(struct server *s, const char *key);

/* Counts one connection less for KEY. */
void peer_count_remove(struct server *s, const char *key);

/* The counts of peer KEY, or NULL if it has no connection open. */
const struct peer_count *peer_count_find(const struct server *s, const char *key);

/* The entry of peer KEY, which a connection counted under KEY may keep
 * until it stops being counted under KEY; NULL if there is none. */
struct peer_count *peer_count_entry(struct server *s, const char *key);

/* Counts one command daemon-wide and in P, a connection's own entry
 * (NULL: not counted per peer): server_count without the lookup. */
static inline void server_count_command(struct server *s, struct peer_count *p)
{
	s->stats.commands++;
	if (p != NULL)
		p->stats.commands++;
}

/* Counts one event WHAT daemon-wide and for peer KEY (NULL: daemon-wide
 * only; nothing for a peer without an open connection). */
void server_count(struct server *s, const char *key, enum server_counter what);

/* Makes the shared line buffer hold LEN + 1 bytes and ARGV MAX_ARGS
 * pointers. Returns 0 or -1 (ENOMEM). */
int server_reserve_scratch(struct server *s, size_t len, int max_args);

/* Opens the listeners of CONF (not under socket activation) and returns
 * them in *OUT, reusing those of S whose address is unchanged. Returns 0,
 * or -1 after logging why: then S's listeners are exactly as they were,
 * identities and CIDs included (listeners_configure applies those). */
int listeners_open(struct server *s, const struct config *conf, struct listener **out);

/* Adopts the sockets systemd passed (LISTEN_FDS). Returns how many, or
 * -1 after logging why. */
int listeners_adopt_systemd(struct server *s, const struct config *conf);

/* Gives every listener of S the identity and vsock-mux CID of its listen
 * line in CONF (a reload in force), systemd's sockets too. */
void listeners_configure(struct server *s, const struct config *conf);

/* The listener of S with address TEXT, or NULL. */
struct listener *listener_find(struct server *s, const char *text);

/* Replaces S's listeners with NEW, closing those not in NEW. */
void listeners_replace(struct server *s, struct listener *fresh);

/* Closes every listener. */
void listeners_close_all(struct server *s);

/* Makes the listeners follow S->accept_paused: the config's listeners
 * accept only while nothing pauses them, guests' notify listeners
 * (notify-listen, guests.c) while descriptors are not short. */
void listeners_follow_pause(struct server *s);

/* sd_notify helpers (notify.c). */
/* Opens the notify socket named by $NOTIFY_SOCKET, if any; call before
 * any other notify_*(). Returns 0 or -1. */
int notify_open(struct server *s);
/* Sends what still waits (for at most a second) and closes the socket. */
void notify_close(void);
void notify_ready(struct server *s);
void notify_reloading(void);
void notify_stopping(void);
/* Starts the STATUS and watchdog timers. Returns 0 or -1. */
int notify_start_timers(struct server *s);

#endif /* UDO_VSOCKD_SERVER_H */
