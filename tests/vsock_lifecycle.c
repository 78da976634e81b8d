/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vsock_lifecycle - the guest lifecycle kinds over AF_VSOCK CID 1 inside
 * user-mode Linux, as root: FREEZE/THAW/FROZEN on an ext4 on the UML
 * block device /dev/ubdb (a writer blocks while frozen, PING still
 * answers, THAW, the auto-thaw, a reload and a stop each release it),
 * and SETTIME on UML's own clock. Run by tests/lifecycle_uml.sh, which
 * makes the image and boots UML with it (vsock-run's UDO_UML_UBD): it
 * never freezes or sets anything of the machine running the tests.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon-harness.h"

#define AUTO_THAW_MS 3000

static struct daemon D;
static char mnt[] = "/run/tmp/udo-lifecycle-fs";

/* Thaws the image, whoever froze it (EINVAL when nobody did). */
static void thaw_image(void)
{
	int fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ioctl(fd, FITHAW, 0);
	close(fd);
}

/* Starts D with FREEZE (on the image, or the default list when
 * FILESYSTEMS is NULL), THAW, FROZEN, SETTIME and TIME, and OPTS. */
static void start_opts(const char *filesystems, const struct daemon_opts *opts)
{
	char sections[1024];

	snprintf(sections, sizeof(sections),
	         "[command freeze]\nhandler = freeze\n%s%s%sauto-thaw = %dms\n\n"
	         "[command thaw]\nhandler = thaw\n\n[command frozen]\nhandler = frozen\n\n"
	         "[command settime]\nhandler = settime\n\n[command time]\nhandler = time\n",
	         filesystems != NULL ? "filesystems = " : "", filesystems != NULL ? filesystems : "",
	         filesystems != NULL ? "\n" : "", AUTO_THAW_MS);
	daemon_init(&D);
	daemon_write_config(&D, NULL, sections);
	ck_assert_msg(daemon_start(&D, opts, 10000) == 0, "udo-vsockd did not report READY=1 within 10 s");
}

/* start_opts with the log (stderr) in LOG_PATH when not NULL, on a
 * thawed image: a test that failed may have left its daemon killed with
 * the image frozen, so each test starts clean. */
static void start_logging(const char *filesystems, const char *log_path)
{
	struct daemon_opts opts = {.listen_fd = -1, .log_path = log_path};

	thaw_image();
	start_opts(filesystems, &opts);
}

/* start_logging with the log in the daemon's directory. */
static void start(const char *filesystems)
{
	start_logging(filesystems, NULL);
}

/* Stops D (thawing whatever it holds) and cleans up. */
static void stop(void)
{
	ck_assert_int_eq(daemon_stop(&D, 5000), 0);
	daemon_cleanup(&D);
}

/* A writer: a child that creates a file on the image, writes and
 * fsyncs it, then exits 0. */
struct writer {
	pid_t pid;
	int64_t started;
};

/* Starts a writer of FILE (a name on the image). */
static void writer_start(struct writer *w, const char *file)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", mnt, file);
	w->started = now_ms();
	w->pid = fork();
	ck_assert_int_ge(w->pid, 0);
	if (w->pid == 0) {
		static char block[65536];
		memset(block, 'x', sizeof(block));
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		_exit(fd >= 0 && write(fd, block, sizeof(block)) == (ssize_t)sizeof(block) && fsync(fd) == 0 ? 0 : 1);
	}
}

/* True once the writer has exited (reaped; it must have succeeded). */
static int writer_done(struct writer *w)
{
	int status;

	if (w->pid == 0)
		return 1;
	pid_t r = waitpid(w->pid, &status, WNOHANG);
	if (r == 0)
		return 0;
	ck_assert_int_eq(r, w->pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the writer failed (status 0x%x)", status);
	w->pid = 0;
	return 1;
}

/* The state letter of process PID in /proc (D: blocked in the kernel,
 * uninterruptibly, as a writer of a frozen filesystem is), or '?'. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return '?';
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	return p != NULL && p[1] == ' ' ? p[2] : '?';
}

/* Asserts the writer is held by the freeze: it is blocked in the kernel
 * (state D) and stays unfinished over several PING round trips, each
 * answered while the filesystem is frozen. */
static void assert_writer_held(struct writer *w, struct client *c)
{
	WAIT_FOR(proc_state(w->pid) == 'D' || writer_done(w), 5000, "the writer never blocked");
	ck_assert_msg(w->pid != 0, "the writer finished on a frozen filesystem");
	for (int i = 0; i < 20; i++) {
		struct reply r;
		client_request(c, "PING", &r, 2000);
		ck_assert_str_eq(r.status, "OK pong");
		ck_assert_msg(!writer_done(w), "the writer finished while frozen (after %d PINGs)", i + 1);
		ck_assert_int_eq(proc_state(w->pid), 'D');
	}
}

/* FREEZE on C, which must freeze exactly the image. */
static void freeze_image(struct client *c)
{
	struct reply r;
	char want[64];

	client_request(c, "FREEZE", &r, 10000);
	snprintf(want, sizeof(want), "OK frozen=1 auto_thaw_ms=%d", AUTO_THAW_MS);
	ck_assert_str_eq(r.status, want);
	ck_assert_int_eq(r.ndata, 1);
	ck_assert_str_eq(r.data[0], mnt);
}

/* A frozen image blocks a writer, PING answers meanwhile, FROZEN tells,
 * a second FREEZE is refused, and THAW releases the writer. The daemon's
 * own log is a file on the image: the audit entry of every PING would
 * block the event loop on it, so the daemon holds its log while frozen
 * and says afterwards how much it left out. */
START_TEST(freeze_blocks_writer_thaw_releases)
{
	struct client c;
	struct writer w;
	struct reply r;
	char log_path[128];

	snprintf(log_path, sizeof(log_path), "%s/daemon.log", mnt);
	start_logging(mnt, log_path);
	client_open(&c, D.port);
	freeze_image(&c);
	writer_start(&w, "thaw");
	assert_writer_held(&w, &c);
	client_request(&c, "FROZEN", &r, 2000);
	ck_assert_msg(strncmp(r.status, "OK frozen=1 remaining_ms=", 25) == 0, "FROZEN: %s", r.status);
	ck_assert_int_eq(r.ndata, 1);
	ck_assert_str_eq(r.data[0], mnt);
	client_request(&c, "FREEZE", &r, 2000);
	ck_assert_msg(strncmp(r.status, "ERR busy", 8) == 0, "a second FREEZE: %s", r.status);
	ck_assert_msg(!writer_done(&w), "the writer finished while frozen");
	client_request(&c, "THAW", &r, 2000);
	ck_assert_str_eq(r.status, "OK thawed=1");
	WAIT_FOR(writer_done(&w), 5000, "the writer did not finish after THAW");
	client_request(&c, "FROZEN", &r, 2000);
	ck_assert_str_eq(r.status, "OK frozen=0 remaining_ms=0 freezes=1 thaws=1 auto_thaws=0 failures=0");
	client_request(&c, "THAW", &r, 2000);
	ck_assert_str_eq(r.status, "OK thawed=0");
	client_close(&c);
	stop();
	ck_assert_msg(file_contains(log_path, "log lines left out while filesystems were frozen"),
	              "the daemon's log does not say what it left out while frozen");
}
END_TEST

/* Nobody thaws: the auto-thaw does, not before its time. */
START_TEST(auto_thaw_releases)
{
	struct client c;
	struct writer w;
	struct reply r;

	start(mnt);
	client_open(&c, D.port);
	int64_t t0 = now_ms();
	freeze_image(&c);
	writer_start(&w, "auto");
	assert_writer_held(&w, &c);
	WAIT_FOR(writer_done(&w), AUTO_THAW_MS + 5000, "the auto-thaw did not release the writer");
	int64_t held = now_ms() - t0;
	ck_assert_msg(held >= AUTO_THAW_MS - 100, "released after %lld ms, before the auto-thaw (%d ms)",
	              (long long)held, AUTO_THAW_MS);
	client_request(&c, "FROZEN", &r, 2000);
	ck_assert_str_eq(r.status, "OK frozen=0 remaining_ms=0 freezes=1 thaws=1 auto_thaws=1 failures=0");
	client_close(&c);
	stop();
}
END_TEST

/* A reload thaws, and so does a stop. */
START_TEST(reload_and_stop_thaw)
{
	struct client c;
	struct writer w;

	start(mnt);
	client_open(&c, D.port);
	freeze_image(&c);
	writer_start(&w, "reload");
	assert_writer_held(&w, &c);
	daemon_signal(&D, SIGHUP);
	WAIT_FOR(writer_done(&w), 2000, "a reload did not thaw");
	client_close(&c);

	client_open(&c, D.port);
	freeze_image(&c);
	writer_start(&w, "stop");
	assert_writer_held(&w, &c);
	client_close(&c);
	daemon_signal(&D, SIGTERM);
	WAIT_FOR(writer_done(&w), 2000, "a stop did not thaw");
	ck_assert_int_eq(daemon_wait_exit(&D, 5000), 0);
	daemon_cleanup(&D);
}
END_TEST

/* A daemon killed while frozen cannot thaw; the next one, started with
 * the same RUNTIME_DIRECTORY (as systemd restarts it, the directory kept
 * by RuntimeDirectoryPreserve=restart), thaws what its record lists. */
START_TEST(killed_daemon_thawed_by_the_next)
{
	struct client c;
	struct writer w;
	char rundir[] = "/run/tmp/udo-lifecycle-run.XXXXXX", env[128], record[160];

	ck_assert_ptr_nonnull(mkdtemp(rundir));
	snprintf(env, sizeof(env), "RUNTIME_DIRECTORY=%s", rundir);
	snprintf(record, sizeof(record), "%s/frozen", rundir);
	struct daemon_opts opts = {.listen_fd = -1, .env = {env}};
	thaw_image();
	start_opts(mnt, &opts);
	client_open(&c, D.port);
	freeze_image(&c);
	ck_assert_msg(file_contains(record, mnt), "no record of the freeze in %s", record);
	writer_start(&w, "killed");
	assert_writer_held(&w, &c);
	client_close(&c);
	daemon_signal(&D, SIGKILL);
	ck_assert_int_eq(daemon_wait_exit(&D, 5000), 128 + SIGKILL);
	daemon_cleanup(&D);
	ck_assert_msg(!writer_done(&w) && proc_state(w.pid) == 'D', "the image thawed with its daemon killed");
	start_opts(mnt, &opts);
	WAIT_FOR(writer_done(&w), 5000, "the next daemon did not thaw what the killed one froze");
	ck_assert_msg(access(record, F_OK) < 0, "the record outlived the thaw");
	stop();
	rmdir(rundir);
}
END_TEST

/* Without `filesystems`: every read-write filesystem on a block device,
 * which in this UML (hostfs root, tmpfs, proc, sysfs) is the image only. */
START_TEST(default_list_is_block_devices)
{
	struct client c;
	struct reply r;

	start(NULL);
	client_open(&c, D.port);
	freeze_image(&c);
	client_request(&c, "THAW", &r, 2000);
	ck_assert_str_eq(r.status, "OK thawed=1");
	client_close(&c);
	stop();
}
END_TEST

/* A mount point that does not exist fails the FREEZE and leaves nothing
 * frozen (the image, listed first, is thawed again). */
START_TEST(failure_thaws_the_others)
{
	struct client c;
	struct reply r;
	char list[128];

	snprintf(list, sizeof(list), "/nonexistent %s", mnt);
	start(list);
	client_open(&c, D.port);
	client_request(&c, "FREEZE", &r, 5000);
	ck_assert_msg(strncmp(r.status, "ERR failed /nonexistent: ", 25) == 0, "FREEZE: %s", r.status);
	client_request(&c, "FROZEN", &r, 2000);
	ck_assert_str_eq(r.status, "OK frozen=0 remaining_ms=0 freezes=0 thaws=0 auto_thaws=0 failures=1");
	struct writer w;
	writer_start(&w, "after-failure");
	WAIT_FOR(writer_done(&w), 5000, "the image stayed frozen after a failed FREEZE");
	client_close(&c);
	stop();
}
END_TEST

/* The clock in ns. */
static long long realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* SETTIME moves UML's clock: read back here and by TIME; bad times are
 * refused and leave it alone. */
START_TEST(settime_sets_the_clock)
{
	struct client c;
	struct reply r;
	char line[128];

	start(mnt);
	client_open(&c, D.port);
	long long target = realtime_ns() + 86400LL * 1000000000LL + 500000000LL; /* a day and half a second on */
	snprintf(line, sizeof(line), "SETTIME %lld.%09lld", target / 1000000000LL, target % 1000000000LL);
	client_request(&c, line, &r, 2000);
	long long after = realtime_ns();
	ck_assert_msg(strncmp(r.status, "OK ", 3) == 0 && strstr(r.status, " step=86400.") != NULL, "%s: %s", line,
	              r.status);
	ck_assert_msg(after >= target && after - target < 2000000000LL, "the clock reads %lld, set to %lld", after,
	              target);
	client_request(&c, "TIME", &r, 2000);
	ck_assert_msg(strncmp(r.status, "OK ", 3) == 0 && atoll(r.status + 3) >= target / 1000000000LL &&
	                  atoll(r.status + 3) <= target / 1000000000LL + 2,
	              "TIME after SETTIME: %s", r.status);
	const char *bad[] = {"SETTIME 12",          "SETTIME 4102444800", "SETTIME 1700000000.",
	                     "SETTIME -1700000000", "SETTIME 17e8",       "SETTIME 1700000000.1234567890"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		client_request(&c, bad[i], &r, 2000);
		ck_assert_msg(strncmp(r.status, "ERR usage", 9) == 0, "%s: %s", bad[i], r.status);
	}
	ck_assert_msg(realtime_ns() - target < 5000000000LL, "a refused SETTIME moved the clock");
	/* Back to about where it was. */
	long long back = realtime_ns() - 86400LL * 1000000000LL;
	snprintf(line, sizeof(line), "SETTIME %lld.%09lld", back / 1000000000LL, back % 1000000000LL);
	client_request(&c, line, &r, 2000);
	ck_assert_msg(strstr(r.status, " step=-86399.") != NULL || strstr(r.status, " step=-86400.") != NULL, "%s: %s",
	              line, r.status);
	client_close(&c);
	stop();
}
END_TEST

/* Mounts the image (ext4 on the UML block device) at MNT, once. */
static void mount_image(void)
{
	const char *dev = getenv("UDO_UML_UBD_DEV");

	if (getenv("UDO_VSOCK_IN_UML") == NULL || dev == NULL) {
		fprintf(stderr, "vsock_lifecycle: runs only inside user-mode Linux with a disk image "
		                "(tests/lifecycle_uml.sh): it freezes filesystems and sets the clock\n");
		exit(99);
	}
	if (mkdir(mnt, 0755) < 0 && errno != EEXIST) {
		perror(mnt);
		exit(99);
	}
	if (mount(dev, mnt, "ext4", 0, NULL) < 0) {
		fprintf(stderr, "vsock_lifecycle: mount %s on %s: %s\n", dev, mnt, strerror(errno));
		exit(99);
	}
}

/* The suite. */
static Suite *lifecycle_suite(void)
{
	Suite *s = suite_create("lifecycle");
	TCase *tc = tcase_create("freeze");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, freeze_blocks_writer_thaw_releases);
	tcase_add_test(tc, auto_thaw_releases);
	tcase_add_test(tc, reload_and_stop_thaw);
	tcase_add_test(tc, killed_daemon_thawed_by_the_next);
	tcase_add_test(tc, default_list_is_block_devices);
	tcase_add_test(tc, failure_thaws_the_others);
	suite_add_tcase(s, tc);
	tc = tcase_create("settime");
	tcase_add_test(tc, settime_sets_the_clock);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	mount_image();
	SRunner *sr = srunner_create(lifecycle_suite());

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	umount2(mnt, MNT_DETACH);
	return failed == 0 ? 0 : 1;
}
