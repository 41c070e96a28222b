/* sandbox/seccomp_policy.c — the syscall allowlist, as libseccomp rules
 * (docs/sandbox.md lists each denial and its reason).
 *
 * Compiled to BPF at build time by cordon-bpfgen (bpfgen.c) into
 * seccomp_bpf.c, so that starting a container costs no libseccomp work;
 * test_sandbox checks that the built-in program is what these rules compile
 * to. seccomp.c loads it.
 *
 * Default action: SECCOMP_RET_USER_NOTIF. A call outside the list blocks the
 * calling thread and wakes the supervisor (outside the container), which
 * reads the syscall number and architecture from the kernel, kills the
 * container and reports the call by name: the container never gets to run
 * the call, and never gets to say what happened. If the supervisor is gone
 * the kernel fails the call with ENOSYS, so the policy never fails open.
 * A foreign architecture (i386 via int 0x80, x32 numbers) takes the same
 * path: libseccomp's x86_64 filter sends both to the bad-arch action.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "sandbox/internal.h"

#define NS_FLAGS                                                                                   \
	(CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |             \
	 CLONE_NEWPID | CLONE_NEWNET | 0x80 /* CLONE_NEWTIME */)

/* Allowed in both profiles without conditions. Everything a Lua node or an
 * interpreter needs for files in its own root, memory, time, signals within
 * its pid ns, pipes, polling and sockets; nothing that reaches the kernel's
 * global state, other processes' memory, or new privileges. */
static const char *const allowed[] = {
	"read",
	"write",
	"readv",
	"writev",
	"pread64",
	"pwrite64",
	"preadv",
	"pwritev",
	"preadv2",
	"pwritev2",
	"open",
	"openat",
	"openat2",
	"close",
	"close_range",
	"creat",
	"stat",
	"fstat",
	"lstat",
	"newfstatat",
	"statx",
	"statfs",
	"fstatfs",
	"lseek",
	"access",
	"faccessat",
	"faccessat2",
	"getdents",
	"getdents64",
	"getcwd",
	"chdir",
	"fchdir",
	"rename",
	"renameat",
	"renameat2",
	"mkdir",
	"mkdirat",
	"rmdir",
	"link",
	"linkat",
	"unlink",
	"unlinkat",
	"symlink",
	"symlinkat",
	"readlink",
	"readlinkat",
	"chmod",
	"fchmod",
	"fchmodat",
	"umask",
	"utime",
	"utimes",
	"utimensat",
	"futimesat",
	"truncate",
	"ftruncate",
	"fallocate",
	"fadvise64",
	"readahead",
	"fsync",
	"fdatasync",
	"sync_file_range",
	"flock",
	"fcntl",
	"dup",
	"dup2",
	"dup3",
	"pipe",
	"pipe2",
	"splice",
	"tee",
	"sendfile",
	"copy_file_range",
	"mmap",
	"mprotect",
	"munmap",
	"mremap",
	"msync",
	"madvise",
	"mincore",
	"brk",
	"mlock",
	"munlock",
	"memfd_create",
	"rt_sigaction",
	"rt_sigprocmask",
	"rt_sigreturn",
	"rt_sigpending",
	"rt_sigtimedwait",
	"rt_sigsuspend",
	"rt_sigqueueinfo",
	"rt_tgsigqueueinfo",
	"sigaltstack",
	"kill",
	"tgkill",
	"tkill",
	"pause",
	"select",
	"pselect6",
	"poll",
	"ppoll",
	"epoll_create",
	"epoll_create1",
	"epoll_ctl",
	"epoll_wait",
	"epoll_pwait",
	"epoll_pwait2",
	"eventfd",
	"eventfd2",
	"signalfd",
	"signalfd4",
	"timerfd_create",
	"timerfd_settime",
	"timerfd_gettime",
	"inotify_init",
	"inotify_init1",
	"inotify_add_watch",
	"inotify_rm_watch",
	"nanosleep",
	"clock_nanosleep",
	"clock_gettime",
	"clock_getres",
	"gettimeofday",
	"time",
	"times",
	"alarm",
	"getitimer",
	"setitimer",
	"timer_create",
	"timer_settime",
	"timer_gettime",
	"timer_getoverrun",
	"timer_delete",
	"sched_yield",
	"sched_getaffinity",
	"sched_getparam",
	"sched_getscheduler",
	"sched_get_priority_max",
	"sched_get_priority_min",
	"getpriority",
	"setpriority",
	"getpid",
	"getppid",
	"gettid",
	"getuid",
	"geteuid",
	"getgid",
	"getegid",
	"getgroups",
	"getresuid",
	"getresgid",
	"getpgid",
	"getpgrp",
	"getsid",
	"setsid",
	"setpgid",
	"getrlimit",
	"setrlimit",
	"prlimit64",
	"getrusage",
	"sysinfo",
	"uname",
	"capget",
	"prctl",
	"arch_prctl",
	"futex",
	"futex_waitv",
	"set_robust_list",
	"get_robust_list",
	"set_tid_address",
	"rseq",
	"membarrier",
	"getrandom",
	"exit",
	"exit_group",
	"wait4",
	"waitid",
	"restart_syscall",
	"getcpu",
	"connect",
	"accept",
	"accept4",
	"bind",
	"listen",
	"sendto",
	"recvfrom",
	"sendmsg",
	"recvmsg",
	"sendmmsg",
	"recvmmsg",
	"shutdown",
	"getsockname",
	"getpeername",
	"setsockopt",
	"getsockopt",
	"getxattr",
	"lgetxattr",
	"fgetxattr",
	"listxattr",
	"llistxattr",
	"flistxattr",
	"chown",
	"fchown",
	"lchown",
	"fchownat",
	"get_mempolicy",
};

/* Only in the transform profile: start programs and processes. */
static const char *const allowed_transform[] = { "execve", "execveat", "fork", "vfork" };

static int add(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned n,
	       const struct scmp_arg_cmp *cmp, struct cmn_err *err)
{
	int nr = seccomp_syscall_resolve_name(name);
	if (nr == __NR_SCMP_ERROR)
		return cmn_err_set(err, CMN_EINTERNAL, 0, "seccomp: unknown syscall %s", name);
	int rc = seccomp_rule_add_array(ctx, action, nr, n, cmp);
	if (rc < 0)
		return cmn_err_set(err, CMN_EINTERNAL, -rc, "seccomp_rule_add %s: %s", name,
				   strerror(-rc));
	return 0;
}

/* ioctl minus TIOCSTI (CVE-2017-5226: pushing input into the caller's
 * terminal). The kernel reads cmd as 32 bits, so only the low 32 bits may be
 * compared: "low 32 bits != TIOCSTI" is "some bit b of them differs from
 * TIOCSTI's", one masked rule per bit. */
static int add_ioctl(scmp_filter_ctx ctx, struct cmn_err *err)
{
	for (unsigned b = 0; b < 32; b++) {
		uint64_t bit = 1ULL << b;
		struct scmp_arg_cmp cmp =
		    SCMP_A1(SCMP_CMP_MASKED_EQ, bit, ~(uint64_t)TIOCSTI & bit);
		if (add(ctx, SCMP_ACT_ALLOW, "ioctl", 1, &cmp, err) < 0)
			return -1;
	}
	return 0;
}

/* socket/socketpair: AF_UNIX, AF_INET, AF_INET6, stream or datagram (any
 * SOCK_NONBLOCK/SOCK_CLOEXEC flags), protocol 0 or the plain TCP/UDP. No
 * raw, packet, netlink, vsock, alg: each is kernel attack surface a job
 * never needs; and no other protocol under a stream or datagram type
 * (IPPROTO_SCTP, UDP-Lite, ICMP "ping" sockets), which would also make the
 * kernel autoload modules on request. The kernel reads the int arguments
 * as 32 bits, so domain and protocol are compared on those. */
static int add_socket_rule(scmp_filter_ctx ctx, int domain, int type, int proto,
			   struct cmn_err *err)
{
	struct scmp_arg_cmp cmp[3] = {
		SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffULL, (uint64_t)domain),
		SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, (uint64_t)type),
		SCMP_A2(SCMP_CMP_MASKED_EQ, 0xffffffffULL, (uint64_t)proto),
	};
	if (add(ctx, SCMP_ACT_ALLOW, "socket", 3, cmp, err) < 0)
		return -1;
	if (domain == AF_UNIX && add(ctx, SCMP_ACT_ALLOW, "socketpair", 3, cmp, err) < 0)
		return -1;
	return 0;
}

static int add_sockets(scmp_filter_ctx ctx, struct cmn_err *err)
{
	static const struct {
		int type, proto;
	} inet[] = {
		{ SOCK_STREAM, 0 },
		{ SOCK_STREAM, IPPROTO_TCP },
		{ SOCK_DGRAM, 0 },
		{ SOCK_DGRAM, IPPROTO_UDP },
	};
	if (add_socket_rule(ctx, AF_UNIX, SOCK_STREAM, 0, err) < 0 ||
	    add_socket_rule(ctx, AF_UNIX, SOCK_DGRAM, 0, err) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(inet) / sizeof(inet[0]); i++) {
		if (add_socket_rule(ctx, AF_INET, inet[i].type, inet[i].proto, err) < 0 ||
		    add_socket_rule(ctx, AF_INET6, inet[i].type, inet[i].proto, err) < 0)
			return -1;
	}
	return 0;
}

static int add_conditional(scmp_filter_ctx ctx, enum sbx_profile profile, struct cmn_err *err)
{
	/* clone without namespace flags; the udf profile only threads. */
	uint64_t mask = NS_FLAGS | (profile == SBX_PROFILE_UDF ? CLONE_THREAD : 0);
	uint64_t want = profile == SBX_PROFILE_UDF ? CLONE_THREAD : 0;
	struct scmp_arg_cmp clone_cmp = SCMP_A0(SCMP_CMP_MASKED_EQ, mask, want);
	if (add(ctx, SCMP_ACT_ALLOW, "clone", 1, &clone_cmp, err) < 0)
		return -1;
	/* clone3 passes its flags in memory, which seccomp cannot read: ENOSYS
	 * makes glibc fall back to clone, which is checked above. */
	if (add(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL, err) < 0)
		return -1;
	/* personality: only asking (0xffffffff) and the default PER_LINUX;
	 * other personalities have helped exploits (READ_IMPLIES_EXEC,
	 * ADDR_NO_RANDOMIZE, MMAP_PAGE_ZERO). */
	struct scmp_arg_cmp p0 = SCMP_A0(SCMP_CMP_EQ, 0);
	struct scmp_arg_cmp pq = SCMP_A0(SCMP_CMP_EQ, 0xffffffffULL);
	if (add(ctx, SCMP_ACT_ALLOW, "personality", 1, &p0, err) < 0 ||
	    add(ctx, SCMP_ACT_ALLOW, "personality", 1, &pq, err) < 0)
		return -1;
	return add_ioctl(ctx, err) < 0 ? -1 : add_sockets(ctx, err);
}

int sbx_policy_compile(enum sbx_profile profile, struct sock_fprog *out, struct cmn_err *err)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_NOTIFY);
	if (!ctx)
		return cmn_err_set(err, CMN_ENOMEM, 0, "seccomp_init");
	int rc = -1;
	cleanup_close int mfd = -1;
	if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_NOTIFY) < 0 ||
	    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0) < 0 ||
	    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2) < 0) {
		cmn_err_set(err, CMN_EINTERNAL, 0, "seccomp_attr_set");
		goto out;
	}
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		if (add(ctx, SCMP_ACT_ALLOW, allowed[i], 0, NULL, err) < 0)
			goto out;
	}
	for (size_t i = 0; profile == SBX_PROFILE_TRANSFORM && i < 4; i++) {
		if (add(ctx, SCMP_ACT_ALLOW, allowed_transform[i], 0, NULL, err) < 0)
			goto out;
	}
	if (add_conditional(ctx, profile, err) < 0)
		goto out;
	/* Export the raw BPF through a memfd (libseccomp 2.5 has no in-memory
	 * export). */
	mfd = memfd_create("cordon-seccomp", MFD_CLOEXEC);
	if (mfd < 0) {
		cmn_err_sys(err, "memfd_create");
		goto out;
	}
	int erc = seccomp_export_bpf(ctx, mfd);
	off_t size = lseek(mfd, 0, SEEK_END);
	if (erc < 0 || size <= 0 || size % sizeof(struct sock_filter) != 0) {
		cmn_err_set(err, CMN_EINTERNAL, -erc, "seccomp_export_bpf");
		goto out;
	}
	struct sock_filter *insns = malloc((size_t)size);
	if (!insns || pread(mfd, insns, (size_t)size, 0) != size) {
		free(insns);
		cmn_err_set(err, CMN_EINTERNAL, errno, "read exported BPF");
		goto out;
	}
	out->filter = insns;
	out->len = (unsigned short)((size_t)size / sizeof(struct sock_filter));
	rc = 0;
out:
	seccomp_release(ctx);
	return rc;
}
