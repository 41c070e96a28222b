/* bench/spawn/spawn_bench.c — the library paths of a container start, timed
 * in-process (what cordond and job nodes use; no CLI exec in the figure).
 *   spawn_bench N   prints three medians over N runs, in ms:
 *     spawn     sbx_spawn + sbx_wait of /bin/true
 *     prepared  sbx_start + sbx_wait of /bin/true on a container made
 *               ahead with sbx_prepare (the pre-forked node start)
 *     start     sbx_start alone: from the call to /bin/true exec'd
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sandbox/sandbox.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int fail(const char *what, const struct cmn_err *err)
{
	fprintf(stderr, "spawn_bench: %s: %s\n", what, err->msg);
	return 1;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 30;
	if (n < 1 || n > 10000)
		n = 30;
	double *spawn = calloc((size_t)n, sizeof(double));
	double *prepared = calloc((size_t)n, sizeof(double));
	double *start = calloc((size_t)n, sizeof(double));
	if (!spawn || !prepared || !start)
		return 1;
	const char *const true_argv[] = { "/bin/true", NULL };
	struct sbx_spec spec;
	sbx_spec_init(&spec);
	spec.argv = true_argv;
	struct cmn_err err = CMN_ERR_INIT;
	struct sbx_result r;
	struct sbx_child *child;
	for (int i = 0; i < n; i++) {
		double t0 = now_ms();
		if (sbx_spawn(&spec, &child, &err) < 0 || sbx_wait(child, &r, &err) < 0)
			return fail("spawn", &err);
		spawn[i] = now_ms() - t0;
		if (sbx_prepare(&spec, &child, &err) < 0)
			return fail("prepare", &err);
		t0 = now_ms();
		if (sbx_start(child, true_argv, NULL, NULL, 0, &err) < 0)
			return fail("start", &err);
		start[i] = now_ms() - t0;
		if (sbx_wait(child, &r, &err) < 0 || r.end != SBX_END_EXIT)
			return fail("wait", &err);
		prepared[i] = now_ms() - t0;
	}
	printf("spawn %.3f\nprepared %.3f\nstart %.3f\n", median(spawn, n), median(prepared, n),
	       median(start, n));
	free(spawn);
	free(prepared);
	free(start);
	return 0;
}
