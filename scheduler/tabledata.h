/* scheduler/tabledata.h — the rows of SQL tables in chunk storage: the one
 * place that maps a catalog table (job_tables, tables.h) to storage
 * (storage_glue.h) and publishes new data with one catalog commit.
 *
 * Layout (catalog component "tabledata", owned here):
 *   job_table_storage(storage_id INTEGER PRIMARY KEY AUTOINCREMENT,
 *                     project, name, data_version, next_version,
 *                     UNIQUE(project, name))
 * A table gets its row (and its storage data key, sch_storage_table_create)
 * at its first write. data_version 0 = no rows. Storage versions are
 * allocated from next_version (never reused, so two concurrent writers
 * never write the same storage version), written whole
 * (sch_storage_table_write, all-or-nothing), and only then published by
 * one catalog transaction: job_tables.version expected -> expected + 1
 * (compare-and-swap, like sch_tables_commit_version) and data_version =
 * the new storage version. A writer that loses the race gets
 * CMN_ECONFLICT and the table is as it was; a crash before the commit
 * leaves an unpublished storage version that readers never see.
 *
 * Rows: every stored batch (common/rowfmt.h) has all the table's columns,
 * data columns then partition columns, in table order, named and typed as
 * the table declares (partition columns are stored inline as ordinary
 * values). A table is one or more storage versions read in order (the
 * segments, then data_version): an append writes only its rows as a new
 * segment, up to 16; the append after that, and every other write, makes
 * one version of the whole table (tabledata.c says how).
 *
 * Locking: the catalog handle is single-threaded (the API runs handlers
 * under api->lock). Every function here takes that lock itself around its
 * catalog statements and never holds it during storage I/O, so callers
 * must NOT hold it.
 */
#ifndef SCH_TABLEDATA_H
#define SCH_TABLEDATA_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/rowfmt.h"
#include "scheduler/catalog.h"
#include "scheduler/stmt.h"
#include "scheduler/storage_glue.h"

struct sch_tabledata {
	struct sch_catalog *cat;
	struct sch_storage *storage;
	pthread_mutex_t *lock; /* the API lock guarding cat */
};

int sch_tabledata_migrate(struct sch_catalog *cat, struct cmn_err *err);

enum sch_tabledata_mode {
	SCH_TD_APPEND = 1,    /* INSERT INTO: current rows + new rows */
	SCH_TD_OVERWRITE = 2, /* INSERT OVERWRITE: new rows only (with a partition spec:
				 the current rows of every other partition + new rows) */
};

/* Publishes a new version of project.name. `batches` hold rows with the
 * table's DATA columns only (no partition columns), in table order, types
 * as declared (names are not checked); `partition` ("ds=x/hr=1", see
 * sch_tables_partition_spec) gives the partition columns' values for every
 * new row and must be NULL exactly when the table is not partitioned. The
 * partition is registered in job_partitions when new. Fails (changing
 * nothing) with CMN_EINVAL for batches that do not match the table,
 * CMN_ENOTFOUND for no such table, CMN_ECONFLICT when another commit came
 * first, CMN_EUNAVAIL when storage is disabled. *rows_out (may be NULL):
 * the new rows written. */
int sch_tabledata_write(struct sch_tabledata *td, const char *project, const char *name,
			enum sch_tabledata_mode mode, const char *partition,
			const struct sch_storage_batch *batches, size_t nbatches,
			uint64_t *rows_out, struct cmn_err *err);

/* Reads the current version of project.name: cb gets each stored batch of
 * the row groups whose number i (counted across the table's segments)
 * satisfies i % nslices == slice (nslices >= 1); each slice fetches and
 * decrypts only its own row groups, and of those only the asked columns'
 * chunks, so slices read in parallel share the work. Every batch is
 * projected to
 * `cols` (names, case-insensitive, any order, each a column of the table)
 * — only those columns leave this function. A table never written calls cb
 * zero times. The batch passed to cb is valid during the call only, and
 * authenticated (cb may use cmn_rowbatch_open_validated). */
int sch_tabledata_read(struct sch_tabledata *td, const char *project, const char *name,
		       const char *const *cols, size_t ncols, unsigned slice, unsigned nslices,
		       sch_storage_batch_cb cb, void *ctx, struct cmn_err *err);

/* Old versions: a write retires the version it replaced (its chunks are
 * deleted when its last reader is done, storage_glue.h). At start-up,
 * before any request, this drops what a crash left: every stored version
 * of every table but its published one (a replaced version whose readers
 * were running, a write that never got published). *dropped counts them. */
int sch_tabledata_sweep(struct sch_tabledata *td, size_t *dropped, struct cmn_err *err);

/* DROP TABLE: crypto-shreds the data (sch_storage_table_drop) and removes
 * the storage row. The catalog entry itself is the caller's (tables.h). A
 * table never written is fine. */
int sch_tabledata_drop(struct sch_tabledata *td, const char *project, const char *name,
		       struct cmn_err *err);

/* ---- added with the implementation (tabledata.c, tabledata_stmt.c) ------ */

/* ALTER TABLE DROP PARTITION: a new version without the rows of
 * `partition` (canonical spec, as sch_tables_partition_spec writes it),
 * published by one commit that also removes it from job_partitions (like a
 * write: CMN_ECONFLICT when another commit came first). A table without
 * rows only loses the registration. Callers must not hold the lock. */
int sch_tabledata_drop_partition(struct sch_tabledata *td, const char *project, const char *name,
				 const char *partition, struct cmn_err *err);

/* Text form of one value, as bulk upload/download (api_tabledata.c) and
 * partition specs use it: BIGINT decimal; DOUBLE as strtod reads it (finite
 * only) and "%.17g" on output; BOOLEAN true/false; STRING as is (valid
 * UTF-8); BINARY base64; DATETIME 'YYYY-MM-DD[ HH:MM:SS[.mmm]]' UTC. From
 * text, STRING points into s and BINARY into scratch (reset first; needed
 * for BINARY only). CMN_EINVAL "'x' is not a BIGINT" on bad text. */
int sch_tabledata_value_from_text(enum cmn_col_type type, const char *s, size_t len,
				  struct cmn_value *out, struct cmn_buf *scratch,
				  struct cmn_err *err);
int sch_tabledata_value_to_text(enum cmn_col_type type, const struct cmn_value *v,
				struct cmn_buf *out, struct cmn_err *err);

/* A bulk-upload body (tabledata_text.c) as row batches of t's DATA columns
 * (the input of sch_tabledata_write): CSV with a header line naming the
 * data columns in any order (an unquoted empty field is NULL, "" is an
 * empty string), or JSON lines (one object per line, a missing key is
 * NULL). Rows of at most 1 MiB. CMN_EINVAL "line L, column 'c': ..." on
 * the first bad value or structure; out is then empty. */
struct sch_tabledef;
struct sch_tabledata_rows {
	struct sch_storage_batch *v; /* owned */
	size_t n;
	uint64_t rows;
};
int sch_tabledata_parse_body(const struct sch_tabledef *t, bool jsonl, const char *body, size_t len,
			     struct sch_tabledata_rows *out, struct cmn_err *err);
void sch_tabledata_rows_free(struct sch_tabledata_rows *rows);
/* Index of column name[0..len) (case-insensitive) among t->cols[from..to),
 * or -1. */
int sch_tabledata_column(const struct sch_tabledef *t, const char *name, size_t len, size_t from,
			 size_t to);

/* SETPROJECT odps.security.enabledownloadprivilege=true|false (off unless
 * set): whether bulk download also needs odps:Download. Catalog access
 * only; the caller holds the API lock. */
int sch_tabledata_download_privilege(struct sch_catalog *cat, const char *project, bool *on,
				     struct cmn_err *err);
int sch_tabledata_set_download_privilege(struct sch_catalog *cat, const char *project, bool on,
					 struct cmn_err *err);

/* The statement handler "tabledata" (stmt.h): DROP TABLE [IF EXISTS]
 * (odps:Drop decided by sch_job_compile; rows crypto-shredded with
 * sch_tabledata_drop, then the metadata and the authorization object go),
 * ALTER TABLE t DROP [IF EXISTS] PARTITION (odps:Alter; the rows go with
 * the registration) and the SETPROJECT above (owner or operator). It is
 * registered before "tables" (which would drop a partition's metadata
 * only) and before the job handler; it answers 0 (not mine) until
 * sch_tabledata_stmt_use() gave it the catalog, storage and the API lock
 * its handlers are called under. */
int sch_tabledata_stmt_handler(struct sch_stmt_ctx *ctx, const char *sql, size_t len,
			       json_t **result, struct cmn_err *err);
void sch_tabledata_stmt_use(struct sch_catalog *cat, struct sch_storage *storage,
			    pthread_mutex_t *lock);

/* Tests only: fn runs once, without the lock, between a write's storage
 * write and its catalog commit (how a unit test makes a second writer
 * come first, deterministically). NULL clears it. */
void sch_tabledata_test_hook(void (*fn)(void *arg), void *arg);

#endif
