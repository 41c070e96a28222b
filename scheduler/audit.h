/* scheduler/audit.h — the audit log: one JSON record per API request
 * (accepted or refused), authorization decision, admin change, job state
 * change and sandbox violation.
 *
 * Each record carries seq (1, 2, ...) and prevHash, the SHA-256 (hex) of
 * the previous record's exact JSON line, so the records form a chain. Every
 * `checkpoint_every` records and at shutdown an AuditCheckpoint record is
 * added whose signature is Ed25519 (key in DIR/keys/audit.key, public key
 * in DIR/audit/audit.pub) over "cordon-audit-checkpoint:v1:<seq>:<prevHash>".
 * Records are stored in the catalog (table audit_log) and appended to
 * DIR/audit/audit-<first seq>.jsonl. Writes are batched: sch_audit_write()
 * queues, sch_audit_flush() makes the queue durable (catalog commit first,
 * then the .jsonl file, which is repaired from the catalog at start-up).
 * A writer thread stores batches (256 records or 100 ms) so fsync never
 * stalls the event loop; the API flushes (waits for its records to be
 * durable) before it acknowledges any change. sch_audit_write() may be
 * called from any thread.
 *
 * Other modules record through struct sch_audit_event (stmt.h) or
 * sch_audit_write() with a filled record.
 */
#ifndef SCH_AUDIT_H
#define SCH_AUDIT_H

#include <jansson.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "scheduler/catalog.h"

struct sch_audit;

struct sch_audit_record {
	const char *event_name; /* ActionTrail style: GetCallerIdentity, CreateAccessKey, ... */
	const char *request_id;
	const char *source_ip;
	const char *user_agent;
	const char *principal; /* NULL when authentication failed */
	const char *access_key_id;
	const char *project;
	const char *resource;
	const char *decision; /* "allow" / "deny" / NULL */
	const char *reason;
	const char *error_code; /* NULL on success */
	int http_status;        /* 0 when not an HTTP request */
};

int sch_audit_open(struct sch_audit **out, struct sch_catalog *cat, const char *data_dir,
		   unsigned checkpoint_every, struct cmn_err *err);
/* Flushes, writes a checkpoint and closes. */
void sch_audit_close(struct sch_audit *au);
/* The running cordond's audit log (set by daemon.c), for modules without a
 * request context: job state changes, sandbox violations. NULL if none. */
void sch_audit_set_default(struct sch_audit *au);
struct sch_audit *sch_audit_default(void);
int sch_audit_write(struct sch_audit *au, const struct sch_audit_record *rec, struct cmn_err *err);
int sch_audit_flush(struct sch_audit *au, struct cmn_err *err);
int sch_audit_checkpoint(struct sch_audit *au, struct cmn_err *err);
uint64_t sch_audit_last_seq(const struct sch_audit *au);

struct sch_audit_filter {
	const char *project, *principal, *event;
	int64_t since, until;       /* unix seconds, 0 = open */
	const char *projects_owner; /* non-NULL: only projects owned by this principal */
	unsigned limit;
};
json_t *sch_audit_query(struct sch_audit *au, const struct sch_audit_filter *f,
			struct cmn_err *err);

/* Offline verification of DIR/audit (audit.pub and *.jsonl). Returns 0 when
 * the chain and every checkpoint hold (summary in report), -1 naming the
 * first record that was changed, removed, reordered or inserted (err). */
int sch_audit_verify_dir(const char *dir, const char *pubkey_path, struct cmn_buf *report,
			 struct cmn_err *err);

#endif
