/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* notify.c - readiness, reload, status and watchdog messages to systemd
 *
 * sd_notify(3) sends with a blocking sendmsg(2). A service manager that
 * does not read its notify socket fast enough (its datagram queue holds
 * net.unix.max_dgram_qlen messages, 10 by default) would then stop the
 * whole event loop until it reads: every client waits. So messages go out
 * on our own non-blocking socket, connected to $NOTIFY_SOCKET; what the
 * queue cannot take now waits, in order, until the socket is writable
 * again. A newer STATUS= replaces a waiting one and WATCHDOG=1 is never
 * queued twice, so what waits stays small. */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>
#include <udo/vsock-addr.h>

#include "log.h"
#include "server.h"

/* Messages waiting for room in the service manager's queue, at most. */
#define NOTIFY_PENDING_MAX 256
/* How long the last messages may delay the exit. */
#define NOTIFY_EXIT_FLUSH_MS 1000

/* The notify channel: one socket for the daemon's life. */
static struct {
	int fd;                 /* -1: not open (no unix NOTIFY_SOCKET, or failed) */
	int use_sd_notify;      /* NOTIFY_SOCKET is not a unix address: sd_notify(3) */
	struct event *writable; /* armed while messages wait */
	char *pending[NOTIFY_PENDING_MAX];
	int npending;
} N = {.fd = -1};

/* Connects N.fd to the unix address in $NOTIFY_SOCKET. Returns 0 or -1. */
static int notify_connect(const char *where)
{
	struct udo_vsock_addr addr = {.kind = UDO_VSOCK_ADDR_UNIX};
	struct sockaddr_storage ss;
	socklen_t len;

	/* "@name" is abstract, as in our own address syntax. */
	if (strlen(where) >= sizeof(addr.path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	snprintf(addr.path, sizeof(addr.path), "%s", where);
	if (udo_vsock_addr_to_sockaddr(&addr, &ss, &len) < 0)
		return -1;
	if (N.fd < 0)
		N.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (N.fd < 0)
		return -1;
	return connect(N.fd, (struct sockaddr *)&ss, len);
}

/* Sends the waiting messages in order until the queue is full. Returns
 * 1 if some still wait, else 0. */
static int notify_flush(void)
{
	int reconnected = 0;

	while (N.npending > 0) {
		const char *msg = N.pending[0];
		if (send(N.fd, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 1;
			if (errno == EINTR)
				continue;
			/* The manager's socket may have been made anew (re-exec). */
			const char *where = getenv("NOTIFY_SOCKET");
			if (!reconnected && where != NULL && (errno == ECONNREFUSED || errno == ENOTCONN) &&
			    notify_connect(where) == 0) {
				reconnected = 1;
				continue;
			}
			log_warn("notify socket: cannot send %.*s", (int)strcspn(msg, "\n"), msg);
		}
		free(N.pending[0]);
		memmove(N.pending, N.pending + 1, sizeof(N.pending[0]) * (size_t)--N.npending);
	}
	return 0;
}

/* The notify socket has room again: sends what waits. */
static void notify_writable_cb(evutil_socket_t fd, short what, void *arg)
{
	if (!notify_flush())
		event_del(N.writable);
}

/* True if MSG consists of a STATUS= line only. */
static int status_only(const char *msg)
{
	return strncmp(msg, "STATUS=", 7) == 0 && strchr(msg, '\n') == NULL;
}

/* Sends STATE to the service manager, if there is one, without ever
 * blocking; logs failures. */
static void notify_send(const char *state)
{
	if (N.use_sd_notify) {
		int r = sd_notify(0, state);
		if (r < 0)
			log_warnx("sd_notify(%s): error %d", state, -r);
		return;
	}
	if (N.fd < 0)
		return;
	if (strcmp(state, "WATCHDOG=1") == 0) {
		for (int i = 0; i < N.npending; i++)
			if (strcmp(N.pending[i], state) == 0)
				return; /* one waiting ping says it all */
	}
	if (status_only(state) && N.npending > 0 && status_only(N.pending[N.npending - 1])) {
		/* Only the newest status matters. */
		char *copy = strdup(state);
		if (copy != NULL) {
			free(N.pending[N.npending - 1]);
			N.pending[N.npending - 1] = copy;
		}
		return;
	}
	char *copy = strdup(state);
	if (copy == NULL || N.npending == NOTIFY_PENDING_MAX) {
		log_warnx("notify socket: the service manager does not read; dropping %.*s", (int)strcspn(state, "\n"),
		          state);
		free(copy);
		return;
	}
	N.pending[N.npending++] = copy;
	if (N.npending > 1)
		return; /* behind others: the write event sends it */
	if (notify_flush() && !event_pending(N.writable, EV_WRITE, NULL))
		event_add(N.writable, NULL);
}

int notify_open(struct server *s)
{
	const char *where = getenv("NOTIFY_SOCKET");

	if (where == NULL || where[0] == '\0')
		return 0; /* no service manager listening */
	if (where[0] != '/' && where[0] != '@') {
		N.use_sd_notify = 1; /* an address only libsystemd knows */
		return 0;
	}
	if (notify_connect(where) < 0) {
		log_warn("notify socket %s", where);
		if (N.fd >= 0)
			close(N.fd);
		N.fd = -1;
		return 0; /* like sd_notify: a missing manager is no reason to fail */
	}
	N.writable = event_new(s->base, N.fd, EV_WRITE | EV_PERSIST, notify_writable_cb, NULL);
	if (N.writable == NULL) {
		close(N.fd);
		N.fd = -1;
		return -1;
	}
	return 0;
}

void notify_close(void)
{
	int64_t left = NOTIFY_EXIT_FLUSH_MS;

	/* The last messages (STOPPING=1) are worth a short wait. */
	while (N.fd >= 0 && notify_flush() && left > 0) {
		struct pollfd pfd = {N.fd, POLLOUT, 0};
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (poll(&pfd, 1, (int)left) <= 0)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		left -= (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	}
	for (int i = 0; i < N.npending; i++)
		free(N.pending[i]);
	N.npending = 0;
	if (N.writable != NULL)
		event_free(N.writable);
	N.writable = NULL;
	if (N.fd >= 0)
		close(N.fd);
	N.fd = -1;
}

/* The STATUS= text for S. */
static void status_text(const struct server *s, char *buf, size_t len)
{
	snprintf(buf, len, "STATUS=%u connections, %llu total, %llu commands, %llu errors%s", s->nconns,
	         (unsigned long long)s->stats.connections_total, (unsigned long long)s->stats.commands,
	         (unsigned long long)s->stats.errors, s->accept_paused ? ", accepting paused" : "");
}

void notify_ready(struct server *s)
{
	char buf[256];
	char msg[300];

	status_text(s, buf, sizeof(buf));
	snprintf(msg, sizeof(msg), "READY=1\n%s", buf);
	notify_send(msg);
}

void notify_reloading(void)
{
	struct timespec ts;
	char msg[96];

	/* systemd >= 253 wants the monotonic time with RELOADING=1. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
	         (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000ULL);
	notify_send(msg);
}

void notify_stopping(void)
{
	notify_send("STOPPING=1");
}

/* Sends STATUS= when the counters changed since the last one. */
static void status_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	static char last[256];
	struct server *s = arg;
	char buf[256];

	status_text(s, buf, sizeof(buf));
	for (size_t i = 0; i < sizeof(buf); i++) {
		if (buf[i] != last[i]) {
			snprintf(last, sizeof(last), "%s", buf);
			notify_send(buf);
			return;
		}
		if (buf[i] == '\0')
			return;
	}
}

/* Tells the watchdog we are alive: the loop turns, so we are. */
static void watchdog_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	notify_send("WATCHDOG=1");
}

int notify_start_timers(struct server *s)
{
	uint64_t usec = 0;
	struct timeval status_every = {2, 0};

	if (N.fd < 0 && !N.use_sd_notify)
		return 0; /* no service manager listening */
	s->status_timer = event_new(s->base, -1, EV_PERSIST, status_timer_cb, s);
	if (s->status_timer == NULL || event_add(s->status_timer, &status_every) < 0)
		return -1;
	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
		/* Ping at half the period, as sd_watchdog_enabled(3) advises. */
		struct timeval tv = {(time_t)(usec / 2 / 1000000), (suseconds_t)(usec / 2 % 1000000)};
		s->watchdog_timer = event_new(s->base, -1, EV_PERSIST, watchdog_timer_cb, s);
		if (s->watchdog_timer == NULL || event_add(s->watchdog_timer, &tv) < 0)
			return -1;
		log_info("watchdog enabled: pinging every %llu ms", (unsigned long long)(usec / 2000));
		notify_send("WATCHDOG=1");
	}
	return 0;
}
