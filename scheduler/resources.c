/* scheduler/resources.c — project resources in the catalog (resources.h).
 *
 * Catalog component "resources" (owned here):
 *   resources(project, name COLLATE NOCASE, content BLOB, size, sha256,
 *             owner, created_at)   -- PRIMARY KEY (project, name)
 * A trigger on the API's projects table removes a deleted project's
 * resources, as authz does for its rows, so a re-created project of the
 * same name starts empty. The content is stored as given: resources are
 * code and small data files a tenant chose to hand to its own jobs, not
 * table data (which lives encrypted in chunk storage).
 */
#include "scheduler/resources.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/rowfmt.h"
#include "scheduler/dbutil.h"
#include "scheduler/sigv4.h"

static const struct sch_migration migrations[] = {
	{ 1, "CREATE TABLE resources ("
	     " project TEXT NOT NULL, name TEXT NOT NULL COLLATE NOCASE,"
	     " content BLOB NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL,"
	     " owner TEXT NOT NULL, created_at INTEGER NOT NULL,"
	     " PRIMARY KEY (project, name));" },
};

int sch_resources_migrate(struct sch_catalog *cat, struct cmn_err *err)
{
	if (sch_catalog_migrate(cat, "resources", migrations,
				sizeof(migrations) / sizeof(migrations[0]), err) < 0 ||
	    sch_db_on_project_delete(sch_catalog_db(cat), "resources_project_deleted",
				     "DELETE FROM resources WHERE project = OLD.name;", err) < 0)
		return cmn_err_wrap(err, "resources");
	return 0;
}

bool sch_resource_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > SCH_RESOURCE_NAME_MAX || name[0] == '-' || name[0] == '.')
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
	       n;
}

static bool is_lua(const char *name)
{
	size_t n = strlen(name);
	return n > 4 && strcasecmp(name + n - 4, ".lua") == 0;
}

int sch_resource_check(const char *name, const void *data, size_t len, struct cmn_err *err)
{
	if (!sch_resource_name_ok(name))
		return cmn_err_set(err, CMN_EINVAL, 0,
				   "bad resource name '%.140s': 1..%d of [A-Za-z0-9_.-], not "
				   "starting with '-' or '.'",
				   name ? name : "", SCH_RESOURCE_NAME_MAX);
	if (len > SCH_RESOURCE_MAX_BYTES)
		return cmn_err_set(err, CMN_ELIMIT, 0,
				   "resource '%s' is %zu bytes; the limit is %u bytes (64 MiB)",
				   name, len, SCH_RESOURCE_MAX_BYTES);
	if (!is_lua(name))
		return 0;
	/* "\x1bLua" is the signature of a precompiled chunk (luac, string.dump) */
	if (len >= 4 && memcmp(data, "\x1bLua", 4) == 0)
		return cmn_err_set(err, CMN_EINVAL, 0,
				   "resource '%s' is a precompiled Lua chunk (binary); Lua "
				   "scripts must be uploaded as source text",
				   name);
	if (len > 0 && memchr(data, '\0', len))
		return cmn_err_set(err, CMN_EINVAL, 0,
				   "resource '%s' holds a NUL byte; a Lua script must be text",
				   name);
	if (!cmn_utf8_valid(data, len))
		return cmn_err_set(err, CMN_EINVAL, 0,
				   "resource '%s' is not valid UTF-8; a Lua script must be text",
				   name);
	return 0;
}

int sch_resource_stat(struct sch_catalog *cat, const char *project, const char *name,
		      struct sch_resource_info *out, struct cmn_err *err)
{
	sqlite3 *db = sch_catalog_db(cat);
	sqlite3_stmt *st =
	    sch_db_prepare(db, err,
			   "SELECT name, size, sha256, owner, created_at FROM resources"
			   " WHERE project = ?1 AND name = ?2",
			   "ss", project, name);
	int rc;

	if (!st)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && out) {
		memset(out, 0, sizeof(*out));
		snprintf(out->name, sizeof(out->name), "%s",
			 (const char *)sqlite3_column_text(st, 0));
		out->size = (uint64_t)sqlite3_column_int64(st, 1);
		snprintf(out->sha256, sizeof(out->sha256), "%s",
			 (const char *)sqlite3_column_text(st, 2));
		snprintf(out->owner, sizeof(out->owner), "%s",
			 (const char *)sqlite3_column_text(st, 3));
		out->created = sqlite3_column_int64(st, 4);
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return cmn_err_set(err, CMN_EIO, 0, "catalog: %s", sqlite3_errmsg(db));
}

int sch_resource_put(struct sch_catalog *cat, const char *project, const char *name,
		     const void *data, size_t len, const char *owner, bool *replaced,
		     struct cmn_err *err)
{
	sqlite3 *db = sch_catalog_db(cat);
	char hex[65];
	int exists;

	if (sch_resource_check(name, data, len, err) < 0)
		return -1;
	exists = sch_resource_stat(cat, project, name, NULL, err);
	if (exists < 0)
		return -1;
	sch_sha256_hex(data, len, hex);
	/* REPLACE keeps the name as first written (COLLATE NOCASE key): a put
	 * of "A.lua" over "a.lua" replaces it, like the authz registry sees it */
	if (sch_db_run(db, err,
		       exists
			   ? "UPDATE resources SET content = ?3, size = ?4, sha256 = ?5,"
			     " owner = ?6, created_at = ?7 WHERE project = ?1 AND name = ?2"
			   : "INSERT INTO resources (project, name, content, size, sha256, owner,"
			     " created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
		       "ssbissi", project, name, data ? data : "", len, (int64_t)len, hex, owner,
		       (int64_t)time(NULL)) < 0)
		return cmn_err_wrap(err, "put resource %s", name);
	if (replaced)
		*replaced = exists == 1;
	return 0;
}

int sch_resource_get(struct sch_catalog *cat, const char *project, const char *name,
		     struct cmn_buf *out, struct cmn_err *err)
{
	sqlite3 *db = sch_catalog_db(cat);
	sqlite3_stmt *st = sch_db_prepare(
	    db, err, "SELECT content FROM resources WHERE project = ?1 AND name = ?2", "ss",
	    project, name);
	int rc;

	if (!st)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const void *p = sqlite3_column_blob(st, 0);
		size_t n = (size_t)sqlite3_column_bytes(st, 0);
		rc = cmn_buf_append(out, p ? p : "", n, err) < 0 ? -1 : 0;
	} else if (rc == SQLITE_DONE) {
		rc = cmn_err_set(err, CMN_ENOTFOUND, 0, "no resource '%s' in project %s", name,
				 project);
	} else {
		rc = cmn_err_set(err, CMN_EIO, 0, "catalog: %s", sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	return rc;
}

int sch_resource_delete(struct sch_catalog *cat, const char *project, const char *name,
			struct cmn_err *err)
{
	int n = sch_db_run(sch_catalog_db(cat), err,
			   "DELETE FROM resources WHERE project = ?1 AND name = ?2", "ss", project,
			   name);
	if (n < 0)
		return -1;
	if (n == 0)
		return cmn_err_set(err, CMN_ENOTFOUND, 0, "no resource '%s' in project %s", name,
				   project);
	return 0;
}

json_t *sch_resource_list(struct sch_catalog *cat, const char *project, struct cmn_err *err)
{
	return sch_db_query_json(sch_catalog_db(cat), err,
				 "SELECT name, size, sha256, owner, created_at AS created"
				 " FROM resources WHERE project = ?1 ORDER BY name",
				 "s", project);
}

int sch_resource_txn_begin(struct sch_catalog *cat, const char *sp, bool *outer,
			   struct cmn_err *err)
{
	sqlite3 *db = sch_catalog_db(cat);
	char sql[96];

	*outer = sqlite3_get_autocommit(db) != 0;
	snprintf(sql, sizeof(sql), *outer ? "BEGIN IMMEDIATE" : "SAVEPOINT %s", sp);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return cmn_err_set(err, CMN_EIO, 0, "catalog: %s: %s", sql, sqlite3_errmsg(db));
	return 0;
}

int sch_resource_txn_end(struct sch_catalog *cat, const char *sp, bool outer, bool ok,
			 struct cmn_err *err)
{
	sqlite3 *db = sch_catalog_db(cat);
	char sql[128];

	if (outer)
		snprintf(sql, sizeof(sql), "%s", ok ? "COMMIT" : "ROLLBACK");
	else
		snprintf(sql, sizeof(sql), ok ? "RELEASE %s" : "ROLLBACK TO %s; RELEASE %s", sp,
			 sp);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	cmn_err_set(err, CMN_EIO, 0, "catalog: %s: %s", sql, sqlite3_errmsg(db));
	if (outer && ok)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}
