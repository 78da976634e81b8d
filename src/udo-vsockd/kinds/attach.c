/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kinds/attach.c - ATTACH ID: the connection becomes a session (frames,
 * udo-vsock-protocol(7)) that streams a detached job's kept output, then
 * follows it live to its EXIT; leaving detaches again (jobs.c). */
#include <stdio.h>
#include <stdlib.h>

#include "../conf.h"
#include "../handler.h"
#include "../jobs.h"
#include "../request.h"
#include "../util.h"

/* No frame either way this long ends the session (ms); the longest one. */
#define ATTACH_IDLE_DEFAULT_MS    3600000
#define ATTACH_TIMEOUT_DEFAULT_MS 86400000

/* An attach command's options. */
struct attach_conf {
	unsigned int idle_ms;
	unsigned int timeout_ms;
};

/* The attach conf of CMD with its defaults, made on first use; NULL when
 * out of memory. */
static void *attach_get_data(struct command *cmd)
{
	struct attach_conf *ac = cmd->data;

	if (ac == NULL && (ac = calloc(1, sizeof(*ac))) != NULL) {
		ac->idle_ms = ATTACH_IDLE_DEFAULT_MS;
		ac->timeout_ms = ATTACH_TIMEOUT_DEFAULT_MS;
		cmd->data = ac;
	}
	return ac;
}

/* The options of an attach command (udo-vsockd.conf(5)). */
static const struct option_spec attach_options[] = {
    OPTION("idle-timeout", OPT_DURATION, 0, 86400000, struct attach_conf, idle_ms, NULL),
    OPTION("timeout", OPT_DURATION, 1, 86400000, struct attach_conf, timeout_ms, NULL),
    OPTION_END,
};

/* Makes the defaults when no option was given. */
static int attach_check(struct command *cmd, char *why, size_t whylen)
{
	if (attach_get_data(cmd) == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	return 0;
}

/* Answers "OK session" and hands the connection to the job's session. */
static enum req_status attach_run(struct request *req)
{
	const struct attach_conf *ac = req->cmd->data;
	struct job *j = jobs_find_for(req, req->argv[1]);

	if (j != NULL)
		job_attach(j, req, ac->idle_ms, ac->timeout_ms);
	return REQ_DONE;
}

const struct handler_kind handler_attach = {
    .name = "attach",
    .min_args = 1,
    .max_args = 1,
    .usage = "ID",
    .summary = "follow one of this peer's jobs: its kept output, then live",
    .options = attach_options,
    .get_data = attach_get_data,
    .free_data = free,
    .check = attach_check,
    .run = attach_run,
};
