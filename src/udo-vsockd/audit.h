/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* audit.h - one structured log entry per request (`audit =`) */
#ifndef UDO_VSOCKD_AUDIT_H
#define UDO_VSOCKD_AUDIT_H

#include "conf.h"
#include "handler.h"

/* audit_begin under a config whose audit is not none (audit.c). */
void audit_begin_some(struct request *req);

/* Notes the start of REQ (dispatched, its command known or not) for its
 * audit entry: the time, and the quoted arguments when its command has
 * audit-args. Inline: a few stores when the config's audit is none. */
static inline void audit_begin(struct request *req)
{
	req->audit_args = NULL;
	req->audit_hold = 0;
	req->audit_command[0] = '\0';
	if (req->config->audit != AUDIT_NONE)
		audit_begin_some(req);
}

/* audit_end of a request that began an entry or holds one. */
void audit_end_begun(struct request *req, const char *status, const char *code);

/* Writes REQ's audit entry, if the config it was dispatched under asks
 * for one and the peer's audit-burst allows: STATUS is "OK", "ERR" (with
 * CODE) or "CANCELLED". Frees what audit_begin kept. */
static inline void audit_end(struct request *req, const char *status, const char *code)
{
	/* Nothing begun (audit = none) nor held: nothing to write or free. */
	if (req->audit_command[0] == '\0' && req->audit_args == NULL && !req->audit_hold)
		return;
	audit_end_begun(req, status, code);
}

#endif /* UDO_VSOCKD_AUDIT_H */
