/* runtime/lua_env.c — the environment a UDF script sees, built from an
 * explicit allowlist (never luaL_openlibs).
 *
 * The real library tables are opened into the registry only; the script sees
 * read-only proxies of them (empty tables whose protected metatable indexes
 * the real one), so it cannot change what another script or the next row
 * sees. The string metatable is protected too. Every function that can catch
 * an error (pcall, xpcall, coroutine.resume/wrap/close) is replaced by a
 * wrapper that re-raises a tripped limit; functions that can run long inside
 * C (string.rep, the pattern functions, load) check caps first.
 */
#define _GNU_SOURCE
#include "runtime/lua_internal.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lualib.h>

const char RT_ENV_KEY[] = "cordon.env";
static const char PROTECTED_KEY[] = "cordon.protected";

/* ---- read-only proxies -------------------------------------------------- */

static int ro_newindex(lua_State *L)
{
	return luaL_error(L, "attempt to modify a read-only table (field '%s')",
			  lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "?");
}

static int env_newindex(lua_State *L)
{
	return luaL_error(L, "assignment to global '%s': globals are read-only (use local)",
			  lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "?");
}

/* __pairs of a proxy: iterates the real table without handing it out. */
static int proxy_next(lua_State *L)
{
	lua_settop(L, 2);
	lua_pushvalue(L, 2);
	if (lua_next(L, lua_upvalueindex(1)))
		return 2;
	lua_pushnil(L);
	return 1;
}

static int proxy_pairs(lua_State *L)
{
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_pushcclosure(L, proxy_next, 1);
	lua_pushnil(L);
	lua_pushnil(L);
	return 3;
}

/* Replaces the table at the top of the stack by its read-only proxy. */
static void make_proxy(lua_State *L, lua_CFunction newindex)
{
	int real = lua_gettop(L);

	lua_newtable(L);          /* proxy */
	lua_createtable(L, 0, 4); /* its metatable */
	lua_pushvalue(L, real);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, newindex);
	lua_setfield(L, -2, "__newindex");
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_pushvalue(L, real);
	lua_pushcclosure(L, proxy_pairs, 1);
	lua_setfield(L, -2, "__pairs");
	lua_setmetatable(L, -2);
	lua_getfield(L, LUA_REGISTRYINDEX, PROTECTED_KEY);
	lua_pushvalue(L, -2);
	lua_pushboolean(L, 1);
	lua_rawset(L, -3);
	lua_pop(L, 1);
	lua_replace(L, real);
}

/* ---- base functions ----------------------------------------------------- */

static int sb_rawset(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	luaL_checkany(L, 2);
	luaL_checkany(L, 3);
	lua_getfield(L, LUA_REGISTRYINDEX, PROTECTED_KEY);
	lua_pushvalue(L, 1);
	if (lua_rawget(L, -2) != LUA_TNIL)
		return luaL_error(L, "rawset: the table is read-only");
	lua_settop(L, 3);
	lua_rawset(L, 1);
	return 1;
}

static int sb_setmetatable(lua_State *L)
{
	int t = lua_type(L, 2);

	luaL_checktype(L, 1, LUA_TTABLE);
	luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
	if (t == LUA_TTABLE) {
		lua_pushliteral(L, "__gc");
		if (lua_rawget(L, 2) != LUA_TNIL)
			return luaL_error(L, "setmetatable: __gc metamethods are not allowed "
					     "(finalizers would run without limits)");
		lua_pop(L, 1);
	}
	if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
		return luaL_error(L, "cannot change a protected metatable");
	lua_settop(L, 2);
	lua_setmetatable(L, 1);
	return 1;
}

/* After a protected call returns: a tripped limit (or a memory error, which
 * means the memory limit) goes on up instead of being caught. */
static void after_catch(lua_State *L, int status)
{
	struct rt_lua *S = rt_lua_of(L);

	if (status == LUA_ERRMEM && S->tripped == RT_LIMIT_NONE)
		S->tripped = RT_LIMIT_MEMORY;
	rt_lua_check_tripped(L);
}

static int finishpcall(lua_State *L, int status, lua_KContext extra)
{
	after_catch(L, status);
	if (status != LUA_OK && status != LUA_YIELD) {
		lua_pushboolean(L, 0);
		lua_pushvalue(L, -2);
		return 2;
	}
	return lua_gettop(L) - (int)extra;
}

static int sb_pcall(lua_State *L)
{
	int status;

	luaL_checkany(L, 1);
	lua_pushboolean(L, 1);
	lua_insert(L, 1);
	status = lua_pcallk(L, lua_gettop(L) - 2, LUA_MULTRET, 0, 0, finishpcall);
	return finishpcall(L, status, 0);
}

/* The message handler of xpcall runs before the stack unwinds; when the
 * error came from the hook, Lua still has hooks disabled (allowhook is 0
 * inside a hook), so a user handler would run without limits. This C
 * handler passes the error through untouched once a limit tripped. */
static int xpcall_handler(lua_State *L)
{
	if (rt_lua_of(L)->tripped != RT_LIMIT_NONE)
		return 1;
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, 1);
	return 1;
}

static int sb_xpcall(lua_State *L)
{
	int status;
	int n = lua_gettop(L);

	luaL_checktype(L, 2, LUA_TFUNCTION);
	lua_pushvalue(L, 2);
	lua_pushcclosure(L, xpcall_handler, 1);
	lua_replace(L, 2);
	lua_pushboolean(L, 1);
	lua_pushvalue(L, 1);
	lua_rotate(L, 3, 2);
	status = lua_pcallk(L, n - 2, LUA_MULTRET, 2, 2, finishpcall);
	return finishpcall(L, status, 2);
}

static int sb_print(lua_State *L)
{
	struct rt_lua *S = rt_lua_of(L);
	int n = lua_gettop(L);

	for (int i = 1; i <= n; i++) {
		size_t len;
		const char *s = luaL_tolstring(L, i, &len);
		if (rt_lua_charge_output(S, len + 1) < 0)
			return rt_lua_raise_limit(L, RT_LIMIT_OUTPUT, NULL);
		if (cmn_buf_append(&S->log, s, len, NULL) < 0 ||
		    cmn_buf_append(&S->log, i < n ? "\t" : "", i < n ? 1 : 0, NULL) < 0)
			return luaL_error(L, "print: out of memory");
		lua_pop(L, 1);
	}
	if (rt_lua_charge_output(S, 1) < 0)
		return rt_lua_raise_limit(L, RT_LIMIT_OUTPUT, NULL);
	if (cmn_buf_append(&S->log, "\n", 1, NULL) < 0)
		return luaL_error(L, "print: out of memory");
	return 0;
}

static int sb_collectgarbage(lua_State *L)
{
	const char *opt = luaL_optstring(L, 1, "collect");

	if (strcmp(opt, "count") != 0)
		return luaL_error(L, "collectgarbage: only \"count\" is allowed in the sandbox");
	lua_pushnumber(L, (lua_Number)lua_gc(L, LUA_GCCOUNT) +
			      (lua_Number)lua_gc(L, LUA_GCCOUNTB) / 1024.0);
	return 1;
}

/* load(chunk [, chunkname]): text only, in the sandbox environment. A mode or
 * env argument is ignored; a reader function is refused. */
static int sb_load(lua_State *L)
{
	struct rt_lua *S = rt_lua_of(L);
	size_t len;
	const char *s;
	const char *name;
	int status;

	if (lua_type(L, 1) != LUA_TSTRING) {
		lua_pushnil(L);
		lua_pushliteral(L, "load: only a chunk given as a string is allowed");
		return 2;
	}
	s = lua_tolstring(L, 1, &len);
	if (len > S->lim.string_bytes)
		return rt_lua_raise_limit(L, RT_LIMIT_STRING, NULL);
	name = luaL_optstring(L, 2, "=(load)");
	status = luaL_loadbufferx(L, s, len, name, "t");
	if (status == LUA_ERRMEM)
		return rt_lua_raise_limit(L, RT_LIMIT_MEMORY, NULL);
	if (status != LUA_OK) {
		lua_pushnil(L);
		lua_insert(L, -2);
		return 2;
	}
	lua_getfield(L, LUA_REGISTRYINDEX, RT_ENV_KEY);
	if (!lua_setupvalue(L, -2, 1))
		lua_pop(L, 1);
	return 1;
}

/* ---- coroutines (after lcorolib.c, with depth and limit checks) -------- */

static lua_State *getco(lua_State *L, int idx)
{
	lua_State *co = lua_tothread(L, idx);
	luaL_argexpected(L, co, 1, "coroutine");
	return co;
}

static void depth_enter(lua_State *L)
{
	struct rt_lua *S = rt_lua_of(L);

	if (S->coro_depth >= RT_MAX_CORO_DEPTH)
		luaL_error(L, "coroutines nested too deeply (limit %d)", RT_MAX_CORO_DEPTH);
	S->coro_depth++;
}

static void depth_leave(lua_State *L)
{
	rt_lua_of(L)->coro_depth--;
}

/* A coroutine that died of a limit error died inside the hook, where Lua
 * leaves its hooks disabled; its pending __close handlers would run without
 * limits if it were ever closed, so it never is. */
static const char LIMIT_DEAD_KEY[] = "cordon.limit_dead";

static void mark_limit_dead(lua_State *L, lua_State *co)
{
	if (!lua_checkstack(L, 3))
		return;
	if (lua_getfield(L, LUA_REGISTRYINDEX, LIMIT_DEAD_KEY) != LUA_TTABLE) {
		lua_pop(L, 1);
		return;
	}
	lua_pushthread(co);
	lua_xmove(co, L, 1);
	lua_pushboolean(L, 1);
	lua_rawset(L, -3);
	lua_pop(L, 1);
}

static bool is_limit_dead(lua_State *L, lua_State *co)
{
	bool dead;

	lua_getfield(L, LUA_REGISTRYINDEX, LIMIT_DEAD_KEY);
	lua_pushthread(co);
	lua_xmove(co, L, 1);
	dead = lua_rawget(L, -2) != LUA_TNIL;
	lua_pop(L, 2);
	return dead;
}

static int auxresume(lua_State *L, lua_State *co, int narg)
{
	int status, nres;

	if (!lua_checkstack(co, narg)) {
		lua_pushliteral(L, "too many arguments to resume");
		return -1;
	}
	depth_enter(L);
	lua_xmove(L, co, narg);
	/* the coroutine runs under the same hook as its resumer, and the CPU
	 * tick arms whichever of them is running */
	if (lua_gethookmask(L) && !lua_gethookmask(co))
		lua_sethook(co, rt_lua_hook, LUA_MASKCOUNT, 1);
	rt_lua_set_running(co);
	status = lua_resume(co, L, narg, &nres);
	rt_lua_set_running(L);
	depth_leave(L);
	if (status != LUA_OK && status != LUA_YIELD && rt_lua_of(L)->tripped != RT_LIMIT_NONE)
		mark_limit_dead(L, co);
	after_catch(L, status);
	if (status == LUA_OK || status == LUA_YIELD) {
		if (!lua_checkstack(L, nres + 1)) {
			lua_pop(co, nres);
			lua_pushliteral(L, "too many results to resume");
			return -1;
		}
		lua_xmove(co, L, nres);
		return nres;
	}
	lua_xmove(co, L, 1);
	return -1;
}

static int sb_resume(lua_State *L)
{
	lua_State *co = getco(L, 1);
	int r = auxresume(L, co, lua_gettop(L) - 1);

	if (r < 0) {
		lua_pushboolean(L, 0);
		lua_insert(L, -2);
		return 2;
	}
	lua_pushboolean(L, 1);
	lua_insert(L, -(r + 1));
	return r + 1;
}

static int reset_thread(lua_State *L, lua_State *co)
{
	int status;

	rt_lua_check_tripped(L);
	if (is_limit_dead(L, co))
		luaL_error(L, "cannot close a coroutine that a limit ended");
	depth_enter(L);
	if (lua_gethookmask(L) && !lua_gethookmask(co))
		lua_sethook(co, rt_lua_hook, LUA_MASKCOUNT, 1);
	rt_lua_set_running(co);
	status = lua_resetthread(co);
	rt_lua_set_running(L);
	depth_leave(L);
	after_catch(L, status);
	return status;
}

static int auxwrap(lua_State *L)
{
	lua_State *co = getco(L, lua_upvalueindex(1));
	int r = auxresume(L, co, lua_gettop(L));

	if (r < 0) {
		int stat = lua_status(co);
		if (stat != LUA_OK && stat != LUA_YIELD) {
			stat = reset_thread(L, co);
			lua_xmove(co, L, 1);
		}
		if (stat != LUA_ERRMEM && lua_type(L, -1) == LUA_TSTRING) {
			luaL_where(L, 1);
			lua_insert(L, -2);
			lua_concat(L, 2);
		}
		return lua_error(L);
	}
	return r;
}

static int sb_wrap(lua_State *L)
{
	lua_State *co;

	luaL_checktype(L, 1, LUA_TFUNCTION);
	co = lua_newthread(L);
	lua_pushvalue(L, 1);
	lua_xmove(L, co, 1);
	lua_pushcclosure(L, auxwrap, 1);
	return 1;
}

static int sb_close(lua_State *L)
{
	lua_State *co = getco(L, 1);
	lua_Debug ar;
	int status;

	if (co == L)
		return luaL_error(L, "cannot close a running coroutine");
	status = lua_status(co);
	if (status == LUA_OK && (lua_getstack(co, 0, &ar) || lua_gettop(co) > 0))
		return luaL_error(L, "cannot close a %s coroutine",
				  lua_getstack(co, 0, &ar) ? "normal" : "suspended");
	status = reset_thread(L, co);
	if (status == LUA_OK) {
		lua_pushboolean(L, 1);
		return 1;
	}
	lua_pushboolean(L, 0);
	lua_xmove(co, L, 1);
	return 2;
}

/* ---- string functions with caps ----------------------------------------- */

/* Runs the wrapped library function (upvalue 1) in the wrapper's own frame:
 * the arguments are already where it expects them, and it has the same
 * LUA_MINSTACK free slots (the checks above push nothing). A lua_call here
 * would cost a second call frame on every string.match/rep/... of a row.
 * The originals are C functions without upvalues (lstrlib.c, ltablib.c). */
static int call_original(lua_State *L)
{
	lua_CFunction fn = lua_tocfunction(L, lua_upvalueindex(1));

	if (!fn)
		return luaL_error(L, "wrapped library function is not a C function");
	return fn(L);
}

static int sb_rep(lua_State *L)
{
	struct rt_lua *S = rt_lua_of(L);
	size_t l, lsep, total, seps;
	lua_Integer n;

	if (lua_type(L, 1) == LUA_TSTRING && lua_isinteger(L, 2) && lua_isnone(L, 3)) {
		/* the common s:rep(n): no conversion to make, nothing to check twice */
		l = lua_rawlen(L, 1);
		n = lua_tointeger(L, 2);
		lsep = 0;
	} else {
		luaL_checklstring(L, 1, &l);
		n = luaL_checkinteger(L, 2);
		luaL_optlstring(L, 3, "", &lsep);
	}
	rt_lua_check_tripped(L);
	if (n > 0) {
		if (__builtin_mul_overflow(l, (size_t)n, &total) ||
		    __builtin_mul_overflow(lsep, (size_t)n - 1, &seps) ||
		    __builtin_add_overflow(total, seps, &total) || total > S->lim.string_bytes)
			return rt_lua_raise_limit(L, RT_LIMIT_STRING, NULL);
		/* Lua's rep copies n times even when every copy is empty: a C
		 * loop of up to 2^63 steps that no hook interrupts */
		if (total == 0) {
			lua_pushliteral(L, "");
			return 1;
		}
	}
	return call_original(L);
}

/* find/match/gmatch/gsub: the pattern is capped; matching itself runs in C
 * without hooks, so the CPU timer is what ends a backtracking pattern. */
static int sb_pattern(lua_State *L)
{
	struct rt_lua *S = rt_lua_of(L);
	size_t lp = 0;
	bool plain = lua_toboolean(L, lua_upvalueindex(2)) && lua_toboolean(L, 4);

	/* a string pattern's length without converting anything; a number is
	 * converted (and any other type refused) as the original would */
	if (lua_type(L, 2) == LUA_TSTRING)
		lp = lua_rawlen(L, 2);
	else
		luaL_checklstring(L, 2, &lp);
	rt_lua_check_tripped(L);
	if (!plain && lp > S->lim.pattern_bytes)
		return rt_lua_raise_limit(L, RT_LIMIT_PATTERN, NULL);
	return call_original(L);
}

/* table.insert/remove (loop over #t, which __len controls), move and concat
 * (loop over a range the caller gives) run in C without hooks; moving nils
 * allocates nothing, so neither memory nor instructions would stop a range of
 * 2^62. Ranges are capped instead. */
#define RT_TABLE_LOOP_CAP ((lua_Integer)1 << 24)

static int sb_table_len_capped(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	rt_lua_check_tripped(L);
	if (luaL_len(L, 1) > RT_TABLE_LOOP_CAP)
		return luaL_error(L, "table function: more than %d elements",
				  (int)RT_TABLE_LOOP_CAP);
	return call_original(L);
}

static int sb_table_range_capped(lua_State *L)
{
	/* move(a1, f, e, t [,a2]) and concat(list [, sep [, i [, j]]]) */
	bool is_move = lua_toboolean(L, lua_upvalueindex(2));
	lua_Integer f, e;

	luaL_checktype(L, 1, LUA_TTABLE);
	rt_lua_check_tripped(L);
	if (is_move) {
		f = luaL_checkinteger(L, 2);
		e = luaL_checkinteger(L, 3);
	} else {
		f = luaL_optinteger(L, 3, 1);
		e = lua_isnoneornil(L, 4) ? luaL_len(L, 1) : luaL_checkinteger(L, 4);
	}
	if (e >= f && (f < 0 ? e > f + RT_TABLE_LOOP_CAP : e - f >= RT_TABLE_LOOP_CAP))
		return luaL_error(L, "table function: more than %d elements",
				  (int)RT_TABLE_LOOP_CAP);
	return call_original(L);
}

static void wrap_field(lua_State *L, int lib, const char *name, lua_CFunction fn, int is_find)
{
	lua_getfield(L, lib, name);
	if (is_find >= 0) {
		lua_pushboolean(L, is_find);
		lua_pushcclosure(L, fn, 2);
	} else {
		lua_pushcclosure(L, fn, 1);
	}
	lua_setfield(L, lib, name);
}

static void setup_string(lua_State *L)
{
	int lib;

	luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 0);
	lib = lua_gettop(L);
	lua_pushnil(L);
	lua_setfield(L, lib, "dump");
	wrap_field(L, lib, "rep", sb_rep, -1);
	wrap_field(L, lib, "find", sb_pattern, 1);
	wrap_field(L, lib, "match", sb_pattern, 0);
	wrap_field(L, lib, "gmatch", sb_pattern, 0);
	wrap_field(L, lib, "gsub", sb_pattern, 0);
	/* the shared string metatable: getmetatable("") answers false, and its
	 * __index (the real, wrapped table) is never handed to a script */
	lua_pushliteral(L, "");
	lua_getmetatable(L, -1);
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_pop(L, 2);
}

/* ---- resource.read ------------------------------------------------------ */

static int sb_resource_read(lua_State *L)
{
	struct rt_lua *S = rt_lua_of(L);
	const char *name = luaL_checkstring(L, 1);
	const struct rt_resource *r = NULL;
	struct stat st;
	luaL_Buffer b;
	off_t off = 0;

	if (strchr(name, '/') || strcmp(name, "..") == 0 || strcmp(name, ".") == 0)
		return luaL_error(L,
				  "resource.read: '%s': paths are not allowed, only resource "
				  "names",
				  name);
	for (size_t i = 0; i < S->res_count; i++) {
		if (strcmp(S->res[i].name, name) == 0)
			r = &S->res[i];
	}
	if (!r)
		return luaL_error(L, "resource.read: no resource named '%s'", name);
	if (fstat(r->fd, &st) < 0)
		return luaL_error(L, "resource.read: '%s': %s", name, strerror(errno));
	if (st.st_size < 0 || (uint64_t)st.st_size > S->lim.string_bytes)
		return rt_lua_raise_limit(L, RT_LIMIT_STRING, NULL);
	luaL_buffinitsize(L, &b, (size_t)st.st_size);
	while (off < st.st_size) {
		ssize_t n = pread(r->fd, luaL_prepbuffsize(&b, (size_t)(st.st_size - off)),
				  (size_t)(st.st_size - off), off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return luaL_error(L, "resource.read: '%s': %s", name, strerror(errno));
		if (n == 0)
			break;
		luaL_addsize(&b, (size_t)n);
		off += n;
	}
	luaL_pushresult(&b);
	return 1;
}

/* ---- assembling the environment ---------------------------------------- */

static void copy_fields(lua_State *L, int from, int to, const char *const *names)
{
	for (; *names; names++) {
		lua_getfield(L, from, *names);
		lua_setfield(L, to, *names);
	}
}

static void add_lib(lua_State *L, int base, const char *name, lua_CFunction open)
{
	luaL_requiref(L, name, open, 0);
	make_proxy(L, ro_newindex);
	lua_setfield(L, base, name);
}

static void add_coroutine(lua_State *L, int base)
{
	static const char *const keep[] = { "create", "isyieldable", "running",
					    "status", "yield",       NULL };
	static const luaL_Reg wrapped[] = {
		{ "resume", sb_resume }, { "wrap", sb_wrap }, { "close", sb_close }, { NULL, NULL }
	};
	int real;

	luaL_requiref(L, LUA_COLIBNAME, luaopen_coroutine, 0);
	real = lua_gettop(L);
	lua_newtable(L);
	copy_fields(L, real, real + 1, keep);
	luaL_setfuncs(L, wrapped, 0);
	make_proxy(L, ro_newindex);
	lua_setfield(L, base, "coroutine");
	lua_pop(L, 1);
}

static void add_os_math(lua_State *L, int base)
{
	static const char *const os_keep[] = { "time", "clock", "date", "difftime", NULL };
	struct rt_lua *S = rt_lua_of(L);
	uint64_t seed =
	    S->lim.seed ? S->lim.seed : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16);

	luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 0);
	lua_newtable(L);
	copy_fields(L, -2, lua_gettop(L), os_keep);
	make_proxy(L, ro_newindex);
	lua_setfield(L, base, "os");
	lua_pop(L, 1);

	luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 0);
	lua_getfield(L, -1, "randomseed");
	lua_pushinteger(L, (lua_Integer)seed);
	lua_call(L, 1, 0);
	make_proxy(L, ro_newindex);
	lua_setfield(L, base, "math");
}

static void add_base(lua_State *L, int base)
{
	static const char *const keep[] = { "assert",   "error",    "getmetatable",
					    "ipairs",   "next",     "pairs",
					    "rawequal", "rawget",   "rawlen",
					    "select",   "tonumber", "tostring",
					    "type",     "_VERSION", NULL };
	static const luaL_Reg wrapped[] = { { "pcall", sb_pcall },
					    { "xpcall", sb_xpcall },
					    { "print", sb_print },
					    { "rawset", sb_rawset },
					    { "setmetatable", sb_setmetatable },
					    { "collectgarbage", sb_collectgarbage },
					    { "load", sb_load },
					    { NULL, NULL } };

	luaL_requiref(L, "_G", luaopen_base, 0);
	copy_fields(L, lua_gettop(L), base, keep);
	lua_pop(L, 1);
	lua_pushvalue(L, base);
	luaL_setfuncs(L, wrapped, 0);
	lua_pop(L, 1);
}

int rt_env_build(lua_State *L)
{
	struct rt_lua *S = rt_lua_of(L);
	int base;

	lua_newtable(L);
	lua_setfield(L, LUA_REGISTRYINDEX, PROTECTED_KEY);
	lua_newtable(L); /* weak keys: threads that a limit ended */
	lua_createtable(L, 0, 1);
	lua_pushliteral(L, "k");
	lua_setfield(L, -2, "__mode");
	lua_setmetatable(L, -2);
	lua_setfield(L, LUA_REGISTRYINDEX, LIMIT_DEAD_KEY);
	lua_newtable(L);
	base = lua_gettop(L);
	add_base(L, base);
	setup_string(L);
	make_proxy(L, ro_newindex);
	lua_setfield(L, base, "string");
	luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 0);
	wrap_field(L, lua_gettop(L), "insert", sb_table_len_capped, -1);
	wrap_field(L, lua_gettop(L), "remove", sb_table_len_capped, -1);
	wrap_field(L, lua_gettop(L), "move", sb_table_range_capped, 1);
	wrap_field(L, lua_gettop(L), "concat", sb_table_range_capped, 0);
	make_proxy(L, ro_newindex);
	lua_setfield(L, base, "table");
	add_lib(L, base, LUA_UTF8LIBNAME, luaopen_utf8);
	add_coroutine(L, base);
	add_os_math(L, base);

	lua_newtable(L);
	lua_pushcfunction(L, sb_resource_read);
	lua_setfield(L, -2, "read");
	make_proxy(L, ro_newindex);
	lua_setfield(L, base, "resource");
	if (S->lim.net_grant) {
		rt_net_open(L, base);
		lua_getfield(L, base, "net");
		make_proxy(L, ro_newindex);
		lua_setfield(L, base, "net");
	}

	/* the globals table is itself a proxy; _G is that proxy */
	lua_pushvalue(L, base);
	make_proxy(L, env_newindex);
	lua_pushvalue(L, -1);
	lua_setfield(L, base, "_G");
	lua_setfield(L, LUA_REGISTRYINDEX, RT_ENV_KEY);
	lua_pop(L, 1);
	return 0;
}
