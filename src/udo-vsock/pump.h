/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pump.h - pipelined request/reply engine of the udo-vsock client */
#ifndef UDO_CLI_PUMP_H
#define UDO_CLI_PUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "cli.h"
#include "json.h"

/* Longest request line read from standard input. */
#define CLI_INPUT_LINE_MAX (1024 * 1024)

/* How replies are printed. */
enum cli_output {
	CLI_OUTPUT_ONESHOT, /* payloads to stdout; OK text if no data; ERR to stderr */
	CLI_OUTPUT_LIST,    /* each reply line to stdout as received ("D ...", "OK ...", "ERR ...") */
};

/* What cli_pump_run() stopped for. */
enum cli_pump_status {
	CLI_PUMP_IDLE,    /* all queued requests answered, no input left */
	CLI_PUMP_RESEND,  /* connection lost, but reconnecting is safe (see pump.c) */
	CLI_PUMP_FAILED,  /* fatal error, already printed; class in ->fatal */
	CLI_PUMP_PIPE,    /* OK proxy / OK handoff: the rest is a byte stream (cli_pump_pipe) */
	CLI_PUMP_SESSION, /* OK session: the rest is frames (cli_pump_session) */
};

/*
 * The pump writes queued request lines to the socket while it reads
 * replies (and, in batch mode, more request lines from an input fd), all
 * in one poll loop, so neither direction can deadlock the other.
 */
struct cli_pump {
	enum cli_output output;
	bool raw;
	bool json; /* replies as JSON objects, whatever the output mode */
	bool verbose;
	bool escape_out;      /* stdout is a terminal: show control bytes escaped */
	bool escape_err;      /* the same for server text on stderr */
	int reply_timeout_ms; /* < 0: none */
	int pipe_fd;          /* what a byte pipe reads: IN_FD, else standard input */

	int sock;  /* connected, non-blocking; -1 before cli_pump_attach */
	int in_fd; /* request lines to read, or -1 */
	bool in_eof;
	struct cli_buf in;    /* partial input line */
	struct cli_buf out;   /* request bytes to send (sent prefix kept for a resend) */
	struct cli_buf echo;  /* --raw: request lines whose reply has not started */
	struct cli_buf reply; /* partial reply line */
	uint64_t outstanding; /* requests queued and not answered */
	uint64_t ndata;       /* data lines of the reply under way */
	bool echoed;          /* --raw: request of the reply under way printed */
	bool piped;           /* a reply was OK proxy / OK handoff / OK session: no more lines */
	bool session;         /* ... and it was OK session */
	struct cli_json js;   /* --json: the data lines of the reply under way */

	/* Per connection. */
	bool got_reply_bytes;
	bool peer_eof;
	bool write_closed;
	int lost_errno;
	uint64_t sent_lines; /* complete request lines sent */
	bool sent_partial;   /* a request line is partly sent */
	uint64_t answered;   /* status lines received as replies */
	bool unasked_err;    /* the server sent an ERR line no request asked for */

	int result; /* first failure class seen, 0 if none */
	int fatal;  /* class of the error that stopped the pump, 0 if none */
};

/* Initialises P for OPT; IN_FD (or -1) supplies request lines. */
void cli_pump_init(struct cli_pump *p, const struct cli_options *opt, enum cli_output output, int in_fd);

/* Queues request LINE (LEN bytes, without LF; a blank line is skipped).
 * Returns 0, or -1 with errno ENOMEM. */
int cli_pump_queue(struct cli_pump *p, const char *line, size_t len);

/* Hands the connected socket SOCK to P (closing any previous one) and
 * re-queues the requests sent on it that a resend may repeat. */
void cli_pump_attach(struct cli_pump *p, int sock);

/* Runs until idle, a resend point or a fatal error. Never fails
 * otherwise: failures are reported as CLI_PUMP_FAILED with ->fatal set
 * and the message printed. */
enum cli_pump_status cli_pump_run(struct cli_pump *p);

/* Has the server closed the connection? Reads what it sent without
 * blocking: an unasked ERR line (idle timeout) is reported on the way,
 * anything else unasked is a protocol error (->fatal set, true returned). */
bool cli_pump_peer_closed(struct cli_pump *p);

/* Reports a connection loss that will not be retried (after
 * CLI_PUMP_RESEND). Returns the exit class (CLI_EXIT_PROTOCOL, or an
 * earlier failure). */
int cli_pump_give_up(struct cli_pump *p);

/* After CLI_PUMP_PIPE: copies bytes between the connection and standard
 * input/output (src/udo-vsock/pipe.c) until the server closes, half-closing
 * the connection at the end of the input. Returns the exit class of the
 * pipe itself: 0, CLI_EXIT_USAGE (unreadable input) or CLI_EXIT_PROTOCOL. */
int cli_pump_pipe(struct cli_pump *p);

/* After CLI_PUMP_SESSION: runs the exec session over the connection
 * (src/udo-vsock/session-frames.c) with standard input, output and error
 * as its channels, the terminal raw under -t, until the program's EXIT.
 * Returns the final exit status: the program's code, 128 + the number of
 * the signal that killed it, or CLI_EXIT_SESSION (255) after a failure of
 * the session itself (reported on stderr). */
int cli_pump_session(struct cli_pump *p, const struct cli_options *opt);

/* Writes LEN bytes of S to F, as cli_escape() shows them when ESCAPE. */
void cli_put_text(FILE *f, const char *s, size_t len, bool escape);

/* Closes the socket and frees the buffers. */
void cli_pump_destroy(struct cli_pump *p);

#endif /* UDO_CLI_PUMP_H */
