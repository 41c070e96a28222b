/* Tests of scheduler/tabledata.h over a real catalog and a real storage
 * cluster (3 cordon-chunkd on 3 racks, started by the storage glue in a
 * temporary dir, once for the group): append, overwrite, partition
 * overwrite, refused batches, a lost compare-and-swap, slices, projection,
 * drop (crypto-shred) and empty tables; plus the text forms of values. */
#define _XOPEN_SOURCE 700
#define _DEFAULT_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>
#include <ftw.h>
#include <sys/stat.h>

#include "common/rowfmt.h"
#include "scheduler/catalog.h"
#include "scheduler/storage_glue.h"
#include "scheduler/tabledata.h"
#include "scheduler/tables.h"

static char dir[64];
static struct sch_catalog *cat;
static struct sch_storage *storage;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct sch_tabledata td;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 ? -1 : 0;
}

static int group_setup(void **state)
{
	struct sch_storage_cfg cfg;
	struct cmn_err err = CMN_ERR_INIT;
	char path[128], root[128];
	(void)state;

	snprintf(dir, sizeof(dir), "/tmp/cordon-tabledata-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/catalog.db", dir);
	snprintf(root, sizeof(root), "%s/root.key", dir);
	if (sch_catalog_open(&cat, path, &err) < 0 || sch_tables_migrate(cat, &err) < 0 ||
	    sch_tabledata_migrate(cat, &err) < 0) {
		fprintf(stderr, "catalog: %s\n", err.msg);
		return -1;
	}
	cfg = (struct sch_storage_cfg){ .data_dir = dir,
					.root_key_file = root,
					.servers = 3,
					.racks = 3,
					.chunkd_path = CORDON_CHUNKD_PATH };
	if (sch_storage_open(&storage, &cfg, &err) < 0) {
		fprintf(stderr, "storage: %s\n", err.msg);
		return -1;
	}
	td = (struct sch_tabledata){ cat, storage, &lock };
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	sch_storage_close(storage);
	sch_catalog_close(cat);
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* CREATE TABLE project.name (id BIGINT, name STRING [, ds STRING partition]) */
static void create_table(const char *name, bool partitioned)
{
	char id[] = "id", nm[] = "name", ds[] = "ds", project[] = "p", owner[] = "ALIYUN$a";
	struct sch_q_coldef cols[3] = { { id, SCH_QT_BIGINT, NULL },
					{ nm, SCH_QT_STRING, NULL },
					{ ds, SCH_QT_STRING, NULL } };
	struct sch_tabledef t = { .project = project,
				  .name = (char *)(uintptr_t)name,
				  .owner = owner,
				  .cols = cols,
				  .ncols = partitioned ? 3 : 2,
				  .npcols = partitioned ? 1 : 0 };
	assert_int_equal(sch_tables_put(cat, &t, NULL, 0, NULL), 0);
}

/* n rows (id BIGINT, name STRING) with ids first.. ; NULL name every 7th. */
static struct sch_storage_batch make_batch(int64_t first, uint32_t n)
{
	struct cmn_col cols[2] = { { CMN_COL_BIGINT, "a", 1 }, { CMN_COL_STRING, "b", 1 } };
	struct cmn_rowbatch_writer *w = calloc(1, sizeof(*w));
	struct sch_storage_batch b;

	assert_non_null(w);
	assert_int_equal(cmn_rowbatch_begin(w, cols, 2, 0, NULL), 0);
	for (uint32_t i = 0; i < n; i++) {
		char name[32];
		struct cmn_value v[2] = { 0 };
		int k = snprintf(name, sizeof(name), "row-%lld", (long long)(first + i));
		v[0].v.i64 = first + i;
		v[1].is_null = (first + i) % 7 == 0;
		v[1].v.bytes.ptr = name;
		v[1].v.bytes.len = (size_t)k;
		assert_int_equal(cmn_rowbatch_add(w, v, NULL), 0);
	}
	assert_int_equal(cmn_rowbatch_finish(w, NULL), 0);
	b.data = cmn_buf_steal(&w->buf, &b.len);
	cmn_rowbatch_writer_free(w);
	free(w);
	return b;
}

static void free_batch(struct sch_storage_batch b)
{
	free((void *)(uintptr_t)b.data);
}

/* What a read returned: batches, rows, the sum of ids, the column names of
 * the last batch, and (for partitioned reads) rows per ds value. */
struct got {
	size_t batches, rows, ncols;
	int64_t id_sum;
	char names[3][16];
	size_t ds_a, ds_b, ds_other;
	bool nulls_ok;
};

static int got_cb(void *ctx, const void *batch, size_t len, struct cmn_err *err)
{
	struct got *g = ctx;
	struct cmn_rowbatch_reader *r = calloc(1, sizeof(*r));
	struct cmn_value v[3];
	int rc, id_col = -1, ds_col = -1, name_col = -1;

	assert_non_null(r);
	if (cmn_rowbatch_open(r, batch, len, err) < 0) {
		free(r);
		return -1;
	}
	g->batches++;
	g->ncols = r->ncols;
	for (size_t i = 0; i < r->ncols && i < 3; i++) {
		snprintf(g->names[i], sizeof(g->names[i]), "%.*s", (int)r->cols[i].name_len,
			 r->cols[i].name);
		if (strcmp(g->names[i], "id") == 0)
			id_col = (int)i;
		if (strcmp(g->names[i], "ds") == 0)
			ds_col = (int)i;
		if (strcmp(g->names[i], "name") == 0)
			name_col = (int)i;
	}
	while ((rc = cmn_rowbatch_next(r, v, err)) == 1) {
		g->rows++;
		if (id_col >= 0)
			g->id_sum += v[id_col].v.i64;
		if (id_col >= 0 && name_col >= 0 &&
		    v[name_col].is_null != (v[id_col].v.i64 % 7 == 0))
			g->nulls_ok = false;
		if (ds_col >= 0) {
			const struct cmn_value *d = &v[ds_col];
			if (d->v.bytes.len == 1 && d->v.bytes.ptr[0] == 'a')
				g->ds_a++;
			else if (d->v.bytes.len == 1 && d->v.bytes.ptr[0] == 'b')
				g->ds_b++;
			else
				g->ds_other++;
		}
	}
	free(r);
	return rc;
}

static struct got read_all(const char *table, const char *const *cols, size_t ncols)
{
	struct got g = { .nulls_ok = true };
	struct cmn_err err = CMN_ERR_INIT;
	int rc = sch_tabledata_read(&td, "p", table, cols, ncols, 0, 1, got_cb, &g, &err);
	if (rc < 0)
		fprintf(stderr, "read: %s\n", err.msg);
	assert_int_equal(rc, 0);
	return g;
}

static const char *const both[] = { "id", "name" };

/* The table read as three slices; *total sums them. */
static void read_slices(const char *table, struct got s[3], struct got *total)
{
	struct cmn_err err = CMN_ERR_INIT;
	*total = (struct got){ 0 };
	for (unsigned k = 0; k < 3; k++) {
		s[k] = (struct got){ .nulls_ok = true };
		assert_int_equal(
		    sch_tabledata_read(&td, "p", table, both, 2, k, 3, got_cb, &s[k], &err), 0);
		total->rows += s[k].rows;
		total->batches += s[k].batches;
		total->id_sum += s[k].id_sum;
	}
}

static int64_t table_version(const char *name)
{
	struct sch_tabledef *t = NULL;
	int64_t v;
	assert_int_equal(sch_tables_get(cat, "p", name, &t, NULL), 0);
	assert_non_null(t);
	v = t->version;
	sch_tabledef_free(t);
	return v;
}

static int64_t sum_ids(int64_t first, int64_t n)
{
	return n * first + n * (n - 1) / 2;
}

static void write_ok(const char *table, enum sch_tabledata_mode mode, const char *part,
		     int64_t first, uint32_t n)
{
	struct sch_storage_batch b = make_batch(first, n);
	struct cmn_err err = CMN_ERR_INIT;
	uint64_t rows = 0;
	int rc = sch_tabledata_write(&td, "p", table, mode, part, &b, 1, &rows, &err);
	if (rc < 0)
		fprintf(stderr, "write: %s\n", err.msg);
	assert_int_equal(rc, 0);
	assert_int_equal(rows, n);
	free_batch(b);
}

static void test_empty_append_overwrite(void **state)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct got g;
	(void)state;

	create_table("t1", false);
	/* never written: no batch at all */
	g = read_all("t1", both, 2);
	assert_int_equal(g.batches, 0);

	write_ok("t1", SCH_TD_APPEND, NULL, 0, 100);
	write_ok("t1", SCH_TD_APPEND, NULL, 100, 50);
	g = read_all("t1", both, 2);
	assert_int_equal(g.rows, 150);
	assert_int_equal(g.id_sum, sum_ids(0, 150));
	assert_true(g.nulls_ok);
	assert_string_equal(g.names[0], "id"); /* stored under the table's names */
	assert_int_equal(table_version("t1"), 2);

	write_ok("t1", SCH_TD_OVERWRITE, NULL, 1000, 10);
	g = read_all("t1", both, 2);
	assert_int_equal(g.rows, 10);
	assert_int_equal(g.id_sum, sum_ids(1000, 10));

	/* overwrite with nothing: an empty table, a new version */
	assert_int_equal(
	    sch_tabledata_write(&td, "p", "t1", SCH_TD_OVERWRITE, NULL, NULL, 0, NULL, &err), 0);
	g = read_all("t1", both, 2);
	assert_int_equal(g.batches, 0);
	assert_int_equal(table_version("t1"), 4);
	write_ok("t1", SCH_TD_APPEND, NULL, 5, 5);
	g = read_all("t1", both, 2);
	assert_int_equal(g.rows, 5);
}

static void test_partition_overwrite(void **state)
{
	static const char *const all[] = { "id", "name", "ds" };
	struct cmn_err err = CMN_ERR_INIT;
	sqlite3_stmt *st;
	struct got g;
	int n = 0;
	(void)state;

	create_table("pt", true);
	write_ok("pt", SCH_TD_APPEND, "ds=a", 0, 30);
	write_ok("pt", SCH_TD_APPEND, "DS=b", 30, 20); /* column names are case-insensitive */
	g = read_all("pt", all, 3);
	assert_int_equal(g.ds_a, 30);
	assert_int_equal(g.ds_b, 20);

	write_ok("pt", SCH_TD_OVERWRITE, "ds=a", 100, 3);
	g = read_all("pt", all, 3);
	assert_int_equal(g.ds_a, 3);
	assert_int_equal(g.ds_b, 20);
	assert_int_equal(g.ds_other, 0);
	assert_int_equal(g.id_sum, sum_ids(100, 3) + sum_ids(30, 20));

	/* both partitions are registered, in canonical form */
	assert_int_equal(sqlite3_prepare_v2(sch_catalog_db(cat),
					    "SELECT spec FROM job_partitions WHERE project = 'p'"
					    " AND table_name = 'pt' ORDER BY spec",
					    -1, &st, NULL),
			 SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW)
		assert_string_equal((const char *)sqlite3_column_text(st, 0),
				    n++ ? "ds=b" : "ds=a");
	sqlite3_finalize(st);
	assert_int_equal(n, 2);

	/* a partitioned table needs a partition, a plain one refuses it */
	struct sch_storage_batch b = make_batch(0, 1);
	assert_int_equal(
	    sch_tabledata_write(&td, "p", "pt", SCH_TD_APPEND, NULL, &b, 1, NULL, &err), -1);
	assert_int_equal(err.code, CMN_EINVAL);
	assert_int_equal(
	    sch_tabledata_write(&td, "p", "pt", SCH_TD_APPEND, "hr=1", &b, 1, NULL, &err), -1);
	assert_int_equal(err.code, CMN_EINVAL);
	assert_int_equal(
	    sch_tabledata_write(&td, "p", "pt", SCH_TD_APPEND, "ds=a/ds=b", &b, 1, NULL, &err), -1);
	assert_int_equal(err.code, CMN_EINVAL);
	free_batch(b);
	g = read_all("pt", all, 3);
	assert_int_equal(g.rows, 23);

	/* DROP PARTITION: its rows and its registration go in one commit */
	assert_int_equal(sch_tabledata_drop_partition(&td, "p", "pt", "ds=a", &err), 0);
	g = read_all("pt", all, 3);
	assert_int_equal(g.ds_a, 0);
	assert_int_equal(g.ds_b, 20);
	assert_int_equal(
	    sqlite3_prepare_v2(sch_catalog_db(cat),
			       "SELECT count(*) FROM job_partitions WHERE project = 'p'"
			       " AND table_name = 'pt'",
			       -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 1);
	sqlite3_finalize(st);
	assert_int_equal(sch_tabledata_drop_partition(&td, "p", "pt", "ds=b", &err), 0);
	g = read_all("pt", all, 3);
	assert_int_equal(g.batches, 0);
}

static void test_schema_mismatch_refused(void **state)
{
	struct cmn_col three[3] = { { CMN_COL_BIGINT, "a", 1 },
				    { CMN_COL_STRING, "b", 1 },
				    { CMN_COL_STRING, "c", 1 } };
	struct cmn_col swapped[2] = { { CMN_COL_STRING, "a", 1 }, { CMN_COL_BIGINT, "b", 1 } };
	struct cmn_rowbatch_writer *w = calloc(1, sizeof(*w));
	struct cmn_value v[3] = { 0 };
	struct cmn_err err = CMN_ERR_INIT;
	struct sch_storage_batch ok = make_batch(0, 10), bad;
	struct sch_storage_batch two[2];
	struct got g;
	(void)state;

	create_table("t3", false);
	create_table("t3p", true);
	write_ok("t3", SCH_TD_APPEND, NULL, 0, 10);
	assert_non_null(w);

	/* three columns for a two-column table */
	v[1].v.bytes.ptr = "x";
	v[1].v.bytes.len = 1;
	v[2] = v[1];
	assert_int_equal(cmn_rowbatch_begin(w, three, 3, 0, NULL), 0);
	assert_int_equal(cmn_rowbatch_add(w, v, NULL), 0);
	assert_int_equal(cmn_rowbatch_finish(w, NULL), 0);
	bad.data = cmn_buf_steal(&w->buf, &bad.len);
	cmn_rowbatch_writer_free(w);
	two[0] = ok;
	two[1] = bad;
	assert_int_equal(
	    sch_tabledata_write(&td, "p", "t3", SCH_TD_OVERWRITE, NULL, two, 2, NULL, &err), -1);
	assert_int_equal(err.code, CMN_EINVAL);
	assert_non_null(strstr(err.msg, "columns"));
	free_batch(bad);

	/* the right count, the wrong types */
	memset(v, 0, sizeof(v));
	v[0].v.bytes.ptr = "x";
	v[0].v.bytes.len = 1;
	assert_int_equal(cmn_rowbatch_begin(w, swapped, 2, 0, NULL), 0);
	assert_int_equal(cmn_rowbatch_add(w, v, NULL), 0);
	assert_int_equal(cmn_rowbatch_finish(w, NULL), 0);
	bad.data = cmn_buf_steal(&w->buf, &bad.len);
	cmn_rowbatch_writer_free(w);
	assert_int_equal(
	    sch_tabledata_write(&td, "p", "t3", SCH_TD_APPEND, NULL, &bad, 1, NULL, &err), -1);
	assert_int_equal(err.code, CMN_EINVAL);
	assert_non_null(strstr(err.msg, "BIGINT"));

	/* a broken batch */
	((char *)(uintptr_t)bad.data)[0] ^= 1;
	assert_int_equal(
	    sch_tabledata_write(&td, "p", "t3", SCH_TD_APPEND, NULL, &bad, 1, NULL, &err), -1);
	assert_int_equal(err.code, CMN_EINVAL);
	free_batch(bad);
	free(w);

	/* no such table, a view-less name */
	assert_int_equal(
	    sch_tabledata_write(&td, "p", "nope", SCH_TD_APPEND, NULL, &ok, 1, NULL, &err), -1);
	assert_int_equal(err.code, CMN_ENOTFOUND);
	free_batch(ok);

	/* nothing changed */
	g = read_all("t3", both, 2);
	assert_int_equal(g.rows, 10);
	assert_int_equal(table_version("t3"), 1);
	g = read_all("t3p", both, 2);
	assert_int_equal(g.batches, 0);
}

/* The second writer: a whole write while the first is between its storage
 * write and its commit. */
static void second_writer(void *arg)
{
	(void)arg;
	write_ok("t4", SCH_TD_APPEND, NULL, 500, 5);
}

static void test_cas_conflict(void **state)
{
	struct sch_storage_batch b = make_batch(900, 7);
	struct cmn_err err = CMN_ERR_INIT;
	struct got g;
	(void)state;

	create_table("t4", false);
	write_ok("t4", SCH_TD_APPEND, NULL, 0, 10);
	sch_tabledata_test_hook(second_writer, NULL);
	assert_int_equal(
	    sch_tabledata_write(&td, "p", "t4", SCH_TD_APPEND, NULL, &b, 1, NULL, &err), -1);
	assert_int_equal(err.code, CMN_ECONFLICT);
	sch_tabledata_test_hook(NULL, NULL);
	free_batch(b);
	/* the table is the first write plus the second writer's, nothing of the loser */
	g = read_all("t4", both, 2);
	assert_int_equal(g.rows, 15);
	assert_int_equal(g.id_sum, sum_ids(0, 10) + sum_ids(500, 5));
	assert_int_equal(table_version("t4"), 2);
}

static void test_slices_and_projection(void **state)
{
	static const char *const name_only[] = { "NAME" };
	static const char *const reversed[] = { "name", "id" };
	static const char *const bad[] = { "id", "secret" };
	struct got s[3], all, g;
	struct cmn_err err = CMN_ERR_INIT;
	size_t rows, batches;
	int64_t ids;
	(void)state;

	create_table("t5", false);
	/* each append adds one stored batch: 4 batches */
	for (int i = 0; i < 4; i++)
		write_ok("t5", SCH_TD_APPEND, NULL, i * 100, 100);
	read_slices("t5", s, &all);
	rows = all.rows;
	batches = all.batches;
	ids = all.id_sum;
	/* batches 0,3 | 1 | 2: disjoint and complete */
	assert_int_equal(s[0].batches, 2);
	assert_int_equal(s[1].batches, 1);
	assert_int_equal(s[2].batches, 1);
	assert_int_equal(batches, 4);
	assert_int_equal(rows, 400);
	assert_int_equal(ids, sum_ids(0, 400));
	assert_int_equal(sch_tabledata_read(&td, "p", "t5", both, 2, 3, 3, got_cb, &g, &err), -1);
	assert_int_equal(err.code, CMN_EINVAL);

	/* only the requested columns leave, in the requested order */
	g = read_all("t5", name_only, 1);
	assert_int_equal(g.ncols, 1);
	assert_string_equal(g.names[0], "name");
	assert_int_equal(g.rows, 400);
	assert_int_equal(g.id_sum, 0);
	g = read_all("t5", reversed, 2);
	assert_int_equal(g.ncols, 2);
	assert_string_equal(g.names[0], "name");
	assert_string_equal(g.names[1], "id");
	assert_int_equal(g.id_sum, sum_ids(0, 400));
	assert_true(g.nulls_ok);
	memset(&g, 0, sizeof(g));
	assert_int_equal(sch_tabledata_read(&td, "p", "t5", bad, 2, 0, 1, got_cb, &g, &err), -1);
	assert_int_equal(err.code, CMN_EINVAL);
	assert_int_equal(g.batches, 0);
}

static int count_cb(void *ctx, const void *batch, size_t len, struct cmn_err *err)
{
	(void)batch;
	(void)len;
	(void)err;
	++*(size_t *)ctx;
	return 0;
}

static void test_drop_shreds(void **state)
{
	struct cmn_err err = CMN_ERR_INIT;
	sqlite3_stmt *st;
	int64_t sid, ver;
	size_t n = 0;
	struct got g;
	(void)state;

	create_table("t6", false);
	/* a table never written drops fine */
	assert_int_equal(sch_tabledata_drop(&td, "p", "t6", &err), 0);
	write_ok("t6", SCH_TD_APPEND, NULL, 0, 20);
	assert_int_equal(sqlite3_prepare_v2(sch_catalog_db(cat),
					    "SELECT storage_id, data_version FROM job_table_storage"
					    " WHERE project = 'p' AND name = 't6'",
					    -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	sid = sqlite3_column_int64(st, 0);
	ver = sqlite3_column_int64(st, 1);
	sqlite3_finalize(st);
	assert_int_equal(
	    sch_storage_table_read(storage, (uint64_t)sid, (uint64_t)ver, count_cb, &n, &err), 0);
	assert_int_equal(n, 1);

	assert_int_equal(sch_tabledata_drop(&td, "p", "t6", &err), 0);
	/* the data key is gone: the stored version cannot be read any more */
	n = 0;
	assert_int_equal(
	    sch_storage_table_read(storage, (uint64_t)sid, (uint64_t)ver, count_cb, &n, &err), -1);
	assert_int_equal(n, 0);
	g = read_all("t6", both, 2);
	assert_int_equal(g.batches, 0);

	/* a re-created table of the same name starts empty with a new key */
	assert_int_equal(sch_tables_drop(cat, "p", "t6", &err), 0);
	create_table("t6", false);
	g = read_all("t6", both, 2);
	assert_int_equal(g.batches, 0);
	write_ok("t6", SCH_TD_APPEND, NULL, 7, 3);
	g = read_all("t6", both, 2);
	assert_int_equal(g.rows, 3);
}

static int64_t storage_int(const char *sql, const char *table)
{
	sqlite3_stmt *st;
	int64_t v = -1;
	assert_int_equal(sqlite3_prepare_v2(sch_catalog_db(cat), sql, -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* versions the table is made of (catalog) and versions with chunks (storage) */
static int64_t listed_versions(const char *table)
{
	return storage_int("SELECT (data_version != 0) + (length(segments) -"
			   " length(replace(segments, ',', '')) + (segments != ''))"
			   " FROM job_table_storage WHERE project = 'p' AND name = ?1",
			   table);
}

static int64_t stored_versions(const char *table)
{
	return storage_int("SELECT count(DISTINCT version) FROM stor_chunks WHERE table_id ="
			   " (SELECT storage_id FROM job_table_storage WHERE project = 'p'"
			   " AND name = ?1)",
			   table);
}

/* The table is one version, listed and stored, holding the rows with ids
 * first .. first + rows - 1. */
static void assert_one_version(const char *table, int64_t first, int64_t rows)
{
	struct got g;

	assert_int_equal(listed_versions(table), 1);
	assert_int_equal(stored_versions(table), 1);
	g = read_all(table, both, 2);
	assert_int_equal(g.rows, rows);
	assert_int_equal(g.id_sum, sum_ids(first, rows));
	assert_true(g.nulls_ok);
}

static void test_append_segments(void **state)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct got s[3], all, g;
	(void)state;

	create_table("t8", false);
	/* each append adds a version of its own rows only, up to 16 */
	for (int i = 0; i < 16; i++) {
		write_ok("t8", SCH_TD_APPEND, NULL, i * 10, 10);
		assert_int_equal(listed_versions("t8"), i + 1);
		assert_int_equal(stored_versions("t8"), i + 1);
	}
	g = read_all("t8", both, 2);
	assert_int_equal(g.rows, 160);
	assert_int_equal(g.id_sum, sum_ids(0, 160));
	/* slices split the whole table, across segments: disjoint and complete */
	read_slices("t8", s, &all);
	assert_int_equal(all.batches, 16);
	assert_int_equal(s[0].batches, 6);
	assert_int_equal(all.id_sum, sum_ids(0, 160));
	/* an empty append changes nothing, even with the list full */
	assert_int_equal(
	    sch_tabledata_write(&td, "p", "t8", SCH_TD_APPEND, NULL, NULL, 0, NULL, &err), 0);
	assert_int_equal(listed_versions("t8"), 16);
	assert_int_equal(read_all("t8", both, 2).rows, 160);
	/* the 17th compacts: one version with every row, the others deleted */
	write_ok("t8", SCH_TD_APPEND, NULL, 160, 10);
	assert_one_version("t8", 0, 170);
	/* segments again, then an overwrite replaces them all */
	write_ok("t8", SCH_TD_APPEND, NULL, 170, 10);
	assert_int_equal(listed_versions("t8"), 2);
	write_ok("t8", SCH_TD_OVERWRITE, NULL, 1000, 5);
	assert_one_version("t8", 1000, 5);
}

static void test_text_values(void **state)
{
	struct cmn_buf scratch, out;
	struct cmn_value v;
	struct cmn_err err = CMN_ERR_INIT;
	(void)state;

	cmn_buf_init(&scratch, 0);
	cmn_buf_init(&out, 0);
	assert_int_equal(sch_tabledata_value_from_text(CMN_COL_BIGINT, "-42", 3, &v, NULL, &err),
			 0);
	assert_int_equal(v.v.i64, -42);
	assert_int_equal(sch_tabledata_value_from_text(CMN_COL_BIGINT, "4x", 2, &v, NULL, &err),
			 -1);
	assert_non_null(strstr(err.msg, "'4x' is not a BIGINT"));
	assert_int_equal(sch_tabledata_value_from_text(CMN_COL_DOUBLE, "1e400", 5, &v, NULL, &err),
			 -1);
	assert_int_equal(sch_tabledata_value_from_text(CMN_COL_BOOLEAN, "TRUE", 4, &v, NULL, &err),
			 0);
	assert_true(v.v.b);
	assert_int_equal(
	    sch_tabledata_value_from_text(CMN_COL_STRING, "\xc3\x28", 2, &v, NULL, &err), -1);
	assert_int_equal(
	    sch_tabledata_value_from_text(CMN_COL_BINARY, "AAEC/w==", 8, &v, &scratch, &err), 0);
	assert_int_equal(v.v.bytes.len, 4);
	assert_memory_equal(v.v.bytes.ptr, "\x00\x01\x02\xff", 4);
	assert_int_equal(sch_tabledata_value_to_text(CMN_COL_BINARY, &v, &out, &err), 0);
	assert_string_equal(out.data, "AAEC/w==");
	assert_int_equal(
	    sch_tabledata_value_from_text(CMN_COL_BINARY, "AA=B", 4, &v, &scratch, &err), -1);
	assert_int_equal(sch_tabledata_value_from_text(CMN_COL_DATETIME, "2024-02-29 23:59:58.5",
						       21, &v, NULL, &err),
			 0);
	assert_int_equal(v.v.i64, 1709251198500LL);
	cmn_buf_reset(&out);
	assert_int_equal(sch_tabledata_value_to_text(CMN_COL_DATETIME, &v, &out, &err), 0);
	assert_string_equal(out.data, "2024-02-29 23:59:58.500");
	assert_int_equal(
	    sch_tabledata_value_from_text(CMN_COL_DATETIME, "2023-02-29", 10, &v, NULL, &err), -1);
	v.v.i64 = -1;
	cmn_buf_reset(&out);
	assert_int_equal(sch_tabledata_value_to_text(CMN_COL_DATETIME, &v, &out, &err), 0);
	assert_string_equal(out.data, "1969-12-31 23:59:59.999");
	cmn_buf_free(&scratch);
	cmn_buf_free(&out);
}

static void test_disabled_storage(void **state)
{
	struct sch_storage *s;
	struct sch_storage_cfg cfg = { 0 };
	struct sch_tabledata off;
	struct sch_storage_batch b = make_batch(0, 1);
	struct cmn_err err = CMN_ERR_INIT;
	char sub[128], root[160];
	(void)state;

	snprintf(sub, sizeof(sub), "%s/off", dir);
	snprintf(root, sizeof(root), "%s/root.key", dir);
	struct sch_catalog *c2;
	char cpath[200];
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(cpath, sizeof(cpath), "%s/catalog.db", sub);
	assert_int_equal(sch_catalog_open(&c2, cpath, NULL), 0); /* storage needs its file */
	cfg = (struct sch_storage_cfg){ .data_dir = sub, .root_key_file = root };
	if (sch_storage_open(&s, &cfg, &err) < 0)
		fail_msg("storage_open: %s", err.msg);
	off = (struct sch_tabledata){ cat, s, &lock };
	create_table("t7", false);
	assert_int_equal(
	    sch_tabledata_write(&off, "p", "t7", SCH_TD_APPEND, NULL, &b, 1, NULL, &err), -1);
	assert_int_equal(err.code, CMN_EUNAVAIL);
	free_batch(b);
	sch_storage_close(s);
	sch_catalog_close(c2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_values),
		cmocka_unit_test(test_empty_append_overwrite),
		cmocka_unit_test(test_partition_overwrite),
		cmocka_unit_test(test_schema_mismatch_refused),
		cmocka_unit_test(test_cas_conflict),
		cmocka_unit_test(test_slices_and_projection),
		cmocka_unit_test(test_drop_shreds),
		cmocka_unit_test(test_append_segments),
		cmocka_unit_test(test_disabled_storage),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
