/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fsfreeze.h - the daemon's frozen filesystems (FIFREEZE/FITHAW): one
 * freeze at a time, daemon-wide, always under an auto-thaw timer */
#ifndef UDO_VSOCKD_FSFREEZE_H
#define UDO_VSOCKD_FSFREEZE_H

#include <stddef.h>
#include <stdint.h>

struct event_base;

/* Filesystems one freeze may hold; the default list is cut there too. */
#define FSFREEZE_MAX 64

/* The auto-thaw bounds (ms): never 0, at most 10 minutes. */
#define FSFREEZE_AUTO_THAW_MIN     1000
#define FSFREEZE_AUTO_THAW_MAX     600000
#define FSFREEZE_AUTO_THAW_DEFAULT 60000

/* What FROZEN reports. */
struct fsfreeze_status {
	int frozen;            /* filesystems frozen now */
	uint64_t remaining_ms; /* until the auto-thaw; 0 when none are */
	uint64_t freezes, thaws, auto_thaws, failures;
};

/* Freezes the NPATHS mount points PATHS (NPATHS 0: every read-write
 * filesystem on a block device in /proc/self/mountinfo), the last first,
 * one superblock once, and arms the auto-thaw after AUTO_THAW_MS on
 * BASE. Already frozen, or any one failing (the others are thawed
 * again): -1 with the reason in WHY, and *BUSY set when it is the
 * former. Returns how many were frozen. */
int fsfreeze_freeze(struct event_base *base, char *const *paths, int npaths, unsigned int auto_thaw_ms, int *busy,
                    char *why, size_t whylen);

/* Thaws every filesystem this daemon froze, in the order they were
 * frozen in reverse, logging WHY ("thaw", "auto-thaw", "reload",
 * "stop"). Returns how many were thawed; 0 when none were frozen. */
int fsfreeze_thaw_all(const char *why);

/* At start: thaws what an earlier daemon froze and could not thaw (it
 * was killed), as its record in $RUNTIME_DIRECTORY says (kept across a
 * restart by RuntimeDirectoryPreserve=restart), and removes the record.
 * Returns how many were thawed. */
int fsfreeze_recover(void);

/* Thaws what is frozen ("stop") and frees the timer: before the event
 * base goes. */
void fsfreeze_free(void);

/* The mount point of the Ith frozen filesystem (freeze order), or NULL. */
const char *fsfreeze_path(int i);

/* Fills *ST. */
void fsfreeze_get_status(struct fsfreeze_status *st);

#endif /* UDO_VSOCKD_FSFREEZE_H */
