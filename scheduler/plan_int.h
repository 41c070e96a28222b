/* scheduler/plan_int.h — shared by plan.c, plan_build.c and plan_sql.c only. */
#ifndef SCH_PLAN_INT_H
#define SCH_PLAN_INT_H

#include "common/buf.h"
#include "scheduler/plan.h"

/* Substitution hook: 1 when it rendered e, 0 to render e normally, -1 on error. */
typedef int (*pl_hook)(void *arg, const struct sch_q_expr *e, struct cmn_buf *b,
		       struct cmn_err *err);
/* Called for each base-table leaf while rendering a whole query; returns
 * the name of the node table that stands for it (owned by the callee). */
typedef const char *(*pl_leaf_fn)(void *arg, const struct sch_q_select *s,
				  const struct sch_q_from *leaf, struct cmn_err *err);

struct pl_render {
	pl_hook hook;
	void *hook_arg;
	char **aliases; /* source alias by src index (of the current SELECT) */
	size_t naliases;
	const char *project;
	const struct sch_q_select *sel; /* current SELECT (ORDER BY output names) */
	pl_leaf_fn leaf;
	void *leaf_arg;
	struct cmn_err *err;
};

int pl_ident(struct cmn_buf *b, const char *name, struct cmn_err *err);
int pl_expr(struct pl_render *r, const struct sch_q_expr *e, struct cmn_buf *b);
int pl_query(struct pl_render *r, const struct sch_q_query *q, struct cmn_buf *b);
/* The aliases of a SELECT's sources by src index; free with pl_aliases_free. */
int pl_aliases(const struct sch_q_select *s, char ***out, size_t *n, struct cmn_err *err);
void pl_aliases_free(char **v, size_t n);
/* The udtf call of a SELECT udtf(...) AS (...) or LATERAL VIEW as SQL. */
int pl_udtf_call(struct pl_render *r, const struct sch_q_expr *u, struct cmn_buf *b);
/* Marks used[c] for every column c of source src referenced in s. */
void pl_used_cols(const struct sch_q_select *s, int src, bool *used, size_t ncols);
/* Output name of item i of s. */
const char *pl_item_name(const struct sch_q_select *s, size_t i, char *buf, size_t n);

/* ---- planner helpers (plan_build.c), used by plan_gather.c ---- */
struct pb {
	struct sch_plan *plan;
	const struct sch_plan_opts *opts;
	struct cmn_err *err;
};

size_t pb_select_width(const struct sch_q_select *s);
int pb_oom(struct pb *b);
enum sch_q_type pb_concrete(enum sch_q_type t);
int pb_add_col(struct pb *b, struct sch_plan_cols *c, const char *name, enum sch_q_type t);
int pb_add_stage(struct pb *b, enum sch_stage_kind kind, int nodes);
struct sch_plan_input *pb_add_input(struct pb *b, int stage, const char *table, int upstream);
int pb_connect(struct pb *b, int from, int to, const char *table, const size_t *keys, size_t nkeys);
int pb_scan_input(struct pb *b, int stage, const char *table, const struct sch_q_select *s,
		  const struct sch_q_from *leaf);
int pb_sql_set(struct pb *b, int stage, struct cmn_buf *q);
struct prod {
	const struct sch_q_select *s;
	struct pl_render r; /* column rendering of the producer's FROM */
	char *from;         /* the producer's FROM clause text */
	int stage;          /* the producing stage */
};

/* The SELECT's part after its FROM (plan_build.c): items, aggregation,
 * DISTINCT, ORDER BY/LIMIT, starting at pr->stage over pr->from. */
int pb_produce(struct pb *b, struct prod *pr);
/* Tables joined left-deep with ON (plan_join.c); pb_join_ok says which. */
bool pb_join_ok(const struct sch_q_from *f);
int pb_plan_join(struct pb *b, struct prod *pr);
/* Every table reference scanned by its own MAP, FINAL runs the query. */
int pb_gather(struct pb *b, const struct sch_q_query *q);
/* UNION ALL: every branch planned by `branch` up to its own 1-node last
 * stage (made a REDUCE), then one FINAL concatenating them. */
int pb_union(struct pb *b, const struct sch_q_query *q,
	     int (*branch)(struct pb *b, const struct sch_q_select *sel));
/* A FROM that is a subquery of row-by-row SELECTs over one table: 1 with
 * the table leaf, the SELECT that reads it, and the FROM text over "in0". */
int pb_derived(struct pb *b, const struct sch_q_from *f, const struct sch_q_from **leaf,
	       const struct sch_q_select **owner, char **from_text);
/* INSERT ... VALUES as a FINAL-only plan. */
int pb_values(struct pb *b, const struct sch_q_stmt *s);
/* ---- computed columns (plan_udfcols.c) ----
 * Scalar UDF calls of a MAP's SELECT over its one scanned input that the
 * node evaluates batch by batch: pb_udfcols_begin finds the eligible calls
 * (arguments only bare columns of that input and literals, not under CASE,
 * AND, OR, IN, BETWEEN or a short-circuiting built-in) and installs a render
 * hook on r; each eligible call the MAP's SQL renders becomes a computed
 * column of the input (one per distinct call) and is rendered as a
 * reference to it. Calls the SQL never renders (e.g. evaluated in REDUCE)
 * cost nothing. pb_udfcols_end releases the scratch (not the columns). */
struct pb_udfcols {
	struct pb *b;
	int stage;
	size_t input;
	int src;
	const struct sch_tabledef *def;
	const char *alias;
	const struct sch_q_expr **elig;
	size_t nelig, cap;
};
int pb_udfcols_begin(struct pb *b, struct pb_udfcols *u, int stage, size_t input,
		     const struct sch_q_select *s, const struct sch_q_from *leaf,
		     struct pl_render *r);
void pb_udfcols_end(struct pb_udfcols *u);
/* The input's "computed" JSON array (docs/stage-plan.md). */
json_t *pb_udfcols_json(const struct sch_plan *p, const struct sch_plan_input *in,
			struct cmn_err *err);
/* EXPLAIN lines of an input's computed columns. */
int pb_udfcols_explain(const struct sch_plan *p, const struct sch_plan_input *in,
		       struct cmn_buf *out, struct cmn_err *err);
void pb_udfcols_free(struct sch_plan_input *in);

/* INSERT: FINAL's output becomes the target's data columns (plan_gather.c). */
int pb_insert_target(struct pb *b, const struct sch_q_stmt *s, const struct sch_q_resolved *res);

#endif
