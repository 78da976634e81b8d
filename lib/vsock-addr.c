/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsock-addr.c - parse, format, listen on and connect to udo addresses */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vsock-addr-private.h"
#include "vsock-tcp-private.h"

/* The names of the special CIDs, for parse and format. */
static const struct {
	const char *name;
	uint32_t cid;
} cid_names[] = {
    {"any", UDO_VSOCK_CID_ANY},
    {"hypervisor", UDO_VSOCK_CID_HYPERVISOR},
    {"local", UDO_VSOCK_CID_LOCAL},
    {"host", UDO_VSOCK_CID_HOST},
};

/* Fails a parse: message into ERR, errno EINVAL. Returns -1. */
__attribute__((format(printf, 3, 4))) static int parse_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	udo_log_vformat(err, errlen, 0, fmt, ap);
	va_end(ap);
	errno = EINVAL;
	return -1;
}

/* Parses the LEN bytes at S as a plain decimal u32 (digits only). Returns
 * 0 or -1 when empty, not all digits or above UINT32_MAX. */
static int parse_u32(const char *s, size_t len, uint32_t *out)
{
	uint64_t v = 0;

	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

/* Parses a port (decimal or "any" when ANY_OK). Returns 0 or -1 (ERR). */
static int parse_port(const char *s, bool any_ok, uint32_t *port, const char *text, char *err, size_t errlen)
{
	if (any_ok && strcmp(s, "any") == 0) {
		*port = UINT32_MAX;
		return 0;
	}
	if (parse_u32(s, strlen(s), port) < 0)
		return parse_error(err, errlen, "bad port \"%s\" in \"%s\": want a number up to 4294967295%s", s, text,
		                   any_ok ? " or any" : "");
	return 0;
}

/* Copies a unix socket PATH of LEN bytes into ADDR. Returns 0 or -1 (ERR). */
static int parse_path(struct udo_vsock_addr *addr, const char *path, size_t len, const char *text, char *err,
                      size_t errlen)
{
	if (len == 0 || (len == 1 && path[0] == '@'))
		return parse_error(err, errlen, "empty socket path in \"%s\"", text);
	if (len >= UDO_VSOCK_ADDR_PATH_MAX)
		return parse_error(err, errlen, "socket path in \"%s\" is %zu bytes, at most %d allowed", text, len,
		                   UDO_VSOCK_ADDR_PATH_MAX - 1);
	if (memchr(path, '\0', len))
		return parse_error(err, errlen, "socket path in \"%s\" holds a NUL byte", text);
	memcpy(addr->path, path, len);
	addr->path[len] = '\0';
	return 0;
}

/* Parses the "CID:PORT" part of a vsock address. Returns 0 or -1 (ERR). */
static int parse_vsock(struct udo_vsock_addr *addr, const char *rest, const char *text, char *err, size_t errlen)
{
	const char *colon = strchr(rest, ':');
	size_t cidlen;

	if (!colon)
		return parse_error(err, errlen, "\"%s\" lacks the port: want vsock:CID:PORT", text);
	cidlen = (size_t)(colon - rest);
	addr->cid = 0;
	for (size_t i = 0; i < sizeof(cid_names) / sizeof(cid_names[0]); i++)
		if (strlen(cid_names[i].name) == cidlen && strncmp(rest, cid_names[i].name, cidlen) == 0) {
			addr->cid = cid_names[i].cid;
			return parse_port(colon + 1, true, &addr->port, text, err, errlen);
		}
	if (parse_u32(rest, cidlen, &addr->cid) < 0)
		return parse_error(err, errlen,
		                   "bad CID \"%.*s\" in \"%s\": want a number up to 4294967295 or any, local, host, "
		                   "hypervisor",
		                   (int)cidlen, rest, text);
	return parse_port(colon + 1, true, &addr->port, text, err, errlen);
}

/* Parses "vsock:CID:PORT", "unix:PATH" or "vsock-mux:PATH:PORT". */
int udo_vsock_addr_parse(struct udo_vsock_addr *addr, const char *text, char *err, size_t errlen)
{
	const char *rest;

	if (!addr || !text)
		return parse_error(err, errlen, "no address given");
	memset(addr, 0, sizeof(*addr));
	if (strncmp(text, "vsock:", 6) == 0) {
		addr->kind = UDO_VSOCK_ADDR_VSOCK;
		return parse_vsock(addr, text + 6, text, err, errlen);
	}
	if (strncmp(text, "unix:", 5) == 0) {
		addr->kind = UDO_VSOCK_ADDR_UNIX;
		return parse_path(addr, text + 5, strlen(text + 5), text, err, errlen);
	}
	if (strncmp(text, "vsock-mux:", 10) == 0) {
		const char *colon = strrchr(text + 10, ':');

		rest = text + 10;
		addr->kind = UDO_VSOCK_ADDR_VSOCK_MUX;
		if (!colon)
			return parse_error(err, errlen, "\"%s\" lacks the port: want vsock-mux:PATH:PORT", text);
		if (parse_path(addr, rest, (size_t)(colon - rest), text, err, errlen) < 0)
			return -1;
		return parse_port(colon + 1, false, &addr->port, text, err, errlen);
	}
	return parse_error(err, errlen, "unknown address \"%s\": want vsock:CID:PORT, unix:PATH or vsock-mux:PATH:PORT",
	                   text);
}

/* Writes the canonical text of ADDR. Returns its length or -1 (errno). */
int udo_vsock_addr_format(const struct udo_vsock_addr *addr, char *buf, size_t len)
{
	char cid[16], port[16];
	int n;

	if (!addr || (!buf && len > 0) ||
	    (addr->kind != UDO_VSOCK_ADDR_VSOCK && !memchr(addr->path, '\0', sizeof(addr->path)))) {
		errno = EINVAL;
		return -1;
	}
	switch (addr->kind) {
	case UDO_VSOCK_ADDR_VSOCK:
		snprintf(cid, sizeof(cid), "%u", addr->cid);
		for (size_t i = 0; i < sizeof(cid_names) / sizeof(cid_names[0]); i++)
			if (cid_names[i].cid == addr->cid)
				snprintf(cid, sizeof(cid), "%s", cid_names[i].name);
		if (addr->port == UINT32_MAX)
			snprintf(port, sizeof(port), "any");
		else
			snprintf(port, sizeof(port), "%u", addr->port);
		n = snprintf(buf, len, "vsock:%s:%s", cid, port);
		break;
	case UDO_VSOCK_ADDR_UNIX:
		n = snprintf(buf, len, "unix:%s", addr->path);
		break;
	case UDO_VSOCK_ADDR_VSOCK_MUX:
		n = snprintf(buf, len, "vsock-mux:%s:%u", addr->path, addr->port);
		break;
	default:
		errno = EINVAL;
		return -1;
	}
	if (n < 0 || (size_t)n >= len) {
		errno = ENOSPC;
		return -1;
	}
	return n;
}

/* Fills SUN for PATH ("@name": abstract, no final NUL counted). Returns
 * the address length. PATH fits: the caller checked it. */
static socklen_t unix_sockaddr(struct sockaddr_un *sun, const char *path)
{
	size_t len = strlen(path);

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, len);
	if (path[0] == '@') {
		sun->sun_path[0] = '\0';
		return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	}
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
}

/* Fills *SS and *LEN with the socket address of ADDR. Returns 0 or -1
 * (errno EINVAL). */
int udo_vsock_addr_to_sockaddr(const struct udo_vsock_addr *addr, struct sockaddr_storage *ss, socklen_t *len)
{
	if (!addr || !ss || !len) {
		errno = EINVAL;
		return -1;
	}
	memset(ss, 0, sizeof(*ss));
	switch (addr->kind) {
	case UDO_VSOCK_ADDR_VSOCK: {
		struct sockaddr_vm *svm = (struct sockaddr_vm *)ss;

		svm->svm_family = AF_VSOCK;
		svm->svm_cid = addr->cid;
		svm->svm_port = addr->port;
		*len = (socklen_t)sizeof(*svm);
		return 0;
	}
	case UDO_VSOCK_ADDR_UNIX:
	case UDO_VSOCK_ADDR_VSOCK_MUX:
		if (!addr->path[0] || !memchr(addr->path, '\0', sizeof(addr->path)) ||
		    (addr->path[0] == '@' && !addr->path[1]))
			break;
		*len = unix_sockaddr((struct sockaddr_un *)ss, addr->path);
		return 0;
	default:
		break;
	}
	errno = EINVAL;
	return -1;
}

/* Fills *ADDR from the vsock or unix socket address SA of LEN bytes.
 * Returns 0 or -1 (errno EAFNOSUPPORT or EINVAL). */
int udo_vsock_addr_from_sockaddr(struct udo_vsock_addr *addr, const struct sockaddr *sa, socklen_t len)
{
	const size_t off = offsetof(struct sockaddr_un, sun_path);

	if (!addr || !sa || len < (socklen_t)sizeof(sa_family_t)) {
		errno = EINVAL;
		return -1;
	}
	memset(addr, 0, sizeof(*addr));
	if (sa->sa_family == AF_VSOCK) {
		struct sockaddr_vm svm;

		if (len < (socklen_t)sizeof(svm)) {
			errno = EINVAL;
			return -1;
		}
		memcpy(&svm, sa, sizeof(svm));
		addr->kind = UDO_VSOCK_ADDR_VSOCK;
		addr->cid = svm.svm_cid;
		addr->port = svm.svm_port;
		return 0;
	}
	if (sa->sa_family != AF_UNIX) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	const char *path = ((const struct sockaddr_un *)sa)->sun_path;
	size_t n = (size_t)len > off ? (size_t)len - off : 0;

	if (n > sizeof(((struct sockaddr_un *)0)->sun_path))
		n = sizeof(((struct sockaddr_un *)0)->sun_path);
	if (n > 0 && path[0] == '\0') {
		/* Abstract: the name is every byte after the leading NUL. */
		if (n < 2 || memchr(path + 1, '\0', n - 1)) {
			errno = EINVAL;
			return -1;
		}
		if (n >= UDO_VSOCK_ADDR_PATH_MAX) { /* '@', the name and a NUL must fit */
			errno = EINVAL;
			return -1;
		}
		addr->path[0] = '@';
		memcpy(addr->path + 1, path + 1, n - 1);
	} else {
		n = strnlen(path, n);
		if (n == 0 || n >= UDO_VSOCK_ADDR_PATH_MAX) {
			errno = EINVAL;
			return -1;
		}
		memcpy(addr->path, path, n);
	}
	addr->kind = UDO_VSOCK_ADDR_UNIX;
	return 0;
}

/* Opens an AF_UNIX stream socket. Returns the fd or -1 (errno, ERR). */
static int unix_socket(unsigned int flags, char *err, size_t errlen)
{
	int fd =
	    socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | ((flags & UDO_VSOCK_ADDR_NONBLOCK) ? SOCK_NONBLOCK : 0), 0);

	if (fd < 0)
		udo_log_format(err, errlen, errno, "socket(AF_UNIX)");
	return fd;
}

/* Closes FD keeping errno. Returns -1 for the caller to pass on. */
static int close_failed(int fd)
{
	int saved = errno;

	close(fd);
	errno = saved;
	return -1;
}

/* Fills *SS and *LEN for the unix socket of ADDR. Returns 0 or -1
 * (EINVAL, ERR) when its path is empty or does not fit. */
static int unix_target(const struct udo_vsock_addr *addr, struct sockaddr_storage *ss, socklen_t *len, char *err,
                       size_t errlen)
{
	if (udo_vsock_addr_to_sockaddr(addr, ss, len) == 0)
		return 0;
	return parse_error(err, errlen, "bad unix socket path");
}

/* Creates a listening vsock or unix socket for ADDR. */
int udo_vsock_addr_listen(const struct udo_vsock_addr *addr, int backlog, unsigned int flags, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	int fd;

	if (!addr)
		return parse_error(err, errlen, "no address given");
	if (addr->kind == UDO_VSOCK_ADDR_VSOCK) {
		struct udo_vsock_tcp ctx;
		struct udo_vsock_tcp_server_create_info info = {
		    .vcid = addr->cid,
		    .port = (int)addr->port, /* the u32 as the API's int; UINT32_MAX is PORT_ANY */
		    .connections = backlog,
		};

		if (!udo_vsock_tcp_server_create(&ctx, &info) ||
		    ((flags & UDO_VSOCK_ADDR_NONBLOCK) && udo_vsock_tcp_set_nonblock(&ctx, true) < 0)) {
			udo_log_format(err, errlen, 0, "%s", udo_log_get_error(&ctx));
			udo_vsock_tcp_destroy(&ctx);
			return -1;
		}
		return udo_vsock_tcp_release_fd(&ctx);
	}
	if (addr->kind != UDO_VSOCK_ADDR_UNIX)
		return parse_error(err, errlen, "cannot listen on a vsock-mux address");
	if (unix_target(addr, &ss, &sslen, err, errlen) < 0)
		return -1;
	fd = unix_socket(flags, err, errlen);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&ss, sslen) < 0) {
		udo_log_format(err, errlen, errno, "bind(unix:%s)", addr->path);
		return close_failed(fd);
	}
	if (listen(fd, backlog > 0 ? backlog : SOMAXCONN) < 0) {
		int saved = errno;
		udo_log_format(err, errlen, saved, "listen(unix:%s)", addr->path);
		/* The file bind() just made is ours, and nobody listens on it:
		 * left behind, it would fail the next bind with EADDRINUSE. */
		if (addr->path[0] != '@')
			unlink(addr->path);
		errno = saved;
		return close_failed(fd);
	}
	return fd;
}

/* Connects a vsock client within TIMEOUT_MS. Returns the fd or -1. */
static int vsock_connect(const struct udo_vsock_addr *addr, unsigned int timeout_ms, char *err, size_t errlen)
{
	struct udo_vsock_tcp ctx;
	struct udo_vsock_tcp_client_create_info info = {.vcid = addr->cid, .port = (int)addr->port};

	if (addr->port == UINT32_MAX)
		return parse_error(err, errlen, "cannot connect to port any");
	if (!udo_vsock_tcp_client_create(&ctx, &info) ||
	    (timeout_ms && udo_vsock_tcp_set_connect_timeout(&ctx, timeout_ms) < 0) ||
	    udo_vsock_tcp_client_connect(&ctx) < 0) {
		udo_log_format(err, errlen, 0, "%s", udo_log_get_error(&ctx));
		udo_vsock_tcp_destroy(&ctx);
		return -1;
	}
	return udo_vsock_tcp_release_fd(&ctx);
}

/* Connects an AF_UNIX stream socket to the unix or vsock-mux ADDR,
 * blocking at most until DEADLINE (when the listener's backlog is full);
 * NOWAIT: a non-blocking socket, and a full backlog is EAGAIN at once.
 * Returns the fd or -1 (errno, ERR). */
static int unix_connect(const struct udo_vsock_addr *addr, const struct timespec *deadline, bool nowait, char *err,
                        size_t errlen)
{
	int left = udo_vsock_deadline_left(deadline) > 0 ? udo_vsock_deadline_left(deadline) : 1;
	struct timeval tv = {.tv_sec = left / 1000, .tv_usec = (left % 1000) * 1000};
	struct timeval none = {0};
	struct sockaddr_storage ss;
	socklen_t sslen;
	int fd, rc;

	if (unix_target(addr, &ss, &sslen, err, errlen) < 0)
		return -1;
	fd = unix_socket(nowait ? UDO_VSOCK_ADDR_NONBLOCK : 0, err, errlen);
	if (fd < 0)
		return -1;
	if (nowait)
		deadline = NULL;
	if (deadline && setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
		udo_log_format(err, errlen, errno, "setsockopt(SO_SNDTIMEO)");
		return close_failed(fd);
	}
	do {
		rc = connect(fd, (struct sockaddr *)&ss, sslen);
	} while (rc < 0 && errno == EINTR);
	if (rc < 0) {
		if (errno == EAGAIN && !nowait) /* SO_SNDTIMEO ran out */
			errno = ETIMEDOUT;
		udo_log_format(err, errlen, errno, "connect(unix:%s)", addr->path);
		return close_failed(fd);
	}
	if (deadline && setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none)) < 0) {
		udo_log_format(err, errlen, errno, "setsockopt(SO_SNDTIMEO)");
		return close_failed(fd);
	}
	return fd;
}

/* Connects to ADDR within TIMEOUT_MS, doing the vsock-mux handshake. */
int udo_vsock_addr_connect(const struct udo_vsock_addr *addr, unsigned int timeout_ms, unsigned int flags, char *err,
                           size_t errlen)
{
	struct timespec deadline;
	const struct timespec *limit = NULL;
	int fd;

	if (!addr)
		return parse_error(err, errlen, "no address given");
	if (timeout_ms) {
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += timeout_ms / 1000;
		deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
		if (deadline.tv_nsec >= 1000000000) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000;
		}
		limit = &deadline;
	}
	if (flags & UDO_VSOCK_ADDR_NOWAIT) {
		if (addr->kind != UDO_VSOCK_ADDR_UNIX)
			return parse_error(err, errlen, "only a unix address connects without waiting");
		return unix_connect(addr, NULL, true, err, errlen);
	}
	switch (addr->kind) {
	case UDO_VSOCK_ADDR_VSOCK:
		fd = vsock_connect(addr, timeout_ms, err, errlen);
		break;
	case UDO_VSOCK_ADDR_UNIX:
	case UDO_VSOCK_ADDR_VSOCK_MUX:
		fd = unix_connect(addr, limit, false, err, errlen);
		if (fd >= 0 && addr->kind == UDO_VSOCK_ADDR_VSOCK_MUX &&
		    udo_vsock_mux_handshake(fd, addr->port, flags, limit, err, errlen) < 0)
			return close_failed(fd);
		break;
	default:
		return parse_error(err, errlen, "unknown address kind %d", (int)addr->kind);
	}
	if (fd >= 0 && (flags & UDO_VSOCK_ADDR_NONBLOCK) && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		udo_log_format(err, errlen, errno, "fcntl(O_NONBLOCK)");
		return close_failed(fd);
	}
	return fd;
}
