/* handlers/arg-pattern.h - bounding what an exec arg-pattern costs to compile */
#ifndef UDO_VSOCKD_ARG_PATTERN_H
#define UDO_VSOCKD_ARG_PATTERN_H

#include <stddef.h>

/* Most pattern elements an arg-pattern may expand to (see below). */
#define ARG_PATTERN_MAX_ELEMENTS 2000

/*
 * Estimates how many elements the POSIX extended regular expression
 * PATTERN expands to when compiled: glibc's regcomp copies the repeated
 * part for "x+" (twice) and "x{m,n}" (max(m, n) times, nested ones
 * multiplied), so a short pattern such as "a++++...+" or
 * "((a{255}){255}){255}" needs gigabytes. Returns the estimate, capped
 * at ARG_PATTERN_MAX_ELEMENTS + 1. Syntax errors are left to regcomp.
 */
size_t arg_pattern_elements(const char *pattern);

#endif /* UDO_VSOCKD_ARG_PATTERN_H */
