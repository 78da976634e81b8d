/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kinds/stats.c - STATS: connection and command counters.
 *
 * Daemon-wide counters tell one guest about every other guest's activity,
 * so they go only to peers that `stats-all` names (by default the host
 * side: unix listeners and CIDs 0 to 2); every other peer sees its own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../conf.h"
#include "../dispatch.h"
#include "../handler.h"
#include "../request.h"
#include "../server.h"
#include "../util.h"

/* A stats command's options. */
struct stats_conf {
	int all_set;             /* stats-all was given */
	struct acl_entry *all;   /* who sees daemon-wide counters (NULL with all_set: nobody) */
	struct acl_entry **tail; /* where the next entry goes */
};

/* True if PEER is on the host side: a unix listener, or CID 0, 1 or 2. */
static int peer_is_host_side(const struct peer *peer)
{
	return peer->transport == UDO_VSOCK_ADDR_UNIX || peer->cid <= 2;
}

/* Frees a stats command's options. */
static void stats_free_data(void *data)
{
	struct stats_conf *sc = data;

	while (sc->all != NULL) {
		struct acl_entry *next = sc->all->next;
		free(sc->all->identity);
		free(sc->all);
		sc->all = next;
	}
	free(sc);
}

/* The stats conf of CMD, made on first use; NULL when out of memory. */
static void *stats_get_data(struct command *cmd)
{
	struct stats_conf *sc = cmd->data;

	if (sc == NULL && (sc = calloc(1, sizeof(*sc))) != NULL) {
		sc->tail = &sc->all;
		cmd->data = sc;
	}
	return sc;
}

/* Takes `stats-all = none | ENTRY...` (entries as in allow). */
static int stats_all(const struct option_spec *spec, void *target, void *ctx, const char *value, char *why,
                     size_t whylen)
{
	struct stats_conf *sc = target;

	sc->all_set = 1;
	if (strcmp(value, "none") == 0)
		return 0;
	char *copy = strdup(value), *save = NULL;
	int rc = copy != NULL ? 0 : -1;
	for (char *w = copy != NULL ? strtok_r(copy, " \t", &save) : NULL; w != NULL && rc == 0;
	     w = strtok_r(NULL, " \t", &save)) {
		struct acl_entry *e = calloc(1, sizeof(*e));
		char err[128];
		if (e == NULL || acl_entry_parse(w, 1, e, err, sizeof(err)) < 0) {
			snprintf(why, whylen, "stats-all: %s", e == NULL ? "out of memory" : err);
			free(e);
			rc = -1;
			break;
		}
		*sc->tail = e;
		sc->tail = &e->next;
	}
	free(copy);
	return rc;
}

/* Writes `stats-all`: its entries, or none. */
static void stats_all_format(const struct option_spec *spec, const void *target, const void *ctx, FILE *out)
{
	const struct stats_conf *sc = target;

	if (!sc->all_set) {
		fprintf(out, "# %s: not set (the host side: unix peers and CIDs 0 to 2)\n", spec->name);
		return;
	}
	fprintf(out, "%s =", spec->name);
	if (sc->all == NULL)
		fputs(" none", out);
	for (const struct acl_entry *e = sc->all; e != NULL; e = e->next) {
		fputc(' ', out);
		acl_entry_print(e, out);
	}
	fputc('\n', out);
}

/* The options of a stats command. */
static const struct option_spec stats_options[] = {
    OPTION_CUSTOM("stats-all", stats_all, stats_all_format),
    OPTION_END,
};

/* Answers the counters as key=value data lines: daemon-wide ones to the
 * peers stats-all names, the peer's own (scope=peer) to the others. */
static enum req_status stats_run(struct request *req)
{
	const struct server *s = req->server;
	const struct stats_conf *sc = req->cmd->data;
	int all = sc != NULL && sc->all_set ? access_list_allows(sc->all, req->peer) : peer_is_host_side(req->peer);

	if (all) {
		request_dataf(req, "connections=%u", s->nconns);
		request_dataf(req, "connections_total=%llu", (unsigned long long)s->stats.connections_total);
		request_dataf(req, "connections_rejected=%llu", (unsigned long long)s->stats.connections_rejected);
		request_dataf(req, "commands=%llu", (unsigned long long)s->stats.commands);
		request_dataf(req, "errors=%llu", (unsigned long long)s->stats.errors);
		request_dataf(req, "reloads=%llu", (unsigned long long)s->stats.reloads);
		request_dataf(req, "uptime=%llu", (unsigned long long)(server_uptime_ms(s) / 1000));
		request_ok(req, NULL);
		return REQ_DONE;
	}
	/* The peer's own: counted since its oldest open connection. */
	const struct peer_count *p = req->conn != NULL ? peer_count_find(s, req->peer_key) : NULL;
	struct peer_stats none = {0};
	const struct peer_stats *ps = p != NULL ? &p->stats : &none;
	request_dataf(req, "scope=peer");
	request_dataf(req, "connections=%u", p != NULL ? p->count : 0);
	request_dataf(req, "connections_total=%llu", (unsigned long long)ps->connections_total);
	request_dataf(req, "connections_rejected=%llu", (unsigned long long)ps->connections_rejected);
	request_dataf(req, "commands=%llu", (unsigned long long)ps->commands);
	request_dataf(req, "errors=%llu", (unsigned long long)ps->errors);
	request_dataf(req, "uptime=%llu", (unsigned long long)(server_uptime_ms(s) / 1000));
	if (req->peer->name[0] != '\0')
		request_dataf(req, "name=%s", req->peer->name);
	request_ok(req, NULL);
	return REQ_DONE;
}

const struct handler_kind handler_stats = {
    .name = "stats",
    .min_args = 0,
    .max_args = 0,
    .usage = "",
    .summary = "show connection and command counters",
    .options = stats_options,
    .get_data = stats_get_data,
    .run = stats_run,
    .free_data = stats_free_data,
};
