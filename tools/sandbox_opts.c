/* tools/sandbox_opts.c — see sandbox_opts.h. */
#define _GNU_SOURCE
#include "tools/sandbox_opts.h"

#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/parse.h"

#define DEFAULT_PATH "PATH=/usr/local/bin:/usr/bin:/bin"

void sandbox_opts_init(struct sandbox_opts *o)
{
	memset(o, 0, sizeof(*o));
	sbx_spec_init(&o->spec);
	o->spec.profile = SBX_PROFILE_TRANSFORM;
	o->spec.net = SBX_NET_LOOPBACK;
	o->netns_fd = -1;
}

void sandbox_opts_free(struct sandbox_opts *o)
{
	for (size_t i = 0; i < SBX_MAX_BINDS; i++)
		free(o->owned[i]);
	if (o->netns_fd >= 0)
		close(o->netns_fd);
	o->netns_fd = -1;
}

static int add_bind(struct sandbox_opts *o, const char *arg, bool writable, struct cmn_err *err)
{
	size_t n = o->spec.bind_count;
	if (n >= SBX_MAX_BINDS)
		return cmn_err_set(err, CMN_EINVAL, 0, "at most %d binds", SBX_MAX_BINDS);
	char *copy = strdup(arg);
	if (!copy)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	o->owned[n] = copy;
	char *colon = strchr(copy, ':');
	if (colon)
		*colon = '\0';
	o->binds[n].src = copy;
	o->binds[n].dst = colon ? colon + 1 : NULL;
	o->binds[n].writable = writable;
	if (copy[0] != '/' || (colon && colon[1] != '/'))
		return cmn_err_set(err, CMN_EINVAL, 0, "bind paths must be absolute: %s", arg);
	o->spec.binds = o->binds;
	o->spec.bind_count = n + 1;
	return 0;
}

static int set_value(struct sandbox_opts *o, const char *name, const char *v, struct cmn_err *err)
{
	struct sbx_limits *l = &o->spec.limits;
	if (strcmp(name, "profile") == 0) {
		if (strcmp(v, "udf") == 0)
			o->spec.profile = SBX_PROFILE_UDF;
		else if (strcmp(v, "transform") == 0)
			o->spec.profile = SBX_PROFILE_TRANSFORM;
		else
			return cmn_err_set(err, CMN_EINVAL, 0,
					   "--profile: udf or transform, not %s", v);
		return 0;
	}
	if (strcmp(name, "net") == 0) {
		if (strcmp(v, "none") == 0)
			o->spec.net = SBX_NET_NONE;
		else if (strcmp(v, "loopback") == 0)
			o->spec.net = SBX_NET_LOOPBACK;
		else
			return cmn_err_set(err, CMN_EINVAL, 0, "--net: none or loopback, not %s",
					   v);
		return 0;
	}
	if (strcmp(name, "netns") == 0) {
		if (o->netns_fd >= 0)
			close(o->netns_fd);
		o->netns_fd = open(v, O_RDONLY | O_CLOEXEC);
		if (o->netns_fd < 0)
			return cmn_err_sys(err, "--netns: open %s", v);
		o->spec.net = SBX_NET_JOIN;
		o->spec.netns_fd = o->netns_fd;
		return 0;
	}
	if (strcmp(name, "ro-bind") == 0 || strcmp(name, "bind") == 0)
		return add_bind(o, v, name[0] == 'b', err);
	if (strcmp(name, "env") == 0) {
		if (!strchr(v, '=') || v[0] == '=')
			return cmn_err_set(err, CMN_EINVAL, 0, "--env wants K=V, not %s", v);
		if (o->env_count >= SANDBOX_OPTS_MAX_ENV)
			return cmn_err_set(err, CMN_EINVAL, 0, "at most %d --env",
					   SANDBOX_OPTS_MAX_ENV);
		o->env[o->env_count++] = v;
		return 0;
	}
	if (strcmp(name, "report") == 0) {
		o->report_path = v;
		return 0;
	}
	struct {
		const char *name;
		uint64_t *field;
		int kind; /* 0 size, 1 count, 2 duration */
	} nums[] = {
		{ "tmpfs-size", &l->tmpfs_bytes, 0 }, { "memory", &l->memory_bytes, 0 },
		{ "fsize", &l->fsize_bytes, 0 },      { "pids", &l->pids, 1 },
		{ "nofile", &l->nofile, 1 },          { "cpu-time", &l->cpu_time_ns, 2 },
		{ "wall-time", &l->wall_time_ns, 2 },
	};
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		if (strcmp(name, nums[i].name) != 0)
			continue;
		int rc = nums[i].kind == 0   ? cmn_parse_size(v, nums[i].field, err)
			 : nums[i].kind == 1 ? cmn_parse_u64(v, nums[i].field, err)
					     : cmn_parse_duration(v, nums[i].field, err);
		if (rc < 0)
			return cmn_err_wrap(err, "--%s", name);
		if (*nums[i].field == 0)
			return cmn_err_set(err, CMN_EINVAL, 0, "--%s must be more than 0", name);
		return 0;
	}
	return 1; /* not ours */
}

static const char *const valued[] = { "profile", "ro-bind",  "bind",      "tmpfs-size", "memory",
				      "pids",    "cpu-time", "wall-time", "nofile",     "fsize",
				      "net",     "netns",    "env",       "report" };

int sandbox_opts_parse(struct sandbox_opts *o, int argc, char **argv, int *i, struct cmn_err *err)
{
	const char *arg = argv[*i];
	if (strncmp(arg, "--", 2) != 0)
		return 0;
	char name[32];
	const char *eq = strchr(arg, '=');
	size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
	if (len >= sizeof(name))
		return 0;
	memcpy(name, arg + 2, len);
	name[len] = '\0';
	bool known = false;
	for (size_t k = 0; k < sizeof(valued) / sizeof(valued[0]); k++)
		known = known || strcmp(name, valued[k]) == 0;
	if (!known)
		return 0;
	const char *value = eq ? eq + 1 : NULL;
	if (!value) {
		if (*i + 1 >= argc)
			return cmn_err_set(err, CMN_EINVAL, 0, "--%s needs a value", name);
		value = argv[++*i];
	}
	return set_value(o, name, value, err) < 0 ? -1 : 1;
}

int sandbox_opts_finish(struct sandbox_opts *o, struct cmn_err *err)
{
	bool has_path = false;
	for (size_t i = 0; i < o->env_count; i++)
		has_path = has_path || strncmp(o->env[i], "PATH=", 5) == 0;
	if (!has_path)
		o->env[o->env_count++] = DEFAULT_PATH;
	o->env[o->env_count] = NULL;
	o->spec.envp = o->env;
	return 0;
}

void sandbox_opts_usage(FILE *out)
{
	fprintf(out, "container options (defaults in brackets; docs/sandbox.md):\n"
		     "  --profile udf|transform  syscall profile [transform]\n"
		     "  --ro-bind SRC[:DST]      bind a host path read-only (repeatable)\n"
		     "  --bind SRC[:DST]         bind a host path writable (repeatable)\n"
		     "  --tmpfs-size SIZE        size of the /work tmpfs [64M]\n"
		     "  --memory SIZE            memory limit (cgroup) [512M]\n"
		     "  --pids N                 process/thread limit (cgroup) [64]\n"
		     "  --cpu-time DUR           CPU time limit [60s]\n"
		     "  --wall-time DUR          wall-clock limit [60s]\n"
		     "  --nofile N               open files limit [256]\n"
		     "  --fsize SIZE             largest file the command may write [64M]\n"
		     "  --net none|loopback      new empty netns, lo down or up [loopback]\n"
		     "  --netns PATH             join this netns instead (e.g. /run/netns/X)\n"
		     "  --env K=V                environment (repeatable) [only PATH]\n"
		     "  --report FILE            write the result as JSON\n");
}

int sandbox_opts_exit_status(const struct sbx_result *r)
{
	if (r->end == SBX_END_EXIT)
		return r->exit_code;
	if (r->end == SBX_END_FSIZE)
		return 128 + SIGXFSZ;
	/* Every other end Cordon decides is a kill, even when the command gave
	 * up by itself first (a refused fork): 137 says "ended by a limit". */
	if (r->end != SBX_END_SIGNAL)
		return 128 + SIGKILL;
	return 128 + r->signal;
}

int sandbox_opts_write_report(const char *path, const struct sbx_result *r,
			      const struct sbx_limits *lim, struct cmn_err *err)
{
	char reason[160];
	sbx_describe_end(r, lim, reason, sizeof(reason));
	cleanup_fclose FILE *f = fopen(path, "we");
	if (!f)
		return cmn_err_sys(err, "--report: open %s", path);
	fprintf(f, "{\"end\":\"%s\",\"exit_code\":%d,\"signal\":%d,", sbx_end_name(r->end),
		r->exit_code, r->signal);
	if (r->end == SBX_END_SECCOMP)
		fprintf(f, "\"syscall\":{\"name\":\"%s\",\"nr\":%d},", r->syscall_name,
			r->syscall_nr);
	else
		fprintf(f, "\"syscall\":null,");
	fprintf(f,
		"\"reason\":\"%s\",\"cpu_ns\":%" PRIu64 ",\"peak_memory_bytes\":%" PRIu64
		",\"wall_ns\":%" PRIu64 "}\n",
		reason, r->cpu_ns, r->peak_memory_bytes, r->wall_ns);
	if (fflush(f) != 0)
		return cmn_err_sys(err, "--report: write %s", path);
	return 0;
}
