/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* log.h - levelled logging to stderr or, under systemd, to the journal */
#ifndef UDO_VSOCKD_LOG_H
#define UDO_VSOCKD_LOG_H

#include <stdarg.h>
#include <stddef.h>
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

/* True when messages go to the journal (set by log_init). */
int log_journal(void);

/* Changes the most verbose level written. */
void log_set_level(enum log_level level);

/* While ON, log lines and audit entries are counted, not written: the
 * filesystems are frozen (fsfreeze.c), and the journal's files, or the
 * file stderr goes to, may be on them; writing would block the event
 * loop. Ending it (ON 0) returns how many were left out. */
unsigned long long log_hold(int on);

/* The most verbose level written (read it through log_enabled). */
extern enum log_level log_max_level;

/* LEVEL's name ("error", "warning", ...: also the `log-level =` values),
 * or NULL for a value outside the enum. */
static inline const char *log_level_name(int level)
{
	static const char *const names[] = {
	    [LOG_LEVEL_ERR] = "error", [LOG_LEVEL_WARNING] = "warning", [LOG_LEVEL_NOTICE] = "notice",
	    [LOG_LEVEL_INFO] = "info", [LOG_LEVEL_DEBUG] = "debug",
	};

	return level >= 0 && (unsigned)level < sizeof(names) / sizeof(names[0]) ? names[level] : NULL;
}

/* True if messages of LEVEL are written: guards costly arguments. */
static inline int log_enabled(enum log_level level)
{
	return level <= log_max_level;
}

/* Routes libevent's own diagnostics through these functions. */
void log_route_libevent(void);

/* MESSAGE_ID= journal fields of the events an operator filters on
 * (journalctl MESSAGE_ID=...), documented in udo-vsockd(8). */
#define LOG_MSGID_READY         "999fd67f5e3943d0a7b592ecf670fa62"
#define LOG_MSGID_RELOADED      "9def5771dea946f9aed1ffd9cfb9ce62"
#define LOG_MSGID_RELOAD_FAILED "bcd1410b5252474b94d2e31685743f47"
#define LOG_MSGID_DENIED        "0cf2e41bfc3e43549e63df7a415b5347"
#define LOG_MSGID_REFUSED       "e0dbf8d4ac614ce58eb3432e38edd493"
#define LOG_MSGID_STOPPING      "3faacfe694394b18be5cfe24ae59abcb"
#define LOG_MSGID_AUDIT         "de3b711fe2a04d87bd948678b7f57899"

/* The caller's location, for CODE_FILE=, CODE_LINE= and CODE_FUNC=. */
#define LOG_WHERE __FILE__, __LINE__, __func__

/* Logs one message at LEVEL from FILE:LINE in FUNC, with MSGID (NULL:
 * none), PEER, CID and COMMAND (NULL: none) as journal fields and, if
 * WITH_ERRNO, ": strerror(errno)" appended; errno is preserved. Use the
 * macros below, which pass the caller's location. */
void log_at(enum log_level level, const char *msgid, const char *file, int line, const char *func, const char *peer,
            uint32_t cid, const char *command, int with_errno, const char *fmt, ...)
    __attribute__((format(printf, 10, 11)));
/* Writes one audit entry (audit.c), whatever the log level: to the
 * journal as MESSAGE=TEXT at info priority with MESSAGE_ID
 * LOG_MSGID_AUDIT and the NFIELDS fields ("NAME=value"), else to stderr
 * as "udo-vsockd: audit: TEXT". */
void log_audit(const char *text, char *const *fields, int nfields);

/* log_at, then exit 1. */
void log_fatal_at(const char *file, int line, const char *func, int with_errno, const char *fmt, ...)
    __attribute__((format(printf, 5, 6), noreturn));

/* Warning with ": strerror(errno)" appended; errno is preserved. */
#define log_warn(...) log_at(LOG_LEVEL_WARNING, NULL, LOG_WHERE, NULL, 0, NULL, 1, __VA_ARGS__)
/* Warning without errno. */
#define log_warnx(...) log_at(LOG_LEVEL_WARNING, NULL, LOG_WHERE, NULL, 0, NULL, 0, __VA_ARGS__)
/* Warning without errno, with a MESSAGE_ID (LOG_MSGID_*). */
#define log_warnx_id(msgid, ...) log_at(LOG_LEVEL_WARNING, msgid, LOG_WHERE, NULL, 0, NULL, 0, __VA_ARGS__)
/* Notable events (start, reload, stop). */
#define log_notice(...) log_at(LOG_LEVEL_NOTICE, NULL, LOG_WHERE, NULL, 0, NULL, 0, __VA_ARGS__)
/* A notable event with a MESSAGE_ID (LOG_MSGID_*). */
#define log_notice_id(msgid, ...) log_at(LOG_LEVEL_NOTICE, msgid, LOG_WHERE, NULL, 0, NULL, 0, __VA_ARGS__)
/* Routine information. */
#define log_info(...) log_at(LOG_LEVEL_INFO, NULL, LOG_WHERE, NULL, 0, NULL, 0, __VA_ARGS__)
/* Debugging detail, shown with -vv. */
#define log_debug(...) log_at(LOG_LEVEL_DEBUG, NULL, LOG_WHERE, NULL, 0, NULL, 0, __VA_ARGS__)
/* Logs with ": strerror(errno)" and exits 1. */
#define fatal(...) log_fatal_at(LOG_WHERE, 1, __VA_ARGS__)
/* Logs and exits 1. */
#define fatalx(...) log_fatal_at(LOG_WHERE, 0, __VA_ARGS__)

/* A message about one peer's request, with structured journal fields
 * PEER (its address text), PEER_CID and COMMAND (NULL: none). */
#define log_peer(level, peer, cid, command, ...) log_at(level, NULL, LOG_WHERE, peer, cid, command, 0, __VA_ARGS__)
/* log_peer with a MESSAGE_ID (LOG_MSGID_*). */
#define log_peer_id(level, msgid, peer, cid, command, ...)                                                             \
	log_at(level, msgid, LOG_WHERE, peer, cid, command, 0, __VA_ARGS__)

#endif /* UDO_VSOCKD_LOG_H */
