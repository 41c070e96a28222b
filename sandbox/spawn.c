/* sandbox/spawn.c — starts a container: the ordered list of steps.
 *
 * Processes:  caller (supervisor, outside)
 *               └─ init   pid 1 of the new pid ns; builds the container,
 *                  │      then only reaps and reports the payload's status
 *                  └─ payload  pid 2; takes its fds, loads seccomp, execve
 *
 * Caller                               init (clone with new user, pid, mount,
 *                                      ipc, uts [, net] ns)
 *  1 check spec, pick the filter       1 setsid; close every fd but its channels
 *  2 [join netns on this thread]       2 wait for GO
 *  3 clone                             3 open the binds (as the caller)
 *  4 write uid/gid map; GO             4 become the inner uid/gid; lo up,
 *  5 gc leftovers, create the cgroup,    hostname
 *    (v2) attach the init; CGROUP      5 build the root, pivot_root
 *  6 [sbx_spawn: send the start]       6 wait for CGROUP; (v1) join it; new
 *                                        cgroup ns
 *  7 wait for READY: sbx_prepare       7 rlimits, drop all caps,
 *    ends here                           no_new_privs, not dumpable
 *  8 sbx_start: send argv, envp, fds   8 die with the caller (PDEATHSIG)
 *  9 wait for the exec (error pipe     9 fork the payload; READY
 *    EOF) or its error; take the      10 exec cordon-reap (reap.c says why),
 *    listener (udf: let the first        which reaps and reports the
 *                                        payload's status
 *    execve pass); start the          payload: own pgrp, seccomp, send the
 *    supervisor thread                listener; wait for the start; fds, execve
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
	int sock;           /* child end */
	int errpipe;        /* write end */
	int reap_fd;        /* cordon-reap's memfd */
	struct sbx_run run; /* in the init: what MSG_START brought */
	bool start_follows; /* in the init: GO said the start is queued (no READY) */
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

static _Noreturn void payload_main(struct ctx *c)
{
	struct cmn_err err = CMN_ERR_INIT;
	int keep[2] = { c->sock, c->errpipe };
	/* The init's session, without a controlling terminal, is inherited.
	 * Not a session leader, the payload never gets one by opening a tty;
	 * its own process group keeps kill(0, ...) to itself. No second
	 * setsid: each moves its process to a new scheduler autogroup, whose
	 * reschedule costs milliseconds on a busy host. */
	if (setpgid(0, 0) < 0) {
		cmn_err_sys(&err, "setpgid");
		child_fail(c->errpipe, &err);
	}
	/* The filter goes on before the wait for work, so a start only moves
	 * fds and execs; what runs under it meanwhile is this code, whose every
	 * call (recvmsg, dup2, close_range, open, sendmsg) is in the list. */
	int nfd = child_seccomp_load(c->filter, &err);
	if (nfd < 0 || sbx_send_fd(c->sock, MSG_NOTIFY_FD, nfd, &err) < 0)
		child_fail(c->errpipe, &err);
	close(nfd);
	/* Parked here until the caller hands over the work (sbx_start). */
	if (child_recv_start(c->sock, &c->run, &err) < 0)
		child_fail(c->errpipe, &err);
	if (child_install_fds(&c->run, keep, 2, &err) < 0)
		child_fail(keep[1], &err);
	c->sock = keep[0];
	c->errpipe = keep[1];
	close(c->sock);
	if (child_set_nofile(&c->lim, &err) < 0)
		child_fail(c->errpipe, &err);
	const char *const *envp = c->run.envp[0] ? c->run.envp : default_env;
	/* execve's prototype predates const; it does not write either array. */
	union {
		const char *const *in;
		char *const *out;
	} av = { c->run.argv }, ev = { envp };
	execve(c->run.argv[0], av.out, ev.out);
	cmn_err_sys(&err, "execve %s", c->run.argv[0]);
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

static void format_int(char *out, size_t size, long v)
{
	char tmp[24];
	size_t n = 0;
	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) > 0 && n < sizeof(tmp));
	size_t i = 0;
	for (; n > 0 && i + 1 < size; i++)
		out[i] = tmp[--n];
	out[i] = '\0';
}

/* Init step 10: become cordon-reap, so that no page of the caller stays
 * shared with this process for as long as the payload runs. Returns only
 * if the exec failed; init_reap then does the same work in place. */
static void exec_reaper(int reap_fd, int sock, pid_t payload)
{
	char name[] = "cordon-reap", sock_text[16], pid_text[16];
	format_int(sock_text, sizeof(sock_text), sock);
	format_int(pid_text, sizeof(pid_text), payload);
	char *argv[] = { name, sock_text, pid_text, NULL };
	char *envp[] = { NULL };
	if (reap_fd < 0 || fcntl(sock, F_SETFD, 0) < 0)
		return;
	syscall(SYS_execveat, reap_fd, "", argv, envp, AT_EMPTY_PATH);
	fcntl(sock, F_SETFD, FD_CLOEXEC);
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
	int keep[3] = { c->sock, c->errpipe, c->reap_fd };
	struct sbx_msg go;
	struct sbx_mount_plan plan;
	int cg_fds[SBX_MSG_MAX_FDS];
	size_t cg_n = 0;
	/* First: the new session also means a new scheduler autogroup, and
	 * the reschedule that follows overlaps the caller's writing of the id
	 * maps instead of delaying the setup. */
	if (setsid() < 0)
		return cmn_err_sys(err, "setsid");
	if (child_close_all_but(keep, c->reap_fd >= 0 ? 3 : 2, err) < 0)
		return -1;
	if (recv(c->sock, &go, sizeof(go), 0) != sizeof(go) || go.type != MSG_GO)
		_exit(123); /* the caller gave up */
	c->start_follows = go.value == 1;
	if (child_open_binds(c->spec, &plan, err) < 0)
		return cmn_err_wrap(err, "root");
	if (child_become_inner(&c->ids, err) < 0 || child_raise_effective(err) < 0)
		return -1;
	if (c->spec->net == SBX_NET_LOOPBACK && child_loopback_up(err) < 0)
		return -1;
	if (sethostname(SBX_HOSTNAME, sizeof(SBX_HOSTNAME) - 1) < 0)
		return cmn_err_sys(err, "sethostname");
	if (child_build_root(c->spec, &c->lim, &plan, err) < 0)
		return cmn_err_wrap(err, "root");
	/* The cgroup is joined as late as this, so that the caller, making it
	 * meanwhile, is done before the init asks; still before the cgroup ns
	 * is made (its root) and before the payload exists: what ran so far is
	 * this code only. */
	if (child_recv_fds(c->sock, MSG_CGROUP, cg_fds, &cg_n, err) < 0 ||
	    child_cgroup_join(cg_fds, cg_n, err) < 0)
		return cmn_err_wrap(err, "cgroup");
	if (unshare(CLONE_NEWCGROUP) < 0)
		return cmn_err_sys(err, "unshare CLONE_NEWCGROUP");
	if (child_set_rlimits(&c->lim, err) < 0)
		return -1;
	if (child_drop_caps(err) < 0 || child_no_new_privs(err) < 0)
		return -1;
	return die_with_caller(c->sock, err);
}

static _Noreturn void init_main(struct ctx *c)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct sbx_msg ready = { MSG_READY, 0 };
	if (init_setup(c, &err) < 0)
		child_fail(c->errpipe, &err);
	/* The payload is forked now and waits for its work, so that a start
	 * (sbx_start) wakes one process. A raw clone: the caller may be threaded, glibc's fork()
	 * would run its atfork handlers and take locks that another thread held. */
	pid_t payload = (pid_t)syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, 0);
	if (payload < 0) {
		cmn_err_sys(&err, "clone payload");
		child_fail(c->errpipe, &err);
	}
	if (payload == 0)
		payload_main(c);
	close(c->errpipe);
	/* READY is for sbx_prepare; after sbx_spawn it would only wake the
	 * caller for nothing. */
	if (!c->start_follows &&
	    send(c->sock, &ready, sizeof(ready), MSG_NOSIGNAL) != sizeof(ready))
		_exit(123);
	exec_reaper(c->reap_fd, c->sock, payload);
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

static int check_run(const struct sbx_run *run, struct cmn_err *err)
{
	if (!run->argv || !run->argv[0] || check_path("argv[0]", run->argv[0], err) < 0)
		return cmn_err_set(err, CMN_EINVAL, 0,
				   "argv[0] must be an absolute path inside the container");
	if (run->fd_count > SBX_MAX_FDS)
		return cmn_err_set(err, CMN_EINVAL, 0, "at most %d fds", SBX_MAX_FDS);
	for (size_t i = 0; i < run->fd_count; i++) {
		if (run->fds[i].parent_fd < 0 || run->fds[i].child_fd < 0 ||
		    run->fds[i].child_fd > 1023 || fcntl(run->fds[i].parent_fd, F_GETFD) < 0)
			return cmn_err_set(err, CMN_EINVAL, 0, "fd %d -> %d is not valid",
					   run->fds[i].parent_fd, run->fds[i].child_fd);
		for (size_t j = 0; j < i; j++) {
			if (run->fds[j].child_fd == run->fds[i].child_fd)
				return cmn_err_set(err, CMN_EINVAL, 0, "fd %d passed twice",
						   run->fds[i].child_fd);
		}
	}
	return 0;
}

static int check_spec(const struct sbx_spec *spec, struct cmn_err *err)
{
	if (spec->bind_count > SBX_MAX_BINDS)
		return cmn_err_set(err, CMN_EINVAL, 0, "at most %d binds", SBX_MAX_BINDS);
	for (size_t i = 0; i < spec->bind_count; i++) {
		const char *dst = spec->binds[i].dst ? spec->binds[i].dst : spec->binds[i].src;
		if (check_path("bind source", spec->binds[i].src, err) < 0 ||
		    check_path("bind target", dst, err) < 0)
			return -1;
		if (strcmp(dst, "/") == 0 || strncmp(dst, "/proc", 5) == 0 ||
		    strncmp(dst, "/dev", 4) == 0)
			return cmn_err_set(err, CMN_EINVAL, 0, "bind target %s is reserved", dst);
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

/* udf profile: execve is not in the filter, so the payload's own execve
 * reaches us first; it is the only one ever let through. */
static int pass_first_execve(struct sbx_child *ch, struct cmn_err *err)
{
	struct seccomp_notif req;
	struct seccomp_notif_resp resp;
	/* Only the listener tells: POLLIN is the execve, POLLHUP that the
	 * payload (the filter's only user) is gone. The init's socket is not
	 * watched here: a status message on it raced the execve's
	 * notification and failed healthy starts under load. */
	struct pollfd p = { ch->notify_fd, POLLIN, 0 };
	int n;
	do
		n = poll(&p, 1, -1);
	while (n < 0 && errno == EINTR);
	if (n < 0 || !(p.revents & POLLIN))
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

/* Reads the error pipe: EOF (0) once every writer is gone, or a message. */
static int read_errpipe(int fd, struct cmn_err *err)
{
	char msg[CMN_ERR_MSG_MAX];
	ssize_t n;
	do
		n = read(fd, msg, sizeof(msg) - 1);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return 0;
	msg[n] = '\0';
	return cmn_err_set(err, CMN_EINTERNAL, 0, "%s", msg);
}

static void child_free(struct sbx_child *ch)
{
	if (ch->pidfd >= 0)
		close(ch->pidfd);
	if (ch->sock >= 0)
		close(ch->sock);
	if (ch->notify_fd >= 0)
		close(ch->notify_fd);
	if (ch->errpipe >= 0)
		close(ch->errpipe);
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

static struct sbx_child *child_new(const struct ctx *c)
{
	struct sbx_child *ch = calloc(1, sizeof(*ch));
	if (!ch)
		return NULL;
	ch->pidfd = ch->sock = ch->notify_fd = ch->errpipe = -1;
	pthread_mutex_init(&ch->lock, NULL);
	ch->limits = c->lim;
	ch->profile = c->spec->profile;
	ch->supervision = c->spec->supervision;
	ch->execve_passed = ch->profile != SBX_PROFILE_UDF;
	ch->start_ns = sbx_now_ns();
	return ch;
}

/* The next message of `type` from the container; READY and STATUS that
 * arrive first are recorded (the init and the payload write the same
 * socket, so their order is not fixed). -1 when the container hung up. */
static int next_msg(struct sbx_child *ch, int type)
{
	for (;;) {
		int fd = -1;
		struct sbx_msg m;
		if (sbx_recv_msg(ch->sock, &m, &fd, 0) < 0)
			return -1;
		if (m.type == MSG_NOTIFY_FD && fd >= 0 && ch->notify_fd < 0)
			ch->notify_fd = fd;
		else if (fd >= 0)
			close(fd);
		if (m.type == MSG_STATUS) {
			ch->have_status = true;
			ch->status = m.value;
		}
		if (m.type == type)
			return 0;
	}
}

/* Caller step 2, while the init builds the container: the cgroup (and
 * the GC of leftovers) costs the caller ~0.5 ms that no longer delays the
 * init. MSG_CGROUP tells the init it may join. */
static int make_cgroup(struct ctx *c, struct sbx_child *ch, struct cmn_err *err)
{
	int fds[3];
	size_t n = 0;
	if (sbx_cgroup_gc(err) < 0 || sbx_cgroup_create(&ch->cg, &c->lim, err) < 0 ||
	    (ch->cg.v2 && sbx_cgroup_attach(&ch->cg, ch->pid, err) < 0) ||
	    sbx_cgroup_open_tasks(&ch->cg, fds, &n, err) < 0)
		return -1;
	int rc = sbx_send_fds(ch->sock, MSG_CGROUP, fds, n, err);
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
	return rc;
}

/* A send to a container whose init already failed (say, a bind source
 * that does not exist) breaks the pipe; the init's own message says why.
 * The broken pipe means the init (and any payload) closed the socket, so
 * they are exiting and the error pipe reaches its end right away. */
static int init_failed_first(struct sbx_child *ch, struct cmn_err *err)
{
	if (err->sys_errno == EPIPE || err->sys_errno == ECONNRESET)
		read_errpipe(ch->errpipe, err);
	return -1;
}

/* Caller steps 4-7. With a run (sbx_spawn), the start is sent right behind
 * GO instead of waiting for READY: one round trip less. */
static int launch(struct ctx *c, struct sbx_child *ch, const struct sbx_run *run,
		  struct cmn_err *err)
{
	int sv[2], ep[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return cmn_err_sys(err, "socketpair");
	ch->sock = sv[0];
	if (pipe2(ep, O_CLOEXEC) < 0) {
		close(sv[1]);
		return cmn_err_sys(err, "pipe2");
	}
	ch->errpipe = ep[0];
	c->sock = sv[1];
	c->errpipe = ep[1];
	/* Without it the init stays a clone of the caller (init_reap): slower
	 * for the caller, not less safe. */
	c->reap_fd = sbx_reap_memfd(NULL);
	int rc = do_clone(c, ch, err);
	close(sv[1]);
	close(ep[1]);
	if (c->reap_fd >= 0)
		close(c->reap_fd);
	struct sbx_msg m = { MSG_GO, run ? 1 : 0 };
	if (rc < 0 || sbx_userns_map(ch->pid, &c->ids, err) < 0)
		return -1;
	if (send(ch->sock, &m, sizeof(m), MSG_NOSIGNAL) != sizeof(m)) {
		cmn_err_sys(err, "send GO to the container");
		return init_failed_first(ch, err);
	}
	if (make_cgroup(c, ch, err) < 0 || (run && sbx_send_start(ch->sock, run, err) < 0))
		return init_failed_first(ch, err);
	if (run)
		return 0;
	if (next_msg(ch, MSG_READY) == 0 &&
	    (ch->notify_fd >= 0 || next_msg(ch, MSG_NOTIFY_FD) == 0))
		return 0;
	if (read_errpipe(ch->errpipe, err) < 0)
		return -1;
	return cmn_err_set(err, CMN_EINTERNAL, 0, "the container ended during setup");
}

static int prepare(const struct sbx_spec *spec, const struct sbx_run *run, struct sbx_child **out,
		   struct cmn_err *err)
{
	struct ctx c = { .spec = spec, .sock = -1, .errpipe = -1, .reap_fd = -1 };
	*out = NULL;
	if (check_spec(spec, err) < 0 || sbx_ids_choose(&c.ids, err) < 0 ||
	    sbx_filter_get(spec->profile, &c.filter, err) < 0)
		return -1;
	sbx_limits_effective(&spec->limits, &c.lim);
	struct sbx_child *ch = child_new(&c);
	if (!ch)
		return cmn_err_set(err, CMN_ENOMEM, ENOMEM, "out of memory");
	if (launch(&c, ch, run, err) < 0) {
		abort_child(ch);
		return -1;
	}
	*out = ch;
	return 0;
}

int sbx_prepare(const struct sbx_spec *spec, struct sbx_child **out, struct cmn_err *err)
{
	return prepare(spec, NULL, out, err) < 0 ? cmn_err_wrap(err, "sandbox prepare") : 0;
}

/* Caller steps 8-9: the start is already sent when `sent`. */
static int start(struct sbx_child *ch, const struct sbx_run *run, bool sent, struct cmn_err *err)
{
	if (ch->started)
		return cmn_err_set(err, CMN_EINVAL, 0, "container already started");
	ch->started = true;
	if (!sent && sbx_send_start(ch->sock, run, err) < 0)
		return -1;
	if (ch->supervision == SBX_SUPERVISE_IN_WAIT) {
		ch->start_ns = sbx_now_ns();
		return 0; /* sbx_wait takes the listener, the execve, the errors */
	}
	bool udf = ch->profile == SBX_PROFILE_UDF;
	/* transform: the listener is queued before the execve; waiting for the
	 * exec first saves a wake-up. udf: the execve waits for us. */
	if (!udf && read_errpipe(ch->errpipe, err) < 0)
		return -1;
	bool got = ch->notify_fd >= 0 || next_msg(ch, MSG_NOTIFY_FD) == 0;
	if (got && udf && pass_first_execve(ch, err) < 0)
		return -1;
	ch->execve_passed = true;
	if (udf && read_errpipe(ch->errpipe, err) < 0)
		return -1;
	if (!got)
		return cmn_err_set(err, CMN_EINTERNAL, 0, "the container ended before its start");
	close(ch->errpipe);
	ch->errpipe = -1;
	ch->start_ns = sbx_now_ns(); /* the wall clock counts the work, not the setup */
	return sbx_supervisor_start(ch, err);
}

int sbx_start(struct sbx_child *child, const char *const *argv, const char *const *envp,
	      const struct sbx_fd *fds, size_t fd_count, struct cmn_err *err)
{
	struct sbx_run run = { argv, envp, fds, fd_count };
	if (!child)
		return cmn_err_set(err, CMN_EINVAL, 0, "sbx_start: no container");
	if (check_run(&run, err) < 0 || start(child, &run, false, err) < 0) {
		abort_child(child);
		return cmn_err_wrap(err, "sandbox start %s", argv && argv[0] ? argv[0] : "(null)");
	}
	return 0;
}

int sbx_spawn(const struct sbx_spec *spec, struct sbx_child **out, struct cmn_err *err)
{
	struct sbx_run run = { spec->argv, spec->envp, spec->fds, spec->fd_count };
	struct sbx_child *ch;
	*out = NULL;
	if (check_run(&run, err) < 0 || prepare(spec, &run, &ch, err) < 0)
		return cmn_err_wrap(err, "sandbox spawn %s",
				    spec->argv && spec->argv[0] ? spec->argv[0] : "(null)");
	if (start(ch, &run, true, err) < 0) {
		abort_child(ch);
		return cmn_err_wrap(err, "sandbox spawn %s", spec->argv[0]);
	}
	*out = ch;
	return 0;
}
