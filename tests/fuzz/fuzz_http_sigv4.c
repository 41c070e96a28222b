/* libFuzzer target: request parsing as the API sees it + SigV4
 * canonicalization. The input is split like an HTTP request head
 * ("METHOD PATH[?QUERY]\n" then "Name: value" lines, a blank line, then the
 * body); the Authorization header goes through the parser, the signed
 * headers through canonicalization and string-to-sign, X-Amz-Date through
 * the date parser, X-Forwarded-For and the body through the whitelist
 * parser. Nothing may crash, leak or read out of bounds. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/buf.h"
#include "scheduler/sigv4.h"
#include "scheduler/whitelist.h"

#define MAX_HDRS 40

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *save = NULL, *line, *body = NULL;
	struct sch_http_header h[MAX_HDRS];
	size_t n = 0;
	const char *authz = NULL, *date = NULL, *xff = NULL;
	char method[16] = "GET", *path = NULL, *query = NULL, payload[65];
	struct sch_sigv4_auth auth;
	struct cmn_buf canon, sts;
	struct sch_whitelist *wl = malloc(sizeof(*wl));
	time_t t;

	if (!text || !wl)
		goto out;
	memcpy(text, data, size);
	text[size] = '\0';
	body = strstr(text, "\n\n");
	if (body) {
		*body = '\0';
		body += 2;
	}
	line = strtok_r(text, "\n", &save);
	if (line) {
		char *sp = strchr(line, ' ');
		if (sp) {
			*sp = '\0';
			path = sp + 1;
			query = strchr(path, '?');
			if (query)
				*query++ = '\0';
		}
		memcpy(method, line, strnlen(line, sizeof(method) - 1));
	}
	while ((line = strtok_r(NULL, "\n", &save)) && n < MAX_HDRS) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		h[n].name = line;
		h[n].value = colon + 1 + (colon[1] == ' ');
		if (strcasecmp(line, "authorization") == 0)
			authz = h[n].value;
		else if (strcasecmp(line, "x-amz-date") == 0)
			date = h[n].value;
		else if (strcasecmp(line, "x-forwarded-for") == 0)
			xff = h[n].value;
		n++;
	}
	sch_sha256_hex(body ? body : "", body ? strlen(body) : 0, payload);
	cmn_buf_init(&canon, 1 << 20);
	cmn_buf_init(&sts, 1 << 20);
	if (date)
		(void)sch_sigv4_parse_amz_date(date, &t);
	{
		struct sch_sigv4_request req = { method, path ? path : "/", query, h, n, payload };
		const char *signed_headers = "host;x-amz-date";
		if (authz && sch_sigv4_parse_authorization(authz, &auth, NULL) == 0)
			signed_headers = auth.signed_headers;
		if (sch_sigv4_canonical_request(&req, signed_headers, &canon, NULL) == 0 &&
		    sch_sigv4_string_to_sign(date ? date : "20150830T123600Z",
					     "20150830/local/cordon/aws4_request", canon.data,
					     canon.len, &sts, NULL) == 0) {
			uint8_t key[32];
			char sig[65];
			if (sch_sigv4_signing_key("secret", "20150830", "local", "cordon", key) ==
			    0)
				(void)sch_sigv4_signature(key, sts.data, sts.len, sig);
		}
	}
	if (xff && sch_whitelist_parse(xff, wl, NULL) == 0)
		(void)sch_whitelist_allows(wl, "127.0.0.1");
	if (body && sch_whitelist_parse(body, wl, NULL) == 0)
		(void)sch_whitelist_allows(wl, body);
	cmn_buf_free(&canon);
	cmn_buf_free(&sts);
out:
	free(wl);
	free(text);
	return 0;
}
