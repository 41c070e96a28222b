/* scheduler/netlinks.h — network links (SQL.md "Operator statements"):
 * CREATE/DROP NETWORKLINK, ALLOW/DISALLOW PROJECT p TO USE NETWORKLINK,
 * SHOW NETWORKLINKS, and what a job that sets
 * `odps.session.networklink=<link>` gets: an overlay grant (ovl_grant) to
 * exactly the link's destinations through the gateway netns cordond was
 * configured with (`cordond --netlink-gateway PATH`).
 *
 * Catalog component "netlinks" (owned here):
 *   netlinks(name PRIMARY KEY COLLATE NOCASE, creator, created_at)
 *   netlink_dests(link -> netlinks ON DELETE CASCADE, position, dest)
 *                                  -- dest canonical "A.B.C.D/N:LO[-HI]"
 *   netlink_projects(link -> netlinks ON DELETE CASCADE, project, allowed_by,
 *                    allowed_at)   -- rows go with their project (trigger)
 * ALLOW also registers the link as an authorization object of type
 * networklink in the project (sch_authz_object_create), which is what
 * sch_authz_decide() requires before it decides odps:Use on it; DISALLOW and
 * DROP remove that registration (and with it every ACL entry on the link).
 *
 * Who may do what (docs/security-model.md "Network links"): the operator
 * statements are decided as operator-only actions on acs:odps:*:networklinks/l
 * (only super_admin principals pass); a job's odps:Use on
 * acs:odps:*:projects/p/networklinks/l needs the link allowed to p AND the
 * caller's own permission in p (owner, ACL `GRANT Use ON NETWORKLINK l`,
 * policy Allow).
 */
#ifndef SCH_NETLINKS_H
#define SCH_NETLINKS_H

#include <jansson.h>
#include <stddef.h>

#include "common/err.h"
#include "netoverlay/netoverlay.h"
#include "scheduler/catalog.h"
#include "scheduler/sql_ast.h"
#include "scheduler/stmt.h"

#define SCH_NETLINK_NAME_MAX 64 /* [A-Za-z0-9_]{1,64} */

int sch_netlinks_migrate(struct sch_catalog *cat, struct cmn_err *err);

/* The destinations of link (at most max). CMN_ENOTFOUND when no such link.
 * Authorization (odps:Use, project allowed) was decided by sch_job_compile. */
int sch_netlink_destinations(struct sch_catalog *cat, const char *link, struct ovl_dest *out,
			     size_t max, size_t *n, struct cmn_err *err);

/* What the job runner calls right after ovl_create when the job set
 * odps.session.networklink: looks up the link's destinations and grants
 * exactly those to the overlay through gateway_netns (a netns path; the
 * api config's netlink_gateway). gateway_netns NULL: CMN_EUNAVAIL "network
 * links are not configured on this server". A link dropped since the job
 * was authorized: CMN_ENOTFOUND. */
int sch_netlinks_apply(struct ovl_overlay *ov, struct sch_catalog *cat, const char *link,
		       const char *gateway_netns, struct cmn_err *err);

/* Whether project may still use link now (the operator may have run
 * DISALLOW or DROP since the job was authorized, while it waited in the
 * queue): 0 when allowed; CMN_EDENIED naming the rule otherwise. The runner
 * calls it right before sch_netlinks_apply, under the same catalog lock. */
int sch_netlink_check_allowed(struct sch_catalog *cat, const char *link, const char *project,
			      struct cmn_err *err);

/* cordond --netlink-gateway PATH: PATH must open as a network namespace
 * (nsfs, NS_GET_NSTYPE == CLONE_NEWNET). */
int sch_netlinks_check_gateway(const char *path, struct cmn_err *err);

/* ---- catalog changes (the operator statements; callers decide first) ----
 * Each runs in a savepoint of its own, so it is atomic inside the caller's
 * transaction too. by: the principal name recorded. */
/* dests as written ("10.1.0.0/16:443", "192.0.2.7:8000-8080"), 1..OVL_MAX_DESTS,
 * each checked by ovl_dest_parse. CMN_EEXIST when the name is taken. */
int sch_netlink_create(struct sch_catalog *cat, const char *name, const char *const *dests,
		       size_t n, const char *by, struct cmn_err *err);
/* Drops the link, every project's permission and every ACL entry on it.
 * CMN_ENOTFOUND when there is no such link. */
int sch_netlink_drop(struct sch_catalog *cat, const char *name, struct cmn_err *err);
/* CMN_ENOTFOUND for an unknown link or project. Allowing twice is a no-op. */
int sch_netlink_allow(struct sch_catalog *cat, const char *link, const char *project,
		      const char *by, struct cmn_err *err);
/* CMN_ENOTFOUND when the project was not allowed to use the link. */
int sch_netlink_disallow(struct sch_catalog *cat, const char *link, const char *project,
			 struct cmn_err *err);
/* {"columns": ["name", "destinations", "projects", "creator", "created_at"],
 *  "rows": [...]} ordered by name; destinations and projects comma-separated. */
int sch_netlinks_show(struct sch_catalog *cat, json_t **out, struct cmn_err *err);

/* The action an operator statement is decided as (odps:CreateNetworklink,
 * odps:Drop, odps:ManageNetworklinks, odps:List), NULL for other kinds. The
 * authz handler's EXPLAIN PERMISSION uses it too. */
const char *sch_netlinks_stmt_action(enum sch_sql_kind kind);

/* sch_stmt handler (stmt.h) of the operator statements. Takes a text whose
 * statements are all network-link statements (a mix with others is
 * refused), decides each (super_admin only; audited as Authorize), runs them
 * in one transaction and audits each change after the commit
 * (CreateNetworkLink, DropNetworkLink, AllowNetworkLink, DisallowNetworkLink).
 * Returns 0 for texts that hold none. */
int sch_netlinks_stmt_handler(struct sch_stmt_ctx *ctx, const char *sql, size_t len,
			      json_t **result, struct cmn_err *err);

#endif
