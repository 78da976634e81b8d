/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* daemon-harness.h - run the built udo-vsockd as a real process in tests:
 * config files, sd_notify socket, AF_VSOCK clients over CID 1, bounded
 * waits everywhere, children always reaped. */
#ifndef UDO_TESTS_DAEMON_HARNESS_H
#define UDO_TESTS_DAEMON_HARNESS_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "test-transport.h"

#define HARNESS_NOTES_MAX      1024
#define HARNESS_REPLY_DATA_MAX 64
#define HARNESS_LINE_MAX       1024 /* data lines are kept up to this */
#define HARNESS_STATUS_MAX     8192 /* status lines up to this */

/* A daemon under test and everything it was given. */
struct daemon {
	pid_t pid;            /* 0: not running */
	unsigned int port;    /* the vsock port of its config's listen line */
	unsigned int backlog; /* > 0: that listen line's backlog= (else the default) */
	char dir[256];        /* private temp directory */
	char conf_path[300];
	char notify_name[64];           /* abstract unix name, without the '@' */
	int notify_fd;                  /* our end: SOCK_DGRAM, bound to notify_name */
	char *notes[HARNESS_NOTES_MAX]; /* every notify message received, in order */
	int nnotes;
	int note_cursor;         /* daemon_wait_notify scans from here */
	int status;              /* wait status once reaped */
	struct client *statc;    /* the harness's own STATS connection, or NULL */
	long long stat_connects; /* connections the harness made for STATS */
	long long stat_requests; /* STATS requests the harness sent */
};

/* How to start a daemon beyond its config. */
struct daemon_opts {
	const char *env[8];    /* extra "KEY=VALUE" for its environment, NULL-ended */
	int listen_fd;         /* >= 0: pass as fd 3 with LISTEN_FDS=1, LISTEN_PID */
	int watchdog_pid_self; /* set WATCHDOG_PID to the daemon's own pid */
	const char *extra_arg; /* one more command-line argument (e.g. "-v"), or NULL */
	unsigned int nofile;   /* > 0: RLIMIT_NOFILE, soft and hard, set before exec */
	const char *log_path;  /* the daemon's stderr (its log) goes to this file, or NULL */
};

/* A buffered line reader on one connection. */
struct client {
	int fd;
	int eof; /* the peer closed (or reset) the connection */
	int err; /* errno of a failed recv, 0 if none */
	size_t len;
	char buf[8192];
};

/* One reply: data lines (each cut to HARNESS_LINE_MAX - 1 bytes; the
 * first HARNESS_REPLY_DATA_MAX kept, all counted) and the status line. */
struct reply {
	int ndata;
	char data[HARNESS_REPLY_DATA_MAX][HARNESS_LINE_MAX];
	char status[HARNESS_STATUS_MAX];
};

/* A reply whose data lines keep every byte (NULs, any length). */
struct raw_reply {
	int ndata;                              /* data lines, also those not kept */
	char *data[HARNESS_REPLY_DATA_MAX];     /* the first ones' payloads, NUL-terminated */
	size_t datalen[HARNESS_REPLY_DATA_MAX]; /* their lengths */
	size_t databytes;                       /* payload bytes of every data line */
	char status[HARNESS_STATUS_MAX];
};

/* Monotonic milliseconds. */
int64_t now_ms(void);

/* Sleeps MS milliseconds. */
void sleep_ms(int ms);

/* The path of the daemon binary under test. */
const char *daemon_binary(void);

/* Runs ARGV (NULL-ended) to completion within TIMEOUT_MS, collecting
 * stdout and stderr (NUL-terminated, truncated to their sizes). Returns
 * the exit status (0-255), 128+signal if killed, or -1 on timeout. */
int run_process(char *const argv[], char *out, size_t outlen, char *err, size_t errlen, int timeout_ms);

/* Writes TEXT to PATH (replaced atomically). Aborts the test on error. */
void write_file(const char *path, const char *text);

/* Makes a fresh private directory under $TMPDIR (or /tmp) in BUF. */
void make_temp_dir(char *buf, size_t len);

/* Removes DIR and everything in it (best effort). */
void remove_tree(const char *dir);

/* A port free right now (test_free_port()). */
unsigned int free_vsock_port(void);

/* A listening vsock socket on any CID and a free port (returned in *PORT). */
int vsock_listen_any(unsigned int *port);

/* Sets up D: temp dir, notify socket, free port; no config yet. */
void daemon_init(struct daemon *d);

/* Writes D's config: [daemon] listening on D->port with allow = any,
 * then DAEMON_EXTRA lines, the six built-in commands, then SECTIONS
 * (more [command] sections). Either may be NULL. */
void daemon_write_config(struct daemon *d, const char *daemon_extra, const char *sections);

/* Starts the daemon with D's config (OPTS may be NULL) and waits up to
 * TIMEOUT_MS (times UDO_TEST_PATIENCE, when set) for READY=1. Returns 0, or -1 (daemon killed and reaped). */
int daemon_start(struct daemon *d, const struct daemon_opts *opts, int timeout_ms);

/* Waits up to TIMEOUT_MS for a notify message with a line starting with
 * PREFIX, scanning from the cursor; the cursor moves past the match.
 * Returns the message (owned by D) or NULL on timeout or daemon exit. */
const char *daemon_wait_notify(struct daemon *d, const char *prefix, int timeout_ms);

/* Reads notify messages arriving within MS milliseconds into D's list. */
void daemon_collect_notify(struct daemon *d, int ms);

/* Counts the messages in D's list with a line starting with PREFIX. */
int daemon_count_notify(const struct daemon *d, const char *prefix);

/* True while the daemon process runs (reaps it if it exited). */
int daemon_alive(struct daemon *d);

/* Sends SIG to the daemon. */
void daemon_signal(struct daemon *d, int sig);

/* SIGTERM, then waits up to TIMEOUT_MS. Returns the exit code (0-255),
 * 128+signal if it died of one, or -1 if it had to be killed. */
int daemon_stop(struct daemon *d, int timeout_ms);

/* Waits up to TIMEOUT_MS (times UDO_TEST_PATIENCE, when set) for the
 * daemon to exit by itself; the result
 * is as for daemon_stop (-1: still running, then killed). */
int daemon_wait_exit(struct daemon *d, int timeout_ms);

/* Kills (SIGKILL) and reaps the daemon if it runs; frees D's resources
 * and removes its directory. Safe to call twice. */
void daemon_cleanup(struct daemon *d);

/* The number of open fds of PID (fails the test if /proc cannot tell). */
int process_fd_count(pid_t pid);

/* Raises this process's soft RLIMIT_NOFILE (which the daemon inherits)
 * to at least N, up to the hard limit; fails the test if N is above it. */
void need_nofile(unsigned int n);

/* The number of processes (zombies too) whose parent is PID, or -1 if
 * /proc cannot be read. */
int process_child_count(pid_t pid);

/* Waits up to TIMEOUT_MS until PID has WANT open fds; returns the last
 * count, for the caller to assert on. */
int wait_fd_count(pid_t pid, int want, int timeout_ms);

/* Waits up to TIMEOUT_MS until PID has WANT children; returns the last
 * count (-1: /proc cannot be read), for the caller to assert on. */
int wait_child_count(pid_t pid, int want, int timeout_ms);

/* The resident set size of PID in KiB (VmRSS), or -1. */
long process_rss_kib(pid_t pid);

/* Connects to CID 1 PORT within TIMEOUT_MS, with the vsock buffer size
 * RCVBUF if not 0 (over unix: test_connect_port()). Returns a
 * non-blocking fd or -1 with errno set. */
int vsock_connect_local(unsigned int port, int timeout_ms, unsigned long long rcvbuf);

/* Connects C to the daemon's port; fails the test if that does not work. */
void client_open(struct client *c, unsigned int port);

/* Connects C to the unix socket PATH (a unix listener of the daemon, a
 * VMM's socket); fails the test if that does not work. */
void client_open_unix(struct client *c, const char *path);

/* Connects C to PORT; returns 0 or -1 (errno set). */
int client_try_open(struct client *c, unsigned int port);

/* Connects C to PORT with a receive buffer of RCVBUF bytes (the credit
 * the daemon may send before C reads); fails the test on error. */
void client_open_rcvbuf(struct client *c, unsigned int port, unsigned long long rcvbuf);

/* Closes C. */
void client_close(struct client *c);

/* Sends LEN bytes within TIMEOUT_MS. Returns bytes sent (< LEN on
 * timeout), or -1 with errno on error. */
ssize_t client_send(struct client *c, const void *data, size_t len, int timeout_ms);

/* Sends the NUL-terminated TEXT; fails the test unless all is sent in 5 s. */
void client_send_str(struct client *c, const char *text);

/* Reads one line (without LF) into LINE within TIMEOUT_MS. Returns its
 * length, -1 on timeout, -2 at end of input (a partial last line stays
 * in the buffer), -3 if the line does not fit CAP. */
int client_read_line(struct client *c, char *line, size_t cap, int timeout_ms);

/* Reads "D ..." lines up to a status line within TIMEOUT_MS. Returns 0,
 * -1 on timeout, -2 on end of input, -3 on a malformed line. */
int client_read_reply(struct client *c, struct reply *r, int timeout_ms);

/* Reads one line of any length (without LF) into a new buffer, its
 * length in *LEN, within TIMEOUT_MS. Returns it, or NULL with *RC set
 * to -1 on timeout or -2 at end of input (a partial line is dropped). */
char *client_read_long_line(struct client *c, size_t *len, int timeout_ms, int *rc);

/* Reads a whole reply into R, data lines byte for byte; fails the test
 * if a line takes longer than TIMEOUT_MS. Free R with raw_reply_free. */
void client_read_raw_reply(struct client *c, struct raw_reply *r, int timeout_ms);

/* The value of R's data line "KEY=VALUE", or NULL if R has none. */
const char *reply_value(const struct reply *r, const char *key);

/* The number of R's data line "KEY=N", or -1 if R has none. */
long long reply_number(const struct reply *r, const char *key);

/* Frees the data lines of R. */
void raw_reply_free(struct raw_reply *r);

/* Sends LINE plus LF and reads its reply into R; fails the test unless a
 * complete reply comes within TIMEOUT_MS. */
void client_request(struct client *c, const char *line, struct reply *r, int timeout_ms);

/* Reads one line on C within TIMEOUT_MS and fails the test unless it is
 * exactly WANT. */
void client_expect_line(struct client *c, const char *want, int timeout_ms);

/* True if end of input comes within TIMEOUT_MS with no more data. */
int client_wait_eof(struct client *c, int timeout_ms);

/* True if nothing arrives within MS milliseconds (and no EOF). */
int client_silent_for(struct client *c, int ms);

/* Polls COND (every 10 ms) until it holds; fails the test with the
 * printf-style message after TIMEOUT_MS. Use it for "until X has
 * happened" instead of a fixed sleep. */
#define WAIT_FOR(cond, timeout_ms, ...)                                                                                \
	do {                                                                                                           \
		int64_t wait_for_deadline_ = now_ms() + (timeout_ms);                                                  \
		while (!(cond)) {                                                                                      \
			if (now_ms() >= wait_for_deadline_) {                                                          \
				fprintf(stderr, "%s:%d: waited %d ms for %s\n", __FILE__, __LINE__, (int)(timeout_ms), \
				        #cond);                                                                        \
				ck_abort_msg(__VA_ARGS__);                                                             \
			}                                                                                              \
			sleep_ms(10);                                                                                  \
		}                                                                                                      \
	} while (0)

/* The daemon's STATS counter KEY (a data line "KEY=N"), asked over the
 * harness's own connection (opened on first use, reopened if the daemon
 * closed it, closed by daemon_stat_close, daemon_stop and cleanup); the
 * harness's own connections and STATS requests are not counted in
 * connections, connections_total and commands (those of this process:
 * forked tests sharing one daemon see earlier tests' STATS in commands).
 * The connection counts against the daemon's limits and keeps the config
 * it was accepted under: close it before a reload that must drop one.
 * Fails the test if the daemon does not answer or has no such counter. */
long long daemon_stat(struct daemon *d, const char *key);

/* Waits up to TIMEOUT_MS until daemon_stat(D, KEY) >= N (e.g. "commands":
 * the daemon has read and dispatched N requests); fails the test with the
 * last value at the deadline. Returns the value reached. */
long long daemon_wait_stat(struct daemon *d, const char *key, long long n, int timeout_ms);

/* Waits up to TIMEOUT_MS until daemon_stat(D, KEY) == N (e.g. "connections"
 * back to 0 once clients have left); fails the test otherwise. */
void daemon_wait_stat_eq(struct daemon *d, const char *key, long long n, int timeout_ms);

/* Closes the harness's STATS connection, if open, and waits until the
 * daemon has closed its end (before counting the daemon's fds, or a
 * reload whose old config that connection would keep alive). */
void daemon_stat_close(struct daemon *d);

/* Waits up to TIMEOUT_MS until the daemon holds no client connection,
 * then closes the harness's own: a baseline for counting its fds. */
void daemon_wait_idle(struct daemon *d, int timeout_ms);

/* True if the daemon D maps a file whose path contains NAME (a module). */
int daemon_maps(struct daemon *d, const char *name);

/* True if PID no longer runs: gone, or a zombie nobody reaped yet. */
int process_gone(pid_t pid);

/* Waits up to TIMEOUT_MS until process PID (not necessarily our child) has
 * exited; fails the test otherwise. */
void wait_process_gone(pid_t pid, int timeout_ms);

/* Waits up to TIMEOUT_MS until PATH exists; fails the test otherwise. */
void wait_file_exists(const char *path, int timeout_ms);

/* True if the file PATH contains TEXT (a missing file contains nothing). */
int file_contains(const char *path, const char *text);

/* Waits up to TIMEOUT_MS until the file PATH (e.g. the daemon's log)
 * contains TEXT; fails the test otherwise. */
void wait_file_contains(const char *path, const char *text, int timeout_ms);

/* Starts examples/handoff-echo on unix:PATH; returns its pid once the
 * socket exists. */
pid_t handoff_echo_start(const char *path);

/* Kills the child process PID (SIGKILL) and reaps it. */
void kill_and_reap(pid_t pid);

/* Starts an echo service on the listening socket LFD (closed here) in a
 * child, one grandchild per connection, each echoing until end of input
 * and then half-closing. Returns the child's pid. */
pid_t echo_service_start(int lfd);

/* GETs PATH from a metrics endpoint on the unix socket SOCK with
 * HTTP/1.0 and returns the whole response (malloc'd), or NULL if SOCK
 * takes no connection. Fails the test if the answer takes over 5 s. */
char *metrics_http_get(const char *sock, const char *path);

/* The value of the sample SERIES (name and labels, exactly) on PAGE; 0
 * if the page has no such line. */
long long metrics_sample(const char *page, const char *series);

#endif /* UDO_TESTS_DAEMON_HARNESS_H */
