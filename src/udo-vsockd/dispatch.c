/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* dispatch.c - from a parsed request to its command's handler */
#include "dispatch.h"

#include <stdarg.h>
#include <stdio.h>

#include "audit.h"
#include "conn.h"
#include "log.h"
#include "metrics.h"
#include "proto.h"
#include "ratelimit.h"

/* Starts REQ on C for CMD with the given words. */
static void request_begin(struct conn *c, const struct command *cmd, int argc, char **argv)
{
	struct request *req = &c->req;

	req->server = c->server;
	req->conn = c;
	req->config = config_ref(c->server->config);
	req->cmd = cmd;
	req->argc = argc;
	req->argv = argv;
	req->peer = &c->peer;
	req->state = NULL;
	req->finished = req->pending = 0;
	req->bytes_out = 0;
	audit_begin(req);
	req->metrics = NULL;
	if (c->server->metrics_counting)
		metrics_request_begin(req, c);
	c->req_active = 1;
}

enum req_status dispatch_request(struct conn *c, int argc, char **argv)
{
	const struct config *conf = c->server->config;
	const struct command *cmd = config_find_command(conf, argv[0]);
	int nargs = argc - 1;

	if (cmd == NULL || !access_allows(conf, cmd, &c->peer)) {
		request_begin(c, NULL, argc, argv);
		if (cmd != NULL && log_ratelimit(c->server->base, c->peer_key, c->peer.text, c->peer.cid,
		                                 conf->limits.log_peer_burst, conf->limits.log_peer_interval_ms))
			log_peer_id(LOG_LEVEL_NOTICE, LOG_MSGID_DENIED, c->peer.text, c->peer.cid, cmd->name, "denied");
		if (cmd == NULL)
			request_err(&c->req, PROTO_ERR_UNKNOWN, "unknown command; HELP lists the commands");
		else
			request_err(&c->req, PROTO_ERR_DENIED, "not allowed for this peer");
		return REQ_DONE;
	}
	request_begin(c, cmd, argc, argv);
	if (nargs < cmd->min_args || (cmd->max_args >= 0 && nargs > cmd->max_args)) {
		request_err(&c->req, PROTO_ERR_USAGE, "usage: %s%s%s", cmd->name, cmd->usage[0] ? " " : "", cmd->usage);
		return REQ_DONE;
	}
	if (log_enabled(LOG_LEVEL_DEBUG))
		log_peer(LOG_LEVEL_DEBUG, c->peer.text, c->peer.cid, cmd->name, "running");
	return cmd->kind->run(&c->req);
}

void request_close_connection(struct request *req)
{
	if (req->conn != NULL)
		req->conn->closing = 1;
}

void request_detach(struct request *req, conn_detach_fn fn, void *arg)
{
	if (req->conn == NULL) {
		fn(-1, NULL, 0, req->peer, arg);
		return;
	}
	req->conn->detach_fn = fn;
	req->conn->detach_arg = arg;
	req->conn->closing = 1;
}

void request_bridge(struct request *req, void (*start)(struct conn *c, void *arg), void (*release)(void *arg),
                    void *arg)
{
	if (req->conn == NULL) {
		release(arg);
		return;
	}
	req->conn->bridge_start = start;
	req->conn->bridge_release = release;
	req->conn->bridge_arg = arg;
	req->conn->closing = 1;
}
