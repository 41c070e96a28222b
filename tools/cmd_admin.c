/* tools/cmd_admin.c — `cordon admin ...`: accounts, RAM users and roles,
 * access keys, projects (issue 7) and `storage` (cmd_storage.c). Each
 * command is one API call; the answer is printed as JSON (without the
 * request id) so scripts can read it. A new secret is shown only here, once. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/cli.h"
#include "tools/client.h"
#include "tools/cmds.h"

static const char usage_text[] =
    "usage: cordon admin account create NAME | list | delete NAME\n"
    "       cordon admin user create|delete NAME [--account A] | list [--account A]\n"
    "       cordon admin role create|delete|assume NAME [--account A] | list [--account A]\n"
    "       cordon admin key create [--user U] [--account A] | list [--user U] [--account A]\n"
    "       cordon admin key disable|enable|delete|rotate KEY_ID [--account A]\n"
    "       cordon admin project create NAME [--owner PRINCIPAL] [--description TEXT]\n"
    "       cordon admin project list | describe NAME | delete NAME\n"
    "       cordon admin project set-whitelist NAME LIST     (operators; \"\" disables)\n"
    "       cordon admin storage ...\n"
    "--account defaults to the caller's own account.\n" CLI_COMMON_HELP;

struct admin_args {
	struct cli_config cfg;
	const char *account, *user, *owner, *description;
	char *pos[4];
	int npos;
};

static int print_result(struct cli_response *resp)
{
	json_object_del(resp->json, "requestId");
	json_dumpf(resp->json, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	putchar('\n');
	cli_response_free(resp);
	return CMN_EXIT_OK;
}

static int call(struct admin_args *a, const char *method, const char *path, json_t *body)
{
	struct cli_response resp;
	cleanup_free char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	int rc;

	json_decref(body);
	rc = cli_call("cordon admin", &a->cfg, method, path, text, &resp);
	return rc ? rc : print_result(&resp);
}

/* The account to act on: --account, else the caller's own. */
static int resolve_account(struct admin_args *a, char *out, size_t len)
{
	struct cli_response resp;
	int rc;

	if (a->account) {
		snprintf(out, len, "%s", a->account);
		return 0;
	}
	rc = cli_call("cordon admin", &a->cfg, "GET", "/v1/whoami", NULL, &resp);
	if (rc)
		return rc;
	snprintf(out, len, "%s", json_string_value(json_object_get(resp.json, "account")) ?: "");
	cli_response_free(&resp);
	return 0;
}

static int need(struct admin_args *a, int n)
{
	if (a->npos == n)
		return 0;
	fputs(usage_text, stderr);
	return CMN_EXIT_USAGE;
}

static int do_account(struct admin_args *a, const char *verb)
{
	char path[300];
	if (strcmp(verb, "list") == 0)
		return need(a, 0) ?: call(a, "GET", "/v1/admin/accounts", NULL);
	if (need(a, 1))
		return CMN_EXIT_USAGE;
	if (strcmp(verb, "create") == 0)
		return call(a, "POST", "/v1/admin/accounts", json_pack("{s:s}", "name", a->pos[0]));
	snprintf(path, sizeof(path), "/v1/admin/accounts/%s", a->pos[0]);
	if (strcmp(verb, "delete") == 0)
		return call(a, "DELETE", path, NULL);
	return need(a, -1);
}

static int do_member(struct admin_args *a, const char *kind, const char *verb)
{
	char acct[128], path[512];
	int rc = resolve_account(a, acct, sizeof(acct));

	if (rc)
		return rc;
	if (strcmp(verb, "list") == 0) {
		snprintf(path, sizeof(path), "/v1/accounts/%s/%ss", acct, kind);
		return need(a, 0) ?: call(a, "GET", path, NULL);
	}
	if (need(a, 1))
		return CMN_EXIT_USAGE;
	if (strcmp(verb, "create") == 0) {
		snprintf(path, sizeof(path), "/v1/accounts/%s/%ss", acct, kind);
		return call(a, "POST", path, json_pack("{s:s}", "name", a->pos[0]));
	}
	snprintf(path, sizeof(path), "/v1/accounts/%s/%ss/%s%s", acct, kind, a->pos[0],
		 strcmp(verb, "assume") == 0 ? "/assume" : "");
	if (strcmp(verb, "delete") == 0)
		return call(a, "DELETE", path, NULL);
	if (strcmp(kind, "role") == 0 && strcmp(verb, "assume") == 0)
		return call(a, "POST", path, NULL);
	return need(a, -1);
}

static int do_key(struct admin_args *a, const char *verb)
{
	char acct[128], path[512];
	int rc = resolve_account(a, acct, sizeof(acct));

	if (rc)
		return rc;
	if (strcmp(verb, "list") == 0) {
		snprintf(path, sizeof(path), "/v1/accounts/%s/keys%s%s", acct,
			 a->user ? "?user=" : "", a->user ? a->user : "");
		return need(a, 0) ?: call(a, "GET", path, NULL);
	}
	if (strcmp(verb, "create") == 0) {
		snprintf(path, sizeof(path), "/v1/accounts/%s/keys", acct);
		return need(a, 0)
			   ?: call(a, "POST", path,
				   a->user ? json_pack("{s:s}", "user", a->user) : json_object());
	}
	if (need(a, 1))
		return CMN_EXIT_USAGE;
	if (strcmp(verb, "delete") == 0) {
		snprintf(path, sizeof(path), "/v1/accounts/%s/keys/%s", acct, a->pos[0]);
		return call(a, "DELETE", path, NULL);
	}
	if (strcmp(verb, "disable") && strcmp(verb, "enable") && strcmp(verb, "rotate"))
		return need(a, -1);
	snprintf(path, sizeof(path), "/v1/accounts/%s/keys/%s/%s", acct, a->pos[0], verb);
	return call(a, "POST", path, NULL);
}

static int do_project(struct admin_args *a, const char *verb)
{
	char path[300];
	json_t *body;

	if (strcmp(verb, "list") == 0)
		return need(a, 0) ?: call(a, "GET", "/v1/projects", NULL);
	if (strcmp(verb, "set-whitelist") == 0) {
		if (need(a, 2))
			return CMN_EXIT_USAGE;
		snprintf(path, sizeof(path), "/v1/projects/%s/whitelist", a->pos[0]);
		return call(a, "PUT", path, json_pack("{s:s}", "whitelist", a->pos[1]));
	}
	if (need(a, 1))
		return CMN_EXIT_USAGE;
	snprintf(path, sizeof(path), "/v1/projects/%s", a->pos[0]);
	if (strcmp(verb, "describe") == 0)
		return call(a, "GET", path, NULL);
	if (strcmp(verb, "delete") == 0)
		return call(a, "DELETE", path, NULL);
	if (strcmp(verb, "create") != 0)
		return need(a, -1);
	body = json_pack("{s:s}", "name", a->pos[0]);
	if (a->owner)
		json_object_set_new(body, "owner", json_string(a->owner));
	if (a->description)
		json_object_set_new(body, "description", json_string(a->description));
	return call(a, "POST", "/v1/projects", body);
}

static int parse(int argc, char **argv, struct admin_args *a)
{
	static const struct option opts[] = { CLI_COMMON_OPTIONS,
					      { "account", required_argument, NULL, 'a' },
					      { "user", required_argument, NULL, 'u' },
					      { "owner", required_argument, NULL, 'o' },
					      { "description", required_argument, NULL, 'd' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (cli_common_option(c, optarg, &a->cfg))
			continue;
		switch (c) {
		case 'a':
			a->account = optarg;
			break;
		case 'u':
			a->user = optarg;
			break;
		case 'o':
			a->owner = optarg;
			break;
		case 'd':
			a->description = optarg;
			break;
		default:
			fputs(usage_text, c == 'h' ? stdout : stderr);
			return c == 'h' ? -1 : CMN_EXIT_USAGE;
		}
	}
	for (; optind < argc; optind++) {
		if (a->npos == 4)
			return CMN_EXIT_USAGE;
		a->pos[a->npos++] = argv[optind];
	}
	return 0;
}

int cmd_admin(int argc, char **argv)
{
	struct admin_args a = { 0 };
	const char *what, *verb;
	int rc;

	if (argc >= 2 && strcmp(argv[1], "storage") == 0)
		return cmd_admin_storage(argc - 1, argv + 1);
	if (argc < 3 || strcmp(argv[1], "--help") == 0) {
		fputs(usage_text, argc >= 2 ? stdout : stderr);
		return argc >= 2 ? CMN_EXIT_OK : CMN_EXIT_USAGE;
	}
	what = argv[1];
	verb = argv[2];
	rc = parse(argc - 2, argv + 2, &a);
	if (rc)
		return rc < 0 ? CMN_EXIT_OK : rc;
	if (strcmp(what, "account") == 0)
		return do_account(&a, verb);
	if (strcmp(what, "user") == 0 || strcmp(what, "role") == 0)
		return do_member(&a, what, verb);
	if (strcmp(what, "key") == 0)
		return do_key(&a, verb);
	if (strcmp(what, "project") == 0)
		return do_project(&a, verb);
	fputs(usage_text, stderr);
	return CMN_EXIT_USAGE;
}
