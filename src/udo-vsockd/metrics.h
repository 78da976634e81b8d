/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* metrics.h - per-command and per-peer counters, served in the Prometheus
 * text format on an opt-in local listener (`metrics-listen =`) */
#ifndef UDO_VSOCKD_METRICS_H
#define UDO_VSOCKD_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct request;
struct server;

/* Latency buckets of request_duration_seconds, in microseconds (+Inf
 * after the last). */
#define METRICS_NBUCKETS 16
/* One counter per error code of udo-vsock-protocol(7). */
#define METRICS_NCODES 10

/* The counters of one command name; kept for the daemon's lifetime, so
 * a reload does not reset them and requests in flight under an old
 * config count where the new one's do. */
struct metrics_command {
	uint64_t requests;
	uint64_t bytes_out;
	uint64_t errors[METRICS_NCODES];
	uint64_t buckets[METRICS_NBUCKETS + 1]; /* not cumulative; the last is +Inf */
	uint64_t sum_us;
	char name[40];
	struct metrics_command *next;
};

/* The request counter of one peer key ("cid:3"), or of every peer past
 * metrics-max-peers ("other"). */
struct metrics_peer {
	uint64_t requests;
	char key[80];
	struct metrics_peer *next;  /* in order of first request */
	struct metrics_peer *hnext; /* in its bucket */
};

/* Parses a metrics-listen value: tcp:ADDR:PORT with a loopback ADDR
 * (127.0.0.0/8, [::1] or localhost) or unix:PATH. Writes its canonical
 * text to CANON. Returns 0, or -1 with a message in WHY. */
int metrics_listen_parse(const char *text, char *canon, size_t canonlen, char *why, size_t whylen);

/* Sets up S's counters and, if CONF has metrics-listen, its endpoint.
 * Returns 0, or -1 after logging why. */
int metrics_start(struct server *s, struct config *conf);

/* Readies a reload to CONF: the counter slots of its commands, and a new
 * endpoint when metrics-listen changed. Returns 0, or -1 after logging
 * why; nothing in force has changed either way. */
int metrics_prepare(struct server *s, struct config *conf);

/* Puts what metrics_prepare readied in force (CONF is now S's config). */
void metrics_commit(struct server *s, struct config *conf);

/* Drops what metrics_prepare readied (the reload failed later). */
void metrics_abort(struct server *s);

/* Closes the endpoint and frees every counter. */
void metrics_free(struct server *s);

/* Notes REQ's counter slots as it starts (its cmd NULL: denied or
 * unknown), its peer's found once per connection through
 * REQ->metrics_slot; called only while S->metrics_counting. */
void metrics_request_begin(struct request *req);

/* Counts REQ as ended with STATUS and CODE (an ERR's). */
void metrics_request_end(struct request *req, const char *status, const char *code);

/* The number of exec jobs running (kinds/exec.c). */
unsigned int exec_running_jobs(void);

/* How many detached jobs run (jobs.c). */
unsigned int jobs_running(void);

#endif /* UDO_VSOCKD_METRICS_H */
