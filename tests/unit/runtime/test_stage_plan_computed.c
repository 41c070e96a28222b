/* Stage plan parsing of inputs[].computed (runtime/stage_plan.c,
 * docs/stage-plan.md "Computed columns"): a valid plan, and every malformed
 * variant refused with a clear error, never a crash (the node must not trust
 * cordond's plan more than any other input). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/stage.h"

#define HEAD                                                                                       \
	"{\"version\": 1, \"job\": \"j-1\", \"stage\": \"map\", \"stage_index\": 0,"               \
	" \"node_index\": 0, \"node_count\": 1,"                                                   \
	" \"inputs\": [{\"table\": \"in0\", \"columns\": [{\"name\": \"id\", \"type\": "           \
	"\"BIGINT\"},   {\"name\": \"email\", \"type\": \"STRING\"}], \"source\": {\"fd\": 3},"
#define TAIL                                                                                       \
	"}], \"functions\": [{\"name\": \"mask_email\", \"kind\": \"scalar\", \"script\": "        \
	"\"mask.lua\", \"entry\": \"mask_email\"},"                                                \
	"  {\"name\": \"geomean\", \"kind\": \"aggregate\", \"script\": \"mask.lua\", "            \
	"\"entry\": \"g\"}],"                                                                      \
	" \"scripts\": [{\"name\": \"mask.lua\", \"fd\": 5}],"                                     \
	" \"sql\": \"SELECT _u0 FROM in0\","                                                       \
	" \"output\": {\"columns\": [{\"name\": \"m\", \"type\": \"STRING\"}],"                    \
	"   \"sink\": {\"fd\": 4}}}"

static int parse(const char *computed, struct rt_plan *p, struct cmn_err *err)
{
	char text[8192];
	int n = snprintf(text, sizeof(text), "%s %s %s", HEAD, computed, TAIL);

	assert_true(n > 0 && (size_t)n < sizeof(text));
	return rt_plan_parse(text, (size_t)n, p, err);
}

static void test_good(void **state)
{
	struct rt_plan p;
	struct cmn_err err = CMN_ERR_INIT;

	(void)state;
	assert_int_equal(parse("\"computed\": [{\"name\": \"_u0\", \"function\": \"mask_email\","
			       " \"args\": [{\"col\": 1}, {\"lit\": \"x\"}, {\"lit\": 7},"
			       " {\"lit\": 1.5}, {\"lit\": null}]},"
			       " {\"name\": \"_u1\", \"function\": \"mask_email\", \"args\": []}]",
			       &p, &err),
			 0);
	assert_int_equal(p.inputs[0].ncomputed, 2);
	const struct rt_plan_computed *c = &p.inputs[0].computed[0];
	assert_string_equal(c->name, "_u0");
	assert_int_equal(c->function, 0);
	assert_int_equal(c->nargs, 5);
	assert_int_equal(c->args[0].col, 1);
	assert_int_equal(c->args[1].col, -1);
	assert_int_equal(c->args[1].lit.type, RT_T_STRING);
	assert_int_equal(c->args[1].lit.v.s.len, 1);
	assert_memory_equal(c->args[1].lit.v.s.p, "x", 1);
	assert_int_equal(c->args[2].lit.type, RT_T_BIGINT);
	assert_int_equal(c->args[2].lit.v.i, 7);
	assert_int_equal(c->args[3].lit.type, RT_T_DOUBLE);
	assert_int_equal(c->args[4].lit.type, RT_T_NULL);
	assert_int_equal(p.inputs[0].computed[1].nargs, 0);
	rt_plan_free(&p);
	/* no computed field: none */
	assert_int_equal(parse("\"computed\": null", &p, &err), 0);
	assert_int_equal(p.inputs[0].ncomputed, 0);
	rt_plan_free(&p);
}

static void refused(const char *computed, const char *fragment)
{
	struct rt_plan p;
	struct cmn_err err = CMN_ERR_INIT;

	if (parse(computed, &p, &err) == 0) {
		rt_plan_free(&p);
		fail_msg("accepted: %s", computed);
	}
	if (!strstr(err.msg, fragment))
		fail_msg("%s: error '%s' lacks '%s'", computed, err.msg, fragment);
}

static void test_refused(void **state)
{
	(void)state;
	refused("\"computed\": [{\"name\": \"_u0\", \"function\": \"mask_email\", \"args\": "
		"[{\"col\": 2}]}]",
		"col must be a column index in 0..1");
	refused("\"computed\": [{\"name\": \"_u0\", \"function\": \"mask_email\", \"args\": "
		"[{\"col\": -1}]}]",
		"col must be a column index");
	refused("\"computed\": [{\"name\": \"_u0\", \"function\": \"mask_email\", \"args\": "
		"[{\"col\": \"1\"}]}]",
		"col must be a column index");
	refused("\"computed\": [{\"name\": \"_u0\", \"function\": \"nosuch\", \"args\": []}]",
		"unknown function 'nosuch'");
	refused("\"computed\": [{\"name\": \"_u0\", \"function\": \"geomean\", \"args\": []}]",
		"is not a scalar");
	refused("\"computed\": [{\"name\": \"email\", \"function\": \"mask_email\", \"args\": []}]",
		"the input has a column of that name");
	refused("\"computed\": [{\"name\": \"a b\", \"function\": \"mask_email\", \"args\": []}]",
		"bad name");
	refused("\"computed\": [{\"name\": \"_u0\", \"function\": \"mask_email\", \"args\": []},"
		" {\"name\": \"_U0\", \"function\": \"mask_email\", \"args\": []}]",
		"duplicate computed '_U0'");
	refused("\"computed\": [{\"name\": \"_u0\", \"function\": \"mask_email\"}]",
		"missing 'args'");
	refused("\"computed\": [{\"name\": \"_u0\", \"function\": \"mask_email\", \"args\": [],"
		" \"x\": 1}]",
		"unknown field 'x'");
	refused("\"computed\": [{\"name\": \"_u0\", \"function\": \"mask_email\", \"args\": "
		"[{\"col\": 0, \"lit\": 1}]}]",
		"exactly one of col and lit");
	refused("\"computed\": [{\"name\": \"_u0\", \"function\": \"mask_email\", \"args\": "
		"[{\"lit\": [1]}]}]",
		"lit must be null, a number or a string");
	refused("\"computed\": [{\"name\": \"_u0\", \"function\": \"mask_email\", \"args\": "
		"[{}]}]",
		"exactly one of col and lit");
	refused("\"computed\": {\"name\": \"_u0\"}", "'computed' must be an array");
	refused("\"computed\": [7]", "not an object");
}

/* Too many arguments, too many computed columns, too many columns in all. */
static void test_bounds(void **state)
{
	char buf[6000];
	size_t off;

	(void)state;
	off = (size_t)snprintf(buf, sizeof(buf),
			       "\"computed\": [{\"name\": \"_u0\", \"function\": \"mask_email\", "
			       "\"args\": [");
	for (int i = 0; i < RT_COMPUTED_MAX_ARGS + 1; i++)
		off +=
		    (size_t)snprintf(buf + off, sizeof(buf) - off, "%s{\"col\": 0}", i ? ", " : "");
	snprintf(buf + off, sizeof(buf) - off, "]}]");
	refused(buf, "'args' must be an array of at most 16");

	off = (size_t)snprintf(buf, sizeof(buf), "\"computed\": [");
	for (int i = 0; i < RT_PLAN_MAX_COMPUTED + 1; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off,
					"%s{\"name\": \"_u%d\", \"function\": \"mask_email\", "
					"\"args\": []}",
					i ? ", " : "", i);
	snprintf(buf + off, sizeof(buf) - off, "]");
	refused(buf, "'computed' must be an array of at most 32");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
