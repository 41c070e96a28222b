/* Project resources in the catalog (scheduler/resources.c): round trips,
 * replace, list, delete, the content rules (a Lua script is UTF-8 text, a
 * precompiled chunk is refused, the size cap), names, isolation between
 * projects, and a deleted project taking its resources with it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "scheduler/resources.h"
#include "scheduler/sigv4.h"

static struct sch_catalog *cat;
static char dir[64], path[128];

static int setup(void **state)
{
	struct cmn_err err = CMN_ERR_INIT;
	(void)state;

	snprintf(dir, sizeof(dir), "/tmp/cordon-res-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/catalog.db", dir);
	assert_int_equal(sch_catalog_open(&cat, path, &err), 0);
	assert_int_equal(sqlite3_exec(sch_catalog_db(cat),
				      "CREATE TABLE projects (name TEXT PRIMARY KEY,"
				      " owner TEXT NOT NULL, created_at INTEGER NOT NULL);"
				      "INSERT INTO projects VALUES ('p', 'ALIYUN$own', 0),"
				      " ('q', 'ALIYUN$own', 0);",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(sch_resources_migrate(cat, &err), 0);
	/* idempotent: cordond migrates at every start */
	assert_int_equal(sch_resources_migrate(cat, &err), 0);
	return 0;
}

static int teardown(void **state)
{
	char p[160];
	(void)state;
	sch_catalog_close(cat);
	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
	rmdir(dir);
	return 0;
}

static void put_ok(const char *project, const char *name, const void *data, size_t len,
		   bool want_replaced)
{
	struct cmn_err err = CMN_ERR_INIT;
	bool replaced = !want_replaced;
	if (sch_resource_put(cat, project, name, data, len, "ALIYUN$own", &replaced, &err) < 0)
		fail_msg("put %s/%s: %s", project, name, err.msg);
	assert_int_equal(replaced, want_replaced);
}

static void test_round_trip(void **state)
{
	static const char script[] = "local M = {}\nfunction M.f(x) return x end\nreturn M\n";
	static const unsigned char bin[] = { 0, 1, 2, 0xff, 0xfe, 0x1b, 'L', 'u', 'a' };
	struct cmn_err err = CMN_ERR_INIT;
	struct sch_resource_info info;
	struct cmn_buf out;
	char hex[65];
	(void)state;

	put_ok("p", "rt.lua", script, strlen(script), false);
	cmn_buf_init(&out, 0);
	assert_int_equal(sch_resource_get(cat, "p", "rt.lua", &out, &err), 0);
	assert_int_equal(out.len, strlen(script));
	assert_memory_equal(out.data, script, out.len);
	/* a data file may hold anything, the bytes of a chunk header included */
	put_ok("p", "blob.bin", bin, sizeof(bin), false);
	cmn_buf_reset(&out);
	assert_int_equal(sch_resource_get(cat, "p", "blob.bin", &out, &err), 0);
	assert_int_equal(out.len, sizeof(bin));
	assert_memory_equal(out.data, bin, sizeof(bin));
	cmn_buf_free(&out);

	assert_int_equal(sch_resource_stat(cat, "p", "rt.lua", &info, &err), 1);
	sch_sha256_hex(script, strlen(script), hex);
	assert_string_equal(info.sha256, hex);
	assert_int_equal(info.size, strlen(script));
	assert_string_equal(info.owner, "ALIYUN$own");
	assert_true(info.created > 0);
	/* names compare without case, like the authorization registry's */
	assert_int_equal(sch_resource_stat(cat, "p", "RT.LUA", NULL, &err), 1);
	assert_int_equal(sch_resource_stat(cat, "p", "nope.lua", &info, &err), 0);
	/* an empty resource is a resource */
	put_ok("p", "empty.txt", "", 0, false);
	assert_int_equal(sch_resource_stat(cat, "p", "empty.txt", &info, &err), 1);
	assert_int_equal(info.size, 0);
}

static void test_replace_list_delete(void **state)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct cmn_buf out;
	json_t *list;
	(void)state;

	put_ok("p", "a.txt", "one", 3, false);
	put_ok("p", "a.txt", "two!", 4, true);
	cmn_buf_init(&out, 0);
	assert_int_equal(sch_resource_get(cat, "p", "a.txt", &out, &err), 0);
	assert_int_equal(out.len, 4);
	assert_memory_equal(out.data, "two!", 4);
	cmn_buf_free(&out);

	put_ok("p", "b.txt", "b", 1, false);
	list = sch_resource_list(cat, "p", &err);
	assert_non_null(list);
	assert_true(json_array_size(list) >= 2);
	{
		size_t i;
		json_t *row;
		bool seen = false;
		json_array_foreach(list, i, row)
		{
			if (strcmp(json_string_value(json_object_get(row, "name")), "a.txt") == 0) {
				seen = true;
				assert_int_equal(json_integer_value(json_object_get(row, "size")),
						 4);
				assert_int_equal(
				    strlen(json_string_value(json_object_get(row, "sha256"))), 64);
				assert_non_null(json_object_get(row, "owner"));
				assert_non_null(json_object_get(row, "created"));
				assert_null(json_object_get(row, "content"));
			}
		}
		assert_true(seen);
	}
	json_decref(list);

	assert_int_equal(sch_resource_delete(cat, "p", "a.txt", &err), 0);
	assert_int_equal(sch_resource_delete(cat, "p", "a.txt", &err), -1);
	assert_int_equal(err.code, CMN_ENOTFOUND);
	cmn_buf_init(&out, 0);
	assert_int_equal(sch_resource_get(cat, "p", "a.txt", &out, &err), -1);
	assert_int_equal(err.code, CMN_ENOTFOUND);
	cmn_buf_free(&out);
}

static void expect_refused(const char *name, const void *data, size_t len, int code,
			   const char *words)
{
	struct cmn_err err = CMN_ERR_INIT;
	assert_int_equal(sch_resource_put(cat, "p", name, data, len, "ALIYUN$own", NULL, &err), -1);
	assert_int_equal(err.code, code);
	if (!strstr(err.msg, words))
		fail_msg("'%s' not in '%s'", words, err.msg);
	if (sch_resource_name_ok(name))
		assert_int_equal(sch_resource_stat(cat, "p", name, NULL, &err), 0);
}

static void test_content_rules(void **state)
{
	/* what luac and string.dump produce starts with ESC "Lua" */
	static const char chunk[] = "\x1bLuaT\x00\x19\x93\r\n\x1a\n";
	static const char latin1[] = "return { f = function() return '\xe9t\xe9' end }";
	static const char nul[] = "return {}\0trailing";
	char *big;
	(void)state;

	expect_refused("chunk.lua", chunk, sizeof(chunk) - 1, CMN_EINVAL, "precompiled Lua chunk");
	expect_refused("CHUNK.LUA", chunk, sizeof(chunk) - 1, CMN_EINVAL, "precompiled");
	expect_refused("latin1.lua", latin1, strlen(latin1), CMN_EINVAL, "not valid UTF-8");
	expect_refused("nul.lua", nul, sizeof(nul) - 1, CMN_EINVAL, "NUL");
	/* the same bytes are fine as a data file */
	put_ok("p", "chunk.bin", chunk, sizeof(chunk) - 1, false);

	big = malloc((size_t)SCH_RESOURCE_MAX_BYTES + 1);
	assert_non_null(big);
	memset(big, 'x', (size_t)SCH_RESOURCE_MAX_BYTES + 1);
	expect_refused("big.txt", big, (size_t)SCH_RESOURCE_MAX_BYTES + 1, CMN_ELIMIT, "limit");
	free(big);
}

static void test_names(void **state)
{
	static const char *const bad[] = { "",    ".",       "..",  "../x", "a/b",
					   "-rf", ".hidden", "a b", "a\nb", "ü.lua" };
	char longname[SCH_RESOURCE_NAME_MAX + 2];
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(sch_resource_name_ok(bad[i]));
		expect_refused(bad[i], "x", 1, CMN_EINVAL, "bad resource name");
	}
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_false(sch_resource_name_ok(longname));
	longname[SCH_RESOURCE_NAME_MAX] = '\0';
	assert_true(sch_resource_name_ok(longname));
	assert_true(sch_resource_name_ok("my_lib-2.0.lua"));
}

static void test_projects_apart(void **state)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct cmn_buf out;
	json_t *list;
	(void)state;

	put_ok("q", "only-q.txt", "q", 1, false);
	assert_int_equal(sch_resource_stat(cat, "p", "only-q.txt", NULL, &err), 0);
	cmn_buf_init(&out, 0);
	assert_int_equal(sch_resource_get(cat, "p", "only-q.txt", &out, &err), -1);
	assert_int_equal(err.code, CMN_ENOTFOUND);
	cmn_buf_free(&out);
	/* deleting project q (the API's row) removes its resources */
	assert_int_equal(sqlite3_exec(sch_catalog_db(cat), "DELETE FROM projects WHERE name = 'q'",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	list = sch_resource_list(cat, "q", &err);
	assert_non_null(list);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),     cmocka_unit_test(test_replace_list_delete),
		cmocka_unit_test(test_content_rules),  cmocka_unit_test(test_names),
		cmocka_unit_test(test_projects_apart),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
