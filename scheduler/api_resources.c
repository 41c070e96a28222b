/* scheduler/api_resources.c — a project's resources over the API:
 *
 *   PUT    /v1/projects/{p}/resources/{name}   body = the content (raw bytes)
 *   GET    /v1/projects/{p}/resources/{name}   the content
 *   DELETE /v1/projects/{p}/resources/{name}
 *   GET    /v1/projects/{p}/resources          [{name, size, sha256, owner, created}]
 *
 * Every request is decided by the one decision function (authz.h):
 * PUT odps:CreateResource on the project for a new name, odps:Write on the
 * resource to replace it; GET odps:Read; DELETE odps:Delete; the list
 * odps:List on the project. Each decision is audited ("Authorize", allow
 * or deny with its reason) besides the request's own record (PutResource,
 * GetResource, DeleteResource, ListResources). A resource is registered
 * in the authorization registry when created — so GRANT ... ON RESOURCE
 * applies to it and its creator counts as its creator — and dropped from it
 * when deleted, which deletes its ACLs. The catalog row and the registry
 * change in one savepoint. Runs under api->lock like every handler.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "scheduler/api.h"
#include "scheduler/authz.h"
#include "scheduler/resources.h"

/* PUT /v1/projects/{p}/resources/{name}: exactly these four segments. */
static bool is_resource_put(const struct sch_api_req *r)
{
	const char *p = r->path, *seg;
	size_t len;

	if (r->method != EVHTTP_REQ_PUT || strncmp(p, "/v1/projects/", 13) != 0)
		return false;
	p += 13;
	seg = strchr(p, '/');
	if (!seg || seg == p || strncmp(seg, "/resources/", 11) != 0)
		return false;
	p = seg + 11;
	len = strlen(p);
	return len > 0 && !strchr(p, '/');
}

size_t sch_api_body_cap(const struct sch_api_req *r)
{
	if (is_resource_put(r) && r->api->cfg.max_resource_body > r->api->cfg.max_body)
		return r->api->cfg.max_resource_body;
	/* bulk table upload (api_tabledata.c) */
	if (sch_api_is_table_upload(r) && r->api->cfg.max_upload > r->api->cfg.max_body)
		return r->api->cfg.max_upload;
	return r->api->cfg.max_body;
}

/* Decides one access and audits the decision; replies 403 naming the rule
 * (or the error) and returns false when it is not allowed. */
static bool allowed(struct sch_api_req *r, const char *project, const char *action,
		    enum sch_sql_objtype type, const char *name)
{
	struct sch_authz_resource res = { project, type, name, NULL };
	struct sch_authz_context ctx = { .project = project, .source_ip = r->source_ip };

	return sch_api_authorize(r, action, &res, &ctx);
}

/* The catalog row and the registry entry in one transaction. */
static int store(struct sch_api_req *r, const char *project, const char *name, bool *replaced,
		 struct cmn_err *err)
{
	bool outer;
	int rc;

	if (sch_resource_txn_begin(r->api->cat, "resource_put", &outer, err) < 0)
		return -1;
	rc = sch_resource_put(r->api->cat, project, name, r->body, r->body_len, r->principal.name,
			      replaced, err);
	if (rc == 0 && !*replaced)
		rc = sch_authz_object_create(r->api->cat, project, SCH_OBJ_RESOURCE, name,
					     r->principal.name, false, NULL, 0, err);
	if (sch_resource_txn_end(r->api->cat, "resource_put", outer, rc == 0,
				 rc == 0 ? err : NULL) < 0)
		rc = -1;
	return rc;
}

static void put_resource(struct sch_api_req *r, const char *project, const char *name)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct sch_resource_info info;
	bool replaced = false;
	int exists;

	r->event_name = "PutResource";
	/* refuse bad content before deciding: the answer says what is wrong
	 * with the upload whoever sends it, and nothing is stored */
	if (sch_resource_check(name, r->body, r->body_len, &err) < 0) {
		if (err.code == CMN_ELIMIT)
			sch_api_reply_error(r, 413, "EntityTooLarge", "%s", err.msg);
		else
			sch_api_reply_error(r, 400, "InvalidResource", "%s", err.msg);
		return;
	}
	exists = sch_resource_stat(r->api->cat, project, name, &info, &err);
	if (exists < 0) {
		sch_api_reply_err(r, &err);
		return;
	}
	if (exists ? !allowed(r, project, "odps:Write", SCH_OBJ_RESOURCE, info.name)
		   : !allowed(r, project, "odps:CreateResource", SCH_OBJ_PROJECT, NULL))
		return;
	if (store(r, project, exists ? info.name : name, &replaced, &err) < 0) {
		sch_api_reply_err(r, &err);
		return;
	}
	if (sch_resource_stat(r->api->cat, project, name, &info, &err) != 1) {
		sch_api_reply_err(r, &err);
		return;
	}
	sch_api_reply_json(r, replaced ? 200 : 201,
			   json_pack("{s:s, s:I, s:s, s:s, s:I, s:b}", "name", info.name, "size",
				     (json_int_t)info.size, "sha256", info.sha256, "owner",
				     info.owner, "created", (json_int_t)info.created, "replaced",
				     replaced));
}

static void get_resource(struct sch_api_req *r, const char *project, const char *name)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct sch_resource_info info;
	struct cmn_buf out;
	char *data;
	size_t len;
	int exists;

	r->event_name = "GetResource";
	exists = sch_resource_stat(r->api->cat, project, name, &info, &err);
	if (exists < 0) {
		sch_api_reply_err(r, &err);
		return;
	}
	/* decided before saying whether it exists: no probing of names */
	if (!allowed(r, project, "odps:Read", SCH_OBJ_RESOURCE, exists ? info.name : name))
		return;
	if (!exists) {
		sch_api_reply_error(r, 404, "NoSuchResource", "no resource '%s' in project %s",
				    name, project);
		return;
	}
	cmn_buf_init(&out, SCH_RESOURCE_MAX_BYTES);
	if (sch_resource_get(r->api->cat, project, name, &out, &err) < 0) {
		cmn_buf_free(&out);
		sch_api_reply_err(r, &err);
		return;
	}
	data = cmn_buf_steal(&out, &len);
	if (!data) {
		sch_api_reply_error(r, 500, "InternalError", "out of memory");
		return;
	}
	sch_api_reply_bytes(r, 200, "application/octet-stream", data, len);
}

static void delete_resource(struct sch_api_req *r, const char *project, const char *name)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct sch_resource_info info;
	bool outer;
	int exists, rc;

	r->event_name = "DeleteResource";
	exists = sch_resource_stat(r->api->cat, project, name, &info, &err);
	if (exists < 0) {
		sch_api_reply_err(r, &err);
		return;
	}
	if (!allowed(r, project, "odps:Delete", SCH_OBJ_RESOURCE, exists ? info.name : name))
		return;
	if (!exists) {
		sch_api_reply_error(r, 404, "NoSuchResource", "no resource '%s' in project %s",
				    name, project);
		return;
	}
	if (sch_resource_txn_begin(r->api->cat, "resource_drop", &outer, &err) < 0) {
		sch_api_reply_err(r, &err);
		return;
	}
	rc = sch_resource_delete(r->api->cat, project, info.name, &err);
	/* a resource put before the registry knew resources has no entry */
	if (rc == 0 &&
	    sch_authz_object_drop(r->api->cat, project, SCH_OBJ_RESOURCE, info.name, &err) < 0 &&
	    err.code != CMN_ENOTFOUND)
		rc = -1;
	if (sch_resource_txn_end(r->api->cat, "resource_drop", outer, rc == 0,
				 rc == 0 ? &err : NULL) < 0)
		rc = -1;
	if (rc < 0)
		sch_api_reply_err(r, &err);
	else
		sch_api_reply_json(r, 200, json_pack("{s:s}", "deleted", info.name));
}

static void list_resources(struct sch_api_req *r, const char *project)
{
	struct cmn_err err = CMN_ERR_INIT;
	json_t *list;

	r->event_name = "ListResources";
	if (!allowed(r, project, "odps:List", SCH_OBJ_PROJECT, NULL))
		return;
	list = sch_resource_list(r->api->cat, project, &err);
	if (!list)
		sch_api_reply_err(r, &err);
	else
		sch_api_reply_json(r, 200, json_pack("{s:o}", "resources", list));
}

void sch_api_route_resources(struct sch_api_req *r, const char *project, char **segs, size_t n)
{
	struct cmn_err err = CMN_ERR_INIT;
	char owner[300];
	const char *name = n == 2 ? segs[1] : NULL;

	r->event_name = n == 1 ? "ListResources" : "ResourceRequest";
	if (name) {
		if (!sch_resource_name_ok(name)) {
			sch_api_reply_error(r, 400, "InvalidResourceName",
					    "bad resource name '%.140s': 1..%d of [A-Za-z0-9_.-],"
					    " not starting with '-' or '.'",
					    name, SCH_RESOURCE_NAME_MAX);
			return;
		}
		snprintf(r->resource, sizeof(r->resource), "acs:odps:*:projects/%s/resources/%s",
			 project, name);
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
	if (n == 1 && r->method == EVHTTP_REQ_GET)
		list_resources(r, project);
	else if (name && r->method == EVHTTP_REQ_PUT)
		put_resource(r, project, name);
	else if (name && r->method == EVHTTP_REQ_GET)
		get_resource(r, project, name);
	else if (name && r->method == EVHTTP_REQ_DELETE)
		delete_resource(r, project, name);
	else if (n <= 2)
		sch_api_reply_error(r, 405, "MethodNotAllowed",
				    n == 1 ? "use GET" : "use PUT, GET or DELETE");
	else
		sch_api_reply_error(r, 404, "NotFound", "no such endpoint");
}
