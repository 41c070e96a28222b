/* scheduler/sql_parse_sec.c — the security statements of SQL.md (users,
 * roles, ACL, policies, flags, labels, trusted projects, packages). Each
 * sqlp_<verb>() is called by sch_sql_parse's dispatcher after the leading
 * keyword was consumed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scheduler/sql_parse_int.h"

/* ---- statements ---------------------------------------------------------- */

/* CREATE NETWORKLINK l ALLOW '<cidr>:<port>[-<port>]'[, ...] (an operator
 * statement, scheduler/netlinks.c runs it and validates the destinations) */
static int parse_create_networklink(struct sqlp *p, struct sch_sql_stmt *s)
{
	s->kind = SCH_SQL_CREATE_NETWORKLINK;
	s->obj_type = SCH_OBJ_NETWORKLINK;
	if (sqlp_ident(p, "network link name", &s->name) < 0 || sqlp_expect_kw(p, "ALLOW") < 0)
		return -1;
	do {
		char *d = NULL;
		if (sqlp_string_lit(p, "a quoted destination '<cidr>:<port>[-<port>]'", &d) < 0 ||
		    sqlp_list_push(p, &s->dests, d) < 0)
			return -1;
	} while (sqlp_accept_punct(p, ","));
	return 0;
}

/* GRANT LABEL n ON TABLE t[(cols)] TO {USER|ROLE} x [WITH EXP days] */
static int parse_grant_label(struct sqlp *p, struct sch_sql_stmt *s)
{
	s->kind = SCH_SQL_GRANT_LABEL;
	if (sqlp_label_level(p, s) < 0 || sqlp_expect_kw(p, "ON") < 0 ||
	    sqlp_expect_kw(p, "TABLE") < 0 || sqlp_qualified(p, "table name", &s->obj) < 0 ||
	    sqlp_opt_columns(p, &s->columns) < 0 || sqlp_expect_kw(p, "TO") < 0 ||
	    sqlp_grantee(p, s) < 0)
		return -1;
	s->obj_type = SCH_OBJ_TABLE;
	if (sqlp_accept_kw(p, "WITH")) {
		if (sqlp_expect_kw(p, "EXP") < 0 || sqlp_integer(p, "days", 0, 36500, &s->days) < 0)
			return -1;
		s->has_days = true;
	}
	return 0;
}

/* PRIVILEGEPROPERTIES ("expires"="<days>") */
static int privilege_properties(struct sqlp *p, struct sch_sql_stmt *s)
{
	if (sqlp_expect_punct(p, "(") < 0)
		return -1;
	do {
		char *key = NULL, *val = NULL, *end = NULL;
		long long v;
		int line = sqlp_cur(p)->line, col = sqlp_cur(p)->col;
		if (sqlp_string_lit(p, "property name", &key) < 0)
			return -1;
		if (sqlp_expect_punct(p, "=") < 0 ||
		    sqlp_string_lit(p, "property value", &val) < 0) {
			free(key);
			return -1;
		}
		if (strcasecmp(key, "expires") != 0) {
			cmn_err_set(p->err, CMN_EINVAL, 0,
				    "%d:%d: unknown privilege property '%.64s'", line, col, key);
			free(key);
			free(val);
			return -1;
		}
		errno = 0;
		v = strtoll(val, &end, 10);
		free(key);
		if (errno || !*val || *end || v < 0 || v > 36500) {
			free(val);
			return cmn_err_set(p->err, CMN_EINVAL, 0,
					   "%d:%d: expires must be a number of days 0..36500", line,
					   col);
		}
		free(val);
		s->has_days = true;
		s->days = v;
	} while (sqlp_accept_punct(p, ","));
	return sqlp_expect_punct(p, ")");
}

int sqlp_grant(struct sqlp *p, struct sch_sql_stmt *s)
{
	if (sqlp_accept_kw(p, "LABEL"))
		return parse_grant_label(p, s);
	if (sqlp_ident_list(p, "privilege or role name", &s->actions) < 0)
		return -1;
	if (sqlp_accept_kw(p, "TO")) {
		/* GRANT role TO user: the list must be one role name */
		if (s->actions.n != 1)
			return cmn_err_set(p->err, CMN_EINVAL, 0, "%d:%d: expected ON",
					   sqlp_cur(p)->line, sqlp_cur(p)->col);
		s->kind = SCH_SQL_GRANT_ROLE;
		s->name = s->actions.v[0];
		s->actions.v[0] = NULL;
		s->actions.n = 0;
		sqlp_accept_kw(p, "USER");
		return sqlp_principal_name(p, "user name", &s->grantee);
	}
	s->kind = SCH_SQL_GRANT;
	if (sqlp_expect_kw(p, "ON") < 0 || sqlp_acl_object(p, s) < 0)
		return -1;
	if (sqlp_expect_kw(p, "TO") < 0 || sqlp_grantee(p, s) < 0)
		return -1;
	if (sqlp_accept_kw(p, "PRIVILEGEPROPERTIES"))
		return privilege_properties(p, s);
	return 0;
}

int sqlp_revoke(struct sqlp *p, struct sch_sql_stmt *s)
{
	if (sqlp_accept_kw(p, "LABEL")) {
		s->kind = SCH_SQL_REVOKE_LABEL;
		s->obj_type = SCH_OBJ_TABLE;
		if (sqlp_expect_kw(p, "ON") < 0 || sqlp_expect_kw(p, "TABLE") < 0 ||
		    sqlp_qualified(p, "table name", &s->obj) < 0 ||
		    sqlp_opt_columns(p, &s->columns) < 0 || sqlp_expect_kw(p, "FROM") < 0)
			return -1;
		return sqlp_grantee(p, s);
	}
	if (sqlp_ident_list(p, "privilege or role name", &s->actions) < 0)
		return -1;
	if (sqlp_accept_kw(p, "FROM")) {
		if (s->actions.n != 1)
			return cmn_err_set(p->err, CMN_EINVAL, 0, "%d:%d: expected ON",
					   sqlp_cur(p)->line, sqlp_cur(p)->col);
		s->kind = SCH_SQL_REVOKE_ROLE;
		s->name = s->actions.v[0];
		s->actions.v[0] = NULL;
		s->actions.n = 0;
		sqlp_accept_kw(p, "USER");
		return sqlp_principal_name(p, "user name", &s->grantee);
	}
	s->kind = SCH_SQL_REVOKE;
	if (sqlp_expect_kw(p, "ON") < 0 || sqlp_acl_object(p, s) < 0 ||
	    sqlp_expect_kw(p, "FROM") < 0)
		return -1;
	return sqlp_grantee(p, s);
}

static int opt_on_type(struct sqlp *p, struct sch_sql_stmt *s)
{
	if (!sqlp_accept_kw(p, "ON"))
		return 0;
	if (sqlp_expect_kw(p, "TYPE") < 0)
		return -1;
	return sqlp_objtype(p, &s->filter_type);
}

/* SHOW GRANTS | ACL | LABEL | PACKAGES | SecurityConfiguration */
int sqlp_show(struct sqlp *p, struct sch_sql_stmt *s)
{
	if (sqlp_accept_kw(p, "GRANTS")) {
		s->kind = SCH_SQL_SHOW_GRANTS;
		if (sqlp_accept_kw(p, "FOR")) {
			if (sqlp_accept_kw(p, "ROLE"))
				s->grantee_is_role = true;
			else
				sqlp_accept_kw(p, "USER");
			if (sqlp_principal_name(p, "user name", &s->grantee) < 0)
				return -1;
		}
		return opt_on_type(p, s);
	}
	if (sqlp_accept_kw(p, "ACL")) {
		s->kind = SCH_SQL_SHOW_ACL;
		if (sqlp_expect_kw(p, "FOR") < 0 || sqlp_qualified(p, "object name", &s->obj) < 0)
			return -1;
		if (opt_on_type(p, s) < 0)
			return -1;
		s->obj_type = s->filter_type ? s->filter_type : SCH_OBJ_TABLE;
		return 0;
	}
	if (sqlp_accept_kw(p, "LABEL")) {
		s->kind = SCH_SQL_SHOW_LABEL_GRANTS;
		if (sqlp_cur(p)->type == SCH_TOK_NUMBER && sqlp_label_level(p, s) < 0)
			return -1;
		if (sqlp_expect_kw(p, "GRANTS") < 0)
			return -1;
		if (sqlp_accept_kw(p, "ON")) {
			s->obj_type = SCH_OBJ_TABLE;
			if (sqlp_expect_kw(p, "TABLE") < 0 ||
			    sqlp_qualified(p, "table name", &s->obj) < 0)
				return -1;
		}
		if (sqlp_accept_kw(p, "FOR")) {
			if (sqlp_expect_kw(p, "USER") < 0 ||
			    sqlp_principal_name(p, "user name", &s->grantee) < 0)
				return -1;
		}
		return 0;
	}
	if (sqlp_accept_kw(p, "PACKAGES")) {
		s->kind = SCH_SQL_SHOW_PACKAGES;
		return 0;
	}
	if (sqlp_accept_kw(p, "SecurityConfiguration")) {
		s->kind = SCH_SQL_SHOW_SECURITY_CONFIG;
		return 0;
	}
	if (sqlp_accept_kw(p, "NETWORKLINKS")) {
		s->kind = SCH_SQL_SHOW_NETWORKLINKS;
		return 0;
	}
	return sqlp_fail(p, "GRANTS, ACL, LABEL, PACKAGES, SecurityConfiguration or NETWORKLINKS");
}

static int parse_bool(struct sqlp *p, bool *out)
{
	if (sqlp_accept_kw(p, "true"))
		*out = true;
	else if (sqlp_accept_kw(p, "false"))
		*out = false;
	else
		return sqlp_fail(p, "true or false");
	return 0;
}

/* SET LABEL ... | SET <flag>=bool [WITH EXCEPTION 'json'] */
int sqlp_set(struct sqlp *p, struct sch_sql_stmt *s)
{
	const struct sch_token *t;

	if (sqlp_accept_kw(p, "LABEL")) {
		if (sqlp_label_level(p, s) < 0 || sqlp_expect_kw(p, "TO") < 0)
			return -1;
		if (sqlp_accept_kw(p, "USER")) {
			s->kind = SCH_SQL_SET_LABEL_USER;
			return sqlp_principal_name(p, "user name", &s->grantee);
		}
		if (sqlp_expect_kw(p, "TABLE") < 0)
			return sqlp_fail(p, "USER or TABLE");
		s->kind = SCH_SQL_SET_LABEL_TABLE;
		s->obj_type = SCH_OBJ_TABLE;
		if (sqlp_qualified(p, "table name", &s->obj) < 0)
			return -1;
		return sqlp_opt_columns(p, &s->columns);
	}
	t = sqlp_cur(p);
	for (size_t i = 0; i < SQLP_NFLAGS; i++) {
		if (!sch_tok_is_kw(t, sqlp_project_flags[i]))
			continue;
		s->kind = SCH_SQL_SET_FLAG;
		s->flag = sqlp_xstrdup(p, sqlp_project_flags[i]);
		if (!s->flag)
			return -1;
		sqlp_next(p);
		if (sqlp_expect_punct(p, "=") < 0 || parse_bool(p, &s->flag_value) < 0)
			return -1;
		if (i == 5 && sqlp_accept_kw(p, "WITH")) {
			if (sqlp_expect_kw(p, "EXCEPTION") < 0)
				return -1;
			return sqlp_string_lit(p, "exception policy (a quoted JSON text)",
					       &s->text);
		}
		return 0;
	}
	return sqlp_fail(p, "LABEL or a project security flag");
}

/* CREATE ROLE r | CREATE PACKAGE pkg | CREATE NETWORKLINK ... ; DROP likewise */
int sqlp_create_drop(struct sqlp *p, struct sch_sql_stmt *s, bool create)
{
	if (sqlp_accept_kw(p, "NETWORKLINK")) {
		if (create)
			return parse_create_networklink(p, s);
		s->kind = SCH_SQL_DROP_NETWORKLINK;
		s->obj_type = SCH_OBJ_NETWORKLINK;
		return sqlp_ident(p, "network link name", &s->name);
	}
	if (sqlp_accept_kw(p, "ROLE")) {
		s->kind = create ? SCH_SQL_CREATE_ROLE : SCH_SQL_DROP_ROLE;
		return sqlp_principal_name(p, "role name", &s->name);
	}
	if (sqlp_accept_kw(p, "PACKAGE")) {
		s->kind = create ? SCH_SQL_CREATE_PACKAGE : SCH_SQL_DROP_PACKAGE;
		return sqlp_ident(p, "package name", &s->name);
	}
	if (!create && sqlp_accept_kw(p, "TABLE")) {
		s->kind = SCH_SQL_DROP_TABLE;
		if (sqlp_accept_kw(p, "IF")) {
			if (sqlp_expect_kw(p, "EXISTS") < 0)
				return -1;
			s->if_exists = true;
		}
		return sqlp_qualified(p, "table name", &s->target);
	}
	return sqlp_fail(p, create ? "ROLE, PACKAGE or NETWORKLINK"
				   : "ROLE, PACKAGE, NETWORKLINK or TABLE");
}

/* ADD USER u | ADD TRUSTEDPROJECT p | ADD <type> name TO PACKAGE pkg [WITH PRIVILEGES ...]
 * and the REMOVE counterparts. */
int sqlp_add_remove(struct sqlp *p, struct sch_sql_stmt *s, bool add)
{
	if (sqlp_accept_kw(p, "USER")) {
		s->kind = add ? SCH_SQL_ADD_USER : SCH_SQL_REMOVE_USER;
		return sqlp_principal_name(p, "user name", &s->name);
	}
	if (sqlp_accept_kw(p, "TRUSTEDPROJECT")) {
		s->kind = add ? SCH_SQL_ADD_TRUSTED : SCH_SQL_REMOVE_TRUSTED;
		return sqlp_ident(p, "project name", &s->name);
	}
	s->kind = add ? SCH_SQL_ADD_TO_PACKAGE : SCH_SQL_REMOVE_FROM_PACKAGE;
	if (sqlp_objtype(p, &s->obj_type) < 0)
		return -1;
	if (s->obj_type == SCH_OBJ_PROJECT || s->obj_type == SCH_OBJ_PACKAGE ||
	    s->obj_type == SCH_OBJ_NETWORKLINK)
		return cmn_err_set(
		    p->err, CMN_EINVAL, 0,
		    "%d:%d: only a table, function, resource or instance can be %s a "
		    "package",
		    p->toks.v[p->pos - 1].line, p->toks.v[p->pos - 1].col,
		    add ? "added to" : "removed from");
	if (sqlp_ident(p, "object name", &s->obj.name) < 0)
		return -1;
	if (sqlp_expect_kw(p, add ? "TO" : "FROM") < 0 || sqlp_expect_kw(p, "PACKAGE") < 0 ||
	    sqlp_ident(p, "package name", &s->name) < 0)
		return -1;
	if (add && sqlp_accept_kw(p, "WITH")) {
		if (sqlp_expect_kw(p, "PRIVILEGES") < 0)
			return -1;
		return sqlp_ident_list(p, "privilege", &s->actions);
	}
	return 0;
}

/* ALLOW|DISALLOW PROJECT p TO INSTALL PACKAGE pkg [USING LABEL n]
 * ALLOW|DISALLOW PROJECT p TO USE NETWORKLINK l (an operator statement) */
int sqlp_allow(struct sqlp *p, struct sch_sql_stmt *s, bool allow)
{
	s->kind = allow ? SCH_SQL_ALLOW_INSTALL : SCH_SQL_DISALLOW_INSTALL;
	if (sqlp_expect_kw(p, "PROJECT") < 0 || sqlp_ident(p, "project name", &s->name) < 0 ||
	    sqlp_expect_kw(p, "TO") < 0)
		return -1;
	if (sqlp_accept_kw(p, "USE")) {
		s->kind = allow ? SCH_SQL_ALLOW_NETWORKLINK : SCH_SQL_DISALLOW_NETWORKLINK;
		s->obj_type = SCH_OBJ_NETWORKLINK;
		if (sqlp_expect_kw(p, "NETWORKLINK") < 0)
			return -1;
		return sqlp_ident(p, "network link name", &s->obj.name);
	}
	if (!sqlp_accept_kw(p, "INSTALL"))
		return sqlp_fail(p, "INSTALL or USE");
	if (sqlp_expect_kw(p, "PACKAGE") < 0 || sqlp_ident(p, "package name", &s->obj.name) < 0)
		return -1;
	s->obj_type = SCH_OBJ_PACKAGE;
	if (allow && sqlp_accept_kw(p, "USING")) {
		if (sqlp_expect_kw(p, "LABEL") < 0)
			return -1;
		return sqlp_label_level(p, s);
	}
	return 0;
}

/* src.pkg (the source project is required) */
int sqlp_package_ref(struct sqlp *p, struct sch_sql_stmt *s)
{
	s->obj_type = SCH_OBJ_PACKAGE;
	if (sqlp_qualified(p, "package name (<project>.<package>)", &s->obj) < 0)
		return -1;
	if (!s->obj.project)
		return cmn_err_set(
		    p->err, CMN_EINVAL, 0, "%d:%d: expected <project>.<package>, found '%.64s'",
		    p->toks.v[p->pos - 1].line, p->toks.v[p->pos - 1].col, s->obj.name);
	return 0;
}

int sqlp_list(struct sqlp *p, struct sch_sql_stmt *s)
{
	if (sqlp_accept_kw(p, "USERS"))
		s->kind = SCH_SQL_LIST_USERS;
	else if (sqlp_accept_kw(p, "ROLES"))
		s->kind = SCH_SQL_LIST_ROLES;
	else if (sqlp_accept_kw(p, "TRUSTEDPROJECTS"))
		s->kind = SCH_SQL_LIST_TRUSTED;
	else
		return sqlp_fail(p, "USERS, ROLES or TRUSTEDPROJECTS");
	return 0;
}

int sqlp_desc(struct sqlp *p, struct sch_sql_stmt *s)
{
	if (sqlp_accept_kw(p, "ROLE")) {
		s->kind = SCH_SQL_DESC_ROLE;
		return sqlp_principal_name(p, "role name", &s->name);
	}
	if (sqlp_accept_kw(p, "PACKAGE")) {
		s->kind = SCH_SQL_DESCRIBE_PACKAGE;
		return sqlp_package_ref(p, s);
	}
	s->kind = SCH_SQL_DESC_TABLE;
	sqlp_accept_kw(p, "TABLE");
	return sqlp_qualified(p, "table name", &s->target);
}

int sqlp_policy(struct sqlp *p, struct sch_sql_stmt *s, bool put)
{
	s->kind = put ? SCH_SQL_PUT_POLICY : SCH_SQL_GET_POLICY;
	if (sqlp_expect_kw(p, "POLICY") < 0)
		return -1;
	if (put && sqlp_string_lit(p, "policy (a quoted JSON text)", &s->text) < 0)
		return -1;
	if (sqlp_accept_kw(p, "ON")) {
		if (sqlp_expect_kw(p, "ROLE") < 0)
			return -1;
		return sqlp_principal_name(p, "role name", &s->role);
	}
	return 0;
}
