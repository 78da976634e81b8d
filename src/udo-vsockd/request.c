/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* request.c - a request's replies and what its connection does after */
#include "request.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "conf.h"
#include "log.h"
#include "metrics.h"
#include "proto.h"
#include "server.h"
#include "util.h"

/* Appends LEN bytes of DATA to C's output as part of REQ's reply. */
static void reply_write(struct request *req, struct conn *c, const void *data, size_t len)
{
	req->bytes_out += len;
	req->ops->write(c, data, len);
}

void request_data(struct request *req, const char *payload, size_t len)
{
	struct conn *c = req->conn;

	if (c == NULL)
		return;
	do {
		const char *lf = memchr(payload, '\n', len);
		size_t n = lf != NULL ? (size_t)(lf - payload) : len;
		reply_write(req, c, "D ", 2);
		reply_write(req, c, payload, n);
		reply_write(req, c, "\n", 1);
		if (lf == NULL)
			break;
		payload += n + 1;
		len -= n + 1;
	} while (len > 0);
	if (req->pending)
		req->ops->flush_soon(c); /* streaming output: one write per loop turn */
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

/* Ends REQ with STATUS ("OK", "ERR" with CODE, "CANCELLED"): writes its
 * audit entry, drops its config reference and marks it finished. Inside
 * run() that is all: the connection goes on when run() returns. A
 * pending request's answer comes from the event loop, where nobody else
 * flushes or goes on: its connection is told, through the done() it set. */
static void request_end(struct request *req, const char *status, const char *code)
{
	struct config *conf = req->config;

	/* A cancel that an answer follows is counted once, at the answer. */
	if (req->metrics != NULL && !req->audit_hold)
		metrics_request_end(req, status, code);
	audit_end(req, status, code);
	req->config = NULL;
	config_unref(conf);
	req->finished = 1;
	if (req->conn == NULL || !req->pending)
		return;
	req->ops->done(req->conn);
}

/* Blanks out LF, CR and NUL in the LEN bytes of TEXT: a status line
 * must stay one line. */
static void status_text_clean(char *text, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (text[i] == '\n' || text[i] == '\r' || text[i] == '\0')
			text[i] = ' ';
	}
}

/* Appends the N words of WORDS to LINE (of SIZE bytes, LEN used), each
 * after a blank and cleaned of line ends. Returns the new length, or 0 if
 * they do not fit. */
static inline __attribute__((always_inline)) size_t status_append_words(char *line, size_t size, size_t len, int n,
                                                                        const char *const *words)
{
	for (int i = 0; i < n; i++) {
		size_t wlen = strlen(words[i]);
		if (wlen + 1 > size - len)
			return 0;
		line[len++] = ' ';
		if (util_copy_has_line_end(line + len, words[i], wlen))
			status_text_clean(line + len, wlen);
		len += wlen;
	}
	return len;
}

/* Writes one status line, HEAD and printf-style text, in one append.
 * The text is not cut: PING echoes tokens as long as a request line. */
static void request_status(struct request *req, const char *head, const char *fmt, va_list ap)
{
	struct conn *c = req->conn;
	char line[512];
	size_t hlen = strlen(head);
	int n = 0;

	if (c == NULL)
		return;
	if (hlen + 2 > sizeof(line))
		hlen = sizeof(line) - 2;
	memcpy(line, head, hlen);
	if (fmt == NULL) {
		line[hlen] = '\n';
		reply_write(req, c, line, hlen + 1);
		return;
	}
	if (strchr(fmt, '%') == NULL) {
		/* Plain text needs no formatting. */
		const char *words[1] = {fmt};
		size_t len = status_append_words(line, sizeof(line) - 1, hlen, 1, words);
		if (len > 0) {
			line[len] = '\n';
			reply_write(req, c, line, len + 1);
			return;
		}
	}
	va_list again;
	va_copy(again, ap);
	line[hlen] = ' ';
	n = vsnprintf(line + hlen + 1, sizeof(line) - hlen - 1, fmt, ap);
	if (n >= 0 && (size_t)n + hlen + 2 <= sizeof(line)) {
		/* The common case: it fits; one copy, one append. */
		status_text_clean(line + hlen + 1, (size_t)n);
		line[hlen + 1 + (size_t)n] = '\n';
		reply_write(req, c, line, hlen + 2 + (size_t)n);
	} else if (n >= 0) {
		char *text = NULL;
		int m = vasprintf(&text, fmt, again);
		if (m < 0) {
			/* A status without its text would answer wrongly: drop the
			 * connection instead. */
			req->ops->fail(c, "out of memory for a status line");
		} else {
			status_text_clean(text, (size_t)m);
			reply_write(req, c, line, hlen + 1);
			reply_write(req, c, text, (size_t)m);
			reply_write(req, c, "\n", 1);
			free(text);
		}
	}
	va_end(again);
}

void request_ok_words(struct request *req, int n, const char *const *words)
{
	struct conn *c = req->conn;
	char line[512];

	if (c != NULL) {
		size_t len = status_append_words(line, sizeof(line) - 1, 2, n, words);
		memcpy(line, "OK", 2);
		if (len > 0) {
			line[len] = '\n';
			reply_write(req, c, line, len + 1);
		} else {
			/* Longer than the stack line: in pieces through it, with
			 * no allocation that could fail and cut the line. */
			reply_write(req, c, "OK", 2);
			for (int i = 0; i < n; i++) {
				reply_write(req, c, " ", 1);
				for (const char *w = words[i]; *w != '\0';) {
					size_t piece = strnlen(w, sizeof(line));
					memcpy(line, w, piece);
					status_text_clean(line, piece);
					reply_write(req, c, line, piece);
					w += piece;
				}
			}
			reply_write(req, c, "\n", 1);
		}
	}
	request_end(req, "OK", NULL);
}

void request_ok(struct request *req, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	request_status(req, "OK", fmt, ap);
	va_end(ap);
	request_end(req, "OK", NULL);
}

void request_err(struct request *req, const char *code, const char *fmt, ...)
{
	const char *known = udo_vsock_proto_is_error_code(code) ? code : PROTO_ERR_INTERNAL;
	char head[64];
	va_list ap;

	snprintf(head, sizeof(head), "ERR %s", known);
	va_start(ap, fmt);
	request_status(req, head, fmt, ap);
	va_end(ap);
	server_count(req->server, req->conn != NULL ? req->peer_key : NULL, COUNT_ERROR);
	request_end(req, "ERR", known);
}

void request_finish_cancelled(struct request *req)
{
	req->conn = NULL;
	request_end(req, "CANCELLED", NULL);
}

size_t request_output_pending(const struct request *req, size_t *limit)
{
	*limit = SIZE_MAX;
	return req->conn != NULL ? req->ops->output_pending(req->conn, limit) : 0;
}

void request_flush(struct request *req)
{
	if (req->conn != NULL)
		req->ops->flush(req->conn);
}

int request_on_drain(struct request *req, size_t below, void (*cb)(void *arg), void *arg)
{
	return req->conn != NULL ? req->ops->on_drain(req->conn, below, cb, arg) : -1;
}

int request_connected(const struct request *req)
{
	return req->conn != NULL && !req->ops->broken(req->conn);
}

void request_close_connection(struct request *req)
{
	if (req->conn != NULL)
		req->ops->close_after_reply(req->conn);
}

void request_detach(struct request *req, request_detach_fn fn, void *arg)
{
	if (req->conn == NULL) {
		fn(-1, NULL, 0, req->peer, arg);
		return;
	}
	req->ops->detach_after_flush(req->conn, fn, arg);
}

void request_bridge(struct request *req, void (*start)(struct conn *c, void *arg), void (*release)(void *arg),
                    void *arg)
{
	if (req->conn == NULL) {
		release(arg);
		return;
	}
	req->ops->bridge_after_flush(req->conn, start, release, arg);
}
