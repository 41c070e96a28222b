/* sandbox/cgroup.c — memory, pids and CPU accounting of one container.
 *
 * cgroup v2 when the unified hierarchy has the memory and pids controllers,
 * cgroup v1 otherwise (hybrid hosts mount v2 without controllers). Each
 * container gets its own cgroup under a "cordon-sbx" dir inside the caller's
 * own cgroup (so a caller confined by its operator stays confined):
 *   v2: <v2 mount><self>/cordon-sbx/<name>
 *   v1: <memory mount><self memory path>/cordon-sbx/<name>, same for pids, cpuacct
 * <name> is "<caller pid>-<caller start time>-<sequence>": a dir whose
 * caller is gone (or whose pid now belongs to another process) is a
 * leftover of a killed run, and sbx_cgroup_gc() kills and removes it.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "sandbox/internal.h"

#define BASE_NAME "cordon-sbx"

static const char *const v1_names[3] = { "memory", "pids", "cpuacct" };

static int read_small(const char *path, char *buf, size_t len)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, len - 1);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return (int)n;
}

static int write_file(const char *dir, const char *file, const char *text, struct cmn_err *err)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return cmn_err_sys(err, "open %s", path);
	size_t len = strlen(text);
	if (write(fd, text, len) != (ssize_t)len)
		return cmn_err_sys(err, "write %s (%s)", path, text);
	return 0;
}

/* Whether the comma-separated list holds name. */
static bool in_list(const char *list, const char *name)
{
	size_t len = strlen(name);
	for (const char *tok = list; *tok;) {
		size_t n = strcspn(tok, ",");
		if (n == len && strncmp(tok, name, n) == 0)
			return true;
		tok += n + (tok[n] == ',');
	}
	return false;
}

/* Where the hierarchies are: index 3 is v2, 0-2 the v1 controllers of
 * v1_names. mnt[] from /proc/self/mountinfo, self[] (the caller's own
 * cgroup, "" for the root) from /proc/self/cgroup; each read once. */
struct places {
	char mnt[4][PATH_MAX / 4];
	char self[4][PATH_MAX / 4];
	bool have_mnt[4], have_self[4];
};

static void read_mounts(struct places *pl, const char *mountinfo)
{
	cleanup_fclose FILE *f = fopen(mountinfo, "re");
	char line[2048];
	while (f && fgets(line, sizeof(line), f)) {
		char mnt[1024], type[64], opts[512];
		const char *sep = strstr(line, " - ");
		if (!sep || sscanf(line, "%*s %*s %*s %*s %1023s", mnt) != 1 ||
		    sscanf(sep + 3, "%63s %*s %511s", type, opts) != 2)
			continue;
		for (int i = 0; i < 4; i++) {
			bool hit = i == 3
				       ? strcmp(type, "cgroup2") == 0
				       : strcmp(type, "cgroup") == 0 && in_list(opts, v1_names[i]);
			if (hit && !pl->have_mnt[i]) {
				snprintf(pl->mnt[i], sizeof(pl->mnt[i]), "%s", mnt);
				pl->have_mnt[i] = true;
			}
		}
	}
}

static void read_self(struct places *pl, const char *self_cgroup)
{
	cleanup_fclose FILE *f = fopen(self_cgroup, "re");
	char line[1024];
	while (f && fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = '\0';
		c2[1 + strcspn(c2 + 1, "\n")] = '\0';
		const char *path = strcmp(c2 + 1, "/") == 0 ? "" : c2 + 1;
		for (int i = 0; i < 4; i++) {
			bool hit = i == 3 ? c1[1] == '\0' : in_list(c1 + 1, v1_names[i]);
			if (hit && !pl->have_self[i]) {
				snprintf(pl->self[i], sizeof(pl->self[i]), "%s", path);
				pl->have_self[i] = true;
			}
		}
	}
}

static bool v2_has_controllers(const char *mnt, const char *self)
{
	char path[PATH_MAX], buf[512];
	snprintf(path, sizeof(path), "%s%s/cgroup.controllers", mnt, self);
	if (read_small(path, buf, sizeof(buf)) < 0)
		return false;
	return strstr(buf, "memory") && strstr(buf, "pids");
}

int sbx_cgroup_find_bases(const char *mountinfo, const char *self_cgroup,
			  struct sbx_cgroup_bases *h, struct cmn_err *err)
{
	struct places pl;
	memset(h, 0, sizeof(*h));
	memset(&pl, 0, sizeof(pl));
	read_mounts(&pl, mountinfo);
	read_self(&pl, self_cgroup);
	if (pl.have_mnt[3] && pl.have_self[3] && v2_has_controllers(pl.mnt[3], pl.self[3])) {
		snprintf(h->v2, sizeof(h->v2), "%.500s%.400s/" BASE_NAME, pl.mnt[3], pl.self[3]);
		return 0;
	}
	for (int i = 0; i < 3; i++) {
		if (!pl.have_mnt[i] || !pl.have_self[i])
			return cmn_err_set(err, CMN_EUNAVAIL, 0,
					   "cgroup: no v2 controllers and no v1 %s hierarchy",
					   v1_names[i]);
		snprintf(h->v1[i], sizeof(h->v1[i]), "%.500s%.400s/" BASE_NAME, pl.mnt[i],
			 pl.self[i]);
	}
	return 0;
}

/* The hierarchy is looked up once per process: parsing mountinfo and
 * /proc/self/cgroup on every start costs more than the rest of the cgroup
 * work (a caller that moves itself to another cgroup keeps the first). */
static int find_hierarchy(struct sbx_cgroup_bases *h, struct cmn_err *err)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static struct sbx_cgroup_bases cached;
	static bool found;
	int rc = 0;
	pthread_mutex_lock(&lock);
	if (!found && (rc = sbx_cgroup_find_bases("/proc/self/mountinfo", "/proc/self/cgroup",
						  &cached, err)) == 0)
		found = true;
	*h = cached;
	pthread_mutex_unlock(&lock);
	return rc;
}

/* v2: controllers must be enabled in every parent's subtree_control; a
 * parent holding processes refuses (EBUSY): the caller must then run in a
 * delegated leaf of its own. cpu is optional (cpu.stat, which the CPU limit
 * reads, exists without it). */
static int enable_controllers(const char *dir, struct cmn_err *err)
{
	if (write_file(dir, "cgroup.subtree_control", "+memory +pids", err) < 0)
		return -1;
	write_file(dir, "cgroup.subtree_control", "+cpu", NULL);
	return 0;
}

static int v2_prepare(const char *base, struct cmn_err *err)
{
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%s", base);
	*strrchr(parent, '/') = '\0';
	if (enable_controllers(parent, err) < 0)
		return cmn_err_wrap(err, "cgroup v2 (run cordon in a delegated cgroup)");
	if (mkdir(base, 0755) < 0 && errno != EEXIST)
		return cmn_err_sys(err, "mkdir %s", base);
	return enable_controllers(base, err);
}

static unsigned long long proc_start_time(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_small(path, buf, sizeof(buf)) < 0)
		return 0;
	const char *p = strrchr(buf, ')');
	unsigned long long start = 0;
	/* Field 22; after ") " come fields 3.. */
	for (int field = 2; p && *p && field < 22; p++) {
		if (*p == ' ')
			field++;
		if (field == 22) {
			start = strtoull(p + 1, NULL, 10);
			break;
		}
	}
	return start;
}

static void kill_procs(const char *dir)
{
	char path[PATH_MAX], buf[4096];
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	if (read_small(path, buf, sizeof(buf)) <= 0)
		return;
	for (char *p = buf; *p;) {
		char *end;
		long pid = strtol(p, &end, 10);
		if (end == p)
			break;
		if (pid > 1)
			kill((pid_t)pid, SIGKILL);
		p = end + (*end == '\n');
	}
}

static int remove_dir(const char *dir, struct cmn_err *err)
{
	for (int attempt = 0; attempt < 200; attempt++) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return 0;
		if (errno != EBUSY)
			break;
		kill_procs(dir);
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	return cmn_err_sys(err, "rmdir %s", dir);
}

static void gc_base(const char *base)
{
	DIR *d = opendir(base);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		int pid = 0;
		unsigned long long start = 0;
		if (sscanf(de->d_name, "%d-%llu-", &pid, &start) != 2)
			continue;
		if (pid == getpid() || proc_start_time(pid) == start)
			continue; /* its caller still runs */
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%s/%s", base, de->d_name);
		kill_procs(dir);
		remove_dir(dir, NULL);
	}
	closedir(d);
}

/* On the first start of a process (a restarted cordond, every CLI run) and
 * then at most every GC_INTERVAL: the scan reads /proc/<pid>/stat of every
 * other caller's containers, which a busy cordond should not do per start. */
#define GC_INTERVAL_NS (10ULL * 1000000000ULL)

int sbx_cgroup_gc(struct cmn_err *err)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static uint64_t last;
	uint64_t now = sbx_now_ns();
	pthread_mutex_lock(&lock);
	bool due = last == 0 || now - last >= GC_INTERVAL_NS;
	if (due)
		last = now;
	pthread_mutex_unlock(&lock);
	struct sbx_cgroup_bases h;
	if (find_hierarchy(&h, err) < 0)
		return -1;
	if (!due)
		return 0;
	if (h.v2[0])
		gc_base(h.v2);
	for (int i = 0; !h.v2[0] && i < 3; i++)
		gc_base(h.v1[i]);
	return 0;
}

static int set_limits(const struct sbx_cgroup *cg, const struct sbx_limits *lim,
		      struct cmn_err *err)
{
	char num[32];
	snprintf(num, sizeof(num), "%" PRIu64, lim->memory_bytes);
	if (cg->v2) {
		if (write_file(cg->mem, "memory.max", num, err) < 0 ||
		    write_file(cg->mem, "memory.oom.group", "1", err) < 0)
			return -1;
		write_file(cg->mem, "memory.swap.max", "0", NULL); /* absent without swap */
	} else {
		if (write_file(cg->mem, "memory.limit_in_bytes", num, err) < 0)
			return -1;
		/* Absent without swap accounting; then there is no swap to limit. */
		write_file(cg->mem, "memory.memsw.limit_in_bytes", num, NULL);
	}
	/* +1: the init is in the cgroup too; the limit is the payload's. */
	snprintf(num, sizeof(num), "%" PRIu64, lim->pids + 1);
	return write_file(cg->pids, "pids.max", num, err);
}

int sbx_cgroup_create(struct sbx_cgroup *cg, const struct sbx_limits *lim, struct cmn_err *err)
{
	static atomic_uint seq;
	struct sbx_cgroup_bases h;
	memset(cg, 0, sizeof(*cg));
	if (find_hierarchy(&h, err) < 0)
		return -1;
	char name[64];
	snprintf(name, sizeof(name), "%d-%llu-%u", (int)getpid(), proc_start_time(getpid()),
		 atomic_fetch_add(&seq, 1));
	cg->v2 = h.v2[0] != '\0';
	char *dirs[3] = { cg->mem, cg->pids, cg->cpu };
	for (int i = 0; i < 3; i++) {
		const char *base = cg->v2 ? h.v2 : h.v1[i];
		if (cg->v2 && i == 0 && v2_prepare(base, err) < 0)
			return -1;
		if (!cg->v2 && mkdir(base, 0755) < 0 && errno != EEXIST)
			return cmn_err_sys(err, "mkdir %s", base);
		int w = snprintf(dirs[i], sizeof(cg->mem), "%s/%s", base, name);
		if (w < 0 || (size_t)w >= sizeof(cg->mem))
			return cmn_err_set(err, CMN_EINVAL, 0, "cgroup path too long: %s", base);
		if ((!cg->v2 || i == 0) && mkdir(dirs[i], 0755) < 0) {
			cmn_err_sys(err, "mkdir %s", dirs[i]);
			sbx_cgroup_remove(cg, NULL);
			return -1;
		}
	}
	if (set_limits(cg, lim, err) < 0) {
		sbx_cgroup_remove(cg, NULL);
		return cmn_err_wrap(err, "cgroup limits");
	}
	return 0;
}

/* v1: the caller opens the "tasks" files, the container's init writes "0"
 * to each (child_cgroup_join): a thread that moves itself skips the global
 * threadgroup lock whose RCU grace period makes a write of another pid to
 * cgroup.procs cost ~10ms. The init is single-threaded, so this moves the
 * process. v2: nothing to open (the caller moves the init). */
int sbx_cgroup_open_tasks(const struct sbx_cgroup *cg, int fds[3], size_t *n, struct cmn_err *err)
{
	const char *dirs[3] = { cg->mem, cg->pids, cg->cpu };
	*n = 0;
	for (int i = 0; !cg->v2 && i < 3; i++) {
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/tasks", dirs[i]);
		fds[i] = open(path, O_WRONLY | O_CLOEXEC);
		if (fds[i] < 0) {
			cmn_err_sys(err, "open %s", path);
			for (int j = 0; j < i; j++)
				close(fds[j]);
			return -1;
		}
		*n = (size_t)i + 1;
	}
	return 0;
}

int child_cgroup_join(const int *fds, size_t n, struct cmn_err *err)
{
	for (size_t i = 0; i < n; i++) {
		if (write(fds[i], "0", 1) != 1)
			return cmn_err_sys(err, "write 0 to cgroup tasks (fd %d)", fds[i]);
		close(fds[i]);
	}
	return 0;
}

int sbx_cgroup_attach(const struct sbx_cgroup *cg, pid_t pid, struct cmn_err *err)
{
	char num[32];
	snprintf(num, sizeof(num), "%d", (int)pid);
	const char *dirs[3] = { cg->mem, cg->pids, cg->cpu };
	for (int i = 0; i < (cg->v2 ? 1 : 3); i++) {
		if (write_file(dirs[i], "cgroup.procs", num, err) < 0)
			return -1;
	}
	return 0;
}

/* "key N" in a flat-keyed file; 0 when absent. */
static uint64_t keyed(const char *dir, const char *file, const char *key)
{
	char path[PATH_MAX], buf[2048];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (read_small(path, buf, sizeof(buf)) < 0)
		return 0;
	size_t klen = strlen(key);
	for (char *line = buf; line && *line;
	     line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ' ')
			return strtoull(line + klen + 1, NULL, 10);
	}
	return 0;
}

static uint64_t single(const char *dir, const char *file)
{
	char path[PATH_MAX], buf[64];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (read_small(path, buf, sizeof(buf)) < 0)
		return 0;
	return strtoull(buf, NULL, 10);
}

enum sbx_end sbx_cgroup_event(const struct sbx_cgroup *cg)
{
	const char *mem_file = cg->v2 ? "memory.events" : "memory.oom_control";
	if (keyed(cg->mem, mem_file, "oom_kill") > 0)
		return SBX_END_MEMORY;
	if (keyed(cg->pids, "pids.events", "max") > 0)
		return SBX_END_PIDS;
	return SBX_END_EXIT;
}

uint64_t sbx_cgroup_cpu_ns(const struct sbx_cgroup *cg)
{
	if (cg->v2)
		return keyed(cg->cpu, "cpu.stat", "usage_usec") * 1000;
	return single(cg->cpu, "cpuacct.usage");
}

uint64_t sbx_cgroup_peak_memory(const struct sbx_cgroup *cg)
{
	return single(cg->mem, cg->v2 ? "memory.peak" : "memory.max_usage_in_bytes");
}

void sbx_cgroup_kill(const struct sbx_cgroup *cg)
{
	if (cg->v2 && write_file(cg->mem, "cgroup.kill", "1", NULL) == 0)
		return;
	kill_procs(cg->mem);
	kill_procs(cg->pids);
}

int sbx_cgroup_remove(const struct sbx_cgroup *cg, struct cmn_err *err)
{
	const char *dirs[3] = { cg->mem, cg->pids, cg->cpu };
	int rc = 0;
	for (int i = 0; i < (cg->v2 ? 1 : 3); i++) {
		if (dirs[i][0] && remove_dir(dirs[i], err) < 0)
			rc = -1;
	}
	return rc;
}
