/* scheduler/api_storage.c — operator endpoints of the storage glue:
 *   GET  /v1/admin/storage             status (servers, racks, state, ...)
 *   POST /v1/admin/storage/scrub       verify every replica now, repair bad
 *   POST /v1/admin/storage/repair      re-replicate until all have 3
 *                                      ({"timeoutSeconds": N}, default 30)
 *   GET  /v1/admin/projects/{p}/key    the project key's current version
 *   POST /v1/admin/projects/{p}/key    {"rotate": true} or {"byok": base64}
 * Operators only (403 AccessDenied otherwise). Every request is audited by
 * api.c with the event names set here. Handlers run under api->lock, so a
 * scrub or repair holds other requests back while it runs (bounded by the
 * repair timeout; a scrub reads every replica once). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <event2/http.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "scheduler/api.h"

#define REPAIR_DEFAULT_S 30
#define REPAIR_MAX_S 300

static bool operator_only(struct sch_api_req *r)
{
	if (r->principal.super_admin)
		return true;
	sch_api_reply_error(r, 403, "AccessDenied", "%s is not a Cordon operator",
			    r->principal.name);
	return false;
}

/* Storage's own failures get codes of their own; the rest as api.c maps. */
static void reply_storage_err(struct sch_api_req *r, const struct cmn_err *err)
{
	if (err->code == CMN_EUNAVAIL)
		sch_api_reply_error(r, 503, "StorageUnavailable", "%s", err->msg);
	else if (err->code == CMN_ETIMEOUT)
		sch_api_reply_error(r, 504, "RepairIncomplete", "%s", err->msg);
	else
		sch_api_reply_err(r, err);
}

static void reply_status(struct sch_api_req *r, json_t *st, struct cmn_err *err)
{
	if (st)
		sch_api_reply_json(r, 200, st);
	else
		reply_storage_err(r, err);
}

/* An optional JSON body: NULL and no reply when there is none. */
static bool optional_body(struct sch_api_req *r, json_t **body)
{
	*body = NULL;
	if (r->body_len == 0)
		return true;
	*body = sch_api_body_json(r);
	return *body != NULL;
}

static void route_storage(struct sch_api_req *r, char **segs, size_t n)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct sch_storage *s = r->api->storage;
	json_t *body = NULL;

	snprintf(r->resource, sizeof(r->resource), "acs:cordon:*:storage");
	if (n == 1 && r->method == EVHTTP_REQ_GET) {
		r->event_name = "GetStorageStatus";
		if (operator_only(r))
			reply_status(r, sch_storage_status(s, &err), &err);
	} else if (n == 2 && strcmp(segs[1], "scrub") == 0 && r->method == EVHTTP_REQ_POST) {
		r->event_name = "ScrubStorage";
		if (operator_only(r))
			reply_status(r, sch_storage_scrub(s, &err), &err);
	} else if (n == 2 && strcmp(segs[1], "repair") == 0 && r->method == EVHTTP_REQ_POST) {
		json_int_t secs = REPAIR_DEFAULT_S;
		json_t *t;
		r->event_name = "RepairStorage";
		if (!operator_only(r) || !optional_body(r, &body))
			return;
		t = json_object_get(body, "timeoutSeconds");
		if (t && (!json_is_integer(t) || json_integer_value(t) < 1 ||
			  json_integer_value(t) > REPAIR_MAX_S))
			sch_api_reply_error(r, 400, "InvalidArgument",
					    "\"timeoutSeconds\" must be an integer 1..%d",
					    REPAIR_MAX_S);
		else
			reply_status(
			    r,
			    sch_storage_repair(
				s, (uint64_t)(t ? json_integer_value(t) : secs) * 1000, &err),
			    &err);
		json_decref(body);
	} else {
		r->event_name = "AdminRequest";
		sch_api_reply_error(r, n <= 2 ? 405 : 404, n <= 2 ? "MethodNotAllowed" : "NotFound",
				    "no such storage endpoint: %s %s",
				    r->method == EVHTTP_REQ_GET ? "GET" : "POST", r->path);
	}
}

/* Exactly 32 bytes of standard base64; wiped by the caller. */
static int decode_byok(const char *text, uint8_t key[32])
{
	uint8_t out[48];
	size_t len = strlen(text), pad = 0;
	int n;

	if (len != 44)
		return -1;
	pad = text[43] == '=' ? (text[42] == '=' ? 2 : 1) : 0;
	n = EVP_DecodeBlock(out, (const unsigned char *)text, (int)len);
	if (n < 0 || (size_t)n - pad != 32) {
		OPENSSL_cleanse(out, sizeof(out));
		return -1;
	}
	memcpy(key, out, 32);
	OPENSSL_cleanse(out, sizeof(out));
	return 0;
}

static void set_project_key(struct sch_api_req *r, const char *project)
{
	struct cmn_err err = CMN_ERR_INIT;
	json_t *body = sch_api_body_json(r);
	const char *byok_text;
	json_t *rotate;
	uint8_t key[32];
	uint32_t version = 0;
	int rc;

	if (!body)
		return;
	byok_text = json_string_value(json_object_get(body, "byok"));
	rotate = json_object_get(body, "rotate");
	r->event_name = byok_text ? "ImportProjectKey" : "RotateProjectKey";
	if (!!byok_text == json_is_true(rotate)) {
		sch_api_reply_error(r, 400, "InvalidArgument",
				    "give {\"rotate\": true} or {\"byok\": base64 of 32 bytes}");
	} else if (byok_text && decode_byok(byok_text, key) < 0) {
		sch_api_reply_error(r, 400, "InvalidArgument",
				    "\"byok\" must be standard base64 of exactly 32 bytes");
	} else {
		rc = sch_storage_project_key_set(r->api->storage, project, byok_text ? key : NULL,
						 &version, &err);
		if (rc < 0)
			sch_api_reply_err(r, &err);
		else
			sch_api_reply_json(r, 200,
					   json_pack("{s:s, s:i, s:s}", "project", project,
						     "keyVersion", (json_int_t)version, "origin",
						     byok_text ? "byok" : "generated"));
	}
	OPENSSL_cleanse(key, sizeof(key));
	/* the body held the imported key: wipe its copy before freeing */
	if (byok_text)
		OPENSSL_cleanse((void *)(uintptr_t)byok_text, strlen(byok_text));
	json_decref(body);
}

static void route_project_key(struct sch_api_req *r, const char *project)
{
	struct cmn_err err = CMN_ERR_INIT;
	json_t *p;
	uint32_t version = 0;

	snprintf(r->project, sizeof(r->project), "%s", project);
	snprintf(r->resource, sizeof(r->resource), "acs:cordon:*:projects/%s/key", project);
	r->event_name = r->method == EVHTTP_REQ_GET ? "GetProjectKey" : "RotateProjectKey";
	if (!operator_only(r))
		return;
	p = sch_project_get(r->api->acc, project, &err);
	if (!p) {
		sch_api_reply_err(r, &err);
		return;
	}
	json_decref(p);
	if (r->method == EVHTTP_REQ_POST) {
		set_project_key(r, project);
	} else if (r->method == EVHTTP_REQ_GET) {
		if (sch_storage_project_key_version(r->api->storage, project, &version, &err) < 0)
			sch_api_reply_err(r, &err);
		else
			sch_api_reply_json(r, 200,
					   json_pack("{s:s, s:i}", "project", project, "keyVersion",
						     (json_int_t)version));
	} else {
		sch_api_reply_error(r, 405, "MethodNotAllowed", "method not allowed on %s",
				    r->path);
	}
}

void sch_api_route_admin_storage(struct sch_api_req *r, char **segs, size_t n)
{
	if (n >= 1 && strcmp(segs[0], "storage") == 0)
		route_storage(r, segs, n);
	else
		route_project_key(r, segs[1]);
}
