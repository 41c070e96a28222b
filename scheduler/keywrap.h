/* scheduler/keywrap.h — wraps catalog secrets (access-key secrets) under
 * the root key. Only keywrap.c knows how a secret is encrypted.
 *
 * The root key is DIR/keys/root.key (0600, created on first start) in the
 * storage keyring's form: 64 hex characters. Once cordond attached the
 * storage keyring (sch_keywrap_use_keyring, done by storage_glue.c), a
 * wrapped secret is
 *   0x02 | stor_keyring_wrap_secret(label = context)
 * i.e. the storage keyring's root-key wrap (AES-256-GCM, context as
 * associated data). Without a keyring (unit tests) wraps use the original
 * format, which is still read for data dirs created before the switch:
 *   0x01 | nonce(12) | AES-256-GCM ciphertext | tag(16)
 * under the same root key, with the context as associated data. A root key
 * file in the original form (32 raw bytes) is rewritten in place as hex
 * (same key) on open. Either way the context (e.g. "access-key:AK...")
 * binds a wrapped value to its row.
 */
#ifndef SCH_KEYWRAP_H
#define SCH_KEYWRAP_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

struct sch_keywrap;

struct stor_keyring;

int sch_keywrap_open(struct sch_keywrap **out, const char *data_dir, struct cmn_err *err);
/* New wraps go through the storage keyring from now on (it must use the
 * same root key file); kr must outlive kw. */
void sch_keywrap_use_keyring(struct sch_keywrap *kw, struct stor_keyring *kr);
/* The root key file this wrap uses (for the storage keyring). */
const char *sch_keywrap_root_key_path(const struct sch_keywrap *kw);
/* True when the wrapped value is in the original (0x01) format. */
bool sch_keywrap_is_legacy(const void *wrapped, size_t len);
void sch_keywrap_close(struct sch_keywrap *kw);
int sch_keywrap_wrap(struct sch_keywrap *kw, const char *context, const void *plain, size_t len,
		     struct cmn_buf *out, struct cmn_err *err);
/* Fails (CMN_EAUTH) when the value was changed or belongs to another context. */
int sch_keywrap_unwrap(struct sch_keywrap *kw, const char *context, const void *wrapped, size_t len,
		       struct cmn_buf *out, struct cmn_err *err);

#endif
