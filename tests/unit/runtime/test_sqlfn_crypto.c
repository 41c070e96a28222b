/* Column encryption functions (runtime/sqlfn_crypto.c), driven through real
 * SQLite statements as job nodes will run them. The attacks: wrong key,
 * wrong aad, flipped bits, a ciphertext moved to another key id, hostile
 * keysets — each must be an SQL error, never plaintext or garbage. */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "runtime/sqlfn_crypto.h"

static sqlite3 *db;

static int setup(void **state)
{
	struct cmn_err err = CMN_ERR_INIT;
	(void)state;
	if (sqlite3_open(":memory:", &db) != SQLITE_OK)
		return -1;
	return rt_sqlfn_crypto_register(db, &err);
}

static int teardown(void **state)
{
	(void)state;
	sqlite3_close(db);
	return 0;
}

/* Runs sql with up to 3 blob/text parameters; returns the first column as a
 * malloc'd copy (len in *len), or NULL with the SQL error in errbuf. */
static unsigned char *q(const char *sql, size_t *len, char *errbuf, int nparams, ...)
{
	sqlite3_stmt *st;
	unsigned char *out = NULL;
	va_list ap;

	errbuf[0] = '\0';
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	va_start(ap, nparams);
	for (int i = 0; i < nparams; i++) {
		const void *p = va_arg(ap, const void *);
		int n = va_arg(ap, int);
		sqlite3_bind_blob(st, i + 1, p, n, SQLITE_TRANSIENT);
	}
	va_end(ap);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*len = (size_t)sqlite3_column_bytes(st, 0);
		out = malloc(*len + 1);
		if (sqlite3_column_type(st, 0) == SQLITE_NULL) {
			free(out);
			out = NULL;
			snprintf(errbuf, 256, "NULL");
		} else {
			if (*len)
				memcpy(out, sqlite3_column_blob(st, 0), *len);
			out[*len] = 0;
		}
	} else {
		snprintf(errbuf, 256, "%s", sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	return out;
}

static const unsigned char key32[32] = "0123456789abcdef0123456789abcdef";
static const unsigned char other32[32] = "X123456789abcdef0123456789abcdef";

static void test_sym_roundtrip_and_attacks(void **state)
{
	char e[256];
	size_t n, m;
	(void)state;

	unsigned char *ct =
	    q("SELECT SYM_ENCRYPT('secret row', ?1, 'AES-GCM-256', 'aad')", &n, e, 1, key32, 32);
	assert_non_null(ct);
	assert_int_equal(n, 12 + 10 + 16);
	assert_null(memmem(ct, n, "secret", 6));
	unsigned char *pt =
	    q("SELECT SYM_DECRYPT(?1, ?2, 'AES-GCM-256', 'aad')", &m, e, 2, ct, (int)n, key32, 32);
	assert_non_null(pt);
	assert_int_equal(m, 10);
	assert_memory_equal(pt, "secret row", 10);
	free(pt);
	/* wrong key */
	assert_null(q("SELECT SYM_DECRYPT(?1, ?2, 'AES-GCM-256', 'aad')", &m, e, 2, ct, (int)n,
		      other32, 32));
	assert_non_null(strstr(e, "decryption failed"));
	/* wrong aad, missing aad */
	assert_null(
	    q("SELECT SYM_DECRYPT(?1, ?2, 'AES-GCM-256', 'AAD')", &m, e, 2, ct, (int)n, key32, 32));
	assert_null(q("SELECT SYM_DECRYPT(?1, ?2)", &m, e, 2, ct, (int)n, key32, 32));
	/* every single flipped bit is caught */
	for (size_t i = 0; i < n * 8; i += 7) {
		ct[i / 8] ^= (unsigned char)(1u << (i % 8));
		assert_null(q("SELECT SYM_DECRYPT(?1, ?2, 'AES-GCM-256', 'aad')", &m, e, 2, ct,
			      (int)n, key32, 32));
		ct[i / 8] ^= (unsigned char)(1u << (i % 8));
	}
	/* truncated */
	assert_null(q("SELECT SYM_DECRYPT(?1, ?2)", &m, e, 2, ct, 20, key32, 32));
	free(ct);
	/* key of the wrong size, unknown mode */
	assert_null(q("SELECT SYM_ENCRYPT('x', ?1)", &m, e, 1, key32, 16));
	assert_non_null(strstr(e, "wrong length"));
	assert_null(q("SELECT SYM_ENCRYPT('x', ?1, 'ROT13')", &m, e, 1, key32, 32));
	assert_non_null(strstr(e, "unknown mode"));
	/* NULL in, NULL out */
	assert_null(q("SELECT SYM_ENCRYPT(NULL, ?1)", &m, e, 1, key32, 32));
	assert_string_equal(e, "NULL");
}

static void test_gcm_is_randomized_siv_is_deterministic(void **state)
{
	char e[256];
	size_t a, b;
	unsigned char key64[64];
	(void)state;

	memset(key64, 7, sizeof(key64));
	unsigned char *c1 = q("SELECT SYM_ENCRYPT('v', ?1)", &a, e, 1, key32, 32);
	unsigned char *c2 = q("SELECT SYM_ENCRYPT('v', ?1)", &b, e, 1, key32, 32);
	assert_true(a == b && memcmp(c1, c2, a) != 0);
	free(c1);
	free(c2);
	c1 = q("SELECT SYM_ENCRYPT('v', ?1, 'AES-SIV-CMAC-256')", &a, e, 1, key64, 64);
	c2 = q("SELECT SYM_ENCRYPT('v', ?1, 'AES-SIV-CMAC-256')", &b, e, 1, key64, 64);
	assert_non_null(c1);
	assert_true(a == b && memcmp(c1, c2, a) == 0);
	unsigned char *pt =
	    q("SELECT SYM_DECRYPT(?1, ?2, 'AES-SIV-CMAC-256')", &b, e, 2, c1, (int)a, key64, 64);
	assert_non_null(pt);
	assert_memory_equal(pt, "v", 1);
	c1[a - 1] ^= 1;
	assert_null(
	    q("SELECT SYM_DECRYPT(?1, ?2, 'AES-SIV-CMAC-256')", &b, e, 2, c1, (int)a, key64, 64));
	free(pt);
	free(c1);
	free(c2);
	/* empty plaintext round-trips in both modes */
	c1 = q("SELECT SYM_DECRYPT(SYM_ENCRYPT('', ?1), ?1)", &a, e, 1, key32, 32);
	assert_non_null(c1);
	assert_int_equal(a, 0);
	free(c1);
	c1 = q(
	    "SELECT SYM_DECRYPT(SYM_ENCRYPT(x'', ?1, 'AES-SIV-CMAC-128'), ?1, 'AES-SIV-CMAC-128')",
	    &a, e, 1, key32, 32);
	assert_non_null(c1);
	assert_int_equal(a, 0);
	free(c1);
}

static void test_keyset_rotation(void **state)
{
	char e[256];
	size_t ks1n, ks2n, ctn, n;
	(void)state;

	unsigned char *ks1 = q("SELECT NEW_KEYSET('AES-GCM-256', 'first')", &ks1n, e, 0);
	assert_non_null(ks1);
	unsigned char *ct =
	    q("SELECT ENHANCED_SYM_ENCRYPT(?1, 'card 4111', 'row7')", &ctn, e, 2, ks1, (int)ks1n);
	assert_non_null(ct);
	unsigned char *ks2 = q("SELECT ROTATE_KEYSET(?1, 'AES-SIV-CMAC-256', 'second')", &ks2n, e,
			       1, ks1, (int)ks1n);
	assert_non_null(ks2);
	/* the rotated keyset still decrypts what the old primary encrypted */
	unsigned char *pt = q("SELECT ENHANCED_SYM_DECRYPT(?1, ?2, 'row7')", &n, e, 2, ks2,
			      (int)ks2n, ct, (int)ctn);
	assert_non_null(pt);
	assert_memory_equal(pt, "card 4111", 9);
	free(pt);
	/* wrong aad */
	assert_null(q("SELECT ENHANCED_SYM_DECRYPT(?1, ?2, 'row8')", &n, e, 2, ks2, (int)ks2n, ct,
		      (int)ctn));
	/* a new keyset has no key for this ciphertext */
	unsigned char *ks3 = q("SELECT NEW_KEYSET('AES-GCM-256')", &n, e, 0);
	size_t ks3n = n;
	assert_null(q("SELECT ENHANCED_SYM_DECRYPT(?1, ?2, 'row7')", &n, e, 2, ks3, (int)ks3n, ct,
		      (int)ctn));
	assert_non_null(strstr(e, "no key for this ciphertext"));
	/* moving the ciphertext to another key id fails authentication */
	memcpy(ct + 1, ks3 + 4, 4); /* the header names ks3's primary key id */
	assert_null(q("SELECT ENHANCED_SYM_DECRYPT(?1, ?2, 'row7')", &n, e, 2, ks3, (int)ks3n, ct,
		      (int)ctn));
	assert_non_null(strstr(e, "decryption failed"));
	free(ks3);
	/* JSON round trip keeps the keyset usable */
	unsigned char *js = q("SELECT KEYSET_TO_JSON(?1)", &n, e, 1, ks2, (int)ks2n);
	assert_non_null(js);
	assert_non_null(strstr((char *)js, "\"type\":\"AES-SIV-CMAC-256\""));
	assert_non_null(strstr((char *)js, "\"description\":\"first\""));
	unsigned char *back =
	    q("SELECT KEYSET_FROM_JSON(CAST(?1 AS TEXT))", &n, e, 1, js, (int)strlen((char *)js));
	assert_non_null(back);
	assert_int_equal(n, ks2n);
	assert_memory_equal(back, ks2, n);
	free(js);
	free(back);
	free(ct);
	free(ks1);
	free(ks2);
}

static void test_hostile_keysets(void **state)
{
	char e[256];
	size_t n, ksn;
	(void)state;

	unsigned char *ks = q("SELECT NEW_KEYSET('AES-GCM-256')", &ksn, e, 0);
	/* every truncation and every byte flip of the structure is refused or
	 * yields a different but valid keyset; never a crash (ASan watches) */
	for (size_t cut = 0; cut < ksn; cut++) {
		assert_null(q("SELECT ENHANCED_SYM_ENCRYPT(?1, 'x')", &n, e, 2, ks, (int)cut));
		assert_true(strstr(e, "ENHANCED_SYM_ENCRYPT: ") != NULL);
	}
	for (size_t i = 0; i < 18; i++) {
		unsigned char *bad = malloc(ksn);
		memcpy(bad, ks, ksn);
		bad[i] ^= 0xff;
		free(q("SELECT ENHANCED_SYM_ENCRYPT(?1, 'x')", &n, e, 2, bad, (int)ksn));
		free(bad);
	}
	unsigned char *longer = calloc(1, ksn + 1);
	memcpy(longer, ks, ksn);
	assert_null(q("SELECT KEYSET_TO_JSON(?1)", &n, e, 1, longer, (int)ksn + 1));
	assert_non_null(strstr(e, "trailing bytes"));
	free(longer);
	free(ks);
	const char *bad_json[] = {
		"{}",
		"[]",
		"not json",
		"{\"primary_key_id\":1,\"key\":[]}",
		"{\"primary_key_id\":2,\"key\":[{\"key_id\":1,\"type\":\"AES-GCM-256\","
		"\"status\":\"ENABLED\",\"material\":\"AAAA\"}]}",
		"{\"primary_key_id\":1,\"key\":[{\"key_id\":1,\"type\":\"AES-GCM-256\","
		"\"status\":\"ENABLED\",\"material\":\"" /* 33 bytes */
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}]}",
	};
	for (size_t i = 0; i < sizeof(bad_json) / sizeof(bad_json[0]); i++) {
		assert_null(q("SELECT KEYSET_FROM_JSON(CAST(?1 AS TEXT))", &n, e, 1, bad_json[i],
			      (int)strlen(bad_json[i])));
		assert_non_null(strstr(e, "KEYSET_FROM_JSON: "));
	}
	assert_null(q("SELECT NEW_KEYSET('DES')", &n, e, 0));
	assert_null(q("SELECT ADD_KEY_TO_KEYSET(NEW_KEYSET('AES-GCM-256'), 'AES-GCM-256', x'00')",
		      &n, e, 0));
	assert_non_null(strstr(e, "wrong length"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sym_roundtrip_and_attacks),
		cmocka_unit_test(test_gcm_is_randomized_siv_is_deterministic),
		cmocka_unit_test(test_keyset_rotation),
		cmocka_unit_test(test_hostile_keysets),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
