/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* server.c - daemon-wide state: accepting, per-peer counts, reload, stop */
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "conn.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

uint64_t server_uptime_ms(const struct server *s)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - s->stats.started.tv_sec) * 1000 +
	       (uint64_t)((now.tv_nsec - s->stats.started.tv_nsec) / 1000000);
}

void server_pause_accepting(struct server *s, enum accept_pause reason)
{
	if (s->accept_paused == 0)
		listeners_set_enabled(s, 0);
	if (!(s->accept_paused & reason))
		log_info("accepting paused: %s",
		         reason == ACCEPT_PAUSE_LIMIT ? "max-connections reached" : "out of file descriptors");
	s->accept_paused |= (int)reason;
	if (reason == ACCEPT_PAUSE_NOFILE) {
		/* Try again later, or sooner when a connection closes. */
		unsigned int ms = s->config->limits.accept_pause_ms;
		struct timeval tv = util_timeval_ms(ms);
		evtimer_add(s->accept_timer, &tv);
	}
}

void server_resume_accepting(struct server *s, enum accept_pause reason)
{
	if (s->accept_paused == 0)
		return;
	if ((reason & ACCEPT_PAUSE_LIMIT) && s->nconns < s->config->limits.max_connections)
		s->accept_paused &= ~ACCEPT_PAUSE_LIMIT;
	if (reason & ACCEPT_PAUSE_NOFILE) {
		s->accept_paused &= ~ACCEPT_PAUSE_NOFILE;
		evtimer_del(s->accept_timer);
	}
	if (s->accept_paused == 0 && !s->stopping) {
		log_info("accepting resumed");
		listeners_set_enabled(s, 1);
	}
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

/* peer_count_find for KEY of util_fnv1a HASH. */
static struct peer_count *peer_count_find_hashed(const struct server *s, const char *key, uint32_t hash)
{
	for (struct peer_count *p = s->peer_counts[hash % PEER_COUNT_BUCKETS]; p != NULL; p = p->next) {
		if (strcmp(p->key, key) == 0)
			return p;
	}
	return NULL;
}

const struct peer_count *peer_count_find(const struct server *s, const char *key)
{
	return peer_count_find_hashed(s, key, util_fnv1a(key));
}

void server_count(struct server *s, const char *key, enum server_counter what)
{
	server_count_hashed(s, key, key != NULL ? util_fnv1a(key) : 0, what);
}

void server_count_hashed(struct server *s, const char *key, uint32_t hash, enum server_counter what)
{
	struct peer_count *p = key != NULL ? peer_count_find_hashed(s, key, hash) : NULL;
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

/* Logs every line of the text in BUF as a warning. */
static void log_lines(const char *buf)
{
	while (*buf != '\0') {
		const char *nl = strchr(buf, '\n');
		int n = nl != NULL ? (int)(nl - buf) : (int)strlen(buf);
		log_warnx("%.*s", n, buf);
		buf += n + (nl != NULL);
	}
}

/* Fills the parts of peer P that come from its listener L (as at
 * accept, see peer_from_accept in conn.c): a unix peer's identity, a
 * vsock-mux VM's name and CID. A vsock peer's CID is the kernel's. */
static void peer_follow_listener(struct peer *p, const struct listener *l)
{
	if (p->transport == UDO_VSOCK_ADDR_VSOCK_MUX) {
		p->cid = l->mux_cid;
		snprintf(p->identity, sizeof(p->identity), "%s", l->identity);
		snprintf(p->text, sizeof(p->text), "vm %s cid %u", p->identity[0] ? p->identity : "-", p->cid);
	} else if (p->transport == UDO_VSOCK_ADDR_UNIX) {
		snprintf(p->identity, sizeof(p->identity), "%s", l->identity);
		snprintf(p->text, sizeof(p->text), "unix:%s", p->identity);
	}
}

/*
 * After a reload: every open connection is judged from its next request
 * on by the configuration now in force. It takes the new limits, and its
 * peer the identity and CID its listener now has (also moving it in the
 * per-peer counts). A connection whose listener the new configuration
 * no longer has is closed once the request in flight, if any, has been
 * answered; a bridge (proxy) already under way is left to end by itself.
 */
static void conns_follow_reload(struct server *s)
{
	for (struct conn *c = s->conns, *next; c != NULL; c = next) {
		next = c->next;
		config_unref(c->config);
		c->config = config_ref(s->config);
		const struct listener *l = listener_find(s, c->peer.listener);
		if (l == NULL) {
			if (c->bridged || c->closing)
				continue;
			log_peer(LOG_LEVEL_INFO, c->peer.text, c->peer.cid, NULL,
			         "listener %s is gone after the reload; closing", c->peer.listener);
			conn_close_after_flush(c); /* may free C */
			continue;
		}
		char was[sizeof(c->peer.text)];
		memcpy(was, c->peer.text, sizeof(was));
		peer_follow_listener(&c->peer, l);
		char key[sizeof(c->peer_key)];
		util_peer_key(&c->peer, key, sizeof(key));
		if (strcmp(key, c->peer_key) != 0) {
			/* Already open: counted under its new key even past the limit. */
			peer_count_remove(s, c->peer_key);
			c->metrics_peer = NULL; /* found again under the new key */
			if (peer_count_add(s, key) != UINT32_MAX)
				memcpy(c->peer_key, key, sizeof(key));
			else
				c->peer_key[0] = '\0'; /* not counted (out of memory) */
			c->peer_hash = util_fnv1a(c->peer_key);
			log_peer(LOG_LEVEL_INFO, c->peer.text, c->peer.cid, NULL, "was %s before the reload", was);
		}
	}
}

void server_reload(struct server *s)
{
	char *errors = NULL;
	size_t errlen = 0;
	FILE *err = open_memstream(&errors, &errlen);

	notify_reloading();
	log_notice("reloading %s", s->config_path);
	struct config *conf = err != NULL ? config_load(s->config_path, err) : NULL;
	if (err != NULL)
		fclose(err);
	if (conf == NULL) {
		if (err == NULL)
			log_warn("cannot collect the errors of %s", s->config_path);
		if (errors != NULL)
			log_lines(errors);
		log_warnx_id(LOG_MSGID_RELOAD_FAILED, "reload failed: the configuration in force is kept");
		free(errors);
		notify_ready(s);
		return;
	}
	free(errors);
	struct listener *fresh = NULL;
	if (metrics_prepare(s, conf) < 0) {
		log_warnx_id(LOG_MSGID_RELOAD_FAILED, "reload failed: the configuration in force is kept");
		config_unref(conf);
		notify_ready(s);
		return;
	}
	if (!s->socket_activated && listeners_open(s, conf, &fresh) < 0) {
		log_warnx_id(LOG_MSGID_RELOAD_FAILED, "reload failed: the configuration in force is kept");
		metrics_abort(s);
		config_unref(conf);
		notify_ready(s);
		return;
	}
	/* Nothing fails from here on: the new configuration takes over whole. */
	if (!s->socket_activated)
		listeners_replace(s, fresh);
	metrics_commit(s, conf);
	listeners_configure(s, conf);
	config_unref(s->config);
	s->config = conf;
	conns_follow_reload(s);
	log_set_level((enum log_level)conf->log_level);
	s->stats.reloads++;
	if (conn_sweep_arm(s) < 0)
		log_warnx("cannot rearm the timeout sweep: connections are not timed out");
	/* New limits may allow more connections than before. */
	server_resume_accepting(s, ACCEPT_PAUSE_LIMIT);
	if (s->nconns >= conf->limits.max_connections)
		server_pause_accepting(s, ACCEPT_PAUSE_LIMIT);
	log_notice_id(LOG_MSGID_RELOADED, "configuration reloaded");
	notify_ready(s);
}

/* Grace period over: stop even if replies are still pending. */
static void grace_expired_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;

	log_warnx("shutdown grace period over with %u connections open", s->nconns);
	event_base_loopexit(s->base, NULL);
}

void server_begin_shutdown(struct server *s)
{
	if (s->stopping)
		return;
	s->stopping = 1;
	notify_stopping();
	log_notice_id(LOG_MSGID_STOPPING, "stopping: %u connections to finish", s->nconns);
	listeners_close_all(s);
	evtimer_del(s->accept_timer);
	if (s->nconns == 0) {
		event_base_loopexit(s->base, NULL);
		return;
	}
	struct timeval tv = util_timeval_ms(s->config->limits.shutdown_grace_ms);
	s->grace_timer = evtimer_new(s->base, grace_expired_cb, s);
	if (s->grace_timer == NULL || evtimer_add(s->grace_timer, &tv) < 0)
		event_base_loopexit(s->base, &tv);
	/* Each connection finishes its request in flight, flushes, closes. */
	for (struct conn *c = s->conns, *next; c != NULL; c = next) {
		next = c->next;
		if (c->bridged)
			conn_free(c); /* a proxied byte stream has no reply to wait for */
		else
			conn_close_after_flush(c);
	}
}
