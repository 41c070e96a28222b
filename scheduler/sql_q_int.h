/* scheduler/sql_q_int.h — shared by the sql_q_*.c parser files only. */
#ifndef SCH_SQL_Q_INT_H
#define SCH_SQL_Q_INT_H

#include "scheduler/sql_query.h"

struct qp {
	const char *src;
	const struct sch_tokens *toks;
	size_t pos;
	int depth;
	struct cmn_err *err;
};

const struct sch_token *qp_cur(struct qp *p);
const struct sch_token *qp_peek(struct qp *p, size_t k);
void qp_next(struct qp *p);
int qp_fail(struct qp *p, const char *expected);
int qp_failat(struct qp *p, const struct sch_token *t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool qp_kw(struct qp *p, const char *kw);
bool qp_accept_kw(struct qp *p, const char *kw);
int qp_expect_kw(struct qp *p, const char *kw);
bool qp_punct(struct qp *p, const char *s);
bool qp_accept_punct(struct qp *p, const char *s);
int qp_expect_punct(struct qp *p, const char *s);
int qp_ident(struct qp *p, const char *what, char **out);
int qp_string(struct qp *p, const char *what, char **out);
int qp_name(struct qp *p, const char *what, struct sch_sql_name *out);
int qp_list_push(struct qp *p, struct sch_sql_list *l, char *item);
int qp_grow(struct qp *p, void **v, size_t n, size_t size);
int qp_enter(struct qp *p);
char *qp_strdup(struct qp *p, const char *s);
bool qp_reserved(const struct sch_token *t);

int qp_expr(struct qp *p, struct sch_q_expr **out);
int qp_query(struct qp *p, struct sch_q_query **out);
int qp_type(struct qp *p, enum sch_q_type *out);

#endif
