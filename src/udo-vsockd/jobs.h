/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* jobs.h - detached jobs: programs started by an exec command with
 * `detach = yes` that outlive the connection, kept per peer with their
 * last output, until a while after they end (JOBS, JOB, ATTACH, KILL) */
#ifndef UDO_VSOCKD_JOBS_H
#define UDO_VSOCKD_JOBS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;
struct request;
struct job;

/* The bounds of the jobs of one exec command (its options). */
struct job_limits {
	size_t output_max;         /* job-output: output bytes kept per job */
	unsigned int keep_ms;      /* job-keep: how long an ended job is remembered */
	unsigned int timeout_ms;   /* timeout: SIGTERM, then SIGKILL after a grace */
	unsigned int max_total;    /* max-concurrent: jobs of the command, running or remembered */
	unsigned int max_per_peer; /* max-concurrent-per-peer: the same, of one peer */
};

/* What a job's state is called in JOB and JOBS. */
enum job_state {
	JOB_RUNNING,
	JOB_EXITED,   /* exit=N */
	JOB_SIGNALED, /* signal=NAME */
	JOB_TIMEOUT,  /* killed at its timeout */
};

/* Makes room for one more job of command CMD for peer KEY under LIM: an
 * ended job is forgotten (the oldest first) when a count is full. Returns
 * 0, or -1 with the reason in WHY when only running jobs fill it. */
int jobs_admit(const char *cmd, const char *key, const struct job_limits *lim, char *why, size_t whylen);

/* Takes over PID (its own process group, spawned by command CMD for peer
 * KEY, running PATH) and OUT_FD, the read end of its stdout and stderr,
 * on BASE. Returns the job's id (never 0), or 0 when out of memory (PID's
 * group is killed and OUT_FD closed then). */
unsigned int jobs_start(struct event_base *base, const char *cmd, const char *key, const char *path, pid_t pid,
                        int out_fd, const struct job_limits *lim);

/* The job ID of peer KEY, or NULL: another peer's jobs are not found. */
struct job *jobs_find(const char *key, unsigned int id);

/* The job of REQ's peer whose id is the word ID, or NULL after answering
 * REQ with "ERR usage" (not a number) or "ERR not-found". */
struct job *jobs_find_for(struct request *req, const char *id);

/* Calls FN(J, ARG) for each job of peer KEY, oldest first. */
void jobs_each(const char *key, void (*fn)(const struct job *j, void *arg), void *arg);

/* Writes J's words ("id=N command=NAME state=... ...") to BUF. */
void job_describe(const struct job *j, char *buf, size_t size);

/* The state of J. */
enum job_state job_state(const struct job *j);

/* Sends SIG to J's process group. Returns 0, or an errno value (ESRCH: it
 * has ended). */
int job_signal(struct job *j, int sig);

/* ATTACH: REQ's connection becomes a session (session.c) that gets J's
 * kept output and then follows it live until J ends; SIGNAL frames reach
 * J's group; the client leaving does not touch J. Finishes REQ ("OK
 * session", or busy when another client is attached). IDLE_MS and MAX_MS
 * bound the session as exec's idle-timeout and timeout do. */
void job_attach(struct job *j, struct request *req, unsigned int idle_ms, unsigned int max_ms);

/* At exit: kills every running job's group and forgets all jobs. */
void jobs_stop(void);

#endif /* UDO_VSOCKD_JOBS_H */
