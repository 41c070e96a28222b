/* tools/cmd_sandbox.c — `cordon sandbox run [options] -- CMD [ARGS...]`:
 * runs CMD in the same container every job node runs in (sandbox/), for operators
 * checking a host and for tests.
 *
 * Exit status: CMD's own; 128+N when it died of signal N (Cordon's kills
 * are SIGKILL, so 137); 125 when the container could not start; 2 on
 * usage errors. When Cordon ended it, one stderr line says why:
 * "cordon: sandbox: syscall ptrace (101) not allowed".
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/cli.h"
#include "sandbox/sandbox.h"
#include "tools/cmds.h"
#include "tools/sandbox_opts.h"

#define EXIT_SANDBOX_FAILED 125

static void usage(FILE *out)
{
	fprintf(out,
		"usage: cordon sandbox run [options] -- CMD [ARGS...]\n\n"
		"Runs CMD in a Cordon container: new user, pid, mount, ipc, uts, cgroup\n"
		"and net namespaces, a read-only root with /usr, a tmpfs /work, no\n"
		"capabilities, a seccomp allowlist, cgroup and rlimit limits.\n"
		"stdin, stdout and stderr are passed through (never as a controlling tty).\n\n");
	sandbox_opts_usage(out);
	fprintf(out, "\nexit status: CMD's; 128+N if it died of signal N; 125 if the container\n"
		     "could not start. When Cordon ended CMD, stderr says why.\n");
}

/* A bare name is looked up where the container's PATH looks. */
static const char *resolve(const char *cmd, char *buf, size_t len)
{
	if (strchr(cmd, '/'))
		return cmd;
	static const char *const dirs[] = { "/usr/local/bin", "/usr/bin", "/bin" };
	for (size_t i = 0; i < 3; i++) {
		snprintf(buf, len, "%s/%s", dirs[i], cmd);
		if (access(buf, X_OK) == 0)
			return buf;
	}
	return cmd;
}

static int run(struct sandbox_opts *o, char **cmd)
{
	struct cmn_err err = CMN_ERR_INIT;
	char path[4096];
	cmd[0] = (char *)(uintptr_t)resolve(cmd[0], path, sizeof(path));
	static const struct sbx_fd stdio[] = { { 0, 0 }, { 1, 1 }, { 2, 2 } };
	o->spec.argv = (const char *const *)cmd;
	o->spec.fds = stdio;
	o->spec.fd_count = 3;
	/* sbx_wait runs right away: no supervisor thread, fewer wake-ups. */
	o->spec.supervision = SBX_SUPERVISE_IN_WAIT;
	struct sbx_child *child;
	if (sbx_spawn(&o->spec, &child, &err) < 0) {
		fprintf(stderr, "cordon: sandbox: %s\n", err.msg);
		return EXIT_SANDBOX_FAILED;
	}
	struct sbx_result r;
	if (sbx_wait(child, &r, &err) < 0) {
		fprintf(stderr, "cordon: sandbox: %s\n", err.msg);
		return EXIT_SANDBOX_FAILED;
	}
	if (r.end != SBX_END_EXIT && r.end != SBX_END_SIGNAL) {
		char why[160];
		sbx_describe_end(&r, &o->spec.limits, why, sizeof(why));
		fprintf(stderr, "cordon: sandbox: %s\n", why);
	}
	if (o->report_path &&
	    sandbox_opts_write_report(o->report_path, &r, &o->spec.limits, &err) < 0) {
		fprintf(stderr, "cordon: sandbox: %s\n", err.msg);
		return EXIT_SANDBOX_FAILED;
	}
	return sandbox_opts_exit_status(&r);
}

static int cmd_run(int argc, char **argv)
{
	struct sandbox_opts o;
	struct cmn_err err = CMN_ERR_INIT;
	sandbox_opts_init(&o);
	int i = 1, rc = CMN_EXIT_USAGE;
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			rc = CMN_EXIT_OK;
			goto out;
		}
		int p = sandbox_opts_parse(&o, argc, argv, &i, &err);
		if (p < 0) {
			fprintf(stderr, "cordon: sandbox run: %s\n", err.msg);
			goto out;
		}
		if (p == 0) {
			if (argv[i][0] == '-') {
				fprintf(stderr, "cordon: sandbox run: unknown option %s\n",
					argv[i]);
				goto out;
			}
			break; /* CMD without "--" */
		}
	}
	if (i >= argc) {
		fprintf(stderr, "cordon: sandbox run: no command (cordon sandbox run -- CMD)\n");
		goto out;
	}
	if (sandbox_opts_finish(&o, &err) < 0) {
		fprintf(stderr, "cordon: sandbox run: %s\n", err.msg);
		goto out;
	}
	rc = run(&o, argv + i);
out:
	sandbox_opts_free(&o);
	return rc;
}

int cmd_sandbox(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return CMN_EXIT_OK;
	}
	usage(stderr);
	return CMN_EXIT_USAGE;
}
