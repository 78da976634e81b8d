/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kinds/whoami.c - WHOAMI: the peer as the daemon sees it. */
#include "../handler.h"
#include "../request.h"

/* Answers the kernel-reported identity of the peer. */
static enum req_status whoami_run(struct request *req)
{
	const struct peer *p = req->peer;

	if (p->transport == UDO_VSOCK_ADDR_UNIX) {
		request_dataf(req, "transport=unix");
		request_dataf(req, "identity=%s", p->identity);
	} else {
		request_dataf(req, "transport=%s", p->transport == UDO_VSOCK_ADDR_VSOCK ? "vsock" : "vsock-mux");
		request_dataf(req, "cid=%u", p->cid);
		/* Hybrid vsock VMMs do not tell us the guest's port. */
		if (p->transport == UDO_VSOCK_ADDR_VSOCK)
			request_dataf(req, "port=%u", p->port);
		if (p->identity[0] != '\0')
			request_dataf(req, "identity=%s", p->identity);
		if (p->name[0] != '\0')
			request_dataf(req, "name=%s", p->name);
	}
	request_dataf(req, "listener=%s", p->listener);
	request_ok(req, NULL);
	return REQ_DONE;
}

const struct handler_kind handler_whoami = {
    .name = "whoami",
    .min_args = 0,
    .max_args = 0,
    .usage = "",
    .summary = "show your identity as the daemon sees it",
    .run = whoami_run,
};
