/* sandbox/describe.c — names and one-line descriptions of how a container
 * ended (the CLI's "cordon: sandbox: <reason>", audit records). */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/parse.h"
#include "sandbox/sandbox.h"

const char *sbx_end_name(enum sbx_end end)
{
	static const char *const names[] = { "exit", "signal", "seccomp", "memory", "pids",
					     "cpu",  "wall",   "fsize",   "killed" };
	if ((unsigned)end < sizeof(names) / sizeof(names[0]))
		return names[end];
	return "unknown";
}

static void format_duration(uint64_t ns, char *out, size_t len)
{
	if (ns % 1000000000ULL == 0)
		snprintf(out, len, "%" PRIu64 "s", (uint64_t)(ns / 1000000000U));
	else
		snprintf(out, len, "%" PRIu64 "ms", (uint64_t)(ns / 1000000U));
}

void sbx_describe_end(const struct sbx_result *r, const struct sbx_limits *l, char *buf, size_t len)
{
	char v[32] = "";
	struct sbx_limits zero;
	memset(&zero, 0, sizeof(zero));
	struct sbx_limits lim;
	sbx_limits_effective(l ? l : &zero, &lim);
	switch (r->end) {
	case SBX_END_EXIT:
		snprintf(buf, len, "exited with status %d", r->exit_code);
		return;
	case SBX_END_SIGNAL:
		snprintf(buf, len, "killed by signal %d (%s)", r->signal,
			 sigabbrev_np(r->signal) ? sigabbrev_np(r->signal) : "?");
		return;
	case SBX_END_SECCOMP:
		snprintf(buf, len, "syscall %s (%d) not allowed", r->syscall_name, r->syscall_nr);
		return;
	case SBX_END_MEMORY:
		cmn_format_size(lim.memory_bytes, v, sizeof(v));
		snprintf(buf, len, "memory limit %s reached", v);
		return;
	case SBX_END_PIDS:
		snprintf(buf, len, "pids limit %" PRIu64 " reached", lim.pids);
		return;
	case SBX_END_CPU:
		format_duration(lim.cpu_time_ns, v, sizeof(v));
		snprintf(buf, len, "cpu time limit %s reached", v);
		return;
	case SBX_END_WALL:
		format_duration(lim.wall_time_ns, v, sizeof(v));
		snprintf(buf, len, "wall time limit %s reached", v);
		return;
	case SBX_END_FSIZE:
		cmn_format_size(lim.fsize_bytes, v, sizeof(v));
		snprintf(buf, len, "file size limit %s reached", v);
		return;
	case SBX_END_KILLED:
		snprintf(buf, len, "killed by the caller");
		return;
	}
	snprintf(buf, len, "ended (unknown reason)");
}
