/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* faulty.c - test module: handlers that misbehave the ways real ones can.
 *
 * Kinds:
 *   crash segv|abort    dies inside run(), as a buggy module would
 *   hang                never answers; cancel() frees its state
 *   fail CODE [TEXT]    answers api->err(CODE, TEXT); CODE "null" is NULL
 *   alloc BYTES         mallocs and touches BYTES; ERR internal if that fails
 *   flood BYTES [async] sends BYTES of data in 100-byte numbered lines
 *                       (0: without end, async only), in run() or from a
 *                       timer while connected(); then OK sent=N
 *   faultstat           OK hang=STARTED/CANCELLED flood=STARTED/CANCELLED/STOPPED
 * The counters let a test see that the daemon cancelled what it had to. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <event2/event.h>
#include <udo/vsockd-module.h>

#define FLOOD_LINE  100 /* payload bytes per data line */
#define FLOOD_BURST 64  /* lines per loop turn of an asynchronous flood */

static unsigned long hang_started, hang_cancelled;
static unsigned long flood_started, flood_cancelled, flood_stopped;

/* Parses a non-negative decimal number. Returns 0 or -1. */
static int parse_size(const char *text, unsigned long long *out)
{
	char *end;

	if (text == NULL || text[0] < '0' || text[0] > '9')
		return -1;
	*out = strtoull(text, &end, 10);
	return *end == '\0' ? 0 : -1;
}

/* Dies the way the argument says. */
static void crash_run(const struct udo_vsockd_api *api, struct udo_vsockd_request *req, void *data)
{
	const char *how = api->argv(req, 1);

	api->log(UDO_VSOCKD_LOG_NOTICE, "faulty: crashing with %s", how);
	if (strcmp(how, "abort") == 0)
		abort();
	if (strcmp(how, "segv") == 0) {
		/* A store to a page it may not touch. Not through NULL: UBSan
		 * would catch that store and exit before the fault happens. */
		volatile int *page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (page != MAP_FAILED)
			*page = 1;
		raise(SIGSEGV);
	}
	api->err(req, "usage", "crash segv|abort");
}

/* Starts a request that never finishes by itself. */
static void hang_run(const struct udo_vsockd_api *api, struct udo_vsockd_request *req, void *data)
{
	/* Some memory of its own, as a real pending request would hold. */
	void *state = malloc(4096);

	if (state == NULL) {
		api->err(req, "internal", "out of memory");
		return;
	}
	hang_started++;
	api->set_state(req, state);
}

/* The daemon cancels a hanging request: free it, finish it. */
static void hang_cancel(const struct udo_vsockd_api *api, struct udo_vsockd_request *req, void *data)
{
	free(api->get_state(req));
	api->set_state(req, NULL);
	hang_cancelled++;
	api->finish_cancelled(req);
}

/* Answers with the error code and text of the request. */
static void fail_run(const struct udo_vsockd_api *api, struct udo_vsockd_request *req, void *data)
{
	const char *code = api->argv(req, 1);

	api->err(req, strcmp(code, "null") == 0 ? NULL : code, api->argc(req) > 2 ? api->argv(req, 2) : NULL);
}

/* Allocates what the client asks, as a module doing real work would. */
static void alloc_run(const struct udo_vsockd_api *api, struct udo_vsockd_request *req, void *data)
{
	unsigned long long n;
	char text[64];

	if (parse_size(api->argv(req, 1), &n) < 0 || n == 0) {
		api->err(req, "usage", "alloc BYTES");
		return;
	}
	char *p = malloc(n);
	if (p == NULL) {
		api->err(req, "internal", "out of memory");
		return;
	}
	memset(p, 0x5a, n);
	snprintf(text, sizeof(text), "allocated=%llu", n);
	free(p);
	api->ok(req, text);
}

/* One flood in progress. */
struct flood {
	const struct udo_vsockd_api *api;
	struct udo_vsockd_request *req;
	struct event *timer;
	unsigned long long limit; /* bytes; 0: none */
	unsigned long long sent;
	unsigned long line;
};

/* Sends line number F->line (FLOOD_LINE bytes). */
static void flood_line(struct flood *f)
{
	char buf[FLOOD_LINE + 1];

	snprintf(buf, sizeof(buf), "%08lu %090d", f->line++, 0);
	f->api->data(f->req, buf, FLOOD_LINE);
	f->sent += FLOOD_LINE;
}

/* Finishes F's request and frees F. */
static void flood_finish(struct flood *f)
{
	char text[64];
	const struct udo_vsockd_api *api = f->api;
	struct udo_vsockd_request *req = f->req;

	snprintf(text, sizeof(text), "sent=%llu", f->sent);
	if (f->timer != NULL)
		event_free(f->timer);
	free(f);
	api->set_state(req, NULL);
	api->ok(req, text);
}

/* A loop turn of an asynchronous flood: a burst, then yield. */
static void flood_tick(evutil_socket_t fd, short what, void *arg)
{
	struct flood *f = arg;

	for (int i = 0; i < FLOOD_BURST && (f->limit == 0 || f->sent < f->limit); i++) {
		if (!f->api->connected(f->req)) {
			/* The daemon says the client cannot take more. */
			flood_stopped++;
			flood_finish(f);
			return;
		}
		flood_line(f);
	}
	if (f->limit != 0 && f->sent >= f->limit) {
		flood_finish(f);
		return;
	}
	event_active(f->timer, EV_TIMEOUT, 0);
}

/* FLOOD BYTES [async]. */
static void flood_run(const struct udo_vsockd_api *api, struct udo_vsockd_request *req, void *data)
{
	unsigned long long n;
	int async = api->argc(req) > 2 && strcmp(api->argv(req, 2), "async") == 0;

	if (parse_size(api->argv(req, 1), &n) < 0 || (n == 0 && !async)) {
		api->err(req, "usage", "flood BYTES [async]");
		return;
	}
	struct flood *f = calloc(1, sizeof(*f));
	if (f == NULL) {
		api->err(req, "internal", "out of memory");
		return;
	}
	f->api = api;
	f->req = req;
	f->limit = n;
	flood_started++;
	if (!async) {
		while (f->sent < f->limit)
			flood_line(f);
		flood_finish(f);
		return;
	}
	f->timer = evtimer_new(api->event_base(req), flood_tick, f);
	if (f->timer == NULL) {
		free(f);
		api->err(req, "internal", "no timer");
		return;
	}
	api->set_state(req, f);
	event_active(f->timer, EV_TIMEOUT, 0);
}

/* The client of an asynchronous flood has gone. */
static void flood_cancel(const struct udo_vsockd_api *api, struct udo_vsockd_request *req, void *data)
{
	struct flood *f = api->get_state(req);

	if (f != NULL) {
		event_free(f->timer);
		free(f);
		api->set_state(req, NULL);
	}
	flood_cancelled++;
	api->finish_cancelled(req);
}

/* The counters. */
static void faultstat_run(const struct udo_vsockd_api *api, struct udo_vsockd_request *req, void *data)
{
	char text[160];

	snprintf(text, sizeof(text), "hang=%lu/%lu flood=%lu/%lu/%lu", hang_started, hang_cancelled, flood_started,
	         flood_cancelled, flood_stopped);
	api->ok(req, text);
}

static const struct udo_vsockd_kind kinds[] = {
    {.name = "crash", .min_args = 1, .max_args = 1, .usage = "segv|abort", .summary = "die", .run = crash_run},
    {.name = "hang", .usage = "", .summary = "never answer", .run = hang_run, .cancel = hang_cancel},
    {.name = "fail", .min_args = 1, .max_args = 2, .usage = "CODE [TEXT]", .summary = "fail", .run = fail_run},
    {.name = "alloc", .min_args = 1, .max_args = 1, .usage = "BYTES", .summary = "allocate", .run = alloc_run},
    {.name = "flood",
     .min_args = 1,
     .max_args = 2,
     .usage = "BYTES [async]",
     .summary = "send data",
     .run = flood_run,
     .cancel = flood_cancel},
    {.name = "faultstat", .usage = "", .summary = "counters", .run = faultstat_run},
    {.name = NULL},
};

extern const struct udo_vsockd_module udo_vsockd_module;
const struct udo_vsockd_module udo_vsockd_module = {
    .abi_version = UDO_VSOCKD_MODULE_ABI,
    .name = "faulty",
    .version = "test",
    .kinds = kinds,
};
