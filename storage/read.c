/* storage/read.c — the read path: each chunk from the first replica that
 * is there, matches the catalog's checksum and decrypts; a bad replica is
 * reported, dropped and repaired from a good one (read-repair). Also the
 * drop of a table (crypto-shred first, then every replica). */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "storage/cluster.h"
#include "storage/schema.h"

struct rchunk {
	char id[STOR_ID_LEN + 1];
	uint32_t key_version;
	uint8_t sha[STOR_SHA_LEN];
	uint64_t size;
	int64_t rg;     /* row group */
	int col;        /* -1: whole rows */
	uint64_t no;    /* where reads of it start among the live replicas */
	uint64_t group; /* its row group's number in the whole read */
};

/* Chunks of a version in order; *n = 0 when there is no such version. */
static int list_chunks(struct stor_cluster *c, uint64_t table_id, uint64_t version,
		       struct rchunk **out, size_t *n, struct cmn_err *err)
{
	sqlite3_stmt *st;
	struct rchunk *a = NULL;
	size_t cap = 0, cnt = 0;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(c->mu);
	if (sqlite3_prepare_v2(
		c->cfg.db,
		"SELECT chunk_id, key_version, sha256, size, rg, col FROM stor_chunks "
		"WHERE table_id = ? AND version = ? ORDER BY seq",
		-1, &st, NULL) != SQLITE_OK) {
		pthread_mutex_unlock(c->mu);
		return stor_db_err(c->cfg.db, err, "prepare");
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)table_id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)version);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (cnt == cap) {
			struct rchunk *na;
			cap = cap ? cap * 2 : 64;
			na = realloc(a, cap * sizeof(*a));
			if (!na) {
				free(a);
				sqlite3_finalize(st);
				pthread_mutex_unlock(c->mu);
				return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
			}
			a = na;
		}
		snprintf(a[cnt].id, sizeof(a[cnt].id), "%s", sqlite3_column_text(st, 0));
		a[cnt].key_version = (uint32_t)sqlite3_column_int64(st, 1);
		memset(a[cnt].sha, 0, STOR_SHA_LEN);
		if (sqlite3_column_bytes(st, 2) == STOR_SHA_LEN)
			memcpy(a[cnt].sha, sqlite3_column_blob(st, 2), STOR_SHA_LEN);
		a[cnt].size = (uint64_t)sqlite3_column_int64(st, 3);
		a[cnt].rg = sqlite3_column_int64(st, 4);
		a[cnt].col = sqlite3_column_int(st, 5);
		cnt++;
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(c->mu);
	*out = a;
	*n = cnt;
	return 0;
}

/* Server indices holding a chunk, live ones first. Caller holds c->mu. */
static size_t replicas_of(struct stor_cluster *c, const char *chunk_id, int *out, size_t max)
{
	sqlite3_stmt *st;
	size_t n = 0;
	if (sqlite3_prepare_v2(c->cfg.db, "SELECT server_id FROM stor_replicas WHERE chunk_id = ?",
			       -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, chunk_id, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW && n < max) {
		int i = stor_server_find(c, (const char *)sqlite3_column_text(st, 0));
		if (i >= 0)
			out[n++] = i;
	}
	sqlite3_finalize(st);
	for (size_t i = 1; i < n; i++) /* stable: live before suspect */
		for (size_t j = i; j > 0 && c->servers[out[j]].state < c->servers[out[j - 1]].state;
		     j--) {
			int t = out[j];
			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	return n;
}

/* The reader fetches ahead: FETCHERS threads get and check ciphertexts
 * (DEPTH chunks ahead; fetcher k takes chunks i with i % FETCHERS == k, and
 * always the same queue slots) while the caller's thread decrypts and
 * consumes in order, so servers' checksum work, transfers and decryption
 * overlap. A fetcher stops after its first failure, which the consumer
 * reaches in order. */
#define FETCHERS 3
#define DEPTH 6 /* a multiple of FETCHERS */

struct fetched {
	struct stor_rbuf rb; /* the slot's receive buffer, reused; ct points into it */
	const uint8_t *ct;
	size_t len;
	int rc; /* 0, or <0 with err */
	struct cmn_err err;
	bool ready;
};

struct reader {
	struct stor_cluster *c;
	uint64_t table_id, version;
	const struct rchunk *chunks;
	size_t n;
	struct stor_conn conns[FETCHERS][STOR_MAX_SERVERS];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct fetched q[DEPTH];
	bool stop;
};

/* A receive buffer from the cluster's pool, else a new mapping (else an
 * empty one: stor_recv_frame_into then allocates). Reused buffers spare
 * each read ~1,000 page faults per 4 MiB slot. */
static void rbuf_take(struct stor_cluster *c, struct stor_rbuf *rb)
{
	struct cmn_err e = CMN_ERR_INIT;

	*rb = (struct stor_rbuf){ NULL, 0, false };
	pthread_mutex_lock(&c->rb_mu);
	if (c->rb_n > 0)
		*rb = c->rb_pool[--c->rb_n];
	pthread_mutex_unlock(&c->rb_mu);
	if (!rb->data)
		(void)stor_rbuf_map(rb, &e);
}

static void rbuf_give(struct stor_cluster *c, struct stor_rbuf *rb)
{
	pthread_mutex_lock(&c->rb_mu);
	if (rb->mapped && c->rb_n < STOR_RBUF_POOL) {
		c->rb_pool[c->rb_n++] = *rb;
		*rb = (struct stor_rbuf){ NULL, 0, false };
	}
	pthread_mutex_unlock(&c->rb_mu);
	stor_rbuf_free(rb);
}

/* One replica: fetch and check against the catalog. Returns 0 with the
 * ciphertext, -1 bad replica (reported and dropped), -2 unreachable. */
static int fetch_replica(struct reader *r, struct stor_conn *conns, const struct rchunk *ch, int s,
			 struct stor_rbuf *rb, const uint8_t **ct, size_t *len, struct cmn_err *err)
{
	struct stor_cluster *c = r->c;
	uint8_t sha[STOR_SHA_LEN];
	char addr[80], sid[STOR_ID_LEN + 1];
	struct cmn_err e = CMN_ERR_INIT;

	pthread_mutex_lock(c->mu);
	snprintf(addr, sizeof(addr), "%s", c->servers[s].addr);
	snprintf(sid, sizeof(sid), "%s", c->servers[s].id);
	pthread_mutex_unlock(c->mu);
	if (conns[s].fd < 0 && stor_conn_open(&conns[s], addr, &c->key, 2000, &e) < 0) {
		*err = e;
		return -2;
	}
	if (stor_conn_get(&conns[s], ch->id, rb, ct, len, sha, &e) < 0) {
		*err = e;
		if (e.code == CMN_ENOTFOUND || e.code == CMN_EIO) {
			stor_replica_bad(c, ch->id, sid, e.msg);
			return -1;
		}
		return -2;
	}
	if (CRYPTO_memcmp(sha, ch->sha, STOR_SHA_LEN) != 0 || *len < STOR_SEAL_OVERHEAD ||
	    *len - STOR_SEAL_OVERHEAD > STOR_CHUNK_MAX) {
		/* the server's own checksum held, so this is another chunk's
		 * file under this id (swapped or replayed) */
		*ct = NULL;
		cmn_err_set(err, CMN_EIO, 0, "%s: chunk %s is not the one the catalog wrote", addr,
			    ch->id);
		stor_replica_bad(c, ch->id, sid, "checksum differs from the catalog");
		return -1;
	}
	return 0;
}

/* Spreads reads over the live replicas (chunk i starts at live replica
 * i mod live), so every server checksums and sends its share; the others
 * stay in order behind as fallbacks. Caller holds c->mu. */
static void rotate_live(struct stor_cluster *c, int *srv, size_t n, size_t i)
{
	size_t live = 0, k;
	int tmp[STOR_MAX_SERVERS];

	while (live < n && c->servers[srv[live]].state == SRV_LIVE)
		live++;
	if (live < 2)
		return;
	k = i % live;
	for (size_t j = 0; j < live; j++)
		tmp[j] = srv[(k + j) % live];
	memcpy(srv, tmp, live * sizeof(*srv));
}

static int fetch_chunk(struct reader *r, struct stor_conn *conns, const struct rchunk *ch,
		       struct stor_rbuf *rb, const uint8_t **ct, size_t *len, struct cmn_err *err)
{
	struct stor_cluster *c = r->c;
	int srv[STOR_MAX_SERVERS];
	size_t n, bad = 0;
	struct cmn_err last = CMN_ERR_INIT;

	pthread_mutex_lock(c->mu);
	n = replicas_of(c, ch->id, srv, STOR_MAX_SERVERS);
	rotate_live(c, srv, n, (size_t)ch->no);
	pthread_mutex_unlock(c->mu);
	for (size_t i = 0; i < n; i++) {
		int rc = fetch_replica(r, conns, ch, srv[i], rb, ct, len, &last);
		if (rc == 0) {
			pthread_mutex_lock(c->mu);
			c->m.chunks_read++;
			if (i > 0)
				c->m.read_fallbacks++;
			pthread_mutex_unlock(c->mu);
			if (bad > 0 && stor_repair_chunk(c, ch->id, &last) < 0)
				cmn_warn("storage: read-repair of chunk %s: %s", ch->id, last.msg);
			return 0;
		}
		if (rc == -1)
			bad++;
		cmn_warn("storage: chunk %s replica %zu of %zu: %s", ch->id, i + 1, n, last.msg);
	}
	if (n == 0)
		return cmn_err_set(err, CMN_EIO, 0, "no replica left");
	*err = last;
	/* next_plain names the chunk */
	return cmn_err_wrap(err, "no good replica among %zu", n);
}

struct fetcher {
	struct reader *r;
	int k;
	pthread_t t;
	bool started;
};

static void *fetch_main(void *arg)
{
	struct fetcher *fe = arg;
	struct reader *r = fe->r;
	for (size_t i = (size_t)fe->k; i < r->n; i += FETCHERS) {
		struct fetched *f = &r->q[i % DEPTH];
		const uint8_t *ct = NULL;
		size_t len = 0;
		struct cmn_err e = CMN_ERR_INIT;
		int rc;

		pthread_mutex_lock(&r->mu);
		while (f->ready && !r->stop)
			pthread_cond_wait(&r->cv, &r->mu);
		pthread_mutex_unlock(&r->mu);
		if (r->stop)
			break;
		/* the slot is not ready, so the consumer does not touch f->rb */
		rc = fetch_chunk(r, r->conns[fe->k], &r->chunks[i], &f->rb, &ct, &len, &e);
		pthread_mutex_lock(&r->mu);
		f->ct = ct;
		f->len = len;
		f->rc = rc;
		f->err = e;
		f->ready = true;
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
		if (rc < 0)
			break;
	}
	return NULL;
}

/* Takes chunk i from the queue and decrypts it into plain. */
static int next_plain(struct reader *r, size_t i, struct stor_key *key, uint32_t *key_version,
		      uint8_t *plain, size_t *plen, struct cmn_err *err)
{
	struct fetched *f = &r->q[i % DEPTH];
	const struct rchunk *ch = &r->chunks[i];
	struct stor_chunk_aad aad = { ch->id,
				      r->table_id,
				      r->version,
				      ch->key_version,
				      ch->col >= 0,
				      (uint32_t)ch->rg,
				      ch->col >= 0 ? (uint32_t)ch->col : 0 };
	int rc;

	pthread_mutex_lock(&r->mu);
	while (!f->ready)
		pthread_cond_wait(&r->cv, &r->mu);
	pthread_mutex_unlock(&r->mu);
	rc = f->rc;
	if (rc < 0)
		*err = f->err;
	if (rc == 0 && *key_version != ch->key_version) {
		stor_key_wipe(key);
		*key_version = 0;
		rc = stor_keyring_table_key(r->c->cfg.keyring, r->table_id, ch->key_version, key,
					    key_version, err);
	}
	/* the bytes are the ones the catalog wrote: a failure here is the
	 * key's, not a replica's, so no replica is blamed */
	if (rc == 0)
		rc = stor_chunk_open(key, &aad, f->ct, f->len, plain, plen, err);
	pthread_mutex_lock(&r->mu);
	f->ct = NULL;
	f->ready = false;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	return rc < 0 ? cmn_err_wrap(err, "chunk %s", ch->id) : 0;
}

/* Decrypts the chunks in order into one buffer per part of a row group
 * and hands each group to cb once its last part is in. */
static int consume(struct reader *r, size_t maxparts, stor_group_cb cb, void *ctx,
		   struct cmn_err *err)
{
	struct stor_key key;
	uint32_t key_version = 0;
	cleanup_free uint8_t **plain = calloc(maxparts, sizeof(*plain));
	cleanup_free size_t *used = calloc(maxparts, sizeof(*used));
	cleanup_free struct stor_part *parts = calloc(maxparts, sizeof(*parts));
	size_t np = 0;
	int rc = 0;

	if (!plain || !used || !parts)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	memset(&key, 0, sizeof(key));
	/* each buffer is overwritten by the same part of every group and
	 * wiped once, up to the longest chunk it held */
	for (size_t i = 0; rc == 0 && i < r->n; i++) {
		size_t plen = 0;
		if (np == maxparts)
			rc = cmn_err_set(err, CMN_EINTERNAL, 0, "row group of more than %zu parts",
					 maxparts);
		if (rc == 0 && !plain[np] && !(plain[np] = malloc(STOR_CHUNK_MAX)))
			rc = cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		if (rc == 0)
			rc = next_plain(r, i, &key, &key_version, plain[np], &plen, err);
		if (rc < 0)
			break;
		if (plen > used[np])
			used[np] = plen;
		parts[np] = (struct stor_part){ r->chunks[i].col, plain[np], plen };
		np++;
		if (i + 1 == r->n || r->chunks[i + 1].group != r->chunks[i].group) {
			rc = cb(ctx, parts, np, err);
			np = 0;
		}
	}
	for (size_t k = 0; k < maxparts; k++)
		if (plain[k]) {
			OPENSSL_cleanse(plain[k], used[k]);
			free(plain[k]);
		}
	stor_key_wipe(&key);
	return rc;
}

struct chunk_cb {
	stor_read_cb cb;
	void *ctx;
};

static int each_part(void *arg, const struct stor_part *parts, size_t n, struct cmn_err *err)
{
	struct chunk_cb *cc = arg;
	for (size_t i = 0; i < n; i++)
		if (cc->cb(cc->ctx, parts[i].data, parts[i].len, err) < 0)
			return -1;
	return 0;
}

int stor_read_version(struct stor_cluster *c, uint64_t table_id, uint64_t version, stor_read_cb cb,
		      void *ctx, struct cmn_err *err)
{
	uint64_t index = 0;
	return stor_read_slice(c, table_id, version, &index, 0, 1, cb, ctx, err);
}

int stor_read_slice(struct stor_cluster *c, uint64_t table_id, uint64_t version, uint64_t *index,
		    unsigned slice, unsigned nslices, stor_read_cb cb, void *ctx,
		    struct cmn_err *err)
{
	struct chunk_cb cc = { cb, ctx };
	return stor_read_groups(c, table_id, version, index, slice, nslices, NULL, 0, each_part,
				&cc, err);
}

static bool wanted(const int *cols, size_t ncols, int col)
{
	size_t lo = 0, hi = ncols;
	if (col < 0 || ncols == 0)
		return true;
	while (lo < hi) { /* cols is sorted */
		size_t mid = (lo + hi) / 2;
		if (cols[mid] == col)
			return true;
		if (cols[mid] < col)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

int stor_read_groups(struct stor_cluster *c, uint64_t table_id, uint64_t version, uint64_t *index,
		     unsigned slice, unsigned nslices, const int *cols, size_t ncols,
		     stor_group_cb cb, void *ctx, struct cmn_err *err)
{
	struct reader *r;
	cleanup_free struct rchunk *chunks = NULL;
	struct fetcher fe[FETCHERS];
	size_t n = 0, all, maxparts = 0, inpart = 0;
	uint64_t group = *index;
	int rc = 0;

	if (nslices == 0 || slice >= nslices)
		return cmn_err_set(err, CMN_EINVAL, 0, "slice %u of %u", slice, nslices);
	for (size_t i = 1; i < ncols; i++)
		if (cols[i] <= cols[i - 1])
			return cmn_err_set(err, CMN_EINVAL, 0, "read: columns not ascending");
	if (list_chunks(c, table_id, version, &chunks, &all, err) < 0)
		return -1;
	if (all == 0)
		return cmn_err_set(err, CMN_ENOTFOUND, 0, "table %llu version %llu not found",
				   (unsigned long long)table_id, (unsigned long long)version);
	/* this slice's row groups, in order, and of them only the wanted
	 * columns: the fetchers and the queue see only those chunks */
	for (size_t i = 0; i < all; i++) {
		if (i > 0 && chunks[i].rg != chunks[i - 1].rg) {
			group++;
			inpart = 0;
		}
		if (group % nslices != slice || !wanted(cols, ncols, chunks[i].col))
			continue;
		chunks[n] = chunks[i];
		chunks[n].group = group;
		/* parts of one group start on different replicas */
		chunks[n++].no = group + inpart++;
		if (inpart > maxparts)
			maxparts = inpart;
	}
	*index = group + 1;
	if (n == 0)
		return 0;
	r = calloc(1, sizeof(*r));
	if (!r)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	*r = (struct reader){
		.c = c, .table_id = table_id, .version = version, .chunks = chunks, .n = n
	};
	for (int k = 0; k < FETCHERS; k++)
		for (size_t i = 0; i < STOR_MAX_SERVERS; i++)
			r->conns[k][i].fd = -1;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	for (size_t i = 0; i < n && i < DEPTH; i++) /* the slots this read uses */
		rbuf_take(c, &r->q[i].rb);
	for (int k = 0; k < FETCHERS; k++) {
		fe[k] = (struct fetcher){ .r = r, .k = k };
		fe[k].started = rc == 0 && pthread_create(&fe[k].t, NULL, fetch_main, &fe[k]) == 0;
		if (!fe[k].started && rc == 0)
			rc = cmn_err_set(err, CMN_EINTERNAL, 0, "pthread_create reader failed");
	}
	if (rc == 0)
		rc = consume(r, maxparts, cb, ctx, err);
	pthread_mutex_lock(&r->mu);
	r->stop = true;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	for (int k = 0; k < FETCHERS; k++)
		if (fe[k].started)
			pthread_join(fe[k].t, NULL);
	for (int i = 0; i < DEPTH; i++)
		rbuf_give(c, &r->q[i].rb);
	for (int k = 0; k < FETCHERS; k++)
		for (size_t i = 0; i < STOR_MAX_SERVERS; i++)
			stor_conn_close(&r->conns[k][i]);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
	free(r);
	return rc < 0 ? cmn_err_wrap(err, "read table %llu version %llu",
				     (unsigned long long)table_id, (unsigned long long)version)
		      : 0;
}

/* Every replica and catalog row of a table whose keys are already gone,
 * or (version != 0) of that one version of it. */
static size_t drop_replicas(struct stor_cluster *c, uint64_t table_id, uint64_t version,
			    size_t *nreplicas)
{
	sqlite3_stmt *st;
	struct {
		char chunk[STOR_ID_LEN + 1];
		char addr[80];
	} *todo = NULL;
	size_t n = 0, cap = 0, removed = 0;

	pthread_mutex_lock(c->mu);
	if (sqlite3_prepare_v2(
		c->cfg.db,
		"SELECT r.chunk_id, s.addr FROM stor_chunks c JOIN stor_replicas r "
		"ON r.chunk_id = c.chunk_id JOIN stor_servers s ON s.id = r.server_id "
		"WHERE c.table_id = ?1 AND (?2 = 0 OR c.version = ?2)",
		-1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)table_id);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)version);
		while (sqlite3_step(st) == SQLITE_ROW) {
			if (n == cap) {
				void *na =
				    realloc(todo, (cap = cap ? cap * 2 : 64) * sizeof(*todo));
				if (!na)
					break;
				todo = na;
			}
			snprintf(todo[n].chunk, sizeof(todo[n].chunk), "%s",
				 sqlite3_column_text(st, 0));
			snprintf(todo[n].addr, sizeof(todo[n].addr), "%s",
				 sqlite3_column_text(st, 1));
			n++;
		}
		sqlite3_finalize(st);
	}
	if (sqlite3_prepare_v2(c->cfg.db,
			       "DELETE FROM stor_replicas WHERE chunk_id IN (SELECT chunk_id FROM "
			       "stor_chunks WHERE table_id = ?1 AND (?2 = 0 OR version = ?2))",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)table_id);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)version);
		sqlite3_step(st);
		sqlite3_finalize(st);
	}
	if (sqlite3_prepare_v2(
		c->cfg.db,
		"DELETE FROM stor_chunks WHERE table_id = ?1 AND (?2 = 0 OR version = ?2)", -1, &st,
		NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)table_id);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)version);
		sqlite3_step(st);
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(c->mu);
	for (size_t i = 0; i < n; i++) {
		struct stor_conn conn;
		if (stor_conn_open(&conn, todo[i].addr, &c->key, 2000, NULL) == 0 &&
		    stor_conn_delete(&conn, todo[i].chunk, NULL) == 0)
			removed++;
		stor_conn_close(&conn);
	}
	free(todo);
	*nreplicas = n;
	return removed;
}

int stor_drop_table(struct stor_cluster *c, uint64_t table_id, struct cmn_err *err)
{
	/* crypto-shred first: whatever copy survives is unreadable from here on */
	if (stor_keyring_table_drop(c->cfg.keyring, table_id, err) < 0)
		return cmn_err_wrap(err, "drop table %llu", (unsigned long long)table_id);
	size_t n, removed = drop_replicas(c, table_id, 0, &n);
	stor_audit(c, "storage.table_dropped",
		   "table %llu: data key destroyed, %zu of %zu replicas deleted",
		   (unsigned long long)table_id, removed, n);
	return 0;
}

int stor_drop_version(struct stor_cluster *c, uint64_t table_id, uint64_t version,
		      struct cmn_err *err)
{
	size_t n, removed;

	if (version == 0)
		return cmn_err_set(err, CMN_EINVAL, 0, "drop version 0 of table %llu",
				   (unsigned long long)table_id);
	removed = drop_replicas(c, table_id, version, &n);
	if (n)
		stor_audit(c, "storage.version_dropped",
			   "table %llu version %llu: %zu of %zu replicas deleted",
			   (unsigned long long)table_id, (unsigned long long)version, removed, n);
	return 0;
}

int stor_table_versions(struct stor_cluster *c, uint64_t table_id, uint64_t **out, size_t *n,
			struct cmn_err *err)
{
	sqlite3_stmt *st;
	uint64_t *v = NULL;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(c->mu);
	if (sqlite3_prepare_v2(c->cfg.db,
			       "SELECT DISTINCT version FROM stor_chunks WHERE table_id = ?"
			       " ORDER BY version",
			       -1, &st, NULL) != SQLITE_OK) {
		pthread_mutex_unlock(c->mu);
		return stor_db_err(c->cfg.db, err, "prepare");
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)table_id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (*n == cap) {
			uint64_t *nv = realloc(v, (cap = cap ? cap * 2 : 8) * sizeof(*v));
			if (!nv) {
				sqlite3_finalize(st);
				pthread_mutex_unlock(c->mu);
				free(v);
				*n = 0;
				return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
			}
			v = nv;
		}
		v[(*n)++] = (uint64_t)sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(c->mu);
	*out = v;
	return 0;
}

int stor_drop_project(struct stor_cluster *c, const char *project, size_t *ntables,
		      struct cmn_err *err)
{
	uint64_t *tables = NULL;
	size_t n = 0;

	if (ntables)
		*ntables = 0;
	if (stor_keyring_project_destroy(c->cfg.keyring, project, &tables, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		size_t nr;
		drop_replicas(c, tables[i], 0, &nr);
	}
	free(tables);
	stor_audit(c, "storage.project_dropped", "project %s: keys destroyed, %zu tables dropped",
		   project, n);
	if (ntables)
		*ntables = n;
	return 0;
}
