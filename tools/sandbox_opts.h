/* tools/sandbox_opts.h — the container options shared by `cordon sandbox
 * run` and `cordon overlay run` (and any command that starts a container):
 *   --profile udf|transform   --ro-bind SRC[:DST]   --bind SRC[:DST]
 *   --tmpfs-size SIZE  --memory SIZE  --pids N  --cpu-time DUR  --wall-time DUR
 *   --nofile N  --fsize SIZE  --net none|loopback  --netns PATH  --env K=V
 *   --report FILE
 * Each also accepts --opt=VALUE. Usage:
 *   struct sandbox_opts o; sandbox_opts_init(&o);
 *   for each argv[i]: rc = sandbox_opts_parse(&o, argc, argv, &i, &err);
 *       (1: consumed argv[i] and maybe its value, 0: not a container option)
 *   sandbox_opts_finish(&o, &err);   then o.spec is ready (argv still to set)
 *   ... sbx_spawn(&o.spec, ...) ...; sandbox_opts_write_report(...); sandbox_opts_free(&o);
 */
#ifndef TOOLS_SANDBOX_OPTS_H
#define TOOLS_SANDBOX_OPTS_H

#include <stdio.h>

#include "common/err.h"
#include "sandbox/sandbox.h"

#define SANDBOX_OPTS_MAX_ENV 64

struct sandbox_opts {
	struct sbx_spec spec; /* binds, envp, net, netns_fd, profile, limits filled */
	struct sbx_bind binds[SBX_MAX_BINDS];
	char *owned[SBX_MAX_BINDS];                /* strdup'd bind specs */
	const char *env[SANDBOX_OPTS_MAX_ENV + 2]; /* PATH unless given, then --env, NULL */
	size_t env_count;
	const char *report_path; /* --report, NULL if none */
	int netns_fd;            /* owned; -1 if none */
};

void sandbox_opts_init(struct sandbox_opts *o);
/* 1 = argv[*i] was a container option (and *i now points at its value when
 * it took one), 0 = not one of ours, -1 = bad value (err says which). */
int sandbox_opts_parse(struct sandbox_opts *o, int argc, char **argv, int *i, struct cmn_err *err);
/* Completes the spec (environment with PATH). */
int sandbox_opts_finish(struct sandbox_opts *o, struct cmn_err *err);
void sandbox_opts_free(struct sandbox_opts *o);
/* The options' help text, with the defaults. */
void sandbox_opts_usage(FILE *out);
/* JSON of the result: end, exit_code, signal, syscall, reason, cpu_ns,
 * peak_memory_bytes, wall_ns. */
int sandbox_opts_write_report(const char *path, const struct sbx_result *r,
			      const struct sbx_limits *lim, struct cmn_err *err);
/* The exit status a CLI returns for r: the command's, 128+N for signal N. */
int sandbox_opts_exit_status(const struct sbx_result *r);

#endif
