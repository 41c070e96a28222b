/* scheduler/netlinks.h — network links (SQL.md "Operator statements"):
 * CREATE/DROP NETWORKLINK, ALLOW/DISALLOW PROJECT p TO USE NETWORKLINK,
 * SHOW NETWORKLINKS, and what a job that sets
 * `odps.session.networklink=<link>` gets: an overlay grant (ovl_grant) to
 * exactly the link's destinations through the gateway netns cordond was
 * configured with (`cordond --netlink-gateway PATH`).
 *
 * Catalog component "netlinks" (owned here).
 */
#ifndef SCH_NETLINKS_H
#define SCH_NETLINKS_H

#include <stddef.h>

#include "common/err.h"
#include "netoverlay/netoverlay.h"
#include "scheduler/catalog.h"

int sch_netlinks_migrate(struct sch_catalog *cat, struct cmn_err *err);

/* The destinations of link (at most max). CMN_ENOTFOUND when no such link.
 * Authorization (odps:Use, project allowed) was decided by sch_job_compile. */
int sch_netlink_destinations(struct sch_catalog *cat, const char *link, struct ovl_dest *out,
			     size_t max, size_t *n, struct cmn_err *err);

#endif
