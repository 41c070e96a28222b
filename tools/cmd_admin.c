/* tools/cmd_admin.c — `cordon admin ...`, operator commands. Subcommands
 * other than `storage` are not built yet (issue 7). */
#include <stdio.h>
#include <string.h>

#include "common/cli.h"
#include "tools/cmds.h"

int cmd_admin(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "storage") == 0)
		return cmd_admin_storage(argc - 1, argv + 1);
	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		fprintf(argc < 2 ? stderr : stdout,
			"usage: cordon admin {account|user|role|key|project|storage} ...\n");
		return argc < 2 ? CMN_EXIT_USAGE : CMN_EXIT_OK;
	}
	fprintf(stderr, "cordon: admin %s: not available in this build yet\n", argv[1]);
	return CMN_EXIT_USAGE;
}
