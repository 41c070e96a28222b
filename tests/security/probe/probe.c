/* tests/security/probe/probe.c — escape attempts run INSIDE a Cordon
 * container by tests/security/test_sandbox_escape.py, one attempt per
 * container: `cordon-probe NAME [ARG]`.
 *
 * Prints one line, "NAME: <outcome>", where outcome is
 *   errno=ENAME   the attempt failed with that errno
 *   ok            the attempt succeeded (an escape, unless it is a control)
 *   value=TEXT    what a read-only probe saw (capability sets, pid counts...)
 * and prints nothing when the container is killed for a forbidden syscall:
 * the test then checks the CLI's "syscall NAME (N) not allowed".
 * Attempts are written so that an unexpected success changes nothing on the
 * host: files are opened for writing but never written, syscalls get
 * arguments that fail right after the permission check.
 * Built statically and without sanitizers: it runs in the container's
 * read-only root with no libraries but /usr's.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/perf_event.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#ifndef AF_ALG
#define AF_ALG 38
#endif
#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

static const char *probe_name;
static const char *probe_arg;

static void report_rc(long rc)
{
	if (rc < 0) {
		const char *n = strerrorname_np(errno);
		printf("%s: errno=%s\n", probe_name, n ? n : "?");
	} else {
		printf("%s: ok\n", probe_name);
	}
}

static void report_value(const char *v)
{
	printf("%s: value=%s\n", probe_name, v);
}

static long open_w(const char *path)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0)
		close(fd);
	return fd;
}

static long open_r(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		close(fd);
	return fd;
}

/* ---- host files, the root, /usr, /proc, /sys, /dev ---- */
static void p_host_shadow(void)
{
	report_rc(open_r("/etc/shadow"));
}
static void p_host_root_home(void)
{
	report_rc(open_r("/root"));
}
static void p_host_home(void)
{
	report_rc(open_r("/home"));
}
static void p_host_run(void)
{
	report_rc(open_r("/run"));
}
static void p_create_in_root(void)
{
	report_rc(open("/escape", O_CREAT | O_WRONLY | O_EXCL | O_CLOEXEC, 0644));
}
static void p_mkdir_in_root(void)
{
	report_rc(mkdir("/escape", 0755));
}
static void p_create_in_usr(void)
{
	report_rc(open("/usr/bin/escape", O_CREAT | O_WRONLY | O_EXCL | O_CLOEXEC, 0755));
}
static void p_write_usr_binary(void)
{
	report_rc(open_w("/usr/bin/sh"));
}
static void p_write_proc_self_exe(void)
{
	report_rc(open_w("/proc/self/exe"));
}
static void p_proc_sys_hostname(void)
{
	report_rc(open_w("/proc/sys/kernel/hostname"));
}
static void p_proc_sys_core_pattern(void)
{
	report_rc(open_w("/proc/sys/kernel/core_pattern"));
}
static void p_proc_sys_drop_caches(void)
{
	report_rc(open_w("/proc/sys/vm/drop_caches"));
}
static void p_proc_sysrq_trigger(void)
{
	report_rc(open_w("/proc/sysrq-trigger"));
}
static void p_proc_kcore(void)
{
	report_rc(open_r("/proc/kcore"));
}
static void p_proc_oom_score_adj(void)
{
	report_rc(open_w("/proc/self/oom_score_adj"));
}
static void p_proc_init_mem(void)
{
	report_rc(open_r("/proc/1/mem"));
}
static void p_proc_init_environ(void)
{
	report_rc(open_r("/proc/1/environ"));
}
static void p_proc_init_root(void)
{
	report_rc(open_r("/proc/1/root/"));
}
static void p_sys_write(void)
{
	report_rc(open_w("/sys/kernel/uevent_helper"));
}
static void p_sys_cgroup(void)
{
	report_rc(mkdir("/sys/fs/cgroup/escape", 0755));
}
static void p_dev_mem(void)
{
	report_rc(open_r("/dev/mem"));
}
static void p_dev_block(void)
{
	report_rc(open_r("/dev/vda"));
}
static void p_dev_kmsg(void)
{
	report_rc(open_r("/dev/kmsg"));
}
static void p_dev_create(void)
{
	report_rc(open("/dev/escape", O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
}
static void p_mknod_char(void)
{
	report_rc(mknod("/work/mem", S_IFCHR | 0600, makedev(1, 1)));
}
static void p_mknodat_block(void)
{
	report_rc(mknodat(AT_FDCWD, "/work/vda", S_IFBLK | 0600, makedev(254, 0)));
}
static void p_chown_root(void)
{
	int fd = open("/work/f", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
	report_rc(chown("/work/f", 0, 0));
}

/* ---- mounts ---- */
static void p_mount_tmpfs(void)
{
	report_rc(mount("tmpfs", "/work", "tmpfs", 0, NULL));
}
static void p_remount_rw(void)
{
	report_rc(mount(NULL, "/", NULL, MS_REMOUNT, NULL));
}
static void p_umount_usr(void)
{
	report_rc(umount2("/usr", MNT_DETACH));
}
static void p_pivot_root(void)
{
	report_rc(syscall(SYS_pivot_root, "/work", "/work"));
}
static void p_chroot(void)
{
	report_rc(chroot("/work"));
}
static void p_fsopen(void)
{
	report_rc(syscall(SYS_fsopen, "tmpfs", 0));
}
static void p_open_tree(void)
{
	report_rc(syscall(SYS_open_tree, AT_FDCWD, "/usr", 1));
}
static void p_move_mount(void)
{
	report_rc(syscall(SYS_move_mount, -1, "", -1, "/work", 0));
}
static void p_mount_setattr(void)
{
	report_rc(syscall(SYS_mount_setattr, AT_FDCWD, "/", 0, NULL, 0));
}

/* ---- namespaces ---- */
static void p_unshare_user(void)
{
	report_rc(unshare(CLONE_NEWUSER));
}
static void p_unshare_net(void)
{
	report_rc(unshare(CLONE_NEWNET));
}
static void p_unshare_mount(void)
{
	report_rc(unshare(CLONE_NEWNS));
}
static void p_clone_newuser(void)
{
	long rc = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, 0);
	if (rc == 0)
		_exit(0);
	report_rc(rc);
}
static void p_clone_newpid(void)
{
	long rc = syscall(SYS_clone, CLONE_NEWPID | CLONE_NEWNS | SIGCHLD, NULL, NULL, NULL, 0);
	if (rc == 0)
		_exit(0);
	report_rc(rc);
}
static void p_clone3(void)
{
	uint64_t args[11] = { CLONE_NEWUSER };
	args[4] = SIGCHLD; /* exit_signal */
	long rc = syscall(SYS_clone3, args, 88);
	if (rc == 0)
		_exit(0);
	report_rc(rc);
}
static void p_setns_net(void)
{
	int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	report_rc(setns(fd, CLONE_NEWNET));
}

static void p_fork_once(void)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	report_rc(pid);
}
static void p_exec_again(void)
{
	char *argv[] = { "/probe", "no_new_privs", NULL };
	report_rc(execv("/probe", argv));
}

/* ---- privileges ---- */
static void p_cap_sets(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256], out[512] = "";
	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "Cap", 3) == 0) {
			line[strcspn(line, "\n")] = ' ';
			strncat(out, line, sizeof(out) - strlen(out) - 1);
		}
	}
	report_value(out);
}
static void p_no_new_privs(void)
{
	char v[16];
	snprintf(v, sizeof(v), "%d", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	report_value(v);
}
static void p_setuid_root(void)
{
	report_rc(setuid(0));
}
static void p_setgroups(void)
{
	report_rc(setgroups(0, NULL));
}
static void p_capset_all(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = { { ~0U, ~0U, ~0U }, { ~0U, ~0U, ~0U } };
	report_rc(syscall(SYS_capset, &h, d));
}
static void p_ambient_raise(void)
{
	report_rc(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_ADMIN, 0, 0));
}
static void p_ptrace_init(void)
{
	report_rc(syscall(SYS_ptrace, 16 /* ATTACH */, 1, 0, 0));
}
static void p_process_vm_readv(void)
{
	char buf[8];
	struct iovec l = { buf, sizeof(buf) }, r = { (void *)0x400000, sizeof(buf) };
	report_rc(process_vm_readv(1, &l, 1, &r, 1, 0));
}
static void p_pidfd_getfd(void)
{
	report_rc(syscall(SYS_pidfd_open, 1, 0));
}
static void p_visible_pids(void)
{
	DIR *d = opendir("/proc");
	int n = 0;
	struct dirent *de;
	while (d && (de = readdir(d)))
		n += de->d_name[0] >= '1' && de->d_name[0] <= '9';
	char v[16];
	snprintf(v, sizeof(v), "%d", n);
	report_value(v);
}
static void p_kill_host_pid(void)
{
	report_rc(kill((pid_t)strtol(probe_arg ? probe_arg : "1", NULL, 10), 0));
}

/* ---- kernel attack surface ---- */
static void p_keyctl(void)
{
	report_rc(syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -3, 0));
}
static void p_add_key(void)
{
	report_rc(syscall(SYS_add_key, "user", "cordon", "x", 1, -3));
}
static void p_request_key(void)
{
	report_rc(syscall(SYS_request_key, "user", "cordon", NULL, -3));
}
static void p_bpf(void)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	report_rc(syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof(a)));
}
static void p_perf_event_open(void)
{
	struct perf_event_attr a;
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	report_rc(syscall(SYS_perf_event_open, &a, 0, -1, -1, 0));
}
static void p_userfaultfd(void)
{
	report_rc(syscall(SYS_userfaultfd, O_CLOEXEC));
}
static void p_io_uring(void)
{
	char params[120];
	memset(params, 0, sizeof(params));
	report_rc(syscall(SYS_io_uring_setup, 1, params));
}
static void p_kexec_load(void)
{
	report_rc(syscall(SYS_kexec_load, 0, 0, NULL, 0));
}
static void p_init_module(void)
{
	report_rc(syscall(SYS_init_module, NULL, 0, ""));
}
static void p_finit_module(void)
{
	report_rc(syscall(SYS_finit_module, -1, "", 0));
}
static void p_delete_module(void)
{
	report_rc(syscall(SYS_delete_module, "ext4", O_NONBLOCK));
}
static void p_open_by_handle_at(void)
{
	report_rc(syscall(SYS_open_by_handle_at, AT_FDCWD, NULL, 0));
}
static void p_name_to_handle_at(void)
{
	report_rc(syscall(SYS_name_to_handle_at, AT_FDCWD, "/", NULL, NULL, 0));
}
static void p_modify_ldt(void)
{
	report_rc(syscall(SYS_modify_ldt, 0, NULL, 0));
}
static void p_iopl(void)
{
	report_rc(syscall(SYS_iopl, 3));
}
static void p_ioperm(void)
{
	report_rc(syscall(SYS_ioperm, 0x80, 1, 1));
}
static void p_syslog(void)
{
	report_rc(syscall(SYS_syslog, 3 /* READ_ALL */, NULL, 0));
}
static void p_settimeofday(void)
{
	struct timeval tv = { 0, 0 };
	report_rc(syscall(SYS_settimeofday, &tv, NULL));
}
static void p_clock_settime(void)
{
	struct timespec ts = { 0, 0 };
	report_rc(syscall(SYS_clock_settime, CLOCK_REALTIME, &ts));
}
static void p_adjtimex(void)
{
	report_rc(syscall(SYS_adjtimex, NULL));
}
static void p_reboot(void)
{
	report_rc(syscall(SYS_reboot, 0, 0, 0, NULL)); /* bad magic */
}
static void p_swapon(void)
{
	report_rc(syscall(SYS_swapon, "/work/none", 0));
}
static void p_acct(void)
{
	report_rc(syscall(SYS_acct, NULL));
}
static void p_sethostname(void)
{
	report_rc(sethostname("escape", 6));
}
static void p_tiocsti(void)
{
	char c = 'x';
	report_rc(syscall(SYS_ioctl, 0, (unsigned long)TIOCSTI, &c));
}
static void p_tiocsti_high_bits(void)
{
	char c = 'x';
	report_rc(syscall(SYS_ioctl, 0, (unsigned long)TIOCSTI | (1UL << 32), &c));
}
static void p_ioctl_fionread(void) /* control: other ioctls work */
{
	int p[2], n = -1;
	if (pipe(p) < 0 || write(p[1], "ab", 2) != 2)
		return report_rc(-1);
	long rc = ioctl(p[0], FIONREAD, &n);
	char v[16];
	snprintf(v, sizeof(v), "%d", n);
	rc < 0 ? report_rc(rc) : report_value(v);
}
static void p_int80_i386(void)
{
	long ret;
	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(20 /* i386 getpid */) : "memory");
	errno = ret < 0 ? (int)-ret : 0;
	report_rc(ret < 0 ? -1 : ret);
}
static void p_x32_syscall(void)
{
	report_rc(syscall(0x40000000 | 39 /* x32 getpid */));
}
static void p_personality(void)
{
	report_rc(personality(READ_IMPLIES_EXEC));
}
static void p_personality_query(void)
{
	report_rc(personality(0xffffffff));
}

/* ---- network ---- */
static void p_socket_raw(void)
{
	report_rc(socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
}
static void p_socket_packet(void)
{
	report_rc(socket(AF_PACKET, SOCK_RAW, 0));
}
static void p_socket_alg(void)
{
	report_rc(socket(AF_ALG, SOCK_SEQPACKET, 0));
}
static void p_socket_vsock(void)
{
	report_rc(socket(AF_VSOCK, SOCK_STREAM, 0));
}
static void p_socket_netlink(void)
{
	report_rc(socket(AF_NETLINK, SOCK_RAW, 0));
}
static void p_socket_sctp(void)
{
	report_rc(socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP));
}
static void p_socket_ping(void)
{
	report_rc(socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP));
}
static void p_socket_tcp_udp(void) /* control: what a job needs */
{
	int a = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	int b = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	int sv[2];
	report_rc(a < 0 || b < 0 ? -1 : socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
}
static void p_connect_tcp(void) /* ARG: ip:port */
{
	char ip[64];
	snprintf(ip, sizeof(ip), "%s", probe_arg ? probe_arg : "127.0.0.1:1");
	char *colon = strrchr(ip, ':');
	*colon = '\0';
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)strtol(colon + 1, NULL, 10)) };
	inet_pton(AF_INET, ip, &a.sin_addr);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	report_rc(s < 0 ? s : connect(s, (struct sockaddr *)&a, sizeof(a)));
}
static void p_connect_abstract(void) /* ARG: abstract name */
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "%s", probe_arg ? probe_arg : "x");
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	socklen_t len =
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a.sun_path + 1));
	report_rc(s < 0 ? s : connect(s, (struct sockaddr *)&a, len));
}

/* ---- resources ---- */
static void p_fork_bomb(void)
{
	for (;;) {
		if (fork() < 0)
			usleep(1000);
	}
}
static void p_memory_bomb(void)
{
	for (;;) {
		char *p = malloc(1 << 20);
		if (p)
			memset(p, 1, 1 << 20);
	}
}
static void p_disk_fill(void)
{
	int fd = open("/work/fill", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	static char buf[65536];
	long rc = 0;
	while (fd >= 0 && (rc = write(fd, buf, sizeof(buf))) > 0)
		;
	report_rc(fd < 0 ? fd : rc);
}
static void p_file_size(void)
{
	signal(SIGXFSZ, SIG_DFL);
	int fd = open("/work/big", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	static char buf[65536];
	while (fd >= 0 && write(fd, buf, sizeof(buf)) > 0)
		;
	report_rc(-1);
}
static void p_fd_exhaustion(void)
{
	int n = 0;
	while (open("/dev/null", O_RDONLY | O_CLOEXEC) >= 0)
		n++;
	char v[64];
	snprintf(v, sizeof(v), "%s after %d", strerrorname_np(errno), n);
	report_value(v);
}
static void p_cpu_burn(void)
{
	for (volatile unsigned long i = 0;; i++)
		;
}
static void p_inherited_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	char out[256] = "";
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.' || strtol(de->d_name, NULL, 10) == dirfd(d))
			continue;
		size_t used = strlen(out), n = strnlen(de->d_name, 16);
		if (used + n + 2 > sizeof(out))
			break;
		memcpy(out + used, de->d_name, n);
		memcpy(out + used + n, " ", 2);
	}
	report_value(out);
}
static void p_identity(void)
{
	char v[256], map[64] = "";
	FILE *f = fopen("/proc/self/uid_map", "re");
	if (f && fgets(map, sizeof(map), f))
		map[strcspn(map, "\n")] = '\0';
	char host[64] = "";
	gethostname(host, sizeof(host));
	snprintf(v, sizeof(v), "uid=%d gid=%d host=%s map=%s", getuid(), getgid(), host, map);
	report_value(v);
}
static void p_cgroup_view(void)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char line[256], out[1024] = "";
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = ';';
		strncat(out, strchr(line, ':') ? strrchr(line, ':') + 1 : line,
			sizeof(out) - strlen(out) - 1);
	}
	report_value(out);
}

struct probe {
	const char *name;
	void (*fn)(void);
};

#define P(n)                                                                                       \
	{                                                                                          \
#n, p_##n                                                                          \
	}
static const struct probe probes[] = {
	P(host_shadow),
	P(host_root_home),
	P(host_home),
	P(host_run),
	P(create_in_root),
	P(mkdir_in_root),
	P(create_in_usr),
	P(write_usr_binary),
	P(write_proc_self_exe),
	P(proc_sys_hostname),
	P(proc_sys_core_pattern),
	P(proc_sys_drop_caches),
	P(proc_sysrq_trigger),
	P(proc_kcore),
	P(proc_oom_score_adj),
	P(proc_init_mem),
	P(proc_init_environ),
	P(proc_init_root),
	P(sys_write),
	P(sys_cgroup),
	P(dev_mem),
	P(dev_block),
	P(dev_kmsg),
	P(dev_create),
	P(mknod_char),
	P(mknodat_block),
	P(chown_root),
	P(mount_tmpfs),
	P(remount_rw),
	P(umount_usr),
	P(pivot_root),
	P(chroot),
	P(fsopen),
	P(open_tree),
	P(move_mount),
	P(mount_setattr),
	P(unshare_user),
	P(unshare_net),
	P(unshare_mount),
	P(clone_newuser),
	P(clone_newpid),
	P(clone3),
	P(setns_net),
	P(fork_once),
	P(exec_again),
	P(cap_sets),
	P(no_new_privs),
	P(setuid_root),
	P(setgroups),
	P(capset_all),
	P(ambient_raise),
	P(ptrace_init),
	P(process_vm_readv),
	P(pidfd_getfd),
	P(visible_pids),
	P(kill_host_pid),
	P(keyctl),
	P(add_key),
	P(request_key),
	P(bpf),
	P(perf_event_open),
	P(userfaultfd),
	P(io_uring),
	P(kexec_load),
	P(init_module),
	P(finit_module),
	P(delete_module),
	P(open_by_handle_at),
	P(name_to_handle_at),
	P(modify_ldt),
	P(iopl),
	P(ioperm),
	P(syslog),
	P(settimeofday),
	P(clock_settime),
	P(adjtimex),
	P(reboot),
	P(swapon),
	P(acct),
	P(sethostname),
	P(tiocsti),
	P(tiocsti_high_bits),
	P(ioctl_fionread),
	P(int80_i386),
	P(x32_syscall),
	P(personality),
	P(personality_query),
	P(socket_raw),
	P(socket_packet),
	P(socket_alg),
	P(socket_vsock),
	P(socket_netlink),
	P(socket_sctp),
	P(socket_ping),
	P(socket_tcp_udp),
	P(connect_tcp),
	P(connect_abstract),
	P(fork_bomb),
	P(memory_bomb),
	P(disk_fill),
	P(file_size),
	P(fd_exhaustion),
	P(cpu_burn),
	P(inherited_fds),
	P(identity),
	P(cgroup_view),
};

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && strcmp(argv[1], "--list") == 0) {
		for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
			printf("%s\n", probes[i].name);
		return 0;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: cordon-probe NAME [ARG] | --list\n");
		return 2;
	}
	probe_name = argv[1];
	probe_arg = argc > 2 ? argv[2] : NULL;
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		if (strcmp(probes[i].name, argv[1]) == 0) {
			probes[i].fn();
			fflush(stdout);
			return 0;
		}
	}
	fprintf(stderr, "cordon-probe: unknown probe %s\n", argv[1]);
	return 2;
}
