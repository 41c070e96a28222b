/* tools/main.c — the cordon CLI: one binary for job submitters, UDF authors
 * and operators. This file only dispatches; each subcommand is its own file. */
#include <stdio.h>
#include <string.h>

#include "common/cli.h"
#include "netoverlay/netoverlay.h"
#include "runtime/runtime.h"
#include "sandbox/sandbox.h"
#include "scheduler/scheduler.h"
#include "storage/storage.h"
#include "tools/cmds.h"

struct command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

static const struct command commands[] = {
	{ "sql", "run SQL statements as a job (cordon sql \"SELECT 1;\" | -f FILE)", cmd_sql },
	{ "job", "follow, fetch or cancel a job (cordon job status|result|cancel|wait ID)",
	  cmd_job },
	{ "resource", "a project's resources: resource put|get|rm|ls", cmd_resource },
	{ "table", "bulk table data: table upload|download PROJECT TABLE ...", cmd_table },
	{ "whoami", "show who the configured credentials authenticate as", cmd_whoami },
	{ "admin", "operator commands: account, user, role, key, project, storage", cmd_admin },
	{ "audit", "verify or query the audit log", cmd_audit },
	{ "sandbox", "run a command in a Cordon container (sandbox run -- CMD)", cmd_sandbox },
	{ "udf", "run a Lua UDF exactly as a job node would (udf run SCRIPT --function F)",
	  cmd_udf },
	{ "overlay", "run a command on N nodes joined by a job overlay network", cmd_overlay },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: cordon [--help] [--version] COMMAND [ARGS...]\n\n"
		     "Cordon runs untrusted SQL jobs and Lua UDFs safely. Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\n`cordon COMMAND --help` describes a command. Docs: docs/README.md\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CMN_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return CMN_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		cmn_print_version(stdout, "cordon");
		sbx_print_deps(stdout);
		rt_print_deps(stdout);
		ovl_print_deps(stdout);
		stor_print_deps(stdout);
		sch_print_deps(stdout);
		return CMN_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	}
	fprintf(stderr, "cordon: unknown command '%s' (see cordon --help)\n", argv[1]);
	return CMN_EXIT_USAGE;
}
