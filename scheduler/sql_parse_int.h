/* scheduler/sql_parse_int.h — shared by the parser's files only
 * (sql_parse.c, sql_parse_util.c, sql_parse_sec.c); the sqlp_ prefix marks
 * these internal symbols. A module that adds statements (queries, DDL)
 * adds a sql_parse_<family>.c with its sqlp_<verb>() functions and one
 * line per leading keyword in the dispatcher of sql_parse.c. */
#ifndef SCH_SQL_PARSE_INT_H
#define SCH_SQL_PARSE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scheduler/sql_parse.h"

struct sqlp {
	const char *src; /* the text (the query grammar keeps view texts) */
	struct sch_tokens toks;
	size_t pos; /* toks.v[pos] is the current token; never past the EOF token */
	struct cmn_err *err;
};

/* tokens */
const struct sch_token *sqlp_cur(struct sqlp *p);
const struct sch_token *sqlp_peek(struct sqlp *p, size_t k);
void sqlp_next(struct sqlp *p);
/* "line:col: expected <expected>, found '<token>'"; returns -1 */
int sqlp_fail(struct sqlp *p, const char *expected);
bool sqlp_accept_kw(struct sqlp *p, const char *kw);
int sqlp_expect_kw(struct sqlp *p, const char *kw);
bool sqlp_accept_punct(struct sqlp *p, const char *s);
int sqlp_expect_punct(struct sqlp *p, const char *s);
char *sqlp_xstrdup(struct sqlp *p, const char *s);

/* names, lists, literals (results are malloc'd and owned by the caller) */
int sqlp_ident(struct sqlp *p, const char *what, char **out);
int sqlp_principal_name(struct sqlp *p, const char *what, char **out);
int sqlp_qualified(struct sqlp *p, const char *what, struct sch_sql_name *out);
int sqlp_list_push(struct sqlp *p, struct sch_sql_list *l, char *item);
int sqlp_ident_list(struct sqlp *p, const char *what, struct sch_sql_list *l);
int sqlp_opt_columns(struct sqlp *p, struct sch_sql_list *cols);
int sqlp_integer(struct sqlp *p, const char *what, int64_t lo, int64_t hi, int64_t *out);
int sqlp_label_level(struct sqlp *p, struct sch_sql_stmt *s);
int sqlp_string_lit(struct sqlp *p, const char *what, char **out);
int sqlp_objtype(struct sqlp *p, enum sch_sql_objtype *out);
int sqlp_grantee(struct sqlp *p, struct sch_sql_stmt *s);
int sqlp_acl_object(struct sqlp *p, struct sch_sql_stmt *s);

#define SQLP_NFLAGS 6
extern const char *const sqlp_project_flags[SQLP_NFLAGS];

/* security statements (sql_parse_sec.c), after their leading keyword */
int sqlp_grant(struct sqlp *p, struct sch_sql_stmt *s);
int sqlp_revoke(struct sqlp *p, struct sch_sql_stmt *s);
int sqlp_show(struct sqlp *p, struct sch_sql_stmt *s);
int sqlp_set(struct sqlp *p, struct sch_sql_stmt *s);
int sqlp_create_drop(struct sqlp *p, struct sch_sql_stmt *s, bool create);
int sqlp_add_remove(struct sqlp *p, struct sch_sql_stmt *s, bool add);
int sqlp_allow(struct sqlp *p, struct sch_sql_stmt *s, bool allow);
int sqlp_package_ref(struct sqlp *p, struct sch_sql_stmt *s);
int sqlp_list(struct sqlp *p, struct sch_sql_stmt *s);
int sqlp_desc(struct sqlp *p, struct sch_sql_stmt *s);
int sqlp_policy(struct sqlp *p, struct sch_sql_stmt *s, bool put);

/* one whole statement (sql_parse.c); depth counts EXPLAIN nesting */
int sqlp_statement(struct sqlp *p, struct sch_sql_stmt *s, int depth);

#endif
