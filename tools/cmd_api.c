/* tools/cmd_api.c — `cordon whoami` and `cordon sql`: the API client.
 * Not built yet (issue 7); until then they say so instead of pretending. */
#include <stdio.h>

#include "common/cli.h"
#include "tools/cmds.h"

static int not_yet(const char *name)
{
	fprintf(stderr, "cordon: %s: not available in this build yet\n", name);
	return CMN_EXIT_USAGE;
}

int cmd_whoami(int argc, char **argv)
{
	(void)argc;
	return not_yet(argv[0]);
}

int cmd_sql(int argc, char **argv)
{
	(void)argc;
	return not_yet(argv[0]);
}
