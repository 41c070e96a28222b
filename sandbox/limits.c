/* sandbox/limits.c — the defaults of sbx_limits and the rlimits.
 *
 * The rlimits are the second line behind the cgroup: CORE=0 (a core of a
 * node could hold plaintext rows), NOFILE, FSIZE (SIGXFSZ past the size),
 * CPU (per process; the cgroup total is enforced by sbx_wait), NPROC (the
 * pids cgroup is the real bound and must refuse first, so that the refusal
 * is counted in pids.events: NPROC is one above it). No RLIMIT_AS: the cgroup limits memory,
 * and ASan builds need a huge address space.
 */
#define _GNU_SOURCE
#include <sys/resource.h>
#include <time.h>

#include "sandbox/internal.h"

void sbx_limits_fill_defaults(struct sbx_limits *lim)
{
	if (!lim->memory_bytes)
		lim->memory_bytes = SBX_DEFAULT_MEMORY;
	if (!lim->pids)
		lim->pids = SBX_DEFAULT_PIDS;
	if (!lim->cpu_time_ns)
		lim->cpu_time_ns = SBX_DEFAULT_CPU_TIME_NS;
	if (!lim->wall_time_ns)
		lim->wall_time_ns = SBX_DEFAULT_WALL_TIME_NS;
	if (!lim->nofile)
		lim->nofile = SBX_DEFAULT_NOFILE;
	if (!lim->fsize_bytes)
		lim->fsize_bytes = SBX_DEFAULT_FSIZE;
	if (!lim->tmpfs_bytes)
		lim->tmpfs_bytes = SBX_DEFAULT_TMPFS;
}

static int set_one(int resource, const char *name, rlim_t value, struct cmn_err *err)
{
	struct rlimit rl;
	/* Never above the caller's hard limit: raising needs CAP_SYS_RESOURCE
	 * in the initial user ns, which the container does not have. */
	if (getrlimit(resource, &rl) == 0 && rl.rlim_max != RLIM_INFINITY && value > rl.rlim_max)
		value = rl.rlim_max;
	rl.rlim_cur = rl.rlim_max = value;
	if (setrlimit(resource, &rl) < 0)
		return cmn_err_sys(err, "setrlimit %s %llu", name, (unsigned long long)value);
	return 0;
}

int child_set_rlimits(const struct sbx_limits *lim, struct cmn_err *err)
{
	/* RLIMIT_CPU counts whole seconds; round up so a limit below 1s still
	 * leaves the cgroup check (sbx_wait) to end it first. */
	rlim_t cpu_s = (rlim_t)((lim->cpu_time_ns + 999999999ULL) / 1000000000ULL) + 1;
	if (set_one(RLIMIT_CORE, "CORE", 0, err) < 0 ||
	    set_one(RLIMIT_FSIZE, "FSIZE", (rlim_t)lim->fsize_bytes, err) < 0 ||
	    set_one(RLIMIT_CPU, "CPU", cpu_s, err) < 0 ||
	    set_one(RLIMIT_NPROC, "NPROC", (rlim_t)lim->pids + 2, err) < 0)
		return -1;
	return 0;
}

/* Last, in the payload right before execve: the fd moves before it need a
 * few numbers above the targets, which a small limit would refuse. */
int child_set_nofile(const struct sbx_limits *lim, struct cmn_err *err)
{
	return set_one(RLIMIT_NOFILE, "NOFILE", (rlim_t)lim->nofile, err);
}

uint64_t sbx_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}
