/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kinds/frozen.c - FROZEN: what FREEZE holds frozen now (fsfreeze.c),
 * and for how long still, without changing anything. */
#include "../fsfreeze.h"
#include "../handler.h"
#include "../request.h"

/* Answers one data line per frozen mount point and "OK frozen=N
 * remaining_ms=MS freezes=N thaws=N auto_thaws=N failures=N". */
static enum req_status frozen_run(struct request *req)
{
	struct fsfreeze_status st;

	fsfreeze_get_status(&st);
	for (int i = 0; i < st.frozen; i++)
		request_dataf(req, "%s", fsfreeze_path(i));
	request_ok(req, "frozen=%d remaining_ms=%llu freezes=%llu thaws=%llu auto_thaws=%llu failures=%llu", st.frozen,
	           (unsigned long long)st.remaining_ms, (unsigned long long)st.freezes, (unsigned long long)st.thaws,
	           (unsigned long long)st.auto_thaws, (unsigned long long)st.failures);
	return REQ_DONE;
}

const struct handler_kind handler_frozen = {
    .name = "frozen",
    .min_args = 0,
    .max_args = 0,
    .usage = "",
    .summary = "show which filesystems FREEZE holds and the time to the auto-thaw",
    .run = frozen_run,
};
