/* scheduler/plan_gather.c — the general plan (every table reference
 * scanned by its own MAP with its SELECT's WHERE when it is that SELECT's
 * only source; FINAL runs the whole query) and the shaping of FINAL's
 * output for INSERT. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scheduler/plan_int.h"

/* ---- gather: every table to FINAL, which runs the whole query ------------------ */

struct gather {
	struct pb *b;
	const struct sch_q_select *sel[64];
	const struct sch_q_from *leaf[64];
	char *names[64];
	size_t n;
};

static const char *gather_leaf(void *arg, const struct sch_q_select *s,
			       const struct sch_q_from *leaf, struct cmn_err *err)
{
	struct gather *g = arg;
	char nm[32];
	if (g->n >= 64) {
		cmn_err_set(err, CMN_ELIMIT, 0, "%d:%d: more than 64 table references", leaf->line,
			    leaf->col);
		return NULL;
	}
	snprintf(nm, sizeof(nm), "g%zu", g->n);
	g->names[g->n] = strdup(nm);
	if (!g->names[g->n]) {
		cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		return NULL;
	}
	g->sel[g->n] = s;
	g->leaf[g->n] = leaf;
	return g->names[g->n++];
}

/* The SELECT's WHERE already in the scan when the table is its only
 * source (FINAL applies it again, which changes nothing). */
static int push_where(struct pb *b, const struct sch_q_select *s, const struct sch_q_from *leaf,
		      struct cmn_buf *m)
{
	struct pl_render r = { .project = b->opts->project, .err = b->err, .sel = s };
	int rc;

	if (s->from != leaf || !s->where)
		return 0;
	if (pl_aliases(s, &r.aliases, &r.naliases, b->err) < 0)
		return -1;
	rc = cmn_buf_append_str(m, " AS ", b->err) < 0 ||
		     pl_ident(m, leaf->alias ? leaf->alias : leaf->table.name, b->err) < 0 ||
		     cmn_buf_append_str(m, " WHERE ", b->err) < 0 || pl_expr(&r, s->where, m) < 0
		 ? -1
		 : 0;
	pl_aliases_free(r.aliases, r.naliases);
	return rc;
}

int pb_gather(struct pb *b, const struct sch_q_query *query)
{
	struct gather g = { .b = b, .n = 0 };
	struct pl_render r = {
		.project = b->opts->project, .leaf = gather_leaf, .leaf_arg = &g, .err = b->err
	};
	struct cmn_buf q, m;
	int fin, rc = -1;
	char buf[32];

	cmn_buf_init(&q, 0);
	if (pl_query(&r, query, &q) < 0)
		goto out;
	for (size_t i = 0; i < g.n; i++) {
		int map = pb_add_stage(b, SCH_STAGE_MAP, b->opts->nodes);
		struct sch_plan_input *in;
		if (map < 0 || pb_scan_input(b, map, "in0", g.sel[i], g.leaf[i]) < 0)
			goto out;
		in = &b->plan->v[map].inputs[0];
		cmn_buf_init(&m, 0);
		if (cmn_buf_append_str(&m, "SELECT ", b->err) < 0)
			goto mfail;
		for (size_t c = 0; c < in->cols.n; c++)
			if ((c && cmn_buf_append_str(&m, ", ", b->err) < 0) ||
			    pl_ident(&m, in->cols.v[c].name, b->err) < 0 ||
			    pb_add_col(b, &b->plan->v[map].out, in->cols.v[c].name,
				       in->cols.v[c].type) < 0)
				goto mfail;
		if (cmn_buf_append_str(&m, " FROM \"in0\"", b->err) < 0 ||
		    push_where(b, g.sel[i], g.leaf[i], &m) < 0 || pb_sql_set(b, map, &m) < 0)
			goto mfail;
		continue;
	mfail:
		cmn_buf_free(&m);
		goto out;
	}
	fin = pb_add_stage(b, SCH_STAGE_FINAL, 1);
	if (fin < 0)
		goto out;
	for (size_t i = 0; i < g.n; i++)
		if (pb_connect(b, (int)i + (fin - (int)g.n), fin, g.names[i], NULL, 0) < 0)
			goto out;
	for (size_t i = 0; i < pb_select_width(query->v[0]); i++)
		if (pb_add_col(b, &b->plan->v[fin].out,
			       sch_q_item_name(query->v[0], i, buf, sizeof(buf)),
			       query->v[0]->transform     ? SCH_QT_STRING
			       : query->v[0]->udtf_cols.n ? query->v[0]->items[0].e->ty
							  : query->v[0]->items[i].e->ty) < 0)
			goto out;
	rc = pb_sql_set(b, fin, &q);
out:
	if (rc < 0)
		cmn_buf_free(&q);
	for (size_t i = 0; i < g.n; i++)
		free(g.names[i]);
	return rc;
}

/* INSERT: FINAL's rows become the target's data columns in table order,
 * cast to their types; columns the INSERT does not name are NULL. The
 * query's own output is renamed positionally through a CTE column list. */
int pb_insert_target(struct pb *b, const struct sch_q_stmt *s, const struct sch_q_resolved *res)
{
	const struct sch_tabledef *t = res->target;
	struct sch_plan_stage *fin = &b->plan->v[b->plan->n - 1];
	size_t ndata = t->ncols - t->npcols, w = fin->out.n;
	struct sch_plan_cols out = { 0 };
	struct cmn_buf q;

	cmn_buf_init(&q, 0);
	if (cmn_buf_append_str(&q, "WITH \"_q\"(", b->err) < 0)
		goto fail;
	for (size_t i = 0; i < w; i++)
		if (cmn_buf_printf(&q, b->err, "%s\"p%zu\"", i ? ", " : "", i) < 0)
			goto fail;
	if (cmn_buf_printf(&q, b->err, ") AS (%s) SELECT ", fin->sql) < 0)
		goto fail;
	for (size_t j = 0; j < ndata; j++) {
		long src = s->insert_cols.n ? -1 : (long)j;
		for (size_t k = 0; k < s->insert_cols.n; k++)
			if (strcasecmp(s->insert_cols.v[k], t->cols[j].name) == 0)
				src = (long)k;
		if (j && cmn_buf_append_str(&q, ", ", b->err) < 0)
			goto fail;
		if (src < 0 ? cmn_buf_append_str(&q, "NULL", b->err) < 0
			    : cmn_buf_printf(&q, b->err, "CAST(\"p%ld\" AS %s)", src,
					     t->cols[j].type == SCH_QT_DOUBLE   ? "REAL"
					     : t->cols[j].type == SCH_QT_STRING ? "TEXT"
					     : t->cols[j].type == SCH_QT_BINARY ? "BLOB"
										: "INTEGER") < 0)
			goto fail;
		if (cmn_buf_append_str(&q, " AS ", b->err) < 0 ||
		    pl_ident(&q, t->cols[j].name, b->err) < 0 ||
		    pb_add_col(b, &out, t->cols[j].name, t->cols[j].type) < 0)
			goto fail;
	}
	if (cmn_buf_append_str(&q, " FROM \"_q\"", b->err) < 0 ||
	    pb_sql_set(b, (int)b->plan->n - 1, &q) < 0)
		goto fail;
	for (size_t i = 0; i < fin->out.n; i++)
		free(fin->out.v[i].name);
	free(fin->out.v);
	fin->out = out;
	return 0;
fail:
	cmn_buf_free(&q);
	for (size_t i = 0; i < out.n; i++)
		free(out.v[i].name);
	free(out.v);
	return -1;
}

/* INSERT ... VALUES: one FINAL node, no inputs. */
int pb_values(struct pb *b, const struct sch_q_stmt *s)
{
	struct pl_render r = { .project = b->opts->project, .err = b->err };
	int fin = pb_add_stage(b, SCH_STAGE_FINAL, 1);
	struct cmn_buf q;
	char nm[32];

	if (fin < 0)
		return -1;
	cmn_buf_init(&q, 0);
	for (size_t i = 0; i < s->nrows; i++) {
		if (cmn_buf_append_str(&q, i ? ", (" : "VALUES (", b->err) < 0)
			goto fail;
		for (size_t c = 0; c < s->nvalcols; c++)
			if ((c && cmn_buf_append_str(&q, ", ", b->err) < 0) ||
			    pl_expr(&r, s->values[i][c], &q) < 0)
				goto fail;
		if (cmn_buf_append_str(&q, ")", b->err) < 0)
			goto fail;
	}
	for (size_t c = 0; c < s->nvalcols; c++) {
		snprintf(nm, sizeof(nm), "column%zu", c + 1);
		if (pb_add_col(b, &b->plan->v[fin].out, nm, s->values[0][c]->ty) < 0)
			goto fail;
	}
	return pb_sql_set(b, fin, &q);
fail:
	cmn_buf_free(&q);
	return -1;
}

int pb_union(struct pb *b, const struct sch_q_query *q,
	     int (*branch)(struct pb *b, const struct sch_q_select *sel))
{
	int last[64], fin;
	struct cmn_buf sql;
	char nm[32];

	if (q->n > 64)
		return cmn_err_set(b->err, CMN_ELIMIT, 0, "%d:%d: more than 64 UNION ALL branches",
				   q->v[0]->line, q->v[0]->col);
	for (size_t i = 0; i < q->n; i++) {
		if (branch(b, q->v[i]) < 0)
			return -1;
		last[i] = (int)b->plan->n - 1;
		b->plan->v[last[i]].kind = SCH_STAGE_REDUCE; /* still one node */
	}
	fin = pb_add_stage(b, SCH_STAGE_FINAL, 1);
	if (fin < 0)
		return -1;
	cmn_buf_init(&sql, 0);
	for (size_t i = 0; i < q->n; i++) {
		snprintf(nm, sizeof(nm), "u%zu", i);
		if (pb_connect(b, last[i], fin, nm, NULL, 0) < 0 ||
		    cmn_buf_printf(&sql, b->err, "%sSELECT * FROM \"%s\"", i ? " UNION ALL " : "",
				   nm) < 0)
			goto fail;
	}
	/* the first branch names the columns */
	for (size_t c = 0; c < b->plan->v[last[0]].out.n; c++)
		if (pb_add_col(b, &b->plan->v[fin].out, b->plan->v[last[0]].out.v[c].name,
			       b->plan->v[last[0]].out.v[c].type) < 0)
			goto fail;
	return pb_sql_set(b, fin, &sql);
fail:
	cmn_buf_free(&sql);
	return -1;
}

/* ---- derived tables that a MAP can compute itself ---------------------------- */

static bool simple_select(const struct sch_q_select *s)
{
	if (s->distinct || s->norder || s->has_limit || s->transform || s->udtf_cols.n ||
	    s->ngroup || s->having || !s->from)
		return false;
	for (size_t i = 0; i < s->nitems; i++)
		if (s->items[i].e && sch_q_expr_has_agg(s->items[i].e))
			return false;
	return true;
}

/* The one base table under f when f is a table (+ LATERAL VIEWs) or a
 * subquery made only of row-by-row SELECTs over one; *owner is the SELECT
 * whose FROM holds it. */
static const struct sch_q_from *row_leaf(const struct sch_q_from *f,
					 const struct sch_q_select **owner,
					 const struct sch_q_select *sel)
{
	const struct sch_q_from *base = f;
	while (base && base->kind == SCH_QF_LATERAL)
		base = base->left;
	if (!base)
		return NULL;
	if (base->kind == SCH_QF_TABLE) {
		*owner = sel;
		return base;
	}
	if (base != f || base->kind != SCH_QF_SUBQUERY || base->sub->n != 1 ||
	    !simple_select(base->sub->v[0]))
		return NULL;
	return row_leaf(base->sub->v[0]->from, owner, base->sub->v[0]);
}

struct one_leaf {
	const struct sch_q_from *leaf;
};

static const char *in0_leaf(void *arg, const struct sch_q_select *s, const struct sch_q_from *leaf,
			    struct cmn_err *err)
{
	struct one_leaf *o = arg;
	(void)s;
	if (o->leaf != leaf) {
		cmn_err_set(err, CMN_EINTERNAL, 0, "derived table with two scans");
		return NULL;
	}
	return "in0";
}

int pb_derived(struct pb *b, const struct sch_q_from *f, const struct sch_q_from **leaf,
	       const struct sch_q_select **owner, char **from_text)
{
	struct one_leaf o;
	struct pl_render r = { .project = b->opts->project, .leaf = in0_leaf, .err = b->err };
	struct cmn_buf q;

	if (!f || f->kind != SCH_QF_SUBQUERY || f->sub->n != 1 || !simple_select(f->sub->v[0]))
		return 0;
	o.leaf = row_leaf(f->sub->v[0]->from, owner, f->sub->v[0]);
	if (!o.leaf)
		return 0;
	*leaf = o.leaf;
	r.leaf_arg = &o;
	cmn_buf_init(&q, 0);
	if (cmn_buf_append_str(&q, "(", b->err) < 0 || pl_query(&r, f->sub, &q) < 0 ||
	    cmn_buf_append_str(&q, ") AS ", b->err) < 0 || pl_ident(&q, f->alias, b->err) < 0) {
		cmn_buf_free(&q);
		return -1;
	}
	*from_text = cmn_buf_steal(&q, NULL);
	return *from_text ? 1 : pb_oom(b);
}
