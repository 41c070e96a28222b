/* tools/cmd_udf.c — `cordon udf run`: runs a Lua UDF exactly as a job node
 * would: cordon-node inside the container (profile udf, no network), with
 * the Lua sandbox and its limits on, the script, input and resources passed
 * as file descriptors.
 *
 * Exit status: 0 ok; 1 the UDF raised an error; 2 usage; 3 a sandbox limit
 * (memory, instructions, cpu, output, string, pattern); 4 the container
 * ended the node (seccomp, memory cgroup, wall clock, a crash) or could not
 * start it, with the reason on stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/cli.h"
#include "common/parse.h"
#include "runtime/lua_sandbox.h"
#include "sandbox/sandbox.h"
#include "tools/cmds.h"

enum { UDF_EXIT_LIMIT = 3, UDF_EXIT_CONTAINER = 4 };
#define MAX_RES 32
#define FIRST_RES_FD 5

struct udf_opts {
	const char *script;
	const char *function;
	const char *input; /* NULL: one call with no arguments; "-": stdin */
	uint64_t memory, instructions, cpu_ns, output;
	const char *res_name[MAX_RES];
	const char *res_file[MAX_RES];
	int nres;
};

static void udf_usage(FILE *out)
{
	fprintf(out, "usage: cordon udf run SCRIPT.lua --function NAME [--input FILE|-]\n"
		     "         [--memory SIZE] [--instructions N] [--cpu-time DUR]\n"
		     "         [--output-bytes SIZE] [--resource NAME=FILE]...\n\n"
		     "Runs the UDF NAME of SCRIPT.lua as a job node would: inside the container,\n"
		     "with the Lua sandbox and its limits. Input: JSON lines, each an array of\n"
		     "arguments (no --input: one call without arguments); an aggregate gets one\n"
		     "iterate per line (split over two buffers that are merged), a table function\n"
		     "one process per line. Output: JSON lines.\n"
		     "Defaults: memory 64M, instructions 100000000 per call, cpu-time 2s for the\n"
		     "run, output 16M per call.\n"
		     "Exit: 0 ok, 1 UDF error, 2 usage, 3 limit exceeded, 4 the container ended\n"
		     "the node.\n");
}

/* The node checks too; refusing here makes a bad name a usage error. */
static bool resource_name_ok(const char *n)
{
	size_t len = strlen(n);

	if (len == 0 || len > 40 || strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
		return false;
	return strspn(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
	       len;
}

static int parse_udf_opts(int argc, char **argv, struct udf_opts *o)
{
	static const struct option opts[] = {
		{ "function", required_argument, NULL, 'f' },
		{ "input", required_argument, NULL, 'i' },
		{ "memory", required_argument, NULL, 'm' },
		{ "instructions", required_argument, NULL, 'I' },
		{ "cpu-time", required_argument, NULL, 'c' },
		{ "output-bytes", required_argument, NULL, 'o' },
		{ "resource", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cmn_err err = CMN_ERR_INIT;
	int c, rc = 0;
	char *eq;

	memset(o, 0, sizeof(*o));
	optind = 1;
	while (rc == 0 && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o->function = optarg;
			break;
		case 'i':
			o->input = optarg;
			break;
		case 'm':
			rc = cmn_parse_size(optarg, &o->memory, &err);
			break;
		case 'I':
			rc = cmn_parse_u64(optarg, &o->instructions, &err);
			break;
		case 'c':
			rc = cmn_parse_duration(optarg, &o->cpu_ns, &err);
			break;
		case 'o':
			rc = cmn_parse_size(optarg, &o->output, &err);
			break;
		case 'r':
			eq = strchr(optarg, '=');
			if (!eq || eq == optarg || o->nres >= MAX_RES) {
				fprintf(stderr, "cordon: udf: --resource wants NAME=FILE\n");
				return -1;
			}
			*eq = '\0';
			if (!resource_name_ok(optarg)) {
				fprintf(stderr,
					"cordon: udf: resource name '%s': letters, digits, '.', "
					"'_' and '-' only (at most 40)\n",
					optarg);
				return -1;
			}
			o->res_name[o->nres] = optarg;
			o->res_file[o->nres++] = eq + 1;
			break;
		case 'h':
			udf_usage(stdout);
			return 1;
		default:
			return -1;
		}
	}
	if (rc < 0) {
		fprintf(stderr, "cordon: udf: %s\n", err.msg);
		return -1;
	}
	if (optind != argc - 1 || !o->function) {
		fprintf(stderr, "cordon: udf: need one SCRIPT and --function NAME\n");
		return -1;
	}
	o->script = argv[optind];
	return 0;
}

/* cordon-node lives next to this binary (build/bin or /usr/bin). */
static int find_node(char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n < 0)
		return -1;
	self[n] = '\0';
	if ((size_t)snprintf(out, len, "%s/cordon-node", dirname(self)) >= len)
		return -1;
	return access(out, X_OK);
}

struct node_argv {
	const char *argv[32 + 2 * MAX_RES];
	char bufs[8 + MAX_RES][64];
	int n;
};

static void add_arg(struct node_argv *a, const char *s)
{
	a->argv[a->n++] = s;
}

static void add_num(struct node_argv *a, int slot, const char *opt, uint64_t v)
{
	if (!v)
		return;
	snprintf(a->bufs[slot], sizeof(a->bufs[slot]), "%s=%llu", opt, (unsigned long long)v);
	add_arg(a, a->bufs[slot]);
}

static void build_argv(struct node_argv *a, const struct udf_opts *o, const char *node,
		       const char *script_name, bool have_input)
{
	a->n = 0;
	add_arg(a, node);
	add_arg(a, "udf");
	add_arg(a, "--script-fd=3");
	add_arg(a, "--script-name");
	add_arg(a, script_name);
	add_arg(a, "--function");
	add_arg(a, o->function);
	if (have_input)
		add_arg(a, "--input-fd=4");
	add_num(a, 0, "--memory", o->memory);
	add_num(a, 1, "--instructions", o->instructions);
	if (o->cpu_ns) {
		snprintf(a->bufs[2], sizeof(a->bufs[2]), "--cpu-time=%lluus",
			 (unsigned long long)(o->cpu_ns / 1000 ? o->cpu_ns / 1000 : 1));
		add_arg(a, a->bufs[2]);
	}
	add_num(a, 3, "--output-bytes", o->output);
	for (int i = 0; i < o->nres; i++) {
		snprintf(a->bufs[8 + i], sizeof(a->bufs[8 + i]), "--resource=%.40s=%d",
			 o->res_name[i], FIRST_RES_FD + i);
		add_arg(a, a->bufs[8 + i]);
	}
	a->argv[a->n] = NULL;
}

/* Opens what the node gets; fds[] are closed by the caller. */
static int open_inputs(const struct udf_opts *o, int *script_fd, int *input_fd, int *res_fd)
{
	*script_fd = open(o->script, O_RDONLY | O_CLOEXEC);
	if (*script_fd < 0) {
		fprintf(stderr, "cordon: udf: open %s: %s\n", o->script, strerror(errno));
		return -1;
	}
	*input_fd = -1;
	if (o->input && strcmp(o->input, "-") == 0) {
		*input_fd = fcntl(0, F_DUPFD_CLOEXEC, 3);
	} else if (o->input) {
		*input_fd = open(o->input, O_RDONLY | O_CLOEXEC);
	}
	if (o->input && *input_fd < 0) {
		fprintf(stderr, "cordon: udf: open input %s: %s\n", o->input, strerror(errno));
		return -1;
	}
	for (int i = 0; i < o->nres; i++) {
		res_fd[i] = open(o->res_file[i], O_RDONLY | O_CLOEXEC);
		if (res_fd[i] < 0) {
			fprintf(stderr, "cordon: udf: open resource %s: %s\n", o->res_file[i],
				strerror(errno));
			return -1;
		}
	}
	return 0;
}

static void container_limits(const struct udf_opts *o, struct sbx_limits *l)
{
	uint64_t mem = o->memory ? o->memory : RT_DEFAULT_MEMORY;
	uint64_t cpu = o->cpu_ns ? o->cpu_ns : RT_DEFAULT_CPU_NS;

	/* the outer wall sits above the inner one, so the sandbox names the
	 * limit; the node also holds its input, hence the headroom */
	l->memory_bytes = 2 * mem + (256ull << 20);
	l->cpu_time_ns = cpu + 2000000000ull;
	l->wall_time_ns = 4 * cpu + 30000000000ull;
	l->pids = 8;
	l->nofile = 64;
}

static int run_node(const struct udf_opts *o, const char *node, int script_fd, int input_fd,
		    const int *res_fd)
{
	struct sbx_fd fds[4 + MAX_RES];
	struct sbx_bind bind = { NULL, NULL, false };
	struct node_argv a;
	struct sbx_spec spec;
	struct sbx_child *child = NULL;
	struct sbx_result res;
	struct cmn_err err = CMN_ERR_INIT;
	cleanup_free char *script_copy = strdup(o->script);
	cleanup_free char *node_copy = strdup(node);
	char why[256];
	size_t nfd = 0;

	if (!script_copy || !node_copy)
		return CMN_EXIT_FAIL;
	build_argv(&a, o, node, basename(script_copy), input_fd >= 0);
	fds[nfd++] = (struct sbx_fd){ script_fd, 3 };
	if (input_fd >= 0)
		fds[nfd++] = (struct sbx_fd){ input_fd, 4 };
	for (int i = 0; i < o->nres; i++)
		fds[nfd++] = (struct sbx_fd){ res_fd[i], FIRST_RES_FD + i };
	fds[nfd++] = (struct sbx_fd){ 1, 1 };
	fds[nfd++] = (struct sbx_fd){ 2, 2 };
	bind.src = dirname(node_copy); /* the build dir is not under /usr */
	sbx_spec_init(&spec);
	spec.argv = a.argv;
	spec.fds = fds;
	spec.fd_count = nfd;
	spec.binds = &bind;
	spec.bind_count = 1;
	spec.profile = SBX_PROFILE_UDF;
	spec.net = SBX_NET_NONE;
	container_limits(o, &spec.limits);
	fflush(stdout);
	if (sbx_spawn(&spec, &child, &err) < 0 || sbx_wait(child, &res, &err) < 0) {
		fprintf(stderr, "cordon: udf: container: %s\n", err.msg);
		return UDF_EXIT_CONTAINER;
	}
	if (res.end == SBX_END_EXIT && res.exit_code >= 0 && res.exit_code <= UDF_EXIT_LIMIT)
		return res.exit_code;
	if (res.end == SBX_END_EXIT) {
		fprintf(stderr, "cordon: udf: the node exited with status %d\n", res.exit_code);
		return UDF_EXIT_CONTAINER;
	}
	sbx_describe_end(&res, &spec.limits, why, sizeof(why));
	fprintf(stderr, "cordon: udf: the container ended the node: %s\n",
		why[0] ? why : sbx_end_name(res.end));
	return UDF_EXIT_CONTAINER;
}

static int udf_run(int argc, char **argv)
{
	struct udf_opts o;
	char node[PATH_MAX];
	cleanup_close int script_fd = -1;
	cleanup_close int input_fd = -1;
	int res_fd[MAX_RES];
	int rc;

	rc = parse_udf_opts(argc, argv, &o);
	if (rc != 0) {
		if (rc < 0)
			udf_usage(stderr);
		return rc < 0 ? CMN_EXIT_USAGE : CMN_EXIT_OK;
	}
	if (find_node(node, sizeof(node)) < 0) {
		fprintf(stderr, "cordon: udf: cordon-node not found next to cordon\n");
		return UDF_EXIT_CONTAINER;
	}
	for (int i = 0; i < MAX_RES; i++)
		res_fd[i] = -1;
	if (open_inputs(&o, &script_fd, &input_fd, res_fd) < 0)
		rc = CMN_EXIT_USAGE;
	else
		rc = run_node(&o, node, script_fd, input_fd, res_fd);
	for (int i = 0; i < o.nres; i++)
		cmn_closep(&res_fd[i]);
	return rc;
}

int cmd_udf(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "run") == 0)
		return udf_run(argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		udf_usage(stdout);
		return CMN_EXIT_OK;
	}
	udf_usage(stderr);
	return CMN_EXIT_USAGE;
}
