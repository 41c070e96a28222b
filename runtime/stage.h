/* runtime/stage.h — `cordon-node stage --plan-fd N`: one stage of a SQL job
 * (docs/stage-plan.md is the contract; docs/node.md explains the inside).
 *
 * Pieces: stage_plan.c parses the plan strictly; stream.c reads and writes
 * framed row batches over fds and TCP; vtab_input.c turns each input stream
 * into an SQLite virtual table; sqlfn_udf.c registers the Lua UDFs;
 * shuffle.c partitions output rows to the next stage's peers; transform.c
 * pipes rows through a TRANSFORM command; stage.c ties them together.
 */
#ifndef RT_STAGE_H
#define RT_STAGE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/rowfmt.h"
#include "runtime/lua_sandbox.h"
#include "runtime/udf_abi.h"

#define RT_PLAN_MAX_BYTES (16u << 20)
#define RT_PLAN_MAX_INPUTS 256
#define RT_PLAN_MAX_FUNCTIONS 64
#define RT_PLAN_MAX_FILES 64
#define RT_PLAN_MAX_PEERS 256
#define RT_PLAN_MAX_UPSTREAM 256
#define RT_PLAN_MAX_ARGV 64
#define RT_PLAN_MAX_NAME 128
#define RT_FRAME_MAX (16u << 20)
#define RT_HELLO_MAX 512
#define RT_FD_MAX 1023
#define RT_PLAN_MAX_COMPUTED 32 /* computed columns per input */
#define RT_COMPUTED_MAX_ARGS 16 /* arguments of one (rt_udf_call_batch's bound) */

struct rt_plan_col {
	char *name;
	enum cmn_col_type type;
};

struct rt_plan_cols {
	struct rt_plan_col *v;
	size_t n;
};

/* One argument of a computed column: an input column or a literal. */
struct rt_plan_carg {
	int col;             /* >= 0: the input column; -1: lit */
	struct rt_value lit; /* a string points into lit_str (owned) */
	char *lit_str;
};

/* A scalar UDF evaluated batch by batch over an input's rows, read by the
 * SQL as an extra column `name` of the input's table (docs/stage-plan.md
 * "Computed columns"). */
struct rt_plan_computed {
	char *name;
	size_t function; /* index in plan.functions, a scalar */
	struct rt_plan_carg *args;
	int nargs;
};

struct rt_plan_input {
	char *table;
	struct rt_plan_cols cols;
	int fd;            /* >= 0: rows from cordond */
	unsigned upstream; /* fd < 0: this many TCP senders */
	struct rt_plan_computed *computed;
	size_t ncomputed;
};

struct rt_plan_function {
	char *name;
	enum rt_udf_kind kind;
	char *script; /* a name in scripts[] */
	char *entry;
	char **columns; /* table functions: output column names */
	size_t ncolumns;
};

struct rt_plan_file {
	char *name;
	int fd;
};

struct rt_plan_peer {
	char *host; /* numeric IPv4/IPv6 */
	char *port;
};

struct rt_plan {
	char *job;
	char *stage;
	unsigned stage_index, node_index, node_count;
	struct rt_plan_input *inputs;
	size_t ninputs;
	struct rt_plan_function *functions;
	size_t nfunctions;
	struct rt_plan_file *scripts;
	size_t nscripts;
	struct rt_plan_file *resources;
	size_t nresources;
	struct rt_limits limits;
	uint64_t output_bytes;     /* bound on the bytes this node sends */
	uint64_t hello_timeout_ms; /* a connection must say hello within this */
	char *sql;
	bool has_transform;
	char **argv; /* NULL-terminated */
	size_t argc;
	struct rt_plan_cols transform_cols;
	struct rt_plan_cols out_cols;
	int sink_fd;  /* >= 0: output to this fd */
	size_t *keys; /* sink_fd < 0: partition keys (output column indexes) */
	size_t nkeys;
	struct rt_plan_peer *peers;
	size_t npeers;
	unsigned sink_input;
	struct rt_plan_peer listen; /* host NULL: no listener */
};

/* Parses and checks a plan (every field typed and bounded, unknown fields
 * rejected, names unique, fds distinct and > 2). */
int rt_plan_parse(const char *text, size_t len, struct rt_plan *plan, struct cmn_err *err);
void rt_plan_free(struct rt_plan *plan);
const char *rt_plan_type_name(enum cmn_col_type t);

/* ---- streams (stream.c) ---------------------------------------------------- */

/* Reads exactly len bytes; 0 on success, 1 on EOF before any byte, -1 on
 * error (including EOF in the middle). */
int rt_read_full(int fd, void *p, size_t len, struct cmn_err *err);
int rt_write_full(int fd, const void *p, size_t len, struct cmn_err *err);
/* One frame: 1 with a batch in *out (owned by out), 0 at the end frame, -1 on
 * error (EOF without the end frame, an oversized length, a malformed batch). */
int rt_frame_read(int fd, struct cmn_buf *out, struct cmn_err *err);
int rt_frame_write(int fd, const void *data, size_t len, struct cmn_err *err);
int rt_frame_write_end(int fd, struct cmn_err *err);

/* The hello line a sender writes first on a shuffle connection. */
struct rt_hello {
	char job[RT_PLAN_MAX_NAME + 1];
	unsigned stage_index, input, sender;
};
int rt_hello_format(const struct rt_hello *h, struct cmn_buf *out, struct cmn_err *err);
int rt_hello_parse(const char *line, size_t len, struct rt_hello *h, struct cmn_err *err);

/* Connects to host:port (numeric), retrying refused connections for up to
 * wait_ms (the peer's node may not be listening yet). */
int rt_tcp_connect(const char *host, const char *port, uint64_t wait_ms, struct cmn_err *err);
int rt_tcp_listen(const char *host, const char *port, struct cmn_err *err);

/* Writes rows as framed batches of about RT_BATCH_BYTES to one fd. */
#define RT_BATCH_BYTES (1u << 20)
struct rt_batch_out {
	int fd;
	struct cmn_rowbatch_writer w;
	const struct cmn_col *cols;
	size_t ncols;
	bool open;
	uint64_t rows, bytes, max_bytes;
};
void rt_batch_out_init(struct rt_batch_out *o, int fd, const struct cmn_col *cols, size_t ncols,
		       uint64_t max_bytes);
int rt_batch_out_add(struct rt_batch_out *o, const struct cmn_value *vals, struct cmn_err *err);
int rt_batch_out_flush(struct rt_batch_out *o, struct cmn_err *err);
/* Flushes and writes the end frame. */
int rt_batch_out_end(struct rt_batch_out *o, struct cmn_err *err);
void rt_batch_out_free(struct rt_batch_out *o);

/* ---- inputs (vtab_input.c) ------------------------------------------------- */

/* A scan's block of decoded rows (only for an input with computed
 * columns): up to RT_BATCH_ROWS rows of one frame, vals[row * ncols + c],
 * and their computed columns, cells[row * ncomputed + k], made the first
 * time the SQL reads one. A cell's string (or, when failed, its error
 * message) lives in arena at off. */
struct rt_ucell {
	struct rt_value v;
	bool failed;
	size_t off;
};
struct rt_ublock {
	struct cmn_value *vals;
	size_t n, pos;
	bool evaluated;
	struct rt_ucell *cells;
	struct cmn_buf arena;
};
struct rt_ucols_scratch;

/* The frames of one input, kept so SQLite may scan a table more than once. */
struct rt_input {
	const struct rt_plan_input *plan;
	struct cmn_col *cols;
	struct cmn_buf *frames;
	size_t nframes, cap;
	int fd;    /* still to be read lazily; -1 when complete */
	bool done; /* end frame seen */
	uint64_t rows, bytes;
	struct rt_stage *stage;
	sqlite3_vtab *vtab; /* the eponymous table's instance, once connected */
	/* one scan only (rt_vtab_plan_streaming): frames are freed once read */
	bool streaming;
	unsigned scans;
	struct rt_index *indexes; /* equality lookups (vtab_index.c), built lazily */
	/* computed columns (stage_udfcols.c): the batch arguments */
	struct rt_ucols_scratch *scratch;
};

/* ---- equality lookups (vtab_index.c) ------------------------------------- */

struct rt_index;
struct rt_lookup {
	struct rt_index *ix;
	uint32_t cur; /* next candidate row */
	uint64_t hash;
	bool numeric;
	double num;
	const void *bytes;
	size_t len;
};

/* Starts a lookup of col = v: 1 with lk ready (possibly empty: v NULL), 0
 * when v's kind differs from the column's (scan everything instead), -1 on
 * error. The first lookup of a column reads the whole input and indexes it. */
int rt_lookup_start(struct rt_input *in, size_t col, sqlite3_value *v, struct rt_lookup *lk,
		    struct cmn_err *err);
/* The next row of the lookup into vals (r and *open_frame: the frame the
 * reader has open, SIZE_MAX for none): 1, 0 at the end, -1 on error. */
int rt_lookup_next(struct rt_input *in, struct rt_lookup *lk, struct cmn_rowbatch_reader *r,
		   size_t *open_frame, struct cmn_value *vals, sqlite3_int64 *rowid,
		   struct cmn_err *err);
void rt_index_free_all(struct rt_input *in);
/* Keys normalized as SQLite's `=` and GROUP BY compare them: numbers (BIGINT,
 * DOUBLE, DATETIME, BOOLEAN) by their double value (-0.0 = 0.0), STRING and
 * BINARY by their bytes. */
uint64_t rt_hash_bytes(const void *p, size_t n);
uint64_t rt_hash_number(double d);
bool rt_col_numeric(enum cmn_col_type t);
double rt_number_of(enum cmn_col_type t, const struct cmn_value *v);
uint64_t rt_hash_value(enum cmn_col_type t, const struct cmn_value *v);

/* ---- grouped scans (vtab_group.c) ---------------------------------------- */

/* A whole input in an order where rows with equal values in cols are
 * adjacent (not sorted): what SQLite needs for GROUP BY and DISTINCT. */
struct rt_grouped {
	uint32_t n, cur;
	uint32_t *perm;   /* by output place: the row's number in the input */
	uint32_t *pos;    /* by input number: the row's offset in its frame */
	uint32_t *fstart; /* by frame: the number of its first row; [nframes] = n */
	uint32_t nframes;
};

/* Reads the whole input and orders it: 0, or -1 on error. */
int rt_group_start(struct rt_input *in, const size_t *cols, size_t ncols, struct rt_grouped *g,
		   struct cmn_err *err);
/* The next row in group order into vals, like rt_lookup_next. */
int rt_group_next(struct rt_input *in, struct rt_grouped *g, struct cmn_rowbatch_reader *r,
		  size_t *open_frame, struct cmn_value *vals, sqlite3_int64 *rowid,
		  struct cmn_err *err);
void rt_group_free(struct rt_grouped *g);

int rt_input_add_frame(struct rt_input *in, struct cmn_buf *frame, struct cmn_err *err);
/* Reads the next frame of a lazily read input: 1 read, 0 end, -1 error. */
int rt_input_pull(struct rt_input *in, struct cmn_err *err);
void rt_input_free(struct rt_input *in);
int rt_vtab_register(sqlite3 *db, struct rt_input *inputs, size_t n, struct cmn_err *err);
/* Decides, from the bytecode of sql (EXPLAIN), which inputs the statement
 * scans exactly once; those free each frame once read, so a MAP node's
 * memory does not grow with its input. A rescan of such an input (if the
 * analysis were ever wrong) fails the stage, never loses rows. */
int rt_vtab_plan_streaming(sqlite3 *db, const char *sql, struct rt_input *inputs, size_t n,
			   struct cmn_err *err);

/* ---- computed columns (stage_udfcols.c) ---------------------------------------- */

int rt_ublock_init(struct rt_ublock *b, const struct rt_input *in, struct cmn_err *err);
void rt_ublock_free(struct rt_ublock *b);
/* Evaluates every computed column of the block's rows (once per block):
 * rt_udf_call_batch over them; a batch that fails is run again row by row,
 * so each row keeps its own value or error (a UDF error, a wrong type) and
 * only the rows SQLite reads can fail the statement. A limit is fatal: it is
 * recorded in the stage (rt_stage_udf_fail) and -1 returned. */
int rt_udfcols_eval(struct rt_input *in, struct rt_ublock *b, struct cmn_err *err);
/* Pushes computed column k of the block's current row; a failed row reports
 * its error (and records it in the stage as the UDF failure). */
void rt_udfcols_result(struct rt_input *in, const struct rt_ublock *b, size_t k,
		       sqlite3_context *ctx);
void rt_udfcols_free(struct rt_input *in);

/* ---- shuffle (shuffle.c) --------------------------------------------------- */

uint64_t rt_partition_hash(const struct cmn_value *vals, const struct cmn_col *cols,
			   const size_t *keys, size_t nkeys);
/* The upstream side: one poll loop over the listener and every sender's
 * connection, run whenever a scan needs a frame of an {"upstream": K} input.
 * It reads every ready connection each round (frames of other inputs are
 * kept for their scans), so no sender ever blocks on a full socket for
 * long and no two inputs can deadlock each other. */
struct rt_recv;
int rt_shuffle_open(struct rt_stage *st, struct cmn_err *err);
/* Until input gets a new frame (1) or all its K senders ended (0). */
int rt_shuffle_pump(struct rt_stage *st, size_t input, struct cmn_err *err);
/* Until every upstream input ended (what the query did not read is still
 * checked and discarded: a broken stream fails the stage either way). */
int rt_shuffle_finish(struct rt_stage *st, struct cmn_err *err);
void rt_shuffle_free(struct rt_stage *st);

/* The output side: one fd sink or one connection per peer. */
struct rt_sink {
	struct rt_batch_out *outs;
	size_t nouts;
	const size_t *keys;
	size_t nkeys;
	const struct cmn_col *cols;
	uint64_t rows, bytes, max_bytes;
};
int rt_sink_open(struct rt_stage *st, struct rt_sink *s, const struct cmn_col *cols, size_t ncols,
		 struct cmn_err *err);
int rt_sink_add(struct rt_sink *s, const struct cmn_value *vals, struct cmn_err *err);
int rt_sink_end(struct rt_sink *s, struct cmn_err *err);
void rt_sink_free(struct rt_sink *s);

/* ---- UDFs (sqlfn_udf.c) ---------------------------------------------------- */

struct rt_udf_set;
int rt_udfs_register(struct rt_stage *st, sqlite3 *db, struct cmn_err *err);
/* A UDF's value as SQLite's result (sqlfn_udf.c): DATETIME as ms, BOOLEAN
 * as 0/1, NULL for anything else. */
void rt_sqlite_result_rt(sqlite3_context *ctx, const struct rt_value *v);
void rt_udfs_free(struct rt_stage *st);
/* The opened UDF of plan function i (NULL before registration). */
struct rt_udf *rt_udfs_get(struct rt_stage *st, size_t i);
/* Writes and clears the print() output a UDF captured (the job log). */
void rt_udf_drain_log(struct rt_udf *u);

/* ---- transform (transform.c) ----------------------------------------------- */

typedef int (*rt_rows_fn)(void *ud, const struct cmn_value *vals, struct cmn_err *err);
/* Formats one row as a TSV line (no newline added... the line ends in '\n'). */
int rt_tsv_format(const struct cmn_value *vals, const struct cmn_col *cols, size_t ncols,
		  struct cmn_buf *out, struct cmn_err *err);
/* Parses one TSV line (without its '\n') into vals; strings point into
 * scratch, which the call owns until the next call. */
int rt_tsv_parse(const char *line, size_t len, const struct cmn_col *cols, size_t ncols,
		 struct cmn_value *vals, struct cmn_buf *scratch, struct cmn_err *err);
/* Runs argv in dir; the rows next() produces go to its stdin; each line of
 * its stdout becomes a row given to emit. */
typedef int (*rt_next_fn)(void *ud, struct cmn_value *vals, struct cmn_err *err);
int rt_transform_run(char *const *argv, const char *dir, const struct cmn_col *in_cols,
		     size_t in_ncols, rt_next_fn next, void *next_ud,
		     const struct cmn_col *out_cols, size_t out_ncols, rt_rows_fn emit,
		     void *emit_ud, struct cmn_err *err);

/* ---- the stage (stage.c) --------------------------------------------------- */

struct rt_stage {
	struct rt_plan plan;
	struct rt_input inputs[RT_PLAN_MAX_INPUTS];
	struct rt_resource *res;
	struct cmn_buf *script_src; /* parallel to plan.scripts */
	struct rt_udf_set *udfs;
	int listen_fd;
	struct rt_recv *recv;
	/* the first UDF failure: SQLite only sees "UDF failed", this keeps why */
	struct cmn_err udf_err;
	enum rt_limit udf_limit;
	bool udf_failed;
	bool cpu_armed;
	uint64_t udf_calls;
	uint64_t rows_in, rows_out, bytes_out;
};

/* Records a UDF failure (the first one wins). */
void rt_stage_udf_fail(struct rt_stage *st, const struct cmn_err *err, enum rt_limit limit);
/* Arms the CPU budget (limits.udf_cpu_ms) for one UDF call, and disarms it
 * after: the budget bounds each call, never the stage's own SQL work. */
void rt_stage_cpu_rearm(struct rt_stage *st);
void rt_stage_cpu_disarm(struct rt_stage *st);
/* Arms the CPU budget for one batch of calls: the per-call budget, with at
 * least as much again as grace for a C call running when it ends (a batch
 * that trips it is run again row by row, each row with its own budget). */
void rt_stage_cpu_arm_batch(struct rt_stage *st);

/* `cordon-node stage ...` (argv[0] = "stage"). Returns the exit status. */
int rt_node_stage_main(int argc, char **argv);

#endif
