/* Stage plan parsing (runtime/stage_plan.c): a full valid plan, and the
 * strictness that keeps a bad plan from reaching the node's setup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/stage.h"

static const char *good =
    "{\"version\": 1, \"job\": \"j-7f3a\", \"stage\": \"map\", \"stage_index\": 0,"
    " \"node_index\": 1, \"node_count\": 2,"
    " \"inputs\": [{\"table\": \"in0\", \"columns\": [{\"name\": \"id\", \"type\": \"BIGINT\"},"
    "   {\"name\": \"email\", \"type\": \"STRING\"}], \"source\": {\"fd\": 3}}],"
    " \"functions\": [{\"name\": \"mask_email\", \"kind\": \"scalar\", \"script\": \"mask.lua\","
    "   \"entry\": \"mask_email\"},"
    "  {\"name\": \"words\", \"kind\": \"table\", \"script\": \"mask.lua\", \"entry\": \"words\","
    "   \"columns\": [\"word\"]}],"
    " \"scripts\": [{\"name\": \"mask.lua\", \"fd\": 5}],"
    " \"resources\": [{\"name\": \"stop.txt\", \"fd\": 6}],"
    " \"limits\": {\"udf_memory\": 1048576, \"udf_instructions\": 1000, \"udf_cpu_ms\": 20,"
    "   \"output_bytes\": 4096},"
    " \"sql\": \"SELECT mask_email(email) AS m FROM in0\", \"transform\": null,"
    " \"output\": {\"columns\": [{\"name\": \"m\", \"type\": \"STRING\"}],"
    "   \"sink\": {\"partition\": {\"keys\": [0], \"peers\": [\"10.77.3.4:7000\", \"[::1]:7001\"],"
    "   \"input\": 0}}},"
    " \"listen\": null}";

static void test_good_plan(void **state)
{
	struct rt_plan p;
	struct cmn_err err = CMN_ERR_INIT;

	(void)state;
	assert_int_equal(rt_plan_parse(good, strlen(good), &p, &err), 0);
	assert_string_equal(p.job, "j-7f3a");
	assert_int_equal(p.node_index, 1);
	assert_int_equal(p.ninputs, 1);
	assert_int_equal(p.inputs[0].fd, 3);
	assert_int_equal(p.inputs[0].cols.v[1].type, CMN_COL_STRING);
	assert_int_equal(p.nfunctions, 2);
	assert_int_equal(p.functions[1].kind, RT_UDF_TABLE);
	assert_string_equal(p.functions[1].columns[0], "word");
	assert_int_equal(p.limits.memory_bytes, 1048576);
	assert_int_equal(p.limits.cpu_ns, 20000000);
	assert_int_equal(p.output_bytes, 4096);
	assert_int_equal(p.sink_fd, -1);
	assert_int_equal(p.npeers, 2);
	assert_string_equal(p.peers[1].host, "::1");
	assert_string_equal(p.peers[1].port, "7001");
	assert_null(p.listen.host);
	rt_plan_free(&p);
}

/* Each replacement of a fragment of the good plan must be refused. */
static void test_rejections(void **state)
{
	static const char *const swaps[][2] = {
		{ "\"version\": 1", "\"version\": 2" },
		{ "\"version\": 1", "\"version\": 1, \"x\": 0" },
		{ "\"fd\": 3", "\"fd\": 2" },
		{ "\"fd\": 3", "\"fd\": 5" },
		{ "\"fd\": 3", "\"fd\": 99999" },
		{ "\"fd\": 3", "\"fd\": 3.5" },
		{ "\"BIGINT\"", "\"INT\"" },
		{ "\"in0\", \"columns\"", "\"in 0\", \"columns\"" },
		{ "\"node_index\": 1", "\"node_index\": 2" },
		{ "\"scalar\"", "\"window\"" },
		{ "\"script\": \"mask.lua\",   \"entry\": \"mask_email\"",
		  "\"script\": \"other.lua\",   \"entry\": \"mask_email\"" },
		{ "\"columns\": [\"word\"]", "\"columns\": []" },
		{ "\"stop.txt\"", "\"../stop\"" },
		{ "\"keys\": [0]", "\"keys\": [1]" },
		{ "\"10.77.3.4:7000\"", "\"example.com:7000\"" },
		{ "\"10.77.3.4:7000\"", "\"10.77.3.4:70000\"" },
		{ "\"listen\": null", "\"listen\": \"127.0.0.1:1\"" },
		{ "\"udf_cpu_ms\": 20", "\"udf_cpu_ms\": -20" },
		{ "\"udf_cpu_ms\": 20", "\"udf_stack\": 20" },
		{ "\"transform\": null", "\"transform\": {\"argv\": []}" },
		{ "\"sql\": \"SELECT", "\"sql\": 5, \"x\": \"" },
		{ "\"job\": \"j-7f3a\"", "\"job\": \"j-7f3a\", \"job\": \"j\"" },
	};
	char buf[4096];

	(void)state;
	for (size_t i = 0; i < sizeof(swaps) / sizeof(swaps[0]); i++) {
		const char *at = strstr(good, swaps[i][0]);
		struct rt_plan p;
		struct cmn_err err = CMN_ERR_INIT;
		int n;

		if (!at)
			fprintf(stderr, "fragment not in the plan: %s\n", swaps[i][0]);
		assert_non_null(at);
		n = snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - good), good, swaps[i][1],
			     at + strlen(swaps[i][0]));
		assert_true(n > 0 && (size_t)n < sizeof(buf));
		if (rt_plan_parse(buf, (size_t)n, &p, &err) == 0) {
			fprintf(stderr, "accepted: %s -> %s\n", swaps[i][0], swaps[i][1]);
			rt_plan_free(&p);
			fail();
		}
		assert_int_equal(err.code, CMN_EINVAL);
	}
}

static void test_truncations_never_crash(void **state)
{
	size_t len = strlen(good);

	(void)state;
	for (size_t n = 0; n < len; n++) {
		struct rt_plan p;
		struct cmn_err err = CMN_ERR_INIT;
		assert_int_equal(rt_plan_parse(good, n, &p, &err), -1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_plan),
		cmocka_unit_test(test_rejections),
		cmocka_unit_test(test_truncations_never_crash),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
