/* tools/cmd_storage_api.c — `cordon admin storage status|scrub|repair|
 * key-rotate` through cordond's admin API (used when no --data-dir is
 * given; --data-dir keeps the direct mode of cmd_storage.c). Endpoint,
 * credentials and CA are resolved like every API command (client.h).
 * Prints the server's JSON answer (without the request id). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/cleanup.h"
#include "common/cli.h"
#include "common/parse.h"
#include "tools/client.h"
#include "tools/cmds.h"

static const char api_usage[] =
    "usage: cordon admin storage status | scrub | repair [--timeout D]\n"
    "       cordon admin storage key-rotate --project P [--import FILE]\n"
    "  through cordond's admin API (operators); FILE holds a 256-bit key as\n"
    "  64 hex characters (BYOK). With --data-dir DIR: direct mode (see --help).\n" CLI_COMMON_HELP;

static int print_json(struct cli_response *resp)
{
	json_object_del(resp->json, "requestId");
	json_dumpf(resp->json, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	putchar('\n');
	cli_response_free(resp);
	return CMN_EXIT_OK;
}

/* A 64-hex-character key file as base64 (44 characters + NUL). */
static int byok_base64(const char *path, char out[48])
{
	FILE *f = fopen(path, "re");
	char hex[80] = { 0 };
	uint8_t raw[32];
	size_t n;
	int rc = -1;

	if (!f) {
		fprintf(stderr, "cordon: admin storage: cannot open %s\n", path);
		return -1;
	}
	n = fread(hex, 1, sizeof(hex) - 1, f);
	fclose(f);
	while (n > 0 && (hex[n - 1] == '\n' || hex[n - 1] == '\r'))
		n--;
	if (n == 64) {
		rc = 0;
		for (size_t i = 0; i < 32 && rc == 0; i++) {
			char pair[3] = { hex[2 * i], hex[2 * i + 1], 0 }, *end;
			unsigned long v = strtoul(pair, &end, 16);
			if (*end || !pair[0] || !pair[1])
				rc = -1;
			raw[i] = (uint8_t)v;
		}
	}
	if (rc == 0)
		EVP_EncodeBlock((unsigned char *)out, raw, 32);
	else
		fprintf(stderr, "cordon: admin storage: %s: want 64 hex characters\n", path);
	OPENSSL_cleanse(hex, sizeof(hex));
	OPENSSL_cleanse(raw, sizeof(raw));
	return rc;
}

static int key_rotate(struct cli_config *cfg, const char *import)
{
	struct cli_response resp;
	char path[300], b64[48] = { 0 };
	cleanup_free char *body = NULL;
	json_t *j;
	int rc;

	if (!cfg->flag_project) {
		fputs(api_usage, stderr);
		return CMN_EXIT_USAGE;
	}
	if (import && byok_base64(import, b64) < 0)
		return CMN_EXIT_FAIL;
	j = import ? json_pack("{s:s}", "byok", b64) : json_pack("{s:b}", "rotate", 1);
	body = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	OPENSSL_cleanse(b64, sizeof(b64));
	snprintf(path, sizeof(path), "/v1/admin/projects/%s/key", cfg->flag_project);
	rc = cli_call("cordon admin storage", cfg, "POST", path, body, &resp);
	if (body)
		OPENSSL_cleanse(body, strlen(body));
	return rc ? rc : print_json(&resp);
}

int cmd_admin_storage_api(int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_OPTIONS,
					      { "timeout", required_argument, NULL, 'T' },
					      { "import", required_argument, NULL, 'I' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	struct cli_config cfg = { 0 };
	struct cli_response resp;
	const char *cmd = argv[1], *import = NULL;
	uint64_t timeout_ns = 0;
	char body[64] = "";
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
		if (cli_common_option(c, optarg, &cfg))
			continue;
		if (c == 'T' && cmn_parse_duration(optarg, &timeout_ns, NULL) == 0 &&
		    timeout_ns >= 1000000000ull)
			continue;
		if (c == 'I') {
			import = optarg;
			continue;
		}
		fputs(api_usage, c == 'h' ? stdout : stderr);
		return c == 'h' ? CMN_EXIT_OK : CMN_EXIT_USAGE;
	}
	if (optind + 1 != argc) {
		fputs(api_usage, stderr);
		return CMN_EXIT_USAGE;
	}
	if (strcmp(cmd, "key-rotate") == 0)
		return key_rotate(&cfg, import);
	if (strcmp(cmd, "status") == 0) {
		rc =
		    cli_call("cordon admin storage", &cfg, "GET", "/v1/admin/storage", NULL, &resp);
	} else if (strcmp(cmd, "scrub") == 0) {
		rc = cli_call("cordon admin storage", &cfg, "POST", "/v1/admin/storage/scrub", NULL,
			      &resp);
	} else if (strcmp(cmd, "repair") == 0) {
		if (timeout_ns)
			snprintf(body, sizeof(body), "{\"timeoutSeconds\": %llu}",
				 (unsigned long long)(timeout_ns / 1000000000ull));
		rc = cli_call("cordon admin storage", &cfg, "POST", "/v1/admin/storage/repair",
			      body[0] ? body : NULL, &resp);
	} else {
		fputs(api_usage, stderr);
		return CMN_EXIT_USAGE;
	}
	return rc ? rc : print_json(&resp);
}
