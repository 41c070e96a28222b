/* scheduler/sql_q_compile.c — a job text from SQL to an authorized plan,
 * and the EXPLAIN handler; see plan.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scheduler/plan.h"

void sch_job_compiled_free(struct sch_job_compiled *c)
{
	if (!c)
		return;
	if (c->has_plan)
		sch_plan_free(&c->plan);
	sch_q_resolved_free(&c->res);
	sch_q_script_free(&c->script);
	free(c->settings.networklink);
	memset(c, 0, sizeof(*c));
}

/* "64M", "1024", "2G": bytes; "500ms", "30s", "30": milliseconds when ms. */
static int parse_amount(const struct sch_q_stmt *s, bool time, int64_t *out, struct cmn_err *err)
{
	char *end;
	long long v;
	int64_t mul = time ? 1000 : 1;

	errno = 0;
	v = strtoll(s->value, &end, 10);
	if (errno || end == s->value || v <= 0)
		goto bad;
	if (time) {
		if (!strcmp(end, "ms"))
			mul = 1;
		else if (*end && strcmp(end, "s"))
			goto bad;
	} else if (*end) {
		if (end[1])
			goto bad;
		mul = *end == 'K' || *end == 'k'   ? 1024
		      : *end == 'M' || *end == 'm' ? 1 << 20
		      : *end == 'G' || *end == 'g' ? 1 << 30
						   : 0;
		if (!mul)
			goto bad;
	}
	if (v > INT64_MAX / mul)
		goto bad;
	*out = (int64_t)v * mul;
	return 0;
bad:
	return cmn_err_set(err, CMN_EINVAL, 0, "%d:%d: bad value '%s' for %s", s->line, s->col,
			   s->value, s->key);
}

static int apply_set(struct sch_job_compiled *c, const struct sch_q_stmt *s, struct cmn_err *err)
{
	struct sch_job_settings *st = &c->settings;
	int64_t v;

	if (!strcasecmp(s->key, "odps.session.networklink")) {
		free(st->networklink);
		st->networklink = strdup(s->value);
		return st->networklink ? 0 : cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	}
	if (!strcasecmp(s->key, "cordon.udf.memory"))
		return parse_amount(s, false, &st->udf_memory, err);
	if (!strcasecmp(s->key, "cordon.node.timeout"))
		return parse_amount(s, true, &st->node_timeout_ms, err);
	if (!strcasecmp(s->key, "cordon.udf.cpu"))
		return parse_amount(s, true, &st->udf_cpu_ms, err);
	if (parse_amount(s, false, &v, err) < 0)
		return -1;
	if (!strcasecmp(s->key, "cordon.udf.instructions")) {
		st->udf_instructions = v;
		return 0;
	}
	if (v > SCH_PLAN_MAX_NODES)
		return cmn_err_set(err, CMN_EINVAL, 0, "%d:%d: cordon.nodes must be 1..%d", s->line,
				   s->col, SCH_PLAN_MAX_NODES);
	st->nodes = (int)v;
	return 0;
}

struct audit_state {
	const struct sch_job_request *req;
	const struct sch_q_access *denied;
	struct sch_authz_decision d;
	/* what the job reads, for ProjectProtection on its writes (the
	 * collector lists reads before writes) */
	struct sch_authz_context *ctx;
	struct sch_authz_read *reads;
	size_t nreads;
};

static void remember_read(struct audit_state *st, const struct sch_q_access *a,
			  const struct sch_authz_decision *d)
{
	struct sch_authz_read *nv;
	if (strcmp(a->action, "odps:Select") != 0 || a->type != SCH_OBJ_TABLE || !d->allow)
		return;
	for (size_t i = 0; i < st->nreads; i++)
		if (!strcmp(st->reads[i].project, a->project) &&
		    !strcmp(st->reads[i].table, a->name))
			return;
	nv = realloc(st->reads, (st->nreads + 1) * sizeof(*nv));
	if (!nv)
		return; /* the write is then decided without this read: stricter */
	st->reads = nv;
	nv[st->nreads++] = (struct sch_authz_read){ a->project, a->name, d->via_package };
	st->ctx->reads = st->reads;
	st->ctx->nreads = st->nreads;
}

static void audit_one(void *arg, const struct sch_q_access *a, const struct sch_authz_decision *d)
{
	struct audit_state *st = arg;
	struct sch_audit_event ev = { .event_name = "Authorize",
				      .resource = d->resource,
				      .decision = d->allow ? "allow" : "deny",
				      .reason = d->reason,
				      .error_code = d->allow ? NULL : "AccessDenied" };
	if (st->req->audit)
		st->req->audit(st->req->audit_arg, &ev);
	remember_read(st, a, d);
	if (!d->allow && !st->denied) {
		st->denied = a;
		st->d = *d;
	}
}

/* Decides (and audits) every access; the first deny fails with its rule. */
static int authorize(const struct sch_job_request *req, const struct sch_q_accesses *acc,
		     struct cmn_err *err)
{
	struct sch_authz_context ctx = { .project = req->project,
					 .source_ip = req->source_ip,
					 .task_type = "SQL" };
	struct audit_state *st = calloc(1, sizeof(*st));
	int rc;

	if (!st)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	st->req = req;
	st->ctx = &ctx;
	rc = sch_q_authorize(req->cat, req->who, &ctx, acc, audit_one, st, err);
	if (rc == 0 && st->denied) {
		const struct sch_q_access *a = st->denied;
		rc = cmn_err_set(err, CMN_EDENIED, 0, "%d:%d: %s denied on %s (rule %s%s%s): %s",
				 a->line, a->col, a->action, st->d.resource, st->d.rule,
				 a->as_owner ? ", as view owner " : "",
				 a->as_owner ? a->as_owner : "", st->d.reason);
	}
	free(st->reads);
	free(st);
	return rc;
}

int sch_job_compile(const struct sch_job_request *req, const char *sql, size_t len,
		    struct sch_job_compiled *out, struct cmn_err *err)
{
	struct sch_q_env env;

	memset(out, 0, sizeof(*out));
	sch_tables_env(&env, req->cat, req->project);
	if (sch_q_parse(sql, len, &out->script, err) < 0)
		return -1;
	for (size_t i = 0; i < out->script.n; i++) {
		struct sch_q_stmt *s = out->script.v[i];
		if (s->kind == SCH_Q_SET) {
			struct sch_q_resolved r;
			int rc;
			if (sch_q_resolve(&env, s, &r, err) < 0)
				goto fail;
			rc = authorize(req, &r.acc, err);
			sch_q_resolved_free(&r);
			if (rc < 0 || apply_set(out, s, err) < 0)
				goto fail;
			continue;
		}
		if (out->stmt) {
			cmn_err_set(err, CMN_EINVAL, 0,
				    "%d:%d: a job runs one statement (after any SETs)", s->line,
				    s->col);
			goto fail;
		}
		out->stmt = s;
	}
	if (!out->stmt)
		return 0;
	if (sch_q_resolve(&env, out->stmt, &out->res, err) < 0 ||
	    authorize(req, &out->res.acc, err) < 0)
		goto fail;
	if ((out->stmt->query && out->stmt->kind != SCH_Q_CREATE_VIEW) ||
	    (out->stmt->kind == SCH_Q_INSERT && out->stmt->nrows)) {
		struct sch_plan_opts o = { .project = req->project,
					   .nodes = out->settings.nodes ? out->settings.nodes
									: req->default_nodes };
		if (sch_plan_build(out->stmt, &out->res, &o, &out->plan, err) < 0)
			goto fail;
		out->has_plan = true;
	}
	return 0;
fail:
	sch_job_compiled_free(out);
	return -1;
}

int sch_plan_explain_handler(struct sch_stmt_ctx *ctx, const char *sql, size_t len, json_t **result,
			     struct cmn_err *err)
{
	struct sch_tokens toks;
	struct sch_job_request req = { .cat = ctx->cat,
				       .who = ctx->principal,
				       .project = ctx->project,
				       .source_ip = ctx->source_ip,
				       .default_nodes = 1 };
	struct sch_job_compiled c;
	bool explain = false;
	char *text, *save = NULL;
	json_t *rows;

	if (sch_sql_lex(sql, len, &toks, err) < 0) {
		cmn_err_clear(err);
		return 0; /* not ours to report */
	}
	for (size_t i = 0; i + 1 < toks.n; i++)
		if ((i == 0 || sch_tok_is_punct(&toks.v[i - 1], ";")) &&
		    sch_tok_is_kw(&toks.v[i], "EXPLAIN") && sch_tok_is_kw(&toks.v[i + 1], "SELECT"))
			explain = true;
	sch_sql_tokens_free(&toks);
	if (!explain)
		return 0;
	if (sch_job_compile(&req, sql, len, &c, err) < 0)
		return -1;
	if (!c.has_plan || c.stmt->kind != SCH_Q_EXPLAIN) {
		sch_job_compiled_free(&c);
		return cmn_err_set(err, CMN_EINVAL, 0, "EXPLAIN runs alone (after any SETs)");
	}
	text = sch_plan_explain(&c.plan, err);
	sch_job_compiled_free(&c);
	if (!text)
		return -1;
	rows = json_array();
	for (char *line = strtok_r(text, "\n", &save); rows && line;
	     line = strtok_r(NULL, "\n", &save))
		json_array_append_new(rows, json_pack("[s]", line));
	free(text);
	*result = json_pack("{s:[s], s:o}", "columns", "plan", "rows", rows);
	return *result ? 1 : cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
}
