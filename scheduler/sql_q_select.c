/* scheduler/sql_q_select.c — SELECT, FROM items and UNION ALL. */
#include <stdlib.h>
#include <string.h>

#include "scheduler/sql_q_int.h"

static struct sch_q_from *from_node(struct qp *p, enum sch_q_from_kind kind)
{
	struct sch_q_from *f = calloc(1, sizeof(*f));
	if (!f) {
		cmn_err_set(p->err, CMN_ENOMEM, 0, "out of memory");
		return NULL;
	}
	f->kind = kind;
	f->line = qp_cur(p)->line;
	f->col = qp_cur(p)->col;
	return f;
}

/* [AS] alias, when one is written. */
static int opt_alias(struct qp *p, char **alias, bool required)
{
	const struct sch_token *t = qp_cur(p);
	if (qp_accept_kw(p, "AS"))
		return qp_ident(p, "alias", alias);
	if (t->type == SCH_TOK_QIDENT || (t->type == SCH_TOK_IDENT && !qp_reserved(t)))
		return qp_ident(p, "alias", alias);
	return required ? qp_fail(p, "alias") : 0;
}

static int from_primary(struct qp *p, struct sch_q_from **out)
{
	struct sch_q_from *f;
	if (qp_accept_punct(p, "(")) {
		*out = f = from_node(p, SCH_QF_SUBQUERY);
		if (!f || qp_query(p, &f->sub) < 0 || qp_expect_punct(p, ")") < 0)
			return -1;
		return opt_alias(p, &f->alias, true);
	}
	*out = f = from_node(p, SCH_QF_TABLE);
	if (!f || qp_name(p, "table name", &f->table) < 0)
		return -1;
	return opt_alias(p, &f->alias, false);
}

static int join_kind(struct qp *p, enum sch_q_join *out)
{
	if (qp_accept_kw(p, "JOIN")) {
		*out = SCH_QJ_INNER;
		return 1;
	}
	if (qp_accept_kw(p, "INNER")) {
		*out = SCH_QJ_INNER;
		return qp_expect_kw(p, "JOIN") < 0 ? -1 : 1;
	}
	if (qp_kw(p, "LEFT") || qp_kw(p, "RIGHT") || qp_kw(p, "FULL")) {
		*out = qp_kw(p, "LEFT")    ? SCH_QJ_LEFT
		       : qp_kw(p, "RIGHT") ? SCH_QJ_RIGHT
					   : SCH_QJ_FULL;
		qp_next(p);
		(void)qp_accept_kw(p, "OUTER");
		return qp_expect_kw(p, "JOIN") < 0 ? -1 : 1;
	}
	if (qp_accept_kw(p, "CROSS")) {
		*out = SCH_QJ_CROSS;
		return qp_expect_kw(p, "JOIN") < 0 ? -1 : 1;
	}
	return 0;
}

static int lateral_view(struct qp *p, struct sch_q_from **acc)
{
	struct sch_q_from *f = from_node(p, SCH_QF_LATERAL);
	if (!f)
		return -1;
	f->left = *acc;
	*acc = f;
	if (qp_expect_kw(p, "VIEW") < 0 || qp_expr(p, &f->udtf) < 0)
		return -1;
	if (f->udtf->kind != SCH_QE_CALL)
		return qp_failat(p, qp_cur(p), "%s", "LATERAL VIEW needs a table function call");
	if (qp_ident(p, "table alias", &f->alias) < 0 || qp_expect_kw(p, "AS") < 0)
		return -1;
	do {
		char *c = NULL;
		if (qp_ident(p, "column alias", &c) < 0 || qp_list_push(p, &f->cols, c) < 0)
			return -1;
	} while (qp_accept_punct(p, ","));
	return 0;
}

static int from_join(struct qp *p, struct sch_q_from **out)
{
	if (from_primary(p, out) < 0)
		return -1;
	for (;;) {
		enum sch_q_join jk;
		struct sch_q_from *j;
		int rc;
		if (qp_accept_kw(p, "LATERAL")) {
			if (lateral_view(p, out) < 0)
				return -1;
			continue;
		}
		rc = join_kind(p, &jk);
		if (rc <= 0)
			return rc;
		j = from_node(p, SCH_QF_JOIN);
		if (!j)
			return -1;
		j->join = jk;
		j->left = *out;
		*out = j;
		if (from_primary(p, &j->right) < 0)
			return -1;
		if (jk != SCH_QJ_CROSS && (qp_expect_kw(p, "ON") < 0 || qp_expr(p, &j->on) < 0))
			return -1;
	}
}

static int from_list(struct qp *p, struct sch_q_from **out)
{
	if (from_join(p, out) < 0)
		return -1;
	while (qp_accept_punct(p, ",")) {
		struct sch_q_from *j = from_node(p, SCH_QF_JOIN);
		if (!j)
			return -1;
		j->join = SCH_QJ_CROSS;
		j->left = *out;
		*out = j;
		if (from_join(p, &j->right) < 0)
			return -1;
	}
	return 0;
}

static int push_item(struct qp *p, struct sch_q_select *s, struct sch_q_item it)
{
	if (qp_grow(p, (void **)&s->items, s->nitems, sizeof(*s->items)) < 0) {
		sch_q_expr_free(it.e);
		free(it.alias);
		free(it.star_qual);
		return -1;
	}
	s->items[s->nitems++] = it;
	return 0;
}

static int ident_list_paren(struct qp *p, struct sch_sql_list *l, enum sch_q_type **types)
{
	if (qp_expect_punct(p, "(") < 0)
		return -1;
	do {
		char *c = NULL;
		if (qp_ident(p, "column name", &c) < 0 || qp_list_push(p, l, c) < 0)
			return -1;
		if (types) {
			if (qp_grow(p, (void **)types, l->n - 1, sizeof(**types)) < 0)
				return -1;
			(*types)[l->n - 1] = SCH_QT_STRING;
			if (qp_cur(p)->type == SCH_TOK_IDENT &&
			    sch_q_type_parse(qp_cur(p)->text) > 0)
				(void)qp_type(p, &(*types)[l->n - 1]);
		}
	} while (qp_accept_punct(p, ","));
	return qp_expect_punct(p, ")");
}

static int transform(struct qp *p, struct sch_q_select *s)
{
	s->transform = true;
	if (qp_expect_punct(p, "(") < 0)
		return -1;
	do {
		struct sch_q_item it = { 0 };
		if (qp_expr(p, &it.e) < 0 || push_item(p, s, it) < 0)
			return -1;
	} while (qp_accept_punct(p, ","));
	if (qp_expect_punct(p, ")") < 0 || qp_expect_kw(p, "USING") < 0 ||
	    qp_string(p, "command string", &s->using_cmd) < 0)
		return -1;
	if (qp_accept_kw(p, "RESOURCES")) {
		do {
			char *r = NULL;
			if (qp_string(p, "resource name", &r) < 0 ||
			    qp_list_push(p, &s->resources, r) < 0)
				return -1;
		} while (qp_accept_punct(p, ","));
	}
	if (qp_accept_kw(p, "AS"))
		return ident_list_paren(p, &s->tcols, &s->tcol_types);
	return 0;
}

static int select_items(struct qp *p, struct sch_q_select *s)
{
	if ((qp_kw(p, "TRANSFORM") || qp_kw(p, "MAP") || qp_kw(p, "REDUCE")) &&
	    sch_tok_is_punct(qp_peek(p, 1), "(")) {
		qp_next(p);
		return transform(p, s);
	}
	do {
		struct sch_q_item it = { 0 };
		if (qp_accept_punct(p, "*")) {
			it.star = true;
		} else if ((qp_cur(p)->type == SCH_TOK_IDENT ||
			    qp_cur(p)->type == SCH_TOK_QIDENT) &&
			   sch_tok_is_punct(qp_peek(p, 1), ".") &&
			   sch_tok_is_punct(qp_peek(p, 2), "*")) {
			it.star = true;
			if (qp_ident(p, "table alias", &it.star_qual) < 0)
				return -1;
			qp_next(p);
			qp_next(p);
		} else {
			if (qp_expr(p, &it.e) < 0)
				return -1;
			if (s->nitems == 0 && qp_kw(p, "AS") &&
			    sch_tok_is_punct(qp_peek(p, 1), "(")) {
				/* SELECT udtf(args) AS (c1, ...) */
				qp_next(p);
				if (push_item(p, s, it) < 0)
					return -1;
				return ident_list_paren(p, &s->udtf_cols, NULL);
			}
			if (opt_alias(p, &it.alias, false) < 0) {
				sch_q_expr_free(it.e);
				return -1;
			}
		}
		if (push_item(p, s, it) < 0)
			return -1;
	} while (qp_accept_punct(p, ","));
	return 0;
}

static int expr_list(struct qp *p, struct sch_q_expr ***v, size_t *n)
{
	do {
		struct sch_q_expr *e = NULL;
		if (qp_expr(p, &e) < 0)
			return -1;
		if (qp_grow(p, (void **)v, *n, sizeof(**v)) < 0) {
			sch_q_expr_free(e);
			return -1;
		}
		(*v)[(*n)++] = e;
	} while (qp_accept_punct(p, ","));
	return 0;
}

static int order_by(struct qp *p, struct sch_q_select *s)
{
	do {
		struct sch_q_expr *e = NULL;
		if (qp_expr(p, &e) < 0)
			return -1;
		if (qp_grow(p, (void **)&s->order, s->norder, sizeof(*s->order)) < 0) {
			sch_q_expr_free(e);
			return -1;
		}
		s->order[s->norder].e = e;
		s->order[s->norder].desc = false;
		if (qp_accept_kw(p, "DESC"))
			s->order[s->norder].desc = true;
		else
			(void)qp_accept_kw(p, "ASC");
		s->norder++;
	} while (qp_accept_punct(p, ","));
	return 0;
}

static int limit(struct qp *p, struct sch_q_select *s)
{
	const struct sch_token *t = qp_cur(p);
	char *end;
	long long v;
	if (t->type != SCH_TOK_NUMBER)
		return qp_fail(p, "a row count");
	v = strtoll(t->text, &end, 10);
	if (*end != '\0' || v < 0)
		return qp_failat(p, t, "LIMIT %s is not a non-negative integer", t->text);
	s->has_limit = true;
	s->limit = v;
	qp_next(p);
	return 0;
}

static int select_body(struct qp *p, struct sch_q_select *s)
{
	if (qp_accept_kw(p, "DISTINCT"))
		s->distinct = true;
	else
		(void)qp_accept_kw(p, "ALL");
	if (select_items(p, s) < 0)
		return -1;
	if (qp_accept_kw(p, "FROM") && from_list(p, &s->from) < 0)
		return -1;
	if (qp_accept_kw(p, "WHERE") && qp_expr(p, &s->where) < 0)
		return -1;
	if (qp_accept_kw(p, "GROUP")) {
		if (qp_expect_kw(p, "BY") < 0 || expr_list(p, &s->group, &s->ngroup) < 0)
			return -1;
	}
	if (qp_accept_kw(p, "HAVING") && qp_expr(p, &s->having) < 0)
		return -1;
	if (qp_accept_kw(p, "ORDER")) {
		if (qp_expect_kw(p, "BY") < 0 || order_by(p, s) < 0)
			return -1;
	}
	if (qp_accept_kw(p, "LIMIT") && limit(p, s) < 0)
		return -1;
	return 0;
}

int qp_query(struct qp *p, struct sch_q_query **out)
{
	struct sch_q_query *q;
	int rc = 0;

	if (qp_enter(p) < 0)
		return -1;
	*out = q = calloc(1, sizeof(*q));
	if (!q) {
		p->depth--;
		return cmn_err_set(p->err, CMN_ENOMEM, 0, "out of memory");
	}
	do {
		struct sch_q_select *s;
		const struct sch_token *t = qp_cur(p);
		if (qp_expect_kw(p, "SELECT") < 0 ||
		    qp_grow(p, (void **)&q->v, q->n, sizeof(*q->v)) < 0) {
			rc = -1;
			break;
		}
		s = calloc(1, sizeof(*s));
		if (!s) {
			rc = cmn_err_set(p->err, CMN_ENOMEM, 0, "out of memory");
			break;
		}
		s->line = t->line;
		s->col = t->col;
		q->v[q->n++] = s;
		if (select_body(p, s) < 0) {
			rc = -1;
			break;
		}
		if (!qp_kw(p, "UNION"))
			break;
		qp_next(p);
		if (qp_expect_kw(p, "ALL") < 0) {
			rc = qp_failat(p, qp_peek(p, 0), "%s", "only UNION ALL is supported");
			break;
		}
	} while (1);
	p->depth--;
	return rc;
}
