/* tests/security/netprobe/ovl_hold.c — test-only driver of netoverlay/.
 *
 * Creates an overlay through the library, prints one JSON line describing it
 * (namespaces as /proc/PID/fd/N paths so the tests can nsenter them), then
 * obeys lines on stdin: "destroy" (destroy, print "destroyed"), EOF (destroy
 * and exit). Other modes: --cycles N (N create/destroy, then print fd and
 * file counts) and --gc (ovl_gc, print its report). Run it only inside a
 * network namespace the test made: it never checks where it is. */
#define _GNU_SOURCE
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/parse.h"
#include "netoverlay/netoverlay.h"

struct args {
	struct ovl_options opt;
	const char *gateway;
	struct ovl_dest dests[OVL_MAX_DESTS];
	size_t dest_count;
	uint64_t cycles;
	int gc;
};

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the DIR's own fd */
}

static void print_overlay(const struct ovl_overlay *ov)
{
	printf("{\"pid\": %d, \"job\": \"%s\", \"subnet\": \"%s\", \"hub\": \"/proc/%d/fd/%d\", "
	       "\"nodes\": [",
	       (int)getpid(), ovl_job(ov), ovl_subnet(ov), (int)getpid(), ovl_hub_netns_fd(ov));
	for (size_t i = 0; i < ovl_node_count(ov); i++) {
		const struct ovl_node *n = ovl_node_get(ov, i);
		printf("%s{\"addr\": \"%s\", \"mac\": \"%02x:%02x:%02x:%02x:%02x:%02x\", "
		       "\"ns\": \"/proc/%d/fd/%d\"}",
		       i ? ", " : "", n->addr_str, n->mac[0], n->mac[1], n->mac[2], n->mac[3],
		       n->mac[4], n->mac[5], (int)getpid(), n->netns_fd);
	}
	printf("]}\n");
	fflush(stdout);
}

static int make(const struct args *a, struct ovl_overlay **ov, struct cmn_err *err)
{
	if (ovl_create(&a->opt, ov, err) < 0)
		return -1;
	if (a->dest_count && ovl_grant(*ov, a->gateway, a->dests, a->dest_count, err) < 0) {
		ovl_destroy(*ov);
		*ov = NULL;
		return -1;
	}
	return 0;
}

static int cycles(const struct args *a)
{
	struct cmn_err err = CMN_ERR_INIT;
	int before = count_fds();
	for (uint64_t i = 0; i < a->cycles; i++) {
		struct ovl_overlay *ov = NULL;
		if (make(a, &ov, &err) < 0) {
			fprintf(stderr, "cycle %llu: %s\n", (unsigned long long)i, err.msg);
			return 1;
		}
		ovl_destroy(ov);
	}
	printf("{\"fds_before\": %d, \"fds_after\": %d}\n", before, count_fds());
	return 0;
}

static int parse(int argc, char **argv, struct args *a)
{
	static const struct option longopts[] = { { "job", required_argument, NULL, 'j' },
						  { "nodes", required_argument, NULL, 'n' },
						  { "run-dir", required_argument, NULL, 'r' },
						  { "pool", required_argument, NULL, 'p' },
						  { "subnet", required_argument, NULL, 's' },
						  { "grant", required_argument, NULL, 'g' },
						  { "gateway", required_argument, NULL, 'G' },
						  { "rate", required_argument, NULL, 'R' },
						  { "cycles", required_argument, NULL, 'c' },
						  { "gc", no_argument, NULL, 'C' },
						  { NULL, 0, NULL, 0 } };
	struct cmn_err err = CMN_ERR_INIT;
	uint64_t v;
	int c;
	ovl_options_init(&a->opt);
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			a->opt.job = optarg;
			break;
		case 'n':
			if (cmn_parse_u64(optarg, &v, &err) < 0 || v > OVL_MAX_NODES)
				return -1;
			a->opt.node_count = (unsigned)v;
			break;
		case 'r':
			a->opt.run_dir = optarg;
			break;
		case 'p':
			a->opt.pool = optarg;
			break;
		case 's':
			a->opt.subnet = optarg;
			break;
		case 'G':
			a->gateway = optarg;
			break;
		case 'R':
			if (cmn_parse_u64(optarg, &a->opt.port_rate_bytes, &err) < 0)
				return -1;
			break;
		case 'c':
			if (cmn_parse_u64(optarg, &a->cycles, &err) < 0)
				return -1;
			break;
		case 'C':
			a->gc = 1;
			break;
		case 'g':
			if (a->dest_count == OVL_MAX_DESTS ||
			    ovl_dest_parse(optarg, &a->dests[a->dest_count++], &err) < 0) {
				fprintf(stderr, "%s\n", err.msg);
				return -1;
			}
			break;
		default:
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct args a;
	struct cmn_err err = CMN_ERR_INIT;
	if (parse(argc, argv, &a) < 0) {
		fprintf(stderr, "usage: ovl_hold --job J --nodes N [--run-dir D] [--grant C:P "
				"--gateway NS] [--cycles N] | --gc [--gateway NS]\n");
		return 2;
	}
	if (a.gc) {
		struct ovl_gc_report r;
		if (ovl_gc(a.opt.run_dir, a.gateway, &r, &err) < 0) {
			fprintf(stderr, "gc: %s\n", err.msg);
			return 1;
		}
		printf("{\"overlays\": %u, \"processes\": %u, \"gw_objects\": %u}\n", r.overlays,
		       r.processes, r.gw_objects);
		return 0;
	}
	if (a.cycles)
		return cycles(&a);
	struct ovl_overlay *ov = NULL;
	if (make(&a, &ov, &err) < 0) {
		fprintf(stderr, "ovl_hold: %s\n", err.msg);
		return 1;
	}
	print_overlay(ov);
	char line[64];
	while (fgets(line, sizeof(line), stdin)) {
		if (strncmp(line, "destroy", 7) == 0)
			break;
	}
	ovl_destroy(ov);
	printf("destroyed\n");
	fflush(stdout);
	return 0;
}
