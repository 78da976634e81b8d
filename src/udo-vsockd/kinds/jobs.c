/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kinds/jobs.c - JOBS: the asking peer's detached jobs (jobs.c), one data
 * line each, as JOB describes one; other peers' jobs are not shown. */
#include "../jobs.h"
#include "../handler.h"
#include "../request.h"
#include "../util.h"

/* Sends J as one data line of the request ARG. */
static void jobs_line(const struct job *j, void *arg)
{
	char line[512];

	job_describe(j, line, sizeof(line));
	request_dataf(arg, "%s", line);
}

/* Lists the peer's jobs, oldest first, then OK. */
static enum req_status jobs_run(struct request *req)
{
	char key[80];

	util_peer_key(req->peer, key, sizeof(key));
	jobs_each(key, jobs_line, req);
	request_ok(req, NULL);
	return REQ_DONE;
}

const struct handler_kind handler_jobs = {
    .name = "jobs",
    .min_args = 0,
    .max_args = 0,
    .usage = "",
    .summary = "list this peer's detached jobs",
    .run = jobs_run,
};
