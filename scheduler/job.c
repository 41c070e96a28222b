/* scheduler/job.c — the job registry (queue, threads, eviction), the
 * commit of INSERT/CTAS, the API views of a job, and the statement handler
 * that submits jobs. Execution is job_run.c. See job.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <math.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/rowfmt.h"
#include "scheduler/audit.h"
#include "scheduler/authz.h"
#include "scheduler/job_int.h"
#include "scheduler/metrics.h"
#include "scheduler/tabledata.h"
#include "scheduler/tables.h"

static struct sch_jobs *default_jobs;

void sch_jobs_set_default(struct sch_jobs *jobs)
{
	default_jobs = jobs;
}

struct sch_jobs *sch_jobs_default(void)
{
	return default_jobs;
}

int64_t sch_job_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int node_path(char *out, size_t len, struct cmn_err *err)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n < 0)
		return cmn_err_sys(err, "readlink /proc/self/exe");
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	if ((size_t)snprintf(out, len, "%s/cordon-node", self) >= len)
		return cmn_err_set(err, CMN_ELIMIT, 0, "path too long");
	return 0;
}

int sch_jobs_open(struct sch_jobs **out, const struct sch_jobs_cfg *cfg, struct cmn_err *err)
{
	struct sch_jobs *j = calloc(1, sizeof(*j));

	if (!j)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	j->cfg = *cfg;
	if (!j->cfg.max_running)
		j->cfg.max_running = 4;
	if (!j->cfg.keep_finished)
		j->cfg.keep_finished = 200;
	if (!j->cfg.max_result_bytes)
		j->cfg.max_result_bytes = 256ULL << 20;
	if (!j->cfg.results_memory)
		j->cfg.results_memory = 1ULL << 30;
	if (cfg->node_path)
		snprintf(j->node_path, sizeof(j->node_path), "%s", cfg->node_path);
	else if (node_path(j->node_path, sizeof(j->node_path), err) < 0) {
		free(j);
		return -1;
	}
	if (access(j->node_path, X_OK) < 0) {
		cmn_err_sys(err, "job nodes need %s", j->node_path);
		free(j);
		return -1;
	}
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cv, NULL);
	TAILQ_INIT(&j->all);
	*out = j;
	return 0;
}

static void job_free(struct sch_job *job)
{
	if (job->cancel_fd >= 0)
		close(job->cancel_fd);
	sch_job_compiled_free(&job->c);
	job_result_free(&job->result);
	free(job->stages);
	free(job->sql);
	free(job);
}

/* under jobs->mu */
static void unref_locked(struct sch_job *job)
{
	if (--job->refs == 0)
		job_free(job);
}

void sch_job_put(struct sch_job *job)
{
	struct sch_jobs *jobs;
	if (!job)
		return;
	jobs = job->jobs;
	pthread_mutex_lock(&jobs->mu);
	unref_locked(job);
	pthread_mutex_unlock(&jobs->mu);
}

void sch_jobs_close(struct sch_jobs *jobs)
{
	struct sch_job *job, *next;

	if (!jobs)
		return;
	pthread_mutex_lock(&jobs->mu);
	jobs->closing = true;
	TAILQ_FOREACH(job, &jobs->all, link)
	{
		if (job->state <= JOB_RUNNING) {
			uint64_t one = 1;
			atomic_store(&job->cancel, true);
			if (write(job->cancel_fd, &one, sizeof(one)) < 0)
				cmn_warn("job %s: cancel: %s", job->id, strerror(errno));
		}
	}
	while (jobs->running > 0)
		pthread_cond_wait(&jobs->cv, &jobs->mu);
	for (job = TAILQ_FIRST(&jobs->all); job; job = next) {
		next = TAILQ_NEXT(job, link);
		TAILQ_REMOVE(&jobs->all, job, link);
		unref_locked(job);
	}
	pthread_mutex_unlock(&jobs->mu);
	if (default_jobs == jobs)
		default_jobs = NULL;
	pthread_cond_destroy(&jobs->cv);
	pthread_mutex_destroy(&jobs->mu);
	free(jobs);
}

/* ---- commit ------------------------------------------------------------ */

static int ctas_create(struct sch_job *job, const char *project, struct cmn_err *err)
{
	struct sch_jobs *jobs = job->jobs;
	const struct sch_q_stmt *s = job->c.stmt;
	const struct sch_plan_cols *out = &job->c.plan.v[job->c.plan.n - 1].out;
	struct sch_q_coldef *cols = calloc(out->n, sizeof(*cols));
	struct sch_authz_column *acols = calloc(out->n, sizeof(*acols));
	struct sch_tabledef t = { 0 };
	sqlite3 *db = sch_catalog_db(jobs->cfg.cat);
	int rc = -1;

	if (!cols || !acols) {
		cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < out->n; i++) {
		for (size_t j = 0; j < i; j++)
			if (strcasecmp(out->v[j].name, out->v[i].name) == 0) {
				cmn_err_set(err, CMN_EINVAL, 0,
					    "%d:%d: CREATE TABLE AS: column '%s' appears twice; "
					    "give one an alias",
					    s->line, s->col, out->v[i].name);
				goto out;
			}
		cols[i].name = out->v[i].name;
		cols[i].type = out->v[i].type == SCH_QT_NULL ? SCH_QT_STRING : out->v[i].type;
		acols[i] = (struct sch_authz_column){ out->v[i].name, -1, false };
	}
	t.project = (char *)(uintptr_t)project;
	t.name = s->name.name;
	t.owner = job->who.name;
	t.cols = cols;
	t.ncols = out->n;
	pthread_mutex_lock(jobs->cfg.api_lock);
	if (sqlite3_exec(db, "SAVEPOINT job_ctas", NULL, NULL, NULL) != SQLITE_OK) {
		cmn_err_set(err, CMN_EIO, 0, "catalog: %s", sqlite3_errmsg(db));
	} else {
		rc = sch_tables_put(jobs->cfg.cat, &t, s->comment,
				    s->has_lifecycle ? s->lifecycle : 0, err);
		if (rc == 0)
			rc = sch_authz_object_create(jobs->cfg.cat, project, SCH_OBJ_TABLE, t.name,
						     t.owner, false, acols, t.ncols, err);
		sqlite3_exec(
		    db, rc == 0 ? "RELEASE job_ctas" : "ROLLBACK TO job_ctas; RELEASE job_ctas",
		    NULL, NULL, NULL);
	}
	pthread_mutex_unlock(jobs->cfg.api_lock);
out:
	free(cols);
	free(acols);
	return rc;
}

static void ctas_undo(struct sch_job *job, const char *project)
{
	struct sch_jobs *jobs = job->jobs;
	const char *name = job->c.stmt->name.name;
	struct cmn_err e = CMN_ERR_INIT;

	pthread_mutex_lock(jobs->cfg.api_lock);
	if (sch_tables_drop(jobs->cfg.cat, project, name, &e) < 0 ||
	    sch_authz_object_drop(jobs->cfg.cat, project, SCH_OBJ_TABLE, name, &e) < 0)
		cmn_warn("job %s: undoing CREATE TABLE %s: %s", job->id, name, e.msg);
	pthread_mutex_unlock(jobs->cfg.api_lock);
}

/* INSERT and CTAS: the FINAL rows become the table's next version. */
static int commit(struct sch_job *job, struct cmn_err *err)
{
	const struct sch_q_stmt *s = job->c.stmt;
	struct sch_tabledata td = { job->jobs->cfg.cat, job->jobs->cfg.storage,
				    job->jobs->cfg.api_lock };
	struct sch_storage_batch *b;
	const uint8_t *base;
	const char *project;
	char spec[1024];
	const char *part = NULL;
	enum sch_tabledata_mode mode = SCH_TD_APPEND;
	int rc;

	if (!s || (s->kind != SCH_Q_INSERT && s->kind != SCH_Q_CTAS))
		return 0;
	project = s->name.project ? s->name.project : job->project;
	if (s->kind == SCH_Q_INSERT) {
		const struct sch_tabledef *t = job->c.res.target;
		if (!t)
			return cmn_err_set(err, CMN_ENOTFOUND, 0, "table %s does not exist",
					   s->name.name);
		project = t->project;
		if (s->npart) {
			if (sch_tables_partition_spec(t, s, spec, sizeof(spec), err) < 0)
				return -1;
			part = spec;
		}
		mode = s->overwrite ? SCH_TD_OVERWRITE : SCH_TD_APPEND;
	} else {
		mode = SCH_TD_OVERWRITE;
		if (ctas_create(job, project, err) < 0)
			return -1;
	}
	b = calloc(job->result.n ? job->result.n : 1, sizeof(*b));
	if (!b)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	if (job_result_map(&job->result, &base, err) < 0) {
		free(b);
		return -1;
	}
	for (size_t i = 0; i < job->result.n; i++)
		b[i] =
		    (struct sch_storage_batch){ base + job->result.v[i].off, job->result.v[i].len };
	rc = sch_tabledata_write(&td, project, s->name.name, mode, part, b, job->result.n,
				 &job->inserted_rows, err);
	job_result_unmap(&job->result, base);
	free(b);
	if (rc < 0 && s->kind == SCH_Q_CTAS)
		ctas_undo(job, project);
	if (rc < 0)
		return cmn_err_wrap(err, "commit to %s.%s", project, s->name.name);
	return 0;
}

/* ---- the job thread ---------------------------------------------------- */

static const char *state_name(enum job_state s)
{
	static const char *const n[] = { "queued", "running", "succeeded", "failed", "cancelled" };
	return n[s];
}

static void audit_end(struct sch_job *job)
{
	char res[300], reason[CMN_ERR_MSG_MAX + 200];
	uint64_t cpu = 0;
	struct sch_audit_record rec;

	for (size_t i = 0; i < job->nstages; i++)
		cpu += job->stages[i].cpu_ns;
	snprintf(res, sizeof(res), "acs:odps:*:projects/%s/instances/%s", job->project, job->id);
	if (job->state == JOB_SUCCEEDED)
		snprintf(reason, sizeof(reason),
			 "succeeded: %zu stages, %" PRIu64 " result rows, %" PRIu64
			 " rows written, %" PRIu64 " bytes read, cpu %" PRIu64 " ms",
			 job->nstages, job->result_rows, job->inserted_rows, job->bytes_read,
			 cpu / 1000000);
	else
		snprintf(reason, sizeof(reason), "%s: %s", state_name(job->state), job->err.msg);
	rec = (struct sch_audit_record){
		.event_name = "JobFinished",
		.request_id = job->request_id,
		.source_ip = job->source_ip,
		.principal = job->who.name,
		.access_key_id = job->who.access_key_id,
		.project = job->project,
		.resource = res,
		.reason = reason,
		.error_code = job->state == JOB_SUCCEEDED ? NULL : cmn_code_name(job->err.code),
	};
	if (sch_audit_default())
		(void)sch_audit_write(sch_audit_default(), &rec, NULL);
}

static void start_locked(struct sch_job *job);

static void *job_main(void *arg)
{
	struct sch_job *job = arg;
	struct sch_jobs *jobs = job->jobs;
	struct cmn_err err = CMN_ERR_INIT;
	int rc = sch_job_execute(job, &err);

	if (rc == 0 && !atomic_load(&job->cancel)) {
		int64_t t = sch_job_now_ms();
		rc = commit(job, &err);
		job->commit_ms = sch_job_now_ms() - t; /* published below under jobs->mu */
	}
	if (job->c.stmt && (job->c.stmt->kind == SCH_Q_INSERT || job->c.stmt->kind == SCH_Q_CTAS)) {
		job_result_free(&job->result);
		job->result_rows = 0;
	}
	pthread_mutex_lock(&jobs->mu);
	job->finished_ms = sch_job_now_ms();
	if (atomic_load(&job->cancel)) {
		job->state = JOB_CANCELLED;
		cmn_err_set(&job->err, CMN_ECONFLICT, 0, "cancelled");
	} else if (rc < 0) {
		job->state = JOB_FAILED;
		job->err = err;
	} else {
		job->state = JOB_SUCCEEDED;
	}
	pthread_mutex_unlock(&jobs->mu);
	audit_end(job);
	sch_metrics_job(state_name(job->state));
	pthread_mutex_lock(&jobs->mu);
	jobs->running--;
	jobs->finished++;
	jobs->kept_bytes += job->result_bytes;
	/* the next queued job, then eviction of the oldest finished ones */
	if (!jobs->closing) {
		struct sch_job *q;
		TAILQ_FOREACH(q, &jobs->all, link)
		if (q->state == JOB_QUEUED && jobs->running < jobs->cfg.max_running)
			start_locked(q);
	}
	while (jobs->finished > jobs->cfg.keep_finished ||
	       jobs->kept_bytes > jobs->cfg.results_memory) {
		struct sch_job *old;
		TAILQ_FOREACH(old, &jobs->all, link)
		if (old->state > JOB_RUNNING)
			break;
		if (!old)
			break;
		TAILQ_REMOVE(&jobs->all, old, link);
		jobs->finished--;
		jobs->kept_bytes -= old->result_bytes;
		unref_locked(old);
	}
	pthread_cond_broadcast(&jobs->cv);
	unref_locked(job); /* the thread's */
	pthread_mutex_unlock(&jobs->mu);
	/* A big job's buffers (sink streams, table batches) stay in glibc's
	 * arenas once freed; every later container start would clone their page
	 * tables (job_result.c). Give them back. */
	malloc_trim(0);
	return NULL;
}

/* under jobs->mu */
static void start_locked(struct sch_job *job)
{
	pthread_attr_t a;

	job->state = JOB_RUNNING;
	job->started_ms = sch_job_now_ms();
	job->refs++;
	job->jobs->running++;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&job->thread, &a, job_main, job) != 0) {
		job->refs--;
		job->jobs->running--;
		job->state = JOB_FAILED;
		job->finished_ms = sch_job_now_ms();
		cmn_err_set(&job->err, CMN_EINTERNAL, 0, "pthread_create failed");
		job->jobs->finished++;
	}
	pthread_attr_destroy(&a);
}

int sch_job_submit(struct sch_jobs *jobs, struct sch_job_compiled *c, const char *sql,
		   const struct sch_job_origin *o, char *id, size_t idlen, struct cmn_err *err)
{
	struct sch_job *job = calloc(1, sizeof(*job));
	unsigned char rnd[4];
	unsigned queued = 0;
	struct sch_job *q;

	if (!job || RAND_bytes(rnd, sizeof(rnd)) != 1) {
		free(job);
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	}
	job->jobs = jobs;
	job->result.fd = -1;
	job->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	job->sql = strdup(sql);
	job->nstages = c->has_plan ? c->plan.n : 0;
	job->stages = calloc(job->nstages ? job->nstages : 1, sizeof(*job->stages));
	if (job->cancel_fd < 0 || !job->sql || !job->stages) {
		job_free(job);
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	}
	job->who = *o->who;
	snprintf(job->project, sizeof(job->project), "%s", o->project);
	snprintf(job->request_id, sizeof(job->request_id), "%s",
		 o->request_id ? o->request_id : "");
	snprintf(job->source_ip, sizeof(job->source_ip), "%s", o->source_ip ? o->source_ip : "");
	job->c = *c;
	/* the plan refers to the resolved statement it was built from (plan.h):
	 * point it at the copy, not at the caller's struct it was moved out of */
	job->c.plan.res = &job->c.res;
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < job->nstages; i++)
		job->stages[i].nodes = (unsigned)job->c.plan.v[i].nodes;
	job->created_ms = sch_job_now_ms();
	job->err = (struct cmn_err)CMN_ERR_INIT;

	pthread_mutex_lock(&jobs->mu);
	TAILQ_FOREACH(q, &jobs->all, link)
	queued += q->state == JOB_QUEUED;
	if (jobs->closing || queued >= 1000) {
		pthread_mutex_unlock(&jobs->mu);
		job_free(job);
		return cmn_err_set(err, CMN_ELIMIT, 0, "too many queued jobs; try again later");
	}
	/* "j" + 10 hex digits: fits the overlay's job name (OVL_JOB_MAX) */
	snprintf(job->id, sizeof(job->id), "j%02x%02x%06llx", rnd[0], rnd[1],
		 (++jobs->counter) & 0xffffffULL);
	snprintf(id, idlen, "%s", job->id);
	job->refs = 1;
	TAILQ_INSERT_TAIL(&jobs->all, job, link);
	if (jobs->running < jobs->cfg.max_running)
		start_locked(job);
	pthread_mutex_unlock(&jobs->mu);
	return 0;
}

struct sch_job *sch_job_get(struct sch_jobs *jobs, const char *project, const char *id,
			    const struct sch_principal *who, const char *owner, struct cmn_err *err)
{
	struct sch_job *job;

	pthread_mutex_lock(&jobs->mu);
	TAILQ_FOREACH(job, &jobs->all, link)
	if (strcmp(job->id, id) == 0 && strcmp(job->project, project) == 0)
		break;
	if (job && !(who->super_admin || strcmp(job->who.name, who->name) == 0 ||
		     (owner && strcmp(owner, who->name) == 0)))
		job = NULL;
	if (job)
		job->refs++;
	pthread_mutex_unlock(&jobs->mu);
	if (!job)
		cmn_err_set(err, CMN_ENOTFOUND, 0, "no job '%s' in project '%s'", id, project);
	return job;
}

bool sch_job_wait(struct sch_job *job, uint64_t timeout_ms)
{
	struct sch_jobs *jobs = job->jobs;
	struct timespec until;
	bool done;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)(timeout_ms / 1000);
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&jobs->mu);
	while (job->state <= JOB_RUNNING)
		if (pthread_cond_timedwait(&jobs->cv, &jobs->mu, &until) == ETIMEDOUT)
			break;
	done = job->state > JOB_RUNNING;
	pthread_mutex_unlock(&jobs->mu);
	return done;
}

int sch_job_cancel(struct sch_job *job, struct cmn_err *err)
{
	struct sch_jobs *jobs = job->jobs;
	uint64_t one = 1;
	int rc = 0;

	pthread_mutex_lock(&jobs->mu);
	if (job->state == JOB_QUEUED) {
		atomic_store(&job->cancel, true);
		job->state = JOB_CANCELLED;
		job->finished_ms = sch_job_now_ms();
		cmn_err_set(&job->err, CMN_ECONFLICT, 0, "cancelled");
		jobs->finished++;
		pthread_cond_broadcast(&jobs->cv);
	} else if (job->state == JOB_RUNNING) {
		atomic_store(&job->cancel, true);
		if (write(job->cancel_fd, &one, sizeof(one)) < 0)
			rc = cmn_err_sys(err, "eventfd write");
	} else {
		rc = cmn_err_set(err, CMN_ECONFLICT, 0, "job %s has already %s", job->id,
				 state_name(job->state));
	}
	pthread_mutex_unlock(&jobs->mu);
	return rc;
}
