/* runtime/udf_abi.h — the Lua UDF ABI (SQL.md "Lua UDF ABI").
 *
 * A script returns a table; the named field is one of
 *   scalar:    a function, or { evaluate = f, signature = "..." }
 *   aggregate: { new_buffer, iterate, merge, terminate [, signature] }
 *   table fn:  { process = function(ctx, ...) ctx.forward(...) end [, close] [, signature] }
 * One struct rt_udf owns one sandboxed Lua state (one state per UDF per node).
 * Every call is one protected call with the instruction budget reset and the
 * output limit counted; errors are CMN_EINVAL ("SCRIPT:LINE: message" or
 * "SCRIPT: FUNCTION: argument N: expected T, got U") or CMN_ELIMIT
 * (rt_udf_limit_hit names it). After any error the UDF stays usable.
 *
 * This is the layer cordon-node's SQLite functions call (xFunc/xStep/
 * xFinal/xFilter): values are struct rt_value, aggregate buffers are int
 * handles whose plain-data bytes (serialize.h) travel between nodes.
 */
#ifndef RT_UDF_ABI_H
#define RT_UDF_ABI_H

#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"
#include "runtime/lua_sandbox.h"
#include "runtime/udf_value.h"

enum rt_udf_kind { RT_UDF_SCALAR = 0, RT_UDF_AGGREGATE, RT_UDF_TABLE };

struct rt_udf;

struct rt_udf_source {
	const char *script_name; /* shown in errors: "mask.lua:3: ..." */
	const char *src;
	size_t len;
	const char *function; /* field of the returned table */
	const struct rt_limits *limits;
	const struct rt_resource *resources; /* kept by pointer: must outlive the UDF */
	size_t resource_count;
};

int rt_udf_open(const struct rt_udf_source *source, struct rt_udf **out, struct cmn_err *err);
void rt_udf_free(struct rt_udf *u);
enum rt_udf_kind rt_udf_kind(const struct rt_udf *u);
const char *rt_udf_kind_name(enum rt_udf_kind k); /* "scalar", "aggregate", "table" */
const struct rt_signature *rt_udf_signature(const struct rt_udf *u);
struct rt_lua *rt_udf_lua(struct rt_udf *u);
enum rt_limit rt_udf_limit_hit(const struct rt_udf *u);

/* Scalar call. A string in *out points into Lua and stays valid until the
 * next call on u. */
int rt_udf_call(struct rt_udf *u, const struct rt_value *args, int nargs, struct rt_value *out,
		struct cmn_err *err);

/* Scalar over a batch of up to RT_BATCH_ROWS rows (for a scan that
 * evaluates UDF columns batch by batch; SQLite's scalar callbacks use
 * rt_udf_call): args holds nrows rows of nargs (at most 16) values, row
 * after row; out gets nrows values. Rows run in chunks of up to 128, one
 * protected call each, whose arguments and results cross on the Lua stack,
 * so the per-row cost is close to a call in a plain Lua loop. Each chunk's
 * instruction budget is the per-call limit times its rows; an error fails
 * the whole batch. Strings in out stay valid until the next call on u. */
#define RT_BATCH_ROWS 1024
int rt_udf_call_batch(struct rt_udf *u, const struct rt_value *args, int nargs, size_t nrows,
		      struct rt_value *out, struct cmn_err *err);

/* Aggregates. A buffer is an int handle (> 0) owned by u. iterate/merge may
 * return a new buffer value (replacing the old one) or nil (updated in place). */
int rt_udf_agg_new(struct rt_udf *u, int *buf, struct cmn_err *err);
int rt_udf_agg_iterate(struct rt_udf *u, int buf, const struct rt_value *args, int nargs,
		       struct cmn_err *err);
int rt_udf_agg_merge(struct rt_udf *u, int buf, int other, struct cmn_err *err);
/* Plain-data bytes of a buffer (bounded by the string cap), and back. */
int rt_udf_agg_serialize(struct rt_udf *u, int buf, struct cmn_buf *out, struct cmn_err *err);
int rt_udf_agg_deserialize(struct rt_udf *u, const void *data, size_t len, int *buf,
			   struct cmn_err *err);
int rt_udf_agg_terminate(struct rt_udf *u, int buf, struct rt_value *out, struct cmn_err *err);
void rt_udf_agg_free(struct rt_udf *u, int buf);

/* Table functions: each ctx.forward(...) becomes one call of fn with the
 * row's values (valid during that call only). A failing fn ends the call. */
typedef int (*rt_row_fn)(void *ud, const struct rt_value *cols, int ncols, struct cmn_err *err);
int rt_udf_process(struct rt_udf *u, const struct rt_value *args, int nargs, rt_row_fn fn, void *ud,
		   struct cmn_err *err);
/* Calls close(ctx) if the table function has one (end of its input). */
int rt_udf_table_close(struct rt_udf *u, rt_row_fn fn, void *ud, struct cmn_err *err);

#endif
