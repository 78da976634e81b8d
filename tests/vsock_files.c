/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsock_files.c - the files handler kind, end to end: a real udo-vsockd on
 * CID 1, real frames, real files: content and hashes, escapes, limits, a
 * full disk, cut-short transfers and resume, concurrency and fairness. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <udo/vsock-frame.h>

#include "daemon-harness.h"

#define TIMEOUT_MS 60000
#define CLI_BIN    TEST_BUILDDIR "/src/udo-vsock/udo-vsock"

static struct daemon d;
static char share[300], ro[300], drop[300], outside[300], full[300], big[300], inbox[300], rofs[300], owned[300];

/* The byte at offset OFF of the test stream SEED. */
static unsigned char stream_byte(unsigned int seed, uint64_t off)
{
	uint64_t x = (off / 8 + 1) * 0x9e3779b97f4a7c15ULL ^ seed;

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	return (unsigned char)(x >> (8 * (off % 8)));
}

/* Fills BUF with N bytes of stream SEED from OFF. */
static void stream_fill(unsigned int seed, uint64_t off, unsigned char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = stream_byte(seed, off + i);
}

/* Sends all LEN bytes at P on FD within the test's timeout. */
static void send_all(int fd, const void *p, size_t len)
{
	const char *b = p;

	while (len > 0) {
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		ssize_t n;

		ck_assert_int_eq(poll(&pfd, 1, TIMEOUT_MS), 1);
		n = send(fd, b, len, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		ck_assert_msg(n > 0, "send: %s", strerror(errno));
		b += n;
		len -= (size_t)n;
	}
}

/* Receives exactly LEN bytes into P. Returns 0, or -1 at EOF or reset. */
static int recv_all(int fd, void *p, size_t len)
{
	char *b = p;

	while (len > 0) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t n;

		ck_assert_msg(poll(&pfd, 1, TIMEOUT_MS) == 1, "no bytes for %d ms", TIMEOUT_MS);
		n = recv(fd, b, len, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			return -1;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Sends a frame. */
static void frame_send(int fd, uint8_t type, uint8_t channel, const void *payload, size_t len)
{
	struct udo_vsock_frame f = {.type = type, .channel = channel, .length = (uint32_t)len};
	unsigned char hdr[UDO_VSOCK_FRAME_HEADER_SIZE];

	ck_assert_int_eq(udo_vsock_frame_encode_header(hdr, &f), 0);
	send_all(fd, hdr, sizeof(hdr));
	if (len > 0)
		send_all(fd, payload, len);
}

/* Sends a WINDOW of N on CHANNEL. */
static void window_send(int fd, uint8_t channel, uint32_t n)
{
	unsigned char b[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8),
	                      (unsigned char)n};

	frame_send(fd, UDO_VSOCK_FRAME_WINDOW, channel, b, sizeof(b));
}

/* Receives one frame into *F and PAYLOAD (UDO_VSOCK_FRAME_PAYLOAD_MAX + 1
 * bytes, NUL-terminated). Returns 0, or -1 at EOF. */
static int frame_recv(int fd, struct udo_vsock_frame *f, unsigned char *payload)
{
	unsigned char hdr[UDO_VSOCK_FRAME_HEADER_SIZE];
	char err[128];

	if (recv_all(fd, hdr, sizeof(hdr)) < 0)
		return -1;
	ck_assert_msg(udo_vsock_frame_decode_header(hdr, sizeof(hdr), f, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(recv_all(fd, payload, f->length), 0);
	payload[f->length] = '\0';
	return 0;
}

/* Connects and sends "CMD ARGS", then reads the reply line (byte by
 * byte: frames follow it) into LINE. Returns the socket. */
static int request_line(const char *line_out, char *line, size_t cap)
{
	int fd = vsock_connect_local(d.port, 5000, 0);
	size_t n = 0;

	ck_assert_msg(fd >= 0, "connect: %s", strerror(errno));
	send_all(fd, line_out, strlen(line_out));
	send_all(fd, "\n", 1);
	for (;;) {
		char c;

		ck_assert_int_eq(recv_all(fd, &c, 1), 0);
		if (c == '\n')
			break;
		ck_assert_uint_lt(n, cap - 1);
		line[n++] = c;
	}
	line[n] = '\0';
	return fd;
}

/* The result of one transfer. */
struct xfer_result {
	char status[512]; /* the reply line */
	char final[1100]; /* the DONE or ERROR text; "" if none came */
	uint64_t bytes;   /* bytes moved */
	char sha[65];     /* our own SHA-256 of those bytes */
};

/* Hex of the digest of MD into HEX. */
static void md_hex(EVP_MD_CTX *md, char *hex)
{
	unsigned char dg[32];
	unsigned int len = 0;

	ck_assert_int_eq(EVP_DigestFinal_ex(md, dg, &len), 1);
	for (unsigned int i = 0; i < len; i++)
		sprintf(hex + 2 * i, "%02x", dg[i]);
}

/* PUTs SIZE bytes of stream SEED to PATH with command CMD. With CUT >= 0,
 * closes the connection after CUT bytes instead of finishing. */
static void put_stream(const char *cmd, const char *path, uint64_t size, unsigned int seed, long long cut,
                       struct xfer_result *r)
{
	static unsigned char buf[UDO_VSOCK_FRAME_PAYLOAD_MAX + 1];
	char line[1024];
	uint64_t window = 0, sent = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	struct udo_vsock_frame f;
	int fd;

	memset(r, 0, sizeof(*r));
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	snprintf(line, sizeof(line), "%s PUT %s %llu", cmd, path, (unsigned long long)size);
	fd = request_line(line, r->status, sizeof(r->status));
	if (strcmp(r->status, "OK put") != 0)
		goto out;
	while (sent < size) {
		if (cut >= 0 && sent >= (uint64_t)cut)
			goto out;
		while (window == 0) {
			ck_assert_int_eq(frame_recv(fd, &f, buf), 0);
			if (f.type != UDO_VSOCK_FRAME_WINDOW) {
				snprintf(r->final, sizeof(r->final), "%.1024s", (char *)buf);
				goto out;
			}
			window += (uint64_t)buf[0] << 24 | (uint64_t)buf[1] << 16 | (uint64_t)buf[2] << 8 | buf[3];
		}
		size_t n = window < UDO_VSOCK_FRAME_PAYLOAD_MAX ? (size_t)window : UDO_VSOCK_FRAME_PAYLOAD_MAX;
		if (n > size - sent)
			n = (size_t)(size - sent);
		stream_fill(seed, sent, buf, n);
		EVP_DigestUpdate(md, buf, n);
		frame_send(fd, UDO_VSOCK_FRAME_DATA, UDO_VSOCK_FRAME_STDIN, buf, n);
		sent += n;
		window -= n;
	}
	frame_send(fd, UDO_VSOCK_FRAME_EOF, UDO_VSOCK_FRAME_STDIN, NULL, 0);
	while (frame_recv(fd, &f, buf) == 0) {
		if (f.type == UDO_VSOCK_FRAME_DONE || f.type == UDO_VSOCK_FRAME_ERROR) {
			snprintf(r->final, sizeof(r->final), "%.1024s", (char *)buf);
			break;
		}
		ck_assert_int_eq(f.type, UDO_VSOCK_FRAME_WINDOW);
	}
out:
	r->bytes = sent;
	md_hex(md, r->sha);
	EVP_MD_CTX_free(md);
	close(fd);
}

/* GETs PATH from OFFSET with command CMD into OUT (may be NULL), at most
 * MAX bytes before closing (-1: all). */
static void get_file(const char *cmd, const char *path, uint64_t offset, long long max, FILE *out,
                     struct xfer_result *r)
{
	static unsigned char buf[UDO_VSOCK_FRAME_PAYLOAD_MAX + 1];
	char line[1024];
	unsigned long long size = 0;
	uint64_t granted = 0, left;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	struct udo_vsock_frame f;
	int fd;

	memset(r, 0, sizeof(*r));
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	snprintf(line, sizeof(line), "%s GET %s %llu", cmd, path, (unsigned long long)offset);
	fd = request_line(line, r->status, sizeof(r->status));
	if (sscanf(r->status, "OK get %llu", &size) != 1)
		goto out;
	left = size - offset;
	for (;;) {
		if (granted < left && granted - r->bytes < 128 * 1024) {
			uint64_t n = left - granted < 256 * 1024 ? left - granted : 256 * 1024;
			window_send(fd, UDO_VSOCK_FRAME_STDOUT, (uint32_t)n);
			granted += n;
		}
		if (frame_recv(fd, &f, buf) < 0)
			break;
		if (f.type == UDO_VSOCK_FRAME_DATA) {
			ck_assert_int_eq(f.channel, UDO_VSOCK_FRAME_STDOUT);
			EVP_DigestUpdate(md, buf, f.length);
			if (out)
				ck_assert_uint_eq(fwrite(buf, 1, f.length, out), f.length);
			r->bytes += f.length;
			if (max >= 0 && r->bytes >= (uint64_t)max)
				break;
			continue;
		}
		snprintf(r->final, sizeof(r->final), "%.1024s", (char *)buf);
		break;
	}
out:
	md_hex(md, r->sha);
	EVP_MD_CTX_free(md);
	close(fd);
}

/* "OK sha256=HEX bytes=N" as expected for SHA and BYTES. */
static void ck_done(const struct xfer_result *r)
{
	char want[200];

	snprintf(want, sizeof(want), "OK sha256=%s bytes=%llu", r->sha, (unsigned long long)r->bytes);
	ck_assert_msg(strcmp(r->final, want) == 0, "reply '%s', last frame '%s', expected '%s'", r->status, r->final,
	              want);
}

/* Entries of DIR, "." and ".." excluded. */
static int dir_entries(const char *dir)
{
	DIR *dp = opendir(dir);
	struct dirent *de;
	int n = 0;

	ck_assert_ptr_nonnull(dp);
	while ((de = readdir(dp)) != NULL)
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(dp);
	return n;
}

/* Writes TEXT to DIR/NAME. */
static void put_local(const char *dir, const char *name, const char *text)
{
	char path[700];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	write_file(path, text);
}

/* The contents of DIR/NAME (up to 4 KiB), or "" if it is missing. */
static const char *read_local(const char *dir, const char *name)
{
	static char text[4096];
	char path[700];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	text[0] = '\0';
	f = fopen(path, "r");
	if (f == NULL)
		return text;
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

/* One daemon with four shares: read-write, read-only, a size-capped
 * write-only drop box, and a read-write one on a 256 KiB tmpfs. */
static void setup(void)
{
	char sections[4096];

	daemon_init(&d);
	snprintf(share, sizeof(share), "%s/share", d.dir);
	snprintf(ro, sizeof(ro), "%s/ro", d.dir);
	snprintf(drop, sizeof(drop), "%s/drop", d.dir);
	snprintf(outside, sizeof(outside), "%s/outside", d.dir);
	snprintf(full, sizeof(full), "%s/full", d.dir);
	snprintf(big, sizeof(big), "%s/big", d.dir);
	snprintf(inbox, sizeof(inbox), "%s/inbox", d.dir);
	snprintf(rofs, sizeof(rofs), "%s/rofs", d.dir);
	snprintf(owned, sizeof(owned), "%s/owned", d.dir);
	ck_assert_int_eq(mkdir(share, 0755), 0);
	ck_assert_int_eq(mkdir(ro, 0755), 0);
	ck_assert_int_eq(mkdir(drop, 0755), 0);
	ck_assert_int_eq(mkdir(outside, 0755), 0);
	ck_assert_int_eq(mkdir(full, 0755), 0);
	ck_assert_int_eq(mkdir(big, 0755), 0);
	ck_assert_int_eq(mkdir(inbox, 0755), 0);
	ck_assert_int_eq(mkdir(rofs, 0755), 0);
	ck_assert_int_eq(mkdir(owned, 0755), 0);
	ck_assert_msg(mount("tmpfs", rofs, "tmpfs", MS_RDONLY, "size=64k") == 0, "mount tmpfs on %s: %s", rofs,
	              strerror(errno));
	ck_assert_msg(mount("tmpfs", full, "tmpfs", 0, "size=256k") == 0, "mount tmpfs on %s: %s", full,
	              strerror(errno));
	/* Room for 1 GiB whatever $TMPDIR is (user-mode Linux: half its RAM). */
	ck_assert_msg(mount("tmpfs", big, "tmpfs", 0, "size=1100M") == 0, "mount tmpfs on %s: %s", big,
	              strerror(errno));
	snprintf(sections, sizeof(sections),
	         "[command files]\nhandler = files\nroot = %s\naccess = read-write\nmax-file-size = 2048M\n"
	         "[command ro]\nhandler = files\nroot = %s\naccess = read\n"
	         "[command drop]\nhandler = files\nroot = %s\naccess = write\nmax-file-size = 1M\n"
	         "[command full]\nhandler = files\nroot = %s\naccess = read-write\n"
	         "[command inbox]\nhandler = files\nroot = %s\naccess = write\npeer-subdir = yes\n"
	         "max-file-size = 1M\nmax-root-bytes = 2560K\n"
	         "[command rofs]\nhandler = files\nroot = %s\naccess = read-write\n"
	         "[command owned]\nhandler = files\nroot = %s\naccess = read-write\nowner = nobody:nogroup\n"
	         "create-mode = 0640\n"
	         "[command tiny]\nhandler = files\nroot = %s\naccess = read-write\ntransfer-window = 4K\n"
	         "[command big]\nhandler = files\nroot = %s\naccess = read-write\nmax-file-size = 2048M\n",
	         share, ro, drop, full, inbox, rofs, owned, share, big);
	daemon_write_config(&d, "", sections);
	ck_assert_int_eq(daemon_start(&d, NULL, 10000), 0);
}

/* Stops the daemon and removes everything. */
static void teardown(void)
{
	daemon_stop(&d, 10000);
	umount2(full, MNT_DETACH);
	umount2(big, MNT_DETACH);
	umount2(rofs, MNT_DETACH);
	daemon_cleanup(&d);
}

/* Every byte value goes in and comes back; both ends agree on the hash. */
START_TEST(all_byte_values)
{
	struct xfer_result put, get;
	char path[700];
	FILE *f;

	put_stream("files", "bytes.bin", 256 * 1024 + 7, 1, -1, &put);
	ck_assert_str_eq(put.status, "OK put");
	ck_done(&put);
	snprintf(path, sizeof(path), "%s/all256", share);
	f = fopen(path, "w");
	for (int i = 0; i < 256; i++)
		fputc(i, f);
	fclose(f);
	get_file("files", "all256", 0, -1, NULL, &get);
	ck_assert_str_eq(get.status, "OK get 256");
	ck_assert_uint_eq(get.bytes, 256);
	ck_assert_str_eq(get.sha, "40aff2e9d2d8922e47afd4648e6967497158785fbd1da870e7110266bf944880");
	ck_done(&get);
	get_file("files", "bytes.bin", 0, -1, NULL, &get);
	ck_assert_str_eq(get.sha, put.sha);
	ck_done(&get);
}
END_TEST

/* Paths that leave the root are refused, whichever way they try. */
START_TEST(escapes)
{
	struct xfer_result r;
	char path[700];

	put_local(outside, "secret", "secret");
	snprintf(path, sizeof(path), "%s/out", share);
	ck_assert_int_eq(symlink(outside, path), 0);
	get_file("files", "../outside/secret", 0, -1, NULL, &r);
	ck_assert_str_eq(r.status, "ERR usage a \"..\" component in the path");
	get_file("files", path, 0, -1, NULL, &r);
	ck_assert_str_eq(r.status, "ERR usage an absolute path; paths are relative to the root");
	get_file("files", "out/secret", 0, -1, NULL, &r);
	ck_assert_msg(strncmp(r.status, "ERR denied ", 11) == 0, "%s", r.status);
	put_stream("files", "out/new", 10, 1, -1, &r);
	ck_assert_msg(strncmp(r.status, "ERR denied ", 11) == 0, "%s", r.status);
	ck_assert_int_eq(dir_entries(outside), 1);
}
END_TEST

/* A read-only share refuses PUT, a write-only one GET; the size cap is
 * refused before any byte, leaving nothing behind. */
START_TEST(limits)
{
	struct xfer_result r;

	put_local(ro, "f", "old");
	put_stream("ro", "f", 3, 1, -1, &r);
	ck_assert_str_eq(r.status, "ERR denied this share is read-only");
	ck_assert_str_eq(read_local(ro, "f"), "old");
	get_file("drop", "x", 0, -1, NULL, &r);
	ck_assert_str_eq(r.status, "ERR denied this share is write-only");
	put_stream("drop", "report", (1 << 20) + 1, 1, -1, &r);
	ck_assert_msg(strncmp(r.status, "ERR too-large ", 14) == 0, "%s", r.status);
	ck_assert_int_eq(dir_entries(drop), 0);
	put_stream("drop", "report", 1 << 20, 2, -1, &r);
	ck_done(&r);
}
END_TEST

/* A share on a read-only file system refuses a PUT with "denied"; one
 * with owner gives each new file to that user and group (the daemon runs
 * as root here), with the mode create-mode allows. */
START_TEST(rofs_and_owner)
{
	struct xfer_result r;
	struct passwd *pw = getpwnam("nobody");
	struct group *gr = getgrnam("nogroup");
	char path[400];
	struct stat st;

	put_stream("rofs", "f", 10, 1, -1, &r);
	ck_assert_msg(strncmp(r.status, "ERR denied ", 11) == 0, "%s", r.status);
	ck_assert_ptr_nonnull(pw);
	ck_assert_ptr_nonnull(gr);
	put_stream("owned", "given", 10, 1, -1, &r);
	ck_done(&r);
	snprintf(path, sizeof(path), "%s/given", owned);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_uid, pw->pw_uid);
	ck_assert_uint_eq(st.st_gid, gr->gr_gid);
	ck_assert_uint_eq(st.st_mode & 07777, 0640);
}
END_TEST

/* A drop box with peer-subdir keeps each peer in its own directory,
 * named by the kernel's CID, and max-root-bytes caps what one peer may
 * leave there in all. */
START_TEST(peer_inbox)
{
	struct xfer_result r;
	char dir[400];

	put_stream("inbox", "r1", 1 << 20, 1, -1, &r);
	ck_done(&r);
	put_stream("inbox", "r2", 1 << 20, 2, -1, &r);
	ck_done(&r);
	put_stream("inbox", "r3", 1 << 20, 3, -1, &r);
	ck_assert_msg(strncmp(r.status, "ERR no-space ", 13) == 0, "%s", r.status);
	ck_assert_ptr_nonnull(strstr(r.status, "max-root-bytes"));
	snprintf(dir, sizeof(dir), "%s/cid-1", inbox);
	ck_assert_int_eq(dir_entries(inbox), 1);
	ck_assert_int_eq(dir_entries(dir), 2);
}
END_TEST

/* On a full filesystem a PUT fails with no-space; the old file stays and
 * no temporary is left. */
START_TEST(full_disk)
{
	struct xfer_result r;

	put_local(full, "f", "old");
	put_stream("full", "f", 1 << 20, 1, -1, &r);
	ck_assert_msg(strncmp(r.status, "ERR no-space ", 13) == 0 || strncmp(r.final, "ERR no-space ", 13) == 0,
	              "status '%s', final '%s'", r.status, r.final);
	ck_assert_str_eq(read_local(full, "f"), "old");
	ck_assert_int_eq(dir_entries(full), 1);
}
END_TEST

/* A client that vanishes mid-PUT leaves the old file and no temporary;
 * one that vanishes mid-GET resumes from where it stopped. */
START_TEST(cut_short_and_resume)
{
	struct xfer_result r, head, tail, whole;
	uint64_t size = 3 * 1024 * 1024 + 11;
	EVP_MD_CTX *md;

	int fds;

	put_local(share, "f", "old");
	fds = process_fd_count(d.pid);
	put_stream("files", "f", size, 3, 1024 * 1024, &r);
	ck_assert_str_eq(r.status, "OK put");
	/* The daemon has dropped the transfer once its descriptors are back. */
	ck_assert_int_eq(wait_fd_count(d.pid, fds, 10000), fds);
	ck_assert_str_eq(read_local(share, "f"), "old");
	ck_assert_int_eq(dir_entries(share), 1);

	put_stream("files", "f", size, 3, -1, &whole);
	ck_done(&whole);
	get_file("files", "f", 0, 1000 * 1000, NULL, &head);
	ck_assert_uint_ge(head.bytes, 1000 * 1000);
	get_file("files", "f", head.bytes, -1, NULL, &tail);
	ck_done(&tail);
	ck_assert_uint_eq(head.bytes + tail.bytes, size);
	/* The two parts are the stream's bytes: hash them together. */
	md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	for (uint64_t off = 0; off < size; off += 65536) {
		unsigned char buf[65536];
		size_t n = size - off < sizeof(buf) ? (size_t)(size - off) : sizeof(buf);
		stream_fill(3, off, buf, n);
		EVP_DigestUpdate(md, buf, n);
	}
	char hex[65];
	md_hex(md, hex);
	EVP_MD_CTX_free(md);
	ck_assert_str_eq(hex, whole.sha);
}
END_TEST

/* A directory swapped for a symlink out of the root while PUTs run never
 * lets a file out: each PUT lands inside or is refused. */
START_TEST(rename_race)
{
	char d_path[700], old_path[700];
	struct xfer_result r;
	pid_t racer;
	int ok = 0;

	snprintf(d_path, sizeof(d_path), "%s/d", share);
	snprintf(old_path, sizeof(old_path), "%s/d.old", share);
	ck_assert_int_eq(mkdir(d_path, 0755), 0);
	racer = fork();
	ck_assert_int_ge(racer, 0);
	if (racer == 0) {
		for (;;) {
			if (rename(d_path, old_path) == 0) {
				if (symlink(outside, d_path) == 0)
					unlink(d_path);
				rename(old_path, d_path);
			}
		}
	}
	for (int i = 0; i < 200; i++) {
		put_stream("files", "d/x", 4096, (unsigned int)i, -1, &r);
		ok += strncmp(r.final, "OK ", 3) == 0;
	}
	kill(racer, SIGKILL);
	waitpid(racer, NULL, 0);
	ck_assert_int_eq(dir_entries(outside), 0);
	ck_assert_int_gt(ok, 0);
}
END_TEST

/* Two PUTs to one path never mix: the file is one of them, whole. */
START_TEST(concurrent_puts)
{
	struct xfer_result a, b, g;
	pid_t child = fork();

	ck_assert_int_ge(child, 0);
	if (child == 0) {
		for (int i = 0; i < 20; i++)
			put_stream("files", "same", 512 * 1024, 100, -1, &a);
		_exit(0);
	}
	for (int i = 0; i < 20; i++)
		put_stream("files", "same", 512 * 1024, 200, -1, &b);
	ck_assert_int_eq(waitpid(child, NULL, 0), child);
	put_stream("files", "ref100", 512 * 1024, 100, -1, &a);
	get_file("files", "same", 0, -1, NULL, &g);
	ck_assert_msg(strcmp(g.sha, a.sha) == 0 || strcmp(g.sha, b.sha) == 0, "the file mixes two PUTs");
}
END_TEST

/* 100 GETs from 100 connections all make progress: when the first ends,
 * every other has received data. */
START_TEST(fairness)
{
	enum { N = 100 };
	static unsigned char buf[UDO_VSOCK_FRAME_PAYLOAD_MAX + 1];
	struct xfer_result r;
	int fds[N];
	uint64_t got[N] = {0};
	int first_done = -1;

	need_nofile(N + 64);
	put_stream("files", "big", 8 * 1024 * 1024, 7, -1, &r);
	ck_done(&r);
	for (int i = 0; i < N; i++) {
		char status[128];

		fds[i] = request_line("files GET big", status, sizeof(status));
		ck_assert_str_eq(status, "OK get 8388608");
	}
	for (int i = 0; i < N; i++)
		window_send(fds[i], UDO_VSOCK_FRAME_STDOUT, 8 * 1024 * 1024);
	while (first_done < 0) {
		struct pollfd pfd[N];

		for (int i = 0; i < N; i++)
			pfd[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
		ck_assert_int_gt(poll(pfd, N, TIMEOUT_MS), 0);
		for (int i = 0; i < N && first_done < 0; i++) {
			struct udo_vsock_frame f;

			if (!(pfd[i].revents & (POLLIN | POLLHUP)))
				continue;
			ck_assert_int_eq(frame_recv(fds[i], &f, buf), 0);
			if (f.type == UDO_VSOCK_FRAME_DATA)
				got[i] += f.length;
			else
				first_done = i;
		}
	}
	for (int i = 0; i < N; i++) {
		ck_assert_msg(got[i] > 0, "transfer %d got nothing while %d finished", i, first_done);
		close(fds[i]);
	}
}
END_TEST

/* A 1 GiB PUT and GET: the daemon's hash, ours and sha256sum agree. */
START_TEST(one_gib)
{
	struct xfer_result put, get;
	char path[700], *argv[3], out[256], err[256];

	put_stream("big", "gib", 1ULL << 30, 9, -1, &put);
	ck_done(&put);
	get_file("big", "gib", 0, -1, NULL, &get);
	ck_done(&get);
	ck_assert_str_eq(get.sha, put.sha);
	snprintf(path, sizeof(path), "%s/gib", big);
	argv[0] = "/usr/bin/sha256sum";
	argv[1] = path;
	argv[2] = NULL;
	ck_assert_int_eq(run_process(argv, out, sizeof(out), err, sizeof(err), TIMEOUT_MS), 0);
	ck_assert_int_eq(strncmp(out, put.sha, 64), 0);
	unlink(path);
}
END_TEST

/* LIST and STAT answer with lines. */
START_TEST(list_and_stat)
{
	struct client c;
	struct raw_reply rr;

	put_local(share, "b", "bb");
	put_local(share, "a", "a");
	client_open(&c, d.port);
	client_send_str(&c, "files LIST .\n");
	client_read_raw_reply(&c, &rr, 5000);
	ck_assert_str_eq(rr.status, "OK 2");
	client_send_str(&c, "files STAT b\n");
	client_read_raw_reply(&c, &rr, 5000);
	ck_assert_msg(strncmp(rr.status, "OK file 2 0", 11) == 0, "%s", rr.status);
	client_send_str(&c, "files STAT nope\n");
	client_read_raw_reply(&c, &rr, 5000);
	ck_assert_msg(strncmp(rr.status, "ERR not-found ", 14) == 0, "%s", rr.status);
	client_send_str(&c, "files GET b 0 extra\n");
	client_read_raw_reply(&c, &rr, 5000);
	ck_assert_msg(strncmp(rr.status, "ERR usage GET PATH [OFFSET]", 27) == 0, "%s", rr.status);
	client_send_str(&c, "files STAT\n");
	client_read_raw_reply(&c, &rr, 5000);
	ck_assert_msg(strncmp(rr.status, "ERR usage ", 10) == 0, "%s", rr.status);
	client_send_str(&c, "files CHMOD b\n");
	client_read_raw_reply(&c, &rr, 5000);
	ck_assert_msg(strncmp(rr.status, "ERR usage ", 10) == 0, "%s", rr.status);
	client_close(&c);
}
END_TEST

/* A client that sends past its window, or a frame a transfer does not
 * take, gets an ERROR frame and the connection ends; the target stays
 * untouched and the daemon serves the next client. */
START_TEST(protocol_violations)
{
	static unsigned char buf[UDO_VSOCK_FRAME_PAYLOAD_MAX + 1];
	struct udo_vsock_frame f;
	struct xfer_result r;
	char status[128];
	uint32_t window;
	int fd;

	put_local(share, "f", "old");
	/* transfer-window = 4K: one frame of 8 KiB overruns it. */
	fd = request_line("tiny PUT f 16777216", status, sizeof(status));
	ck_assert_str_eq(status, "OK put");
	ck_assert_int_eq(frame_recv(fd, &f, buf), 0);
	ck_assert_int_eq(f.type, UDO_VSOCK_FRAME_WINDOW);
	window = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
	ck_assert_uint_eq(window, 4096);
	memset(buf, 'x', 2 * window);
	frame_send(fd, UDO_VSOCK_FRAME_DATA, UDO_VSOCK_FRAME_STDIN, buf, 2 * window);
	ck_assert_int_eq(frame_recv(fd, &f, buf), 0);
	ck_assert_int_eq(f.type, UDO_VSOCK_FRAME_ERROR);
	ck_assert_msg(strstr((char *)buf, "past the window") != NULL, "%s", (char *)buf);
	close(fd);
	ck_assert_str_eq(read_local(share, "f"), "old");

	fd = request_line("files GET f", status, sizeof(status));
	ck_assert_str_eq(status, "OK get 3");
	frame_send(fd, UDO_VSOCK_FRAME_DATA, UDO_VSOCK_FRAME_STDIN, "x", 1);
	ck_assert_int_eq(frame_recv(fd, &f, buf), 0);
	ck_assert_int_eq(f.type, UDO_VSOCK_FRAME_ERROR);
	ck_assert_msg(strncmp((char *)buf, "ERR usage protocol:", 19) == 0, "%s", (char *)buf);
	close(fd);

	get_file("files", "f", 0, -1, NULL, &r);
	ck_done(&r);
}
END_TEST

/* Runs the CLI with ARGS (up to 6) against the daemon; its stderr in ERR.
 * Returns its exit status. */
static int cli(char *err, size_t errlen, const char *a1, const char *a2, const char *a3, const char *a4, const char *a5)
{
	char addr[64], out[256];
	char *argv[] = {CLI_BIN, addr, (char *)a1, (char *)a2, (char *)a3, (char *)a4, (char *)a5, NULL};

	snprintf(addr, sizeof(addr), "vsock:1:%u", d.port);
	return run_process(argv, out, sizeof(out), err, errlen, TIMEOUT_MS);
}

/* The CLI as a person types it: put, get, get --resume, and exit codes
 * that say what failed. */
START_TEST(cli_put_get)
{
	char src[700], back[700], part[700], err[1024];
	unsigned char buf[4096];
	FILE *f;

	snprintf(src, sizeof(src), "%s/local.bin", d.dir);
	snprintf(back, sizeof(back), "%s/back.bin", d.dir);
	snprintf(part, sizeof(part), "%s/part.bin", d.dir);
	f = fopen(src, "w");
	for (int i = 0; i < 1000; i++) {
		stream_fill(5, (uint64_t)i * sizeof(buf), buf, sizeof(buf));
		ck_assert_uint_eq(fwrite(buf, 1, sizeof(buf), f), sizeof(buf));
	}
	fclose(f);
	ck_assert_msg(cli(err, sizeof(err), "put", src, "sub/../x", NULL, NULL) == 1, "%s", err);
	ck_assert_msg(strstr(err, "ERR usage") != NULL, "%s", err);
	ck_assert_msg(cli(err, sizeof(err), "put", src, "files:copy.bin", NULL, NULL) == 0, "%s", err);
	ck_assert_msg(cli(err, sizeof(err), "get", "copy.bin", back, NULL, NULL) == 0, "%s", err);
	f = fopen(part, "w");
	stream_fill(5, 0, buf, 1000);
	fwrite(buf, 1, 1000, f);
	fclose(f);
	ck_assert_msg(cli(err, sizeof(err), "get", "--resume", "copy.bin", part, NULL) == 0, "%s", err);
	{
		char *argv[] = {"/usr/bin/cmp", src, back, NULL}, out[256];
		ck_assert_int_eq(run_process(argv, out, sizeof(out), err, sizeof(err), TIMEOUT_MS), 0);
		argv[2] = part;
		ck_assert_int_eq(run_process(argv, out, sizeof(out), err, sizeof(err), TIMEOUT_MS), 0);
	}
	ck_assert_int_eq(cli(err, sizeof(err), "get", "nope", back, NULL, NULL), 1);
	ck_assert_msg(strstr(err, "ERR not-found") != NULL, "%s", err);
	ck_assert_int_eq(cli(err, sizeof(err), "put", "/nonexistent/file", "x", NULL, NULL), 6);
	ck_assert_int_eq(cli(err, sizeof(err), "put", src, NULL, NULL, NULL), 2);
}
END_TEST

/* A daemon whose DONE hash does not match the bytes: the CLI says so and
 * exits 7. A fake server on a unix socket plays the daemon. */
START_TEST(cli_integrity)
{
	char sock[700], err[1024], out[256], back[700];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int ls, status;
	pid_t srv;

	snprintf(sock, sizeof(sock), "%s/fake.sock", d.dir);
	snprintf(back, sizeof(back), "%s/fake.out", d.dir);
	ck_assert_uint_lt(strlen(sock), sizeof(sa.sun_path));
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	ls = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(ls, 0);
	ck_assert_int_eq(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(ls, 1), 0);
	srv = fork();
	ck_assert_int_ge(srv, 0);
	if (srv == 0) {
		static unsigned char b[UDO_VSOCK_FRAME_PAYLOAD_MAX + 1];
		const char *done = "OK sha256=0000000000000000000000000000000000000000000000000000000000000000 bytes=3";
		struct udo_vsock_frame f;
		int c = accept(ls, NULL, NULL);
		char ch;

		do
			if (read(c, &ch, 1) != 1)
				_exit(1);
		while (ch != '\n');
		send_all(c, "OK get 3\n", 9);
		if (frame_recv(c, &f, b) < 0 || f.type != UDO_VSOCK_FRAME_WINDOW)
			_exit(2);
		frame_send(c, UDO_VSOCK_FRAME_DATA, UDO_VSOCK_FRAME_STDOUT, "abc", 3);
		frame_send(c, UDO_VSOCK_FRAME_DONE, 0, done, strlen(done));
		while (read(c, b, sizeof(b)) > 0)
			;
		_exit(0);
	}
	close(ls);
	{
		char addr[720];
		char *argv[] = {CLI_BIN, addr, "get", "x", back, NULL};

		snprintf(addr, sizeof(addr), "unix:%s", sock);
		ck_assert_int_eq(run_process(argv, out, sizeof(out), err, sizeof(err), TIMEOUT_MS), 7);
	}
	ck_assert_msg(strstr(err, "integrity check failed") != NULL, "%s", err);
	ck_assert_int_eq(waitpid(srv, &status, 0), srv);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

/* The files suite: a fresh daemon and shares per test. */
static Suite *files_suite(void)
{
	Suite *s = suite_create("vsock_files");
	TCase *tc = tcase_create("files");

	tcase_set_timeout(tc, 300);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, all_byte_values);
	tcase_add_test(tc, escapes);
	tcase_add_test(tc, limits);
	tcase_add_test(tc, full_disk);
	tcase_add_test(tc, peer_inbox);
	tcase_add_test(tc, rofs_and_owner);
	tcase_add_test(tc, cut_short_and_resume);
	tcase_add_test(tc, rename_race);
	tcase_add_test(tc, concurrent_puts);
	tcase_add_test(tc, fairness);
	tcase_add_test(tc, list_and_stat);
	tcase_add_test(tc, protocol_violations);
	tcase_add_test(tc, cli_put_get);
	tcase_add_test(tc, cli_integrity);
	tcase_add_test(tc, one_gib);
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
