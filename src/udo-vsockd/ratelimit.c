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

/* One peer's window, for one class of messages. */
struct rl_entry {
	char key[80]; /* "" : free */
	int audit;    /* the class: audit entries (1) or notices (0) */
	char text[80];
	uint32_t cid;
	uint64_t window_start; /* ms */
	uint64_t last_seen;    /* ms, for eviction */
	unsigned int count;    /* logged in this window */
	unsigned long long suppressed;
	const char *what;      /* "log messages", "audit entries" */
	const char *burst_key; /* the setting of the limit, for the messages */
};

static struct rl_entry table[RATELIMIT_SETS][RATELIMIT_WAYS];

/* HASH (FNV-1a of the key) reduced to a set; the classes of one peer go
 * to different sets. */
static unsigned int rl_set(uint32_t hash, int audit)
{
	return (hash + (unsigned int)audit) % RATELIMIT_SETS;
}

/* Logs how many messages about E were suppressed, if any, and clears it. */
static void rl_report(struct rl_entry *e)
{
	if (e->suppressed == 0)
		return;
	log_peer(LOG_LEVEL_NOTICE, e->text, e->cid, NULL, "%llu %s about this peer suppressed (%s)", e->suppressed,
	         e->what, e->burst_key);
	e->suppressed = 0;
}

/* The entry of KEY (of HASH) in class AUDIT, or a new one in its set (evicting the
 * least recently seen peer there). */
static struct rl_entry *rl_find(const char *key, uint32_t hash, int audit, uint64_t now)
{
	struct rl_entry *set = table[rl_set(hash, audit)], *victim = &set[0];

	for (int i = 0; i < RATELIMIT_WAYS; i++) {
		if (set[i].audit == audit && strcmp(set[i].key, key) == 0)
			return &set[i];
		if (set[i].key[0] == '\0' || (victim->key[0] != '\0' && set[i].last_seen < victim->last_seen))
			victim = &set[i];
	}
	rl_report(victim);
	memset(victim, 0, sizeof(*victim));
	snprintf(victim->key, sizeof(victim->key), "%s", key);
	victim->audit = audit;
	victim->window_start = now;
	return victim;
}

/* Whether the message of WHAT (limited by the settings BURST_KEY and
 * INTERVAL_KEY) about the peer of KEY may be logged now, in class AUDIT
 * (audit entries) or not (notices): see log_ratelimit. */
static int ratelimit(struct event_base *base, const char *key, uint32_t hash, int audit, const char *peer_text,
                     uint32_t cid, unsigned int burst, unsigned int interval_ms, const char *what,
                     const char *burst_key, const char *interval_key)
{
	struct timeval tv;

	if (burst == 0)
		return 1;
	if (base == NULL || event_base_gettimeofday_cached(base, &tv) < 0)
		gettimeofday(&tv, NULL);
	uint64_t now = (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
	struct rl_entry *e = rl_find(key, hash, audit, now);
	e->last_seen = now;
	/* A clock that went back starts a new window too. */
	if (now - e->window_start >= interval_ms || now < e->window_start) {
		rl_report(e);
		e->window_start = now;
		e->count = 0;
	}
	if (e->count == 0) {
		/* Once a window (this runs per request): what its report names. */
		e->what = what;
		e->burst_key = burst_key;
		snprintf(e->text, sizeof(e->text), "%s", peer_text);
		e->cid = cid;
	}
	if (e->count < burst) {
		e->count++;
		return 1;
	}
	if (e->suppressed++ == 0)
		log_peer(LOG_LEVEL_NOTICE, peer_text, cid, NULL,
		         "more than %u %s about this peer in %u ms: suppressing them for the rest of it (%s, %s)",
		         burst, what, interval_ms, burst_key, interval_key);
	return 0;
}

int log_ratelimit(struct event_base *base, const char *key, const char *peer_text, uint32_t cid, unsigned int burst,
                  unsigned int interval_ms)
{
	return ratelimit(base, key, util_fnv1a(key), 0, peer_text, cid, burst, interval_ms, "log messages",
	                 "log-peer-burst", "log-peer-interval");
}

int audit_ratelimit(struct event_base *base, const char *key, uint32_t hash, const char *peer_text, uint32_t cid,
                    unsigned int burst, unsigned int interval_ms)
{
	/* The same table, a class of its own: a separate window. */
	return ratelimit(base, key, hash, 1, peer_text, cid, burst, interval_ms, "audit entries", "audit-burst",
	                 "audit-interval");
}

void log_ratelimit_flush(void)
{
	for (int s = 0; s < RATELIMIT_SETS; s++) {
		for (int w = 0; w < RATELIMIT_WAYS; w++)
			rl_report(&table[s][w]);
	}
	memset(table, 0, sizeof(table));
}
