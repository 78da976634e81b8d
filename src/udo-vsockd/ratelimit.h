/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ratelimit.h - per-peer rate limit of the log lines a peer can cause */
#ifndef UDO_VSOCKD_RATELIMIT_H
#define UDO_VSOCKD_RATELIMIT_H

#include <stddef.h>
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

/* The start of a peer's window (ratelimit.c's entry): what the inline
 * fast path of audit_ratelimit_cached reads and counts. */
struct rl_window {
	uint64_t gen;          /* when it took its key (of all takings so far; 0: flushed) */
	uint64_t window_start; /* ms */
	uint64_t last_use;     /* ratelimit_uses when last asked about: eviction order */
	unsigned int count;    /* logged in this window */
	unsigned long long suppressed;
};

/* Questions asked so far: the order of use that eviction follows,
 * whatever clock each class's windows are on (ratelimit.c). */
extern uint64_t ratelimit_uses;

/* Where a peer's audit window was found, kept by its caller (zeroed:
 * nothing yet) so that asking again skips the table's lookup and key
 * comparison. Valid for one key only: zero it when the key changes. */
struct ratelimit_cache {
	struct rl_window *entry;
	uint64_t gen; /* ENTRY's generation when found */
};

/* audit_ratelimit_cached past its fast path: finds KEY's entry when
 * CACHE does not hold it (and fills CACHE), and judges. */
int audit_ratelimit_judge(struct ratelimit_cache *cache, uint64_t now_ms, const char *key, uint32_t hash,
                          const char *peer_text, uint32_t cid, unsigned int burst, unsigned int interval_ms);

/* The fast path of a busy peer: if CACHE holds its entry, past its
 * burst (BURST, not 0) in a window that goes on at NOW_MS
 * (INTERVAL_MS) and suppression already said, counts one more
 * suppressed and returns 1. Else returns 0 and changes nothing. */
static inline int ratelimit_cached_suppresses(struct ratelimit_cache *cache, uint64_t now_ms, unsigned int burst,
                                              unsigned int interval_ms)
{
	struct rl_window *w = cache->entry;

	if (w == NULL || w->gen != cache->gen || burst == 0 || w->count < burst || w->suppressed == 0 ||
	    now_ms < w->window_start || now_ms - w->window_start >= interval_ms)
		return 0;
	w->last_use = ++ratelimit_uses;
	w->suppressed++;
	return 1;
}

/* audit_ratelimit_at through CACHE, which holds KEY's entry or nothing
 * (and then is filled): its fast path inline. */
static inline int audit_ratelimit_cached(struct ratelimit_cache *cache, uint64_t now_ms, const char *key, uint32_t hash,
                                         const char *peer_text, uint32_t cid, unsigned int burst,
                                         unsigned int interval_ms)
{
	if (ratelimit_cached_suppresses(cache, now_ms, burst, interval_ms))
		return 0;
	return audit_ratelimit_judge(cache, now_ms, key, hash, peer_text, cid, burst, interval_ms);
}

/* log_ratelimit_at for the sd_notify messages a guest's systemd sends
 * (guests.c): whether one more may be taken now (notify-burst,
 * notify-interval), a window of its own. */
int notify_ratelimit_at(uint64_t now_ms, const char *key, const char *peer_text, uint32_t cid, unsigned int burst,
                        unsigned int interval_ms);

/* Logs every count still suppressed and forgets all peers (at exit). */
void log_ratelimit_flush(void);

#endif /* UDO_VSOCKD_RATELIMIT_H */
