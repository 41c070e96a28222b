/* sandbox/spawn.c — starts a container: the ordered list of steps.
 *
 * Processes:  caller (supervisor, outside)
 *               └─ init   pid 1 of the new pid ns; builds the container,
 *                  │      then only reaps and reports the payload's status
 *                  └─ payload  pid 2; takes its fds, loads seccomp, execve
 *
 * Caller                               init (clone with new user, pid, mount,
 *                                      ipc, uts [, net] ns)
 *  1 check spec, compile filter        1 close every fd not in the spec
 *  2 gc leftovers, create cgroup       2 wait for GO; (v1) join the cgroup
 *  3 [join netns on this thread]       3 open the binds (as the caller)
 *  4 clone                             4 become the inner uid/gid
 *  5 write uid/gid map, (v2) attach    5 new cgroup ns, lo up, hostname
 *  6 GO                                6 build the root, pivot_root
 *  7 receive the seccomp listener      7 rlimits, setsid, drop all caps,
 *  8 udf: let the first execve pass      no_new_privs, not dumpable
 *  9 wait for the exec (error pipe     8 die with the caller (PDEATHSIG)
 *    closes) or its error              9 fork the payload: fds, seccomp,
 * 10 start the supervisor thread         send the listener, execve
 *                                     10 reap; report the payload's status
 * Children report failures as text on the error pipe and _exit(127).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "sandbox/internal.h"

struct ctx {
	const struct sbx_spec *spec;
	struct sbx_limits lim;
	struct sbx_ids ids;
	const struct sbx_filter *filter;
	const struct sbx_cgroup *cg;
	int sock;    /* child end */
	int errpipe; /* write end */
};

static const char *const default_env[] = { "PATH=/usr/local/bin:/usr/bin:/bin", NULL };

void sbx_spec_init(struct sbx_spec *spec)
{
	memset(spec, 0, sizeof(*spec));
	spec->netns_fd = -1;
}

void sbx_limits_effective(const struct sbx_limits *lim, struct sbx_limits *out)
{
	*out = *lim;
	sbx_limits_fill_defaults(out);
}

pid_t sbx_child_pid(const struct sbx_child *child)
{
	return child ? child->pid : -1;
}

static _Noreturn void child_fail(int errpipe, struct cmn_err *err)
{
	size_t len = strnlen(err->msg, sizeof(err->msg));
	if (write(errpipe, err->msg, len) < 0)
		_exit(126);
	_exit(127);
}

static int send_fd(int sock, int fd, struct cmn_err *err)
{
	struct sbx_msg m = { MSG_NOTIFY_FD, 0 };
	struct iovec iov = { &m, sizeof(m) };
	char cbuf[CMSG_SPACE(sizeof(int))];
	memset(cbuf, 0, sizeof(cbuf));
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	if (sendmsg(sock, &mh, MSG_NOSIGNAL) < 0)
		return cmn_err_sys(err, "sendmsg seccomp listener");
	return 0;
}

static _Noreturn void payload_main(struct ctx *c)
{
	struct cmn_err err = CMN_ERR_INIT;
	int keep[2] = { c->sock, c->errpipe };
	if (setsid() < 0) {
		cmn_err_sys(&err, "setsid");
		child_fail(c->errpipe, &err);
	}
	if (child_install_fds(c->spec, keep, 2, &err) < 0)
		child_fail(c->errpipe, &err);
	c->sock = keep[0];
	c->errpipe = keep[1];
	int nfd = child_seccomp_load(c->filter, &err);
	if (nfd < 0 || send_fd(c->sock, nfd, &err) < 0)
		child_fail(c->errpipe, &err);
	close(nfd);
	close(c->sock);
	const char *const *envp = c->spec->envp ? c->spec->envp : default_env;
	/* execve's prototype predates const; it does not write either array. */
	union {
		const char *const *in;
		char *const *out;
	} av = { c->spec->argv }, ev = { envp };
	execve(c->spec->argv[0], av.out, ev.out);
	cmn_err_sys(&err, "execve %s", c->spec->argv[0]);
	child_fail(c->errpipe, &err);
}

/* pid 1: what is left after the payload starts. Exits when the payload
 * does; the kernel then kills whatever else runs in the pid ns. */
static _Noreturn void init_reap(int sock, pid_t payload)
{
	for (;;) {
		int status;
		pid_t p = waitpid(-1, &status, 0);
		if (p < 0 && errno == EINTR)
			continue;
		if (p < 0)
			_exit(125);
		if (p == payload) {
			struct sbx_msg m = { MSG_STATUS, status };
			if (send(sock, &m, sizeof(m), MSG_NOSIGNAL) < 0)
				_exit(124);
			_exit(0);
		}
	}
}

/* The kernel clears the parent-death signal on every credential change, so
 * it is armed after the last one; a caller that died before that has closed
 * its end of the socket. */
static int die_with_caller(int sock, struct cmn_err *err)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		return cmn_err_sys(err, "prctl PR_SET_PDEATHSIG");
	struct pollfd p = { sock, POLLIN, 0 };
	if (poll(&p, 1, 0) > 0 && (p.revents & POLLHUP))
		_exit(122);
	return 0;
}

static int init_setup(struct ctx *c, struct cmn_err *err)
{
	int keep[2] = { c->sock, c->errpipe };
	struct sbx_msg go;
	struct sbx_mount_plan plan;
	if (child_close_unlisted(c->spec, keep, 2, err) < 0)
		return -1;
	if (recv(c->sock, &go, sizeof(go), 0) != sizeof(go) || go.type != MSG_GO)
		_exit(123); /* the caller gave up */
	if (child_cgroup_join(c->cg, err) < 0)
		return cmn_err_wrap(err, "cgroup");
	if (child_open_binds(c->spec, &plan, err) < 0)
		return cmn_err_wrap(err, "root");
	if (child_become_inner(&c->ids, err) < 0 || child_raise_effective(err) < 0)
		return -1;
	if (unshare(CLONE_NEWCGROUP) < 0)
		return cmn_err_sys(err, "unshare CLONE_NEWCGROUP");
	if (c->spec->net == SBX_NET_LOOPBACK && child_loopback_up(err) < 0)
		return -1;
	if (sethostname(SBX_HOSTNAME, sizeof(SBX_HOSTNAME) - 1) < 0)
		return cmn_err_sys(err, "sethostname");
	if (child_build_root(c->spec, &c->lim, &plan, err) < 0)
		return cmn_err_wrap(err, "root");
	if (child_set_rlimits(&c->lim, err) < 0)
		return -1;
	if (setsid() < 0)
		return cmn_err_sys(err, "setsid");
	if (child_drop_caps(err) < 0 || child_no_new_privs(err) < 0)
		return -1;
	return die_with_caller(c->sock, err);
}

static _Noreturn void init_main(struct ctx *c)
{
	struct cmn_err err = CMN_ERR_INIT;
	if (init_setup(c, &err) < 0)
		child_fail(c->errpipe, &err);
	/* A raw clone: the caller may be threaded, glibc's fork() would run
	 * its atfork handlers and take locks that another thread held. */
	pid_t payload = (pid_t)syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, 0);
	if (payload < 0) {
		cmn_err_sys(&err, "clone payload");
		child_fail(c->errpipe, &err);
	}
	if (payload == 0)
		payload_main(c);
	close(c->errpipe);
	init_reap(c->sock, payload);
}

static int check_path(const char *what, const char *p, struct cmn_err *err)
{
	if (!p || p[0] != '/' || strstr(p, "/../") || strstr(p, "/./") ||
	    strcmp(p + strlen(p) - (strlen(p) >= 3 ? 3 : 0), "/..") == 0)
		return cmn_err_set(err, CMN_EINVAL, 0, "%s must be an absolute path without ..: %s",
				   what, p ? p : "(null)");
	return 0;
}

static int check_spec(const struct sbx_spec *spec, struct cmn_err *err)
{
	if (!spec->argv || !spec->argv[0] || check_path("argv[0]", spec->argv[0], err) < 0)
		return cmn_err_set(err, CMN_EINVAL, 0,
				   "argv[0] must be an absolute path inside the container");
	if (spec->bind_count > SBX_MAX_BINDS || spec->fd_count > SBX_MAX_FDS)
		return cmn_err_set(err, CMN_EINVAL, 0, "at most %d binds and %d fds", SBX_MAX_BINDS,
				   SBX_MAX_FDS);
	for (size_t i = 0; i < spec->bind_count; i++) {
		const char *dst = spec->binds[i].dst ? spec->binds[i].dst : spec->binds[i].src;
		if (check_path("bind source", spec->binds[i].src, err) < 0 ||
		    check_path("bind target", dst, err) < 0)
			return -1;
		if (strcmp(dst, "/") == 0 || strncmp(dst, "/proc", 5) == 0 ||
		    strncmp(dst, "/dev", 4) == 0)
			return cmn_err_set(err, CMN_EINVAL, 0, "bind target %s is reserved", dst);
	}
	for (size_t i = 0; i < spec->fd_count; i++) {
		if (spec->fds[i].parent_fd < 0 || spec->fds[i].child_fd < 0 ||
		    spec->fds[i].child_fd > 1023 || fcntl(spec->fds[i].parent_fd, F_GETFD) < 0)
			return cmn_err_set(err, CMN_EINVAL, 0, "fd %d -> %d is not valid",
					   spec->fds[i].parent_fd, spec->fds[i].child_fd);
		for (size_t j = 0; j < i; j++) {
			if (spec->fds[j].child_fd == spec->fds[i].child_fd)
				return cmn_err_set(err, CMN_EINVAL, 0, "fd %d passed twice",
						   spec->fds[i].child_fd);
		}
	}
	if (spec->net == SBX_NET_JOIN && spec->netns_fd < 0)
		return cmn_err_set(err, CMN_EINVAL, 0, "SBX_NET_JOIN without a netns fd");
	if (spec->cwd && check_path("cwd", spec->cwd, err) < 0)
		return -1;
	return 0;
}

static int do_clone(struct ctx *c, struct sbx_child *ch, struct cmn_err *err)
{
	unsigned long flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC |
			      CLONE_NEWUTS | CLONE_PIDFD | SIGCHLD;
	int saved_ns = -1;
	if (c->spec->net != SBX_NET_JOIN)
		flags |= CLONE_NEWNET;
	else if (sbx_netns_enter(c->spec->netns_fd, &saved_ns, err) < 0)
		return -1;
	int pidfd = -1;
	long pid = syscall(SYS_clone, flags, NULL, &pidfd, NULL, 0);
	if (pid == 0)
		init_main(c);
	int clone_errno = errno;
	if (saved_ns >= 0 && sbx_netns_leave(saved_ns, err) < 0) {
		if (pid > 0) {
			kill((pid_t)pid, SIGKILL);
			waitpid((pid_t)pid, NULL, 0);
		}
		return -1;
	}
	if (pid < 0) {
		errno = clone_errno;
		return cmn_err_sys(err, "clone user+pid+mount+ipc+uts%s namespaces",
				   c->spec->net == SBX_NET_JOIN ? "" : "+net");
	}
	ch->pid = (pid_t)pid;
	ch->pidfd = pidfd;
	return 0;
}

static int recv_listener(int sock, int *fd_out)
{
	struct sbx_msg m;
	struct iovec iov = { &m, sizeof(m) };
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	struct cmsghdr *c = n == sizeof(m) ? CMSG_FIRSTHDR(&mh) : NULL;
	if (!c || m.type != MSG_NOTIFY_FD || c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(fd_out, CMSG_DATA(c), sizeof(int));
	return 0;
}

/* udf profile: execve is not in the filter, so the payload's own execve
 * reaches us first; it is the only one ever let through. */
static int pass_first_execve(struct sbx_child *ch, struct cmn_err *err)
{
	struct seccomp_notif req;
	struct seccomp_notif_resp resp;
	struct pollfd p[2] = { { ch->notify_fd, POLLIN, 0 }, { ch->sock, POLLIN, 0 } };
	if (poll(p, 2, -1) < 0 || !(p[0].revents & POLLIN))
		return cmn_err_set(err, CMN_EINTERNAL, 0, "payload ended before its execve");
	memset(&req, 0, sizeof(req));
	if (ioctl(ch->notify_fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
		return cmn_err_sys(err, "ioctl SECCOMP_IOCTL_NOTIF_RECV");
	if (req.data.arch != AUDIT_ARCH_X86_64 || req.data.nr != __NR_execve)
		return cmn_err_set(err, CMN_EINTERNAL, 0, "payload made syscall %d before execve",
				   req.data.nr);
	memset(&resp, 0, sizeof(resp));
	resp.id = req.id;
	resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	if (ioctl(ch->notify_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0)
		return cmn_err_sys(err, "ioctl SECCOMP_IOCTL_NOTIF_SEND continue execve");
	return 0;
}

/* Steps 6-9 of the caller: GO, listener, first execve, exec result. */
static int handshake(struct sbx_child *ch, const struct ctx *c, int errpipe, struct cmn_err *err)
{
	struct sbx_msg go = { MSG_GO, 0 };
	if (send(ch->sock, &go, sizeof(go), MSG_NOSIGNAL) != sizeof(go))
		return cmn_err_sys(err, "send GO to the container");
	bool got = recv_listener(ch->sock, &ch->notify_fd) == 0;
	if (got && c->spec->profile == SBX_PROFILE_UDF && pass_first_execve(ch, err) < 0)
		return -1;
	char msg[CMN_ERR_MSG_MAX];
	ssize_t n;
	do
		n = read(errpipe, msg, sizeof(msg) - 1);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		msg[n] = '\0';
		return cmn_err_set(err, CMN_EINTERNAL, 0, "%s", msg);
	}
	if (!got)
		return cmn_err_set(err, CMN_EINTERNAL, 0, "the container ended during setup");
	return 0;
}

static void child_free(struct sbx_child *ch)
{
	if (ch->pidfd >= 0)
		close(ch->pidfd);
	if (ch->sock >= 0)
		close(ch->sock);
	if (ch->notify_fd >= 0)
		close(ch->notify_fd);
	sbx_cgroup_remove(&ch->cg, NULL);
	pthread_mutex_destroy(&ch->lock);
	free(ch);
}

static void abort_child(struct sbx_child *ch)
{
	if (ch->pid > 0) {
		kill(ch->pid, SIGKILL);
		while (waitpid(ch->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	child_free(ch);
}

int sbx_spawn(const struct sbx_spec *spec, struct sbx_child **out, struct cmn_err *err)
{
	struct ctx c = { .spec = spec, .sock = -1, .errpipe = -1 };
	*out = NULL;
	if (check_spec(spec, err) < 0 || sbx_ids_choose(&c.ids, err) < 0 ||
	    sbx_filter_get(spec->profile, &c.filter, err) < 0)
		return cmn_err_wrap(err, "sandbox spawn");
	sbx_limits_effective(&spec->limits, &c.lim);
	struct sbx_child *ch = calloc(1, sizeof(*ch));
	if (!ch)
		return cmn_err_set(err, CMN_ENOMEM, ENOMEM, "sandbox spawn: out of memory");
	ch->pidfd = ch->sock = ch->notify_fd = -1;
	pthread_mutex_init(&ch->lock, NULL);
	ch->limits = c.lim;
	ch->start_ns = sbx_now_ns();
	if (sbx_cgroup_gc(err) < 0 || sbx_cgroup_create(&ch->cg, &c.lim, err) < 0) {
		pthread_mutex_destroy(&ch->lock);
		free(ch);
		return cmn_err_wrap(err, "sandbox spawn");
	}
	int sv[2], ep[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		cmn_err_sys(err, "socketpair");
		goto fail;
	}
	ch->sock = sv[0];
	if (pipe2(ep, O_CLOEXEC) < 0) {
		close(sv[1]);
		cmn_err_sys(err, "pipe2");
		goto fail;
	}
	c.sock = sv[1];
	c.errpipe = ep[1];
	c.cg = &ch->cg;
	int rc = do_clone(&c, ch, err);
	close(sv[1]);
	close(ep[1]);
	cleanup_close int errpipe = ep[0];
	if (rc < 0 || sbx_userns_map(ch->pid, &c.ids, err) < 0 ||
	    (ch->cg.v2 && sbx_cgroup_attach(&ch->cg, ch->pid, err) < 0) ||
	    handshake(ch, &c, errpipe, err) < 0 || sbx_supervisor_start(ch, err) < 0)
		goto fail;
	*out = ch;
	return 0;
fail:
	abort_child(ch);
	return cmn_err_wrap(err, "sandbox spawn %s", spec->argv[0]);
}
