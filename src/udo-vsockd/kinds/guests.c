/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kinds/guests.c - GUESTS: what each guest's own systemd has reported
 * on notify-listen (guests.c), one data line per guest, most recently
 * heard first. The host side (unix peers, CIDs 0 to 2) sees every
 * guest; a guest sees only its own line. */
#include <stdio.h>
#include <string.h>

#include <udo/vsock-proto.h>

#include "../guests.h"
#include "../handler.h"
#include "../peers-dir.h"
#include "../request.h"
#include "../server.h"

/* The GUESTS names of the fields, in enum guest_field order. */
static const char *const field_words[GUEST_NFIELDS] = {"ready", "status", "unit_active", "shutdown", "exit_status"};

/* Appends " WORD=VALUE WORD_time=T" for field F of G to BUF (at *LEN). */
static void append_field(char *buf, size_t size, size_t *len, const struct guest *g, int f)
{
	char q[2 * GUEST_VALUE_MAX + 8];
	size_t vlen = strlen(g->value[f]);
	ssize_t n = udo_vsock_proto_quote(q, sizeof(q), g->value[f], vlen);

	if (n < 0 || (size_t)n >= sizeof(q))
		n = 0;
	q[n] = '\0';
	if (*len < size)
		*len += (size_t)snprintf(buf + *len, size - *len, " %s=%s %s_time=%lld", field_words[f], q,
		                         field_words[f], (long long)g->when[f]);
}

/* Answers one data line per guest heard from, and the receiver's counts
 * in the status line. */
static enum req_status guests_run(struct request *req)
{
	struct server *s = req->server;
	const struct guest_table *t = guests_table(s);
	const struct peer *p = req->peer;
	int host_side = p->transport == UDO_VSOCK_ADDR_UNIX || p->cid <= 2;

	for (const struct guest *g = t->head; g != NULL; g = g->next) {
		if (!host_side && g->cid != p->cid)
			continue;
		char line[2048];
		const char *name = peers_dir_lookup(s, s->config, g->cid);
		size_t len = (size_t)snprintf(line, sizeof(line), "cid=%u", g->cid);
		if (name != NULL)
			len += (size_t)snprintf(line + len, sizeof(line) - len, " name=%s", name);
		len += (size_t)snprintf(line + len, sizeof(line) - len, " last=%lld", (long long)g->last);
		for (int f = 0; f < GUEST_NFIELDS; f++) {
			if (g->when[f] != 0)
				append_field(line, sizeof(line), &len, g, f);
		}
		/* Checked by kinds/announce.c: no quoting needed. */
		if (g->announced != 0 && len < sizeof(line))
			len +=
			    (size_t)snprintf(line + len, sizeof(line) - len,
			                     " announced_name=%s boot_id=%s machine_id=%s announced_time=%lld",
			                     g->announced_name[0] != '\0' ? g->announced_name : "-", g->boot_id,
			                     g->machine_id[0] != '\0' ? g->machine_id : "-", (long long)g->announced);
		request_dataf(req, "%s", line);
	}
	if (!host_side) {
		request_ok(req, NULL);
		return REQ_DONE;
	}
	const struct guests_counts *c = &t->counts;
	request_ok(req,
	           "guests=%u messages=%llu oversized=%llu rate_limited=%llu rejected=%llu timed_out=%llu evicted=%llu "
	           "unprivileged=%llu hooks=%llu hooks_dropped=%llu",
	           t->n, c->messages, c->oversized, c->rate_limited, c->rejected, c->timed_out, c->evicted,
	           c->unprivileged, c->hooks, c->hooks_dropped);
	return REQ_DONE;
}

const struct handler_kind handler_guests = {
    .name = "guests",
    .min_args = 0,
    .max_args = 0,
    .usage = "",
    .summary = "list what each guest's systemd reported (READY, STATUS, units, shutdown)",
    .run = guests_run,
};
