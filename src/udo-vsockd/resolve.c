/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* resolve.c - binds a parsed configuration (conf.c): handler kinds and
 * their options, modules, the metrics address; and the whole load */
#include "resolve.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conf.h"
#include "handler.h"
#include "metrics.h"
#include "module.h"
#include "util.h"

/* Loads the module of the kept `module =` line L (its value: the path). */
static void resolve_module(struct config *conf, const struct conf_line *l)
{
	char why[PATH_MAX + 256];
	const char *path = l->value;
	struct stat st;

	if (conf->strict_modes && stat(path, &st) == 0 && !config_trusted(&st, why, sizeof(why))) {
		config_error(conf, l->seq, l->file, l->line, "module: %s: %s" CONFIG_STRICT_HINT, path, why);
		return;
	}
	const struct module *old = module_find_path(conf->modules, path);
	if (old != NULL) {
		config_error(conf, l->seq, l->file, l->line, "module: %s is already loaded at %s:%d", path,
		             module_origin_file(old), module_origin_line(old));
		return;
	}
	struct module *m = module_load(path, conf->modules, why, sizeof(why));
	if (m == NULL) {
		config_error(conf, l->seq, l->file, l->line, "%s", why);
		return;
	}
	module_set_origin(m, l->file, l->line);
	module_append(&conf->modules, m);
}

/* Checks the kept `metrics-listen =` line L: a loopback tcp: or a unix:
 * address (metrics.c); the last good one is the endpoint. */
static void resolve_metrics_listen(struct config *conf, const struct conf_line *l)
{
	char canon[UDO_VSOCK_ADDR_STRLEN], why[PATH_MAX + 64];

	if (metrics_listen_parse(l->value, canon, sizeof(canon), why, sizeof(why)) < 0) {
		config_error(conf, l->seq, l->file, l->line, "%s", why);
		return;
	}
	char *copy = strdup(canon);
	if (copy == NULL) {
		config_error(conf, l->seq, l->file, l->line, "out of memory");
		return;
	}
	free(conf->metrics_listen);
	conf->metrics_listen = copy;
}

/* Checks the kept `guest-ready-hook =` or `guest-shutdown-hook =` line
 * L once every command is bound: it names an exec command (guests.c runs
 * it through exec-hook.h). The last good one is the hook. */
static void resolve_guest_hook(struct config *conf, const struct conf_line *l)
{
	const struct command *cmd = conf->commands;
	char **field = &conf->guest_hook[config_guest_hook(l->key)];

	while (cmd != NULL && strcmp(cmd->name, l->value) != 0)
		cmd = cmd->next;
	if (cmd == NULL || cmd->kind == NULL || strcmp(cmd->kind->name, "exec") != 0) {
		config_error(conf, l->seq, l->file, l->line, "%s: %s '%s'%s", l->key,
		             cmd == NULL ? "no [command] named" : "not an exec command:", l->value,
		             cmd == NULL ? "" : " (a hook needs handler = exec)");
		return;
	}
	char *copy = strdup(l->value);
	if (copy == NULL) {
		config_error(conf, l->seq, l->file, l->line, "out of memory");
		return;
	}
	free(*field);
	*field = copy;
}

/* Applies one option of CMD's handler kind: from the kind's table, else
 * its set_option. Returns 0, or -1 with a message in WHY. */
static int kind_option(struct command *cmd, const char *key, const char *value, char *why, size_t whylen)
{
	const struct handler_kind *kind = cmd->kind;
	const struct option_spec *spec = option_find(kind->options, key);
	void *data;

	if (spec == NULL && kind->set_option != NULL)
		return kind->set_option(cmd, key, value, why, whylen);
	if (spec == NULL) {
		snprintf(why, whylen, "handler '%s' has no option '%s'", kind->name, key);
		return -1;
	}
	if ((data = kind->get_data(cmd)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	return option_apply(spec, data, cmd, value, why, whylen);
}

/* Binds CMD to the kind its `handler =` names (the last one), among the
 * built-in kinds and those of the modules loaded so far, then applies
 * the kind's keys and its check. */
static void resolve_command(struct config *conf, struct command *cmd)
{
	const struct handler_kind *kind = NULL;
	char why[256];

	for (const struct conf_line *l = cmd->keys; l != NULL; l = l->next) {
		if (strcmp(l->key, "handler") != 0)
			continue;
		kind = handler_find(l->value);
		if (kind == NULL)
			kind = module_find_kind(conf->modules, l->value);
		if (kind == NULL)
			config_error(conf, cmd->seq, l->file, l->line, "unknown handler '%s'", l->value);
	}
	if (kind == NULL)
		return;
	cmd->kind = kind;
	cmd->min_args = kind->min_args;
	cmd->max_args = kind->max_args;
	cmd->usage = strdup(kind->usage);
	if (cmd->summary == NULL) /* `summary =` was applied by the parser */
		cmd->summary = strdup(kind->summary);
	for (const struct conf_line *l = cmd->keys; l != NULL; l = l->next) {
		why[0] = '\0';
		if (strcmp(l->key, "handler") != 0 && kind_option(cmd, l->key, l->value, why, sizeof(why)) < 0)
			config_error(conf, l->seq, l->file, l->line, "%s", why);
	}
	why[0] = '\0';
	if (kind->check != NULL && kind->check(cmd, why, sizeof(why)) < 0)
		config_error(conf, cmd->seq_check, cmd->file, cmd->line, "[command %s] %s", cmd->name, why);
	if (cmd->usage == NULL || cmd->summary == NULL)
		config_error(conf, cmd->seq_check, cmd->file, cmd->line, "out of memory");
}

/* Undoes config_resolve before CONF is freed: the kinds' data, then the
 * modules whose code made some of it. */
static void unresolve(struct config *conf)
{
	for (struct command *cmd = conf->commands; cmd != NULL; cmd = cmd->next) {
		if (cmd->kind != NULL && cmd->kind->free_data != NULL && cmd->data != NULL)
			cmd->kind->free_data(cmd->data);
		cmd->data = NULL;
	}
	module_unload_all(conf->modules);
	conf->modules = NULL;
}

int config_resolve(struct config *conf)
{
	const struct conf_line *l = conf->daemon_keys;
	struct command *cmd = conf->commands;
	int before = conf->nerrors;

	conf->unresolve = unresolve;
	/* In the order of the files: a command sees the modules listed before it. */
	while (l != NULL || cmd != NULL) {
		if (cmd == NULL || (l != NULL && l->seq < cmd->seq)) {
			if (strcmp(l->key, "module") == 0)
				resolve_module(conf, l);
			else if (strncmp(l->key, "guest-", 6) != 0)
				resolve_metrics_listen(conf, l);
			l = l->next;
		} else {
			resolve_command(conf, cmd);
			cmd = cmd->next;
		}
	}
	/* The hooks name commands anywhere in the files. */
	for (l = conf->daemon_keys; l != NULL; l = l->next) {
		if (strncmp(l->key, "guest-", 6) == 0)
			resolve_guest_hook(conf, l);
	}
	return conf->nerrors == before ? 0 : -1;
}

/* config_load and config_load_file: parses the stream F (NULL: opens PATH). */
static struct config *load(const char *path, FILE *f, FILE *errors)
{
	struct config *conf = config_parse(path, f);

	if (conf == NULL) {
		fprintf(errors, "%s: out of memory\n", path);
		return NULL;
	}
	/* Resolved even after syntax errors, so that every error is reported. */
	config_resolve(conf);
	if (config_finish(conf, errors) < 0) {
		config_unref(conf);
		return NULL;
	}
	return conf;
}

struct config *config_load(const char *path, FILE *errors)
{
	return load(path, NULL, errors);
}

struct config *config_load_file(FILE *f, const char *name, FILE *errors)
{
	return load(name, f, errors);
}

int config_dump(struct config *conf, FILE *out)
{
	fputs("# The effective configuration (udo-vsockd -D): every default filled in,\n"
	      "# the included files merged, no comments of the original kept.\n[daemon]\n",
	      out);
	config_format_daemon(conf, out);
	config_format_peers(conf, out);
	for (struct command *cmd = conf->commands; cmd != NULL; cmd = cmd->next) {
		const struct handler_kind *kind = cmd->kind;
		fprintf(out, "\n[command %s]\nhandler = %s\n", cmd->name, kind->name);
		config_format_command(cmd, out);
		if (kind->options != NULL) {
			/* A kind's data is made with its defaults on first use. */
			const void *data = kind->get_data(cmd);
			if (data == NULL)
				return -1;
			option_format_table(kind->options, data, cmd, out);
		}
		if (kind->format_options != NULL)
			kind->format_options(cmd, out);
	}
	return fflush(out) == 0 && !ferror(out) ? 0 : -1;
}
