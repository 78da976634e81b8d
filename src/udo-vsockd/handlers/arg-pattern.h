/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* handlers/arg-pattern.h - refusing exec arg-patterns that are costly to compile */
#ifndef UDO_VSOCKD_ARG_PATTERN_H
#define UDO_VSOCKD_ARG_PATTERN_H

#include <stddef.h>

/* Most pattern elements an arg-pattern may expand to (see below). */
#define ARG_PATTERN_MAX_ELEMENTS 2000

/*
 * Checks the POSIX extended regular expression PATTERN before regcomp
 * sees it. glibc's regcomp copies the repeated part of "x+" and "x{m,n}"
 * (nested ones multiply) and computes closures over repeated parts that
 * can match nothing, so a short pattern such as "a*++++" or
 * "((((a*)+)+)+)+" takes gigabytes or minutes. Refused: a repetition
 * right after another (undefined in POSIX), a repetition of something
 * that can match the empty string, and more than ARG_PATTERN_MAX_ELEMENTS
 * elements once repetitions are expanded. Returns 0, or -1 with the
 * reason in WHY. Syntax errors are left to regcomp.
 */
int arg_pattern_check(const char *pattern, char *why, size_t whylen);

#endif /* UDO_VSOCKD_ARG_PATTERN_H */
