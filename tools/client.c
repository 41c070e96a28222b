/* tools/client.c — see client.h. */
#define _GNU_SOURCE /* memmem */
#include "tools/client.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/cleanup.h"
#include "cordon_version.h"
#include "scheduler/sigv4.h"

/* a resource of the largest size (resources.h) and its headers */
#define MAX_RESPONSE ((64u << 20) + (64u << 10))

/* Reads key=value from [section] of an INI file into out (only if out is
 * still empty, so earlier sources win). */
static void ini_get(const char *path, const char *section, const char *key, char *out, size_t len)
{
	cleanup_fclose FILE *f = NULL;
	cleanup_free char *line = NULL;
	size_t cap = 0;
	bool in = false;

	if (out[0] || !(f = fopen(path, "re")))
		return;
	while (getline(&line, &cap, f) > 0) {
		char *s = line, *e, *eq;
		while (isspace((unsigned char)*s))
			s++;
		e = s + strlen(s);
		while (e > s && isspace((unsigned char)e[-1]))
			*--e = '\0';
		if (*s == '#' || *s == ';' || !*s)
			continue;
		if (*s == '[') {
			in = strlen(s) >= 2 && e[-1] == ']' &&
			     (size_t)(e - s - 2) == strlen(section) &&
			     strncmp(s + 1, section, strlen(section)) == 0;
			continue;
		}
		if (!in || !(eq = strchr(s, '=')))
			continue;
		{
			char *k = s, *ke = eq, *v = eq + 1;
			while (ke > k && isspace((unsigned char)ke[-1]))
				ke--;
			while (isspace((unsigned char)*v))
				v++;
			if ((size_t)(ke - k) == strlen(key) && strncmp(k, key, strlen(key)) == 0) {
				snprintf(out, len, "%s", v);
				return;
			}
		}
	}
}

static void set_if(char *out, size_t len, const char *v)
{
	if (!out[0] && v && *v)
		snprintf(out, len, "%s", v);
}

int cli_config_resolve(struct cli_config *cfg, struct cmn_err *err)
{
	const char *home = getenv("HOME");
	char conf[4200] = "", creds[4200] = "", section[96];

	set_if(cfg->profile, sizeof(cfg->profile), cfg->flag_profile);
	set_if(cfg->profile, sizeof(cfg->profile), getenv("CORDON_PROFILE"));
	set_if(cfg->profile, sizeof(cfg->profile), "default");
	set_if(cfg->endpoint, sizeof(cfg->endpoint), cfg->flag_endpoint);
	set_if(cfg->ca_file, sizeof(cfg->ca_file), cfg->flag_ca_file);
	set_if(cfg->region, sizeof(cfg->region), cfg->flag_region);
	set_if(cfg->project, sizeof(cfg->project), cfg->flag_project);
	set_if(cfg->endpoint, sizeof(cfg->endpoint), getenv("CORDON_ENDPOINT"));
	set_if(cfg->ca_file, sizeof(cfg->ca_file), getenv("CORDON_CA_FILE"));
	set_if(cfg->region, sizeof(cfg->region), getenv("CORDON_REGION"));
	set_if(cfg->project, sizeof(cfg->project), getenv("CORDON_PROJECT"));
	/* A flag-chosen profile beats keys in the environment. */
	if (!cfg->flag_profile && getenv("CORDON_ACCESS_KEY_ID") &&
	    getenv("CORDON_SECRET_ACCESS_KEY")) {
		set_if(cfg->access_key_id, sizeof(cfg->access_key_id),
		       getenv("CORDON_ACCESS_KEY_ID"));
		set_if(cfg->secret, sizeof(cfg->secret), getenv("CORDON_SECRET_ACCESS_KEY"));
	}
	if (home) {
		snprintf(conf, sizeof(conf), "%s/.cordon/config", home);
		snprintf(creds, sizeof(creds), "%s/.cordon/credentials", home);
	}
	snprintf(section, sizeof(section), "%s%s",
		 strcmp(cfg->profile, "default") ? "profile " : "", cfg->profile);
	for (int pass = 0; pass < 2 && home; pass++) {
		const char *sec = pass ? cfg->profile : section;
		ini_get(conf, sec, "endpoint", cfg->endpoint, sizeof(cfg->endpoint));
		ini_get(conf, sec, "ca_file", cfg->ca_file, sizeof(cfg->ca_file));
		ini_get(conf, sec, "region", cfg->region, sizeof(cfg->region));
		ini_get(conf, sec, "project", cfg->project, sizeof(cfg->project));
	}
	if (home && !cfg->access_key_id[0]) {
		ini_get(creds, cfg->profile, "aws_access_key_id", cfg->access_key_id,
			sizeof(cfg->access_key_id));
		ini_get(creds, cfg->profile, "aws_secret_access_key", cfg->secret,
			sizeof(cfg->secret));
	}
	set_if(cfg->region, sizeof(cfg->region), "local");
	if (!cfg->endpoint[0])
		return cmn_err_set(err, CMN_EINVAL, 0,
				   "no endpoint: use --endpoint, CORDON_ENDPOINT or endpoint= in "
				   "~/.cordon/config");
	if (strncmp(cfg->endpoint, "https://", 8) != 0)
		return cmn_err_set(err, CMN_EINVAL, 0, "endpoint %s: only https:// is supported",
				   cfg->endpoint);
	if (!cfg->access_key_id[0] || !cfg->secret[0])
		return cmn_err_set(err, CMN_EINVAL, 0,
				   "no credentials for profile '%s': set CORDON_ACCESS_KEY_ID and "
				   "CORDON_SECRET_ACCESS_KEY or add them to ~/.cordon/credentials",
				   cfg->profile);
	return 0;
}

/* "https://host[:port][/prefix]" -> host, port, prefix */
static int split_endpoint(const char *ep, char *host, size_t hlen, char *port, size_t plen,
			  char *prefix, size_t xlen)
{
	const char *h = ep + 8, *slash = strchr(h, '/'), *end = slash ? slash : h + strlen(h);
	const char *colon;

	if (*h == '[') {
		const char *rb = memchr(h, ']', (size_t)(end - h));
		if (!rb)
			return -1;
		snprintf(host, hlen, "%.*s", (int)(rb - h - 1), h + 1);
		colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
	} else {
		colon = memchr(h, ':', (size_t)(end - h));
		snprintf(host, hlen, "%.*s", (int)((colon ? colon : end) - h), h);
	}
	snprintf(port, plen, "%.*s", colon ? (int)(end - colon - 1) : 3, colon ? colon + 1 : "443");
	snprintf(prefix, xlen, "%s", slash ? slash : "");
	if (prefix[0] && prefix[strlen(prefix) - 1] == '/')
		prefix[strlen(prefix) - 1] = '\0';
	return host[0] ? 0 : -1;
}

static int connect_tcp(const char *host, const char *port, struct cmn_err *err)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int fd = -1, rc = getaddrinfo(host, port, &hints, &res);

	if (rc != 0)
		return cmn_err_set(err, CMN_EUNAVAIL, 0, "resolve %s: %s", host, gai_strerror(rc));
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return cmn_err_sys(err, "connect %s:%s", host, port);
	return fd;
}

static SSL *tls_connect(SSL_CTX **ctx_out, int fd, const struct cli_config *cfg, const char *host,
			struct cmn_err *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = NULL;
	unsigned char addr[16];
	bool ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;

	*ctx_out = ctx;
	if (!ctx)
		goto fail;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (cfg->ca_file[0] ? SSL_CTX_load_verify_locations(ctx, cfg->ca_file, NULL) != 1
			    : SSL_CTX_set_default_verify_paths(ctx) != 1) {
		cmn_err_set(err, CMN_EINVAL, 0, "load CA file %s", cfg->ca_file);
		return NULL;
	}
	ssl = SSL_new(ctx);
	if (!ssl || SSL_set_fd(ssl, fd) != 1)
		goto fail;
	if (ip)
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
	else if (SSL_set_tlsext_host_name(ssl, host) != 1 || SSL_set1_host(ssl, host) != 1)
		goto fail;
	if (SSL_connect(ssl) != 1) {
		long v = SSL_get_verify_result(ssl);
		cmn_err_set(err, CMN_EPROTO, 0, "TLS handshake with %s: %s", host,
			    v != X509_V_OK ? X509_verify_cert_error_string(v)
					   : ERR_reason_error_string(ERR_get_error()));
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
fail:
	cmn_err_set(err, CMN_EINTERNAL, 0, "TLS setup failed");
	SSL_free(ssl);
	return NULL;
}

/* The request head; the body (o->body) is sent after it as is. */
static int build_request(const struct cli_config *cfg, const char *method, const char *host_hdr,
			 const char *path, const struct cli_request_opts *o, struct cmn_buf *out,
			 struct cmn_err *err)
{
	char amz_date[17], payload[65];
	const char *q = strchr(path, '?');
	char path_only[2048];
	cleanup_buf struct cmn_buf authz = { 0 };
	const char *body = o->body;
	size_t blen = body ? o->body_len : 0;
	struct sch_http_header h[2] = { { "host", host_hdr }, { "x-amz-date", amz_date } };
	struct sch_sigv4_request req = { method, path_only, q ? q + 1 : NULL, h, 2, payload };

	cmn_buf_init(&authz, 0);
	snprintf(path_only, sizeof(path_only), "%.*s", (int)(q ? q - path : (long)strlen(path)),
		 path);
	sch_sigv4_format_amz_date(time(NULL), amz_date);
	sch_sha256_hex(body ? body : "", blen, payload);
	if (sch_sigv4_sign(&req, cfg->access_key_id, cfg->secret, cfg->region, "cordon", amz_date,
			   &authz, err) < 0)
		return -1;
	if (cmn_buf_printf(out, err,
			   "%s %s HTTP/1.1\r\nHost: %s\r\nX-Amz-Date: %s\r\nAuthorization: %s\r\n"
			   "User-Agent: cordon-cli/%s\r\nConnection: close\r\n"
			   "Content-Type: %s\r\n%s%s%sContent-Length: %zu\r\n\r\n",
			   method, path, host_hdr, amz_date, authz.data, CORDON_VERSION,
			   o->content_type ? o->content_type : "application/json",
			   o->accept ? "Accept: " : "", o->accept ? o->accept : "",
			   o->accept ? "\r\n" : "", blen) < 0)
		return -1;
	return 0;
}

/* Whether the header block [p, end) says Transfer-Encoding: chunked. */
static bool chunked(const char *p, const char *end)
{
	static const char name[] = "\r\ntransfer-encoding:";
	for (; p + sizeof(name) - 1 < end; p++) {
		if (strncasecmp(p, name, sizeof(name) - 1) != 0)
			continue;
		p += sizeof(name) - 1;
		while (p < end && *p == ' ')
			p++;
		return (size_t)(end - p) >= 7 && strncasecmp(p, "chunked", 7) == 0;
	}
	return false;
}

/* Decodes a chunked body (a streamed result): a body without its last
 * (empty) chunk was cut short by the server, which is how it reports an
 * error after the status line went out. */
static int dechunk(const char *p, const char *end, struct cmn_buf *out, struct cmn_err *err)
{
	for (;;) {
		char *eol;
		unsigned long long n;
		const char *line_end = memmem(p, (size_t)(end - p), "\r\n", 2);

		if (!line_end)
			break;
		errno = 0;
		n = strtoull(p, &eol, 16);
		if (eol == p || errno || n > (size_t)(end - line_end))
			break;
		p = line_end + 2;
		if (n == 0)
			return 0;
		if ((size_t)(end - p) < n + 2 || cmn_buf_append(out, p, (size_t)n, err) < 0)
			break;
		p += n + 2;
	}
	if (err->code != CMN_OK)
		return -1;
	return cmn_err_set(err, CMN_EPROTO, 0,
			   "the server cut the response short (%zu bytes of body received); "
			   "see its log",
			   out->len);
}

static int parse_response(struct cmn_buf *raw, struct cli_response *resp, struct cmn_err *err)
{
	char *hdr_end = raw->data ? strstr(raw->data, "\r\n\r\n") : NULL;
	const char *body, *end = raw->data + raw->len;
	int status;

	if (!hdr_end || sscanf(raw->data, "HTTP/1.%*d %d", &status) != 1)
		return cmn_err_set(err, CMN_EPROTO, 0, "malformed HTTP response");
	resp->status = status;
	cmn_buf_init(&resp->body, 0);
	body = hdr_end + 4;
	if (chunked(raw->data, hdr_end + 2)) {
		if (dechunk(body, end, &resp->body, err) < 0)
			return -1;
	} else if (cmn_buf_append(&resp->body, body, (size_t)(end - body), err) < 0) {
		return -1;
	}
	/* every JSON answer of the API is an object; anything else (a resource's
	 * bytes) is not parsed: jansson would scan a long identifier-like run of
	 * letters byte by byte before failing */
	resp->json = resp->body.len && resp->body.data[0] == '{'
			 ? json_loadb(resp->body.data, resp->body.len, 0, NULL)
			 : NULL;
	return 0;
}

int cli_request(const struct cli_config *cfg, const char *method, const char *path,
		const char *body, struct cli_response *resp, struct cmn_err *err)
{
	struct cli_request_opts o = { .body = body, .body_len = body ? strlen(body) : 0 };
	return cli_request_ex(cfg, method, path, &o, resp, err);
}

int cli_request_bytes(const struct cli_config *cfg, const char *method, const char *path,
		      const void *body, size_t body_len, const char *content_type,
		      struct cli_response *resp, struct cmn_err *err)
{
	struct cli_request_opts o = { .content_type = content_type,
				      .body = body,
				      .body_len = body_len };
	return cli_request_ex(cfg, method, path, &o, resp, err);
}

/* Writes all of p (the body in 1 MiB pieces, reporting progress). */
static int send_all(SSL *ssl, const char *p, size_t len, const struct cli_request_opts *o,
		    struct cmn_err *err)
{
	size_t off = 0;
	while (off < len) {
		int n = (int)(len - off > (1u << 20) ? (1u << 20) : len - off);
		if (SSL_write(ssl, p + off, n) != n)
			return cmn_err_set(err, CMN_EIO, 0, "send request");
		off += (size_t)n;
		if (o && o->progress)
			o->progress(o->progress_arg, off, len);
	}
	return 0;
}

int cli_request_ex(const struct cli_config *cfg, const char *method, const char *path,
		   const struct cli_request_opts *o, struct cli_response *resp, struct cmn_err *err)
{
	char host[256], port[16], prefix[256], host_hdr[300], full[2300];
	cleanup_buf struct cmn_buf req = { 0 }, raw = { 0 };
	cleanup_close int fd = -1;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	int rc = -1, n;
	char chunk[16384];
	bool v6;

	memset(resp, 0, sizeof(*resp));
	cmn_buf_init(&req, 0);
	cmn_buf_init(&raw, o->max_response ? o->max_response : MAX_RESPONSE);
	if (split_endpoint(cfg->endpoint, host, sizeof(host), port, sizeof(port), prefix,
			   sizeof(prefix)) < 0)
		return cmn_err_set(err, CMN_EINVAL, 0, "malformed endpoint %s", cfg->endpoint);
	v6 = strchr(host, ':') != NULL;
	snprintf(host_hdr, sizeof(host_hdr), "%s%s%s%s%s", v6 ? "[" : "", host, v6 ? "]" : "",
		 strcmp(port, "443") ? ":" : "", strcmp(port, "443") ? port : "");
	snprintf(full, sizeof(full), "%s%s", prefix, path);
	if (build_request(cfg, method, host_hdr, full, o, &req, err) < 0)
		return -1;
	fd = connect_tcp(host, port, err);
	if (fd < 0)
		return -1;
	ssl = tls_connect(&ctx, fd, cfg, host, err);
	if (!ssl)
		goto out;
	if (send_all(ssl, req.data, req.len, NULL, err) < 0 ||
	    (o->body && send_all(ssl, o->body, o->body_len, o, err) < 0)) {
		cmn_err_wrap(err, "%s", cfg->endpoint);
		goto out;
	}
	while ((n = SSL_read(ssl, chunk, sizeof(chunk))) > 0)
		if (cmn_buf_append(&raw, chunk, (size_t)n, err) < 0)
			goto out;
	rc = parse_response(&raw, resp, err);
out:
	OPENSSL_cleanse(req.data, req.len);
	if (ssl)
		SSL_shutdown(ssl);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	return rc;
}

void cli_response_free(struct cli_response *resp)
{
	json_decref(resp->json);
	cmn_buf_free(&resp->body);
	resp->json = NULL;
}

int cli_report(const char *prog, const struct cli_response *resp)
{
	const char *code, *msg, *rid;

	if (resp->status >= 200 && resp->status < 300)
		return 0;
	code = json_string_value(json_object_get(resp->json, "code"));
	msg = json_string_value(json_object_get(resp->json, "message"));
	rid = json_string_value(json_object_get(resp->json, "requestId"));
	if (code)
		fprintf(stderr, "%s: %s: %s (HTTP %d, request %s)\n", prog, code, msg ? msg : "",
			resp->status, rid ? rid : "-");
	else
		fprintf(stderr, "%s: HTTP %d: %.*s\n", prog, resp->status, (int)resp->body.len,
			resp->body.data ? resp->body.data : "");
	return resp->status == 403 ? 3 : 1;
}

int cli_query_escape(struct cmn_buf *out, const char *s, struct cmn_err *err)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
			if (cmn_buf_append(out, s, 1, err) < 0)
				return -1;
		} else if (cmn_buf_printf(out, err, "%%%02X", c) < 0) {
			return -1;
		}
	}
	return 0;
}

int cli_common_option(int c, const char *arg, struct cli_config *cfg)
{
	switch (c) {
	case 'E':
		cfg->flag_endpoint = arg;
		return 1;
	case 'P':
		cfg->flag_profile = arg;
		return 1;
	case 'C':
		cfg->flag_ca_file = arg;
		return 1;
	case 'G':
		cfg->flag_region = arg;
		return 1;
	case 'p':
		cfg->flag_project = arg;
		return 1;
	default:
		return 0;
	}
}

int cli_call(const char *prog, struct cli_config *cfg, const char *method, const char *path,
	     const char *body, struct cli_response *resp)
{
	return cli_call_bytes(prog, cfg, method, path, body, body ? strlen(body) : 0,
			      "application/json", resp);
}

int cli_call_bytes(const char *prog, struct cli_config *cfg, const char *method, const char *path,
		   const void *body, size_t body_len, const char *content_type,
		   struct cli_response *resp)
{
	struct cmn_err err = CMN_ERR_INIT;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (!cfg->endpoint[0] && cli_config_resolve(cfg, &err) < 0) {
		fprintf(stderr, "%s: %s\n", prog, err.msg);
		return 2;
	}
	if (cli_request_bytes(cfg, method, path, body, body_len, content_type, resp, &err) < 0) {
		fprintf(stderr, "%s: %s\n", prog, err.msg);
		return 1;
	}
	rc = cli_report(prog, resp);
	if (rc)
		cli_response_free(resp);
	return rc;
}
