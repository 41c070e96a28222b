/* scheduler/job_run.c — one job's execution (job.h): overlay, sandboxed
 * nodes, scan feeders, the watch loop, the FINAL stream, teardown.
 *
 * The fds of a node (docs/stage-plan.md): 1 and 2 one pipe (its log: error
 * lines and the JSON summary), 3 its stage plan (a memfd), then one fd per
 * scan input (a pipe the feeder writes), the result sink (a pipe this thread
 * reads), and a memfd per script and resource. Everything else is closed
 * by the sandbox. Each node gets its own memfds: a shared file offset would
 * let one node's read starve the next.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/io.h"
#include "common/log.h"
#include "common/rowfmt.h"
#include "netoverlay/netoverlay.h"
#include "sandbox/sandbox.h"
#include "scheduler/audit.h"
#include "scheduler/job_int.h"
#include "scheduler/netlinks.h"
#include "scheduler/resources.h"
#include "scheduler/tabledata.h"

#define NODE_PORT 7000
#define FRAME_MAX (16u << 20)
#define LOG_MAX (64u << 10)
#define PIPE_BYTES (1 << 20)
#define DEFAULT_NODE_TIMEOUT_MS (300ULL * 1000)
#define STAGE_MAX_INPUTS 256 /* cordon-node's RT_PLAN_MAX_INPUTS */
#define SPAWNERS 4

struct node {
	size_t stage;
	int index;
	struct sbx_child *child;
	struct sbx_limits limits;
	int log_fd;
	struct cmn_buf log;
	bool ended;
	struct sbx_result res;
	int rank; /* how well its failure explains the job's: see node_failure() */
	char why[CMN_ERR_MSG_MAX];
	int code;
};

/* A scan input's feeder: up to FEED_WORKERS threads, one per node of its
 * stage. Worker k reads slice k of the table's chunks (each chunk fetched
 * and decrypted by one worker) and deals its batches out to every node in
 * turn, starting at node k, so the nodes' shares stay even however many
 * chunks there are. The last worker to finish ends each node's input. */
#define FEED_WORKERS 8

struct feeder;
struct feed_worker {
	struct feeder *f;
	unsigned k;
	uint64_t next; /* batches this worker has dealt out */
	bool quiet;    /* it stopped for the others (a failure, every input closed) */
	pthread_t thread;
	bool started;
};

struct feeder {
	struct run *run;
	const struct sch_plan_input *in;
	unsigned n;                                  /* nodes */
	int fds[SCH_PLAN_MAX_NODES];                 /* each under its node_mu */
	pthread_mutex_t node_mu[SCH_PLAN_MAX_NODES]; /* one writer per pipe at a time */
	atomic_uint open;                            /* nodes whose input is still open */
	atomic_bool stop;                            /* a worker failed: the others stop */
	atomic_uint_fast64_t bytes;
	struct feed_worker w[FEED_WORKERS];
	unsigned nworkers;  /* 0 until started; then the last one out closes fds */
	pthread_mutex_t mu; /* the fields below */
	unsigned running;
	int rc;
	struct cmn_err err;
};

/* A result stream: the FINAL node's, or with the FINAL elided each node's
 * of the stage before it. */
struct sink {
	int fd;
	struct cmn_buf buf;
	bool done;
};

struct run {
	struct sch_job *job;
	const struct sch_plan *p;
	struct ovl_overlay *ov;
	size_t first[64]; /* global node index of each stage's node 0 */
	struct node *nodes;
	size_t nnodes, live;
	struct feeder *feeders;
	size_t nfeeders;
	/* stages that run nodes: all, or all but a FINAL that only renames its
	 * one input's columns (final_elided()); then cordond itself is FINAL */
	size_t nstages;
	bool elided;
	struct sink sinks[SCH_PLAN_MAX_NODES];
	unsigned nsinks;
	bool failed;
	struct cmn_err fail;
	int fail_rank;
	/* node start in parallel: SPAWNERS threads take nodes from next_node;
	 * each stays parked until the run ends, because a container dies with
	 * the thread that spawned it (PR_SET_PDEATHSIG) */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t spawners[SPAWNERS];
	unsigned nspawners, spawning;
	size_t next_node;
	bool spawn_failed, ending;
	struct cmn_err spawn_err;
};

static int memfd_with(const char *name, const void *data, size_t len, struct cmn_err *err)
{
	cleanup_close int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return cmn_err_sys(err, "memfd_create %s", name);
	if (cmn_write_all(fd, data, len, err) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		return cmn_err_wrap(err, "memfd %s", name);
	(void)fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
	return steal_fd(&fd);
}

/* ---- scripts and resources -------------------------------------------- */

static int fetch(struct run *run, const char *project, const char *name, struct cmn_buf *out,
		 struct cmn_err *err)
{
	struct sch_jobs *jobs = run->job->jobs;
	int rc;

	pthread_mutex_lock(jobs->cfg.api_lock);
	rc = sch_resource_get(jobs->cfg.cat, project, name, out, err);
	pthread_mutex_unlock(jobs->cfg.api_lock);
	if (rc < 0)
		return cmn_err_wrap(err, "resource %s/%s", project, name);
	return 0;
}

/* The function whose script the plan names `script` (sch_plan_script_name). */
static const struct sch_funcdef *fn_by_script(const struct run *run, const char *script)
{
	const struct sch_q_resolved *res = &run->job->c.res;
	char name[300];
	for (size_t i = 0; i < res->nfns; i++)
		if (res->fns[i].def &&
		    sch_plan_script_name(res->fns[i].def, run->job->project, name, sizeof(name)) ==
			0 &&
		    strcmp(name, script) == 0)
			return res->fns[i].def;
	return NULL;
}

/* The project a resource of the stage comes from: the function's that
 * uses it, else (TRANSFORM) the job's. */
static const char *resource_project(const struct run *run, const char *name)
{
	const struct sch_q_resolved *res = &run->job->c.res;
	for (size_t i = 0; i < res->nfns; i++) {
		const struct sch_funcdef *d = res->fns[i].def;
		for (size_t k = 0; d && k < d->resources.n; k++)
			if (strcmp(d->resources.v[k], name) == 0)
				return d->project;
	}
	return run->job->project;
}

/* A node sees a stage's resources by name (resource.read, TRANSFORM's
 * files): two projects' resources of the same name in one job would be one
 * file, and a function would read the other project's data. Refused before
 * anything starts. (Scripts are named apart: sch_plan_script_name.) */
static int check_resource_names(const struct run *run, struct cmn_err *err)
{
	const struct sch_q_resolved *res = &run->job->c.res;

	for (size_t i = 0; i < res->nfns; i++) {
		const struct sch_funcdef *a = res->fns[i].def;
		for (size_t k = 0; a && k < a->resources.n; k++) {
			const char *name = a->resources.v[k];
			const char *other = NULL;
			if (strcmp(name, a->script) == 0)
				continue;
			for (size_t j = 0; !other && j < res->nfns; j++) {
				const struct sch_funcdef *b = res->fns[j].def;
				for (size_t m = 0; b && m < b->resources.n; m++)
					if (strcmp(b->project, a->project) != 0 &&
					    strcmp(b->resources.v[m], name) == 0 &&
					    strcmp(b->resources.v[m], b->script) != 0)
						other = b->project;
			}
			for (size_t s = 0; !other && s < run->p->n; s++)
				for (size_t m = 0; m < run->p->v[s].resources.n; m++)
					if (strcmp(a->project, run->job->project) != 0 &&
					    strcmp(run->p->v[s].resources.v[m], name) == 0)
						other = run->job->project;
			if (other)
				return cmn_err_set(err, CMN_EINVAL, 0,
						   "projects %s and %s both give this job a "
						   "resource named '%s'; a job can hold only one "
						   "(rename one of them)",
						   a->project, other, name);
		}
	}
	return 0;
}

/* Replaces each "fd": null of list (scripts or resources) with a new child
 * fd holding the content. */
static int attach_files(struct run *run, json_t *list, bool scripts, struct sbx_fd *fds,
			size_t *nfd, int *next_child, struct cmn_err *err)
{
	size_t i;
	json_t *e;

	json_array_foreach(list, i, e)
	{
		const char *name = json_string_value(json_object_get(e, "name"));
		const struct sch_funcdef *d;
		cleanup_buf struct cmn_buf content = { 0 };
		int fd;

		cmn_buf_init(&content, SCH_RESOURCE_MAX_BYTES);
		if (!name)
			return cmn_err_set(err, CMN_EINTERNAL, 0, "plan: a file without a name");
		d = scripts ? fn_by_script(run, name) : NULL;
		/* a script under its name in its own project (not the plan's) */
		if (fetch(run, d ? d->project : resource_project(run, name), d ? d->script : name,
			  &content, err) < 0)
			return -1;
		fd = memfd_with(name, content.data, content.len, err);
		if (fd < 0)
			return -1;
		fds[(*nfd)++] = (struct sbx_fd){ fd, *next_child };
		json_object_set_new(e, "fd", json_integer(*next_child));
		(*next_child)++;
	}
	return 0;
}

/* ---- one node --------------------------------------------------------- */

static void limits_json(const struct sch_job_settings *s, json_t *node)
{
	json_t *l = json_object_get(node, "limits");
	if (s->udf_memory > 0)
		json_object_set_new(l, "udf_memory", json_integer(s->udf_memory));
	if (s->udf_instructions > 0)
		json_object_set_new(l, "udf_instructions", json_integer(s->udf_instructions));
	if (s->udf_cpu_ms > 0)
		json_object_set_new(l, "udf_cpu_ms", json_integer(s->udf_cpu_ms));
	/* the job's overlay holds its network link's grant (make_overlay): the
	 * UDFs get net.connect (docs/stage-plan.md limits.network) */
	if (s->networklink && s->networklink[0])
		json_object_set_new(l, "network", json_true());
}

static void addr_port(const struct run *run, size_t stage, int i, char *out, size_t len)
{
	const struct ovl_node *n = ovl_node_get(run->ov, run->first[stage] + (size_t)i);
	snprintf(out, len, "%s:%d", n->addr_str, NODE_PORT);
}

/* Fills the runtime values of a node's plan (plan.h "What the plan leaves
 * to the runner"). Scan pipes and the sink are created here; their parent
 * ends go to the feeders / the run. */
static int wire_node(struct run *run, size_t s, int i, json_t *plan, struct sbx_fd *fds,
		     size_t *nfd, int *next_child, struct cmn_err *err)
{
	const struct sch_plan_stage *st = &run->p->v[s];
	json_t *inputs = json_object_get(plan, "inputs");
	json_t *sink = json_object_get(json_object_get(plan, "output"), "sink");
	bool listens = false;
	char addr[64];

	for (size_t k = 0; k < st->ninputs; k++) {
		json_t *src = json_object_get(json_array_get(inputs, k), "source");
		int pfd[2];
		if (st->inputs[k].upstream >= 0) {
			listens = true;
			continue;
		}
		if (pipe2(pfd, O_CLOEXEC) < 0)
			return cmn_err_sys(err, "pipe2");
		(void)fcntl(pfd[1], F_SETPIPE_SZ, PIPE_BYTES);
		fds[(*nfd)++] = (struct sbx_fd){ pfd[0], *next_child };
		json_object_set_new(src, "fd", json_integer(*next_child));
		(*next_child)++;
		for (size_t f = 0; f < run->nfeeders; f++)
			if (run->feeders[f].in == &st->inputs[k])
				run->feeders[f].fds[i] = pfd[1];
	}
	if (listens) {
		addr_port(run, s, i, addr, sizeof(addr));
		json_object_set_new(plan, "listen", json_string(addr));
	}
	if (st->to_stage < 0 || (run->elided && (size_t)st->to_stage == run->nstages)) {
		int pfd[2];
		if (pipe2(pfd, O_CLOEXEC) < 0)
			return cmn_err_sys(err, "pipe2");
		(void)fcntl(pfd[0], F_SETPIPE_SZ, PIPE_BYTES);
		(void)fcntl(pfd[0], F_SETFL, O_NONBLOCK);
		/* nodes start in parallel: each has its own slot (index i) */
		run->sinks[i].fd = pfd[0];
		fds[(*nfd)++] = (struct sbx_fd){ pfd[1], *next_child };
		json_object_clear(sink);
		json_object_set_new(sink, "fd", json_integer(*next_child));
		(*next_child)++;
	} else {
		json_t *peers = json_array();
		for (int k = 0; k < run->p->v[st->to_stage].nodes; k++) {
			addr_port(run, (size_t)st->to_stage, k, addr, sizeof(addr));
			json_array_append_new(peers, json_string(addr));
		}
		json_object_set_new(json_object_get(sink, "partition"), "peers", peers);
	}
	if (attach_files(run, json_object_get(plan, "scripts"), true, fds, nfd, next_child, err) <
		0 ||
	    attach_files(run, json_object_get(plan, "resources"), false, fds, nfd, next_child,
			 err) < 0)
		return -1;
	limits_json(&run->job->c.settings, plan);
	return 0;
}

static void node_spec(const struct run *run, size_t s, struct sbx_spec *spec, struct sbx_bind *bind,
		      char *dir)
{
	const struct sch_job_settings *set = &run->job->c.settings;
	uint64_t timeout_ms =
	    set->node_timeout_ms > 0 ? (uint64_t)set->node_timeout_ms : DEFAULT_NODE_TIMEOUT_MS;

	sbx_spec_init(spec);
	spec->profile = run->p->v[s].argc ? SBX_PROFILE_TRANSFORM : SBX_PROFILE_UDF;
	spec->net = SBX_NET_JOIN;
	spec->limits.wall_time_ns = timeout_ms * 1000000ULL;
	spec->limits.cpu_time_ns = timeout_ms * 1000000ULL;
	if (set->udf_memory > 0)
		spec->limits.memory_bytes = SBX_DEFAULT_MEMORY + (uint64_t)set->udf_memory;
	/* the node binary's directory, when it is not under /usr (a build tree) */
	if (strncmp(dir, "/usr/", 5) != 0) {
		bind->src = dir;
		bind->dst = NULL;
		bind->writable = false;
		spec->binds = bind;
		spec->bind_count = 1;
	}
}

static int start_node(struct run *run, struct node *nd, struct cmn_err *err)
{
	const char *node_path = run->job->jobs->node_path;
	const char *argv[] = { node_path, "stage", "--plan-fd", "3", NULL };
	const char *envp[] = { "PATH=/usr/bin:/bin", "TMPDIR=/work", NULL };
	struct sbx_fd fds[SBX_MAX_FDS];
	size_t nfd = 1; /* fds[0]: the plan, filled last */
	int next_child = 4, logp[2] = { -1, -1 }, rc = -1;
	json_t *plan = NULL;
	char *text = NULL, dir[4096];
	struct sbx_spec spec;
	struct sbx_bind bind;

	fds[0] = (struct sbx_fd){ -1, 3 };
	if (sch_plan_node_json(run->p, nd->stage, nd->index, run->job->id, &plan, err) < 0)
		return -1;
	if (wire_node(run, nd->stage, nd->index, plan, fds, &nfd, &next_child, err) < 0)
		goto out;
	text = json_dumps(plan, JSON_COMPACT);
	if (!text) {
		cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		goto out;
	}
	fds[0].parent_fd = memfd_with("plan", text, strlen(text), err);
	if (fds[0].parent_fd < 0)
		goto out;
	if (pipe2(logp, O_CLOEXEC) < 0) {
		cmn_err_sys(err, "pipe2");
		goto out;
	}
	fds[nfd++] = (struct sbx_fd){ logp[1], 1 };
	fds[nfd++] = (struct sbx_fd){ logp[1], 2 };
	snprintf(dir, sizeof(dir), "%s", node_path);
	node_spec(run, nd->stage, &spec, &bind, dirname(dir));
	spec.argv = argv;
	spec.envp = envp;
	spec.fds = fds;
	spec.fd_count = nfd;
	spec.netns_fd = ovl_node_get(run->ov, run->first[nd->stage] + (size_t)nd->index)->netns_fd;
	sbx_limits_effective(&spec.limits, &nd->limits);
	if (sbx_spawn(&spec, &nd->child, err) < 0) {
		cmn_err_wrap(err, "stage %zu node %d", nd->stage, nd->index);
		goto out;
	}
	nd->log_fd = steal_fd(&logp[0]);
	(void)fcntl(nd->log_fd, F_SETFL, O_NONBLOCK);
	pthread_mutex_lock(&run->mu);
	run->live++;
	pthread_mutex_unlock(&run->mu);
	rc = 0;
out:
	/* the child has its copies; ours would keep pipes open past its end */
	for (size_t k = 0; k < nfd; k++)
		if (fds[k].parent_fd >= 0 && fds[k].child_fd != 2)
			close(fds[k].parent_fd);
	if (logp[0] >= 0)
		close(logp[0]);
	free(text);
	json_decref(plan);
	return rc;
}

/* ---- feeders: rows of a scan, dealt out to the stage's nodes ---------- */

/* A node that closed its input (EPIPE) needs no more rows: a LIMIT it
 * reached, say. Its input is closed here too and its share of the rest
 * dropped; whether the node ended well is for its own exit to tell (a node
 * that died explains the job with its own failure). Anything else fails.
 * Caller holds node_mu[i]. */
static int feed_write(struct feeder *f, unsigned i, const void *data, size_t len,
		      struct cmn_err *err)
{
	struct cmn_err e = CMN_ERR_INIT;

	if (f->fds[i] < 0)
		return 0;
	if (cmn_write_all(f->fds[i], data, len, &e) == 0)
		return 0;
	if (e.sys_errno == EPIPE) {
		close(f->fds[i]);
		f->fds[i] = -1;
		atomic_fetch_sub(&f->open, 1);
		return 0;
	}
	if (err)
		*err = e;
	return -1;
}

static int feed_batch(void *ctx, const void *batch, size_t len, struct cmn_err *err)
{
	struct feed_worker *w = ctx;
	struct feeder *f = w->f;
	uint8_t hdr[4] = { (uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16),
			   (uint8_t)(len >> 24) };
	unsigned i = (unsigned)((w->next++ + w->k) % f->n);
	int rc;

	if (len == 0 || len > FRAME_MAX)
		return cmn_err_set(err, CMN_ELIMIT, 0, "stored batch of %zu bytes", len);
	if (atomic_load(&f->run->job->cancel))
		return cmn_err_set(err, CMN_ECONFLICT, 0, "cancelled");
	if (atomic_load(&f->stop) || atomic_load(&f->open) == 0) {
		/* another worker failed, or every node closed its input */
		w->quiet = true;
		return cmn_err_set(err, CMN_ECONFLICT, 0, "feed stopped");
	}
	/* header and batch under one lock: frames of two workers never mix */
	pthread_mutex_lock(&f->node_mu[i]);
	rc = feed_write(f, i, hdr, 4, err) < 0 || feed_write(f, i, batch, len, err) < 0 ? -1 : 0;
	pthread_mutex_unlock(&f->node_mu[i]);
	if (rc == 0)
		atomic_fetch_add(&f->bytes, len + 4);
	return rc;
}

/* Ends every node's input: an end frame after a whole read, none after a
 * failure (the node must not take a short input for the whole table). */
static void feed_finish(struct feeder *f)
{
	static const uint8_t end[4] = { 0, 0, 0, 0 };

	for (unsigned i = 0; i < f->n; i++) {
		if (f->rc == 0 && feed_write(f, i, end, 4, &f->err) < 0)
			f->rc = -1;
		if (f->fds[i] >= 0)
			close(f->fds[i]);
		f->fds[i] = -1;
	}
}

/* A worker is done (rc < 0 with *e on failure), or `gone` workers will
 * never start; the last one out ends the inputs. */
static void feed_done(struct feeder *f, unsigned gone, int rc, bool quiet, const struct cmn_err *e)
{
	bool last;

	pthread_mutex_lock(&f->mu);
	/* a quiet worker stopped for the others: its error is not the feed's */
	if (rc < 0 && !quiet && f->rc == 0) {
		f->rc = -1;
		f->err = *e;
	}
	if (f->rc < 0)
		atomic_store(&f->stop, true);
	f->running -= gone;
	last = f->running == 0;
	pthread_mutex_unlock(&f->mu);
	if (last) /* every other worker has left: the fds are this thread's */
		feed_finish(f);
}

static void *feed_worker_main(void *arg)
{
	struct feed_worker *w = arg;
	struct feeder *f = w->f;
	struct sch_jobs *jobs = f->run->job->jobs;
	struct sch_tabledata td = { jobs->cfg.cat, jobs->cfg.storage, jobs->cfg.api_lock };
	const char *cols[CMN_ROW_MAX_COLS];
	struct cmn_err e = CMN_ERR_INIT;
	int rc;

	for (size_t c = 0; c < f->in->cols.n && c < CMN_ROW_MAX_COLS; c++)
		cols[c] = f->in->cols.v[c].name;
	rc = sch_tabledata_read(&td, f->in->scan_project, f->in->scan_table, cols, f->in->cols.n,
				w->k, f->nworkers, feed_batch, w, &e);
	feed_done(f, 1, rc, w->quiet, &e);
	return NULL;
}

/* Starts the feeder's workers. On failure the ones started run on (the run
 * joins them) and the feed ends as failed. */
static int feed_start(struct feeder *f, struct cmn_err *err)
{
	f->nworkers = f->n < FEED_WORKERS ? f->n : FEED_WORKERS;
	f->running = f->nworkers;
	for (unsigned k = 0; k < f->nworkers; k++) {
		struct feed_worker *w = &f->w[k];
		*w = (struct feed_worker){ .f = f, .k = k };
		if (pthread_create(&w->thread, NULL, feed_worker_main, w) != 0) {
			cmn_err_set(err, CMN_EINTERNAL, 0, "pthread_create feeder");
			feed_done(f, f->nworkers - k, -1, false, err);
			return -1;
		}
		w->started = true;
	}
	return 0;
}

static int setup_feeders(struct run *run, struct cmn_err *err)
{
	size_t n = 0;
	for (size_t s = 0; s < run->p->n; s++)
		for (size_t k = 0; k < run->p->v[s].ninputs; k++)
			n += run->p->v[s].inputs[k].upstream < 0;
	run->feeders = calloc(n ? n : 1, sizeof(*run->feeders));
	if (!run->feeders)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	for (size_t s = 0; s < run->p->n; s++)
		for (size_t k = 0; k < run->p->v[s].ninputs; k++) {
			struct feeder *f;
			if (run->p->v[s].inputs[k].upstream >= 0)
				continue;
			f = &run->feeders[run->nfeeders++];
			f->run = run;
			f->in = &run->p->v[s].inputs[k];
			f->n = (unsigned)run->p->v[s].nodes;
			atomic_init(&f->open, f->n);
			atomic_init(&f->stop, false);
			atomic_init(&f->bytes, 0);
			pthread_mutex_init(&f->mu, NULL);
			for (unsigned i = 0; i < SCH_PLAN_MAX_NODES; i++) {
				f->fds[i] = -1;
				pthread_mutex_init(&f->node_mu[i], NULL);
			}
			f->err = (struct cmn_err)CMN_ERR_INIT;
		}
	return 0;
}

/* ---- watching --------------------------------------------------------- */

static void fail(struct run *run, int rank, int code, const char *msg)
{
	if (run->failed && rank <= run->fail_rank)
		return;
	run->failed = true;
	run->fail_rank = rank;
	cmn_err_set(&run->fail, code, 0, "%s", msg);
}

static void kill_all(struct run *run)
{
	for (size_t i = 0; i < run->nnodes; i++)
		if (run->nodes[i].child && !run->nodes[i].ended)
			(void)sbx_kill(run->nodes[i].child, NULL);
}

static const char *stage_name(const struct sch_plan_stage *st)
{
	return st->kind == SCH_STAGE_MAP      ? "MAP"
	       : st->kind == SCH_STAGE_REDUCE ? "REDUCE"
					      : "FINAL";
}

/* The last line of the node's log that starts with prefix, or NULL. */
static const char *log_line(struct node *nd, const char *prefix, char *out, size_t len)
{
	const char *found = NULL, *p;
	size_t plen = strlen(prefix);
	if (cmn_buf_append(&nd->log, "", 1, NULL) < 0)
		return NULL;
	nd->log.len--;
	for (p = nd->log.data; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, prefix, plen) == 0)
			found = p;
	if (!found)
		return NULL;
	snprintf(out, len, "%.*s", (int)strcspn(found, "\n"), found);
	return out;
}

/* Ranks a failure by how well it explains the job's: what the container
 * saw (seccomp, limits) first, then the node's own message, then failures
 * that are echoes of another node's death (a broken stream), then kills. */
static void node_failure(struct run *run, struct node *nd)
{
	const struct sch_plan_stage *st = &run->p->v[nd->stage];
	char line[CMN_ERR_MSG_MAX], why[256], msg[CMN_ERR_MSG_MAX];
	int code = CMN_EINVAL;
	int rank = 2;

	/* a node killed because another failed may have failed first itself:
	 * its own last words count (it wrote them before we killed it) */
	bool said = log_line(nd, "cordon-node: ", line, sizeof(line)) ||
		    log_line(nd, "cordon: ", line, sizeof(line));

	if (nd->res.end == SBX_END_EXIT || (nd->res.end == SBX_END_KILLED && said)) {
		if (said)
			snprintf(why, sizeof(why), "%s", strchr(line, ' ') + 1);
		else
			snprintf(why, sizeof(why), "exited with status %d", nd->res.exit_code);
		if (nd->res.exit_code == 3 || strstr(why, "limit exceeded")) {
			code = CMN_ELIMIT; /* the cause, whatever the message mentions */
			rank = 3;
		} else if (strstr(why, "stream") || strstr(why, "connection") ||
			   strstr(why, "peer") || strstr(why, "end frame") ||
			   strstr(why, "Broken pipe")) {
			/* echoes: its reader went away because the job failed (with
			 * the FINAL elided, cordond closes every node's sink) */
			rank = 1;
		}
	} else if (nd->res.end == SBX_END_KILLED) {
		snprintf(why, sizeof(why), "killed");
		rank = 0;
	} else {
		char d[200];
		sbx_describe_end(&nd->res, &nd->limits, d, sizeof(d));
		snprintf(why, sizeof(why), "ended by the container: %s", d[0] ? d : "?");
		code = nd->res.end == SBX_END_SECCOMP ? CMN_EDENIED
		       : nd->res.end == SBX_END_WALL  ? CMN_ETIMEOUT
						      : CMN_ELIMIT;
		rank = nd->res.end == SBX_END_SIGNAL ? 2 : 3;
		if (nd->res.end != SBX_END_SIGNAL) {
			struct sch_audit_record rec = {
				.event_name = "NodeViolation",
				.request_id = run->job->request_id,
				.source_ip = run->job->source_ip,
				.principal = run->job->who.name,
				.project = run->job->project,
				.resource = "acs:odps:*:instances",
				.decision = "deny",
				.reason = why,
				.error_code = sbx_end_name(nd->res.end),
			};
			if (sch_audit_default())
				(void)sch_audit_write(sch_audit_default(), &rec, NULL);
		}
	}
	snprintf(msg, sizeof(msg), "stage %zu (%s) node %d: %s", nd->stage, stage_name(st),
		 nd->index, why);
	fail(run, rank, code, msg);
}

static void node_summary(struct run *run, struct node *nd)
{
	struct job_stage_stat *ss = &run->job->stages[nd->stage];
	char line[CMN_ERR_MSG_MAX];
	json_t *j = log_line(nd, "{", line, sizeof(line)) ? json_loads(line, 0, NULL) : NULL;

	pthread_mutex_lock(&run->job->jobs->mu);
	ss->done++;
	ss->cpu_ns += nd->res.cpu_ns;
	if (nd->res.peak_memory_bytes > ss->peak_memory)
		ss->peak_memory = nd->res.peak_memory_bytes;
	if (nd->res.wall_ns > ss->wall_ns)
		ss->wall_ns = nd->res.wall_ns;
	if (j) {
		ss->rows_in += (uint64_t)json_integer_value(json_object_get(j, "rows_in"));
		ss->rows_out += (uint64_t)json_integer_value(json_object_get(j, "rows_out"));
		ss->bytes_out += (uint64_t)json_integer_value(json_object_get(j, "bytes_out"));
		ss->udf_calls += (uint64_t)json_integer_value(json_object_get(j, "udf_calls"));
	}
	pthread_mutex_unlock(&run->job->jobs->mu);
	json_decref(j);
}

static void node_ended(struct run *run, struct node *nd)
{
	struct cmn_err err = CMN_ERR_INIT;

	close(nd->log_fd);
	nd->log_fd = -1;
	run->live--;
	nd->ended = true;
	if (sbx_wait(nd->child, &nd->res, &err) < 0) {
		nd->child = NULL;
		fail(run, 2, CMN_EINTERNAL, err.msg);
		kill_all(run);
		return;
	}
	nd->child = NULL;
	if (nd->res.end == SBX_END_EXIT && nd->res.exit_code == 0) {
		node_summary(run, nd);
		return;
	}
	node_failure(run, nd);
	kill_all(run);
}

static void read_log(struct run *run, struct node *nd)
{
	char buf[4096];
	for (;;) {
		ssize_t n = read(nd->log_fd, buf, sizeof(buf));
		if (n > 0) {
			if (nd->log.len + (size_t)n <= LOG_MAX)
				(void)cmn_buf_append(&nd->log, buf, (size_t)n, NULL);
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		node_ended(run, nd);
		return;
	}
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A result batch has the plan's columns and types: with the FINAL elided
 * the rows come straight from nodes that ran UDFs, and a node is not
 * trusted to send what it was told to. (A column the plan types NULL may
 * come as any type.) */
static int check_result_schema(const struct sch_plan_cols *out,
			       const struct cmn_rowbatch_reader *rd, struct cmn_err *err)
{
	if (rd->ncols != out->n)
		return cmn_err_set(err, CMN_EPROTO, 0, "result batch of %zu columns, not %zu",
				   rd->ncols, out->n);
	for (size_t i = 0; i < out->n; i++)
		if (out->v[i].type != SCH_QT_NULL && (int)rd->cols[i].type != (int)out->v[i].type)
			return cmn_err_set(
			    err, CMN_EPROTO, 0, "result batch column %zu is %s, not %s", i + 1,
			    cmn_col_type_name(rd->cols[i].type), sch_q_type_name(out->v[i].type));
	return 0;
}

/* Takes whole frames out of a sink's buffer into the job's result. */
static int take_frames(struct run *run, struct sink *sk, struct cmn_err *err)
{
	struct sch_job *job = run->job;
	uint64_t max = job->jobs->cfg.max_result_bytes;

	while (sk->buf.len >= 4) {
		const uint8_t *d = (const uint8_t *)sk->buf.data;
		uint32_t len = le32(d);
		struct cmn_rowbatch_reader rd;

		if (len == 0) {
			if (sk->buf.len != 4)
				return cmn_err_set(err, CMN_EPROTO, 0,
						   "a result stream has bytes after its end frame");
			sk->done = true;
			cmn_buf_consume(&sk->buf, 4);
			return 0;
		}
		if (len > FRAME_MAX)
			return cmn_err_set(err, CMN_EPROTO, 0, "result frame of %u bytes", len);
		if (sk->buf.len < 4 + (size_t)len)
			return 0;
		if (job->result_bytes + len > max)
			return cmn_err_set(err, CMN_ELIMIT, 0,
					   "the result is larger than %llu bytes; write it to a "
					   "table with INSERT instead",
					   (unsigned long long)max);
		if (cmn_rowbatch_open(&rd, d + 4, len, err) < 0)
			return cmn_err_wrap(err, "result batch");
		if (check_result_schema(&job->c.plan.v[job->c.plan.n - 1].out, &rd, err) < 0)
			return -1;
		if (job_result_add(&job->result, d + 4, len, rd.nrows, err) < 0)
			return -1;
		job->result_rows += rd.nrows;
		job->result_bytes += len;
		cmn_buf_consume(&sk->buf, 4 + (size_t)len);
	}
	return 0;
}

static void close_sink(struct sink *sk)
{
	if (sk->fd >= 0)
		close(sk->fd);
	sk->fd = -1;
}

static void read_sink(struct run *run, struct sink *sk)
{
	struct cmn_err err = CMN_ERR_INIT;
	char buf[65536];

	for (;;) {
		ssize_t n = read(sk->fd, buf, sizeof(buf));
		if (n > 0) {
			if (cmn_buf_append(&sk->buf, buf, (size_t)n, &err) < 0 ||
			    take_frames(run, sk, &err) < 0) {
				fail(run, 2, err.code, err.msg);
				kill_all(run);
				close_sink(sk);
				return;
			}
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		close_sink(sk);
		if (!sk->done) /* an echo: the writing node's own end says why */
			fail(run, 0, CMN_EPROTO, "a result stream closed without its end frame");
		return;
	}
}

static bool sinks_open(const struct run *run)
{
	for (unsigned i = 0; i < run->nsinks; i++)
		if (run->sinks[i].fd >= 0)
			return true;
	return false;
}

static bool sinks_done(const struct run *run)
{
	for (unsigned i = 0; i < run->nsinks; i++)
		if (!run->sinks[i].done)
			return false;
	return run->nsinks > 0;
}

static int watch(struct run *run, struct cmn_err *err)
{
	size_t max = run->nnodes + run->nsinks + 1;
	struct pollfd *pfd = calloc(max, sizeof(*pfd));
	struct node **who = calloc(max, sizeof(*who));
	struct sink **sk = calloc(max, sizeof(*sk));
	int rc = 0;

	if (!pfd || !who || !sk) {
		free(pfd);
		free(who);
		free(sk);
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	}
	while (run->live > 0 || sinks_open(run)) {
		nfds_t n = 0;
		pfd[n++] = (struct pollfd){ run->job->cancel_fd, POLLIN, 0 };
		for (unsigned i = 0; i < run->nsinks; i++)
			if (run->sinks[i].fd >= 0) {
				sk[n] = &run->sinks[i];
				pfd[n++] = (struct pollfd){ run->sinks[i].fd, POLLIN, 0 };
			}
		for (size_t i = 0; i < run->nnodes; i++)
			if (!run->nodes[i].ended && run->nodes[i].log_fd >= 0) {
				who[n] = &run->nodes[i];
				pfd[n++] = (struct pollfd){ run->nodes[i].log_fd, POLLIN, 0 };
			}
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			rc = cmn_err_sys(err, "poll");
			break;
		}
		if (pfd[0].revents) {
			fail(run, 4, CMN_ECONFLICT, "cancelled");
			kill_all(run);
			uint64_t v;
			if (read(run->job->cancel_fd, &v, sizeof(v)) < 0)
				v = 0;
		}
		for (nfds_t k = 1; k < n; k++) {
			if (!pfd[k].revents)
				continue;
			if (sk[k])
				read_sink(run, sk[k]);
			else if (who[k])
				read_log(run, who[k]);
		}
		for (nfds_t k = 0; k < n; k++) {
			who[k] = NULL;
			sk[k] = NULL;
		}
		if (run->failed)
			for (unsigned i = 0; i < run->nsinks; i++)
				close_sink(&run->sinks[i]);
	}
	free(pfd);
	free(who);
	free(sk);
	return rc;
}

/* ---- the whole run ---------------------------------------------------- */

static void teardown(struct run *run)
{
	kill_all(run);
	for (size_t i = 0; i < run->nnodes; i++) {
		struct node *nd = &run->nodes[i];
		if (nd->child) {
			struct sbx_result r;
			(void)sbx_wait(nd->child, &r, NULL);
			nd->child = NULL;
		}
		if (nd->log_fd >= 0)
			close(nd->log_fd);
		cmn_buf_free(&nd->log);
	}
	for (size_t f = 0; f < run->nfeeders; f++) {
		struct feeder *fe = &run->feeders[f];
		for (unsigned k = 0; k < fe->nworkers; k++)
			if (fe->w[k].started)
				pthread_join(fe->w[k].thread, NULL);
		if (fe->nworkers > 0) {
			run->job->bytes_read += atomic_load(&fe->bytes);
			/* a feeder's failure (a chunk lost on every replica, say)
			 * explains the job better than the nodes' echoes of it
			 * (rank 1: "input ended without its end frame"), but not
			 * better than a node's own failure: a dead node's input
			 * is closed, which no feeder takes for a failure */
			if (fe->rc < 0)
				fail(run, 2, fe->err.code, fe->err.msg);
		} else {
			for (unsigned i = 0; i < fe->n; i++)
				if (fe->fds[i] >= 0)
					close(fe->fds[i]);
		}
		pthread_mutex_destroy(&fe->mu);
		for (unsigned i = 0; i < SCH_PLAN_MAX_NODES; i++)
			pthread_mutex_destroy(&fe->node_mu[i]);
	}
	pthread_mutex_lock(&run->mu);
	run->ending = true;
	pthread_cond_broadcast(&run->cv);
	pthread_mutex_unlock(&run->mu);
	for (unsigned i = 0; i < run->nspawners; i++)
		pthread_join(run->spawners[i], NULL);
	for (size_t i = 0; i < CMN_ARRAY_SIZE(run->sinks); i++) {
		close_sink(&run->sinks[i]);
		cmn_buf_free(&run->sinks[i].buf);
	}
	free(run->nodes);
	free(run->feeders);
	if (run->ov)
		ovl_destroy(run->ov);
}

static int make_overlay(struct run *run, struct cmn_err *err)
{
	struct sch_jobs *jobs = run->job->jobs;
	struct ovl_options o;
	const char *link = run->job->c.settings.networklink;
	bool linked = link && link[0];
	cleanup_close int gw = -1;
	int rc;

	ovl_options_init(&o);
	o.job = run->job->id;
	o.node_count = (unsigned)run->nnodes;
	o.run_dir = jobs->cfg.overlay_run_dir;
	if (linked && !jobs->cfg.netlink_gateway)
		return cmn_err_set(err, CMN_EUNAVAIL, 0,
				   "network links are not configured on this server");
	/* the job's /24 must not collide with the gateway's routes either */
	if (linked && (gw = open(jobs->cfg.netlink_gateway, O_RDONLY | O_CLOEXEC)) >= 0)
		o.route_netns_fd = gw;
	if (ovl_create(&o, &run->ov, err) < 0)
		return cmn_err_wrap(err, "overlay");
	if (!linked)
		return 0;
	/* as the catalog holds it now: a project disallowed or a link dropped
	 * since the job was authorized (it may have waited in the queue) fails
	 * it; the grant is exactly the link's destinations */
	pthread_mutex_lock(jobs->cfg.api_lock);
	rc = sch_netlink_check_allowed(jobs->cfg.cat, link, run->job->project, err);
	if (rc == 0)
		rc = sch_netlinks_apply(run->ov, jobs->cfg.cat, link, jobs->cfg.netlink_gateway,
					err);
	pthread_mutex_unlock(jobs->cfg.api_lock);
	return rc;
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *spawner_main(void *arg)
{
	struct run *run = arg;
	struct cmn_err err = CMN_ERR_INIT;

	pthread_mutex_lock(&run->mu);
	while (!run->spawn_failed && run->next_node < run->nnodes &&
	       !atomic_load(&run->job->cancel)) {
		struct node *nd = &run->nodes[run->next_node++];
		pthread_mutex_unlock(&run->mu);
		if (start_node(run, nd, &err) < 0) {
			pthread_mutex_lock(&run->mu);
			if (!run->spawn_failed)
				run->spawn_err = err;
			run->spawn_failed = true;
			continue;
		}
		pthread_mutex_lock(&run->mu);
	}
	run->spawning--;
	pthread_cond_broadcast(&run->cv);
	while (!run->ending) /* the containers this thread spawned live until then */
		pthread_cond_wait(&run->cv, &run->mu);
	pthread_mutex_unlock(&run->mu);
	return NULL;
}

/* Starts every node from SPAWNERS threads and waits until all are started
 * (or one failed). */
static int start_nodes(struct run *run, struct cmn_err *err)
{
	unsigned want = run->nnodes < SPAWNERS ? (unsigned)run->nnodes : SPAWNERS;

	pthread_mutex_lock(&run->mu);
	for (unsigned i = 0; i < want; i++) {
		if (pthread_create(&run->spawners[i], NULL, spawner_main, run) != 0)
			break;
		run->nspawners++;
		run->spawning++;
	}
	while (run->spawning > 0)
		pthread_cond_wait(&run->cv, &run->mu);
	pthread_mutex_unlock(&run->mu);
	if (run->nspawners == 0)
		return cmn_err_set(err, CMN_EINTERNAL, 0, "pthread_create spawner");
	if (run->spawn_failed) {
		*err = run->spawn_err;
		return -1;
	}
	if (atomic_load(&run->job->cancel) || run->next_node < run->nnodes)
		return cmn_err_set(err, CMN_ECONFLICT, 0, "cancelled");
	return 0;
}

static int quoted(struct cmn_buf *b, const char *name, struct cmn_err *err)
{
	if (cmn_buf_append(b, "\"", 1, err) < 0)
		return -1;
	for (const char *c = name; *c; c++)
		if ((*c == '"' && cmn_buf_append(b, "\"", 1, err) < 0) ||
		    cmn_buf_append(b, c, 1, err) < 0)
			return -1;
	return cmn_buf_append(b, "\"", 1, err);
}

/* A FINAL that only renames the columns of its one input — the planner
 * writes exactly SELECT "c0" AS "x", ... FROM "f0" when the query has no
 * ORDER BY, LIMIT, DISTINCT or aggregate left for it — is not worth a node
 * and a hop: the stage before it writes the result to cordond directly,
 * each node its own stream. Results only: an INSERT's batches must carry
 * the table's column names, which that FINAL gives them. */
static bool final_elided(const struct sch_job *job)
{
	const struct sch_plan *p = &job->c.plan;
	const struct sch_plan_stage *f = p->n >= 2 ? &p->v[p->n - 1] : NULL;
	const struct sch_plan_cols *in;
	struct cmn_buf want;
	bool same = true;

	if (!f || f->kind != SCH_STAGE_FINAL || !job->c.stmt || job->c.stmt->kind != SCH_Q_SELECT ||
	    f->ninputs != 1 || f->argc || f->inputs[0].upstream != (int)p->n - 2 ||
	    p->v[p->n - 2].to_stage != (int)p->n - 1 || f->inputs[0].cols.n != f->out.n ||
	    f->out.n == 0)
		return false;
	in = &f->inputs[0].cols;
	cmn_buf_init(&want, 0);
	same = cmn_buf_append_str(&want, "SELECT ", NULL) == 0;
	for (size_t i = 0; same && i < f->out.n; i++)
		same = in->v[i].type == f->out.v[i].type &&
		       (!i || cmn_buf_append_str(&want, ", ", NULL) == 0) &&
		       quoted(&want, in->v[i].name, NULL) == 0 &&
		       cmn_buf_append_str(&want, " AS ", NULL) == 0 &&
		       quoted(&want, f->out.v[i].name, NULL) == 0;
	same = same && cmn_buf_append_str(&want, " FROM ", NULL) == 0 &&
	       quoted(&want, f->inputs[0].table, NULL) == 0 && strcmp(want.data, f->sql) == 0;
	cmn_buf_free(&want);
	return same;
}

static int launch(struct run *run, struct cmn_err *err)
{
	int64_t t0, t1;
	size_t g = 0;

	run->elided = final_elided(run->job);
	run->nstages = run->p->n - (run->elided ? 1 : 0);
	run->nsinks = (unsigned)run->p->v[run->elided ? run->p->n - 2 : run->p->n - 1].nodes;
	if (run->elided) {
		pthread_mutex_lock(&run->job->jobs->mu);
		run->job->stages[run->p->n - 1].nodes = 0; /* cordond is the FINAL */
		pthread_mutex_unlock(&run->job->jobs->mu);
	}
	for (size_t s = 0; s < run->nstages; s++) {
		run->first[s] = g;
		g += (size_t)run->p->v[s].nodes;
	}
	run->nnodes = g;
	run->nodes = calloc(g, sizeof(*run->nodes));
	if (!run->nodes)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	for (size_t s = 0, k = 0; s < run->nstages; s++)
		for (int i = 0; i < run->p->v[s].nodes; i++, k++) {
			run->nodes[k].stage = s;
			run->nodes[k].index = i;
			run->nodes[k].log_fd = -1;
			cmn_buf_init(&run->nodes[k].log, 0);
		}
	t0 = mono_ms();
	if (check_resource_names(run, err) < 0 || setup_feeders(run, err) < 0 ||
	    make_overlay(run, err) < 0)
		return -1;
	t1 = mono_ms();
	if (start_nodes(run, err) < 0)
		return -1;
	for (size_t f = 0; f < run->nfeeders; f++) {
		if (feed_start(&run->feeders[f], err) < 0)
			return -1;
	}
	pthread_mutex_lock(&run->job->jobs->mu);
	run->job->overlay_ms = t1 - t0;
	run->job->start_ms = mono_ms() - t1;
	pthread_mutex_unlock(&run->job->jobs->mu);
	return 0;
}

int sch_job_execute(struct sch_job *job, struct cmn_err *err)
{
	struct run run = { .job = job, .p = &job->c.plan, .fail = CMN_ERR_INIT };
	int64_t t;
	int rc;

	if (!job->c.has_plan)
		return 0;
	if (job->c.plan.n > CMN_ARRAY_SIZE(run.first))
		return cmn_err_set(err, CMN_ELIMIT, 0, "%zu stages (at most %zu)", job->c.plan.n,
				   CMN_ARRAY_SIZE(run.first));
	for (size_t s = 0; s < job->c.plan.n; s++)
		if (job->c.plan.v[s].ninputs > STAGE_MAX_INPUTS)
			return cmn_err_set(err, CMN_ELIMIT, 0,
					   "stage %zu has %zu inputs (at most %d): split the "
					   "UNION ALL into several jobs",
					   s, job->c.plan.v[s].ninputs, STAGE_MAX_INPUTS);
	for (size_t i = 0; i < CMN_ARRAY_SIZE(run.sinks); i++) {
		run.sinks[i].fd = -1;
		cmn_buf_init(&run.sinks[i].buf, 0);
	}
	pthread_mutex_init(&run.mu, NULL);
	pthread_cond_init(&run.cv, NULL);
	rc = launch(&run, err);
	if (rc < 0)
		kill_all(&run);
	t = mono_ms();
	if (watch(&run, rc < 0 ? &(struct cmn_err)CMN_ERR_INIT : err) < 0 && rc == 0)
		rc = -1;
	pthread_mutex_lock(&job->jobs->mu);
	job->run_ms = mono_ms() - t;
	pthread_mutex_unlock(&job->jobs->mu);
	teardown(&run);
	pthread_cond_destroy(&run.cv);
	pthread_mutex_destroy(&run.mu);
	if (rc < 0)
		return -1;
	if (run.failed) {
		*err = run.fail;
		return -1;
	}
	if (!sinks_done(&run))
		return cmn_err_set(err, CMN_EPROTO, 0, "the job ended without a result stream");
	if (run.elided) { /* what the FINAL node would have counted */
		struct job_stage_stat *f = &job->stages[job->nstages - 1];
		pthread_mutex_lock(&job->jobs->mu);
		f->rows_in = f->rows_out = job->result_rows;
		f->bytes_out = job->result_bytes;
		pthread_mutex_unlock(&job->jobs->mu);
	}
	return 0;
}
