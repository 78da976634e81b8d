/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uml-xstate.c - preloaded into user-mode Linux (tests/vsock-run,
 * tests/uml-systemd) so that it runs on hosts whose XSAVE area is larger
 * than it knows (AMX: about 11 KiB).
 *
 * Debian 12's UML (6.1) saves and restores its processes' FPU state with
 * ptrace(PTRACE_GETREGSET/SETREGSET, NT_X86_XSTATE) through a buffer of a
 * size fixed when it was built. The host truncates a GETREGSET to the
 * buffer, but refuses a SETREGSET of any size but its own with EFAULT:
 * UML then panics at the first process ("ptrace set fp regs failed,
 * errno = 14"). (Making UML fall back to PTRACE_SETFPREGS is no way out:
 * that keeps only the SSE part, so every page fault of a guest process
 * zeroes its AVX registers, and glibc's string functions go wrong.)
 *
 * This ptrace() does both requests with a buffer of the host's size:
 * GETREGSET keeps the whole state per traced pid and gives UML its part;
 * SETREGSET lays UML's bytes over the pid's last whole state, so the parts
 * beyond UML's buffer come back as they were. Every other request goes to
 * glibc's ptrace() untouched. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_NEXT */
#endif
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifndef NT_X86_XSTATE
#define NT_X86_XSTATE 0x202
#endif

/* Larger than any XSAVE area (AMX's is about 11 KiB). */
#define XSTATE_MAX 65536
/* Traced pids whose whole state is kept (UML traces one per address space). */
#define XSTATE_PIDS 256

typedef long (*ptrace_fn)(int request, pid_t pid, void *addr, void *data);

/* The last whole state read of one traced pid. */
struct xstate_copy {
	pid_t pid;
	size_t len;
	unsigned char buf[XSTATE_MAX];
};

static struct xstate_copy copies[XSTATE_PIDS];
static unsigned int next_slot;

/* glibc's ptrace(). */
static ptrace_fn real_ptrace(void)
{
	static ptrace_fn fn;

	if (fn == NULL)
		fn = (ptrace_fn)dlsym(RTLD_NEXT, "ptrace");
	return fn;
}

/* The copy of PID, or a slot for it (the oldest one is reused). */
static struct xstate_copy *copy_of(pid_t pid)
{
	for (unsigned int i = 0; i < XSTATE_PIDS; i++) {
		if (copies[i].pid == pid)
			return &copies[i];
	}
	struct xstate_copy *c = &copies[next_slot++ % XSTATE_PIDS];
	c->pid = pid;
	c->len = 0;
	return c;
}

/* Reads PID's whole state into its copy. Returns 0 or -1 (errno set). */
static long read_whole(pid_t pid, struct xstate_copy *c)
{
	struct iovec iov = {.iov_base = c->buf, .iov_len = sizeof(c->buf)};
	long r = real_ptrace()(PTRACE_GETREGSET, pid, (void *)NT_X86_XSTATE, &iov);

	c->len = r == 0 ? iov.iov_len : 0;
	return r;
}

/* ptrace(2), with NT_X86_XSTATE reads and writes of any size. */
long ptrace(enum __ptrace_request request, ...)
{
	va_list ap;

	va_start(ap, request);
	pid_t pid = va_arg(ap, pid_t);
	void *addr = va_arg(ap, void *);
	void *data = va_arg(ap, void *);
	va_end(ap);
	if ((request != PTRACE_GETREGSET && request != PTRACE_SETREGSET) || addr != (void *)NT_X86_XSTATE ||
	    data == NULL)
		return real_ptrace()((int)request, pid, addr, data);

	struct iovec *iov = data;
	struct xstate_copy *c = copy_of(pid);
	if (request == PTRACE_GETREGSET) {
		if (read_whole(pid, c) < 0)
			return -1;
		size_t n = iov->iov_len < c->len ? iov->iov_len : c->len;
		memcpy(iov->iov_base, c->buf, n);
		iov->iov_len = n;
		return 0;
	}
	if (c->len == 0 && read_whole(pid, c) < 0)
		return -1;
	if (iov->iov_len > c->len) {
		errno = EINVAL;
		return -1;
	}
	memcpy(c->buf, iov->iov_base, iov->iov_len);
	struct iovec whole = {.iov_base = c->buf, .iov_len = c->len};
	return real_ptrace()(PTRACE_SETREGSET, pid, (void *)NT_X86_XSTATE, &whole);
}
