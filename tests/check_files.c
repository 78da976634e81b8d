/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* check_files.c - the files kind's confined file operations (files-fs.c)
 * on real directories: escapes, atomic PUT, limits, a full disk, LIST and
 * STAT. No sockets. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../src/udo-vsockd/files-fs.h"

static char top[PATH_MAX / 2]; /* a fresh directory per test */
static char rootdir[PATH_MAX]; /* top/root: the files root */
static int root = -1;

/* Makes top, top/root (the root) and top/outside. */
static void setup(void)
{
	char path[PATH_MAX + 16];
	const char *tmp = getenv("TMPDIR");

	snprintf(top, sizeof(top), "%s/check_files.XXXXXX", tmp ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(top));
	snprintf(rootdir, sizeof(rootdir), "%s/root", top);
	ck_assert_int_eq(mkdir(rootdir, 0755), 0);
	snprintf(path, sizeof(path), "%s/outside", top);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	root = files_root_open(rootdir);
	ck_assert_int_ge(root, 0);
}

/* Closes the root; the directory stays for a failed test to be read. */
static void teardown(void)
{
	if (root >= 0)
		close(root);
	root = -1;
}

/* Writes LEN bytes of DATA to file REL under top. */
static void put_file(const char *rel, const void *data, size_t len)
{
	char path[PATH_MAX * 2];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", top, rel);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

/* The contents of file REL under top, NUL-terminated, in a new buffer;
 * its length in *LEN. NULL if it does not exist. */
static char *read_file(const char *rel, size_t *len)
{
	char path[PATH_MAX * 2], *buf;
	struct stat st;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", top, rel);
	f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	ck_assert_int_eq(fstat(fileno(f), &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	ck_assert_ptr_nonnull(buf);
	*len = fread(buf, 1, (size_t)st.st_size, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

/* How many entries directory REL under top has, "." and ".." excluded. */
static int entries(const char *rel)
{
	char path[PATH_MAX * 2];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", top, rel);
	d = opendir(path);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	return n;
}

/* PUTs LEN bytes of DATA to PATH in one write; returns the result. */
static enum files_error put(const char *path, const void *data, size_t len, char *hex)
{
	struct files_put p;
	unsigned char digest[FILES_SHA256_LEN];
	char why[256];
	enum files_error e;

	e = files_put_begin(&p, root, path, len, 0640, 1 << 20, why, sizeof(why));
	if (e != FILES_OK)
		return e;
	e = files_put_write(&p, data, len, why, sizeof(why));
	if (e != FILES_OK) {
		files_put_abort(&p);
		return e;
	}
	e = files_put_commit(&p, digest, why, sizeof(why));
	if (e == FILES_OK && hex)
		files_hex(digest, sizeof(digest), hex);
	return e;
}

/* Relative paths that could leave the root, or are not paths, are refused
 * before any system call. */
START_TEST(path_rules)
{
	char why[128], longname[NAME_MAX + 2];

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ck_assert_int_eq(files_path_check("a/b.txt", why, sizeof(why)), 0);
	ck_assert_int_eq(files_path_check("./a//b", why, sizeof(why)), 0);
	ck_assert_int_eq(files_path_check(".", why, sizeof(why)), 0);
	ck_assert_int_eq(files_path_check("..a", why, sizeof(why)), 0);
	ck_assert_int_eq(files_path_check("", why, sizeof(why)), -1);
	ck_assert_int_eq(files_path_check("/etc/passwd", why, sizeof(why)), -1);
	ck_assert_int_eq(files_path_check("..", why, sizeof(why)), -1);
	ck_assert_int_eq(files_path_check("a/../../b", why, sizeof(why)), -1);
	ck_assert_int_eq(files_path_check("a/..", why, sizeof(why)), -1);
	ck_assert_int_eq(files_path_check("a\nb", why, sizeof(why)), -1);
	ck_assert_int_eq(files_path_check(longname, why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "component"));
}
END_TEST

/* Symlinks that leave the root are refused by the kernel for GET, PUT,
 * LIST and STAT alike; a symlink that stays inside is followed. */
START_TEST(symlink_escapes)
{
	char path[PATH_MAX * 2], why[256], attrs[128], **lines;
	uint64_t size;
	size_t n;
	int fd;

	put_file("outside/secret", "secret", 6);
	put_file("root/inside", "inside", 6);
	snprintf(path, sizeof(path), "%s/root/abs", top);
	ck_assert_int_eq(symlink("/", path), 0);
	snprintf(path, sizeof(path), "%s/root/up", top);
	ck_assert_int_eq(symlink("../outside", path), 0);
	snprintf(path, sizeof(path), "%s/root/here", top);
	ck_assert_int_eq(symlink("inside", path), 0);

	ck_assert_int_eq(files_get_open(root, "up/secret", 0, &fd, &size, why, sizeof(why)), FILES_DENIED);
	ck_assert_int_eq(files_get_open(root, "abs/etc/passwd", 0, &fd, &size, why, sizeof(why)), FILES_DENIED);
	ck_assert_int_eq(put("up/new", "x", 1, NULL), FILES_DENIED);
	ck_assert_int_eq(files_list(root, "up", &lines, &n, why, sizeof(why)), FILES_DENIED);
	ck_assert_int_eq(files_stat(root, "up/secret", attrs, sizeof(attrs), why, sizeof(why)), FILES_DENIED);
	ck_assert_int_eq(entries("outside"), 1);

	ck_assert_int_eq(files_get_open(root, "here", 0, &fd, &size, why, sizeof(why)), FILES_OK);
	ck_assert_uint_eq(size, 6);
	close(fd);
}
END_TEST

/* A PUT stores every byte value, reports the SHA-256 of what it wrote,
 * and gives the file exactly the mode asked for. */
START_TEST(put_all_bytes)
{
	unsigned char data[256];
	char hex[FILES_SHA256_HEX_LEN + 1], *got, path[PATH_MAX * 2];
	struct stat st;
	size_t len;

	for (int i = 0; i < 256; i++)
		data[i] = (unsigned char)i;
	umask(077);
	ck_assert_int_eq(put("bytes", data, sizeof(data), hex), FILES_OK);
	ck_assert_str_eq(hex, "40aff2e9d2d8922e47afd4648e6967497158785fbd1da870e7110266bf944880");
	got = read_file("root/bytes", &len);
	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(len, sizeof(data));
	ck_assert_mem_eq(got, data, sizeof(data));
	free(got);
	snprintf(path, sizeof(path), "%s/root/bytes", top);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0640);
	ck_assert_int_eq(entries("root"), 1);
}
END_TEST

/* Over max-file-size is refused before anything is created; more bytes
 * than announced, or fewer, never replace the old file. */
START_TEST(put_limits)
{
	struct files_put p;
	unsigned char digest[FILES_SHA256_LEN];
	char why[256], *got;
	size_t len;

	put_file("root/f", "old", 3);
	ck_assert_int_eq(files_put_begin(&p, root, "f", (1 << 20) + 1, 0644, 1 << 20, why, sizeof(why)),
	                 FILES_TOO_LARGE);
	ck_assert_ptr_nonnull(strstr(why, "max-file-size"));
	ck_assert_int_eq(entries("root"), 1);

	ck_assert_int_eq(files_put_begin(&p, root, "f", 4, 0644, 1 << 20, why, sizeof(why)), FILES_OK);
	ck_assert_int_eq(files_put_write(&p, "new!!", 5, why, sizeof(why)), FILES_TOO_LARGE);
	files_put_abort(&p);

	ck_assert_int_eq(files_put_begin(&p, root, "f", 4, 0644, 1 << 20, why, sizeof(why)), FILES_OK);
	ck_assert_int_eq(files_put_write(&p, "ne", 2, why, sizeof(why)), FILES_OK);
	ck_assert_int_eq(files_put_commit(&p, digest, why, sizeof(why)), FILES_INVALID);

	got = read_file("root/f", &len);
	ck_assert_str_eq(got, "old");
	free(got);
	ck_assert_int_eq(entries("root"), 1);
}
END_TEST

/* A PUT cut short (the client vanished) leaves the old file and no
 * temporary; a directory target is refused with "exists". */
START_TEST(put_abort)
{
	struct files_put p;
	char why[256], *got, path[PATH_MAX * 2];
	size_t len;

	put_file("root/f", "old", 3);
	ck_assert_int_eq(files_put_begin(&p, root, "f", 1000, 0644, 1 << 20, why, sizeof(why)), FILES_OK);
	ck_assert_int_eq(files_put_write(&p, "partial", 7, why, sizeof(why)), FILES_OK);
	files_put_abort(&p);
	got = read_file("root/f", &len);
	ck_assert_str_eq(got, "old");
	free(got);
	ck_assert_int_eq(entries("root"), 1);

	snprintf(path, sizeof(path), "%s/root/d", top);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	ck_assert_int_eq(put("d", "x", 1, NULL), FILES_EXISTS);
	ck_assert_int_eq(put("missing/x", "x", 1, NULL), FILES_NOT_FOUND);
}
END_TEST

/* Two PUTs to one path never mix: the last commit wins, whole. */
START_TEST(put_concurrent)
{
	struct files_put a, b;
	unsigned char digest[FILES_SHA256_LEN];
	char why[256], bufa[4096], bufb[4096], *got;
	size_t len;

	memset(bufa, 'a', sizeof(bufa));
	memset(bufb, 'b', sizeof(bufb));
	ck_assert_int_eq(files_put_begin(&a, root, "f", sizeof(bufa), 0644, 1 << 20, why, sizeof(why)), FILES_OK);
	ck_assert_int_eq(files_put_begin(&b, root, "f", sizeof(bufb), 0644, 1 << 20, why, sizeof(why)), FILES_OK);
	for (size_t off = 0; off < sizeof(bufa); off += 512) {
		ck_assert_int_eq(files_put_write(&a, bufa + off, 512, why, sizeof(why)), FILES_OK);
		ck_assert_int_eq(files_put_write(&b, bufb + off, 512, why, sizeof(why)), FILES_OK);
	}
	ck_assert_int_eq(files_put_commit(&b, digest, why, sizeof(why)), FILES_OK);
	ck_assert_int_eq(files_put_commit(&a, digest, why, sizeof(why)), FILES_OK);
	got = read_file("root/f", &len);
	ck_assert_uint_eq(len, sizeof(bufa));
	ck_assert_mem_eq(got, bufa, sizeof(bufa));
	free(got);
	ck_assert_int_eq(entries("root"), 1);
}
END_TEST

/* A directory swapped for a symlink out of the root during a PUT never
 * receives the file: the commit is refused. */
START_TEST(put_rename_race)
{
	struct files_put p;
	unsigned char digest[FILES_SHA256_LEN];
	char why[256], from[PATH_MAX * 2], to[PATH_MAX * 2];

	snprintf(from, sizeof(from), "%s/root/d", top);
	ck_assert_int_eq(mkdir(from, 0755), 0);
	ck_assert_int_eq(files_put_begin(&p, root, "d/x", 1, 0644, 1 << 20, why, sizeof(why)), FILES_OK);
	ck_assert_int_eq(files_put_write(&p, "x", 1, why, sizeof(why)), FILES_OK);
	snprintf(to, sizeof(to), "%s/outside/d", top);
	ck_assert_int_eq(rename(from, to), 0);
	ck_assert_int_eq(symlink(to, from), 0);
	ck_assert_int_eq(files_put_commit(&p, digest, why, sizeof(why)), FILES_DENIED);
	ck_assert_int_eq(entries("outside/d"), 0);
}
END_TEST

/* On a full filesystem a PUT fails with no-space at once and leaves the
 * old file intact and no temporary. Needs a mount namespace: root, or an
 * unprivileged user namespace. */
START_TEST(put_full_disk)
{
	char why[256], *got, *big;
	size_t len;

	if (unshare(CLONE_NEWNS) < 0)
		ck_assert_int_eq(unshare(CLONE_NEWUSER | CLONE_NEWNS), 0);
	ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	ck_assert_int_eq(mount("tmpfs", rootdir, "tmpfs", 0, "size=64k"), 0);
	close(root);
	root = files_root_open(rootdir);
	ck_assert_int_ge(root, 0);
	put_file("root/f", "old", 3);

	big = calloc(1, 512 * 1024);
	ck_assert_ptr_nonnull(big);
	ck_assert_int_eq(put("f", big, 512 * 1024, NULL), FILES_NO_SPACE);
	(void)why;
	free(big);
	got = read_file("root/f", &len);
	ck_assert_str_eq(got, "old");
	free(got);
	ck_assert_int_eq(entries("root"), 1);
}
END_TEST

/* LIST is sorted by name with type, size, mode and time; STAT agrees and
 * does not follow a final symlink. */
START_TEST(list_and_stat)
{
	char path[PATH_MAX * 2], why[256], attrs[128], **lines;
	size_t n;

	put_file("root/b", "bb", 2);
	put_file("root/a", "a", 1);
	snprintf(path, sizeof(path), "%s/root/c", top);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/root/l", top);
	ck_assert_int_eq(symlink("a", path), 0);
	ck_assert_int_eq(files_list(root, ".", &lines, &n, why, sizeof(why)), FILES_OK);
	ck_assert_uint_eq(n, 4);
	ck_assert_ptr_nonnull(strstr(lines[0], " a"));
	ck_assert_int_eq(strncmp(lines[0], "file 1 ", 7), 0);
	ck_assert_int_eq(strncmp(lines[1], "file 2 ", 7), 0);
	ck_assert_int_eq(strncmp(lines[2], "dir ", 4), 0);
	ck_assert_ptr_nonnull(strstr(lines[2], " 0700 "));
	ck_assert_int_eq(strncmp(lines[3], "symlink ", 8), 0);
	files_list_free(lines, n);

	ck_assert_int_eq(files_stat(root, "l", attrs, sizeof(attrs), why, sizeof(why)), FILES_OK);
	ck_assert_int_eq(strncmp(attrs, "symlink ", 8), 0);
	ck_assert_int_eq(files_stat(root, "b", attrs, sizeof(attrs), why, sizeof(why)), FILES_OK);
	ck_assert_int_eq(strncmp(attrs, "file 2 ", 7), 0);
	ck_assert_int_eq(files_stat(root, ".", attrs, sizeof(attrs), why, sizeof(why)), FILES_OK);
	ck_assert_int_eq(strncmp(attrs, "dir ", 4), 0);
	ck_assert_int_eq(files_stat(root, "nope", attrs, sizeof(attrs), why, sizeof(why)), FILES_NOT_FOUND);
	ck_assert_str_eq(files_error_code(FILES_NOT_FOUND), "not-found");
}
END_TEST

/* GET refuses an offset past the end and a directory. */
START_TEST(get_rules)
{
	char why[256];
	uint64_t size;
	int fd;

	put_file("root/f", "12345", 5);
	ck_assert_int_eq(files_get_open(root, "f", 5, &fd, &size, why, sizeof(why)), FILES_OK);
	close(fd);
	ck_assert_int_eq(files_get_open(root, "f", 6, &fd, &size, why, sizeof(why)), FILES_INVALID);
	ck_assert_int_eq(files_get_open(root, ".", 0, &fd, &size, why, sizeof(why)), FILES_EXISTS);
	ck_assert_int_eq(files_get_open(root, "nope", 0, &fd, &size, why, sizeof(why)), FILES_NOT_FOUND);
}
END_TEST

/* Makes openat2(2) fail with ENOSYS in this (forked) test process, as
 * systemd 252's SystemCallFilter= does under the shipped units. */
static void filter_openat2(void)
{
	struct sock_filter f[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};

	ck_assert_int_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
	ck_assert_int_eq(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0), 0);
}

/* Without openat2 the component walk keeps every path beneath the root,
 * now refusing every symbolic link, and PUT, GET, LIST and STAT work. */
START_TEST(walk_without_openat2)
{
	char path[PATH_MAX * 2], why[256], attrs[128], hex[FILES_SHA256_HEX_LEN + 1], **lines;
	uint64_t size;
	size_t n;
	int fd;

	put_file("outside/secret", "secret", 6);
	put_file("root/inside", "inside", 6);
	snprintf(path, sizeof(path), "%s/root/up", top);
	ck_assert_int_eq(symlink("../outside", path), 0);
	snprintf(path, sizeof(path), "%s/root/here", top);
	ck_assert_int_eq(symlink("inside", path), 0);
	snprintf(path, sizeof(path), "%s/root/d", top);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	filter_openat2();
	errno = 0;
	ck_assert_int_eq(syscall(SYS_openat2, root, ".", NULL, 0), -1);
	ck_assert_int_eq(errno, ENOSYS);

	ck_assert_int_eq(files_get_open(root, "up/secret", 0, &fd, &size, why, sizeof(why)), FILES_DENIED);
	ck_assert_int_eq(files_get_open(root, "here", 0, &fd, &size, why, sizeof(why)), FILES_DENIED);
	ck_assert_int_eq(put("up/new", "x", 1, NULL), FILES_DENIED);
	ck_assert_int_eq(files_list(root, "up", &lines, &n, why, sizeof(why)), FILES_DENIED);
	ck_assert_int_eq(entries("outside"), 1);

	ck_assert_int_eq(put("d//new", "abc", 3, hex), FILES_OK);
	ck_assert_int_eq(files_get_open(root, "./d/new", 0, &fd, &size, why, sizeof(why)), FILES_OK);
	ck_assert_uint_eq(size, 3);
	close(fd);
	ck_assert_int_eq(files_get_open(root, "d/missing", 0, &fd, &size, why, sizeof(why)), FILES_NOT_FOUND);
	ck_assert_int_eq(files_list(root, "d/", &lines, &n, why, sizeof(why)), FILES_OK);
	ck_assert_uint_eq(n, 1);
	files_list_free(lines, n);
	ck_assert_int_eq(files_stat(root, ".", attrs, sizeof(attrs), why, sizeof(why)), FILES_OK);
	ck_assert_int_eq(files_stat(root, "here", attrs, sizeof(attrs), why, sizeof(why)), FILES_OK);
	ck_assert_int_eq(strncmp(attrs, "symlink ", 8), 0);
}
END_TEST

/* The files-fs suite. */
static Suite *files_suite(void)
{
	Suite *s = suite_create("files");
	TCase *tc = tcase_create("files");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, path_rules);
	tcase_add_test(tc, symlink_escapes);
	tcase_add_test(tc, put_all_bytes);
	tcase_add_test(tc, put_limits);
	tcase_add_test(tc, put_abort);
	tcase_add_test(tc, put_concurrent);
	tcase_add_test(tc, put_rename_race);
	tcase_add_test(tc, put_full_disk);
	tcase_add_test(tc, list_and_stat);
	tcase_add_test(tc, get_rules);
	tcase_add_test(tc, walk_without_openat2);
	suite_add_tcase(s, tc);
	return s;
}

/* Runs the suite; exit status 0 when every test passed. */
int main(void)
{
	SRunner *sr = srunner_create(files_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
