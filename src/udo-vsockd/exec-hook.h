/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* exec-hook.h - running an exec command (kinds/exec.c) with no request:
 * the guests' hooks (guest-ready-hook, guest-shutdown-hook, guests.c) */
#ifndef UDO_VSOCKD_EXEC_HOOK_H
#define UDO_VSOCKD_EXEC_HOOK_H

struct command;
struct event_base;

/* Runs the program of CMD (`handler = exec`) on BASE as exec runs it for
 * a client (no shell, its env-pass and env-set, a new process group,
 * no daemon fd, killed at its timeout), with no client arguments, stdin
 * from /dev/null, ENV (NAME=VALUE strings, NULL-terminated) added to its
 * environment, and each output line logged. Its end is logged once,
 * naming it WHAT. Returns 0, or -1 after logging why it did not start. */
int exec_hook_start(struct event_base *base, const struct command *cmd, char *const *env, const char *what);

/* How many hooks run (started and not yet reaped). */
unsigned int exec_hooks_running(void);

/* At exit: kills every hook's process group and forgets the hooks. */
void exec_hooks_stop(void);

#endif /* UDO_VSOCKD_EXEC_HOOK_H */
