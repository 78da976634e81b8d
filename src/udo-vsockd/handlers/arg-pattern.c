/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* handlers/arg-pattern.c - refusing exec arg-patterns that are costly to compile */
#include "arg-pattern.h"

#include <stdio.h>

/* Nesting levels of groups followed; deeper patterns are refused. */
#define MAX_DEPTH 16

/* The cap: anything above the limit is the same "too big". */
#define CAP (ARG_PATTERN_MAX_ELEMENTS + 1)

/* One open group (or the whole pattern): what has been seen in it. */
struct frame {
	size_t total;        /* elements so far, repetitions expanded */
	size_t last;         /* elements of the last item (what a repetition copies) */
	int has_last;        /* there is an item a repetition may follow */
	int last_nullable;   /* the last item can match the empty string */
	int last_repeated;   /* the last token was a repetition */
	int prefix_nullable; /* every item of this alternative before the last can match nothing */
	int any_nullable;    /* an earlier alternative can match nothing */
};

/* True if the current alternative of F can match the empty string. */
static int alt_nullable(const struct frame *f)
{
	return f->prefix_nullable && (!f->has_last || f->last_nullable);
}

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

/* Reads the bound "{m}", "{m,}" or "{m,n}" at *P (on the '{'): sets *MIN
 * and returns how many copies of the repeated item it makes; advances *P
 * past the '}'. Returns 0 (and leaves *P) if it is not a bound. */
static size_t read_bound(const char **p, size_t *min)
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
	*min = m;
	return n > m ? n : (m > 0 ? m : 1);
}

/* Adds an item of SIZE elements to F. */
static void frame_item(struct frame *f, size_t size, int nullable)
{
	f->prefix_nullable = alt_nullable(f);
	f->total = add_capped(f->total, size);
	f->last = size;
	f->has_last = 1;
	f->last_nullable = nullable;
	f->last_repeated = 0;
}

/* Skips the bracket expression at *P (on the '['): a ']' first is a
 * member, and [:class:], [.x.] and [=x=] nest. */
static void skip_bracket(const char **p)
{
	const char *q = *p + 1;

	if (*q == '^')
		q++;
	if (*q == ']')
		q++;
	while (*q != '\0' && *q != ']') {
		if (*q == '[' && (q[1] == ':' || q[1] == '.' || q[1] == '=')) {
			char kind = q[1];
			q += 2;
			while (*q != '\0' && !(*q == kind && q[1] == ']'))
				q++;
			if (*q != '\0')
				q += 2;
			continue;
		}
		q++;
	}
	*p = *q == ']' ? q + 1 : q;
}

int arg_pattern_check(const char *pattern, char *why, size_t whylen)
{
	struct frame stack[MAX_DEPTH + 1];
	struct frame *f = stack;
	const char *p = pattern;

	*f = (struct frame){.prefix_nullable = 1};
	while (*p != '\0') {
		size_t copies, min = 1;
		switch (*p) {
		case '(':
			if (f == stack + MAX_DEPTH) {
				snprintf(why, whylen, "groups nested more than %d deep", MAX_DEPTH);
				return -1;
			}
			*++f = (struct frame){.prefix_nullable = 1};
			p++;
			continue;
		case ')':
			if (f > stack) {
				size_t group = f->total > 0 ? f->total : 1;
				int nullable = f->any_nullable || alt_nullable(f);
				f--;
				frame_item(f, group, nullable);
			}
			p++;
			continue;
		case '|':
			f->any_nullable |= alt_nullable(f);
			f->prefix_nullable = 1;
			f->has_last = 0;
			f->last_repeated = 0;
			p++;
			continue;
		case '^':
		case '$':
			frame_item(f, 0, 1); /* matches nothing, so it cannot be repeated */
			p++;
			continue;
		case '*':
		case '?':
			copies = 1;
			min = 0;
			p++;
			break;
		case '+':
			copies = 2;
			p++;
			break;
		case '{':
			copies = read_bound(&p, &min);
			if (copies == 0) {
				frame_item(f, 1, 0); /* a literal brace */
				p++;
				continue;
			}
			break;
		case '[':
			skip_bracket(&p);
			frame_item(f, 1, 0);
			continue;
		case '\\':
			/* The escaped byte is one element. */
			if (p[1] != '\0')
				p++;
			/* fall through */
		default:
			frame_item(f, 1, 0);
			p++;
			continue;
		}
		/* A repetition making COPIES of the last item. */
		if (f->last_repeated) {
			snprintf(why, whylen, "a repetition right after another (undefined in POSIX)");
			return -1;
		}
		if (f->has_last && f->last_nullable) {
			snprintf(why, whylen, "a repetition of something that can match nothing");
			return -1;
		}
		f->total = add_capped(f->total, mul_capped(f->last, copies - 1));
		f->last = mul_capped(f->last, copies);
		f->last_repeated = 1;
		if (min == 0)
			f->last_nullable = 1;
		if (f->total >= CAP) {
			snprintf(why, whylen, "expands to more than %d elements", ARG_PATTERN_MAX_ELEMENTS);
			return -1;
		}
	}
	return 0;
}
