/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* util.h - small helpers shared by the daemon's files: numbers, sizes,
 * durations and booleans of the config, declarative option tables,
 * FNV-1a, timevals and per-peer keys. Pure: no sockets, no events. */
#ifndef UDO_VSOCKD_UTIL_H
#define UDO_VSOCKD_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

struct peer;

/* Parses a plain decimal number (digits only) within [MIN, MAX] into
 * *OUT. Returns 0, or -1 on junk, overflow or out of bounds. */
int util_parse_number(const char *text, unsigned long long min, unsigned long long max, unsigned long long *out);

/* Parses a size: digits with an optional K, KiB (1024), M or MiB
 * (1048576), within [MIN, MAX] bytes. Returns 0 or -1. */
int util_parse_size(const char *text, unsigned long long min, unsigned long long max, unsigned long long *out);

/* Parses a duration into milliseconds: digits with an optional ms, s or
 * min (seconds if none), within [MIN, MAX] ms. Returns 0 or -1. */
int util_parse_duration(const char *text, unsigned long long min, unsigned long long max, unsigned long long *out);

/* Parses a boolean: yes/true/on/1 (1) or no/false/off/0 (0); -1 else. */
int util_parse_bool(const char *text);

/* FNV-1a of the bytes of the string S. */
uint32_t util_fnv1a(const char *s);

/* MS milliseconds as a struct timeval. */
struct timeval util_timeval_ms(unsigned long long ms);

/* Writes the per-peer key of PEER to BUF: "cid:N", or "unix:IDENTITY"
 * for a unix listener's peers (what per-peer limits and logs count). */
void util_peer_key(const struct peer *peer, char *buf, size_t size);

/* The value type of a config option; each has one error text. */
enum option_type {
	OPT_NUMBER,   /* a count; like sizes it takes K/M (as ever) */
	OPT_SIZE,     /* bytes, K/KiB/M/MiB */
	OPT_DURATION, /* milliseconds; seconds by default, ms/s/min */
	OPT_BOOL,     /* yes or no, into an int */
	OPT_STRING,   /* a copy of the text, into a char * (the old one freed) */
	OPT_CUSTOM,   /* only the parse callback */
};

/*
 * One option of a table (a NULL name ends it). Numbers, sizes and
 * durations go, within [MIN, MAX], into the unsigned int, int or size_t
 * (SIZE bytes) at OFFSET of the target; booleans into an int, strings
 * into a char *. An entry with PARSE takes its value with PARSE instead;
 * PARSE may call option_value() to get the number of its TYPE with the
 * standard error text.
 */
struct option_spec {
	const char *name;
	enum option_type type;
	unsigned long long min, max;
	size_t offset;
	size_t size;
	/* Takes VALUE into TARGET; CTX is the caller's (a command, the
	 * parser). Returns 0, or -1 with a message in WHY (none: out of
	 * memory). */
	int (*parse)(const struct option_spec *spec, void *target, void *ctx, const char *value, char *why,
	             size_t whylen);
};

/* A table entry of a field of struct TYPE. */
#define OPTION(name, type, min, max, stype, field, parse)                                                              \
	{                                                                                                              \
		name, type, min, max, offsetof(stype, field), sizeof(((stype *)0)->field), parse                       \
	}

/* A table entry that is only its parse callback. */
#define OPTION_CUSTOM(name, parse)                                                                                     \
	{                                                                                                              \
		name, OPT_CUSTOM, 0, 0, 0, 0, parse                                                                    \
	}

/* The end of a table. */
#define OPTION_END                                                                                                     \
	{                                                                                                              \
		NULL, OPT_CUSTOM, 0, 0, 0, 0, NULL                                                                     \
	}

/* The entry of TABLE (NULL: none) named KEY, or NULL. */
const struct option_spec *option_find(const struct option_spec *table, const char *key);

/* Parses VALUE as the number, size, duration or boolean SPEC->type
 * within SPEC's bounds into *OUT. Returns 0, or -1 with "KEY: 'VALUE' is
 * not a ..." in WHY. */
int option_value(const struct option_spec *spec, const char *value, unsigned long long *out, char *why, size_t whylen);

/* Applies VALUE of option SPEC to TARGET (CTX for its parse callback).
 * Returns 0, or -1 with a message in WHY. */
int option_apply(const struct option_spec *spec, void *target, void *ctx, const char *value, char *why, size_t whylen);

#endif /* UDO_VSOCKD_UTIL_H */
