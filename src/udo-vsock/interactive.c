/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* interactive.c - the prompt loop used when standard input is a terminal */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "proto.h"
#include "pump.h"

#define CLI_PROMPT "udo-vsock> "

/* Gets a usable connection into P: keeps the current one unless the
 * server closed it. Returns 0, or the exit status to stop with. */
static int interactive_ensure_connected(const struct cli_options *opt, struct cli_pump *p, unsigned int *retries_used)
{
	int klass;

	if (p->sock >= 0 && !cli_pump_peer_closed(p))
		return 0;
	if (p->fatal)
		return p->fatal;
	if (p->sock >= 0) {
		if (!cli_retry_backoff(opt, retries_used, 0, cli_now_ms())) {
			cli_error("the server closed the connection");
			/* An unasked ERR (idle timeout) said why: class 1. */
			return p->unasked_err ? CLI_EXIT_ERR : CLI_EXIT_PROTOCOL;
		}
		if (opt->verbose)
			cli_error("the server closed the connection; reconnecting");
	}
	int fd = cli_connect(opt, retries_used, &klass);
	if (fd < 0)
		return klass;
	cli_pump_attach(p, fd);
	return 0;
}

/* Reads lines from the terminal and prints each reply. Replies with ERR
 * do not change the exit status here; connection trouble ends the loop,
 * and so does the end of a byte pipe after OK proxy / OK handoff. */
int cli_run_interactive(const struct cli_options *opt, bool *session)
{
	struct cli_pump p;
	unsigned int retries_used = 0;
	char *line = NULL;
	size_t cap = 0;
	int rc;

	/* Unbuffered, so that after OK proxy the byte pipe gets every byte
	 * typed after the request line, none left in stdio's buffer. */
	setvbuf(stdin, NULL, _IONBF, 0);
	cli_pump_init(&p, opt, CLI_OUTPUT_LIST, -1);
	rc = interactive_ensure_connected(opt, &p, &retries_used);
	while (rc == 0) {
		fputs(CLI_PROMPT, stdout);
		fflush(stdout);
		errno = 0;
		ssize_t n = getline(&line, &cap, stdin);
		if (n < 0) {
			fputc('\n', stdout);
			if (errno != 0) {
				cli_error("cannot read standard input: %s", strerror(errno));
				rc = CLI_EXIT_USAGE;
			}
			break;
		}
		size_t len = (size_t)n;
		if (len > 0 && line[len - 1] == '\n')
			len--;
		if (udo_vsock_proto_line_is_blank(line, len))
			continue;
		rc = interactive_ensure_connected(opt, &p, &retries_used);
		if (rc != 0)
			break;
		if (cli_pump_queue(&p, line, len) < 0) {
			cli_error("out of memory");
			rc = CLI_EXIT_USAGE;
			break;
		}
		enum cli_pump_status st;
		while ((st = cli_pump_run(&p)) == CLI_PUMP_RESEND) {
			if (!cli_retry_backoff(opt, &retries_used, 0, cli_now_ms())) {
				rc = cli_pump_give_up(&p);
				break;
			}
			int klass;
			int fd = cli_connect(opt, &retries_used, &klass);
			if (fd < 0) {
				rc = klass;
				break;
			}
			cli_pump_attach(&p, fd);
		}
		if (rc == 0 && st == CLI_PUMP_FAILED)
			rc = p.fatal;
		if (rc == 0 && st == CLI_PUMP_PIPE) {
			rc = cli_pump_pipe(&p);
			break;
		}
		if (rc == 0 && st == CLI_PUMP_SESSION) {
			rc = cli_pump_session(&p, opt);
			*session = true;
			break;
		}
		if (rc == 0 && udo_vsock_proto_line_command_is(line, len, "quit"))
			break;
	}
	free(line);
	cli_pump_destroy(&p);
	return rc;
}
