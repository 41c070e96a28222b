/* Unit tests of scheduler/whitelist.c: addresses, CIDR, ranges, IPv6,
 * IPv4-mapped peers, and the entries it must refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "scheduler/whitelist.h"

static struct sch_whitelist *parse_ok(const char *text)
{
	struct sch_whitelist *wl = malloc(sizeof(*wl));
	assert_non_null(wl);
	assert_int_equal(sch_whitelist_parse(text, wl, NULL), 0);
	return wl;
}

static void test_empty_allows_all(void **state)
{
	struct sch_whitelist *wl = parse_ok("");
	assert_true(sch_whitelist_allows(wl, "203.0.113.9"));
	assert_true(sch_whitelist_allows(wl, "::1"));
	free(wl);
}

static void test_single_cidr_range(void **state)
{
	struct sch_whitelist *wl =
	    parse_ok("127.0.0.2, 10.1.0.0/16 ,192.168.1.10-192.168.1.20,2001:db8::/32,::1");
	assert_true(sch_whitelist_allows(wl, "127.0.0.2"));
	assert_false(sch_whitelist_allows(wl, "127.0.0.3"));
	assert_true(sch_whitelist_allows(wl, "10.1.255.255"));
	assert_true(sch_whitelist_allows(wl, "10.1.0.0"));
	assert_false(sch_whitelist_allows(wl, "10.2.0.0"));
	assert_true(sch_whitelist_allows(wl, "192.168.1.10"));
	assert_true(sch_whitelist_allows(wl, "192.168.1.20"));
	assert_false(sch_whitelist_allows(wl, "192.168.1.21"));
	assert_false(sch_whitelist_allows(wl, "192.168.1.9"));
	assert_true(sch_whitelist_allows(wl, "2001:db8:ffff::1"));
	assert_false(sch_whitelist_allows(wl, "2001:db9::1"));
	assert_true(sch_whitelist_allows(wl, "::1"));
	/* An IPv4-mapped IPv6 peer is matched as IPv4. */
	assert_true(sch_whitelist_allows(wl, "::ffff:127.0.0.2"));
	assert_false(sch_whitelist_allows(wl, "::ffff:127.0.0.3"));
	/* Garbage never matches. */
	assert_false(sch_whitelist_allows(wl, "not-an-ip"));
	assert_false(sch_whitelist_allows(wl, ""));
	free(wl);
}

static void test_cidr_edges(void **state)
{
	struct sch_whitelist *wl = parse_ok("0.0.0.0/0");
	assert_true(sch_whitelist_allows(wl, "1.2.3.4"));
	assert_false(sch_whitelist_allows(wl, "::2")); /* families stay apart */
	free(wl);
	wl = parse_ok("10.0.0.7/32, 10.0.0.9/31");
	assert_true(sch_whitelist_allows(wl, "10.0.0.7"));
	assert_false(sch_whitelist_allows(wl, "10.0.0.6"));
	assert_true(sch_whitelist_allows(wl, "10.0.0.8"));
	assert_true(sch_whitelist_allows(wl, "10.0.0.9"));
	assert_false(sch_whitelist_allows(wl, "10.0.0.10"));
	free(wl);
}

static void test_refuses_bad_entries(void **state)
{
	static const char *bad[] = { "300.1.1.1",        "10.0.0.0/33",       "10.0.0.0/",
				     "10.0.0.0/-1",      "10.0.0.5-10.0.0.1", "10.0.0.1-::1",
				     "1.2.3.4,,5.6.7.8", "2001:db8::/129",    "host.example",
				     "1.2.3.4/8x" };
	struct sch_whitelist *wl = malloc(sizeof(*wl));
	struct cmn_err err = CMN_ERR_INIT;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sch_whitelist_parse(bad[i], wl, &err), -1);
	assert_int_equal(err.code, CMN_EINVAL);
	free(wl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_allows_all),
		cmocka_unit_test(test_single_cidr_range),
		cmocka_unit_test(test_cidr_edges),
		cmocka_unit_test(test_refuses_bad_entries),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
