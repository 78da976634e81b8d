/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* facts.c - example udo-vsockd module: facts about this machine, and an
 * asynchronous DELAY that answers after a timer on the daemon's loop.
 *
 *   [daemon]
 *   module = facts
 *
 *   [command facts]
 *   handler = facts
 *   facts = hostname kernel os uptime loadavg cid memory  # default: all
 *
 *   [command delay]
 *   handler = delay
 *   max = 5s                                        # longest delay (default 10s)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <event2/event.h>
#include <udo/vsock-tcp.h>
#include <udo/vsockd-module.h>

/* Writes one fact into BUF. Returns 0, or -1 if it cannot be read. */
typedef int (*fact_fn)(char *buf, size_t len);

/* The host name. */
static int fact_hostname(char *buf, size_t len)
{
	if (gethostname(buf, len) < 0)
		return -1;
	buf[len - 1] = '\0';
	return 0;
}

/* The kernel release (uname -r). */
static int fact_kernel(char *buf, size_t len)
{
	struct utsname u;

	if (uname(&u) < 0)
		return -1;
	snprintf(buf, len, "%s", u.release);
	return 0;
}

/* PRETTY_NAME of os-release(5), unquoted. */
static int fact_os(char *buf, size_t len)
{
	static const char *const files[] = {"/etc/os-release", "/usr/lib/os-release"};

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		FILE *f = fopen(files[i], "re");
		char line[512];
		if (f == NULL)
			continue;
		while (fgets(line, sizeof(line), f) != NULL) {
			if (strncmp(line, "PRETTY_NAME=", 12) != 0)
				continue;
			char *v = line + 12;
			v[strcspn(v, "\n")] = '\0';
			size_t n = strlen(v);
			if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
				v[n - 1] = '\0';
				v++;
			}
			snprintf(buf, len, "%s", v);
			fclose(f);
			return 0;
		}
		fclose(f);
	}
	return -1;
}

/* Seconds since boot, whole. From sysinfo(2), not /proc/uptime: the
 * shipped units' ProcSubset=pid hides /proc's system files. */
static int fact_uptime(char *buf, size_t len)
{
	struct sysinfo si;

	if (sysinfo(&si) < 0)
		return -1;
	snprintf(buf, len, "%ld", (long)si.uptime);
	return 0;
}

/* The 1, 5 and 15 minute load averages, as /proc/loadavg shows them (two
 * decimals), from sysinfo(2). */
static int fact_loadavg(char *buf, size_t len)
{
	struct sysinfo si;

	if (sysinfo(&si) < 0)
		return -1;
	snprintf(buf, len, "%.2f %.2f %.2f", (double)si.loads[0] / (1 << SI_LOAD_SHIFT),
	         (double)si.loads[1] / (1 << SI_LOAD_SHIFT), (double)si.loads[2] / (1 << SI_LOAD_SHIFT));
	return 0;
}

/* Memory in MiB from sysinfo(2) (no /proc/meminfo, hence no "available"). */
static int fact_memory(char *buf, size_t len)
{
	struct sysinfo si;

	if (sysinfo(&si) < 0)
		return -1;
	unsigned long long unit = si.mem_unit != 0 ? si.mem_unit : 1, mib = 1024 * 1024;
	snprintf(buf, len, "total %lluMiB free %lluMiB shared %lluMiB buffers %lluMiB swap %lluMiB swap-free %lluMiB",
	         si.totalram * unit / mib, si.freeram * unit / mib, si.sharedram * unit / mib,
	         si.bufferram * unit / mib, si.totalswap * unit / mib, si.freeswap * unit / mib);
	return 0;
}

/* This machine's vsock CID (IOCTL_VM_SOCKETS_GET_LOCAL_CID on /dev/vsock,
 * which the shipped units bind into their private /dev). */
static int fact_cid(char *buf, size_t len)
{
	uint32_t cid = udo_vsock_tcp_get_local_vcid();

	if (cid == UINT32_MAX)
		return -1;
	snprintf(buf, len, "%u", cid);
	return 0;
}

static const struct {
	const char *name;
	fact_fn fn;
} facts[] = {
    {"hostname", fact_hostname}, {"kernel", fact_kernel}, {"os", fact_os},         {"uptime", fact_uptime},
    {"loadavg", fact_loadavg},   {"cid", fact_cid},       {"memory", fact_memory},
};
#define NFACTS (sizeof(facts) / sizeof(facts[0]))

/* A facts command's data: which facts it shows (bit i: facts[i]). */
struct facts_conf {
	unsigned int shown;
};

/* The index of fact NAME, or -1. */
static int fact_index(const char *name)
{
	for (size_t i = 0; i < NFACTS; i++) {
		if (strcmp(facts[i].name, name) == 0)
			return (int)i;
	}
	return -1;
}

/* The command's data, created on first use. Returns it or NULL (ENOMEM). */
static struct facts_conf *facts_conf_get(void **data)
{
	if (*data == NULL)
		*data = calloc(1, sizeof(struct facts_conf));
	return *data;
}

/* Option "facts = NAME..." (blank- or comma-separated). Returns 0 or -1 with WHY. */
static int facts_set_option(void **data, const char *key, const char *value, char *why, size_t whylen)
{
	struct facts_conf *fc = facts_conf_get(data);

	if (fc == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	if (strcmp(key, "facts") != 0) {
		snprintf(why, whylen, "facts: unknown option '%s' (known: facts)", key);
		return -1;
	}
	char *copy = strdup(value), *save = NULL;
	if (copy == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	for (char *w = strtok_r(copy, " \t,", &save); w != NULL; w = strtok_r(NULL, " \t,", &save)) {
		int i = fact_index(w);
		if (i < 0) {
			snprintf(why, whylen,
			         "facts: unknown fact '%s' (known: hostname kernel os uptime loadavg cid memory)", w);
			free(copy);
			return -1;
		}
		fc->shown |= 1u << i;
	}
	free(copy);
	return 0;
}

/* Without a facts option every fact is shown. Returns 0 or -1 (ENOMEM). */
static int facts_check(void **data, char *why, size_t whylen)
{
	struct facts_conf *fc = facts_conf_get(data);

	if (fc == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	if (fc->shown == 0)
		fc->shown = (1u << NFACTS) - 1;
	return 0;
}

/* FACTS [NAME]: "D name=value" lines, or just the value of NAME in OK. */
static void facts_run(const struct udo_vsockd_api *api, struct udo_vsockd_request *req, void *data)
{
	const struct facts_conf *fc = data;
	char value[256], line[300];

	if (api->argc(req) > 1) {
		const char *name = api->argv(req, 1);
		int i = fact_index(name);
		if (i < 0 || !(fc->shown & (1u << i))) {
			api->err(req, "usage", "no such fact; FACTS lists them");
			return;
		}
		if (facts[i].fn(value, sizeof(value)) < 0) {
			api->err(req, "unavailable", "cannot read this fact here");
			return;
		}
		api->ok(req, value);
		return;
	}
	for (size_t i = 0; i < NFACTS; i++) {
		if (!(fc->shown & (1u << i)))
			continue;
		if (facts[i].fn(value, sizeof(value)) < 0)
			snprintf(value, sizeof(value), "unknown");
		int n = snprintf(line, sizeof(line), "%s=%s", facts[i].name, value);
		api->data(req, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	}
	api->ok(req, NULL);
}

/* A delay command's data: the longest delay a client may ask for. */
struct delay_conf {
	unsigned long max_ms;
};

/* One pending DELAY. */
struct delay_state {
	const struct udo_vsockd_api *api;
	struct udo_vsockd_request *req;
	struct event *timer;
	char text[128];
};

/* Parses a duration: N, Nms, Ns. Returns 0 or -1. */
static int parse_ms(const char *text, unsigned long *ms)
{
	char *end;

	if (text[0] < '0' || text[0] > '9')
		return -1;
	errno = 0;
	unsigned long v = strtoul(text, &end, 10);
	if (errno != 0 || v > 3600000)
		return -1;
	if (strcmp(end, "s") == 0)
		v *= 1000;
	else if (*end != '\0' && strcmp(end, "ms") != 0)
		return -1;
	if (v > 3600000)
		return -1;
	*ms = v;
	return 0;
}

/* Option "max = DURATION" (ms or s, at most 1 h). Returns 0 or -1 with WHY. */
static int delay_set_option(void **data, const char *key, const char *value, char *why, size_t whylen)
{
	struct delay_conf *dc = *data;

	if (dc == NULL && (dc = *data = calloc(1, sizeof(*dc))) == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	if (strcmp(key, "max") != 0) {
		snprintf(why, whylen, "delay: unknown option '%s' (known: max)", key);
		return -1;
	}
	if (parse_ms(value, &dc->max_ms) < 0) {
		snprintf(why, whylen, "delay: max: '%s' is not a duration up to 3600s (N, Nms, Ns)", value);
		return -1;
	}
	return 0;
}

/* Default max: 10 s. Returns 0 or -1 (ENOMEM). */
static int delay_check(void **data, char *why, size_t whylen)
{
	if (*data == NULL) {
		struct delay_conf *dc = calloc(1, sizeof(*dc));
		if (dc == NULL) {
			snprintf(why, whylen, "out of memory");
			return -1;
		}
		dc->max_ms = 10000;
		*data = dc;
	}
	return 0;
}

/* The timer of a DELAY fired: answer it. */
static void delay_fire(evutil_socket_t fd, short what, void *arg)
{
	struct delay_state *st = arg;
	const struct udo_vsockd_api *api = st->api;
	struct udo_vsockd_request *req = st->req;
	char text[128];

	snprintf(text, sizeof(text), "%s", st->text);
	event_free(st->timer);
	free(st);
	api->set_state(req, NULL);
	api->ok(req, text[0] != '\0' ? text : "done");
}

/* DELAY MS [TEXT]: answers "OK TEXT" (or "OK done") after MS ms. */
static void delay_run(const struct udo_vsockd_api *api, struct udo_vsockd_request *req, void *data)
{
	const struct delay_conf *dc = data;
	unsigned long ms;

	if (parse_ms(api->argv(req, 1), &ms) < 0 || ms > dc->max_ms) {
		char why[96];
		snprintf(why, sizeof(why), "delay is a duration up to %lums", dc->max_ms);
		api->err(req, "usage", why);
		return;
	}
	struct delay_state *st = calloc(1, sizeof(*st));
	if (st == NULL || (st->timer = evtimer_new(api->event_base(req), delay_fire, st)) == NULL) {
		free(st);
		api->err(req, "internal", "out of memory");
		return;
	}
	st->api = api;
	st->req = req;
	if (api->argc(req) > 2)
		snprintf(st->text, sizeof(st->text), "%s", api->argv(req, 2));
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
	if (evtimer_add(st->timer, &tv) < 0) {
		event_free(st->timer);
		free(st);
		api->err(req, "internal", "cannot start a timer");
		return;
	}
	api->set_state(req, st);
}

/* The client went away: stop the timer and finish without a reply. */
static void delay_cancel(const struct udo_vsockd_api *api, struct udo_vsockd_request *req, void *data)
{
	struct delay_state *st = api->get_state(req);

	if (st != NULL) {
		event_free(st->timer);
		free(st);
		api->set_state(req, NULL);
	}
	api->finish_cancelled(req);
}

static const struct udo_vsockd_kind facts_kinds[] = {
    {
        .name = "facts",
        .min_args = 0,
        .max_args = 1,
        .usage = "[NAME]",
        .summary = "facts about this machine: hostname kernel os uptime loadavg cid memory",
        .set_option = facts_set_option,
        .check = facts_check,
        .run = facts_run,
        .free_data = free,
    },
    {
        .name = "delay",
        .min_args = 1,
        .max_args = 2,
        .usage = "MS [TEXT]",
        .summary = "answer OK TEXT after MS milliseconds (asynchronously)",
        .set_option = delay_set_option,
        .check = delay_check,
        .run = delay_run,
        .cancel = delay_cancel,
        .free_data = free,
    },
    {.name = NULL},
};

/* Exported: what udo-vsockd loads. */
extern const struct udo_vsockd_module udo_vsockd_module;
const struct udo_vsockd_module udo_vsockd_module = {
    .abi_version = UDO_VSOCKD_MODULE_ABI,
    .name = "facts",
    .version = "1",
    .kinds = facts_kinds,
};
