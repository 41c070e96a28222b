/* tests/unit/runtime/test_lua_sandbox.c — the sandbox inside one process:
 * a state stays usable after each limit, two scripts in one state cannot see
 * each other's tampering, resources, print capture, safe error text. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <lua.h>

#include "runtime/udf_abi.h"

static struct rt_udf *open_udf(const char *src, const char *fn, const struct rt_limits *lim,
			       const struct rt_resource *res, size_t nres)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct rt_udf_source s = { "s.lua", src, strlen(src), fn, lim, res, nres };
	struct rt_udf *u = NULL;

	if (rt_udf_open(&s, &u, &err) < 0)
		fail_msg("open %s: %s", fn, err.msg);
	return u;
}

static int call_int(struct rt_udf *u, int64_t x, struct rt_value *out, struct cmn_err *err)
{
	struct rt_value in = { .type = RT_T_BIGINT, .v.i = x };
	return rt_udf_call(u, &in, 1, out, err);
}

static const char ROWS[] =
    "local co\n"
    "return { f = function(n)\n"
    "  if n == 1 then local t = {} while true do t[#t + 1] = {} end end\n"
    "  if n == 2 then while true do end end\n"
    "  if n == 3 then return #string.rep('x', 1 << 40) end\n"
    "  if n == 4 then while true do print('flood') end end\n"
    "  if n == 5 then co = coroutine.create(function()\n"
    "      local g <close> = setmetatable({}, { __close = function() while true do end end })\n"
    "      while true do end end); coroutine.resume(co) end\n"
    "  if n == 6 then return tostring(coroutine.close(co)) end\n"
    "  return n * 2\n"
    "end }\n";

static void test_usable_after_each_limit(void **state)
{
	struct rt_limits lim = { .memory_bytes = 8 << 20,
				 .instructions = 2000000,
				 .output_bytes = 4096 };
	struct rt_udf *u = open_udf(ROWS, "f", &lim, NULL, 0);
	struct cmn_err err = CMN_ERR_INIT;
	struct rt_value out;
	static const enum rt_limit expect[] = { RT_LIMIT_NONE,         RT_LIMIT_MEMORY,
						RT_LIMIT_INSTRUCTIONS, RT_LIMIT_STRING,
						RT_LIMIT_OUTPUT,       RT_LIMIT_INSTRUCTIONS };

	(void)state;
	for (int row = 1; row <= 5; row++) {
		assert_int_equal(call_int(u, row, &out, &err), -1);
		assert_int_equal(err.code, CMN_ELIMIT);
		assert_int_equal(rt_udf_limit_hit(u), expect[row]);
		/* the next row runs normally */
		assert_int_equal(call_int(u, 10 + row, &out, &err), 0);
		assert_int_equal(out.v.i, 2 * (10 + row));
		assert_int_equal(rt_udf_limit_hit(u), RT_LIMIT_NONE);
	}
	assert_true(rt_lua_memory_used(rt_udf_lua(u)) < (8u << 20));
	/* row 5's coroutine died of a limit inside the hook, where Lua leaves
	 * hooks off: closing it later (its __close loops) is refused */
	assert_int_equal(call_int(u, 6, &out, &err), -1);
	assert_non_null(strstr(err.msg, "cannot close a coroutine that a limit ended"));
	rt_udf_free(u);
}

static void test_two_scripts_one_state(void **state)
{
	static const char first[] =
	    "pcall(function() string.upper = function() return 'pwned' end end)\n"
	    "pcall(rawset, string, 'lower', function() return 'pwned' end)\n"
	    "pcall(function() getmetatable('').__index.upper = nil end)\n"
	    "pcall(function() leaked = 1 end)\n"
	    "return 1\n";
	static const char second[] =
	    "return { ('ab'):upper(), string.upper('c'), string.lower('D'), tostring(leaked) }\n";
	struct cmn_err err = CMN_ERR_INIT;
	struct rt_lua *S;
	lua_State *L;

	(void)state;
	assert_int_equal(rt_lua_new(NULL, &S, &err), 0);
	L = rt_lua_state(S);
	assert_int_equal(rt_lua_load(S, "first.lua", first, strlen(first), &err), 0);
	lua_settop(L, 0);
	assert_int_equal(rt_lua_load(S, "second.lua", second, strlen(second), &err), 0);
	for (int i = 1; i <= 4; i++)
		lua_rawgeti(L, 1, i);
	assert_string_equal(lua_tostring(L, 2), "AB");
	assert_string_equal(lua_tostring(L, 3), "C");
	assert_string_equal(lua_tostring(L, 4), "d");
	assert_string_equal(lua_tostring(L, 5), "nil");
	rt_lua_free(S);
}

static int memfd_with(const char *text)
{
	int fd = memfd_create("res", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	return fd;
}

static void test_resources(void **state)
{
	static const char src[] = "return { f = function(n) return resource.read(n) end }\n";
	struct rt_resource res[1] = { { "words.txt", -1 } };
	struct rt_value in = { .type = RT_T_STRING }, out;
	struct cmn_err err = CMN_ERR_INIT;
	struct rt_udf *u;

	(void)state;
	res[0].fd = memfd_with("alpha beta");
	u = open_udf(src, "f", NULL, res, 1);
	in.v.s.p = "words.txt";
	in.v.s.len = 9;
	assert_int_equal(rt_udf_call(u, &in, 1, &out, &err), 0);
	assert_int_equal(out.v.s.len, 10);
	assert_memory_equal(out.v.s.p, "alpha beta", 10);
	in.v.s.p = "../words.txt";
	in.v.s.len = 12;
	assert_int_equal(rt_udf_call(u, &in, 1, &out, &err), -1);
	assert_non_null(strstr(err.msg, "paths are not allowed"));
	in.v.s.p = "other";
	in.v.s.len = 5;
	assert_int_equal(rt_udf_call(u, &in, 1, &out, &err), -1);
	assert_non_null(strstr(err.msg, "no resource named 'other'"));
	rt_udf_free(u);
	close(res[0].fd);
	/* a resource name with path syntax is refused when registered */
	{
		struct rt_resource bad = { "../x", 0 };
		struct rt_udf_source s = { "s.lua", src, strlen(src), "f", NULL, &bad, 1 };
		assert_int_equal(rt_udf_open(&s, &u, &err), -1);
	}
}

static void test_print_and_errors(void **state)
{
	static const char src[] =
	    "return { p = function() print('a', 1, nil, true) return 0 end,\n"
	    "  e = function(k) if k == 1 then error({}) elseif k == 2 then error(42) "
	    "elseif k == 3 then error('x\\0y', 0) end error(setmetatable({}, {__tostring = "
	    "function() while true do end end})) end,\n"
	    "  g = function() return collectgarbage('count') > 0 and 1 or 0 end,\n"
	    "  l = function() return load('return 6 * 7')() end }\n";
	struct rt_udf *p = open_udf(src, "p", NULL, NULL, 0);
	struct rt_udf *e = open_udf(src, "e", NULL, NULL, 0);
	struct rt_udf *g = open_udf(src, "g", NULL, NULL, 0);
	struct rt_udf *l = open_udf(src, "l", NULL, NULL, 0);
	struct cmn_err err = CMN_ERR_INIT;
	struct rt_value out;
	struct cmn_buf *log = rt_lua_log(rt_udf_lua(p));
	static const char *const texts[] = { "", "(error object is a table value)", "42", "x?y",
					     "(error object is a table value)" };

	(void)state;
	assert_int_equal(rt_udf_call(p, NULL, 0, &out, &err), 0);
	assert_string_equal(log->data, "a\t1\tnil\ttrue\n");
	for (int k = 1; k <= 4; k++) {
		assert_int_equal(call_int(e, k, &out, &err), -1);
		assert_string_equal(err.msg, texts[k]);
	}
	assert_int_equal(rt_udf_call(g, NULL, 0, &out, &err), 0);
	assert_int_equal(out.v.i, 1);
	assert_int_equal(rt_udf_call(l, NULL, 0, &out, &err), 0);
	assert_int_equal(out.v.i, 42);
	rt_udf_free(p);
	rt_udf_free(e);
	rt_udf_free(g);
	rt_udf_free(l);
}

static void test_bad_scripts(void **state)
{
	static const struct {
		const char *src, *fn, *what;
	} cases[] = {
		{ "return 1", "f", "must return a table" },
		{ "return {}", "f", "no function 'f'" },
		{ "return { f = 1 }", "f", "is a number" },
		{ "return { f = {} }", "f", "without process, iterate or evaluate" },
		{ "return { f = { iterate = function() end } }", "f",
		  "needs a function 'new_buffer'" },
		{ "return { f = { signature = 'x->y', evaluate = print } }", "f",
		  "unknown type 'x'" },
		{ "return {", "f", "s.lua:1:" },
		{ "\x1bLua", "f", "binary chunk" },
		{ "x = 1 return {}", "f", "globals are read-only" },
	};
	struct cmn_err err = CMN_ERR_INIT;
	struct rt_udf *u;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rt_udf_source s = {
			"s.lua", cases[i].src, strlen(cases[i].src), cases[i].fn, NULL, NULL, 0
		};
		assert_int_equal(rt_udf_open(&s, &u, &err), -1);
		if (!strstr(err.msg, cases[i].what))
			fail_msg("case %zu: '%s' not in '%s'", i, cases[i].what, err.msg);
	}
}

/* net.connect exists only with a grant; with one it is a TCP client (to a
 * listener on loopback here). */
static void test_net_grant(void **state)
{
	static const char src[] =
	    "return { f = function(port) if not net then return 'no net' end\n"
	    "  local c, e = net.connect('127.0.0.1', port) if not c then return e end\n"
	    "  c:send('ping') c:close() return 'sent' end }\n";
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	struct rt_limits grant = { .net_grant = true };
	struct cmn_err err = CMN_ERR_INIT;
	struct rt_udf *without, *with;
	struct rt_value out;
	char buf[8] = { 0 };
	int lfd, cfd;

	(void)state;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
	without = open_udf(src, "f", NULL, NULL, 0);
	assert_int_equal(call_int(without, ntohs(sa.sin_port), &out, &err), 0);
	assert_memory_equal(out.v.s.p, "no net", 6);
	with = open_udf(src, "f", &grant, NULL, 0);
	assert_int_equal(call_int(with, ntohs(sa.sin_port), &out, &err), 0);
	assert_memory_equal(out.v.s.p, "sent", 4);
	cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(cfd >= 0);
	assert_int_equal(read(cfd, buf, 4), 4);
	assert_string_equal(buf, "ping");
	close(cfd);
	close(lfd);
	rt_udf_free(without);
	rt_udf_free(with);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usable_after_each_limit),
		cmocka_unit_test(test_two_scripts_one_state),
		cmocka_unit_test(test_resources),
		cmocka_unit_test(test_print_and_errors),
		cmocka_unit_test(test_bad_scripts),
		cmocka_unit_test(test_net_grant),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
