/* handler.c - the table of handler kinds and the reply functions */
#include "handler.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "commands/commands.h"
#include "conn.h"
#include "handlers/handlers.h"
#include "proto.h"

const struct handler_kind *const handler_kinds[] = {
    &handler_ping, &handler_help, &handler_version, &handler_whoami, &handler_stats, &handler_quit, &handler_exec, NULL,
};

const struct handler_kind *handler_find(const char *name)
{
	for (size_t i = 0; handler_kinds[i] != NULL; i++) {
		if (strcmp(handler_kinds[i]->name, name) == 0)
			return handler_kinds[i];
	}
	return NULL;
}

/* The output buffer of REQ's client, or NULL if it has gone. */
static struct evbuffer *request_output(struct request *req)
{
	return req->conn != NULL ? bufferevent_get_output(req->conn->bev) : NULL;
}

void request_data(struct request *req, const char *payload, size_t len)
{
	struct evbuffer *out = request_output(req);

	if (out == NULL)
		return;
	do {
		const char *lf = memchr(payload, '\n', len);
		size_t n = lf != NULL ? (size_t)(lf - payload) : len;
		evbuffer_add(out, "D ", 2);
		evbuffer_add(out, payload, n);
		evbuffer_add(out, "\n", 1);
		if (lf == NULL)
			break;
		payload += n + 1;
		len -= n + 1;
	} while (len > 0);
}

void request_dataf(struct request *req, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	request_data(req, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* Ends REQ: drops its config reference and tells its connection. */
static void request_end(struct request *req)
{
	struct config *conf = req->config;

	req->config = NULL;
	config_unref(conf);
	if (req->conn != NULL)
		conn_request_done(req->conn);
}

/* Writes one status line with printf-style text; CR/LF in it become blanks. */
static void request_status(struct request *req, const char *head, const char *fmt, va_list ap)
{
	struct evbuffer *out = request_output(req);
	char text[512];
	int n = 0;

	if (out == NULL)
		return;
	if (fmt != NULL) {
		n = vsnprintf(text, sizeof(text), fmt, ap);
		if (n < 0)
			n = 0;
		if ((size_t)n >= sizeof(text))
			n = sizeof(text) - 1;
		for (int i = 0; i < n; i++) {
			if (text[i] == '\n' || text[i] == '\r' || text[i] == '\0')
				text[i] = ' ';
		}
	}
	if (n > 0)
		evbuffer_add_printf(out, "%s %.*s\n", head, n, text);
	else
		evbuffer_add_printf(out, "%s\n", head);
}

void request_ok(struct request *req, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	request_status(req, "OK", fmt, ap);
	va_end(ap);
	request_end(req);
}

void request_err(struct request *req, const char *code, const char *fmt, ...)
{
	char head[64];
	va_list ap;

	snprintf(head, sizeof(head), "ERR %s", proto_is_error_code(code) ? code : PROTO_ERR_INTERNAL);
	va_start(ap, fmt);
	request_status(req, head, fmt, ap);
	va_end(ap);
	req->server->stats.errors++;
	request_end(req);
}

void request_finish_cancelled(struct request *req)
{
	req->conn = NULL;
	request_end(req);
}
