/* scheduler/sql_lex.h — the lexer of Cordon's SQL dialect (SQL.md).
 *
 * The whole text is turned into one token array up front so the parser can
 * look ahead freely. Keywords are not reserved at this level: they come out
 * as SCH_TOK_IDENT and the parser matches them case-insensitively, which is
 * what lets `role`, `label` or `package` still be used as names. Every token
 * carries its line and column (both from 1) so that every error names them
 * as "line:col: message". Strings and back-quoted identifiers are decoded
 * into `text` (owned by the token array, NUL-terminated, never containing a
 * NUL byte).
 */
#ifndef SCH_SQL_LEX_H
#define SCH_SQL_LEX_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

enum sch_tok_type {
	SCH_TOK_EOF = 0,
	SCH_TOK_IDENT,  /* name or keyword: [A-Za-z_$][A-Za-z0-9_$]* */
	SCH_TOK_QIDENT, /* `back-quoted` name, never a keyword */
	SCH_TOK_STRING, /* '...' or "..." with backslash escapes */
	SCH_TOK_NUMBER, /* 123, 1.5, 1e3 */
	SCH_TOK_PUNCT,  /* ; , ( ) . = : * / + - % < > <= >= <> != == */
};

struct sch_token {
	enum sch_tok_type type;
	size_t offset; /* byte offset of the first byte in the source */
	size_t len;    /* bytes in the source */
	int line, col;
	char *text; /* decoded text (identifiers as written, strings unescaped) */
};

struct sch_tokens {
	struct sch_token *v;
	size_t n; /* the last one is SCH_TOK_EOF */
};

/* Upper bounds so that one request cannot make the lexer allocate without
 * limit; the API bounds the body size too. */
#define SCH_SQL_MAX_TEXT (1u << 20)
#define SCH_SQL_MAX_TOKENS 100000u

int sch_sql_lex(const char *src, size_t len, struct sch_tokens *out, struct cmn_err *err);
void sch_sql_tokens_free(struct sch_tokens *t);

/* True when tok is an identifier equal to kw, ignoring case. */
bool sch_tok_is_kw(const struct sch_token *tok, const char *kw);
/* True when tok is the punctuation p ("(", "<=", ...). */
bool sch_tok_is_punct(const struct sch_token *tok, const char *p);

#endif
