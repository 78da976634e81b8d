/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udo/vsock-frame.h - the binary frames of an exec session */
#ifndef UDO_VSOCK_FRAME_H
#define UDO_VSOCK_FRAME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * After "OK session" a connection stops carrying lines and carries frames
 * in both directions, until it closes. Each frame is an 8-byte header and
 * LENGTH bytes of payload; every integer is big-endian:
 *
 *   uint8_t  type      enum udo_vsock_frame_type
 *   uint8_t  channel   enum udo_vsock_frame_channel, 0 for control frames
 *   uint16_t reserved  0
 *   uint32_t length    payload bytes, at most UDO_VSOCK_FRAME_PAYLOAD_MAX
 *
 * Flow control is per data channel, as SSH's channel windows: a side may
 * send DATA on a channel only as many bytes as the receiver has granted
 * with WINDOW frames, and every window starts at 0. Control frames (EOF,
 * WINDOW, START, RESIZE, SIGNAL, EXIT, ERROR, DONE) never need a window, so a
 * stalled data channel never holds back a resize, a signal or the exit
 * status. udo-vsock-protocol(7) gives who sends what, and when.
 */
#define UDO_VSOCK_FRAME_HEADER_SIZE 8u
#define UDO_VSOCK_FRAME_PAYLOAD_MAX 65536u
#define UDO_VSOCK_FRAME_TERM_MAX    64u   /* START: the TERM name */
#define UDO_VSOCK_FRAME_SIGNAL_MAX  16u   /* SIGNAL, EXIT: a signal name */
#define UDO_VSOCK_FRAME_ERROR_MAX   1024u /* ERROR, DONE: one reply line */

enum udo_vsock_frame_type {
	UDO_VSOCK_FRAME_DATA = 1,   /* channel bytes, 1..PAYLOAD_MAX, within the window */
	UDO_VSOCK_FRAME_EOF = 2,    /* no more DATA on the channel; empty */
	UDO_VSOCK_FRAME_WINDOW = 3, /* uint32_t: more bytes the sender may receive */
	UDO_VSOCK_FRAME_START = 4,  /* client: start the program; payload TERM or empty */
	UDO_VSOCK_FRAME_RESIZE = 5, /* client: uint16_t rows, uint16_t columns */
	UDO_VSOCK_FRAME_SIGNAL = 6, /* client: a signal name without "SIG" */
	UDO_VSOCK_FRAME_EXIT = 7,   /* daemon, last: 0 and a code, or 1 and a signal name */
	UDO_VSOCK_FRAME_ERROR = 8,  /* daemon: an "ERR code text" line, no newline */
	UDO_VSOCK_FRAME_DONE = 9,   /* daemon, last of a transfer: an "OK text" line, no newline */
};

enum udo_vsock_frame_channel {
	UDO_VSOCK_FRAME_STDIN = 0,
	UDO_VSOCK_FRAME_STDOUT = 1,
	UDO_VSOCK_FRAME_STDERR = 2,
};

/* EXIT's first payload byte. */
enum udo_vsock_frame_exit_kind {
	UDO_VSOCK_FRAME_EXITED = 0,   /* then one byte: the exit code */
	UDO_VSOCK_FRAME_SIGNALED = 1, /* then the signal's name without "SIG" */
};

/* A frame header, decoded. */
struct udo_vsock_frame {
	uint8_t type;
	uint8_t channel;
	uint32_t length;
};

/* Checks F against the rules of its type and writes its header into BUF
 * of UDO_VSOCK_FRAME_HEADER_SIZE bytes. Returns 0, or -1 (errno EINVAL). */
int udo_vsock_frame_encode_header(void *buf, const struct udo_vsock_frame *f);

/* Decodes and checks the header in BUF of LEN bytes into F. Pure: no I/O.
 * Returns 0, or -1 with errno EPROTO and a reason in ERR (LEN too short,
 * an unknown type, a bad channel, reserved bits set, or a length its type
 * does not allow). */
int udo_vsock_frame_decode_header(const void *buf, size_t len, struct udo_vsock_frame *f, char *err, size_t errlen);

/* The name without "SIG" of signal SIG if a session may carry it (HUP,
 * INT, QUIT, KILL, USR1, USR2, PIPE, ALRM, TERM, CONT, STOP, TSTP, WINCH),
 * or NULL. */
const char *udo_vsock_frame_signal_name(int sig);

/* The number of the signal named by the LEN bytes at NAME (without "SIG";
 * one of those above), or -1. */
int udo_vsock_frame_signal_number(const char *name, size_t len);

#ifdef __cplusplus
}
#endif

#endif
