/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* conn.h - one client connection: lines in, replies out */
#ifndef UDO_VSOCKD_CONN_H
#define UDO_VSOCKD_CONN_H

#include <stddef.h>
#include <sys/socket.h>

#include "peer.h"

/* A client connection, private to conn.c. Requests reach it through the
 * request_ops it sets (request.h); a bridge (request_bridge) through the
 * functions here. */
struct conn;
struct listener;
struct server;

/* Takes over an accepted FD from listener L. Never fails: on error the
 * fd is closed and the reason logged. */
void conn_accept(struct listener *l, int fd, const struct sockaddr *sa, int socklen);

/* Frees C now, cancelling its request if one is running. */
void conn_free(struct conn *c);

/* (Re)arms S's timeout sweep for the idle-timeout and line-timeout in
 * force: one daemon-wide timer, not one per connection, checking every
 * quarter of the shorter (at least every 100 ms, at most every half
 * second; it also frees connections whose client has gone while they
 * were not read, cancelling their request). Returns 0, or -1 if
 * the timer cannot be set up (then no connection is ever timed out). */
int conn_sweep_arm(struct server *s);

/* After a reload: every open connection of S is judged from its next
 * request on by the configuration now in force (S->config). It takes the
 * new limits, and its peer the identity and CID its listener now has
 * (also moving it in the per-peer counts). A connection whose listener
 * the new configuration no longer has is closed once the request in
 * flight, if any, has been answered; a bridge (proxy) already under way
 * is left to end by itself. Then the timeout sweep is rearmed for the
 * new timeouts. */
void conn_follow_reload(struct server *s);

/* After the names of peers-dir (peers-dir.c) changed: every open vsock
 * connection of S whose CID's name is another now (another name, a name
 * where there was none or none where there was one) is closed once the
 * request in flight, if any, has been answered. The daemon cannot tell
 * whether it came from the CID's old holder or its new one, so it is
 * judged under neither: its client reconnects and is named afresh. A
 * bridge (proxy) already under way is left to end by itself. */
void conn_follow_names(struct server *s);

/* A graceful stop: each connection of S finishes its request in flight,
 * flushes its replies and closes; a bridge ends now (a proxied byte
 * stream has no reply to wait for). */
void conn_close_all(struct server *s);

/* Who is on the other end of C. */
const struct peer *conn_peer(const struct conn *c);

/* The daemon C belongs to. */
struct server *conn_server(const struct conn *c);

/* C's socket: a bridge's to read and write once it has started. */
int conn_fd(const struct conn *c);

/* The bytes C read but did not handle (*LEN of them; NULL if none): a
 * bridge's first bytes to pass on. */
const char *conn_unhandled_input(const struct conn *c, size_t *len);

/* A bridge on C holds BYTES now (its queues and pipes): they count in
 * max-buffered as C's, and a fall wakes connections paused for it.
 * Returns how many more bytes the bridge may take: the room left under
 * max-buffered, or else what C lacks of an equal share of it (the limit
 * over the open connections) while all hold less than twice the limit;
 * 0: it reads no more until what it holds has gone down. */
size_t conn_bridge_hold(struct conn *c, size_t bytes);

#endif /* UDO_VSOCKD_CONN_H */
