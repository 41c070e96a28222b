/* scheduler/sql_ast.h — the syntax tree of Cordon's SQL dialect.
 *
 * One grammar for the whole dialect: the security statements of SQL.md,
 * EXPLAIN PERMISSION, WHOAMI, and (for now) the smallest query subset that
 * EXPLAIN PERMISSION needs to name column reads and table writes:
 *   SELECT [DISTINCT] {* | [t.]c, ...} FROM [p.]t [alias]
 *   INSERT {INTO|OVERWRITE} TABLE [p.]t SELECT ...
 *   DESC [p.]t        DROP TABLE [IF EXISTS] [p.]t
 * The SQL jobs module replaces SCH_SQL_SELECT/INSERT with its full query
 * tree (struct sch_sql_query *) and adds its DDL/DML kinds here.
 *
 * Ownership: every pointer in a statement is owned by it and released by
 * sch_sql_stmt_free(); a script owns its statements.
 */
#ifndef SCH_SQL_AST_H
#define SCH_SQL_AST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sch_q_stmt;

enum sch_sql_kind {
	SCH_SQL_ADD_USER = 1,
	SCH_SQL_REMOVE_USER,
	SCH_SQL_LIST_USERS,
	SCH_SQL_CREATE_ROLE,
	SCH_SQL_DROP_ROLE,
	SCH_SQL_LIST_ROLES,
	SCH_SQL_DESC_ROLE,
	SCH_SQL_GRANT_ROLE,  /* GRANT r TO u */
	SCH_SQL_REVOKE_ROLE, /* REVOKE r FROM u */
	SCH_SQL_GRANT,       /* GRANT actions ON type obj [(cols)] TO USER|ROLE x */
	SCH_SQL_REVOKE,
	SCH_SQL_SHOW_GRANTS,
	SCH_SQL_SHOW_ACL,
	SCH_SQL_PUT_POLICY,
	SCH_SQL_GET_POLICY,
	SCH_SQL_SET_FLAG, /* SET CheckPermissionUsingACL=true ... */
	SCH_SQL_SHOW_SECURITY_CONFIG,
	SCH_SQL_SET_LABEL_USER,
	SCH_SQL_SET_LABEL_TABLE,
	SCH_SQL_GRANT_LABEL,
	SCH_SQL_REVOKE_LABEL,
	SCH_SQL_CLEAR_EXPIRED_GRANTS,
	SCH_SQL_SHOW_LABEL_GRANTS,
	SCH_SQL_ADD_TRUSTED,
	SCH_SQL_REMOVE_TRUSTED,
	SCH_SQL_LIST_TRUSTED,
	SCH_SQL_CREATE_PACKAGE,
	SCH_SQL_DROP_PACKAGE,
	SCH_SQL_ADD_TO_PACKAGE,
	SCH_SQL_REMOVE_FROM_PACKAGE,
	SCH_SQL_ALLOW_INSTALL,
	SCH_SQL_DISALLOW_INSTALL,
	SCH_SQL_INSTALL_PACKAGE,
	SCH_SQL_UNINSTALL_PACKAGE,
	SCH_SQL_SHOW_PACKAGES,
	SCH_SQL_DESCRIBE_PACKAGE,
	SCH_SQL_EXPLAIN_PERMISSION,
	SCH_SQL_WHOAMI,
	/* query subset (see above) */
	SCH_SQL_SELECT,
	SCH_SQL_INSERT,
	SCH_SQL_DESC_TABLE,
	SCH_SQL_DROP_TABLE,
	SCH_SQL_QUERY, /* EXPLAIN PERMISSION <query/DDL/DML outside the subset>: see q */
	/* operator statements (network links; scheduler/netlinks.h) */
	SCH_SQL_CREATE_NETWORKLINK, /* name, dests */
	SCH_SQL_DROP_NETWORKLINK,   /* name */
	SCH_SQL_ALLOW_NETWORKLINK,  /* ALLOW PROJECT name TO USE NETWORKLINK obj.name */
	SCH_SQL_DISALLOW_NETWORKLINK,
	SCH_SQL_SHOW_NETWORKLINKS,
};

enum sch_sql_objtype {
	SCH_OBJ_NONE = 0,
	SCH_OBJ_PROJECT,
	SCH_OBJ_TABLE, /* tables and views share the TABLE type, as in MaxCompute */
	SCH_OBJ_FUNCTION,
	SCH_OBJ_RESOURCE,
	SCH_OBJ_INSTANCE,
	SCH_OBJ_PACKAGE,
	SCH_OBJ_NETWORKLINK,
};

/* [project.]name; project is NULL when not written. */
struct sch_sql_name {
	char *project;
	char *name;
};

struct sch_sql_list {
	char **v;
	size_t n;
};

struct sch_sql_stmt {
	enum sch_sql_kind kind;
	int line, col; /* of the statement's first token */

	enum sch_sql_objtype obj_type; /* GRANT/REVOKE/SHOW ACL/packages */
	struct sch_sql_name obj;       /* table, package src.pkg, ... */
	char *name;                    /* user, role, project or package the statement is about */
	char *grantee;                 /* GRANT ... TO USER|ROLE grantee, FOR [USER] u */
	bool grantee_is_role;
	char *role;                       /* PUT/GET POLICY ON ROLE r; */
	struct sch_sql_list actions;      /* GRANT/REVOKE, WITH PRIVILEGES */
	struct sch_sql_list columns;      /* (c1, c2) after a table name */
	enum sch_sql_objtype filter_type; /* SHOW GRANTS/ACL ... ON TYPE t */

	bool has_level;
	int level; /* label 0..9 */
	bool has_days;
	int64_t days; /* expires / WITH EXP */

	char *flag; /* SET <flag>=... as written */
	bool flag_value;
	char *text;                /* policy JSON (PUT POLICY, WITH EXCEPTION) */
	struct sch_sql_list dests; /* CREATE NETWORKLINK ... ALLOW 'cidr:port', ... (as written) */

	struct sch_sql_stmt *inner; /* EXPLAIN PERMISSION <inner> */
	/* EXPLAIN PERMISSION of a query/DDL/DML statement: its full tree in the
	 * query grammar (sql_query.h), NULL otherwise; the subset fields below
	 * are filled too when the subset parser understands the statement. */
	struct sch_q_stmt *q;

	/* query subset */
	bool select_star;
	struct sch_sql_list select_cols; /* column names (qualifier dropped) */
	struct sch_sql_name from;        /* SELECT ... FROM */
	struct sch_sql_name target;      /* INSERT target, DESC/DROP TABLE */
	bool overwrite;
	bool if_exists;
};

struct sch_sql_script {
	struct sch_sql_stmt **v;
	size_t n;
};

void sch_sql_stmt_free(struct sch_sql_stmt *s);
/* Frees the names of a list and empties it (the list struct is the caller's). */
void sch_sql_list_free(struct sch_sql_list *l);
void sch_sql_script_free(struct sch_sql_script *sc);

const char *sch_sql_objtype_name(enum sch_sql_objtype t); /* "table", ... */

#endif
