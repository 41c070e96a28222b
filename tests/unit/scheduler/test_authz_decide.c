/* Unit tests of the decision function and the model: resource names, the
 * order of the rules (super admin, owner, membership, policy Deny, ACL,
 * labels, protection), registry cascades and migrations, on a real catalog
 * in a temporary directory. */
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

struct fx {
	char dir[64];
	char path[128];
	struct sch_catalog *cat;
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
	struct sch_authz_column cols[] = { { "a", -1, false },
					   { "b", 3, false },
					   { "dt", -1, true } };

	snprintf(f->dir, sizeof(f->dir), "/tmp/cordon-authz-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/catalog.db", f->dir);
	assert_int_equal(sch_catalog_open(&f->cat, f->path, &err), 0);
	assert_int_equal(sch_authz_migrate(f->cat, &err), 0);
	exec_ok(f,
		"CREATE TABLE IF NOT EXISTS projects (name TEXT PRIMARY KEY, owner TEXT NOT NULL,"
		" created_at INTEGER NOT NULL);"
		"INSERT INTO projects VALUES ('p', 'ALIYUN$own', 0), ('q', 'ALIYUN$q', 0);"
		"INSERT INTO authz_members VALUES ('p', 'RAM$a:bob', 'x', 0);"
		"INSERT INTO authz_members VALUES ('q', 'RAM$a:bob', 'x', 0);");
	/* again, now that the API's projects table exists: idempotent, and it
	 * ties the model to project deletion */
	assert_int_equal(sch_authz_migrate(f->cat, &err), 0);
	assert_int_equal(sch_authz_object_create(f->cat, "p", SCH_OBJ_TABLE, "t", "ALIYUN$own",
						 false, cols, 3, &err),
			 0);
	assert_int_equal(sch_authz_object_create(f->cat, "q", SCH_OBJ_TABLE, "w", "ALIYUN$q", false,
						 cols, 1, &err),
			 0);
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
	sch_authz_clock_offset(0);
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

static const char *decide(struct fx *f, const char *name, const char *action, const char *project,
			  const char *table, const char *column, struct sch_authz_decision *d)
{
	struct sch_principal p = who(name, strcmp(name, "ALIYUN$root") == 0);
	struct sch_authz_resource r = { project, table ? SCH_OBJ_TABLE : SCH_OBJ_PROJECT, table,
					column };
	struct sch_authz_context ctx = { .project = project, .source_ip = "10.0.0.1" };
	struct cmn_err err = CMN_ERR_INIT;
	assert_int_equal(sch_authz_decide(f->cat, &p, action, &r, &ctx, d, &err), 0);
	return d->rule;
}

static void test_resource_names(void **state)
{
	char buf[SCH_AUTHZ_RESOURCE_MAX];
	struct sch_authz_resource r = { "p", SCH_OBJ_TABLE, "t", "c" };
	(void)state;
	sch_authz_resource_name(&r, buf, sizeof(buf));
	assert_string_equal(buf, "acs:odps:*:projects/p/tables/t/columns/c");
	r.column = NULL;
	r.type = SCH_OBJ_FUNCTION;
	sch_authz_resource_name(&r, buf, sizeof(buf));
	assert_string_equal(buf, "acs:odps:*:projects/p/functions/t");
	r.type = SCH_OBJ_PROJECT;
	sch_authz_resource_name(&r, buf, sizeof(buf));
	assert_string_equal(buf, "acs:odps:*:projects/p");
	r.type = SCH_OBJ_NETWORKLINK;
	r.name = "l";
	sch_authz_resource_name(&r, buf, sizeof(buf));
	assert_string_equal(buf, "acs:odps:*:projects/p/networklinks/l");
	r.project = NULL;
	sch_authz_resource_name(&r, buf, sizeof(buf));
	assert_string_equal(buf, "acs:odps:*:networklinks/l");
}

static void test_order(void **state)
{
	struct fx *f = *state;
	struct sch_authz_decision d;

	assert_string_equal(decide(f, "ALIYUN$root", "odps:Drop", "p", "t", NULL, &d),
			    "super_admin");
	assert_true(d.allow);
	assert_string_equal(decide(f, "ALIYUN$own", "odps:Select", "p", "t", "b", &d), "owner");
	assert_string_equal(decide(f, "RAM$a:eve", "odps:Select", "p", "t", "a", &d), "not_member");
	assert_false(d.allow);
	assert_non_null(strstr(d.reason, "[4002]"));
	assert_string_equal(decide(f, "RAM$a:bob", "odps:Select", "p", "t", "a", &d),
			    "no_privilege");
	assert_non_null(strstr(d.reason,
			       "Authorization Failed [4011]: You have no privilege "
			       "'odps:Select' on {acs:odps:*:projects/p/tables/t/columns/a}"));
	assert_non_null(strstr(d.reason, "RAM$a:bob"));
	exec_ok(f,
		"INSERT INTO authz_acl (project, object_type, object_name, object_id, grantee_type,"
		" grantee, action, granted_by, granted_at) SELECT 'p', 'table', 't', id, 'user',"
		" 'RAM$a:bob', 'Select', 'x', 0 FROM authz_objects WHERE name = 't'");
	assert_string_equal(decide(f, "RAM$a:bob", "odps:Select", "p", "t", "a", &d), "acl");
	assert_true(d.allow);
	/* an explicit Deny wins over the ACL */
	exec_ok(f, "INSERT INTO authz_policies VALUES ('p', '', '{\"Version\":\"1\",\"Statement\":"
		   "[{\"Effect\":\"Deny\",\"Principal\":\"RAM$a:*\",\"Action\":\"odps:Sel*\","
		   "\"Resource\":\"acs:odps:*:projects/p/tables/t/columns/b\"}]}', 0)");
	assert_string_equal(decide(f, "RAM$a:bob", "odps:Select", "p", "t", "b", &d),
			    "policy_deny");
	assert_non_null(strstr(d.reason, "[4019]"));
	assert_string_equal(decide(f, "RAM$a:bob", "odps:Select", "p", "t", "a", &d), "acl");
	/* the owner is not bound by policies */
	assert_string_equal(decide(f, "ALIYUN$own", "odps:Select", "p", "t", "b", &d), "owner");
	/* owner-only statement actions */
	assert_string_equal(
	    decide(f, "RAM$a:bob", "odps:SetSecurityConfiguration", "p", NULL, NULL, &d),
	    "owner_only");
	assert_string_equal(decide(f, "RAM$a:bob", "odps:ListUsers", "p", NULL, NULL, &d),
			    "member");
	assert_string_equal(decide(f, "RAM$a:bob", "odps:Select", "nope", "t", NULL, &d),
			    "not_found");
}

static void test_labels(void **state)
{
	struct fx *f = *state;
	struct sch_authz_decision d;

	exec_ok(f,
		"INSERT INTO authz_acl (project, object_type, object_name, object_id, grantee_type,"
		" grantee, action, granted_by, granted_at) SELECT 'p', 'table', 't', id, 'user',"
		" 'RAM$a:bob', 'All', 'x', 0 FROM authz_objects WHERE name = 't';"
		"INSERT INTO authz_project_flags (project, label_security) VALUES ('p', 1);"
		"INSERT INTO authz_user_labels VALUES ('p', 'RAM$a:bob', 2)");
	assert_string_equal(decide(f, "RAM$a:bob", "odps:Select", "p", "t", "b", &d), "label");
	assert_non_null(strstr(d.reason, "label 3 of column 'b' is above your level 2"));
	assert_string_equal(decide(f, "RAM$a:bob", "odps:Select", "p", "t", "a", &d), "acl");
	assert_string_equal(decide(f, "RAM$a:bob", "odps:Select", "p", "t", "dt", &d), "acl");
	/* writes are not label-checked */
	assert_string_equal(decide(f, "RAM$a:bob", "odps:Update", "p", "t", NULL, &d), "acl");
	exec_ok(f,
		"INSERT INTO authz_label_grants (project, object_id, column_name, grantee_type,"
		" grantee, level, expires_at, granted_by) SELECT 'p', id, 'b', 'user', 'RAM$a:bob',"
		" 3, strftime('%s','now') + 86400, 'x' FROM authz_objects WHERE name = 't'");
	assert_string_equal(decide(f, "RAM$a:bob", "odps:Select", "p", "t", "b", &d),
			    "label_grant");
	sch_authz_clock_offset(2 * 86400);
	assert_string_equal(decide(f, "RAM$a:bob", "odps:Select", "p", "t", "b", &d), "label");
}

static void test_protection(void **state)
{
	struct fx *f = *state;
	struct sch_principal bob = who("RAM$a:bob", false);
	struct sch_authz_read rd = { "p", "t", false };
	struct sch_authz_resource w = { "q", SCH_OBJ_TABLE, "w", NULL };
	struct sch_authz_context ctx = { .project = "q", .reads = &rd, .nreads = 1 };
	struct sch_authz_decision d;
	struct cmn_err err = CMN_ERR_INIT;

	exec_ok(f,
		"INSERT INTO authz_acl (project, object_type, object_name, object_id, grantee_type,"
		" grantee, action, granted_by, granted_at) SELECT 'q', 'table', 'w', id, 'user',"
		" 'RAM$a:bob', 'Update', 'x', 0 FROM authz_objects WHERE name = 'w';"
		"INSERT INTO authz_project_flags (project, protection) VALUES ('p', 1)");
	assert_int_equal(sch_authz_decide(f->cat, &bob, "odps:Update", &w, &ctx, &d, &err), 0);
	assert_false(d.allow);
	assert_string_equal(d.rule, "protection");
	assert_non_null(strstr(d.reason, "[4021]: project 'p' is protected"));
	rd.via_package = true;
	assert_int_equal(sch_authz_decide(f->cat, &bob, "odps:Update", &w, &ctx, &d, &err), 0);
	assert_true(d.allow);
	rd.via_package = false;
	exec_ok(f, "INSERT INTO authz_trusted VALUES ('p', 'q')");
	assert_int_equal(sch_authz_decide(f->cat, &bob, "odps:Update", &w, &ctx, &d, &err), 0);
	assert_true(d.allow);
	assert_string_equal(d.rule, "trusted_project");
}

/* Functions, resources and network links go through the same ACL path:
 * the SQL jobs module asks odps:Execute, odps:Read and odps:Use. */
static void test_other_object_types(void **state)
{
	struct fx *f = *state;
	struct cmn_err err = CMN_ERR_INIT;
	struct sch_principal bob = who("RAM$a:bob", false);
	struct sch_authz_resource fn = { "p", SCH_OBJ_FUNCTION, "mask", NULL };
	struct sch_authz_resource link = { "p", SCH_OBJ_NETWORKLINK, "egress", NULL };
	struct sch_authz_context ctx = { .project = "p" };
	struct sch_authz_decision d;

	assert_int_equal(sch_authz_object_create(f->cat, "p", SCH_OBJ_FUNCTION, "mask",
						 "ALIYUN$own", false, NULL, 0, &err),
			 0);
	assert_int_equal(sch_authz_object_create(f->cat, "p", SCH_OBJ_NETWORKLINK, "egress",
						 "ALIYUN$root", false, NULL, 0, &err),
			 0);
	assert_int_equal(sch_authz_decide(f->cat, &bob, "odps:Execute", &fn, &ctx, &d, &err), 0);
	assert_false(d.allow);
	assert_int_equal(sch_authz_decide(f->cat, &bob, "odps:Use", &link, &ctx, &d, &err), 0);
	assert_false(d.allow);
	assert_non_null(strstr(d.reason, "{acs:odps:*:projects/p/networklinks/egress}"));
	exec_ok(f,
		"INSERT INTO authz_acl (project, object_type, object_name, object_id, grantee_type,"
		" grantee, action, granted_by, granted_at) SELECT 'p', type, name, id, 'user',"
		" 'RAM$a:bob', CASE type WHEN 'function' THEN 'Execute' ELSE 'Use' END, 'x', 0"
		" FROM authz_objects WHERE name IN ('mask', 'egress')");
	assert_int_equal(sch_authz_decide(f->cat, &bob, "odps:Execute", &fn, &ctx, &d, &err), 0);
	assert_true(d.allow);
	assert_int_equal(sch_authz_decide(f->cat, &bob, "odps:Use", &link, &ctx, &d, &err), 0);
	assert_true(d.allow);
	/* Execute does not imply Write */
	assert_int_equal(sch_authz_decide(f->cat, &bob, "odps:Write", &fn, &ctx, &d, &err), 0);
	assert_false(d.allow);
}

static void test_registry_cascade(void **state)
{
	struct fx *f = *state;
	struct cmn_err err = CMN_ERR_INIT;
	struct sch_authz_column bad[] = { { "dt", 2, true } };
	int64_t n = -1;
	sqlite3_stmt *st;

	exec_ok(f,
		"INSERT INTO authz_acl (project, object_type, object_name, object_id, grantee_type,"
		" grantee, action, granted_by, granted_at) SELECT 'p', 'table', 't', id, 'user',"
		" 'RAM$a:bob', 'Select', 'x', 0 FROM authz_objects WHERE name = 't'");
	assert_int_equal(
	    sch_authz_object_create(f->cat, "p", SCH_OBJ_TABLE, "t", "x", false, NULL, 0, &err),
	    -1);
	assert_int_equal(err.code, CMN_EEXIST);
	assert_int_equal(
	    sch_authz_object_create(f->cat, "p", SCH_OBJ_TABLE, "t2", "x", false, bad, 1, &err),
	    -1);
	assert_non_null(strstr(err.msg, "cannot be labelled"));
	assert_int_equal(sch_authz_object_drop(f->cat, "p", SCH_OBJ_TABLE, "t", &err), 0);
	assert_int_equal(sch_authz_object_drop(f->cat, "p", SCH_OBJ_TABLE, "t", &err), -1);
	assert_int_equal(err.code, CMN_ENOTFOUND);
	assert_int_equal(
	    sqlite3_prepare_v2(sch_catalog_db(f->cat),
			       "SELECT (SELECT COUNT(*) FROM authz_acl) +"
			       " (SELECT COUNT(*) FROM authz_columns c JOIN authz_objects o"
			       " ON o.id = c.object_id WHERE o.project = 'p')",
			       -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	assert_int_equal(n, 0);
}

static void test_project_drop(void **state)
{
	struct fx *f = *state;
	struct cmn_err err = CMN_ERR_INIT;
	struct sch_authz_decision d;
	sqlite3_stmt *st;
	int64_t n;

	exec_ok(f,
		"INSERT INTO authz_acl (project, object_type, object_name, object_id, grantee_type,"
		" grantee, action, granted_by, granted_at) SELECT 'p', 'table', 't', id, 'user',"
		" 'RAM$a:bob', 'Select', 'x', 0 FROM authz_objects WHERE name = 't';"
		"INSERT INTO authz_trusted VALUES ('q', 'p');"
		"INSERT INTO authz_roles VALUES ('p', 'r', 0);"
		"INSERT INTO authz_role_members VALUES ('p', 'r', 'RAM$a:bob')");
	assert_string_equal(decide(f, "RAM$a:bob", "odps:Select", "p", "t", "a", &d), "acl");
	assert_int_equal(sch_authz_project_drop(f->cat, "p", &err), 0);
	assert_int_equal(
	    sqlite3_prepare_v2(sch_catalog_db(f->cat),
			       "SELECT (SELECT COUNT(*) FROM authz_acl) + (SELECT COUNT(*)"
			       " FROM authz_members WHERE project = 'p') + (SELECT COUNT(*)"
			       " FROM authz_trusted) + (SELECT COUNT(*) FROM authz_objects"
			       " WHERE project = 'p') + (SELECT COUNT(*) FROM"
			       " authz_role_members)",
			       -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	assert_int_equal(n, 0);
	/* re-created under the same name: bob is nobody there */
	assert_int_equal(sch_authz_object_create(f->cat, "p", SCH_OBJ_TABLE, "t", "ALIYUN$own",
						 false, NULL, 0, &err),
			 0);
	assert_string_equal(decide(f, "RAM$a:bob", "odps:Select", "p", "t", NULL, &d),
			    "not_member");
}

static void test_project_delete_trigger(void **state)
{
	struct fx *f = *state;
	struct sch_authz_decision d;

	exec_ok(f,
		"INSERT INTO authz_acl (project, object_type, object_name, object_id, grantee_type,"
		" grantee, action, granted_by, granted_at) SELECT 'p', 'table', 't', id, 'user',"
		" 'RAM$a:bob', 'Select', 'x', 0 FROM authz_objects WHERE name = 't';"
		"INSERT INTO authz_trusted VALUES ('q', 'p')");
	assert_string_equal(decide(f, "RAM$a:bob", "odps:Select", "p", "t", "a", &d), "acl");
	exec_ok(f, "DELETE FROM projects WHERE name = 'p';"
		   "INSERT INTO projects VALUES ('p', 'ALIYUN$new', 1)");
	assert_string_equal(decide(f, "RAM$a:bob", "odps:Select", "p", "t", "a", &d), "not_member");
	exec_ok(f, "INSERT INTO authz_members VALUES ('p', 'RAM$a:bob', 'x', 0)");
	assert_string_equal(decide(f, "RAM$a:bob", "odps:Select", "p", "t", "a", &d),
			    "no_privilege");
	assert_string_equal(decide(f, "ALIYUN$new", "odps:Select", "p", "t", "a", &d), "owner");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resource_names),
		cmocka_unit_test_setup_teardown(test_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_labels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_protection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_object_types, setup, teardown),
		cmocka_unit_test_setup_teardown(test_registry_cascade, setup, teardown),
		cmocka_unit_test_setup_teardown(test_project_drop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_project_delete_trigger, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
