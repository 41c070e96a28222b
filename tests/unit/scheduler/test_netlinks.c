/* Unit tests of network links (scheduler/netlinks.h): the operator
 * statements' grammar and classification, the catalog functions and their
 * validation, the statement handler (operators only, one transaction,
 * audit), the decision's precondition for odps:Use (allowed project AND the
 * user's own permission), and the grant's configuration errors — on a real
 * catalog in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/cleanup.h"
#include "scheduler/authz.h"
#include "scheduler/netlinks.h"
#include "scheduler/sql_parse.h"

struct fx {
	char dir[64];
	char path[128];
	struct sch_catalog *cat;
	char events[64][64]; /* audit event names, "Authorize:allow" for decisions */
	size_t nevents;
};

static void exec_ok(struct fx *f, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(sch_catalog_db(f->cat), sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct cmn_err err = CMN_ERR_INIT;

	snprintf(f->dir, sizeof(f->dir), "/tmp/cordon-netlinks-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/catalog.db", f->dir);
	assert_int_equal(sch_catalog_open(&f->cat, f->path, &err), 0);
	exec_ok(f, "CREATE TABLE projects (name TEXT PRIMARY KEY, owner TEXT NOT NULL,"
		   " created_at INTEGER NOT NULL);"
		   "INSERT INTO projects VALUES ('p', 'ALIYUN$own', 0), ('q', 'ALIYUN$q', 0);");
	assert_int_equal(sch_authz_migrate(f->cat, &err), 0);
	assert_int_equal(sch_netlinks_migrate(f->cat, &err), 0);
	assert_int_equal(sch_netlinks_migrate(f->cat, &err), 0); /* idempotent */
	exec_ok(f, "INSERT INTO authz_members VALUES ('p', 'RAM$a:bob', 'x', 0);");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char p[160];
	sch_catalog_close(f->cat);
	unlink(f->path);
	snprintf(p, sizeof(p), "%s-wal", f->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->path);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct sch_principal who(const char *name, bool super)
{
	struct sch_principal p;
	memset(&p, 0, sizeof(p));
	snprintf(p.name, sizeof(p.name), "%s", name);
	p.super_admin = super;
	return p;
}

static void on_audit(void *arg, const struct sch_audit_event *ev)
{
	struct fx *f = arg;
	if (f->nevents < 64)
		snprintf(f->events[f->nevents++], sizeof(f->events[0]), "%s%s%s", ev->event_name,
			 ev->decision ? ":" : "", ev->decision ? ev->decision : "");
}

/* Runs sql through the handler as name (a super admin when super); returns
 * the handler's rc, fills err and *out (caller frees). */
static int run_as(struct fx *f, const char *name, bool super, const char *sql, json_t **out,
		  struct cmn_err *err)
{
	struct sch_principal p = who(name, super);
	struct sch_stmt_ctx ctx = { .cat = f->cat,
				    .principal = &p,
				    .project = "p",
				    .source_ip = "127.0.0.1",
				    .request_id = "t",
				    .audit = on_audit,
				    .audit_arg = f };
	json_t *r = NULL;
	int rc;

	f->nevents = 0;
	cmn_err_clear(err);
	rc = sch_netlinks_stmt_handler(&ctx, sql, strlen(sql), &r, err);
	if (out)
		*out = r;
	else
		json_decref(r);
	return rc;
}

static void op_ok(struct fx *f, const char *sql)
{
	struct cmn_err err = CMN_ERR_INIT;
	int rc = run_as(f, "ALIYUN$root", true, sql, NULL, &err);
	if (rc != 1)
		fail_msg("%s: rc %d: %s", sql, rc, err.msg);
}

static const char *use_rule(struct fx *f, const char *name, const char *project, const char *link,
			    bool *allow)
{
	struct sch_principal p = who(name, strcmp(name, "ALIYUN$root") == 0);
	struct sch_authz_resource r = { project, SCH_OBJ_NETWORKLINK, link, NULL };
	struct sch_authz_context ctx = { .project = project };
	static struct sch_authz_decision d;
	struct cmn_err err = CMN_ERR_INIT;

	assert_int_equal(sch_authz_decide(f->cat, &p, "odps:Use", &r, &ctx, &d, &err), 0);
	*allow = d.allow;
	return d.rule;
}

static void expect_use(struct fx *f, const char *name, const char *project, const char *link,
		       bool allow, const char *rule)
{
	bool got;
	const char *r = use_rule(f, name, project, link, &got);
	if (got != allow || strcmp(r, rule) != 0)
		fail_msg("%s Use %s in %s: %s:%s, expected %s:%s", name, link, project,
			 got ? "allow" : "deny", r, allow ? "allow" : "deny", rule);
}

static void test_parse(void **state)
{
	struct sch_sql_script sc;
	struct cmn_err err = CMN_ERR_INIT;
	struct sch_sql_classes cls;
	const char *sql =
	    "CREATE NETWORKLINK ext ALLOW '192.0.2.0/24:443', '198.51.100.7:8000-8080';"
	    "DROP NETWORKLINK ext; ALLOW PROJECT p TO USE NETWORKLINK ext;"
	    "DISALLOW PROJECT p TO USE NETWORKLINK ext; SHOW NETWORKLINKS";
	(void)state;

	assert_int_equal(sch_sql_parse(sql, strlen(sql), &sc, &err), 0);
	assert_int_equal(sc.n, 5);
	assert_int_equal(sc.v[0]->kind, SCH_SQL_CREATE_NETWORKLINK);
	assert_string_equal(sc.v[0]->name, "ext");
	assert_int_equal(sc.v[0]->dests.n, 2);
	assert_string_equal(sc.v[0]->dests.v[1], "198.51.100.7:8000-8080");
	assert_int_equal(sc.v[1]->kind, SCH_SQL_DROP_NETWORKLINK);
	assert_string_equal(sc.v[1]->name, "ext");
	assert_int_equal(sc.v[2]->kind, SCH_SQL_ALLOW_NETWORKLINK);
	assert_string_equal(sc.v[2]->name, "p");
	assert_string_equal(sc.v[2]->obj.name, "ext");
	assert_int_equal(sc.v[3]->kind, SCH_SQL_DISALLOW_NETWORKLINK);
	assert_int_equal(sc.v[4]->kind, SCH_SQL_SHOW_NETWORKLINKS);
	sch_sql_script_free(&sc);

	/* not security statements: the authz handler leaves them to ours */
	assert_int_equal(sch_sql_classify(sql, strlen(sql), &cls, &err), 0);
	assert_int_equal(cls.security, 0);
	assert_int_equal(cls.other, 5);
	/* the package form of ALLOW is still a security statement */
	sql = "ALLOW PROJECT p TO INSTALL PACKAGE pk";
	assert_int_equal(sch_sql_classify(sql, strlen(sql), &cls, &err), 0);
	assert_int_equal(cls.security, 1);
	assert_int_equal(sch_sql_parse(sql, strlen(sql), &sc, &err), 0);
	assert_int_equal(sc.v[0]->kind, SCH_SQL_ALLOW_INSTALL);
	sch_sql_script_free(&sc);
}

static void parse_fails(const char *sql, const char *msg)
{
	struct sch_sql_script sc;
	struct cmn_err err = CMN_ERR_INIT;

	assert_int_equal(sch_sql_parse(sql, strlen(sql), &sc, &err), -1);
	assert_int_equal(err.code, CMN_EINVAL);
	if (!strstr(err.msg, msg))
		fail_msg("%s: '%s' lacks '%s'", sql, err.msg, msg);
}

static void test_parse_errors(void **state)
{
	(void)state;
	parse_fails("CREATE NETWORKLINK ext ALLOW 10", "1:30: expected a quoted destination");
	parse_fails("CREATE NETWORKLINK ext '1.2.3.4:80'", "1:24: expected ALLOW");
	parse_fails("CREATE NETWORKLINK ext ALLOW '1.2.3.4:80',", "expected a quoted destination");
	parse_fails("ALLOW PROJECT p TO FLY", "1:20: expected INSTALL or USE");
	parse_fails("ALLOW PROJECT p TO USE TABLE t", "1:24: expected NETWORKLINK");
	parse_fails("SHOW NETWORKLINK", "NETWORKLINKS");
	parse_fails("DROP NETWORKLINK", "network link name");
}

static void test_create_validation(void **state)
{
	struct fx *f = *state;
	struct cmn_err err = CMN_ERR_INIT;
	struct ovl_dest d[4];
	const char *bad[] = { "10.0.0.1/8:80",   "192.0.2.0/24", "192.0.2.1:0",   "192.0.2.1:90-80",
			      "192.0.2.1:70000", "fe80::1:80",   "example.com:80" };
	const char *good[] = { "192.0.2.7:443", "198.51.100.0/24:8000-8080" };
	const char *many[OVL_MAX_DESTS + 1];
	size_t n;

	for (size_t i = 0; i < CMN_ARRAY_SIZE(bad); i++) {
		cmn_err_clear(&err);
		if (sch_netlink_create(f->cat, "l", &bad[i], 1, "x", &err) != -1 ||
		    err.code != CMN_EINVAL)
			fail_msg("destination '%s' was accepted (%s)", bad[i], err.msg);
	}
	assert_int_equal(sch_netlink_create(f->cat, "l", good, 0, "x", &err), -1);
	for (size_t i = 0; i < CMN_ARRAY_SIZE(many); i++)
		many[i] = "192.0.2.1:80";
	assert_int_equal(sch_netlink_create(f->cat, "l", many, CMN_ARRAY_SIZE(many), "x", &err),
			 -1);
	assert_int_equal(err.code, CMN_EINVAL);
	assert_int_equal(sch_netlink_create(f->cat, "bad-name", good, 1, "x", &err), -1);
	assert_int_equal(sch_netlink_create(f->cat, "a/b", good, 1, "x", &err), -1);
	/* nothing half-made by the failures */
	assert_int_equal(sch_netlink_destinations(f->cat, "l", d, 4, &n, &err), -1);
	assert_int_equal(err.code, CMN_ENOTFOUND);

	assert_int_equal(sch_netlink_create(f->cat, "Ext", good, 2, "x", &err), 0);
	assert_int_equal(sch_netlink_create(f->cat, "EXT", good, 1, "x", &err), -1);
	assert_int_equal(err.code, CMN_EEXIST);
	/* names ignore case; a bare address is a /32 */
	assert_int_equal(sch_netlink_destinations(f->cat, "ext", d, 4, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(d[0].prefix, 32);
	assert_int_equal(d[0].port_lo, 443);
	assert_int_equal(d[0].port_hi, 443);
	assert_int_equal(d[1].prefix, 24);
	assert_int_equal(d[1].port_lo, 8000);
	assert_int_equal(d[1].port_hi, 8080);
	assert_int_equal(sch_netlink_destinations(f->cat, "ext", d, 1, &n, &err), -1);
	assert_int_equal(err.code, CMN_ELIMIT);
	assert_int_equal(sch_netlink_create(f->cat, "m", many, OVL_MAX_DESTS, "x", &err), 0);
}

static void test_operators_only(void **state)
{
	struct fx *f = *state;
	struct cmn_err err = CMN_ERR_INIT;
	json_t *r = NULL;
	const char *stmts[] = { "CREATE NETWORKLINK ext ALLOW '192.0.2.7:443'",
				"DROP NETWORKLINK ext", "ALLOW PROJECT p TO USE NETWORKLINK ext",
				"DISALLOW PROJECT p TO USE NETWORKLINK ext", "SHOW NETWORKLINKS" };

	op_ok(f, "CREATE NETWORKLINK ext ALLOW '192.0.2.7:443'");
	/* the project's owner and its members are not operators */
	for (size_t i = 0; i < CMN_ARRAY_SIZE(stmts); i++) {
		const char *names[] = { "ALIYUN$own", "RAM$a:bob" };
		for (size_t k = 0; k < 2; k++) {
			assert_int_equal(run_as(f, names[k], false, stmts[i], NULL, &err), -1);
			assert_int_equal(err.code, CMN_EDENIED);
			assert_non_null(strstr(err.msg, "rule: operator_only"));
			assert_non_null(strstr(err.msg, "acs:odps:*:networklinks/"));
			assert_int_equal(f->nevents, 1);
			assert_string_equal(f->events[0], "Authorize:deny");
		}
	}
	expect_use(f, "ALIYUN$own", "p", "ext", false, "networklink_not_allowed");

	assert_int_equal(run_as(f, "ALIYUN$root", true, "SHOW NETWORKLINKS", &r, &err), 1);
	assert_int_equal(json_array_size(json_object_get(r, "rows")), 1);
	assert_string_equal(
	    json_string_value(json_array_get(json_array_get(json_object_get(r, "rows"), 0), 1)),
	    "192.0.2.7/32:443");
	json_decref(r);
}

static void test_transaction_and_audit(void **state)
{
	struct fx *f = *state;
	struct cmn_err err = CMN_ERR_INIT;
	json_t *r = NULL;

	/* the second statement fails: the first is rolled back, no change audited */
	assert_int_equal(run_as(f, "ALIYUN$root", true,
				"CREATE NETWORKLINK a ALLOW '192.0.2.7:443';\n"
				"  ALLOW PROJECT nosuch TO USE NETWORKLINK a",
				NULL, &err),
			 -1);
	assert_int_equal(err.code, CMN_ENOTFOUND);
	assert_non_null(strstr(err.msg, "2:3: project 'nosuch' does not exist"));
	for (size_t i = 0; i < f->nevents; i++)
		assert_non_null(strstr(f->events[i], "Authorize"));
	assert_int_equal(run_as(f, "ALIYUN$root", true, "SHOW NETWORKLINKS", &r, &err), 1);
	assert_int_equal(json_array_size(json_object_get(r, "rows")), 0);
	json_decref(r);

	assert_int_equal(run_as(f, "ALIYUN$root", true,
				"CREATE NETWORKLINK a ALLOW '192.0.2.7:443';"
				" ALLOW PROJECT p TO USE NETWORKLINK A; ALLOW PROJECT q TO USE"
				" NETWORKLINK a; SHOW NETWORKLINKS",
				&r, &err),
			 1);
	assert_int_equal(f->nevents, 7);
	assert_string_equal(f->events[4], "CreateNetworkLink");
	assert_string_equal(f->events[5], "AllowNetworkLink");
	assert_string_equal(
	    json_string_value(json_array_get(json_array_get(json_object_get(r, "rows"), 0), 2)),
	    "p,q");
	json_decref(r);

	/* mixing with other statements is refused, nothing runs */
	assert_int_equal(run_as(f, "ALIYUN$root", true, "DROP NETWORKLINK a; SELECT 1", NULL, &err),
			 -1);
	assert_int_equal(err.code, CMN_EINVAL);
	assert_non_null(strstr(err.msg, "cannot mix"));
	assert_int_equal(run_as(f, "ALIYUN$root", true, "SELECT 1", NULL, &err), 0);
	assert_int_equal(run_as(f, "ALIYUN$root", true, "SHOW TABLES", NULL, &err), 0);
	assert_int_equal(
	    run_as(f, "ALIYUN$root", true, "ALLOW PROJECT p TO INSTALL PACKAGE x", NULL, &err), 0);
	assert_int_equal(
	    run_as(f, "ALIYUN$root", true, "DISALLOW PROJECT q TO USE NETWORKLINK b", NULL, &err),
	    -1);
	assert_int_equal(err.code, CMN_ENOTFOUND);
	assert_int_equal(
	    run_as(f, "ALIYUN$root", true, "DISALLOW PROJECT q TO USE NETWORKLINK a", NULL, &err),
	    1);
	assert_int_equal(
	    run_as(f, "ALIYUN$root", true, "DISALLOW PROJECT q TO USE NETWORKLINK a", NULL, &err),
	    -1);
	assert_int_equal(err.code, CMN_ENOTFOUND);
}

static void grant_use_to_bob(struct fx *f, const char *link)
{
	struct sch_principal own = who("ALIYUN$own", false);
	struct sch_stmt_ctx ctx = { .cat = f->cat, .principal = &own, .project = "p" };
	struct cmn_err err = CMN_ERR_INIT;
	char sql[128];
	json_t *r = NULL;

	snprintf(sql, sizeof(sql), "GRANT Use ON NETWORKLINK %s TO USER RAM$a:bob", link);
	if (sch_authz_stmt_handler(&ctx, sql, strlen(sql), &r, &err) != 1)
		fail_msg("%s: %s", sql, err.msg);
	json_decref(r);
}

/* The model: a project must be allowed by an operator AND the user must
 * have Use in the project; either missing is a denial naming the rule. */
static void test_use_decision(void **state)
{
	struct fx *f = *state;
	struct cmn_err err = CMN_ERR_INIT;

	expect_use(f, "ALIYUN$own", "p", "ext", false, "networklink_not_found");
	expect_use(f, "ALIYUN$root", "p", "ext", false, "networklink_not_found");
	op_ok(f, "CREATE NETWORKLINK ext ALLOW '192.0.2.7:443'");
	/* binds the owner and the operator too: it is the operator's decision */
	expect_use(f, "ALIYUN$own", "p", "ext", false, "networklink_not_allowed");
	expect_use(f, "ALIYUN$root", "p", "ext", false, "networklink_not_allowed");
	expect_use(f, "RAM$a:bob", "p", "ext", false, "networklink_not_allowed");
	op_ok(f, "ALLOW PROJECT p TO USE NETWORKLINK ext");
	expect_use(f, "ALIYUN$own", "p", "ext", true, "owner");
	expect_use(f, "ALIYUN$root", "p", "ext", true, "super_admin");
	expect_use(f, "RAM$a:bob", "p", "ext", false, "no_privilege");
	expect_use(f, "ALIYUN$q", "q", "ext", false, "networklink_not_allowed");
	expect_use(f, "RAM$a:carol", "p", "ext", false, "not_member");
	grant_use_to_bob(f, "ext");
	expect_use(f, "RAM$a:bob", "p", "ext", true, "acl");
	/* disallowing removes the registration and the ACL entries with it */
	op_ok(f, "DISALLOW PROJECT p TO USE NETWORKLINK ext");
	expect_use(f, "RAM$a:bob", "p", "ext", false, "networklink_not_allowed");
	expect_use(f, "ALIYUN$own", "p", "ext", false, "networklink_not_allowed");
	op_ok(f, "ALLOW PROJECT p TO USE NETWORKLINK ext");
	expect_use(f, "RAM$a:bob", "p", "ext", false, "no_privilege");
	grant_use_to_bob(f, "ext");
	/* allowing twice keeps the grants */
	op_ok(f, "ALLOW PROJECT p TO USE NETWORKLINK ext");
	expect_use(f, "RAM$a:bob", "p", "ext", true, "acl");
	assert_int_equal(sch_netlink_check_allowed(f->cat, "ext", "p", &err), 0);
	assert_int_equal(sch_netlink_check_allowed(f->cat, "ext", "q", &err), -1);
	assert_int_equal(err.code, CMN_EDENIED);
	assert_non_null(strstr(err.msg, "networklink_not_allowed"));
	op_ok(f, "DROP NETWORKLINK ext");
	assert_int_equal(sch_netlink_check_allowed(f->cat, "ext", "p", &err), -1);
	assert_non_null(strstr(err.msg, "networklink_not_found"));
	expect_use(f, "RAM$a:bob", "p", "ext", false, "networklink_not_found");
	expect_use(f, "ALIYUN$own", "p", "ext", false, "networklink_not_found");
	/* re-created: starts with no project and no grant */
	op_ok(f, "CREATE NETWORKLINK ext ALLOW '192.0.2.7:443'; ALLOW PROJECT p TO USE"
		 " NETWORKLINK ext");
	expect_use(f, "RAM$a:bob", "p", "ext", false, "no_privilege");
}

static void test_project_deleted(void **state)
{
	struct fx *f = *state;
	struct cmn_err err = CMN_ERR_INIT;
	json_t *r = NULL;

	op_ok(f, "CREATE NETWORKLINK ext ALLOW '192.0.2.7:443'; ALLOW PROJECT p TO USE"
		 " NETWORKLINK ext");
	expect_use(f, "ALIYUN$own", "p", "ext", true, "owner");
	exec_ok(f, "DELETE FROM projects WHERE name = 'p';"
		   "INSERT INTO projects VALUES ('p', 'ALIYUN$own', 1)");
	expect_use(f, "ALIYUN$own", "p", "ext", false, "networklink_not_allowed");
	assert_int_equal(run_as(f, "ALIYUN$root", true, "SHOW NETWORKLINKS", &r, &err), 1);
	assert_string_equal(
	    json_string_value(json_array_get(json_array_get(json_object_get(r, "rows"), 0), 2)),
	    "");
	json_decref(r);
	op_ok(f, "DROP NETWORKLINK ext");
}

static void test_apply_and_gateway(void **state)
{
	struct fx *f = *state;
	struct cmn_err err = CMN_ERR_INIT;

	/* no gateway configured: refused before the overlay is touched */
	assert_int_equal(sch_netlinks_apply(NULL, f->cat, "ext", NULL, &err), -1);
	assert_int_equal(err.code, CMN_EUNAVAIL);
	assert_non_null(strstr(err.msg, "network links are not configured on this server"));
	assert_int_equal(sch_netlinks_check_gateway("/proc/self/ns/net", &err), 0);
	assert_int_equal(sch_netlinks_check_gateway("/proc/self/ns/uts", &err), -1);
	assert_int_equal(err.code, CMN_EINVAL);
	assert_int_equal(sch_netlinks_check_gateway("/nonexistent/netns", &err), -1);
	assert_int_equal(sch_netlinks_check_gateway("/etc/hostname", &err), -1);
}

static void test_explain_permission(void **state)
{
	struct fx *f = *state;
	struct sch_principal bob = who("RAM$a:bob", false);
	struct sch_stmt_ctx ctx = { .cat = f->cat, .principal = &bob, .project = "p" };
	struct cmn_err err = CMN_ERR_INIT;
	const char *sql = "EXPLAIN PERMISSION CREATE NETWORKLINK x ALLOW '192.0.2.7:443'";
	json_t *r = NULL, *row;

	assert_int_equal(sch_authz_stmt_handler(&ctx, sql, strlen(sql), &r, &err), 1);
	row = json_array_get(json_object_get(r, "rows"), 0);
	assert_string_equal(json_string_value(json_array_get(row, 1)), "odps:CreateNetworklink");
	assert_string_equal(json_string_value(json_array_get(row, 2)), "acs:odps:*:networklinks/x");
	assert_string_equal(json_string_value(json_array_get(row, 3)), "deny");
	assert_string_equal(json_string_value(json_array_get(row, 4)), "operator_only");
	json_decref(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test_setup_teardown(test_create_validation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_operators_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transaction_and_audit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_use_decision, setup, teardown),
		cmocka_unit_test_setup_teardown(test_project_deleted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_and_gateway, setup, teardown),
		cmocka_unit_test_setup_teardown(test_explain_permission, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
