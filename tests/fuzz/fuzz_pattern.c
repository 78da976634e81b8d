/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz_pattern.c - libFuzzer target: exec arg-patterns (PCRE2) compiled from
 * arbitrary bytes and matched against adversarial subjects, each request
 * within the time bound.
 *
 * Input: the pattern up to the first newline, then a subject. Each pattern
 * that compiles is matched against that subject and against subjects made
 * to make a backtracking matcher work hard: long runs of each byte the
 * pattern names, with and without a byte that cannot end a match, and a
 * request of many arguments. No request may use more than HOLD_LIMIT_US
 * of CPU time (the daemon's budget is ARG_PATTERN_BUDGET_US of wall time;
 * CPU time keeps a busy fuzzing machine from failing the check), and an
 * empty request always matches. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../src/udo-vsockd/arg-pattern.h"

/* The most CPU time one request may take, with the sanitizers' overhead
 * on the callout (the JIT-compiled matching itself is not instrumented). */
#define HOLD_LIMIT_US 10000
/* Lengths of the generated runs (the daemon's default line is 4096). */
static const size_t run_lengths[] = {16, 64, 1024, 4000};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Thread CPU time in microseconds. */
static int64_t cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Matches the NARGS ARGS against P as one request and aborts if that took
 * more than HOLD_LIMIT_US, or if a result is out of range. A request over
 * the limit runs twice more and fails only if every run is over it: a
 * busy host's stolen time shows up as CPU time of whatever ran. */
static void timed_request(struct arg_pattern *p, char **args, int nargs)
{
	int64_t best = -1;

	for (int attempt = 0; attempt < 3 && (best < 0 || best > HOLD_LIMIT_US); attempt++) {
		int failed = -1;
		int64_t t0 = cpu_us();
		enum arg_pattern_result r = arg_pattern_match_args(p, args, nargs, ARG_PATTERN_BUDGET_US, &failed);
		int64_t took = cpu_us() - t0;
		if (r != ARG_PATTERN_MATCH && r != ARG_PATTERN_NOMATCH && r != ARG_PATTERN_COSTLY)
			abort();
		if (r != ARG_PATTERN_MATCH && (failed < 0 || failed >= nargs))
			abort();
		best = best < 0 || took < best ? took : best;
	}
	if (best > HOLD_LIMIT_US) {
		fprintf(stderr, "fuzz_pattern: one request of %d arguments (first %zu bytes) took %lld us, 3 times\n",
		        nargs, nargs > 0 ? strlen(args[0]) : 0, (long long)best);
		abort();
	}
}

/* Matches a run of N bytes C, then TAIL (a byte, or none if 0). */
static void run_request(struct arg_pattern *p, char c, size_t n, char tail)
{
	char *s = malloc(n + 2);

	if (s == NULL)
		abort();
	memset(s, c, n);
	s[n] = tail;
	s[n + (tail != '\0')] = '\0';
	timed_request(p, &s, 1);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t plen = nl != NULL ? (size_t)(nl - data) : size;
	char *pattern = malloc(plen + 1), why[200];

	if (pattern == NULL || memchr(data, '\0', plen) != NULL) {
		free(pattern);
		return -1; /* a config line cannot hold a NUL */
	}
	memcpy(pattern, data, plen);
	pattern[plen] = '\0';
	struct arg_pattern *p = arg_pattern_compile(pattern, why, sizeof(why));
	if (p == NULL) {
		if (why[0] == '\0')
			abort(); /* a refusal always says why */
		free(pattern);
		return 0;
	}
	/* No arguments: nothing to match, always allowed. */
	int failed = -1;
	if (arg_pattern_match_args(p, NULL, 0, ARG_PATTERN_BUDGET_US, &failed) != ARG_PATTERN_MATCH)
		abort();
	/* The input's own subject (up to a NUL: arguments are C strings). */
	if (nl != NULL) {
		size_t slen = size - plen - 1;
		char *subject = malloc(slen + 1);
		if (subject == NULL)
			abort();
		memcpy(subject, nl + 1, slen);
		subject[slen] = '\0';
		timed_request(p, &subject, 1);
		free(subject);
	}
	/* Runs of every distinct byte the pattern mentions (at most 8), and
	 * of 'a', ending in a byte that rarely ends a match or not at all. */
	char seen[256] = {0}, bytes[9];
	int nbytes = 0;
	bytes[nbytes++] = 'a';
	seen['a'] = 1;
	for (size_t i = 0; i < plen && nbytes < 9; i++) {
		unsigned char c = (unsigned char)pattern[i];
		if (c != '\0' && !seen[c] && c != '\\' && c != '(' && c != ')' && c != '[' && c != ']' && c != '|') {
			seen[c] = 1;
			bytes[nbytes++] = (char)c;
		}
	}
	for (int b = 0; b < nbytes; b++) {
		for (size_t l = 0; l < sizeof(run_lengths) / sizeof(run_lengths[0]); l++) {
			run_request(p, bytes[b], run_lengths[l], '\0');
			run_request(p, bytes[b], run_lengths[l], '\x01');
		}
	}
	/* One request of 64 arguments of 40 bytes each, the daemon's default
	 * max-arguments: the budget is per request, not per argument. */
	char arg[41], *args[64];
	memset(arg, bytes[nbytes - 1], 40);
	arg[40] = '\0';
	for (int i = 0; i < 64; i++)
		args[i] = arg;
	timed_request(p, args, 64);
	arg_pattern_free(p);
	free(pattern);
	return 0;
}
