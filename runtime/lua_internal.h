/* runtime/lua_internal.h — what lua_sandbox.c and lua_env.c share, and the
 * inline call path udf_abi.c's per-row calls use. Not a public header: other
 * modules use lua_sandbox.h. */
#ifndef RT_LUA_INTERNAL_H
#define RT_LUA_INTERNAL_H

#include <lauxlib.h>
#include <limits.h>
#include <lua.h>

#include "runtime/lua_sandbox.h"

/* Instructions between two hook calls while no limit has tripped. */
#define RT_HOOK_STEP 1000
/* Nesting of coroutine.resume/wrap/close through the wrappers; 5.4.4 can
 * overflow the C stack with deeply nested coroutine.close (fixed in 5.4.5). */
#define RT_MAX_CORO_DEPTH 64

struct rt_lua {
	lua_State *L;
	struct rt_limits lim;
	size_t mem_used;
	size_t mem_peak;
	size_t mem_limit;      /* 0 while building the environment */
	int host_push;         /* > 0: the host pushes, limit not applied */
	bool mem_denied;       /* an allocation was refused during this call */
	long long insn_left;   /* instructions left in this call */
	long long call_rows;   /* rows the next call covers (batch), 1 otherwise */
	enum rt_limit tripped; /* sticky until the host call returns */
	uint64_t output_used;
	int coro_depth;
	struct cmn_buf log; /* print() output, bounded by the output limit */
	const struct rt_resource *res;
	size_t res_count;
	char name[128];
};

/* Builds the allowlisted environment; leaves the env proxy in the registry
 * under RT_ENV_KEY. Runs inside a protected call. */
int rt_env_build(lua_State *L);
extern const char RT_ENV_KEY[];
void rt_lua_hook(lua_State *L, lua_Debug *ar);
/* Raises the sticky limit error if a limit tripped (used by the wrappers). */
void rt_lua_check_tripped(lua_State *L);
/* The Lua thread the CPU tick arms the hook on: the coroutine wrappers set
 * it around a resume. */
void rt_lua_set_running(lua_State *L);
lua_State *rt_lua_running(void);
/* Adds the net table (net.connect) to the base table at index base: only
 * called when the job has a network grant (lua_net.c). */
void rt_net_open(lua_State *L, int base);

/* ---- the call itself, inline ---------------------------------------------
 * udf_abi.c's per-row path (one SQLite scalar callback per row) inlines
 * these: around a trivial function every instruction of the crossing shows. */

/* the Lua thread the CPU tick arms the hook on; NULL between calls */
extern lua_State *volatile rt_lua_running_thread;

/* Every call starts with a fresh instruction budget (the per-call limit
 * times the rows it covers), no tripped limit, a fresh output count and no
 * hook: a hook a tick armed in an earlier call is removed, so a call that
 * ends within its first tick runs at full VM speed. */
static inline void rt_lua_call_begin(struct rt_lua *S)
{
	S->tripped = RT_LIMIT_NONE;
	S->mem_denied = false;
	S->output_used = 0;
	S->coro_depth = 0;
	if (__builtin_mul_overflow((long long)S->lim.instructions, S->call_rows, &S->insn_left))
		S->insn_left = LLONG_MAX;
	S->call_rows = 1;
	if (lua_gethookmask(S->L))
		lua_sethook(S->L, NULL, 0, 0);
	rt_lua_running_thread = S->L;
}

/* Turns a failed lua_pcall into err (limit or script error); pops the error
 * object. Returns -1. */
int rt_lua_call_fail(struct rt_lua *S, int status, struct cmn_err *err);

/* rt_lua_call() */
static inline int rt_lua_call_inline(struct rt_lua *S, int nargs, int nresults, struct cmn_err *err)
{
	int status;

	rt_lua_call_begin(S);
	status = lua_pcall(S->L, nargs, nresults, 0);
	rt_lua_running_thread = NULL;
	if (status != LUA_OK)
		return rt_lua_call_fail(S, status, err);
	return 0;
}

/* rt_lua_charge_output() */
static inline int rt_lua_charge_output_inline(struct rt_lua *S, size_t bytes)
{
	if (bytes > S->lim.output_bytes || S->output_used > S->lim.output_bytes - bytes) {
		if (S->tripped == RT_LIMIT_NONE)
			S->tripped = RT_LIMIT_OUTPUT;
		return -1;
	}
	S->output_used += bytes;
	return 0;
}

#endif
