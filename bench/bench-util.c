/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-util.c - what the benchmark programs share (bench-util.h). */
#define _GNU_SOURCE
#include "bench-util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

const char *bench_name = "bench";

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void bench_die(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", bench_name, what, errno ? strerror(errno) : "failed");
	exit(2);
}

size_t bench_unescape(const char *s, char *buf, size_t size)
{
	size_t n = 0;

	for (; *s != '\0' && n + 1 < size; s++) {
		char c = *s;
		if (c == '\\' && s[1] != '\0') {
			s++;
			c = *s == 'n' ? '\n' : *s == 't' ? '\t' : *s;
		}
		buf[n++] = c;
	}
	buf[n] = '\0';
	return n;
}

socklen_t bench_parse_addr(const char *addr, struct sockaddr_storage *sa)
{
	memset(sa, 0, sizeof(*sa));
	if (strncmp(addr, "vsock:", 6) == 0) {
		struct sockaddr_vm *vm = (struct sockaddr_vm *)sa;
		char *end;
		vm->svm_family = AF_VSOCK;
		vm->svm_cid = (unsigned int)strtoul(addr + 6, &end, 10);
		if (strncmp(addr + 6, "any:", 4) == 0) {
			vm->svm_cid = VMADDR_CID_ANY; /* a server's address */
			end = (char *)addr + 9;
		}
		if (*end != ':')
			bench_die("address must be vsock:CID:PORT");
		vm->svm_port = (unsigned int)strtoul(end + 1, NULL, 10);
		return sizeof(*vm);
	}
	if (strncmp(addr, "unix:", 5) == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)sa;
		size_t n = strlen(addr + 5);
		if (n >= sizeof(un->sun_path))
			bench_die("unix path too long");
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, addr + 5, n);
		if (un->sun_path[0] == '@')
			un->sun_path[0] = '\0';
		return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	}
	bench_die("address must be vsock:CID:PORT or unix:PATH");
}

int bench_listen(const char *addr)
{
	struct sockaddr_storage sa;
	socklen_t len = bench_parse_addr(addr, &sa);
	int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (sa.ss_family == AF_UNIX && ((struct sockaddr_un *)&sa)->sun_path[0] != '\0')
		unlink(((struct sockaddr_un *)&sa)->sun_path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, len) < 0 || listen(fd, 64) < 0)
		bench_die(addr);
	return fd;
}
