/* listener.c - listening sockets: from the config or from systemd */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <linux/vm_sockets.h>
#include <systemd/sd-daemon.h>

#include "conn.h"
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
	l->transport = transport;
	snprintf(l->text, sizeof(l->text), "%s", text);
	snprintf(l->identity, sizeof(l->identity), "%s", identity != NULL ? identity : "unix");
	/* backlog 0: the socket is already listening. */
	l->evl = evconnlistener_new(s->base, listener_accept_cb, l,
				    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
					    (s->accept_paused ? LEV_OPT_DISABLED : 0),
				    0, fd);
	if (l->evl == NULL) {
		log_warnx("cannot watch listener %s", text);
		close(fd);
		free(l);
		return NULL;
	}
	evconnlistener_set_error_cb(l->evl, listener_error_cb);
	return l;
}

/* Frees L and its socket. */
static void listener_free(struct listener *l)
{
	evconnlistener_free(l->evl);
	free(l);
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

/* Binds one configured address. Returns a listener or NULL after logging. */
static struct listener *listener_bind(struct server *s, const struct listen_conf *lc)
{
	char why[256] = "";
	int fd = udo_vsock_addr_listen(&lc->addr, lc->backlog, UDO_VSOCK_ADDR_NONBLOCK, why, sizeof(why));

	if (fd < 0) {
		log_warnx("%s:%d: cannot listen on %s: %s", lc->file, lc->line, lc->text, why);
		return NULL;
	}
	log_info("listening on %s", lc->text);
	return listener_wrap(s, fd, lc->text, lc->identity, lc->addr.kind);
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
			/* Unchanged address: keep the socket, take the new identity. */
			snprintf(l->identity, sizeof(l->identity), "%s", lc->identity != NULL ? lc->identity : "unix");
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

void listeners_set_enabled(struct server *s, int enabled)
{
	for (struct listener *l = s->listeners; l != NULL; l = l->next) {
		if (enabled)
			evconnlistener_enable(l->evl);
		else
			evconnlistener_disable(l->evl);
	}
}

/* Describes the systemd-passed socket FD; returns its transport or 0. */
static enum udo_vsock_addr_kind describe_passed_socket(int fd, const struct config *conf, char *text,
						       size_t textlen, const char **identity)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	*identity = NULL;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (ss.ss_family == AF_VSOCK && sd_is_socket(fd, AF_VSOCK, SOCK_STREAM, 1) > 0) {
		struct udo_vsock_addr a = {.kind = UDO_VSOCK_ADDR_VSOCK};
		a.cid = ((struct sockaddr_vm *)&ss)->svm_cid;
		a.port = ((struct sockaddr_vm *)&ss)->svm_port;
		if (udo_vsock_addr_format(&a, text, textlen) < 0)
			snprintf(text, textlen, "vsock:?");
		return UDO_VSOCK_ADDR_VSOCK;
	}
	if (ss.ss_family == AF_UNIX && sd_is_socket(fd, AF_UNIX, SOCK_STREAM, 1) > 0) {
		const struct sockaddr_un *su = (const struct sockaddr_un *)&ss;
		size_t n = len > offsetof(struct sockaddr_un, sun_path) ? len - offsetof(struct sockaddr_un, sun_path) : 0;
		if (n > 0 && su->sun_path[0] == '\0')
			snprintf(text, textlen, "unix:@%.*s", (int)n - 1, su->sun_path + 1);
		else
			snprintf(text, textlen, "unix:%.*s", (int)strnlen(su->sun_path, n), su->sun_path);
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
