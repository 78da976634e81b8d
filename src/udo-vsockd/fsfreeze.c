/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fsfreeze.c - the daemon's frozen filesystems. FIFREEZE syncs a
 * filesystem and then blocks every writer until FITHAW; a freeze that
 * nobody thaws stops the machine's writes for good, so every freeze here
 * runs under an auto-thaw timer on the event loop, and a reload or a stop
 * thaws too. The event loop itself writes to no filesystem, and its log
 * (the journal's files, or a file as stderr) is held while frozen
 * (log_hold), so it goes on answering while frozen. A record in
 * $RUNTIME_DIRECTORY lets the next daemon thaw what a killed one froze.
 * The state is daemon-wide: one freeze at a time. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "fsfreeze.h"
#include "log.h"
#include "util.h"

/* One frozen filesystem: its mount point, kept open for FITHAW. */
struct frozen {
	char *path;
	int fd;
	dev_t dev;
};

/* The state: what is frozen now, its timer, and the counts. */
static struct {
	struct frozen fs[FSFREEZE_MAX];
	int n;
	struct event *timer;
	uint64_t deadline_ms; /* monotonic */
	uint64_t freezes, thaws, auto_thaws, failures;
} ff;

/* The monotonic clock in ms. */
static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Undoes mountinfo's octal escapes (\040 for a space) in S, in place. */
static void unescape(char *s)
{
	char *out = s;

	for (; *s != '\0'; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
		    s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* True when the mountinfo line LINE is a read-write filesystem on a block
 * device (its st_dev major is not 0, or it is btrfs, whose devices are
 * anonymous); its mount point then goes to *PATH (in LINE) and its
 * device to *DEV. Pseudo filesystems (proc, sysfs, tmpfs, cgroup...),
 * network ones and the UML host's hostfs have major 0. A mount point
 * with a control character is left out too: a data line cannot carry
 * it. The superblock's options count, not the mount's: a unit's
 * ProtectSystem= makes every mount read-only over read-write
 * filesystems. */
static int mountinfo_candidate(char *line, char **path, dev_t *dev)
{
	char *save = NULL, *f[6] = {0};
	char *sep = strstr(line, " - ");
	unsigned int major, minor;

	if (sep == NULL)
		return 0;
	*sep = '\0';
	f[0] = strtok_r(line, " ", &save); /* mount id */
	for (int i = 1; i < 5 && f[i - 1] != NULL; i++)
		f[i] = strtok_r(NULL, " ", &save); /* parent, major:minor, root, mount point */
	if (f[4] == NULL || sscanf(f[2], "%u:%u", &major, &minor) != 2)
		return 0;
	save = NULL;
	char *fstype = strtok_r(sep + 3, " ", &save);
	char *source = strtok_r(NULL, " ", &save);
	char *super = strtok_r(NULL, " \n", &save);
	if (fstype == NULL || source == NULL || super == NULL)
		return 0;
	if (strcmp(super, "rw") != 0 && strncmp(super, "rw,", 3) != 0)
		return 0;
	if (major == 0 && strcmp(fstype, "btrfs") != 0)
		return 0;
	unescape(f[4]);
	/* FREEZE and FROZEN answer the path as a data line. */
	for (const char *c = f[4]; *c != '\0'; c++) {
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return 0;
	}
	*path = f[4];
	*dev = makedev(major, minor);
	return 1;
}

/* Appends the default list (mountinfo order) to *PATHS, at most
 * FSFREEZE_MAX, one per device. Returns how many, or -1 (errno). */
static int default_paths(char **paths)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	dev_t devs[FSFREEZE_MAX];
	int n = 0;

	if (f == NULL)
		return -1;
	while (n < FSFREEZE_MAX && getline(&line, &cap, f) > 0) {
		char *path;
		dev_t dev;
		int seen = 0;
		if (!mountinfo_candidate(line, &path, &dev))
			continue;
		for (int i = 0; i < n && !seen; i++)
			seen = devs[i] == dev;
		if (seen)
			continue;
		if ((paths[n] = strdup(path)) == NULL)
			break;
		devs[n++] = dev;
	}
	free(line);
	fclose(f);
	return n;
}

/* The auto-thaw timer fired: nobody thawed in time. */
static void auto_thaw_cb(evutil_socket_t fd, short what, void *arg)
{
	ff.auto_thaws++;
	fsfreeze_thaw_all("auto-thaw");
}

/* Thaws and forgets the Ith frozen filesystem; logs a failure. */
static int thaw_one(int i)
{
	int rc = ioctl(ff.fs[i].fd, FITHAW, 0);

	if (rc < 0)
		log_warn("thaw %s", ff.fs[i].path);
	close(ff.fs[i].fd);
	free(ff.fs[i].path);
	return rc;
}

/* Freezes PATH into the next slot unless its device is frozen already
 * (then 0, nothing done). Returns 0, or -1 with WHY. */
static int freeze_one(const char *path, char *why, size_t whylen)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	for (int i = 0; i < ff.n; i++) {
		if (ff.fs[i].dev == st.st_dev) {
			close(fd);
			return 0;
		}
	}
	if (ioctl(fd, FIFREEZE, 0) < 0) {
		int e = errno;
		snprintf(why, whylen, "%s: %s", path,
		         e == EBUSY        ? "already frozen by someone else"
		         : e == EOPNOTSUPP ? "this filesystem cannot be frozen"
		                           : strerror(e));
		close(fd);
		return -1;
	}
	ff.fs[ff.n].path = strdup(path);
	if (ff.fs[ff.n].path == NULL) {
		ioctl(fd, FITHAW, 0);
		close(fd);
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	ff.fs[ff.n].fd = fd;
	ff.fs[ff.n].dev = st.st_dev;
	ff.n++;
	return 0;
}

/* The record of what is frozen, for a daemon started after this one was
 * killed: $RUNTIME_DIRECTORY/frozen (systemd's RuntimeDirectory=, a
 * tmpfs that no freeze reaches). Into BUF; -1 without one. */
static int record_path(char *buf, size_t size)
{
	const char *dir = getenv("RUNTIME_DIRECTORY");

	/* Several directories are separated by ':'; the first is ours. */
	if (dir == NULL || dir[0] != '/')
		return -1;
	int n = snprintf(buf, size, "%.*s/frozen", (int)strcspn(dir, ":"), dir);
	return n > 0 && (size_t)n < size ? 0 : -1;
}

/* Writes the mount points frozen now to the record, one a line. */
static void record_write(void)
{
	char path[4096];
	FILE *f;

	if (record_path(path, sizeof(path)) < 0 || (f = fopen(path, "we")) == NULL)
		return;
	for (int i = 0; i < ff.n; i++)
		fprintf(f, "%s\n", ff.fs[i].path);
	fclose(f);
}

/* See fsfreeze.h. */
int fsfreeze_recover(void)
{
	char path[4096], *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int n = 0;
	FILE *f;

	if (record_path(path, sizeof(path)) < 0 || (f = fopen(path, "re")) == NULL)
		return 0;
	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[len - 1] = '\0';
		int fd = open(line, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || ioctl(fd, FITHAW, 0) < 0) {
			/* EINVAL: not frozen (any more); nothing to do. */
			if (fd < 0 || errno != EINVAL)
				log_warn("thaw %s, left frozen by an earlier daemon", line);
		} else {
			log_notice("thawed %s, left frozen by an earlier daemon that did not stop cleanly", line);
			n++;
		}
		if (fd >= 0)
			close(fd);
	}
	free(line);
	fclose(f);
	unlink(path);
	return n;
}

/* See fsfreeze.h. */
int fsfreeze_freeze(struct event_base *base, char *const *paths, int npaths, unsigned int auto_thaw_ms, int *busy,
                    char *why, size_t whylen)
{
	char *found[FSFREEZE_MAX];
	int nfound = 0, rc = 0;

	*busy = 0;
	if (ff.n > 0) {
		*busy = 1;
		snprintf(why, whylen, "already frozen (%d filesystems): thaw first", ff.n);
		return -1;
	}
	if (npaths == 0) {
		nfound = default_paths(found);
		if (nfound < 0) {
			snprintf(why, whylen, "/proc/self/mountinfo: %s", strerror(errno));
			return -1;
		}
		paths = found;
		npaths = nfound;
	}
	if (npaths > FSFREEZE_MAX)
		npaths = FSFREEZE_MAX;
	if (ff.timer == NULL && (ff.timer = evtimer_new(base, auto_thaw_cb, NULL)) == NULL) {
		snprintf(why, whylen, "out of memory");
		rc = -1;
	}
	/* Logged before, and held from here: a line written to a frozen
	 * filesystem would block the loop. */
	if (rc == 0)
		log_notice("freezing up to %d filesystems; auto-thaw in %u ms; the log is held until the thaw", npaths,
		           auto_thaw_ms);
	log_hold(1);
	/* The last first: a list in mount order has the nested ones last. */
	for (int i = npaths - 1; i >= 0 && rc == 0; i--)
		rc = freeze_one(paths[i], why, whylen);
	if (rc == 0 && ff.n == 0) {
		snprintf(why, whylen, "no filesystem to freeze");
		rc = -1;
	}
	struct timeval tv = util_timeval_ms(auto_thaw_ms);
	if (rc == 0 && evtimer_add(ff.timer, &tv) < 0) {
		snprintf(why, whylen, "cannot arm the auto-thaw timer");
		rc = -1;
	}
	if (rc < 0) {
		ff.failures++;
		while (ff.n > 0)
			thaw_one(--ff.n);
		log_hold(0);
		log_warnx("freeze failed, nothing frozen: %s", why);
	} else {
		ff.freezes++;
		ff.deadline_ms = now_ms() + auto_thaw_ms;
		record_write();
		rc = ff.n;
	}
	for (int i = 0; i < nfound; i++)
		free(found[i]);
	return rc;
}

/* See fsfreeze.h. */
int fsfreeze_thaw_all(const char *why)
{
	int n = ff.n;

	if (ff.timer != NULL)
		evtimer_del(ff.timer);
	if (n == 0)
		return 0;
	unsigned long long left_out = log_hold(0);
	char record[4096];
	while (ff.n > 0)
		thaw_one(--ff.n);
	if (record_path(record, sizeof(record)) == 0)
		unlink(record);
	ff.thaws++;
	ff.deadline_ms = 0;
	log_notice("%s: thawed %d filesystems; %llu log lines left out while filesystems were frozen", why, n,
	           left_out);
	return n;
}

/* See fsfreeze.h. */
const char *fsfreeze_path(int i)
{
	return i >= 0 && i < ff.n ? ff.fs[i].path : NULL;
}

/* See fsfreeze.h. */
void fsfreeze_get_status(struct fsfreeze_status *st)
{
	uint64_t now = now_ms();

	st->frozen = ff.n;
	st->remaining_ms = ff.n > 0 && ff.deadline_ms > now ? ff.deadline_ms - now : 0;
	st->freezes = ff.freezes;
	st->thaws = ff.thaws;
	st->auto_thaws = ff.auto_thaws;
	st->failures = ff.failures;
}

/* See fsfreeze.h. */
void fsfreeze_free(void)
{
	fsfreeze_thaw_all("stop");
	if (ff.timer != NULL)
		event_free(ff.timer);
	ff.timer = NULL;
}
