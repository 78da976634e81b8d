/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kinds/thaw.c - THAW: FITHAW on every filesystem FREEZE froze
 * (fsfreeze.c); nothing frozen is no error. */
#include "../fsfreeze.h"
#include "../handler.h"
#include "../request.h"

/* Thaws; answers "OK thawed=N". */
static enum req_status thaw_run(struct request *req)
{
	request_ok(req, "thawed=%d", fsfreeze_thaw_all("thaw"));
	return REQ_DONE;
}

const struct handler_kind handler_thaw = {
    .name = "thaw",
    .min_args = 0,
    .max_args = 0,
    .usage = "",
    .summary = "thaw the filesystems FREEZE froze",
    .run = thaw_run,
};
