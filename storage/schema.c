/* storage/schema.c — see schema.h. Each missing migration runs in its own
 * transaction together with the version bump. */
#include "storage/schema.h"

int stor_db_err(sqlite3 *db, struct cmn_err *err, const char *what)
{
	return cmn_err_set(err, CMN_EIO, 0, "sqlite %s: %s", what, sqlite3_errmsg(db));
}

int stor_db_exec(sqlite3 *db, const char *sql, struct cmn_err *err)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		cmn_err_set(err, CMN_EIO, 0, "sqlite: %s", msg ? msg : "error");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int current_version(sqlite3 *db, const char *component, int *out, struct cmn_err *err)
{
	sqlite3_stmt *st;
	*out = 0;
	if (sqlite3_prepare_v2(db, "SELECT version FROM stor_schema WHERE component = ?", -1, &st,
			       NULL) != SQLITE_OK)
		return stor_db_err(db, err, "prepare stor_schema");
	sqlite3_bind_text(st, 1, component, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		*out = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return 0;
}

int stor_schema_apply(sqlite3 *db, const char *component, const struct stor_migration *m, size_t n,
		      struct cmn_err *err)
{
	int have;

	if (stor_db_exec(db,
			 "CREATE TABLE IF NOT EXISTS stor_schema (component TEXT PRIMARY KEY, "
			 "version INTEGER NOT NULL)",
			 err) < 0 ||
	    current_version(db, component, &have, err) < 0)
		return cmn_err_wrap(err, "storage schema");
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *st;
		int rc;
		if (m[i].version <= have)
			continue;
		if (stor_db_exec(db, "BEGIN IMMEDIATE", err) < 0)
			return -1;
		if (stor_db_exec(db, m[i].sql, err) < 0)
			goto fail;
		if (sqlite3_prepare_v2(
			db,
			"INSERT INTO stor_schema(component, version) VALUES (?, ?) "
			"ON CONFLICT(component) DO UPDATE SET version = excluded.version",
			-1, &st, NULL) != SQLITE_OK) {
			stor_db_err(db, err, "prepare");
			goto fail;
		}
		sqlite3_bind_text(st, 1, component, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, m[i].version);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE) {
			stor_db_err(db, err, "record schema version");
			goto fail;
		}
		if (stor_db_exec(db, "COMMIT", err) < 0)
			goto fail;
		have = m[i].version;
	}
	return 0;
fail:
	stor_db_exec(db, "ROLLBACK", NULL);
	return cmn_err_wrap(err, "storage schema %s v%d", component, have + 1);
}
