/* runtime/sqlfn_crypto.h — MaxCompute's column encryption functions as
 * SQLite functions, evaluated inside the job nodes with OpenSSL:
 *   SYM_ENCRYPT(value, key [, 'AES-GCM-256' [, aad]])   -> BINARY
 *   SYM_DECRYPT(ciphertext, key [, 'AES-GCM-256' [, aad]]) -> BINARY
 *   NEW_KEYSET(key_type [, description])                  -> BINARY keyset
 *   ROTATE_KEYSET(keyset, key_type [, description])       -> BINARY keyset
 *   ADD_KEY_TO_KEYSET(keyset, key_type, raw_key [, description]) -> BINARY keyset
 *   KEYSET_TO_JSON(keyset) -> STRING;  KEYSET_FROM_JSON(json) -> BINARY keyset
 *   ENHANCED_SYM_ENCRYPT(keyset, plaintext [, aad])       -> BINARY
 *   ENHANCED_SYM_DECRYPT(keyset, ciphertext [, aad])      -> BINARY
 * Key types: AES-GCM-256 (random nonce) and AES-SIV-CMAC-128/256
 * (deterministic: equal plaintexts give equal ciphertexts, for joins).
 * A NULL argument gives NULL. A wrong key, a tampered ciphertext, a wrong
 * aad or a malformed keyset is an SQL error, never garbage. Formats are in
 * docs/jobs.md ("Column encryption").
 */
#ifndef RT_SQLFN_CRYPTO_H
#define RT_SQLFN_CRYPTO_H

#include <sqlite3.h>

#include "common/err.h"

int rt_sqlfn_crypto_register(sqlite3 *db, struct cmn_err *err);

#endif
