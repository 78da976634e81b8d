/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* audit.h - one structured log entry per request (`audit =`) */
#ifndef UDO_VSOCKD_AUDIT_H
#define UDO_VSOCKD_AUDIT_H

struct request;

/* Notes the start of REQ (dispatched, its command known or not) for its
 * audit entry: the time, and the quoted arguments when its command has
 * audit-args. Cheap when the config's audit is none. */
void audit_begin(struct request *req);

/* Writes REQ's audit entry, if the config it was dispatched under asks
 * for one and the peer's audit-burst allows: STATUS is "OK", "ERR" (with
 * CODE) or "CANCELLED". Frees what audit_begin kept. */
void audit_end(struct request *req, const char *status, const char *code);

#endif /* UDO_VSOCKD_AUDIT_H */
