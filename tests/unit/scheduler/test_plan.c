/* Plan-equivalence tests of the planner (scheduler/plan*.c).
 *
 * For every query: parse, resolve against a real catalog, plan with 1, 2
 * and 4 MAP nodes, then run the plan the way the nodes would — every node
 * is its own SQLite connection, each input a plain table named like the
 * input: MAP inputs hold a contiguous slice of the generated table's rows,
 * stage outputs are hash-partitioned with the contract's FNV-1a hash
 * (docs/stage-plan.md) over the declared column types, REDUCE and FINAL
 * nodes get what was routed to them — and compare the result with the
 * original query run by SQLite directly over the whole tables.
 *
 * UDF stand-ins: the Lua UDFs of SQL.md are replaced by native SQLite
 * functions registered only in this test, for the reference AND for the
 * plan run: mask_email (scalar), geomean + geomean__partial +
 * geomean__final (aggregate, the contract's three registrations), and
 * SQLite's own json_each as the table function (catalogued as a UDTF with
 * columns key, value). TRANSFORM needs a process and is checked in the
 * plan JSON only. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "scheduler/plan.h"
#include "scheduler/resolve.h"
#include "scheduler/tables.h"

static struct sch_catalog *cat;
static sqlite3 *ref;
static char dbpath[64];

/* ---- UDF stand-ins ---------------------------------------------------------- */

static void mask_email(sqlite3_context *c, int argc, sqlite3_value **argv)
{
	const char *s = (const char *)sqlite3_value_text(argv[0]);
	const char *at;
	char out[512];
	size_t n;
	(void)argc;
	if (sqlite3_value_type(argv[0]) == SQLITE_NULL || !s) {
		sqlite3_result_null(c);
		return;
	}
	at = strchr(s, '@');
	if (!at || !at[1] || strlen(s) >= sizeof(out)) {
		sqlite3_result_text(c, s, -1, SQLITE_TRANSIENT);
		return;
	}
	n = (size_t)(at - s);
	for (size_t i = 0; i < n; i++)
		out[i] = i == 0 ? s[0] : '*';
	snprintf(out + n, sizeof(out) - n, "%s", at);
	sqlite3_result_text(c, out, -1, SQLITE_TRANSIENT);
}

struct gm {
	int64_t n;
	double s;
};

static void gm_step(sqlite3_context *c, int argc, sqlite3_value **argv)
{
	struct gm *g = sqlite3_aggregate_context(c, sizeof(*g));
	double x;
	(void)argc;
	if (!g || sqlite3_value_type(argv[0]) == SQLITE_NULL)
		return;
	x = sqlite3_value_double(argv[0]);
	if (x > 0) {
		g->n++;
		g->s += log(x);
	}
}

static void gm_merge(sqlite3_context *c, int argc, sqlite3_value **argv)
{
	struct gm *g = sqlite3_aggregate_context(c, sizeof(*g));
	struct gm o;
	(void)argc;
	if (!g || sqlite3_value_bytes(argv[0]) != (int)sizeof(o))
		return;
	memcpy(&o, sqlite3_value_blob(argv[0]), sizeof(o));
	g->n += o.n;
	g->s += o.s;
}

static void gm_final(sqlite3_context *c)
{
	struct gm *g = sqlite3_aggregate_context(c, 0);
	if (!g || g->n == 0)
		sqlite3_result_null(c);
	else
		sqlite3_result_double(c, exp(g->s / (double)g->n));
}

static void gm_partial(sqlite3_context *c)
{
	struct gm *g = sqlite3_aggregate_context(c, sizeof(*g));
	struct gm zero = { 0, 0 };
	sqlite3_result_blob(c, g ? g : &zero, sizeof(zero), SQLITE_TRANSIENT);
}

static void register_fns(sqlite3 *db)
{
	assert_int_equal(
	    sqlite3_create_function(db, "mask_email", 1, SQLITE_UTF8, NULL, mask_email, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(
	    sqlite3_create_function(db, "geomean", 1, SQLITE_UTF8, NULL, NULL, gm_step, gm_final),
	    SQLITE_OK);
	assert_int_equal(sqlite3_create_function(db, "geomean__partial", 1, SQLITE_UTF8, NULL, NULL,
						 gm_step, gm_partial),
			 SQLITE_OK);
	assert_int_equal(sqlite3_create_function(db, "geomean__final", 1, SQLITE_UTF8, NULL, NULL,
						 gm_merge, gm_final),
			 SQLITE_OK);
}

/* ---- data and catalog ------------------------------------------------------------ */

static void exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
}

static void put_table(const char *name, const char *const *cols, const int *types, size_t n,
		      const char *view_sql)
{
	struct sch_tabledef t = { 0 };
	struct sch_q_coldef defs[16];
	struct cmn_err err = CMN_ERR_INIT;
	char proj[] = "p1", nm[64], owner[] = "ALIYUN$acme", vs[256], cn[16][32];

	snprintf(nm, sizeof(nm), "%s", name);
	snprintf(vs, sizeof(vs), "%s", view_sql ? view_sql : "");
	for (size_t i = 0; i < n; i++) {
		snprintf(cn[i], sizeof(cn[i]), "%s", cols[i]);
		defs[i] = (struct sch_q_coldef){ cn[i], (enum sch_q_type)types[i], NULL };
	}
	t.project = proj;
	t.name = nm;
	t.owner = owner;
	t.is_view = view_sql != NULL;
	t.view_sql = view_sql ? vs : NULL;
	t.cols = defs;
	t.ncols = n;
	if (sch_tables_put(cat, &t, NULL, 0, &err) < 0)
		fail_msg("%s", err.msg);
}

static void put_fn(const char *name, enum sch_fn_kind kind, const char *sig, const char *cols)
{
	struct sch_funcdef f = { 0 };
	struct cmn_err err = CMN_ERR_INIT;
	char proj[] = "p1", lib[] = "lib.lua", nm[32], c0[16] = "key", c1[16] = "value";
	char *res[1] = { lib }, *cv[2] = { c0, c1 };

	snprintf(nm, sizeof(nm), "%s", name);
	f.project = proj;
	f.name = nm;
	f.kind = kind;
	f.script = lib;
	f.entry = nm;
	f.resources.v = res;
	f.resources.n = 1;
	if (cols) {
		f.columns.v = cv;
		f.columns.n = 2;
	}
	if (sch_functions_put(cat, &f, sig, "ALIYUN$acme", &err) < 0)
		fail_msg("%s", err.msg);
}

static void generate(void)
{
	static const char *const countries[] = { "cn", "us", "de", "fr", "jp" };
	static const char *const status[] = { "new", "paid", "shipped" };
	sqlite3_stmt *st;

	exec(ref, "CREATE TABLE users (id INTEGER, name TEXT, email TEXT, country TEXT,"
		  " score REAL, age INTEGER, tags TEXT);"
		  "CREATE TABLE orders (id INTEGER, user_id INTEGER, amount REAL, status TEXT);"
		  "CREATE TABLE odd (\"we\"\"ird\" TEXT, \"sp ace\" INTEGER);"
		  "INSERT INTO odd VALUES ('it''s', 1), ('\"); DROP TABLE odd; --', 2), (NULL, 3)");
	assert_int_equal(
	    sqlite3_prepare_v2(ref, "INSERT INTO users VALUES (?,?,?,?,?,?,?)", -1, &st, NULL),
	    SQLITE_OK);
	for (int id = 1; id <= 400; id++) {
		char name[32], email[64], tags[64];
		snprintf(name, sizeof(name), "name%d", id);
		snprintf(email, sizeof(email), "user%d@ex%d.com", id, id % 4);
		snprintf(tags, sizeof(tags), id % 5 == 0 ? "[]" : "[\"t%d\", \"t%d\"]", id % 3,
			 id % 7);
		sqlite3_bind_int(st, 1, id);
		if (id % 17)
			sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(st, 2);
		if (id % 13)
			sqlite3_bind_text(st, 3, email, -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(st, 3);
		if (id % 11)
			sqlite3_bind_text(st, 4, countries[(id * 7) % 5], -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 4);
		if (id % 19)
			sqlite3_bind_double(st, 5, ((id * 37) % 1000) / 10.0);
		else
			sqlite3_bind_null(st, 5);
		sqlite3_bind_int(st, 6, 18 + id % 50);
		if (id % 9)
			sqlite3_bind_text(st, 7, tags, -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(st, 7);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	assert_int_equal(
	    sqlite3_prepare_v2(ref, "INSERT INTO orders VALUES (?,?,?,?)", -1, &st, NULL),
	    SQLITE_OK);
	for (int id = 1; id <= 1200; id++) {
		sqlite3_bind_int(st, 1, id);
		if (id % 23)
			sqlite3_bind_int(st, 2, (id * 7) % 450);
		else
			sqlite3_bind_null(st, 2);
		sqlite3_bind_double(st, 3, ((id * 13) % 500) / 4.0);
		sqlite3_bind_text(st, 4, status[id % 3], -1, SQLITE_STATIC);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
}

static int setup(void **state)
{
	static const char *const ucols[] = { "id",    "name", "email", "country",
					     "score", "age",  "tags" };
	static const int utypes[] = { SCH_QT_BIGINT, SCH_QT_STRING, SCH_QT_STRING, SCH_QT_STRING,
				      SCH_QT_DOUBLE, SCH_QT_BIGINT, SCH_QT_STRING };
	static const char *const ocols[] = { "id", "user_id", "amount", "status" };
	static const int otypes[] = { SCH_QT_BIGINT, SCH_QT_BIGINT, SCH_QT_DOUBLE, SCH_QT_STRING };
	static const char *const scols[] = { "a", "b", "c" };
	/* names and values that would break naive SQL generation */
	static const char *const ocols2[] = { "we\"ird", "sp ace" };
	static const int otypes2[] = { SCH_QT_STRING, SCH_QT_BIGINT };
	static const int stypes[] = { SCH_QT_BIGINT, SCH_QT_STRING, SCH_QT_DOUBLE };
	struct cmn_err err = CMN_ERR_INIT;
	(void)state;

	snprintf(dbpath, sizeof(dbpath), "/tmp/test_plan.%d.db", (int)getpid());
	if (sch_catalog_open(&cat, dbpath, &err) < 0 || sch_tables_migrate(cat, &err) < 0)
		fail_msg("catalog: %s", err.msg);
	put_table("users", ucols, utypes, 7, NULL);
	put_table("orders", ocols, otypes, 4, NULL);
	put_table("v_rich", ucols, utypes, 2, "SELECT id, name FROM users WHERE score > 50");
	put_table("sink", scols, stypes, 3, NULL);
	put_table("odd", ocols2, otypes2, 2, NULL);
	put_fn("mask_email", SCH_FN_SCALAR, "string->string", NULL);
	put_fn("geomean", SCH_FN_AGGREGATE, "double->double", NULL);
	put_fn("json_each", SCH_FN_TABLE, "string->string", "key,value");
	assert_int_equal(sqlite3_open(":memory:", &ref), SQLITE_OK);
	register_fns(ref);
	generate();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sqlite3_close(ref);
	sch_catalog_close(cat);
	unlink(dbpath);
	return 0;
}

/* ---- running a plan ------------------------------------------------------------- */

struct rows {
	sqlite3_value ***v;
	size_t n, cap, ncols;
};

static void rows_push(struct rows *r, sqlite3_stmt *st, size_t ncols)
{
	sqlite3_value **row = calloc(ncols ? ncols : 1, sizeof(*row));
	assert_non_null(row);
	for (size_t c = 0; c < ncols; c++)
		row[c] = sqlite3_value_dup(sqlite3_column_value(st, (int)c));
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 64;
		r->v = realloc(r->v, r->cap * sizeof(*r->v));
		assert_non_null(r->v);
	}
	r->ncols = ncols;
	r->v[r->n++] = row;
}

static void rows_free(struct rows *r)
{
	for (size_t i = 0; i < r->n; i++) {
		for (size_t c = 0; c < r->ncols; c++)
			sqlite3_value_free(r->v[i][c]);
		free(r->v[i]);
	}
	free(r->v);
	memset(r, 0, sizeof(*r));
}

static uint64_t row_hash(sqlite3_value **row, const struct sch_plan_stage *st)
{
	uint64_t h = sch_plan_hash_init();
	for (size_t k = 0; k < st->nkeys; k++) {
		sqlite3_value *v = row[st->keys[k]];
		enum sch_q_type t = st->out.v[st->keys[k]].type;
		bool null = sqlite3_value_type(v) == SQLITE_NULL;
		const void *p = NULL;
		size_t len = 0;
		if (!null && (t == SCH_QT_STRING || t == SCH_QT_BINARY)) {
			p = t == SCH_QT_STRING ? (const void *)sqlite3_value_text(v)
					       : sqlite3_value_blob(v);
			len = (size_t)sqlite3_value_bytes(v);
		}
		h = sch_plan_hash_value(h, t, null, sqlite3_value_int64(v), sqlite3_value_double(v),
					p, len);
	}
	return h;
}

static const char *affinity(enum sch_q_type t)
{
	return t == SCH_QT_DOUBLE   ? "REAL"
	       : t == SCH_QT_STRING ? "TEXT"
	       : t == SCH_QT_BINARY ? "BLOB"
				    : "INTEGER";
}

/* A computed column (plan.h) as the node makes it: the call over the row. */
static void add_computed(sqlite3 *db, const char *project, const struct sch_plan_input *in,
			 const struct sch_plan_computed *c)
{
	char fname[300], sql[4096];
	size_t n;

	assert_int_equal(sch_plan_fn_name(c->fn_ref, project, fname, sizeof(fname)), 0);
	sqlite3_snprintf(sizeof(sql), sql, "ALTER TABLE \"%w\" ADD COLUMN \"%w\"", in->table,
			 c->name);
	exec(db, sql);
	n = strlen(sqlite3_snprintf(sizeof(sql), sql, "UPDATE \"%w\" SET \"%w\" = \"%w\"(",
				    in->table, c->name, fname));
	for (size_t i = 0; i < c->call->nargs; i++) {
		const struct sch_q_expr *a = c->call->args[i];
		const char *sep = i ? ", " : "";
		if (a->kind == SCH_QE_COLUMN)
			sqlite3_snprintf((int)(sizeof(sql) - n), sql + n, "%s\"%w\"", sep,
					 c->def->cols[a->colidx].name);
		else if (a->kind == SCH_QE_STRING)
			sqlite3_snprintf((int)(sizeof(sql) - n), sql + n, "%s%Q", sep, a->sval);
		else if (a->kind == SCH_QE_DOUBLE)
			sqlite3_snprintf((int)(sizeof(sql) - n), sql + n, "%s%.17g", sep, a->dval);
		else if (a->kind == SCH_QE_NULL)
			sqlite3_snprintf((int)(sizeof(sql) - n), sql + n, "%sNULL", sep);
		else
			sqlite3_snprintf((int)(sizeof(sql) - n), sql + n, "%s%lld", sep,
					 (long long)a->ival);
		n += strlen(sql + n);
	}
	sqlite3_snprintf((int)(sizeof(sql) - n), sql + n, ")");
	exec(db, sql);
}

static void load_input(sqlite3 *db, const char *project, const struct sch_plan_input *in,
		       struct rows *rows, size_t from, size_t to)
{
	char sql[4096];
	size_t n = 0;
	sqlite3_stmt *st;

	n += (size_t)snprintf(sql + n, sizeof(sql) - n, "CREATE TABLE \"%s\" (", in->table);
	for (size_t c = 0; c < in->cols.n; c++)
		n += strlen(sqlite3_snprintf((int)(sizeof(sql) - n), sql + n, "%s\"%w\" %s",
					     c ? ", " : "", in->cols.v[c].name,
					     affinity(in->cols.v[c].type)));
	snprintf(sql + n, sizeof(sql) - n, ")");
	exec(db, sql);
	n = (size_t)snprintf(sql, sizeof(sql), "INSERT INTO \"%s\" VALUES (", in->table);
	for (size_t c = 0; c < in->cols.n; c++)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, "%s?", c ? ", " : "");
	snprintf(sql + n, sizeof(sql) - n, ")");
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	for (size_t i = from; i < to; i++) {
		for (size_t c = 0; c < in->cols.n; c++)
			sqlite3_bind_value(st, (int)c + 1, rows->v[i][c]);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	for (size_t k = 0; k < in->ncomputed; k++)
		add_computed(db, project, in, &in->computed[k]);
}

/* Rows of a base table, the scanned columns, in storage order. */
static void scan(const struct sch_plan_input *in, struct rows *out)
{
	char sql[2048];
	size_t n = 0;
	sqlite3_stmt *st;
	n += (size_t)snprintf(sql + n, sizeof(sql) - n, "SELECT ");
	for (size_t c = 0; c < in->cols.n; c++)
		n += strlen(sqlite3_snprintf((int)(sizeof(sql) - n), sql + n, "%s\"%w\"",
					     c ? ", " : "", in->cols.v[c].name));
	sqlite3_snprintf((int)(sizeof(sql) - n), sql + n, " FROM \"%w\" ORDER BY rowid",
			 in->scan_table);
	assert_int_equal(sqlite3_prepare_v2(ref, sql, -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW)
		rows_push(out, st, in->cols.n);
	out->ncols = in->cols.n;
	sqlite3_finalize(st);
}

/* buf[stage][node][input] */
#define MAXS 16
#define MAXN 8
#define MAXI 8
static struct rows bufs[MAXS][MAXN][MAXI];

static void run_node(const struct sch_plan *p, size_t si, int node, struct rows *result)
{
	const struct sch_plan_stage *st = &p->v[si];
	sqlite3 *db;
	sqlite3_stmt *q;
	int rc;

	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	register_fns(db);
	for (size_t i = 0; i < st->ninputs; i++) {
		const struct sch_plan_input *in = &st->inputs[i];
		if (in->upstream < 0) {
			struct rows all = { 0 };
			scan(in, &all);
			load_input(db, p->project, in, &all,
				   all.n * (size_t)node / (size_t)st->nodes,
				   all.n * (size_t)(node + 1) / (size_t)st->nodes);
			rows_free(&all);
		} else {
			struct rows *r = &bufs[si][node][i];
			load_input(db, p->project, in, r, 0, r->n);
		}
	}
	if (sqlite3_prepare_v2(db, st->sql, -1, &q, NULL) != SQLITE_OK)
		fail_msg("stage %zu sql: %s\n%s", si, sqlite3_errmsg(db), st->sql);
	assert_int_equal((size_t)sqlite3_column_count(q), st->out.n);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct rows *dst = result;
		if (st->to_stage >= 0) {
			const struct sch_plan_stage *to = &p->v[st->to_stage];
			struct rows tmp = { 0 };
			size_t target = 0;
			rows_push(&tmp, q, st->out.n);
			if (to->nodes > 1)
				target = row_hash(tmp.v[0], st) % (uint64_t)to->nodes;
			rows_free(&tmp);
			dst = &bufs[st->to_stage][target][st->to_input];
		}
		rows_push(dst, q, st->out.n);
	}
	if (rc != SQLITE_DONE)
		fail_msg("stage %zu: %s\n%s", si, sqlite3_errmsg(db), st->sql);
	sqlite3_finalize(q);
	sqlite3_close(db);
}

static char *canon(sqlite3_value **row, size_t ncols)
{
	char *s = malloc(4096);
	size_t n = 0;
	assert_non_null(s);
	s[0] = '\0';
	for (size_t c = 0; c < ncols && n < 4000; c++) {
		sqlite3_value *v = row[c];
		switch (sqlite3_value_type(v)) {
		case SQLITE_NULL:
			n += (size_t)snprintf(s + n, 4096 - n, "|NULL");
			break;
		case SQLITE_INTEGER:
			n += (size_t)snprintf(s + n, 4096 - n, "|%lld",
					      (long long)sqlite3_value_int64(v));
			break;
		case SQLITE_FLOAT:
			n += (size_t)snprintf(s + n, 4096 - n, "|%.9g", sqlite3_value_double(v));
			break;
		default:
			n += (size_t)snprintf(s + n, 4096 - n, "|'%.200s'", sqlite3_value_text(v));
		}
	}
	return s;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char **canon_rows(struct rows *r, bool sort)
{
	char **v = calloc(r->n + 1, sizeof(*v));
	assert_non_null(v);
	for (size_t i = 0; i < r->n; i++)
		v[i] = canon(r->v[i], r->ncols);
	if (sort)
		qsort(v, r->n, sizeof(*v), cmp_str);
	return v;
}

static void free_strs(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

struct qcase {
	const char *sql;   /* Cordon SQL */
	const char *ref;   /* the same query in SQLite's dialect (NULL: the same text) */
	bool ordered;      /* the order of rows is defined (ORDER BY on unique keys) */
	const char *shape; /* expected stage kinds, e.g. "MRF" (NULL: not checked) */
};

static void plan_query(const char *sql, int nodes, struct sch_q_script *sc,
		       struct sch_q_resolved *r, struct sch_plan *p)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct sch_q_env env;
	struct sch_plan_opts o = { .project = "p1", .nodes = nodes };

	sch_tables_env(&env, cat, "p1");
	if (sch_q_parse(sql, strlen(sql), sc, &err) < 0)
		fail_msg("parse %s: %s", sql, err.msg);
	if (sch_q_resolve(&env, sc->v[0], r, &err) < 0)
		fail_msg("resolve %s: %s", sql, err.msg);
	if (sch_plan_build(sc->v[0], r, &o, p, &err) < 0)
		fail_msg("plan %s: %s", sql, err.msg);
}

static void check_case(const struct qcase *c, int nodes)
{
	struct sch_q_script sc;
	struct sch_q_resolved r;
	struct sch_plan p;
	struct rows result = { 0 }, expect = { 0 };
	sqlite3_stmt *st;
	char **a, **b;
	char shape[MAXS + 1] = "";

	plan_query(c->sql, nodes, &sc, &r, &p);
	assert_true(p.n <= MAXS);
	for (size_t i = 0; i < p.n; i++) {
		shape[i] = "?MRF"[p.v[i].kind];
		shape[i + 1] = '\0';
		assert_true(p.v[i].nodes <= MAXN && p.v[i].ninputs <= MAXI);
		assert_null(p.v[i].argv);
	}
	if (c->shape && strcmp(c->shape, shape) != 0)
		fail_msg("%s: plan shape %s, expected %s", c->sql, shape, c->shape);
	for (size_t si = 0; si < p.n; si++)
		for (int k = 0; k < p.v[si].nodes; k++)
			run_node(&p, si, k, &result);
	result.ncols = p.v[p.n - 1].out.n;
	if (sqlite3_prepare_v2(ref, c->ref ? c->ref : c->sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("reference %s: %s", c->ref ? c->ref : c->sql, sqlite3_errmsg(ref));
	while (sqlite3_step(st) == SQLITE_ROW)
		rows_push(&expect, st, (size_t)sqlite3_column_count(st));
	expect.ncols = (size_t)sqlite3_column_count(st);
	sqlite3_finalize(st);
	if (result.n != expect.n || result.ncols != expect.ncols) {
		char *ex = sch_plan_explain(&p, NULL);
		fail_msg("%s (nodes %d): %zu rows x %zu cols, reference %zu x %zu\n%s", c->sql,
			 nodes, result.n, result.ncols, expect.n, expect.ncols, ex);
	}
	a = canon_rows(&result, !c->ordered);
	b = canon_rows(&expect, !c->ordered);
	for (size_t i = 0; i < result.n; i++)
		if (strcmp(a[i], b[i]) != 0) {
			char *ex = sch_plan_explain(&p, NULL);
			fail_msg("%s (nodes %d): row %zu is %s, reference %s\n%s", c->sql, nodes, i,
				 a[i], b[i], ex);
		}
	free_strs(a, result.n);
	free_strs(b, expect.n);
	rows_free(&result);
	rows_free(&expect);
	for (size_t s = 0; s < MAXS; s++)
		for (size_t n = 0; n < MAXN; n++)
			for (size_t i = 0; i < MAXI; i++)
				rows_free(&bufs[s][n][i]);
	sch_plan_free(&p);
	sch_q_resolved_free(&r);
	sch_q_script_free(&sc);
}

#include "test_plan_cases.h"

static void test_equivalence(void **state)
{
	static const int nodes[] = { 1, 2, 4 };
	(void)state;
	assert_true(sizeof(cases) / sizeof(cases[0]) >= 40);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (size_t n = 0; n < 3; n++)
			check_case(&cases[i], nodes[n]);
}

#include "test_plan_json.h"

/* Scalar UDF calls over bare columns and literals become computed columns
 * of the MAP's input (one per distinct call); calls under CASE stay in the
 * SQL, per row. */
static void test_computed_json(void **state)
{
	struct sch_q_script sc;
	struct sch_q_resolved r;
	struct sch_plan p;
	struct cmn_err err = CMN_ERR_INIT;
	json_t *n, *in, *comp, *args, *cols;
	const char *sql;
	(void)state;

	plan_query("SELECT id, mask_email(email) AS a, mask_email(email) AS b, "
		   "mask_email('x@y.z') AS c FROM users "
		   "WHERE CASE WHEN id > 1 THEN mask_email(country) END IS NOT NULL",
		   2, &sc, &r, &p);
	assert_int_equal(p.v[0].inputs[0].ncomputed, 2);
	assert_int_equal(sch_plan_node_json(&p, 0, 0, "j-1", &n, &err), 0);
	in = json_array_get(json_object_get(n, "inputs"), 0);
	comp = json_object_get(in, "computed");
	cols = json_object_get(in, "columns");
	assert_int_equal(json_array_size(comp), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(comp, 0), "name")),
			    "_u0");
	assert_string_equal(json_string_value(json_object_get(json_array_get(comp, 0), "function")),
			    "mask_email");
	args = json_object_get(json_array_get(comp, 0), "args");
	assert_int_equal(json_array_size(args), 1);
	{
		json_int_t c = json_integer_value(json_object_get(json_array_get(args, 0), "col"));
		assert_string_equal(
		    json_string_value(json_object_get(json_array_get(cols, (size_t)c), "name")),
		    "email");
	}
	args = json_object_get(json_array_get(comp, 1), "args");
	assert_string_equal(json_string_value(json_object_get(json_array_get(args, 0), "lit")),
			    "x@y.z");
	sql = json_string_value(json_object_get(n, "sql"));
	assert_non_null(strstr(sql, "\"_u0\" AS \"c1\""));
	assert_non_null(strstr(sql, "\"_u0\" AS \"c2\""));
	assert_non_null(strstr(sql, "\"_u1\" AS \"c3\""));
	assert_non_null(strstr(sql, "\"mask_email\"(")); /* under CASE: per row */
	assert_int_equal(json_array_size(json_object_get(n, "functions")), 1);
	json_decref(n);
	sch_plan_free(&p);
	sch_q_resolved_free(&r);
	sch_q_script_free(&sc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_equivalence),    cmocka_unit_test(test_node_json),
		cmocka_unit_test(test_transform_json), cmocka_unit_test(test_explain),
		cmocka_unit_test(test_hash),           cmocka_unit_test(test_plan_errors),
		cmocka_unit_test(test_computed_json),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
