/* scheduler/authz_exec_pkg.c — executors of the label, trusted-project and
 * package statements (same pattern as authz_stmt.c: checks first, nothing
 * changes in EXPLAIN mode). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/cleanup.h"
#include "scheduler/authz_exec.h"

#define DEFAULT_LABEL_GRANT_DAYS 180

/* ---- labels --------------------------------------------------------------- */

static int x_set_label_user(struct exec *ex, const struct sch_sql_stmt *s)
{
	if (authz_ex_check_project(ex, "odps:ManageLabels") < 0)
		return -1;
	if (ex->explain)
		return 0;
	if (authz_ex_require_member(ex, s->grantee) < 0 ||
	    authz_db_run(ex->db, ex->err,
			 "INSERT INTO authz_user_labels (project, user, level) VALUES (?1, ?2, ?3)"
			 " ON CONFLICT (project, user) DO UPDATE SET level = excluded.level",
			 "ssi", authz_ex_project(ex), s->grantee, (int64_t)s->level) < 0 ||
	    authz_ex_audit_change(ex, "SetUserLabel", s->grantee) < 0)
		return -1;
	return authz_ex_ok(ex);
}

static int x_set_label_table(struct exec *ex, const struct sch_sql_stmt *s)
{
	int64_t id;

	if (authz_ex_same_project(ex, &s->obj) < 0 ||
	    authz_ex_check_project(ex, "odps:ManageLabels") < 0)
		return -1;
	if (ex->explain)
		return 0;
	if (authz_ex_require_object(ex, SCH_OBJ_TABLE, s->obj.name, &id) < 0 ||
	    authz_ex_require_columns(ex, id, &s->columns) < 0)
		return -1;
	if (s->columns.n == 0 &&
	    authz_db_run(ex->db, ex->err, "UPDATE authz_objects SET label = ?2 WHERE id = ?1", "ii",
			 id, (int64_t)s->level) < 0)
		return -1;
	for (size_t i = 0; i < s->columns.n; i++) {
		int64_t part;
		if (authz_db_int(ex->db, ex->err, 0, &part, NULL,
				 "SELECT is_partition FROM authz_columns WHERE object_id = ?1"
				 " AND name = ?2",
				 "is", id, s->columns.v[i]) < 0)
			return -1;
		if (part)
			return authz_ex_fail(ex, CMN_EINVAL,
					     "partition column '%s' cannot be labelled",
					     s->columns.v[i]);
		if (authz_db_run(
			ex->db, ex->err,
			"UPDATE authz_columns SET label = ?3 WHERE object_id = ?1 AND name = ?2",
			"isi", id, s->columns.v[i], (int64_t)s->level) < 0)
			return -1;
	}
	if (authz_ex_audit_change(ex, "SetTableLabel", s->obj.name) < 0)
		return -1;
	return authz_ex_ok(ex);
}

static int label_grant_write(struct exec *ex, const struct sch_sql_stmt *s, const char *grantee,
			     int64_t id, const char *column, bool grant)
{
	int64_t days = s->has_days ? s->days : DEFAULT_LABEL_GRANT_DAYS;
	const char *gtype = s->grantee_is_role ? "role" : "user";

	if (authz_db_run(ex->db, ex->err,
			 "DELETE FROM authz_label_grants WHERE object_id = ?1 AND grantee_type = ?2"
			 " AND grantee = ?3 AND (?5 = 0 OR column_name IS ?4)",
			 "isssi", id, gtype, grantee, column, (int64_t)(grant || column)) < 0)
		return -1;
	if (!grant)
		return 0;
	return authz_db_run(ex->db, ex->err,
			    "INSERT INTO authz_label_grants (project, object_id, column_name,"
			    " grantee_type, grantee, level, expires_at, granted_by)"
			    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
			    "sisssiis", authz_ex_project(ex), id, column, gtype, grantee,
			    (int64_t)s->level, sch_authz_now() + days * 86400,
			    ex->ctx->principal->name);
}

static int x_label_grant(struct exec *ex, const struct sch_sql_stmt *s, bool grant)
{
	char gname[256];
	int64_t id;
	int before;

	if (authz_ex_same_project(ex, &s->obj) < 0 ||
	    authz_ex_check_project(ex, "odps:ManageLabels") < 0)
		return -1;
	if (ex->explain)
		return 0;
	if (authz_ex_require_object(ex, SCH_OBJ_TABLE, s->obj.name, &id) < 0 ||
	    authz_ex_require_columns(ex, id, &s->columns) < 0 ||
	    (grant && authz_ex_require_grantee(ex, s) < 0) ||
	    authz_ex_grantee_name(ex, s, gname, sizeof(gname)) < 0)
		return -1;
	before = sqlite3_total_changes(ex->db);
	if (s->columns.n == 0 && label_grant_write(ex, s, gname, id, NULL, grant) < 0)
		return -1;
	for (size_t i = 0; i < s->columns.n; i++)
		if (label_grant_write(ex, s, gname, id, s->columns.v[i], grant) < 0)
			return -1;
	if (!grant && sqlite3_total_changes(ex->db) == before)
		return authz_ex_fail(ex, CMN_ENOTFOUND, "no label grant on table '%s' for '%s'",
				     s->obj.name, gname);
	if (authz_ex_audit_change(ex, grant ? "GrantLabel" : "RevokeLabel", s->grantee) < 0)
		return -1;
	return authz_ex_ok(ex);
}

/* Expired label grants and expired ACL entries are inert already; this
 * removes them so SHOW output stays meaningful. */
static int x_clear_expired(struct exec *ex)
{
	static const char *const cols[] = { "kind", "removed" };
	int64_t labels, acls;

	if (authz_ex_check_project(ex, "odps:ManageLabels") < 0)
		return -1;
	if (ex->explain)
		return 0;
	if (authz_db_run(ex->db, ex->err,
			 "DELETE FROM authz_label_grants WHERE project = ?1 AND expires_at <= ?2",
			 "si", authz_ex_project(ex), sch_authz_now()) < 0)
		return -1;
	labels = sqlite3_changes(ex->db);
	if (authz_db_run(ex->db, ex->err,
			 "DELETE FROM authz_acl WHERE project = ?1 AND expires_at IS NOT NULL"
			 " AND expires_at <= ?2",
			 "si", authz_ex_project(ex), sch_authz_now()) < 0)
		return -1;
	acls = sqlite3_changes(ex->db);
	if (authz_ex_audit_change(ex, "ClearExpiredGrants", authz_ex_project(ex)) < 0 ||
	    authz_ex_result(ex, cols, 2) < 0 || authz_ex_row(ex, "si", "label_grants", labels) < 0)
		return -1;
	return authz_ex_row(ex, "si", "acl", acls);
}

static int x_show_label_grants(struct exec *ex, const struct sch_sql_stmt *s)
{
	static const char *const cols[] = { "grantee_type", "grantee", "table",
					    "column",       "level",   "expires_at" };
	bool own = s->grantee && strcmp(s->grantee, ex->ctx->principal->name) == 0;
	sqlite3_stmt *st = NULL;
	int rc;

	if (s->obj.name && authz_ex_same_project(ex, &s->obj) < 0)
		return -1;
	if (authz_ex_check_project(ex, own ? "odps:ShowOwnGrants" : "odps:ManageLabels") < 0)
		return -1;
	if (ex->explain)
		return 0;
	if (authz_ex_result(ex, cols, CMN_ARRAY_SIZE(cols)) < 0 ||
	    authz_db_query(
		ex->db, ex->err, &st,
		"SELECT g.grantee_type, g.grantee, o.name, g.column_name, g.level,"
		" strftime('%Y-%m-%dT%H:%M:%SZ', g.expires_at, 'unixepoch')"
		" FROM authz_label_grants g JOIN authz_objects o"
		" ON o.id = g.object_id WHERE g.project = ?1 AND (?2 < 0 OR g.level = ?2)"
		" AND (?3 IS NULL OR o.name = ?3) AND (?4 IS NULL OR g.grantee = ?4)"
		" AND g.expires_at > ?5 ORDER BY g.id",
		"sissi", authz_ex_project(ex), s->has_level ? (int64_t)s->level : (int64_t)-1,
		s->obj.name, s->grantee, sch_authz_now()) < 0)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (authz_ex_row(ex, "ssssis", sqlite3_column_text(st, 0),
				 sqlite3_column_text(st, 1), sqlite3_column_text(st, 2),
				 sqlite3_column_text(st, 3), (int64_t)sqlite3_column_int64(st, 4),
				 sqlite3_column_text(st, 5)) < 0)
			break;
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : cmn_err_set(ex->err, CMN_EIO, 0, "catalog read failed");
}

/* ---- trusted projects ----------------------------------------------------- */

static int x_trusted(struct exec *ex, const struct sch_sql_stmt *s, bool add)
{
	cleanup_free char *owner = NULL;

	if (authz_ex_check_project(ex, "odps:ManageTrustedProjects") < 0)
		return -1;
	if (ex->explain)
		return 0;
	if (authz_project_owner(ex->db, s->name, &owner, ex->err) < 0)
		return -1;
	if (add && !owner)
		return authz_ex_fail(ex, CMN_ENOTFOUND, "project '%s' does not exist", s->name);
	if (add && strcmp(s->name, authz_ex_project(ex)) == 0)
		return authz_ex_fail(ex, CMN_EINVAL, "a project cannot trust itself");
	if (authz_db_run(
		ex->db, ex->err,
		add ? "INSERT OR IGNORE INTO authz_trusted (project, trusted) VALUES (?1, ?2)"
		    : "DELETE FROM authz_trusted WHERE project = ?1 AND trusted = ?2",
		"ss", authz_ex_project(ex), s->name) < 0)
		return -1;
	if (authz_ex_audit_change(ex, add ? "AddTrustedProject" : "RemoveTrustedProject", s->name) <
	    0)
		return -1;
	return authz_ex_ok(ex);
}

int authz_ex_run_labels(struct exec *ex, const struct sch_sql_stmt *s, bool *handled)
{
	*handled = true;
	switch (s->kind) {
	case SCH_SQL_SET_LABEL_USER:
		return x_set_label_user(ex, s);
	case SCH_SQL_SET_LABEL_TABLE:
		return x_set_label_table(ex, s);
	case SCH_SQL_GRANT_LABEL:
		return x_label_grant(ex, s, true);
	case SCH_SQL_REVOKE_LABEL:
		return x_label_grant(ex, s, false);
	case SCH_SQL_CLEAR_EXPIRED_GRANTS:
		return x_clear_expired(ex);
	case SCH_SQL_SHOW_LABEL_GRANTS:
		return x_show_label_grants(ex, s);
	case SCH_SQL_ADD_TRUSTED:
	case SCH_SQL_REMOVE_TRUSTED:
		return x_trusted(ex, s, s->kind == SCH_SQL_ADD_TRUSTED);
	default:
		*handled = false;
		return 0;
	}
}

/* ---- packages ------------------------------------------------------------- */

static int package_id(struct exec *ex, const char *project, const char *name, int64_t *id)
{
	if (authz_db_int(ex->db, ex->err, 0, id, NULL,
			 "SELECT id FROM authz_packages WHERE project = ?1 AND name = ?2", "ss",
			 project, name) < 0)
		return -1;
	if (*id == 0)
		return authz_ex_fail(ex, CMN_ENOTFOUND, "package '%s.%s' does not exist", project,
				     name);
	return 0;
}

static int x_package(struct exec *ex, const struct sch_sql_stmt *s, bool create)
{
	int64_t id;

	if (authz_ex_check_project(ex, "odps:ManagePackages") < 0)
		return -1;
	if (ex->explain)
		return 0;
	if (create) {
		if (authz_db_run(ex->db, ex->err,
				 "INSERT INTO authz_packages (project, name, creator, created_at)"
				 " VALUES (?1, ?2, ?3, ?4)",
				 "sssi", authz_ex_project(ex), s->name, ex->ctx->principal->name,
				 sch_authz_now()) < 0)
			return ex->err->code == CMN_ECONFLICT
				   ? authz_ex_fail(ex, CMN_EEXIST, "package '%s' already exists",
						   s->name)
				   : -1;
	} else {
		/* objects, allowed projects, installations and read grants cascade */
		if (package_id(ex, authz_ex_project(ex), s->name, &id) < 0 ||
		    authz_db_run(ex->db, ex->err, "DELETE FROM authz_packages WHERE id = ?1", "i",
				 id) < 0)
			return -1;
	}
	if (authz_ex_audit_change(ex, create ? "CreatePackage" : "DropPackage", s->name) < 0)
		return -1;
	return authz_ex_ok(ex);
}

/* Privileges as stored: canonical names joined by ','; without WITH
 * PRIVILEGES a packaged object is read-only. */
static int package_privileges(struct exec *ex, const struct sch_sql_stmt *s, char *out,
			      size_t outlen)
{
	static const char *const defaults[] = {
		"", "", "Describe,Select", "Read,Execute", "Read", "Read", "", ""
	};
	size_t used = 0;

	if (s->actions.n == 0) {
		snprintf(out, outlen, "%s", defaults[s->obj_type]);
		return 0;
	}
	out[0] = '\0';
	for (size_t i = 0; i < s->actions.n; i++) {
		const char *c = authz_canon_action(s->obj_type, s->actions.v[i]);
		int n;
		if (!c)
			return authz_ex_fail(ex, CMN_EINVAL, "'%s' is not a privilege of a %s",
					     s->actions.v[i], sch_sql_objtype_name(s->obj_type));
		n = snprintf(out + used, outlen - used, "%s%s", used ? "," : "", c);
		if (n < 0 || (size_t)n >= outlen - used)
			return authz_ex_fail(ex, CMN_EINVAL, "too many privileges");
		used += (size_t)n;
	}
	return 0;
}

static int x_package_object(struct exec *ex, const struct sch_sql_stmt *s, bool add)
{
	char privs[256];
	int64_t pkg, obj;

	if (authz_ex_check_project(ex, "odps:ManagePackages") < 0)
		return -1;
	if (ex->explain)
		return 0;
	if (package_id(ex, authz_ex_project(ex), s->name, &pkg) < 0 ||
	    authz_ex_require_object(ex, s->obj_type, s->obj.name, &obj) < 0 ||
	    (add && package_privileges(ex, s, privs, sizeof(privs)) < 0))
		return -1;
	if (add ? authz_db_run(
		      ex->db, ex->err,
		      "INSERT INTO authz_package_objects (package_id, object_id, privileges)"
		      " VALUES (?1, ?2, ?3) ON CONFLICT (package_id, object_id) DO UPDATE"
		      " SET privileges = excluded.privileges",
		      "iis", pkg, obj, privs)
		: authz_db_run(ex->db, ex->err,
			       "DELETE FROM authz_package_objects WHERE package_id = ?1 AND"
			       " object_id = ?2",
			       "ii", pkg, obj))
		return -1;
	if (authz_ex_audit_change(ex, add ? "AddToPackage" : "RemoveFromPackage", s->obj.name) < 0)
		return -1;
	return authz_ex_ok(ex);
}

static int x_allow_install(struct exec *ex, const struct sch_sql_stmt *s, bool allow_it)
{
	cleanup_free char *owner = NULL;
	int64_t pkg;

	if (authz_ex_check_project(ex, "odps:ManagePackages") < 0)
		return -1;
	if (ex->explain)
		return 0;
	if (package_id(ex, authz_ex_project(ex), s->obj.name, &pkg) < 0 ||
	    authz_project_owner(ex->db, s->name, &owner, ex->err) < 0)
		return -1;
	if (!owner)
		return authz_ex_fail(ex, CMN_ENOTFOUND, "project '%s' does not exist", s->name);
	if (allow_it
		? authz_db_run(
		      ex->db, ex->err,
		      "INSERT INTO authz_package_allowed (package_id, project, label)"
		      " VALUES (?1, ?2, CASE WHEN ?3 < 0 THEN NULL ELSE ?3 END)"
		      " ON CONFLICT (package_id, project) DO UPDATE SET label = excluded.label",
		      "isi", pkg, s->name, s->has_level ? (int64_t)s->level : (int64_t)-1)
		: authz_db_run(ex->db, ex->err,
			       "DELETE FROM authz_package_allowed WHERE package_id = ?1 AND"
			       " project = ?2",
			       "is", pkg, s->name))
		return -1;
	if (authz_ex_audit_change(ex, allow_it ? "AllowInstallPackage" : "DisallowInstallPackage",
				  s->name) < 0)
		return -1;
	return authz_ex_ok(ex);
}

static int x_install(struct exec *ex, const struct sch_sql_stmt *s, bool install)
{
	char ref[512];
	struct sch_authz_resource r = { authz_ex_project(ex), SCH_OBJ_PACKAGE, ref, NULL };
	int64_t pkg;

	snprintf(ref, sizeof(ref), "%s.%s", s->obj.project, s->obj.name);
	if (authz_ex_check(ex, install ? "odps:InstallPackage" : "odps:UninstallPackage", &r,
			   NULL) < 0)
		return -1;
	if (ex->explain)
		return 0;
	if (strcmp(s->obj.project, authz_ex_project(ex)) == 0)
		return authz_ex_fail(ex, CMN_EINVAL,
				     "a package is installed in other projects only");
	if (package_id(ex, s->obj.project, s->obj.name, &pkg) < 0)
		return -1;
	if (install
		? authz_db_run(ex->db, ex->err,
			       "INSERT OR IGNORE INTO authz_package_installs (package_id, project,"
			       " installed_by, installed_at) VALUES (?1, ?2, ?3, ?4)",
			       "issi", pkg, authz_ex_project(ex), ex->ctx->principal->name,
			       sch_authz_now())
		: (authz_db_run(
		       ex->db, ex->err,
		       "DELETE FROM authz_package_reads WHERE package_id = ?1 AND project = ?2",
		       "is", pkg, authz_ex_project(ex)) < 0 ||
		   authz_db_run(ex->db, ex->err,
				"DELETE FROM authz_package_installs WHERE package_id = ?1 AND"
				" project = ?2",
				"is", pkg, authz_ex_project(ex)) < 0))
		return -1;
	if (authz_ex_audit_change(ex, install ? "InstallPackage" : "UninstallPackage", ref) < 0)
		return -1;
	return authz_ex_ok(ex);
}

/* GRANT|REVOKE Read ON PACKAGE src.pkg TO|FROM USER|ROLE x, in the project
 * that installed it. */
static int x_package_read(struct exec *ex, const struct sch_sql_stmt *s, bool grant)
{
	char ref[512], gname[256];
	struct sch_authz_resource r = { authz_ex_project(ex), SCH_OBJ_PACKAGE, ref, NULL };
	int64_t pkg, v;
	bool installed;
	int before;

	if (!s->obj.project)
		return authz_ex_fail(ex, CMN_EINVAL, "expected <project>.<package>");
	snprintf(ref, sizeof(ref), "%s.%s", s->obj.project, s->obj.name);
	if (authz_ex_check(ex, "odps:Grant", &r, NULL) < 0)
		return -1;
	if (ex->explain)
		return 0;
	for (size_t i = 0; i < s->actions.n; i++)
		if (!authz_canon_action(SCH_OBJ_PACKAGE, s->actions.v[i]))
			return authz_ex_fail(ex, CMN_EINVAL,
					     "'%s' is not a privilege of a package (Read)",
					     s->actions.v[i]);
	if (package_id(ex, s->obj.project, s->obj.name, &pkg) < 0 ||
	    authz_db_int(
		ex->db, ex->err, 0, &v, &installed,
		"SELECT 1 FROM authz_package_installs WHERE package_id = ?1 AND project = ?2", "is",
		pkg, authz_ex_project(ex)) < 0)
		return -1;
	if (!installed)
		return authz_ex_fail(ex, CMN_ENOTFOUND,
				     "package '%s' is not installed in project '%s'", ref,
				     authz_ex_project(ex));
	if ((grant && authz_ex_require_grantee(ex, s) < 0) ||
	    authz_ex_grantee_name(ex, s, gname, sizeof(gname)) < 0)
		return -1;
	before = sqlite3_total_changes(ex->db);
	if (authz_db_run(ex->db, ex->err,
			 grant ? "INSERT OR IGNORE INTO authz_package_reads (package_id, project,"
				 " grantee_type, grantee) VALUES (?1, ?2, ?3, ?4)"
			       : "DELETE FROM authz_package_reads WHERE package_id = ?1 AND"
				 " project = ?2 AND grantee_type = ?3 AND grantee = ?4",
			 "isss", pkg, authz_ex_project(ex), s->grantee_is_role ? "role" : "user",
			 gname) < 0)
		return -1;
	if (!grant && sqlite3_total_changes(ex->db) == before)
		return authz_ex_fail(ex, CMN_ENOTFOUND, "'%s' has no read grant on package '%s'",
				     gname, ref);
	if (authz_ex_audit_change(ex, grant ? "GrantPackageRead" : "RevokePackageRead",
				  s->grantee) < 0)
		return -1;
	return authz_ex_ok(ex);
}

static int x_show_packages(struct exec *ex)
{
	static const char *const cols[] = { "package", "source_project", "kind" };
	sqlite3_stmt *st = NULL;
	int rc;

	if (authz_ex_check_project(ex, "odps:ShowPackages") < 0)
		return -1;
	if (ex->explain)
		return 0;
	if (authz_ex_result(ex, cols, 3) < 0 ||
	    authz_db_query(
		ex->db, ex->err, &st,
		"SELECT name, project, 'created' FROM authz_packages WHERE project = ?1"
		" UNION ALL SELECT p.name, p.project, 'installed' FROM authz_packages p"
		" JOIN authz_package_installs i ON i.package_id = p.id WHERE i.project = ?1"
		" ORDER BY 3, 2, 1",
		"s", authz_ex_project(ex)) < 0)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (authz_ex_row(ex, "sss", sqlite3_column_text(st, 0), sqlite3_column_text(st, 1),
				 sqlite3_column_text(st, 2)) < 0)
			break;
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : cmn_err_set(ex->err, CMN_EIO, 0, "catalog read failed");
}

/* Objects with their privileges; for the creating project also the projects
 * allowed to install it (kind "allowed_project", label in privileges). */
static int x_describe_package(struct exec *ex, const struct sch_sql_stmt *s)
{
	static const char *const cols[] = { "kind", "name", "privileges" };
	bool own = strcmp(s->obj.project, authz_ex_project(ex)) == 0;
	sqlite3_stmt *st = NULL;
	int64_t pkg, v;
	bool installed = own;
	int rc;

	if (authz_ex_check_project(ex, "odps:ShowPackages") < 0)
		return -1;
	if (ex->explain)
		return 0;
	if (package_id(ex, s->obj.project, s->obj.name, &pkg) < 0)
		return -1;
	if (!own && authz_db_int(ex->db, ex->err, 0, &v, &installed,
				 "SELECT 1 FROM authz_package_installs WHERE package_id = ?1"
				 " AND project = ?2",
				 "is", pkg, authz_ex_project(ex)) < 0)
		return -1;
	if (!installed)
		return authz_ex_fail(ex, CMN_ENOTFOUND,
				     "package '%s.%s' is not installed in project '%s'",
				     s->obj.project, s->obj.name, authz_ex_project(ex));
	if (authz_ex_result(ex, cols, 3) < 0 ||
	    authz_db_query(ex->db, ex->err, &st,
			   "SELECT o.type, o.name, po.privileges FROM authz_package_objects po"
			   " JOIN authz_objects o ON o.id = po.object_id WHERE po.package_id = ?1"
			   " UNION ALL SELECT 'allowed_project', project,"
			   " CASE WHEN label IS NULL THEN '' ELSE 'label ' || label END"
			   " FROM authz_package_allowed WHERE package_id = ?1 AND ?2"
			   " ORDER BY 1, 2",
			   "ii", pkg, (int64_t)own) < 0)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (authz_ex_row(ex, "sss", sqlite3_column_text(st, 0), sqlite3_column_text(st, 1),
				 sqlite3_column_text(st, 2)) < 0)
			break;
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : cmn_err_set(ex->err, CMN_EIO, 0, "catalog read failed");
}

int authz_ex_run_packages(struct exec *ex, const struct sch_sql_stmt *s, bool *handled)
{
	*handled = true;
	switch (s->kind) {
	case SCH_SQL_CREATE_PACKAGE:
	case SCH_SQL_DROP_PACKAGE:
		return x_package(ex, s, s->kind == SCH_SQL_CREATE_PACKAGE);
	case SCH_SQL_ADD_TO_PACKAGE:
	case SCH_SQL_REMOVE_FROM_PACKAGE:
		return x_package_object(ex, s, s->kind == SCH_SQL_ADD_TO_PACKAGE);
	case SCH_SQL_ALLOW_INSTALL:
	case SCH_SQL_DISALLOW_INSTALL:
		return x_allow_install(ex, s, s->kind == SCH_SQL_ALLOW_INSTALL);
	case SCH_SQL_INSTALL_PACKAGE:
	case SCH_SQL_UNINSTALL_PACKAGE:
		return x_install(ex, s, s->kind == SCH_SQL_INSTALL_PACKAGE);
	case SCH_SQL_SHOW_PACKAGES:
		return x_show_packages(ex);
	case SCH_SQL_DESCRIBE_PACKAGE:
		return x_describe_package(ex, s);
	case SCH_SQL_GRANT:
	case SCH_SQL_REVOKE:
		if (s->obj_type == SCH_OBJ_PACKAGE)
			return x_package_read(ex, s, s->kind == SCH_SQL_GRANT);
		break;
	default:
		break;
	}
	*handled = false;
	return 0;
}
