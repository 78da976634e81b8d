/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* arg-pattern.h - exec arg-patterns: PCRE2, whole-subject anchored, time-bounded */
#ifndef UDO_VSOCKD_ARG_PATTERN_H
#define UDO_VSOCKD_ARG_PATTERN_H

#include <stddef.h>

/* Longest pattern text accepted, in bytes. */
#define ARG_PATTERN_MAX_LENGTH 4096
/* Deepest nesting of parentheses accepted. */
#define ARG_PATTERN_MAX_NESTING 16
/* Largest compiled pattern accepted, in bytes (PCRE2_INFO_SIZE). */
#define ARG_PATTERN_MAX_COMPILED 65536
/* Time the event loop may spend matching one request's arguments, in
 * microseconds; past it the request is refused. */
#define ARG_PATTERN_BUDGET_US 5000

/* A compiled arg-pattern. */
struct arg_pattern;

/* What matching a request's arguments found. */
enum arg_pattern_result {
	ARG_PATTERN_MATCH,   /* every argument matches */
	ARG_PATTERN_NOMATCH, /* an argument does not match */
	ARG_PATTERN_COSTLY,  /* matching stopped: time budget or a PCRE2 limit */
};

/*
 * Compiles TEXT, a PCRE2 pattern that must match each argument as a
 * whole: anchored at both ends by compile options (PCRE2_ANCHORED |
 * PCRE2_ENDANCHORED), never by wrapping the text, so "a)|(.*" stays the
 * syntax error it is. Refused: syntax errors, back-references, UTF mode
 * and \C, more than ARG_PATTERN_MAX_LENGTH bytes, parentheses nested
 * deeper than ARG_PATTERN_MAX_NESTING, and a compiled size over
 * ARG_PATTERN_MAX_COMPILED. Returns the pattern, or NULL with the reason
 * in WHY.
 */
struct arg_pattern *arg_pattern_compile(const char *text, char *why, size_t whylen);

/* Frees P (NULL is fine). */
void arg_pattern_free(struct arg_pattern *p);

/*
 * Matches each of the NARGS strings ARGS against P, all within BUDGET_US
 * microseconds of wall time: an automatic callout before every pattern
 * item counts work and looks at the clock now and then, so one request
 * holds the caller for about the budget at most whatever the pattern and
 * subjects (PCRE2's match, depth and heap limits also apply). Returns ARG_PATTERN_MATCH, or the result
 * for the first failing argument with its index in *FAILED.
 */
enum arg_pattern_result arg_pattern_match_args(struct arg_pattern *p, char *const *args, int nargs,
                                               unsigned int budget_us, int *failed);

#endif /* UDO_VSOCKD_ARG_PATTERN_H */
