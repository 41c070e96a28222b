/* storage/master.c — the storage master (runs inside cordond): heartbeats,
 * lost servers, re-replication peer to peer, checksum-failure repair,
 * background scrub, and cleanup of replicas left by failed writes.
 *
 * Repairs copy ciphertext only: the target chunk server fetches the chunk
 * from a good replica itself (COPY), checks the peer's checksum, and the
 * master checks the result against the checksum in the catalog.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "storage/cluster.h"
#include "storage/schema.h"

#define PENDING_GRACE_MS (10 * 60 * 1000) /* a write older than this is dead */

static void exec1(struct stor_cluster *c, const char *sql, const char *a, const char *b)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(c->cfg.db, sql, -1, &st, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	if (b)
		sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
	sqlite3_step(st);
	sqlite3_finalize(st);
}

int stor_chunk_sha(struct stor_cluster *c, const char *chunk_id, uint8_t sha[STOR_SHA_LEN],
		   struct cmn_err *err)
{
	sqlite3_stmt *st;
	int rc = -1;
	pthread_mutex_lock(c->mu);
	if (sqlite3_prepare_v2(c->cfg.db, "SELECT sha256 FROM stor_chunks WHERE chunk_id = ?", -1,
			       &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, chunk_id, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == STOR_SHA_LEN) {
			memcpy(sha, sqlite3_column_blob(st, 0), STOR_SHA_LEN);
			rc = 0;
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(c->mu);
	return rc < 0 ? cmn_err_set(err, CMN_ENOTFOUND, 0, "chunk %s not in the catalog", chunk_id)
		      : 0;
}

/* One repairer per chunk at a time, across the threads of this process and
 * the processes sharing the catalog (cordond's master thread and its
 * readers' read-repair, an operator's direct-mode repair): a row in
 * stor_repairs, claimed by one atomic statement. Without it two repairers
 * that each saw 2 replicas would each add a third, and one dropping a bad
 * replica could delete the copy another had just repaired onto that server.
 * A claim lapses after LEASE_MS (its holder died). */
#define LEASE_MS (2 * 60 * 1000)
#define LEASE_WAIT_MS 15000

/* 1: claimed (owner filled), 0: still held by another after wait_ms. */
int stor_chunk_lease_take(struct stor_cluster *c, const char *chunk_id, char owner[STOR_ID_LEN + 1],
			  int wait_ms)
{
	uint64_t until = stor_now_ms() + (uint64_t)wait_ms;

	if (stor_random_id(owner, NULL) < 0)
		return 0;
	for (;;) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		sqlite3_stmt *st;
		uint64_t now = stor_now_ms();
		int got = 0;

		pthread_mutex_lock(c->mu);
		if (sqlite3_prepare_v2(c->cfg.db,
				       "INSERT INTO stor_repairs(chunk_id, owner, expires_ms) "
				       "VALUES (?1, ?2, ?3) ON CONFLICT(chunk_id) DO UPDATE SET "
				       "owner = excluded.owner, expires_ms = excluded.expires_ms "
				       "WHERE stor_repairs.expires_ms < ?4",
				       -1, &st, NULL) == SQLITE_OK) {
			sqlite3_bind_text(st, 1, chunk_id, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, owner, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 3, (sqlite3_int64)(now + LEASE_MS));
			sqlite3_bind_int64(st, 4, (sqlite3_int64)now);
			got = sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(c->cfg.db) == 1;
			sqlite3_finalize(st);
		}
		pthread_mutex_unlock(c->mu);
		if (got)
			return 1;
		if (now >= until)
			return 0;
		nanosleep(&ts, NULL);
	}
}

void stor_chunk_lease_drop(struct stor_cluster *c, const char *chunk_id, const char *owner)
{
	pthread_mutex_lock(c->mu);
	exec1(c, "DELETE FROM stor_repairs WHERE chunk_id = ? AND owner = ?", chunk_id, owner);
	pthread_mutex_unlock(c->mu);
}

void stor_replica_bad(struct stor_cluster *c, const char *chunk_id, const char *server_id,
		      const char *why)
{
	char addr[80] = "", owner[STOR_ID_LEN + 1];
	struct stor_conn conn;
	bool had;
	int i, leased = stor_chunk_lease_take(c, chunk_id, owner, LEASE_WAIT_MS);

	pthread_mutex_lock(c->mu);
	exec1(c, "DELETE FROM stor_replicas WHERE chunk_id = ? AND server_id = ?", chunk_id,
	      server_id);
	/* no row: another repairer already dropped this replica (and its file) */
	had = sqlite3_changes(c->cfg.db) > 0;
	c->m.corrupt_replicas++;
	i = stor_server_find(c, server_id);
	if (i >= 0)
		snprintf(addr, sizeof(addr), "%s", c->servers[i].addr);
	pthread_mutex_unlock(c->mu);
	stor_audit(c, "storage.replica_bad", "chunk %s on server %s (%s): %s", chunk_id, server_id,
		   addr, why);
	/* the bad copy goes, so it can never be served again */
	if (had && addr[0] && stor_conn_open(&conn, addr, &c->key, 2000, NULL) == 0) {
		stor_conn_delete(&conn, chunk_id, NULL);
		stor_conn_close(&conn);
	}
	if (leased)
		stor_chunk_lease_drop(c, chunk_id, owner);
}

/* Holders of a chunk that still count (not lost). Caller holds c->mu. */
static size_t holders(struct stor_cluster *c, const char *chunk_id, int *out)
{
	sqlite3_stmt *st;
	size_t n = 0;
	if (sqlite3_prepare_v2(c->cfg.db, "SELECT server_id FROM stor_replicas WHERE chunk_id = ?",
			       -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, chunk_id, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW && n < STOR_MAX_SERVERS) {
		int i = stor_server_find(c, (const char *)sqlite3_column_text(st, 0));
		if (i >= 0 && c->servers[i].state != SRV_LOST)
			out[n++] = i;
	}
	sqlite3_finalize(st);
	return n;
}

/* Copies chunk to one new server from any live holder. */
static int copy_one(struct stor_cluster *c, const char *chunk_id, const uint8_t *want, int *have,
		    size_t nhave, struct cmn_err *err)
{
	char taddr[80], tid[STOR_ID_LEN + 1], saddr[STOR_MAX_SERVERS][80];
	int target;
	size_t nsrc = 0;
	struct stor_conn conn;
	uint8_t sha[STOR_SHA_LEN];

	pthread_mutex_lock(c->mu);
	if (stor_place(c, have, nhave, 1, 0, &target) != 1) {
		pthread_mutex_unlock(c->mu);
		return cmn_err_set(err, CMN_EUNAVAIL, 0, "no live server to copy chunk %s to",
				   chunk_id);
	}
	snprintf(taddr, sizeof(taddr), "%s", c->servers[target].addr);
	snprintf(tid, sizeof(tid), "%s", c->servers[target].id);
	for (size_t i = 0; i < nhave; i++)
		if (c->servers[have[i]].state == SRV_LIVE)
			snprintf(saddr[nsrc++], sizeof(saddr[0]), "%s", c->servers[have[i]].addr);
	pthread_mutex_unlock(c->mu);
	if (nsrc == 0)
		return cmn_err_set(err, CMN_EUNAVAIL, 0, "chunk %s has no live replica to copy",
				   chunk_id);
	if (stor_conn_open(&conn, taddr, &c->key, 3000, err) < 0)
		return -1;
	for (size_t i = 0; i < nsrc; i++) {
		if (stor_conn_copy(&conn, chunk_id, saddr[i], sha, err) < 0)
			continue;
		if (memcmp(sha, want, STOR_SHA_LEN) != 0) {
			/* the source held a wrong chunk under this id */
			cmn_err_set(err, CMN_EIO, 0, "copy of %s from %s differs from the catalog",
				    chunk_id, saddr[i]);
			stor_conn_delete(&conn, chunk_id, NULL);
			continue;
		}
		stor_conn_close(&conn);
		pthread_mutex_lock(c->mu);
		exec1(c, "INSERT OR IGNORE INTO stor_replicas(chunk_id, server_id) VALUES (?, ?)",
		      chunk_id, tid);
		have[nhave] = target;
		c->m.repairs_done++;
		pthread_mutex_unlock(c->mu);
		stor_audit(c, "storage.repair", "chunk %s copied from %s to %s (server %s)",
			   chunk_id, saddr[i], taddr, tid);
		return 0;
	}
	stor_conn_close(&conn);
	return -1;
}

/* Under the chunk's lease, so the holders counted are the holders there are:
 * a repairer that waited for another finds the chunk whole and copies
 * nothing (idempotent). */
static int repair_leased(struct stor_cluster *c, const char *chunk_id, struct cmn_err *err)
{
	int have[STOR_MAX_SERVERS + 1];
	uint8_t want[STOR_SHA_LEN];
	size_t n;

	if (stor_chunk_sha(c, chunk_id, want, err) < 0)
		return -1;
	pthread_mutex_lock(c->mu);
	n = holders(c, chunk_id, have);
	pthread_mutex_unlock(c->mu);
	while (n < STOR_REPLICAS) {
		if (copy_one(c, chunk_id, want, have, n, err) < 0) {
			pthread_mutex_lock(c->mu);
			c->m.repairs_failed++;
			pthread_mutex_unlock(c->mu);
			return cmn_err_wrap(err, "repair chunk %s (%zu of %d replicas)", chunk_id,
					    n, STOR_REPLICAS);
		}
		n++;
	}
	/* whole again: replicas on lost servers are now surplus */
	pthread_mutex_lock(c->mu);
	exec1(c,
	      "DELETE FROM stor_replicas WHERE chunk_id = ? AND server_id IN (SELECT id FROM "
	      "stor_servers WHERE state = 'lost')",
	      chunk_id, NULL);
	pthread_mutex_unlock(c->mu);
	return 0;
}

int stor_repair_chunk(struct stor_cluster *c, const char *chunk_id, struct cmn_err *err)
{
	char owner[STOR_ID_LEN + 1];
	int rc;

	if (!stor_chunk_lease_take(c, chunk_id, owner, LEASE_WAIT_MS)) {
		/* still being repaired by someone else: theirs to finish; the
		 * master's next round looks at the chunk again */
		cmn_info("storage: chunk %s: repair in progress elsewhere", chunk_id);
		return 0;
	}
	rc = repair_leased(c, chunk_id, err);
	stor_chunk_lease_drop(c, chunk_id, owner);
	return rc;
}

/* Chunks with fewer than 3 replicas (up to max). Caller frees. */
static size_t short_chunks(struct stor_cluster *c, char (**out)[STOR_ID_LEN + 1], size_t max)
{
	sqlite3_stmt *st;
	size_t n = 0;
	char(*a)[STOR_ID_LEN + 1] = calloc(max, sizeof(*a));

	*out = a;
	if (!a)
		return 0;
	pthread_mutex_lock(c->mu);
	if (sqlite3_prepare_v2(c->cfg.db,
			       "SELECT c.chunk_id FROM stor_chunks c WHERE (SELECT count(*) FROM "
			       "stor_replicas r JOIN stor_servers s ON s.id = r.server_id WHERE "
			       "r.chunk_id = c.chunk_id AND s.state != 'lost') < 3 LIMIT ?",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)max);
		while (sqlite3_step(st) == SQLITE_ROW && n < max)
			snprintf(a[n++], sizeof(a[0]), "%s", sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(c->mu);
	return n;
}

static size_t repair_short(struct stor_cluster *c, size_t *failed)
{
	char(*ids)[STOR_ID_LEN + 1];
	size_t n = short_chunks(c, &ids, 4096), ok = 0;
	*failed = 0;
	for (size_t i = 0; i < n; i++) {
		struct cmn_err e = CMN_ERR_INIT;
		if (stor_repair_chunk(c, ids[i], &e) == 0)
			ok++;
		else {
			(*failed)++;
			cmn_warn("storage: %s", e.msg);
		}
	}
	free(ids);
	return ok;
}

/* Verifies every live replica of one chunk; drops and repairs bad ones.
 * Returns the number of bad replicas found. */
static size_t scrub_chunk(struct stor_cluster *c, const char *chunk_id)
{
	int have[STOR_MAX_SERVERS + 1];
	char addr[STOR_MAX_SERVERS][80], sid[STOR_MAX_SERVERS][STOR_ID_LEN + 1];
	uint8_t want[STOR_SHA_LEN];
	size_t n, bad = 0, k = 0;

	if (stor_chunk_sha(c, chunk_id, want, NULL) < 0)
		return 0;
	pthread_mutex_lock(c->mu);
	n = holders(c, chunk_id, have);
	for (size_t i = 0; i < n; i++)
		if (c->servers[have[i]].state == SRV_LIVE) {
			snprintf(addr[k], sizeof(addr[0]), "%s", c->servers[have[i]].addr);
			snprintf(sid[k], sizeof(sid[0]), "%s", c->servers[have[i]].id);
			k++;
		}
	pthread_mutex_unlock(c->mu);
	for (size_t i = 0; i < k; i++) {
		struct stor_conn conn;
		struct cmn_err e = CMN_ERR_INIT;
		uint8_t sha[STOR_SHA_LEN];
		uint64_t size;
		if (stor_conn_open(&conn, addr[i], &c->key, 2000, &e) < 0)
			continue; /* unreachable is the heartbeat's business */
		if (stor_conn_verify(&conn, chunk_id, sha, &size, &e) < 0) {
			if (e.code == CMN_ENOTFOUND || e.code == CMN_EIO) {
				stor_replica_bad(c, chunk_id, sid[i], e.msg);
				bad++;
			}
		} else if (memcmp(sha, want, STOR_SHA_LEN) != 0) {
			stor_replica_bad(c, chunk_id, sid[i], "checksum differs from the catalog");
			bad++;
		}
		stor_conn_close(&conn);
		pthread_mutex_lock(c->mu);
		c->m.scrubbed_replicas++;
		pthread_mutex_unlock(c->mu);
	}
	if (bad) {
		struct cmn_err e = CMN_ERR_INIT;
		if (stor_repair_chunk(c, chunk_id, &e) < 0)
			cmn_warn("storage: %s", e.msg);
	}
	return bad;
}

/* Next chunk id after the cursor (wrapping). */
static bool next_chunk(struct stor_cluster *c, char out[STOR_ID_LEN + 1])
{
	sqlite3_stmt *st;
	bool found = false;
	pthread_mutex_lock(c->mu);
	for (int pass = 0; pass < 2 && !found; pass++) {
		if (sqlite3_prepare_v2(
			c->cfg.db,
			"SELECT chunk_id FROM stor_chunks WHERE chunk_id > ? ORDER BY "
			"chunk_id LIMIT 1",
			-1, &st, NULL) != SQLITE_OK)
			break;
		sqlite3_bind_text(st, 1, pass ? "" : c->scrub_cursor, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			snprintf(out, STOR_ID_LEN + 1, "%s", sqlite3_column_text(st, 0));
			found = true;
		}
		sqlite3_finalize(st);
	}
	if (found)
		memcpy(c->scrub_cursor, out, STOR_ID_LEN + 1);
	pthread_mutex_unlock(c->mu);
	return found;
}

static void scrub_step(struct stor_cluster *c, uint64_t elapsed_ms)
{
	char id[STOR_ID_LEN + 1];
	c->scrub_tokens += c->cfg.scrub_chunks_per_sec * (double)elapsed_ms / 1000.0;
	if (c->scrub_tokens > 1000)
		c->scrub_tokens = 1000;
	while (c->scrub_tokens >= 1.0 && next_chunk(c, id)) {
		c->scrub_tokens -= 1.0;
		scrub_chunk(c, id);
	}
}

/* Deletes from a server every chunk the catalog does not place there and
 * no write in progress claims (stale copies of a server that was lost). */
static void gc_server(struct stor_cluster *c, const char *addr, const char *sid)
{
	struct stor_conn conn;
	char(*ids)[STOR_ID_LEN + 1] = NULL;
	size_t n = 0, removed = 0;

	if (stor_conn_open(&conn, addr, &c->key, 2000, NULL) < 0)
		return;
	if (stor_conn_list(&conn, &ids, &n, NULL) == 0) {
		for (size_t i = 0; i < n; i++) {
			sqlite3_stmt *st;
			bool keep = true;
			pthread_mutex_lock(c->mu);
			if (sqlite3_prepare_v2(
				c->cfg.db,
				"SELECT 1 FROM stor_replicas WHERE chunk_id = ?1 AND "
				"server_id = ?2 UNION ALL SELECT 1 FROM stor_pending "
				"WHERE chunk_id = ?1",
				-1, &st, NULL) == SQLITE_OK) {
				sqlite3_bind_text(st, 1, ids[i], -1, SQLITE_STATIC);
				sqlite3_bind_text(st, 2, sid, -1, SQLITE_STATIC);
				keep = sqlite3_step(st) == SQLITE_ROW;
				sqlite3_finalize(st);
			}
			pthread_mutex_unlock(c->mu);
			if (!keep && stor_conn_delete(&conn, ids[i], NULL) == 0)
				removed++;
		}
	}
	free(ids);
	stor_conn_close(&conn);
	if (removed)
		stor_audit(c, "storage.gc", "server %s: removed %zu stale chunks", sid, removed);
}

/* Replicas of writes that died without cleaning up (older than the grace). */
static void gc_pending(struct stor_cluster *c)
{
	sqlite3_stmt *st;
	struct {
		char chunk[STOR_ID_LEN + 1], sid[STOR_ID_LEN + 1], addr[80];
	} todo[64];
	size_t n = 0;

	pthread_mutex_lock(c->mu);
	if (sqlite3_prepare_v2(c->cfg.db,
			       "SELECT p.chunk_id, p.server_id, s.addr FROM stor_pending p JOIN "
			       "stor_servers s ON s.id = p.server_id WHERE p.started_ms < ? AND "
			       "s.state = 'live' LIMIT 64",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)(stor_now_ms() - PENDING_GRACE_MS));
		while (sqlite3_step(st) == SQLITE_ROW && n < 64) {
			snprintf(todo[n].chunk, sizeof(todo[n].chunk), "%s",
				 sqlite3_column_text(st, 0));
			snprintf(todo[n].sid, sizeof(todo[n].sid), "%s",
				 sqlite3_column_text(st, 1));
			snprintf(todo[n].addr, sizeof(todo[n].addr), "%s",
				 sqlite3_column_text(st, 2));
			n++;
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(c->mu);
	for (size_t i = 0; i < n; i++) {
		struct stor_conn conn;
		struct cmn_err e = CMN_ERR_INIT;
		if (stor_conn_open(&conn, todo[i].addr, &c->key, 2000, &e) < 0)
			continue;
		if (stor_conn_delete(&conn, todo[i].chunk, &e) == 0 || e.code == CMN_ENOTFOUND) {
			pthread_mutex_lock(c->mu);
			exec1(c, "DELETE FROM stor_pending WHERE chunk_id = ? AND server_id = ?",
			      todo[i].chunk, todo[i].sid);
			pthread_mutex_unlock(c->mu);
		}
		stor_conn_close(&conn);
	}
}

int stor_master_tick(struct stor_cluster *c, struct cmn_err *err)
{
	uint64_t now = stor_now_ms(), elapsed = now - c->last_tick_ms;
	size_t failed;

	c->last_tick_ms = now;
	if (stor_heartbeat(c, err) < 0)
		return -1;
	for (size_t i = 0; i < c->nservers; i++) {
		char addr[80], sid[STOR_ID_LEN + 1];
		bool gc;
		pthread_mutex_lock(c->mu);
		gc = c->servers[i].needs_gc && c->servers[i].state == SRV_LIVE;
		c->servers[i].needs_gc = false;
		snprintf(addr, sizeof(addr), "%s", c->servers[i].addr);
		snprintf(sid, sizeof(sid), "%s", c->servers[i].id);
		pthread_mutex_unlock(c->mu);
		if (gc)
			gc_server(c, addr, sid);
	}
	repair_short(c, &failed);
	if (c->cfg.scrub_chunks_per_sec > 0)
		scrub_step(c, elapsed);
	gc_pending(c);
	return 0;
}

int stor_master_scrub_all(struct stor_cluster *c, struct cmn_err *err)
{
	sqlite3_stmt *st;
	char(*ids)[STOR_ID_LEN + 1] = NULL;
	size_t n = 0, cap = 0;

	stor_heartbeat(c, err);
	pthread_mutex_lock(c->mu);
	if (sqlite3_prepare_v2(c->cfg.db, "SELECT chunk_id FROM stor_chunks ORDER BY chunk_id", -1,
			       &st, NULL) != SQLITE_OK) {
		pthread_mutex_unlock(c->mu);
		return stor_db_err(c->cfg.db, err, "prepare");
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (n == cap) {
			void *na = realloc(ids, (cap = cap ? cap * 2 : 256) * sizeof(*ids));
			if (!na)
				break;
			ids = na;
		}
		snprintf(ids[n++], STOR_ID_LEN + 1, "%s", sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(c->mu);
	for (size_t i = 0; i < n; i++)
		scrub_chunk(c, ids[i]);
	free(ids);
	return 0;
}

/* Chunks without 3 replicas on live servers (a suspect server's replicas
 * count for repair, which waits for the timeout, but not for health). */
static size_t unhealthy_chunks(struct stor_cluster *c)
{
	sqlite3_stmt *st;
	size_t n = 0;
	pthread_mutex_lock(c->mu);
	if (sqlite3_prepare_v2(c->cfg.db,
			       "SELECT count(*) FROM stor_chunks c WHERE (SELECT count(*) FROM "
			       "stor_replicas r JOIN stor_servers s ON s.id = r.server_id WHERE "
			       "r.chunk_id = c.chunk_id AND s.state = 'live') < 3",
			       -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			n = (size_t)sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(c->mu);
	return n;
}

int stor_master_repair(struct stor_cluster *c, uint64_t timeout_ms, struct cmn_err *err)
{
	uint64_t start = stor_now_ms();
	for (;;) {
		char(*ids)[STOR_ID_LEN + 1];
		size_t left;
		struct timespec ts = { 0, 200 * 1000 * 1000 };

		if (stor_master_tick(c, err) < 0)
			return -1;
		(void)ids;
		left = unhealthy_chunks(c);
		if (left == 0)
			return 0;
		if (stor_now_ms() - start > timeout_ms)
			return cmn_err_set(err, CMN_ETIMEOUT, 0,
					   "chunks still short of 3 replicas after %llu ms",
					   (unsigned long long)timeout_ms);
		nanosleep(&ts, NULL);
	}
}

static void *master_main(void *arg)
{
	struct stor_cluster *c = arg;
	pthread_mutex_lock(&c->stop_mu);
	while (!c->stop) {
		struct timespec ts;
		struct cmn_err e = CMN_ERR_INIT;
		pthread_mutex_unlock(&c->stop_mu);
		if (stor_master_tick(c, &e) < 0)
			cmn_warn("storage master: %s", e.msg);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)(c->cfg.heartbeat_ms / 1000);
		ts.tv_nsec += (long)(c->cfg.heartbeat_ms % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_mutex_lock(&c->stop_mu);
		if (!c->stop)
			pthread_cond_timedwait(&c->stop_cv, &c->stop_mu, &ts);
	}
	pthread_mutex_unlock(&c->stop_mu);
	return NULL;
}

int stor_master_start(struct stor_cluster *c, struct cmn_err *err)
{
	if (c->thread_running)
		return 0;
	c->stop = false;
	if (pthread_create(&c->thread, NULL, master_main, c) != 0)
		return cmn_err_set(err, CMN_EINTERNAL, 0, "pthread_create master failed");
	c->thread_running = true;
	return 0;
}

void stor_master_stop(struct stor_cluster *c)
{
	if (!c->thread_running)
		return;
	pthread_mutex_lock(&c->stop_mu);
	c->stop = true;
	pthread_cond_broadcast(&c->stop_cv);
	pthread_mutex_unlock(&c->stop_mu);
	pthread_join(c->thread, NULL);
	c->thread_running = false;
}
