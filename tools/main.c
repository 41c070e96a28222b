/* tools/main.c — the cordon CLI: one command line for job submitters, UDF
 * authors and operators. This file only dispatches; each subcommand is its
 * own file.
 *
 * Built twice (tools/CMakeLists.txt):
 *   cordon      the entry users call. Runs `sandbox` itself and links only
 *               sandbox/ and common/ (libc, libseccomp): a container start
 *               from the command line does not load OpenSSL, libevent,
 *               SQLite, Lua, libnl and libnftables (~3 ms of dynamic
 *               loading, and a larger process for the container to clone).
 *               Every other command, and --version, execs cordon-cli.
 *   cordon-cli  every command in-process (CORDON_CLI_FULL). It lives next to
 *               cordon; the exec keeps argv, the environment and every fd,
 *               so a command behaves the same whichever binary runs it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/cli.h"
#include "sandbox/sandbox.h"
#include "tools/cmds.h"

#ifdef CORDON_CLI_FULL
#include "netoverlay/netoverlay.h"
#include "runtime/runtime.h"
#include "scheduler/scheduler.h"
#include "storage/storage.h"
#define IN_FULL(fn) fn
#else
#define IN_FULL(fn) NULL /* run by cordon-cli */
#endif

#define FULL_CLI "cordon-cli"

struct command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

static const struct command commands[] = {
	{ "sql", "run SQL statements as a job (cordon sql \"SELECT 1;\" | -f FILE)",
	  IN_FULL(cmd_sql) },
	{ "job", "follow, fetch or cancel a job (cordon job status|result|cancel|wait ID)",
	  IN_FULL(cmd_job) },
	{ "resource", "a project's resources: resource put|get|rm|ls", IN_FULL(cmd_resource) },
	{ "table", "bulk table data: table upload|download PROJECT TABLE ...", IN_FULL(cmd_table) },
	{ "whoami", "show who the configured credentials authenticate as", IN_FULL(cmd_whoami) },
	{ "admin", "operator commands: account, user, role, key, project, storage",
	  IN_FULL(cmd_admin) },
	{ "audit", "verify or query the audit log", IN_FULL(cmd_audit) },
	{ "sandbox", "run a command in a Cordon container (sandbox run -- CMD)", cmd_sandbox },
	{ "udf", "run a Lua UDF exactly as a job node would (udf run SCRIPT --function F)",
	  IN_FULL(cmd_udf) },
	{ "overlay", "run a command on N nodes joined by a job overlay network",
	  IN_FULL(cmd_overlay) },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: cordon [--help] [--version] COMMAND [ARGS...]\n\n"
		     "Cordon runs untrusted SQL jobs and Lua UDFs safely. Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\n`cordon COMMAND --help` describes a command. Docs: docs/README.md\n");
}

#ifdef CORDON_CLI_FULL
static int version(char **argv)
{
	(void)argv;
	cmn_print_version(stdout, "cordon");
	sbx_print_deps(stdout);
	rt_print_deps(stdout);
	ovl_print_deps(stdout);
	stor_print_deps(stdout);
	sch_print_deps(stdout);
	return CMN_EXIT_OK;
}
#else
/* cordon-cli next to this binary (build/bin, or wherever both are installed);
 * /proc/self/exe, not argv[0], which the caller chooses. Returns only on
 * failure. */
static int run_full(char **argv)
{
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	if (n < 0) {
		fprintf(stderr, "cordon: readlink /proc/self/exe: %s\n", strerror(errno));
		return CMN_EXIT_FAIL;
	}
	path[n] = '\0';
	char *slash = strrchr(path, '/');
	size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;
	if (dir_len + sizeof(FULL_CLI) > sizeof(path)) {
		fprintf(stderr, "cordon: path of %s too long\n", FULL_CLI);
		return CMN_EXIT_FAIL;
	}
	memcpy(path + dir_len, FULL_CLI, sizeof(FULL_CLI));
	execv(path, argv);
	fprintf(stderr, "cordon: execv %s: %s\n", path, strerror(errno));
	return CMN_EXIT_FAIL;
}

static int version(char **argv)
{
	return run_full(argv);
}
#endif

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
	if (strcmp(argv[1], "--version") == 0)
		return version(argv);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name) != 0)
			continue;
#ifndef CORDON_CLI_FULL
		if (!commands[i].run)
			return run_full(argv);
#endif
		return commands[i].run(argc - 1, argv + 1);
	}
	fprintf(stderr, "cordon: unknown command '%s' (see cordon --help)\n", argv[1]);
	return CMN_EXIT_USAGE;
}
