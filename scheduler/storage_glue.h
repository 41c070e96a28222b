/* scheduler/storage_glue.h — storage/ inside cordond.
 *
 * What it owns (one struct sch_storage per cordond):
 *   - a second SQLite connection to the catalog file (DIR/catalog.db) on
 *     which the storage keyring and cluster keep their stor_* tables. A
 *     connection of its own, not the API's handle: the storage master runs
 *     in a background thread and storage requires that no transaction is
 *     open on its handle across its calls, which the API's handle (BEGIN
 *     IMMEDIATE in accounts/authz, used under api->lock) cannot promise.
 *     The audit writer does the same (audit.c).
 *   - the storage keyring, on the root key DIR/keys/root.key (also used by
 *     keywrap.c for access-key secrets);
 *   - when servers > 0: N local cordon-chunkd processes (storage's
 *     supervisor: data dirs DIR/storage/chunk-<i>, racks rack-<i % R),
 *     the cluster key DIR/storage/cluster.key (0600), the cluster (client
 *     and master) and the master's background thread; a supervision
 *     thread reaps and restarts dead chunk servers (by pid) and exports
 *     storage metrics to /metrics (cordon_storage_*). Storage events
 *     (repairs, lost servers, bad replicas, ...) become audit records
 *     (eventName StorageRepair, StorageServerLost, ...).
 * sch_storage_close() stops all of it: threads joined, chunk servers
 * SIGTERMed by pid and reaped.
 *
 * Threading: every function may be called from any thread.
 */
#ifndef SCH_STORAGE_GLUE_H
#define SCH_STORAGE_GLUE_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "scheduler/keywrap.h"

struct sch_storage;
struct stor_keyring;

struct sch_storage_cfg {
	const char *data_dir;
	const char *root_key_file; /* sch_keywrap_root_key_path() */
	unsigned servers;          /* 0: keyring only, no chunk servers */
	unsigned racks;
	const char *chunkd_path;  /* NULL: cordon-chunkd next to this executable */
	uint64_t lost_timeout_ms; /* 0: storage's default (10 s) */
	unsigned scrub_per_min;   /* background scrub, chunks per minute; 0 = off */
};

int sch_storage_open(struct sch_storage **out, const struct sch_storage_cfg *cfg,
		     struct cmn_err *err);
void sch_storage_close(struct sch_storage *s);
struct stor_keyring *sch_storage_keyring(struct sch_storage *s);
bool sch_storage_enabled(const struct sch_storage *s); /* chunk servers running */

/* One-time migration: access-key secrets in keywrap's original format
 * (0x01) are rewrapped through the keyring, in one transaction on db (the
 * API's catalog handle; call before serving). *count = rows rewritten. */
int sch_storage_migrate_secrets(struct sch_keywrap *kw, sqlite3 *db, size_t *count,
				struct cmn_err *err);

/* ---- operator view (GET/POST /v1/admin/storage...) -------------------- */
/* {"enabled", "servers": [...], "racks", "live", "state": "healthy" |
 *  "degraded" | "disabled", "capacityFreeBytes", "chunks", "replicas",
 *  "underReplicated", "metrics": {...}}. CMN_EUNAVAIL when disabled is
 * not an error here: the status says so. */
json_t *sch_storage_status(struct sch_storage *s, struct cmn_err *err);
/* Verifies every replica now and repairs the bad ones; returns the status
 * afterwards. CMN_EUNAVAIL when storage is disabled. */
json_t *sch_storage_scrub(struct sch_storage *s, struct cmn_err *err);
/* Heartbeats and re-replication until every chunk has 3 live replicas or
 * timeout_ms passed (CMN_ETIMEOUT); returns the status afterwards. */
json_t *sch_storage_repair(struct sch_storage *s, uint64_t timeout_ms, struct cmn_err *err);

/* ---- project keys ------------------------------------------------------ */
/* Called when the API created a project: version 1 of its key (random).
 * An existing key is kept (CMN_EEXIST is not an error here). */
int sch_storage_project_created(struct sch_storage *s, const char *project, struct cmn_err *err);
/* byok: 32 bytes imported by an operator, or NULL for a random key. A new
 * key version; every table data key of the project is rewrapped, chunks
 * are untouched. A project without a key gets version 1. */
int sch_storage_project_key_set(struct sch_storage *s, const char *project, const uint8_t *byok,
				uint32_t *version, struct cmn_err *err);
int sch_storage_project_key_version(struct sch_storage *s, const char *project, uint32_t *version,
				    struct cmn_err *err);
/* Called before the API deletes a project: destroys every version of its
 * key and the data keys of all its tables in one transaction (crypto-shred:
 * chunk files restored from anywhere stay unreadable), then deletes every
 * replica and catalog row of those tables when chunk servers run. Works
 * with storage disabled too (keys only). A project without keys is fine. */
int sch_storage_project_deleted(struct sch_storage *s, const char *project, struct cmn_err *err);

/* ---- the facade for the job runner --------------------------------------
 * Tables are identified by a 64-bit id the caller allocates (the job
 * runner's catalog); versions by a number the caller increments. Data is a
 * sequence of row batches (common/rowfmt.h) cut into row groups of about
 * a chunk: a big one is stored as one chunk per column (each batch split
 * into one-column batches), a small one as a chunk of whole batches.
 *
 * sch_storage_table_create   the table's data key, under the project's key
 *                            (creating the project key if missing)
 * sch_storage_table_write    a new version from batches, all-or-nothing:
 *                            on 0 every chunk is on 3 servers, on failure
 *                            nothing of the version is visible
 * sch_storage_table_read     calls cb with each batch of a version, in
 *                            order, decrypted and verified (GCM tag, the
 *                            chunk's binding to table/version, and the
 *                            batch decodes with cmn_rowbatch_open)
 * sch_storage_table_drop     deletes every replica, destroys the data key
 *                            (crypto-shred: restored files stay unreadable)
 * All fail with CMN_EUNAVAIL when storage is disabled (--chunkservers 0). */
int sch_storage_table_create(struct sch_storage *s, const char *project, uint64_t table_id,
			     struct cmn_err *err);
struct sch_storage_batch {
	const void *data;
	size_t len;
};
int sch_storage_table_write(struct sch_storage *s, uint64_t table_id, uint64_t version,
			    const struct sch_storage_batch *batches, size_t nbatches,
			    struct cmn_err *err);
/* The batches given to cb are authenticated (AES-GCM): what this cordond
 * wrote after validating them; cb may open them with
 * cmn_rowbatch_open_validated (lengths are still checked row by row). */
typedef int (*sch_storage_batch_cb)(void *ctx, const void *batch, size_t len, struct cmn_err *err);
int sch_storage_table_read(struct sch_storage *s, uint64_t table_id, uint64_t version,
			   sch_storage_batch_cb cb, void *ctx, struct cmn_err *err);
/* One slice of the row groups, as stor_read_groups (storage.h): *index
 * numbers row groups across the versions a read goes through. cols (ncols
 * > 0) are the table columns the caller needs, in its order: a row group
 * stored as column chunks fetches only those and gives batches of exactly
 * them, in that order; a row group stored as rows gives its stored batches
 * (every column). ncols 0: every column. */
int sch_storage_table_read_slice(struct sch_storage *s, uint64_t table_id, uint64_t version,
				 uint64_t *index, unsigned slice, unsigned nslices, const int *cols,
				 size_t ncols, sch_storage_batch_cb cb, void *ctx,
				 struct cmn_err *err);
int sch_storage_table_drop(struct sch_storage *s, uint64_t table_id, struct cmn_err *err);
/* Old versions. A reader holds the version it reads (take the hold where
 * the catalog said which version is current, under the same lock as the
 * publish that replaces it, so a replaced version is never dropped under
 * a reader) and releases it after the read. A writer that published a new
 * version retires the one it replaced — or the one it wrote, when its
 * publish failed: the version's chunks are deleted now, or when its last
 * reader releases it. Never fails the caller: a version that cannot be
 * dropped now is left for sch_storage_table_sweep. */
void sch_storage_version_hold(struct sch_storage *s, uint64_t table_id, uint64_t version);
void sch_storage_version_release(struct sch_storage *s, uint64_t table_id, uint64_t version);
void sch_storage_version_retire(struct sch_storage *s, uint64_t table_id, uint64_t version);
/* At start-up, before any job or request: drops every version of the table
 * but the nkeep in keep (the table's segments and data version; none: the
 * table has no rows, every version goes). */
int sch_storage_table_sweep(struct sch_storage *s, uint64_t table_id, const uint64_t *keep,
			    size_t nkeep, size_t *dropped, struct cmn_err *err);

#endif
