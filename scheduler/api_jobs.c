/* scheduler/api_jobs.c — the job endpoints besides POST .../jobs:
 *   GET    /v1/projects/{p}/jobs/{id}          status, stages, usage, error
 *   GET    /v1/projects/{p}/jobs/{id}/result   ?offset=&limit= JSON lines
 *                                              (one array per row) or CSV
 *                                              with Accept: text/csv
 *   DELETE /v1/projects/{p}/jobs/{id}          cancel
 * and the ?wait=SECONDS of POST .../jobs (sch_api_finish_wait), which waits
 * after api->lock is released: a waiting request holds its worker's event
 * loop, never the API. A job is visible to its submitter, the project's
 * owner and operators; to anyone else it does not exist (404). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "common/parse.h"
#include "scheduler/api.h"

#define RESULT_PAGE_DEFAULT 10000
#define RESULT_PAGE_MAX 100000000
#define ANSWER_ROWS 10000
#define WAIT_MAX_S 300

static struct sch_job *find(struct sch_api_req *r, const char *project, const char *id)
{
	struct cmn_err err = CMN_ERR_INIT;
	char owner[300];
	struct sch_job *job;

	if (sch_project_get_owner(r->api->acc, project, owner, sizeof(owner), &err) < 0)
		owner[0] = '\0';
	job = sch_job_get(r->api->jobs, project, id, &r->principal, owner[0] ? owner : NULL, &err);
	if (!job)
		sch_api_reply_error(r, 404, "NoSuchJob", "%s", err.msg);
	return job;
}

static int query_u64(struct evkeyvalq *q, const char *name, uint64_t def, uint64_t max,
		     uint64_t *out)
{
	const char *v = evhttp_find_header(q, name);
	*out = def;
	if (!v)
		return 0;
	if (cmn_parse_u64(v, out, NULL) < 0 || *out > max)
		return -1;
	return 0;
}

static int result_fill(void *ctx, struct cmn_buf *out, size_t want, struct cmn_err *err)
{
	return sch_result_fill(ctx, out, want, err);
}

static void result_close(void *ctx)
{
	sch_result_close(ctx);
}

/* The rows stream (api.c): a page of any size costs one chunk of memory. */
static void result(struct sch_api_req *r, struct sch_job *job)
{
	struct cmn_err err = CMN_ERR_INIT;
	const char *accept = evhttp_find_header(evhttp_request_get_input_headers(r->req), "Accept");
	bool csv = accept && strstr(accept, "text/csv");
	uint64_t offset, limit;
	struct evkeyvalq q;
	struct sch_result_cursor *cur;

	TAILQ_INIT(&q);
	if (r->query && evhttp_parse_query_str(r->query, &q) < 0) {
		sch_api_reply_error(r, 400, "InvalidArgument", "malformed query string");
		return;
	}
	if (query_u64(&q, "offset", 0, UINT64_MAX, &offset) < 0 ||
	    query_u64(&q, "limit", RESULT_PAGE_DEFAULT, RESULT_PAGE_MAX, &limit) < 0) {
		evhttp_clear_headers(&q);
		sch_api_reply_error(r, 400, "InvalidArgument",
				    "offset is a row number, limit is 0..%d", RESULT_PAGE_MAX);
		return;
	}
	evhttp_clear_headers(&q);
	cur = sch_job_result_open(job, offset, limit, csv, &err);
	if (!cur) {
		if (err.code == CMN_ECONFLICT)
			sch_api_reply_error(r, 409, "JobNotSucceeded", "%s", err.msg);
		else
			sch_api_reply_err(r, &err);
		return;
	}
	sch_api_reply_stream(r, csv ? "text/csv; charset=utf-8" : "application/x-ndjson",
			     (struct sch_api_stream_src){ result_fill, result_close, cur });
}

void sch_api_route_jobs(struct sch_api_req *r, const char *project, char **segs, size_t n)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct sch_job *job;

	if (!r->api->jobs) {
		sch_api_reply_error(r, 503, "ServiceUnavailable", "this server runs no jobs");
		return;
	}
	r->event_name = n == 2                           ? "GetJobResult"
			: r->method == EVHTTP_REQ_DELETE ? "CancelJob"
							 : "GetJob";
	snprintf(r->resource, sizeof(r->resource), "acs:odps:*:projects/%s/instances/%s", project,
		 segs[0]);
	if (n > 2 || (n == 2 && strcmp(segs[1], "result") != 0)) {
		sch_api_reply_error(r, 404, "NotFound", "no such endpoint");
		return;
	}
	if ((n == 2 && r->method != EVHTTP_REQ_GET) ||
	    (n == 1 && r->method != EVHTTP_REQ_GET && r->method != EVHTTP_REQ_DELETE)) {
		sch_api_reply_error(r, 405, "MethodNotAllowed", "use GET%s",
				    n == 1 ? " or DELETE" : "");
		return;
	}
	job = find(r, project, segs[0]);
	if (!job)
		return;
	if (n == 2) {
		result(r, job);
	} else if (r->method == EVHTTP_REQ_DELETE) {
		if (sch_job_cancel(job, &err) < 0 && err.code == CMN_ECONFLICT)
			sch_api_reply_error(r, 409, "JobFinished", "%s", err.msg);
		else if (err.code != CMN_OK)
			sch_api_reply_err(r, &err);
		else
			sch_api_reply_json(r, 200, sch_job_status(job));
	} else {
		json_t *st = sch_job_status(job);
		if (st)
			sch_api_reply_json(r, 200, st);
		else
			sch_api_reply_error(r, 500, "InternalError", "out of memory");
	}
	sch_job_put(job);
}

/* ?wait=S of POST .../jobs: 0..WAIT_MAX_S seconds (0 = answer at once). */
int sch_api_wait_param(struct sch_api_req *r, uint64_t *ms)
{
	struct evkeyvalq q;
	uint64_t s = 0;
	int rc = 0;

	*ms = 0;
	if (!r->query)
		return 0;
	TAILQ_INIT(&q);
	if (evhttp_parse_query_str(r->query, &q) < 0 ||
	    query_u64(&q, "wait", 0, WAIT_MAX_S, &s) < 0)
		rc = -1;
	evhttp_clear_headers(&q);
	*ms = s * 1000;
	return rc;
}

void sch_api_finish_wait(struct sch_api_req *r)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct sch_job *job =
	    sch_job_get(r->api->jobs, r->project, r->wait_job, &r->principal, NULL, &err);
	json_t *answer;
	bool done;

	if (!job)
		return; /* evicted already: the 202 stands */
	done = sch_job_wait(job, r->wait_ms);
	answer = done ? sch_job_answer(job, ANSWER_ROWS) : sch_job_status(job);
	if (answer)
		sch_api_replace_reply(r, done ? 200 : 202, answer);
	sch_job_put(job);
}
