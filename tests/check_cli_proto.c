/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* check_cli_proto - request quoting and reply classification of udo-vsock(1) */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "escape.h"
#include "proto.h"

/* Quoting cases: argument -> token on the wire. */
static const struct {
	const char *arg;
	const char *token;
} quote_cases[] = {
    {"ping", "ping"},       {"", "\"\""},
    {"a b", "\"a b\""},     {"a\tb", "\"a\tb\""},
    {" ", "\" \""},         {"say \"hi\"", "\"say \\\"hi\\\"\""},
    {"\"", "\"\\\"\""},     {"back\\slash", "\"back\\\\slash\""},
    {"\\", "\"\\\\\""},     {"\\\"", "\"\\\\\\\"\""},
    {"cr\r", "\"cr\r\""},   {"key=value,x:y/z", "key=value,x:y/z"},
    {"ünïcode", "ünïcode"}, {"-n", "-n"},
};

/* Each table entry quotes to exactly the expected token. */
START_TEST(test_quote_table)
{
	struct cli_buf b = {0};
	const char *arg = quote_cases[_i].arg;
	ck_assert_int_eq(cli_quote_arg(&b, arg, strlen(arg)), 0);
	ck_assert_uint_eq(b.len, strlen(quote_cases[_i].token));
	ck_assert(memcmp(b.data, quote_cases[_i].token, b.len) == 0);
	ck_assert(udo_vsock_proto_needs_quotes(arg, strlen(arg)) == (quote_cases[_i].token[0] == '"'));
	cli_buf_free(&b);
}
END_TEST

/* LF and NUL cannot travel in a token: EINVAL, buffer untouched. */
START_TEST(test_quote_rejects_lf_nul)
{
	struct cli_buf b = {0};
	ck_assert_int_eq(cli_buf_append(&b, "x", 1), 0);
	errno = 0;
	ck_assert_int_eq(cli_quote_arg(&b, "a\nb", 3), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(cli_quote_arg(&b, "a\0b", 3), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(b.len, 1);
	cli_buf_free(&b);
}
END_TEST

/* A 64 KiB argument of quotes and backslashes doubles and round-trips. */
START_TEST(test_quote_64k)
{
	size_t n = 64 * 1024;
	char *arg = malloc(n);
	ck_assert_ptr_nonnull(arg);
	for (size_t i = 0; i < n; i++)
		arg[i] = "a\"\\ "[i % 4];
	struct cli_buf b = {0};
	ck_assert_int_eq(cli_quote_arg(&b, arg, n), 0);
	ck_assert_uint_eq(b.len, n + n / 2 + 2);
	ck_assert_int_eq(b.data[0], '"');
	ck_assert_int_eq(b.data[b.len - 1], '"');
	/* Undo the quoting and compare. */
	size_t j = 0;
	for (size_t i = 1; i + 1 < b.len; i++, j++) {
		if (b.data[i] == '\\')
			i++;
		ck_assert_int_eq(b.data[i], arg[j]);
	}
	ck_assert_uint_eq(j, n);
	cli_buf_free(&b);
	free(arg);
}
END_TEST

/* Whole request lines: spaces between tokens, LF at the end. */
START_TEST(test_build_request)
{
	struct cli_buf b = {0};
	char *argv1[] = {"PING"};
	ck_assert_int_eq(cli_build_request(&b, 1, argv1, NULL), 0);
	ck_assert_uint_eq(b.len, 5);
	ck_assert(memcmp(b.data, "PING\n", 5) == 0);

	cli_buf_clear(&b);
	char *argv2[] = {"set", "name", "", "two words", "q\"", "end"};
	ck_assert_int_eq(cli_build_request(&b, 6, argv2, NULL), 0);
	const char *want = "set name \"\" \"two words\" \"q\\\"\" end\n";
	ck_assert_uint_eq(b.len, strlen(want));
	ck_assert(memcmp(b.data, want, b.len) == 0);

	/* A bad argument reports its index and leaves the buffer as it was. */
	char *argv3[] = {"echo", "ok", "line\nbreak"};
	int bad = -1;
	size_t before = b.len;
	errno = 0;
	ck_assert_int_eq(cli_build_request(&b, 3, argv3, &bad), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(bad, 2);
	ck_assert_uint_eq(b.len, before);

	errno = 0;
	ck_assert_int_eq(cli_build_request(&b, 0, argv3, &bad), -1);
	ck_assert_int_eq(errno, EINVAL);
	cli_buf_free(&b);
}
END_TEST

/* Reply classification cases. */
static const struct {
	const char *line;
	enum udo_vsock_proto_reply_kind kind;
	const char *text; /* expected text (NULL: not checked) */
	const char *code;
} reply_cases[] = {
    {"D hello", UDO_VSOCK_PROTO_REPLY_DATA, "hello", NULL},
    {"D ", UDO_VSOCK_PROTO_REPLY_DATA, "", NULL},
    {"D", UDO_VSOCK_PROTO_REPLY_DATA, "", NULL},
    {"D  two spaces ", UDO_VSOCK_PROTO_REPLY_DATA, " two spaces ", NULL},
    {"D a\tb\r", UDO_VSOCK_PROTO_REPLY_DATA, "a\tb\r", NULL},
    {"D OK", UDO_VSOCK_PROTO_REPLY_DATA, "OK", NULL},
    {"D ERR x y", UDO_VSOCK_PROTO_REPLY_DATA, "ERR x y", NULL},
    {"OK", UDO_VSOCK_PROTO_REPLY_OK, "", NULL},
    {"OK ", UDO_VSOCK_PROTO_REPLY_OK, "", NULL},
    {"OK pong", UDO_VSOCK_PROTO_REPLY_OK, "pong", NULL},
    {"OK pong token", UDO_VSOCK_PROTO_REPLY_OK, "pong token", NULL},
    {"ERR usage PING [TOKEN]", UDO_VSOCK_PROTO_REPLY_ERR, "PING [TOKEN]", "usage"},
    {"ERR unknown-command no such command", UDO_VSOCK_PROTO_REPLY_ERR, "no such command", "unknown-command"},
    {"ERR too-long", UDO_VSOCK_PROTO_REPLY_ERR, "", "too-long"},
    {"ERR denied ", UDO_VSOCK_PROTO_REPLY_ERR, "", "denied"},
    {"ERR x_1 m", UDO_VSOCK_PROTO_REPLY_ERR, "m", "x_1"},
    {"ERR", UDO_VSOCK_PROTO_REPLY_INVALID, NULL, NULL},
    {"ERR ", UDO_VSOCK_PROTO_REPLY_INVALID, NULL, NULL},
    {"ERR  double", UDO_VSOCK_PROTO_REPLY_INVALID, NULL, NULL},
    {"ERR Upper msg", UDO_VSOCK_PROTO_REPLY_INVALID, NULL, NULL},
    {"ERR bad!code msg", UDO_VSOCK_PROTO_REPLY_INVALID, NULL, NULL},
    {"", UDO_VSOCK_PROTO_REPLY_INVALID, NULL, NULL},
    {"Dx", UDO_VSOCK_PROTO_REPLY_INVALID, NULL, NULL},
    {"d lower", UDO_VSOCK_PROTO_REPLY_INVALID, NULL, NULL},
    {"ok", UDO_VSOCK_PROTO_REPLY_INVALID, NULL, NULL},
    {"OKAY", UDO_VSOCK_PROTO_REPLY_INVALID, NULL, NULL},
    {"OK\tpong", UDO_VSOCK_PROTO_REPLY_INVALID, NULL, NULL},
    {"ERROR failed x", UDO_VSOCK_PROTO_REPLY_INVALID, NULL, NULL},
    {" OK", UDO_VSOCK_PROTO_REPLY_INVALID, NULL, NULL},
    {"HELLO", UDO_VSOCK_PROTO_REPLY_INVALID, NULL, NULL},
};

/* Each line classifies as expected, text and code pointing into it. */
START_TEST(test_reply_table)
{
	struct udo_vsock_proto_reply r;
	const char *line = reply_cases[_i].line;
	size_t len = strlen(line);
	errno = 0;
	ck_assert_int_eq(udo_vsock_proto_classify_reply(line, len, &r), reply_cases[_i].kind);
	ck_assert_int_eq(r.kind, reply_cases[_i].kind);
	/* The library's one convention: failure is negative, with errno. */
	if (reply_cases[_i].kind == UDO_VSOCK_PROTO_REPLY_INVALID) {
		ck_assert_int_lt(r.kind, 0);
		ck_assert_int_eq(errno, EPROTO);
	} else {
		ck_assert_int_gt(r.kind, 0);
		ck_assert_int_eq(errno, 0);
	}
	if (reply_cases[_i].text) {
		ck_assert_uint_eq(r.text_len, strlen(reply_cases[_i].text));
		ck_assert(memcmp(r.text, reply_cases[_i].text, r.text_len) == 0);
		ck_assert(r.text >= line && r.text + r.text_len <= line + len);
	}
	if (reply_cases[_i].code) {
		ck_assert_uint_eq(r.code_len, strlen(reply_cases[_i].code));
		ck_assert(memcmp(r.code, reply_cases[_i].code, r.code_len) == 0);
	} else {
		ck_assert_ptr_null(r.code);
	}
}
END_TEST

/* Payloads are bytes: a NUL inside a data line is kept, length-based. */
START_TEST(test_reply_binary_payload)
{
	static const char line[] = "D a\0b";
	struct udo_vsock_proto_reply r;
	ck_assert_int_eq(udo_vsock_proto_classify_reply(line, sizeof(line) - 1, &r), UDO_VSOCK_PROTO_REPLY_DATA);
	ck_assert_uint_eq(r.text_len, 3);
	ck_assert(memcmp(r.text, "a\0b", 3) == 0);
}
END_TEST

/* Blank lines get no reply, so the client must not wait for one. */
START_TEST(test_blank_and_command)
{
	ck_assert(udo_vsock_proto_line_is_blank("", 0));
	ck_assert(udo_vsock_proto_line_is_blank(" \t ", 3));
	ck_assert(udo_vsock_proto_line_is_blank("\r", 1));
	ck_assert(udo_vsock_proto_line_is_blank("  \r", 3));
	ck_assert(!udo_vsock_proto_line_is_blank("\r ", 2));
	ck_assert(!udo_vsock_proto_line_is_blank(" x", 2));
	ck_assert(!udo_vsock_proto_line_is_blank("\"\"", 2));

	ck_assert(udo_vsock_proto_line_command_is("quit", 4, "quit"));
	ck_assert(udo_vsock_proto_line_command_is("  QuIt\r", 7, "quit"));
	ck_assert(udo_vsock_proto_line_command_is("quit now", 8, "quit"));
	ck_assert(!udo_vsock_proto_line_command_is("quitter", 7, "quit"));
	ck_assert(!udo_vsock_proto_line_command_is("ping quit", 9, "quit"));
	ck_assert(!udo_vsock_proto_line_command_is("", 0, "quit"));
}
END_TEST

/* The buffer keeps a consumed prefix for a resend only while asked to. */
START_TEST(test_buf_keep_rewind)
{
	struct cli_buf b = {.keep = true};
	ck_assert_int_eq(cli_buf_append(&b, "abcdef", 6), 0);
	cli_buf_consume(&b, 4);
	ck_assert_uint_eq(cli_buf_used(&b), 2);
	cli_buf_rewind(&b);
	ck_assert_uint_eq(cli_buf_used(&b), 6);
	ck_assert(memcmp(cli_buf_head(&b), "abcdef", 6) == 0);
	cli_buf_consume(&b, 3);
	cli_buf_forget(&b);
	ck_assert_uint_eq(cli_buf_used(&b), 3);
	cli_buf_rewind(&b); /* no-op now */
	ck_assert(memcmp(cli_buf_head(&b), "def", 3) == 0);
	/* Growth far beyond the first allocation keeps the contents. */
	for (int i = 0; i < 10000; i++)
		ck_assert_int_eq(cli_buf_append(&b, "0123456789", 10), 0);
	ck_assert_uint_eq(cli_buf_used(&b), 100003);
	ck_assert(memcmp(cli_buf_head(&b), "def0123", 7) == 0);
	cli_buf_consume(&b, 100003);
	ck_assert_uint_eq(cli_buf_used(&b), 0);
	cli_buf_free(&b);
}
END_TEST

/* Terminal escaping: server bytes -> what a terminal is shown. */
static const struct {
	const char *in;
	const char *shown;
} escape_cases[] = {
    {"plain text\tand tab\n", "plain text\tand tab\n"},
    {"\x1b]0;pwned\a\x1b[2J", "^[]0;pwned^G^[[2J"},
    {"cr\rback", "cr^Mback"},
    {"del\x7f nul", "del^? nul"},
    {"\x01\x1f", "^A^_"},
    {"ünïcode € 😀", "ünïcode € 😀"},
    {"csi\xc2\x9b"
     "1m",
     "csiM-BM-^[1m"},                        /* U+009B, a C1 control */
    {"raw\x9b", "rawM-^["},                  /* an 8-bit CSI */
    {"\xff\xc3(", "M-^?M-C("},               /* invalid UTF-8 */
    {"\xc0\xaf", "M-@M-/"},                  /* overlong '/' */
    {"\xed\xa0\x80", "M-mM- M-^@"},          /* a surrogate */
    {"\xf4\x90\x80\x80", "M-tM-^PM-^@M-^@"}, /* past U+10FFFF */
    {"\xa0", "M- "},
};

/* Each table entry is shown exactly as expected. */
START_TEST(test_escape_table)
{
	struct cli_buf b = {0};
	const char *in = escape_cases[_i].in;
	ck_assert_uint_eq(cli_escape(&b, in, strlen(in), false), strlen(in));
	ck_assert_uint_eq(b.len, strlen(escape_cases[_i].shown));
	ck_assert(memcmp(b.data, escape_cases[_i].shown, b.len) == 0);
	cli_buf_free(&b);
}
END_TEST

/* A UTF-8 character split between two chunks passes unchanged when the
 * caller says more follows, and is escaped when it never completes. */
START_TEST(test_escape_split)
{
	struct cli_buf b = {0};
	const char euro[] = "a\xe2\x82\xac";
	ck_assert_uint_eq(cli_escape(&b, euro, 3, true), 1);
	ck_assert_uint_eq(cli_escape(&b, euro + 1, 3, true), 3);
	ck_assert_uint_eq(b.len, 4);
	ck_assert(memcmp(b.data, euro, 4) == 0);
	cli_buf_clear(&b);
	ck_assert_uint_eq(cli_escape(&b, euro + 1, 2, false), 2);
	ck_assert_uint_eq(b.len, 7);
	ck_assert(memcmp(b.data, "M-bM-^B", 7) == 0);
	/* A byte that cannot start a valid character is never held back. */
	cli_buf_clear(&b);
	ck_assert_uint_eq(cli_escape(&b, "x\xff", 2, true), 2);
	ck_assert_uint_eq(b.len, 5);
	cli_buf_free(&b);
}
END_TEST

/* The suite. */
static Suite *cli_proto_suite(void)
{
	Suite *s = suite_create("cli_proto");
	TCase *tc = tcase_create("quote");
	tcase_add_loop_test(tc, test_quote_table, 0, sizeof(quote_cases) / sizeof(quote_cases[0]));
	tcase_add_test(tc, test_quote_rejects_lf_nul);
	tcase_add_test(tc, test_quote_64k);
	tcase_add_test(tc, test_build_request);
	suite_add_tcase(s, tc);
	tc = tcase_create("reply");
	tcase_add_loop_test(tc, test_reply_table, 0, sizeof(reply_cases) / sizeof(reply_cases[0]));
	tcase_add_test(tc, test_reply_binary_payload);
	tcase_add_test(tc, test_blank_and_command);
	suite_add_tcase(s, tc);
	tc = tcase_create("escape");
	tcase_add_loop_test(tc, test_escape_table, 0, sizeof(escape_cases) / sizeof(escape_cases[0]));
	tcase_add_test(tc, test_escape_split);
	suite_add_tcase(s, tc);
	tc = tcase_create("buf");
	tcase_add_test(tc, test_buf_keep_rewind);
	suite_add_tcase(s, tc);
	return s;
}

/* Runs the suite; exit status 0 when every test passed. */
int main(void)
{
	SRunner *sr = srunner_create(cli_proto_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
