/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kinds/time.c - TIME: the daemon host's clock, for a guest that has just
 * resumed (its own clock stood still while it was paused) or a host that
 * wants to see how far a guest's clock is off. */
#include <sys/timex.h>
#include <time.h>

#include "../handler.h"
#include "../proto.h"
#include "../request.h"

/* Whether the kernel says the clock is kept in sync (by an NTP daemon,
 * chrony, systemd-timesyncd): " synced" or " unsynced" (STA_UNSYNC), or
 * "" when asking is not allowed: the shipped units' ProtectClock= and
 * system call filter deny even the read-only adjtimex(2). */
static const char *clock_sync_word(void)
{
	struct timex tx = {.modes = 0};
	int rc = adjtimex(&tx);

	if (rc == -1)
		return "";
	return rc == TIME_ERROR || (tx.status & STA_UNSYNC) ? " unsynced" : " synced";
}

/* Answers "OK SECONDS.NANOSECONDS RFC3339-UTC [SYNC]", one instant of
 * CLOCK_REALTIME written twice: for scripts, and for people. */
static enum req_status time_run(struct request *req)
{
	struct timespec now;
	struct tm tm;
	char stamp[64];

	if (clock_gettime(CLOCK_REALTIME, &now) < 0 || gmtime_r(&now.tv_sec, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		request_err(req, PROTO_ERR_INTERNAL, "cannot read the clock");
		return REQ_DONE;
	}
	request_ok(req, "%lld.%09ld %s.%09ldZ%s", (long long)now.tv_sec, now.tv_nsec, stamp, now.tv_nsec,
	           clock_sync_word());
	return REQ_DONE;
}

const struct handler_kind handler_time = {
    .name = "time",
    .min_args = 0,
    .max_args = 0,
    .usage = "",
    .summary = "show this machine's clock (Unix time, UTC) and, if known, whether it is synced",
    .run = time_run,
};
