/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* dispatch.h - from a parsed request to its command's handler */
#ifndef UDO_VSOCKD_DISPATCH_H
#define UDO_VSOCKD_DISPATCH_H

#include "conf.h"
#include "handler.h"

/* Looks up ARGV[0] in the config in force, checks access and arity, and
 * runs the handler on REQ, whose connection has set its server, conn,
 * ops, peer and peer key; every failure is answered with its ERR line.
 * Returns what run() returned, or REQ_DONE for a refusal. */
enum req_status dispatch_request(struct request *req, int argc, char **argv);

/* True if the access list ACL allows PEER (first match decides, no match
 * denies). */
int access_list_allows(const struct acl_entry *acl, const struct peer *peer);

/* True if PEER may run CMD under CONF's access rules. Inline: every
 * request asks, and `allow = any` first decides at once. */
static inline int access_allows(const struct config *conf, const struct command *cmd, const struct peer *peer)
{
	const struct acl_entry *acl = cmd->acl != NULL ? cmd->acl : conf->default_acl;

	/* A first entry for any peer (allow = any) decides at once. */
	if (acl != NULL && acl->any)
		return acl->allow;
	return access_list_allows(acl, peer);
}

#endif /* UDO_VSOCKD_DISPATCH_H */
