/* scheduler/sigv4.h — AWS Signature Version 4 (AWS4-HMAC-SHA256), both
 * sides: the server's canonicalization and verification, and the signer the
 * cordon CLI uses. Pure functions over a request description; no I/O, no
 * catalog. The secret never leaves the caller except through the HMAC key
 * derivation.
 *
 * Canonicalization follows AWS's rules for non-S3 services: the path is
 * URI-encoded again as sent (so "%2F" becomes "%252F"), query parameters
 * are decoded, re-encoded (RFC 3986 unreserved set) and sorted by name then
 * value, header names are lower-cased, values trimmed with inner runs of
 * spaces collapsed, and repeated headers joined with ",".
 */
#ifndef SCH_SIGV4_H
#define SCH_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/buf.h"
#include "common/err.h"

#define SCH_SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SCH_SIGV4_MAX_SIGNED_HEADERS 32

struct sch_http_header {
	const char *name;
	const char *value;
};

struct sch_sigv4_request {
	const char *method;
	const char *path;  /* as sent, percent-encoded, without the query */
	const char *query; /* as sent, without '?', may be NULL */
	const struct sch_http_header *headers;
	size_t header_count;
	const char *payload_hash; /* hex SHA-256 of the body */
};

/* The parsed Authorization header. */
struct sch_sigv4_auth {
	char access_key_id[128];
	char date[9]; /* YYYYMMDD of the credential scope */
	char region[64];
	char service[64];
	char signed_headers[1024]; /* "host;x-amz-date" */
	char signature[65];        /* lower-case hex */
};

/* Failure kinds the API maps to its error codes. */
enum sch_sigv4_fail {
	SCH_SIGV4_OK = 0,
	SCH_SIGV4_MISSING,    /* MissingAuthenticationToken */
	SCH_SIGV4_INCOMPLETE, /* IncompleteSignature: malformed/duplicated header, no date */
	SCH_SIGV4_EXPIRED,    /* RequestExpired */
	SCH_SIGV4_MISMATCH,   /* SignatureDoesNotMatch */
};

/* Parses "AWS4-HMAC-SHA256 Credential=AK/DATE/REGION/SERVICE/aws4_request,
 * SignedHeaders=a;b, Signature=hex". Fails (CMN_EAUTH) on anything else. */
int sch_sigv4_parse_authorization(const char *value, struct sch_sigv4_auth *out,
				  struct cmn_err *err);
/* Parses "YYYYMMDDTHHMMSSZ" into a UTC time. */
int sch_sigv4_parse_amz_date(const char *s, time_t *out);
void sch_sigv4_format_amz_date(time_t t, char out[17]);

/* The canonical request for signed_headers (";"-separated, lower-case,
 * sorted as the client sent them). Every signed header must be present. */
int sch_sigv4_canonical_request(const struct sch_sigv4_request *req, const char *signed_headers,
				struct cmn_buf *out, struct cmn_err *err);
int sch_sigv4_string_to_sign(const char *amz_date, const char *scope, const char *canonical,
			     size_t canonical_len, struct cmn_buf *out, struct cmn_err *err);
/* kSigning = HMAC chain over "AWS4"+secret, date, region, service, "aws4_request". */
int sch_sigv4_signing_key(const char *secret, const char *date, const char *region,
			  const char *service, uint8_t key[32]);
int sch_sigv4_signature(const uint8_t key[32], const char *sts, size_t sts_len, char hex[65]);

void sch_sha256_hex(const void *data, size_t len, char hex[65]);
/* Constant-time comparison of two NUL-terminated strings of equal length. */
bool sch_ct_streq(const char *a, const char *b);

/* Client side: signs req (whose headers must already hold host and
 * x-amz-date) and writes the Authorization header value into out. */
int sch_sigv4_sign(const struct sch_sigv4_request *req, const char *access_key_id,
		   const char *secret, const char *region, const char *service,
		   const char *amz_date, struct cmn_buf *out, struct cmn_err *err);

#endif
