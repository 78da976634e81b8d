/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* log.c - levelled logging to stderr or, under systemd, to the journal */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/event.h>
/* Our own CODE_FILE= etc.: the caller's, not this file's. */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

enum log_level log_max_level = LOG_LEVEL_NOTICE;
static int log_to_journal;
static int log_held;                    /* log_hold(1): count, do not write */
static unsigned long long log_left_out; /* ... and the count */

/* True when stderr is the stream systemd named in JOURNAL_STREAM. */
static int stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (env == NULL || sscanf(env, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(enum log_level level)
{
	log_max_level = level;
	log_to_journal = stderr_is_journal();
}

int log_journal(void)
{
	return log_to_journal;
}

void log_set_level(enum log_level level)
{
	log_max_level = level;
}

/* See log.h. */
unsigned long long log_hold(int on)
{
	unsigned long long n = log_left_out;

	log_held = on;
	log_left_out = 0;
	return on ? 0 : n;
}

/* Writes one formatted message from FILE:LINE in FUNC, with optional
 * journal fields. */
static void log_emit(enum log_level level, const char *msgid, const char *file, int line, const char *func,
                     const char *peer, uint32_t cid, const char *command, const char *suffix, const char *fmt,
                     va_list ap)
{
	char msg[1024];

	if (level > log_max_level)
		return;
	if (log_held) {
		log_left_out++;
		return;
	}
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_to_journal) {
		/* The text names the peer too, for readers of plain journalctl. */
		static char ident[] = "SYSLOG_IDENTIFIER=udo-vsockd";
		char text[1200], prio[16], idf[48], peerf[256], cidf[24], cmdf[160], filef[256], linef[32];
		struct iovec iov[7];
		int n = 0;
		snprintf(text, sizeof(text), "MESSAGE=%s%s%s%s%s%s", peer != NULL ? peer : "", peer != NULL ? ": " : "",
		         command != NULL ? command : "", command != NULL ? ": " : "", msg, suffix);
		snprintf(prio, sizeof(prio), "PRIORITY=%d", (int)level);
		iov[n++] = (struct iovec){text, strlen(text)};
		iov[n++] = (struct iovec){prio, strlen(prio)};
		/* Named even when journald cannot see a short-lived -t process's _COMM. */
		iov[n++] = (struct iovec){ident, sizeof(ident) - 1};
		if (msgid != NULL) {
			snprintf(idf, sizeof(idf), "MESSAGE_ID=%s", msgid);
			iov[n++] = (struct iovec){idf, strlen(idf)};
		}
		if (peer != NULL) {
			snprintf(peerf, sizeof(peerf), "PEER=%s", peer);
			snprintf(cidf, sizeof(cidf), "PEER_CID=%u", cid);
			iov[n++] = (struct iovec){peerf, strlen(peerf)};
			iov[n++] = (struct iovec){cidf, strlen(cidf)};
		}
		if (command != NULL) {
			snprintf(cmdf, sizeof(cmdf), "COMMAND=%s", command);
			iov[n++] = (struct iovec){cmdf, strlen(cmdf)};
		}
		snprintf(filef, sizeof(filef), "CODE_FILE=%s", file);
		snprintf(linef, sizeof(linef), "CODE_LINE=%d", line);
		sd_journal_sendv_with_location(filef, linef, func, iov, n);
		return;
	}
	if (peer != NULL && command != NULL)
		fprintf(stderr, "udo-vsockd: %s: %s: %s: %s%s\n", log_level_name(level), peer, command, msg, suffix);
	else if (peer != NULL)
		fprintf(stderr, "udo-vsockd: %s: %s: %s%s\n", log_level_name(level), peer, msg, suffix);
	else
		fprintf(stderr, "udo-vsockd: %s: %s%s\n", log_level_name(level), msg, suffix);
}

void log_at(enum log_level level, const char *msgid, const char *file, int line, const char *func, const char *peer,
            uint32_t cid, const char *command, int with_errno, const char *fmt, ...)
{
	int saved = errno;
	char suffix[128] = "";
	va_list ap;

	if (with_errno)
		snprintf(suffix, sizeof(suffix), ": %s", strerror(saved));
	va_start(ap, fmt);
	log_emit(level, msgid, file, line, func, peer, cid, command, suffix, fmt, ap);
	va_end(ap);
	errno = saved;
}

void log_audit(const char *text, char *const *fields, int nfields)
{
	if (log_held) {
		log_left_out++;
		return;
	}
	if (log_to_journal) {
		static char ident[] = "SYSLOG_IDENTIFIER=udo-vsockd", prio[] = "PRIORITY=6",
		            msgid[] = "MESSAGE_ID=" LOG_MSGID_AUDIT;
		struct iovec iov[24];
		char msg[1200];
		int n = 0;
		snprintf(msg, sizeof(msg), "MESSAGE=%s", text);
		iov[n++] = (struct iovec){msg, strlen(msg)};
		iov[n++] = (struct iovec){prio, sizeof(prio) - 1};
		iov[n++] = (struct iovec){ident, sizeof(ident) - 1};
		iov[n++] = (struct iovec){msgid, sizeof(msgid) - 1};
		for (int i = 0; i < nfields && n < (int)(sizeof(iov) / sizeof(iov[0])); i++)
			iov[n++] = (struct iovec){fields[i], strlen(fields[i])};
		sd_journal_sendv(iov, n);
		return;
	}
	fprintf(stderr, "udo-vsockd: audit: %s\n", text);
}

void log_fatal_at(const char *file, int line, const char *func, int with_errno, const char *fmt, ...)
{
	char suffix[128] = "";
	va_list ap;

	if (with_errno)
		snprintf(suffix, sizeof(suffix), ": %s", strerror(errno));
	va_start(ap, fmt);
	log_emit(LOG_LEVEL_ERR, NULL, file, line, func, NULL, 0, NULL, suffix, fmt, ap);
	va_end(ap);
	exit(1);
}

/* libevent's log callback: its severities mapped onto ours. */
static void libevent_log(int severity, const char *msg)
{
	switch (severity) {
	case EVENT_LOG_DEBUG:
		log_debug("libevent: %s", msg);
		break;
	case EVENT_LOG_MSG:
		log_info("libevent: %s", msg);
		break;
	default:
		log_warnx("libevent: %s", msg);
		break;
	}
}

void log_route_libevent(void)
{
	event_set_log_callback(libevent_log);
}
