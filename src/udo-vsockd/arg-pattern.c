/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* arg-pattern.c - exec arg-patterns: PCRE2, whole-subject anchored, time-bounded
 *
 * A backtracking matcher's cost is not bounded by the size of the
 * pattern or of the subject alone ("(a|aa)+" against 60 bytes, or
 * "[a-z]*[a-z]*[a-z]*" against 4 KB, run for seconds even under PCRE2's
 * match limit, whose steps get longer with the subject). So matching is
 * bounded by time: the pattern is compiled with PCRE2_AUTO_CALLOUT, and
 * the callout, which runs before every pattern item, counts work and
 * compares the clock with the request's deadline. Between two callouts
 * there is one item's work, a scan of the subject at most, so each
 * callout counts as the subject's length and a little more; the clock is
 * read only every CLOCK_EVERY such steps, as reading it costs 25 to 40 us
 * in user-mode Linux (50 ns natively). */
#include "arg-pattern.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* PCRE2's own limits, a second line behind the time budget. */
#define MATCH_LIMIT     10000000
#define DEPTH_LIMIT     10000
#define HEAP_LIMIT_KIB  8192
#define JIT_STACK_START (32 * 1024)
#define JIT_STACK_MAX   (512 * 1024)
/* Work between two looks at the clock, in bytes of subject scanned:
 * a few hundred microseconds at most. A callout counts as the subject's
 * length (one item may scan it all) plus CALLOUT_COST for the callout
 * itself, which dominates on short subjects ("(.*a*){22}" against
 * "aaaa\n" makes 175,000 callouts per 1 MB of subject counted). */
#define CLOCK_EVERY  (1u << 18)
#define CALLOUT_COST 64
#define COMPILE_OPTIONS                                                                                                \
	(PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_AUTO_CALLOUT | PCRE2_NEVER_UTF | PCRE2_NEVER_BACKSLASH_C)

/* The deadline of the match under way (the daemon has one thread). */
struct budget {
	uint64_t deadline_ns;
	uint64_t work; /* counted since the clock was last read */
	uint64_t step; /* what one callout counts: the subject's length + CALLOUT_COST */
	int expired;
};

struct arg_pattern {
	pcre2_code *code;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	pcre2_jit_stack *jit_stack; /* NULL: the pattern runs in the interpreter */
	struct budget budget;
};

/* The monotonic clock in nanoseconds. */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Counts STEP of work on B; after CLOCK_EVERY, reads the clock. Returns
 * 0, or -1 once the deadline has passed. */
static int budget_spend(struct budget *b, uint64_t step)
{
	b->work += step;
	if (b->work < CLOCK_EVERY && !b->expired)
		return 0;
	b->work = 0;
	if (!b->expired && now_ns() < b->deadline_ns)
		return 0;
	b->expired = 1;
	return -1;
}

/* The callout before every pattern item: abandons the match once the
 * deadline has passed. */
static int budget_callout(pcre2_callout_block *block, void *data)
{
	struct budget *b = data;

	(void)block;
	return budget_spend(b, b->step) == 0 ? 0 : PCRE2_ERROR_CALLOUT;
}

/* Puts PCRE2's message for error code ERR into WHY, after PREFIX. */
static void pcre2_why(int err, const char *prefix, char *why, size_t whylen)
{
	PCRE2_UCHAR msg[160];

	if (pcre2_get_error_message(err, msg, sizeof(msg)) < 0)
		snprintf((char *)msg, sizeof(msg), "error %d", err);
	snprintf(why, whylen, "%s%s", prefix, (const char *)msg);
}

struct arg_pattern *arg_pattern_compile(const char *text, char *why, size_t whylen)
{
	pcre2_compile_context *cctx = pcre2_compile_context_create(NULL);
	struct arg_pattern *p = calloc(1, sizeof(*p));
	int err;
	PCRE2_SIZE offset;
	char where[48];

	if (cctx == NULL || p == NULL) {
		snprintf(why, whylen, "out of memory");
		goto fail;
	}
	pcre2_set_max_pattern_length(cctx, ARG_PATTERN_MAX_LENGTH);
	pcre2_set_parens_nest_limit(cctx, ARG_PATTERN_MAX_NESTING);
	p->code = pcre2_compile((PCRE2_SPTR)text, PCRE2_ZERO_TERMINATED, COMPILE_OPTIONS, &err, &offset, cctx);
	if (p->code == NULL) {
		snprintf(where, sizeof(where), "at offset %zu: ", (size_t)offset);
		pcre2_why(err, where, why, whylen);
		goto fail;
	}
	uint32_t backrefs = 0;
	size_t size = 0;
	if (pcre2_pattern_info(p->code, PCRE2_INFO_BACKREFMAX, &backrefs) != 0 ||
	    pcre2_pattern_info(p->code, PCRE2_INFO_SIZE, &size) != 0) {
		snprintf(why, whylen, "cannot inspect the compiled pattern");
		goto fail;
	}
	if (backrefs > 0) {
		snprintf(why, whylen, "back-references are not allowed");
		goto fail;
	}
	if (size > ARG_PATTERN_MAX_COMPILED) {
		snprintf(why, whylen, "compiles to %zu bytes, more than %d", size, ARG_PATTERN_MAX_COMPILED);
		goto fail;
	}
	p->md = pcre2_match_data_create(1, NULL);
	p->mctx = pcre2_match_context_create(NULL);
	if (p->md == NULL || p->mctx == NULL) {
		snprintf(why, whylen, "out of memory");
		goto fail;
	}
	pcre2_set_match_limit(p->mctx, MATCH_LIMIT);
	pcre2_set_depth_limit(p->mctx, DEPTH_LIMIT);
	pcre2_set_heap_limit(p->mctx, HEAP_LIMIT_KIB);
	pcre2_set_callout(p->mctx, budget_callout, &p->budget);
	/* JIT is only faster: without it (no JIT on this CPU, or (*NO_JIT))
	 * the interpreter runs under the same callout and limits. */
	if (pcre2_jit_compile(p->code, PCRE2_JIT_COMPLETE) == 0) {
		p->jit_stack = pcre2_jit_stack_create(JIT_STACK_START, JIT_STACK_MAX, NULL);
		if (p->jit_stack == NULL) {
			snprintf(why, whylen, "out of memory");
			goto fail;
		}
		pcre2_jit_stack_assign(p->mctx, NULL, p->jit_stack);
	}
	pcre2_compile_context_free(cctx);
	return p;
fail:
	pcre2_compile_context_free(cctx);
	arg_pattern_free(p);
	return NULL;
}

void arg_pattern_free(struct arg_pattern *p)
{
	if (p == NULL)
		return;
	pcre2_jit_stack_free(p->jit_stack);
	pcre2_match_context_free(p->mctx);
	pcre2_match_data_free(p->md);
	pcre2_code_free(p->code);
	free(p);
}

enum arg_pattern_result arg_pattern_match_args(struct arg_pattern *p, char *const *args, int nargs,
                                               unsigned int budget_us, int *failed)
{
	struct budget *b = &p->budget;

	b->deadline_ns = now_ns() + (uint64_t)budget_us * 1000u;
	b->work = 0;
	b->expired = budget_us == 0;
	for (int i = 0; i < nargs; i++) {
		size_t len = strlen(args[i]);
		b->step = (uint64_t)len + CALLOUT_COST;
		/* The match's own scans before the first callout count too. */
		int rc = budget_spend(b, b->step) < 0
		             ? PCRE2_ERROR_CALLOUT
		             : pcre2_match(p->code, (PCRE2_SPTR)args[i], len, 0, 0, p->md, p->mctx);
		if (rc >= 0 && !b->expired)
			continue;
		*failed = i;
		/* Any error (a limit, the callout, no memory) refuses too. */
		return rc == PCRE2_ERROR_NOMATCH ? ARG_PATTERN_NOMATCH : ARG_PATTERN_COSTLY;
	}
	return ARG_PATTERN_MATCH;
}
