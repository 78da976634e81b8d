/* notify.c - readiness, reload, status and watchdog messages to systemd */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "server.h"

/* Sends STATE to the service manager, if there is one; logs failures. */
static void notify_send(const char *state)
{
	int r = sd_notify(0, state);

	if (r < 0)
		log_warnx("sd_notify(%s): error %d", state, -r);
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

	if (getenv("NOTIFY_SOCKET") == NULL)
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
