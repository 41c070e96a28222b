/* Unit tests of scheduler/audit.c + audit_verify.c: records written from
 * several threads form one chain, checkpoints are signed, the catalog and
 * the .jsonl hold the same records, a reopen continues the chain, and
 * verification catches a changed byte. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <pthread.h>
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

#include "scheduler/audit.h"
#include "scheduler/catalog.h"

static char dir[64];

static int setup(void **state)
{
	char keys[128];
	snprintf(dir, sizeof(dir), "/tmp/cordon-audit-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	return mkdir(keys, 0700);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static struct sch_audit *au_global;

static void *writer(void *arg)
{
	char rid[32];
	for (int i = 0; i < 200; i++) {
		struct sch_audit_record r = { .event_name = "GetCallerIdentity",
					      .request_id = rid,
					      .source_ip = "127.0.0.1",
					      .user_agent = "t\xff\"\\\n",
					      .principal = "ALIYUN$a",
					      .http_status = 200 };
		snprintf(rid, sizeof(rid), "%ld-%d", (long)(intptr_t)arg, i);
		assert_int_equal(sch_audit_write(au_global, &r, NULL), 0);
	}
	return NULL;
}

static long count_rows(struct sch_catalog *cat, const char *sql)
{
	sqlite3_stmt *st;
	long n = -1;
	if (sqlite3_prepare_v2(sch_catalog_db(cat), sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void open_all(struct sch_catalog **cat, struct sch_audit **au)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/catalog.db", dir);
	assert_int_equal(sch_catalog_open(cat, path, NULL), 0);
	assert_int_equal(sch_audit_open(au, *cat, dir, 50, NULL), 0);
}

static void test_threads_chain_checkpoints_reopen(void **state)
{
	struct sch_catalog *cat;
	struct sch_audit *au;
	pthread_t th[4];
	struct cmn_buf report;
	char auditdir[128];
	struct cmn_err err = CMN_ERR_INIT;

	cmn_buf_init(&report, 0);
	snprintf(auditdir, sizeof(auditdir), "%s/audit", dir);
	open_all(&cat, &au);
	au_global = au;
	for (long i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, writer, (void *)(intptr_t)i);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(sch_audit_flush(au, NULL), 0);
	/* 800 records + a checkpoint every 50 = 816. */
	assert_int_equal(sch_audit_last_seq(au), 816);
	assert_int_equal(count_rows(cat, "SELECT COUNT(*) FROM audit_log"), 816);
	assert_int_equal(
	    count_rows(cat, "SELECT COUNT(*) FROM audit_log WHERE event_name = 'AuditCheckpoint'"),
	    16);
	sch_audit_close(au); /* + a final checkpoint? none: nothing since the last */
	sch_catalog_close(cat);
	assert_int_equal(sch_audit_verify_dir(auditdir, NULL, &report, &err), 0);
	assert_non_null(strstr(report.data, "816 records, 16 signed checkpoints"));

	/* A reopen continues the chain. */
	open_all(&cat, &au);
	au_global = au;
	writer((void *)(intptr_t)9);
	sch_audit_close(au);
	sch_catalog_close(cat);
	cmn_buf_reset(&report);
	assert_int_equal(sch_audit_verify_dir(auditdir, NULL, &report, &err), 0);
	assert_non_null(strstr(report.data, "1020 records"));
	cmn_buf_free(&report);
}

static void test_verify_catches_a_flipped_byte(void **state)
{
	struct sch_catalog *cat;
	struct sch_audit *au;
	struct cmn_buf report;
	struct cmn_err err = CMN_ERR_INIT;
	char auditdir[128], file[256];
	FILE *f;
	long size;

	cmn_buf_init(&report, 0);
	open_all(&cat, &au);
	au_global = au;
	writer((void *)(intptr_t)1);
	sch_audit_close(au);
	sch_catalog_close(cat);
	snprintf(auditdir, sizeof(auditdir), "%s/audit", dir);
	snprintf(file, sizeof(file), "%s/audit-000000000001.jsonl", auditdir);
	f = fopen(file, "r+");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, size / 2, SEEK_SET);
	{
		int c = fgetc(f);
		fseek(f, size / 2, SEEK_SET);
		fputc(c == 'a' ? 'b' : 'a', f);
	}
	fclose(f);
	assert_int_equal(sch_audit_verify_dir(auditdir, NULL, &report, &err), -1);
	assert_int_equal(err.code, CMN_ECONFLICT);
	cmn_buf_free(&report);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_threads_chain_checkpoints_reopen, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_verify_catches_a_flipped_byte, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
