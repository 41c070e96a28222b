/* runtime/serialize.c — plain-data encoding of aggregate buffers. See
 * serialize.h for the format. */
#define _GNU_SOURCE
#include "runtime/serialize.h"

#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

enum { T_NIL = 0, T_FALSE, T_TRUE, T_INT, T_DOUBLE, T_STRING, T_TABLE };

static const char MAGIC[3] = { 'C', 'B', '1' };

struct enc {
	lua_State *L;
	struct cmn_buf *out;
	int seen; /* stack index of the tables on the current path */
};

static void put(struct enc *e, const void *p, size_t n)
{
	if (cmn_buf_append(e->out, p, n, NULL) < 0)
		luaL_error(e->L, "aggregate buffer: serialized size exceeds %I bytes",
			   (lua_Integer)e->out->max);
}

static void put_u8(struct enc *e, uint8_t v)
{
	put(e, &v, 1);
}

static void put_u32(struct enc *e, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	put(e, b, 4);
}

static void put_u64(struct enc *e, uint64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	put(e, b, 8);
}

static void encode_value(struct enc *e, int idx, int depth, int is_key);

static void encode_table(struct enc *e, int idx, int depth)
{
	lua_State *L = e->L;
	uint32_t count = 0;
	size_t count_at;

	if (depth >= RT_SER_MAX_DEPTH)
		luaL_error(L, "aggregate buffer: nested deeper than %d levels", RT_SER_MAX_DEPTH);
	if (lua_getmetatable(L, idx))
		luaL_error(L, "aggregate buffer: a table with a metatable is not plain data");
	lua_pushvalue(L, idx);
	if (lua_rawget(L, e->seen) != LUA_TNIL)
		luaL_error(L, "aggregate buffer: contains a cycle");
	lua_pop(L, 1);
	lua_pushvalue(L, idx);
	lua_pushboolean(L, 1);
	lua_rawset(L, e->seen);

	put_u8(e, T_TABLE);
	count_at = e->out->len;
	put_u32(e, 0);
	luaL_checkstack(L, 4, "aggregate buffer");
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		int top = lua_gettop(L);
		encode_value(e, top - 1, depth + 1, 1);
		encode_value(e, top, depth + 1, 0);
		lua_pop(L, 1);
		count++;
	}
	for (int i = 0; i < 4; i++)
		e->out->data[count_at + (size_t)i] = (char)(count >> (8 * i));
	lua_pushvalue(L, idx);
	lua_pushnil(L);
	lua_rawset(L, e->seen);
}

static void encode_value(struct enc *e, int idx, int depth, int is_key)
{
	lua_State *L = e->L;
	size_t len;
	const char *s;
	double d;
	uint64_t bits;

	switch (lua_type(L, idx)) {
	case LUA_TNIL:
		put_u8(e, T_NIL);
		break;
	case LUA_TBOOLEAN:
		put_u8(e, lua_toboolean(L, idx) ? T_TRUE : T_FALSE);
		break;
	case LUA_TNUMBER:
		if (lua_isinteger(L, idx)) {
			put_u8(e, T_INT);
			put_u64(e, (uint64_t)lua_tointeger(L, idx));
		} else {
			d = (double)lua_tonumber(L, idx);
			memcpy(&bits, &d, 8);
			put_u8(e, T_DOUBLE);
			put_u64(e, bits);
		}
		break;
	case LUA_TSTRING:
		s = lua_tolstring(L, idx, &len);
		if (len > UINT32_MAX)
			luaL_error(L, "aggregate buffer: string too long");
		put_u8(e, T_STRING);
		put_u32(e, (uint32_t)len);
		put(e, s, len);
		break;
	case LUA_TTABLE:
		if (is_key)
			luaL_error(L, "aggregate buffer: a table as a key is not plain data");
		encode_table(e, idx, depth);
		break;
	default:
		luaL_error(L, "aggregate buffer: a %s is not plain data",
			   lua_typename(L, lua_type(L, idx)));
	}
}

void rt_ser_encode(lua_State *L, int idx, struct cmn_buf *out, size_t max_bytes)
{
	struct enc e = { L, out, 0 };

	idx = lua_absindex(L, idx);
	cmn_buf_reset(out);
	out->max = max_bytes;
	lua_newtable(L);
	e.seen = lua_gettop(L);
	put(&e, MAGIC, sizeof(MAGIC));
	encode_value(&e, idx, 0, 0);
	lua_pop(L, 1);
}

struct dec {
	lua_State *L;
	const uint8_t *p;
	size_t left;
};

static const uint8_t *take(struct dec *d, size_t n)
{
	const uint8_t *p = d->p;

	if (n > d->left)
		luaL_error(d->L, "aggregate buffer: truncated data");
	d->p += n;
	d->left -= n;
	return p;
}

static uint32_t get_u32(struct dec *d)
{
	const uint8_t *b = take(d, 4);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t get_u64(struct dec *d)
{
	const uint8_t *b = take(d, 8);
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

static void decode_value(struct dec *d, int depth, int is_key)
{
	lua_State *L = d->L;
	uint8_t tag = *take(d, 1);
	uint64_t bits;
	uint32_t n;
	double v;

	luaL_checkstack(L, 3, "aggregate buffer");
	switch (tag) {
	case T_NIL:
		if (is_key)
			luaL_error(L, "aggregate buffer: nil key");
		lua_pushnil(L);
		break;
	case T_FALSE:
	case T_TRUE:
		lua_pushboolean(L, tag == T_TRUE);
		break;
	case T_INT:
		lua_pushinteger(L, (lua_Integer)get_u64(d));
		break;
	case T_DOUBLE:
		bits = get_u64(d);
		memcpy(&v, &bits, 8);
		if (is_key && isnan(v))
			luaL_error(L, "aggregate buffer: NaN key");
		lua_pushnumber(L, (lua_Number)v);
		break;
	case T_STRING:
		n = get_u32(d);
		lua_pushlstring(L, (const char *)take(d, n), n);
		break;
	case T_TABLE:
		if (is_key)
			luaL_error(L, "aggregate buffer: a table as a key");
		if (depth >= RT_SER_MAX_DEPTH)
			luaL_error(L, "aggregate buffer: nested deeper than %d levels",
				   RT_SER_MAX_DEPTH);
		n = get_u32(d);
		/* each entry takes at least 2 bytes: a hostile count cannot make us
		 * preallocate more than the input justifies */
		if (n > d->left / 2)
			luaL_error(L, "aggregate buffer: bad entry count");
		lua_createtable(L, 0, (int)n);
		for (uint32_t i = 0; i < n; i++) {
			decode_value(d, depth + 1, 1);
			decode_value(d, depth + 1, 0);
			lua_rawset(L, -3);
		}
		break;
	default:
		luaL_error(L, "aggregate buffer: bad tag %d", tag);
	}
}

void rt_ser_decode(lua_State *L, const void *data, size_t len)
{
	struct dec d = { L, data, len };

	if (len < sizeof(MAGIC) || memcmp(data, MAGIC, sizeof(MAGIC)) != 0)
		luaL_error(L, "aggregate buffer: not a Cordon buffer");
	take(&d, sizeof(MAGIC));
	decode_value(&d, 0, 0);
	if (d.left)
		luaL_error(L, "aggregate buffer: %I trailing bytes", (lua_Integer)d.left);
}
