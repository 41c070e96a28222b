/* Unit tests of common/: errors, buffers, parsers, cleanup helpers, logging. */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/err.h"
#include "common/io.h"
#include "common/log.h"
#include "common/parse.h"

static int fails_with_enoent(struct cmn_err *err)
{
	if (open("/nonexistent/cordon-test", O_RDONLY | O_CLOEXEC) < 0)
		return cmn_err_sys(err, "open /nonexistent/cordon-test");
	return 0;
}

static void test_err_sys_and_wrap(void **state)
{
	struct cmn_err err = CMN_ERR_INIT;
	(void)state;

	assert_int_equal(fails_with_enoent(&err), -1);
	assert_int_equal(err.code, CMN_ENOTFOUND);
	assert_int_equal(err.sys_errno, ENOENT);
	assert_string_equal(err.msg, "open /nonexistent/cordon-test: No such file or directory");
	assert_int_equal(cmn_err_wrap(&err, "load config %d", 7), -1);
	assert_string_equal(
	    err.msg, "load config 7: open /nonexistent/cordon-test: No such file or directory");
	assert_int_equal(err.code, CMN_ENOTFOUND);
	cmn_err_clear(&err);
	assert_int_equal(err.code, CMN_OK);
	assert_string_equal(err.msg, "");
}

static void test_err_null_and_names(void **state)
{
	(void)state;
	assert_int_equal(cmn_err_set(NULL, CMN_EINVAL, 0, "x"), -1);
	assert_int_equal(cmn_err_wrap(NULL, "x"), -1);
	errno = EPERM;
	assert_int_equal(cmn_err_sys(NULL, "x"), -1);
	assert_int_equal(errno, EPERM);
	assert_string_equal(cmn_code_name(CMN_EDENIED), "permission_denied");
	assert_string_equal(cmn_code_name(-3), "unknown");
	assert_string_equal(cmn_code_name(CMN_ECODE_MAX), "unknown");
	assert_int_equal(cmn_code_from_errno(EACCES), CMN_EDENIED);
	assert_int_equal(cmn_code_from_errno(ENOSPC), CMN_ELIMIT);
}

static void test_err_truncates_long_messages(void **state)
{
	struct cmn_err err = CMN_ERR_INIT;
	char big[2000];
	(void)state;

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cmn_err_set(&err, CMN_EINVAL, 0, "%s", big);
	assert_int_equal(strlen(err.msg), CMN_ERR_MSG_MAX - 1);
	cmn_err_wrap(&err, "%s", big);
	assert_int_equal(strlen(err.msg), CMN_ERR_MSG_MAX - 1);
}

static void test_buf_grow_printf_consume(void **state)
{
	cleanup_buf struct cmn_buf b = { 0 };
	struct cmn_err err = CMN_ERR_INIT;
	(void)state;

	cmn_buf_init(&b, 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(cmn_buf_printf(&b, &err, "%d,", i), 0);
	assert_true(strncmp(b.data, "0,1,2,", 6) == 0);
	assert_int_equal(b.data[b.len], '\0');
	size_t before = b.len;
	cmn_buf_consume(&b, 2);
	assert_int_equal(b.len, before - 2);
	assert_true(strncmp(b.data, "1,2,", 4) == 0);
	cmn_buf_consume(&b, b.len + 10);
	assert_int_equal(b.len, 0);
	assert_int_equal(cmn_buf_append(&b, "", 0, &err), 0);
	assert_string_equal(b.data, "");
}

static void test_buf_limit_and_overflow(void **state)
{
	cleanup_buf struct cmn_buf b = { 0 };
	struct cmn_err err = CMN_ERR_INIT;
	(void)state;

	cmn_buf_init(&b, 10);
	assert_int_equal(cmn_buf_append(&b, "0123456789", 10, &err), 0);
	assert_int_equal(cmn_buf_append(&b, "x", 1, &err), -1);
	assert_int_equal(err.code, CMN_ELIMIT);
	assert_int_equal(b.len, 10); /* a refused append changes nothing */
	cmn_buf_free(&b);
	cmn_buf_init(&b, 0);
	assert_int_equal(cmn_buf_reserve(&b, SIZE_MAX, &err), -1);
	assert_int_equal(err.code, CMN_ELIMIT);
	assert_int_equal(cmn_buf_reserve(&b, SIZE_MAX / 2 + 10, &err), -1);
}

static void test_buf_steal(void **state)
{
	struct cmn_buf b;
	struct cmn_err err = CMN_ERR_INIT;
	size_t len;
	(void)state;

	cmn_buf_init(&b, 0);
	char *empty = cmn_buf_steal(&b, &len);
	assert_non_null(empty);
	assert_int_equal(len, 0);
	free(empty);
	cmn_buf_append_str(&b, "hello", &err);
	cleanup_free char *s = cmn_buf_steal(&b, &len);
	assert_string_equal(s, "hello");
	assert_int_equal(len, 5);
	assert_null(b.data);
	cmn_buf_free(&b);
}

/* Writes n bytes of 'x' into a pipe from a child and returns the read end. */
static int pipe_of(size_t n)
{
	int fds[2];
	pid_t pid;

	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char block[4096];
		memset(block, 'x', sizeof(block));
		close(fds[0]);
		while (n > 0) {
			size_t k = n < sizeof(block) ? n : sizeof(block);
			if (write(fds[1], block, k) != (ssize_t)k)
				_exit(1);
			n -= k;
		}
		_exit(0);
	}
	close(fds[1]);
	return fds[0];
}

static void test_buf_read_fd(void **state)
{
	struct cmn_err err = CMN_ERR_INIT;
	cleanup_buf struct cmn_buf b = { 0 };
	(void)state;

	/* more than one internal read, exactly, to EOF */
	int fd = pipe_of(200000);
	cmn_buf_init(&b, 0);
	assert_int_equal(cmn_buf_read_fd(&b, fd, &err), 0);
	assert_int_equal(b.len, 200000);
	assert_int_equal(b.data[0], 'x');
	assert_int_equal(b.data[199999], 'x');
	close(fd);
	/* a peer sending more than the bound is refused, not buffered */
	cmn_buf_free(&b);
	cmn_buf_init(&b, 100000);
	fd = pipe_of(200000);
	assert_int_equal(cmn_buf_read_fd(&b, fd, &err), -1);
	assert_int_equal(err.code, CMN_ELIMIT);
	assert_true(b.len <= 100000);
	close(fd);
	/* a bad fd names itself */
	assert_int_equal(cmn_buf_read_fd(&b, -1, &err), -1);
	assert_non_null(strstr(err.msg, "read fd -1"));
	while (wait(NULL) > 0)
		;
}

static void test_parse_size(void **state)
{
	struct cmn_err err = CMN_ERR_INIT;
	uint64_t v;
	(void)state;

	assert_int_equal(cmn_parse_size("512", &v, &err), 0);
	assert_int_equal(v, 512);
	assert_int_equal(cmn_parse_size("64M", &v, &err), 0);
	assert_int_equal(v, 64ull << 20);
	assert_int_equal(cmn_parse_size("2GiB", &v, &err), 0);
	assert_int_equal(v, 2ull << 30);
	assert_int_equal(cmn_parse_size("4k", &v, &err), 0);
	assert_int_equal(v, 4096);
	const char *bad[] = {
		"", "-1", "M", "12Q", "1.5M", "99999999999999999999", "17179869184G", " 1", "1 "
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(cmn_parse_size(bad[i], &v, &err), -1);
		assert_int_equal(err.code, CMN_EINVAL);
	}
	char out[32];
	cmn_format_size(64ull << 20, out, sizeof(out));
	assert_string_equal(out, "64M");
	cmn_format_size(1000, out, sizeof(out));
	assert_string_equal(out, "1000");
}

static void test_parse_duration_and_ints(void **state)
{
	struct cmn_err err = CMN_ERR_INIT;
	uint64_t ns, u;
	int64_t i;
	(void)state;

	assert_int_equal(cmn_parse_duration("2s", &ns, &err), 0);
	assert_int_equal(ns, 2000000000ull);
	assert_int_equal(cmn_parse_duration("250ms", &ns, &err), 0);
	assert_int_equal(ns, 250000000ull);
	assert_int_equal(cmn_parse_duration("1.5", &ns, &err), 0);
	assert_int_equal(ns, 1500000000ull);
	assert_int_equal(cmn_parse_duration("5m", &ns, &err), 0);
	assert_int_equal(ns, 300000000000ull);
	assert_int_equal(cmn_parse_duration("10x", &ns, &err), -1);
	assert_int_equal(cmn_parse_duration("-1s", &ns, &err), -1);
	assert_int_equal(cmn_parse_duration("1e300h", &ns, &err), -1);
	assert_int_equal(cmn_parse_u64("18446744073709551615", &u, &err), 0);
	assert_int_equal(cmn_parse_u64("18446744073709551616", &u, &err), -1);
	assert_int_equal(cmn_parse_u64("-5", &u, &err), -1);
	assert_int_equal(cmn_parse_i64("-5", &i, &err), 0);
	assert_int_equal(i, -5);
	assert_int_equal(cmn_parse_i64("5x", &i, &err), -1);
}

static void test_cleanup_helpers(void **state)
{
	int observed;
	(void)state;
	{
		cleanup_close int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		assert_true(fd >= 0);
		observed = fd;
	}
	/* the fd was closed on scope exit */
	assert_int_equal(fcntl(observed, F_GETFD), -1);
	{
		cleanup_close int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		int kept = steal_fd(&fd);
		assert_int_equal(fd, -1);
		assert_true(fcntl(kept, F_GETFD) >= 0);
		close(kept);
	}
	cleanup_free char *p = strdup("x");
	char *q = steal_pointer(&p);
	assert_null(p);
	free(q);
}

static void test_log_levels_and_json(void **state)
{
	char path[] = "/tmp/cordon-log-XXXXXX";
	char out[4096] = { 0 };
	enum cmn_log_level lvl;
	int fd = mkstemp(path);
	(void)state;

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(cmn_log_level_parse("warn", &lvl), 0);
	assert_int_equal(lvl, CMN_LOG_WARN);
	assert_int_equal(cmn_log_level_parse("loud", &lvl), -1);
	cmn_log_set_fd(fd);
	cmn_log_init("t", CMN_LOG_WARN, true);
	cmn_info("hidden");
	cmn_warn("shown \"quoted\"");
	cmn_log_init("t", CMN_LOG_INFO, false);
	cmn_info("plain %d", 42);
	cmn_log_set_fd(2);
	assert_true(pread(fd, out, sizeof(out) - 1, 0) > 0);
	close(fd);
	assert_null(strstr(out, "hidden"));
	assert_non_null(strstr(out, "\"level\":\"warn\""));
	assert_non_null(strstr(out, "\"msg\":\"shown \\\"quoted\\\"\""));
	assert_non_null(strstr(out, " t info: plain 42\n"));
}

/* cmn_write_all: every byte of a write bigger than a pipe holds (a reader
 * drains it), and a pipe with no reader is an error with errno's code. */
static void test_write_all(void **state)
{
	int p[2], status;
	size_t n = 1u << 20;
	char *big = malloc(n);
	struct cmn_err err = CMN_ERR_INIT;
	pid_t pid;

	(void)state;
	assert_non_null(big);
	memset(big, 'w', n);
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		size_t got = 0;
		ssize_t r;
		char tmp[4096];
		close(p[1]);
		while ((r = read(p[0], tmp, sizeof(tmp))) > 0)
			got += (size_t)r;
		_exit(got == (1u << 20) ? 0 : 1);
	}
	close(p[0]);
	assert_int_equal(cmn_write_all(p[1], big, n, &err), 0);
	close(p[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(pipe(p), 0);
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(cmn_write_all(p[1], big, 10, &err), -1);
	assert_int_equal(err.sys_errno, EPIPE);
	assert_int_equal(cmn_write_all(p[1], big, 10, NULL), -1);
	signal(SIGPIPE, SIG_DFL);
	close(p[1]);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_err_sys_and_wrap),
		cmocka_unit_test(test_write_all),
		cmocka_unit_test(test_err_null_and_names),
		cmocka_unit_test(test_err_truncates_long_messages),
		cmocka_unit_test(test_buf_grow_printf_consume),
		cmocka_unit_test(test_buf_limit_and_overflow),
		cmocka_unit_test(test_buf_steal),
		cmocka_unit_test(test_buf_read_fd),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_parse_duration_and_ints),
		cmocka_unit_test(test_cleanup_helpers),
		cmocka_unit_test(test_log_levels_and_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
