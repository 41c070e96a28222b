/* scheduler/authz_exec.c — the statement handler of the authorization
 * module: classify, parse, run every statement in one transaction, emit the
 * audit records, return the rows. The executors live in authz_stmt.c and
 * authz_exec_pkg.c; the helpers they share are here. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/cleanup.h"
#include "scheduler/authz_exec.h"
#include "scheduler/sql_parse.h"

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int audit_push(struct exec *ex, const struct sch_audit_event *ev, bool change)
{
	struct audit_rec *nv, *r;

	if (ex->naudit >= 100000)
		return cmn_err_set(ex->err, CMN_ELIMIT, 0, "too many audit records in one job");
	nv = realloc(ex->audit, (ex->naudit + 1) * sizeof(*nv));
	if (!nv)
		return cmn_err_set(ex->err, CMN_ENOMEM, 0, "out of memory");
	ex->audit = nv;
	r = &ex->audit[ex->naudit++];
	*r = (struct audit_rec){ dup_or_null(ev->event_name), dup_or_null(ev->resource),
				 dup_or_null(ev->decision),   dup_or_null(ev->reason),
				 dup_or_null(ev->error_code), change };
	return 0;
}

int authz_ex_audit_change(struct exec *ex, const char *event, const char *what)
{
	char res[SCH_AUTHZ_RESOURCE_MAX], reason[600];
	struct sch_audit_event ev = { .event_name = event, .resource = res, .reason = reason };

	snprintf(res, sizeof(res), "acs:odps:*:projects/%s", ex->ctx->project);
	snprintf(reason, sizeof(reason), "%s %s by %s", event, what ? what : "",
		 ex->ctx->principal->name);
	return audit_push(ex, &ev, true);
}

static void audit_flush(struct exec *ex, bool committed)
{
	for (size_t i = 0; i < ex->naudit; i++) {
		struct audit_rec *r = &ex->audit[i];
		struct sch_audit_event ev = { r->event_name, r->resource, r->decision, r->reason,
					      r->error_code };
		if (ex->ctx->audit && (committed || !r->change))
			ex->ctx->audit(ex->ctx->audit_arg, &ev);
		free(r->event_name);
		free(r->resource);
		free(r->decision);
		free(r->reason);
		free(r->error_code);
	}
	free(ex->audit);
	ex->audit = NULL;
	ex->naudit = 0;
}

int authz_ex_fail(struct exec *ex, int code, const char *fmt, ...)
{
	char msg[CMN_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return cmn_err_set(ex->err, code, 0, "%d:%d: %s", ex->stmt ? ex->stmt->line : 1,
			   ex->stmt ? ex->stmt->col : 1, msg);
}

static void remember_read(struct exec *ex, const struct sch_authz_resource *res, bool via_package)
{
	size_t i = ex->nreads;

	if (i >= 64 || res->type != SCH_OBJ_TABLE || !res->name)
		return;
	snprintf(ex->read_names[i][0], sizeof(ex->read_names[i][0]), "%s", res->project);
	snprintf(ex->read_names[i][1], sizeof(ex->read_names[i][1]), "%s", res->name);
	ex->reads[i] =
	    (struct sch_authz_read){ ex->read_names[i][0], ex->read_names[i][1], via_package };
	ex->nreads++;
}

int authz_ex_check(struct exec *ex, const char *action, const struct sch_authz_resource *res,
		   bool *via_package)
{
	struct sch_authz_decision d;
	struct sch_authz_context actx = { .project = ex->ctx->project,
					  .source_ip = ex->ctx->source_ip,
					  .task_type = "SQL",
					  .reads = ex->reads,
					  .nreads = ex->nreads };
	struct sch_audit_event ev = { .event_name = "Authorize" };

	if (sch_authz_decide(ex->ctx->cat, ex->ctx->principal, action, res, &actx, &d, ex->err) < 0)
		return -1;
	ev.resource = d.resource;
	ev.decision = d.allow ? "allow" : "deny";
	ev.reason = d.reason;
	ev.error_code = d.allow ? NULL : "AccessDenied";
	if (audit_push(ex, &ev, false) < 0)
		return -1;
	if (d.allow && strcmp(action, "odps:Select") == 0)
		remember_read(ex, res, d.via_package);
	if (via_package)
		*via_package = d.via_package;
	if (ex->explain) {
		json_t *row = json_pack("[sssss]", ex->ctx->principal->name, action, d.resource,
					d.allow ? "allow" : "deny", d.rule ? d.rule : "");
		if (!row || json_array_append_new(ex->explain_rows, row) < 0)
			return cmn_err_set(ex->err, CMN_ENOMEM, 0, "out of memory");
		return 0;
	}
	if (!d.allow)
		return cmn_err_set(ex->err, CMN_EDENIED, 0, "%s", d.reason);
	return 0;
}

int authz_ex_check_obj(struct exec *ex, const char *action, enum sch_sql_objtype type,
		       const char *name)
{
	struct sch_authz_resource r = { authz_ex_project(ex), type, name, NULL };
	return authz_ex_check(ex, action, &r, NULL);
}

int authz_ex_check_project(struct exec *ex, const char *action)
{
	struct sch_authz_resource r = { ex->ctx->project, SCH_OBJ_PROJECT, NULL, NULL };
	return authz_ex_check(ex, action, &r, NULL);
}

const char *authz_ex_project(struct exec *ex)
{
	return ex->ctx->project;
}

int authz_ex_result(struct exec *ex, const char *const *cols, size_t ncols)
{
	json_t *c = json_array();

	json_decref(ex->result);
	ex->result = NULL;
	if (!c)
		return cmn_err_set(ex->err, CMN_ENOMEM, 0, "out of memory");
	for (size_t i = 0; i < ncols; i++)
		json_array_append_new(c, json_string(cols[i]));
	ex->result = json_pack("{s:o,s:[]}", "columns", c, "rows");
	if (!ex->result)
		return cmn_err_set(ex->err, CMN_ENOMEM, 0, "out of memory");
	return 0;
}

int authz_ex_row(struct exec *ex, const char *types, ...)
{
	json_t *row = json_array();
	va_list ap;

	if (!row)
		return cmn_err_set(ex->err, CMN_ENOMEM, 0, "out of memory");
	va_start(ap, types);
	for (const char *t = types; *t; t++) {
		json_t *v;
		if (*t == 's') {
			const char *s = va_arg(ap, const char *);
			v = s ? json_string(s) : json_null();
		} else if (*t == 'i') {
			v = json_integer(va_arg(ap, int64_t));
		} else {
			v = json_boolean(va_arg(ap, int));
		}
		json_array_append_new(row, v);
	}
	va_end(ap);
	if (json_array_append_new(json_object_get(ex->result, "rows"), row) < 0)
		return cmn_err_set(ex->err, CMN_ENOMEM, 0, "out of memory");
	return 0;
}

int authz_ex_ok(struct exec *ex)
{
	static const char *const cols[] = { "result" };
	if (ex->explain)
		return 0;
	if (authz_ex_result(ex, cols, 1) < 0)
		return -1;
	return authz_ex_row(ex, "s", "OK");
}

/* The authz rows every project has: flags with MaxCompute's defaults and the
 * built-in admin role. Created lazily so that projects made by the API need
 * no call into this module. */
static int project_init(struct exec *ex)
{
	cleanup_free char *owner = NULL;

	if (authz_project_owner(ex->db, ex->ctx->project, &owner, ex->err) < 0)
		return -1;
	if (!owner)
		return cmn_err_set(ex->err, CMN_ENOTFOUND, 0, "project '%s' does not exist",
				   ex->ctx->project);
	if (authz_db_run(ex->db, ex->err,
			 "INSERT OR IGNORE INTO authz_project_flags (project) VALUES (?1)", "s",
			 ex->ctx->project) < 0)
		return -1;
	return authz_db_run(ex->db, ex->err,
			    "INSERT OR IGNORE INTO authz_roles (project, role, created_at)"
			    " VALUES (?1, 'admin', ?2)",
			    "si", ex->ctx->project, sch_authz_now());
}

static int run_script(struct exec *ex, const struct sch_sql_script *sc)
{
	if (project_init(ex) < 0)
		return -1;
	for (size_t i = 0; i < sc->n; i++) {
		ex->stmt = sc->v[i];
		ex->nreads = 0;
		if (authz_run_stmt(ex, sc->v[i]) < 0)
			return -1;
	}
	return 0;
}

static int run_in_transaction(struct exec *ex, const struct sch_sql_script *sc)
{
	int rc;

	if (sqlite3_exec(ex->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return cmn_err_set(ex->err, CMN_EIO, 0, "catalog: begin: %s",
				   sqlite3_errmsg(ex->db));
	rc = run_script(ex, sc);
	if (rc == 0 && sqlite3_exec(ex->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		rc =
		    cmn_err_set(ex->err, CMN_EIO, 0, "catalog: commit: %s", sqlite3_errmsg(ex->db));
	}
	if (rc < 0)
		sqlite3_exec(ex->db, "ROLLBACK", NULL, NULL, NULL);
	audit_flush(ex, rc == 0);
	return rc;
}

static bool starts_as_security(const char *sql, size_t len)
{
	static const char *const words[] = { "GRANT",   "REVOKE",    "PUT",   "GET",     "LIST",
					     "INSTALL", "UNINSTALL", "CLEAR", "EXPLAIN", "WHOAMI" };
	size_t i = 0, n;

	while (i < len && (sql[i] == ' ' || sql[i] == '\t' || sql[i] == '\n' || sql[i] == '\r'))
		i++;
	for (n = 0; i + n < len && ((sql[i + n] | 0x20) >= 'a' && (sql[i + n] | 0x20) <= 'z'); n++)
		;
	for (size_t w = 0; w < CMN_ARRAY_SIZE(words); w++)
		if (strlen(words[w]) == n && strncasecmp(sql + i, words[w], n) == 0)
			return true;
	return false;
}

/* cordond migrates at start-up; this makes the handler safe to register
 * without that call too (migrations are idempotent; checked once per
 * catalog handle). */
static int ensure_schema(struct sch_catalog *cat, struct cmn_err *err)
{
	static struct sch_catalog *migrated;

	if (migrated == cat)
		return 0;
	if (sch_authz_migrate(cat, err) < 0)
		return -1;
	migrated = cat;
	return 0;
}

int sch_authz_stmt_handler(struct sch_stmt_ctx *ctx, const char *sql, size_t len, json_t **result,
			   struct cmn_err *err)
{
	struct sch_sql_classes cls;
	struct sch_sql_script sc;
	struct exec ex = { .ctx = ctx, .db = sch_catalog_db(ctx->cat), .err = err };

	*result = NULL;
	if (sch_sql_classify(sql, len, &cls, err) < 0) {
		/* text our lexer cannot read (e.g. SETPROJECT ...=2001:0db8::/32)
		 * is someone else's unless it plainly starts as ours */
		if (!starts_as_security(sql, len))
			return 0;
		return -1;
	}
	if (cls.security == 0)
		return 0;
	if (cls.other)
		return cmn_err_set(
		    err, CMN_EINVAL, 0,
		    "1:1: a job cannot mix security statements with other statements");
	if (!ctx->principal || !ctx->project)
		return cmn_err_set(err, CMN_EINVAL, 0, "no principal or project for the statement");
	if (ensure_schema(ctx->cat, err) < 0)
		return -1;
	if (sch_sql_parse(sql, len, &sc, err) < 0)
		return -1;
	if (run_in_transaction(&ex, &sc) < 0) {
		sch_sql_script_free(&sc);
		json_decref(ex.result);
		return -1;
	}
	sch_sql_script_free(&sc);
	if (!ex.result && authz_ex_ok(&ex) < 0)
		return -1;
	*result = ex.result;
	return 1;
}
