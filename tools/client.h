/* tools/client.h — the cordon CLI's API client: configuration resolution
 * and signed HTTPS requests.
 *
 * Resolution order, per setting: command-line flag (--endpoint, --profile,
 * --ca-file, --region), then environment (CORDON_ENDPOINT,
 * CORDON_ACCESS_KEY_ID + CORDON_SECRET_ACCESS_KEY, CORDON_CA_FILE,
 * CORDON_REGION, CORDON_PROFILE), then ~/.cordon/config ("[default]" or
 * "[profile NAME]": endpoint, ca_file, region, project) and
 * ~/.cordon/credentials ("[NAME]": aws_access_key_id,
 * aws_secret_access_key). The transport is OpenSSL over a blocking socket,
 * one request per connection, TLS 1.2+, the server certificate verified
 * against the CA file (or the system store) and the endpoint's host name. */
#ifndef TOOLS_CLIENT_H
#define TOOLS_CLIENT_H

#include <jansson.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

struct cli_config {
	char endpoint[512];
	char access_key_id[128];
	char secret[128];
	char ca_file[4096];
	char region[64];
	char profile[64];
	char project[128];
	/* flags as given (NULL = not given) */
	const char *flag_endpoint, *flag_profile, *flag_ca_file, *flag_region, *flag_project;
};

struct cli_response {
	int status;
	json_t *json; /* NULL if the body is not JSON */
	struct cmn_buf body;
};

/* Fills cfg from flags, env and files. Fails naming what is missing. */
int cli_config_resolve(struct cli_config *cfg, struct cmn_err *err);
/* body may be NULL. */
int cli_request(const struct cli_config *cfg, const char *method, const char *path,
		const char *body, struct cli_response *resp, struct cmn_err *err);
/* The same with a body of body_len bytes (binary allowed) and its type. */
int cli_request_bytes(const struct cli_config *cfg, const char *method, const char *path,
		      const void *body, size_t body_len, const char *content_type,
		      struct cli_response *resp, struct cmn_err *err);
void cli_response_free(struct cli_response *resp);

/* A request with a body of any type and length, an optional Accept header,
 * upload progress and a response cap (cli_request is this with a JSON C
 * string). */
struct cli_request_opts {
	const char *content_type; /* NULL: application/json */
	const void *body;         /* NULL: none */
	size_t body_len;
	const char *accept;                                     /* NULL: no Accept header */
	void (*progress)(void *arg, size_t sent, size_t total); /* may be NULL */
	void *progress_arg;
	size_t max_response; /* 0: 64 MiB */
};
int cli_request_ex(const struct cli_config *cfg, const char *method, const char *path,
		   const struct cli_request_opts *o, struct cli_response *resp,
		   struct cmn_err *err);
/* Prints the server's error (code, message, request id) to stderr and
 * returns the CLI exit code for it; 0 for 2xx. */
int cli_report(const char *prog, const struct cli_response *resp);
/* Percent-encodes a query value. */
int cli_query_escape(struct cmn_buf *out, const char *s, struct cmn_err *err);

/* The options every API command takes (getopt_long entries). */
#define CLI_COMMON_OPTIONS                                                                         \
	{ "endpoint", required_argument, NULL, 'E' }, { "profile", required_argument, NULL, 'P' }, \
	    { "ca-file", required_argument, NULL, 'C' },                                           \
	    { "region", required_argument, NULL, 'G' },                                            \
	{                                                                                          \
		"project", required_argument, NULL, 'p'                                            \
	}
#define CLI_COMMON_HELP                                                                            \
	"common options: --endpoint URL --profile NAME --ca-file FILE --region NAME --project P\n"

/* Takes a common option; false if c is not one. */
int cli_common_option(int c, const char *arg, struct cli_config *cfg);
/* Resolves the configuration and performs one request; prints errors.
 * Returns 0 and fills resp on a 2xx answer, else the exit code. */
int cli_call(const char *prog, struct cli_config *cfg, const char *method, const char *path,
	     const char *body, struct cli_response *resp);

int cli_call_bytes(const char *prog, struct cli_config *cfg, const char *method, const char *path,
		   const void *body, size_t body_len, const char *content_type,
		   struct cli_response *resp);

#endif
