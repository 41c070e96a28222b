/* runtime/udf_abi.c — scalar, aggregate and table functions over one
 * sandboxed Lua state. See udf_abi.h.
 *
 * The per-row paths (rt_udf_call, rt_udf_agg_iterate) push the function and
 * arguments directly and make one lua_pcall: numbers and booleans push
 * without allocating, strings are checked against the string cap and pushed
 * with the memory limit lifted (rt_lua_host_push), so no Lua error can be
 * raised outside the protected call.
 */
#define _GNU_SOURCE
#include "runtime/udf_abi.h"

#include <lauxlib.h>
#include <limits.h>
#include <lua.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/lua_internal.h"
#include "runtime/serialize.h"

struct rt_udf {
	struct rt_lua *S;
	lua_State *L;
	enum rt_udf_kind kind;
	struct rt_signature sig;
	char script[128];
	char fname[64];
	int ref_fn; /* scalar function, or process */
	int ref_new, ref_iter, ref_merge, ref_term, ref_close;
	int ref_ctx;
	int ref_bufs;  /* table: aggregate buffers by handle */
	int ref_batch; /* table: driver (1), output column (2), argument columns (3..) */
	int batch_nargs;
	uint64_t string_cap;    /* copy of the limit, read on every row */
	bool coerce;            /* a signature with typed arguments: coerce each */
	bool int_result;        /* the result may be an integer taken as BIGINT */
	bool int_fast;          /* ... and its 8 bytes always fit the output limit */
	bool args_have_strings; /* set by check_args for push_args */
	int next_buf;           /* handles are never reused, so a stale one cannot alias */
	/* the row sink during rt_udf_process / rt_udf_table_close */
	rt_row_fn row_fn;
	void *row_ud;
	bool row_failed;
	struct cmn_err row_err;
};

static const char *const kind_names[] = { "scalar", "aggregate", "table" };

const char *rt_udf_kind_name(enum rt_udf_kind k)
{
	return (unsigned)k < 3 ? kind_names[k] : "unknown";
}

enum rt_udf_kind rt_udf_kind(const struct rt_udf *u)
{
	return u->kind;
}

const struct rt_signature *rt_udf_signature(const struct rt_udf *u)
{
	return &u->sig;
}

struct rt_lua *rt_udf_lua(struct rt_udf *u)
{
	return u->S;
}

enum rt_limit rt_udf_limit_hit(const struct rt_udf *u)
{
	return rt_lua_limit_hit(u->S);
}

/* ---- ctx.forward -------------------------------------------------------- */

static int l_forward(lua_State *L)
{
	struct rt_udf *u = lua_touserdata(L, lua_upvalueindex(1));
	struct rt_value cols[RT_MAX_COLS];
	int n = lua_gettop(L);
	int ncols = u->sig.present ? u->sig.nret : n;
	size_t bytes = 0;
	char why[128];

	if (!u->row_fn)
		return luaL_error(L, "ctx.forward: called outside process/close");
	if (n > ncols || ncols > RT_MAX_COLS)
		return luaL_error(L, "ctx.forward: %d values for %d columns", n,
				  ncols > RT_MAX_COLS ? RT_MAX_COLS : ncols);
	for (int i = 0; i < ncols; i++) {
		enum rt_type want = u->sig.present ? u->sig.ret[i] : RT_T_ANY;
		if (rt_value_from_lua(L, i + 1, want, &cols[i], why, sizeof(why)) < 0)
			return luaL_error(L, "ctx.forward: column %d: %s", i + 1, why);
		bytes += rt_value_size(&cols[i]);
	}
	if (rt_lua_charge_output(u->S, bytes) < 0)
		return rt_lua_raise_limit(L, RT_LIMIT_OUTPUT, NULL);
	if (u->row_fn(u->row_ud, cols, ncols, &u->row_err) < 0) {
		u->row_failed = true;
		return luaL_error(L, "ctx.forward: %s", u->row_err.msg);
	}
	return 0;
}

/* ---- opening ------------------------------------------------------------ */

static int ref_field(lua_State *L, struct rt_udf *u, int t, const char *name, bool required,
		     const char *what)
{
	int type = lua_getfield(L, t, name);

	if (type == LUA_TNIL && !required) {
		lua_pop(L, 1);
		return LUA_NOREF;
	}
	if (type != LUA_TFUNCTION)
		luaL_error(L, "%s: %s '%s' needs a function '%s' (got %s)", u->script, what,
			   u->fname, name, lua_typename(L, type));
	return luaL_ref(L, LUA_REGISTRYINDEX);
}

static void read_signature(lua_State *L, struct rt_udf *u, int t)
{
	struct cmn_err e = CMN_ERR_INIT;
	int type = lua_getfield(L, t, "signature");

	if (type == LUA_TSTRING) {
		if (rt_sig_parse(lua_tostring(L, -1), &u->sig, &e) < 0)
			luaL_error(L, "%s: %s: %s", u->script, u->fname, e.msg);
	} else if (type != LUA_TNIL) {
		luaL_error(L, "%s: %s: signature must be a string", u->script, u->fname);
	}
	lua_pop(L, 1);
}

static int resolve_table(lua_State *L, struct rt_udf *u, int t)
{
	read_signature(L, u, t);
	if (lua_getfield(L, t, "process") != LUA_TNIL) {
		lua_pop(L, 1);
		u->kind = RT_UDF_TABLE;
		u->ref_fn = ref_field(L, u, t, "process", true, "table function");
		u->ref_close = ref_field(L, u, t, "close", false, "table function");
		lua_createtable(L, 0, 1);
		lua_pushlightuserdata(L, u);
		lua_pushcclosure(L, l_forward, 1);
		lua_setfield(L, -2, "forward");
		u->ref_ctx = luaL_ref(L, LUA_REGISTRYINDEX);
	} else if (lua_getfield(L, t, "iterate") != LUA_TNIL) {
		lua_pop(L, 2);
		u->kind = RT_UDF_AGGREGATE;
		u->ref_new = ref_field(L, u, t, "new_buffer", true, "aggregate");
		u->ref_iter = ref_field(L, u, t, "iterate", true, "aggregate");
		u->ref_merge = ref_field(L, u, t, "merge", true, "aggregate");
		u->ref_term = ref_field(L, u, t, "terminate", true, "aggregate");
		lua_newtable(L);
		u->ref_bufs = luaL_ref(L, LUA_REGISTRYINDEX);
	} else if (lua_getfield(L, t, "evaluate") != LUA_TNIL) {
		lua_pop(L, 3);
		u->kind = RT_UDF_SCALAR;
		u->ref_fn = ref_field(L, u, t, "evaluate", true, "scalar function");
	} else {
		return luaL_error(L,
				  "%s: '%s' is a table without process, iterate or evaluate "
				  "(see the UDF ABI)",
				  u->script, u->fname);
	}
	return 0;
}

static int resolve(lua_State *L, void *ud)
{
	struct rt_udf *u = ud;
	int type;

	/* stack: the script's result */
	if (!lua_istable(L, 1))
		return luaL_error(L, "%s: the script must return a table of functions (got %s)",
				  u->script, luaL_typename(L, 1));
	type = lua_getfield(L, 1, u->fname);
	if (type == LUA_TFUNCTION) {
		u->kind = RT_UDF_SCALAR;
		u->ref_fn = luaL_ref(L, LUA_REGISTRYINDEX);
		return 0;
	}
	if (type == LUA_TNIL)
		return luaL_error(L, "%s: no function '%s' in the table the script returns",
				  u->script, u->fname);
	if (type != LUA_TTABLE)
		return luaL_error(L, "%s: '%s' is a %s, not a function or a table", u->script,
				  u->fname, lua_typename(L, type));
	return resolve_table(L, u, lua_gettop(L));
}

int rt_udf_open(const struct rt_udf_source *src, struct rt_udf **out, struct cmn_err *err)
{
	struct rt_udf *u = calloc(1, sizeof(*u));

	*out = NULL;
	if (!u)
		return cmn_err_set(err, CMN_ENOMEM, 0, "udf: out of memory");
	snprintf(u->script, sizeof(u->script), "%s", src->script_name);
	snprintf(u->fname, sizeof(u->fname), "%s", src->function);
	u->ref_fn = u->ref_new = u->ref_iter = u->ref_merge = u->ref_term = LUA_NOREF;
	u->ref_close = u->ref_ctx = u->ref_bufs = u->ref_batch = LUA_NOREF;
	u->batch_nargs = -1;
	if (rt_lua_new(src->limits, &u->S, err) < 0)
		goto fail;
	u->L = rt_lua_state(u->S);
	u->string_cap = rt_lua_limits(u->S)->string_bytes;
	if (rt_lua_set_resources(u->S, src->resources, src->resource_count, err) < 0 ||
	    rt_lua_load(u->S, u->script, src->src, src->len, err) < 0 ||
	    rt_lua_pcall(u->S, resolve, u, 1, 0, err) < 0)
		goto fail;
	lua_settop(u->L, 0);
	u->coerce = u->sig.present && !u->sig.any_args;
	u->int_result =
	    !u->sig.present || u->sig.ret[0] == RT_T_ANY || u->sig.ret[0] == RT_T_BIGINT;
	u->int_fast = u->int_result && rt_lua_limits(u->S)->output_bytes >= 8;
	if (u->kind == RT_UDF_SCALAR)
		lua_rawgeti(u->L, LUA_REGISTRYINDEX, u->ref_fn); /* slot 1, see rt_udf_call */
	*out = u;
	return 0;
fail:
	rt_udf_free(u);
	return -1;
}

void rt_udf_free(struct rt_udf *u)
{
	if (!u)
		return;
	rt_lua_free(u->S);
	free(u);
}

/* ---- arguments and results ---------------------------------------------- */

static int check_args(struct rt_udf *u, const struct rt_value *args, int nargs,
		      struct rt_value *out, struct cmn_err *err)
{
	u->args_have_strings = false;
	if (nargs < 0 || nargs > RT_MAX_COLS)
		return cmn_err_set(err, CMN_EINVAL, 0, "%s: %s: too many arguments (%d)", u->script,
				   u->fname, nargs);
	if (u->sig.present && !u->sig.any_args && nargs != u->sig.nargs)
		return cmn_err_set(err, CMN_EINVAL, 0, "%s: %s: expected %d argument%s, got %d",
				   u->script, u->fname, u->sig.nargs, u->sig.nargs == 1 ? "" : "s",
				   nargs);
	for (int i = 0; i < nargs; i++) {
		out[i] = args[i];
		if (u->sig.present && !u->sig.any_args &&
		    rt_value_coerce(&out[i], u->sig.args[i], i + 1, err) < 0)
			return cmn_err_wrap(err, "%s: %s", u->script, u->fname);
		if (out[i].type == RT_T_STRING || out[i].type == RT_T_BINARY) {
			if (out[i].v.s.len > u->string_cap)
				return rt_lua_fail_limit(
				    u->S, RT_LIMIT_STRING,
				    "an argument is larger than the string cap", err);
			u->args_have_strings = true;
		}
	}
	return 0;
}

static void push_args(struct rt_udf *u, const struct rt_value *args, int nargs)
{
	if (!u->args_have_strings) {
		/* numbers, booleans and nil never allocate */
		for (int i = 0; i < nargs; i++)
			rt_value_push(u->L, &args[i]);
		return;
	}
	rt_lua_host_push(u->S, true);
	for (int i = 0; i < nargs; i++)
		rt_value_push(u->L, &args[i]);
	rt_lua_host_push(u->S, false);
	u->args_have_strings = false;
}

static int take_result(struct rt_udf *u, int idx, enum rt_type want, const char *what,
		       struct rt_value *out, struct cmn_err *err)
{
	char why[128];

	/* the common case first: an integer result */
	if ((want == RT_T_ANY || want == RT_T_BIGINT) && lua_isinteger(u->L, idx)) {
		out->type = RT_T_BIGINT;
		out->v.i = (int64_t)lua_tointeger(u->L, idx);
		return rt_lua_charge_output(u->S, 8) < 0
			   ? rt_lua_fail_limit(u->S, RT_LIMIT_OUTPUT, NULL, err)
			   : 0;
	}
	if (rt_value_from_lua(u->L, idx, want, out, why, sizeof(why)) < 0)
		return cmn_err_set(err, CMN_EINVAL, 0, "%s: %s: %s: %s", u->script, u->fname, what,
				   why);
	if ((out->type == RT_T_STRING || out->type == RT_T_BINARY) && out->v.s.len > u->string_cap)
		return rt_lua_fail_limit(u->S, RT_LIMIT_STRING, "result larger than the string cap",
					 err);
	if (rt_lua_charge_output(u->S, rt_value_size(out)) < 0)
		return rt_lua_fail_limit(u->S, RT_LIMIT_OUTPUT, NULL, err);
	return 0;
}

static enum rt_type ret_type(const struct rt_udf *u)
{
	return u->sig.present ? u->sig.ret[0] : RT_T_ANY;
}

static int wrong_kind(struct rt_udf *u, enum rt_udf_kind want, struct cmn_err *err)
{
	return cmn_err_set(err, CMN_EINVAL, 0, "%s: '%s' is a %s function, not a %s one", u->script,
			   u->fname, rt_udf_kind_name(u->kind), rt_udf_kind_name(want));
}

/* ---- scalar ------------------------------------------------------------- */

/* Pushes one argument of a per-row call, coerced to the signature; a string
 * is checked against the string cap and pushed past the memory limit (the
 * host's value, not the script's allocation). Nothing here raises a Lua
 * error: numbers, booleans and nil never allocate. */
static int push_arg(struct rt_udf *u, const struct rt_value *arg, int argno, struct cmn_err *err)
{
	struct rt_value v = *arg;

	if (u->coerce && rt_value_coerce(&v, u->sig.args[argno - 1], argno, err) < 0)
		return cmn_err_wrap(err, "%s: %s", u->script, u->fname);
	switch (v.type) {
	case RT_T_BIGINT:
		lua_pushinteger(u->L, (lua_Integer)v.v.i);
		return 0;
	case RT_T_STRING:
	case RT_T_BINARY:
		if (v.v.s.len > u->string_cap)
			return rt_lua_fail_limit(u->S, RT_LIMIT_STRING,
						 "an argument is larger than the string cap", err);
		u->S->host_push++;
		lua_pushlstring(u->L, v.v.s.p, v.v.s.len);
		u->S->host_push--;
		return 0;
	default:
		rt_value_push(u->L, &v);
		return 0;
	}
}

/* The per-row path (an SQLite scalar callback per row). Stack between calls:
 * slot 1 holds the function (put there at open, so a row never looks it up
 * in the registry), above it the results of the last rows; they keep a
 * string result alive at least until the next call. */
int rt_udf_call(struct rt_udf *u, const struct rt_value *args, int nargs, struct rt_value *out,
		struct cmn_err *err)
{
	lua_State *L = u->L;

	if (u->kind != RT_UDF_SCALAR)
		return wrong_kind(u, RT_UDF_SCALAR, err);
	if (nargs < 0 || nargs > RT_MAX_COLS)
		return cmn_err_set(err, CMN_EINVAL, 0, "%s: %s: too many arguments (%d)", u->script,
				   u->fname, nargs);
	if (u->coerce && nargs != u->sig.nargs)
		return cmn_err_set(err, CMN_EINVAL, 0, "%s: %s: expected %d argument%s, got %d",
				   u->script, u->fname, u->sig.nargs, u->sig.nargs == 1 ? "" : "s",
				   nargs);
	/* Earlier results stay on the stack until the next call would not fit
	 * in the LUA_MINSTACK slots the base frame guarantees: one lua_settop
	 * per ~16 one-argument rows instead of one per row. */
	if (lua_gettop(L) + nargs + 2 > LUA_MINSTACK) {
		lua_settop(L, 1);
		if (nargs + 3 > LUA_MINSTACK && !lua_checkstack(L, nargs + 3))
			return cmn_err_set(err, CMN_ENOMEM, 0, "%s: lua stack: out of memory",
					   u->script);
	}
	lua_pushvalue(L, 1);
	for (int i = 0; i < nargs; i++) {
		if (push_arg(u, &args[i], i + 1, err) < 0) {
			lua_settop(L, 1);
			return -1;
		}
	}
	if (rt_lua_call_inline(u->S, nargs, 1, err) < 0)
		return -1;
	if (u->int_result && lua_isinteger(L, -1)) {
		out->type = RT_T_BIGINT;
		out->v.i = (int64_t)lua_tointegerx(L, -1, NULL);
		if (rt_lua_charge_output_inline(u->S, 8) < 0)
			return rt_lua_fail_limit(u->S, RT_LIMIT_OUTPUT, NULL, err);
		return 0;
	}
	return take_result(u, lua_gettop(L), ret_type(u), "return value", out, err);
}

/* ---- scalar batches ---------------------------------------------------- */

#define BATCH_MAX_ARGS 16

/* Rows of one chunk call for nargs arguments: the chunk function takes every
 * argument of its rows as a parameter (at most 199 with its one local, Lua's
 * MAXVARS is 200) and returns one expression list of its calls (parameters,
 * results and one call frame stay within Lua's 255 registers). */
static int chunk_rows(int nargs)
{
	int c = nargs ? 199 / nargs : 128;

	if (c > (253 - nargs) / (nargs + 1))
		c = (253 - nargs) / (nargs + 1);
	return c > 128 ? 128 : c;
}

/* Sources of the two batch drivers for nargs arguments (trusted text, never
 * the user's):
 *   chunk, for C rows: local f = ...
 *          return function(p1, ..., pC*N) local f = f
 *            return f(p1, ..., pN), ..., (f(..., pC*N)) end
 *   loop, the rows of a last, partial chunk (a1..aN argument columns):
 *          local f, out, unpack, a1, ..., aN = ...
 *          return function(n) local f, out, a1, ..., aN = f, out, a1, ..., aN
 *            for i = 1, n do out[i] = f(a1[i], ..., aN[i]) end
 *            return unpack(out, 1, n) end
 * A chunk row costs what a call in a plain Lua loop costs: its arguments are
 * pushed on the stack (no table), its result comes back on the stack, and
 * one protected call covers C rows. Every result is truncated to one value. */
static int batch_sources(int nargs, struct cmn_buf *chunk, struct cmn_buf *loop,
			 struct cmn_err *err)
{
	char names[256];
	int off = 0, rc, c = chunk_rows(nargs);

	rc = cmn_buf_append_str(chunk, "local f = ...\nreturn function(", err);
	for (int p = 1; rc == 0 && p <= c * nargs; p++)
		rc = cmn_buf_printf(chunk, err, "%sp%d", p > 1 ? ", " : "", p);
	if (rc == 0)
		rc = cmn_buf_append_str(chunk, ")\nlocal f = f\nreturn ", err);
	for (int r = 0; rc == 0 && r < c; r++) {
		rc = cmn_buf_printf(chunk, err, "%s%sf(", r ? ",\n" : "", r == c - 1 ? "(" : "");
		for (int j = 1; rc == 0 && j <= nargs; j++)
			rc = cmn_buf_printf(chunk, err, "%sp%d", j > 1 ? ", " : "", r * nargs + j);
		if (rc == 0)
			rc = cmn_buf_append_str(chunk, r == c - 1 ? "))" : ")", err);
	}
	if (rc == 0)
		rc = cmn_buf_append_str(chunk, "\nend\n", err);
	names[0] = '\0';
	for (int j = 1; j <= nargs; j++)
		off += snprintf(names + off, sizeof(names) - (size_t)off, ", a%d", j);
	if (rc == 0)
		rc = cmn_buf_printf(loop, err,
				    "local f, out, unpack%s = ...\nreturn function(n)\nlocal f, "
				    "out%s = f, out%s\nfor i = 1, n do out[i] = f(",
				    names, names, names);
	for (int j = 1; rc == 0 && j <= nargs; j++)
		rc = cmn_buf_printf(loop, err, "%sa%d[i]", j > 1 ? ", " : "", j);
	if (rc == 0)
		rc = cmn_buf_append_str(loop, ") end\nreturn unpack(out, 1, n)\nend\n", err);
	return rc;
}

struct batch_setup_args {
	struct rt_udf *u;
	const struct cmn_buf *chunk, *loop;
};

/* Leaves the driver table: [1] loop driver, [2] its output column, [3..]
 * the argument columns, [nargs + 3] the chunk function. */
static int batch_setup_fn(lua_State *L, void *ud)
{
	struct batch_setup_args *a = ud;
	int nargs = a->u->batch_nargs;

	lua_createtable(L, nargs + 3, 0);
	if (luaL_loadbufferx(L, a->loop->data, a->loop->len, "=(batch)", "t") != LUA_OK)
		return lua_error(L);
	lua_rawgeti(L, LUA_REGISTRYINDEX, a->u->ref_fn);
	lua_createtable(L, RT_BATCH_ROWS, 0);
	lua_pushvalue(L, -1);
	lua_rawseti(L, 1, 2);
	/* the real table.unpack, opened into package.loaded by lua_env.c */
	lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
	if (lua_getfield(L, -1, LUA_TABLIBNAME) != LUA_TTABLE ||
	    lua_getfield(L, -1, "unpack") != LUA_TFUNCTION)
		return luaL_error(L, "batch: table.unpack missing");
	lua_replace(L, -3);
	lua_pop(L, 1);
	for (int j = 0; j < nargs; j++) {
		lua_createtable(L, RT_BATCH_ROWS, 0);
		lua_pushvalue(L, -1);
		lua_rawseti(L, 1, j + 3);
	}
	lua_call(L, nargs + 3, 1);
	lua_rawseti(L, 1, 1);
	if (luaL_loadbufferx(L, a->chunk->data, a->chunk->len, "=(batch)", "t") != LUA_OK)
		return lua_error(L);
	lua_rawgeti(L, LUA_REGISTRYINDEX, a->u->ref_fn);
	lua_call(L, 1, 1);
	lua_rawseti(L, 1, nargs + 3);
	return 1;
}

static int batch_setup(struct rt_udf *u, int nargs, struct cmn_err *err)
{
	struct cmn_buf chunk, loop;
	struct batch_setup_args a = { u, &chunk, &loop };
	int rc;

	if (u->batch_nargs == nargs)
		return 0;
	if (nargs > BATCH_MAX_ARGS)
		return cmn_err_set(err, CMN_EINVAL, 0, "%s: %s: batches take at most %d arguments",
				   u->script, u->fname, BATCH_MAX_ARGS);
	luaL_unref(u->L, LUA_REGISTRYINDEX, u->ref_batch);
	u->ref_batch = LUA_NOREF;
	u->batch_nargs = nargs;
	lua_settop(u->L, 1);
	cmn_buf_init(&chunk, 0);
	cmn_buf_init(&loop, 0);
	rc = batch_sources(nargs, &chunk, &loop, err);
	if (rc == 0)
		rc = rt_lua_pcall(u->S, batch_setup_fn, &a, 0, 1, err);
	cmn_buf_free(&chunk);
	cmn_buf_free(&loop);
	if (rc < 0) {
		u->batch_nargs = -1;
		lua_settop(u->L, 1);
		return -1;
	}
	u->ref_batch = luaL_ref(u->L, LUA_REGISTRYINDEX); /* a free slot: no allocation */
	return 0;
}

/* Stack of a batch: 1 the function (as for rt_udf_call), 2 the driver's
 * table, 3.. the argument columns, then the results, chunk after chunk. */
#define BATCH_DRIVER 2
#define BATCH_ARGS 3

/* Pushes one argument of a batch row past the memory limit (the host's
 * values); *pushed bounds the string bytes a batch adds by the memory limit
 * itself. */
static int batch_push(struct rt_udf *u, const struct rt_value *arg, int j, size_t row,
		      size_t *pushed, struct cmn_err *err)
{
	struct rt_value v = *arg;

	if (u->coerce && rt_value_coerce(&v, u->sig.args[j], j + 1, err) < 0)
		return cmn_err_wrap(err, "%s: %s: row %zu", u->script, u->fname, row + 1);
	if (v.type == RT_T_BIGINT) {
		lua_pushinteger(u->L, (lua_Integer)v.v.i);
	} else if (v.type == RT_T_STRING || v.type == RT_T_BINARY) {
		*pushed += v.v.s.len;
		if (v.v.s.len > u->string_cap || *pushed > rt_lua_limits(u->S)->memory_bytes)
			return rt_lua_fail_limit(u->S, RT_LIMIT_STRING, "batch arguments", err);
		lua_pushlstring(u->L, v.v.s.p, v.v.s.len);
	} else {
		rt_value_push(u->L, &v);
	}
	return 0;
}

/* Reads the nrows results at first..; integers take the short way. */
static int batch_read(struct rt_udf *u, int first, size_t nrows, struct rt_value *out,
		      struct cmn_err *err)
{
	lua_State *L = u->L;
	enum rt_type want = ret_type(u);

	for (size_t i = 0; i < nrows; i++) {
		int idx = first + (int)i;
		/* the output limit is per row here; 8 bytes always fit (int_fast) */
		if (u->int_fast && lua_isinteger(L, idx)) {
			out[i].type = RT_T_BIGINT;
			out[i].v.i = (int64_t)lua_tointegerx(L, idx, NULL);
			continue;
		}
		/* a string stays on the stack until the next call on u */
		rt_lua_output_reset(u->S);
		if (take_result(u, idx, want, "return value", &out[i], err) < 0)
			return -1;
	}
	return 0;
}

/* One protected call over rows first..first+m-1: a full chunk (arguments on
 * the stack), or the loop driver for the rest (arguments in the columns). Its
 * m results stay on the stack. */
static int batch_call(struct rt_udf *u, const struct rt_value *args, int nargs, size_t first,
		      size_t m, bool full, size_t *pushed, struct cmn_err *err)
{
	lua_State *L = u->L;
	int rc = 0;

	lua_rawgeti(L, BATCH_DRIVER, full ? nargs + 3 : 1);
	u->S->host_push++;
	for (size_t i = 0; rc == 0 && i < m; i++) {
		const struct rt_value *row = args + (first + i) * (size_t)nargs;
		for (int j = 0; rc == 0 && j < nargs; j++) {
			if (row[j].type == RT_T_BIGINT && !u->coerce)
				lua_pushinteger(L, (lua_Integer)row[j].v.i); /* the common case */
			else
				rc = batch_push(u, &row[j], j, first + i, pushed, err);
			if (rc == 0 && !full)
				lua_rawseti(L, BATCH_ARGS + j, (lua_Integer)i + 1);
		}
	}
	u->S->host_push--;
	if (rc < 0)
		return -1;
	rt_lua_set_call_rows(u->S, m);
	if (full)
		return rt_lua_call_inline(u->S, (int)m * nargs, (int)m, err);
	lua_pushinteger(L, (lua_Integer)m);
	return rt_lua_call_inline(u->S, 1, (int)m, err);
}

static int batch_run(struct rt_udf *u, const struct rt_value *args, int nargs, size_t nrows,
		     struct rt_value *out, struct cmn_err *err)
{
	lua_State *L = u->L;
	size_t pushed = 0, chunk = (size_t)chunk_rows(nargs);
	int first, ok;

	lua_settop(L, 1);
	/* room for every result and one chunk's arguments: host-side growth */
	u->S->host_push++;
	ok = lua_checkstack(L, (int)(nrows + chunk * (size_t)nargs) + nargs + 8);
	u->S->host_push--;
	if (!ok)
		return cmn_err_set(err, CMN_ENOMEM, 0, "%s: lua stack: out of memory", u->script);
	lua_rawgeti(L, LUA_REGISTRYINDEX, u->ref_batch);
	for (int j = 0; j < nargs; j++)
		lua_rawgeti(L, BATCH_DRIVER, j + 3); /* the argument columns */
	first = lua_gettop(L) + 1;
	for (size_t off = 0; off < nrows;) {
		size_t m = nrows - off < chunk ? nrows - off : chunk;
		if (batch_call(u, args, nargs, off, m, m == chunk, &pushed, err) < 0) {
			lua_settop(L, 1);
			return -1;
		}
		off += m;
	}
	if (lua_gettop(L) - first + 1 != (int)nrows)
		return cmn_err_set(err, CMN_EINTERNAL, 0, "%s: %s: batch returned %d rows of %zu",
				   u->script, u->fname, lua_gettop(L) - first + 1, nrows);
	return batch_read(u, first, nrows, out, err);
}

int rt_udf_call_batch(struct rt_udf *u, const struct rt_value *args, int nargs, size_t nrows,
		      struct rt_value *out, struct cmn_err *err)
{
	if (u->kind != RT_UDF_SCALAR)
		return wrong_kind(u, RT_UDF_SCALAR, err);
	if (nargs < 0 || nargs > RT_MAX_COLS || nrows > RT_BATCH_ROWS)
		return cmn_err_set(err, CMN_EINVAL, 0,
				   "%s: %s: a batch has at most %d rows and %d arguments",
				   u->script, u->fname, RT_BATCH_ROWS, RT_MAX_COLS);
	if (nrows == 0)
		return 0;
	if (u->coerce && nargs != u->sig.nargs)
		return cmn_err_set(err, CMN_EINVAL, 0, "%s: %s: expected %d argument%s, got %d",
				   u->script, u->fname, u->sig.nargs, u->sig.nargs == 1 ? "" : "s",
				   nargs);
	if (batch_setup(u, nargs, err) < 0)
		return -1;
	return batch_run(u, args, nargs, nrows, out, err);
}

/* ---- aggregates --------------------------------------------------------- */

/* Stores the value on top into the buffers table (just below it) under a new
 * handle, which it returns as an integer. Allocates: protected calls only. */
static int store_buf(lua_State *L, struct rt_udf *u)
{
	if (u->next_buf == INT_MAX)
		return luaL_error(L, "%s: %s: out of aggregate buffer handles", u->script,
				  u->fname);
	u->next_buf++;
	lua_rawseti(L, -2, u->next_buf);
	lua_pushinteger(L, u->next_buf);
	return 1;
}

static int agg_new_fn(lua_State *L, void *ud)
{
	struct rt_udf *u = ud;

	lua_rawgeti(L, LUA_REGISTRYINDEX, u->ref_bufs);
	lua_rawgeti(L, LUA_REGISTRYINDEX, u->ref_new);
	lua_call(L, 0, 1);
	if (lua_isnil(L, -1))
		return luaL_error(L, "%s: %s: new_buffer returned nil", u->script, u->fname);
	return store_buf(L, u);
}

int rt_udf_agg_new(struct rt_udf *u, int *buf, struct cmn_err *err)
{
	if (u->kind != RT_UDF_AGGREGATE)
		return wrong_kind(u, RT_UDF_AGGREGATE, err);
	lua_settop(u->L, 0);
	if (rt_lua_pcall(u->S, agg_new_fn, u, 0, 1, err) < 0)
		return -1;
	*buf = (int)lua_tointeger(u->L, -1);
	lua_settop(u->L, 0);
	return 0;
}

/* Pushes the buffers table and checks the handle; returns its index. */
static int bufs_push(struct rt_udf *u, int buf, struct cmn_err *err)
{
	lua_settop(u->L, 0);
	if (u->kind != RT_UDF_AGGREGATE)
		return wrong_kind(u, RT_UDF_AGGREGATE, err);
	lua_rawgeti(u->L, LUA_REGISTRYINDEX, u->ref_bufs);
	if (buf <= 0 || lua_rawgeti(u->L, 1, buf) == LUA_TNIL)
		return cmn_err_set(err, CMN_EINVAL, 0, "%s: %s: no aggregate buffer %d", u->script,
				   u->fname, buf);
	lua_pop(u->L, 1);
	return 0;
}

/* Calls ref(buffer, extra...) already pushed above index 1; a non-nil result
 * replaces the buffer. */
static int agg_step(struct rt_udf *u, int buf, int nargs, struct cmn_err *err)
{
	if (rt_lua_call(u->S, nargs, 1, err) < 0)
		return -1;
	if (!lua_isnil(u->L, -1))
		lua_rawseti(u->L, 1, buf); /* an existing key: no allocation */
	lua_settop(u->L, 0);
	return 0;
}

int rt_udf_agg_iterate(struct rt_udf *u, int buf, const struct rt_value *args, int nargs,
		       struct cmn_err *err)
{
	struct rt_value a[RT_MAX_COLS];

	if (bufs_push(u, buf, err) < 0 || check_args(u, args, nargs, a, err) < 0)
		return -1;
	if (!lua_checkstack(u->L, nargs + 4))
		return cmn_err_set(err, CMN_ENOMEM, 0, "%s: lua stack: out of memory", u->script);
	lua_rawgeti(u->L, LUA_REGISTRYINDEX, u->ref_iter);
	lua_rawgeti(u->L, 1, buf);
	push_args(u, a, nargs);
	return agg_step(u, buf, nargs + 1, err);
}

int rt_udf_agg_merge(struct rt_udf *u, int buf, int other, struct cmn_err *err)
{
	if (bufs_push(u, other, err) < 0 || bufs_push(u, buf, err) < 0)
		return -1;
	lua_rawgeti(u->L, LUA_REGISTRYINDEX, u->ref_merge);
	lua_rawgeti(u->L, 1, buf);
	lua_rawgeti(u->L, 1, other);
	return agg_step(u, buf, 2, err);
}

struct ser_args {
	struct rt_udf *u;
	int buf;
	struct cmn_buf *out;
	const void *data;
	size_t len;
};

static int ser_fn(lua_State *L, void *ud)
{
	struct ser_args *a = ud;

	lua_rawgeti(L, LUA_REGISTRYINDEX, a->u->ref_bufs);
	lua_rawgeti(L, -1, a->buf);
	rt_ser_encode(L, -1, a->out, rt_lua_limits(a->u->S)->string_bytes);
	return 0;
}

int rt_udf_agg_serialize(struct rt_udf *u, int buf, struct cmn_buf *out, struct cmn_err *err)
{
	struct ser_args a = { u, buf, out, NULL, 0 };

	if (bufs_push(u, buf, err) < 0)
		return -1;
	lua_settop(u->L, 0);
	if (rt_lua_pcall(u->S, ser_fn, &a, 0, 0, err) < 0)
		return cmn_err_wrap(err, "%s: %s", u->script, u->fname);
	return 0;
}

static int deser_fn(lua_State *L, void *ud)
{
	struct ser_args *a = ud;

	lua_rawgeti(L, LUA_REGISTRYINDEX, a->u->ref_bufs);
	rt_ser_decode(L, a->data, a->len);
	if (lua_isnil(L, -1))
		return luaL_error(L, "aggregate buffer: nil");
	return store_buf(L, a->u);
}

int rt_udf_agg_deserialize(struct rt_udf *u, const void *data, size_t len, int *buf,
			   struct cmn_err *err)
{
	struct ser_args a = { u, 0, NULL, data, len };

	if (u->kind != RT_UDF_AGGREGATE)
		return wrong_kind(u, RT_UDF_AGGREGATE, err);
	lua_settop(u->L, 0);
	if (len > rt_lua_limits(u->S)->string_bytes)
		return rt_lua_fail_limit(u->S, RT_LIMIT_STRING, "aggregate buffer too large", err);
	if (rt_lua_pcall(u->S, deser_fn, &a, 0, 1, err) < 0)
		return cmn_err_wrap(err, "%s: %s", u->script, u->fname);
	*buf = (int)lua_tointeger(u->L, -1);
	lua_settop(u->L, 0);
	return 0;
}

int rt_udf_agg_terminate(struct rt_udf *u, int buf, struct rt_value *out, struct cmn_err *err)
{
	if (bufs_push(u, buf, err) < 0)
		return -1;
	lua_rawgeti(u->L, LUA_REGISTRYINDEX, u->ref_term);
	lua_rawgeti(u->L, 1, buf);
	if (rt_lua_call(u->S, 1, 1, err) < 0)
		return -1;
	return take_result(u, -1, ret_type(u), "terminate", out, err);
}

void rt_udf_agg_free(struct rt_udf *u, int buf)
{
	if (u->kind != RT_UDF_AGGREGATE || buf <= 0)
		return;
	lua_settop(u->L, 0);
	lua_rawgeti(u->L, LUA_REGISTRYINDEX, u->ref_bufs);
	lua_pushnil(u->L);
	lua_rawseti(u->L, 1, buf); /* assigning nil never allocates */
	lua_settop(u->L, 0);
}

/* ---- table functions ---------------------------------------------------- */

static int table_call(struct rt_udf *u, int fn_ref, const struct rt_value *args, int nargs,
		      bool is_close, rt_row_fn fn, void *ud, struct cmn_err *err)
{
	struct rt_value a[RT_MAX_COLS];
	int rc;

	if (u->kind != RT_UDF_TABLE)
		return wrong_kind(u, RT_UDF_TABLE, err);
	lua_settop(u->L, 0);
	if (!is_close && check_args(u, args, nargs, a, err) < 0)
		return -1;
	if (!lua_checkstack(u->L, nargs + 4))
		return cmn_err_set(err, CMN_ENOMEM, 0, "%s: lua stack: out of memory", u->script);
	lua_rawgeti(u->L, LUA_REGISTRYINDEX, fn_ref);
	lua_rawgeti(u->L, LUA_REGISTRYINDEX, u->ref_ctx);
	push_args(u, a, nargs);
	u->row_fn = fn;
	u->row_ud = ud;
	u->row_failed = false;
	cmn_err_clear(&u->row_err);
	rc = rt_lua_call(u->S, nargs + 1, 0, err);
	u->row_fn = NULL;
	if (u->row_failed) {
		/* the sink's own error wins over what Lua made of it */
		if (err)
			*err = u->row_err;
		return -1;
	}
	lua_settop(u->L, 0);
	return rc;
}

int rt_udf_process(struct rt_udf *u, const struct rt_value *args, int nargs, rt_row_fn fn, void *ud,
		   struct cmn_err *err)
{
	return table_call(u, u->ref_fn, args, nargs, false, fn, ud, err);
}

int rt_udf_table_close(struct rt_udf *u, rt_row_fn fn, void *ud, struct cmn_err *err)
{
	if (u->kind == RT_UDF_TABLE && u->ref_close == LUA_NOREF)
		return 0;
	return table_call(u, u->ref_close, NULL, 0, true, fn, ud, err);
}
