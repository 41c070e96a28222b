/* scheduler/job_int.h — what job.c (registry, API views) and job_run.c
 * (execution) share. Not for other modules: they use job.h. */
#ifndef SCH_JOB_INT_H
#define SCH_JOB_INT_H

#include <stdatomic.h>
#include <sys/queue.h>

#include "scheduler/job.h"

enum job_state {
	JOB_QUEUED = 0,
	JOB_RUNNING,
	JOB_SUCCEEDED,
	JOB_FAILED,
	JOB_CANCELLED,
};

struct job_stage_stat {
	unsigned nodes, done;
	uint64_t rows_in, rows_out, bytes_out, udf_calls;
	uint64_t cpu_ns, peak_memory, wall_ns;
};

/* A job's result batches, back to back in a memfd (job_result.c). */
struct job_rbatch {
	uint64_t off;
	uint32_t len, nrows;
};
struct job_result {
	int fd; /* -1 until the first batch */
	uint64_t len;
	struct job_rbatch *v;
	size_t n, cap;
};
int job_result_add(struct job_result *r, const void *batch, uint32_t len, uint32_t nrows,
		   struct cmn_err *err);
/* Maps the whole result read-only (*base NULL for an empty one). */
int job_result_map(const struct job_result *r, const uint8_t **base, struct cmn_err *err);
void job_result_unmap(const struct job_result *r, const uint8_t *base);
void job_result_free(struct job_result *r); /* leaves it empty, fd -1 */

struct sch_jobs {
	struct sch_jobs_cfg cfg;
	char node_path[4096];
	pthread_mutex_t mu;
	pthread_cond_t cv; /* a job finished or a slot freed */
	TAILQ_HEAD(, sch_job) all;
	unsigned running, finished;
	uint64_t kept_bytes; /* result bytes of the finished jobs listed */
	unsigned long long counter;
	bool closing;
};

struct sch_job {
	struct sch_jobs *jobs;
	TAILQ_ENTRY(sch_job) link;
	unsigned refs; /* under jobs->mu; the registry holds one while listed */
	char id[24];
	char project[128];
	struct sch_principal who;
	char request_id[40], source_ip[64];
	char *sql;
	struct sch_job_compiled c;
	pthread_t thread;
	bool thread_started;
	/* under jobs->mu */
	enum job_state state;
	struct cmn_err err;
	int64_t created_ms, started_ms, finished_ms;
	struct job_stage_stat *stages; /* plan.n, NULL without a plan */
	size_t nstages;
	/* the result, written by the job thread before the state is final */
	struct job_result result;
	uint64_t result_rows, result_bytes;
	uint64_t rows_read, bytes_read;
	uint64_t inserted_rows;
	/* phases in ms (job thread writes, views read under jobs->mu) */
	int64_t overlay_ms, start_ms, run_ms, commit_ms;
	atomic_bool cancel;
	int cancel_fd; /* eventfd: wakes the job thread's poll */
};

int64_t sch_job_now_ms(void);
/* The job thread's work: runs job->c's plan, fills the result or
 * job->err. Returns 0 or -1. Called without any lock. */
int sch_job_execute(struct sch_job *job, struct cmn_err *err);

#endif
