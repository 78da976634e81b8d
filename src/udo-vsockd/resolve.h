/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* resolve.h - a parsed configuration made ready to run: handler kinds
 * bound, their options applied, modules loaded; and the whole load */
#ifndef UDO_VSOCKD_RESOLVE_H
#define UDO_VSOCKD_RESOLVE_H

#include <stdio.h>

struct config;

/* Binds what config_parse() kept of CONF, in the order of its files: each
 * `module =` loads its module, `metrics-listen =` is checked, and each
 * command gets its handler kind (built in, or of a module listed before
 * it), its kind's options and the kind's check. Errors go into CONF at
 * the file:line they are about (config_finish writes them). Loaded
 * modules and the kinds' data go with CONF's last reference. Returns 0,
 * or -1 if it found errors. */
int config_resolve(struct config *conf);

/* Loads PATH: parses it, resolves it and finishes the load. On success
 * returns a config with one reference; on any error writes every problem
 * as "file:line: message" to ERRORS and returns NULL, leaving nothing
 * loaded (a reload keeps the configuration in force). */
struct config *config_load(const char *path, FILE *errors);

/* Like config_load, but reads the open stream F (left open), named NAME in
 * messages; includes are found relative to NAME's directory. For tests:
 * the input need not be a file on disk. */
struct config *config_load_file(FILE *f, const char *name, FILE *errors);

/* Writes CONF to OUT as a config file with every default filled in and
 * the includes merged (udo-vsockd -D): [daemon] with every key, then
 * each command in config order. Loading it gives the same configuration.
 * Returns 0, or -1 if writing failed. */
int config_dump(struct config *conf, FILE *out);

#endif /* UDO_VSOCKD_RESOLVE_H */
