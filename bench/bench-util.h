/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-util.h - what the benchmark programs (loadgen, session-load) share:
 * the clock, fatal errors, request escapes and socket addresses. */
#ifndef UDO_BENCH_UTIL_H
#define UDO_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* The program's name in messages ("loadgen: ..."); main sets it. */
extern const char *bench_name;

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);

/* Prints WHAT with errno's text, if any, and exits with status 2 (usage
 * or setup error). */
void bench_die(const char *what) __attribute__((noreturn));

/* Decodes \n, \t and \\ in S into BUF (SIZE bytes); returns the length. */
size_t bench_unescape(const char *s, char *buf, size_t size);

/* Fills SA for ADDR (vsock:CID:PORT, vsock:any:PORT for a server,
 * unix:PATH, unix:@NAME); returns its length. Exits on a bad ADDR. */
socklen_t bench_parse_addr(const char *addr, struct sockaddr_storage *sa);

/* A listening stream socket on ADDR (a unix path is replaced), backlog
 * 64, close-on-exec; exits on failure. */
int bench_listen(const char *addr);

#endif
