/* scheduler/job_view.c — what the API shows of a job (status, result
 * pages as JSON lines or CSV, the synchronous answer) and the statement
 * handler that compiles and submits jobs. See job.h. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cleanup.h"
#include "common/rowfmt.h"
#include "common/jsontext.h"
#include "scheduler/job_int.h"

static const char *state_name(enum job_state s)
{
	static const char *const n[] = { "queued", "running", "succeeded", "failed", "cancelled" };
	return n[s];
}

/* MaxCompute-style error codes of a failed job. */
static const char *error_code(const struct sch_job *job)
{
	if (job->state == JOB_CANCELLED)
		return "Cancelled";
	switch (job->err.code) {
	case CMN_ELIMIT:
		return "LimitExceeded";
	case CMN_EDENIED:
		return "NodeViolation";
	case CMN_ETIMEOUT:
		return "Timeout";
	case CMN_ECONFLICT:
		return "Conflict";
	case CMN_EINVAL:
		return "JobFailed";
	case CMN_EUNAVAIL:
		return "ServiceUnavailable";
	default:
		return "InternalError";
	}
}

static const char *kind_name(enum sch_stage_kind k)
{
	return k == SCH_STAGE_MAP ? "MAP" : k == SCH_STAGE_REDUCE ? "REDUCE" : "FINAL";
}

static json_t *columns_json(const struct sch_job *job)
{
	json_t *a = json_array();
	const struct sch_plan_cols *out;
	if (!job->c.has_plan || !job->c.plan.n)
		return a;
	out = &job->c.plan.v[job->c.plan.n - 1].out;
	for (size_t i = 0; a && i < out->n; i++)
		json_array_append_new(a, json_pack("{s:s, s:s}", "name", out->v[i].name, "type",
						   sch_q_type_name(out->v[i].type)));
	return a;
}

static bool is_write(const struct sch_job *job)
{
	return job->c.stmt &&
	       (job->c.stmt->kind == SCH_Q_INSERT || job->c.stmt->kind == SCH_Q_CTAS);
}

/* under jobs->mu */
static json_t *status_locked(struct sch_job *job)
{
	json_t *st = json_array(), *j;
	uint64_t cpu = 0, mem = 0;

	for (size_t i = 0; st && i < job->nstages; i++) {
		const struct job_stage_stat *s = &job->stages[i];
		cpu += s->cpu_ns;
		if (s->peak_memory > mem)
			mem = s->peak_memory;
		json_array_append_new(
		    st,
		    json_pack("{s:i, s:s, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "index",
			      (int)i, "kind", kind_name(job->c.plan.v[i].kind), "nodes",
			      (int)s->nodes, "nodesDone", (int)s->done, "rowsIn",
			      (json_int_t)s->rows_in, "rowsOut", (json_int_t)s->rows_out,
			      "bytesOut", (json_int_t)s->bytes_out, "udfCalls",
			      (json_int_t)s->udf_calls, "cpuMs", (json_int_t)(s->cpu_ns / 1000000),
			      "peakMemoryBytes", (json_int_t)s->peak_memory, "wallMs",
			      (json_int_t)(s->wall_ns / 1000000)));
	}
	j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:o, s:{s:I, s:I, s:I}}", "id", job->id,
		      "project", job->project, "owner", job->who.name, "status",
		      state_name(job->state), "sql", job->sql, "createdAt",
		      (json_int_t)job->created_ms, "stages", st ? st : json_array(), "usage",
		      "cpuMs", (json_int_t)(cpu / 1000000), "peakMemoryBytes", (json_int_t)mem,
		      "bytesRead", (json_int_t)job->bytes_read);
	if (!j)
		return NULL;
	if (job->started_ms)
		json_object_set_new(j, "startedAt", json_integer(job->started_ms));
	if (job->state > JOB_RUNNING && job->nstages)
		json_object_set_new(
		    j, "timings",
		    json_pack("{s:I, s:I, s:I, s:I}", "overlayMs", (json_int_t)job->overlay_ms,
			      "startNodesMs", (json_int_t)job->start_ms, "runMs",
			      (json_int_t)job->run_ms, "commitMs", (json_int_t)job->commit_ms));
	if (job->finished_ms) {
		json_object_set_new(j, "finishedAt", json_integer(job->finished_ms));
		if (job->started_ms)
			json_object_set_new(j, "elapsedMs",
					    json_integer(job->finished_ms - job->started_ms));
	}
	if (job->state == JOB_FAILED || job->state == JOB_CANCELLED)
		json_object_set_new(
		    j, "error",
		    json_pack("{s:s, s:s}", "code", error_code(job), "message", job->err.msg));
	if (job->state == JOB_SUCCEEDED && is_write(job))
		json_object_set_new(j, "written",
				    json_pack("{s:s, s:I}", "table", job->c.stmt->name.name, "rows",
					      (json_int_t)job->inserted_rows));
	else if (job->state == JOB_SUCCEEDED)
		json_object_set_new(j, "result",
				    json_pack("{s:o, s:I, s:I}", "columns", columns_json(job),
					      "rows", (json_int_t)job->result_rows, "bytes",
					      (json_int_t)job->result_bytes));
	return j;
}

json_t *sch_job_status(struct sch_job *job)
{
	json_t *j;
	pthread_mutex_lock(&job->jobs->mu);
	j = status_locked(job);
	pthread_mutex_unlock(&job->jobs->mu);
	return j;
}

/* ---- values ------------------------------------------------------------ */

static void datetime_text(int64_t ms, char *out, size_t len)
{
	time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	int frac = (int)(ms - (int64_t)t * 1000);
	struct tm tm;
	if (!gmtime_r(&t, &tm)) {
		snprintf(out, len, "%" PRId64, ms);
		return;
	}
	snprintf(out, len, "%04d-%02d-%02d %02d:%02d:%02d.%03d", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

static char *base64(const char *p, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);
	if (out)
		EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)p, (int)n);
	return out;
}

static json_t *value_json(const struct cmn_col *c, const struct cmn_value *v)
{
	char tmp[64];
	switch (v->is_null ? 0 : c->type) {
	case 0:
		return json_null();
	case CMN_COL_BIGINT:
		return json_integer(v->v.i64);
	case CMN_COL_DOUBLE:
		if (isfinite(v->v.f64))
			return json_real(v->v.f64);
		return json_string(isnan(v->v.f64) ? "NaN"
				   : v->v.f64 > 0  ? "Infinity"
						   : "-Infinity");
	case CMN_COL_BOOLEAN:
		return json_boolean(v->v.b);
	case CMN_COL_STRING:
		return json_stringn(v->v.bytes.ptr, v->v.bytes.len);
	case CMN_COL_DATETIME:
		datetime_text(v->v.i64, tmp, sizeof(tmp));
		return json_string(tmp);
	default: {
		char *b = base64(v->v.bytes.ptr, v->v.bytes.len);
		json_t *s = b ? json_string(b) : NULL;
		free(b);
		return s;
	}
	}
}

/* JSON text of one value, the same as json_dumps of value_json's answer
 * (jsontext.h), without a tree per row. */
static int value_text(struct cmn_buf *out, const struct cmn_col *c, const struct cmn_value *v,
		      struct cmn_err *err)
{
	char tmp[64];
	switch (v->is_null ? 0 : c->type) {
	case 0:
		return cmn_buf_append(out, "null", 4, err);
	case CMN_COL_BIGINT:
		return cmn_json_int(out, v->v.i64, err);
	case CMN_COL_DOUBLE:
		if (isfinite(v->v.f64))
			return cmn_json_double(out, v->v.f64, err);
		return cmn_buf_append_str(out,
					  isnan(v->v.f64) ? "\"NaN\""
					  : v->v.f64 > 0  ? "\"Infinity\""
							  : "\"-Infinity\"",
					  err);
	case CMN_COL_BOOLEAN:
		return cmn_buf_append_str(out, v->v.b ? "true" : "false", err);
	case CMN_COL_STRING:
		return cmn_json_string(out, v->v.bytes.ptr, v->v.bytes.len, err);
	case CMN_COL_DATETIME:
		datetime_text(v->v.i64, tmp, sizeof(tmp));
		return cmn_json_string(out, tmp, strlen(tmp), err);
	default: {
		char *b = base64(v->v.bytes.ptr, v->v.bytes.len);
		int rc = b ? cmn_json_string(out, b, strlen(b), err)
			   : cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		free(b);
		return rc;
	}
	}
}

static int csv_field(struct cmn_buf *out, const char *p, size_t n, struct cmn_err *err)
{
	bool quote = n == 0 || strcspn(p, ",\"\r\n") < n || p[0] == ' ' || p[n - 1] == ' ';
	if (!quote)
		return cmn_buf_append(out, p, n, err);
	if (cmn_buf_append(out, "\"", 1, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if ((p[i] == '"' && cmn_buf_append(out, "\"", 1, err) < 0) ||
		    cmn_buf_append(out, &p[i], 1, err) < 0)
			return -1;
	return cmn_buf_append(out, "\"", 1, err);
}

/* CSV: NULL is an empty field, the empty string is "". */
static int value_csv(struct cmn_buf *out, const struct cmn_col *c, const struct cmn_value *v,
		     struct cmn_err *err)
{
	char tmp[64];
	if (v->is_null)
		return 0;
	switch (c->type) {
	case CMN_COL_BIGINT:
		return cmn_buf_printf(out, err, "%" PRId64, v->v.i64);
	case CMN_COL_DOUBLE:
		return cmn_buf_printf(out, err, "%.17g", v->v.f64);
	case CMN_COL_BOOLEAN:
		return cmn_buf_append_str(out, v->v.b ? "true" : "false", err);
	case CMN_COL_DATETIME:
		datetime_text(v->v.i64, tmp, sizeof(tmp));
		return cmn_buf_append_str(out, tmp, err);
	case CMN_COL_STRING:
		return csv_field(out, v->v.bytes.ptr, v->v.bytes.len, err);
	default: {
		char *b = base64(v->v.bytes.ptr, v->v.bytes.len);
		int rc = b ? cmn_buf_append_str(out, b, err)
			   : cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		free(b);
		return rc;
	}
	}
}

static json_t *row_json(const struct cmn_rowbatch_reader *rd, const struct cmn_value *vals)
{
	json_t *a = json_array();
	for (size_t c = 0; a && c < rd->ncols; c++)
		json_array_append_new(a, value_json(&rd->cols[c], &vals[c]));
	return a;
}

struct sch_result_cursor {
	struct sch_job *job; /* a reference */
	const uint8_t *base; /* the result, mapped */
	struct cmn_rowbatch_reader rd;
	struct cmn_value vals[CMN_ROW_MAX_COLS];
	size_t batch;          /* the next batch to open */
	bool open;             /* rd has a batch open */
	uint64_t skip, left;   /* rows still to skip, still to give */
	bool csv, header_done; /* the text form of sch_result_fill */
};

struct sch_result_cursor *sch_job_result_open(struct sch_job *job, uint64_t offset, uint64_t limit,
					      bool csv, struct cmn_err *err)
{
	struct sch_result_cursor *c;
	enum job_state state;

	pthread_mutex_lock(&job->jobs->mu);
	state = job->state;
	if (state == JOB_SUCCEEDED)
		job->refs++;
	pthread_mutex_unlock(&job->jobs->mu);
	if (state != JOB_SUCCEEDED) {
		cmn_err_set(err, CMN_ECONFLICT, 0, "job %s has no result: it is %s", job->id,
			    state_name(state));
		return NULL;
	}
	/* from here on the batches never change: the job has finished, and
	 * the reference keeps them */
	c = calloc(1, sizeof(*c));
	if (!c || job_result_map(&job->result, &c->base, err) < 0) {
		if (!c)
			cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		free(c);
		sch_job_put(job);
		return NULL;
	}
	c->job = job;
	c->skip = offset;
	c->left = limit;
	c->csv = csv;
	return c;
}

void sch_result_close(struct sch_result_cursor *c)
{
	if (!c)
		return;
	job_result_unmap(&c->job->result, c->base);
	sch_job_put(c->job);
	free(c);
}

/* The next row: 1 with it in c->rd / c->vals, 0 at the end, -1 on error. */
static int cursor_next(struct sch_result_cursor *c, struct cmn_err *err)
{
	const struct job_result *res = &c->job->result;

	while (c->left > 0) {
		if (!c->open) {
			const struct job_rbatch *kb;
			if (c->batch == res->n)
				return 0;
			kb = &res->v[c->batch++];
			if (c->skip >= kb->nrows) { /* a whole batch skipped without a look */
				c->skip -= kb->nrows;
				continue;
			}
			/* take_frames validated every kept batch */
			if (cmn_rowbatch_open_validated(&c->rd, c->base + kb->off, kb->len, err) <
			    0)
				return -1;
			c->open = true;
		}
		int r = cmn_rowbatch_next(&c->rd, c->vals, err);
		if (r < 0)
			return -1;
		if (r == 0) {
			c->open = false;
			continue;
		}
		if (c->skip) {
			c->skip--;
			continue;
		}
		c->left--;
		return 1;
	}
	return 0;
}

/* Calls fn for rows [offset, offset+limit) of a succeeded job's result;
 * *rows counts them. CMN_ECONFLICT when the job has not succeeded. */
typedef int (*row_fn)(void *ctx, const struct cmn_rowbatch_reader *rd, const struct cmn_value *vals,
		      struct cmn_err *err);

static int each_row(struct sch_job *job, uint64_t offset, uint64_t limit, row_fn fn, void *ctx,
		    uint64_t *rows, struct cmn_err *err)
{
	struct sch_result_cursor *c = sch_job_result_open(job, offset, limit, false, err);
	int rc;

	*rows = 0;
	if (!c)
		return -1;
	while ((rc = cursor_next(c, err)) == 1) {
		(*rows)++;
		if (fn(ctx, &c->rd, c->vals, err) < 0) {
			rc = -1;
			break;
		}
	}
	sch_result_close(c);
	return rc;
}

static int row_text(struct cmn_buf *out, bool csv, const struct cmn_rowbatch_reader *rd,
		    const struct cmn_value *vals, struct cmn_err *err)
{
	if (csv) {
		for (size_t c = 0; c < rd->ncols; c++)
			if ((c && cmn_buf_append(out, ",", 1, err) < 0) ||
			    value_csv(out, &rd->cols[c], &vals[c], err) < 0)
				return -1;
		return cmn_buf_append(out, "\r\n", 2, err);
	}
	if (cmn_buf_append_small(out, "[", 1, err) < 0)
		return -1;
	for (size_t c = 0; c < rd->ncols; c++)
		if ((c && cmn_buf_append_small(out, ",", 1, err) < 0) ||
		    value_text(out, &rd->cols[c], &vals[c], err) < 0)
			return -1;
	return cmn_buf_append_small(out, "]\n", 2, err);
}

int sch_result_fill(struct sch_result_cursor *c, struct cmn_buf *out, size_t want,
		    struct cmn_err *err)
{
	const struct sch_job *job = c->job;
	int rc;

	if (c->csv && !c->header_done && job->c.has_plan) {
		const struct sch_plan_cols *pc = &job->c.plan.v[job->c.plan.n - 1].out;
		for (size_t i = 0; i < pc->n; i++)
			if ((i && cmn_buf_append(out, ",", 1, err) < 0) ||
			    csv_field(out, pc->v[i].name, strlen(pc->v[i].name), err) < 0)
				return -1;
		if (cmn_buf_append(out, "\r\n", 2, err) < 0)
			return -1;
	}
	c->header_done = true;
	while (out->len < want) {
		rc = cursor_next(c, err);
		if (rc <= 0)
			return rc;
		if (row_text(out, c->csv, &c->rd, c->vals, err) < 0)
			return -1;
	}
	return 1;
}

static int row_array(void *ctx, const struct cmn_rowbatch_reader *rd, const struct cmn_value *vals,
		     struct cmn_err *err)
{
	json_t *a = row_json(rd, vals);
	if (!a || json_array_append_new(ctx, a) < 0)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	return 0;
}

json_t *sch_job_answer(struct sch_job *job, uint64_t max_rows)
{
	json_t *j = sch_job_status(job), *names, *rows, *cols;
	struct cmn_err err = CMN_ERR_INIT;
	uint64_t n = 0;

	if (!j || strcmp(json_string_value(json_object_get(j, "status")), "succeeded") != 0)
		return j;
	if (is_write(job)) {
		json_object_set_new(j, "columns", json_pack("[s]", "result"));
		json_object_set_new(j, "rows", json_pack("[[s]]", "OK"));
		return j;
	}
	rows = json_array();
	if (!rows || each_row(job, 0, max_rows, row_array, rows, &n, &err) < 0) {
		json_decref(rows);
		json_object_set_new(j, "error", json_pack("{s:s}", "message", err.msg));
		return j;
	}
	names = json_array();
	cols = json_object_get(json_object_get(j, "result"), "columns");
	for (size_t i = 0; i < json_array_size(cols); i++)
		json_array_append(names, json_object_get(json_array_get(cols, i), "name"));
	json_object_set_new(j, "columns", names);
	json_object_set_new(j, "rows", rows);
	json_object_set_new(j, "truncated", json_boolean(job->result_rows > n));
	return j;
}

/* ---- the statement handler -------------------------------------------- */

int sch_job_stmt_handler(struct sch_stmt_ctx *ctx, const char *sql, size_t len, json_t **result,
			 struct cmn_err *err)
{
	struct sch_job_request req = sch_job_request_of(ctx, 2);
	struct sch_job_origin o = { ctx->principal, ctx->project, ctx->request_id, ctx->source_ip,
				    NULL };
	struct sch_jobs *jobs = sch_jobs_default();
	struct sch_job_compiled c;
	char id[32], *text;

	*result = NULL;
	if (!jobs)
		return cmn_err_set(err, CMN_EUNAVAIL, 0, "this server runs no jobs");
	if (sch_job_compile(&req, sql, len, &c, err) < 0)
		return -1;
	if (!c.stmt) { /* only SETs: nothing runs */
		sch_job_compiled_free(&c);
		*result = json_pack("{s:[s], s:[[s]]}", "columns", "result", "rows", "OK");
		return *result ? 1 : cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	}
	if (c.stmt->kind != SCH_Q_SELECT && c.stmt->kind != SCH_Q_INSERT &&
	    c.stmt->kind != SCH_Q_CTAS) {
		int line = c.stmt->line, col = c.stmt->col;
		sch_job_compiled_free(&c);
		return cmn_err_set(err, CMN_EINVAL, 0,
				   "%d:%d: this statement is not supported here", line, col);
	}
	text = strndup(sql, len);
	if (!text) {
		sch_job_compiled_free(&c);
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	}
	if (sch_job_submit(jobs, &c, text, &o, id, sizeof(id), err) < 0) {
		free(text);
		sch_job_compiled_free(&c);
		return -1;
	}
	free(text);
	*result = json_pack("{s:s, s:s, s:b}", "id", id, "status", "queued", "job", 1);
	return *result ? 1 : cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
}
