/* common/cli.h — what every Cordon binary's command line shares:
 * --help/--version handling and the exit codes. */
#ifndef CMN_CLI_H
#define CMN_CLI_H

#include <stdio.h>

/* Exit codes shared by the binaries (a subcommand may define more, >= 3). */
enum { CMN_EXIT_OK = 0, CMN_EXIT_FAIL = 1, CMN_EXIT_USAGE = 2 };

/* Prints "PROG VERSION" and the build's dependency versions. */
void cmn_print_version(FILE *out, const char *prog);

#endif
