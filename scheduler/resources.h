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

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "scheduler/catalog.h"

#define SCH_RESOURCE_MAX_BYTES (64u << 20)

int sch_resources_migrate(struct sch_catalog *cat, struct cmn_err *err);

/* The content of project/name appended to out. CMN_ENOTFOUND when absent.
 * No authorization here: the caller decided odps:Read already. */
int sch_resource_get(struct sch_catalog *cat, const char *project, const char *name,
		     struct cmn_buf *out, struct cmn_err *err);

/* ---- additions (resources.c; the API and CREATE FUNCTION use them) ------
 * Names are what a node accepts as a resource name (docs/stage-plan.md):
 * [A-Za-z0-9_.-]{1,128}, not starting with '-' or '.', compared without
 * case like every other object name of a project. */
#define SCH_RESOURCE_NAME_MAX 128
bool sch_resource_name_ok(const char *name);

/* What PUT accepts as the content of name: at most SCH_RESOURCE_MAX_BYTES;
 * a Lua script (*.lua) must be UTF-8 text without NUL bytes and is refused
 * when it is a precompiled chunk ("\x1bLua"): nodes load scripts in text
 * mode only, and bytecode can break the VM's own invariants. CMN_EINVAL /
 * CMN_ELIMIT with the reason. */
int sch_resource_check(const char *name, const void *data, size_t len, struct cmn_err *err);

struct sch_resource_info {
	char name[SCH_RESOURCE_NAME_MAX + 1];
	uint64_t size;
	char sha256[65]; /* lower-case hex of the content */
	char owner[256]; /* principal name of whoever put it last */
	int64_t created; /* unix seconds of the last put */
};

/* Creates or replaces project/name (content checked first). *replaced
 * (may be NULL) says whether it existed. No authorization here. */
int sch_resource_put(struct sch_catalog *cat, const char *project, const char *name,
		     const void *data, size_t len, const char *owner, bool *replaced,
		     struct cmn_err *err);
/* 1 and *out filled when it exists, 0 when not, -1 on error. out may be NULL. */
int sch_resource_stat(struct sch_catalog *cat, const char *project, const char *name,
		      struct sch_resource_info *out, struct cmn_err *err);
/* CMN_ENOTFOUND when absent. */
int sch_resource_delete(struct sch_catalog *cat, const char *project, const char *name,
			struct cmn_err *err);
/* A write section over the catalog for a change of several rows (the
 * resource or function row and its authorization registry entry): BEGIN
 * IMMEDIATE when no transaction is open, else a savepoint named sp. The
 * write lock is taken first because a deferred transaction that read and
 * then writes fails at once with SQLITE_BUSY (no busy wait) when another
 * connection (the storage master's) wrote meanwhile. end commits when ok,
 * else rolls back. */
int sch_resource_txn_begin(struct sch_catalog *cat, const char *sp, bool *outer,
			   struct cmn_err *err);
int sch_resource_txn_end(struct sch_catalog *cat, const char *sp, bool outer, bool ok,
			 struct cmn_err *err);

/* [{"name","size","sha256","owner","created"}, ...] by name; NULL on error. */
json_t *sch_resource_list(struct sch_catalog *cat, const char *project, struct cmn_err *err);

#endif
