/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* announce.h - a guest tells its host who it is (`announce =`) */
#ifndef UDO_VSOCKD_ANNOUNCE_H
#define UDO_VSOCKD_ANNOUNCE_H

struct server;
struct config;

/* Announces this guest to CONF's `announce` address now (at start, after
 * READY, and after each reload), retrying with backoff until the host
 * answers, and again whenever a resume is seen; stops announcing when
 * CONF has no `announce`. */
void announce_configure(struct server *s, const struct config *conf);

/* Stops announcing and frees what it holds. */
void announce_free(void);

#endif /* UDO_VSOCKD_ANNOUNCE_H */
