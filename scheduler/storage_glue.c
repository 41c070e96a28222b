/* scheduler/storage_glue.c — storage/ inside cordond: start-up, the
 * supervision thread, metrics and audit of storage events, the secret
 * migration and the operator view; see storage_glue.h. The job-runner
 * facade is in storage_facade.c. */
#define _GNU_SOURCE
#include "scheduler/storage_glue.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "scheduler/audit.h"
#include "scheduler/dbutil.h"
#include "scheduler/metrics.h"
#include "scheduler/storage_int.h"
#include "storage/storage.h"

#define POLL_MS 250
#define METRICS_EVERY 8 /* polls: the status queries scan the chunk tables */

/* storage event -> ActionTrail-style audit event name */
static const struct {
	const char *event, *name;
} event_names[] = {
	{ "storage.repair", "StorageRepair" },
	{ "storage.replica_bad", "StorageReplicaBad" },
	{ "storage.server_lost", "StorageServerLost" },
	{ "storage.server_back", "StorageServerBack" },
	{ "storage.server_added", "StorageServerAdded" },
	{ "storage.gc", "StorageGarbageCollected" },
	{ "storage.table_dropped", "StorageDropTable" },
	{ "storage.project_dropped", "StorageDropProject" },
};

/* Called by storage (any thread, possibly holding storage's mutex): the
 * audit log only queues here, its writer thread stores. */
static void audit_hook(void *ctx, const char *event, const char *detail)
{
	struct sch_audit *au = sch_audit_default();
	const char *name = "StorageEvent";
	char labels[96];

	(void)ctx;
	for (size_t i = 0; i < CMN_ARRAY_SIZE(event_names); i++)
		if (strcmp(event, event_names[i].event) == 0)
			name = event_names[i].name;
	snprintf(labels, sizeof(labels), "event=\"%s\"", event);
	sch_metrics_counter_add("cordon_storage_events_total",
				"storage events (repairs, lost servers, bad replicas, ...)", labels,
				1);
	if (au) {
		struct sch_audit_record rec = {
			.event_name = name,
			.principal = "system:storage",
			.resource = "acs:cordon:*:storage",
			.reason = detail,
		};
		if (sch_audit_write(au, &rec, NULL) < 0)
			cmn_warn("audit of %s failed", event);
	}
}

static int make_dir(const char *path, struct cmn_err *err)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return cmn_err_sys(err, "mkdir %s", path);
	return 0;
}

/* The secret every chunk server connection proves: 64 hex characters,
 * 0600, created once and reused by every later start. */
static int ensure_cluster_key(const char *path, struct cmn_err *err)
{
	static const char digits[] = "0123456789abcdef";
	cleanup_close int fd = -1;
	uint8_t raw[32];
	char hex[65];
	ssize_t n;

	if (access(path, F_OK) == 0)
		return 0;
	if (RAND_priv_bytes(raw, sizeof(raw)) != 1)
		return cmn_err_set(err, CMN_EINTERNAL, 0, "RAND_priv_bytes failed");
	for (size_t i = 0; i < sizeof(raw); i++) {
		hex[2 * i] = digits[raw[i] >> 4];
		hex[2 * i + 1] = digits[raw[i] & 15];
	}
	hex[64] = '\n';
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	n = fd < 0 ? -1 : write(fd, hex, sizeof(hex));
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(hex, sizeof(hex));
	if (fd < 0)
		return cmn_err_sys(err, "create %s", path);
	if (n != (ssize_t)sizeof(hex) || fsync(fd) < 0)
		return cmn_err_sys(err, "write %s", path);
	return 0;
}

static int chunkd_path(char *out, size_t len, struct cmn_err *err)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n < 0)
		return cmn_err_sys(err, "readlink /proc/self/exe");
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	snprintf(out, len, "%s/cordon-chunkd", self);
	return 0;
}

/* Counters as deltas since the last export; gauges as they are. */
static void export_metrics(struct sch_storage *s)
{
	struct stor_metrics m;
	static const char *const names[] = {
		"cordon_storage_chunks_written_total", "cordon_storage_chunks_read_total",
		"cordon_storage_read_fallbacks_total", "cordon_storage_corrupt_replicas_total",
		"cordon_storage_repairs_total",        "cordon_storage_repair_failures_total",
		"cordon_storage_servers_lost_total",   "cordon_storage_scrubbed_replicas_total",
	};
	uint64_t now[8], *last = s->exported;
	json_t *st;

	stor_metrics_get(s->c, &m);
	now[0] = m.chunks_written;
	now[1] = m.chunks_read;
	now[2] = m.read_fallbacks;
	now[3] = m.corrupt_replicas;
	now[4] = m.repairs_done;
	now[5] = m.repairs_failed;
	now[6] = m.servers_lost;
	now[7] = m.scrubbed_replicas;
	for (size_t i = 0; i < 8; i++) {
		/* always touched once so the series exist from the start */
		if (now[i] != last[i] || !s->metrics_seen)
			sch_metrics_counter_add(names[i], "storage (see docs/storage.md)", "",
						(double)(now[i] - last[i]));
		last[i] = now[i];
	}
	s->metrics_seen = true;
	st = sch_storage_status(s, NULL);
	if (st) {
		sch_metrics_gauge_set("cordon_storage_servers_live", "live chunk servers", "",
				      (double)json_integer_value(json_object_get(st, "live")));
		sch_metrics_gauge_set(
		    "cordon_storage_under_replicated_chunks", "chunks with fewer than 3 replicas",
		    "", (double)json_integer_value(json_object_get(st, "underReplicated")));
		json_decref(st);
	}
}

/* Reaps and restarts dead chunk servers. A restarted server normally keeps
 * its port and the master's heartbeat finds it back; one that had to move
 * is registered again at its new address. */
static void supervise(struct sch_storage *s)
{
	struct cmn_err e = CMN_ERR_INIT;
	int n;

	pthread_mutex_lock(&s->sup_mu);
	n = stor_supervisor_poll(s->sup, &e);
	pthread_mutex_unlock(&s->sup_mu);
	if (n <= 0)
		return;
	sch_metrics_counter_add("cordon_storage_chunkserver_restarts_total",
				"chunk servers restarted by cordond", "", n);
	for (unsigned i = 0; i < stor_supervisor_count(s->sup) && i < SCH_STORAGE_MAX; i++) {
		const char *addr = stor_supervisor_addr(s->sup, i);
		char detail[160];
		if (!addr || stor_supervisor_pid(s->sup, i) == s->pids[i])
			continue;
		snprintf(detail, sizeof(detail), "chunk server %u restarted as pid %d at %s", i,
			 stor_supervisor_pid(s->sup, i), addr);
		audit_hook(s, "storage.server_restarted", detail);
		s->pids[i] = stor_supervisor_pid(s->sup, i);
		if (strcmp(addr, s->addrs[i]) != 0 && stor_server_add(s->c, addr, &e) == 0)
			snprintf(s->addrs[i], sizeof(s->addrs[i]), "%s", addr);
	}
}

static void *supervision_main(void *arg)
{
	struct sch_storage *s = arg;

	pthread_mutex_lock(&s->stop_mu);
	while (!s->stop) {
		struct timespec ts;
		pthread_mutex_unlock(&s->stop_mu);
		supervise(s);
		if (s->polls++ % METRICS_EVERY == 0)
			export_metrics(s);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += POLL_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&s->stop_mu);
		if (!s->stop)
			pthread_cond_timedwait(&s->stop_cv, &s->stop_mu, &ts);
	}
	pthread_mutex_unlock(&s->stop_mu);
	return NULL;
}

static int open_db(struct sch_storage *s, struct cmn_err *err)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/catalog.db", s->cfg.data_dir);
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL) !=
	    SQLITE_OK)
		return cmn_err_set(err, CMN_EIO, 0, "sqlite3_open_v2 %s: %s", path,
				   s->db ? sqlite3_errmsg(s->db) : "out of memory");
	sqlite3_busy_timeout(s->db, 10000);
	if (sqlite3_exec(s->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL) != SQLITE_OK)
		return cmn_err_set(err, CMN_EIO, 0, "%s: %s", path, sqlite3_errmsg(s->db));
	return 0;
}

/* The chunk servers, the cluster, the master and the supervision thread. */
static int start_servers(struct sch_storage *s, struct cmn_err *err)
{
	struct stor_supervisor_cfg scfg = { 0 };
	struct stor_cluster_cfg ccfg = { 0 };
	char dir[4200], chunkd[4200];

	snprintf(dir, sizeof(dir), "%s/storage", s->cfg.data_dir);
	snprintf(s->key_path, sizeof(s->key_path), "%s/cluster.key", dir);
	if (make_dir(dir, err) < 0 || ensure_cluster_key(s->key_path, err) < 0)
		return -1;
	if (s->cfg.chunkd_path)
		snprintf(chunkd, sizeof(chunkd), "%s", s->cfg.chunkd_path);
	else if (chunkd_path(chunkd, sizeof(chunkd), err) < 0)
		return -1;
	scfg = (struct stor_supervisor_cfg){ .chunkd_path = chunkd,
					     .data_dir = dir,
					     .cluster_key_file = s->key_path,
					     .servers = s->cfg.servers,
					     .racks = s->cfg.racks };
	if (stor_supervisor_start(&s->sup, &scfg, err) < 0)
		return cmn_err_wrap(err, "chunk servers");
	ccfg = (struct stor_cluster_cfg){ .db = s->db,
					  .keyring = s->kr,
					  .cluster_key_file = s->key_path,
					  .lost_timeout_ms = s->cfg.lost_timeout_ms,
					  .scrub_chunks_per_sec = s->cfg.scrub_per_min / 60.0,
					  .audit = audit_hook,
					  .audit_ctx = s };
	if (stor_cluster_open(&s->c, &ccfg, err) < 0)
		return cmn_err_wrap(err, "storage cluster");
	for (unsigned i = 0; i < stor_supervisor_count(s->sup); i++) {
		const char *addr = stor_supervisor_addr(s->sup, i);
		if (stor_server_add(s->c, addr, err) < 0)
			return cmn_err_wrap(err, "chunk server %s", addr);
		snprintf(s->addrs[i], sizeof(s->addrs[i]), "%s", addr);
		s->pids[i] = stor_supervisor_pid(s->sup, i);
	}
	if (stor_master_start(s->c, err) < 0)
		return -1;
	if (pthread_create(&s->thread, NULL, supervision_main, s) != 0)
		return cmn_err_set(err, CMN_EINTERNAL, 0, "pthread_create storage supervision");
	s->thread_running = true;
	cmn_info("storage: %u chunk servers on %u racks under %s", s->cfg.servers, s->cfg.racks,
		 dir);
	return 0;
}

int sch_storage_open(struct sch_storage **out, const struct sch_storage_cfg *cfg,
		     struct cmn_err *err)
{
	struct sch_storage *s = calloc(1, sizeof(*s));
	struct stor_keyring_cfg kcfg = { 0 };

	*out = NULL;
	if (!s)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	if (cfg->servers > SCH_STORAGE_MAX) {
		free(s);
		return cmn_err_set(err, CMN_EINVAL, 0, "--chunkservers: at most %d",
				   SCH_STORAGE_MAX);
	}
	s->cfg = *cfg;
	pthread_mutex_init(&s->stop_mu, NULL);
	pthread_mutex_init(&s->sup_mu, NULL);
	pthread_mutex_init(&s->op_mu, NULL);
	pthread_mutex_init(&s->hold_mu, NULL);
	{
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&s->stop_cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	*out = s; /* sch_storage_close() undoes a partial open */
	kcfg.root_key_file = cfg->root_key_file;
	if (open_db(s, err) < 0 || stor_keyring_open(&s->kr, s->db, &kcfg, err) < 0)
		return cmn_err_wrap(err, "storage");
	if (cfg->servers > 0 && start_servers(s, err) < 0)
		return cmn_err_wrap(err, "storage");
	return 0;
}

void sch_storage_close(struct sch_storage *s)
{
	if (!s)
		return;
	if (s->thread_running) {
		pthread_mutex_lock(&s->stop_mu);
		s->stop = true;
		pthread_cond_broadcast(&s->stop_cv);
		pthread_mutex_unlock(&s->stop_mu);
		pthread_join(s->thread, NULL);
	}
	if (s->c)
		stor_master_stop(s->c);
	stor_supervisor_stop(s->sup); /* SIGTERM by pid, reaped */
	stor_cluster_close(s->c);
	stor_keyring_close(s->kr);
	if (s->db)
		sqlite3_close(s->db);
	pthread_cond_destroy(&s->stop_cv);
	pthread_mutex_destroy(&s->stop_mu);
	pthread_mutex_destroy(&s->sup_mu);
	pthread_mutex_destroy(&s->op_mu);
	sch_storage_holds_free(s);
	pthread_mutex_destroy(&s->hold_mu);
	free(s);
}

struct stor_keyring *sch_storage_keyring(struct sch_storage *s)
{
	return s->kr;
}

bool sch_storage_enabled(const struct sch_storage *s)
{
	return s && s->c;
}

int sch_storage_migrate_secrets(struct sch_keywrap *kw, sqlite3 *db, size_t *count,
				struct cmn_err *err)
{
	sqlite3_stmt *sel = NULL;
	int rc = 0;

	*count = 0;
	if (sch_db_begin(db, err) < 0)
		return cmn_err_wrap(err, "migrate secrets");
	if (sqlite3_prepare_v2(db, "SELECT id, secret_wrapped FROM access_keys", -1, &sel, NULL) !=
	    SQLITE_OK)
		rc = cmn_err_set(err, CMN_EIO, 0, "migrate secrets: %s", sqlite3_errmsg(db));
	while (rc == 0 && sqlite3_step(sel) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(sel, 0);
		const void *w = sqlite3_column_blob(sel, 1);
		size_t wlen = (size_t)sqlite3_column_bytes(sel, 1);
		cleanup_buf struct cmn_buf plain = { 0 }, fresh = { 0 };
		char context[128];

		cmn_buf_init(&plain, 0);
		cmn_buf_init(&fresh, 0);
		if (!id || !sch_keywrap_is_legacy(w, wlen))
			continue;
		snprintf(context, sizeof(context), "access-key:%s", id);
		rc = sch_keywrap_unwrap(kw, context, w, wlen, &plain, err);
		if (rc == 0)
			rc = sch_keywrap_wrap(kw, context, plain.data, plain.len, &fresh, err);
		if (plain.data)
			OPENSSL_cleanse(plain.data, plain.len);
		if (rc == 0 &&
		    sch_db_run(db, err, "UPDATE access_keys SET secret_wrapped = ?1 WHERE id = ?2",
			       "bs", fresh.data, fresh.len, id) < 0)
			rc = -1;
		if (rc == 0)
			(*count)++;
	}
	sqlite3_finalize(sel);
	if (rc == 0 && sch_db_commit(db, err) == 0)
		return 0;
	sch_db_rollback(db);
	return cmn_err_wrap(err, "migrate secrets");
}
