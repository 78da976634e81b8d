/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kinds/version.c - VERSION: the daemon and protocol versions. */
#include "config.h"

#include "../handler.h"
#include "../request.h"

/* The protocol version of udo-vsock-protocol(7). */
#define PROTOCOL_VERSION 1

/* Answers key=value data lines. */
static enum req_status version_run(struct request *req)
{
	request_dataf(req, "version=%s", PACKAGE_VERSION);
	request_dataf(req, "protocol=%d", PROTOCOL_VERSION);
	request_ok(req, NULL);
	return REQ_DONE;
}

const struct handler_kind handler_version = {
    .name = "version",
    .min_args = 0,
    .max_args = 0,
    .usage = "",
    .summary = "show the daemon and protocol versions",
    .run = version_run,
};
