/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* module.h - loadable handler modules (udo-vsockd-module(3)) */
#ifndef UDO_VSOCKD_MODULE_INTERNAL_H
#define UDO_VSOCKD_MODULE_INTERNAL_H

#include <stddef.h>

struct event_base;
struct handler_kind;

/* One loaded module; a config owns a list of them. */
struct module;

/*
 * Loads the module at PATH for a config whose modules so far are LOADED:
 * dlopen, the exported symbol, its ABI version, its kinds (valid, and
 * named unlike any built-in kind or kind of LOADED), then its init().
 * Returns the module, or NULL with a message in WHY (nothing is left
 * loaded then). The caller links it into its list with module_append().
 */
struct module *module_load(const char *path, const struct module *loaded, char *why, size_t whylen);

/* Appends M at the end of the list *LIST. */
void module_append(struct module **list, struct module *m);

/* The kind called NAME among the modules of LIST, or NULL. */
const struct handler_kind *module_find_kind(const struct module *list, const char *name);

/* The path a module of LIST was loaded from if it is PATH, or NULL. */
const struct module *module_find_path(const struct module *list, const char *path);

/* Where M was listed (the `module =` line), for messages. */
void module_set_origin(struct module *m, const char *file, int line);
const char *module_origin_file(const struct module *m);
int module_origin_line(const struct module *m);

/* Calls each module's fini() and unloads the modules of LIST. A module
 * whose code may be on the stack (the call comes from inside the module
 * API) is unloaded on the next turn of the event loop instead. */
void module_unload_all(struct module *list);

/* Lets deferred unloads run on BASE. Returns 0 or -1 (ENOMEM). */
int module_set_event_base(struct event_base *base);

/* Unloads whatever is still deferred and forgets the event base. */
void module_shutdown(void);

#endif /* UDO_VSOCKD_MODULE_INTERNAL_H */
