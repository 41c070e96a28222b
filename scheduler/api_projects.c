/* scheduler/api_projects.c — projects, their jobs endpoint and the audit
 * query. A project belongs to the account that created it (owner =
 * ALIYUN$<account>); operators and the owner may describe and delete it.
 * Everything under /v1/projects/{p}/ except the operators' whitelist reset
 * passes the project's IP whitelist first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "common/cleanup.h"
#include "common/parse.h"
#include "scheduler/api.h"
#include "scheduler/authz.h"
#include "scheduler/metrics.h"
#include "scheduler/stmt.h"

static void owner_of(const struct sch_principal *p, char *out, size_t len)
{
	snprintf(out, len, "ALIYUN$%s", p->account);
}

/* Operators and the owner; replies itself when neither. */
static bool owner_or_operator(struct sch_api_req *r, const char *project)
{
	struct cmn_err err = CMN_ERR_INIT;
	char owner[300], mine[300];

	if (sch_project_get_owner(r->api->acc, project, owner, sizeof(owner), &err) < 0) {
		if (err.code == CMN_ENOTFOUND)
			sch_api_reply_error(r, 404, "NoSuchProject", "no such project '%s'",
					    project);
		else
			sch_api_reply_err(r, &err);
		return false;
	}
	owner_of(&r->principal, mine, sizeof(mine));
	if (r->principal.super_admin ||
	    (r->principal.type == SCH_PRINCIPAL_ACCOUNT && strcmp(owner, mine) == 0))
		return true;
	sch_api_reply_error(r, 403, "AccessDenied", "%s is not the owner of project %s",
			    r->principal.name, project);
	return false;
}

static void create_project(struct sch_api_req *r)
{
	struct cmn_err err = CMN_ERR_INIT;
	json_t *body = sch_api_body_json(r);
	const char *name, *owner;
	char mine[300];

	if (!body)
		return;
	name = json_string_value(json_object_get(body, "name"));
	owner = json_string_value(json_object_get(body, "owner"));
	snprintf(r->project, sizeof(r->project), "%s", name ? name : "");
	owner_of(&r->principal, mine, sizeof(mine));
	if (!name) {
		sch_api_reply_error(r, 400, "InvalidArgument", "\"name\" (string) is required");
	} else if (owner && !r->principal.super_admin && strcmp(owner, mine) != 0) {
		sch_api_reply_error(r, 403, "AccessDenied",
				    "only operators may create projects for another owner");
	} else if (r->principal.type == SCH_PRINCIPAL_ROLE) {
		sch_api_reply_error(r, 403, "AccessDenied", "a role cannot own projects");
	} else {
		struct sch_principal p;
		if (owner && sch_accounts_lookup_principal(r->api->acc, owner, &p, &err) < 0)
			sch_api_reply_err(r, &err);
		else if (sch_project_create(r->api->acc, name, owner ? owner : mine,
					    json_string_value(json_object_get(body, "description")),
					    &err) < 0)
			sch_api_reply_err(r, &err);
		/* storage glue: the project's key (version 1) comes with it */
		else if (sch_storage_project_created(r->api->storage, name, &err) < 0)
			sch_api_reply_err(r, &err);
		else
			sch_api_reply_json(
			    r, 201,
			    json_pack("{s:s, s:s}", "name", name, "owner", owner ? owner : mine));
	}
	json_decref(body);
}

static void set_whitelist(struct sch_api_req *r, const char *project)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct sch_whitelist *wl = malloc(sizeof(*wl));
	json_t *body = wl ? sch_api_body_json(r) : NULL;
	const char *text = body ? json_string_value(json_object_get(body, "whitelist")) : NULL;

	if (!wl)
		sch_api_reply_error(r, 500, "InternalError", "out of memory");
	else if (body && !text)
		sch_api_reply_error(r, 400, "InvalidArgument",
				    "\"whitelist\" (string, \"\" to disable) is required");
	else if (body && sch_whitelist_parse(text, wl, &err) < 0)
		sch_api_reply_err(r, &err);
	else if (body && sch_project_set_whitelist(r->api->acc, project, text, &err) < 0)
		sch_api_reply_err(r, &err);
	else if (body)
		sch_api_reply_json(r, 200, json_pack("{s:s}", "whitelist", text));
	free(wl);
	json_decref(body);
}

void sch_api_stmt_audit(void *arg, const struct sch_audit_event *ev)
{
	struct sch_api_req *r = arg;
	struct cmn_err err = CMN_ERR_INIT;
	struct sch_audit_record rec = {
		.event_name = ev->event_name,
		.request_id = r->request_id,
		.source_ip = r->source_ip,
		.user_agent = r->user_agent,
		.principal = r->principal.name,
		.access_key_id = r->principal.access_key_id,
		.project = r->project[0] ? r->project : NULL,
		.resource = ev->resource,
		.decision = ev->decision,
		.reason = ev->reason,
		.error_code = ev->error_code,
	};
	(void)sch_audit_write(r->api->audit, &rec, &err);
}

bool sch_api_authorize(struct sch_api_req *r, const char *action,
		       const struct sch_authz_resource *res, const struct sch_authz_context *ctx)
{
	struct sch_authz_decision *d = calloc(1, sizeof(*d)); /* 4.8 KiB: not on the stack */
	struct cmn_err err = CMN_ERR_INIT;
	bool ok;

	if (!d) {
		sch_api_reply_error(r, 500, "InternalError", "out of memory");
		return false;
	}
	if (sch_authz_decide(r->api->cat, &r->principal, action, res, ctx, d, &err) < 0) {
		free(d);
		sch_api_reply_err(r, &err);
		return false;
	}
	sch_api_stmt_audit(
	    r, &(struct sch_audit_event){ .event_name = "Authorize",
					  .resource = d->resource,
					  .decision = d->allow ? "allow" : "deny",
					  .reason = d->reason,
					  .error_code = d->allow ? NULL : "AccessDenied" });
	ok = d->allow;
	if (!ok)
		sch_api_reply_error(r, 403, "AccessDenied", "%s denied on %s (rule %s): %s", action,
				    d->resource, d->rule, d->reason);
	free(d);
	return ok;
}

static void run_job(struct sch_api_req *r, const char *project)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct sch_stmt_ctx ctx = {
		.cat = r->api->cat,
		.principal = &r->principal,
		.project = project,
		.source_ip = r->source_ip,
		.request_id = r->request_id,
		.audit = sch_api_stmt_audit,
		.audit_arg = r,
	};
	json_t *body = sch_api_body_json(r), *result = NULL;
	const char *sql;
	uint64_t wait_ms = 0;

	if (!body)
		return;
	sql = json_string_value(json_object_get(body, "sql"));
	if (sch_api_wait_param(r, &wait_ms) < 0) {
		sch_api_reply_error(r, 400, "InvalidArgument", "wait is 0..300 seconds");
	} else if (!sql) {
		sch_api_reply_error(r, 400, "InvalidArgument", "\"sql\" (string) is required");
	} else if (sch_stmt_dispatch(&ctx, sql, strlen(sql), &result, &err) < 0) {
		sch_metrics_job("failed");
		if (err.code == CMN_EINVAL)
			sch_api_reply_error(r, 400, "InvalidStatement", "%s", err.msg);
		else
			sch_api_reply_err(r, &err);
	} else if (json_is_true(json_object_get(result, "job"))) {
		/* queued on the job runner: answered now (202), or after the
		 * wait once api->lock is released (api.c) */
		json_object_del(result, "job");
		if (wait_ms) {
			snprintf(r->wait_job, sizeof(r->wait_job), "%s",
				 json_string_value(json_object_get(result, "id")));
			r->wait_ms = wait_ms;
		}
		sch_api_reply_json(r, 202, result);
	} else {
		sch_metrics_job("succeeded");
		if (!json_is_object(result)) {
			json_decref(result);
			result = json_pack("{s:[s], s:[[s]]}", "columns", "result", "rows", "OK");
		}
		json_object_set_new(result, "status", json_string("success"));
		sch_api_reply_json(r, 200, result);
	}
	json_decref(body);
}

/* /v1/projects[/{p}[/whitelist|/jobs]] */
void sch_api_route_projects(struct sch_api_req *r, char **segs, size_t n)
{
	struct cmn_err err = CMN_ERR_INIT;
	const char *project = n >= 1 ? segs[0] : NULL;

	if (project) {
		snprintf(r->project, sizeof(r->project), "%s", project);
		snprintf(r->resource, sizeof(r->resource), "acs:odps:*:projects/%s", project);
	}
	if (n == 0 && r->method == EVHTTP_REQ_GET) {
		char mine[300];
		r->event_name = "ListProjects";
		owner_of(&r->principal, mine, sizeof(mine));
		json_t *list =
		    sch_project_list(r->api->acc, r->principal.super_admin ? NULL : mine, &err);
		if (!list)
			sch_api_reply_err(r, &err);
		else
			sch_api_reply_json(r, 200, json_pack("{s:o}", "projects", list));
	} else if (n == 0 && r->method == EVHTTP_REQ_POST) {
		r->event_name = "CreateProject";
		create_project(r);
	} else if (n == 1 && r->method == EVHTTP_REQ_GET) {
		json_t *p;
		r->event_name = "GetProject";
		if (!owner_or_operator(r, project))
			return;
		p = sch_project_get(r->api->acc, project, &err);
		if (!p)
			sch_api_reply_err(r, &err);
		else
			sch_api_reply_json(r, 200, p);
	} else if (n == 1 && r->method == EVHTTP_REQ_DELETE) {
		r->event_name = "DeleteProject";
		if (!owner_or_operator(r, project))
			return;
		/* storage glue: crypto-shred first, so a deleted project never
		 * leaves readable data behind (a failure keeps the project) */
		if (sch_storage_project_deleted(r->api->storage, project, &err) < 0 ||
		    sch_project_delete(r->api->acc, project, &err) < 0)
			sch_api_reply_err(r, &err);
		else
			sch_api_reply_json(r, 200, json_object());
	} else if (n == 2 && strcmp(segs[1], "whitelist") == 0 && r->method == EVHTTP_REQ_PUT) {
		/* The operators' way back in when an owner locked the project:
		 * exempt from the whitelist, so operators only. */
		r->event_name = "SetProjectIpWhitelist";
		if (!r->principal.super_admin) {
			sch_api_reply_error(
			    r, 403, "AccessDenied",
			    "only operators set a whitelist through the API; owners "
			    "use SETPROJECT odps.security.ip.whitelist=...");
			return;
		}
		if (owner_or_operator(r, project))
			set_whitelist(r, project);
	} else if (n >= 2 && strcmp(segs[1], "jobs") == 0 &&
		   (n > 2 || r->method == EVHTTP_REQ_POST)) {
		char owner[300];
		r->event_name = n == 2 ? "InsertJob" : "GetJob";
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
		if (n == 2)
			run_job(r, project);
		else
			sch_api_route_jobs(r, project, segs + 2, n - 2);
	} else if (n >= 2 && strcmp(segs[1], "resources") == 0) {
		sch_api_route_resources(r, project, segs + 1, n - 1); /* api_resources.c */
	} else if (n == 4 && strcmp(segs[1], "tables") == 0 && strcmp(segs[3], "data") == 0) {
		sch_api_route_table_data(r, project, segs[2]); /* api_tabledata.c */
	} else {
		r->event_name = "ProjectRequest";
		sch_api_reply_error(r, 404, "NotFound", "no such endpoint");
	}
}

static int64_t query_time(struct evkeyvalq *q, const char *name)
{
	const char *v = evhttp_find_header(q, name);
	int64_t t = 0;
	if (v && cmn_parse_i64(v, &t, NULL) < 0)
		return -1;
	return t;
}

/* GET /v1/audit?project=&since=&until=&principal=&event=&limit= (unix
 * seconds). Operators see everything; others only their own projects. */
void sch_api_route_audit(struct sch_api_req *r)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct sch_audit_filter f = { 0 };
	struct evkeyvalq q;
	const char *limit;
	char mine[300];
	uint64_t lim = 1000;
	json_t *events;

	r->event_name = "LookupEvents";
	if (r->method != EVHTTP_REQ_GET) {
		sch_api_reply_error(r, 405, "MethodNotAllowed", "use GET");
		return;
	}
	TAILQ_INIT(&q);
	if (r->query && evhttp_parse_query_str(r->query, &q) < 0) {
		sch_api_reply_error(r, 400, "InvalidArgument", "malformed query string");
		return;
	}
	f.project = evhttp_find_header(&q, "project");
	f.principal = evhttp_find_header(&q, "principal");
	f.event = evhttp_find_header(&q, "event");
	f.since = query_time(&q, "since");
	f.until = query_time(&q, "until");
	limit = evhttp_find_header(&q, "limit");
	if (f.since < 0 || f.until < 0 ||
	    (limit && (cmn_parse_u64(limit, &lim, NULL) < 0 || lim == 0 || lim > 10000))) {
		evhttp_clear_headers(&q);
		sch_api_reply_error(r, 400, "InvalidArgument",
				    "since/until are unix seconds, limit is 1..10000");
		return;
	}
	f.limit = (unsigned)lim;
	owner_of(&r->principal, mine, sizeof(mine));
	if (!r->principal.super_admin) {
		if (r->principal.type != SCH_PRINCIPAL_ACCOUNT) {
			evhttp_clear_headers(&q);
			sch_api_reply_error(r, 403, "AccessDenied",
					    "the audit log is for operators and project owners");
			return;
		}
		f.projects_owner = mine;
	}
	events = sch_audit_query(r->api->audit, &f, &err);
	evhttp_clear_headers(&q);
	if (!events)
		sch_api_reply_err(r, &err);
	else
		sch_api_reply_json(r, 200, json_pack("{s:o}", "events", events));
}
