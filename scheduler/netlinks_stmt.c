/* scheduler/netlinks_stmt.c — the statement handler of the operator
 * statements on network links (SQL.md "Operator statements"); see
 * netlinks.h. Parsed by the one SQL parser (sql_parse_sec.c), decided by
 * the one decision function (operator-only actions on
 * acs:odps:*:networklinks/<l>), run in one transaction, audited. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/authz.h"
#include "scheduler/netlinks.h"
#include "scheduler/sql_parse.h"

struct change {
	const char *event;
	char resource[SCH_AUTHZ_RESOURCE_MAX];
	char reason[600];
};

struct run {
	struct sch_stmt_ctx *ctx;
	struct cmn_err *err;
	json_t *result;
	struct change *changes;
	size_t nchanges;
};

const char *sch_netlinks_stmt_action(enum sch_sql_kind kind)
{
	switch (kind) {
	case SCH_SQL_CREATE_NETWORKLINK:
		return "odps:CreateNetworklink";
	case SCH_SQL_DROP_NETWORKLINK:
		return "odps:Drop";
	case SCH_SQL_ALLOW_NETWORKLINK:
	case SCH_SQL_DISALLOW_NETWORKLINK:
		return "odps:ManageNetworklinks";
	case SCH_SQL_SHOW_NETWORKLINKS:
		return "odps:List";
	default:
		return NULL;
	}
}

static bool kw_at(const struct sch_token *t, size_t n, size_t i, const char *k)
{
	return i < n && sch_tok_is_kw(&t[i], k);
}

/* Leading keywords of one statement: is it an operator statement on links? */
static bool tokens_are_netlink(const struct sch_token *t, size_t n)
{
	if (kw_at(t, n, 0, "CREATE") || kw_at(t, n, 0, "DROP"))
		return kw_at(t, n, 1, "NETWORKLINK");
	if (kw_at(t, n, 0, "ALLOW") || kw_at(t, n, 0, "DISALLOW"))
		return kw_at(t, n, 1, "PROJECT") && kw_at(t, n, 4, "USE");
	return kw_at(t, n, 0, "SHOW") && kw_at(t, n, 1, "NETWORKLINKS");
}

/* Counts statements that are ours and those that are not. -1: not lexable. */
static int classify(const char *sql, size_t len, size_t *mine, size_t *other)
{
	struct cmn_err lex_err = CMN_ERR_INIT;
	struct sch_tokens toks;
	size_t start = 0;

	*mine = *other = 0;
	if (sch_sql_lex(sql, len, &toks, &lex_err) < 0)
		return -1;
	for (size_t i = 0; i < toks.n; i++) {
		if (toks.v[i].type != SCH_TOK_EOF && !sch_tok_is_punct(&toks.v[i], ";"))
			continue;
		if (i > start) {
			if (tokens_are_netlink(&toks.v[start], i - start))
				(*mine)++;
			else
				(*other)++;
		}
		start = i + 1;
	}
	sch_sql_tokens_free(&toks);
	return 0;
}

static int decide(struct run *r, const struct sch_sql_stmt *s, const char *link)
{
	struct sch_authz_resource res = { NULL, SCH_OBJ_NETWORKLINK, link, NULL };
	struct sch_authz_context actx = { .project = r->ctx->project,
					  .source_ip = r->ctx->source_ip,
					  .task_type = "SQL" };
	struct sch_authz_decision d;
	struct sch_audit_event ev = { .event_name = "Authorize" };

	if (sch_authz_decide(r->ctx->cat, r->ctx->principal, sch_netlinks_stmt_action(s->kind),
			     &res, &actx, &d, r->err) < 0)
		return -1;
	ev.resource = d.resource;
	ev.decision = d.allow ? "allow" : "deny";
	ev.reason = d.reason;
	ev.error_code = d.allow ? NULL : "AccessDenied";
	if (r->ctx->audit)
		r->ctx->audit(r->ctx->audit_arg, &ev);
	return d.allow ? 0 : cmn_err_set(r->err, CMN_EDENIED, 0, "%s", d.reason);
}

/* A change, audited after the commit: "<event> <link><what> by <principal>". */
static int record(struct run *r, const char *event, const char *link, const char *what)
{
	struct change *nv = realloc(r->changes, (r->nchanges + 1) * sizeof(*nv));
	struct change *c;

	if (!nv)
		return cmn_err_set(r->err, CMN_ENOMEM, 0, "out of memory");
	r->changes = nv;
	c = &r->changes[r->nchanges++];
	c->event = event;
	snprintf(c->resource, sizeof(c->resource), "acs:odps:*:networklinks/%s", link);
	snprintf(c->reason, sizeof(c->reason), "%s %s%s by %s", event, link, what,
		 r->ctx->principal->name);
	return 0;
}

/* " allowing d1,d2,..." (cut at outlen; the catalog holds the full list) */
static void dests_text(const struct sch_sql_list *l, char *out, size_t outlen)
{
	size_t off = (size_t)snprintf(out, outlen, " allowing ");

	for (size_t i = 0; i < l->n && off < outlen; i++)
		off += (size_t)snprintf(out + off, outlen - off, "%s%s", i ? "," : "", l->v[i]);
}

static int run_one(struct run *r, const struct sch_sql_stmt *s)
{
	struct sch_catalog *cat = r->ctx->cat;
	const char *who = r->ctx->principal->name;
	const char *link =
	    s->kind == SCH_SQL_ALLOW_NETWORKLINK || s->kind == SCH_SQL_DISALLOW_NETWORKLINK
		? s->obj.name
	    : s->kind == SCH_SQL_SHOW_NETWORKLINKS ? "*"
						   : s->name;
	char what[400];

	if (decide(r, s, link) < 0)
		return -1;
	switch (s->kind) {
	case SCH_SQL_CREATE_NETWORKLINK:
		if (sch_netlink_create(cat, s->name, (const char *const *)s->dests.v, s->dests.n,
				       who, r->err) < 0)
			return -1;
		dests_text(&s->dests, what, sizeof(what));
		return record(r, "CreateNetworkLink", link, what);
	case SCH_SQL_DROP_NETWORKLINK:
		if (sch_netlink_drop(cat, s->name, r->err) < 0)
			return -1;
		return record(r, "DropNetworkLink", link, "");
	case SCH_SQL_ALLOW_NETWORKLINK:
		if (sch_netlink_allow(cat, link, s->name, who, r->err) < 0)
			return -1;
		snprintf(what, sizeof(what), " to project %s", s->name);
		return record(r, "AllowNetworkLink", link, what);
	case SCH_SQL_DISALLOW_NETWORKLINK:
		if (sch_netlink_disallow(cat, link, s->name, r->err) < 0)
			return -1;
		snprintf(what, sizeof(what), " for project %s", s->name);
		return record(r, "DisallowNetworkLink", link, what);
	default:
		json_decref(r->result);
		r->result = NULL;
		return sch_netlinks_show(cat, &r->result, r->err);
	}
}

static int run_script(struct run *r, const struct sch_sql_script *sc)
{
	sqlite3 *db = sch_catalog_db(r->ctx->cat);
	int rc = 0;

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return cmn_err_set(r->err, CMN_EIO, 0, "catalog: begin: %s", sqlite3_errmsg(db));
	for (size_t i = 0; rc == 0 && i < sc->n; i++) {
		rc = run_one(r, sc->v[i]);
		/* errors read "line:col: message" like every statement's; a denial
		 * is the decision's reason as it is */
		if (rc < 0 && r->err->code != CMN_EDENIED)
			cmn_err_wrap(r->err, "%d:%d", sc->v[i]->line, sc->v[i]->col);
	}
	if (rc == 0 && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		rc = cmn_err_set(r->err, CMN_EIO, 0, "catalog: commit: %s", sqlite3_errmsg(db));
	if (rc < 0) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	for (size_t i = 0; r->ctx->audit && i < r->nchanges; i++) {
		struct sch_audit_event ev = { .event_name = r->changes[i].event,
					      .resource = r->changes[i].resource,
					      .reason = r->changes[i].reason };
		r->ctx->audit(r->ctx->audit_arg, &ev);
	}
	return 0;
}

/* cordond migrates at start-up; this keeps the handler safe without it. */
static int ensure_schema(struct sch_catalog *cat, struct cmn_err *err)
{
	static struct sch_catalog *migrated;

	if (migrated == cat)
		return 0;
	if (sch_netlinks_migrate(cat, err) < 0)
		return -1;
	migrated = cat;
	return 0;
}

int sch_netlinks_stmt_handler(struct sch_stmt_ctx *ctx, const char *sql, size_t len,
			      json_t **result, struct cmn_err *err)
{
	struct run r = { .ctx = ctx, .err = err };
	struct sch_sql_script sc;
	size_t mine, other;
	int rc;

	*result = NULL;
	if (classify(sql, len, &mine, &other) < 0 || mine == 0)
		return 0;
	if (other)
		return cmn_err_set(
		    err, CMN_EINVAL, 0,
		    "1:1: a job cannot mix network link statements with other statements");
	if (!ctx->principal)
		return cmn_err_set(err, CMN_EINVAL, 0, "no principal for the statement");
	if (ensure_schema(ctx->cat, err) < 0 || sch_sql_parse(sql, len, &sc, err) < 0)
		return -1;
	rc = run_script(&r, &sc);
	sch_sql_script_free(&sc);
	free(r.changes);
	if (rc < 0) {
		json_decref(r.result);
		return -1;
	}
	*result =
	    r.result ? r.result : json_pack("{s:[s], s:[[s]]}", "columns", "result", "rows", "OK");
	return *result ? 1 : cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
}
