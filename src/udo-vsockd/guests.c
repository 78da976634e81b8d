/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * guests.c - receives what a guest's own systemd reports over vsock:
 * systemd's VM interface. Given the `vmm.notify_socket` credential
 * (systemd.set_credential= on the kernel command line, or an SMBIOS
 * type 11 string), a guest's PID 1 sends sd_notify messages (READY=1,
 * STATUS=, X_SYSTEMD_UNIT_ACTIVE=, X_SYSTEMD_SHUTDOWN=, EXIT_STATUS=)
 * to that address. We record them per CID for GUESTS and log each change.
 *
 * What systemd sends, read in systemd's sources (not copied):
 * src/libsystemd/sd-daemon/sd-daemon.c, pid_notify_with_fds_internal(),
 * at commit 01cae7a7446e5f2ac43a13d94fdf633511e5ff23, and systemd(1)'s
 * vmm.notify_socket text (man/systemd.xml):
 *  - v254 added vmm.notify_socket as "vsock:CID:PORT": SOCK_DGRAM
 *    first and, where the transport has no datagrams (socket() fails
 *    with ENODEV or "not supported", as with virtio and vhost-vsock),
 *    SOCK_SEQPACKET; later versions fall back once more, to SOCK_STREAM,
 *    when SOCK_SEQPACKET is not supported either.
 *  - v256 added "vsock-stream:", "vsock-dgram:" and "vsock-seqpacket:",
 *    which force that socket type with no fallback.
 *  - Before sending, the sender binds a privileged port (1023 down)
 *    when it may (vsock_bind_privileged_port()): the answer to the
 *    attack raised in the review of systemd PR #25918, which added
 *    vmm.notify_socket for v254 (Fedora's SELinux policy PR #1977 shows
 *    v254's PID 1 binding its vsock socket), so a receiver can tell PID
 *    1 from any guest process; see notify-any-port.
 *  - Connected types: the sender connects, sends the whole message
 *    (one record, or bytes until done on a stream), shuts its side down
 *    (SHUT_WR) and waits for our EOF. So a message ends at the record's end
 *    (seqpacket) or at EOF (stream), and we close once it has ended.
 *  - A message is "KEY=VALUE" lines separated by newlines.
 *
 * The kernel side: AF_VSOCK listens with SOCK_STREAM and SOCK_SEQPACKET
 * (vhost-vsock and vsock_loopback both carry seqpacket); SOCK_DGRAM
 * needs a transport with datagrams (VMCI, Hyper-V), which vhost-vsock
 * and vsock_loopback lack, so `vsock-dgram:` fails to open there.
 * A listener takes one type, and vsock ports are shared by all types,
 * so guests forced to another type need a notify-listen line (and a
 * port) of their own.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include <event2/event.h>

#include "conf.h"
#include "exec-hook.h"
#include "guests.h"
#include "log.h"
#include "peers-dir.h"
#include "ratelimit.h"
#include "server.h"
#include "util.h"

struct notify_listener;

/* One guest's connection, until its message has ended. */
struct notify_conn {
	struct server *server;
	int fd;
	int type;
	uint32_t cid;
	struct event *ev;
	struct event *timer;
	size_t len; /* stream: bytes gathered in buf */
	char *buf;  /* notify-max-message + 1 bytes */
	struct notify_conn *prev, *next;
};

/* One notify-listen socket. */
struct notify_listener {
	struct server *server;
	char text[96];
	int fd;
	int type;
	struct event *ev;
	struct notify_listener *next;
};

/* The receiver's state, S->guests. */
struct guests {
	struct notify_listener *listeners;
	struct notify_conn *conns;
	unsigned int nconns;
	struct guest_table table;
};

static const char *const field_keys[GUEST_NFIELDS] = {"READY", "STATUS", "X_SYSTEMD_UNIT_ACTIVE", "X_SYSTEMD_SHUTDOWN",
                                                      "EXIT_STATUS"};

const char *guest_field_key(enum guest_field f)
{
	return f < GUEST_NFIELDS ? field_keys[f] : "";
}

/* Unlinks G from T's list. */
static void table_unlink(struct guest_table *t, struct guest *g)
{
	*(g->prev != NULL ? &g->prev->next : &t->head) = g->next;
	*(g->next != NULL ? &g->next->prev : &t->tail) = g->prev;
	g->prev = g->next = NULL;
}

/* Puts G first in T's list. */
static void table_push(struct guest_table *t, struct guest *g)
{
	g->prev = NULL;
	g->next = t->head;
	*(t->head != NULL ? &t->head->prev : &t->tail) = g;
	t->head = g;
}

const struct guest *guest_table_find(const struct guest_table *t, uint32_t cid)
{
	for (const struct guest *g = t->head; g != NULL; g = g->next) {
		if (g->cid == cid)
			return g;
	}
	return NULL;
}

/* CID's entry in T, made (forgetting the guests heard from longest ago
 * past MAX_GUESTS) if it has none, moved to the front as the one heard
 * from last. Returns NULL if out of memory. */
static struct guest *table_take_entry(struct guest_table *t, unsigned int max_guests, uint32_t cid)
{
	struct guest *g = (struct guest *)guest_table_find(t, cid);

	if (g != NULL) {
		table_unlink(t, g);
	} else {
		while (t->n > 0 && t->n >= max_guests) {
			struct guest *old = t->tail;
			table_unlink(t, old);
			free(old);
			t->n--;
			t->counts.evicted++;
		}
		if ((g = calloc(1, sizeof(*g))) == NULL)
			return NULL;
		g->cid = cid;
		t->n++;
	}
	table_push(t, g);
	return g;
}

/* Copies VALUE (LEN bytes) into OUT, cut to GUEST_VALUE_MAX, anything
 * but printable ASCII as '?': a guest writes nothing into our logs or
 * replies but text. */
static void value_copy(char *out, const char *value, size_t len)
{
	if (len > GUEST_VALUE_MAX)
		len = GUEST_VALUE_MAX;
	for (size_t i = 0; i < len; i++)
		out[i] = value[i] >= 0x20 && value[i] < 0x7f ? value[i] : '?';
	out[len] = '\0';
}

struct guest *guest_table_take(struct guest_table *t, unsigned int max_guests, uint32_t cid, const char *msg,
                               size_t len, time_t now, void (*changed)(void *arg, const struct guest *g, int field),
                               void *arg)
{
	struct guest *g = table_take_entry(t, max_guests, cid);

	if (g == NULL)
		return NULL;
	g->last = now;
	g->seen = 0;
	t->counts.messages++;
	for (const char *p = msg, *end = msg + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl != NULL ? nl : end;
		const char *eq = memchr(p, '=', (size_t)(line_end - p));
		for (int f = 0; eq != NULL && f < GUEST_NFIELDS; f++) {
			size_t klen = strlen(field_keys[f]);
			if ((size_t)(eq - p) != klen || memcmp(p, field_keys[f], klen) != 0)
				continue;
			char v[GUEST_VALUE_MAX + 1];
			value_copy(v, eq + 1, (size_t)(line_end - eq - 1));
			int differs = g->when[f] == 0 || strcmp(v, g->value[f]) != 0;
			memcpy(g->value[f], v, sizeof(v));
			g->when[f] = now;
			g->seen |= 1u << f;
			if (differs && changed != NULL)
				changed(arg, g, f);
		}
		p = line_end + 1;
	}
	return g;
}

void guest_table_clear(struct guest_table *t)
{
	while (t->head != NULL) {
		struct guest *g = t->head;
		table_unlink(t, g);
		free(g);
	}
	t->n = 0;
}

/* "web1 (cid 7)" or "cid 7": how logs name guest CID. */
static void guest_text(struct server *s, uint32_t cid, char *buf, size_t len)
{
	const char *name = peers_dir_lookup(s, s->config, cid);

	if (name != NULL)
		snprintf(buf, len, "%s (cid %u)", name, cid);
	else
		snprintf(buf, len, "cid %u", cid);
}

/* Logs one change of a guest's field: once per change, not per message. */
static void log_change(void *arg, const struct guest *g, int field)
{
	struct server *s = arg;
	char text[80];

	guest_text(s, g->cid, text, sizeof(text));
	log_peer(LOG_LEVEL_NOTICE, text, g->cid, NULL, "guest %s: %s=%s", text, field_keys[field], g->value[field]);
}

/* Runs the hook of EVENT (1 ready, 2 shutdown) for G, once per
 * transition: not again until the other event came between. */
static void run_hook(struct server *s, struct guest *g, int event)
{
	struct guests *gs = s->guests;
	const char *cmd_name = s->config->guest_hook[event - 1];
	const char *evname = event == 1 ? "ready" : "shutdown";
	const struct command *cmd = cmd_name != NULL ? config_find_command(s->config, cmd_name) : NULL;
	char text[80], what[200], vars[5][GUEST_VALUE_MAX + 32];
	char *env[6] = {vars[0], vars[1], vars[2], vars[3], vars[4], NULL};

	if (g->hooked == event)
		return;
	g->hooked = event;
	if (cmd == NULL)
		return;
	guest_text(s, g->cid, text, sizeof(text));
	if (exec_hooks_running() >= s->config->limits.guest_max_hooks) {
		gs->table.counts.hooks_dropped++;
		if (log_ratelimit(s->base, "guest-hooks", "guest hooks", 0, s->config->limits.log_peer_burst,
		                  s->config->limits.log_peer_interval_ms))
			log_warnx("guest-%s-hook for %s dropped: %u hooks running (guest-max-hooks)", evname, text,
			          s->config->limits.guest_max_hooks);
		return;
	}
	const char *name = peers_dir_lookup(s, s->config, g->cid);
	snprintf(vars[0], sizeof(vars[0]), "UDO_GUEST_EVENT=%s", evname);
	snprintf(vars[1], sizeof(vars[1]), "UDO_GUEST_CID=%u", g->cid);
	snprintf(vars[2], sizeof(vars[2]), "UDO_GUEST_NAME=%s", name != NULL ? name : "");
	snprintf(vars[3], sizeof(vars[3]), "UDO_GUEST_STATUS=%s", g->value[GUEST_STATUS]);
	snprintf(vars[4], sizeof(vars[4]), "UDO_GUEST_SHUTDOWN=%s", g->value[GUEST_SHUTDOWN]);
	snprintf(what, sizeof(what), "guest-%s-hook %s for %s", evname, cmd_name, text);
	if (exec_hook_start(s->base, cmd, env, what) == 0)
		gs->table.counts.hooks++;
	else
		gs->table.counts.hooks_dropped++;
}

/* Takes one whole message of LEN bytes from CID, within the rate limit. */
static void take_message(struct server *s, uint32_t cid, const char *msg, size_t len)
{
	struct guests *gs = s->guests;
	const struct limits *lim = &s->config->limits;
	char key[32], text[80];

	snprintf(key, sizeof(key), "cid:%u", cid);
	guest_text(s, cid, text, sizeof(text));
	if (!notify_ratelimit_at(server_uptime_ms(s), key, text, cid, lim->notify_burst, lim->notify_interval_ms)) {
		gs->table.counts.rate_limited++;
		return;
	}
	struct guest *g =
	    guest_table_take(&gs->table, lim->notify_max_guests, cid, msg, len, time(NULL), log_change, s);
	if (g == NULL) {
		log_warnx("out of memory for guest cid %u", cid);
		return;
	}
	if ((g->seen & (1u << GUEST_READY)) && strcmp(g->value[GUEST_READY], "1") == 0)
		run_hook(s, g, 1);
	if (g->seen & (1u << GUEST_SHUTDOWN))
		run_hook(s, g, 2);
}

/* Counts and logs (rate-limited per guest) a message over the limit. */
static void oversized(struct server *s, uint32_t cid)
{
	char key[32], text[80];

	s->guests->table.counts.oversized++;
	snprintf(key, sizeof(key), "cid:%u", cid);
	guest_text(s, cid, text, sizeof(text));
	if (log_ratelimit(s->base, key, text, cid, s->config->limits.log_peer_burst,
	                  s->config->limits.log_peer_interval_ms))
		log_peer(LOG_LEVEL_NOTICE, text, cid, NULL,
		         "notify message from %s over %u bytes dropped (notify-max-message)", text,
		         s->config->limits.notify_max_message);
}

/* True, after counting and logging it, if a sender on CID PORT may not
 * report: a port above 1023, which any guest process may bind (systemd's
 * PID 1 binds one of 1023 and below, which needs CAP_NET_BIND_SERVICE in
 * the guest), unless notify-any-port. */
static int unprivileged(struct server *s, uint32_t cid, uint32_t port)
{
	char key[32], text[80];

	if (port <= 1023 || s->config->limits.notify_any_port)
		return 0;
	s->guests->table.counts.unprivileged++;
	snprintf(key, sizeof(key), "cid:%u", cid);
	guest_text(s, cid, text, sizeof(text));
	if (log_ratelimit(s->base, key, text, cid, s->config->limits.log_peer_burst,
	                  s->config->limits.log_peer_interval_ms))
		log_peer(LOG_LEVEL_NOTICE, text, cid, NULL,
		         "notify message from %s port %u refused: not a privileged port (notify-any-port)", text, port);
	return 1;
}

/* Closes and frees C. */
static void conn_close(struct notify_conn *c)
{
	struct guests *gs = c->server->guests;

	*(c->prev != NULL ? &c->prev->next : &gs->conns) = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	gs->nconns--;
	event_free(c->ev);
	event_free(c->timer);
	close(c->fd);
	free(c->buf);
	free(c);
}

/* Closes C, whose message ended or went wrong: a descriptor is free, so
 * accepting paused for lack of them may resume (server.c). */
static void conn_done(struct notify_conn *c)
{
	struct server *s = c->server;

	conn_close(c);
	server_resume_accepting(s, ACCEPT_PAUSE_NOFILE);
}

/* C stayed open longer than notify-timeout. */
static void conn_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct notify_conn *c = arg;

	c->server->guests->table.counts.timed_out++;
	conn_done(c);
}

/* C is readable: records (seqpacket) or bytes until EOF (stream). */
static void conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct notify_conn *c = arg;
	struct server *s = c->server;
	size_t max = s->config->limits.notify_max_message;

	/* A few records a turn: one guest cannot hold the loop. */
	for (int turn = 0; turn < 8; turn++) {
		if (c->type == SOCK_SEQPACKET) {
			struct iovec iov = {c->buf, max + 1};
			struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
			ssize_t n = recvmsg(c->fd, &mh, MSG_DONTWAIT);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			if (n <= 0)
				break;
			if ((size_t)n > max || (mh.msg_flags & MSG_TRUNC))
				oversized(s, c->cid);
			else
				take_message(s, c->cid, c->buf, (size_t)n);
			if (turn == 7)
				return; /* more next time */
			continue;
		}
		ssize_t n = recv(c->fd, c->buf + c->len, max + 1 - c->len, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0)
			break;
		if (n == 0) {
			if (c->len > 0)
				take_message(s, c->cid, c->buf, c->len);
			break;
		}
		c->len += (size_t)n;
		if (c->len > max) {
			oversized(s, c->cid);
			break;
		}
		if (turn == 7)
			return; /* more next time */
	}
	/* The message ended (or went wrong): our EOF is what the sender waits for. */
	conn_done(c);
}

/* A datagram listener is readable: each datagram is a message. */
static void dgram_read_cb(struct notify_listener *l)
{
	struct server *s = l->server;
	size_t max = s->config->limits.notify_max_message;
	char *buf = malloc(max + 1);

	for (int turn = 0; buf != NULL && turn < 8; turn++) {
		struct sockaddr_vm svm;
		struct iovec iov = {buf, max + 1};
		struct msghdr mh = {.msg_name = &svm, .msg_namelen = sizeof(svm), .msg_iov = &iov, .msg_iovlen = 1};
		ssize_t n = recvmsg(l->fd, &mh, MSG_DONTWAIT);
		if (n < 0)
			break;
		if (unprivileged(s, svm.svm_cid, svm.svm_port))
			continue;
		if ((size_t)n > max || (mh.msg_flags & MSG_TRUNC))
			oversized(s, svm.svm_cid);
		else
			take_message(s, svm.svm_cid, buf, (size_t)n);
	}
	free(buf);
}

/* The notify connections GS has open from CID (at most
 * notify-max-connections to count). */
static unsigned int guest_conns(const struct guests *gs, uint32_t cid)
{
	unsigned int n = 0;

	for (const struct notify_conn *c = gs->conns; c != NULL; c = c->next)
		n += c->cid == cid;
	return n;
}

/* A notify listener is readable: accept (or read datagrams). */
static void listener_cb(evutil_socket_t fd, short what, void *arg)
{
	struct notify_listener *l = arg;
	struct server *s = l->server;
	struct guests *gs = s->guests;
	const struct limits *lim = &s->config->limits;

	if (l->type == SOCK_DGRAM) {
		dgram_read_cb(l);
		return;
	}
	for (int turn = 0; turn < 16; turn++) {
		struct sockaddr_vm svm;
		socklen_t slen = sizeof(svm);
		int cfd = accept4(l->fd, (struct sockaddr *)&svm, &slen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			/* Out of descriptors: the connection stays queued and the
			 * listener readable, so pause accepting (as listener.c
			 * does) rather than spin on it, until one closes or
			 * accept-pause passes. */
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				log_warn("accept on notify listener %s", l->text);
				server_pause_accepting(s, ACCEPT_PAUSE_NOFILE);
			} else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
				log_warn("accept on notify listener %s", l->text);
			}
			return;
		}
		if (unprivileged(s, svm.svm_cid, svm.svm_port)) {
			close(cfd);
			continue;
		}
		if (gs->nconns >= lim->notify_max_connections ||
		    guest_conns(gs, svm.svm_cid) >= lim->notify_max_connections_per_guest) {
			gs->table.counts.rejected++;
			close(cfd);
			continue;
		}
		struct notify_conn *c = calloc(1, sizeof(*c));
		struct timeval tv = util_timeval_ms(lim->notify_timeout_ms);
		if (c == NULL || (c->buf = malloc(lim->notify_max_message + 1)) == NULL ||
		    (c->ev = event_new(s->base, cfd, EV_READ | EV_PERSIST, conn_read_cb, c)) == NULL ||
		    (c->timer = evtimer_new(s->base, conn_timeout_cb, c)) == NULL || event_add(c->ev, NULL) < 0 ||
		    evtimer_add(c->timer, &tv) < 0) {
			log_warnx("out of memory for a notify connection");
			if (c != NULL) {
				if (c->ev != NULL)
					event_free(c->ev);
				if (c->timer != NULL)
					event_free(c->timer);
				free(c->buf);
				free(c);
			}
			close(cfd);
			return;
		}
		c->server = s;
		c->fd = cfd;
		c->type = l->type;
		c->cid = svm.svm_cid;
		c->next = gs->conns;
		if (gs->conns != NULL)
			gs->conns->prev = c;
		gs->conns = c;
		gs->nconns++;
	}
}

/* Opens notify listener TEXT (canonical). Returns it or NULL after logging. */
static struct notify_listener *listener_open(struct server *s, const char *text)
{
	struct udo_vsock_addr a;
	struct sockaddr_storage ss;
	socklen_t sslen;
	char why[256];
	int type = notify_addr_parse(text, &a, why, sizeof(why));

	if (type < 0 || udo_vsock_addr_to_sockaddr(&a, &ss, &sslen) < 0) {
		log_warnx("notify-listen %s: %s", text, why);
		return NULL;
	}
	int fd = socket(AF_VSOCK, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, sslen) < 0 || (type != SOCK_DGRAM && listen(fd, 128) < 0)) {
		log_warn("cannot listen on notify-listen %s%s", text,
		         type == SOCK_DGRAM ? " (vsock datagrams need a transport that has them: VMCI, Hyper-V)" : "");
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	struct notify_listener *l = calloc(1, sizeof(*l));
	/* Opened (a reload) while descriptors are short: it waits for the resume. */
	int paused = type != SOCK_DGRAM && (s->accept_paused & ACCEPT_PAUSE_NOFILE);
	if (l == NULL || (l->ev = event_new(s->base, fd, EV_READ | EV_PERSIST, listener_cb, l)) == NULL ||
	    (!paused && event_add(l->ev, NULL) < 0)) {
		log_warnx("out of memory for notify listener %s", text);
		if (l != NULL && l->ev != NULL)
			event_free(l->ev);
		free(l);
		close(fd);
		return NULL;
	}
	l->server = s;
	l->fd = fd;
	l->type = type;
	snprintf(l->text, sizeof(l->text), "%s", text);
	log_info("listening for guests' systemd notifications on %s", text);
	return l;
}

/* Closes and frees L. */
static void listener_close(struct notify_listener *l)
{
	event_free(l->ev);
	close(l->fd);
	free(l);
}

int guests_configure(struct server *s, const struct config *conf)
{
	struct guests *gs = s->guests;
	struct notify_listener *fresh = NULL;
	int rc = 0;

	if (gs == NULL && (gs = s->guests = calloc(1, sizeof(*gs))) == NULL) {
		log_warnx("out of memory for the notify receiver");
		return -1;
	}
	for (int i = 0; i < conf->n_notify_listen; i++) {
		struct notify_listener *l = NULL;
		/* An address listened on already stays open. */
		for (struct notify_listener **pp = &gs->listeners; *pp != NULL; pp = &(*pp)->next) {
			if (strcmp((*pp)->text, conf->notify_listen[i]) == 0) {
				l = *pp;
				*pp = l->next;
				break;
			}
		}
		if (l == NULL && (l = listener_open(s, conf->notify_listen[i])) == NULL) {
			rc = -1;
			continue;
		}
		l->next = fresh;
		fresh = l;
	}
	while (gs->listeners != NULL) {
		struct notify_listener *next = gs->listeners->next;
		log_info("no longer listening on notify-listen %s", gs->listeners->text);
		listener_close(gs->listeners);
		gs->listeners = next;
	}
	gs->listeners = fresh;
	return rc;
}

void guests_set_accepting(struct server *s, int enabled)
{
	for (struct notify_listener *l = s->guests != NULL ? s->guests->listeners : NULL; l != NULL; l = l->next) {
		if (l->type == SOCK_DGRAM)
			continue; /* datagrams take no descriptor */
		if (enabled)
			event_add(l->ev, NULL);
		else
			event_del(l->ev);
	}
}

const struct guest_table *guests_table(const struct server *s)
{
	static const struct guest_table none;

	return s->guests != NULL ? &s->guests->table : &none;
}

void guests_free(struct server *s)
{
	struct guests *gs = s->guests;

	exec_hooks_stop();
	if (gs == NULL)
		return;
	while (gs->conns != NULL)
		conn_close(gs->conns);
	while (gs->listeners != NULL) {
		struct notify_listener *next = gs->listeners->next;
		listener_close(gs->listeners);
		gs->listeners = next;
	}
	guest_table_clear(&gs->table);
	free(gs);
	s->guests = NULL;
}

const struct guest *guests_announce(struct server *s, uint32_t cid, const char *name, const char *boot_id,
                                    const char *machine_id)
{
	struct guest_table *t = s->guests != NULL ? &s->guests->table : NULL;
	struct guest *g;
	char text[80];

	if (t == NULL)
		return NULL;
	/* The same machine under another CID: a restore or a migration moved it. */
	for (g = t->head; machine_id[0] != '\0' && g != NULL; g = g->next) {
		if (g->cid != cid && strcmp(g->machine_id, machine_id) == 0) {
			guest_text(s, cid, text, sizeof(text));
			log_peer(LOG_LEVEL_NOTICE, text, cid, NULL, "guest machine-id %s moved from cid %u to cid %u",
			         machine_id, g->cid, cid);
			g->machine_id[0] = '\0'; /* said once */
		}
	}
	if ((g = table_take_entry(t, s->config->limits.notify_max_guests, cid)) == NULL)
		return NULL;
	guest_text(s, cid, text, sizeof(text));
	if (g->announced != 0 && strcmp(g->boot_id, boot_id) != 0)
		log_peer(LOG_LEVEL_NOTICE, text, cid, NULL, "guest %s rebooted or was replaced: boot-id %s, was %s",
		         text, boot_id, g->boot_id);
	else if (g->announced == 0)
		log_peer(LOG_LEVEL_NOTICE, text, cid, NULL, "guest %s announced itself as %s, boot-id %s", text,
		         name[0] != '\0' ? name : "-", boot_id);
	g->last = g->announced = time(NULL);
	snprintf(g->announced_name, sizeof(g->announced_name), "%s", name);
	snprintf(g->boot_id, sizeof(g->boot_id), "%s", boot_id);
	snprintf(g->machine_id, sizeof(g->machine_id), "%s", machine_id);
	return g;
}
