/* TRANSFORM's TSV (runtime/transform.c): escapes and NULL round trip, and
 * malformed lines are refused rather than guessed at. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/stage.h"

static const struct cmn_col cols[] = { { CMN_COL_BIGINT, "i", 1 },
				       { CMN_COL_STRING, "s", 1 },
				       { CMN_COL_DOUBLE, "d", 1 },
				       { CMN_COL_BOOLEAN, "b", 1 },
				       { CMN_COL_BINARY, "x", 1 } };

static void test_round_trip(void **state)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct cmn_buf line, scratch;
	struct cmn_value in[5] = {
		{ .v.i64 = -42 },    { .v.bytes = { "a\tb\nc\\d\re", 9 } },
		{ .v.f64 = 0.1 },    { .v.b = true },
		{ .is_null = true },
	};
	struct cmn_value out[5];

	(void)state;
	cmn_buf_init(&line, 0);
	cmn_buf_init(&scratch, 0);
	assert_int_equal(rt_tsv_format(in, cols, 5, &line, &err), 0);
	assert_string_equal(line.data, "-42\ta\\tb\\nc\\\\d\\re\t0.10000000000000001\ttrue\t\\N\n");
	assert_int_equal(rt_tsv_parse(line.data, line.len - 1, cols, 5, out, &scratch, &err), 0);
	assert_int_equal(out[0].v.i64, -42);
	assert_int_equal(out[1].v.bytes.len, 9);
	assert_memory_equal(out[1].v.bytes.ptr, "a\tb\nc\\d\re", 9);
	assert_true(out[2].v.f64 == 0.1);
	assert_true(out[3].v.b);
	assert_true(out[4].is_null);
	cmn_buf_free(&line);
	cmn_buf_free(&scratch);
}

static void test_rejections(void **state)
{
	static const char *const bad[] = {
		"1\ta\t1.0\ttrue",                     /* too few fields */
		"1\ta\t1.0\ttrue\tx\ty",               /* too many */
		"1x\ta\t1.0\ttrue\tx",                 /* not a number */
		"\ta\t1.0\ttrue\tx",                   /* empty BIGINT */
		"99999999999999999999\ta\t1\ttrue\tx", /* overflow */
		"1\ta\\q\t1.0\ttrue\tx",               /* bad escape */
		"1\ta\\\t1.0\ttrue\tx",                /* dangling backslash */
		"1\ta\t1.0\tyes\tx",                   /* bad boolean */
		"1\t\xff\t1.0\ttrue\tx",               /* invalid UTF-8 in a STRING */
		" 1\ta\t1.0\ttrue\tx",                 /* leading space */
	};
	struct cmn_value out[5];
	struct cmn_buf scratch;

	(void)state;
	cmn_buf_init(&scratch, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cmn_err err = CMN_ERR_INIT;
		assert_int_equal(rt_tsv_parse(bad[i], strlen(bad[i]), cols, 5, out, &scratch, &err),
				 -1);
	}
	cmn_buf_free(&scratch);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_rejections),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
