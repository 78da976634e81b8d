/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* audit.c - one structured log entry per request: who ran what, and how
 * it ended (`audit =`, `audit-args =`, udo-vsockd.conf(5)).
 *
 * The entry is written when the request finishes, under the config it
 * was dispatched under, and is rate-limited per peer (audit-burst per
 * audit-interval) with a count of what was suppressed. Arguments may be
 * secrets: they are kept only for commands with audit-args = yes. */
#include "audit.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <udo/vsock-proto.h>

#include "conf.h"
#include "handler.h"
#include "log.h"
#include "ratelimit.h"
#include "server.h"
#include "util.h"

#define AUDIT_MAX_ARGS_TEXT 4096 /* ARGS= is cut (with "...") past this */

/* REQ's client arguments as one quoted line (malloc'd; cut past
 * AUDIT_MAX_ARGS_TEXT), or NULL if none or out of memory. */
static char *audit_quote_args(const struct request *req)
{
	int n = req->argc - 1;
	ssize_t len = n > 0 ? udo_vsock_proto_request_len(n, req->argv + 1, NULL) : -1;

	if (len <= 0)
		return NULL;
	char *text = malloc((size_t)len + 1);
	if (text == NULL || udo_vsock_proto_build_request(text, (size_t)len, n, req->argv + 1, NULL) != len) {
		free(text);
		return NULL;
	}
	text[len - 1] = '\0'; /* the LF */
	if (len - 1 > AUDIT_MAX_ARGS_TEXT)
		memcpy(text + AUDIT_MAX_ARGS_TEXT - 3, "...", 4);
	return text;
}

/* In audit_command[0]: the request is audited under its command's own
 * name, REQ->cmd->name, which lives as long as the request's reference
 * to its config. Copied only when an entry is written or when that
 * reference may go first (a cancel that an answer follows). Never a
 * command word's first byte: the parser refuses control characters. */
#define AUDIT_NAME_OF_CMD '\x01'

/* Copies NAME (cut to fit) into REQ's audit_command. */
static void audit_copy_name(struct request *req, const char *name)
{
	size_t len = strnlen(name, sizeof(req->audit_command) - 1);

	memcpy(req->audit_command, name, len);
	req->audit_command[len] = '\0';
}

/* audit_begin for REQ under MODE (not none) past its fast path: a word
 * that names no command is copied (it lives in the connection's input,
 * which the next request overwrites), the clock is read if the loop
 * turn has not yet, and the arguments are quoted for audit-args. Out of
 * line: the registers it needs cost every request otherwise. */
static __attribute__((noinline)) void audit_begin_slow(struct request *req, int mode)
{
	const struct command *cmd = req->cmd;

	if (cmd != NULL)
		req->audit_command[0] = AUDIT_NAME_OF_CMD;
	else
		audit_copy_name(req, req->argv[0]);
	req->started_us = server_turn_us(req->server);
	if (mode == AUDIT_ALL && cmd != NULL && cmd->audit_args)
		req->audit_args = audit_quote_args(req);
}

void audit_begin_some(struct request *req)
{
	int mode = req->config->audit;
	const struct command *cmd = req->cmd;
	uint64_t turn_us = req->server->turn_us;
	if (cmd == NULL || turn_us == 0 || (mode == AUDIT_ALL && cmd->audit_args)) {
		audit_begin_slow(req, mode);
		return;
	}
	/* The common case: the command's name needs no copy (yet), and the
	 * loop turn's time is read already (no clock read per request). */
	req->audit_command[0] = AUDIT_NAME_OF_CMD;
	req->started_us = turn_us;
}

/* Whether a request that ended with STATUS and CODE is audited under MODE. */
static int audit_wanted(int mode, const char *status, const char *code)
{
	if (mode == AUDIT_ALL)
		return 1;
	/* CODE first: NULL for every answer but an ERR. */
	return mode == AUDIT_DENIED && code != NULL && strcmp(status, "ERR") == 0 &&
	       (strcmp(code, "denied") == 0 || strcmp(code, "unknown-command") == 0);
}

/* Writes REQ's audit entry for STATUS and CODE with the quoted
 * arguments ARGS (or NULL), then frees ARGS. Out of line: most entries
 * of a busy peer are rate-limited away before this. */
static __attribute__((noinline)) void audit_write(struct request *req, const char *status, const char *code, char *args)
{
	const struct peer *peer = req->peer;
	const char *command = req->audit_command;
	uint64_t now = util_monotonic_us(); /* precise: libevent's cached time moves in 4 ms steps */
	uint64_t usec = now > req->started_us ? now - req->started_us : 0;
	char f_peer[96], f_who[96], f_name[48], f_cmd[96], f_argc[24], f_status[24], f_code[64], f_usec[40],
	    f_bytes[40];
	char *fields[10], *f_args = NULL;
	int n = 0;
	char text[1024];
	snprintf(text, sizeof(text),
	         "%s: %.64s: %s%s%s argc=%d duration_us=%" PRIu64 " bytes_out=%" PRIu64 "%s%s%s%.600s", peer->text,
	         command, status, code != NULL ? " " : "", code != NULL ? code : "", req->argc - 1, usec,
	         req->bytes_out, peer->name[0] != '\0' ? " name=" : "", peer->name, args != NULL ? " args=" : "",
	         args != NULL ? args : "");
	if (!log_journal()) {
		/* On stderr the entry is the text alone. */
		log_audit(text, fields, 0);
		free(args);
		return;
	}
	snprintf(f_peer, sizeof(f_peer), "PEER=%s", peer->text);
	if (peer->transport == UDO_VSOCK_ADDR_UNIX)
		snprintf(f_who, sizeof(f_who), "PEER_IDENTITY=%s", peer->identity);
	else
		snprintf(f_who, sizeof(f_who), "PEER_CID=%" PRIu32, peer->cid);
	snprintf(f_cmd, sizeof(f_cmd), "COMMAND=%.64s", command);
	snprintf(f_argc, sizeof(f_argc), "ARGC=%d", req->argc - 1);
	snprintf(f_status, sizeof(f_status), "STATUS=%s", status);
	snprintf(f_usec, sizeof(f_usec), "DURATION_USEC=%" PRIu64, usec);
	snprintf(f_bytes, sizeof(f_bytes), "BYTES_OUT=%" PRIu64, req->bytes_out);
	fields[n++] = f_peer;
	fields[n++] = f_who;
	if (peer->name[0] != '\0') {
		snprintf(f_name, sizeof(f_name), "PEER_NAME=%s", peer->name);
		fields[n++] = f_name;
	}
	fields[n++] = f_cmd;
	fields[n++] = f_argc;
	fields[n++] = f_status;
	if (code != NULL) {
		snprintf(f_code, sizeof(f_code), "ERR_CODE=%s", code);
		fields[n++] = f_code;
	}
	fields[n++] = f_usec;
	fields[n++] = f_bytes;
	if (args != NULL && asprintf(&f_args, "ARGS=%s", args) < 0)
		f_args = NULL;
	if (f_args != NULL)
		fields[n++] = f_args;
	log_audit(text, fields, n);
	free(f_args);
	free(args);
}

/* audit_peer_allows for REQ, whose connection has gone (and with it
 * the key and its cached window), at NOW_MS. Out of line: rare. */
static __attribute__((noinline)) int audit_gone_peer_allows(const struct request *req, const struct config *conf,
                                                            uint64_t now_ms)
{
	char key[96];

	util_peer_key(req->peer, key, sizeof(key));
	return audit_ratelimit_at(now_ms, key, util_fnv1a(key), req->peer->text, req->peer->cid,
	                          conf->limits.audit_burst, conf->limits.audit_interval_ms);
}

/* Whether REQ's peer may have one more audit entry now (audit-burst). */
static int audit_peer_allows(struct request *req, const struct config *conf)
{
	uint32_t hash;
	const char *key = request_peer_key(req, &hash);
	/* Judged at the request's start, which audit_begin read from the
	 * monotonic clock: no clock read per request for this. */
	uint64_t now_ms = req->started_us / 1000;

	if (key == NULL)
		return audit_gone_peer_allows(req, conf, now_ms);
	/* The connection's key: its window is cached in the request. */
	return audit_ratelimit_cached(&req->audit_rl, now_ms, key, hash, req->peer->text, req->peer->cid,
	                              conf->limits.audit_burst, conf->limits.audit_interval_ms);
}

/* audit_end_begun past its fast path. Out of line: the registers it
 * needs cost every request otherwise. */
static __attribute__((noinline)) void audit_end_judged(struct request *req, const char *status, const char *code)
{
	const struct config *conf = req->config;

	if (req->audit_hold) {
		/* The config (and the command) may be gone at the answer. */
		if (req->audit_command[0] == AUDIT_NAME_OF_CMD)
			audit_copy_name(req, req->cmd->name);
		return;
	}
	char *args = req->audit_args;
	req->audit_args = NULL;
	/* Not audited: begun under audit = none, already written, not
	 * wanted under this mode, or over the peer's audit-burst. */
	if (conf == NULL || req->audit_command[0] == '\0' || !audit_wanted(conf->audit, status, code) ||
	    !audit_peer_allows(req, conf)) {
		req->audit_command[0] = '\0';
		if (args != NULL)
			free(args);
		return;
	}
	if (req->audit_command[0] == AUDIT_NAME_OF_CMD)
		audit_copy_name(req, req->cmd->name);
	audit_write(req, status, code, args);
	req->audit_command[0] = '\0'; /* one entry per request */
}

void audit_end_begun(struct request *req, const char *status, const char *code)
{
	const struct config *conf = req->config;

	/* The common case under audit = all, a busy peer: an entry wanted
	 * whatever the answer, nothing to free, and the peer over its
	 * audit-burst in its cached window (counted as suppressed). */
	if (conf != NULL && conf->audit == AUDIT_ALL && !req->audit_hold && req->audit_args == NULL &&
	    req->audit_command[0] != '\0' && req->conn != NULL &&
	    ratelimit_cached_suppresses(&req->audit_rl, req->started_us / 1000, conf->limits.audit_burst,
	                                conf->limits.audit_interval_ms)) {
		req->audit_command[0] = '\0';
		return;
	}
	audit_end_judged(req, status, code);
}
