/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kinds/freeze.c - FREEZE: FIFREEZE on the configured mount points (or
 * every read-write filesystem on a block device), for a consistent
 * backup of the guest's disks, thawed by THAW or at the latest by the
 * auto-thaw timer (fsfreeze.c). Needs CAP_SYS_ADMIN. */
#include <stdlib.h>
#include <string.h>

#include "../conf.h"
#include "../fsfreeze.h"
#include "../handler.h"
#include "../proto.h"
#include "../request.h"
#include "../server.h"
#include "../util.h"

/* A freeze command's options. */
struct freeze_conf {
	char *paths[FSFREEZE_MAX];
	int npaths; /* 0: the default list */
	unsigned int auto_thaw_ms;
};

/* The freeze conf of CMD, made with the defaults on first use; NULL
 * when out of memory. */
static void *freeze_get_data(struct command *cmd)
{
	struct freeze_conf *fc = cmd->data;

	if (fc == NULL && (fc = calloc(1, sizeof(*fc))) != NULL) {
		fc->auto_thaw_ms = FSFREEZE_AUTO_THAW_DEFAULT;
		cmd->data = fc;
	}
	return fc;
}

/* Frees a freeze conf. */
static void freeze_free_data(void *data)
{
	struct freeze_conf *fc = data;

	for (int i = 0; i < fc->npaths; i++)
		free(fc->paths[i]);
	free(fc);
}

/* `filesystems`: absolute mount points separated by spaces, replacing
 * an earlier list. */
static int freeze_filesystems(const struct option_spec *spec, void *target, void *ctx, const char *value, char *why,
                              size_t whylen)
{
	struct freeze_conf *fc = target;
	char *copy = strdup(value), *save = NULL;
	int rc = copy != NULL ? 0 : -1;

	for (int i = 0; i < fc->npaths; i++)
		free(fc->paths[i]);
	fc->npaths = 0;
	for (char *w = copy != NULL ? strtok_r(copy, " \t", &save) : NULL; w != NULL && rc == 0;
	     w = strtok_r(NULL, " \t", &save)) {
		if (w[0] != '/') {
			snprintf(why, whylen, "filesystems: '%s' is not an absolute path", w);
			rc = -1;
		} else if (fc->npaths == FSFREEZE_MAX) {
			snprintf(why, whylen, "filesystems: more than %d", FSFREEZE_MAX);
			rc = -1;
		} else if ((fc->paths[fc->npaths] = strdup(w)) == NULL) {
			rc = -1;
		} else {
			fc->npaths++;
		}
	}
	free(copy);
	return rc;
}

/* Writes `filesystems`, or that the default list is used. */
static void freeze_filesystems_format(const struct option_spec *spec, const void *target, const void *ctx, FILE *out)
{
	const struct freeze_conf *fc = target;

	if (fc->npaths == 0) {
		fprintf(out, "# %s: not set (every read-write filesystem on a block device)\n", spec->name);
		return;
	}
	fprintf(out, "%s =", spec->name);
	for (int i = 0; i < fc->npaths; i++)
		fprintf(out, " %s", fc->paths[i]);
	fputc('\n', out);
}

/* The options of a freeze command (udo-vsockd.conf(5)). */
static const struct option_spec freeze_options[] = {
    OPTION_CUSTOM("filesystems", freeze_filesystems, freeze_filesystems_format),
    OPTION("auto-thaw", OPT_DURATION, FSFREEZE_AUTO_THAW_MIN, FSFREEZE_AUTO_THAW_MAX, struct freeze_conf, auto_thaw_ms,
           NULL),
    OPTION_END,
};

/* Freezes; answers one data line per frozen mount point and
 * "OK frozen=N auto_thaw_ms=MS". */
static enum req_status freeze_run(struct request *req)
{
	const struct freeze_conf *fc = req->cmd->data;
	struct freeze_conf dflt = {.auto_thaw_ms = FSFREEZE_AUTO_THAW_DEFAULT};
	char why[512];
	int busy;

	if (fc == NULL)
		fc = &dflt;
	int n = fsfreeze_freeze(req->server->base, fc->paths, fc->npaths, fc->auto_thaw_ms, &busy, why, sizeof(why));
	if (n < 0) {
		request_err(req, busy ? PROTO_ERR_BUSY : PROTO_ERR_FAILED, "%s", why);
		return REQ_DONE;
	}
	for (int i = 0; i < n; i++)
		request_dataf(req, "%s", fsfreeze_path(i));
	request_ok(req, "frozen=%d auto_thaw_ms=%u", n, fc->auto_thaw_ms);
	return REQ_DONE;
}

const struct handler_kind handler_freeze = {
    .name = "freeze",
    .min_args = 0,
    .max_args = 0,
    .usage = "",
    .summary = "freeze the filesystems (FIFREEZE) until THAW or the auto-thaw",
    .options = freeze_options,
    .get_data = freeze_get_data,
    .run = freeze_run,
    .free_data = freeze_free_data,
};
