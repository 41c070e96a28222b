/* bench/udf/udf_bench.c — the per-row runtime path that SQL jobs use
 * (rt_udf_call with every limit on), timed over N calls.
 *
 *   udf_bench SCRIPT FUNCTION N int|email
 * prints "<calls> <seconds>" for N calls; args are i (int) or a generated
 * email "userI@example.com" (email). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/parse.h"
#include "runtime/udf_abi.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts); /* CPU time, like os.clock in plain.lua */
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int load(const char *path, struct cmn_buf *b)
{
	FILE *f = fopen(path, "re");
	char chunk[4096];
	size_t n;

	if (!f)
		return -1;
	cmn_buf_init(b, 0);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		cmn_buf_append(b, chunk, n, NULL);
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct cmn_buf src;
	struct rt_limits lim = { 0 };
	struct rt_udf_source s;
	struct rt_udf *u;
	uint64_t n;
	bool email, batch;
	static struct rt_value args[RT_BATCH_ROWS], outs[RT_BATCH_ROWS];
	static char texts[RT_BATCH_ROWS][64];
	char text[64];
	double t0, t1;
	long long check = 0;

	if (argc != 5 || load(argv[1], &src) < 0 || cmn_parse_u64(argv[3], &n, &err) < 0) {
		fprintf(stderr, "usage: udf_bench SCRIPT FUNCTION N int|email\n");
		return 2;
	}
	email = strcmp(argv[4], "email") == 0 || strcmp(argv[4], "email-batch") == 0;
	batch = strstr(argv[4], "batch") != NULL;
	s = (struct rt_udf_source){ argv[1], src.data, src.len, argv[2], &lim, NULL, 0 };
	if (rt_udf_open(&s, &u, &err) < 0 ||
	    rt_cpu_arm(3600ull * 1000000000ull, 0, false, 0, &err) < 0) {
		fprintf(stderr, "udf_bench: %s\n", err.msg);
		return 1;
	}
	t0 = now();
	for (uint64_t i = 0; batch && i < n; i += RT_BATCH_ROWS) {
		size_t rows = n - i < RT_BATCH_ROWS ? (size_t)(n - i) : RT_BATCH_ROWS;
		for (size_t r = 0; r < rows; r++) {
			if (email) {
				int len =
				    snprintf(texts[r], sizeof(texts[r]), "user%llu@example.com",
					     (unsigned long long)(i + r));
				args[r].type = RT_T_STRING;
				args[r].v.s.p = texts[r];
				args[r].v.s.len = (size_t)len;
			} else {
				args[r].type = RT_T_BIGINT;
				args[r].v.i = (int64_t)(i + r);
			}
		}
		if (rt_udf_call_batch(u, args, 1, rows, outs, &err) < 0) {
			fprintf(stderr, "udf_bench: batch %llu: %s\n", (unsigned long long)i,
				err.msg);
			return 1;
		}
		for (size_t r = 0; r < rows; r++)
			check +=
			    outs[r].type == RT_T_BIGINT ? outs[r].v.i : (long long)outs[r].v.s.len;
	}
	for (uint64_t i = 0; !batch && i < n; i++) {
		struct rt_value arg, out;
		if (email) {
			int len = snprintf(text, sizeof(text), "user%llu@example.com",
					   (unsigned long long)i);
			arg.type = RT_T_STRING;
			arg.v.s.p = text;
			arg.v.s.len = (size_t)len;
		} else {
			arg.type = RT_T_BIGINT;
			arg.v.i = (int64_t)i;
		}
		if (rt_udf_call(u, &arg, 1, &out, &err) < 0) {
			fprintf(stderr, "udf_bench: call %llu: %s\n", (unsigned long long)i,
				err.msg);
			return 1;
		}
		check += out.type == RT_T_BIGINT ? out.v.i : (long long)out.v.s.len;
	}
	t1 = now();
	rt_cpu_arm(0, 0, false, 0, NULL);
	printf("%llu %.6f %lld\n", (unsigned long long)n, t1 - t0, check);
	rt_udf_free(u);
	cmn_buf_free(&src);
	return 0;
}
