/* test_jsontext.c — common/jsontext.c writes what jansson's json_dumps
 * writes for the same values (results used to be rendered with jansson; a
 * reader must see no difference), for every control byte, quotes,
 * backslashes, UTF-8, and doubles across their range. */
#include <jansson.h>
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/jsontext.h"

static void same_as_jansson(json_t *v, struct cmn_buf *b)
{
	char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	assert_non_null(want);
	assert_string_equal(b->data, want);
	free(want);
	json_decref(v);
	cmn_buf_reset(b);
}

static void check_string(const char *p, size_t n)
{
	struct cmn_buf b;
	struct cmn_err err = CMN_ERR_INIT;

	cmn_buf_init(&b, 0);
	assert_int_equal(cmn_json_string(&b, p, n, &err), 0);
	same_as_jansson(json_stringn(p, n), &b);
	cmn_buf_free(&b);
}

static void strings(void **state)
{
	char all[128];

	(void)state;
	for (int c = 1; c < 128; c++)
		all[c - 1] = (char)c;
	check_string(all, 127);
	check_string("", 0);
	check_string("a\0b", 3); /* an embedded NUL is \u0000 */
	check_string("\"\\\"\\", 4);
	check_string("plain text with no escapes at all", 33);
	check_string("h\xc3\xa9llo \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80 /", 20);
	check_string("\x7f\t\r\n\b\f", 6);
	/* the 16-byte scan: every kind of escape at every place of long
	 * strings, among bytes >= 0x80 (negative as signed chars): units of
	 * "a" or "\xc3\xa9", one of them replaced by the escape */
	static const char kinds[] = { '"', '\\', '\n', '\x01', '\x1f', '\0' };
	for (size_t units = 1; units <= 40; units++)
		for (size_t at = 0; at <= units; at++)
			for (size_t k = 0; k < sizeof(kinds); k++) {
				char t[96];
				size_t len = 0;
				for (size_t u = 0; u < units; u++) {
					if (u == at)
						t[len++] = kinds[k];
					else if (u % 3 == 1)
						t[len++] = 'a';
					else {
						t[len++] = (char)0xc3;
						t[len++] = (char)0xa9;
					}
				}
				check_string(t, len); /* at == units: no escape at all */
			}
	for (int i = 0; i < 2000; i++) {
		char s[40];
		size_t n = (size_t)(rand() % 40);
		for (size_t k = 0; k < n; k++)
			s[k] = (char)(rand() % 128);
		check_string(s, n);
	}
}

static void numbers(void **state)
{
	static const double ds[] = { 0.0,   -0.0,     1.0,     -1.0,        0.1,     1e20,  1e21,
				     1e-5,  1.5e-300, 1e300,   123456789.0, 2.5,     1e16,  1e17,
				     -3e-7, DBL_MAX,  DBL_MIN, 4.9e-324,    1.0 / 3, 100.0, 1e100 };
	static const int64_t is[] = { 0, 1, -1, 42, INT64_MAX, INT64_MIN, 1000000, -987654321 };
	struct cmn_buf b;
	struct cmn_err err = CMN_ERR_INIT;

	(void)state;
	cmn_buf_init(&b, 0);
	for (size_t i = 0; i < sizeof(ds) / sizeof(ds[0]); i++) {
		assert_int_equal(cmn_json_double(&b, ds[i], &err), 0);
		same_as_jansson(json_real(ds[i]), &b);
	}
	for (int i = 0; i < 5000; i++) {
		double d = ldexp((double)rand() / RAND_MAX - 0.5, rand() % 2000 - 1000);
		assert_int_equal(cmn_json_double(&b, d, &err), 0);
		same_as_jansson(json_real(d), &b);
	}
	for (size_t i = 0; i < sizeof(is) / sizeof(is[0]); i++) {
		assert_int_equal(cmn_json_int(&b, is[i], &err), 0);
		same_as_jansson(json_integer(is[i]), &b);
	}
	cmn_buf_free(&b);
}

static void bounded_buffer_fails_cleanly(void **state)
{
	struct cmn_buf b;
	struct cmn_err err = CMN_ERR_INIT;

	(void)state;
	cmn_buf_init(&b, 8);
	assert_int_equal(cmn_json_string(&b, "0123456789", 10, &err), -1);
	assert_int_equal(b.len, 0);
	cmn_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(strings),
		cmocka_unit_test(numbers),
		cmocka_unit_test(bounded_buffer_fails_cleanly),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
