/* runtime/vtab_input.c — each input of a stage as an SQLite virtual table.
 *
 * The module is eponymous-only and named after the input's table, so the
 * stage's SQL reads `FROM in0` with nothing to create. Rows come from the
 * input's frames; an fd input is read lazily, one frame when the scan needs
 * it. Frames are kept once read, because SQLite may scan a table again (the
 * inner side of a join); the container's memory limit bounds them.
 * Every frame is validated in full (rowfmt's strict decoder) and its schema
 * must be the declared one, before any of its rows is seen.
 * An input with computed columns (scalar UDFs the plan evaluates in batches,
 * stage_udfcols.c) is read in blocks of up to RT_BATCH_ROWS decoded rows of
 * one frame; its computed columns follow the declared ones in the table.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "runtime/stage.h"

int rt_input_add_frame(struct rt_input *in, struct cmn_buf *frame, struct cmn_err *err)
{
	struct cmn_rowbatch_reader *r = malloc(sizeof(*r));
	const struct rt_plan_cols *pc = &in->plan->cols;

	if (!r)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	if (cmn_rowbatch_open(r, frame->data, frame->len, err) < 0) {
		free(r);
		return cmn_err_wrap(err, "input %s: malformed batch", in->plan->table);
	}
	if (r->ncols != pc->n) {
		cmn_err_set(err, CMN_EPROTO, 0, "input %s: batch has %zu columns, not %zu",
			    in->plan->table, r->ncols, pc->n);
		free(r);
		return -1;
	}
	for (size_t i = 0; i < pc->n; i++) {
		if (r->cols[i].type != pc->v[i].type) {
			cmn_err_set(err, CMN_EPROTO, 0, "input %s: column %zu is %s, not %s",
				    in->plan->table, i, rt_plan_type_name(r->cols[i].type),
				    rt_plan_type_name(pc->v[i].type));
			free(r);
			return -1;
		}
	}
	in->rows += r->nrows;
	free(r);
	if (in->nframes == in->cap) {
		size_t cap = in->cap ? in->cap * 2 : 16;
		struct cmn_buf *nf = reallocarray(in->frames, cap, sizeof(*nf));
		if (!nf)
			return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		in->frames = nf;
		in->cap = cap;
	}
	in->bytes += frame->len;
	in->frames[in->nframes++] = *frame;
	memset(frame, 0, sizeof(*frame));
	return 0;
}

int rt_input_pull(struct rt_input *in, struct cmn_err *err)
{
	struct cmn_buf frame = { 0 };
	int rc;

	if (in->done)
		return 0;
	if (in->plan->fd < 0) /* upstream */
		return rt_shuffle_pump(in->stage, (size_t)(in - in->stage->inputs), err);
	if (in->fd < 0)
		return 0;
	rc = rt_frame_read(in->fd, &frame, err);
	if (rc < 0)
		return cmn_err_wrap(err, "input %s", in->plan->table);
	if (rc == 0) {
		in->done = true;
		close(in->fd);
		in->fd = -1;
		return 0;
	}
	if (rt_input_add_frame(in, &frame, err) < 0) {
		cmn_buf_free(&frame);
		return -1;
	}
	return 1;
}

void rt_input_free(struct rt_input *in)
{
	rt_index_free_all(in);
	rt_udfcols_free(in);
	for (size_t i = 0; i < in->nframes; i++)
		cmn_buf_free(&in->frames[i]);
	free(in->frames);
	free(in->cols);
	in->frames = NULL;
	in->cols = NULL;
	in->nframes = in->cap = 0;
}

/* ---- the virtual table -------------------------------------------------------- */

struct in_vtab {
	sqlite3_vtab base;
	struct rt_input *in;
};

struct in_cursor {
	sqlite3_vtab_cursor base;
	struct rt_input *in;
	size_t frame; /* index of the frame r reads */
	struct cmn_rowbatch_reader r;
	bool have_frame, eof;
	struct cmn_value vals[RT_MAX_COLS];
	sqlite3_int64 rowid;
	/* an equality lookup (vtab_index.c) instead of a scan */
	bool lookup;
	struct rt_lookup lk;
	/* an input with computed columns is read in blocks (stage_udfcols.c) */
	bool blocks;
	struct rt_ublock blk;
	/* a scan in group order (vtab_group.c) */
	bool grouped;
	struct rt_grouped grp;
};

static const char *sql_type(enum cmn_col_type t)
{
	switch (t) {
	case CMN_COL_DOUBLE:
		return "REAL";
	case CMN_COL_STRING:
		return "TEXT";
	case CMN_COL_BINARY:
		return "BLOB";
	default:
		return "INTEGER";
	}
}

static int in_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out,
		      char **errmsg)
{
	struct rt_input *in = aux;
	struct in_vtab *vt;
	sqlite3_str *s = sqlite3_str_new(db);
	char *ddl;
	int rc;

	(void)argc;
	(void)argv;
	sqlite3_str_appendall(s, "CREATE TABLE x(");
	for (size_t i = 0; i < in->plan->cols.n; i++)
		sqlite3_str_appendf(s, "%s\"%w\" %s", i ? ", " : "", in->plan->cols.v[i].name,
				    sql_type(in->plan->cols.v[i].type));
	/* computed columns have no declared type: no affinity, exactly like
	 * the value of the function call they stand for */
	for (size_t k = 0; k < in->plan->ncomputed; k++)
		sqlite3_str_appendf(s, ", \"%w\"", in->plan->computed[k].name);
	sqlite3_str_appendall(s, ")");
	ddl = sqlite3_str_finish(s);
	if (!ddl)
		return SQLITE_NOMEM;
	rc = sqlite3_declare_vtab(db, ddl);
	sqlite3_free(ddl);
	if (rc != SQLITE_OK) {
		*errmsg = sqlite3_mprintf("input %s: %s", in->plan->table, sqlite3_errmsg(db));
		return rc;
	}
	vt = sqlite3_malloc(sizeof(*vt));
	if (!vt)
		return SQLITE_NOMEM;
	memset(vt, 0, sizeof(*vt));
	vt->in = in;
	in->vtab = &vt->base;
	*out = &vt->base;
	return SQLITE_OK;
}

static int in_disconnect(sqlite3_vtab *vt)
{
	sqlite3_free(vt);
	return SQLITE_OK;
}

/* A scan in group order (vtab_group.c) when SQLite asks only that rows with
 * equal ORDER BY terms be adjacent (GROUP BY, DISTINCT) and every term is a
 * plain column: idxNum IDX_GROUPED, idxStr the column numbers. */
#define IDX_GROUPED (-1)

/* Whether sql has the word ORDER anywhere (in any case). SQLite 3.40's
 * sqlite3_vtab_distinct() says 1 (adjacent is enough) for `GROUP BY k ORDER
 * BY k` too, and then skips the ORDER BY's sort, trusting the GROUP BY's
 * order: a grouped scan would leave the result unsorted. So a statement
 * with any ORDER BY (or a column named "order") is never offered one; the
 * planner's MAP and REDUCE stages, which group, have none. */
static bool mentions_order(const char *sql)
{
	for (const char *p = sql; (p = strcasestr(p, "order")) != NULL; p += 5) {
		bool start = p == sql || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
		bool end = !(isalnum((unsigned char)p[5]) || p[5] == '_');
		if (start && end)
			return true;
	}
	return false;
}

static void offer_groups(const struct rt_input *in, sqlite3_index_info *info)
{
	int mode = sqlite3_vtab_distinct(info);
	sqlite3_str *s;

	if (in->plan->ncomputed || info->nOrderBy < 1 || info->nOrderBy > RT_MAX_COLS ||
	    (mode != 1 && mode != 2) || !in->stage || !in->stage->plan.sql ||
	    mentions_order(in->stage->plan.sql))
		return;
	for (int i = 0; i < info->nOrderBy; i++)
		if (info->aOrderBy[i].iColumn < 0 ||
		    (size_t)info->aOrderBy[i].iColumn >= in->plan->cols.n)
			return;
	s = sqlite3_str_new(NULL);
	for (int i = 0; i < info->nOrderBy; i++)
		sqlite3_str_appendf(s, "%s%d", i ? "," : "", info->aOrderBy[i].iColumn);
	info->idxStr = sqlite3_str_finish(s);
	if (!info->idxStr)
		return;
	info->needToFreeIdxStr = 1;
	info->idxNum = IDX_GROUPED;
	info->orderByConsumed = 1;
}

/* A scan, or (idxNum = column + 1) the rows where that column equals the
 * constraint's value (vtab_index.c): SQLite still checks the constraint on
 * every row, so a lookup may return more rows, never fewer. */
static int in_best_index(sqlite3_vtab *vt, sqlite3_index_info *info)
{
	struct in_vtab *v = (struct in_vtab *)vt;
	const struct rt_plan_cols *cols = &v->in->plan->cols;

	info->estimatedCost = 1e6;
	info->estimatedRows = v->in->rows ? (sqlite3_int64)v->in->rows : 1000000;
	/* an input with computed columns is read in blocks only */
	for (int i = 0; !v->in->plan->ncomputed && i < info->nConstraint; i++) {
		const struct sqlite3_index_constraint *k = &info->aConstraint[i];
		const char *coll;
		if (!k->usable || k->op != SQLITE_INDEX_CONSTRAINT_EQ || k->iColumn < 0 ||
		    (size_t)k->iColumn >= cols->n)
			continue;
		coll = sqlite3_vtab_collation(info, i);
		if (cols->v[k->iColumn].type == CMN_COL_STRING && coll &&
		    sqlite3_stricmp(coll, "BINARY") != 0)
			continue; /* bytes are not NOCASE or RTRIM */
		info->idxNum = k->iColumn + 1;
		info->aConstraintUsage[i].argvIndex = 1;
		info->aConstraintUsage[i].omit = 0;
		info->estimatedCost = 20;
		info->estimatedRows = 10;
		break;
	}
	if (info->idxNum == 0)
		offer_groups(v->in, info);
	return SQLITE_OK;
}

static int in_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out)
{
	struct in_cursor *c = sqlite3_malloc(sizeof(*c));

	if (!c)
		return SQLITE_NOMEM;
	memset(c, 0, sizeof(*c));
	c->in = ((struct in_vtab *)vt)->in;
	if (c->in->plan->ncomputed) {
		struct cmn_err err = CMN_ERR_INIT;
		if (rt_ublock_init(&c->blk, c->in, &err) < 0) {
			sqlite3_free(c);
			return SQLITE_NOMEM;
		}
		c->blocks = true;
	}
	*out = &c->base;
	return SQLITE_OK;
}

static int in_close(sqlite3_vtab_cursor *cur)
{
	struct in_cursor *c = (struct in_cursor *)cur;

	if (c->blocks)
		rt_ublock_free(&c->blk);
	rt_group_free(&c->grp);
	sqlite3_free(cur);
	return SQLITE_OK;
}

static int fail(struct in_cursor *c, const struct cmn_err *err)
{
	sqlite3_free(c->base.pVtab->zErrMsg);
	c->base.pVtab->zErrMsg = sqlite3_mprintf("%s", err->msg);
	return SQLITE_ERROR;
}

/* The next row of the open frame: 1, 0 at its end, -1 on error. In block
 * mode rows come from the block, which is refilled from the frame (never
 * across frames: its values point into the frame). */
static int next_row(struct in_cursor *c, struct cmn_err *err)
{
	struct rt_ublock *b = &c->blk;
	size_t ncols = c->in->plan->cols.n;

	if (!c->blocks)
		return cmn_rowbatch_next(&c->r, c->vals, err);
	if (b->pos + 1 < b->n) {
		b->pos++;
		return 1;
	}
	b->n = b->pos = 0;
	b->evaluated = false;
	while (b->n < RT_BATCH_ROWS) {
		int rc = cmn_rowbatch_next(&c->r, b->vals + b->n * ncols, err);
		if (rc < 0)
			return -1;
		if (rc == 0)
			break;
		b->n++;
	}
	return b->n ? 1 : 0;
}

/* Moves to the next row, opening frames (and reading them) as needed. */
static int in_next(sqlite3_vtab_cursor *cur)
{
	struct in_cursor *c = (struct in_cursor *)cur;
	struct cmn_err err; /* per row: cmn_err_clear, not the 520-byte CMN_ERR_INIT */

	cmn_err_clear(&err);

	if (c->lookup || c->grouped) {
		int rc =
		    c->lookup
			? rt_lookup_next(c->in, &c->lk, &c->r, &c->frame, c->vals, &c->rowid, &err)
			: rt_group_next(c->in, &c->grp, &c->r, &c->frame, c->vals, &c->rowid, &err);
		if (rc < 0)
			return fail(c, &err);
		c->eof = rc == 0;
		return SQLITE_OK;
	}
	for (;;) {
		if (c->have_frame) {
			int rc = next_row(c, &err);
			if (rc < 0)
				return fail(c, &err);
			if (rc == 1) {
				c->rowid++;
				return SQLITE_OK;
			}
			c->have_frame = false;
			if (c->in->streaming) /* scanned once: this frame is done with */
				cmn_buf_free(&c->in->frames[c->frame]);
			c->frame++;
		}
		if (c->frame == c->in->nframes) {
			int rc = rt_input_pull(c->in, &err);
			if (rc < 0)
				return fail(c, &err);
			if (rc == 0) {
				c->eof = true;
				return SQLITE_OK;
			}
		}
		/* rt_input_add_frame validated it */
		if (cmn_rowbatch_open_validated(&c->r, c->in->frames[c->frame].data,
						c->in->frames[c->frame].len, &err) < 0)
			return fail(c, &err);
		c->have_frame = true;
	}
}

/* idxStr of a grouped scan ("2,0": column numbers, offer_groups) into cols:
 * how many, or 0 when it is not exactly such a list. SQLite took the
 * ORDER BY as consumed, so grouping on fewer columns would be wrong. */
static size_t group_cols(const struct rt_input *in, const char *s, size_t *cols)
{
	size_t n = 0;

	while (s && *s && n < RT_MAX_COLS) {
		char *end;
		long k = strtol(s, &end, 10);
		if (end == s || k < 0 || (size_t)k >= in->plan->cols.n || (*end && *end != ','))
			return 0;
		cols[n++] = (size_t)k;
		s = *end ? end + 1 : end;
	}
	return s && *s == '\0' ? n : 0;
}

static int in_filter(sqlite3_vtab_cursor *cur, int idx, const char *idxstr, int argc,
		     sqlite3_value **argv)
{
	struct in_cursor *c = (struct in_cursor *)cur;
	struct cmn_err err = CMN_ERR_INIT;

	c->lookup = false;
	c->grouped = false;
	rt_group_free(&c->grp);
	if (idx > 0 && argc == 1 && (size_t)idx <= c->in->plan->cols.n && !c->in->streaming &&
	    !c->blocks) {
		int rc = rt_lookup_start(c->in, (size_t)idx - 1, argv[0], &c->lk, &err);
		if (rc < 0)
			return fail(c, &err);
		if (rc == 1) {
			c->lookup = true;
			c->frame = SIZE_MAX; /* no frame open in c->r */
			c->eof = false;
			return in_next(cur);
		}
	}
	if (c->in->streaming && ++c->in->scans > 1) {
		cmn_err_set(&err, CMN_EINTERNAL, 0,
			    "input %s: scanned twice after it was streamed (a bug: please report)",
			    c->in->plan->table);
		return fail(c, &err);
	}
	if (idx == IDX_GROUPED) {
		size_t cols[RT_MAX_COLS], n = c->blocks ? 0 : group_cols(c->in, idxstr, cols);
		if (n == 0) {
			cmn_err_set(&err, CMN_EINTERNAL, 0, "input %s: bad grouping '%s'",
				    c->in->plan->table, idxstr ? idxstr : "");
			return fail(c, &err);
		}
		if (rt_group_start(c->in, cols, n, &c->grp, &err) < 0)
			return fail(c, &err);
		c->grouped = true;
		c->frame = SIZE_MAX; /* no frame open in c->r */
		c->eof = false;
		return in_next(cur);
	}
	c->frame = 0;
	c->have_frame = false;
	c->eof = false;
	c->rowid = 0;
	c->blk.n = c->blk.pos = 0;
	return in_next(cur);
}

static int in_eof(sqlite3_vtab_cursor *cur)
{
	return ((struct in_cursor *)cur)->eof;
}

/* Pushes a row value as SQLite sees it: BOOLEAN as 0/1, DATETIME as ms. */
void rt_sqlite_result_value(sqlite3_context *ctx, const struct cmn_value *v, enum cmn_col_type t);
void rt_sqlite_result_value(sqlite3_context *ctx, const struct cmn_value *v, enum cmn_col_type t)
{
	if (v->is_null) {
		sqlite3_result_null(ctx);
		return;
	}
	switch (t) {
	case CMN_COL_BIGINT:
	case CMN_COL_DATETIME:
		sqlite3_result_int64(ctx, v->v.i64);
		break;
	case CMN_COL_DOUBLE:
		sqlite3_result_double(ctx, v->v.f64);
		break;
	case CMN_COL_BOOLEAN:
		sqlite3_result_int(ctx, v->v.b ? 1 : 0);
		break;
	case CMN_COL_STRING:
		sqlite3_result_text64(ctx, v->v.bytes.ptr, v->v.bytes.len, SQLITE_TRANSIENT,
				      SQLITE_UTF8);
		break;
	case CMN_COL_BINARY:
		sqlite3_result_blob64(ctx, v->v.bytes.ptr, v->v.bytes.len, SQLITE_TRANSIENT);
		break;
	}
}

static int in_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int i)
{
	struct in_cursor *c = (struct in_cursor *)cur;

	const struct rt_plan_input *p = c->in->plan;

	if (i < 0 || (size_t)i >= p->cols.n + p->ncomputed)
		return SQLITE_RANGE;
	if ((size_t)i < p->cols.n) {
		const struct cmn_value *v =
		    c->blocks ? &c->blk.vals[c->blk.pos * p->cols.n + (size_t)i] : &c->vals[i];
		rt_sqlite_result_value(ctx, v, p->cols.v[i].type);
		return SQLITE_OK;
	}
	/* a computed column: the block's values are made on its first read */
	if (!c->blk.evaluated) {
		struct cmn_err err = CMN_ERR_INIT;
		if (rt_udfcols_eval(c->in, &c->blk, &err) < 0) {
			sqlite3_result_error(ctx, err.msg, -1);
			return SQLITE_ERROR;
		}
	}
	rt_udfcols_result(c->in, &c->blk, (size_t)i - p->cols.n, ctx);
	return SQLITE_OK;
}

static int in_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid)
{
	*rowid = ((struct in_cursor *)cur)->rowid;
	return SQLITE_OK;
}

static const sqlite3_module input_module = {
	.iVersion = 0,
	.xCreate = NULL, /* eponymous-only */
	.xConnect = in_connect,
	.xBestIndex = in_best_index,
	.xDisconnect = in_disconnect,
	.xDestroy = in_disconnect,
	.xOpen = in_open,
	.xClose = in_close,
	.xFilter = in_filter,
	.xNext = in_next,
	.xEof = in_eof,
	.xColumn = in_column,
	.xRowid = in_rowid,
};

int rt_vtab_register(sqlite3 *db, struct rt_input *inputs, size_t n, struct cmn_err *err)
{
	for (size_t i = 0; i < n; i++) {
		if (inputs[i].plan->cols.n + inputs[i].plan->ncomputed > RT_MAX_COLS)
			return cmn_err_set(err, CMN_EINVAL, 0, "input %s: too many columns",
					   inputs[i].plan->table);
		if (sqlite3_create_module(db, inputs[i].plan->table, &input_module, &inputs[i]) !=
		    SQLITE_OK)
			return cmn_err_set(err, CMN_EINTERNAL, 0, "sqlite3_create_module %s: %s",
					   inputs[i].plan->table, sqlite3_errmsg(db));
	}
	return 0;
}
