/* scheduler/authz_stmt.c — executors of the user, role, ACL, policy and
 * project-flag statements, EXPLAIN PERMISSION, WHOAMI and the query subset.
 *
 * Every executor first asks authz_ex_check() for each access the statement makes
 * and returns right after the checks when ex->explain is set, so EXPLAIN
 * PERMISSION reports exactly the decisions the statement would meet. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/cleanup.h"
#include "scheduler/authz_exec.h"
#include "scheduler/netlinks.h"
#include "scheduler/policy.h"
#include "scheduler/resolve.h"

/* ALIYUN$<account>, RAM$<account>:<user>, RAM$<account>:role/<r> */
static bool valid_principal(const char *n)
{
	const char *p;
	if (strncmp(n, "ALIYUN$", 7) == 0)
		return n[7] && !strpbrk(n + 7, ":/");
	if (strncmp(n, "RAM$", 4) != 0 || !(p = strchr(n + 4, ':')) || p == n + 4 || !p[1])
		return false;
	if (strncmp(p + 1, "role/", 5) == 0)
		return p[6] && !strchr(p + 6, '/');
	return !strchr(p + 1, '/');
}

int authz_ex_require_member(struct exec *ex, const char *user)
{
	bool member;
	if (authz_is_member(ex->db, authz_ex_project(ex), user, &member, ex->err) < 0)
		return -1;
	if (!member)
		return authz_ex_fail(ex, CMN_ENOTFOUND, "user '%s' is not a member of project '%s'",
				     user, authz_ex_project(ex));
	return 0;
}

static int require_role(struct exec *ex, const char *role)
{
	int64_t v;
	bool found;
	if (authz_db_int(ex->db, ex->err, 0, &v, &found,
			 "SELECT 1 FROM authz_roles WHERE project = ?1 AND role = ?2", "ss",
			 authz_ex_project(ex), role) < 0)
		return -1;
	if (!found)
		return authz_ex_fail(ex, CMN_ENOTFOUND, "role '%s' does not exist in project '%s'",
				     role, authz_ex_project(ex));
	return 0;
}

int authz_ex_grantee_name(struct exec *ex, const struct sch_sql_stmt *s, char *out, size_t outlen)
{
	cleanup_free char *canon = NULL;

	if (!s->grantee_is_role) {
		snprintf(out, outlen, "%s", s->grantee);
		return 0;
	}
	/* role names ignore case; rows store the name as the role was created,
	 * so a REVOKE spelled differently still finds the grant */
	if (authz_db_text(ex->db, ex->err, &canon,
			  "SELECT role FROM authz_roles WHERE project = ?1 AND role = ?2", "ss",
			  authz_ex_project(ex), s->grantee) < 0)
		return -1;
	if (!canon)
		return authz_ex_fail(ex, CMN_ENOTFOUND, "role '%s' does not exist in project '%s'",
				     s->grantee, authz_ex_project(ex));
	snprintf(out, outlen, "%s", canon);
	return 0;
}

int authz_ex_require_grantee(struct exec *ex, const struct sch_sql_stmt *s)
{
	return s->grantee_is_role ? require_role(ex, s->grantee)
				  : authz_ex_require_member(ex, s->grantee);
}

int authz_ex_require_object(struct exec *ex, enum sch_sql_objtype type, const char *name,
			    int64_t *id)
{
	if (authz_object_id(ex->db, authz_ex_project(ex), type, name, id, ex->err) < 0)
		return -1;
	if (*id == 0)
		return authz_ex_fail(ex, CMN_ENOTFOUND, "%s '%s' does not exist in project '%s'",
				     sch_sql_objtype_name(type), name, authz_ex_project(ex));
	return 0;
}

int authz_ex_same_project(struct exec *ex, const struct sch_sql_name *n)
{
	if (n->project && strcmp(n->project, authz_ex_project(ex)) != 0)
		return authz_ex_fail(
		    ex, CMN_EINVAL,
		    "'%s.%s' is in another project: run the statement in project '%s'", n->project,
		    n->name, n->project);
	return 0;
}

/* ---- users and roles ----------------------------------------------------- */

static int x_user(struct exec *ex, const struct sch_sql_stmt *s, bool add)
{
	cleanup_free char *owner = NULL;
	bool member;

	if (authz_ex_check_project(ex, "odps:ManageUsers") < 0)
		return -1;
	if (ex->explain)
		return 0;
	if (!valid_principal(s->name))
		return authz_ex_fail(
		    ex, CMN_EINVAL,
		    "'%s' is not a principal name (ALIYUN$<account>, RAM$<account>:<user>"
		    " or RAM$<account>:role/<role>)",
		    s->name);
	if (authz_is_member(ex->db, authz_ex_project(ex), s->name, &member, ex->err) < 0)
		return -1;
	if (add && member)
		return authz_ex_fail(ex, CMN_EEXIST,
				     "user '%s' is already a member of project '%s'", s->name,
				     authz_ex_project(ex));
	if (!add && !member)
		return authz_ex_fail(ex, CMN_ENOTFOUND, "user '%s' is not a member of project '%s'",
				     s->name, authz_ex_project(ex));
	if (authz_project_owner(ex->db, authz_ex_project(ex), &owner, ex->err) < 0)
		return -1;
	if (!add && owner && strcmp(owner, s->name) == 0)
		return authz_ex_fail(ex, CMN_EINVAL, "the project owner cannot be removed");
	/* REMOVE USER keeps the user's ACL entries and role memberships: they
	 * stay inert until the user is added again (MaxCompute's behaviour) */
	if (add ? authz_db_run(ex->db, ex->err,
			       "INSERT INTO authz_members (project, user, added_by, added_at)"
			       " VALUES (?1, ?2, ?3, ?4)",
			       "sssi", authz_ex_project(ex), s->name, ex->ctx->principal->name,
			       sch_authz_now())
		: authz_db_run(ex->db, ex->err,
			       "DELETE FROM authz_members WHERE project = ?1 AND user = ?2", "ss",
			       authz_ex_project(ex), s->name))
		return -1;
	if (authz_ex_audit_change(ex, add ? "AddUser" : "RemoveUser", s->name) < 0)
		return -1;
	return authz_ex_ok(ex);
}

static int x_role(struct exec *ex, const struct sch_sql_stmt *s, bool create)
{
	int64_t v;
	bool found;

	if (authz_ex_check_project(ex, "odps:ManageRoles") < 0)
		return -1;
	if (ex->explain)
		return 0;
	if (strcasecmp(s->name, "admin") == 0)
		return authz_ex_fail(ex, CMN_EINVAL, "role 'admin' is built in");
	if (authz_db_int(ex->db, ex->err, 0, &v, &found,
			 "SELECT 1 FROM authz_roles WHERE project = ?1 AND role = ?2", "ss",
			 authz_ex_project(ex), s->name) < 0)
		return -1;
	if (create && found)
		return authz_ex_fail(ex, CMN_EEXIST, "role '%s' already exists", s->name);
	if (!create && !found)
		return authz_ex_fail(ex, CMN_ENOTFOUND, "role '%s' does not exist", s->name);
	if (create) {
		if (authz_db_run(
			ex->db, ex->err,
			"INSERT INTO authz_roles (project, role, created_at) VALUES (?1, ?2, ?3)",
			"ssi", authz_ex_project(ex), s->name, sch_authz_now()) < 0)
			return -1;
	} else {
		/* members go by cascade; grants to the role and its policy go with it */
		if (authz_db_run(
			ex->db, ex->err,
			"DELETE FROM authz_acl WHERE project = ?1 AND grantee_type = 'role'"
			" AND grantee = ?2 COLLATE NOCASE",
			"ss", authz_ex_project(ex), s->name) < 0 ||
		    authz_db_run(ex->db, ex->err,
				 "DELETE FROM authz_label_grants WHERE project = ?1 AND"
				 " grantee_type = 'role' AND grantee = ?2 COLLATE NOCASE",
				 "ss", authz_ex_project(ex), s->name) < 0 ||
		    authz_db_run(ex->db, ex->err,
				 "DELETE FROM authz_policies WHERE project = ?1 AND role = ?2",
				 "ss", authz_ex_project(ex), s->name) < 0 ||
		    authz_db_run(ex->db, ex->err,
				 "DELETE FROM authz_roles WHERE project = ?1 AND role = ?2", "ss",
				 authz_ex_project(ex), s->name) < 0)
			return -1;
	}
	if (authz_ex_audit_change(ex, create ? "CreateRole" : "DropRole", s->name) < 0)
		return -1;
	return authz_ex_ok(ex);
}

static int x_role_member(struct exec *ex, const struct sch_sql_stmt *s, bool grant)
{
	bool admin = strcasecmp(s->name, "admin") == 0;
	int before;

	/* making someone an administrator is the owner's call alone */
	if (authz_ex_check_project(ex, admin ? "odps:SetSecurityConfiguration"
					     : "odps:ManageRoles") < 0)
		return -1;
	if (ex->explain)
		return 0;
	if (require_role(ex, s->name) < 0)
		return -1;
	if (grant && authz_ex_require_member(ex, s->grantee) < 0)
		return -1;
	before = sqlite3_total_changes(ex->db);
	if (grant ? authz_db_run(ex->db, ex->err,
				 "INSERT OR IGNORE INTO authz_role_members (project, role, user)"
				 " VALUES (?1, (SELECT role FROM authz_roles WHERE project = ?1 AND"
				 " role = ?2), ?3)",
				 "sss", authz_ex_project(ex), s->name, s->grantee)
		  : authz_db_run(ex->db, ex->err,
				 "DELETE FROM authz_role_members WHERE project = ?1 AND role = ?2"
				 " AND user = ?3",
				 "sss", authz_ex_project(ex), s->name, s->grantee))
		return -1;
	if (!grant && sqlite3_total_changes(ex->db) == before)
		return authz_ex_fail(ex, CMN_ENOTFOUND, "user '%s' does not have role '%s'",
				     s->grantee, s->name);
	if (authz_ex_audit_change(ex, grant ? "GrantRole" : "RevokeRole", s->grantee) < 0)
		return -1;
	return authz_ex_ok(ex);
}

static int x_list(struct exec *ex, const char *action, const char *col, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (authz_ex_check_project(ex, action) < 0)
		return -1;
	if (ex->explain)
		return 0;
	if (authz_ex_result(ex, &col, 1) < 0 ||
	    authz_db_query(ex->db, ex->err, &st, sql, "s", authz_ex_project(ex)) < 0)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (authz_ex_row(ex, "s", (const char *)sqlite3_column_text(st, 0)) < 0)
			break;
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : cmn_err_set(ex->err, CMN_EIO, 0, "catalog read failed");
}

static int x_desc_role(struct exec *ex, const struct sch_sql_stmt *s)
{
	static const char *const cols[] = { "kind", "name", "action", "column" };
	sqlite3_stmt *st = NULL;
	int rc;

	if (authz_ex_check_project(ex, "odps:DescribeRole") < 0)
		return -1;
	if (ex->explain)
		return 0;
	if (require_role(ex, s->name) < 0 || authz_ex_result(ex, cols, 4) < 0)
		return -1;
	if (authz_db_query(
		ex->db, ex->err, &st,
		"SELECT 'user', user, NULL, NULL FROM authz_role_members WHERE"
		" project = ?1 AND role = ?2 UNION ALL"
		" SELECT object_type, object_name, action, column_name FROM authz_acl"
		" WHERE project = ?1 AND grantee_type = 'role' AND grantee = ?2 COLLATE NOCASE",
		"ss", authz_ex_project(ex), s->name) < 0)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (authz_ex_row(ex, "ssss", sqlite3_column_text(st, 0), sqlite3_column_text(st, 1),
				 sqlite3_column_text(st, 2), sqlite3_column_text(st, 3)) < 0)
			break;
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : cmn_err_set(ex->err, CMN_EIO, 0, "catalog read failed");
}

/* ---- ACL ------------------------------------------------------------------ */

int authz_ex_require_columns(struct exec *ex, int64_t id, const struct sch_sql_list *cols)
{
	for (size_t i = 0; i < cols->n; i++) {
		int64_t v;
		bool found;
		if (authz_db_int(ex->db, ex->err, 0, &v, &found,
				 "SELECT 1 FROM authz_columns WHERE object_id = ?1 AND name = ?2",
				 "is", id, cols->v[i]) < 0)
			return -1;
		if (!found)
			return authz_ex_fail(ex, CMN_ENOTFOUND, "column '%s' does not exist",
					     cols->v[i]);
	}
	return 0;
}

static int acl_write(struct exec *ex, const struct sch_sql_stmt *s, const char *grantee, int64_t id,
		     const char *action, const char *column, bool grant)
{
	const char *name = s->obj_type == SCH_OBJ_PROJECT ? authz_ex_project(ex) : s->obj.name;
	const char *gtype = s->grantee_is_role ? "role" : "user";

	/* re-granting replaces (a new expiry wins); revoking without columns
	 * removes the column-level rows of that action as well */
	if (authz_db_run(ex->db, ex->err,
			 "DELETE FROM authz_acl WHERE project = ?1 AND object_type = ?2 AND"
			 " object_name = ?3 AND grantee_type = ?4 AND grantee = ?5 AND action = ?6"
			 " AND (?8 = 0 OR column_name IS ?7)",
			 "sssssssi", authz_ex_project(ex), authz_type_db(s->obj_type), name, gtype,
			 grantee, action, column, (int64_t)(grant || column)) < 0)
		return -1;
	if (!grant)
		return 0;
	return authz_db_run(
	    ex->db, ex->err,
	    "INSERT INTO authz_acl (project, object_type, object_name, object_id, grantee_type,"
	    " grantee, action, column_name, expires_at, granted_by, granted_at) VALUES (?1, ?2,"
	    " ?3, CASE WHEN ?4 = 0 THEN NULL ELSE ?4 END, ?5, ?6, ?7, ?8,"
	    " CASE WHEN ?9 < 0 THEN NULL ELSE ?9 END, ?10, ?11)",
	    "sssissssisi", authz_ex_project(ex), authz_type_db(s->obj_type), name, id, gtype,
	    grantee, action, column, s->has_days ? sch_authz_now() + s->days * 86400 : (int64_t)-1,
	    ex->ctx->principal->name, sch_authz_now());
}

/* GRANT/REVOKE actions ON <type> <obj> [(cols)] TO|FROM USER|ROLE x */
static int x_acl(struct exec *ex, const struct sch_sql_stmt *s, bool grant)
{
	const char *canon[64];
	char gname[256];
	int64_t id = 0;
	int before;

	if (authz_ex_same_project(ex, &s->obj) < 0)
		return -1;
	if (s->obj_type == SCH_OBJ_PROJECT && strcmp(s->obj.name, authz_ex_project(ex)) != 0)
		return authz_ex_fail(ex, CMN_EINVAL, "project '%s' is not the current project '%s'",
				     s->obj.name, authz_ex_project(ex));
	if (authz_ex_check_obj(ex, "odps:Grant", s->obj_type,
			       s->obj_type == SCH_OBJ_PROJECT ? NULL : s->obj.name) < 0)
		return -1;
	if (ex->explain)
		return 0;
	if (s->actions.n > CMN_ARRAY_SIZE(canon))
		return authz_ex_fail(ex, CMN_EINVAL, "too many privileges");
	for (size_t i = 0; i < s->actions.n; i++) {
		canon[i] = authz_canon_action(s->obj_type, s->actions.v[i]);
		if (!canon[i])
			return authz_ex_fail(ex, CMN_EINVAL, "'%s' is not a privilege of a %s",
					     s->actions.v[i], sch_sql_objtype_name(s->obj_type));
	}
	if (s->obj_type != SCH_OBJ_PROJECT &&
	    authz_ex_require_object(ex, s->obj_type, s->obj.name, &id) < 0)
		return -1;
	if (authz_ex_require_columns(ex, id, &s->columns) < 0)
		return -1;
	if ((grant && authz_ex_require_grantee(ex, s) < 0) ||
	    authz_ex_grantee_name(ex, s, gname, sizeof(gname)) < 0)
		return -1;
	before = sqlite3_total_changes(ex->db);
	for (size_t i = 0; i < s->actions.n; i++) {
		if (s->columns.n == 0 && acl_write(ex, s, gname, id, canon[i], NULL, grant) < 0)
			return -1;
		for (size_t c = 0; c < s->columns.n; c++)
			if (acl_write(ex, s, gname, id, canon[i], s->columns.v[c], grant) < 0)
				return -1;
	}
	/* a REVOKE that matched nothing is an error, never a silent OK: the
	 * caller would believe a privilege is gone that is not */
	if (!grant && sqlite3_total_changes(ex->db) == before)
		return authz_ex_fail(ex, CMN_ENOTFOUND, "%s '%s' has no such privilege on %s '%s'",
				     s->grantee_is_role ? "role" : "user", gname,
				     sch_sql_objtype_name(s->obj_type), s->obj.name);
	if (authz_ex_audit_change(ex, grant ? "Grant" : "Revoke", s->grantee) < 0)
		return -1;
	return authz_ex_ok(ex);
}

static const char *const grant_cols[] = { "grantee_type", "grantee", "object_type", "object",
					  "action",       "column",  "expires_at" };

static int grant_rows(struct exec *ex, sqlite3_stmt *st)
{
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (authz_ex_row(ex, "sssssss", sqlite3_column_text(st, 0),
				 sqlite3_column_text(st, 1), sqlite3_column_text(st, 2),
				 sqlite3_column_text(st, 3), sqlite3_column_text(st, 4),
				 sqlite3_column_text(st, 5), sqlite3_column_text(st, 6)) < 0)
			break;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : cmn_err_set(ex->err, CMN_EIO, 0, "catalog read failed");
}

static int x_show_grants(struct exec *ex, const struct sch_sql_stmt *s)
{
	const char *who = s->grantee ? s->grantee : ex->ctx->principal->name;
	bool own = !s->grantee_is_role && strcmp(who, ex->ctx->principal->name) == 0;
	sqlite3_stmt *st = NULL;

	if (authz_ex_check_project(ex, own ? "odps:ShowOwnGrants" : "odps:ShowGrants") < 0)
		return -1;
	if (ex->explain)
		return 0;
	if (authz_ex_result(ex, grant_cols, CMN_ARRAY_SIZE(grant_cols)) < 0)
		return -1;
	if (authz_db_query(
		ex->db, ex->err, &st,
		"SELECT grantee_type, grantee, object_type, object_name, action,"
		" column_name, strftime('%Y-%m-%dT%H:%M:%SZ', expires_at, 'unixepoch') FROM "
		"authz_acl WHERE project = ?1"
		" AND (?4 = '' OR object_type = ?4) AND ((grantee_type = ?3 AND"
		" grantee = ?2) OR (?3 = 'user' AND grantee_type = 'role' AND grantee IN"
		" (SELECT role FROM authz_role_members WHERE project = ?1 AND user = ?2)))"
		" ORDER BY id",
		"ssss", authz_ex_project(ex), who, s->grantee_is_role ? "role" : "user",
		s->filter_type ? authz_type_db(s->filter_type) : "") < 0)
		return -1;
	return grant_rows(ex, st);
}

static int x_show_acl(struct exec *ex, const struct sch_sql_stmt *s)
{
	sqlite3_stmt *st = NULL;
	int64_t id;

	if (authz_ex_same_project(ex, &s->obj) < 0)
		return -1;
	if (authz_ex_check_obj(ex, "odps:ShowAcl", s->obj_type,
			       s->obj_type == SCH_OBJ_PROJECT ? NULL : s->obj.name) < 0)
		return -1;
	if (ex->explain)
		return 0;
	if (s->obj_type != SCH_OBJ_PROJECT &&
	    authz_ex_require_object(ex, s->obj_type, s->obj.name, &id) < 0)
		return -1;
	if (authz_ex_result(ex, grant_cols, CMN_ARRAY_SIZE(grant_cols)) < 0)
		return -1;
	if (authz_db_query(ex->db, ex->err, &st,
			   "SELECT grantee_type, grantee, object_type, object_name, action,"
			   " column_name, strftime('%Y-%m-%dT%H:%M:%SZ', expires_at, 'unixepoch') "
			   "FROM authz_acl WHERE project = ?1"
			   " AND object_type = ?2 AND object_name = ?3 ORDER BY id",
			   "sss", authz_ex_project(ex), authz_type_db(s->obj_type),
			   s->obj_type == SCH_OBJ_PROJECT ? authz_ex_project(ex) : s->obj.name) < 0)
		return -1;
	return grant_rows(ex, st);
}

/* ---- policies and flags --------------------------------------------------- */

static int x_put_policy(struct exec *ex, const struct sch_sql_stmt *s)
{
	struct sch_policy *pol = NULL;

	if (authz_ex_check_project(ex, s->role ? "odps:PutRolePolicy" : "odps:PutPolicy") < 0)
		return -1;
	if (ex->explain)
		return 0;
	if (s->role && require_role(ex, s->role) < 0)
		return -1;
	if (sch_policy_parse(s->text, strlen(s->text),
			     s->role ? SCH_POLICY_ROLE : SCH_POLICY_PROJECT, &pol, ex->err) < 0)
		return authz_ex_fail(ex, CMN_EINVAL, "%s", ex->err->msg);
	sch_policy_free(pol);
	if (authz_db_run(ex->db, ex->err,
			 "INSERT INTO authz_policies (project, role, policy, updated_at)"
			 " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (project, role) DO UPDATE SET"
			 " policy = excluded.policy, updated_at = excluded.updated_at",
			 "sssi", authz_ex_project(ex), s->role ? s->role : "", s->text,
			 sch_authz_now()) < 0)
		return -1;
	if (authz_ex_audit_change(ex, "PutPolicy", s->role ? s->role : authz_ex_project(ex)) < 0)
		return -1;
	return authz_ex_ok(ex);
}

static int x_get_policy(struct exec *ex, const struct sch_sql_stmt *s)
{
	static const char *const cols[] = { "policy" };
	cleanup_free char *text = NULL;

	if (authz_ex_check_project(ex, "odps:GetPolicy") < 0)
		return -1;
	if (ex->explain)
		return 0;
	if (s->role && require_role(ex, s->role) < 0)
		return -1;
	if (authz_db_text(ex->db, ex->err, &text,
			  "SELECT policy FROM authz_policies WHERE project = ?1 AND role = ?2",
			  "ss", authz_ex_project(ex), s->role ? s->role : "") < 0)
		return -1;
	if (authz_ex_result(ex, cols, 1) < 0)
		return -1;
	return authz_ex_row(ex, "s", text ? text : "");
}

static const struct {
	const char *flag, *column;
} flag_columns[] = {
	{ "CheckPermissionUsingACL", "check_acl" },
	{ "CheckPermissionUsingPolicy", "check_policy" },
	{ "ObjectCreatorHasAccessPermission", "creator_access" },
	{ "ObjectCreatorHasGrantPermission", "creator_grant" },
	{ "LabelSecurity", "label_security" },
	{ "ProjectProtection", "protection" },
};

static int x_set_flag(struct exec *ex, const struct sch_sql_stmt *s)
{
	char sql[256];
	const char *col = NULL;

	if (authz_ex_check_project(ex, "odps:SetSecurityConfiguration") < 0)
		return -1;
	if (ex->explain)
		return 0;
	for (size_t i = 0; i < CMN_ARRAY_SIZE(flag_columns); i++)
		if (strcmp(flag_columns[i].flag, s->flag) == 0)
			col = flag_columns[i].column;
	if (!col)
		return authz_ex_fail(ex, CMN_EINVAL, "unknown flag '%s'", s->flag);
	if (s->text) {
		struct sch_policy *pol = NULL;
		if (!s->flag_value)
			return authz_ex_fail(ex, CMN_EINVAL,
					     "an exception policy needs ProjectProtection=true");
		if (sch_policy_parse(s->text, strlen(s->text), SCH_POLICY_EXCEPTION, &pol,
				     ex->err) < 0)
			return authz_ex_fail(ex, CMN_EINVAL, "exception %s", ex->err->msg);
		sch_policy_free(pol);
	}
	/* col comes from the table above, never from the statement text */
	snprintf(sql, sizeof(sql), "UPDATE authz_project_flags SET %s = ?2%s WHERE project = ?1",
		 col, strcmp(col, "protection") == 0 ? ", exception_policy = ?3" : "");
	if (authz_db_run(ex->db, ex->err, sql, "sis", authz_ex_project(ex), (int64_t)s->flag_value,
			 s->text) < 0)
		return -1;
	if (authz_ex_audit_change(ex, "SetSecurityConfiguration", s->flag) < 0)
		return -1;
	return authz_ex_ok(ex);
}

static int x_show_config(struct exec *ex)
{
	static const char *const cols[] = { "name", "value" };
	struct authz_flags f;
	cleanup_free char *exc = NULL;

	if (authz_ex_check_project(ex, "odps:ShowSecurityConfiguration") < 0)
		return -1;
	if (ex->explain)
		return 0;
	if (authz_project_flags(ex->db, authz_ex_project(ex), &f, ex->err) < 0 ||
	    authz_db_text(ex->db, ex->err, &exc,
			  "SELECT exception_policy FROM authz_project_flags WHERE project = ?1",
			  "s", authz_ex_project(ex)) < 0 ||
	    authz_ex_result(ex, cols, 2) < 0)
		return -1;
	if (authz_ex_row(ex, "ss", "CheckPermissionUsingACL", f.check_acl ? "true" : "false") < 0 ||
	    authz_ex_row(ex, "ss", "CheckPermissionUsingPolicy",
			 f.check_policy ? "true" : "false") < 0 ||
	    authz_ex_row(ex, "ss", "ObjectCreatorHasAccessPermission",
			 f.creator_access ? "true" : "false") < 0 ||
	    authz_ex_row(ex, "ss", "ObjectCreatorHasGrantPermission",
			 f.creator_grant ? "true" : "false") < 0 ||
	    authz_ex_row(ex, "ss", "LabelSecurity", f.label_security ? "true" : "false") < 0 ||
	    authz_ex_row(ex, "ss", "ProjectProtection", f.protection ? "true" : "false") < 0)
		return -1;
	return authz_ex_row(ex, "ss", "ProjectProtectionException", exc ? exc : "");
}

/* ---- query subset, EXPLAIN PERMISSION, WHOAMI ---------------------------- */

/* Whether the caller may see the table's schema (odps:Describe), asked of
 * the decision function without recording it: the answer only decides what
 * the explanation may reveal, it grants nothing. */
static int may_describe(struct exec *ex, const struct sch_authz_resource *table, bool *out)
{
	struct sch_authz_decision d;
	struct sch_authz_context actx = { .project = ex->ctx->project,
					  .source_ip = ex->ctx->source_ip,
					  .task_type = "SQL" };

	if (sch_authz_decide(ex->ctx->cat, ex->ctx->principal, "odps:Describe", table, &actx, &d,
			     ex->err) < 0)
		return -1;
	*out = d.allow;
	return 0;
}

static int check_named_columns(struct exec *ex, const struct sch_sql_stmt *s,
			       struct sch_authz_resource *r, int64_t id, bool visible)
{
	for (size_t i = 0; i < s->select_cols.n; i++) {
		int64_t v;
		bool found;
		if (visible) {
			if (authz_db_int(
				ex->db, ex->err, 0, &v, &found,
				"SELECT 1 FROM authz_columns WHERE object_id = ?1 AND name = ?2",
				"is", id, s->select_cols.v[i]) < 0)
				return -1;
			if (!found)
				return authz_ex_fail(ex, CMN_ENOTFOUND,
						     "column '%s' does not exist in table '%s.%s'",
						     s->select_cols.v[i], r->project, r->name);
		}
		r->column = s->select_cols.v[i];
		if (authz_ex_check(ex, "odps:Select", r, NULL) < 0)
			return -1;
	}
	return 0;
}

/* Column reads of the SELECT subset. Whether a table or column exists and
 * which columns `*` stands for are revealed only to callers who may
 * Describe the table; to anyone else the reads are decided as written
 * (`*` as one table-level read), so EXPLAIN cannot enumerate schemas. */
static int check_select(struct exec *ex, const struct sch_sql_stmt *s)
{
	const char *project = s->from.project ? s->from.project : authz_ex_project(ex);
	struct sch_authz_resource r = { project, SCH_OBJ_TABLE, s->from.name, NULL };
	sqlite3_stmt *st = NULL;
	int64_t id;
	bool visible;
	int rc;

	if (may_describe(ex, &r, &visible) < 0 ||
	    authz_object_id(ex->db, project, SCH_OBJ_TABLE, s->from.name, &id, ex->err) < 0)
		return -1;
	if (visible && id == 0)
		return authz_ex_fail(ex, CMN_ENOTFOUND, "table '%s.%s' does not exist", project,
				     s->from.name);
	if (check_named_columns(ex, s, &r, id, visible) < 0)
		return -1;
	if (!s->select_star)
		return 0;
	if (!visible) {
		r.column = NULL;
		return authz_ex_check(ex, "odps:Select", &r, NULL);
	}
	if (authz_db_query(ex->db, ex->err, &st,
			   "SELECT name FROM authz_columns WHERE object_id = ?1 ORDER BY position",
			   "i", id) < 0)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		r.column = (const char *)sqlite3_column_text(st, 0);
		if (authz_ex_check(ex, "odps:Select", &r, NULL) < 0) {
			sqlite3_finalize(st);
			return -1;
		}
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : cmn_err_set(ex->err, CMN_EIO, 0, "catalog read failed");
}

/* A statement of the query grammar over job tables: every access the
 * resolver collected (columns, functions, resources, network links, the
 * view owner's reads of base tables) goes through the same decisions.
 * Returns 1 when the statement names tables this module knows only from
 * its own registry; the subset path below handles those. */
static int x_query_full(struct exec *ex, const struct sch_sql_stmt *s)
{
	struct sch_q_resolved r;
	int rc = sch_q_collect(ex->ctx->cat, authz_ex_project(ex), s->q, &r, ex->err);

	if (rc != 0)
		return rc;
	for (size_t i = 0; i < r.acc.n && rc == 0; i++) {
		const struct sch_q_access *a = &r.acc.v[i];
		struct sch_authz_resource res = { a->project, a->type, a->name, a->column };
		struct sch_authz_context actx = { .project = ex->ctx->project,
						  .source_ip = ex->ctx->source_ip,
						  .task_type = "SQL" };
		struct sch_authz_decision d;
		json_t *row;

		if (!a->as_owner) {
			rc = authz_ex_check(ex, a->action, &res, NULL);
			continue;
		}
		if (sch_q_decide(ex->ctx->cat, ex->ctx->principal, &actx, a, &d, ex->err) < 0) {
			rc = -1;
			break;
		}
		row = json_pack("[sssss]", a->as_owner, a->action, d.resource,
				d.allow ? "allow" : "deny", d.rule ? d.rule : "");
		if (!row || json_array_append_new(ex->explain_rows, row) < 0)
			rc = cmn_err_set(ex->err, CMN_ENOMEM, 0, "out of memory");
	}
	sch_q_resolved_free(&r);
	return rc;
}

static int x_query(struct exec *ex, const struct sch_sql_stmt *s)
{
	struct sch_authz_resource r = { s->target.project ? s->target.project
							  : authz_ex_project(ex),
					SCH_OBJ_TABLE, s->target.name, NULL };
	const char *action = s->kind == SCH_SQL_DESC_TABLE   ? "odps:Describe"
			     : s->kind == SCH_SQL_DROP_TABLE ? "odps:Drop"
							     : "odps:Update";

	if (!ex->explain)
		return authz_ex_fail(ex, CMN_EINVAL,
				     "queries and table statements are not run here");
	if (s->q) {
		int rc = x_query_full(ex, s);
		if (rc <= 0)
			return rc;
		if (s->kind == SCH_SQL_QUERY)
			return authz_ex_fail(ex, CMN_ENOTFOUND,
					     "a table of the statement does not exist");
	}
	if (s->kind == SCH_SQL_SELECT || s->kind == SCH_SQL_INSERT) {
		if (check_select(ex, s) < 0)
			return -1;
		if (s->kind == SCH_SQL_SELECT)
			return 0;
	}
	return authz_ex_check(ex, action, &r, NULL);
}

static int x_explain(struct exec *ex, const struct sch_sql_stmt *s)
{
	static const char *const cols[] = { "principal", "action", "resource", "decision", "rule" };
	int rc;

	if (authz_ex_result(ex, cols, CMN_ARRAY_SIZE(cols)) < 0)
		return -1;
	ex->explain = true;
	ex->explain_rows = json_object_get(ex->result, "rows");
	rc = authz_run_stmt(ex, s->inner);
	ex->explain = false;
	ex->explain_rows = NULL;
	return rc;
}

static int x_whoami(struct exec *ex)
{
	/* the same three columns as GET /v1/whoami: one answer to "who am I" */
	static const char *const cols[] = { "principal", "account", "type" };
	static const char *const types[] = { "account", "user", "role" };
	const struct sch_principal *p = ex->ctx->principal;

	if (ex->explain)
		return 0;
	if (authz_ex_result(ex, cols, CMN_ARRAY_SIZE(cols)) < 0)
		return -1;
	return authz_ex_row(ex, "sss", p->name, p->account,
			    (unsigned)p->type < 3 ? types[p->type] : "unknown");
}

/* The operator statements on network links run in their own handler
 * (netlinks_stmt.c); here only EXPLAIN PERMISSION of one, which shows the
 * same decision that handler makes. */
static int x_networklink(struct exec *ex, const struct sch_sql_stmt *s)
{
	const char *link =
	    s->kind == SCH_SQL_ALLOW_NETWORKLINK || s->kind == SCH_SQL_DISALLOW_NETWORKLINK
		? s->obj.name
	    : s->kind == SCH_SQL_SHOW_NETWORKLINKS ? "*"
						   : s->name;
	struct sch_authz_resource r = { NULL, SCH_OBJ_NETWORKLINK, link, NULL };

	if (!ex->explain)
		return authz_ex_fail(ex, CMN_EINVAL,
				     "network link statements cannot be mixed with security "
				     "statements");
	return authz_ex_check(ex, sch_netlinks_stmt_action(s->kind), &r, NULL);
}

int authz_run_stmt(struct exec *ex, const struct sch_sql_stmt *s)
{
	bool handled = false;

	switch (s->kind) {
	case SCH_SQL_ADD_USER:
	case SCH_SQL_REMOVE_USER:
		return x_user(ex, s, s->kind == SCH_SQL_ADD_USER);
	case SCH_SQL_LIST_USERS:
		return x_list(ex, "odps:ListUsers", "user",
			      "SELECT user FROM authz_members WHERE project = ?1 ORDER BY user");
	case SCH_SQL_CREATE_ROLE:
	case SCH_SQL_DROP_ROLE:
		return x_role(ex, s, s->kind == SCH_SQL_CREATE_ROLE);
	case SCH_SQL_LIST_ROLES:
		return x_list(ex, "odps:ListRoles", "role",
			      "SELECT role FROM authz_roles WHERE project = ?1 ORDER BY role");
	case SCH_SQL_DESC_ROLE:
		return x_desc_role(ex, s);
	case SCH_SQL_GRANT_ROLE:
	case SCH_SQL_REVOKE_ROLE:
		return x_role_member(ex, s, s->kind == SCH_SQL_GRANT_ROLE);
	case SCH_SQL_GRANT:
	case SCH_SQL_REVOKE:
		if (s->obj_type == SCH_OBJ_PACKAGE)
			break;
		return x_acl(ex, s, s->kind == SCH_SQL_GRANT);
	case SCH_SQL_SHOW_GRANTS:
		return x_show_grants(ex, s);
	case SCH_SQL_SHOW_ACL:
		return x_show_acl(ex, s);
	case SCH_SQL_PUT_POLICY:
		return x_put_policy(ex, s);
	case SCH_SQL_GET_POLICY:
		return x_get_policy(ex, s);
	case SCH_SQL_SET_FLAG:
		return x_set_flag(ex, s);
	case SCH_SQL_SHOW_SECURITY_CONFIG:
		return x_show_config(ex);
	case SCH_SQL_LIST_TRUSTED:
		return x_list(
		    ex, "odps:ListTrustedProjects", "project",
		    "SELECT trusted FROM authz_trusted WHERE project = ?1 ORDER BY trusted");
	case SCH_SQL_EXPLAIN_PERMISSION:
		return x_explain(ex, s);
	case SCH_SQL_WHOAMI:
		return x_whoami(ex);
	case SCH_SQL_SELECT:
	case SCH_SQL_INSERT:
	case SCH_SQL_DESC_TABLE:
	case SCH_SQL_DROP_TABLE:
	case SCH_SQL_QUERY:
		return x_query(ex, s);
	case SCH_SQL_CREATE_NETWORKLINK:
	case SCH_SQL_DROP_NETWORKLINK:
	case SCH_SQL_ALLOW_NETWORKLINK:
	case SCH_SQL_DISALLOW_NETWORKLINK:
	case SCH_SQL_SHOW_NETWORKLINKS:
		return x_networklink(ex, s);
	default:
		break;
	}
	if (authz_ex_run_labels(ex, s, &handled) < 0)
		return -1;
	if (handled)
		return 0;
	if (authz_ex_run_packages(ex, s, &handled) < 0)
		return -1;
	if (handled)
		return 0;
	return authz_ex_fail(ex, CMN_EINVAL, "statement not supported");
}
