/* storage/ — replicated, encrypted chunk storage.
 *
 * Responsibility: cordon-chunkd (ciphertext only), the client and master
 * linked into cordond (chunking, AES-256-GCM per chunk, 3 replicas, repair),
 * the key hierarchy (root key -> project keys -> table data keys), and the
 * supervisor of local chunk servers. See docs/storage.md.
 *
 * Entry points for cordond:
 *   stor_keyring_open      keys, in the caller's SQLite handle (tables stor_*)
 *   stor_cluster_open      client + master over a set of chunk servers
 *   stor_writer_*          all-or-nothing writes of a (table, version)
 *   stor_read_version      reads with replica fallback and read-repair
 *   stor_master_start      heartbeats, lost servers, re-replication, scrub
 *   stor_supervisor_start  the embedded default: N local cordon-chunkd
 * Threading: every function of a cluster may be called from any thread; the
 * cluster serialises its own use of the SQLite handle with a mutex. The
 * caller must not hold a transaction open on that handle across a call.
 */
#ifndef STOR_STORAGE_H
#define STOR_STORAGE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/err.h"

void stor_print_deps(FILE *out);

/* ---- keyring ---------------------------------------------------------- */
struct stor_keyring;
struct stor_keyring_cfg {
	/* Exactly one of: a root key file (64 hex characters, mode 0600; created
	 * with a fresh random key when missing), or a KMS command whose standard
	 * output is the root key as 64 hex characters. The command line is split
	 * on spaces and executed directly (no shell). */
	const char *root_key_file;
	const char *kms_command;
};
/* Fails with CMN_EAUTH when the root key is not the one this database's
 * keys were wrapped with. Sets PRAGMA secure_delete on db (crypto-shred). */
int stor_keyring_open(struct stor_keyring **out, sqlite3 *db, const struct stor_keyring_cfg *cfg,
		      struct cmn_err *err);
void stor_keyring_close(struct stor_keyring *kr);
/* Wrap/unwrap any secret under the root key (e.g. access-key secrets).
 * label names what the secret is ("access-key|AKID..."): a wrapped secret
 * only unwraps under the same label. *out is malloc'd; release an unwrapped
 * secret with stor_secret_free (it wipes the memory). */
int stor_keyring_wrap_secret(struct stor_keyring *kr, const char *label, const void *secret,
			     size_t len, uint8_t **out, size_t *outlen, struct cmn_err *err);
int stor_keyring_unwrap_secret(struct stor_keyring *kr, const char *label, const uint8_t *in,
			       size_t len, uint8_t **out, size_t *outlen, struct cmn_err *err);
void stor_secret_free(void *p, size_t len);
/* Creates version 1 of a project key: random, or byok (32 bytes) when given.
 * CMN_EEXIST when the project has one. */
int stor_keyring_project_create(struct stor_keyring *kr, const char *project, const uint8_t *byok,
				struct cmn_err *err);
/* New project key version (random or byok); rewraps every data key of the
 * project under it in one transaction and destroys the old version's
 * material. Chunks are not touched. */
int stor_keyring_project_rotate(struct stor_keyring *kr, const char *project, const uint8_t *byok,
				uint32_t *new_version, struct cmn_err *err);
int stor_keyring_project_version(struct stor_keyring *kr, const char *project, uint32_t *version,
				 struct cmn_err *err);
/* A data key for a table (creating the project key too if missing). */
int stor_keyring_table_create(struct stor_keyring *kr, const char *project, uint64_t table_id,
			      struct cmn_err *err);
bool stor_keyring_table_exists(struct stor_keyring *kr, uint64_t table_id);
/* Destroys every data key of the table (secure_delete + WAL truncate). */
int stor_keyring_table_drop(struct stor_keyring *kr, uint64_t table_id, struct cmn_err *err);
/* Project delete: destroys every version of the project key and every data
 * key of its tables in one transaction (crypto-shred; secure_delete + WAL
 * truncate). *tables (malloc'd, may be NULL) gets the ids of the tables
 * that had keys. A project without keys is not an error. */
int stor_keyring_project_destroy(struct stor_keyring *kr, const char *project, uint64_t **tables,
				 size_t *ntables, struct cmn_err *err);

/* ---- cluster: client and master ---------------------------------------- */
struct stor_cluster;
struct stor_cluster_cfg {
	sqlite3 *db;                  /* caller's; storage keeps its tables in it */
	struct stor_keyring *keyring; /* caller's */
	const char *cluster_key_file;
	size_t chunk_size;           /* plaintext bytes per chunk; default 4 MiB, max 8 MiB - 64 */
	uint64_t lost_timeout_ms;    /* default 10000 */
	uint64_t heartbeat_ms;       /* default 1000 */
	double scrub_chunks_per_sec; /* background scrub rate; default 20, 0 = off */
	/* audit hook (repairs, lost servers, corruption); may be NULL */
	void (*audit)(void *ctx, const char *event, const char *detail);
	void *audit_ctx;
};
int stor_cluster_open(struct stor_cluster **out, const struct stor_cluster_cfg *cfg,
		      struct cmn_err *err);
void stor_cluster_close(struct stor_cluster *c);
/* Registers a chunk server by address (asks it for its id and rack). */
int stor_server_add(struct stor_cluster *c, const char *addr, struct cmn_err *err);

/* Writes: nothing is visible until stor_writer_commit returned 0, and then
 * every chunk is durable on 3 servers. Any failure (or stor_writer_abort)
 * removes the replicas written so far. */
struct stor_writer;
int stor_writer_open(struct stor_cluster *c, uint64_t table_id, uint64_t version,
		     struct stor_writer **out, struct cmn_err *err);
int stor_writer_append(struct stor_writer *w, const void *data, size_t len, struct cmn_err *err);
/* A row batch is never split across chunks (so each chunk decodes alone). */
int stor_writer_append_batch(struct stor_writer *w, const void *batch, size_t len,
			     struct cmn_err *err);
/* Column chunks (docs/storage.md "Column chunks"): one row group stored
 * as one chunk per column, so a read of some columns fetches only theirs.
 * parts[i] is the plaintext of column parts[i].col (columns ascending, each
 * at most the chunk size); every part must describe the same rows (the
 * caller's format; storage only keeps them together). Rows appended before
 * are flushed as a row group of their own. */
#define STOR_MAX_PARTS 1024
struct stor_part {
	int col; /* -1: whole rows */
	const uint8_t *data;
	size_t len;
};
int stor_writer_append_group(struct stor_writer *w, const struct stor_part *parts, size_t n,
			     struct cmn_err *err);
size_t stor_writer_chunk_size(const struct stor_writer *w);
int stor_writer_commit(struct stor_writer *w, struct cmn_err *err); /* frees w */
void stor_writer_abort(struct stor_writer *w);                      /* frees w */

/* Calls cb with each chunk's plaintext in order. A replica that is missing,
 * fails its checksum or fails to decrypt is reported, dropped and repaired
 * from a good one; the read goes on with the next replica. */
typedef int (*stor_read_cb)(void *ctx, const uint8_t *data, size_t len, struct cmn_err *err);
int stor_read_version(struct stor_cluster *c, uint64_t table_id, uint64_t version, stor_read_cb cb,
		      void *ctx, struct cmn_err *err);
/* One slice of a read: only the chunks whose number in the whole read is
 * slice mod nslices, each fetched and decrypted once. *index is the number
 * of this version's first chunk in the whole read (0 for a read of one
 * version); it comes back advanced past the version's chunks, so several
 * versions read one after the other are sliced as one sequence. Slices
 * 0..nslices-1 together give every chunk exactly once. */
int stor_read_slice(struct stor_cluster *c, uint64_t table_id, uint64_t version, uint64_t *index,
		    unsigned slice, unsigned nslices, stor_read_cb cb, void *ctx,
		    struct cmn_err *err);
/* Row groups of one slice of a read (numbered across versions through
 * *index like stor_read_slice's chunks). For a group of whole rows cb gets
 * one part (col -1); for a group of column chunks, the parts of the columns
 * in cols[0..ncols) that it has, ascending (cols sorted, no duplicates;
 * ncols 0 = every column). Each group's parts are decrypted and valid until
 * cb returns. */
typedef int (*stor_group_cb)(void *ctx, const struct stor_part *parts, size_t n,
			     struct cmn_err *err);
int stor_read_groups(struct stor_cluster *c, uint64_t table_id, uint64_t version, uint64_t *index,
		     unsigned slice, unsigned nslices, const int *cols, size_t ncols,
		     stor_group_cb cb, void *ctx, struct cmn_err *err);
/* Deletes every replica of the table and destroys its data keys. */
int stor_drop_table(struct stor_cluster *c, uint64_t table_id, struct cmn_err *err);
/* Deletes one version's chunks (every replica and catalog row); the
 * table's key and other versions stay. For a version nobody reads any
 * more: a replaced one, or one whose write never got published. */
int stor_drop_version(struct stor_cluster *c, uint64_t table_id, uint64_t version,
		      struct cmn_err *err);
/* The versions that have chunks, ascending (caller frees *out). */
int stor_table_versions(struct stor_cluster *c, uint64_t table_id, uint64_t **out, size_t *n,
			struct cmn_err *err);
/* Deletes a project's data: its keys first (stor_keyring_project_destroy:
 * whatever copy survives is unreadable from then on), then every replica
 * and catalog row of its tables. *ntables (may be NULL) = tables dropped. */
int stor_drop_project(struct stor_cluster *c, const char *project, size_t *ntables,
		      struct cmn_err *err);

/* ---- master ---------------------------------------------------------- */
/* One round: heartbeats, lost servers, re-replication, a scrub step. */
int stor_master_tick(struct stor_cluster *c, struct cmn_err *err);
/* Verifies every replica now (ignores the rate) and repairs what failed. */
int stor_master_scrub_all(struct stor_cluster *c, struct cmn_err *err);
/* Runs ticks until every chunk has 3 replicas on live servers, or timeout. */
int stor_master_repair(struct stor_cluster *c, uint64_t timeout_ms, struct cmn_err *err);
int stor_master_start(struct stor_cluster *c, struct cmn_err *err); /* background thread */
void stor_master_stop(struct stor_cluster *c);

struct stor_metrics {
	uint64_t chunks_written, chunks_read, read_fallbacks, corrupt_replicas, repairs_done,
	    repairs_failed, servers_lost, scrubbed_replicas;
};
void stor_metrics_get(struct stor_cluster *c, struct stor_metrics *m);
/* Prometheus text lines (cordon_storage_*) appended to out (malloc'd). */
int stor_metrics_text(struct stor_cluster *c, char **out, struct cmn_err *err);
/* JSON: servers (id, addr, rack, state, free, chunks), chunk and replica
 * counts, under-replicated chunks, metrics. *out malloc'd. */
int stor_status_json(struct stor_cluster *c, char **out, struct cmn_err *err);

/* ---- supervisor: the embedded default ------------------------------------ */
struct stor_supervisor;
struct stor_supervisor_cfg {
	const char *chunkd_path; /* the cordon-chunkd binary */
	const char *data_dir;    /* servers get DATA_DIR/chunk-<i> */
	const char *cluster_key_file;
	unsigned servers;      /* default 4 */
	unsigned racks;        /* default 3: server i gets rack "rack-<i % racks>" */
	const char *listen_ip; /* default 127.0.0.1 */
};
/* Starts the servers and waits until each listens. */
int stor_supervisor_start(struct stor_supervisor **out, const struct stor_supervisor_cfg *cfg,
			  struct cmn_err *err);
/* Reaps dead servers and restarts them on their old port; call it often
 * (e.g. once per second). Returns how many were restarted. */
int stor_supervisor_poll(struct stor_supervisor *s, struct cmn_err *err);
/* "127.0.0.1:port" of server i, or NULL. */
const char *stor_supervisor_addr(struct stor_supervisor *s, unsigned i);
int stor_supervisor_pid(struct stor_supervisor *s, unsigned i);
unsigned stor_supervisor_count(struct stor_supervisor *s);
void stor_supervisor_stop(struct stor_supervisor *s); /* SIGTERM, wait, free */

#endif
