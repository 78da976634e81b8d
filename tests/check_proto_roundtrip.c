/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* check_proto_roundtrip - libudo-vsock's quoting and request parser agree */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <udo/vsock-proto.h>

#define VECTORS  20000 /* argument vectors generated per run */
#define MAX_ARGC 8
#define MAX_ARG  24 /* bytes per generated argument, at most */

/* xorshift64*: the same vectors on every run, so a failure repeats. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* The next pseudo-random number. */
static uint32_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

/* One byte an argument may hold (anything but LF and NUL), weighted
 * towards those quoting must handle: blanks, quotes, backslashes, CR,
 * upper case (the command is lower-cased) and bytes >= 0x80. */
static char random_byte(void)
{
	static const char special[] = " \t\"\\\r\"\\ AZ";
	uint32_t r = rng();
	switch (r % 8) {
	case 0:
	case 1:
	case 2:
		return special[(r >> 8) % (sizeof(special) - 1)];
	case 3:
		return (char)(0x80 + (r >> 8) % 0x80);
	case 4: { /* any byte but LF and NUL, controls included */
		char c = (char)(1 + (r >> 8) % 255);
		return c == '\n' ? 'n' : c;
	}
	default:
		return "abcdefghijklmnopqrstuvwxyz0123456789-=:,./@"[(r >> 8) % 43];
	}
}

/* True if the parser refuses byte C wherever it is (a control character
 * but tab, or DEL): such an argument can be quoted but not carried. */
static int refused(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* ASCII lower case, as the parser makes the command. */
static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Many generated vectors: build the line, parse it back, compare word by
 * word; arguments with a refused byte must make a syntax error instead,
 * never other words. The vector is also re-parsed with one word too few
 * allowed. */
START_TEST(test_roundtrip_generated)
{
	static char store[MAX_ARGC][MAX_ARG + 1];
	char *args[MAX_ARGC + 1];
	char line[MAX_ARGC * (2 * MAX_ARG + 3) + 1], copy[sizeof(line)];
	char *words[MAX_ARGC];
	int ok = 0, refusals = 0, empties = 0;

	for (int v = 0; v < VECTORS; v++) {
		int argc = 1 + (int)(rng() % MAX_ARGC), has_refused = 0;
		for (int i = 0; i < argc; i++) {
			/* One in six arguments is empty. */
			size_t len = rng() % 6 == 0 ? 0 : 1 + rng() % MAX_ARG;
			for (size_t k = 0; k < len; k++) {
				store[i][k] = random_byte();
				has_refused |= refused((unsigned char)store[i][k]);
			}
			store[i][len] = '\0';
			empties += len == 0;
			args[i] = store[i];
		}
		args[argc] = NULL;

		ssize_t n = udo_vsock_proto_request_len(argc, args, NULL);
		ck_assert_int_gt(n, 0);
		ck_assert_int_le(n, (ssize_t)sizeof(line));
		ck_assert_int_eq(udo_vsock_proto_build_request(line, sizeof(line), argc, args, NULL), n);
		ck_assert_int_eq(line[n - 1], '\n');
		ck_assert_ptr_null(memchr(line, '\n', (size_t)n - 1));
		memcpy(copy, line, (size_t)n);

		int got = -1;
		const char *why = NULL;
		/* The server parses the line without its LF. */
		enum udo_vsock_proto_parse_result r =
		    udo_vsock_proto_parse_line(line, (size_t)n - 1, words, argc, &got, &why);
		if (has_refused) {
			ck_assert_msg(r == UDO_VSOCK_PROTO_PARSE_SYNTAX, "vector %d: %d, not a syntax error", v, r);
			ck_assert_int_eq(got, 0);
			ck_assert_ptr_nonnull(why);
			refusals++;
			continue;
		}
		ck_assert_msg(r == UDO_VSOCK_PROTO_PARSE_OK, "vector %d: result %d (%s)", v, r, why ? why : "");
		ck_assert_int_eq(got, argc);
		for (int i = 0; i < argc; i++) {
			size_t len = strlen(args[i]);
			ck_assert_uint_eq(strlen(words[i]), len);
			for (size_t k = 0; k < len; k++)
				ck_assert_msg(words[i][k] == (i == 0 ? lower(args[i][k]) : args[i][k]),
				              "vector %d word %d byte %zu differs", v, i, k);
		}
		ok++;

		/* One word fewer allowed than sent: refused as too many. */
		if (argc > 1) {
			memcpy(line, copy, (size_t)n);
			errno = 0;
			r = udo_vsock_proto_parse_line(line, (size_t)n - 1, words, argc - 1, &got, &why);
			ck_assert_int_eq(r, UDO_VSOCK_PROTO_PARSE_TOO_MANY);
			ck_assert_int_eq(errno, E2BIG);
			ck_assert_int_eq(got, 0);
		}
	}
	/* The generator reached every kind of case. */
	ck_assert_int_gt(ok, VECTORS / 10);
	ck_assert_int_gt(refusals, VECTORS / 10);
	ck_assert_int_gt(empties, VECTORS / 10);
}
END_TEST

/* Each single argument, quoted alone, parses back to itself as the second
 * word (the first is lower-cased): empty, blanks only, quotes and
 * backslashes at either end, bytes >= 0x80. */
START_TEST(test_roundtrip_edges)
{
	static const char *const cases[] = {
	    "",    " ",   "\t",  "  \t ", "\"",      "\"\"",      "\\",   "\\\\",     "\\\"",        "\"\\",
	    "a\\", "\\a", "a\"", "\"a",   "end\\\\", "x \"y\" z", "\x80", "\xff\xfe", "caf\xc3\xa9", "\xe2\x82\xac 5",
	    "-",   "--",  "=",
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char line[64] = "x ", *words[2];
		size_t len = strlen(cases[i]);
		ssize_t n = udo_vsock_proto_quote(line + 2, sizeof(line) - 2, cases[i], len);
		ck_assert_int_eq(n, udo_vsock_proto_quoted_len(cases[i], len));
		ck_assert_int_eq(n > (ssize_t)len, udo_vsock_proto_needs_quotes(cases[i], len));
		int got = -1;
		const char *why = NULL;
		ck_assert_int_eq(udo_vsock_proto_parse_line(line, 2 + (size_t)n, words, 2, &got, &why),
		                 UDO_VSOCK_PROTO_PARSE_OK);
		ck_assert_int_eq(got, 2);
		ck_assert_uint_eq(strlen(words[1]), len);
		ck_assert(memcmp(words[1], cases[i], len) == 0);
	}
}
END_TEST

/* Hand-written lines through each path of the parser: words left in
 * place, a command lower-cased while scanned or, once quoted, after, and
 * words compacted after the first quote. */
static const struct {
	const char *line;
	int argc;
	const char *words[6];
} path_cases[] = {
    {"PING 12345678", 2, {"ping", "12345678"}},
    {"PI\"N\"G X", 2, {"ping", "X"}},
    {"\"PING\" A  B", 3, {"ping", "A", "B"}},
    {"Ab\"C D\"eF gH", 2, {"abc def", "gH"}},
    {"cmd \"a b\" C  \"\"  D", 5, {"cmd", "a b", "C", "", "D"}},
    {"cmd a\"\\\"\"b \\x", 3, {"cmd", "a\"b", "\\x"}},
    {"  \tX\t", 1, {"x"}},
    {"\xc3\x89T\xc3\xa9 \xff", 2, {"\xc3\x89t\xc3\xa9", "\xff"}},
};

/* Each line parses into exactly the expected words. */
START_TEST(test_parser_paths)
{
	char line[64], *words[6];
	const char *why = NULL;
	int got = -1;
	size_t len = strlen(path_cases[_i].line);

	memcpy(line, path_cases[_i].line, len + 1);
	ck_assert_int_eq(udo_vsock_proto_parse_line(line, len, words, 6, &got, &why), UDO_VSOCK_PROTO_PARSE_OK);
	ck_assert_int_eq(got, path_cases[_i].argc);
	for (int i = 0; i < got; i++)
		ck_assert_str_eq(words[i], path_cases[_i].words[i]);
}
END_TEST

/* Too small a buffer: ENOSPC and nothing written; LF and NUL: EINVAL. */
START_TEST(test_quote_errors)
{
	char out[16];
	memset(out, '#', sizeof(out));
	errno = 0;
	ck_assert_int_eq(udo_vsock_proto_quote(out, 3, "a b", 3), -1);
	ck_assert_int_eq(errno, ENOSPC);
	ck_assert_int_eq(out[0], '#');
	ck_assert_int_eq(udo_vsock_proto_quote(out, 5, "a b", 3), 5);
	ck_assert(memcmp(out, "\"a b\"", 5) == 0);
	errno = 0;
	ck_assert_int_eq(udo_vsock_proto_quoted_len("a\nb", 3), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(udo_vsock_proto_quote(out, sizeof(out), "a\0b", 3), -1);
	ck_assert_int_eq(errno, EINVAL);

	char *argv[] = {"ping", "tok", NULL};
	memset(out, '#', sizeof(out));
	errno = 0;
	ck_assert_int_eq(udo_vsock_proto_build_request(out, 8, 2, argv, NULL), -1);
	ck_assert_int_eq(errno, ENOSPC);
	ck_assert_int_eq(out[0], '#');
	ck_assert_int_eq(udo_vsock_proto_build_request(out, 9, 2, argv, NULL), 9);
	ck_assert(memcmp(out, "ping tok\n", 9) == 0);
}
END_TEST

/* The suite. */
static Suite *roundtrip_suite(void)
{
	Suite *s = suite_create("proto_roundtrip");
	TCase *tc = tcase_create("roundtrip");
	tcase_add_test(tc, test_roundtrip_generated);
	tcase_add_test(tc, test_roundtrip_edges);
	tcase_add_test(tc, test_quote_errors);
	tcase_add_loop_test(tc, test_parser_paths, 0, sizeof(path_cases) / sizeof(path_cases[0]));
	suite_add_tcase(s, tc);
	return s;
}

/* Runs the suite; exit status 0 when every test passed. */
int main(void)
{
	SRunner *sr = srunner_create(roundtrip_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
