/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* log.c - levelled logging to stderr or, under systemd, to the journal */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <systemd/sd-journal.h>

enum log_level log_max_level = LOG_LEVEL_NOTICE;
static int log_to_journal;

static const char *const level_names[] = {
    [LOG_LEVEL_ERR] = "error", [LOG_LEVEL_WARNING] = "warning", [LOG_LEVEL_NOTICE] = "notice",
    [LOG_LEVEL_INFO] = "info", [LOG_LEVEL_DEBUG] = "debug",
};

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

void log_set_level(enum log_level level)
{
	log_max_level = level;
}

int log_level_parse(const char *text, enum log_level *level)
{
	for (int i = LOG_LEVEL_ERR; i <= LOG_LEVEL_DEBUG; i++) {
		if (strcmp(text, level_names[i]) == 0) {
			*level = (enum log_level)i;
			return 0;
		}
	}
	if (strcmp(text, "warn") == 0) {
		*level = LOG_LEVEL_WARNING;
		return 0;
	}
	return -1;
}

/* Writes one formatted message, with optional journal fields. */
static void log_emit(enum log_level level, const char *peer, uint32_t cid, const char *command, const char *suffix,
                     const char *fmt, va_list ap)
{
	char msg[1024];

	if (level > log_max_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_to_journal) {
		/* The text names the peer too, for readers of plain journalctl. */
		char cidbuf[16], text[1200];
		snprintf(cidbuf, sizeof(cidbuf), "%u", cid);
		snprintf(text, sizeof(text), "%s%s%s%s%s%s", peer != NULL ? peer : "", peer != NULL ? ": " : "",
		         command != NULL ? command : "", command != NULL ? ": " : "", msg, suffix);
		if (peer != NULL && command != NULL)
			sd_journal_send("MESSAGE=%s", text, "PRIORITY=%d", level, "PEER=%s", peer, "PEER_CID=%s",
			                cidbuf, "COMMAND=%s", command, NULL);
		else if (peer != NULL)
			sd_journal_send("MESSAGE=%s", text, "PRIORITY=%d", level, "PEER=%s", peer, "PEER_CID=%s",
			                cidbuf, NULL);
		else
			sd_journal_send("MESSAGE=%s", text, "PRIORITY=%d", level, NULL);
		return;
	}
	if (peer != NULL && command != NULL)
		fprintf(stderr, "udo-vsockd: %s: %s: %s: %s%s\n", level_names[level], peer, command, msg, suffix);
	else if (peer != NULL)
		fprintf(stderr, "udo-vsockd: %s: %s: %s%s\n", level_names[level], peer, msg, suffix);
	else
		fprintf(stderr, "udo-vsockd: %s: %s%s\n", level_names[level], msg, suffix);
}

/* Builds the ": strerror" suffix for ERR. */
static void errno_suffix(char *buf, size_t len, int err)
{
	snprintf(buf, len, ": %s", strerror(err));
}

void log_warn(const char *fmt, ...)
{
	int saved = errno;
	char suffix[128];
	va_list ap;

	errno_suffix(suffix, sizeof(suffix), saved);
	va_start(ap, fmt);
	log_emit(LOG_LEVEL_WARNING, NULL, 0, NULL, suffix, fmt, ap);
	va_end(ap);
	errno = saved;
}

/* Defines a plain log function for one level. */
#define LOG_PLAIN(fn, level)                                                                                           \
	void fn(const char *fmt, ...)                                                                                  \
	{                                                                                                              \
		int saved = errno;                                                                                     \
		va_list ap;                                                                                            \
		va_start(ap, fmt);                                                                                     \
		log_emit(level, NULL, 0, NULL, "", fmt, ap);                                                           \
		va_end(ap);                                                                                            \
		errno = saved;                                                                                         \
	}
LOG_PLAIN(log_warnx, LOG_LEVEL_WARNING)
LOG_PLAIN(log_notice, LOG_LEVEL_NOTICE)
LOG_PLAIN(log_info, LOG_LEVEL_INFO)
LOG_PLAIN(log_debug, LOG_LEVEL_DEBUG)

void fatal(const char *fmt, ...)
{
	char suffix[128];
	va_list ap;

	errno_suffix(suffix, sizeof(suffix), errno);
	va_start(ap, fmt);
	log_emit(LOG_LEVEL_ERR, NULL, 0, NULL, suffix, fmt, ap);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_ERR, NULL, 0, NULL, "", fmt, ap);
	va_end(ap);
	exit(1);
}

void log_peer(enum log_level level, const char *peer, uint32_t cid, const char *command, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit(level, peer, cid, command, "", fmt, ap);
	va_end(ap);
	errno = saved;
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
