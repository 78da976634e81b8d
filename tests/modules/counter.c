/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* counter.c - test module: counts how often its handler really runs.
 *
 * Kinds: counter (adds one, answers "OK N" or "OK GREETING N" with the
 * option greeting = TEXT), counter-peek (answers the count, unchanged)
 * and counter-later (answers "OK later" after 300 ms from a timer, and
 * touches the module's memory after finishing, as real modules may: a
 * daemon that unloaded the module inside that call would crash). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <udo/vsockd-module.h>

static unsigned long runs;
static volatile unsigned long finished_later, cancelled_later;

/* Option greeting = TEXT. Returns 0 or -1 with WHY. */
static int counter_set_option(void **data, const char *key, const char *value, char *why, size_t whylen)
{
	if (strcmp(key, "greeting") != 0) {
		snprintf(why, whylen, "counter: unknown option '%s'", key);
		return -1;
	}
	free(*data);
	*data = strdup(value);
	if (*data == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	return 0;
}

/* Counts one run and answers the new count. */
static void counter_run(const struct udo_vsockd_api *api, struct udo_vsockd_request *req, void *data)
{
	char text[160];

	runs++;
	snprintf(text, sizeof(text), "%s%s%lu", data != NULL ? (char *)data : "", data != NULL ? " " : "", runs);
	api->ok(req, text);
}

/* Answers the count without counting. */
static void peek_run(const struct udo_vsockd_api *api, struct udo_vsockd_request *req, void *data)
{
	char text[32];

	snprintf(text, sizeof(text), "%lu", runs);
	api->ok(req, text);
}

/* One pending counter-later. */
struct later {
	const struct udo_vsockd_api *api;
	struct udo_vsockd_request *req;
	struct event *timer;
};

/* The timer: answer, then use module memory once more. */
static void later_fire(evutil_socket_t fd, short what, void *arg)
{
	struct later *l = arg;

	event_free(l->timer);
	l->api->set_state(l->req, NULL);
	l->api->ok(l->req, "later");
	free(l);
	finished_later++;
}

/* Starts the timer; answers ERR internal if it cannot. */
static void later_run(const struct udo_vsockd_api *api, struct udo_vsockd_request *req, void *data)
{
	struct later *l = calloc(1, sizeof(*l));
	struct timeval tv = {0, 300000};

	if (l == NULL || (l->timer = evtimer_new(api->event_base(req), later_fire, l)) == NULL ||
	    evtimer_add(l->timer, &tv) < 0) {
		if (l != NULL && l->timer != NULL)
			event_free(l->timer);
		free(l);
		api->err(req, "internal", "no timer");
		return;
	}
	l->api = api;
	l->req = req;
	api->set_state(req, l);
}

/* The client left: drop the timer, finish, then use module memory. */
static void later_cancel(const struct udo_vsockd_api *api, struct udo_vsockd_request *req, void *data)
{
	struct later *l = api->get_state(req);

	if (l != NULL) {
		event_free(l->timer);
		free(l);
	}
	api->finish_cancelled(req);
	cancelled_later++;
}

static const struct udo_vsockd_kind kinds[] = {
    {.name = "counter",
     .max_args = -1,
     .usage = "[ANY...]",
     .summary = "count a run",
     .set_option = counter_set_option,
     .run = counter_run,
     .free_data = free},
    {.name = "counter-peek", .usage = "", .summary = "show the count", .run = peek_run},
    {.name = "counter-later", .usage = "", .summary = "answer later", .run = later_run, .cancel = later_cancel},
    {.name = NULL},
};

extern const struct udo_vsockd_module udo_vsockd_module;
const struct udo_vsockd_module udo_vsockd_module = {
    .abi_version = UDO_VSOCKD_MODULE_ABI,
    .name = "counter",
    .version = "test",
    .kinds = kinds,
};
