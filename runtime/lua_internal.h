/* runtime/lua_internal.h — what lua_sandbox.c and lua_env.c share. Not a
 * public header: other modules use lua_sandbox.h. */
#ifndef RT_LUA_INTERNAL_H
#define RT_LUA_INTERNAL_H

#include <lauxlib.h>
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

#endif
