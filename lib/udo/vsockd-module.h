/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udo/vsockd-module.h - the ABI of udo-vsockd handler modules
 *
 * A module is a shared object that udo-vsockd loads with dlopen(3)
 * (RTLD_NOW | RTLD_LOCAL) for a `module =` line of its configuration. It
 * exports one symbol, UDO_VSOCKD_MODULE_SYMBOL ("udo_vsockd_module"), a
 * struct udo_vsockd_module whose abi_version is UDO_VSOCKD_MODULE_ABI,
 * and it adds the handler kinds it lists to those `handler =` may name.
 *
 * Modules see no structure of the daemon: a request is an opaque handle,
 * and everything they may do with it goes through the function table
 * struct udo_vsockd_api that the daemon passes to every call. All calls
 * happen on the daemon's single event-loop thread.
 *
 * See udo-vsockd-module(3).
 */
#ifndef UDO_VSOCKD_MODULE_H
#define UDO_VSOCKD_MODULE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version. It changes whenever a structure below changes in a
 * way an existing module would misread; the daemon loads only modules
 * built for exactly its version. */
#define UDO_VSOCKD_MODULE_ABI 1

/* The name of the one symbol a module exports. */
#define UDO_VSOCKD_MODULE_SYMBOL "udo_vsockd_module"

/* One request being answered; opaque. Valid from run() until the module
 * finishes it with ok(), err() or (after cancel()) finish_cancelled(). */
struct udo_vsockd_request;

/* libevent's loop (event2/event.h); modules that answer later add their
 * events to the daemon's base, never to one of their own. */
struct event_base;

/* Transports of udo_vsockd_api.peer_transport(). */
enum udo_vsockd_transport {
	UDO_VSOCKD_TRANSPORT_VSOCK = 1,
	UDO_VSOCKD_TRANSPORT_UNIX = 2,
};

/* Log levels of udo_vsockd_api.log() (the syslog numbers). */
enum udo_vsockd_log_level {
	UDO_VSOCKD_LOG_ERR = 3,
	UDO_VSOCKD_LOG_WARNING = 4,
	UDO_VSOCKD_LOG_NOTICE = 5,
	UDO_VSOCKD_LOG_INFO = 6,
	UDO_VSOCKD_LOG_DEBUG = 7,
};

/* What the daemon offers a module; passed to every call. */
struct udo_vsockd_api {
	unsigned int abi; /* UDO_VSOCKD_MODULE_ABI of the daemon */
	size_t size;      /* sizeof(struct udo_vsockd_api) of the daemon */

	/* Sends one data line ("D " PAYLOAD) of LEN bytes; an LF inside
	 * starts another data line. Does nothing once the client is gone. */
	void (*data)(struct udo_vsockd_request *req, const char *payload, size_t len);
	/* Finishes REQ with "OK" and TEXT (NULL: none). REQ is gone after. */
	void (*ok)(struct udo_vsockd_request *req, const char *text);
	/* Finishes REQ with "ERR CODE TEXT". CODE is one of the protocol's
	 * error codes (udo-vsock-protocol(7)), "failed" for a check that
	 * failed; anything else is sent as "internal". REQ is gone after. */
	void (*err)(struct udo_vsockd_request *req, const char *code, const char *text);
	/* Finishes REQ without a reply; only from or after cancel(). */
	void (*finish_cancelled)(struct udo_vsockd_request *req);

	/* The daemon's event loop, for answering later. */
	struct event_base *(*event_base)(struct udo_vsockd_request *req);
	/* The module's own pointer for REQ (NULL until set). */
	void *(*get_state)(struct udo_vsockd_request *req);
	void (*set_state)(struct udo_vsockd_request *req, void *state);

	/* The request's words: argv(req, 0) is the command name as
	 * configured (lower case); argc counts it. Valid only during run(). */
	int (*argc)(struct udo_vsockd_request *req);
	const char *(*argv)(struct udo_vsockd_request *req, int i);
	/* The configured command name; valid until REQ is finished. */
	const char *(*command)(struct udo_vsockd_request *req);

	/* Who asked, as the kernel reported it (never what the client said). */
	enum udo_vsockd_transport (*peer_transport)(struct udo_vsockd_request *req);
	uint32_t (*peer_cid)(struct udo_vsockd_request *req);         /* unix: UINT32_MAX */
	uint32_t (*peer_port)(struct udo_vsockd_request *req);        /* unix: 0 */
	const char *(*peer_identity)(struct udo_vsockd_request *req); /* unix: configured; vsock: "" */
	/* 1 while the client is still connected, 0 once it has gone. */
	int (*connected)(struct udo_vsockd_request *req);

	/* Logs through the daemon (journal or stderr) at LEVEL. */
	void (*log)(enum udo_vsockd_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
};

/* One handler kind, named by `handler = NAME` in a [command] section. */
struct udo_vsockd_kind {
	const char *name;       /* [a-z0-9][a-z0-9_-]*; unique among every loaded kind */
	int min_args, max_args; /* arguments after the command word; max -1: no limit */
	const char *usage;      /* usage text of the arguments, "" for none */
	const char *summary;    /* one line for HELP; a `summary =` replaces it */

	/* Takes one option of a [command] section (a key the daemon does
	 * not know) into *DATA, the command's data, NULL at first. Returns
	 * 0, or -1 with a message in WHY (reported as file:line). NULL: the
	 * kind has no options, and any is an error. */
	int (*set_option)(void **data, const char *key, const char *value, char *why, size_t whylen);
	/* Checks a command once all its options are in, and may set up
	 * *DATA. Returns 0, or -1 with a message in WHY. NULL: nothing. */
	int (*check)(void **data, char *why, size_t whylen);
	/* Answers REQ: must finish it with api->ok or api->err, at once or
	 * later from an event on api->event_base(req). DATA is the
	 * command's data. */
	void (*run)(const struct udo_vsockd_api *api, struct udo_vsockd_request *req, void *data);
	/* The client of an unfinished REQ has gone: stop the work and call
	 * api->finish_cancelled(REQ) before returning. NULL: run() always
	 * finishes before it returns. */
	void (*cancel)(const struct udo_vsockd_api *api, struct udo_vsockd_request *req, void *data);
	/* Frees a command's DATA when its configuration is freed. NULL:
	 * nothing to free. */
	void (*free_data)(void *data);
};

/* The module, exported as UDO_VSOCKD_MODULE_SYMBOL. */
struct udo_vsockd_module {
	unsigned int abi_version; /* UDO_VSOCKD_MODULE_ABI */
	const char *name;         /* for messages */
	const char *version;      /* the module's own version, for messages */
	/* Called once per load, before any kind is used. Returns 0, or -1
	 * with a message in WHY: the configuration is then refused. NULL:
	 * nothing to do. */
	int (*init)(const struct udo_vsockd_api *api, char *why, size_t whylen);
	/* Called once before unloading, after every command's data is
	 * freed. NULL: nothing to do. */
	void (*fini)(void);
	/* The kinds, ended by one whose name is NULL. */
	const struct udo_vsockd_kind *kinds;
};

#ifdef __cplusplus
}
#endif

#endif /* UDO_VSOCKD_MODULE_H */
