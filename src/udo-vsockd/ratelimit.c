/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ratelimit.c - per-peer rate limit of the log lines a peer can cause.
 *
 * A guest that pipelines 100,000 denied requests would otherwise write
 * 100,000 journal lines, trip journald's own rate limit and hide other
 * messages. State is a fixed table (RATELIMIT_SETS x RATELIMIT_WAYS
 * peers), so memory is bounded whatever the number of peers. */
#include "ratelimit.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include <event2/event.h>

#include "log.h"
#include "util.h"

/* One class of messages: what its reports call them and the settings
 * that limit them. */
struct rl_class {
	int audit; /* the class: notify messages (2), audit entries (1) or notices (0) */
	const char *what;
	const char *burst_key;
	const char *interval_key;
};

static const struct rl_class rl_notices = {0, "log messages", "log-peer-burst", "log-peer-interval"};
static const struct rl_class rl_audit = {1, "audit entries", "audit-burst", "audit-interval"};
static const struct rl_class rl_notify = {2, "notify messages", "notify-burst", "notify-interval"};

/* One peer's window, for one class of messages (the part the inline
 * fast path reads first: ratelimit.h). */
struct rl_entry {
	struct rl_window w;
	char key[80];  /* "" : free */
	uint32_t hash; /* util_fnv1a(key): most mismatches cost no strcmp */
	int audit;     /* the class: notify messages (2), audit entries (1) or notices (0) */
	char text[80];
	uint32_t cid;
	const char *what;      /* "log messages", "audit entries" */
	const char *burst_key; /* the setting of the limit, for the messages */
};

static struct rl_entry table[RATELIMIT_SETS][RATELIMIT_WAYS];

uint64_t ratelimit_uses;

/* Entries given a key so far: an entry's gen tells a ratelimit_cache
 * whether it still holds the key it was found under (never 0). */
static uint64_t rl_gens;

/* HASH (FNV-1a of the key) reduced to a set; the classes of one peer go
 * to different sets. */
static unsigned int rl_set(uint32_t hash, int audit)
{
	return (hash + (unsigned int)audit) % RATELIMIT_SETS;
}

/* Logs how many messages about E were suppressed, if any, and clears it. */
static void rl_report(struct rl_entry *e)
{
	if (e->w.suppressed == 0)
		return;
	log_peer(LOG_LEVEL_NOTICE, e->text, e->cid, NULL, "%llu %s about this peer suppressed (%s)", e->w.suppressed,
	         e->what, e->burst_key);
	e->w.suppressed = 0;
}

/* A new entry for KEY (of HASH) in class AUDIT in SET, evicting the
 * least recently seen peer there. Apart from rl_find: once per peer. */
static __attribute__((noinline)) struct rl_entry *rl_add(struct rl_entry *set, const char *key, uint32_t hash,
                                                         int audit, uint64_t now)
{
	struct rl_entry *victim = &set[0];

	for (int i = 0; i < RATELIMIT_WAYS; i++) {
		if (set[i].key[0] == '\0' || (victim->key[0] != '\0' && set[i].w.last_use < victim->w.last_use))
			victim = &set[i];
	}
	rl_report(victim);
	memset(victim, 0, sizeof(*victim));
	snprintf(victim->key, sizeof(victim->key), "%s", key);
	victim->hash = hash;
	victim->audit = audit;
	victim->w.window_start = now;
	victim->w.gen = ++rl_gens;
	return victim;
}

/* The entry of KEY (of HASH) in class AUDIT, or a new one in its set. */
static inline struct rl_entry *rl_find(const char *key, uint32_t hash, int audit, uint64_t now)
{
	struct rl_entry *set = table[rl_set(hash, audit)];

	for (int i = 0; i < RATELIMIT_WAYS; i++) {
		if (set[i].hash == hash && set[i].audit == audit && strcmp(set[i].key, key) == 0)
			return &set[i];
	}
	return rl_add(set, key, hash, audit, now);
}

/* E's window is over (or the clock went back): reports what it
 * suppressed and starts a new one at NOW. */
static __attribute__((noinline)) void rl_new_window(struct rl_entry *e, uint64_t now)
{
	rl_report(e);
	e->w.window_start = now;
	e->w.count = 0;
}

/* The first message of E's window, of class CLS about PEER_TEXT, CID:
 * notes what the window's report names. */
static __attribute__((noinline)) void rl_first(struct rl_entry *e, const struct rl_class *cls, const char *peer_text,
                                               uint32_t cid)
{
	e->what = cls->what;
	e->burst_key = cls->burst_key;
	snprintf(e->text, sizeof(e->text), "%s", peer_text);
	e->cid = cid;
}

/* The first message E suppresses in its window: says suppression began. */
static __attribute__((noinline)) void rl_suppressing(const struct rl_class *cls, const char *peer_text, uint32_t cid,
                                                     unsigned int burst, unsigned int interval_ms)
{
	log_peer(LOG_LEVEL_NOTICE, peer_text, cid, NULL,
	         "more than %u %s about this peer in %u ms: suppressing them for the rest of it (%s, %s)", burst,
	         cls->what, interval_ms, cls->burst_key, cls->interval_key);
}

/* Whether one more message of class CLS about the peer of entry E may
 * be logged at NOW (ms): see log_ratelimit_at. Inlined into its
 * callers, where the class is a constant; what runs once a window or
 * once a peer is out of line. */
static inline __attribute__((always_inline)) int rl_judge(struct rl_entry *e, uint64_t now, const struct rl_class *cls,
                                                          const char *peer_text, uint32_t cid, unsigned int burst,
                                                          unsigned int interval_ms)
{
	e->w.last_use = ++ratelimit_uses;
	/* A time before the window's start (libevent's cached time steps
	 * back by a few ms each time it resyncs with the wall clock; an
	 * operator sets the clock back; a long request is audited at its
	 * start, after shorter ones) moves the start, not the count: the
	 * window still lasts INTERVAL_MS, and a step is never a new burst. */
	if (now < e->w.window_start)
		e->w.window_start = now;
	else if (now - e->w.window_start >= interval_ms)
		rl_new_window(e, now);
	if (e->w.count < burst) {
		/* Once a window (this runs per request): what its report names. */
		if (e->w.count == 0)
			rl_first(e, cls, peer_text, cid);
		e->w.count++;
		return 1;
	}
	if (e->w.suppressed++ == 0)
		rl_suppressing(cls, peer_text, cid, burst, interval_ms);
	return 0;
}

/* Whether the message of class CLS about the peer of KEY (of HASH) may
 * be logged at NOW (ms): rl_judge of its entry. */
static inline __attribute__((always_inline)) int ratelimit(uint64_t now, const char *key, uint32_t hash,
                                                           const struct rl_class *cls, const char *peer_text,
                                                           uint32_t cid, unsigned int burst, unsigned int interval_ms)
{
	if (burst == 0)
		return 1;
	return rl_judge(rl_find(key, hash, cls->audit, now), now, cls, peer_text, cid, burst, interval_ms);
}

/* BASE's cached time of this loop pass, in ms (the wall clock without a
 * BASE, or when BASE has none cached). */
static inline uint64_t rl_now(struct event_base *base)
{
	struct timeval tv;

	if (base == NULL || event_base_gettimeofday_cached(base, &tv) < 0)
		gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

int log_ratelimit_at(uint64_t now_ms, const char *key, const char *peer_text, uint32_t cid, unsigned int burst,
                     unsigned int interval_ms)
{
	return ratelimit(now_ms, key, util_fnv1a(key), &rl_notices, peer_text, cid, burst, interval_ms);
}

int log_ratelimit(struct event_base *base, const char *key, const char *peer_text, uint32_t cid, unsigned int burst,
                  unsigned int interval_ms)
{
	if (burst == 0)
		return 1;
	return log_ratelimit_at(rl_now(base), key, peer_text, cid, burst, interval_ms);
}

int audit_ratelimit_at(uint64_t now_ms, const char *key, uint32_t hash, const char *peer_text, uint32_t cid,
                       unsigned int burst, unsigned int interval_ms)
{
	/* The same table, a class of its own: a separate window. */
	return ratelimit(now_ms, key, hash, &rl_audit, peer_text, cid, burst, interval_ms);
}

int audit_ratelimit_judge(struct ratelimit_cache *cache, uint64_t now_ms, const char *key, uint32_t hash,
                          const char *peer_text, uint32_t cid, unsigned int burst, unsigned int interval_ms)
{
	/* The window is an entry's first member. */
	struct rl_entry *e = (struct rl_entry *)cache->entry;

	if (burst == 0)
		return 1;
	/* Still KEY's entry unless given to another key since (or flushed). */
	if (e == NULL || e->w.gen != cache->gen) {
		e = rl_find(key, hash, rl_audit.audit, now_ms);
		cache->entry = &e->w;
		cache->gen = e->w.gen;
	}
	return rl_judge(e, now_ms, &rl_audit, peer_text, cid, burst, interval_ms);
}

int notify_ratelimit_at(uint64_t now_ms, const char *key, const char *peer_text, uint32_t cid, unsigned int burst,
                        unsigned int interval_ms)
{
	/* The same table, a class of its own: a separate window. */
	return ratelimit(now_ms, key, util_fnv1a(key), &rl_notify, peer_text, cid, burst, interval_ms);
}

void log_ratelimit_flush(void)
{
	for (int s = 0; s < RATELIMIT_SETS; s++) {
		for (int w = 0; w < RATELIMIT_WAYS; w++)
			rl_report(&table[s][w]);
	}
	memset(table, 0, sizeof(table));
}
