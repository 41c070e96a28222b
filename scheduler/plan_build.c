/* scheduler/plan_build.c — the planner's shapes (see docs/jobs.md):
 *
 *  one table (+ LATERAL VIEWs):  MAP(scan, filter, project, UDFs, UDTFs,
 *                                TRANSFORM, partial aggregation) -> ...
 *  two tables joined:            MAP(left) + MAP(right) -> REDUCE(join,
 *                                hash on the equi-join keys) -> ...
 *  then, by what the SELECT does:
 *    plain       -> FINAL(order, limit)
 *    DISTINCT    -> REDUCE(distinct, hash on all columns) -> FINAL
 *    aggregation -> REDUCE(merge partials, hash on the group keys) -> FINAL
 *  anything else (subqueries, UNION ALL, views, 3+ tables): every table
 *  is scanned by its own MAP (only the columns the query reads) and FINAL
 *  runs the whole query (correct, not parallel).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scheduler/plan_int.h"

size_t pb_select_width(const struct sch_q_select *s)
{
	if (s->transform)
		return s->tcols.n ? s->tcols.n : 2;
	return s->udtf_cols.n ? s->udtf_cols.n : s->nitems;
}

int pb_oom(struct pb *b)
{
	return cmn_err_set(b->err, CMN_ENOMEM, 0, "out of memory");
}

enum sch_q_type pb_concrete(enum sch_q_type t)
{
	return t == SCH_QT_NULL ? SCH_QT_STRING : t;
}

int pb_add_col(struct pb *b, struct sch_plan_cols *c, const char *name, enum sch_q_type t)
{
	struct sch_plan_col *nv = realloc(c->v, (c->n + 1) * sizeof(*nv));
	if (!nv)
		return pb_oom(b);
	c->v = nv;
	nv[c->n].name = strdup(name);
	nv[c->n].type = pb_concrete(t);
	if (!nv[c->n].name)
		return pb_oom(b);
	c->n++;
	return 0;
}

int pb_add_stage(struct pb *b, enum sch_stage_kind kind, int nodes)
{
	struct sch_plan *p = b->plan;
	struct sch_plan_stage *nv;
	if (p->n >= 64)
		return cmn_err_set(b->err, CMN_ELIMIT, 0, "plan has too many stages");
	nv = realloc(p->v, (p->n + 1) * sizeof(*nv));
	if (!nv)
		return pb_oom(b);
	p->v = nv;
	memset(&nv[p->n], 0, sizeof(*nv));
	nv[p->n].kind = kind;
	nv[p->n].nodes = nodes;
	nv[p->n].to_stage = -1;
	return (int)p->n++;
}

struct sch_plan_input *pb_add_input(struct pb *b, int stage, const char *table, int upstream)
{
	struct sch_plan_stage *st = &b->plan->v[stage];
	struct sch_plan_input *nv = realloc(st->inputs, (st->ninputs + 1) * sizeof(*nv));
	if (!nv) {
		pb_oom(b);
		return NULL;
	}
	st->inputs = nv;
	memset(&nv[st->ninputs], 0, sizeof(*nv));
	nv[st->ninputs].upstream = upstream;
	nv[st->ninputs].table = strdup(table);
	if (!nv[st->ninputs].table) {
		pb_oom(b);
		return NULL;
	}
	return &nv[st->ninputs++];
}

/* Connects stage `from`'s output to a new input of stage `to` (same columns). */
int pb_connect(struct pb *b, int from, int to, const char *table, const size_t *keys, size_t nkeys)
{
	struct sch_plan_input *in = pb_add_input(b, to, table, from);
	struct sch_plan_stage *src = &b->plan->v[from];
	if (!in)
		return -1;
	for (size_t i = 0; i < src->out.n; i++)
		if (pb_add_col(b, &in->cols, src->out.v[i].name, src->out.v[i].type) < 0)
			return -1;
	src = &b->plan->v[from];
	src->to_stage = to;
	src->to_input = (int)b->plan->v[to].ninputs - 1;
	if (b->plan->v[to].nodes > 1 && nkeys) {
		src->keys = calloc(nkeys, sizeof(*src->keys));
		if (!src->keys)
			return pb_oom(b);
		memcpy(src->keys, keys, nkeys * sizeof(*keys));
		src->nkeys = nkeys;
	}
	return 0;
}

int pb_scan_input(struct pb *b, int stage, const char *table, const struct sch_q_select *s,
		  const struct sch_q_from *leaf)
{
	const struct sch_tabledef *def = leaf->def;
	struct sch_plan_input *in = pb_add_input(b, stage, table, -1);
	bool *used;
	bool any = false;

	if (!in)
		return -1;
	in->scan_project = strdup(def->project);
	in->scan_table = strdup(def->name);
	used = calloc(def->ncols ? def->ncols : 1, sizeof(*used));
	if (!in->scan_project || !in->scan_table || !used) {
		free(used);
		return pb_oom(b);
	}
	pl_used_cols(s, leaf->src_index, used, def->ncols);
	for (size_t i = 0; i < def->ncols; i++)
		any = any || used[i];
	if (!any)
		used[0] = true; /* COUNT(*): the rows, through the first column */
	for (size_t i = 0; i < def->ncols; i++)
		if (used[i] && pb_add_col(b, &in->cols, def->cols[i].name, def->cols[i].type) < 0) {
			free(used);
			return -1;
		}
	free(used);
	return 0;
}

/* ---- the SELECT's part after its FROM ------------------------------------ */

int pb_sql_set(struct pb *b, int stage, struct cmn_buf *q)
{
	char *sql = cmn_buf_steal(q, NULL);
	if (!sql)
		return pb_oom(b);
	free(b->plan->v[stage].sql);
	b->plan->v[stage].sql = sql;
	return 0;
}

static int where_sql(struct prod *pr, struct cmn_buf *q)
{
	if (!pr->s->where)
		return 0;
	if (cmn_buf_append_str(q, " WHERE ", pr->r.err) < 0)
		return -1;
	return pl_expr(&pr->r, pr->s->where, q);
}

/* ORDER BY / LIMIT over output columns c<i> and hidden o<j>. */
struct order_map {
	int col[256]; /* >= 0: c<col>; < 0: o<-col-1> */
	size_t n;
};

static int order_clause(struct pb *b, const struct sch_q_select *s, const struct order_map *om,
			struct cmn_buf *q)
{
	for (size_t i = 0; i < om->n; i++) {
		int c = om->col[i];
		if (cmn_buf_printf(q, b->err, "%s\"%c%d\"%s", i ? ", " : " ORDER BY ",
				   c >= 0 ? 'c' : 'o', c >= 0 ? c : -c - 1,
				   s->order[i].desc ? " DESC" : "") < 0)
			return -1;
	}
	if (s->has_limit && cmn_buf_printf(q, b->err, " LIMIT %lld", (long long)s->limit) < 0)
		return -1;
	return 0;
}

static int final_stage(struct pb *b, const struct sch_q_select *s, int from,
		       const struct order_map *om, size_t nvisible, bool distinct)
{
	int fin = pb_add_stage(b, SCH_STAGE_FINAL, 1);
	struct cmn_buf q;
	char buf[32];

	if (fin < 0 || pb_connect(b, from, fin, "f0", NULL, 0) < 0)
		return -1;
	cmn_buf_init(&q, 0);
	if (cmn_buf_append_str(&q, distinct ? "SELECT DISTINCT " : "SELECT ", b->err) < 0)
		goto fail;
	for (size_t i = 0; i < nvisible; i++) {
		const char *name = sch_q_item_name(s, i, buf, sizeof(buf));
		if (cmn_buf_printf(&q, b->err, "%s\"c%zu\" AS ", i ? ", " : "", i) < 0 ||
		    pl_ident(&q, name, b->err) < 0 ||
		    pb_add_col(b, &b->plan->v[fin].out, name, b->plan->v[from].out.v[i].type) < 0)
			goto fail;
	}
	if (cmn_buf_append_str(&q, " FROM \"f0\"", b->err) < 0 || order_clause(b, s, om, &q) < 0)
		goto fail;
	return pb_sql_set(b, fin, &q);
fail:
	cmn_buf_free(&q);
	return -1;
}

/* Maps ORDER BY items to outputs; expressions not among the items become
 * hidden columns rendered by `render` (appended to q as o<j>). */
static int order_outputs(struct pb *b, struct prod *pr, int stage, struct order_map *om,
			 struct cmn_buf *q, bool allow_hidden)
{
	const struct sch_q_select *s = pr->s;
	int hidden = 0;

	om->n = s->norder;
	if (s->norder > 256)
		return cmn_err_set(b->err, CMN_ELIMIT, 0, "too many ORDER BY items");
	for (size_t i = 0; i < s->norder; i++) {
		const struct sch_q_expr *e = s->order[i].e;
		om->col[i] = e->src == -2 ? e->colidx : -1000000;
		for (size_t j = 0; om->col[i] < -1 - 256 && j < s->nitems && !s->udtf_cols.n; j++)
			if (s->items[j].e && sch_q_expr_equal(s->items[j].e, e))
				om->col[i] = (int)j;
		if (om->col[i] >= 0)
			continue;
		if (!allow_hidden)
			return cmn_err_set(b->err, CMN_EINVAL, 0,
					   "%d:%d: ORDER BY of this query must name a selected "
					   "column",
					   e->line, e->col);
		om->col[i] = -hidden - 1;
		if (cmn_buf_append_str(q, ", ", b->err) < 0 || pl_expr(&pr->r, e, q) < 0 ||
		    cmn_buf_printf(q, b->err, " AS \"o%d\"", hidden) < 0)
			return -1;
		{
			char nm[32];
			snprintf(nm, sizeof(nm), "o%d", hidden);
			if (pb_add_col(b, &b->plan->v[stage].out, nm, e->ty) < 0)
				return -1;
		}
		hidden++;
	}
	return 0;
}

static int visible_items(struct pb *b, struct prod *pr, struct cmn_buf *q, int stage)
{
	const struct sch_q_select *s = pr->s;
	char nm[32];

	if (s->udtf_cols.n) {
		for (size_t i = 0; i < s->udtf_cols.n; i++) {
			snprintf(nm, sizeof(nm), "c%zu", i);
			if (cmn_buf_append_str(q, i ? ", \"_udtf\"." : "\"_udtf\".", b->err) < 0 ||
			    pl_ident(q, s->udtf_rcols.v[i], b->err) < 0 ||
			    cmn_buf_printf(q, b->err, " AS \"%s\"", nm) < 0 ||
			    pb_add_col(b, &b->plan->v[stage].out, nm, s->items[0].e->ty) < 0)
				return -1;
		}
		return 0;
	}
	for (size_t i = 0; i < s->nitems; i++) {
		snprintf(nm, sizeof(nm), "c%zu", i);
		if ((i && cmn_buf_append_str(q, ", ", b->err) < 0) ||
		    pl_expr(&pr->r, s->items[i].e, q) < 0 ||
		    cmn_buf_printf(q, b->err, " AS \"%s\"", nm) < 0)
			return -1;
		if (pb_add_col(b,
			       s->transform ? &b->plan->v[stage].sql_out : &b->plan->v[stage].out,
			       nm, s->items[i].e->ty) < 0)
			return -1;
	}
	return 0;
}

static int from_clause(struct pb *b, struct prod *pr, struct cmn_buf *q)
{
	if (cmn_buf_printf(q, b->err, " FROM %s", pr->from) < 0)
		return -1;
	if (pr->s->udtf_cols.n && (cmn_buf_append_str(q, " CROSS JOIN ", b->err) < 0 ||
				   pl_udtf_call(&pr->r, pr->s->items[0].e, q) < 0 ||
				   cmn_buf_append_str(q, " AS \"_udtf\"", b->err) < 0))
		return -1;
	return where_sql(pr, q);
}

static int transform_setup(struct pb *b, const struct sch_q_select *s, int stage)
{
	struct sch_plan_stage *st = &b->plan->v[stage];
	char *cmd = strdup(s->using_cmd), *save = NULL;
	char nm[32];

	if (!cmd)
		return pb_oom(b);
	for (char *t = strtok_r(cmd, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		char **nv = realloc(st->argv, (st->argc + 1) * sizeof(*nv));
		if (!nv || !(nv[st->argc] = strdup(t))) {
			if (nv)
				st->argv = nv;
			free(cmd);
			return pb_oom(b);
		}
		st->argv = nv;
		st->argc++;
	}
	free(cmd);
	if (!st->argc)
		return cmn_err_set(b->err, CMN_EINVAL, 0, "%d:%d: TRANSFORM USING '' is empty",
				   s->line, s->col);
	for (size_t i = 0; i < s->resources.n; i++) {
		char **nv = realloc(st->resources.v, (i + 1) * sizeof(*nv));
		if (!nv || !(nv[i] = strdup(s->resources.v[i]))) {
			if (nv)
				st->resources.v = nv;
			return pb_oom(b);
		}
		st->resources.v = nv;
		st->resources.n = i + 1;
	}
	for (size_t i = 0; i < (s->tcols.n ? s->tcols.n : 2); i++) {
		snprintf(nm, sizeof(nm), "c%zu", i);
		if (pb_add_col(b, &st->out, nm, s->tcols.n ? s->tcol_types[i] : SCH_QT_STRING) < 0)
			return -1;
	}
	return 0;
}

/* No aggregation: the producer computes the items (and hidden ORDER BY
 * columns); DISTINCT adds a REDUCE; FINAL orders and limits. */
static int produce_plain(struct pb *b, struct prod *pr)
{
	const struct sch_q_select *s = pr->s;
	struct order_map om = { .n = 0 };
	struct cmn_buf q;
	int last = pr->stage;

	cmn_buf_init(&q, 0);
	if (cmn_buf_append_str(&q, s->distinct ? "SELECT DISTINCT " : "SELECT ", b->err) < 0 ||
	    visible_items(b, pr, &q, pr->stage) < 0 ||
	    order_outputs(b, pr, pr->stage, &om, &q, !s->distinct && !s->transform) < 0 ||
	    from_clause(b, pr, &q) < 0)
		goto fail;
	if (s->transform) {
		if (s->norder || s->has_limit || s->distinct) {
			cmn_err_set(b->err, CMN_EINVAL, 0,
				    "%d:%d: TRANSFORM cannot be combined with ORDER BY, LIMIT or "
				    "DISTINCT",
				    s->line, s->col);
			goto fail;
		}
		if (transform_setup(b, s, pr->stage) < 0)
			goto fail;
	} else if (s->has_limit && !s->distinct && order_clause(b, s, &om, &q) < 0) {
		goto fail; /* top-k per node; FINAL merges */
	}
	if (pb_sql_set(b, pr->stage, &q) < 0)
		goto fail;
	if (s->distinct) {
		size_t keys[1024], n = b->plan->v[pr->stage].out.n;
		int red = pb_add_stage(b, SCH_STAGE_REDUCE, b->opts->nodes);
		for (size_t i = 0; i < n && i < 1024; i++)
			keys[i] = i;
		if (red < 0 || pb_connect(b, pr->stage, red, "r0", keys, n < 1024 ? n : 1024) < 0)
			return -1;
		for (size_t i = 0; i < n; i++)
			if (pb_add_col(b, &b->plan->v[red].out, b->plan->v[pr->stage].out.v[i].name,
				       b->plan->v[pr->stage].out.v[i].type) < 0)
				return -1;
		cmn_buf_init(&q, 0);
		if (cmn_buf_append_str(&q, "SELECT DISTINCT * FROM \"r0\"", b->err) < 0 ||
		    (s->has_limit && order_clause(b, s, &om, &q) < 0) || pb_sql_set(b, red, &q) < 0)
			goto fail;
		last = red;
	}
	return final_stage(b, s, last, &om, pb_select_width(s), false);
fail:
	cmn_buf_free(&q);
	return -1;
}

/* ---- aggregation ----------------------------------------------------------- */

struct aggs {
	const struct sch_q_select *s;
	const struct sch_q_expr *v[256];
	size_t n;
	bool raw;       /* a non-decomposable aggregate: ship rows, aggregate in REDUCE */
	bool in_reduce; /* the hook renders for the merging stage */
	const char *project;
};

static int collect_aggs(struct pb *b, struct aggs *a, const struct sch_q_expr *e)
{
	if (!e)
		return 0;
	if (e->kind == SCH_QE_CALL && (e->fkind == SCH_QF_AGGREGATE || e->fkind == SCH_QF_UDAF)) {
		for (size_t i = 0; i < a->n; i++)
			if (sch_q_expr_equal(a->v[i], e))
				return 0;
		if (a->n >= 256)
			return cmn_err_set(b->err, CMN_ELIMIT, 0, "too many aggregates");
		a->v[a->n++] = e;
		if (e->distinct)
			a->raw = true;
		return 0;
	}
	for (size_t i = 0; i < e->nargs; i++)
		if (collect_aggs(b, a, e->args[i]) < 0)
			return -1;
	return 0;
}

static bool is_fn(const struct sch_q_expr *e, const char *name)
{
	return e->fkind == SCH_QF_AGGREGATE && strcasecmp(e->name, name) == 0;
}

/* In the merging stage: GROUP BY expressions are k<i>, aggregates merge
 * their partial columns a<j>_<m> (or aggregate the shipped x<j>_<m>). */
static int merge_hook(void *arg, const struct sch_q_expr *e, struct cmn_buf *q, struct cmn_err *err)
{
	struct aggs *a = arg;
	char fname[300];

	for (size_t i = 0; i < a->s->ngroup; i++)
		if (sch_q_expr_equal(a->s->group[i], e))
			return cmn_buf_printf(q, err, "\"k%zu\"", i) < 0 ? -1 : 1;
	for (size_t j = 0; j < a->n; j++) {
		const struct sch_q_expr *g = a->v[j];
		if (!sch_q_expr_equal(g, e))
			continue;
		if (g->fkind == SCH_QF_UDAF &&
		    sch_plan_fn_name(g->fn_ref, a->project, fname, sizeof(fname)) < 0)
			return cmn_err_set(err, CMN_EINVAL, 0, "function name too long");
		if (a->raw) {
			const char *fn = g->fkind == SCH_QF_UDAF ? NULL : g->name;
			if (fn ? cmn_buf_printf(q, err, "%s(%s", fn,
						g->distinct ? "DISTINCT " : "") < 0
			       : (pl_ident(q, fname, err) < 0 ||
				  cmn_buf_append_str(q, "(", err) < 0))
				return -1;
			if (g->nargs == 1 && g->args[0]->kind == SCH_QE_STAR) {
				if (cmn_buf_append_str(q, "*", err) < 0)
					return -1;
			} else {
				for (size_t m = 0; m < g->nargs; m++)
					if (cmn_buf_printf(q, err, "%s\"x%zu_%zu\"", m ? ", " : "",
							   j, m) < 0)
						return -1;
			}
			return cmn_buf_append_str(q, ")", err) < 0 ? -1 : 1;
		}
		if (g->fkind == SCH_QF_UDAF) {
			if (cmn_buf_printf(q, err, "\"%s__final\"(\"a%zu_0\")", fname, j) < 0)
				return -1;
		} else if (is_fn(g, "AVG")) {
			if (cmn_buf_printf(q, err,
					   "(CAST(sum(\"a%zu_0\") AS REAL) / sum(\"a%zu_1\"))", j,
					   j) < 0)
				return -1;
		} else if (cmn_buf_printf(q, err, "%s(\"a%zu_0\")",
					  is_fn(g, "COUNT") ? "sum" : g->name, j) < 0) {
			return -1;
		}
		return 1;
	}
	return 0;
}

/* The producer's partial aggregate columns for aggregate j. */
static int partial_cols(struct pb *b, struct prod *pr, struct aggs *a, size_t j, struct cmn_buf *q)
{
	const struct sch_q_expr *g = a->v[j];
	struct sch_plan_cols *out = &b->plan->v[pr->stage].out;
	char nm[32], fname[300];

	snprintf(nm, sizeof(nm), "a%zu_0", j);
	if (a->raw) {
		for (size_t m = 0; m < g->nargs; m++) {
			if (g->args[m]->kind == SCH_QE_STAR)
				continue;
			snprintf(nm, sizeof(nm), "x%zu_%zu", j, m);
			if (cmn_buf_append_str(q, ", ", b->err) < 0 ||
			    pl_expr(&pr->r, g->args[m], q) < 0 ||
			    cmn_buf_printf(q, b->err, " AS \"%s\"", nm) < 0 ||
			    pb_add_col(b, out, nm, g->args[m]->ty) < 0)
				return -1;
		}
		return 0;
	}
	if (g->fkind == SCH_QF_UDAF) {
		if (sch_plan_fn_name(g->fn_ref, a->project, fname, sizeof(fname)) < 0)
			return cmn_err_set(b->err, CMN_EINVAL, 0, "function name too long");
		if (cmn_buf_printf(q, b->err, ", \"%s__partial\"(", fname) < 0)
			return -1;
		for (size_t m = 0; m < g->nargs; m++)
			if ((m && cmn_buf_append_str(q, ", ", b->err) < 0) ||
			    pl_expr(&pr->r, g->args[m], q) < 0)
				return -1;
		return cmn_buf_printf(q, b->err, ") AS \"%s\"", nm) < 0
			   ? -1
			   : pb_add_col(b, out, nm, SCH_QT_BINARY);
	}
	if (cmn_buf_printf(q, b->err, ", %s(", is_fn(g, "AVG") ? "sum" : g->name) < 0 ||
	    pl_expr(&pr->r, g->args[0], q) < 0 || cmn_buf_printf(q, b->err, ") AS \"%s\"", nm) < 0)
		return -1;
	if (pb_add_col(b, out, nm,
		       is_fn(g, "COUNT") ? SCH_QT_BIGINT
		       : is_fn(g, "AVG")
			   ? (g->args[0]->ty == SCH_QT_BIGINT ? SCH_QT_BIGINT : SCH_QT_DOUBLE)
			   : g->ty) < 0)
		return -1;
	if (!is_fn(g, "AVG"))
		return 0;
	snprintf(nm, sizeof(nm), "a%zu_1", j);
	if (cmn_buf_append_str(q, ", count(", b->err) < 0 || pl_expr(&pr->r, g->args[0], q) < 0 ||
	    cmn_buf_printf(q, b->err, ") AS \"%s\"", nm) < 0)
		return -1;
	return pb_add_col(b, out, nm, SCH_QT_BIGINT);
}

static int produce_agg(struct pb *b, struct prod *pr)
{
	const struct sch_q_select *s = pr->s;
	struct aggs a = { .s = s, .project = b->opts->project };
	struct order_map om = { .n = 0 };
	struct cmn_buf q;
	size_t keys[256];
	int red;
	char nm[32];

	if (s->ngroup > 256)
		return cmn_err_set(b->err, CMN_ELIMIT, 0, "too many GROUP BY expressions");
	for (size_t i = 0; i < s->nitems; i++)
		if (collect_aggs(b, &a, s->items[i].e) < 0)
			return -1;
	if (collect_aggs(b, &a, s->having) < 0)
		return -1;
	for (size_t i = 0; i < s->norder; i++)
		if (s->order[i].e->src != -2 && collect_aggs(b, &a, s->order[i].e) < 0)
			return -1;
	/* the producer: group keys and partial aggregates (or the raw arguments) */
	cmn_buf_init(&q, 0);
	if (cmn_buf_append_str(&q, "SELECT ", b->err) < 0)
		goto fail;
	for (size_t i = 0; i < s->ngroup; i++) {
		snprintf(nm, sizeof(nm), "k%zu", i);
		keys[i] = i;
		if ((i && cmn_buf_append_str(&q, ", ", b->err) < 0) ||
		    pl_expr(&pr->r, s->group[i], &q) < 0 ||
		    cmn_buf_printf(&q, b->err, " AS \"%s\"", nm) < 0 ||
		    pb_add_col(b, &b->plan->v[pr->stage].out, nm, s->group[i]->ty) < 0)
			goto fail;
	}
	if (!s->ngroup && cmn_buf_append_str(&q, "0 AS \"g\"", b->err) < 0)
		goto fail;
	if (!s->ngroup && pb_add_col(b, &b->plan->v[pr->stage].out, "g", SCH_QT_BIGINT) < 0)
		goto fail;
	for (size_t j = 0; j < a.n; j++)
		if (partial_cols(b, pr, &a, j, &q) < 0)
			goto fail;
	if (from_clause(b, pr, &q) < 0)
		goto fail;
	for (size_t i = 0; !a.raw && i < s->ngroup; i++)
		if (cmn_buf_append_str(&q, i ? ", " : " GROUP BY ", b->err) < 0 ||
		    pl_expr(&pr->r, s->group[i], &q) < 0)
			goto fail;
	if (pb_sql_set(b, pr->stage, &q) < 0)
		goto fail;
	/* the merge: one REDUCE, hash-partitioned on the group keys */
	red = pb_add_stage(b, SCH_STAGE_REDUCE, s->ngroup ? b->opts->nodes : 1);
	if (red < 0 || pb_connect(b, pr->stage, red, "r0", keys, s->ngroup) < 0)
		return -1;
	{
		struct prod mp = *pr;
		mp.stage = red;
		mp.r.hook = merge_hook;
		mp.r.hook_arg = &a;
		a.in_reduce = true;
		cmn_buf_init(&q, 0);
		if (cmn_buf_append_str(&q, "SELECT ", b->err) < 0 ||
		    visible_items(b, &mp, &q, red) < 0 ||
		    order_outputs(b, &mp, red, &om, &q, !s->distinct) < 0 ||
		    cmn_buf_append_str(&q, " FROM \"r0\"", b->err) < 0)
			goto fail;
		for (size_t i = 0; i < s->ngroup; i++)
			if (cmn_buf_printf(&q, b->err, "%s\"k%zu\"", i ? ", " : " GROUP BY ", i) <
			    0)
				goto fail;
		if (s->having && (cmn_buf_append_str(&q, " HAVING ", b->err) < 0 ||
				  pl_expr(&mp.r, s->having, &q) < 0))
			goto fail;
		if (s->has_limit && !s->distinct && order_clause(b, s, &om, &q) < 0)
			goto fail;
		if (pb_sql_set(b, red, &q) < 0)
			goto fail;
	}
	return final_stage(b, s, red, &om, pb_select_width(s), s->distinct);
fail:
	cmn_buf_free(&q);
	return -1;
}

static bool grouped(const struct sch_q_select *s)
{
	if (s->ngroup || s->having)
		return true;
	for (size_t i = 0; i < s->nitems; i++)
		if (s->items[i].e && sch_q_expr_has_agg(s->items[i].e))
			return true;
	for (size_t i = 0; i < s->norder; i++)
		if (s->order[i].e->src != -2 && sch_q_expr_has_agg(s->order[i].e))
			return true;
	return false;
}

int pb_produce(struct pb *b, struct prod *pr)
{
	return grouped(pr->s) ? produce_agg(b, pr) : produce_plain(b, pr);
}

/* ---- pipelines --------------------------------------------------------------- */

/* One table at the bottom of zero or more LATERAL VIEWs. */
static const struct sch_q_from *single_leaf(const struct sch_q_from *f)
{
	while (f && f->kind == SCH_QF_LATERAL)
		f = f->left;
	return f && f->kind == SCH_QF_TABLE ? f : NULL;
}

static int lateral_chain(struct pb *b, struct pl_render *r, const struct sch_q_from *f,
			 struct cmn_buf *q)
{
	if (f->kind != SCH_QF_LATERAL)
		return 0;
	if (lateral_chain(b, r, f->left, q) < 0 ||
	    cmn_buf_append_str(q, " CROSS JOIN ", b->err) < 0 || pl_udtf_call(r, f->udtf, q) < 0 ||
	    cmn_buf_append_str(q, " AS ", b->err) < 0)
		return -1;
	return pl_ident(q, f->alias, b->err);
}

static int plan_single_sql(struct pb *b, struct prod *pr, const struct sch_q_from *leaf, int map);

static int plan_single(struct pb *b, struct prod *pr, const struct sch_q_from *leaf)
{
	struct pb_udfcols uc;
	int map = pb_add_stage(b, SCH_STAGE_MAP, b->opts->nodes), rc;

	if (map < 0 || pb_scan_input(b, map, "in0", pr->s, leaf) < 0)
		return -1;
	/* scalar UDFs over in0's columns: evaluated by the node in batches */
	if (pb_udfcols_begin(b, &uc, map, 0, pr->s, leaf, &pr->r) < 0) {
		pb_udfcols_end(&uc);
		return -1;
	}
	rc = plan_single_sql(b, pr, leaf, map);
	pr->r.hook = NULL;
	pr->r.hook_arg = NULL;
	pb_udfcols_end(&uc);
	return rc;
}

static int plan_single_sql(struct pb *b, struct prod *pr, const struct sch_q_from *leaf, int map)
{
	struct cmn_buf q;

	cmn_buf_init(&q, 0);
	if (cmn_buf_append_str(&q, "\"in0\" AS ", b->err) < 0 ||
	    pl_ident(&q, leaf->alias ? leaf->alias : leaf->table.name, b->err) < 0 ||
	    lateral_chain(b, &pr->r, pr->s->from, &q) < 0) {
		cmn_buf_free(&q);
		return -1;
	}
	pr->from = cmn_buf_steal(&q, NULL);
	if (!pr->from)
		return pb_oom(b);
	pr->stage = map;
	return pb_produce(b, pr);
}

/* ---- entry ---------------------------------------------------------------------- */

/* Functions each stage's SQL calls (by their quoted SQL names). */
static int stage_functions(struct pb *b, const struct sch_q_resolved *res)
{
	for (size_t si = 0; si < b->plan->n; si++) {
		struct sch_plan_stage *st = &b->plan->v[si];
		for (size_t f = 0; st->sql && f < res->nfns; f++) {
			char name[300], pat[320];
			bool used = false;
			if (sch_plan_fn_name(res->fns[f].ref, b->opts->project, name,
					     sizeof(name)) < 0)
				continue;
			snprintf(pat, sizeof(pat), "\"%s\"(", name);
			used = strstr(st->sql, pat) != NULL;
			snprintf(pat, sizeof(pat), "\"%s__partial\"(", name);
			used = used || strstr(st->sql, pat);
			snprintf(pat, sizeof(pat), "\"%s__final\"(", name);
			used = used || strstr(st->sql, pat);
			for (size_t i = 0; i < st->ninputs; i++)
				for (size_t k = 0; k < st->inputs[i].ncomputed; k++)
					used = used || strcmp(st->inputs[i].computed[k].fn_ref,
							      res->fns[f].ref) == 0;
			if (!used)
				continue;
			char **nv = realloc(st->fn_refs, (st->nfns + 1) * sizeof(*nv));
			if (!nv)
				return pb_oom(b);
			st->fn_refs = nv;
			nv[st->nfns] = strdup(res->fns[f].ref);
			if (!nv[st->nfns])
				return pb_oom(b);
			st->nfns++;
		}
	}
	return 0;
}

/* One SELECT (a whole query, or a UNION ALL branch) ending in FINAL. */
static int plan_branch(struct pb *b, const struct sch_q_select *sel)
{
	const struct sch_q_from *leaf = single_leaf(sel->from);
	struct sch_q_query one = { .v = NULL, .n = 1 };
	struct prod pr = { 0 };
	int rc;

	if (!leaf && !pb_join_ok(sel->from)) {
		const struct sch_q_from *dleaf = NULL;
		const struct sch_q_select *owner = NULL;
		struct sch_q_select *v[1];
		int map;

		pr.s = sel;
		pr.r.project = b->opts->project;
		pr.r.err = b->err;
		pr.r.sel = sel;
		rc = pb_derived(b, sel->from, &dleaf, &owner, &pr.from);
		if (rc < 0)
			return -1;
		if (rc == 1) {
			/* the MAP computes the derived table per slice, then the SELECT */
			map = pb_add_stage(b, SCH_STAGE_MAP, b->opts->nodes);
			if (map < 0 || pb_scan_input(b, map, "in0", owner, dleaf) < 0 ||
			    pl_aliases(sel, &pr.r.aliases, &pr.r.naliases, b->err) < 0) {
				free(pr.from);
				return -1;
			}
			pr.stage = map;
			rc = pb_produce(b, &pr);
			pl_aliases_free(pr.r.aliases, pr.r.naliases);
			free(pr.from);
			return rc;
		}
		memcpy(v, &sel, sizeof(sel)); /* the renderer only reads it */
		one.v = v;
		return pb_gather(b, &one);
	}
	pr.s = sel;
	pr.r.project = b->opts->project;
	pr.r.err = b->err;
	pr.r.sel = sel;
	if (pl_aliases(sel, &pr.r.aliases, &pr.r.naliases, b->err) < 0)
		return -1;
	rc = leaf ? plan_single(b, &pr, leaf) : pb_plan_join(b, &pr);
	pl_aliases_free(pr.r.aliases, pr.r.naliases);
	free(pr.from);
	return rc;
}

int sch_plan_build(const struct sch_q_stmt *s, const struct sch_q_resolved *res,
		   const struct sch_plan_opts *opts, struct sch_plan *out, struct cmn_err *err)
{
	struct pb b = { .plan = out, .opts = opts, .err = err };
	const struct sch_q_query *q = s->query;
	int rc;

	memset(out, 0, sizeof(*out));
	out->res = res;
	if (opts->nodes < 1 || opts->nodes > SCH_PLAN_MAX_NODES)
		return cmn_err_set(err, CMN_EINVAL, 0, "cordon.nodes must be 1..%d, not %d",
				   SCH_PLAN_MAX_NODES, opts->nodes);
	if (!q && !(s->kind == SCH_Q_INSERT && s->nrows && res->target))
		return cmn_err_set(err, CMN_EINVAL, 0, "%d:%d: nothing to plan", s->line, s->col);
	out->project = strdup(opts->project);
	if (!out->project)
		return pb_oom(&b);
	if (!q)
		rc = pb_values(&b, s);
	else if (q->n == 1)
		rc = plan_branch(&b, q->v[0]);
	else
		rc = pb_union(&b, q, plan_branch);
	if (rc == 0 && s->kind == SCH_Q_INSERT && res->target)
		rc = pb_insert_target(&b, s, res);
	if (rc == 0)
		rc = stage_functions(&b, res);
	if (rc < 0)
		sch_plan_free(out);
	return rc;
}
