/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kinds/settime.c - SETTIME SECONDS[.FRACTION]: sets this machine's
 * CLOCK_REALTIME (clock_settime(2), CAP_SYS_TIME) to a Unix time the
 * host read with its TIME, for a guest whose clock stood still while it
 * was paused. Only the system clock: the RTC is left to the kernel's
 * 11-minute mode or hwclock(8). */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "../handler.h"
#include "../proto.h"
#include "../request.h"

/* The times SETTIME accepts: 2000-01-01 up to, not including, 2100. */
#define SETTIME_MIN 946684800LL
#define SETTIME_MAX 4102444800LL

/* Parses "SECONDS[.FRACTION]" (decimal digits only, 1 to 9 of
 * fraction) within the bounds above into *TS. Returns 0 or -1. */
static int parse_time(const char *s, struct timespec *ts)
{
	long long sec = 0;
	long nsec = 0;
	int digits = 0;

	for (; *s >= '0' && *s <= '9'; s++) {
		if (++digits > 11)
			return -1;
		sec = sec * 10 + (*s - '0');
	}
	if (digits == 0)
		return -1;
	if (*s == '.') {
		int frac = 0;
		long scale = 100000000;
		for (s++; *s >= '0' && *s <= '9'; s++, scale /= 10) {
			if (++frac > 9)
				return -1;
			nsec += (*s - '0') * scale;
		}
		if (frac == 0)
			return -1;
	}
	if (*s != '\0' || sec < SETTIME_MIN || sec >= SETTIME_MAX)
		return -1;
	ts->tv_sec = (time_t)sec;
	ts->tv_nsec = nsec;
	return 0;
}

/* Sets the clock; answers "OK SECONDS.NANOS step=[-]S.NNNNNNNNN", the
 * time set and how far the clock moved. */
static enum req_status settime_run(struct request *req)
{
	struct timespec want, before;

	if (parse_time(req->argv[1], &want) < 0) {
		request_err(req, PROTO_ERR_USAGE, "SECONDS[.FRACTION]: a Unix time from 2000 to 2099");
		return REQ_DONE;
	}
	clock_gettime(CLOCK_REALTIME, &before);
	if (clock_settime(CLOCK_REALTIME, &want) < 0) {
		request_err(req, PROTO_ERR_FAILED, "clock_settime: %s", strerror(errno));
		return REQ_DONE;
	}
	long long step = ((long long)want.tv_sec - before.tv_sec) * 1000000000LL + (want.tv_nsec - before.tv_nsec);
	unsigned long long mag = step < 0 ? (unsigned long long)-step : (unsigned long long)step;
	request_ok(req, "%lld.%09ld step=%s%llu.%09llu", (long long)want.tv_sec, want.tv_nsec, step < 0 ? "-" : "",
	           mag / 1000000000ULL, mag % 1000000000ULL);
	return REQ_DONE;
}

const struct handler_kind handler_settime = {
    .name = "settime",
    .min_args = 1,
    .max_args = 1,
    .usage = "SECONDS[.FRACTION]",
    .summary = "set this machine's clock to a Unix time (e.g. the host's TIME)",
    .run = settime_run,
};
