/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* check_ratelimit - the per-peer log rate limit (ratelimit.c), linked in,
 * driven by an explicit clock: bursts, windows, the count of what was
 * suppressed, and a clock that steps back. No sockets, no daemon. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/udo-vsockd/log.h"
#include "../src/udo-vsockd/ratelimit.h"

enum { BURST = 10, INTERVAL = 5000 };

/* The notices logged since the test began: stderr goes to a file. */
static FILE *notices;

/* Sends stderr (where the notices go) to a fresh temporary file. */
static void capture_notices(void)
{
	notices = tmpfile();
	ck_assert_ptr_nonnull(notices);
	ck_assert_int_ge(dup2(fileno(notices), STDERR_FILENO), 0);
	log_init(LOG_LEVEL_INFO);
}

/* The sum of the counts in the "N log messages about this peer
 * suppressed" reports logged so far. */
static unsigned long long reported_suppressed(void)
{
	char line[512];
	unsigned long long sum = 0;

	fflush(stderr);
	rewind(notices);
	while (fgets(line, sizeof(line), notices) != NULL) {
		const char *at = strstr(line, " log messages about this peer suppressed");
		if (at == NULL)
			continue;
		while (at > line && at[-1] >= '0' && at[-1] <= '9')
			at--;
		sum += strtoull(at, NULL, 10);
	}
	return sum;
}

/* N messages about KEY at time NOW: how many of them may be logged. */
static int allowed_at(uint64_t now, const char *key, int n)
{
	int allowed = 0;

	for (int i = 0; i < n; i++)
		allowed += log_ratelimit_at(now, key, key, 3, BURST, INTERVAL);
	return allowed;
}

/* BURST per window; the next window brings the count of the rest. */
START_TEST(test_burst_per_window)
{
	capture_notices();
	ck_assert_int_eq(allowed_at(100000, "cid:3", 25), BURST);
	ck_assert_int_eq(allowed_at(100000 + INTERVAL - 1, "cid:3", 5), 0);
	ck_assert_uint_eq(reported_suppressed(), 0);
	ck_assert_int_eq(allowed_at(100000 + INTERVAL, "cid:3", 1), 1);
	ck_assert_uint_eq(reported_suppressed(), 25 - BURST + 5);
	/* Another peer has a window of its own. */
	ck_assert_int_eq(allowed_at(100000 + INTERVAL, "cid:4", BURST + 1), BURST);
	log_ratelimit_flush();
	ck_assert_uint_eq(reported_suppressed(), 25 - BURST + 5 + 1);
}
END_TEST

/* libevent's cached time steps back by a few ms each time it resyncs
 * with the wall clock. Such a step must not begin a new burst: before,
 * a flood that met one got BURST more lines within a single window. */
START_TEST(test_small_step_back_is_same_window)
{
	capture_notices();
	ck_assert_int_eq(allowed_at(200000, "cid:3", BURST + 5), BURST);
	ck_assert_int_eq(allowed_at(200000 - 20, "cid:3", BURST), 0);
	/* The window now starts at the step and still lasts INTERVAL. */
	ck_assert_int_eq(allowed_at(200000 - 20 + INTERVAL - 1, "cid:3", 1), 0);
	ck_assert_int_eq(allowed_at(200000 - 20 + INTERVAL, "cid:3", 1), 1);
	ck_assert_uint_eq(reported_suppressed(), 5 + BURST + 1);
}
END_TEST

/* The wall clock set back by an hour: suppression goes on for one
 * INTERVAL from the step, not for the hour, and not from zero. */
START_TEST(test_clock_set_back_an_hour)
{
	capture_notices();
	ck_assert_int_eq(allowed_at(3600000 + 300000, "unix:guest", BURST + 1), BURST);
	ck_assert_int_eq(allowed_at(300000, "unix:guest", 1), 0);
	ck_assert_int_eq(allowed_at(300000 + INTERVAL, "unix:guest", 1), 1);
	ck_assert_uint_eq(reported_suppressed(), 2);
}
END_TEST

/* BURST 0: no limit and no reports. */
START_TEST(test_burst_zero_is_unlimited)
{
	capture_notices();
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(log_ratelimit_at(1000, "cid:9", "cid 9", 9, 0, INTERVAL), 1);
	log_ratelimit_flush();
	ck_assert_uint_eq(reported_suppressed(), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *tc = tcase_create("windows");

	tcase_add_test(tc, test_burst_per_window);
	tcase_add_test(tc, test_small_step_back_is_same_window);
	tcase_add_test(tc, test_clock_set_back_an_hour);
	tcase_add_test(tc, test_burst_zero_is_unlimited);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
