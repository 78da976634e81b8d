/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* proto.h - the daemon's short names for the protocol's error codes */
#ifndef UDO_VSOCKD_PROTO_H
#define UDO_VSOCKD_PROTO_H

/* The parser, quoting and the codes themselves are libudo-vsock's
 * (udo/vsock-proto.h); the daemon spells the codes it sends shortly. */
#include <udo/vsock-proto.h>

#define PROTO_ERR_SYNTAX      UDO_VSOCK_PROTO_ERR_SYNTAX
#define PROTO_ERR_UNKNOWN     UDO_VSOCK_PROTO_ERR_UNKNOWN
#define PROTO_ERR_USAGE       UDO_VSOCK_PROTO_ERR_USAGE
#define PROTO_ERR_DENIED      UDO_VSOCK_PROTO_ERR_DENIED
#define PROTO_ERR_TOO_LONG    UDO_VSOCK_PROTO_ERR_TOO_LONG
#define PROTO_ERR_BUSY        UDO_VSOCK_PROTO_ERR_BUSY
#define PROTO_ERR_TIMEOUT     UDO_VSOCK_PROTO_ERR_TIMEOUT
#define PROTO_ERR_FAILED      UDO_VSOCK_PROTO_ERR_FAILED
#define PROTO_ERR_INTERNAL    UDO_VSOCK_PROTO_ERR_INTERNAL
#define PROTO_ERR_UNAVAILABLE UDO_VSOCK_PROTO_ERR_UNAVAILABLE
#define PROTO_ERR_NOT_FOUND   UDO_VSOCK_PROTO_ERR_NOT_FOUND

#endif /* UDO_VSOCKD_PROTO_H */
