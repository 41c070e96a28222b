/* scheduler/auth.c — SigV4 authentication of one API request against the
 * access keys in the catalog. The order of checks decides which error a
 * client sees: header shape (MissingAuthenticationToken,
 * IncompleteSignature) → clock window (RequestExpired) → key
 * (InvalidAccessKeyId) → signature (SignatureDoesNotMatch) → key state
 * (AccessKeyDisabled). The key state comes last so that only a holder of
 * the secret learns that a key is disabled. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>

#include "common/cleanup.h"
#include "scheduler/api.h"
#include "scheduler/metrics.h"
#include "scheduler/sigv4.h"

#define MAX_HEADERS 64

static int refuse(struct sch_api_req *r, const char *code, const char *msg)
{
	sch_metrics_auth_failure(code);
	sch_api_reply_error(r, 403, code, "%s", msg);
	return -1;
}

static size_t header_count(struct evkeyvalq *in, const char *name, const char **value)
{
	struct evkeyval *h;
	size_t n = 0;
	TAILQ_FOREACH(h, in, next)
	{
		if (strcasecmp(h->key, name) == 0) {
			*value = h->value;
			n++;
		}
	}
	return n;
}

static bool list_has(const char *list, const char *name)
{
	size_t len = strlen(name);
	for (const char *p = list; p && *p;) {
		const char *semi = strchr(p, ';');
		size_t l = semi ? (size_t)(semi - p) : strlen(p);
		if (l == len && strncmp(p, name, len) == 0)
			return true;
		p = semi ? semi + 1 : NULL;
	}
	return false;
}

static int check_signature(struct sch_api_req *r, const struct sch_sigv4_auth *auth,
			   const char *amz_date, struct sch_key_info *key)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(r->req);
	struct sch_http_header headers[MAX_HEADERS];
	struct sch_sigv4_request sreq = { 0 };
	cleanup_buf struct cmn_buf canon = { 0 }, sts = { 0 };
	char payload_hash[65], scope[256], sig[65];
	const char *claimed = NULL;
	struct evkeyval *h;
	size_t n = 0;

	cmn_buf_init(&canon, 64 * 1024);
	cmn_buf_init(&sts, 4096);
	TAILQ_FOREACH(h, in, next)
	{
		if (n == MAX_HEADERS)
			return refuse(r, "SignatureDoesNotMatch", "too many headers");
		headers[n].name = h->key;
		headers[n++].value = h->value;
	}
	sch_sha256_hex(r->body, r->body_len, payload_hash);
	if (header_count(in, "x-amz-content-sha256", &claimed) > 1 ||
	    (claimed && strcasecmp(claimed, payload_hash) != 0))
		return refuse(r, "SignatureDoesNotMatch",
			      "x-amz-content-sha256 does not match the body");
	sreq.method = evhttp_request_get_command(r->req) == EVHTTP_REQ_GET      ? "GET"
		      : evhttp_request_get_command(r->req) == EVHTTP_REQ_POST   ? "POST"
		      : evhttp_request_get_command(r->req) == EVHTTP_REQ_PUT    ? "PUT"
		      : evhttp_request_get_command(r->req) == EVHTTP_REQ_DELETE ? "DELETE"
										: "HEAD";
	sreq.path = r->path;
	sreq.query = r->query;
	sreq.headers = headers;
	sreq.header_count = n;
	sreq.payload_hash = payload_hash;
	snprintf(scope, sizeof(scope), "%s/%s/%s/aws4_request", auth->date, auth->region,
		 auth->service);
	if (sch_sigv4_canonical_request(&sreq, auth->signed_headers, &canon, NULL) < 0 ||
	    sch_sigv4_string_to_sign(amz_date, scope, canon.data, canon.len, &sts, NULL) < 0)
		return refuse(r, "SignatureDoesNotMatch",
			      "the request does not hold every signed header");
	/* kSigning depends only on (secret, date, region, service); region and
	 * service are fixed per server, so one cached date per key suffices. */
	if (strcmp(key->signing_date, auth->date) != 0) {
		if (sch_sigv4_signing_key(key->secret, auth->date, auth->region, auth->service,
					  key->signing_key) < 0)
			return refuse(r, "SignatureDoesNotMatch", "cannot derive the signing key");
		snprintf(key->signing_date, sizeof(key->signing_date), "%s", auth->date);
	}
	if (sch_sigv4_signature(key->signing_key, sts.data, sts.len, sig) < 0 ||
	    !sch_ct_streq(sig, auth->signature))
		return refuse(r, "SignatureDoesNotMatch",
			      "the request signature we calculated does not match the signature "
			      "you provided; check your secret access key and signing method");
	return 0;
}

int sch_api_authenticate(struct sch_api_req *r)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(r->req);
	const char *authz = NULL, *amz_date = NULL;
	struct sch_sigv4_auth auth;
	struct sch_key_info *key = NULL;
	struct cmn_err err = CMN_ERR_INIT;
	size_t n_auth = header_count(in, "Authorization", &authz);
	time_t t, now = time(NULL);

	if (n_auth == 0)
		return refuse(r, "MissingAuthenticationToken",
			      "the request has no Authorization header (sign it with AWS SigV4, "
			      "service cordon)");
	if (n_auth > 1)
		return refuse(r, "IncompleteSignature", "more than one Authorization header");
	if (sch_sigv4_parse_authorization(authz, &auth, &err) < 0)
		return refuse(r, "IncompleteSignature", err.msg);
	snprintf(r->principal.access_key_id, sizeof(r->principal.access_key_id), "%.63s",
		 auth.access_key_id);
	if (header_count(in, "X-Amz-Date", &amz_date) != 1 ||
	    !list_has(auth.signed_headers, "host") || !list_has(auth.signed_headers, "x-amz-date"))
		return refuse(r, "IncompleteSignature",
			      "exactly one X-Amz-Date header is required, and SignedHeaders must "
			      "include host and x-amz-date");
	if (sch_sigv4_parse_amz_date(amz_date, &t) < 0)
		return refuse(r, "IncompleteSignature", "X-Amz-Date is not YYYYMMDDTHHMMSSZ");
	if (t < now - r->api->cfg.clock_skew_s || t > now + r->api->cfg.clock_skew_s)
		return refuse(r, "RequestExpired",
			      "the request time is outside the allowed window of 15 minutes");
	if (strncmp(amz_date, auth.date, 8) != 0 || strcmp(auth.region, r->api->cfg.region) != 0 ||
	    strcmp(auth.service, "cordon") != 0)
		return refuse(r, "SignatureDoesNotMatch",
			      "the credential scope must be <date of X-Amz-Date>/<region>/cordon");
	if (sch_accounts_lookup_key(r->api->acc, auth.access_key_id, &key, &err) < 0) {
		if (err.code != CMN_ENOTFOUND) {
			sch_api_reply_err(r, &err);
			return -1;
		}
		return refuse(r, "InvalidAccessKeyId",
			      "the access key id does not exist in our records");
	}
	if (check_signature(r, &auth, amz_date, key) < 0)
		return -1;
	if (!key->active)
		return refuse(r, "AccessKeyDisabled", "the access key is disabled");
	if (key->expires_at && key->expires_at <= (int64_t)now)
		return refuse(r, "ExpiredToken", "the assumed-role credentials have expired");
	r->principal = key->principal;
	return 0;
}
