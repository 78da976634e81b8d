/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* daemon-harness.c - run the built udo-vsockd as a real process in tests */
#include "daemon-harness.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Milliseconds left until DEADLINE, never negative. */
static int remaining_ms(int64_t deadline)
{
	int64_t left = deadline - now_ms();

	return left > 0 ? (int)left : 0;
}

const char *daemon_binary(void)
{
	const char *env = getenv("UDO_TEST_VSOCKD");

	return env != NULL && env[0] != '\0' ? env : TEST_BUILDDIR "/src/udo-vsockd/udo-vsockd";
}

/* TIMEOUT_MS stretched by UDO_TEST_PATIENCE (an integer factor, default
 * 1), for the waits on the daemon starting and stopping only: under
 * valgrind (scripts/test's memcheck stage) the daemon starts 20 to 50
 * times slower. Latency bounds are never stretched. */
static int patient_ms(int timeout_ms)
{
	const char *env = getenv("UDO_TEST_PATIENCE");
	long factor = env != NULL ? strtol(env, NULL, 10) : 1;

	return factor > 1 && factor <= 20 ? timeout_ms * (int)factor : timeout_ms;
}

/* Turns a wait status into the harness convention: code, 128+signal. */
static int exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

/* Waits up to TIMEOUT_MS for PID; returns 1 with *STATUS once reaped, 0 if still running. */
static int wait_bounded(pid_t pid, int *status, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;

	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 1;
		if (r < 0 && errno != EINTR)
			ck_abort_msg("waitpid(%d): %s", (int)pid, strerror(errno));
		if (now_ms() >= deadline)
			return 0;
		sleep_ms(5);
	}
}

static void stat_drop(struct daemon *d);

void kill_and_reap(pid_t pid)
{
	int status;

	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}

int run_process(char *const argv[], char *out, size_t outlen, char *err, size_t errlen, int timeout_ms)
{
	int po[2], pe[2], status;
	size_t n[2] = {0, 0};
	char *bufs[2] = {out, err};
	size_t caps[2] = {outlen, errlen};

	ck_assert_int_eq(pipe2(po, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(pe, O_CLOEXEC), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(po[1], 1);
		dup2(pe[1], 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	struct pollfd pfd[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
	int64_t deadline = now_ms() + timeout_ms;
	int open_fds = 2, timed_out = 0;
	while (open_fds > 0) {
		int r = poll(pfd, 2, remaining_ms(deadline));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			timed_out = 1;
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (pfd[i].fd < 0 || pfd[i].revents == 0)
				continue;
			char tmp[4096];
			ssize_t got = read(pfd[i].fd, tmp, sizeof(tmp));
			if (got <= 0) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
				open_fds--;
				continue;
			}
			size_t room = caps[i] > n[i] + 1 ? caps[i] - n[i] - 1 : 0;
			size_t take = (size_t)got < room ? (size_t)got : room;
			memcpy(bufs[i] + n[i], tmp, take);
			n[i] += take;
		}
	}
	for (int i = 0; i < 2; i++) {
		if (pfd[i].fd >= 0)
			close(pfd[i].fd);
		if (caps[i] > 0)
			bufs[i][n[i]] = '\0';
	}
	if (timed_out || !wait_bounded(pid, &status, remaining_ms(deadline) + 100)) {
		kill_and_reap(pid);
		return -1;
	}
	return exit_code(status);
}

void write_file(const char *path, const char *text)
{
	char tmp[512];

	snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid());
	FILE *f = fopen(tmp, "w");
	ck_assert_msg(f != NULL, "fopen(%s): %s", tmp, strerror(errno));
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	/* Whatever the umask: the daemon's strict modes refuse group-writable files. */
	ck_assert_int_eq(fchmod(fileno(f), 0644), 0);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_msg(rename(tmp, path) == 0, "rename(%s): %s", path, strerror(errno));
}

void make_temp_dir(char *buf, size_t len)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(buf, len, "%s/udo-test.XXXXXX", tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	ck_assert_msg(mkdtemp(buf) != NULL, "mkdtemp(%s): %s", buf, strerror(errno));
}

/* nftw callback: removes one entry. */
static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

void remove_tree(const char *dir)
{
	if (dir[0] != '\0')
		nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int vsock_listen_any(unsigned int *port)
{
	struct sockaddr_vm addr = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = VMADDR_PORT_ANY};
	socklen_t len = sizeof(addr);
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_msg(fd >= 0, "socket(AF_VSOCK): %s", strerror(errno));
	ck_assert_msg(bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0, "bind: %s", strerror(errno));
	ck_assert_msg(getsockname(fd, (struct sockaddr *)&addr, &len) == 0, "getsockname: %s", strerror(errno));
	ck_assert_msg(listen(fd, 128) == 0, "listen: %s", strerror(errno));
	*port = addr.svm_port;
	return fd;
}

unsigned int free_vsock_port(void)
{
	return test_free_port();
}

void daemon_init(struct daemon *d)
{
	static int serial;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	memset(d, 0, sizeof(*d));
	d->notify_fd = -1;
	make_temp_dir(d->dir, sizeof(d->dir));
	snprintf(d->conf_path, sizeof(d->conf_path), "%s/udo-vsockd.conf", d->dir);
	snprintf(d->notify_name, sizeof(d->notify_name), "udo-test-notify-%d-%d", (int)getpid(), ++serial);
	d->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	ck_assert_msg(d->notify_fd >= 0, "socket(AF_UNIX): %s", strerror(errno));
	/* Abstract name: sun_path[0] is NUL; the length excludes a trailing NUL,
	 * as sd_notify computes it for NOTIFY_SOCKET=@NAME. */
	size_t n = strlen(d->notify_name);
	memcpy(sun.sun_path + 1, d->notify_name, n);
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
	ck_assert_msg(bind(d->notify_fd, (struct sockaddr *)&sun, len) == 0, "bind(@%s): %s", d->notify_name,
	              strerror(errno));
	int big = 1 << 20;
	setsockopt(d->notify_fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	d->port = free_vsock_port();
}

void daemon_write_config(struct daemon *d, const char *daemon_extra, const char *sections)
{
	char *text = NULL, backlog[32] = "", addr[300];

	if (d->backlog > 0)
		snprintf(backlog, sizeof(backlog), " backlog=%u", d->backlog);
	test_listen_address(d->port, addr, sizeof(addr));
	ck_assert_int_ge(asprintf(&text,
	                          "# written by the test harness\n"
	                          "[daemon]\n"
	                          "listen = %s%s\n"
	                          "allow = any\n"
	                          "%s\n"
	                          "[command ping]\nhandler = ping\n\n"
	                          "[command help]\nhandler = help\n\n"
	                          "[command version]\nhandler = version\n\n"
	                          "[command whoami]\nhandler = whoami\n\n"
	                          "[command stats]\nhandler = stats\n\n"
	                          "[command quit]\nhandler = quit\n\n"
	                          "%s\n",
	                          addr, backlog, daemon_extra != NULL ? daemon_extra : "",
	                          sections != NULL ? sections : ""),
	                 0);
	write_file(d->conf_path, text);
	free(text);
}

/* Reads every notify message waiting now. Returns how many. */
static int notify_drain(struct daemon *d)
{
	int got = 0;

	for (;;) {
		char buf[4097];
		ssize_t n = recv(d->notify_fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return got;
		}
		buf[n] = '\0';
		ck_assert_msg(d->nnotes < HARNESS_NOTES_MAX, "too many notify messages");
		d->notes[d->nnotes] = strdup(buf);
		ck_assert_ptr_nonnull(d->notes[d->nnotes]);
		d->nnotes++;
		got++;
	}
}

/* True if MSG has a line starting with PREFIX. */
static int note_has(const char *msg, const char *prefix)
{
	size_t n = strlen(prefix);

	for (const char *p = msg; p != NULL && *p != '\0';) {
		if (strncmp(p, prefix, n) == 0)
			return 1;
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return 0;
}

int daemon_alive(struct daemon *d)
{
	if (d->pid <= 0)
		return 0;
	pid_t r = waitpid(d->pid, &d->status, WNOHANG);
	if (r == d->pid) {
		d->pid = 0;
		return 0;
	}
	return 1;
}

const char *daemon_wait_notify(struct daemon *d, const char *prefix, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;

	for (;;) {
		notify_drain(d);
		for (; d->note_cursor < d->nnotes; d->note_cursor++) {
			if (note_has(d->notes[d->note_cursor], prefix))
				return d->notes[d->note_cursor++];
		}
		if (now_ms() >= deadline)
			return NULL;
		if (!daemon_alive(d)) {
			/* Its last messages may still be queued. */
			if (notify_drain(d) > 0)
				continue;
			return NULL;
		}
		struct pollfd pfd = {d->notify_fd, POLLIN, 0};
		int wait = remaining_ms(deadline);
		poll(&pfd, 1, wait < 50 ? wait : 50);
	}
}

void daemon_collect_notify(struct daemon *d, int ms)
{
	int64_t deadline = now_ms() + ms;

	do {
		struct pollfd pfd = {d->notify_fd, POLLIN, 0};
		poll(&pfd, 1, remaining_ms(deadline));
		notify_drain(d);
	} while (now_ms() < deadline);
}

int daemon_count_notify(const struct daemon *d, const char *prefix)
{
	int n = 0;

	for (int i = 0; i < d->nnotes; i++)
		n += note_has(d->notes[i], prefix);
	return n;
}

/* In the forked child: sets up the environment and fds, then execs. */
static void daemon_exec(struct daemon *d, const struct daemon_opts *opts, pid_t parent)
{
	char value[80];

	/* Die with the test, whatever way it ends. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDNAMES");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	snprintf(value, sizeof(value), "@%s", d->notify_name);
	setenv("NOTIFY_SOCKET", value, 1);
	/* Test modules come from the build tree. Under user-mode Linux its
	 * owner is whoever built it, not the daemon's root: strict modes
	 * would refuse them then (an option's env may still say otherwise). */
	struct stat st;
	if (stat(TEST_BUILDDIR, &st) == 0 && st.st_uid != 0 && st.st_uid != geteuid())
		setenv("UDO_VSOCKD_STRICT_MODES", "no", 1);
	if (opts != NULL) {
		for (size_t i = 0; i < sizeof(opts->env) / sizeof(opts->env[0]) && opts->env[i] != NULL; i++)
			putenv((char *)opts->env[i]);
		if (opts->watchdog_pid_self) {
			snprintf(value, sizeof(value), "%d", (int)getpid());
			setenv("WATCHDOG_PID", value, 1);
		}
		if (opts->log_path != NULL) {
			int fd = open(opts->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
			if (fd < 0 || dup2(fd, STDERR_FILENO) < 0)
				_exit(124);
			close(fd);
		}
		if (opts->nofile > 0) {
			struct rlimit rl = {opts->nofile, opts->nofile};
			if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
				_exit(125);
		}
		if (opts->listen_fd >= 0) {
			if (opts->listen_fd == 3) {
				fcntl(3, F_SETFD, 0);
			} else if (dup2(opts->listen_fd, 3) < 0) {
				_exit(126);
			}
			setenv("LISTEN_FDS", "1", 1);
			snprintf(value, sizeof(value), "%d", (int)getpid());
			setenv("LISTEN_PID", value, 1);
		}
	}
	const char *bin = daemon_binary();
	const char *extra = opts != NULL ? opts->extra_arg : NULL;
	char *argv[] = {(char *)"udo-vsockd", (char *)"-c", d->conf_path, (char *)extra, NULL};
	execv(bin, argv);
	fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
	_exit(127);
}

int daemon_start(struct daemon *d, const struct daemon_opts *opts, int timeout_ms)
{
	pid_t parent = getpid();

	fflush(NULL);
	d->pid = fork();
	ck_assert_msg(d->pid >= 0, "fork: %s", strerror(errno));
	if (d->pid == 0)
		daemon_exec(d, opts, parent);
	if (daemon_wait_notify(d, "READY=1", patient_ms(timeout_ms)) != NULL)
		return 0;
	if (d->pid > 0) {
		kill_and_reap(d->pid);
		d->pid = 0;
	}
	return -1;
}

void daemon_signal(struct daemon *d, int sig)
{
	ck_assert_msg(d->pid > 0, "no daemon to signal");
	ck_assert_int_eq(kill(d->pid, sig), 0);
}

int daemon_wait_exit(struct daemon *d, int timeout_ms)
{
	if (d->pid <= 0)
		return exit_code(d->status);
	if (!wait_bounded(d->pid, &d->status, patient_ms(timeout_ms))) {
		kill_and_reap(d->pid);
		d->pid = 0;
		return -1;
	}
	d->pid = 0;
	return exit_code(d->status);
}

int daemon_stop(struct daemon *d, int timeout_ms)
{
	stat_drop(d);
	if (d->pid > 0)
		kill(d->pid, SIGTERM);
	return daemon_wait_exit(d, timeout_ms);
}

void daemon_cleanup(struct daemon *d)
{
	stat_drop(d);
	if (d->pid > 0) {
		kill_and_reap(d->pid);
		d->pid = 0;
	}
	if (d->notify_fd >= 0)
		close(d->notify_fd);
	d->notify_fd = -1;
	for (int i = 0; i < d->nnotes; i++)
		free(d->notes[i]);
	d->nnotes = d->note_cursor = 0;
	remove_tree(d->dir);
	d->dir[0] = '\0';
}

int process_fd_count(pid_t pid)
{
	char path[64];
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	DIR *dir = opendir(path);
	ck_assert_msg(dir != NULL, "%s: %s", path, strerror(errno));
	for (struct dirent *e; (e = readdir(dir)) != NULL;)
		n += e->d_name[0] != '.';
	closedir(dir);
	return n;
}

void need_nofile(unsigned int n)
{
	struct rlimit rl;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < n && rl.rlim_max >= n) {
		rl.rlim_cur = n;
		ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
	ck_assert_msg(rl.rlim_cur >= n, "RLIMIT_NOFILE %llu too low (%u needed, hard limit %llu)",
	              (unsigned long long)rl.rlim_cur, n, (unsigned long long)rl.rlim_max);
}

int process_child_count(pid_t pid)
{
	DIR *dir = opendir("/proc");
	int n = 0;

	if (dir == NULL)
		return -1;
	for (struct dirent *e; (e = readdir(dir)) != NULL;) {
		char path[300], buf[512];
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		FILE *f = fopen(path, "re");
		if (f == NULL)
			continue;
		size_t got = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[got] = '\0';
		/* The name may hold anything: the fields follow its last ')'. */
		char *rp = strrchr(buf, ')');
		int ppid;
		if (rp != NULL && sscanf(rp + 1, " %*c %d", &ppid) == 1 && ppid == (int)pid)
			n++;
	}
	closedir(dir);
	return n;
}

/* Waits up to TIMEOUT_MS until COUNT(PID) is WANT; returns the last count. */
static int wait_count(int (*count)(pid_t), pid_t pid, int want, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	int n;

	while ((n = count(pid)) != want && now_ms() < deadline)
		sleep_ms(10); /* poll interval */
	return n;
}

int wait_fd_count(pid_t pid, int want, int timeout_ms)
{
	return wait_count(process_fd_count, pid, want, timeout_ms);
}

int wait_child_count(pid_t pid, int want, int timeout_ms)
{
	return wait_count(process_child_count, pid, want, timeout_ms);
}

long process_rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	}
	fclose(f);
	return kib;
}

int vsock_connect_local(unsigned int port, int timeout_ms, unsigned long long rcvbuf)
{
	return test_connect_port(port, timeout_ms, rcvbuf);
}

int client_try_open(struct client *c, unsigned int port)
{
	c->fd = vsock_connect_local(port, 2000, 0);
	c->eof = 0;
	c->err = 0;
	c->len = 0;
	return c->fd >= 0 ? 0 : -1;
}

void client_open_rcvbuf(struct client *c, unsigned int port, unsigned long long rcvbuf)
{
	c->fd = vsock_connect_local(port, 2000, rcvbuf);
	c->eof = 0;
	c->err = 0;
	c->len = 0;
	ck_assert_msg(c->fd >= 0, "connect to CID 1 port %u (buffer %llu): %s", port, rcvbuf, strerror(errno));
}

void client_open_unix(struct client *c, const char *path)
{
	memset(c, 0, sizeof(*c));
	c->fd = test_connect_unix(path, 0);
	ck_assert_msg(c->fd >= 0, "connect to %s: %s", path, strerror(errno));
}

void client_open(struct client *c, unsigned int port)
{
	ck_assert_msg(client_try_open(c, port) == 0, "connect to CID 1 port %u: %s", port, strerror(errno));
}

void client_close(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

ssize_t client_send(struct client *c, const void *data, size_t len, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	size_t off = 0;

	while (off < len) {
		ssize_t n = send(c->fd, (const char *)data + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return off > 0 ? (ssize_t)off : -1;
		int left = remaining_ms(deadline);
		if (left == 0)
			break;
		struct pollfd pfd = {c->fd, POLLOUT, 0};
		poll(&pfd, 1, left);
	}
	return (ssize_t)off;
}

void client_send_str(struct client *c, const char *text)
{
	size_t len = strlen(text);
	ssize_t n = client_send(c, text, len, 5000);

	ck_assert_msg(n == (ssize_t)len, "sent %zd of %zu bytes: %s", n, len, n < 0 ? strerror(errno) : "timeout");
}

/* Receives what is waiting into C's buffer, waiting up to TIMEOUT_MS.
 * Returns 1 if bytes came, 0 on timeout, -1 at end of input or when full. */
static int client_fill(struct client *c, int timeout_ms)
{
	if (c->eof)
		return -1;
	if (c->len == sizeof(c->buf))
		return -1;
	struct pollfd pfd = {c->fd, POLLIN, 0};
	int r = poll(&pfd, 1, timeout_ms);
	if (r < 0 && errno == EINTR)
		return 0;
	if (r <= 0)
		return 0;
	ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, MSG_DONTWAIT);
	if (n > 0) {
		c->len += (size_t)n;
		return 1;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	c->err = n < 0 ? errno : 0;
	c->eof = 1;
	return -1;
}

int client_read_line(struct client *c, char *line, size_t cap, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;

	for (;;) {
		char *lf = memchr(c->buf, '\n', c->len);
		if (lf != NULL) {
			size_t n = (size_t)(lf - c->buf);
			if (n + 1 > cap)
				return -3;
			memcpy(line, c->buf, n);
			line[n] = '\0';
			c->len -= n + 1;
			memmove(c->buf, lf + 1, c->len);
			return (int)n;
		}
		if (c->len == sizeof(c->buf))
			return -3;
		int r = client_fill(c, remaining_ms(deadline));
		if (r < 0)
			return -2;
		if (r == 0 && now_ms() >= deadline)
			return -1;
	}
}

int client_read_reply(struct client *c, struct reply *r, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	char line[HARNESS_STATUS_MAX];

	r->ndata = 0;
	r->status[0] = '\0';
	for (;;) {
		int n = client_read_line(c, line, sizeof(line), remaining_ms(deadline));
		if (n < 0)
			return n;
		if (strncmp(line, "D ", 2) == 0) {
			if (r->ndata < HARNESS_REPLY_DATA_MAX)
				snprintf(r->data[r->ndata], sizeof(r->data[0]), "%.*s", HARNESS_LINE_MAX - 1, line + 2);
			r->ndata++;
			continue;
		}
		if (strcmp(line, "OK") == 0 || strncmp(line, "OK ", 3) == 0 || strncmp(line, "ERR ", 4) == 0) {
			snprintf(r->status, sizeof(r->status), "%s", line);
			return 0;
		}
		snprintf(r->status, sizeof(r->status), "%s", line);
		return -3;
	}
}

char *client_read_long_line(struct client *c, size_t *len, int timeout_ms, int *rc)
{
	int64_t deadline = now_ms() + timeout_ms;
	char *out = NULL;
	size_t n = 0;

	for (;;) {
		char *lf = memchr(c->buf, '\n', c->len);
		size_t take = lf != NULL ? (size_t)(lf - c->buf) : c->len;
		char *grown = realloc(out, n + take + 1);
		ck_assert_ptr_nonnull(grown);
		out = grown;
		memcpy(out + n, c->buf, take);
		n += take;
		out[n] = '\0';
		size_t used = lf != NULL ? take + 1 : take;
		c->len -= used;
		memmove(c->buf, c->buf + used, c->len);
		if (lf != NULL) {
			*len = n;
			*rc = 0;
			return out;
		}
		int r = client_fill(c, remaining_ms(deadline));
		if (r < 0 || (r == 0 && now_ms() >= deadline)) {
			*rc = r < 0 ? -2 : -1;
			free(out);
			return NULL;
		}
	}
}

void client_read_raw_reply(struct client *c, struct raw_reply *r, int timeout_ms)
{
	memset(r, 0, sizeof(*r));
	for (;;) {
		size_t len;
		int rc;
		char *line = client_read_long_line(c, &len, timeout_ms, &rc);
		ck_assert_msg(rc != -1, "no reply line within %d ms", timeout_ms);
		ck_assert_msg(rc != -2, "connection closed while waiting for a reply");
		if (len >= 2 && line[0] == 'D' && line[1] == ' ') {
			r->databytes += len - 2;
			if (r->ndata < HARNESS_REPLY_DATA_MAX) {
				r->data[r->ndata] = malloc(len - 1);
				ck_assert_ptr_nonnull(r->data[r->ndata]);
				memcpy(r->data[r->ndata], line + 2, len - 1);
				r->datalen[r->ndata] = len - 2;
			}
			r->ndata++;
			free(line);
			continue;
		}
		snprintf(r->status, sizeof(r->status), "%s", line);
		free(line);
		return;
	}
}

const char *reply_value(const struct reply *r, const char *key)
{
	size_t n = strlen(key);

	for (int i = 0; i < r->ndata && i < HARNESS_REPLY_DATA_MAX; i++) {
		if (strncmp(r->data[i], key, n) == 0 && r->data[i][n] == '=')
			return r->data[i] + n + 1;
	}
	return NULL;
}

long long reply_number(const struct reply *r, const char *key)
{
	const char *v = reply_value(r, key);

	return v != NULL ? strtoll(v, NULL, 10) : -1;
}

void raw_reply_free(struct raw_reply *r)
{
	for (int i = 0; i < r->ndata && i < HARNESS_REPLY_DATA_MAX; i++)
		free(r->data[i]);
	r->ndata = 0;
}

void client_request(struct client *c, const char *line, struct reply *r, int timeout_ms)
{
	char *text = NULL;

	ck_assert_int_ge(asprintf(&text, "%s\n", line), 0);
	client_send_str(c, text);
	free(text);
	int rc = client_read_reply(c, r, timeout_ms);
	ck_assert_msg(rc == 0, "request '%.80s': %s (last line '%.200s')", line,
	              rc == -1   ? "no reply in time"
	              : rc == -2 ? "connection closed"
	                         : "malformed reply",
	              r->status);
}

void client_expect_line(struct client *c, const char *want, int timeout_ms)
{
	char line[HARNESS_LINE_MAX];
	int n = client_read_line(c, line, sizeof(line), timeout_ms);

	ck_assert_msg(n >= 0, "expected '%s', got %s", want,
	              n == -1   ? "nothing in time"
	              : n == -2 ? "end of input"
	                        : "a line too long");
	ck_assert_msg((size_t)n == strlen(want) && memcmp(line, want, (size_t)n) == 0, "got '%s', expected '%s'", line,
	              want);
}

int client_wait_eof(struct client *c, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;

	if (c->len > 0)
		return 0;
	for (;;) {
		int r = client_fill(c, remaining_ms(deadline));
		if (r < 0)
			return c->eof && c->len == 0;
		if (r > 0)
			return 0;
		if (now_ms() >= deadline)
			return 0;
	}
}

int client_silent_for(struct client *c, int ms)
{
	int64_t deadline = now_ms() + ms;

	if (c->len > 0 || c->eof)
		return 0;
	while (now_ms() < deadline) {
		int r = client_fill(c, remaining_ms(deadline));
		if (r != 0)
			return 0;
	}
	return 1;
}

/* Echoes one connection FD until end of input, then half-closes. */
static void echo_connection(int fd)
{
	char buf[65536];

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(fd, buf + off, (size_t)(n - off));
			if (w <= 0)
				_exit(1);
			off += w;
		}
	}
	shutdown(fd, SHUT_WR);
}

pid_t handoff_echo_start(const char *path)
{
	char addr[300];

	snprintf(addr, sizeof(addr), "unix:%s", path);
	fflush(NULL);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl(TEST_BUILDDIR "/examples/handoff-echo", "handoff-echo", addr, (char *)NULL);
		_exit(127);
	}
	wait_file_exists(path, 10000);
	return pid;
}

pid_t echo_service_start(int lfd)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		signal(SIGCHLD, SIG_IGN);
		for (;;) {
			int fd = accept(lfd, NULL, NULL);
			if (fd < 0)
				_exit(0);
			if (fork() == 0) {
				echo_connection(fd);
				_exit(0);
			}
			close(fd);
		}
	}
	close(lfd);
	return pid;
}

/* Sends STATS over D's own connection into R, (re)opening it as needed.
 * Returns 0, or -1 if the daemon closed the connection first. */
static int stat_ask(struct daemon *d, struct reply *r)
{
	if (d->statc != NULL && d->statc->fd < 0) {
		free(d->statc);
		d->statc = NULL;
	}
	if (d->statc == NULL) {
		d->statc = calloc(1, sizeof(*d->statc));
		ck_assert_ptr_nonnull(d->statc);
		client_open(d->statc, d->port);
		d->stat_connects++;
	}
	d->stat_requests++;
	client_send_str(d->statc, "STATS\n");
	int rc = client_read_reply(d->statc, r, 5000);
	if (rc == -2) {
		/* Closed under us (an idle timeout, a reload's drain): try anew. */
		client_close(d->statc);
		return -1;
	}
	ck_assert_msg(rc == 0, "STATS: %s (last line '%.200s')", rc == -1 ? "no reply in time" : "malformed reply",
	              r->status);
	ck_assert_msg(strcmp(r->status, "OK") == 0, "STATS: %s", r->status);
	return 0;
}

long long daemon_stat(struct daemon *d, const char *key)
{
	static struct reply r;

	ck_assert_msg(d->pid > 0, "no daemon to ask for STATS");
	if (stat_ask(d, &r) < 0 && stat_ask(d, &r) < 0)
		ck_abort_msg("STATS: the daemon closed the harness's connection twice");
	const char *value = reply_value(&r, key);
	ck_assert_msg(value != NULL, "STATS has no %s= line", key);
	long long v = strtoll(value, NULL, 10);
	/* Not the harness's own doing. */
	if (strcmp(key, "commands") == 0)
		v -= d->stat_requests;
	else if (strcmp(key, "connections_total") == 0)
		v -= d->stat_connects;
	else if (strcmp(key, "connections") == 0)
		v -= 1;
	return v;
}

long long daemon_wait_stat(struct daemon *d, const char *key, long long n, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	long long v;

	while ((v = daemon_stat(d, key)) < n) {
		if (now_ms() >= deadline)
			ck_abort_msg("waited %d ms for STATS %s >= %lld: it is %lld", timeout_ms, key, n, v);
		sleep_ms(10);
	}
	return v;
}

void daemon_wait_stat_eq(struct daemon *d, const char *key, long long n, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	long long v;

	while ((v = daemon_stat(d, key)) != n) {
		if (now_ms() >= deadline)
			ck_abort_msg("waited %d ms for STATS %s == %lld: it is %lld", timeout_ms, key, n, v);
		sleep_ms(10);
	}
}

/* Closes D's STATS connection without waiting for the daemon to notice. */
static void stat_drop(struct daemon *d)
{
	if (d->statc == NULL)
		return;
	client_close(d->statc);
	free(d->statc);
	d->statc = NULL;
}

void daemon_stat_close(struct daemon *d)
{
	if (d->statc == NULL)
		return;
	if (d->statc->fd < 0 || !daemon_alive(d)) {
		stat_drop(d);
		return;
	}
	int before = process_fd_count(d->pid);
	stat_drop(d);
	/* The daemon has closed its end: the connection holds nothing now. */
	WAIT_FOR(process_fd_count(d->pid) < before, 5000, "the daemon kept the harness's STATS connection");
}

void daemon_wait_idle(struct daemon *d, int timeout_ms)
{
	daemon_wait_stat_eq(d, "connections", 0, timeout_ms);
	daemon_stat_close(d);
}

int process_gone(pid_t pid)
{
	char path[64], buf[512];

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return 1;
	size_t got = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[got] = '\0';
	/* The state follows the name's last ')'. */
	char *rp = strrchr(buf, ')');
	return got == 0 || (rp != NULL && (rp[2] == 'Z' || rp[2] == 'X'));
}

void wait_process_gone(pid_t pid, int timeout_ms)
{
	WAIT_FOR(process_gone(pid), timeout_ms, "process %d still runs", (int)pid);
}

void wait_file_exists(const char *path, int timeout_ms)
{
	WAIT_FOR(access(path, F_OK) == 0, timeout_ms, "%s does not exist", path);
}

int file_contains(const char *path, const char *text)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	int found = 0;

	if (f == NULL)
		return 0;
	while (!found && getline(&line, &cap, f) >= 0)
		found = strstr(line, text) != NULL;
	free(line);
	fclose(f);
	return found;
}

void wait_file_contains(const char *path, const char *text, int timeout_ms)
{
	WAIT_FOR(file_contains(path, text), timeout_ms, "%s has no '%s'", path, text);
}

int daemon_maps(struct daemon *d, const char *name)
{
	char path[64];

	ck_assert_msg(d->pid > 0, "no daemon");
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)d->pid);
	ck_assert_msg(access(path, R_OK) == 0, "%s: %s", path, strerror(errno));
	return file_contains(path, name);
}

/* GETs PATH from the metrics endpoint on the unix socket SOCK with
 * HTTP/1.0 and returns the whole response (malloc'd), or NULL if SOCK
 * takes no connection. Fails the test if the answer takes over 5 s. */
char *metrics_http_get(const char *sock, const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char req[256];
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap);

	ck_assert(fd >= 0 && buf != NULL);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		free(buf);
		return NULL;
	}
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n", path);
	ck_assert(send(fd, req, (size_t)n, MSG_NOSIGNAL) == n);
	int64_t deadline = now_ms() + 5000;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int left = (int)(deadline - now_ms());
		ck_assert_msg(left > 0 && poll(&p, 1, left) == 1, "no whole answer to GET %s within 5 s", path);
		if (len + 4096 > cap)
			ck_assert((buf = realloc(buf, cap *= 2)) != NULL);
		ssize_t r = recv(fd, buf + len, cap - len - 1, 0);
		ck_assert_msg(r >= 0, "recv: %s", strerror(errno));
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	buf[len] = '\0';
	return buf;
}

/* The value of the sample SERIES (name and labels, exactly) on PAGE; 0
 * if the page has no such line (a counter not yet seen). */
long long metrics_sample(const char *page, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = page; (p = strstr(p, series)) != NULL; p += n) {
		if ((p == page || p[-1] == '\n') && p[n] == ' ')
			return strtoll(p + n + 1, NULL, 10);
	}
	return 0;
}
