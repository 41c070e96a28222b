/* scheduler/main.c — cordond: the Cordon scheduler daemon. */
#include <getopt.h>
#include <stdio.h>

#include "common/cli.h"
#include "scheduler/scheduler.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: cordond --data-dir DIR [--listen ADDR:PORT] [--region NAME]\n"
		     "               [--chunkservers N --racks R] [--tls-cert F --tls-key F]\n"
		     "       cordond --help | --version\n\n"
		     "Serves Cordon's HTTPS API: authenticates and authorizes SQL jobs and runs\n"
		     "them on sandboxed nodes.\n");
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
			cmn_print_version(stdout, "cordond");
			sch_print_deps(stdout);
			return CMN_EXIT_OK;
		default:
			usage(stderr);
			return CMN_EXIT_USAGE;
		}
	}
	fprintf(stderr, "cordond: the API server is not available in this build yet\n");
	return CMN_EXIT_FAIL;
}
