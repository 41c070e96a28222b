/* cordon-netlink-stage: a test helper that runs one `cordon-node stage` the
 * way the job runner will for a job that set odps.session.networklink: a
 * one-node overlay from ovl_create, the link's destinations granted with
 * sch_netlinks_apply() (a network link in a throw-away catalog), and the node
 * in a udf-profile container joined to the node's netns, with its plan,
 * scripts and sink as fds (tests/integration/test_netlink_node.py).
 *
 *   cordon-netlink-stage --run-dir DIR [--link DEST]... [--gateway NETNS]
 *                        NODE CHILD_FD=PATH[,w]...
 *
 * Runs in the netns it is started in (the test's own). Without --link no
 * grant is made; --link without --gateway shows the runner's error.
 * Exit: the node's status; 125 "ended: WHY" when the container ended it;
 * 126 "setup: WHY" when the overlay or the grant could not be made. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netoverlay/netoverlay.h"
#include "sandbox/sandbox.h"
#include "scheduler/netlinks.h"

#define MAX_FDS 32

struct args {
	const char *run_dir, *gateway, *node;
	const char *dests[OVL_MAX_DESTS];
	size_t ndests;
	struct sbx_fd fds[MAX_FDS + 2];
	size_t nfd;
};

static int parse_fd(struct args *a, char *arg)
{
	char *eq = strchr(arg, '='), *end;
	size_t len;
	long child_fd;
	int fd, wr;

	if (!eq || a->nfd >= MAX_FDS)
		return -1;
	*eq = '\0';
	child_fd = strtol(arg, &end, 10);
	if (*end || child_fd < 3 || child_fd > 1000)
		return -1;
	len = strlen(eq + 1);
	wr = len > 2 && strcmp(eq + 1 + len - 2, ",w") == 0;
	if (wr)
		eq[1 + len - 2] = '\0';
	fd = open(eq + 1, wr ? O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC : O_RDONLY | O_CLOEXEC,
		  0600);
	if (fd < 0) {
		perror(eq + 1);
		return -1;
	}
	a->fds[a->nfd++] = (struct sbx_fd){ fd, (int)child_fd };
	return 0;
}

static int parse(int argc, char **argv, struct args *a)
{
	int i = 1;

	for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (strcmp(argv[i], "--run-dir") == 0)
			a->run_dir = argv[i + 1];
		else if (strcmp(argv[i], "--gateway") == 0)
			a->gateway = argv[i + 1];
		else if (strcmp(argv[i], "--link") == 0 && a->ndests < OVL_MAX_DESTS)
			a->dests[a->ndests++] = argv[i + 1];
		else
			return -1;
	}
	if (!a->run_dir || i >= argc)
		return -1;
	a->node = argv[i++];
	for (; i < argc; i++)
		if (parse_fd(a, argv[i]) < 0)
			return -1;
	return 0;
}

/* The link as an operator would have made it, in a catalog of its own. */
static int make_link(const struct args *a, struct sch_catalog **cat, char *path, size_t len,
		     struct cmn_err *err)
{
	snprintf(path, len, "%s.catalog.db", a->run_dir); /* beside, not in, the run dir */
	if (sch_catalog_open(cat, path, err) < 0 || sch_netlinks_migrate(*cat, err) < 0)
		return -1;
	return sch_netlink_create(*cat, "testlink", a->dests, a->ndests, "ALIYUN$operator", err);
}

static int run_node(struct args *a, const struct ovl_overlay *ov, struct cmn_err *err)
{
	const char *envp[] = { "PATH=/usr/bin:/bin", "TMPDIR=/work", NULL };
	const char *nargv[] = { a->node, "stage", "--plan-fd", "3", NULL };
	char *node_dir = strdup(a->node);
	struct sbx_bind bind = { NULL, NULL, false };
	struct sbx_child *child = NULL;
	struct sbx_spec spec;
	struct sbx_result res;
	char why[256];

	if (!node_dir)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	a->fds[a->nfd++] = (struct sbx_fd){ 1, 1 };
	a->fds[a->nfd++] = (struct sbx_fd){ 2, 2 };
	bind.src = dirname(node_dir); /* the build dir is not under /usr */
	sbx_spec_init(&spec);
	spec.argv = nargv;
	spec.envp = envp;
	spec.fds = a->fds;
	spec.fd_count = a->nfd;
	spec.binds = &bind;
	spec.bind_count = 1;
	spec.profile = SBX_PROFILE_UDF;
	spec.net = SBX_NET_JOIN;
	spec.netns_fd = ovl_node_get(ov, 0)->netns_fd;
	fflush(stdout);
	if (sbx_spawn(&spec, &child, err) < 0 || sbx_wait(child, &res, err) < 0) {
		free(node_dir);
		fprintf(stderr, "ended: %s\n", err->msg);
		return 125;
	}
	free(node_dir);
	if (res.end == SBX_END_EXIT)
		return res.exit_code;
	sbx_describe_end(&res, &spec.limits, why, sizeof(why));
	fprintf(stderr, "ended: %s\n", why[0] ? why : sbx_end_name(res.end));
	return 125;
}

int main(int argc, char **argv)
{
	static struct args a;
	struct cmn_err err = CMN_ERR_INIT;
	struct sch_catalog *cat = NULL;
	struct ovl_overlay *ov = NULL;
	struct ovl_options opt;
	char path[4200];
	int gw = -1, rc = 126;

	if (parse(argc, argv, &a) < 0) {
		fprintf(stderr, "usage: cordon-netlink-stage --run-dir DIR [--link DEST]..."
				" [--gateway NETNS] NODE FD=PATH[,w]...\n");
		return 2;
	}
	ovl_options_init(&opt);
	opt.job = "nltest";
	opt.node_count = 1;
	opt.run_dir = a.run_dir;
	/* as the runner must: the subnet avoids the gateway's routes too */
	if (a.gateway && (gw = open(a.gateway, O_RDONLY | O_CLOEXEC)) >= 0)
		opt.route_netns_fd = gw;
	if ((a.ndests && make_link(&a, &cat, path, sizeof(path), &err) < 0) ||
	    ovl_create(&opt, &ov, &err) < 0 ||
	    (a.ndests && sch_netlinks_apply(ov, cat, "testlink", a.gateway, &err) < 0)) {
		fprintf(stderr, "setup: %s\n", err.msg);
	} else {
		fprintf(stderr, "subnet %s node %s\n", ovl_subnet(ov),
			ovl_node_get(ov, 0)->addr_str);
		rc = run_node(&a, ov, &err);
	}
	ovl_destroy(ov);
	sch_catalog_close(cat);
	if (gw >= 0)
		close(gw);
	return rc;
}
