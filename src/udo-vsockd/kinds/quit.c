/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kinds/quit.c - QUIT: end the connection after this reply. */
#include "../handler.h"
#include "../request.h"

/* Answers "OK bye" and closes once it is sent. */
static enum req_status quit_run(struct request *req)
{
	request_close_connection(req);
	request_ok(req, "bye");
	return REQ_DONE;
}

const struct handler_kind handler_quit = {
    .name = "quit",
    .min_args = 0,
    .max_args = 0,
    .usage = "",
    .summary = "close this connection",
    .run = quit_run,
};
