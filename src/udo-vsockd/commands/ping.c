/* commands/ping.c - PING [TOKEN]: is the daemon alive? Echoes TOKEN. */
#include "commands.h"

/* Answers "OK pong" or "OK pong TOKEN". */
static void ping_run(struct request *req)
{
	if (req->argc > 1)
		request_ok(req, "pong %s", req->argv[1]);
	else
		request_ok(req, "pong");
}

const struct handler_kind handler_ping = {
	.name = "ping",
	.min_args = 0,
	.max_args = 1,
	.usage = "[TOKEN]",
	.summary = "check that the daemon answers; echoes TOKEN",
	.run = ping_run,
};
