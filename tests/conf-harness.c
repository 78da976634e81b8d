/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* conf-harness.c - what the configuration tests share */
#include "conf-harness.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon-harness.h"

char conf_dir[256];

void conf_setup(void)
{
	make_temp_dir(conf_dir, sizeof(conf_dir));
}

void conf_teardown(void)
{
	remove_tree(conf_dir);
}

char *conf_put(const char *name, const char *text)
{
	static char paths[8][512];
	static int next;
	char *path = paths[next++ % 8];

	snprintf(path, sizeof(paths[0]), "%s/%s", conf_dir, name);
	write_file(path, text);
	return path;
}

void conf_load(const char *path, struct conf_load *l)
{
	memset(l, 0, sizeof(*l));
	FILE *f = open_memstream(&l->errors, &l->errlen);
	ck_assert_ptr_nonnull(f);
	l->conf = config_load(path, f);
	fclose(f);
	char *save = NULL;
	for (char *s = strtok_r(l->errors, "\n", &save); s != NULL && l->nlines < CONF_LOAD_LINES_MAX;
	     s = strtok_r(NULL, "\n", &save))
		l->lines[l->nlines++] = s;
}

void conf_unload(struct conf_load *l)
{
	config_unref(l->conf);
	free(l->errors);
}

int conf_run_daemon(const char *opt, const char *path, const char *extra, char *out, char *err, size_t cap)
{
	char *argv[] = {(char *)daemon_binary(), (char *)opt, (char *)"-c", (char *)path, (char *)extra, NULL};

	return run_process(argv, out, cap, err, cap, 10000);
}
