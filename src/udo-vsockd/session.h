/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* session.h - an exec session: the frames of one connection after "OK session" */
#ifndef UDO_VSOCKD_SESSION_H
#define UDO_VSOCKD_SESSION_H

#include <stddef.h>
#include <sys/types.h>

struct conn;
struct session;

/* The bounds of one session (the exec command's options). */
struct session_limits {
	size_t window;         /* session-window: stdin bytes the client may have in flight */
	unsigned int idle_ms;  /* idle-timeout: no frame either way this long ends it; 0: never */
	unsigned int max_ms;   /* timeout: the longest a session lives */
	unsigned int drain_ms; /* after the program's exit, how long its output may stay open */
	int pty;               /* pty = yes */
	int observer;          /* the program is not the session's (ATTACH, jobs.c): the session
	                        * never kills its group, and waits for its output however long */
};

/* What a START asks of the spawner, and what it gives back. */
struct session_spawn {
	/* in */
	int pty;
	unsigned short rows, cols; /* the terminal's size (pty only) */
	const char *term;          /* TERM for the program, or NULL (pty only) */
	/* out: the daemon's ends, close-on-exec. With a pty IN_FD and OUT_FD
	 * are the same master and ERR_FD is -1. IN_FD -1: stdin is dropped;
	 * ERR_FD -1: stderr is at its end from the start. */
	int in_fd, out_fd, err_fd;
	pid_t pid; /* also its process group */
};

/* The program's side of a session, given by the exec kind (kinds/exec.c). */
struct session_program {
	/* Spawns the program as SP says. Returns 0, or an errno value. */
	int (*spawn)(void *arg, struct session_spawn *sp);
	/* The session ends (called exactly once): the program's group gets
	 * SIGTERM, and SIGKILL after the grace, unless it was reaped; it is
	 * reaped without the session. */
	void (*release)(void *arg);
};

/* A new session under LIMITS, the program's side PROG with ARG. Returns
 * it, or NULL when out of memory. Hand it to request_bridge() with
 * session_start and session_release. */
struct session *session_new(const struct session_limits *limits, const struct session_program *prog, void *arg);

/* The bridge's start: the "OK session" line is sent; frames from now on. */
void session_start(struct conn *c, void *arg);

/* The bridge's release: frees the session, ending the program (release). */
void session_release(void *arg);

/* The program was reaped with wait status STATUS. */
void session_program_exited(struct session *s, int status);

#endif /* UDO_VSOCKD_SESSION_H */
