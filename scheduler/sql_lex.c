/* scheduler/sql_lex.c — tokens for the SQL dialect; see sql_lex.h. */
#include "scheduler/sql_lex.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct lexer {
	const char *src;
	size_t len, pos;
	int line, col;
	struct sch_tokens *out;
	size_t cap;
};

static bool is_ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_ident_char(char c)
{
	return is_ident_start(c) || is_digit(c);
}

static void advance(struct lexer *lx, size_t n)
{
	for (size_t i = 0; i < n && lx->pos < lx->len; i++) {
		if (lx->src[lx->pos] == '\n') {
			lx->line++;
			lx->col = 1;
		} else {
			lx->col++;
		}
		lx->pos++;
	}
}

static int push(struct lexer *lx, enum sch_tok_type type, size_t start, int line, int col,
		char *text, struct cmn_err *err)
{
	struct sch_tokens *t = lx->out;

	if (t->n == lx->cap) {
		size_t ncap = lx->cap ? lx->cap * 2 : 64;
		struct sch_token *nv;
		if (t->n >= SCH_SQL_MAX_TOKENS) {
			free(text);
			return cmn_err_set(err, CMN_ELIMIT, 0, "%d:%d: too many tokens (limit %u)",
					   line, col, SCH_SQL_MAX_TOKENS);
		}
		nv = realloc(t->v, ncap * sizeof(*nv));
		if (!nv) {
			free(text);
			return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		}
		t->v = nv;
		lx->cap = ncap;
	}
	t->v[t->n++] = (struct sch_token){ .type = type,
					   .offset = start,
					   .len = lx->pos - start,
					   .line = line,
					   .col = col,
					   .text = text };
	return 0;
}

static char *dup_range(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

static char unescape(char c)
{
	switch (c) {
	case 'n':
		return '\n';
	case 't':
		return '\t';
	case 'r':
		return '\r';
	default:
		return c; /* \\ \' \" and anything else: the character itself */
	}
}

/* A quoted string or back-quoted name. The decoded text is never longer than
 * the source range, so one allocation of the remaining length suffices. */
static int lex_quoted(struct lexer *lx, struct cmn_err *err)
{
	char q = lx->src[lx->pos];
	size_t start = lx->pos;
	int line = lx->line, col = lx->col;
	char *buf = malloc(lx->len - lx->pos + 1);
	size_t n = 0;

	if (!buf)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	advance(lx, 1);
	for (;;) {
		char c;
		if (lx->pos >= lx->len) {
			free(buf);
			return cmn_err_set(err, CMN_EINVAL, 0, "%d:%d: unterminated %s", line, col,
					   q == '`' ? "quoted name" : "string");
		}
		c = lx->src[lx->pos];
		if (c == '\0') {
			free(buf);
			return cmn_err_set(err, CMN_EINVAL, 0, "%d:%d: NUL byte in %s", lx->line,
					   lx->col, q == '`' ? "quoted name" : "string");
		}
		if (c == q) {
			/* a doubled quote stands for itself (`a``b`, 'it''s') */
			if (lx->pos + 1 < lx->len && lx->src[lx->pos + 1] == q) {
				buf[n++] = q;
				advance(lx, 2);
				continue;
			}
			advance(lx, 1);
			break;
		}
		if (c == '\\' && q != '`' && lx->pos + 1 < lx->len &&
		    lx->src[lx->pos + 1] != '\0') {
			buf[n++] = unescape(lx->src[lx->pos + 1]);
			advance(lx, 2);
			continue;
		}
		buf[n++] = c;
		advance(lx, 1);
	}
	buf[n] = '\0';
	if (q == '`' && n == 0) {
		free(buf);
		return cmn_err_set(err, CMN_EINVAL, 0, "%d:%d: empty quoted name", line, col);
	}
	return push(lx, q == '`' ? SCH_TOK_QIDENT : SCH_TOK_STRING, start, line, col, buf, err);
}

static int lex_number(struct lexer *lx, struct cmn_err *err)
{
	size_t start = lx->pos;
	int line = lx->line, col = lx->col;
	char *text;

	while (lx->pos < lx->len && is_digit(lx->src[lx->pos]))
		advance(lx, 1);
	if (lx->pos + 1 < lx->len && lx->src[lx->pos] == '.' && is_digit(lx->src[lx->pos + 1])) {
		advance(lx, 1);
		while (lx->pos < lx->len && is_digit(lx->src[lx->pos]))
			advance(lx, 1);
	}
	if (lx->pos < lx->len && (lx->src[lx->pos] == 'e' || lx->src[lx->pos] == 'E')) {
		size_t p = lx->pos + 1;
		if (p < lx->len && (lx->src[p] == '+' || lx->src[p] == '-'))
			p++;
		if (p < lx->len && is_digit(lx->src[p])) {
			advance(lx, p - lx->pos);
			while (lx->pos < lx->len && is_digit(lx->src[lx->pos]))
				advance(lx, 1);
		}
	}
	/* a size or time suffix (SET cordon.udf.memory=64M, ...=500ms) stays part of the number;
	 * the query parser refuses it inside expressions */
	if (lx->pos < lx->len && strchr("KkMmGgSs", lx->src[lx->pos])) {
		size_t n = (lx->pos + 1 < lx->len &&
			    (lx->src[lx->pos] == 'm' || lx->src[lx->pos] == 'M') &&
			    (lx->src[lx->pos + 1] == 's' || lx->src[lx->pos + 1] == 'S'))
			       ? 2
			       : 1; /* 500ms */
		if (lx->pos + n >= lx->len || !is_ident_char(lx->src[lx->pos + n]))
			advance(lx, n);
	}
	if (lx->pos < lx->len && is_ident_start(lx->src[lx->pos]))
		return cmn_err_set(err, CMN_EINVAL, 0, "%d:%d: malformed number", line, col);
	text = dup_range(lx->src + start, lx->pos - start);
	if (!text)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	return push(lx, SCH_TOK_NUMBER, start, line, col, text, err);
}

static const char *const puncts2[] = { "<=", ">=", "<>", "!=", "==", "||" };
static const char puncts1[] = ";,().=:*/+-%<>[]";

static int lex_punct(struct lexer *lx, struct cmn_err *err)
{
	size_t start = lx->pos, n = 0;
	int line = lx->line, col = lx->col;
	char *text;

	for (size_t i = 0; i < sizeof(puncts2) / sizeof(puncts2[0]); i++)
		if (lx->pos + 1 < lx->len && memcmp(lx->src + lx->pos, puncts2[i], 2) == 0)
			n = 2;
	if (n == 0 && lx->src[lx->pos] != '\0' && strchr(puncts1, lx->src[lx->pos]))
		n = 1;
	if (n == 0) {
		unsigned char c = (unsigned char)lx->src[lx->pos];
		if (c >= 0x20 && c < 0x7f)
			return cmn_err_set(err, CMN_EINVAL, 0, "%d:%d: unexpected character '%c'",
					   line, col, c);
		return cmn_err_set(err, CMN_EINVAL, 0, "%d:%d: unexpected byte 0x%02x", line, col,
				   c);
	}
	text = dup_range(lx->src + start, n);
	if (!text)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	advance(lx, n);
	return push(lx, SCH_TOK_PUNCT, start, line, col, text, err);
}

/* Skips blanks and comments (-- to end of line, / * ... * /). */
static int skip_space(struct lexer *lx, struct cmn_err *err)
{
	while (lx->pos < lx->len) {
		char c = lx->src[lx->pos];
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
			advance(lx, 1);
		} else if (c == '-' && lx->pos + 1 < lx->len && lx->src[lx->pos + 1] == '-') {
			while (lx->pos < lx->len && lx->src[lx->pos] != '\n')
				advance(lx, 1);
		} else if (c == '/' && lx->pos + 1 < lx->len && lx->src[lx->pos + 1] == '*') {
			int line = lx->line, col = lx->col;
			advance(lx, 2);
			for (;;) {
				if (lx->pos + 1 >= lx->len)
					return cmn_err_set(err, CMN_EINVAL, 0,
							   "%d:%d: unterminated comment", line,
							   col);
				if (lx->src[lx->pos] == '*' && lx->src[lx->pos + 1] == '/') {
					advance(lx, 2);
					break;
				}
				advance(lx, 1);
			}
		} else {
			break;
		}
	}
	return 0;
}

static int lex_all(struct lexer *lx, struct cmn_err *err)
{
	for (;;) {
		char c;
		if (skip_space(lx, err) < 0)
			return -1;
		if (lx->pos >= lx->len)
			return push(lx, SCH_TOK_EOF, lx->pos, lx->line, lx->col, NULL, err);
		c = lx->src[lx->pos];
		if (is_ident_start(c)) {
			size_t start = lx->pos;
			int line = lx->line, col = lx->col;
			char *text;
			while (lx->pos < lx->len && is_ident_char(lx->src[lx->pos]))
				advance(lx, 1);
			text = dup_range(lx->src + start, lx->pos - start);
			if (!text)
				return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
			if (push(lx, SCH_TOK_IDENT, start, line, col, text, err) < 0)
				return -1;
		} else if (is_digit(c)) {
			if (lex_number(lx, err) < 0)
				return -1;
		} else if (c == '\'' || c == '"' || c == '`') {
			if (lex_quoted(lx, err) < 0)
				return -1;
		} else if (lex_punct(lx, err) < 0) {
			return -1;
		}
	}
}

int sch_sql_lex(const char *src, size_t len, struct sch_tokens *out, struct cmn_err *err)
{
	struct lexer lx = { .src = src, .len = len, .line = 1, .col = 1, .out = out };

	out->v = NULL;
	out->n = 0;
	if (len > SCH_SQL_MAX_TEXT)
		return cmn_err_set(err, CMN_ELIMIT, 0,
				   "1:1: statement text of %zu bytes is over %u", len,
				   SCH_SQL_MAX_TEXT);
	if (lex_all(&lx, err) < 0) {
		sch_sql_tokens_free(out);
		return -1;
	}
	return 0;
}

void sch_sql_tokens_free(struct sch_tokens *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].text);
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

bool sch_tok_is_kw(const struct sch_token *tok, const char *kw)
{
	return tok->type == SCH_TOK_IDENT && strcasecmp(tok->text, kw) == 0;
}

bool sch_tok_is_punct(const struct sch_token *tok, const char *p)
{
	return tok->type == SCH_TOK_PUNCT && strcmp(tok->text, p) == 0;
}
