/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* guests.h - the guests' own systemd reporting to us (`notify-listen`):
 * systemd's VM interface, the vmm.notify_socket credential */
#ifndef UDO_VSOCKD_GUESTS_H
#define UDO_VSOCKD_GUESTS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct server;
struct config;

/* A recorded value is cut to this many bytes. */
#define GUEST_VALUE_MAX 128

/* The fields recorded per guest, in GUESTS order. */
enum guest_field {
	GUEST_READY,
	GUEST_STATUS,
	GUEST_UNIT_ACTIVE,
	GUEST_SHUTDOWN,
	GUEST_EXIT_STATUS,
	GUEST_NFIELDS,
};

/* What one guest has told us. */
struct guest {
	uint32_t cid;
	time_t last;                /* the last message taken (wall clock) */
	time_t when[GUEST_NFIELDS]; /* when each field was last received; 0: never */
	char value[GUEST_NFIELDS][GUEST_VALUE_MAX + 1];
	unsigned int seen; /* the fields of the last message taken: 1 << field */
	int hooked;        /* the last hook event: 0 none, 1 ready, 2 shutdown */
	/* What the guest said of itself with ANNOUNCE (kinds/announce.c):
	 * informational only, never its identity. */
	time_t announced; /* when; 0: never */
	char announced_name[64 + 1];
	char boot_id[32 + 1];      /* 32 lowercase hex digits */
	char machine_id[32 + 1];   /* the same, or "" if not sent */
	struct guest *prev, *next; /* most recently heard first */
};

/* Messages the receiver did not take, and guests forgotten. */
struct guests_counts {
	unsigned long long messages;      /* taken */
	unsigned long long oversized;     /* longer than notify-max-message: dropped */
	unsigned long long rate_limited;  /* over notify-burst: dropped */
	unsigned long long rejected;      /* connections over notify-max-connections */
	unsigned long long timed_out;     /* connections open longer than notify-timeout */
	unsigned long long evicted;       /* guests forgotten for notify-max-guests */
	unsigned long long unprivileged;  /* from a port above 1023 without notify-any-port */
	unsigned long long hooks;         /* guest hooks started */
	unsigned long long hooks_dropped; /* not started: guest-max-hooks running, or failed */
};

/* Every guest heard from, and the counts. */
struct guest_table {
	struct guest *head, *tail;
	unsigned int n;
	struct guests_counts counts;
};

/* The systemd name of field F ("READY", ...). */
const char *guest_field_key(enum guest_field f);

/* Takes one notify message of LEN bytes from CID at NOW into T (keeping
 * at most MAX_GUESTS guests, the least recently heard forgotten first).
 * For each field whose value changes, calls CHANGED(ARG, G, FIELD).
 * Returns the guest, or NULL when out of memory. */
struct guest *guest_table_take(struct guest_table *t, unsigned int max_guests, uint32_t cid, const char *msg,
                               size_t len, time_t now, void (*changed)(void *arg, const struct guest *g, int field),
                               void *arg);

/* Records S's guest CID's announce (NAME, and BOOT_ID and MACHINE_ID as
 * 32 lowercase hex digits, MACHINE_ID possibly ""), logging a changed
 * boot id and a machine id seen under another CID before. Returns the
 * guest, or NULL when out of memory. */
const struct guest *guests_announce(struct server *s, uint32_t cid, const char *name, const char *boot_id,
                                    const char *machine_id);

/* The guest of CID in T, or NULL. */
const struct guest *guest_table_find(const struct guest_table *t, uint32_t cid);

/* Forgets every guest of T. */
void guest_table_clear(struct guest_table *t);

/* Opens, keeps or closes S's notify listeners to match CONF (at start
 * and after a reload); the guests are kept. Returns 0, or -1 after
 * logging why (the listeners that opened stay). */
int guests_configure(struct server *s, const struct config *conf);

/* Starts (ENABLED) or stops accepting on S's stream and seqpacket notify
 * listeners: listeners_follow_pause() stops them while descriptors are
 * short. */
void guests_set_accepting(struct server *s, int enabled);

/* The guests S has heard from (never NULL once guests_configure ran). */
const struct guest_table *guests_table(const struct server *s);

/* Closes the notify listeners and connections, kills the hooks still
 * running and forgets the guests. */
void guests_free(struct server *s);

#endif /* UDO_VSOCKD_GUESTS_H */
