/* scheduler/authz.h — authorization: the model tables, the object registry,
 * the one decision function, and the handler that runs the security
 * statements of SQL.md.
 *
 * decide() is the only place where Cordon decides an access. The API calls
 * it (through the statement handler) for every security statement; the job
 * planner calls it for every column read, table written, function, resource
 * and network link a job touches. Order (DESIGN.md "Authorization"):
 *   1 super administrator, project owner            -> allow
 *   2 explicit Deny in a policy                     -> deny  [4019]
 *   3 ACL / policy Allow / object creator / admin role / package grant,
 *     per the project's flags; none                 -> deny  [4011]
 *     (a non-member of the project                  -> deny  [4002])
 *   4 LabelSecurity (reads only): column label, else table/view label,
 *     <= user's level, or an unexpired label grant; via a package the
 *     package's `using label` is the level         -> deny  [4031]
 *   5 ProjectProtection (writes only): every protected project the job read
 *     (not through a package) must be the target, trust it, or its
 *     exception policy must allow the read         -> deny  [4021]
 * Resources are named acs:odps:*:projects/<p>[/<type>s/<name>[/columns/<c>]].
 */
#ifndef SCH_AUTHZ_H
#define SCH_AUTHZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "scheduler/catalog.h"
#include "scheduler/principal.h"
#include "scheduler/sql_ast.h"
#include "scheduler/stmt.h"

/* Applies the "authz" migrations (idempotent). */
int sch_authz_migrate(struct sch_catalog *cat, struct cmn_err *err);

/* ---- object registry ---------------------------------------------------
 * Tables, views, functions, resources, instances and network links as the
 * authorization model sees them. The SQL jobs module calls these from
 * CREATE/DROP; until then tests call them directly. Dropping an object
 * deletes its ACL entries, label grants and package memberships. */
struct sch_authz_column {
	const char *name;
	int label;      /* -1: none (the table's label applies) */
	bool partition; /* partition columns cannot be labelled */
};

int sch_authz_object_create(struct sch_catalog *cat, const char *project, enum sch_sql_objtype type,
			    const char *name, const char *creator, bool is_view,
			    const struct sch_authz_column *cols, size_t ncols, struct cmn_err *err);
int sch_authz_object_drop(struct sch_catalog *cat, const char *project, enum sch_sql_objtype type,
			  const char *name, struct cmn_err *err);

/* Removes every authorization row of a project (members, roles, grants,
 * labels, policies, objects, packages, trust in both directions). The API
 * calls it when it deletes a project, so a re-created project of the same
 * name starts clean. */
int sch_authz_project_drop(struct sch_catalog *cat, const char *project, struct cmn_err *err);

/* ---- decisions --------------------------------------------------------- */
struct sch_authz_resource {
	const char *project; /* owning project */
	enum sch_sql_objtype type;
	const char *name;   /* NULL for the project itself */
	const char *column; /* optional (tables and views) */
};

/* What a job read, for ProjectProtection on its writes. */
struct sch_authz_read {
	const char *project;
	const char *table;
	bool via_package; /* the decision of this read said via_package */
};

struct sch_authz_context {
	const char *project;   /* the project the job runs in */
	const char *source_ip; /* peer address, for acs:SourceIp */
	const char *task_type; /* odps:TaskType, e.g. "SQL" */
	const struct sch_authz_read *reads;
	size_t nreads;
};

#define SCH_AUTHZ_RESOURCE_MAX 768

struct sch_authz_decision {
	bool allow;
	const char *rule; /* static string: owner, acl, policy_deny, label, ... */
	bool via_package; /* allowed through an installed package */
	char resource[SCH_AUTHZ_RESOURCE_MAX];
	char reason[4096]; /* MaxCompute-style message, set on deny and allow */
};

/* action: "odps:Select", ... (see SQL.md), or one of the statement actions
 * (odps:ManageUsers, odps:Grant, ...; docs/security-model.md). Returns -1
 * only when the catalog cannot be read; a denial is out->allow == false. */
int sch_authz_decide(struct sch_catalog *cat, const struct sch_principal *who, const char *action,
		     const struct sch_authz_resource *res, const struct sch_authz_context *ctx,
		     struct sch_authz_decision *out, struct cmn_err *err);

/* Formats acs:odps:*:projects/p/tables/t[/columns/c]. */
void sch_authz_resource_name(const struct sch_authz_resource *res, char *out, size_t outlen);

/* The clock used for expiry; tests move it forward (seconds added to now). */
void sch_authz_clock_offset(int64_t seconds);
int64_t sch_authz_now(void);

/* ---- statements -------------------------------------------------------- */
/* The sch_stmt handler (stmt.h) of the security statements, EXPLAIN
 * PERMISSION and WHOAMI. Returns 0 when no statement of the text is one of
 * these (queries, DDL), 1 when it ran the text, -1 on error. A text that
 * mixes both kinds is refused. The whole text runs in one transaction. */
int sch_authz_stmt_handler(struct sch_stmt_ctx *ctx, const char *sql, size_t len, json_t **result,
			   struct cmn_err *err);

#endif
