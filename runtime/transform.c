/* runtime/transform.c — TRANSFORM: rows through a command, as TSV.
 *
 * The command runs directly (execve of argv, no shell, a fixed small
 * environment) in the stage's work dir, with only stdin, stdout and stderr
 * open. Rows go to its stdin as tab-separated lines (NULL as \N; tab,
 * newline, carriage return and backslash escaped as \t \n \r \\) and each
 * line of its stdout is parsed back into the declared columns. One poll loop
 * writes and reads at the same time, so a command that writes before it has
 * read all its input never deadlocks against us. A line longer than
 * RT_TSV_LINE_MAX, a malformed value, or a non-zero exit fails the stage.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "runtime/stage.h"
#include "runtime/udf_value.h"

#define RT_TSV_LINE_MAX (8u << 20)
#define WRITE_AHEAD (64u << 10)

static int append_escaped(struct cmn_buf *out, const char *p, size_t n, struct cmn_err *err)
{
	size_t start = 0;

	for (size_t i = 0; i < n; i++) {
		const char *esc = NULL;
		switch (p[i]) {
		case '\t':
			esc = "\\t";
			break;
		case '\n':
			esc = "\\n";
			break;
		case '\r':
			esc = "\\r";
			break;
		case '\\':
			esc = "\\\\";
			break;
		default:
			continue;
		}
		if (cmn_buf_append(out, p + start, i - start, err) < 0 ||
		    cmn_buf_append(out, esc, 2, err) < 0)
			return -1;
		start = i + 1;
	}
	return cmn_buf_append(out, p + start, n - start, err);
}

int rt_tsv_format(const struct cmn_value *vals, const struct cmn_col *cols, size_t ncols,
		  struct cmn_buf *out, struct cmn_err *err)
{
	char tmp[64];
	int rc = 0;

	for (size_t i = 0; i < ncols && rc == 0; i++) {
		const struct cmn_value *v = &vals[i];
		if (i && cmn_buf_append(out, "\t", 1, err) < 0)
			return -1;
		if (v->is_null) {
			rc = cmn_buf_append(out, "\\N", 2, err);
			continue;
		}
		switch (cols[i].type) {
		case CMN_COL_BIGINT:
			rc = cmn_buf_printf(out, err, "%" PRId64, v->v.i64);
			break;
		case CMN_COL_DOUBLE:
			rc = cmn_buf_printf(out, err, "%.17g", v->v.f64);
			break;
		case CMN_COL_BOOLEAN:
			rc = cmn_buf_append_str(out, v->v.b ? "true" : "false", err);
			break;
		case CMN_COL_DATETIME:
			rt_datetime_format(v->v.i64, tmp, sizeof(tmp));
			rc = cmn_buf_append_str(out, tmp, err);
			break;
		case CMN_COL_STRING:
		case CMN_COL_BINARY:
			rc = append_escaped(out, v->v.bytes.ptr, v->v.bytes.len, err);
			break;
		}
	}
	if (rc < 0)
		return -1;
	return cmn_buf_append(out, "\n", 1, err);
}

/* Unescapes p[0..n) onto the end of scratch. */
static int unescape(const char *p, size_t n, struct cmn_buf *scratch, struct cmn_err *err)
{
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (c == '\\') {
			if (++i == n)
				return cmn_err_set(err, CMN_EINVAL, 0, "dangling backslash");
			switch (p[i]) {
			case 't':
				c = '\t';
				break;
			case 'n':
				c = '\n';
				break;
			case 'r':
				c = '\r';
				break;
			case '\\':
				c = '\\';
				break;
			default:
				return cmn_err_set(err, CMN_EINVAL, 0, "bad escape '\\%c'", p[i]);
			}
		}
		if (cmn_buf_append(scratch, &c, 1, err) < 0)
			return -1;
	}
	return 0;
}

static int parse_value(const char *s, size_t n, enum cmn_col_type t, struct cmn_value *v,
		       struct cmn_buf *scratch, size_t *off, struct cmn_err *err)
{
	char tmp[64], *end;

	v->is_null = false;
	if (t == CMN_COL_STRING || t == CMN_COL_BINARY) {
		*off = scratch->len;
		if (unescape(s, n, scratch, err) < 0)
			return -1;
		v->v.bytes.len = scratch->len - *off;
		if (t == CMN_COL_STRING && !cmn_utf8_valid(scratch->data + *off, v->v.bytes.len))
			return cmn_err_set(err, CMN_EINVAL, 0, "invalid UTF-8");
		return 0;
	}
	if (n == 0 || n >= sizeof(tmp))
		return cmn_err_set(err, CMN_EINVAL, 0, "bad %s value", rt_plan_type_name(t));
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	errno = 0;
	switch (t) {
	case CMN_COL_BIGINT:
		v->v.i64 = strtoll(tmp, &end, 10);
		break;
	case CMN_COL_DOUBLE:
		v->v.f64 = strtod(tmp, &end);
		break;
	case CMN_COL_BOOLEAN:
		if (strcmp(tmp, "true") == 0 || strcmp(tmp, "1") == 0)
			v->v.b = true;
		else if (strcmp(tmp, "false") == 0 || strcmp(tmp, "0") == 0)
			v->v.b = false;
		else
			return cmn_err_set(err, CMN_EINVAL, 0, "bad BOOLEAN '%s'", tmp);
		return 0;
	case CMN_COL_DATETIME:
		if (rt_datetime_parse(tmp, n, &v->v.i64) < 0)
			return cmn_err_set(err, CMN_EINVAL, 0, "bad DATETIME '%s'", tmp);
		return 0;
	default:
		return cmn_err_set(err, CMN_EINVAL, 0, "bad type");
	}
	if (errno || *end || isspace((unsigned char)tmp[0]))
		return cmn_err_set(err, CMN_EINVAL, 0, "bad %s '%s'", rt_plan_type_name(t), tmp);
	return 0;
}

int rt_tsv_parse(const char *line, size_t len, const struct cmn_col *cols, size_t ncols,
		 struct cmn_value *vals, struct cmn_buf *scratch, struct cmn_err *err)
{
	size_t offs[RT_MAX_COLS], start = 0, col = 0;

	if (ncols > RT_MAX_COLS)
		return cmn_err_set(err, CMN_EINVAL, 0, "too many columns");
	cmn_buf_reset(scratch);
	if (len && line[len - 1] == '\r')
		len--;
	for (size_t i = 0; i <= len; i++) {
		size_t n;
		if (i < len && line[i] != '\t')
			continue;
		if (col == ncols)
			return cmn_err_set(err, CMN_EINVAL, 0, "more than %zu fields", ncols);
		n = i - start;
		offs[col] = SIZE_MAX;
		if (n == 2 && line[start] == '\\' && line[start + 1] == 'N')
			vals[col].is_null = true;
		else if (parse_value(line + start, n, cols[col].type, &vals[col], scratch,
				     &offs[col], err) < 0)
			return cmn_err_wrap(err, "field %zu", col + 1);
		col++;
		start = i + 1;
	}
	if (col != ncols)
		return cmn_err_set(err, CMN_EINVAL, 0, "%zu fields, expected %zu", col, ncols);
	/* scratch may have moved while it grew: point the strings in now */
	for (size_t i = 0; i < ncols; i++)
		if (!vals[i].is_null && offs[i] != SIZE_MAX)
			vals[i].v.bytes.ptr = scratch->data + offs[i];
	return 0;
}

/* ---- running the command --------------------------------------------------------- */

static pid_t spawn(char *const *argv, const char *dir, int in_fd, int out_fd, struct cmn_err *err)
{
	static char env_path[] = "PATH=/usr/bin:/bin", env_lang[] = "LANG=C.UTF-8",
		    env_home[] = "HOME=/nonexistent";
	char *const envp[] = { env_path, env_lang, env_home, NULL };
	pid_t pid = fork();

	if (pid < 0)
		return cmn_err_sys(err, "fork");
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || (dir && chdir(dir) < 0))
			_exit(126);
		syscall(SYS_close_range, 3u, ~0u, 0u);
		execve(argv[0], argv, envp);
		dprintf(2, "cordon-node: transform: execve %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

struct pump {
	int in_fd, out_fd;
	struct cmn_buf w, r, scratch;
	bool src_done, out_eof;
	const struct cmn_col *in_cols, *out_cols;
	size_t in_ncols, out_ncols;
	rt_next_fn next;
	void *next_ud;
	rt_rows_fn emit;
	void *emit_ud;
	uint64_t line;
};

static int fill(struct pump *p, struct cmn_err *err)
{
	struct cmn_value vals[RT_MAX_COLS];

	while (!p->src_done && p->w.len < WRITE_AHEAD) {
		int rc = p->next(p->next_ud, vals, err);
		if (rc < 0)
			return -1;
		if (rc == 0) {
			p->src_done = true;
			break;
		}
		if (rt_tsv_format(vals, p->in_cols, p->in_ncols, &p->w, err) < 0)
			return -1;
	}
	if (p->src_done && p->w.len == 0 && p->in_fd >= 0) {
		close(p->in_fd);
		p->in_fd = -1;
	}
	return 0;
}

static int emit_lines(struct pump *p, bool final, struct cmn_err *err)
{
	struct cmn_value vals[RT_MAX_COLS];
	size_t off = 0;

	if (p->r.len == 0)
		return 0; /* r.data may still be NULL */
	for (;;) {
		char *nl = memchr(p->r.data + off, '\n', p->r.len - off);
		size_t len = nl ? (size_t)(nl - (p->r.data + off)) : p->r.len - off;
		if (!nl && (!final || len == 0))
			break;
		p->line++;
		if (rt_tsv_parse(p->r.data + off, len, p->out_cols, p->out_ncols, vals, &p->scratch,
				 err) < 0 ||
		    p->emit(p->emit_ud, vals, err) < 0)
			return cmn_err_wrap(err, "transform output line %" PRIu64, p->line);
		off += len + (nl ? 1 : 0);
	}
	cmn_buf_consume(&p->r, off);
	if (p->r.len > RT_TSV_LINE_MAX)
		return cmn_err_set(err, CMN_ELIMIT, 0,
				   "transform output line %" PRIu64 " longer than %u bytes",
				   p->line + 1, RT_TSV_LINE_MAX);
	return 0;
}

static int pump_once(struct pump *p, struct cmn_err *err)
{
	struct pollfd pfd[2] = { { .fd = p->out_fd, .events = POLLIN },
				 { .fd = p->in_fd, .events = POLLOUT } };
	nfds_t n = p->in_fd >= 0 && p->w.len ? 2 : 1;
	char chunk[65536];

	if (poll(pfd, n, -1) < 0)
		return errno == EINTR ? 0 : cmn_err_sys(err, "poll");
	if (n == 2 && (pfd[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
		ssize_t w = write(p->in_fd, p->w.data, p->w.len);
		if (w < 0 && errno == EPIPE) {
			/* the command stopped reading: it decides the result with its exit */
			p->src_done = true;
			cmn_buf_reset(&p->w);
			close(p->in_fd);
			p->in_fd = -1;
		} else if (w < 0 && errno != EAGAIN && errno != EINTR) {
			return cmn_err_sys(err, "write to transform");
		} else if (w > 0) {
			cmn_buf_consume(&p->w, (size_t)w);
		}
	}
	if (pfd[0].revents) {
		ssize_t r = read(p->out_fd, chunk, sizeof(chunk));
		if (r < 0 && errno != EAGAIN && errno != EINTR)
			return cmn_err_sys(err, "read from transform");
		if (r == 0)
			p->out_eof = true;
		if (r > 0 && cmn_buf_append(&p->r, chunk, (size_t)r, err) < 0)
			return -1;
		return emit_lines(p, p->out_eof, err);
	}
	return 0;
}

static int wait_child(pid_t pid, const char *name, struct cmn_err *err)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return cmn_err_sys(err, "waitpid");
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		return cmn_err_set(err, CMN_EINVAL, 0, "transform: %s exited with status %d", name,
				   WEXITSTATUS(status));
	return cmn_err_set(err, CMN_EINVAL, 0, "transform: %s killed by signal %d", name,
			   WTERMSIG(status));
}

int rt_transform_run(char *const *argv, const char *dir, const struct cmn_col *in_cols,
		     size_t in_ncols, rt_next_fn next, void *next_ud,
		     const struct cmn_col *out_cols, size_t out_ncols, rt_rows_fn emit,
		     void *emit_ud, struct cmn_err *err)
{
	int to[2], from[2], rc = 0;
	struct pump p = { .in_cols = in_cols,
			  .in_ncols = in_ncols,
			  .out_cols = out_cols,
			  .out_ncols = out_ncols,
			  .next = next,
			  .next_ud = next_ud,
			  .emit = emit,
			  .emit_ud = emit_ud };
	pid_t pid;

	if (pipe2(to, O_CLOEXEC) < 0)
		return cmn_err_sys(err, "pipe2");
	if (pipe2(from, O_CLOEXEC) < 0) {
		close(to[0]);
		close(to[1]);
		return cmn_err_sys(err, "pipe2");
	}
	pid = spawn(argv, dir, to[0], from[1], err);
	close(to[0]);
	close(from[1]);
	p.in_fd = to[1];
	p.out_fd = from[0];
	if (pid < 0) {
		close(to[1]);
		close(from[0]);
		return -1;
	}
	fcntl(p.in_fd, F_SETFL, O_NONBLOCK);
	cmn_buf_init(&p.w, 0);
	cmn_buf_init(&p.r, RT_TSV_LINE_MAX + 65536);
	cmn_buf_init(&p.scratch, 0);
	while (rc == 0 && !p.out_eof) {
		rc = fill(&p, err);
		if (rc == 0)
			rc = pump_once(&p, err);
	}
	if (p.in_fd >= 0)
		close(p.in_fd);
	close(p.out_fd);
	if (rc < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	} else {
		rc = wait_child(pid, argv[0], err);
	}
	cmn_buf_free(&p.w);
	cmn_buf_free(&p.r);
	cmn_buf_free(&p.scratch);
	return rc;
}
