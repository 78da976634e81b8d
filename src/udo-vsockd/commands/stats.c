/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* commands/stats.c - STATS: connection and command counters. */
#include "../server.h"
#include "commands.h"

/* Answers the daemon's counters as key=value data lines. */
static void stats_run(struct request *req)
{
	const struct server *s = req->server;

	request_dataf(req, "connections=%u", s->nconns);
	request_dataf(req, "connections_total=%llu", (unsigned long long)s->stats.connections_total);
	request_dataf(req, "connections_rejected=%llu", (unsigned long long)s->stats.connections_rejected);
	request_dataf(req, "commands=%llu", (unsigned long long)s->stats.commands);
	request_dataf(req, "errors=%llu", (unsigned long long)s->stats.errors);
	request_dataf(req, "reloads=%llu", (unsigned long long)s->stats.reloads);
	request_dataf(req, "uptime=%llu", (unsigned long long)(server_uptime_ms(s) / 1000));
	request_ok(req, NULL);
}

const struct handler_kind handler_stats = {
    .name = "stats",
    .min_args = 0,
    .max_args = 0,
    .usage = "",
    .summary = "show connection and command counters",
    .run = stats_run,
};
