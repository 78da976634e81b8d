/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* listener.c - listening sockets: from the config or from systemd */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <systemd/sd-daemon.h>

#include "conn.h"
#include "guests.h"
#include "log.h"
#include "server.h"

/* evconnlistener callback: one accepted connection. */
static void listener_accept_cb(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa, int socklen,
                               void *arg)
{
	conn_accept(arg, fd, sa, socklen);
}

/* evconnlistener error callback: pause on descriptor or memory exhaustion
 * rather than spinning on a listener that stays readable. */
static void listener_error_cb(struct evconnlistener *evl, void *arg)
{
	struct listener *l = arg;
	int err = EVUTIL_SOCKET_ERROR();

	errno = err;
	if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
		log_warn("accept on %s", l->text);
		server_pause_accepting(l->server, ACCEPT_PAUSE_NOFILE);
		return;
	}
	if (err == ECONNABORTED || err == EINTR || err == EPROTO || err == EPERM)
		return;
	log_warn("accept on %s", l->text);
}

/* Wraps the listening FD in a listener; takes FD in all cases. Returns
 * the listener or NULL after logging. */
static struct listener *listener_wrap(struct server *s, int fd, const char *text, const char *identity,
                                      enum udo_vsock_addr_kind transport)
{
	struct listener *l = calloc(1, sizeof(*l));

	if (l == NULL) {
		log_warnx("out of memory for listener %s", text);
		close(fd);
		return NULL;
	}
	l->server = s;
	l->lock_fd = -1;
	l->transport = transport;
	snprintf(l->text, sizeof(l->text), "%s", text);
	snprintf(l->identity, sizeof(l->identity), "%s",
	         identity != NULL                   ? identity
	         : transport == UDO_VSOCK_ADDR_UNIX ? "unix"
	                                            : "");
	/* backlog 0: the socket is already listening. */
	l->evl = evconnlistener_new(
	    s->base, listener_accept_cb, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | (s->accept_paused ? LEV_OPT_DISABLED : 0), 0, fd);
	if (l->evl == NULL) {
		log_warnx("cannot watch listener %s", text);
		close(fd);
		free(l);
		return NULL;
	}
	evconnlistener_set_error_cb(l->evl, listener_error_cb);
	return l;
}

/* Frees L and its socket, removing the socket file if we created it. */
static void listener_free(struct listener *l)
{
	evconnlistener_free(l->evl);
	if (l->path[0] != '\0') {
		char lock[UDO_VSOCK_ADDR_PATH_MAX + 8];
		snprintf(lock, sizeof(lock), "%s.lock", l->path);
		if (unlink(l->path) < 0 && errno != ENOENT)
			log_warn("cannot remove %s", l->path);
		unlink(lock);
	}
	if (l->lock_fd >= 0)
		close(l->lock_fd);
	free(l);
}

/*
 * Makes PATH free for a new socket without ever removing a file some
 * other program made: PATH.lock, held locked while we listen, marks the
 * socket as ours. A stale PATH is removed only if its lock file exists
 * from an earlier udo-vsockd and nobody holds it. Returns the locked fd,
 * or -1 with a reason in WHY.
 */
static int unix_path_claim(const char *path, char *why, size_t whylen)
{
	char lock[UDO_VSOCK_ADDR_PATH_MAX + 8];
	struct stat st;
	int existed = 1;

	snprintf(lock, sizeof(lock), "%s.lock", path);
	int fd = open(lock, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		existed = 0;
		fd = open(lock, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	}
	if (fd < 0) {
		snprintf(why, whylen, "%s: %s", lock, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(why, whylen, "%s is in use by another udo-vsockd", path);
		close(fd);
		return -1;
	}
	if (lstat(path, &st) == 0) {
		if (!existed || !S_ISSOCK(st.st_mode)) {
			snprintf(why, whylen, "%s exists and was not made by udo-vsockd; not removing it", path);
			if (!existed)
				unlink(lock);
			close(fd);
			return -1;
		}
		/* A stale socket of an earlier udo-vsockd: safe to replace. */
		if (unlink(path) < 0) {
			snprintf(why, whylen, "cannot remove stale %s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		log_info("removed stale socket %s", path);
	}
	return fd;
}

/* Frees the list L. */
static void listener_list_free(struct listener *l)
{
	while (l != NULL) {
		struct listener *next = l->next;
		listener_free(l);
		l = next;
	}
}

/* Binds one configured address. Returns a listener or NULL after logging.
 * A vsock-mux listener is the unix socket PATH_PORT, where a hybrid-vsock
 * VMM (Firecracker, Cloud Hypervisor) connects when its guest connects to
 * the host's PORT. */
static struct listener *listener_bind(struct server *s, const struct listen_conf *lc)
{
	struct udo_vsock_addr addr = lc->addr;
	char why[256] = "";
	int lock_fd = -1;

	if (addr.kind == UDO_VSOCK_ADDR_VSOCK_MUX) {
		addr.kind = UDO_VSOCK_ADDR_UNIX;
		if ((size_t)snprintf(addr.path, sizeof(addr.path), "%s_%u", lc->addr.path, lc->addr.port) >=
		    sizeof(addr.path)) {
			log_warnx("%s:%d: %s: socket path %s_%u is too long", lc->file, lc->line, lc->text,
			          lc->addr.path, lc->addr.port);
			return NULL;
		}
	}
	if (addr.kind == UDO_VSOCK_ADDR_UNIX && addr.path[0] != '@') {
		lock_fd = unix_path_claim(addr.path, why, sizeof(why));
		if (lock_fd < 0) {
			log_warnx("%s:%d: cannot listen on %s: %s", lc->file, lc->line, lc->text, why);
			return NULL;
		}
	}
	int fd = udo_vsock_addr_listen(&addr, lc->backlog, UDO_VSOCK_ADDR_NONBLOCK, why, sizeof(why));
	if (fd < 0) {
		log_warnx("%s:%d: cannot listen on %s: %s", lc->file, lc->line, lc->text, why);
		if (lock_fd >= 0)
			close(lock_fd);
		return NULL;
	}
	struct listener *l = listener_wrap(s, fd, lc->text, lc->identity, lc->addr.kind);
	if (l == NULL) {
		if (lock_fd >= 0)
			close(lock_fd);
		return NULL;
	}
	l->mux_cid = lc->mux_cid;
	if (lock_fd >= 0) {
		snprintf(l->path, sizeof(l->path), "%s", addr.path);
		l->lock_fd = lock_fd;
	}
	log_info("listening on %s%s%s", lc->text, lc->addr.kind == UDO_VSOCK_ADDR_VSOCK_MUX ? " at " : "",
	         lc->addr.kind == UDO_VSOCK_ADDR_VSOCK_MUX ? addr.path : "");
	return l;
}

/* Takes the listener with address TEXT out of S's list, or returns NULL. */
static struct listener *listener_take(struct server *s, const char *text)
{
	for (struct listener **pp = &s->listeners; *pp != NULL; pp = &(*pp)->next) {
		if (strcmp((*pp)->text, text) == 0) {
			struct listener *l = *pp;
			*pp = l->next;
			l->next = NULL;
			return l;
		}
	}
	return NULL;
}

int listeners_open(struct server *s, const struct config *conf, struct listener **out)
{
	struct listener *fresh = NULL, **tail = &fresh;
	struct listener *kept = NULL;

	for (const struct listen_conf *lc = conf->listeners; lc != NULL; lc = lc->next) {
		struct listener *l = listener_take(s, lc->text);
		if (l != NULL) {
			/* Unchanged address: keep the socket as it is. Its new
			 * identity and CID are taken by listeners_configure()
			 * only once the whole reload has succeeded. */
			l->next = kept;
			kept = l;
			continue;
		}
		l = listener_bind(s, lc);
		if (l == NULL) {
			/* Undo: give the kept ones back, close the new ones. */
			while (kept != NULL) {
				struct listener *next = kept->next;
				kept->next = s->listeners;
				s->listeners = kept;
				kept = next;
			}
			listener_list_free(fresh);
			return -1;
		}
		*tail = l;
		tail = &l->next;
	}
	/* Kept listeners join the fresh list. */
	while (kept != NULL) {
		struct listener *next = kept->next;
		*tail = kept;
		tail = &kept->next;
		kept->next = NULL;
		kept = next;
	}
	*out = fresh;
	return 0;
}

void listeners_configure(struct server *s, const struct config *conf)
{
	for (struct listener *l = s->listeners; l != NULL; l = l->next) {
		const struct listen_conf *found = NULL;
		for (const struct listen_conf *lc = conf->listeners; lc != NULL; lc = lc->next) {
			if (strcmp(lc->text, l->text) == 0)
				found = lc;
		}
		/* A socket systemd passed without a listen line of its own
		 * keeps the defaults listener_wrap() gives. */
		snprintf(l->identity, sizeof(l->identity), "%s",
		         found != NULL && found->identity != NULL ? found->identity
		         : l->transport == UDO_VSOCK_ADDR_UNIX    ? "unix"
		                                                  : "");
		if (found != NULL)
			l->mux_cid = found->mux_cid;
	}
}

struct listener *listener_find(struct server *s, const char *text)
{
	for (struct listener *l = s->listeners; l != NULL; l = l->next) {
		if (strcmp(l->text, text) == 0)
			return l;
	}
	return NULL;
}

void listeners_replace(struct server *s, struct listener *fresh)
{
	for (struct listener *l = s->listeners; l != NULL; l = l->next)
		log_info("no longer listening on %s", l->text);
	listener_list_free(s->listeners);
	s->listeners = fresh;
}

void listeners_close_all(struct server *s)
{
	listener_list_free(s->listeners);
	s->listeners = NULL;
}

void listeners_follow_pause(struct server *s)
{
	for (struct listener *l = s->listeners; l != NULL; l = l->next) {
		if (s->accept_paused == 0)
			evconnlistener_enable(l->evl);
		else
			evconnlistener_disable(l->evl);
	}
	/* Notify connections have bounds of their own: only a shortage of
	 * descriptors, which is daemon-wide, pauses them too. */
	guests_set_accepting(s, !(s->accept_paused & ACCEPT_PAUSE_NOFILE));
}

/* Describes the systemd-passed socket FD; returns its transport or 0. */
static enum udo_vsock_addr_kind describe_passed_socket(int fd, const struct config *conf, char *text, size_t textlen,
                                                       const char **identity)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	*identity = NULL;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (ss.ss_family == AF_VSOCK && sd_is_socket(fd, AF_VSOCK, SOCK_STREAM, 1) > 0) {
		struct udo_vsock_addr a;
		if (udo_vsock_addr_from_sockaddr(&a, (struct sockaddr *)&ss, len) < 0 ||
		    udo_vsock_addr_format(&a, text, textlen) < 0)
			snprintf(text, textlen, "vsock:?");
		return UDO_VSOCK_ADDR_VSOCK;
	}
	if (ss.ss_family == AF_UNIX && sd_is_socket(fd, AF_UNIX, SOCK_STREAM, 1) > 0) {
		struct udo_vsock_addr a;
		if (udo_vsock_addr_from_sockaddr(&a, (struct sockaddr *)&ss, len) < 0 ||
		    udo_vsock_addr_format(&a, text, textlen) < 0)
			snprintf(text, textlen, "unix:?");
		/* The identity comes from a listen line with the same path. */
		for (const struct listen_conf *lc = conf->listeners; lc != NULL; lc = lc->next) {
			if (strcmp(lc->text, text) == 0)
				*identity = lc->identity;
		}
		return UDO_VSOCK_ADDR_UNIX;
	}
	return 0;
}

int listeners_adopt_systemd(struct server *s, const struct config *conf)
{
	int n = sd_listen_fds(1);

	if (n < 0) {
		errno = -n;
		log_warn("sd_listen_fds");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		char text[UDO_VSOCK_ADDR_STRLEN];
		const char *identity;
		enum udo_vsock_addr_kind kind = describe_passed_socket(fd, conf, text, sizeof(text), &identity);
		if (kind == 0) {
			log_warnx("socket %d passed by systemd is not a listening vsock or unix stream socket", fd);
			close(fd);
			continue;
		}
		/* systemd passes blocking sockets unless NonBlocking=yes; libevent
		 * loops accept() until EAGAIN, which would block the daemon. */
		if (evutil_make_socket_nonblocking(fd) < 0) {
			log_warn("cannot make socket %d passed by systemd non-blocking", fd);
			close(fd);
			return -1;
		}
		struct listener *l = listener_wrap(s, fd, text, identity, kind);
		if (l == NULL)
			return -1;
		l->from_systemd = 1;
		l->next = s->listeners;
		s->listeners = l;
		log_info("listening on %s (socket activation)", text);
	}
	s->socket_activated = n > 0;
	return n;
}
