/* scheduler/resolve_select.c — FROM items, views, SELECT lists, GROUP BY
 * rules and UNION ALL; see resolve.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scheduler/resolve_int.h"

/* Looks a table or view up once per statement; the definition is owned by
 * r->out->tables. *out NULL when it does not exist. */
int rs_table(struct rs *r, const struct sch_sql_name *n, int line, int col,
	     const struct sch_tabledef **out)
{
	const char *project = n->project ? n->project : r->env->project;
	struct sch_tabledef *def = NULL, **nv;

	(void)line;
	(void)col;
	*out = NULL;
	for (size_t i = 0; i < r->out->ntables; i++)
		if (strcmp(r->out->tables[i]->project, project) == 0 &&
		    strcasecmp(r->out->tables[i]->name, n->name) == 0) {
			*out = r->out->tables[i];
			return 0;
		}
	if (r->env->table(r->env->arg, project, n->name, &def, r->err) < 0)
		return -1;
	if (!def)
		return 0;
	nv = realloc(r->out->tables, (r->out->ntables + 1) * sizeof(*nv));
	if (!nv) {
		sch_tabledef_free(def);
		return rs_oom(r);
	}
	r->out->tables = nv;
	nv[r->out->ntables++] = def;
	*out = def;
	return 0;
}

static int add_query_source(struct rs *r, struct rs_scope *sc, struct sch_q_from *f)
{
	const struct sch_q_query *q = f->sub;
	size_t w = sch_q_query_width(q);
	struct rs_source *s;
	char buf[32];

	s = rs_scope_add(r, sc, f->alias, w);
	if (!s)
		return -1;
	for (size_t i = 0; i < w; i++) {
		const char *nm = sch_q_item_name(q->v[0], i, buf, sizeof(buf));
		for (size_t j = 0; j < i; j++)
			if (strcasecmp(s->names[j], nm) == 0)
				return rs_fail(r, CMN_EINVAL, f->line, f->col,
					       "subquery '%s' has two columns named '%s'", f->alias,
					       nm);
		s->names[i] = strdup(nm);
		s->render[i] = strdup(nm);
		s->types[i] = rs_item_type(q->v[0], i);
		if (!s->names[i] || !s->render[i])
			return rs_oom(r);
	}
	f->src_index = (int)(sc->n - 1);
	return 0;
}

/* A view becomes a subquery; its base tables are read as its owner. */
static int view_source(struct rs *r, struct rs_scope *sc, struct sch_q_from *f,
		       const struct sch_tabledef *def)
{
	struct sch_q_script script;
	struct cmn_err perr = CMN_ERR_INIT;
	const char *save = r->as_owner;
	int rc;

	if (rs_access(r, "odps:Select", def->project, SCH_OBJ_TABLE, def->name, NULL, f->line,
		      f->col) < 0)
		return -1;
	if (r->depth >= 16)
		return rs_fail(r, CMN_EINVAL, f->line, f->col, "views nested too deeply at '%s'",
			       def->name);
	if (sch_q_parse(def->view_sql, strlen(def->view_sql), &script, &perr) < 0)
		return rs_fail(r, CMN_EINVAL, f->line, f->col, "view '%s' is broken: %s", def->name,
			       perr.msg);
	if (script.n != 1 || script.v[0]->kind != SCH_Q_SELECT) {
		sch_q_script_free(&script);
		return rs_fail(r, CMN_EINVAL, f->line, f->col, "view '%s' is not a query",
			       def->name);
	}
	f->kind = SCH_QF_SUBQUERY;
	f->sub = script.v[0]->query;
	script.v[0]->query = NULL;
	sch_q_script_free(&script);
	if (!f->alias && !(f->alias = strdup(def->name)))
		return rs_oom(r);
	f->view_owner = strdup(def->owner ? def->owner : "");
	if (!f->view_owner)
		return rs_oom(r);
	r->as_owner = def->owner;
	r->depth++;
	rc = rs_query(r, f->sub);
	r->depth--;
	r->as_owner = save;
	return rc < 0 ? -1 : add_query_source(r, sc, f);
}

static int table_source(struct rs *r, struct rs_scope *sc, struct sch_q_from *f)
{
	const struct sch_tabledef *def;
	struct rs_source *s;

	if (rs_table(r, &f->table, f->line, f->col, &def) < 0)
		return -1;
	if (!def)
		return rs_fail(r, CMN_ENOTFOUND, f->line, f->col, "table '%s%s%s' does not exist",
			       f->table.project ? f->table.project : "",
			       f->table.project ? "." : "", f->table.name);
	if (def->is_view)
		return view_source(r, sc, f, def);
	f->def = def;
	r->line = f->line;
	r->col = f->col;
	s = rs_scope_add(r, sc, f->alias ? f->alias : f->table.name, def->ncols);
	if (!s)
		return -1;
	s->table = def;
	s->owner = r->as_owner;
	s->line = f->line;
	s->col = f->col;
	for (size_t i = 0; i < def->ncols; i++) {
		s->names[i] = strdup(def->cols[i].name);
		s->render[i] = strdup(def->cols[i].name);
		s->types[i] = def->cols[i].type;
		if (!s->names[i] || !s->render[i])
			return rs_oom(r);
	}
	f->src_index = (int)(sc->n - 1);
	return 0;
}

static int lateral_source(struct rs *r, struct rs_scope *sc, struct sch_q_from *f)
{
	struct sch_q_expr *u = f->udtf;
	struct sch_funcdef *def = NULL;
	struct rs_source *s;

	if (rs_expr(r, sc, u, RS_NO_AGG | RS_UDTF_OK) < 0)
		return -1;
	if (u->fkind != SCH_QF_UDTF)
		return rs_fail(r, CMN_EINVAL, u->line, u->col, "'%s' is not a table function",
			       u->name);
	if (rs_udf(r, u, &def) < 0)
		return -1;
	if (f->cols.n > def->columns.n)
		return rs_fail(r, CMN_EINVAL, f->line, f->col,
			       "table function '%s' has %zu columns, LATERAL VIEW names %zu",
			       u->name, def->columns.n, f->cols.n);
	r->line = f->line;
	r->col = f->col;
	s = rs_scope_add(r, sc, f->alias, f->cols.n);
	if (!s)
		return -1;
	for (size_t i = 0; i < f->cols.n; i++) {
		s->names[i] = strdup(f->cols.v[i]);
		s->render[i] = strdup(def->columns.v[i]);
		s->types[i] = def->ret;
		if (!s->names[i] || !s->render[i])
			return rs_oom(r);
	}
	f->src_index = (int)(sc->n - 1);
	return 0;
}

static int from_item(struct rs *r, struct rs_scope *sc, struct sch_q_from *f)
{
	switch (f->kind) {
	case SCH_QF_TABLE:
		return table_source(r, sc, f);
	case SCH_QF_SUBQUERY:
		if (rs_query(r, f->sub) < 0)
			return -1;
		return add_query_source(r, sc, f);
	case SCH_QF_LATERAL:
		if (from_item(r, sc, f->left) < 0)
			return -1;
		return lateral_source(r, sc, f);
	case SCH_QF_JOIN:
		if (from_item(r, sc, f->left) < 0 || from_item(r, sc, f->right) < 0)
			return -1;
		if (!f->on)
			return 0;
		if (rs_expr(r, sc, f->on, RS_NO_AGG) < 0)
			return -1;
		if (f->on->ty != SCH_QT_BOOLEAN && f->on->ty != SCH_QT_NULL)
			return rs_fail(r, CMN_EINVAL, f->on->line, f->on->col,
				       "ON needs a BOOLEAN condition, got %s",
				       sch_q_type_name(f->on->ty));
		return 0;
	}
	return rs_fail(r, CMN_EINTERNAL, f->line, f->col, "bad FROM item");
}

/* Replaces `*` and `t.*` by the columns they stand for. */
static int expand_stars(struct rs *r, struct rs_scope *sc, struct sch_q_select *s)
{
	size_t n = 0;
	struct sch_q_item *v;
	bool *created = NULL;
	size_t k = 0;

	for (size_t i = 0; i < s->nitems; i++) {
		if (!s->items[i].star) {
			n++;
			continue;
		}
		if (!sc->n)
			return rs_fail(r, CMN_EINVAL, s->line, s->col, "'*' needs a FROM clause");
		for (size_t j = 0; j < sc->n; j++)
			if (!s->items[i].star_qual ||
			    strcasecmp(s->items[i].star_qual, sc->v[j].alias) == 0)
				n += sc->v[j].ncols;
	}
	if (n == s->nitems)
		return 0;
	if (n > SCH_Q_MAX_LIST)
		return rs_fail(r, CMN_ELIMIT, s->line, s->col, "too many columns");
	v = calloc(n ? n : 1, sizeof(*v));
	created = calloc(n ? n : 1, sizeof(*created));
	if (!v || !created)
		goto oom;
	for (size_t i = 0; i < s->nitems; i++) {
		struct sch_q_item *it = &s->items[i];
		if (!it->star) {
			v[k++] = *it;
			continue;
		}
		for (size_t j = 0; j < sc->n; j++) {
			if (it->star_qual && strcasecmp(it->star_qual, sc->v[j].alias) != 0)
				continue;
			for (size_t c = 0; c < sc->v[j].ncols; c++) {
				struct sch_q_expr *e = calloc(1, sizeof(*e));
				created[k] = true;
				v[k++].e = e;
				if (!e)
					goto oom;
				e->kind = SCH_QE_COLUMN;
				e->line = s->line;
				e->col = s->col;
				e->src = e->colidx = -1;
				e->qual = strdup(sc->v[j].alias);
				e->name = strdup(sc->v[j].names[c]);
				if (!e->qual || !e->name)
					goto oom;
			}
		}
	}
	for (size_t i = 0; i < s->nitems; i++)
		free(s->items[i].star_qual);
	free(s->items);
	free(created);
	s->items = v;
	s->nitems = n;
	return 0;
oom:
	/* s->items still owns everything it had; only the new columns go */
	for (size_t i = 0; v && created && i < k; i++)
		if (created[i])
			sch_q_expr_free(v[i].e);
	free(v);
	free(created);
	return rs_oom(r);
}

static bool matches_group(const struct sch_q_select *s, const struct sch_q_expr *e)
{
	for (size_t i = 0; i < s->ngroup; i++)
		if (sch_q_expr_equal(s->group[i], e))
			return true;
	return false;
}

/* Every column outside an aggregate must be part of a GROUP BY expression. */
static int check_grouped(struct rs *r, const struct sch_q_select *s, const struct sch_q_expr *e)
{
	if (matches_group(s, e))
		return 0;
	if (e->kind == SCH_QE_CALL && (e->fkind == SCH_QF_AGGREGATE || e->fkind == SCH_QF_UDAF))
		return 0;
	if (e->kind == SCH_QE_COLUMN)
		return rs_fail(r, CMN_EINVAL, e->line, e->col,
			       "column '%s' must be in GROUP BY or inside an aggregate", e->name);
	for (size_t i = 0; i < e->nargs; i++)
		if (check_grouped(r, s, e->args[i]) < 0)
			return -1;
	return 0;
}

/* ORDER BY x where x names an output column, or a position: src = -2 and
 * colidx = the item. */
static int order_item(struct rs *r, struct rs_scope *sc, struct sch_q_select *s,
		      struct sch_q_expr *e, int ctx)
{
	char buf[32];
	if (e->kind == SCH_QE_INT) {
		if (e->ival < 1 || (uint64_t)e->ival > s->nitems)
			return rs_fail(r, CMN_EINVAL, e->line, e->col,
				       "ORDER BY position %lld is out of range",
				       (long long)e->ival);
		e->src = -2;
		e->colidx = (int)e->ival - 1;
		e->ty = s->items[e->colidx].e->ty;
		return 0;
	}
	if (e->kind == SCH_QE_COLUMN && !e->qual)
		for (size_t i = 0; i < s->nitems; i++)
			if (s->items[i].alias &&
			    strcasecmp(sch_q_item_name(s, i, buf, sizeof(buf)), e->name) == 0) {
				e->src = -2;
				e->colidx = (int)i;
				e->ty = s->items[i].e->ty;
				return 0;
			}
	return rs_expr(r, sc, e, ctx);
}

static int select_special(struct rs *r, struct rs_scope *sc, struct sch_q_select *s)
{
	if (s->transform) {
		for (size_t i = 0; i < s->nitems; i++)
			if (rs_expr(r, sc, s->items[i].e, RS_NO_AGG) < 0)
				return -1;
		for (size_t i = 0; i < s->resources.n; i++)
			if (rs_access(r, "odps:Read", r->env->project, SCH_OBJ_RESOURCE,
				      s->resources.v[i], NULL, s->line, s->col) < 0)
				return -1;
		if (s->ngroup || s->having)
			return rs_fail(r, CMN_EINVAL, s->line, s->col,
				       "TRANSFORM cannot be combined with GROUP BY");
		return 0;
	}
	if (s->nitems != 1 || s->ngroup || s->having || s->distinct)
		return rs_fail(r, CMN_EINVAL, s->line, s->col,
			       "a table function must be the only SELECT item");
	if (rs_expr(r, sc, s->items[0].e, RS_NO_AGG | RS_UDTF_OK) < 0)
		return -1;
	if (s->items[0].e->fkind != SCH_QF_UDTF)
		return rs_fail(r, CMN_EINVAL, s->items[0].e->line, s->items[0].e->col,
			       "AS (...) needs a table function");
	{
		struct sch_funcdef *def = NULL;
		if (rs_udf(r, s->items[0].e, &def) < 0)
			return -1;
		if (s->udtf_cols.n > def->columns.n)
			return rs_fail(r, CMN_EINVAL, s->line, s->col,
				       "table function '%s' has %zu columns, AS names %zu",
				       s->items[0].e->name, def->columns.n, s->udtf_cols.n);
		for (size_t i = 0; i < s->udtf_cols.n && s->udtf_rcols.n < s->udtf_cols.n; i++) {
			char *c = strdup(def->columns.v[i]);
			char **nv = c ? realloc(s->udtf_rcols.v, (i + 1) * sizeof(*nv)) : NULL;
			if (!nv) {
				free(c);
				return rs_oom(r);
			}
			s->udtf_rcols.v = nv;
			nv[s->udtf_rcols.n++] = c;
		}
	}
	return 0;
}

static int select_lists(struct rs *r, struct rs_scope *sc, struct sch_q_select *s)
{
	bool grouped = s->ngroup > 0 || s->having;

	for (size_t i = 0; i < s->ngroup; i++)
		if (rs_expr(r, sc, s->group[i], RS_NO_AGG) < 0)
			return -1;
	for (size_t i = 0; i < s->nitems; i++) {
		if (rs_expr(r, sc, s->items[i].e, 0) < 0)
			return -1;
		grouped = grouped || sch_q_expr_has_agg(s->items[i].e);
	}
	if (s->having && rs_expr(r, sc, s->having, 0) < 0)
		return -1;
	if (s->having && s->having->ty != SCH_QT_BOOLEAN && s->having->ty != SCH_QT_NULL)
		return rs_fail(r, CMN_EINVAL, s->having->line, s->having->col,
			       "HAVING needs a BOOLEAN condition");
	for (size_t i = 0; i < s->norder; i++) {
		if (order_item(r, sc, s, s->order[i].e, 0) < 0)
			return -1;
		grouped = grouped || sch_q_expr_has_agg(s->order[i].e);
	}
	if (!grouped)
		return 0;
	for (size_t i = 0; i < s->nitems; i++)
		if (check_grouped(r, s, s->items[i].e) < 0)
			return -1;
	if (s->having && check_grouped(r, s, s->having) < 0)
		return -1;
	for (size_t i = 0; i < s->norder; i++)
		if (s->order[i].e->src != -2 && check_grouped(r, s, s->order[i].e) < 0)
			return -1;
	return 0;
}

static int rs_select(struct rs *r, struct sch_q_select *s)
{
	struct rs_scope sc = { 0 };
	int rc = -1;

	if (s->from && from_item(r, &sc, s->from) < 0)
		goto out;
	if (expand_stars(r, &sc, s) < 0)
		goto out;
	if (s->where) {
		if (rs_expr(r, &sc, s->where, RS_NO_AGG) < 0)
			goto out;
		if (s->where->ty != SCH_QT_BOOLEAN && s->where->ty != SCH_QT_NULL) {
			rs_fail(r, CMN_EINVAL, s->where->line, s->where->col,
				"WHERE needs a BOOLEAN condition, got %s",
				sch_q_type_name(s->where->ty));
			goto out;
		}
	}
	if (s->transform || s->udtf_cols.n)
		rc = select_special(r, &sc, s);
	else
		rc = select_lists(r, &sc, s);
	/* A table none of whose columns is named (COUNT(*), SELECT 1 FROM t)
	 * still gives away its rows: it is a read of its first column, which is
	 * also what the planner scans. */
	for (size_t i = 0; rc == 0 && i < sc.n; i++) {
		struct rs_source *src = &sc.v[i];
		const char *save = r->as_owner;
		if (!src->table || src->read || src->table->ncols == 0)
			continue;
		r->as_owner = src->owner;
		rc = rs_access(r, "odps:Select", src->table->project, SCH_OBJ_TABLE,
			       src->table->name, src->table->cols[0].name, src->line, src->col);
		r->as_owner = save;
	}
out:
	rs_scope_free(&sc);
	return rc;
}

/* Column c of every branch as type t (UNION ALL of BIGINT and DOUBLE is
 * DOUBLE in every row): a branch whose item has another type gets it
 * wrapped in CAST(... AS t). A TRANSFORM or UDTF branch keeps its type. */
static int widen_column(struct rs *r, struct sch_q_query *q, size_t c, enum sch_q_type t)
{
	for (size_t i = 0; i < q->n; i++) {
		struct sch_q_select *s = q->v[i];
		struct sch_q_expr *cast;
		if (s->transform || s->udtf_cols.n || c >= s->nitems || !s->items[c].e ||
		    s->items[c].e->ty == t)
			continue;
		cast = calloc(1, sizeof(*cast));
		if (cast)
			cast->args = calloc(1, sizeof(*cast->args));
		if (!cast || !cast->args) {
			free(cast);
			return rs_oom(r);
		}
		cast->kind = SCH_QE_CAST;
		cast->line = s->items[c].e->line;
		cast->col = s->items[c].e->col;
		cast->cast_type = cast->ty = t;
		cast->args[0] = s->items[c].e;
		cast->nargs = 1;
		cast->src = -1;
		s->items[c].e = cast;
	}
	return 0;
}

int rs_query(struct rs *r, struct sch_q_query *q)
{
	size_t w;

	if (r->depth > SCH_Q_MAX_DEPTH)
		return rs_fail(r, CMN_ELIMIT, q->v[0]->line, q->v[0]->col, "nested too deeply");
	r->depth++;
	for (size_t i = 0; i < q->n; i++)
		if (rs_select(r, q->v[i]) < 0) {
			r->depth--;
			return -1;
		}
	r->depth--;
	w = sch_q_query_width(q);
	for (size_t i = 1; i < q->n; i++) {
		const struct sch_q_select *s = q->v[i];
		struct sch_q_query one = { .v = &q->v[i], .n = 1 };
		if (sch_q_query_width(&one) != w)
			return rs_fail(r, CMN_EINVAL, s->line, s->col,
				       "UNION ALL branches have %zu and %zu columns", w,
				       sch_q_query_width(&one));
		for (size_t c = 0; c < w; c++)
			if (rs_item_type(s, c) != rs_item_type(q->v[0], c) &&
			    rs_common(rs_item_type(s, c), rs_item_type(q->v[0], c)) < 0)
				return rs_fail(r, CMN_EINVAL, s->line, s->col,
					       "UNION ALL column %zu is %s in one branch and %s in "
					       "another",
					       c + 1, sch_q_type_name(rs_item_type(q->v[0], c)),
					       sch_q_type_name(rs_item_type(s, c)));
	}
	for (size_t c = 0; q->n > 1 && c < w; c++) {
		enum sch_q_type t = rs_item_type(q->v[0], c);
		bool differ = false;
		for (size_t i = 1; i < q->n; i++)
			if (rs_item_type(q->v[i], c) != t) {
				int k = rs_common(t, rs_item_type(q->v[i], c));
				differ = true;
				if (k >= 0)
					t = (enum sch_q_type)k;
			}
		if (differ && t != SCH_QT_NULL && widen_column(r, q, c, t) < 0)
			return -1;
	}
	return 0;
}
