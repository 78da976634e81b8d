/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* access.c - per-command access control by peer CID, unix identity or
 * [peer] name */
#include <fnmatch.h>
#include <string.h>

#include "conf.h"
#include "dispatch.h"

/* True if ENTRY names PEER. */
static int acl_entry_matches(const struct acl_entry *e, const struct peer *peer)
{
	if (e->any)
		return 1;
	if (e->name != NULL) /* PEER's name was looked up at accept or reload */
		return peer->name[0] != '\0' &&
		       (e->glob ? fnmatch(e->name, peer->name, 0) == 0 : strcmp(e->name, peer->name) == 0);
	if (e->identity != NULL)
		return peer->transport == UDO_VSOCK_ADDR_UNIX && strcmp(e->identity, peer->identity) == 0;
	return peer->transport != UDO_VSOCK_ADDR_UNIX && peer->cid >= e->cid_low && peer->cid <= e->cid_high;
}

int access_list_allows(const struct acl_entry *acl, const struct peer *peer)
{
	/* The first matching entry decides; no match denies. */
	for (const struct acl_entry *e = acl; e != NULL; e = e->next) {
		if (acl_entry_matches(e, peer))
			return e->allow;
	}
	return 0;
}
