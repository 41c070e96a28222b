/* sandbox/internal.h — what the files of sandbox/ share; not for other modules.
 *
 * One file per concern; spawn.c calls them in order. Functions named
 * child_* run in the cloned container init or payload, where the caller may
 * have been multithreaded: they make system calls only (no malloc, no stdio,
 * no locks), and report failure by filling a struct cmn_err that the child
 * writes to the error pipe before it _exits.
 */
#ifndef SBX_INTERNAL_H
#define SBX_INTERNAL_H

#include <linux/filter.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"
#include "sandbox/sandbox.h"

/* The container's own ids: not 0, so execve never grants capabilities. */
#define SBX_INNER_ID 1000
#define SBX_HOSTNAME "cordon"
#define SBX_WORK_DIR "/work"

/* ns_user.c */
struct sbx_ids {
	uid_t host_uid;
	gid_t host_gid;
	bool privileged; /* caller is root: may map any id, may keep setgroups */
};
int sbx_ids_choose(struct sbx_ids *ids, struct cmn_err *err);
int sbx_userns_map(pid_t pid, const struct sbx_ids *ids, struct cmn_err *err);
int child_become_inner(const struct sbx_ids *ids, struct cmn_err *err);

/* ns_mount.c: binds are opened first (as the caller), attached later. */
struct sbx_tree {
	int fd;          /* open_tree() clone, detached */
	const char *dst; /* absolute path inside */
	bool is_dir;
	bool writable;
	bool device;
};
struct sbx_mount_plan {
	struct sbx_tree trees[SBX_MAX_BINDS + 16];
	int count;
};
int child_open_binds(const struct sbx_spec *spec, struct sbx_mount_plan *plan, struct cmn_err *err);
int child_build_root(const struct sbx_spec *spec, const struct sbx_limits *lim,
		     struct sbx_mount_plan *plan, struct cmn_err *err);

/* ns_net.c */
int sbx_netns_enter(int netns_fd, int *saved_fd, struct cmn_err *err);
int sbx_netns_leave(int saved_fd, struct cmn_err *err);
int child_loopback_up(struct cmn_err *err);

/* caps.c: drops every capability set and locks securebits. */
int child_raise_effective(struct cmn_err *err);
int child_drop_caps(struct cmn_err *err);
int child_no_new_privs(struct cmn_err *err);

/* seccomp.c */
struct sbx_filter {
	const struct sock_fprog *prog;
};
/* The BPF of a profile (built in: seccomp_bpf.c, generated at build time). */
int sbx_filter_get(enum sbx_profile profile, const struct sbx_filter **out, struct cmn_err *err);
extern struct sock_fprog sbx_bpf_generated[2];
/* seccomp_policy.c: compiles a profile's rules with libseccomp (malloc'd
 * out->filter). Used by cordon-bpfgen and by the test that checks the
 * built-in programs against it. */
int sbx_policy_compile(enum sbx_profile profile, struct sock_fprog *out, struct cmn_err *err);
/* seccomp_bpf.c (generated): libseccomp's syscall names by ABI and number,
 * as offsets into one blob (0: no name), and the libseccomp it came from. */
#define SBX_SYSCALL_TABLE_LEN 1024
#define SBX_X32_BIT 0x40000000
enum { SBX_ABI_X86_64, SBX_ABI_I386, SBX_ABI_X32 };
extern const char sbx_syscall_blob[];
extern const uint16_t sbx_syscall_off[3][SBX_SYSCALL_TABLE_LEN];
extern const char sbx_libseccomp_version[];
/* Loads the filter with a user-notification listener; returns the listener fd. */
int child_seccomp_load(const struct sbx_filter *f, struct cmn_err *err);
/* The syscall's name for an audit arch (e.g. AUDIT_ARCH_I386), never NULL. */
void sbx_syscall_name(uint32_t arch, int nr, char *buf, size_t len);

/* cgroup.c: one cgroup (v2) or one per controller (v1) per container. */
struct sbx_cgroup {
	bool v2;
	char mem[256], pids[256], cpu[256]; /* v2: all three hold the one dir */
};
/* The base dirs a caller's containers go under (".../cordon-sbx"): v2 when
 * the unified hierarchy has the memory and pids controllers in the caller's
 * cgroup (then v1 are ""), else the v1 memory, pids and cpuacct ones (v2 "").
 * From a mountinfo and a cgroup file: the caller's own are
 * /proc/self/mountinfo and /proc/self/cgroup (tests pass others). */
struct sbx_cgroup_bases {
	char v2[1024];
	char v1[3][1024];
};
int sbx_cgroup_find_bases(const char *mountinfo, const char *self_cgroup,
			  struct sbx_cgroup_bases *out, struct cmn_err *err);
int sbx_cgroup_gc(struct cmn_err *err);
int sbx_cgroup_create(struct sbx_cgroup *cg, const struct sbx_limits *lim, struct cmn_err *err);
/* v2: the caller moves the init in. v1: the init moves itself (cheaper),
 * through the "tasks" files the caller opened (sbx_cgroup_open_tasks): the
 * kernel checks the opener's credentials, and the init is no longer root
 * by the time it joins. */
int sbx_cgroup_attach(const struct sbx_cgroup *cg, pid_t pid, struct cmn_err *err);
int sbx_cgroup_open_tasks(const struct sbx_cgroup *cg, int fds[3], size_t *n, struct cmn_err *err);
int child_cgroup_join(const int *fds, size_t n, struct cmn_err *err);
/* Reasons the cgroup saw so far: SBX_END_MEMORY (an OOM kill), SBX_END_PIDS
 * (a refused fork), or SBX_END_EXIT when neither. */
enum sbx_end sbx_cgroup_event(const struct sbx_cgroup *cg);
uint64_t sbx_cgroup_cpu_ns(const struct sbx_cgroup *cg);
uint64_t sbx_cgroup_peak_memory(const struct sbx_cgroup *cg);
void sbx_cgroup_kill(const struct sbx_cgroup *cg);
/* Removes the dirs; retries while the kernel still counts exiting tasks. */
int sbx_cgroup_remove(const struct sbx_cgroup *cg, struct cmn_err *err);

/* limits.c */
void sbx_limits_fill_defaults(struct sbx_limits *lim);
int child_set_rlimits(const struct sbx_limits *lim, struct cmn_err *err);
int child_set_nofile(const struct sbx_limits *lim, struct cmn_err *err);

/* Messages on child->sock. */
enum { MSG_GO = 1, MSG_READY, MSG_START, MSG_NOTIFY_FD, MSG_STATUS, MSG_CGROUP };
#define SBX_MSG_MAX_FDS 3
/* cordon-reap (reap.c), embedded by reap_image.c; sbx_reap_memfd() puts it
 * in a sealed, execute-only memfd (CLOEXEC) for a container's init. */
extern const unsigned char sbx_reap_image[], sbx_reap_image_end[];
int sbx_reap_memfd(struct cmn_err *err);

struct sbx_msg {
	int type;
	int value;
};

/* What one start hands the container (argv[0] absolute, envp NULL = PATH only). */
struct sbx_run {
	const char *const *argv;
	const char *const *envp;
	const struct sbx_fd *fds;
	size_t fd_count;
};

/* fds.c */
/* In the init, first thing: closes every fd but `keep`. */
int child_close_all_but(const int *keep, size_t keep_count, struct cmn_err *err);
/* In the payload: moves each run fd to its child number, /dev/null on an
 * unlisted 0-2, closes the rest; keep[] (the init's channels, needed until
 * execve) move above every target and stay CLOEXEC. */
int child_install_fds(const struct sbx_run *run, int *keep, size_t keep_count, struct cmn_err *err);

/* handoff.c: messages on the caller <-> container socket. */
int sbx_send_fd(int sock, int type, int fd, struct cmn_err *err);
/* A message carrying n (<= SBX_MSG_MAX_FDS) fds; value = n. */
int sbx_send_fds(int sock, int type, const int *fds, size_t n, struct cmn_err *err);
/* In the init: the next message must be `type`; its fds (CLOEXEC) into fds. */
int child_recv_fds(int sock, int type, int *fds, size_t *n, struct cmn_err *err);
/* One message; *fd_out an fd it carried (CLOEXEC) or -1. -1 at hang-up. */
int sbx_recv_msg(int sock, struct sbx_msg *m, int *fd_out, int flags);
int sbx_send_start(int sock, const struct sbx_run *run, struct cmn_err *err);
int child_recv_start(int sock, struct sbx_run *out, struct cmn_err *err);

/* One running container, owned by the caller until sbx_wait(). */
struct sbx_child {
	pid_t pid;     /* the container's init, in the caller's pid ns */
	int pidfd;     /* of the init */
	int sock;      /* init -> caller: the payload's wait status */
	int notify_fd; /* seccomp listener of the payload's filter */
	int errpipe;   /* read end: setup and exec errors, EOF once exec'd */
	enum sbx_profile profile;
	enum sbx_supervision supervision;
	bool started;
	bool execve_passed;               /* udf: the one execve let through (or not needed) */
	char exec_error[CMN_ERR_MSG_MAX]; /* SBX_SUPERVISE_IN_WAIT: from the error pipe */
	struct sbx_cgroup cg;
	struct sbx_limits limits; /* effective */
	uint64_t start_ns;
	pthread_t supervisor; /* runs supervise() from sbx_spawn to the end */
	bool supervisor_started;
	pthread_mutex_t lock; /* killed, killed_for, syscall_*: also set by sbx_kill */
	bool have_status;
	int status; /* the payload's wait status, from the init */
	bool killed;
	enum sbx_end killed_for;
	int syscall_nr;
	uint32_t syscall_arch;
};

/* wait.c: starts the supervisor thread of a spawned child. */
int sbx_supervisor_start(struct sbx_child *ch, struct cmn_err *err);

/* Monotonic clock, ns. */
uint64_t sbx_now_ns(void);

#endif
