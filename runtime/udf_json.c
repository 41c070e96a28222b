/* runtime/udf_json.c — JSON lines <-> SQL values for `cordon-node udf`. */
#define _GNU_SOURCE
#include "runtime/udf_json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_val(int c)
{
	const char *p = c ? strchr(B64, c) : NULL;
	return p ? (int)(p - B64) : -1;
}

/* Decodes standard base64 (padding optional); returns length or -1. */
static long b64_decode(const char *in, size_t len, unsigned char *out)
{
	unsigned acc = 0;
	int bits = 0;
	long n = 0;

	while (len && in[len - 1] == '=')
		len--;
	for (size_t i = 0; i < len; i++) {
		int v = b64_val((unsigned char)in[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	return n;
}

static char *b64_encode(const unsigned char *in, size_t len)
{
	size_t olen = (len + 2) / 3 * 4;
	char *out = malloc(olen + 1);
	size_t o = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = B64[(v >> 18) & 63];
		out[o++] = B64[(v >> 12) & 63];
		out[o++] = i + 1 < len ? B64[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? B64[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

static int from_base64(json_t *holder, json_t *obj, struct rt_value *v, int argno,
		       struct cmn_err *err)
{
	json_t *s = json_object_get(obj, "base64");
	cleanup_free unsigned char *bytes = NULL;
	json_t *keep;
	long n;

	if (json_object_size(obj) != 1 || !json_is_string(s))
		return cmn_err_set(err, CMN_EINVAL, 0,
				   "argument %d: an object must be {\"base64\": \"...\"}", argno);
	bytes = malloc(json_string_length(s) + 1);
	if (!bytes)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	n = b64_decode(json_string_value(s), json_string_length(s), bytes);
	if (n < 0)
		return cmn_err_set(err, CMN_EINVAL, 0, "argument %d: bad base64", argno);
	/* kept alive by the holder, which the caller frees after the call */
	keep = json_stringn_nocheck((const char *)bytes, (size_t)n);
	if (!keep || json_array_append_new(holder, keep) < 0)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	v->type = RT_T_BINARY;
	v->v.s.p = json_string_value(keep);
	v->v.s.len = (size_t)n;
	return 0;
}

static int from_json(json_t *holder, json_t *j, enum rt_type want, struct rt_value *v, int argno,
		     struct cmn_err *err)
{
	memset(v, 0, sizeof(*v));
	switch (json_typeof(j)) {
	case JSON_NULL:
		v->type = RT_T_NULL;
		return 0;
	case JSON_TRUE:
	case JSON_FALSE:
		v->type = RT_T_BOOLEAN;
		v->v.b = json_is_true(j);
		return 0;
	case JSON_INTEGER:
		v->type = RT_T_BIGINT;
		v->v.i = (int64_t)json_integer_value(j);
		if (want == RT_T_DATETIME) {
			if (v->v.i > INT64_MAX / 1000 || v->v.i < INT64_MIN / 1000)
				return cmn_err_set(err, CMN_EINVAL, 0,
						   "argument %d: datetime out of range", argno);
			v->type = RT_T_DATETIME;
			v->v.ms = v->v.i * 1000;
		}
		return 0;
	case JSON_REAL:
		v->type = RT_T_DOUBLE;
		v->v.d = json_real_value(j);
		return 0;
	case JSON_STRING:
		v->type = want == RT_T_BINARY ? RT_T_BINARY : RT_T_STRING;
		v->v.s.p = json_string_value(j);
		v->v.s.len = json_string_length(j);
		if (want == RT_T_DATETIME) {
			if (rt_datetime_parse(v->v.s.p, v->v.s.len, &v->v.ms) < 0)
				return cmn_err_set(err, CMN_EINVAL, 0,
						   "argument %d: '%s' is not a datetime "
						   "(YYYY-MM-DD HH:MM:SS)",
						   argno, v->v.s.p);
			v->type = RT_T_DATETIME;
		}
		return 0;
	case JSON_OBJECT:
		return from_base64(holder, j, v, argno, err);
	default:
		return cmn_err_set(err, CMN_EINVAL, 0, "argument %d: an array is not a SQL value",
				   argno);
	}
}

int rt_json_parse_args(const char *text, size_t len, const struct rt_signature *sig,
		       json_t **holder, struct rt_value *args, int *nargs, struct cmn_err *err)
{
	json_error_t jerr;
	json_t *arr = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
	size_t n;

	*holder = arr;
	if (!arr)
		return cmn_err_set(err, CMN_EINVAL, 0, "bad JSON: %s (column %d)", jerr.text,
				   jerr.column);
	if (!json_is_array(arr))
		return cmn_err_set(err, CMN_EINVAL, 0,
				   "each line must be a JSON array of arguments");
	n = json_array_size(arr);
	if (n > RT_MAX_COLS)
		return cmn_err_set(err, CMN_EINVAL, 0, "more than %d arguments", RT_MAX_COLS);
	*nargs = (int)n;
	for (size_t i = 0; i < n; i++) {
		enum rt_type want = RT_T_ANY;
		if (sig->present && !sig->any_args && (int)i < sig->nargs)
			want = sig->args[i];
		if (from_json(arr, json_array_get(arr, i), want, &args[i], (int)i + 1, err) < 0)
			return -1;
	}
	return 0;
}

static json_t *binary_json(const char *p, size_t len)
{
	cleanup_free char *enc = b64_encode((const unsigned char *)p, len);
	return enc ? json_pack("{s:s}", "base64", enc) : NULL;
}

static json_t *to_json(const struct rt_value *v)
{
	char dt[48];
	json_t *j;

	switch (v->type) {
	case RT_T_BIGINT:
		return json_integer((json_int_t)v->v.i);
	case RT_T_DOUBLE:
		if (isnan(v->v.d))
			return json_string("NaN");
		if (isinf(v->v.d))
			return json_string(v->v.d > 0 ? "Infinity" : "-Infinity");
		return json_real(v->v.d);
	case RT_T_BOOLEAN:
		return json_boolean(v->v.b);
	case RT_T_STRING:
		j = json_stringn(v->v.s.p, v->v.s.len);
		return j ? j : binary_json(v->v.s.p, v->v.s.len);
	case RT_T_BINARY:
		return binary_json(v->v.s.p, v->v.s.len);
	case RT_T_DATETIME:
		rt_datetime_format(v->v.ms, dt, sizeof(dt));
		return json_string(dt);
	default:
		return json_null();
	}
}

/* Shortest of %.15g and %.17g that reads back exactly, always with a '.' or
 * exponent so it stays a JSON real. */
static void format_double(double d, char *buf, size_t len)
{
	snprintf(buf, len, "%.15g", d);
	if (strtod(buf, NULL) != d)
		snprintf(buf, len, "%.17g", d);
	if (!strpbrk(buf, ".eEn"))
		strncat(buf, ".0", len - strlen(buf) - 1);
}

static int write_value(FILE *out, const struct rt_value *v, struct cmn_err *err)
{
	char num[40];
	json_t *j;
	int rc;

	if (v->type == RT_T_DOUBLE && isfinite(v->v.d)) {
		format_double(v->v.d, num, sizeof(num));
		return fputs(num, out) == EOF ? cmn_err_sys(err, "write stdout") : 0;
	}
	j = to_json(v);
	if (!j)
		return cmn_err_set(err, CMN_ENOMEM, 0, "json: out of memory");
	rc = json_dumpf(j, out, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(j);
	return rc < 0 ? cmn_err_sys(err, "write stdout") : 0;
}

int rt_json_write_row(FILE *out, const struct rt_value *cols, int ncols, bool as_array,
		      struct cmn_err *err)
{
	if (as_array && fputc('[', out) == EOF)
		return cmn_err_sys(err, "write stdout");
	for (int i = 0; i < (as_array ? ncols : 1); i++) {
		if (i > 0 && fputc(',', out) == EOF)
			return cmn_err_sys(err, "write stdout");
		if (write_value(out, &cols[i], err) < 0)
			return -1;
	}
	if ((as_array && fputc(']', out) == EOF) || fputc('\n', out) == EOF)
		return cmn_err_sys(err, "write stdout");
	return 0;
}
