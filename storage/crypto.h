/* storage/crypto.h — chunk encryption and key wrapping (internal to
 * storage/, used by the client and the keyring).
 *
 * Sealed chunk: "CEN1" | u32 key_version | nonce[12] | ciphertext | tag[16].
 * The key is HKDF-SHA256(data key, salt "cordon-chunk-v1", info chunk id);
 * the associated data binds chunk id, table id, version and key version, so
 * a chunk moved to another id, table or version does not open.
 * Wrapped secret: nonce[12] | ciphertext | tag[16] under AES-256-GCM with the
 * label (what the secret is, e.g. "project-key|p1|2") as associated data.
 */
#ifndef STOR_CRYPTO_H
#define STOR_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define STOR_KEY_LEN 32
#define STOR_NONCE_GCM 12
#define STOR_TAG_LEN 16
#define STOR_SEAL_OVERHEAD (8 + STOR_NONCE_GCM + STOR_TAG_LEN)
#define STOR_WRAP_OVERHEAD (STOR_NONCE_GCM + STOR_TAG_LEN)

struct stor_key {
	uint8_t b[STOR_KEY_LEN];
};

struct stor_chunk_aad {
	const char *chunk_id; /* 32 hex */
	uint64_t table_id;
	uint64_t version;
	uint32_t key_version;
	/* a column chunk (docs/storage.md "Column chunks") is also bound to its
	 * row group and column: moved to another slot it does not open */
	bool columnar;
	uint32_t rg, col;
};

void stor_key_wipe(struct stor_key *k);
int stor_key_random(struct stor_key *k, struct cmn_err *err);
/* out must hold len + STOR_SEAL_OVERHEAD bytes. */
int stor_chunk_seal(const struct stor_key *data_key, const struct stor_chunk_aad *aad,
		    const void *pt, size_t len, uint8_t *out, struct cmn_err *err);
/* out must hold ctlen - STOR_SEAL_OVERHEAD bytes; CMN_EAUTH when the tag,
 * the binding or the key does not match. */
int stor_chunk_open(const struct stor_key *data_key, const struct stor_chunk_aad *aad,
		    const uint8_t *ct, size_t ctlen, uint8_t *out, size_t *outlen,
		    struct cmn_err *err);
/* *out malloc'd: len + STOR_WRAP_OVERHEAD bytes. */
int stor_wrap(const struct stor_key *kek, const char *label, const void *secret, size_t len,
	      uint8_t **out, size_t *outlen, struct cmn_err *err);
/* *out malloc'd; release it with stor_secret_free (wipes it). */
int stor_unwrap(const struct stor_key *kek, const char *label, const uint8_t *in, size_t len,
		uint8_t **out, size_t *outlen, struct cmn_err *err);
void stor_secret_free(void *p, size_t len);

#endif
