/* runtime/stage_udfcols.c — computed columns: scalar UDFs evaluated batch
 * by batch over an input's rows (docs/stage-plan.md "Computed columns").
 *
 * Why: SQLite calls a scalar function once per row, one protected Lua call
 * each; rt_udf_call_batch runs up to 128 rows per protected call, close to
 * what a plain Lua loop costs. The planner turns the calls it can prove are
 * evaluated for every row anyway into columns of the input; the vtab
 * (vtab_input.c) decodes such an input in blocks of up to RT_BATCH_ROWS rows
 * and asks for a block's values the first time the SQL reads one of them.
 * A block is evaluated once per scan (a rescanned input, the inner side of a
 * join, calls again, as SQLite's per-row calls would).
 *
 * Semantics kept from the per-row path:
 *   - errors are per row: a batch that fails is run again row by row, and
 *     each row keeps its value or its error ("SCRIPT:LINE: message", a wrong
 *     type); only a row the SQL reads reports it, so a row that a WHERE drops
 *     never fails the stage;
 *   - a limit (memory, instructions, CPU, output, string, pattern) is fatal
 *     and named, as before, for any evaluated row; a batch's instruction
 *     budget is the per-call limit times its rows (udf_abi.h), and a batch
 *     that trips a limit is re-run row by row, so what trips is always one
 *     row's own limit (a batch keeping 128 big strings alive cannot trip the
 *     memory limit where rows one by one would not);
 *   - the CPU budget bounds each batch call; a batch that trips it halves
 *     the batch size of the rest of the stage, and its rows are re-run one
 *     by one, each with the per-call budget;
 *   - print() output goes to the job log once per row (a failed batch's
 *     output is dropped; its rows print again when re-run).
 * Ownership: the cells and their strings (the arena) belong to the scan's
 * block and are reused block after block.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "runtime/stage.h"

struct rt_ucols_scratch {
	struct rt_value *args[RT_PLAN_MAX_COMPUTED]; /* RT_BATCH_ROWS rows of nargs */
	struct rt_value out[RT_BATCH_ROWS];
	size_t batch; /* rows per batch call */
};

static int scratch_get(struct rt_input *in, struct rt_ucols_scratch **out, struct cmn_err *err)
{
	const struct rt_plan_input *p = in->plan;
	struct rt_ucols_scratch *s = in->scratch;

	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		in->scratch = s;
		s->batch = RT_BATCH_ROWS;
		for (size_t k = 0; k < p->ncomputed; k++) {
			size_t n = (size_t)(p->computed[k].nargs ? p->computed[k].nargs : 1);
			s->args[k] = calloc(RT_BATCH_ROWS * n, sizeof(struct rt_value));
			if (!s->args[k])
				return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		}
	}
	*out = s;
	return 0;
}

int rt_ublock_init(struct rt_ublock *b, const struct rt_input *in, struct cmn_err *err)
{
	size_t ncols = in->plan->cols.n ? in->plan->cols.n : 1;
	size_t ncomp = in->plan->ncomputed ? in->plan->ncomputed : 1;

	memset(b, 0, sizeof(*b));
	cmn_buf_init(&b->arena, 0);
	b->vals = calloc(RT_BATCH_ROWS * ncols, sizeof(*b->vals));
	b->cells = calloc(RT_BATCH_ROWS * ncomp, sizeof(*b->cells));
	if (!b->vals || !b->cells) {
		rt_ublock_free(b);
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	}
	return 0;
}

void rt_ublock_free(struct rt_ublock *b)
{
	free(b->vals);
	free(b->cells);
	cmn_buf_free(&b->arena);
	memset(b, 0, sizeof(*b));
}

/* The value as SQLite would hand it to a scalar function: BOOLEAN and
 * DATETIME are INTEGERs there. */
static void to_rt(const struct cmn_value *v, enum cmn_col_type t, struct rt_value *out)
{
	if (v->is_null) {
		out->type = RT_T_NULL;
		return;
	}
	switch (t) {
	case CMN_COL_DOUBLE:
		out->type = RT_T_DOUBLE;
		out->v.d = v->v.f64;
		break;
	case CMN_COL_BOOLEAN:
		out->type = RT_T_BIGINT;
		out->v.i = v->v.b ? 1 : 0;
		break;
	case CMN_COL_STRING:
	case CMN_COL_BINARY:
		out->type = t == CMN_COL_STRING ? RT_T_STRING : RT_T_BINARY;
		out->v.s.p = v->v.bytes.ptr ? v->v.bytes.ptr : "";
		out->v.s.len = v->v.bytes.len;
		break;
	default: /* BIGINT, DATETIME */
		out->type = RT_T_BIGINT;
		out->v.i = v->v.i64;
		break;
	}
}

/* Stores v (a string copied into the arena) as the cell. */
static int cell_set(struct rt_ublock *b, struct rt_ucell *c, const struct rt_value *v,
		    struct cmn_err *err)
{
	c->v = *v;
	c->failed = false;
	if (v->type == RT_T_STRING || v->type == RT_T_BINARY) {
		c->off = b->arena.len;
		c->v.v.s.p = NULL; /* fixed up once the arena stops moving */
		if (v->v.s.len && cmn_buf_append(&b->arena, v->v.s.p, v->v.s.len, err) < 0)
			return -1;
	}
	return 0;
}

static int cell_fail(struct rt_ublock *b, struct rt_ucell *c, const struct cmn_err *e,
		     struct cmn_err *err)
{
	size_t len = strnlen(e->msg, sizeof(e->msg));

	c->failed = true;
	c->v.type = RT_T_STRING;
	c->v.v.s.p = NULL;
	c->v.v.s.len = len;
	c->off = b->arena.len;
	return cmn_buf_append(&b->arena, e->msg, len, err);
}

/* A limit ends the stage: recorded (named) for the node's exit. */
static int limit_fail(struct rt_stage *st, struct rt_udf *u, const struct cmn_err *e,
		      struct cmn_err *err)
{
	rt_udf_drain_log(u);
	rt_stage_udf_fail(st, e, rt_udf_limit_hit(u));
	*err = *e;
	return -1;
}

/* Rows first..first+m-1 of the block one by one, each its own call. */
static int per_row(struct rt_input *in, size_t k, struct rt_udf *u, const struct rt_value *args,
		   size_t m, struct rt_ublock *b, size_t first, struct cmn_err *err)
{
	const struct rt_plan_computed *pc = &in->plan->computed[k];
	size_t ncomp = in->plan->ncomputed;
	struct rt_stage *st = in->stage;
	struct cmn_err e;

	for (size_t i = 0; i < m; i++) {
		struct rt_ucell *c = &b->cells[(first + i) * ncomp + k];
		struct rt_value out;
		int rc;
		cmn_err_clear(&e);
		rt_stage_cpu_rearm(st);
		rc = rt_udf_call(u, args + i * (size_t)pc->nargs, pc->nargs, &out, &e);
		rt_stage_cpu_disarm(st);
		if (rc < 0 && rt_udf_limit_hit(u) != RT_LIMIT_NONE)
			return limit_fail(st, u, &e, err);
		rt_udf_drain_log(u);
		if ((rc < 0 ? cell_fail(b, c, &e, err) : cell_set(b, c, &out, err)) < 0)
			return -1;
	}
	return 0;
}

/* Computed column k over the block's rows (args ready). */
static int eval_col(struct rt_input *in, size_t k, struct rt_ucols_scratch *s, struct rt_ublock *b,
		    struct cmn_err *err)
{
	const struct rt_plan_computed *pc = &in->plan->computed[k];
	size_t ncomp = in->plan->ncomputed, nargs = (size_t)pc->nargs;
	struct rt_stage *st = in->stage;
	struct rt_udf *u = rt_udfs_get(st, pc->function);
	struct cmn_err e;

	if (!u)
		return cmn_err_set(err, CMN_EINTERNAL, 0, "computed %s: function not open",
				   pc->name);
	for (size_t off = 0; off < b->n;) {
		size_t m = b->n - off < s->batch ? b->n - off : s->batch;
		const struct rt_value *args = s->args[k] + off * nargs;
		int rc;
		cmn_err_clear(&e);
		st->udf_calls += m;
		rt_stage_cpu_arm_batch(st);
		rc = rt_udf_call_batch(u, args, pc->nargs, m, s->out, &e);
		rt_stage_cpu_disarm(st);
		if (rc == 0) {
			rt_udf_drain_log(u);
			for (size_t i = 0; i < m; i++)
				if (cell_set(b, &b->cells[(off + i) * ncomp + k], &s->out[i], err) <
				    0)
					return -1;
		} else {
			if (rt_udf_limit_hit(u) == RT_LIMIT_CPU && s->batch > 1)
				s->batch /= 2;
			cmn_buf_reset(rt_lua_log(rt_udf_lua(u)));
			if (per_row(in, k, u, args, m, b, off, err) < 0)
				return -1;
		}
		off += m;
	}
	return 0;
}

/* Every computed column's arguments from the block's decoded rows. */
static void fill_args(const struct rt_input *in, struct rt_ucols_scratch *s,
		      const struct rt_ublock *b)
{
	const struct rt_plan_input *p = in->plan;

	for (size_t k = 0; k < p->ncomputed; k++) {
		const struct rt_plan_computed *pc = &p->computed[k];
		for (size_t r = 0; r < b->n; r++) {
			const struct cmn_value *vals = b->vals + r * p->cols.n;
			struct rt_value *row = s->args[k] + r * (size_t)pc->nargs;
			for (int j = 0; j < pc->nargs; j++) {
				const struct rt_plan_carg *a = &pc->args[j];
				if (a->col < 0)
					row[j] = a->lit;
				else
					to_rt(&vals[a->col], p->cols.v[a->col].type, &row[j]);
			}
		}
	}
}

int rt_udfcols_eval(struct rt_input *in, struct rt_ublock *b, struct cmn_err *err)
{
	const struct rt_plan_input *p = in->plan;
	struct rt_ucols_scratch *s = NULL;
	size_t ncells = b->n * p->ncomputed;

	if (b->evaluated)
		return 0;
	if (scratch_get(in, &s, err) < 0)
		return -1;
	cmn_buf_reset(&b->arena);
	fill_args(in, s, b);
	for (size_t k = 0; k < p->ncomputed; k++)
		if (eval_col(in, k, s, b, err) < 0)
			return cmn_err_wrap(err, "input %s", p->table);
	for (size_t i = 0; i < ncells; i++) {
		struct rt_ucell *c = &b->cells[i];
		if (c->failed || c->v.type == RT_T_STRING || c->v.type == RT_T_BINARY)
			c->v.v.s.p = c->v.v.s.len ? (const char *)b->arena.data + c->off : "";
	}
	b->evaluated = true;
	return 0;
}

void rt_udfcols_free(struct rt_input *in)
{
	if (!in->scratch)
		return;
	for (size_t k = 0; k < RT_PLAN_MAX_COMPUTED; k++)
		free(in->scratch->args[k]);
	free(in->scratch);
	in->scratch = NULL;
}

void rt_udfcols_result(struct rt_input *in, const struct rt_ublock *b, size_t k,
		       sqlite3_context *ctx)
{
	const struct rt_ucell *c = &b->cells[b->pos * in->plan->ncomputed + k];
	const struct rt_value *v = &c->v;

	if (c->failed) {
		struct cmn_err e = CMN_ERR_INIT;
		cmn_err_set(&e, CMN_EINVAL, 0, "%.*s", (int)v->v.s.len, v->v.s.p);
		rt_stage_udf_fail(in->stage, &e, RT_LIMIT_NONE);
		sqlite3_result_error(ctx, e.msg, -1);
		return;
	}
	rt_sqlite_result_rt(ctx, v);
}
