/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kinds/power.c - the `power` kind: POWEROFF or REBOOT this machine by
 * asking systemd-logind over D-Bus (sd-bus, org.freedesktop.login1
 * Manager.PowerOff/Reboot, not interactive), never through a shell or a
 * signal to PID 1: logind runs the shutdown as `systemctl poweroff`
 * would, inhibitor locks and polkit included. The call returns once
 * logind has queued the shutdown; the OK goes out before systemd stops
 * this daemon (a stop flushes the replies). Polkit decides for a
 * non-root caller: the guest admin unit runs as a static user that a
 * shipped polkit rule allows exactly these actions. */
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-bus.h>

#include "../conf.h"
#include "../handler.h"
#include "../proto.h"
#include "../request.h"
#include "../util.h"

/* How long the D-Bus call may take (logind, polkit): the event loop waits. */
#define POWER_CALL_TIMEOUT_US (10ULL * 1000000ULL)

/* The actions, and logind's method for each. */
enum power_action { POWER_UNSET, POWER_OFF, POWER_REBOOT };
static const char *const action_words[] = {NULL, "poweroff", "reboot"};
static const char *const action_methods[] = {NULL, "PowerOff", "Reboot"};

/* A power command's options. */
struct power_conf {
	int action; /* enum power_action */
};

/* The power conf of CMD, made on first use; NULL when out of memory. */
static void *power_get_data(struct command *cmd)
{
	if (cmd->data == NULL)
		cmd->data = calloc(1, sizeof(struct power_conf));
	return cmd->data;
}

/* `action`: poweroff or reboot. */
static int power_action(const struct option_spec *spec, void *target, void *ctx, const char *value, char *why,
                        size_t whylen)
{
	struct power_conf *pc = target;

	for (int a = POWER_OFF; a <= POWER_REBOOT; a++) {
		if (strcmp(value, action_words[a]) == 0) {
			pc->action = a;
			return 0;
		}
	}
	snprintf(why, whylen, "action: '%s' is not poweroff or reboot", value);
	return -1;
}

/* Writes `action`. */
static void power_action_format(const struct option_spec *spec, const void *target, const void *ctx, FILE *out)
{
	const struct power_conf *pc = target;

	if (pc->action == POWER_UNSET)
		option_format_unset(spec->name, out);
	else
		fprintf(out, "%s = %s\n", spec->name, action_words[pc->action]);
}

/* The options of a power command (udo-vsockd.conf(5)). */
static const struct option_spec power_options[] = {
    OPTION_CUSTOM("action", power_action, power_action_format),
    OPTION_END,
};

/* Requires `action`: what a command does to the machine is never implied. */
static int power_check(struct command *cmd, char *why, size_t whylen)
{
	const struct power_conf *pc = cmd->data;

	if (pc == NULL || pc->action == POWER_UNSET) {
		snprintf(why, whylen, "handler 'power' needs 'action = poweroff' or 'action = reboot'");
		return -1;
	}
	return 0;
}

/* Asks logind; answers "OK poweroff" or "OK reboot" once it has taken
 * the request, else ERR failed with D-Bus's error (denied by polkit,
 * inhibited, no logind). */
static enum req_status power_run(struct request *req)
{
	const struct power_conf *pc = req->cmd->data;
	sd_bus *bus = NULL;
	sd_bus_error err = SD_BUS_ERROR_NULL;
	int r = sd_bus_open_system(&bus);

	if (r >= 0)
		r = sd_bus_set_method_call_timeout(bus, POWER_CALL_TIMEOUT_US);
	if (r < 0) {
		request_err(req, PROTO_ERR_FAILED, "cannot connect to the system bus: %s", strerror(-r));
	} else if ((r = sd_bus_call_method(bus, "org.freedesktop.login1", "/org/freedesktop/login1",
	                                   "org.freedesktop.login1.Manager", action_methods[pc->action], &err, NULL,
	                                   "b", 0)) < 0) {
		request_err(req, PROTO_ERR_FAILED, "logind %s: %s", action_methods[pc->action],
		            err.message != NULL ? err.message : strerror(-r));
	} else {
		request_ok(req, "%s", action_words[pc->action]);
	}
	sd_bus_error_free(&err);
	sd_bus_flush_close_unref(bus);
	return REQ_DONE;
}

const struct handler_kind handler_power = {
    .name = "power",
    .min_args = 0,
    .max_args = 0,
    .usage = "",
    .summary = "power this machine off or reboot it (systemd-logind)",
    .options = power_options,
    .get_data = power_get_data,
    .free_data = free,
    .check = power_check,
    .run = power_run,
};
