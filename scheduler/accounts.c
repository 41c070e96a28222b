/* scheduler/accounts.c — accounts, RAM users/roles, access keys, projects;
 * see accounts.h. */
#include "scheduler/accounts.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "scheduler/dbutil.h"

static const struct sch_migration migrations[] = {
	{ 1, "CREATE TABLE accounts ("
	     "  name TEXT PRIMARY KEY, operator INTEGER NOT NULL DEFAULT 0,"
	     "  created_at INTEGER NOT NULL);"
	     "CREATE TABLE ram_users ("
	     "  account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,"
	     "  name TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (account, name));"
	     "CREATE TABLE ram_roles ("
	     "  account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,"
	     "  name TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (account, name));"
	     "CREATE TABLE access_keys ("
	     "  id TEXT PRIMARY KEY,"
	     "  account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,"
	     "  user TEXT, role TEXT,"
	     "  secret_wrapped BLOB NOT NULL,"
	     "  status TEXT NOT NULL CHECK (status IN ('active', 'disabled')),"
	     "  created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL DEFAULT 0);"
	     "CREATE INDEX access_keys_owner ON access_keys(account, user);"
	     "CREATE TABLE projects ("
	     "  name TEXT PRIMARY KEY, owner TEXT NOT NULL, created_at INTEGER NOT NULL,"
	     "  description TEXT NOT NULL DEFAULT '',"
	     "  ip_whitelist TEXT NOT NULL DEFAULT '');"
	     "CREATE INDEX projects_owner ON projects(owner);" },
};

struct cache_entry {
	char id[SCH_KEY_ID_LEN + 1];
	struct sch_key_info info;
};

struct sch_accounts {
	struct sch_catalog *cat;
	sqlite3 *db;
	struct sch_keywrap *kw;
	struct cache_entry *cache;
	size_t cache_len, cache_cap;
};

static void cache_drop(struct sch_accounts *a)
{
	if (a->cache)
		OPENSSL_cleanse(a->cache, a->cache_cap * sizeof(*a->cache));
	free(a->cache);
	a->cache = NULL;
	a->cache_len = a->cache_cap = 0;
}

int sch_accounts_open(struct sch_accounts **out, struct sch_catalog *cat, struct sch_keywrap *kw,
		      struct cmn_err *err)
{
	cleanup_free struct sch_accounts *a = calloc(1, sizeof(*a));

	*out = NULL;
	if (!a)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	if (sch_catalog_migrate(cat, "api", migrations, CMN_ARRAY_SIZE(migrations), err) < 0)
		return -1;
	a->cat = cat;
	a->db = sch_catalog_db(cat);
	a->kw = kw;
	*out = steal_pointer(&a);
	return 0;
}

void sch_accounts_close(struct sch_accounts *a)
{
	if (!a)
		return;
	cache_drop(a);
	free(a);
}

bool sch_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 64 || !isalnum((unsigned char)name[0]))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!(islower(c) || isdigit(c) || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

static void fill_principal(struct sch_principal *p, const char *account, const char *user,
			   const char *role, bool op)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->account, sizeof(p->account), "%s", account);
	if (role) {
		p->type = SCH_PRINCIPAL_ROLE;
		snprintf(p->name, sizeof(p->name), "RAM$%s:role/%s", account, role);
	} else if (user) {
		p->type = SCH_PRINCIPAL_USER;
		snprintf(p->name, sizeof(p->name), "RAM$%s:%s", account, user);
	} else {
		p->type = SCH_PRINCIPAL_ACCOUNT;
		snprintf(p->name, sizeof(p->name), "ALIYUN$%s", account);
	}
	p->super_admin = op;
}

static int load_key(struct sch_accounts *a, const char *key_id, struct sch_key_info *info,
		    struct cmn_err *err)
{
	cleanup_buf struct cmn_buf plain = { 0 };
	char context[128];
	sqlite3_stmt *st;
	int rc;

	cmn_buf_init(&plain, 256);
	st = sch_db_prepare(a->db, err,
			    "SELECT k.account, k.user, k.role, k.secret_wrapped, k.status, "
			    "k.expires_at, acc.operator FROM access_keys k "
			    "JOIN accounts acc ON acc.name = k.account WHERE k.id = ?1",
			    "s", key_id);
	if (!st)
		return -1;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		return rc == SQLITE_DONE
			   ? cmn_err_set(err, CMN_ENOTFOUND, 0, "no such access key")
			   : cmn_err_set(err, CMN_EIO, 0, "%s", sqlite3_errmsg(a->db));
	}
	fill_principal(&info->principal, (const char *)sqlite3_column_text(st, 0),
		       (const char *)sqlite3_column_text(st, 1),
		       (const char *)sqlite3_column_text(st, 2), sqlite3_column_int(st, 6) != 0);
	snprintf(info->principal.access_key_id, sizeof(info->principal.access_key_id), "%s",
		 key_id);
	info->active = strcmp((const char *)sqlite3_column_text(st, 4), "active") == 0;
	info->expires_at = sqlite3_column_int64(st, 5);
	snprintf(context, sizeof(context), "access-key:%s", key_id);
	rc = sch_keywrap_unwrap(a->kw, context, sqlite3_column_blob(st, 3),
				(size_t)sqlite3_column_bytes(st, 3), &plain, err);
	sqlite3_finalize(st);
	if (rc < 0)
		return cmn_err_wrap(err, "access key %s", key_id);
	if (plain.len != SCH_SECRET_LEN)
		return cmn_err_set(err, CMN_EINTERNAL, 0, "access key %s: bad secret length",
				   key_id);
	memcpy(info->secret, plain.data, SCH_SECRET_LEN);
	info->secret[SCH_SECRET_LEN] = '\0';
	OPENSSL_cleanse(plain.data, plain.len);
	return 0;
}

int sch_accounts_lookup_key(struct sch_accounts *a, const char *key_id, struct sch_key_info **out,
			    struct cmn_err *err)
{
	struct sch_key_info info = { 0 };

	if (strlen(key_id) != SCH_KEY_ID_LEN)
		return cmn_err_set(err, CMN_ENOTFOUND, 0, "no such access key");
	for (size_t i = 0; i < a->cache_len; i++)
		if (strcmp(a->cache[i].id, key_id) == 0) {
			*out = &a->cache[i].info;
			return 0;
		}
	if (load_key(a, key_id, &info, err) < 0)
		return -1;
	if (a->cache_len == a->cache_cap) {
		size_t cap = a->cache_cap ? a->cache_cap * 2 : 16;
		struct cache_entry *n;
		/* Never realloc: entries handed out must not move. The cache is
		 * rebuilt from scratch on growth instead. */
		if (cap > 65536) {
			cache_drop(a);
			cap = 16;
		}
		n = calloc(cap, sizeof(*n));
		if (!n)
			return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		cache_drop(a);
		a->cache = n;
		a->cache_cap = cap;
	}
	snprintf(a->cache[a->cache_len].id, sizeof(a->cache[0].id), "%s", key_id);
	a->cache[a->cache_len].info = info;
	OPENSSL_cleanse(&info, sizeof(info));
	*out = &a->cache[a->cache_len++].info;
	return 0;
}

static int exists(struct sch_accounts *a, struct cmn_err *err, const char *sql, const char *x,
		  const char *y)
{
	sqlite3_stmt *st = sch_db_prepare(a->db, err, sql, "ss", x, y);
	int rc;
	if (!st)
		return -1;
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : cmn_err_set(err, CMN_EIO, 0, "%s", sqlite3_errmsg(a->db));
}

int sch_account_exists(struct sch_accounts *a, const char *name, struct cmn_err *err)
{
	return exists(a, err, "SELECT 1 FROM accounts WHERE name = ?1 AND ?2 IS NULL", name, NULL);
}

static int account_is_operator(struct sch_accounts *a, const char *name)
{
	return exists(a, NULL,
		      "SELECT 1 FROM accounts WHERE name = ?1 AND operator = 1 AND ?2 IS NULL",
		      name, NULL) == 1;
}

int sch_accounts_lookup_principal(struct sch_accounts *a, const char *name,
				  struct sch_principal *out, struct cmn_err *err)
{
	char acct[128] = "", rest[128] = "";
	const char *user = NULL, *role = NULL;
	int rc;

	if (strncmp(name, "ALIYUN$", 7) == 0) {
		snprintf(acct, sizeof(acct), "%s", name + 7);
		rc = sch_account_exists(a, acct, err);
	} else if (strncmp(name, "RAM$", 4) == 0 && strchr(name, ':')) {
		const char *colon = strchr(name, ':');
		snprintf(acct, sizeof(acct), "%.*s", (int)(colon - name - 4), name + 4);
		snprintf(rest, sizeof(rest), "%s", colon + 1);
		if (strncmp(rest, "role/", 5) == 0) {
			role = rest + 5;
			rc = exists(a, err,
				    "SELECT 1 FROM ram_roles WHERE account = ?1 AND name = ?2",
				    acct, role);
		} else {
			user = rest;
			rc = exists(a, err,
				    "SELECT 1 FROM ram_users WHERE account = ?1 AND name = ?2",
				    acct, user);
		}
	} else {
		return cmn_err_set(err, CMN_EINVAL, 0,
				   "'%s' is not a principal name (ALIYUN$a, RAM$a:u, RAM$a:role/r)",
				   name);
	}
	if (rc < 0)
		return -1;
	if (rc == 0)
		return cmn_err_set(err, CMN_ENOTFOUND, 0, "no such principal '%s'", name);
	fill_principal(out, acct, user, role, account_is_operator(a, acct));
	return 0;
}

/* Access key ids: "CDK" + 17 of [A-Z2-7]; secrets: 40 of [A-Za-z0-9]
 * (no ':' or '/', so `curl --user AK:SK` and INI files take them as is). */
static int random_text(char *out, size_t n, const char *alphabet)
{
	uint8_t raw[64];
	size_t alen = strlen(alphabet);
	if (n > sizeof(raw) || RAND_bytes(raw, (int)n) != 1)
		return -1;
	for (size_t i = 0; i < n; i++)
		out[i] = alphabet[raw[i] % alen]; /* 256 % 32 == 0; 256 % 62 bias is < 1 bit */
	out[n] = '\0';
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

int sch_key_create(struct sch_accounts *a, const char *account, const char *user, const char *role,
		   int64_t expires_at, struct sch_new_key *key, struct cmn_err *err)
{
	cleanup_buf struct cmn_buf wrapped = { 0 };
	char context[128];

	cmn_buf_init(&wrapped, 0);
	memcpy(key->id, "CDK", 3);
	if (random_text(key->id + 3, SCH_KEY_ID_LEN - 3, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") < 0 ||
	    random_text(key->secret, SCH_SECRET_LEN,
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") < 0)
		return cmn_err_set(err, CMN_EINTERNAL, 0, "RAND_bytes failed");
	snprintf(context, sizeof(context), "access-key:%s", key->id);
	if (sch_keywrap_wrap(a->kw, context, key->secret, SCH_SECRET_LEN, &wrapped, err) < 0)
		return -1;
	if (sch_db_run(a->db, err,
		       "INSERT INTO access_keys(id, account, user, role, secret_wrapped, status, "
		       "created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, 'active', ?6, ?7)",
		       "ssssbii", key->id, account, user, role, wrapped.data, wrapped.len, now_s(),
		       expires_at) < 0)
		return cmn_err_wrap(err, "create access key");
	cache_drop(a);
	return 0;
}

int sch_account_create(struct sch_accounts *a, const char *name, bool operator_,
		       struct sch_new_key *key, struct cmn_err *err)
{
	if (!sch_name_valid(name))
		return cmn_err_set(err, CMN_EINVAL, 0,
				   "invalid account name '%s' (a-z, 0-9, '_', '-', up to 64)",
				   name);
	if (sch_db_begin(a->db, err) < 0)
		return -1;
	if (sch_db_run(a->db, err,
		       "INSERT INTO accounts(name, operator, created_at) VALUES (?1, ?2, ?3)",
		       "sii", name, (int64_t)operator_, now_s()) < 0 ||
	    (key && sch_key_create(a, name, NULL, NULL, 0, key, err) < 0)) {
		sch_db_rollback(a->db);
		return cmn_err_wrap(err, "account %s", name);
	}
	return sch_db_commit(a->db, err);
}

int sch_account_delete(struct sch_accounts *a, const char *name, struct cmn_err *err)
{
	char owner[200];
	int n;

	if (account_is_operator(a, name))
		return cmn_err_set(err, CMN_EDENIED, 0, "the operator account cannot be deleted");
	/* Projects would be left with an owner nobody can act as. */
	snprintf(owner, sizeof(owner), "ALIYUN$%s", name);
	n = exists(a, err, "SELECT 1 FROM projects WHERE owner = ?1 AND ?2 IS NULL", owner, NULL);
	if (n != 0)
		return n < 0
			   ? -1
			   : cmn_err_set(err, CMN_ECONFLICT, 0,
					 "account %s still owns projects; delete them first", name);
	n = sch_db_run(a->db, err, "DELETE FROM accounts WHERE name = ?1", "s", name);
	cache_drop(a);
	if (n < 0)
		return -1;
	return n == 0 ? cmn_err_set(err, CMN_ENOTFOUND, 0, "no such account '%s'", name) : 0;
}

json_t *sch_account_list(struct sch_accounts *a, struct cmn_err *err)
{
	return sch_db_query_json(a->db, err,
				 "SELECT name, operator != 0 AS operator, created_at FROM accounts "
				 "ORDER BY name",
				 NULL);
}

static const char *member_table(const char *kind)
{
	return strcmp(kind, "role") == 0 ? "ram_roles" : "ram_users";
}

int sch_member_create(struct sch_accounts *a, const char *kind, const char *account,
		      const char *name, struct cmn_err *err)
{
	char sql[256];
	int rc = sch_account_exists(a, account, err);

	if (rc <= 0)
		return rc < 0 ? -1
			      : cmn_err_set(err, CMN_ENOTFOUND, 0, "no such account '%s'", account);
	if (!sch_name_valid(name))
		return cmn_err_set(err, CMN_EINVAL, 0, "invalid %s name '%s'", kind, name);
	snprintf(sql, sizeof(sql), "INSERT INTO %s(account, name, created_at) VALUES (?1, ?2, ?3)",
		 member_table(kind));
	if (sch_db_run(a->db, err, sql, "ssi", account, name, now_s()) < 0)
		return cmn_err_wrap(err, "%s %s", kind, name);
	return 0;
}

int sch_member_delete(struct sch_accounts *a, const char *kind, const char *account,
		      const char *name, struct cmn_err *err)
{
	char sql[256];
	int n;

	if (sch_db_begin(a->db, err) < 0)
		return -1;
	snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE account = ?1 AND name = ?2",
		 member_table(kind));
	n = sch_db_run(a->db, err, sql, "ss", account, name);
	if (n > 0)
		n = sch_db_run(a->db, err,
			       strcmp(kind, "role") == 0
				   ? "DELETE FROM access_keys WHERE account = ?1 AND role = ?2"
				   : "DELETE FROM access_keys WHERE account = ?1 AND user = ?2",
			       "ss", account, name) < 0
			? -1
			: 1;
	if (n <= 0) {
		sch_db_rollback(a->db);
		return n < 0 ? -1
			     : cmn_err_set(err, CMN_ENOTFOUND, 0, "no such %s '%s'", kind, name);
	}
	cache_drop(a);
	return sch_db_commit(a->db, err);
}

json_t *sch_member_list(struct sch_accounts *a, const char *kind, const char *account,
			struct cmn_err *err)
{
	char sql[256];
	snprintf(sql, sizeof(sql),
		 "SELECT name, created_at FROM %s WHERE account = ?1 ORDER BY name",
		 member_table(kind));
	return sch_db_query_json(a->db, err, sql, "s", account);
}

int sch_key_set_active(struct sch_accounts *a, const char *account, const char *id, bool active,
		       struct cmn_err *err)
{
	int n = sch_db_run(a->db, err,
			   "UPDATE access_keys SET status = ?3 WHERE account = ?1 AND id = ?2",
			   "sss", account, id, active ? "active" : "disabled");
	cache_drop(a);
	if (n < 0)
		return -1;
	return n == 0 ? cmn_err_set(err, CMN_ENOTFOUND, 0, "no such access key '%s'", id) : 0;
}

int sch_key_delete(struct sch_accounts *a, const char *account, const char *id, struct cmn_err *err)
{
	int n = sch_db_run(a->db, err, "DELETE FROM access_keys WHERE account = ?1 AND id = ?2",
			   "ss", account, id);
	cache_drop(a);
	if (n < 0)
		return -1;
	return n == 0 ? cmn_err_set(err, CMN_ENOTFOUND, 0, "no such access key '%s'", id) : 0;
}

int sch_key_rotate(struct sch_accounts *a, const char *account, const char *id,
		   struct sch_new_key *key, struct cmn_err *err)
{
	cleanup_free char *user = NULL, *role = NULL;
	sqlite3_stmt *st = sch_db_prepare(
	    a->db, err, "SELECT user, role FROM access_keys WHERE account = ?1 AND id = ?2", "ss",
	    account, id);
	int rc;

	if (!st)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (sqlite3_column_text(st, 0))
			user = strdup((const char *)sqlite3_column_text(st, 0));
		if (sqlite3_column_text(st, 1))
			role = strdup((const char *)sqlite3_column_text(st, 1));
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return cmn_err_set(err, CMN_ENOTFOUND, 0, "no such access key '%s'", id);
	if (role)
		return cmn_err_set(err, CMN_EINVAL, 0, "assumed-role keys expire; assume again");
	if (sch_db_begin(a->db, err) < 0)
		return -1;
	if (sch_key_create(a, account, user, NULL, 0, key, err) < 0 ||
	    sch_key_set_active(a, account, id, false, err) < 0) {
		sch_db_rollback(a->db);
		return -1;
	}
	return sch_db_commit(a->db, err);
}

json_t *sch_key_list(struct sch_accounts *a, const char *account, const char *user,
		     struct cmn_err *err)
{
	return sch_db_query_json(a->db, err,
				 "SELECT id AS accessKeyId, user, role, status, created_at, "
				 "expires_at FROM access_keys WHERE account = ?1 AND "
				 "(?2 IS NULL OR user = ?2) ORDER BY created_at, id",
				 "ss", account, user);
}

static bool project_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n < 1 || n > 64 || !islower((unsigned char)name[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)name[i]) && !isdigit((unsigned char)name[i]) &&
		    name[i] != '_')
			return false;
	return true;
}

int sch_project_create(struct sch_accounts *a, const char *name, const char *owner,
		       const char *description, struct cmn_err *err)
{
	if (!project_name_valid(name))
		return cmn_err_set(err, CMN_EINVAL, 0,
				   "invalid project name '%s' (a-z first, then a-z, 0-9, '_', up "
				   "to 64)",
				   name);
	if (sch_db_run(a->db, err,
		       "INSERT INTO projects(name, owner, created_at, description) "
		       "VALUES (?1, ?2, ?3, ?4)",
		       "ssis", name, owner, now_s(), description ? description : "") < 0)
		return cmn_err_wrap(err, "project %s", name);
	return 0;
}

int sch_project_delete(struct sch_accounts *a, const char *name, struct cmn_err *err)
{
	int n = sch_db_run(a->db, err, "DELETE FROM projects WHERE name = ?1", "s", name);
	if (n < 0)
		return cmn_err_wrap(err, "delete project %s", name);
	return n == 0 ? cmn_err_set(err, CMN_ENOTFOUND, 0, "no such project '%s'", name) : 0;
}

json_t *sch_project_list(struct sch_accounts *a, const char *owner, struct cmn_err *err)
{
	return sch_db_query_json(a->db, err,
				 "SELECT name, owner, created_at, description FROM projects "
				 "WHERE ?1 IS NULL OR owner = ?1 ORDER BY name",
				 "s", owner);
}

json_t *sch_project_get(struct sch_accounts *a, const char *name, struct cmn_err *err)
{
	json_t *rows =
	    sch_db_query_json(a->db, err,
			      "SELECT name, owner, created_at, description, "
			      "ip_whitelist AS ipWhitelist FROM projects WHERE name = ?1",
			      "s", name);
	json_t *row;

	if (!rows)
		return NULL;
	if (json_array_size(rows) == 0) {
		json_decref(rows);
		cmn_err_set(err, CMN_ENOTFOUND, 0, "no such project '%s'", name);
		return NULL;
	}
	row = json_incref(json_array_get(rows, 0));
	json_decref(rows);
	return row;
}

static int project_text(struct sch_accounts *a, const char *sql, const char *name, char **out,
			struct cmn_err *err)
{
	sqlite3_stmt *st = sch_db_prepare(a->db, err, sql, "s", name);
	int rc;

	*out = NULL;
	if (!st)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return cmn_err_set(err, CMN_ENOTFOUND, 0, "no such project '%s'", name);
	if (rc != SQLITE_ROW)
		return cmn_err_set(err, CMN_EIO, 0, "%s", sqlite3_errmsg(a->db));
	return *out ? 0 : cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
}

int sch_project_get_owner(struct sch_accounts *a, const char *name, char *owner, size_t len,
			  struct cmn_err *err)
{
	cleanup_free char *o = NULL;
	if (project_text(a, "SELECT owner FROM projects WHERE name = ?1", name, &o, err) < 0)
		return -1;
	snprintf(owner, len, "%s", o);
	return 0;
}

int sch_project_get_whitelist(struct sch_accounts *a, const char *name, char **out,
			      struct cmn_err *err)
{
	return project_text(a, "SELECT ip_whitelist FROM projects WHERE name = ?1", name, out, err);
}

int sch_project_set_whitelist(struct sch_accounts *a, const char *name, const char *whitelist,
			      struct cmn_err *err)
{
	int n = sch_db_run(a->db, err, "UPDATE projects SET ip_whitelist = ?2 WHERE name = ?1",
			   "ss", name, whitelist);
	if (n < 0)
		return -1;
	return n == 0 ? cmn_err_set(err, CMN_ENOTFOUND, 0, "no such project '%s'", name) : 0;
}

int sch_catalog_lookup_principal(struct sch_catalog *cat, const char *name,
				 struct sch_principal *out, struct cmn_err *err)
{
	struct sch_accounts a = { .cat = cat, .db = sch_catalog_db(cat) };
	return sch_accounts_lookup_principal(&a, name, out, err);
}

int sch_catalog_project_owner(struct sch_catalog *cat, const char *project, char *owner, size_t len,
			      struct cmn_err *err)
{
	struct sch_accounts a = { .cat = cat, .db = sch_catalog_db(cat) };
	return sch_project_get_owner(&a, project, owner, len, err);
}
