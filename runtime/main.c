/* runtime/main.c — cordon-node: runs one stage of a job inside a container.
 * Started by cordond (or `cordon udf run`) with its plan and data as file
 * descriptors; never started by hand except for --help/--version. */
#include <getopt.h>
#include <stdio.h>

#include "common/cli.h"
#include "runtime/runtime.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: cordon-node [--help] [--version]\n\n"
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
