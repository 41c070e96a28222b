/* bench/udf/udf_bench.c — the per-row runtime path that SQL jobs use
 * (rt_udf_call with every limit on, what sqlfn_udf.c's SQLite scalar
 * callback calls per row), timed over N calls.
 *
 *   udf_bench SCRIPT FUNCTION N MODE
 * MODE: int | email            rt_udf_call per row
 *       int-batch | email-batch rt_udf_call_batch, RT_BATCH_ROWS rows a call
 *       int-bare | email-bare   the floor of any per-row path: a bare C loop
 *                               around lua_pcall on a plain luaL_newstate
 *                               (no sandbox, no limits), same function
 *       int-sql | email-sql     an SQL job's path end to end: the UDF
 *                               registered by sqlfn_udf.c (rt_udfs_register)
 *                               in SQLite, SELECT sum(f(col)) over N rows
 *       int-sqlbase | email-sqlbase  the same scan with no UDF (x*2+1 in
 *                               SQL; the email itself): SQLite's own cost
 *       int-vtab | email-vtab   THE SQL JOB PATH: a stage's input (row
 *                               frames of ~1 MiB, as cordond sends them) as
 *                               the stage's virtual table, the UDF a
 *                               computed column evaluated with
 *                               rt_udf_call_batch (stage_udfcols.c), as the
 *                               planner plans SELECT sum(f(col)) FROM t
 *       int-vtabbase | email-vtabbase  the same vtab scan without the UDF
 *                               (the computed column declared, never read)
 * prints "<calls> <seconds> <checksum>" for N calls; args are i (int) or a
 * generated email "userI@example.com" (email). */
#define _GNU_SOURCE
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/parse.h"
#include "runtime/stage.h"
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

static struct rt_value arg_of(bool email, uint64_t i, char *text, size_t len)
{
	struct rt_value v;

	if (email) {
		int n = snprintf(text, len, "user%llu@example.com", (unsigned long long)i);
		v.type = RT_T_STRING;
		v.v.s.p = text;
		v.v.s.len = (size_t)n;
	} else {
		v.type = RT_T_BIGINT;
		v.v.i = (int64_t)i;
	}
	return v;
}

static long long check_of(const struct rt_value *v)
{
	return v->type == RT_T_BIGINT ? v->v.i : (long long)v->v.s.len;
}

static int run_rows(struct rt_udf *u, bool email, uint64_t n, long long *check)
{
	struct cmn_err err = CMN_ERR_INIT;
	char text[64];

	for (uint64_t i = 0; i < n; i++) {
		struct rt_value arg = arg_of(email, i, text, sizeof(text)), out;
		if (rt_udf_call(u, &arg, 1, &out, &err) < 0) {
			fprintf(stderr, "udf_bench: call %llu: %s\n", (unsigned long long)i,
				err.msg);
			return -1;
		}
		*check += check_of(&out);
	}
	return 0;
}

static int run_batches(struct rt_udf *u, bool email, uint64_t n, long long *check)
{
	struct cmn_err err = CMN_ERR_INIT;
	static struct rt_value args[RT_BATCH_ROWS], outs[RT_BATCH_ROWS];
	static char texts[RT_BATCH_ROWS][64];

	for (uint64_t i = 0; i < n; i += RT_BATCH_ROWS) {
		size_t rows = n - i < RT_BATCH_ROWS ? (size_t)(n - i) : RT_BATCH_ROWS;
		for (size_t r = 0; r < rows; r++)
			args[r] = arg_of(email, i + r, texts[r], sizeof(texts[r]));
		if (rt_udf_call_batch(u, args, 1, rows, outs, &err) < 0) {
			fprintf(stderr, "udf_bench: batch %llu: %s\n", (unsigned long long)i,
				err.msg);
			return -1;
		}
		for (size_t r = 0; r < rows; r++)
			*check += check_of(&outs[r]);
	}
	return 0;
}

/* The floor: what one protected C->Lua call per row costs with nothing
 * around it. Setup happens before the clock starts. */
static int run_bare(const struct cmn_buf *src, const char *fn, bool email, uint64_t n,
		    long long *check, double *secs)
{
	lua_State *L = luaL_newstate();
	char text[64];
	double t0;

	if (!L)
		return -1;
	luaL_openlibs(L);
	if (luaL_loadbufferx(L, src->data, src->len, "=udfs", "t") != LUA_OK ||
	    lua_pcall(L, 0, 1, 0) != LUA_OK || lua_getfield(L, -1, fn) != LUA_TFUNCTION) {
		fprintf(stderr, "udf_bench: bare: cannot load %s\n", fn);
		lua_close(L);
		return -1;
	}
	lua_replace(L, 1);
	lua_settop(L, 1);
	t0 = now();
	for (uint64_t i = 0; i < n; i++) {
		struct rt_value a = arg_of(email, i, text, sizeof(text));
		lua_pushvalue(L, 1);
		if (email)
			lua_pushlstring(L, a.v.s.p, a.v.s.len);
		else
			lua_pushinteger(L, (lua_Integer)a.v.i);
		if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
			fprintf(stderr, "udf_bench: bare: call failed\n");
			lua_close(L);
			return -1;
		}
		if (lua_isinteger(L, -1))
			*check += (long long)lua_tointeger(L, -1);
		else
			*check += (long long)lua_rawlen(L, -1);
		lua_settop(L, 1);
	}
	*secs = now() - t0;
	lua_close(L);
	return 0;
}

/* A table t(x, e) of n rows in an in-memory database, filled before the
 * clock starts. */
static int sql_fill(sqlite3 *db, uint64_t n)
{
	sqlite3_stmt *ins = NULL;
	char text[64];
	int rc = sqlite3_exec(db, "CREATE TABLE t(x INTEGER, e TEXT); BEGIN", NULL, NULL, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, "INSERT INTO t VALUES (?, ?)", -1, &ins, NULL);
	for (uint64_t i = 0; rc == SQLITE_OK && i < n; i++) {
		struct rt_value e = arg_of(true, i, text, sizeof(text));
		sqlite3_bind_int64(ins, 1, (sqlite3_int64)i);
		sqlite3_bind_text(ins, 2, e.v.s.p, (int)e.v.s.len, SQLITE_STATIC);
		rc = sqlite3_step(ins) == SQLITE_DONE ? sqlite3_reset(ins) : SQLITE_ERROR;
	}
	sqlite3_finalize(ins);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : -1;
}

/* The SQL job's per-row path: the function registered exactly as a stage
 * registers it (sqlfn_udf.c, CPU budget armed per call), called by SQLite. */
static int run_sql(const struct cmn_buf *src, const char *script, const char *fn, bool email,
		   bool base, uint64_t n, long long *check, double *secs)
{
	char fname[RT_PLAN_MAX_NAME], sname[RT_PLAN_MAX_NAME];
	struct rt_plan_function f = { fname, RT_UDF_SCALAR, sname, fname, NULL, 0 };
	struct rt_plan_file sf = { sname, -1 };
	struct cmn_buf text = *src; /* borrowed: never freed through st */
	struct rt_stage st;
	struct cmn_err err = CMN_ERR_INIT;
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	char sql[256];
	double t0;
	int rc = -1;

	snprintf(fname, sizeof(fname), "%s", fn);
	snprintf(sname, sizeof(sname), "%s", script);
	memset(&st, 0, sizeof(st));
	st.plan.functions = &f;
	st.plan.nfunctions = 1;
	st.plan.scripts = &sf;
	st.plan.nscripts = 1;
	st.plan.limits.cpu_ns = RT_DEFAULT_CPU_NS;
	st.script_src = &text;
	st.cpu_armed = true;
	if (sqlite3_open(":memory:", &db) != SQLITE_OK || sql_fill(db, n) < 0 ||
	    rt_udfs_register(&st, db, &err) < 0) {
		fprintf(stderr, "udf_bench: sql setup: %s %s\n", err.msg, sqlite3_errmsg(db));
		goto out;
	}
	if (email)
		snprintf(sql, sizeof(sql), "SELECT sum(length(%s%s%s)) FROM t", base ? "" : fn,
			 base ? "" : "(", base ? "e" : "e)");
	else
		snprintf(sql, sizeof(sql), "SELECT sum(%s%s%s) FROM t", base ? "" : fn,
			 base ? "" : "(", base ? "x * 2 + 1" : "x)");
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
		goto out;
	t0 = now();
	if (sqlite3_step(q) != SQLITE_ROW) {
		fprintf(stderr, "udf_bench: sql: %s %s\n", sqlite3_errmsg(db), st.udf_err.msg);
		goto out;
	}
	*secs = now() - t0;
	*check = (long long)sqlite3_column_int64(q, 0);
	rc = 0;
out:
	sqlite3_finalize(q);
	sqlite3_close(db);
	st.script_src = NULL;
	rt_udfs_free(&st);
	return rc;
}

/* n rows (x BIGINT, e STRING) as row frames of about RT_BATCH_BYTES, added
 * to the input as if read from its fd. */
static int vtab_fill(struct rt_input *in, const struct cmn_col *cols, uint64_t n,
		     struct cmn_err *err)
{
	struct cmn_rowbatch_writer w;
	char text[64];
	bool open = false;

	for (uint64_t i = 0; i <= n; i++) {
		if (open && (i == n || w.buf.len >= RT_BATCH_BYTES)) {
			struct cmn_buf frame;
			if (cmn_rowbatch_finish(&w, err) < 0)
				return -1;
			frame = w.buf;
			open = false;
			if (rt_input_add_frame(in, &frame, err) < 0)
				return -1;
		}
		if (i == n)
			break;
		if (!open && cmn_rowbatch_begin(&w, cols, 2, RT_FRAME_MAX, err) < 0)
			return -1;
		open = true;
		struct rt_value e = arg_of(true, i, text, sizeof(text));
		struct cmn_value vals[2] = { { .is_null = false, .v.i64 = (int64_t)i },
					     { .is_null = false,
					       .v.bytes = { e.v.s.p, e.v.s.len } } };
		if (cmn_rowbatch_add(&w, vals, err) < 0)
			return -1;
	}
	in->done = true;
	in->fd = -1;
	return 0;
}

/* The SQL job's path: one stage input as its vtab, the UDF as a computed
 * column of it (what the planner makes of f(col)), CPU budget armed per
 * batch as cordon-node does. base: the same scan without the UDF. */
static int run_vtab(const struct cmn_buf *src, const char *script, const char *fn, bool email,
		    bool base, uint64_t n, long long *check, double *secs)
{
	char fname[RT_PLAN_MAX_NAME], sname[RT_PLAN_MAX_NAME];
	char cx[] = "x", ce[] = "e", cu[] = "_u0", tin[] = "in0";
	struct rt_plan_function f = { fname, RT_UDF_SCALAR, sname, fname, NULL, 0 };
	struct rt_plan_file sf = { sname, -1 };
	struct rt_plan_col pcols[2] = { { cx, CMN_COL_BIGINT }, { ce, CMN_COL_STRING } };
	struct rt_plan_carg arg = { email ? 1 : 0, { RT_T_NULL, { 0 } }, NULL };
	struct rt_plan_computed comp = { cu, 0, &arg, 1 };
	/* base keeps the computed column (the same block-wise scan), unread */
	struct rt_plan_input pin = { tin, { pcols, 2 }, -1, 0, &comp, 1 };
	struct cmn_col cols[2] = { { CMN_COL_BIGINT, "x", 1 }, { CMN_COL_STRING, "e", 1 } };
	struct cmn_buf text = *src; /* borrowed: never freed through st */
	struct rt_stage *st = calloc(1, sizeof(*st));
	struct cmn_err err = CMN_ERR_INIT;
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	const char *sql;
	double t0;
	int rc = -1;

	if (!st)
		return -1;
	snprintf(fname, sizeof(fname), "%s", fn);
	snprintf(sname, sizeof(sname), "%s", script);
	st->plan.functions = &f;
	st->plan.nfunctions = 1;
	st->plan.scripts = &sf;
	st->plan.nscripts = 1;
	st->plan.inputs = &pin;
	st->plan.ninputs = 1;
	st->plan.limits.cpu_ns = RT_DEFAULT_CPU_NS;
	st->script_src = &text;
	st->cpu_armed = true;
	st->inputs[0].plan = &pin;
	st->inputs[0].stage = st;
	if (sqlite3_open(":memory:", &db) != SQLITE_OK ||
	    vtab_fill(&st->inputs[0], cols, n, &err) < 0 ||
	    rt_vtab_register(db, st->inputs, 1, &err) < 0 || rt_udfs_register(st, db, &err) < 0) {
		fprintf(stderr, "udf_bench: vtab setup: %s %s\n", err.msg, sqlite3_errmsg(db));
		goto out;
	}
	/* what the planner renders for SELECT sum(f(x)) / sum(length(f(e))) */
	if (email)
		sql = base ? "SELECT sum(length(\"t\".\"e\")) FROM \"in0\" AS \"t\""
			   : "SELECT sum(length(\"t\".\"_u0\")) FROM \"in0\" AS \"t\"";
	else
		sql = base ? "SELECT sum(\"t\".\"x\" * 2 + 1) FROM \"in0\" AS \"t\""
			   : "SELECT sum(\"t\".\"_u0\") FROM \"in0\" AS \"t\"";
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
		goto out;
	t0 = now();
	if (sqlite3_step(q) != SQLITE_ROW) {
		fprintf(stderr, "udf_bench: vtab: %s %s\n", sqlite3_errmsg(db), st->udf_err.msg);
		goto out;
	}
	*secs = now() - t0;
	*check = (long long)sqlite3_column_int64(q, 0);
	rc = 0;
out:
	sqlite3_finalize(q);
	sqlite3_close(db);
	rt_input_free(&st->inputs[0]);
	st->script_src = NULL;
	rt_udfs_free(st);
	free(st);
	return rc;
}

int main(int argc, char **argv)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct cmn_buf src;
	struct rt_limits lim = { 0 };
	struct rt_udf_source s;
	struct rt_udf *u;
	uint64_t n;
	bool email;
	double t0, secs;
	long long check = 0;
	int rc;

	if (argc != 5 || load(argv[1], &src) < 0 || cmn_parse_u64(argv[3], &n, &err) < 0) {
		fprintf(stderr, "usage: udf_bench SCRIPT FUNCTION N int|email[-batch|-bare]\n");
		return 2;
	}
	email = strncmp(argv[4], "email", 5) == 0;
	if (strstr(argv[4], "-bare")) {
		if (run_bare(&src, argv[2], email, n, &check, &secs) < 0)
			return 1;
		printf("%llu %.6f %lld\n", (unsigned long long)n, secs, check);
		cmn_buf_free(&src);
		return 0;
	}
	if (strstr(argv[4], "-vtab")) {
		if (run_vtab(&src, argv[1], argv[2], email, strstr(argv[4], "-vtabbase") != NULL, n,
			     &check, &secs) < 0)
			return 1;
		printf("%llu %.6f %lld\n", (unsigned long long)n, secs, check);
		cmn_buf_free(&src);
		return 0;
	}
	if (strstr(argv[4], "-sql")) {
		if (run_sql(&src, argv[1], argv[2], email, strstr(argv[4], "-sqlbase") != NULL, n,
			    &check, &secs) < 0)
			return 1;
		printf("%llu %.6f %lld\n", (unsigned long long)n, secs, check);
		cmn_buf_free(&src);
		return 0;
	}
	s = (struct rt_udf_source){ argv[1], src.data, src.len, argv[2], &lim, NULL, 0 };
	/* every limit at its default; the CPU budget armed as cordon-node arms it */
	if (rt_udf_open(&s, &u, &err) < 0 ||
	    rt_cpu_arm(3600ull * 1000000000ull, 0, false, 0, &err) < 0) {
		fprintf(stderr, "udf_bench: %s\n", err.msg);
		return 1;
	}
	t0 = now();
	if (strstr(argv[4], "-batch"))
		rc = run_batches(u, email, n, &check);
	else
		rc = run_rows(u, email, n, &check);
	secs = now() - t0;
	rt_cpu_arm(0, 0, false, 0, NULL);
	if (rc < 0)
		return 1;
	printf("%llu %.6f %lld\n", (unsigned long long)n, secs, check);
	rt_udf_free(u);
	cmn_buf_free(&src);
	return 0;
}
