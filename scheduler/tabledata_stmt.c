/* scheduler/tabledata_stmt.c — the statements that touch table data without
 * a job: `DROP TABLE [IF EXISTS] t` (crypto-shreds the rows, then removes
 * the metadata and the authorization object), `ALTER TABLE t DROP [IF
 * EXISTS] PARTITION (...)` (the partition's rows go with its registration)
 * and `SETPROJECT odps.security.enabledownloadprivilege=true|false`
 * (MaxCompute's switch that makes bulk download need odps:Download on top
 * of odps:Select). Registered before "tables" and the job handler; every
 * other text is left to the next handler (0).
 *
 * Statement handlers run under the API lock; sch_tabledata_drop() takes that
 * lock itself around its catalog statements and must not be called with it
 * held, so DROP TABLE releases it for the storage part. The compiled
 * statement (and its decision) is kept across that window: a concurrent
 * request may change grants meanwhile, which is the same race any request
 * already decided has. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scheduler/authz.h"
#include "scheduler/dbutil.h"
#include "scheduler/plan.h"
#include "scheduler/tabledata.h"
#include "scheduler/tables.h"

static struct sch_tabledata stmt_td;

int sch_tabledata_download_privilege(struct sch_catalog *cat, const char *project, bool *on,
				     struct cmn_err *err)
{
	sqlite3 *db = sch_catalog_db(cat);
	sqlite3_stmt *st = sch_db_prepare(
	    db, err, "SELECT download_privilege FROM tabledata_project_flags WHERE project = ?1",
	    "s", project);
	int rc;

	*on = false;
	if (!st)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*on = sqlite3_column_int(st, 0) != 0;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return cmn_err_set(err, CMN_EIO, 0, "catalog: %s", sqlite3_errmsg(db));
	return 0;
}

int sch_tabledata_set_download_privilege(struct sch_catalog *cat, const char *project, bool on,
					 struct cmn_err *err)
{
	return sch_db_run(sch_catalog_db(cat), err,
			  "INSERT INTO tabledata_project_flags (project, download_privilege)"
			  " VALUES (?1, ?2) ON CONFLICT (project) DO UPDATE SET"
			  " download_privilege = excluded.download_privilege",
			  "si", project, (int64_t)on) < 0
		   ? -1
		   : 0;
}

static void audit(struct sch_stmt_ctx *ctx, const char *event, const char *resource,
		  const char *decision, const char *reason, const char *code)
{
	struct sch_audit_event ev = { event, resource, decision, reason, code };
	if (ctx->audit)
		ctx->audit(ctx->audit_arg, &ev);
}

static json_t *ok_result(void)
{
	return json_pack("{s:[s], s:[[s]]}", "columns", "result", "rows", "OK");
}

/* ---- DROP TABLE ------------------------------------------------------------ */

static int drop_metadata(struct sch_stmt_ctx *ctx, const struct sch_tabledef *t,
			 struct cmn_err *err)
{
	sqlite3 *db = sch_catalog_db(ctx->cat);
	int rc;

	if (sqlite3_exec(db, "SAVEPOINT td_drop", NULL, NULL, NULL) != SQLITE_OK)
		return cmn_err_set(err, CMN_EIO, 0, "catalog: %s", sqlite3_errmsg(db));
	rc = sch_tables_drop(ctx->cat, t->project, t->name, err);
	if (rc == 0)
		rc = sch_authz_object_drop(ctx->cat, t->project, SCH_OBJ_TABLE, t->name, err);
	sqlite3_exec(db, rc == 0 ? "RELEASE td_drop" : "ROLLBACK TO td_drop; RELEASE td_drop", NULL,
		     NULL, NULL);
	return rc;
}

static int drop_table(struct sch_stmt_ctx *ctx, const char *sql, size_t len, json_t **result,
		      struct cmn_err *err)
{
	struct sch_job_request req = sch_job_request_of(ctx, 1);
	struct sch_tabledata td = stmt_td;
	struct sch_job_compiled c;
	char res[SCH_AUTHZ_RESOURCE_MAX];
	const struct sch_tabledef *t;
	int rc = 0;

	/* resolves the table and decides odps:Drop (audited) */
	if (sch_job_compile(&req, sql, len, &c, err) < 0)
		return -1;
	t = c.res.target;
	if (t) {
		struct sch_authz_resource r = { t->project, SCH_OBJ_TABLE, t->name, NULL };
		sch_authz_resource_name(&r, res, sizeof(res));
		/* the rows first: a crash after this leaves an empty table that a
		 * second DROP removes, never rows without their table */
		if (td.lock)
			pthread_mutex_unlock(td.lock);
		rc = sch_tabledata_drop(&td, t->project, t->name, err);
		if (td.lock)
			pthread_mutex_lock(td.lock);
		if (rc == 0)
			rc = drop_metadata(ctx, t, err);
		if (rc == 0)
			audit(ctx, "DropTable", res, NULL, NULL, NULL);
	}
	sch_job_compiled_free(&c);
	if (rc < 0)
		return -1;
	*result = ok_result();
	return *result ? 1 : cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
}

/* ---- ALTER TABLE t DROP [IF EXISTS] PARTITION (...) ------------------------- */

static int partition_registered(struct sch_catalog *cat, const struct sch_tabledef *t,
				const char *spec, bool *found, struct cmn_err *err)
{
	sqlite3 *db = sch_catalog_db(cat);
	sqlite3_stmt *st = sch_db_prepare(db, err,
					  "SELECT 1 FROM job_partitions WHERE project = ?1 AND"
					  " table_name = ?2 AND spec = ?3",
					  "sss", t->project, t->name, spec);
	int rc;

	if (!st)
		return -1;
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	*found = rc == SQLITE_ROW;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return cmn_err_set(err, CMN_EIO, 0, "catalog: %s", sqlite3_errmsg(db));
	return 0;
}

static int drop_partition(struct sch_stmt_ctx *ctx, const char *sql, size_t len, json_t **result,
			  struct cmn_err *err)
{
	struct sch_job_request req = sch_job_request_of(ctx, 1);
	struct sch_tabledata td = stmt_td;
	struct sch_job_compiled c;
	const struct sch_tabledef *t;
	char spec[2048], res[SCH_AUTHZ_RESOURCE_MAX];
	bool found = false;
	int rc = 0;

	/* resolves table and partition spec, decides odps:Alter (audited) */
	if (sch_job_compile(&req, sql, len, &c, err) < 0)
		return -1;
	t = c.res.target;
	if (t) {
		rc = sch_tables_partition_spec(t, c.stmt, spec, sizeof(spec), err);
		if (rc == 0)
			rc = partition_registered(ctx->cat, t, spec, &found, err);
		if (rc == 0 && !found && !c.stmt->if_exists)
			rc =
			    cmn_err_set(err, CMN_ENOTFOUND, 0, "%d:%d: partition %s does not exist",
					c.stmt->line, c.stmt->col, spec);
	}
	if (t && rc == 0 && found) {
		struct sch_authz_resource r = { t->project, SCH_OBJ_TABLE, t->name, NULL };
		sch_authz_resource_name(&r, res, sizeof(res));
		/* storage I/O: not under the API lock (tabledata.h takes it) */
		if (td.lock)
			pthread_mutex_unlock(td.lock);
		rc = sch_tabledata_drop_partition(&td, t->project, t->name, spec, err);
		if (td.lock)
			pthread_mutex_lock(td.lock);
		if (rc == 0)
			audit(ctx, "DropPartition", res, NULL, spec, NULL);
	}
	sch_job_compiled_free(&c);
	if (rc < 0)
		return -1;
	*result = ok_result();
	return *result ? 1 : cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
}

/* ---- SETPROJECT odps.security.enabledownloadprivilege ---------------------- */

static int set_download(struct sch_stmt_ctx *ctx, const char *value, size_t vlen, json_t **result,
			struct cmn_err *err)
{
	struct sch_authz_resource r = { ctx->project, SCH_OBJ_PROJECT, NULL, NULL };
	struct sch_authz_context actx = { .project = ctx->project, .source_ip = ctx->source_ip };
	struct sch_authz_decision *d = calloc(1, sizeof(*d));
	bool on;
	int rc;

	if (!d)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	if (vlen == 4 && strncasecmp(value, "true", 4) == 0) {
		on = true;
	} else if (vlen == 5 && strncasecmp(value, "false", 5) == 0) {
		on = false;
	} else {
		free(d);
		return cmn_err_set(err, CMN_EINVAL, 0,
				   "odps.security.enabledownloadprivilege takes true or false");
	}
	/* a project-wide protection switch, like SET LabelSecurity: the
	 * owner's (and operators') decision */
	rc = sch_authz_decide(ctx->cat, ctx->principal, "odps:SetSecurityConfiguration", &r, &actx,
			      d, err);
	if (rc == 0 && !d->allow) {
		audit(ctx, "SetSecurityConfiguration", d->resource, "deny", d->reason,
		      "AccessDenied");
		rc = cmn_err_set(err, CMN_EDENIED, 0, "%s", d->reason);
	} else if (rc == 0) {
		rc = sch_tabledata_set_download_privilege(ctx->cat, ctx->project, on, err);
		if (rc == 0)
			audit(ctx, "SetSecurityConfiguration", d->resource, "allow",
			      on ? "odps.security.enabledownloadprivilege=true"
				 : "odps.security.enabledownloadprivilege=false",
			      NULL);
	}
	free(d);
	if (rc < 0)
		return -1;
	*result = ok_result();
	return *result ? 1 : cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
}

/* Trims s[0..len) and one trailing ';'; false if empty. */
static bool trim(const char **s, size_t *len)
{
	while (*len && isspace((unsigned char)**s))
		(*s)++, (*len)--;
	while (*len && isspace((unsigned char)(*s)[*len - 1]))
		(*len)--;
	if (*len && (*s)[*len - 1] == ';')
		(*len)--;
	while (*len && isspace((unsigned char)(*s)[*len - 1]))
		(*len)--;
	return *len > 0;
}

/* "SETPROJECT odps.security.enabledownloadprivilege = v": 1 with the value,
 * 0 when the text is something else. */
static int setproject_download(const char *s, size_t len, const char **value, size_t *vlen)
{
	static const char key[] = "odps.security.enabledownloadprivilege";
	const char *p = s + 10, *end = s + len;

	if (len <= 10 || strncasecmp(s, "SETPROJECT", 10) != 0 || !isspace((unsigned char)s[10]))
		return 0;
	while (p < end && isspace((unsigned char)*p))
		p++;
	if ((size_t)(end - p) < sizeof(key) - 1 || strncasecmp(p, key, sizeof(key) - 1) != 0)
		return 0;
	p += sizeof(key) - 1;
	while (p < end && isspace((unsigned char)*p))
		p++;
	if (p == end || *p != '=')
		return 0;
	p++;
	while (p < end && isspace((unsigned char)*p))
		p++;
	*value = p;
	*vlen = (size_t)(end - p);
	return 1;
}

int sch_tabledata_stmt_handler(struct sch_stmt_ctx *ctx, const char *sql, size_t len,
			       json_t **result, struct cmn_err *err)
{
	const char *s = sql, *value;
	size_t n = len, vlen;
	enum sch_q_kind kind;

	if (!stmt_td.cat || stmt_td.cat != ctx->cat)
		return 0; /* not configured for this catalog (sch_tabledata_stmt_use) */
	if (trim(&s, &n) && !memchr(s, ';', n) && setproject_download(s, n, &value, &vlen))
		return set_download(ctx, value, vlen, result, err);
	kind = sch_q_text_kind(sql, len);
	if (kind == SCH_Q_DROP_TABLE)
		return drop_table(ctx, sql, len, result, err);
	if (kind == SCH_Q_DROP_PARTITION)
		return drop_partition(ctx, sql, len, result, err);
	return 0;
}

void sch_tabledata_stmt_use(struct sch_catalog *cat, struct sch_storage *storage,
			    pthread_mutex_t *lock)
{
	stmt_td = (struct sch_tabledata){ cat, storage, lock };
}
