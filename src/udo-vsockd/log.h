/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* log.h - levelled logging to stderr or, under systemd, to the journal */
#ifndef UDO_VSOCKD_LOG_H
#define UDO_VSOCKD_LOG_H

#include <stdarg.h>
#include <stdint.h>

enum log_level {
	LOG_LEVEL_ERR = 3,
	LOG_LEVEL_WARNING = 4,
	LOG_LEVEL_NOTICE = 5,
	LOG_LEVEL_INFO = 6,
	LOG_LEVEL_DEBUG = 7,
};

/* Sets up logging: messages up to LEVEL are written; to the journal when
 * stderr is connected to it (JOURNAL_STREAM), otherwise to stderr. */
void log_init(enum log_level level);

/* Changes the most verbose level written. */
void log_set_level(enum log_level level);

/* The most verbose level written (read it through log_enabled). */
extern enum log_level log_max_level;

/* True if messages of LEVEL are written: guards costly arguments. */
static inline int log_enabled(enum log_level level)
{
	return level <= log_max_level;
}

/* Parses "err|warning|notice|info|debug". Returns 0 or -1. */
int log_level_parse(const char *text, enum log_level *level);

/* Routes libevent's own diagnostics through these functions. */
void log_route_libevent(void);

/* Warning with ": strerror(errno)" appended; errno is preserved. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Warning without errno. */
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Notable events (start, reload, stop). */
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Routine information. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Debugging detail, shown with -vv. */
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Logs with ": strerror(errno)" and exits 1. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Logs and exits 1. */
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* A message about one peer's request, with structured journal fields
 * PEER (its address text), PEER_CID and COMMAND (NULL: none). */
void log_peer(enum log_level level, const char *peer, uint32_t cid, const char *command, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif /* UDO_VSOCKD_LOG_H */
