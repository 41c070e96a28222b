/* storage/schema.h — versioned migrations of storage's own tables (all
 * named stor_*) in a caller's SQLite database. Storage does not depend on
 * the scheduler's catalog code: it records its versions in stor_schema. */
#ifndef STOR_SCHEMA_H
#define STOR_SCHEMA_H

#include <sqlite3.h>
#include <stddef.h>

#include "common/err.h"

struct stor_migration {
	int version;
	const char *sql;
};

int stor_schema_apply(sqlite3 *db, const char *component, const struct stor_migration *m, size_t n,
		      struct cmn_err *err);
int stor_db_exec(sqlite3 *db, const char *sql, struct cmn_err *err);
int stor_db_err(sqlite3 *db, struct cmn_err *err, const char *what);

#endif
