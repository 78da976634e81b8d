/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ratelimit.h - per-peer rate limit of the log lines a peer can cause */
#ifndef UDO_VSOCKD_RATELIMIT_H
#define UDO_VSOCKD_RATELIMIT_H

#include <stdint.h>

struct event_base;

/* Peers whose state is kept: 256 sets of 4 (the least recently seen of a
 * set makes room for a new peer, after logging what it suppressed). */
#define RATELIMIT_SETS 256
#define RATELIMIT_WAYS 4

/*
 * Whether a notice about the peer with key KEY ("cid:N", "unix:ID") may
 * be logged now: at most BURST in each window of INTERVAL_MS per peer
 * (BURST 0: no limit), like the kernel's printk_ratelimit. The first
 * message past the burst logs that suppression began; the first one of
 * a later window logs how many were suppressed (as PEER_TEXT, CID).
 * BASE gives the (cached) time. Returns 1 to log, 0 to stay silent.
 */
int log_ratelimit(struct event_base *base, const char *key, const char *peer_text, uint32_t cid, unsigned int burst,
                  unsigned int interval_ms);

/* log_ratelimit at the time NOW_MS (ms, of any clock that mostly moves
 * forward): a step back keeps the window and its count. */
int log_ratelimit_at(uint64_t now_ms, const char *key, const char *peer_text, uint32_t cid, unsigned int burst,
                     unsigned int interval_ms);

/* log_ratelimit_at for the audit entries of KEY's peer (HASH: util_fnv1a
 * of KEY, which callers keep), at NOW_MS of the monotonic clock: a
 * window of its own (audit-burst, audit-interval), apart from the
 * notices'. */
int audit_ratelimit_at(uint64_t now_ms, const char *key, uint32_t hash, const char *peer_text, uint32_t cid,
                       unsigned int burst, unsigned int interval_ms);

/* log_ratelimit_at for the sd_notify messages a guest's systemd sends
 * (guests.c): whether one more may be taken now (notify-burst,
 * notify-interval), a window of its own. */
int notify_ratelimit_at(uint64_t now_ms, const char *key, const char *peer_text, uint32_t cid, unsigned int burst,
                        unsigned int interval_ms);

/* Logs every count still suppressed and forgets all peers (at exit). */
void log_ratelimit_flush(void);

#endif /* UDO_VSOCKD_RATELIMIT_H */
