/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* notify-sender.h - one sd_notify message to a notify-listen address, sent
 * as a guest's systemd PID 1 sends it (see notify-sender.c). */
#ifndef UDO_TESTS_NOTIFY_SENDER_H
#define UDO_TESTS_NOTIFY_SENDER_H

#include <stddef.h>
#include <sys/types.h>

/* Connects a socket of TYPE (SOCK_SEQPACKET or SOCK_STREAM) to CID PORT
 * from a privileged port when it may. Returns the fd (blocking, 5 s
 * receive timeout), or -1 with the reason in ERR. */
int notify_sender_connect(int type, unsigned int cid, unsigned int port, char *err, size_t errlen);

/* Sends MSG (LEN bytes) to CID PORT over a socket of TYPE, shuts the
 * sending side down and waits for the receiver's EOF. Returns what that
 * wait gave (0: EOF), or -2 with the reason in ERR if the message did not
 * go out whole. */
ssize_t notify_sender_send(int type, unsigned int cid, unsigned int port, const char *msg, size_t len, char *err,
                           size_t errlen);

#endif
