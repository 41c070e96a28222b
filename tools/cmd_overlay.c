/* tools/cmd_overlay.c — `cordon overlay`. Not built yet (issue 5); until then it
 * says so instead of pretending. */
#include <stdio.h>

#include "common/cli.h"
#include "tools/cmds.h"

int cmd_overlay(int argc, char **argv)
{
	(void)argc;
	fprintf(stderr, "cordon: %s: not available in this build yet\n", argv[0]);
	return CMN_EXIT_USAGE;
}
