/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* notify-addr.c - notify-listen addresses in systemd's spellings of the
 * vmm.notify_socket credential (see guests.c for which systemd version
 * uses which socket type) */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "notify-addr.h"

/* One socket-type prefix of systemd's address forms. */
struct notify_type {
	const char *prefix;
	int type;
};

/* "vsock:" is seqpacket: what systemd uses on virtio and vhost-vsock. */
static const struct notify_type notify_types[] = {
    {"vsock-seqpacket:", SOCK_SEQPACKET},
    {"vsock-stream:", SOCK_STREAM},
    {"vsock-dgram:", SOCK_DGRAM},
    {"vsock:", SOCK_SEQPACKET},
};

/* The socket type of notify-listen address TEXT and where its "vsock:"
 * form begins (in *REST), or -1. */
static int notify_type_of(const char *text, const char **rest)
{
	for (size_t i = 0; i < sizeof(notify_types) / sizeof(notify_types[0]); i++) {
		size_t n = strlen(notify_types[i].prefix);
		if (strncmp(text, notify_types[i].prefix, n) == 0) {
			*rest = text + n;
			return notify_types[i].type;
		}
	}
	return -1;
}

/* The prefix that names socket type TYPE. */
static const char *notify_type_prefix(int type)
{
	return type == SOCK_STREAM ? "vsock-stream:" : type == SOCK_DGRAM ? "vsock-dgram:" : "vsock-seqpacket:";
}

int notify_addr_parse(const char *text, struct udo_vsock_addr *a, char *why, size_t whylen)
{
	const char *rest;
	int type = notify_type_of(text, &rest);
	char buf[96];

	if (type < 0) {
		snprintf(
		    why, whylen,
		    "notify-listen: '%s': want vsock:CID:PORT, vsock-seqpacket:, vsock-stream: or vsock-dgram:", text);
		return -1;
	}
	snprintf(buf, sizeof(buf), "vsock:%s", rest);
	if (udo_vsock_addr_parse(a, buf, why, whylen) < 0)
		return -1;
	if (a->port == UINT32_MAX) {
		snprintf(why, whylen, "notify-listen: '%s' needs a port", text);
		return -1;
	}
	return type;
}

int notify_listen_parse(const char *text, char *canon, size_t canonlen, char *why, size_t whylen)
{
	struct udo_vsock_addr a;
	char vs[UDO_VSOCK_ADDR_STRLEN];
	int type = notify_addr_parse(text, &a, why, whylen);

	if (type < 0)
		return -1;
	udo_vsock_addr_format(&a, vs, sizeof(vs));
	snprintf(canon, canonlen, "%s%s", notify_type_prefix(type), vs + strlen("vsock:"));
	return 0;
}
