/* storage/cluster.c — the set of chunk servers as the client and master see
 * it: registration, heartbeats, placement, metrics and status. */
#include "storage/cluster.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "storage/schema.h"

static const struct stor_migration migrations[] = {
	{ 1, "CREATE TABLE stor_servers (id TEXT PRIMARY KEY, addr TEXT NOT NULL,"
	     " rack TEXT NOT NULL, state TEXT NOT NULL, last_seen_ms INTEGER NOT NULL,"
	     " free_bytes INTEGER NOT NULL DEFAULT 0, chunk_count INTEGER NOT NULL DEFAULT 0);"
	     "CREATE TABLE stor_chunks (chunk_id TEXT PRIMARY KEY, table_id INTEGER NOT NULL,"
	     " version INTEGER NOT NULL, seq INTEGER NOT NULL, size INTEGER NOT NULL,"
	     " key_version INTEGER NOT NULL, sha256 BLOB NOT NULL, created_at INTEGER NOT NULL);"
	     "CREATE INDEX stor_chunks_tv ON stor_chunks(table_id, version, seq);"
	     "CREATE TABLE stor_replicas (chunk_id TEXT NOT NULL, server_id TEXT NOT NULL,"
	     " PRIMARY KEY (chunk_id, server_id));"
	     "CREATE INDEX stor_replicas_server ON stor_replicas(server_id);"
	     "CREATE TABLE stor_pending (chunk_id TEXT NOT NULL, server_id TEXT NOT NULL,"
	     " started_ms INTEGER NOT NULL, PRIMARY KEY (chunk_id, server_id));" },
	/* one repairer per chunk at a time (master.c, lease_take) */
	{ 2, "CREATE TABLE stor_repairs (chunk_id TEXT PRIMARY KEY, owner TEXT NOT NULL,"
	     " expires_ms INTEGER NOT NULL);" },
	/* column chunks: a row group is one chunk of whole rows (col -1, every
	 * chunk written before this) or one chunk per column */
	{ 3, "ALTER TABLE stor_chunks ADD COLUMN rg INTEGER;"
	     "ALTER TABLE stor_chunks ADD COLUMN col INTEGER NOT NULL DEFAULT -1;"
	     "UPDATE stor_chunks SET rg = seq;" },
};

static const char *const state_names[] = { "live", "suspect", "lost" };

uint64_t stor_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void stor_audit(struct stor_cluster *c, const char *event, const char *fmt, ...)
{
	char detail[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	cmn_info("%s: %s", event, detail);
	if (c->cfg.audit)
		c->cfg.audit(c->cfg.audit_ctx, event, detail);
}

static int load_servers(struct stor_cluster *c, struct cmn_err *err)
{
	sqlite3_stmt *st;
	sqlite3 *db = c->cfg.db;

	if (sqlite3_prepare_v2(
		db,
		"SELECT id, addr, rack, state, last_seen_ms, free_bytes, chunk_count "
		"FROM stor_servers ORDER BY id",
		-1, &st, NULL) != SQLITE_OK)
		return stor_db_err(db, err, "prepare");
	c->nservers = 0;
	while (sqlite3_step(st) == SQLITE_ROW && c->nservers < STOR_MAX_SERVERS) {
		struct stor_server *s = &c->servers[c->nservers++];
		const char *state = (const char *)sqlite3_column_text(st, 3);
		memset(s, 0, sizeof(*s));
		snprintf(s->id, sizeof(s->id), "%s", sqlite3_column_text(st, 0));
		snprintf(s->addr, sizeof(s->addr), "%s", sqlite3_column_text(st, 1));
		snprintf(s->rack, sizeof(s->rack), "%s", sqlite3_column_text(st, 2));
		s->state = strcmp(state, "lost") == 0   ? SRV_LOST
			   : strcmp(state, "live") == 0 ? SRV_LIVE
							: SRV_SUSPECT;
		s->last_seen_ms = (uint64_t)sqlite3_column_int64(st, 4);
		s->free_bytes = (uint64_t)sqlite3_column_int64(st, 5);
		s->chunk_count = (uint64_t)sqlite3_column_int64(st, 6);
	}
	sqlite3_finalize(st);
	return 0;
}

static void save_server(struct stor_cluster *c, const struct stor_server *s)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(
		c->cfg.db,
		"INSERT INTO stor_servers(id, addr, rack, state, last_seen_ms, "
		"free_bytes, chunk_count) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) "
		"DO UPDATE SET addr = excluded.addr, rack = excluded.rack, state = "
		"excluded.state, last_seen_ms = excluded.last_seen_ms, free_bytes = "
		"excluded.free_bytes, chunk_count = excluded.chunk_count",
		-1, &st, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_text(st, 1, s->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, s->addr, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, s->rack, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, state_names[s->state], -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)s->last_seen_ms);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)s->free_bytes);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)s->chunk_count);
	if (sqlite3_step(st) != SQLITE_DONE)
		cmn_warn("storage: saving server %s: %s", s->id, sqlite3_errmsg(c->cfg.db));
	sqlite3_finalize(st);
}

int stor_cluster_open(struct stor_cluster **out, const struct stor_cluster_cfg *cfg,
		      struct cmn_err *err)
{
	struct stor_cluster *c;

	*out = NULL;
	if (!cfg->db || !cfg->keyring || !cfg->cluster_key_file)
		return cmn_err_set(err, CMN_EINVAL, 0,
				   "storage: db, keyring and cluster key needed");
	c = calloc(1, sizeof(*c));
	if (!c)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	c->cfg = *cfg;
	if (!c->cfg.chunk_size)
		c->cfg.chunk_size = 4u << 20;
	if (!c->cfg.lost_timeout_ms)
		c->cfg.lost_timeout_ms = 10000;
	if (!c->cfg.heartbeat_ms)
		c->cfg.heartbeat_ms = 1000;
	if (c->cfg.scrub_chunks_per_sec < 0)
		c->cfg.scrub_chunks_per_sec = 0;
	c->mu = stor_keyring_db_mutex(cfg->keyring);
	pthread_mutex_init(&c->stop_mu, NULL);
	pthread_cond_init(&c->stop_cv, NULL);
	pthread_mutex_init(&c->rb_mu, NULL);
	if (c->cfg.chunk_size > STOR_CHUNK_MAX - STOR_SEAL_OVERHEAD) {
		free(c);
		return cmn_err_set(err, CMN_EINVAL, 0, "chunk size above %u bytes",
				   STOR_CHUNK_MAX - STOR_SEAL_OVERHEAD);
	}
	pthread_mutex_lock(c->mu);
	if (stor_cluster_key_load(&c->key, cfg->cluster_key_file, err) < 0 ||
	    stor_db_exec(cfg->db, "PRAGMA foreign_keys = ON", err) < 0 ||
	    stor_schema_apply(cfg->db, "master", migrations, CMN_ARRAY_SIZE(migrations), err) < 0 ||
	    load_servers(c, err) < 0) {
		pthread_mutex_unlock(c->mu);
		stor_cluster_close(c);
		return cmn_err_wrap(err, "storage");
	}
	pthread_mutex_unlock(c->mu);
	c->last_tick_ms = stor_now_ms();
	*out = c;
	return 0;
}

void stor_cluster_close(struct stor_cluster *c)
{
	if (!c)
		return;
	stor_master_stop(c);
	stor_cluster_key_wipe(&c->key);
	pthread_mutex_destroy(&c->stop_mu);
	pthread_cond_destroy(&c->stop_cv);
	for (size_t i = 0; i < c->rb_n; i++)
		stor_rbuf_free(&c->rb_pool[i]);
	pthread_mutex_destroy(&c->rb_mu);
	free(c);
}

int stor_server_find(struct stor_cluster *c, const char *id)
{
	for (size_t i = 0; i < c->nservers; i++)
		if (strcmp(c->servers[i].id, id) == 0)
			return (int)i;
	return -1;
}

int stor_server_add(struct stor_cluster *c, const char *addr, struct cmn_err *err)
{
	struct stor_conn conn;
	struct stor_stat st;
	struct stor_server *s;
	int i;

	if (stor_conn_open(&conn, addr, &c->key, 3000, err) < 0)
		return -1;
	if (stor_conn_stat(&conn, &st, err) < 0) {
		stor_conn_close(&conn);
		return -1;
	}
	stor_conn_close(&conn);
	pthread_mutex_lock(c->mu);
	i = stor_server_find(c, st.server_id);
	if (i < 0) {
		if (c->nservers == STOR_MAX_SERVERS) {
			pthread_mutex_unlock(c->mu);
			return cmn_err_set(err, CMN_ELIMIT, 0, "too many chunk servers");
		}
		i = (int)c->nservers++;
		memset(&c->servers[i], 0, sizeof(c->servers[i]));
	}
	s = &c->servers[i];
	memcpy(s->id, st.server_id, sizeof(s->id));
	snprintf(s->addr, sizeof(s->addr), "%s", addr);
	snprintf(s->rack, sizeof(s->rack), "%s", st.rack);
	s->state = SRV_LIVE;
	s->last_seen_ms = stor_now_ms();
	s->free_bytes = st.free_bytes;
	s->chunk_count = st.chunk_count;
	save_server(c, s);
	pthread_mutex_unlock(c->mu);
	stor_audit(c, "storage.server_added", "server %s at %s rack %s", st.server_id, addr,
		   st.rack);
	return 0;
}

/* A lost server's replica rows stay until each of its chunks has 3
 * replicas elsewhere (master.c drops them then): if too few servers remain
 * to repair, the catalog still knows where the data is when it returns. */
static void server_lost(struct stor_cluster *c, struct stor_server *s)
{
	s->state = SRV_LOST;
	c->m.servers_lost++;
}

int stor_heartbeat(struct stor_cluster *c, struct cmn_err *err)
{
	struct stor_server snap[STOR_MAX_SERVERS];
	bool ok[STOR_MAX_SERVERS];
	struct stor_stat st[STOR_MAX_SERVERS];
	size_t n;

	pthread_mutex_lock(c->mu);
	c->last_hb_ms = stor_now_ms();
	n = c->nservers;
	memcpy(snap, c->servers, n * sizeof(snap[0]));
	pthread_mutex_unlock(c->mu);
	for (size_t i = 0; i < n; i++) {
		struct stor_conn conn;
		ok[i] = stor_conn_open(&conn, snap[i].addr, &c->key, 1000, NULL) == 0 &&
			stor_conn_stat(&conn, &st[i], NULL) == 0 &&
			strcmp(st[i].server_id, snap[i].id) == 0;
		stor_conn_close(&conn);
	}
	pthread_mutex_lock(c->mu);
	for (size_t i = 0; i < n; i++) {
		int k = stor_server_find(c, snap[i].id);
		struct stor_server *s;
		uint64_t now = stor_now_ms();
		if (k < 0)
			continue;
		s = &c->servers[k];
		if (ok[i]) {
			if (s->state == SRV_LOST) {
				stor_audit(c, "storage.server_back", "server %s at %s", s->id,
					   s->addr);
				s->needs_gc = true;
			}
			s->state = SRV_LIVE;
			s->last_seen_ms = now;
			s->free_bytes = st[i].free_bytes;
			s->chunk_count = st[i].chunk_count;
			s->placed_bytes = 0;
		} else if (s->state != SRV_LOST && now - s->last_seen_ms > c->cfg.lost_timeout_ms) {
			server_lost(c, s);
			stor_audit(c, "storage.server_lost", "server %s at %s silent for %llu ms",
				   s->id, s->addr, (unsigned long long)(now - s->last_seen_ms));
		} else if (s->state == SRV_LIVE) {
			s->state = SRV_SUSPECT;
		}
		save_server(c, s);
	}
	pthread_mutex_unlock(c->mu);
	(void)err;
	return 0;
}

static bool in_list(const int *l, size_t n, int v)
{
	for (size_t i = 0; i < n; i++)
		if (l[i] == v)
			return true;
	return false;
}

size_t stor_place(struct stor_cluster *c, const int *exclude, size_t nexclude, size_t n,
		  uint64_t bytes, int *out)
{
	size_t got = 0;
	/* racks already used: those of the excluded (existing holders) count */
	const char *racks[STOR_MAX_SERVERS];
	size_t nracks = 0;

	for (size_t i = 0; i < nexclude; i++)
		if (exclude[i] >= 0)
			racks[nracks++] = c->servers[exclude[i]].rack;
	while (got < n) {
		int best = -1;
		bool best_new_rack = false;
		for (size_t i = 0; i < c->nservers; i++) {
			struct stor_server *s = &c->servers[i];
			bool new_rack = true;
			uint64_t fb, bb;
			if (s->state != SRV_LIVE || in_list(exclude, nexclude, (int)i) ||
			    in_list(out, got, (int)i))
				continue;
			for (size_t r = 0; r < nracks; r++)
				if (strcmp(racks[r], s->rack) == 0)
					new_rack = false;
			fb = s->free_bytes > s->placed_bytes ? s->free_bytes - s->placed_bytes : 0;
			bb =
			    best < 0
				? 0
				: (c->servers[best].free_bytes > c->servers[best].placed_bytes
				       ? c->servers[best].free_bytes - c->servers[best].placed_bytes
				       : 0);
			if (best < 0 || (new_rack && !best_new_rack) ||
			    (new_rack == best_new_rack && fb > bb)) {
				best = (int)i;
				best_new_rack = new_rack;
			}
		}
		if (best < 0)
			break;
		out[got++] = best;
		racks[nracks++] = c->servers[best].rack;
		c->servers[best].placed_bytes += bytes;
	}
	return got;
}

void stor_metrics_get(struct stor_cluster *c, struct stor_metrics *m)
{
	pthread_mutex_lock(c->mu);
	*m = c->m;
	pthread_mutex_unlock(c->mu);
}

int stor_metrics_text(struct stor_cluster *c, char **out, struct cmn_err *err)
{
	struct stor_metrics m;
	struct cmn_buf b;
	size_t live = 0;

	stor_metrics_get(c, &m);
	pthread_mutex_lock(c->mu);
	for (size_t i = 0; i < c->nservers; i++)
		live += c->servers[i].state == SRV_LIVE;
	pthread_mutex_unlock(c->mu);
	cmn_buf_init(&b, 0);
	if (cmn_buf_printf(
		&b, err,
		"cordon_storage_chunks_written_total %llu\ncordon_storage_chunks_read_total %llu\n"
		"cordon_storage_read_fallbacks_total %llu\n"
		"cordon_storage_corrupt_replicas_total %llu\n"
		"cordon_storage_repairs_total %llu\ncordon_storage_repair_failures_total %llu\n"
		"cordon_storage_servers_lost_total %llu\ncordon_storage_scrubbed_replicas_total "
		"%llu\ncordon_storage_servers_live %zu\n",
		(unsigned long long)m.chunks_written, (unsigned long long)m.chunks_read,
		(unsigned long long)m.read_fallbacks, (unsigned long long)m.corrupt_replicas,
		(unsigned long long)m.repairs_done, (unsigned long long)m.repairs_failed,
		(unsigned long long)m.servers_lost, (unsigned long long)m.scrubbed_replicas,
		live) < 0) {
		cmn_buf_free(&b);
		return -1;
	}
	*out = cmn_buf_steal(&b, NULL);
	return 0;
}

static int64_t count_query(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v = -1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

int stor_status_json(struct stor_cluster *c, char **out, struct cmn_err *err)
{
	json_t *root = json_object(), *servers = json_array(), *metrics = json_object();
	struct stor_metrics m;

	stor_metrics_get(c, &m);
	pthread_mutex_lock(c->mu);
	for (size_t i = 0; i < c->nservers; i++) {
		struct stor_server *s = &c->servers[i];
		json_array_append_new(
		    servers,
		    json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I}", "id", s->id, "addr", s->addr, "rack",
			      s->rack, "state", state_names[s->state], "free_bytes",
			      (json_int_t)s->free_bytes, "chunks", (json_int_t)s->chunk_count,
			      "last_seen_ms", (json_int_t)s->last_seen_ms));
	}
	json_object_set_new(root, "servers", servers);
	json_object_set_new(
	    root, "chunks",
	    json_integer(count_query(c->cfg.db, "SELECT count(*) FROM stor_chunks")));
	json_object_set_new(
	    root, "replicas",
	    json_integer(count_query(c->cfg.db, "SELECT count(*) FROM stor_replicas")));
	json_object_set_new(
	    root, "under_replicated",
	    json_integer(count_query(
		c->cfg.db, "SELECT count(*) FROM (SELECT c.chunk_id FROM stor_chunks c "
			   "LEFT JOIN stor_replicas r ON r.chunk_id = c.chunk_id GROUP BY "
			   "c.chunk_id HAVING count(r.server_id) < 3)")));
	pthread_mutex_unlock(c->mu);
	json_object_set_new(metrics, "chunks_written", json_integer((json_int_t)m.chunks_written));
	json_object_set_new(metrics, "chunks_read", json_integer((json_int_t)m.chunks_read));
	json_object_set_new(metrics, "read_fallbacks", json_integer((json_int_t)m.read_fallbacks));
	json_object_set_new(metrics, "corrupt_replicas",
			    json_integer((json_int_t)m.corrupt_replicas));
	json_object_set_new(metrics, "repairs", json_integer((json_int_t)m.repairs_done));
	json_object_set_new(metrics, "repair_failures", json_integer((json_int_t)m.repairs_failed));
	json_object_set_new(metrics, "servers_lost", json_integer((json_int_t)m.servers_lost));
	json_object_set_new(metrics, "scrubbed_replicas",
			    json_integer((json_int_t)m.scrubbed_replicas));
	json_object_set_new(root, "metrics", metrics);
	*out = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(root);
	if (!*out)
		return cmn_err_set(err, CMN_ENOMEM, 0, "status: out of memory");
	return 0;
}
