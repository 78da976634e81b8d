/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* metrics.c - per-command and per-peer counters and a few gauges, served
 * as the Prometheus text exposition format (version 0.0.4) by libevent's
 * evhttp on an opt-in local listener (`metrics-listen =`,
 * udo-vsockd.conf(5)).
 *
 * The counters live as long as the daemon: a command's slot is found by
 * name once, when a config is loaded, and kept in struct command, so a
 * request costs no lookup; a connection finds its peer's slot on its
 * first request. At most metrics-max-peers peers get their own series;
 * the others are summed into peer="other". Counting happens only while
 * the endpoint is on. */
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "conf.h"
#include "handler.h"
#include "log.h"
#include "proto.h"
#include "server.h"
#include "util.h"

#define METRICS_PEER_BUCKETS 256
#define METRICS_UNKNOWN      "(unknown)" /* the command label of unknown commands: no name has parentheses */

/* The upper bounds of the latency buckets, in microseconds. */
static const uint64_t bucket_us[METRICS_NBUCKETS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};
/* ... and as Prometheus writes them (le="..."). */
static const char *const bucket_le[METRICS_NBUCKETS] = {"0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005",
                                                        "0.01",   "0.025",   "0.05",   "0.1",   "0.25",   "0.5",
                                                        "1",      "2.5",     "5",      "10"};

/* The error codes, by their index in metrics_command.errors. */
static const char *const error_codes[METRICS_NCODES] = {
    PROTO_ERR_SYNTAX, PROTO_ERR_UNKNOWN, PROTO_ERR_USAGE,  PROTO_ERR_DENIED,   PROTO_ERR_TOO_LONG,
    PROTO_ERR_BUSY,   PROTO_ERR_TIMEOUT, PROTO_ERR_FAILED, PROTO_ERR_INTERNAL, PROTO_ERR_UNAVAILABLE,
};

/* A bound metrics listener and its HTTP server. */
struct metrics_endpoint {
	struct evhttp *http;
	char text[UDO_VSOCK_ADDR_STRLEN];
	char path[UDO_VSOCK_ADDR_PATH_MAX]; /* a socket file we created, removed on close */
};

/* Every counter, the endpoint in force and one readied by a reload. */
struct metrics {
	struct metrics_command *commands; /* in order of first appearance */
	struct metrics_command unknown;   /* requests naming no command */
	struct metrics_peer *peers;       /* in order of first request */
	struct metrics_peer **peers_tail;
	struct metrics_peer *peer_index[METRICS_PEER_BUCKETS];
	struct metrics_peer other;
	unsigned int npeers;
	struct metrics_endpoint *ep;
	struct metrics_endpoint *fresh; /* readied by metrics_prepare */
	int fresh_set;                  /* metrics_prepare decided: FRESH replaces EP */
};

/* A parsed metrics-listen address. */
struct metrics_addr {
	int family; /* AF_INET, AF_INET6 or AF_UNIX */
	union {
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} sa;
	socklen_t salen;
	struct udo_vsock_addr unix_addr; /* AF_UNIX: the library makes the socket */
};

/* Parses TEXT into *A and its canonical text. Returns 0 or -1 with WHY. */
static int parse_addr(const char *text, struct metrics_addr *a, char *canon, size_t canonlen, char *why, size_t whylen)
{
	memset(a, 0, sizeof(*a));
	if (strncmp(text, "unix:", 5) == 0) {
		if (udo_vsock_addr_parse(&a->unix_addr, text, NULL, 0) < 0) {
			snprintf(why, whylen, "metrics-listen: '%s': the unix path is empty or too long", text);
			return -1;
		}
		a->family = AF_UNIX;
		snprintf(canon, canonlen, "%s", text);
		return 0;
	}
	if (strncmp(text, "tcp:", 4) != 0) {
		snprintf(why, whylen, "metrics-listen: '%s' is not tcp:ADDRESS:PORT or unix:PATH", text);
		return -1;
	}
	const char *host = text + 4, *colon = strrchr(host, ':');
	char hbuf[64];
	unsigned long long port;
	if (colon == NULL || (size_t)(colon - host) >= sizeof(hbuf) ||
	    util_parse_number(colon + 1, 1, 65535, &port) < 0) {
		snprintf(why, whylen, "metrics-listen: '%s' is not tcp:ADDRESS:PORT (PORT 1-65535)", text);
		return -1;
	}
	memcpy(hbuf, host, (size_t)(colon - host));
	hbuf[colon - host] = '\0';
	if (strcmp(hbuf, "localhost") == 0)
		strcpy(hbuf, "127.0.0.1");
	size_t hl = strlen(hbuf);
	if (hl > 2 && hbuf[0] == '[' && hbuf[hl - 1] == ']') {
		hbuf[hl - 1] = '\0';
		memmove(hbuf, hbuf + 1, hl - 1);
		if (inet_pton(AF_INET6, hbuf, &a->sa.in6.sin6_addr) == 1 &&
		    IN6_IS_ADDR_LOOPBACK(&a->sa.in6.sin6_addr)) {
			a->family = a->sa.in6.sin6_family = AF_INET6;
			a->sa.in6.sin6_port = htons((uint16_t)port);
			a->salen = sizeof(a->sa.in6);
			snprintf(canon, canonlen, "tcp:[::1]:%llu", port);
			return 0;
		}
	} else if (inet_pton(AF_INET, hbuf, &a->sa.in.sin_addr) == 1 &&
	           (ntohl(a->sa.in.sin_addr.s_addr) >> 24) == 127) {
		a->family = a->sa.in.sin_family = AF_INET;
		a->sa.in.sin_port = htons((uint16_t)port);
		a->salen = sizeof(a->sa.in);
		snprintf(canon, canonlen, "tcp:%s:%llu", hbuf, port);
		return 0;
	}
	snprintf(why, whylen,
	         "metrics-listen: '%s': only a loopback address (127.0.0.0/8, [::1], localhost) may serve metrics",
	         text);
	return -1;
}

int metrics_listen_parse(const char *text, char *canon, size_t canonlen, char *why, size_t whylen)
{
	struct metrics_addr a;

	return parse_addr(text, &a, canon, canonlen, why, whylen);
}

/* Writes VALUE to OUT as a label value: backslash, quote and LF escaped. */
static void put_label(struct evbuffer *out, const char *value)
{
	for (const char *p = value; *p != '\0'; p++) {
		if (*p == '\\' || *p == '"')
			evbuffer_add_printf(out, "\\%c", *p);
		else if (*p == '\n')
			evbuffer_add(out, "\\n", 2);
		else
			evbuffer_add(out, p, 1);
	}
}

/* Writes the HELP and TYPE lines of NAME. */
static void put_head(struct evbuffer *out, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(out, "# HELP udo_vsockd_%s %s\n# TYPE udo_vsockd_%s %s\n", name, help, name, type);
}

/* Writes one sample: NAME{LABEL="VALUE"} N (a VALUE NULL: no labels). */
static void put_sample(struct evbuffer *out, const char *name, const char *label, const char *value, uint64_t n)
{
	evbuffer_add_printf(out, "udo_vsockd_%s", name);
	if (label != NULL) {
		evbuffer_add_printf(out, "{%s=\"", label);
		put_label(out, value);
		evbuffer_add(out, "\"}", 2);
	}
	evbuffer_add_printf(out, " %" PRIu64 "\n", n);
}

/* The resident memory of the daemon in bytes (/proc/self/statm), or 0. */
static uint64_t resident_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "re");
	unsigned long long size, resident;
	int ok = f != NULL && fscanf(f, "%llu %llu", &size, &resident) == 2;

	if (f != NULL)
		fclose(f);
	long page = sysconf(_SC_PAGESIZE);
	return ok && page > 0 ? (uint64_t)resident * (uint64_t)page : 0;
}

/* True if MC is shown on the page of S: it counted something, or the
 * config in force has its command (a slot readied by a failed reload, or
 * of a command removed before it ran, is not). */
static int command_shown(const struct server *s, const struct metrics_command *mc)
{
	return mc->requests > 0 || mc == &s->metrics->unknown || config_find_command(s->config, mc->name) != NULL;
}

/* The first command slot of S to show (the unknown one comes last). */
static const struct metrics_command *first_command(const struct server *s)
{
	const struct metrics_command *mc = s->metrics->commands;

	while (mc != NULL && !command_shown(s, mc))
		mc = mc->next;
	return mc != NULL ? mc : &s->metrics->unknown;
}

/* The command slot of S after MC to show, or NULL. */
static const struct metrics_command *next_command(const struct server *s, const struct metrics_command *mc)
{
	if (mc == &s->metrics->unknown)
		return NULL;
	do
		mc = mc->next;
	while (mc != NULL && !command_shown(s, mc));
	return mc != NULL ? mc : &s->metrics->unknown;
}

/* Writes the whole page of S to OUT. */
static void metrics_page(struct server *s, struct evbuffer *out)
{
	struct metrics *m = s->metrics;

	put_head(out, "requests_total", "counter", "Requests dispatched, by command.");
	for (const struct metrics_command *mc = first_command(s); mc != NULL; mc = next_command(s, mc))
		put_sample(out, "requests_total", "command", mc->name, mc->requests);
	put_head(out, "errors_total", "counter", "ERR replies of requests, by command and error code.");
	for (const struct metrics_command *mc = first_command(s); mc != NULL; mc = next_command(s, mc)) {
		for (int i = 0; i < METRICS_NCODES; i++) {
			if (mc->errors[i] == 0)
				continue;
			evbuffer_add(out, "udo_vsockd_errors_total{command=\"", 33);
			put_label(out, mc->name);
			evbuffer_add_printf(out, "\",code=\"%s\"} %" PRIu64 "\n", error_codes[i], mc->errors[i]);
		}
	}
	put_head(out, "bytes_out_total", "counter", "Reply bytes written, by command.");
	for (const struct metrics_command *mc = first_command(s); mc != NULL; mc = next_command(s, mc))
		put_sample(out, "bytes_out_total", "command", mc->name, mc->bytes_out);
	put_head(out, "request_duration_seconds", "histogram", "Time from dispatch to the reply, by command.");
	for (const struct metrics_command *mc = first_command(s); mc != NULL; mc = next_command(s, mc)) {
		uint64_t cum = 0;
		for (int i = 0; i <= METRICS_NBUCKETS; i++) {
			cum += mc->buckets[i];
			evbuffer_add(out, "udo_vsockd_request_duration_seconds_bucket{command=\"", 52);
			put_label(out, mc->name);
			evbuffer_add_printf(out, "\",le=\"%s\"} %" PRIu64 "\n",
			                    i < METRICS_NBUCKETS ? bucket_le[i] : "+Inf", cum);
		}
		evbuffer_add(out, "udo_vsockd_request_duration_seconds_sum{command=\"", 49);
		put_label(out, mc->name);
		evbuffer_add_printf(out, "\"} %" PRIu64 ".%06" PRIu64 "\n", mc->sum_us / 1000000, mc->sum_us % 1000000);
		evbuffer_add(out, "udo_vsockd_request_duration_seconds_count{command=\"", 51);
		put_label(out, mc->name);
		evbuffer_add_printf(out, "\"} %" PRIu64 "\n", cum);
	}
	put_head(out, "peer_requests_total", "counter",
	         "Requests dispatched, by peer; peers past metrics-max-peers are summed as other.");
	for (const struct metrics_peer *p = m->peers; p != NULL; p = p->next)
		put_sample(out, "peer_requests_total", "peer", p->key, p->requests);
	put_sample(out, "peer_requests_total", "peer", m->other.key, m->other.requests);
	put_head(out, "connections", "gauge", "Client connections open.");
	put_sample(out, "connections", NULL, NULL, s->nconns);
	put_head(out, "exec_jobs", "gauge", "Exec jobs running.");
	put_sample(out, "exec_jobs", NULL, NULL, exec_running_jobs());
	put_head(out, "detached_jobs", "gauge", "Detached jobs running.");
	put_sample(out, "detached_jobs", NULL, NULL, jobs_running());
	put_head(out, "buffered_bytes", "gauge", "Bytes held in connection buffers (counted against max-buffered).");
	put_sample(out, "buffered_bytes", NULL, NULL, s->buffered);
	put_head(out, "resident_memory_bytes", "gauge", "Resident memory of the daemon.");
	put_sample(out, "resident_memory_bytes", NULL, NULL, resident_bytes());
}

/* GET /metrics. */
static void metrics_cb(struct evhttp_request *hreq, void *arg)
{
	struct server *s = arg;
	enum evhttp_cmd_type method = evhttp_request_get_command(hreq);
	struct evbuffer *out = evbuffer_new();

	if (out == NULL) {
		evhttp_send_error(hreq, HTTP_INTERNAL, NULL);
		return;
	}
	if (method == EVHTTP_REQ_GET)
		metrics_page(s, out);
	evhttp_add_header(evhttp_request_get_output_headers(hreq), "Content-Type", "text/plain; version=0.0.4");
	evhttp_send_reply(hreq, HTTP_OK, "OK", out);
	evbuffer_free(out);
}

/* Any other path. */
static void notfound_cb(struct evhttp_request *hreq, void *arg)
{
	evhttp_send_error(hreq, HTTP_NOTFOUND, NULL);
}

/* Closes EP, removing its socket file. */
static void endpoint_free(struct metrics_endpoint *ep)
{
	if (ep == NULL)
		return;
	evhttp_free(ep->http); /* closes the socket and its connections */
	if (ep->path[0] != '\0')
		unlink(ep->path);
	free(ep);
}

/* Binds TEXT (parsed with parse_addr) and serves it on S's loop. Returns
 * the endpoint, or NULL after logging why. */
static struct metrics_endpoint *endpoint_open(struct server *s, const char *text)
{
	struct metrics_addr a;
	char canon[UDO_VSOCK_ADDR_STRLEN], why[256];
	int fd = -1, one = 1;
	struct metrics_endpoint *ep = calloc(1, sizeof(*ep));

	if (ep == NULL) {
		log_warnx("metrics-listen %s: out of memory", text);
		return NULL;
	}
	if (parse_addr(text, &a, canon, sizeof(canon), why, sizeof(why)) < 0) {
		log_warnx("%s", why);
		goto fail;
	}
	snprintf(ep->text, sizeof(ep->text), "%s", canon);
	if (a.family == AF_UNIX) {
		const char *path = a.unix_addr.path;
		if (path[0] != '@') {
			/* A socket file nobody answers on is a leftover: replace it. */
			struct stat st;
			if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
				int probe = udo_vsock_addr_connect(&a.unix_addr, 0, UDO_VSOCK_ADDR_NOWAIT, NULL, 0);
				if (probe < 0 && errno == ECONNREFUSED)
					unlink(path);
				if (probe >= 0)
					close(probe);
			}
		}
		fd = udo_vsock_addr_listen(&a.unix_addr, 64, UDO_VSOCK_ADDR_NONBLOCK, why, sizeof(why));
		if (fd < 0) {
			log_warnx("metrics-listen %s: %s", text, why);
			goto fail;
		}
		if (path[0] != '@')
			snprintf(ep->path, sizeof(ep->path), "%s", path);
	} else {
		fd = socket(a.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			log_warn("metrics-listen %s: socket", text);
			goto fail;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&a.sa, a.salen) < 0) {
			log_warn("metrics-listen %s: bind", text);
			goto fail;
		}
		if (listen(fd, 64) < 0) {
			log_warn("metrics-listen %s: listen", text);
			goto fail;
		}
	}
	ep->http = evhttp_new(s->base);
	if (ep->http == NULL || evhttp_accept_socket_with_handle(ep->http, fd) == NULL) {
		log_warnx("metrics-listen %s: cannot start the HTTP server", text);
		goto fail;
	}
	fd = -1; /* the HTTP server's now */
	evhttp_set_allowed_methods(ep->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_max_headers_size(ep->http, 8192);
	evhttp_set_max_body_size(ep->http, 0);
	evhttp_set_timeout(ep->http, 10);
	if (evhttp_set_cb(ep->http, "/metrics", metrics_cb, s) < 0) {
		log_warnx("metrics-listen %s: out of memory", text);
		goto fail;
	}
	evhttp_set_gencb(ep->http, notfound_cb, NULL);
	log_info("metrics served on %s", ep->text);
	return ep;
fail:
	if (fd >= 0)
		close(fd);
	if (ep->http != NULL)
		evhttp_free(ep->http);
	if (ep->path[0] != '\0')
		unlink(ep->path);
	free(ep);
	return NULL;
}

/* The slot of command NAME in M, made if new; NULL when out of memory. */
static struct metrics_command *command_slot(struct metrics *m, const char *name)
{
	struct metrics_command **tail = &m->commands;

	for (; *tail != NULL; tail = &(*tail)->next) {
		if (strcmp((*tail)->name, name) == 0)
			return *tail;
	}
	struct metrics_command *mc = calloc(1, sizeof(*mc));
	if (mc == NULL)
		return NULL;
	snprintf(mc->name, sizeof(mc->name), "%s", name);
	*tail = mc;
	return mc;
}

/* Gives every command of CONF its slot. Returns 0 or -1 (out of memory). */
static int attach_commands(struct metrics *m, struct config *conf)
{
	for (struct command *cmd = conf->commands; cmd != NULL; cmd = cmd->next) {
		if ((cmd->metrics = command_slot(m, cmd->name)) == NULL) {
			log_warnx("out of memory for the counters of '%s'", cmd->name);
			return -1;
		}
	}
	return 0;
}

int metrics_start(struct server *s, struct config *conf)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (m == NULL) {
		log_warnx("out of memory for the metrics");
		return -1;
	}
	s->metrics = m;
	snprintf(m->unknown.name, sizeof(m->unknown.name), "%s", METRICS_UNKNOWN);
	snprintf(m->other.key, sizeof(m->other.key), "other");
	m->peers_tail = &m->peers;
	if (attach_commands(m, conf) < 0)
		return -1;
	if (conf->metrics_listen != NULL && (m->ep = endpoint_open(s, conf->metrics_listen)) == NULL)
		return -1;
	s->metrics_counting = m->ep != NULL;
	return 0;
}

int metrics_prepare(struct server *s, struct config *conf)
{
	struct metrics *m = s->metrics;
	const char *now = m->ep != NULL ? m->ep->text : NULL;

	m->fresh = NULL;
	m->fresh_set = 0;
	if (attach_commands(m, conf) < 0)
		return -1;
	if (conf->metrics_listen == NULL ? now == NULL : now != NULL && strcmp(now, conf->metrics_listen) == 0)
		return 0; /* unchanged */
	m->fresh_set = 1;
	if (conf->metrics_listen != NULL && (m->fresh = endpoint_open(s, conf->metrics_listen)) == NULL) {
		m->fresh_set = 0;
		return -1;
	}
	return 0;
}

void metrics_commit(struct server *s, struct config *conf)
{
	struct metrics *m = s->metrics;

	if (!m->fresh_set)
		return;
	endpoint_free(m->ep);
	m->ep = m->fresh;
	m->fresh = NULL;
	m->fresh_set = 0;
	s->metrics_counting = m->ep != NULL;
	if (m->ep == NULL)
		log_info("metrics endpoint closed");
}

void metrics_abort(struct server *s)
{
	struct metrics *m = s->metrics;

	endpoint_free(m->fresh);
	m->fresh = NULL;
	m->fresh_set = 0;
}

void metrics_free(struct server *s)
{
	struct metrics *m = s->metrics;

	if (m == NULL)
		return;
	endpoint_free(m->ep);
	endpoint_free(m->fresh);
	while (m->commands != NULL) {
		struct metrics_command *next = m->commands->next;
		free(m->commands);
		m->commands = next;
	}
	while (m->peers != NULL) {
		struct metrics_peer *next = m->peers->next;
		free(m->peers);
		m->peers = next;
	}
	free(m);
	s->metrics = NULL;
	s->metrics_counting = 0;
}

/* The slot of KEY, the peer of a request under CONF: its own while fewer
 * than metrics-max-peers have one, else "other". Looked up once per
 * connection (and reload). */
static struct metrics_peer *peer_slot(struct metrics *m, const char *key, const struct config *conf)
{
	struct metrics_peer **head = &m->peer_index[util_fnv1a(key) % METRICS_PEER_BUCKETS];
	struct metrics_peer *p;

	for (p = *head; p != NULL; p = p->hnext) {
		if (strcmp(p->key, key) == 0)
			return p;
	}
	if (m->npeers >= conf->limits.metrics_max_peers || key[0] == '\0')
		return &m->other;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return &m->other;
	snprintf(p->key, sizeof(p->key), "%s", key);
	p->hnext = *head;
	*head = p;
	*m->peers_tail = p;
	m->peers_tail = &p->next;
	m->npeers++;
	return p;
}

void metrics_request_begin(struct request *req)
{
	struct metrics *m = req->server->metrics;

	req->metrics = req->cmd != NULL ? req->cmd->metrics : NULL;
	if (req->metrics == NULL) {
		/* Denied (the command is known, the request's cmd is not set)
		 * or unknown. */
		const struct command *cmd = config_find_command(req->config, req->argv[0]);
		req->metrics = cmd != NULL && cmd->metrics != NULL ? cmd->metrics : &m->unknown;
	}
	if (*req->metrics_slot == NULL)
		*req->metrics_slot = peer_slot(m, req->peer_key, req->config);
	req->metrics_peer = *req->metrics_slot;
	if (req->config->audit == AUDIT_NONE)
		req->started_us = server_turn_us(req->server);
}

void metrics_request_end(struct request *req, const char *status, const char *code)
{
	struct metrics_command *mc = req->metrics;
	uint64_t now = util_monotonic_us();
	uint64_t us = now > req->started_us ? now - req->started_us : 0;
	int b = 0;

	req->metrics = NULL;
	mc->requests++;
	req->metrics_peer->requests++;
	mc->bytes_out += req->bytes_out;
	mc->sum_us += us;
	while (b < METRICS_NBUCKETS && us > bucket_us[b])
		b++;
	mc->buckets[b]++;
	if (code != NULL) {
		for (int i = 0; i < METRICS_NCODES; i++) {
			if (strcmp(code, error_codes[i]) == 0) {
				mc->errors[i]++;
				break;
			}
		}
	}
}
