/* sandbox/ — containers for untrusted code.
 *
 * Responsibility: run one command (a job node or a TRANSFORM script) inside
 * user/pid/mount/ipc/uts/cgroup/net namespaces with a read-only root,
 * no capabilities, a seccomp allowlist, rlimits and cgroup limits, and
 * report how it ended as seen from outside. See docs/sandbox.md.
 *
 * Entry points: sbx_spec_init() fills safe defaults; sbx_spawn() starts the
 * container; sbx_wait() blocks until it ends (enforcing the wall-clock limit
 * from outside) and says why it ended. This header is the contract other
 * modules (runtime/, netoverlay/, scheduler/, tools/) code against: extend
 * it, do not change what exists.
 */
#ifndef SBX_SANDBOX_H
#define SBX_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "common/err.h"

enum sbx_profile {
	SBX_PROFILE_TRANSFORM = 0, /* execve and fork allowed */
	SBX_PROFILE_UDF,           /* no execve after start, no new processes; threads ok */
};

enum sbx_net_mode {
	SBX_NET_NONE = 0, /* a new empty netns, loopback down */
	SBX_NET_LOOPBACK, /* a new empty netns, loopback up */
	SBX_NET_JOIN,     /* join spec.netns_fd (e.g. a job overlay node netns) */
};

struct sbx_bind {
	const char *src; /* host path */
	const char *dst; /* path inside; NULL = same as src */
	bool writable;
};

/* An fd handed to the container: parent_fd in the caller becomes child_fd
 * inside. Only listed fds survive (0, 1, 2 too: list them to pass them). */
struct sbx_fd {
	int parent_fd;
	int child_fd;
};

/* Bounds of a spec (checked by sbx_spawn). */
#define SBX_MAX_BINDS 32
#define SBX_MAX_FDS 64
#define SBX_MAX_ARGS 512         /* argv + envp strings */
#define SBX_MAX_ARGV_BYTES 65536 /* their total size */

/* The defaults of struct sbx_limits (docs/sandbox.md). */
#define SBX_DEFAULT_MEMORY (512ULL << 20)
#define SBX_DEFAULT_PIDS 64ULL
#define SBX_DEFAULT_CPU_TIME_NS (60ULL * 1000000000ULL)
#define SBX_DEFAULT_WALL_TIME_NS (60ULL * 1000000000ULL)
#define SBX_DEFAULT_NOFILE 256ULL
#define SBX_DEFAULT_FSIZE (64ULL << 20)
#define SBX_DEFAULT_TMPFS (64ULL << 20)

/* 0 in any field means "the default" (see sbx_spec_init / docs/sandbox.md). */
struct sbx_limits {
	uint64_t memory_bytes; /* cgroup memory (and swap) limit */
	uint64_t pids;         /* cgroup pids limit */
	uint64_t cpu_time_ns;  /* RLIMIT_CPU and cgroup accounting */
	uint64_t wall_time_ns; /* enforced from outside by sbx_wait */
	uint64_t nofile;       /* RLIMIT_NOFILE */
	uint64_t fsize_bytes;  /* RLIMIT_FSIZE */
	uint64_t tmpfs_bytes;  /* size of the private /work tmpfs */
};

/* Who watches a container from its start to its end. */
enum sbx_supervision {
	SBX_SUPERVISE_THREAD = 0, /* a thread of the caller: the caller may block anywhere */
	SBX_SUPERVISE_IN_WAIT,    /* sbx_wait() itself, which the caller calls right away and
				   * nothing else meanwhile: no thread, and sbx_spawn/sbx_start
				   * return once the work is handed over (an exec failure is
				   * then sbx_wait's error). For one-shot commands (the CLI). */
};

struct sbx_spec {
	const char *const *argv; /* argv[0] is an absolute path inside the container */
	const char *const *envp; /* NULL = only PATH */
	const struct sbx_fd *fds;
	size_t fd_count;
	const struct sbx_bind *binds; /* in addition to the default read-only /usr etc. */
	size_t bind_count;
	enum sbx_net_mode net;
	int netns_fd; /* for SBX_NET_JOIN */
	enum sbx_profile profile;
	struct sbx_limits limits;
	const char *cwd; /* inside the container; NULL = the work dir */
	enum sbx_supervision supervision;
};

enum sbx_end {
	SBX_END_EXIT = 0, /* exited on its own: result.exit_code */
	SBX_END_SIGNAL,   /* died of a signal not sent by Cordon: result.signal */
	SBX_END_SECCOMP,  /* killed for a syscall outside the profile */
	SBX_END_MEMORY,
	SBX_END_PIDS,
	SBX_END_CPU,
	SBX_END_WALL,
	SBX_END_FSIZE,
	SBX_END_KILLED, /* sbx_kill() by the caller (cancel) */
};

struct sbx_result {
	enum sbx_end end;
	int exit_code;
	int signal;
	int syscall_nr;        /* for SBX_END_SECCOMP */
	char syscall_name[32]; /* for SBX_END_SECCOMP, resolved outside the container */
	uint64_t cpu_ns;
	uint64_t peak_memory_bytes;
	uint64_t wall_ns;
};

struct sbx_child; /* opaque: one running container */

void sbx_spec_init(struct sbx_spec *spec);
int sbx_spawn(const struct sbx_spec *spec, struct sbx_child **out, struct cmn_err *err);
/* The pre-forked path (a job's node start): sbx_prepare() builds the whole
 * container of spec — namespaces, root, cgroup, rlimits, no capabilities —
 * and parks its init; spec's argv, envp and fds are not used. sbx_start()
 * then hands it the work and the payload loads seccomp and execs: the same
 * steps as sbx_spawn() (which is prepare + start), so the isolation is
 * identical; only the waiting moved ahead. The wall-time limit counts from
 * sbx_start(). On failure sbx_start() ends and frees the child. A prepared
 * child that is not needed: sbx_kill() then sbx_wait() (end: killed). */
int sbx_prepare(const struct sbx_spec *spec, struct sbx_child **out, struct cmn_err *err);
int sbx_start(struct sbx_child *child, const char *const *argv, const char *const *envp,
	      const struct sbx_fd *fds, size_t fd_count, struct cmn_err *err);
pid_t sbx_child_pid(const struct sbx_child *child);
/* Blocks until the container ended, fills result, frees child. Limits and
 * seccomp stops are enforced by a supervisor thread from sbx_start() on, so
 * the caller may block elsewhere (e.g. reading the container's output)
 * before calling this. The container dies with the thread that spawned it
 * (PR_SET_PDEATHSIG): spawn from a thread that outlives the container. */
int sbx_wait(struct sbx_child *child, struct sbx_result *result, struct cmn_err *err);
/* Asks the container to end now (SIGKILL to its whole pid ns). */
int sbx_kill(struct sbx_child *child, struct cmn_err *err);
const char *sbx_end_name(enum sbx_end end); /* "exit", "seccomp", "memory", ... */
/* One line for humans: "syscall ptrace (101) not allowed", "memory limit 64M reached". */
void sbx_describe_end(const struct sbx_result *r, const struct sbx_limits *l, char *buf,
		      size_t len);

/* The limits sbx_spawn will apply for lim: each 0 replaced by its default. */
void sbx_limits_effective(const struct sbx_limits *lim, struct sbx_limits *out);

void sbx_print_deps(FILE *out);

#endif
