/* common/cli.c — see cli.h. */
#include "common/cli.h"

#include "cordon_version.h"

void cmn_print_version(FILE *out, const char *prog)
{
	fprintf(out, "%s %s\n", prog, CORDON_VERSION);
}
