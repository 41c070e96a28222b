/* scheduler/tables.c — table/view/function metadata in the catalog; see
 * tables.h. */
#include "scheduler/tables.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "scheduler/dbutil.h"
#include "scheduler/resolve.h"

static const struct sch_migration migrations[] = {
	{ 1, "CREATE TABLE job_tables ("
	     " project TEXT NOT NULL, name TEXT NOT NULL COLLATE NOCASE,"
	     " kind TEXT NOT NULL CHECK (kind IN ('table', 'view')),"
	     " owner TEXT NOT NULL, comment TEXT, lifecycle INTEGER, view_sql TEXT,"
	     " version INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL,"
	     " PRIMARY KEY (project, name));"
	     "CREATE TABLE job_columns ("
	     " project TEXT NOT NULL, table_name TEXT NOT NULL COLLATE NOCASE,"
	     " position INTEGER NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,"
	     " comment TEXT, is_partition INTEGER NOT NULL DEFAULT 0,"
	     " PRIMARY KEY (project, table_name, position),"
	     " FOREIGN KEY (project, table_name) REFERENCES job_tables (project, name)"
	     " ON DELETE CASCADE);"
	     "CREATE TABLE job_partitions ("
	     " project TEXT NOT NULL, table_name TEXT NOT NULL COLLATE NOCASE,"
	     " spec TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 0,"
	     " created_at INTEGER NOT NULL, PRIMARY KEY (project, table_name, spec),"
	     " FOREIGN KEY (project, table_name) REFERENCES job_tables (project, name)"
	     " ON DELETE CASCADE);"
	     "CREATE TABLE job_functions ("
	     " project TEXT NOT NULL, name TEXT NOT NULL COLLATE NOCASE,"
	     " kind TEXT NOT NULL CHECK (kind IN ('scalar', 'aggregate', 'table')),"
	     " script TEXT NOT NULL, entry TEXT NOT NULL, signature TEXT,"
	     " columns TEXT, resources TEXT NOT NULL, owner TEXT NOT NULL,"
	     " created_at INTEGER NOT NULL, PRIMARY KEY (project, name));" },
};

int sch_tables_migrate(struct sch_catalog *cat, struct cmn_err *err)
{
	/* A deleted project's tables, views and functions go with it: a tenant
	 * who creates a project of the same name later must not see them
	 * (their rows were crypto-shredded with the project's keys). */
	if (sch_catalog_migrate(cat, "tables", migrations,
				sizeof(migrations) / sizeof(migrations[0]), err) < 0 ||
	    sch_db_on_project_delete(sch_catalog_db(cat), "tables_project_deleted",
				     "DELETE FROM job_partitions WHERE project = OLD.name;"
				     " DELETE FROM job_columns WHERE project = OLD.name;"
				     " DELETE FROM job_tables WHERE project = OLD.name;"
				     " DELETE FROM job_functions WHERE project = OLD.name;",
				     err) < 0)
		return cmn_err_wrap(err, "tables");
	return 0;
}

void sch_tabledef_free(struct sch_tabledef *t)
{
	if (!t)
		return;
	free(t->project);
	free(t->name);
	free(t->owner);
	free(t->view_sql);
	for (size_t i = 0; i < t->ncols; i++) {
		free(t->cols[i].name);
		free(t->cols[i].comment);
	}
	free(t->cols);
	free(t);
}

void sch_funcdef_free(struct sch_funcdef *f)
{
	if (!f)
		return;
	free(f->project);
	free(f->name);
	free(f->script);
	free(f->entry);
	free(f->args);
	sch_sql_list_free(&f->columns);
	sch_sql_list_free(&f->resources);
	free(f);
}

/* Splits "a, b,c" into l (blanks around items dropped, empty items skipped). */
static int split(const char *s, struct sch_sql_list *l, struct cmn_err *err)
{
	while (s && *s) {
		const char *end = strchr(s, ',');
		size_t n = end ? (size_t)(end - s) : strlen(s);
		const char *b = s;
		char **nv;
		while (n && *b == ' ') {
			b++;
			n--;
		}
		while (n && b[n - 1] == ' ')
			n--;
		if (n) {
			if (l->n >= SCH_Q_MAX_LIST)
				return cmn_err_set(err, CMN_ELIMIT, 0, "list too long");
			nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
			if (!nv)
				return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
			l->v = nv;
			l->v[l->n] = strndup(b, n);
			if (!l->v[l->n])
				return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
			l->n++;
		}
		s = end ? end + 1 : NULL;
	}
	return 0;
}

int sch_signature_parse(const char *sig, struct sch_funcdef *f, struct cmn_err *err)
{
	struct sch_sql_list args = { 0 };
	const char *arrow = strstr(sig, "->");
	char *lhs;
	int rc = -1, t;

	if (!arrow)
		return cmn_err_set(err, CMN_EINVAL, 0, "signature '%s' has no '->'", sig);
	lhs = strndup(sig, (size_t)(arrow - sig));
	if (!lhs)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	if (split(lhs, &args, err) < 0)
		goto out;
	free(f->args);
	f->args = calloc(args.n ? args.n : 1, sizeof(*f->args));
	if (!f->args) {
		cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		goto out;
	}
	f->nargs = args.n;
	for (size_t i = 0; i < args.n; i++) {
		t = sch_q_type_parse(args.v[i]);
		if (t < 0) {
			cmn_err_set(err, CMN_EINVAL, 0, "signature '%s': unknown type '%s'", sig,
				    args.v[i]);
			goto out;
		}
		f->args[i] = (enum sch_q_type)t;
	}
	arrow += 2;
	while (*arrow == ' ')
		arrow++;
	t = sch_q_type_parse(arrow);
	if (t < 0) {
		cmn_err_set(err, CMN_EINVAL, 0, "signature '%s': unknown result type", sig);
		goto out;
	}
	f->ret = (enum sch_q_type)t;
	f->has_signature = true;
	rc = 0;
out:
	free(lhs);
	sch_sql_list_free(&args);
	return rc;
}

static char *col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);
	return s ? strdup((const char *)s) : NULL;
}

static int load_columns(sqlite3 *db, struct sch_tabledef *t, struct cmn_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(db,
			       "SELECT name, type, comment, is_partition FROM job_columns WHERE"
			       " project = ?1 AND table_name = ?2 ORDER BY position",
			       -1, &st, NULL) != SQLITE_OK)
		return cmn_err_set(err, CMN_EIO, 0, "catalog: %s", sqlite3_errmsg(db));
	sqlite3_bind_text(st, 1, t->project, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, t->name, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct sch_q_coldef *nv = realloc(t->cols, (t->ncols + 1) * sizeof(*nv));
		int ty;
		if (!nv) {
			sqlite3_finalize(st);
			return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		}
		t->cols = nv;
		memset(&nv[t->ncols], 0, sizeof(*nv));
		nv[t->ncols].name = col_dup(st, 0);
		nv[t->ncols].comment = col_dup(st, 2);
		ty = sch_q_type_parse((const char *)sqlite3_column_text(st, 1));
		nv[t->ncols].type = ty > 0 ? (enum sch_q_type)ty : SCH_QT_STRING;
		t->npcols += sqlite3_column_int(st, 3) ? 1 : 0;
		t->ncols++;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0
				 : cmn_err_set(err, CMN_EIO, 0, "catalog: %s", sqlite3_errmsg(db));
}

int sch_tables_get(struct sch_catalog *cat, const char *project, const char *name,
		   struct sch_tabledef **out, struct cmn_err *err)
{
	sqlite3 *db = sch_catalog_db(cat);
	sqlite3_stmt *st = NULL;
	struct sch_tabledef *t;
	int rc;

	*out = NULL;
	if (sqlite3_prepare_v2(
		db,
		"SELECT project, name, kind, owner, view_sql, version FROM job_tables"
		" WHERE project = ?1 AND name = ?2",
		-1, &st, NULL) != SQLITE_OK)
		return cmn_err_set(err, CMN_EIO, 0, "catalog: %s", sqlite3_errmsg(db));
	sqlite3_bind_text(st, 1, project, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		return rc == SQLITE_DONE
			   ? 0
			   : cmn_err_set(err, CMN_EIO, 0, "catalog: %s", sqlite3_errmsg(db));
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		sqlite3_finalize(st);
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	}
	t->project = col_dup(st, 0);
	t->name = col_dup(st, 1);
	t->is_view = strcmp((const char *)sqlite3_column_text(st, 2), "view") == 0;
	t->owner = col_dup(st, 3);
	t->view_sql = col_dup(st, 4);
	t->version = sqlite3_column_int64(st, 5);
	sqlite3_finalize(st);
	if (!t->project || !t->name || !t->owner || (t->is_view && !t->view_sql)) {
		sch_tabledef_free(t);
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	}
	if (load_columns(db, t, err) < 0) {
		sch_tabledef_free(t);
		return -1;
	}
	*out = t;
	return 0;
}

static int exec_bind(sqlite3 *db, const char *sql, struct cmn_err *err, int n, const char **s)
{
	sqlite3_stmt *st = NULL;
	int rc;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return cmn_err_set(err, CMN_EIO, 0, "catalog: %s", sqlite3_errmsg(db));
	for (int i = 0; i < n; i++)
		sqlite3_bind_text(st, i + 1, s[i], -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return cmn_err_set(err, CMN_EEXIST, 0, "'%s' already exists", n > 1 ? s[1] : "?");
	if (rc != SQLITE_DONE)
		return cmn_err_set(err, CMN_EIO, 0, "catalog: %s", sqlite3_errmsg(db));
	return 0;
}

int sch_tables_put(struct sch_catalog *cat, const struct sch_tabledef *t, const char *comment,
		   int64_t lifecycle, struct cmn_err *err)
{
	sqlite3 *db = sch_catalog_db(cat);
	char lc[32], now[32];
	const char *a[8];

	snprintf(lc, sizeof(lc), "%lld", (long long)lifecycle);
	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	if (sqlite3_exec(db, "SAVEPOINT tables_put", NULL, NULL, NULL) != SQLITE_OK)
		return cmn_err_set(err, CMN_EIO, 0, "catalog: %s", sqlite3_errmsg(db));
	a[0] = t->project;
	a[1] = t->name;
	a[2] = t->is_view ? "view" : "table";
	a[3] = t->owner ? t->owner : "";
	a[4] = comment;
	a[5] = lifecycle > 0 ? lc : NULL;
	a[6] = t->view_sql;
	a[7] = now;
	if (exec_bind(db,
		      "INSERT INTO job_tables (project, name, kind, owner, comment, lifecycle,"
		      " view_sql, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
		      err, 8, a) < 0)
		goto fail;
	for (size_t i = 0; i < t->ncols; i++) {
		char pos[32];
		snprintf(pos, sizeof(pos), "%zu", i);
		a[2] = pos;
		a[3] = t->cols[i].name;
		a[4] = sch_q_type_name(t->cols[i].type);
		a[5] = t->cols[i].comment;
		a[6] = i >= t->ncols - t->npcols ? "1" : "0";
		if (exec_bind(db,
			      "INSERT INTO job_columns (project, table_name, position, name, type,"
			      " comment, is_partition) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
			      err, 7, a) < 0)
			goto fail;
	}
	sqlite3_exec(db, "RELEASE tables_put", NULL, NULL, NULL);
	return 0;
fail:
	sqlite3_exec(db, "ROLLBACK TO tables_put; RELEASE tables_put", NULL, NULL, NULL);
	return -1;
}

int sch_tables_drop(struct sch_catalog *cat, const char *project, const char *name,
		    struct cmn_err *err)
{
	const char *a[2] = { project, name };
	return exec_bind(sch_catalog_db(cat),
			 "DELETE FROM job_tables WHERE project = ?1 AND name = ?2", err, 2, a);
}

int sch_functions_put(struct sch_catalog *cat, const struct sch_funcdef *f, const char *signature,
		      const char *owner, struct cmn_err *err)
{
	static const char *const kinds[] = { "", "scalar", "aggregate", "table" };
	char cols[4096] = "", res[4096] = "", now[32];
	size_t n = 0, m = 0;
	const char *a[10];

	for (size_t i = 0; i < f->columns.n && n < sizeof(cols); i++)
		n += (size_t)snprintf(cols + n, sizeof(cols) - n, "%s%s", i ? "," : "",
				      f->columns.v[i]);
	for (size_t i = 0; i < f->resources.n && m < sizeof(res); i++)
		m += (size_t)snprintf(res + m, sizeof(res) - m, "%s%s", i ? "," : "",
				      f->resources.v[i]);
	if (n >= sizeof(cols) || m >= sizeof(res))
		return cmn_err_set(err, CMN_ELIMIT, 0, "function '%s': lists too long", f->name);
	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	a[0] = f->project;
	a[1] = f->name;
	a[2] = kinds[f->kind <= SCH_FN_TABLE ? f->kind : 0];
	a[3] = f->script;
	a[4] = f->entry;
	a[5] = signature;
	a[6] = cols;
	a[7] = res;
	a[8] = owner;
	a[9] = now;
	return exec_bind(sch_catalog_db(cat),
			 "INSERT INTO job_functions (project, name, kind, script, entry, signature,"
			 " columns, resources, owner, created_at)"
			 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
			 err, 10, a);
}

int sch_functions_drop(struct sch_catalog *cat, const char *project, const char *name,
		       struct cmn_err *err)
{
	const char *a[2] = { project, name };
	return exec_bind(sch_catalog_db(cat),
			 "DELETE FROM job_functions WHERE project = ?1 AND name = ?2", err, 2, a);
}

int sch_functions_get(struct sch_catalog *cat, const char *project, const char *name,
		      struct sch_funcdef **out, struct cmn_err *err)
{
	sqlite3 *db = sch_catalog_db(cat);
	sqlite3_stmt *st = NULL;
	struct sch_funcdef *f;
	const char *kind, *sig;
	int rc;

	*out = NULL;
	if (sqlite3_prepare_v2(db,
			       "SELECT project, name, kind, script, entry, signature, columns,"
			       " resources FROM job_functions WHERE project = ?1 AND name = ?2",
			       -1, &st, NULL) != SQLITE_OK)
		return cmn_err_set(err, CMN_EIO, 0, "catalog: %s", sqlite3_errmsg(db));
	sqlite3_bind_text(st, 1, project, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		return rc == SQLITE_DONE
			   ? 0
			   : cmn_err_set(err, CMN_EIO, 0, "catalog: %s", sqlite3_errmsg(db));
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		sqlite3_finalize(st);
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	}
	kind = (const char *)sqlite3_column_text(st, 2);
	f->kind = !strcmp(kind, "aggregate") ? SCH_FN_AGGREGATE
		  : !strcmp(kind, "table")   ? SCH_FN_TABLE
					     : SCH_FN_SCALAR;
	f->project = col_dup(st, 0);
	f->name = col_dup(st, 1);
	f->script = col_dup(st, 3);
	f->entry = col_dup(st, 4);
	f->ret = SCH_QT_STRING;
	sig = (const char *)sqlite3_column_text(st, 5);
	rc = 0;
	if (!f->project || !f->name || !f->script || !f->entry)
		rc = cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	if (!rc && sig && sig[0] && sch_signature_parse(sig, f, err) < 0)
		rc = -1;
	if (!rc && (split((const char *)sqlite3_column_text(st, 6), &f->columns, err) < 0 ||
		    split((const char *)sqlite3_column_text(st, 7), &f->resources, err) < 0))
		rc = -1;
	sqlite3_finalize(st);
	if (rc < 0) {
		sch_funcdef_free(f);
		return -1;
	}
	*out = f;
	return 0;
}

int sch_tables_commit_version(struct sch_catalog *cat, const char *project, const char *name,
			      int64_t expected, struct cmn_err *err)
{
	sqlite3 *db = sch_catalog_db(cat);
	sqlite3_stmt *st = NULL;
	struct sch_tabledef *t = NULL;
	int rc;

	if (sqlite3_prepare_v2(db,
			       "UPDATE job_tables SET version = version + 1 WHERE project = ?1 AND"
			       " name = ?2 AND version = ?3 AND kind = 'table'",
			       -1, &st, NULL) != SQLITE_OK)
		return cmn_err_set(err, CMN_EIO, 0, "catalog: %s", sqlite3_errmsg(db));
	sqlite3_bind_text(st, 1, project, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, expected);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return cmn_err_set(err, CMN_EIO, 0, "catalog: %s", sqlite3_errmsg(db));
	if (sqlite3_changes(db) == 1)
		return 0;
	if (sch_tables_get(cat, project, name, &t, err) < 0)
		return -1;
	rc =
	    t ? cmn_err_set(err, CMN_ECONFLICT, 0,
			    "table '%s.%s' is at version %lld, not %lld: another commit came first",
			    project, name, (long long)t->version, (long long)expected)
	      : cmn_err_set(err, CMN_ENOTFOUND, 0, "table '%s.%s' does not exist", project, name);
	sch_tabledef_free(t);
	return rc;
}

static int env_table(void *arg, const char *project, const char *name, struct sch_tabledef **out,
		     struct cmn_err *err)
{
	return sch_tables_get(arg, project, name, out, err);
}

static int env_function(void *arg, const char *project, const char *name, struct sch_funcdef **out,
			struct cmn_err *err)
{
	return sch_functions_get(arg, project, name, out, err);
}

void sch_tables_env(struct sch_q_env *env, struct sch_catalog *cat, const char *project)
{
	env->project = project;
	env->table = env_table;
	env->function = env_function;
	env->arg = cat;
}
