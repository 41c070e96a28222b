/* Unit tests of scheduler/sigv4.c against AWS's published SigV4 examples
 * (the "get-vanilla" suite with AKIDEXAMPLE, 20150830T123600Z, us-east-1,
 * service "service", and the IAM signing-key example), plus the parser and
 * canonicalization rules the server relies on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/buf.h"
#include "scheduler/sigv4.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define EMPTY_HASH "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static const struct sch_http_header vanilla_headers[] = {
	{ "Host", "example.amazonaws.com" },
	{ "X-Amz-Date", "20150830T123600Z" },
};

static void hex(const uint8_t *k, char out[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", k[i]);
}

static void test_signing_key_iam_example(void **state)
{
	uint8_t key[32];
	char h[65];
	assert_int_equal(sch_sigv4_signing_key(SECRET, "20150830", "us-east-1", "iam", key), 0);
	hex(key, h);
	assert_string_equal(h, "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
}

static void check_vector(const char *query, const char *want_canon, const char *want_sts_hash,
			 const char *want_sig)
{
	struct sch_sigv4_request req = { "GET", "/", query, vanilla_headers, 2, EMPTY_HASH };
	struct cmn_buf canon, sts;
	uint8_t key[32];
	char sig[65], h[65];

	cmn_buf_init(&canon, 0);
	cmn_buf_init(&sts, 0);
	assert_int_equal(sch_sigv4_canonical_request(&req, "host;x-amz-date", &canon, NULL), 0);
	assert_string_equal(canon.data, want_canon);
	sch_sha256_hex(canon.data, canon.len, h);
	assert_string_equal(h, want_sts_hash);
	assert_int_equal(sch_sigv4_string_to_sign("20150830T123600Z",
						  "20150830/us-east-1/service/aws4_request",
						  canon.data, canon.len, &sts, NULL),
			 0);
	assert_int_equal(sch_sigv4_signing_key(SECRET, "20150830", "us-east-1", "service", key), 0);
	assert_int_equal(sch_sigv4_signature(key, sts.data, sts.len, sig), 0);
	assert_string_equal(sig, want_sig);
	cmn_buf_free(&canon);
	cmn_buf_free(&sts);
}

static void test_get_vanilla(void **state)
{
	check_vector(NULL,
		     "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
		     "host;x-amz-date\n" EMPTY_HASH,
		     "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
		     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

static void test_get_vanilla_query_order_key_case(void **state)
{
	struct cmn_buf canon;
	/* get-vanilla-query-order-key-case: parameters are sorted. */
	check_vector("Param2=value2&Param1=value1",
		     "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\n"
		     "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" EMPTY_HASH,
		     "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0",
		     "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
	(void)canon;
}

static void test_sign_roundtrip_authorization(void **state)
{
	struct sch_sigv4_request req = { "GET", "/", NULL, vanilla_headers, 2, EMPTY_HASH };
	struct cmn_buf out;
	struct sch_sigv4_auth auth;

	cmn_buf_init(&out, 0);
	assert_int_equal(sch_sigv4_sign(&req, "AKIDEXAMPLE", SECRET, "us-east-1", "service",
					"20150830T123600Z", &out, NULL),
			 0);
	/* The exact Authorization header of AWS's get-vanilla example. */
	assert_string_equal(
	    out.data, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
		      "aws4_request, SignedHeaders=host;x-amz-date, "
		      "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
	assert_int_equal(sch_sigv4_parse_authorization(out.data, &auth, NULL), 0);
	assert_string_equal(auth.access_key_id, "AKIDEXAMPLE");
	assert_string_equal(auth.date, "20150830");
	assert_string_equal(auth.region, "us-east-1");
	assert_string_equal(auth.service, "service");
	assert_string_equal(auth.signed_headers, "host;x-amz-date");
	cmn_buf_free(&out);
}

static void test_parse_authorization_refuses(void **state)
{
	static const char *bad[] = {
		"",
		"AWS4-HMAC-SHA256",
		"AWS4-HMAC-SHA1 Credential=A/20150830/r/s/aws4_request, SignedHeaders=host, "
		"Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		"AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request, SignedHeaders=host, "
		"Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf3",
		"AWS4-HMAC-SHA256 Credential=A/2015083/r/s/aws4_request, SignedHeaders=host, "
		"Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		"AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_reques, SignedHeaders=host, "
		"Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		"AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request, SignedHeaders=host, "
		"Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31, x=y",
		"AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request/x, SignedHeaders=host, "
		"Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		"AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request, "
		"Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		"AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request, SignedHeaders=host, "
		"Signature=5FA00FA31553B73EBF1942676E86291E8372FF2A2260956D9B8AAE1D763FBF31",
	};
	struct sch_sigv4_auth auth;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sch_sigv4_parse_authorization(bad[i], &auth, NULL), -1);
}

static void test_canonical_rules(void **state)
{
	static const struct sch_http_header h[] = {
		{ "Host", "example.com" },
		{ "X-Amz-Date", "20150830T123600Z" },
		{ "My-Header", "  a   b  c " },
		{ "my-header", "second" },
	};
	struct sch_sigv4_request req = { "POST", "/v1/a b/%2F", "b=2&a=x%20y&a=1&c", h,
					 4,      EMPTY_HASH };
	struct cmn_buf canon;

	cmn_buf_init(&canon, 0);
	assert_int_equal(
	    sch_sigv4_canonical_request(&req, "host;my-header;x-amz-date", &canon, NULL), 0);
	/* Path re-encoded (non-S3 double encoding), query decoded, re-encoded
	 * and sorted by name then value, values trimmed/collapsed, repeats
	 * joined with ','. */
	assert_string_equal(canon.data, "POST\n/v1/a%20b/%252F\na=1&a=x%20y&b=2&c=\n"
					"host:example.com\nmy-header:a b c,second\n"
					"x-amz-date:20150830T123600Z\n\n"
					"host;my-header;x-amz-date\n" EMPTY_HASH);
	/* A signed header the request does not have fails; upper case fails. */
	assert_int_equal(sch_sigv4_canonical_request(&req, "host;x-other", &canon, NULL), -1);
	assert_int_equal(sch_sigv4_canonical_request(&req, "Host;x-amz-date", &canon, NULL), -1);
	assert_int_equal(sch_sigv4_canonical_request(&req, "host;;x-amz-date", &canon, NULL), -1);
	cmn_buf_free(&canon);
}

static void test_amz_date(void **state)
{
	time_t t;
	char s[17];
	assert_int_equal(sch_sigv4_parse_amz_date("20150830T123600Z", &t), 0);
	assert_int_equal((long long)t, 1440938160LL);
	sch_sigv4_format_amz_date(t, s);
	assert_string_equal(s, "20150830T123600Z");
	assert_int_equal(sch_sigv4_parse_amz_date("20150830T123600", &t), -1);
	assert_int_equal(sch_sigv4_parse_amz_date("2015-08-30T12:36:00Z", &t), -1);
	assert_int_equal(sch_sigv4_parse_amz_date("20151330T123600Z", &t), -1);
	assert_int_equal(sch_sigv4_parse_amz_date(NULL, &t), -1);
}

static void test_ct_streq(void **state)
{
	assert_true(sch_ct_streq("abc", "abc"));
	assert_false(sch_ct_streq("abc", "abd"));
	assert_false(sch_ct_streq("abc", "abcd"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signing_key_iam_example),
		cmocka_unit_test(test_get_vanilla),
		cmocka_unit_test(test_get_vanilla_query_order_key_case),
		cmocka_unit_test(test_sign_roundtrip_authorization),
		cmocka_unit_test(test_parse_authorization_refuses),
		cmocka_unit_test(test_canonical_rules),
		cmocka_unit_test(test_amz_date),
		cmocka_unit_test(test_ct_streq),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
