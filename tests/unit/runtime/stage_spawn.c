/* cordon-stage-spawn: a test helper that starts `cordon-node stage` in a
 * container the way cordond does — through sbx_spawn, with the plan, inputs,
 * scripts and sink handed over as fds (which `cordon sandbox run` cannot
 * do: it passes stdio only).
 *
 *   cordon-stage-spawn udf|transform[:MEMORY_BYTES] NODE CHILD_FD=PATH[,w]...
 *
 * The plan must be one of the fds (the node is started with --plan-fd 3).
 * ",w" opens PATH for writing (the sink), otherwise it is read-only.
 * Exit: the node's status, or 125 with "ended: WHY" on stderr when the
 * container ended it (seccomp, a limit) or could not start it. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandbox/sandbox.h"

#define MAX_FDS 32

int main(int argc, char **argv)
{
	struct sbx_fd fds[MAX_FDS + 2];
	size_t nfd = 0;
	struct sbx_spec spec;
	struct sbx_bind bind = { NULL, NULL, false };
	struct sbx_child *child = NULL;
	struct sbx_result res;
	struct cmn_err err = CMN_ERR_INIT;
	const char *envp[] = { "PATH=/usr/bin:/bin", "TMPDIR=/work", NULL };
	const char *nargv[] = { NULL, "stage", "--plan-fd", "3", NULL };
	char why[256], *node_dir, *colon;
	unsigned long long memory = 0;

	colon = argc > 1 ? strchr(argv[1], ':') : NULL;
	if (colon) {
		*colon = '\0';
		memory = strtoull(colon + 1, NULL, 10);
	}
	if (argc < 4 || argc - 3 > MAX_FDS ||
	    (strcmp(argv[1], "udf") != 0 && strcmp(argv[1], "transform") != 0)) {
		fprintf(stderr, "usage: cordon-stage-spawn udf|transform NODE FD=PATH[,w]...\n");
		return 2;
	}
	for (int i = 3; i < argc; i++) {
		char *eq = strchr(argv[i], '='), *end;
		size_t len;
		long child_fd;
		int fd, wr;

		if (!eq)
			return 2;
		*eq = '\0';
		child_fd = strtol(argv[i], &end, 10);
		if (*end || child_fd < 3 || child_fd > 1000)
			return 2;
		len = strlen(eq + 1);
		wr = len > 2 && strcmp(eq + 1 + len - 2, ",w") == 0;
		if (wr)
			eq[1 + len - 2] = '\0';
		fd = open(eq + 1,
			  wr ? O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC : O_RDONLY | O_CLOEXEC,
			  0600);
		if (fd < 0) {
			perror(eq + 1);
			return 2;
		}
		fds[nfd++] = (struct sbx_fd){ fd, (int)child_fd };
	}
	fds[nfd++] = (struct sbx_fd){ 1, 1 };
	fds[nfd++] = (struct sbx_fd){ 2, 2 };
	nargv[0] = argv[2];
	node_dir = strdup(argv[2]);
	if (!node_dir)
		return 2;
	bind.src = dirname(node_dir); /* the build dir is not under /usr */
	sbx_spec_init(&spec);
	spec.argv = nargv;
	spec.envp = envp;
	spec.fds = fds;
	spec.fd_count = nfd;
	spec.binds = &bind;
	spec.bind_count = 1;
	spec.profile = strcmp(argv[1], "udf") == 0 ? SBX_PROFILE_UDF : SBX_PROFILE_TRANSFORM;
	spec.net = SBX_NET_NONE;
	spec.limits.memory_bytes = memory;
	fflush(stdout);
	if (sbx_spawn(&spec, &child, &err) < 0 || sbx_wait(child, &res, &err) < 0) {
		fprintf(stderr, "ended: %s\n", err.msg);
		free(node_dir);
		return 125;
	}
	free(node_dir);
	if (res.end == SBX_END_EXIT)
		return res.exit_code;
	sbx_describe_end(&res, &spec.limits, why, sizeof(why));
	fprintf(stderr, "ended: %s\n", why[0] ? why : sbx_end_name(res.end));
	return 125;
}
