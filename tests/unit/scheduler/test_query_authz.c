/* Access collection of queries decided by the one decision function
 * (scheduler/resolve*.c + authz.c): EXPLAIN PERMISSION of a query over job
 * tables lists every column read, function and resource used; a job's
 * accesses are refused before anything runs with the deciding rule; a view
 * is checked itself for the user and its base tables for the view owner. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "scheduler/authz.h"
#include "scheduler/plan.h"
#include "scheduler/resolve.h"
#include "scheduler/tables.h"

static struct sch_catalog *cat;
static char dir[64], path[128];

static struct sch_principal who(const char *name)
{
	struct sch_principal p;
	memset(&p, 0, sizeof(p));
	snprintf(p.name, sizeof(p.name), "%s", name);
	snprintf(p.account, sizeof(p.account), "a");
	p.type = strncmp(name, "ALIYUN$", 7) == 0 ? SCH_PRINCIPAL_ACCOUNT : SCH_PRINCIPAL_USER;
	return p;
}

static json_t *run(const char *user, const char *sql, int *rc, struct cmn_err *err)
{
	struct sch_principal p = who(user);
	struct sch_stmt_ctx ctx = { .cat = cat,
				    .principal = &p,
				    .project = "p",
				    .source_ip = "127.0.0.1",
				    .request_id = "r" };
	json_t *res = NULL;
	*rc = sch_authz_stmt_handler(&ctx, sql, strlen(sql), &res, err);
	return res;
}

static void run_ok(const char *user, const char *sql)
{
	struct cmn_err err = CMN_ERR_INIT;
	int rc;
	json_t *r = run(user, sql, &rc, &err);
	if (rc != 1)
		fail_msg("%s: rc %d: %s", sql, rc, err.msg);
	json_decref(r);
}

static void put_table_in(const char *project, const char *name, const char *owner,
			 const char *view_sql);

static void put_table(const char *name, const char *owner, const char *view_sql)
{
	put_table_in("p", name, owner, view_sql);
}

static void put_table_in(const char *project, const char *name, const char *owner,
			 const char *view_sql)
{
	struct cmn_err err = CMN_ERR_INIT;
	char proj[16], nm[32], ow[64], vs[128], c0[] = "id", c1[] = "name", c2[] = "email";
	struct sch_q_coldef cols[3] = { { c0, SCH_QT_BIGINT, NULL },
					{ c1, SCH_QT_STRING, NULL },
					{ c2, SCH_QT_STRING, NULL } };
	struct sch_authz_column acols[3] = { { "id", -1, false },
					     { "name", -1, false },
					     { "email", 5, false } };
	struct sch_tabledef t = { 0 };
	snprintf(proj, sizeof(proj), "%s", project);
	snprintf(nm, sizeof(nm), "%s", name);
	snprintf(ow, sizeof(ow), "%s", owner);
	snprintf(vs, sizeof(vs), "%s", view_sql ? view_sql : "");
	t.project = proj;
	t.name = nm;
	t.owner = ow;
	t.is_view = view_sql != NULL;
	t.view_sql = view_sql ? vs : NULL;
	t.cols = cols;
	t.ncols = view_sql ? 2 : 3;
	assert_int_equal(sch_tables_put(cat, &t, NULL, 0, &err), 0);
	assert_int_equal(sch_authz_object_create(cat, project, SCH_OBJ_TABLE, name, owner,
						 view_sql != NULL, acols, t.ncols, &err),
			 0);
}

static int setup(void **state)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct sch_funcdef f = { 0 };
	char proj[] = "p", nm[] = "mask_email", lib[] = "lib.lua";
	char *res[1] = { lib };
	(void)state;

	snprintf(dir, sizeof(dir), "/tmp/cordon-qauthz-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/catalog.db", dir);
	assert_int_equal(sch_catalog_open(&cat, path, &err), 0);
	assert_int_equal(sch_authz_migrate(cat, &err), 0);
	assert_int_equal(sch_tables_migrate(cat, &err), 0);
	assert_int_equal(
	    sqlite3_exec(
		sch_catalog_db(cat),
		"CREATE TABLE IF NOT EXISTS projects (name TEXT PRIMARY KEY,"
		" owner TEXT NOT NULL, created_at INTEGER NOT NULL);"
		"INSERT INTO projects VALUES ('p', 'ALIYUN$own', 0), ('q', 'ALIYUN$own', 0);",
		NULL, NULL, NULL),
	    SQLITE_OK);
	put_table("users", "ALIYUN$own", NULL);
	put_table("v", "RAM$a:vowner", "SELECT id, name FROM users");
	put_table_in("q", "sink", "ALIYUN$own", NULL);
	f.project = proj;
	f.name = nm;
	f.kind = SCH_FN_SCALAR;
	f.script = lib;
	f.entry = nm;
	f.resources.v = res;
	f.resources.n = 1;
	assert_int_equal(sch_functions_put(cat, &f, "string->string", "ALIYUN$own", &err), 0);
	assert_int_equal(sch_authz_object_create(cat, "p", SCH_OBJ_FUNCTION, "mask_email",
						 "ALIYUN$own", false, NULL, 0, &err),
			 0);
	assert_int_equal(sch_authz_object_create(cat, "p", SCH_OBJ_RESOURCE, "lib.lua",
						 "ALIYUN$own", false, NULL, 0, &err),
			 0);
	run_ok("ALIYUN$own", "ADD USER RAM$a:bob; ADD USER RAM$a:vowner");
	run_ok("ALIYUN$own", "GRANT Select ON TABLE users (id, name) TO USER RAM$a:bob");
	run_ok("ALIYUN$own", "GRANT Select ON TABLE v TO USER RAM$a:bob");
	run_ok("ALIYUN$own", "GRANT Select ON TABLE users (id, name) TO USER RAM$a:vowner");
	return 0;
}

static int teardown(void **state)
{
	char p[160];
	(void)state;
	sch_catalog_close(cat);
	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
	rmdir(dir);
	return 0;
}

/* The decision EXPLAIN PERMISSION reported for (principal, action, resource suffix). */
static const char *decision(json_t *res, const char *principal, const char *action,
			    const char *suffix)
{
	size_t i;
	json_t *row;
	json_array_foreach(json_object_get(res, "rows"), i, row)
	{
		const char *r = json_string_value(json_array_get(row, 2));
		size_t n = strlen(r), m = strlen(suffix);
		if (strcmp(json_string_value(json_array_get(row, 0)), principal) == 0 &&
		    strcmp(json_string_value(json_array_get(row, 1)), action) == 0 && n >= m &&
		    strcmp(r + n - m, suffix) == 0)
			return json_string_value(json_array_get(row, 3));
	}
	return "missing";
}

static void test_explain_permission_query(void **state)
{
	struct cmn_err err = CMN_ERR_INIT;
	int rc;
	json_t *r;
	(void)state;

	/* a join and a UDF: outside the old subset, so only the collector sees it */
	r = run("RAM$a:bob",
		"EXPLAIN PERMISSION SELECT u.id, mask_email(w.email) FROM users u JOIN users w "
		"ON u.id = w.id WHERE u.name LIKE 'a%'",
		&rc, &err);
	assert_int_equal(rc, 1);
	assert_string_equal(decision(r, "RAM$a:bob", "odps:Select", "tables/users/columns/id"),
			    "allow");
	assert_string_equal(decision(r, "RAM$a:bob", "odps:Select", "tables/users/columns/name"),
			    "allow");
	assert_string_equal(decision(r, "RAM$a:bob", "odps:Select", "tables/users/columns/email"),
			    "deny");
	assert_string_equal(decision(r, "RAM$a:bob", "odps:Execute", "functions/mask_email"),
			    "deny");
	assert_string_equal(decision(r, "RAM$a:bob", "odps:Read", "resources/lib.lua"), "deny");
	json_decref(r);

	/* through the view: the view for bob, the base table for its owner */
	r = run("RAM$a:bob", "EXPLAIN PERMISSION SELECT name FROM v", &rc, &err);
	assert_int_equal(rc, 1);
	assert_string_equal(decision(r, "RAM$a:bob", "odps:Select", "tables/v"), "allow");
	assert_string_equal(decision(r, "RAM$a:vowner", "odps:Select", "tables/users/columns/name"),
			    "allow");
	assert_string_equal(decision(r, "RAM$a:bob", "odps:Select", "tables/users/columns/name"),
			    "missing");
	json_decref(r);

	r = run("RAM$a:bob", "EXPLAIN PERMISSION SET odps.session.networklink=ext", &rc, &err);
	assert_int_equal(rc, 1);
	assert_string_equal(decision(r, "RAM$a:bob", "odps:Use", "networklinks/ext"), "deny");
	json_decref(r);

	/* errors of the query grammar keep their position */
	r = run("RAM$a:bob", "EXPLAIN PERMISSION SELECT nope FROM users", &rc, &err);
	assert_int_equal(rc, -1);
	assert_non_null(strstr(err.msg, "column 'nope' does not exist"));
	json_decref(r);
}

static int authorize(const char *user, const char *sql, struct cmn_err *err)
{
	struct sch_q_script sc;
	struct sch_q_resolved res;
	struct sch_q_env env;
	struct sch_principal p = who(user);
	struct sch_authz_context ctx = { .project = "p", .task_type = "SQL" };
	int rc;

	sch_tables_env(&env, cat, "p");
	assert_int_equal(sch_q_parse(sql, strlen(sql), &sc, err), 0);
	assert_int_equal(sch_q_resolve(&env, sc.v[0], &res, err), 0);
	rc = sch_q_authorize(cat, &p, &ctx, &res.acc, NULL, NULL, err);
	sch_q_resolved_free(&res);
	sch_q_script_free(&sc);
	return rc;
}

static void test_job_authorization(void **state)
{
	struct cmn_err err = CMN_ERR_INIT;
	(void)state;

	assert_int_equal(authorize("RAM$a:bob", "SELECT id, name FROM users", &err), 0);
	assert_int_equal(authorize("RAM$a:bob",
				   "SELECT u.id FROM users u JOIN users w ON u.id = w.id "
				   "WHERE w.email IS NULL",
				   &err),
			 -1);
	assert_int_equal(err.code, CMN_EDENIED);
	assert_non_null(strstr(
	    err.msg, "odps:Select denied on acs:odps:*:projects/p/tables/users/columns/email"));
	if (!strstr(err.msg, "1:60:"))
		fail_msg("%s", err.msg);
	assert_int_equal(authorize("RAM$a:bob", "SELECT name FROM v", &err), 0);
	/* the owner loses access to the base table: reading the view fails as the owner */
	run_ok("ALIYUN$own", "REVOKE Select ON TABLE users (name) FROM USER RAM$a:vowner");
	assert_int_equal(authorize("RAM$a:bob", "SELECT name FROM v", &err), -1);
	assert_non_null(strstr(err.msg, "as view owner RAM$a:vowner"));
	/* the view's own query reads name whatever the outer query selects */
	assert_int_equal(authorize("RAM$a:bob", "SELECT id FROM v", &err), -1);
	assert_int_equal(authorize("RAM$a:bob", "SET odps.session.networklink=ext", &err), -1);
	assert_non_null(strstr(err.msg, "odps:Use"));
}

static void test_compile_and_explain(void **state)
{
	struct sch_principal own = who("ALIYUN$own"), bob = who("RAM$a:bob");
	struct sch_job_request req = { .cat = cat,
				       .who = &own,
				       .project = "p",
				       .source_ip = "127.0.0.1",
				       .default_nodes = 3 };
	struct sch_stmt_ctx ctx = { .cat = cat,
				    .principal = &own,
				    .project = "p",
				    .source_ip = "127.0.0.1",
				    .request_id = "r" };
	struct sch_job_compiled c;
	struct cmn_err err = CMN_ERR_INIT;
	const char *sql = "SET cordon.udf.memory=64M; SET cordon.node.timeout=500ms;\n"
			  "SET cordon.udf.instructions=1000; SELECT id FROM users WHERE id > 1";
	json_t *r = NULL;
	(void)state;

	if (sch_job_compile(&req, sql, strlen(sql), &c, &err) < 0)
		fail_msg("%s", err.msg);
	assert_true(c.settings.udf_memory == 64 << 20);
	assert_true(c.settings.node_timeout_ms == 500);
	assert_true(c.settings.udf_instructions == 1000);
	assert_true(c.has_plan);
	assert_int_equal(c.plan.v[0].nodes, 3);
	sch_job_compiled_free(&c);

	sql = "SELECT id FROM users; SELECT name FROM users";
	assert_int_equal(sch_job_compile(&req, sql, strlen(sql), &c, &err), -1);
	assert_non_null(strstr(err.msg, "1:23: a job runs one statement"));
	sql = "SET cordon.nodes=100; SELECT id FROM users";
	assert_int_equal(sch_job_compile(&req, sql, strlen(sql), &c, &err), -1);
	assert_non_null(strstr(err.msg, "cordon.nodes must be 1..64"));
	sql = "SET cordon.udf.memory=lots; SELECT id FROM users";
	assert_int_equal(sch_job_compile(&req, sql, strlen(sql), &c, &err), -1);
	assert_non_null(strstr(err.msg, "bad value 'lots'"));

	/* a network link the user may not use: refused before anything is planned */
	req.who = &bob;
	sql = "SET odps.session.networklink=ext; SELECT id FROM users";
	assert_int_equal(sch_job_compile(&req, sql, strlen(sql), &c, &err), -1);
	assert_int_equal(err.code, CMN_EDENIED);
	assert_non_null(strstr(err.msg, "networklinks/ext"));

	/* EXPLAIN <query> */
	sql = "SET cordon.nodes=2; EXPLAIN SELECT name, COUNT(*) FROM users GROUP BY name";
	assert_int_equal(sch_plan_explain_handler(&ctx, sql, strlen(sql), &r, &err), 1);
	assert_string_equal(
	    json_string_value(json_array_get(json_array_get(json_object_get(r, "rows"), 0), 0)),
	    "Stage 0: MAP x2");
	assert_int_equal(json_array_size(json_object_get(r, "rows")) > 8, 1);
	json_decref(r);
	sql = "SELECT name FROM users";
	assert_int_equal(sch_plan_explain_handler(&ctx, sql, strlen(sql), &r, &err), 0);
	ctx.principal = &bob;
	sql = "EXPLAIN SELECT email FROM users";
	assert_int_equal(sch_plan_explain_handler(&ctx, sql, strlen(sql), &r, &err), -1);
	assert_int_equal(err.code, CMN_EDENIED);
}

static void test_protection(void **state)
{
	struct sch_principal own = who("ALIYUN$own");
	struct sch_job_request req = { .cat = cat,
				       .who = &own,
				       .project = "p",
				       .source_ip = "127.0.0.1",
				       .default_nodes = 2 };
	struct sch_job_compiled c;
	struct cmn_err err = CMN_ERR_INIT;
	const char *sql = "INSERT INTO q.sink SELECT id, name, email FROM users";
	(void)state;

	/* unprotected: the owner of both projects may copy */
	assert_int_equal(sch_job_compile(&req, sql, strlen(sql), &c, &err), 0);
	assert_true(c.has_plan);
	sch_job_compiled_free(&c);
	/* protected: even the owner cannot take the data to q */
	run_ok("ALIYUN$own", "SET ProjectProtection=true");
	assert_int_equal(sch_job_compile(&req, sql, strlen(sql), &c, &err), -1);
	assert_int_equal(err.code, CMN_EDENIED);
	assert_non_null(strstr(err.msg, "odps:Update denied on acs:odps:*:projects/q/tables/sink"));
	assert_non_null(strstr(err.msg, "rule protection"));
	/* writing inside p stays allowed, and a trusted target is fine */
	sql = "INSERT INTO users SELECT id, name, email FROM users";
	assert_int_equal(sch_job_compile(&req, sql, strlen(sql), &c, &err), 0);
	sch_job_compiled_free(&c);
	run_ok("ALIYUN$own", "ADD TRUSTEDPROJECT q");
	sql = "INSERT INTO q.sink SELECT id, name, email FROM users";
	assert_int_equal(sch_job_compile(&req, sql, strlen(sql), &c, &err), 0);
	sch_job_compiled_free(&c);
	run_ok("ALIYUN$own", "REMOVE TRUSTEDPROJECT q; SET ProjectProtection=false");
}

struct audit_log {
	int allow, deny, changes;
};

static void audit_cb(void *arg, const struct sch_audit_event *ev)
{
	struct audit_log *l = arg;
	if (ev->decision && !strcmp(ev->decision, "allow"))
		l->allow++;
	else if (ev->decision)
		l->deny++;
	else
		l->changes++;
}

static json_t *tstmt(const char *user, const char *sql, int want, struct audit_log *log,
		     struct cmn_err *err)
{
	struct sch_principal p = who(user);
	struct sch_stmt_ctx ctx = { .cat = cat,
				    .principal = &p,
				    .project = "p",
				    .source_ip = "127.0.0.1",
				    .request_id = "r",
				    .audit = audit_cb,
				    .audit_arg = log };
	json_t *res = NULL;
	int rc = sch_tables_stmt_handler(&ctx, sql, strlen(sql), &res, err);
	if (rc != want)
		fail_msg("%s: rc %d, want %d: %s", sql, rc, want, err->msg);
	return res;
}

static void test_table_statements(void **state)
{
	struct audit_log log = { 0 };
	struct cmn_err err = CMN_ERR_INIT;
	json_t *r;
	(void)state;

	r = tstmt("ALIYUN$own",
		  "CREATE TABLE events (id BIGINT COMMENT 'key', what STRING) "
		  "PARTITIONED BY (ds STRING) LIFECYCLE 7",
		  1, &log, &err);
	json_decref(r);
	assert_int_equal(log.changes, 1);
	assert_true(log.allow >= 1);
	r = tstmt("ALIYUN$own", "DESC events", 1, &log, &err);
	assert_int_equal(json_array_size(json_object_get(r, "rows")), 3);
	assert_string_equal(
	    json_string_value(json_array_get(json_array_get(json_object_get(r, "rows"), 2), 3)),
	    "yes");
	json_decref(r);
	json_decref(
	    tstmt("ALIYUN$own", "ALTER TABLE events ADD PARTITION (ds='2024')", 1, &log, &err));
	json_decref(tstmt("ALIYUN$own",
			  "ALTER TABLE events ADD IF NOT EXISTS PARTITION (ds='2024')", 1, &log,
			  &err));
	tstmt("ALIYUN$own", "ALTER TABLE events ADD PARTITION (ds='2024')", -1, &log, &err);
	assert_int_equal(err.code, CMN_EEXIST);
	tstmt("ALIYUN$own", "ALTER TABLE events ADD PARTITION (ds='a/b')", -1, &log, &err);
	json_decref(
	    tstmt("ALIYUN$own", "ALTER TABLE events ADD PARTITION (ds='2025')", 1, &log, &err));
	r = tstmt("ALIYUN$own", "SHOW PARTITIONS events", 1, &log, &err);
	assert_int_equal(json_array_size(json_object_get(r, "rows")), 2);
	assert_string_equal(
	    json_string_value(json_array_get(json_array_get(json_object_get(r, "rows"), 0), 0)),
	    "ds=2024");
	json_decref(r);
	json_decref(
	    tstmt("ALIYUN$own", "ALTER TABLE events DROP PARTITION (ds='2024')", 1, &log, &err));
	tstmt("ALIYUN$own", "ALTER TABLE events DROP PARTITION (ds='2024')", -1, &log, &err);
	assert_int_equal(err.code, CMN_ENOTFOUND);
	json_decref(tstmt("ALIYUN$own", "CREATE VIEW ev AS SELECT id, what AS w FROM events", 1,
			  &log, &err));
	r = tstmt("ALIYUN$own", "SHOW TABLES", 1, &log, &err);
	assert_int_equal(json_array_size(json_object_get(r, "rows")),
			 4); /* events ev users v, not q.sink */
	json_decref(r);
	/* the view's columns are its query's; the registry knows it too */
	r = tstmt("ALIYUN$own", "DESC ev", 1, &log, &err);
	assert_string_equal(
	    json_string_value(json_array_get(json_array_get(json_object_get(r, "rows"), 1), 0)),
	    "w");
	json_decref(r);
	r = run("ALIYUN$own", "EXPLAIN PERMISSION SELECT w FROM ev", &(int){ 0 }, &err);
	assert_string_equal(decision(r, "ALIYUN$own", "odps:Select", "tables/ev"), "allow");
	json_decref(r);
	json_decref(tstmt("ALIYUN$own", "DROP VIEW ev", 1, &log, &err));
	tstmt("ALIYUN$own", "DESC ev", -1, &log, &err);
	assert_int_equal(err.code, CMN_ENOTFOUND);
	r = tstmt("ALIYUN$own", "SHOW FUNCTIONS", 1, &log, &err);
	assert_int_equal(json_array_size(json_object_get(r, "rows")), 1);
	json_decref(r);
	/* bob may not create tables: refused, audited, nothing created */
	log.deny = 0;
	tstmt("RAM$a:bob", "CREATE TABLE bobs (a BIGINT)", -1, &log, &err);
	assert_int_equal(err.code, CMN_EDENIED);
	assert_int_equal(log.deny, 1);
	tstmt("ALIYUN$own", "DESC bobs", -1, &log, &err);
	/* not ours: queries, INSERT, security statements */
	assert_null(tstmt("ALIYUN$own", "SELECT id FROM users", 0, &log, &err));
	assert_null(
	    tstmt("ALIYUN$own", "GRANT Select ON TABLE users TO USER RAM$a:bob", 0, &log, &err));
	assert_null(tstmt("ALIYUN$own", "SELEC oops", 0, &log, &err));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_explain_permission_query),
		cmocka_unit_test(test_job_authorization),
		cmocka_unit_test(test_compile_and_explain),
		cmocka_unit_test(test_protection),
		cmocka_unit_test(test_table_statements),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
