/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* util.c - small helpers shared by the daemon's files (see util.h) */
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "peer.h"

/* One unit suffix and its multiplier. */
struct unit {
	const char *suffix;
	unsigned long long mult;
};

static const struct unit plain_units[] = {{"", 1}, {NULL, 0}};
static const struct unit size_units[] = {{"", 1},        {"K", 1024},      {"KiB", 1024},
                                         {"M", 1048576}, {"MiB", 1048576}, {NULL, 0}};
static const struct unit duration_units[] = {{"", 1000}, {"s", 1000}, {"ms", 1}, {"min", 60000}, {NULL, 0}};

/* Parses digits followed by one suffix of UNITS, times its multiplier,
 * within [MIN, MAX] into *OUT. Returns 0 or -1. */
static int parse_units(const char *text, const struct unit *units, unsigned long long min, unsigned long long max,
                       unsigned long long *out)
{
	char *end;

	/* strtoull alone would take blanks, a sign or a 0x prefix. */
	if (text[0] < '0' || text[0] > '9')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno != 0)
		return -1;
	for (const struct unit *u = units; u->suffix != NULL; u++) {
		if (strcmp(end, u->suffix) != 0)
			continue;
		if (v > max / u->mult || v * u->mult < min)
			return -1;
		*out = v * u->mult;
		return 0;
	}
	return -1;
}

int util_parse_number(const char *text, unsigned long long min, unsigned long long max, unsigned long long *out)
{
	return parse_units(text, plain_units, min, max, out);
}

int util_parse_size(const char *text, unsigned long long min, unsigned long long max, unsigned long long *out)
{
	return parse_units(text, size_units, min, max, out);
}

int util_parse_duration(const char *text, unsigned long long min, unsigned long long max, unsigned long long *out)
{
	return parse_units(text, duration_units, min, max, out);
}

int util_parse_cid(const char *text, unsigned long long min, unsigned long long max, unsigned long long *out)
{
	static const char *const names[] = {"hypervisor", "local", "host"};

	for (unsigned int i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(text, names[i]) == 0) {
			if (i < min || i > max)
				return -1;
			*out = i;
			return 0;
		}
	}
	return util_parse_number(text, min, max, out);
}

int util_parse_bool(const char *text)
{
	static const char *const yes[] = {"yes", "true", "on", "1"}, *const no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcmp(text, yes[i]) == 0)
			return 1;
		if (strcmp(text, no[i]) == 0)
			return 0;
	}
	return -1;
}

struct timeval util_timeval_ms(unsigned long long ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

	return tv;
}

uint64_t util_monotonic_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void util_peer_key(const struct peer *peer, char *buf, size_t size)
{
	if (peer->transport == UDO_VSOCK_ADDR_UNIX)
		snprintf(buf, size, "unix:%s", peer->identity);
	else
		snprintf(buf, size, "cid:%u", peer->cid);
}

const struct option_spec *option_find(const struct option_spec *table, const char *key)
{
	for (; table != NULL && table->name != NULL; table++) {
		if (strcmp(table->name, key) == 0)
			return table;
	}
	return NULL;
}

void util_format_size(unsigned long long v, char *buf, size_t size)
{
	if (v >= 1048576 && v % 1048576 == 0)
		snprintf(buf, size, "%lluM", v / 1048576);
	else if (v >= 1024 && v % 1024 == 0)
		snprintf(buf, size, "%lluK", v / 1024);
	else
		snprintf(buf, size, "%llu", v);
}

void util_format_duration(unsigned long long v, char *buf, size_t size)
{
	if (v == 0)
		snprintf(buf, size, "0");
	else if (v % 60000 == 0)
		snprintf(buf, size, "%llumin", v / 60000);
	else if (v % 1000 == 0)
		snprintf(buf, size, "%llus", v / 1000);
	else
		snprintf(buf, size, "%llums", v);
}

int option_value(const struct option_spec *spec, const char *value, unsigned long long *out, char *why, size_t whylen)
{
	char lo[32], hi[32];
	int b;

	switch (spec->type) {
	case OPT_NUMBER:
		/* Counts took the size suffixes before the tables; they still do. */
		if (util_parse_size(value, spec->min, spec->max, out) == 0)
			return 0;
		snprintf(why, whylen, "%s: '%s' is not a number from %llu to %llu", spec->name, value, spec->min,
		         spec->max);
		return -1;
	case OPT_SIZE:
		if (util_parse_size(value, spec->min, spec->max, out) == 0)
			return 0;
		util_format_size(spec->min, lo, sizeof(lo));
		util_format_size(spec->max, hi, sizeof(hi));
		snprintf(why, whylen, "%s: '%s' is not a size from %s to %s (K, M)", spec->name, value, lo, hi);
		return -1;
	case OPT_DURATION:
		if (util_parse_duration(value, spec->min, spec->max, out) == 0)
			return 0;
		snprintf(why, whylen, "%s: '%s' is not a duration from %llu to %llu ms (ms, s, min)", spec->name, value,
		         spec->min, spec->max);
		return -1;
	case OPT_BOOL:
		b = util_parse_bool(value);
		if (b >= 0) {
			*out = (unsigned long long)b;
			return 0;
		}
		snprintf(why, whylen, "%s: '%s' is not yes or no", spec->name, value);
		return -1;
	case OPT_CID:
		if (util_parse_cid(value, spec->min, spec->max, out) == 0)
			return 0;
		snprintf(why, whylen, "%s: '%s' is not a CID (a number, hypervisor, local or host)", spec->name, value);
		return -1;
	case OPT_STRING:
	case OPT_CUSTOM:
		break;
	}
	snprintf(why, whylen, "%s: not a number option", spec->name);
	return -1;
}

/* option_apply without the default message. */
static int apply(const struct option_spec *spec, void *target, void *ctx, const char *value, char *why, size_t whylen)
{
	char *field = (char *)target + spec->offset;
	unsigned long long v;

	if (spec->parse != NULL)
		return spec->parse(spec, target, ctx, value, why, whylen);
	if (spec->type == OPT_STRING) {
		char *copy = strdup(value);
		if (copy == NULL)
			return -1;
		free(*(char **)field);
		*(char **)field = copy;
		return 0;
	}
	if (option_value(spec, value, &v, why, whylen) < 0)
		return -1;
	if (spec->size == sizeof(unsigned int))
		*(unsigned int *)field = (unsigned int)v;
	else if (spec->size == sizeof(size_t))
		*(size_t *)field = (size_t)v;
	else
		abort(); /* a table entry of a field no number fits */
	return 0;
}

int option_apply(const struct option_spec *spec, void *target, void *ctx, const char *value, char *why, size_t whylen)
{
	why[0] = '\0';
	if (apply(spec, target, ctx, value, why, whylen) == 0)
		return 0;
	if (why[0] == '\0')
		snprintf(why, whylen, "%s: out of memory", spec->name);
	return -1;
}

void option_format_unset(const char *name, FILE *out)
{
	fprintf(out, "# %s: not set\n", name);
}

void option_format_string(const char *name, const char *value, const char *unset, FILE *out)
{
	if (value != NULL)
		fprintf(out, "%s = %s\n", name, value);
	else if (unset != NULL)
		fprintf(out, "# %s: not set (%s)\n", name, unset);
	else
		option_format_unset(name, out);
}

void option_format(const struct option_spec *spec, const void *target, const void *ctx, FILE *out)
{
	const char *field = (const char *)target + spec->offset;
	unsigned long long v;
	char text[32];

	if (spec->format != NULL) {
		spec->format(spec, target, ctx, out);
		return;
	}
	switch (spec->type) {
	case OPT_STRING:
		if (*(char *const *)field == NULL)
			option_format_unset(spec->name, out);
		else
			fprintf(out, "%s = %s\n", spec->name, *(char *const *)field);
		return;
	case OPT_CUSTOM:
		abort(); /* a custom entry without its format callback */
	case OPT_NUMBER:
	case OPT_SIZE:
	case OPT_DURATION:
	case OPT_BOOL:
	case OPT_CID:
		break;
	}
	if (spec->size == sizeof(unsigned int))
		v = *(const unsigned int *)field;
	else if (spec->size == sizeof(size_t))
		v = *(const size_t *)field;
	else
		abort(); /* as in apply() */
	/* Out of bounds: an unset marker (-1 in an int, UINT_MAX), no value. */
	if (v < spec->min || v > spec->max) {
		option_format_unset(spec->name, out);
		return;
	}
	if (spec->type == OPT_SIZE)
		util_format_size(v, text, sizeof(text));
	else if (spec->type == OPT_DURATION)
		util_format_duration(v, text, sizeof(text));
	else if (spec->type == OPT_BOOL)
		snprintf(text, sizeof(text), "%s", v != 0 ? "yes" : "no");
	else
		snprintf(text, sizeof(text), "%llu", v);
	fprintf(out, "%s = %s\n", spec->name, text);
}

void option_format_table(const struct option_spec *table, const void *target, const void *ctx, FILE *out)
{
	for (; table != NULL && table->name != NULL; table++)
		option_format(table, target, ctx, out);
}
