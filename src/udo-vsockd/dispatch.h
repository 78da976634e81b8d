/* dispatch.h - from a parsed request to its command's handler */
#ifndef UDO_VSOCKD_DISPATCH_H
#define UDO_VSOCKD_DISPATCH_H

#include "handler.h"

struct conn;

/* Looks up ARGV[0] in the config in force, checks access and arity, and
 * runs the handler; every failure is answered with its ERR line. */
void dispatch_request(struct conn *c, int argc, char **argv);

/* True if PEER may run CMD under CONF's access rules. */
int access_allows(const struct config *conf, const struct command *cmd, const struct peer *peer);

/* Asks the connection of REQ to close once this reply is sent. */
void request_close_connection(struct request *req);

#endif /* UDO_VSOCKD_DISPATCH_H */
