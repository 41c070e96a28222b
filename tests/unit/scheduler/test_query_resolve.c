/* Unit tests of the resolver (scheduler/resolve*.c, tables.c): name
 * resolution against a real catalog, types, GROUP BY rules, views, UDF
 * signatures, the collected accesses, and line:col errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "scheduler/resolve.h"
#include "scheduler/tables.h"

static struct sch_catalog *cat;
static char dbpath[64];

static void add_table(const char *name, const char *cols, size_t npcols, const char *view_sql,
		      const char *owner)
{
	struct sch_tabledef t = { 0 };
	struct cmn_err err = CMN_ERR_INIT;
	char buf[512], *save = NULL;
	struct sch_q_coldef defs[16];
	char proj[] = "p1", nm[64], ow[64], vs[256];

	snprintf(nm, sizeof(nm), "%s", name);
	snprintf(ow, sizeof(ow), "%s", owner);
	snprintf(vs, sizeof(vs), "%s", view_sql ? view_sql : "");
	t.project = proj;
	t.name = nm;
	t.owner = ow;
	t.is_view = view_sql != NULL;
	t.view_sql = view_sql ? vs : NULL;
	snprintf(buf, sizeof(buf), "%s", cols);
	for (char *c = strtok_r(buf, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
		char *sp = strchr(c, ' ');
		*sp = '\0';
		defs[t.ncols] =
		    (struct sch_q_coldef){ c, (enum sch_q_type)sch_q_type_parse(sp + 1), NULL };
		t.ncols++;
	}
	t.cols = defs;
	t.npcols = npcols;
	if (sch_tables_put(cat, &t, NULL, 0, &err) < 0)
		fail_msg("put %s: %s", name, err.msg);
}

static void add_fn(const char *name, enum sch_fn_kind kind, const char *sig, const char *col)
{
	struct sch_funcdef f = { 0 };
	struct cmn_err err = CMN_ERR_INIT;
	char proj[] = "p1", lib[] = "lib.lua", nm[64], cl[64];
	char *res[1] = { lib }, *cols[1] = { cl };
	snprintf(nm, sizeof(nm), "%s", name);
	snprintf(cl, sizeof(cl), "%s", col ? col : "");
	f.project = proj;
	f.name = nm;
	f.kind = kind;
	f.script = lib;
	f.entry = nm;
	f.resources.v = res;
	f.resources.n = 1;
	if (col) {
		f.columns.v = cols;
		f.columns.n = 1;
	}
	if (sch_functions_put(cat, &f, sig, "ALIYUN$acme", &err) < 0)
		fail_msg("put fn %s: %s", name, err.msg);
}

static int setup(void **state)
{
	struct cmn_err err = CMN_ERR_INIT;
	(void)state;
	snprintf(dbpath, sizeof(dbpath), "/tmp/test_query_resolve.%d.db", (int)getpid());
	if (sch_catalog_open(&cat, dbpath, &err) < 0 || sch_tables_migrate(cat, &err) < 0)
		fail_msg("catalog: %s", err.msg);
	add_table("users", "id BIGINT,name STRING,email STRING,country STRING,score DOUBLE", 0,
		  NULL, "ALIYUN$acme");
	add_table("orders", "id BIGINT,user_id BIGINT,amount DOUBLE,ds STRING", 1, NULL,
		  "ALIYUN$acme");
	add_table("v_rich", "id BIGINT,name STRING", 0,
		  "SELECT id, name FROM users WHERE score > 50", "RAM$acme:owner");
	add_fn("mask_email", SCH_FN_SCALAR, "string->string", NULL);
	add_fn("geomean", SCH_FN_AGGREGATE, "double->double", NULL);
	add_fn("words", SCH_FN_TABLE, "string->string", "word");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sch_catalog_close(cat);
	unlink(dbpath);
	return 0;
}

static int resolve(const char *sql, struct sch_q_script *sc, struct sch_q_resolved *r,
		   struct cmn_err *err)
{
	struct sch_q_env env;
	sch_tables_env(&env, cat, "p1");
	if (sch_q_parse(sql, strlen(sql), sc, err) < 0)
		fail_msg("parse '%s': %s", sql, err->msg);
	return sch_q_resolve(&env, sc->v[0], r, err);
}

static void ok(const char *sql)
{
	struct sch_q_script sc;
	struct sch_q_resolved r;
	struct cmn_err err = CMN_ERR_INIT;
	if (resolve(sql, &sc, &r, &err) < 0)
		fail_msg("resolve '%s': %s", sql, err.msg);
	sch_q_resolved_free(&r);
	sch_q_script_free(&sc);
}

static void bad(const char *sql, const char *expected)
{
	struct sch_q_script sc;
	struct sch_q_resolved r;
	struct cmn_err err = CMN_ERR_INIT;
	if (resolve(sql, &sc, &r, &err) == 0)
		fail_msg("'%s' resolved, expected '%s'", sql, expected);
	if (!strstr(err.msg, expected))
		fail_msg("error for '%s' is '%s', expected '%s'", sql, err.msg, expected);
	sch_q_script_free(&sc);
}

static void test_resolves(void **state)
{
	(void)state;
	ok("SELECT * FROM users");
	ok("SELECT u.*, o.amount FROM users u JOIN orders o ON u.id = o.user_id");
	ok("SELECT country, COUNT(*), AVG(score), geomean(score) FROM users GROUP BY country "
	   "HAVING COUNT(*) > 1 ORDER BY country");
	ok("SELECT mask_email(email) AS m FROM users ORDER BY m");
	ok("SELECT p1:mask_email(email) FROM users");
	ok("SELECT w FROM users LATERAL VIEW words(name) t AS w");
	ok("SELECT words(name) AS (w) FROM users");
	ok("SELECT s.c FROM (SELECT country AS c FROM users) s");
	ok("SELECT id FROM users UNION ALL SELECT user_id FROM orders");
	ok("SELECT name FROM v_rich");
	ok("SELECT CASE WHEN score > 1 THEN 'a' ELSE NULL END, CAST(id AS STRING) FROM users");
	ok("SELECT id + 1, score / 2, id % 3, -score, name || 'x' FROM users");
	ok("INSERT INTO orders PARTITION (ds='x') SELECT id, id, score FROM users");
	ok("INSERT INTO users VALUES (1, 'a', 'b', 'c', 2.5), (2, NULL, NULL, NULL, 1)");
	ok("CREATE TABLE t2 (a BIGINT) PARTITIONED BY (ds STRING)");
	ok("CREATE TABLE t3 AS SELECT id FROM users");
	ok("DROP TABLE IF EXISTS nope");
	ok("ALTER TABLE orders ADD PARTITION (ds='2024')");
	ok("SET odps.session.networklink=link1");
	ok("SET cordon.nodes=4");
	ok("CREATE FUNCTION f2 AS 'lib.f2' USING 'lib.lua'");
}

static void test_errors(void **state)
{
	(void)state;
	bad("SELECT nope FROM users", "1:8: column 'nope' does not exist");
	bad("SELECT id FROM users u JOIN orders o ON u.id = o.user_id",
	    "1:8: column 'id' is ambiguous");
	bad("SELECT a FROM\n  missing", "2:3: table 'missing' does not exist");
	bad("SELECT id, COUNT(*) FROM users", "1:8: column 'id' must be in GROUP BY");
	bad("SELECT country FROM users GROUP BY country HAVING score > 1",
	    "1:51: column 'score' must be in GROUP BY");
	bad("SELECT id FROM users WHERE COUNT(*) > 1", "1:28: aggregate COUNT is not allowed");
	bad("SELECT SUM(COUNT(*)) FROM users", "aggregate COUNT is not allowed inside");
	bad("SELECT id FROM users WHERE name", "WHERE needs a BOOLEAN condition, got STRING");
	bad("SELECT name + 1 FROM users", "1:8: + needs numbers, got STRING");
	bad("SELECT id FROM users WHERE id = 'x'", "cannot compare BIGINT with STRING");
	bad("SELECT nofn(id) FROM users", "1:8: function 'nofn' does not exist in project 'p1'");
	bad("SELECT mask_email(id) FROM users", "1:19: argument 1 of 'mask_email' is BIGINT");
	bad("SELECT mask_email(email, email) FROM users", "takes 1 arguments, got 2");
	bad("SELECT words(name) FROM users", "table function 'words' is only allowed");
	bad("SELECT w FROM users LATERAL VIEW mask_email(name) t AS w", "is not a table function");
	bad("SELECT id FROM users UNION ALL SELECT id, name FROM users", "branches have 1 and 2");
	bad("SELECT SUM(name) FROM users", "SUM needs a number");
	bad("SELECT id FROM users u, orders u", "duplicate table alias 'u'");
	bad("INSERT INTO orders SELECT id, id, score FROM users", "PARTITION must name all");
	bad("INSERT INTO orders PARTITION (ds='x') SELECT id FROM users",
	    "INSERT gives 1 values for 3");
	bad("INSERT INTO orders PARTITION (ds='x') SELECT name, id, score FROM users",
	    "column 'id' of 'orders' is BIGINT, the value is STRING");
	bad("CREATE TABLE users (a BIGINT)", "1:1: table 'p1.users' already exists");
	bad("CREATE TABLE t4 (a BIGINT, A STRING)", "column 'A' is defined twice");
	bad("CREATE TABLE t5 AS SELECT u.id, o.id FROM users u JOIN orders o ON u.id = o.user_id",
	    "column 'id' appears twice");
	bad("CREATE VIEW v5 AS SELECT NULL AS x FROM users", "column 'x' has no type");
	bad("DROP TABLE missing", "does not exist");
	bad("DROP TABLE v_rich", "is a view");
	bad("ALTER TABLE users ADD PARTITION (ds='1')", "is not partitioned");
	bad("SET cordon.bogus=1", "unknown setting 'cordon.bogus'");
	bad("SELECT id FROM users ORDER BY 3", "ORDER BY position 3 is out of range");
	bad("CREATE FUNCTION mask_email AS 'lib.x' USING 'lib.lua'", "already exists");
	bad("CREATE FUNCTION f3 AS 'nodot' USING 'lib.lua'", "is not of the form");
}

static bool has(const struct sch_q_resolved *r, const char *action, const char *name,
		const char *column, const char *owner)
{
	for (size_t i = 0; i < r->acc.n; i++) {
		const struct sch_q_access *a = &r->acc.v[i];
		if (strcmp(a->action, action) == 0 &&
		    (name ? a->name && strcmp(a->name, name) == 0 : !a->name) &&
		    (column ? a->column && strcmp(a->column, column) == 0 : !a->column) &&
		    (owner ? a->as_owner && strcmp(a->as_owner, owner) == 0 : !a->as_owner))
			return true;
	}
	return false;
}

static void test_accesses(void **state)
{
	struct sch_q_script sc;
	struct sch_q_resolved r;
	struct cmn_err err = CMN_ERR_INIT;
	(void)state;

	assert_int_equal(resolve("SELECT mask_email(u.email), o.amount FROM users u JOIN orders o"
				 " ON u.id = o.user_id",
				 &sc, &r, &err),
			 0);
	assert_true(has(&r, "odps:Select", "users", "email", NULL));
	assert_true(has(&r, "odps:Select", "users", "id", NULL));
	assert_true(has(&r, "odps:Select", "orders", "amount", NULL));
	assert_true(has(&r, "odps:Select", "orders", "user_id", NULL));
	assert_false(has(&r, "odps:Select", "users", "score", NULL));
	assert_true(has(&r, "odps:Execute", "mask_email", NULL, NULL));
	assert_true(has(&r, "odps:Read", "lib.lua", NULL, NULL));
	assert_int_equal(r.acc.n, 6);
	sch_q_resolved_free(&r);
	sch_q_script_free(&sc);

	/* a view: the view itself as the user, its base table as the owner */
	assert_int_equal(resolve("SELECT name FROM v_rich", &sc, &r, &err), 0);
	assert_true(has(&r, "odps:Select", "v_rich", NULL, NULL));
	assert_true(has(&r, "odps:Select", "users", "name", "RAM$acme:owner"));
	assert_true(has(&r, "odps:Select", "users", "score", "RAM$acme:owner"));
	assert_false(has(&r, "odps:Select", "users", "name", NULL));
	sch_q_resolved_free(&r);
	sch_q_script_free(&sc);

	assert_int_equal(resolve("INSERT OVERWRITE TABLE orders PARTITION (ds='1') SELECT id, id, "
				 "score FROM users",
				 &sc, &r, &err),
			 0);
	assert_true(has(&r, "odps:Update", "orders", NULL, NULL));
	assert_true(has(&r, "odps:Select", "users", "score", NULL));
	sch_q_resolved_free(&r);
	sch_q_script_free(&sc);

	assert_int_equal(resolve("SET odps.session.networklink=link1", &sc, &r, &err), 0);
	assert_true(has(&r, "odps:Use", "link1", NULL, NULL));
	assert_int_equal(r.acc.v[0].type, SCH_OBJ_NETWORKLINK);
	assert_string_equal(r.networklink, "link1");
	sch_q_resolved_free(&r);
	sch_q_script_free(&sc);

	assert_int_equal(resolve("SELECT * FROM users", &sc, &r, &err), 0);
	assert_int_equal(r.acc.n, 5);
	sch_q_resolved_free(&r);
	sch_q_script_free(&sc);
}

static void test_versions(void **state)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct sch_tabledef *t = NULL;
	(void)state;
	assert_int_equal(sch_tables_get(cat, "p1", "users", &t, &err), 0);
	assert_true(t->version == 0);
	sch_tabledef_free(t);
	assert_int_equal(sch_tables_commit_version(cat, "p1", "users", 0, &err), 0);
	/* a second commit from the same starting version loses */
	assert_int_equal(sch_tables_commit_version(cat, "p1", "users", 0, &err), -1);
	assert_int_equal(err.code, CMN_ECONFLICT);
	assert_non_null(strstr(err.msg, "is at version 1, not 0"));
	assert_int_equal(sch_tables_commit_version(cat, "p1", "nope", 0, &err), -1);
	assert_int_equal(err.code, CMN_ENOTFOUND);
	assert_int_equal(sch_tables_get(cat, "p1", "users", &t, &err), 0);
	assert_true(t->version == 1);
	sch_tabledef_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolves),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_accesses),
		cmocka_unit_test(test_versions),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
