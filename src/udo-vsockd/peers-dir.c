/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* peers-dir.c - peer names from a watched directory: one file per VM,
 * named as the VM, holding `cid = N`; inotify through the event loop */
#include "peers-dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf.h"
#include "log.h"
#include "server.h"
#include "util.h"

/* What the directory is watched for: a file written, moved in, removed or
 * moved out, and the directory itself going. */
#define PEERS_DIR_MASK                                                                                                 \
	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

/* One valid file: a name and its CID. */
struct pd_entry {
	char name[33];
	uint32_t cid;
};

/* The watched directory and the names it gives. */
struct peers_dir {
	struct server *server;
	void (*changed)(struct server *s); /* told after the names changed */
	char *path;
	int dirfd; /* the directory, for openat(); -1 while not watched */
	int ifd;   /* the inotify instance; -1 while not watched */
	struct event *ev;
	struct event *retry;
	struct pd_entry *entries; /* by CID, for a lookup in log n at accept */
	unsigned int n, cap;
	char failed[256]; /* why it could not be watched, as last logged */
};

/* Why a file gives no name (pd_read's results). */
enum pd_read {
	PD_OK,
	PD_BAD,     /* logged with the reason */
	PD_SKIP,    /* a dotfile or backup: a writer's temporary, silently */
	PD_MISSING, /* gone already */
};

/* The index of the entry named NAME, or -1. */
static int pd_find(const struct peers_dir *pd, const char *name)
{
	for (unsigned int i = 0; i < pd->n; i++) {
		if (strcmp(pd->entries[i].name, name) == 0)
			return (int)i;
	}
	return -1;
}

/* The index of the first entry whose CID is CID or more (PD->n if none). */
static unsigned int pd_lower(const struct peers_dir *pd, uint32_t cid)
{
	unsigned int lo = 0, hi = pd->n;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		if (pd->entries[mid].cid < cid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Drops entry I, keeping the order. */
static void pd_remove_at(struct peers_dir *pd, unsigned int i)
{
	memmove(&pd->entries[i], &pd->entries[i + 1], (pd->n - i - 1) * sizeof(pd->entries[0]));
	pd->n--;
}

/* Drops the entry named NAME. Returns 1 if there was one. */
static int pd_remove(struct peers_dir *pd, const char *name)
{
	int i = pd_find(pd, name);

	if (i < 0)
		return 0;
	log_info("peers-dir %s: %s (CID %u) removed", pd->path, name, (unsigned int)pd->entries[i].cid);
	pd_remove_at(pd, (unsigned int)i);
	return 1;
}

/* Parses TEXT (LEN bytes), a peer file: blank lines, `#` or `;` comments and
 * one `cid = N` line. Returns 0 with *CID, or -1 with the reason in WHY. */
static int pd_parse(char *text, size_t len, uint32_t *cid, char *why, size_t whylen)
{
	int seen = 0, line = 0;

	if (memchr(text, '\0', len) != NULL) {
		snprintf(why, whylen, "has a NUL byte");
		return -1;
	}
	text[len] = '\0';
	for (char *save = NULL, *l = strtok_r(text, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
		line++;
		char *s = l + strspn(l, " \t\r");
		char *end = s + strlen(s);
		while (end > s && strchr(" \t\r", end[-1]) != NULL)
			*--end = '\0';
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		char *eq = strchr(s, '=');
		char *key_end = eq != NULL ? eq : s;
		while (key_end > s && (key_end[-1] == ' ' || key_end[-1] == '\t'))
			key_end--;
		if (eq == NULL || key_end - s != 3 || strncmp(s, "cid", 3) != 0) {
			snprintf(why, whylen, "line %d: expected 'cid = N'", line);
			return -1;
		}
		char *value = eq + 1 + strspn(eq + 1, " \t");
		if (seen) {
			snprintf(why, whylen, "line %d: cid set twice", line);
			return -1;
		}
		if (config_parse_cid(value, cid) < 0) {
			snprintf(why, whylen, "line %d: '%.40s' is not a CID (a number, hypervisor, local or host)",
			         line, value);
			return -1;
		}
		seen = 1;
	}
	if (!seen) {
		snprintf(why, whylen, "no 'cid = N' line");
		return -1;
	}
	return 0;
}

/* Reads the file NAME of the directory: a regular file, not a link, at
 * most PEERS_DIR_MAX_FILE_SIZE bytes, named as a [peer]. */
static enum pd_read pd_read(struct peers_dir *pd, const char *name, uint32_t *cid, char *why, size_t whylen)
{
	size_t len = strlen(name);
	struct stat st, st2;
	char buf[PEERS_DIR_MAX_FILE_SIZE + 2];

	if (name[0] == '.' || name[len - 1] == '~')
		return PD_SKIP;
	if (!config_valid_peer_name(name)) {
		snprintf(why, whylen,
		         "not a peer name (lower case letters, digits, _ . -, at most 32, not a CID, a CID range or "
		         "'any')");
		return PD_BAD;
	}
	if (fstatat(pd->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		snprintf(why, whylen, "%s", strerror(errno));
		return errno == ENOENT ? PD_MISSING : PD_BAD;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "not a regular file");
		return PD_BAD;
	}
	int fd = openat(pd->dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, whylen, "%s", strerror(errno));
		return errno == ENOENT ? PD_MISSING : PD_BAD;
	}
	if (fstat(fd, &st2) < 0 || !S_ISREG(st2.st_mode) || st2.st_ino != st.st_ino || st2.st_dev != st.st_dev) {
		close(fd);
		snprintf(why, whylen, "replaced while being read");
		return PD_BAD;
	}
	size_t got = 0;
	while (got < sizeof(buf) - 1) {
		ssize_t r = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(why, whylen, "%s", strerror(errno));
			close(fd);
			return PD_BAD;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (got > PEERS_DIR_MAX_FILE_SIZE) {
		snprintf(why, whylen, "larger than %d bytes", PEERS_DIR_MAX_FILE_SIZE);
		return PD_BAD;
	}
	return pd_parse(buf, got, cid, why, whylen) == 0 ? PD_OK : PD_BAD;
}

/* Logs what keeps entry E from naming its CID: the configuration's
 * [peer] sections win, and a CID two files name gets neither name. */
static void pd_log_conflicts(struct peers_dir *pd, const struct pd_entry *e)
{
	const struct config *conf = pd->server->config;
	const struct peer_conf *pc = config_peer_named(conf, e->name);
	const char *cname = config_peer_name(conf, e->cid);

	if (pc != NULL)
		log_warnx("peers-dir %s: %s: ignored: [peer %s] of the configuration (%s:%d) wins", pd->path, e->name,
		          e->name, pc->file, pc->line);
	else if (cname != NULL)
		log_warnx("peers-dir %s: %s: ignored: CID %u is [peer %s] of the configuration, which wins", pd->path,
		          e->name, (unsigned int)e->cid, cname);
	for (unsigned int i = 0; i < pd->n; i++) {
		const struct pd_entry *o = &pd->entries[i];
		if (o != e && o->cid == e->cid)
			log_warnx("peers-dir %s: %s: CID %u is also in file %s: neither name is used until one goes",
			          pd->path, e->name, (unsigned int)e->cid, o->name);
	}
}

/* Takes what the file NAME says now. Returns 1 if the names changed. */
static int pd_update(struct peers_dir *pd, const char *name)
{
	char why[160];
	uint32_t cid;

	switch (pd_read(pd, name, &cid, why, sizeof(why))) {
	case PD_SKIP:
		return 0;
	case PD_MISSING:
		return pd_remove(pd, name);
	case PD_BAD:
		log_warnx("peers-dir %s: %s: ignored: %s", pd->path, name, why);
		return pd_remove(pd, name); /* a bad file names nothing */
	case PD_OK:
		break;
	}
	int old = pd_find(pd, name);
	if (old >= 0 && pd->entries[old].cid == cid)
		return 0;
	if (old >= 0) {
		pd_remove_at(pd, (unsigned int)old); /* put back at its new CID's place */
	} else if (pd->n >= PEERS_DIR_MAX_FILES) {
		log_warnx("peers-dir %s: %s: ignored: more than %d files", pd->path, name, PEERS_DIR_MAX_FILES);
		return 0;
	} else if (pd->n == pd->cap) {
		unsigned int cap = pd->cap == 0 ? 16 : pd->cap * 2;
		struct pd_entry *grown = realloc(pd->entries, cap * sizeof(*grown));
		if (grown == NULL) {
			log_warnx("peers-dir %s: %s: ignored: out of memory", pd->path, name);
			return 0;
		}
		pd->entries = grown;
		pd->cap = cap;
	}
	/* After the entries of the same CID: they keep their order. */
	unsigned int at = cid == UINT32_MAX ? pd->n : pd_lower(pd, cid + 1);
	memmove(&pd->entries[at + 1], &pd->entries[at], (pd->n - at) * sizeof(pd->entries[0]));
	pd->n++;
	struct pd_entry *e = &pd->entries[at];
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->cid = cid;
	log_info("peers-dir %s: %s is CID %u", pd->path, name, (unsigned int)cid);
	pd_log_conflicts(pd, e);
	return 1;
}

/* Reads the whole directory afresh (at start, after an inotify queue
 * overflow). */
static void pd_scan(struct peers_dir *pd)
{
	int fd = openat(pd->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;

	pd->n = 0;
	if (dir == NULL) {
		log_warn("peers-dir %s: cannot read it", pd->path);
		if (fd >= 0)
			close(fd);
		return;
	}
	for (struct dirent *de; (de = readdir(dir)) != NULL;) {
		if (de->d_name[0] == '.')
			continue; /* . and .. too */
		if (pd->n >= PEERS_DIR_MAX_FILES) {
			log_warnx("peers-dir %s: more than %d files: the rest are ignored", pd->path,
			          PEERS_DIR_MAX_FILES);
			break;
		}
		pd_update(pd, de->d_name);
	}
	closedir(dir);
}

/* Stops watching: the directory's names are gone. */
static void pd_unwatch(struct peers_dir *pd)
{
	if (pd->ev != NULL)
		event_free(pd->ev);
	pd->ev = NULL;
	if (pd->ifd >= 0)
		close(pd->ifd);
	if (pd->dirfd >= 0)
		close(pd->dirfd);
	pd->ifd = pd->dirfd = -1;
	pd->n = 0;
}

/* Logs why the directory cannot be watched (once per reason) and tries
 * again in PEERS_DIR_RETRY_MS. */
static void pd_failed(struct peers_dir *pd, const char *why)
{
	struct timeval tv = util_timeval_ms(PEERS_DIR_RETRY_MS);

	pd_unwatch(pd);
	if (strcmp(pd->failed, why) != 0) {
		log_warnx("peers-dir %s: %s; no names from it until it can be read (tried every %d ms)", pd->path, why,
		          PEERS_DIR_RETRY_MS);
		snprintf(pd->failed, sizeof(pd->failed), "%s", why);
	}
	if (evtimer_add(pd->retry, &tv) < 0)
		log_warnx("peers-dir %s: cannot arm the retry timer", pd->path);
}

static void pd_event_cb(evutil_socket_t fd, short what, void *arg);

/* Opens, checks, watches and reads the directory. Returns 0, or -1
 * after pd_failed(). */
static int pd_watch(struct peers_dir *pd)
{
	char why[256];
	struct stat st;

	pd->dirfd = open(pd->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pd->dirfd < 0 || fstat(pd->dirfd, &st) < 0) {
		snprintf(why, sizeof(why), "%s", strerror(errno));
		pd_failed(pd, why);
		return -1;
	}
	char trust[160];
	if (pd->server->config->strict_modes && !config_trusted(&st, trust, sizeof(trust))) {
		snprintf(why, sizeof(why), "%s" CONFIG_STRICT_HINT, trust);
		pd_failed(pd, why);
		return -1;
	}
	pd->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (pd->ifd < 0 || inotify_add_watch(pd->ifd, pd->path, PEERS_DIR_MASK) < 0) {
		snprintf(why, sizeof(why), "inotify: %s", strerror(errno));
		pd_failed(pd, why);
		return -1;
	}
	pd->ev = event_new(pd->server->base, pd->ifd, EV_READ | EV_PERSIST, pd_event_cb, pd);
	if (pd->ev == NULL || event_add(pd->ev, NULL) < 0) {
		pd_failed(pd, "cannot watch the inotify descriptor");
		return -1;
	}
	if (pd->failed[0] != '\0')
		log_notice("peers-dir %s: watched again", pd->path);
	pd->failed[0] = '\0';
	pd_scan(pd);
	return 0;
}

/* The inotify descriptor is readable: takes every change it reports,
 * then closes the connections whose CID's name changed. */
static void pd_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct peers_dir *pd = arg;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int changed = 0, rescan = 0, gone = 0;

	/* A bounded turn: a busy directory does not hold up the loop. */
	for (int turn = 0; turn < 16 && !gone; turn++) {
		ssize_t n = read(pd->ifd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* EAGAIN: all taken */
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW)
				rescan = 1;
			else if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED | IN_UNMOUNT))
				gone = 1;
			else if (ev->len == 0 || rescan)
				continue;
			else if (ev->mask & (IN_DELETE | IN_MOVED_FROM))
				changed |= pd_remove(pd, ev->name);
			else if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO))
				changed |= pd_update(pd, ev->name);
		}
	}
	if (gone) {
		pd_failed(pd, "the directory is gone");
		changed = 1;
	} else if (rescan) {
		log_notice("peers-dir %s: inotify queue overflow: reading it afresh", pd->path);
		pd_scan(pd);
		changed = 1;
	}
	if (changed)
		pd->changed(pd->server);
}

/* The retry timer: tries to watch the directory again. */
static void pd_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct peers_dir *pd = arg;

	if (pd_watch(pd) == 0)
		pd->changed(pd->server);
}

/* Frees PD, watched or not. */
static void pd_free(struct peers_dir *pd)
{
	pd_unwatch(pd);
	if (pd->retry != NULL)
		event_free(pd->retry);
	free(pd->entries);
	free(pd->path);
	free(pd);
}

void peers_dir_configure(struct server *s, const struct config *conf, void (*changed)(struct server *s))
{
	struct peers_dir *pd = s->peers_dir;

	if (pd != NULL && conf->peers_dir != NULL && strcmp(pd->path, conf->peers_dir) == 0) {
		/* The same directory: what the new [peer] sections override. */
		for (unsigned int i = 0; i < pd->n; i++)
			pd_log_conflicts(pd, &pd->entries[i]);
		return;
	}
	if (pd != NULL) {
		pd_free(pd);
		s->peers_dir = NULL;
	}
	if (conf->peers_dir == NULL)
		return;
	pd = calloc(1, sizeof(*pd));
	if (pd == NULL || (pd->path = strdup(conf->peers_dir)) == NULL ||
	    (pd->retry = evtimer_new(s->base, pd_retry_cb, pd)) == NULL) {
		log_warnx("peers-dir %s: out of memory: no names from it", conf->peers_dir);
		if (pd != NULL)
			free(pd->path);
		free(pd);
		return;
	}
	pd->server = s;
	pd->changed = changed;
	pd->dirfd = pd->ifd = -1;
	s->peers_dir = pd;
	pd_watch(pd);
}

const char *peers_dir_lookup(const struct server *s, const struct config *conf, uint32_t cid)
{
	const char *name = config_peer_name(conf, cid);
	const struct peers_dir *pd = s->peers_dir;

	if (name != NULL || pd == NULL)
		return name;
	for (unsigned int i = pd_lower(pd, cid); i < pd->n && pd->entries[i].cid == cid; i++) {
		const struct pd_entry *e = &pd->entries[i];
		if (config_peer_named(conf, e->name) != NULL)
			continue;
		if (name != NULL)
			return NULL; /* two files name CID: neither is used */
		name = e->name;
	}
	return name;
}

void peers_dir_free(struct server *s)
{
	if (s->peers_dir != NULL)
		pd_free(s->peers_dir);
	s->peers_dir = NULL;
}
