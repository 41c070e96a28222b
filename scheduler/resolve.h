/* scheduler/resolve.h — name resolution, type checking and access
 * collection of a parsed query statement (sql_query.h).
 *
 * sch_q_resolve() binds every column reference to its FROM source, expands
 * `*`, replaces views by their (resolved) query, resolves functions
 * (`f` in the job's project, `p:f` in project p), computes every
 * expression's type and checks aggregates and GROUP BY. It records every
 * access the statement makes in `acc`; sch_q_authorize() then decides each
 * with sch_authz_decide() — the one decision function — before anything
 * runs. Errors are CMN_EINVAL/CMN_ENOTFOUND "line:col: message".
 */
#ifndef SCH_RESOLVE_H
#define SCH_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "scheduler/authz.h"
#include "scheduler/sql_query.h"
#include "scheduler/tables.h"

/* Where definitions come from. table/function return 0 with *out NULL when
 * the object does not exist. */
struct sch_q_env {
	const char *project; /* the job's project */
	int (*table)(void *arg, const char *project, const char *name, struct sch_tabledef **out,
		     struct cmn_err *err);
	int (*function)(void *arg, const char *project, const char *name, struct sch_funcdef **out,
			struct cmn_err *err);
	void *arg;
};

/* The catalog-backed environment (tables.h). */
void sch_tables_env(struct sch_q_env *env, struct sch_catalog *cat, const char *project);

/* One access: action ("odps:Select", ...) on a resource. `as_owner`: decided
 * for that principal (a view owner reading the view's base tables) instead
 * of the job's user. Strings are owned by the list. */
struct sch_q_access {
	char *action;
	char *project;
	enum sch_sql_objtype type;
	char *name;   /* NULL: the project itself */
	char *column; /* optional */
	char *as_owner;
	int line, col;
};

struct sch_q_accesses {
	struct sch_q_access *v;
	size_t n;
};

void sch_q_accesses_free(struct sch_q_accesses *a);

/* A function a resolved statement uses (for the stage plans). */
struct sch_q_fnuse {
	char *ref; /* "project:name": the name used in generated SQL is rendered from it */
	struct sch_funcdef *def;
};

struct sch_q_resolved {
	struct sch_q_accesses acc;
	struct sch_q_fnuse *fns;
	size_t nfns;
	/* Base tables the statement reads (deduplicated), for the planner. */
	struct sch_tabledef **tables;
	size_t ntables;
	struct sch_tabledef *target; /* INSERT/DROP/ALTER/DESC target when it exists */
	char *networklink;           /* SET odps.session.networklink */
};

void sch_q_resolved_free(struct sch_q_resolved *r);

int sch_q_resolve(const struct sch_q_env *env, struct sch_q_stmt *s, struct sch_q_resolved *out,
		  struct cmn_err *err);

/* The output columns of a resolved query (first UNION branch). */
size_t sch_q_query_width(const struct sch_q_query *q);
const char *sch_q_item_name(const struct sch_q_select *s, size_t i, char *buf, size_t buflen);

/* Decides every access with sch_authz_decide(). On the first deny: -1 with
 * CMN_EDENIED naming the rule and resource. When `each` is not NULL it is
 * called for every decision (EXPLAIN PERMISSION, audit) and nothing stops
 * at a deny. `owners` resolves as_owner names to principals (NULL: the
 * owner is taken as a plain user of the same account). */
typedef void (*sch_q_decision_fn)(void *arg, const struct sch_q_access *a,
				  const struct sch_authz_decision *d);
int sch_q_authorize(struct sch_catalog *cat, const struct sch_principal *who,
		    const struct sch_authz_context *ctx, const struct sch_q_accesses *acc,
		    sch_q_decision_fn each, void *arg, struct cmn_err *err);

/* One decision of an access (the view owner's principal for as_owner);
 * -1 only when the catalog cannot be read. */
int sch_q_decide(struct sch_catalog *cat, const struct sch_principal *who,
		 const struct sch_authz_context *ctx, const struct sch_q_access *a,
		 struct sch_authz_decision *out, struct cmn_err *err);

/* The collector for EXPLAIN PERMISSION and the job path: resolves s
 * against the job tables of `project` in cat and returns its accesses.
 * 1 (nothing filled) when a table it names is not a job table (the
 * authorization module then uses its own registry), 0 on success, -1 on
 * error. */
int sch_q_collect(struct sch_catalog *cat, const char *project, struct sch_q_stmt *s,
		  struct sch_q_resolved *out, struct cmn_err *err);

#endif
