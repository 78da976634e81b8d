/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* json.h - udo-vsock --json: one JSON object per reply (jansson) */
#ifndef UDO_CLI_JSON_H
#define UDO_CLI_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <udo/vsock-proto.h>

struct json_t;

/*
 * The reply under way. Each reply becomes one line on the output:
 *   {"status":"OK"|"ERR","code":null|"CODE","text":"...","data":["...",...]}
 * A data line or a text that is not valid UTF-8 is null in "data" (or
 * "text") and given in base64 in "data_b64" (an array as long as "data",
 * null where "data" has the string) or "text_b64"; these two keys appear
 * only when needed. The schema is documented in udo-vsock(1).
 */
struct cli_json {
	bool ascii;              /* escape every non-ASCII character (a terminal) */
	struct json_t *data;     /* payloads so far, or NULL before the first */
	struct json_t *data_b64; /* NULL while every payload is valid UTF-8 */
	size_t ndata;
};

/* Adds the data line payload S (LEN bytes) to the reply under way.
 * Returns 0, or -1 when out of memory. */
int cli_json_data(struct cli_json *j, const char *s, size_t len);

/* Writes the object for the status line R (OK or ERR) and the data lines
 * added before it as one line to F, and starts a new reply. Returns 0, or
 * -1 when out of memory (nothing written). Write errors are left in F. */
int cli_json_reply(struct cli_json *j, FILE *f, const struct udo_vsock_proto_reply *r);

/* Drops the data lines of the reply under way. */
void cli_json_reset(struct cli_json *j);

#endif /* UDO_CLI_JSON_H */
