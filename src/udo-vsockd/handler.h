/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* handler.h - handler kinds, and the request a kind answers (replies: request.h) */
#ifndef UDO_VSOCKD_HANDLER_H
#define UDO_VSOCKD_HANDLER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "peer.h"
#include "ratelimit.h"

struct command;
struct config;
struct conn;
struct metrics_command;
struct metrics_peer;
struct option_spec;
struct request;
struct server;

/* What run() tells the connection, which decides what comes next (tmux's
 * cmd_retval): the request is answered, or its answer comes later. */
enum req_status {
	REQ_DONE,    /* finished with request_ok/_err before run() returned */
	REQ_PENDING, /* to be finished later from the event loop, or cancelled */
};

/*
 * A handler kind, named in the config by `handler = NAME`. Looked up
 * while the config is parsed, so a misspelt name is a config error.
 * The arity of client arguments is checked once by the dispatcher
 * before run() is called.
 */
struct handler_kind {
	const char *name;
	int min_args, max_args; /* default arity; -1: no maximum */
	const char *usage;      /* default usage text of the arguments */
	const char *summary;    /* default one-line description */
	/* The kind's options (util.h), applied to get_data(CMD) with CMD as
	 * the context of parse callbacks. NULL: none. */
	const struct option_spec *options;
	/* CMD->data, made with the defaults on first use; NULL when out of
	 * memory. Required with options. */
	void *(*get_data)(struct command *cmd);
	/* Takes an option not in the table (a module's own). Returns 0, or
	 * -1 with a message in WHY. NULL: none. */
	int (*set_option)(struct command *cmd, const char *key, const char *value, char *why, size_t whylen);
	/* Writes what set_option took to OUT as "key = value" lines, for
	 * udo-vsockd -D. NULL: nothing. */
	void (*format_options)(const struct command *cmd, FILE *out);
	/* Checks the command once all its options are in. Returns 0 or -1
	 * with a message in WHY. NULL: nothing to check. */
	int (*check)(struct command *cmd, char *why, size_t whylen);
	/* Answers REQ: finishes it with request_ok/request_err before
	 * returning REQ_DONE, or later from the event loop after returning
	 * REQ_PENDING. REQ->argv is valid only during run. */
	enum req_status (*run)(struct request *req);
	/* The connection of an unfinished REQ went away: stop the work and
	 * call request_finish_cancelled(REQ). NULL: run always finishes. */
	void (*cancel)(struct request *req);
	/* Frees CMD->data. NULL: nothing to free. */
	void (*free_data)(void *data);
};

/* Receives a connection being handed away: FD is the client's socket
 * (still the connection's: dup or pass it before returning), PENDING the
 * PENDING_LEN bytes of input read but not handled. FD is -1 if the
 * connection failed first: then only release ARG. */
typedef void (*request_detach_fn)(int fd, const char *pending, size_t pending_len, const struct peer *peer, void *arg);

/*
 * How a request reaches its connection: the connection (conn.c) sets
 * these, so the request layer and the kinds below it never call up into
 * conn.c by name. Every function takes the request's connection.
 */
struct request_ops {
	/* Appends LEN bytes of reply; never fails (without memory the
	 * connection breaks and is closed at the next safe point). */
	void (*write)(struct conn *c, const void *data, size_t len);
	/* Writes what the socket takes now, the rest when it is writable. */
	void (*flush)(struct conn *c);
	/* Writes at the end of this loop turn, once however often asked. */
	void (*flush_soon)(struct conn *c);
	/* Drops the connection at the next safe point, logging WHY. */
	void (*fail)(struct conn *c, const char *why);
	/* The pending request has finished: flush, go on with the lines. */
	void (*done)(struct conn *c);
	/* Unsent reply bytes, and max-output-buffer in *LIMIT. */
	size_t (*output_pending)(const struct conn *c, size_t *limit);
	/* Calls CB(ARG) once when unsent output falls to BELOW bytes or
	 * fewer; CB NULL cancels. Returns 0. */
	int (*on_drain)(struct conn *c, size_t below, void (*cb)(void *arg), void *arg);
	/* True if a write failed: the connection goes at the next turn. */
	int (*broken)(const struct conn *c);
	/* After this reply: close; or hand the socket to FN; or bridge. */
	void (*close_after_reply)(struct conn *c);
	void (*detach_after_flush)(struct conn *c, request_detach_fn fn, void *arg);
	void (*bridge_after_flush)(struct conn *c, void (*start)(struct conn *c, void *arg), void (*release)(void *arg),
	                           void *arg);
};

/* One command being answered. */
struct request {
	struct server *server;
	struct conn *conn;                  /* NULL once the client has gone (opaque: see ops) */
	const struct request_ops *ops;      /* the connection's, set by it */
	const char *peer_key;               /* its peer's key in the per-peer counts, */
	uint32_t peer_hash;                 /* ... and util_fnv1a() of it (the connection's) */
	struct metrics_peer **metrics_slot; /* the connection's cache of METRICS_PEER */
	struct config *config;              /* the config it was dispatched under (a reference) */
	const struct command *cmd;
	int argc; /* argv[0] is the command word */
	char **argv;
	const struct peer *peer;           /* who asked, as the kernel reported it (the
	                                    * connection's: a request never outlives it) */
	void *state;                       /* the handler's, for an asynchronous answer */
	int finished;                      /* answered (or cancelled) */
	uint64_t started_us;               /* when it was dispatched (monotonic), for its audit entry */
	uint64_t bytes_out;                /* reply bytes written for it */
	char *audit_args;                  /* the arguments, quoted, when the command has audit-args (malloc'd) */
	char audit_command[33];            /* the command word for its audit entry; "": not audited */
	int audit_hold;                    /* a cancel that an answer follows: audit and count at the answer */
	struct ratelimit_cache audit_rl;   /* its peer_key's audit window (the connection's; zeroed with the key) */
	struct metrics_command *metrics;   /* its command's counters while the endpoint is on, else NULL */
	struct metrics_peer *metrics_peer; /* ... and its peer's */
	int pending;                       /* run() returned REQ_PENDING: finishing tells the connection */
};

/* REQ_DONE if REQ is answered already, else REQ_PENDING: what a run()
 * returns when a callback may have answered at once. */
static inline enum req_status request_outcome(const struct request *req)
{
	return req->finished ? REQ_DONE : REQ_PENDING;
}

/* The peer key of REQ's connection and its hash in *HASH, or NULL once
 * the connection has gone. */
static inline const char *request_peer_key(const struct request *req, uint32_t *hash)
{
	if (req->conn == NULL)
		return NULL;
	*hash = req->peer_hash;
	return req->peer_key;
}

/* The built-in handler kind called NAME, or NULL (kinds.c). */
const struct handler_kind *handler_find(const char *name);

#endif /* UDO_VSOCKD_HANDLER_H */
