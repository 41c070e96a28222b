/* scheduler/api_admin.c — the management endpoints: accounts (operators),
 * RAM users, roles and access keys of an account (operators and the
 * account itself), projects (create: any authenticated principal, owned by
 * its account; describe/delete: operators and the owner), jobs, audit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>

#include "common/cleanup.h"
#include "common/parse.h"
#include "scheduler/api.h"
#include "scheduler/metrics.h"
#include "scheduler/stmt.h"

#define ASSUMED_ROLE_SECONDS 3600

static bool is_get(struct sch_api_req *r)
{
	return r->method == EVHTTP_REQ_GET;
}

static bool is_post(struct sch_api_req *r)
{
	return r->method == EVHTTP_REQ_POST;
}

static bool is_delete(struct sch_api_req *r)
{
	return r->method == EVHTTP_REQ_DELETE;
}

static void not_allowed(struct sch_api_req *r)
{
	sch_api_reply_error(r, 405, "MethodNotAllowed", "method not allowed on %s", r->path);
}

static bool require_operator(struct sch_api_req *r)
{
	if (r->principal.super_admin)
		return true;
	sch_api_reply_error(r, 403, "AccessDenied", "%s is not a Cordon operator",
			    r->principal.name);
	return false;
}

static json_t *key_json(const struct sch_new_key *k)
{
	return json_pack("{s:s, s:s}", "accessKeyId", k->id, "secretAccessKey", k->secret);
}

static const char *body_str(json_t *body, const char *name)
{
	return json_string_value(json_object_get(body, name));
}

static void reply_list(struct sch_api_req *r, const char *field, json_t *list, struct cmn_err *err)
{
	if (!list) {
		sch_api_reply_err(r, err);
		return;
	}
	sch_api_reply_json(r, 200, json_pack("{s:o}", field, list));
}

static void reply_done(struct sch_api_req *r, int rc, struct cmn_err *err, int status)
{
	if (rc < 0)
		sch_api_reply_err(r, err);
	else
		sch_api_reply_json(r, status, json_object());
}

/* /v1/admin/accounts[/{a}] */
void sch_api_route_admin(struct sch_api_req *r, char **segs, size_t n)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct sch_new_key key;

	/* storage glue: /v1/admin/storage... and /v1/admin/projects/{p}/key */
	if ((n >= 1 && strcmp(segs[0], "storage") == 0) ||
	    (n == 3 && strcmp(segs[0], "projects") == 0 && strcmp(segs[2], "key") == 0)) {
		sch_api_route_admin_storage(r, segs, n);
		return;
	}
	if (n < 1 || strcmp(segs[0], "accounts") != 0 || n > 2) {
		r->event_name = "AdminRequest";
		sch_api_reply_error(r, 404, "NotFound", "no such endpoint");
		return;
	}
	r->event_name = n == 1 ? (is_post(r) ? "CreateAccount" : "ListAccounts") : "DeleteAccount";
	if (n == 2)
		snprintf(r->resource, sizeof(r->resource), "acs:cordon:*:accounts/%s", segs[1]);
	if (!require_operator(r))
		return;
	if (n == 1 && is_get(r)) {
		reply_list(r, "accounts", sch_account_list(r->api->acc, &err), &err);
	} else if (n == 1 && is_post(r)) {
		json_t *body = sch_api_body_json(r);
		const char *name = body_str(body, "name");
		if (!body)
			return;
		snprintf(r->resource, sizeof(r->resource), "acs:cordon:*:accounts/%s",
			 name ? name : "");
		if (!name)
			sch_api_reply_error(r, 400, "InvalidArgument",
					    "\"name\" (string) is required");
		else if (sch_account_create(r->api->acc, name, false, &key, &err) < 0)
			sch_api_reply_err(r, &err);
		else
			sch_api_reply_json(r, 201,
					   json_pack("{s:s, s:s+, s:o}", "account", name,
						     "principal", "ALIYUN$", name, "accessKey",
						     key_json(&key)));
		OPENSSL_cleanse(&key, sizeof(key));
		json_decref(body);
	} else if (n == 2 && is_delete(r)) {
		reply_done(r, sch_account_delete(r->api->acc, segs[1], &err), &err, 200);
	} else {
		not_allowed(r);
	}
}

static void route_members(struct sch_api_req *r, const char *account, const char *kind, char **segs,
			  size_t n)
{
	struct cmn_err err = CMN_ERR_INIT;
	bool role = strcmp(kind, "role") == 0;

	if (n == 0 && is_get(r)) {
		r->event_name = role ? "ListRoles" : "ListUsers";
		reply_list(r, role ? "roles" : "users",
			   sch_member_list(r->api->acc, kind, account, &err), &err);
	} else if (n == 0 && is_post(r)) {
		json_t *body;
		const char *name;
		r->event_name = role ? "CreateRole" : "AddUser";
		body = sch_api_body_json(r);
		if (!body)
			return;
		name = body_str(body, "name");
		snprintf(r->resource, sizeof(r->resource), "acs:ram::%s:%s/%s", account, kind,
			 name ? name : "");
		if (!name)
			sch_api_reply_error(r, 400, "InvalidArgument",
					    "\"name\" (string) is required");
		else
			reply_done(r, sch_member_create(r->api->acc, kind, account, name, &err),
				   &err, 201);
		json_decref(body);
	} else if (n == 1 && is_delete(r)) {
		r->event_name = role ? "DeleteRole" : "RemoveUser";
		snprintf(r->resource, sizeof(r->resource), "acs:ram::%s:%s/%s", account, kind,
			 segs[0]);
		reply_done(r, sch_member_delete(r->api->acc, kind, account, segs[0], &err), &err,
			   200);
	} else {
		r->event_name = role ? "RoleRequest" : "UserRequest";
		not_allowed(r);
	}
}

static void route_keys(struct sch_api_req *r, const char *account, char **segs, size_t n)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct sch_new_key key;
	int rc;

	if (n >= 1)
		snprintf(r->resource, sizeof(r->resource), "acs:ram::%s:accesskey/%s", account,
			 segs[0]);
	if (n == 0 && is_get(r)) {
		struct evkeyvalq q;
		const char *user;
		r->event_name = "ListAccessKeys";
		evhttp_parse_query_str(r->query ? r->query : "", &q);
		user = evhttp_find_header(&q, "user");
		reply_list(r, "accessKeys", sch_key_list(r->api->acc, account, user, &err), &err);
		evhttp_clear_headers(&q);
	} else if (n == 0 && is_post(r)) {
		json_t *body;
		const char *user;
		r->event_name = "CreateAccessKey";
		body = r->body_len ? sch_api_body_json(r) : json_object();
		if (!body)
			return;
		user = body_str(body, "user");
		if (user) {
			struct sch_principal p;
			char name[300];
			snprintf(name, sizeof(name), "RAM$%s:%s", account, user);
			if (sch_accounts_lookup_principal(r->api->acc, name, &p, &err) < 0) {
				sch_api_reply_err(r, &err);
				json_decref(body);
				return;
			}
		}
		rc = sch_key_create(r->api->acc, account, user, NULL, 0, &key, &err);
		if (rc < 0)
			sch_api_reply_err(r, &err);
		else
			sch_api_reply_json(r, 201, json_pack("{s:o}", "accessKey", key_json(&key)));
		OPENSSL_cleanse(&key, sizeof(key));
		json_decref(body);
	} else if (n == 1 && is_delete(r)) {
		r->event_name = "DeleteAccessKey";
		reply_done(r, sch_key_delete(r->api->acc, account, segs[0], &err), &err, 200);
	} else if (n == 2 && is_post(r) &&
		   (strcmp(segs[1], "disable") == 0 || strcmp(segs[1], "enable") == 0)) {
		bool enable = strcmp(segs[1], "enable") == 0;
		r->event_name = enable ? "EnableAccessKey" : "DisableAccessKey";
		reply_done(r, sch_key_set_active(r->api->acc, account, segs[0], enable, &err), &err,
			   200);
	} else if (n == 2 && is_post(r) && strcmp(segs[1], "rotate") == 0) {
		r->event_name = "RotateAccessKey";
		if (sch_key_rotate(r->api->acc, account, segs[0], &key, &err) < 0)
			sch_api_reply_err(r, &err);
		else
			sch_api_reply_json(r, 201,
					   json_pack("{s:o, s:s}", "accessKey", key_json(&key),
						     "disabled", segs[0]));
		OPENSSL_cleanse(&key, sizeof(key));
	} else {
		r->event_name = "AccessKeyRequest";
		not_allowed(r);
	}
}

/* POST /v1/accounts/{a}/roles/{r}/assume: a RAM user (or the account) of
 * the same account gets a key for the role that expires in an hour. */
static void assume_role(struct sch_api_req *r, const char *account, const char *role)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct sch_principal p;
	struct sch_new_key key;
	char name[300];
	int64_t expires = (int64_t)time(NULL) + ASSUMED_ROLE_SECONDS;

	r->event_name = "AssumeRole";
	snprintf(r->resource, sizeof(r->resource), "acs:ram::%s:role/%s", account, role);
	if (strcmp(r->principal.account, account) != 0 || r->principal.type == SCH_PRINCIPAL_ROLE) {
		sch_api_reply_error(r, 403, "AccessDenied",
				    "only users of account %s can assume its roles", account);
		return;
	}
	snprintf(name, sizeof(name), "RAM$%s:role/%s", account, role);
	if (sch_accounts_lookup_principal(r->api->acc, name, &p, &err) < 0 ||
	    sch_key_create(r->api->acc, account, NULL, role, expires, &key, &err) < 0) {
		sch_api_reply_err(r, &err);
		return;
	}
	sch_api_reply_json(r, 201,
			   json_pack("{s:o, s:s, s:I}", "accessKey", key_json(&key), "principal",
				     name, "expiresAt", (json_int_t)expires));
	OPENSSL_cleanse(&key, sizeof(key));
}

/* /v1/accounts/{a}/{users|roles|keys}/... */
void sch_api_route_accounts(struct sch_api_req *r, char **segs, size_t n)
{
	struct cmn_err err = CMN_ERR_INIT;
	const char *account = n >= 1 ? segs[0] : "";
	int rc;

	r->event_name = "AccountRequest";
	if (n >= 4 && strcmp(segs[1], "roles") == 0 && strcmp(segs[3], "assume") == 0 && n == 4 &&
	    is_post(r)) {
		assume_role(r, account, segs[2]);
		return;
	}
	if (n < 2) {
		sch_api_reply_error(r, 404, "NotFound", "no such endpoint");
		return;
	}
	snprintf(r->resource, sizeof(r->resource), "acs:ram::%s:%s", account, segs[1]);
	if (!r->principal.super_admin && (r->principal.type != SCH_PRINCIPAL_ACCOUNT ||
					  strcmp(r->principal.account, account) != 0)) {
		sch_api_reply_error(r, 403, "AccessDenied",
				    "%s may not manage account %s (operators and the account "
				    "itself may)",
				    r->principal.name, account);
		return;
	}
	rc = sch_account_exists(r->api->acc, account, &err);
	if (rc <= 0) {
		if (rc == 0)
			sch_api_reply_error(r, 404, "NoSuchAccount", "no such account '%s'",
					    account);
		else
			sch_api_reply_err(r, &err);
		return;
	}
	if (strcmp(segs[1], "users") == 0)
		route_members(r, account, "user", segs + 2, n - 2);
	else if (strcmp(segs[1], "roles") == 0)
		route_members(r, account, "role", segs + 2, n - 2);
	else if (strcmp(segs[1], "keys") == 0)
		route_keys(r, account, segs + 2, n - 2);
	else
		sch_api_reply_error(r, 404, "NotFound", "no such endpoint");
}
