/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kinds/help.c - HELP: the commands this peer may run, with usage. */
#include "../conf.h"
#include "../dispatch.h"
#include "../handler.h"
#include "../request.h"

/* Lists every command the asking peer is allowed to run. */
static enum req_status help_run(struct request *req)
{
	for (const struct command *cmd = req->config->commands; cmd != NULL; cmd = cmd->next) {
		if (!access_allows(req->config, cmd, req->peer))
			continue;
		request_dataf(req, "%s%s%s - %s", cmd->name, cmd->usage[0] ? " " : "", cmd->usage, cmd->summary);
	}
	request_ok(req, NULL);
	return REQ_DONE;
}

const struct handler_kind handler_help = {
    .name = "help",
    .min_args = 0,
    .max_args = 0,
    .usage = "",
    .summary = "list the commands you may run",
    .run = help_run,
};
