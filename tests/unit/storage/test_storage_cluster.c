/* The storage API as cordond uses it, in process, against real
 * cordon-chunkd processes started by the supervisor: row batches through
 * stor_writer_append_batch (never split across chunks) back through
 * stor_read_version and the row decoder, the master thread, metrics, status,
 * the audit hook, row groups of column chunks (a read of some columns
 * fetches only theirs), an aborted write leaving nothing behind, and concurrent
 * repairers of one chunk copying it once (the repair lease). */
#define _GNU_SOURCE
#include <dirent.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/rowfmt.h"
#include "storage/cluster.h" /* stor_repair_chunk and the lease: internal */
#include "storage/storage.h"

struct env {
	char dir[64], path[256];
	sqlite3 *db;
	struct stor_keyring *kr;
	struct stor_cluster *c;
	struct stor_supervisor *sup;
	int audits;
};

static void on_audit(void *ctx, const char *event, const char *detail)
{
	struct env *e = ctx;
	(void)detail;
	if (strncmp(event, "storage.", 8) == 0)
		e->audits++;
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct cmn_err err = CMN_ERR_INIT;
	struct stor_keyring_cfg kc = { 0 };
	struct stor_cluster_cfg cc = { 0 };
	struct stor_supervisor_cfg sc = { 0 };
	char key[300], root[300], sdir[300];
	FILE *f;

	snprintf(e->dir, sizeof(e->dir), "/tmp/cordon-stor-unit-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(key, sizeof(key), "%s/cluster.key", e->dir);
	snprintf(root, sizeof(root), "%s/root.key", e->dir);
	snprintf(sdir, sizeof(sdir), "%s/servers", e->dir);
	f = fopen(key, "w");
	assert_non_null(f);
	fprintf(f, "unit-test-cluster-key-0123456789abcdef\n");
	fclose(f);
	chmod(key, 0600);
	snprintf(e->path, sizeof(e->path), "%s/storage.db", e->dir);
	assert_int_equal(sqlite3_open(e->path, &e->db), SQLITE_OK);
	kc.root_key_file = root;
	assert_int_equal(stor_keyring_open(&e->kr, e->db, &kc, &err), 0);
	sc.chunkd_path = CHUNKD_PATH;
	sc.data_dir = sdir;
	sc.cluster_key_file = key;
	sc.servers = 4;
	sc.racks = 3;
	if (stor_supervisor_start(&e->sup, &sc, &err) < 0)
		fail_msg("supervisor: %s", err.msg);
	cc.db = e->db;
	cc.keyring = e->kr;
	cc.cluster_key_file = key;
	cc.chunk_size = 64 * 1024;
	cc.heartbeat_ms = 100;
	cc.scrub_chunks_per_sec = 100;
	cc.audit = on_audit;
	cc.audit_ctx = e;
	assert_int_equal(stor_cluster_open(&e->c, &cc, &err), 0);
	for (unsigned i = 0; i < stor_supervisor_count(e->sup); i++)
		if (stor_server_add(e->c, stor_supervisor_addr(e->sup, i), &err) < 0)
			fail_msg("server add: %s", err.msg);
	*state = e;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	stor_cluster_close(e->c);
	stor_supervisor_stop(e->sup);
	stor_keyring_close(e->kr);
	sqlite3_close(e->db);
	/* the test's own temporary dir, made by mkdtemp above */
	nftw(e->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(e);
	return 0;
}

struct collect {
	uint64_t rows;
	int64_t sum;
	size_t chunks;
};

/* Each chunk holds whole batches: u32 length + batch, repeated. */
static int on_chunk(void *ctx, const uint8_t *data, size_t len, struct cmn_err *err)
{
	struct collect *c = ctx;
	static struct cmn_rowbatch_reader r;
	struct cmn_value v[2];
	size_t pos = 0;

	c->chunks++;
	while (pos < len) {
		uint32_t n;
		if (len - pos < 4)
			return cmn_err_set(err, CMN_EINVAL, 0, "batch frame cut");
		n = (uint32_t)data[pos] << 24 | (uint32_t)data[pos + 1] << 16 |
		    (uint32_t)data[pos + 2] << 8 | data[pos + 3];
		if (len - pos - 4 < n)
			return cmn_err_set(err, CMN_EINVAL, 0, "batch split across chunks");
		if (cmn_rowbatch_open(&r, data + pos + 4, n, err) < 0)
			return -1;
		while (cmn_rowbatch_next(&r, v, err) == 1) {
			c->rows++;
			c->sum += v[0].v.i64;
		}
		pos += 4 + n;
	}
	return 0;
}

static void test_batches_round_trip(void **state)
{
	struct env *e = *state;
	struct cmn_err err = CMN_ERR_INIT;
	struct stor_writer *w;
	struct collect got = { 0 };
	struct cmn_col cols[2] = { { CMN_COL_BIGINT, "id", 2 }, { CMN_COL_STRING, "s", 1 } };
	static struct cmn_rowbatch_writer bw;
	int64_t want = 0;
	char *text = NULL, *json = NULL;

	assert_int_equal(stor_keyring_table_create(e->kr, "unit", 5, &err), 0);
	assert_int_equal(stor_master_start(e->c, &err), 0);
	assert_int_equal(stor_writer_open(e->c, 5, 1, &w, &err), 0);
	for (int b = 0; b < 40; b++) {
		assert_int_equal(cmn_rowbatch_begin(&bw, cols, 2, 0, &err), 0);
		for (int i = 0; i < 300; i++) {
			struct cmn_value v[2] = { 0 };
			v[0].v.i64 = b * 1000 + i;
			v[1].v.bytes.ptr = "some row text";
			v[1].v.bytes.len = 13;
			want += v[0].v.i64;
			assert_int_equal(cmn_rowbatch_add(&bw, v, &err), 0);
		}
		assert_int_equal(cmn_rowbatch_finish(&bw, &err), 0);
		if (stor_writer_append_batch(w, bw.buf.data, bw.buf.len, &err) < 0)
			fail_msg("append: %s", err.msg);
		cmn_rowbatch_writer_free(&bw);
	}
	if (stor_writer_commit(w, &err) < 0)
		fail_msg("commit: %s", err.msg);
	assert_int_equal(stor_read_version(e->c, 5, 1, on_chunk, &got, &err), 0);
	assert_int_equal(got.rows, 40 * 300);
	assert_true(got.sum == want);
	assert_true(got.chunks > 4); /* 64 KiB chunks: the batches were spread */
	/* a batch larger than a chunk is refused, not split */
	assert_int_equal(stor_writer_open(e->c, 5, 2, &w, &err), 0);
	{
		char *big = calloc(1, 70000);
		assert_int_equal(stor_writer_append_batch(w, big, 70000, &err), -1);
		assert_int_equal(err.code, CMN_ELIMIT);
		free(big);
	}
	stor_writer_abort(w);
	assert_int_equal(stor_read_version(e->c, 5, 2, on_chunk, &got, &err), -1);
	assert_int_equal(err.code, CMN_ENOTFOUND);
	assert_int_equal(stor_metrics_text(e->c, &text, &err), 0);
	assert_non_null(strstr(text, "cordon_storage_servers_live 4"));
	assert_non_null(strstr(text, "cordon_storage_chunks_written_total"));
	free(text);
	assert_int_equal(stor_status_json(e->c, &json, &err), 0);
	assert_non_null(strstr(json, "\"under_replicated\": 0"));
	free(json);
	stor_master_stop(e->c);
	assert_true(e->audits >= 4); /* one per server added, at least */
}

/* Writes version `version` of table 6: 40 batches of 300 rows over 64 KiB
 * chunks; *want gets the sum of the ids. */
static void write_version(struct env *e, uint64_t version, int64_t *want)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct stor_writer *w;
	struct cmn_col cols[2] = { { CMN_COL_BIGINT, "id", 2 }, { CMN_COL_STRING, "s", 1 } };
	static struct cmn_rowbatch_writer bw;

	assert_int_equal(stor_writer_open(e->c, 6, version, &w, &err), 0);
	for (int b = 0; b < 40; b++) {
		assert_int_equal(cmn_rowbatch_begin(&bw, cols, 2, 0, &err), 0);
		for (int i = 0; i < 300; i++) {
			struct cmn_value v[2] = { 0 };
			v[0].v.i64 = (int64_t)version * 100000 + b * 1000 + i;
			v[1].v.bytes.ptr = "some row text";
			v[1].v.bytes.len = 13;
			*want += v[0].v.i64;
			assert_int_equal(cmn_rowbatch_add(&bw, v, &err), 0);
		}
		assert_int_equal(cmn_rowbatch_finish(&bw, &err), 0);
		assert_int_equal(stor_writer_append_batch(w, bw.buf.data, bw.buf.len, &err), 0);
		cmn_rowbatch_writer_free(&bw);
	}
	if (stor_writer_commit(w, &err) < 0)
		fail_msg("commit: %s", err.msg);
}

/* Slices of a read numbered across two versions: each chunk once, in the
 * slice given by its number; the readers' receive buffers are kept and
 * reused, and are not in a forked child. */
static void test_slices_and_kept_buffers(void **state)
{
	struct env *e = *state;
	struct cmn_err err = CMN_ERR_INIT;
	struct collect all = { 0 }, s[3] = { { 0 } };
	uint64_t index;
	int64_t want = 0;
	size_t kept;

	assert_int_equal(stor_keyring_table_create(e->kr, "unit", 6, &err), 0);
	write_version(e, 1, &want);
	write_version(e, 2, &want);
	index = 0;
	assert_int_equal(stor_read_slice(e->c, 6, 1, &index, 0, 1, on_chunk, &all, &err), 0);
	assert_int_equal(stor_read_slice(e->c, 6, 2, &index, 0, 1, on_chunk, &all, &err), 0);
	assert_int_equal(index, all.chunks);
	assert_true(all.chunks > 8);
	for (unsigned k = 0; k < 3; k++) {
		index = 0;
		for (uint64_t v = 1; v <= 2; v++)
			assert_int_equal(
			    stor_read_slice(e->c, 6, v, &index, k, 3, on_chunk, &s[k], &err), 0);
		/* chunk i (0-based, across both versions) is in slice i % 3 */
		assert_int_equal(s[k].chunks, (all.chunks + 2 - k) / 3);
	}
	assert_int_equal(s[0].rows + s[1].rows + s[2].rows, 2 * 40 * 300);
	assert_true(s[0].sum + s[1].sum + s[2].sum == want);
	assert_true(all.sum == want);
	index = 0;
	assert_int_equal(stor_read_slice(e->c, 6, 1, &index, 3, 3, on_chunk, &all, &err), -1);
	assert_int_equal(err.code, CMN_EINVAL);

	/* the buffers came back to the pool, and the next read takes them again */
	kept = e->c->rb_n;
	assert_true(kept > 0 && kept <= STOR_RBUF_POOL);
	uint8_t *first = e->c->rb_pool[kept - 1].data;
	assert_true(e->c->rb_pool[kept - 1].mapped);
	assert_int_equal(stor_read_version(e->c, 6, 1, on_chunk, &all, &err), 0);
	assert_int_equal(e->c->rb_n, kept);
	bool seen = false;
	for (size_t i = 0; i < kept; i++)
		seen = seen || e->c->rb_pool[i].data == first;
	assert_true(seen);
	/* a child does not get them (MADV_DONTFORK): nothing is mapped there */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(madvise(first, 4096, MADV_NORMAL) < 0 && errno == ENOMEM ? 0 : 1);
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(madvise(first, 4096, MADV_NORMAL), 0);
}

/* What a group callback saw: per group, its parts' columns and bytes. */
struct groups_seen {
	int n;
	int cols[8][4];
	size_t nparts[8];
	char text[8][4][16];
};

static int on_group(void *ctx, const struct stor_part *parts, size_t n, struct cmn_err *err)
{
	struct groups_seen *g = ctx;
	if (g->n == 8 || n > 4)
		return cmn_err_set(err, CMN_EINVAL, 0, "too many groups or parts");
	g->nparts[g->n] = n;
	for (size_t i = 0; i < n; i++) {
		g->cols[g->n][i] = parts[i].col;
		snprintf(g->text[g->n][i], sizeof(g->text[0][0]), "%.*s", (int)parts[i].len,
			 (const char *)parts[i].data);
	}
	g->n++;
	return 0;
}

/* Row groups: a chunk of rows, then two groups of three column chunks. A
 * read of some columns fetches only their chunks; slices split by group; a
 * column chunk moved to another column's place in the catalog does not
 * open. */
static void test_column_chunks(void **state)
{
	struct env *e = *state;
	struct cmn_err err = CMN_ERR_INIT;
	struct stor_writer *w;
	struct stor_metrics m0, m1;
	struct groups_seen all = { 0 }, some = { 0 }, s0 = { 0 }, s1 = { 0 };
	static uint8_t big[70000];
	uint64_t index;
	int two[] = { 2 }, bad_order[] = { 2, 0 };

	assert_int_equal(stor_keyring_table_create(e->kr, "unit", 8, &err), 0);
	assert_int_equal(stor_writer_open(e->c, 8, 1, &w, &err), 0);
	assert_int_equal(stor_writer_chunk_size(w), 64 * 1024);
	assert_int_equal(stor_writer_append(w, "rows-0", 6, &err), 0);
	for (int g = 1; g <= 2; g++) {
		char t[3][32];
		struct stor_part p[3];
		for (int c = 0; c < 3; c++) {
			snprintf(t[c], sizeof(t[c]), "g%d-col%d", g, c);
			p[c] = (struct stor_part){ c, (const uint8_t *)t[c], strlen(t[c]) };
		}
		assert_int_equal(stor_writer_append_group(w, p, 3, &err), 0);
	}
	/* refused: columns not ascending, a part bigger than a chunk, no part */
	struct stor_part desc[2] = { { 1, big, 1 }, { 0, big, 1 } }, huge = { 0, big, sizeof(big) };
	assert_int_equal(stor_writer_append_group(w, desc, 2, &err), -1);
	assert_int_equal(err.code, CMN_EINVAL);
	assert_int_equal(stor_writer_append_group(w, &huge, 1, &err), -1);
	assert_int_equal(stor_writer_append_group(w, desc, 0, &err), -1);
	if (stor_writer_commit(w, &err) < 0)
		fail_msg("commit: %s", err.msg);

	index = 0;
	assert_int_equal(stor_read_groups(e->c, 8, 1, &index, 0, 1, NULL, 0, on_group, &all, &err),
			 0);
	assert_int_equal(index, 3);
	assert_int_equal(all.n, 3);
	assert_int_equal(all.nparts[0], 1);
	assert_int_equal(all.cols[0][0], -1);
	assert_string_equal(all.text[0][0], "rows-0");
	for (int g = 1; g <= 2; g++) {
		assert_int_equal(all.nparts[g], 3);
		for (int c = 0; c < 3; c++) {
			char t[32];
			snprintf(t, sizeof(t), "g%d-col%d", g, c);
			assert_int_equal(all.cols[g][c], c);
			assert_string_equal(all.text[g][c], t);
		}
	}
	/* column 2 only: the row chunk and one chunk per group, nothing else */
	stor_metrics_get(e->c, &m0);
	index = 0;
	assert_int_equal(stor_read_groups(e->c, 8, 1, &index, 0, 1, two, 1, on_group, &some, &err),
			 0);
	stor_metrics_get(e->c, &m1);
	assert_int_equal(m1.chunks_read - m0.chunks_read, 3);
	assert_int_equal(some.n, 3);
	assert_int_equal(some.cols[0][0], -1);
	assert_int_equal(some.nparts[1], 1);
	assert_string_equal(some.text[1][0], "g1-col2");
	assert_string_equal(some.text[2][0], "g2-col2");
	/* slices are by row group */
	index = 0;
	assert_int_equal(stor_read_groups(e->c, 8, 1, &index, 0, 2, NULL, 0, on_group, &s0, &err),
			 0);
	index = 0;
	assert_int_equal(stor_read_groups(e->c, 8, 1, &index, 1, 2, NULL, 0, on_group, &s1, &err),
			 0);
	assert_int_equal(s0.n, 2);
	assert_string_equal(s0.text[0][0], "rows-0");
	assert_string_equal(s0.text[1][2], "g2-col2");
	assert_int_equal(s1.n, 1);
	assert_string_equal(s1.text[0][0], "g1-col0");
	index = 0;
	assert_int_equal(
	    stor_read_groups(e->c, 8, 1, &index, 0, 1, bad_order, 2, on_group, &s0, &err), -1);
	assert_int_equal(err.code, CMN_EINVAL);

	/* the catalog says group 1's column 0 chunk is column 2 (and the
	 * other way round): neither opens, no bytes come back as the wrong
	 * column */
	assert_int_equal(
	    sqlite3_exec(e->db,
			 "UPDATE stor_chunks SET col = CASE col WHEN 0 THEN 2 ELSE 0 "
			 "END WHERE table_id = 8 AND col IN (0, 2) AND rg = "
			 "(SELECT min(rg) FROM stor_chunks WHERE table_id = 8 AND col = 1)",
			 NULL, NULL, NULL),
	    SQLITE_OK);
	memset(&some, 0, sizeof(some));
	index = 0;
	assert_int_equal(stor_read_groups(e->c, 8, 1, &index, 0, 1, two, 1, on_group, &some, &err),
			 -1);
	assert_int_equal(err.code, CMN_EAUTH);
	assert_int_equal(some.n, 1); /* the row group before it only */
}

static void test_aborted_write_leaves_nothing(void **state)
{
	struct env *e = *state;
	struct cmn_err err = CMN_ERR_INIT;
	struct stor_writer *w;
	uint8_t *buf = malloc(300000);
	struct stor_metrics before, after;

	memset(buf, 'x', 300000);
	assert_int_equal(stor_keyring_table_create(e->kr, "unit", 6, &err), 0);
	stor_metrics_get(e->c, &before);
	assert_int_equal(stor_writer_open(e->c, 6, 1, &w, &err), 0);
	assert_int_equal(stor_writer_append(w, buf, 300000, &err), 0);
	stor_writer_abort(w); /* chunks were in flight or stored: all removed */
	stor_metrics_get(e->c, &after);
	assert_true(after.chunks_written >= before.chunks_written);
	for (unsigned i = 0; i < 4; i++) {
		char path[512];
		DIR *d;
		struct dirent *de;
		snprintf(path, sizeof(path), "%s/servers/chunk-%u/tmp", e->dir, i);
		d = opendir(path);
		assert_non_null(d);
		while ((de = readdir(d)))
			assert_true(de->d_name[0] == '.');
		closedir(d);
	}
	{
		sqlite3_stmt *st;
		assert_int_equal(sqlite3_prepare_v2(e->db,
						    "SELECT (SELECT count(*) FROM stor_chunks) + "
						    "(SELECT count(*) FROM stor_pending)",
						    -1, &st, NULL),
				 SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(st, 0), 0);
		sqlite3_finalize(st);
	}
	free(buf);
}

static int count_rows(sqlite3 *db, const char *sql, const char *arg)
{
	sqlite3_stmt *st;
	int n;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (arg)
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

struct repairer {
	struct stor_cluster *c;
	const char *chunk;
	pthread_barrier_t *go;
	int rc;
	pthread_t t;
};

static void *repair_main(void *arg)
{
	struct repairer *r = arg;
	struct cmn_err err = CMN_ERR_INIT;
	pthread_barrier_wait(r->go);
	r->rc = stor_repair_chunk(r->c, r->chunk, &err);
	return NULL;
}

/* A bad replica found by several readers (and the master) at once: every
 * repairer succeeds, the chunk is copied once, and it ends with exactly 3
 * replicas on distinct servers. Before the lease, each repairer that saw 2
 * replicas made its own copy. */
static void test_concurrent_repairs_copy_once(void **state)
{
	struct env *e = *state;
	struct cmn_err err = CMN_ERR_INIT;
	struct stor_writer *w;
	struct stor_metrics before, after;
	struct repairer r[6];
	pthread_barrier_t go;
	char chunk[STOR_ID_LEN + 1], victim[STOR_ID_LEN + 1], owner[STOR_ID_LEN + 1];
	char other[STOR_ID_LEN + 1];
	uint8_t data[1000];
	sqlite3_stmt *st;

	memset(data, 'r', sizeof(data));
	assert_int_equal(stor_keyring_table_create(e->kr, "unit", 7, &err), 0);
	assert_int_equal(stor_writer_open(e->c, 7, 1, &w, &err), 0);
	assert_int_equal(stor_writer_append(w, data, sizeof(data), &err), 0);
	assert_int_equal(stor_writer_commit(w, &err), 0);
	assert_int_equal(
	    sqlite3_prepare_v2(e->db,
			       "SELECT r.chunk_id, r.server_id FROM stor_chunks c JOIN "
			       "stor_replicas r USING (chunk_id) WHERE c.table_id = 7 "
			       "LIMIT 1",
			       -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(chunk, sizeof(chunk), "%s", sqlite3_column_text(st, 0));
	snprintf(victim, sizeof(victim), "%s", sqlite3_column_text(st, 1));
	sqlite3_finalize(st);
	/* the replica is dropped (row and file), as a reader does on a bad one */
	stor_replica_bad(e->c, chunk, victim, "unit test");
	assert_int_equal(
	    count_rows(e->db, "SELECT count(*) FROM stor_replicas WHERE chunk_id = ?", chunk), 2);
	stor_metrics_get(e->c, &before);
	assert_int_equal(pthread_barrier_init(&go, NULL, 6), 0);
	for (int i = 0; i < 6; i++) {
		r[i] = (struct repairer){ .c = e->c, .chunk = chunk, .go = &go, .rc = -9 };
		assert_int_equal(pthread_create(&r[i].t, NULL, repair_main, &r[i]), 0);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(r[i].t, NULL);
		assert_int_equal(r[i].rc, 0);
	}
	pthread_barrier_destroy(&go);
	stor_metrics_get(e->c, &after);
	assert_int_equal(after.repairs_done - before.repairs_done, 1);
	assert_int_equal(
	    count_rows(e->db, "SELECT count(*) FROM stor_replicas WHERE chunk_id = ?", chunk), 3);
	assert_int_equal(count_rows(e->db, "SELECT count(*) FROM stor_repairs", NULL), 0);
	/* the lease itself: held means busy, only its owner drops it, and a
	 * claim whose holder died lapses */
	assert_int_equal(stor_chunk_lease_take(e->c, chunk, owner, 0), 1);
	assert_int_equal(stor_chunk_lease_take(e->c, chunk, other, 50), 0);
	stor_chunk_lease_drop(e->c, chunk, other);
	assert_int_equal(stor_chunk_lease_take(e->c, chunk, other, 0), 0);
	assert_int_equal(
	    sqlite3_exec(e->db, "UPDATE stor_repairs SET expires_ms = 1", NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(stor_chunk_lease_take(e->c, chunk, other, 0), 1);
	stor_chunk_lease_drop(e->c, chunk, owner); /* the lapsed owner: no effect */
	assert_int_equal(count_rows(e->db, "SELECT count(*) FROM stor_repairs", NULL), 1);
	stor_chunk_lease_drop(e->c, chunk, other);
	assert_int_equal(count_rows(e->db, "SELECT count(*) FROM stor_repairs", NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_batches_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slices_and_kept_buffers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_column_chunks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aborted_write_leaves_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_repairs_copy_once, setup, teardown),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
