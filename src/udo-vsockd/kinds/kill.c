/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kinds/kill.c - KILL ID [SIGNAL]: signals the process group of one of
 * the asking peer's detached jobs (jobs.c); TERM when no signal is named. */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include <udo/vsock-frame.h>

#include "../handler.h"
#include "../jobs.h"
#include "../proto.h"
#include "../request.h"

/* The signal named NAME ("TERM", "SIGTERM"; the names of SIGNAL frames),
 * or -1. */
static int kill_signal_number(const char *name)
{
	if (strncmp(name, "SIG", 3) == 0)
		name += 3;
	return udo_vsock_frame_signal_number(name, strlen(name));
}

/* Sends the signal; answers "OK", or "ERR failed" once the job has ended. */
static enum req_status kill_run(struct request *req)
{
	int sig = req->argc > 2 ? kill_signal_number(req->argv[2]) : SIGTERM;
	struct job *j;

	if (sig < 0) {
		request_err(req, PROTO_ERR_USAGE, "'%s' is not a signal this daemon sends", req->argv[2]);
		return REQ_DONE;
	}
	if ((j = jobs_find_for(req, req->argv[1])) == NULL)
		return REQ_DONE;
	int err = job_signal(j, sig);
	if (err == ESRCH)
		request_err(req, PROTO_ERR_FAILED, "job %s has ended", req->argv[1]);
	else if (err != 0)
		request_err(req, PROTO_ERR_FAILED, "kill: %s", strerror(err));
	else
		request_ok(req, NULL);
	return REQ_DONE;
}

const struct handler_kind handler_kill = {
    .name = "kill",
    .min_args = 1,
    .max_args = 2,
    .usage = "ID [SIGNAL]",
    .summary = "send a signal to one of this peer's jobs",
    .run = kill_run,
};
