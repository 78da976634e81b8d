/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* check_frame.c - the exec session frame header and signal names (pure, no sockets) */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <string.h>

#include <udo/vsock-frame.h>

/* Encodes F, decodes the bytes again and checks both agree. */
static void roundtrip(uint8_t type, uint8_t channel, uint32_t length)
{
	struct udo_vsock_frame f = {.type = type, .channel = channel, .length = length}, g;
	unsigned char b[UDO_VSOCK_FRAME_HEADER_SIZE];
	char err[128];

	ck_assert_int_eq(udo_vsock_frame_encode_header(b, &f), 0);
	ck_assert_int_eq(udo_vsock_frame_decode_header(b, sizeof(b), &g, err, sizeof(err)), 0);
	ck_assert_uint_eq(g.type, type);
	ck_assert_uint_eq(g.channel, channel);
	ck_assert_uint_eq(g.length, length);
}

/* Every type round-trips at the edges of its allowed lengths. */
START_TEST(roundtrips)
{
	roundtrip(UDO_VSOCK_FRAME_DATA, UDO_VSOCK_FRAME_STDERR, 1);
	roundtrip(UDO_VSOCK_FRAME_DATA, UDO_VSOCK_FRAME_STDOUT, UDO_VSOCK_FRAME_PAYLOAD_MAX);
	roundtrip(UDO_VSOCK_FRAME_EOF, UDO_VSOCK_FRAME_STDIN, 0);
	roundtrip(UDO_VSOCK_FRAME_WINDOW, UDO_VSOCK_FRAME_STDOUT, 4);
	roundtrip(UDO_VSOCK_FRAME_START, 0, 0);
	roundtrip(UDO_VSOCK_FRAME_START, 0, UDO_VSOCK_FRAME_TERM_MAX);
	roundtrip(UDO_VSOCK_FRAME_RESIZE, 0, 4);
	roundtrip(UDO_VSOCK_FRAME_SIGNAL, 0, 3);
	roundtrip(UDO_VSOCK_FRAME_EXIT, 0, 2);
	roundtrip(UDO_VSOCK_FRAME_ERROR, 0, UDO_VSOCK_FRAME_ERROR_MAX);
	roundtrip(UDO_VSOCK_FRAME_DONE, 0, 0);
}
END_TEST

/* The length is big-endian on the wire, whatever this machine is. */
START_TEST(big_endian)
{
	struct udo_vsock_frame f = {.type = UDO_VSOCK_FRAME_DATA, .channel = 1, .length = 0x10000};
	unsigned char b[UDO_VSOCK_FRAME_HEADER_SIZE];
	const unsigned char want[] = {1, 1, 0, 0, 0, 1, 0, 0};

	ck_assert_int_eq(udo_vsock_frame_encode_header(b, &f), 0);
	ck_assert_mem_eq(b, want, sizeof(want));
}
END_TEST

/* Decodes B and expects EPROTO with a reason. */
static void rejects(const unsigned char *b, size_t len)
{
	struct udo_vsock_frame f;
	char err[128] = "";

	errno = 0;
	ck_assert_int_eq(udo_vsock_frame_decode_header(b, len, &f, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, EPROTO);
	ck_assert_str_ne(err, "");
}

/* Bad headers fail to decode, and the same shapes fail to encode. */
START_TEST(bad_headers)
{
	const unsigned char short_hdr[] = {1, 0, 0, 0, 0, 0, 0};
	const unsigned char unknown[] = {10, 0, 0, 0, 0, 0, 0, 0};
	const unsigned char zero_type[] = {0, 0, 0, 0, 0, 0, 0, 0};
	const unsigned char reserved[] = {1, 0, 0, 1, 0, 0, 0, 1};
	const unsigned char empty_data[] = {1, 0, 0, 0, 0, 0, 0, 0};
	const unsigned char big_data[] = {1, 0, 0, 0, 0, 1, 0, 1};
	const unsigned char channel3[] = {1, 3, 0, 0, 0, 0, 0, 1};
	const unsigned char eof_payload[] = {2, 0, 0, 0, 0, 0, 0, 1};
	const unsigned char short_window[] = {3, 1, 0, 0, 0, 0, 0, 3};
	const unsigned char resize_channel[] = {5, 1, 0, 0, 0, 0, 0, 4};
	const unsigned char empty_signal[] = {6, 0, 0, 0, 0, 0, 0, 0};
	const unsigned char short_exit[] = {7, 0, 0, 0, 0, 0, 0, 1};
	struct udo_vsock_frame f = {.type = UDO_VSOCK_FRAME_DATA, .channel = 0, .length = 0};
	unsigned char b[UDO_VSOCK_FRAME_HEADER_SIZE];

	rejects(short_hdr, sizeof(short_hdr));
	rejects(unknown, sizeof(unknown));
	rejects(zero_type, sizeof(zero_type));
	rejects(reserved, sizeof(reserved));
	rejects(empty_data, sizeof(empty_data));
	rejects(big_data, sizeof(big_data));
	rejects(channel3, sizeof(channel3));
	rejects(eof_payload, sizeof(eof_payload));
	rejects(short_window, sizeof(short_window));
	rejects(resize_channel, sizeof(resize_channel));
	rejects(empty_signal, sizeof(empty_signal));
	rejects(short_exit, sizeof(short_exit));
	errno = 0;
	ck_assert_int_eq(udo_vsock_frame_encode_header(b, &f), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

/* Signal names and numbers map both ways; others are refused. */
START_TEST(signal_names)
{
	ck_assert_str_eq(udo_vsock_frame_signal_name(SIGINT), "INT");
	ck_assert_str_eq(udo_vsock_frame_signal_name(SIGWINCH), "WINCH");
	ck_assert_ptr_null(udo_vsock_frame_signal_name(SIGSEGV));
	ck_assert_int_eq(udo_vsock_frame_signal_number("TERM", 4), SIGTERM);
	ck_assert_int_eq(udo_vsock_frame_signal_number("TERMX", 4), SIGTERM);
	ck_assert_int_eq(udo_vsock_frame_signal_number("TER", 3), -1);
	ck_assert_int_eq(udo_vsock_frame_signal_number("SIGTERM", 7), -1);
	ck_assert_int_eq(udo_vsock_frame_signal_number("SEGV", 4), -1);
}
END_TEST

/* The frame suite. */
static Suite *frame_suite(void)
{
	Suite *s = suite_create("frame");
	TCase *tc = tcase_create("frame");

	tcase_add_test(tc, roundtrips);
	tcase_add_test(tc, big_endian);
	tcase_add_test(tc, bad_headers);
	tcase_add_test(tc, signal_names);
	suite_add_tcase(s, tc);
	return s;
}

/* Runs the suite; exit status 0 when every test passed. */
int main(void)
{
	SRunner *sr = srunner_create(frame_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
