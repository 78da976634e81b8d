/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kinds/exec.c - the `exec` handler kind: a configured command runs a program.
 *
 * The program is spawned with posix_spawn (never a shell) in a process
 * group of its own, with a cleared environment, stdin from /dev/null or
 * from the request, and stdout and stderr merged into one pipe that the
 * event loop reads; every output line becomes one data line. The request
 * finishes once the program has been reaped AND its output pipe reached
 * EOF (or a short drain time passed after the exit, for grandchildren that
 * keep the pipe open). Children are reaped from a SIGCHLD event of the
 * loop, per tracked pid, so a cancelled request's child is still reaped.
 * While the client has max-output-buffer bytes unsent, the pipe is not
 * read (the program blocks writing), so a slow client costs no memory. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include <udo/vsock-frame.h>

#include "../arg-pattern.h"
#include "../conf.h"
#include "../event-watch.h"
#include "../exec-hook.h"
#include "../handler.h"
#include "../jobs.h"
#include "../log.h"
#include "../metrics.h"
#include "../proto.h"
#include "../request.h"
#include "../server.h"
#include "../session.h"
#include "../util.h"

#define EXEC_MAX_FIXED_ARGS    256
#define EXEC_KILL_GRACE_MS     1000 /* SIGTERM to SIGKILL at a timeout */
#define EXEC_DRAIN_MS          500  /* output still open after the program exited */
#define EXEC_READ_CHUNK        16384
#define EXEC_SESSION_PIPE_SIZE (1 << 20) /* a session's stdin and stdout pipes */

/* mode = session: defaults and bounds (udo-vsockd.conf(5)). */
#define EXEC_TIMEOUT_REQUEST_MS 10000    /* timeout of mode = request */
#define EXEC_TIMEOUT_SESSION_MS 86400000 /* timeout of mode = session: a day */
#define EXEC_IDLE_SESSION_MS    3600000  /* idle-timeout: an hour */
#define EXEC_WINDOW_DEFAULT     (256 * 1024)
#define EXEC_WINDOW_MIN         1024
#define EXEC_WINDOW_MAX         (16 * 1024 * 1024)
#define EXEC_UNSET              UINT_MAX /* idle_ms: not given */

/* detach = yes: defaults and bounds (udo-vsockd.conf(5)). */
#define EXEC_JOB_OUTPUT_DEFAULT (64 * 1024)
#define EXEC_JOB_OUTPUT_MIN     1024
#define EXEC_JOB_OUTPUT_MAX     (16 * 1024 * 1024)
#define EXEC_JOB_KEEP_DEFAULT   600000 /* ten minutes */

/* One [command] section with `handler = exec`. */
struct exec_conf {
	char *path;
	char **args; /* fixed arguments after argv[0] (the path) */
	int nargs;
	int client_args;             /* append the client's arguments to argv */
	int max_client_args;         /* -1: unset */
	struct arg_pattern *pattern; /* NULL: any argument */
	char *pattern_text;          /* its text, for udo-vsockd -D */
	char *directory;
	char **env_pass; /* names copied from the daemon's environment */
	int nenv_pass;
	char **env_set; /* NAME=VALUE */
	int nenv_set;
	unsigned int timeout_ms; /* 0 until exec_check: the mode's default */
	size_t max_output_bytes;
	unsigned int max_output_lines;
	int stdin_request; /* stdin gets the client's arguments, one a line */
	unsigned int max_concurrent;
	unsigned int max_concurrent_per_peer;
	int usage_set;
	int session;           /* mode = session: frames after "OK session" */
	int pty;               /* pty = yes: a terminal (sessions only) */
	size_t session_window; /* 0 until exec_check */
	unsigned int idle_ms;  /* idle-timeout; EXEC_UNSET until exec_check */
	int detach;            /* detach = yes: a job that outlives the connection (jobs.c) */
	size_t job_output;     /* job-output: output kept per job; 0 until exec_check */
	unsigned int job_keep; /* job-keep: an ended job is remembered this long (ms) */
};

/* The exec conf of CMD, allocated with the defaults on first use. Returns
 * it, or NULL when out of memory. */
static void *exec_conf_get(struct command *cmd)
{
	struct exec_conf *ec = cmd->data;

	if (ec != NULL)
		return ec;
	ec = calloc(1, sizeof(*ec));
	if (ec == NULL)
		return NULL;
	ec->max_client_args = -1;
	ec->idle_ms = EXEC_UNSET;
	ec->max_output_bytes = 1048576;
	ec->max_output_lines = 10000;
	ec->max_concurrent = 16;
	ec->max_concurrent_per_peer = 4;
	ec->job_keep = EXEC_UNSET;
	cmd->data = ec;
	return ec;
}

/* Frees a NULL-safe string vector of N entries. */
static void strv_free(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Appends a copy of S to *V (of *N entries). Returns 0 or -1 (ENOMEM). */
static int strv_append(char ***v, int *n, const char *s)
{
	char **nv = realloc(*v, sizeof(*nv) * (size_t)(*n + 1));
	char *copy = strdup(s);

	if (nv == NULL || copy == NULL) {
		free(copy);
		if (nv != NULL)
			*v = nv;
		return -1;
	}
	nv[(*n)++] = copy;
	*v = nv;
	return 0;
}

/* Frees an exec conf (the handler's free_data). */
static void exec_free_data(void *data)
{
	struct exec_conf *ec = data;

	free(ec->path);
	strv_free(ec->args, ec->nargs);
	arg_pattern_free(ec->pattern);
	free(ec->pattern_text);
	free(ec->directory);
	strv_free(ec->env_pass, ec->nenv_pass);
	strv_free(ec->env_set, ec->nenv_set);
	free(ec);
}

/* True if NAME is an environment variable name: [A-Za-z_][A-Za-z0-9_]*. */
static int valid_env_name(const char *name, size_t len)
{
	if (len == 0 || (name[0] >= '0' && name[0] <= '9'))
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
			return 0;
	}
	return 1;
}

/* `args`: split with the request quoting rules. */
static int exec_args(const struct option_spec *spec, void *target, void *ctx, const char *value, char *why,
                     size_t whylen)
{
	struct exec_conf *ec = target;
	/* udo_vsock_proto_parse_line lower-cases its first word: put a dummy one first. */
	size_t len = strlen(value) + 2;
	char *line = malloc(len + 1);
	char *words[EXEC_MAX_FIXED_ARGS + 1];
	const char *werr = "out of memory";
	int n = 0;

	if (line == NULL)
		return -1;
	snprintf(line, len + 1, "x %s", value);
	enum udo_vsock_proto_parse_result r =
	    udo_vsock_proto_parse_line(line, len, words, EXEC_MAX_FIXED_ARGS + 1, &n, &werr);
	if (r != UDO_VSOCK_PROTO_PARSE_OK) {
		snprintf(why, whylen, "args: %s",
		         r == UDO_VSOCK_PROTO_PARSE_TOO_MANY ? "more than 256 arguments" : werr);
		free(line);
		return -1;
	}
	strv_free(ec->args, ec->nargs);
	ec->args = NULL;
	ec->nargs = 0;
	for (int i = 1; i < n; i++) {
		if (strv_append(&ec->args, &ec->nargs, words[i]) < 0) {
			free(line);
			return -1;
		}
	}
	free(line);
	return 0;
}

/* `path` and `directory`: absolute, and an executable regular file or
 * (`directory`) a directory. */
static int exec_path(const struct option_spec *spec, void *target, void *ctx, const char *value, char *why,
                     size_t whylen)
{
	char **field = (char **)((char *)target + spec->offset);
	int dir = spec->name[0] == 'd';
	struct stat st;

	if (value[0] != '/') {
		snprintf(why, whylen, "%s: '%s' is not an absolute path", spec->name, value);
		return -1;
	}
	if (stat(value, &st) < 0) {
		snprintf(why, whylen, "%s: %s: %s", spec->name, value, strerror(errno));
		return -1;
	}
	if (dir && !S_ISDIR(st.st_mode)) {
		snprintf(why, whylen, "%s: %s is not a directory", spec->name, value);
		return -1;
	}
	if (!dir && (!S_ISREG(st.st_mode) || access(value, X_OK) < 0)) {
		snprintf(why, whylen, "%s: %s is not an executable file", spec->name, value);
		return -1;
	}
	char *copy = strdup(value);
	if (copy == NULL)
		return -1;
	free(*field);
	*field = copy;
	return 0;
}

/* `arg-pattern`: compiled now, so a bad one is a config error. */
static int exec_arg_pattern(const struct option_spec *spec, void *target, void *ctx, const char *value, char *why,
                            size_t whylen)
{
	struct exec_conf *ec = target;
	char err[160];
	struct arg_pattern *pattern = arg_pattern_compile(value, err, sizeof(err));

	if (pattern == NULL) {
		snprintf(why, whylen, "arg-pattern: '%s': %s", value, err);
		return -1;
	}
	char *text = strdup(value);
	if (text == NULL) {
		arg_pattern_free(pattern);
		return -1;
	}
	arg_pattern_free(ec->pattern);
	free(ec->pattern_text);
	ec->pattern = pattern;
	ec->pattern_text = text;
	return 0;
}

/* `env-pass`: variable names, blank-separated; added to the earlier ones. */
static int exec_env_pass(const struct option_spec *spec, void *target, void *ctx, const char *value, char *why,
                         size_t whylen)
{
	struct exec_conf *ec = target;
	char *copy = strdup(value), *save = NULL;
	int rc = copy != NULL ? 0 : -1;

	for (char *w = copy != NULL ? strtok_r(copy, " \t", &save) : NULL; w != NULL && rc == 0;
	     w = strtok_r(NULL, " \t", &save)) {
		if (!valid_env_name(w, strlen(w)) || strncmp(w, "UDO_", 4) == 0) {
			snprintf(why, whylen, "env-pass: '%s' is not a variable name (or starts with UDO_)", w);
			rc = -1;
		} else if (strv_append(&ec->env_pass, &ec->nenv_pass, w) < 0) {
			rc = -1;
		}
	}
	free(copy);
	return rc;
}

/* `env-set`: one NAME=VALUE; added to the earlier ones. */
static int exec_env_set(const struct option_spec *spec, void *target, void *ctx, const char *value, char *why,
                        size_t whylen)
{
	struct exec_conf *ec = target;
	const char *eq = strchr(value, '=');

	if (eq == NULL || !valid_env_name(value, (size_t)(eq - value)) || strncmp(value, "UDO_", 4) == 0) {
		snprintf(why, whylen, "env-set: '%s' is not NAME=VALUE (NAME not starting with UDO_)", value);
		return -1;
	}
	return strv_append(&ec->env_set, &ec->nenv_set, value);
}

/* `stdin`: null or request. */
static int exec_stdin(const struct option_spec *spec, void *target, void *ctx, const char *value, char *why,
                      size_t whylen)
{
	struct exec_conf *ec = target;

	if (strcmp(value, "null") != 0 && strcmp(value, "request") != 0) {
		snprintf(why, whylen, "stdin: '%s' is not null or request", value);
		return -1;
	}
	ec->stdin_request = value[0] == 'r';
	return 0;
}

/* `mode`: request or session. */
static int exec_mode(const struct option_spec *spec, void *target, void *ctx, const char *value, char *why,
                     size_t whylen)
{
	struct exec_conf *ec = target;

	if (strcmp(value, "request") != 0 && strcmp(value, "session") != 0) {
		snprintf(why, whylen, "mode: '%s' is not request or session", value);
		return -1;
	}
	ec->session = value[0] == 's';
	return 0;
}

/* Writes `mode`. */
static void exec_mode_format(const struct option_spec *spec, const void *target, const void *ctx, FILE *out)
{
	fprintf(out, "%s = %s\n", spec->name, ((const struct exec_conf *)target)->session ? "session" : "request");
}

/* `usage`: the command's usage text (CTX, the command), kept by exec_check. */
static int exec_usage(const struct option_spec *spec, void *target, void *ctx, const char *value, char *why,
                      size_t whylen)
{
	struct exec_conf *ec = target;
	struct command *cmd = ctx;
	char *u = strdup(value);

	if (u == NULL)
		return -1;
	free(cmd->usage);
	cmd->usage = u;
	ec->usage_set = 1;
	return 0;
}

/* Writes `args`: the fixed arguments, each quoted as it needs. */
static void exec_args_format(const struct option_spec *spec, const void *target, const void *ctx, FILE *out)
{
	const struct exec_conf *ec = target;

	if (ec->nargs == 0) {
		option_format_unset(spec->name, out);
		return;
	}
	fprintf(out, "%s =", spec->name);
	for (int i = 0; i < ec->nargs; i++) {
		fputc(' ', out);
		config_print_word(out, ec->args[i]);
	}
	fputc('\n', out);
}

/* Writes `arg-pattern` as it was given. */
static void exec_arg_pattern_format(const struct option_spec *spec, const void *target, const void *ctx, FILE *out)
{
	const struct exec_conf *ec = target;

	if (ec->pattern_text == NULL)
		option_format_unset(spec->name, out);
	else
		fprintf(out, "%s = %s\n", spec->name, ec->pattern_text);
}

/* Writes `env-pass`: every name on one line. */
static void exec_env_pass_format(const struct option_spec *spec, const void *target, const void *ctx, FILE *out)
{
	const struct exec_conf *ec = target;

	if (ec->nenv_pass == 0) {
		option_format_unset(spec->name, out);
		return;
	}
	fprintf(out, "%s =", spec->name);
	for (int i = 0; i < ec->nenv_pass; i++)
		fprintf(out, " %s", ec->env_pass[i]);
	fputc('\n', out);
}

/* Writes `env-set`: one line per variable, in order. */
static void exec_env_set_format(const struct option_spec *spec, const void *target, const void *ctx, FILE *out)
{
	const struct exec_conf *ec = target;

	if (ec->nenv_set == 0)
		option_format_unset(spec->name, out);
	for (int i = 0; i < ec->nenv_set; i++)
		fprintf(out, "%s = %s\n", spec->name, ec->env_set[i]);
}

/* Writes `stdin`. */
static void exec_stdin_format(const struct option_spec *spec, const void *target, const void *ctx, FILE *out)
{
	fprintf(out, "%s = %s\n", spec->name, ((const struct exec_conf *)target)->stdin_request ? "request" : "null");
}

/* Writes `usage` when it was set (else exec_check derives it). */
static void exec_usage_format(const struct option_spec *spec, const void *target, const void *ctx, FILE *out)
{
	const struct exec_conf *ec = target;
	const struct command *cmd = ctx;

	if (ec->usage_set && cmd->usage != NULL)
		fprintf(out, "%s = %s\n", spec->name, cmd->usage);
	else
		option_format_unset(spec->name, out);
}

/* The options of an exec command (udo-vsockd.conf(5)). */
static const struct option_spec exec_options[] = {
    OPTION("path", OPT_STRING, 0, 0, struct exec_conf, path, exec_path),
    OPTION("directory", OPT_STRING, 0, 0, struct exec_conf, directory, exec_path),
    OPTION_CUSTOM("args", exec_args, exec_args_format),
    OPTION("client-args", OPT_BOOL, 0, 1, struct exec_conf, client_args, NULL),
    OPTION("max-client-args", OPT_NUMBER, 0, 65536, struct exec_conf, max_client_args, NULL),
    OPTION_CUSTOM("arg-pattern", exec_arg_pattern, exec_arg_pattern_format),
    OPTION_CUSTOM("env-pass", exec_env_pass, exec_env_pass_format),
    OPTION_CUSTOM("env-set", exec_env_set, exec_env_set_format),
    OPTION("timeout", OPT_DURATION, 1, 86400000, struct exec_conf, timeout_ms, NULL),
    OPTION_CUSTOM("mode", exec_mode, exec_mode_format),
    OPTION("pty", OPT_BOOL, 0, 1, struct exec_conf, pty, NULL),
    OPTION("session-window", OPT_SIZE, EXEC_WINDOW_MIN, EXEC_WINDOW_MAX, struct exec_conf, session_window, NULL),
    OPTION("idle-timeout", OPT_DURATION, 0, 86400000, struct exec_conf, idle_ms, NULL),
    OPTION("detach", OPT_BOOL, 0, 1, struct exec_conf, detach, NULL),
    OPTION("job-output", OPT_SIZE, EXEC_JOB_OUTPUT_MIN, EXEC_JOB_OUTPUT_MAX, struct exec_conf, job_output, NULL),
    OPTION("job-keep", OPT_DURATION, 1000, 604800000, struct exec_conf, job_keep, NULL),
    OPTION("max-output-bytes", OPT_SIZE, 0, 1ULL << 30, struct exec_conf, max_output_bytes, NULL),
    OPTION("max-output-lines", OPT_NUMBER, 0, 100000000, struct exec_conf, max_output_lines, NULL),
    OPTION_CUSTOM("stdin", exec_stdin, exec_stdin_format),
    OPTION("max-concurrent", OPT_NUMBER, 1, 100000, struct exec_conf, max_concurrent, NULL),
    OPTION("max-concurrent-per-peer", OPT_NUMBER, 1, 100000, struct exec_conf, max_concurrent_per_peer, NULL),
    OPTION_CUSTOM("usage", exec_usage, exec_usage_format),
    OPTION_END,
};

/* Checks the whole exec command and sets its arity and usage. Returns 0,
 * or -1 with a message in WHY. */
static int exec_check(struct command *cmd, char *why, size_t whylen)
{
	struct exec_conf *ec = exec_conf_get(cmd);

	if (ec == NULL || ec->path == NULL) {
		snprintf(why, whylen, "%s", ec == NULL ? "out of memory" : "handler 'exec' needs 'path'");
		return -1;
	}
	if (!ec->session && (ec->pty || ec->session_window != 0 || ec->idle_ms != EXEC_UNSET)) {
		snprintf(why, whylen, "pty, session-window and idle-timeout need mode = session");
		return -1;
	}
	if (ec->detach && (ec->session || ec->stdin_request)) {
		snprintf(why, whylen,
		         "detach = yes is for mode = request without stdin = request (a job's stdin is "
		         "/dev/null; ATTACH follows its output)");
		return -1;
	}
	if (!ec->detach && (ec->job_output != 0 || ec->job_keep != EXEC_UNSET)) {
		snprintf(why, whylen, "job-output and job-keep need detach = yes");
		return -1;
	}
	if (ec->detach && ec->job_output == 0)
		ec->job_output = EXEC_JOB_OUTPUT_DEFAULT;
	if (ec->detach && ec->job_keep == EXEC_UNSET)
		ec->job_keep = EXEC_JOB_KEEP_DEFAULT;
	if (ec->session && ec->stdin_request) {
		snprintf(why, whylen, "stdin = request is for mode = request (a session's stdin comes in frames)");
		return -1;
	}
	if (ec->timeout_ms == 0)
		ec->timeout_ms = ec->session || ec->detach ? EXEC_TIMEOUT_SESSION_MS : EXEC_TIMEOUT_REQUEST_MS;
	if (ec->session && ec->session_window == 0)
		ec->session_window = EXEC_WINDOW_DEFAULT;
	if (ec->session && ec->idle_ms == EXEC_UNSET)
		ec->idle_ms = EXEC_IDLE_SESSION_MS;
	int takes_args = ec->client_args || ec->stdin_request;
	if (!takes_args && (ec->max_client_args >= 0 || ec->pattern != NULL)) {
		snprintf(why, whylen, "max-client-args and arg-pattern need client-args = yes or stdin = request");
		return -1;
	}
	cmd->min_args = 0;
	cmd->max_args = takes_args ? ec->max_client_args : 0;
	if (!ec->usage_set) {
		char *u = strdup(takes_args ? "[ARG...]" : "");
		if (u == NULL) {
			snprintf(why, whylen, "out of memory");
			return -1;
		}
		free(cmd->usage);
		cmd->usage = u;
	}
	return 0;
}

/* Phases of a running program's timer. */
enum exec_phase {
	EXEC_RUNNING,   /* the timer is the timeout */
	EXEC_TERM_SENT, /* timed out: SIGTERM sent, the timer is the grace */
	EXEC_KILLED,    /* SIGKILL sent: waiting to reap */
	EXEC_DRAIN,     /* reaped: the timer bounds waiting for output EOF */
};

/* Why the reply is an error although the program ran. */
enum exec_overflow {
	EXEC_OVERFLOW_NONE,
	EXEC_OVERFLOW_BYTES,
	EXEC_OVERFLOW_LINES,
	EXEC_OVERFLOW_MEMORY, /* no memory to keep an output line */
};

/* One spawned program, tracked until reaped, even after a cancel. */
struct exec_child {
	struct exec_child *prev, *next;
	pid_t pid; /* also its process group */
	int reaped;
	int status;
	int lost;            /* reaped by someone else: no status */
	struct request *req; /* NULL once cancelled */
	int hook;            /* exec_hook_start's: no request, its end logged */
	char what[200];      /* a hook's name in the log */
	char cmd_name[40];
	char peer_key[80];
	struct event *timer;
	enum exec_phase phase;
	int timed_out;
	enum exec_overflow overflow;
	unsigned int timeout_ms;
	int out_fd; /* -1 once closed */
	struct event *out_ev;
	size_t out_bytes, max_bytes;
	unsigned int out_lines, max_lines;
	char *line; /* the partial output line */
	size_t line_len, line_cap;
	int in_fd; /* stdin = request: -1 once all written or closed */
	struct event *in_ev;
	/* Reading the output waits for the client, until its unsent output
	 * drains (request_on_drain). */
	int paused;
	char *in_buf;
	size_t in_len, in_off;
	/* mode = session: the program is spawned at the client's START, so
	 * what it runs is kept until then; the session owns its fds. */
	int is_session;
	struct session *session; /* NULL once the session has ended */
	char *path, *directory;
	char **argv, **envp; /* NULL-terminated copies */
	int nargv, nenvp;
};

/* Every tracked child, and the SIGCHLD event that reaps them. */
static struct exec_child *exec_children;
static struct event *exec_sigchld;

static void exec_progress(struct exec_child *ch);

/* Sets up CH (just allocated, zeroed) for command NAME under EC's
 * output limits and timeout, and adds it to the tracked children. */
static void exec_child_link(struct exec_child *ch, const struct exec_conf *ec, const char *name)
{
	ch->out_fd = ch->in_fd = -1;
	snprintf(ch->cmd_name, sizeof(ch->cmd_name), "%s", name);
	ch->timeout_ms = ec->timeout_ms;
	ch->max_bytes = ec->max_output_bytes;
	ch->max_lines = ec->max_output_lines;
	ch->next = exec_children;
	if (exec_children != NULL)
		exec_children->prev = ch;
	exec_children = ch;
}

/* Sends SIG to CH's process group; a group already gone is fine. */
static void exec_kill(struct exec_child *ch, int sig)
{
	if (ch->pid <= 0)
		return; /* a session's program not started yet */
	if (kill(-ch->pid, sig) < 0 && errno != ESRCH)
		log_warn("kill(-%ld, %d)", (long)ch->pid, sig);
}

/* Arms CH's timer for MS milliseconds in PHASE. */
static void exec_timer_set(struct exec_child *ch, enum exec_phase phase, unsigned int ms)
{
	struct timeval tv = util_timeval_ms(ms);

	ch->phase = phase;
	evtimer_add(ch->timer, &tv);
}

/* Forgets a paused read of CH's output (without resuming it): the
 * connection calls nothing any more. */
static void exec_unpause(struct exec_child *ch)
{
	if (ch->paused && ch->req != NULL)
		request_on_drain(ch->req, 0, NULL, NULL);
	ch->paused = 0;
}

/* The client has taken half of its unsent output while CH waits: reads
 * the program's output again. */
static void exec_output_drained(void *arg)
{
	struct exec_child *ch = arg;

	exec_unpause(ch);
	if (ch->out_ev != NULL)
		event_add(ch->out_ev, NULL);
}

/* If CH's client has max-output-buffer bytes unsent, stops reading the
 * program's output until it drains (the pipe then fills and the program
 * blocks). Returns 1 if paused, 0 if reading may go on. */
static int exec_pause_if_backlogged(struct exec_child *ch)
{
	size_t limit;

	if (ch->paused)
		return 1;
	/* A broken connection is freed (and CH cancelled) on the next turn. */
	if (ch->req == NULL || !request_connected(ch->req))
		return 0;
	if (request_output_pending(ch->req, &limit) < limit)
		return 0;
	/* Without a callback nothing would resume us: read on (max-output-bytes
	 * still bounds it). */
	if (request_on_drain(ch->req, limit / 2, exec_output_drained, ch) < 0)
		return 0;
	ch->paused = 1;
	event_del(ch->out_ev);
	return 1;
}

/* Closes the output pipe of CH. */
static void exec_close_output(struct exec_child *ch)
{
	exec_unpause(ch);
	watch_close(&ch->out_ev, NULL, &ch->out_fd);
}

/* Closes the stdin pipe of CH and drops what was not written. */
static void exec_close_input(struct exec_child *ch)
{
	watch_close(&ch->in_ev, NULL, &ch->in_fd);
	free(ch->in_buf);
	ch->in_buf = NULL;
}

/* Unlinks CH and frees it with everything it still holds. */
static void exec_child_free(struct exec_child *ch)
{
	if (ch->prev != NULL)
		ch->prev->next = ch->next;
	else
		exec_children = ch->next;
	if (ch->next != NULL)
		ch->next->prev = ch->prev;
	exec_close_output(ch);
	exec_close_input(ch);
	if (ch->timer != NULL)
		event_free(ch->timer);
	free(ch->line);
	free(ch->path);
	free(ch->directory);
	strv_free(ch->argv, ch->nargv);
	strv_free(ch->envp, ch->nenvp);
	free(ch);
}

/* Sends one output line of CH as a data line, unless the line cap is
 * reached; then kills the program. Returns 0, or -1 at the cap. */
static int exec_emit_line(struct exec_child *ch, const char *text, size_t len)
{
	if (ch->out_lines >= ch->max_lines) {
		ch->overflow = EXEC_OVERFLOW_LINES;
		return -1;
	}
	ch->out_lines++;
	if (ch->req != NULL)
		request_data(ch->req, text, len);
	else if (ch->hook)
		log_info("%s: %.*s", ch->what, (int)(len < 512 ? len : 512), text);
	return 0;
}

/* Stops CH's output at a cap: kills the group and closes the pipe. */
static void exec_stop_output(struct exec_child *ch)
{
	if (!ch->reaped || ch->phase == EXEC_DRAIN)
		exec_kill(ch, SIGKILL);
	if (ch->phase != EXEC_DRAIN) {
		evtimer_del(ch->timer);
		ch->phase = EXEC_KILLED;
	}
	exec_close_output(ch);
}

/* Splits LEN bytes of output into lines; keeps a partial last line. Returns
 * 0, or -1 when a cap was hit (the output is then stopped). */
static int exec_take_output(struct exec_child *ch, const char *buf, size_t len)
{
	if (len > ch->max_bytes - ch->out_bytes) {
		len = ch->max_bytes - ch->out_bytes;
		ch->overflow = EXEC_OVERFLOW_BYTES;
	}
	ch->out_bytes += len;
	while (len > 0) {
		const char *lf = memchr(buf, '\n', len);
		size_t n = lf != NULL ? (size_t)(lf - buf) : len;
		if (lf == NULL || ch->line_len > 0) {
			if (ch->line_len + n > ch->line_cap) {
				size_t cap = ch->line_cap ? ch->line_cap : 256;
				while (cap < ch->line_len + n)
					cap *= 2;
				char *nl = realloc(ch->line, cap);
				if (nl == NULL) {
					/* Never a reply that silently lacks a line. */
					log_warnx("exec: %s: out of memory for an output line of pid %ld; output cut",
					          ch->cmd_name, (long)ch->pid);
					ch->overflow = EXEC_OVERFLOW_MEMORY;
					ch->line_len = 0;
					break;
				}
				ch->line = nl;
				ch->line_cap = cap;
			}
			memcpy(ch->line + ch->line_len, buf, n);
			ch->line_len += n;
		}
		if (lf == NULL)
			break;
		int rc = ch->line_len > 0 ? exec_emit_line(ch, ch->line, ch->line_len) : exec_emit_line(ch, buf, n);
		ch->line_len = 0;
		if (rc < 0)
			break;
		buf += n + 1;
		len -= n + 1;
	}
	if (ch->overflow != EXEC_OVERFLOW_NONE) {
		if (ch->overflow == EXEC_OVERFLOW_BYTES && ch->line_len > 0 && ch->out_lines < ch->max_lines)
			exec_emit_line(ch, ch->line, ch->line_len);
		ch->line_len = 0;
		exec_stop_output(ch);
		return -1;
	}
	return 0;
}

/* At output EOF: sends the partial last line and closes the pipe. */
static void exec_output_eof(struct exec_child *ch)
{
	if (ch->line_len > 0 && exec_emit_line(ch, ch->line, ch->line_len) < 0) {
		ch->line_len = 0;
		exec_stop_output(ch);
		return;
	}
	ch->line_len = 0;
	exec_close_output(ch);
}

/* The output pipe is readable: reads a bounded amount per loop turn. */
static void exec_output_cb(evutil_socket_t fd, short what, void *arg)
{
	struct exec_child *ch = arg;
	char buf[EXEC_READ_CHUNK];

	for (int i = 0; i < 4; i++) {
		if (exec_pause_if_backlogged(ch))
			return;
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			if (n < 0)
				log_warn("exec: reading the output of pid %ld", (long)ch->pid);
			exec_output_eof(ch);
			exec_progress(ch);
			return;
		}
		if (exec_take_output(ch, buf, (size_t)n) < 0) {
			exec_progress(ch);
			return;
		}
	}
}

/* The stdin pipe is writable: writes more of the request; closes at the
 * end, or when the program does not read it (EPIPE). */
static void exec_input_cb(evutil_socket_t fd, short what, void *arg)
{
	struct exec_child *ch = arg;

	while (ch->in_off < ch->in_len) {
		ssize_t n = write(fd, ch->in_buf + ch->in_off, ch->in_len - ch->in_off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0)
			break; /* EPIPE: the program closed its stdin */
		ch->in_off += (size_t)n;
	}
	exec_close_input(ch);
}

/* CH's timer: the timeout, the grace after SIGTERM, or the drain time. */
static void exec_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct exec_child *ch = arg;

	switch (ch->phase) {
	case EXEC_RUNNING:
		ch->timed_out = 1;
		exec_close_input(ch);
		exec_kill(ch, SIGTERM);
		exec_timer_set(ch, EXEC_TERM_SENT, EXEC_KILL_GRACE_MS);
		break;
	case EXEC_TERM_SENT:
		exec_kill(ch, SIGKILL);
		ch->phase = EXEC_KILLED;
		break;
	case EXEC_KILLED:
		break;
	case EXEC_DRAIN:
		if (ch->paused) {
			/* Not read yet because the client is slow: wait for it. */
			exec_timer_set(ch, EXEC_DRAIN, EXEC_DRAIN_MS);
			break;
		}
		/* Exited, but something (a grandchild) keeps the output open. */
		exec_kill(ch, SIGKILL);
		exec_output_eof(ch);
		exec_close_output(ch);
		exec_progress(ch);
		break;
	}
}

/* Finishes CH's request with the program's result and frees CH. */
static void exec_finish(struct exec_child *ch)
{
	struct request *req = ch->req;
	int st = ch->status;

	/* The reply may free the connection and its output buffer. */
	exec_unpause(ch);
	if (ch->timed_out || ch->overflow != EXEC_OVERFLOW_NONE)
		exec_kill(ch, SIGKILL); /* what is left of the group */
	if (req != NULL) {
		req->state = NULL;
		if (ch->timed_out)
			request_err(req, PROTO_ERR_TIMEOUT, "killed after %u ms (%s=%d)", ch->timeout_ms,
			            WIFSIGNALED(st) ? "signal" : "exit",
			            WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
		else if (ch->overflow == EXEC_OVERFLOW_BYTES)
			request_err(req, PROTO_ERR_FAILED, "output exceeded %zu bytes", ch->max_bytes);
		else if (ch->overflow == EXEC_OVERFLOW_LINES)
			request_err(req, PROTO_ERR_FAILED, "output exceeded %u lines", ch->max_lines);
		else if (ch->overflow == EXEC_OVERFLOW_MEMORY)
			request_err(req, PROTO_ERR_INTERNAL, "out of memory for the output");
		else if (ch->lost)
			request_err(req, PROTO_ERR_INTERNAL, "the program's exit status was lost");
		else if (WIFSIGNALED(st))
			request_err(req, PROTO_ERR_FAILED, "signal=%d", WTERMSIG(st));
		else if (WEXITSTATUS(st) != 0)
			request_err(req, PROTO_ERR_FAILED, "exit=%d", WEXITSTATUS(st));
		else
			request_ok(req, "exit=0");
	}
	if (ch->hook && ch->timed_out)
		log_warnx("%s: killed after %u ms", ch->what, ch->timeout_ms);
	else if (ch->hook && ch->lost)
		log_warnx("%s: its exit status was lost", ch->what);
	else if (ch->hook && (WIFSIGNALED(st) || WEXITSTATUS(st) != 0))
		log_warnx("%s: %s=%d", ch->what, WIFSIGNALED(st) ? "signal" : "exit",
		          WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	else if (ch->hook)
		log_info("%s: exit=0%s", ch->what, ch->overflow != EXEC_OVERFLOW_NONE ? " (output cut)" : "");
	exec_child_free(ch);
}

/* Moves CH on after a change: reaped, output closed, cancelled. */
static void exec_progress(struct exec_child *ch)
{
	if (!ch->reaped)
		return;
	if (ch->req == NULL && !ch->hook) {
		exec_child_free(ch); /* cancelled: only the reaping was left */
		return;
	}
	if (ch->out_fd >= 0) {
		if (ch->phase != EXEC_DRAIN) {
			evtimer_del(ch->timer);
			exec_timer_set(ch, EXEC_DRAIN, EXEC_DRAIN_MS);
		}
		return;
	}
	exec_finish(ch);
}

/* A session's program was reaped: the session sends EXIT (and releases
 * CH), or, once the session has ended, CH is done. */
static void exec_session_reaped(struct exec_child *ch)
{
	evtimer_del(ch->timer);
	if (ch->session != NULL)
		session_program_exited(ch->session, ch->status);
	else
		exec_child_free(ch);
}

/* SIGCHLD: reaps every tracked child that has ended. Only our own pids are
 * waited for, so children of other code are left alone. */
static void exec_sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	struct exec_child *ch = exec_children;

	while (ch != NULL) {
		struct exec_child *next = ch->next;
		int st;
		if (!ch->reaped && ch->pid > 0) {
			pid_t r = waitpid(ch->pid, &st, WNOHANG);
			if (r == ch->pid || (r < 0 && errno == ECHILD)) {
				ch->reaped = 1;
				ch->lost = r != ch->pid;
				ch->status = ch->lost ? 0 : st;
				if (ch->is_session) {
					exec_session_reaped(ch); /* may free CH */
				} else {
					exec_close_input(ch);
					exec_progress(ch);
				}
			}
		}
		ch = next;
	}
}

/* Installs the SIGCHLD event on BASE once. Returns 0 or -1. */
static int exec_sigchld_install(struct event_base *base)
{
	if (exec_sigchld != NULL)
		return 0;
	exec_sigchld = evsignal_new(base, SIGCHLD, exec_sigchld_cb, NULL);
	if (exec_sigchld == NULL || evsignal_add(exec_sigchld, NULL) < 0) {
		if (exec_sigchld != NULL)
			event_free(exec_sigchld);
		exec_sigchld = NULL;
		return -1;
	}
	return 0;
}

unsigned int exec_running_jobs(void)
{
	unsigned int n = 0;

	for (const struct exec_child *ch = exec_children; ch != NULL; ch = ch->next)
		n++;
	return n;
}

/* Counts the tracked children of command NAME: all, and those of KEY. */
static void exec_count(const char *name, const char *key, unsigned int *total, unsigned int *of_peer)
{
	*total = *of_peer = 0;
	for (const struct exec_child *ch = exec_children; ch != NULL; ch = ch->next) {
		if (strcmp(ch->cmd_name, name) != 0)
			continue;
		(*total)++;
		if (strcmp(ch->peer_key, key) == 0)
			(*of_peer)++;
	}
}

/* Builds the program's environment for command CMD_NAME run by PEER
 * (NULL: a hook): env-pass, env-set, UDO_*, then EXTRA (NULL-terminated,
 * or NULL). Returns a NULL-terminated vector to free with strv_free(v,
 * *N), or NULL. */
static char **exec_build_env(const struct exec_conf *ec, const struct peer *peer, const char *cmd_name,
                             char *const *extra, int *n)
{
	char **env = NULL;
	char buf[160];
	int rc = 0;

	*n = 0;
	for (int i = 0; i < ec->nenv_pass && rc == 0; i++) {
		const char *name = ec->env_pass[i], *val = getenv(name);
		size_t len = strlen(name);
		int overridden = 0;
		for (int j = 0; j < ec->nenv_set; j++)
			overridden |= strncmp(ec->env_set[j], name, len) == 0 && ec->env_set[j][len] == '=';
		if (val == NULL || overridden)
			continue;
		char *kv = malloc(len + strlen(val) + 2);
		if (kv == NULL) {
			rc = -1;
			break;
		}
		sprintf(kv, "%s=%s", name, val);
		rc = strv_append(&env, n, kv);
		free(kv);
	}
	for (int i = 0; i < ec->nenv_set && rc == 0; i++)
		rc = strv_append(&env, n, ec->env_set[i]);
	if (peer != NULL && peer->transport == UDO_VSOCK_ADDR_UNIX) {
		snprintf(buf, sizeof(buf), "UDO_PEER_IDENTITY=%s", peer->identity);
		rc = rc == 0 ? strv_append(&env, n, buf) : rc;
	} else if (peer != NULL) {
		snprintf(buf, sizeof(buf), "UDO_PEER_CID=%u", peer->cid);
		rc = rc == 0 ? strv_append(&env, n, buf) : rc;
		snprintf(buf, sizeof(buf), "UDO_PEER_PORT=%u", peer->port);
		rc = rc == 0 ? strv_append(&env, n, buf) : rc;
	}
	snprintf(buf, sizeof(buf), "UDO_COMMAND=%s", cmd_name);
	rc = rc == 0 ? strv_append(&env, n, buf) : rc;
	for (int i = 0; extra != NULL && extra[i] != NULL && rc == 0; i++)
		rc = strv_append(&env, n, extra[i]);
	/* The NULL terminator. */
	char **nv = rc == 0 ? realloc(env, sizeof(*nv) * (size_t)(*n + 1)) : NULL;
	if (nv == NULL) {
		strv_free(env, *n);
		return NULL;
	}
	nv[*n] = NULL;
	return nv;
}

/* Builds argv: path, fixed args, the ARGC - 1 client args of ARGV (after
 * the command word) if allowed. Returns a NULL-terminated vector of
 * borrowed pointers (free only the vector), or NULL when out of memory. */
static char **exec_build_argv(const struct exec_conf *ec, int argc, char **cargv)
{
	int nclient = ec->client_args ? argc - 1 : 0;
	char **argv = calloc((size_t)(1 + ec->nargs + nclient + 1), sizeof(*argv));
	int n = 0;

	if (argv == NULL)
		return NULL;
	argv[n++] = ec->path;
	for (int i = 0; i < ec->nargs; i++)
		argv[n++] = ec->args[i];
	for (int i = 0; i < nclient; i++)
		argv[n++] = cargv[1 + i];
	argv[n] = NULL;
	return argv;
}

/* Makes FD non-blocking. Returns 0 or -1 with errno set. */
static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Spawns PATH in directory DIR (NULL: /) in a new process group, with
 * stdin from IN_R (or /dev/null when -1), stdout on OUT_W and stderr on
 * ERR_W; or, when TTY is a terminal's path, in a new session with that
 * terminal as its controlling terminal and stdin, stdout and stderr.
 * Returns 0 with *PID set, or an errno value. */
static int exec_spawn_io(const char *path, const char *dir, char **argv, char **envp, int in_r, int out_w, int err_w,
                         const char *tty, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int rc;

	if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
		return rc;
	if ((rc = posix_spawnattr_init(&attr)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return rc;
	}
	sigemptyset(&none);
	sigfillset(&all);
	sigdelset(&all, SIGKILL);
	sigdelset(&all, SIGSTOP);
	/* New group (to kill it whole), every signal default (the daemon
	 * ignores SIGPIPE and libevent catches others), none blocked. */
	/* With a terminal: a new session instead (its group is new too),
	 * whose leader opening the terminal makes it the controlling one. */
	rc = posix_spawnattr_setflags(&attr, (tty != NULL ? POSIX_SPAWN_SETSID : POSIX_SPAWN_SETPGROUP) |
	                                         POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
	if (rc == 0 && tty == NULL)
		rc = posix_spawnattr_setpgroup(&attr, 0);
	if (rc == 0)
		rc = posix_spawnattr_setsigdefault(&attr, &all);
	if (rc == 0)
		rc = posix_spawnattr_setsigmask(&attr, &none);
	if (tty != NULL) {
		if (rc == 0)
			rc = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, tty, O_RDWR, 0);
		in_r = out_w = err_w = STDIN_FILENO;
	} else if (rc == 0 && in_r >= 0) {
		rc = posix_spawn_file_actions_adddup2(&fa, in_r, STDIN_FILENO);
	} else if (rc == 0) {
		rc = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	}
	if (rc == 0)
		rc = posix_spawn_file_actions_adddup2(&fa, out_w, STDOUT_FILENO);
	if (rc == 0)
		rc = posix_spawn_file_actions_adddup2(&fa, err_w, STDERR_FILENO);
#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 34)
	/* Belt and braces: no daemon fd reaches the program, CLOEXEC or not. */
	if (rc == 0)
		rc = posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
#endif
	if (rc == 0)
		rc = posix_spawn_file_actions_addchdir_np(&fa, dir != NULL ? dir : "/");
	if (rc == 0)
		rc = posix_spawn(pid, path, &fa, &attr, argv, envp);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return rc;
}

/* Joins the client's arguments of REQ, one a line, into *BUF. Returns 0 or
 * -1 (ENOMEM). */
static int exec_stdin_text(const struct request *req, char **buf, size_t *len)
{
	size_t total = 0, off = 0;

	for (int i = 1; i < req->argc; i++)
		total += strlen(req->argv[i]) + 1;
	*buf = malloc(total + 1);
	if (*buf == NULL)
		return -1;
	for (int i = 1; i < req->argc; i++) {
		size_t n = strlen(req->argv[i]);
		memcpy(*buf + off, req->argv[i], n);
		(*buf)[off + n] = '\n';
		off += n + 1;
	}
	*len = total;
	return 0;
}

/* Opens CH's pipes and events on BASE and spawns EC's program with ARGV
 * and ENVP; stdin is CH->in_buf when WITH_STDIN, else /dev/null. Returns
 * 0, or an errno value (what CH holds is freed with it). */
static int exec_launch(struct exec_child *ch, const struct exec_conf *ec, struct event_base *base, char **argv,
                       char **envp, int with_stdin)
{
	int out[2] = {-1, -1}, in[2] = {-1, -1}, err;

	if (pipe2(out, O_CLOEXEC) < 0 || set_nonblock(out[0]) < 0 ||
	    (with_stdin && (pipe2(in, O_CLOEXEC) < 0 || set_nonblock(in[1]) < 0))) {
		err = errno;
		goto fail;
	}
	ch->timer = evtimer_new(base, exec_timer_cb, ch);
	ch->out_ev = event_new(base, out[0], EV_READ | EV_PERSIST, exec_output_cb, ch);
	if (with_stdin)
		ch->in_ev = event_new(base, in[1], EV_WRITE | EV_PERSIST, exec_input_cb, ch);
	if (ch->timer == NULL || ch->out_ev == NULL || (with_stdin && ch->in_ev == NULL)) {
		err = ENOMEM;
		goto fail;
	}
	err = exec_spawn_io(ec->path, ec->directory, argv, envp, in[0], out[1], out[1], NULL, &ch->pid);
	if (err != 0)
		goto fail;
	close(out[1]);
	if (in[0] >= 0)
		close(in[0]);
	ch->out_fd = out[0];
	ch->in_fd = in[1];
	event_add(ch->out_ev, NULL);
	if (ch->in_ev != NULL)
		event_add(ch->in_ev, NULL);
	exec_timer_set(ch, EXEC_RUNNING, ch->timeout_ms);
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0 && !(i == 0 && ch->out_ev != NULL))
			close(out[i]);
		if (in[i] >= 0 && !(i == 1 && ch->in_ev != NULL))
			close(in[i]);
	}
	ch->out_fd = ch->out_ev != NULL ? out[0] : -1;
	ch->in_fd = ch->in_ev != NULL ? in[1] : -1;
	return err;
}

/* Opens a pseudo-terminal of ROWS x COLS: its master in *MASTER
 * (close-on-exec) and its slave's path in NAME. Returns 0 or an errno value. */
static int exec_open_pty(unsigned short rows, unsigned short cols, int *master, char *name, size_t len)
{
	struct winsize ws = {.ws_row = rows, .ws_col = cols};
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (m < 0)
		return errno;
	if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, name, len) != 0 || ioctl(m, TIOCSWINSZ, &ws) < 0) {
		int err = errno;
		close(m);
		return err != 0 ? err : EIO;
	}
	*master = m;
	return 0;
}

/* session_program.spawn: runs CH's program on a terminal or on three
 * pipes, at the client's START. */
static int exec_session_spawn(void *arg, struct session_spawn *sp)
{
	struct exec_child *ch = arg;
	int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1}, master = -1, err = 0, n = 0;
	char tty[128], term[UDO_VSOCK_FRAME_TERM_MAX + 8];
	char **envp = calloc((size_t)ch->nenvp + 2, sizeof(*envp));

	if (envp == NULL)
		return ENOMEM;
	/* TERM from the client replaces one of the config's. */
	for (int i = 0; i < ch->nenvp; i++) {
		if (sp->term == NULL || strncmp(ch->envp[i], "TERM=", 5) != 0)
			envp[n++] = ch->envp[i];
	}
	if (sp->term != NULL) {
		snprintf(term, sizeof(term), "TERM=%s", sp->term);
		envp[n++] = term;
	}
	envp[n] = NULL;
	if (sp->pty) {
		err = exec_open_pty(sp->rows, sp->cols, &master, tty, sizeof(tty));
		if (err == 0)
			err = exec_spawn_io(ch->path, ch->directory, ch->argv, envp, -1, -1, -1, tty, &ch->pid);
		if (err == 0) {
			sp->in_fd = sp->out_fd = master;
			sp->err_fd = -1;
		} else if (master >= 0) {
			close(master);
		}
	} else {
		if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0)
			err = errno;
		if (err == 0) {
			/* Bulk data (tar, cat) moves in pipe-sized steps, each a
			 * switch to the program and back: ask for fewer, larger
			 * ones (the default is 64 KiB; pipe-max-size caps it, and a
			 * refusal leaves the default). */
			(void)fcntl(in[1], F_SETPIPE_SZ, EXEC_SESSION_PIPE_SIZE);
			(void)fcntl(out[0], F_SETPIPE_SZ, EXEC_SESSION_PIPE_SIZE);
		}
		if (err == 0)
			err = exec_spawn_io(ch->path, ch->directory, ch->argv, envp, in[0], out[1], errp[1], NULL,
			                    &ch->pid);
		for (int i = 0; i < 2; i++) {
			/* The program's ends always; ours when it failed. */
			if (in[i] >= 0 && (i == 0 || err != 0))
				close(in[i]);
			if (out[i] >= 0 && (i == 1 || err != 0))
				close(out[i]);
			if (errp[i] >= 0 && (i == 1 || err != 0))
				close(errp[i]);
		}
		sp->in_fd = in[1];
		sp->out_fd = out[0];
		sp->err_fd = errp[0];
	}
	free(envp);
	if (err != 0) {
		ch->pid = 0;
		return err;
	}
	sp->pid = ch->pid;
	log_info("exec: %s: session started %s as pid %ld%s", ch->cmd_name, ch->path, (long)ch->pid,
	         sp->pty ? " on a terminal" : "");
	return 0;
}

/* session_program.release: the session has ended; the program's group
 * gets SIGTERM, SIGKILL after the grace, and is reaped without it. */
static void exec_session_release(void *arg)
{
	struct exec_child *ch = arg;

	ch->session = NULL;
	if (ch->pid <= 0 || ch->reaped) {
		exec_child_free(ch);
		return;
	}
	exec_kill(ch, SIGTERM);
	exec_timer_set(ch, EXEC_TERM_SENT, EXEC_KILL_GRACE_MS);
}

static const struct session_program exec_session_program = {
    .spawn = exec_session_spawn,
    .release = exec_session_release,
};

/* mode = session: keeps what CH will run for REQ and turns the connection
 * into a session after "OK session". Finishes REQ; CH is freed on error. */
static void exec_session_begin(struct exec_child *ch, const struct exec_conf *ec, struct request *req)
{
	int nenv = 0, ok = 1;
	char **argv = exec_build_argv(ec, req->argc, req->argv);
	char **envp = exec_build_env(ec, req->peer, req->cmd->name, NULL, &nenv);
	struct session_limits lim = {
	    .window = ec->session_window,
	    .idle_ms = ec->idle_ms,
	    .max_ms = ec->timeout_ms,
	    .drain_ms = EXEC_DRAIN_MS,
	    .pty = ec->pty,
	};

	ch->is_session = 1;
	ch->req = NULL; /* answered now: the session goes on without it */
	ch->envp = envp;
	ch->nenvp = nenv;
	ch->path = strdup(ec->path);
	ch->directory = ec->directory != NULL ? strdup(ec->directory) : NULL;
	ch->timer = evtimer_new(req->server->base, exec_timer_cb, ch);
	ok = argv != NULL && envp != NULL && ch->path != NULL && (ec->directory == NULL || ch->directory != NULL) &&
	     ch->timer != NULL;
	for (int i = 0; ok && argv[i] != NULL; i++)
		ok = strv_append(&ch->argv, &ch->nargv, argv[i]) == 0;
	if (ok) {
		/* The NULL terminator. */
		char **nv = realloc(ch->argv, sizeof(*nv) * (size_t)(ch->nargv + 1));
		ok = nv != NULL;
		if (ok) {
			ch->argv = nv;
			nv[ch->nargv] = NULL;
		}
	}
	free(argv);
	if (ok)
		ch->session = session_new(&lim, &exec_session_program, ch);
	if (ch->session == NULL) {
		exec_child_free(ch);
		request_err(req, PROTO_ERR_INTERNAL, "out of memory");
		return;
	}
	log_peer(LOG_LEVEL_INFO, req->peer->text, req->peer->cid, req->cmd->name, "session for %s%s", ec->path,
	         ec->pty ? " with a terminal" : "");
	/* From now on the session owns CH: its release frees or ends it. */
	request_bridge(req, session_start, session_release, ch->session);
	request_ok(req, "session");
}

/* Starts the program for REQ with CH's pipes. Returns 0, or -1 after
 * finishing REQ with its error. */
static int exec_start(struct exec_child *ch, const struct exec_conf *ec, struct request *req)
{
	int nenv = 0, err = ENOMEM;
	char **argv = exec_build_argv(ec, req->argc, req->argv);
	char **envp = exec_build_env(ec, req->peer, req->cmd->name, NULL, &nenv);

	if (argv != NULL && envp != NULL && (!ec->stdin_request || exec_stdin_text(req, &ch->in_buf, &ch->in_len) == 0))
		err = exec_launch(ch, ec, req->server->base, argv, envp, ec->stdin_request);
	free(argv);
	if (envp != NULL)
		strv_free(envp, nenv);
	if (err == 0)
		return 0;
	log_peer(LOG_LEVEL_WARNING, req->peer->text, req->peer->cid, req->cmd->name, "cannot run %s: %s", ec->path,
	         strerror(err));
	request_err(req, PROTO_ERR_FAILED, "cannot run the program: %s", strerror(err));
	return -1;
}

/* detach = yes: starts REQ's program as a job of peer KEY (jobs.c), its
 * stdin /dev/null and its output kept, and answers "OK job=ID". */
static enum req_status exec_detach(const struct exec_conf *ec, struct request *req, const char *key)
{
	struct job_limits lim = {
	    .output_max = ec->job_output,
	    .keep_ms = ec->job_keep,
	    .timeout_ms = ec->timeout_ms,
	    .max_total = ec->max_concurrent,
	    .max_per_peer = ec->max_concurrent_per_peer,
	};
	int out[2] = {-1, -1}, nenv = 0, err = ENOMEM;
	char why[128];
	pid_t pid = 0;

	if (jobs_admit(req->cmd->name, key, &lim, why, sizeof(why)) < 0) {
		request_err(req, PROTO_ERR_BUSY, "%s", why);
		return REQ_DONE;
	}
	char **argv = exec_build_argv(ec, req->argc, req->argv);
	char **envp = exec_build_env(ec, req->peer, req->cmd->name, NULL, &nenv);
	if (argv != NULL && envp != NULL)
		err = pipe2(out, O_CLOEXEC) < 0 ? errno : 0;
	if (err == 0)
		err = exec_spawn_io(ec->path, ec->directory, argv, envp, -1, out[1], out[1], NULL, &pid);
	free(argv);
	if (envp != NULL)
		strv_free(envp, nenv);
	if (out[1] >= 0)
		close(out[1]);
	if (err != 0) {
		if (out[0] >= 0)
			close(out[0]);
		log_peer(LOG_LEVEL_WARNING, req->peer->text, req->peer->cid, req->cmd->name, "cannot run %s: %s",
		         ec->path, strerror(err));
		request_err(req, PROTO_ERR_FAILED, "cannot run the program: %s", strerror(err));
		return REQ_DONE;
	}
	unsigned int id = jobs_start(req->server->base, req->cmd->name, key, ec->path, pid, out[0], &lim);
	if (id == 0) {
		request_err(req, PROTO_ERR_INTERNAL, "out of memory");
		return REQ_DONE;
	}
	log_peer(LOG_LEVEL_INFO, req->peer->text, req->peer->cid, req->cmd->name, "started %s as job %u, pid %ld",
	         ec->path, id, (long)pid);
	request_ok(req, "job=%u", id);
	return REQ_DONE;
}

/* Runs the program of REQ's command: checks limits and arguments, spawns,
 * and leaves the reply to the event loop. */
static enum req_status exec_run(struct request *req)
{
	const struct exec_conf *ec = req->cmd->data;
	char key[80];

	util_peer_key(req->peer, key, sizeof(key));
	if (!ec->detach) { /* jobs are counted by jobs_admit() */
		unsigned int total, of_peer;
		exec_count(req->cmd->name, key, &total, &of_peer);
		if (total >= ec->max_concurrent) {
			request_err(req, PROTO_ERR_BUSY, "%u already running (max-concurrent)", total);
			return REQ_DONE;
		}
		if (of_peer >= ec->max_concurrent_per_peer) {
			request_err(req, PROTO_ERR_BUSY, "%u already running for this peer (max-concurrent-per-peer)",
			            of_peer);
			return REQ_DONE;
		}
	}
	int bad = 0;
	if (ec->pattern != NULL) {
		switch (
		    arg_pattern_match_args(ec->pattern, req->argv + 1, req->argc - 1, ARG_PATTERN_BUDGET_US, &bad)) {
		case ARG_PATTERN_MATCH:
			break;
		case ARG_PATTERN_NOMATCH:
			request_err(req, PROTO_ERR_USAGE, "argument %d does not match the allowed pattern", bad + 1);
			return REQ_DONE;
		case ARG_PATTERN_COSTLY:
			request_err(req, PROTO_ERR_USAGE, "argument %d: matching the allowed pattern took too long",
			            bad + 1);
			return REQ_DONE;
		}
	}
	if (ec->detach)
		return exec_detach(ec, req, key);
	if (exec_sigchld_install(req->server->base) < 0) {
		request_err(req, PROTO_ERR_INTERNAL, "cannot watch for SIGCHLD");
		return REQ_DONE;
	}
	struct exec_child *ch = calloc(1, sizeof(*ch));
	if (ch == NULL) {
		request_err(req, PROTO_ERR_INTERNAL, "out of memory");
		return REQ_DONE;
	}
	exec_child_link(ch, ec, req->cmd->name);
	ch->req = req;
	memcpy(ch->peer_key, key, sizeof(key));
	if (ec->session) {
		exec_session_begin(ch, ec, req);
		return REQ_DONE;
	}
	if (exec_start(ch, ec, req) < 0) {
		exec_child_free(ch);
		return REQ_DONE;
	}
	req->state = ch;
	log_peer(LOG_LEVEL_INFO, req->peer->text, req->peer->cid, req->cmd->name, "started %s as pid %ld", ec->path,
	         (long)ch->pid);
	return REQ_PENDING; /* exec_finish answers */
}

/* The client went away: kills the program's group at once and finishes
 * REQ; the child stays tracked until it is reaped. */
static void exec_cancel(struct request *req)
{
	struct exec_child *ch = req->state;

	req->state = NULL;
	if (ch != NULL) {
		ch->req = NULL;
		exec_kill(ch, SIGKILL);
		evtimer_del(ch->timer);
		ch->phase = EXEC_KILLED;
		exec_close_output(ch);
		exec_close_input(ch);
		if (ch->reaped)
			exec_child_free(ch);
	}
	request_finish_cancelled(req);
}

extern const struct handler_kind handler_exec;

void exec_hooks_stop(void)
{
	for (struct exec_child *ch = exec_children, *next; ch != NULL; ch = next) {
		next = ch->next;
		if (!ch->hook)
			continue;
		if (!ch->reaped) {
			log_info("%s: killed, the daemon stops", ch->what);
			exec_kill(ch, SIGKILL);
		}
		exec_child_free(ch);
	}
}

int exec_hook_start(struct event_base *base, const struct command *cmd, char *const *env, const char *what)
{
	const struct exec_conf *ec = cmd->data;
	int nenv = 0, err = ENOMEM;

	if (cmd->kind != &handler_exec || ec == NULL || ec->session) {
		log_warnx("%s: [command %s] is not an exec command of mode = request", what, cmd->name);
		return -1;
	}
	if (exec_sigchld_install(base) < 0) {
		log_warnx("%s: cannot watch for SIGCHLD", what);
		return -1;
	}
	struct exec_child *ch = calloc(1, sizeof(*ch));
	char *cargv[] = {cmd->name, NULL};
	char **argv = exec_build_argv(ec, 1, cargv);
	char **envp = exec_build_env(ec, NULL, cmd->name, env, &nenv);
	if (ch != NULL) {
		exec_child_link(ch, ec, cmd->name);
		ch->hook = 1;
		snprintf(ch->what, sizeof(ch->what), "%s", what);
		snprintf(ch->peer_key, sizeof(ch->peer_key), "hook");
		if (argv != NULL && envp != NULL)
			err = exec_launch(ch, ec, base, argv, envp, 0);
	}
	free(argv);
	if (envp != NULL)
		strv_free(envp, nenv);
	if (err != 0) {
		log_warnx("%s: cannot run %s: %s", what, ec->path, strerror(err));
		if (ch != NULL)
			exec_child_free(ch);
		return -1;
	}
	log_info("%s: started %s as pid %ld", what, ec->path, (long)ch->pid);
	return 0;
}

unsigned int exec_hooks_running(void)
{
	unsigned int n = 0;

	for (const struct exec_child *ch = exec_children; ch != NULL; ch = ch->next)
		n += ch->hook && !ch->reaped;
	return n;
}

const struct handler_kind handler_exec = {
    .name = "exec",
    .min_args = 0,
    .max_args = 0,
    .usage = "",
    .summary = "run a program",
    .options = exec_options,
    .get_data = exec_conf_get,
    .check = exec_check,
    .run = exec_run,
    .cancel = exec_cancel,
    .free_data = exec_free_data,
};
