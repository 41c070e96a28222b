/* scheduler/catalog.h — the catalog: one SQLite database in --data-dir
 * (WAL, foreign keys on). Each component (api/accounts, authz, storage
 * master, jobs) owns its tables and registers its own versioned migrations
 * under its component name; sch_catalog_migrate() applies the missing ones
 * in one transaction each and records them in schema_migrations.
 *
 * Shared table contract (owned by the api/accounts component):
 *   projects(name TEXT PRIMARY KEY, owner TEXT NOT NULL -- principal name,
 *            created_at INTEGER NOT NULL, ...)
 * Other components refer to projects by name.
 */
#ifndef SCH_CATALOG_H
#define SCH_CATALOG_H

#include <sqlite3.h>
#include <stddef.h>

#include "common/err.h"

struct sch_catalog;

struct sch_migration {
	int version; /* 1, 2, 3, ... per component */
	const char *sql;
};

int sch_catalog_open(struct sch_catalog **out, const char *path, struct cmn_err *err);
void sch_catalog_close(struct sch_catalog *cat);
sqlite3 *sch_catalog_db(struct sch_catalog *cat);
int sch_catalog_migrate(struct sch_catalog *cat, const char *component,
			const struct sch_migration *migrations, size_t count, struct cmn_err *err);

#endif
