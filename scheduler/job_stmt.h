/* scheduler/job_stmt.h — the sch_stmt handler of jobs; see job_stmt.c.
 * Registered last: it takes every text the other handlers did not. */
#ifndef SCH_JOB_STMT_H
#define SCH_JOB_STMT_H

#include "scheduler/stmt.h"

int sch_job_stmt_handler(struct sch_stmt_ctx *ctx, const char *sql, size_t len, json_t **result,
			 struct cmn_err *err);

#endif
