/* scheduler/authz_model.c — the authorization model in the catalog: the
 * versioned "authz" migrations, the object registry, and the lookups shared
 * by the decision function and the statement executors.
 *
 * Projects are referred to by name (the projects table belongs to the API);
 * principals by their full name (ALIYUN$a, RAM$a:u, RAM$a:role/r). ACL rows
 * are one action (and optionally one column) each, so REVOKE can remove part
 * of a grant. Rows that hang off an object carry its id with ON DELETE
 * CASCADE, which is how "a dropped object's ACLs are deleted with it" holds
 * even for a re-created object of the same name (it gets a new id). Member
 * rows are separate from grants: REMOVE USER keeps the user's grants, and
 * decisions ignore them while the user is not a member. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/cleanup.h"
#include "scheduler/authz_int.h"

static const struct sch_migration migrations[] = {
	{ 1,
	  "CREATE TABLE authz_project_flags ("
	  "  project TEXT PRIMARY KEY,"
	  "  check_acl INTEGER NOT NULL DEFAULT 1, check_policy INTEGER NOT NULL DEFAULT 1,"
	  "  creator_access INTEGER NOT NULL DEFAULT 1, creator_grant INTEGER NOT NULL DEFAULT 1,"
	  "  label_security INTEGER NOT NULL DEFAULT 0, protection INTEGER NOT NULL DEFAULT 0,"
	  "  exception_policy TEXT);"
	  "CREATE TABLE authz_members (project TEXT NOT NULL, user TEXT NOT NULL,"
	  "  added_by TEXT NOT NULL, added_at INTEGER NOT NULL, PRIMARY KEY (project, user));"
	  "CREATE TABLE authz_roles (project TEXT NOT NULL, role TEXT NOT NULL COLLATE NOCASE,"
	  "  created_at INTEGER NOT NULL, PRIMARY KEY (project, role));"
	  "CREATE TABLE authz_role_members (project TEXT NOT NULL,"
	  "  role TEXT NOT NULL COLLATE NOCASE, user TEXT NOT NULL,"
	  "  PRIMARY KEY (project, role, user), FOREIGN KEY (project, role)"
	  "  REFERENCES authz_roles (project, role) ON DELETE CASCADE);"
	  "CREATE TABLE authz_objects (id INTEGER PRIMARY KEY AUTOINCREMENT,"
	  "  project TEXT NOT NULL, type TEXT NOT NULL, name TEXT NOT NULL COLLATE NOCASE,"
	  "  creator TEXT NOT NULL, is_view INTEGER NOT NULL DEFAULT 0, label INTEGER,"
	  "  created_at INTEGER NOT NULL, UNIQUE (project, type, name));"
	  "CREATE TABLE authz_columns (object_id INTEGER NOT NULL"
	  "  REFERENCES authz_objects (id) ON DELETE CASCADE,"
	  "  name TEXT NOT NULL COLLATE NOCASE, position INTEGER NOT NULL,"
	  "  is_partition INTEGER NOT NULL DEFAULT 0, label INTEGER,"
	  "  PRIMARY KEY (object_id, name));"
	  "CREATE TABLE authz_acl (id INTEGER PRIMARY KEY, project TEXT NOT NULL,"
	  "  object_type TEXT NOT NULL, object_name TEXT NOT NULL COLLATE NOCASE,"
	  "  object_id INTEGER REFERENCES authz_objects (id) ON DELETE CASCADE,"
	  "  grantee_type TEXT NOT NULL, grantee TEXT NOT NULL,"
	  "  action TEXT NOT NULL COLLATE NOCASE, column_name TEXT COLLATE NOCASE,"
	  "  expires_at INTEGER, granted_by TEXT NOT NULL, granted_at INTEGER NOT NULL);"
	  "CREATE INDEX authz_acl_object ON authz_acl (project, object_type, object_name);"
	  "CREATE INDEX authz_acl_grantee ON authz_acl (project, grantee);"
	  "CREATE TABLE authz_policies (project TEXT NOT NULL,"
	  "  role TEXT NOT NULL DEFAULT '' COLLATE NOCASE, policy TEXT NOT NULL,"
	  "  updated_at INTEGER NOT NULL, PRIMARY KEY (project, role));"
	  "CREATE TABLE authz_user_labels (project TEXT NOT NULL, user TEXT NOT NULL,"
	  "  level INTEGER NOT NULL CHECK (level BETWEEN 0 AND 9), PRIMARY KEY (project, user));"
	  "CREATE TABLE authz_label_grants (id INTEGER PRIMARY KEY, project TEXT NOT NULL,"
	  "  object_id INTEGER NOT NULL REFERENCES authz_objects (id) ON DELETE CASCADE,"
	  "  column_name TEXT COLLATE NOCASE, grantee_type TEXT NOT NULL, grantee TEXT NOT NULL,"
	  "  level INTEGER NOT NULL CHECK (level BETWEEN 0 AND 9), expires_at INTEGER NOT NULL,"
	  "  granted_by TEXT NOT NULL);"
	  "CREATE TABLE authz_trusted (project TEXT NOT NULL, trusted TEXT NOT NULL,"
	  "  PRIMARY KEY (project, trusted));"
	  "CREATE TABLE authz_packages (id INTEGER PRIMARY KEY AUTOINCREMENT,"
	  "  project TEXT NOT NULL, name TEXT NOT NULL COLLATE NOCASE, creator TEXT NOT NULL,"
	  "  created_at INTEGER NOT NULL, UNIQUE (project, name));"
	  "CREATE TABLE authz_package_objects (package_id INTEGER NOT NULL"
	  "  REFERENCES authz_packages (id) ON DELETE CASCADE,"
	  "  object_id INTEGER NOT NULL REFERENCES authz_objects (id) ON DELETE CASCADE,"
	  "  privileges TEXT NOT NULL, PRIMARY KEY (package_id, object_id));"
	  "CREATE TABLE authz_package_allowed (package_id INTEGER NOT NULL"
	  "  REFERENCES authz_packages (id) ON DELETE CASCADE, project TEXT NOT NULL,"
	  "  label INTEGER, PRIMARY KEY (package_id, project));"
	  "CREATE TABLE authz_package_installs (package_id INTEGER NOT NULL"
	  "  REFERENCES authz_packages (id) ON DELETE CASCADE, project TEXT NOT NULL,"
	  "  installed_by TEXT NOT NULL, installed_at INTEGER NOT NULL,"
	  "  PRIMARY KEY (package_id, project));"
	  "CREATE TABLE authz_package_reads (package_id INTEGER NOT NULL"
	  "  REFERENCES authz_packages (id) ON DELETE CASCADE, project TEXT NOT NULL,"
	  "  grantee_type TEXT NOT NULL, grantee TEXT NOT NULL,"
	  "  PRIMARY KEY (package_id, project, grantee_type, grantee));" },
};

/* Deleting a project (a row of the API's projects table) deletes what the
 * model holds about it, so a project re-created under the same name starts
 * clean: no old members, grants, labels, policies or trust. A trigger, not a
 * foreign key, because the projects table belongs to the API and may not
 * exist yet when these migrations run; it is (re)created whenever it does. */
static const char project_trigger[] =
    "CREATE TRIGGER IF NOT EXISTS authz_project_deleted AFTER DELETE ON projects BEGIN"
    " DELETE FROM authz_objects WHERE project = OLD.name;"
    " DELETE FROM authz_packages WHERE project = OLD.name;"
    " DELETE FROM authz_package_allowed WHERE project = OLD.name;"
    " DELETE FROM authz_package_installs WHERE project = OLD.name;"
    " DELETE FROM authz_package_reads WHERE project = OLD.name;"
    " DELETE FROM authz_acl WHERE project = OLD.name;"
    " DELETE FROM authz_label_grants WHERE project = OLD.name;"
    " DELETE FROM authz_trusted WHERE project = OLD.name OR trusted = OLD.name;"
    " DELETE FROM authz_policies WHERE project = OLD.name;"
    " DELETE FROM authz_user_labels WHERE project = OLD.name;"
    " DELETE FROM authz_members WHERE project = OLD.name;"
    " DELETE FROM authz_roles WHERE project = OLD.name;"
    " DELETE FROM authz_project_flags WHERE project = OLD.name;"
    " END";

int sch_authz_migrate(struct sch_catalog *cat, struct cmn_err *err)
{
	sqlite3 *db = sch_catalog_db(cat);
	char *msg = NULL;
	int64_t v;
	bool projects;

	if (sch_catalog_migrate(cat, "authz", migrations, CMN_ARRAY_SIZE(migrations), err) < 0)
		return -1;
	if (authz_db_int(db, err, 0, &v, &projects,
			 "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'projects'",
			 "") < 0)
		return -1;
	if (projects && sqlite3_exec(db, project_trigger, NULL, NULL, &msg) != SQLITE_OK) {
		cmn_err_set(err, CMN_EIO, 0, "create trigger authz_project_deleted: %s",
			    msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int64_t clock_offset;

void sch_authz_clock_offset(int64_t seconds)
{
	clock_offset = seconds;
}

int64_t sch_authz_now(void)
{
	return (int64_t)time(NULL) + clock_offset;
}

/* ---- SQLite helpers ------------------------------------------------------ */

static int vprepare(sqlite3 *db, struct cmn_err *err, sqlite3_stmt **st, const char *sql,
		    const char *types, va_list ap)
{
	if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
		return cmn_err_set(err, CMN_EIO, 0, "catalog: %s", sqlite3_errmsg(db));
	for (int i = 0; types[i]; i++) {
		if (types[i] == 's') {
			const char *s = va_arg(ap, const char *);
			if (s)
				sqlite3_bind_text(*st, i + 1, s, -1, SQLITE_TRANSIENT);
			else
				sqlite3_bind_null(*st, i + 1);
		} else {
			sqlite3_bind_int64(*st, i + 1, va_arg(ap, int64_t));
		}
	}
	return 0;
}

int authz_db_query(sqlite3 *db, struct cmn_err *err, sqlite3_stmt **st, const char *sql,
		   const char *types, ...)
{
	va_list ap;
	int rc;
	va_start(ap, types);
	rc = vprepare(db, err, st, sql, types, ap);
	va_end(ap);
	return rc;
}

int authz_db_run(sqlite3 *db, struct cmn_err *err, const char *sql, const char *types, ...)
{
	sqlite3_stmt *st = NULL;
	va_list ap;
	int rc;

	va_start(ap, types);
	rc = vprepare(db, err, &st, sql, types, ap);
	va_end(ap);
	if (rc < 0)
		return -1;
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return cmn_err_set(err, (rc & 0xff) == SQLITE_CONSTRAINT ? CMN_ECONFLICT : CMN_EIO,
				   0, "catalog: %s", sqlite3_errmsg(db));
	return 0;
}

int authz_db_int(sqlite3 *db, struct cmn_err *err, int64_t def, int64_t *out, bool *found,
		 const char *sql, const char *types, ...)
{
	sqlite3_stmt *st = NULL;
	va_list ap;
	int rc;

	va_start(ap, types);
	rc = vprepare(db, err, &st, sql, types, ap);
	va_end(ap);
	if (rc < 0)
		return -1;
	rc = sqlite3_step(st);
	*out = def;
	if (found)
		*found = rc == SQLITE_ROW;
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		*out = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return cmn_err_set(err, CMN_EIO, 0, "catalog: %s", sqlite3_errmsg(db));
	return 0;
}

int authz_db_text(sqlite3 *db, struct cmn_err *err, char **out, const char *sql, const char *types,
		  ...)
{
	sqlite3_stmt *st = NULL;
	va_list ap;
	int rc;

	*out = NULL;
	va_start(ap, types);
	rc = vprepare(db, err, &st, sql, types, ap);
	va_end(ap);
	if (rc < 0)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		*out = strdup((const char *)sqlite3_column_text(st, 0));
		if (!*out) {
			sqlite3_finalize(st);
			return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return cmn_err_set(err, CMN_EIO, 0, "catalog: %s", sqlite3_errmsg(db));
	return 0;
}

/* ---- model lookups ------------------------------------------------------- */

int authz_project_flags(sqlite3 *db, const char *project, struct authz_flags *f,
			struct cmn_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	/* MaxCompute's defaults for a project that never changed a flag */
	*f = (struct authz_flags){ true, true, true, true, false, false };
	if (authz_db_query(
		db, err, &st,
		"SELECT check_acl, check_policy, creator_access, creator_grant,"
		" label_security, protection FROM authz_project_flags WHERE project = ?1",
		"s", project) < 0)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		f->check_acl = sqlite3_column_int(st, 0);
		f->check_policy = sqlite3_column_int(st, 1);
		f->creator_access = sqlite3_column_int(st, 2);
		f->creator_grant = sqlite3_column_int(st, 3);
		f->label_security = sqlite3_column_int(st, 4);
		f->protection = sqlite3_column_int(st, 5);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return cmn_err_set(err, CMN_EIO, 0, "catalog: %s", sqlite3_errmsg(db));
	return 0;
}

int authz_project_owner(sqlite3 *db, const char *project, char **out, struct cmn_err *err)
{
	return authz_db_text(db, err, out, "SELECT owner FROM projects WHERE name = ?1", "s",
			     project);
}

int authz_is_member(sqlite3 *db, const char *project, const char *user, bool *out,
		    struct cmn_err *err)
{
	int64_t v;
	return authz_db_int(db, err, 0, &v, out,
			    "SELECT 1 FROM authz_members WHERE project = ?1 AND user = ?2", "ss",
			    project, user);
}

int authz_has_role(sqlite3 *db, const char *project, const char *user, const char *role, bool *out,
		   struct cmn_err *err)
{
	int64_t v;
	return authz_db_int(db, err, 0, &v, out,
			    "SELECT 1 FROM authz_role_members WHERE project = ?1 AND user = ?2"
			    " AND role = ?3",
			    "sss", project, user, role);
}

const char *authz_type_db(enum sch_sql_objtype t)
{
	return sch_sql_objtype_name(t);
}

int authz_object_id(sqlite3 *db, const char *project, enum sch_sql_objtype type, const char *name,
		    int64_t *id, struct cmn_err *err)
{
	return authz_db_int(db, err, 0, id, NULL,
			    "SELECT id FROM authz_objects WHERE project = ?1 AND type = ?2"
			    " AND name = ?3",
			    "sss", project, authz_type_db(type), name);
}

static const struct {
	enum sch_sql_objtype type;
	const char *actions[10];
} valid_actions[] = {
	{ SCH_OBJ_PROJECT,
	  { "Read", "Write", "List", "CreateTable", "CreateInstance", "CreateFunction",
	    "CreateResource", "All" } },
	{ SCH_OBJ_TABLE,
	  { "Describe", "Select", "Alter", "Update", "Drop", "ShowHistory", "Download", "All" } },
	{ SCH_OBJ_FUNCTION, { "Read", "Write", "Delete", "Execute", "All" } },
	{ SCH_OBJ_RESOURCE, { "Read", "Write", "Delete", "All" } },
	{ SCH_OBJ_INSTANCE, { "Read", "Write", "All" } },
	{ SCH_OBJ_PACKAGE, { "Read" } },
	{ SCH_OBJ_NETWORKLINK, { "Describe", "Use" } },
};

const char *authz_canon_action(enum sch_sql_objtype type, const char *action)
{
	if (strncasecmp(action, "odps:", 5) == 0)
		action += 5;
	for (size_t i = 0; i < CMN_ARRAY_SIZE(valid_actions); i++) {
		if (valid_actions[i].type != type)
			continue;
		for (size_t j = 0; j < 10 && valid_actions[i].actions[j]; j++)
			if (strcasecmp(valid_actions[i].actions[j], action) == 0)
				return valid_actions[i].actions[j];
	}
	return NULL;
}

/* ---- object registry ----------------------------------------------------- */

static int add_columns(sqlite3 *db, int64_t id, const struct sch_authz_column *cols, size_t ncols,
		       struct cmn_err *err)
{
	for (size_t i = 0; i < ncols; i++) {
		if (cols[i].partition && cols[i].label >= 0)
			return cmn_err_set(err, CMN_EINVAL, 0,
					   "partition column '%s' cannot be labelled",
					   cols[i].name);
		if (cols[i].label > 9)
			return cmn_err_set(err, CMN_EINVAL, 0,
					   "label %d of column '%s' is not 0..9", cols[i].label,
					   cols[i].name);
		if (authz_db_run(
			db, err,
			"INSERT INTO authz_columns (object_id, name, position, is_partition,"
			" label) VALUES (?1, ?2, ?3, ?4, CASE WHEN ?5 < 0 THEN NULL ELSE ?5 END)",
			"isiii", id, cols[i].name, (int64_t)i, (int64_t)cols[i].partition,
			(int64_t)cols[i].label) < 0)
			return cmn_err_wrap(err, "column %s", cols[i].name);
	}
	return 0;
}

int sch_authz_object_create(struct sch_catalog *cat, const char *project, enum sch_sql_objtype type,
			    const char *name, const char *creator, bool is_view,
			    const struct sch_authz_column *cols, size_t ncols, struct cmn_err *err)
{
	sqlite3 *db = sch_catalog_db(cat);
	int64_t id;

	if (type == SCH_OBJ_PROJECT || type == SCH_OBJ_PACKAGE || type == SCH_OBJ_NONE)
		return cmn_err_set(err, CMN_EINVAL, 0, "%s is not a registry object type",
				   sch_sql_objtype_name(type));
	if (sqlite3_exec(db, "SAVEPOINT authz_object", NULL, NULL, NULL) != SQLITE_OK)
		return cmn_err_set(err, CMN_EIO, 0, "catalog: %s", sqlite3_errmsg(db));
	if (authz_db_run(db, err,
			 "INSERT INTO authz_objects (project, type, name, creator, is_view,"
			 " created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
			 "ssssii", project, authz_type_db(type), name, creator, (int64_t)is_view,
			 sch_authz_now()) < 0) {
		if (err && err->code == CMN_ECONFLICT)
			cmn_err_set(err, CMN_EEXIST, 0, "%s '%s' already exists in project '%s'",
				    sch_sql_objtype_name(type), name, project);
		goto fail;
	}
	id = sqlite3_last_insert_rowid(db);
	if (add_columns(db, id, cols, ncols, err) < 0)
		goto fail;
	sqlite3_exec(db, "RELEASE authz_object", NULL, NULL, NULL);
	return 0;
fail:
	sqlite3_exec(db, "ROLLBACK TO authz_object; RELEASE authz_object", NULL, NULL, NULL);
	return cmn_err_wrap(err, "create %s %s.%s", sch_sql_objtype_name(type), project, name);
}

int sch_authz_object_drop(struct sch_catalog *cat, const char *project, enum sch_sql_objtype type,
			  const char *name, struct cmn_err *err)
{
	sqlite3 *db = sch_catalog_db(cat);
	int64_t id;

	if (authz_object_id(db, project, type, name, &id, err) < 0)
		return -1;
	if (id == 0)
		return cmn_err_set(err, CMN_ENOTFOUND, 0, "%s '%s' does not exist in project '%s'",
				   sch_sql_objtype_name(type), name, project);
	/* ON DELETE CASCADE removes ACL rows, label grants, columns and package
	 * memberships that refer to this id */
	return authz_db_run(db, err, "DELETE FROM authz_objects WHERE id = ?1", "i", id);
}

/* Everything the model holds about a project, for the API's DeleteProject:
 * without it a re-created project of the same name would inherit the old
 * members, grants, labels and trust. Runs in one transaction of its own
 * unless the caller already opened one. */
int sch_authz_project_drop(struct sch_catalog *cat, const char *project, struct cmn_err *err)
{
	static const char *const sql[] = {
		"DELETE FROM authz_objects WHERE project = ?1",
		"DELETE FROM authz_packages WHERE project = ?1",
		"DELETE FROM authz_package_allowed WHERE project = ?1",
		"DELETE FROM authz_package_installs WHERE project = ?1",
		"DELETE FROM authz_package_reads WHERE project = ?1",
		"DELETE FROM authz_acl WHERE project = ?1",
		"DELETE FROM authz_label_grants WHERE project = ?1",
		"DELETE FROM authz_trusted WHERE project = ?1 OR trusted = ?1",
		"DELETE FROM authz_policies WHERE project = ?1",
		"DELETE FROM authz_user_labels WHERE project = ?1",
		"DELETE FROM authz_members WHERE project = ?1",
		"DELETE FROM authz_roles WHERE project = ?1",
		"DELETE FROM authz_project_flags WHERE project = ?1",
	};
	sqlite3 *db = sch_catalog_db(cat);

	if (sqlite3_exec(db, "SAVEPOINT authz_project_drop", NULL, NULL, NULL) != SQLITE_OK)
		return cmn_err_set(err, CMN_EIO, 0, "catalog: %s", sqlite3_errmsg(db));
	for (size_t i = 0; i < CMN_ARRAY_SIZE(sql); i++) {
		if (authz_db_run(db, err, sql[i], "s", project) < 0) {
			sqlite3_exec(db,
				     "ROLLBACK TO authz_project_drop; RELEASE authz_project_drop",
				     NULL, NULL, NULL);
			return cmn_err_wrap(err, "drop authorization data of project %s", project);
		}
	}
	sqlite3_exec(db, "RELEASE authz_project_drop", NULL, NULL, NULL);
	return 0;
}
