/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsock_cli - udo-vsock(1) end to end: the built CLI against a scripted
 * protocol server over real AF_VSOCK (CID 1), over AF_UNIX, through the
 * hybrid-vsock test double tests/fake-vmm, and against the real udo-vsockd
 * (tests/daemon-harness) where the daemon's own behaviour matters: its
 * unasked ERR lines, exec output, proxy and hand-off. Every child is
 * reaped and every test checks that no child or descriptor is left behind. */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <udo/vsock-addr.h>

#include "daemon-harness.h"

#define CLI_BIN      TEST_BUILDDIR "/src/udo-vsock/udo-vsock"
#define VMM_BIN      TEST_BUILDDIR "/tests/fake-vmm"
#define RUN_LIMIT_MS 60000

/* ---------------------------------------------------------------- helpers */

/* Number of open descriptors of this process. */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	ck_assert_ptr_nonnull(d);
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static int fds_at_start;

/* Per-test start: remembers the descriptor count. */
static void hygiene_setup(void)
{
	fds_at_start = count_fds();
}

/* Per-test end: no child left unreaped, no descriptor leaked. */
static void hygiene_check(void)
{
	errno = 0;
	ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
	ck_assert_int_eq(errno, ECHILD);
	ck_assert_int_eq(count_fds(), fds_at_start);
}

/* Sends all LEN bytes. Returns 0 or -1. */
static int send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Sends the string S. Returns 0 or -1. */
static int send_str(int fd, const char *s)
{
	return send_all(fd, s, strlen(s));
}

/* Waits for PID up to RUN_LIMIT_MS, killing it when late. Returns the
 * wait status; fails the test if the process had to be killed. */
static int wait_child(pid_t pid)
{
	int status;
	long long deadline = now_ms() + RUN_LIMIT_MS;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		ck_assert_int_eq(r, 0);
		if (now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			ck_abort_msg("child %d did not finish within %d ms", (int)pid, RUN_LIMIT_MS);
		}
		usleep(2000); /* poll interval */
	}
}

/* A private directory for unix sockets ($TMPDIR is a tmpfs inside UML). */
static char tmpdir[128];

/* Creates tmpdir. */
static void tmpdir_setup(void)
{
	const char *base = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/udo-cli.XXXXXX", base && base[0] ? base : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

/* Removes tmpdir and what the tests left in it. */
static void tmpdir_teardown(void)
{
	DIR *d = opendir(tmpdir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] != '.')
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
	rmdir(tmpdir);
}

/* ---------------------------------------------------------- test server */

#define SRV_DROP_FIRST       0x1 /* close the first connection after its first request, unanswered */
#define SRV_EXPECT_PIPELINED 0x2 /* exit 4 unless some read brought more than one request */
#define SRV_LISTEN_ON_CUE    0x4 /* listen only after server_cue() (vsock): connects are refused until then */

/* A guest's hostile payload: OSC title, clear screen, CR, an encoded C1
 * CSI, DEL, then harmless UTF-8 and a tab; and how a terminal shows it. */
#define ESC_PAYLOAD "\x1b]0;pwned\a\x1b[2Jwiped\rX\xc2\x9b\x7f \xc3\xbcn\xc3\xaf\tok"
#define ESC_SHOWN   "^[]0;pwned^G^[[2Jwiped^MXM-BM-^[^? \xc3\xbcn\xc3\xaf\tok"

/* The most complete requests one read of the scripted server has found buffered. */
static size_t srv_max_buffered;

/* The scripted answers, by command (case-insensitive):
 *   PING [T]  OK pong [T]          RAW      D <request line>, OK
 *   DATA      four data lines, OK done   OKTEXT   OK some text here
 *   FAIL      D partial, ERR denied not allowed here
 *   CUT       D x, then close     CUTLINE  "D par", then close
 *   HANG      nothing             GARBAGE  HELLO
 *   BIG       2000 data lines     QUIT     OK bye, then close
 *   ESC       a data line full of terminal escapes, OK
 *   ESCERR    ERR failed with an escape in the message
 *   anything else: ERR unknown-command no such command
 * Returns 1 when the connection must be closed now, else 0. */
static int srv_answer(int fd, const char *line, size_t len)
{
	char cmd[16] = "";
	size_t i = 0;
	while (i < len && i < sizeof(cmd) - 1 && line[i] != ' ' && line[i] != '\t') {
		cmd[i] = line[i];
		i++;
	}
	const char *arg = line + i;
	while (*arg == ' ' || *arg == '\t')
		arg++;

	char buf[4096];
	if (strcasecmp(cmd, "PING") == 0) {
		size_t alen = len - (size_t)(arg - line);
		return send_str(fd, alen ? "OK pong " : "OK pong") < 0 || send_all(fd, arg, alen) < 0 ||
		       send_str(fd, "\n") < 0;
	}
	if (strcasecmp(cmd, "RAW") == 0) {
		return send_str(fd, "D ") < 0 || send_all(fd, line, len) < 0 || send_str(fd, "\nOK\n") < 0;
	}
	if (strcasecmp(cmd, "DATA") == 0)
		return send_str(fd, "D alpha\nD \nD\nD  two  spaces\t\nOK done\n") < 0;
	if (strcasecmp(cmd, "OKTEXT") == 0)
		return send_str(fd, "OK some text here\n") < 0;
	if (strcasecmp(cmd, "FAIL") == 0)
		return send_str(fd, "D partial\nERR denied not allowed here\n") < 0;
	if (strcasecmp(cmd, "CUT") == 0) {
		send_str(fd, "D x\n");
		return 1;
	}
	if (strcasecmp(cmd, "CUTLINE") == 0) {
		send_str(fd, "D par");
		return 1;
	}
	if (strcasecmp(cmd, "HANG") == 0)
		return 0;
	if (strcasecmp(cmd, "GARBAGE") == 0)
		return send_str(fd, "HELLO\n") < 0;
	if (strcasecmp(cmd, "BIG") == 0) {
		for (int k = 0; k < 2000; k++) {
			snprintf(buf, sizeof(buf), "D line %d of a rather long reply to fill buffers\n", k);
			if (send_str(fd, buf) < 0)
				return 1;
		}
		return send_str(fd, "OK\n") < 0;
	}
	if (strcasecmp(cmd, "ESC") == 0)
		return send_str(fd, "D " ESC_PAYLOAD "\nOK\n") < 0;
	if (strcasecmp(cmd, "ESCERR") == 0)
		return send_str(fd, "ERR failed \x1b[31mred\n") < 0;
	if (strcasecmp(cmd, "QUIT") == 0) {
		send_str(fd, "OK bye\n");
		return 1;
	}
	return send_str(fd, "ERR unknown-command no such command\n") < 0;
}

/* Serves one connection: answers each line until EOF or a closing answer. */
static void srv_connection(int fd, bool drop)
{
	static char buf[1 << 20];
	size_t len = 0;
	for (;;) {
		char *nl;
		while (!(nl = memchr(buf, '\n', len))) {
			if (len == sizeof(buf))
				return;
			ssize_t n = recv(fd, buf + len, sizeof(buf) - len, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return;
			len += (size_t)n;
			size_t lines = 0;
			for (const char *q = buf; (q = memchr(q, '\n', (size_t)(buf + len - q))) != NULL; q++)
				lines++;
			if (lines > srv_max_buffered)
				srv_max_buffered = lines;
		}
		size_t ll = (size_t)(nl - buf);
		if (ll > 0 && buf[ll - 1] == '\r')
			ll--;
		bool blank = true;
		for (size_t i = 0; i < ll; i++)
			blank = blank && (buf[i] == ' ' || buf[i] == '\t');
		if (drop && !blank)
			return;
		int stop = blank ? 0 : srv_answer(fd, buf, ll);
		len -= (size_t)(nl + 1 - buf);
		memmove(buf, nl + 1, len);
		if (stop)
			return;
	}
}

struct server {
	pid_t pid;
	int cue;           /* SRV_LISTEN_ON_CUE: write end of the child's cue pipe, else -1 */
	unsigned int port; /* vsock servers */
	char addr[160];    /* what the CLI connects to */
};

/* Listens on TEXT (an address); returns the fd, the port in *PORT. */
static int srv_listen(const char *text, unsigned int *port)
{
	struct udo_vsock_addr a;
	char err[256];
	ck_assert_msg(udo_vsock_addr_parse(&a, text, err, sizeof(err)) == 0, "%s", err);
	int fd = udo_vsock_addr_listen(&a, 64, 0, err, sizeof(err));
	ck_assert_msg(fd >= 0, "listen %s: %s", text, err);
	if (a.kind == UDO_VSOCK_ADDR_VSOCK) {
		struct sockaddr_vm svm;
		socklen_t sl = sizeof(svm);
		ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&svm, &sl), 0);
		*port = svm.svm_port;
	}
	return fd;
}

/*
 * Starts the scripted server in a child. LISTEN is "vsock" (CID 1, any
 * port) or a unix path. It serves NCONN connections one after another,
 * then exits 0. DELAY_MS > 0: the port is chosen now but only listened on
 * after DELAY_MS, so early connects are refused.
 */
static void server_start(struct server *s, const char *listen_on, int nconn, int flags)
{
	int fd, cue[2] = {-1, -1};
	*s = (struct server){.cue = -1};
	if (strcmp(listen_on, "vsock") == 0) {
		fd = srv_listen("vsock:local:any", &s->port);
		snprintf(s->addr, sizeof(s->addr), "vsock:1:%u", s->port);
	} else {
		char text[160];
		snprintf(text, sizeof(text), "unix:%s", listen_on);
		fd = srv_listen(text, &s->port);
		snprintf(s->addr, sizeof(s->addr), "%s", text);
	}
	if (flags & SRV_LISTEN_ON_CUE) {
		ck_assert_int_eq(strncmp(s->addr, "vsock:", 6), 0);
		close(fd); /* until the child listens again, connects are refused */
		fd = -1;
		ck_assert_int_eq(pipe2(cue, O_CLOEXEC), 0);
	}
	s->pid = fork();
	ck_assert_int_ge(s->pid, 0);
	if (s->pid == 0) {
		if (fd < 0) {
			char text[64], byte;
			unsigned int port;
			close(cue[1]);
			if (read(cue[0], &byte, 1) != 1)
				_exit(5);
			snprintf(text, sizeof(text), "vsock:local:%u", s->port);
			fd = srv_listen(text, &port);
		}
		for (int i = 0; i < nconn; i++) {
			int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
			if (c < 0)
				_exit(3);
			srv_connection(c, i == 0 && (flags & SRV_DROP_FIRST));
			close(c);
		}
		/* Lock-step would bring one request per read, never more. */
		_exit((flags & SRV_EXPECT_PIPELINED) && srv_max_buffered < 2 ? 4 : 0);
	}
	if (fd >= 0)
		close(fd);
	if (cue[0] >= 0) {
		close(cue[0]);
		s->cue = cue[1];
	}
}

/* Lets a SRV_LISTEN_ON_CUE server listen now. */
static void server_cue(struct server *s)
{
	ck_assert_int_eq(write(s->cue, "", 1), 1);
	close(s->cue);
	s->cue = -1;
}

/* Waits for the server to finish by itself (it served all NCONN). */
static void server_join(struct server *s)
{
	if (s->cue >= 0) {
		close(s->cue); /* never cued: the child exits 5 */
		s->cue = -1;
	}
	int status = wait_child(s->pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "server status %#x", status);
}

/* ------------------------------------------------------------ CLI runner */

struct run {
	int status;  /* exit status, or 128 + signal */
	int wstatus; /* as waitpid() gave it: exited or killed */
	char *out;
	size_t out_len;
	char *err;
	long long ms;
};

/* Reads all of FD (from offset 0) into a NUL-terminated buffer. */
static char *slurp(int fd, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	for (;;) {
		if (cap - n < 4096) {
			cap *= 2;
			buf = realloc(buf, cap);
			ck_assert_ptr_nonnull(buf);
		}
		ssize_t r = read(fd, buf + n, cap - n - 1);
		ck_assert_int_ge(r, 0);
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

/* An anonymous file holding LEN bytes of DATA, at offset 0. */
static int memfd_with(const char *data, size_t len)
{
	int fd = memfd_create("udo-cli", MFD_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		ck_assert_int_gt(n, 0);
		data += n;
		len -= (size_t)n;
	}
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

/* A CLI process started by cli_spawn() and not yet reaped. */
struct cli_child {
	pid_t pid, writer; /* writer: the child feeding stdin through a pipe, or -1 */
	int out, err;      /* memfds capturing stdout and stderr */
	long long start;
};

/* Starts the CLI with ARGV (NULL-terminated, without argv[0]) and the
 * descriptor IN (closed here) as its standard input; WRITER is recorded. */
static void cli_spawn_fd(struct cli_child *k, int in, pid_t writer, const char *const *args)
{
	const char *argv[64] = {"udo-vsock"};
	int n = 1;
	while (args[n - 1]) {
		ck_assert_int_lt(n, 63);
		argv[n] = args[n - 1];
		n++;
	}
	argv[n] = NULL;

	int out = memfd_with("", 0), err = memfd_with("", 0);
	long long start = now_ms();
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
			_exit(126);
		execv(CLI_BIN, (char *const *)argv);
		_exit(127);
	}
	close(in);
	*k = (struct cli_child){.pid = pid, .writer = writer, .out = out, .err = err, .start = start};
}

/* Starts the CLI with ARGV on a pipe the test writes to itself (its
 * requests arrive when the test says); returns the pipe's write end. */
static int cli_spawn_held(struct cli_child *k, const char *const *args)
{
	int p[2];
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	cli_spawn_fd(k, p[0], -1, args);
	return p[1];
}

/* Starts the CLI with ARGV (NULL-terminated, without argv[0]); INPUT (may
 * be NULL: /dev/null) is its standard input, through a pipe fed by a
 * writer child when VIA_PIPE. */
static void cli_spawn(struct cli_child *k, const char *input, size_t input_len, bool via_pipe, const char *const *args)
{
	int in;
	pid_t writer = -1;
	if (via_pipe) {
		int p[2];
		ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
		writer = fork();
		ck_assert_int_ge(writer, 0);
		if (writer == 0) {
			close(p[0]);
			signal(SIGPIPE, SIG_IGN);
			while (input_len > 0) {
				ssize_t w = write(p[1], input, input_len);
				if (w <= 0)
					_exit(0);
				input += w;
				input_len -= (size_t)w;
			}
			_exit(0);
		}
		close(p[1]);
		in = p[0];
	} else if (input) {
		in = memfd_with(input, input_len);
	} else {
		in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	ck_assert_int_ge(in, 0);
	cli_spawn_fd(k, in, writer, args);
}

/* Waits for the CLI of K to exit; captures stdout, stderr and the status. */
static void cli_finish(struct cli_child *k, struct run *r)
{
	int status = wait_child(k->pid);
	r->ms = now_ms() - k->start;
	if (k->writer > 0)
		wait_child(k->writer);
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	r->wstatus = status;
	r->out = slurp(k->out, &r->out_len);
	r->err = slurp(k->err, NULL);
	close(k->out);
	close(k->err);
}

/* Waits until the running CLI of K has written TEXT to FD (its stdout or
 * stderr capture); fails the test if the CLI exits first or RUN_LIMIT_MS
 * pass, showing what it wrote. */
static void cli_await(struct cli_child *k, int fd, const char *text)
{
	long long deadline = now_ms() + RUN_LIMIT_MS;
	char buf[4096];
	for (;;) {
		/* pread: the CLI shares the file offset, which must stay at the end. */
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
		ck_assert_int_ge(n, 0);
		buf[n] = '\0';
		if (strstr(buf, text))
			return;
		if (waitpid(k->pid, NULL, WNOHANG) != 0) {
			char err[4096];
			n = pread(k->err, err, sizeof(err) - 1, 0);
			err[n > 0 ? n : 0] = '\0';
			ck_abort_msg("the CLI ended without writing '%s'; it wrote '%s', stderr '%s'", text, buf, err);
		}
		ck_assert_msg(now_ms() < deadline, "the CLI did not write '%s' within %d ms", text, RUN_LIMIT_MS);
		usleep(5000); /* poll interval */
	}
}

/* Waits until the running CLI of K has written TEXT to stderr. */
static void cli_await_stderr(struct cli_child *k, const char *text)
{
	cli_await(k, k->err, text);
}

/* Runs the CLI to its end (see cli_spawn) and captures what it did. */
static void run_cli_v(struct run *r, const char *input, size_t input_len, bool via_pipe, const char *const *args)
{
	struct cli_child k;
	cli_spawn(&k, input, input_len, via_pipe, args);
	cli_finish(&k, r);
}

/* run_cli_v with the arguments inline. */
#define run_cli(r, ...)                                                                                                \
	do {                                                                                                           \
		const char *const args_[] = {__VA_ARGS__, NULL};                                                       \
		run_cli_v((r), NULL, 0, false, args_);                                                                 \
	} while (0)

/* Frees the captured output. */
static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
	*r = (struct run){0};
}

/* Checks status, exact stdout and (if not NULL) a piece of stderr. */
static void expect(const struct run *r, int status, const char *out, const char *err_part)
{
	ck_assert_msg(r->status == status, "exit %d, expected %d; stdout: %s; stderr: %s", r->status, status, r->out,
	              r->err);
	if (out)
		ck_assert_str_eq(r->out, out);
	if (err_part && !err_part[0])
		ck_assert_str_eq(r->err, "");
	else if (err_part)
		ck_assert_msg(strstr(r->err, err_part), "stderr '%s' lacks '%s'", r->err, err_part);
}

/* ------------------------------------------------------------- the tests */

/* Exit 0: OK text printed when there are no data lines. */
START_TEST(test_ok)
{
	struct server s;
	struct run r;
	server_start(&s, "vsock", 4, 0);
	run_cli(&r, s.addr, "ping");
	expect(&r, 0, "pong\n", "");
	run_free(&r);
	run_cli(&r, s.addr, "PING", "tok");
	expect(&r, 0, "pong tok\n", "");
	run_free(&r);
	run_cli(&r, s.addr, "oktext");
	expect(&r, 0, "some text here\n", "");
	run_free(&r);
	run_cli(&r, "-v", s.addr, "ping");
	expect(&r, 0, "pong\n", "OK pong");
	run_free(&r);
	server_join(&s);
}
END_TEST

/* Data payloads come out byte for byte; the OK text then is not printed. */
START_TEST(test_data_exact)
{
	struct server s;
	struct run r;
	server_start(&s, "vsock", 3, 0);
	run_cli(&r, s.addr, "data");
	expect(&r, 0, "alpha\n\n\n two  spaces\t\n", "");
	run_free(&r);
	run_cli(&r, "-v", s.addr, "data");
	expect(&r, 0, "alpha\n\n\n two  spaces\t\n", "OK done");
	run_free(&r);
	run_cli(&r, s.addr, "big");
	expect(&r, 0, NULL, "");
	size_t lines = 0;
	for (size_t i = 0; i < r.out_len; i++)
		lines += r.out[i] == '\n';
	ck_assert_uint_eq(lines, 2000);
	ck_assert_ptr_nonnull(strstr(r.out, "line 0 of a rather long reply to fill buffers\nline 1 of"));
	ck_assert_ptr_nonnull(strstr(r.out, "\nline 1999 of a rather long reply to fill buffers\n"));
	run_free(&r);
	server_join(&s);
}
END_TEST

/* Arguments are quoted on the wire exactly per the protocol's rule. */
START_TEST(test_quoting_on_wire)
{
	struct server s;
	struct run r;
	server_start(&s, "vsock", 1, 0);
	run_cli(&r, s.addr, "RAW", "a b", "", "q\"x", "b\\s", "tab\there", "plain");
	expect(&r, 0, "RAW \"a b\" \"\" \"q\\\"x\" \"b\\\\s\" \"tab\there\" plain\n", "");
	run_free(&r);
	server_join(&s);
}
END_TEST

/* Exit 1: the server answered ERR; data lines before it still printed. */
START_TEST(test_err)
{
	struct server s;
	struct run r;
	server_start(&s, "vsock", 2, 0);
	run_cli(&r, s.addr, "fail");
	expect(&r, 1, "partial\n", "udo-vsock: denied: not allowed here\n");
	run_free(&r);
	run_cli(&r, s.addr, "nosuch");
	expect(&r, 1, "", "udo-vsock: unknown-command: no such command\n");
	run_free(&r);
	server_join(&s);
}
END_TEST

/* Exit 2: usage errors, before any connection is tried. */
START_TEST(test_usage)
{
	struct run r;
	const char *const none[] = {NULL};
	run_cli_v(&r, NULL, 0, false, none);
	expect(&r, 2, "", "missing ADDRESS");
	run_free(&r);
	run_cli(&r, "nonsense:1", "ping");
	expect(&r, 2, "", "udo-vsock: ");
	run_free(&r);
	run_cli(&r, "--bogus", "vsock:1:1", "ping");
	expect(&r, 2, "", "unknown option");
	run_free(&r);
	run_cli(&r, "-w", "soon", "vsock:1:1", "ping");
	expect(&r, 2, "", "--timeout");
	run_free(&r);
	run_cli(&r, "--retry", "-1", "vsock:1:1", "ping");
	expect(&r, 2, "", "--retry");
	run_free(&r);
	run_cli(&r, "-w");
	expect(&r, 2, "", "needs an argument");
	run_free(&r);
	run_cli(&r, "-t"); /* a flag now: no argument to take */
	expect(&r, 2, "", "missing ADDRESS");
	run_free(&r);
	run_cli(&r, "--window", "1K", "vsock:1:1", "cat");
	expect(&r, 2, "", "--window");
	run_free(&r);
	run_cli(&r, "--window", "17M", "vsock:1:1", "cat");
	expect(&r, 2, "", "--window");
	run_free(&r);
	run_cli(&r, "--tty", "-w", "1", "vsock:1:any", "ping");
	expect(&r, 2, "", "port"); /* a usage error stays 2 under -t */
	run_free(&r);
	run_cli(&r, "vsock:1:any", "ping");
	expect(&r, 2, "", "port");
	run_free(&r);
	run_cli(&r, "vsock:1:1", "echo", "two\nlines");
	expect(&r, 2, "", "newline");
	run_free(&r);
	run_cli(&r, "--help");
	expect(&r, 0, NULL, "");
	ck_assert_ptr_nonnull(strstr(r.out, "Usage: udo-vsock"));
	run_free(&r);
	run_cli(&r, "-V");
	expect(&r, 0, "udo-vsock " PACKAGE_VERSION "\n", "");
	run_free(&r);
}
END_TEST

/* Exit 3: nothing listens (vsock port, unix path). */
START_TEST(test_connect_failed)
{
	struct server s;
	struct run r;
	char addr[64], path[200];
	server_start(&s, "vsock", 0, 0); /* takes a port, serves nothing */
	server_join(&s);
	snprintf(addr, sizeof(addr), "vsock:local:%u", s.port);
	run_cli(&r, "-c", "2", addr, "ping");
	expect(&r, 3, "", "cannot connect");
	run_free(&r);
	snprintf(path, sizeof(path), "unix:%s/absent.sock", tmpdir);
	run_cli(&r, path, "ping");
	expect(&r, 3, "", "cannot connect");
	run_free(&r);
}
END_TEST

/* Exit 4: no reply within --timeout. */
START_TEST(test_reply_timeout)
{
	struct server s;
	struct run r;
	server_start(&s, "vsock", 1, 0);
	run_cli(&r, "-w", "0.5", s.addr, "hang");
	expect(&r, 4, "", "timeout");
	ck_assert_int_ge(r.ms, 400);
	ck_assert_int_lt(r.ms, 10000);
	run_free(&r);
	server_join(&s);
}
END_TEST

/* Exit 5: malformed reply, connection lost mid-reply or mid-line. */
START_TEST(test_protocol_errors)
{
	struct server s;
	struct run r;
	server_start(&s, "vsock", 3, 0);
	run_cli(&r, s.addr, "garbage");
	expect(&r, 5, "", "malformed reply line: HELLO");
	run_free(&r);
	run_cli(&r, s.addr, "cut");
	expect(&r, 5, "x\n", "connection lost");
	run_free(&r);
	run_cli(&r, s.addr, "cutline");
	expect(&r, 5, "", "connection lost");
	run_free(&r);
	server_join(&s);
}
END_TEST

/* --raw shows the protocol lines, requests prefixed "> ". */
START_TEST(test_raw)
{
	struct server s;
	struct run r;
	server_start(&s, "vsock", 2, 0);
	run_cli(&r, "--raw", s.addr, "ping", "a b");
	expect(&r, 0, "> ping \"a b\"\nOK pong \"a b\"\n", "");
	run_free(&r);
	run_cli(&r, "--raw", s.addr, "fail");
	expect(&r, 1, "> fail\nD partial\nERR denied not allowed here\n", "");
	run_free(&r);
	server_join(&s);
}
END_TEST

/* Batch: 10,000 pipelined requests through a pipe, replies in order.
 * Pipelining is proved by the server (a read that found several requests
 * waiting), not by wall-clock time, which depends on the machine. */
START_TEST(test_batch_10000)
{
	struct server s;
	struct run r;
	size_t cap = 10000 * 24, len = 0, olen = 0;
	char *in = malloc(cap), *want = malloc(cap);
	ck_assert(in && want);
	for (int i = 0; i < 10000; i++) {
		len += (size_t)snprintf(in + len, cap - len, "%sping %d\n", i % 1000 == 0 ? "\n  \n" : "", i);
		olen += (size_t)snprintf(want + olen, cap - olen, "OK pong %d\n", i);
	}
	server_start(&s, "vsock", 1, SRV_EXPECT_PIPELINED);
	const char *const args[] = {s.addr, NULL};
	run_cli_v(&r, in, len, true, args);
	expect(&r, 0, NULL, "");
	ck_assert_uint_eq(r.out_len, olen);
	ck_assert(memcmp(r.out, want, olen) == 0);
	printf("batch: 10,000 requests in %lld ms\n", r.ms);
	run_free(&r);
	server_join(&s); /* exit status 4: the CLI sent in lock-step */
	free(in);
	free(want);
}
END_TEST

/* Batch with big requests and big replies at once: the client must read
 * replies while it writes, or both sides block (no deadlock allowed). */
START_TEST(test_batch_both_full)
{
	struct server s;
	struct run r;
	enum { LINES = 2000, ARG = 3000 };
	size_t len = 0, olen = 0;
	char *in = malloc(LINES * (ARG + 32)), *want = malloc(LINES * (ARG + 32));
	ck_assert(in && want);
	for (int i = 0; i < LINES; i++) {
		len += (size_t)sprintf(in + len, "raw %04d ", i);
		memset(in + len, 'x', ARG);
		len += ARG;
		in[len++] = '\n';
		olen += (size_t)sprintf(want + olen, "D raw %04d ", i);
		memset(want + olen, 'x', ARG);
		olen += ARG;
		olen += (size_t)sprintf(want + olen, "\nOK\n");
	}
	server_start(&s, "vsock", 1, 0);
	const char *const args[] = {"-w", "20", s.addr, NULL};
	run_cli_v(&r, in, len, true, args);
	expect(&r, 0, NULL, "");
	ck_assert_uint_eq(r.out_len, olen);
	ck_assert(memcmp(r.out, want, olen) == 0);
	run_free(&r);
	server_join(&s);
	free(in);
	free(want);
}
END_TEST

/* Batch: mixed results, CRLF, a last line without LF; status = first failure. */
START_TEST(test_batch_mixed)
{
	struct server s;
	struct run r;
	static const char in[] = "ping 1\n\nfail\r\nDATA\nnosuch\nping 2";
	server_start(&s, "vsock", 2, 0);
	const char *const args[] = {s.addr, NULL};
	run_cli_v(&r, in, sizeof(in) - 1, false, args);
	expect(&r, 1,
	       "OK pong 1\nD partial\nERR denied not allowed here\nD alpha\nD \nD\nD  two  spaces\t\nOK done\n"
	       "ERR unknown-command no such command\nOK pong 2\n",
	       "");
	run_free(&r);
	/* A lost connection is class 5 when it is the first failure. */
	static const char in2[] = "ping 1\ncut\nping 2\n";
	run_cli_v(&r, in2, sizeof(in2) - 1, false, args);
	expect(&r, 5, "OK pong 1\nD x\n", "connection lost");
	run_free(&r);
	server_join(&s);
}
END_TEST

/* --raw in batch pairs each request with its reply. */
START_TEST(test_batch_raw)
{
	struct server s;
	struct run r;
	static const char in[] = "ping 1\n\nquit\n";
	server_start(&s, "vsock", 1, 0);
	const char *const args[] = {"--raw", s.addr, NULL};
	run_cli_v(&r, in, sizeof(in) - 1, false, args);
	expect(&r, 0, "> ping 1\nOK pong 1\n> quit\nOK bye\n", "");
	run_free(&r);
	server_join(&s);
}
END_TEST

/* --retry / --wait: the server starts listening late; the CLI gets in. */
START_TEST(test_retry_late_listen)
{
	struct server s;
	struct cli_child k;
	struct run r;
	/* The server listens only once the CLI has been refused and says it
	 * is retrying: a handshake, so load cannot reorder the two. */
	server_start(&s, "vsock", 1, SRV_LISTEN_ON_CUE);
	const char *const retry[] = {"--retry", "40", "-v", s.addr, "ping", "late", NULL};
	cli_spawn(&k, NULL, 0, false, retry);
	cli_await_stderr(&k, "retrying");
	server_cue(&s);
	cli_finish(&k, &r);
	expect(&r, 0, "pong late\n", "retrying");
	run_free(&r);
	server_join(&s);

	server_start(&s, "vsock", 1, SRV_LISTEN_ON_CUE);
	const char *const wait[] = {"--wait", "20", "-v", s.addr, "ping", NULL};
	cli_spawn(&k, NULL, 0, false, wait);
	cli_await_stderr(&k, "retrying");
	server_cue(&s);
	cli_finish(&k, &r);
	expect(&r, 0, "pong\n", "retrying");
	run_free(&r);
	server_join(&s);

	/* The budget runs out: --wait 0.5 on a port nobody listens on. */
	server_start(&s, "vsock", 0, 0);
	server_join(&s);
	run_cli(&r, "--wait", "0.5", s.addr, "ping");
	expect(&r, 3, "", "cannot connect");
	ck_assert_int_ge(r.ms, 400);
	run_free(&r);
}
END_TEST

/* A reset before any reply byte is retried (the request is re-sent); a
 * reply cut in the middle is never re-sent. */
START_TEST(test_retry_reset)
{
	struct server s;
	struct run r;
	server_start(&s, "vsock", 1, SRV_DROP_FIRST);
	run_cli(&r, s.addr, "ping");
	expect(&r, 5, "", "connection lost");
	run_free(&r);
	server_join(&s);

	server_start(&s, "vsock", 2, SRV_DROP_FIRST);
	run_cli(&r, "--retry", "3", s.addr, "ping", "again");
	expect(&r, 0, "pong again\n", "");
	run_free(&r);
	server_join(&s);

	/* One connection only: a wrong reconnect would end in exit 3. */
	server_start(&s, "vsock", 1, 0);
	run_cli(&r, "--retry", "3", s.addr, "cut");
	expect(&r, 5, "x\n", "connection lost");
	run_free(&r);
	server_join(&s);
}
END_TEST

/* unix: addresses work the same way. */
START_TEST(test_unix)
{
	struct server s;
	struct run r;
	char path[200];
	snprintf(path, sizeof(path), "%s/srv.sock", tmpdir);
	server_start(&s, path, 1, 0);
	run_cli(&r, s.addr, "data");
	expect(&r, 0, "alpha\n\n\n two  spaces\t\n", "");
	run_free(&r);
	server_join(&s);
}
END_TEST

/* Opens a pseudo-terminal pair. Inside user-mode Linux (tests/vsock-run)
 * /dev/pts is not usable, so a private devpts instance is mounted in the
 * test's temp directory (it exists only in the UML kernel) and the pair
 * comes from its ptmx, the slave via TIOCGPTPEER. Returns 0 or -1. */
static int open_pty(int *master, int *slave)
{
	char dir[200], ptmx[220];
	int unlock = 0;

	if (openpty(master, slave, NULL, NULL, NULL) == 0)
		return 0;
	if (!getenv("UDO_VSOCK_IN_UML"))
		return -1;
	snprintf(dir, sizeof(dir), "%s/pts", tmpdir);
	snprintf(ptmx, sizeof(ptmx), "%s/ptmx", dir);
	if (mkdir(dir, 0700) < 0 || mount("devpts", dir, "devpts", 0, "newinstance,ptmxmode=0666,mode=0620") < 0)
		return -1;
	*master = open(ptmx, O_RDWR | O_NOCTTY | O_CLOEXEC);
	umount2(dir, MNT_DETACH); /* open terminals keep the instance alive */
	rmdir(dir);
	if (*master < 0)
		return -1;
	if (ioctl(*master, TIOCSPTLCK, &unlock) < 0 ||
	    (*slave = ioctl(*master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
		close(*master);
		return -1;
	}
	return 0;
}

/* Interactive mode on a pseudo-terminal: prompt, replies, QUIT. */
START_TEST(test_interactive)
{
	struct server s;
	int master, slave;
	if (open_pty(&master, &slave) < 0) {
		printf("test_interactive: SKIP: no pseudo-terminal: %s\n", strerror(errno));
		return;
	}
	server_start(&s, "vsock", 1, 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(master);
		setsid();
		if (dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0)
			_exit(126);
		execl(CLI_BIN, "udo-vsock", s.addr, (char *)NULL);
		_exit(127);
	}
	close(slave);
	ck_assert_int_eq(write(master, "ping hi\n\nfail\nquit\n", 19), 19);
	char out[8192];
	size_t len = 0;
	for (;;) {
		struct pollfd pfd = {.fd = master, .events = POLLIN};
		if (poll(&pfd, 1, 10000) <= 0)
			break;
		ssize_t n = read(master, out + len, sizeof(out) - 1 - len);
		if (n <= 0)
			break; /* EIO once the child closed the terminal */
		len += (size_t)n;
	}
	out[len] = '\0';
	close(master);
	int status = wait_child(pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x, output %s", status, out);
	ck_assert_msg(strstr(out, "udo-vsock> "), "%s", out);
	ck_assert_msg(strstr(out, "OK pong hi"), "%s", out);
	ck_assert_msg(strstr(out, "D partial\r\nERR denied not allowed here"), "%s", out);
	ck_assert_msg(strstr(out, "OK bye"), "%s", out);
	server_join(&s);
}
END_TEST

/* -------------------------------------------- pseudo-terminal helpers */

/* Reads the pty MASTER into BUF (LEN so far, CAP bytes) until TEXT is
 * there (NULL: until the slave side is closed) or RUN_LIMIT_MS pass.
 * Returns true when it was found (or, for NULL, when EOF came). */
static bool pty_read_until(int master, char *buf, size_t *len, size_t cap, const char *text)
{
	long long deadline = now_ms() + RUN_LIMIT_MS;
	for (;;) {
		buf[*len] = '\0';
		if (text && strstr(buf, text))
			return true;
		long long left = deadline - now_ms();
		if (left <= 0 || *len + 1 >= cap)
			return false;
		struct pollfd pfd = {.fd = master, .events = POLLIN};
		int n = poll(&pfd, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		ssize_t got = read(master, buf + *len, cap - 1 - *len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return text == NULL; /* EIO once the child closed the terminal */
		*len += (size_t)got;
	}
}

/* Runs the CLI with ARGS (without argv[0]) in one-shot mode with stdin
 * /dev/null and stdout (and stderr too when ERR_TOO, else a memfd that
 * *ERR receives) on a pseudo-terminal; OUT gets what the terminal
 * showed. Returns the exit status, or -1 when there is no pty. */
static int run_cli_pty(const char *const *args, bool err_too, char *out, size_t cap, char **err)
{
	const char *argv[16] = {"udo-vsock"};
	int master, slave, n = 1;
	while (args[n - 1]) {
		ck_assert_int_lt(n, 15);
		argv[n] = args[n - 1];
		n++;
	}
	argv[n] = NULL;
	if (open_pty(&master, &slave) < 0)
		return -1;
	int errfd = memfd_with("", 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		if (null < 0 || dup2(null, 0) < 0 || dup2(slave, 1) < 0 || dup2(err_too ? slave : errfd, 2) < 0)
			_exit(126);
		execv(CLI_BIN, (char *const *)argv);
		_exit(127);
	}
	close(slave);
	size_t len = 0;
	ck_assert_msg(pty_read_until(master, out, &len, cap, NULL), "the terminal did not close: '%s'", out);
	close(master);
	int status = wait_child(pid);
	if (err)
		*err = slurp(errfd, NULL);
	close(errfd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Control bytes from the server reach a terminal only escaped (as cat -v
 * shows them), both on stdout and in an ERR message on stderr; --raw and
 * a stdout that is no terminal get the bytes unchanged. */
START_TEST(test_tty_escapes)
{
	struct server s;
	struct run r;
	char out[4096], *err;
	server_start(&s, "vsock", 5, 0);

	const char *const esc[] = {s.addr, "esc", NULL};
	int rc = run_cli_pty(esc, true, out, sizeof(out), NULL);
	if (rc < 0) {
		printf("test_tty_escapes: SKIP: no pseudo-terminal: %s\n", strerror(errno));
		server_join(&s); /* not reached in UML, where a pty is always made */
		return;
	}
	ck_assert_int_eq(rc, 0);
	ck_assert_msg(strcmp(out, ESC_SHOWN "\r\n") == 0, "terminal showed '%s'", out);

	const char *const escerr[] = {s.addr, "escerr", NULL};
	rc = run_cli_pty(escerr, true, out, sizeof(out), NULL);
	ck_assert_int_eq(rc, 1);
	ck_assert_msg(strcmp(out, "udo-vsock: failed: ^[[31mred\r\n") == 0, "terminal showed '%s'", out);

	/* stderr not a terminal: its text is as the server sent it. */
	rc = run_cli_pty(escerr, false, out, sizeof(out), &err);
	ck_assert_int_eq(rc, 1);
	ck_assert_str_eq(err, "udo-vsock: failed: \x1b[31mred\n");
	free(err);

	const char *const raw[] = {"--raw", s.addr, "esc", NULL};
	rc = run_cli_pty(raw, true, out, sizeof(out), NULL);
	ck_assert_int_eq(rc, 0);
	ck_assert_msg(strstr(out, "D \x1b]0;pwned\a\x1b[2Jwiped\rX") != NULL, "terminal showed '%s'", out);

	run_cli(&r, s.addr, "esc");
	expect(&r, 0, ESC_PAYLOAD "\n", "");
	run_free(&r);
	server_join(&s);
}
END_TEST

/* ------------------------------------------------ against the real daemon */

/* Starts a real udo-vsockd with DAEMON_EXTRA and SECTIONS (see
 * daemon_write_config); its address goes to ADDR. */
static void daemon_up(struct daemon *d, const char *extra, const char *sections, char *addr, size_t len)
{
	daemon_init(d);
	daemon_write_config(d, extra, sections);
	ck_assert_int_eq(daemon_start(d, NULL, 10000), 0);
	snprintf(addr, len, "vsock:1:%u", d->port);
}

/* Stops the daemon of daemon_up (it must exit 0) and cleans up. */
static void daemon_down(struct daemon *d)
{
	ck_assert_int_eq(daemon_stop(d, 10000), 0);
	daemon_cleanup(d);
}

/* Writes the string TEXT to the pipe FD. */
static void feed(int fd, const char *text)
{
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
}

/* max-connections-per-peer: the daemon's unasked "ERR busy" to a
 * connection over the limit answers no request. It is reported as it is,
 * the request it preceded is reported as not sent (exit 1) or, under
 * --retry, sent on a new connection once there is room; the count of
 * unanswered requests never goes below zero. */
START_TEST(test_unasked_busy)
{
	struct daemon d;
	struct client c1, c2;
	struct reply rep;
	struct cli_child k;
	struct run r;
	char addr[64];
	daemon_up(&d, "max-connections-per-peer = 2", NULL, addr, sizeof(addr));
	client_open(&c1, d.port);
	client_request(&c1, "ping", &rep, 5000);
	client_open(&c2, d.port);
	client_request(&c2, "ping", &rep, 5000);

	/* Batch: the busy line comes before any request is written. */
	const char *const plain[] = {addr, NULL};
	int in = cli_spawn_held(&k, plain);
	cli_await_stderr(&k, "udo-vsock: busy: too many connections from this peer\n");
	feed(in, "ping\n");
	close(in);
	cli_finish(&k, &r);
	expect(&r, 1, "", "1 request(s) not sent");
	ck_assert_msg(!strstr(r.err, "18446744073709551615"), "%s", r.err);
	run_free(&r);

	/* One-shot: busy before or after the request went out; both exit 1. */
	run_cli(&r, addr, "ping");
	expect(&r, 1, "", "udo-vsock: busy: too many connections from this peer\n");
	ck_assert_msg(!strstr(r.err, "18446744073709551615") && !strstr(r.err, "protocol error"), "%s", r.err);
	run_free(&r);

	/* --retry: once a slot is free, the request goes out on a new connection. */
	const char *const retry[] = {"--retry", "50", addr, NULL};
	in = cli_spawn_held(&k, retry);
	cli_await_stderr(&k, "udo-vsock: busy: too many connections from this peer\n");
	client_close(&c2);
	feed(in, "ping after-busy\n");
	close(in);
	cli_finish(&k, &r);
	expect(&r, 0, "OK pong after-busy\n", NULL);
	run_free(&r);
	client_close(&c1);
	daemon_down(&d);
}
END_TEST

/* idle-timeout: the daemon's unasked "ERR timeout" before it closes an
 * idle connection is reported plainly (not as a protocol error); a later
 * request is reported as not sent (exit 1), or under --retry goes out on
 * a new connection. */
START_TEST(test_idle_timeout)
{
	struct daemon d;
	struct cli_child k;
	struct run r;
	char addr[64];
	daemon_up(&d, "idle-timeout = 300ms", NULL, addr, sizeof(addr));

	const char *const plain[] = {addr, NULL};
	int in = cli_spawn_held(&k, plain);
	feed(in, "ping 1\n");
	cli_await(&k, k.out, "OK pong 1\n");
	cli_await_stderr(&k, "udo-vsock: timeout: idle connection closed\n");
	feed(in, "ping 2\n");
	close(in);
	cli_finish(&k, &r);
	expect(&r, 1, "OK pong 1\n", "1 request(s) not sent");
	ck_assert_msg(!strstr(r.err, "protocol error"), "%s", r.err);
	run_free(&r);

	const char *const retry[] = {"--retry", "3", addr, NULL};
	in = cli_spawn_held(&k, retry);
	feed(in, "ping 1\n");
	cli_await(&k, k.out, "OK pong 1\n");
	cli_await_stderr(&k, "udo-vsock: timeout: idle connection closed\n");
	feed(in, "ping 2\n");
	close(in);
	cli_finish(&k, &r);
	expect(&r, 0, "OK pong 1\nOK pong 2\n", "timeout: idle connection closed");
	run_free(&r);
	daemon_down(&d);
}
END_TEST

/* Interactive mode after the daemon closed the idle connection: the
 * next line reports the unasked ERR timeout (no wrapped-around count of
 * unanswered requests) and, under --retry, is answered on a new
 * connection. */
START_TEST(test_interactive_idle)
{
	struct daemon d;
	char addr[64], out[8192];
	size_t len = 0;
	int master, slave;
	daemon_up(&d, "idle-timeout = 300ms", NULL, addr, sizeof(addr));
	if (open_pty(&master, &slave) < 0) {
		printf("test_interactive_idle: SKIP: no pseudo-terminal: %s\n", strerror(errno));
		daemon_down(&d);
		return;
	}
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(master);
		setsid();
		if (dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0)
			_exit(126);
		execl(CLI_BIN, "udo-vsock", "--retry", "3", addr, (char *)NULL);
		_exit(127);
	}
	close(slave);
	ck_assert_int_eq(write(master, "ping 1\n", 7), 7);
	ck_assert_msg(pty_read_until(master, out, &len, sizeof(out), "OK pong 1"), "%s", out);
	daemon_wait_idle(&d, RUN_LIMIT_MS); /* the daemon cut the CLI's connection */
	ck_assert_int_eq(write(master, "ping 2\n", 7), 7);
	ck_assert_msg(pty_read_until(master, out, &len, sizeof(out), "OK pong 2"), "%s", out);
	ck_assert_int_eq(write(master, "quit\n", 5), 5);
	pty_read_until(master, out, &len, sizeof(out), NULL);
	close(master);
	int status = wait_child(pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x, output %s", status, out);
	ck_assert_msg(strstr(out, "udo-vsock: timeout: idle connection closed"), "%s", out);
	ck_assert_msg(!strstr(out, "18446744073709551615"), "%s", out);
	daemon_down(&d);
}
END_TEST

/* Batch output keeps each reply line as the server sent it, so a program
 * that prints "OK fake" or "ERR failed fake" shows as data ("D ..."),
 * never as a status line. */
START_TEST(test_batch_unambiguous)
{
	struct daemon d;
	struct run r;
	char addr[64];
	daemon_up(&d, NULL,
	          "[command fakeok]\nhandler = exec\npath = /bin/echo\nargs = \"OK fake\"\n\n"
	          "[command fakeerr]\nhandler = exec\npath = /bin/echo\nargs = \"ERR failed fake\"\n",
	          addr, sizeof(addr));
	static const char in[] = "fakeok\nfakeerr\nping\n";
	const char *const args[] = {addr, NULL};
	run_cli_v(&r, in, sizeof(in) - 1, false, args);
	expect(&r, 0, "D OK fake\nOK exit=0\nD ERR failed fake\nOK exit=0\nOK pong\n", "");
	run_free(&r);
	/* One-shot: data on stdout, the status in the exit code. */
	run_cli(&r, addr, "fakeerr");
	expect(&r, 0, "ERR failed fake\n", "");
	run_free(&r);
	daemon_down(&d);
}
END_TEST

/* The daemon's "ERR usage usage: ping [TOKEN]" reads "usage: ping ...",
 * not "usage: usage: ping ...". */
START_TEST(test_usage_message)
{
	struct daemon d;
	struct run r;
	char addr[64];
	daemon_up(&d, NULL, NULL, addr, sizeof(addr));
	run_cli(&r, addr, "ping", "a", "b");
	expect(&r, 1, "", NULL);
	ck_assert_msg(strncmp(r.err, "udo-vsock: usage: ping", 22) == 0 && !strstr(r.err, "usage: usage"), "%s", r.err);
	run_free(&r);
	daemon_down(&d);
}
END_TEST

/* An echo service on unix:PATH in a child (one grandchild per
 * connection). Returns its pid. */
static pid_t start_echo_service(const char *path)
{
	unsigned int port;
	char text[320];
	snprintf(text, sizeof(text), "unix:%s", path);
	return echo_service_start(srv_listen(text, &port));
}

/* After OK proxy or OK handoff the CLI is a byte pipe between its
 * standard input/output and the service, in one-shot, batch and through
 * a pipe; the end of its input half-closes the connection, so it ends
 * when the service has answered everything and closed (no timeout). */
START_TEST(test_proxy_handoff)
{
	struct daemon d;
	struct run r;
	char addr[64], echo[300], shell[300], sections[800];
	daemon_init(&d);
	snprintf(echo, sizeof(echo), "%s/echo.sock", d.dir);
	snprintf(shell, sizeof(shell), "%s/shell.sock", d.dir);
	pid_t e = start_echo_service(echo);
	pid_t h = handoff_echo_start(shell);
	snprintf(sections, sizeof(sections),
	         "[command echo]\nhandler = proxy\nconnect = unix:%s\n\n"
	         "[command shell]\nhandler = handoff\nsocket = unix:%s\n",
	         echo, shell);
	daemon_write_config(&d, NULL, sections);
	ck_assert_int_eq(daemon_start(&d, NULL, 10000), 0);
	snprintf(addr, sizeof(addr), "vsock:1:%u", d.port);

	static const char text[] = "hello\nworld, no newline at the end";
	const char *const proxy[] = {addr, "echo", NULL};
	run_cli_v(&r, text, sizeof(text) - 1, false, proxy);
	expect(&r, 0, text, "");
	run_free(&r);
	run_cli_v(&r, text, sizeof(text) - 1, true, proxy);
	expect(&r, 0, text, "");
	run_free(&r);

	/* Batch: lines after the proxy request are bytes for the service. */
	static const char batch[] = "ping 1\necho\nping 2\nlast\n";
	const char *const plain[] = {addr, NULL};
	run_cli_v(&r, batch, sizeof(batch) - 1, true, plain);
	expect(&r, 0, "OK pong 1\nOK proxy\nping 2\nlast\n", "");
	run_free(&r);

	/* Bytes typed only after OK proxy arrived reach the service too. */
	struct cli_child k;
	int in = cli_spawn_held(&k, proxy);
	feed(in, "first\n");
	cli_await(&k, k.out, "first\n");
	feed(in, "second\n");
	cli_await(&k, k.out, "first\nsecond\n");
	close(in);
	cli_finish(&k, &r);
	expect(&r, 0, "first\nsecond\n", "");
	run_free(&r);

	/* Interactive: what is typed after the request line goes to the
	 * service; end of input (^D) half-closes. */
	int master, slave;
	if (open_pty(&master, &slave) == 0) {
		char out[8192];
		size_t len = 0;
		pid_t pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			close(master);
			setsid();
			if (dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0)
				_exit(126);
			execl(CLI_BIN, "udo-vsock", addr, (char *)NULL);
			_exit(127);
		}
		close(slave);
		ck_assert_int_eq(write(master, "echo\nhello\n", 11), 11);
		ck_assert_msg(pty_read_until(master, out, &len, sizeof(out), "OK proxy\r\nhello\r\n"), "%s", out);
		ck_assert_int_eq(write(master, "\x04", 1), 1);
		ck_assert_msg(pty_read_until(master, out, &len, sizeof(out), NULL), "%s", out);
		close(master);
		int status = wait_child(pid);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x, output %s", status, out);
	} else {
		printf("test_proxy_handoff: interactive part SKIPPED: no pseudo-terminal\n");
	}

	const char *const handoff[] = {addr, "shell", "alpha", NULL};
	run_cli_v(&r, "bytes\n", 6, false, handoff);
	expect(&r, 0, NULL, "");
	ck_assert_msg(strncmp(r.out, "handoff-echo: cid=1 ", 20) == 0 && strstr(r.out, "words=2 command=shell\n") &&
	                  strstr(r.out, "\nhandoff-echo: arg 1: alpha\nbytes\n"),
	              "%s", r.out);
	run_free(&r);

	daemon_down(&d);
	kill_and_reap(e);
	kill_and_reap(h);
}
END_TEST

/* ------------------------------------------------ exec sessions (#14) */

static void setup(void);

/* Session commands of the real daemon: a shell on a pseudo-terminal, and
 * programs on pipes (sh -c with the client's script as its argument). */
static const char session_sections[] = "[command shell]\n"
                                       "handler = exec\n"
                                       "path = /bin/sh\n"
                                       "mode = session\n"
                                       "pty = yes\n"
                                       "[command cat]\n"
                                       "handler = exec\n"
                                       "path = /bin/cat\n"
                                       "mode = session\n"
                                       "[command sh]\n"
                                       "handler = exec\n"
                                       "path = /bin/sh\n"
                                       "args = -c\n"
                                       "client-args = yes\n"
                                       "mode = session\n"
                                       "[command yes]\n"
                                       "handler = exec\n"
                                       "path = /usr/bin/yes\n"
                                       "mode = session\n"
                                       "[command idle]\n"
                                       "handler = exec\n"
                                       "path = /bin/sleep\n"
                                       "args = 1006\n"
                                       "mode = session\n"
                                       "idle-timeout = 300ms\n";

/* Fixture of the session tests: inside user-mode Linux, whose devtmpfs
 * has /dev/ptmx but no /dev/pts, devpts is mounted there, for the
 * daemon's pseudo-terminals (it opens /dev/ptmx and the slave by name). */
static void session_setup(void)
{
	setup();
	if (getenv("UDO_VSOCK_IN_UML") == NULL)
		return;
	(void)mkdir("/dev/pts", 0755);
	if (mount("devpts", "/dev/pts", "devpts", 0, "ptmxmode=0666,mode=0620") < 0 && errno != EBUSY)
		fprintf(stderr, "vsock_cli: mounting devpts on /dev/pts: %s\n", strerror(errno));
}

/* The pid of a process running exactly "NAME ARG" (NAME: argv[0] or its
 * last component), or 0. */
static pid_t find_process(const char *name, const char *arg)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t found = 0;

	ck_assert_ptr_nonnull(d);
	while (!found && (e = readdir(d))) {
		char path[300], cmd[256];
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, cmd, sizeof(cmd) - 1);
		close(fd);
		if (n <= 0)
			continue;
		cmd[n] = '\0';
		size_t l0 = strlen(cmd);
		if ((size_t)n != l0 + 1 + strlen(arg) + 1 || strcmp(cmd + l0 + 1, arg) != 0)
			continue;
		const char *base = strrchr(cmd, '/');
		if (strcmp(base ? base + 1 : cmd, name) == 0)
			found = (pid_t)atoi(e->d_name);
	}
	closedir(d);
	return found;
}

/* Waits up to RUN_LIMIT_MS until "NAME ARG" runs (WANT) or is gone (!WANT). */
static pid_t await_process(const char *name, const char *arg, bool want)
{
	long long deadline = now_ms() + RUN_LIMIT_MS;
	pid_t pid;
	while ((pid = find_process(name, arg)) == 0 ? want : !want) {
		ck_assert_msg(now_ms() < deadline, "'%s %s' did not %s within %d ms", name, arg, want ? "start" : "end",
		              RUN_LIMIT_MS);
		usleep(5000); /* poll interval */
	}
	return pid;
}

/* Waits up to RUN_LIMIT_MS until PID has taken signal SIG (it is no longer
 * pending: its handler ran), so that the next one is not merged with it. */
static void await_signal_taken(pid_t pid, int sig)
{
	long long deadline = now_ms() + RUN_LIMIT_MS;
	for (;;) {
		char path[64], line[256];
		unsigned long long pending = 0;
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
		FILE *f = fopen(path, "re");
		ck_assert_ptr_nonnull(f);
		while (fgets(line, sizeof(line), f)) {
			unsigned long long mask;
			if (sscanf(line, "SigPnd: %llx", &mask) == 1 || sscanf(line, "ShdPnd: %llx", &mask) == 1)
				pending |= mask;
		}
		fclose(f);
		if (!(pending & (1ULL << (sig - 1))))
			return;
		ck_assert_msg(now_ms() < deadline, "signal %d still pending after %d ms", sig, RUN_LIMIT_MS);
		usleep(1000); /* poll interval */
	}
}

/* A CLI run as a person runs it: on a pseudo-terminal that is its
 * controlling terminal (so the kernel sends it SIGWINCH) and its
 * standard input, output and error. */
struct tty_cli {
	pid_t pid;
	int master;
	struct termios before; /* the terminal's settings before the CLI ran */
	char out[65536];       /* what the terminal showed */
	size_t len;
};

/* Starts the CLI with ARGS on a new terminal of ROWS x COLS with TERM set
 * to udo-test-term. Returns false when there is no pseudo-terminal. */
static bool tty_cli_start(struct tty_cli *t, unsigned short rows, unsigned short cols, const char *const *args)
{
	const char *argv[16] = {"udo-vsock"};
	int slave, n = 1;
	while (args[n - 1]) {
		ck_assert_int_lt(n, 15);
		argv[n] = args[n - 1];
		n++;
	}
	argv[n] = NULL;
	if (open_pty(&t->master, &slave) < 0)
		return false;
	struct winsize ws = {.ws_row = rows, .ws_col = cols};
	ck_assert_int_eq(ioctl(t->master, TIOCSWINSZ, &ws), 0);
	ck_assert_int_eq(tcgetattr(slave, &t->before), 0);
	t->len = 0;
	t->out[0] = '\0';
	t->pid = fork();
	ck_assert_int_ge(t->pid, 0);
	if (t->pid == 0) {
		close(t->master);
		if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0 || dup2(slave, 0) < 0 || dup2(slave, 1) < 0 ||
		    dup2(slave, 2) < 0)
			_exit(126);
		setenv("TERM", "udo-test-term", 1);
		struct rlimit nocore = {0, 0}; /* SIGQUIT's default action dumps core */
		setrlimit(RLIMIT_CORE, &nocore);
		execv(CLI_BIN, (char *const *)argv);
		_exit(127);
	}
	close(slave);
	return true;
}

/* Types TEXT into the CLI's terminal. */
static void tty_cli_type(struct tty_cli *t, const char *text)
{
	ck_assert_int_eq(write(t->master, text, strlen(text)), (ssize_t)strlen(text));
}

/* Waits until the terminal showed TEXT (after what it showed before). */
static void tty_cli_await(struct tty_cli *t, const char *text)
{
	ck_assert_msg(pty_read_until(t->master, t->out, &t->len, sizeof(t->out), text),
	              "the terminal did not show '%s'; it showed '%s'", text, t->out);
}

/* Is the CLI's terminal in raw mode (no line editing, no echo, no signals)? */
static bool tty_cli_is_raw(struct tty_cli *t)
{
	struct termios now;
	ck_assert_int_eq(tcgetattr(t->master, &now), 0);
	return !(now.c_lflag & (ICANON | ECHO | ISIG));
}

/* Waits for the CLI to end, reads what the terminal showed last and
 * checks that its settings are those from before the CLI ran. Returns
 * the wait status. */
static int tty_cli_finish(struct tty_cli *t)
{
	struct termios after;
	int status = wait_child(t->pid);
	pty_read_until(t->master, t->out, &t->len, sizeof(t->out), NULL);
	ck_assert_int_eq(tcgetattr(t->master, &after), 0);
	close(t->master);
	ck_assert_msg(after.c_lflag == t->before.c_lflag && after.c_iflag == t->before.c_iflag &&
	                  after.c_oflag == t->before.c_oflag && after.c_cflag == t->before.c_cflag &&
	                  after.c_cc[VMIN] == t->before.c_cc[VMIN] && after.c_cc[VTIME] == t->before.c_cc[VTIME],
	              "the terminal was left changed: lflag %#x (was %#x), iflag %#x (was %#x), oflag %#x (was %#x)",
	              after.c_lflag, t->before.c_lflag, after.c_iflag, t->before.c_iflag, after.c_oflag,
	              t->before.c_oflag);
	ck_assert_msg(after.c_lflag & ICANON && after.c_lflag & ECHO, "not in cooked mode: lflag %#x", after.c_lflag);
	return status;
}

/* -t against a shell on a pseudo-terminal, as ssh -t: keys reach it raw,
 * the terminal's size (at the start and after a resize) and TERM arrive,
 * Ctrl-C interrupts the remote program, the shell's exit status is the
 * CLI's, and the terminal is in cooked mode again afterwards. */
START_TEST(test_session_tty)
{
	struct daemon d;
	struct tty_cli t;
	char addr[64];
	daemon_up(&d, NULL, session_sections, addr, sizeof(addr));
	const char *const args[] = {"-t", addr, "shell", NULL};
	if (!tty_cli_start(&t, 30, 100, args)) {
		printf("test_session_tty: SKIP: no pseudo-terminal: %s\n", strerror(errno));
		daemon_down(&d);
		return;
	}
	tty_cli_type(&t, "echo $((6*7))\r");
	tty_cli_await(&t, "42\r\n");
	ck_assert_msg(tty_cli_is_raw(&t), "the CLI's terminal is not raw during the session");

	tty_cli_type(&t, "stty size; echo \"$TERM\"\r");
	tty_cli_await(&t, "30 100\r\nudo-test-term\r\n");

	/* The kernel sends SIGWINCH to the CLI, its terminal's foreground. */
	struct winsize ws = {.ws_row = 33, .ws_col = 111};
	ck_assert_int_eq(ioctl(t.master, TIOCSWINSZ, &ws), 0);
	tty_cli_type(&t, "stty size\r");
	tty_cli_await(&t, "33 111\r\n");

	/* Ctrl-C is the byte 0x03 to the remote terminal, which interrupts. */
	tty_cli_type(&t, "sleep 1002; echo not-interrupted\r");
	await_process("sleep", "1002", true);
	tty_cli_type(&t, "\x03");
	await_process("sleep", "1002", false);
	tty_cli_type(&t, "echo after-$((1+1))-int\r");
	tty_cli_await(&t, "after-2-int\r\n");

	tty_cli_type(&t, "exit 3\r");
	int status = tty_cli_finish(&t);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 3, "status %#x; the terminal showed '%s'", status,
	              t.out);
	ck_assert_msg(!strstr(t.out, "udo-vsock:"), "%s", t.out);
	daemon_down(&d);
}
END_TEST

/* -t: the terminal is back in cooked mode however the CLI ends: the
 * connection lost (the daemon killed), SIGTERM, SIGHUP or SIGQUIT to the
 * CLI (which then dies of it, as a shell expects). */
START_TEST(test_session_tty_restore)
{
	static const int sigs[] = {0, SIGTERM, SIGHUP, SIGQUIT};
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		struct daemon d;
		struct tty_cli t;
		char addr[64];
		daemon_up(&d, NULL, session_sections, addr, sizeof(addr));
		const char *const args[] = {"-t", addr, "shell", NULL};
		if (!tty_cli_start(&t, 24, 80, args)) {
			printf("test_session_tty_restore: SKIP: no pseudo-terminal: %s\n", strerror(errno));
			daemon_down(&d);
			return;
		}
		tty_cli_type(&t, "echo $((6*7))\r");
		tty_cli_await(&t, "42\r\n");
		ck_assert_msg(tty_cli_is_raw(&t), "the CLI's terminal is not raw during the session");
		if (sigs[i] == 0) {
			daemon_signal(&d, SIGKILL);
			int status = tty_cli_finish(&t);
			ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 255, "status %#x; '%s'", status,
			              t.out);
			ck_assert_msg(strstr(t.out, "udo-vsock: "), "no message: '%s'", t.out);
			daemon_cleanup(&d);
		} else {
			kill(t.pid, sigs[i]);
			int status = tty_cli_finish(&t);
			ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == sigs[i], "status %#x; '%s'", status,
			              t.out);
			daemon_down(&d);
		}
	}
}
END_TEST

/* Without -t a session is a pipe: 16 MiB of random bytes through cat
 * come back identical; stdout and stderr stay apart; the exit code, or
 * 128 + the signal that killed the program, is the CLI's status; the
 * daemon's ERROR frame is 255; an ERR reply or no connection is 255 with
 * -t and keeps its class without. */
START_TEST(test_session_pipes)
{
	enum { BIG = 16 * 1024 * 1024 };
	struct daemon d;
	struct run r;
	char addr[64];
	daemon_up(&d, NULL, session_sections, addr, sizeof(addr));

	char *data = malloc(BIG);
	ck_assert_ptr_nonnull(data);
	for (size_t got = 0; got < BIG;) {
		ssize_t n = getrandom(data + got, BIG - got, 0);
		ck_assert_int_gt(n, 0);
		got += (size_t)n;
	}
	const char *const cat[] = {addr, "cat", NULL};
	run_cli_v(&r, data, BIG, true, cat);
	expect(&r, 0, NULL, "");
	ck_assert_uint_eq(r.out_len, BIG);
	ck_assert_msg(memcmp(r.out, data, BIG) == 0, "the bytes through cat differ");
	run_free(&r);
	/* The smallest window: many grants, the same bytes. */
	const char *const small[] = {"--window", "4K", addr, "cat", NULL};
	run_cli_v(&r, data, BIG / 16, true, small);
	expect(&r, 0, NULL, "");
	ck_assert_uint_eq(r.out_len, BIG / 16);
	ck_assert_msg(memcmp(r.out, data, BIG / 16) == 0, "the bytes through cat differ (--window 4K)");
	run_free(&r);
	free(data);

	run_cli(&r, addr, "sh", "echo out; echo err >&2; exit 7");
	expect(&r, 7, "out\n", NULL);
	ck_assert_str_eq(r.err, "err\n");
	run_free(&r);
	run_cli(&r, addr, "sh", "kill -TERM $$");
	expect(&r, 128 + SIGTERM, "", "");
	ck_assert_msg(WIFEXITED(r.wstatus), "the CLI itself was killed: %#x", r.wstatus);
	run_free(&r);

	/* The daemon's ERROR frame (idle-timeout) is printed; the status is 255. */
	run_cli(&r, addr, "idle");
	expect(&r, 255, "", "udo-vsock: ERR timeout ");
	run_free(&r);
	await_process("sleep", "1006", false);

	run_cli(&r, addr, "nosuch");
	expect(&r, 1, "", "unknown-command");
	run_free(&r);
	run_cli(&r, "-t", addr, "nosuch");
	expect(&r, 255, "", "unknown-command");
	run_free(&r);
	run_cli(&r, "-t", "-c", "2", "vsock:1:1", "shell");
	expect(&r, 255, "", "cannot connect");
	run_free(&r);
	daemon_down(&d);
}
END_TEST

/* Without -t the CLI forwards SIGTERM to the remote program (and exits
 * with its status); a second SIGINT within a second ends the CLI, and the
 * daemon then kills the program; a closed stdout gets the program
 * SIGPIPE, as in a local pipeline. */
START_TEST(test_session_signals)
{
	struct daemon d;
	struct cli_child k;
	struct run r;
	char addr[64];
	daemon_up(&d, NULL, session_sections, addr, sizeof(addr));

	const char *const sleeper[] = {addr, "sh", "exec sleep 1004", NULL};
	int in = cli_spawn_held(&k, sleeper);
	await_process("sleep", "1004", true);
	kill(k.pid, SIGTERM);
	cli_finish(&k, &r);
	close(in);
	expect(&r, 128 + SIGTERM, "", "");
	ck_assert_msg(WIFEXITED(r.wstatus), "the CLI itself was killed: %#x", r.wstatus);
	run_free(&r);

	const char *const stubborn[] = {addr, "sh", "trap '' INT; sleep 1005", NULL};
	in = cli_spawn_held(&k, stubborn);
	await_process("sleep", "1005", true);
	kill(k.pid, SIGINT);
	await_signal_taken(k.pid, SIGINT);
	kill(k.pid, SIGINT);
	cli_finish(&k, &r);
	close(in);
	ck_assert_msg(WIFSIGNALED(r.wstatus) && WTERMSIG(r.wstatus) == SIGINT, "status %#x, stderr %s", r.wstatus,
	              r.err);
	run_free(&r);
	await_process("sleep", "1005", false);

	/* yes | head -c 4096: the CLI's stdout closes under it. */
	int p[2];
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		if (null < 0 || dup2(null, 0) < 0 || dup2(p[1], 1) < 0)
			_exit(126);
		execl(CLI_BIN, "udo-vsock", addr, "yes", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	char buf[4096];
	for (size_t got = 0; got < sizeof(buf);) {
		ssize_t n = read(p[0], buf + got, sizeof(buf) - got);
		ck_assert_int_gt(n, 0);
		got += (size_t)n;
	}
	ck_assert_int_eq(memcmp(buf, "y\ny\n", 4), 0);
	close(p[0]);
	int status = wait_child(pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGPIPE, "status %#x", status);
	daemon_down(&d);
}
END_TEST

/* ------------------------------------------------ hybrid vsock (vsock-mux) */

struct vmm {
	pid_t pid;
	char path[200];
};

/* Starts tests/fake-vmm in MODE (extra option pair OPT/OPTARG may be NULL)
 * serving one connection; waits for its "ready". */
static void vmm_start(struct vmm *v, const char *mode, const char *opt, const char *optarg)
{
	int p[2];
	snprintf(v->path, sizeof(v->path), "%s/vmm.sock", tmpdir);
	unlink(v->path);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	v->pid = fork();
	ck_assert_int_ge(v->pid, 0);
	if (v->pid == 0) {
		if (dup2(p[1], 1) < 0)
			_exit(126);
		if (opt)
			execl(VMM_BIN, "fake-vmm", "-n", "1", "-m", mode, opt, optarg, v->path, (char *)NULL);
		else
			execl(VMM_BIN, "fake-vmm", "-n", "1", "-m", mode, v->path, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	char buf[16] = "";
	ssize_t n;
	do
		n = read(p[0], buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	close(p[0]);
	ck_assert_msg(n == 6 && strcmp(buf, "ready\n") == 0, "fake-vmm did not start: '%s'", buf);
}

/* Waits for the fake VMM (it exits after its one connection). */
static void vmm_join(struct vmm *v)
{
	int status = wait_child(v->pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "fake-vmm status %#x", status);
}

/* The mux address of V for guest PORT. */
static const char *mux_addr(const struct vmm *v, unsigned int port)
{
	static char addr[260];
	snprintf(addr, sizeof(addr), "vsock-mux:%s:%u", v->path, port);
	return addr;
}

/* OK path: CONNECT, OK, then requests and replies relayed to the guest. */
START_TEST(test_mux_ok)
{
	struct server s;
	struct vmm v;
	struct run r;
	server_start(&s, "vsock", 2, 0);
	vmm_start(&v, "ok", NULL, NULL);
	run_cli(&r, mux_addr(&v, s.port), "data");
	expect(&r, 0, "alpha\n\n\n two  spaces\t\n", "");
	run_free(&r);
	vmm_join(&v);

	/* A batch through the relay. */
	size_t len = 0;
	char in[1000 * 16], want[1000 * 16];
	size_t olen = 0;
	for (int i = 0; i < 1000; i++) {
		len += (size_t)sprintf(in + len, "ping %d\n", i);
		olen += (size_t)sprintf(want + olen, "OK pong %d\n", i);
	}
	vmm_start(&v, "ok", NULL, NULL);
	const char *const args[] = {mux_addr(&v, s.port), NULL};
	run_cli_v(&r, in, len, true, args);
	expect(&r, 0, NULL, "");
	ck_assert_uint_eq(r.out_len, olen);
	ck_assert(memcmp(r.out, want, olen) == 0);
	run_free(&r);
	vmm_join(&v);
	server_join(&s);
}
END_TEST

/* The VMM relays to a unix-socket "guest" too (fake-vmm -u). */
START_TEST(test_mux_unix_guest)
{
	struct server s;
	struct vmm v;
	struct run r;
	char path[200];
	snprintf(path, sizeof(path), "%s/guest.sock", tmpdir);
	server_start(&s, path, 1, 0);
	vmm_start(&v, "ok", "-u", path);
	run_cli(&r, mux_addr(&v, 5000), "ping", "via unix");
	expect(&r, 0, "pong \"via unix\"\n", "");
	run_free(&r);
	vmm_join(&v);
	server_join(&s);
}
END_TEST

/* Nothing listens on the guest port, or the VMM just closes: exit 3. */
START_TEST(test_mux_closed_before_ok)
{
	struct server s;
	struct vmm v;
	struct run r;
	char port[16];
	server_start(&s, "vsock", 0, 0); /* a port nobody listens on */
	server_join(&s);
	vmm_start(&v, "ok", NULL, NULL);
	run_cli(&r, mux_addr(&v, s.port), "ping");
	snprintf(port, sizeof(port), "port %u", s.port);
	expect(&r, 3, "", "nothing listens on guest port");
	ck_assert_ptr_nonnull(strstr(r.err, port));
	run_free(&r);
	vmm_join(&v);

	vmm_start(&v, "close", NULL, NULL);
	run_cli(&r, mux_addr(&v, 5000), "ping");
	expect(&r, 3, "", "nothing listens on guest port 5000");
	run_free(&r);
	vmm_join(&v);
}
END_TEST

/* An overlong or malformed OK line is a protocol error: exit 5. */
START_TEST(test_mux_bad_ok)
{
	struct vmm v;
	struct run r;
	vmm_start(&v, "overlong", NULL, NULL);
	run_cli(&r, mux_addr(&v, 5000), "ping");
	expect(&r, 5, "", "longer than");
	run_free(&r);
	vmm_join(&v);
	vmm_start(&v, "malformed", NULL, NULL);
	run_cli(&r, "--retry", "3", mux_addr(&v, 5000), "ping"); /* not retried */
	expect(&r, 5, "", "malformed");
	run_free(&r);
	vmm_join(&v);
}
END_TEST

/* A VMM that sends no OK line: --no-ok works; without it, connect times out (4). */
START_TEST(test_mux_no_ok)
{
	struct server s;
	struct vmm v;
	struct run r;
	server_start(&s, "vsock", 2, 0);
	vmm_start(&v, "no-ok", NULL, NULL);
	run_cli(&r, "--no-ok", mux_addr(&v, s.port), "ping", "old vmm");
	expect(&r, 0, "pong \"old vmm\"\n", "");
	run_free(&r);
	vmm_join(&v);
	vmm_start(&v, "no-ok", NULL, NULL);
	run_cli(&r, "-c", "0.5", mux_addr(&v, s.port), "ping");
	expect(&r, 4, "", "timed out");
	run_free(&r);
	vmm_join(&v);
	server_join(&s);
}
END_TEST

/* --no-ok against a VMM that does send "OK <port>": the line is skipped,
 * never printed as the reply to the first request. */
START_TEST(test_mux_no_ok_but_ok)
{
	struct server s;
	struct vmm v;
	struct run r;
	server_start(&s, "vsock", 2, 0);
	vmm_start(&v, "ok", NULL, NULL);
	run_cli(&r, "--no-ok", mux_addr(&v, s.port), "ping", "new vmm");
	expect(&r, 0, "pong \"new vmm\"\n", "");
	run_free(&r);
	vmm_join(&v);
	static const char in[] = "ping 1\nping 2\n";
	vmm_start(&v, "ok", NULL, NULL);
	const char *const args[] = {"--no-ok", mux_addr(&v, s.port), NULL};
	run_cli_v(&r, in, sizeof(in) - 1, false, args);
	expect(&r, 0, "OK pong 1\nOK pong 2\n", "");
	run_free(&r);
	vmm_join(&v);
	server_join(&s);
}
END_TEST

/* A VMM that never answers CONNECT: the connect timeout applies (exit 4). */
START_TEST(test_mux_silent)
{
	struct vmm v;
	struct run r;
	vmm_start(&v, "silent", NULL, NULL);
	run_cli(&r, "-c", "0.5", mux_addr(&v, 5000), "ping");
	expect(&r, 4, "", "timed out");
	ck_assert_int_lt(r.ms, 10000);
	run_free(&r);
	vmm_join(&v);
}
END_TEST

/* Fixture: a temp directory and the hygiene baseline. */
static void setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	tmpdir_setup();
	hygiene_setup();
}

/* Fixture end: hygiene check, then the temp directory goes. */
static void teardown(void)
{
	hygiene_check();
	tmpdir_teardown();
}

/* The suite. */
static Suite *cli_suite(void)
{
	Suite *s = suite_create("vsock_cli");
	TCase *tc = tcase_create("oneshot");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_ok);
	tcase_add_test(tc, test_data_exact);
	tcase_add_test(tc, test_quoting_on_wire);
	tcase_add_test(tc, test_err);
	tcase_add_test(tc, test_usage);
	tcase_add_test(tc, test_connect_failed);
	tcase_add_test(tc, test_reply_timeout);
	tcase_add_test(tc, test_protocol_errors);
	tcase_add_test(tc, test_raw);
	tcase_add_test(tc, test_unix);
	suite_add_tcase(s, tc);

	tc = tcase_create("batch");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_batch_10000);
	tcase_add_test(tc, test_batch_both_full);
	tcase_add_test(tc, test_batch_mixed);
	tcase_add_test(tc, test_batch_raw);
	tcase_add_test(tc, test_interactive);
	tcase_add_test(tc, test_tty_escapes);
	suite_add_tcase(s, tc);

	tc = tcase_create("daemon");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_unasked_busy);
	tcase_add_test(tc, test_idle_timeout);
	tcase_add_test(tc, test_interactive_idle);
	tcase_add_test(tc, test_batch_unambiguous);
	tcase_add_test(tc, test_usage_message);
	tcase_add_test(tc, test_proxy_handoff);
	suite_add_tcase(s, tc);

	tc = tcase_create("session");
	tcase_add_checked_fixture(tc, session_setup, teardown);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, test_session_tty);
	tcase_add_test(tc, test_session_tty_restore);
	tcase_add_test(tc, test_session_pipes);
	tcase_add_test(tc, test_session_signals);
	suite_add_tcase(s, tc);

	tc = tcase_create("retry");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_retry_late_listen);
	tcase_add_test(tc, test_retry_reset);
	suite_add_tcase(s, tc);

	tc = tcase_create("vsock-mux");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_mux_ok);
	tcase_add_test(tc, test_mux_unix_guest);
	tcase_add_test(tc, test_mux_closed_before_ok);
	tcase_add_test(tc, test_mux_bad_ok);
	tcase_add_test(tc, test_mux_no_ok);
	tcase_add_test(tc, test_mux_no_ok_but_ok);
	tcase_add_test(tc, test_mux_silent);
	suite_add_tcase(s, tc);
	return s;
}

/* Runs the suite; exit status 0 when every test passed. */
int main(void)
{
	SRunner *sr = srunner_create(cli_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
