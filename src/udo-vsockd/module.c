/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* module.c - loadable handler modules: dlopen, the module API, unloading */
#include "module.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <udo/vsockd-module.h>

#include "conf.h"
#include "handler.h"
#include "log.h"
#include "proto.h"
#include "request.h"
#include "server.h"
#include "util.h"

/* A module's kind as the daemon sees it: a handler kind whose calls go
 * through the module ABI. */
struct module_kind {
	struct handler_kind hk;
	const struct udo_vsockd_kind *mk;
	const struct module *mod;
};

struct module {
	void *handle;
	char *path;
	const struct udo_vsockd_module *def;
	struct module_kind *kinds;
	size_t nkinds;
	const char *file; /* the `module =` line */
	int line;
	struct module *next;
};

/* A command's data for a module kind: its kind, the module's data, and
 * what the daemon itself enforces for it. */
struct module_cmd {
	const struct module_kind *kind;
	void *data;
	unsigned int timeout_ms; /* `timeout =`: cancel an unanswered request; 0: never */
	char **opts;             /* the module's own options it took: key, value, key, ... */
	size_t nopts;            /* entries of opts (twice the options) */
};

/* The daemon's side of one module request, kept in request->state from
 * run() until the request is finished. */
struct module_req {
	struct request *req;
	void *state;         /* the module's own (api->set_state) */
	struct event *timer; /* the command's timeout; NULL: none */
	size_t cut;          /* output cut at this max-output-buffer; 0: not cut */
};

/* How deep the module API is on the stack: while > 0, module code is
 * below us and must not be unloaded yet. */
static unsigned int api_depth;
/* Handles whose dlclose waits for the next loop turn. */
static void **graveyard;
static size_t graveyard_len;
static struct event *graveyard_event;

#define KIND_OF(hk) ((const struct module_kind *)(const void *)(hk))
#define REQ(r)      ((struct request *)(void *)(r))

/* The error codes of udo-vsock-protocol(7): the only ones a module may send. */
static const char *const protocol_codes[] = {
    PROTO_ERR_SYNTAX, PROTO_ERR_UNKNOWN, PROTO_ERR_USAGE,  PROTO_ERR_DENIED,   PROTO_ERR_TOO_LONG,
    PROTO_ERR_BUSY,   PROTO_ERR_TIMEOUT, PROTO_ERR_FAILED, PROTO_ERR_INTERNAL, PROTO_ERR_UNAVAILABLE,
};

/* True if CODE is one of the protocol's error codes. */
static int protocol_code(const char *code)
{
	for (size_t i = 0; i < sizeof(protocol_codes) / sizeof(protocol_codes[0]); i++) {
		if (strcmp(code, protocol_codes[i]) == 0)
			return 1;
	}
	return 0;
}

/* api->data: data lines, within max-output-buffer unsent bytes. */
static void api_data(struct udo_vsockd_request *r, const char *payload, size_t len)
{
	struct request *req = REQ(r);
	struct module_req *mr = req->state;
	size_t limit;

	/* Gone, broken, finished (a module bug) or cut: nowhere to send it. */
	if (!request_connected(req) || mr == NULL || mr->cut != 0)
		return;
	if (request_output_pending(req, &limit) + len > limit)
		request_flush(req); /* what the socket takes now is not buffered */
	if (request_output_pending(req, &limit) + len > limit) {
		/* Stop here: the rest is dropped and the reply ends in an error. */
		mr->cut = limit;
		log_peer(LOG_LEVEL_NOTICE, req->peer->text, req->peer->cid, req->cmd->name,
		         "output cut: more than max-output-buffer (%zu bytes) unsent", limit);
		return;
	}
	request_data(req, payload, len);
}

/* Ends the daemon's side of REQ (its timer) before it is finished.
 * Returns the max-output-buffer its output was cut at, or 0. */
static size_t module_req_end(struct request *req)
{
	struct module_req *mr = req->state;
	size_t cut;

	req->state = NULL;
	if (mr == NULL)
		return 0;
	cut = mr->cut;
	if (mr->timer != NULL)
		event_free(mr->timer);
	free(mr);
	return cut;
}

/* Finishes REQ, whose output was cut at LIMIT, with the error saying so. */
static void module_req_err_cut(struct request *req, size_t limit)
{
	request_err(req, PROTO_ERR_FAILED, "output exceeded max-output-buffer (%zu bytes)", limit);
}

/* api->ok: finishes with OK, or with the error of a cut output. */
static void api_ok(struct udo_vsockd_request *r, const char *text)
{
	api_depth++;
	size_t cut = module_req_end(REQ(r));
	if (cut != 0)
		module_req_err_cut(REQ(r), cut);
	else if (text != NULL && text[0] != '\0')
		request_ok(REQ(r), "%s", text);
	else
		request_ok(REQ(r), NULL);
	api_depth--;
}

/* api->err: finishes with ERR; a code the protocol does not define is
 * sent as internal, and a cut output wins over the module's error. */
static void api_err(struct udo_vsockd_request *r, const char *code, const char *text)
{
	struct request *req = REQ(r);

	api_depth++;
	size_t cut = module_req_end(req);
	if (cut != 0) {
		module_req_err_cut(req, cut);
	} else {
		if (code == NULL || !protocol_code(code)) {
			log_peer(LOG_LEVEL_INFO, req->peer->text, req->peer->cid, req->cmd->name,
			         "module error code '%s' is not a protocol code: sent as internal",
			         code != NULL ? code : "(null)");
			code = PROTO_ERR_INTERNAL;
		}
		request_err(req, code, "%s", text != NULL ? text : "");
	}
	api_depth--;
}

/* api->finish_cancelled: finishes without a reply. */
static void api_finish_cancelled(struct udo_vsockd_request *r)
{
	api_depth++;
	module_req_end(REQ(r));
	request_finish_cancelled(REQ(r));
	api_depth--;
}

/* api->event_base: the daemon's loop. */
static struct event_base *api_event_base(struct udo_vsockd_request *r)
{
	return REQ(r)->server->base;
}

/* api->get_state. */
static void *api_get_state(struct udo_vsockd_request *r)
{
	struct module_req *mr = REQ(r)->state;

	return mr != NULL ? mr->state : NULL;
}

/* api->set_state. */
static void api_set_state(struct udo_vsockd_request *r, void *state)
{
	struct module_req *mr = REQ(r)->state;

	if (mr != NULL)
		mr->state = state;
}

/* api->argc: 0 outside run(), when argv is no longer valid. */
static int api_argc(struct udo_vsockd_request *r)
{
	return REQ(r)->argv != NULL ? REQ(r)->argc : 0;
}

/* api->argv: word I, or NULL when out of range or outside run(). */
static const char *api_argv(struct udo_vsockd_request *r, int i)
{
	struct request *req = REQ(r);

	if (req->argv == NULL || i < 0 || i >= req->argc)
		return NULL;
	return i == 0 ? req->cmd->name : req->argv[i];
}

/* api->command. */
static const char *api_command(struct udo_vsockd_request *r)
{
	return REQ(r)->cmd->name;
}

/* api->peer_transport. */
static enum udo_vsockd_transport api_peer_transport(struct udo_vsockd_request *r)
{
	return REQ(r)->peer->transport == UDO_VSOCK_ADDR_UNIX ? UDO_VSOCKD_TRANSPORT_UNIX : UDO_VSOCKD_TRANSPORT_VSOCK;
}

/* api->peer_cid. */
static uint32_t api_peer_cid(struct udo_vsockd_request *r)
{
	return REQ(r)->peer->cid;
}

/* api->peer_port. */
static uint32_t api_peer_port(struct udo_vsockd_request *r)
{
	return REQ(r)->peer->port;
}

/* api->peer_identity. */
static const char *api_peer_identity(struct udo_vsockd_request *r)
{
	return REQ(r)->peer->identity;
}

/* api->connected: 0 once the client has gone, its connection broke
 * (closed at the next turn) or the output was cut. */
static int api_connected(struct udo_vsockd_request *r)
{
	const struct module_req *mr = REQ(r)->state;

	return request_connected(REQ(r)) && (mr == NULL || mr->cut == 0);
}

/* api->log: through the daemon's log at LEVEL (clamped to err..debug). */
static void api_log(enum udo_vsockd_log_level level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (level < UDO_VSOCKD_LOG_ERR)
		level = UDO_VSOCKD_LOG_ERR;
	if (level > UDO_VSOCKD_LOG_DEBUG)
		level = UDO_VSOCKD_LOG_DEBUG;
	log_peer((enum log_level)level, NULL, 0, NULL, "%s", msg);
}

static const struct udo_vsockd_api module_api = {
    .abi = UDO_VSOCKD_MODULE_ABI,
    .size = sizeof(struct udo_vsockd_api),
    .data = api_data,
    .ok = api_ok,
    .err = api_err,
    .finish_cancelled = api_finish_cancelled,
    .event_base = api_event_base,
    .get_state = api_get_state,
    .set_state = api_set_state,
    .argc = api_argc,
    .argv = api_argv,
    .command = api_command,
    .peer_transport = api_peer_transport,
    .peer_cid = api_peer_cid,
    .peer_port = api_peer_port,
    .peer_identity = api_peer_identity,
    .connected = api_connected,
    .log = api_log,
};

/* The module data of CMD, created on first use. Returns it, or NULL
 * (ENOMEM). */
static void *module_cmd_get(struct command *cmd)
{
	if (cmd->data == NULL) {
		struct module_cmd *mc = calloc(1, sizeof(*mc));
		if (mc == NULL)
			return NULL;
		mc->kind = KIND_OF(cmd->kind);
		cmd->data = mc;
	}
	return cmd->data;
}

/* The daemon's own `timeout` of a module kind's command: only for a kind
 * that can be cancelled. */
static int mk_timeout(const struct option_spec *spec, void *target, void *ctx, const char *value, char *why,
                      size_t whylen)
{
	struct module_cmd *mc = target;
	unsigned long long ms;

	if (mc->kind->mk->cancel == NULL) {
		snprintf(why, whylen, "timeout: handler '%s' always answers at once (it has no cancel())",
		         mc->kind->mk->name);
		return -1;
	}
	if (option_value(spec, value, &ms, why, whylen) < 0)
		return -1;
	mc->timeout_ms = (unsigned int)ms;
	return 0;
}

/* Writes `timeout`, which only a kind with cancel() takes. */
static void mk_timeout_format(const struct option_spec *spec, const void *target, const void *ctx, FILE *out)
{
	const struct module_cmd *mc = target;
	struct option_spec plain = *spec;

	if (mc->kind->mk->cancel == NULL) {
		fprintf(out, "# %s: none (handler '%s' always answers at once)\n", spec->name, mc->kind->mk->name);
		return;
	}
	plain.format = NULL;
	option_format(&plain, target, ctx, out);
}

/* The daemon's options of every module kind; the module never sees them. */
static const struct option_spec mk_options[] = {
    OPTION_FORMAT("timeout", OPT_DURATION, 0, 86400000, struct module_cmd, timeout_ms, mk_timeout, mk_timeout_format),
    OPTION_END,
};

/* handler_kind.set_option of a module kind: the module's own options. */
static int mk_set_option(struct command *cmd, const char *key, const char *value, char *why, size_t whylen)
{
	struct module_cmd *mc = module_cmd_get(cmd);

	if (mc == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	if (mc->kind->mk->set_option == NULL) {
		snprintf(why, whylen, "handler '%s' has no option '%s'", mc->kind->mk->name, key);
		return -1;
	}
	if (mc->kind->mk->set_option(&mc->data, key, value, why, whylen) < 0)
		return -1;
	/* Kept as given, for udo-vsockd -D: only the module knows what it means. */
	char **opts = realloc(mc->opts, sizeof(*opts) * (mc->nopts + 2));
	if (opts == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	mc->opts = opts;
	opts[mc->nopts] = strdup(key);
	opts[mc->nopts + 1] = strdup(value);
	mc->nopts += 2;
	if (opts[mc->nopts - 2] == NULL || opts[mc->nopts - 1] == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	return 0;
}

/* handler_kind.format_options of a module kind: the module's own
 * options as they were given, in order. */
static void mk_format_options(const struct command *cmd, FILE *out)
{
	const struct module_cmd *mc = cmd->data;

	for (size_t i = 0; mc != NULL && i + 1 < mc->nopts; i += 2)
		fprintf(out, "%s = %s\n", mc->opts[i], mc->opts[i + 1]);
}

/* handler_kind.check of a module kind; always creates the command data. */
static int mk_check(struct command *cmd, char *why, size_t whylen)
{
	struct module_cmd *mc = module_cmd_get(cmd);

	if (mc == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	if (mc->kind->mk->check == NULL)
		return 0;
	return mc->kind->mk->check(&mc->data, why, whylen) < 0 ? -1 : 0;
}

/* A module request's timeout: the module cancels it as if its client had
 * gone, and the client, still there, gets ERR timeout. */
static void mk_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct module_req *mr = arg;
	struct request *req = mr->req;
	const struct module_cmd *mc = req->cmd->data;
	struct conn *c = req->conn;
	unsigned int ms = mc->timeout_ms;

	log_peer(LOG_LEVEL_NOTICE, req->peer->text, req->peer->cid, req->cmd->name, "no answer in %u ms: cancelled",
	         ms);
	/* From here on the module frees MR (and this event) and may drop the
	 * last reference to its config: touch neither MC nor REQ->cmd. */
	req->conn = NULL;
	req->audit_hold = c != NULL; /* one audit entry: the ERR timeout below */
	mc->kind->mk->cancel(&module_api, (struct udo_vsockd_request *)(void *)req, mc->data);
	if (req->config != NULL) {
		log_peer(LOG_LEVEL_ERR, req->peer->text, req->peer->cid, NULL,
		         "module did not finish a cancelled request");
		abort();
	}
	if (c == NULL)
		return;
	/* Finished without a reply: give the connection its status line. */
	req->conn = c;
	req->config = config_ref(req->server->config);
	req->audit_hold = 0;
	request_err(req, PROTO_ERR_TIMEOUT, "no answer in %u ms", ms);
}

/* handler_kind.run of a module kind: done if the module answered
 * within its run(), else pending. */
static enum req_status mk_run(struct request *req)
{
	const struct module_cmd *mc = req->cmd->data;
	struct module_req *mr = calloc(1, sizeof(*mr));

	if (mr != NULL && mc->timeout_ms > 0 &&
	    (mr->timer = evtimer_new(req->server->base, mk_timeout_cb, mr)) == NULL) {
		free(mr);
		mr = NULL;
	}
	if (mr == NULL) {
		log_peer(LOG_LEVEL_WARNING, req->peer->text, req->peer->cid, req->cmd->name,
		         "out of memory: request refused");
		request_err(req, PROTO_ERR_INTERNAL, "out of memory");
		return REQ_DONE;
	}
	mr->req = req;
	req->state = mr;
	mc->kind->mk->run(&module_api, (struct udo_vsockd_request *)(void *)req, mc->data);
	/* The words live in the connection's line buffer: gone after run().
	 * ARGC stays: the audit entry, written at the answer, counts them. */
	req->argv = NULL;
	/* Not answered yet (finishing clears the state): start the timeout. */
	if (req->state != NULL && mr->timer != NULL) {
		struct timeval tv = util_timeval_ms(mc->timeout_ms);
		if (evtimer_add(mr->timer, &tv) < 0)
			log_peer(LOG_LEVEL_WARNING, req->peer->text, req->peer->cid, req->cmd->name,
			         "cannot start the timeout timer: this request is not timed");
	}
	return request_outcome(req);
}

/* handler_kind.cancel of a module kind. */
static void mk_cancel(struct request *req)
{
	const struct module_cmd *mc = req->cmd->data;

	mc->kind->mk->cancel(&module_api, (struct udo_vsockd_request *)(void *)req, mc->data);
}

/* handler_kind.free_data of a module kind. */
static void mk_free_data(void *data)
{
	struct module_cmd *mc = data;

	if (mc->kind->mk->free_data != NULL && mc->data != NULL)
		mc->kind->mk->free_data(mc->data);
	for (size_t i = 0; i < mc->nopts; i++)
		free(mc->opts[i]);
	free(mc->opts);
	free(mc);
}

/* True if NAME is a valid kind name: [a-z0-9][a-z0-9_-]{0,31}. */
static int valid_kind_name(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 32)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && (c == '_' || c == '-'))))
			return 0;
	}
	return 1;
}

/* Checks one kind K of a module and fills *OUT. Returns 0 or -1 with WHY. */
static int kind_adopt(const struct udo_vsockd_kind *k, const struct module *m, const struct module *loaded,
                      struct module_kind *out, char *why, size_t whylen)
{
	if (!valid_kind_name(k->name)) {
		snprintf(why, whylen, "kind '%s' is not a valid name ([a-z0-9][a-z0-9_-]*)", k->name);
		return -1;
	}
	if (k->run == NULL || k->min_args < 0 || k->max_args < -1 || (k->max_args >= 0 && k->max_args < k->min_args)) {
		snprintf(why, whylen, "kind '%s' has no run() or impossible arguments (%d to %d)", k->name, k->min_args,
		         k->max_args);
		return -1;
	}
	if (handler_find(k->name) != NULL) {
		snprintf(why, whylen, "kind '%s' clashes with the built-in handler of that name", k->name);
		return -1;
	}
	for (const struct module *o = loaded; o != NULL; o = o->next) {
		if (module_find_kind(o, k->name) != NULL) {
			snprintf(why, whylen, "kind '%s' is already defined by module %s (%s:%d)", k->name, o->path,
			         o->file, o->line);
			return -1;
		}
	}
	for (size_t i = 0; i < m->nkinds; i++) {
		if (strcmp(m->kinds[i].mk->name, k->name) == 0) {
			snprintf(why, whylen, "kind '%s' is listed twice", k->name);
			return -1;
		}
	}
	out->mk = k;
	out->mod = m;
	out->hk.name = k->name;
	out->hk.min_args = k->min_args;
	out->hk.max_args = k->max_args;
	out->hk.usage = k->usage != NULL ? k->usage : "";
	out->hk.summary = k->summary != NULL ? k->summary : "";
	out->hk.options = mk_options; /* `timeout` is the daemon's */
	out->hk.get_data = module_cmd_get;
	out->hk.set_option = mk_set_option;
	out->hk.format_options = mk_format_options;
	out->hk.check = mk_check;
	out->hk.run = mk_run;
	out->hk.cancel = k->cancel != NULL ? mk_cancel : NULL;
	out->hk.free_data = mk_free_data;
	return 0;
}

/* Frees M's memory and closes its handle (no fini()). */
static void module_discard(struct module *m)
{
	if (m->handle != NULL)
		dlclose(m->handle);
	free(m->kinds);
	free(m->path);
	free(m);
}

struct module *module_load(const char *path, const struct module *loaded, char *why, size_t whylen)
{
	struct module *m = calloc(1, sizeof(*m));

	if (m == NULL || (m->path = strdup(path)) == NULL) {
		snprintf(why, whylen, "out of memory");
		free(m);
		return NULL;
	}
	m->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (m->handle == NULL) {
		const char *e = dlerror();
		snprintf(why, whylen, "module: cannot load: %s", e != NULL ? e : path);
		goto fail;
	}
	dlerror();
	m->def = dlsym(m->handle, UDO_VSOCKD_MODULE_SYMBOL);
	if (m->def == NULL) {
		snprintf(why, whylen, "module %s: no symbol '%s': not a udo-vsockd module", path,
		         UDO_VSOCKD_MODULE_SYMBOL);
		goto fail;
	}
	if (m->def->abi_version != UDO_VSOCKD_MODULE_ABI) {
		snprintf(why, whylen, "module %s: built for module ABI %u, this udo-vsockd has ABI %u; rebuild it",
		         path, m->def->abi_version, UDO_VSOCKD_MODULE_ABI);
		goto fail;
	}
	size_t n = 0;
	while (m->def->kinds != NULL && m->def->kinds[n].name != NULL)
		n++;
	if (n == 0) {
		snprintf(why, whylen, "module %s: defines no handler kind", path);
		goto fail;
	}
	m->kinds = calloc(n, sizeof(*m->kinds));
	if (m->kinds == NULL) {
		snprintf(why, whylen, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		char kwhy[200];
		if (kind_adopt(&m->def->kinds[i], m, loaded, &m->kinds[m->nkinds], kwhy, sizeof(kwhy)) < 0) {
			snprintf(why, whylen, "module %s: %s", path, kwhy);
			goto fail;
		}
		m->nkinds++;
	}
	if (m->def->init != NULL) {
		char iwhy[200] = "";
		if (m->def->init(&module_api, iwhy, sizeof(iwhy)) < 0) {
			snprintf(why, whylen, "module %s: init failed: %s", path, iwhy[0] ? iwhy : "(no reason given)");
			goto fail;
		}
	}
	return m;
fail:
	module_discard(m);
	return NULL;
}

void module_append(struct module **list, struct module *m)
{
	while (*list != NULL)
		list = &(*list)->next;
	*list = m;
}

const struct handler_kind *module_find_kind(const struct module *list, const char *name)
{
	for (const struct module *m = list; m != NULL; m = m->next) {
		for (size_t i = 0; i < m->nkinds; i++) {
			if (strcmp(m->kinds[i].mk->name, name) == 0)
				return &m->kinds[i].hk;
		}
	}
	return NULL;
}

const struct module *module_find_path(const struct module *list, const char *path)
{
	for (const struct module *m = list; m != NULL; m = m->next) {
		if (strcmp(m->path, path) == 0)
			return m;
	}
	return NULL;
}

void module_set_origin(struct module *m, const char *file, int line)
{
	m->file = file;
	m->line = line;
}

const char *module_origin_file(const struct module *m)
{
	return m->file;
}

int module_origin_line(const struct module *m)
{
	return m->line;
}

/* Closes every handle in the graveyard. */
static void graveyard_flush(void)
{
	for (size_t i = 0; i < graveyard_len; i++)
		dlclose(graveyard[i]);
	free(graveyard);
	graveyard = NULL;
	graveyard_len = 0;
}

/* The loop turn after a deferred unload: no module code is running now. */
static void graveyard_cb(evutil_socket_t fd, short what, void *arg)
{
	graveyard_flush();
}

/* Unloads HANDLE now, or on the next loop turn if module code may be on
 * the stack. Without an event loop to defer to, it stays loaded. */
static void module_close_handle(void *handle)
{
	if (api_depth == 0) {
		dlclose(handle);
		return;
	}
	void **g = realloc(graveyard, sizeof(*g) * (graveyard_len + 1));
	if (g == NULL || graveyard_event == NULL) {
		if (g != NULL)
			graveyard = g;
		log_warnx("module: cannot defer unloading; it stays loaded");
		return;
	}
	graveyard = g;
	graveyard[graveyard_len++] = handle;
	event_active(graveyard_event, EV_TIMEOUT, 0);
}

void module_unload_all(struct module *list)
{
	while (list != NULL) {
		struct module *next = list->next;
		if (list->def->fini != NULL)
			list->def->fini();
		module_close_handle(list->handle);
		list->handle = NULL;
		module_discard(list);
		list = next;
	}
}

int module_set_event_base(struct event_base *base)
{
	graveyard_event = event_new(base, -1, 0, graveyard_cb, NULL);
	return graveyard_event != NULL ? 0 : -1;
}

void module_shutdown(void)
{
	graveyard_flush();
	if (graveyard_event != NULL)
		event_free(graveyard_event);
	graveyard_event = NULL;
}
