/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kinds/announce.c - ANNOUNCE [name=HOSTNAME] boot-id=ID [machine-id=ID]:
 * a guest tells its host who it is (the guest side: announce.c). It is
 * recorded for the CID the kernel reported for the connection, never one
 * the client names, and shown by GUESTS. The announced name is only
 * information: access rules go by the CID and the config's names. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "../guests.h"
#include "../handler.h"
#include "../proto.h"
#include "../request.h"

/* True if S (LEN bytes) is a host name: 1 to 64 letters, digits, '-'
 * and '.', not beginning with '-' or '.'. */
static int valid_name(const char *s, size_t len)
{
	if (len == 0 || len > 64 || s[0] == '-' || s[0] == '.')
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.')
			return 0;
	}
	return 1;
}

/* Writes ID (32 hex digits, or a UUID 8-4-4-4-12) to OUT as 32 lowercase
 * hex digits. Returns 0, or -1 if ID is neither. */
static int normalize_id(const char *id, char out[33])
{
	size_t len = strlen(id), n = 0;
	int uuid = len == 36;

	if (len != 32 && !uuid)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (uuid && (i == 8 || i == 13 || i == 18 || i == 23)) {
			if (id[i] != '-')
				return -1;
			continue;
		}
		if (!isxdigit((unsigned char)id[i]))
			return -1;
		out[n++] = (char)tolower((unsigned char)id[i]);
	}
	out[n] = '\0';
	return 0;
}

/* Takes the KEY=VALUE words, checks them and records them. */
static enum req_status announce_run(struct request *req)
{
	const struct peer *p = req->peer;
	const char *name = NULL, *boot = NULL, *machine = NULL;
	char boot_id[33], machine_id[33] = "";

	if (p->transport == UDO_VSOCK_ADDR_UNIX) {
		request_err(req, PROTO_ERR_DENIED, "ANNOUNCE is for guests: a unix peer has no CID");
		return REQ_DONE;
	}
	for (int i = 1; i < req->argc; i++) {
		const char *w = req->argv[i];
		const char **slot = strncmp(w, "name=", 5) == 0          ? &name
		                    : strncmp(w, "boot-id=", 8) == 0     ? &boot
		                    : strncmp(w, "machine-id=", 11) == 0 ? &machine
		                                                         : NULL;
		if (slot == NULL || *slot != NULL) {
			request_err(req, PROTO_ERR_USAGE, "%s word %d: want each of name=, boot-id=, machine-id= once",
			            slot == NULL ? "unknown" : "repeated", i);
			return REQ_DONE;
		}
		*slot = strchr(w, '=') + 1;
	}
	if (name != NULL && !valid_name(name, strlen(name))) {
		request_err(req, PROTO_ERR_USAGE, "name=: want a host name (letters, digits, '-', '.'; up to 64)");
		return REQ_DONE;
	}
	if (boot == NULL || normalize_id(boot, boot_id) < 0) {
		request_err(req, PROTO_ERR_USAGE, "boot-id=: want 32 hex digits or a UUID");
		return REQ_DONE;
	}
	if (machine != NULL && normalize_id(machine, machine_id) < 0) {
		request_err(req, PROTO_ERR_USAGE, "machine-id=: want 32 hex digits or a UUID");
		return REQ_DONE;
	}
	if (guests_announce(req->server, p->cid, name != NULL ? name : "", boot_id, machine_id) == NULL) {
		request_err(req, PROTO_ERR_INTERNAL, "cannot record the announce");
		return REQ_DONE;
	}
	/* The guest learns how its host sees it. */
	if (p->name[0] != '\0')
		request_ok(req, "cid=%u name=%s", p->cid, p->name);
	else
		request_ok(req, "cid=%u", p->cid);
	return REQ_DONE;
}

const struct handler_kind handler_announce = {
    .name = "announce",
    .min_args = 1,
    .max_args = 3,
    .usage = "[name=HOSTNAME] boot-id=ID [machine-id=ID]",
    .summary = "record who this guest says it is (shown by GUESTS; not its identity)",
    .run = announce_run,
};
