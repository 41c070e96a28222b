/* runtime/ — cordon-node, the code that runs inside a container.
 *
 * Responsibility: the Lua language sandbox (the inner wall), the UDF ABI,
 * and the execution of one stage of a job as SQLite SQL over virtual tables.
 * Everything here must assume the code it runs is hostile.
 */
#ifndef RT_RUNTIME_H
#define RT_RUNTIME_H

#include <stdio.h>

void rt_print_deps(FILE *out);

#endif
