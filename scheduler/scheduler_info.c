/* scheduler/scheduler_info.c — what cordond was built against. */
#include "scheduler/scheduler.h"

#include <event2/event.h>
#include <jansson.h>
#include <sqlite3.h>

void sch_print_deps(FILE *out)
{
	fprintf(out, "  libevent %s\n  SQLite %s\n  jansson %s\n", event_get_version(),
		sqlite3_libversion(), JANSSON_VERSION);
}
