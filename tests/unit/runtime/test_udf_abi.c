/* tests/unit/runtime/test_udf_abi.c — the UDF ABI: every conversion, NULL,
 * wrong types, aggregate merge across buffers, table functions, batches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/udf_abi.h"

static struct rt_udf *open_udf(const char *src, const char *fn, const struct rt_limits *lim)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct rt_udf_source s = { "t.lua", src, strlen(src), fn, lim, NULL, 0 };
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

static struct rt_value v_dbl(double d)
{
	struct rt_value v = { .type = RT_T_DOUBLE };
	v.v.d = d;
	return v;
}

static struct rt_value v_str(const char *s)
{
	struct rt_value v = { .type = RT_T_STRING };
	v.v.s.p = s;
	v.v.s.len = strlen(s);
	return v;
}

static const char IDENTITY[] =
    "local M = {}\n"
    "function M.id(x) return x end\n"
    "function M.kind(x) return math.type(x) or type(x) end\n"
    "M.typed = { signature = 'double,string->string',\n"
    "  evaluate = function(d, s) return math.type(d) .. ':' .. s end }\n"
    "M.dt = { signature = 'datetime->datetime', evaluate = function(t) "
    "return t + 1.5 end }\n"
    "M.bin = { signature = 'binary->binary', evaluate = function(b) return "
    "b .. '\\0' end }\n"
    "M.int = { signature = 'bigint->bigint', evaluate = function(x) return "
    "x end }\n"
    "M.bad = { signature = 'bigint->bigint', evaluate = function(x) return "
    "'no' end }\n"
    "function M.tbl() return {} end\n"
    "return M\n";

static void test_scalar_roundtrip_every_type(void **state)
{
	struct rt_udf *u = open_udf(IDENTITY, "id", NULL);
	struct cmn_err err = CMN_ERR_INIT;
	struct rt_value in[6], out;
	const char bin[] = { 'a', '\0', 'b' };

	(void)state;
	in[0] = (struct rt_value){ .type = RT_T_NULL };
	in[1] = v_int(INT64_MIN);
	in[2] = v_dbl(-0.25);
	in[3] = (struct rt_value){ .type = RT_T_BOOLEAN, .v.b = true };
	in[4] = v_str("héllo");
	in[5] = (struct rt_value){ .type = RT_T_BINARY, .v.s = { bin, 3 } };
	for (int i = 0; i < 6; i++) {
		assert_int_equal(rt_udf_call(u, &in[i], 1, &out, &err), 0);
		switch (i) {
		case 0:
			assert_int_equal(out.type, RT_T_NULL);
			break;
		case 1:
			assert_true(out.type == RT_T_BIGINT && out.v.i == INT64_MIN);
			break;
		case 2:
			assert_true(out.type == RT_T_DOUBLE && out.v.d == -0.25);
			break;
		case 3:
			assert_true(out.type == RT_T_BOOLEAN && out.v.b);
			break;
		case 4:
			assert_int_equal(out.type, RT_T_STRING);
			assert_memory_equal(out.v.s.p, "héllo", out.v.s.len);
			break;
		case 5:
			/* no signature: a Lua string comes back as STRING, bytes intact */
			assert_int_equal(out.v.s.len, 3);
			assert_memory_equal(out.v.s.p, bin, 3);
			break;
		}
	}
	rt_udf_free(u);
}

static void test_lua_types_seen(void **state)
{
	struct rt_udf *u = open_udf(IDENTITY, "kind", NULL);
	struct cmn_err err = CMN_ERR_INIT;
	struct rt_value in, out;

	(void)state;
	in = v_int(3);
	assert_int_equal(rt_udf_call(u, &in, 1, &out, &err), 0);
	assert_memory_equal(out.v.s.p, "integer", 7);
	in = v_dbl(3.0);
	assert_int_equal(rt_udf_call(u, &in, 1, &out, &err), 0);
	assert_memory_equal(out.v.s.p, "float", 5);
	in = (struct rt_value){ .type = RT_T_NULL };
	assert_int_equal(rt_udf_call(u, &in, 1, &out, &err), 0);
	assert_memory_equal(out.v.s.p, "nil", 3);
	rt_udf_free(u);
}

static void test_signature_coercion_and_errors(void **state)
{
	struct rt_udf *u = open_udf(IDENTITY, "typed", NULL);
	struct cmn_err err = CMN_ERR_INIT;
	struct rt_value in[2], out;

	(void)state;
	/* BIGINT -> DOUBLE is the one implicit numeric conversion */
	in[0] = v_int(2);
	in[1] = v_str("s");
	assert_int_equal(rt_udf_call(u, in, 2, &out, &err), 0);
	assert_memory_equal(out.v.s.p, "float:s", 7);
	/* a wrong type names the argument */
	in[1] = v_int(5);
	assert_int_equal(rt_udf_call(u, in, 2, &out, &err), -1);
	assert_non_null(strstr(err.msg, "argument 2: expected string, got bigint"));
	assert_int_equal(err.code, CMN_EINVAL);
	/* the count is checked */
	assert_int_equal(rt_udf_call(u, in, 1, &out, &err), -1);
	assert_non_null(strstr(err.msg, "expected 2 arguments, got 1"));
	/* NULL passes any declared type */
	in[0] = (struct rt_value){ .type = RT_T_NULL };
	in[1] = v_str("x");
	assert_int_equal(rt_udf_call(u, in, 2, &out, &err),
			 -1); /* math.type(nil) is nil: a Lua error */
	assert_non_null(strstr(err.msg, "t.lua:5: attempt to concatenate"));
	rt_udf_free(u);
}

static void test_return_type_checked(void **state)
{
	struct rt_udf *u = open_udf(IDENTITY, "bad", NULL);
	struct rt_udf *t = open_udf(IDENTITY, "tbl", NULL);
	struct rt_udf *i = open_udf(IDENTITY, "int", NULL);
	struct cmn_err err = CMN_ERR_INIT;
	struct rt_value in = v_int(1), out;

	(void)state;
	assert_int_equal(rt_udf_call(u, &in, 1, &out, &err), -1);
	assert_non_null(strstr(err.msg, "return value: expected bigint, got string"));
	assert_int_equal(rt_udf_call(t, NULL, 0, &out, &err), -1);
	assert_non_null(strstr(err.msg, "a table is not a SQL value"));
	in = v_str("7");
	assert_int_equal(rt_udf_call(i, &in, 1, &out, &err), -1);
	assert_non_null(strstr(err.msg, "argument 1: expected bigint, got string"));
	rt_udf_free(u);
	rt_udf_free(t);
	rt_udf_free(i);
}

static void test_datetime_and_binary(void **state)
{
	struct rt_udf *d = open_udf(IDENTITY, "dt", NULL);
	struct rt_udf *b = open_udf(IDENTITY, "bin", NULL);
	struct cmn_err err = CMN_ERR_INIT;
	struct rt_value in = { .type = RT_T_DATETIME }, out;
	int64_t ms;
	char text[40];

	(void)state;
	assert_int_equal(rt_datetime_parse("2026-11-27 18:00:00", 19, &ms), 0);
	in.v.ms = ms;
	assert_int_equal(rt_udf_call(d, &in, 1, &out, &err), 0);
	assert_int_equal(out.type, RT_T_DATETIME);
	assert_int_equal(out.v.ms, ms + 1500);
	rt_datetime_format(out.v.ms, text, sizeof(text));
	assert_string_equal(text, "2026-11-27 18:00:01.500");
	in = v_str("ab");
	assert_int_equal(rt_udf_call(b, &in, 1, &out, &err), 0);
	assert_int_equal(out.type, RT_T_BINARY);
	assert_int_equal(out.v.s.len, 3);
	assert_memory_equal(out.v.s.p, "ab\0", 3);
	assert_int_equal(rt_datetime_parse("2026-13-01", 10, &ms), -1);
	rt_udf_free(d);
	rt_udf_free(b);
}

static void test_signature_parse(void **state)
{
	struct rt_signature sig;
	struct cmn_err err = CMN_ERR_INIT;

	(void)state;
	assert_int_equal(rt_sig_parse("bigint, STRING -> string,double", &sig, &err), 0);
	assert_int_equal(sig.nargs, 2);
	assert_int_equal(sig.args[1], RT_T_STRING);
	assert_int_equal(sig.nret, 2);
	assert_int_equal(sig.ret[1], RT_T_DOUBLE);
	assert_int_equal(rt_sig_parse("*->bigint", &sig, &err), 0);
	assert_true(sig.any_args);
	assert_int_equal(rt_sig_parse("->bigint", &sig, &err), 0);
	assert_int_equal(sig.nargs, 0);
	assert_int_equal(rt_sig_parse("int->bigint", &sig, &err), -1);
	assert_int_equal(rt_sig_parse("bigint", &sig, &err), -1);
	assert_int_equal(rt_sig_parse("bigint->", &sig, &err), -1);
	assert_int_equal(rt_sig_parse("bigint,->string", &sig, &err), -1);
}

static const char AGG[] =
    "local M = {}\n"
    "M.stats = { signature = 'double->string',\n"
    "  new_buffer = function() return { n = 0, s = 0.0, min = nil, tags = {} } end,\n"
    "  iterate = function(b, x) if x then b.n = b.n + 1; b.s = b.s + x;\n"
    "    if not b.min or x < b.min then b.min = x end; b.tags[#b.tags + 1] = x > 0 end end,\n"
    "  merge = function(b, o) b.n = b.n + o.n; b.s = b.s + o.s;\n"
    "    if o.min and (not b.min or o.min < b.min) then b.min = o.min end;\n"
    "    for _, t in ipairs(o.tags) do b.tags[#b.tags + 1] = t end end,\n"
    "  terminate = function(b) local pos = 0 for _, t in ipairs(b.tags) do if t then pos = "
    "pos + 1 end end\n"
    "    return string.format('%d %.3f %s %d', b.n, b.s, tostring(b.min), pos) end }\n"
    "M.count = { new_buffer = function() return 0 end,\n"
    "  iterate = function(b) return b + 1 end, merge = function(b, o) return b + o end,\n"
    "  terminate = function(b) return b end }\n"
    "M.evil = { new_buffer = function() return { f = print } end, iterate = function() end,\n"
    "  merge = function() end, terminate = function() return 1 end }\n"
    "M.cyclic = { new_buffer = function() local t = {} t.self = t return t end,\n"
    "  iterate = function() end, merge = function() end, terminate = function() return 1 end }\n"
    "M.meta = { new_buffer = function() return setmetatable({}, {}) end,\n"
    "  iterate = function() end, merge = function() end, terminate = function() return 1 end }\n"
    "M.deep = { new_buffer = function() local t = {} for i = 1, 40 do t = { t } end return t "
    "end,\n"
    "  iterate = function() end, merge = function() end, terminate = function() return 1 end }\n"
    "return M\n";

static void agg_feed(struct rt_udf *u, int buf, const double *xs, int n)
{
	struct cmn_err err = CMN_ERR_INIT;

	for (int i = 0; i < n; i++) {
		struct rt_value v =
		    xs[i] == 999 ? (struct rt_value){ .type = RT_T_NULL } : v_dbl(xs[i]);
		assert_int_equal(rt_udf_agg_iterate(u, buf, &v, 1, &err), 0);
	}
}

static void term_text(struct rt_udf *u, int buf, char *out, size_t len)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct rt_value v;

	assert_int_equal(rt_udf_agg_terminate(u, buf, &v, &err), 0);
	assert_int_equal(v.type, RT_T_STRING);
	snprintf(out, len, "%.*s", (int)v.v.s.len, v.v.s.p);
}

static void test_aggregate_merge_equals_one_pass(void **state)
{
	static const double xs[] = { 3, -1.5, 999, 8, 0.25, -7, 2, 999, 11, 4.5 };
	struct rt_udf *u = open_udf(AGG, "stats", NULL);
	struct cmn_err err = CMN_ERR_INIT;
	char one[128], two[128];
	int n = (int)(sizeof(xs) / sizeof(xs[0]));

	(void)state;
	for (int split = 0; split <= n; split++) {
		int whole, a, b, a2, b2;
		struct cmn_buf bytes;
		assert_int_equal(rt_udf_agg_new(u, &whole, &err), 0);
		agg_feed(u, whole, xs, n);
		term_text(u, whole, one, sizeof(one));
		assert_int_equal(rt_udf_agg_new(u, &a, &err), 0);
		assert_int_equal(rt_udf_agg_new(u, &b, &err), 0);
		agg_feed(u, a, xs, split);
		agg_feed(u, b, xs + split, n - split);
		/* both halves cross a node boundary as plain data */
		cmn_buf_init(&bytes, 0);
		assert_int_equal(rt_udf_agg_serialize(u, a, &bytes, &err), 0);
		assert_int_equal(rt_udf_agg_deserialize(u, bytes.data, bytes.len, &a2, &err), 0);
		assert_int_equal(rt_udf_agg_serialize(u, b, &bytes, &err), 0);
		assert_int_equal(rt_udf_agg_deserialize(u, bytes.data, bytes.len, &b2, &err), 0);
		cmn_buf_free(&bytes);
		assert_int_equal(rt_udf_agg_merge(u, a2, b2, &err), 0);
		term_text(u, a2, two, sizeof(two));
		assert_string_equal(one, two);
		assert_string_equal(one, "8 20.250 -7.0 6");
		rt_udf_agg_free(u, whole);
		rt_udf_agg_free(u, a);
		rt_udf_agg_free(u, b);
		rt_udf_agg_free(u, a2);
		rt_udf_agg_free(u, b2);
		/* a freed handle is refused, not reused */
		assert_int_equal(rt_udf_agg_iterate(u, a, NULL, 0, &err), -1);
	}
	rt_udf_free(u);
}

static void test_aggregate_scalar_buffer(void **state)
{
	struct rt_udf *u = open_udf(AGG, "count", NULL);
	struct cmn_err err = CMN_ERR_INIT;
	struct rt_value out;
	int a, b;

	(void)state;
	assert_int_equal(rt_udf_agg_new(u, &a, &err), 0);
	assert_int_equal(rt_udf_agg_new(u, &b, &err), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(rt_udf_agg_iterate(u, i < 2 ? a : b, NULL, 0, &err), 0);
	assert_int_equal(rt_udf_agg_merge(u, a, b, &err), 0);
	assert_int_equal(rt_udf_agg_terminate(u, a, &out, &err), 0);
	assert_true(out.type == RT_T_BIGINT && out.v.i == 5);
	rt_udf_free(u);
}

static void expect_serialize_error(const char *fn, const char *what)
{
	struct rt_udf *u = open_udf(AGG, fn, NULL);
	struct cmn_err err = CMN_ERR_INIT;
	struct cmn_buf bytes;
	int buf;

	cmn_buf_init(&bytes, 0);
	assert_int_equal(rt_udf_agg_new(u, &buf, &err), 0);
	assert_int_equal(rt_udf_agg_serialize(u, buf, &bytes, &err), -1);
	if (!strstr(err.msg, what))
		fail_msg("%s: '%s' not in '%s'", fn, what, err.msg);
	cmn_buf_free(&bytes);
	rt_udf_free(u);
}

static void test_serialize_rejects_non_plain_data(void **state)
{
	(void)state;
	expect_serialize_error("evil", "a function is not plain data");
	expect_serialize_error("cyclic", "contains a cycle");
	expect_serialize_error("meta", "metatable");
	expect_serialize_error("deep", "nested deeper than");
}

static void test_deserialize_hostile_bytes(void **state)
{
	static const struct {
		const char *bytes;
		size_t len;
		const char *what;
	} cases[] = {
		{ "XB1\0", 4, "not a Cordon buffer" },
		{ "CB1", 3, "truncated" },
		{ "CB1\x05\xff\xff\xff\x7f", 8, "truncated" },
		{ "CB1\x06\xff\xff\xff\x7f", 8, "bad entry count" },
		{ "CB1\x09", 4, "bad tag" },
		{ "CB1\x00\x00", 5, "trailing" },
		{ "CB1\x06\x01\x00\x00\x00\x00\x02", 10, "nil key" },
		{ "CB1\x06\x01\x00\x00\x00\x06\x00\x00\x00\x00\x02", 13, "table as a key" },
	};
	struct rt_udf *u = open_udf(AGG, "count", NULL);
	struct cmn_err err = CMN_ERR_INIT;
	int buf;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(
		    rt_udf_agg_deserialize(u, cases[i].bytes, cases[i].len, &buf, &err), -1);
		if (!strstr(err.msg, cases[i].what))
			fail_msg("case %zu: '%s' not in '%s'", i, cases[i].what, err.msg);
	}
	/* and the UDF still works */
	assert_int_equal(rt_udf_agg_new(u, &buf, &err), 0);
	rt_udf_free(u);
}

/* Random and mutated bytes never crash the decoder, and whatever it accepts
 * serializes back to bytes it accepts again. */
static void test_deserialize_random_bytes(void **state)
{
	static const char src[] = "return { a = { new_buffer = function() return { 1, 'x', { y = "
				  "true, [2.5] = -3 } } end,\n"
				  "  iterate = function() end, merge = function() end, terminate = "
				  "function() return 1 end } }\n";
	struct rt_udf *u = open_udf(src, "a", NULL);
	struct cmn_err err = CMN_ERR_INIT;
	struct cmn_buf good, again;
	unsigned seed = 12345;
	unsigned char bytes[256];
	int buf, accepted = 0;

	(void)state;
	cmn_buf_init(&good, 0);
	cmn_buf_init(&again, 0);
	assert_int_equal(rt_udf_agg_new(u, &buf, &err), 0);
	assert_int_equal(rt_udf_agg_serialize(u, buf, &good, &err), 0);
	for (int round = 0; round < 20000; round++) {
		size_t len;
		int copy;
		if (round % 2 == 0) {
			/* mutate a valid buffer: flip, truncate or extend */
			len = good.len;
			memcpy(bytes, good.data, len);
			seed = seed * 1103515245u + 12345u;
			bytes[(seed >> 8) % len] ^= (unsigned char)(seed >> 16);
			seed = seed * 1103515245u + 12345u;
			if (seed % 3 == 0)
				len = (seed >> 8) % len;
		} else {
			seed = seed * 1103515245u + 12345u;
			len = 3 + (seed >> 8) % 60;
			memcpy(bytes, "CB1", 3);
			for (size_t i = 3; i < len; i++) {
				seed = seed * 1103515245u + 12345u;
				bytes[i] = (unsigned char)(seed >> 16) % 8;
			}
		}
		if (rt_udf_agg_deserialize(u, bytes, len, &copy, &err) == 0) {
			accepted++;
			assert_int_equal(rt_udf_agg_serialize(u, copy, &again, &err), 0);
			rt_udf_agg_free(u, copy);
		} else {
			assert_int_equal(err.code, CMN_EINVAL);
		}
	}
	assert_true(accepted > 0);
	cmn_buf_free(&good);
	cmn_buf_free(&again);
	rt_udf_free(u);
}

struct rows {
	int count;
	char last[64];
	int fail_at;
};

static int collect(void *ud, const struct rt_value *cols, int ncols, struct cmn_err *err)
{
	struct rows *r = ud;

	if (++r->count == r->fail_at)
		return cmn_err_set(err, CMN_EIO, 0, "sink full");
	if (ncols == 2 && cols[0].type == RT_T_STRING && cols[1].type == RT_T_BIGINT)
		snprintf(r->last, sizeof(r->last), "%.*s=%lld", (int)cols[0].v.s.len, cols[0].v.s.p,
			 (long long)cols[1].v.i);
	return 0;
}

static const char UDTF[] =
    "return { split = { signature = 'string,bigint->string,bigint',\n"
    "  process = function(ctx, s, n) for i = 1, n do ctx.forward(s, i) end end,\n"
    "  close = function(ctx) ctx.forward('end', -1) end },\n"
    "  badcol = { signature = 'bigint->bigint', process = function(ctx, n) "
    "ctx.forward('x') end } }\n";

static void test_table_function_rows(void **state)
{
	struct rt_udf *u = open_udf(UDTF, "split", NULL);
	struct rt_udf *b = open_udf(UDTF, "badcol", NULL);
	struct cmn_err err = CMN_ERR_INIT;
	struct rt_value in[2] = { v_str("w"), v_int(0) };
	struct rows r = { 0 };

	(void)state;
	assert_int_equal(rt_udf_process(u, in, 2, collect, &r, &err), 0);
	assert_int_equal(r.count, 0);
	in[1] = v_int(10000);
	assert_int_equal(rt_udf_process(u, in, 2, collect, &r, &err), 0);
	assert_int_equal(r.count, 10000);
	assert_string_equal(r.last, "w=10000");
	assert_int_equal(rt_udf_table_close(u, collect, &r, &err), 0);
	assert_string_equal(r.last, "end=-1");
	/* a failing sink ends the call with its own error */
	r = (struct rows){ .fail_at = 3 };
	assert_int_equal(rt_udf_process(u, in, 2, collect, &r, &err), -1);
	assert_string_equal(err.msg, "sink full");
	assert_int_equal(r.count, 3);
	in[0] = v_int(1);
	assert_int_equal(rt_udf_process(b, in, 1, collect, &r, &err), -1);
	assert_non_null(strstr(err.msg, "column 1: expected bigint, got string"));
	/* calling a table function as a scalar is refused */
	assert_int_equal(rt_udf_call(u, in, 2, &in[0], &err), -1);
	rt_udf_free(u);
	rt_udf_free(b);
}

static void test_batch_equals_rows(void **state)
{
	static const char src[] = "return { f = function(x, s) if x % 7 == 0 then return nil end "
				  "if x % 5 == 0 then return s .. x end return x * 2 + 1 end }\n";
	struct rt_udf *u = open_udf(src, "f", NULL);
	struct cmn_err err = CMN_ERR_INIT;
	static struct rt_value args[2 * RT_BATCH_ROWS], outs[RT_BATCH_ROWS];

	(void)state;
	for (int i = 0; i < RT_BATCH_ROWS; i++) {
		args[2 * i] = v_int(i);
		args[2 * i + 1] = v_str("s");
	}
	assert_int_equal(rt_udf_call_batch(u, args, 2, RT_BATCH_ROWS, outs, &err), 0);
	for (int i = 0; i < RT_BATCH_ROWS; i++) {
		struct rt_value one;
		struct rt_value copy = outs[i];
		char a[32], b[32];
		assert_int_equal(rt_udf_call(u, &args[2 * i], 2, &one, &err), 0);
		assert_int_equal(copy.type, one.type);
		if (one.type == RT_T_STRING) {
			snprintf(a, sizeof(a), "%.*s", (int)one.v.s.len, one.v.s.p);
			snprintf(b, sizeof(b), "s%d", i);
			assert_string_equal(a, b);
		} else if (one.type == RT_T_BIGINT) {
			assert_int_equal(copy.v.i, one.v.i);
		}
		/* per-row calls do not disturb the batch's strings: re-run batch below */
	}
	assert_int_equal(rt_udf_call_batch(u, args, 2, RT_BATCH_ROWS + 1, outs, &err), -1);
	rt_udf_free(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scalar_roundtrip_every_type),
		cmocka_unit_test(test_lua_types_seen),
		cmocka_unit_test(test_signature_coercion_and_errors),
		cmocka_unit_test(test_return_type_checked),
		cmocka_unit_test(test_datetime_and_binary),
		cmocka_unit_test(test_signature_parse),
		cmocka_unit_test(test_aggregate_merge_equals_one_pass),
		cmocka_unit_test(test_aggregate_scalar_buffer),
		cmocka_unit_test(test_serialize_rejects_non_plain_data),
		cmocka_unit_test(test_deserialize_hostile_bytes),
		cmocka_unit_test(test_deserialize_random_bytes),
		cmocka_unit_test(test_table_function_rows),
		cmocka_unit_test(test_batch_equals_rows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
