/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* conf.h - the parsed configuration file (udo-vsockd.conf(5)): its lines
 * recorded and their syntax checked, without loading anything; see
 * resolve.h for what binds handler kinds and loads modules. */
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

/* One entry of an access list: a CID range, a unix identity, or a
 * [peer] name or glob (allow and deny only). */
struct acl_entry {
	int allow;        /* 1 allow, 0 deny */
	int any;          /* matches every peer */
	uint32_t cid_low; /* inclusive vsock CID range */
	uint32_t cid_high;
	char *identity; /* matches unix peers with this identity */
	char *name;     /* matches vsock peers the config names so (struct peer's name) */
	int glob;       /* NAME is an fnmatch(3) pattern */
	struct acl_entry *next;
};

/* One `[peer NAME]` section: the name of a vsock CID. */
struct peer_conf {
	char *name; /* lower case; valid_peer_name */
	uint32_t cid;
	const char *file;
	int line;
	struct peer_conf *next;
};

/* A "key = value" line kept for config_resolve(): a [daemon] key that
 * loads or checks something beyond the text (`module`, `metrics-listen`)
 * or a [command] key of its handler kind (`handler` itself included). */
struct conf_line {
	char *key;
	char *value; /* `module`: the path the module is loaded from */
	const char *file;
	int line;
	unsigned int seq; /* where its errors go among the load's (config_error) */
	struct conf_line *next;
};

/* One error of a load, kept until config_finish writes them all in order. */
struct conf_error {
	unsigned int seq;
	char *text; /* "file:line: message"; NULL: out of memory */
	struct conf_error *next;
};

/* One `[command NAME]` section. */
struct command {
	char *name;                      /* lower case */
	const struct handler_kind *kind; /* bound by config_resolve; NULL before */
	struct conf_line *keys;          /* `handler` and the kind's keys, in order, for config_resolve */
	unsigned int seq;                /* the place of config_resolve's errors on binding it ... */
	unsigned int seq_check;          /* ... and on checking it */
	int min_args, max_args;          /* arguments after the command word; -1: no maximum */
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
	unsigned int bytes_per_read;    /* fairness: request bytes handled per turn */
	unsigned int shutdown_grace_ms;
	unsigned int accept_pause_ms;      /* pause after EMFILE/ENFILE */
	unsigned int log_peer_burst;       /* notices per peer and interval; 0: no limit */
	unsigned int log_peer_interval_ms; /* the window of log_peer_burst */
	unsigned int audit_burst;          /* audit entries per peer and interval; 0: no limit */
	unsigned int audit_interval_ms;    /* the window of audit_burst */
	unsigned int metrics_max_peers;    /* peers with their own metrics series */
	/* The guests' systemd notifications (notify-listen, guests.c). */
	unsigned int notify_max_message;               /* bytes; a longer message is dropped */
	unsigned int notify_burst;                     /* messages per guest and interval; 0: no limit */
	unsigned int notify_interval_ms;               /* the window of notify_burst */
	unsigned int notify_max_guests;                /* guests remembered; the least recently heard go */
	unsigned int notify_max_connections;           /* notify connections open at once */
	unsigned int notify_max_connections_per_guest; /* ... from one CID */
	unsigned int notify_timeout_ms;                /* how long one may stay open */
	int notify_any_port;                           /* take senders on ports above 1023 too */
	unsigned int guest_max_hooks;                  /* guest hooks running at once; more are dropped */
};

/* Which requests get an audit entry (`audit =`). */
enum audit_mode {
	AUDIT_ALL,    /* every request */
	AUDIT_DENIED, /* those refused by the access rules or naming no command */
	AUDIT_NONE,
};

/* At most this many notify-listen lines. */
#define NOTIFY_LISTEN_MAX 4

/* Parses a notify-listen address, systemd's spellings: vsock:CID:PORT
 * (SOCK_SEQPACKET here), vsock-seqpacket:, vsock-stream:, vsock-dgram:,
 * into *A. Returns the socket type, or -1 with WHY. */
int notify_addr_parse(const char *text, struct udo_vsock_addr *a, char *why, size_t whylen);

/* notify_addr_parse, writing the canonical text to CANON. Returns 0, or
 * -1 with WHY. */
int notify_listen_parse(const char *text, char *canon, size_t canonlen, char *why, size_t whylen);

/* A whole configuration; reference-counted so a reload can swap it while
 * requests in flight keep the one they started with. */
struct config {
	int refs;
	char *path;
	struct listen_conf *listeners;
	struct command *commands;
	struct command *command_index[CONFIG_COMMAND_BUCKETS]; /* by command_hash() of the name */
	struct peer_conf *peers;                               /* [peer NAME] sections, in order */
	char *peers_dir;                                       /* `peers-dir`: more names (peers-dir.c); NULL: none */
	char *notify_listen[NOTIFY_LISTEN_MAX];                /* `notify-listen`, canonical */
	int n_notify_listen;
	char *guest_hook[2]; /* guest-ready-hook, guest-shutdown-hook: exec commands (config_resolve); NULL: none */
	char *announce;      /* `announce`: canonical vsock:CID:PORT to announce to (announce.c); NULL: none */
	struct acl_entry *default_acl;
	struct limits limits;
	int log_level;          /* enum log_level */
	int audit;              /* enum audit_mode */
	char *metrics_listen;   /* canonical metrics-listen address (config_resolve); NULL: no endpoint */
	struct module *modules; /* loaded by config_resolve, unloaded with the config */
	char *module_dir;       /* where `module = NAME` looked */
	char **strings;         /* file names kept for file:line of commands */
	size_t nstrings;
	int strict_modes;               /* refuse files others may write (see config_trusted) */
	struct conf_line *daemon_keys;  /* [daemon] keys for config_resolve, in order */
	struct conf_error *errors;      /* in order of seq */
	struct conf_error *errors_last; /* where the parser's next error goes */
	int nerrors;
	/* Undoes config_resolve (kinds' data, modules) before the config is
	 * freed; NULL: nothing resolved. */
	void (*unresolve)(struct config *conf);
};

/* How a refusal under strict modes ends: where to look for the way out. */
#define CONFIG_STRICT_HINT "; refused (strict modes, see udo-vsockd.conf(5))"

/* Reads the config file PATH, or the open stream F (left open) named PATH
 * in messages (includes are then found relative to PATH's directory):
 * records its lines and checks their syntax, loading nothing. Errors are
 * kept in the config (config_finish writes them). Returns the config with
 * one reference, or NULL when out of memory. */
struct config *config_parse(const char *path, FILE *f);

/* Keeps an error about FILE:LINE (LINE 0: the file as a whole) at SEQ in
 * the order of CONF's errors: after those of a lower or equal SEQ. */
void config_error(struct config *conf, unsigned int seq, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Ends a load: checks that CONF has listeners and commands, writes every
 * error as "file:line: message" to ERRORS in the order of the files, and
 * indexes the commands. Returns 0, or -1 if CONF has errors. */
int config_finish(struct config *conf, FILE *errors);

/* Writes the [daemon] section of CONF to OUT with every key (udo-vsockd -D). */
void config_format_daemon(const struct config *conf, FILE *out);

/* Writes the options every command has (allow, deny, summary, ...) of CMD to OUT. */
void config_format_command(const struct command *cmd, FILE *out);

/* Frees CONF, its last reference gone (config_unref). */
void config_free(struct config *conf);

/* Takes a reference. Inline: a request takes one. */
static inline struct config *config_ref(struct config *conf)
{
	conf->refs++;
	return conf;
}

/* Drops a reference, freeing the config with the last one. */
static inline void config_unref(struct config *conf)
{
	if (conf != NULL && --conf->refs <= 0)
		config_free(conf);
}

/* The command named NAME (lower case), or NULL. */
const struct command *config_find_command(const struct config *conf, const char *name);

/* The name [peer] sections give vsock CID CID, or NULL. Looked up when
 * a connection is accepted and after a reload, never per request. */
const char *config_peer_name(const struct config *conf, uint32_t cid);

/* The [peer] section named NAME, or NULL. */
const struct peer_conf *config_peer_named(const struct config *conf, const char *name);

/* True if NAME may name a peer ([peer NAME], a peers-dir file): lower
 * case letters, digits, `_ . -`, at most 32, with a letter, no CID, CID
 * range or `any`. */
int config_valid_peer_name(const char *name);

/* Parses a CID: a number or hypervisor, local, host. Returns 0 or -1. */
int config_parse_cid(const char *text, uint32_t *cid);

/* Writes every [peer NAME] section of CONF to OUT (udo-vsockd -D). */
void config_format_peers(const struct config *conf, FILE *out);

/* True if the file or directory of status ST may be trusted under strict
 * modes: owned by root or the daemon's user, and neither group- nor
 * world-writable. Otherwise returns 0 with the reason in WHY. */
int config_trusted(const struct stat *st, char *why, size_t whylen);

/* Parses one access-list value ("any", "3", "3-100", "unix:admin")
 * into *ENTRY. Returns 0 or -1 with a message in WHY. */
int acl_entry_parse(const char *text, int allow, struct acl_entry *entry, char *why, size_t whylen);

/* Writes ENTRY to OUT as access-list text: "any", "3", "3-100",
 * "unix:admin" (acl_entry_parse gives it back) or a peer name or glob
 * (as `allow =` reads it). */
void acl_entry_print(const struct acl_entry *entry, FILE *out);

/* Writes WORD to OUT as one word of the request quoting rules
 * (udo-vsock-protocol(7)): in double quotes when it needs them. */
void config_print_word(FILE *out, const char *word);

/* Parses a non-negative number with an optional unit suffix into *OUT.
 * Units: "" or "ms"/"s"/"min" for durations (result in ms) when
 * DURATION is set; "", "K"/"KiB"/"M"/"MiB" for sizes otherwise.
 * Returns 0 or -1 on junk or overflow past MAX. */
int config_parse_number(const char *text, int duration, unsigned long long max, unsigned long long *out);

/* Which of struct config's guest_hook[] the key KEY sets: 0 for
 * guest-ready-hook, 1 for guest-shutdown-hook. */
int config_guest_hook(const char *key);

#endif /* UDO_VSOCKD_CONF_H */
