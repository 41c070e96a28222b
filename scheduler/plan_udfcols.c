/* scheduler/plan_udfcols.c — scalar UDF calls evaluated by the node in
 * batches, as computed columns of a MAP's scanned input (plan_int.h,
 * docs/stage-plan.md "Computed columns").
 *
 * Why: SQLite calls a scalar function once per row, and one protected Lua
 * call per row costs about twice a call in a plain Lua loop; the node's
 * batched entry (rt_udf_call_batch) runs up to 128 rows per protected call.
 * A computed column is evaluated for every row of the input, also rows that
 * a WHERE later drops, so the rule is conservative: only calls that SQLite
 * would evaluate for every row anyway (not under CASE, AND, OR, IN, BETWEEN
 * or a short-circuiting built-in), whose arguments are bare columns of the
 * input and literals. Errors stay per row in the node (a dropped row never
 * fails the job); a limit is fatal as before.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scheduler/plan_int.h"
#include "scheduler/tables.h"

#define UDFCOLS_MAX_ARGS 16 /* rt_udf_call_batch's bound */

static bool literal(const struct sch_q_expr *a)
{
	switch (a->kind) {
	case SCH_QE_NULL:
	case SCH_QE_INT:
	case SCH_QE_STRING:
	case SCH_QE_BOOL:
		return true;
	case SCH_QE_DOUBLE:
		return isfinite(a->dval); /* JSON has no infinity */
	default:
		return false;
	}
}

static bool bare_arg(const struct pb_udfcols *u, const struct sch_q_expr *a)
{
	if (literal(a))
		return true;
	return a->kind == SCH_QE_COLUMN && a->src == u->src && a->outer == 0 && a->colidx >= 0 &&
	       (size_t)a->colidx < u->def->ncols;
}

static bool eligible(const struct pb_udfcols *u, const struct sch_q_expr *e)
{
	if (e->kind != SCH_QE_CALL || e->fkind != SCH_QF_UDF || !e->fn_ref || e->distinct ||
	    e->nargs > UDFCOLS_MAX_ARGS)
		return false;
	for (size_t i = 0; i < e->nargs; i++)
		if (!bare_arg(u, e->args[i]))
			return false;
	return true;
}

/* Expressions whose operands SQLite may skip for a row. */
static bool branches(const struct sch_q_expr *e)
{
	static const char *const lazy[] = { "coalesce", "ifnull", "iif",    "if",     "nvl",
					    "nvl2",     "nullif", "choose", "decode", NULL };

	switch (e->kind) {
	case SCH_QE_CASE:
	case SCH_QE_IN:
	case SCH_QE_BETWEEN:
		return true;
	case SCH_QE_BINARY:
		return e->op && (strcasecmp(e->op, "AND") == 0 || strcasecmp(e->op, "OR") == 0);
	case SCH_QE_CALL:
		if (e->fkind != SCH_QF_BUILTIN || !e->name)
			return false;
		for (size_t i = 0; lazy[i]; i++)
			if (strcasecmp(e->name, lazy[i]) == 0)
				return true;
		return false;
	default:
		return false;
	}
}

static int walk(struct pb_udfcols *u, const struct sch_q_expr *e, bool cond)
{
	if (!e)
		return 0;
	if (!cond && eligible(u, e)) {
		if (u->nelig == u->cap) {
			size_t cap = u->cap ? u->cap * 2 : 8;
			const struct sch_q_expr **nv = reallocarray(u->elig, cap, sizeof(*nv));
			if (!nv)
				return pb_oom(u->b);
			u->elig = nv;
			u->cap = cap;
		}
		u->elig[u->nelig++] = e;
		return 0;
	}
	cond = cond || branches(e);
	for (size_t i = 0; i < e->nargs; i++)
		if (walk(u, e->args[i], cond) < 0)
			return -1;
	return 0;
}

static int walk_from(struct pb_udfcols *u, const struct sch_q_from *f)
{
	if (!f || f->kind != SCH_QF_LATERAL)
		return 0;
	return walk_from(u, f->left) < 0 ? -1 : walk(u, f->udtf, false);
}

static struct sch_plan_input *input_of(const struct pb_udfcols *u)
{
	return &u->b->plan->v[u->stage].inputs[u->input];
}

/* _u<k>, with more underscores while it is one of the input's columns. */
static int name_for(struct pb_udfcols *u, size_t k, char **out)
{
	const struct sch_plan_input *in = input_of(u);
	char name[64];
	int pre = 1;

	for (;;) {
		bool clash = false;
		snprintf(name, sizeof(name), "%.*su%zu", pre, "________________", k);
		for (size_t i = 0; i < in->cols.n && !clash; i++)
			clash = strcasecmp(in->cols.v[i].name, name) == 0;
		if (!clash)
			break;
		if (++pre > 16)
			return cmn_err_set(u->b->err, CMN_EINTERNAL, 0,
					   "no name for a computed column");
	}
	*out = strdup(name);
	return *out ? 0 : pb_oom(u->b);
}

static int render_ref(struct pb_udfcols *u, const char *name, struct cmn_buf *q,
		      struct cmn_err *err)
{
	if (pl_ident(q, u->alias, err) < 0 || cmn_buf_append_str(q, ".", err) < 0 ||
	    pl_ident(q, name, err) < 0)
		return -1;
	return 1;
}

static int hook(void *arg, const struct sch_q_expr *e, struct cmn_buf *q, struct cmn_err *err)
{
	struct pb_udfcols *u = arg;
	struct sch_plan_input *in;
	struct sch_plan_computed *nv, *c;
	size_t i;

	if (e->kind != SCH_QE_CALL)
		return 0;
	for (i = 0; i < u->nelig && u->elig[i] != e; i++)
		;
	if (i == u->nelig)
		return 0;
	in = input_of(u);
	for (size_t k = 0; k < in->ncomputed; k++)
		if (sch_q_expr_equal(in->computed[k].call, e))
			return render_ref(u, in->computed[k].name, q, err);
	if (in->ncomputed >= SCH_PLAN_MAX_COMPUTED)
		return 0; /* per row, as before */
	nv = reallocarray(in->computed, in->ncomputed + 1, sizeof(*nv));
	if (!nv)
		return pb_oom(u->b);
	in->computed = nv;
	c = &nv[in->ncomputed];
	memset(c, 0, sizeof(*c));
	c->call = e;
	c->src = u->src;
	c->def = u->def;
	c->fn_ref = strdup(e->fn_ref);
	if (!c->fn_ref)
		return pb_oom(u->b);
	if (name_for(u, in->ncomputed, &c->name) < 0) {
		free(c->fn_ref);
		return -1;
	}
	in->ncomputed++;
	return render_ref(u, c->name, q, err);
}

int pb_udfcols_begin(struct pb *b, struct pb_udfcols *u, int stage, size_t input,
		     const struct sch_q_select *s, const struct sch_q_from *leaf,
		     struct pl_render *r)
{
	int rc = 0;

	memset(u, 0, sizeof(*u));
	u->b = b;
	u->stage = stage;
	u->input = input;
	u->src = leaf->src_index;
	u->def = leaf->def;
	u->alias = leaf->alias ? leaf->alias : leaf->table.name;
	if (!u->def || s->transform)
		return 0; /* TRANSFORM: its rows are the command's, keep it plain */
	for (size_t i = 0; rc == 0 && i < s->nitems; i++)
		rc = walk(u, s->items[i].e, false);
	if (rc == 0)
		rc = walk(u, s->where, false);
	for (size_t i = 0; rc == 0 && i < s->ngroup; i++)
		rc = walk(u, s->group[i], false);
	for (size_t i = 0; rc == 0 && i < s->norder; i++)
		rc = walk(u, s->order[i].e, false);
	if (rc == 0)
		rc = walk_from(u, s->from);
	if (rc < 0)
		return -1;
	if (u->nelig) {
		r->hook = hook;
		r->hook_arg = u;
	}
	return 0;
}

void pb_udfcols_end(struct pb_udfcols *u)
{
	free(u->elig);
	u->elig = NULL;
	u->nelig = u->cap = 0;
}

void pb_udfcols_free(struct sch_plan_input *in)
{
	for (size_t i = 0; i < in->ncomputed; i++) {
		free(in->computed[i].name);
		free(in->computed[i].fn_ref);
	}
	free(in->computed);
	in->computed = NULL;
	in->ncomputed = 0;
}

/* ---- the node's view --------------------------------------------------------- */

static int col_index(const struct sch_plan_input *in, const struct sch_plan_computed *c,
		     const struct sch_q_expr *a, struct cmn_err *err)
{
	const char *name = c->def->cols[a->colidx].name;

	for (size_t i = 0; i < in->cols.n; i++)
		if (strcmp(in->cols.v[i].name, name) == 0)
			return (int)i;
	return cmn_err_set(err, CMN_EINTERNAL, 0, "computed %s: column %s is not scanned", c->name,
			   name);
}

static json_t *arg_json(const struct sch_plan_input *in, const struct sch_plan_computed *c,
			const struct sch_q_expr *a, struct cmn_err *err)
{
	int col;

	switch (a->kind) {
	case SCH_QE_COLUMN:
		col = col_index(in, c, a, err);
		return col < 0 ? NULL : json_pack("{s:i}", "col", col);
	case SCH_QE_NULL:
		return json_pack("{s:n}", "lit");
	case SCH_QE_INT:
	case SCH_QE_BOOL: /* SQLite's TRUE is 1, as the per-row path passes it */
		return json_pack("{s:I}", "lit", (json_int_t)a->ival);
	case SCH_QE_DOUBLE:
		return json_pack("{s:f}", "lit", a->dval);
	case SCH_QE_STRING:
		return json_pack("{s:s}", "lit", a->sval ? a->sval : "");
	default:
		cmn_err_set(err, CMN_EINTERNAL, 0, "computed %s: bad argument", c->name);
		return NULL;
	}
}

json_t *pb_udfcols_json(const struct sch_plan *p, const struct sch_plan_input *in,
			struct cmn_err *err)
{
	json_t *arr = json_array();

	if (!arr)
		goto oom;
	for (size_t i = 0; i < in->ncomputed; i++) {
		const struct sch_plan_computed *c = &in->computed[i];
		char fname[300];
		json_t *args = json_array(), *o;
		if (!args)
			goto oom_arr;
		for (size_t k = 0; k < c->call->nargs; k++) {
			json_t *a = arg_json(in, c, c->call->args[k], err);
			if (!a) {
				json_decref(args);
				json_decref(arr);
				return NULL;
			}
			json_array_append_new(args, a);
		}
		if (sch_plan_fn_name(c->fn_ref, p->project, fname, sizeof(fname)) < 0) {
			json_decref(args);
			json_decref(arr);
			cmn_err_set(err, CMN_EINVAL, 0, "function name too long");
			return NULL;
		}
		o = json_pack("{s:s, s:s, s:o}", "name", c->name, "function", fname, "args", args);
		if (!o || json_array_append_new(arr, o) < 0)
			goto oom_arr;
	}
	return arr;
oom_arr:
	json_decref(arr);
oom:
	cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	return NULL;
}

static int lit_text(const struct sch_q_expr *a, struct cmn_buf *out, struct cmn_err *err)
{
	switch (a->kind) {
	case SCH_QE_NULL:
		return cmn_buf_append_str(out, "NULL", err);
	case SCH_QE_INT:
	case SCH_QE_BOOL:
		return cmn_buf_printf(out, err, "%lld", (long long)a->ival);
	case SCH_QE_DOUBLE:
		return cmn_buf_printf(out, err, "%.17g", a->dval);
	default:
		if (cmn_buf_append_str(out, "'", err) < 0)
			return -1;
		for (const char *s = a->sval ? a->sval : ""; *s; s++)
			if (cmn_buf_append(out, s, 1, err) < 0 ||
			    (*s == '\'' && cmn_buf_append(out, s, 1, err) < 0))
				return -1;
		return cmn_buf_append_str(out, "'", err);
	}
}

int pb_udfcols_explain(const struct sch_plan *p, const struct sch_plan_input *in,
		       struct cmn_buf *out, struct cmn_err *err)
{
	for (size_t i = 0; i < in->ncomputed; i++) {
		const struct sch_plan_computed *c = &in->computed[i];
		char fname[300];
		if (sch_plan_fn_name(c->fn_ref, p->project, fname, sizeof(fname)) < 0)
			return cmn_err_set(err, CMN_EINVAL, 0, "function name too long");
		if (cmn_buf_printf(out, err, "  computed %s.%s = %s(", in->table, c->name, fname) <
		    0)
			return -1;
		for (size_t k = 0; k < c->call->nargs; k++) {
			const struct sch_q_expr *a = c->call->args[k];
			if (k && cmn_buf_append_str(out, ", ", err) < 0)
				return -1;
			if (a->kind == SCH_QE_COLUMN
				? cmn_buf_append_str(out, c->def->cols[a->colidx].name, err) < 0
				: lit_text(a, out, err) < 0)
				return -1;
		}
		if (cmn_buf_append_str(out, ") [UDF evaluated in batches, every input row]\n",
				       err) < 0)
			return -1;
	}
	return 0;
}
