/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* handler.h - handler modules: what a configured command runs */
#ifndef UDO_VSOCKD_HANDLER_H
#define UDO_VSOCKD_HANDLER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "peer.h"

struct command;
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

/* One command being answered. */
struct request {
	struct server *server;
	struct conn *conn;     /* NULL once the client has gone */
	struct config *config; /* the config it was dispatched under (a reference) */
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

/* The built-in handler kind called NAME, or NULL (kinds.c). */
const struct handler_kind *handler_find(const char *name);

/* Sends one data line ("D " PAYLOAD LF) of LEN bytes; an LF inside
 * PAYLOAD ends the line and starts a new one. */
void request_data(struct request *req, const char *payload, size_t len);

/* Sends one formatted data line. */
void request_dataf(struct request *req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Finishes REQ with "OK" and optional text (FMT may be NULL). */
void request_ok(struct request *req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Finishes REQ with "OK" and the N WORDS, each after a blank, without
 * printf (the hot path of PING). LF and CR in a word become blanks. */
void request_ok_words(struct request *req, int n, const char *const *words);

/* Finishes REQ with "ERR CODE message". */
void request_err(struct request *req, const char *code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Finishes a cancelled REQ without a reply. */
void request_finish_cancelled(struct request *req);

#endif /* UDO_VSOCKD_HANDLER_H */
