/* scheduler/resolve.c — scopes, column binding, functions and expression
 * types of a query; see resolve.h. Statements are in resolve_stmt.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scheduler/resolve_int.h"
#include "scheduler/sql_parse.h"

int rs_fail(struct rs *r, int code, int line, int col, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return cmn_err_set(r->err, code, 0, "%d:%d: %s", line, col, msg);
}

int rs_oom(struct rs *r)
{
	return cmn_err_set(r->err, CMN_ENOMEM, 0, "out of memory");
}

static bool same(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

int rs_access(struct rs *r, const char *action, const char *project, enum sch_sql_objtype type,
	      const char *name, const char *column, int line, int col)
{
	struct sch_q_accesses *a = &r->out->acc;
	struct sch_q_access *x, *nv;

	for (size_t i = 0; i < a->n; i++) {
		x = &a->v[i];
		if (strcmp(x->action, action) == 0 && strcmp(x->project, project) == 0 &&
		    x->type == type && same(x->name, name) && same(x->column, column) &&
		    same(x->as_owner, r->as_owner))
			return 0;
	}
	if (a->n >= 100000)
		return rs_fail(r, CMN_ELIMIT, line, col, "too many accesses in one statement");
	nv = realloc(a->v, (a->n + 1) * sizeof(*nv));
	if (!nv)
		return rs_oom(r);
	a->v = nv;
	x = &a->v[a->n];
	memset(x, 0, sizeof(*x));
	x->action = strdup(action);
	x->project = strdup(project);
	x->type = type;
	x->name = name ? strdup(name) : NULL;
	x->column = column ? strdup(column) : NULL;
	x->as_owner = r->as_owner ? strdup(r->as_owner) : NULL;
	x->line = line;
	x->col = col;
	a->n++;
	if (!x->action || !x->project || (name && !x->name) || (column && !x->column) ||
	    (r->as_owner && !x->as_owner))
		return rs_oom(r);
	return 0;
}

void sch_q_accesses_free(struct sch_q_accesses *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free(a->v[i].action);
		free(a->v[i].project);
		free(a->v[i].name);
		free(a->v[i].column);
		free(a->v[i].as_owner);
	}
	free(a->v);
	a->v = NULL;
	a->n = 0;
}

void sch_q_resolved_free(struct sch_q_resolved *r)
{
	if (!r)
		return;
	sch_q_accesses_free(&r->acc);
	for (size_t i = 0; i < r->nfns; i++) {
		free(r->fns[i].ref);
		sch_funcdef_free(r->fns[i].def);
	}
	free(r->fns);
	for (size_t i = 0; i < r->ntables; i++)
		sch_tabledef_free(r->tables[i]);
	free(r->tables);
	sch_tabledef_free(r->target);
	free(r->networklink);
	memset(r, 0, sizeof(*r));
}

/* ---- types ------------------------------------------------------------- */

bool rs_numeric(enum sch_q_type t)
{
	return t == SCH_QT_NULL || t == SCH_QT_BIGINT || t == SCH_QT_DOUBLE;
}

/* The common type of a and b, or -1 when they do not mix. */
int rs_common(enum sch_q_type a, enum sch_q_type b)
{
	if (a == SCH_QT_NULL)
		return (int)b;
	if (b == SCH_QT_NULL || a == b)
		return (int)a;
	if (rs_numeric(a) && rs_numeric(b))
		return SCH_QT_DOUBLE;
	return -1;
}

/* ---- scopes ------------------------------------------------------------- */

void rs_scope_free(struct rs_scope *sc)
{
	for (size_t i = 0; i < sc->n; i++) {
		struct rs_source *s = &sc->v[i];
		free(s->alias);
		for (size_t c = 0; c < s->ncols; c++) {
			free(s->names[c]);
			free(s->render[c]);
		}
		free(s->names);
		free(s->render);
		free(s->types);
	}
	free(sc->v);
	sc->v = NULL;
	sc->n = 0;
}

/* Adds a source with ncols columns (filled by the caller). */
struct rs_source *rs_scope_add(struct rs *r, struct rs_scope *sc, const char *alias, size_t ncols)
{
	struct rs_source *nv, *s;

	for (size_t i = 0; i < sc->n; i++)
		if (strcasecmp(sc->v[i].alias, alias) == 0) {
			rs_fail(r, CMN_EINVAL, r->line, r->col, "duplicate table alias '%s'",
				alias);
			return NULL;
		}
	nv = realloc(sc->v, (sc->n + 1) * sizeof(*nv));
	if (!nv) {
		rs_oom(r);
		return NULL;
	}
	sc->v = nv;
	s = &sc->v[sc->n++];
	memset(s, 0, sizeof(*s));
	s->alias = strdup(alias);
	s->names = calloc(ncols ? ncols : 1, sizeof(*s->names));
	s->render = calloc(ncols ? ncols : 1, sizeof(*s->render));
	s->types = calloc(ncols ? ncols : 1, sizeof(*s->types));
	s->ncols = ncols;
	if (!s->alias || !s->names || !s->render || !s->types) {
		rs_oom(r);
		return NULL;
	}
	return s;
}

static int bind_column(struct rs *r, struct rs_scope *sc, struct sch_q_expr *e)
{
	int found_src = -1, found_col = -1;

	for (size_t i = 0; i < sc->n; i++) {
		struct rs_source *s = &sc->v[i];
		if (e->qual && strcasecmp(e->qual, s->alias) != 0)
			continue;
		for (size_t c = 0; c < s->ncols; c++) {
			if (strcasecmp(s->names[c], e->name) != 0)
				continue;
			if (found_src >= 0)
				return rs_fail(r, CMN_EINVAL, e->line, e->col,
					       "column '%s' is ambiguous", e->name);
			found_src = (int)i;
			found_col = (int)c;
		}
	}
	if (found_src < 0) {
		if (e->qual)
			return rs_fail(r, CMN_EINVAL, e->line, e->col,
				       "column '%s.%s' does not exist", e->qual, e->name);
		return rs_fail(r, CMN_EINVAL, e->line, e->col, "column '%s' does not exist",
			       e->name);
	}
	{
		struct rs_source *s = &sc->v[found_src];
		e->src = found_src;
		e->colidx = found_col;
		e->ty = s->types[found_col];
		free(e->rcol);
		e->rcol = strdup(s->render[found_col]);
		if (!e->rcol)
			return rs_oom(r);
		s->read = true;
		if (s->table) {
			const char *save = r->as_owner;
			int rc;
			r->as_owner = s->owner;
			rc = rs_access(r, "odps:Select", s->table->project, SCH_OBJ_TABLE,
				       s->table->name, s->names[found_col], e->line, e->col);
			r->as_owner = save;
			return rc;
		}
	}
	return 0;
}

/* ---- functions ---------------------------------------------------------- */

struct builtin {
	const char *name;
	int min, max;
	int ret; /* a type, -1: the first argument's, -2: common of all */
};

static const struct builtin builtins[] = {
	{ "abs", 1, 1, -1 },
	{ "round", 1, 2, SCH_QT_DOUBLE },
	{ "lower", 1, 1, SCH_QT_STRING },
	{ "upper", 1, 1, SCH_QT_STRING },
	{ "trim", 1, 2, SCH_QT_STRING },
	{ "ltrim", 1, 2, SCH_QT_STRING },
	{ "rtrim", 1, 2, SCH_QT_STRING },
	{ "length", 1, 1, SCH_QT_BIGINT },
	{ "substr", 2, 3, SCH_QT_STRING },
	{ "substring", 2, 3, SCH_QT_STRING },
	{ "replace", 3, 3, SCH_QT_STRING },
	{ "instr", 2, 2, SCH_QT_BIGINT },
	{ "coalesce", 1, 64, -2 },
	{ "nvl", 2, 2, -2 },
	{ "nullif", 2, 2, -1 },
	{ "concat", 1, 64, SCH_QT_STRING },
	{ "if", 3, 3, -3 },
	{ "hex", 1, 1, SCH_QT_STRING },
	{ "sym_encrypt", 2, 4, SCH_QT_BINARY },
	{ "sym_decrypt", 2, 4, SCH_QT_BINARY },
	{ "new_keyset", 1, 2, SCH_QT_BINARY },
	{ "rotate_keyset", 1, 2, SCH_QT_BINARY },
	{ "keyset_to_json", 1, 1, SCH_QT_STRING },
	{ "enhanced_sym_encrypt", 2, 3, SCH_QT_BINARY },
	{ "enhanced_sym_decrypt", 2, 3, SCH_QT_BINARY },
};

static const struct builtin *find_builtin(const char *name)
{
	for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
		if (strcasecmp(name, builtins[i].name) == 0)
			return &builtins[i];
	return NULL;
}

static int builtin_type(struct rs *r, struct sch_q_expr *e, const struct builtin *b)
{
	int t;
	if ((int)e->nargs < b->min || (int)e->nargs > b->max)
		return rs_fail(r, CMN_EINVAL, e->line, e->col,
			       "%s takes %d to %d arguments, got %zu", b->name, b->min, b->max,
			       e->nargs);
	if (b->ret >= 0) {
		e->ty = (enum sch_q_type)b->ret;
		return 0;
	}
	if (b->ret == -1) {
		e->ty = e->args[0]->ty;
		return 0;
	}
	t = SCH_QT_NULL;
	for (size_t i = b->ret == -3 ? 1 : 0; i < e->nargs; i++) {
		t = rs_common((enum sch_q_type)t, e->args[i]->ty);
		if (t < 0)
			return rs_fail(r, CMN_EINVAL, e->line, e->col,
				       "%s: arguments of types %s and %s do not mix", b->name,
				       sch_q_type_name(e->args[0]->ty),
				       sch_q_type_name(e->args[i]->ty));
	}
	e->ty = (enum sch_q_type)t;
	return 0;
}

static int agg_type(struct rs *r, struct sch_q_expr *e)
{
	bool count = strcasecmp(e->name, "COUNT") == 0;
	enum sch_q_type at;

	e->fkind = SCH_QF_AGGREGATE;
	if (e->nargs != 1)
		return rs_fail(r, CMN_EINVAL, e->line, e->col, "%s takes one argument", e->name);
	if (e->args[0]->kind == SCH_QE_STAR && !count)
		return rs_fail(r, CMN_EINVAL, e->line, e->col, "%s(*) is not allowed", e->name);
	if (e->distinct && !count)
		return rs_fail(r, CMN_EINVAL, e->line, e->col,
			       "DISTINCT is only supported in COUNT");
	at = e->args[0]->ty;
	if (count) {
		e->ty = SCH_QT_BIGINT;
	} else if (strcasecmp(e->name, "AVG") == 0 || strcasecmp(e->name, "SUM") == 0) {
		if (!rs_numeric(at))
			return rs_fail(r, CMN_EINVAL, e->line, e->col, "%s needs a number, got %s",
				       e->name, sch_q_type_name(at));
		e->ty = strcasecmp(e->name, "AVG") == 0 || at == SCH_QT_NULL ? SCH_QT_DOUBLE : at;
	} else {
		e->ty = at;
	}
	return 0;
}

/* Looks the function up, records the uses, and checks the signature. */
int rs_udf(struct rs *r, struct sch_q_expr *e, struct sch_funcdef **def_out)
{
	const char *project = e->qual ? e->qual : r->env->project;
	struct sch_funcdef *def = NULL;
	char ref[600];

	snprintf(ref, sizeof(ref), "%s:%s", project, e->name);
	for (size_t i = 0; i < r->out->nfns; i++)
		if (strcasecmp(r->out->fns[i].ref, ref) == 0)
			def = r->out->fns[i].def;
	if (!def) {
		struct sch_q_fnuse *nv;
		if (r->env->function(r->env->arg, project, e->name, &def, r->err) < 0)
			return -1;
		if (!def)
			return rs_fail(r, CMN_ENOTFOUND, e->line, e->col,
				       "function '%s' does not exist in project '%s'", e->name,
				       project);
		nv = realloc(r->out->fns, (r->out->nfns + 1) * sizeof(*nv));
		if (!nv) {
			sch_funcdef_free(def);
			return rs_oom(r);
		}
		r->out->fns = nv;
		nv[r->out->nfns].def = def;
		nv[r->out->nfns].ref = strdup(ref);
		r->out->nfns++;
		if (!nv[r->out->nfns - 1].ref)
			return rs_oom(r);
	}
	if (rs_access(r, "odps:Execute", project, SCH_OBJ_FUNCTION, e->name, NULL, e->line,
		      e->col) < 0)
		return -1;
	for (size_t i = 0; i < def->resources.n; i++)
		if (rs_access(r, "odps:Read", project, SCH_OBJ_RESOURCE, def->resources.v[i], NULL,
			      e->line, e->col) < 0)
			return -1;
	free(e->fn_ref);
	e->fn_ref = strdup(ref);
	if (!e->fn_ref)
		return rs_oom(r);
	if (def->has_signature) {
		if (e->nargs != def->nargs)
			return rs_fail(r, CMN_EINVAL, e->line, e->col,
				       "function '%s' takes %zu arguments, got %zu", e->name,
				       def->nargs, e->nargs);
		for (size_t i = 0; i < e->nargs; i++)
			if (rs_common(e->args[i]->ty, def->args[i]) < 0)
				return rs_fail(r, CMN_EINVAL, e->args[i]->line, e->args[i]->col,
					       "argument %zu of '%s' is %s, the function takes %s",
					       i + 1, e->name, sch_q_type_name(e->args[i]->ty),
					       sch_q_type_name(def->args[i]));
	}
	e->ty = def->ret;
	*def_out = def;
	return 0;
}

static int call(struct rs *r, struct rs_scope *sc, struct sch_q_expr *e, int ctx)
{
	const struct builtin *b;
	struct sch_funcdef *def = NULL;
	bool builtin_agg = !e->qual && sch_q_is_builtin_agg(e->name);
	bool is_agg;

	if (!e->qual && !builtin_agg && (b = find_builtin(e->name)) != NULL) {
		if (e->distinct)
			return rs_fail(r, CMN_EINVAL, e->line, e->col, "DISTINCT in %s", e->name);
		for (size_t i = 0; i < e->nargs; i++)
			if (rs_expr(r, sc, e->args[i], ctx) < 0)
				return -1;
		e->fkind = SCH_QF_BUILTIN;
		return builtin_type(r, e, b);
	}
	if (!builtin_agg && rs_udf(r, e, &def) < 0)
		return -1;
	is_agg = builtin_agg || def->kind == SCH_FN_AGGREGATE;
	if (def && def->kind == SCH_FN_TABLE && !(ctx & RS_UDTF_OK))
		return rs_fail(r, CMN_EINVAL, e->line, e->col,
			       "table function '%s' is only allowed in LATERAL VIEW or as the "
			       "only SELECT item",
			       e->name);
	if (is_agg && (ctx & RS_NO_AGG))
		return rs_fail(r, CMN_EINVAL, e->line, e->col, "aggregate %s is not allowed %s",
			       e->name, (ctx & RS_IN_AGG) ? "inside an aggregate" : "here");
	if (e->distinct && !builtin_agg)
		return rs_fail(r, CMN_EINVAL, e->line, e->col,
			       "DISTINCT is only supported in COUNT");
	for (size_t i = 0; i < e->nargs; i++) {
		int actx = (ctx & ~RS_UDTF_OK) | (is_agg ? RS_NO_AGG | RS_IN_AGG : 0);
		if (e->args[i]->kind == SCH_QE_STAR)
			continue;
		if (rs_expr(r, sc, e->args[i], actx) < 0)
			return -1;
	}
	if (builtin_agg)
		return agg_type(r, e);
	e->fkind = def->kind == SCH_FN_SCALAR      ? SCH_QF_UDF
		   : def->kind == SCH_FN_AGGREGATE ? SCH_QF_UDAF
						   : SCH_QF_UDTF;
	/* the signature check needs the argument types */
	return rs_udf(r, e, &def);
}

static int need(struct rs *r, const struct sch_q_expr *e, const struct sch_q_expr *a, bool ok,
		const char *what)
{
	if (ok)
		return 0;
	return rs_fail(r, CMN_EINVAL, a->line, a->col, "%s needs %s, got %s",
		       e->op                    ? e->op
		       : e->kind == SCH_QE_LIKE ? "LIKE"
						: "operator",
		       what, sch_q_type_name(a->ty));
}

static int binary_type(struct rs *r, struct sch_q_expr *e)
{
	struct sch_q_expr *a = e->args[0], *b = e->args[1];
	const char *op = e->op;

	if (!strcmp(op, "AND") || !strcmp(op, "OR")) {
		if (need(r, e, a, a->ty == SCH_QT_BOOLEAN || a->ty == SCH_QT_NULL, "BOOLEAN") < 0 ||
		    need(r, e, b, b->ty == SCH_QT_BOOLEAN || b->ty == SCH_QT_NULL, "BOOLEAN") < 0)
			return -1;
		e->ty = SCH_QT_BOOLEAN;
	} else if (!strcmp(op, "||")) {
		e->ty = SCH_QT_STRING;
	} else if (strchr("+-*/%", op[0]) && op[1] == '\0') {
		if (need(r, e, a, rs_numeric(a->ty), "numbers") < 0 ||
		    need(r, e, b, rs_numeric(b->ty), "numbers") < 0)
			return -1;
		if (op[0] == '/')
			e->ty = SCH_QT_DOUBLE;
		else if (op[0] == '%')
			e->ty = a->ty == SCH_QT_DOUBLE || b->ty == SCH_QT_DOUBLE ? SCH_QT_DOUBLE
										 : SCH_QT_BIGINT;
		else
			e->ty = (enum sch_q_type)rs_common(a->ty, b->ty);
		if (e->ty == SCH_QT_NULL)
			e->ty = SCH_QT_BIGINT;
	} else {
		if (rs_common(a->ty, b->ty) < 0)
			return rs_fail(r, CMN_EINVAL, e->line, e->col, "cannot compare %s with %s",
				       sch_q_type_name(a->ty), sch_q_type_name(b->ty));
		e->ty = SCH_QT_BOOLEAN;
	}
	return 0;
}

static int case_type(struct rs *r, struct sch_q_expr *e)
{
	size_t i = e->case_operand ? 1 : 0;
	size_t end = e->nargs - (e->case_else ? 1 : 0);
	int t = SCH_QT_NULL;

	for (; i < end; i += 2) {
		const struct sch_q_expr *w = e->args[i], *th = e->args[i + 1];
		if (e->case_operand ? rs_common(w->ty, e->args[0]->ty) < 0
				    : !(w->ty == SCH_QT_BOOLEAN || w->ty == SCH_QT_NULL))
			return rs_fail(r, CMN_EINVAL, w->line, w->col, "WHEN needs %s, got %s",
				       e->case_operand ? "a value like the CASE operand"
						       : "BOOLEAN",
				       sch_q_type_name(w->ty));
		t = rs_common((enum sch_q_type)t, th->ty);
		if (t < 0)
			return rs_fail(r, CMN_EINVAL, th->line, th->col,
				       "CASE branches of different types");
	}
	if (e->case_else) {
		t = rs_common((enum sch_q_type)t, e->args[e->nargs - 1]->ty);
		if (t < 0)
			return rs_fail(r, CMN_EINVAL, e->line, e->col,
				       "CASE branches of different types");
	}
	e->ty = (enum sch_q_type)t;
	return 0;
}

static int pred_type(struct rs *r, struct sch_q_expr *e)
{
	e->ty = SCH_QT_BOOLEAN;
	if (e->kind == SCH_QE_ISNULL)
		return 0;
	if (e->kind == SCH_QE_LIKE) {
		for (size_t i = 0; i < 2; i++)
			if (need(r, e, e->args[i],
				 e->args[i]->ty == SCH_QT_STRING || e->args[i]->ty == SCH_QT_NULL,
				 "STRING") < 0)
				return -1;
		return 0;
	}
	for (size_t i = 1; i < e->nargs; i++)
		if (rs_common(e->args[0]->ty, e->args[i]->ty) < 0)
			return rs_fail(r, CMN_EINVAL, e->args[i]->line, e->args[i]->col,
				       "cannot compare %s with %s", sch_q_type_name(e->args[0]->ty),
				       sch_q_type_name(e->args[i]->ty));
	return 0;
}

int rs_expr(struct rs *r, struct rs_scope *sc, struct sch_q_expr *e, int ctx)
{
	switch (e->kind) {
	case SCH_QE_NULL:
		e->ty = SCH_QT_NULL;
		return 0;
	case SCH_QE_INT:
		e->ty = SCH_QT_BIGINT;
		return 0;
	case SCH_QE_DOUBLE:
		e->ty = SCH_QT_DOUBLE;
		return 0;
	case SCH_QE_STRING:
		e->ty = SCH_QT_STRING;
		return 0;
	case SCH_QE_BOOL:
		e->ty = SCH_QT_BOOLEAN;
		return 0;
	case SCH_QE_STAR:
		return rs_fail(r, CMN_EINVAL, e->line, e->col, "'*' is only allowed in COUNT(*)");
	case SCH_QE_COLUMN:
		if (!sc)
			return rs_fail(r, CMN_EINVAL, e->line, e->col,
				       "column '%s' is not allowed here", e->name);
		return bind_column(r, sc, e);
	case SCH_QE_CALL:
		return call(r, sc, e, ctx);
	default:
		break;
	}
	for (size_t i = 0; i < e->nargs; i++)
		if (rs_expr(r, sc, e->args[i], ctx & ~RS_UDTF_OK) < 0)
			return -1;
	switch (e->kind) {
	case SCH_QE_UNARY:
		if (!strcmp(e->op, "NOT")) {
			e->ty = SCH_QT_BOOLEAN;
			return need(r, e, e->args[0],
				    e->args[0]->ty == SCH_QT_BOOLEAN ||
					e->args[0]->ty == SCH_QT_NULL,
				    "BOOLEAN");
		}
		e->ty = e->args[0]->ty == SCH_QT_NULL ? SCH_QT_BIGINT : e->args[0]->ty;
		return need(r, e, e->args[0], rs_numeric(e->args[0]->ty), "a number");
	case SCH_QE_BINARY:
		return binary_type(r, e);
	case SCH_QE_CASE:
		return case_type(r, e);
	case SCH_QE_CAST:
		e->ty = e->cast_type;
		return 0;
	default:
		return pred_type(r, e);
	}
}

/* ---- output columns -------------------------------------------------------- */

const char *sch_q_item_name(const struct sch_q_select *s, size_t i, char *buf, size_t buflen)
{
	if (s->transform)
		return i < s->tcols.n ? s->tcols.v[i] : (i == 0 ? "key" : "value");
	if (s->udtf_cols.n)
		return s->udtf_cols.v[i];
	if (s->items[i].alias)
		return s->items[i].alias;
	if (s->items[i].e && s->items[i].e->kind == SCH_QE_COLUMN)
		return s->items[i].e->name;
	snprintf(buf, buflen, "_c%zu", i);
	return buf;
}

size_t sch_q_query_width(const struct sch_q_query *q)
{
	const struct sch_q_select *s = q->v[0];
	if (s->transform)
		return s->tcols.n ? s->tcols.n : 2;
	if (s->udtf_cols.n)
		return s->udtf_cols.n;
	return s->nitems;
}

enum sch_q_type rs_item_type(const struct sch_q_select *s, size_t i)
{
	if (s->transform)
		return s->tcols.n ? s->tcol_types[i] : SCH_QT_STRING;
	if (s->udtf_cols.n)
		return s->items[0].e->ty;
	return s->items[i].e->ty;
}
