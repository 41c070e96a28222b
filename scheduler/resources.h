/* scheduler/resources.h — project resources (Lua scripts as text, data
 * files): PUT/GET/DELETE /v1/projects/{p}/resources/{name}, `cordon
 * resource put|get|rm|ls`, and what the job runner hands to nodes
 * (scripts[] and resources[] of a stage plan, docs/stage-plan.md).
 *
 * Catalog component "resources" (owned here): one row per
 * (project, name) with the content, its size and SHA-256, owner, time.
 * A Lua script must be text (a precompiled chunk, "\x1bLua", is refused).
 */
#ifndef SCH_RESOURCES_H
#define SCH_RESOURCES_H

#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"
#include "scheduler/catalog.h"

#define SCH_RESOURCE_MAX_BYTES (64u << 20)

int sch_resources_migrate(struct sch_catalog *cat, struct cmn_err *err);

/* The content of project/name appended to out. CMN_ENOTFOUND when absent.
 * No authorization here: the caller decided odps:Read already. */
int sch_resource_get(struct sch_catalog *cat, const char *project, const char *name,
		     struct cmn_buf *out, struct cmn_err *err);

#endif
