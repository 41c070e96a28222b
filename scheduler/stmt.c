/* scheduler/stmt.c — the statement handler registry; see stmt.h. */
#include "scheduler/stmt.h"

#define MAX_HANDLERS 16

static struct {
	const char *name;
	sch_stmt_handler_fn fn;
} handlers[MAX_HANDLERS];
static size_t handler_count;

int sch_stmt_register(const char *name, sch_stmt_handler_fn fn)
{
	for (size_t i = 0; i < handler_count; i++)
		if (handlers[i].fn == fn)
			return 0;
	if (handler_count == MAX_HANDLERS)
		return -1;
	handlers[handler_count].name = name;
	handlers[handler_count].fn = fn;
	handler_count++;
	return 0;
}

int sch_stmt_dispatch(struct sch_stmt_ctx *ctx, const char *sql, size_t len, json_t **result,
		      struct cmn_err *err)
{
	*result = NULL;
	for (size_t i = 0; i < handler_count; i++) {
		int rc = handlers[i].fn(ctx, sql, len, result, err);
		if (rc != 0)
			return rc < 0 ? -1 : 0;
	}
	return cmn_err_set(err, CMN_EINVAL, 0, "unknown or unsupported statement");
}
