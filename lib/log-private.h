/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* log-private.h - recording errors in libudo-vsock contexts and buffers */
#ifndef UDO_LOG_PRIVATE_H
#define UDO_LOG_PRIVATE_H

#include <stdarg.h>
#include <stddef.h>

#include <udo/log.h>

#define UDO_PRIVATE __attribute__((visibility("hidden")))

/* Records CODE and the printf-style message in the error struct that
 * starts CONTEXT; a positive CODE (an errno value) appends its
 * strerror text. Cannot fail; errno is preserved. */
UDO_PRIVATE void udo_log_set_error(void *context, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Writes the printf-style message into BUF of LEN bytes (nothing when
 * BUF is NULL or LEN is 0), appending strerror(CODE) for a positive
 * CODE. Cannot fail; errno is preserved. */
UDO_PRIVATE void udo_log_format(char *buf, size_t len, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The va_list form of udo_log_format(). */
UDO_PRIVATE void udo_log_vformat(char *buf, size_t len, int code, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

#endif /* UDO_LOG_PRIVATE_H */
