/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* check_pattern - the exec arg-pattern engine (PCRE2), linked in; no
 * sockets: what is refused, whole-subject anchoring, and the time bound
 * on matching adversarial subjects. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/udo-vsockd/arg-pattern.h"

/* What no request may exceed: the event loop held this long matching. */
#define HOLD_LIMIT_US 10000

/* Microseconds on CLOCK (monotonic: wall time; thread CPU time: work). */
static int64_t clock_us(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Compiles TEXT, failing the test if it is refused. */
static struct arg_pattern *compile_ok(const char *text)
{
	char why[200];
	struct arg_pattern *p = arg_pattern_compile(text, why, sizeof(why));

	ck_assert_msg(p != NULL, "pattern '%s' refused: %s", text, why);
	return p;
}

/* Matches one SUBJECT against P with the daemon's budget. */
static enum arg_pattern_result match1(struct arg_pattern *p, const char *subject)
{
	char *args[1] = {(char *)subject};
	int failed = -1;

	return arg_pattern_match_args(p, args, 1, ARG_PATTERN_BUDGET_US, &failed);
}

/* A new string: C repeated N times, then TAIL. */
static char *repeat(char c, size_t n, const char *tail)
{
	size_t tlen = strlen(tail);
	char *s = malloc(n + tlen + 1);

	ck_assert_ptr_nonnull(s);
	memset(s, c, n);
	memcpy(s + n, tail, tlen + 1);
	return s;
}

/* Refused at compile time, with the reason: syntax errors (the anchoring
 * escape of the old "^(...)$" wrapper among them), back-references (the
 * first is the issue's, which stalled the daemon 5 s on 90 bytes), UTF,
 * \C, and patterns too big or too deeply nested. */
static const struct {
	const char *pattern, *why;
} refused[] = {
    {"[a-z]+)|(.*", "unmatched closing parenthesis"},
    {"(a*)(a*)(a*)\\2\\3\\4b", "non-existent subpattern"},
    {"(a*)(a*)(a*)\\1\\2\\3b", "back-references are not allowed"},
    {"(?<x>a+)\\k<x>", "back-references are not allowed"},
    {"(a)\\g{-1}", "back-references are not allowed"},
    {"(?P<n>a)(?P=n)", "back-references are not allowed"},
    {"(*UTF)a", "UTF is disabled"},
    {"a\\Cb", "\\C is disabled"},
    {"l+++++++++++++++++++++++++++++++++++++++++++++++++++++++++", "quantifier does not follow"},
    {".co*++++++++++", "quantifier does not follow"},
    {"((a{255}){255}){255}", "too large"},
    {"((((((((((((((((((a))))))))))))))))))", "too deeply nested"},
    {"([a-z\n", "missing terminating ]"},
};

START_TEST(test_refused)
{
	char why[200] = "";
	struct arg_pattern *p = arg_pattern_compile(refused[_i].pattern, why, sizeof(why));

	ck_assert_msg(p == NULL, "pattern '%s' was accepted", refused[_i].pattern);
	ck_assert_msg(strstr(why, refused[_i].why) != NULL, "pattern '%s': reason '%s', expected '%s'",
	              refused[_i].pattern, why, refused[_i].why);
}
END_TEST

/* A pattern longer than ARG_PATTERN_MAX_LENGTH is refused; one at the
 * limit loads. */
START_TEST(test_length_limit)
{
	char why[200];
	char *text = repeat('a', ARG_PATTERN_MAX_LENGTH + 1, "");
	struct arg_pattern *p = arg_pattern_compile(text, why, sizeof(why));

	ck_assert_msg(p == NULL && strstr(why, "longer than the limit") != NULL, "%s", p == NULL ? why : "accepted");
	text[ARG_PATTERN_MAX_LENGTH] = '\0';
	p = compile_ok(text);
	ck_assert_int_eq(match1(p, text), ARG_PATTERN_MATCH);
	arg_pattern_free(p);
	free(text);
}
END_TEST

/* The whole argument must match, by compile options and not by wrapping:
 * an alternative does not escape the anchoring, nor does a newline at the
 * end, (*ACCEPT) or \K. */
START_TEST(test_whole_subject)
{
	static const struct {
		const char *pattern, *subject;
		int match;
	} cases[] = {
	    {"[0-9]+|x[a-f]*", "123", 1},
	    {"[0-9]+|x[a-f]*", "xab", 1},
	    {"[0-9]+|x[a-f]*", "12a", 0},
	    {"[0-9]+|x[a-f]*", "a12", 0},
	    {"[0-9]+|x[a-f]*", "1; rm -rf /", 0},
	    {"[a-z]+", "\"; rm -rf /\"", 0},
	    {"[a-z]+|[0-9]+", "abc123", 0},
	    {"[a-z]+", "abc\n", 0},
	    {"[a-z]+$", "abc\n", 0},
	    {"(?m)[a-z]+$", "abc\nx", 0},
	    {"a(*ACCEPT)b", "a; rm -rf /", 0},
	    {"a\\K", "ab", 0},
	    {"(?=a(*ACCEPT))a+", "a; rm", 0},
	    {"", "", 1},
	    {"", "x", 0},
	    {"(nginx|postgresql)\\.service", "nginx.service", 1},
	    {"(nginx|postgresql)\\.service", "nginx.service;", 0},
	    {"[[:alpha:]]{1,3}", "abc", 1},
	    {"[[:alpha:]]{1,3}", "abcd", 0},
	    {"[a-z]{0,999}[a-z]{0,999}", "abc", 1},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct arg_pattern *p = compile_ok(cases[i].pattern);
		enum arg_pattern_result r = match1(p, cases[i].subject);
		ck_assert_msg(r == (cases[i].match ? ARG_PATTERN_MATCH : ARG_PATTERN_NOMATCH),
		              "'%s' against '%s': result %d", cases[i].pattern, cases[i].subject, (int)r);
		arg_pattern_free(p);
	}
}
END_TEST

/* The index of the first argument that fails is reported. */
START_TEST(test_failed_index)
{
	struct arg_pattern *p = compile_ok("[0-9]+");
	char *args[] = {"1", "22", "x", "4"};
	int failed = -1;

	ck_assert_int_eq(arg_pattern_match_args(p, args, 2, ARG_PATTERN_BUDGET_US, &failed), ARG_PATTERN_MATCH);
	ck_assert_int_eq(arg_pattern_match_args(p, args, 4, ARG_PATTERN_BUDGET_US, &failed), ARG_PATTERN_NOMATCH);
	ck_assert_int_eq(failed, 2);
	arg_pattern_free(p);
}
END_TEST

/* Pattern and subject pairs that make a backtracking matcher run for
 * seconds or longer: the (glibc: 1 s for 1,000 bytes), classic
 * exponential ones, and what the old checker refused for glibc's sake. */
static const struct {
	const char *pattern;
	char c;
	size_t n;
	const char *tail;
} costly[] = {
    {"[a-z]{0,999}[a-z]{0,999}", 'a', 1000, ""},
    {"[a-z]{0,999}[a-z]{0,999}", 'a', 1000, "!"},
    {"[a-z]{0,999}[a-z]{0,999}", 'a', 4000, "!"},
    {"(a|aa)+", 'a', 60, "!"},
    {"(a|a)+", 'a', 4000, "!"},
    {"[a-z]*[a-z]*[a-z]*", 'a', 4000, "!"},
    {"[a-z]*[a-z]*[a-z]*[a-z]*", 'a', 131072, "!"},
    {"(a*)*b", 'a', 4000, ""},
    {"(.*a){20}", 'a', 4000, "!"},
    {"((((a*)+)+)+)+", 'a', 100, "!"},
    {"(((((a?)+)+)+)+)+", 'a', 100, "!"},
    {"(x|)+", 'x', 4000, "!"},
    {"(a{45}){45}", 'a', 2024, "!"},
    {"[a-z]{2001}", 'a', 2000, "!"},
    {"(a*)(?1)(?1)(?1)b", 'a', 4000, ""},
    {"(?=(a*)*)(?:a|aa)*", 'a', 200, "!"},
    {"(?:(?:a|b)*)*c", 'a', 4000, ""},
    {"\\w*\\w*\\w*=\\w*", 'a', 50000, ""},
    {"(.*a*){22}", 'a', 4, "\n"}, /* a short subject, many callouts */
    /* The interpreter, as under the units' MemoryDenyWriteExecute=yes. */
    {"(*NO_JIT)(a|aa)+", 'a', 60, "!"},
    {"(*NO_JIT)[a-z]*[a-z]*[a-z]*", 'a', 4000, "!"},
    {"(*NO_JIT)(.*a){20}", 'a', 4000, "!"},
};

START_TEST(test_costly_bounded)
{
	struct arg_pattern *p = compile_ok(costly[_i].pattern);
	char *subject = repeat(costly[_i].c, costly[_i].n, costly[_i].tail);
	int64_t wall = 0, cpu = -1;
	enum arg_pattern_result r = ARG_PATTERN_MATCH;

	/* The best of up to 3 runs: a busy host's stolen time shows up as
	 * CPU time of whatever ran; an unbounded match is over every time. */
	for (int attempt = 0; attempt < 3 && (cpu < 0 || cpu > HOLD_LIMIT_US); attempt++) {
		int64_t w0 = clock_us(CLOCK_MONOTONIC), c0 = clock_us(CLOCK_THREAD_CPUTIME_ID);
		r = match1(p, subject);
		int64_t c = clock_us(CLOCK_THREAD_CPUTIME_ID) - c0;
		if (cpu < 0 || c < cpu) {
			cpu = c;
			wall = clock_us(CLOCK_MONOTONIC) - w0;
		}
	}
	fprintf(stderr, "check_pattern: '%s' against %zu x '%c' + '%s': result %d, %lld us (CPU %lld us)\n",
	        costly[_i].pattern, costly[_i].n, costly[_i].c, costly[_i].tail, (int)r, (long long)wall,
	        (long long)cpu);
	/* CPU time: a busy test machine may preempt us, which is not work. */
	ck_assert_msg(cpu <= HOLD_LIMIT_US, "'%s': %lld us of CPU matching", costly[_i].pattern, (long long)cpu);
	/* A subject that ends in something the pattern cannot take never matches. */
	if (costly[_i].tail[0] != '\0')
		ck_assert_int_ne(r, ARG_PATTERN_MATCH);
	free(subject);
	arg_pattern_free(p);
}
END_TEST

/* The budget is per request, not per argument: 200 arguments that each
 * match after about a millisecond of backtracking stop at the budget, and
 * the request is refused as costly. */
START_TEST(test_budget_per_request)
{
	struct arg_pattern *p = compile_ok("(?:a|aa)+x|a+");
	char *one = repeat('a', 14, "");
	char *args[200];
	int failed = -1;

	for (int i = 0; i < 200; i++)
		args[i] = one;
	int64_t cpu = clock_us(CLOCK_THREAD_CPUTIME_ID);
	enum arg_pattern_result r = arg_pattern_match_args(p, args, 200, ARG_PATTERN_BUDGET_US, &failed);
	cpu = clock_us(CLOCK_THREAD_CPUTIME_ID) - cpu;
	fprintf(stderr, "check_pattern: 200 costly arguments: result %d at argument %d, CPU %lld us\n", (int)r, failed,
	        (long long)cpu);
	ck_assert_msg(cpu <= HOLD_LIMIT_US, "%lld us of CPU for one request", (long long)cpu);
	ck_assert_int_eq(r, ARG_PATTERN_COSTLY);
	ck_assert_int_gt(failed, 0);
	ck_assert_int_eq(match1(p, one), ARG_PATTERN_MATCH);
	free(one);
	arg_pattern_free(p);
}
END_TEST

/* Ordinary patterns on long arguments match well within the budget, and
 * a budget of 0 refuses even those (the clock really is consulted). */
START_TEST(test_ordinary_fast)
{
	struct arg_pattern *p = compile_ok("[a-z0-9._/-]+");
	char *arg = repeat('a', 131072, "/b.c");
	char *args[] = {arg, arg, arg, arg};
	int failed = -1;

	ck_assert_int_eq(arg_pattern_match_args(p, args, 4, ARG_PATTERN_BUDGET_US, &failed), ARG_PATTERN_MATCH);
	ck_assert_int_eq(arg_pattern_match_args(p, args, 4, 0, &failed), ARG_PATTERN_COSTLY);
	ck_assert_int_eq(failed, 0);
	arg_pattern_free(p);
	free(arg);
}
END_TEST

/* The suite. */
static Suite *pattern_suite(void)
{
	Suite *s = suite_create("arg-pattern");
	TCase *tc = tcase_create("pattern");

	tcase_add_loop_test(tc, test_refused, 0, (int)(sizeof(refused) / sizeof(refused[0])));
	tcase_add_test(tc, test_length_limit);
	tcase_add_test(tc, test_whole_subject);
	tcase_add_test(tc, test_failed_index);
	tcase_add_loop_test(tc, test_costly_bounded, 0, (int)(sizeof(costly) / sizeof(costly[0])));
	tcase_add_test(tc, test_budget_per_request);
	tcase_add_test(tc, test_ordinary_fast);
	suite_add_tcase(s, tc);
	return s;
}

/* Runs the suite; exit status 0 only if every test passed. */
int main(void)
{
	SRunner *sr = srunner_create(pattern_suite());

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
