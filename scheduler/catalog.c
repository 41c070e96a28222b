/* scheduler/catalog.c — the catalog database: open with the settings every
 * component relies on, and per-component versioned migrations. */
#include "scheduler/catalog.h"

#include <stdlib.h>

#include "common/cleanup.h"

struct sch_catalog {
	sqlite3 *db;
};

static int exec(sqlite3 *db, const char *sql, struct cmn_err *err)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		cmn_err_set(err, CMN_EIO, 0, "%s", msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

int sch_catalog_open(struct sch_catalog **out, const char *path, struct cmn_err *err)
{
	cleanup_free struct sch_catalog *cat = calloc(1, sizeof(*cat));

	*out = NULL;
	if (!cat)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	if (sqlite3_open_v2(path, &cat->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
				SQLITE_OPEN_EXRESCODE,
			    NULL) != SQLITE_OK) {
		cmn_err_set(err, CMN_EIO, 0, "open catalog %s: %s", path,
			    cat->db ? sqlite3_errmsg(cat->db) : "out of memory");
		sqlite3_close(cat->db);
		return -1;
	}
	sqlite3_busy_timeout(cat->db, 5000);
	/* WAL: readers never block the writer. synchronous=FULL: an acknowledged
	 * change survives power loss, which the API promises ("SIGKILL loses
	 * nothing that was acknowledged"). Foreign keys are off by default in
	 * SQLite and must be enabled per connection. */
	if (exec(cat->db,
		 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
		 "CREATE TABLE IF NOT EXISTS schema_migrations ("
		 "  component TEXT NOT NULL, version INTEGER NOT NULL,"
		 "  applied_at INTEGER NOT NULL DEFAULT (strftime('%s','now')),"
		 "  PRIMARY KEY (component, version));",
		 err) < 0) {
		sqlite3_close(cat->db);
		return cmn_err_wrap(err, "initialise catalog %s", path);
	}
	*out = steal_pointer(&cat);
	return 0;
}

void sch_catalog_close(struct sch_catalog *cat)
{
	if (!cat)
		return;
	sqlite3_close(cat->db);
	free(cat);
}

sqlite3 *sch_catalog_db(struct sch_catalog *cat)
{
	return cat->db;
}

static int applied_version(sqlite3 *db, const char *component, int *version, struct cmn_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(db,
			       "SELECT COALESCE(MAX(version), 0) FROM schema_migrations "
			       "WHERE component = ?1",
			       -1, &st, NULL) != SQLITE_OK)
		return cmn_err_set(err, CMN_EIO, 0, "%s", sqlite3_errmsg(db));
	sqlite3_bind_text(st, 1, component, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return cmn_err_set(err, CMN_EIO, 0, "%s", sqlite3_errmsg(db));
	return 0;
}

static int apply_one(sqlite3 *db, const char *component, const struct sch_migration *m,
		     struct cmn_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (exec(db, "BEGIN IMMEDIATE", err) < 0)
		return -1;
	if (exec(db, m->sql, err) < 0)
		goto fail;
	if (sqlite3_prepare_v2(db,
			       "INSERT INTO schema_migrations(component, version) VALUES (?1, ?2)",
			       -1, &st, NULL) != SQLITE_OK) {
		cmn_err_set(err, CMN_EIO, 0, "%s", sqlite3_errmsg(db));
		goto fail;
	}
	sqlite3_bind_text(st, 1, component, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, m->version);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		cmn_err_set(err, CMN_EIO, 0, "%s", sqlite3_errmsg(db));
		goto fail;
	}
	return exec(db, "COMMIT", err);
fail:
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

int sch_catalog_migrate(struct sch_catalog *cat, const char *component,
			const struct sch_migration *migrations, size_t count, struct cmn_err *err)
{
	int have = 0;

	if (applied_version(cat->db, component, &have, err) < 0)
		return cmn_err_wrap(err, "read %s schema version", component);
	for (size_t i = 0; i < count; i++) {
		const struct sch_migration *m = &migrations[i];
		if (m->version != (int)i + 1)
			return cmn_err_set(err, CMN_EINTERNAL, 0,
					   "%s migration %zu has version %d, expected %zu",
					   component, i, m->version, i + 1);
		if (m->version <= have)
			continue;
		if (apply_one(cat->db, component, m, err) < 0)
			return cmn_err_wrap(err, "%s migration %d", component, m->version);
	}
	if (have > (int)count)
		return cmn_err_set(
		    err, CMN_ECONFLICT, 0,
		    "catalog has %s schema version %d, newer than this cordond (%zu)", component,
		    have, count);
	return 0;
}
