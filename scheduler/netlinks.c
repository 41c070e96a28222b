/* scheduler/netlinks.c — network links in the catalog and what a job gets
 * from one; see netlinks.h. The operator statements' handler is in
 * netlinks_stmt.c. */
#define _GNU_SOURCE
#include "scheduler/netlinks.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "scheduler/authz.h"
#include "scheduler/dbutil.h"

static const struct sch_migration migrations[] = {
	{ 1, "CREATE TABLE netlinks (name TEXT PRIMARY KEY COLLATE NOCASE,"
	     " creator TEXT NOT NULL, created_at INTEGER NOT NULL);"
	     "CREATE TABLE netlink_dests (link TEXT NOT NULL COLLATE NOCASE"
	     "  REFERENCES netlinks (name) ON DELETE CASCADE,"
	     " position INTEGER NOT NULL, dest TEXT NOT NULL, PRIMARY KEY (link, position));"
	     "CREATE TABLE netlink_projects (link TEXT NOT NULL COLLATE NOCASE"
	     "  REFERENCES netlinks (name) ON DELETE CASCADE,"
	     " project TEXT NOT NULL, allowed_by TEXT NOT NULL, allowed_at INTEGER NOT NULL,"
	     " PRIMARY KEY (link, project));" },
};

/* A deleted project takes its permissions with it (the authz trigger drops
 * its registered objects), so a re-created project of the same name starts
 * without links. The projects table belongs to the API; like authz, the
 * trigger is made whenever that table exists. */
static const char project_trigger[] =
    "CREATE TRIGGER IF NOT EXISTS netlinks_project_deleted AFTER DELETE ON projects BEGIN"
    " DELETE FROM netlink_projects WHERE project = OLD.name; END";

static int db_fail(sqlite3 *db, struct cmn_err *err)
{
	return cmn_err_set(err, CMN_EIO, 0, "catalog: %s", sqlite3_errmsg(db));
}

/* 1 when a row exists, 0 when not, -1 on error. */
static int exists(sqlite3 *db, struct cmn_err *err, const char *sql, const char *a, const char *b)
{
	sqlite3_stmt *st = sch_db_prepare(db, err, sql, b ? "ss" : "s", a, b);
	int rc;

	if (!st)
		return -1;
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : db_fail(db, err);
}

int sch_netlinks_migrate(struct sch_catalog *cat, struct cmn_err *err)
{
	sqlite3 *db = sch_catalog_db(cat);
	int has_projects;

	if (sch_catalog_migrate(cat, "netlinks", migrations, CMN_ARRAY_SIZE(migrations), err) < 0)
		return -1;
	has_projects =
	    exists(db, err, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
		   "projects", NULL);
	if (has_projects < 0)
		return -1;
	if (has_projects && sqlite3_exec(db, project_trigger, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(db, err);
	return 0;
}

static bool name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > SCH_NETLINK_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return false;
	}
	return true;
}

static void dest_format(const struct ovl_dest *d, char *out, size_t outlen)
{
	char addr[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &d->net, addr, sizeof(addr));
	if (d->port_lo == d->port_hi)
		snprintf(out, outlen, "%s/%u:%u", addr, d->prefix, d->port_lo);
	else
		snprintf(out, outlen, "%s/%u:%u-%u", addr, d->prefix, d->port_lo, d->port_hi);
}

/* A destination as the overlay will enforce it: TCP to a CIDR and a port
 * range, port 0 excluded (ovl_grant refuses it; better to say so now). */
static int dest_check(const char *text, struct ovl_dest *d, struct cmn_err *err)
{
	if (ovl_dest_parse(text, d, err) < 0)
		return -1;
	if (d->port_lo == 0)
		return cmn_err_set(err, CMN_EINVAL, 0, "destination '%s': port 0 is not a port",
				   text);
	return 0;
}

static int savepoint(sqlite3 *db, const char *sql, struct cmn_err *err)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : db_fail(db, err);
}

static int savepoint_end(sqlite3 *db, int rc)
{
	sqlite3_exec(db, rc == 0 ? "RELEASE netlinks" : "ROLLBACK TO netlinks; RELEASE netlinks",
		     NULL, NULL, NULL);
	return rc;
}

static int insert_dests(sqlite3 *db, const char *name, const char *const *dests, size_t n,
			struct cmn_err *err)
{
	for (size_t i = 0; i < n; i++) {
		struct ovl_dest d;
		char canon[64];
		if (dest_check(dests[i], &d, err) < 0)
			return -1;
		dest_format(&d, canon, sizeof(canon));
		if (sch_db_run(
			db, err,
			"INSERT INTO netlink_dests (link, position, dest) VALUES (?1, ?2, ?3)",
			"sis", name, (int64_t)i, canon) < 0)
			return -1;
	}
	return 0;
}

int sch_netlink_create(struct sch_catalog *cat, const char *name, const char *const *dests,
		       size_t n, const char *by, struct cmn_err *err)
{
	sqlite3 *db = sch_catalog_db(cat);
	int rc;

	if (!name_ok(name))
		return cmn_err_set(err, CMN_EINVAL, 0,
				   "network link name '%.80s' is not 1..%d of [A-Za-z0-9_]", name,
				   SCH_NETLINK_NAME_MAX);
	if (n < 1 || n > OVL_MAX_DESTS)
		return cmn_err_set(err, CMN_EINVAL, 0,
				   "network link '%s' has %zu destinations (1..%d)", name, n,
				   OVL_MAX_DESTS);
	rc = exists(db, err, "SELECT 1 FROM netlinks WHERE name = ?1", name, NULL);
	if (rc != 0)
		return rc < 0 ? -1
			      : cmn_err_set(err, CMN_EEXIST, 0, "network link '%s' already exists",
					    name);
	if (savepoint(db, "SAVEPOINT netlinks", err) < 0)
		return -1;
	rc = sch_db_run(db, err,
			"INSERT INTO netlinks (name, creator, created_at) VALUES (?1, ?2, ?3)",
			"ssi", name, by, (int64_t)time(NULL)) < 0
		 ? -1
		 : insert_dests(db, name, dests, n, err);
	return savepoint_end(db, rc);
}

/* Projects allowed to use link (caller frees each and the array). */
static int allowed_projects(sqlite3 *db, const char *link, char ***out, size_t *n,
			    struct cmn_err *err)
{
	sqlite3_stmt *st = sch_db_prepare(
	    db, err, "SELECT project FROM netlink_projects WHERE link = ?1 ORDER BY project", "s",
	    link);
	char **v = NULL;
	int rc;

	*out = NULL;
	*n = 0;
	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char **nv = realloc(v, (*n + 1) * sizeof(*v));
		char *p = strdup((const char *)sqlite3_column_text(st, 0));
		if (!nv || !p) {
			free(nv ? nv : v);
			free(p);
			v = NULL;
			rc = SQLITE_NOMEM;
			break;
		}
		v = nv;
		v[(*n)++] = p;
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE) {
		*out = v;
		return 0;
	}
	for (size_t i = 0; v && i < *n; i++)
		free(v[i]);
	free(v);
	*n = 0;
	return rc == SQLITE_NOMEM ? cmn_err_set(err, CMN_ENOMEM, 0, "out of memory")
				  : db_fail(db, err);
}

/* The authz registration of an allowed link; missing is fine (its project
 * was deleted and re-created, which dropped it already). */
static int unregister(struct sch_catalog *cat, const char *project, const char *link,
		      struct cmn_err *err)
{
	if (sch_authz_object_drop(cat, project, SCH_OBJ_NETWORKLINK, link, err) == 0)
		return 0;
	if (err && err->code == CMN_ENOTFOUND) {
		cmn_err_clear(err);
		return 0;
	}
	return -1;
}

int sch_netlink_drop(struct sch_catalog *cat, const char *name, struct cmn_err *err)
{
	sqlite3 *db = sch_catalog_db(cat);
	char **projects = NULL;
	size_t n = 0;
	int rc = exists(db, err, "SELECT 1 FROM netlinks WHERE name = ?1", name, NULL);

	if (rc <= 0)
		return rc < 0 ? -1
			      : cmn_err_set(err, CMN_ENOTFOUND, 0,
					    "network link '%s' does not exist", name);
	if (allowed_projects(db, name, &projects, &n, err) < 0)
		return -1;
	rc = savepoint(db, "SAVEPOINT netlinks", err);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = unregister(cat, projects[i], name, err);
	if (rc == 0 && sch_db_run(db, err, "DELETE FROM netlinks WHERE name = ?1", "s", name) < 0)
		rc = -1;
	for (size_t i = 0; i < n; i++)
		free(projects[i]);
	free(projects);
	return savepoint_end(db, rc);
}

/* The canonical spelling of the link's name (names ignore case). */
static int link_name(sqlite3 *db, const char *link, char *out, size_t outlen, struct cmn_err *err)
{
	sqlite3_stmt *st =
	    sch_db_prepare(db, err, "SELECT name FROM netlinks WHERE name = ?1", "s", link);
	int rc;

	if (!st)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		snprintf(out, outlen, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return cmn_err_set(err, CMN_ENOTFOUND, 0, "network link '%s' does not exist", link);
	return rc == SQLITE_ROW ? 0 : db_fail(db, err);
}

int sch_netlink_allow(struct sch_catalog *cat, const char *link, const char *project,
		      const char *by, struct cmn_err *err)
{
	sqlite3 *db = sch_catalog_db(cat);
	char name[SCH_NETLINK_NAME_MAX + 1];
	int rc;

	if (link_name(db, link, name, sizeof(name), err) < 0)
		return -1;
	rc = exists(db, err, "SELECT 1 FROM projects WHERE name = ?1", project, NULL);
	if (rc <= 0)
		return rc < 0 ? -1
			      : cmn_err_set(err, CMN_ENOTFOUND, 0, "project '%s' does not exist",
					    project);
	if (savepoint(db, "SAVEPOINT netlinks", err) < 0)
		return -1;
	rc = sch_db_run(db, err,
			"INSERT OR IGNORE INTO netlink_projects (link, project, allowed_by,"
			" allowed_at) VALUES (?1, ?2, ?3, ?4)",
			"sssi", name, project, by, (int64_t)time(NULL)) < 0
		 ? -1
		 : 0;
	if (rc == 0 && sch_authz_object_create(cat, project, SCH_OBJ_NETWORKLINK, name, by, false,
					       NULL, 0, err) < 0) {
		/* allowed already: keep the registration and its ACL entries */
		if (err && err->code == CMN_EEXIST)
			cmn_err_clear(err);
		else
			rc = -1;
	}
	return savepoint_end(db, rc);
}

int sch_netlink_disallow(struct sch_catalog *cat, const char *link, const char *project,
			 struct cmn_err *err)
{
	sqlite3 *db = sch_catalog_db(cat);
	char name[SCH_NETLINK_NAME_MAX + 1];
	int rc;

	if (link_name(db, link, name, sizeof(name), err) < 0)
		return -1;
	if (savepoint(db, "SAVEPOINT netlinks", err) < 0)
		return -1;
	rc = sch_db_run(db, err, "DELETE FROM netlink_projects WHERE link = ?1 AND project = ?2",
			"ss", name, project);
	if (rc == 0)
		rc = cmn_err_set(err, CMN_ENOTFOUND, 0,
				 "project '%s' is not allowed to use network link '%s'", project,
				 name);
	else if (rc > 0)
		rc = unregister(cat, project, name, err);
	return savepoint_end(db, rc < 0 ? -1 : 0);
}

int sch_netlinks_show(struct sch_catalog *cat, json_t **out, struct cmn_err *err)
{
	sqlite3 *db = sch_catalog_db(cat);
	sqlite3_stmt *st = sch_db_prepare(
	    db, err,
	    "SELECT l.name,"
	    " (SELECT group_concat(dest, ',') FROM (SELECT dest FROM netlink_dests"
	    "   WHERE link = l.name ORDER BY position)),"
	    " (SELECT group_concat(project, ',') FROM (SELECT project FROM netlink_projects"
	    "   WHERE link = l.name ORDER BY project)),"
	    " l.creator, l.created_at FROM netlinks l ORDER BY l.name",
	    NULL);
	json_t *rows;
	int rc;

	*out = NULL;
	if (!st)
		return -1;
	*out = json_pack("{s:[sssss], s:[]}", "columns", "name", "destinations", "projects",
			 "creator", "created_at", "rows");
	rows = json_object_get(*out, "rows");
	if (!rows) {
		sqlite3_finalize(st);
		json_decref(*out);
		*out = NULL;
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *projects = (const char *)sqlite3_column_text(st, 2);
		json_array_append_new(rows,
				      json_pack("[sssss]", (const char *)sqlite3_column_text(st, 0),
						(const char *)sqlite3_column_text(st, 1),
						projects ? projects : "",
						(const char *)sqlite3_column_text(st, 3),
						(const char *)sqlite3_column_text(st, 4)));
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		json_decref(*out);
		*out = NULL;
		return db_fail(db, err);
	}
	return 0;
}

int sch_netlink_destinations(struct sch_catalog *cat, const char *link, struct ovl_dest *out,
			     size_t max, size_t *n, struct cmn_err *err)
{
	sqlite3 *db = sch_catalog_db(cat);
	char name[SCH_NETLINK_NAME_MAX + 1];
	sqlite3_stmt *st;
	int rc;

	*n = 0;
	if (link_name(db, link, name, sizeof(name), err) < 0)
		return -1;
	st = sch_db_prepare(
	    db, err, "SELECT dest FROM netlink_dests WHERE link = ?1 ORDER BY position", "s", name);
	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(st, 0);
		if (*n == max) {
			sqlite3_finalize(st);
			return cmn_err_set(err, CMN_ELIMIT, 0,
					   "network link '%s' has more than %zu destinations", name,
					   max);
		}
		if (dest_check(text, &out[*n], err) < 0) {
			sqlite3_finalize(st);
			return cmn_err_wrap(err, "network link '%s' in the catalog", name);
		}
		(*n)++;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_fail(db, err);
}

int sch_netlink_check_allowed(struct sch_catalog *cat, const char *link, const char *project,
			      struct cmn_err *err)
{
	sqlite3 *db = sch_catalog_db(cat);
	int rc = exists(db, err, "SELECT 1 FROM netlink_projects WHERE link = ?1 AND project = ?2",
			link, project);

	if (rc < 0)
		return -1;
	if (rc)
		return 0;
	rc = exists(db, err, "SELECT 1 FROM netlinks WHERE name = ?1", link, NULL);
	if (rc < 0)
		return -1;
	return cmn_err_set(err, CMN_EDENIED, 0,
			   rc ? "project '%s' is no longer allowed to use network link '%s'"
				" (rule: networklink_not_allowed)"
			      : "project '%s': network link '%s' was dropped (rule: "
				"networklink_not_found)",
			   project, link);
}

int sch_netlinks_apply(struct ovl_overlay *ov, struct sch_catalog *cat, const char *link,
		       const char *gateway_netns, struct cmn_err *err)
{
	struct ovl_dest dests[OVL_MAX_DESTS];
	size_t n = 0;

	if (!gateway_netns || !*gateway_netns)
		return cmn_err_set(err, CMN_EUNAVAIL, 0,
				   "network links are not configured on this server"
				   " (cordond --netlink-gateway)");
	if (sch_netlink_destinations(cat, link, dests, CMN_ARRAY_SIZE(dests), &n, err) < 0)
		return cmn_err_wrap(err, "network link '%s'", link);
	if (ovl_grant(ov, gateway_netns, dests, n, err) < 0)
		return cmn_err_wrap(err, "network link '%s': grant through %s", link,
				    gateway_netns);
	return 0;
}

int sch_netlinks_check_gateway(const char *path, struct cmn_err *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	int type;

	if (fd < 0)
		return cmn_err_sys(err, "open %s", path);
	type = ioctl(fd, NS_GET_NSTYPE);
	if (type < 0)
		return cmn_err_sys(err, "ioctl NS_GET_NSTYPE %s (not a namespace?)", path);
	if (type != CLONE_NEWNET)
		return cmn_err_set(err, CMN_EINVAL, 0, "%s is not a network namespace", path);
	return 0;
}
