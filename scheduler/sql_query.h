/* scheduler/sql_query.h — the query, DDL and DML part of Cordon's SQL
 * dialect (SQL.md "Queries", "Tables and data", "Functions and resources",
 * "Settings"): syntax tree and parser.
 *
 * The parser runs on the tokens of sql_lex.h, so errors read exactly like
 * the security statements' ("line:col: expected X, found 'Y'"). The
 * resolver (resolve.h) fills the `ty`/binding fields of the tree in place;
 * the planner (plan.h) turns a resolved SELECT into stages.
 *
 * Ownership: every pointer below is owned by the node that holds it and is
 * released by sch_q_stmt_free(); nothing is shared between nodes.
 */
#ifndef SCH_SQL_QUERY_H
#define SCH_SQL_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "scheduler/sql_ast.h"
#include "scheduler/sql_lex.h"

/* Value types; the numbers are common/rowfmt.h's enum cmn_col_type, 0 is the
 * type of the NULL literal (compatible with everything). */
enum sch_q_type {
	SCH_QT_NULL = 0,
	SCH_QT_BIGINT = 1,
	SCH_QT_DOUBLE = 2,
	SCH_QT_BOOLEAN = 3,
	SCH_QT_STRING = 4,
	SCH_QT_BINARY = 5,
	SCH_QT_DATETIME = 6,
};

const char *sch_q_type_name(enum sch_q_type t); /* "BIGINT", ... ("NULL" for 0) */
int sch_q_type_parse(const char *s);            /* -1 when unknown */

enum sch_q_ekind {
	SCH_QE_NULL = 1,
	SCH_QE_INT,
	SCH_QE_DOUBLE,
	SCH_QE_STRING,
	SCH_QE_BOOL,
	SCH_QE_COLUMN, /* [qual.]name */
	SCH_QE_STAR,   /* the * of COUNT(*) */
	SCH_QE_UNARY,  /* op: "-", "+", "NOT" */
	SCH_QE_BINARY, /* op: + - * / % || = <> < <= > >= AND OR */
	SCH_QE_ISNULL, /* args[0] IS [NOT] NULL */
	SCH_QE_IN,     /* args[0] [NOT] IN (args[1..]) */
	SCH_QE_BETWEEN,
	SCH_QE_LIKE,
	SCH_QE_CASE, /* [operand] (WHEN, THEN)* [ELSE] */
	SCH_QE_CAST,
	SCH_QE_CALL, /* [project:]name(args), DISTINCT for aggregates */
};

/* What a call turned out to be (set by the resolver). */
enum sch_q_fkind {
	SCH_QF_UNRESOLVED = 0,
	SCH_QF_BUILTIN,   /* SQLite scalar built-in (abs, lower, ...) */
	SCH_QF_AGGREGATE, /* COUNT SUM AVG MIN MAX */
	SCH_QF_UDF,       /* scalar user function */
	SCH_QF_UDAF,      /* aggregate user function */
	SCH_QF_UDTF,      /* table user function */
};

struct sch_q_expr {
	enum sch_q_ekind kind;
	int line, col;
	const char *op; /* static string */
	bool negated;   /* IS NOT NULL, NOT IN, NOT BETWEEN, NOT LIKE */
	bool distinct;  /* COUNT(DISTINCT x) */
	int64_t ival;   /* SCH_QE_INT, SCH_QE_BOOL */
	double dval;
	char *sval; /* SCH_QE_STRING; the source text of a SCH_QE_DOUBLE */
	char *qual; /* column qualifier; call project (project:f) */
	char *name; /* column or function name */
	struct sch_q_expr **args;
	size_t nargs;
	bool case_operand, case_else; /* CASE x WHEN ..., ... ELSE e */
	enum sch_q_type cast_type;

	/* filled by the resolver */
	enum sch_q_type ty;
	enum sch_q_fkind fkind;
	int src;      /* column: index of the FROM source in its scope, -1 otherwise */
	int colidx;   /* column: index in that source */
	int outer;    /* column: how many scopes up (0 = own) */
	char *fn_ref; /* resolved function "project:name" (UDF, UDAF, UDTF) */
	char *rcol;   /* column: the name to render (a LATERAL VIEW alias maps to the UDTF's) */
};

enum sch_q_from_kind {
	SCH_QF_TABLE = 1,
	SCH_QF_SUBQUERY,
	SCH_QF_JOIN,
	SCH_QF_LATERAL,
};

enum sch_q_join {
	SCH_QJ_INNER = 1,
	SCH_QJ_LEFT,
	SCH_QJ_RIGHT,
	SCH_QJ_FULL,
	SCH_QJ_CROSS, /* a comma in the FROM list */
};

struct sch_q_query;
struct sch_tabledef;

struct sch_q_from {
	enum sch_q_from_kind kind;
	int line, col;
	struct sch_sql_name table; /* SCH_QF_TABLE */
	char *alias;               /* table, subquery, lateral view table alias */
	struct sch_q_query *sub;   /* SCH_QF_SUBQUERY */
	enum sch_q_join join;      /* SCH_QF_JOIN */
	struct sch_q_from *left, *right;
	struct sch_q_expr *on;
	struct sch_q_expr *udtf; /* SCH_QF_LATERAL: left LATERAL VIEW udtf alias AS cols */
	struct sch_sql_list cols;

	/* filled by the resolver */
	int src_index;                  /* leaves: index of the source in its SELECT */
	const struct sch_tabledef *def; /* SCH_QF_TABLE: not owned (sch_q_resolved) */
	char *view_owner;               /* SUBQUERY made from a view: its owner */
};

struct sch_q_item {
	struct sch_q_expr *e; /* NULL for * and t.* */
	char *alias;
	char *star_qual; /* t.* */
	bool star;
};

struct sch_q_order {
	struct sch_q_expr *e;
	bool desc;
};

struct sch_q_select {
	int line, col;
	bool distinct;
	struct sch_q_item *items;
	size_t nitems;
	struct sch_sql_list udtf_cols;  /* SELECT udtf(args) AS (c1, ...) */
	struct sch_sql_list udtf_rcols; /* resolver: the UDTF's own names of those columns */
	struct sch_q_from *from;        /* NULL: SELECT without FROM */
	struct sch_q_expr *where;
	struct sch_q_expr **group;
	size_t ngroup;
	struct sch_q_expr *having;
	struct sch_q_order *order;
	size_t norder;
	bool has_limit;
	int64_t limit;

	/* SELECT TRANSFORM(items) USING 'cmd' [RESOURCES ...] [AS (cols)] */
	bool transform;
	char *using_cmd;
	struct sch_sql_list resources;
	struct sch_sql_list tcols;
	enum sch_q_type *tcol_types; /* ntcols entries, STRING when not written */
};

/* query := select (UNION ALL select)* */
struct sch_q_query {
	struct sch_q_select **v;
	size_t n;
};

enum sch_q_kind {
	SCH_Q_SELECT = 1,
	SCH_Q_CREATE_TABLE,
	SCH_Q_CTAS,
	SCH_Q_DROP_TABLE,
	SCH_Q_ADD_PARTITION,
	SCH_Q_DROP_PARTITION,
	SCH_Q_CREATE_VIEW,
	SCH_Q_DROP_VIEW,
	SCH_Q_INSERT,
	SCH_Q_DESC,
	SCH_Q_SHOW_TABLES,
	SCH_Q_SHOW_PARTITIONS,
	SCH_Q_CREATE_FUNCTION,
	SCH_Q_DROP_FUNCTION,
	SCH_Q_SHOW_FUNCTIONS,
	SCH_Q_EXPLAIN,
	SCH_Q_SET,
};

struct sch_q_coldef {
	char *name;
	enum sch_q_type type;
	char *comment;
};

struct sch_q_partval {
	char *col;
	char *value;
};

struct sch_q_stmt {
	enum sch_q_kind kind;
	int line, col;
	struct sch_sql_name name; /* table, view or function */
	bool if_exists, if_not_exists, overwrite;
	struct sch_q_coldef *cols, *pcols; /* CREATE TABLE columns, PARTITIONED BY */
	size_t ncols, npcols;
	bool has_lifecycle;
	int64_t lifecycle;
	char *comment;
	struct sch_q_query *query;  /* SELECT, CTAS, CREATE VIEW, INSERT ... query, EXPLAIN */
	char *query_text;           /* CREATE VIEW: the query's source text */
	struct sch_q_partval *part; /* PARTITION (p='v', ...) */
	size_t npart;
	struct sch_sql_list insert_cols;
	struct sch_q_expr ***values; /* INSERT ... VALUES: nrows rows of nvalcols */
	size_t nrows, nvalcols;
	char *class_name;              /* CREATE FUNCTION f AS 'script.name' */
	struct sch_sql_list resources; /* ... USING 'r1, r2' */
	char *key, *value;             /* SET key=value (as written) */
};

struct sch_q_script {
	struct sch_q_stmt **v;
	size_t n;
};

/* Bounds on one statement so that the recursive parser and the planner stay
 * within the stack and in linear memory. */
#define SCH_Q_MAX_DEPTH 64
#define SCH_Q_MAX_LIST 4096

/* Parses a job text of query/DDL/DML/SET statements separated by `;`.
 * Errors are CMN_EINVAL "line:col: message". */
int sch_q_parse(const char *src, size_t len, struct sch_q_script *out, struct cmn_err *err);
/* The kind of a job text's statement (the last that is not a SET): 0 when
 * the text does not parse in this grammar (security statements, bad SQL),
 * SCH_Q_SET when it holds only SETs. Statement handlers use it to decide
 * whether a text is theirs. */
enum sch_q_kind sch_q_text_kind(const char *src, size_t len);

/* Parses one statement starting at toks[*pos] (src is the text the tokens
 * came from; CREATE VIEW keeps its query text). On success *pos is the
 * first token after the statement. For sql_parse.c's dispatch. */
int sch_q_parse_tokens(const char *src, const struct sch_tokens *toks, size_t *pos,
		       struct sch_q_stmt **out, struct cmn_err *err);

/* True when the statement starting at toks[0] belongs to this grammar. */
bool sch_q_tokens_are_query(const struct sch_token *toks, size_t n);

void sch_q_stmt_free(struct sch_q_stmt *s);
void sch_q_script_free(struct sch_q_script *sc);
void sch_q_query_free(struct sch_q_query *q);
void sch_q_select_free(struct sch_q_select *s);
void sch_q_from_free(struct sch_q_from *f);
void sch_q_expr_free(struct sch_q_expr *e);

/* Deep copy (resolver fields included); NULL on out of memory. */
struct sch_q_expr *sch_q_expr_dup(const struct sch_q_expr *e);
/* Structural equality ignoring positions and case of names. */
bool sch_q_expr_equal(const struct sch_q_expr *a, const struct sch_q_expr *b);
/* True when e contains an aggregate call (COUNT.. or a UDAF, once resolved
 * or by built-in name before). */
bool sch_q_expr_has_agg(const struct sch_q_expr *e);
bool sch_q_is_builtin_agg(const char *name);

#endif
