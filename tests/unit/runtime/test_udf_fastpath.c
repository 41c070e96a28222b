/* tests/unit/runtime/test_udf_fastpath.c — the per-row and batch fast paths
 * keep every guarantee of the slow ones: the Lua stack stays bounded, a
 * string result lives until the next call, errors and limits leave the UDF
 * usable, every limit trips the same way per row and in a batch, and the
 * wrapped library functions (string.rep, the pattern functions, table.*)
 * still check their caps and name their arguments. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <lua.h>

#include "runtime/udf_abi.h"

static struct rt_udf *open_udf(const char *src, const char *fn, const struct rt_limits *lim)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct rt_udf_source s = { "f.lua", src, strlen(src), fn, lim, NULL, 0 };
	struct rt_udf *u = NULL;

	if (rt_udf_open(&s, &u, &err) < 0)
		fail_msg("open %s: %s", fn, err.msg);
	return u;
}

static struct rt_value v_int(int64_t i)
{
	struct rt_value v = { .type = RT_T_BIGINT };
	v.v.i = i;
	return v;
}

static struct rt_value v_str(const char *s)
{
	struct rt_value v = { .type = RT_T_STRING };
	v.v.s.p = s;
	v.v.s.len = strlen(s);
	return v;
}

static int stack_top(struct rt_udf *u)
{
	return lua_gettop(rt_lua_state(rt_udf_lua(u)));
}

static const char MIXED[] =
    "local M = {}\n"
    "function M.f(x)\n"
    "  if x % 4 == 0 then return 'row' .. x .. string.rep('.', x % 50) end\n"
    "  if x % 4 == 1 then return x * 2 + 1 end\n"
    "  if x % 4 == 2 then return nil end\n"
    "  return x / 2\n"
    "end\n"
    "M.typed = { signature = 'bigint->string', evaluate = function(x)\n"
    "  if x == 13 then error('thirteen') end\n"
    "  return tostring(x) end }\n"
    "return M\n";

/* Thousands of rows of every result type, with errors in between: every
 * result is right, a string result survives a full collection until the next
 * call, and the stack never grows past the base frame's LUA_MINSTACK. */
static void test_rows_stack_bounded_strings_live(void **state)
{
	struct rt_udf *u = open_udf(MIXED, "f", NULL);
	struct rt_udf *t = open_udf(MIXED, "typed", NULL);
	struct cmn_err err = CMN_ERR_INIT;
	struct rt_value in, out;
	char want[128];

	(void)state;
	for (int64_t x = 0; x < 4000; x++) {
		in = v_int(x);
		assert_int_equal(rt_udf_call(u, &in, 1, &out, &err), 0);
		if (x % 97 == 0)
			lua_gc(rt_lua_state(rt_udf_lua(u)), LUA_GCCOLLECT);
		switch (x % 4) {
		case 0:
			snprintf(want, sizeof(want), "row%lld%.*s", (long long)x, (int)(x % 50),
				 "..................................................");
			assert_int_equal(out.type, RT_T_STRING);
			assert_int_equal(out.v.s.len, strlen(want));
			assert_memory_equal(out.v.s.p, want, out.v.s.len);
			break;
		case 1:
			assert_int_equal(out.type, RT_T_BIGINT);
			assert_int_equal(out.v.i, x * 2 + 1);
			break;
		case 2:
			assert_int_equal(out.type, RT_T_NULL);
			break;
		default:
			assert_int_equal(out.type, RT_T_DOUBLE);
			assert_true(out.v.d == (double)x / 2);
		}
		assert_true(stack_top(u) <= LUA_MINSTACK);
		if (x % 500 == 7) {
			/* a wrong argument count, a wrong type, a script error */
			assert_int_equal(rt_udf_call(t, NULL, 0, &out, &err), -1);
			assert_non_null(strstr(err.msg, "expected 1 argument, got 0"));
			in = v_str("x");
			assert_int_equal(rt_udf_call(t, &in, 1, &out, &err), -1);
			assert_non_null(strstr(err.msg, "argument 1: expected bigint, got string"));
			in = v_int(13);
			assert_int_equal(rt_udf_call(t, &in, 1, &out, &err), -1);
			assert_int_equal(err.code, CMN_EINVAL);
			assert_non_null(strstr(err.msg, "f.lua:9: thirteen"));
			in = v_int(x);
			assert_int_equal(rt_udf_call(t, &in, 1, &out, &err), 0);
			snprintf(want, sizeof(want), "%lld", (long long)x);
			assert_int_equal(out.v.s.len, strlen(want));
			assert_memory_equal(out.v.s.p, want, out.v.s.len);
			assert_true(stack_top(t) <= LUA_MINSTACK);
		}
	}
	/* a batch in between keeps slot 1 (the function) for the next row */
	{
		struct rt_value args[3] = { v_int(1), v_int(4), v_int(5) }, outs[3];
		assert_int_equal(rt_udf_call_batch(u, args, 1, 3, outs, &err), 0);
		assert_int_equal(outs[0].v.i, 3);
		assert_int_equal(outs[1].type, RT_T_STRING);
		assert_int_equal(outs[2].v.i, 11);
		in = v_int(9);
		assert_int_equal(rt_udf_call(u, &in, 1, &out, &err), 0);
		assert_int_equal(out.v.i, 19);
	}
	rt_udf_free(u);
	rt_udf_free(t);
}

static const char LIMITS[] = "return { f = function(n, s)\n"
			     "  if n == 1 then while true do end end\n"
			     "  if n == 2 then local t = {} while true do t[#t + 1] = {} end end\n"
			     "  if n == 3 then return string.rep('x', 1 << 30) end\n"
			     "  if n == 4 then return ('a'):rep(2000) end\n"
			     "  if n == 5 then return s:find(('a?'):rep(600) .. 'b') end\n"
			     "  return n\n"
			     "end }\n";

static void expect_limit(struct rt_udf *u, int rc, const struct cmn_err *err, enum rt_limit l)
{
	assert_int_equal(rc, -1);
	assert_int_equal(err->code, CMN_ELIMIT);
	assert_int_equal(rt_udf_limit_hit(u), l);
}

/* Every limit trips per row and in a batch alike, and the next row and the
 * next batch run normally. */
static void test_limits_rows_and_batches(void **state)
{
	struct rt_limits lim = { .memory_bytes = 8 << 20,
				 .instructions = 1000000,
				 .output_bytes = 1000,
				 .string_bytes = 1 << 20,
				 .pattern_bytes = 1024 };
	static const enum rt_limit expect[] = { RT_LIMIT_NONE,   RT_LIMIT_INSTRUCTIONS,
						RT_LIMIT_MEMORY, RT_LIMIT_STRING,
						RT_LIMIT_OUTPUT, RT_LIMIT_PATTERN };
	struct rt_udf *u = open_udf(LIMITS, "f", &lim);
	struct cmn_err err = CMN_ERR_INIT;
	struct rt_value in[2], out, rows[8], outs[4];
	static char big[(1 << 20) + 2];

	(void)state;
	for (int n = 1; n <= 5; n++) {
		in[0] = v_int(n);
		in[1] = v_str("aaaa");
		expect_limit(u, rt_udf_call(u, in, 2, &out, &err), &err, expect[n]);
		in[0] = v_int(42);
		assert_int_equal(rt_udf_call(u, in, 2, &out, &err), 0);
		assert_int_equal(out.v.i, 42);
		/* the same row in the middle of a batch fails the batch */
		for (int r = 0; r < 4; r++) {
			rows[2 * r] = v_int(r == 2 ? n : 100 + r);
			rows[2 * r + 1] = v_str("aaaa");
		}
		expect_limit(u, rt_udf_call_batch(u, rows, 2, 4, outs, &err), &err, expect[n]);
		rows[4] = v_int(7);
		assert_int_equal(rt_udf_call_batch(u, rows, 2, 4, outs, &err), 0);
		assert_int_equal(outs[0].v.i, 100);
		assert_int_equal(outs[2].v.i, 7);
		assert_int_equal(outs[3].v.i, 103);
	}
	/* an argument past the string cap, per row and in a batch */
	memset(big, 'b', sizeof(big) - 1);
	in[0] = v_int(0);
	in[1] = v_str(big);
	expect_limit(u, rt_udf_call(u, in, 2, &out, &err), &err, RT_LIMIT_STRING);
	expect_limit(u, rt_udf_call_batch(u, in, 2, 1, outs, &err), &err, RT_LIMIT_STRING);
	rt_udf_free(u);
}

/* An output limit below 8 bytes: even an integer result is refused, by the
 * per-row fast path and by the batch's. */
static void test_tiny_output_limit(void **state)
{
	struct rt_limits lim = { .output_bytes = 4 };
	struct rt_udf *u = open_udf(LIMITS, "f", &lim);
	struct cmn_err err = CMN_ERR_INIT;
	struct rt_value in = v_int(9), out, outs[1];

	(void)state;
	expect_limit(u, rt_udf_call(u, &in, 1, &out, &err), &err, RT_LIMIT_OUTPUT);
	expect_limit(u, rt_udf_call_batch(u, &in, 1, 1, outs, &err), &err, RT_LIMIT_OUTPUT);
	rt_udf_free(u);
}

static const char WRAPPED[] =
    "return { f = function(n)\n"
    "  if n == 1 then return ('x'):rep(-1) .. '|' .. ('ab'):rep(3, ',') end\n"
    "  if n == 2 then return ('x'):rep('many') end\n"
    "  if n == 3 then return string.match(nil, 'x') end\n"
    "  if n == 4 then local o = {} for w in ('a b c'):gmatch('%a') do o[#o + 1] = w end\n"
    "    return table.concat(o, '+') end\n"
    "  if n == 5 then return select(2, ('hello'):find('l+')) .. ('x.y'):gsub('%.', '-') end\n"
    "  if n == 6 then local t = {1, 2} table.insert(t, 3) table.remove(t, 1)\n"
    "    return table.concat(t, ',') end\n"
    "  if n == 7 then return ('abc'):find(('z'):rep(2000), 1, true) == nil end\n"
    "  return ('abc'):find(('z'):rep(2000))\n"
    "end }\n";

static void call_text(struct rt_udf *u, int n, const char *want)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct rt_value in = v_int(n), out;

	if (rt_udf_call(u, &in, 1, &out, &err) < 0)
		fail_msg("row %d: %s", n, err.msg);
	assert_int_equal(out.type, RT_T_STRING);
	assert_int_equal(out.v.s.len, strlen(want));
	assert_memory_equal(out.v.s.p, want, out.v.s.len);
}

/* The wrapped library functions run in the wrapper's frame: results are
 * Lua's, argument errors name the function, caps still hold. */
static void test_wrapped_library_functions(void **state)
{
	struct rt_udf *u = open_udf(WRAPPED, "f", NULL);
	struct cmn_err err = CMN_ERR_INIT;
	struct rt_value in, out;

	(void)state;
	call_text(u, 1, "|ab,ab,ab");
	in = v_int(2);
	assert_int_equal(rt_udf_call(u, &in, 1, &out, &err), -1);
	assert_int_equal(err.code, CMN_EINVAL);
	assert_non_null(strstr(err.msg, "bad argument #1 to 'rep'"));
	in = v_int(3);
	assert_int_equal(rt_udf_call(u, &in, 1, &out, &err), -1);
	assert_non_null(strstr(err.msg, "bad argument #1 to 'match'"));
	call_text(u, 4, "a+b+c");
	call_text(u, 5, "4x-y");
	call_text(u, 6, "2,3");
	in = v_int(7);
	assert_int_equal(rt_udf_call(u, &in, 1, &out, &err), 0);
	assert_int_equal(out.type, RT_T_BOOLEAN);
	assert_true(out.v.b);
	in = v_int(8);
	expect_limit(u, rt_udf_call(u, &in, 1, &out, &err), &err, RT_LIMIT_PATTERN);
	rt_udf_free(u);
}

static const char ARITY[] = "return { zero = function() return 5 end,\n"
			    "  three = function(a, b, c) if b == 'boom' then error('boom') end\n"
			    "    return a .. b .. tostring(c) end }\n";

/* Batches of odd sizes and arities equal the same rows one by one; a failing
 * row fails its batch with the script's message, and the UDF goes on. */
static void test_batch_sizes_and_arities(void **state)
{
	struct rt_udf *z = open_udf(ARITY, "zero", NULL);
	struct rt_udf *t = open_udf(ARITY, "three", NULL);
	struct cmn_err err = CMN_ERR_INIT;
	static struct rt_value args[3 * RT_BATCH_ROWS], outs[RT_BATCH_ROWS];
	static char names[RT_BATCH_ROWS][32];
	static const size_t sizes[] = { 1, 2, 127, 128, 129, 1000, RT_BATCH_ROWS };

	(void)state;
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t n = sizes[k];
		assert_int_equal(rt_udf_call_batch(z, NULL, 0, n, outs, &err), 0);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(outs[i].v.i, 5);
		for (size_t i = 0; i < n; i++) {
			snprintf(names[i], sizeof(names[i]), "n%zu", i);
			args[3 * i] = v_str("a");
			args[3 * i + 1] = v_str(names[i]);
			args[3 * i + 2] = i % 3 ? v_int((int64_t)i) : (struct rt_value){ 0 };
		}
		assert_int_equal(rt_udf_call_batch(t, args, 3, n, outs, &err), 0);
		for (size_t i = 0; i < n; i++) {
			char want[48];
			if (i % 3)
				snprintf(want, sizeof(want), "an%zu%zu", i, i);
			else
				snprintf(want, sizeof(want), "an%zunil", i);
			assert_int_equal(outs[i].type, RT_T_STRING);
			assert_int_equal(outs[i].v.s.len, strlen(want));
			assert_memory_equal(outs[i].v.s.p, want, outs[i].v.s.len);
		}
	}
	args[3 * 50 + 1] = v_str("boom");
	assert_int_equal(rt_udf_call_batch(t, args, 3, 100, outs, &err), -1);
	assert_int_equal(err.code, CMN_EINVAL);
	assert_non_null(strstr(err.msg, "f.lua:2: boom"));
	args[3 * 50 + 1] = v_str("ok");
	assert_int_equal(rt_udf_call_batch(t, args, 3, 100, outs, &err), 0);
	assert_int_equal(outs[50].v.s.len, strlen("aok50"));
	assert_memory_equal(outs[50].v.s.p, "aok50", 5);
	rt_udf_free(z);
	rt_udf_free(t);
}

static const char WIDE[] =
    "return { one = function(x) return x + 1 end,\n"
    "  sixteen = function(...) local s = 0\n"
    "    for i = 1, select('#', ...) do s = s + select(i, ...) * i end return s end }\n";

/* The chunk functions at their register bounds: one argument (126 rows a
 * chunk) and sixteen (12 rows a chunk), over full and partial chunks. */
static void test_batch_chunk_bounds(void **state)
{
	struct rt_udf *one = open_udf(WIDE, "one", NULL);
	struct rt_udf *six = open_udf(WIDE, "sixteen", NULL);
	struct cmn_err err = CMN_ERR_INIT;
	static struct rt_value args[16 * RT_BATCH_ROWS], outs[RT_BATCH_ROWS];
	static const size_t sizes[] = { 11, 12, 13, 125, 126, 127, 252, 253, RT_BATCH_ROWS };

	(void)state;
	for (size_t i = 0; i < 16 * RT_BATCH_ROWS; i++)
		args[i] = v_int((int64_t)i);
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t n = sizes[k];
		assert_int_equal(rt_udf_call_batch(one, args, 1, n, outs, &err), 0);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(outs[i].v.i, (int64_t)i + 1);
		assert_int_equal(rt_udf_call_batch(six, args, 16, n, outs, &err), 0);
		for (size_t i = 0; i < n; i++) {
			int64_t want = 0;
			for (int j = 0; j < 16; j++)
				want += (int64_t)(16 * i + (size_t)j) * (j + 1);
			assert_int_equal(outs[i].v.i, want);
		}
	}
	assert_int_equal(rt_udf_call_batch(six, args, 17, 1, outs, &err), -1);
	assert_non_null(strstr(err.msg, "at most 16 arguments"));
	rt_udf_free(one);
	rt_udf_free(six);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows_stack_bounded_strings_live),
		cmocka_unit_test(test_limits_rows_and_batches),
		cmocka_unit_test(test_tiny_output_limit),
		cmocka_unit_test(test_wrapped_library_functions),
		cmocka_unit_test(test_batch_sizes_and_arities),
		cmocka_unit_test(test_batch_chunk_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
