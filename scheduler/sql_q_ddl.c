/* scheduler/sql_q_ddl.c — statements of the query grammar: SELECT, tables,
 * views, INSERT, DESC/SHOW, functions, EXPLAIN, SET; and the entry points. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "scheduler/sql_q_int.h"

static int coldefs(struct qp *p, struct sch_q_coldef **v, size_t *n, bool comments)
{
	if (qp_expect_punct(p, "(") < 0)
		return -1;
	do {
		struct sch_q_coldef *c;
		if (qp_grow(p, (void **)v, *n, sizeof(**v)) < 0)
			return -1;
		c = &(*v)[(*n)++];
		memset(c, 0, sizeof(*c));
		if (qp_ident(p, "column name", &c->name) < 0 || qp_type(p, &c->type) < 0)
			return -1;
		if (comments && qp_accept_kw(p, "COMMENT") &&
		    qp_string(p, "comment string", &c->comment) < 0)
			return -1;
	} while (qp_accept_punct(p, ","));
	return qp_expect_punct(p, ")");
}

static int if_not_exists(struct qp *p, struct sch_q_stmt *s)
{
	if (!qp_accept_kw(p, "IF"))
		return 0;
	s->if_not_exists = true;
	return qp_expect_kw(p, "NOT") < 0 ? -1 : qp_expect_kw(p, "EXISTS");
}

static int if_exists(struct qp *p, struct sch_q_stmt *s)
{
	if (!qp_accept_kw(p, "IF"))
		return 0;
	s->if_exists = true;
	return qp_expect_kw(p, "EXISTS");
}

static int create_table(struct qp *p, struct sch_q_stmt *s)
{
	s->kind = SCH_Q_CREATE_TABLE;
	if (if_not_exists(p, s) < 0 || qp_name(p, "table name", &s->name) < 0)
		return -1;
	if (qp_accept_kw(p, "AS")) {
		s->kind = SCH_Q_CTAS;
		return qp_query(p, &s->query);
	}
	if (coldefs(p, &s->cols, &s->ncols, true) < 0)
		return -1;
	if (qp_accept_kw(p, "COMMENT") && qp_string(p, "comment string", &s->comment) < 0)
		return -1;
	if (qp_accept_kw(p, "PARTITIONED")) {
		if (qp_expect_kw(p, "BY") < 0 || coldefs(p, &s->pcols, &s->npcols, false) < 0)
			return -1;
	}
	if (qp_accept_kw(p, "LIFECYCLE")) {
		const struct sch_token *t = qp_cur(p);
		char *end;
		if (t->type != SCH_TOK_NUMBER)
			return qp_fail(p, "a number of days");
		s->lifecycle = strtoll(t->text, &end, 10);
		if (*end || s->lifecycle <= 0)
			return qp_failat(p, t, "LIFECYCLE %s is not a positive integer", t->text);
		s->has_lifecycle = true;
		qp_next(p);
	}
	return 0;
}

static int create_view(struct qp *p, struct sch_q_stmt *s)
{
	size_t start, end;
	s->kind = SCH_Q_CREATE_VIEW;
	if (if_not_exists(p, s) < 0 || qp_name(p, "view name", &s->name) < 0 ||
	    qp_expect_kw(p, "AS") < 0)
		return -1;
	start = qp_cur(p)->offset;
	if (qp_query(p, &s->query) < 0)
		return -1;
	end = qp_cur(p)->offset;
	while (end > start && (p->src[end - 1] == ' ' || p->src[end - 1] == '\n' ||
			       p->src[end - 1] == '\t' || p->src[end - 1] == '\r'))
		end--;
	s->query_text = strndup(p->src + start, end - start);
	return s->query_text ? 0 : cmn_err_set(p->err, CMN_ENOMEM, 0, "out of memory");
}

static int create_function(struct qp *p, struct sch_q_stmt *s)
{
	char *using = NULL, *save = NULL;
	s->kind = SCH_Q_CREATE_FUNCTION;
	if (qp_name(p, "function name", &s->name) < 0 || qp_expect_kw(p, "AS") < 0 ||
	    qp_string(p, "'script.function'", &s->class_name) < 0 || qp_expect_kw(p, "USING") < 0 ||
	    qp_string(p, "resource list", &using) < 0)
		return -1;
	/* 'a.lua, b.txt': comma separated, blanks around names ignored */
	for (char *tok = strtok_r(using, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *r;
		size_t n;
		while (*tok == ' ')
			tok++;
		n = strlen(tok);
		while (n && tok[n - 1] == ' ')
			n--;
		if (!n)
			continue;
		r = strndup(tok, n);
		if (!r || qp_list_push(p, &s->resources, r) < 0) {
			free(using);
			return r ? -1 : cmn_err_set(p->err, CMN_ENOMEM, 0, "out of memory");
		}
	}
	free(using);
	return 0;
}

static int partition_spec(struct qp *p, struct sch_q_stmt *s)
{
	if (qp_expect_kw(p, "PARTITION") < 0 || qp_expect_punct(p, "(") < 0)
		return -1;
	do {
		struct sch_q_partval *v;
		const struct sch_token *t;
		if (qp_grow(p, (void **)&s->part, s->npart, sizeof(*s->part)) < 0)
			return -1;
		v = &s->part[s->npart++];
		memset(v, 0, sizeof(*v));
		if (qp_ident(p, "partition column", &v->col) < 0 || qp_expect_punct(p, "=") < 0)
			return -1;
		t = qp_cur(p);
		if (t->type != SCH_TOK_STRING && t->type != SCH_TOK_NUMBER)
			return qp_fail(p, "a partition value");
		v->value = qp_strdup(p, t->text);
		if (!v->value)
			return -1;
		qp_next(p);
	} while (qp_accept_punct(p, ","));
	return qp_expect_punct(p, ")");
}

static int alter_table(struct qp *p, struct sch_q_stmt *s)
{
	if (qp_expect_kw(p, "TABLE") < 0 || qp_name(p, "table name", &s->name) < 0)
		return -1;
	if (qp_accept_kw(p, "ADD")) {
		s->kind = SCH_Q_ADD_PARTITION;
		if (if_not_exists(p, s) < 0)
			return -1;
	} else if (qp_accept_kw(p, "DROP")) {
		s->kind = SCH_Q_DROP_PARTITION;
		if (if_exists(p, s) < 0)
			return -1;
	} else {
		return qp_fail(p, "ADD or DROP");
	}
	return partition_spec(p, s);
}

static int values_row(struct qp *p, struct sch_q_stmt *s)
{
	struct sch_q_expr **row = NULL;
	size_t n = 0;
	if (qp_expect_punct(p, "(") < 0)
		return -1;
	if (qp_grow(p, (void **)&s->values, s->nrows, sizeof(*s->values)) < 0)
		return -1;
	s->values[s->nrows] = NULL;
	do {
		struct sch_q_expr *e = NULL;
		if (qp_expr(p, &e) < 0 || qp_grow(p, (void **)&row, n, sizeof(*row)) < 0) {
			sch_q_expr_free(e);
			goto fail;
		}
		row[n++] = e;
	} while (qp_accept_punct(p, ","));
	if (s->nrows > 0 && n != s->nvalcols) {
		qp_failat(p, qp_cur(p), "VALUES rows differ in length (%s)",
			  "all rows need the same count");
		goto fail;
	}
	s->nvalcols = n;
	s->values[s->nrows++] = row;
	return qp_expect_punct(p, ")");
fail:
	for (size_t i = 0; i < n; i++)
		sch_q_expr_free(row[i]);
	free(row);
	return -1;
}

static int insert(struct qp *p, struct sch_q_stmt *s)
{
	s->kind = SCH_Q_INSERT;
	if (qp_accept_kw(p, "OVERWRITE"))
		s->overwrite = true;
	else if (!qp_accept_kw(p, "INTO"))
		return qp_fail(p, "INTO or OVERWRITE");
	(void)qp_accept_kw(p, "TABLE");
	if (qp_name(p, "table name", &s->name) < 0)
		return -1;
	if (qp_kw(p, "PARTITION") && partition_spec(p, s) < 0)
		return -1;
	if (qp_punct(p, "(")) {
		qp_next(p);
		do {
			char *c = NULL;
			if (qp_ident(p, "column name", &c) < 0 ||
			    qp_list_push(p, &s->insert_cols, c) < 0)
				return -1;
		} while (qp_accept_punct(p, ","));
		if (qp_expect_punct(p, ")") < 0)
			return -1;
	}
	if (qp_accept_kw(p, "VALUES")) {
		do {
			if (values_row(p, s) < 0)
				return -1;
		} while (qp_accept_punct(p, ","));
		return 0;
	}
	if (!qp_kw(p, "SELECT"))
		return qp_fail(p, "SELECT or VALUES");
	return qp_query(p, &s->query);
}

/* SET key=value: the key's pieces and the value are taken as written (the
 * lexer splits odps.session.networklink into words and dots). */
static int set_stmt(struct qp *p, struct sch_q_stmt *s)
{
	size_t kstart = qp_cur(p)->offset, vstart, vend;
	s->kind = SCH_Q_SET;
	if (qp_cur(p)->type != SCH_TOK_IDENT)
		return qp_fail(p, "a setting name");
	while (!qp_punct(p, "=") && !qp_punct(p, ";") && qp_cur(p)->type != SCH_TOK_EOF)
		qp_next(p);
	if (!qp_punct(p, "="))
		return qp_fail(p, "'='");
	vend = qp_cur(p)->offset;
	while (vend > kstart && (p->src[vend - 1] == ' ' || p->src[vend - 1] == '\t'))
		vend--;
	s->key = strndup(p->src + kstart, vend - kstart);
	qp_next(p);
	if (qp_punct(p, ";") || qp_cur(p)->type == SCH_TOK_EOF)
		return qp_fail(p, "a value");
	if (qp_cur(p)->type == SCH_TOK_STRING &&
	    (sch_tok_is_punct(qp_peek(p, 1), ";") || qp_peek(p, 1)->type == SCH_TOK_EOF)) {
		s->value = qp_strdup(p, qp_cur(p)->text);
		qp_next(p);
	} else {
		vstart = qp_cur(p)->offset;
		while (!qp_punct(p, ";") && qp_cur(p)->type != SCH_TOK_EOF)
			qp_next(p);
		vend = qp_peek(p, 0)->offset;
		while (vend > vstart && (p->src[vend - 1] == ' ' || p->src[vend - 1] == '\n' ||
					 p->src[vend - 1] == '\t' || p->src[vend - 1] == '\r'))
			vend--;
		s->value = strndup(p->src + vstart, vend - vstart);
	}
	if (!s->key || !s->value)
		return cmn_err_set(p->err, CMN_ENOMEM, 0, "out of memory");
	for (char *c = s->key; *c; c++)
		if (*c == ' ' || *c == '\t' || *c == '\n')
			return qp_failat(p, qp_cur(p), "bad setting name '%s'", s->key);
	return 0;
}

static int create_drop(struct qp *p, struct sch_q_stmt *s, bool create)
{
	if (qp_accept_kw(p, "TABLE")) {
		if (create)
			return create_table(p, s);
		s->kind = SCH_Q_DROP_TABLE;
		return if_exists(p, s) < 0 ? -1 : qp_name(p, "table name", &s->name);
	}
	if (qp_accept_kw(p, "VIEW")) {
		if (create)
			return create_view(p, s);
		s->kind = SCH_Q_DROP_VIEW;
		return if_exists(p, s) < 0 ? -1 : qp_name(p, "view name", &s->name);
	}
	if (qp_accept_kw(p, "FUNCTION")) {
		if (create)
			return create_function(p, s);
		s->kind = SCH_Q_DROP_FUNCTION;
		return if_exists(p, s) < 0 ? -1 : qp_name(p, "function name", &s->name);
	}
	return qp_fail(p, "TABLE, VIEW or FUNCTION");
}

static int show(struct qp *p, struct sch_q_stmt *s)
{
	if (qp_accept_kw(p, "TABLES")) {
		s->kind = SCH_Q_SHOW_TABLES;
		return 0;
	}
	if (qp_accept_kw(p, "FUNCTIONS")) {
		s->kind = SCH_Q_SHOW_FUNCTIONS;
		return 0;
	}
	if (qp_accept_kw(p, "PARTITIONS")) {
		s->kind = SCH_Q_SHOW_PARTITIONS;
		return qp_name(p, "table name", &s->name);
	}
	return qp_fail(p, "TABLES, PARTITIONS or FUNCTIONS");
}

static int statement(struct qp *p, struct sch_q_stmt *s)
{
	s->line = qp_cur(p)->line;
	s->col = qp_cur(p)->col;
	if (qp_kw(p, "SELECT")) {
		s->kind = SCH_Q_SELECT;
		return qp_query(p, &s->query);
	}
	if (qp_accept_kw(p, "CREATE"))
		return create_drop(p, s, true);
	if (qp_accept_kw(p, "DROP"))
		return create_drop(p, s, false);
	if (qp_accept_kw(p, "ALTER"))
		return alter_table(p, s);
	if (qp_accept_kw(p, "INSERT"))
		return insert(p, s);
	if (qp_accept_kw(p, "DESC") || qp_accept_kw(p, "DESCRIBE")) {
		s->kind = SCH_Q_DESC;
		(void)qp_accept_kw(p, "TABLE");
		return qp_name(p, "table name", &s->name);
	}
	if (qp_accept_kw(p, "SHOW"))
		return show(p, s);
	if (qp_accept_kw(p, "EXPLAIN")) {
		s->kind = SCH_Q_EXPLAIN;
		if (!qp_kw(p, "SELECT"))
			return qp_fail(p, "SELECT");
		return qp_query(p, &s->query);
	}
	if (qp_accept_kw(p, "SET"))
		return set_stmt(p, s);
	return qp_fail(p, "a statement");
}

int sch_q_parse_tokens(const char *src, const struct sch_tokens *toks, size_t *pos,
		       struct sch_q_stmt **out, struct cmn_err *err)
{
	struct qp p = { .src = src, .toks = toks, .pos = *pos, .err = err };
	struct sch_q_stmt *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	if (statement(&p, s) < 0) {
		sch_q_stmt_free(s);
		return -1;
	}
	*pos = p.pos;
	*out = s;
	return 0;
}

bool sch_q_tokens_are_query(const struct sch_token *t, size_t n)
{
	static const char *const first[] = { "SELECT", "ALTER", "INSERT", "EXPLAIN" };
	if (n == 0)
		return false;
	for (size_t i = 0; i < sizeof(first) / sizeof(first[0]); i++)
		if (sch_tok_is_kw(&t[0], first[i]))
			return !(i == 3 && n > 1 && sch_tok_is_kw(&t[1], "PERMISSION"));
	if (sch_tok_is_kw(&t[0], "CREATE") || sch_tok_is_kw(&t[0], "DROP"))
		return n > 1 && (sch_tok_is_kw(&t[1], "TABLE") || sch_tok_is_kw(&t[1], "VIEW") ||
				 sch_tok_is_kw(&t[1], "FUNCTION"));
	if (sch_tok_is_kw(&t[0], "DESC") || sch_tok_is_kw(&t[0], "DESCRIBE"))
		return !(n > 1 &&
			 (sch_tok_is_kw(&t[1], "ROLE") || sch_tok_is_kw(&t[1], "PACKAGE")));
	if (sch_tok_is_kw(&t[0], "SHOW"))
		return n > 1 &&
		       (sch_tok_is_kw(&t[1], "TABLES") || sch_tok_is_kw(&t[1], "PARTITIONS") ||
			sch_tok_is_kw(&t[1], "FUNCTIONS"));
	if (sch_tok_is_kw(&t[0], "SET"))
		return n > 2 && (sch_tok_is_kw(&t[1], "odps") || sch_tok_is_kw(&t[1], "cordon"));
	return false;
}

int sch_q_parse(const char *src, size_t len, struct sch_q_script *out, struct cmn_err *err)
{
	struct sch_tokens toks;
	size_t pos = 0;

	out->v = NULL;
	out->n = 0;
	if (sch_sql_lex(src, len, &toks, err) < 0)
		return -1;
	for (;;) {
		struct sch_q_stmt *s = NULL;
		struct sch_q_stmt **nv;
		while (sch_tok_is_punct(&toks.v[pos], ";"))
			pos++;
		if (toks.v[pos].type == SCH_TOK_EOF)
			break;
		if (sch_q_parse_tokens(src, &toks, &pos, &s, err) < 0)
			goto fail;
		nv = realloc(out->v, (out->n + 1) * sizeof(*nv));
		if (!nv) {
			sch_q_stmt_free(s);
			cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
			goto fail;
		}
		out->v = nv;
		out->v[out->n++] = s;
		if (toks.v[pos].type != SCH_TOK_EOF && !sch_tok_is_punct(&toks.v[pos], ";")) {
			struct qp p = { .src = src, .toks = &toks, .pos = pos, .err = err };
			qp_fail(&p, "';' or end of text");
			goto fail;
		}
	}
	if (out->n == 0) {
		const struct sch_token *t = &toks.v[pos];
		cmn_err_set(err, CMN_EINVAL, 0, "%d:%d: no statement", t->line, t->col);
		goto fail;
	}
	sch_sql_tokens_free(&toks);
	return 0;
fail:
	sch_sql_tokens_free(&toks);
	sch_q_script_free(out);
	return -1;
}
