/* storage/cluster.h — the cluster object shared by the client (replicate.c)
 * and the master (master.c); internal. */
#ifndef STOR_CLUSTER_H
#define STOR_CLUSTER_H

#include <pthread.h>
#include <stdbool.h>

#include "storage/chunk_proto.h"
#include "storage/crypto.h"
#include "storage/keyring.h"
#include "storage/storage.h"

#define STOR_REPLICAS 3
#define STOR_MAX_SERVERS 256

enum srv_state { SRV_LIVE = 0, SRV_SUSPECT, SRV_LOST };

struct stor_server {
	char id[STOR_ID_LEN + 1];
	char addr[80];
	char rack[65];
	enum srv_state state;
	uint64_t last_seen_ms; /* wall clock, persisted */
	uint64_t free_bytes, chunk_count;
	uint64_t placed_bytes; /* placed since the last heartbeat, for balance */
	bool needs_gc;         /* came back after being lost: holds stale copies */
};

/* Receive buffers a cluster keeps for its readers: two full readers' worth
 * (read.c's DEPTH), up to 4 MiB resident each once used. */
#define STOR_RBUF_POOL 12

struct stor_cluster {
	struct stor_cluster_cfg cfg;
	struct stor_cluster_key key;
	pthread_mutex_t *mu; /* the keyring's recursive mutex: db + servers */
	struct stor_server servers[STOR_MAX_SERVERS];
	size_t nservers;
	struct stor_metrics m;
	char scrub_cursor[STOR_ID_LEN + 1];
	double scrub_tokens;
	uint64_t last_tick_ms;
	uint64_t last_hb_ms; /* last heartbeat round (0: none in this process) */
	pthread_t thread;
	bool thread_running;
	pthread_mutex_t stop_mu;
	pthread_cond_t stop_cv;
	bool stop;
	/* readers' receive buffers kept between reads (read.c): they hold
	 * ciphertext only, and are left out of forks (stor_rbuf_map) */
	pthread_mutex_t rb_mu;
	struct stor_rbuf rb_pool[STOR_RBUF_POOL];
	size_t rb_n;
};

uint64_t stor_now_ms(void);
void stor_audit(struct stor_cluster *c, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Heartbeat round: STAT every server, update states (lost after the timeout). */
int stor_heartbeat(struct stor_cluster *c, struct cmn_err *err);
/* Picks up to n servers (indices) not in exclude, distinct racks first, most
 * free space first. Returns how many were picked. Caller holds c->mu. */
size_t stor_place(struct stor_cluster *c, const int *exclude, size_t nexclude, size_t n,
		  uint64_t bytes, int *out);
/* Index of a server by id, or -1. Caller holds c->mu. */
int stor_server_find(struct stor_cluster *c, const char *id);
/* A replica failed its checksum or its decryption: forget it, delete it
 * from its server, count and audit it. */
void stor_replica_bad(struct stor_cluster *c, const char *chunk_id, const char *server_id,
		      const char *why);
/* The per-chunk repair lease (stor_repairs): 1 when claimed (owner filled),
 * 0 when another thread or process still holds it after wait_ms. */
int stor_chunk_lease_take(struct stor_cluster *c, const char *chunk_id, char owner[STOR_ID_LEN + 1],
			  int wait_ms);
void stor_chunk_lease_drop(struct stor_cluster *c, const char *chunk_id, const char *owner);
/* Copies the chunk until it has 3 replicas (peer to peer), under the
 * chunk's lease: concurrent repairers of one chunk add one set of copies. */
int stor_repair_chunk(struct stor_cluster *c, const char *chunk_id, struct cmn_err *err);
/* Catalog checksum of a chunk. */
int stor_chunk_sha(struct stor_cluster *c, const char *chunk_id, uint8_t sha[STOR_SHA_LEN],
		   struct cmn_err *err);

#endif
