/* Unit tests of the query/DDL/DML grammar (scheduler/sql_q_*.c): every
 * statement form of SQL.md "Queries", "Tables and data", "Functions and
 * resources" and "Settings" parses, the tree has the expected shape, and
 * errors name line:col of the offending token. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "scheduler/sql_query.h"

static struct sch_q_stmt *parse1(struct sch_q_script *sc, const char *sql)
{
	struct cmn_err err = CMN_ERR_INIT;
	if (sch_q_parse(sql, strlen(sql), sc, &err) < 0)
		fail_msg("parse '%s': %s", sql, err.msg);
	assert_int_equal(sc->n, 1);
	return sc->v[0];
}

static void parse_err(const char *sql, const char *expected)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct sch_q_script sc;
	assert_int_equal(sch_q_parse(sql, strlen(sql), &sc, &err), -1);
	if (strstr(err.msg, expected) == NULL)
		fail_msg("error for '%s' is '%s', expected '%s'", sql, err.msg, expected);
	assert_null(sc.v);
}

static void test_all_forms_parse(void **state)
{
	static const char *const ok[] = {
		"SELECT 1",
		"SELECT * FROM t",
		"SELECT DISTINCT a, t.b AS x, c y FROM p.t t WHERE a > 1 AND NOT b IS NULL",
		"SELECT a, COUNT(*), COUNT(DISTINCT b), SUM(c), AVG(c), MIN(c), MAX(c) FROM t "
		"GROUP BY a HAVING COUNT(*) > 2 ORDER BY a DESC, 2 LIMIT 10",
		"SELECT a FROM t WHERE b IN (1, 2, 3) AND c NOT IN ('x') AND d BETWEEN 1 AND 2 "
		"AND e NOT BETWEEN 3 AND 4 AND f LIKE 'a%' AND g NOT LIKE '_b' AND h IS NOT NULL",
		"SELECT CASE WHEN a > 0 THEN 'p' WHEN a < 0 THEN 'n' ELSE 'z' END, "
		"CASE a WHEN 1 THEN 'one' END, CAST(a AS DOUBLE), -a, +a, a % 3, a || 'x' FROM t",
		"SELECT t.a, u.b FROM t JOIN u ON t.id = u.id LEFT OUTER JOIN v ON v.id = t.id "
		"RIGHT JOIN w ON w.id = t.id FULL JOIN x ON x.id = t.id INNER JOIN y ON y.id = "
		"t.id",
		"SELECT a FROM t, u CROSS JOIN v",
		"SELECT s.k FROM (SELECT a AS k FROM t) s",
		"SELECT w FROM t LATERAL VIEW words(t.text) tv AS w",
		"SELECT w, n FROM t LATERAL VIEW explode2(t.m) tv AS w, n",
		"SELECT words(text) AS (w) FROM t",
		"SELECT TRANSFORM(a, b) USING 'lua5.4 x.lua' RESOURCES 'x.lua', 'y.txt' "
		"AS (k, v BIGINT) FROM t",
		"SELECT TRANSFORM(a) USING 'cat' FROM t",
		"SELECT a FROM t UNION ALL SELECT b FROM u UNION ALL SELECT 1",
		"SELECT mask_email(email), other:geomean(score) FROM users",
		"SELECT `select`, `a b` FROM `my table`",
		"CREATE TABLE t (a BIGINT COMMENT 'id', b STRING, c DOUBLE, d BOOLEAN, e BINARY, "
		"f DATETIME) COMMENT 'tbl' PARTITIONED BY (ds STRING, hr BIGINT) LIFECYCLE 30",
		"CREATE TABLE IF NOT EXISTS p.t (a BIGINT)",
		"CREATE TABLE t2 AS SELECT a FROM t",
		"DROP TABLE IF EXISTS t",
		"DROP TABLE t",
		"ALTER TABLE t ADD IF NOT EXISTS PARTITION (ds='2024', hr=1)",
		"ALTER TABLE t DROP IF EXISTS PARTITION (ds='2024')",
		"CREATE VIEW IF NOT EXISTS v AS SELECT a FROM t WHERE a > 1",
		"DROP VIEW IF EXISTS v",
		"INSERT INTO TABLE t SELECT * FROM u",
		"INSERT OVERWRITE TABLE t PARTITION (ds='x') (a, b) SELECT a, b FROM u",
		"INSERT INTO t VALUES (1, 'a'), (2, NULL), (-3, 'c')",
		"DESC t",
		"DESCRIBE p.t",
		"SHOW TABLES",
		"SHOW PARTITIONS t",
		"CREATE FUNCTION f AS 'mask.mask_email' USING 'mask.lua, data.txt'",
		"DROP FUNCTION f",
		"SHOW FUNCTIONS",
		"EXPLAIN SELECT a FROM t",
		"SET odps.session.networklink=mylink",
		"SET cordon.nodes=4",
		"SET cordon.udf.memory=64M",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct sch_q_script sc;
		struct sch_q_stmt *s = parse1(&sc, ok[i]);
		assert_true(s->kind >= SCH_Q_SELECT && s->kind <= SCH_Q_SET);
		sch_q_script_free(&sc);
	}
}

static void test_shapes(void **state)
{
	struct sch_q_script sc;
	struct sch_q_stmt *s;
	struct sch_q_select *q;
	(void)state;

	s = parse1(&sc, "SELECT a + b * 2 AS x FROM t WHERE a = 1 OR b = 2 AND c = 3");
	q = s->query->v[0];
	assert_string_equal(q->items[0].alias, "x");
	assert_string_equal(q->items[0].e->op, "+");
	assert_string_equal(q->items[0].e->args[1]->op, "*");
	assert_string_equal(q->where->op, "OR");
	assert_string_equal(q->where->args[1]->op, "AND");
	sch_q_script_free(&sc);

	s = parse1(&sc, "SELECT COUNT(*), COUNT(DISTINCT a), p:f(1) FROM t");
	q = s->query->v[0];
	assert_int_equal(q->items[0].e->args[0]->kind, SCH_QE_STAR);
	assert_true(q->items[1].e->distinct);
	assert_string_equal(q->items[2].e->qual, "p");
	assert_string_equal(q->items[2].e->name, "f");
	sch_q_script_free(&sc);

	s = parse1(&sc, "SELECT a FROM t JOIN u ON t.x = u.x LEFT JOIN v ON 1 = 1");
	q = s->query->v[0];
	assert_int_equal(q->from->kind, SCH_QF_JOIN);
	assert_int_equal(q->from->join, SCH_QJ_LEFT);
	assert_int_equal(q->from->left->join, SCH_QJ_INNER);
	sch_q_script_free(&sc);

	s = parse1(&sc, "SET odps.session.networklink = my_link ");
	assert_string_equal(s->key, "odps.session.networklink");
	assert_string_equal(s->value, "my_link");
	sch_q_script_free(&sc);

	s = parse1(&sc, "CREATE VIEW v AS SELECT a FROM t  ");
	assert_string_equal(s->query_text, "SELECT a FROM t");
	sch_q_script_free(&sc);

	s = parse1(&sc, "SELECT -9223372036854775808, 9223372036854775808, 1.5e3");
	q = s->query->v[0];
	assert_int_equal(q->items[0].e->kind, SCH_QE_INT);
	assert_true(q->items[0].e->ival == INT64_MIN);
	assert_int_equal(q->items[1].e->kind, SCH_QE_DOUBLE);
	assert_int_equal(q->items[2].e->kind, SCH_QE_DOUBLE);
	sch_q_script_free(&sc);

	s = parse1(&sc, "CREATE FUNCTION f AS 's.f' USING ' a.lua ,b.txt'");
	assert_int_equal(s->resources.n, 2);
	assert_string_equal(s->resources.v[0], "a.lua");
	assert_string_equal(s->resources.v[1], "b.txt");
	sch_q_script_free(&sc);
}

static void test_errors(void **state)
{
	(void)state;
	parse_err("SELECT a FROM", "1:14: expected table name, found 'end of text'");
	parse_err("SELECT a\nFROM t WHERE", "2:13: expected an expression");
	parse_err("SELECT a FROM t\n  GROUP a", "2:9: expected BY, found 'a'");
	parse_err("SELECT CAST(a AS INTEGR) FROM t", "1:18: expected a type");
	parse_err("SELECT a FROM t UNION SELECT b FROM u", "1:23: only UNION ALL");
	parse_err("SELECT a FROM t LIMIT -1", "1:23: expected a row count");
	parse_err("SELECT a FROM t t2 t3", "1:20: expected ';' or end of text, found 't3'");
	parse_err("SELECT (a FROM t", "1:11: expected ')', found 'FROM'");
	parse_err("SELECT a FROM t JOIN u", "1:23: expected ON");
	parse_err("SELECT a FROM t WHERE a IN (SELECT 1)", "1:29: IN (subquery) is not supported");
	parse_err("SELECT CASE END", "1:13: expected WHEN");
	parse_err("CREATE TABLE t (a)", "1:18: expected a type");
	parse_err("CREATE TABLE t (a BIGINT) LIFECYCLE 0", "1:37: LIFECYCLE 0");
	parse_err("INSERT t SELECT 1", "1:8: expected INTO or OVERWRITE");
	parse_err("INSERT INTO t VALUES (1), (1, 2)", "VALUES rows differ");
	parse_err("ALTER TABLE t RENAME", "1:15: expected ADD or DROP");
	parse_err("SET cordon.nodes", "expected '='");
	parse_err("SHOW STUFF", "1:6: expected TABLES");
	parse_err("SELECT a FROM t LATERAL VIEW x tv AS c", "LATERAL VIEW needs a table function");
	parse_err("  ;;", "1:5: no statement");
}

static void test_depth_limit(void **state)
{
	char sql[8192];
	size_t n = 0;
	(void)state;
	n += (size_t)snprintf(sql + n, sizeof(sql) - n, "SELECT ");
	for (int i = 0; i < 200; i++)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, "(");
	n += (size_t)snprintf(sql + n, sizeof(sql) - n, "1");
	for (int i = 0; i < 200; i++)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, ")");
	parse_err(sql, "nested too deeply");
	n = 0;
	n += (size_t)snprintf(sql + n, sizeof(sql) - n, "SELECT ");
	for (int i = 0; i < 300; i++)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, "- ");
	n += (size_t)snprintf(sql + n, sizeof(sql) - n, "1");
	parse_err(sql, "nested too deeply");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_forms_parse),
		cmocka_unit_test(test_shapes),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_depth_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
