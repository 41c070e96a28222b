/* scheduler/sql_parse.c — recursive-descent parser of the dialect; see
 * sql_parse.h. One function per statement family; the helpers at the top
 * consume tokens and produce "line:col: expected X, found Y" errors. */
#include "scheduler/sql_parse.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "scheduler/sql_query.h"

struct parser {
	const char *src; /* the text (the query grammar keeps view texts) */
	struct sch_tokens toks;
	size_t pos;
	struct cmn_err *err;
};

static const struct sch_token *cur(struct parser *p)
{
	return &p->toks.v[p->pos];
}

static const struct sch_token *peek(struct parser *p, size_t k)
{
	size_t i = p->pos + k;
	return &p->toks.v[i < p->toks.n ? i : p->toks.n - 1];
}

static void next(struct parser *p)
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

static int fail(struct parser *p, const char *expected)
{
	const struct sch_token *t = cur(p);
	return cmn_err_set(p->err, CMN_EINVAL, 0, "%d:%d: expected %s, found '%.64s'", t->line,
			   t->col, expected, describe(t));
}

static bool accept_kw(struct parser *p, const char *kw)
{
	if (sch_tok_is_kw(cur(p), kw)) {
		next(p);
		return true;
	}
	return false;
}

static int expect_kw(struct parser *p, const char *kw)
{
	return accept_kw(p, kw) ? 0 : fail(p, kw);
}

static bool accept_punct(struct parser *p, const char *s)
{
	if (sch_tok_is_punct(cur(p), s)) {
		next(p);
		return true;
	}
	return false;
}

static int expect_punct(struct parser *p, const char *s)
{
	char what[8];
	if (accept_punct(p, s))
		return 0;
	snprintf(what, sizeof(what), "'%s'", s);
	return fail(p, what);
}

static bool adjacent(struct parser *p)
{
	const struct sch_token *a = &p->toks.v[p->pos - 1], *b = cur(p);
	return p->pos > 0 && a->offset + a->len == b->offset;
}

static char *xstrdup(struct parser *p, const char *s)
{
	char *d = strdup(s);
	if (!d)
		cmn_err_set(p->err, CMN_ENOMEM, 0, "out of memory");
	return d;
}

/* A plain name: identifier or back-quoted identifier. */
static int ident(struct parser *p, const char *what, char **out)
{
	const struct sch_token *t = cur(p);
	if (t->type != SCH_TOK_IDENT && t->type != SCH_TOK_QIDENT)
		return fail(p, what);
	*out = xstrdup(p, t->text);
	if (!*out)
		return -1;
	next(p);
	return 0;
}

static int ident_or_string(struct parser *p, char **out)
{
	*out = xstrdup(p, cur(p)->text);
	if (!*out)
		return -1;
	next(p);
	return 0;
}

/* A principal or role name: ALIYUN$acme, RAM$acme:alice, RAM$acme:role/etl.
 * The lexer splits at ':' and '/', so the pieces are joined here when they
 * touch (no blank between them); a back-quoted name is taken whole. */
static int principal_name(struct parser *p, const char *what, char **out)
{
	struct cmn_buf b;
	const struct sch_token *t = cur(p);

	if (t->type == SCH_TOK_QIDENT || (t->type == SCH_TOK_STRING && t->text[0]))
		return ident_or_string(p, out);
	if (t->type != SCH_TOK_IDENT)
		return fail(p, what);
	cmn_buf_init(&b, 1024);
	if (cmn_buf_append_str(&b, t->text, p->err) < 0)
		goto fail;
	next(p);
	while ((sch_tok_is_punct(cur(p), ":") || sch_tok_is_punct(cur(p), "/")) && adjacent(p) &&
	       peek(p, 1)->type == SCH_TOK_IDENT && peek(p, 1)->offset == cur(p)->offset + 1) {
		if (cmn_buf_append_str(&b, cur(p)->text, p->err) < 0)
			goto fail;
		next(p);
		if (cmn_buf_append_str(&b, cur(p)->text, p->err) < 0)
			goto fail;
		next(p);
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
static int qualified(struct parser *p, const char *what, struct sch_sql_name *out)
{
	char *first = NULL;
	if (ident(p, what, &first) < 0)
		return -1;
	if (accept_punct(p, ".")) {
		out->project = first;
		return ident(p, what, &out->name);
	}
	out->name = first;
	return 0;
}

static int list_push(struct parser *p, struct sch_sql_list *l, char *item)
{
	char **nv;
	if (l->n >= 4096) {
		free(item);
		return cmn_err_set(p->err, CMN_ELIMIT, 0, "%d:%d: list too long", cur(p)->line,
				   cur(p)->col);
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
static int ident_list(struct parser *p, const char *what, struct sch_sql_list *l)
{
	do {
		char *s = NULL;
		if (ident(p, what, &s) < 0 || list_push(p, l, s) < 0)
			return -1;
	} while (accept_punct(p, ","));
	return 0;
}

/* Optional "(c1, c2)" after a table name. */
static int opt_columns(struct parser *p, struct sch_sql_list *cols)
{
	if (!accept_punct(p, "("))
		return 0;
	if (ident_list(p, "column name", cols) < 0)
		return -1;
	return expect_punct(p, ")");
}

static int integer(struct parser *p, const char *what, int64_t lo, int64_t hi, int64_t *out)
{
	const struct sch_token *t = cur(p);
	char *end = NULL;
	long long v;

	if (t->type != SCH_TOK_NUMBER)
		return fail(p, what);
	errno = 0;
	v = strtoll(t->text, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return cmn_err_set(p->err, CMN_EINVAL, 0, "%d:%d: %s must be an integer %lld..%lld",
				   t->line, t->col, what, (long long)lo, (long long)hi);
	*out = v;
	next(p);
	return 0;
}

static int label_level(struct parser *p, struct sch_sql_stmt *s)
{
	int64_t v;
	if (integer(p, "label level", 0, 9, &v) < 0)
		return -1;
	s->has_level = true;
	s->level = (int)v;
	return 0;
}

static int string_lit(struct parser *p, const char *what, char **out)
{
	if (cur(p)->type != SCH_TOK_STRING)
		return fail(p, what);
	*out = xstrdup(p, cur(p)->text);
	if (!*out)
		return -1;
	next(p);
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

static int objtype(struct parser *p, enum sch_sql_objtype *out)
{
	for (size_t i = 0; i < sizeof(objtypes) / sizeof(objtypes[0]); i++)
		if (accept_kw(p, objtypes[i].kw)) {
			*out = objtypes[i].type;
			return 0;
		}
	return fail(p, "object type (PROJECT, TABLE, FUNCTION, RESOURCE, INSTANCE, PACKAGE)");
}

/* TO|FROM {USER|ROLE} name */
static int grantee(struct parser *p, struct sch_sql_stmt *s)
{
	if (accept_kw(p, "ROLE"))
		s->grantee_is_role = true;
	else if (expect_kw(p, "USER") < 0)
		return fail(p, "USER or ROLE");
	return principal_name(p, s->grantee_is_role ? "role name" : "user name", &s->grantee);
}

/* The object after ON <type>: a package is src.pkg; a project or table may
 * be qualified; tables take an optional column list. */
static int acl_object(struct parser *p, struct sch_sql_stmt *s)
{
	if (objtype(p, &s->obj_type) < 0 || qualified(p, "object name", &s->obj) < 0)
		return -1;
	if (s->obj_type == SCH_OBJ_TABLE)
		return opt_columns(p, &s->columns);
	return 0;
}

/* ---- statements ---------------------------------------------------------- */

static int parse_grant(struct parser *p, struct sch_sql_stmt *s);
static int parse_revoke(struct parser *p, struct sch_sql_stmt *s);
static int parse_statement(struct parser *p, struct sch_sql_stmt *s, int depth);

/* GRANT LABEL n ON TABLE t[(cols)] TO {USER|ROLE} x [WITH EXP days] */
static int parse_grant_label(struct parser *p, struct sch_sql_stmt *s)
{
	s->kind = SCH_SQL_GRANT_LABEL;
	if (label_level(p, s) < 0 || expect_kw(p, "ON") < 0 || expect_kw(p, "TABLE") < 0 ||
	    qualified(p, "table name", &s->obj) < 0 || opt_columns(p, &s->columns) < 0 ||
	    expect_kw(p, "TO") < 0 || grantee(p, s) < 0)
		return -1;
	s->obj_type = SCH_OBJ_TABLE;
	if (accept_kw(p, "WITH")) {
		if (expect_kw(p, "EXP") < 0 || integer(p, "days", 0, 36500, &s->days) < 0)
			return -1;
		s->has_days = true;
	}
	return 0;
}

/* PRIVILEGEPROPERTIES ("expires"="<days>") */
static int privilege_properties(struct parser *p, struct sch_sql_stmt *s)
{
	if (expect_punct(p, "(") < 0)
		return -1;
	do {
		char *key = NULL, *val = NULL, *end = NULL;
		long long v;
		int line = cur(p)->line, col = cur(p)->col;
		if (string_lit(p, "property name", &key) < 0)
			return -1;
		if (expect_punct(p, "=") < 0 || string_lit(p, "property value", &val) < 0) {
			free(key);
			return -1;
		}
		if (strcasecmp(key, "expires") != 0) {
			cmn_err_set(p->err, CMN_EINVAL, 0,
				    "%d:%d: unknown privilege property '%.64s'", line, col, key);
			free(key);
			free(val);
			return -1;
		}
		errno = 0;
		v = strtoll(val, &end, 10);
		free(key);
		if (errno || !*val || *end || v < 0 || v > 36500) {
			free(val);
			return cmn_err_set(p->err, CMN_EINVAL, 0,
					   "%d:%d: expires must be a number of days 0..36500", line,
					   col);
		}
		free(val);
		s->has_days = true;
		s->days = v;
	} while (accept_punct(p, ","));
	return expect_punct(p, ")");
}

static int parse_grant(struct parser *p, struct sch_sql_stmt *s)
{
	if (accept_kw(p, "LABEL"))
		return parse_grant_label(p, s);
	if (ident_list(p, "privilege or role name", &s->actions) < 0)
		return -1;
	if (accept_kw(p, "TO")) {
		/* GRANT role TO user: the list must be one role name */
		if (s->actions.n != 1)
			return cmn_err_set(p->err, CMN_EINVAL, 0, "%d:%d: expected ON",
					   cur(p)->line, cur(p)->col);
		s->kind = SCH_SQL_GRANT_ROLE;
		s->name = s->actions.v[0];
		s->actions.v[0] = NULL;
		s->actions.n = 0;
		accept_kw(p, "USER");
		return principal_name(p, "user name", &s->grantee);
	}
	s->kind = SCH_SQL_GRANT;
	if (expect_kw(p, "ON") < 0 || acl_object(p, s) < 0)
		return -1;
	if (expect_kw(p, "TO") < 0 || grantee(p, s) < 0)
		return -1;
	if (accept_kw(p, "PRIVILEGEPROPERTIES"))
		return privilege_properties(p, s);
	return 0;
}

static int parse_revoke(struct parser *p, struct sch_sql_stmt *s)
{
	if (accept_kw(p, "LABEL")) {
		s->kind = SCH_SQL_REVOKE_LABEL;
		s->obj_type = SCH_OBJ_TABLE;
		if (expect_kw(p, "ON") < 0 || expect_kw(p, "TABLE") < 0 ||
		    qualified(p, "table name", &s->obj) < 0 || opt_columns(p, &s->columns) < 0 ||
		    expect_kw(p, "FROM") < 0)
			return -1;
		return grantee(p, s);
	}
	if (ident_list(p, "privilege or role name", &s->actions) < 0)
		return -1;
	if (accept_kw(p, "FROM")) {
		if (s->actions.n != 1)
			return cmn_err_set(p->err, CMN_EINVAL, 0, "%d:%d: expected ON",
					   cur(p)->line, cur(p)->col);
		s->kind = SCH_SQL_REVOKE_ROLE;
		s->name = s->actions.v[0];
		s->actions.v[0] = NULL;
		s->actions.n = 0;
		accept_kw(p, "USER");
		return principal_name(p, "user name", &s->grantee);
	}
	s->kind = SCH_SQL_REVOKE;
	if (expect_kw(p, "ON") < 0 || acl_object(p, s) < 0 || expect_kw(p, "FROM") < 0)
		return -1;
	return grantee(p, s);
}

static int opt_on_type(struct parser *p, struct sch_sql_stmt *s)
{
	if (!accept_kw(p, "ON"))
		return 0;
	if (expect_kw(p, "TYPE") < 0)
		return -1;
	return objtype(p, &s->filter_type);
}

/* SHOW GRANTS | ACL | LABEL | PACKAGES | SecurityConfiguration */
static int parse_show(struct parser *p, struct sch_sql_stmt *s)
{
	if (accept_kw(p, "GRANTS")) {
		s->kind = SCH_SQL_SHOW_GRANTS;
		if (accept_kw(p, "FOR")) {
			if (accept_kw(p, "ROLE"))
				s->grantee_is_role = true;
			else
				accept_kw(p, "USER");
			if (principal_name(p, "user name", &s->grantee) < 0)
				return -1;
		}
		return opt_on_type(p, s);
	}
	if (accept_kw(p, "ACL")) {
		s->kind = SCH_SQL_SHOW_ACL;
		if (expect_kw(p, "FOR") < 0 || qualified(p, "object name", &s->obj) < 0)
			return -1;
		if (opt_on_type(p, s) < 0)
			return -1;
		s->obj_type = s->filter_type ? s->filter_type : SCH_OBJ_TABLE;
		return 0;
	}
	if (accept_kw(p, "LABEL")) {
		s->kind = SCH_SQL_SHOW_LABEL_GRANTS;
		if (cur(p)->type == SCH_TOK_NUMBER && label_level(p, s) < 0)
			return -1;
		if (expect_kw(p, "GRANTS") < 0)
			return -1;
		if (accept_kw(p, "ON")) {
			s->obj_type = SCH_OBJ_TABLE;
			if (expect_kw(p, "TABLE") < 0 || qualified(p, "table name", &s->obj) < 0)
				return -1;
		}
		if (accept_kw(p, "FOR")) {
			if (expect_kw(p, "USER") < 0 ||
			    principal_name(p, "user name", &s->grantee) < 0)
				return -1;
		}
		return 0;
	}
	if (accept_kw(p, "PACKAGES")) {
		s->kind = SCH_SQL_SHOW_PACKAGES;
		return 0;
	}
	if (accept_kw(p, "SecurityConfiguration")) {
		s->kind = SCH_SQL_SHOW_SECURITY_CONFIG;
		return 0;
	}
	return fail(p, "GRANTS, ACL, LABEL, PACKAGES or SecurityConfiguration");
}

static const char *const project_flags[] = {
	"CheckPermissionUsingACL",
	"CheckPermissionUsingPolicy",
	"ObjectCreatorHasAccessPermission",
	"ObjectCreatorHasGrantPermission",
	"LabelSecurity",
	"ProjectProtection",
};

static int parse_bool(struct parser *p, bool *out)
{
	if (accept_kw(p, "true"))
		*out = true;
	else if (accept_kw(p, "false"))
		*out = false;
	else
		return fail(p, "true or false");
	return 0;
}

/* SET LABEL ... | SET <flag>=bool [WITH EXCEPTION 'json'] */
static int parse_set(struct parser *p, struct sch_sql_stmt *s)
{
	const struct sch_token *t;

	if (accept_kw(p, "LABEL")) {
		if (label_level(p, s) < 0 || expect_kw(p, "TO") < 0)
			return -1;
		if (accept_kw(p, "USER")) {
			s->kind = SCH_SQL_SET_LABEL_USER;
			return principal_name(p, "user name", &s->grantee);
		}
		if (expect_kw(p, "TABLE") < 0)
			return fail(p, "USER or TABLE");
		s->kind = SCH_SQL_SET_LABEL_TABLE;
		s->obj_type = SCH_OBJ_TABLE;
		if (qualified(p, "table name", &s->obj) < 0)
			return -1;
		return opt_columns(p, &s->columns);
	}
	t = cur(p);
	for (size_t i = 0; i < sizeof(project_flags) / sizeof(project_flags[0]); i++) {
		if (!sch_tok_is_kw(t, project_flags[i]))
			continue;
		s->kind = SCH_SQL_SET_FLAG;
		s->flag = xstrdup(p, project_flags[i]);
		if (!s->flag)
			return -1;
		next(p);
		if (expect_punct(p, "=") < 0 || parse_bool(p, &s->flag_value) < 0)
			return -1;
		if (i == 5 && accept_kw(p, "WITH")) {
			if (expect_kw(p, "EXCEPTION") < 0)
				return -1;
			return string_lit(p, "exception policy (a quoted JSON text)", &s->text);
		}
		return 0;
	}
	return fail(p, "LABEL or a project security flag");
}

/* CREATE ROLE r | CREATE PACKAGE pkg ; DROP likewise */
static int parse_create_drop(struct parser *p, struct sch_sql_stmt *s, bool create)
{
	if (accept_kw(p, "ROLE")) {
		s->kind = create ? SCH_SQL_CREATE_ROLE : SCH_SQL_DROP_ROLE;
		return principal_name(p, "role name", &s->name);
	}
	if (accept_kw(p, "PACKAGE")) {
		s->kind = create ? SCH_SQL_CREATE_PACKAGE : SCH_SQL_DROP_PACKAGE;
		return ident(p, "package name", &s->name);
	}
	if (!create && accept_kw(p, "TABLE")) {
		s->kind = SCH_SQL_DROP_TABLE;
		if (accept_kw(p, "IF")) {
			if (expect_kw(p, "EXISTS") < 0)
				return -1;
			s->if_exists = true;
		}
		return qualified(p, "table name", &s->target);
	}
	return fail(p, create ? "ROLE or PACKAGE" : "ROLE, PACKAGE or TABLE");
}

/* ADD USER u | ADD TRUSTEDPROJECT p | ADD <type> name TO PACKAGE pkg [WITH PRIVILEGES ...]
 * and the REMOVE counterparts. */
static int parse_add_remove(struct parser *p, struct sch_sql_stmt *s, bool add)
{
	if (accept_kw(p, "USER")) {
		s->kind = add ? SCH_SQL_ADD_USER : SCH_SQL_REMOVE_USER;
		return principal_name(p, "user name", &s->name);
	}
	if (accept_kw(p, "TRUSTEDPROJECT")) {
		s->kind = add ? SCH_SQL_ADD_TRUSTED : SCH_SQL_REMOVE_TRUSTED;
		return ident(p, "project name", &s->name);
	}
	s->kind = add ? SCH_SQL_ADD_TO_PACKAGE : SCH_SQL_REMOVE_FROM_PACKAGE;
	if (objtype(p, &s->obj_type) < 0)
		return -1;
	if (s->obj_type == SCH_OBJ_PROJECT || s->obj_type == SCH_OBJ_PACKAGE ||
	    s->obj_type == SCH_OBJ_NETWORKLINK)
		return cmn_err_set(
		    p->err, CMN_EINVAL, 0,
		    "%d:%d: only a table, function, resource or instance can be %s a "
		    "package",
		    p->toks.v[p->pos - 1].line, p->toks.v[p->pos - 1].col,
		    add ? "added to" : "removed from");
	if (ident(p, "object name", &s->obj.name) < 0)
		return -1;
	if (expect_kw(p, add ? "TO" : "FROM") < 0 || expect_kw(p, "PACKAGE") < 0 ||
	    ident(p, "package name", &s->name) < 0)
		return -1;
	if (add && accept_kw(p, "WITH")) {
		if (expect_kw(p, "PRIVILEGES") < 0)
			return -1;
		return ident_list(p, "privilege", &s->actions);
	}
	return 0;
}

/* ALLOW|DISALLOW PROJECT p TO INSTALL PACKAGE pkg [USING LABEL n] */
static int parse_allow(struct parser *p, struct sch_sql_stmt *s, bool allow)
{
	s->kind = allow ? SCH_SQL_ALLOW_INSTALL : SCH_SQL_DISALLOW_INSTALL;
	if (expect_kw(p, "PROJECT") < 0 || ident(p, "project name", &s->name) < 0 ||
	    expect_kw(p, "TO") < 0 || expect_kw(p, "INSTALL") < 0 || expect_kw(p, "PACKAGE") < 0 ||
	    ident(p, "package name", &s->obj.name) < 0)
		return -1;
	s->obj_type = SCH_OBJ_PACKAGE;
	if (allow && accept_kw(p, "USING")) {
		if (expect_kw(p, "LABEL") < 0)
			return -1;
		return label_level(p, s);
	}
	return 0;
}

/* src.pkg (the source project is required) */
static int package_ref(struct parser *p, struct sch_sql_stmt *s)
{
	s->obj_type = SCH_OBJ_PACKAGE;
	if (qualified(p, "package name (<project>.<package>)", &s->obj) < 0)
		return -1;
	if (!s->obj.project)
		return cmn_err_set(
		    p->err, CMN_EINVAL, 0, "%d:%d: expected <project>.<package>, found '%.64s'",
		    p->toks.v[p->pos - 1].line, p->toks.v[p->pos - 1].col, s->obj.name);
	return 0;
}

static int parse_list(struct parser *p, struct sch_sql_stmt *s)
{
	if (accept_kw(p, "USERS"))
		s->kind = SCH_SQL_LIST_USERS;
	else if (accept_kw(p, "ROLES"))
		s->kind = SCH_SQL_LIST_ROLES;
	else if (accept_kw(p, "TRUSTEDPROJECTS"))
		s->kind = SCH_SQL_LIST_TRUSTED;
	else
		return fail(p, "USERS, ROLES or TRUSTEDPROJECTS");
	return 0;
}

static int parse_desc(struct parser *p, struct sch_sql_stmt *s)
{
	if (accept_kw(p, "ROLE")) {
		s->kind = SCH_SQL_DESC_ROLE;
		return principal_name(p, "role name", &s->name);
	}
	if (accept_kw(p, "PACKAGE")) {
		s->kind = SCH_SQL_DESCRIBE_PACKAGE;
		return package_ref(p, s);
	}
	s->kind = SCH_SQL_DESC_TABLE;
	accept_kw(p, "TABLE");
	return qualified(p, "table name", &s->target);
}

static int parse_policy(struct parser *p, struct sch_sql_stmt *s, bool put)
{
	s->kind = put ? SCH_SQL_PUT_POLICY : SCH_SQL_GET_POLICY;
	if (expect_kw(p, "POLICY") < 0)
		return -1;
	if (put && string_lit(p, "policy (a quoted JSON text)", &s->text) < 0)
		return -1;
	if (accept_kw(p, "ON")) {
		if (expect_kw(p, "ROLE") < 0)
			return -1;
		return principal_name(p, "role name", &s->role);
	}
	return 0;
}

/* SELECT [ALL|DISTINCT] {* | [t.]c [[AS] a], ...} FROM [p.]t [[AS] alias] — the
 * subset EXPLAIN PERMISSION needs until the query grammar lands. */
static int parse_select(struct parser *p, struct sch_sql_stmt *s)
{
	s->kind = SCH_SQL_SELECT;
	if (!accept_kw(p, "DISTINCT"))
		accept_kw(p, "ALL");
	if (accept_punct(p, "*")) {
		s->select_star = true;
	} else {
		do {
			char *c = NULL;
			if (ident(p, "column name or *", &c) < 0)
				return -1;
			if (accept_punct(p, ".")) {
				free(c);
				c = NULL;
				if (ident(p, "column name", &c) < 0)
					return -1;
			}
			if (list_push(p, &s->select_cols, c) < 0)
				return -1;
			if (accept_kw(p, "AS")) {
				char *alias = NULL;
				if (ident(p, "alias", &alias) < 0)
					return -1;
				free(alias);
			}
		} while (accept_punct(p, ","));
	}
	if (expect_kw(p, "FROM") < 0 || qualified(p, "table name", &s->from) < 0)
		return -1;
	if (accept_kw(p, "AS") ||
	    (cur(p)->type == SCH_TOK_IDENT && !sch_tok_is_kw(cur(p), "WHERE"))) {
		char *alias = NULL;
		if (ident(p, "alias", &alias) < 0)
			return -1;
		free(alias);
	}
	return 0;
}

static int parse_insert(struct parser *p, struct sch_sql_stmt *s)
{
	s->kind = SCH_SQL_INSERT;
	if (accept_kw(p, "OVERWRITE"))
		s->overwrite = true;
	else if (expect_kw(p, "INTO") < 0)
		return fail(p, "INTO or OVERWRITE");
	if (expect_kw(p, "TABLE") < 0 || qualified(p, "table name", &s->target) < 0 ||
	    expect_kw(p, "SELECT") < 0)
		return -1;
	if (parse_select(p, s) < 0)
		return -1;
	s->kind = SCH_SQL_INSERT;
	return 0;
}

/* EXPLAIN PERMISSION of a query/DDL/DML statement: the query grammar
 * decides where the statement ends; the subset parser, when it understands
 * the same tokens, fills the subset fields as before. */
static int explain_query(struct parser *p, struct sch_sql_stmt *s, int depth)
{
	static const struct {
		const char *kw;
		enum sch_sql_kind kind;
	} kinds[] = { { "SELECT", SCH_SQL_SELECT },
		      { "INSERT", SCH_SQL_INSERT },
		      { "DESC", SCH_SQL_DESC_TABLE },
		      { "DESCRIBE", SCH_SQL_DESC_TABLE } };
	struct cmn_err sub_err = CMN_ERR_INIT;
	struct cmn_err *save = p->err;
	struct sch_q_stmt *q = NULL;
	size_t start = p->pos, end;
	int rc;

	if (sch_q_parse_tokens(p->src, &p->toks, &p->pos, &q, p->err) < 0)
		return -1;
	end = p->pos;
	p->pos = start;
	p->err = &sub_err;
	rc = parse_statement(p, s->inner, depth + 1);
	p->err = save;
	if (rc < 0 || p->pos != end) {
		/* not in the subset: keep only the full tree */
		sch_sql_stmt_free(s->inner);
		s->inner = calloc(1, sizeof(*s->inner));
		if (!s->inner) {
			sch_q_stmt_free(q);
			return cmn_err_set(p->err, CMN_ENOMEM, 0, "out of memory");
		}
		s->inner->line = cur(p)->line;
		s->inner->col = cur(p)->col;
		s->inner->kind = SCH_SQL_QUERY;
		for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
			if (sch_tok_is_kw(cur(p), kinds[i].kw))
				s->inner->kind = kinds[i].kind;
	}
	s->inner->q = q;
	p->pos = end;
	return 0;
}

static int parse_explain(struct parser *p, struct sch_sql_stmt *s, int depth)
{
	s->kind = SCH_SQL_EXPLAIN_PERMISSION;
	if (expect_kw(p, "PERMISSION") < 0)
		return -1;
	if (depth > 0)
		return cmn_err_set(p->err, CMN_EINVAL, 0,
				   "%d:%d: EXPLAIN PERMISSION cannot be nested", cur(p)->line,
				   cur(p)->col);
	s->inner = calloc(1, sizeof(*s->inner));
	if (!s->inner)
		return cmn_err_set(p->err, CMN_ENOMEM, 0, "out of memory");
	if (sch_q_tokens_are_query(cur(p), p->toks.n - p->pos))
		return explain_query(p, s, depth);
	return parse_statement(p, s->inner, depth + 1);
}

static int parse_statement(struct parser *p, struct sch_sql_stmt *s, int depth)
{
	const struct sch_token *t = cur(p);

	s->line = t->line;
	s->col = t->col;
	if (accept_kw(p, "GRANT"))
		return parse_grant(p, s);
	if (accept_kw(p, "REVOKE"))
		return parse_revoke(p, s);
	if (accept_kw(p, "SHOW"))
		return parse_show(p, s);
	if (accept_kw(p, "SET"))
		return parse_set(p, s);
	if (accept_kw(p, "CREATE"))
		return parse_create_drop(p, s, true);
	if (accept_kw(p, "DROP"))
		return parse_create_drop(p, s, false);
	if (accept_kw(p, "ADD"))
		return parse_add_remove(p, s, true);
	if (accept_kw(p, "REMOVE"))
		return parse_add_remove(p, s, false);
	if (accept_kw(p, "LIST"))
		return parse_list(p, s);
	if (accept_kw(p, "DESC") || accept_kw(p, "DESCRIBE"))
		return parse_desc(p, s);
	if (accept_kw(p, "PUT"))
		return parse_policy(p, s, true);
	if (accept_kw(p, "GET"))
		return parse_policy(p, s, false);
	if (accept_kw(p, "ALLOW"))
		return parse_allow(p, s, true);
	if (accept_kw(p, "DISALLOW"))
		return parse_allow(p, s, false);
	if (accept_kw(p, "INSTALL")) {
		s->kind = SCH_SQL_INSTALL_PACKAGE;
		return expect_kw(p, "PACKAGE") < 0 ? -1 : package_ref(p, s);
	}
	if (accept_kw(p, "UNINSTALL")) {
		s->kind = SCH_SQL_UNINSTALL_PACKAGE;
		return expect_kw(p, "PACKAGE") < 0 ? -1 : package_ref(p, s);
	}
	if (accept_kw(p, "CLEAR")) {
		s->kind = SCH_SQL_CLEAR_EXPIRED_GRANTS;
		return expect_kw(p, "EXPIRED") < 0 ? -1 : expect_kw(p, "GRANTS");
	}
	if (accept_kw(p, "EXPLAIN"))
		return parse_explain(p, s, depth);
	if (accept_kw(p, "WHOAMI")) {
		s->kind = SCH_SQL_WHOAMI;
		return 0;
	}
	if (accept_kw(p, "SELECT"))
		return parse_select(p, s);
	if (accept_kw(p, "INSERT"))
		return parse_insert(p, s);
	return fail(p, "a statement");
}

static void list_free(struct sch_sql_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

void sch_sql_stmt_free(struct sch_sql_stmt *s)
{
	if (!s)
		return;
	free(s->obj.project);
	free(s->obj.name);
	free(s->name);
	free(s->grantee);
	free(s->role);
	list_free(&s->actions);
	list_free(&s->columns);
	free(s->flag);
	free(s->text);
	sch_sql_stmt_free(s->inner);
	sch_q_stmt_free(s->q);
	list_free(&s->select_cols);
	free(s->from.project);
	free(s->from.name);
	free(s->target.project);
	free(s->target.name);
	free(s);
}

void sch_sql_script_free(struct sch_sql_script *sc)
{
	if (!sc)
		return;
	for (size_t i = 0; i < sc->n; i++)
		sch_sql_stmt_free(sc->v[i]);
	free(sc->v);
	sc->v = NULL;
	sc->n = 0;
}

static int script_push(struct parser *p, struct sch_sql_script *sc, struct sch_sql_stmt *s)
{
	struct sch_sql_stmt **nv = realloc(sc->v, (sc->n + 1) * sizeof(*nv));
	if (!nv) {
		sch_sql_stmt_free(s);
		return cmn_err_set(p->err, CMN_ENOMEM, 0, "out of memory");
	}
	sc->v = nv;
	sc->v[sc->n++] = s;
	return 0;
}

int sch_sql_parse(const char *src, size_t len, struct sch_sql_script *out, struct cmn_err *err)
{
	struct parser p = { .src = src, .err = err };

	out->v = NULL;
	out->n = 0;
	if (sch_sql_lex(src, len, &p.toks, err) < 0)
		return -1;
	for (;;) {
		struct sch_sql_stmt *s;
		while (accept_punct(&p, ";"))
			;
		if (cur(&p)->type == SCH_TOK_EOF)
			break;
		s = calloc(1, sizeof(*s));
		if (!s) {
			cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
			goto fail;
		}
		if (parse_statement(&p, s, 0) < 0) {
			sch_sql_stmt_free(s);
			goto fail;
		}
		if (script_push(&p, out, s) < 0)
			goto fail;
		if (cur(&p)->type != SCH_TOK_EOF && expect_punct(&p, ";") < 0) {
			fail(&p, "';' or end of text");
			goto fail;
		}
	}
	if (out->n == 0) {
		cmn_err_set(err, CMN_EINVAL, 0, "%d:%d: no statement", cur(&p)->line, cur(&p)->col);
		goto fail;
	}
	sch_sql_tokens_free(&p.toks);
	return 0;
fail:
	sch_sql_tokens_free(&p.toks);
	sch_sql_script_free(out);
	return -1;
}

/* ---- classification ------------------------------------------------------ */

static bool kw(const struct sch_token *toks, size_t n, size_t i, const char *k)
{
	return i < n && sch_tok_is_kw(&toks[i], k);
}

bool sch_sql_tokens_are_security(const struct sch_token *t, size_t n)
{
	static const char *const always[] = {
		"GRANT",   "REVOKE",    "PUT",   "GET",     "LIST",
		"INSTALL", "UNINSTALL", "CLEAR", "EXPLAIN", "WHOAMI"
	};
	if (n == 0)
		return false;
	for (size_t i = 0; i < sizeof(always) / sizeof(always[0]); i++)
		if (kw(t, n, 0, always[i]))
			return true;
	if (kw(t, n, 0, "CREATE") || kw(t, n, 0, "DROP"))
		return kw(t, n, 1, "ROLE") || kw(t, n, 1, "PACKAGE");
	if (kw(t, n, 0, "ADD") || kw(t, n, 0, "REMOVE"))
		return true; /* ADD USER/TRUSTEDPROJECT/<type> ... TO PACKAGE */
	if (kw(t, n, 0, "SET")) {
		if (kw(t, n, 1, "LABEL"))
			return true;
		for (size_t i = 0; i < sizeof(project_flags) / sizeof(project_flags[0]); i++)
			if (kw(t, n, 1, project_flags[i]))
				return true;
		return false;
	}
	if (kw(t, n, 0, "SHOW"))
		return kw(t, n, 1, "GRANTS") || kw(t, n, 1, "ACL") || kw(t, n, 1, "LABEL") ||
		       kw(t, n, 1, "PACKAGES") || kw(t, n, 1, "SecurityConfiguration");
	if (kw(t, n, 0, "DESC") || kw(t, n, 0, "DESCRIBE"))
		return kw(t, n, 1, "ROLE") || kw(t, n, 1, "PACKAGE");
	if (kw(t, n, 0, "ALLOW") || kw(t, n, 0, "DISALLOW"))
		return !(n > 5 && kw(t, n, 4, "USE")); /* ... TO USE NETWORKLINK is an operator's */
	return false;
}

int sch_sql_classify(const char *src, size_t len, struct sch_sql_classes *out, struct cmn_err *err)
{
	struct sch_tokens toks;
	size_t start = 0;

	out->security = out->other = 0;
	if (sch_sql_lex(src, len, &toks, err) < 0)
		return -1;
	for (size_t i = 0; i < toks.n; i++) {
		bool end = toks.v[i].type == SCH_TOK_EOF || sch_tok_is_punct(&toks.v[i], ";");
		if (!end)
			continue;
		if (i > start) {
			if (sch_sql_tokens_are_security(&toks.v[start], i - start))
				out->security++;
			else
				out->other++;
		}
		start = i + 1;
	}
	sch_sql_tokens_free(&toks);
	return 0;
}
