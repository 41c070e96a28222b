/* scheduler/dbutil.h — small helpers over the catalog's SQLite handle for
 * the API's modules: bind-by-type-string execution and rows as JSON.
 *
 * types: one character per argument: 's' const char * (NULL binds NULL),
 * 'i' int64_t, 'b' const void * then size_t (a blob).
 */
#ifndef SCH_DBUTIL_H
#define SCH_DBUTIL_H

#include <jansson.h>
#include <sqlite3.h>

#include "common/err.h"

/* Runs one statement to completion; returns the number of changed rows
 * (>= 0) or -1. A UNIQUE/PRIMARY KEY violation fails with CMN_EEXIST. */
int sch_db_run(sqlite3 *db, struct cmn_err *err, const char *sql, const char *types, ...);
/* Runs a query; every row becomes an object keyed by column name. */
json_t *sch_db_query_json(sqlite3 *db, struct cmn_err *err, const char *sql, const char *types,
			  ...);
/* Prepares sql and binds; the caller steps and finalizes. */
sqlite3_stmt *sch_db_prepare(sqlite3 *db, struct cmn_err *err, const char *sql, const char *types,
			     ...);
int sch_db_begin(sqlite3 *db, struct cmn_err *err);
/* CREATE TRIGGER IF NOT EXISTS name AFTER DELETE ON projects running body
 * (statements using OLD.name): what a component keeps per project goes with
 * it. The projects table belongs to the accounts component and may not
 * exist yet (unit tests migrate components alone): then nothing is done. */
int sch_db_on_project_delete(sqlite3 *db, const char *name, const char *body, struct cmn_err *err);
int sch_db_commit(sqlite3 *db, struct cmn_err *err);
void sch_db_rollback(sqlite3 *db);

#endif
