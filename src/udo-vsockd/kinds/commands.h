/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* commands/commands.h - the built-in handler kinds, one file each */
#ifndef UDO_VSOCKD_COMMANDS_H
#define UDO_VSOCKD_COMMANDS_H

#include "../handler.h"

extern const struct handler_kind handler_ping;    /* commands/ping.c */
extern const struct handler_kind handler_help;    /* commands/help.c */
extern const struct handler_kind handler_version; /* commands/version.c */
extern const struct handler_kind handler_whoami;  /* commands/whoami.c */
extern const struct handler_kind handler_stats;   /* commands/stats.c */
extern const struct handler_kind handler_quit;    /* commands/quit.c */

#endif /* UDO_VSOCKD_COMMANDS_H */
