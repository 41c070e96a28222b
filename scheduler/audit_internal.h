/* scheduler/audit_internal.h — what audit.c and audit_verify.c share. */
#ifndef SCH_AUDIT_INTERNAL_H
#define SCH_AUDIT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "common/err.h"

#define SCH_AUDIT_SIGN_PREFIX "cordon-audit-checkpoint:v1:"

int sch_audit_sign(EVP_PKEY *key, uint64_t seq, const char *prev_hash, char *b64, size_t b64_len);
/* The sorted list of DIR/audit-*.jsonl (caller frees each and the array). */
int sch_audit_list_files(const char *dir, char ***names, size_t *count, struct cmn_err *err);
/* The newest .jsonl (path empty if none), the seq its name starts at and the
 * seq of its last complete line (0 if none). */
int sch_audit_files_last(const char *dir, char *path, size_t path_len, uint64_t *first_seq,
			 uint64_t *last_seq, struct cmn_err *err);

#endif
