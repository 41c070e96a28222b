/* netoverlay/gc.c — removing what overlays of crashed owners left.
 *
 * An owner holds flock on run_dir/job-<job> for the overlay's life, so a
 * record whose lock can be taken belongs to a dead owner (or one that just
 * destroyed it, which unlinks first). Its namespaces are held by fds only, so
 * they died with the owner unless a process still lives in one: those
 * processes are found by netns inode, confirmed by the never-reused netns
 * cookie (inode numbers are recycled), and killed through a pidfd (so a
 * recycled pid is never signalled). The grant's objects in the gateway netns
 * do not die with the owner: the recorded gateway is re-opened, checked to be
 * the same netns (inode and cookie, since /proc/PID/ns/net of a recycled pid
 * is another netns), and its cdn-<job> link and cordon_<job> table removed. */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "netoverlay/internal.h"

#define MAX_NS (OVL_MAX_NODES + 1)

struct record {
	char job[OVL_JOB_MAX + 1];
	unsigned long long ino[MAX_NS], cookie[MAX_NS];
	size_t ns_count;
	bool has_gw;
	unsigned long long gw_ino, gw_cookie;
	char gw_path[PATH_MAX];
};

static int parse_record(int fd, struct record *r)
{
	char buf[16384];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	memset(r, 0, sizeof(*r));
	char *save = NULL;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long a, b;
		int off = 0;
		if (sscanf(line, "job %11s", r->job) == 1)
			continue;
		if (sscanf(line, "ns %llu %llu", &a, &b) == 2 && r->ns_count < MAX_NS) {
			r->ino[r->ns_count] = a;
			r->cookie[r->ns_count++] = b;
		} else if (sscanf(line, "gateway %llu %llu %n", &a, &b, &off) == 2 && off > 0) {
			size_t len = strlen(line + off);
			if (len < sizeof(r->gw_path)) {
				memcpy(r->gw_path, line + off, len + 1);
				r->gw_ino = a;
				r->gw_cookie = b;
				r->has_gw = true;
			}
		}
	}
	return 0;
}

/* Is the netns at path the recorded one? */
static int same_ns(const char *path, unsigned long long ino, unsigned long long cookie, int origin,
		   int *out_fd)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	struct stat st;
	uint64_t c = 0;
	struct cmn_err e = CMN_ERR_INIT;
	if (fstat(fd, &st) < 0 || (unsigned long long)st.st_ino != ino ||
	    ns_cookie_of(fd, origin, &c, &e) < 0 || c != cookie) {
		close(fd);
		return e.code == CMN_EINTERNAL ? -1 : 0;
	}
	if (out_fd)
		*out_fd = fd;
	else
		close(fd);
	return 1;
}

static int kill_one(pid_t pid, const struct record *r, size_t k, int origin)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return 0;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	int killed = 0;
	int same = same_ns(path, r->ino[k], r->cookie[k], origin, NULL);
	if (same < 0)
		killed = -1;
	else if (same == 1 && syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) == 0) {
		/* Wait for the exit (pidfd readable) so the next pass neither
		 * finds nor counts it again; a zombie has left its namespaces. */
		struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
		poll(&pfd, 1, 5000);
		killed = 1;
	}
	close(pidfd);
	return killed;
}

/* One pass over /proc; returns the number of processes killed or -1. */
static int kill_pass(const struct record *r, int origin)
{
	DIR *d = opendir("/proc");
	if (!d)
		return -1;
	int killed = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		char path[300];
		snprintf(path, sizeof(path), "/proc/%s/ns/net", de->d_name);
		struct stat st;
		if (stat(path, &st) < 0)
			continue;
		for (size_t k = 0; k < r->ns_count; k++) {
			if ((unsigned long long)st.st_ino != r->ino[k])
				continue;
			int rc = kill_one((pid_t)strtol(de->d_name, NULL, 10), r, k, origin);
			if (rc < 0) {
				closedir(d);
				return -1;
			}
			killed += rc;
		}
	}
	closedir(d);
	return killed;
}

static int reap_record(const char *dir, const char *name, int fd, int origin,
		       struct ovl_gc_report *rep, struct cmn_err *err)
{
	struct record r;
	if (parse_record(fd, &r) < 0)
		return cmn_err_sys(err, "read %s/%s", dir, name);
	/* A process may fork while we scan: scan until a pass kills nobody. */
	for (int pass = 0; pass < 16; pass++) {
		int k = kill_pass(&r, origin);
		if (k < 0)
			return cmn_err_set(err, CMN_EINTERNAL, 0, "scan /proc for job %s", r.job);
		rep->processes += (unsigned)k;
		if (k == 0)
			break;
	}
	if (r.has_gw && job_valid(r.job)) {
		cleanup_close int gw = -1;
		int same = same_ns(r.gw_path, r.gw_ino, r.gw_cookie, origin, &gw);
		if (same < 0)
			return cmn_err_set(err, CMN_EINTERNAL, 0, "check gateway %s", r.gw_path);
		if (same == 1) {
			if (grant_remove_gateway(r.job, gw, origin, true, err) < 0)
				return cmn_err_wrap(err, "gc job %s", r.job);
			rep->gw_objects++;
		}
	}
	rep->overlays++;
	return 0;
}

/* Takes the lock of every stale file starting with prefix and handles it. */
static int sweep_dir(const char *dir, int origin, struct ovl_gc_report *rep, struct cmn_err *err)
{
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : cmn_err_sys(err, "opendir %s", dir);
	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		bool job =
		    strncmp(de->d_name, OVL_JOB_FILE_PREFIX, strlen(OVL_JOB_FILE_PREFIX)) == 0;
		bool lease =
		    strncmp(de->d_name, OVL_LEASE_FILE_PREFIX, strlen(OVL_LEASE_FILE_PREFIX)) == 0;
		if (!job && !lease)
			continue;
		int fd = -1;
		int held = lock_file(dir, de->d_name, &fd, err);
		if (held < 0) {
			rc = -1;
			break;
		}
		if (held == 0)
			continue; /* a live owner */
		if (job)
			rc = reap_record(dir, de->d_name, fd, origin, rep, err);
		if (rc == 0 && unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT)
			rc = cmn_err_sys(err, "unlink %s/%s", dir, de->d_name);
		close(fd);
	}
	closedir(d);
	return rc;
}

struct gw_names {
	char (*job)[OVL_JOB_MAX + 1];
	size_t count, cap;
};

static void add_job(struct gw_names *g, const char *job)
{
	if (!job_valid(job))
		return;
	for (size_t i = 0; i < g->count; i++) {
		if (strcmp(g->job[i], job) == 0)
			return;
	}
	if (g->count == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 16;
		void *p = reallocarray(g->job, cap, sizeof(*g->job));
		if (!p)
			return;
		g->job = p;
		g->cap = cap;
	}
	memcpy(g->job[g->count++], job, strlen(job) + 1);
}

static void link_name_cb(const char *name, void *arg)
{
	size_t n = strlen(OVL_GW_LINK_PREFIX);
	if (strncmp(name, OVL_GW_LINK_PREFIX, n) == 0)
		add_job(arg, name + n);
}

static int list_gateway(int gw, int origin, struct gw_names *g, struct cmn_err *err)
{
	struct nl_sock *sk = NULL;
	cleanup_free char *tables = NULL;
	if (ns_enter(gw, "gateway", err) < 0)
		return -1;
	int rc = lk_socket(&sk, err);
	if (rc == 0)
		rc = lk_each_name(sk, link_name_cb, g, err);
	lk_socket_free(sk);
	if (rc == 0)
		rc = nft_run_in(-1, origin, "list tables ip\n", &tables, err);
	if (ns_return(origin, err) < 0)
		return -1;
	if (rc < 0)
		return -1;
	const char *needle = "table ip " OVL_GW_TABLE_PREFIX;
	for (const char *p = strstr(tables, needle); p; p = strstr(p, needle)) {
		p += strlen(needle);
		char job[OVL_JOB_MAX + 2];
		size_t len = strcspn(p, " \n{");
		if (len < sizeof(job)) {
			memcpy(job, p, len);
			job[len] = '\0';
			add_job(g, job);
		}
	}
	return 0;
}

/* Objects in the gateway whose job has no live owner in run_dir. */
static int sweep_gateway(const char *dir, const char *path, int origin, struct ovl_gc_report *rep,
			 struct cmn_err *err)
{
	cleanup_close int gw = -1;
	if (ns_open_path(path, &gw, err) < 0)
		return -1;
	struct gw_names g = { 0 };
	int rc = list_gateway(gw, origin, &g, err);
	if (rc == 0)
		rc = run_dir_ensure(dir, err);
	for (size_t i = 0; rc == 0 && i < g.count; i++) {
		char name[64];
		int fd = -1;
		snprintf(name, sizeof(name), OVL_JOB_FILE_PREFIX "%s", g.job[i]);
		int held = lock_file(dir, name, &fd, err);
		if (held <= 0) {
			rc = held;
			continue;
		}
		rc = grant_remove_gateway(g.job[i], gw, origin, true, err);
		if (rc == 0)
			rep->gw_objects++;
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%s/%s", dir, name);
		unlink(p);
		close(fd);
	}
	free(g.job);
	return rc;
}

int ovl_gc(const char *run_dir, const char *gateway_netns, struct ovl_gc_report *report,
	   struct cmn_err *err)
{
	struct ovl_gc_report local = { 0 };
	struct ovl_gc_report *rep = report ? report : &local;
	memset(rep, 0, sizeof(*rep));
	const char *dir = run_dir ? run_dir : OVL_DEFAULT_RUN_DIR;
	cleanup_close int origin = -1;
	if (ns_open_current(&origin, err) < 0)
		return cmn_err_wrap(err, "gc");
	if (sweep_dir(dir, origin, rep, err) < 0)
		return cmn_err_wrap(err, "gc %s", dir);
	if (gateway_netns && sweep_gateway(dir, gateway_netns, origin, rep, err) < 0)
		return cmn_err_wrap(err, "gc gateway %s", gateway_netns);
	return 0;
}
