/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * announce.c - the guest side of ANNOUNCE: with `announce = vsock:CID:PORT`
 * the daemon connects to its host, sends one line
 *
 *   ANNOUNCE name=HOSTNAME boot-id=BOOT_ID machine-id=MACHINE_ID
 *
 * (name= left out while the host name is unset, machine-id= when
 * /etc/machine-id cannot be read), reads the one reply line, logs it and closes. It does so after READY,
 * after each reload (SIGHUP) and after a resume; while the host does not
 * answer it retries, waiting 1 s, then twice as long each time, up to 60 s.
 * Everything is non-blocking on the event loop: a host that is slow or
 * gone never holds a client's request.
 *
 * A resume is seen without looking at wall-clock time: CLOCK_BOOTTIME
 * counts the time the system was suspended and CLOCK_MONOTONIC does not,
 * so a check every RESUME_CHECK_MS that finds their difference grown by
 * RESUME_MIN_MS or more knows the guest slept in between (a suspend, or a
 * restore the guest kernel accounts as one). A pause or snapshot restore
 * the guest kernel never notices shows no gap: then the host (or a hook)
 * reloads the guest's daemon, which announces again.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <udo/vsock-addr.h>
#include <udo/vsock-proto.h>

#include "announce.h"
#include "conf.h"
#include "log.h"
#include "server.h"

#define RETRY_FIRST_MS  1000
#define RETRY_MAX_MS    60000
#define IO_TIMEOUT_MS   10000
#define RESUME_CHECK_MS 5000
#define RESUME_MIN_MS   2000
#define BOOT_ID_PATH    "/proc/sys/kernel/random/boot_id"

/* The announcer's state: one attempt at a time. */
static struct {
	struct event_base *base;
	char addr[UDO_VSOCK_ADDR_STRLEN]; /* "": not announcing */
	int fd;                           /* the attempt's socket; -1: none */
	int reading;                      /* the line is sent: waiting for the reply */
	struct event *io;                 /* the attempt's socket (connect, reply) */
	struct event *retry;              /* the next attempt */
	struct event *resume;             /* the resume check */
	unsigned int backoff_ms;          /* the wait before the next retry */
	int failures;                     /* failed attempts in a row */
	long long gap_ms;                 /* CLOCK_BOOTTIME - CLOCK_MONOTONIC at the last check */
	size_t len;
	char buf[512]; /* the reply, gathered */
} A = {.fd = -1};

static void attempt(void);

/* Milliseconds of clock ID. */
static long long clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Closes the attempt in progress, if any. */
static void attempt_close(void)
{
	if (A.io != NULL)
		event_free(A.io);
	A.io = NULL;
	if (A.fd >= 0)
		close(A.fd);
	A.fd = -1;
	A.reading = 0;
	A.len = 0;
}

/* The attempt failed for WHY: closes it and retries after the backoff. */
static void attempt_failed(const char *why)
{
	struct timeval tv = {A.backoff_ms / 1000, (A.backoff_ms % 1000) * 1000};

	attempt_close();
	/* The first failure is worth a warning; the retries are routine. */
	if (A.failures++ == 0)
		log_warnx("cannot announce to %s: %s; retrying in %u ms", A.addr, why, A.backoff_ms);
	else
		log_info("cannot announce to %s: %s; retrying in %u ms", A.addr, why, A.backoff_ms);
	evtimer_add(A.retry, &tv);
	A.backoff_ms = A.backoff_ms >= RETRY_MAX_MS / 2 ? RETRY_MAX_MS : A.backoff_ms * 2;
}

/* Reads the first line of PATH into BUF (LEN bytes), its newline cut. Returns 0 or -1. */
static int read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	int ok = f != NULL && fgets(buf, (int)len, f) != NULL;

	if (f != NULL)
		fclose(f);
	if (!ok)
		return -1;
	buf[strcspn(buf, "\r\n")] = '\0';
	return buf[0] != '\0' ? 0 : -1;
}

/* Reads the boot id into BUF (LEN bytes): $UDO_VSOCKD_BOOT_ID if set
 * (udo-vsockd@.service sets it to systemd's %b: its ProcSubset=pid hides
 * /proc/sys from the daemon), else the kernel's. Returns 0, or -1 after a
 * warning: the host refuses an announce without it. */
static int read_boot_id(char *buf, size_t len)
{
	const char *env = getenv("UDO_VSOCKD_BOOT_ID");

	if (env != NULL && env[0] != '\0' && strlen(env) < len) {
		memcpy(buf, env, strlen(env) + 1);
		return 0;
	}
	if (read_line(BOOT_ID_PATH, buf, len) == 0)
		return 0;
	log_warnx("cannot read the boot id from %s (%s) and UDO_VSOCKD_BOOT_ID is not set: the host will refuse "
	          "the announce",
	          BOOT_ID_PATH, strerror(errno));
	return -1;
}

/* Appends " KEY=VALUE" to LINE (of SIZE, at *LEN) as one quoted word. */
static void append_word(char *line, size_t size, size_t *len, const char *key, const char *value)
{
	char word[200];
	int n = snprintf(word, sizeof(word), "%s=%s", key, value);

	if (n < 0 || (size_t)n >= sizeof(word) || *len + 2 >= size)
		return;
	line[(*len)++] = ' ';
	ssize_t q = udo_vsock_proto_quote(line + *len, size - *len, word, (size_t)n);
	if (q < 0 || (size_t)q >= size - *len)
		q = 0;
	*len += (size_t)q;
	line[*len] = '\0';
}

/* Writes the ANNOUNCE line, newline included, to LINE. Returns its length. */
static size_t announce_line(char *line, size_t size)
{
	char host[256], value[128];
	size_t len = (size_t)snprintf(line, size, "ANNOUNCE");

	/* An unset host name reads as "(none)": then there is none to send. */
	if (gethostname(host, sizeof(host)) == 0 && (host[sizeof(host) - 1] = '\0', host[0] != '\0') &&
	    strcmp(host, "(none)") != 0)
		append_word(line, size, &len, "name", host);
	if (read_boot_id(value, sizeof(value)) == 0)
		append_word(line, size, &len, "boot-id", value);
	if (read_line("/etc/machine-id", value, sizeof(value)) == 0)
		append_word(line, size, &len, "machine-id", value);
	if (len + 2 <= size) {
		line[len++] = '\n';
		line[len] = '\0';
	}
	return len;
}

/* The reply has come (or the attempt went wrong). */
static void io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = {IO_TIMEOUT_MS / 1000, 0};

	if (what & EV_TIMEOUT) {
		attempt_failed(A.reading ? "no reply" : "connect timed out");
		return;
	}
	if (!A.reading) {
		char line[512];
		int err = 0;
		socklen_t elen = sizeof(err);
		if (getsockopt(A.fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
			err = errno;
		if (err != 0) {
			attempt_failed(strerror(err));
			return;
		}
		size_t len = announce_line(line, sizeof(line));
		/* A fresh connection takes a short line whole. */
		if (send(A.fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)len) {
			attempt_failed(errno != 0 ? strerror(errno) : "short send");
			return;
		}
		A.reading = 1;
		event_free(A.io);
		A.io = event_new(A.base, A.fd, EV_READ | EV_PERSIST, io_cb, NULL);
		if (A.io == NULL || event_add(A.io, &tv) < 0) {
			attempt_failed("out of memory");
			return;
		}
		return;
	}
	ssize_t n = recv(A.fd, A.buf + A.len, sizeof(A.buf) - 1 - A.len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		attempt_failed(n < 0 ? strerror(errno) : "the host closed without a reply");
		return;
	}
	A.len += (size_t)n;
	A.buf[A.len] = '\0';
	char *nl = strchr(A.buf, '\n');
	if (nl == NULL && A.len < sizeof(A.buf) - 1)
		return; /* more to come */
	if (nl != NULL)
		*nl = '\0';
	A.buf[strcspn(A.buf, "\r")] = '\0';
	for (char *p = A.buf; *p != '\0'; p++) {
		if (*p < 0x20 || *p >= 0x7f)
			*p = '?'; /* the host writes nothing into our log but text */
	}
	if (strncmp(A.buf, "OK", 2) == 0)
		log_notice("announced to %s: %s", A.addr, A.buf);
	else
		log_warnx("announce to %s refused: %s", A.addr, A.buf); /* an answer: not retried */
	attempt_close();
	A.failures = 0;
	A.backoff_ms = RETRY_FIRST_MS;
}

/* Starts one attempt: a non-blocking connect to A.addr. */
static void attempt(void)
{
	struct udo_vsock_addr a;
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct timeval tv = {IO_TIMEOUT_MS / 1000, 0};
	char why[256];

	attempt_close();
	if (udo_vsock_addr_parse(&a, A.addr, why, sizeof(why)) < 0 || udo_vsock_addr_to_sockaddr(&a, &ss, &sslen) < 0) {
		log_warnx("announce %s: %s", A.addr, why);
		return;
	}
	A.fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (A.fd < 0) {
		attempt_failed(strerror(errno));
		return;
	}
	if (connect(A.fd, (struct sockaddr *)&ss, sslen) < 0 && errno != EINPROGRESS) {
		attempt_failed(strerror(errno));
		return;
	}
	A.io = event_new(A.base, A.fd, EV_WRITE, io_cb, NULL);
	if (A.io == NULL || event_add(A.io, &tv) < 0)
		attempt_failed("out of memory");
}

/* The backoff is over: tries again. */
static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	attempt();
}

/* Begins announcing afresh: the backoff starts over. */
static void announce_now(void)
{
	evtimer_del(A.retry);
	A.failures = 0;
	A.backoff_ms = RETRY_FIRST_MS;
	attempt();
}

/* Announces again if the guest slept since the last check. */
static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
	long long gap = clock_ms(CLOCK_BOOTTIME) - clock_ms(CLOCK_MONOTONIC);

	if (gap - A.gap_ms >= RESUME_MIN_MS) {
		log_notice("resumed after about %lld s asleep: announcing to %s again", (gap - A.gap_ms) / 1000,
		           A.addr);
		A.gap_ms = gap;
		announce_now();
		return;
	}
	A.gap_ms = gap;
}

void announce_configure(struct server *s, const struct config *conf)
{
	struct timeval every = {RESUME_CHECK_MS / 1000, 0};

	if (conf->announce == NULL) {
		if (A.addr[0] != '\0')
			log_info("no longer announcing to %s", A.addr);
		announce_free();
		return;
	}
	if (A.base == NULL) {
		A.base = s->base;
		A.retry = evtimer_new(A.base, retry_cb, NULL);
		A.resume = event_new(A.base, -1, EV_PERSIST, resume_cb, NULL);
		if (A.retry == NULL || A.resume == NULL || event_add(A.resume, &every) < 0) {
			log_warnx("out of memory for announcing");
			announce_free();
			return;
		}
		A.gap_ms = clock_ms(CLOCK_BOOTTIME) - clock_ms(CLOCK_MONOTONIC);
	}
	snprintf(A.addr, sizeof(A.addr), "%s", conf->announce);
	announce_now();
}

void announce_free(void)
{
	attempt_close();
	if (A.retry != NULL)
		event_free(A.retry);
	if (A.resume != NULL)
		event_free(A.resume);
	A.retry = A.resume = NULL;
	A.base = NULL;
	A.addr[0] = '\0';
}
