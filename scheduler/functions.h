/* scheduler/functions.h — CREATE FUNCTION / DROP FUNCTION (functions_stmt.c).
 *
 * CREATE FUNCTION f AS '<script>.<entry>' USING '<res>[, <res> ...]': the
 * script is the USING resource named <script> or <script>.lua; its kind
 * (scalar, aggregate, table), signature and, for a table function, the
 * number of output columns come from the script itself, described by
 * `cordon-node udf --describe` inside a container (profile udf, no
 * network, the Lua sandbox and its limits): cordond never runs tenant Lua.
 * The definition goes to job_functions (tables.h: script = the resource
 * name, so the job runner hands that resource to nodes as the script) and
 * the authorization registry, in one savepoint.
 */
#ifndef SCH_FUNCTIONS_H
#define SCH_FUNCTIONS_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "scheduler/catalog.h"
#include "scheduler/stmt.h"

/* What describing one entry of a script found. */
struct sch_fn_description {
	char kind[16];       /* "scalar", "aggregate", "table" */
	char signature[512]; /* "" when the script declares none */
	size_t nreturns;     /* result types in the signature (table functions: columns) */
};

/* Runs `cordon-node udf --describe` in a container over script (its
 * resource name and content) with the given data resources. A script that
 * fails to load, lacks the entry or hits a limit is CMN_EINVAL with the
 * node's message ("mask.lua:3: ..."). node_path NULL: cordon-node next to
 * the running binary. */
struct sch_fn_resource {
	const char *name;
	const void *data;
	size_t len;
};
int sch_function_describe(const char *node_path, const char *script_name, const void *src,
			  size_t len, const char *entry, const struct sch_fn_resource *res,
			  size_t nres, uint64_t udf_memory, struct sch_fn_description *out,
			  struct cmn_err *err);

/* The API's request lock (api.h: held while a request is handled). When
 * set, CREATE FUNCTION releases it while the script is described — the
 * catalog is not touched then — so a slow script (bounded by the sandbox's
 * limits) does not hold every other request back. cordond sets it at
 * start-up; without it (tests) nothing is released. */
void sch_functions_set_api_lock(pthread_mutex_t *lock);

/* The sch_stmt handler (stmt.h) of CREATE FUNCTION and DROP FUNCTION (after
 * any SETs); 0 for every other text. Compiled first, so every access is
 * decided and audited: CreateFunction on the project and Read on each USING
 * resource, Delete on a dropped function. */
int sch_functions_stmt_handler(struct sch_stmt_ctx *ctx, const char *sql, size_t len,
			       json_t **result, struct cmn_err *err);

#endif
