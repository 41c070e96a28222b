/* scheduler/tabledata.c — table rows in chunk storage; see tabledata.h for
 * the layout, the versioning and the locking contract.
 *
 * What a write does, in order (the lock is held only in steps 1 and 5):
 *   1 catalog: the table definition, its storage row (created at the first
 *     write) and a fresh storage version taken from next_version;
 *   2 the new rows are checked against the table and rebuilt as stored
 *     batches (data columns + partition values, at most TD_BATCH_MAX bytes);
 *   3 the rows that stay are read from the current versions: for a
 *     partition overwrite those of the other partitions, for an append
 *     none (it only adds a segment) unless the table already has
 *     TD_SEGMENTS_MAX segments, when the append compacts them all;
 *   4 everything is written as the new storage version (all-or-nothing);
 *   5 one savepoint: job_tables.version CAS, data_version and segments,
 *     the partition.
 * A failure before 5 leaves an unpublished version nobody reads.
 *
 * Segments: a table's rows are those of the storage versions listed in
 * job_table_storage.segments (comma-separated, oldest first) followed by
 * data_version's. An append writes only its own rows as a new version and
 * publishes it as the new data_version with the old list grown by one, so
 * it costs O(new rows), not O(table); every other write publishes one
 * version and an empty list. */
#include "scheduler/tabledata.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/cleanup.h"
#include "common/parse.h"
#include "common/rowfmt.h"
#include "scheduler/dbutil.h"
#include "scheduler/tables.h"

/* A stored batch must fit one 4 MiB chunk with its frame; 2 MiB leaves
 * room and keeps the copy an append makes of each batch small. */
#define TD_BATCH_MAX (2u << 20)
/* Versions one table may consist of: a read opens each; the append that
 * would make one more rewrites them all as one instead (so an append costs
 * O(table) once in TD_SEGMENTS_MAX appends). */
#define TD_SEGMENTS_MAX 16

static const struct sch_migration migrations[] = {
	{ 1, "CREATE TABLE job_table_storage ("
	     " storage_id INTEGER PRIMARY KEY AUTOINCREMENT,"
	     " project TEXT NOT NULL, name TEXT NOT NULL COLLATE NOCASE,"
	     " data_version INTEGER NOT NULL DEFAULT 0,"
	     " next_version INTEGER NOT NULL DEFAULT 1,"
	     " UNIQUE (project, name));"
	     /* A table re-created under the same name must never see the rows
	      * of the one before, even if its drop skipped sch_tabledata_drop. */
	     "CREATE TRIGGER job_table_storage_forget AFTER DELETE ON job_tables"
	     " BEGIN DELETE FROM job_table_storage WHERE project = OLD.project"
	     " AND name = OLD.name; END;"
	     /* SETPROJECT odps.security.enabledownloadprivilege (tabledata_stmt.c) */
	     "CREATE TABLE tabledata_project_flags (project TEXT PRIMARY KEY,"
	     " download_privilege INTEGER NOT NULL DEFAULT 0);" },
	{ 2, "ALTER TABLE job_table_storage ADD COLUMN segments TEXT NOT NULL DEFAULT '';" },
};

int sch_tabledata_migrate(struct sch_catalog *cat, struct cmn_err *err)
{
	/* job_table_storage rows go with their job_tables rows (tables.c) */
	return sch_catalog_migrate(cat, "tabledata", migrations, CMN_ARRAY_SIZE(migrations), err) <
			   0 ||
		       sch_db_on_project_delete(
			   sch_catalog_db(cat), "tabledata_project_deleted",
			   "DELETE FROM tabledata_project_flags WHERE project = OLD.name;", err) < 0
		   ? -1
		   : 0;
}

static void td_lock(struct sch_tabledata *td)
{
	if (td->lock)
		pthread_mutex_lock(td->lock);
}

static void td_unlock(struct sch_tabledata *td)
{
	if (td->lock)
		pthread_mutex_unlock(td->lock);
}

/* ---- catalog side (under the lock) ------------------------------------- */

static int load_table(struct sch_catalog *cat, const char *project, const char *name,
		      struct sch_tabledef **out, struct cmn_err *err)
{
	if (sch_tables_get(cat, project, name, out, err) < 0)
		return -1;
	if (!*out)
		return cmn_err_set(err, CMN_ENOTFOUND, 0, "table '%s.%s' does not exist", project,
				   name);
	if ((*out)->is_view) {
		sch_tabledef_free(*out);
		*out = NULL;
		return cmn_err_set(err, CMN_EINVAL, 0, "'%s.%s' is a view, not a table", project,
				   name);
	}
	return 0;
}

struct td_row {
	int64_t storage_id;   /* 0: the table has no storage row */
	int64_t data_version; /* 0: no rows */
	int64_t new_version;  /* allocated by get_row(..., true) */
	/* every version of the table's rows, in order: the segments, then
	 * data_version (none when data_version is 0) */
	uint64_t v[TD_SEGMENTS_MAX];
	size_t nv;
};

/* "5,9,12" (job_table_storage.segments) then data_version into row->v. */
static int parse_segments(struct td_row *row, const char *text, struct cmn_err *err)
{
	row->nv = 0;
	while (text && *text) {
		const char *comma = strchr(text, ',');
		size_t len = comma ? (size_t)(comma - text) : strlen(text);
		char num[24];
		uint64_t v;
		if (len == 0 || len >= sizeof(num) || row->nv + 1 >= TD_SEGMENTS_MAX)
			return cmn_err_set(err, CMN_EINTERNAL, 0, "catalog: bad segments '%s'",
					   text);
		memcpy(num, text, len);
		num[len] = '\0';
		if (cmn_parse_u64(num, &v, NULL) < 0 || v == 0)
			return cmn_err_set(err, CMN_EINTERNAL, 0, "catalog: bad segment '%s'", num);
		row->v[row->nv++] = v;
		text = comma ? comma + 1 : NULL;
	}
	if (row->data_version != 0)
		row->v[row->nv++] = (uint64_t)row->data_version;
	else if (row->nv)
		return cmn_err_set(err, CMN_EINTERNAL, 0, "catalog: segments without data");
	return 0;
}

/* The list an append publishes: every version the table had. */
static int segments_text(const struct td_row *row, struct cmn_buf *out, struct cmn_err *err)
{
	for (size_t i = 0; i < row->nv; i++)
		if (cmn_buf_printf(out, err, "%s%llu", i ? "," : "",
				   (unsigned long long)row->v[i]) < 0)
			return -1;
	return cmn_buf_append(out, "", 0, err);
}

static void row_hold(struct sch_tabledata *td, const struct td_row *row)
{
	for (size_t i = 0; i < row->nv; i++)
		sch_storage_version_hold(td->storage, (uint64_t)row->storage_id, row->v[i]);
}

static void row_release(struct sch_tabledata *td, const struct td_row *row)
{
	for (size_t i = 0; i < row->nv; i++)
		sch_storage_version_release(td->storage, (uint64_t)row->storage_id, row->v[i]);
}

static int select_row(sqlite3 *db, const char *project, const char *name, struct td_row *row,
		      struct cmn_err *err)
{
	sqlite3_stmt *st =
	    sch_db_prepare(db, err,
			   "SELECT storage_id, data_version, next_version, segments FROM"
			   " job_table_storage WHERE project = ?1 AND name = ?2",
			   "ss", project, name);
	int rc, prc = 0;

	if (!st)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		row->storage_id = sqlite3_column_int64(st, 0);
		row->data_version = sqlite3_column_int64(st, 1);
		row->new_version = sqlite3_column_int64(st, 2);
		prc = parse_segments(row, (const char *)sqlite3_column_text(st, 3), err);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return cmn_err_set(err, CMN_EIO, 0, "catalog: %s", sqlite3_errmsg(db));
	return prc;
}

/* The storage row of a table; with allocate, creates it when missing and
 * takes a version from next_version (never handed out twice). */
static int get_row(sqlite3 *db, const char *project, const char *name, bool allocate,
		   struct td_row *row, struct cmn_err *err)
{
	*row = (struct td_row){ 0 };
	if (!allocate)
		return select_row(db, project, name, row, err);
	if (sqlite3_exec(db, "SAVEPOINT td_alloc", NULL, NULL, NULL) != SQLITE_OK)
		return cmn_err_set(err, CMN_EIO, 0, "catalog: %s", sqlite3_errmsg(db));
	if (sch_db_run(db, err,
		       "INSERT OR IGNORE INTO job_table_storage (project, name) VALUES (?1, ?2)",
		       "ss", project, name) < 0 ||
	    select_row(db, project, name, row, err) < 0 ||
	    sch_db_run(db, err,
		       "UPDATE job_table_storage SET next_version = next_version + 1"
		       " WHERE storage_id = ?1",
		       "i", row->storage_id) < 0) {
		sqlite3_exec(db, "ROLLBACK TO td_alloc; RELEASE td_alloc", NULL, NULL, NULL);
		return -1;
	}
	sqlite3_exec(db, "RELEASE td_alloc", NULL, NULL, NULL);
	return 0;
}

/* ---- partitions --------------------------------------------------------- */

/* The partition of new rows: values typed as the partition columns, and the
 * spec in table order (the form sch_tables_partition_spec writes). */
struct td_part {
	char *text;             /* owned; STRING values point into it */
	struct cmn_value *vals; /* npcols */
	char canon[2048];
	bool unregister; /* DROP PARTITION: the commit removes it from job_partitions */
};

static void part_free(struct td_part *p)
{
	free(p->text);
	free(p->vals);
}

static int part_column(const struct sch_tabledef *t, const char *key, size_t klen)
{
	for (size_t j = t->ncols - t->npcols; j < t->ncols; j++)
		if (strlen(t->cols[j].name) == klen && strncasecmp(t->cols[j].name, key, klen) == 0)
			return (int)(j - (t->ncols - t->npcols));
	return -1;
}

static int part_segment(const struct sch_tabledef *t, char *seg, struct td_part *p, bool *seen,
			const char **texts, struct cmn_err *err)
{
	char *eq = strchr(seg, '=');
	size_t nd = t->ncols - t->npcols;
	int j;

	if (!eq || eq == seg || !eq[1] || strchr(eq + 1, '='))
		return cmn_err_set(err, CMN_EINVAL, 0,
				   "partition '%s': expected column=value, '/'-separated", seg);
	j = part_column(t, seg, (size_t)(eq - seg));
	if (j < 0)
		return cmn_err_set(err, CMN_EINVAL, 0,
				   "partition: '%.*s' is not a partition column", (int)(eq - seg),
				   seg);
	if (seen[j])
		return cmn_err_set(err, CMN_EINVAL, 0, "partition: column '%s' given twice",
				   t->cols[nd + (size_t)j].name);
	if (t->cols[nd + (size_t)j].type == SCH_QT_BINARY)
		return cmn_err_set(err, CMN_EINVAL, 0,
				   "partition: BINARY partition columns are not supported");
	seen[j] = true;
	texts[j] = eq + 1;
	if (sch_tabledata_value_from_text((enum cmn_col_type)t->cols[nd + (size_t)j].type, eq + 1,
					  strlen(eq + 1), &p->vals[j], NULL, err) < 0)
		return cmn_err_wrap(err, "partition column '%s'", t->cols[nd + (size_t)j].name);
	return 0;
}

static int parse_partition(const struct sch_tabledef *t, const char *spec, struct td_part *p,
			   struct cmn_err *err)
{
	size_t nd = t->ncols - t->npcols, n = 0;
	cleanup_free bool *seen = calloc(t->npcols + 1, sizeof(*seen));
	cleanup_free const char **texts = calloc(t->npcols + 1, sizeof(*texts));
	char *save = NULL;

	memset(p, 0, sizeof(*p));
	if (!spec && t->npcols == 0)
		return 0;
	if (!spec || t->npcols == 0)
		return cmn_err_set(err, CMN_EINVAL, 0,
				   t->npcols ? "table '%s' is partitioned: a partition is required"
					     : "table '%s' is not partitioned",
				   t->name);
	p->text = strdup(spec);
	p->vals = calloc(t->npcols, sizeof(*p->vals));
	if (!p->text || !p->vals || !seen || !texts)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	for (char *seg = strtok_r(p->text, "/", &save); seg; seg = strtok_r(NULL, "/", &save))
		if (part_segment(t, seg, p, seen, texts, err) < 0)
			return -1;
	for (size_t j = 0; j < t->npcols; j++) {
		if (!seen[j])
			return cmn_err_set(err, CMN_EINVAL, 0, "partition column '%s' missing",
					   t->cols[nd + j].name);
		n += (size_t)snprintf(p->canon + n, n < sizeof(p->canon) ? sizeof(p->canon) - n : 0,
				      "%s%s=%s", j ? "/" : "", t->cols[nd + j].name, texts[j]);
		if (n >= sizeof(p->canon))
			return cmn_err_set(err, CMN_ELIMIT, 0, "partition spec too long");
	}
	return 0;
}

/* ---- building stored batches ------------------------------------------ */

/* Stored batches of one new version, owned. */
struct td_out {
	struct sch_storage_batch *v;
	size_t n, cap;
	uint64_t rows;
	/* the batch being filled */
	struct cmn_rowbatch_writer *w;
	const struct sch_tabledef *t;
};

static void out_free(struct td_out *o)
{
	for (size_t i = 0; i < o->n; i++)
		free((void *)(uintptr_t)o->v[i].data); /* ours: built by out_flush/keep_cb */
	free(o->v);
	if (o->w) {
		cmn_rowbatch_writer_free(o->w);
		free(o->w);
	}
}

static int out_flush(struct td_out *o, struct cmn_err *err)
{
	size_t len;
	char *data;

	if (!o->w || o->w->ncols == 0 || o->w->nrows == 0)
		return 0;
	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 8;
		struct sch_storage_batch *nv = realloc(o->v, cap * sizeof(*nv));
		if (!nv)
			return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		o->v = nv;
		o->cap = cap;
	}
	if (cmn_rowbatch_finish(o->w, err) < 0)
		return -1;
	data = cmn_buf_steal(&o->w->buf, &len);
	cmn_rowbatch_writer_free(o->w);
	o->w->ncols = 0;
	if (!data)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	o->v[o->n].data = data;
	o->v[o->n++].len = len;
	return 0;
}

static int out_begin(struct td_out *o, struct cmn_err *err)
{
	struct cmn_col cols[CMN_ROW_MAX_COLS];

	if (o->t->ncols > CMN_ROW_MAX_COLS)
		return cmn_err_set(err, CMN_ELIMIT, 0, "too many columns");
	for (size_t i = 0; i < o->t->ncols; i++)
		cols[i] = (struct cmn_col){ (enum cmn_col_type)o->t->cols[i].type,
					    o->t->cols[i].name, strlen(o->t->cols[i].name) };
	if (!o->w && !(o->w = calloc(1, sizeof(*o->w))))
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	return cmn_rowbatch_begin(o->w, cols, o->t->ncols, TD_BATCH_MAX, err);
}

/* Adds one whole-table row, starting a new batch when the current is full. */
static int out_row(struct td_out *o, const struct cmn_value *vals, struct cmn_err *err)
{
	struct cmn_err e = CMN_ERR_INIT;

	for (int attempt = 0; attempt < 2; attempt++) {
		if ((!o->w || o->w->ncols == 0) && out_begin(o, err) < 0)
			return -1;
		cmn_err_clear(&e);
		if (cmn_rowbatch_add(o->w, vals, &e) == 0)
			return 0;
		if (e.code != CMN_ELIMIT) {
			if (err)
				*err = e;
			return -1;
		}
		if (o->w->nrows == 0)
			break;
		if (out_flush(o, err) < 0)
			return -1;
	}
	return cmn_err_set(err, CMN_EINVAL, 0, "a row is larger than %u bytes", TD_BATCH_MAX);
}

/* New rows: the caller's batches (data columns, declared types) plus the
 * partition values. */
static int add_new_rows(struct td_out *o, const struct td_part *p,
			const struct sch_storage_batch *batches, size_t nbatches,
			struct cmn_err *err)
{
	const struct sch_tabledef *t = o->t;
	size_t nd = t->ncols - t->npcols;
	cleanup_free struct cmn_rowbatch_reader *r = calloc(1, sizeof(*r));
	cleanup_free struct cmn_value *vals = calloc(t->ncols + 1, sizeof(*vals));
	int rc;

	if (!r || !vals)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	for (size_t b = 0; b < nbatches; b++) {
		if (cmn_rowbatch_open(r, batches[b].data, batches[b].len, err) < 0)
			return cmn_err_wrap(err, "batch %zu", b);
		if (r->ncols != nd)
			return cmn_err_set(err, CMN_EINVAL, 0,
					   "batch %zu has %zu columns, table '%s' has %zu", b,
					   r->ncols, t->name, nd);
		for (size_t i = 0; i < nd; i++)
			if ((int)r->cols[i].type != (int)t->cols[i].type)
				return cmn_err_set(
				    err, CMN_EINVAL, 0, "batch %zu column %zu is %s, '%s' is %s", b,
				    i + 1, cmn_col_type_name(r->cols[i].type), t->cols[i].name,
				    sch_q_type_name(t->cols[i].type));
		for (size_t j = 0; j < t->npcols; j++)
			vals[nd + j] = p->vals[j];
		while ((rc = cmn_rowbatch_next(r, vals, err)) == 1) {
			if (out_row(o, vals, err) < 0)
				return -1;
			o->rows++;
		}
		if (rc < 0)
			return -1;
	}
	return out_flush(o, err);
}

/* Rows of the current version that stay: all (append), or those outside
 * the overwritten partition. */
struct keep_ctx {
	struct td_out *o;
	const struct td_part *p; /* NULL: keep everything */
	struct cmn_rowbatch_reader *r;
	struct cmn_value *vals;
};

static bool in_partition(const struct keep_ctx *k, const struct cmn_value *vals)
{
	const struct sch_tabledef *t = k->o->t;
	size_t nd = t->ncols - t->npcols;
	for (size_t j = 0; j < t->npcols; j++)
		if (!cmn_value_equal((enum cmn_col_type)t->cols[nd + j].type, &vals[nd + j],
				     &k->p->vals[j]))
			return false;
	return true;
}

static int keep_cb(void *ctx, const void *batch, size_t len, struct cmn_err *err)
{
	struct keep_ctx *k = ctx;
	struct td_out *o = k->o;
	int rc;

	if (cmn_rowbatch_open_validated(k->r, batch, len, err) < 0) /* see project_cb */
		return -1;
	if (k->r->ncols != o->t->ncols)
		return cmn_err_set(err, CMN_EINTERNAL, 0,
				   "stored batch has %zu columns, table '%s' has %zu", k->r->ncols,
				   o->t->name, o->t->ncols);
	if (!k->p) { /* append: the stored batch as it is */
		void *copy = malloc(len ? len : 1);
		if (!copy || out_flush(o, err) < 0) {
			free(copy);
			return copy ? -1 : cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		}
		if (o->n == o->cap) {
			size_t cap = o->cap ? o->cap * 2 : 8;
			struct sch_storage_batch *nv = realloc(o->v, cap * sizeof(*nv));
			if (!nv) {
				free(copy);
				return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
			}
			o->v = nv;
			o->cap = cap;
		}
		memcpy(copy, batch, len);
		o->v[o->n].data = copy;
		o->v[o->n++].len = len;
		return 0;
	}
	while ((rc = cmn_rowbatch_next(k->r, k->vals, err)) == 1)
		if (!in_partition(k, k->vals) && out_row(o, k->vals, err) < 0)
			return -1;
	return rc;
}

static int keep_rows(struct sch_tabledata *td, const struct td_row *row, struct td_out *o,
		     const struct td_part *p, struct cmn_err *err)
{
	struct keep_ctx k = { o, p, calloc(1, sizeof(*k.r)),
			      calloc(o->t->ncols + 1, sizeof(*k.vals)) };
	int rc;

	if (!k.r || !k.vals)
		rc = cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	else {
		rc = 0;
		for (size_t i = 0; rc == 0 && i < row->nv; i++)
			rc = sch_storage_table_read(td->storage, (uint64_t)row->storage_id,
						    row->v[i], keep_cb, &k, err);
	}
	free(k.r);
	free(k.vals);
	if (rc < 0)
		return cmn_err_wrap(err, "read the current rows of '%s'", o->t->name);
	return out_flush(o, err);
}

/* ---- write ---------------------------------------------------------------- */

static void (*before_publish)(void *arg);
static void *before_publish_arg;

void sch_tabledata_test_hook(void (*fn)(void *arg), void *arg)
{
	before_publish = fn;
	before_publish_arg = arg;
}

/* Step 5: the one catalog change that makes the new version visible. */
static int publish(struct sch_tabledata *td, const struct sch_tabledef *t, int64_t storage_id,
		   int64_t version, const char *segments, const struct td_part *p,
		   struct cmn_err *err)
{
	sqlite3 *db = sch_catalog_db(td->cat);
	int rc, n;

	td_lock(td);
	if (sqlite3_exec(db, "SAVEPOINT td_publish", NULL, NULL, NULL) != SQLITE_OK) {
		rc = cmn_err_set(err, CMN_EIO, 0, "catalog: %s", sqlite3_errmsg(db));
		td_unlock(td);
		return rc;
	}
	rc = sch_tables_commit_version(td->cat, t->project, t->name, t->version, err);
	if (rc == 0) {
		n = sch_db_run(db, err,
			       "UPDATE job_table_storage SET data_version = ?1, segments = ?3"
			       " WHERE storage_id = ?2",
			       "iis", version, storage_id, segments);
		if (n == 0)
			rc = cmn_err_set(err, CMN_ECONFLICT, 0,
					 "table '%s.%s' was dropped during the write", t->project,
					 t->name);
		else if (n < 0)
			rc = -1;
	}
	if (rc == 0 && p->text && p->unregister &&
	    sch_db_run(db, err,
		       "DELETE FROM job_partitions WHERE project = ?1 AND table_name = ?2"
		       " AND spec = ?3",
		       "sss", t->project, t->name, p->canon) < 0)
		rc = -1;
	if (rc == 0 && p->text && !p->unregister &&
	    sch_db_run(db, err,
		       "INSERT INTO job_partitions (project, table_name, spec, version, created_at)"
		       " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (project, table_name, spec)"
		       " DO UPDATE SET version = excluded.version",
		       "sssii", t->project, t->name, p->canon, (int64_t)(t->version + 1),
		       (int64_t)time(NULL)) < 0)
		rc = -1;
	if (rc < 0)
		sqlite3_exec(db, "ROLLBACK TO td_publish", NULL, NULL, NULL);
	sqlite3_exec(db, "RELEASE td_publish", NULL, NULL, NULL);
	td_unlock(td);
	return rc;
}

static int need_storage(struct sch_tabledata *td, struct cmn_err *err)
{
	if (!td->storage || !sch_storage_enabled(td->storage))
		return cmn_err_set(err, CMN_EUNAVAIL, 0,
				   "storage is disabled (cordond --chunkservers 0): tables hold "
				   "no rows");
	return 0;
}

/* Steps 3 and 4 once the new rows are built: the key at the first write,
 * the rows that stay, the storage write. *version: what to publish;
 * segments: the list published with it (see the top of this file). */
static int write_version(struct sch_tabledata *td, const struct td_row *row, struct td_out *o,
			 const struct td_part *p, enum sch_tabledata_mode mode, int64_t *version,
			 struct cmn_buf *segments, struct cmn_err *err)
{
	struct cmn_err e = CMN_ERR_INIT;
	cleanup_free struct sch_storage_batch *all = NULL;
	size_t nnew = o->n;

	if (cmn_buf_append(segments, "", 0, err) < 0)
		return -1;
	if (mode == SCH_TD_APPEND && row->data_version != 0 &&
	    (o->n == 0 || row->nv < TD_SEGMENTS_MAX)) {
		/* a segment of the new rows only; nothing new: the table as it is */
		struct td_row old = *row;
		if (o->n == 0)
			old.nv--; /* data_version stays the last version */
		*version = o->n ? row->new_version : row->data_version;
		if (segments_text(&old, segments, err) < 0)
			return -1;
		return o->n == 0
			   ? 0
			   : sch_storage_table_write(td->storage, (uint64_t)row->storage_id,
						     (uint64_t)row->new_version, o->v, o->n, err);
	}

	if (row->data_version == 0 &&
	    sch_storage_table_create(td->storage, o->t->project, (uint64_t)row->storage_id, &e) <
		0 &&
	    e.code != CMN_EEXIST) {
		if (err)
			*err = e;
		return -1;
	}
	if (row->data_version != 0 && (mode == SCH_TD_APPEND || p->text) &&
	    keep_rows(td, row, o, mode == SCH_TD_APPEND ? NULL : p, err) < 0)
		return -1;
	if (o->n == 0) {
		*version = 0; /* an empty table has no storage version */
		return 0;
	}
	/* the kept rows first, then the new ones */
	all = calloc(o->n, sizeof(*all));
	if (!all)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	memcpy(all, o->v + nnew, (o->n - nnew) * sizeof(*all));
	memcpy(all + (o->n - nnew), o->v, nnew * sizeof(*all));
	*version = row->new_version;
	return sch_storage_table_write(td->storage, (uint64_t)row->storage_id,
				       (uint64_t)row->new_version, all, o->n, err);
}

/* After a write: the versions it replaced go once nobody reads them (none
 * when it only added a segment: segments non-empty), or, when the publish
 * failed, the one it wrote (nobody can ever read it). Then the writer's own
 * holds on the versions it started from are released. */
static void settle_versions(struct sch_tabledata *td, const struct td_row *row, int64_t written,
			    const char *segments, bool published)
{
	uint64_t id = (uint64_t)row->storage_id;

	for (size_t i = 0; published && !segments[0] && i < row->nv; i++)
		if (row->v[i] != (uint64_t)written)
			sch_storage_version_retire(td->storage, id, row->v[i]);
	if (!published && written != 0 && written != row->data_version)
		sch_storage_version_retire(td->storage, id, (uint64_t)written);
	row_release(td, row);
}

int sch_tabledata_write(struct sch_tabledata *td, const char *project, const char *name,
			enum sch_tabledata_mode mode, const char *partition,
			const struct sch_storage_batch *batches, size_t nbatches,
			uint64_t *rows_out, struct cmn_err *err)
{
	struct sch_tabledef *t = NULL;
	struct td_row row;
	struct td_part p = { 0 };
	struct td_out o = { 0 };
	cleanup_buf struct cmn_buf segments = { 0 };
	int64_t version = 0;
	bool held = false;
	int rc;

	if (rows_out)
		*rows_out = 0;
	if (mode != SCH_TD_APPEND && mode != SCH_TD_OVERWRITE)
		return cmn_err_set(err, CMN_EINVAL, 0, "bad write mode %d", (int)mode);
	if (need_storage(td, err) < 0)
		return -1;
	td_lock(td);
	rc = load_table(td->cat, project, name, &t, err);
	td_unlock(td);
	if (rc < 0)
		return -1;
	o.t = t;
	/* everything the caller sent is checked before storage is touched */
	rc = parse_partition(t, partition, &p, err);
	if (rc == 0)
		rc = add_new_rows(&o, &p, batches, nbatches, err);
	if (rc == 0) {
		td_lock(td);
		rc = get_row(sch_catalog_db(td->cat), t->project, t->name, true, &row, err);
		held = rc == 0; /* the rows that stay are read from them */
		if (held)
			row_hold(td, &row);
		td_unlock(td);
	}
	if (rc == 0)
		rc = write_version(td, &row, &o, &p, mode, &version, &segments, err);
	if (rc == 0 && before_publish) {
		void (*fn)(void *) = before_publish;
		before_publish = NULL; /* once: the hook may write itself */
		fn(before_publish_arg);
	}
	if (rc == 0)
		rc = publish(td, t, row.storage_id, version, segments.data, &p, err);
	if (held)
		settle_versions(td, &row, version, segments.data ? segments.data : "", rc == 0);
	if (rc == 0 && rows_out)
		*rows_out = o.rows;
	if (rc < 0)
		cmn_err_wrap(err, "write '%s.%s'", project, name);
	out_free(&o);
	part_free(&p);
	sch_tabledef_free(t);
	return rc;
}

/* The rows of the other partitions as a new version, published with the
 * partition unregistered. */
static int drop_partition_rows(struct sch_tabledata *td, const struct sch_tabledef *t,
			       struct td_part *p, struct cmn_err *err)
{
	struct td_out o = { .t = t };
	cleanup_buf struct cmn_buf segments = { 0 };
	struct td_row row;
	int64_t version = 0;
	int rc;

	p->unregister = true;
	if (need_storage(td, err) < 0)
		return -1;
	td_lock(td);
	rc = get_row(sch_catalog_db(td->cat), t->project, t->name, true, &row, err);
	if (rc == 0)
		row_hold(td, &row);
	td_unlock(td);
	if (rc < 0)
		return -1;
	rc = write_version(td, &row, &o, p, SCH_TD_OVERWRITE, &version, &segments, err);
	if (rc == 0)
		rc = publish(td, t, row.storage_id, version, segments.data, p, err);
	settle_versions(td, &row, version, segments.data ? segments.data : "", rc == 0);
	out_free(&o);
	return rc;
}

int sch_tabledata_drop_partition(struct sch_tabledata *td, const char *project, const char *name,
				 const char *partition, struct cmn_err *err)
{
	sqlite3 *db = sch_catalog_db(td->cat);
	struct sch_tabledef *t = NULL;
	struct td_row row = { 0 };
	struct td_part p = { 0 };
	int rc;

	td_lock(td);
	rc = load_table(td->cat, project, name, &t, err);
	if (rc == 0)
		rc = get_row(db, t->project, t->name, false, &row, err);
	td_unlock(td);
	if (rc == 0)
		rc = parse_partition(t, partition, &p, err);
	if (rc == 0 && row.data_version == 0) {
		/* no rows anywhere: only the registration goes */
		td_lock(td);
		rc = sch_db_run(db, err,
				"DELETE FROM job_partitions WHERE project = ?1 AND table_name = ?2"
				" AND spec = ?3",
				"sss", t->project, t->name, p.canon) < 0
			 ? -1
			 : 0;
		td_unlock(td);
	} else if (rc == 0) {
		rc = drop_partition_rows(td, t, &p, err);
	}
	if (rc < 0)
		cmn_err_wrap(err, "drop partition %s of '%s.%s'", partition, project, name);
	part_free(&p);
	sch_tabledef_free(t);
	return rc;
}

/* ---- read ----------------------------------------------------------------- */

struct proj_ctx {
	sch_storage_batch_cb cb;
	void *ctx;
	const struct sch_tabledef *t;
	const size_t *tcol; /* table column of each requested one */
	size_t ncols;
	struct cmn_rowbatch_reader *r;
	struct cmn_col *ocols;
};

/* The storage facade projects (sch_storage_table_read_slice: batches of
 * exactly the asked columns, in order); each batch's header is checked
 * against the table before it leaves, so a stored batch that is not what
 * the table says is an error, never another column's values. */
static int project_cb(void *ctx, const void *batch, size_t len, struct cmn_err *err)
{
	struct proj_ctx *pc = ctx;

	/* sch_storage_table_read gives authenticated batches (storage_glue.h) */
	if (cmn_rowbatch_open_validated(pc->r, batch, len, err) < 0)
		return -1;
	for (size_t k = 0; k < pc->ncols; k++) {
		const char *want = pc->t->cols[pc->tcol[k]].name;
		size_t wl = strlen(want);
		if (k >= pc->r->ncols || pc->r->cols[k].name_len != wl ||
		    strncasecmp(pc->r->cols[k].name, want, wl) != 0 ||
		    (int)pc->r->cols[k].type != (int)pc->ocols[k].type)
			return cmn_err_set(err, CMN_EINTERNAL, 0,
					   "stored batch of '%s' has no column '%s' of type %s",
					   pc->t->name, want, cmn_col_type_name(pc->ocols[k].type));
	}
	if (pc->r->ncols != pc->ncols)
		return cmn_err_set(err, CMN_EINTERNAL, 0,
				   "stored batch of '%s' has %zu columns, not %zu", pc->t->name,
				   pc->r->ncols, pc->ncols);
	return pc->cb(pc->ctx, batch, len, err);
}

static int map_columns(const struct sch_tabledef *t, const char *const *cols, size_t ncols,
		       size_t *tcol, struct cmn_col *ocols, struct cmn_err *err)
{
	for (size_t k = 0; k < ncols; k++) {
		size_t j;
		for (j = 0; j < t->ncols; j++)
			if (strcasecmp(cols[k], t->cols[j].name) == 0)
				break;
		if (j == t->ncols)
			return cmn_err_set(err, CMN_EINVAL, 0, "table '%s' has no column '%s'",
					   t->name, cols[k]);
		tcol[k] = j;
		ocols[k] = (struct cmn_col){ (enum cmn_col_type)t->cols[j].type, t->cols[j].name,
					     strlen(t->cols[j].name) };
	}
	return 0;
}

int sch_tabledata_read(struct sch_tabledata *td, const char *project, const char *name,
		       const char *const *cols, size_t ncols, unsigned slice, unsigned nslices,
		       sch_storage_batch_cb cb, void *ctx, struct cmn_err *err)
{
	struct sch_tabledef *t = NULL;
	struct td_row row = { 0 };
	struct proj_ctx pc = { .cb = cb, .ctx = ctx };
	uint64_t index = 0;
	cleanup_free size_t *tcol = NULL;
	cleanup_free int *want = NULL;
	cleanup_free struct cmn_col *ocols = NULL;
	bool held;
	int rc;

	if (nslices == 0 || slice >= nslices)
		return cmn_err_set(err, CMN_EINVAL, 0, "slice %u of %u", slice, nslices);
	if (ncols == 0 || ncols > CMN_ROW_MAX_COLS)
		return cmn_err_set(err, CMN_EINVAL, 0, "read: %zu columns (1..%d)", ncols,
				   CMN_ROW_MAX_COLS);
	td_lock(td);
	rc = load_table(td->cat, project, name, &t, err);
	if (rc == 0)
		rc = get_row(sch_catalog_db(td->cat), t->project, t->name, false, &row, err);
	held = rc == 0;
	if (held) /* under the lock a publish takes: see sch_storage_version_hold */
		row_hold(td, &row);
	td_unlock(td);
	tcol = calloc(ncols, sizeof(*tcol));
	ocols = calloc(ncols, sizeof(*ocols));
	want = calloc(ncols, sizeof(*want));
	if (rc == 0 && (!tcol || !ocols || !want))
		rc = cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	if (rc == 0)
		rc = map_columns(t, cols, ncols, tcol, ocols, err);
	for (size_t k = 0; rc == 0 && k < ncols; k++)
		want[k] = (int)tcol[k];
	if (rc == 0 && row.data_version != 0) {
		pc.t = t;
		pc.tcol = tcol;
		pc.ncols = ncols;
		pc.ocols = ocols;
		pc.r = calloc(1, sizeof(*pc.r));
		if (!pc.r)
			rc = cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		else if (need_storage(td, err) < 0)
			rc = -1;
		else /* index runs on across segments: slices split the whole table */
			for (size_t i = 0; rc == 0 && i < row.nv; i++)
				rc = sch_storage_table_read_slice(
				    td->storage, (uint64_t)row.storage_id, row.v[i], &index, slice,
				    nslices, want, ncols, project_cb, &pc, err);
		free(pc.r);
	}
	if (held)
		row_release(td, &row);
	sch_tabledef_free(t);
	return rc < 0 ? -1 : 0;
}

/* ---- drop ----------------------------------------------------------------- */

int sch_tabledata_drop(struct sch_tabledata *td, const char *project, const char *name,
		       struct cmn_err *err)
{
	sqlite3 *db = sch_catalog_db(td->cat);
	struct td_row row = { 0 };
	int rc;

	td_lock(td);
	rc = get_row(db, project, name, false, &row, err);
	td_unlock(td);
	if (rc < 0 || row.storage_id == 0)
		return rc;
	/* keys first: once this returned, no copy of the rows is readable */
	if (need_storage(td, err) < 0 ||
	    sch_storage_table_drop(td->storage, (uint64_t)row.storage_id, err) < 0)
		return cmn_err_wrap(err, "drop the data of '%s.%s'", project, name);
	td_lock(td);
	rc = sch_db_run(db, err, "DELETE FROM job_table_storage WHERE storage_id = ?1", "i",
			row.storage_id);
	td_unlock(td);
	return rc < 0 ? -1 : 0;
}

/* ---- start-up sweep ------------------------------------------------------- */

int sch_tabledata_sweep(struct sch_tabledata *td, size_t *dropped, struct cmn_err *err)
{
	sqlite3 *db = sch_catalog_db(td->cat);
	sqlite3_stmt *st;
	struct td_row *v = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	*dropped = 0;
	if (!td->storage || !sch_storage_enabled(td->storage))
		return 0;
	td_lock(td);
	if (sqlite3_prepare_v2(db,
			       "SELECT storage_id, data_version, segments FROM job_table_storage",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = cmn_err_set(err, CMN_EIO, 0, "catalog: %s", sqlite3_errmsg(db));
		td_unlock(td);
		return rc;
	}
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		if (n == cap) {
			void *nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof(*v));
			if (!nv) {
				rc = cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
				break;
			}
			v = nv;
		}
		v[n] = (struct td_row){ .storage_id = sqlite3_column_int64(st, 0),
					.data_version = sqlite3_column_int64(st, 1) };
		rc = parse_segments(&v[n++], (const char *)sqlite3_column_text(st, 2), err);
	}
	sqlite3_finalize(st);
	td_unlock(td);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		size_t d;
		rc = sch_storage_table_sweep(td->storage, (uint64_t)v[i].storage_id, v[i].v,
					     v[i].nv, &d, err);
		*dropped += d;
	}
	free(v);
	return rc;
}
