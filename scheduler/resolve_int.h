/* scheduler/resolve_int.h — shared by resolve*.c only. */
#ifndef SCH_RESOLVE_INT_H
#define SCH_RESOLVE_INT_H

#include <stdbool.h>
#include "scheduler/resolve.h"

/* One FROM source of a SELECT: a table, a subquery (or view) or a LATERAL
 * VIEW. names are what queries write; render is what generated SQL uses
 * (differs for a LATERAL VIEW's aliases of the UDTF's columns). */
struct rs_source {
	char *alias;
	size_t ncols;
	char **names, **render;
	enum sch_q_type *types;
	const struct sch_tabledef *table; /* base table, or NULL */
	const char *owner;                /* decide reads of table as this owner (views) */
	bool read;                        /* a column of it was referenced */
	int line, col;                    /* where it appears in FROM */
};

struct rs_scope {
	struct rs_source *v;
	size_t n;
};

struct rs {
	const struct sch_q_env *env;
	struct sch_q_resolved *out;
	struct cmn_err *err;
	const char *as_owner; /* inside a view: its owner */
	int depth;
	int line, col; /* position for errors without a better one */
};

/* ctx flags of rs_expr */
#define RS_NO_AGG 1  /* aggregates are not allowed (WHERE, GROUP BY, ON, inside one) */
#define RS_IN_AGG 2  /* inside an aggregate's arguments */
#define RS_UDTF_OK 4 /* a table function call is allowed here */

int rs_fail(struct rs *r, int code, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
int rs_oom(struct rs *r);
int rs_access(struct rs *r, const char *action, const char *project, enum sch_sql_objtype type,
	      const char *name, const char *column, int line, int col);
bool rs_numeric(enum sch_q_type t);
int rs_common(enum sch_q_type a, enum sch_q_type b);
void rs_scope_free(struct rs_scope *sc);
struct rs_source *rs_scope_add(struct rs *r, struct rs_scope *sc, const char *alias, size_t ncols);
int rs_expr(struct rs *r, struct rs_scope *sc, struct sch_q_expr *e, int ctx);
int rs_udf(struct rs *r, struct sch_q_expr *e, struct sch_funcdef **def_out);
enum sch_q_type rs_item_type(const struct sch_q_select *s, size_t i);
int rs_query(struct rs *r, struct sch_q_query *q);
int rs_table(struct rs *r, const struct sch_sql_name *n, int line, int col,
	     const struct sch_tabledef **out);

#endif
