/* scheduler/storage_int.h — struct sch_storage, shared by storage_glue.c
 * (start-up, supervision) and storage_facade.c (operator view, keys, the
 * job-runner facade); internal. */
#ifndef SCH_STORAGE_INT_H
#define SCH_STORAGE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "scheduler/storage_glue.h"
#include "storage/storage.h"

#define SCH_STORAGE_MAX 64 /* storage's supervisor runs at most 64 */

struct sch_storage {
	struct sch_storage_cfg cfg;
	char key_path[4300];
	sqlite3 *db;                 /* owned: storage's connection to catalog.db */
	struct stor_keyring *kr;     /* owned */
	struct stor_cluster *c;      /* owned; NULL when --chunkservers 0 */
	struct stor_supervisor *sup; /* owned */
	pthread_mutex_t sup_mu;      /* the supervisor is not thread-safe */
	pthread_mutex_t op_mu;       /* one operator scrub/repair at a time */
	/* versions being read, and replaced ones waiting for their last reader
	 * (storage_facade.c "Old versions") */
	pthread_mutex_t hold_mu;
	struct sch_storage_hold *holds;
	char addrs[SCH_STORAGE_MAX][96];
	int pids[SCH_STORAGE_MAX];
	/* the supervision thread */
	pthread_t thread;
	bool thread_running, stop;
	pthread_mutex_t stop_mu;
	pthread_cond_t stop_cv;
	uint64_t exported[8]; /* storage counters already added to /metrics */
	bool metrics_seen;
	unsigned polls;
};

void sch_storage_holds_free(struct sch_storage *s);

#endif
