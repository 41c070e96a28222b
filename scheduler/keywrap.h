/* scheduler/keywrap.h — wraps catalog secrets (access-key secrets) under
 * the root key. One small interface so it can move onto the storage
 * keyring (storage/keyring.c) once that lands: only keywrap.c knows where
 * the root key lives and how it encrypts.
 *
 * Today: the root key is 32 random bytes in DIR/keys/root.key (0600,
 * created on first start); a wrapped secret is
 *   0x01 | nonce(12) | AES-256-GCM ciphertext | tag(16)
 * with the caller's context string (e.g. "access-key:AK...") as associated
 * data, so a wrapped value cannot be moved to another row.
 */
#ifndef SCH_KEYWRAP_H
#define SCH_KEYWRAP_H

#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

struct sch_keywrap;

int sch_keywrap_open(struct sch_keywrap **out, const char *data_dir, struct cmn_err *err);
void sch_keywrap_close(struct sch_keywrap *kw);
int sch_keywrap_wrap(struct sch_keywrap *kw, const char *context, const void *plain, size_t len,
		     struct cmn_buf *out, struct cmn_err *err);
/* Fails (CMN_EAUTH) when the value was changed or belongs to another context. */
int sch_keywrap_unwrap(struct sch_keywrap *kw, const char *context, const void *wrapped, size_t len,
		       struct cmn_buf *out, struct cmn_err *err);

#endif
