/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kinds/handoff.c - the `handoff` handler: pass the client's connection
 * to a local service over AF_UNIX with SCM_RIGHTS (udo/vsock-handoff.h) */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <udo/vsock-fdpass.h>
#include <udo/vsock-handoff.h>

#include "../conf.h"
#include "../handler.h"
#include "../log.h"
#include "../proto.h"
#include "../request.h"
#include "../server.h"
#include "../util.h"

/* A command's options. */
struct handoff_conf {
	struct udo_vsock_addr service; /* unix:PATH or unix:@NAME */
	unsigned int send_timeout_ms;
};

/* One hand-off between the OK reply and the fd leaving us. */
struct handoff_job {
	struct server *server;
	int service_fd;
	unsigned int send_timeout_ms;
	uint32_t argc;
	size_t args_len;
	char *args; /* argc NUL-terminated words */
};

/* The handoff conf of CMD, made with the defaults on first use; NULL
 * when out of memory. */
static void *handoff_get_data(struct command *cmd)
{
	struct handoff_conf *hc = cmd->data;

	if (hc == NULL && (hc = calloc(1, sizeof(*hc))) != NULL) {
		hc->send_timeout_ms = 10000;
		cmd->data = hc;
	}
	return hc;
}

/* `socket`: the service's unix:PATH address. */
static int handoff_socket(const struct option_spec *spec, void *target, void *ctx, const char *value, char *why,
                          size_t whylen)
{
	struct handoff_conf *hc = target;

	if (udo_vsock_addr_parse(&hc->service, value, why, whylen) < 0)
		return -1;
	if (hc->service.kind != UDO_VSOCK_ADDR_UNIX) {
		snprintf(why, whylen, "socket: the service must be a unix:PATH address");
		return -1;
	}
	return 0;
}

/* Writes `socket` as its canonical address. */
static void handoff_socket_format(const struct option_spec *spec, const void *target, const void *ctx, FILE *out)
{
	const struct handoff_conf *hc = target;
	char text[UDO_VSOCK_ADDR_STRLEN];

	if (hc->service.kind != UDO_VSOCK_ADDR_UNIX || udo_vsock_addr_format(&hc->service, text, sizeof(text)) < 0)
		option_format_unset(spec->name, out);
	else
		fprintf(out, "%s = %s\n", spec->name, text);
}

/* The options of a handoff command. */
static const struct option_spec handoff_options[] = {
    OPTION_CUSTOM("socket", handoff_socket, handoff_socket_format),
    OPTION("send-timeout", OPT_DURATION, 1, 3600000, struct handoff_conf, send_timeout_ms, NULL),
    OPTION_END,
};

/* Requires the `socket` option. */
static int handoff_check(struct command *cmd, char *why, size_t whylen)
{
	const struct handoff_conf *hc = cmd->data;

	if (hc == NULL || hc->service.kind != UDO_VSOCK_ADDR_UNIX) {
		snprintf(why, whylen, "handler 'handoff' needs 'socket = unix:PATH'");
		return -1;
	}
	return 0;
}

/* Frees the job, closing the service socket if it is still ours. */
static void job_free(struct handoff_job *job)
{
	if (job->service_fd >= 0)
		close(job->service_fd);
	free(job->args);
	free(job);
}

/* Connects to the service without blocking. Returns the fd or -1 (errno). */
static int service_connect(const struct udo_vsock_addr *addr)
{
	return udo_vsock_addr_connect(addr, 0, UDO_VSOCK_ADDR_NOWAIT, NULL, 0);
}

/* The rest of a message is written: the service has it all. */
static void outbox_write_cb(struct bufferevent *bev, void *arg)
{
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		bufferevent_free(bev);
}

/* The service went away or stalled before taking the whole message. */
static void outbox_event_cb(struct bufferevent *bev, short what, void *arg)
{
	log_warnx("handoff: the service %s before taking the whole message",
	          (what & BEV_EVENT_TIMEOUT) ? "stalled" : "closed its socket");
	bufferevent_free(bev);
}

/* Sends the header with the client's FD, then the rest without blocking. */
static void handoff_send(struct handoff_job *job, int fd, const char *pending, size_t pending_len,
                         const struct peer *peer)
{
	struct udo_vsock_handoff h = {.transport = (uint32_t)peer->transport,
	                              .peer_cid = peer->cid,
	                              .peer_port = peer->port,
	                              .argc = job->argc,
	                              .pending_len = pending_len};
	unsigned char header[UDO_VSOCK_HANDOFF_HEADER_SIZE];

	snprintf(h.identity, sizeof(h.identity), "%s", peer->identity);
	if (udo_vsock_handoff_encode_header(header, &h, (uint32_t)job->args_len) < 0) {
		log_peer(LOG_LEVEL_WARNING, peer->text, peer->cid, NULL, "handoff: message too large");
		return;
	}
	struct evbuffer *msg = evbuffer_new();
	if (msg == NULL || evbuffer_add(msg, header, sizeof(header)) < 0 ||
	    evbuffer_add(msg, h.identity, strlen(h.identity)) < 0 || evbuffer_add(msg, job->args, job->args_len) < 0 ||
	    evbuffer_add(msg, pending, pending_len) < 0) {
		log_peer(LOG_LEVEL_WARNING, peer->text, peer->cid, NULL, "handoff: out of memory");
		if (msg != NULL)
			evbuffer_free(msg);
		return;
	}
	/* O_NONBLOCK belongs to the open file, which the service will share:
	 * hand over a blocking socket, as a service expects from accept(). */
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		log_peer(LOG_LEVEL_WARNING, peer->text, peer->cid, NULL, "handoff: fcntl: %s", strerror(errno));
		evbuffer_free(msg);
		return;
	}
	/* The first send carries the fd; a fresh socket takes the header at least. */
	struct iovec iov = {evbuffer_pullup(msg, -1), evbuffer_get_length(msg)};
	ssize_t n = udo_vsock_sendv_nonblock(job->service_fd, &iov, 1, &fd, 1);
	if (n <= 0) {
		log_peer(LOG_LEVEL_WARNING, peer->text, peer->cid, NULL, "handoff: sending to the service: %s",
		         n < 0 ? strerror(errno) : "nothing sent");
		evbuffer_free(msg);
		return;
	}
	evbuffer_drain(msg, (size_t)n);
	log_peer(LOG_LEVEL_INFO, peer->text, peer->cid, NULL, "connection handed off");
	if (evbuffer_get_length(msg) == 0) {
		evbuffer_free(msg);
		return;
	}
	/* The remainder follows through a bufferevent that frees itself. */
	struct bufferevent *bev = bufferevent_socket_new(job->server->base, job->service_fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		evbuffer_free(msg);
		return;
	}
	job->service_fd = -1;
	struct timeval tv = util_timeval_ms(job->send_timeout_ms);
	bufferevent_setcb(bev, NULL, outbox_write_cb, outbox_event_cb, NULL);
	bufferevent_set_timeouts(bev, NULL, &tv);
	bufferevent_write_buffer(bev, msg);
	bufferevent_enable(bev, EV_WRITE);
	evbuffer_free(msg);
}

/* The OK is sent: pass the client on (FD -1: it went away first). */
static void handoff_detached(int fd, const char *pending, size_t pending_len, const struct peer *peer, void *arg)
{
	struct handoff_job *job = arg;

	if (fd >= 0)
		handoff_send(job, fd, pending, pending_len, peer);
	job_free(job);
}

/* Connects to the service now, so a missing one is an ERR, not a silent close. */
static enum req_status handoff_run(struct request *req)
{
	const struct handoff_conf *hc = req->cmd->data;
	struct handoff_job *job = calloc(1, sizeof(*job));
	size_t len = 0;

	if (job == NULL) {
		request_err(req, PROTO_ERR_INTERNAL, "out of memory");
		return REQ_DONE;
	}
	job->server = req->server;
	job->send_timeout_ms = hc->send_timeout_ms;
	job->argc = (uint32_t)req->argc;
	for (int i = 0; i < req->argc; i++)
		len += strlen(req->argv[i]) + 1;
	job->args = malloc(len);
	job->args_len = len;
	job->service_fd = -1;
	if (job->args == NULL) {
		job_free(job);
		request_err(req, PROTO_ERR_INTERNAL, "out of memory");
		return REQ_DONE;
	}
	for (int i = 0, off = 0; i < req->argc; i++) {
		size_t n = strlen(req->argv[i]) + 1;
		memcpy(job->args + off, req->argv[i], n);
		off += (int)n;
	}
	job->service_fd = service_connect(&hc->service);
	if (job->service_fd < 0) {
		int err = errno;
		job_free(job);
		log_peer(LOG_LEVEL_WARNING, req->peer->text, req->peer->cid, req->cmd->name, "handoff: %s: %s",
		         hc->service.path, strerror(err));
		if (err == EAGAIN)
			request_err(req, PROTO_ERR_BUSY, "the service is not accepting connections");
		else
			request_err(req, PROTO_ERR_UNAVAILABLE, "the service is not running");
		return REQ_DONE;
	}
	request_detach(req, handoff_detached, job);
	request_ok(req, "handoff");
	return REQ_DONE;
}

const struct handler_kind handler_handoff = {
    .name = "handoff",
    .min_args = 0,
    .max_args = -1,
    .usage = "[ARG...]",
    .summary = "hand this connection to a local service",
    .options = handoff_options,
    .get_data = handoff_get_data,
    .check = handoff_check,
    .run = handoff_run,
    .free_data = free,
};
