/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* dispatch.h - from a parsed request to its command's handler */
#ifndef UDO_VSOCKD_DISPATCH_H
#define UDO_VSOCKD_DISPATCH_H

#include "handler.h"

struct evbuffer;

struct conn;
struct acl_entry;

/* Looks up ARGV[0] in the config in force, checks access and arity, and
 * runs the handler; every failure is answered with its ERR line. Returns
 * what run() returned, or REQ_DONE for a refusal. */
enum req_status dispatch_request(struct conn *c, int argc, char **argv);

/* True if PEER may run CMD under CONF's access rules. */
int access_allows(const struct config *conf, const struct command *cmd, const struct peer *peer);

/* True if the access list ACL allows PEER (first match decides, no match
 * denies). */
int access_list_allows(const struct acl_entry *acl, const struct peer *peer);

/* Asks the connection of REQ to close once this reply is sent. */
void request_close_connection(struct request *req);

/* Asks the connection of REQ to close once this reply is sent, handing
 * its socket and unhandled input to FN first (see conn_detach_fn). FN is
 * called exactly once, also if the connection fails before. */
void request_detach(struct request *req,
                    void (*fn)(int fd, const char *pending, size_t pending_len, const struct peer *peer, void *arg),
                    void *arg);

/* Turns the connection of REQ into a bridge once this reply is sent:
 * START(conn, ARG) then owns the callbacks of conn->bev, a bufferevent
 * made for the socket, takes the bytes read but not handled from
 * conn->in (conn->in_len of them), and ends the connection with conn_free().
 * RELEASE(ARG) is called exactly once when the connection is freed,
 * also if START never ran. */
void request_bridge(struct request *req, void (*start)(struct conn *c, void *arg), void (*release)(void *arg),
                    void *arg);

#endif /* UDO_VSOCKD_DISPATCH_H */
