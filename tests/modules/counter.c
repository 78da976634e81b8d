/* counter.c - test module: counts how often its handler really runs.
 *
 * Kinds: counter (adds one, answers "OK N" or "OK GREETING N" with the
 * option greeting = TEXT) and counter-peek (answers the count, unchanged). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <udo/vsockd-module.h>

static unsigned long runs;

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

static const struct udo_vsockd_kind kinds[] = {
	{.name = "counter",
	 .max_args = -1,
	 .usage = "[ANY...]",
	 .summary = "count a run",
	 .set_option = counter_set_option,
	 .run = counter_run,
	 .free_data = free},
	{.name = "counter-peek", .usage = "", .summary = "show the count", .run = peek_run},
	{.name = NULL},
};

extern const struct udo_vsockd_module udo_vsockd_module;
const struct udo_vsockd_module udo_vsockd_module = {
	.abi_version = UDO_VSOCKD_MODULE_ABI,
	.name = "counter",
	.version = "test",
	.kinds = kinds,
};
