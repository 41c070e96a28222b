/* scheduler/plan.h — the planner: a resolved query (resolve.h) becomes
 * stages MAP -> [REDUCE ...] -> FINAL whose nodes run SQLite SQL
 * (docs/stage-plan.md is the contract with cordon-node; docs/jobs.md
 * describes the shapes).
 *
 * The plan holds everything that is known at compile time. What only the
 * job runner knows — file descriptors, overlay addresses, chunk lists —
 * is left out of the stage plan JSON as placeholders (`"fd": null`,
 * `"listen": null`, `"peers": null`) and described by the wiring: each
 * input is either a scan (project.table, the columns to read, slice
 * node_index of node_count of the table's chunks) or the output of an
 * earlier stage; each output is either partitioned to a later stage's
 * input or the result. The runner fills the placeholders per node.
 *
 * Ownership: the plan owns its strings; it refers to the resolved
 * statement's function definitions (which must outlive it).
 */
#ifndef SCH_PLAN_H
#define SCH_PLAN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "scheduler/resolve.h"
#include "scheduler/stmt.h"

enum sch_stage_kind {
	SCH_STAGE_MAP = 1,
	SCH_STAGE_REDUCE,
	SCH_STAGE_FINAL,
};

struct sch_plan_col {
	char *name;
	enum sch_q_type type;
};

struct sch_plan_cols {
	struct sch_plan_col *v;
	size_t n;
};

/* A scalar UDF call over bare input columns and literals that the node
 * evaluates batch by batch as an extra column of the input (docs/stage-plan.md
 * "Computed columns"); the stage SQL reads `name` instead of calling it. */
struct sch_plan_computed {
	char *name;                     /* _u0, _u1, ... (never an input column's name) */
	char *fn_ref;                   /* "project:name" */
	const struct sch_q_expr *call;  /* the call (args: columns of this input, literals);
					   not owned: the resolved statement's */
	int src;                        /* the FROM source the input stands for */
	const struct sch_tabledef *def; /* its table: column names by colidx */
};

#define SCH_PLAN_MAX_COMPUTED 32 /* per input; further calls stay per row */

struct sch_plan_input {
	char *table; /* the SQLite table name in the node: in0, r0, f0, g0 ... */
	struct sch_plan_cols cols;
	int upstream;                    /* stage index feeding it, or -1: a scan */
	char *scan_project, *scan_table; /* scan: what cordond reads (cols = the columns) */
	struct sch_plan_computed *computed;
	size_t ncomputed;
};

struct sch_plan_stage {
	enum sch_stage_kind kind;
	int nodes;
	struct sch_plan_input *inputs;
	size_t ninputs;
	char *sql;
	struct sch_plan_cols out; /* what sql (or the transform) produces */
	int to_stage;             /* -1: the result (FINAL) */
	int to_input;
	size_t *keys; /* partition keys: indexes into out; none with a 1-node target */
	size_t nkeys;
	char **fn_refs; /* functions the sql calls ("project:name", see resolve.h) */
	size_t nfns;
	/* TRANSFORM: the command (no shell) and the resources it needs */
	char **argv;
	size_t argc;
	struct sch_sql_list resources;
	struct sch_plan_cols sql_out; /* transform: the columns sql feeds the command */
};

struct sch_plan {
	struct sch_plan_stage *v;
	size_t n;
	const struct sch_q_resolved *res; /* not owned */
	char *project;
};

struct sch_plan_opts {
	const char *project; /* the job's project (function names) */
	int nodes;           /* MAP/REDUCE parallelism, 1..64 */
};

#define SCH_PLAN_MAX_NODES 64

/* Plans a resolved SELECT (s->kind SELECT or EXPLAIN, or INSERT/CTAS: the
 * query part). Errors: CMN_EINVAL "line:col: ..." for what the planner
 * cannot run. */
int sch_plan_build(const struct sch_q_stmt *s, const struct sch_q_resolved *res,
		   const struct sch_plan_opts *opts, struct sch_plan *out, struct cmn_err *err);
void sch_plan_free(struct sch_plan *p);

/* The stage plan of one node (docs/stage-plan.md), runtime values as
 * placeholders (see above). */
int sch_plan_node_json(const struct sch_plan *p, size_t stage, int node, const char *job,
		       json_t **out, struct cmn_err *err);
/* The wiring of the whole plan: per stage its inputs (scan or upstream
 * stage and sender count) and its output (stage/input/keys or result). */
int sch_plan_wiring_json(const struct sch_plan *p, json_t **out, struct cmn_err *err);
/* EXPLAIN text: stages, node counts, the SQL each node runs. Caller frees. */
char *sch_plan_explain(const struct sch_plan *p, struct cmn_err *err);

/* The SQL name of a function in generated SQL: `f` for the job's project,
 * `<project>__f` for another project's (SQLite names cannot hold ':'). */
int sch_plan_fn_name(const char *ref, const char *project, char *out, size_t outlen);
/* The name of a function's script in a stage plan: its own for the job's
 * project, `<project>__<script>` for another project's, so that two
 * projects' scripts of the same name are two scripts in one job. */
int sch_plan_script_name(const struct sch_funcdef *d, const char *project, char *out,
			 size_t outlen);

/* Partition hash of docs/stage-plan.md over one value (FNV-1a 64 state in,
 * out). type is the column's declared type, is_null for NULL. */
uint64_t sch_plan_hash_init(void);
uint64_t sch_plan_hash_value(uint64_t h, enum sch_q_type type, bool is_null, int64_t i, double d,
			     const void *bytes, size_t len);

/* ---- compiling a job text ------------------------------------------------
 * A job text is any number of SET statements and one statement (query,
 * DML, DDL, EXPLAIN). sch_job_compile parses it, applies the settings,
 * resolves the statement, decides every access (settings' network link
 * included) with the one decision function — a deny fails with
 * CMN_EDENIED naming the rule before anything runs — and plans a query. */
struct sch_job_settings {
	int nodes;                /* SET cordon.nodes (0: not set) */
	char *networklink;        /* SET odps.session.networklink */
	int64_t udf_memory;       /* bytes, SET cordon.udf.memory=64M (0: default) */
	int64_t udf_instructions; /* SET cordon.udf.instructions */
	int64_t udf_cpu_ms;       /* SET cordon.udf.cpu (milliseconds) */
	int64_t node_timeout_ms;  /* SET cordon.node.timeout=30s|500ms|30 (seconds) */
};

struct sch_job_compiled {
	struct sch_q_script script;
	struct sch_job_settings settings;
	struct sch_q_stmt *stmt; /* the statement that runs (in script), NULL: only SETs */
	struct sch_q_resolved res;
	bool has_plan;
	struct sch_plan plan; /* SELECT, EXPLAIN, INSERT ... SELECT, CTAS */
};

struct sch_job_request {
	struct sch_catalog *cat;
	const struct sch_principal *who;
	const char *project;
	const char *source_ip;
	int default_nodes; /* the size-based default of the caller (1..64) */
	/* every decision (allow and deny) is audited through this, may be NULL */
	void (*audit)(void *arg, const struct sch_audit_event *ev);
	void *audit_arg;
};

/* The request of a statement handler's job text: the caller, project and
 * audit of ctx. */
static inline struct sch_job_request sch_job_request_of(const struct sch_stmt_ctx *ctx,
							int default_nodes)
{
	return (struct sch_job_request){ .cat = ctx->cat,
					 .who = ctx->principal,
					 .project = ctx->project,
					 .source_ip = ctx->source_ip,
					 .default_nodes = default_nodes,
					 .audit = ctx->audit,
					 .audit_arg = ctx->audit_arg };
}

int sch_job_compile(const struct sch_job_request *req, const char *sql, size_t len,
		    struct sch_job_compiled *out, struct cmn_err *err);
void sch_job_compiled_free(struct sch_job_compiled *c);

/* sch_stmt handler (stmt.h) of `EXPLAIN <query>`: returns 0 for any other
 * text; the result is {"columns": ["plan"], "rows": [[line], ...]}. */
int sch_plan_explain_handler(struct sch_stmt_ctx *ctx, const char *sql, size_t len, json_t **result,
			     struct cmn_err *err);

#endif
