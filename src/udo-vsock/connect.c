/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* connect.c - connecting with retries and backoff, shared helpers */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <udo/vsock-addr.h>

#define CLI_BACKOFF_FIRST_MS 100
#define CLI_BACKOFF_MAX_MS   2000
#define CLI_NO_OK_GRACE_MS   500 /* --no-ok: how long an OK line of the VMM may take */

/* Prints "udo-vsock: MESSAGE" (no newline added when FMT ends in ": "). */
void cli_error(const char *fmt, ...)
{
	va_list ap;
	size_t len = strlen(fmt);

	fflush(stdout);
	fputs("udo-vsock: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (len < 2 || strcmp(fmt + len - 2, ": ") != 0)
		fputc('\n', stderr);
}

/* CLOCK_MONOTONIC in milliseconds. */
int64_t cli_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleeps MS milliseconds, resuming after signals. */
static void sleep_ms(int64_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Decides whether one more retry fits the budget; sleeps the backoff. */
bool cli_retry_backoff(const struct cli_options *opt, unsigned int *retries_used, unsigned int n, int64_t since_ms)
{
	if (opt->retries < 0 && opt->wait_ms < 0)
		return false;
	if (opt->retries >= 0 && *retries_used >= (unsigned long)opt->retries)
		return false;
	int64_t delay = CLI_BACKOFF_FIRST_MS;
	for (unsigned int i = 0; i < n && delay < CLI_BACKOFF_MAX_MS; i++)
		delay *= 2;
	if (delay > CLI_BACKOFF_MAX_MS)
		delay = CLI_BACKOFF_MAX_MS;
	if (opt->wait_ms >= 0) {
		int64_t left = since_ms + opt->wait_ms - cli_now_ms();
		if (left <= 0)
			return false;
		if (delay > left)
			delay = left;
	}
	sleep_ms(delay);
	(*retries_used)++;
	return true;
}

/* Errors that no retry can fix. */
static bool connect_error_is_final(int err)
{
	switch (err) {
	case EINVAL:
	case EAFNOSUPPORT:
	case EPROTONOSUPPORT:
	case ENAMETOOLONG:
	case EACCES:
	case EPERM:
	case EPROTO:
	case EBADMSG:
	case ENOTSOCK:
		return true;
	default:
		return false;
	}
}

/* Exit class of a failed connect. */
static int connect_error_class(int err)
{
	if (err == ETIMEDOUT)
		return CLI_EXIT_TIMEOUT;
	if (err == EPROTO || err == EBADMSG)
		return CLI_EXIT_PROTOCOL;
	return CLI_EXIT_CONNECT;
}

/* Prints why connecting failed (the library's message names the cause,
 * e.g. "vsock-mux: nothing listens on guest port N"). */
static void report_connect_error(const struct cli_options *opt, int err, const char *msg)
{
	cli_error("cannot connect to %s: %s", opt->addr_text, msg[0] ? msg : strerror(err));
}

/* Could the LEN bytes at S begin (or, with LF, be) a VMM's "OK <port>"
 * line? Sets *LINE_LEN to its length with the LF when S holds all of it
 * (else 0). */
static bool mux_ok_prefix(const char *s, size_t len, size_t *line_len)
{
	*line_len = 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (i < 3 ? c != "OK "[i] : c == '\n' ? i == 3 : (c < '0' || c > '9' || i > 13))
			return false;
		if (c == '\n') {
			*line_len = i + 1;
			return true;
		}
	}
	return true;
}

/*
 * --no-ok: a VMM that sends "OK <port>" anyway must not have that line
 * taken for the reply to the first request. Nothing can come from the
 * guest before a request is sent (but an unasked ERR, which is kept), so
 * wait up to CLI_NO_OK_GRACE_MS (or the connect timeout, if shorter) for
 * such a line and consume it; a VMM that sends none costs that wait.
 */
static void mux_skip_ok(const struct cli_options *opt, int fd)
{
	int64_t grace = CLI_NO_OK_GRACE_MS;
	if (opt->connect_timeout_ms > 0 && opt->connect_timeout_ms < grace)
		grace = opt->connect_timeout_ms;
	int64_t deadline = cli_now_ms() + grace;

	for (;;) {
		char buf[UDO_VSOCK_MUX_REPLY_MAX];
		size_t line_len;
		int64_t left = deadline - cli_now_ms();
		if (left <= 0)
			return;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int n = poll(&pfd, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		ssize_t got = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
		if (got <= 0 || !mux_ok_prefix(buf, (size_t)got, &line_len))
			return; /* end of file, an error or guest bytes: the pump sees them */
		if (line_len > 0) {
			ssize_t r = recv(fd, buf, line_len, MSG_DONTWAIT);
			if (opt->verbose && r == (ssize_t)line_len)
				cli_error("the VMM sent '%.*s' despite --no-ok; skipped", (int)line_len - 1, buf);
			return;
		}
		sleep_ms(1); /* part of a line: wait for the rest */
	}
}

/* Connect loop with backoff; returns a non-blocking fd or -1 (reported). */
int cli_connect(const struct cli_options *opt, unsigned int *retries_used, int *klass)
{
	unsigned int flags = opt->no_ok ? UDO_VSOCK_ADDR_MUX_NO_OK : 0;
	int64_t since = cli_now_ms();

	for (unsigned int n = 0;; n++) {
		char msg[256] = "";
		int fd = udo_vsock_addr_connect(&opt->addr, opt->connect_timeout_ms, flags, msg, sizeof(msg));
		if (fd >= 0) {
			int fl = fcntl(fd, F_GETFL);
			if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
				cli_error("fcntl: %s", strerror(errno));
				close(fd);
				*klass = CLI_EXIT_CONNECT;
				return -1;
			}
			if (opt->verbose)
				cli_error("connected to %s", opt->addr_text);
			if (opt->no_ok && opt->addr.kind == UDO_VSOCK_ADDR_VSOCK_MUX)
				mux_skip_ok(opt, fd);
			return fd;
		}
		int err = errno;
		if (connect_error_is_final(err) || !cli_retry_backoff(opt, retries_used, n, since)) {
			report_connect_error(opt, err, msg);
			*klass = connect_error_class(err);
			return -1;
		}
		if (opt->verbose)
			cli_error("cannot connect to %s: %s; retrying", opt->addr_text, msg[0] ? msg : strerror(err));
	}
}
