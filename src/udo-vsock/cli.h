/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cli.h - shared definitions of the udo-vsock command-line client */
#ifndef UDO_CLI_H
#define UDO_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include <udo/vsock-addr.h>

struct cli_pump;

/* Exit statuses, one per failure class (documented in udo-vsock(1)). */
enum cli_exit {
	CLI_EXIT_OK = 0,        /* every request answered OK */
	CLI_EXIT_ERR = 1,       /* the server answered ERR (any code) */
	CLI_EXIT_USAGE = 2,     /* bad command line or input */
	CLI_EXIT_CONNECT = 3,   /* the connection could not be made */
	CLI_EXIT_TIMEOUT = 4,   /* connect or reply timed out */
	CLI_EXIT_PROTOCOL = 5,  /* bad reply, or connection lost before a status line */
	CLI_EXIT_LOCAL = 6,     /* put/get: the local file could not be read or written */
	CLI_EXIT_INTEGRITY = 7, /* put/get: the SHA-256 of the bytes moved differs */
	CLI_EXIT_SESSION = 255, /* with -t, or after OK session: any failure of the CLI itself */
};

/* --window: its default and bounds (bytes). */
#define CLI_WINDOW_DEFAULT (256 * 1024)
#define CLI_WINDOW_MIN     (4 * 1024)
#define CLI_WINDOW_MAX     (16 * 1024 * 1024)

/* Everything the command line selects. */
struct cli_options {
	struct udo_vsock_addr addr;
	const char *addr_text;
	int reply_timeout_ms;            /* < 0: wait forever */
	unsigned int connect_timeout_ms; /* 0: no limit of ours */
	long retries;                    /* --retry: retries allowed; < 0: not given */
	int64_t wait_ms;                 /* --wait: retry window; < 0: not given */
	bool raw;
	bool escape_out; /* stdout is a terminal and not --raw */
	bool escape_err; /* stderr is a terminal and not --raw */
	bool no_ok;
	bool json; /* --json: one JSON object per reply (json.c) */
	bool verbose;
	bool tty;        /* -t: a terminal for a session, as ssh -t (tty.c) */
	uint32_t window; /* --window: session output bytes granted ahead, per channel */
};

/* Prints "udo-vsock: " and the formatted message to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t cli_now_ms(void);

/*
 * Connects to OPT->addr, retrying as --retry/--wait allow with
 * exponential backoff (100 ms doubling up to 2 s). *RETRIES_USED counts
 * retries over the whole run and is updated. Returns a non-blocking
 * connected fd, or -1 after printing the reason, with *CLASS set to
 * CLI_EXIT_CONNECT, CLI_EXIT_TIMEOUT or CLI_EXIT_PROTOCOL.
 */
int cli_connect(const struct cli_options *opt, unsigned int *retries_used, int *klass);

/* Sleeps before retry number N (0-based) of a series that began at
 * SINCE_MS and returns true, or returns false at once when the budget of
 * OPT is used up (count in *RETRIES_USED, window from SINCE_MS). */
bool cli_retry_backoff(const struct cli_options *opt, unsigned int *retries_used, unsigned int n, int64_t since_ms);

/* Runs one request (one-shot) or standard input (batch) through the
 * pump with reconnects, and a session after OK session. Returns the exit
 * status (the session's own when P->session is set). */
int cli_run_pipelined(const struct cli_options *opt, struct cli_pump *p);

/* The interactive loop on a terminal. Returns the exit status; *SESSION
 * is set when it ended with a session (then its status is final). */
int cli_run_interactive(const struct cli_options *opt, bool *session);

/* The put and get verbs (files.c): ARGV[0] is "put" or "get", ARGC
 * words in all. Returns the exit status. */
int cli_files_run(const struct cli_options *opt, int argc, char **argv);

#endif /* UDO_CLI_H */
