/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* files-fs.c - file operations confined beneath a root directory.
 *
 * Every path a client names is opened with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS) relative to the root's descriptor, so "..",
 * absolute symlinks and symlinks that leave the root fail in the kernel
 * (EXDEV) instead of in string checks. A PUT writes an O_TMPFILE in the
 * target's directory (a hidden temporary where the filesystem has no
 * O_TMPFILE), syncs it, links it under a temporary name and renames that
 * over the target: a cut-short transfer, a full disk or a crash leaves the
 * old file and, with O_TMPFILE, nothing else. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <udo/vsock-proto.h>

#include "files-fs.h"

/* Names a reason into WHY. */
#define WHY(...) snprintf(why, whylen, __VA_ARGS__)

/* The reply code of E. */
const char *files_error_code(enum files_error e)
{
	switch (e) {
	case FILES_OK:
		return "ok";
	case FILES_NOT_FOUND:
		return UDO_VSOCK_PROTO_ERR_NOT_FOUND;
	case FILES_DENIED:
		return UDO_VSOCK_PROTO_ERR_DENIED;
	case FILES_TOO_LARGE:
		return UDO_VSOCK_PROTO_ERR_TOO_LARGE;
	case FILES_EXISTS:
		return UDO_VSOCK_PROTO_ERR_EXISTS;
	case FILES_NO_SPACE:
		return UDO_VSOCK_PROTO_ERR_NO_SPACE;
	case FILES_INVALID:
		return UDO_VSOCK_PROTO_ERR_USAGE;
	case FILES_INTERNAL:
		break;
	}
	return UDO_VSOCK_PROTO_ERR_INTERNAL;
}

/* The files_error for ERR. */
enum files_error files_error_from_errno(int err)
{
	switch (err) {
	case ENOENT:
	case ENOTDIR:
		return FILES_NOT_FOUND;
	case EXDEV:
	case ELOOP:
	case EACCES:
	case EPERM:
	case EROFS:
	case ETXTBSY:
		return FILES_DENIED;
	case EISDIR:
	case EEXIST:
		return FILES_EXISTS;
	case ENOSPC:
	case EDQUOT:
		return FILES_NO_SPACE;
	case EFBIG:
		return FILES_TOO_LARGE;
	case ENAMETOOLONG:
	case EINVAL:
		return FILES_INVALID;
	default:
		return FILES_INTERNAL;
	}
}

/* Checks a client's relative PATH. */
int files_path_check(const char *path, char *why, size_t whylen)
{
	size_t len = strlen(path);
	const char *p = path;

	if (len == 0 || len >= PATH_MAX) {
		WHY("a path of %zu bytes (1 to %d)", len, PATH_MAX - 1);
		return -1;
	}
	if (path[0] == '/') {
		WHY("an absolute path; paths are relative to the root");
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)path[i] < 0x20 || path[i] == 0x7f) {
			WHY("a control character in the path");
			return -1;
		}
	}
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.') {
			WHY("a \"..\" component in the path");
			return -1;
		}
		if (n > NAME_MAX) {
			WHY("a path component of %zu bytes (at most %d)", n, NAME_MAX);
			return -1;
		}
		p += n;
		p += strspn(p, "/");
	}
	return 0;
}

/* Opens the root directory PATH. */
int files_root_open(const char *path)
{
	return open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

/* Opens PATH beneath ROOT one component at a time, following no
 * symbolic link at all: where openat2(2) is missing (Linux before 5.6) or
 * filtered (systemd 252's SystemCallFilter= answers it with ENOSYS). A
 * symbolic link on the way fails with EXDEV, as one leaving the root does
 * under openat2. */
static int open_beneath_walk(int root, const char *path, int flags, mode_t mode)
{
	int cur = fcntl(root, F_DUPFD_CLOEXEC, 0);
	const char *p = path;

	while (cur >= 0) {
		size_t n;
		char comp[NAME_MAX + 1];
		int last, next, err;

		p += strspn(p, "/");
		n = strcspn(p, "/");
		last = p[n + strspn(p + n, "/")] == '\0';
		if (n > NAME_MAX) {
			close(cur);
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(comp, n ? p : ".", n ? n : 1);
		comp[n ? n : 1] = '\0';
		if (strcmp(comp, "..") == 0) {
			close(cur);
			errno = EXDEV;
			return -1;
		}
		if (last)
			next = openat(cur, comp, flags | O_NOFOLLOW | O_CLOEXEC, mode);
		else
			next = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		err = errno;
		if (next < 0 && (err == ELOOP || err == ENOTDIR)) {
			struct stat st;

			if (fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
				err = EXDEV;
		}
		close(cur);
		if (last || next < 0) {
			errno = err;
			return next;
		}
		cur = next;
		p += n;
	}
	return -1;
}

/* Opens PATH beneath ROOT through openat2, or the walk where the kernel
 * or a seccomp filter lacks it. */
int files_open_beneath(int root, const char *path, int flags, mode_t mode)
{
	static int no_openat2;
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_CLOEXEC),
	    .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	long fd;

	if (!no_openat2) {
		do
			fd = syscall(SYS_openat2, root, path, &how, sizeof(how));
		while (fd < 0 && errno == EAGAIN);
		if (fd >= 0 || errno != ENOSYS)
			return (int)fd;
		no_openat2 = 1;
	}
	return open_beneath_walk(root, path, flags, mode);
}

/* Splits PATH into a newly allocated directory part ("." if none) in *DIR
 * and final name in *BASE. Returns 0, or -1 (ENOMEM, or EINVAL when PATH
 * names no file, as "a/" or "."). */
static int split_path(const char *path, char **dir, char **base)
{
	size_t len = strlen(path);
	const char *slash;

	while (len > 0 && path[len - 1] == '/')
		len--;
	if (len < strlen(path) || len == 0) {
		errno = EINVAL;
		return -1;
	}
	slash = memrchr(path, '/', len);
	*base = strndup(slash ? slash + 1 : path, slash ? len - (size_t)(slash + 1 - path) : len);
	*dir = slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
	if (*base == NULL || *dir == NULL) {
		free(*base);
		free(*dir);
		errno = ENOMEM;
		return -1;
	}
	if (strcmp(*base, ".") == 0) {
		free(*base);
		free(*dir);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* Frees everything *P holds and marks it closed; the target is untouched. */
void files_put_abort(struct files_put *p)
{
	if (p->fd >= 0)
		close(p->fd);
	if (p->temp != NULL && p->dir >= 0)
		unlinkat(p->dir, p->temp, 0);
	if (p->dir >= 0)
		close(p->dir);
	if (p->root >= 0)
		close(p->root);
	EVP_MD_CTX_free(p->md);
	free(p->dir_path);
	free(p->base);
	free(p->temp);
	memset(p, 0, sizeof(*p));
	p->dir = -1;
	p->fd = -1;
	p->root = -1;
}

/* Creates the hidden temporary for *P where O_TMPFILE is not supported.
 * Returns its descriptor, or -1 (errno). */
static int put_named_temp(struct files_put *p)
{
	static unsigned int serial;

	for (int tries = 0; tries < 100; tries++) {
		char name[NAME_MAX + 1];
		int fd;

		snprintf(name, sizeof(name), ".udo-put.%ld.%u", (long)getpid(), serial++);
		fd = openat(p->dir, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, p->mode);
		if (fd >= 0) {
			p->temp = strdup(name);
			if (p->temp == NULL) {
				unlinkat(p->dir, name, 0);
				close(fd);
				errno = ENOMEM;
				return -1;
			}
			return fd;
		}
		if (errno != EEXIST)
			return -1;
	}
	errno = EEXIST;
	return -1;
}

/* Starts a PUT of SIZE bytes to PATH beneath ROOT. */
enum files_error files_put_begin(struct files_put *p, int root, const char *path, uint64_t size, mode_t mode,
                                 uint64_t max_size, char *why, size_t whylen)
{
	struct stat st;
	int err;

	memset(p, 0, sizeof(*p));
	p->dir = -1;
	p->fd = -1;
	p->root = -1;
	p->size = size;
	p->mode = mode & 07777;
	if (size > max_size) {
		WHY("%llu bytes is over max-file-size (%llu)", (unsigned long long)size, (unsigned long long)max_size);
		return FILES_TOO_LARGE;
	}
	if (files_path_check(path, why, whylen) < 0)
		return FILES_INVALID;
	p->root = fcntl(root, F_DUPFD_CLOEXEC, 0);
	if (p->root < 0) {
		WHY("%s: %s", path, strerror(errno));
		return FILES_INTERNAL;
	}
	if (split_path(path, &p->dir_path, &p->base) < 0) {
		err = errno;
		WHY("%s names no file", path);
		files_put_abort(p);
		return err == ENOMEM ? FILES_INTERNAL : FILES_INVALID;
	}
	p->dir = files_open_beneath(root, p->dir_path, O_RDONLY | O_DIRECTORY, 0);
	if (p->dir < 0 || fstat(p->dir, &p->dir_st) < 0)
		goto fail;
	if (fstatat(p->dir, p->base, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EPERM;
		goto fail;
	}
	p->fd = openat(p->dir, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, p->mode);
	if (p->fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL))
		p->fd = put_named_temp(p);
	if (p->fd < 0)
		goto fail;
	/* The exact mode, whatever the umask. */
	if (fchmod(p->fd, p->mode) < 0)
		goto fail;
	if (size > 0 && fallocate(p->fd, 0, 0, (off_t)size) < 0 && errno != EOPNOTSUPP && errno != ENOSYS)
		goto fail;
	p->md = EVP_MD_CTX_new();
	if (p->md == NULL || EVP_DigestInit_ex(p->md, EVP_sha256(), NULL) != 1) {
		errno = ENOMEM;
		goto fail;
	}
	return FILES_OK;
fail:
	err = errno;
	WHY("%s: %s", path, strerror(err));
	files_put_abort(p);
	return files_error_from_errno(err);
}

/* Appends LEN bytes at BUF to the PUT. */
enum files_error files_put_write(struct files_put *p, const void *buf, size_t len, char *why, size_t whylen)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};

	return files_put_writev(p, &iov, 1, why, whylen);
}

/* Appends the N pieces at IOV (changed) to the PUT: hashed, then written
 * with as few writev(2) calls as the kernel allows. */
enum files_error files_put_writev(struct files_put *p, struct iovec *iov, int n, char *why, size_t whylen)
{
	size_t len = 0;

	for (int i = 0; i < n; i++)
		len += iov[i].iov_len;
	if (len > p->size - p->written) {
		WHY("more than the %llu bytes announced", (unsigned long long)p->size);
		return FILES_TOO_LARGE;
	}
	for (int i = 0; i < n; i++) {
		if (EVP_DigestUpdate(p->md, iov[i].iov_base, iov[i].iov_len) != 1) {
			WHY("SHA-256 failed");
			return FILES_INTERNAL;
		}
	}
	while (len > 0) {
		ssize_t w = writev(p->fd, iov, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int err = w < 0 ? errno : ENOSPC;

			WHY("writing: %s", strerror(err));
			return files_error_from_errno(err);
		}
		len -= (size_t)w;
		p->written += (uint64_t)w;
		/* Past what went: whole pieces dropped, a partial one advanced. */
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return FILES_OK;
}

/* Whether the directory of *P still is the one PATH names beneath the
 * root, so a directory swapped for a symlink or moved out of the root
 * during the transfer never receives the file. */
static int put_dir_unchanged(const struct files_put *p)
{
	struct stat now;
	int fd = files_open_beneath(p->root, p->dir_path, O_RDONLY | O_DIRECTORY, 0);
	int same;

	if (fd < 0)
		return 0;
	same = fstat(fd, &now) == 0 && now.st_dev == p->dir_st.st_dev && now.st_ino == p->dir_st.st_ino;
	close(fd);
	return same;
}

/* Gives the O_TMPFILE of *P a temporary name in its directory. Returns 0,
 * or -1 (errno). */
static int put_link_temp(struct files_put *p)
{
	char proc[64];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", p->fd);
	for (int tries = 0; tries < 100; tries++) {
		char name[NAME_MAX + 1];
		static unsigned int serial;

		snprintf(name, sizeof(name), ".udo-put.%ld.%u", (long)getpid(), serial++);
		if (linkat(AT_FDCWD, proc, p->dir, name, AT_SYMLINK_FOLLOW) == 0) {
			p->temp = strdup(name);
			if (p->temp == NULL) {
				unlinkat(p->dir, name, 0);
				errno = ENOMEM;
				return -1;
			}
			return 0;
		}
		if (errno != EEXIST)
			return -1;
	}
	errno = EEXIST;
	return -1;
}

/* Finishes a PUT: sync, check, rename, sync the directory. */
enum files_error files_put_commit(struct files_put *p, unsigned char digest[FILES_SHA256_LEN], char *why, size_t whylen)
{
	unsigned int mdlen = 0;
	enum files_error e = FILES_OK;

	if (p->written != p->size) {
		WHY("%llu of %llu bytes received", (unsigned long long)p->written, (unsigned long long)p->size);
		e = FILES_INVALID;
	} else if (EVP_DigestFinal_ex(p->md, digest, &mdlen) != 1 || mdlen != FILES_SHA256_LEN) {
		WHY("SHA-256 failed");
		e = FILES_INTERNAL;
	} else if (fsync(p->fd) < 0) {
		WHY("syncing: %s", strerror(errno));
		e = files_error_from_errno(errno);
	} else if (p->chown && fchown(p->fd, p->owner_uid, p->owner_gid) < 0) {
		WHY("giving the file to its owner: %s", strerror(errno));
		e = files_error_from_errno(errno);
	} else if (p->chown && fchmod(p->fd, p->mode) < 0) {
		/* chown clears set-id bits; the mode asked for stands. */
		WHY("setting the mode: %s", strerror(errno));
		e = files_error_from_errno(errno);
	} else if (p->temp == NULL && put_link_temp(p) < 0) {
		WHY("linking the new file: %s", strerror(errno));
		e = files_error_from_errno(errno);
	} else if (!put_dir_unchanged(p)) {
		WHY("%s changed during the transfer", p->dir_path);
		e = FILES_DENIED;
	} else if (renameat(p->dir, p->temp, p->dir, p->base) < 0) {
		WHY("renaming into place: %s", strerror(errno));
		e = files_error_from_errno(errno);
	} else {
		free(p->temp);
		p->temp = NULL;
		if (fsync(p->dir) < 0 && errno != EINVAL) {
			WHY("syncing the directory: %s", strerror(errno));
			e = files_error_from_errno(errno);
		}
	}
	files_put_abort(p);
	return e;
}

/* Opens PATH beneath ROOT for a GET from OFFSET. */
enum files_error files_get_open(int root, const char *path, uint64_t offset, int *fd, uint64_t *size, char *why,
                                size_t whylen)
{
	struct stat st;
	int err;

	if (files_path_check(path, why, whylen) < 0)
		return FILES_INVALID;
	*fd = files_open_beneath(root, path, O_RDONLY | O_NOCTTY | O_NONBLOCK, 0);
	if (*fd < 0 || fstat(*fd, &st) < 0) {
		err = errno;
		WHY("%s: %s", path, strerror(err));
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		return files_error_from_errno(err);
	}
	if (!S_ISREG(st.st_mode)) {
		WHY("%s is not a regular file", path);
		close(*fd);
		*fd = -1;
		return S_ISDIR(st.st_mode) ? FILES_EXISTS : FILES_DENIED;
	}
	if (offset > (uint64_t)st.st_size) {
		WHY("offset %llu is past the end (%lld bytes)", (unsigned long long)offset, (long long)st.st_size);
		close(*fd);
		*fd = -1;
		return FILES_INVALID;
	}
	*size = (uint64_t)st.st_size;
	return FILES_OK;
}

/* Writes "TYPE SIZE MODE MTIME" for ST into BUF. */
void files_stat_format(const struct stat *st, char *buf, size_t len)
{
	const char *type = S_ISREG(st->st_mode)   ? "file"
	                   : S_ISDIR(st->st_mode) ? "dir"
	                   : S_ISLNK(st->st_mode) ? "symlink"
	                                          : "other";

	snprintf(buf, len, "%s %lld %04o %lld", type, (long long)st->st_size, (unsigned int)(st->st_mode & 07777),
	         (long long)st->st_mtim.tv_sec);
}

/* The "TYPE SIZE MODE MTIME" of PATH beneath ROOT. */
enum files_error files_stat(int root, const char *path, char *buf, size_t len, char *why, size_t whylen)
{
	char *dir = NULL, *base = NULL;
	struct stat st;
	int dfd, rc, err;

	if (files_path_check(path, why, whylen) < 0)
		return FILES_INVALID;
	if (strcmp(path, ".") == 0 || split_path(path, &dir, &base) < 0) {
		/* The root itself, or a path ending in "/": follow it. */
		dfd = files_open_beneath(root, path, O_PATH, 0);
		rc = dfd < 0 ? -1 : fstat(dfd, &st);
	} else {
		dfd = files_open_beneath(root, dir, O_PATH | O_DIRECTORY, 0);
		rc = dfd < 0 ? -1 : fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW);
	}
	err = errno;
	if (dfd >= 0)
		close(dfd);
	free(dir);
	free(base);
	if (rc < 0) {
		WHY("%s: %s", path, strerror(err));
		return files_error_from_errno(err);
	}
	files_stat_format(&st, buf, len);
	return FILES_OK;
}

/* qsort order of two lines: by the name after the fourth space. */
static int line_cmp(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;

	for (int i = 0; i < 4; i++) {
		x = strchr(x, ' ') + 1;
		y = strchr(y, ' ') + 1;
	}
	return strcmp(x, y);
}

/* Frees the LINES of files_list(). */
void files_list_free(char **lines, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(lines[i]);
	free(lines);
}

/* Lists directory PATH beneath ROOT. */
enum files_error files_list(int root, const char *path, char ***lines, size_t *count, char *why, size_t whylen)
{
	int fd, err = 0;
	DIR *d;
	struct dirent *de;
	size_t cap = 0;

	*lines = NULL;
	*count = 0;
	if (files_path_check(path, why, whylen) < 0)
		return FILES_INVALID;
	fd = files_open_beneath(root, path, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		err = errno;
		if (fd >= 0)
			close(fd);
		WHY("%s: %s", path, strerror(err));
		return files_error_from_errno(err);
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		char attrs[96], *line;
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* removed meanwhile */
		files_stat_format(&st, attrs, sizeof(attrs));
		if (*count == cap) {
			char **more = reallocarray(*lines, cap ? cap * 2 : 16, sizeof(*more));

			if (more == NULL) {
				err = ENOMEM;
				break;
			}
			*lines = more;
			cap = cap ? cap * 2 : 16;
		}
		if (asprintf(&line, "%s %s", attrs, de->d_name) < 0) {
			err = ENOMEM;
			break;
		}
		(*lines)[(*count)++] = line;
	}
	if (err == 0 && errno != 0)
		err = errno;
	closedir(d);
	if (err != 0) {
		WHY("%s: %s", path, strerror(err));
		files_list_free(*lines, *count);
		*lines = NULL;
		*count = 0;
		return files_error_from_errno(err);
	}
	if (*count > 1)
		qsort(*lines, *count, sizeof(**lines), line_cmp);
	return FILES_OK;
}

/* Adds the usage beneath DIR (closed here) at DEPTH to *BYTES, counting
 * entries in *LEFT. Returns 0 or -1 (errno). */
static int usage_walk(int dir, uint64_t *bytes, unsigned int *left, int depth)
{
	DIR *d = fdopendir(dir);
	struct dirent *de;
	int rc = 0;

	if (d == NULL) {
		close(dir);
		return -1;
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (*left == 0 || depth > 32) {
			errno = E2BIG;
			rc = -1;
			break;
		}
		(*left)--;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* removed meanwhile */
		*bytes += (uint64_t)st.st_blocks * 512;
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub >= 0)
				rc = usage_walk(sub, bytes, left, depth + 1);
		}
	}
	closedir(d);
	return rc;
}

/* Adds up the bytes allocated beneath DIR. */
int files_usage(int dir, uint64_t *bytes, unsigned int max_entries)
{
	int fd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	*bytes = 0;
	if (fd < 0)
		return -1;
	return usage_walk(fd, bytes, &max_entries, 0);
}

/* Opens (and with CREATE makes) the per-peer directory NAME beneath ROOT. */
int files_subroot_open(int root, const char *name, int create)
{
	if (strchr(name, '/') != NULL || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || name[0] == '\0') {
		errno = EINVAL;
		return -1;
	}
	if (create && mkdirat(root, name, 0750) < 0 && errno != EEXIST)
		return -1;
	return files_open_beneath(root, name, O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
}

/* Lowercase hex of LEN bytes of DIGEST into HEX. */
void files_hex(const unsigned char *digest, size_t len, char *hex)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		hex[2 * i] = digits[digest[i] >> 4];
		hex[2 * i + 1] = digits[digest[i] & 15];
	}
	hex[2 * len] = '\0';
}
