/* bench/overlay/ovl_bench.c — times ovl_create + ovl_destroy of an N-node
 * overlay through the library; prints one duration in milliseconds per
 * iteration, pausing PAUSE_MS between iterations (so the kernel's
 * asynchronous cleanup of the previous overlay is not what is measured).
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
	for (uint64_t i = 0; i < iterations; i++) {
		struct ovl_overlay *ov = NULL;
		double t0 = now_ms();
		if (ovl_create(&opt, &ov, &err) < 0) {
			fprintf(stderr, "ovl_bench: %s\n", err.msg);
			return 1;
		}
		ovl_destroy(ov);
		printf("%.3f\n", now_ms() - t0);
		fflush(stdout);
		struct timespec pause = { (time_t)(pause_ms / 1000),
					  (long)(pause_ms % 1000) * 1000000 };
		nanosleep(&pause, NULL);
	}
	return 0;
}
