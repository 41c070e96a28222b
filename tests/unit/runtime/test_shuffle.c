/* The partition hash of docs/stage-plan.md (runtime/shuffle.c), checked
 * against the byte sequence the contract spells out, computed here
 * independently, so a planner in another language can match it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/stage.h"

static uint64_t fnv_bytes(const uint8_t *b, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

static void test_contract_bytes(void **state)
{
	const struct cmn_col cols[] = { { CMN_COL_STRING, "c", 1 },
					{ CMN_COL_BIGINT, "n", 1 },
					{ CMN_COL_DOUBLE, "d", 1 },
					{ CMN_COL_BOOLEAN, "b", 1 } };
	struct cmn_value v[4] = {
		{ .v.bytes = { "de", 2 } },
		{ .v.i64 = 258 },
		{ .v.f64 = 1.5 },
		{ .v.b = true },
	};
	size_t k0[] = { 0 }, k01[] = { 0, 1 }, k23[] = { 2, 3 }, k1[] = { 1 };
	const uint8_t s[] = { 4, 'd', 'e', 0xff };
	const uint8_t s_i[] = { 4, 'd', 'e', 0xff, 1, 2, 1, 0, 0, 0, 0, 0, 0 };
	const uint8_t d_b[] = { 2, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f, 3, 1 };
	const uint8_t null_i[] = { 0 };

	(void)state;
	assert_true(rt_partition_hash(v, cols, k0, 1) == fnv_bytes(s, sizeof(s)));
	assert_true(rt_partition_hash(v, cols, k01, 2) == fnv_bytes(s_i, sizeof(s_i)));
	assert_true(rt_partition_hash(v, cols, k23, 2) == fnv_bytes(d_b, sizeof(d_b)));
	v[1].is_null = true;
	assert_true(rt_partition_hash(v, cols, k1, 1) == fnv_bytes(null_i, 1));
}

static void test_equal_keys_equal_partitions(void **state)
{
	const struct cmn_col cols[] = { { CMN_COL_DOUBLE, "d", 1 }, { CMN_COL_STRING, "s", 1 } };
	struct cmn_value a[2] = { { .v.f64 = 0.0 }, { .v.bytes = { "", 0 } } };
	struct cmn_value b[2] = { { .v.f64 = -0.0 }, { .is_null = true } };
	size_t k0[] = { 0 }, k1[] = { 1 };

	(void)state;
	assert_true(rt_partition_hash(a, cols, k0, 1) == rt_partition_hash(b, cols, k0, 1));
	/* NULL and the empty string are different keys */
	assert_true(rt_partition_hash(a, cols, k1, 1) != rt_partition_hash(b, cols, k1, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_contract_bytes),
		cmocka_unit_test(test_equal_keys_equal_partitions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
