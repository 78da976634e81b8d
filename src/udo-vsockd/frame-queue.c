/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* frame-queue.c - appending session frames to an output buffer */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include <udo/vsock-frame.h>

#include "frame-queue.h"

/* Appends one frame to OUT. */
int frame_queue(struct evbuffer *out, uint8_t type, uint8_t channel, const void *payload, size_t len)
{
	struct udo_vsock_frame f = {.type = type, .channel = channel, .length = (uint32_t)len};
	unsigned char hdr[UDO_VSOCK_FRAME_HEADER_SIZE];

	if (udo_vsock_frame_encode_header(hdr, &f) < 0 || evbuffer_add(out, hdr, sizeof(hdr)) < 0 ||
	    (len > 0 && evbuffer_add(out, payload, len) < 0))
		return -1;
	return 0;
}

void frame_window_payload(unsigned char b[4], uint32_t n)
{
	b[0] = (unsigned char)(n >> 24);
	b[1] = (unsigned char)(n >> 16);
	b[2] = (unsigned char)(n >> 8);
	b[3] = (unsigned char)n;
}

uint32_t frame_window_value(const unsigned char b[4])
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Appends a WINDOW frame of N to OUT. */
int frame_queue_window(struct evbuffer *out, uint8_t channel, uint32_t n)
{
	unsigned char b[4];

	frame_window_payload(b, n);
	return frame_queue(out, UDO_VSOCK_FRAME_WINDOW, channel, b, sizeof(b));
}

const char *frame_exit_signal_name(int sig, char *buf, size_t size)
{
	const char *name = udo_vsock_frame_signal_name(sig);

#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 32)
	if (name == NULL)
		name = sigabbrev_np(sig);
#endif
	if (name == NULL) {
		snprintf(buf, size, "%d", sig);
		name = buf;
	}
	return name;
}
