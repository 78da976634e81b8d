/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* check_util - the daemon's shared helpers (src/udo-vsockd/util.c),
 * compiled in alone: numbers, sizes and durations with their bounds,
 * suffixes, overflow and junk; booleans; FNV-1a; timevals; peer keys;
 * and the option tables' applier with its one error text per type. */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/udo-vsockd/peer.h"
#include "../src/udo-vsockd/util.h"

/* Which parser a case is for. */
enum kind { NUMBER, SIZE, DURATION };

/* One text, its parser and bounds, and what it must give. */
struct parse_case {
	enum kind kind;
	const char *text;
	unsigned long long min, max;
	int ok;
	unsigned long long value;
};

#define U64 18446744073709551615ULL
static const struct parse_case cases[] = {
    {NUMBER, "0", 0, 100, 1, 0},
    {NUMBER, "42", 0, 100, 1, 42},
    {NUMBER, "100", 0, 100, 1, 100},
    {NUMBER, "101", 0, 100, 0, 0},
    {NUMBER, "4", 5, 100, 0, 0},
    {NUMBER, "5", 5, 100, 1, 5},
    {NUMBER, "007", 0, 100, 1, 7},
    {NUMBER, "1K", 0, 1ULL << 30, 0, 0},
    {NUMBER, "10ms", 0, 100, 0, 0},
    {NUMBER, "", 0, 100, 0, 0},
    {NUMBER, "x", 0, 100, 0, 0},
    {NUMBER, "-1", 0, 100, 0, 0},
    {NUMBER, "+1", 0, 100, 0, 0},
    {NUMBER, " 1", 0, 100, 0, 0},
    {NUMBER, "1 ", 0, 100, 0, 0},
    {NUMBER, "1.5", 0, 100, 0, 0},
    {NUMBER, "0x10", 0, 100, 0, 0},
    {NUMBER, "18446744073709551615", 0, U64, 1, U64},
    {NUMBER, "18446744073709551616", 0, U64, 0, 0},
    {NUMBER, "99999999999999999999999", 0, U64, 0, 0},
    {SIZE, "0", 0, 100, 1, 0},
    {SIZE, "4K", 0, 1ULL << 30, 1, 4096},
    {SIZE, "4KiB", 0, 1ULL << 30, 1, 4096},
    {SIZE, "1M", 0, 1ULL << 30, 1, 1048576},
    {SIZE, "2MiB", 0, 1ULL << 30, 1, 2097152},
    {SIZE, "1024M", 0, 1ULL << 30, 1, 1ULL << 30},
    {SIZE, "1025M", 0, 1ULL << 30, 0, 0},
    {SIZE, "4095", 4096, 1ULL << 30, 0, 0},
    {SIZE, "4K", 4096, 1ULL << 30, 1, 4096},
    {SIZE, "3K", 4096, 1ULL << 30, 0, 0},
    {SIZE, "10k", 0, 1ULL << 30, 0, 0},
    {SIZE, "10KB", 0, 1ULL << 30, 0, 0},
    {SIZE, "10G", 0, U64, 0, 0},
    {SIZE, "10 K", 0, 1ULL << 30, 0, 0},
    {SIZE, "K", 0, 1ULL << 30, 0, 0},
    {SIZE, "18446744073709551615K", 0, U64, 0, 0},
    {SIZE, "18014398509481983K", 0, U64, 1, 18014398509481983ULL * 1024},
    {SIZE, "18014398509481984K", 0, U64, 0, 0},
    {SIZE, "17592186044415M", 0, U64, 1, 17592186044415ULL * 1048576},
    {SIZE, "17592186044416M", 0, U64, 0, 0},
    {DURATION, "5", 0, 86400000, 1, 5000},
    {DURATION, "2s", 0, 86400000, 1, 2000},
    {DURATION, "300ms", 0, 86400000, 1, 300},
    {DURATION, "500ms", 0, 86400000, 1, 500},
    {DURATION, "2min", 0, 86400000, 1, 120000},
    {DURATION, "1440min", 0, 86400000, 1, 86400000},
    {DURATION, "1441min", 0, 86400000, 0, 0},
    {DURATION, "0", 1, 86400000, 0, 0},
    {DURATION, "0ms", 1, 86400000, 0, 0},
    {DURATION, "1ms", 1, 86400000, 1, 1},
    {DURATION, "9ms", 10, 60000, 0, 0},
    {DURATION, "5h", 0, 86400000, 0, 0},
    {DURATION, "5S", 0, 86400000, 0, 0},
    {DURATION, "5K", 0, 86400000, 0, 0},
    {DURATION, "5 s", 0, 86400000, 0, 0},
    {DURATION, "s", 0, 86400000, 0, 0},
    {DURATION, "18446744073709551615ms", 0, U64, 1, U64},
    {DURATION, "18446744073709551615", 0, U64, 0, 0},
    {DURATION, "307445734561825min", 0, U64, 1, 307445734561825ULL * 60000},
    {DURATION, "307445734561826min", 0, U64, 0, 0},
};

/* Row _i of the parse table. */
START_TEST(test_parse)
{
	static const char *const names[] = {"number", "size", "duration"};
	const struct parse_case *tc = &cases[_i];
	unsigned long long v = 12345;
	int r;

	if (tc->kind == NUMBER)
		r = util_parse_number(tc->text, tc->min, tc->max, &v);
	else if (tc->kind == SIZE)
		r = util_parse_size(tc->text, tc->min, tc->max, &v);
	else
		r = util_parse_duration(tc->text, tc->min, tc->max, &v);
	ck_assert_msg((r == 0) == tc->ok, "%s '%s' (%llu to %llu): result %d, expected %s", names[tc->kind], tc->text,
	              tc->min, tc->max, r, tc->ok ? "ok" : "an error");
	if (tc->ok)
		ck_assert_msg(v == tc->value, "%s '%s' gave %llu, expected %llu", names[tc->kind], tc->text, v,
		              tc->value);
	else
		ck_assert_msg(v == 12345, "%s '%s' refused but wrote %llu", names[tc->kind], tc->text, v);
}
END_TEST

/* yes/true/on/1 and no/false/off/0, exactly; nothing else. */
START_TEST(test_bool)
{
	static const char *const yes[] = {"yes", "true", "on", "1"}, *const no[] = {"no", "false", "off", "0"};
	static const char *const junk[] = {"", "Yes", "YES", "y", "n", "2", "yess", " yes", "yes ", "01", "none"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		ck_assert_int_eq(util_parse_bool(yes[i]), 1);
		ck_assert_int_eq(util_parse_bool(no[i]), 0);
	}
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		ck_assert_msg(util_parse_bool(junk[i]) == -1, "'%s' taken as a boolean", junk[i]);
}
END_TEST

/* The published FNV-1a 32-bit test vectors. */
START_TEST(test_fnv1a)
{
	ck_assert_uint_eq(util_fnv1a(""), 0x811c9dc5u);
	ck_assert_uint_eq(util_fnv1a("a"), 0xe40c292cu);
	ck_assert_uint_eq(util_fnv1a("foobar"), 0xbf9cf968u);
	/* Bytes above 127 count as unsigned. */
	ck_assert_uint_eq(util_fnv1a("\xff"), (0x811c9dc5u ^ 0xffu) * 16777619u);
}
END_TEST

/* Milliseconds split into seconds and microseconds. */
START_TEST(test_timeval)
{
	static const struct {
		unsigned long long ms;
		long sec, usec;
	} tv[] = {{0, 0, 0},         {1, 0, 1000},         {999, 0, 999000},           {1000, 1, 0},
	          {1500, 1, 500000}, {86400000, 86400, 0}, {UINT_MAX, 4294967, 295000}};

	for (size_t i = 0; i < sizeof(tv) / sizeof(tv[0]); i++) {
		struct timeval t = util_timeval_ms(tv[i].ms);
		ck_assert_msg(t.tv_sec == tv[i].sec && t.tv_usec == tv[i].usec, "%llu ms gave %ld.%06ld", tv[i].ms,
		              (long)t.tv_sec, (long)t.tv_usec);
	}
}
END_TEST

/* "cid:N" for vsock peers (a mux listener's too), "unix:IDENTITY" for
 * unix ones, cut to the buffer. */
START_TEST(test_peer_key)
{
	struct peer p;
	char key[80];

	memset(&p, 0, sizeof(p));
	p.transport = UDO_VSOCK_ADDR_VSOCK;
	p.cid = 3;
	util_peer_key(&p, key, sizeof(key));
	ck_assert_str_eq(key, "cid:3");
	p.cid = 4294967295u;
	util_peer_key(&p, key, sizeof(key));
	ck_assert_str_eq(key, "cid:4294967295");
	p.transport = UDO_VSOCK_ADDR_VSOCK_MUX;
	p.cid = 7;
	util_peer_key(&p, key, sizeof(key));
	ck_assert_str_eq(key, "cid:7");
	p.transport = UDO_VSOCK_ADDR_UNIX;
	p.cid = UINT32_MAX;
	snprintf(p.identity, sizeof(p.identity), "admin");
	util_peer_key(&p, key, sizeof(key));
	ck_assert_str_eq(key, "unix:admin");
	util_peer_key(&p, key, 6);
	ck_assert_str_eq(key, "unix:");
}
END_TEST

/* A target of every option type. */
struct target {
	unsigned int count;
	int small;
	size_t bytes;
	unsigned int ms;
	int flag;
	char *text;
	const char *seen_ctx;
};

/* A parse callback: records its context; "fail" fails with a message,
 * "nomem" without one. */
static int custom(const struct option_spec *spec, void *target, void *ctx, const char *value, char *why, size_t whylen)
{
	struct target *t = target;

	if (strcmp(value, "fail") == 0) {
		snprintf(why, whylen, "%s: no", spec->name);
		return -1;
	}
	if (strcmp(value, "nomem") == 0)
		return -1;
	t->seen_ctx = ctx;
	return 0;
}

/* A callback that keeps the standard text of its type. */
static int typed(const struct option_spec *spec, void *target, void *ctx, const char *value, char *why, size_t whylen)
{
	unsigned long long v;

	if (option_value(spec, value, &v, why, whylen) < 0)
		return -1;
	((struct target *)target)->ms = (unsigned int)(v + 1);
	return 0;
}

static const struct option_spec table[] = {
    OPTION("count", OPT_NUMBER, 1, 10, struct target, count, NULL),
    OPTION("small", OPT_NUMBER, 0, 65536, struct target, small, NULL),
    OPTION("bytes", OPT_SIZE, 4096, 1ULL << 30, struct target, bytes, NULL),
    OPTION("wait", OPT_DURATION, 1, 600000, struct target, ms, NULL),
    OPTION("flag", OPT_BOOL, 0, 1, struct target, flag, NULL),
    OPTION("text", OPT_STRING, 0, 0, struct target, text, NULL),
    OPTION_CUSTOM("custom", custom, NULL),
    OPTION("typed", OPT_DURATION, 0, 1000, struct target, ms, typed),
    OPTION_END,
};

/* Applies KEY = VALUE to T, expecting success. */
static void apply_ok(struct target *t, const char *key, const char *value)
{
	const struct option_spec *spec = option_find(table, key);
	char why[200];

	ck_assert_ptr_nonnull(spec);
	ck_assert_msg(option_apply(spec, t, "ctx", value, why, sizeof(why)) == 0, "%s = %s: %s", key, value, why);
}

/* Applies KEY = VALUE to T, expecting the error WANT, and T unchanged. */
static void apply_err(struct target *t, const char *key, const char *value, const char *want)
{
	const struct option_spec *spec = option_find(table, key);
	struct target before = *t;
	char why[200];

	ck_assert_ptr_nonnull(spec);
	ck_assert_msg(option_apply(spec, t, "ctx", value, why, sizeof(why)) < 0, "%s = %s accepted", key, value);
	ck_assert_str_eq(why, want);
	ck_assert_msg(memcmp(&before, t, sizeof(before)) == 0, "%s = %s changed the target", key, value);
}

/* The applier stores each type in its field, with one error text per
 * type, and finds only listed keys. */
START_TEST(test_option_apply)
{
	struct target t = {0};

	ck_assert_ptr_null(option_find(table, "bogus"));
	ck_assert_ptr_null(option_find(table, ""));
	ck_assert_ptr_null(option_find(NULL, "count"));
	apply_ok(&t, "count", "10");
	ck_assert_uint_eq(t.count, 10);
	apply_ok(&t, "small", "65536");
	ck_assert_int_eq(t.small, 65536);
	apply_ok(&t, "bytes", "64K");
	ck_assert_uint_eq(t.bytes, 65536);
	apply_ok(&t, "bytes", "1024M");
	ck_assert_uint_eq(t.bytes, 1ULL << 30);
	apply_ok(&t, "wait", "2min");
	ck_assert_uint_eq(t.ms, 120000);
	apply_ok(&t, "flag", "yes");
	ck_assert_int_eq(t.flag, 1);
	apply_ok(&t, "flag", "off");
	ck_assert_int_eq(t.flag, 0);
	apply_ok(&t, "text", "one");
	apply_ok(&t, "text", "two"); /* the first copy freed (leak-checked under valgrind/ASan) */
	ck_assert_str_eq(t.text, "two");
	apply_ok(&t, "custom", "x");
	ck_assert_str_eq(t.seen_ctx, "ctx");
	apply_ok(&t, "typed", "5ms");
	ck_assert_uint_eq(t.ms, 6);

	apply_err(&t, "count", "0", "count: '0' is not a number from 1 to 10");
	apply_err(&t, "count", "11", "count: '11' is not a number from 1 to 10");
	apply_err(&t, "count", "many", "count: 'many' is not a number from 1 to 10");
	apply_err(&t, "bytes", "4095", "bytes: '4095' is not a size from 4K to 1024M (K, M)");
	apply_err(&t, "bytes", "2G", "bytes: '2G' is not a size from 4K to 1024M (K, M)");
	apply_err(&t, "wait", "0", "wait: '0' is not a duration from 1 to 600000 ms (ms, s, min)");
	apply_err(&t, "wait", "soon", "wait: 'soon' is not a duration from 1 to 600000 ms (ms, s, min)");
	apply_err(&t, "flag", "maybe", "flag: 'maybe' is not yes or no");
	apply_err(&t, "custom", "fail", "custom: no");
	apply_err(&t, "custom", "nomem", "custom: out of memory");
	apply_err(&t, "typed", "2s", "typed: '2s' is not a duration from 0 to 1000 ms (ms, s, min)");
	free(t.text);
}
END_TEST

/* Writes option KEY of T with option_format into BUF. */
static void format_into(const struct target *t, const char *key, char *buf, size_t size)
{
	FILE *f = fmemopen(buf, size, "w");

	ck_assert_ptr_nonnull(f);
	option_format(option_find(table, key), t, "ctx", f);
	fclose(f);
}

/* Each type is written as the parser reads it, in the largest exact
 * unit, and parses back to the same value; an unset marker is a comment. */
START_TEST(test_option_format)
{
	static const struct {
		const char *key, *value, *want;
	} formats[] = {
	    {"count", "10", "count = 10\n"},
	    {"small", "1K", "small = 1024\n"},
	    {"bytes", "4096", "bytes = 4K\n"},
	    {"bytes", "5000", "bytes = 5000\n"},
	    {"bytes", "3072K", "bytes = 3M\n"},
	    {"bytes", "1025K", "bytes = 1025K\n"},
	    {"wait", "1", "wait = 1s\n"},
	    {"wait", "1500ms", "wait = 1500ms\n"},
	    {"wait", "120s", "wait = 2min\n"},
	    {"wait", "90s", "wait = 90s\n"},
	    {"typed", "0", "typed = 1ms\n"}, /* its callback stores the value + 1 */
	    {"flag", "on", "flag = yes\n"},
	    {"flag", "0", "flag = no\n"},
	    {"text", "a \"b\" c", "text = a \"b\" c\n"},
	};
	char buf[256], line[256];

	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		struct target t = {0}, back = {0};
		apply_ok(&t, formats[i].key, formats[i].value);
		format_into(&t, formats[i].key, buf, sizeof(buf));
		ck_assert_str_eq(buf, formats[i].want);
		if (strcmp(formats[i].key, "typed") != 0) {
			/* What the formatter wrote parses back to the same value. */
			snprintf(line, sizeof(line), "%s", strstr(buf, " = ") + 3);
			line[strcspn(line, "\n")] = '\0';
			apply_ok(&back, formats[i].key, line);
			ck_assert_uint_eq(back.count, t.count);
			ck_assert_int_eq(back.small, t.small);
			ck_assert_uint_eq(back.bytes, t.bytes);
			ck_assert_uint_eq(back.ms, t.ms);
			ck_assert_int_eq(back.flag, t.flag);
		}
		free(t.text);
		free(back.text);
	}
	struct target unset = {.small = -1, .count = 0};
	format_into(&unset, "small", buf, sizeof(buf));
	ck_assert_str_eq(buf, "# small: not set\n");
	format_into(&unset, "count", buf, sizeof(buf)); /* 0: below its minimum */
	ck_assert_str_eq(buf, "# count: not set\n");
	format_into(&unset, "text", buf, sizeof(buf));
	ck_assert_str_eq(buf, "# text: not set\n");
}
END_TEST

/* The suite. */
static Suite *util_suite(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("util");

	tcase_add_loop_test(tc, test_parse, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_bool);
	tcase_add_test(tc, test_fnv1a);
	tcase_add_test(tc, test_timeval);
	tcase_add_test(tc, test_peer_key);
	tcase_add_test(tc, test_option_apply);
	tcase_add_test(tc, test_option_format);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(util_suite());

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
