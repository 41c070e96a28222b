/* runtime/lua_sandbox.c — one Lua state with limits: allocator, instruction
 * hook, CPU timer, protected host calls and safe error text. The environment
 * the script sees is built in lua_env.c.
 *
 * Limit model (Redis's script kill, extended): a limit "trips" (S->tripped);
 * from then on the count hook fires on every instruction of any thread and
 * raises the limit error again, and the wrappers of pcall, xpcall and the
 * coroutine functions re-raise it, so user code that catches the error is
 * interrupted immediately. The host reads S->tripped, not the message, to
 * name the limit, so a script cannot fake or hide one.
 */
#define _GNU_SOURCE
#include "runtime/lua_internal.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"

static const char *const limit_names[] = {
	[RT_LIMIT_NONE] = "none",
	[RT_LIMIT_MEMORY] = "memory",
	[RT_LIMIT_INSTRUCTIONS] = "instructions",
	[RT_LIMIT_CPU] = "cpu",
	[RT_LIMIT_OUTPUT] = "output",
	[RT_LIMIT_STRING] = "string",
	[RT_LIMIT_PATTERN] = "pattern",
};

/* Pre-interned so that raising a limit error does not need to allocate. */
static const char *const limit_msgs[] = {
	[RT_LIMIT_NONE] = "limit exceeded: none",
	[RT_LIMIT_MEMORY] = "limit exceeded: memory",
	[RT_LIMIT_INSTRUCTIONS] = "limit exceeded: instructions",
	[RT_LIMIT_CPU] = "limit exceeded: cpu",
	[RT_LIMIT_OUTPUT] = "limit exceeded: output",
	[RT_LIMIT_STRING] = "limit exceeded: string",
	[RT_LIMIT_PATTERN] = "limit exceeded: pattern",
};

static const char LIMIT_MSGS_KEY[] = "cordon.limit_msgs";

const char *rt_limit_name(enum rt_limit l)
{
	if ((unsigned)l >= CMN_ARRAY_SIZE(limit_names))
		return "unknown";
	return limit_names[l];
}

void rt_limits_fill(struct rt_limits *lim)
{
	if (!lim->memory_bytes)
		lim->memory_bytes = RT_DEFAULT_MEMORY;
	if (!lim->instructions)
		lim->instructions = RT_DEFAULT_INSTRUCTIONS;
	if (!lim->cpu_ns)
		lim->cpu_ns = RT_DEFAULT_CPU_NS;
	if (!lim->output_bytes)
		lim->output_bytes = RT_DEFAULT_OUTPUT;
	if (!lim->string_bytes)
		lim->string_bytes = RT_DEFAULT_STRING;
	if (!lim->pattern_bytes)
		lim->pattern_bytes = RT_DEFAULT_PATTERN;
}

/* ---- CPU ticks ----------------------------------------------------------
 *
 * One ITIMER_PROF tick every RT_TICK_NS of process CPU. Each tick
 *  - arms the count hook on the Lua thread that is running (lua_sethook is
 *    safe in a signal handler), so a call that runs longer than a tick is
 *    counted instruction by instruction from then on, while the short calls
 *    that make up almost all rows never pay for a hook (an armed count hook
 *    slows the Lua VM down about 2x: every instruction goes through it);
 *  - counts CPU against the batch budget: past it the limit trips (the hook
 *    and the C wrappers see it); grace later a C call that never came back
 *    (a backtracking pattern) ends the process, if the owner allows it.
 */
#define RT_TICK_NS 10000000ull

static volatile sig_atomic_t cpu_soft_expired;
static volatile sig_atomic_t cpu_hard_exit;
static volatile sig_atomic_t cpu_hard_code;
static volatile sig_atomic_t ticking;
static volatile uint64_t cpu_ticks, cpu_budget_ticks, cpu_hard_ticks;
/* the running Lua thread of the call in progress, NULL between calls; set by
 * rt_lua_call_begin (lua_internal.h), inlined into the per-row path */
lua_State *volatile rt_lua_running_thread;

static void on_sigprof(int sig)
{
	static const char msg[] = "cordon: udf: limit exceeded: cpu\n";
	lua_State *L = rt_lua_running_thread;

	(void)sig;
	cpu_ticks++;
	if (L && lua_gethookmask(L) == 0)
		lua_sethook(L, rt_lua_hook, LUA_MASKCOUNT, 1);
	if (!cpu_budget_ticks || cpu_ticks < cpu_budget_ticks)
		return;
	cpu_soft_expired = 1;
	if (cpu_ticks >= cpu_hard_ticks && cpu_hard_exit) {
		ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
		(void)w;
		_exit(cpu_hard_code);
	}
}

bool rt_cpu_expired(void)
{
	return cpu_soft_expired != 0;
}

static int start_ticking(struct cmn_err *err)
{
	struct sigaction sa;
	struct itimerval it;

	if (ticking)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigprof;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGPROF, &sa, NULL) < 0)
		return cmn_err_sys(err, "sigaction SIGPROF");
	memset(&it, 0, sizeof(it));
	it.it_value.tv_usec = (suseconds_t)(RT_TICK_NS / 1000);
	it.it_interval = it.it_value;
	if (setitimer(ITIMER_PROF, &it, NULL) < 0)
		return cmn_err_sys(err, "setitimer ITIMER_PROF");
	ticking = 1;
	return 0;
}

/* A stage arms and disarms around every UDF call (one SQLite callback per
 * row): the tick counts of the last budget are kept, so a re-arm with the
 * same budget is a few stores, not two 64-bit divisions. Disarming (cpu_ns
 * 0) leaves the budget at 0, where the hard limit is never looked at. */
int rt_cpu_arm(uint64_t cpu_ns, uint64_t grace_ns, bool exit_on_hard, int hard_exit_code,
	       struct cmn_err *err)
{
	static uint64_t memo_ns, memo_grace, memo_budget, memo_hard;

	if (!grace_ns)
		grace_ns = 500000000ull;
	cpu_budget_ticks = 0; /* no budget while the fields change */
	cpu_soft_expired = 0;
	cpu_ticks = 0;
	cpu_hard_exit = exit_on_hard;
	cpu_hard_code = hard_exit_code;
	if (cpu_ns) {
		if (cpu_ns != memo_ns || grace_ns != memo_grace) {
			uint64_t hard;
			if (__builtin_add_overflow(cpu_ns, grace_ns + RT_TICK_NS - 1, &hard))
				hard = UINT64_MAX;
			memo_hard = hard / RT_TICK_NS;
			memo_budget = cpu_ns / RT_TICK_NS + (cpu_ns % RT_TICK_NS != 0);
			memo_ns = cpu_ns;
			memo_grace = grace_ns;
		}
		cpu_hard_ticks = memo_hard;
		cpu_budget_ticks = memo_budget; /* last: the handler sees a whole budget */
	}
	return ticking ? 0 : start_ticking(err);
}

/* ---- allocator ---------------------------------------------------------- */

/* Frees always succeed; growth past the limit is refused (Lua then runs an
 * emergency collection and retries before raising LUA_ERRMEM). */
static void *sb_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct rt_lua *S = ud;
	size_t old = ptr ? osize : 0;
	void *p;

	if (nsize == 0) {
		free(ptr);
		S->mem_used -= old;
		return NULL;
	}
	if (nsize > old && S->mem_limit && !S->host_push &&
	    S->mem_used - old + nsize > S->mem_limit) {
		S->mem_denied = true;
		return NULL;
	}
	p = realloc(ptr, nsize);
	if (!p)
		return NULL;
	S->mem_used = S->mem_used - old + nsize;
	if (S->mem_used > S->mem_peak)
		S->mem_peak = S->mem_used;
	return p;
}

/* ---- hook and limit errors --------------------------------------------- */

struct rt_lua *rt_lua_of(lua_State *L)
{
	return *(struct rt_lua **)lua_getextraspace(L);
}

static void push_limit_msg(lua_State *L, enum rt_limit which)
{
	/* The interned copy lives in the registry, so this finds it without
	 * allocating even when memory is what tripped. */
	lua_pushstring(L, limit_msgs[which]);
}

int rt_lua_raise_limit(lua_State *L, enum rt_limit which, const char *detail)
{
	struct rt_lua *S = rt_lua_of(L);

	(void)detail;
	if (S->tripped == RT_LIMIT_NONE)
		S->tripped = which;
	lua_sethook(L, rt_lua_hook, LUA_MASKCOUNT, 1);
	push_limit_msg(L, S->tripped);
	return lua_error(L);
}

void rt_lua_check_tripped(lua_State *L)
{
	struct rt_lua *S = rt_lua_of(L);

	if (S->tripped != RT_LIMIT_NONE)
		rt_lua_raise_limit(L, S->tripped, NULL);
	if (rt_cpu_expired())
		rt_lua_raise_limit(L, RT_LIMIT_CPU, NULL);
}

void rt_lua_hook(lua_State *L, lua_Debug *ar)
{
	struct rt_lua *S = rt_lua_of(L);
	int step = lua_gethookcount(L);

	(void)ar;
	if (S->tripped == RT_LIMIT_NONE) {
		S->insn_left -= step;
		if (S->insn_left < 0)
			S->tripped = RT_LIMIT_INSTRUCTIONS;
		else if (rt_cpu_expired())
			S->tripped = RT_LIMIT_CPU;
		else {
			/* a thread left at count 1 by an earlier trip goes back to normal */
			if (step != RT_HOOK_STEP)
				lua_sethook(L, rt_lua_hook, LUA_MASKCOUNT, RT_HOOK_STEP);
			return;
		}
	}
	rt_lua_raise_limit(L, S->tripped, NULL);
}

/* ---- state lifecycle ---------------------------------------------------- */

static int panic(lua_State *L)
{
	char msg[256];

	/* Only reached for an error outside any protected call: a bug here. */
	rt_lua_error_text(L, -1, msg, sizeof(msg));
	fprintf(stderr, "cordon-node: lua panic: %s\n", msg);
	return 0; /* Lua aborts */
}

static int build_env(lua_State *L)
{
	lua_createtable(L, (int)CMN_ARRAY_SIZE(limit_msgs), 0);
	for (size_t i = 0; i < CMN_ARRAY_SIZE(limit_msgs); i++) {
		lua_pushstring(L, limit_msgs[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_setfield(L, LUA_REGISTRYINDEX, LIMIT_MSGS_KEY);
	return rt_env_build(L);
}

int rt_lua_new(const struct rt_limits *lim, struct rt_lua **out, struct cmn_err *err)
{
	struct rt_lua *S = calloc(1, sizeof(*S));
	int status;

	*out = NULL;
	if (!S)
		return cmn_err_set(err, CMN_ENOMEM, ENOMEM, "lua state: out of memory");
	if (lim)
		S->lim = *lim;
	rt_limits_fill(&S->lim);
	cmn_buf_init(&S->log, 0);
	S->call_rows = 1;
	snprintf(S->name, sizeof(S->name), "udf");
	S->L = lua_newstate(sb_alloc, S);
	if (!S->L) {
		free(S);
		return cmn_err_set(err, CMN_ENOMEM, ENOMEM, "lua_newstate: out of memory");
	}
	*(struct rt_lua **)lua_getextraspace(S->L) = S;
	lua_atpanic(S->L, panic);
	/* Set before any coroutine exists: lua_newthread copies the hook. */
	S->insn_left = (long long)1 << 62;
	lua_pushcfunction(S->L, build_env);
	status = lua_pcall(S->L, 0, 0, 0);
	if (status != LUA_OK) {
		char msg[256];
		rt_lua_error_text(S->L, -1, msg, sizeof(msg));
		rt_lua_free(S);
		return cmn_err_set(err, CMN_ENOMEM, 0, "lua environment: %s", msg);
	}
	S->mem_limit = S->lim.memory_bytes;
	if (start_ticking(err) < 0) {
		rt_lua_free(S);
		return -1;
	}
	*out = S;
	return 0;
}

void rt_lua_free(struct rt_lua *S)
{
	if (!S)
		return;
	if (S->L) {
		S->mem_limit = 0; /* closing must never be refused memory */
		lua_close(S->L);
	}
	cmn_buf_free(&S->log);
	free(S);
}

lua_State *rt_lua_state(struct rt_lua *S)
{
	return S->L;
}

const struct rt_limits *rt_lua_limits(const struct rt_lua *S)
{
	return &S->lim;
}

const char *rt_lua_name(const struct rt_lua *S)
{
	return S->name;
}

struct cmn_buf *rt_lua_log(struct rt_lua *S)
{
	return &S->log;
}

size_t rt_lua_memory_used(const struct rt_lua *S)
{
	return S->mem_used;
}

size_t rt_lua_memory_peak(const struct rt_lua *S)
{
	return S->mem_peak;
}

enum rt_limit rt_lua_limit_hit(const struct rt_lua *S)
{
	return S->tripped;
}

void rt_lua_host_push(struct rt_lua *S, bool on)
{
	S->host_push += on ? 1 : -1;
}

static bool valid_resource_name(const char *n)
{
	size_t len = strlen(n);

	if (len == 0 || len > 128 || strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = n[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

int rt_lua_set_resources(struct rt_lua *S, const struct rt_resource *res, size_t n,
			 struct cmn_err *err)
{
	for (size_t i = 0; i < n; i++) {
		if (!valid_resource_name(res[i].name))
			return cmn_err_set(err, CMN_EINVAL, 0,
					   "resource name '%s': only letters, digits, '.', '_' "
					   "and '-' are allowed",
					   res[i].name);
	}
	S->res = res;
	S->res_count = n;
	return 0;
}

/* ---- protected calls ---------------------------------------------------- */

void rt_lua_error_text(lua_State *L, int idx, char *out, size_t len)
{
	size_t n;
	const char *s;

	switch (lua_type(L, idx)) {
	case LUA_TSTRING:
		s = lua_tolstring(L, idx, &n);
		if (n >= len)
			n = len - 1;
		memcpy(out, s, n);
		out[n] = '\0';
		for (size_t i = 0; i < n; i++) {
			if (out[i] == '\0')
				out[i] = '?';
		}
		break;
	case LUA_TNUMBER:
		if (lua_isinteger(L, idx))
			snprintf(out, len, "%lld", (long long)lua_tointeger(L, idx));
		else
			snprintf(out, len, "%.14g", (double)lua_tonumber(L, idx));
		break;
	default:
		/* never tostring/__tostring: it may loop, allocate or not return a string */
		snprintf(out, len, "(error object is a %s value)",
			 lua_typename(L, lua_type(L, idx)));
		break;
	}
}

void rt_lua_set_call_rows(struct rt_lua *S, size_t rows)
{
	S->call_rows = rows > 0 && rows < (size_t)LLONG_MAX ? (long long)rows : 1;
}

void rt_lua_set_running(lua_State *L)
{
	rt_lua_running_thread = L;
}

lua_State *rt_lua_running(void)
{
	return rt_lua_running_thread;
}

static bool is_memerr(lua_State *L, int idx)
{
	size_t n;
	const char *s;

	if (lua_type(L, idx) != LUA_TSTRING)
		return false;
	s = lua_tolstring(L, idx, &n);
	return n == 17 && memcmp(s, "not enough memory", 17) == 0;
}

/* Turns a failed lua_pcall into err; pops the error object. */
int rt_lua_call_fail(struct rt_lua *S, int status, struct cmn_err *err)
{
	lua_State *L = S->L;
	char msg[CMN_ERR_MSG_MAX - 32];

	if (S->tripped == RT_LIMIT_NONE &&
	    (status == LUA_ERRMEM || (S->mem_denied && is_memerr(L, -1))))
		S->tripped = RT_LIMIT_MEMORY;
	if (S->tripped == RT_LIMIT_NONE && status == LUA_ERRERR && S->mem_denied)
		S->tripped = RT_LIMIT_MEMORY;
	if (S->tripped != RT_LIMIT_NONE) {
		lua_pop(L, 1);
		lua_sethook(L, NULL, 0, 0);
		if (S->tripped == RT_LIMIT_MEMORY)
			lua_gc(L, LUA_GCCOLLECT);
		return rt_lua_fail_limit(S, S->tripped, NULL, err);
	}
	rt_lua_error_text(L, -1, msg, sizeof(msg));
	lua_pop(L, 1);
	return cmn_err_set(err, CMN_EINVAL, 0, "%s", msg);
}

int rt_lua_call(struct rt_lua *S, int nargs, int nresults, struct cmn_err *err)
{
	return rt_lua_call_inline(S, nargs, nresults, err);
}

struct tramp {
	rt_lua_fn fn;
	void *ud;
};

static int trampoline(lua_State *L)
{
	struct tramp *t = lua_touserdata(L, 1);

	lua_remove(L, 1);
	return t->fn(L, t->ud);
}

int rt_lua_pcall(struct rt_lua *S, rt_lua_fn fn, void *ud, int nargs, int nresults,
		 struct cmn_err *err)
{
	struct tramp t = { fn, ud };

	if (!lua_checkstack(S->L, 4))
		return cmn_err_set(err, CMN_ENOMEM, 0, "lua stack: out of memory");
	lua_pushcfunction(S->L, trampoline);
	lua_pushlightuserdata(S->L, &t);
	lua_rotate(S->L, -(nargs + 2), 2);
	return rt_lua_call(S, nargs + 1, nresults, err);
}

int rt_lua_fail_limit(struct rt_lua *S, enum rt_limit which, const char *detail,
		      struct cmn_err *err)
{
	S->tripped = which;
	return cmn_err_set(err, CMN_ELIMIT, 0, "limit exceeded: %s%s%s%s", rt_limit_name(which),
			   detail ? " (" : "", detail ? detail : "", detail ? ")" : "");
}

void rt_lua_output_reset(struct rt_lua *S)
{
	S->output_used = 0;
}

int rt_lua_charge_output(struct rt_lua *S, size_t bytes)
{
	return rt_lua_charge_output_inline(S, bytes);
}

struct load_args {
	const char *name;
	const char *src;
	size_t len;
};

static int load_fn(lua_State *L, void *ud)
{
	struct load_args *a = ud;
	char chunkname[160];
	int status;

	snprintf(chunkname, sizeof(chunkname), "@%s", a->name);
	status = luaL_loadbufferx(L, a->src, a->len, chunkname, "t");
	if (status != LUA_OK)
		return lua_error(L);
	lua_getfield(L, LUA_REGISTRYINDEX, RT_ENV_KEY);
	if (!lua_setupvalue(L, -2, 1))
		lua_pop(L, 1);
	lua_call(L, 0, 1);
	return 1;
}

int rt_lua_load(struct rt_lua *S, const char *name, const char *src, size_t len,
		struct cmn_err *err)
{
	struct load_args a = { name, src, len };

	snprintf(S->name, sizeof(S->name), "%s", name);
	if (len > S->lim.string_bytes)
		return rt_lua_fail_limit(S, RT_LIMIT_STRING, "script larger than the string cap",
					 err);
	if (rt_lua_pcall(S, load_fn, &a, 0, 1, err) < 0)
		return -1;
	return 0;
}
