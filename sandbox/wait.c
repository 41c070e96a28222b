/* sandbox/wait.c — supervising a running container from outside.
 *
 * sbx_wait() is where every limit that the kernel does not end by itself is
 * enforced, and where the end reason is decided from what the caller saw:
 *   seccomp  a user notification from the payload's filter (the call never
 *            ran; its number and arch come from the kernel)
 *   wall     the monotonic clock
 *   cpu      the cgroup's CPU usage (RLIMIT_CPU is the per-process backstop)
 *   memory   an OOM kill counted by the cgroup
 *   pids     a fork refused by the pids cgroup (ends the container: a job
 *            that hits its process bound is not going to finish well)
 *   fsize    the payload died of SIGXFSZ (RLIMIT_FSIZE)
 * The payload's wait status comes from the init, which runs Cordon's code
 * only and which the payload cannot trace or signal.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/internal.h"

#define TICK_MS 20

static void end_it(struct sbx_child *ch, enum sbx_end why, int nr, uint32_t arch)
{
	pthread_mutex_lock(&ch->lock);
	if (!ch->killed) {
		ch->killed = true;
		ch->killed_for = why;
		ch->syscall_nr = nr;
		ch->syscall_arch = arch;
	}
	pthread_mutex_unlock(&ch->lock);
	/* The pidfd, not the pid: the init is not reaped before sbx_wait, but
	 * a pidfd can never hit a recycled pid. */
	syscall(SYS_pidfd_send_signal, ch->pidfd, SIGKILL, NULL, 0);
}

static bool is_killed(struct sbx_child *ch)
{
	pthread_mutex_lock(&ch->lock);
	bool k = ch->killed;
	pthread_mutex_unlock(&ch->lock);
	return k;
}

int sbx_kill(struct sbx_child *child, struct cmn_err *err)
{
	if (!child)
		return cmn_err_set(err, CMN_EINVAL, 0, "sbx_kill: no container");
	end_it(child, SBX_END_KILLED, 0, 0);
	return 0;
}

/* A stopped syscall: in the udf profile the payload's own first execve
 * when nobody let it pass yet (SBX_SUPERVISE_IN_WAIT); else a violation. */
static void on_notification(struct sbx_child *ch)
{
	struct seccomp_notif req;
	memset(&req, 0, sizeof(req));
	if (ioctl(ch->notify_fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
		return; /* the caller died meanwhile (ENOENT) */
	if (!ch->execve_passed && req.data.arch == AUDIT_ARCH_X86_64 &&
	    req.data.nr == __NR_execve) {
		struct seccomp_notif_resp resp = { .id = req.id,
						   .flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE };
		ch->execve_passed = true;
		if (ioctl(ch->notify_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) == 0)
			return;
	}
	end_it(ch, SBX_END_SECCOMP, req.data.nr, req.data.arch);
}

/* Drains the socket: READY may sit in front of STATUS, and with
 * SBX_SUPERVISE_IN_WAIT the listener arrives here too. */
static void read_msgs(struct sbx_child *ch)
{
	struct sbx_msg m;
	int fd;
	while (sbx_recv_msg(ch->sock, &m, &fd, MSG_DONTWAIT) == 0) {
		if (m.type == MSG_NOTIFY_FD && fd >= 0 && ch->notify_fd < 0) {
			ch->notify_fd = fd;
			fd = -1;
		}
		if (fd >= 0)
			close(fd);
		if (m.type == MSG_STATUS) {
			ch->have_status = true;
			ch->status = m.value;
		}
	}
}

/* SBX_SUPERVISE_IN_WAIT: an exec error arrives here instead of in sbx_spawn.
 * Read once the init is gone: every writer (the init before the fork, the
 * payload until its execve) is then gone too, so this never blocks, and the
 * supervisor is not woken when the payload execs. */
static void read_exec_error(struct sbx_child *ch)
{
	size_t used = 0;
	fcntl(ch->errpipe, F_SETFL, O_NONBLOCK); /* a hang is not an error message */
	while (used < sizeof(ch->exec_error) - 1) {
		ssize_t n =
		    read(ch->errpipe, ch->exec_error + used, sizeof(ch->exec_error) - 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	ch->exec_error[used] = '\0';
}

static void check_limits(struct sbx_child *ch)
{
	enum sbx_end event = sbx_cgroup_event(&ch->cg);
	if (event != SBX_END_EXIT)
		end_it(ch, event, 0, 0);
	else if (sbx_cgroup_cpu_ns(&ch->cg) >= ch->limits.cpu_time_ns)
		end_it(ch, SBX_END_CPU, 0, 0);
	else if (sbx_now_ns() - ch->start_ns >= ch->limits.wall_time_ns)
		end_it(ch, SBX_END_WALL, 0, 0);
}

/* The next limit check: one tick after the last, or the wall-time deadline
 * when that comes first. */
static uint64_t next_check(const struct sbx_child *ch, uint64_t now)
{
	uint64_t wall_end = ch->start_ns + ch->limits.wall_time_ns;
	uint64_t tick = now + TICK_MS * 1000000ULL;
	return wall_end < tick ? wall_end : tick;
}

static int ms_until(uint64_t deadline)
{
	uint64_t now = sbx_now_ns();
	return deadline <= now ? 0 : (int)((deadline - now + 999999) / 1000000);
}

/* A hung-up fd leaves the set (poll ignores negative fds) once drained: the
 * listener hangs up once no process uses the filter, the socket once the
 * init is gone. A socket whose peer is gone stays readable (POLLIN|POLLHUP
 * at EOF), so it leaves after its messages are read, else the loop would
 * spin while the kernel tears the container down on the other core. */
static void drop_hung_up(struct pollfd *p, bool *listener_gone)
{
	for (int i = 1; i < 3; i++) {
		bool hup = p[i].revents & (POLLHUP | POLLERR | POLLNVAL);
		if (hup && (i == 1 || !(p[i].revents & POLLIN))) {
			*listener_gone = *listener_gone || i == 2;
			p[i].fd = -1;
		}
	}
	if (p[0].revents & POLLIN)
		p[0].fd = -1;
}

/* Limits are read from the cgroup once per tick, not on every wake-up: a
 * start wakes the loop several times (listener, status, exit), and each
 * check opens three cgroup files. Nothing follows the payload's status on
 * the socket but the hang-up, so the socket leaves the set then: one
 * wake-up less while the init exits. */
static void supervise(struct sbx_child *ch)
{
	struct pollfd p[3] = { { ch->pidfd, POLLIN, 0 },
			       { ch->sock, POLLIN, 0 },
			       { ch->notify_fd, POLLIN, 0 } };
	bool listener_gone = false;
	uint64_t check_at = next_check(ch, sbx_now_ns());
	while (p[0].fd >= 0) {
		if (p[2].fd < 0 && !listener_gone)
			p[2].fd = ch->notify_fd; /* it may arrive on the socket */
		bool killed = is_killed(ch);
		int n = poll(p, 3, killed ? -1 : ms_until(check_at));
		if (n < 0 && errno != EINTR)
			break;
		if (n > 0 && (p[2].revents & POLLIN))
			on_notification(ch);
		if (n > 0 && (p[1].revents & POLLIN))
			read_msgs(ch);
		if (n > 0)
			drop_hung_up(p, &listener_gone);
		if (ch->have_status)
			p[1].fd = -1;
		uint64_t now = sbx_now_ns();
		if (!killed && p[0].fd >= 0 && now >= check_at) {
			check_limits(ch);
			check_at = next_check(ch, sbx_now_ns());
		}
	}
	read_msgs(ch);
	if (ch->errpipe >= 0)
		read_exec_error(ch);
}

static void *supervisor_main(void *arg)
{
	supervise(arg);
	return NULL;
}

/* A thread per container, so that a forbidden syscall or a limit ends the
 * container even while the caller is busy (e.g. blocked reading the
 * container's output, which would otherwise deadlock with a payload stopped
 * on a seccomp notification). It only watches; sbx_wait() reaps. */
int sbx_supervisor_start(struct sbx_child *ch, struct cmn_err *err)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old); /* the caller's signals stay the caller's */
	int rc = pthread_create(&ch->supervisor, NULL, supervisor_main, ch);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return cmn_err_set(err, CMN_EINTERNAL, rc, "pthread_create supervisor: %s",
				   strerror(rc));
	ch->supervisor_started = true;
	return 0;
}

/* The end for a payload that was not ended by us while we watched. A
 * refused fork or an OOM kill ends the container whether we saw it before
 * the payload gave up or only after: the limit is why it ended. */
static void classify(const struct sbx_child *ch, struct sbx_result *r)
{
	enum sbx_end cg_event = sbx_cgroup_event(&ch->cg);
	if (cg_event == SBX_END_PIDS || cg_event == SBX_END_MEMORY) {
		r->end = cg_event;
		r->signal = ch->have_status && WIFSIGNALED(ch->status) ? WTERMSIG(ch->status) : 0;
		r->exit_code =
		    ch->have_status && WIFEXITED(ch->status) ? WEXITSTATUS(ch->status) : 0;
		return;
	}
	if (!ch->have_status) {
		/* The init itself died: only an OOM kill or our SIGKILL do that. */
		r->end = cg_event == SBX_END_MEMORY ? SBX_END_MEMORY : SBX_END_SIGNAL;
		r->signal = SIGKILL;
		return;
	}
	int st = ch->status;
	if (WIFEXITED(st)) {
		r->end = SBX_END_EXIT;
		r->exit_code = WEXITSTATUS(st);
		return;
	}
	r->signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
	r->end = SBX_END_SIGNAL;
	if (r->signal == SIGKILL && cg_event == SBX_END_MEMORY)
		r->end = SBX_END_MEMORY;
	else if ((r->signal == SIGKILL || r->signal == SIGXCPU) &&
		 r->cpu_ns >= ch->limits.cpu_time_ns)
		r->end = SBX_END_CPU;
	else if (r->signal == SIGXFSZ)
		r->end = SBX_END_FSIZE;
}

int sbx_wait(struct sbx_child *child, struct sbx_result *result, struct cmn_err *err)
{
	memset(result, 0, sizeof(*result));
	if (!child)
		return cmn_err_set(err, CMN_EINVAL, 0, "sbx_wait: no container");
	if (child->supervisor_started)
		pthread_join(child->supervisor, NULL);
	else
		supervise(child);
	int st;
	while (waitpid(child->pid, &st, 0) < 0 && errno == EINTR)
		;
	result->wall_ns = sbx_now_ns() - child->start_ns;
	result->cpu_ns = sbx_cgroup_cpu_ns(&child->cg);
	result->peak_memory_bytes = sbx_cgroup_peak_memory(&child->cg);
	if (child->killed) {
		result->end = child->killed_for;
		result->signal = SIGKILL;
		if (child->killed_for == SBX_END_SECCOMP) {
			result->syscall_nr = child->syscall_nr;
			sbx_syscall_name(child->syscall_arch, child->syscall_nr,
					 result->syscall_name, sizeof(result->syscall_name));
		}
	} else {
		classify(child, result);
	}
	int rc = 0;
	if (child->exec_error[0])
		rc = cmn_err_set(err, CMN_EINTERNAL, 0, "sandbox start: %s", child->exec_error);
	if (sbx_cgroup_remove(&child->cg, rc < 0 ? NULL : err) < 0 && rc == 0)
		rc = cmn_err_wrap(err, "sandbox wait");
	child->cg.mem[0] = child->cg.pids[0] = child->cg.cpu[0] = '\0';
	close(child->pidfd);
	close(child->sock);
	if (child->notify_fd >= 0)
		close(child->notify_fd);
	if (child->errpipe >= 0)
		close(child->errpipe);
	pthread_mutex_destroy(&child->lock);
	free(child);
	return rc;
}
