/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kinds/job.c - JOB ID: one detached job of the asking peer: its state,
 * and its exit status or signal once it has ended (jobs.c). */
#include "../handler.h"
#include "../jobs.h"
#include "../request.h"

/* Answers "OK id=N command=NAME state=... [exit=N|signal=NAME] ...". */
static enum req_status job_run(struct request *req)
{
	struct job *j = jobs_find_for(req, req->argv[1]);
	char words[512];

	if (j == NULL)
		return REQ_DONE;
	job_describe(j, words, sizeof(words));
	request_ok(req, "%s", words);
	return REQ_DONE;
}

const struct handler_kind handler_job = {
    .name = "job",
    .min_args = 1,
    .max_args = 1,
    .usage = "ID",
    .summary = "the state and exit status of one of this peer's jobs",
    .run = job_run,
};
