/* scheduler/sql_q_util.c — token helpers of the query parser, and the
 * tree's free/copy/compare functions; see sql_query.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scheduler/sql_q_int.h"

static const char *const type_names[] = { "NULL",   "BIGINT", "DOUBLE",  "BOOLEAN",
					  "STRING", "BINARY", "DATETIME" };

const char *sch_q_type_name(enum sch_q_type t)
{
	return (unsigned)t < sizeof(type_names) / sizeof(type_names[0]) ? type_names[t] : "?";
}

int sch_q_type_parse(const char *s)
{
	for (int i = 1; i < (int)(sizeof(type_names) / sizeof(type_names[0])); i++)
		if (strcasecmp(s, type_names[i]) == 0)
			return i;
	if (strcasecmp(s, "INT") == 0)
		return SCH_QT_BIGINT;
	return -1;
}

const struct sch_token *qp_cur(struct qp *p)
{
	return &p->toks->v[p->pos];
}

const struct sch_token *qp_peek(struct qp *p, size_t k)
{
	size_t i = p->pos + k;
	return &p->toks->v[i < p->toks->n ? i : p->toks->n - 1];
}

void qp_next(struct qp *p)
{
	if (p->pos + 1 < p->toks->n)
		p->pos++;
}

int qp_fail(struct qp *p, const char *expected)
{
	const struct sch_token *t = qp_cur(p);
	const char *found = t->type == SCH_TOK_EOF ? "end of text" : t->text;
	return cmn_err_set(p->err, CMN_EINVAL, 0, "%d:%d: expected %s, found '%.64s'", t->line,
			   t->col, expected, found);
}

int qp_failat(struct qp *p, const struct sch_token *t, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return cmn_err_set(p->err, CMN_EINVAL, 0, "%d:%d: %s", t->line, t->col, msg);
}

bool qp_kw(struct qp *p, const char *kw)
{
	return sch_tok_is_kw(qp_cur(p), kw);
}

bool qp_accept_kw(struct qp *p, const char *kw)
{
	if (!qp_kw(p, kw))
		return false;
	qp_next(p);
	return true;
}

int qp_expect_kw(struct qp *p, const char *kw)
{
	return qp_accept_kw(p, kw) ? 0 : qp_fail(p, kw);
}

bool qp_punct(struct qp *p, const char *s)
{
	return sch_tok_is_punct(qp_cur(p), s);
}

bool qp_accept_punct(struct qp *p, const char *s)
{
	if (!qp_punct(p, s))
		return false;
	qp_next(p);
	return true;
}

int qp_expect_punct(struct qp *p, const char *s)
{
	char what[8];
	if (qp_accept_punct(p, s))
		return 0;
	snprintf(what, sizeof(what), "'%s'", s);
	return qp_fail(p, what);
}

char *qp_strdup(struct qp *p, const char *s)
{
	char *d = strdup(s);
	if (!d)
		cmn_err_set(p->err, CMN_ENOMEM, 0, "out of memory");
	return d;
}

/* Words that end an expression or a FROM item, so they are never taken as
 * an implicit alias. */
static const char *const reserved[] = {
	"SELECT",  "FROM",     "WHERE", "GROUP", "HAVING",    "ORDER",  "LIMIT",     "UNION",
	"JOIN",    "INNER",    "LEFT",  "RIGHT", "FULL",      "OUTER",  "CROSS",     "ON",
	"LATERAL", "AS",       "AND",   "OR",    "NOT",       "IS",     "IN",        "BETWEEN",
	"LIKE",    "CASE",     "WHEN",  "THEN",  "ELSE",      "END",    "BY",        "ASC",
	"DESC",    "DISTINCT", "ALL",   "USING", "RESOURCES", "VALUES", "PARTITION", "NULL",
	"TRUE",    "FALSE",    "CAST",
};

bool qp_reserved(const struct sch_token *t)
{
	if (t->type != SCH_TOK_IDENT)
		return false;
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strcasecmp(t->text, reserved[i]) == 0)
			return true;
	return false;
}

int qp_ident(struct qp *p, const char *what, char **out)
{
	const struct sch_token *t = qp_cur(p);
	if (t->type != SCH_TOK_QIDENT && (t->type != SCH_TOK_IDENT || qp_reserved(t)))
		return qp_fail(p, what);
	*out = qp_strdup(p, t->text);
	if (!*out)
		return -1;
	qp_next(p);
	return 0;
}

int qp_string(struct qp *p, const char *what, char **out)
{
	if (qp_cur(p)->type != SCH_TOK_STRING)
		return qp_fail(p, what);
	*out = qp_strdup(p, qp_cur(p)->text);
	if (!*out)
		return -1;
	qp_next(p);
	return 0;
}

int qp_name(struct qp *p, const char *what, struct sch_sql_name *out)
{
	char *first = NULL;
	if (qp_ident(p, what, &first) < 0)
		return -1;
	if (qp_accept_punct(p, ".")) {
		out->project = first;
		return qp_ident(p, what, &out->name);
	}
	out->name = first;
	return 0;
}

int qp_grow(struct qp *p, void **v, size_t n, size_t size)
{
	void *nv;
	if (n >= SCH_Q_MAX_LIST)
		return cmn_err_set(p->err, CMN_ELIMIT, 0, "%d:%d: list too long (limit %u)",
				   qp_cur(p)->line, qp_cur(p)->col, SCH_Q_MAX_LIST);
	nv = realloc(*v, (n + 1) * size);
	if (!nv)
		return cmn_err_set(p->err, CMN_ENOMEM, 0, "out of memory");
	*v = nv;
	return 0;
}

int qp_list_push(struct qp *p, struct sch_sql_list *l, char *item)
{
	if (qp_grow(p, (void **)&l->v, l->n, sizeof(*l->v)) < 0) {
		free(item);
		return -1;
	}
	l->v[l->n++] = item;
	return 0;
}

int qp_enter(struct qp *p)
{
	if (p->depth >= SCH_Q_MAX_DEPTH)
		return cmn_err_set(p->err, CMN_ELIMIT, 0, "%d:%d: nested too deeply (limit %d)",
				   qp_cur(p)->line, qp_cur(p)->col, SCH_Q_MAX_DEPTH);
	p->depth++;
	return 0;
}

int qp_type(struct qp *p, enum sch_q_type *out)
{
	const struct sch_token *t = qp_cur(p);
	int ty = t->type == SCH_TOK_IDENT ? sch_q_type_parse(t->text) : -1;
	if (ty < 0)
		return qp_fail(p, "a type (BIGINT, DOUBLE, BOOLEAN, STRING, BINARY, DATETIME)");
	*out = (enum sch_q_type)ty;
	qp_next(p);
	return 0;
}

/* ---- tree helpers ---------------------------------------------------------- */

void sch_q_expr_free(struct sch_q_expr *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->nargs; i++)
		sch_q_expr_free(e->args[i]);
	free(e->args);
	free(e->sval);
	free(e->qual);
	free(e->name);
	free(e->fn_ref);
	free(e->rcol);
	free(e);
}

static char *dup_opt(const char *s, bool *ok)
{
	char *d;
	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*ok = false;
	return d;
}

struct sch_q_expr *sch_q_expr_dup(const struct sch_q_expr *e)
{
	struct sch_q_expr *d;
	bool ok = true;

	if (!e)
		return NULL;
	d = malloc(sizeof(*d));
	if (!d)
		return NULL;
	*d = *e;
	d->sval = dup_opt(e->sval, &ok);
	d->qual = dup_opt(e->qual, &ok);
	d->name = dup_opt(e->name, &ok);
	d->fn_ref = dup_opt(e->fn_ref, &ok);
	d->rcol = dup_opt(e->rcol, &ok);
	d->args = NULL;
	d->nargs = 0;
	if (e->nargs) {
		d->args = calloc(e->nargs, sizeof(*d->args));
		if (!d->args)
			ok = false;
		for (size_t i = 0; ok && i < e->nargs; i++) {
			d->args[i] = sch_q_expr_dup(e->args[i]);
			d->nargs = i + 1;
			if (!d->args[i])
				ok = false;
		}
	}
	if (!ok) {
		sch_q_expr_free(d);
		return NULL;
	}
	return d;
}

static bool str_eq(const char *a, const char *b, bool nocase)
{
	if (!a || !b)
		return a == b;
	return nocase ? strcasecmp(a, b) == 0 : strcmp(a, b) == 0;
}

bool sch_q_expr_equal(const struct sch_q_expr *a, const struct sch_q_expr *b)
{
	if (!a || !b)
		return a == b;
	if (a->kind != b->kind || a->nargs != b->nargs || a->negated != b->negated ||
	    a->distinct != b->distinct || !str_eq(a->op, b->op, false))
		return false;
	switch (a->kind) {
	case SCH_QE_INT:
	case SCH_QE_BOOL:
		if (a->ival != b->ival)
			return false;
		break;
	case SCH_QE_DOUBLE:
	case SCH_QE_STRING:
		if (!str_eq(a->sval, b->sval, false))
			return false;
		break;
	case SCH_QE_COLUMN:
		/* once resolved, the binding decides (t.a and a may be the same) */
		if (a->src >= 0 && b->src >= 0)
			return a->src == b->src && a->colidx == b->colidx && a->outer == b->outer;
		if (!str_eq(a->qual, b->qual, true) || !str_eq(a->name, b->name, true))
			return false;
		break;
	case SCH_QE_CAST:
		if (a->cast_type != b->cast_type)
			return false;
		break;
	case SCH_QE_CALL:
		if (!str_eq(a->qual, b->qual, true) || !str_eq(a->name, b->name, true))
			return false;
		break;
	case SCH_QE_CASE:
		if (a->case_operand != b->case_operand || a->case_else != b->case_else)
			return false;
		break;
	default:
		break;
	}
	for (size_t i = 0; i < a->nargs; i++)
		if (!sch_q_expr_equal(a->args[i], b->args[i]))
			return false;
	return true;
}

bool sch_q_is_builtin_agg(const char *name)
{
	static const char *const aggs[] = { "COUNT", "SUM", "AVG", "MIN", "MAX" };
	for (size_t i = 0; i < sizeof(aggs) / sizeof(aggs[0]); i++)
		if (strcasecmp(name, aggs[i]) == 0)
			return true;
	return false;
}

bool sch_q_expr_has_agg(const struct sch_q_expr *e)
{
	if (!e)
		return false;
	if (e->kind == SCH_QE_CALL &&
	    (e->fkind == SCH_QF_AGGREGATE || e->fkind == SCH_QF_UDAF ||
	     (e->fkind == SCH_QF_UNRESOLVED && !e->qual && sch_q_is_builtin_agg(e->name))))
		return true;
	for (size_t i = 0; i < e->nargs; i++)
		if (sch_q_expr_has_agg(e->args[i]))
			return true;
	return false;
}

void sch_q_from_free(struct sch_q_from *f)
{
	if (!f)
		return;
	free(f->table.project);
	free(f->table.name);
	free(f->alias);
	sch_q_query_free(f->sub);
	sch_q_from_free(f->left);
	sch_q_from_free(f->right);
	sch_q_expr_free(f->on);
	sch_q_expr_free(f->udtf);
	sch_sql_list_free(&f->cols);
	free(f->view_owner);
	free(f);
}

void sch_q_select_free(struct sch_q_select *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nitems; i++) {
		sch_q_expr_free(s->items[i].e);
		free(s->items[i].alias);
		free(s->items[i].star_qual);
	}
	free(s->items);
	sch_sql_list_free(&s->udtf_cols);
	sch_sql_list_free(&s->udtf_rcols);
	sch_q_from_free(s->from);
	sch_q_expr_free(s->where);
	for (size_t i = 0; i < s->ngroup; i++)
		sch_q_expr_free(s->group[i]);
	free(s->group);
	sch_q_expr_free(s->having);
	for (size_t i = 0; i < s->norder; i++)
		sch_q_expr_free(s->order[i].e);
	free(s->order);
	free(s->using_cmd);
	sch_sql_list_free(&s->resources);
	sch_sql_list_free(&s->tcols);
	free(s->tcol_types);
	free(s);
}

void sch_q_query_free(struct sch_q_query *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->n; i++)
		sch_q_select_free(q->v[i]);
	free(q->v);
	free(q);
}

static void coldefs_free(struct sch_q_coldef *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].name);
		free(c[i].comment);
	}
	free(c);
}

void sch_q_stmt_free(struct sch_q_stmt *s)
{
	if (!s)
		return;
	free(s->name.project);
	free(s->name.name);
	coldefs_free(s->cols, s->ncols);
	coldefs_free(s->pcols, s->npcols);
	free(s->comment);
	sch_q_query_free(s->query);
	free(s->query_text);
	for (size_t i = 0; i < s->npart; i++) {
		free(s->part[i].col);
		free(s->part[i].value);
	}
	free(s->part);
	sch_sql_list_free(&s->insert_cols);
	for (size_t r = 0; r < s->nrows; r++) {
		for (size_t c = 0; s->values[r] && c < s->nvalcols; c++)
			sch_q_expr_free(s->values[r][c]);
		free(s->values[r]);
	}
	free(s->values);
	free(s->class_name);
	sch_sql_list_free(&s->resources);
	free(s->key);
	free(s->value);
	free(s);
}

void sch_q_script_free(struct sch_q_script *sc)
{
	if (!sc)
		return;
	for (size_t i = 0; i < sc->n; i++)
		sch_q_stmt_free(sc->v[i]);
	free(sc->v);
	sc->v = NULL;
	sc->n = 0;
}

enum sch_q_kind sch_q_text_kind(const char *src, size_t len)
{
	struct sch_q_script sc;
	struct cmn_err err = CMN_ERR_INIT;
	enum sch_q_kind kind = SCH_Q_SET;

	if (sch_q_parse(src, len, &sc, &err) < 0)
		return 0;
	for (size_t i = 0; i < sc.n; i++)
		if (sc.v[i]->kind != SCH_Q_SET)
			kind = sc.v[i]->kind;
	sch_q_script_free(&sc);
	return kind;
}
