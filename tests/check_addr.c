/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* check_addr.c - udo_vsock_addr_*: parse/format tables, unix listen and
 * connect, and the vsock-mux handshake against a fake VMM (no vsock). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <udo/vsock-addr.h>

#include "test-util.h"

/* One address that must parse, and its canonical text. */
struct good_case {
	const char *text;
	enum udo_vsock_addr_kind kind;
	uint32_t cid, port;
	const char *path;
	const char *canonical;
};

static const struct good_case good[] = {
    {"vsock:3:1024", UDO_VSOCK_ADDR_VSOCK, 3, 1024, "", "vsock:3:1024"},
    {"vsock:any:any", UDO_VSOCK_ADDR_VSOCK, UINT32_MAX, UINT32_MAX, "", "vsock:any:any"},
    {"vsock:local:5", UDO_VSOCK_ADDR_VSOCK, 1, 5, "", "vsock:local:5"},
    {"vsock:host:0", UDO_VSOCK_ADDR_VSOCK, 2, 0, "", "vsock:host:0"},
    {"vsock:hypervisor:7", UDO_VSOCK_ADDR_VSOCK, 0, 7, "", "vsock:hypervisor:7"},
    {"vsock:0:7", UDO_VSOCK_ADDR_VSOCK, 0, 7, "", "vsock:hypervisor:7"},
    {"vsock:1:7", UDO_VSOCK_ADDR_VSOCK, 1, 7, "", "vsock:local:7"},
    {"vsock:2:7", UDO_VSOCK_ADDR_VSOCK, 2, 7, "", "vsock:host:7"},
    {"vsock:4294967295:4294967295", UDO_VSOCK_ADDR_VSOCK, UINT32_MAX, UINT32_MAX, "", "vsock:any:any"},
    {"vsock:4294967294:4294967294", UDO_VSOCK_ADDR_VSOCK, 4294967294u, 4294967294u, "", "vsock:4294967294:4294967294"},
    {"vsock:007:010", UDO_VSOCK_ADDR_VSOCK, 7, 10, "", "vsock:7:10"},
    {"unix:/run/udo.sock", UDO_VSOCK_ADDR_UNIX, 0, 0, "/run/udo.sock", "unix:/run/udo.sock"},
    {"unix:rel/a:b", UDO_VSOCK_ADDR_UNIX, 0, 0, "rel/a:b", "unix:rel/a:b"},
    {"unix:@abstract", UDO_VSOCK_ADDR_UNIX, 0, 0, "@abstract", "unix:@abstract"},
    {"vsock-mux:/run/fc.vsock:52", UDO_VSOCK_ADDR_VSOCK_MUX, 0, 52, "/run/fc.vsock", "vsock-mux:/run/fc.vsock:52"},
    {"vsock-mux:/a:b/c:9", UDO_VSOCK_ADDR_VSOCK_MUX, 0, 9, "/a:b/c", "vsock-mux:/a:b/c:9"},
    {"vsock-mux:@fc:4294967295", UDO_VSOCK_ADDR_VSOCK_MUX, 0, UINT32_MAX, "@fc", "vsock-mux:@fc:4294967295"},
};

/* Every good address parses to the expected fields and formats to its
 * canonical text, which parses back to the same address. */
START_TEST(parse_format_good)
{
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct udo_vsock_addr a, b;
		char err[128] = "", text[UDO_VSOCK_ADDR_STRLEN];
		const struct good_case *c = &good[i];

		ck_assert_msg(udo_vsock_addr_parse(&a, c->text, err, sizeof(err)) == 0, "%s: %s", c->text, err);
		ck_assert_int_eq(a.kind, c->kind);
		if (c->kind == UDO_VSOCK_ADDR_VSOCK)
			ck_assert_uint_eq(a.cid, c->cid);
		ck_assert_uint_eq(a.port, c->port);
		ck_assert_str_eq(a.path, c->path);
		ck_assert_int_eq(udo_vsock_addr_format(&a, text, sizeof(text)), (int)strlen(c->canonical));
		ck_assert_str_eq(text, c->canonical);
		ck_assert_int_eq(udo_vsock_addr_parse(&b, text, err, sizeof(err)), 0);
		ck_assert_mem_eq(&a, &b, sizeof(a));
	}
}
END_TEST

static const char *const bad[] = {
    "",
    "vsock",
    "vsock:",
    "vsock:3",
    "vsock::5",
    "vsock:3:",
    "vsock:+3:5",
    "vsock:-3:5",
    "vsock:3:-5",
    "vsock:3:+5",
    "vsock: 3:5",
    "vsock:3 :5",
    "vsock:3:5 ",
    "vsock:3:5x",
    "vsock:3:5:6",
    "vsock:0x10:5",
    "vsock:4294967296:5",
    "vsock:3:4294967296",
    "vsock:99999999999999999999:5",
    "vsock:ANY:5",
    "vsock:locals:5",
    "vsock:3:anyx",
    "VSOCK:3:5",
    "tcp:1.2.3.4:5",
    "unix:",
    "unix:@",
    "unix:/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "vsock-mux:",
    "vsock-mux:/p",
    "vsock-mux::5",
    "vsock-mux:/p:",
    "vsock-mux:/p:any",
    "vsock-mux:/p:-1",
    "vsock-mux:/p:5 ",
    "vsock-mux:/p:4294967296",
    "vsock-mux:/p:5/x",
};

/* Every bad address fails with EINVAL and a message naming the problem. */
START_TEST(parse_bad)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct udo_vsock_addr a;
		char err[256] = "";

		errno = 0;
		ck_assert_msg(udo_vsock_addr_parse(&a, bad[i], err, sizeof(err)) == -1, "accepted \"%s\"", bad[i]);
		ck_assert_int_eq(errno, EINVAL);
		ck_assert_msg(strlen(err) > 10, "no message for \"%s\"", bad[i]);
	}
	/* A path of 107 bytes fits sun_path with its NUL, 108 does not. */
	char text[200] = "unix:";
	memset(text + 5, 'p', 107);
	ck_assert_int_eq(udo_vsock_addr_parse(&(struct udo_vsock_addr){0}, text, NULL, 0), 0);
	text[5 + 107] = 'p';
	ck_assert_int_eq(udo_vsock_addr_parse(&(struct udo_vsock_addr){0}, text, NULL, 0), -1);
	ck_assert_int_eq(udo_vsock_addr_parse(NULL, "vsock:1:1", NULL, 0), -1);
	ck_assert_int_eq(udo_vsock_addr_parse(&(struct udo_vsock_addr){0}, NULL, NULL, 0), -1);
}
END_TEST

/* format reports a short buffer (ENOSPC) and a bad address (EINVAL). */
START_TEST(format_errors)
{
	struct udo_vsock_addr a = {.kind = UDO_VSOCK_ADDR_VSOCK, .cid = 3, .port = 1024};
	char buf[UDO_VSOCK_ADDR_STRLEN];

	ck_assert_int_eq(udo_vsock_addr_format(&a, buf, 12), -1); /* 12 characters need 13 bytes */
	ck_assert_int_eq(errno, ENOSPC);
	ck_assert_int_eq(udo_vsock_addr_format(&a, buf, 13), 12);
	a.kind = 0;
	ck_assert_int_eq(udo_vsock_addr_format(&a, buf, sizeof(buf)), -1);
	ck_assert_int_eq(errno, EINVAL);
	a.kind = UDO_VSOCK_ADDR_UNIX;
	memset(a.path, 'x', sizeof(a.path));
	ck_assert_int_eq(udo_vsock_addr_format(&a, buf, sizeof(buf)), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(udo_vsock_addr_format(NULL, buf, sizeof(buf)), -1);
}
END_TEST

/* Fills ADDR with a unix path under $TMPDIR named after NAME. */
static void tmp_unix(struct udo_vsock_addr *addr, const char *kind, const char *name, uint32_t port)
{
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char text[256];

	snprintf(text, sizeof(text), "%s:%s/udo-%s-%d%s", kind, dir, name, (int)getpid(), port ? ":" : "");
	if (port)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "%u", port);
	ck_assert_int_eq(udo_vsock_addr_parse(addr, text, NULL, 0), 0);
	unlink(addr->path);
}

/* Connects to ADDR, accepts on LFD and checks that bytes flow both ways. */
static void check_pair(int lfd, const struct udo_vsock_addr *addr)
{
	char err[256] = "", buf[4];
	int cfd = udo_vsock_addr_connect(addr, 1000, 0, err, sizeof(err));
	int afd;

	ck_assert_msg(cfd >= 0, "%s", err);
	afd = accept(lfd, NULL, NULL);
	ck_assert_int_ge(afd, 0);
	ck_assert_int_eq(write(cfd, "ping", 4), 4);
	ck_assert_int_eq(read(afd, buf, 4), 4);
	ck_assert_mem_eq(buf, "ping", 4);
	ck_assert_int_ne(fcntl(cfd, F_GETFD) & FD_CLOEXEC, 0);
	ck_assert_int_eq(fcntl(cfd, F_GETFL) & O_NONBLOCK, 0);
	close(afd);
	close(cfd);
}

/* A unix path and an abstract name listen (CLOEXEC, optional NONBLOCK)
 * and accept connections. */
START_TEST(unix_listen_connect)
{
	struct udo_vsock_addr addr;
	char err[256] = "";
	int lfd;

	tmp_unix(&addr, "unix", "listen", 0);
	lfd = udo_vsock_addr_listen(&addr, 4, 0, err, sizeof(err));
	ck_assert_msg(lfd >= 0, "%s", err);
	ck_assert_int_ne(fcntl(lfd, F_GETFD) & FD_CLOEXEC, 0);
	ck_assert_int_eq(fcntl(lfd, F_GETFL) & O_NONBLOCK, 0);
	check_pair(lfd, &addr);
	/* Not unlinked first: a second listen on the path fails. */
	ck_assert_int_eq(udo_vsock_addr_listen(&addr, 4, 0, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, EADDRINUSE);
	ck_assert_ptr_nonnull(strstr(err, addr.path));
	close(lfd);
	unlink(addr.path);

	char text[64];
	snprintf(text, sizeof(text), "unix:@udo-test-%d", (int)getpid());
	ck_assert_int_eq(udo_vsock_addr_parse(&addr, text, NULL, 0), 0);
	lfd = udo_vsock_addr_listen(&addr, 0, UDO_VSOCK_ADDR_NONBLOCK, err, sizeof(err));
	ck_assert_msg(lfd >= 0, "%s", err);
	ck_assert_int_ne(fcntl(lfd, F_GETFL) & O_NONBLOCK, 0);
	ck_assert_int_eq(accept(lfd, NULL, NULL), -1);
	ck_assert_int_eq(errno, EAGAIN);
	check_pair(lfd, &addr);
	close(lfd);
}
END_TEST

#ifdef __NR_listen
/* Makes listen(2) fail with EPERM in this process from now on, as a
 * seccomp filter (systemd's SystemCallFilter=) does. Returns 0 or -1. */
static int deny_listen(void)
{
	struct sock_filter f[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_listen, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

/* A unix listen whose listen(2) fails leaves no socket file behind:
 * bind() made it, nobody listens on it, and it would block the next
 * bind to that path with EADDRINUSE. */
START_TEST(unix_listen_failure_unlinks)
{
	struct udo_vsock_addr addr;
	int status;

	tmp_unix(&addr, "unix", "nolisten", 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char err[256] = "";
		if (deny_listen() < 0)
			_exit(77);
		int fd = udo_vsock_addr_listen(&addr, 4, 0, err, sizeof(err));
		_exit(fd == -1 && errno == EPERM && strstr(err, "listen(") != NULL ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != 77, "cannot install a seccomp filter");
	ck_assert_msg(WEXITSTATUS(status) == 0, "listen(2) denied: want -1, EPERM and a message");
	ck_assert_msg(access(addr.path, F_OK) < 0 && errno == ENOENT, "%s left behind after the failed listen",
	              addr.path);
}
END_TEST
#endif

/* Connecting where nothing listens fails with errno and a message; the
 * NONBLOCK flag gives a non-blocking connected fd; mux cannot listen. */
START_TEST(unix_connect_errors)
{
	struct udo_vsock_addr addr;
	char err[256] = "";
	int lfd, cfd;

	tmp_unix(&addr, "unix", "none", 0);
	ck_assert_int_eq(udo_vsock_addr_connect(&addr, 0, 0, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "connect"));

	lfd = udo_vsock_addr_listen(&addr, 1, 0, err, sizeof(err));
	ck_assert_int_ge(lfd, 0);
	cfd = udo_vsock_addr_connect(&addr, 0, UDO_VSOCK_ADDR_NONBLOCK, err, sizeof(err));
	ck_assert_int_ge(cfd, 0);
	ck_assert_int_ne(fcntl(cfd, F_GETFL) & O_NONBLOCK, 0);
	close(cfd);
	close(lfd);
	unlink(addr.path);

	tmp_unix(&addr, "vsock-mux", "mux", 5);
	ck_assert_int_eq(udo_vsock_addr_listen(&addr, 1, 0, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(udo_vsock_addr_connect(NULL, 0, 0, err, sizeof(err)), -1);
	ck_assert_int_eq(udo_vsock_addr_listen(NULL, 0, 0, err, sizeof(err)), -1);
	ck_assert_int_eq(udo_vsock_addr_listen(&(struct udo_vsock_addr){.kind = UDO_VSOCK_ADDR_UNIX}, 0, 0, NULL, 0),
	                 -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

/* Every good address becomes the socket address the kernel uses (its
 * length included) and comes back from it unchanged; a vsock-mux
 * address gives the VMM's unix socket. */
START_TEST(sockaddr_round_trip)
{
	char longpath[UDO_VSOCK_ADDR_PATH_MAX], longname[UDO_VSOCK_ADDR_PATH_MAX];

	memset(longpath, 'p', sizeof(longpath));
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0'; /* 107 bytes: the most sun_path takes with its NUL */
	memset(longname, 'n', sizeof(longname));
	longname[0] = '@';
	longname[sizeof(longname) - 1] = '\0'; /* '@' and 106 bytes */
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]) + 2; i++) {
		struct udo_vsock_addr a, b;
		struct sockaddr_storage ss;
		socklen_t len = 0;
		char text[UDO_VSOCK_ADDR_STRLEN];

		if (i < sizeof(good) / sizeof(good[0]))
			snprintf(text, sizeof(text), "%s", good[i].text);
		else
			snprintf(text, sizeof(text), "unix:%s",
			         i == sizeof(good) / sizeof(good[0]) ? longpath : longname);
		ck_assert_int_eq(udo_vsock_addr_parse(&a, text, NULL, 0), 0);
		ck_assert_msg(udo_vsock_addr_to_sockaddr(&a, &ss, &len) == 0, "%s", text);
		if (a.kind == UDO_VSOCK_ADDR_VSOCK) {
			const struct sockaddr_vm *svm = (const struct sockaddr_vm *)&ss;
			ck_assert_int_eq(ss.ss_family, AF_VSOCK);
			ck_assert_uint_eq(len, sizeof(struct sockaddr_vm));
			ck_assert_uint_eq(svm->svm_cid, a.cid);
			ck_assert_uint_eq(svm->svm_port, a.port);
		} else {
			const struct sockaddr_un *sun = (const struct sockaddr_un *)&ss;
			size_t n = strlen(a.path);
			ck_assert_int_eq(ss.ss_family, AF_UNIX);
			if (a.path[0] == '@') {
				ck_assert_uint_eq(len, offsetof(struct sockaddr_un, sun_path) + n);
				ck_assert_int_eq(sun->sun_path[0], '\0');
				ck_assert_mem_eq(sun->sun_path + 1, a.path + 1, n - 1);
			} else {
				ck_assert_uint_eq(len, offsetof(struct sockaddr_un, sun_path) + n + 1);
				ck_assert_str_eq(sun->sun_path, a.path);
			}
		}
		ck_assert_int_eq(udo_vsock_addr_from_sockaddr(&b, (struct sockaddr *)&ss, len), 0);
		if (a.kind == UDO_VSOCK_ADDR_VSOCK_MUX) {
			a.kind = UDO_VSOCK_ADDR_UNIX; /* the VMM's socket; the guest port is no part of it */
			a.port = 0;
		}
		ck_assert_msg(memcmp(&a, &b, sizeof(a)) == 0, "%s did not come back", text);
	}
}
END_TEST

/* The kernel agrees: a socket bound to the converted address reports,
 * through getsockname(2), the same address back. */
START_TEST(sockaddr_kernel)
{
	struct udo_vsock_addr addr, back;
	struct sockaddr_storage ss, got;
	socklen_t len, gotlen = sizeof(got);
	char text[64];
	int fd;

	for (int abstract = 0; abstract < 2; abstract++) {
		if (abstract) {
			snprintf(text, sizeof(text), "unix:@udo-sa-%d", (int)getpid());
			ck_assert_int_eq(udo_vsock_addr_parse(&addr, text, NULL, 0), 0);
		} else {
			tmp_unix(&addr, "unix", "sa", 0);
		}
		ck_assert_int_eq(udo_vsock_addr_to_sockaddr(&addr, &ss, &len), 0);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(bind(fd, (struct sockaddr *)&ss, len), 0);
		gotlen = sizeof(got);
		ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&got, &gotlen), 0);
		ck_assert_uint_eq(gotlen, len);
		ck_assert_int_eq(udo_vsock_addr_from_sockaddr(&back, (struct sockaddr *)&got, gotlen), 0);
		ck_assert_str_eq(back.path, addr.path);
		ck_assert_int_eq(back.kind, UDO_VSOCK_ADDR_UNIX);
		close(fd);
		if (!abstract)
			unlink(addr.path);
	}
}
END_TEST

/* What no udo address or socket address can hold fails with errno. */
START_TEST(sockaddr_errors)
{
	struct udo_vsock_addr a = {.kind = UDO_VSOCK_ADDR_UNIX};
	struct sockaddr_storage ss;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len;

	ck_assert_int_eq(udo_vsock_addr_to_sockaddr(&a, &ss, &len), -1); /* empty path */
	ck_assert_int_eq(errno, EINVAL);
	snprintf(a.path, sizeof(a.path), "@");
	ck_assert_int_eq(udo_vsock_addr_to_sockaddr(&a, &ss, &len), -1);
	ck_assert_int_eq(errno, EINVAL);
	memset(a.path, 'x', sizeof(a.path)); /* no NUL */
	ck_assert_int_eq(udo_vsock_addr_to_sockaddr(&a, &ss, &len), -1);
	a.kind = 0;
	ck_assert_int_eq(udo_vsock_addr_to_sockaddr(&a, &ss, &len), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(udo_vsock_addr_to_sockaddr(NULL, &ss, &len), -1);
	a.kind = UDO_VSOCK_ADDR_VSOCK;
	ck_assert_int_eq(udo_vsock_addr_to_sockaddr(&a, NULL, &len), -1);
	ck_assert_int_eq(udo_vsock_addr_to_sockaddr(&a, &ss, NULL), -1);
	ck_assert_int_eq(errno, EINVAL);

	ck_assert_int_eq(udo_vsock_addr_from_sockaddr(&a, (struct sockaddr *)&sin, sizeof(sin)), -1);
	ck_assert_int_eq(errno, EAFNOSUPPORT);
	/* An unnamed unix socket: no path at all. */
	ck_assert_int_eq(udo_vsock_addr_from_sockaddr(&a, (struct sockaddr *)&sun, sizeof(sa_family_t)), -1);
	ck_assert_int_eq(errno, EINVAL);
	/* An abstract name with a NUL inside, and one too long for '@'. */
	memcpy(sun.sun_path, "\0ab\0c", 5);
	ck_assert_int_eq(
	    udo_vsock_addr_from_sockaddr(&a, (struct sockaddr *)&sun, offsetof(struct sockaddr_un, sun_path) + 5), -1);
	ck_assert_int_eq(errno, EINVAL);
	memset(sun.sun_path + 1, 'n', sizeof(sun.sun_path) - 1);
	ck_assert_int_eq(udo_vsock_addr_from_sockaddr(&a, (struct sockaddr *)&sun, sizeof(sun)), -1);
	ck_assert_int_eq(errno, EINVAL);
	/* A vsock address cut short. */
	ck_assert_int_eq(udo_vsock_addr_parse(&a, "vsock:3:4", NULL, 0), 0);
	ck_assert_int_eq(udo_vsock_addr_to_sockaddr(&a, &ss, &len), 0);
	ck_assert_int_eq(udo_vsock_addr_from_sockaddr(&a, (struct sockaddr *)&ss, len - 1), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(udo_vsock_addr_from_sockaddr(NULL, (struct sockaddr *)&ss, len), -1);
	ck_assert_int_eq(udo_vsock_addr_from_sockaddr(&a, NULL, len), -1);
}
END_TEST

/* NOWAIT connects a non-blocking, close-on-exec socket at once, and a
 * listener whose backlog is full is EAGAIN at once, not a wait; only
 * unix addresses take the flag. */
START_TEST(unix_connect_nowait)
{
	struct udo_vsock_addr addr;
	char err[256] = "";
	int lfd, fds[16], n = 0;

	tmp_unix(&addr, "unix", "nowait", 0);
	ck_assert_int_eq(udo_vsock_addr_connect(&addr, 0, UDO_VSOCK_ADDR_NOWAIT, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, ENOENT);
	lfd = udo_vsock_addr_listen(&addr, 1, 0, err, sizeof(err));
	ck_assert_msg(lfd >= 0, "%s", err);
	for (;;) {
		ck_assert_int_lt(n, 16);
		fds[n] = udo_vsock_addr_connect(&addr, 0, UDO_VSOCK_ADDR_NOWAIT, err, sizeof(err));
		if (fds[n] < 0)
			break;
		ck_assert_int_ne(fcntl(fds[n], F_GETFL) & O_NONBLOCK, 0);
		ck_assert_int_ne(fcntl(fds[n], F_GETFD) & FD_CLOEXEC, 0);
		n++;
	}
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_ptr_nonnull(strstr(err, addr.path));
	ck_assert_int_ge(n, 1);
	/* Once the listener accepts one, there is room again. */
	int afd = accept(lfd, NULL, NULL);
	ck_assert_int_ge(afd, 0);
	fds[n] = udo_vsock_addr_connect(&addr, 0, UDO_VSOCK_ADDR_NOWAIT, err, sizeof(err));
	ck_assert_msg(fds[n] >= 0, "%s", err);
	n++;
	while (n > 0)
		close(fds[--n]);
	close(afd);
	close(lfd);
	unlink(addr.path);

	ck_assert_int_eq(udo_vsock_addr_parse(&addr, "vsock:1:1234", NULL, 0), 0);
	ck_assert_int_eq(udo_vsock_addr_connect(&addr, 0, UDO_VSOCK_ADDR_NOWAIT, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, EINVAL);
	tmp_unix(&addr, "vsock-mux", "nowait", 5);
	ck_assert_int_eq(udo_vsock_addr_connect(&addr, 0, UDO_VSOCK_ADDR_NOWAIT, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

/* What the fake VMM does after reading the CONNECT line. */
struct vmm {
	int lfd;            /* listening socket of the VMM */
	const char *expect; /* the request line it must see */
	const char *reply;  /* written back in one go; NULL: close at once */
	bool hang;          /* never answer; wait for the client to go */
	bool close_after;   /* close right after the reply */
};

/* The fake hybrid-vsock VMM: accepts one client, checks the request line
 * byte by byte, answers, then waits for the client to close. */
static void vmm_run(void *arg)
{
	const struct vmm *v = arg;
	char line[64], c;
	size_t len = 0;
	int fd = accept(v->lfd, NULL, NULL);

	CHILD_REQUIRE(fd >= 0);
	do {
		CHILD_REQUIRE(read(fd, &c, 1) == 1 && len < sizeof(line) - 1);
		line[len++] = c;
	} while (c != '\n');
	line[len] = '\0';
	CHILD_REQUIRE(strcmp(line, v->expect) == 0);
	if (!v->reply && !v->hang)
		_exit(0);
	if (v->reply)
		CHILD_REQUIRE(write(fd, v->reply, strlen(v->reply)) == (ssize_t)strlen(v->reply));
	if (v->close_after)
		_exit(0);
	while (read(fd, &c, 1) > 0)
		;
}

/* Runs one handshake against a VMM answering REPLY; returns the connect
 * result with errno and ERR as the library left them. */
static int mux_try(struct vmm *v, unsigned int flags, unsigned int timeout_ms, char *err, size_t errlen)
{
	struct udo_vsock_addr addr;
	pid_t pid;
	int fd, saved;

	tmp_unix(&addr, "vsock-mux", "mux", 1234);
	struct udo_vsock_addr ux = {.kind = UDO_VSOCK_ADDR_UNIX};
	memcpy(ux.path, addr.path, sizeof(ux.path));
	v->lfd = udo_vsock_addr_listen(&ux, 1, 0, err, errlen);
	ck_assert_msg(v->lfd >= 0, "%s", err);
	v->expect = "CONNECT 1234\n";
	pid = child_start(vmm_run, v);
	fd = udo_vsock_addr_connect(&addr, timeout_ms, flags, err, errlen);
	saved = errno;
	if (fd >= 0) {
		char buf[8] = "";
		/* The bytes after the OK line are the application's. */
		ck_assert_int_eq(read(fd, buf, 5), 5);
		ck_assert_str_eq(buf, "HELLO");
		close(fd);
	}
	child_wait(pid);
	close(v->lfd);
	unlink(addr.path);
	errno = saved;
	return fd;
}

/* A VMM answering "OK <port>" connects; the application data sent right
 * behind the OK line is left unread for the caller. */
START_TEST(mux_ok)
{
	char err[256] = "";

	ck_assert_msg(mux_try(&(struct vmm){.reply = "OK 1073741824\nHELLO"}, 0, 2000, err, sizeof(err)) >= 0, "%s",
	              err);
	ck_assert_msg(mux_try(&(struct vmm){.reply = "HELLO"}, UDO_VSOCK_ADDR_MUX_NO_OK, 0, err, sizeof(err)) >= 0,
	              "%s", err);
}
END_TEST

/* A VMM closing instead of answering means nothing listens: ECONNREFUSED. */
START_TEST(mux_refused)
{
	char err[256] = "";

	ck_assert_int_eq(mux_try(&(struct vmm){0}, 0, 2000, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, ECONNREFUSED);
	ck_assert_ptr_nonnull(strstr(err, "nothing listens on guest port 1234"));
}
END_TEST

/* Malformed, overlong or cut-off replies are protocol errors. */
START_TEST(mux_bad_reply)
{
	static const char *const replies[] = {
	    "NOPE\n",
	    "OK\n",
	    "OK \n",
	    "OK 12x\n",
	    "ok 5\n",
	    "OK 5",
	    "OK 11111111111\n",
	    "OK 1111111111111111111111111111111111111111111111111111111111111111111111111\n",
	};
	char err[256];

	for (size_t i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
		err[0] = '\0';
		ck_assert_int_eq(
		    mux_try(&(struct vmm){.reply = replies[i], .close_after = true}, 0, 2000, err, sizeof(err)), -1);
		ck_assert_msg(errno == EPROTO, "reply %zu: errno %d (%s)", i, errno, err);
		ck_assert_ptr_nonnull(strstr(err, "vsock-mux"));
	}
}
END_TEST

/* A VMM that never answers runs into the timeout: ETIMEDOUT, on time. */
START_TEST(mux_timeout)
{
	struct timespec t0, t1;
	char err[256] = "";
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(mux_try(&(struct vmm){.hang = true}, 0, 300, err, sizeof(err)), -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_int_eq(errno, ETIMEDOUT);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	ck_assert_int_ge(ms, 250);
	ck_assert_int_lt(ms, 3000);
}
END_TEST

/* The addr test suite. */
static Suite *addr_suite(void)
{
	Suite *s = suite_create("vsock-addr");
	TCase *tc = tcase_create("addr");

	tcase_add_test(tc, parse_format_good);
	tcase_add_test(tc, parse_bad);
	tcase_add_test(tc, format_errors);
	tcase_add_test(tc, unix_listen_connect);
#ifdef __NR_listen
	tcase_add_test(tc, unix_listen_failure_unlinks);
#endif
	tcase_add_test(tc, unix_connect_errors);
	tcase_add_test(tc, sockaddr_round_trip);
	tcase_add_test(tc, sockaddr_kernel);
	tcase_add_test(tc, sockaddr_errors);
	tcase_add_test(tc, unix_connect_nowait);
	tcase_add_test(tc, mux_ok);
	tcase_add_test(tc, mux_refused);
	tcase_add_test(tc, mux_bad_reply);
	tcase_add_test(tc, mux_timeout);
	suite_add_tcase(s, tc);
	return s;
}

/* Runs the suite; exit status 0 when every test passed. */
int main(void)
{
	SRunner *sr = srunner_create(addr_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
