/* storage/chunkd_main.c — cordon-chunkd: stores ciphertext chunks for one disk. */
#include <getopt.h>
#include <stdio.h>

#include "common/cli.h"
#include "storage/storage.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: cordon-chunkd --data-dir DIR --listen ADDR:PORT --rack NAME\n"
		     "                     --cluster-key-file FILE\n"
		     "       cordon-chunkd --help | --version\n\n"
		     "Stores, serves, checks and copies encrypted chunks for one disk.\n");
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
			cmn_print_version(stdout, "cordon-chunkd");
			stor_print_deps(stdout);
			return CMN_EXIT_OK;
		default:
			usage(stderr);
			return CMN_EXIT_USAGE;
		}
	}
	fprintf(stderr, "cordon-chunkd: the chunk server is not available in this build yet\n");
	return CMN_EXIT_FAIL;
}
