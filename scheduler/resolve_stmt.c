/* scheduler/resolve_stmt.c — resolution of whole statements (DDL, DML,
 * SET) and the authorization of the collected accesses; see resolve.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scheduler/resolve_int.h"

static const char *proj(struct rs *r, const struct sch_sql_name *n)
{
	return n->project ? n->project : r->env->project;
}

/* The target table of a statement, kept in out->target. */
static int target(struct rs *r, const struct sch_q_stmt *s, bool must_exist)
{
	struct sch_tabledef *def = NULL;
	if (r->env->table(r->env->arg, proj(r, &s->name), s->name.name, &def, r->err) < 0)
		return -1;
	r->out->target = def;
	if (!def && must_exist)
		return rs_fail(r, CMN_ENOTFOUND, s->line, s->col, "table '%s.%s' does not exist",
			       proj(r, &s->name), s->name.name);
	return 0;
}

static int check_coldefs(struct rs *r, const struct sch_q_stmt *s)
{
	size_t n = s->ncols + s->npcols;
	if (s->ncols == 0)
		return rs_fail(r, CMN_EINVAL, s->line, s->col, "a table needs at least one column");
	if (n > 1024)
		return rs_fail(r, CMN_ELIMIT, s->line, s->col, "more than 1024 columns");
	for (size_t i = 0; i < n; i++) {
		const char *a = i < s->ncols ? s->cols[i].name : s->pcols[i - s->ncols].name;
		for (size_t j = 0; j < i; j++) {
			const char *b =
			    j < s->ncols ? s->cols[j].name : s->pcols[j - s->ncols].name;
			if (strcasecmp(a, b) == 0)
				return rs_fail(r, CMN_EINVAL, s->line, s->col,
					       "column '%s' is defined twice", a);
		}
	}
	return 0;
}

/* PARTITION (p='v', ...) must name every partition column once. */
static int check_partspec(struct rs *r, const struct sch_q_stmt *s, const struct sch_tabledef *t)
{
	if (t->npcols == 0)
		return rs_fail(r, CMN_EINVAL, s->line, s->col, "table '%s' is not partitioned",
			       t->name);
	if (s->npart != t->npcols)
		return rs_fail(r, CMN_EINVAL, s->line, s->col,
			       "PARTITION must name all %zu partition columns of '%s'", t->npcols,
			       t->name);
	for (size_t i = 0; i < s->npart; i++) {
		bool found = false;
		for (size_t j = t->ncols - t->npcols; j < t->ncols; j++)
			found = found || strcasecmp(t->cols[j].name, s->part[i].col) == 0;
		for (size_t j = 0; j < i; j++)
			if (strcasecmp(s->part[j].col, s->part[i].col) == 0)
				found = false;
		if (!found)
			return rs_fail(r, CMN_EINVAL, s->line, s->col,
				       "'%s' is not a partition column of '%s' (or is repeated)",
				       s->part[i].col, t->name);
	}
	return 0;
}

static int insert_types(struct rs *r, const struct sch_q_stmt *s, const struct sch_tabledef *t)
{
	size_t ndata = t->ncols - t->npcols;
	size_t w = s->query ? sch_q_query_width(s->query) : s->nvalcols;
	size_t want = s->insert_cols.n ? s->insert_cols.n : ndata;
	int idx[1024];

	if (want > 1024)
		return rs_fail(r, CMN_ELIMIT, s->line, s->col, "too many columns");
	for (size_t i = 0; i < want; i++) {
		idx[i] = (int)i;
		if (!s->insert_cols.n)
			continue;
		idx[i] = -1;
		for (size_t j = 0; j < ndata; j++)
			if (strcasecmp(t->cols[j].name, s->insert_cols.v[i]) == 0)
				idx[i] = (int)j;
		if (idx[i] < 0)
			return rs_fail(r, CMN_EINVAL, s->line, s->col,
				       "column '%s' is not a data column of '%s'",
				       s->insert_cols.v[i], t->name);
	}
	if (w != want)
		return rs_fail(r, CMN_EINVAL, s->line, s->col,
			       "INSERT gives %zu values for %zu columns of '%s'", w, want, t->name);
	for (size_t i = 0; i < want; i++) {
		enum sch_q_type ct = t->cols[idx[i]].type;
		for (size_t row = 0; row < (s->query ? 1 : s->nrows); row++) {
			enum sch_q_type vt =
			    s->query ? rs_item_type(s->query->v[0], i) : s->values[row][i]->ty;
			if (vt != ct && vt != SCH_QT_NULL && !(rs_numeric(vt) && rs_numeric(ct)))
				return rs_fail(r, CMN_EINVAL, s->line, s->col,
					       "column '%s' of '%s' is %s, the value is %s",
					       t->cols[idx[i]].name, t->name, sch_q_type_name(ct),
					       sch_q_type_name(vt));
		}
	}
	return 0;
}

static int r_insert(struct rs *r, struct sch_q_stmt *s)
{
	const struct sch_tabledef *t;

	if (target(r, s, true) < 0)
		return -1;
	t = r->out->target;
	if (t->is_view)
		return rs_fail(r, CMN_EINVAL, s->line, s->col, "cannot INSERT into view '%s'",
			       t->name);
	if ((t->npcols || s->npart) && check_partspec(r, s, t) < 0)
		return -1;
	if (s->query && rs_query(r, s->query) < 0)
		return -1;
	for (size_t i = 0; i < s->nrows; i++)
		for (size_t c = 0; c < s->nvalcols; c++)
			if (rs_expr(r, NULL, s->values[i][c], RS_NO_AGG) < 0)
				return -1;
	if (insert_types(r, s, t) < 0)
		return -1;
	return rs_access(r, "odps:Update", t->project, SCH_OBJ_TABLE, t->name, NULL, s->line,
			 s->col);
}

static int r_create(struct rs *r, struct sch_q_stmt *s)
{
	if (target(r, s, false) < 0)
		return -1;
	if (r->out->target && !s->if_not_exists)
		return rs_fail(r, CMN_EEXIST, s->line, s->col, "table '%s.%s' already exists",
			       proj(r, &s->name), s->name.name);
	if (s->kind == SCH_Q_CREATE_TABLE && check_coldefs(r, s) < 0)
		return -1;
	if (s->query && rs_query(r, s->query) < 0)
		return -1;
	if (s->query) {
		char buf[32];
		for (size_t i = 0; i < sch_q_query_width(s->query); i++) {
			char b2[32];
			const char *nm = sch_q_item_name(s->query->v[0], i, buf, sizeof(buf));
			if (rs_item_type(s->query->v[0], i) == SCH_QT_NULL)
				return rs_fail(r, CMN_EINVAL, s->line, s->col,
					       "column '%s' has no type (a bare NULL); CAST it",
					       nm);
			for (size_t j = 0; j < i; j++)
				if (strcasecmp(sch_q_item_name(s->query->v[0], j, b2, sizeof(b2)),
					       nm) == 0)
					return rs_fail(r, CMN_EINVAL, s->line, s->col,
						       "column '%s' appears twice; name it with AS",
						       nm);
		}
	}
	return rs_access(r, "odps:CreateTable", proj(r, &s->name), SCH_OBJ_PROJECT, NULL, NULL,
			 s->line, s->col);
}

static int r_table_stmt(struct rs *r, struct sch_q_stmt *s, const char *action)
{
	if (target(r, s, !s->if_exists) < 0)
		return -1;
	if (!r->out->target)
		return 0;
	if (s->kind == SCH_Q_DROP_TABLE && r->out->target->is_view)
		return rs_fail(r, CMN_EINVAL, s->line, s->col, "'%s' is a view; use DROP VIEW",
			       s->name.name);
	if (s->kind == SCH_Q_DROP_VIEW && !r->out->target->is_view)
		return rs_fail(r, CMN_EINVAL, s->line, s->col, "'%s' is a table; use DROP TABLE",
			       s->name.name);
	if ((s->kind == SCH_Q_ADD_PARTITION || s->kind == SCH_Q_DROP_PARTITION) &&
	    check_partspec(r, s, r->out->target) < 0)
		return -1;
	return rs_access(r, action, r->out->target->project, SCH_OBJ_TABLE, r->out->target->name,
			 NULL, s->line, s->col);
}

static int r_function(struct rs *r, struct sch_q_stmt *s)
{
	struct sch_funcdef *def = NULL;
	const char *dot;
	int rc;

	if (r->env->function(r->env->arg, proj(r, &s->name), s->name.name, &def, r->err) < 0)
		return -1;
	rc = def != NULL;
	sch_funcdef_free(def);
	if (s->kind == SCH_Q_DROP_FUNCTION) {
		if (!rc && !s->if_exists)
			return rs_fail(r, CMN_ENOTFOUND, s->line, s->col,
				       "function '%s' does not exist", s->name.name);
		return rs_access(r, "odps:Delete", proj(r, &s->name), SCH_OBJ_FUNCTION,
				 s->name.name, NULL, s->line, s->col);
	}
	if (rc)
		return rs_fail(r, CMN_EEXIST, s->line, s->col, "function '%s' already exists",
			       s->name.name);
	dot = strrchr(s->class_name, '.');
	if (!dot || dot == s->class_name || !dot[1])
		return rs_fail(r, CMN_EINVAL, s->line, s->col,
			       "'%s' is not of the form '<script>.<function>'", s->class_name);
	if (rs_access(r, "odps:CreateFunction", proj(r, &s->name), SCH_OBJ_PROJECT, NULL, NULL,
		      s->line, s->col) < 0)
		return -1;
	for (size_t i = 0; i < s->resources.n; i++)
		if (rs_access(r, "odps:Read", proj(r, &s->name), SCH_OBJ_RESOURCE,
			      s->resources.v[i], NULL, s->line, s->col) < 0)
			return -1;
	return 0;
}

static int r_set(struct rs *r, struct sch_q_stmt *s)
{
	static const char *const known[] = { "cordon.nodes", "cordon.udf.memory",
					     "cordon.udf.instructions", "cordon.udf.cpu",
					     "cordon.node.timeout" };
	if (strcasecmp(s->key, "odps.session.networklink") == 0) {
		free(r->out->networklink);
		r->out->networklink = strdup(s->value);
		if (!r->out->networklink)
			return rs_oom(r);
		return rs_access(r, "odps:Use", r->env->project, SCH_OBJ_NETWORKLINK, s->value,
				 NULL, s->line, s->col);
	}
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcasecmp(s->key, known[i]) == 0)
			return 0;
	return rs_fail(r, CMN_EINVAL, s->line, s->col, "unknown setting '%s'", s->key);
}

int sch_q_resolve(const struct sch_q_env *env, struct sch_q_stmt *s, struct sch_q_resolved *out,
		  struct cmn_err *err)
{
	struct rs r = { .env = env, .out = out, .err = err, .line = s->line, .col = s->col };
	int rc;

	memset(out, 0, sizeof(*out));
	switch (s->kind) {
	case SCH_Q_SELECT:
	case SCH_Q_EXPLAIN:
		rc = rs_query(&r, s->query);
		break;
	case SCH_Q_CREATE_TABLE:
	case SCH_Q_CTAS:
	case SCH_Q_CREATE_VIEW:
		rc = r_create(&r, s);
		break;
	case SCH_Q_INSERT:
		rc = r_insert(&r, s);
		break;
	case SCH_Q_DROP_TABLE:
	case SCH_Q_DROP_VIEW:
		rc = r_table_stmt(&r, s, "odps:Drop");
		break;
	case SCH_Q_ADD_PARTITION:
	case SCH_Q_DROP_PARTITION:
		rc = r_table_stmt(&r, s, "odps:Alter");
		break;
	case SCH_Q_DESC:
	case SCH_Q_SHOW_PARTITIONS:
		rc = r_table_stmt(&r, s, "odps:Describe");
		break;
	case SCH_Q_SHOW_TABLES:
	case SCH_Q_SHOW_FUNCTIONS:
		rc = rs_access(&r, "odps:List", env->project, SCH_OBJ_PROJECT, NULL, NULL, s->line,
			       s->col);
		break;
	case SCH_Q_CREATE_FUNCTION:
	case SCH_Q_DROP_FUNCTION:
		rc = r_function(&r, s);
		break;
	case SCH_Q_SET:
		rc = r_set(&r, s);
		break;
	default:
		rc = rs_fail(&r, CMN_EINTERNAL, s->line, s->col, "unknown statement kind");
	}
	if (rc < 0)
		sch_q_resolved_free(out);
	return rc;
}

/* ---- authorization ------------------------------------------------------------ */

static void owner_principal(const struct sch_principal *who, const char *owner,
			    struct sch_principal *out)
{
	const char *dollar = strchr(owner, '$');
	const char *colon = strchr(owner, ':');

	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", owner);
	out->type = strncmp(owner, "ALIYUN$", 7) == 0 ? SCH_PRINCIPAL_ACCOUNT : SCH_PRINCIPAL_USER;
	if (dollar && colon && colon > dollar)
		snprintf(out->account, sizeof(out->account), "%.*s", (int)(colon - dollar - 1),
			 dollar + 1);
	else if (dollar)
		snprintf(out->account, sizeof(out->account), "%s", dollar + 1);
	else
		snprintf(out->account, sizeof(out->account), "%s", who->account);
}

int sch_q_decide(struct sch_catalog *cat, const struct sch_principal *who,
		 const struct sch_authz_context *ctx, const struct sch_q_access *a,
		 struct sch_authz_decision *out, struct cmn_err *err)
{
	struct sch_authz_resource res = { a->project, a->type, a->name, a->column };
	struct sch_principal owner;

	if (a->as_owner && a->as_owner[0]) {
		owner_principal(who, a->as_owner, &owner);
		who = &owner;
	}
	return sch_authz_decide(cat, who, a->action, &res, ctx, out, err);
}

int sch_q_authorize(struct sch_catalog *cat, const struct sch_principal *who,
		    const struct sch_authz_context *ctx, const struct sch_q_accesses *acc,
		    sch_q_decision_fn each, void *arg, struct cmn_err *err)
{
	for (size_t i = 0; i < acc->n; i++) {
		const struct sch_q_access *a = &acc->v[i];
		struct sch_authz_decision *d = calloc(1, sizeof(*d));

		if (!d)
			return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		if (sch_q_decide(cat, who, ctx, a, d, err) < 0) {
			free(d);
			return -1;
		}
		if (each)
			each(arg, a, d);
		if (!d->allow && !each) {
			cmn_err_set(err, CMN_EDENIED, 0, "%d:%d: %s denied on %s (rule %s%s%s): %s",
				    a->line, a->col, a->action, d->resource, d->rule,
				    a->as_owner ? ", as view owner " : "",
				    a->as_owner ? a->as_owner : "", d->reason);
			free(d);
			return -1;
		}
		free(d);
	}
	return 0;
}

int sch_q_collect(struct sch_catalog *cat, const char *project, struct sch_q_stmt *s,
		  struct sch_q_resolved *out, struct cmn_err *err)
{
	struct sch_q_env env;
	struct cmn_err e = CMN_ERR_INIT;

	memset(out, 0, sizeof(*out));
	sch_tables_env(&env, cat, project);
	if (sch_q_resolve(&env, s, out, &e) == 0)
		return 0;
	/* a table unknown here, or no job tables yet (sch_tables_migrate not run) */
	if ((e.code == CMN_ENOTFOUND && strstr(e.msg, "table '")) ||
	    (e.code == CMN_EIO && strstr(e.msg, "no such table")))
		return 1;
	*err = e;
	return -1;
}
