/* scheduler/sql_parse.h — parser of Cordon's SQL dialect into sql_ast.h.
 *
 * sch_sql_parse() parses a whole job text (statements separated by `;`, the
 * last one may omit it). Errors are CMN_EINVAL with "line:col: message",
 * naming the first token that does not fit. Nothing is allocated on failure.
 *
 * sch_sql_text_is_security() tells from the leading keywords alone whether a
 * statement is one the authorization module runs (security statements,
 * EXPLAIN PERMISSION, WHOAMI) — the statement dispatcher uses it to leave
 * other texts (queries, DDL) to their own handler.
 */
#ifndef SCH_SQL_PARSE_H
#define SCH_SQL_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "scheduler/sql_ast.h"
#include "scheduler/sql_lex.h"

int sch_sql_parse(const char *src, size_t len, struct sch_sql_script *out, struct cmn_err *err);

/* Classification of the statements in a text (by leading keywords only). */
struct sch_sql_classes {
	size_t security; /* statements the authz handler runs */
	size_t other;    /* anything else */
};
int sch_sql_classify(const char *src, size_t len, struct sch_sql_classes *out, struct cmn_err *err);
/* Same for one statement's tokens starting at toks[0]. */
bool sch_sql_tokens_are_security(const struct sch_token *toks, size_t n);

#endif
