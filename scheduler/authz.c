/* scheduler/authz.c — the decision function; see authz.h for the order.
 *
 * Every branch ends in allow() or deny(), which fill the decision with the
 * deciding rule and a MaxCompute-style message naming principal, action and
 * resource. The function never fails "open": a catalog error is returned as
 * -1 and callers treat it as a denial. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/cleanup.h"
#include "scheduler/authz_int.h"
#include "scheduler/policy.h"

enum act_class { ACT_DATA, ACT_OWNER, ACT_ADMIN, ACT_GRANT, ACT_MEMBER };

/* The actions behind the security statements. Owner-only ones change what
 * protects the whole project; admin ones can be given by the built-in
 * `admin` role or a policy Allow; GRANT ones also by object creation when
 * ObjectCreatorHasGrantPermission is on; member ones by membership. */
static const struct {
	const char *name;
	enum act_class cls;
} stmt_actions[] = {
	{ "odps:SetSecurityConfiguration", ACT_OWNER },
	{ "odps:PutPolicy", ACT_OWNER },
	{ "odps:ManageTrustedProjects", ACT_OWNER },
	{ "odps:ManageUsers", ACT_ADMIN },
	{ "odps:ManageRoles", ACT_ADMIN },
	{ "odps:PutRolePolicy", ACT_ADMIN },
	{ "odps:GetPolicy", ACT_ADMIN },
	{ "odps:ManageLabels", ACT_ADMIN },
	{ "odps:ManagePackages", ACT_ADMIN },
	{ "odps:InstallPackage", ACT_ADMIN },
	{ "odps:UninstallPackage", ACT_ADMIN },
	{ "odps:ShowGrants", ACT_ADMIN },
	{ "odps:Grant", ACT_GRANT },
	{ "odps:ShowAcl", ACT_GRANT },
	{ "odps:ShowSecurityConfiguration", ACT_MEMBER },
	{ "odps:ListUsers", ACT_MEMBER },
	{ "odps:ListRoles", ACT_MEMBER },
	{ "odps:ListTrustedProjects", ACT_MEMBER },
	{ "odps:ShowPackages", ACT_MEMBER },
	{ "odps:DescribeRole", ACT_MEMBER },
	{ "odps:ShowOwnGrants", ACT_MEMBER },
};

static enum act_class action_class(const char *action)
{
	for (size_t i = 0; i < CMN_ARRAY_SIZE(stmt_actions); i++)
		if (strcasecmp(stmt_actions[i].name, action) == 0)
			return stmt_actions[i].cls;
	return ACT_DATA;
}

static bool is_read(const char *action, enum sch_sql_objtype t)
{
	return t == SCH_OBJ_TABLE &&
	       (strcasecmp(action, "odps:Select") == 0 || strcasecmp(action, "odps:Download") == 0);
}

static bool is_write(const char *action)
{
	return strcasecmp(action, "odps:Update") == 0 ||
	       strcasecmp(action, "odps:CreateTable") == 0 || strcasecmp(action, "odps:Write") == 0;
}

struct decider {
	sqlite3 *db;
	const struct sch_principal *who;
	const char *action;
	const struct sch_authz_resource *res;
	const struct sch_authz_context *ctx;
	struct sch_authz_decision *out;
	struct cmn_err *err;
	char table_res[SCH_AUTHZ_RESOURCE_MAX]; /* resource without the column */
	struct authz_flags flags;
	int64_t object_id;
};

void sch_authz_resource_name(const struct sch_authz_resource *r, char *out, size_t outlen)
{
	static const char *const plural[] = {
		"", "", "tables", "functions", "resources", "instances", "packages", "networklinks"
	};
	const char *p = (unsigned)r->type < CMN_ARRAY_SIZE(plural) ? plural[r->type] : "";

	if (r->type == SCH_OBJ_NETWORKLINK && !r->project)
		snprintf(out, outlen, "acs:odps:*:networklinks/%s", r->name ? r->name : "");
	else if (r->type == SCH_OBJ_PROJECT || !r->name || !*p)
		snprintf(out, outlen, "acs:odps:*:projects/%s", r->project);
	else if (r->column)
		snprintf(out, outlen, "acs:odps:*:projects/%s/%s/%s/columns/%s", r->project, p,
			 r->name, r->column);
	else
		snprintf(out, outlen, "acs:odps:*:projects/%s/%s/%s", r->project, p, r->name);
}

static int allow(struct decider *d, const char *rule)
{
	d->out->allow = true;
	d->out->rule = rule;
	snprintf(d->out->reason, sizeof(d->out->reason),
		 "Authorization OK: '%s' on {%s} for %s (rule: %s)", d->action, d->out->resource,
		 d->who->name, rule);
	return 0;
}

static int deny(struct decider *d, const char *rule, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int deny(struct decider *d, const char *rule, int code, const char *fmt, ...)
{
	char why[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	d->out->allow = false;
	d->out->rule = rule;
	d->out->via_package = false;
	snprintf(
	    d->out->reason, sizeof(d->out->reason),
	    "Authorization Failed [%d]: %s. Principal: %s; action: %s; resource: {%s}; rule: %s",
	    code, why, d->who->name, d->action, d->out->resource, rule);
	return 0;
}

static int no_privilege(struct decider *d, const char *rule, const char *extra)
{
	return deny(d, rule, 4011, "You have no privilege '%s' on {%s}%s", d->action,
		    d->out->resource, extra);
}

/* ---- policies ------------------------------------------------------------ */

/* Project policy plus the role policies of the caller's roles: Deny in any
 * wins; *effect is the combined result. Unparseable stored policies are an
 * error, never ignored. */
static int policy_effect(struct decider *d, enum sch_policy_effect *effect)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = 0;
	struct sch_policy_request rq = {
		.principal = d->who->name,
		.action = d->action,
		.resource = d->out->resource,
		.resource_alt = d->table_res,
		.source_ip = d->ctx ? d->ctx->source_ip : NULL,
		.task_type = d->ctx ? d->ctx->task_type : NULL,
	};

	*effect = SCH_POLICY_NO_MATCH;
	if (authz_db_query(d->db, d->err, &st,
			   "SELECT role, policy FROM authz_policies WHERE project = ?1 AND"
			   " (role = '' OR role IN (SELECT role FROM authz_role_members"
			   "  WHERE project = ?1 AND user = ?2))",
			   "ss", d->res->project, d->who->name) < 0)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *role = (const char *)sqlite3_column_text(st, 0);
		const char *text = (const char *)sqlite3_column_text(st, 1);
		struct sch_policy *pol = NULL;
		enum sch_policy_effect e;
		if (sch_policy_parse(text, strlen(text),
				     role[0] ? SCH_POLICY_ROLE : SCH_POLICY_PROJECT, &pol,
				     d->err) < 0) {
			ret = cmn_err_wrap(d->err, "stored policy of project %s role '%s'",
					   d->res->project, role);
			break;
		}
		e = sch_policy_eval(pol, &rq);
		sch_policy_free(pol);
		if (e == SCH_POLICY_DENY)
			*effect = SCH_POLICY_DENY;
		else if (e == SCH_POLICY_ALLOW && *effect == SCH_POLICY_NO_MATCH)
			*effect = SCH_POLICY_ALLOW;
	}
	if (ret == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
		ret = cmn_err_set(d->err, CMN_EIO, 0, "catalog: %s", sqlite3_errmsg(d->db));
	sqlite3_finalize(st);
	return ret;
}

/* ---- ACL ----------------------------------------------------------------- */

static int acl_allows(struct decider *d, bool *out)
{
	const char *action = d->action;
	int64_t v;

	if (strncasecmp(action, "odps:", 5) == 0)
		action += 5;
	return authz_db_int(
	    d->db, d->err, 0, &v, out,
	    "SELECT 1 FROM authz_acl WHERE project = ?1 AND object_type = ?2"
	    " AND object_name = ?3 AND object_id IS (CASE WHEN ?4 = 0 THEN NULL ELSE ?4 END) AND "
	    "(action = ?5 OR action = 'All')"
	    " AND (column_name IS NULL OR column_name = ?6)"
	    " AND (expires_at IS NULL OR expires_at > ?7)"
	    " AND ((grantee_type = 'user' AND grantee = ?8) OR (grantee_type = 'role' AND grantee "
	    "IN"
	    "  (SELECT role FROM authz_role_members WHERE project = ?1 AND user = ?8))) LIMIT 1",
	    "sssissis", d->res->project, authz_type_db(d->res->type),
	    d->res->type == SCH_OBJ_PROJECT ? d->res->project : d->res->name, d->object_id, action,
	    d->res->column, sch_authz_now(), d->who->name);
}

/* ---- LabelSecurity ------------------------------------------------------- */

/* Level of what is read: the column's label, else the table's (or view's)
 * label, else 0. Partition columns are never labelled and read as 0. */
static int data_level(struct decider *d, int64_t *level, bool *is_column)
{
	int64_t partition = 0;
	bool found;

	*is_column = false;
	if (d->res->column) {
		if (authz_db_int(d->db, d->err, 0, &partition, &found,
				 "SELECT is_partition FROM authz_columns WHERE object_id = ?1"
				 " AND name = ?2",
				 "is", d->object_id, d->res->column) < 0)
			return -1;
		if (found && partition) {
			*level = 0;
			return 0;
		}
		if (authz_db_int(
			d->db, d->err, -1, level, &found,
			"SELECT label FROM authz_columns WHERE object_id = ?1 AND name = ?2", "is",
			d->object_id, d->res->column) < 0)
			return -1;
		if (*level >= 0) {
			*is_column = true;
			return 0;
		}
	}
	return authz_db_int(d->db, d->err, 0, level, NULL,
			    "SELECT label FROM authz_objects WHERE id = ?1", "i", d->object_id);
}

static int label_check(struct decider *d, bool *ok)
{
	int64_t level, user_level, granted;
	bool is_column;
	const char *what = d->res->column && d->res->column[0] ? d->res->column : d->res->name;

	*ok = true;
	if (data_level(d, &level, &is_column) < 0)
		return -1;
	if (authz_db_int(d->db, d->err, 0, &user_level, NULL,
			 "SELECT level FROM authz_user_labels WHERE project = ?1 AND user = ?2",
			 "ss", d->res->project, d->who->name) < 0)
		return -1;
	if (level <= user_level)
		return 0;
	if (authz_db_int(
		d->db, d->err, -1, &granted, NULL,
		"SELECT MAX(level) FROM authz_label_grants WHERE object_id = ?1"
		" AND (column_name IS NULL OR column_name = ?2) AND expires_at > ?3"
		" AND ((grantee_type = 'user' AND grantee = ?4) OR (grantee_type = 'role' AND"
		"  grantee IN (SELECT role FROM authz_role_members WHERE project = ?5"
		"  AND user = ?4)))",
		"isiss", d->object_id, d->res->column, sch_authz_now(), d->who->name,
		d->res->project) < 0)
		return -1;
	if (granted >= level) {
		d->out->rule = "label_grant";
		return 0;
	}
	*ok = false;
	deny(d, "label", 4031, "label %lld of %s '%s' is above your level %lld on {%s}",
	     (long long)level, is_column ? "column" : "table", what, (long long)user_level,
	     d->out->resource);
	return 0;
}

/* ---- ProjectProtection --------------------------------------------------- */

static int exception_allows(struct decider *d, const struct sch_authz_read *rd, bool *ok)
{
	cleanup_free char *text = NULL;
	struct sch_policy *pol = NULL;
	char res[SCH_AUTHZ_RESOURCE_MAX];
	struct sch_authz_resource r = { rd->project, SCH_OBJ_TABLE, rd->table, NULL };
	struct sch_policy_request rq = { .principal = d->who->name, .action = "odps:Select" };

	*ok = false;
	if (authz_db_text(d->db, d->err, &text,
			  "SELECT exception_policy FROM authz_project_flags WHERE project = ?1",
			  "s", rd->project) < 0)
		return -1;
	if (!text)
		return 0;
	if (sch_policy_parse(text, strlen(text), SCH_POLICY_EXCEPTION, &pol, d->err) < 0)
		return cmn_err_wrap(d->err, "exception policy of project %s", rd->project);
	sch_authz_resource_name(&r, res, sizeof(res));
	rq.resource = res;
	rq.source_ip = d->ctx->source_ip;
	rq.task_type = d->ctx->task_type;
	*ok = sch_policy_eval(pol, &rq) == SCH_POLICY_ALLOW;
	sch_policy_free(pol);
	return 0;
}

/* A write may take data out of every protected project the job read only
 * into that project itself or a project it trusts, unless the data came
 * through a package or the project's exception policy allows the read. */
static int protection_check(struct decider *d, bool *ok)
{
	*ok = true;
	for (size_t i = 0; d->ctx && i < d->ctx->nreads; i++) {
		const struct sch_authz_read *rd = &d->ctx->reads[i];
		struct authz_flags f;
		int64_t v;
		bool trusted, excepted;

		if (rd->via_package || !rd->project || strcmp(rd->project, d->res->project) == 0)
			continue;
		if (authz_project_flags(d->db, rd->project, &f, d->err) < 0)
			return -1;
		if (!f.protection)
			continue;
		if (authz_db_int(d->db, d->err, 0, &v, &trusted,
				 "SELECT 1 FROM authz_trusted WHERE project = ?1 AND trusted = ?2",
				 "ss", rd->project, d->res->project) < 0)
			return -1;
		if (trusted) {
			d->out->rule = "trusted_project";
			continue;
		}
		if (exception_allows(d, rd, &excepted) < 0)
			return -1;
		if (excepted) {
			d->out->rule = "exception_policy";
			continue;
		}
		*ok = false;
		return deny(d, "protection", 4021,
			    "project '%s' is protected: the job reads table '%s' of it and writes "
			    "{%s}, and '%s' is not one of its trusted projects",
			    rd->project, rd->table ? rd->table : "", d->out->resource,
			    d->res->project);
	}
	return 0;
}

/* ---- packages ------------------------------------------------------------ */

static bool privilege_listed(const char *list, const char *action)
{
	const char *a = strncasecmp(action, "odps:", 5) == 0 ? action + 5 : action;
	size_t alen = strlen(a);

	for (const char *p = list; *p;) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if ((n == alen && strncasecmp(p, a, n) == 0) ||
		    (n == 3 && strncasecmp(p, "All", 3) == 0))
			return true;
		p += n + (e ? 1 : 0);
	}
	return false;
}

/* One installed package holding the object: may the caller use it for this
 * action? Fills a denial reason when not, so the caller can report it. */
static int package_row(struct decider *d, sqlite3_stmt *st, bool *ok)
{
	int64_t pkg_id = sqlite3_column_int64(st, 0);
	const char *pkg = (const char *)sqlite3_column_text(st, 1);
	const char *privs = (const char *)sqlite3_column_text(st, 2);
	bool allowed_row = sqlite3_column_type(st, 3) != SQLITE_NULL;
	int64_t cap = sqlite3_column_type(st, 4) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 4);
	cleanup_free char *owner = NULL;
	bool member = false, reader = false;
	int64_t v;

	*ok = false;
	if (!allowed_row)
		return deny(d, "package", 4041,
			    "project '%s' is no longer allowed to install package '%s.%s'",
			    d->ctx->project, d->res->project, pkg);
	if (authz_project_owner(d->db, d->ctx->project, &owner, d->err) < 0 ||
	    authz_is_member(d->db, d->ctx->project, d->who->name, &member, d->err) < 0)
		return -1;
	if (!(owner && strcmp(owner, d->who->name) == 0)) {
		if (!member)
			return deny(d, "not_member", 4002, "You don't exist in project '%s'",
				    d->ctx->project);
		if (authz_db_int(
			d->db, d->err, 0, &v, &reader,
			"SELECT 1 FROM authz_package_reads WHERE package_id = ?1"
			" AND project = ?2 AND ((grantee_type = 'user' AND grantee = ?3) OR"
			" (grantee_type = 'role' AND grantee IN (SELECT role FROM"
			" authz_role_members WHERE project = ?2 AND user = ?3)))",
			"iss", pkg_id, d->ctx->project, d->who->name) < 0)
			return -1;
		if (!reader)
			return deny(
			    d, "package", 4011,
			    "You have no privilege 'odps:Read' on package {acs:odps:*:projects/"
			    "%s/packages/%s.%s}",
			    d->ctx->project, d->res->project, pkg);
	}
	if (!privilege_listed(privs, d->action))
		return deny(d, "package", 4041,
			    "package '%s.%s' does not grant '%s' (it grants %s)", d->res->project,
			    pkg, d->action, privs);
	if (d->flags.label_security && is_read(d->action, d->res->type)) {
		int64_t level;
		bool is_column;
		if (data_level(d, &level, &is_column) < 0)
			return -1;
		if (level > cap)
			return deny(d, "package_label", 4031,
				    "label %lld of %s '%s' is above the label %lld package '%s.%s' "
				    "was allowed with",
				    (long long)level, is_column ? "column" : "table",
				    is_column ? d->res->column : d->res->name, (long long)cap,
				    d->res->project, pkg);
	}
	*ok = true;
	return 0;
}

/* Access from another project through a package installed there. *handled
 * is true when some installed package holds the object (its decision, allow
 * or deny, is then in d->out). */
static int package_path(struct decider *d, bool *handled)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = 0;

	*handled = false;
	if (!d->ctx || !d->ctx->project || strcmp(d->ctx->project, d->res->project) == 0 ||
	    !d->res->name || d->object_id == 0)
		return 0;
	if (authz_db_query(
		d->db, d->err, &st,
		"SELECT p.id, p.name, po.privileges, a.package_id, a.label"
		" FROM authz_packages p"
		" JOIN authz_package_objects po ON po.package_id = p.id"
		" JOIN authz_package_installs i ON i.package_id = p.id AND i.project = ?1"
		" LEFT JOIN authz_package_allowed a ON a.package_id = p.id"
		"  AND a.project = ?1"
		" WHERE po.object_id = ?2 ORDER BY p.id",
		"si", d->ctx->project, d->object_id) < 0)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		bool ok;
		*handled = true;
		if (package_row(d, st, &ok) < 0) {
			ret = -1;
			break;
		}
		if (ok) {
			d->out->via_package = true;
			allow(d, "package");
			break;
		}
	}
	if (ret == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
		ret = cmn_err_set(d->err, CMN_EIO, 0, "catalog: %s", sqlite3_errmsg(d->db));
	sqlite3_finalize(st);
	return ret;
}

/* ---- the decision -------------------------------------------------------- */

static int is_creator(struct decider *d, bool *out)
{
	cleanup_free char *creator = NULL;

	*out = false;
	if (d->object_id == 0)
		return 0;
	if (authz_db_text(d->db, d->err, &creator,
			  "SELECT creator FROM authz_objects WHERE id = ?1", "i", d->object_id) < 0)
		return -1;
	*out = creator && strcmp(creator, d->who->name) == 0;
	return 0;
}

/* Step 3: what allows the access, or NULL. */
static int find_allow(struct decider *d, enum act_class cls, enum sch_policy_effect pol,
		      const char **rule)
{
	bool hit = false;

	*rule = NULL;
	if (cls == ACT_OWNER)
		return 0;
	if (cls == ACT_MEMBER) {
		*rule = "member";
		return 0;
	}
	if (cls == ACT_ADMIN || cls == ACT_GRANT) {
		if (authz_has_role(d->db, d->res->project, d->who->name, "admin", &hit, d->err) < 0)
			return -1;
		if (hit) {
			*rule = "admin_role";
			return 0;
		}
		if (cls == ACT_GRANT && d->flags.creator_grant) {
			if (is_creator(d, &hit) < 0)
				return -1;
			if (hit) {
				*rule = "creator";
				return 0;
			}
		}
		if (pol == SCH_POLICY_ALLOW)
			*rule = "policy_allow";
		return 0;
	}
	if (d->flags.check_acl) {
		if (acl_allows(d, &hit) < 0)
			return -1;
		if (hit) {
			*rule = "acl";
			return 0;
		}
	}
	if (pol == SCH_POLICY_ALLOW) {
		*rule = "policy_allow";
		return 0;
	}
	if (d->flags.creator_access) {
		if (is_creator(d, &hit) < 0)
			return -1;
		if (hit)
			*rule = "creator";
	}
	return 0;
}

/* Allow, labels and protection for a member of the resource's project;
 * pol is the policies' verdict (never Deny here). */
static int decide_member(struct decider *d, enum act_class cls, enum sch_policy_effect pol)
{
	const char *rule;
	bool ok;

	if (find_allow(d, cls, pol, &rule) < 0)
		return -1;
	if (!rule) {
		if (cls == ACT_OWNER)
			return no_privilege(d, "owner_only",
					    ": only the project owner may do this");
		return no_privilege(d, "no_privilege", "");
	}
	d->out->rule = rule;
	if (d->flags.label_security && is_read(d->action, d->res->type) && d->object_id) {
		if (label_check(d, &ok) < 0)
			return -1;
		if (!ok)
			return 0;
	}
	if (is_write(d->action)) {
		if (protection_check(d, &ok) < 0)
			return -1;
		if (!ok)
			return 0;
	}
	return allow(d, d->out->rule);
}

/* INSTALL PACKAGE src.pkg in project C needs src to have allowed C; this
 * holds for everyone, owner and super administrator included, because it is
 * the source project's decision, not C's. */
static int install_allowed(struct decider *d, bool *ok)
{
	const char *dot = d->res->name ? strchr(d->res->name, '.') : NULL;
	char src[256];
	int64_t v;

	*ok = false;
	if (!dot || (size_t)(dot - d->res->name) >= sizeof(src))
		return 0;
	memcpy(src, d->res->name, (size_t)(dot - d->res->name));
	src[dot - d->res->name] = '\0';
	return authz_db_int(d->db, d->err, 0, &v, ok,
			    "SELECT 1 FROM authz_packages p JOIN authz_package_allowed a"
			    " ON a.package_id = p.id WHERE p.project = ?1 AND p.name = ?2"
			    " AND a.project = ?3",
			    "sss", src, dot + 1, d->res->project);
}

/* A network link in a project exists for the model only while an operator
 * has allowed that project to use it (ALLOW PROJECT p TO USE NETWORKLINK l
 * registers it there; DISALLOW and DROP NETWORKLINK remove it). Like
 * INSTALL's precondition this is the operator's decision, not the
 * project's, so it binds owners and super administrators too; it names
 * which half is missing (the link, or the project's permission). */
static int networklink_allowed(struct decider *d, bool *ok)
{
	int64_t v;
	bool table = false, link = false;

	*ok = false;
	if (authz_object_id(d->db, d->res->project, SCH_OBJ_NETWORKLINK, d->res->name,
			    &d->object_id, d->err) < 0)
		return -1;
	if (d->object_id) {
		*ok = true;
		return 0;
	}
	if (authz_db_int(d->db, d->err, 0, &v, &table,
			 "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'netlinks'",
			 "") < 0 ||
	    (table &&
	     authz_db_int(d->db, d->err, 0, &v, &link, "SELECT 1 FROM netlinks WHERE name = ?1",
			  "s", d->res->name) < 0))
		return -1;
	if (!link)
		return deny(d, "networklink_not_found", 4000, "network link '%s' does not exist",
			    d->res->name);
	return deny(d, "networklink_not_allowed", 4041,
		    "project '%s' is not allowed to use network link '%s' (ALLOW PROJECT %s TO USE"
		    " NETWORKLINK %s)",
		    d->res->project, d->res->name, d->res->project, d->res->name);
}

static int decide_inner(struct decider *d)
{
	enum act_class cls = action_class(d->action);
	enum sch_policy_effect pol = SCH_POLICY_NO_MATCH;
	cleanup_free char *owner = NULL;
	bool member = false, handled = false;

	if (strcasecmp(d->action, "odps:InstallPackage") == 0) {
		bool ok;
		if (install_allowed(d, &ok) < 0)
			return -1;
		if (!ok)
			return deny(d, "install_not_allowed", 4041,
				    "project '%s' is not allowed to install package '%s'",
				    d->res->project, d->res->name ? d->res->name : "");
	}
	if (d->res->type == SCH_OBJ_NETWORKLINK && d->res->project && d->res->name) {
		bool ok;
		if (networklink_allowed(d, &ok) < 0)
			return -1;
		if (!ok)
			return 0;
	}
	if (d->who->super_admin)
		return allow(d, "super_admin");
	if (!d->res->project) /* operator objects (a link not yet given to a project) */
		return no_privilege(d, "operator_only",
				    ": only a system administrator may do this");
	if (authz_project_owner(d->db, d->res->project, &owner, d->err) < 0)
		return -1;
	if (!owner)
		return deny(d, "not_found", 4000, "project '%s' does not exist", d->res->project);
	if (strcmp(owner, d->who->name) == 0) {
		if (is_write(d->action)) {
			/* the owner is not exempt from another project's protection */
			bool ok;
			d->out->rule = "owner";
			if (protection_check(d, &ok) < 0)
				return -1;
			if (!ok)
				return 0;
			return allow(d, d->out->rule);
		}
		return allow(d, "owner");
	}
	if (d->res->type != SCH_OBJ_PROJECT && d->res->name &&
	    authz_object_id(d->db, d->res->project, d->res->type, d->res->name, &d->object_id,
			    d->err) < 0)
		return -1;
	if (authz_project_flags(d->db, d->res->project, &d->flags, d->err) < 0)
		return -1;
	/* an explicit Deny of the resource's project binds everyone but its
	 * owner, also when the access comes through a package */
	if (d->flags.check_policy && policy_effect(d, &pol) < 0)
		return -1;
	if (pol == SCH_POLICY_DENY)
		return deny(d, "policy_deny", 4019,
			    "You have no privilege '%s' on {%s}: explicitly denied by policy",
			    d->action, d->out->resource);
	if (cls == ACT_DATA && package_path(d, &handled) < 0)
		return -1;
	if (handled && d->out->allow) {
		/* a write through a package still carries other projects' data */
		bool ok = true;
		if (is_write(d->action) && protection_check(d, &ok) < 0)
			return -1;
		return ok ? allow(d, d->out->rule) : 0;
	}
	if (authz_is_member(d->db, d->res->project, d->who->name, &member, d->err) < 0)
		return -1;
	if (!member) {
		if (handled)
			return 0; /* the package's reason says more than "not a member" */
		return deny(d, "not_member", 4002, "You don't exist in project '%s'",
			    d->res->project);
	}
	return decide_member(d, cls, pol);
}

int sch_authz_decide(struct sch_catalog *cat, const struct sch_principal *who, const char *action,
		     const struct sch_authz_resource *res, const struct sch_authz_context *ctx,
		     struct sch_authz_decision *out, struct cmn_err *err)
{
	struct sch_authz_resource table = *res;
	struct decider d = {
		.db = sch_catalog_db(cat),
		.who = who,
		.action = action,
		.res = res,
		.ctx = ctx,
		.out = out,
		.err = err,
	};

	memset(out, 0, sizeof(*out));
	table.column = NULL;
	sch_authz_resource_name(res, out->resource, sizeof(out->resource));
	sch_authz_resource_name(&table, d.table_res, sizeof(d.table_res));
	if (decide_inner(&d) < 0) {
		out->allow = false;
		out->rule = "error";
		snprintf(out->reason, sizeof(out->reason), "authorization error: %s",
			 err ? err->msg : "catalog");
		return -1;
	}
	return 0;
}
