/* Tests of the job-runner facade of scheduler/storage_glue.h over real
 * cordon-chunkd processes (3 servers on 3 racks, started by the glue in a
 * temporary dir): row batches round-trip, a bad batch is refused before
 * anything is written, a version is all-or-nothing (a failed write leaves
 * nothing visible), a dropped table cannot be read, rotation keeps data
 * readable, and storage-disabled mode fails cleanly. */
#define _XOPEN_SOURCE 700
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <ftw.h>
#include <sys/stat.h>

#include "common/rowfmt.h"
#include "scheduler/catalog.h"
#include "scheduler/storage_glue.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/cordon-facade-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A batch of n rows (id BIGINT, name STRING). *out malloc'd. */
static size_t make_batch(int64_t first, uint32_t n, char **out)
{
	struct cmn_col cols[2] = { { CMN_COL_BIGINT, "id", 2 }, { CMN_COL_STRING, "name", 4 } };
	struct cmn_rowbatch_writer *w = calloc(1, sizeof(*w));
	size_t len;

	assert_non_null(w);
	assert_int_equal(cmn_rowbatch_begin(w, cols, 2, 0, NULL), 0);
	for (uint32_t i = 0; i < n; i++) {
		char name[32];
		struct cmn_value v[2] = { 0 };
		int k = snprintf(name, sizeof(name), "row-%lld", (long long)(first + i));
		v[0].v.i64 = first + i;
		v[1].v.bytes.ptr = name;
		v[1].v.bytes.len = (size_t)k;
		assert_int_equal(cmn_rowbatch_add(w, v, NULL), 0);
	}
	assert_int_equal(cmn_rowbatch_finish(w, NULL), 0);
	*out = cmn_buf_steal(&w->buf, &len);
	cmn_rowbatch_writer_free(w);
	free(w);
	return len;
}

struct collect {
	size_t batches;
	int64_t next_id;
};

static int collect_cb(void *ctx, const void *batch, size_t len, struct cmn_err *err)
{
	struct collect *c = ctx;
	struct cmn_rowbatch_reader *r = calloc(1, sizeof(*r));
	struct cmn_value v[2];
	int rc;

	if (!r || cmn_rowbatch_open(r, batch, len, err) < 0) {
		free(r);
		return -1;
	}
	while ((rc = cmn_rowbatch_next(r, v, err)) == 1) {
		if (v[0].v.i64 != c->next_id) {
			free(r);
			return cmn_err_set(err, CMN_EINTERNAL, 0, "row out of order");
		}
		c->next_id++;
	}
	free(r);
	c->batches++;
	return rc;
}

static void test_facade_round_trip_drop_rotate(void **state)
{
	struct sch_catalog *cat;
	struct sch_storage *s;
	struct sch_storage_cfg cfg = { 0 };
	struct sch_storage_batch b[3];
	char *bufs[3], path[128], root[128];
	struct collect got = { 0, 0 };
	struct cmn_err err = CMN_ERR_INIT;
	uint32_t v = 0;
	(void)state;

	snprintf(path, sizeof(path), "%s/catalog.db", dir);
	snprintf(root, sizeof(root), "%s/root.key", dir);
	assert_int_equal(sch_catalog_open(&cat, path, NULL), 0);
	cfg = (struct sch_storage_cfg){ .data_dir = dir,
					.root_key_file = root,
					.servers = 3,
					.racks = 3,
					.chunkd_path = CORDON_CHUNKD_PATH };
	assert_int_equal(sch_storage_open(&s, &cfg, &err), 0);
	assert_true(sch_storage_enabled(s));

	b[0].len = make_batch(0, 100, &bufs[0]);
	b[1].len = make_batch(100, 5000, &bufs[1]);
	b[2].len = make_batch(5100, 1, &bufs[2]);
	for (int i = 0; i < 3; i++)
		b[i].data = bufs[i];
	assert_int_equal(sch_storage_table_create(s, "proj", 77, NULL), 0);
	assert_int_equal(sch_storage_table_write(s, 77, 1, b, 3, &err), 0);
	assert_int_equal(sch_storage_table_read(s, 77, 1, collect_cb, &got, &err), 0);
	assert_int_equal(got.batches, 3);
	assert_int_equal(got.next_id, 5101);

	/* rows projected by the facade: column 0 only; a column the stored
	 * batches do not have is an error, not another column's values */
	{
		const int id_only[] = { 0 }, beyond[] = { 0, 5 };
		uint64_t index = 0;
		got = (struct collect){ 0, 0 };
		assert_int_equal(sch_storage_table_read_slice(s, 77, 1, &index, 0, 1, id_only, 1,
							      collect_cb, &got, &err),
				 0);
		assert_int_equal(got.next_id, 5101);
		index = 0;
		assert_int_equal(sch_storage_table_read_slice(s, 77, 1, &index, 0, 1, beyond, 2,
							      collect_cb, &got, &err),
				 -1);
		assert_int_equal(err.code, CMN_EPROTO);
	}

	/* a malformed batch: refused, version 2 never becomes visible */
	bufs[1][0] ^= 1;
	assert_int_equal(sch_storage_table_write(s, 77, 2, b, 3, &err), -1);
	bufs[1][0] ^= 1;
	got = (struct collect){ 0, 0 };
	assert_int_equal(sch_storage_table_read(s, 77, 2, collect_cb, &got, &err), -1);
	assert_int_equal(got.batches, 0);

	/* big batches: column chunks; read whole, or one column only */
	{
		struct sch_storage_batch big[2];
		char *bb[2], *huge;
		const int id_only[] = { 0 };
		uint64_t index = 0;
		big[0].len = make_batch(0, 60000, &bb[0]);
		big[1].len = make_batch(60000, 60000, &bb[1]);
		big[0].data = bb[0];
		big[1].data = bb[1];
		assert_int_equal(sch_storage_table_write(s, 77, 3, big, 2, &err), 0);
		got = (struct collect){ 0, 0 };
		assert_int_equal(sch_storage_table_read(s, 77, 3, collect_cb, &got, &err), 0);
		assert_int_equal(got.next_id, 120000);
		got = (struct collect){ 0, 0 };
		assert_int_equal(sch_storage_table_read_slice(s, 77, 3, &index, 0, 1, id_only, 1,
							      collect_cb, &got, &err),
				 0);
		assert_int_equal(got.next_id, 120000);
		/* a batch bigger than a chunk: refused with the limit, nothing visible */
		big[0].len = make_batch(0, 250000, &huge);
		big[0].data = huge;
		assert_int_equal(sch_storage_table_write(s, 77, 4, big, 1, &err), -1);
		assert_int_equal(err.code, CMN_ELIMIT);
		assert_non_null(strstr(err.msg, "exceeds the chunk size"));
		free(huge);
		free(bb[0]);
		free(bb[1]);
	}

	/* rotation keeps the data readable */
	assert_int_equal(sch_storage_project_key_set(s, "proj", NULL, &v, NULL), 0);
	assert_int_equal(v, 2);
	got = (struct collect){ 0, 0 };
	assert_int_equal(sch_storage_table_read(s, 77, 1, collect_cb, &got, &err), 0);
	assert_int_equal(got.next_id, 5101);

	/* drop: crypto-shredded, nothing reads */
	assert_int_equal(sch_storage_table_drop(s, 77, &err), 0);
	assert_int_equal(sch_storage_table_read(s, 77, 1, collect_cb, &got, &err), -1);

	for (int i = 0; i < 3; i++)
		free(bufs[i]);
	sch_storage_close(s);
	sch_catalog_close(cat);
}

static void test_disabled_storage_fails_cleanly(void **state)
{
	struct sch_catalog *cat;
	struct sch_storage *s;
	struct sch_storage_cfg cfg = { 0 };
	struct cmn_err err = CMN_ERR_INIT;
	char path[128], root[128];
	json_t *st;
	(void)state;

	snprintf(path, sizeof(path), "%s/catalog.db", dir);
	snprintf(root, sizeof(root), "%s/root.key", dir);
	assert_int_equal(sch_catalog_open(&cat, path, NULL), 0);
	cfg = (struct sch_storage_cfg){ .data_dir = dir, .root_key_file = root };
	assert_int_equal(sch_storage_open(&s, &cfg, &err), 0);
	assert_false(sch_storage_enabled(s));
	assert_int_equal(sch_storage_table_create(s, "p", 1, &err), -1);
	assert_int_equal(err.code, CMN_EUNAVAIL);
	st = sch_storage_status(s, NULL);
	assert_string_equal(json_string_value(json_object_get(st, "state")), "disabled");
	json_decref(st);
	assert_null(sch_storage_scrub(s, &err));
	sch_storage_close(s);
	sch_catalog_close(cat);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_facade_round_trip_drop_rotate, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_disabled_storage_fails_cleanly, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
