/* scheduler/tables.h — table, view and function metadata of the SQL jobs
 * module (catalog component "tables").
 *
 * Catalog tables (owned here; other components read them only through this
 * header):
 *   job_tables(project, name, kind 'table'|'view', owner, comment,
 *              lifecycle, view_sql, version, created_at)
 *   job_columns(project, table_name, position, name, type, comment,
 *               is_partition)            -- partition columns after the others
 *   job_partitions(project, table_name, spec, version, created_at)
 *                                         -- spec "ds=2024/hr=1" in column order
 *   job_functions(project, name, kind 'scalar'|'aggregate'|'table', script,
 *                 entry, signature, columns, resources, owner, created_at)
 * `version` of a table is bumped by the single commit that publishes new
 * data (INSERT); the storage side keys its chunk lists by (table, version).
 *
 * The resolver asks for definitions through struct sch_q_env (resolve.h);
 * sch_tables_env() gives the catalog-backed implementation.
 */
#ifndef SCH_TABLES_H
#define SCH_TABLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "scheduler/catalog.h"
#include "scheduler/sql_query.h"
#include "scheduler/stmt.h"

struct sch_tabledef {
	char *project, *name;
	bool is_view;
	char *owner;
	char *view_sql;            /* views: the query text */
	struct sch_q_coldef *cols; /* data columns, then partition columns */
	size_t ncols, npcols;      /* npcols of the ncols are partition columns */
	int64_t version;
};

enum sch_fn_kind {
	SCH_FN_SCALAR = 1,
	SCH_FN_AGGREGATE,
	SCH_FN_TABLE,
};

struct sch_funcdef {
	char *project, *name;
	enum sch_fn_kind kind;
	char *script, *entry; /* CREATE FUNCTION f AS '<script>.<entry>' */
	bool has_signature;   /* else: any arguments, result STRING */
	enum sch_q_type *args;
	size_t nargs;
	enum sch_q_type ret;         /* scalar/aggregate result; table: type of every column */
	struct sch_sql_list columns; /* table functions: output column names */
	struct sch_sql_list resources;
};

void sch_tabledef_free(struct sch_tabledef *t);
void sch_funcdef_free(struct sch_funcdef *f);

/* "bigint,string->string": fills args/nargs/ret; -1 (CMN_EINVAL) when malformed. */
int sch_signature_parse(const char *sig, struct sch_funcdef *f, struct cmn_err *err);

int sch_tables_migrate(struct sch_catalog *cat, struct cmn_err *err);

/* Lookups: 0 and *out set, or 0 and *out NULL when it does not exist. */
int sch_tables_get(struct sch_catalog *cat, const char *project, const char *name,
		   struct sch_tabledef **out, struct cmn_err *err);
int sch_functions_get(struct sch_catalog *cat, const char *project, const char *name,
		      struct sch_funcdef **out, struct cmn_err *err);

/* Registrations (CREATE TABLE/VIEW/FUNCTION). CMN_EEXIST when the name is taken. */
int sch_tables_put(struct sch_catalog *cat, const struct sch_tabledef *t, const char *comment,
		   int64_t lifecycle, struct cmn_err *err);
int sch_functions_put(struct sch_catalog *cat, const struct sch_funcdef *f, const char *signature,
		      const char *owner, struct cmn_err *err);
int sch_tables_drop(struct sch_catalog *cat, const char *project, const char *name,
		    struct cmn_err *err);
int sch_functions_drop(struct sch_catalog *cat, const char *project, const char *name,
		       struct cmn_err *err);

/* The one catalog change that publishes new data of a table (INSERT's
 * commit, after every chunk is on its replicas): version `expected` becomes
 * expected + 1. CMN_ECONFLICT when another commit came first (the caller
 * then fails, leaving the table as it was), CMN_ENOTFOUND when it is gone. */
int sch_tables_commit_version(struct sch_catalog *cat, const char *project, const char *name,
			      int64_t expected, struct cmn_err *err);

/* "ds=2024/hr=1": the PARTITION (...) values of s in t's partition column
 * order (every partition column once; values without '/' or '='). */
int sch_tables_partition_spec(const struct sch_tabledef *t, const struct sch_q_stmt *s, char *out,
			      size_t outlen, struct cmn_err *err);

/* sch_stmt handler (stmt.h) of the metadata statements: CREATE TABLE (no
 * AS), CREATE VIEW, DROP VIEW, ALTER TABLE ADD/DROP PARTITION, DESC, SHOW
 * TABLES/PARTITIONS/FUNCTIONS (after any SETs). Each is compiled — every
 * access decided and audited — then run in one savepoint; tables and views
 * are registered in the authorization registry too. Returns 0 for other
 * texts (queries, INSERT, CTAS, DROP TABLE, functions: the job runner's). */
int sch_tables_stmt_handler(struct sch_stmt_ctx *ctx, const char *sql, size_t len, json_t **result,
			    struct cmn_err *err);

#endif
