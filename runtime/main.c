/* runtime/main.c — cordon-node: runs one stage of a job inside a container.
 * Started by cordond (or `cordon udf run`) with its plan and data as file
 * descriptors; never started by hand except for --help/--version. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "common/cli.h"
#include "runtime/runtime.h"
#include "runtime/stage.h"
#include "runtime/udf_node.h"

#ifdef CORDON_SANITIZED
/* cordon-node runs inside a seccomp container: LeakSanitizer's exit-time
 * check (ptrace, clone) would get it killed there. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "detect_leaks=0";
}
#endif

static void usage(FILE *out)
{
	fprintf(out, "usage: cordon-node [--help] [--version]\n"
		     "       cordon-node udf --script-fd N --function F ... (see docs/udf.md)\n"
		     "       cordon-node stage --plan-fd N (see docs/stage-plan.md)\n\n"
		     "Runs one stage of a Cordon job inside a container. It is started by\n"
		     "cordond or `cordon udf run`, which pass the stage plan, UDF sources and\n"
		     "data streams as file descriptors; it is not meant to be run by hand.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	if (argc > 1 && strcmp(argv[1], "udf") == 0)
		return rt_node_udf_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "stage") == 0)
		return rt_node_stage_main(argc - 1, argv + 1);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return CMN_EXIT_OK;
		case 'V':
			cmn_print_version(stdout, "cordon-node");
			rt_print_deps(stdout);
			return CMN_EXIT_OK;
		default:
			usage(stderr);
			return CMN_EXIT_USAGE;
		}
	}
	fprintf(stderr, "cordon-node: no stage given (it is started by cordond)\n");
	return CMN_EXIT_USAGE;
}
