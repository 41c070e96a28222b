/* scheduler/plan_sql.c — SQLite SQL generation from the resolved tree.
 *
 * Semantics kept from the dialect: `/` is always a DOUBLE division
 * (rendered CAST(a AS REAL) / b), NVL/IF/CONCAT map to ifnull/iif/||,
 * CAST types map to SQLite's storage classes, booleans are 0/1. Every
 * identifier is double-quoted, every string literal single-quoted with
 * quotes doubled, so no name or value can change the statement's shape. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scheduler/plan_int.h"

/* Appends s between two q characters, doubling every q inside: SQLite's
 * quoting for identifiers (q = '"') and string literals (q = '\''). This one
 * routine is what keeps user text from becoming SQL in the nodes. */
static int quoted(struct cmn_buf *b, const char *s, char q, struct cmn_err *err)
{
	const char both[2] = { q, q };

	if (cmn_buf_append(b, &q, 1, err) < 0)
		return -1;
	for (const char *p = s; *p; p++) {
		const char *end = strchr(p, q);
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (cmn_buf_append(b, p, n, err) < 0)
			return -1;
		p += n;
		if (!*p)
			break;
		if (cmn_buf_append(b, both, 2, err) < 0)
			return -1;
	}
	return cmn_buf_append(b, &q, 1, err);
}

int pl_ident(struct cmn_buf *b, const char *name, struct cmn_err *err)
{
	return quoted(b, name, '"', err);
}

static int string_lit(struct cmn_buf *b, const char *s, struct cmn_err *err)
{
	return quoted(b, s, '\'', err);
}

static const char *sqlite_type(enum sch_q_type t)
{
	switch (t) {
	case SCH_QT_DOUBLE:
		return "REAL";
	case SCH_QT_STRING:
		return "TEXT";
	case SCH_QT_BINARY:
		return "BLOB";
	default:
		return "INTEGER";
	}
}

/* CAST in MaxCompute's sense over SQLite's storage classes: a number to
 * BOOLEAN is x <> 0 and the text 'true'/'false' is 1/0 (other text NULL);
 * text to DATETIME is parsed ('YYYY-MM-DD[ HH:MM:SS[.mmm]]', UTC; NULL when
 * it does not parse), DATETIME to STRING is formatted the same way;
 * everything else is SQLite's CAST. */

static int cast_expr(struct pl_render *r, const struct sch_q_expr *e, struct cmn_buf *b)
{
	enum sch_q_type from = e->args[0]->ty, to = e->cast_type;
	const char *pre = "CAST(", *post = NULL;
	char tail[32];

	if (to == SCH_QT_BOOLEAN && from == SCH_QT_STRING) {
		pre = "(CASE lower(";
		post = ") WHEN 'true' THEN 1 WHEN 'false' THEN 0 END)";
	} else if (to == SCH_QT_BOOLEAN && from != SCH_QT_BOOLEAN) {
		pre = "(CAST(";
		post = " AS REAL) <> 0)";
	} else if (to == SCH_QT_DATETIME && from == SCH_QT_STRING) {
		pre = "CAST(round((julianday(";
		post = ") - 2440587.5) * 86400000.0) AS INTEGER)";
	} else if (to == SCH_QT_STRING && from == SCH_QT_DATETIME) {
		pre = "strftime('%Y-%m-%d %H:%M:%f', (";
		post = ") / 1000.0, 'unixepoch')";
	} else {
		snprintf(tail, sizeof(tail), " AS %s)", sqlite_type(to));
		post = tail;
	}
	if (cmn_buf_append_str(b, pre, r->err) < 0 || pl_expr(r, e->args[0], b) < 0)
		return -1;
	return cmn_buf_append_str(b, post, r->err);
}

int sch_plan_fn_name(const char *ref, const char *project, char *out, size_t outlen)
{
	const char *colon = strchr(ref, ':');
	int n;
	if (!colon)
		return -1;
	if ((size_t)(colon - ref) == strlen(project) && strncmp(ref, project, strlen(project)) == 0)
		n = snprintf(out, outlen, "%s", colon + 1);
	else
		n = snprintf(out, outlen, "%.*s__%s", (int)(colon - ref), ref, colon + 1);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

static int args(struct pl_render *r, const struct sch_q_expr *e, size_t from, const char *sep,
		struct cmn_buf *b)
{
	for (size_t i = from; i < e->nargs; i++) {
		if (i > from && cmn_buf_append_str(b, sep, r->err) < 0)
			return -1;
		if (pl_expr(r, e->args[i], b) < 0)
			return -1;
	}
	return 0;
}

static int call(struct pl_render *r, const struct sch_q_expr *e, struct cmn_buf *b)
{
	char name[300];
	const char *n = e->name;

	if (e->fkind == SCH_QF_UDF || e->fkind == SCH_QF_UDAF || e->fkind == SCH_QF_UDTF) {
		if (sch_plan_fn_name(e->fn_ref, r->project, name, sizeof(name)) < 0)
			return cmn_err_set(r->err, CMN_EINVAL, 0, "function name too long");
		if (pl_ident(b, name, r->err) < 0)
			return -1;
	} else {
		if (!strcasecmp(n, "concat")) {
			if (cmn_buf_append_str(b, "(", r->err) < 0 || args(r, e, 0, " || ", b) < 0)
				return -1;
			return cmn_buf_append_str(b, ")", r->err);
		}
		if (!strcasecmp(n, "nvl"))
			n = "ifnull";
		else if (!strcasecmp(n, "if"))
			n = "iif";
		else if (!strcasecmp(n, "substring"))
			n = "substr";
		snprintf(name, sizeof(name), "%s", n);
		for (char *c = name; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		if (cmn_buf_append_str(b, name, r->err) < 0)
			return -1;
	}
	if (cmn_buf_append_str(b, "(", r->err) < 0)
		return -1;
	if (e->distinct && cmn_buf_append_str(b, "DISTINCT ", r->err) < 0)
		return -1;
	if (e->nargs == 1 && e->args[0]->kind == SCH_QE_STAR) {
		if (cmn_buf_append_str(b, "*", r->err) < 0)
			return -1;
	} else if (args(r, e, 0, ", ", b) < 0) {
		return -1;
	}
	return cmn_buf_append_str(b, ")", r->err);
}

static int column(struct pl_render *r, const struct sch_q_expr *e, struct cmn_buf *b)
{
	char buf[32];
	if (e->src == -2 && r->sel)
		return pl_ident(b, pl_item_name(r->sel, (size_t)e->colidx, buf, sizeof(buf)),
				r->err);
	if (e->src < 0 || (size_t)e->src >= r->naliases)
		return cmn_err_set(r->err, CMN_EINTERNAL, 0, "%d:%d: unbound column '%s'", e->line,
				   e->col, e->name);
	if (pl_ident(b, r->aliases[e->src], r->err) < 0 || cmn_buf_append_str(b, ".", r->err) < 0)
		return -1;
	return pl_ident(b, e->rcol ? e->rcol : e->name, r->err);
}

static int case_expr(struct pl_render *r, const struct sch_q_expr *e, struct cmn_buf *b)
{
	size_t i = 0, end = e->nargs - (e->case_else ? 1 : 0);
	if (cmn_buf_append_str(b, "(CASE", r->err) < 0)
		return -1;
	if (e->case_operand) {
		if (cmn_buf_append_str(b, " ", r->err) < 0 || pl_expr(r, e->args[0], b) < 0)
			return -1;
		i = 1;
	}
	for (; i + 1 < end + 1 && i < end; i += 2) {
		if (cmn_buf_append_str(b, " WHEN ", r->err) < 0 || pl_expr(r, e->args[i], b) < 0 ||
		    cmn_buf_append_str(b, " THEN ", r->err) < 0 ||
		    pl_expr(r, e->args[i + 1], b) < 0)
			return -1;
	}
	if (e->case_else && (cmn_buf_append_str(b, " ELSE ", r->err) < 0 ||
			     pl_expr(r, e->args[e->nargs - 1], b) < 0))
		return -1;
	return cmn_buf_append_str(b, " END)", r->err);
}

static int predicate(struct pl_render *r, const struct sch_q_expr *e, struct cmn_buf *b)
{
	const char *neg = e->negated ? " NOT" : "";
	if (cmn_buf_append_str(b, "(", r->err) < 0 || pl_expr(r, e->args[0], b) < 0)
		return -1;
	switch (e->kind) {
	case SCH_QE_ISNULL:
		if (cmn_buf_printf(b, r->err, " IS%s NULL)", neg) < 0)
			return -1;
		return 0;
	case SCH_QE_IN:
		if (cmn_buf_printf(b, r->err, "%s IN (", neg) < 0 || args(r, e, 1, ", ", b) < 0)
			return -1;
		return cmn_buf_append_str(b, "))", r->err);
	case SCH_QE_BETWEEN:
		if (cmn_buf_printf(b, r->err, "%s BETWEEN ", neg) < 0 ||
		    pl_expr(r, e->args[1], b) < 0 || cmn_buf_append_str(b, " AND ", r->err) < 0 ||
		    pl_expr(r, e->args[2], b) < 0)
			return -1;
		return cmn_buf_append_str(b, ")", r->err);
	default: /* LIKE */
		if (cmn_buf_printf(b, r->err, "%s LIKE ", neg) < 0 || pl_expr(r, e->args[1], b) < 0)
			return -1;
		return cmn_buf_append_str(b, ")", r->err);
	}
}

static int operator(struct pl_render *r, const struct sch_q_expr *e, struct cmn_buf *b)
{
	if (e->kind == SCH_QE_UNARY) {
		if (cmn_buf_printf(b, r->err, "(%s%s", e->op, e->op[0] == 'N' ? " " : "") < 0 ||
		    pl_expr(r, e->args[0], b) < 0)
			return -1;
		return cmn_buf_append_str(b, ")", r->err);
	}
	if (cmn_buf_append_str(b, strcmp(e->op, "/") == 0 ? "(CAST(" : "(", r->err) < 0 ||
	    pl_expr(r, e->args[0], b) < 0)
		return -1;
	if (strcmp(e->op, "/") == 0 && cmn_buf_append_str(b, " AS REAL)", r->err) < 0)
		return -1;
	if (cmn_buf_printf(b, r->err, " %s ", e->op) < 0 || pl_expr(r, e->args[1], b) < 0)
		return -1;
	return cmn_buf_append_str(b, ")", r->err);
}

int pl_expr(struct pl_render *r, const struct sch_q_expr *e, struct cmn_buf *b)
{
	if (r->hook) {
		int rc = r->hook(r->hook_arg, e, b, r->err);
		if (rc != 0)
			return rc < 0 ? -1 : 0;
	}
	switch (e->kind) {
	case SCH_QE_NULL:
		return cmn_buf_append_str(b, "NULL", r->err);
	case SCH_QE_INT:
		if (e->ival == INT64_MIN)
			return cmn_buf_append_str(b, "(-9223372036854775807 - 1)", r->err);
		return cmn_buf_printf(b, r->err, "%" PRId64, e->ival);
	case SCH_QE_BOOL:
		return cmn_buf_append_str(b, e->ival ? "1" : "0", r->err);
	case SCH_QE_DOUBLE:
		if (isinf(e->dval)) /* 1e999 in the text: SQLite reads 9e999 as infinity */
			return cmn_buf_append_str(b, e->dval > 0 ? "9e999" : "-9e999", r->err);
		return cmn_buf_printf(b, r->err, "%.17g", e->dval);
	case SCH_QE_STRING:
		return string_lit(b, e->sval, r->err);
	case SCH_QE_COLUMN:
		return column(r, e, b);
	case SCH_QE_STAR:
		return cmn_buf_append_str(b, "*", r->err);
	case SCH_QE_UNARY:
	case SCH_QE_BINARY:
		return operator(r, e, b);
	case SCH_QE_CASE:
		return case_expr(r, e, b);
	case SCH_QE_CAST:
		return cast_expr(r, e, b);
	case SCH_QE_CALL:
		return call(r, e, b);
	default:
		return predicate(r, e, b);
	}
}

/* ---- sources ------------------------------------------------------------ */

static void alias_walk(const struct sch_q_from *f, const char **v, size_t n)
{
	if (!f)
		return;
	if (f->kind == SCH_QF_JOIN || f->kind == SCH_QF_LATERAL) {
		alias_walk(f->left, v, n);
		alias_walk(f->right, v, n);
	}
	if (f->kind != SCH_QF_JOIN && f->src_index >= 0 && (size_t)f->src_index < n)
		v[f->src_index] = f->alias ? f->alias : f->table.name;
}

static size_t count_sources(const struct sch_q_from *f)
{
	if (!f)
		return 0;
	if (f->kind == SCH_QF_JOIN)
		return count_sources(f->left) + count_sources(f->right);
	if (f->kind == SCH_QF_LATERAL)
		return count_sources(f->left) + 1;
	return 1;
}

int pl_aliases(const struct sch_q_select *s, char ***out, size_t *n, struct cmn_err *err)
{
	size_t k = count_sources(s->from);
	const char **tmp = calloc(k ? k : 1, sizeof(*tmp));
	char **v = calloc(k ? k : 1, sizeof(*v));

	if (!tmp || !v) {
		free(tmp);
		free(v);
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	}
	alias_walk(s->from, tmp, k);
	for (size_t i = 0; i < k; i++) {
		v[i] = strdup(tmp[i] ? tmp[i] : "?");
		if (!v[i]) {
			free(tmp);
			pl_aliases_free(v, i);
			return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		}
	}
	free(tmp);
	*out = v;
	*n = k;
	return 0;
}

void pl_aliases_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

static void used_expr(const struct sch_q_expr *e, int src, bool *used, size_t ncols)
{
	if (!e)
		return;
	if (e->kind == SCH_QE_COLUMN && e->src == src && e->colidx >= 0 &&
	    (size_t)e->colidx < ncols)
		used[e->colidx] = true;
	for (size_t i = 0; i < e->nargs; i++)
		used_expr(e->args[i], src, used, ncols);
}

static void used_from(const struct sch_q_from *f, int src, bool *used, size_t ncols)
{
	if (!f)
		return;
	used_expr(f->on, src, used, ncols);
	used_expr(f->udtf, src, used, ncols);
	used_from(f->left, src, used, ncols);
	used_from(f->right, src, used, ncols);
}

void pl_used_cols(const struct sch_q_select *s, int src, bool *used, size_t ncols)
{
	for (size_t i = 0; i < s->nitems; i++)
		used_expr(s->items[i].e, src, used, ncols);
	used_expr(s->where, src, used, ncols);
	for (size_t i = 0; i < s->ngroup; i++)
		used_expr(s->group[i], src, used, ncols);
	used_expr(s->having, src, used, ncols);
	for (size_t i = 0; i < s->norder; i++)
		used_expr(s->order[i].e, src, used, ncols);
	used_from(s->from, src, used, ncols);
}

const char *pl_item_name(const struct sch_q_select *s, size_t i, char *buf, size_t n)
{
	return sch_q_item_name(s, i, buf, n);
}

int pl_udtf_call(struct pl_render *r, const struct sch_q_expr *u, struct cmn_buf *b)
{
	return call(r, u, b);
}

/* ---- whole queries (the gather plan's FINAL) ----------------------------- */

static int from_sql(struct pl_render *r, const struct sch_q_select *s, const struct sch_q_from *f,
		    struct cmn_buf *b);

static int join_sql(struct pl_render *r, const struct sch_q_select *s, const struct sch_q_from *f,
		    struct cmn_buf *b)
{
	static const char *const kw[] = {
		"", " JOIN ", " LEFT JOIN ", " RIGHT JOIN ", " FULL JOIN ", " CROSS JOIN "
	};
	if (from_sql(r, s, f->left, b) < 0 || cmn_buf_append_str(b, kw[f->join], r->err) < 0 ||
	    from_sql(r, s, f->right, b) < 0)
		return -1;
	if (f->on && (cmn_buf_append_str(b, " ON ", r->err) < 0 || pl_expr(r, f->on, b) < 0))
		return -1;
	return 0;
}

static int from_sql(struct pl_render *r, const struct sch_q_select *s, const struct sch_q_from *f,
		    struct cmn_buf *b)
{
	const char *alias = f->alias ? f->alias : f->table.name;
	switch (f->kind) {
	case SCH_QF_TABLE: {
		const char *t = r->leaf(r->leaf_arg, s, f, r->err);
		if (!t || pl_ident(b, t, r->err) < 0)
			return -1;
		break;
	}
	case SCH_QF_SUBQUERY: {
		struct pl_render sub = *r;
		if (cmn_buf_append_str(b, "(", r->err) < 0 || pl_query(&sub, f->sub, b) < 0 ||
		    cmn_buf_append_str(b, ")", r->err) < 0)
			return -1;
		break;
	}
	case SCH_QF_JOIN:
		return join_sql(r, s, f, b);
	case SCH_QF_LATERAL:
		if (from_sql(r, s, f->left, b) < 0 ||
		    cmn_buf_append_str(b, " CROSS JOIN ", r->err) < 0 || call(r, f->udtf, b) < 0)
			return -1;
		break;
	}
	return cmn_buf_append_str(b, " AS ", r->err) < 0 ? -1 : pl_ident(b, alias, r->err);
}

static int items_sql(struct pl_render *r, const struct sch_q_select *s, struct cmn_buf *b)
{
	char buf[32];
	if (s->udtf_cols.n) {
		for (size_t i = 0; i < s->udtf_cols.n; i++) {
			if ((i && cmn_buf_append_str(b, ", ", r->err) < 0) ||
			    cmn_buf_append_str(b, "\"_udtf\".", r->err) < 0 ||
			    pl_ident(b, s->udtf_rcols.v[i], r->err) < 0 ||
			    cmn_buf_append_str(b, " AS ", r->err) < 0 ||
			    pl_ident(b, s->udtf_cols.v[i], r->err) < 0)
				return -1;
		}
		return 0;
	}
	for (size_t i = 0; i < s->nitems; i++) {
		if ((i && cmn_buf_append_str(b, ", ", r->err) < 0) ||
		    pl_expr(r, s->items[i].e, b) < 0 || cmn_buf_append_str(b, " AS ", r->err) < 0 ||
		    pl_ident(b, pl_item_name(s, i, buf, sizeof(buf)), r->err) < 0)
			return -1;
	}
	return 0;
}

static int clauses_sql(struct pl_render *r, const struct sch_q_select *s, struct cmn_buf *b)
{
	if (s->where &&
	    (cmn_buf_append_str(b, " WHERE ", r->err) < 0 || pl_expr(r, s->where, b) < 0))
		return -1;
	for (size_t i = 0; i < s->ngroup; i++)
		if (cmn_buf_append_str(b, i ? ", " : " GROUP BY ", r->err) < 0 ||
		    pl_expr(r, s->group[i], b) < 0)
			return -1;
	if (s->having &&
	    (cmn_buf_append_str(b, " HAVING ", r->err) < 0 || pl_expr(r, s->having, b) < 0))
		return -1;
	for (size_t i = 0; i < s->norder; i++)
		if (cmn_buf_append_str(b, i ? ", " : " ORDER BY ", r->err) < 0 ||
		    pl_expr(r, s->order[i].e, b) < 0 ||
		    cmn_buf_append_str(b, s->order[i].desc ? " DESC" : "", r->err) < 0)
			return -1;
	if (s->has_limit && cmn_buf_printf(b, r->err, " LIMIT %lld", (long long)s->limit) < 0)
		return -1;
	return 0;
}

static int select_sql(struct pl_render *r, const struct sch_q_select *s, struct cmn_buf *b)
{
	struct pl_render mine = *r;
	char **aliases = NULL;
	size_t na = 0;
	int rc = -1;

	if (s->transform)
		return cmn_err_set(r->err, CMN_EINVAL, 0,
				   "%d:%d: TRANSFORM is only supported over one table at the top "
				   "level",
				   s->line, s->col);
	if (pl_aliases(s, &aliases, &na, r->err) < 0)
		return -1;
	mine.aliases = aliases;
	mine.naliases = na;
	mine.sel = s;
	if (cmn_buf_append_str(b, s->distinct ? "SELECT DISTINCT " : "SELECT ", r->err) < 0 ||
	    items_sql(&mine, s, b) < 0)
		goto out;
	if (s->from) {
		if (cmn_buf_append_str(b, " FROM ", r->err) < 0 ||
		    from_sql(&mine, s, s->from, b) < 0)
			goto out;
		if (s->udtf_cols.n && (cmn_buf_append_str(b, " CROSS JOIN ", r->err) < 0 ||
				       call(&mine, s->items[0].e, b) < 0 ||
				       cmn_buf_append_str(b, " AS \"_udtf\"", r->err) < 0))
			goto out;
	}
	rc = clauses_sql(&mine, s, b);
out:
	pl_aliases_free(aliases, na);
	return rc;
}

int pl_query(struct pl_render *r, const struct sch_q_query *q, struct cmn_buf *b)
{
	if (q->n == 1)
		return select_sql(r, q->v[0], b);
	for (size_t i = 0; i < q->n; i++) {
		if (cmn_buf_append_str(b, i ? " UNION ALL SELECT * FROM (" : "SELECT * FROM (",
				       r->err) < 0 ||
		    select_sql(r, q->v[i], b) < 0 || cmn_buf_append_str(b, ")", r->err) < 0)
			return -1;
	}
	return 0;
}
