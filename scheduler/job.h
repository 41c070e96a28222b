/* scheduler/job.h — the job runner: a compiled and authorized job
 * (plan.h, sch_job_compile) runs on sandboxed `cordon-node stage`
 * processes joined to the job's own overlay; see docs/jobs.md.
 *
 * Life of a job: the API handler compiles it under api->lock (every access
 * decided and audited) and submits it here. A job thread per running job
 * (at most max_running at once, the rest wait in FIFO order) then, without
 * api->lock: creates the overlay (one node netns per stage node) -> starts
 * every node in its container (sandbox profile udf, or transform for
 * TRANSFORM stages) joined to its netns, with its stage plan, scripts,
 * resources, scan streams and the FINAL sink as fds -> feeds the scans
 * (rows read, verified and decrypted by tabledata.h, only the plan's
 * columns) -> watches every node (the first failure, limit or seccomp
 * kill fails the job with that reason and kills the rest) -> collects the
 * FINAL stream -> for INSERT/CTAS commits a new table version -> tears the
 * overlay down -> audits (JobFinished with the usage). Cancel and the
 * job's timeout kill every node and remove everything the same way.
 *
 * Results live in memory (each bounded by max_result_bytes) until the job
 * is evicted: the oldest finished job goes once more than keep_finished
 * are kept or their results together pass results_memory, so no tenant
 * can make cordond hold more than that.
 *
 * Threading: every function is safe from any thread; the registry has its
 * own mutex and never takes api->lock while holding it.
 */
#ifndef SCH_JOB_H
#define SCH_JOB_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "scheduler/catalog.h"
#include "scheduler/plan.h"
#include "scheduler/principal.h"
#include "scheduler/storage_glue.h"

struct sch_jobs;
struct sch_job;

struct sch_jobs_cfg {
	struct sch_catalog *cat;
	struct sch_storage *storage;
	pthread_mutex_t *api_lock;   /* guards cat */
	const char *node_path;       /* cordon-node; NULL: next to this executable */
	const char *overlay_run_dir; /* NULL: the overlay library's default */
	const char *netlink_gateway; /* netns path for network links, NULL: none */
	unsigned max_running;        /* 0: 4 */
	unsigned keep_finished;      /* 0: 200 */
	uint64_t max_result_bytes;   /* 0: 256 MiB */
	uint64_t results_memory;     /* 0: 1 GiB, every kept result together */
};

int sch_jobs_open(struct sch_jobs **out, const struct sch_jobs_cfg *cfg, struct cmn_err *err);
/* Cancels every job, joins the threads, frees everything. */
void sch_jobs_close(struct sch_jobs *jobs);
/* The running cordond's registry (for the jobs statement handler). */
void sch_jobs_set_default(struct sch_jobs *jobs);
struct sch_jobs *sch_jobs_default(void);

/* Who submitted a job, for its audit records and for who may see it. */
struct sch_job_origin {
	const struct sch_principal *who;
	const char *project;
	const char *request_id;
	const char *source_ip;
	const char *user_agent;
};

/* Takes ownership of *c (cleared) and queues it. sql is the job text.
 * Fills id (at least 16 bytes). CMN_ELIMIT when the queue is full. */
int sch_job_submit(struct sch_jobs *jobs, struct sch_job_compiled *c, const char *sql,
		   const struct sch_job_origin *o, char *id, size_t idlen, struct cmn_err *err);

/* A reference to job id of project (release with sch_job_put), or NULL
 * (CMN_ENOTFOUND) when unknown, evicted or not visible to who (the
 * submitter, the project owner account `owner`, operators). */
struct sch_job *sch_job_get(struct sch_jobs *jobs, const char *project, const char *id,
			    const struct sch_principal *who, const char *owner,
			    struct cmn_err *err);
void sch_job_put(struct sch_job *job);

/* Blocks until the job finished or timeout_ms passed; true when finished. */
bool sch_job_wait(struct sch_job *job, uint64_t timeout_ms);
/* Asks the job to stop: nodes killed, nothing committed. 0 when it was
 * still queued or running, CMN_ECONFLICT when it had finished already. */
int sch_job_cancel(struct sch_job *job, struct cmn_err *err);

/* GET .../jobs/{id}: id, status (queued|running|succeeded|failed|cancelled),
 * timestamps, stages (kind, nodes, nodes done, rows, bytes, cpu, memory),
 * usage, error {code, message}, result {columns, rows}. */
json_t *sch_job_status(struct sch_job *job);
/* Rows [offset, offset+limit) of the result as text, a piece at a time (a
 * streamed reply): JSON lines (one array per row) or CSV (header line
 * first). open takes its own reference to the job and maps the result
 * (NULL with CMN_ECONFLICT when the job has not succeeded); fill appends
 * rows' text to out until it holds want bytes (1: there may be more) or the
 * rows end (0); close releases. */
struct sch_result_cursor;
struct sch_result_cursor *sch_job_result_open(struct sch_job *job, uint64_t offset, uint64_t limit,
					      bool csv, struct cmn_err *err);
int sch_result_fill(struct sch_result_cursor *c, struct cmn_buf *out, size_t want,
		    struct cmn_err *err);
void sch_result_close(struct sch_result_cursor *c);
/* The synchronous answer of POST ?wait: status plus "columns" (names) and
 * "rows" (at most max_rows arrays; "truncated": true when there are more). */
json_t *sch_job_answer(struct sch_job *job, uint64_t max_rows);

/* The statement handler (stmt.h) of everything that runs on nodes:
 * queries, INSERT, CTAS. Compiles, submits to sch_jobs_default() and
 * returns {"id": ..., "status": "queued"} with "job": true. */
int sch_job_stmt_handler(struct sch_stmt_ctx *ctx, const char *sql, size_t len, json_t **result,
			 struct cmn_err *err);

#endif
