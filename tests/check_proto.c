/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* check_proto - the request-line parser of udo-vsockd, without sockets */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <udo/vsock-proto.h>

#define MAX_WORDS 8

/* One table row: a request line and what the parser must make of it. */
struct parse_case {
	const char *name;
	const char *line;
	size_t len; /* 0: strlen(line) */
	int max_args;
	enum udo_vsock_proto_parse_result result;
	int argc;
	const char *argv[MAX_WORDS];
};

static const struct parse_case cases[] = {
    {"one word", "ping", 0, 8, UDO_VSOCK_PROTO_PARSE_OK, 1, {"ping"}},
    {"two words", "ping tok", 0, 8, UDO_VSOCK_PROTO_PARSE_OK, 2, {"ping", "tok"}},
    {"blanks around", "  ping   tok  ", 0, 8, UDO_VSOCK_PROTO_PARSE_OK, 2, {"ping", "tok"}},
    {"tabs separate", "a\tb \t c\t", 0, 8, UDO_VSOCK_PROTO_PARSE_OK, 3, {"a", "b", "c"}},
    {"command lower-cased only", "PiNg ToK", 0, 8, UDO_VSOCK_PROTO_PARSE_OK, 2, {"ping", "ToK"}},
    {"quoted blank", "say \"hello world\"", 0, 8, UDO_VSOCK_PROTO_PARSE_OK, 2, {"say", "hello world"}},
    {"quoted tab kept", "say \"a\tb\"", 0, 8, UDO_VSOCK_PROTO_PARSE_OK, 2, {"say", "a\tb"}},
    {"escaped quote", "say \"a\\\"b\"", 0, 8, UDO_VSOCK_PROTO_PARSE_OK, 2, {"say", "a\"b"}},
    {"escaped backslash", "say \"c\\\\d\"", 0, 8, UDO_VSOCK_PROTO_PARSE_OK, 2, {"say", "c\\d"}},
    {"escaped backslash at end", "say \"a\\\\\"", 0, 8, UDO_VSOCK_PROTO_PARSE_OK, 2, {"say", "a\\"}},
    {"other escape kept", "say \"a\\nb\"", 0, 8, UDO_VSOCK_PROTO_PARSE_OK, 2, {"say", "a\\nb"}},
    {"backslash outside quotes", "say a\\b", 0, 8, UDO_VSOCK_PROTO_PARSE_OK, 2, {"say", "a\\b"}},
    {"adjacent quotes join", "say a\"b c\"d", 0, 8, UDO_VSOCK_PROTO_PARSE_OK, 2, {"say", "ab cd"}},
    {"two quoted parts join", "say \"a\"\"b\"", 0, 8, UDO_VSOCK_PROTO_PARSE_OK, 2, {"say", "ab"}},
    {"empty quoted arg", "say \"\" x", 0, 8, UDO_VSOCK_PROTO_PARSE_OK, 3, {"say", "", "x"}},
    {"empty quoted arg at end", "say \"\"", 0, 8, UDO_VSOCK_PROTO_PARSE_OK, 2, {"say", ""}},
    {"quoted command", "\"PING\" x", 0, 8, UDO_VSOCK_PROTO_PARSE_OK, 2, {"ping", "x"}},
    {"utf-8 passes", "say h\xc3\xa9", 0, 8, UDO_VSOCK_PROTO_PARSE_OK, 2, {"say", "h\xc3\xa9"}},
    {"len cuts the line", "ping tok", 4, 8, UDO_VSOCK_PROTO_PARSE_OK, 1, {"ping"}},
    {"empty line", "", 0, 8, UDO_VSOCK_PROTO_PARSE_EMPTY, 0, {NULL}},
    {"blank line", " \t  ", 0, 8, UDO_VSOCK_PROTO_PARSE_EMPTY, 0, {NULL}},
    {"unterminated quote", "say \"abc", 0, 8, UDO_VSOCK_PROTO_PARSE_SYNTAX, 0, {NULL}},
    {"unterminated after escape", "say \"abc\\\"", 0, 8, UDO_VSOCK_PROTO_PARSE_SYNTAX, 0, {NULL}},
    {"lone quote", "\"", 0, 8, UDO_VSOCK_PROTO_PARSE_SYNTAX, 0, {NULL}},
    {"escaped quote outside opens", "say \\\"x", 0, 8, UDO_VSOCK_PROTO_PARSE_SYNTAX, 0, {NULL}},
    {"control char", "ping \x01", 0, 8, UDO_VSOCK_PROTO_PARSE_SYNTAX, 0, {NULL}},
    {"control char in quotes", "say \"\x1b[0m\"", 0, 8, UDO_VSOCK_PROTO_PARSE_SYNTAX, 0, {NULL}},
    {"CR inside", "ping\r tok", 0, 8, UDO_VSOCK_PROTO_PARSE_SYNTAX, 0, {NULL}},
    {"DEL", "ping \x7f", 0, 8, UDO_VSOCK_PROTO_PARSE_SYNTAX, 0, {NULL}},
    {"NUL inside", "ping\0tok", 8, 8, UDO_VSOCK_PROTO_PARSE_SYNTAX, 0, {NULL}},
    {"max args exactly", "a b c d", 0, 4, UDO_VSOCK_PROTO_PARSE_OK, 4, {"a", "b", "c", "d"}},
    {"one too many", "a b c d e", 0, 4, UDO_VSOCK_PROTO_PARSE_TOO_MANY, 0, {NULL}},
    {"trailing blanks not an arg", "a b c d    ", 0, 4, UDO_VSOCK_PROTO_PARSE_OK, 4, {"a", "b", "c", "d"}},
    {"empty quoted counts", "a b c d \"\"", 0, 4, UDO_VSOCK_PROTO_PARSE_TOO_MANY, 0, {NULL}},
};

/* Parses row _i of the table and compares every field. */
START_TEST(test_parse_table)
{
	const struct parse_case *tc = &cases[_i];
	size_t len = tc->len != 0 ? tc->len : strlen(tc->line);
	/* The parser may use LEN + 1 bytes; poison the byte after that. */
	char *buf = malloc(len + 2);
	char *argv[MAX_WORDS + 1];
	const char *why = NULL;
	int argc = -1;

	ck_assert_ptr_nonnull(buf);
	memcpy(buf, tc->line, len);
	buf[len] = 'Z';
	buf[len + 1] = 'Y';
	argv[MAX_WORDS] = (char *)"sentinel";
	enum udo_vsock_proto_parse_result r = udo_vsock_proto_parse_line(buf, len, argv, tc->max_args, &argc, &why);
	ck_assert_msg(r == tc->result, "%s: result %d, expected %d (why: %s)", tc->name, r, tc->result,
	              why != NULL ? why : "-");
	ck_assert_msg(buf[len + 1] == 'Y', "%s: wrote past LEN + 1", tc->name);
	ck_assert_str_eq(argv[MAX_WORDS], "sentinel");
	if (r == UDO_VSOCK_PROTO_PARSE_OK) {
		ck_assert_msg(argc == tc->argc, "%s: argc %d, expected %d", tc->name, argc, tc->argc);
		for (int i = 0; i < argc; i++)
			ck_assert_msg(strcmp(argv[i], tc->argv[i]) == 0, "%s: argv[%d] '%s', expected '%s'", tc->name,
			              i, argv[i], tc->argv[i]);
		ck_assert_ptr_null(why);
	} else if (r == UDO_VSOCK_PROTO_PARSE_EMPTY) {
		ck_assert_int_eq(argc, 0);
	} else {
		ck_assert_int_eq(argc, 0);
		ck_assert_msg(why != NULL && why[0] != '\0', "%s: no reason given", tc->name);
	}
	free(buf);
}
END_TEST

/* The reasons name the problem: quoting, control characters, word count. */
START_TEST(test_parse_reasons)
{
	char a[] = "say \"x", b[] = "ping \x02", c[] = "a b c";
	char *argv[2];
	const char *why;
	int argc;

	ck_assert_int_eq(udo_vsock_proto_parse_line(a, strlen(a), argv, 2, &argc, &why), UDO_VSOCK_PROTO_PARSE_SYNTAX);
	ck_assert_ptr_nonnull(strstr(why, "quote"));
	ck_assert_int_eq(udo_vsock_proto_parse_line(b, strlen(b), argv, 2, &argc, &why), UDO_VSOCK_PROTO_PARSE_SYNTAX);
	ck_assert_ptr_nonnull(strstr(why, "control"));
	ck_assert_int_eq(udo_vsock_proto_parse_line(c, strlen(c), argv, 2, &argc, &why),
	                 UDO_VSOCK_PROTO_PARSE_TOO_MANY);
	ck_assert_ptr_nonnull(strstr(why, "too many"));
}
END_TEST

/* A 64 KiB argument comes through whole. */
START_TEST(test_parse_64k_argument)
{
	const size_t arglen = 65536;
	size_t len = 5 + arglen;
	char *buf = malloc(len + 1);
	char *argv[4];
	const char *why;
	int argc;

	ck_assert_ptr_nonnull(buf);
	memcpy(buf, "PING ", 5);
	for (size_t i = 0; i < arglen; i++)
		buf[5 + i] = (char)('a' + i % 26);
	ck_assert_int_eq(udo_vsock_proto_parse_line(buf, len, argv, 4, &argc, &why), UDO_VSOCK_PROTO_PARSE_OK);
	ck_assert_int_eq(argc, 2);
	ck_assert_str_eq(argv[0], "ping");
	ck_assert_uint_eq(strlen(argv[1]), arglen);
	for (size_t i = 0; i < arglen; i++)
		ck_assert_int_eq(argv[1][i], 'a' + i % 26);
	free(buf);
}
END_TEST

/* Builds "cmd 1 2 ... N-1" (N words) in a fresh buffer; sets *LEN. */
static char *many_words(int n, size_t *len)
{
	char *buf = malloc((size_t)n * 8 + 8);
	size_t off = 0;

	ck_assert_ptr_nonnull(buf);
	off += (size_t)sprintf(buf, "cmd");
	for (int i = 1; i < n; i++)
		off += (size_t)sprintf(buf + off, " %d", i);
	*len = off;
	return buf;
}

/* 10,000 words: refused under the default-sized limit, accepted under an
 * exact one, refused one below it. */
START_TEST(test_parse_10000_arguments)
{
	const int n = 10000;
	char **argv = calloc((size_t)n, sizeof(*argv));
	const char *why;
	size_t len;
	int argc;

	ck_assert_ptr_nonnull(argv);
	char *buf = many_words(n, &len);
	ck_assert_int_eq(udo_vsock_proto_parse_line(buf, len, argv, 64, &argc, &why), UDO_VSOCK_PROTO_PARSE_TOO_MANY);
	ck_assert_int_eq(argc, 0);
	free(buf);

	buf = many_words(n, &len);
	ck_assert_int_eq(udo_vsock_proto_parse_line(buf, len, argv, n, &argc, &why), UDO_VSOCK_PROTO_PARSE_OK);
	ck_assert_int_eq(argc, n);
	ck_assert_str_eq(argv[0], "cmd");
	for (int i = 1; i < n; i++)
		ck_assert_int_eq(atoi(argv[i]), i);
	free(buf);

	buf = many_words(n, &len);
	ck_assert_int_eq(udo_vsock_proto_parse_line(buf, len, argv, n - 1, &argc, &why),
	                 UDO_VSOCK_PROTO_PARSE_TOO_MANY);
	free(buf);
	free(argv);
}
END_TEST

/* Reply text may not contain line ends or NULs. */
START_TEST(test_line_safe)
{
	ck_assert(udo_vsock_proto_is_line_safe("pong tok", 8));
	ck_assert(udo_vsock_proto_is_line_safe("", 0));
	ck_assert(!udo_vsock_proto_is_line_safe("a\nb", 3));
	ck_assert(!udo_vsock_proto_is_line_safe("a\rb", 3));
	ck_assert(!udo_vsock_proto_is_line_safe("a\0b", 3));
	/* Only LEN bytes count. */
	ck_assert(udo_vsock_proto_is_line_safe("ab\n", 2));
}
END_TEST

/* Error codes are [a-z][a-z-]*. */
START_TEST(test_error_codes)
{
	ck_assert(udo_vsock_proto_is_error_code(UDO_VSOCK_PROTO_ERR_SYNTAX));
	ck_assert(udo_vsock_proto_is_error_code(UDO_VSOCK_PROTO_ERR_UNKNOWN));
	ck_assert(udo_vsock_proto_is_error_code(UDO_VSOCK_PROTO_ERR_TOO_LONG));
	ck_assert(udo_vsock_proto_is_error_code("x"));
	ck_assert(!udo_vsock_proto_is_error_code(""));
	ck_assert(!udo_vsock_proto_is_error_code("-x"));
	ck_assert(!udo_vsock_proto_is_error_code("Busy"));
	ck_assert(!udo_vsock_proto_is_error_code("too long"));
	ck_assert(!udo_vsock_proto_is_error_code("e1"));
}
END_TEST

/* The suite: the parser table and its limits. */
static Suite *proto_suite(void)
{
	Suite *s = suite_create("proto");
	TCase *tc = tcase_create("parse");

	tcase_add_loop_test(tc, test_parse_table, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_parse_reasons);
	tcase_add_test(tc, test_parse_64k_argument);
	tcase_add_test(tc, test_parse_10000_arguments);
	tcase_add_test(tc, test_line_safe);
	tcase_add_test(tc, test_error_codes);
	suite_add_tcase(s, tc);
	return s;
}

/* Runs the suite; the exit status is the number of failures (capped). */
int main(void)
{
	SRunner *sr = srunner_create(proto_suite());

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
