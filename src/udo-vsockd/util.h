/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* util.h - small helpers shared by the daemon's files: numbers, sizes,
 * durations and booleans of the config, declarative option tables,
 * FNV-1a, timevals, the monotonic clock and per-peer keys. Pure: no
 * sockets, no events. */
#ifndef UDO_VSOCKD_UTIL_H
#define UDO_VSOCKD_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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

/* Parses a vsock CID: digits, or hypervisor (0), local (1) or host (2),
 * within [MIN, MAX] into *OUT. Returns 0 or -1. */
int util_parse_cid(const char *text, unsigned long long min, unsigned long long max, unsigned long long *out);

/* Parses a boolean: yes/true/on/1 (1) or no/false/off/0 (0); -1 else. */
int util_parse_bool(const char *text);

/* FNV-1a of the bytes of the string S. Inline: a request's command
 * word is hashed once per request. */
static inline uint32_t util_fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* Non-zero if a byte of X is below 0x0e: every LF (0x0a) and CR (0x0d)
 * is, and so are a few other control bytes. Three operations instead of
 * an exact test per byte value; a caller that finds one cleans exactly. */
static inline uint64_t util_low_byte_bits(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;

	return (x - ones * 0x0e) & ~x & highs;
}

/* util_low_byte_bits for the four bytes of Y. */
static inline uint32_t util_low_byte_bits32(uint32_t y)
{
	return (y - 0x0e0e0e0eu) & ~y & 0x80808080u;
}

/* Copies the LEN bytes of SRC to DST and tells whether an LF or CR may
 * be among them (what a status line must not hold): 0 means surely
 * not; 1 may also mean another byte below 0x0e. Eight or four bytes a
 * step, the last step overlapping the one before: a status line echoes
 * words, and this runs for each one (PING). */
static inline int util_copy_has_line_end(char *dst, const char *src, size_t len)
{
	uint64_t found = 0, x = 0;
	uint32_t y;

	if (len >= 8) {
		for (size_t i = 0; i + 8 < len; i += 8) {
			__builtin_memcpy(&x, src + i, 8);
			__builtin_memcpy(dst + i, &x, 8);
			found |= util_low_byte_bits(x);
		}
		__builtin_memcpy(&x, src + len - 8, 8);
		__builtin_memcpy(dst + len - 8, &x, 8);
		return (found | util_low_byte_bits(x)) != 0;
	}
	if (len >= 4) {
		uint32_t z;
		__builtin_memcpy(&y, src, 4);
		__builtin_memcpy(dst, &y, 4);
		__builtin_memcpy(&z, src + len - 4, 4);
		__builtin_memcpy(dst + len - 4, &z, 4);
		return (util_low_byte_bits32(y) | util_low_byte_bits32(z)) != 0;
	}
	for (size_t i = 0; i < len; i++) {
		dst[i] = src[i];
		found |= src[i] == '\n' || src[i] == '\r';
	}
	return found != 0;
}

/* MS milliseconds as a struct timeval. */
struct timeval util_timeval_ms(unsigned long long ms);

/* CLOCK_MONOTONIC in microseconds (a system call in some VMs: callers
 * that can, read it once a loop turn). */
uint64_t util_monotonic_us(void);

/* Writes the per-peer key of PEER to BUF: "cid:N", or "unix:IDENTITY"
 * for a unix listener's peers (what per-peer limits and logs count). */
void util_peer_key(const struct peer *peer, char *buf, size_t size);

/* The value type of a config option; each has one error text. */
enum option_type {
	OPT_NUMBER,   /* a count; like sizes it takes K/M (as ever) */
	OPT_SIZE,     /* bytes, K/KiB/M/MiB */
	OPT_DURATION, /* milliseconds; seconds by default, ms/s/min */
	OPT_BOOL,     /* yes or no, into an int */
	OPT_CID,      /* a vsock CID (util_parse_cid), into an unsigned int */
	OPT_STRING,   /* a copy of the text, into a char * (the old one freed) */
	OPT_CUSTOM,   /* only the parse and format callbacks */
};

/*
 * One option of a table (a NULL name ends it). Numbers, sizes,
 * durations and CIDs go, within [MIN, MAX], into the unsigned int, int
 * or size_t (SIZE bytes) at OFFSET of the target; booleans into an int,
 * strings into a char *. An entry with PARSE takes its value with PARSE instead;
 * PARSE may call option_value() to get the number of its TYPE with the
 * standard error text. FORMAT, the inverse of the parser, writes the
 * value back as config lines (udo-vsockd -D); without it the value at
 * OFFSET is written by its TYPE (option_format).
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
	/* Writes the value in TARGET (CTX: the command, or the config of
	 * [daemon]) to OUT as zero or more "NAME = VALUE" lines that parse
	 * back to it, or a "# NAME: ..." comment when it is not set. */
	void (*format)(const struct option_spec *spec, const void *target, const void *ctx, FILE *out);
};

/* A table entry of a field of struct TYPE, written back by FORMAT. */
#define OPTION_FORMAT(name, type, min, max, stype, field, parse, format)                                               \
	{                                                                                                              \
		name, type, min, max, offsetof(stype, field), sizeof(((stype *)0)->field), parse, format               \
	}

/* A table entry of a field of struct TYPE, written back by its type. */
#define OPTION(name, type, min, max, stype, field, parse) OPTION_FORMAT(name, type, min, max, stype, field, parse, NULL)

/* A table entry that is only its parse and format callbacks. */
#define OPTION_CUSTOM(name, parse, format)                                                                             \
	{                                                                                                              \
		name, OPT_CUSTOM, 0, 0, 0, 0, parse, format                                                            \
	}

/* The end of a table. */
#define OPTION_END                                                                                                     \
	{                                                                                                              \
		NULL, OPT_CUSTOM, 0, 0, 0, 0, NULL, NULL                                                               \
	}

/* The entry of TABLE (NULL: none) named KEY, or NULL. */
const struct option_spec *option_find(const struct option_spec *table, const char *key);

/* Parses VALUE as the number, size, duration, boolean or CID SPEC->type
 * within SPEC's bounds into *OUT. Returns 0, or -1 with "KEY: 'VALUE' is
 * not a ..." in WHY. */
int option_value(const struct option_spec *spec, const char *value, unsigned long long *out, char *why, size_t whylen);

/* Applies VALUE of option SPEC to TARGET (CTX for its parse callback).
 * Returns 0, or -1 with a message in WHY. */
int option_apply(const struct option_spec *spec, void *target, void *ctx, const char *value, char *why, size_t whylen);

/* Writes the size V the way a config would, in the largest unit that
 * holds it exactly: "4K", "1024M", "16". */
void util_format_size(unsigned long long v, char *buf, size_t size);

/* Writes the duration V (ms) the way a config would, in the largest
 * unit that holds it exactly: "5min", "10s", "250ms", "0". */
void util_format_duration(unsigned long long v, char *buf, size_t size);

/* Writes the option SPEC of TARGET (CTX as for its format callback) to
 * OUT: with SPEC->format, else by its type as "NAME = VALUE", or as
 * "# NAME: not set" when the value is outside SPEC's bounds (an unset
 * marker such as -1) or a NULL string. */
void option_format(const struct option_spec *spec, const void *target, const void *ctx, FILE *out);

/* option_format for every option of TABLE (NULL: none), in its order. */
void option_format_table(const struct option_spec *table, const void *target, const void *ctx, FILE *out);

/* Writes "# NAME: not set" to OUT: a key that has no value to show. */
void option_format_unset(const char *name, FILE *out);

/* Writes "NAME = VALUE" to OUT, or when VALUE is NULL that NAME is not
 * set, saying what that means (UNSET; NULL: nothing more). */
void option_format_string(const char *name, const char *value, const char *unset, FILE *out);

#endif /* UDO_VSOCKD_UTIL_H */
