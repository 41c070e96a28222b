/* scheduler/dbutil.c — see dbutil.h. */
#include "scheduler/dbutil.h"

#include <stdarg.h>
#include <stdint.h>

static sqlite3_stmt *vprepare(sqlite3 *db, struct cmn_err *err, const char *sql, const char *types,
			      va_list ap)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		cmn_err_set(err, CMN_EIO, 0, "prepare: %s", sqlite3_errmsg(db));
		return NULL;
	}
	for (int i = 0; types && types[i]; i++) {
		int rc = SQLITE_OK;
		if (types[i] == 's') {
			const char *s = va_arg(ap, const char *);
			rc = s ? sqlite3_bind_text(st, i + 1, s, -1, SQLITE_TRANSIENT)
			       : sqlite3_bind_null(st, i + 1);
		} else if (types[i] == 'i') {
			rc = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
		} else if (types[i] == 'b') {
			const void *p = va_arg(ap, const void *);
			size_t n = va_arg(ap, size_t);
			rc = sqlite3_bind_blob64(st, i + 1, p, n, SQLITE_TRANSIENT);
		}
		if (rc != SQLITE_OK) {
			cmn_err_set(err, CMN_EIO, 0, "bind: %s", sqlite3_errmsg(db));
			sqlite3_finalize(st);
			return NULL;
		}
	}
	return st;
}

sqlite3_stmt *sch_db_prepare(sqlite3 *db, struct cmn_err *err, const char *sql, const char *types,
			     ...)
{
	va_list ap;
	sqlite3_stmt *st;

	va_start(ap, types);
	st = vprepare(db, err, sql, types, ap);
	va_end(ap);
	return st;
}

int sch_db_run(sqlite3 *db, struct cmn_err *err, const char *sql, const char *types, ...)
{
	va_list ap;
	sqlite3_stmt *st;
	int rc;

	va_start(ap, types);
	st = vprepare(db, err, sql, types, ap);
	va_end(ap);
	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	sqlite3_finalize(st);
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
		return cmn_err_set(err, CMN_EEXIST, 0, "already exists");
	if (rc != SQLITE_DONE)
		return cmn_err_set(err, CMN_EIO, 0, "%s", sqlite3_errmsg(db));
	return sqlite3_changes(db);
}

static json_t *column_json(sqlite3_stmt *st, int i)
{
	switch (sqlite3_column_type(st, i)) {
	case SQLITE_INTEGER:
		return json_integer(sqlite3_column_int64(st, i));
	case SQLITE_FLOAT:
		return json_real(sqlite3_column_double(st, i));
	case SQLITE_TEXT:
		return json_stringn((const char *)sqlite3_column_text(st, i),
				    (size_t)sqlite3_column_bytes(st, i));
	default:
		return json_null();
	}
}

json_t *sch_db_query_json(sqlite3 *db, struct cmn_err *err, const char *sql, const char *types, ...)
{
	va_list ap;
	sqlite3_stmt *st;
	json_t *rows = json_array();
	int rc;

	va_start(ap, types);
	st = vprepare(db, err, sql, types, ap);
	va_end(ap);
	if (!st || !rows) {
		sqlite3_finalize(st);
		json_decref(rows);
		if (st)
			cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		return NULL;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *row = json_object();
		for (int i = 0; row && i < sqlite3_column_count(st); i++) {
			json_t *v = column_json(st, i);
			if (!v) { /* a value jansson refuses (invalid UTF-8 text) shows as null */
				v = json_null();
			}
			json_object_set_new(row, sqlite3_column_name(st, i), v);
		}
		if (!row || json_array_append_new(rows, row) < 0) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		cmn_err_set(err, CMN_EIO, 0, "%s", sqlite3_errmsg(db));
		json_decref(rows);
		return NULL;
	}
	return rows;
}

int sch_db_begin(sqlite3 *db, struct cmn_err *err)
{
	return sch_db_run(db, err, "BEGIN IMMEDIATE", NULL) < 0 ? -1 : 0;
}

int sch_db_commit(sqlite3 *db, struct cmn_err *err)
{
	return sch_db_run(db, err, "COMMIT", NULL) < 0 ? -1 : 0;
}

void sch_db_rollback(sqlite3 *db)
{
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

int sch_db_on_project_delete(sqlite3 *db, const char *name, const char *body, struct cmn_err *err)
{
	sqlite3_stmt *st = sch_db_prepare(
	    db, err, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'projects'", "");
	char *sql;
	int rc;

	if (!st)
		return -1;
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE
			   ? 0
			   : cmn_err_set(err, CMN_EIO, 0, "catalog: %s", sqlite3_errmsg(db));
	sql = sqlite3_mprintf("CREATE TRIGGER IF NOT EXISTS \"%w\" AFTER DELETE ON projects"
			      " BEGIN %s END",
			      name, body);
	if (!sql)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	rc = sch_db_run(db, err, sql, "");
	sqlite3_free(sql);
	return rc < 0 ? -1 : 0;
}
