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

/* Sources (src indexes) under a FROM subtree, and the table leaf of each. */
struct jset {
	bool v[64];
};

static void leaves(const struct sch_q_from *f, struct jset *set, const struct sch_q_from **by_src)
{
	if (f->kind == SCH_QF_JOIN) {
		leaves(f->left, set, by_src);
		leaves(f->right, set, by_src);
	} else if (f->src_index >= 0 && f->src_index < 64) {
		set->v[f->src_index] = true;
		by_src[f->src_index] = f;
	}
}

static bool in_set(const struct sch_q_expr *e, const struct jset *s, bool *any)
{
	if (e->kind == SCH_QE_COLUMN) {
		*any = true;
		return e->src >= 0 && e->src < 64 && s->v[e->src];
	}
	for (size_t i = 0; i < e->nargs; i++)
		if (!in_set(e->args[i], s, any))
			return false;
	return true;
}

static bool side_of_set(const struct sch_q_expr *e, const struct jset *s)
{
	bool any = false;
	return in_set(e, s, &any) && any;
}

/* Columns of the sources an earlier join REDUCE carries: "__cordon_l"."s<src>c<col>". */
static int carried_hook(void *arg, const struct sch_q_expr *e, struct cmn_buf *q,
			struct cmn_err *err)
{
	const struct jset *set = arg;
	if (e->kind != SCH_QE_COLUMN || e->src < 0 || e->src >= 64 || !set->v[e->src])
		return 0;
	return cmn_buf_printf(q, err, "\"__cordon_l\".\"s%dc%d\"", e->src, e->colidx) < 0 ? -1 : 1;
}

struct jkeys {
	const struct sch_q_expr *l[128], *r[128];
	enum sch_q_type t[128];
	size_t n;
};

/* The `a = b` conjuncts of ON between the left sources and the right table. */
static void join_keys(const struct sch_q_from *f, const struct jset *lset, struct jkeys *k)
{
	struct conj on = { .n = 0 };
	struct jset rset = { { false } };

	rset.v[f->right->src_index] = true;
	k->n = 0;
	conjuncts(f->on, &on);
	for (size_t i = 0; i < on.n; i++) {
		const struct sch_q_expr *e = on.v[i];
		int t;
		if (e->kind != SCH_QE_BINARY || strcmp(e->op, "=") != 0)
			continue;
		t = (int)e->args[0]->ty == SCH_QT_NULL ? (int)e->args[1]->ty : (int)e->args[0]->ty;
		if (e->args[0]->ty != e->args[1]->ty)
			t = SCH_QT_DOUBLE; /* numeric mixes only (the resolver checked) */
		if (side_of_set(e->args[0], lset) && side_of_set(e->args[1], &rset)) {
			k->l[k->n] = e->args[0];
			k->r[k->n] = e->args[1];
		} else if (side_of_set(e->args[1], lset) && side_of_set(e->args[0], &rset)) {
			k->l[k->n] = e->args[1];
			k->r[k->n] = e->args[0];
		} else {
			continue;
		}
		k->t[k->n++] = pb_concrete((enum sch_q_type)t);
	}
}

bool pb_join_ok(const struct sch_q_from *f)
{
	if (!f || f->kind != SCH_QF_JOIN || f->join == SCH_QJ_CROSS || !f->on ||
	    f->right->kind != SCH_QF_TABLE || f->right->src_index >= 64)
		return false;
	if (f->left->kind == SCH_QF_TABLE)
		return f->left->src_index < 64;
	return pb_join_ok(f->left);
}

static const char *sqlite_cast(enum sch_q_type t)
{
	return t == SCH_QT_DOUBLE   ? "REAL"
	       : t == SCH_QT_STRING ? "TEXT"
	       : t == SCH_QT_BINARY ? "BLOB"
				    : "INTEGER";
}

static int join_level(struct pb *b, struct prod *pr, const struct sch_q_from *f, bool top,
		      const struct sch_q_expr *const *pk, const enum sch_q_type *pkt, size_t npk,
		      size_t *pkidx);

/* An intermediate join's output: every read column of its sources as
 * s<src>c<col>, then the parent join's keys. */
static int carry_sql(struct pb *b, struct prod *pr, int red, const struct sch_q_from *f,
		     const char *from, const struct sch_q_expr *const *pk,
		     const enum sch_q_type *pkt, size_t npk, size_t *pkidx)
{
	const struct sch_q_from *by_src[64] = { NULL };
	struct jset all = { { false } };
	struct cmn_buf q;
	bool first = true;
	char nm[48];

	leaves(f, &all, by_src);
	cmn_buf_init(&q, 0);
	if (cmn_buf_append_str(&q, "SELECT ", b->err) < 0)
		goto fail;
	for (int src = 0; src < 64; src++) {
		const struct sch_tabledef *def = all.v[src] ? by_src[src]->def : NULL;
		bool used[1024] = { false };
		if (!def || def->ncols > 1024)
			continue;
		pl_used_cols(pr->s, src, used, def->ncols);
		for (size_t c = 0; c < def->ncols; c++) {
			struct sch_q_expr col = { .kind = SCH_QE_COLUMN,
						  .src = src,
						  .colidx = (int)c,
						  .name = def->cols[c].name,
						  .rcol = def->cols[c].name };
			if (!used[c])
				continue;
			snprintf(nm, sizeof(nm), "s%dc%zu", src, c);
			if ((!first && cmn_buf_append_str(&q, ", ", b->err) < 0) ||
			    pl_expr(&pr->r, &col, &q) < 0 ||
			    cmn_buf_printf(&q, b->err, " AS \"%s\"", nm) < 0 ||
			    pb_add_col(b, &b->plan->v[red].out, nm, def->cols[c].type) < 0)
				goto fail;
			first = false;
		}
	}
	for (size_t k = 0; k < npk; k++) {
		snprintf(nm, sizeof(nm), "__cordon_j%zu", k);
		pkidx[k] = b->plan->v[red].out.n;
		if ((!first && cmn_buf_append_str(&q, ", ", b->err) < 0) ||
		    cmn_buf_append_str(&q, "CAST(", b->err) < 0 || pl_expr(&pr->r, pk[k], &q) < 0 ||
		    cmn_buf_printf(&q, b->err, " AS %s) AS \"%s\"", sqlite_cast(pkt[k]), nm) < 0 ||
		    pb_add_col(b, &b->plan->v[red].out, nm, pkt[k]) < 0)
			goto fail;
		first = false;
	}
	if (first && cmn_buf_append_str(&q, "0 AS \"g\"", b->err) < 0)
		goto fail;
	if (first && pb_add_col(b, &b->plan->v[red].out, "g", SCH_QT_BIGINT) < 0)
		goto fail;
	if (cmn_buf_printf(&q, b->err, " FROM %s", from) < 0)
		goto fail;
	return pb_sql_set(b, red, &q);
fail:
	cmn_buf_free(&q);
	return -1;
}

static int join_from(struct pb *b, struct prod *pr, const struct sch_q_from *f, char **out)
{
	static const char *const kw[] = {
		"", " JOIN ", " LEFT JOIN ", " RIGHT JOIN ", " FULL JOIN ", " CROSS JOIN "
	};
	const struct sch_q_from *l = f->left, *r = f->right;
	struct cmn_buf q;

	cmn_buf_init(&q, 0);
	if (cmn_buf_append_str(&q, "\"r0\" AS ", b->err) < 0 ||
	    pl_ident(&q,
		     l->kind == SCH_QF_TABLE ? (l->alias ? l->alias : l->table.name) : "__cordon_l",
		     b->err) < 0 ||
	    cmn_buf_printf(&q, b->err, "%s\"r1\" AS ", kw[f->join]) < 0 ||
	    pl_ident(&q, r->alias ? r->alias : r->table.name, b->err) < 0 ||
	    cmn_buf_append_str(&q, " ON ", b->err) < 0 || pl_expr(&pr->r, f->on, &q) < 0) {
		cmn_buf_free(&q);
		return -1;
	}
	*out = cmn_buf_steal(&q, NULL);
	return *out ? 0 : pb_oom(b);
}

/* One JOIN of the chain: its left input (a MAP, or the REDUCE of the join
 * below), a MAP of its right table, and its REDUCE. At the top the SELECT
 * continues in that REDUCE; below it carries columns and the parent's keys. */
static int join_level(struct pb *b, struct prod *pr, const struct sch_q_from *f, bool top,
		      const struct sch_q_expr *const *pk, const enum sch_q_type *pkt, size_t npk,
		      size_t *pkidx)
{
	const struct sch_q_from *by_src[64] = { NULL };
	struct jset lset = { { false } };
	struct jkeys k;
	size_t k0[128], k1[128];
	bool two = f->left->kind == SCH_QF_TABLE;
	/* WHERE conjuncts of one table go to its MAP when the top join preserves
	 * it (an inner join preserves both; the left side only when it is a table) */
	bool pl = top && two && (f->join == SCH_QJ_INNER || f->join == SCH_QJ_LEFT);
	bool pright = top && (f->join == SCH_QJ_INNER || f->join == SCH_QJ_RIGHT);
	pl_hook save_hook = pr->r.hook;
	void *save_arg = pr->r.hook_arg;
	char *from = NULL;
	int m0, m1, red, rc;

	leaves(f->left, &lset, by_src);
	join_keys(f, &lset, &k);
	m0 = two ? join_side(b, pr, f->left, k.l, k.t, k.n, pl, k0)
		 : join_level(b, pr, f->left, false, k.l, k.t, k.n, k0);
	if (m0 < 0)
		return -1;
	m1 = join_side(b, pr, f->right, k.r, k.t, k.n, pright, k1);
	if (m1 < 0)
		return -1;
	/* without an equi-join key every row meets every other on one node */
	red = pb_add_stage(b, SCH_STAGE_REDUCE, k.n ? b->opts->nodes : 1);
	if (red < 0 || pb_connect(b, m0, red, "r0", k0, k.n) < 0 ||
	    pb_connect(b, m1, red, "r1", k1, k.n) < 0)
		return -1;
	if (!two) {
		pr->r.hook = carried_hook;
		pr->r.hook_arg = &lset;
	}
	rc = join_from(b, pr, f, &from);
	if (rc == 0 && top) {
		pr->from = from;
		pr->stage = red;
		rc = pb_produce(b, pr);
	} else if (rc == 0) {
		rc = carry_sql(b, pr, red, f, from, pk, pkt, npk, pkidx);
		free(from);
	}
	pr->r.hook = save_hook;
	pr->r.hook_arg = save_arg;
	return rc < 0 ? -1 : red;
}

int pb_plan_join(struct pb *b, struct prod *pr)
{
	return join_level(b, pr, pr->s->from, true, NULL, NULL, 0, NULL) < 0 ? -1 : 0;
}
