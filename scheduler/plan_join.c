/* scheduler/plan_join.c — joins: two tables (MAP per side, REDUCE on the
 * equi-join keys) and left-deep chains of them (each further table joins
 * the previous join's REDUCE output in another REDUCE). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scheduler/plan_int.h"

/* True when every column of e belongs to source src (and there is one). */
static bool only_src(const struct sch_q_expr *e, int src, bool *any)
{
	if (e->kind == SCH_QE_COLUMN) {
		*any = true;
		return e->src == src;
	}
	for (size_t i = 0; i < e->nargs; i++)
		if (!only_src(e->args[i], src, any))
			return false;
	return true;
}

static bool side_of(const struct sch_q_expr *e, int src)
{
	bool any = false;
	return only_src(e, src, &any) && any;
}

struct conj {
	const struct sch_q_expr *v[128];
	size_t n;
};

static void conjuncts(const struct sch_q_expr *e, struct conj *c)
{
	if (!e)
		return;
	if (e->kind == SCH_QE_BINARY && strcmp(e->op, "AND") == 0) {
		conjuncts(e->args[0], c);
		conjuncts(e->args[1], c);
	} else if (c->n < 128) {
		c->v[c->n++] = e;
	}
}

/* MAP over one side of a join: the columns the query reads, the key
 * columns (cast to the common type of both sides), and the WHERE
 * conjuncts that may be applied before the join. */
static int join_side(struct pb *b, struct prod *pr, const struct sch_q_from *leaf,
		     const struct sch_q_expr *const *keys, const enum sch_q_type *ktypes,
		     size_t nkeys, bool push, size_t *kidx)
{
	const struct sch_q_select *s = pr->s;
	int map = pb_add_stage(b, SCH_STAGE_MAP, b->opts->nodes);
	struct sch_plan_input *in;
	struct conj w = { .n = 0 };
	struct cmn_buf q;
	bool first_where = true;

	if (map < 0 || pb_scan_input(b, map, "in0", s, leaf) < 0)
		return -1;
	in = &b->plan->v[map].inputs[0];
	cmn_buf_init(&q, 0);
	if (cmn_buf_append_str(&q, "SELECT ", b->err) < 0)
		goto fail;
	for (size_t i = 0; i < in->cols.n; i++)
		if ((i && cmn_buf_append_str(&q, ", ", b->err) < 0) ||
		    pl_ident(&q, in->cols.v[i].name, b->err) < 0 ||
		    pb_add_col(b, &b->plan->v[map].out, in->cols.v[i].name, in->cols.v[i].type) < 0)
			goto fail;
	for (size_t k = 0; k < nkeys; k++) {
		char nm[32];
		snprintf(nm, sizeof(nm), "__cordon_j%zu", k);
		kidx[k] = b->plan->v[map].out.n;
		if (cmn_buf_append_str(&q, ", CAST(", b->err) < 0 ||
		    pl_expr(&pr->r, keys[k], &q) < 0 ||
		    cmn_buf_printf(&q, b->err, " AS %s) AS \"%s\"",
				   ktypes[k] == SCH_QT_DOUBLE   ? "REAL"
				   : ktypes[k] == SCH_QT_STRING ? "TEXT"
				   : ktypes[k] == SCH_QT_BINARY ? "BLOB"
								: "INTEGER",
				   nm) < 0 ||
		    pb_add_col(b, &b->plan->v[map].out, nm, ktypes[k]) < 0)
			goto fail;
	}
	if (cmn_buf_append_str(&q, " FROM \"in0\" AS ", b->err) < 0 ||
	    pl_ident(&q, leaf->alias ? leaf->alias : leaf->table.name, b->err) < 0)
		goto fail;
	conjuncts(push ? s->where : NULL, &w);
	for (size_t i = 0; i < w.n; i++) {
		if (!side_of(w.v[i], leaf->src_index) || sch_q_expr_has_agg(w.v[i]))
			continue;
		if (cmn_buf_append_str(&q, first_where ? " WHERE " : " AND ", b->err) < 0 ||
		    pl_expr(&pr->r, w.v[i], &q) < 0)
			goto fail;
		first_where = false;
	}
	if (pb_sql_set(b, map, &q) < 0)
		goto fail;
	return map;
fail:
	cmn_buf_free(&q);
	return -1;
}

int pb_plan_join(struct pb *b, struct prod *pr)
{
	const struct sch_q_from *j = pr->s->from, *l = j->left, *r = j->right;
	const struct sch_q_expr *lk[128], *rk[128];
	enum sch_q_type kt[128];
	struct conj on = { .n = 0 };
	size_t nk = 0, k0[128], k1[128];
	int red, m0, m1;
	struct cmn_buf q;

	conjuncts(j->on, &on);
	for (size_t i = 0; i < on.n; i++) {
		const struct sch_q_expr *e = on.v[i];
		int t;
		if (e->kind != SCH_QE_BINARY || strcmp(e->op, "=") != 0)
			continue;
		t = (int)e->args[0]->ty == SCH_QT_NULL ? (int)e->args[1]->ty : (int)e->args[0]->ty;
		if (e->args[0]->ty != e->args[1]->ty)
			t = SCH_QT_DOUBLE; /* numeric mixes only (the resolver checked) */
		if (side_of(e->args[0], l->src_index) && side_of(e->args[1], r->src_index)) {
			lk[nk] = e->args[0];
			rk[nk] = e->args[1];
		} else if (side_of(e->args[1], l->src_index) && side_of(e->args[0], r->src_index)) {
			lk[nk] = e->args[1];
			rk[nk] = e->args[0];
		} else {
			continue;
		}
		kt[nk++] = pb_concrete((enum sch_q_type)t);
	}
	m0 = join_side(b, pr, l, lk, kt, nk, j->join == SCH_QJ_INNER || j->join == SCH_QJ_LEFT, k0);
	if (m0 < 0)
		return -1;
	m1 =
	    join_side(b, pr, r, rk, kt, nk, j->join == SCH_QJ_INNER || j->join == SCH_QJ_RIGHT, k1);
	if (m1 < 0)
		return -1;
	/* without an equi-join key every row meets every other on one node */
	red = pb_add_stage(b, SCH_STAGE_REDUCE, nk ? b->opts->nodes : 1);
	if (red < 0 || pb_connect(b, m0, red, "r0", k0, nk) < 0 ||
	    pb_connect(b, m1, red, "r1", k1, nk) < 0)
		return -1;
	cmn_buf_init(&q, 0);
	{
		static const char *const kw[] = {
			"", " JOIN ", " LEFT JOIN ", " RIGHT JOIN ", " FULL JOIN ", " CROSS JOIN "
		};
		if (cmn_buf_append_str(&q, "\"r0\" AS ", b->err) < 0 ||
		    pl_ident(&q, l->alias ? l->alias : l->table.name, b->err) < 0 ||
		    cmn_buf_printf(&q, b->err, "%s\"r1\" AS ", kw[j->join]) < 0 ||
		    pl_ident(&q, r->alias ? r->alias : r->table.name, b->err) < 0 ||
		    cmn_buf_append_str(&q, " ON ", b->err) < 0 || pl_expr(&pr->r, j->on, &q) < 0) {
			cmn_buf_free(&q);
			return -1;
		}
	}
	pr->from = cmn_buf_steal(&q, NULL);
	if (!pr->from)
		return pb_oom(b);
	pr->stage = red;
	return pb_produce(b, pr);
}
