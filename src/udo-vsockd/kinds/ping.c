/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kinds/ping.c - PING [TOKEN]: is the daemon alive? Echoes TOKEN. */
#include "../handler.h"
#include "../request.h"

/* Answers "OK pong" or "OK pong TOKEN". */
static enum req_status ping_run(struct request *req)
{
	const char *words[2] = {"pong", req->argc > 1 ? req->argv[1] : NULL};

	request_ok_words(req, req->argc > 1 ? 2 : 1, words);
	return REQ_DONE;
}

const struct handler_kind handler_ping = {
    .name = "ping",
    .min_args = 0,
    .max_args = 1,
    .usage = "[TOKEN]",
    .summary = "check that the daemon answers; echoes TOKEN",
    .run = ping_run,
};
