/* scheduler/sql_q_expr.c — expressions of the query grammar; precedence
 * from loosest: OR, AND, NOT, comparison/IS/IN/BETWEEN/LIKE, ||, + -,
 * * / %, unary - +, primary. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scheduler/sql_q_int.h"

static struct sch_q_expr *node(struct qp *p, enum sch_q_ekind kind, const struct sch_token *at)
{
	struct sch_q_expr *e = calloc(1, sizeof(*e));
	if (!e) {
		cmn_err_set(p->err, CMN_ENOMEM, 0, "out of memory");
		return NULL;
	}
	e->kind = kind;
	e->line = at->line;
	e->col = at->col;
	e->src = -1;
	e->colidx = -1;
	return e;
}

static int add_arg(struct qp *p, struct sch_q_expr *e, struct sch_q_expr *a)
{
	if (!a)
		return -1;
	if (qp_grow(p, (void **)&e->args, e->nargs, sizeof(*e->args)) < 0) {
		sch_q_expr_free(a);
		return -1;
	}
	e->args[e->nargs++] = a;
	return 0;
}

/* Builds op(l, r) taking ownership of both; NULL on failure (both freed). */
static struct sch_q_expr *binary(struct qp *p, enum sch_q_ekind kind, const char *op,
				 const struct sch_token *at, struct sch_q_expr *l,
				 struct sch_q_expr *r)
{
	struct sch_q_expr *e = node(p, kind, at);
	if (!e) {
		sch_q_expr_free(l);
		sch_q_expr_free(r);
		return NULL;
	}
	e->op = op;
	if (add_arg(p, e, l) < 0 || (r && add_arg(p, e, r) < 0)) {
		if (r && e->nargs == 1)
			sch_q_expr_free(r);
		sch_q_expr_free(e);
		return NULL;
	}
	return e;
}

static int parse_or(struct qp *p, struct sch_q_expr **out);
static int concat(struct qp *p, struct sch_q_expr **out);

/* Parses one operand with fn and appends it to e; frees partial trees. */
static int arg_with(struct qp *p, struct sch_q_expr *e,
		    int (*fn)(struct qp *, struct sch_q_expr **))
{
	struct sch_q_expr *a = NULL;
	if (fn(p, &a) < 0) {
		sch_q_expr_free(a);
		return -1;
	}
	return add_arg(p, e, a);
}

static int number(struct qp *p, struct sch_q_expr **out)
{
	const struct sch_token *t = qp_cur(p);
	struct sch_q_expr *e;
	bool is_int = !strpbrk(t->text, ".eE");
	char *end;

	if (strpbrk(t->text, "KkMmGgSs"))
		return qp_failat(p, t, "malformed number '%s'", t->text);
	e = node(p, SCH_QE_INT, t);
	if (!e)
		return -1;
	errno = 0;
	if (is_int) {
		long long v = strtoll(t->text, &end, 10);
		if (errno == 0 && *end == '\0') {
			e->ival = v;
			goto done;
		}
	}
	e->kind = SCH_QE_DOUBLE;
	e->dval = strtod(t->text, &end);
	e->sval = qp_strdup(p, t->text);
	if (!e->sval) {
		sch_q_expr_free(e);
		return -1;
	}
done:
	qp_next(p);
	*out = e;
	return 0;
}

/* name(args) with name already consumed into e->name/qual. */
static int call_args(struct qp *p, struct sch_q_expr *e)
{
	if (qp_accept_punct(p, ")"))
		return 0;
	if (qp_accept_kw(p, "DISTINCT"))
		e->distinct = true;
	else
		(void)qp_accept_kw(p, "ALL");
	if (!e->distinct && qp_punct(p, "*") && sch_tok_is_punct(qp_peek(p, 1), ")")) {
		struct sch_q_expr *s = node(p, SCH_QE_STAR, qp_cur(p));
		if (add_arg(p, e, s) < 0)
			return -1;
		qp_next(p);
		qp_next(p);
		return 0;
	}
	do {
		if (arg_with(p, e, parse_or) < 0)
			return -1;
	} while (qp_accept_punct(p, ","));
	return qp_expect_punct(p, ")");
}

static int parse_case(struct qp *p, struct sch_q_expr *e)
{
	if (!qp_kw(p, "WHEN") && !qp_kw(p, "END")) {
		if (arg_with(p, e, parse_or) < 0)
			return -1;
		e->case_operand = true;
	}
	if (!qp_kw(p, "WHEN"))
		return qp_fail(p, "WHEN");
	while (qp_accept_kw(p, "WHEN")) {
		if (arg_with(p, e, parse_or) < 0 || qp_expect_kw(p, "THEN") < 0 ||
		    arg_with(p, e, parse_or) < 0)
			return -1;
	}
	if (qp_accept_kw(p, "ELSE")) {
		if (arg_with(p, e, parse_or) < 0)
			return -1;
		e->case_else = true;
	}
	return qp_expect_kw(p, "END");
}

static int ident_primary(struct qp *p, struct sch_q_expr **out)
{
	const struct sch_token *t = qp_cur(p);
	struct sch_q_expr *e;
	char *first = NULL;

	if (qp_ident(p, "an expression", &first) < 0)
		return -1;
	e = node(p, SCH_QE_COLUMN, t);
	if (!e) {
		free(first);
		return -1;
	}
	*out = e;
	if (qp_punct(p, ":") && qp_peek(p, 1)->type == SCH_TOK_IDENT &&
	    sch_tok_is_punct(qp_peek(p, 2), "(")) {
		/* project:function(args) */
		qp_next(p);
		e->kind = SCH_QE_CALL;
		e->qual = first;
		if (qp_ident(p, "function name", &e->name) < 0)
			return -1;
		qp_next(p);
		return call_args(p, e);
	}
	if (qp_accept_punct(p, "(")) {
		e->kind = SCH_QE_CALL;
		e->name = first;
		return call_args(p, e);
	}
	if (qp_accept_punct(p, ".")) {
		e->qual = first;
		return qp_ident(p, "column name", &e->name);
	}
	e->name = first;
	return 0;
}

static int primary(struct qp *p, struct sch_q_expr **out)
{
	const struct sch_token *t = qp_cur(p);
	struct sch_q_expr *e;

	if (t->type == SCH_TOK_NUMBER)
		return number(p, out);
	if (t->type == SCH_TOK_STRING) {
		e = node(p, SCH_QE_STRING, t);
		if (!e || !(e->sval = qp_strdup(p, t->text))) {
			sch_q_expr_free(e);
			return -1;
		}
		qp_next(p);
		*out = e;
		return 0;
	}
	if (qp_kw(p, "NULL") || qp_kw(p, "TRUE") || qp_kw(p, "FALSE")) {
		e = node(p, qp_kw(p, "NULL") ? SCH_QE_NULL : SCH_QE_BOOL, t);
		if (!e)
			return -1;
		e->ival = qp_kw(p, "TRUE");
		qp_next(p);
		*out = e;
		return 0;
	}
	if (qp_accept_punct(p, "(")) {
		if (qp_kw(p, "SELECT"))
			return qp_failat(p, qp_cur(p), "%s", "scalar subqueries are not supported");
		if (parse_or(p, out) < 0)
			return -1;
		return qp_expect_punct(p, ")");
	}
	if (qp_kw(p, "CASE")) {
		qp_next(p);
		*out = e = node(p, SCH_QE_CASE, t);
		return e ? parse_case(p, e) : -1;
	}
	if (qp_kw(p, "CAST") && sch_tok_is_punct(qp_peek(p, 1), "(")) {
		qp_next(p);
		qp_next(p);
		*out = e = node(p, SCH_QE_CAST, t);
		if (!e || arg_with(p, e, parse_or) < 0 || qp_expect_kw(p, "AS") < 0 ||
		    qp_type(p, &e->cast_type) < 0)
			return -1;
		return qp_expect_punct(p, ")");
	}
	return ident_primary(p, out);
}

static int unary(struct qp *p, struct sch_q_expr **out)
{
	const struct sch_token *t = qp_cur(p);
	const char *op = qp_punct(p, "-") ? "-" : qp_punct(p, "+") ? "+" : NULL;
	struct sch_q_expr *a = NULL;
	int rc;

	if (!op) {
		if (qp_enter(p) < 0)
			return -1;
		rc = primary(p, out);
		p->depth--;
		return rc;
	}
	qp_next(p);
	if (qp_enter(p) < 0)
		return -1;
	rc = unary(p, &a);
	p->depth--;
	if (rc < 0) {
		sch_q_expr_free(a);
		return -1;
	}
	/* fold -<number> so that the most negative BIGINT is a literal */
	if (op[0] == '-' && a->kind == SCH_QE_DOUBLE &&
	    strcmp(a->sval, "9223372036854775808") == 0) {
		a->kind = SCH_QE_INT;
		a->ival = INT64_MIN;
		free(a->sval);
		a->sval = NULL;
		a->line = t->line;
		a->col = t->col;
		*out = a;
		return 0;
	}
	if (op[0] == '-' && a->kind == SCH_QE_INT && a->ival != INT64_MIN) {
		a->ival = -a->ival;
		a->line = t->line;
		a->col = t->col;
		*out = a;
		return 0;
	}
	*out = binary(p, SCH_QE_UNARY, op, t, a, NULL);
	return *out ? 0 : -1;
}

typedef int (*level_fn)(struct qp *p, struct sch_q_expr **out);

static int binary_level(struct qp *p, struct sch_q_expr **out, level_fn sub, const char *const *ops,
			size_t nops)
{
	if (sub(p, out) < 0)
		return -1;
	for (;;) {
		const struct sch_token *t = qp_cur(p);
		const char *op = NULL;
		struct sch_q_expr *r = NULL;
		for (size_t i = 0; i < nops; i++)
			if (sch_tok_is_punct(t, ops[i]))
				op = ops[i];
		if (!op)
			return 0;
		qp_next(p);
		if (sub(p, &r) < 0) {
			sch_q_expr_free(r);
			return -1;
		}
		*out = binary(p, SCH_QE_BINARY, op, t, *out, r);
		if (!*out)
			return -1;
	}
}

static int mul(struct qp *p, struct sch_q_expr **out)
{
	static const char *const ops[] = { "*", "/", "%" };
	return binary_level(p, out, unary, ops, 3);
}

static int add(struct qp *p, struct sch_q_expr **out)
{
	static const char *const ops[] = { "+", "-" };
	return binary_level(p, out, mul, ops, 2);
}

static int concat(struct qp *p, struct sch_q_expr **out)
{
	static const char *const ops[] = { "||" };
	return binary_level(p, out, add, ops, 1);
}

static const char *cmp_op(const struct sch_token *t)
{
	static const char *const ops[] = { "=", "==", "<>", "!=", "<", "<=", ">", ">=" };
	static const char *const canon[] = { "=", "=", "<>", "<>", "<", "<=", ">", ">=" };
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (sch_tok_is_punct(t, ops[i]))
			return canon[i];
	return NULL;
}

/* After the left operand: IS [NOT] NULL, [NOT] IN/BETWEEN/LIKE, or a
 * comparison operator. */
static int predicate_tail(struct qp *p, struct sch_q_expr **out, bool *more)
{
	const struct sch_token *t = qp_cur(p);
	const char *op = cmp_op(t);
	bool neg = false;
	struct sch_q_expr *e, *r = NULL;

	*more = true;
	if (op) {
		qp_next(p);
		if (concat(p, &r) < 0) {
			sch_q_expr_free(r);
			return -1;
		}
		*out = binary(p, SCH_QE_BINARY, op, t, *out, r);
		return *out ? 0 : -1;
	}
	if (qp_accept_kw(p, "IS")) {
		e = binary(p, SCH_QE_ISNULL, NULL, t, *out, NULL);
		*out = e;
		if (!e)
			return -1;
		e->negated = qp_accept_kw(p, "NOT");
		return qp_expect_kw(p, "NULL");
	}
	if (qp_kw(p, "NOT") &&
	    (sch_tok_is_kw(qp_peek(p, 1), "IN") || sch_tok_is_kw(qp_peek(p, 1), "BETWEEN") ||
	     sch_tok_is_kw(qp_peek(p, 1), "LIKE"))) {
		neg = true;
		qp_next(p);
	}
	if (qp_kw(p, "IN") || qp_kw(p, "BETWEEN") || qp_kw(p, "LIKE")) {
		enum sch_q_ekind k = qp_kw(p, "IN")        ? SCH_QE_IN
				     : qp_kw(p, "BETWEEN") ? SCH_QE_BETWEEN
							   : SCH_QE_LIKE;
		qp_next(p);
		e = binary(p, k, NULL, t, *out, NULL);
		*out = e;
		if (!e)
			return -1;
		e->negated = neg;
		if (k == SCH_QE_IN) {
			if (qp_expect_punct(p, "(") < 0)
				return -1;
			if (qp_kw(p, "SELECT"))
				return qp_failat(p, qp_cur(p), "%s",
						 "IN (subquery) is not supported");
			do {
				if (arg_with(p, e, concat) < 0)
					return -1;
			} while (qp_accept_punct(p, ","));
			return qp_expect_punct(p, ")");
		}
		if (arg_with(p, e, concat) < 0)
			return -1;
		if (k == SCH_QE_BETWEEN) {
			if (qp_expect_kw(p, "AND") < 0 || arg_with(p, e, concat) < 0)
				return -1;
		}
		return 0;
	}
	*more = false;
	return 0;
}

static int comparison(struct qp *p, struct sch_q_expr **out)
{
	bool more = true;
	if (concat(p, out) < 0)
		return -1;
	while (more)
		if (predicate_tail(p, out, &more) < 0)
			return -1;
	return 0;
}

static int parse_not(struct qp *p, struct sch_q_expr **out)
{
	const struct sch_token *t = qp_cur(p);
	struct sch_q_expr *a = NULL;
	int rc;

	if (!qp_accept_kw(p, "NOT"))
		return comparison(p, out);
	if (qp_enter(p) < 0)
		return -1;
	rc = parse_not(p, &a);
	p->depth--;
	if (rc < 0) {
		sch_q_expr_free(a);
		return -1;
	}
	*out = binary(p, SCH_QE_UNARY, "NOT", t, a, NULL);
	return *out ? 0 : -1;
}

static int kw_level(struct qp *p, struct sch_q_expr **out, level_fn sub, const char *kw)
{
	if (sub(p, out) < 0)
		return -1;
	while (qp_kw(p, kw)) {
		const struct sch_token *t = qp_cur(p);
		struct sch_q_expr *r = NULL;
		qp_next(p);
		if (sub(p, &r) < 0) {
			sch_q_expr_free(r);
			return -1;
		}
		*out = binary(p, SCH_QE_BINARY, kw[0] == 'A' ? "AND" : "OR", t, *out, r);
		if (!*out)
			return -1;
	}
	return 0;
}

static int parse_and(struct qp *p, struct sch_q_expr **out)
{
	return kw_level(p, out, parse_not, "AND");
}

static int parse_or(struct qp *p, struct sch_q_expr **out)
{
	int rc;
	if (qp_enter(p) < 0)
		return -1;
	rc = kw_level(p, out, parse_and, "OR");
	p->depth--;
	return rc;
}

/* On failure *out holds whatever was built (the caller frees it). */
int qp_expr(struct qp *p, struct sch_q_expr **out)
{
	*out = NULL;
	if (parse_or(p, out) < 0) {
		sch_q_expr_free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}
