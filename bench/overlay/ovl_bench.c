/* bench/overlay/ovl_bench.c — times ovl_create + ovl_destroy of an N-node
 * overlay through the library; prints one duration in milliseconds per
 * iteration, pausing PAUSE_MS between iterations (so the kernel's
 * asynchronous cleanup of the previous overlay is not what is measured).
 * With ITERATIONS 0 it does one create+destroy per line read from stdin
 * instead, so that bench/overlay/run can alternate them with the baseline
 * in one long-lived process, as cordond creates overlays.
 * Run only inside a network namespace made for the benchmark. */
#define _GNU_SOURCE
#include <stdio.h>
#include <time.h>

#include "common/parse.h"
#include "netoverlay/netoverlay.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int once(const struct ovl_options *opt)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct ovl_overlay *ov = NULL;
	double t0 = now_ms();
	if (ovl_create(opt, &ov, &err) < 0) {
		fprintf(stderr, "ovl_bench: %s\n", err.msg);
		return -1;
	}
	ovl_destroy(ov);
	printf("%.3f\n", now_ms() - t0);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t nodes = 8, iterations = 20, pause_ms = 0;
	struct cmn_err err = CMN_ERR_INIT;
	if (argc != 5 || cmn_parse_u64(argv[2], &nodes, &err) < 0 ||
	    cmn_parse_u64(argv[3], &iterations, &err) < 0 ||
	    cmn_parse_u64(argv[4], &pause_ms, &err) < 0) {
		fprintf(stderr, "usage: ovl_bench RUN_DIR NODES ITERATIONS PAUSE_MS\n");
		return 2;
	}
	struct ovl_options opt;
	ovl_options_init(&opt);
	opt.run_dir = argv[1];
	opt.job = "bench";
	opt.node_count = (unsigned)nodes;
	if (iterations == 0) {
		char line[16];
		while (fgets(line, sizeof(line), stdin)) {
			if (once(&opt) < 0)
				return 1;
		}
		return 0;
	}
	for (uint64_t i = 0; i < iterations; i++) {
		if (once(&opt) < 0)
			return 1;
		struct timespec pause = { (time_t)(pause_ms / 1000),
					  (long)(pause_ms % 1000) * 1000000 };
		nanosleep(&pause, NULL);
	}
	return 0;
}
