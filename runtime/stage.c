/* runtime/stage.c — `cordon-node stage --plan-fd N`: reads the plan, sets up
 * the inputs, functions and sink, runs the stage's SQL (through TRANSFORM
 * when the plan has one) and streams the rows out (docs/node.md).
 *
 * Exit: 0 after the end frame is written, 1 on an error, 3 on a limit; the
 * last stdout line is always the JSON summary.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/cli.h"
#include "common/parse.h"
#include "runtime/sqlfn_crypto.h"
#include "runtime/stage.h"
#include "runtime/udf_node.h"

void rt_stage_udf_fail(struct rt_stage *st, const struct cmn_err *err, enum rt_limit limit)
{
	if (st->udf_failed)
		return;
	st->udf_failed = true;
	st->udf_err = *err;
	st->udf_limit = limit;
}

void rt_stage_cpu_rearm(struct rt_stage *st)
{
	if (st && st->cpu_armed)
		rt_cpu_arm(st->plan.limits.cpu_ns, 0, true, RT_NODE_EXIT_LIMIT, NULL);
}

void rt_stage_cpu_arm_batch(struct rt_stage *st)
{
	uint64_t grace = st ? st->plan.limits.cpu_ns : 0;

	if (st && st->cpu_armed)
		rt_cpu_arm(st->plan.limits.cpu_ns, grace > 500000000ull ? grace : 500000000ull,
			   true, RT_NODE_EXIT_LIMIT, NULL);
}

void rt_stage_cpu_disarm(struct rt_stage *st)
{
	if (st && st->cpu_armed)
		rt_cpu_arm(0, 0, false, 0, NULL);
}

static int read_fd_all(int fd, size_t max, struct cmn_buf *out, struct cmn_err *err)
{
	cmn_buf_init(out, max);
	return cmn_buf_read_fd(out, fd, err);
}

/* ---- setup ---------------------------------------------------------------------- */

static int load_files(struct rt_stage *st, struct cmn_err *err)
{
	const struct rt_plan *p = &st->plan;

	st->script_src = calloc(p->nscripts + 1, sizeof(*st->script_src));
	st->res = calloc(p->nresources + 1, sizeof(*st->res));
	if (!st->script_src || !st->res)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	for (size_t i = 0; i < p->nscripts; i++)
		if (read_fd_all(p->scripts[i].fd, (size_t)p->limits.string_bytes,
				&st->script_src[i], err) < 0)
			return cmn_err_wrap(err, "script %s", p->scripts[i].name);
	for (size_t i = 0; i < p->nresources; i++) {
		struct stat sb;
		if (fstat(p->resources[i].fd, &sb) < 0)
			return cmn_err_sys(err, "resource %s: fstat fd %d", p->resources[i].name,
					   p->resources[i].fd);
		st->res[i] = (struct rt_resource){ p->resources[i].name, p->resources[i].fd };
	}
	return 0;
}

static int deny_attach(void *ud, int action, const char *a, const char *b, const char *c,
		       const char *d)
{
	(void)ud;
	(void)a;
	(void)b;
	(void)c;
	(void)d;
	/* an in-memory database and nothing else: no files, no pragmas */
	if (action == SQLITE_ATTACH || action == SQLITE_DETACH || action == SQLITE_PRAGMA)
		return SQLITE_DENY;
	return SQLITE_OK;
}

static int open_db(struct rt_stage *st, sqlite3 **db, struct cmn_err *err)
{
	if (sqlite3_open_v2(":memory:", db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK)
		return cmn_err_set(err, CMN_EINTERNAL, 0, "sqlite3_open: %s",
				   *db ? sqlite3_errmsg(*db) : "out of memory");
	sqlite3_db_config(*db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(*db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
	sqlite3_db_config(*db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	sqlite3_limit(*db, SQLITE_LIMIT_ATTACHED, 0);
	sqlite3_limit(*db, SQLITE_LIMIT_LENGTH, 64 << 20);
	if (rt_sqlfn_crypto_register(*db, err) < 0 ||
	    rt_vtab_register(*db, st->inputs, st->plan.ninputs, err) < 0 ||
	    rt_udfs_register(st, *db, err) < 0)
		return -1;
	sqlite3_set_authorizer(*db, deny_attach, NULL);
	return 0;
}

static int setup_inputs(struct rt_stage *st, struct cmn_err *err)
{
	for (size_t i = 0; i < st->plan.ninputs; i++) {
		struct rt_input *in = &st->inputs[i];
		const struct rt_plan_input *pi = &st->plan.inputs[i];
		in->plan = pi;
		in->stage = st;
		in->fd = pi->fd;
		in->cols = calloc(pi->cols.n + 1, sizeof(*in->cols));
		if (!in->cols)
			return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	}
	return 0;
}

static struct cmn_col *plan_cols(const struct rt_plan_cols *pc)
{
	struct cmn_col *c = calloc(pc->n + 1, sizeof(*c));

	for (size_t i = 0; c && i < pc->n; i++)
		c[i] = (struct cmn_col){ pc->v[i].type, pc->v[i].name, strlen(pc->v[i].name) };
	return c;
}

/* ---- rows out of SQLite ---------------------------------------------------------- */

struct run {
	struct rt_stage *st;
	sqlite3 *db;
	sqlite3_stmt *stmt;
	struct rt_sink sink;
	struct cmn_col *out_cols;
	struct cmn_col *tf_in_cols; /* the transform's input types, per row */
	bool stmt_done;
};

/* Converts column i of the current row to the declared type. */
static int column_value(sqlite3_stmt *s, int i, const struct cmn_col *col, struct cmn_value *v,
			struct cmn_err *err)
{
	int t = sqlite3_column_type(s, i);
	double d;

	memset(v, 0, sizeof(*v));
	if (t == SQLITE_NULL) {
		v->is_null = true;
		return 0;
	}
	switch (col->type) {
	case CMN_COL_BIGINT:
	case CMN_COL_DATETIME:
	case CMN_COL_BOOLEAN:
		if (t == SQLITE_FLOAT) {
			d = sqlite3_column_double(s, i);
			if (!(d >= -9.2e18 && d <= 9.2e18) || d != (double)(int64_t)d)
				goto bad;
		} else if (t != SQLITE_INTEGER) {
			goto bad;
		}
		v->v.i64 = sqlite3_column_int64(s, i);
		if (col->type == CMN_COL_BOOLEAN) {
			if (v->v.i64 != 0 && v->v.i64 != 1)
				goto bad;
			v->v.b = v->v.i64 == 1;
		}
		return 0;
	case CMN_COL_DOUBLE:
		if (t != SQLITE_FLOAT && t != SQLITE_INTEGER)
			goto bad;
		v->v.f64 = sqlite3_column_double(s, i);
		return 0;
	case CMN_COL_STRING:
		v->v.bytes.ptr = (const char *)sqlite3_column_text(s, i);
		v->v.bytes.len = (size_t)sqlite3_column_bytes(s, i);
		if (!cmn_utf8_valid(v->v.bytes.ptr, v->v.bytes.len))
			return cmn_err_set(err, CMN_EINVAL, 0, "column %s: invalid UTF-8",
					   col->name);
		return 0;
	case CMN_COL_BINARY:
		v->v.bytes.ptr = sqlite3_column_blob(s, i);
		v->v.bytes.len = (size_t)sqlite3_column_bytes(s, i);
		if (!v->v.bytes.ptr)
			v->v.bytes.ptr = "";
		return 0;
	}
bad:
	return cmn_err_set(err, CMN_EINVAL, 0, "column %s: a %s value is not %s", col->name,
			   t == SQLITE_INTEGER ? "INTEGER"
			   : t == SQLITE_FLOAT ? "REAL"
			   : t == SQLITE_TEXT  ? "TEXT"
					       : "BLOB",
			   rt_plan_type_name(col->type));
}

static int step(struct run *r, struct cmn_err *err)
{
	int rc = sqlite3_step(r->stmt);

	if (rc == SQLITE_ROW) {
		r->st->rows_out++;
		return 1;
	}
	r->stmt_done = true;
	if (rc == SQLITE_DONE)
		return 0;
	if (r->st->udf_failed) {
		*err = r->st->udf_err;
		return -1;
	}
	return cmn_err_set(err, CMN_EINVAL, 0, "sql: %s", sqlite3_errmsg(r->db));
}

/* Rows of the SQL as the transform's input: types follow the values. */
static int next_for_transform(void *ud, struct cmn_value *vals, struct cmn_err *err)
{
	struct run *r = ud;
	int n, rc = step(r, err);

	if (rc <= 0)
		return rc;
	r->st->rows_out--; /* counted when the transform emits */
	n = sqlite3_column_count(r->stmt);
	for (int i = 0; i < n; i++) {
		struct cmn_col *c = &r->tf_in_cols[i];
		switch (sqlite3_column_type(r->stmt, i)) {
		case SQLITE_INTEGER:
			c->type = CMN_COL_BIGINT;
			break;
		case SQLITE_FLOAT:
			c->type = CMN_COL_DOUBLE;
			break;
		case SQLITE_BLOB:
			c->type = CMN_COL_BINARY;
			break;
		default:
			c->type = CMN_COL_STRING;
			break;
		}
		c->name = sqlite3_column_name(r->stmt, i);
		c->name = c->name ? c->name : "?";
		if (column_value(r->stmt, i, c, &vals[i], err) < 0)
			return -1;
	}
	return 1;
}

static int emit_row(void *ud, const struct cmn_value *vals, struct cmn_err *err)
{
	struct run *r = ud;

	r->st->rows_out++;
	return rt_sink_add(&r->sink, vals, err);
}

static int run_sql(struct run *r, struct cmn_err *err)
{
	struct cmn_value vals[RT_MAX_COLS];
	size_t n = r->st->plan.out_cols.n;
	int rc;

	while ((rc = step(r, err)) == 1) {
		for (size_t i = 0; i < n; i++)
			if (column_value(r->stmt, (int)i, &r->out_cols[i], &vals[i], err) < 0)
				return -1;
		if (rt_sink_add(&r->sink, vals, err) < 0)
			return -1;
	}
	return rc;
}

static int prepare(struct run *r, struct cmn_err *err)
{
	const struct rt_plan *p = &r->st->plan;
	const char *tail = NULL;
	size_t want = p->has_transform ? 0 : p->out_cols.n;

	if (sqlite3_prepare_v3(r->db, p->sql, -1, 0, &r->stmt, &tail) != SQLITE_OK) {
		if (r->st->udf_failed) {
			*err = r->st->udf_err;
			return -1;
		}
		return cmn_err_set(err, CMN_EINVAL, 0, "sql: %s", sqlite3_errmsg(r->db));
	}
	if (!r->stmt)
		return cmn_err_set(err, CMN_EINVAL, 0, "sql: empty statement");
	while (tail &&
	       (*tail == ' ' || *tail == '\n' || *tail == '\t' || *tail == ';' || *tail == '\r'))
		tail++;
	if (tail && *tail)
		return cmn_err_set(err, CMN_EINVAL, 0, "sql: more than one statement");
	if (!sqlite3_stmt_readonly(r->stmt))
		return cmn_err_set(err, CMN_EINVAL, 0, "sql: not a query");
	if (rt_vtab_plan_streaming(r->db, p->sql, r->st->inputs, p->ninputs, err) < 0)
		return -1;
	if (want && (size_t)sqlite3_column_count(r->stmt) != want)
		return cmn_err_set(err, CMN_EINVAL, 0, "sql: %d result columns, the output has %zu",
				   sqlite3_column_count(r->stmt), want);
	if (p->has_transform &&
	    (sqlite3_column_count(r->stmt) < 1 || sqlite3_column_count(r->stmt) > RT_MAX_COLS))
		return cmn_err_set(err, CMN_EINVAL, 0, "sql: bad number of result columns");
	return 0;
}

/* ---- the work dir (TRANSFORM) ------------------------------------------------------ */

static int copy_fd_to(int fd, int dirfd, const char *name, struct cmn_err *err)
{
	cleanup_close int out = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0500);
	char chunk[65536];
	off_t off = 0;

	if (out < 0)
		return cmn_err_sys(err, "create %s", name);
	for (;;) {
		ssize_t n = pread(fd, chunk, sizeof(chunk), off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cmn_err_sys(err, "pread fd %d", fd);
		if (n == 0)
			return 0;
		if (rt_write_full(out, chunk, (size_t)n, err) < 0)
			return -1;
		off += n;
	}
}

static int make_workdir(struct rt_stage *st, char *dir, size_t len, struct cmn_err *err)
{
	const char *tmp = getenv("TMPDIR");
	cleanup_close int dfd = -1;
	const struct rt_plan *p = &st->plan;

	snprintf(dir, len, "%s/cordon-stage-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return cmn_err_sys(err, "mkdtemp %s", dir);
	dfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (dfd < 0)
		return cmn_err_sys(err, "open %s", dir);
	for (size_t i = 0; i < p->nscripts; i++) {
		cleanup_close int out =
		    openat(dfd, p->scripts[i].name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0500);
		if (out < 0)
			return cmn_err_sys(err, "create %s", p->scripts[i].name);
		if (rt_write_full(out, st->script_src[i].data, st->script_src[i].len, err) < 0)
			return -1;
	}
	for (size_t i = 0; i < p->nresources; i++)
		if (copy_fd_to(p->resources[i].fd, dfd, p->resources[i].name, err) < 0)
			return -1;
	return 0;
}

static void remove_workdir(struct rt_stage *st, const char *dir)
{
	cleanup_close int dfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);

	if (dfd >= 0) {
		for (size_t i = 0; i < st->plan.nscripts; i++)
			unlinkat(dfd, st->plan.scripts[i].name, 0);
		for (size_t i = 0; i < st->plan.nresources; i++)
			unlinkat(dfd, st->plan.resources[i].name, 0);
	}
	rmdir(dir);
}

/* ---- the stage ------------------------------------------------------------------- */

static int run_stage(struct rt_stage *st, struct cmn_err *err)
{
	struct rt_plan *p = &st->plan;
	struct run r = { .st = st };
	char dir[4096] = "";
	int rc = -1;

	if (p->listen.host) {
		st->listen_fd = rt_tcp_listen(p->listen.host, p->listen.port, err);
		if (st->listen_fd < 0)
			return cmn_err_wrap(err, "listen");
	}
	if (setup_inputs(st, err) < 0 || load_files(st, err) < 0)
		return -1;
	if (p->nfunctions) {
		/* starts the CPU tick; the budget is armed around each UDF call */
		if (rt_cpu_arm(0, 0, false, 0, err) < 0)
			return -1;
		st->cpu_armed = true;
	}
	r.out_cols = plan_cols(&p->out_cols);
	r.tf_in_cols = calloc(RT_MAX_COLS, sizeof(*r.tf_in_cols));
	if (!r.out_cols || !r.tf_in_cols) {
		cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		goto out;
	}
	if (open_db(st, &r.db, err) < 0 || prepare(&r, err) < 0)
		goto out;
	if (p->listen.host && rt_shuffle_open(st, err) < 0)
		goto out;
	if (rt_sink_open(st, &r.sink, r.out_cols, p->out_cols.n, err) < 0)
		goto out;
	if (p->has_transform) {
		if (make_workdir(st, dir, sizeof(dir), err) < 0)
			goto out;
		rc = rt_transform_run(p->argv, dir, r.tf_in_cols,
				      (size_t)sqlite3_column_count(r.stmt), next_for_transform, &r,
				      r.out_cols, p->out_cols.n, emit_row, &r, err);
	} else {
		rc = run_sql(&r, err);
	}
	/* upstream streams must have ended cleanly before our output may end */
	if (rc == 0)
		rc = rt_shuffle_finish(st, err);
	if (rc == 0)
		rc = rt_sink_end(&r.sink, err);
out:
	for (size_t i = 0; i < p->ninputs; i++)
		st->rows_in += st->inputs[i].rows;
	st->bytes_out = r.sink.bytes;
	if (dir[0])
		remove_workdir(st, dir);
	rt_sink_free(&r.sink);
	sqlite3_finalize(r.stmt);
	sqlite3_close(r.db);
	free(r.out_cols);
	free(r.tf_in_cols);
	return rc;
}

static void summary(const struct rt_stage *st)
{
	struct rusage ru, rc;
	uint64_t ms;

	getrusage(RUSAGE_SELF, &ru);
	getrusage(RUSAGE_CHILDREN, &rc);
	ms = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + rc.ru_utime.tv_sec +
			rc.ru_stime.tv_sec) *
		 1000u +
	     (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec + rc.ru_utime.tv_usec +
			rc.ru_stime.tv_usec) /
		 1000u;
	printf("{\"rows_in\": %" PRIu64 ", \"rows_out\": %" PRIu64 ", \"bytes_out\": %" PRIu64
	       ", \"cpu_ms\": %" PRIu64 ", \"udf_calls\": %" PRIu64 "}\n",
	       st->rows_in, st->rows_out, st->bytes_out, ms, st->udf_calls);
	fflush(stdout);
}

static void stage_free(struct rt_stage *st)
{
	rt_udfs_free(st);
	rt_shuffle_free(st);
	for (size_t i = 0; i < st->plan.ninputs; i++)
		rt_input_free(&st->inputs[i]);
	for (size_t i = 0; st->script_src && i < st->plan.nscripts; i++)
		cmn_buf_free(&st->script_src[i]);
	free(st->script_src);
	free(st->res);
	if (st->listen_fd >= 0)
		close(st->listen_fd);
	rt_plan_free(&st->plan);
}

static int exit_status(const struct rt_stage *st, const struct cmn_err *err)
{
	if (err->code == CMN_ELIMIT) {
		enum rt_limit l = st->udf_failed ? st->udf_limit : RT_LIMIT_NONE;
		if (l != RT_LIMIT_NONE)
			fprintf(stderr, "cordon-node: limit exceeded: %s\n", rt_limit_name(l));
		else
			fprintf(stderr, "cordon-node: %s\n", err->msg);
		return RT_NODE_EXIT_LIMIT;
	}
	fprintf(stderr, "cordon-node: %s\n", err->msg);
	return CMN_EXIT_FAIL;
}

static int parse_args(int argc, char **argv, int *plan_fd, struct cmn_err *err)
{
	static const struct option opts[] = { { "plan-fd", required_argument, NULL, 'p' },
					      { NULL, 0, NULL, 0 } };
	uint64_t v;
	int c;

	*plan_fd = -1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'p' || cmn_parse_u64(optarg, &v, err) < 0 || v > RT_FD_MAX)
			return cmn_err_set(err, CMN_EINVAL, 0,
					   "usage: cordon-node stage --plan-fd N");
		*plan_fd = (int)v;
	}
	if (*plan_fd < 0 || optind != argc)
		return cmn_err_set(err, CMN_EINVAL, 0, "usage: cordon-node stage --plan-fd N");
	return 0;
}

int rt_node_stage_main(int argc, char **argv)
{
	struct rt_stage *st = calloc(1, sizeof(*st));
	struct cmn_err err = CMN_ERR_INIT;
	cleanup_buf struct cmn_buf text = { 0 };
	int plan_fd, rc = CMN_EXIT_OK;

	if (!st) {
		fprintf(stderr, "cordon-node: out of memory\n");
		return CMN_EXIT_FAIL;
	}
	st->listen_fd = -1;
	signal(SIGPIPE, SIG_IGN); /* a vanished peer is an EPIPE error, not a silent death */
	if (parse_args(argc, argv, &plan_fd, &err) < 0) {
		fprintf(stderr, "cordon-node: %s\n", err.msg);
		free(st);
		return CMN_EXIT_USAGE;
	}
	if (read_fd_all(plan_fd, RT_PLAN_MAX_BYTES, &text, &err) < 0 ||
	    rt_plan_parse(text.data, text.len, &st->plan, &err) < 0) {
		/* a plan too big is a bad plan, not a limit the job hit */
		fprintf(stderr, "cordon-node: plan: %s\n", err.msg);
		rc = CMN_EXIT_FAIL;
		goto out;
	}
	close(plan_fd);
	if (run_stage(st, &err) < 0)
		rc = exit_status(st, &err);
out:
	rt_cpu_arm(0, 0, false, 0, NULL);
	summary(st);
	stage_free(st);
	free(st);
	return rc;
}
