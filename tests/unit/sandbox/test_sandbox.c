/* Unit tests of sandbox/: sbx_spawn/sbx_wait through the public header (and
 * internal.h for the built-in seccomp programs only),
 * running real containers (/bin/sh inside). Needs root or unprivileged user
 * namespaces plus a writable cgroup hierarchy, as sbx_spawn itself. */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/audit.h>
#include <seccomp.h>

#include "sandbox/internal.h"
#include "sandbox/sandbox.h"

struct run {
	struct sbx_result r;
	char out[4096];
};

/* Runs `sh -c script` with stdout captured through a pipe passed as fd 1.
 * Reads to EOF before sbx_wait(): the container's supervisor thread must end
 * a payload stopped on a seccomp notification while the caller is blocked. */
static int run_sh(struct sbx_spec *spec, const char *script, struct run *out, struct cmn_err *err)
{
	const char *argv[] = { "/bin/sh", "-c", script, NULL };
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	struct sbx_fd fds[SBX_MAX_FDS];
	size_t n = 0;
	for (size_t i = 0; i < spec->fd_count; i++)
		fds[n++] = spec->fds[i];
	fds[n++] = (struct sbx_fd){ p[1], 1 };
	fds[n++] = (struct sbx_fd){ 2, 2 };
	const struct sbx_fd *saved_fds = spec->fds;
	size_t saved_count = spec->fd_count;
	spec->argv = argv;
	spec->fds = fds;
	spec->fd_count = n;
	struct sbx_child *child = NULL;
	int rc = sbx_spawn(spec, &child, err);
	spec->fds = saved_fds;
	spec->fd_count = saved_count;
	close(p[1]);
	if (rc < 0) {
		print_error("sbx_spawn: %s\n", err->msg);
		close(p[0]);
		return rc;
	}
	size_t got = 0;
	ssize_t k;
	while ((k = read(p[0], out->out + got, sizeof(out->out) - 1 - got)) > 0)
		got += (size_t)k;
	out->out[got] = '\0';
	close(p[0]);
	rc = sbx_wait(child, &out->r, err);
	if (rc < 0)
		print_error("sbx_wait: %s\n", err->msg);
	return rc;
}

static void test_exit_code_and_output(void **state)
{
	struct sbx_spec spec;
	struct run run;
	struct cmn_err err = CMN_ERR_INIT;
	sbx_spec_init(&spec);
	assert_int_equal(run_sh(&spec, "echo hello; exit 7", &run, &err), 0);
	assert_int_equal(run.r.end, SBX_END_EXIT);
	assert_int_equal(run.r.exit_code, 7);
	assert_string_equal(run.out, "hello\n");
	assert_true(run.r.wall_ns > 0);
}

static void test_identity_and_isolation(void **state)
{
	struct sbx_spec spec;
	struct run run;
	struct cmn_err err = CMN_ERR_INIT;
	sbx_spec_init(&spec);
	assert_int_equal(run_sh(&spec,
				"id -u; hostname; pwd; grep -c . /proc/self/uid_map;"
				" grep CapEff /proc/self/status; grep NoNewPrivs /proc/self/status;"
				" set -- /proc/[0-9]*; echo $#",
				&run, &err),
			 0);
	assert_int_equal(run.r.end, SBX_END_EXIT);
	/* uid 1000, own hostname, cwd /work, one mapped id, no caps, NNP, and
	 * only this container's processes: the init and sh (a glob, not
	 * `ls | grep`, whose count depended on whether grep was forked yet). */
	assert_string_equal(run.out, "1000\ncordon\n/work\n1\nCapEff:\t0000000000000000\n"
				     "NoNewPrivs:\t1\n2\n");
}

static void test_signal(void **state)
{
	struct sbx_spec spec;
	struct run run;
	struct cmn_err err = CMN_ERR_INIT;
	sbx_spec_init(&spec);
	assert_int_equal(run_sh(&spec, "kill -TERM $$", &run, &err), 0);
	assert_int_equal(run.r.end, SBX_END_SIGNAL);
	assert_int_equal(run.r.signal, SIGTERM);
}

static void test_fds_passed_and_others_closed(void **state)
{
	struct sbx_spec spec;
	struct run run;
	struct cmn_err err = CMN_ERR_INIT;
	sbx_spec_init(&spec);
	int leaked = open("/dev/null", O_RDONLY); /* no O_CLOEXEC on purpose */
	assert_true(leaked >= 0);
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	struct sbx_fd fds[] = { { p[1], 5 } };
	spec.fds = fds;
	spec.fd_count = 1;
	assert_int_equal(
	    run_sh(&spec, "echo via5 >&5; ls /proc/self/fd | sort -n | tr '\\n' ' '", &run, &err),
	    0);
	close(p[1]);
	char buf[64] = "";
	assert_true(read(p[0], buf, sizeof(buf) - 1) > 0);
	close(p[0]);
	close(leaked);
	assert_string_equal(buf, "via5\n");
	/* 0-2 (0 as /dev/null), 5, and ls's own directory fd 3. */
	assert_string_equal(run.out, "0 1 2 3 5 ");
}

static void test_binds(void **state)
{
	char dir[] = "/tmp/cordon-sbx-test-XXXXXX";
	assert_non_null(mkdtemp(dir));
	/* Sources are opened as the caller; inside, access is the container's
	 * (nobody on the host): the dir must be readable by it. */
	assert_int_equal(chmod(dir, 0755), 0);
	char file[256], rwdir[128];
	snprintf(file, sizeof(file), "%s/data", dir);
	snprintf(rwdir, sizeof(rwdir), "%s/rw", dir);
	FILE *f = fopen(file, "w");
	assert_non_null(f);
	fputs("bound\n", f);
	fclose(f);
	assert_int_equal(mkdir(rwdir, 0777), 0);
	assert_int_equal(chmod(rwdir, 0777), 0);
	struct sbx_bind binds[] = { { dir, "/in/ro", false }, { rwdir, "/work/rw", true } };
	struct sbx_spec spec;
	struct run run;
	struct cmn_err err = CMN_ERR_INIT;
	sbx_spec_init(&spec);
	spec.binds = binds;
	spec.bind_count = 2;
	assert_int_equal(run_sh(&spec,
				"cat /in/ro/data; touch /in/ro/x 2>/dev/null || echo ro;"
				" echo w > /work/rw/out && echo rw",
				&run, &err),
			 0);
	assert_string_equal(run.out, "bound\nro\nrw\n");
	snprintf(file, sizeof(file), "%s/out", rwdir);
	assert_int_equal(unlink(file), 0);
	assert_int_equal(rmdir(rwdir), 0);
	snprintf(file, sizeof(file), "%s/data", dir);
	assert_int_equal(unlink(file), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void test_seccomp_named_from_outside(void **state)
{
	struct sbx_spec spec;
	struct run run;
	struct cmn_err err = CMN_ERR_INIT;
	sbx_spec_init(&spec);
	spec.profile = SBX_PROFILE_UDF; /* no new processes: sh's fork is fatal */
	assert_int_equal(run_sh(&spec, "/bin/true; echo survived", &run, &err), 0);
	assert_int_equal(run.r.end, SBX_END_SECCOMP);
	assert_string_equal(run.r.syscall_name, "vfork");
	assert_int_equal(run.r.syscall_nr, 58);
	assert_string_equal(run.out, "");
	char why[128];
	sbx_describe_end(&run.r, &spec.limits, why, sizeof(why));
	assert_string_equal(why, "syscall vfork (58) not allowed");
}

static void test_wall_limit(void **state)
{
	struct sbx_spec spec;
	struct run run;
	struct cmn_err err = CMN_ERR_INIT;
	sbx_spec_init(&spec);
	spec.limits.wall_time_ns = 200000000ULL;
	assert_int_equal(run_sh(&spec, "sleep 30", &run, &err), 0);
	assert_int_equal(run.r.end, SBX_END_WALL);
	char why[128];
	sbx_describe_end(&run.r, &spec.limits, why, sizeof(why));
	assert_string_equal(why, "wall time limit 200ms reached");
}

static void test_kill(void **state)
{
	const char *argv[] = { "/bin/sleep", "30", NULL };
	struct sbx_spec spec;
	struct cmn_err err = CMN_ERR_INIT;
	sbx_spec_init(&spec);
	spec.argv = argv;
	struct sbx_child *child;
	assert_int_equal(sbx_spawn(&spec, &child, &err), 0);
	assert_true(sbx_child_pid(child) > 0);
	assert_int_equal(sbx_kill(child, &err), 0);
	struct sbx_result r;
	assert_int_equal(sbx_wait(child, &r, &err), 0);
	assert_int_equal(r.end, SBX_END_KILLED);
}

static void test_join_netns(void **state)
{
	/* A netns of our own, held by a child that unshared it. */
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t holder = fork();
	assert_true(holder >= 0);
	if (holder == 0) {
		char c;
		if (unshare(CLONE_NEWNET) < 0)
			_exit(1);
		close(p[1]);
		if (read(p[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(p[0]);
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)holder);
	int fd = -1;
	struct stat want, before;
	assert_int_equal(stat("/proc/self/ns/net", &before), 0);
	for (int i = 0; i < 1000; i++) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		assert_true(fd >= 0);
		assert_int_equal(fstat(fd, &want), 0);
		if (want.st_ino != before.st_ino)
			break;
		close(fd);
		fd = -1;
		usleep(1000);
	}
	assert_true(fd >= 0);
	struct sbx_spec spec;
	struct run run;
	struct cmn_err err = CMN_ERR_INIT;
	sbx_spec_init(&spec);
	spec.net = SBX_NET_JOIN;
	spec.netns_fd = fd;
	assert_int_equal(run_sh(&spec, "stat -L -c %i /proc/self/ns/net", &run, &err), 0);
	char expect[32];
	snprintf(expect, sizeof(expect), "%lu\n", (unsigned long)want.st_ino);
	assert_string_equal(run.out, expect);
	/* The caller's thread is back in its own netns. */
	struct stat after;
	assert_int_equal(stat("/proc/thread-self/ns/net", &after), 0);
	assert_int_equal(after.st_ino, before.st_ino);
	close(fd);
	close(p[1]);
	waitpid(holder, NULL, 0);
}

/* The pre-forked path: prepare ahead, start with argv and fds later. */
static void test_prepare_then_start(void **state)
{
	struct sbx_spec spec;
	struct cmn_err err = CMN_ERR_INIT;
	sbx_spec_init(&spec);
	spec.profile = SBX_PROFILE_UDF;
	spec.limits.wall_time_ns = 30ULL * 1000000000ULL;
	struct sbx_child *child;
	assert_int_equal(sbx_prepare(&spec, &child, &err), 0);
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	const char *argv[] = { "/bin/echo", "started", NULL };
	struct sbx_fd fds[] = { { p[1], 1 } };
	assert_int_equal(sbx_start(child, argv, NULL, fds, 1, &err), 0);
	close(p[1]);
	char buf[64] = "";
	assert_true(read(p[0], buf, sizeof(buf) - 1) > 0);
	close(p[0]);
	struct sbx_result r;
	assert_int_equal(sbx_wait(child, &r, &err), 0);
	assert_int_equal(r.end, SBX_END_EXIT);
	assert_string_equal(buf, "started\n");
}

static void test_prepared_but_unused(void **state)
{
	struct sbx_spec spec;
	struct cmn_err err = CMN_ERR_INIT;
	sbx_spec_init(&spec);
	struct sbx_child *child;
	assert_int_equal(sbx_prepare(&spec, &child, &err), 0);
	assert_int_equal(sbx_kill(child, &err), 0);
	struct sbx_result r;
	assert_int_equal(sbx_wait(child, &r, &err), 0);
	assert_int_equal(r.end, SBX_END_KILLED);
	/* A bad start frees the child and says why. */
	assert_int_equal(sbx_prepare(&spec, &child, &err), 0);
	const char *rel[] = { "echo", NULL };
	assert_int_equal(sbx_start(child, rel, NULL, NULL, 0, &err), -1);
	assert_int_equal(err.code, CMN_EINVAL);
}

/* SBX_SUPERVISE_IN_WAIT: no thread; sbx_wait lets the udf start through,
 * names violations and reports exec errors. */
static void test_supervise_in_wait(void **state)
{
	struct sbx_spec spec;
	struct cmn_err err = CMN_ERR_INIT;
	struct sbx_child *child;
	struct sbx_result r;
	sbx_spec_init(&spec);
	spec.supervision = SBX_SUPERVISE_IN_WAIT;
	spec.profile = SBX_PROFILE_UDF;
	const char *ok[] = { "/bin/true", NULL };
	spec.argv = ok;
	assert_int_equal(sbx_spawn(&spec, &child, &err), 0);
	assert_int_equal(sbx_wait(child, &r, &err), 0);
	assert_int_equal(r.end, SBX_END_EXIT);
	assert_int_equal(r.exit_code, 0);
	const char *forks[] = { "/bin/sh", "-c", "/bin/true; /bin/true", NULL };
	spec.argv = forks;
	assert_int_equal(sbx_spawn(&spec, &child, &err), 0);
	assert_int_equal(sbx_wait(child, &r, &err), 0);
	assert_int_equal(r.end, SBX_END_SECCOMP);
	assert_string_equal(r.syscall_name, "vfork");
	const char *missing[] = { "/nonexistent", NULL };
	spec.argv = missing;
	assert_int_equal(sbx_spawn(&spec, &child, &err), 0);
	assert_int_equal(sbx_wait(child, &r, &err), -1);
	assert_non_null(strstr(err.msg, "execve /nonexistent: No such file or directory"));
}

/* cordond spawns from several threads at once: each container gets its own
 * fds, its own end and its own output. */
static void *spawn_many(void *arg)
{
	intptr_t id = (intptr_t)arg;
	for (int i = 0; i < 10; i++) {
		char script[64], want[32];
		snprintf(script, sizeof(script), "echo t%ld-%d; exit %d", (long)id, i, i);
		snprintf(want, sizeof(want), "t%ld-%d\n", (long)id, i);
		struct sbx_spec spec;
		struct run run;
		struct cmn_err err = CMN_ERR_INIT;
		sbx_spec_init(&spec);
		if (run_sh(&spec, script, &run, &err) < 0 || run.r.end != SBX_END_EXIT ||
		    run.r.exit_code != i || strcmp(run.out, want) != 0)
			return (void *)1;
	}
	return NULL;
}

static void test_concurrent_spawns_from_threads(void **state)
{
	pthread_t t[4];
	for (intptr_t i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, spawn_many, (void *)i), 0);
	for (int i = 0; i < 4; i++) {
		void *rc;
		assert_int_equal(pthread_join(t[i], &rc), 0);
		assert_null(rc);
	}
}

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	while (d && readdir(d))
		n++;
	closedir(d);
	return n;
}

/* 200 runs through the library: the caller keeps no fd, no child, no thread
 * of any of them (cgroups, mounts and host processes: test_sandbox_leaks.py). */
static void test_200_runs_leave_the_caller_clean(void **state)
{
	const char *argv[] = { "/bin/true", NULL };
	struct sbx_spec spec;
	struct cmn_err err = CMN_ERR_INIT;
	sbx_spec_init(&spec);
	spec.argv = argv;
	int fds_before = count_fds();
	for (int i = 0; i < 200; i++) {
		struct sbx_child *child;
		struct sbx_result r;
		assert_int_equal(sbx_spawn(&spec, &child, &err), 0);
		assert_int_equal(sbx_wait(child, &r, &err), 0);
		assert_int_equal(r.end, SBX_END_EXIT);
	}
	assert_int_equal(count_fds(), fds_before);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	char buf[4096];
	FILE *f = fopen("/proc/self/status", "re");
	assert_non_null(f);
	while (fgets(buf, sizeof(buf), f)) {
		if (strncmp(buf, "Threads:", 8) == 0)
			assert_string_equal(buf, "Threads:\t1\n");
	}
	fclose(f);
}

static void test_spec_checks(void **state)
{
	struct sbx_spec spec;
	struct sbx_child *child;
	struct cmn_err err = CMN_ERR_INIT;
	const char *rel[] = { "sh", NULL };
	sbx_spec_init(&spec);
	spec.argv = rel;
	assert_int_equal(sbx_spawn(&spec, &child, &err), -1);
	assert_int_equal(err.code, CMN_EINVAL);
	assert_null(child);
	const char *abs[] = { "/bin/true", NULL };
	struct sbx_bind bad[] = { { "/etc", "/proc/x", false } };
	spec.argv = abs;
	spec.binds = bad;
	spec.bind_count = 1;
	assert_int_equal(sbx_spawn(&spec, &child, &err), -1);
	assert_non_null(strstr(err.msg, "reserved"));
	struct sbx_bind dotdot[] = { { "/etc/../root", NULL, false } };
	spec.binds = dotdot;
	assert_int_equal(sbx_spawn(&spec, &child, &err), -1);
	spec.bind_count = 0;
	const char *missing[] = { "/nonexistent/prog", NULL };
	spec.argv = missing;
	assert_int_equal(sbx_spawn(&spec, &child, &err), -1);
	assert_non_null(strstr(err.msg, "execve /nonexistent/prog"));
}

/* An init that fails early (here: a bind source that does not exist) may
 * be gone before the caller sends it the cgroup or the start; the error is
 * still the init's own, whichever send found it gone. */
static void test_early_init_failure_names_its_cause(void **state)
{
	const char *argv[] = { "/bin/true", NULL };
	struct sbx_bind missing[] = { { "/nonexistent-cordon-bind", NULL, false } };
	for (int i = 0; i < 20; i++) {
		struct sbx_spec spec;
		struct sbx_child *child = NULL;
		struct cmn_err err = CMN_ERR_INIT;
		sbx_spec_init(&spec);
		spec.argv = argv;
		spec.binds = missing;
		spec.bind_count = 1;
		spec.supervision = i % 2 ? SBX_SUPERVISE_IN_WAIT : SBX_SUPERVISE_THREAD;
		int rc = sbx_spawn(&spec, &child, &err);
		if (rc == 0) {
			struct sbx_result r;
			rc = sbx_wait(child, &r, &err);
		}
		assert_int_equal(rc, -1);
		assert_non_null(strstr(err.msg, "stat bind source /nonexistent-cordon-bind"));
	}
}

/* The built-in BPF is what the rules of seccomp_policy.c compile to now. */
static void test_builtin_bpf_matches_the_policy(void **state)
{
	for (int p = SBX_PROFILE_TRANSFORM; p <= SBX_PROFILE_UDF; p++) {
		struct sock_fprog fresh;
		struct cmn_err err = CMN_ERR_INIT;
		assert_int_equal(sbx_policy_compile((enum sbx_profile)p, &fresh, &err), 0);
		assert_int_equal(fresh.len, sbx_bpf_generated[p].len);
		assert_memory_equal(fresh.filter, sbx_bpf_generated[p].filter,
				    fresh.len * sizeof(struct sock_filter));
		free(fresh.filter);
	}
}

/* The built-in syscall names are libseccomp's, for every number of the
 * three x86 ABIs (and "unknown" where libseccomp knows none). */
static void test_builtin_syscall_names_match_libseccomp(void **state)
{
	static const struct {
		uint32_t audit, scmp;
		int bit;
		const char *prefix;
	} abis[] = { { AUDIT_ARCH_X86_64, SCMP_ARCH_X86_64, 0, "" },
		     { AUDIT_ARCH_I386, SCMP_ARCH_X86, 0, "i386 " },
		     { AUDIT_ARCH_X86_64, SCMP_ARCH_X32, SBX_X32_BIT, "x32 " } };
	int named = 0;
	for (size_t a = 0; a < 3; a++) {
		for (int i = 0; i < 4096; i++) {
			char *name =
			    seccomp_syscall_resolve_num_arch(abis[a].scmp, abis[a].bit | i);
			char want[64], got[64];
			snprintf(want, sizeof(want), "%s%s", abis[a].prefix,
				 name ? name : "unknown");
			sbx_syscall_name(abis[a].audit, abis[a].bit | i, got, sizeof(got));
			assert_string_equal(got, want);
			named += name != NULL;
			free(name);
		}
	}
	assert_true(named > 1000);
	char buf[64];
	sbx_syscall_name(AUDIT_ARCH_X86_64, 101, buf, sizeof(buf));
	assert_string_equal(buf, "ptrace");
	sbx_syscall_name(AUDIT_ARCH_X86_64, 5000, buf, sizeof(buf));
	assert_string_equal(buf, "unknown");
}

static void write_text(const char *dir, const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* Which hierarchy: v2 when the caller's unified cgroup offers memory and
 * pids, else v1 (a hybrid host like the test machine mounts v2 without
 * them), from mountinfo and /proc/self/cgroup stand-ins. The v2 limit
 * files themselves need a host with v2 controllers. */
static void test_cgroup_hierarchy_choice(void **state)
{
	char dir[] = "/tmp/cordon-cg-test-XXXXXX", sub[600], mi[4096], want[1024];
	assert_non_null(mkdtemp(dir));
	snprintf(mi, sizeof(mi),
		 "30 25 0:26 / %s/unified rw,relatime shared:9 - cgroup2 cgroup2 rw\n"
		 "31 25 0:27 / %s/memory rw,relatime - cgroup cgroup rw,memory\n"
		 "32 25 0:28 / %s/pids rw,relatime - cgroup cgroup rw,pids\n"
		 "33 25 0:29 / %s/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n",
		 dir, dir, dir, dir);
	write_text(dir, "mountinfo", mi);
	write_text(dir, "cgroup", "4:memory:/a/b\n8:pids:/\n2:cpu,cpuacct:/\n0::/user/x\n");
	static const char *const levels[] = { "unified", "unified/user", "unified/user/x" };
	for (size_t i = 0; i < 3; i++) {
		snprintf(sub, sizeof(sub), "%s/%s", dir, levels[i]);
		assert_int_equal(mkdir(sub, 0755), 0);
	}
	char mpath[600], cpath[600];
	snprintf(mpath, sizeof(mpath), "%s/mountinfo", dir);
	snprintf(cpath, sizeof(cpath), "%s/cgroup", dir);
	struct sbx_cgroup_bases b;
	struct cmn_err err = CMN_ERR_INIT;

	/* Hybrid: v2 mounted, but its controllers are not memory and pids. */
	write_text(sub, "cgroup.controllers", "hugetlb\n");
	assert_int_equal(sbx_cgroup_find_bases(mpath, cpath, &b, &err), 0);
	assert_string_equal(b.v2, "");
	snprintf(want, sizeof(want), "%s/memory/a/b/cordon-sbx", dir);
	assert_string_equal(b.v1[0], want);
	snprintf(want, sizeof(want), "%s/pids/cordon-sbx", dir);
	assert_string_equal(b.v1[1], want);
	snprintf(want, sizeof(want), "%s/cpu,cpuacct/cordon-sbx", dir);
	assert_string_equal(b.v1[2], want);

	/* v2 with the controllers in the caller's own cgroup: v2 only. */
	write_text(sub, "cgroup.controllers", "cpuset cpu io memory pids\n");
	assert_int_equal(sbx_cgroup_find_bases(mpath, cpath, &b, &err), 0);
	snprintf(want, sizeof(want), "%s/unified/user/x/cordon-sbx", dir);
	assert_string_equal(b.v2, want);
	assert_string_equal(b.v1[0], "");

	/* Neither: no v2 controllers and no v1 pids hierarchy. */
	write_text(sub, "cgroup.controllers", "memory\n");
	write_text(dir, "cgroup", "4:memory:/\n2:cpu,cpuacct:/\n0::/user/x\n");
	assert_int_equal(sbx_cgroup_find_bases(mpath, cpath, &b, &err), -1);
	assert_non_null(strstr(err.msg, "no v1 pids hierarchy"));

	char path[700];
	snprintf(path, sizeof(path), "%s/cgroup.controllers", sub);
	assert_int_equal(unlink(path), 0);
	for (size_t i = 3; i-- > 0;) {
		snprintf(path, sizeof(path), "%s/%s", dir, levels[i]);
		assert_int_equal(rmdir(path), 0);
	}
	assert_int_equal(unlink(mpath), 0);
	assert_int_equal(unlink(cpath), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void test_names(void **state)
{
	assert_string_equal(sbx_end_name(SBX_END_SECCOMP), "seccomp");
	assert_string_equal(sbx_end_name(SBX_END_FSIZE), "fsize");
	struct sbx_result r;
	memset(&r, 0, sizeof(r));
	struct sbx_limits l;
	memset(&l, 0, sizeof(l));
	l.memory_bytes = 64ULL << 20;
	r.end = SBX_END_MEMORY;
	char why[128];
	sbx_describe_end(&r, &l, why, sizeof(why));
	assert_string_equal(why, "memory limit 64M reached");
	r.end = SBX_END_PIDS;
	sbx_describe_end(&r, &l, why, sizeof(why));
	assert_string_equal(why, "pids limit 64 reached");
	struct sbx_limits eff;
	sbx_limits_effective(&l, &eff);
	assert_int_equal(eff.memory_bytes, 64ULL << 20);
	assert_int_equal(eff.wall_time_ns, SBX_DEFAULT_WALL_TIME_NS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_code_and_output),
		cmocka_unit_test(test_identity_and_isolation),
		cmocka_unit_test(test_signal),
		cmocka_unit_test(test_fds_passed_and_others_closed),
		cmocka_unit_test(test_binds),
		cmocka_unit_test(test_seccomp_named_from_outside),
		cmocka_unit_test(test_wall_limit),
		cmocka_unit_test(test_kill),
		cmocka_unit_test(test_join_netns),
		cmocka_unit_test(test_spec_checks),
		cmocka_unit_test(test_prepare_then_start),
		cmocka_unit_test(test_prepared_but_unused),
		cmocka_unit_test(test_supervise_in_wait),
		cmocka_unit_test(test_concurrent_spawns_from_threads),
		cmocka_unit_test(test_200_runs_leave_the_caller_clean),
		cmocka_unit_test(test_early_init_failure_names_its_cause),
		cmocka_unit_test(test_builtin_bpf_matches_the_policy),
		cmocka_unit_test(test_builtin_syscall_names_match_libseccomp),
		cmocka_unit_test(test_cgroup_hierarchy_choice),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
