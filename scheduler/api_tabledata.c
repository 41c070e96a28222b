/* scheduler/api_tabledata.c — bulk table data over the API:
 *   PUT /v1/projects/{p}/tables/{t}/data[?mode=append|overwrite][&partition=ds=x/hr=1]
 *       body: CSV with a header line (default), or JSON lines with
 *       Content-Type application/x-ndjson
 *   GET /v1/projects/{p}/tables/{t}/data[?partition=...][&limit=N][&columns=a,b]
 *       JSON lines (default) or CSV with Accept: text/csv
 * Order of checks: the project exists, its IP whitelist, the table, every
 * access decided by sch_authz_decide (upload: odps:Update on the table;
 * download: odps:Select on every column read and, when the project set
 * odps.security.enabledownloadprivilege=true, odps:Download on the table),
 * each decision audited. Then the body is parsed whole (a bad value is a
 * 400 naming line and column, and nothing is written) and handed to
 * tabledata.h.
 *
 * Locking: route handlers run under api->lock, and tabledata.h takes that
 * lock itself around its catalog statements (never across storage I/O), so
 * the handler releases it for the storage call and takes it back before it
 * replies or audits. Nothing of r is shared with other requests, and the
 * decisions were taken before: a grant revoked during the transfer does
 * not stop it, like any request already authorized. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "common/cleanup.h"
#include "common/jsontext.h"
#include "common/parse.h"
#include "scheduler/api.h"
#include "scheduler/authz.h"
#include "scheduler/tabledata.h"
#include "scheduler/tables.h"

struct td_req {
	struct sch_api_req *r;
	const char *project;
	struct sch_tabledef *t;
	size_t nd; /* data columns */
	struct evkeyvalq q;
	const char *partition;
};

/* ---- helpers ------------------------------------------------------------ */

/* Decides one access; replies 403 naming the rule and returns false on a
 * deny. */
static bool decide(struct td_req *q, const char *action, const char *column)
{
	struct sch_authz_resource res = { q->t->project, SCH_OBJ_TABLE, q->t->name, column };
	struct sch_authz_context ctx = { .project = q->project,
					 .source_ip = q->r->source_ip,
					 .task_type = "SQL" };

	return sch_api_authorize(q->r, action, &res, &ctx);
}

/* ---- PUT .../data ------------------------------------------------------------ */

/* 1: JSON lines, 0: CSV, -1: a type this route does not read. CSV is the
 * default: curl --data-binary sends form-urlencoded, others nothing. */
static int body_format(const char *ctype)
{
	static const char *const jsonl[] = { "application/x-ndjson", "application/jsonl",
					     "application/json-lines", "application/json" };
	static const char *const csv[] = { "text/csv", "text/plain", "application/octet-stream",
					   "application/x-www-form-urlencoded" };

	if (!ctype || !*ctype)
		return 0;
	for (size_t i = 0; i < CMN_ARRAY_SIZE(jsonl); i++)
		if (strncasecmp(ctype, jsonl[i], strlen(jsonl[i])) == 0 &&
		    (!ctype[strlen(jsonl[i])] || ctype[strlen(jsonl[i])] == ';'))
			return 1;
	for (size_t i = 0; i < CMN_ARRAY_SIZE(csv); i++)
		if (strncasecmp(ctype, csv[i], strlen(csv[i])) == 0 &&
		    (!ctype[strlen(csv[i])] || ctype[strlen(csv[i])] == ';'))
			return 0;
	return -1;
}

/* Parses the body and writes it, with api->lock released: the parse of a
 * large body would hold every other request back, and tabledata.h takes
 * the lock itself. Only q's own copies are used meanwhile. *bad_input: the
 * body was refused (nothing was written). */
static int parse_and_write(struct td_req *q, enum sch_tabledata_mode mode, bool jsonl,
			   uint64_t *rows, bool *bad_input, struct cmn_err *err)
{
	struct sch_api *api = q->r->api;
	struct sch_tabledata td = { api->cat, api->storage, &api->lock };
	struct sch_tabledata_rows body;
	int rc;

	pthread_mutex_unlock(&api->lock);
	rc = sch_tabledata_parse_body(q->t, jsonl, (const char *)q->r->body, q->r->body_len, &body,
				      err);
	*bad_input = rc < 0;
	if (rc == 0)
		rc = sch_tabledata_write(&td, q->t->project, q->t->name, mode, q->partition, body.v,
					 body.n, rows, err);
	sch_tabledata_rows_free(&body);
	pthread_mutex_lock(&api->lock);
	return rc;
}

static void upload(struct td_req *q)
{
	struct sch_api_req *r = q->r;
	const char *mode_s = evhttp_find_header(&q->q, "mode");
	const char *ctype =
	    evhttp_find_header(evhttp_request_get_input_headers(r->req), "Content-Type");
	enum sch_tabledata_mode mode = SCH_TD_APPEND;
	struct cmn_err err = CMN_ERR_INIT;
	uint64_t rows = 0;
	bool bad_input = false;

	if (mode_s && strcmp(mode_s, "overwrite") == 0) {
		mode = SCH_TD_OVERWRITE;
	} else if (mode_s && strcmp(mode_s, "append") != 0) {
		sch_api_reply_error(r, 400, "InvalidArgument", "mode is append or overwrite");
		return;
	}
	if (!decide(q, "odps:Update", NULL))
		return;
	if (body_format(ctype) < 0) {
		sch_api_reply_error(r, 400, "InvalidArgument",
				    "Content-Type %.64s: send text/csv or application/x-ndjson",
				    ctype);
		return;
	}
	if (parse_and_write(q, mode, body_format(ctype) == 1, &rows, &bad_input, &err) < 0) {
		if (bad_input && err.code == CMN_EINVAL)
			sch_api_reply_error(r, 400, "InvalidData", "%s", err.msg);
		else
			sch_api_reply_err(r, &err);
		return;
	}
	sch_api_reply_json(r, 200,
			   json_pack("{s:s, s:s, s:s?, s:s, s:I}", "project", q->t->project,
				     "table", q->t->name, "partition", q->partition, "mode",
				     mode == SCH_TD_APPEND ? "append" : "overwrite", "rows",
				     (json_int_t)rows));
}

/* ---- GET .../data -------------------------------------------------------------- */

struct dl {
	const struct td_req *q;
	bool csv;
	uint64_t limit, rows; /* limit 0: none */
	size_t max_bytes;
	bool done, too_big;
	struct cmn_buf out, tmp;
	/* partition filter: the read's trailing columns, compared as text */
	size_t nout;        /* columns written */
	size_t nfilter;     /* partition columns after them */
	char **want;        /* nfilter canonical texts */
	const char **names; /* nout + nfilter column names */
	const enum cmn_col_type *types;
	struct cmn_rowbatch_reader *r;
	struct cmn_value *vals;
};

static int csv_quote(struct cmn_buf *out, const char *p, size_t n, struct cmn_err *err)
{
	bool need = n == 0;
	for (size_t i = 0; i < n && !need; i++)
		need = p[i] == ',' || p[i] == '"' || p[i] == '\n' || p[i] == '\r';
	if (!need)
		return cmn_buf_append(out, p, n, err);
	if (cmn_buf_append(out, "\"", 1, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (cmn_buf_append(out, p + i, 1, err) < 0 ||
		    (p[i] == '"' && cmn_buf_append(out, "\"", 1, err) < 0))
			return -1;
	return cmn_buf_append(out, "\"", 1, err);
}

static int csv_row(struct dl *d, struct cmn_err *err)
{
	for (size_t k = 0; k < d->nout; k++) {
		const struct cmn_value *v = &d->vals[k];
		if (k && cmn_buf_append(&d->out, ",", 1, err) < 0)
			return -1;
		if (v->is_null)
			continue;
		cmn_buf_reset(&d->tmp);
		if (sch_tabledata_value_to_text(d->types[k], v, &d->tmp, err) < 0 ||
		    csv_quote(&d->out, d->tmp.data ? d->tmp.data : "", d->tmp.len, err) < 0)
			return -1;
	}
	return cmn_buf_append(&d->out, "\n", 1, err);
}

/* One value as JSON text (jsontext.h: what json_dumps wrote for it). */
static int json_of(struct dl *d, size_t k, struct cmn_err *err)
{
	const struct cmn_value *v = &d->vals[k];

	if (v->is_null)
		return cmn_buf_append(&d->out, "null", 4, err);
	switch (d->types[k]) {
	case CMN_COL_BIGINT:
		return cmn_json_int(&d->out, v->v.i64, err);
	case CMN_COL_DOUBLE:
		if (isfinite(v->v.f64))
			return cmn_json_double(&d->out, v->v.f64, err);
		break; /* JSON has no inf/nan: as text */
	case CMN_COL_BOOLEAN:
		return cmn_buf_append_str(&d->out, v->v.b ? "true" : "false", err);
	case CMN_COL_STRING:
		return cmn_json_string(&d->out, v->v.bytes.ptr, v->v.bytes.len, err);
	default:
		break;
	}
	cmn_buf_reset(&d->tmp);
	if (sch_tabledata_value_to_text(d->types[k], v, &d->tmp, err) < 0)
		return -1;
	return cmn_json_string(&d->out, d->tmp.data ? d->tmp.data : "", d->tmp.len, err);
}

/* {"column":value,...} in the table's column order, one line. */
static int json_row(struct dl *d, struct cmn_err *err)
{
	if (cmn_buf_append(&d->out, "{", 1, err) < 0)
		return -1;
	for (size_t k = 0; k < d->nout; k++)
		if ((k && cmn_buf_append(&d->out, ",", 1, err) < 0) ||
		    cmn_json_string(&d->out, d->names[k], strlen(d->names[k]), err) < 0 ||
		    cmn_buf_append(&d->out, ":", 1, err) < 0 || json_of(d, k, err) < 0)
			return -1;
	return cmn_buf_append(&d->out, "}\n", 2, err);
}

static bool row_in_partition(struct dl *d, struct cmn_err *err)
{
	for (size_t j = 0; j < d->nfilter; j++) {
		const struct cmn_value *v = &d->vals[d->nout + j];
		cmn_buf_reset(&d->tmp);
		if (v->is_null ||
		    sch_tabledata_value_to_text(d->types[d->nout + j], v, &d->tmp, err) < 0 ||
		    strcmp(d->tmp.data ? d->tmp.data : "", d->want[j]) != 0)
			return false;
	}
	return true;
}

/* A sentinel error that ends the read early (the limit was reached). */
#define DL_STOP "download: limit reached"

static int dl_batch(void *ctx, const void *batch, size_t len, struct cmn_err *err)
{
	struct dl *d = ctx;
	int rc;

	if (d->done)
		return cmn_err_set(err, CMN_ELIMIT, 0, DL_STOP);
	/* sch_tabledata_read gives authenticated batches (tabledata.h) */
	if (cmn_rowbatch_open_validated(d->r, batch, len, err) < 0)
		return -1;
	while ((rc = cmn_rowbatch_next(d->r, d->vals, err)) == 1) {
		if (d->nfilter && !row_in_partition(d, err))
			continue;
		if ((d->csv ? csv_row(d, err) : json_row(d, err)) < 0) {
			d->too_big = err && err->code == CMN_ELIMIT;
			return -1;
		}
		if (++d->rows == d->limit) {
			d->done = true;
			return cmn_err_set(err, CMN_ELIMIT, 0, DL_STOP);
		}
	}
	return rc;
}

/* ?columns=a,b (default: every column) into table column indexes. */
static int out_columns(const struct td_req *q, const char *list, size_t *idx, size_t *n,
		       struct cmn_err *err)
{
	*n = 0;
	if (!list) {
		for (size_t j = 0; j < q->t->ncols; j++)
			idx[(*n)++] = j;
		return 0;
	}
	while (*list) {
		const char *comma = strchr(list, ',');
		size_t len = comma ? (size_t)(comma - list) : strlen(list);
		int j = sch_tabledata_column(q->t, list, len, 0, q->t->ncols);
		if (j < 0 || *n == q->t->ncols)
			return cmn_err_set(err, CMN_EINVAL, 0,
					   "columns: '%.*s' is not a column of '%s'",
					   (int)(len > 64 ? 64 : len), list, q->t->name);
		for (size_t k = 0; k < *n; k++)
			if (idx[k] == (size_t)j) /* a JSON object cannot hold it twice */
				return cmn_err_set(err, CMN_EINVAL, 0,
						   "columns: '%.*s' is named twice",
						   (int)(len > 64 ? 64 : len), list);
		idx[(*n)++] = (size_t)j;
		list = comma ? comma + 1 : list + len;
	}
	return *n ? 0 : cmn_err_set(err, CMN_EINVAL, 0, "columns: none given");
}

/* ?partition=ds=x[/hr=1]: any of the partition columns, values compared in
 * their canonical text (so hr=01 finds hr=1). */
static int dl_filter(const struct td_req *q, struct dl *d, size_t *idx, size_t *n,
		     struct cmn_err *err)
{
	cleanup_free char *copy = q->partition ? strdup(q->partition) : NULL;
	char *save = NULL;

	if (!q->partition)
		return 0;
	if (!copy)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	if (q->t->npcols == 0)
		return cmn_err_set(err, CMN_EINVAL, 0, "table '%s' is not partitioned", q->t->name);
	d->want = calloc(q->t->npcols, sizeof(*d->want));
	if (!d->want)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	for (char *seg = strtok_r(copy, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
		char *eq = strchr(seg, '=');
		struct cmn_value v;
		int j = eq ? sch_tabledata_column(q->t, seg, (size_t)(eq - seg), q->nd, q->t->ncols)
			   : -1;
		if (j < 0 || d->nfilter == q->t->npcols)
			return cmn_err_set(err, CMN_EINVAL, 0,
					   "partition: '%.64s' is not column=value of a partition "
					   "column",
					   seg);
		cmn_buf_reset(&d->tmp);
		if (sch_tabledata_value_from_text((enum cmn_col_type)q->t->cols[j].type, eq + 1,
						  strlen(eq + 1), &v, NULL, err) < 0 ||
		    sch_tabledata_value_to_text((enum cmn_col_type)q->t->cols[j].type, &v, &d->tmp,
						err) < 0)
			return cmn_err_wrap(err, "partition column '%s'", q->t->cols[j].name);
		d->want[d->nfilter] = strdup(d->tmp.data ? d->tmp.data : "");
		if (!d->want[d->nfilter++])
			return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		idx[(*n)++] = (size_t)j;
	}
	return d->nfilter ? 0 : cmn_err_set(err, CMN_EINVAL, 0, "partition: empty");
}

static int read_unlocked(struct td_req *q, struct dl *d, const char *const *cols, size_t ncols,
			 struct cmn_err *err)
{
	struct sch_api *api = q->r->api;
	struct sch_tabledata td = { api->cat, api->storage, &api->lock };
	int rc;

	pthread_mutex_unlock(&api->lock);
	rc =
	    sch_tabledata_read(&td, q->t->project, q->t->name, cols, ncols, 0, 1, dl_batch, d, err);
	pthread_mutex_lock(&api->lock);
	if (rc < 0 && d->done) {
		cmn_err_clear(err);
		rc = 0;
	}
	return rc;
}

/* Everything a download decides: Select on each column read (labels apply
 * per column), then Download when the project asks for it. */
static bool dl_authorize(struct td_req *q, const size_t *idx, size_t n)
{
	struct cmn_err err = CMN_ERR_INIT;
	bool on = false;

	for (size_t k = 0; k < n; k++)
		if (!decide(q, "odps:Select", q->t->cols[idx[k]].name))
			return false;
	if (sch_tabledata_download_privilege(q->r->api->cat, q->project, &on, &err) < 0) {
		sch_api_reply_err(q->r, &err);
		return false;
	}
	return !on || decide(q, "odps:Download", NULL);
}

static int dl_prepare(struct td_req *q, struct dl *d, size_t *idx, size_t *n, struct cmn_err *err)
{
	const char *accept =
	    evhttp_find_header(evhttp_request_get_input_headers(q->r->req), "Accept");
	const char *limit = evhttp_find_header(&q->q, "limit");

	d->csv = accept && strncasecmp(accept, "text/csv", 8) == 0;
	if (limit && (cmn_parse_u64(limit, &d->limit, NULL) < 0 || d->limit == 0))
		return cmn_err_set(err, CMN_EINVAL, 0, "limit is a positive number of rows");
	if (out_columns(q, evhttp_find_header(&q->q, "columns"), idx, n, err) < 0)
		return -1;
	d->nout = *n;
	if (dl_filter(q, d, idx, n, err) < 0)
		return -1;
	d->names = calloc(*n, sizeof(*d->names));
	d->types = NULL;
	if (!d->names)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	for (size_t k = 0; k < *n; k++)
		d->names[k] = q->t->cols[idx[k]].name;
	return 0;
}

static void download(struct td_req *q)
{
	struct sch_api_req *r = q->r;
	struct cmn_err err = CMN_ERR_INIT;
	struct dl d = { .q = q };
	size_t n = 0, len;
	cleanup_free size_t *idx = calloc(2 * q->t->ncols + 1, sizeof(*idx));
	cleanup_free enum cmn_col_type *types = calloc(2 * q->t->ncols + 1, sizeof(*types));
	char *data;

	d.max_bytes = r->api->cfg.max_upload ? r->api->cfg.max_upload : (size_t)256 << 20;
	cmn_buf_init(&d.out, d.max_bytes);
	cmn_buf_init(&d.tmp, 0);
	d.r = calloc(1, sizeof(*d.r));
	d.vals = calloc(2 * q->t->ncols + 1, sizeof(*d.vals));
	if (!idx || !types || !d.r || !d.vals) {
		sch_api_reply_error(r, 500, "InternalError", "out of memory");
		goto out;
	}
	if (dl_prepare(q, &d, idx, &n, &err) < 0) {
		sch_api_reply_err(r, &err);
		goto out;
	}
	for (size_t k = 0; k < n; k++)
		types[k] = (enum cmn_col_type)q->t->cols[idx[k]].type;
	d.types = types;
	if (!dl_authorize(q, idx, n))
		goto out;
	if (d.csv) {
		for (size_t k = 0; k < d.nout && err.code == 0; k++)
			if ((k && cmn_buf_append(&d.out, ",", 1, &err) < 0) ||
			    csv_quote(&d.out, d.names[k], strlen(d.names[k]), &err) < 0)
				break;
		if (err.code == 0)
			cmn_buf_append(&d.out, "\n", 1, &err);
	}
	if (err.code == 0 && read_unlocked(q, &d, d.names, n, &err) < 0 && d.too_big) {
		sch_api_reply_error(r, 413, "ResponseTooLarge",
				    "the data is larger than %zu bytes: use ?limit=, ?partition= "
				    "or ?columns=",
				    d.max_bytes);
		goto out;
	}
	if (err.code) {
		sch_api_reply_err(r, &err);
		goto out;
	}
	data = cmn_buf_steal(&d.out, &len);
	if (!data)
		sch_api_reply_error(r, 500, "InternalError", "out of memory");
	else
		sch_api_reply_bytes(
		    r, 200, d.csv ? "text/csv; charset=utf-8" : "application/x-ndjson", data, len);
out:
	for (size_t j = 0; d.want && j < d.nfilter; j++)
		free(d.want[j]);
	free(d.want);
	free((void *)(uintptr_t)d.names);
	free(d.r);
	free(d.vals);
	cmn_buf_free(&d.out);
	cmn_buf_free(&d.tmp);
}

/* ---- route ----------------------------------------------------------------- */

bool sch_api_is_table_upload(const struct sch_api_req *r)
{
	const char *p = r->path, *seg;

	if (r->method != EVHTTP_REQ_PUT || strncmp(p, "/v1/projects/", 13) != 0)
		return false;
	/* {p}/tables/{t}/data, exactly as sch_api_route_projects routes it */
	seg = strchr(p + 13, '/');
	if (!seg || seg == p + 13 || strncmp(seg, "/tables/", 8) != 0)
		return false;
	p = strchr(seg + 8, '/');
	return p && p != seg + 8 && strcmp(p, "/data") == 0;
}

void sch_api_route_table_data(struct sch_api_req *r, const char *project, const char *table)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct td_req q = { .r = r, .project = project };
	char owner[300];
	int rc;

	r->event_name = r->method == EVHTTP_REQ_PUT ? "UploadTableData" : "DownloadTableData";
	snprintf(r->resource, sizeof(r->resource), "acs:odps:*:projects/%s/tables/%s", project,
		 table);
	if (r->method != EVHTTP_REQ_PUT && r->method != EVHTTP_REQ_GET) {
		sch_api_reply_error(r, 405, "MethodNotAllowed",
				    "use PUT (upload) or GET (download)");
		return;
	}
	if (sch_project_get_owner(r->api->acc, project, owner, sizeof(owner), &err) < 0) {
		if (err.code == CMN_ENOTFOUND)
			sch_api_reply_error(r, 404, "NoSuchProject", "no such project '%s'",
					    project);
		else
			sch_api_reply_err(r, &err);
		return;
	}
	if (!sch_api_whitelist_ok(r, project))
		return;
	TAILQ_INIT(&q.q);
	if (r->query && evhttp_parse_query_str(r->query, &q.q) < 0) {
		sch_api_reply_error(r, 400, "InvalidArgument", "malformed query string");
		return;
	}
	q.partition = evhttp_find_header(&q.q, "partition");
	rc = sch_tables_get(r->api->cat, project, table, &q.t, &err);
	if (rc < 0)
		sch_api_reply_err(r, &err);
	else if (!q.t)
		sch_api_reply_error(r, 404, "NoSuchTable", "table '%s.%s' does not exist", project,
				    table);
	else if (q.t->is_view)
		sch_api_reply_error(r, 400, "InvalidArgument",
				    "'%s.%s' is a view: views hold no data to transfer", project,
				    table);
	else {
		q.nd = q.t->ncols - q.t->npcols;
		if (r->method == EVHTTP_REQ_PUT)
			upload(&q);
		else
			download(&q);
	}
	sch_tabledef_free(q.t);
	evhttp_clear_headers(&q.q);
}
