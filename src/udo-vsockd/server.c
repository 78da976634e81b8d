/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* server.c - daemon-wide state: accepting, per-peer counts, scratch */
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "log.h"
#include "util.h"

uint64_t server_uptime_ms(const struct server *s)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - s->stats.started.tv_sec) * 1000 +
	       (uint64_t)((now.tv_nsec - s->stats.started.tv_nsec) / 1000000);
}

uint64_t server_turn_us(struct server *s)
{
	if (s->turn_us == 0)
		s->turn_us = util_monotonic_us();
	return s->turn_us;
}

void server_pause_accepting(struct server *s, enum accept_pause reason)
{
	int was = s->accept_paused;

	if (!(s->accept_paused & reason))
		log_info("accepting paused: %s",
		         reason == ACCEPT_PAUSE_LIMIT ? "max-connections reached" : "out of file descriptors");
	s->accept_paused |= (int)reason;
	if (s->accept_paused != was)
		listeners_follow_pause(s);
	if (reason == ACCEPT_PAUSE_NOFILE) {
		/* Try again later, or sooner when a connection closes. */
		unsigned int ms = s->config->limits.accept_pause_ms;
		struct timeval tv = util_timeval_ms(ms);
		evtimer_add(s->accept_timer, &tv);
	}
}

void server_resume_accepting(struct server *s, enum accept_pause reason)
{
	int was = s->accept_paused;

	if (s->accept_paused == 0)
		return;
	if ((reason & ACCEPT_PAUSE_LIMIT) && s->nconns < s->config->limits.max_connections)
		s->accept_paused &= ~ACCEPT_PAUSE_LIMIT;
	if (reason & ACCEPT_PAUSE_NOFILE) {
		s->accept_paused &= ~ACCEPT_PAUSE_NOFILE;
		evtimer_del(s->accept_timer);
	}
	if (s->accept_paused == was || s->stopping)
		return;
	if (s->accept_paused == 0)
		log_info("accepting resumed");
	listeners_follow_pause(s);
}

/* FNV-1a hash of KEY, for the per-peer table. */
static size_t peer_hash(const char *key)
{
	return util_fnv1a(key) % PEER_COUNT_BUCKETS;
}

unsigned int peer_count_add(struct server *s, const char *key)
{
	struct peer_count **head = &s->peer_counts[peer_hash(key)];

	for (struct peer_count *p = *head; p != NULL; p = p->next) {
		if (strcmp(p->key, key) == 0)
			return ++p->count;
	}
	struct peer_count *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		log_warnx("out of memory counting the connections of %s: refused", key);
		return UINT32_MAX; /* counts as over the limit: refused */
	}
	snprintf(p->key, sizeof(p->key), "%s", key);
	p->count = 1;
	p->next = *head;
	*head = p;
	return 1;
}

void peer_count_remove(struct server *s, const char *key)
{
	struct peer_count **pp = &s->peer_counts[peer_hash(key)];

	for (; *pp != NULL; pp = &(*pp)->next) {
		struct peer_count *p = *pp;
		if (strcmp(p->key, key) != 0)
			continue;
		if (--p->count == 0) {
			*pp = p->next;
			free(p);
		}
		return;
	}
}

struct peer_count *peer_count_entry(struct server *s, const char *key)
{
	for (struct peer_count *p = s->peer_counts[peer_hash(key)]; p != NULL; p = p->next) {
		if (strcmp(p->key, key) == 0)
			return p;
	}
	return NULL;
}

const struct peer_count *peer_count_find(const struct server *s, const char *key)
{
	return peer_count_entry((struct server *)s, key); /* only read through the result */
}

void server_count(struct server *s, const char *key, enum server_counter what)
{
	struct peer_count *p = key != NULL ? peer_count_entry(s, key) : NULL;
	struct peer_stats unused, *ps = p != NULL ? &p->stats : &unused;

	switch (what) {
	case COUNT_CONNECTION:
		s->stats.connections_total++;
		ps->connections_total++;
		break;
	case COUNT_REJECTED:
		s->stats.connections_rejected++;
		ps->connections_rejected++;
		break;
	case COUNT_COMMAND:
		s->stats.commands++;
		ps->commands++;
		break;
	case COUNT_ERROR:
		s->stats.errors++;
		ps->errors++;
		break;
	}
}

int server_reserve_scratch(struct server *s, size_t len, int max_args)
{
	if (len + 1 > s->line_size) {
		char *line = realloc(s->line, len + 1);
		if (line == NULL)
			return -1;
		s->line = line;
		s->line_size = len + 1;
	}
	if (max_args > s->argv_size) {
		char **argv = realloc(s->argv, sizeof(*argv) * (size_t)max_args);
		if (argv == NULL)
			return -1;
		s->argv = argv;
		s->argv_size = max_args;
	}
	return 0;
}
