/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bad-abi.c - test module built for another module ABI: must be refused. */
#include <udo/vsockd-module.h>

/* Never called: the daemon refuses the module first. */
static void run(const struct udo_vsockd_api *api, struct udo_vsockd_request *req, void *data)
{
	api->ok(req, NULL);
}

static const struct udo_vsockd_kind kinds[] = {{.name = "badabi", .usage = "", .summary = "", .run = run}, {0}};

extern const struct udo_vsockd_module udo_vsockd_module;
const struct udo_vsockd_module udo_vsockd_module = {
    .abi_version = UDO_VSOCKD_MODULE_ABI + 100,
    .name = "bad-abi",
    .kinds = kinds,
};
