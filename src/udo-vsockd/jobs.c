/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* jobs.c - detached jobs (exec's `detach = yes`, udo-vsockd.conf(5)).
 *
 * A job is a program in its own process group whose merged stdout and
 * stderr the daemon reads into a ring of job-output bytes: without a
 * client attached the oldest bytes make room (the program never blocks
 * on us); with one attached, only bytes the client was given do, and
 * reading the program waits for the client (it blocks writing), so an
 * attached client misses nothing. It is reaped here (a SIGCHLD event of
 * its own, waitpid per job pid: other code's children are left alone),
 * killed at its timeout, and remembered job-keep after its end. Jobs
 * are per peer key: a peer finds only its own.
 *
 * ATTACH is an exec session (session.c) whose program is the job: its
 * stdout is a pipe this file fills from the ring, its stdin /dev/null,
 * and `observer` tells the session never to kill the group itself. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include <udo/vsock-frame.h>

#include "event-watch.h"
#include "frame-queue.h"
#include "handler.h"
#include "jobs.h"
#include "log.h"
#include "metrics.h"
#include "proto.h"
#include "request.h"
#include "session.h"
#include "util.h"

/* After SIGTERM at the timeout, SIGKILL this much later (ms). */
#define JOB_KILL_GRACE_MS 1000
/* After the program was reaped, how long its output may stay open (ms). */
#define JOB_DRAIN_MS 500
/* One read of the program's output at most. */
#define JOB_READ_CHUNK 65536

/* What a job's timer waits for. */
enum job_timer {
	JOB_TIMER_TIMEOUT, /* running: its timeout */
	JOB_TIMER_GRACE,   /* SIGTERM sent: SIGKILL next */
	JOB_TIMER_DRAIN,   /* reaped: its output may stay open a little */
	JOB_TIMER_FORGET,  /* ended: forgotten when it fires */
};

struct job_attachment;

/* One detached job. */
struct job {
	struct job *prev, *next; /* all jobs, oldest first */
	unsigned int id;
	char cmd[40];
	char key[80]; /* its peer's key: only that peer finds it */
	char path[200];
	pid_t pid; /* also its process group */
	int reaped, status, timed_out;
	uint64_t started_ms, ended_ms; /* ended_ms: 0 while it runs */
	struct job_limits lim;
	int out_fd; /* -1 once closed */
	struct event *out_ev;
	int out_reading;
	struct event *timer;
	enum job_timer timer_for;
	/* The ring: bytes [head - len, head) of its output are kept. */
	unsigned char *ring;
	size_t len;
	uint64_t head;
	struct job_attachment *att; /* the attached client, or NULL */
};

/* An attached client: a session fed from the ring through a pipe. */
struct job_attachment {
	struct job *job;  /* NULL once the job was forgotten (daemon stop) */
	int pipe_w;       /* the write end of the session's stdout; -1 once closed */
	struct event *ev; /* PIPE_W is writable */
	int writing;
	uint64_t pos;      /* the next ring byte the client gets */
	int told_exit;     /* session_program_exited was called */
	int started;       /* the session spawned (START came) */
	struct session *s; /* the session */
};

static struct job *jobs_head, *jobs_tail;
static unsigned int jobs_next_id = 1;
static struct event *jobs_sigchld;
static struct event_base *jobs_base;

static void job_update(struct job *j);
static void job_attachment_update(struct job_attachment *a);

/* Sets J's timer to fire in MS for WHAT. */
static void job_timer_set(struct job *j, enum job_timer what, unsigned int ms)
{
	struct timeval tv = util_timeval_ms(ms);

	j->timer_for = what;
	evtimer_add(j->timer, &tv);
}

/* Sends SIG to J's group unless it was reaped. Returns 0 or an errno value. */
int job_signal(struct job *j, int sig)
{
	if (j->reaped)
		return ESRCH;
	if (kill(-j->pid, sig) < 0)
		return errno;
	return 0;
}

/* Closes J's output pipe. */
static void job_close_output(struct job *j)
{
	watch_close(&j->out_ev, &j->out_reading, &j->out_fd);
}

/* Unlinks J and frees it; an attached client stays, with no job. */
static void job_free(struct job *j)
{
	if (j->prev != NULL)
		j->prev->next = j->next;
	else
		jobs_head = j->next;
	if (j->next != NULL)
		j->next->prev = j->prev;
	else
		jobs_tail = j->prev;
	if (j->att != NULL)
		j->att->job = NULL;
	job_close_output(j);
	if (j->timer != NULL)
		event_free(j->timer);
	free(j->ring);
	free(j);
}

enum job_state job_state(const struct job *j)
{
	if (j->ended_ms == 0)
		return JOB_RUNNING;
	if (j->timed_out)
		return JOB_TIMEOUT;
	return WIFSIGNALED(j->status) ? JOB_SIGNALED : JOB_EXITED;
}

void job_describe(const struct job *j, char *buf, size_t size)
{
	static const char *const names[] = {"running", "exited", "signaled", "timeout"};
	uint64_t now = util_monotonic_us() / 1000, end = j->ended_ms != 0 ? j->ended_ms : now;
	enum job_state st = job_state(j);
	char sig[16];
	int n = snprintf(buf, size, "id=%u command=%s state=%s pid=%ld seconds=%llu", j->id, j->cmd, names[st],
	                 (long)j->pid, (unsigned long long)((end - j->started_ms) / 1000));

	if (n < 0 || (size_t)n >= size)
		return;
	if (st != JOB_RUNNING && WIFSIGNALED(j->status))
		n += snprintf(buf + n, size - (size_t)n, " signal=%s",
		              frame_exit_signal_name(WTERMSIG(j->status), sig, sizeof(sig)));
	else if (st != JOB_RUNNING)
		n += snprintf(buf + n, size - (size_t)n, " exit=%d", WEXITSTATUS(j->status));
	if ((size_t)n < size)
		snprintf(buf + n, size - (size_t)n, " output=%llu kept=%zu attached=%s", (unsigned long long)j->head,
		         j->len, j->att != NULL ? "yes" : "no");
}

/* J has ended: reaped, and its output closed. Remembered job-keep from now. */
static void job_ended(struct job *j)
{
	char sig[16];

	j->ended_ms = util_monotonic_us() / 1000;
	evtimer_del(j->timer);
	job_timer_set(j, JOB_TIMER_FORGET, j->lim.keep_ms);
	if (WIFSIGNALED(j->status))
		log_info("job %u (%s, pid %ld) ended: signal=%s%s", j->id, j->cmd, (long)j->pid,
		         frame_exit_signal_name(WTERMSIG(j->status), sig, sizeof(sig)),
		         j->timed_out ? " (timeout)" : "");
	else
		log_info("job %u (%s, pid %ld) ended: exit=%d", j->id, j->cmd, (long)j->pid, WEXITSTATUS(j->status));
}

/* The bytes the ring may give up now: all without a client, else only
 * those the client was given. */
static size_t job_droppable(const struct job *j)
{
	if (j->att == NULL)
		return j->len;
	return (size_t)(j->att->pos - (j->head - j->len));
}

/* Reads J's output once, straight into the ring: at its head, over the
 * oldest bytes it may give up (job_droppable). */
static void job_read_output(struct job *j)
{
	size_t cap = j->lim.output_max, room = cap - j->len + job_droppable(j);
	unsigned char drop[JOB_READ_CHUNK];
	struct iovec iov[2];
	int niov = 1;

	if (room == 0)
		return;
	if (j->ring == NULL && (j->ring = malloc(cap)) == NULL)
		log_warnx("job %u: out of memory for its output: not kept", j->id);
	if (j->ring == NULL) {
		iov[0] = (struct iovec){drop, sizeof(drop)}; /* read and drop: the program must not block */
	} else {
		size_t at = (size_t)(j->head % cap), want = room < JOB_READ_CHUNK ? room : JOB_READ_CHUNK;
		size_t first = cap - at < want ? cap - at : want;
		iov[0] = (struct iovec){j->ring + at, first};
		iov[1] = (struct iovec){j->ring, want - first};
		niov = want > first ? 2 : 1;
	}
	ssize_t n = readv(j->out_fd, iov, niov);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (n < 0)
			log_warn("job %u: reading its output", j->id);
		job_close_output(j);
		if (j->reaped)
			job_ended(j);
		return;
	}
	if (j->ring == NULL)
		return;
	size_t add = (size_t)n;
	j->len -= j->len + add > cap ? j->len + add - cap : 0; /* the oldest bytes went */
	j->head += add;
	j->len += add;
}

/* J's output is readable. */
static void job_output_cb(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;

	job_read_output(j);
	job_update(j);
}

/* Feeds J's client, then derives J's output event from the room that
 * leaves in its ring. */
static void job_update(struct job *j)
{
	if (j->att != NULL)
		job_attachment_update(j->att); /* may detach (the session ended) */
	watch_set(j->out_ev, &j->out_reading, j->out_fd >= 0 && j->lim.output_max - j->len + job_droppable(j) > 0);
}

/* J's timer: the timeout, the grace after SIGTERM, the drain, forgetting. */
static void job_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;

	switch (j->timer_for) {
	case JOB_TIMER_TIMEOUT:
		log_info("job %u (%s, pid %ld): timeout after %u ms: SIGTERM", j->id, j->cmd, (long)j->pid,
		         j->lim.timeout_ms);
		j->timed_out = 1;
		(void)job_signal(j, SIGTERM);
		job_timer_set(j, JOB_TIMER_GRACE, JOB_KILL_GRACE_MS);
		return;
	case JOB_TIMER_GRACE:
		(void)job_signal(j, SIGKILL);
		return;
	case JOB_TIMER_DRAIN:
		/* Reaped, but something (a grandchild) keeps the output open. */
		job_close_output(j);
		job_ended(j);
		job_update(j);
		return;
	case JOB_TIMER_FORGET:
		if (j->att != NULL) {
			job_timer_set(j, JOB_TIMER_FORGET, j->lim.keep_ms); /* not while a client follows it */
			return;
		}
		log_info("job %u (%s) forgotten", j->id, j->cmd);
		job_free(j);
		return;
	}
}

/* SIGCHLD: reaps every job that has ended (only the jobs' own pids). */
static void jobs_sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	for (struct job *j = jobs_head; j != NULL; j = j->next) {
		int st;
		if (j->reaped)
			continue;
		pid_t r = waitpid(j->pid, &st, WNOHANG);
		if (r != j->pid && !(r < 0 && errno == ECHILD))
			continue;
		j->reaped = 1;
		j->status = r == j->pid ? st : 0;
		evtimer_del(j->timer);
		if (j->out_fd >= 0)
			job_timer_set(j, JOB_TIMER_DRAIN, JOB_DRAIN_MS);
		else
			job_ended(j);
		job_update(j);
	}
}

/* Counts the jobs of command CMD: all, and those of KEY. */
static void jobs_count(const char *cmd, const char *key, unsigned int *total, unsigned int *of_peer)
{
	*total = *of_peer = 0;
	for (const struct job *j = jobs_head; j != NULL; j = j->next) {
		if (strcmp(j->cmd, cmd) != 0)
			continue;
		(*total)++;
		*of_peer += strcmp(j->key, key) == 0;
	}
}

/* Forgets the oldest ended job of command CMD (of peer KEY, unless NULL)
 * that no client follows. Returns 0, or -1 if there is none. */
static int jobs_forget_oldest(const char *cmd, const char *key)
{
	for (struct job *j = jobs_head; j != NULL; j = j->next) {
		if (j->ended_ms != 0 && j->att == NULL && strcmp(j->cmd, cmd) == 0 &&
		    (key == NULL || strcmp(j->key, key) == 0)) {
			log_info("job %u (%s) forgotten for a new one", j->id, j->cmd);
			job_free(j);
			return 0;
		}
	}
	return -1;
}

int jobs_admit(const char *cmd, const char *key, const struct job_limits *lim, char *why, size_t whylen)
{
	unsigned int total, of_peer;

	jobs_count(cmd, key, &total, &of_peer);
	while (of_peer >= lim->max_per_peer) {
		if (jobs_forget_oldest(cmd, key) < 0) {
			snprintf(why, whylen, "%u jobs of this peer run (max-concurrent-per-peer)", of_peer);
			return -1;
		}
		jobs_count(cmd, key, &total, &of_peer);
	}
	while (total >= lim->max_total) {
		if (jobs_forget_oldest(cmd, NULL) < 0) {
			snprintf(why, whylen, "%u jobs run (max-concurrent)", total);
			return -1;
		}
		jobs_count(cmd, key, &total, &of_peer);
	}
	return 0;
}

unsigned int jobs_start(struct event_base *base, const char *cmd, const char *key, const char *path, pid_t pid,
                        int out_fd, const struct job_limits *lim)
{
	struct job *j = calloc(1, sizeof(*j));

	if (jobs_sigchld == NULL) {
		jobs_sigchld = evsignal_new(base, SIGCHLD, jobs_sigchld_cb, NULL);
		if (jobs_sigchld != NULL && evsignal_add(jobs_sigchld, NULL) < 0) {
			event_free(jobs_sigchld);
			jobs_sigchld = NULL;
		}
	}
	if (j != NULL) {
		j->timer = evtimer_new(base, job_timer_cb, j);
		j->out_ev = event_new(base, out_fd, EV_READ | EV_PERSIST, job_output_cb, j);
	}
	if (j == NULL || j->timer == NULL || j->out_ev == NULL || jobs_sigchld == NULL ||
	    fcntl(out_fd, F_SETFL, fcntl(out_fd, F_GETFL) | O_NONBLOCK) < 0) {
		if (j != NULL && j->timer != NULL)
			event_free(j->timer);
		if (j != NULL && j->out_ev != NULL)
			event_free(j->out_ev);
		free(j);
		(void)kill(-pid, SIGKILL);
		(void)waitpid(pid, NULL, 0); /* no zombie: nothing else waits for it */
		close(out_fd);
		return 0;
	}
	jobs_base = base;
	j->id = jobs_next_id++;
	if (jobs_next_id == 0)
		jobs_next_id = 1;
	snprintf(j->cmd, sizeof(j->cmd), "%s", cmd);
	snprintf(j->key, sizeof(j->key), "%s", key);
	snprintf(j->path, sizeof(j->path), "%s", path);
	j->pid = pid;
	j->out_fd = out_fd;
	j->lim = *lim;
	j->started_ms = util_monotonic_us() / 1000;
	j->prev = jobs_tail;
	if (jobs_tail != NULL)
		jobs_tail->next = j;
	else
		jobs_head = j;
	jobs_tail = j;
	job_timer_set(j, JOB_TIMER_TIMEOUT, lim->timeout_ms);
	job_update(j);
	/* It may have ended before the event was there. */
	jobs_sigchld_cb(SIGCHLD, EV_SIGNAL, NULL);
	return j->id;
}

struct job *jobs_find(const char *key, unsigned int id)
{
	for (struct job *j = jobs_head; j != NULL; j = j->next) {
		if (j->id == id && strcmp(j->key, key) == 0)
			return j;
	}
	return NULL;
}

struct job *jobs_find_for(struct request *req, const char *id)
{
	unsigned long long n;
	char key[80];
	struct job *j;

	if (util_parse_number(id, 1, UINT32_MAX, &n) < 0) {
		request_err(req, PROTO_ERR_USAGE, "'%s' is not a job id", id);
		return NULL;
	}
	util_peer_key(req->peer, key, sizeof(key));
	j = jobs_find(key, (unsigned int)n);
	if (j == NULL)
		request_err(req, PROTO_ERR_NOT_FOUND, "no job %llu of this peer", n);
	return j;
}

void jobs_each(const char *key, void (*fn)(const struct job *j, void *arg), void *arg)
{
	for (const struct job *j = jobs_head; j != NULL; j = j->next) {
		if (strcmp(j->key, key) == 0)
			fn(j, arg);
	}
}

unsigned int jobs_running(void)
{
	unsigned int n = 0;

	for (const struct job *j = jobs_head; j != NULL; j = j->next)
		n += j->ended_ms == 0;
	return n;
}

void jobs_stop(void)
{
	while (jobs_head != NULL) {
		struct job *j = jobs_head;
		if (!j->reaped) {
			log_info("job %u (%s, pid %ld): killed, the daemon stops", j->id, j->cmd, (long)j->pid);
			(void)kill(-j->pid, SIGKILL);
		}
		job_free(j);
	}
	if (jobs_sigchld != NULL)
		event_free(jobs_sigchld);
	jobs_sigchld = NULL;
}

/* --- ATTACH -------------------------------------------------------------- */

/* Closes the attachment's pipe (the session then reads its end). */
static void job_attachment_close(struct job_attachment *a)
{
	watch_close(&a->ev, &a->writing, &a->pipe_w);
}

/* Writes what the client has not got yet into the pipe, closes it once
 * the job has ended and all is given, and tells the session of the exit. */
static void job_attachment_update(struct job_attachment *a)
{
	struct job *j = a->job;

	if (!a->started)
		return;
	if (j == NULL) {
		job_attachment_close(a);
		return;
	}
	while (a->pipe_w >= 0 && a->pos < j->head) {
		size_t cap = j->lim.output_max, at = (size_t)(a->pos % cap), n = (size_t)(j->head - a->pos);
		if (n > cap - at)
			n = cap - at;
		ssize_t w = write(a->pipe_w, j->ring + at, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			break;
		if (w < 0) {
			job_attachment_close(a); /* the session closed its end */
			break;
		}
		a->pos += (uint64_t)w;
	}
	if (a->pipe_w >= 0 && a->pos == j->head && j->ended_ms != 0)
		job_attachment_close(a); /* all given: the session sees the end */
	watch_set(a->ev, &a->writing, a->pipe_w >= 0 && a->pos < j->head);
	if (j->reaped && !a->told_exit && a->s != NULL) {
		a->told_exit = 1;
		session_program_exited(a->s, j->status);
	}
}

/* The pipe takes bytes: the client consumed some, so the ring may read on. */
static void job_attachment_cb(evutil_socket_t fd, short what, void *arg)
{
	struct job_attachment *a = arg;

	if (a->job != NULL)
		job_update(a->job); /* feeds A, then maybe reads the program */
	else
		job_attachment_close(a);
}

/* session_program.spawn: the job runs already; the session gets a pipe
 * for its output and /dev/null for its input. */
static int job_attachment_spawn(void *arg, struct session_spawn *sp)
{
	struct job_attachment *a = arg;
	int p[2], null;

	if (a->job == NULL)
		return ESRCH;
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return errno;
	null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	a->ev = event_new(jobs_base, p[1], EV_WRITE | EV_PERSIST, job_attachment_cb, a);
	if (null < 0 || a->ev == NULL) {
		int err = null < 0 ? errno : ENOMEM;
		if (null >= 0)
			close(null);
		if (a->ev != NULL)
			event_free(a->ev);
		a->ev = NULL;
		close(p[0]);
		close(p[1]);
		return err;
	}
	a->pipe_w = p[1];
	a->started = 1;
	sp->in_fd = null;
	sp->out_fd = p[0];
	sp->err_fd = -1;
	sp->pid = a->job->pid;
	/* Fed from the loop, never inside the session's own call. */
	event_active(a->ev, EV_WRITE, 0);
	return 0;
}

/* session_program.release: the client has gone; the job goes on. */
static void job_attachment_release(void *arg)
{
	struct job_attachment *a = arg;

	job_attachment_close(a);
	if (a->job != NULL) {
		a->job->att = NULL;
		job_update(a->job); /* reading resumes, dropping the oldest */
	}
	free(a);
}

static const struct session_program job_attachment_program = {
    .spawn = job_attachment_spawn,
    .release = job_attachment_release,
};

void job_attach(struct job *j, struct request *req, unsigned int idle_ms, unsigned int max_ms)
{
	struct session_limits lim = {
	    .window = 1024,
	    .idle_ms = idle_ms,
	    .max_ms = max_ms,
	    .drain_ms = JOB_DRAIN_MS,
	    .pty = 0,
	    .observer = 1,
	};
	struct job_attachment *a;

	if (j->att != NULL) {
		request_err(req, PROTO_ERR_BUSY, "job %u has a client attached already", j->id);
		return;
	}
	a = calloc(1, sizeof(*a));
	if (a != NULL) {
		a->job = j;
		a->pipe_w = -1;
		a->pos = j->head - j->len;
		a->s = session_new(&lim, &job_attachment_program, a);
	}
	if (a == NULL || a->s == NULL) {
		free(a);
		request_err(req, PROTO_ERR_INTERNAL, "out of memory");
		return;
	}
	j->att = a;
	request_bridge(req, session_start, session_release, a->s);
	request_ok(req, "session");
}
