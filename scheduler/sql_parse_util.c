/* scheduler/sql_parse_util.c — token-level helpers of the parser: consume
 * tokens, read names, lists and literals, and produce "line:col: expected
 * X, found Y" errors. Shared by the statement parsers through
 * sql_parse_int.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "scheduler/sql_parse_int.h"

const struct sch_token *sqlp_cur(struct sqlp *p)
{
	return &p->toks.v[p->pos];
}

const struct sch_token *sqlp_peek(struct sqlp *p, size_t k)
{
	size_t i = p->pos + k;
	return &p->toks.v[i < p->toks.n ? i : p->toks.n - 1];
}

void sqlp_next(struct sqlp *p)
{
	if (p->pos + 1 < p->toks.n)
		p->pos++;
}

static const char *describe(const struct sch_token *t)
{
	switch (t->type) {
	case SCH_TOK_EOF:
		return "end of text";
	case SCH_TOK_STRING:
		return "a string";
	case SCH_TOK_NUMBER:
		return t->text;
	default:
		return t->text;
	}
}

int sqlp_fail(struct sqlp *p, const char *expected)
{
	const struct sch_token *t = sqlp_cur(p);
	return cmn_err_set(p->err, CMN_EINVAL, 0, "%d:%d: expected %s, found '%.64s'", t->line,
			   t->col, expected, describe(t));
}

bool sqlp_accept_kw(struct sqlp *p, const char *kw)
{
	if (sch_tok_is_kw(sqlp_cur(p), kw)) {
		sqlp_next(p);
		return true;
	}
	return false;
}

int sqlp_expect_kw(struct sqlp *p, const char *kw)
{
	return sqlp_accept_kw(p, kw) ? 0 : sqlp_fail(p, kw);
}

bool sqlp_accept_punct(struct sqlp *p, const char *s)
{
	if (sch_tok_is_punct(sqlp_cur(p), s)) {
		sqlp_next(p);
		return true;
	}
	return false;
}

int sqlp_expect_punct(struct sqlp *p, const char *s)
{
	char what[8];
	if (sqlp_accept_punct(p, s))
		return 0;
	snprintf(what, sizeof(what), "'%s'", s);
	return sqlp_fail(p, what);
}

static bool adjacent(struct sqlp *p)
{
	const struct sch_token *a = &p->toks.v[p->pos - 1], *b = sqlp_cur(p);
	return p->pos > 0 && a->offset + a->len == b->offset;
}

char *sqlp_xstrdup(struct sqlp *p, const char *s)
{
	char *d = strdup(s);
	if (!d)
		cmn_err_set(p->err, CMN_ENOMEM, 0, "out of memory");
	return d;
}

/* A plain name: identifier or back-quoted identifier. */
int sqlp_ident(struct sqlp *p, const char *what, char **out)
{
	const struct sch_token *t = sqlp_cur(p);
	if (t->type != SCH_TOK_IDENT && t->type != SCH_TOK_QIDENT)
		return sqlp_fail(p, what);
	*out = sqlp_xstrdup(p, t->text);
	if (!*out)
		return -1;
	sqlp_next(p);
	return 0;
}

static int ident_or_string(struct sqlp *p, char **out)
{
	*out = sqlp_xstrdup(p, sqlp_cur(p)->text);
	if (!*out)
		return -1;
	sqlp_next(p);
	return 0;
}

/* A principal or role name: ALIYUN$acme, RAM$acme:alice, RAM$acme:role/etl.
 * The lexer splits at ':' and '/', so the pieces are joined here when they
 * touch (no blank between them); a back-quoted name is taken whole. */
int sqlp_principal_name(struct sqlp *p, const char *what, char **out)
{
	struct cmn_buf b;
	const struct sch_token *t = sqlp_cur(p);

	if (t->type == SCH_TOK_QIDENT || (t->type == SCH_TOK_STRING && t->text[0]))
		return ident_or_string(p, out);
	if (t->type != SCH_TOK_IDENT)
		return sqlp_fail(p, what);
	cmn_buf_init(&b, 1024);
	if (cmn_buf_append_str(&b, t->text, p->err) < 0)
		goto fail;
	sqlp_next(p);
	while ((sch_tok_is_punct(sqlp_cur(p), ":") || sch_tok_is_punct(sqlp_cur(p), "/")) &&
	       adjacent(p) && sqlp_peek(p, 1)->type == SCH_TOK_IDENT &&
	       sqlp_peek(p, 1)->offset == sqlp_cur(p)->offset + 1) {
		if (cmn_buf_append_str(&b, sqlp_cur(p)->text, p->err) < 0)
			goto fail;
		sqlp_next(p);
		if (cmn_buf_append_str(&b, sqlp_cur(p)->text, p->err) < 0)
			goto fail;
		sqlp_next(p);
	}
	*out = cmn_buf_steal(&b, NULL);
	if (!*out)
		return cmn_err_set(p->err, CMN_ENOMEM, 0, "out of memory");
	return 0;
fail:
	cmn_buf_free(&b);
	return -1;
}

/* [project.]name */
int sqlp_qualified(struct sqlp *p, const char *what, struct sch_sql_name *out)
{
	char *first = NULL;
	if (sqlp_ident(p, what, &first) < 0)
		return -1;
	if (sqlp_accept_punct(p, ".")) {
		out->project = first;
		return sqlp_ident(p, what, &out->name);
	}
	out->name = first;
	return 0;
}

int sqlp_list_push(struct sqlp *p, struct sch_sql_list *l, char *item)
{
	char **nv;
	if (l->n >= 4096) {
		free(item);
		return cmn_err_set(p->err, CMN_ELIMIT, 0, "%d:%d: list too long", sqlp_cur(p)->line,
				   sqlp_cur(p)->col);
	}
	nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
	if (!nv) {
		free(item);
		return cmn_err_set(p->err, CMN_ENOMEM, 0, "out of memory");
	}
	l->v = nv;
	l->v[l->n++] = item;
	return 0;
}

/* name, name, ... */
int sqlp_ident_list(struct sqlp *p, const char *what, struct sch_sql_list *l)
{
	do {
		char *s = NULL;
		if (sqlp_ident(p, what, &s) < 0 || sqlp_list_push(p, l, s) < 0)
			return -1;
	} while (sqlp_accept_punct(p, ","));
	return 0;
}

/* Optional "(c1, c2)" after a table name. */
int sqlp_opt_columns(struct sqlp *p, struct sch_sql_list *cols)
{
	if (!sqlp_accept_punct(p, "("))
		return 0;
	if (sqlp_ident_list(p, "column name", cols) < 0)
		return -1;
	return sqlp_expect_punct(p, ")");
}

int sqlp_integer(struct sqlp *p, const char *what, int64_t lo, int64_t hi, int64_t *out)
{
	const struct sch_token *t = sqlp_cur(p);
	char *end = NULL;
	long long v;

	if (t->type != SCH_TOK_NUMBER)
		return sqlp_fail(p, what);
	errno = 0;
	v = strtoll(t->text, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return cmn_err_set(p->err, CMN_EINVAL, 0, "%d:%d: %s must be an integer %lld..%lld",
				   t->line, t->col, what, (long long)lo, (long long)hi);
	*out = v;
	sqlp_next(p);
	return 0;
}

int sqlp_label_level(struct sqlp *p, struct sch_sql_stmt *s)
{
	int64_t v;
	if (sqlp_integer(p, "label level", 0, 9, &v) < 0)
		return -1;
	s->has_level = true;
	s->level = (int)v;
	return 0;
}

int sqlp_string_lit(struct sqlp *p, const char *what, char **out)
{
	if (sqlp_cur(p)->type != SCH_TOK_STRING)
		return sqlp_fail(p, what);
	*out = sqlp_xstrdup(p, sqlp_cur(p)->text);
	if (!*out)
		return -1;
	sqlp_next(p);
	return 0;
}

static const struct {
	const char *kw;
	enum sch_sql_objtype type;
} objtypes[] = {
	{ "PROJECT", SCH_OBJ_PROJECT },   { "TABLE", SCH_OBJ_TABLE },
	{ "VIEW", SCH_OBJ_TABLE },        { "FUNCTION", SCH_OBJ_FUNCTION },
	{ "RESOURCE", SCH_OBJ_RESOURCE }, { "INSTANCE", SCH_OBJ_INSTANCE },
	{ "PACKAGE", SCH_OBJ_PACKAGE },   { "NETWORKLINK", SCH_OBJ_NETWORKLINK },
};

const char *sch_sql_objtype_name(enum sch_sql_objtype t)
{
	static const char *const names[] = { "none",     "project",  "table",   "function",
					     "resource", "instance", "package", "networklink" };
	return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "none";
}

int sqlp_objtype(struct sqlp *p, enum sch_sql_objtype *out)
{
	for (size_t i = 0; i < sizeof(objtypes) / sizeof(objtypes[0]); i++)
		if (sqlp_accept_kw(p, objtypes[i].kw)) {
			*out = objtypes[i].type;
			return 0;
		}
	return sqlp_fail(p, "object type (PROJECT, TABLE, FUNCTION, RESOURCE, INSTANCE, PACKAGE)");
}

/* TO|FROM {USER|ROLE} name */
int sqlp_grantee(struct sqlp *p, struct sch_sql_stmt *s)
{
	if (sqlp_accept_kw(p, "ROLE"))
		s->grantee_is_role = true;
	else if (sqlp_expect_kw(p, "USER") < 0)
		return sqlp_fail(p, "USER or ROLE");
	return sqlp_principal_name(p, s->grantee_is_role ? "role name" : "user name", &s->grantee);
}

/* The object after ON <type>: a package is src.pkg; a project or table may
 * be qualified; tables take an optional column list. */
int sqlp_acl_object(struct sqlp *p, struct sch_sql_stmt *s)
{
	if (sqlp_objtype(p, &s->obj_type) < 0 || sqlp_qualified(p, "object name", &s->obj) < 0)
		return -1;
	if (s->obj_type == SCH_OBJ_TABLE)
		return sqlp_opt_columns(p, &s->columns);
	return 0;
}

const char *const sqlp_project_flags[SQLP_NFLAGS] = {
	"CheckPermissionUsingACL",
	"CheckPermissionUsingPolicy",
	"ObjectCreatorHasAccessPermission",
	"ObjectCreatorHasGrantPermission",
	"LabelSecurity",
	"ProjectProtection",
};
