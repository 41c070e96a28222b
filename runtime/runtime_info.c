/* runtime/runtime_info.c — what the node runtime was built against. */
#include "runtime/runtime.h"

#include <lua.h>
#include <sqlite3.h>

void rt_print_deps(FILE *out)
{
	fprintf(out, "  %s\n  SQLite %s\n", LUA_RELEASE, sqlite3_libversion());
}
