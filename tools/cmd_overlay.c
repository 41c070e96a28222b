/* tools/cmd_overlay.c — `cordon overlay run` and `cordon overlay gc`.
 *
 * run: creates a job overlay of N nodes (netoverlay/), optionally grants it
 * destinations through a gateway netns, runs CMD in a container (sandbox/)
 * joined to each node's netns, prints one line per node with its address and
 * how it ended, destroys the overlay, and exits 1 if any node failed.
 * gc: removes overlays whose owner died (see ovl_gc).
 *
 * The overlay is made in the netns `cordon` runs in; only the hub and node
 * namespaces it creates (and the gateway's uplink, with --grant) get devices. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/cli.h"
#include "common/parse.h"
#include "netoverlay/netoverlay.h"
#include "sandbox/sandbox.h"
#include "tools/cmds.h"

#define MAX_ENV 64
#define MAX_BINDS 32

struct run_args {
	struct ovl_options opt;
	char job[OVL_JOB_MAX + 1];
	const char *gateway;
	struct ovl_dest dests[OVL_MAX_DESTS];
	size_t dest_count;
	const char *env[MAX_ENV];
	size_t env_count;
	struct sbx_bind binds[MAX_BINDS];
	size_t bind_count;
	struct sbx_spec spec; /* container options; argv/env/net filled per node */
	char **cmd;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: cordon overlay run --nodes N [--grant CIDR:PORT[-PORT]]... "
		"[--gateway-netns PATH]\n"
		"                          [--job ID] [--run-dir DIR] [--pool CIDR] [--port-rate "
		"BYTES]\n"
		"                          [container options] -- CMD [ARGS...]\n"
		"       cordon overlay gc [--run-dir DIR] [--gateway-netns PATH]\n\n"
		"run: makes a private network of N nodes, runs CMD in a container in each with\n"
		"CORDON_NODE_INDEX, CORDON_NODE_ADDR and CORDON_PEERS set, prints one line per\n"
		"node (index, address, how it ended), removes the network; exits 1 if a node\n"
		"failed. --grant lets the nodes reach exactly CIDR:PORT over TCP through the\n"
		"gateway netns (required with --grant).\n\n"
		"container options (as in `cordon sandbox run`):\n"
		"  --env K=V  --bind SRC[:DST]  --bind-rw SRC[:DST]  --profile transform|udf\n"
		"  --memory SIZE  --pids N  --cpu-time DUR  --wall-time DUR  --nofile N\n"
		"  --fsize SIZE  --tmpfs SIZE  --cwd DIR\n");
}

enum {
	OPT_NODES = 256,
	OPT_GRANT,
	OPT_GATEWAY,
	OPT_JOB,
	OPT_RUN_DIR,
	OPT_POOL,
	OPT_RATE,
	OPT_ENV,
	OPT_BIND,
	OPT_BIND_RW,
	OPT_PROFILE,
	OPT_MEMORY,
	OPT_PIDS,
	OPT_CPU,
	OPT_WALL,
	OPT_NOFILE,
	OPT_FSIZE,
	OPT_TMPFS,
	OPT_CWD,
	OPT_HELP,
};

static const struct option run_opts[] = {
	{ "nodes", required_argument, NULL, OPT_NODES },
	{ "grant", required_argument, NULL, OPT_GRANT },
	{ "gateway-netns", required_argument, NULL, OPT_GATEWAY },
	{ "job", required_argument, NULL, OPT_JOB },
	{ "run-dir", required_argument, NULL, OPT_RUN_DIR },
	{ "pool", required_argument, NULL, OPT_POOL },
	{ "port-rate", required_argument, NULL, OPT_RATE },
	{ "env", required_argument, NULL, OPT_ENV },
	{ "bind", required_argument, NULL, OPT_BIND },
	{ "bind-rw", required_argument, NULL, OPT_BIND_RW },
	{ "profile", required_argument, NULL, OPT_PROFILE },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "pids", required_argument, NULL, OPT_PIDS },
	{ "cpu-time", required_argument, NULL, OPT_CPU },
	{ "wall-time", required_argument, NULL, OPT_WALL },
	{ "nofile", required_argument, NULL, OPT_NOFILE },
	{ "fsize", required_argument, NULL, OPT_FSIZE },
	{ "tmpfs", required_argument, NULL, OPT_TMPFS },
	{ "cwd", required_argument, NULL, OPT_CWD },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static int add_bind(struct run_args *a, char *arg, bool writable, struct cmn_err *err)
{
	if (a->bind_count == MAX_BINDS)
		return cmn_err_set(err, CMN_ELIMIT, 0, "more than %d binds", MAX_BINDS);
	char *colon = strchr(arg, ':');
	if (colon)
		*colon = '\0';
	a->binds[a->bind_count++] =
	    (struct sbx_bind){ .src = arg, .dst = colon ? colon + 1 : NULL, .writable = writable };
	return 0;
}

/* The container options shared with `cordon sandbox run`. */
static int container_opt(struct run_args *a, int c, char *arg, struct cmn_err *err)
{
	struct sbx_limits *l = &a->spec.limits;
	switch (c) {
	case OPT_ENV:
		if (!strchr(arg, '=') || arg[0] == '=')
			return cmn_err_set(err, CMN_EINVAL, 0, "--env wants K=V, got '%s'", arg);
		if (a->env_count == MAX_ENV)
			return cmn_err_set(err, CMN_ELIMIT, 0, "more than %d --env", MAX_ENV);
		a->env[a->env_count++] = arg;
		return 0;
	case OPT_BIND:
		return add_bind(a, arg, false, err);
	case OPT_BIND_RW:
		return add_bind(a, arg, true, err);
	case OPT_PROFILE:
		if (strcmp(arg, "transform") == 0)
			a->spec.profile = SBX_PROFILE_TRANSFORM;
		else if (strcmp(arg, "udf") == 0)
			a->spec.profile = SBX_PROFILE_UDF;
		else
			return cmn_err_set(err, CMN_EINVAL, 0, "unknown profile '%s'", arg);
		return 0;
	case OPT_MEMORY:
		return cmn_parse_size(arg, &l->memory_bytes, err);
	case OPT_PIDS:
		return cmn_parse_u64(arg, &l->pids, err);
	case OPT_CPU:
		return cmn_parse_duration(arg, &l->cpu_time_ns, err);
	case OPT_WALL:
		return cmn_parse_duration(arg, &l->wall_time_ns, err);
	case OPT_NOFILE:
		return cmn_parse_u64(arg, &l->nofile, err);
	case OPT_FSIZE:
		return cmn_parse_size(arg, &l->fsize_bytes, err);
	case OPT_TMPFS:
		return cmn_parse_size(arg, &l->tmpfs_bytes, err);
	case OPT_CWD:
		a->spec.cwd = arg;
		return 0;
	default:
		return cmn_err_set(err, CMN_EINVAL, 0, "unknown option");
	}
}

static int overlay_opt(struct run_args *a, int c, char *arg, struct cmn_err *err)
{
	uint64_t v;
	switch (c) {
	case OPT_NODES:
		if (cmn_parse_u64(arg, &v, err) < 0 || v < 1 || v > OVL_MAX_NODES)
			return cmn_err_set(err, CMN_EINVAL, 0, "--nodes must be 1..%d",
					   OVL_MAX_NODES);
		a->opt.node_count = (unsigned)v;
		return 0;
	case OPT_GRANT:
		if (a->dest_count == OVL_MAX_DESTS)
			return cmn_err_set(err, CMN_ELIMIT, 0, "more than %d --grant",
					   OVL_MAX_DESTS);
		return ovl_dest_parse(arg, &a->dests[a->dest_count++], err);
	case OPT_GATEWAY:
		a->gateway = arg;
		return 0;
	case OPT_JOB:
		a->opt.job = arg;
		return 0;
	case OPT_RUN_DIR:
		a->opt.run_dir = arg;
		return 0;
	case OPT_POOL:
		a->opt.pool = arg;
		return 0;
	case OPT_RATE:
		return cmn_parse_u64(arg, &a->opt.port_rate_bytes, err);
	default:
		return container_opt(a, c, arg, err);
	}
}

/* 0 = run, 1 = --help, <0 = usage error. */
static int parse_run(int argc, char **argv, struct run_args *a, struct cmn_err *err)
{
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", run_opts, NULL)) != -1) {
		if (c == OPT_HELP || c == 'h')
			return 1;
		if (c == '?')
			return cmn_err_set(err, CMN_EINVAL, 0, "see --help");
		if (overlay_opt(a, c, optarg, err) < 0)
			return cmn_err_wrap(err, "--%s", run_opts[c - OPT_NODES].name);
	}
	if (optind >= argc)
		return cmn_err_set(err, CMN_EINVAL, 0, "no command (overlay run ... -- CMD)");
	if (a->opt.node_count == 0)
		return cmn_err_set(err, CMN_EINVAL, 0, "--nodes is required");
	if (a->dest_count && !a->gateway)
		return cmn_err_set(err, CMN_EINVAL, 0, "--grant needs --gateway-netns");
	if (!a->opt.job) {
		snprintf(a->job, sizeof(a->job), "run%d", (int)getpid());
		a->opt.job = a->job;
	}
	a->cmd = argv + optind;
	return 0;
}

struct node_run {
	struct sbx_child *child;
	char *own[3];     /* the CORDON_* variables */
	const char **env; /* NULL-terminated, points at own[] and the --env args */
	struct sbx_result result;
	bool ended;
	char failure[CMN_ERR_MSG_MAX];
};

static int node_env(const struct run_args *a, const struct ovl_overlay *ov, size_t i,
		    struct node_run *r, struct cmn_err *err)
{
	cleanup_free char *peers = NULL;
	if (ovl_peers(ov, i, &peers, err) < 0)
		return -1;
	r->env = calloc(a->env_count + 5, sizeof(*r->env));
	if (!r->env || asprintf(&r->own[0], "CORDON_NODE_INDEX=%zu", i) < 0 ||
	    asprintf(&r->own[1], "CORDON_NODE_ADDR=%s", ovl_node_get(ov, i)->addr_str) < 0 ||
	    asprintf(&r->own[2], "CORDON_PEERS=%s", peers) < 0)
		return cmn_err_set(err, CMN_ENOMEM, 0, "environment of node %zu", i);
	for (size_t k = 0; k < 3; k++)
		r->env[k] = r->own[k];
	r->env[3] = "PATH=/usr/local/bin:/usr/bin:/bin";
	for (size_t k = 0; k < a->env_count; k++)
		r->env[4 + k] = a->env[k];
	return 0;
}

static void free_env(struct node_run *r)
{
	for (size_t k = 0; k < 3; k++)
		free(r->own[k]);
	free(r->env);
}

static int spawn_nodes(struct run_args *a, const struct ovl_overlay *ov, struct node_run *runs,
		       struct cmn_err *err)
{
	static const struct sbx_fd stdio[] = { { 0, 0 }, { 1, 1 }, { 2, 2 } };
	for (size_t i = 0; i < ovl_node_count(ov); i++) {
		if (node_env(a, ov, i, &runs[i], err) < 0)
			return -1;
		struct sbx_spec spec = a->spec;
		spec.argv = (const char *const *)a->cmd;
		spec.envp = runs[i].env;
		spec.fds = stdio;
		spec.fd_count = CMN_ARRAY_SIZE(stdio);
		spec.binds = a->binds;
		spec.bind_count = a->bind_count;
		spec.net = SBX_NET_JOIN;
		spec.netns_fd = ovl_node_get(ov, i)->netns_fd;
		if (sbx_spawn(&spec, &runs[i].child, err) < 0)
			return cmn_err_wrap(err, "node %zu", i);
	}
	return 0;
}

/* Waits for every started node; returns how many failed. */
static int wait_nodes(const struct ovl_overlay *ov, struct node_run *runs)
{
	int failed = 0;
	for (size_t i = 0; i < ovl_node_count(ov); i++) {
		struct cmn_err err = CMN_ERR_INIT;
		if (!runs[i].child) {
			failed++;
			continue;
		}
		if (sbx_wait(runs[i].child, &runs[i].result, &err) < 0) {
			snprintf(runs[i].failure, sizeof(runs[i].failure), "%s", err.msg);
			failed++;
			continue;
		}
		runs[i].child = NULL;
		runs[i].ended = true;
		if (runs[i].result.end != SBX_END_EXIT || runs[i].result.exit_code != 0)
			failed++;
	}
	return failed;
}

static void report(const struct run_args *a, const struct ovl_overlay *ov,
		   const struct node_run *runs)
{
	for (size_t i = 0; i < ovl_node_count(ov); i++) {
		const struct node_run *r = &runs[i];
		const char *addr = ovl_node_get(ov, i)->addr_str;
		if (!r->ended) {
			printf("node %zu %s error %s\n", i, addr,
			       r->failure[0] ? r->failure : "not started");
		} else if (r->result.end == SBX_END_EXIT) {
			printf("node %zu %s exit %d\n", i, addr, r->result.exit_code);
		} else {
			char why[256];
			sbx_describe_end(&r->result, &a->spec.limits, why, sizeof(why));
			printf("node %zu %s %s %s\n", i, addr, sbx_end_name(r->result.end), why);
		}
	}
	fflush(stdout);
}

static int run_on_overlay(struct run_args *a, struct ovl_overlay *ov)
{
	struct cmn_err err = CMN_ERR_INIT;
	size_t n = ovl_node_count(ov);
	struct node_run *runs = calloc(n, sizeof(*runs));
	if (!runs) {
		fprintf(stderr, "cordon overlay run: out of memory\n");
		return CMN_EXIT_FAIL;
	}
	int rc = spawn_nodes(a, ov, runs, &err);
	if (rc < 0) {
		fprintf(stderr, "cordon overlay run: %s\n", err.msg);
		for (size_t i = 0; i < n; i++) {
			if (runs[i].child)
				sbx_kill(runs[i].child, NULL);
		}
	}
	int failed = wait_nodes(ov, runs);
	report(a, ov, runs);
	for (size_t i = 0; i < n; i++)
		free_env(&runs[i]);
	free(runs);
	return rc < 0 || failed ? CMN_EXIT_FAIL : CMN_EXIT_OK;
}

static int overlay_run(int argc, char **argv)
{
	static struct run_args a;
	struct cmn_err err = CMN_ERR_INIT;
	memset(&a, 0, sizeof(a));
	ovl_options_init(&a.opt);
	sbx_spec_init(&a.spec);
	int parsed = parse_run(argc, argv, &a, &err);
	if (parsed < 0) {
		fprintf(stderr, "cordon overlay run: %s\n", err.msg);
		return CMN_EXIT_USAGE;
	}
	if (parsed == 1) {
		usage(stdout);
		return CMN_EXIT_OK;
	}
	struct ovl_overlay *ov = NULL;
	if (ovl_create(&a.opt, &ov, &err) < 0 ||
	    (a.dest_count && ovl_grant(ov, a.gateway, a.dests, a.dest_count, &err) < 0)) {
		fprintf(stderr, "cordon overlay run: %s\n", err.msg);
		ovl_destroy(ov);
		return CMN_EXIT_FAIL;
	}
	fprintf(stderr, "overlay %s: subnet %s\n", ovl_job(ov), ovl_subnet(ov));
	for (size_t i = 0; i < ovl_node_count(ov); i++)
		fprintf(stderr, "overlay %s: node %zu %s\n", ovl_job(ov), i,
			ovl_node_get(ov, i)->addr_str);
	int rc = run_on_overlay(&a, ov);
	ovl_destroy(ov);
	return rc;
}

static int overlay_gc(int argc, char **argv)
{
	static const struct option opts[] = { { "run-dir", required_argument, NULL, 'r' },
					      { "gateway-netns", required_argument, NULL, 'g' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	const char *run_dir = NULL, *gateway = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'r')
			run_dir = optarg;
		else if (c == 'g')
			gateway = optarg;
		else {
			usage(c == 'h' ? stdout : stderr);
			return c == 'h' ? CMN_EXIT_OK : CMN_EXIT_USAGE;
		}
	}
	struct ovl_gc_report r;
	struct cmn_err err = CMN_ERR_INIT;
	if (ovl_gc(run_dir, gateway, &r, &err) < 0) {
		fprintf(stderr, "cordon overlay gc: %s\n", err.msg);
		return CMN_EXIT_FAIL;
	}
	printf("removed %u overlays, killed %u processes, removed %u gateway objects\n", r.overlays,
	       r.processes, r.gw_objects);
	return CMN_EXIT_OK;
}

int cmd_overlay(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? CMN_EXIT_USAGE : CMN_EXIT_OK;
	}
	if (strcmp(argv[1], "run") == 0)
		return overlay_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "gc") == 0)
		return overlay_gc(argc - 1, argv + 1);
	fprintf(stderr, "cordon overlay: unknown subcommand '%s' (run, gc)\n", argv[1]);
	return CMN_EXIT_USAGE;
}
