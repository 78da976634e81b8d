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
#include "../src/udo-vsockd/util.h"

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

/* Whether a line of the notices so far holds both TEXT and ALSO. */
static int notices_hold(const char *text, const char *also)
{
	char line[512];

	fflush(stderr);
	rewind(notices);
	while (fgets(line, sizeof(line), notices) != NULL) {
		if (strstr(line, text) != NULL && strstr(line, also) != NULL)
			return 1;
	}
	return 0;
}

/* Writes into KEY (of SIZE) the first "PREFIX:N" whose class (AUDIT or
 * not) falls in the table's set SET. */
static void key_in_set(char *key, size_t size, const char *prefix, int audit, unsigned int set)
{
	for (unsigned int n = 0;; n++) {
		snprintf(key, size, "%s:%u", prefix, n);
		if ((util_fnv1a(key) + (unsigned int)audit) % RATELIMIT_SETS == set)
			return;
	}
}

/* A full set evicts the peer asked about least recently, whatever
 * clock each class is on: the audit class is judged on the monotonic
 * clock (a few thousand ms after boot), the notices on the wall clock
 * (ms since 1970). Before, eviction compared those times, so the audit
 * entry used last was evicted first. */
START_TEST(test_eviction_follows_use_across_clocks)
{
	enum { WALL = 1700000000000ULL, MONO = 5000 };
	char n0[32], n1[32], n2[32], a0[32], a1[32];

	capture_notices();
	key_in_set(n0, sizeof(n0), "n0", 0, 17);
	key_in_set(n1, sizeof(n1), "n1", 0, 17);
	key_in_set(n2, sizeof(n2), "n2", 0, 17);
	key_in_set(a0, sizeof(a0), "a0", 1, 17);
	key_in_set(a1, sizeof(a1), "a1", 1, 17);
	/* Each asks twice with a burst of 1: one suppressed, to be reported. */
	for (int i = 0; i < 2; i++) {
		log_ratelimit_at(WALL, n0, n0, 0, 1, INTERVAL);
		log_ratelimit_at(WALL, n1, n1, 0, 1, INTERVAL);
	}
	for (int i = 0; i < 2; i++) {
		audit_ratelimit_at(MONO, a0, util_fnv1a(a0), a0, 0, 1, INTERVAL);
		audit_ratelimit_at(MONO, a1, util_fnv1a(a1), a1, 0, 1, INTERVAL);
	}
	/* The set is full; n0 is the least recently used. */
	log_ratelimit_at(WALL, n2, n2, 0, 1, INTERVAL);
	ck_assert_msg(notices_hold(n0, "1 log messages about this peer suppressed"),
	              "the least recently used peer (%s) was not the one evicted", n0);
	ck_assert_msg(!notices_hold("audit entries about this peer suppressed", ""),
	              "an audit entry used after it was evicted instead");
}
END_TEST

/* A cached window (audit_ratelimit_cached, as a connection keeps one)
 * follows its key: once the entry is evicted and taken by another key,
 * or the table flushed, asking through the cache is judged by the
 * cached key's own (new) window, not by the entry's new owner. */
START_TEST(test_cache_follows_eviction_and_flush)
{
	enum { MONO = 7000 };
	char keys[RATELIMIT_WAYS + 1][32];
	struct ratelimit_cache cache = {0};
	const char *k = keys[0];

	capture_notices();
	for (int i = 0; i <= RATELIMIT_WAYS; i++) {
		char prefix[8];
		snprintf(prefix, sizeof(prefix), "c%d", i);
		key_in_set(keys[i], sizeof(keys[i]), prefix, 1, 23);
	}
	/* K: one allowed, then suppressed, through its cache. */
	ck_assert_int_eq(audit_ratelimit_cached(&cache, MONO, k, util_fnv1a(k), k, 0, 1, INTERVAL), 1);
	ck_assert_int_eq(audit_ratelimit_cached(&cache, MONO, k, util_fnv1a(k), k, 0, 1, INTERVAL), 0);
	ck_assert_int_eq(audit_ratelimit_cached(&cache, MONO, k, util_fnv1a(k), k, 0, 1, INTERVAL), 0);
	/* Others fill the set, each past its burst: K (least recent) goes. */
	for (int i = 1; i <= RATELIMIT_WAYS; i++) {
		for (int j = 0; j < 3; j++)
			audit_ratelimit_at(MONO, keys[i], util_fnv1a(keys[i]), keys[i], 0, 1, INTERVAL);
	}
	ck_assert_msg(notices_hold(k, "2 audit entries about this peer suppressed"), "%s was not evicted", k);
	/* K again in the same window: a new entry with a fresh burst. */
	ck_assert_msg(audit_ratelimit_cached(&cache, MONO + 1, k, util_fnv1a(k), k, 0, 1, INTERVAL) == 1,
	              "judged by the window of the key that took its entry");
	ck_assert_int_eq(audit_ratelimit_cached(&cache, MONO + 1, k, util_fnv1a(k), k, 0, 1, INTERVAL), 0);
	/* A flush forgets every window: K's cache with it. */
	log_ratelimit_flush();
	ck_assert_int_eq(audit_ratelimit_cached(&cache, MONO + 2, k, util_fnv1a(k), k, 0, 1, INTERVAL), 1);
	ck_assert_int_eq(audit_ratelimit_cached(&cache, MONO + 2, k, util_fnv1a(k), k, 0, 1, INTERVAL), 0);
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
	tcase_add_test(tc, test_eviction_follows_use_across_clocks);
	tcase_add_test(tc, test_cache_follows_eviction_and_flush);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
