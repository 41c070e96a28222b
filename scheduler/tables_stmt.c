/* scheduler/tables_stmt.c — the statements that only change or show table
 * metadata: CREATE TABLE (no AS), CREATE VIEW, DROP VIEW, ALTER TABLE
 * ADD/DROP PARTITION, DESC, SHOW TABLES, SHOW PARTITIONS, SHOW FUNCTIONS.
 * Each is compiled (resolved, every access decided and audited) by
 * sch_job_compile first. Statements that move data (SELECT, INSERT, CTAS,
 * DROP TABLE's crypto-shred) and CREATE FUNCTION (its kind comes from the
 * script) belong to the job runner; this handler returns 0 for them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "scheduler/authz.h"
#include "scheduler/plan.h"
#include "scheduler/tables.h"

static bool ours(enum sch_q_kind k)
{
	switch (k) {
	case SCH_Q_CREATE_TABLE:
	case SCH_Q_CREATE_VIEW:
	case SCH_Q_DROP_VIEW:
	case SCH_Q_ADD_PARTITION:
	case SCH_Q_DROP_PARTITION:
	case SCH_Q_DESC:
	case SCH_Q_SHOW_TABLES:
	case SCH_Q_SHOW_PARTITIONS:
	case SCH_Q_SHOW_FUNCTIONS:
		return true;
	default:
		return false;
	}
}

int sch_tables_partition_spec(const struct sch_tabledef *t, const struct sch_q_stmt *s, char *out,
			      size_t outlen, struct cmn_err *err)
{
	size_t n = 0;
	out[0] = '\0';
	for (size_t j = t->ncols - t->npcols; j < t->ncols; j++) {
		const char *v = NULL;
		for (size_t i = 0; i < s->npart; i++)
			if (strcasecmp(s->part[i].col, t->cols[j].name) == 0)
				v = s->part[i].value;
		if (!v)
			return cmn_err_set(err, CMN_EINVAL, 0,
					   "%d:%d: partition column '%s' missing", s->line, s->col,
					   t->cols[j].name);
		if (strchr(v, '/') || strchr(v, '='))
			return cmn_err_set(err, CMN_EINVAL, 0,
					   "%d:%d: partition value '%s' contains '/' or '='",
					   s->line, s->col, v);
		n += (size_t)snprintf(out + n, outlen > n ? outlen - n : 0, "%s%s=%s", n ? "/" : "",
				      t->cols[j].name, v);
		if (n >= outlen)
			return cmn_err_set(err, CMN_ELIMIT, 0, "%d:%d: partition spec too long",
					   s->line, s->col);
	}
	return 0;
}

static json_t *result(const char *const *cols, size_t n)
{
	json_t *c = json_array();
	for (size_t i = 0; c && i < n; i++)
		json_array_append_new(c, json_string(cols[i]));
	return json_pack("{s:o, s:[]}", "columns", c, "rows");
}

static json_t *ok_result(void)
{
	return json_pack("{s:[s], s:[[s]]}", "columns", "result", "rows", "OK");
}

static int db_fail(sqlite3 *db, struct cmn_err *err)
{
	return cmn_err_set(err, CMN_EIO, 0, "catalog: %s", sqlite3_errmsg(db));
}

/* Runs a query with text parameters and adds its rows (all text) to r. */
static int rows_of(sqlite3 *db, json_t *r, struct cmn_err *err, const char *sql, int n,
		   const char *const *args)
{
	sqlite3_stmt *st = NULL;
	json_t *rows = json_object_get(r, "rows");
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_fail(db, err);
	for (int i = 0; i < n; i++)
		sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *row = json_array();
		for (int c = 0; row && c < sqlite3_column_count(st); c++) {
			const unsigned char *v = sqlite3_column_text(st, c);
			json_array_append_new(row, v ? json_string((const char *)v) : json_null());
		}
		json_array_append_new(rows, row);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_fail(db, err);
}

/* Registers the table or view in the job tables and the authorization
 * registry in one savepoint. */
static int create(struct sch_stmt_ctx *ctx, const struct sch_job_compiled *c, struct cmn_err *err)
{
	const struct sch_q_stmt *s = c->stmt;
	sqlite3 *db = sch_catalog_db(ctx->cat);
	struct sch_tabledef t = { 0 };
	struct sch_authz_column *acols = NULL;
	struct sch_q_coldef *cols = NULL;
	char(*bufs)[32] = NULL;
	size_t n =
	    s->kind == SCH_Q_CREATE_VIEW ? sch_q_query_width(s->query) : s->ncols + s->npcols;
	int rc = -1;

	if (n == 0 || n > 1024)
		return cmn_err_set(err, CMN_ELIMIT, 0, "%zu columns (1..1024)", n);
	acols = calloc(n, sizeof(*acols));
	cols = calloc(n, sizeof(*cols));
	bufs = calloc(n, sizeof(*bufs));
	if (!acols || !cols || !bufs) {
		cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		goto out;
	}

	t.project = (char *)(uintptr_t)(s->name.project ? s->name.project : ctx->project);
	t.name = s->name.name;
	t.owner = (char *)(uintptr_t)ctx->principal->name;
	if (s->kind == SCH_Q_CREATE_VIEW) {
		const struct sch_q_select *sel = s->query->v[0];
		t.is_view = true;
		t.view_sql = s->query_text;
		t.ncols = n;
		for (size_t i = 0; i < t.ncols; i++) {
			cols[i].name =
			    (char *)(uintptr_t)sch_q_item_name(sel, i, bufs[i], sizeof(bufs[i]));
			cols[i].type = sel->udtf_cols.n ? sel->items[0].e->ty
				       : sel->transform ? SCH_QT_STRING
							: sel->items[i].e->ty;
			if (cols[i].type == SCH_QT_NULL)
				cols[i].type = SCH_QT_STRING;
			cols[i].comment = NULL;
		}
		t.cols = cols;
	} else {
		t.ncols = s->ncols + s->npcols;
		t.npcols = s->npcols;
		for (size_t i = 0; i < t.ncols; i++)
			cols[i] = i < s->ncols ? s->cols[i] : s->pcols[i - s->ncols];
		t.cols = cols;
	}
	for (size_t i = 0; i < t.ncols; i++)
		acols[i] = (struct sch_authz_column){ t.cols[i].name, -1, i >= t.ncols - t.npcols };
	if (sqlite3_exec(db, "SAVEPOINT tables_create", NULL, NULL, NULL) != SQLITE_OK) {
		db_fail(db, err);
		goto out;
	}
	rc = sch_tables_put(ctx->cat, &t, s->comment, s->has_lifecycle ? s->lifecycle : 0, err);
	if (rc == 0)
		rc = sch_authz_object_create(ctx->cat, t.project, SCH_OBJ_TABLE, t.name, t.owner,
					     t.is_view, acols, t.ncols, err);
	sqlite3_exec(db,
		     rc == 0 ? "RELEASE tables_create"
			     : "ROLLBACK TO tables_create; RELEASE tables_create",
		     NULL, NULL, NULL);
out:
	free(acols);
	free(cols);
	free(bufs);
	return rc;
}

static int drop_view(struct sch_stmt_ctx *ctx, const struct sch_job_compiled *c,
		     struct cmn_err *err)
{
	const struct sch_tabledef *t = c->res.target;
	sqlite3 *db = sch_catalog_db(ctx->cat);
	int rc;

	if (!t)
		return 0; /* IF EXISTS */
	if (sqlite3_exec(db, "SAVEPOINT tables_drop", NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(db, err);
	rc = sch_tables_drop(ctx->cat, t->project, t->name, err);
	if (rc == 0)
		rc = sch_authz_object_drop(ctx->cat, t->project, SCH_OBJ_TABLE, t->name, err);
	sqlite3_exec(
	    db, rc == 0 ? "RELEASE tables_drop" : "ROLLBACK TO tables_drop; RELEASE tables_drop",
	    NULL, NULL, NULL);
	return rc;
}

static int partition(struct sch_stmt_ctx *ctx, const struct sch_job_compiled *c,
		     struct cmn_err *err)
{
	const struct sch_q_stmt *s = c->stmt;
	const struct sch_tabledef *t = c->res.target;
	sqlite3 *db = sch_catalog_db(ctx->cat);
	sqlite3_stmt *st = NULL;
	char spec[2048], now[32];
	int rc;

	if (!t)
		return 0;
	if (sch_tables_partition_spec(t, s, spec, sizeof(spec), err) < 0)
		return -1;
	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	if (sqlite3_prepare_v2(
		db,
		s->kind == SCH_Q_ADD_PARTITION
		    ? "INSERT INTO job_partitions (project, table_name, spec, created_at)"
		      " VALUES (?1, ?2, ?3, ?4)"
		    : "DELETE FROM job_partitions WHERE project = ?1 AND table_name = ?2"
		      " AND spec = ?3",
		-1, &st, NULL) != SQLITE_OK)
		return db_fail(db, err);
	sqlite3_bind_text(st, 1, t->project, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, t->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, spec, -1, SQLITE_STATIC);
	if (s->kind == SCH_Q_ADD_PARTITION)
		sqlite3_bind_text(st, 4, now, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return s->if_not_exists
			   ? 0
			   : cmn_err_set(err, CMN_EEXIST, 0, "%d:%d: partition %s exists", s->line,
					 s->col, spec);
	if (rc != SQLITE_DONE)
		return db_fail(db, err);
	if (s->kind == SCH_Q_DROP_PARTITION && sqlite3_changes(db) == 0 && !s->if_exists)
		return cmn_err_set(err, CMN_ENOTFOUND, 0, "%d:%d: partition %s does not exist",
				   s->line, s->col, spec);
	return 0;
}

static int show(struct sch_stmt_ctx *ctx, const struct sch_job_compiled *c, json_t **out,
		struct cmn_err *err)
{
	static const char *const desc_cols[] = { "name", "type", "comment", "partition" };
	static const char *const tables_cols[] = { "name", "kind", "owner" };
	static const char *const part_cols[] = { "partition" };
	static const char *const fn_cols[] = { "name", "kind", "class", "signature", "resources" };
	const struct sch_q_stmt *s = c->stmt;
	const struct sch_tabledef *t = c->res.target;
	sqlite3 *db = sch_catalog_db(ctx->cat);
	const char *args[2] = { ctx->project, NULL };

	switch (s->kind) {
	case SCH_Q_DESC:
		*out = result(desc_cols, 4);
		args[0] = t->project;
		args[1] = t->name;
		return rows_of(db, *out, err,
			       "SELECT name, type, comment, CASE is_partition WHEN 1 THEN 'yes'"
			       " ELSE 'no' END FROM job_columns WHERE project = ?1 AND"
			       " table_name = ?2 ORDER BY position",
			       2, args);
	case SCH_Q_SHOW_TABLES:
		*out = result(tables_cols, 3);
		return rows_of(db, *out, err,
			       "SELECT name, kind, owner FROM job_tables WHERE project = ?1"
			       " ORDER BY name",
			       1, args);
	case SCH_Q_SHOW_PARTITIONS:
		*out = result(part_cols, 1);
		args[0] = t->project;
		args[1] = t->name;
		return rows_of(db, *out, err,
			       "SELECT spec FROM job_partitions WHERE project = ?1 AND"
			       " table_name = ?2 ORDER BY spec",
			       2, args);
	default:
		*out = result(fn_cols, 5);
		return rows_of(db, *out, err,
			       "SELECT name, kind, script || '.' || entry, signature, resources"
			       " FROM job_functions WHERE project = ?1 ORDER BY name",
			       1, args);
	}
}

static void audit_change(struct sch_stmt_ctx *ctx, const struct sch_q_stmt *s)
{
	static const char *const names[] = {
		[SCH_Q_CREATE_TABLE] = "CreateTable",     [SCH_Q_CREATE_VIEW] = "CreateView",
		[SCH_Q_DROP_VIEW] = "DropView",           [SCH_Q_ADD_PARTITION] = "AddPartition",
		[SCH_Q_DROP_PARTITION] = "DropPartition",
	};
	char res[SCH_AUTHZ_RESOURCE_MAX];
	struct sch_authz_resource r = { s->name.project ? s->name.project : ctx->project,
					SCH_OBJ_TABLE, s->name.name, NULL };
	struct sch_audit_event ev = { 0 };

	if (!ctx->audit || (size_t)s->kind >= sizeof(names) / sizeof(names[0]) || !names[s->kind])
		return;
	sch_authz_resource_name(&r, res, sizeof(res));
	ev.event_name = names[s->kind];
	ev.resource = res;
	ctx->audit(ctx->audit_arg, &ev);
}

int sch_tables_stmt_handler(struct sch_stmt_ctx *ctx, const char *sql, size_t len,
			    json_t **result_out, struct cmn_err *err)
{
	struct sch_q_script sc;
	struct sch_job_request req = sch_job_request_of(ctx, 1);
	struct sch_job_compiled c;
	bool mine = false;
	int rc;

	/* a text of another grammar, or a job: someone else's */
	if (sch_q_parse(sql, len, &sc, err) < 0) {
		cmn_err_clear(err);
		return 0;
	}
	for (size_t i = 0; i < sc.n; i++)
		if (sc.v[i]->kind != SCH_Q_SET)
			mine = ours(sc.v[i]->kind);
	sch_q_script_free(&sc);
	if (!mine)
		return 0;
	if (sch_job_compile(&req, sql, len, &c, err) < 0)
		return -1;
	switch (c.stmt->kind) {
	case SCH_Q_CREATE_TABLE:
	case SCH_Q_CREATE_VIEW:
		rc = c.res.target ? 0 : create(ctx, &c, err); /* IF NOT EXISTS */
		break;
	case SCH_Q_DROP_VIEW:
		rc = drop_view(ctx, &c, err);
		break;
	case SCH_Q_ADD_PARTITION:
	case SCH_Q_DROP_PARTITION:
		rc = partition(ctx, &c, err);
		break;
	default:
		rc = show(ctx, &c, result_out, err);
		sch_job_compiled_free(&c);
		if (rc < 0 || !*result_out) {
			json_decref(*result_out);
			*result_out = NULL;
			return rc < 0 ? -1 : cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		}
		return 1;
	}
	if (rc == 0)
		audit_change(ctx, c.stmt);
	sch_job_compiled_free(&c);
	if (rc < 0)
		return -1;
	*result_out = ok_result();
	return *result_out ? 1 : cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
}
