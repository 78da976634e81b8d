/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* main.c - udo-vsock(1): option parsing and dispatch */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "proto.h"
#include "pump.h"

enum {
	OPT_RETRY = 256,
	OPT_WAIT,
	OPT_RAW,
	OPT_NO_OK,
	OPT_JSON,
	OPT_WINDOW,
};

static const struct option long_options[] = {
    {"timeout", required_argument, NULL, 'w'},
    {"tty", no_argument, NULL, 't'},
    {"connect-timeout", required_argument, NULL, 'c'},
    {"retry", required_argument, NULL, OPT_RETRY},
    {"wait", required_argument, NULL, OPT_WAIT},
    {"raw", no_argument, NULL, OPT_RAW},
    {"no-ok", no_argument, NULL, OPT_NO_OK},
    {"json", no_argument, NULL, OPT_JSON},
    {"window", required_argument, NULL, OPT_WINDOW},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* Prints the usage text to OUT. */
static void usage(FILE *out)
{
	fputs("Usage: udo-vsock [OPTIONS] ADDRESS [COMMAND [ARG...]]\n"
	      "Send COMMAND to the udo-vsockd at ADDRESS and print the reply; without\n"
	      "COMMAND, read requests from standard input (interactive on a terminal).\n"
	      "\n"
	      "Addresses: vsock:CID:PORT (CID a number or host, local, any, hypervisor),\n"
	      "           unix:PATH, vsock-mux:PATH:PORT (Firecracker/Cloud Hypervisor)\n"
	      "\n"
	      "Options:\n"
	      "  -t, --tty                      a terminal for a session command, as ssh -t:\n"
	      "                                 the local terminal raw, its size sent\n"
	      "  -w, --timeout SECONDS          reply timeout (default 30; 0: none)\n"
	      "      --window BYTES             session output read ahead, per channel\n"
	      "                                 (default 256K; 4K to 16M)\n"
	      "  -c, --connect-timeout SECONDS  connect timeout (default 5; 0: none)\n"
	      "      --retry N                  retry a failed or reset connection N times\n"
	      "      --wait SECONDS             keep retrying for up to SECONDS\n"
	      "      --raw                      print protocol lines as sent and received, and\n"
	      "                                 control bytes unescaped on a terminal\n"
	      "      --json                     print each reply as one JSON object (a line)\n"
	      "      --no-ok                    vsock-mux: the VMM may send no OK line\n"
	      "  -v, --verbose                  report connections and OK lines on stderr\n"
	      "  -h, --help                     show this help\n"
	      "  -V, --version                  show the version\n"
	      "\n"
	      "Files (with a files command of the daemon, 'files' unless COMMAND: is given):\n"
	      "  udo-vsock ADDRESS put LOCAL [COMMAND:]REMOTE\n"
	      "  udo-vsock ADDRESS get [--resume] [COMMAND:]REMOTE [LOCAL|-]\n"
	      "\n"
	      "Exit status: 0 OK, 1 the server answered ERR, 2 usage error,\n"
	      "3 connection failed, 4 timeout, 5 protocol error or connection lost,\n"
	      "6 local file error (put/get), 7 SHA-256 mismatch (put/get).\n"
	      "A session command (OK session) exits with the remote program's status\n"
	      "(128+N for signal N); with -t, or once a session began, every failure\n"
	      "of udo-vsock itself exits 255.\n",
	      out);
}

/* Reports a usage error and returns CLI_EXIT_USAGE. */
static int __attribute__((format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("udo-vsock: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'udo-vsock --help'.\n", stderr);
	return CLI_EXIT_USAGE;
}

/* Parses a non-negative number of SECONDS (fractions allowed) into *MS.
 * Returns 0, or -1 when TEXT is not such a number or is too large. */
static int parse_seconds(const char *text, int64_t *ms)
{
	char *end;
	errno = 0;
	double s = strtod(text, &end);
	if (errno != 0 || end == text || *end != '\0' || !isfinite(s) || s < 0 || s > (double)INT_MAX / 1000)
		return -1;
	*ms = (int64_t)(s * 1000 + 0.999); /* round up: 0.0001 s is 1 ms, not none */
	return 0;
}

/* Parses a count 0..1000000 into *N. Returns 0 or -1. */
static int parse_count(const char *text, long *n)
{
	char *end;
	errno = 0;
	long v = strtol(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || v < 0 || v > 1000000)
		return -1;
	*n = v;
	return 0;
}

/* Parses a size of BYTES (a K or M suffix: KiB, MiB) between
 * CLI_WINDOW_MIN and CLI_WINDOW_MAX into *N. Returns 0 or -1. */
static int parse_window(const char *text, uint32_t *n)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno != 0 || end == text || text[0] == '-' || v > CLI_WINDOW_MAX)
		return -1;
	if (*end == 'K' || *end == 'k')
		v *= 1024, end++;
	else if (*end == 'M' || *end == 'm')
		v *= 1024 * 1024, end++;
	if (*end != '\0' || v < CLI_WINDOW_MIN || v > CLI_WINDOW_MAX)
		return -1;
	*n = (uint32_t)v;
	return 0;
}

/* Parses the command line into *OPT; *FIRST gets the index of ADDRESS.
 * Returns -1 to go on, or the exit status to stop with at once. */
static int parse_options(int argc, char **argv, struct cli_options *opt, int *first)
{
	int64_t ms;
	int c;

	*opt = (struct cli_options){
	    .reply_timeout_ms = 30000,
	    .connect_timeout_ms = 5000,
	    .retries = -1,
	    .wait_ms = -1,
	    .window = CLI_WINDOW_DEFAULT,
	};
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:tw:c:vhV", long_options, NULL)) != -1) {
		switch (c) {
		case 't':
			opt->tty = true;
			break;
		case 'w':
			if (parse_seconds(optarg, &ms) < 0)
				return usage_error("invalid --timeout '%s'", optarg);
			opt->reply_timeout_ms = ms == 0 ? -1 : (int)ms;
			break;
		case 'c':
			if (parse_seconds(optarg, &ms) < 0)
				return usage_error("invalid --connect-timeout '%s'", optarg);
			opt->connect_timeout_ms = (unsigned int)ms;
			break;
		case OPT_RETRY:
			if (parse_count(optarg, &opt->retries) < 0)
				return usage_error("invalid --retry '%s'", optarg);
			break;
		case OPT_WAIT:
			if (parse_seconds(optarg, &opt->wait_ms) < 0)
				return usage_error("invalid --wait '%s'", optarg);
			break;
		case OPT_RAW:
			opt->raw = true;
			break;
		case OPT_NO_OK:
			opt->no_ok = true;
			break;
		case OPT_JSON:
			opt->json = true;
			break;
		case OPT_WINDOW:
			if (parse_window(optarg, &opt->window) < 0)
				return usage_error("invalid --window '%s' (4K to 16M)", optarg);
			break;
		case 'v':
			opt->verbose = true;
			break;
		case 'h':
			usage(stdout);
			return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
		case 'V':
			printf("udo-vsock %s\n", PACKAGE_VERSION);
			return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
		case ':':
			return usage_error("option '%s' needs an argument", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (opt->json && opt->raw)
		return usage_error("%s", "--json and --raw cannot be combined");
	if (optind >= argc)
		return usage_error("%s", "missing ADDRESS");
	opt->escape_out = !opt->raw && isatty(STDOUT_FILENO);
	opt->escape_err = !opt->raw && isatty(STDERR_FILENO);
	*first = optind;
	return -1;
}

/* Ends the run: flushes stdout, turning a write error into a failure.
 * With -t, a failure of the CLI itself is 255 (as ssh's), whatever its
 * class; a SESSION's status is final (the remote program's, or 255). */
static int finish(const struct cli_options *opt, int rc, bool session)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "udo-vsock: cannot write standard output: %s\n", strerror(errno));
		if (session)
			return CLI_EXIT_SESSION;
		rc = rc ? rc : CLI_EXIT_PROTOCOL;
	}
	if (opt->tty && rc != 0 && !session)
		return CLI_EXIT_SESSION;
	return rc;
}

/* udo-vsock [OPTIONS] ADDRESS [COMMAND [ARG...]] */
int main(int argc, char **argv)
{
	struct cli_options opt;
	struct cli_pump pump;
	char err[256] = "";
	int first = 0, rc;

	rc = parse_options(argc, argv, &opt, &first);
	if (rc >= 0)
		return rc;
	opt.addr_text = argv[first];
	if (udo_vsock_addr_parse(&opt.addr, opt.addr_text, err, sizeof(err)) < 0)
		return usage_error("%s", err[0] ? err : "invalid ADDRESS");
	if (opt.addr.kind != UDO_VSOCK_ADDR_UNIX && opt.addr.port == UINT32_MAX)
		return usage_error("%s: a port is needed to connect", opt.addr_text);

	if (first + 1 < argc && (strcmp(argv[first + 1], "put") == 0 || strcmp(argv[first + 1], "get") == 0))
		return finish(&opt, cli_files_run(&opt, argc - first - 1, argv + first + 1), false);
	if (first + 1 < argc) {
		struct cli_buf req = {0};
		int bad = 0;
		if (cli_build_request(&req, argc - first - 1, argv + first + 1, &bad) < 0) {
			int saved = errno;
			cli_buf_free(&req); /* earlier arguments may have been appended */
			errno = saved;
			if (errno == EINVAL)
				return usage_error("argument '%s' contains a newline", argv[first + 1 + bad]);
			return usage_error("%s", strerror(errno));
		}
		cli_pump_init(&pump, &opt, CLI_OUTPUT_ONESHOT, -1);
		rc = cli_pump_queue(&pump, req.data, req.len - 1);
		cli_buf_free(&req);
		if (rc < 0) {
			cli_pump_destroy(&pump);
			return usage_error("%s", strerror(errno));
		}
		rc = cli_run_pipelined(&opt, &pump);
		cli_pump_destroy(&pump);
		return finish(&opt, rc, pump.session);
	}
	if (isatty(STDIN_FILENO)) {
		bool session = false;
		rc = cli_run_interactive(&opt, &session);
		return finish(&opt, rc, session);
	}
	cli_pump_init(&pump, &opt, CLI_OUTPUT_LIST, STDIN_FILENO);
	rc = cli_run_pipelined(&opt, &pump);
	cli_pump_destroy(&pump);
	return finish(&opt, rc, pump.session);
}
