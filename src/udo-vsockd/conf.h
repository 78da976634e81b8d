/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* conf.h - the parsed configuration file (udo-vsockd.conf(5)) */
#ifndef UDO_VSOCKD_CONF_H
#define UDO_VSOCKD_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <udo/vsock-addr.h>

struct handler_kind;
struct metrics_command;
struct module;
struct stat;

/* One `listen =` line: where to accept, and the identity of unix peers. */
struct listen_conf {
	struct udo_vsock_addr addr;
	char text[UDO_VSOCK_ADDR_STRLEN]; /* canonical address text */
	char *identity;                   /* unix: who the peers are ("unix" if unset); vsock-mux: the VM's name */
	uint32_t mux_cid;                 /* vsock-mux: the VM's CID, for access rules and logs */
	int backlog;
	const char *file;
	int line;
	struct listen_conf *next;
};

/* One entry of an access list: a CID range or a unix identity. */
struct acl_entry {
	int allow;        /* 1 allow, 0 deny */
	int any;          /* matches every peer */
	uint32_t cid_low; /* inclusive vsock CID range */
	uint32_t cid_high;
	char *identity; /* matches unix peers with this identity */
	struct acl_entry *next;
};

/* One `[command NAME]` section. */
struct command {
	char *name; /* lower case */
	const struct handler_kind *kind;
	int min_args, max_args; /* arguments after the command word; -1: no maximum */
	char *usage;
	char *summary;
	void *data;                      /* the handler kind's per-command state */
	struct acl_entry *acl;           /* NULL: the daemon-wide default */
	int audit_args;                  /* audit entries carry the arguments (ARGS=) */
	struct metrics_command *metrics; /* its counters (metrics.c), the daemon's */
	const char *file;
	int line;
	struct command *next;
	struct command *bucket_next; /* the next in its config_find_command bucket */
};

/* Buckets of the command index (a power of two). */
#define CONFIG_COMMAND_BUCKETS 64

/* Daemon-wide limits; every one configurable in [daemon]. */
struct limits {
	unsigned int max_connections;
	unsigned int max_connections_per_peer;
	unsigned int idle_timeout_ms;   /* 0: none */
	unsigned int line_timeout_ms;   /* to finish a request line begun; 0: none */
	unsigned int max_line_length;   /* bytes, line end excluded */
	unsigned int max_arguments;     /* words per request, command included */
	size_t max_output_buffer;       /* pending reply bytes before reading stops */
	size_t max_buffered;            /* all connections' output and input, daemon-wide */
	unsigned int commands_per_read; /* fairness: lines handled per turn */
	unsigned int shutdown_grace_ms;
	unsigned int accept_pause_ms;      /* pause after EMFILE/ENFILE */
	unsigned int log_peer_burst;       /* notices per peer and interval; 0: no limit */
	unsigned int log_peer_interval_ms; /* the window of log_peer_burst */
	unsigned int audit_burst;          /* audit entries per peer and interval; 0: no limit */
	unsigned int audit_interval_ms;    /* the window of audit_burst */
	unsigned int metrics_max_peers;    /* peers with their own metrics series */
};

/* Which requests get an audit entry (`audit =`). */
enum audit_mode {
	AUDIT_ALL,    /* every request */
	AUDIT_DENIED, /* those refused by the access rules or naming no command */
	AUDIT_NONE,
};

/* A whole configuration; reference-counted so a reload can swap it while
 * requests in flight keep the one they started with. */
struct config {
	int refs;
	char *path;
	struct listen_conf *listeners;
	struct command *commands;
	struct command *command_index[CONFIG_COMMAND_BUCKETS]; /* by command_hash() of the name */
	struct acl_entry *default_acl;
	struct limits limits;
	int log_level;          /* enum log_level */
	int audit;              /* enum audit_mode */
	char *metrics_listen;   /* canonical metrics-listen address; NULL: no endpoint */
	struct module *modules; /* loaded by `module =`, unloaded with the config */
	char *module_dir;       /* where `module = NAME` looked */
	char **strings;         /* file names kept for file:line of commands */
	size_t nstrings;
};

/* Parses PATH. On success returns a config with one reference; on any
 * error writes every problem as "file:line: message" to ERRORS and
 * returns NULL. */
struct config *config_load(const char *path, FILE *errors);

/* Like config_load, but reads the open stream F (left open), named NAME in
 * messages; includes are found relative to NAME's directory. For tests
 * and fuzzing: the input need not be a file on disk. */
struct config *config_load_file(FILE *f, const char *name, FILE *errors);

/* Takes a reference. */
struct config *config_ref(struct config *conf);

/* Drops a reference, freeing the config with the last one. */
void config_unref(struct config *conf);

/* The command named NAME (lower case), or NULL. */
const struct command *config_find_command(const struct config *conf, const char *name);

/* True if the file or directory of status ST may be trusted under strict
 * modes: owned by root or the daemon's user, and neither group- nor
 * world-writable. Otherwise returns 0 with the reason in WHY. */
int config_trusted(const struct stat *st, char *why, size_t whylen);

/* Parses one access-list value ("any", "3", "3-100", "unix:admin")
 * into *ENTRY. Returns 0 or -1 with a message in WHY. */
int acl_entry_parse(const char *text, int allow, struct acl_entry *entry, char *why, size_t whylen);

/* Writes ENTRY to OUT as access-list text: "any", "3", "3-100" or
 * "unix:admin" (acl_entry_parse gives it back). */
void acl_entry_print(const struct acl_entry *entry, FILE *out);

/* Writes WORD to OUT as one word of the request quoting rules
 * (udo-vsock-protocol(7)): in double quotes when it needs them. */
void config_print_word(FILE *out, const char *word);

/* Writes CONF to OUT as a config file with every default filled in and
 * the includes merged (udo-vsockd -D): [daemon] with every key, then
 * each command in config order. Loading it gives the same configuration.
 * Returns 0, or -1 if writing failed. */
int config_dump(struct config *conf, FILE *out);

/* Parses a non-negative number with an optional unit suffix into *OUT.
 * Units: "" or "ms"/"s"/"min" for durations (result in ms) when
 * DURATION is set; "", "K"/"KiB"/"M"/"MiB" for sizes otherwise.
 * Returns 0 or -1 on junk or overflow past MAX. */
int config_parse_number(const char *text, int duration, unsigned long long max, unsigned long long *out);

#endif /* UDO_VSOCKD_CONF_H */
