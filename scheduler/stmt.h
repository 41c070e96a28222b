/* scheduler/stmt.h — how a job's SQL text reaches the code that runs it.
 *
 * The API (POST /v1/projects/{p}/jobs) fills a sch_stmt_ctx and calls
 * sch_stmt_dispatch(). Modules register handlers at start-up; dispatch asks
 * each in registration order. A handler returns 1 when it ran the text
 * (result filled), 0 when the text is not its statement, -1 on failure
 * (err filled: CMN_EINVAL -> 400 with "line:col: message", CMN_EDENIED ->
 * 403 with the deciding rule, CMN_ENOTFOUND -> 404, ...). When no handler
 * takes the text, dispatch fails with CMN_EINVAL "unknown statement".
 *
 * Result shape (jansson, owned by the caller):
 *   {"columns": ["name", ...], "rows": [[v, ...], ...]}
 * A statement that shows nothing returns {"columns": ["result"], "rows": [["OK"]]}.
 */
#ifndef SCH_STMT_H
#define SCH_STMT_H

#include <jansson.h>
#include <stddef.h>

#include "common/err.h"
#include "scheduler/catalog.h"
#include "scheduler/principal.h"

/* One audit record from a handler: every decision (allow and deny) and
 * every change. The API's audit module implements it. */
struct sch_audit_event {
	const char *event_name; /* ActionTrail style: GrantACL, AddUser, SetLabel, ... */
	const char *resource;   /* acs:odps:*:projects/p/tables/t */
	const char *decision;   /* "allow", "deny" or NULL */
	const char *reason;     /* deciding rule or error message */
	const char *error_code; /* NULL on success */
};

struct sch_stmt_ctx {
	struct sch_catalog *cat;
	const struct sch_principal *principal;
	const char *project; /* from the URL */
	const char *source_ip;
	const char *request_id;
	void (*audit)(void *arg, const struct sch_audit_event *ev); /* may be NULL */
	void *audit_arg;
};

typedef int (*sch_stmt_handler_fn)(struct sch_stmt_ctx *ctx, const char *sql, size_t len,
				   json_t **result, struct cmn_err *err);

int sch_stmt_register(const char *name, sch_stmt_handler_fn fn);
int sch_stmt_dispatch(struct sch_stmt_ctx *ctx, const char *sql, size_t len, json_t **result,
		      struct cmn_err *err);

#endif
