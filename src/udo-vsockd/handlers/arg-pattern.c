/* handlers/arg-pattern.c - bounding what an exec arg-pattern costs to compile */
#include "arg-pattern.h"

/* Nesting levels of groups followed; deeper patterns count as too big. */
#define MAX_DEPTH 32

/* The cap: anything above the limit is the same "too big". */
#define CAP (ARG_PATTERN_MAX_ELEMENTS + 1)

/* A * B, saturating at CAP. */
static size_t mul_capped(size_t a, size_t b)
{
	return a != 0 && b > CAP / a ? CAP : (a * b > CAP ? CAP : a * b);
}

/* A + B, saturating at CAP. */
static size_t add_capped(size_t a, size_t b)
{
	return a + b > CAP ? CAP : a + b;
}

/* Reads the bound "{m}", "{m,}" or "{m,n}" at *P (on the '{') and
 * returns how many copies of the repeated element it makes; advances *P
 * past the '}'. Returns 0 (and leaves *P) if it is not a bound. */
static size_t read_bound(const char **p)
{
	const char *q = *p + 1;
	size_t m = 0, n;

	if (*q < '0' || *q > '9')
		return 0;
	for (; *q >= '0' && *q <= '9'; q++)
		m = add_capped(mul_capped(m, 10), (size_t)(*q - '0'));
	n = m;
	if (*q == ',') {
		q++;
		if (*q == '}') {
			n = add_capped(m, 1); /* unbounded: m copies and a star */
		} else {
			for (n = 0; *q >= '0' && *q <= '9'; q++)
				n = add_capped(mul_capped(n, 10), (size_t)(*q - '0'));
		}
	}
	if (*q != '}')
		return 0;
	*p = q + 1;
	return n > m ? (n > 0 ? n : 1) : (m > 0 ? m : 1);
}

size_t arg_pattern_elements(const char *pattern)
{
	/* Per open group: the elements so far, and the last element's size
	 * (what a following repetition copies). */
	size_t total[MAX_DEPTH + 1] = {0}, last[MAX_DEPTH + 1] = {0};
	int depth = 0;
	const char *p = pattern;

	while (*p != '\0') {
		size_t copies;
		switch (*p) {
		case '(':
			if (depth == MAX_DEPTH)
				return CAP;
			depth++;
			total[depth] = last[depth] = 0;
			p++;
			continue;
		case ')':
			if (depth > 0) {
				size_t group = total[depth] > 0 ? total[depth] : 1;
				depth--;
				total[depth] = add_capped(total[depth], group);
				last[depth] = group;
			}
			p++;
			continue;
		case '|':
			last[depth] = 0;
			p++;
			continue;
		case '*':
		case '?':
			p++;
			continue;
		case '+':
			copies = 2;
			p++;
			break;
		case '{':
			copies = read_bound(&p);
			if (copies == 0) {
				/* A literal brace. */
				total[depth] = add_capped(total[depth], 1);
				last[depth] = 1;
				p++;
				continue;
			}
			break;
		case '[':
			/* A bracket expression is one element: skip to its ']'
			 * (a ']' first is a member; [:class:] and the like nest). */
			p++;
			if (*p == '^')
				p++;
			if (*p == ']')
				p++;
			while (*p != '\0' && *p != ']') {
				if (*p == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
					char kind = p[1];
					p += 2;
					while (*p != '\0' && !(*p == kind && p[1] == ']'))
						p++;
					if (*p != '\0')
						p += 2;
					continue;
				}
				p++;
			}
			if (*p == ']')
				p++;
			total[depth] = add_capped(total[depth], 1);
			last[depth] = 1;
			continue;
		case '\\':
			/* The escaped byte is one element. */
			if (p[1] != '\0')
				p++;
			/* fall through */
		default:
			total[depth] = add_capped(total[depth], 1);
			last[depth] = 1;
			p++;
			continue;
		}
		/* A repetition making COPIES of the last element. */
		size_t extra = mul_capped(last[depth], copies - 1);
		total[depth] = add_capped(total[depth], extra);
		last[depth] = mul_capped(last[depth], copies);
		if (total[depth] >= CAP)
			return CAP;
	}
	while (depth > 0) {
		/* Unclosed groups: regcomp reports the error. */
		total[depth - 1] = add_capped(total[depth - 1], total[depth]);
		depth--;
	}
	return total[0];
}
