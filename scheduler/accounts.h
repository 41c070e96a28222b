/* scheduler/accounts.h — tenants and their credentials: accounts, RAM users,
 * RAM roles, access keys, and projects (the shared `projects` table of
 * catalog.h). Owned by the API component ("api" migrations).
 *
 * Entry points other modules use:
 *   sch_accounts_lookup_principal() — does a principal name exist (authz,
 *     ADD USER / GRANT ... TO USER check their targets with it);
 *   sch_project_get_owner() — a project's owner principal;
 *   sch_accounts_lookup_key() — authentication (api.c only).
 * Secrets are stored wrapped by keywrap.h and only unwrapped into the
 * in-memory key cache, which is dropped on every credential change.
 */
#ifndef SCH_ACCOUNTS_H
#define SCH_ACCOUNTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "scheduler/catalog.h"
#include "scheduler/keywrap.h"
#include "scheduler/principal.h"

struct sch_accounts;

#define SCH_KEY_ID_LEN 20
#define SCH_SECRET_LEN 40

struct sch_key_info {
	struct sch_principal principal;
	bool active;
	int64_t expires_at; /* 0 = never (assumed-role keys expire) */
	char secret[SCH_SECRET_LEN + 1];
	/* Signing-key cache (kSigning for one date/region/service). */
	char signing_date[9];
	uint8_t signing_key[32];
};

struct sch_new_key {
	char id[SCH_KEY_ID_LEN + 1];
	char secret[SCH_SECRET_LEN + 1];
};

int sch_accounts_open(struct sch_accounts **out, struct sch_catalog *cat, struct sch_keywrap *kw,
		      struct cmn_err *err);
void sch_accounts_close(struct sch_accounts *a);

/* Authentication: the key and its principal, or CMN_ENOTFOUND. The
 * returned pointer stays valid until the next credential change; the API
 * is single-threaded, so that is the next admin request at the earliest. */
int sch_accounts_lookup_key(struct sch_accounts *a, const char *key_id, struct sch_key_info **out,
			    struct cmn_err *err);
/* Principal by name (ALIYUN$a, RAM$a:u, RAM$a:role/r); CMN_ENOTFOUND if
 * it does not exist. */
int sch_accounts_lookup_principal(struct sch_accounts *a, const char *name,
				  struct sch_principal *out, struct cmn_err *err);
bool sch_name_valid(const char *name);
/* The same two lookups for modules that hold only the catalog (stmt.h's
 * ctx->cat): authz's ADD USER / GRANT targets, project ownership. */
int sch_catalog_lookup_principal(struct sch_catalog *cat, const char *name,
				 struct sch_principal *out, struct cmn_err *err);
int sch_catalog_project_owner(struct sch_catalog *cat, const char *project, char *owner, size_t len,
			      struct cmn_err *err);

int sch_account_create(struct sch_accounts *a, const char *name, bool operator_,
		       struct sch_new_key *key, struct cmn_err *err);
int sch_account_delete(struct sch_accounts *a, const char *name, struct cmn_err *err);
json_t *sch_account_list(struct sch_accounts *a, struct cmn_err *err);
int sch_account_exists(struct sch_accounts *a, const char *name, struct cmn_err *err);

/* kind: "user" or "role". */
int sch_member_create(struct sch_accounts *a, const char *kind, const char *account,
		      const char *name, struct cmn_err *err);
int sch_member_delete(struct sch_accounts *a, const char *kind, const char *account,
		      const char *name, struct cmn_err *err);
json_t *sch_member_list(struct sch_accounts *a, const char *kind, const char *account,
			struct cmn_err *err);

/* user/role NULL = a key of the account itself. expires_at 0 = never. */
int sch_key_create(struct sch_accounts *a, const char *account, const char *user, const char *role,
		   int64_t expires_at, struct sch_new_key *key, struct cmn_err *err);
int sch_key_set_active(struct sch_accounts *a, const char *account, const char *id, bool active,
		       struct cmn_err *err);
int sch_key_delete(struct sch_accounts *a, const char *account, const char *id,
		   struct cmn_err *err);
/* New key for the same owner; the old one is disabled (delete it once
 * every client uses the new one). */
int sch_key_rotate(struct sch_accounts *a, const char *account, const char *id,
		   struct sch_new_key *key, struct cmn_err *err);
json_t *sch_key_list(struct sch_accounts *a, const char *account, const char *user,
		     struct cmn_err *err);

int sch_project_create(struct sch_accounts *a, const char *name, const char *owner,
		       const char *description, struct cmn_err *err);
int sch_project_delete(struct sch_accounts *a, const char *name, struct cmn_err *err);
/* owner NULL = all projects. */
json_t *sch_project_list(struct sch_accounts *a, const char *owner, struct cmn_err *err);
json_t *sch_project_get(struct sch_accounts *a, const char *name, struct cmn_err *err);
int sch_project_get_owner(struct sch_accounts *a, const char *name, char *owner, size_t len,
			  struct cmn_err *err);
/* The whitelist text as stored (validated by whitelist.h before). */
int sch_project_get_whitelist(struct sch_accounts *a, const char *name, char **out,
			      struct cmn_err *err);
int sch_project_set_whitelist(struct sch_accounts *a, const char *name, const char *whitelist,
			      struct cmn_err *err);

#endif
