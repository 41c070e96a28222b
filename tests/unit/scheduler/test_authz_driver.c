/* test_authz_driver — runs an authorization script against a real on-disk
 * catalog through sch_stmt_dispatch(), as several principals, and prints
 * what happened as JSON. Used by tests/integration/test_authz_decisions.py
 * (the decision table); not a unit test of its own.
 *
 *   test_authz_driver <catalog.db> < script.json > results.json
 *
 * Script: {"steps": [step, ...]} with steps
 *   {"op": "project", "name": "p1", "owner": "ALIYUN$o"}   (the API's table)
 *   {"op": "table", "project": "p1", "name": "t", "creator": "...",
 *    "view": false, "columns": [["a", -1], ["b", 2], ["dt", -1, true]]}
 *   {"op": "object", "project": "p1", "type": "function", "name": "f", "creator": "..."}
 *   {"op": "drop", "project": "p1", "type": "table", "name": "t"}
 *   {"op": "recreate_project", "name": "p1", "owner": "ALIYUN$o"}  (delete + create)
 *   {"op": "clock", "days": 200}
 *   {"op": "sql", "as": "RAM$acme:bob", "project": "p1", "sql": "...",
 *    "ip": "10.0.0.1", "super": false}
 * Output: one result per step: {"ok": true, "result": {...}, "audit": [...]}
 * or {"ok": false, "code": "denied", "message": "...", "audit": [...]}.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/authz.h"
#include "scheduler/netlinks.h"
#include "scheduler/stmt.h"

static void on_audit(void *arg, const struct sch_audit_event *ev)
{
	json_t *a = arg;
	json_array_append_new(a, json_pack("{s:s?,s:s?,s:s?,s:s?,s:s?}", "event", ev->event_name,
					   "resource", ev->resource, "decision", ev->decision,
					   "reason", ev->reason, "error_code", ev->error_code));
}

static enum sch_sql_objtype type_of(const char *s)
{
	static const char *const names[] = { "none",     "project",  "table",   "function",
					     "resource", "instance", "package", "networklink" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (s && strcmp(s, names[i]) == 0)
			return (enum sch_sql_objtype)i;
	return SCH_OBJ_NONE;
}

static void principal_of(const char *name, bool super, struct sch_principal *p)
{
	const char *d = strchr(name, '$');
	const char *c = d ? strchr(d, ':') : NULL;
	size_t n;

	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	d = d ? d + 1 : name;
	n = c ? (size_t)(c - d) : strlen(d);
	if (n >= sizeof(p->account))
		n = sizeof(p->account) - 1;
	memcpy(p->account, d, n);
	p->type = !c                                ? SCH_PRINCIPAL_ACCOUNT
		  : strncmp(c + 1, "role/", 5) == 0 ? SCH_PRINCIPAL_ROLE
						    : SCH_PRINCIPAL_USER;
	p->super_admin = super;
}

static int op_table(struct sch_catalog *cat, json_t *st, struct cmn_err *err)
{
	json_t *cols = json_object_get(st, "columns"), *c;
	struct sch_authz_column v[64];
	size_t i, n = 0;

	json_array_foreach(cols, i, c)
	{
		if (n == 64)
			break;
		v[n].name = json_string_value(json_array_get(c, 0));
		v[n].label = (int)json_integer_value(json_array_get(c, 1));
		v[n].partition = json_is_true(json_array_get(c, 2));
		n++;
	}
	return sch_authz_object_create(cat, json_string_value(json_object_get(st, "project")),
				       SCH_OBJ_TABLE,
				       json_string_value(json_object_get(st, "name")),
				       json_string_value(json_object_get(st, "creator")),
				       json_is_true(json_object_get(st, "view")), v, n, err);
}

static int op_project(struct sch_catalog *cat, json_t *st, struct cmn_err *err)
{
	sqlite3 *db = sch_catalog_db(cat);
	sqlite3_stmt *s = NULL;
	int rc;

	if (sqlite3_prepare_v2(db,
			       "INSERT INTO projects (name, owner, created_at) VALUES (?1, ?2, 0)",
			       -1, &s, NULL) != SQLITE_OK)
		return cmn_err_set(err, CMN_EIO, 0, "%s", sqlite3_errmsg(db));
	sqlite3_bind_text(s, 1, json_string_value(json_object_get(st, "name")), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, json_string_value(json_object_get(st, "owner")), -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : cmn_err_set(err, CMN_EIO, 0, "%s", sqlite3_errmsg(db));
}

static int op_delete_project(struct sch_catalog *cat, json_t *st, struct cmn_err *err)
{
	sqlite3 *db = sch_catalog_db(cat);
	sqlite3_stmt *s = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, "DELETE FROM projects WHERE name = ?1", -1, &s, NULL) !=
	    SQLITE_OK)
		return cmn_err_set(err, CMN_EIO, 0, "%s", sqlite3_errmsg(db));
	sqlite3_bind_text(s, 1, json_string_value(json_object_get(st, "name")), -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : cmn_err_set(err, CMN_EIO, 0, "%s", sqlite3_errmsg(db));
}

static json_t *op_sql(struct sch_catalog *cat, json_t *st, json_t *audit)
{
	struct sch_principal who;
	struct cmn_err err = CMN_ERR_INIT;
	const char *sql = json_string_value(json_object_get(st, "sql"));
	struct sch_stmt_ctx ctx = {
		.cat = cat,
		.principal = &who,
		.project = json_string_value(json_object_get(st, "project")),
		.source_ip = json_string_value(json_object_get(st, "ip")),
		.request_id = "test",
		.audit = on_audit,
		.audit_arg = audit,
	};
	json_t *result = NULL;

	principal_of(json_string_value(json_object_get(st, "as")),
		     json_is_true(json_object_get(st, "super")), &who);
	if (!ctx.source_ip)
		ctx.source_ip = "127.0.0.1";
	if (sch_stmt_dispatch(&ctx, sql ? sql : "", sql ? strlen(sql) : 0, &result, &err) < 0)
		return json_pack("{s:b,s:s,s:s,s:o}", "ok", 0, "code", cmn_code_name(err.code),
				 "message", err.msg, "audit", json_incref(audit));
	return json_pack("{s:b,s:o,s:o}", "ok", 1, "result", result ? result : json_null(), "audit",
			 json_incref(audit));
}

static json_t *run_step(struct sch_catalog *cat, json_t *st)
{
	const char *op = json_string_value(json_object_get(st, "op"));
	struct cmn_err err = CMN_ERR_INIT;
	json_t *audit = json_array(), *out;
	int rc = 0;

	if (!op) {
		rc = cmn_err_set(&err, CMN_EINVAL, 0, "step without op");
	} else if (strcmp(op, "sql") == 0) {
		out = op_sql(cat, st, audit);
		json_decref(audit);
		return out;
	} else if (strcmp(op, "project") == 0) {
		rc = op_project(cat, st, &err);
	} else if (strcmp(op, "table") == 0) {
		rc = op_table(cat, st, &err);
	} else if (strcmp(op, "object") == 0) {
		rc = sch_authz_object_create(
		    cat, json_string_value(json_object_get(st, "project")),
		    type_of(json_string_value(json_object_get(st, "type"))),
		    json_string_value(json_object_get(st, "name")),
		    json_string_value(json_object_get(st, "creator")), false, NULL, 0, &err);
	} else if (strcmp(op, "drop") == 0) {
		rc = sch_authz_object_drop(cat, json_string_value(json_object_get(st, "project")),
					   type_of(json_string_value(json_object_get(st, "type"))),
					   json_string_value(json_object_get(st, "name")), &err);
	} else if (strcmp(op, "recreate_project") == 0) {
		rc = sqlite3_exec(sch_catalog_db(cat), "BEGIN", NULL, NULL, NULL) == SQLITE_OK ? 0
											       : -1;
		if (rc == 0 && op_delete_project(cat, st, &err) == 0 &&
		    op_project(cat, st, &err) == 0)
			rc = sqlite3_exec(sch_catalog_db(cat), "COMMIT", NULL, NULL, NULL) ==
				     SQLITE_OK
				 ? 0
				 : -1;
		else
			rc = cmn_err_set(&err, CMN_EIO, 0, "recreate project failed");
	} else if (strcmp(op, "clock") == 0) {
		sch_authz_clock_offset(json_integer_value(json_object_get(st, "days")) * 86400);
	} else {
		rc = cmn_err_set(&err, CMN_EINVAL, 0, "unknown op %s", op);
	}
	json_decref(audit);
	if (rc < 0)
		return json_pack("{s:b,s:s,s:s}", "ok", 0, "code", cmn_code_name(err.code),
				 "message", err.msg);
	return json_pack("{s:b}", "ok", 1);
}

int main(int argc, char **argv)
{
	struct sch_catalog *cat = NULL;
	struct cmn_err err = CMN_ERR_INIT;
	json_error_t jerr;
	json_t *script, *steps, *st, *results;
	size_t i;

	if (argc != 2) {
		fprintf(stderr, "usage: %s <catalog.db> < script.json\n", argv[0]);
		return 2;
	}
	script = json_loadf(stdin, 0, &jerr);
	steps = json_object_get(script, "steps");
	if (!json_is_array(steps)) {
		fprintf(stderr, "script: %s\n", script ? "no steps" : jerr.text);
		return 2;
	}
	/* the projects table is the API's; made here as its contract says, before
	 * the authz migrations so they tie into it (project deletion trigger) */
	if (sch_catalog_open(&cat, argv[1], &err) < 0 ||
	    sqlite3_exec(sch_catalog_db(cat),
			 "CREATE TABLE IF NOT EXISTS projects (name TEXT PRIMARY KEY,"
			 " owner TEXT NOT NULL, created_at INTEGER NOT NULL)",
			 NULL, NULL, NULL) != SQLITE_OK ||
	    sch_authz_migrate(cat, &err) < 0 || sch_netlinks_migrate(cat, &err) < 0) {
		fprintf(stderr, "catalog: %s\n", err.msg);
		return 1;
	}
	sch_stmt_register("authz", sch_authz_stmt_handler);
	/* operator statements on network links, as cordond registers them */
	sch_stmt_register("netlinks", sch_netlinks_stmt_handler);
	results = json_array();
	json_array_foreach(steps, i, st) json_array_append_new(results, run_step(cat, st));
	json_dumpf(results, stdout, JSON_INDENT(1));
	fputc('\n', stdout);
	json_decref(results);
	json_decref(script);
	sch_catalog_close(cat);
	return 0;
}
