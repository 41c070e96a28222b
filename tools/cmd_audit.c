/* tools/cmd_audit.c — `cordon audit verify DIR/audit` (offline: recomputes
 * the hash chain and the Ed25519 checkpoints; names the first record that
 * was changed, removed, reordered or inserted) and `cordon audit list`
 * (GET /v1/audit, operators and project owners). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/cli.h"
#include "scheduler/audit.h"
#include "tools/client.h"
#include "tools/cmds.h"

static const char usage_text[] =
    "usage: cordon audit verify DIR [--pubkey FILE]\n"
    "       cordon audit list [--project P] [--principal NAME] [--event NAME]\n"
    "                         [--since UNIX] [--until UNIX] [--limit N]\n"
    "verify exits 0 when the log is intact, 4 when it was tampered with.\n" CLI_COMMON_HELP;

static int verify(int argc, char **argv)
{
	static const struct option opts[] = { { "pubkey", required_argument, NULL, 'k' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	const char *pubkey = NULL;
	cleanup_buf struct cmn_buf report = { 0 };
	struct cmn_err err = CMN_ERR_INIT;
	int c;

	cmn_buf_init(&report, 0);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'k') {
			pubkey = optarg;
			continue;
		}
		fputs(usage_text, c == 'h' ? stdout : stderr);
		return c == 'h' ? CMN_EXIT_OK : CMN_EXIT_USAGE;
	}
	if (optind + 1 != argc) {
		fputs(usage_text, stderr);
		return CMN_EXIT_USAGE;
	}
	if (sch_audit_verify_dir(argv[optind], pubkey, &report, &err) < 0) {
		fprintf(stderr, "cordon audit verify: FAILED: %s\n", err.msg);
		return err.code == CMN_ECONFLICT ? 4 : CMN_EXIT_FAIL;
	}
	fputs(report.data ? report.data : "", stdout);
	return CMN_EXIT_OK;
}

static int list(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_COMMON_OPTIONS,
		{ "principal", required_argument, NULL, 1 },
		{ "event", required_argument, NULL, 2 },
		{ "since", required_argument, NULL, 3 },
		{ "until", required_argument, NULL, 4 },
		{ "limit", required_argument, NULL, 5 },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *names[] = { NULL, "principal", "event", "since", "until", "limit" };
	struct cli_config cfg = { 0 };
	struct cli_response resp;
	cleanup_buf struct cmn_buf path = { 0 };
	int c, rc;

	cmn_buf_init(&path, 0);
	cmn_buf_append_str(&path, "/v1/audit?", NULL);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c >= 1 && c <= 5) {
			cmn_buf_printf(&path, NULL, "%s=", names[c]);
			cli_query_escape(&path, optarg, NULL);
			cmn_buf_append_str(&path, "&", NULL);
			continue;
		}
		if (cli_common_option(c, optarg, &cfg))
			continue;
		fputs(usage_text, c == 'h' ? stdout : stderr);
		return c == 'h' ? CMN_EXIT_OK : CMN_EXIT_USAGE;
	}
	if (cfg.flag_project) {
		cmn_buf_append_str(&path, "project=", NULL);
		cli_query_escape(&path, cfg.flag_project, NULL);
	}
	rc = cli_call("cordon audit", &cfg, "GET", path.data, NULL, &resp);
	if (rc)
		return rc;
	{
		size_t i;
		json_t *ev;
		json_array_foreach(json_object_get(resp.json, "events"), i, ev)
		{
			json_dumpf(ev, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
			putchar('\n');
		}
	}
	cli_response_free(&resp);
	return CMN_EXIT_OK;
}

int cmd_audit(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "verify") == 0)
		return verify(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "list") == 0)
		return list(argc - 1, argv + 1);
	fputs(usage_text, argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
	return argc >= 2 && strcmp(argv[1], "--help") == 0 ? CMN_EXIT_OK : CMN_EXIT_USAGE;
}
