/* storage/chunk_store.h — one chunk server's data dir (internal).
 *
 *   DIR/LOCK          flock'd while a cordon-chunkd serves DIR
 *   DIR/server-id     32 hex, made once; names this server in the catalog
 *   DIR/tmp/          writes in progress (emptied at start)
 *   DIR/chunks/XX/ID  one file per chunk, XX = first two hex digits of ID:
 *                     "CCK1" | u32 0 | u64 size | sha256(data) | data
 * A file reaches chunks/ only by rename after fsync of itself, and the put
 * is answered only after fsync of its directory.
 */
#ifndef STOR_CHUNK_STORE_H
#define STOR_CHUNK_STORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "storage/chunk_proto.h"

struct stor_store {
	char *dir;
	int lock_fd;
	/* Chunk files are written with O_DIRECT (no page-cache copy, which was
	 * most of a put's CPU; fsync of file and dir still follows). Cleared
	 * for good when the file system refuses O_DIRECT; tests clear it to
	 * cover the buffered path. */
	atomic_bool direct_io;
	char server_id[STOR_ID_LEN + 1];
	pthread_mutex_t mu; /* guards the counters */
	uint64_t chunk_count, used_bytes;
};

int stor_store_open(struct stor_store *s, const char *dir, struct cmn_err *err);
void stor_store_close(struct stor_store *s);
/* Any buffer: copied into an aligned one first (copy-from-peer, tests). */
int stor_store_put(struct stor_store *s, const char *id, const void *data, size_t len,
		   uint8_t sha[STOR_SHA_LEN], struct cmn_err *err);
/* Zero-copy put: buf is STOR_IO_ALIGN-aligned, the chunk's len bytes sit at
 * buf + STOR_FILE_HDR, and the first STOR_FILE_HDR bytes are the caller's
 * scratch (the file header is built there). The file is written from buf. */
int stor_store_put_framed(struct stor_store *s, const char *id, uint8_t *buf, size_t len,
			  uint8_t sha[STOR_SHA_LEN], struct cmn_err *err);
/* Reads and checks the checksum; CMN_EIO "corrupt" when it fails. The
 * file is read into rb (grown as needed, reused across calls; O_DIRECT when
 * the store writes that way, so neither a read nor a scrub fills the page
 * cache); *data points into it, after the file header. */
int stor_store_get_into(struct stor_store *s, const char *id, struct stor_rbuf *rb,
			const uint8_t **data, size_t *len, uint8_t sha[STOR_SHA_LEN],
			struct cmn_err *err);
/* The same, into a malloc'd copy (*data, caller frees). */
int stor_store_get(struct stor_store *s, const char *id, uint8_t **data, size_t *len,
		   uint8_t sha[STOR_SHA_LEN], struct cmn_err *err);
int stor_store_verify(struct stor_store *s, const char *id, struct stor_rbuf *rb,
		      uint8_t sha[STOR_SHA_LEN], uint64_t *size, struct cmn_err *err);
int stor_store_delete(struct stor_store *s, const char *id, struct cmn_err *err);
/* Sorted ids greater than after (NULL = from the start), at most max. */
int stor_store_list(struct stor_store *s, const char *after, size_t max,
		    char (**ids)[STOR_ID_LEN + 1], size_t *n, struct cmn_err *err);
int stor_store_stat(struct stor_store *s, struct stor_stat *st, struct cmn_err *err);

#endif
