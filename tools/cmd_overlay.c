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
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sys/wait.h>
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
#include "tools/sandbox_opts.h"

struct run_args {
	struct ovl_options opt;
	char job[OVL_JOB_MAX + 1];
	const char *gateway;
	struct ovl_dest dests[OVL_MAX_DESTS];
	size_t dest_count;
	struct sandbox_opts box; /* container options, shared with sandbox run */
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
		"gateway netns (required with --grant). Each node's container joins its node's\n"
		"netns, so --net, --netns and --report do not apply.\n\n");
	sandbox_opts_usage(out);
}

static const char *const overlay_valued[] = { "nodes",   "grant", "gateway-netns", "job",
					      "run-dir", "pool",  "port-rate" };

static int overlay_value(struct run_args *a, const char *name, const char *v, struct cmn_err *err)
{
	uint64_t n;
	if (strcmp(name, "nodes") == 0) {
		if (cmn_parse_u64(v, &n, err) < 0 || n < 1 || n > OVL_MAX_NODES)
			return cmn_err_set(err, CMN_EINVAL, 0, "--nodes must be 1..%d",
					   OVL_MAX_NODES);
		a->opt.node_count = (unsigned)n;
	} else if (strcmp(name, "grant") == 0) {
		if (a->dest_count == OVL_MAX_DESTS)
			return cmn_err_set(err, CMN_ELIMIT, 0, "more than %d --grant",
					   OVL_MAX_DESTS);
		if (ovl_dest_parse(v, &a->dests[a->dest_count++], err) < 0)
			return cmn_err_wrap(err, "--grant");
	} else if (strcmp(name, "gateway-netns") == 0) {
		a->gateway = v;
	} else if (strcmp(name, "job") == 0) {
		a->opt.job = v;
	} else if (strcmp(name, "run-dir") == 0) {
		a->opt.run_dir = v;
	} else if (strcmp(name, "pool") == 0) {
		a->opt.pool = v;
	} else if (cmn_parse_u64(v, &a->opt.port_rate_bytes, err) < 0) {
		return cmn_err_wrap(err, "--port-rate");
	}
	return 0;
}

/* 1 = argv[*i] was an overlay option, 0 = not one, -1 = bad value. */
static int overlay_opt(struct run_args *a, int argc, char **argv, int *i, struct cmn_err *err)
{
	const char *arg = argv[*i];
	if (strncmp(arg, "--", 2) != 0)
		return 0;
	const char *eq = strchr(arg, '=');
	size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
	for (size_t k = 0; k < CMN_ARRAY_SIZE(overlay_valued); k++) {
		if (strlen(overlay_valued[k]) != len ||
		    strncmp(arg + 2, overlay_valued[k], len) != 0)
			continue;
		const char *value = eq ? eq + 1 : NULL;
		if (!value) {
			if (*i + 1 >= argc)
				return cmn_err_set(err, CMN_EINVAL, 0, "--%s needs a value",
						   overlay_valued[k]);
			value = argv[++*i];
		}
		return overlay_value(a, overlay_valued[k], value, err) < 0 ? -1 : 1;
	}
	return 0;
}

/* 0 = run, 1 = --help, <0 = usage error. */
static int parse_run(int argc, char **argv, struct run_args *a, struct cmn_err *err)
{
	int i = 1;
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
		int p = overlay_opt(a, argc, argv, &i, err);
		if (p == 0)
			p = sandbox_opts_parse(&a->box, argc, argv, &i, err);
		if (p < 0)
			return -1;
		if (p == 0) {
			if (argv[i][0] == '-')
				return cmn_err_set(err, CMN_EINVAL, 0, "unknown option %s",
						   argv[i]);
			break; /* CMD without "--" */
		}
	}
	if (i >= argc)
		return cmn_err_set(err, CMN_EINVAL, 0, "no command (overlay run ... -- CMD)");
	if (a->opt.node_count == 0)
		return cmn_err_set(err, CMN_EINVAL, 0, "--nodes is required");
	if (a->dest_count && !a->gateway)
		return cmn_err_set(err, CMN_EINVAL, 0, "--grant needs --gateway-netns");
	if (a->box.netns_fd >= 0 || a->box.spec.net != SBX_NET_LOOPBACK || a->box.report_path)
		return cmn_err_set(err, CMN_EINVAL, 0,
				   "--net, --netns and --report do not apply to overlay run");
	if (sandbox_opts_finish(&a->box, err) < 0)
		return -1;
	if (!a->opt.job) {
		snprintf(a->job, sizeof(a->job), "run%d", (int)getpid());
		a->opt.job = a->job;
	}
	a->cmd = argv + i;
	return 0;
}

struct node_run {
	pid_t runner; /* the process that spawns and waits for this node */
	int result_fd;
	char *own[3];     /* the CORDON_* variables */
	const char **env; /* NULL-terminated, points at own[] and the --env args */
	struct sbx_result result;
	bool ended;
	char failure[CMN_ERR_MSG_MAX];
};

/* What a runner reports. */
struct node_msg {
	int started;
	struct sbx_result result;
	char failure[CMN_ERR_MSG_MAX];
};

static int node_env(const struct run_args *a, const struct ovl_overlay *ov, size_t i,
		    struct node_run *r, struct cmn_err *err)
{
	cleanup_free char *peers = NULL;
	if (ovl_peers(ov, i, &peers, err) < 0)
		return -1;
	r->env = calloc(a->box.env_count + 4, sizeof(*r->env));
	if (!r->env || asprintf(&r->own[0], "CORDON_NODE_INDEX=%zu", i) < 0 ||
	    asprintf(&r->own[1], "CORDON_NODE_ADDR=%s", ovl_node_get(ov, i)->addr_str) < 0 ||
	    asprintf(&r->own[2], "CORDON_PEERS=%s", peers) < 0)
		return cmn_err_set(err, CMN_ENOMEM, 0, "environment of node %zu", i);
	for (size_t k = 0; k < 3; k++)
		r->env[k] = r->own[k];
	/* --env and PATH (sandbox_opts_finish added it unless given). */
	for (size_t k = 0; k < a->box.env_count; k++)
		r->env[3 + k] = a->box.env[k];
	return 0;
}

static void free_env(struct node_run *r)
{
	for (size_t k = 0; k < 3; k++)
		free(r->own[k]);
	free(r->env);
}

/* Runs in a forked runner process: spawn node i, wait for it, report. */
static void node_main(const struct run_args *a, const struct ovl_overlay *ov, size_t i,
		      const struct node_run *r, int wfd)
{
	static const struct sbx_fd stdio[] = { { 0, 0 }, { 1, 1 }, { 2, 2 } };
	struct node_msg m;
	struct cmn_err err = CMN_ERR_INIT;
	struct sbx_child *child = NULL;
	memset(&m, 0, sizeof(m));
	struct sbx_spec spec = a->box.spec;
	spec.argv = (const char *const *)a->cmd;
	spec.envp = r->env;
	spec.fds = stdio;
	spec.fd_count = CMN_ARRAY_SIZE(stdio);
	spec.net = SBX_NET_JOIN;
	spec.netns_fd = ovl_node_get(ov, i)->netns_fd;
	if (sbx_spawn(&spec, &child, &err) == 0) {
		m.started = 1;
		if (sbx_wait(child, &m.result, &err) < 0)
			m.started = 0;
	}
	if (!m.started)
		snprintf(m.failure, sizeof(m.failure), "%s", err.msg);
	ssize_t n = write(wfd, &m, sizeof(m));
	_exit(n == (ssize_t)sizeof(m) ? 0 : 1);
}

/* One runner process per node, all forked while this process is still
 * single-threaded: sbx_spawn starts a supervisor thread per container, and
 * containers cloned from a multi-threaded process would inherit glibc's view
 * of those threads (its set*id broadcast then waits for them forever). It
 * also starts the nodes concurrently. */
static int start_runners(const struct run_args *a, const struct ovl_overlay *ov,
			 struct node_run *runs, struct cmn_err *err)
{
	for (size_t i = 0; i < ovl_node_count(ov); i++) {
		if (node_env(a, ov, i, &runs[i], err) < 0)
			return -1;
	}
	fflush(stdout);
	fflush(stderr);
	for (size_t i = 0; i < ovl_node_count(ov); i++) {
		int p[2];
		if (pipe2(p, O_CLOEXEC) < 0)
			return cmn_err_sys(err, "pipe2 for node %zu", i);
		pid_t pid = fork();
		if (pid < 0) {
			close(p[0]);
			close(p[1]);
			return cmn_err_sys(err, "fork runner of node %zu", i);
		}
		if (pid == 0) {
			close(p[0]);
			node_main(a, ov, i, &runs[i], p[1]);
		}
		close(p[1]);
		runs[i].runner = pid;
		runs[i].result_fd = p[0];
	}
	return 0;
}

/* Collects every runner's report; returns how many nodes failed. */
static int wait_nodes(const struct ovl_overlay *ov, struct node_run *runs)
{
	int failed = 0;
	for (size_t i = 0; i < ovl_node_count(ov); i++) {
		struct node_run *r = &runs[i];
		struct node_msg m;
		size_t got = 0;
		while (r->result_fd >= 0 && got < sizeof(m)) {
			ssize_t n = read(r->result_fd, (char *)&m + got, sizeof(m) - got);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		if (r->result_fd >= 0)
			close(r->result_fd);
		if (r->runner > 0)
			while (waitpid(r->runner, NULL, 0) < 0 && errno == EINTR)
				;
		if (got == sizeof(m) && m.started) {
			r->result = m.result;
			r->ended = true;
			if (m.result.end != SBX_END_EXIT || m.result.exit_code != 0)
				failed++;
			continue;
		}
		snprintf(r->failure, sizeof(r->failure), "%s",
			 got == sizeof(m) ? m.failure : "runner ended without a report");
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
			sbx_describe_end(&r->result, &a->box.spec.limits, why, sizeof(why));
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
	for (size_t i = 0; i < n; i++)
		runs[i].result_fd = -1;
	int rc = start_runners(a, ov, runs, &err);
	if (rc < 0)
		fprintf(stderr, "cordon overlay run: %s\n", err.msg);
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
	sandbox_opts_init(&a.box);
	int parsed = parse_run(argc, argv, &a, &err);
	if (parsed != 0) {
		if (parsed < 0)
			fprintf(stderr, "cordon overlay run: %s\n", err.msg);
		else
			usage(stdout);
		sandbox_opts_free(&a.box);
		return parsed < 0 ? CMN_EXIT_USAGE : CMN_EXIT_OK;
	}
	struct ovl_overlay *ov = NULL;
	/* With a gateway, the subnet must not collide with its routes either
	 * (including a previous uplink the kernel has not cleaned up yet). */
	cleanup_close int gw = a.gateway ? open(a.gateway, O_RDONLY | O_CLOEXEC) : -1;
	if (gw >= 0)
		a.opt.route_netns_fd = gw;
	if (ovl_create(&a.opt, &ov, &err) < 0 ||
	    (a.dest_count && ovl_grant(ov, a.gateway, a.dests, a.dest_count, &err) < 0)) {
		fprintf(stderr, "cordon overlay run: %s\n", err.msg);
		ovl_destroy(ov);
		sandbox_opts_free(&a.box);
		return CMN_EXIT_FAIL;
	}
	fprintf(stderr, "overlay %s: subnet %s\n", ovl_job(ov), ovl_subnet(ov));
	for (size_t i = 0; i < ovl_node_count(ov); i++)
		fprintf(stderr, "overlay %s: node %zu %s\n", ovl_job(ov), i,
			ovl_node_get(ov, i)->addr_str);
	int rc = run_on_overlay(&a, ov);
	ovl_destroy(ov);
	sandbox_opts_free(&a.box);
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
