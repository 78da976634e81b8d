/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* files-fs.h - file operations confined beneath a root directory, for the
 * files handler kind: resolution, atomic PUT, GET, LIST and STAT. No I/O
 * with clients here, so all of it is testable without sockets. */
#ifndef UDO_VSOCKD_FILES_FS_H
#define UDO_VSOCKD_FILES_FS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#define FILES_SHA256_LEN     32
#define FILES_SHA256_HEX_LEN (2 * FILES_SHA256_LEN)

/* What went wrong, as a stable reply code (files_error_code()). */
enum files_error {
	FILES_OK = 0,
	FILES_NOT_FOUND, /* no such file or directory */
	FILES_DENIED,    /* outside the root, not permitted, or not a regular file */
	FILES_TOO_LARGE, /* over max-file-size, or more bytes than announced */
	FILES_EXISTS,    /* the target is a directory */
	FILES_NO_SPACE,  /* the filesystem or a quota is full */
	FILES_INVALID,   /* a path or offset the protocol does not allow */
	FILES_INTERNAL,  /* any other failure (EIO, ENOMEM, ...) */
};

/* The reply code of E: "not-found", "denied", "too-large", "exists",
 * "no-space", "usage" or "internal". */
const char *files_error_code(enum files_error e);

/* The files_error for an errno value. */
enum files_error files_error_from_errno(int err);

/* Checks a client's relative PATH: not empty, not absolute, no ".."
 * component, no control character, at most PATH_MAX bytes. Pure. Returns
 * 0, or -1 with a reason in WHY. */
int files_path_check(const char *path, char *why, size_t whylen);

/* Opens the root directory PATH for files_open_beneath(). Returns an
 * O_PATH descriptor, or -1 (errno). */
int files_root_open(const char *path);

/* Opens PATH (checked by files_path_check()) beneath ROOT with FLAGS and
 * MODE through openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS), so no
 * "..", absolute symlink or symlink leaving the root is followed. "." is
 * the root itself. Returns a descriptor, or -1 (errno; EXDEV for an
 * escape). */
int files_open_beneath(int root, const char *path, int flags, mode_t mode);

/* A PUT in progress: the bytes go to an unnamed (or, where the filesystem
 * cannot, a hidden temporary) file in the target's directory and become
 * the target only at files_put_commit(). */
struct files_put {
	int dir;            /* the target's directory, -1 when closed */
	int fd;             /* the new contents, -1 when closed */
	char *dir_path;     /* the directory's path beneath the root */
	char *base;         /* the target's name in it */
	char *temp;         /* the hidden temporary's name, or NULL */
	struct stat dir_st; /* to see the directory is still the same one */
	uint64_t size;      /* bytes announced */
	uint64_t written;   /* bytes received */
	void *md;           /* EVP_MD_CTX * of the SHA-256 so far */
	int root;           /* not owned */
	mode_t mode;
	int chown; /* give the file to OWNER_UID:OWNER_GID at the commit */
	uid_t owner_uid;
	gid_t owner_gid;
};

/* Starts a PUT of SIZE bytes to PATH beneath ROOT, to be created with
 * MODE. Refuses before creating anything when SIZE > MAX_SIZE, and
 * reserves SIZE bytes where the filesystem can, so a full disk is seen at
 * once. Returns FILES_OK with *P ready, or an error with *P closed and a
 * reason in WHY. */
enum files_error files_put_begin(struct files_put *p, int root, const char *path, uint64_t size, mode_t mode,
                                 uint64_t max_size, char *why, size_t whylen);

/* Appends LEN bytes at BUF to the PUT. More than announced is
 * FILES_TOO_LARGE. */
enum files_error files_put_write(struct files_put *p, const void *buf, size_t len, char *why, size_t whylen);

/* Appends the N pieces at IOV to the PUT, in order, as files_put_write()
 * (one hash pass, one writev(2) where the kernel takes it all). IOV is
 * used up: its entries are changed. */
enum files_error files_put_writev(struct files_put *p, struct iovec *iov, int n, char *why, size_t whylen);

/* Finishes a PUT that received every announced byte: syncs the data,
 * checks the directory is still the one beneath the root, renames the
 * new file over the target, syncs the directory, and gives the SHA-256 of
 * the bytes in DIGEST. *P is closed whatever the result. */
enum files_error files_put_commit(struct files_put *p, unsigned char digest[FILES_SHA256_LEN], char *why,
                                  size_t whylen);

/* Drops a PUT: the target is untouched and no temporary remains. Safe on
 * a closed *P. */
void files_put_abort(struct files_put *p);

/* Opens PATH beneath ROOT for a GET from OFFSET: a regular file, OFFSET
 * at most its size. Returns FILES_OK with *FD and *SIZE (the whole
 * file's), or an error with a reason in WHY. */
enum files_error files_get_open(int root, const char *path, uint64_t offset, int *fd, uint64_t *size, char *why,
                                size_t whylen);

/* Lists directory PATH beneath ROOT: *LINES gets *COUNT lines sorted by
 * name, each "TYPE SIZE MODE MTIME NAME" (files_stat_format(); NAME
 * raw, the caller quotes it). Returns FILES_OK, or an error with a reason
 * in WHY. */
enum files_error files_list(int root, const char *path, char ***lines, size_t *count, char *why, size_t whylen);

/* Frees the LINES of files_list(). */
void files_list_free(char **lines, size_t count);

/* The "TYPE SIZE MODE MTIME" of PATH beneath ROOT (not following a final
 * symlink) into BUF. Returns FILES_OK or an error with a reason in WHY. */
enum files_error files_stat(int root, const char *path, char *buf, size_t len, char *why, size_t whylen);

/* Writes "TYPE SIZE MODE MTIME" for ST into BUF: TYPE is file, dir,
 * symlink or other, MODE four octal digits, MTIME Unix seconds. */
void files_stat_format(const struct stat *st, char *buf, size_t len);

/* Adds up the bytes allocated to every file beneath directory DIR (a
 * descriptor, not closed), symbolic links not followed, at most
 * MAX_ENTRIES entries and 32 levels deep. Returns 0 with *BYTES, or -1
 * (errno; E2BIG past those bounds). */
int files_usage(int dir, uint64_t *bytes, unsigned int max_entries);

/* Opens (with CREATE, first making) the directory NAME, one component,
 * beneath ROOT, for a per-peer root. Returns an O_PATH descriptor, or -1
 * (errno). */
int files_subroot_open(int root, const char *name, int create);

/* Lowercase hex of the LEN bytes at DIGEST into HEX (2 * LEN + 1). */
void files_hex(const unsigned char *digest, size_t len, char *hex);

#endif
