/* Framed row-batch streams and hello lines (runtime/stream.c) over real
 * pipes: round trips, and every way a stream can end early or lie. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/stage.h"

static const struct cmn_col cols[] = { { CMN_COL_BIGINT, "id", 2 }, { CMN_COL_STRING, "s", 1 } };

/* Writes bytes into a pipe and closes the write end; returns the read end. */
static int pipe_with(const void *data, size_t len)
{
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_true(len < 60000);
	assert_int_equal(write(p[1], data, len), (ssize_t)len);
	close(p[1]);
	return p[0];
}

static void test_batch_out_round_trip(void **state)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct rt_batch_out o;
	struct cmn_buf frame = { 0 };
	struct cmn_rowbatch_reader r;
	struct cmn_value v[2];
	int p[2], rows = 0;

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	rt_batch_out_init(&o, p[1], cols, 2, 0);
	for (int i = 0; i < 100; i++) {
		v[0] = (struct cmn_value){ .is_null = false, .v.i64 = i };
		v[1] = (struct cmn_value){ .is_null = i % 2 == 0, .v.bytes = { "abc", 3 } };
		assert_int_equal(rt_batch_out_add(&o, v, &err), 0);
	}
	assert_int_equal(rt_batch_out_end(&o, &err), 0);
	assert_int_equal(o.rows, 100);
	close(p[1]);
	assert_int_equal(rt_frame_read(p[0], &frame, &err), 1);
	assert_int_equal(cmn_rowbatch_open(&r, frame.data, frame.len, &err), 0);
	while (cmn_rowbatch_next(&r, v, &err) == 1) {
		assert_int_equal(v[0].v.i64, rows);
		assert_int_equal(v[1].is_null, rows % 2 == 0);
		rows++;
	}
	assert_int_equal(rows, 100);
	cmn_buf_free(&frame);
	assert_int_equal(rt_frame_read(p[0], &frame, &err), 0); /* the end frame */
	rt_batch_out_free(&o);
	close(p[0]);
}

static void test_truncated_streams(void **state)
{
	static const uint8_t hdr_only[] = { 10, 0, 0, 0, 'C', 'R' };
	static const uint8_t half_hdr[] = { 10, 0 };
	static const uint8_t huge[] = { 1, 0, 0, 0x01 }; /* 16 MiB + 1 */
	struct cmn_err err = CMN_ERR_INIT;
	struct cmn_buf frame = { 0 };
	int fd;

	(void)state;
	fd = pipe_with("", 0);
	assert_int_equal(rt_frame_read(fd, &frame, &err), -1);
	assert_non_null(strstr(err.msg, "without its end frame"));
	close(fd);
	fd = pipe_with(hdr_only, sizeof(hdr_only));
	assert_int_equal(rt_frame_read(fd, &frame, &err), -1);
	assert_int_equal(err.code, CMN_EPROTO);
	close(fd);
	fd = pipe_with(half_hdr, sizeof(half_hdr));
	assert_int_equal(rt_frame_read(fd, &frame, &err), -1);
	close(fd);
	fd = pipe_with(huge, sizeof(huge));
	assert_int_equal(rt_frame_read(fd, &frame, &err), -1);
	assert_non_null(strstr(err.msg, "16777217"));
	close(fd);
}

static void test_hello(void **state)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct cmn_buf line;
	struct rt_hello h = { "j-1", 2, 1, 7 }, back;
	static const char *const bad[] = {
		"",
		"{}",
		"[]",
		"{\"job\": \"j\", \"stage_index\": 0, \"input\": 0}",
		"{\"job\": \"j\", \"stage_index\": 0, \"input\": 0, \"sender\": -1}",
		"{\"job\": \"j\", \"stage_index\": 0, \"input\": 999, \"sender\": 0}",
		"{\"job\": 5, \"stage_index\": 0, \"input\": 0, \"sender\": 0}",
		"{\"job\": \"j\", \"stage_index\": 0, \"input\": 0, \"sender\": 0, \"x\": 1}",
	};

	(void)state;
	cmn_buf_init(&line, 0);
	assert_int_equal(rt_hello_format(&h, &line, &err), 0);
	assert_int_equal(line.data[line.len - 1], '\n');
	assert_int_equal(rt_hello_parse(line.data, line.len - 1, &back, &err), 0);
	assert_string_equal(back.job, "j-1");
	assert_int_equal(back.stage_index, 2);
	assert_int_equal(back.input, 1);
	assert_int_equal(back.sender, 7);
	cmn_buf_free(&line);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(rt_hello_parse(bad[i], strlen(bad[i]), &back, &err), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_out_round_trip),
		cmocka_unit_test(test_truncated_streams),
		cmocka_unit_test(test_hello),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
