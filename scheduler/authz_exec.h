/* scheduler/authz_exec.h — internal to the statement executors
 * (authz_stmt.c, authz_exec_*.c): the running state of one job text, the
 * permission check every executor calls before it changes anything, result
 * rows, and buffered audit events. Not a public contract. */
#ifndef SCH_AUTHZ_EXEC_H
#define SCH_AUTHZ_EXEC_H

#include <jansson.h>
#include <sqlite3.h>

#include "scheduler/authz_int.h"
#include "scheduler/stmt.h"

struct audit_rec {
	char *event_name, *resource, *decision, *reason, *error_code;
	bool change; /* dropped when the transaction rolls back */
};

struct exec {
	struct sch_stmt_ctx *ctx;
	sqlite3 *db;
	struct cmn_err *err;
	const struct sch_sql_stmt *stmt; /* the statement running (for line:col) */
	json_t *result;                  /* rows of the last statement that shows some */
	bool explain;                    /* EXPLAIN PERMISSION: decide, record, change nothing */
	json_t *explain_rows;
	struct audit_rec *audit;
	size_t naudit;
	/* reads decided so far in this statement (ProjectProtection of its writes) */
	struct sch_authz_read reads[64];
	char read_names[64][2][256];
	size_t nreads;
};

/* Decides action on res as the caller; audits it; in EXPLAIN mode records a
 * row and returns 0 even on deny; otherwise a deny is CMN_EDENIED with the
 * decision's reason. *via_package (optional) reports how a read was allowed. */
int authz_ex_check(struct exec *ex, const char *action, const struct sch_authz_resource *res,
		   bool *via_package);
/* Same with the resource given as (type, name) in the current project. */
int authz_ex_check_obj(struct exec *ex, const char *action, enum sch_sql_objtype type,
		       const char *name);
int authz_ex_check_project(struct exec *ex, const char *action);

/* "line:col: message" for the running statement; returns -1. */
int authz_ex_fail(struct exec *ex, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Records a change for the audit log (emitted only after COMMIT): resource
 * is the project, reason "<event> <what> by <principal>". */
int authz_ex_audit_change(struct exec *ex, const char *event, const char *what);

/* Result: columns, then rows with types 's' (char *, NULL = null), 'i' (int64_t),
 * 'b' (int as bool). */
int authz_ex_result(struct exec *ex, const char *const *cols, size_t ncols);
int authz_ex_row(struct exec *ex, const char *types, ...);
int authz_ex_ok(struct exec *ex);

/* Shared validations (authz_stmt.c): "line:col: ... does not exist" errors. */
int authz_ex_require_member(struct exec *ex, const char *user);
int authz_ex_require_grantee(struct exec *ex, const struct sch_sql_stmt *s);
/* The grantee as stored: a role's name as it was created (roles ignore case). */
int authz_ex_grantee_name(struct exec *ex, const struct sch_sql_stmt *s, char *out, size_t outlen);
int authz_ex_require_object(struct exec *ex, enum sch_sql_objtype type, const char *name,
			    int64_t *id);
int authz_ex_require_columns(struct exec *ex, int64_t id, const struct sch_sql_list *cols);
int authz_ex_same_project(struct exec *ex, const struct sch_sql_name *n);

/* The project the statements of this job run in (the URL's). */
const char *authz_ex_project(struct exec *ex);

/* Runs one statement (authz_stmt.c). */
int authz_run_stmt(struct exec *ex, const struct sch_sql_stmt *s);
int authz_ex_run_labels(struct exec *ex, const struct sch_sql_stmt *s, bool *handled);
int authz_ex_run_packages(struct exec *ex, const struct sch_sql_stmt *s, bool *handled);

#endif
