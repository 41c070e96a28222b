/* storage/keyring.h — what the rest of storage/ uses of the keyring
 * (internal). */
#ifndef STOR_KEYRING_H
#define STOR_KEYRING_H

#include <pthread.h>

#include "storage/crypto.h"
#include "storage/storage.h"

/* The data key of a table: version 0 = the current one. */
int stor_keyring_table_key(struct stor_keyring *kr, uint64_t table_id, uint32_t version,
			   struct stor_key *out, uint32_t *version_out, struct cmn_err *err);
/* The one (recursive) mutex around every use of the shared SQLite handle by
 * storage: the keyring's and the cluster's statements must not interleave
 * with each other's transactions. */
pthread_mutex_t *stor_keyring_db_mutex(struct stor_keyring *kr);

#endif
