/* Unit tests of storage/crypto.c and storage/keyring.c: sealing binds the
 * chunk to its id, table, version and key version; the key hierarchy
 * survives rotation, refuses a wrong root key, and forgets dropped tables. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "storage/crypto.h"
#include "storage/keyring.h"
#include "storage/storage.h"

#define ID_A "00112233445566778899aabbccddeeff"
#define ID_B "ffeeddccbbaa99887766554433221100"

/* ct (n bytes of plaintext, sealed) opens under k and aad */
static int opens(const struct stor_key *k, const struct stor_chunk_aad *aad, const uint8_t *ct,
		 size_t n, uint8_t *back)
{
	struct cmn_err err = CMN_ERR_INIT;
	size_t outlen = 0;
	int rc = stor_chunk_open(k, aad, ct, n + STOR_SEAL_OVERHEAD, back, &outlen, &err);
	if (rc < 0 && err.code != CMN_EAUTH)
		fail_msg("open failed with %d: %s", err.code, err.msg);
	return rc == 0;
}

static void test_seal_open_binding(void **state)
{
	struct stor_key k, other;
	struct cmn_err err = CMN_ERR_INIT;
	size_t sizes[] = { 0, 1, 4096, 4u << 20 };
	(void)state;

	assert_int_equal(stor_key_random(&k, &err), 0);
	assert_int_equal(stor_key_random(&other, &err), 0);
	for (size_t s = 0; s < 4; s++) {
		size_t n = sizes[s], outlen = 0;
		uint8_t *pt = malloc(n + 1), *ct = malloc(n + STOR_SEAL_OVERHEAD),
			*back = malloc(n + 1);
		struct stor_chunk_aad a = { ID_A, 7, 3, 1, false, 0, 0 }, bad, colv;

		for (size_t i = 0; i < n; i++)
			pt[i] = (uint8_t)(i * 31 + 7);
		assert_int_equal(stor_chunk_seal(&k, &a, pt, n, ct, &err), 0);
		if (n >= 16)
			assert_true(memmem(ct, n + STOR_SEAL_OVERHEAD, pt, 16) == NULL);
		assert_int_equal(
		    stor_chunk_open(&k, &a, ct, n + STOR_SEAL_OVERHEAD, back, &outlen, &err), 0);
		assert_int_equal(outlen, n);
		assert_memory_equal(back, pt, n);
		/* every binding matters */
		bad = a;
		bad.chunk_id = ID_B;
		assert_int_equal(
		    stor_chunk_open(&k, &bad, ct, n + STOR_SEAL_OVERHEAD, back, &outlen, &err), -1);
		assert_int_equal(err.code, CMN_EAUTH);
		bad = a;
		bad.table_id = 8;
		assert_int_equal(
		    stor_chunk_open(&k, &bad, ct, n + STOR_SEAL_OVERHEAD, back, &outlen, &err), -1);
		bad = a;
		bad.version = 2;
		assert_int_equal(
		    stor_chunk_open(&k, &bad, ct, n + STOR_SEAL_OVERHEAD, back, &outlen, &err), -1);
		bad = a;
		bad.key_version = 2;
		assert_int_equal(
		    stor_chunk_open(&k, &bad, ct, n + STOR_SEAL_OVERHEAD, back, &outlen, &err), -1);
		/* a row chunk does not open as a column chunk */
		bad = a;
		bad.columnar = true;
		assert_false(opens(&k, &bad, ct, n, back));
		/* a column chunk is bound to its row group and column */
		colv = a;
		colv.columnar = true;
		colv.rg = 4;
		colv.col = 2;
		assert_int_equal(stor_chunk_seal(&k, &colv, pt, n, ct, &err), 0);
		assert_true(opens(&k, &colv, ct, n, back));
		assert_memory_equal(back, pt, n);
		bad = colv;
		bad.col = 3;
		assert_false(opens(&k, &bad, ct, n, back));
		bad = colv;
		bad.rg = 5;
		assert_false(opens(&k, &bad, ct, n, back));
		assert_false(opens(&k, &a, ct, n, back));
		assert_int_equal(stor_chunk_seal(&k, &a, pt, n, ct, &err), 0);
		assert_int_equal(
		    stor_chunk_open(&other, &a, ct, n + STOR_SEAL_OVERHEAD, back, &outlen, &err),
		    -1);
		ct[n / 2 + 20] ^= 0x40;
		assert_int_equal(
		    stor_chunk_open(&k, &a, ct, n + STOR_SEAL_OVERHEAD, back, &outlen, &err), -1);
		assert_int_equal(stor_chunk_open(&k, &a, ct, 10, back, &outlen, &err), -1);
		free(pt);
		free(ct);
		free(back);
	}
}

static void test_wrap_labels(void **state)
{
	struct stor_key k;
	struct cmn_err err = CMN_ERR_INIT;
	uint8_t *w, *p;
	size_t wl, pl;
	(void)state;

	assert_int_equal(stor_key_random(&k, &err), 0);
	assert_int_equal(stor_wrap(&k, "a|1", "secret", 6, &w, &wl, &err), 0);
	assert_int_equal(stor_unwrap(&k, "a|1", w, wl, &p, &pl, &err), 0);
	assert_int_equal(pl, 6);
	assert_memory_equal(p, "secret", 6);
	stor_secret_free(p, pl);
	assert_int_equal(stor_unwrap(&k, "a|2", w, wl, &p, &pl, &err), -1);
	assert_int_equal(err.code, CMN_EAUTH);
	assert_int_equal(stor_unwrap(&k, "a|1", w, 5, &p, &pl, &err), -1);
	free(w);
}

struct env {
	char dir[64], root[128], db[128];
};

static int env_setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	snprintf(e->dir, sizeof(e->dir), "/tmp/cordon-keys-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->root, sizeof(e->root), "%s/root.key", e->dir);
	snprintf(e->db, sizeof(e->db), "%s/cat.db", e->dir);
	*state = e;
	return 0;
}

static int env_teardown(void **state)
{
	struct env *e = *state;
	char p[200];
	unlink(e->root);
	unlink(e->db);
	snprintf(p, sizeof(p), "%s-wal", e->db);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", e->db);
	unlink(p);
	rmdir(e->dir);
	free(e);
	return 0;
}

static sqlite3 *open_db(struct env *e)
{
	sqlite3 *db;
	assert_int_equal(sqlite3_open(e->db, &db), SQLITE_OK);
	sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
	return db;
}

static void test_keyring_hierarchy(void **state)
{
	struct env *e = *state;
	struct stor_keyring_cfg cfg = { e->root, NULL };
	struct stor_keyring *kr;
	struct cmn_err err = CMN_ERR_INIT;
	struct stor_key k1, k1b, k2;
	uint32_t v, pv;
	uint8_t byok[32], *w, *p;
	size_t wl, pl;
	struct stat st;
	sqlite3 *db = open_db(e);

	assert_int_equal(stor_keyring_open(&kr, db, &cfg, &err), 0);
	assert_int_equal(stat(e->root, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stor_keyring_table_create(kr, "p1", 1, &err), 0);
	assert_int_equal(stor_keyring_table_create(kr, "p1", 2, &err), 0);
	assert_int_equal(stor_keyring_table_create(kr, "p1", 1, &err), -1);
	assert_int_equal(err.code, CMN_EEXIST);
	assert_int_equal(stor_keyring_table_key(kr, 1, 0, &k1, &v, &err), 0);
	assert_int_equal(v, 1);
	assert_int_equal(stor_keyring_table_key(kr, 2, 0, &k2, &v, &err), 0);
	assert_memory_not_equal(k1.b, k2.b, 32);

	/* rotation (generated, then BYOK) keeps data keys, bumps the version */
	assert_int_equal(stor_keyring_project_rotate(kr, "p1", NULL, &pv, &err), 0);
	assert_int_equal(pv, 2);
	memset(byok, 0x5a, sizeof(byok));
	assert_int_equal(stor_keyring_project_rotate(kr, "p1", byok, &pv, &err), 0);
	assert_int_equal(pv, 3);
	assert_int_equal(stor_keyring_table_key(kr, 1, 0, &k1b, &v, &err), 0);
	assert_memory_equal(k1.b, k1b.b, 32);

	/* secrets for other modules */
	assert_int_equal(stor_keyring_wrap_secret(kr, "ak|X", "s3cr3t", 6, &w, &wl, &err), 0);
	assert_int_equal(stor_keyring_unwrap_secret(kr, "ak|X", w, wl, &p, &pl, &err), 0);
	assert_memory_equal(p, "s3cr3t", 6);
	stor_secret_free(p, pl);
	assert_int_equal(stor_keyring_unwrap_secret(kr, "ak|Y", w, wl, &p, &pl, &err), -1);

	/* drop = the key is gone */
	assert_int_equal(stor_keyring_table_drop(kr, 1, &err), 0);
	assert_int_equal(stor_keyring_table_key(kr, 1, 0, &k1b, &v, &err), -1);
	assert_int_equal(err.code, CMN_ENOTFOUND);
	assert_false(stor_keyring_table_exists(kr, 1));
	assert_true(stor_keyring_table_exists(kr, 2));
	stor_keyring_close(kr);

	/* reopen with the same root key: the remaining table still opens */
	assert_int_equal(stor_keyring_open(&kr, db, &cfg, &err), 0);
	assert_int_equal(stor_keyring_table_key(kr, 2, 0, &k1b, &v, &err), 0);
	assert_memory_equal(k2.b, k1b.b, 32);
	assert_int_equal(stor_keyring_unwrap_secret(kr, "ak|X", w, wl, &p, &pl, &err), 0);
	stor_secret_free(p, pl);
	free(w);
	stor_keyring_close(kr);
	sqlite3_close(db);
}

/* Project delete: every key of the project goes in one step (all project
 * key versions, every table's data keys); other projects keep theirs; the
 * name taken again gets a new key, and the old tables stay keyless. */
static void test_keyring_project_destroy(void **state)
{
	struct env *e = *state;
	struct stor_keyring_cfg cfg = { e->root, NULL };
	struct stor_keyring *kr;
	struct cmn_err err = CMN_ERR_INIT;
	struct stor_key k;
	uint32_t v;
	uint64_t *tables = NULL;
	size_t n = 9;
	sqlite3 *db = open_db(e);

	assert_int_equal(stor_keyring_open(&kr, db, &cfg, &err), 0);
	assert_int_equal(stor_keyring_table_create(kr, "gone", 11, &err), 0);
	assert_int_equal(stor_keyring_table_create(kr, "gone", 12, &err), 0);
	assert_int_equal(stor_keyring_table_create(kr, "kept", 13, &err), 0);
	assert_int_equal(stor_keyring_project_rotate(kr, "gone", NULL, &v, &err), 0);
	assert_int_equal(stor_keyring_project_destroy(kr, "gone", &tables, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_true(tables[0] == 11 && tables[1] == 12);
	free(tables);
	assert_false(stor_keyring_table_exists(kr, 11));
	assert_false(stor_keyring_table_exists(kr, 12));
	assert_int_equal(stor_keyring_table_key(kr, 11, 1, &k, &v, &err), -1);
	assert_int_equal(err.code, CMN_ENOTFOUND);
	assert_int_equal(stor_keyring_project_version(kr, "gone", &v, &err), -1);
	assert_int_equal(stor_keyring_table_key(kr, 13, 0, &k, &v, &err), 0);
	/* nothing left to destroy is not an error */
	assert_int_equal(stor_keyring_project_destroy(kr, "gone", NULL, NULL, &err), 0);
	assert_int_equal(stor_keyring_project_create(kr, "gone", NULL, &err), 0);
	assert_int_equal(stor_keyring_project_version(kr, "gone", &v, &err), 0);
	assert_int_equal(v, 1);
	assert_false(stor_keyring_table_exists(kr, 11));
	stor_key_wipe(&k);
	stor_keyring_close(kr);
	sqlite3_close(db);
}

static void test_keyring_wrong_root_and_kms(void **state)
{
	struct env *e = *state;
	struct stor_keyring_cfg cfg = { e->root, NULL };
	struct stor_keyring *kr;
	struct cmn_err err = CMN_ERR_INIT;
	char cmd[200];
	int fd;
	sqlite3 *db = open_db(e);

	assert_int_equal(stor_keyring_open(&kr, db, &cfg, &err), 0);
	stor_keyring_close(kr);
	/* group-readable root key is refused */
	chmod(e->root, 0640);
	assert_int_equal(stor_keyring_open(&kr, db, &cfg, &err), -1);
	assert_int_equal(err.code, CMN_EDENIED);
	/* a different root key fails cleanly */
	unlink(e->root);
	fd = open(e->root, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(
	    write(fd, "1111111111111111111111111111111111111111111111111111111111111111\n", 65),
	    65);
	close(fd);
	assert_int_equal(stor_keyring_open(&kr, db, &cfg, &err), -1);
	assert_int_equal(err.code, CMN_EAUTH);
	assert_non_null(strstr(err.msg, "wrong root key"));
	/* KMS command: same wrong key through a command; a failing command */
	snprintf(cmd, sizeof(cmd),
		 "/bin/echo 1111111111111111111111111111111111111111111111111111111111111111");
	cfg.root_key_file = NULL;
	cfg.kms_command = cmd;
	assert_int_equal(stor_keyring_open(&kr, db, &cfg, &err), -1);
	assert_int_equal(err.code, CMN_EAUTH);
	cfg.kms_command = "/bin/false";
	assert_int_equal(stor_keyring_open(&kr, db, &cfg, &err), -1);
	assert_int_equal(err.code, CMN_EUNAVAIL);
	cfg.kms_command = "/bin/echo nothex";
	assert_int_equal(stor_keyring_open(&kr, db, &cfg, &err), -1);
	assert_int_equal(err.code, CMN_EINVAL);
	sqlite3_close(db);
}

static void test_keyring_kms_fresh(void **state)
{
	struct env *e = *state;
	struct stor_keyring_cfg cfg = {
		NULL, "/bin/echo 2222222222222222222222222222222222222222222222222222222222222222"
	};
	struct stor_keyring *kr;
	struct cmn_err err = CMN_ERR_INIT;
	struct stor_key k;
	uint32_t v;
	sqlite3 *db = open_db(e);

	assert_int_equal(stor_keyring_open(&kr, db, &cfg, &err), 0);
	assert_int_equal(stor_keyring_project_create(kr, "p",
						     (const uint8_t *)"0123456789abcdef"
								      "0123456789abcdef",
						     &err),
			 0);
	assert_int_equal(stor_keyring_project_create(kr, "p", NULL, &err), -1);
	assert_int_equal(err.code, CMN_EEXIST);
	assert_int_equal(stor_keyring_table_create(kr, "p", 9, &err), 0);
	assert_int_equal(stor_keyring_table_key(kr, 9, 1, &k, &v, &err), 0);
	stor_keyring_close(kr);
	sqlite3_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seal_open_binding),
		cmocka_unit_test(test_wrap_labels),
		cmocka_unit_test_setup_teardown(test_keyring_hierarchy, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_keyring_project_destroy, env_setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_keyring_wrong_root_and_kms, env_setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_keyring_kms_fresh, env_setup, env_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
