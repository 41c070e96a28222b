/* runtime/udf_value.c — checked conversions between SQL values and Lua. */
#define _GNU_SOURCE
#include "runtime/udf_value.h"

#include <lua.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const type_names[] = {
	[RT_T_NULL] = "null",         [RT_T_BIGINT] = "bigint", [RT_T_DOUBLE] = "double",
	[RT_T_BOOLEAN] = "boolean",   [RT_T_STRING] = "string", [RT_T_BINARY] = "binary",
	[RT_T_DATETIME] = "datetime", [RT_T_ANY] = "any",
};

const char *rt_type_name(enum rt_type t)
{
	if ((unsigned)t >= sizeof(type_names) / sizeof(type_names[0]))
		return "unknown";
	return type_names[t];
}

static int type_parse(const char *s, size_t len, enum rt_type *out)
{
	for (int t = RT_T_BIGINT; t <= RT_T_DATETIME; t++) {
		if (strlen(type_names[t]) == len && strncasecmp(s, type_names[t], len) == 0) {
			*out = (enum rt_type)t;
			return 0;
		}
	}
	if (len == 1 && s[0] == '*') {
		*out = RT_T_ANY;
		return 0;
	}
	return -1;
}

/* Parses a comma-separated type list [s, e) into types; an empty list is 0. */
static int parse_list(const char *s, const char *e, enum rt_type *types, int *n, bool *any,
		      struct cmn_err *err)
{
	*n = 0;
	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	if (s == e)
		return 0;
	while (s <= e) {
		const char *c = memchr(s, ',', (size_t)(e - s));
		const char *end = c ? c : e;
		const char *a = s, *b = end;
		enum rt_type t;
		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		if (type_parse(a, (size_t)(b - a), &t) < 0)
			return cmn_err_set(err, CMN_EINVAL, 0, "signature: unknown type '%.*s'",
					   (int)(b - a), a);
		if (t == RT_T_ANY) {
			if (!any || *n > 0 || c)
				return cmn_err_set(err, CMN_EINVAL, 0,
						   "signature: '*' must be the only argument type");
			*any = true;
		} else {
			if (*n >= RT_MAX_COLS)
				return cmn_err_set(err, CMN_EINVAL, 0,
						   "signature: more than %d types", RT_MAX_COLS);
			types[(*n)++] = t;
		}
		if (!c)
			break;
		s = c + 1;
	}
	return 0;
}

int rt_sig_parse(const char *text, struct rt_signature *sig, struct cmn_err *err)
{
	const char *arrow = strstr(text, "->");

	memset(sig, 0, sizeof(*sig));
	if (!arrow)
		return cmn_err_set(err, CMN_EINVAL, 0, "signature '%s': expected 'args->result'",
				   text);
	if (parse_list(text, arrow, sig->args, &sig->nargs, &sig->any_args, err) < 0 ||
	    parse_list(arrow + 2, text + strlen(text), sig->ret, &sig->nret, NULL, err) < 0)
		return cmn_err_wrap(err, "signature '%s'", text);
	if (sig->nret == 0)
		return cmn_err_set(err, CMN_EINVAL, 0, "signature '%s': no result type", text);
	sig->present = true;
	return 0;
}

int rt_value_coerce(struct rt_value *v, enum rt_type want, int argno, struct cmn_err *err)
{
	if (v->type == RT_T_NULL || want == RT_T_ANY || v->type == want)
		return 0;
	if (want == RT_T_DOUBLE && v->type == RT_T_BIGINT) {
		v->v.d = (double)v->v.i;
		v->type = RT_T_DOUBLE;
		return 0;
	}
	if ((want == RT_T_STRING && v->type == RT_T_BINARY) ||
	    (want == RT_T_BINARY && v->type == RT_T_STRING)) {
		v->type = want;
		return 0;
	}
	return cmn_err_set(err, CMN_EINVAL, 0, "argument %d: expected %s, got %s", argno,
			   rt_type_name(want), rt_type_name(v->type));
}

void rt_value_push(lua_State *L, const struct rt_value *v)
{
	switch (v->type) {
	case RT_T_BIGINT:
		lua_pushinteger(L, (lua_Integer)v->v.i);
		break;
	case RT_T_DOUBLE:
		lua_pushnumber(L, (lua_Number)v->v.d);
		break;
	case RT_T_BOOLEAN:
		lua_pushboolean(L, v->v.b);
		break;
	case RT_T_STRING:
	case RT_T_BINARY:
		lua_pushlstring(L, v->v.s.p, v->v.s.len);
		break;
	case RT_T_DATETIME:
		if (v->v.ms % 1000 == 0)
			lua_pushinteger(L, (lua_Integer)(v->v.ms / 1000));
		else
			lua_pushnumber(L, (lua_Number)v->v.ms / 1000.0);
		break;
	default:
		lua_pushnil(L);
		break;
	}
}

static const char *lua_kind(lua_State *L, int idx)
{
	int t = lua_type(L, idx);

	if (t == LUA_TNUMBER)
		return lua_isinteger(L, idx) ? "integer" : "float";
	return lua_typename(L, t);
}

static int mismatch(lua_State *L, int idx, enum rt_type want, char *why, size_t len)
{
	snprintf(why, len, "expected %s, got %s", rt_type_name(want), lua_kind(L, idx));
	return -1;
}

static int from_any(lua_State *L, int idx, struct rt_value *out, char *why, size_t len)
{
	switch (lua_type(L, idx)) {
	case LUA_TBOOLEAN:
		out->type = RT_T_BOOLEAN;
		out->v.b = lua_toboolean(L, idx);
		return 0;
	case LUA_TNUMBER:
		if (lua_isinteger(L, idx)) {
			out->type = RT_T_BIGINT;
			out->v.i = (int64_t)lua_tointeger(L, idx);
		} else {
			out->type = RT_T_DOUBLE;
			out->v.d = (double)lua_tonumber(L, idx);
		}
		return 0;
	case LUA_TSTRING:
		out->type = RT_T_STRING;
		out->v.s.p = lua_tolstring(L, idx, &out->v.s.len);
		return 0;
	default:
		snprintf(why, len, "a %s is not a SQL value", lua_kind(L, idx));
		return -1;
	}
}

int rt_value_from_lua(lua_State *L, int idx, enum rt_type want, struct rt_value *out, char *why,
		      size_t whylen)
{
	int t = lua_type(L, idx);
	int isnum;

	memset(out, 0, sizeof(*out));
	if (t == LUA_TNIL || t == LUA_TNONE) {
		out->type = RT_T_NULL;
		return 0;
	}
	switch (want) {
	case RT_T_ANY:
		return from_any(L, idx, out, why, whylen);
	case RT_T_BIGINT:
		if (t != LUA_TNUMBER)
			return mismatch(L, idx, want, why, whylen);
		/* a float with an exact integer value is accepted (2.0 -> 2) */
		out->v.i = (int64_t)lua_tointegerx(L, idx, &isnum);
		if (!isnum)
			return mismatch(L, idx, want, why, whylen);
		break;
	case RT_T_DOUBLE:
		if (t != LUA_TNUMBER)
			return mismatch(L, idx, want, why, whylen);
		out->v.d = (double)lua_tonumber(L, idx);
		break;
	case RT_T_BOOLEAN:
		if (t != LUA_TBOOLEAN)
			return mismatch(L, idx, want, why, whylen);
		out->v.b = lua_toboolean(L, idx);
		break;
	case RT_T_STRING:
	case RT_T_BINARY:
		if (t != LUA_TSTRING)
			return mismatch(L, idx, want, why, whylen);
		out->v.s.p = lua_tolstring(L, idx, &out->v.s.len);
		break;
	case RT_T_DATETIME: {
		double sec;
		if (t != LUA_TNUMBER)
			return mismatch(L, idx, want, why, whylen);
		sec = (double)lua_tonumber(L, idx);
		if (!(sec > -9.2e15 && sec < 9.2e15)) {
			snprintf(why, whylen, "datetime out of range");
			return -1;
		}
		out->v.ms = lua_isinteger(L, idx) ? (int64_t)lua_tointeger(L, idx) * 1000
						  : (int64_t)llround(sec * 1000.0);
		break;
	}
	default:
		return mismatch(L, idx, want, why, whylen);
	}
	out->type = want;
	return 0;
}

size_t rt_value_size(const struct rt_value *v)
{
	if (v->type == RT_T_STRING || v->type == RT_T_BINARY)
		return v->v.s.len + 1;
	return 8;
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	/* H. Hinnant's algorithm: proleptic Gregorian, no timezone involved */
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

int rt_datetime_parse(const char *s, size_t len, int64_t *ms)
{
	char buf[40];
	int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, n = 0;

	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (sscanf(buf, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3)
		return -1;
	if (buf[n] == ' ' || buf[n] == 'T') {
		int m2 = 0;
		if (sscanf(buf + n + 1, "%2d:%2d:%2d%n", &h, &mi, &sec, &m2) != 3)
			return -1;
		n += 1 + m2;
		if (buf[n] == '.') {
			int digits = 0;
			n++;
			while (buf[n] >= '0' && buf[n] <= '9' && digits < 3) {
				frac = frac * 10 + (buf[n++] - '0');
				digits++;
			}
			if (digits == 0)
				return -1;
			while (digits++ < 3)
				frac *= 10;
		}
		if (buf[n] == 'Z')
			n++;
	}
	if (buf[n] != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	*ms = ((days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec) *
	       1000) +
	      frac;
	return 0;
}

void rt_datetime_format(int64_t ms, char *out, size_t len)
{
	int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
	int frac = (int)(ms - secs * 1000);
	time_t t = (time_t)secs;
	struct tm tm;

	if (!gmtime_r(&t, &tm)) {
		snprintf(out, len, "%lld", (long long)ms);
		return;
	}
	if (frac)
		snprintf(out, len, "%04d-%02d-%02d %02d:%02d:%02d.%03d", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
	else
		snprintf(out, len, "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}
