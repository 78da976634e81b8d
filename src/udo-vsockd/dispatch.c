/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* dispatch.c - from a parsed request to its command's handler */
#include "dispatch.h"

#include <stdarg.h>
#include <stdio.h>

#include "audit.h"
#include "conf.h"
#include "log.h"
#include "metrics.h"
#include "proto.h"
#include "ratelimit.h"
#include "request.h"
#include "server.h"

/* Starts REQ for CMD with the given words (its connection has set the
 * rest). */
static inline __attribute__((always_inline)) void request_begin(struct request *req, const struct command *cmd,
                                                                int argc, char **argv)
{
	req->config = config_ref(req->server->config);
	req->cmd = cmd;
	req->argc = argc;
	req->argv = argv;
	req->state = NULL;
	req->finished = req->pending = 0;
	req->bytes_out = 0;
	audit_begin(req);
	req->metrics = NULL;
	if (req->server->metrics_counting)
		metrics_request_begin(req);
}

enum req_status dispatch_request(struct request *req, int argc, char **argv)
{
	const struct config *conf = req->server->config;
	const struct command *cmd = config_find_command(conf, argv[0]);
	const struct peer *peer = req->peer;
	int nargs = argc - 1;

	if (cmd == NULL || !access_allows(conf, cmd, peer)) {
		request_begin(req, NULL, argc, argv);
		if (cmd != NULL && log_ratelimit(req->server->base, req->peer_key, peer->text, peer->cid,
		                                 conf->limits.log_peer_burst, conf->limits.log_peer_interval_ms))
			log_peer_id(LOG_LEVEL_NOTICE, LOG_MSGID_DENIED, peer->text, peer->cid, cmd->name, "denied");
		if (cmd == NULL)
			request_err(req, PROTO_ERR_UNKNOWN, "unknown command; HELP lists the commands");
		else
			request_err(req, PROTO_ERR_DENIED, "not allowed for this peer");
		return REQ_DONE;
	}
	request_begin(req, cmd, argc, argv);
	if (nargs < cmd->min_args || (cmd->max_args >= 0 && nargs > cmd->max_args)) {
		request_err(req, PROTO_ERR_USAGE, "usage: %s%s%s", cmd->name, cmd->usage[0] ? " " : "", cmd->usage);
		return REQ_DONE;
	}
	if (log_enabled(LOG_LEVEL_DEBUG))
		log_peer(LOG_LEVEL_DEBUG, peer->text, peer->cid, cmd->name, "running");
	return cmd->kind->run(req);
}
