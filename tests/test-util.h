/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-util.h - forked helper processes for the Check tests */
#ifndef UDO_TEST_UTIL_H
#define UDO_TEST_UTIL_H

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* In a forked child: on a failed CONDITION, say where and exit 1, which
 * the parent sees in child_wait(). */
#define CHILD_REQUIRE(cond)                                                                                            \
	do {                                                                                                           \
		if (!(cond)) {                                                                                         \
			fprintf(stderr, "%s:%d: child check failed: %s (errno %d)\n", __FILE__, __LINE__, #cond,       \
			        errno);                                                                                \
			_exit(1);                                                                                      \
		}                                                                                                      \
	} while (0)

/* Forks a child that runs FN(ARG) and exits 0 when it returns; the child
 * is killed by SIGALRM if it hangs. Returns the child's pid (asserts). */
static inline pid_t child_start(void (*fn)(void *), void *arg)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		alarm(30);
		fn(arg);
		_exit(0);
	}
	return pid;
}

/* Reaps child PID and asserts that it exited with status 0. */
static inline void child_wait(pid_t pid)
{
	int status;
	pid_t r;

	do {
		r = waitpid(pid, &status, 0);
	} while (r < 0 && errno == EINTR);
	ck_assert_int_eq(r, pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d failed (status 0x%x)", (int)pid, status);
}

#endif /* UDO_TEST_UTIL_H */
