/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsock-frame.c - the header and signal names of exec session frames */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include <udo/vsock-frame.h>

#include "log-private.h"

/* The signals a session may carry, by the names both ends agree on: the
 * numbers differ between architectures, the names do not. */
static const struct {
	const char *name;
	int sig;
} frame_signals[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT},   {"KILL", SIGKILL}, {"USR1", SIGUSR1},
    {"USR2", SIGUSR2}, {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},   {"TERM", SIGTERM}, {"CONT", SIGCONT},
    {"STOP", SIGSTOP}, {"TSTP", SIGTSTP}, {"WINCH", SIGWINCH},
};

/* Whether a frame of type TYPE may have channel CHANNEL and LENGTH bytes
 * of payload. */
static int frame_shape_ok(uint8_t type, uint8_t channel, uint32_t length)
{
	int data_channel = channel <= UDO_VSOCK_FRAME_STDERR;

	switch (type) {
	case UDO_VSOCK_FRAME_DATA:
		return data_channel && length >= 1 && length <= UDO_VSOCK_FRAME_PAYLOAD_MAX;
	case UDO_VSOCK_FRAME_EOF:
		return data_channel && length == 0;
	case UDO_VSOCK_FRAME_WINDOW:
		return data_channel && length == 4;
	case UDO_VSOCK_FRAME_START:
		return channel == 0 && length <= UDO_VSOCK_FRAME_TERM_MAX;
	case UDO_VSOCK_FRAME_RESIZE:
		return channel == 0 && length == 4;
	case UDO_VSOCK_FRAME_SIGNAL:
		return channel == 0 && length >= 1 && length <= UDO_VSOCK_FRAME_SIGNAL_MAX;
	case UDO_VSOCK_FRAME_EXIT:
		return channel == 0 && length >= 2 && length <= 1 + UDO_VSOCK_FRAME_SIGNAL_MAX;
	case UDO_VSOCK_FRAME_ERROR:
	case UDO_VSOCK_FRAME_DONE:
		return channel == 0 && length <= UDO_VSOCK_FRAME_ERROR_MAX;
	default:
		return 0;
	}
}

/* Checks F and writes its big-endian header into BUF. */
int udo_vsock_frame_encode_header(void *buf, const struct udo_vsock_frame *f)
{
	unsigned char *b = buf;

	if (!frame_shape_ok(f->type, f->channel, f->length)) {
		errno = EINVAL;
		return -1;
	}
	b[0] = f->type;
	b[1] = f->channel;
	b[2] = 0;
	b[3] = 0;
	b[4] = (unsigned char)(f->length >> 24);
	b[5] = (unsigned char)(f->length >> 16);
	b[6] = (unsigned char)(f->length >> 8);
	b[7] = (unsigned char)f->length;
	return 0;
}

/* Decodes the header in BUF into F and checks it against its type. */
int udo_vsock_frame_decode_header(const void *buf, size_t len, struct udo_vsock_frame *f, char *err, size_t errlen)
{
	const unsigned char *b = buf;

	if (len < UDO_VSOCK_FRAME_HEADER_SIZE) {
		udo_log_format(err, errlen, 0, "frame header of %zu bytes (needs %u)", len,
		               UDO_VSOCK_FRAME_HEADER_SIZE);
		errno = EPROTO;
		return -1;
	}
	f->type = b[0];
	f->channel = b[1];
	f->length = (uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7];
	if (b[2] != 0 || b[3] != 0) {
		udo_log_format(err, errlen, 0, "frame header with reserved bits set");
		errno = EPROTO;
		return -1;
	}
	if (f->type < UDO_VSOCK_FRAME_DATA || f->type > UDO_VSOCK_FRAME_DONE) {
		udo_log_format(err, errlen, 0, "unknown frame type %u", f->type);
		errno = EPROTO;
		return -1;
	}
	if (!frame_shape_ok(f->type, f->channel, f->length)) {
		udo_log_format(err, errlen, 0, "frame type %u with channel %u and %u bytes", f->type, f->channel,
		               f->length);
		errno = EPROTO;
		return -1;
	}
	return 0;
}

/* The name of SIG without "SIG", if a session carries it. */
const char *udo_vsock_frame_signal_name(int sig)
{
	for (size_t i = 0; i < sizeof(frame_signals) / sizeof(frame_signals[0]); i++)
		if (frame_signals[i].sig == sig)
			return frame_signals[i].name;
	return NULL;
}

/* The number of the signal named by LEN bytes at NAME, or -1. */
int udo_vsock_frame_signal_number(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(frame_signals) / sizeof(frame_signals[0]); i++)
		if (strlen(frame_signals[i].name) == len && memcmp(frame_signals[i].name, name, len) == 0)
			return frame_signals[i].sig;
	return -1;
}
