/* Unit tests of MaxCompute policy documents: parsing and validation errors,
 * wildcard matching of actions/resources/principals, Deny over Allow inside
 * a document, acs:SourceIp and odps:TaskType conditions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "scheduler/policy.h"

static struct sch_policy *must_parse(const char *json, enum sch_policy_kind kind)
{
	struct sch_policy *p = NULL;
	struct cmn_err err = CMN_ERR_INIT;
	if (sch_policy_parse(json, strlen(json), kind, &p, &err) < 0)
		fail_msg("parse %s: %s", json, err.msg);
	return p;
}

static void parse_fails(const char *json, enum sch_policy_kind kind, const char *msg)
{
	struct sch_policy *p = NULL;
	struct cmn_err err = CMN_ERR_INIT;
	assert_int_equal(sch_policy_parse(json, strlen(json), kind, &p, &err), -1);
	assert_null(p);
	assert_int_equal(err.code, CMN_EINVAL);
	if (!strstr(err.msg, msg))
		fail_msg("error '%s' lacks '%s'", err.msg, msg);
}

static void test_wildcards(void **state)
{
	(void)state;
	assert_true(sch_wildcard_match("odps:*", "odps:Select"));
	assert_true(sch_wildcard_match("odps:sel*", "odps:Select"));
	assert_true(sch_wildcard_match("acs:odps:*:projects/p/tables/t*",
				       "acs:odps:*:projects/p/tables/t_sales"));
	assert_false(sch_wildcard_match("acs:odps:*:projects/p/tables/t*",
					"acs:odps:*:projects/q/tables/t1"));
	assert_true(sch_wildcard_match("a?c", "abc"));
	assert_false(sch_wildcard_match("a?c", "ac"));
	assert_true(sch_wildcard_match("*", ""));
	assert_false(sch_wildcard_match("", "x"));
	assert_true(sch_wildcard_match("*a*b*c*", "xxaxxbxxcxx"));
	assert_false(sch_wildcard_match("*a*b*c*d", "xxaxxbxxcxx"));
}

static void test_ip(void **state)
{
	(void)state;
	assert_true(sch_ip_match("10.0.0.0/8", "10.1.2.3"));
	assert_false(sch_ip_match("10.0.0.0/8", "11.1.2.3"));
	assert_true(sch_ip_match("192.168.1.7", "192.168.1.7"));
	assert_false(sch_ip_match("192.168.1.7", "192.168.1.8"));
	assert_true(sch_ip_match("0.0.0.0/0", "8.8.8.8"));
	assert_true(sch_ip_match("fd00::/8", "fd12::1"));
	assert_false(sch_ip_match("fd00::/8", "10.0.0.1"));
	assert_false(sch_ip_match("10.0.0.0/33", "10.0.0.1"));
	assert_false(sch_ip_match("10.0.0.0/8", "10.0.0.1/8"));
	assert_false(sch_ip_match("10.0.0.0/8", NULL));
}

static void test_eval(void **state)
{
	const char *doc =
	    "{\"Version\":\"1\",\"Statement\":["
	    "{\"Effect\":\"Allow\",\"Principal\":[\"RAM$a:*\"],\"Action\":[\"odps:Select\","
	    "\"odps:Desc*\"],\"Resource\":\"acs:odps:*:projects/p/tables/t*\"},"
	    "{\"Effect\":\"Deny\",\"Principal\":\"RAM$a:bob\",\"Action\":\"odps:*\","
	    "\"Resource\":\"acs:odps:*:projects/p/tables/t_secret\"},"
	    "{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"odps:Update\","
	    "\"Resource\":\"acs:odps:*:projects/p/tables/w\",\"Condition\":{\"IpAddress\":"
	    "{\"acs:SourceIp\":[\"10.0.0.0/8\"]},\"StringEquals\":{\"odps:TaskType\":\"SQL\"}}}]}";
	struct sch_policy *p = must_parse(doc, SCH_POLICY_PROJECT);
	struct sch_policy_request rq = { .principal = "RAM$a:alice",
					 .action = "odps:Select",
					 .resource = "acs:odps:*:projects/p/tables/t1/columns/c",
					 .resource_alt = "acs:odps:*:projects/p/tables/t1" };
	(void)state;
	assert_int_equal(sch_policy_eval(p, &rq), SCH_POLICY_ALLOW);
	rq.action = "odps:describe";
	assert_int_equal(sch_policy_eval(p, &rq), SCH_POLICY_ALLOW);
	rq.action = "odps:Drop";
	assert_int_equal(sch_policy_eval(p, &rq), SCH_POLICY_NO_MATCH);
	rq.action = "odps:Select";
	rq.principal = "RAM$b:alice";
	assert_int_equal(sch_policy_eval(p, &rq), SCH_POLICY_NO_MATCH);
	rq.principal = "RAM$a:bob";
	rq.resource = rq.resource_alt = "acs:odps:*:projects/p/tables/t_secret";
	assert_int_equal(sch_policy_eval(p, &rq), SCH_POLICY_DENY);
	rq.principal = "RAM$z:x";
	rq.action = "odps:Update";
	rq.resource = rq.resource_alt = "acs:odps:*:projects/p/tables/w";
	assert_int_equal(sch_policy_eval(p, &rq), SCH_POLICY_NO_MATCH); /* no source ip */
	rq.source_ip = "10.9.9.9";
	assert_int_equal(sch_policy_eval(p, &rq), SCH_POLICY_NO_MATCH); /* no task type */
	rq.task_type = "sql";
	assert_int_equal(sch_policy_eval(p, &rq), SCH_POLICY_ALLOW);
	rq.source_ip = "192.168.0.1";
	assert_int_equal(sch_policy_eval(p, &rq), SCH_POLICY_NO_MATCH);
	sch_policy_free(p);
}

static void test_not_conditions(void **state)
{
	struct sch_policy *p = must_parse(
	    "{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Deny\",\"Action\":\"odps:*\","
	    "\"Resource\":\"*\",\"Condition\":{\"NotIpAddress\":{\"acs:SourceIp\":\"127.0.0.1\"}}}]"
	    "}",
	    SCH_POLICY_ROLE);
	struct sch_policy_request rq = { .action = "odps:Select",
					 .resource = "acs:odps:*:projects/p/tables/t",
					 .source_ip = "10.0.0.1" };
	(void)state;
	assert_int_equal(sch_policy_eval(p, &rq), SCH_POLICY_DENY);
	rq.source_ip = "127.0.0.1";
	assert_int_equal(sch_policy_eval(p, &rq), SCH_POLICY_NO_MATCH);
	sch_policy_free(p);
}

static void test_errors(void **state)
{
	(void)state;
	parse_fails("{", SCH_POLICY_PROJECT, "not JSON");
	parse_fails("[]", SCH_POLICY_PROJECT, "Version");
	parse_fails("{\"Version\":\"2\",\"Statement\":[]}", SCH_POLICY_PROJECT, "Version");
	parse_fails("{\"Version\":\"1\",\"Statement\":{}}", SCH_POLICY_PROJECT, "Statement");
	parse_fails("{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Maybe\",\"Principal\":\"*\","
		    "\"Action\":\"a\",\"Resource\":\"r\"}]}",
		    SCH_POLICY_PROJECT, "Statement[0].Effect");
	parse_fails("{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"a\","
		    "\"Resource\":\"r\"}]}",
		    SCH_POLICY_PROJECT, "Principal is required");
	parse_fails("{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\","
		    "\"Action\":\"a\",\"Resource\":\"r\"}]}",
		    SCH_POLICY_ROLE, "a role policy has no Principal");
	parse_fails("{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\","
		    "\"Action\":[],\"Resource\":\"r\"}]}",
		    SCH_POLICY_PROJECT, "Action must be");
	parse_fails("{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\","
		    "\"Action\":\"a\",\"Resource\":\"r\",\"Bogus\":1}]}",
		    SCH_POLICY_PROJECT, "unknown field 'Bogus'");
	parse_fails("{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\","
		    "\"Action\":\"a\",\"Resource\":\"r\",\"Condition\":{\"NumericEquals\":{}}}]}",
		    SCH_POLICY_PROJECT, "unsupported condition operator");
	parse_fails("{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\","
		    "\"Action\":\"a\",\"Resource\":\"r\",\"Condition\":{\"IpAddress\":"
		    "{\"acs:SourceIp\":\"10.0.0.0/99\"}}}]}",
		    SCH_POLICY_PROJECT, "not an IP address");
	parse_fails("{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\","
		    "\"Action\":\"a\",\"Resource\":\"r\",\"Condition\":{\"StringEquals\":"
		    "{\"acs:CurrentTime\":\"x\"}}}]}",
		    SCH_POLICY_PROJECT, "unsupported condition key");
	parse_fails("{\"Version\":\"1\",\"Version\":\"1\",\"Statement\":[]}", SCH_POLICY_PROJECT,
		    "not JSON");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wildcards), cmocka_unit_test(test_ip),
		cmocka_unit_test(test_eval),      cmocka_unit_test(test_not_conditions),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
