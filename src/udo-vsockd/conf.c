/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* conf.c - the configuration file parser (udo-vsockd.conf(5)): records
 * the lines and checks their syntax; nothing is loaded or bound here
 * (resolve.c does that), so it depends on nothing but the leaves. */
#include "conf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "proto.h"
#include "util.h"

#define INCLUDE_DEPTH_MAX 8
#define INCLUDE_FILES_MAX 1024 /* files read by one load, the main one included */
#define SECTION_KEYS_MAX  128

/* One "key = value" line of a [command] section, kept until the section ends. */
struct pending_key {
	char *key;
	char *value;
	int line;
};

/* A peer name in an `allow` or `deny` line, checked once every [peer]
 * section is read (they may come later, or from an include). */
struct name_ref {
	char *name;
	const char *key; /* "allow" or "deny" */
	const char *file;
	int line;
	unsigned int seq; /* the place of its error */
	struct name_ref *next;
};

/* The state of one config_parse(). */
struct parser {
	struct config *conf;
	unsigned int seq; /* the next place in the order of errors */
	int depth;
	/* The [command] section being read, if any. */
	char *cmd_name;
	const char *cmd_file;
	int cmd_line;
	struct pending_key keys[SECTION_KEYS_MAX];
	int nkeys;
	struct command **cmd_tail;
	/* The [peer] section being read, if any, and where its cid was set. */
	struct peer_conf *peer;
	int peer_cid_line;
	struct peer_conf **peer_tail;
	struct name_ref *refs, **refs_tail;
	struct listen_conf **listen_tail;
	struct acl_entry **acl_tail;
	struct conf_line **daemon_tail;
	char module_dir[PATH_MAX]; /* where `module = NAME` looks */
	int nfiles;                /* files opened so far, up to INCLUDE_FILES_MAX */
	int includes_stopped;      /* a cycle or a limit was reported: no more includes */
	struct {
		dev_t dev;
		ino_t ino;
	} reading[INCLUDE_DEPTH_MAX + 2]; /* the files being read, outermost first */
	int nreading;
};

/* Where a config line is: the context of the option tables' parse
 * callbacks. */
struct key_ctx {
	struct parser *p;
	const char *file;
	int line;
	struct acl_entry ***acl_tail; /* where `allow` and `deny` append */
};

/* config_error with a va_list. */
static void config_verror(struct config *conf, unsigned int seq, const char *file, int line, const char *fmt,
                          va_list ap)
{
	struct conf_error *e = calloc(1, sizeof(*e)), **at = &conf->errors;
	char *msg = NULL;

	conf->nerrors++;
	if (e == NULL)
		return; /* counted: the load fails, if without this message */
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	/* Line 0: the file as a whole (it cannot be read, or lacks something). */
	if (msg != NULL &&
	    (line > 0 ? asprintf(&e->text, "%s:%d: %s", file, line, msg) : asprintf(&e->text, "%s: %s", file, msg)) < 0)
		e->text = NULL;
	free(msg);
	e->seq = seq;
	/* The parser's errors come in order: appended at once. */
	if (conf->errors_last != NULL && conf->errors_last->seq <= seq)
		at = &conf->errors_last->next;
	while (*at != NULL && (*at)->seq <= seq)
		at = &(*at)->next;
	e->next = *at;
	*at = e;
	if (e->next == NULL)
		conf->errors_last = e;
}

void config_error(struct config *conf, unsigned int seq, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	config_verror(conf, seq, file, line, fmt, ap);
	va_end(ap);
}

/* Reports one error as "file:line: message" in the order of the lines
 * read; parsing goes on. */
static void parse_error(struct parser *p, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void parse_error(struct parser *p, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	config_verror(p->conf, p->seq++, file, line, fmt, ap);
	va_end(ap);
}

/* Keeps a copy of STR for the config's lifetime. Returns it or NULL. */
static const char *keep_string(struct config *conf, const char *str)
{
	char **v = realloc(conf->strings, sizeof(*v) * (conf->nstrings + 1));
	char *copy = strdup(str);

	if (v == NULL || copy == NULL) {
		free(copy);
		if (v != NULL)
			conf->strings = v;
		return NULL;
	}
	conf->strings = v;
	conf->strings[conf->nstrings++] = copy;
	return copy;
}

int config_parse_number(const char *text, int duration, unsigned long long max, unsigned long long *out)
{
	return duration ? util_parse_duration(text, 0, max, out) : util_parse_size(text, 0, max, out);
}

/* Frees one access list. */
static void acl_free(struct acl_entry *e)
{
	while (e != NULL) {
		struct acl_entry *next = e->next;
		free(e->identity);
		free(e->name);
		free(e);
		e = next;
	}
}

/* Parses a CID: a number or host/local/hypervisor. Returns 0 or -1. */
static int parse_cid(const char *text, uint32_t *cid)
{
	unsigned long long v;

	if (util_parse_cid(text, 0, UINT32_MAX - 1, &v) < 0)
		return -1;
	*cid = (uint32_t)v;
	return 0;
}

int acl_entry_parse(const char *text, int allow, struct acl_entry *entry, char *why, size_t whylen)
{
	memset(entry, 0, sizeof(*entry));
	entry->allow = allow;
	if (strcmp(text, "any") == 0) {
		entry->any = 1;
		return 0;
	}
	if (strncmp(text, "unix:", 5) == 0) {
		if (text[5] == '\0') {
			snprintf(why, whylen, "empty unix identity");
			return -1;
		}
		entry->identity = strdup(text + 5);
		if (entry->identity == NULL) {
			snprintf(why, whylen, "out of memory");
			return -1;
		}
		return 0;
	}
	char low[32], *dash;
	snprintf(low, sizeof(low), "%s", text);
	dash = strchr(low, '-');
	if (dash != NULL)
		*dash = '\0';
	if (parse_cid(low, &entry->cid_low) < 0 || parse_cid(dash != NULL ? dash + 1 : low, &entry->cid_high) < 0 ||
	    strlen(text) >= sizeof(low)) {
		snprintf(why, whylen,
		         "'%s' is not a CID (a number, hypervisor, local or host), a CID range (3-100), 'any' or "
		         "'unix:IDENTITY'",
		         text);
		return -1;
	}
	if (entry->cid_low > entry->cid_high) {
		snprintf(why, whylen, "CID range '%s' is empty", text);
		return -1;
	}
	return 0;
}

/* Writes CID to OUT: by its name (parse_cid's) for 0 to 2. */
static void print_cid(uint32_t cid, FILE *out)
{
	static const char *const names[] = {"hypervisor", "local", "host"};

	if (cid < 3)
		fputs(names[cid], out);
	else
		fprintf(out, "%u", (unsigned int)cid);
}

void acl_entry_print(const struct acl_entry *e, FILE *out)
{
	if (e->any) {
		fputs("any", out);
	} else if (e->name != NULL) {
		fputs(e->name, out);
	} else if (e->identity != NULL) {
		fprintf(out, "unix:%s", e->identity);
	} else {
		print_cid(e->cid_low, out);
		if (e->cid_high != e->cid_low) {
			fputc('-', out);
			print_cid(e->cid_high, out);
		}
	}
}

static int valid_command_name(const char *name);

/* True if WORD reads as a CID or a CID range, empty or not ("host",
 * "7", "100-3", "local-2"), or has no letter at all. */
static int cid_like(const char *word)
{
	char low[40], *dash;
	uint32_t cid;

	if (strpbrk(word, "abcdefghijklmnopqrstuvwxyz") == NULL)
		return 1;
	snprintf(low, sizeof(low), "%s", word);
	dash = strchr(low, '-');
	if (dash != NULL)
		*dash = '\0';
	return parse_cid(low, &cid) == 0 && (dash == NULL || parse_cid(dash + 1, &cid) == 0);
}

/* True if NAME may name a [peer]: a valid command name with a letter
 * that is no other access-list word (a CID, a CID range, `any`), so
 * access lists stay unambiguous. */
static int valid_peer_name(const char *name)
{
	return valid_command_name(name) && strcmp(name, "any") != 0 && !cid_like(name);
}

/* Lower-cases S in place. */
static void lower(char *s)
{
	for (; *s != '\0'; s++) {
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
	}
}

/* True if W is a glob of peer names: a `*`, `?` or `[` among name
 * characters and bracket syntax. */
static int peer_glob(const char *w)
{
	if (strpbrk(w, "*?[") == NULL || strlen(w) > 64)
		return 0;
	for (; *w != '\0'; w++) {
		char c = *w;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("_.-*?[]!^", c) != NULL))
			return 0;
	}
	return 1;
}

/* Parses W, an access-list word of `allow` or `deny`, into *E: an
 * acl_entry_parse word, or else a peer glob or name (lower-cased). A
 * name is noted for the check that a [peer] defines it. Returns 0 or -1
 * with a message in WHY. */
static int parse_acl_word(struct parser *p, const char *file, int line, char *w, int allow, struct acl_entry *e,
                          char *why, size_t whylen)
{
	if (strncmp(w, "unix:", 5) != 0 && strpbrk(w, "*?[") == NULL && acl_entry_parse(w, allow, e, why, whylen) == 0)
		return 0;
	if (strncmp(w, "unix:", 5) == 0)
		return acl_entry_parse(w, allow, e, why, whylen);
	lower(w);
	int glob = peer_glob(w);
	if (!glob && cid_like(w))
		return -1; /* acl_entry_parse's reason stands ("CID range '100-3' is empty") */
	if (!glob && !valid_peer_name(w)) {
		snprintf(why, whylen,
		         "'%s' is not a CID (a number, hypervisor, local or host), a CID range (3-100), 'any', "
		         "'unix:IDENTITY', a [peer] name or a glob of them",
		         w);
		return -1;
	}
	memset(e, 0, sizeof(*e));
	e->allow = allow;
	e->glob = glob;
	struct name_ref *ref = glob ? NULL : calloc(1, sizeof(*ref));
	if ((e->name = strdup(w)) == NULL || (!glob && (ref == NULL || (ref->name = strdup(w)) == NULL))) {
		free(e->name);
		free(ref);
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	if (ref != NULL) {
		ref->key = allow ? "allow" : "deny";
		ref->file = file;
		ref->line = line;
		ref->seq = p->seq++;
		*p->refs_tail = ref;
		p->refs_tail = &ref->next;
	}
	return 0;
}

/* Appends the ACL entries in VALUE (blank-separated) at *TAIL. */
static void parse_acl_value(struct parser *p, const char *file, int line, const char *value, int allow,
                            struct acl_entry ***tail)
{
	char *copy = strdup(value), *save = NULL;

	if (copy == NULL) {
		parse_error(p, file, line, "out of memory");
		return;
	}
	for (char *w = strtok_r(copy, " \t", &save); w != NULL; w = strtok_r(NULL, " \t", &save)) {
		struct acl_entry e, *ne;
		char why[256];
		if (parse_acl_word(p, file, line, w, allow, &e, why, sizeof(why)) < 0) {
			parse_error(p, file, line, "%s", why);
			continue;
		}
		ne = malloc(sizeof(*ne));
		if (ne == NULL) {
			free(e.identity);
			free(e.name);
			parse_error(p, file, line, "out of memory");
			continue;
		}
		*ne = e;
		**tail = ne;
		*tail = &ne->next;
	}
	free(copy);
}

/* Splits VALUE into words with the request-line quoting rules. Returns
 * the count (>= 0), or -1 with *WHY set; free *BUF afterwards. */
static int split_words(const char *value, char **buf, char **words, int max, const char **why)
{
	size_t len = strlen(value);
	int n = 0;

	*buf = malloc(len + 1);
	if (*buf == NULL) {
		*why = "out of memory";
		return -1;
	}
	memcpy(*buf, value, len + 1);
	enum udo_vsock_proto_parse_result r = udo_vsock_proto_parse_line(*buf, len, words, max, &n, why);
	if (r == UDO_VSOCK_PROTO_PARSE_EMPTY)
		return 0;
	return r == UDO_VSOCK_PROTO_PARSE_OK ? n : -1;
}

/* Parses "listen = ADDRESS [identity=NAME] [backlog=N]". */
static void parse_listen(struct parser *p, const char *file, int line, const char *value)
{
	char *buf, *w[8], why[160];
	const char *werr;
	int n = split_words(value, &buf, w, 8, &werr);

	if (n <= 0) {
		parse_error(p, file, line, "listen: %s", n == 0 ? "address missing" : werr);
		free(buf);
		return;
	}
	/* udo_vsock_proto_parse_line lower-cases the first word: addresses are case-sensitive. */
	struct listen_conf *lc = calloc(1, sizeof(*lc));
	if (lc == NULL) {
		parse_error(p, file, line, "out of memory");
		free(buf);
		return;
	}
	lc->file = file;
	lc->line = line;
	lc->backlog = 1024; /* vsock resets a connect that finds the queue full */
	char *addrtext = strdup(value);
	if (addrtext != NULL) {
		addrtext[strcspn(addrtext, " \t")] = '\0';
	}
	if (addrtext == NULL || udo_vsock_addr_parse(&lc->addr, addrtext, why, sizeof(why)) < 0) {
		parse_error(p, file, line, "listen: %s", addrtext == NULL ? "out of memory" : why);
		goto fail;
	}
	udo_vsock_addr_format(&lc->addr, lc->text, sizeof(lc->text));
	int has_cid = 0;
	for (int i = 1; i < n; i++) {
		unsigned long long v;
		if (strncmp(w[i], "identity=", 9) == 0 && w[i][9] != '\0' && strlen(w[i] + 9) < 64 &&
		    lc->addr.kind == UDO_VSOCK_ADDR_UNIX) {
			free(lc->identity);
			/* Never silently the default identity: access rules use it. */
			if ((lc->identity = strdup(w[i] + 9)) == NULL)
				parse_error(p, file, line, "out of memory");
		} else if (strncmp(w[i], "name=", 5) == 0 && w[i][5] != '\0' && strlen(w[i] + 5) < 64 &&
		           lc->addr.kind == UDO_VSOCK_ADDR_VSOCK_MUX) {
			free(lc->identity);
			if ((lc->identity = strdup(w[i] + 5)) == NULL)
				parse_error(p, file, line, "out of memory");
		} else if (strncmp(w[i], "cid=", 4) == 0 && lc->addr.kind == UDO_VSOCK_ADDR_VSOCK_MUX &&
		           parse_cid(w[i] + 4, &lc->mux_cid) == 0 && lc->mux_cid > 2) {
			has_cid = 1;
		} else if (strncmp(w[i], "backlog=", 8) == 0 && util_parse_size(w[i] + 8, 1, 65535, &v) == 0) {
			lc->backlog = (int)v;
		} else {
			parse_error(p, file, line, "listen: unknown or invalid option '%s'", w[i]);
		}
	}
	if (lc->addr.kind == UDO_VSOCK_ADDR_VSOCK_MUX && !has_cid) {
		parse_error(p, file, line, "listen: a vsock-mux listener needs cid=N, the VM's guest CID (3 or more)");
		goto fail;
	}
	if (lc->addr.kind == UDO_VSOCK_ADDR_VSOCK_MUX && lc->addr.path[0] == '@') {
		parse_error(p, file, line, "listen: a vsock-mux path must be a file system path");
		goto fail;
	}
	for (struct listen_conf *o = p->conf->listeners; o != NULL; o = o->next) {
		if (strcmp(o->text, lc->text) == 0) {
			parse_error(p, file, line, "listen: %s is already listed at %s:%d", lc->text, o->file, o->line);
			goto fail;
		}
	}
	free(addrtext);
	free(buf);
	*p->listen_tail = lc;
	p->listen_tail = &lc->next;
	return;
fail:
	free(addrtext);
	free(buf);
	free(lc->identity);
	free(lc);
}

static void parse_file(struct parser *p, const char *path, const char *from, int from_line);

/* Strict modes: see conf.h. */
int config_trusted(const struct stat *st, char *why, size_t whylen)
{
	uid_t me = geteuid();

	if (st->st_uid != 0 && st->st_uid != me) {
		snprintf(why, whylen, "owned by uid %u, neither root nor the daemon's user (uid %u)",
		         (unsigned int)st->st_uid, (unsigned int)me);
		return 0;
	}
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		snprintf(why, whylen, "%s-writable (mode %04o)", (st->st_mode & S_IWOTH) != 0 ? "world" : "group",
		         (unsigned int)(st->st_mode & 07777));
		return 0;
	}
	return 1;
}

/* Includes PATH: a file, or every *.conf in a directory in name order. */
static void parse_include(struct parser *p, const char *file, int line, const char *value)
{
	char path[PATH_MAX], why[160];
	struct stat st;

	if (p->includes_stopped)
		return; /* a cycle or a limit was reported once already */
	const char *slash = value[0] == '/' ? NULL : strrchr(file, '/');
	int dirlen = slash != NULL ? (int)(slash - file + 1) : 0;
	if ((size_t)snprintf(path, sizeof(path), "%.*s%s", dirlen, file, value) >= sizeof(path)) {
		parse_error(p, file, line, "include: path too long");
		return;
	}
	if (p->depth >= INCLUDE_DEPTH_MAX) {
		parse_error(p, file, line, "include: nested more than %d deep", INCLUDE_DEPTH_MAX);
		p->includes_stopped = 1;
		return;
	}
	if (stat(path, &st) < 0) {
		parse_error(p, file, line, "include: %s: %s", path, strerror(errno));
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		parse_file(p, path, file, line);
		return;
	}
	if (p->conf->strict_modes && !config_trusted(&st, why, sizeof(why))) {
		parse_error(p, file, line, "include: %s: %s" CONFIG_STRICT_HINT, path, why);
		return;
	}
	struct dirent **names;
	int n = scandir(path, &names, NULL, alphasort);
	if (n < 0) {
		parse_error(p, file, line, "include: %s: %s", path, strerror(errno));
		return;
	}
	for (int i = 0; i < n; i++) {
		size_t len = strlen(names[i]->d_name);
		if (!p->includes_stopped && names[i]->d_name[0] != '.' && len > 5 &&
		    strcmp(names[i]->d_name + len - 5, ".conf") == 0) {
			char sub[PATH_MAX];
			if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", path, names[i]->d_name) >= sizeof(sub))
				parse_error(p, file, line, "include: %s/%s: path too long", path, names[i]->d_name);
			else
				parse_file(p, sub, file, line);
		}
		free(names[i]);
	}
	free(names);
}

/* Appends "KEY = VALUE" of FILE:LINE at *TAIL for config_resolve, with
 * the next place in the order of errors. Returns it, or NULL (reported). */
static struct conf_line *keep_line(struct parser *p, struct conf_line ***tail, const char *key, const char *value,
                                   const char *file, int line)
{
	struct conf_line *l = calloc(1, sizeof(*l));

	if (l != NULL && (l->key = strdup(key)) != NULL && (l->value = strdup(value)) != NULL) {
		l->file = file;
		l->line = line;
		l->seq = p->seq++;
		**tail = l;
		*tail = &l->next;
		return l;
	}
	if (l != NULL) {
		free(l->key);
		free(l);
	}
	parse_error(p, file, line, "out of memory");
	return NULL;
}

/* Frees a list of kept lines. */
static void lines_free(struct conf_line *l)
{
	while (l != NULL) {
		struct conf_line *next = l->next;
		free(l->key);
		free(l->value);
		free(l);
		l = next;
	}
}

/* Keeps the path of a "module = PATH|NAME" line for config_resolve,
 * which loads it. A NAME (no '/') is NAME.so in module-dir; a relative
 * PATH is taken from the directory of FILE. */
static void parse_module(struct parser *p, const char *file, int line, const char *value)
{
	char path[PATH_MAX];
	size_t len = strlen(value);
	int n;

	if (strchr(value, '/') == NULL) {
		int has_so = len > 3 && strcmp(value + len - 3, ".so") == 0;
		n = snprintf(path, sizeof(path), "%s/%s%s", p->module_dir, value, has_so ? "" : ".so");
	} else {
		const char *slash = value[0] == '/' ? NULL : strrchr(file, '/');
		int dirlen = slash != NULL ? (int)(slash - file + 1) : 0;
		n = snprintf(path, sizeof(path), "%.*s%s", dirlen, file, value);
	}
	if (n < 0 || (size_t)n >= sizeof(path)) {
		parse_error(p, file, line, "module: path too long");
		return;
	}
	keep_line(p, &p->daemon_tail, "module", path, file, line);
}

/* `listen =`: reports its own errors. */
static int key_listen(const struct option_spec *spec, void *target, void *ctx, const char *value, char *why,
                      size_t whylen)
{
	struct key_ctx *k = ctx;

	parse_listen(k->p, k->file, k->line, value);
	return 0;
}

/* `include =`: reports its own errors. */
static int key_include(const struct option_spec *spec, void *target, void *ctx, const char *value, char *why,
                       size_t whylen)
{
	struct key_ctx *k = ctx;

	parse_include(k->p, k->file, k->line, value);
	return 0;
}

/* `module =`: reports its own errors. */
static int key_module(const struct option_spec *spec, void *target, void *ctx, const char *value, char *why,
                      size_t whylen)
{
	struct key_ctx *k = ctx;

	parse_module(k->p, k->file, k->line, value);
	return 0;
}

/* `allow =` and `deny =`, of [daemon] or a command: report their own errors. */
static int key_acl(const struct option_spec *spec, void *target, void *ctx, const char *value, char *why, size_t whylen)
{
	struct key_ctx *k = ctx;

	parse_acl_value(k->p, k->file, k->line, value, spec->name[0] == 'a', k->acl_tail);
	return 0;
}

void config_print_word(FILE *out, const char *word)
{
	size_t len = strlen(word);
	ssize_t n = udo_vsock_proto_quoted_len(word, len);
	char *buf = n > 0 ? malloc((size_t)n) : NULL;

	/* No word carries LF or NUL: such text (none parses) goes out as is. */
	if (buf != NULL && udo_vsock_proto_quote(buf, (size_t)n, word, len) == n)
		fwrite(buf, 1, (size_t)n, out);
	else
		fputs(word, out);
	free(buf);
}

/* Writes ACL as `allow =` and `deny =` lines for the option SPEC: all
 * of them, in order, under `allow` (the first match decides), and under
 * `deny` only a comment when ACL has no deny rule. NONE: what an empty
 * list means. */
static void format_acl(const struct option_spec *spec, const struct acl_entry *acl, const char *none, FILE *out)
{
	int denies = 0;

	for (const struct acl_entry *e = acl; e != NULL; e = e->next)
		denies |= !e->allow;
	if (acl == NULL) {
		fprintf(out, "# %s: %s\n", spec->name, none);
	} else if (spec->name[0] == 'a') {
		for (const struct acl_entry *e = acl; e != NULL; e = e->next) {
			fputs(e->allow ? "allow = " : "deny = ", out);
			acl_entry_print(e, out);
			fputc('\n', out);
		}
	} else if (!denies) {
		fprintf(out, "# %s: none\n", spec->name);
	}
}

/* Writes the [daemon] `allow` and `deny` rules. */
static void fmt_daemon_acl(const struct option_spec *spec, const void *target, const void *ctx, FILE *out)
{
	format_acl(spec, ((const struct config *)target)->default_acl, "none (no peer may run a command)", out);
}

/* Writes a command's own `allow` and `deny` rules. */
static void fmt_command_acl(const struct option_spec *spec, const void *target, const void *ctx, FILE *out)
{
	format_acl(spec, ((const struct command *)target)->acl, "not set (the [daemon] rules apply)", out);
}

/* Writes every `listen =` line with all its parameters. */
static void fmt_listen(const struct option_spec *spec, const void *target, const void *ctx, FILE *out)
{
	const struct config *conf = target;

	if (conf->listeners == NULL)
		option_format_unset(spec->name, out);
	for (const struct listen_conf *lc = conf->listeners; lc != NULL; lc = lc->next) {
		int mux = lc->addr.kind == UDO_VSOCK_ADDR_VSOCK_MUX;
		fprintf(out, "listen = %s", lc->text);
		if (lc->identity != NULL) {
			char word[80];
			snprintf(word, sizeof(word), "%s=%s", mux ? "name" : "identity", lc->identity);
			fputc(' ', out);
			config_print_word(out, word);
		}
		if (mux)
			fprintf(out, " cid=%u", (unsigned int)lc->mux_cid);
		fprintf(out, " backlog=%d\n", lc->backlog);
	}
}

/* `include`: the dump holds what the included files said, merged. */
static void fmt_include(const struct option_spec *spec, const void *target, const void *ctx, FILE *out)
{
	fprintf(out, "# %s: included files are merged into this dump\n", spec->name);
}

/* Writes one `module =` line per module, by its full path. */
static void fmt_module(const struct option_spec *spec, const void *target, const void *ctx, FILE *out)
{
	const struct config *conf = target;
	int any = 0;

	for (const struct conf_line *l = conf->daemon_keys; l != NULL; l = l->next) {
		if (strcmp(l->key, spec->name) != 0)
			continue;
		/* Absolute: a relative path was taken from the directory of its file. */
		char *full = realpath(l->value, NULL);
		fprintf(out, "%s = %s\n", spec->name, full != NULL ? full : l->value);
		free(full);
		any = 1;
	}
	if (!any)
		option_format_unset(spec->name, out);
}

/* Writes `module-dir`. */
static void fmt_module_dir(const struct option_spec *spec, const void *target, const void *ctx, FILE *out)
{
	const struct config *conf = target;

	fprintf(out, "%s = %s\n", spec->name, conf->module_dir != NULL ? conf->module_dir : PKGLIBDIR);
}

/* Writes `log-level` by its name. */
static void fmt_log_level(const struct option_spec *spec, const void *target, const void *ctx, FILE *out)
{
	int level = ((const struct config *)target)->log_level;

	if (log_level_name(level) != NULL)
		fprintf(out, "%s = %s\n", spec->name, log_level_name(level));
	else
		option_format_unset(spec->name, out);
}

/* Writes a command's `summary`; an empty one (a module kind's) cannot
 * be written, and is what a dump without it gives back. */
static void fmt_summary(const struct option_spec *spec, const void *target, const void *ctx, FILE *out)
{
	const char *summary = ((const struct command *)target)->summary;

	if (summary == NULL || summary[0] == '\0')
		fprintf(out, "# %s: empty\n", spec->name);
	else
		fprintf(out, "%s = %s\n", spec->name, summary);
}

/* `module-dir =`: an absolute path. */
static int key_module_dir(const struct option_spec *spec, void *target, void *ctx, const char *value, char *why,
                          size_t whylen)
{
	struct key_ctx *k = ctx;

	if (value[0] != '/' || strlen(value) >= sizeof(k->p->module_dir)) {
		snprintf(why, whylen, "module-dir: '%s' is not an absolute path", value);
		return -1;
	}
	snprintf(k->p->module_dir, sizeof(k->p->module_dir), "%s", value);
	return 0;
}

/* `log-level =`: a level name. */
static int key_log_level(const struct option_spec *spec, void *target, void *ctx, const char *value, char *why,
                         size_t whylen)
{
	for (int i = LOG_LEVEL_ERR; i <= LOG_LEVEL_DEBUG; i++) {
		if (strcmp(value, log_level_name(i)) == 0) {
			((struct config *)target)->log_level = i;
			return 0;
		}
	}
	if (strcmp(value, "warn") == 0) {
		((struct config *)target)->log_level = LOG_LEVEL_WARNING;
		return 0;
	}
	snprintf(why, whylen, "log-level: '%s' is not error, warning, notice, info or debug", value);
	return -1;
}

/* The values of `audit =`, by enum audit_mode. */
static const char *const audit_modes[] = {[AUDIT_ALL] = "all", [AUDIT_DENIED] = "denied", [AUDIT_NONE] = "none"};

/* `audit =`: all, denied or none. */
static int key_audit(const struct option_spec *spec, void *target, void *ctx, const char *value, char *why,
                     size_t whylen)
{
	for (size_t i = 0; i < sizeof(audit_modes) / sizeof(audit_modes[0]); i++) {
		if (strcmp(value, audit_modes[i]) == 0) {
			((struct config *)target)->audit = (int)i;
			return 0;
		}
	}
	snprintf(why, whylen, "audit: '%s' is not all, denied or none", value);
	return -1;
}

/* Writes `audit` by its name. */
static void fmt_audit(const struct option_spec *spec, const void *target, const void *ctx, FILE *out)
{
	int mode = ((const struct config *)target)->audit;

	if (mode >= 0 && (size_t)mode < sizeof(audit_modes) / sizeof(audit_modes[0]))
		fprintf(out, "%s = %s\n", spec->name, audit_modes[mode]);
	else
		option_format_unset(spec->name, out);
}

/* A key whose value config_resolve checks once every line is read:
 * `metrics-listen =` (a loopback tcp: or a unix: address, metrics.c),
 * `guest-ready-hook =` and `guest-shutdown-hook =` (an exec command,
 * which may come later in the files). The line is kept for it. */
static int key_keep_for_resolve(const struct option_spec *spec, void *target, void *ctx, const char *value, char *why,
                                size_t whylen)
{
	struct key_ctx *k = ctx;

	keep_line(k->p, &k->p->daemon_tail, spec->name, value, k->file, k->line);
	return 0;
}

int config_guest_hook(const char *key)
{
	return strcmp(key, "guest-shutdown-hook") == 0;
}

/* Writes `guest-ready-hook` or `guest-shutdown-hook`, or that it is unset. */
static void fmt_guest_hook(const struct option_spec *spec, const void *target, const void *ctx, FILE *out)
{
	option_format_string(spec->name, ((const struct config *)target)->guest_hook[config_guest_hook(spec->name)],
	                     NULL, out);
}

/* Writes `metrics-listen`, or that there is no endpoint. */
static void fmt_metrics_listen(const struct option_spec *spec, const void *target, const void *ctx, FILE *out)
{
	option_format_string(spec->name, ((const struct config *)target)->metrics_listen, "no metrics endpoint", out);
}

/* `peers-dir =`: an absolute path (peers-dir.c watches it). */
static int key_peers_dir(const struct option_spec *spec, void *target, void *ctx, const char *value, char *why,
                         size_t whylen)
{
	struct config *conf = target;

	if (value[0] != '/' || strlen(value) >= PATH_MAX) {
		snprintf(why, whylen, "peers-dir: '%s' is not an absolute path", value);
		return -1;
	}
	free(conf->peers_dir);
	if ((conf->peers_dir = strdup(value)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	return 0;
}

/* Writes `peers-dir`, or that names come from [peer] sections only. */
static void fmt_peers_dir(const struct option_spec *spec, const void *target, const void *ctx, FILE *out)
{
	option_format_string(spec->name, ((const struct config *)target)->peers_dir,
	                     "peer names from [peer] sections only", out);
}

/* notify-listen addresses, in systemd's spellings of the vmm.notify_socket
 * credential (guests.c says which systemd version uses which type). */

/* One socket-type prefix of systemd's address forms. */
struct notify_type {
	const char *prefix;
	int type;
};

/* "vsock:" is seqpacket: what systemd uses on virtio and vhost-vsock. */
static const struct notify_type notify_types[] = {
    {"vsock-seqpacket:", SOCK_SEQPACKET},
    {"vsock-stream:", SOCK_STREAM},
    {"vsock-dgram:", SOCK_DGRAM},
    {"vsock:", SOCK_SEQPACKET},
};

/* The socket type of notify-listen address TEXT and where its "vsock:"
 * form begins (in *REST), or -1. */
static int notify_type_of(const char *text, const char **rest)
{
	for (size_t i = 0; i < sizeof(notify_types) / sizeof(notify_types[0]); i++) {
		size_t n = strlen(notify_types[i].prefix);
		if (strncmp(text, notify_types[i].prefix, n) == 0) {
			*rest = text + n;
			return notify_types[i].type;
		}
	}
	return -1;
}

/* The prefix that names socket type TYPE. */
static const char *notify_type_prefix(int type)
{
	return type == SOCK_STREAM ? "vsock-stream:" : type == SOCK_DGRAM ? "vsock-dgram:" : "vsock-seqpacket:";
}

int notify_addr_parse(const char *text, struct udo_vsock_addr *a, char *why, size_t whylen)
{
	const char *rest;
	int type = notify_type_of(text, &rest);
	char buf[96];

	if (type < 0) {
		snprintf(
		    why, whylen,
		    "notify-listen: '%s': want vsock:CID:PORT, vsock-seqpacket:, vsock-stream: or vsock-dgram:", text);
		return -1;
	}
	snprintf(buf, sizeof(buf), "vsock:%s", rest);
	if (udo_vsock_addr_parse(a, buf, why, whylen) < 0)
		return -1;
	if (a->port == UINT32_MAX) {
		snprintf(why, whylen, "notify-listen: '%s' needs a port", text);
		return -1;
	}
	return type;
}

int notify_listen_parse(const char *text, char *canon, size_t canonlen, char *why, size_t whylen)
{
	struct udo_vsock_addr a;
	char vs[UDO_VSOCK_ADDR_STRLEN];
	int type = notify_addr_parse(text, &a, why, whylen);

	if (type < 0)
		return -1;
	udo_vsock_addr_format(&a, vs, sizeof(vs));
	snprintf(canon, canonlen, "%s%s", notify_type_prefix(type), vs + strlen("vsock:"));
	return 0;
}

/* `notify-listen =`: one more address for guests' systemd (guests.c). */
static int key_notify_listen(const struct option_spec *spec, void *target, void *ctx, const char *value, char *why,
                             size_t whylen)
{
	struct config *conf = target;
	char canon[96];

	if (notify_listen_parse(value, canon, sizeof(canon), why, whylen) < 0)
		return -1;
	for (int i = 0; i < conf->n_notify_listen; i++) {
		if (strcmp(conf->notify_listen[i], canon) == 0) {
			snprintf(why, whylen, "notify-listen: %s is already listed", canon);
			return -1;
		}
	}
	if (conf->n_notify_listen >= NOTIFY_LISTEN_MAX) {
		snprintf(why, whylen, "notify-listen: at most %d addresses", NOTIFY_LISTEN_MAX);
		return -1;
	}
	if ((conf->notify_listen[conf->n_notify_listen] = strdup(canon)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	conf->n_notify_listen++;
	return 0;
}

/* Writes every `notify-listen`, or that there is none. */
static void fmt_notify_listen(const struct option_spec *spec, const void *target, const void *ctx, FILE *out)
{
	const struct config *conf = target;

	for (int i = 0; i < conf->n_notify_listen; i++)
		fprintf(out, "%s = %s\n", spec->name, conf->notify_listen[i]);
	if (conf->n_notify_listen == 0)
		option_format_string(spec->name, NULL, "guests' systemd notifications are not received", out);
}

/* `announce =`: the host address a guest announces itself to (announce.c). */
static int key_announce(const struct option_spec *spec, void *target, void *ctx, const char *value, char *why,
                        size_t whylen)
{
	struct config *conf = target;
	struct udo_vsock_addr a;
	char canon[UDO_VSOCK_ADDR_STRLEN];

	if (udo_vsock_addr_parse(&a, value, why, whylen) < 0)
		return -1;
	if (a.kind != UDO_VSOCK_ADDR_VSOCK || a.port == UINT32_MAX || a.cid == UINT32_MAX) {
		snprintf(why, whylen, "announce: %s is not vsock:CID:PORT with a CID and a port", value);
		return -1;
	}
	udo_vsock_addr_format(&a, canon, sizeof(canon));
	free(conf->announce);
	if ((conf->announce = strdup(canon)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	return 0;
}

/* Writes `announce`, or that the guest does not announce itself. */
static void fmt_announce(const struct option_spec *spec, const void *target, const void *ctx, FILE *out)
{
	option_format_string(spec->name, ((const struct config *)target)->announce,
	                     "this guest does not announce itself", out);
}

/* A [daemon] limit: a field of struct config's limits. */
#define LIMIT(name, type, min, max, field) OPTION(name, type, min, max, struct config, limits.field, NULL)

/* Every [daemon] setting; the target is the struct config. */
static const struct option_spec daemon_options[] = {
    OPTION_CUSTOM("listen", key_listen, fmt_listen),
    OPTION_CUSTOM("include", key_include, fmt_include),
    OPTION_CUSTOM("allow", key_acl, fmt_daemon_acl),
    OPTION_CUSTOM("deny", key_acl, fmt_daemon_acl),
    OPTION_CUSTOM("module-dir", key_module_dir, fmt_module_dir),
    OPTION_CUSTOM("module", key_module, fmt_module),
    OPTION_CUSTOM("log-level", key_log_level, fmt_log_level),
    LIMIT("max-connections", OPT_NUMBER, 1, 1000000, max_connections),
    LIMIT("max-connections-per-peer", OPT_NUMBER, 1, 1000000, max_connections_per_peer),
    LIMIT("idle-timeout", OPT_DURATION, 0, 86400000, idle_timeout_ms),
    LIMIT("line-timeout", OPT_DURATION, 0, 86400000, line_timeout_ms),
    LIMIT("max-line-length", OPT_SIZE, 16, 1048576, max_line_length),
    LIMIT("max-arguments", OPT_NUMBER, 1, 65536, max_arguments),
    LIMIT("max-output-buffer", OPT_SIZE, 4096, 1ULL << 30, max_output_buffer),
    LIMIT("max-buffered", OPT_SIZE, 65536, 1ULL << 40, max_buffered),
    LIMIT("commands-per-read", OPT_NUMBER, 1, 100000, commands_per_read),
    LIMIT("bytes-per-read", OPT_SIZE, 1024, 1073741824, bytes_per_read),
    LIMIT("shutdown-grace", OPT_DURATION, 0, 3600000, shutdown_grace_ms),
    LIMIT("accept-pause", OPT_DURATION, 10, 60000, accept_pause_ms),
    LIMIT("log-peer-burst", OPT_NUMBER, 0, 1000000, log_peer_burst),
    LIMIT("log-peer-interval", OPT_DURATION, 1, 86400000, log_peer_interval_ms),
    OPTION_CUSTOM("audit", key_audit, fmt_audit),
    LIMIT("audit-burst", OPT_NUMBER, 0, 1000000, audit_burst),
    LIMIT("audit-interval", OPT_DURATION, 1, 86400000, audit_interval_ms),
    OPTION_CUSTOM("metrics-listen", key_keep_for_resolve, fmt_metrics_listen),
    LIMIT("metrics-max-peers", OPT_NUMBER, 0, 65536, metrics_max_peers),
    OPTION_CUSTOM("peers-dir", key_peers_dir, fmt_peers_dir),
    OPTION_CUSTOM("notify-listen", key_notify_listen, fmt_notify_listen),
    LIMIT("notify-max-message", OPT_SIZE, 64, 65536, notify_max_message),
    LIMIT("notify-burst", OPT_NUMBER, 0, 1000000, notify_burst),
    LIMIT("notify-interval", OPT_DURATION, 1, 86400000, notify_interval_ms),
    LIMIT("notify-max-guests", OPT_NUMBER, 1, 1000000, notify_max_guests),
    LIMIT("notify-max-connections", OPT_NUMBER, 1, 100000, notify_max_connections),
    LIMIT("notify-max-connections-per-guest", OPT_NUMBER, 1, 100000, notify_max_connections_per_guest),
    LIMIT("notify-timeout", OPT_DURATION, 100, 3600000, notify_timeout_ms),
    LIMIT("notify-any-port", OPT_BOOL, 0, 1, notify_any_port),
    /* Kept for config_resolve, which checks the command. */
    OPTION_CUSTOM("guest-ready-hook", key_keep_for_resolve, fmt_guest_hook),
    OPTION_CUSTOM("guest-shutdown-hook", key_keep_for_resolve, fmt_guest_hook),
    LIMIT("guest-max-hooks", OPT_NUMBER, 1, 10000, guest_max_hooks),
    OPTION_CUSTOM("announce", key_announce, fmt_announce),
    OPTION_END,
};

/* Applies one [daemon] setting. */
static void parse_daemon_key(struct parser *p, const char *file, int line, const char *key, const char *value)
{
	const struct option_spec *spec = option_find(daemon_options, key);
	struct key_ctx ctx = {p, file, line, &p->acl_tail};
	char why[PATH_MAX + 64];

	if (spec == NULL)
		parse_error(p, file, line, "unknown setting '%s' in [daemon]", key);
	else if (option_apply(spec, p->conf, &ctx, value, why, sizeof(why)) < 0)
		parse_error(p, file, line, "%s", why);
}

/* Frees one command; its kind's data is config_resolve's (unresolve). */
static void command_free(struct command *cmd)
{
	lines_free(cmd->keys);
	acl_free(cmd->acl);
	free(cmd->name);
	free(cmd->usage);
	free(cmd->summary);
	free(cmd);
}

/* The settings of every [command] besides `handler`; the target is the
 * struct command. */
static const struct option_spec command_options[] = {
    OPTION_CUSTOM("allow", key_acl, fmt_command_acl),
    OPTION_CUSTOM("deny", key_acl, fmt_command_acl),
    OPTION_FORMAT("summary", OPT_STRING, 0, 0, struct command, summary, NULL, fmt_summary),
    OPTION("audit-args", OPT_BOOL, 0, 1, struct command, audit_args, NULL),
    OPTION_END,
};

/* Records the command of the [command] section that just ended: its
 * own options (command_options) applied, `handler` and its kind's keys
 * kept for config_resolve, each with its place in the order of errors. */
static void finish_command(struct parser *p)
{
	const char *file = p->cmd_file;
	struct command *cmd;
	int named = 0;

	if (p->cmd_name == NULL)
		return;
	for (int i = 0; i < p->nkeys; i++)
		named |= strcmp(p->keys[i].key, "handler") == 0;
	if (!named) {
		parse_error(p, file, p->cmd_line, "[command %s] has no handler", p->cmd_name);
		goto out;
	}
	cmd = calloc(1, sizeof(*cmd));
	if (cmd == NULL) {
		parse_error(p, file, p->cmd_line, "out of memory");
		goto out;
	}
	cmd->name = p->cmd_name;
	p->cmd_name = NULL;
	cmd->file = file;
	cmd->line = p->cmd_line;
	cmd->seq = p->seq++; /* binding the kind comes first */
	struct acl_entry **acl_tail = &cmd->acl;
	struct conf_line **keys_tail = &cmd->keys;
	for (int i = 0; i < p->nkeys; i++) {
		const struct pending_key *k = &p->keys[i];
		const struct option_spec *spec = option_find(command_options, k->key);
		struct key_ctx ctx = {p, file, k->line, &acl_tail};
		char why[256] = "";
		if (spec == NULL)
			keep_line(p, &keys_tail, k->key, k->value, file, k->line);
		else if (option_apply(spec, cmd, &ctx, k->value, why, sizeof(why)) < 0)
			parse_error(p, file, k->line, "%s", why);
	}
	cmd->seq_check = p->seq++;
	for (const struct command *o = p->conf->commands; o != NULL; o = o->next) {
		if (strcmp(o->name, cmd->name) == 0) {
			parse_error(p, file, p->cmd_line, "command '%s' is already defined at %s:%d", cmd->name,
			            o->file, o->line);
			break; /* kept all the same, for the errors of its handler and keys */
		}
	}
	*p->cmd_tail = cmd;
	p->cmd_tail = &cmd->next;
out:
	free(p->cmd_name);
	p->cmd_name = NULL;
	for (int i = 0; i < p->nkeys; i++) {
		free(p->keys[i].key);
		free(p->keys[i].value);
	}
	p->nkeys = 0;
}

/* True if NAME is a valid command name: [a-z0-9][a-z0-9_.-]{0,31}. */
static int valid_command_name(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 32)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		int ok =
		    (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && (c == '_' || c == '.' || c == '-'));
		if (!ok)
			return 0;
	}
	return 1;
}

/* Records the [peer] section that just ended, if any: it must set a
 * cid, and neither its name nor its CID may be another section's. */
static void finish_peer(struct parser *p)
{
	struct peer_conf *pc = p->peer;
	int ok = 1;

	if (pc == NULL)
		return;
	p->peer = NULL;
	if (p->peer_cid_line == 0) {
		parse_error(p, pc->file, pc->line, "[peer %s] has no cid", pc->name);
		ok = 0;
	}
	for (const struct peer_conf *o = p->conf->peers; o != NULL; o = o->next) {
		if (strcmp(o->name, pc->name) == 0) {
			parse_error(p, pc->file, pc->line, "peer '%s' is already defined at %s:%d", pc->name, o->file,
			            o->line);
			ok = 0;
		}
		if (p->peer_cid_line != 0 && o->cid == pc->cid) {
			parse_error(p, pc->file, p->peer_cid_line, "CID %u is already named '%s' at %s:%d",
			            (unsigned int)pc->cid, o->name, o->file, o->line);
			ok = 0;
		}
	}
	if (!ok) {
		free(pc->name);
		free(pc);
		return;
	}
	*p->peer_tail = pc;
	p->peer_tail = &pc->next;
}

/* The settings of a [peer NAME] section; the target is its peer_conf. */
static const struct option_spec peer_options[] = {
    OPTION("cid", OPT_CID, 0, UINT32_MAX - 1, struct peer_conf, cid, NULL),
    OPTION_END,
};

/* Applies one key of the [peer] section being read (peer_options: only
 * `cid`, which is set once). */
static void parse_peer_key(struct parser *p, const char *file, int line, const char *key, const char *value)
{
	const struct option_spec *spec = option_find(peer_options, key);
	char why[256];

	if (spec == NULL)
		parse_error(p, file, line, "unknown setting '%s' in [peer %s]: expected cid", key, p->peer->name);
	else if (p->peer_cid_line != 0)
		parse_error(p, file, line, "%s: already set at line %d", spec->name, p->peer_cid_line);
	else if (option_apply(spec, p->peer, p, value, why, sizeof(why)) < 0)
		parse_error(p, file, line, "%s", why);
	else
		p->peer_cid_line = line;
}

/* The [peer] section named NAME, or NULL. */
const struct peer_conf *config_peer_named(const struct config *conf, const char *name)
{
	for (const struct peer_conf *pc = conf->peers; pc != NULL; pc = pc->next) {
		if (strcmp(pc->name, name) == 0)
			return pc;
	}
	return NULL;
}

/* Reports every name in allow or deny that no [peer] defines (a typo
 * found by -t), each at its line, and frees the notes. With a peers-dir
 * every name passes: the VMs named there come and go. */
static void check_name_refs(struct parser *p)
{
	while (p->refs != NULL) {
		struct name_ref *r = p->refs;
		if (p->conf->peers_dir == NULL && config_peer_named(p->conf, r->name) == NULL)
			config_error(p->conf, r->seq, r->file, r->line,
			             "%s: no [peer %s] is defined (a glob may match no peer, a name must name one)",
			             r->key, r->name);
		p->refs = r->next;
		free(r->name);
		free(r);
	}
}

/* Removes blanks at both ends of S in place; returns S. */
static char *trim(char *s)
{
	size_t len;

	while (*s == ' ' || *s == '\t')
		s++;
	len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' || s[len - 1] == '\n'))
		s[--len] = '\0';
	return s;
}

/* Handles a "[section]" header line. Returns the section kind: 1 daemon,
 * 2 command, 3 peer, 0 invalid. */
static int parse_section(struct parser *p, const char *file, int line, char *text)
{
	size_t len = strlen(text);

	if (len < 2 || text[len - 1] != ']') {
		parse_error(p, file, line, "section header must end with ']'");
		return 0;
	}
	text[len - 1] = '\0';
	char *name = trim(text + 1);
	if (strcmp(name, "daemon") == 0)
		return 1;
	if (strncmp(name, "command", 7) == 0 && (name[7] == ' ' || name[7] == '\t')) {
		char *cmd = trim(name + 7);
		for (char *c = cmd; *c != '\0'; c++) {
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		}
		if (!valid_command_name(cmd)) {
			parse_error(p, file, line, "'%s' is not a valid command name (letters, digits, _ . -)", cmd);
			return 0;
		}
		p->cmd_name = strdup(cmd);
		p->cmd_file = file;
		p->cmd_line = line;
		p->nkeys = 0;
		if (p->cmd_name == NULL) {
			/* Its keys are skipped: that must not pass unnoticed. */
			parse_error(p, file, line, "out of memory");
			return 0;
		}
		return 2;
	}
	if (strncmp(name, "peer", 4) == 0 && (name[4] == ' ' || name[4] == '\t')) {
		char *peer = trim(name + 4);
		lower(peer);
		if (!valid_peer_name(peer)) {
			parse_error(p, file, line,
			            "'%s' is not a valid peer name (letters, digits, _ . -; not a CID, a CID range or "
			            "'any')",
			            peer);
			return 0;
		}
		p->peer = calloc(1, sizeof(*p->peer));
		if (p->peer == NULL || (p->peer->name = strdup(peer)) == NULL) {
			free(p->peer);
			p->peer = NULL;
			parse_error(p, file, line, "out of memory");
			return 0;
		}
		p->peer->file = file;
		p->peer->line = line;
		p->peer_cid_line = 0;
		return 3;
	}
	parse_error(p, file, line, "unknown section [%s]: expected [daemon], [command NAME] or [peer NAME]", name);
	return 0;
}

/* Parses the open stream F, named FILE (a kept string), into P's config. */
static void parse_stream(struct parser *p, const char *file, FILE *f)
{
	char *buf = NULL;
	size_t cap = 0;
	int line = 0, section = -1; /* -1: before any section */

	p->depth++;
	for (;;) {
		errno = 0;
		if (getline(&buf, &cap, f) <= 0)
			break;
		line++;
		char *text = trim(buf);
		if (text[0] == '\0' || text[0] == '#' || text[0] == ';')
			continue;
		if (text[0] == '[') {
			finish_command(p);
			finish_peer(p);
			section = parse_section(p, file, line, text);
			continue;
		}
		char *eq = strchr(text, '=');
		if (eq == NULL) {
			parse_error(p, file, line, "expected 'key = value' or '[section]'");
			continue;
		}
		*eq = '\0';
		char *key = trim(text), *value = trim(eq + 1);
		if (key[0] == '\0' || value[0] == '\0') {
			parse_error(p, file, line, "%s",
			            key[0] == '\0' ? "missing key before '='" : "missing value after '='");
			continue;
		}
		if (section == -1) {
			parse_error(p, file, line,
			            "'%s' outside a section: start with [daemon], [command NAME] or [peer NAME]", key);
		} else if (section == 1) {
			parse_daemon_key(p, file, line, key, value);
		} else if (section == 2) {
			if (p->nkeys == SECTION_KEYS_MAX) {
				parse_error(p, file, line, "too many settings in one section");
				continue;
			}
			struct pending_key *k = &p->keys[p->nkeys];
			k->key = strdup(key);
			k->value = strdup(value);
			k->line = line;
			if (k->key == NULL || k->value == NULL) {
				free(k->key);
				free(k->value);
				parse_error(p, file, line, "out of memory");
				continue;
			}
			p->nkeys++;
		} else if (section == 3) {
			parse_peer_key(p, file, line, key, value);
		}
		/* section 0: an invalid header, already reported; its keys are skipped. */
	}
	/* getline() fails without setting the stream's error flag when it
	 * cannot grow its buffer: a file cut short there must be an error,
	 * or the rest of it (a deny rule, a command) would silently vanish. */
	if (ferror(f) || (!feof(f) && errno != 0))
		parse_error(p, file, line + 1, "read error: %s", strerror(errno != 0 ? errno : EIO));
	finish_command(p);
	finish_peer(p);
	free(buf);
	p->depth--;
}

/* Reports WHAT about the file PATH: at the include line FROM:LINE, or
 * as PATH itself for the main file (FROM NULL). */
static void file_error(struct parser *p, const char *path, const char *from, int line, const char *what)
{
	if (from != NULL)
		parse_error(p, from, line, "include: %s: %s", path, what);
	else
		parse_error(p, path, 0, "%s", what);
}

/* Parses the open stream F of PATH (its status ST, or NULL if unknown)
 * into P's config, noting it as being read while it is. */
static void parse_opened(struct parser *p, const char *path, FILE *f, const struct stat *st)
{
	const char *file = keep_string(p->conf, path);

	if (file == NULL) {
		parse_error(p, path, 0, "out of memory");
		return;
	}
	int noted = st != NULL && p->nreading < (int)(sizeof(p->reading) / sizeof(p->reading[0]));
	if (noted) {
		p->reading[p->nreading].dev = st->st_dev;
		p->reading[p->nreading].ino = st->st_ino;
		p->nreading++;
	}
	parse_stream(p, file, f);
	if (noted)
		p->nreading--;
}

/* Parses the file PATH into P's config: only a regular file, not one
 * already being read (an include cycle), under strict modes only one
 * nobody else may write. FROM:FROM_LINE is the include line naming it,
 * FROM NULL for the main file. */
static void parse_file(struct parser *p, const char *path, const char *from, int from_line)
{
	char why[160];
	struct stat st;

	if (p->nfiles >= INCLUDE_FILES_MAX) {
		parse_error(p, from, from_line, "include: more than %d files in all; no more are read",
		            INCLUDE_FILES_MAX);
		p->includes_stopped = 1;
		return;
	}
	p->nfiles++;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0) {
		file_error(p, path, from, from_line, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		file_error(p, path, from, from_line, "not a regular file");
		close(fd);
		return;
	}
	if (p->conf->strict_modes && !config_trusted(&st, why, sizeof(why))) {
		strncat(why, CONFIG_STRICT_HINT, sizeof(why) - strlen(why) - 1);
		file_error(p, path, from, from_line, why);
		close(fd);
		return;
	}
	for (int i = 0; i < p->nreading; i++) {
		if (p->reading[i].dev == st.st_dev && p->reading[i].ino == st.st_ino) {
			file_error(p, path, from, from_line, "already being read: an include cycle");
			p->includes_stopped = 1;
			close(fd);
			return;
		}
	}
	FILE *f = fdopen(fd, "re");
	if (f == NULL) {
		file_error(p, path, from, from_line, strerror(errno));
		close(fd);
		return;
	}
	parse_opened(p, path, f, &st);
	fclose(f);
}

/* The default limits, documented in udo-vsockd.conf(5). */
static void limits_default(struct limits *l)
{
	l->max_connections = 4096;
	l->max_connections_per_peer = 128;
	l->idle_timeout_ms = 300000;
	l->line_timeout_ms = 10000;
	l->max_line_length = 4096;
	l->max_arguments = 64;
	l->max_output_buffer = 1048576;
	l->max_buffered = 64 * 1048576;
	l->commands_per_read = 32;
	l->bytes_per_read = 16384;
	l->shutdown_grace_ms = 5000;
	l->accept_pause_ms = 500;
	l->log_peer_burst = 10;
	l->log_peer_interval_ms = 5000;
	l->audit_burst = 100;
	l->audit_interval_ms = 10000;
	l->metrics_max_peers = 256;
	l->notify_max_message = 4096; /* PIPE_BUF: what systemd's own receiver takes */
	l->notify_burst = 20;
	l->notify_interval_ms = 10000;
	l->notify_max_guests = 1024;
	l->notify_max_connections = 64;
	l->notify_max_connections_per_guest = 4; /* systemd sends one message per connection, one at a time */
	l->notify_timeout_ms = 5000;
	l->notify_any_port = 0; /* only a guest's root binds ports up to 1023 */
	l->guest_max_hooks = 8;
}

/* The bucket of the command NAME: FNV-1a of its bytes. */
static unsigned int command_hash(const char *name)
{
	return util_fnv1a(name) & (CONFIG_COMMAND_BUCKETS - 1);
}

/* Indexes every command of CONF by name, for config_find_command. */
static void config_index_commands(struct config *conf)
{
	for (struct command *cmd = conf->commands; cmd != NULL; cmd = cmd->next) {
		unsigned int h = command_hash(cmd->name);
		cmd->bucket_next = conf->command_index[h];
		conf->command_index[h] = cmd;
	}
}

struct config *config_parse(const char *path, FILE *f)
{
	struct config *conf = calloc(1, sizeof(*conf));
	const char *strict = getenv("UDO_VSOCKD_STRICT_MODES");
	struct parser p = {.conf = conf, .module_dir = PKGLIBDIR};

	if (conf == NULL)
		return NULL;
	conf->refs = 1;
	conf->strict_modes = strict == NULL || (strcmp(strict, "no") != 0 && strcmp(strict, "0") != 0);
	conf->log_level = LOG_LEVEL_NOTICE;
	conf->audit = AUDIT_ALL;
	limits_default(&conf->limits);
	conf->path = strdup(path);
	if (conf->path == NULL)
		parse_error(&p, path, 0, "out of memory");
	p.cmd_tail = &conf->commands;
	p.listen_tail = &conf->listeners;
	p.acl_tail = &conf->default_acl;
	p.daemon_tail = &conf->daemon_keys;
	p.peer_tail = &conf->peers;
	p.refs_tail = &p.refs;
	if (f != NULL) {
		struct stat st;
		p.nfiles++;
		parse_opened(&p, path, f, fileno(f) >= 0 && fstat(fileno(f), &st) == 0 ? &st : NULL);
	} else {
		parse_file(&p, path, NULL, 0);
	}
	conf->module_dir = strdup(p.module_dir);
	if (conf->module_dir == NULL)
		parse_error(&p, path, 0, "out of memory");
	check_name_refs(&p);
	return conf;
}

int config_finish(struct config *conf, FILE *errors)
{
	if (conf->nerrors == 0 && conf->listeners == NULL)
		config_error(conf, UINT_MAX, conf->path, 0, "no 'listen' address in [daemon]");
	if (conf->nerrors == 0 && conf->commands == NULL)
		config_error(conf, UINT_MAX, conf->path, 0,
		             "no [command NAME] section: the daemon would answer nothing");
	if (conf->nerrors > 0) {
		int written = 0;
		for (const struct conf_error *e = conf->errors; e != NULL; e = e->next, written++)
			fprintf(errors, "%s\n", e->text != NULL ? e->text : "out of memory");
		if (written < conf->nerrors) /* an error that could not be kept */
			fprintf(errors, "%s: out of memory\n", conf->path);
		return -1;
	}
	config_index_commands(conf);
	for (const struct command *cmd = conf->commands; cmd != NULL; cmd = cmd->next) {
		const struct acl_entry *acl = cmd->acl != NULL ? cmd->acl : conf->default_acl;
		int any_allow = 0;
		for (const struct acl_entry *e = acl; e != NULL; e = e->next)
			any_allow |= e->allow;
		if (!any_allow)
			fprintf(errors, "%s:%d: warning: no allow rule: no peer may run '%s'\n", cmd->file, cmd->line,
			        cmd->name);
	}
	return 0;
}

void config_free(struct config *conf)
{
	while (conf->listeners != NULL) {
		struct listen_conf *next = conf->listeners->next;
		free(conf->listeners->identity);
		free(conf->listeners);
		conf->listeners = next;
	}
	/* The kinds' data first, then the modules that made some of it. */
	if (conf->unresolve != NULL)
		conf->unresolve(conf);
	while (conf->commands != NULL) {
		struct command *next = conf->commands->next;
		command_free(conf->commands);
		conf->commands = next;
	}
	lines_free(conf->daemon_keys);
	while (conf->errors != NULL) {
		struct conf_error *next = conf->errors->next;
		free(conf->errors->text);
		free(conf->errors);
		conf->errors = next;
	}
	acl_free(conf->default_acl);
	while (conf->peers != NULL) {
		struct peer_conf *next = conf->peers->next;
		free(conf->peers->name);
		free(conf->peers);
		conf->peers = next;
	}
	for (size_t i = 0; i < conf->nstrings; i++)
		free(conf->strings[i]);
	free(conf->strings);
	free(conf->path);
	free(conf->module_dir);
	free(conf->metrics_listen);
	free(conf->peers_dir);
	free(conf->announce);
	for (int i = 0; i < conf->n_notify_listen; i++)
		free(conf->notify_listen[i]);
	free(conf->guest_hook[0]);
	free(conf->guest_hook[1]);
	free(conf);
}

const struct command *config_find_command(const struct config *conf, const char *name)
{
	for (const struct command *cmd = conf->command_index[command_hash(name)]; cmd != NULL; cmd = cmd->bucket_next) {
		if (strcmp(cmd->name, name) == 0)
			return cmd;
	}
	return NULL;
}

void config_format_daemon(const struct config *conf, FILE *out)
{
	option_format_table(daemon_options, conf, conf, out);
}

void config_format_command(const struct command *cmd, FILE *out)
{
	option_format_table(command_options, cmd, cmd, out);
}

const char *config_peer_name(const struct config *conf, uint32_t cid)
{
	for (const struct peer_conf *pc = conf->peers; pc != NULL; pc = pc->next) {
		if (pc->cid == cid)
			return pc->name;
	}
	return NULL;
}

int config_valid_peer_name(const char *name)
{
	return valid_peer_name(name);
}

int config_parse_cid(const char *text, uint32_t *cid)
{
	return parse_cid(text, cid);
}

void config_format_peers(const struct config *conf, FILE *out)
{
	for (const struct peer_conf *pc = conf->peers; pc != NULL; pc = pc->next) {
		fprintf(out, "\n[peer %s]\n", pc->name);
		option_format_table(peer_options, pc, conf, out);
	}
}
