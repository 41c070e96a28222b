/* storage/replicate.c — the client: all-or-nothing replicated writes, and
 * reads that fall back across replicas.
 *
 * Write path per chunk: seal once (AES-256-GCM), place 3 replicas, record
 * them as pending in the catalog, put them in parallel (one thread per
 * replica), with up to WINDOW chunks in flight while the next is sealed. Nothing becomes visible
 * until commit moves every chunk into stor_chunks/stor_replicas in one transaction; on any failure
 * every replica that was written is deleted.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "storage/cluster.h"
#include "storage/schema.h"

struct wchunk {
	char id[STOR_ID_LEN + 1];
	uint32_t seq;
	uint32_t rg; /* row group */
	int col;     /* -1: whole rows; else the one column it holds */
	uint64_t size;
	uint8_t sha[STOR_SHA_LEN];
	int srv[STOR_REPLICAS];
	bool stored[STOR_REPLICAS];
};

/* Up to WINDOW chunks are in flight at once: each slot holds one sealed
 * chunk and its 3 puts, on connections of its own (so a server receives
 * several chunks concurrently and its fsyncs overlap). */
#define WINDOW 4

struct put_job {
	struct stor_writer *w;
	int slot, srv;
	char id[STOR_ID_LEN + 1];
	const uint8_t *ct;
	size_t ctlen;
	pthread_t t;
	bool threaded;
	int rc;
	struct cmn_err err;
	uint8_t sha[STOR_SHA_LEN]; /* the checksum the server computed and stored */
};

struct wslot {
	uint8_t *ct;
	struct put_job jobs[STOR_REPLICAS];
	bool inflight;
	size_t chunk; /* index into chunks */
};

struct stor_writer {
	struct stor_cluster *c;
	uint64_t table_id, version;
	struct stor_key key;
	uint32_t key_version;
	uint8_t *buf; /* plaintext being filled */
	size_t len;
	uint32_t rg; /* the next row group's number */
	struct wchunk *chunks;
	size_t n, cap;
	struct wslot slots[WINDOW];
	struct stor_conn conns[WINDOW][STOR_MAX_SERVERS];
	bool failed;
};

static void *put_main(void *arg)
{
	struct put_job *j = arg;
	struct stor_writer *w = j->w;
	struct stor_conn *conn = &w->conns[j->slot][j->srv];
	char addr[80];

	pthread_mutex_lock(w->c->mu);
	snprintf(addr, sizeof(addr), "%s", w->c->servers[j->srv].addr);
	pthread_mutex_unlock(w->c->mu);
	j->rc = 0;
	if (conn->fd < 0 && stor_conn_open(conn, addr, &w->c->key, 3000, &j->err) < 0)
		j->rc = -1;
	if (j->rc == 0 && stor_conn_put(conn, j->id, j->ct, j->ctlen, j->sha, &j->err) < 0)
		j->rc = -1;
	return NULL;
}

/* Waits for one slot's puts; fails the writer if a replica failed. */
static int wait_slot(struct stor_writer *w, struct wslot *sl, struct cmn_err *err)
{
	struct wchunk *ch;
	int rc = 0;

	if (!sl->inflight)
		return 0;
	sl->inflight = false;
	ch = &w->chunks[sl->chunk];
	for (int r = 0; r < STOR_REPLICAS; r++) {
		if (sl->jobs[r].threaded)
			pthread_join(sl->jobs[r].t, NULL);
		ch->stored[r] = sl->jobs[r].rc == 0;
		if (sl->jobs[r].rc < 0 && rc == 0) {
			rc = -1;
			if (err)
				*err = sl->jobs[r].err;
		}
	}
	/* each server hashed what it stored; the three must agree, and that
	 * hash becomes the catalog's (GCM still authenticates the bytes, so
	 * the client spends no CPU on a hash of its own) */
	if (rc == 0) {
		memcpy(ch->sha, sl->jobs[0].sha, STOR_SHA_LEN);
		for (int r = 1; r < STOR_REPLICAS; r++)
			if (memcmp(sl->jobs[r].sha, ch->sha, STOR_SHA_LEN) != 0)
				rc = cmn_err_set(err, CMN_EIO, 0,
						 "replicas of chunk %s disagree on its checksum",
						 ch->id);
	}
	if (rc < 0) {
		w->failed = true;
		return cmn_err_wrap(err, "replica write");
	}
	pthread_mutex_lock(w->c->mu);
	w->c->m.chunks_written++;
	pthread_mutex_unlock(w->c->mu);
	return 0;
}

/* Waits for every slot; the first failure is the one reported. */
static int wait_all(struct stor_writer *w, struct cmn_err *err)
{
	int rc = 0;
	for (int i = 0; i < WINDOW; i++) {
		struct cmn_err e = CMN_ERR_INIT;
		if (wait_slot(w, &w->slots[i], &e) < 0 && rc == 0) {
			rc = -1;
			if (err)
				*err = e;
		}
	}
	return rc;
}

static int add_pending(struct stor_cluster *c, const struct wchunk *ch, bool add)
{
	sqlite3_stmt *st;
	int rc = 0;
	if (sqlite3_prepare_v2(
		c->cfg.db,
		add ? "INSERT OR REPLACE INTO stor_pending(chunk_id, server_id, "
		      "started_ms) VALUES (?, ?, ?)"
		    : "DELETE FROM stor_pending WHERE chunk_id = ? AND server_id = ?",
		-1, &st, NULL) != SQLITE_OK)
		return -1;
	for (int r = 0; r < STOR_REPLICAS; r++) {
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, ch->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, c->servers[ch->srv[r]].id, -1, SQLITE_STATIC);
		if (add)
			sqlite3_bind_int64(st, 3, (sqlite3_int64)stor_now_ms());
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = -1;
	}
	sqlite3_finalize(st);
	return rc;
}

/* A pending replica of an aborted write: the master may delete it as soon
 * as its server answers (no grace period). */
static void mark_aborted(struct stor_cluster *c, const char *chunk_id)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(c->cfg.db,
			       "UPDATE stor_pending SET started_ms = 0 WHERE chunk_id = ?", -1, &st,
			       NULL) != SQLITE_OK)
		return;
	sqlite3_bind_text(st, 1, chunk_id, -1, SQLITE_STATIC);
	sqlite3_step(st);
	sqlite3_finalize(st);
}

static int grow_chunks(struct stor_writer *w, struct cmn_err *err)
{
	struct wchunk *n;
	if (w->n < w->cap)
		return 0;
	w->cap = w->cap ? w->cap * 2 : 64;
	n = realloc(w->chunks, w->cap * sizeof(*n));
	if (!n)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	w->chunks = n;
	return 0;
}

/* Seals plain as the next chunk (of row group rg; col -1 for whole rows)
 * and starts its replicas in the next slot (waiting first for that slot's
 * earlier chunk). */
static int seal_chunk(struct stor_writer *w, const uint8_t *plain, size_t len, uint32_t rg, int col,
		      struct cmn_err *err)
{
	struct stor_cluster *c = w->c;
	struct wslot *sl = &w->slots[w->n % WINDOW];
	struct wchunk *ch;
	size_t ctlen = len + STOR_SEAL_OVERHEAD, placed;
	struct stor_chunk_aad aad;

	if (w->failed)
		return cmn_err_set(err, CMN_EIO, 0, "writer already failed");
	if (wait_slot(w, sl, err) < 0 || grow_chunks(w, err) < 0)
		return -1;
	ch = &w->chunks[w->n];
	memset(ch, 0, sizeof(*ch));
	if (stor_random_id(ch->id, err) < 0)
		return -1;
	ch->size = ctlen;
	ch->seq = (uint32_t)w->n;
	ch->rg = rg;
	ch->col = col;
	aad = (struct stor_chunk_aad){ ch->id,
				       w->table_id,
				       w->version,
				       w->key_version,
				       col >= 0,
				       rg,
				       col >= 0 ? (uint32_t)col : 0 };
	if (stor_chunk_seal(&w->key, &aad, plain, len, sl->ct, err) < 0)
		return -1;
	pthread_mutex_lock(c->mu);
	placed = stor_place(c, NULL, 0, STOR_REPLICAS, ctlen, ch->srv);
	if (placed == STOR_REPLICAS && add_pending(c, ch, true) < 0)
		placed = 0;
	pthread_mutex_unlock(c->mu);
	if (placed < STOR_REPLICAS) {
		w->failed = true;
		return cmn_err_set(err, CMN_EUNAVAIL, 0,
				   "need %d live chunk servers for a write, have %zu",
				   STOR_REPLICAS, placed);
	}
	sl->chunk = w->n++;
	for (int r = 0; r < STOR_REPLICAS; r++) {
		struct put_job *j = &sl->jobs[r];
		*j = (struct put_job){ .w = w,
				       .slot = (int)(sl - w->slots),
				       .srv = ch->srv[r],
				       .ct = sl->ct,
				       .ctlen = ctlen };
		memcpy(j->id, ch->id, sizeof(j->id));
		j->threaded = pthread_create(&j->t, NULL, put_main, j) == 0;
		if (!j->threaded)
			put_main(j); /* correctness over parallelism */
	}
	sl->inflight = true;
	return 0;
}

/* The buffered rows as one chunk, a row group of its own. */
static int flush_chunk(struct stor_writer *w, struct cmn_err *err)
{
	int rc = seal_chunk(w, w->buf, w->len, w->rg, -1, err);
	/* buf is refilled by the next chunk and wiped once, in writer_free */
	if (rc == 0) {
		w->len = 0;
		w->rg++;
	}
	return rc;
}

int stor_writer_open(struct stor_cluster *c, uint64_t table_id, uint64_t version,
		     struct stor_writer **out, struct cmn_err *err)
{
	struct stor_writer *w;
	size_t cs = c->cfg.chunk_size;
	bool ok;

	*out = NULL;
	/* states loaded from the catalog or not refreshed lately: refresh now */
	if (stor_now_ms() - c->last_hb_ms > 2 * c->cfg.heartbeat_ms)
		stor_heartbeat(c, NULL);
	w = calloc(1, sizeof(*w));
	if (!w)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	w->c = c;
	w->table_id = table_id;
	w->version = version;
	for (int k = 0; k < WINDOW; k++)
		for (size_t i = 0; i < STOR_MAX_SERVERS; i++)
			w->conns[k][i].fd = -1;
	w->buf = malloc(cs);
	ok = w->buf != NULL;
	for (int k = 0; k < WINDOW; k++) {
		w->slots[k].ct = malloc(cs + STOR_SEAL_OVERHEAD);
		ok = ok && w->slots[k].ct;
	}
	if (!ok) {
		stor_writer_abort(w);
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory for chunk buffers");
	}
	if (stor_keyring_table_key(c->cfg.keyring, table_id, 0, &w->key, &w->key_version, err) <
	    0) {
		stor_writer_abort(w);
		return cmn_err_wrap(err, "write table %llu", (unsigned long long)table_id);
	}
	*out = w;
	return 0;
}

int stor_writer_append(struct stor_writer *w, const void *data, size_t len, struct cmn_err *err)
{
	const uint8_t *p = data;
	size_t cs = w->c->cfg.chunk_size;

	while (len > 0) {
		size_t take = cs - w->len < len ? cs - w->len : len;
		memcpy(w->buf + w->len, p, take);
		w->len += take;
		p += take;
		len -= take;
		if (w->len == cs && flush_chunk(w, err) < 0)
			return -1;
	}
	return 0;
}

int stor_writer_append_batch(struct stor_writer *w, const void *batch, size_t len,
			     struct cmn_err *err)
{
	size_t cs = w->c->cfg.chunk_size;
	uint8_t hdr[4];

	/* framed as u32 length + batch, never split across chunks */
	if (len > cs - 4)
		return cmn_err_set(err, CMN_ELIMIT, 0,
				   "row batch of %zu bytes exceeds the chunk size", len);
	if (w->len + 4 + len > cs && flush_chunk(w, err) < 0)
		return -1;
	stor_put_be32(hdr, (uint32_t)len);
	memcpy(w->buf + w->len, hdr, 4);
	memcpy(w->buf + w->len + 4, batch, len);
	w->len += 4 + len;
	return 0;
}

size_t stor_writer_chunk_size(const struct stor_writer *w)
{
	return w->c->cfg.chunk_size;
}

int stor_writer_append_group(struct stor_writer *w, const struct stor_part *parts, size_t n,
			     struct cmn_err *err)
{
	size_t cs = w->c->cfg.chunk_size;

	if (n == 0 || n > STOR_MAX_PARTS)
		return cmn_err_set(err, CMN_EINVAL, 0, "row group of %zu columns (1..%d)", n,
				   STOR_MAX_PARTS);
	for (size_t i = 0; i < n; i++)
		if (parts[i].col < 0 || (i > 0 && parts[i].col <= parts[i - 1].col) ||
		    parts[i].len > cs)
			return cmn_err_set(err, CMN_EINVAL, 0,
					   "row group part %zu: column %d of %zu bytes (columns "
					   "ascending, at most %zu bytes each)",
					   i, parts[i].col, parts[i].len, cs);
	/* rows appended before stay a row group of their own */
	if (w->len > 0 && flush_chunk(w, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (seal_chunk(w, parts[i].data, parts[i].len, w->rg, parts[i].col, err) < 0)
			return -1;
	w->rg++;
	return 0;
}

static int version_exists(struct stor_cluster *c, uint64_t table_id, uint64_t version)
{
	sqlite3_stmt *st;
	int found = 0;
	if (sqlite3_prepare_v2(
		c->cfg.db, "SELECT 1 FROM stor_chunks WHERE table_id = ? AND version = ? LIMIT 1",
		-1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)table_id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)version);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

/* One transaction: the chunks, their replicas, and the end of pending. */
static int record_chunks(struct stor_writer *w, struct cmn_err *err)
{
	struct stor_cluster *c = w->c;
	sqlite3 *db = c->cfg.db;
	sqlite3_stmt *ins = NULL, *rep = NULL;
	int rc = -1;

	if (stor_db_exec(db, "BEGIN IMMEDIATE", err) < 0)
		return -1;
	if (version_exists(c, w->table_id, w->version) != 0) {
		cmn_err_set(err, CMN_ECONFLICT, 0, "table %llu version %llu already exists",
			    (unsigned long long)w->table_id, (unsigned long long)w->version);
		goto out;
	}
	if (sqlite3_prepare_v2(db,
			       "INSERT INTO stor_chunks(chunk_id, table_id, version, seq, size, "
			       "key_version, sha256, created_at, rg, col) "
			       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			       -1, &ins, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO stor_replicas(chunk_id, server_id) VALUES (?, ?)",
			       -1, &rep, NULL) != SQLITE_OK) {
		stor_db_err(db, err, "prepare");
		goto out;
	}
	for (size_t i = 0; i < w->n; i++) {
		struct wchunk *ch = &w->chunks[i];
		sqlite3_reset(ins);
		sqlite3_bind_text(ins, 1, ch->id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ins, 2, (sqlite3_int64)w->table_id);
		sqlite3_bind_int64(ins, 3, (sqlite3_int64)w->version);
		sqlite3_bind_int64(ins, 4, ch->seq);
		sqlite3_bind_int64(ins, 5, (sqlite3_int64)ch->size);
		sqlite3_bind_int64(ins, 6, w->key_version);
		sqlite3_bind_blob(ins, 7, ch->sha, STOR_SHA_LEN, SQLITE_STATIC);
		sqlite3_bind_int64(ins, 8, (sqlite3_int64)(stor_now_ms() / 1000));
		sqlite3_bind_int64(ins, 9, ch->rg);
		sqlite3_bind_int(ins, 10, ch->col);
		if (sqlite3_step(ins) != SQLITE_DONE) {
			stor_db_err(db, err, "insert chunk");
			goto out;
		}
		for (int r = 0; r < STOR_REPLICAS; r++) {
			sqlite3_reset(rep);
			sqlite3_bind_text(rep, 1, ch->id, -1, SQLITE_STATIC);
			sqlite3_bind_text(rep, 2, c->servers[ch->srv[r]].id, -1, SQLITE_STATIC);
			if (sqlite3_step(rep) != SQLITE_DONE) {
				stor_db_err(db, err, "insert replica");
				goto out;
			}
		}
		add_pending(c, ch, false);
	}
	rc = stor_db_exec(db, "COMMIT", err);
out:
	sqlite3_finalize(ins);
	sqlite3_finalize(rep);
	if (rc < 0)
		stor_db_exec(db, "ROLLBACK", NULL);
	return rc;
}

static void writer_free(struct stor_writer *w)
{
	size_t cs = w->c->cfg.chunk_size;
	for (int k = 0; k < WINDOW; k++) {
		for (size_t i = 0; i < STOR_MAX_SERVERS; i++)
			stor_conn_close(&w->conns[k][i]);
		free(w->slots[k].ct);
	}
	if (w->buf)
		OPENSSL_cleanse(w->buf, cs);
	free(w->buf);
	free(w->chunks);
	stor_key_wipe(&w->key);
	free(w);
}

int stor_writer_commit(struct stor_writer *w, struct cmn_err *err)
{
	struct stor_cluster *c = w->c;
	int rc;

	if ((w->len > 0 || w->n == 0) && flush_chunk(w, err) < 0)
		goto fail;
	if (wait_all(w, err) < 0)
		goto fail;
	pthread_mutex_lock(c->mu);
	rc = record_chunks(w, err);
	pthread_mutex_unlock(c->mu);
	if (rc < 0)
		goto fail;
	writer_free(w);
	return 0;
fail:
	cmn_err_wrap(err, "write table %llu version %llu", (unsigned long long)w->table_id,
		     (unsigned long long)w->version);
	stor_writer_abort(w);
	return -1;
}

/* Deletes every replica the write may have left (a put whose answer was
 * lost may still have landed, so all 3 servers are asked); a replica that
 * could not be removed stays in stor_pending for the master to clean up. */
void stor_writer_abort(struct stor_writer *w)
{
	struct stor_cluster *c = w->c;
	size_t removed = 0;

	wait_all(w, NULL);
	for (size_t i = 0; i < w->n; i++) {
		struct wchunk *ch = &w->chunks[i];
		bool all = true;
		for (int r = 0; r < STOR_REPLICAS; r++) {
			struct stor_conn *conn = &w->conns[0][ch->srv[r]];
			struct cmn_err e = CMN_ERR_INIT;
			char addr[80];
			pthread_mutex_lock(c->mu);
			snprintf(addr, sizeof(addr), "%s", c->servers[ch->srv[r]].addr);
			pthread_mutex_unlock(c->mu);
			if ((conn->fd >= 0 || stor_conn_open(conn, addr, &c->key, 2000, &e) == 0) &&
			    stor_conn_delete(conn, ch->id, &e) == 0)
				removed++;
			else if (e.code != CMN_ENOTFOUND)
				all = false;
		}
		pthread_mutex_lock(c->mu);
		if (all)
			add_pending(c, ch, false);
		else
			mark_aborted(c, ch->id);
		pthread_mutex_unlock(c->mu);
	}
	if (w->n)
		cmn_info("storage: aborted write of table %llu version %llu: removed %zu replicas",
			 (unsigned long long)w->table_id, (unsigned long long)w->version, removed);
	writer_free(w);
}
