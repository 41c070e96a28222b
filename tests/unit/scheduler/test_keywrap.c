/* Unit tests of scheduler/keywrap.c: round trip, context binding, tamper
 * detection, root key file mode, and reuse of the key on a later open. */
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

#include "scheduler/keywrap.h"

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/cordon-kw-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/keys/root.key", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/keys", dir);
	rmdir(path);
	rmdir(dir);
	return 0;
}

static void test_roundtrip_and_tamper(void **state)
{
	struct sch_keywrap *kw, *kw2;
	struct cmn_buf w, p;
	struct stat st;
	char path[128];

	cmn_buf_init(&w, 0);
	cmn_buf_init(&p, 0);
	assert_int_equal(sch_keywrap_open(&kw, dir, NULL), 0);
	snprintf(path, sizeof(path), "%s/keys/root.key", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(sch_keywrap_wrap(kw, "access-key:A", "secret", 6, &w, NULL), 0);
	for (size_t i = 0; i + 6 <= w.len; i++)
		assert_false(memcmp(w.data + i, "secret", 6) == 0);
	assert_int_equal(sch_keywrap_unwrap(kw, "access-key:A", w.data, w.len, &p, NULL), 0);
	assert_string_equal(p.data, "secret");
	/* Another row's context, a flipped bit, a truncation: all refused. */
	assert_int_equal(sch_keywrap_unwrap(kw, "access-key:B", w.data, w.len, &p, NULL), -1);
	w.data[20] ^= 1;
	assert_int_equal(sch_keywrap_unwrap(kw, "access-key:A", w.data, w.len, &p, NULL), -1);
	w.data[20] ^= 1;
	assert_int_equal(sch_keywrap_unwrap(kw, "access-key:A", w.data, w.len - 1, &p, NULL), -1);
	/* A second open reuses the same root key. */
	assert_int_equal(sch_keywrap_open(&kw2, dir, NULL), 0);
	assert_int_equal(sch_keywrap_unwrap(kw2, "access-key:A", w.data, w.len, &p, NULL), 0);
	sch_keywrap_close(kw2);
	/* A root key readable by others is refused. */
	chmod(path, 0644);
	assert_int_equal(sch_keywrap_open(&kw2, dir, NULL), -1);
	chmod(path, 0600);
	sch_keywrap_close(kw);
	cmn_buf_free(&w);
	cmn_buf_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip_and_tamper, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
