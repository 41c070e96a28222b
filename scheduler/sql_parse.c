/* scheduler/sql_parse.c — parser of the dialect; see sql_parse.h. The
 * statement dispatcher, the query subset, the script loop, and the
 * classifier live here; token helpers in sql_parse_util.c, the security
 * statements in sql_parse_sec.c (shared declarations: sql_parse_int.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/sql_parse_int.h"
#include "scheduler/sql_query.h"

/* SELECT [ALL|DISTINCT] {* | [t.]c [[AS] a], ...} FROM [p.]t [[AS] alias] — the
 * subset EXPLAIN PERMISSION needs until the query grammar lands. */
static int parse_select(struct sqlp *p, struct sch_sql_stmt *s)
{
	s->kind = SCH_SQL_SELECT;
	if (!sqlp_accept_kw(p, "DISTINCT"))
		sqlp_accept_kw(p, "ALL");
	if (sqlp_accept_punct(p, "*")) {
		s->select_star = true;
	} else {
		do {
			char *c = NULL;
			if (sqlp_ident(p, "column name or *", &c) < 0)
				return -1;
			if (sqlp_accept_punct(p, ".")) {
				free(c);
				c = NULL;
				if (sqlp_ident(p, "column name", &c) < 0)
					return -1;
			}
			if (sqlp_list_push(p, &s->select_cols, c) < 0)
				return -1;
			if (sqlp_accept_kw(p, "AS")) {
				char *alias = NULL;
				if (sqlp_ident(p, "alias", &alias) < 0)
					return -1;
				free(alias);
			}
		} while (sqlp_accept_punct(p, ","));
	}
	if (sqlp_expect_kw(p, "FROM") < 0 || sqlp_qualified(p, "table name", &s->from) < 0)
		return -1;
	if (sqlp_accept_kw(p, "AS") ||
	    (sqlp_cur(p)->type == SCH_TOK_IDENT && !sch_tok_is_kw(sqlp_cur(p), "WHERE"))) {
		char *alias = NULL;
		if (sqlp_ident(p, "alias", &alias) < 0)
			return -1;
		free(alias);
	}
	return 0;
}

static int parse_insert(struct sqlp *p, struct sch_sql_stmt *s)
{
	s->kind = SCH_SQL_INSERT;
	if (sqlp_accept_kw(p, "OVERWRITE"))
		s->overwrite = true;
	else if (sqlp_expect_kw(p, "INTO") < 0)
		return sqlp_fail(p, "INTO or OVERWRITE");
	if (sqlp_expect_kw(p, "TABLE") < 0 || sqlp_qualified(p, "table name", &s->target) < 0 ||
	    sqlp_expect_kw(p, "SELECT") < 0)
		return -1;
	if (parse_select(p, s) < 0)
		return -1;
	s->kind = SCH_SQL_INSERT;
	return 0;
}

/* EXPLAIN PERMISSION of a query/DDL/DML statement: the query grammar
 * decides where the statement ends; the subset parser, when it understands
 * the same tokens, fills the subset fields as before. */
static int explain_query(struct sqlp *p, struct sch_sql_stmt *s, int depth)
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
	rc = sqlp_statement(p, s->inner, depth + 1);
	p->err = save;
	if (rc < 0 || p->pos != end) {
		/* not in the subset: keep only the full tree */
		sch_sql_stmt_free(s->inner);
		s->inner = calloc(1, sizeof(*s->inner));
		if (!s->inner) {
			sch_q_stmt_free(q);
			return cmn_err_set(p->err, CMN_ENOMEM, 0, "out of memory");
		}
		s->inner->line = sqlp_cur(p)->line;
		s->inner->col = sqlp_cur(p)->col;
		s->inner->kind = SCH_SQL_QUERY;
		for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
			if (sch_tok_is_kw(sqlp_cur(p), kinds[i].kw))
				s->inner->kind = kinds[i].kind;
	}
	s->inner->q = q;
	p->pos = end;
	return 0;
}

static int parse_explain(struct sqlp *p, struct sch_sql_stmt *s, int depth)
{
	s->kind = SCH_SQL_EXPLAIN_PERMISSION;
	if (sqlp_expect_kw(p, "PERMISSION") < 0)
		return -1;
	if (depth > 0)
		return cmn_err_set(p->err, CMN_EINVAL, 0,
				   "%d:%d: EXPLAIN PERMISSION cannot be nested", sqlp_cur(p)->line,
				   sqlp_cur(p)->col);
	s->inner = calloc(1, sizeof(*s->inner));
	if (!s->inner)
		return cmn_err_set(p->err, CMN_ENOMEM, 0, "out of memory");
	if (sch_q_tokens_are_query(sqlp_cur(p), p->toks.n - p->pos))
		return explain_query(p, s, depth);
	return sqlp_statement(p, s->inner, depth + 1);
}

int sqlp_statement(struct sqlp *p, struct sch_sql_stmt *s, int depth)
{
	const struct sch_token *t = sqlp_cur(p);

	s->line = t->line;
	s->col = t->col;
	if (sqlp_accept_kw(p, "GRANT"))
		return sqlp_grant(p, s);
	if (sqlp_accept_kw(p, "REVOKE"))
		return sqlp_revoke(p, s);
	if (sqlp_accept_kw(p, "SHOW"))
		return sqlp_show(p, s);
	if (sqlp_accept_kw(p, "SET"))
		return sqlp_set(p, s);
	if (sqlp_accept_kw(p, "CREATE"))
		return sqlp_create_drop(p, s, true);
	if (sqlp_accept_kw(p, "DROP"))
		return sqlp_create_drop(p, s, false);
	if (sqlp_accept_kw(p, "ADD"))
		return sqlp_add_remove(p, s, true);
	if (sqlp_accept_kw(p, "REMOVE"))
		return sqlp_add_remove(p, s, false);
	if (sqlp_accept_kw(p, "LIST"))
		return sqlp_list(p, s);
	if (sqlp_accept_kw(p, "DESC") || sqlp_accept_kw(p, "DESCRIBE"))
		return sqlp_desc(p, s);
	if (sqlp_accept_kw(p, "PUT"))
		return sqlp_policy(p, s, true);
	if (sqlp_accept_kw(p, "GET"))
		return sqlp_policy(p, s, false);
	if (sqlp_accept_kw(p, "ALLOW"))
		return sqlp_allow(p, s, true);
	if (sqlp_accept_kw(p, "DISALLOW"))
		return sqlp_allow(p, s, false);
	if (sqlp_accept_kw(p, "INSTALL")) {
		s->kind = SCH_SQL_INSTALL_PACKAGE;
		return sqlp_expect_kw(p, "PACKAGE") < 0 ? -1 : sqlp_package_ref(p, s);
	}
	if (sqlp_accept_kw(p, "UNINSTALL")) {
		s->kind = SCH_SQL_UNINSTALL_PACKAGE;
		return sqlp_expect_kw(p, "PACKAGE") < 0 ? -1 : sqlp_package_ref(p, s);
	}
	if (sqlp_accept_kw(p, "CLEAR")) {
		s->kind = SCH_SQL_CLEAR_EXPIRED_GRANTS;
		return sqlp_expect_kw(p, "EXPIRED") < 0 ? -1 : sqlp_expect_kw(p, "GRANTS");
	}
	if (sqlp_accept_kw(p, "EXPLAIN"))
		return parse_explain(p, s, depth);
	if (sqlp_accept_kw(p, "WHOAMI")) {
		s->kind = SCH_SQL_WHOAMI;
		return 0;
	}
	if (sqlp_accept_kw(p, "SELECT"))
		return parse_select(p, s);
	if (sqlp_accept_kw(p, "INSERT"))
		return parse_insert(p, s);
	return sqlp_fail(p, "a statement");
}

void sch_sql_list_free(struct sch_sql_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
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
	sch_sql_list_free(&s->actions);
	sch_sql_list_free(&s->columns);
	free(s->flag);
	free(s->text);
	sch_sql_list_free(&s->dests);
	sch_sql_stmt_free(s->inner);
	sch_q_stmt_free(s->q);
	sch_sql_list_free(&s->select_cols);
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

static int script_push(struct sqlp *p, struct sch_sql_script *sc, struct sch_sql_stmt *s)
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
	struct sqlp p = { .src = src, .err = err };

	out->v = NULL;
	out->n = 0;
	if (sch_sql_lex(src, len, &p.toks, err) < 0)
		return -1;
	for (;;) {
		struct sch_sql_stmt *s;
		while (sqlp_accept_punct(&p, ";"))
			;
		if (sqlp_cur(&p)->type == SCH_TOK_EOF)
			break;
		s = calloc(1, sizeof(*s));
		if (!s) {
			cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
			goto fail;
		}
		if (sqlp_statement(&p, s, 0) < 0) {
			sch_sql_stmt_free(s);
			goto fail;
		}
		if (script_push(&p, out, s) < 0)
			goto fail;
		if (sqlp_cur(&p)->type != SCH_TOK_EOF && sqlp_expect_punct(&p, ";") < 0) {
			sqlp_fail(&p, "';' or end of text");
			goto fail;
		}
	}
	if (out->n == 0) {
		cmn_err_set(err, CMN_EINVAL, 0, "%d:%d: no statement", sqlp_cur(&p)->line,
			    sqlp_cur(&p)->col);
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
	static const char *const always[] = { "GRANT",   "REVOKE",    "PUT",   "GET",   "LIST",
					      "INSTALL", "UNINSTALL", "CLEAR", "WHOAMI" };
	if (n == 0)
		return false;
	for (size_t i = 0; i < sizeof(always) / sizeof(always[0]); i++)
		if (kw(t, n, 0, always[i]))
			return true;
	if (kw(t, n, 0, "EXPLAIN")) /* EXPLAIN of a query plan would be the planner's */
		return kw(t, n, 1, "PERMISSION");
	if (kw(t, n, 0, "CREATE") || kw(t, n, 0, "DROP"))
		return kw(t, n, 1, "ROLE") || kw(t, n, 1, "PACKAGE");
	if (kw(t, n, 0, "ADD") || kw(t, n, 0, "REMOVE"))
		return true; /* ADD USER/TRUSTEDPROJECT/<type> ... TO PACKAGE */
	if (kw(t, n, 0, "SET")) {
		if (kw(t, n, 1, "LABEL"))
			return true;
		for (size_t i = 0; i < SQLP_NFLAGS; i++)
			if (kw(t, n, 1, sqlp_project_flags[i]))
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
