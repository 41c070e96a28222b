/* scheduler/sigv4.c — AWS Signature Version 4; see sigv4.h. */
#include "scheduler/sigv4.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/cleanup.h"

/* Fetched once: OpenSSL 3's implicit fetch per call costs more than the
 * HMAC itself, and the API verifies a signature on every request. */
static EVP_MAC *hmac_alg;
static EVP_MD *sha256_alg;
static pthread_once_t algs_once = PTHREAD_ONCE_INIT;

static void fetch_algs(void)
{
	hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
	sha256_alg = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static int hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
		       uint8_t out[32])
{
	OSSL_PARAM params[2];
	EVP_MAC_CTX *ctx;
	size_t out_len = 0;
	int ok;

	pthread_once(&algs_once, fetch_algs);
	if (!hmac_alg)
		return -1;
	ctx = EVP_MAC_CTX_new(hmac_alg);
	if (!ctx)
		return -1;
	static char digest[] = "SHA256";
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	ok = EVP_MAC_init(ctx, key, key_len, params) && EVP_MAC_update(ctx, data, len) &&
	     EVP_MAC_final(ctx, out, &out_len, 32) && out_len == 32;
	EVP_MAC_CTX_free(ctx);
	return ok ? 0 : -1;
}

static void to_hex(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

void sch_sha256_hex(const void *data, size_t len, char hex[65])
{
	uint8_t md[32];
	unsigned int md_len = 0;

	pthread_once(&algs_once, fetch_algs);
	if (!sha256_alg || !EVP_Digest(data, len, md, &md_len, sha256_alg, NULL)) {
		/* Unreachable with a working libcrypto; an all-zero hash never
		 * matches a client's, so a failure here refuses, never accepts. */
		memset(hex, '0', 64);
		hex[64] = '\0';
		return;
	}
	to_hex(md, 32, hex);
}

bool sch_ct_streq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la != lb)
		return false;
	return CRYPTO_memcmp(a, b, la) == 0;
}

static bool unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

static int uri_encode(struct cmn_buf *out, const char *s, size_t len, bool keep_slash,
		      struct cmn_err *err)
{
	static const char digits[] = "0123456789ABCDEF";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (unreserved(c) || (keep_slash && c == '/')) {
			if (cmn_buf_append(out, &s[i], 1, err) < 0)
				return -1;
		} else {
			char enc[3] = { '%', digits[c >> 4], digits[c & 15] };
			if (cmn_buf_append(out, enc, 3, err) < 0)
				return -1;
		}
	}
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Percent-decodes s[0..len) into out (NUL-terminated); a malformed escape is
 * kept literally, as AWS does. */
static int uri_decode(struct cmn_buf *out, const char *s, size_t len, struct cmn_err *err)
{
	cmn_buf_reset(out);
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '%' && i + 2 < len + 0 && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			c = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		}
		if (cmn_buf_append(out, &c, 1, err) < 0)
			return -1;
	}
	return 0;
}

struct qparam {
	char *key; /* encoded canonical forms */
	char *value;
};

static int qparam_cmp(const void *a, const void *b)
{
	const struct qparam *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : strcmp(x->value, y->value);
}

static char *encode_part(const char *s, size_t len, struct cmn_err *err)
{
	cleanup_buf struct cmn_buf dec = { 0 }, enc = { 0 };

	cmn_buf_init(&dec, 0);
	cmn_buf_init(&enc, 0);
	if (uri_decode(&dec, s, len, err) < 0 || cmn_buf_append(&enc, "", 0, err) < 0 ||
	    uri_encode(&enc, dec.data ? dec.data : "", dec.len, false, err) < 0)
		return NULL;
	return cmn_buf_steal(&enc, NULL);
}

static void free_params(struct qparam *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(p[i].key);
		free(p[i].value);
	}
	free(p);
}

/* A request has at most a few parameters; 256 bounds what a peer can make
 * the verifier sort. */
#define MAX_QUERY_PARAMS 256

static int canonical_query(struct cmn_buf *out, const char *query, struct cmn_err *err)
{
	struct qparam *params = NULL;
	size_t n = 0;
	int rc = -1;

	if (!query || !*query)
		return 0;
	params = calloc(MAX_QUERY_PARAMS, sizeof(*params));
	if (!params)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	for (const char *p = query; *p;) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		size_t klen = eq ? (size_t)(eq - p) : len;
		if (len > 0) {
			if (n == MAX_QUERY_PARAMS) {
				cmn_err_set(err, CMN_EINVAL, 0, "too many query parameters");
				goto out;
			}
			params[n].key = encode_part(p, klen, err);
			params[n].value =
			    eq ? encode_part(eq + 1, len - klen - 1, err) : encode_part("", 0, err);
			n++;
			if (!params[n - 1].key || !params[n - 1].value)
				goto out;
		}
		p += len;
		if (*p == '&')
			p++;
	}
	qsort(params, n, sizeof(*params), qparam_cmp);
	for (size_t i = 0; i < n; i++)
		if (cmn_buf_printf(out, err, "%s%s=%s", i ? "&" : "", params[i].key,
				   params[i].value) < 0)
			goto out;
	rc = 0;
out:
	free_params(params, n);
	return rc;
}

/* Appends a header value trimmed, inner whitespace runs collapsed to one space. */
static int append_trimmed(struct cmn_buf *out, const char *v, struct cmn_err *err)
{
	bool space = false, started = false;
	for (; *v; v++) {
		if (*v == ' ' || *v == '\t') {
			space = started;
			continue;
		}
		if (space && cmn_buf_append(out, " ", 1, err) < 0)
			return -1;
		space = false;
		started = true;
		if (cmn_buf_append(out, v, 1, err) < 0)
			return -1;
	}
	return 0;
}

static int canonical_header(struct cmn_buf *out, const struct sch_sigv4_request *req,
			    const char *name, size_t name_len, struct cmn_err *err)
{
	int found = 0;

	if (cmn_buf_append(out, name, name_len, err) < 0 || cmn_buf_append(out, ":", 1, err) < 0)
		return -1;
	for (size_t i = 0; i < req->header_count; i++) {
		const struct sch_http_header *h = &req->headers[i];
		if (strlen(h->name) != name_len || strncasecmp(h->name, name, name_len) != 0)
			continue;
		if (found++ && cmn_buf_append(out, ",", 1, err) < 0)
			return -1;
		if (append_trimmed(out, h->value, err) < 0)
			return -1;
	}
	if (!found)
		return cmn_err_set(err, CMN_EAUTH, 0, "signed header '%.*s' is not in the request",
				   (int)name_len, name);
	return cmn_buf_append(out, "\n", 1, err);
}

int sch_sigv4_canonical_request(const struct sch_sigv4_request *req, const char *signed_headers,
				struct cmn_buf *out, struct cmn_err *err)
{
	const char *path = req->path && *req->path ? req->path : "/";
	size_t count = 0;

	cmn_buf_reset(out);
	if (cmn_buf_printf(out, err, "%s\n", req->method) < 0 ||
	    uri_encode(out, path, strlen(path), true, err) < 0 ||
	    cmn_buf_append(out, "\n", 1, err) < 0 || canonical_query(out, req->query, err) < 0 ||
	    cmn_buf_append(out, "\n", 1, err) < 0)
		return -1;
	for (const char *p = signed_headers; *p;) {
		const char *semi = strchr(p, ';');
		size_t len = semi ? (size_t)(semi - p) : strlen(p);
		if (len == 0 || ++count > SCH_SIGV4_MAX_SIGNED_HEADERS)
			return cmn_err_set(err, CMN_EAUTH, 0, "malformed SignedHeaders");
		for (size_t i = 0; i < len; i++)
			if (isupper((unsigned char)p[i]))
				return cmn_err_set(err, CMN_EAUTH, 0,
						   "SignedHeaders must be lower case");
		if (canonical_header(out, req, p, len, err) < 0)
			return -1;
		p += len;
		if (*p == ';')
			p++;
	}
	return cmn_buf_printf(out, err, "\n%s\n%s", signed_headers, req->payload_hash);
}

int sch_sigv4_string_to_sign(const char *amz_date, const char *scope, const char *canonical,
			     size_t canonical_len, struct cmn_buf *out, struct cmn_err *err)
{
	char hash[65];

	sch_sha256_hex(canonical, canonical_len, hash);
	cmn_buf_reset(out);
	return cmn_buf_printf(out, err, SCH_SIGV4_ALGORITHM "\n%s\n%s\n%s", amz_date, scope, hash);
}

int sch_sigv4_signing_key(const char *secret, const char *date, const char *region,
			  const char *service, uint8_t key[32])
{
	char k0[256];
	uint8_t a[32], b[32];
	int n = snprintf(k0, sizeof(k0), "AWS4%s", secret);
	int rc;

	if (n < 0 || (size_t)n >= sizeof(k0))
		return -1;
	rc = hmac_sha256(k0, (size_t)n, date, strlen(date), a) ||
	     hmac_sha256(a, 32, region, strlen(region), b) ||
	     hmac_sha256(b, 32, service, strlen(service), a) ||
	     hmac_sha256(a, 32, "aws4_request", 12, key);
	OPENSSL_cleanse(k0, sizeof(k0));
	OPENSSL_cleanse(a, sizeof(a));
	OPENSSL_cleanse(b, sizeof(b));
	return rc ? -1 : 0;
}

int sch_sigv4_signature(const uint8_t key[32], const char *sts, size_t sts_len, char hex[65])
{
	uint8_t mac[32];
	if (hmac_sha256(key, 32, sts, sts_len, mac) < 0)
		return -1;
	to_hex(mac, 32, hex);
	return 0;
}

static int digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

int sch_sigv4_parse_amz_date(const char *s, time_t *out)
{
	struct tm tm = { 0 };

	if (!s || strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
		return -1;
	for (int i = 0; i < 15; i++)
		if (i != 8 && !isdigit((unsigned char)s[i]))
			return -1;
	tm.tm_year = digits(s, 4) - 1900;
	tm.tm_mon = digits(s + 4, 2) - 1;
	tm.tm_mday = digits(s + 6, 2);
	tm.tm_hour = digits(s + 9, 2);
	tm.tm_min = digits(s + 11, 2);
	tm.tm_sec = digits(s + 13, 2);
	if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
	    tm.tm_min > 59 || tm.tm_sec > 60)
		return -1;
	*out = timegm(&tm);
	return *out == (time_t)-1 ? -1 : 0;
}

void sch_sigv4_format_amz_date(time_t t, char out[17])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

/* Copies the value of "Name=" up to ',' (or end) into dst; -1 if too long. */
static int take_field(const char **p, const char *name, char *dst, size_t dst_len)
{
	size_t name_len = strlen(name), len;
	const char *end;

	while (**p == ' ' || **p == ',')
		(*p)++;
	if (strncmp(*p, name, name_len) != 0)
		return -1;
	*p += name_len;
	end = strchr(*p, ',');
	len = end ? (size_t)(end - *p) : strlen(*p);
	while (len > 0 && (*p)[len - 1] == ' ')
		len--;
	if (len == 0 || len >= dst_len)
		return -1;
	memcpy(dst, *p, len);
	dst[len] = '\0';
	*p += end ? (size_t)(end - *p) : strlen(*p);
	return 0;
}

static int split_credential(const char *cred, struct sch_sigv4_auth *out)
{
	/* AK/YYYYMMDD/region/service/aws4_request */
	char *parts[5];
	char copy[512];
	char *save = NULL, *tok;
	int n = 0;

	if (strlen(cred) >= sizeof(copy))
		return -1;
	memcpy(copy, cred, strlen(cred) + 1);
	for (tok = strtok_r(copy, "/", &save); tok && n < 5; tok = strtok_r(NULL, "/", &save))
		parts[n++] = tok;
	if (n != 5 || tok || strcmp(parts[4], "aws4_request") != 0 || strlen(parts[1]) != 8)
		return -1;
	for (int i = 0; i < 8; i++)
		if (!isdigit((unsigned char)parts[1][i]))
			return -1;
	if (strlen(parts[0]) >= sizeof(out->access_key_id) ||
	    strlen(parts[2]) >= sizeof(out->region) || strlen(parts[3]) >= sizeof(out->service))
		return -1;
	snprintf(out->access_key_id, sizeof(out->access_key_id), "%s", parts[0]);
	snprintf(out->date, sizeof(out->date), "%s", parts[1]);
	snprintf(out->region, sizeof(out->region), "%s", parts[2]);
	snprintf(out->service, sizeof(out->service), "%s", parts[3]);
	return 0;
}

int sch_sigv4_parse_authorization(const char *value, struct sch_sigv4_auth *out,
				  struct cmn_err *err)
{
	char cred[512];
	const char *p = value;
	size_t alg_len = strlen(SCH_SIGV4_ALGORITHM);

	memset(out, 0, sizeof(*out));
	if (strncmp(p, SCH_SIGV4_ALGORITHM, alg_len) != 0 || p[alg_len] != ' ')
		return cmn_err_set(err, CMN_EAUTH, 0, "unsupported authorization algorithm");
	p += alg_len;
	if (take_field(&p, "Credential=", cred, sizeof(cred)) < 0 ||
	    split_credential(cred, out) < 0)
		return cmn_err_set(err, CMN_EAUTH, 0, "malformed Credential in Authorization");
	if (take_field(&p, "SignedHeaders=", out->signed_headers, sizeof(out->signed_headers)) < 0)
		return cmn_err_set(err, CMN_EAUTH, 0, "malformed SignedHeaders in Authorization");
	if (take_field(&p, "Signature=", out->signature, sizeof(out->signature)) < 0 ||
	    strlen(out->signature) != 64)
		return cmn_err_set(err, CMN_EAUTH, 0, "malformed Signature in Authorization");
	for (int i = 0; i < 64; i++)
		if (hexval(out->signature[i]) < 0 || isupper((unsigned char)out->signature[i]))
			return cmn_err_set(err, CMN_EAUTH, 0,
					   "malformed Signature in Authorization");
	while (*p == ' ')
		p++;
	if (*p)
		return cmn_err_set(err, CMN_EAUTH, 0, "trailing data in Authorization");
	return 0;
}

int sch_sigv4_sign(const struct sch_sigv4_request *req, const char *access_key_id,
		   const char *secret, const char *region, const char *service,
		   const char *amz_date, struct cmn_buf *out, struct cmn_err *err)
{
	cleanup_buf struct cmn_buf canon = { 0 }, sts = { 0 }, names = { 0 };
	char scope[256], sig[65];
	const char *sorted[SCH_SIGV4_MAX_SIGNED_HEADERS];
	size_t n = 0;
	uint8_t key[32];

	cmn_buf_init(&canon, 0);
	cmn_buf_init(&sts, 0);
	cmn_buf_init(&names, 0);
	/* Sign every header given (lower-cased, sorted, each once). */
	for (size_t i = 0; i < req->header_count && n < SCH_SIGV4_MAX_SIGNED_HEADERS; i++) {
		bool dup = false;
		for (size_t j = 0; j < n; j++)
			dup |= strcasecmp(sorted[j], req->headers[i].name) == 0;
		if (!dup)
			sorted[n++] = req->headers[i].name;
	}
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcasecmp(sorted[j - 1], sorted[j]) > 0; j--) {
			const char *t = sorted[j];
			sorted[j] = sorted[j - 1];
			sorted[j - 1] = t;
		}
	for (size_t i = 0; i < n; i++) {
		if (i && cmn_buf_append(&names, ";", 1, err) < 0)
			return -1;
		for (const char *c = sorted[i]; *c; c++) {
			char l = (char)tolower((unsigned char)*c);
			if (cmn_buf_append(&names, &l, 1, err) < 0)
				return -1;
		}
	}
	snprintf(scope, sizeof(scope), "%.8s/%s/%s/aws4_request", amz_date, region, service);
	if (sch_sigv4_canonical_request(req, names.data ? names.data : "", &canon, err) < 0 ||
	    sch_sigv4_string_to_sign(amz_date, scope, canon.data, canon.len, &sts, err) < 0)
		return -1;
	{
		char date[9];
		snprintf(date, sizeof(date), "%.8s", amz_date);
		if (sch_sigv4_signing_key(secret, date, region, service, key) < 0 ||
		    sch_sigv4_signature(key, sts.data, sts.len, sig) < 0)
			return cmn_err_set(err, CMN_EINTERNAL, 0, "HMAC-SHA256 failed");
	}
	OPENSSL_cleanse(key, sizeof(key));
	cmn_buf_reset(out);
	return cmn_buf_printf(
	    out, err, SCH_SIGV4_ALGORITHM " Credential=%s/%s, SignedHeaders=%s, Signature=%s",
	    access_key_id, scope, names.data, sig);
}
