/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* conf-harness.h - what the configuration tests share: a private directory
 * per test, config files written into it, config_load with its error
 * lines, and the built udo-vsockd run on a file (-t, -D). */
#ifndef UDO_TESTS_CONF_HARNESS_H
#define UDO_TESTS_CONF_HARNESS_H

#include <stddef.h>

#include "../src/udo-vsockd/conf.h"
#include "../src/udo-vsockd/resolve.h"

#define CONF_LOAD_LINES_MAX 32

/* The running test's directory, made by conf_setup. */
extern char conf_dir[256];

/* Makes a fresh conf_dir (a checked fixture: runs in the test's process). */
void conf_setup(void);

/* Removes conf_dir and everything in it. */
void conf_teardown(void);

/* Writes TEXT to NAME inside conf_dir; returns the full path (valid for
 * the next 7 calls). */
char *conf_put(const char *name, const char *text);

/* Result of one config_load: the config (or NULL) and its error text,
 * also split into lines. */
struct conf_load {
	struct config *conf;
	char *errors;
	size_t errlen;
	int nlines;
	char *lines[CONF_LOAD_LINES_MAX];
};

/* Loads PATH into L, collecting the error text and its lines. */
void conf_load(const char *path, struct conf_load *l);

/* Frees what conf_load made. */
void conf_unload(struct conf_load *l);

/* Runs the built `udo-vsockd OPT -c PATH [EXTRA]` (EXTRA may be NULL)
 * within 10 s, its stdout and stderr in OUT and ERR (CAP bytes each).
 * Returns its exit status (see run_process). */
int conf_run_daemon(const char *opt, const char *path, const char *extra, char *out, char *err, size_t cap);

#endif /* UDO_TESTS_CONF_HARNESS_H */
