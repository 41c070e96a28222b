/* runtime/sqlfn_udf.c — the plan's Lua UDFs as SQLite functions.
 *
 *   scalar f     -> scalar function f
 *   aggregate f  -> aggregates f (whole), f__partial (serialized buffer as a
 *                   BLOB, MAP side) and f__final(blob) (merge + terminate,
 *                   REDUCE side); the three share one Lua state
 *   table f      -> eponymous table-valued function f(args...) whose
 *                   columns are the plan's, plus hidden argument columns
 * Each UDF owns one sandboxed Lua state (udf_abi.h). A failing call records
 * its error in the stage (the first wins, so "SCRIPT:LINE: message" and the
 * limit name survive SQLite's error path) and fails the statement.
 * A table function's close() is not called: SQLite has no end-of-input hook
 * for a table-valued function (docs/node.md).
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "runtime/stage.h"

#define TVF_MAX_ARGS 8

enum fn_role { ROLE_SCALAR, ROLE_WHOLE, ROLE_PARTIAL, ROLE_FINAL };

struct fn_ctx {
	struct udf_entry *e;
	enum fn_role role;
};

struct udf_entry {
	struct rt_stage *st;
	const struct rt_plan_function *f;
	struct rt_udf *u;
	struct fn_ctx roles[3];
	int tvf_args;
};

struct rt_udf_set {
	struct udf_entry *v;
	size_t n;
};

void rt_udf_drain_log(struct rt_udf *u)
{
	struct cmn_buf *log = rt_lua_log(rt_udf_lua(u));

	if (log->len) {
		ssize_t w = write(STDERR_FILENO, log->data, log->len);
		(void)w;
		cmn_buf_reset(log);
	}
}

static void drain_log(struct udf_entry *e)
{
	rt_udf_drain_log(e->u);
}

struct rt_udf *rt_udfs_get(struct rt_stage *st, size_t i)
{
	if (!st->udfs || i >= st->udfs->n)
		return NULL;
	return st->udfs->v[i].u;
}

static void fail(sqlite3_context *ctx, struct udf_entry *e, struct cmn_err *err)
{
	drain_log(e);
	rt_stage_udf_fail(e->st, err, rt_udf_limit_hit(e->u));
	sqlite3_result_error(ctx, err->msg, -1);
}

static void to_rt(sqlite3_value *sv, struct rt_value *v)
{
	switch (sqlite3_value_type(sv)) {
	case SQLITE_INTEGER:
		v->type = RT_T_BIGINT;
		v->v.i = sqlite3_value_int64(sv);
		break;
	case SQLITE_FLOAT:
		v->type = RT_T_DOUBLE;
		v->v.d = sqlite3_value_double(sv);
		break;
	case SQLITE_TEXT:
		v->type = RT_T_STRING;
		v->v.s.p = (const char *)sqlite3_value_text(sv);
		v->v.s.len = (size_t)sqlite3_value_bytes(sv);
		break;
	case SQLITE_BLOB:
		v->type = RT_T_BINARY;
		v->v.s.p = sqlite3_value_blob(sv);
		v->v.s.len = (size_t)sqlite3_value_bytes(sv);
		if (!v->v.s.p)
			v->v.s.p = "";
		break;
	default:
		v->type = RT_T_NULL;
		break;
	}
}

void rt_sqlite_result_rt(sqlite3_context *ctx, const struct rt_value *v)
{
	switch (v->type) {
	case RT_T_BIGINT:
		sqlite3_result_int64(ctx, v->v.i);
		break;
	case RT_T_DATETIME:
		sqlite3_result_int64(ctx, v->v.ms);
		break;
	case RT_T_DOUBLE:
		sqlite3_result_double(ctx, v->v.d);
		break;
	case RT_T_BOOLEAN:
		sqlite3_result_int(ctx, v->v.b ? 1 : 0);
		break;
	case RT_T_STRING:
		sqlite3_result_text64(ctx, v->v.s.p, v->v.s.len, SQLITE_TRANSIENT, SQLITE_UTF8);
		break;
	case RT_T_BINARY:
		sqlite3_result_blob64(ctx, v->v.s.p, v->v.s.len, SQLITE_TRANSIENT);
		break;
	default:
		sqlite3_result_null(ctx);
		break;
	}
}

static int args_of(sqlite3_context *ctx, int argc, sqlite3_value **argv, struct rt_value *args)
{
	if (argc > RT_MAX_COLS) {
		sqlite3_result_error(ctx, "too many arguments", -1);
		return -1;
	}
	for (int i = 0; i < argc; i++)
		to_rt(argv[i], &args[i]);
	return 0;
}

static void scalar_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct fn_ctx *fc = sqlite3_user_data(ctx);
	struct udf_entry *e = fc->e;
	struct rt_value args[RT_MAX_COLS], out;
	struct cmn_err err; /* per row: cmn_err_clear, not the 520-byte CMN_ERR_INIT */
	int rc;

	cmn_err_clear(&err);
	if (args_of(ctx, argc, argv, args) < 0)
		return;
	e->st->udf_calls++;
	rt_stage_cpu_rearm(e->st);
	rc = rt_udf_call(e->u, args, argc, &out, &err);
	rt_stage_cpu_disarm(e->st);
	if (rc < 0) {
		fail(ctx, e, &err);
		return;
	}
	drain_log(e);
	rt_sqlite_result_rt(ctx, &out);
}

/* The aggregate context holds the buffer handle (0 = none yet). */
static int *agg_buf(sqlite3_context *ctx, struct udf_entry *e, bool create)
{
	int *b = sqlite3_aggregate_context(ctx, create ? (int)sizeof(int) : 0);

	if (!b) {
		if (create)
			sqlite3_result_error_nomem(ctx);
		return NULL;
	}
	if (*b == 0) {
		struct cmn_err err = CMN_ERR_INIT; /* once per group, not per row */
		if (rt_udf_agg_new(e->u, b, &err) < 0) {
			*b = 0;
			fail(ctx, e, &err);
			return NULL;
		}
	}
	return b;
}

static void agg_step_armed(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct fn_ctx *fc = sqlite3_user_data(ctx);
	struct udf_entry *e = fc->e;
	struct rt_value args[RT_MAX_COLS];
	struct cmn_err err; /* per row: cmn_err_clear, not the 520-byte CMN_ERR_INIT */
	int *b = agg_buf(ctx, e, true);
	int other;

	cmn_err_clear(&err);
	if (!b || args_of(ctx, argc, argv, args) < 0)
		return;
	e->st->udf_calls++;
	if (fc->role != ROLE_FINAL) {
		if (rt_udf_agg_iterate(e->u, *b, args, argc, &err) < 0)
			fail(ctx, e, &err);
		drain_log(e);
		return;
	}
	if (argc != 1) {
		sqlite3_result_error(ctx, "__final takes one partial buffer", -1);
		return;
	}
	if (args[0].type == RT_T_NULL)
		return; /* a node without rows for the group sent nothing */
	if (args[0].type != RT_T_BINARY && args[0].type != RT_T_STRING) {
		sqlite3_result_error(ctx, "__final: argument is not a partial buffer", -1);
		return;
	}
	if (rt_udf_agg_deserialize(e->u, args[0].v.s.p, args[0].v.s.len, &other, &err) < 0) {
		fail(ctx, e, &err);
		return;
	}
	if (rt_udf_agg_merge(e->u, *b, other, &err) < 0)
		fail(ctx, e, &err);
	rt_udf_agg_free(e->u, other);
	drain_log(e);
}

static void agg_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct fn_ctx *fc = sqlite3_user_data(ctx);

	rt_stage_cpu_rearm(fc->e->st);
	agg_step_armed(ctx, argc, argv);
	rt_stage_cpu_disarm(fc->e->st);
}

static void agg_final_armed(sqlite3_context *ctx)
{
	struct fn_ctx *fc = sqlite3_user_data(ctx);
	struct udf_entry *e = fc->e;
	struct cmn_err err = CMN_ERR_INIT;
	struct rt_value out;
	int *b = agg_buf(ctx, e, true);

	if (!b)
		return;
	if (fc->role == ROLE_PARTIAL) {
		cleanup_buf struct cmn_buf bytes = { 0 };
		if (rt_udf_agg_serialize(e->u, *b, &bytes, &err) < 0)
			fail(ctx, e, &err);
		else
			sqlite3_result_blob64(ctx, bytes.data, bytes.len, SQLITE_TRANSIENT);
	} else if (rt_udf_agg_terminate(e->u, *b, &out, &err) < 0) {
		fail(ctx, e, &err);
	} else {
		rt_sqlite_result_rt(ctx, &out);
	}
	drain_log(e);
	rt_udf_agg_free(e->u, *b);
	*b = 0;
}

static void agg_final(sqlite3_context *ctx)
{
	struct fn_ctx *fc = sqlite3_user_data(ctx);

	rt_stage_cpu_rearm(fc->e->st);
	agg_final_armed(ctx);
	rt_stage_cpu_disarm(fc->e->st);
}

/* ---- table functions ------------------------------------------------------------ */

struct tvf_row {
	struct rt_value *v; /* strings point into the same allocation */
};

struct tvf_cursor {
	sqlite3_vtab_cursor base;
	struct udf_entry *e;
	struct tvf_row *rows;
	size_t n, cap, pos;
	sqlite3_value *args[TVF_MAX_ARGS];
	int nargs;
};

struct tvf_vtab {
	sqlite3_vtab base;
	struct udf_entry *e;
};

static void tvf_clear(struct tvf_cursor *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->rows[i].v);
	c->n = c->pos = 0;
	for (int i = 0; i < c->nargs; i++)
		sqlite3_value_free(c->args[i]);
	c->nargs = 0;
}

static int tvf_collect(void *ud, const struct rt_value *cols, int ncols, struct cmn_err *err)
{
	struct tvf_cursor *c = ud;
	size_t want = c->e->f->ncolumns, bytes = want * sizeof(struct rt_value);
	struct rt_value *v;
	char *p;

	if ((size_t)ncols != want)
		return cmn_err_set(err, CMN_EINVAL, 0, "%s: forwarded %d columns, declared %zu",
				   c->e->f->name, ncols, want);
	for (int i = 0; i < ncols; i++)
		if (cols[i].type == RT_T_STRING || cols[i].type == RT_T_BINARY)
			bytes += cols[i].v.s.len;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct tvf_row *nr = reallocarray(c->rows, cap, sizeof(*nr));
		if (!nr)
			return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		c->rows = nr;
		c->cap = cap;
	}
	v = malloc(bytes ? bytes : 1);
	if (!v)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	p = (char *)(v + want);
	for (int i = 0; i < ncols; i++) {
		v[i] = cols[i];
		if (cols[i].type == RT_T_STRING || cols[i].type == RT_T_BINARY) {
			if (cols[i].v.s.len)
				memcpy(p, cols[i].v.s.p, cols[i].v.s.len);
			v[i].v.s.p = p;
			p += cols[i].v.s.len;
		}
	}
	c->rows[c->n++].v = v;
	return 0;
}

static int tvf_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
		       sqlite3_vtab **out, char **errmsg)
{
	struct udf_entry *e = aux;
	sqlite3_str *s = sqlite3_str_new(db);
	struct tvf_vtab *vt;
	char *ddl;
	int rc;

	(void)argc;
	(void)argv;
	sqlite3_str_appendall(s, "CREATE TABLE x(");
	for (size_t i = 0; i < e->f->ncolumns; i++)
		sqlite3_str_appendf(s, "\"%w\", ", e->f->columns[i]);
	for (int i = 0; i < e->tvf_args; i++)
		sqlite3_str_appendf(s, "%s\"__arg%d\" HIDDEN", i ? ", " : "", i);
	sqlite3_str_appendall(s, ")");
	ddl = sqlite3_str_finish(s);
	if (!ddl)
		return SQLITE_NOMEM;
	rc = sqlite3_declare_vtab(db, ddl);
	sqlite3_free(ddl);
	if (rc != SQLITE_OK) {
		*errmsg = sqlite3_mprintf("%s: %s", e->f->name, sqlite3_errmsg(db));
		return rc;
	}
	vt = sqlite3_malloc(sizeof(*vt));
	if (!vt)
		return SQLITE_NOMEM;
	memset(vt, 0, sizeof(*vt));
	vt->e = e;
	*out = &vt->base;
	return SQLITE_OK;
}

static int tvf_disconnect(sqlite3_vtab *vt)
{
	sqlite3_free(vt);
	return SQLITE_OK;
}

/* Arguments are equality constraints on the hidden columns; they must be
 * given as a prefix (f(a, b), never only the second). */
static int tvf_best_index(sqlite3_vtab *vt, sqlite3_index_info *info)
{
	struct tvf_vtab *v = (struct tvf_vtab *)vt;
	int first = (int)v->e->f->ncolumns, mask = 0, n = 0;

	for (int i = 0; i < info->nConstraint; i++) {
		const struct sqlite3_index_constraint *c = &info->aConstraint[i];
		int a = c->iColumn - first;
		if (a < 0 || c->op != SQLITE_INDEX_CONSTRAINT_EQ)
			continue;
		if (!c->usable)
			return SQLITE_CONSTRAINT;
		info->aConstraintUsage[i].argvIndex = a + 1;
		info->aConstraintUsage[i].omit = 1;
		mask |= 1 << a;
	}
	while (n < v->e->tvf_args && (mask & (1 << n)))
		n++;
	if (mask != (1 << n) - 1)
		return SQLITE_CONSTRAINT;
	info->idxNum = n;
	info->estimatedCost = 10;
	info->estimatedRows = 10;
	return SQLITE_OK;
}

static int tvf_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out)
{
	struct tvf_cursor *c = sqlite3_malloc(sizeof(*c));

	if (!c)
		return SQLITE_NOMEM;
	memset(c, 0, sizeof(*c));
	c->e = ((struct tvf_vtab *)vt)->e;
	*out = &c->base;
	return SQLITE_OK;
}

static int tvf_close(sqlite3_vtab_cursor *cur)
{
	struct tvf_cursor *c = (struct tvf_cursor *)cur;

	tvf_clear(c);
	free(c->rows);
	sqlite3_free(c);
	return SQLITE_OK;
}

static int tvf_filter(sqlite3_vtab_cursor *cur, int idx, const char *idxstr, int argc,
		      sqlite3_value **argv)
{
	struct tvf_cursor *c = (struct tvf_cursor *)cur;
	struct udf_entry *e = c->e;
	struct rt_value args[TVF_MAX_ARGS];
	struct cmn_err err = CMN_ERR_INIT;
	int rc;

	(void)idx;
	(void)idxstr;
	tvf_clear(c);
	for (int i = 0; i < argc && i < TVF_MAX_ARGS; i++) {
		c->args[i] = sqlite3_value_dup(argv[i]);
		if (!c->args[i])
			return SQLITE_NOMEM;
		c->nargs = i + 1;
		to_rt(c->args[i], &args[i]);
	}
	e->st->udf_calls++;
	rt_stage_cpu_rearm(e->st);
	rc = rt_udf_process(e->u, args, c->nargs, tvf_collect, c, &err);
	rt_stage_cpu_disarm(e->st);
	if (rc < 0) {
		drain_log(e);
		rt_stage_udf_fail(e->st, &err, rt_udf_limit_hit(e->u));
		sqlite3_free(cur->pVtab->zErrMsg);
		cur->pVtab->zErrMsg = sqlite3_mprintf("%s", err.msg);
		return SQLITE_ERROR;
	}
	drain_log(e);
	return SQLITE_OK;
}

static int tvf_next(sqlite3_vtab_cursor *cur)
{
	((struct tvf_cursor *)cur)->pos++;
	return SQLITE_OK;
}

static int tvf_eof(sqlite3_vtab_cursor *cur)
{
	struct tvf_cursor *c = (struct tvf_cursor *)cur;

	return c->pos >= c->n;
}

static int tvf_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int i)
{
	struct tvf_cursor *c = (struct tvf_cursor *)cur;
	int first = (int)c->e->f->ncolumns;

	if (i >= first) {
		if (i - first < c->nargs)
			sqlite3_result_value(ctx, c->args[i - first]);
		else
			sqlite3_result_null(ctx);
		return SQLITE_OK;
	}
	rt_sqlite_result_rt(ctx, &c->rows[c->pos].v[i]);
	return SQLITE_OK;
}

static int tvf_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid)
{
	*rowid = (sqlite3_int64)((struct tvf_cursor *)cur)->pos;
	return SQLITE_OK;
}

static const sqlite3_module tvf_module = {
	.iVersion = 0,
	.xCreate = NULL,
	.xConnect = tvf_connect,
	.xBestIndex = tvf_best_index,
	.xDisconnect = tvf_disconnect,
	.xDestroy = tvf_disconnect,
	.xOpen = tvf_open,
	.xClose = tvf_close,
	.xFilter = tvf_filter,
	.xNext = tvf_next,
	.xEof = tvf_eof,
	.xColumn = tvf_column,
	.xRowid = tvf_rowid,
};

/* ---- registration ----------------------------------------------------------------- */

static int open_udf(struct rt_stage *st, struct udf_entry *e, struct cmn_err *err)
{
	const struct rt_plan *p = &st->plan;
	struct rt_udf_source src;
	size_t s;

	for (s = 0; s < p->nscripts; s++)
		if (strcmp(p->scripts[s].name, e->f->script) == 0)
			break;
	src = (struct rt_udf_source){ p->scripts[s].name,
				      st->script_src[s].data,
				      st->script_src[s].len,
				      e->f->entry,
				      &p->limits,
				      st->res,
				      p->nresources };
	if (rt_udf_open(&src, &e->u, err) < 0)
		return -1;
	if (rt_udf_kind(e->u) != e->f->kind)
		return cmn_err_set(err, CMN_EINVAL, 0, "%s:%s is of kind %s, the plan says %s",
				   e->f->script, e->f->entry, rt_udf_kind_name(rt_udf_kind(e->u)),
				   rt_udf_kind_name(e->f->kind));
	return 0;
}

static int create_fn(sqlite3 *db, const char *name, struct fn_ctx *fc, struct cmn_err *err)
{
	int flags = SQLITE_UTF8 | SQLITE_DIRECTONLY, rc;

	if (fc->role == ROLE_SCALAR)
		rc = sqlite3_create_function_v2(db, name, -1, flags, fc, scalar_fn, NULL, NULL,
						NULL);
	else
		rc = sqlite3_create_function_v2(db, name, fc->role == ROLE_FINAL ? 1 : -1, flags,
						fc, NULL, agg_step, agg_final, NULL);
	if (rc != SQLITE_OK)
		return cmn_err_set(err, CMN_EINTERNAL, 0, "sqlite3_create_function %s: %s", name,
				   sqlite3_errmsg(db));
	return 0;
}

static int register_one(sqlite3 *db, struct udf_entry *e, struct cmn_err *err)
{
	char name[RT_PLAN_MAX_NAME + 16];
	const struct rt_signature *sig = rt_udf_signature(e->u);

	switch (e->f->kind) {
	case RT_UDF_SCALAR:
		e->roles[0] = (struct fn_ctx){ e, ROLE_SCALAR };
		return create_fn(db, e->f->name, &e->roles[0], err);
	case RT_UDF_AGGREGATE:
		e->roles[0] = (struct fn_ctx){ e, ROLE_WHOLE };
		e->roles[1] = (struct fn_ctx){ e, ROLE_PARTIAL };
		e->roles[2] = (struct fn_ctx){ e, ROLE_FINAL };
		if (create_fn(db, e->f->name, &e->roles[0], err) < 0)
			return -1;
		snprintf(name, sizeof(name), "%s__partial", e->f->name);
		if (create_fn(db, name, &e->roles[1], err) < 0)
			return -1;
		snprintf(name, sizeof(name), "%s__final", e->f->name);
		return create_fn(db, name, &e->roles[2], err);
	case RT_UDF_TABLE:
		e->tvf_args = sig->present && !sig->any_args && sig->nargs <= TVF_MAX_ARGS
				  ? sig->nargs
				  : TVF_MAX_ARGS;
		if (sqlite3_create_module(db, e->f->name, &tvf_module, e) != SQLITE_OK)
			return cmn_err_set(err, CMN_EINTERNAL, 0, "sqlite3_create_module %s: %s",
					   e->f->name, sqlite3_errmsg(db));
		return 0;
	}
	return cmn_err_set(err, CMN_EINTERNAL, 0, "bad function kind");
}

int rt_udfs_register(struct rt_stage *st, sqlite3 *db, struct cmn_err *err)
{
	struct rt_udf_set *set = calloc(1, sizeof(*set));

	if (!set)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	st->udfs = set;
	set->v = calloc(st->plan.nfunctions + 1, sizeof(*set->v));
	if (!set->v)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	for (size_t i = 0; i < st->plan.nfunctions; i++) {
		struct udf_entry *e = &set->v[i];
		e->st = st;
		e->f = &st->plan.functions[i];
		set->n = i + 1;
		int rc;
		rt_stage_cpu_rearm(st); /* a script's top level runs at load */
		rc = open_udf(st, e, err);
		rt_stage_cpu_disarm(st);
		if (rc < 0 || register_one(db, e, err) < 0)
			return -1;
	}
	return 0;
}

void rt_udfs_free(struct rt_stage *st)
{
	if (!st->udfs)
		return;
	for (size_t i = 0; i < st->udfs->n; i++)
		rt_udf_free(st->udfs->v[i].u);
	free(st->udfs->v);
	free(st->udfs);
	st->udfs = NULL;
}
