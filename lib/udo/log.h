/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udo/log.h - per-context error reporting shared by every libudo-vsock object */
#ifndef UDO_LOG_H
#define UDO_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

#define UDO_LOG_ERROR_MAX 256

/*
 * Library error codes. udo_log_get_error_code() returns 0 for "no error",
 * a positive errno value for failures reported by the kernel or libc, and
 * one of these negative values for failures the library itself detected.
 */
enum udo_log_error_code {
	UDO_LOG_ERR_NONE = 0,
	UDO_LOG_ERR_INVALID_ARGUMENT = -1, /* a NULL or out-of-range argument */
	UDO_LOG_ERR_NOT_CONNECTED = -2,    /* operation needs a connected client */
	UDO_LOG_ERR_NO_FD = -3,            /* the context holds no open socket */
	UDO_LOG_ERR_PROTOCOL = -4,         /* the peer broke a protocol rule */
};

/*
 * Every libudo-vsock context starts with this struct, so any context
 * pointer can be handed to udo_log_get_error()/udo_log_get_error_code().
 */
struct udo_log_error_struct {
	int code;
	char message[UDO_LOG_ERROR_MAX];
};

/* Text of the last error recorded in CONTEXT, "" if none; never NULL. */
const char *udo_log_get_error(const void *context);

/* Code of the last error in CONTEXT: 0, an errno value (>0) or an
 * enum udo_log_error_code value (<0). Returns UDO_LOG_ERR_INVALID_ARGUMENT
 * for a NULL context. */
int udo_log_get_error_code(const void *context);

#ifdef __cplusplus
}
#endif

#endif /* UDO_LOG_H */
