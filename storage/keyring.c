/* storage/keyring.c — root key -> project keys -> table data keys.
 *
 * Only wrapped keys are stored (tables stor_keyring_meta, stor_project_keys,
 * stor_table_keys). The root key lives in memory for the keyring's life;
 * project and data keys are unwrapped per use and wiped right after.
 * Labels bind each wrapped key to its place (project/table and version), so
 * a wrapped key copied to another row does not unwrap.
 */
#define _GNU_SOURCE
#include "storage/keyring.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "storage/chunk_proto.h"
#include "storage/schema.h"

struct stor_keyring {
	sqlite3 *db;
	struct stor_key root;
	pthread_mutex_t mu;
};

static const struct stor_migration migrations[] = {
	{ 1, "CREATE TABLE stor_keyring_meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);"
	     "CREATE TABLE stor_project_keys (project TEXT NOT NULL, version INTEGER NOT NULL,"
	     " origin TEXT NOT NULL, state TEXT NOT NULL, wrapped BLOB,"
	     " created_at INTEGER NOT NULL, PRIMARY KEY (project, version));"
	     "CREATE TABLE stor_table_keys (table_id INTEGER NOT NULL, version INTEGER NOT NULL,"
	     " project TEXT NOT NULL, project_key_version INTEGER NOT NULL,"
	     " wrapped BLOB NOT NULL, created_at INTEGER NOT NULL,"
	     " PRIMARY KEY (table_id, version));" },
};

#define ROOT_CHECK_LABEL "root-key-check"
#define ROOT_CHECK_TEXT "cordon root key check v1"

pthread_mutex_t *stor_keyring_db_mutex(struct stor_keyring *kr)
{
	return &kr->mu;
}

static int parse_hex_key(const char *text, size_t len, struct stor_key *k, const char *what,
			 struct cmn_err *err)
{
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
		len--;
	if (len != 2 * STOR_KEY_LEN || stor_unhex(text, len, k->b) < 0)
		return cmn_err_set(err, CMN_EINVAL, 0, "%s: want 64 hex characters", what);
	return 0;
}

static int root_from_file(const char *path, struct stor_key *k, struct cmn_err *err)
{
	char text[130];
	struct stat st;
	ssize_t n;
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0 && errno == ENOENT) {
		/* first start: a fresh root key, never readable by anyone else */
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			return cmn_err_sys(err, "create root key %s", path);
		if (stor_key_random(k, err) < 0)
			return -1;
		stor_hex(k->b, STOR_KEY_LEN, text);
		text[64] = '\n';
		n = write(fd, text, 65);
		OPENSSL_cleanse(text, sizeof(text));
		if (n != 65 || fsync(fd) < 0) {
			unlink(path);
			return cmn_err_sys(err, "write root key %s", path);
		}
		return 0;
	}
	if (fd < 0)
		return cmn_err_sys(err, "open root key %s", path);
	if (fstat(fd, &st) < 0)
		return cmn_err_sys(err, "fstat root key %s", path);
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077) || st.st_uid != geteuid())
		return cmn_err_set(err, CMN_EDENIED, 0,
				   "root key %s must be a regular file of mode 0600 owned by us",
				   path);
	n = read(fd, text, sizeof(text));
	if (n < 0)
		return cmn_err_sys(err, "read root key %s", path);
	n = parse_hex_key(text, (size_t)n, k, path, err);
	OPENSSL_cleanse(text, sizeof(text));
	return (int)n;
}

/* Runs the operator's KMS command (argv split on spaces, no shell) and
 * reads the root key from its standard output. */
static int root_from_kms(const char *cmd, struct stor_key *k, struct cmn_err *err)
{
	char *argv[32], text[256];
	cleanup_free char *copy = strdup(cmd);
	char *save = NULL, *tok;
	int p[2], status, argc = 0;
	size_t got = 0;
	pid_t pid;

	if (!copy)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	for (tok = strtok_r(copy, " ", &save); tok && argc < 31; tok = strtok_r(NULL, " ", &save))
		argv[argc++] = tok;
	argv[argc] = NULL;
	if (argc == 0)
		return cmn_err_set(err, CMN_EINVAL, 0, "empty KMS command");
	if (pipe2(p, O_CLOEXEC) < 0)
		return cmn_err_sys(err, "pipe2");
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return cmn_err_sys(err, "fork");
	}
	if (pid == 0) {
		dup2(p[1], 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		ssize_t r = read(p[0], text + got, sizeof(text) - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		if (got == sizeof(text) - 1)
			break;
	}
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		OPENSSL_cleanse(text, sizeof(text));
		return cmn_err_set(err, CMN_EUNAVAIL, 0, "KMS command %s failed (status %d)",
				   argv[0], status);
	}
	status = parse_hex_key(text, got, k, "KMS command output", err);
	OPENSSL_cleanse(text, sizeof(text));
	return status;
}

static int meta_get(struct stor_keyring *kr, const char *name, uint8_t **val, size_t *len)
{
	sqlite3_stmt *st;
	int rc = -1;
	*val = NULL;
	if (sqlite3_prepare_v2(kr->db, "SELECT value FROM stor_keyring_meta WHERE name = ?", -1,
			       &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*len = (size_t)sqlite3_column_bytes(st, 0);
		*val = malloc(*len ? *len : 1);
		if (*val) {
			memcpy(*val, sqlite3_column_blob(st, 0), *len);
			rc = 0;
		}
	}
	sqlite3_finalize(st);
	return rc;
}

/* Proves the root key is the one this database was set up with. */
static int check_root(struct stor_keyring *kr, struct cmn_err *err)
{
	uint8_t *val = NULL, *plain = NULL;
	size_t len = 0, plen = 0;
	sqlite3_stmt *st;
	int rc;

	if (meta_get(kr, ROOT_CHECK_LABEL, &val, &len) == 0) {
		rc = stor_unwrap(&kr->root, ROOT_CHECK_LABEL, val, len, &plain, &plen, NULL);
		free(val);
		if (rc < 0 || plen != strlen(ROOT_CHECK_TEXT) ||
		    memcmp(plain, ROOT_CHECK_TEXT, plen) != 0) {
			stor_secret_free(plain, plen);
			return cmn_err_set(
			    err, CMN_EAUTH, 0,
			    "wrong root key: it does not unwrap this catalog's keys");
		}
		stor_secret_free(plain, plen);
		return 0;
	}
	if (stor_wrap(&kr->root, ROOT_CHECK_LABEL, ROOT_CHECK_TEXT, strlen(ROOT_CHECK_TEXT), &val,
		      &len, err) < 0)
		return -1;
	if (sqlite3_prepare_v2(kr->db, "INSERT INTO stor_keyring_meta(name, value) VALUES (?, ?)",
			       -1, &st, NULL) != SQLITE_OK) {
		free(val);
		return stor_db_err(kr->db, err, "prepare");
	}
	sqlite3_bind_text(st, 1, ROOT_CHECK_LABEL, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, val, (int)len, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	free(val);
	return rc == SQLITE_DONE ? 0 : stor_db_err(kr->db, err, "store root key check");
}

int stor_keyring_open(struct stor_keyring **out, sqlite3 *db, const struct stor_keyring_cfg *cfg,
		      struct cmn_err *err)
{
	struct stor_keyring *kr;
	pthread_mutexattr_t a;
	int rc;

	*out = NULL;
	if (!!cfg->root_key_file == !!cfg->kms_command)
		return cmn_err_set(err, CMN_EINVAL, 0,
				   "keyring: give a root key file or a KMS command (one)");
	kr = calloc(1, sizeof(*kr));
	if (!kr)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	kr->db = db;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&kr->mu, &a);
	pthread_mutexattr_destroy(&a);
	rc = cfg->root_key_file ? root_from_file(cfg->root_key_file, &kr->root, err)
				: root_from_kms(cfg->kms_command, &kr->root, err);
	if (rc < 0 || stor_db_exec(db, "PRAGMA secure_delete = ON", err) < 0 ||
	    stor_schema_apply(db, "keyring", migrations, CMN_ARRAY_SIZE(migrations), err) < 0 ||
	    check_root(kr, err) < 0) {
		stor_keyring_close(kr);
		return cmn_err_wrap(err, "keyring");
	}
	*out = kr;
	return 0;
}

void stor_keyring_close(struct stor_keyring *kr)
{
	if (!kr)
		return;
	stor_key_wipe(&kr->root);
	pthread_mutex_destroy(&kr->mu);
	free(kr);
}

int stor_keyring_wrap_secret(struct stor_keyring *kr, const char *label, const void *secret,
			     size_t len, uint8_t **out, size_t *outlen, struct cmn_err *err)
{
	char full[512];
	snprintf(full, sizeof(full), "secret|%s", label);
	return stor_wrap(&kr->root, full, secret, len, out, outlen, err);
}

int stor_keyring_unwrap_secret(struct stor_keyring *kr, const char *label, const uint8_t *in,
			       size_t len, uint8_t **out, size_t *outlen, struct cmn_err *err)
{
	char full[512];
	snprintf(full, sizeof(full), "secret|%s", label);
	return stor_unwrap(&kr->root, full, in, len, out, outlen, err);
}

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

/* Unwraps a project key version (0 = the active one). */
static int project_key(struct stor_keyring *kr, const char *project, uint32_t version,
		       struct stor_key *k, uint32_t *ver_out, struct cmn_err *err)
{
	sqlite3_stmt *st;
	char label[400];
	uint8_t *plain = NULL;
	size_t plen = 0;
	int rc;

	rc = sqlite3_prepare_v2(kr->db,
				version ? "SELECT version, wrapped FROM stor_project_keys WHERE "
					  "project = ?1 AND version = ?2 AND wrapped IS NOT NULL"
					: "SELECT version, wrapped FROM stor_project_keys WHERE "
					  "project = ?1 AND state = 'active' ORDER BY version DESC "
					  "LIMIT 1",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return stor_db_err(kr->db, err, "prepare");
	sqlite3_bind_text(st, 1, project, -1, SQLITE_STATIC);
	if (version)
		sqlite3_bind_int64(st, 2, version);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return cmn_err_set(err, CMN_ENOTFOUND, 0, "no key for project %s", project);
	}
	*ver_out = (uint32_t)sqlite3_column_int64(st, 0);
	snprintf(label, sizeof(label), "project-key|%s|%u", project, *ver_out);
	rc = stor_unwrap(&kr->root, label, sqlite3_column_blob(st, 1),
			 (size_t)sqlite3_column_bytes(st, 1), &plain, &plen, err);
	sqlite3_finalize(st);
	if (rc < 0)
		return -1;
	if (plen != STOR_KEY_LEN) {
		stor_secret_free(plain, plen);
		return cmn_err_set(err, CMN_EAUTH, 0, "project key of %s has a bad length",
				   project);
	}
	memcpy(k->b, plain, STOR_KEY_LEN);
	stor_secret_free(plain, plen);
	return 0;
}

static int insert_project_key(struct stor_keyring *kr, const char *project, uint32_t version,
			      const struct stor_key *k, const char *origin, struct cmn_err *err)
{
	char label[400];
	uint8_t *w = NULL;
	size_t wl;
	sqlite3_stmt *st;
	int rc;

	snprintf(label, sizeof(label), "project-key|%s|%u", project, version);
	if (stor_wrap(&kr->root, label, k->b, STOR_KEY_LEN, &w, &wl, err) < 0)
		return -1;
	if (sqlite3_prepare_v2(kr->db,
			       "INSERT INTO stor_project_keys(project, version, origin, state, "
			       "wrapped, created_at) VALUES (?, ?, ?, 'active', ?, ?)",
			       -1, &st, NULL) != SQLITE_OK) {
		free(w);
		return stor_db_err(kr->db, err, "prepare");
	}
	sqlite3_bind_text(st, 1, project, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, version);
	sqlite3_bind_text(st, 3, origin, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, w, (int)wl, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, now_s());
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	free(w);
	if (rc != SQLITE_DONE)
		return rc == SQLITE_CONSTRAINT
			   ? cmn_err_set(err, CMN_EEXIST, 0, "project %s already has a key",
					 project)
			   : stor_db_err(kr->db, err, "insert project key");
	return 0;
}

static int new_key(const uint8_t *byok, struct stor_key *k, const char **origin,
		   struct cmn_err *err)
{
	*origin = byok ? "imported" : "generated";
	if (byok) {
		memcpy(k->b, byok, STOR_KEY_LEN);
		return 0;
	}
	return stor_key_random(k, err);
}

int stor_keyring_project_create(struct stor_keyring *kr, const char *project, const uint8_t *byok,
				struct cmn_err *err)
{
	struct stor_key k;
	const char *origin;
	int rc;

	if (!project || !*project || strlen(project) > 256)
		return cmn_err_set(err, CMN_EINVAL, 0, "bad project name");
	if (new_key(byok, &k, &origin, err) < 0)
		return -1;
	pthread_mutex_lock(&kr->mu);
	rc = insert_project_key(kr, project, 1, &k, origin, err);
	pthread_mutex_unlock(&kr->mu);
	stor_key_wipe(&k);
	return rc;
}

int stor_keyring_project_version(struct stor_keyring *kr, const char *project, uint32_t *version,
				 struct cmn_err *err)
{
	struct stor_key k;
	int rc;
	pthread_mutex_lock(&kr->mu);
	rc = project_key(kr, project, 0, &k, version, err);
	pthread_mutex_unlock(&kr->mu);
	stor_key_wipe(&k);
	return rc;
}

static int table_label(char *out, size_t n, uint64_t table_id, uint32_t version)
{
	return snprintf(out, n, "table-key|%llu|%u", (unsigned long long)table_id, version);
}

/* Rewraps every data key of project from old_k to new_k (in the caller's
 * transaction). */
static int rewrap_tables(struct stor_keyring *kr, const char *project, const struct stor_key *old_k,
			 const struct stor_key *new_k, uint32_t new_ver, struct cmn_err *err)
{
	sqlite3_stmt *sel, *upd;
	int rc = 0;

	if (sqlite3_prepare_v2(kr->db,
			       "SELECT table_id, version, wrapped FROM stor_table_keys WHERE "
			       "project = ?",
			       -1, &sel, NULL) != SQLITE_OK)
		return stor_db_err(kr->db, err, "prepare");
	if (sqlite3_prepare_v2(kr->db,
			       "UPDATE stor_table_keys SET wrapped = ?, project_key_version = ? "
			       "WHERE table_id = ? AND version = ?",
			       -1, &upd, NULL) != SQLITE_OK) {
		sqlite3_finalize(sel);
		return stor_db_err(kr->db, err, "prepare");
	}
	sqlite3_bind_text(sel, 1, project, -1, SQLITE_STATIC);
	while (rc == 0 && sqlite3_step(sel) == SQLITE_ROW) {
		uint64_t tid = (uint64_t)sqlite3_column_int64(sel, 0);
		uint32_t ver = (uint32_t)sqlite3_column_int64(sel, 1);
		uint8_t *plain = NULL, *w = NULL;
		size_t plen = 0, wl = 0;
		char label[128];

		table_label(label, sizeof(label), tid, ver);
		if (stor_unwrap(old_k, label, sqlite3_column_blob(sel, 2),
				(size_t)sqlite3_column_bytes(sel, 2), &plain, &plen, err) < 0 ||
		    stor_wrap(new_k, label, plain, plen, &w, &wl, err) < 0) {
			stor_secret_free(plain, plen);
			rc = -1;
			break;
		}
		stor_secret_free(plain, plen);
		sqlite3_reset(upd);
		sqlite3_bind_blob(upd, 1, w, (int)wl, SQLITE_TRANSIENT);
		sqlite3_bind_int64(upd, 2, new_ver);
		sqlite3_bind_int64(upd, 3, (sqlite3_int64)tid);
		sqlite3_bind_int64(upd, 4, ver);
		if (sqlite3_step(upd) != SQLITE_DONE)
			rc = stor_db_err(kr->db, err, "rewrap table key");
		free(w);
	}
	sqlite3_finalize(sel);
	sqlite3_finalize(upd);
	return rc;
}

int stor_keyring_project_rotate(struct stor_keyring *kr, const char *project, const uint8_t *byok,
				uint32_t *new_version, struct cmn_err *err)
{
	struct stor_key old_k, new_k;
	const char *origin;
	uint32_t old_v = 0;
	char sql[160];
	int rc = -1;

	if (new_key(byok, &new_k, &origin, err) < 0)
		return -1;
	pthread_mutex_lock(&kr->mu);
	if (stor_db_exec(kr->db, "BEGIN IMMEDIATE", err) < 0)
		goto out;
	if (project_key(kr, project, 0, &old_k, &old_v, err) < 0 ||
	    insert_project_key(kr, project, old_v + 1, &new_k, origin, err) < 0 ||
	    rewrap_tables(kr, project, &old_k, &new_k, old_v + 1, err) < 0) {
		stor_db_exec(kr->db, "ROLLBACK", NULL);
		goto out;
	}
	/* the old version's material is destroyed; only its record stays */
	snprintf(sql, sizeof(sql),
		 "UPDATE stor_project_keys SET state = 'retired', wrapped = NULL "
		 "WHERE project = ? AND version <= %u",
		 old_v);
	{
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(kr->db, sql, -1, &st, NULL) != SQLITE_OK) {
			stor_db_err(kr->db, err, "prepare");
			stor_db_exec(kr->db, "ROLLBACK", NULL);
			goto out;
		}
		sqlite3_bind_text(st, 1, project, -1, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : stor_db_err(kr->db, err, "retire");
		sqlite3_finalize(st);
	}
	if (rc < 0 || stor_db_exec(kr->db, "COMMIT", err) < 0) {
		stor_db_exec(kr->db, "ROLLBACK", NULL);
		rc = -1;
		goto out;
	}
	stor_db_exec(kr->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL);
	if (new_version)
		*new_version = old_v + 1;
out:
	pthread_mutex_unlock(&kr->mu);
	stor_key_wipe(&old_k);
	stor_key_wipe(&new_k);
	return rc < 0 ? cmn_err_wrap(err, "rotate key of project %s", project) : 0;
}

bool stor_keyring_table_exists(struct stor_keyring *kr, uint64_t table_id)
{
	sqlite3_stmt *st;
	bool found = false;
	pthread_mutex_lock(&kr->mu);
	if (sqlite3_prepare_v2(kr->db, "SELECT 1 FROM stor_table_keys WHERE table_id = ?", -1, &st,
			       NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)table_id);
		found = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&kr->mu);
	return found;
}

int stor_keyring_table_create(struct stor_keyring *kr, const char *project, uint64_t table_id,
			      struct cmn_err *err)
{
	struct stor_key pk, dk;
	uint32_t pv = 0;
	uint8_t *w = NULL;
	size_t wl = 0;
	char label[128];
	sqlite3_stmt *st;
	int rc = -1;

	pthread_mutex_lock(&kr->mu);
	if (project_key(kr, project, 0, &pk, &pv, NULL) < 0) {
		if (stor_keyring_project_create(kr, project, NULL, err) < 0 ||
		    project_key(kr, project, 0, &pk, &pv, err) < 0)
			goto out;
	}
	table_label(label, sizeof(label), table_id, 1);
	if (stor_key_random(&dk, err) < 0 ||
	    stor_wrap(&pk, label, dk.b, STOR_KEY_LEN, &w, &wl, err) < 0)
		goto out;
	if (sqlite3_prepare_v2(
		kr->db,
		"INSERT INTO stor_table_keys(table_id, version, project, "
		"project_key_version, wrapped, created_at) VALUES (?, 1, ?, ?, ?, ?)",
		-1, &st, NULL) != SQLITE_OK) {
		stor_db_err(kr->db, err, "prepare");
		goto out;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)table_id);
	sqlite3_bind_text(st, 2, project, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, pv);
	sqlite3_bind_blob(st, 4, w, (int)wl, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, now_s());
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		rc = rc == SQLITE_CONSTRAINT
			 ? cmn_err_set(err, CMN_EEXIST, 0, "table %llu already has a data key",
				       (unsigned long long)table_id)
			 : stor_db_err(kr->db, err, "insert table key");
		goto out;
	}
	rc = 0;
out:
	pthread_mutex_unlock(&kr->mu);
	free(w);
	stor_key_wipe(&pk);
	stor_key_wipe(&dk);
	return rc;
}

int stor_keyring_table_key(struct stor_keyring *kr, uint64_t table_id, uint32_t version,
			   struct stor_key *out, uint32_t *version_out, struct cmn_err *err)
{
	struct stor_key pk;
	sqlite3_stmt *st;
	uint8_t *plain = NULL;
	size_t plen = 0;
	char label[128], project[300];
	uint32_t pv, v, got;
	int rc = -1;

	pthread_mutex_lock(&kr->mu);
	if (sqlite3_prepare_v2(kr->db,
			       version
				   ? "SELECT version, project, project_key_version, wrapped "
				     "FROM stor_table_keys WHERE table_id = ?1 AND version = ?2"
				   : "SELECT version, project, project_key_version, wrapped "
				     "FROM stor_table_keys WHERE table_id = ?1 ORDER BY version "
				     "DESC LIMIT 1",
			       -1, &st, NULL) != SQLITE_OK) {
		stor_db_err(kr->db, err, "prepare");
		goto out;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)table_id);
	if (version)
		sqlite3_bind_int64(st, 2, version);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		cmn_err_set(err, CMN_ENOTFOUND, 0, "no data key for table %llu (dropped?)",
			    (unsigned long long)table_id);
		goto out;
	}
	v = (uint32_t)sqlite3_column_int64(st, 0);
	snprintf(project, sizeof(project), "%s", (const char *)sqlite3_column_text(st, 1));
	pv = (uint32_t)sqlite3_column_int64(st, 2);
	table_label(label, sizeof(label), table_id, v);
	if (project_key(kr, project, pv, &pk, &got, err) < 0) {
		sqlite3_finalize(st);
		goto out;
	}
	rc = stor_unwrap(&pk, label, sqlite3_column_blob(st, 3),
			 (size_t)sqlite3_column_bytes(st, 3), &plain, &plen, err);
	sqlite3_finalize(st);
	stor_key_wipe(&pk);
	if (rc < 0 || plen != STOR_KEY_LEN) {
		stor_secret_free(plain, plen);
		rc = rc < 0 ? -1 : cmn_err_set(err, CMN_EAUTH, 0, "bad data key length");
		goto out;
	}
	memcpy(out->b, plain, STOR_KEY_LEN);
	stor_secret_free(plain, plen);
	*version_out = v;
	rc = 0;
out:
	pthread_mutex_unlock(&kr->mu);
	return rc;
}

int stor_keyring_table_drop(struct stor_keyring *kr, uint64_t table_id, struct cmn_err *err)
{
	sqlite3_stmt *st;
	int rc;

	pthread_mutex_lock(&kr->mu);
	if (sqlite3_prepare_v2(kr->db, "DELETE FROM stor_table_keys WHERE table_id = ?", -1, &st,
			       NULL) != SQLITE_OK) {
		pthread_mutex_unlock(&kr->mu);
		return stor_db_err(kr->db, err, "prepare");
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)table_id);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	/* secure_delete zeroed the pages; truncating the WAL drops the old
	 * frames that still held the wrapped key */
	if (rc == SQLITE_DONE)
		stor_db_exec(kr->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL);
	pthread_mutex_unlock(&kr->mu);
	return rc == SQLITE_DONE ? 0 : stor_db_err(kr->db, err, "drop table key");
}

/* Table ids with a data key under the project. Caller holds kr->mu. */
static int project_tables(struct stor_keyring *kr, const char *project, uint64_t **out, size_t *n,
			  struct cmn_err *err)
{
	sqlite3_stmt *st;
	uint64_t *a = NULL;
	size_t cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(kr->db,
			       "SELECT DISTINCT table_id FROM stor_table_keys WHERE project = ? "
			       "ORDER BY table_id",
			       -1, &st, NULL) != SQLITE_OK)
		return stor_db_err(kr->db, err, "prepare");
	sqlite3_bind_text(st, 1, project, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			uint64_t *na = realloc(a, (cap = cap ? 2 * cap : 16) * sizeof(*a));
			if (!na) {
				rc = SQLITE_NOMEM;
				break;
			}
			a = na;
		}
		a[(*n)++] = (uint64_t)sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(a);
		*n = 0;
		return rc == SQLITE_NOMEM ? cmn_err_set(err, CMN_ENOMEM, 0, "out of memory")
					  : stor_db_err(kr->db, err, "list project tables");
	}
	*out = a;
	return 0;
}

int stor_keyring_project_destroy(struct stor_keyring *kr, const char *project, uint64_t **tables,
				 size_t *ntables, struct cmn_err *err)
{
	uint64_t *ids = NULL;
	size_t n = 0;
	int rc = -1;

	if (tables)
		*tables = NULL;
	if (ntables)
		*ntables = 0;
	pthread_mutex_lock(&kr->mu);
	if (stor_db_exec(kr->db, "BEGIN IMMEDIATE", err) < 0)
		goto out;
	if (project_tables(kr, project, &ids, &n, err) < 0)
		goto rollback;
	for (int i = 0; i < 2; i++) {
		sqlite3_stmt *st;
		const char *sql = i == 0 ? "DELETE FROM stor_table_keys WHERE project = ?"
					 : "DELETE FROM stor_project_keys WHERE project = ?";
		if (sqlite3_prepare_v2(kr->db, sql, -1, &st, NULL) != SQLITE_OK) {
			stor_db_err(kr->db, err, "prepare");
			goto rollback;
		}
		sqlite3_bind_text(st, 1, project, -1, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : stor_db_err(kr->db, err, "delete keys");
		sqlite3_finalize(st);
		if (rc < 0)
			goto rollback;
	}
	if (stor_db_exec(kr->db, "COMMIT", err) < 0)
		goto rollback;
	/* secure_delete zeroed the pages; truncating the WAL drops the old
	 * frames that still held the wrapped keys */
	stor_db_exec(kr->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL);
	rc = 0;
	goto out;
rollback:
	rc = -1;
	stor_db_exec(kr->db, "ROLLBACK", NULL);
out:
	pthread_mutex_unlock(&kr->mu);
	if (rc == 0 && tables) {
		*tables = ids;
		*ntables = n;
	} else {
		free(ids);
	}
	return rc < 0 ? cmn_err_wrap(err, "destroy keys of project %s", project) : 0;
}
