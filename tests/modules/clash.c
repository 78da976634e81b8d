/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clash.c - test module whose kind CLASH_KIND (a compiler define) is
 * already taken: by a built-in kind or by the facts module. */
#include <udo/vsockd-module.h>

/* Never called: the daemon refuses the module first. */
static void run(const struct udo_vsockd_api *api, struct udo_vsockd_request *req, void *data)
{
	api->ok(req, NULL);
}

static const struct udo_vsockd_kind kinds[] = {{.name = CLASH_KIND, .usage = "", .summary = "", .run = run}, {0}};

extern const struct udo_vsockd_module udo_vsockd_module;
const struct udo_vsockd_module udo_vsockd_module = {
    .abi_version = UDO_VSOCKD_MODULE_ABI,
    .name = "clash",
    .kinds = kinds,
};
