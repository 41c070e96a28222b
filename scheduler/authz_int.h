/* scheduler/authz_int.h — shared by the authz_*.c files only: small SQLite
 * helpers with typed binds, and the model lookups the decision function and
 * the statement executors both need. Not a public contract. */
#ifndef SCH_AUTHZ_INT_H
#define SCH_AUTHZ_INT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "scheduler/authz.h"

/* Binds: 's' const char * (NULL binds NULL), 'i' int64_t. */
int authz_db_run(sqlite3 *db, struct cmn_err *err, const char *sql, const char *types, ...);
/* First column of the first row as int64; *found says whether a row came
 * back (a NULL value counts as found with *out = def). */
int authz_db_int(sqlite3 *db, struct cmn_err *err, int64_t def, int64_t *out, bool *found,
		 const char *sql, const char *types, ...);
/* First column of the first row as a malloc'd string (NULL if no row). */
int authz_db_text(sqlite3 *db, struct cmn_err *err, char **out, const char *sql, const char *types,
		  ...);
/* Prepares and binds; the caller steps and finalizes. */
int authz_db_query(sqlite3 *db, struct cmn_err *err, sqlite3_stmt **st, const char *sql,
		   const char *types, ...);

struct authz_flags {
	bool check_acl, check_policy, creator_access, creator_grant, label_security, protection;
};
int authz_project_flags(sqlite3 *db, const char *project, struct authz_flags *f,
			struct cmn_err *err);
/* Owner from the projects table; *out NULL when the project does not exist. */
int authz_project_owner(sqlite3 *db, const char *project, char **out, struct cmn_err *err);
int authz_is_member(sqlite3 *db, const char *project, const char *user, bool *out,
		    struct cmn_err *err);
int authz_has_role(sqlite3 *db, const char *project, const char *user, const char *role, bool *out,
		   struct cmn_err *err);
/* id of a registered object, 0 when none */
int authz_object_id(sqlite3 *db, const char *project, enum sch_sql_objtype type, const char *name,
		    int64_t *id, struct cmn_err *err);

const char *authz_type_db(enum sch_sql_objtype t); /* "table", ... as stored */

/* Canonical spelling of an action valid for the object type ("select" ->
 * "Select"), NULL when the type has no such action. */
const char *authz_canon_action(enum sch_sql_objtype type, const char *action);

#endif
