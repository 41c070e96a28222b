/* runtime/lua_sandbox.h — the Lua language sandbox (the inner wall).
 *
 * One struct rt_lua is one Lua 5.4 state running one untrusted script with
 * an allowlisted environment (lua_env.c) and limits: memory (a limiting
 * lua_Alloc), instructions per call (a count hook, armed on the running
 * thread, coroutines included, by a 10 ms CPU tick so that short calls run
 * at full speed; once a limit trips it re-arms at every instruction so pcall
 * cannot swallow it), CPU time per batch (the same tick; see rt_cpu_arm), output bytes (print and
 * values returned), and caps on string and pattern sizes. A limit hit is an error of code
 * CMN_ELIMIT and rt_lua_limit_hit() names it.
 *
 * Every host operation that can raise a Lua error runs inside a protected
 * call (rt_lua_pcall); the state stays usable after any error, including an
 * out-of-memory one. Not thread-safe: one thread drives one state.
 */
#ifndef RT_LUA_SANDBOX_H
#define RT_LUA_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

struct lua_State;

enum rt_limit {
	RT_LIMIT_NONE = 0,
	RT_LIMIT_MEMORY,
	RT_LIMIT_INSTRUCTIONS,
	RT_LIMIT_CPU,
	RT_LIMIT_OUTPUT,
	RT_LIMIT_STRING,
	RT_LIMIT_PATTERN,
};

/* 0 in a field means the documented default (RT_DEFAULT_*). */
struct rt_limits {
	uint64_t memory_bytes;  /* Lua heap of the state */
	uint64_t instructions;  /* VM instructions per call (one row, one iterate, ...) */
	uint64_t cpu_ns;        /* process CPU per batch, see rt_cpu_arm() */
	uint64_t output_bytes;  /* print output + values handed out, per state */
	uint64_t string_bytes;  /* largest string made by string.rep, load, or crossing the ABI */
	uint64_t pattern_bytes; /* longest pattern given to find/match/gmatch/gsub */
	uint64_t seed;          /* math.random seed; 0 = from the clock and pid */
	bool net_grant;         /* net.connect exists only then */
};

#define RT_DEFAULT_MEMORY (64ull << 20)
#define RT_DEFAULT_INSTRUCTIONS 100000000ull
#define RT_DEFAULT_CPU_NS 2000000000ull
#define RT_DEFAULT_OUTPUT (16ull << 20)
#define RT_DEFAULT_STRING (16ull << 20)
#define RT_DEFAULT_PATTERN 1024ull

/* A named, read-only blob that resource.read(name) returns. */
struct rt_resource {
	const char *name;
	int fd; /* read with pread; owned by the caller, kept open while the state lives */
};

struct rt_lua;

/* Fills the defaults into every 0 field. */
void rt_limits_fill(struct rt_limits *lim);
const char *rt_limit_name(enum rt_limit l); /* "memory", "instructions", ... */

int rt_lua_new(const struct rt_limits *lim, struct rt_lua **out, struct cmn_err *err);
void rt_lua_free(struct rt_lua *S);
struct lua_State *rt_lua_state(struct rt_lua *S);
/* Registers resources (names are checked: [A-Za-z0-9._-], no "." or ".."). */
int rt_lua_set_resources(struct rt_lua *S, const struct rt_resource *res, size_t n,
			 struct cmn_err *err);

/* Loads SRC as text (never a binary chunk) under chunk name NAME, runs it with
 * limits on, and leaves its first result on the Lua stack. */
int rt_lua_load(struct rt_lua *S, const char *name, const char *src, size_t len,
		struct cmn_err *err);

/* Runs fn(L, ud) as a protected call with limits on (instruction budget reset),
 * with the nargs values on top of the stack as its arguments (fn sees them at
 * 1..nargs). fn may raise Lua errors. On error fills err (CMN_ELIMIT for a limit, CMN_EINVAL
 * for a script error "NAME:LINE: message") and returns -1; the state stays usable.
 * Results fn leaves on the stack stay there until rt_lua_settop(). */
typedef int (*rt_lua_fn)(struct lua_State *L, void *ud);
int rt_lua_pcall(struct rt_lua *S, rt_lua_fn fn, void *ud, int nargs, int nresults,
		 struct cmn_err *err);

/* Fast path for the per-row call: the caller pushed the function and nargs
 * arguments that needed no allocation (or were pushed under rt_lua_host_push);
 * calls it with limits on and leaves nresults on the stack. */
int rt_lua_call(struct rt_lua *S, int nargs, int nresults, struct cmn_err *err);
/* The next call covers ROWS rows (a batch): its instruction budget is the
 * per-call limit times rows. */
void rt_lua_set_call_rows(struct rt_lua *S, size_t rows);
/* Lets the host push values (e.g. input strings already checked against the
 * string cap) without the memory limit refusing them. Balanced calls. */
void rt_lua_host_push(struct rt_lua *S, bool on);

/* The limit that ended the last failed call, RT_LIMIT_NONE if none. */
enum rt_limit rt_lua_limit_hit(const struct rt_lua *S);
/* Fails the current host operation with a limit (sets what rt_lua_limit_hit
 * reports and fills err). Returns -1. */
int rt_lua_fail_limit(struct rt_lua *S, enum rt_limit which, const char *detail,
		      struct cmn_err *err);
/* Counts bytes handed out (results, forwarded rows); raises/fails at the cap. */
int rt_lua_charge_output(struct rt_lua *S, size_t bytes);
void rt_lua_output_reset(struct rt_lua *S);
/* Raises a limit error from inside Lua (does not return). */
int rt_lua_raise_limit(struct lua_State *L, enum rt_limit which, const char *detail);
/* Inside Lua: the state of L (any thread). */
struct rt_lua *rt_lua_of(struct lua_State *L);
const struct rt_limits *rt_lua_limits(const struct rt_lua *S);
const char *rt_lua_name(const struct rt_lua *S);

/* The print() output captured since the last drain (the job log). */
struct cmn_buf *rt_lua_log(struct rt_lua *S);
size_t rt_lua_memory_used(const struct rt_lua *S);
size_t rt_lua_memory_peak(const struct rt_lua *S);

/* Safe text of the error object at idx: never calls __tostring. */
void rt_lua_error_text(struct lua_State *L, int idx, char *out, size_t len);

/* CPU budget of this process for the coming batch of calls: after cpu_ns of
 * process CPU the limit trips (checked by the hook and the C wrappers). A C
 * call that runs on past the budget plus grace_ns (a backtracking pattern) is
 * ended by the timer: if exit_on_hard is set the process writes
 * "cordon: udf: limit exceeded: cpu" to stderr and _exits with hard_exit_code
 * (cordon-node sets it; it runs alone in its container). 0 = disarm. */
int rt_cpu_arm(uint64_t cpu_ns, uint64_t grace_ns, bool exit_on_hard, int hard_exit_code,
	       struct cmn_err *err);
bool rt_cpu_expired(void);

#endif
