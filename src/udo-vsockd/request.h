/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* request.h - what a handler does with its request: replies, output, close, hand-off */
#ifndef UDO_VSOCKD_REQUEST_H
#define UDO_VSOCKD_REQUEST_H

#include <stddef.h>

#include "handler.h"

/* Sends one data line ("D " PAYLOAD LF) of LEN bytes; an LF inside
 * PAYLOAD ends the line and starts a new one. */
void request_data(struct request *req, const char *payload, size_t len);

/* Sends one formatted data line. */
void request_dataf(struct request *req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Finishes REQ with "OK" and optional text (FMT may be NULL). */
void request_ok(struct request *req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Finishes REQ with "OK" and the N WORDS, each after a blank, without
 * printf (the hot path of PING). LF and CR in a word become blanks. */
void request_ok_words(struct request *req, int n, const char *const *words);

/* Finishes REQ with "ERR CODE message". */
void request_err(struct request *req, const char *code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Finishes a cancelled REQ without a reply. */
void request_finish_cancelled(struct request *req);

/* Unsent reply bytes of REQ's connection (0 once it has gone), and its
 * max-output-buffer in *LIMIT. */
size_t request_output_pending(const struct request *req, size_t *limit);

/* Writes REQ's replies now, as far as the socket takes them. */
void request_flush(struct request *req);

/* Calls CB(ARG) once, from the event loop, when the unsent output of
 * REQ's connection has fallen to BELOW bytes or fewer; CB NULL cancels.
 * Nothing is called once the connection has gone. Returns 0, or -1 if
 * the connection has gone. */
int request_on_drain(struct request *req, size_t below, void (*cb)(void *arg), void *arg);

/* True while REQ's client can be answered: its connection is there and
 * no write to it failed. */
int request_connected(const struct request *req);

/* Asks the connection of REQ to close once this reply is sent. */
void request_close_connection(struct request *req);

/* Asks the connection of REQ to close once this reply is sent, handing
 * its socket and unhandled input to FN first (see request_detach_fn). FN
 * is called exactly once, also if the connection fails before. */
void request_detach(struct request *req, request_detach_fn fn, void *arg);

/* Turns the connection of REQ into a bridge once this reply is sent:
 * START(conn, ARG) then owns the socket (conn_fd()) and the bytes read
 * but not handled (conn_unhandled_input()), and ends the connection with
 * conn_free() (conn.h). RELEASE(ARG) is called exactly once when the
 * connection is freed, also if START never ran. */
void request_bridge(struct request *req, void (*start)(struct conn *c, void *arg), void (*release)(void *arg),
                    void *arg);

#endif /* UDO_VSOCKD_REQUEST_H */
