/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* handlers/handlers.h - handler kinds with configurable options, one file each */
#ifndef UDO_VSOCKD_HANDLERS_H
#define UDO_VSOCKD_HANDLERS_H

#include "../handler.h"

extern const struct handler_kind handler_exec;    /* handlers/exec.c */
extern const struct handler_kind handler_handoff; /* handlers/handoff.c */
extern const struct handler_kind handler_proxy;   /* handlers/proxy.c */

#endif /* UDO_VSOCKD_HANDLERS_H */
