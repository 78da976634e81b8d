/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kinds.c - the table of built-in handler kinds, and the one file that
 * names them all. Each kind is one file in kinds/ defining
 * `const struct handler_kind handler_NAME`; adding one is that file and
 * one line in KINDS below (and the file in src/local.mk's vsockd_sources). */
#include <stddef.h>
#include <string.h>

#include "handler.h"

/* Every built-in kind, by its file's name. */
#define KINDS(X)                                                                                                       \
	X(ping)                                                                                                        \
	X(help)                                                                                                        \
	X(version)                                                                                                     \
	X(whoami)                                                                                                      \
	X(stats)                                                                                                       \
	X(quit)                                                                                                        \
	X(time)                                                                                                        \
	X(settime)                                                                                                     \
	X(freeze)                                                                                                      \
	X(thaw)                                                                                                        \
	X(frozen)                                                                                                      \
	X(power)                                                                                                       \
	X(guests)                                                                                                      \
	X(announce)                                                                                                    \
	X(exec)                                                                                                        \
	X(jobs)                                                                                                        \
	X(job)                                                                                                         \
	X(attach)                                                                                                      \
	X(kill)                                                                                                        \
	X(handoff)                                                                                                     \
	X(proxy)                                                                                                       \
	X(files)

/* The kinds' definitions, declared here and nowhere else. */
#define KIND_DECLARE(name) extern const struct handler_kind handler_##name;
KINDS(KIND_DECLARE)

#define KIND_ENTRY(name) &handler_##name,
static const struct handler_kind *const handler_kinds[] = {KINDS(KIND_ENTRY) NULL};

/* The built-in kind called NAME, or NULL. */
const struct handler_kind *handler_find(const char *name)
{
	for (size_t i = 0; handler_kinds[i] != NULL; i++) {
		if (strcmp(handler_kinds[i]->name, name) == 0)
			return handler_kinds[i];
	}
	return NULL;
}
