/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* json.c - udo-vsock --json: one JSON object per reply, built and written
 * by jansson; bytes that are not UTF-8 travel in base64 */
#include "json.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

/* Is S (LEN bytes) valid UTF-8 (no overlong forms, surrogates or values
 * past U+10FFFF), as a JSON string must be? NUL bytes are allowed: JSON
 * writes them as \u0000. */
static bool utf8_valid(const unsigned char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		size_t n;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 2;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 3;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 4;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (len - i < n)
			return false;
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		i += n;
	}
	return true;
}

/* A new JSON string of the base64 (RFC 4648, padded) of S, or NULL. */
static json_t *base64_string(const unsigned char *s, size_t len)
{
	static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t out_len = (len + 2) / 3 * 4;
	char *out = malloc(out_len + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)s[i + 1] << 8;
		if (i + 2 < len)
			v |= s[i + 2];
		*o++ = digits[v >> 18];
		*o++ = digits[(v >> 12) & 0x3f];
		*o++ = i + 1 < len ? digits[(v >> 6) & 0x3f] : '=';
		*o++ = i + 2 < len ? digits[v & 0x3f] : '=';
	}
	*o = '\0';
	json_t *str = json_stringn(out, out_len);
	free(out);
	return str;
}

/* Makes *PLAIN the string S, or null with *B64 its base64 when S is not
 * valid UTF-8 (*B64 stays NULL otherwise). Returns 0, or -1 (no memory). */
static int bytes_value(const char *s, size_t len, json_t **plain, json_t **b64)
{
	const unsigned char *u = (const unsigned char *)(len > 0 ? s : ""); /* S may be NULL when empty */

	*b64 = NULL;
	if (utf8_valid(u, len)) {
		*plain = json_stringn((const char *)u, len);
		return *plain ? 0 : -1;
	}
	*plain = json_null();
	*b64 = base64_string(u, len);
	return *b64 ? 0 : -1;
}

/* Appends one payload; see json.h for the data_b64 array. */
int cli_json_data(struct cli_json *j, const char *s, size_t len)
{
	json_t *plain, *b64;

	if (!j->data && !(j->data = json_array()))
		return -1;
	if (bytes_value(s, len, &plain, &b64) < 0)
		return -1;
	if (b64 && !j->data_b64) {
		/* The first payload that needs it: null for those before. */
		json_t *a = json_array();
		for (size_t i = 0; a && i < j->ndata; i++) {
			if (json_array_append_new(a, json_null()) < 0) {
				json_decref(a);
				a = NULL;
			}
		}
		if (!a)
			goto fail;
		j->data_b64 = a;
	}
	if (json_array_append_new(j->data, plain) < 0) {
		plain = NULL;
		goto fail;
	}
	plain = NULL;
	if (j->data_b64 && json_array_append_new(j->data_b64, b64 ? b64 : json_null()) < 0) {
		b64 = NULL;
		json_array_remove(j->data, j->ndata);
		goto fail;
	}
	j->ndata++;
	return 0;
fail:
	json_decref(plain);
	json_decref(b64);
	/* Keep the two arrays the same length as the count says. */
	if (j->data_b64 && json_array_size(j->data_b64) > j->ndata)
		json_array_remove(j->data_b64, j->ndata);
	return -1;
}

/* Builds the reply object and writes it as one line. */
int cli_json_reply(struct cli_json *j, FILE *f, const struct udo_vsock_proto_reply *r)
{
	bool err = r->kind == UDO_VSOCK_PROTO_REPLY_ERR;
	json_t *text = NULL, *text_b64 = NULL;
	int rc = -1;

	json_t *o = json_object();
	if (!o || (!j->data && !(j->data = json_array())))
		goto out;
	if (bytes_value(r->text, r->text_len, &text, &text_b64) < 0)
		goto out;
	/* Keys in this order (jansson keeps insertion order). The *_new
	 * calls take the reference even when they fail. */
	if (json_object_set_new(o, "status", json_string(err ? "ERR" : "OK")) < 0 ||
	    json_object_set_new(o, "code", err ? json_stringn(r->code, r->code_len) : json_null()) < 0)
		goto out;
	json_t *t = text;
	text = NULL;
	if (json_object_set_new(o, "text", t) < 0)
		goto out;
	if (text_b64) {
		t = text_b64;
		text_b64 = NULL;
		if (json_object_set_new(o, "text_b64", t) < 0)
			goto out;
	}
	if (json_object_set(o, "data", j->data) < 0 || (j->data_b64 && json_object_set(o, "data_b64", j->data_b64) < 0))
		goto out;
	char *line = json_dumps(o, JSON_COMPACT | (j->ascii ? JSON_ENSURE_ASCII : 0));
	if (!line)
		goto out;
	fputs(line, f);
	fputc('\n', f);
	free(line);
	cli_json_reset(j);
	rc = 0;
out:
	json_decref(text);
	json_decref(text_b64);
	json_decref(o);
	return rc;
}

/* Frees the arrays of the reply under way. */
void cli_json_reset(struct cli_json *j)
{
	json_decref(j->data);
	json_decref(j->data_b64);
	j->data = NULL;
	j->data_b64 = NULL;
	j->ndata = 0;
}
