/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* log.c - per-context error reporting */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log-private.h"

/* Text of the last error in CONTEXT, "" if none or CONTEXT is NULL. */
const char *udo_log_get_error(const void *context)
{
	const struct udo_log_error_struct *err = context;

	return err ? err->message : "";
}

/* Code of the last error in CONTEXT; INVALID_ARGUMENT for NULL. */
int udo_log_get_error_code(const void *context)
{
	const struct udo_log_error_struct *err = context;

	return err ? err->code : UDO_LOG_ERR_INVALID_ARGUMENT;
}

/* Formats into BUF, adding ": strerror(CODE)" for errno codes; keeps errno. */
void udo_log_vformat(char *buf, size_t len, int code, const char *fmt, va_list ap)
{
	int saved = errno;

	if (buf && len > 0) {
		int n = vsnprintf(buf, len, fmt, ap);

		if (code > 0 && n >= 0 && (size_t)n < len)
			snprintf(buf + n, len - (size_t)n, ": %s", strerror(code));
	}
	errno = saved;
}

/* Formats into BUF; see udo_log_vformat(). */
void udo_log_format(char *buf, size_t len, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	udo_log_vformat(buf, len, code, fmt, ap);
	va_end(ap);
}

/* Stores CODE and the message in CONTEXT's error struct; keeps errno. */
void udo_log_set_error(void *context, int code, const char *fmt, ...)
{
	struct udo_log_error_struct *err = context;
	va_list ap;

	if (!err)
		return;
	err->code = code;
	va_start(ap, fmt);
	udo_log_vformat(err->message, sizeof(err->message), code, fmt, ap);
	va_end(ap);
}
