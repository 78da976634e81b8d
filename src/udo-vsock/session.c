/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* session.c - one-shot and batch runs: connect, pump, reconnect on resets,
 * and the byte pipe after OK proxy / OK handoff or the frames after OK
 * session */
#include <stdio.h>

#include "cli.h"
#include "pump.h"

/* Reconnects after the pump reported a resend point. Returns 0 with the
 * new socket attached, or the exit status to stop with. */
static int session_reconnect(const struct cli_options *opt, struct cli_pump *p, unsigned int *retries_used)
{
	int klass;

	if (!cli_retry_backoff(opt, retries_used, 0, cli_now_ms()))
		return cli_pump_give_up(p);
	if (opt->verbose)
		cli_error("connection to %s lost before any reply; reconnecting", opt->addr_text);
	int fd = cli_connect(opt, retries_used, &klass);
	if (fd < 0)
		return p->result ? p->result : klass;
	cli_pump_attach(p, fd);
	return 0;
}

/* Connects, then pumps until done, reconnecting while that is safe. */
int cli_run_pipelined(const struct cli_options *opt, struct cli_pump *p)
{
	unsigned int retries_used = 0;
	int klass;

	int fd = cli_connect(opt, &retries_used, &klass);
	if (fd < 0)
		return klass;
	cli_pump_attach(p, fd);
	for (;;) {
		switch (cli_pump_run(p)) {
		case CLI_PUMP_IDLE:
			return p->result;
		case CLI_PUMP_FAILED:
			return p->result;
		case CLI_PUMP_PIPE: {
			int rc = cli_pump_pipe(p);
			return p->result ? p->result : rc;
		}
		case CLI_PUMP_SESSION:
			return cli_pump_session(p, opt);
		case CLI_PUMP_RESEND: {
			int rc = session_reconnect(opt, p, &retries_used);
			if (rc != 0)
				return rc;
			break;
		}
		}
	}
}
