/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vmm-notify-send - sends one sd_notify message over vsock as a guest's
 * systemd PID 1 sends it to its vmm.notify_socket (notify-sender.c), for
 * tests that run the installed daemon (systemd_boot.sh): Debian 12's
 * systemd (252) predates vmm.notify_socket (254).
 *
 *   vmm-notify-send [--stream] CID PORT MESSAGE
 *
 * MESSAGE is the "KEY=VALUE" lines, joined by newlines. Exit 0 when the
 * receiver took it and closed (the EOF systemd waits for), 1 otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "notify-sender.h"

/* Sends argv's message; see above. */
int main(int argc, char **argv)
{
	int type = SOCK_SEQPACKET;
	char err[256], *end;

	if (argc > 1 && strcmp(argv[1], "--stream") == 0) {
		type = SOCK_STREAM;
		argc--;
		argv++;
	}
	if (argc != 4) {
		fprintf(stderr, "usage: vmm-notify-send [--stream] CID PORT MESSAGE\n");
		return 2;
	}
	unsigned long cid = strtoul(argv[1], &end, 10), port = strtoul(argv[2], &end, 10);
	ssize_t n =
	    notify_sender_send(type, (unsigned int)cid, (unsigned int)port, argv[3], strlen(argv[3]), err, sizeof(err));
	if (n == -2) {
		fprintf(stderr, "vmm-notify-send: %s\n", err);
		return 1;
	}
	if (n != 0) {
		fprintf(stderr, "vmm-notify-send: the receiver did not close after the message (%s)\n",
		        n < 0 ? "timeout or error" : "it sent data");
		return 1;
	}
	return 0;
}
