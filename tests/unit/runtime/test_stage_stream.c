/* Which inputs a statement scans exactly once (runtime/vtab_stream.c): the
 * ones that free their frames as they go. A wrong "once" would make SQLite's
 * second scan fail the stage, so the cases that scan twice matter most. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/stage.h"

static char name_a[] = "a", name_b[] = "b", name_in0[] = "in0", name_in1[] = "in1";
static struct rt_plan_col cols[] = { { name_a, CMN_COL_BIGINT }, { name_b, CMN_COL_STRING } };
static struct rt_plan_input plan_in[2] = {
	{ name_in0, { cols, 2 }, 3, 0, NULL, 0 },
	{ name_in1, { cols, 2 }, 4, 0, NULL, 0 },
};

/* Returns a bitmask: bit i set when input i streams. */
static int streams(const char *sql)
{
	struct rt_input in[2];
	struct cmn_err err = CMN_ERR_INIT;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int mask = 0, rc;

	memset(in, 0, sizeof(in));
	for (int i = 0; i < 2; i++) {
		in[i].plan = &plan_in[i];
		in[i].fd = -1;
		in[i].done = true;
	}
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(rt_vtab_register(db, in, 2, &err), 0);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	assert_int_equal(rt_vtab_plan_streaming(db, sql, in, 2, &err), 0);
	/* running it must work whatever was decided (inputs are empty) */
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	assert_int_equal(rc, SQLITE_DONE);
	for (int i = 0; i < 2; i++)
		mask |= in[i].streaming ? 1 << i : 0;
	sqlite3_finalize(st);
	sqlite3_close(db);
	return mask;
}

static void test_single_scans_stream(void **state)
{
	(void)state;
	assert_int_equal(streams("SELECT a, b FROM in0 WHERE a % 2 = 0"), 1);
	assert_int_equal(
	    streams("SELECT b, count(*), sum(a) FROM in0 GROUP BY b HAVING count(*) > 1"), 1);
	assert_int_equal(streams("SELECT DISTINCT b FROM in0 ORDER BY b LIMIT 3"), 1);
	assert_int_equal(streams("SELECT * FROM (SELECT a FROM in0 ORDER BY a LIMIT 5)"), 1);
	assert_int_equal(streams("SELECT count(*) FROM in1"), 2);
}

static void test_rescans_keep_frames(void **state)
{
	int m;

	(void)state;
	assert_int_equal(streams("SELECT * FROM in0 x JOIN in0 y ON x.a = y.a"), 0);
	assert_int_equal(streams("SELECT a FROM in0 UNION ALL SELECT a FROM in0") & 1, 0);
	m = streams("SELECT * FROM in0, in1 WHERE in0.a = in1.a");
	assert_true(m != 3); /* the inner side of the join is scanned per outer row */
	m = streams("SELECT a, (SELECT count(*) FROM in1 WHERE in1.a = in0.a) FROM in0");
	assert_int_equal(m & 2, 0);
	m = streams("SELECT a FROM in0 WHERE EXISTS (SELECT 1 FROM in1 WHERE in1.b = in0.b)");
	assert_int_equal(m & 2, 0);
	m = streams("WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r, in1 "
		    "WHERE x < 3) SELECT x FROM r");
	assert_int_equal(m & 2, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_scans_stream),
		cmocka_unit_test(test_rescans_keep_frames),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
