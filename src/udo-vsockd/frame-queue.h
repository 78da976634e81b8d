/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* frame-queue.h - appending session frames (udo/vsock-frame.h) to an
 * output buffer: exec sessions and file transfers queue theirs alike */
#ifndef UDO_VSOCKD_FRAME_QUEUE_H
#define UDO_VSOCKD_FRAME_QUEUE_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;

/* Appends a frame of TYPE on CHANNEL with LEN bytes at PAYLOAD to OUT.
 * Returns 0, or -1 if it does not encode or memory ran out. */
int frame_queue(struct evbuffer *out, uint8_t type, uint8_t channel, const void *payload, size_t len);

/* Writes the payload of a WINDOW frame granting N bytes to B (big-endian). */
void frame_window_payload(unsigned char b[4], uint32_t n);

/* The bytes a WINDOW payload B grants. */
uint32_t frame_window_value(const unsigned char b[4]);

/* Appends a WINDOW frame granting N more bytes on CHANNEL to OUT.
 * Returns 0 or -1, as frame_queue(). */
int frame_queue_window(struct evbuffer *out, uint8_t channel, uint32_t n);

/* The name an EXIT frame gives signal SIG: the protocol's name, else the
 * C library's abbreviation (SEGV, ABRT, BUS: how programs crash), else
 * its number written to BUF of SIZE bytes. */
const char *frame_exit_signal_name(int sig, char *buf, size_t size);

#endif /* UDO_VSOCKD_FRAME_QUEUE_H */
