/* scheduler/functions_stmt.c — CREATE FUNCTION and DROP FUNCTION; see
 * functions.h.
 *
 * Why a container and not a static parse: the kind and the signature of a
 * UDF are whatever the script's top level returns (a function, or a table
 * with new_buffer/iterate/... or process, and an optional signature field
 * that may be computed), so only running the script can tell, and the
 * runtime offers no static parse. cordond never runs tenant Lua in its own
 * address space (DESIGN.md): it starts `cordon-node udf --describe` the way
 * a job node is started — sbx_spawn, profile udf, an empty network
 * namespace, the script and data resources as fds (memfds) — and reads one
 * JSON line back. The node applies the Lua sandbox and its limits; the
 * container's own limits stand behind them.
 *
 * The describe runs with the API's request lock released
 * (sch_functions_set_api_lock), so a slow script holds only its own request.
 */
#define _GNU_SOURCE
#include "scheduler/functions.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "sandbox/sandbox.h"
#include "scheduler/authz.h"
#include "scheduler/plan.h"
#include "scheduler/resources.h"
#include "scheduler/tables.h"

#define MAX_USING 32           /* resources a node takes (cordon-node udf) */
#define FIRST_RES_FD 5         /* script 3, then data resources */
#define DESCRIBE_OUT_MAX 65536 /* stdout and stderr of the describe */
#define DEFAULT_UDF_MEMORY (64ull << 20)
#define RT_MAX_COLS_CATALOG 64 /* columns a node's table function can declare */

static pthread_mutex_t *api_lock;

void sch_functions_set_api_lock(pthread_mutex_t *lock)
{
	api_lock = lock;
}

/* ---- describing a script in the container ---------------------------------- */

static int node_path_default(char *out, size_t len, struct cmn_err *err)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n < 0)
		return cmn_err_sys(err, "readlink /proc/self/exe");
	self[n] = '\0';
	if ((size_t)snprintf(out, len, "%s/cordon-node", dirname(self)) >= len)
		return cmn_err_set(err, CMN_ELIMIT, 0, "path of cordon-node too long");
	if (access(out, X_OK) < 0)
		return cmn_err_sys(err, "access %s", out);
	return 0;
}

/* A memfd holding data at offset 0, sealed: the container reads it, and
 * nothing it does can change what another reader of the fd sees. */
static int memfd_of(const char *name, const void *data, size_t len, struct cmn_err *err)
{
	cleanup_close int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	size_t off = 0;

	if (fd < 0)
		return cmn_err_sys(err, "memfd_create %s", name);
	while (off < len) {
		ssize_t w = write(fd, (const char *)data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return cmn_err_sys(err, "write memfd %s", name);
		off += (size_t)w;
	}
	if (lseek(fd, 0, SEEK_SET) < 0)
		return cmn_err_sys(err, "lseek memfd %s", name);
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		return cmn_err_sys(err, "seal memfd %s", name);
	return steal_fd(&fd);
}

/* Reads both pipes to EOF (bounded) while the container runs. */
static int drain(int out_fd, int err_fd, struct cmn_buf *out, struct cmn_buf *errb,
		 struct cmn_err *err)
{
	struct pollfd p[2] = { { out_fd, POLLIN, 0 }, { err_fd, POLLIN, 0 } };
	struct cmn_buf *dst[2] = { out, errb };
	int open_fds = 2;

	while (open_fds > 0) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return cmn_err_sys(err, "poll describe pipes");
		}
		for (int i = 0; i < 2; i++) {
			char chunk[4096];
			ssize_t n;
			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(p[i].fd, chunk, sizeof(chunk));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				p[i].fd = -1;
				open_fds--;
				continue;
			}
			/* past the cap the rest is dropped, never buffered */
			if (dst[i]->len < DESCRIBE_OUT_MAX)
				cmn_buf_append(dst[i], chunk,
					       (size_t)n < DESCRIBE_OUT_MAX - dst[i]->len
						   ? (size_t)n
						   : DESCRIBE_OUT_MAX - dst[i]->len,
					       NULL);
		}
	}
	return 0;
}

struct describe_run {
	const char *argv[16 + MAX_USING];
	char res_args[MAX_USING][SCH_RESOURCE_NAME_MAX + 32];
	char mem_arg[64];
	struct sbx_fd fds[3 + MAX_USING];
	size_t nfd;
	int owned[1 + MAX_USING]; /* memfds to close */
	size_t nowned;
};

static int prepare(struct describe_run *d, const char *node, const char *script_name,
		   const void *src, size_t len, const char *entry,
		   const struct sch_fn_resource *res, size_t nres, uint64_t mem,
		   struct cmn_err *err)
{
	size_t a = 0;
	int fd;

	if (nres > MAX_USING)
		return cmn_err_set(err, CMN_ELIMIT, 0, "at most %d resources", MAX_USING);
	d->argv[a++] = node;
	d->argv[a++] = "udf";
	d->argv[a++] = "--script-fd=3";
	d->argv[a++] = "--script-name";
	d->argv[a++] = script_name;
	d->argv[a++] = "--function";
	d->argv[a++] = entry;
	d->argv[a++] = "--describe";
	snprintf(d->mem_arg, sizeof(d->mem_arg), "--memory=%llu", (unsigned long long)mem);
	d->argv[a++] = d->mem_arg;
	if ((fd = memfd_of(script_name, src, len, err)) < 0)
		return -1;
	d->owned[d->nowned++] = fd;
	d->fds[d->nfd++] = (struct sbx_fd){ fd, 3 };
	for (size_t i = 0; i < nres; i++) {
		if ((fd = memfd_of(res[i].name, res[i].data, res[i].len, err)) < 0)
			return -1;
		d->owned[d->nowned++] = fd;
		d->fds[d->nfd++] = (struct sbx_fd){ fd, FIRST_RES_FD + (int)i };
		snprintf(d->res_args[i], sizeof(d->res_args[i]), "--resource=%s=%d", res[i].name,
			 FIRST_RES_FD + (int)i);
		d->argv[a++] = d->res_args[i];
	}
	d->argv[a] = NULL;
	return 0;
}

/* The node's verdict: 0 and out filled, or CMN_EINVAL naming why. */
static int verdict(const struct sbx_result *res, const struct sbx_limits *lim, struct cmn_buf *out,
		   struct cmn_buf *errb, struct sch_fn_description *desc, struct cmn_err *err)
{
	char why[256];
	json_t *j, *rets;
	const char *kind, *sig;

	while (errb->len &&
	       (errb->data[errb->len - 1] == '\n' || errb->data[errb->len - 1] == '\r'))
		errb->data[--errb->len] = '\0';
	if (res->end != SBX_END_EXIT) {
		sbx_describe_end(res, lim, why, sizeof(why));
		return cmn_err_set(err, CMN_EINVAL, 0, "the container ended the script: %s",
				   why[0] ? why : sbx_end_name(res->end));
	}
	if (res->exit_code != 0)
		return cmn_err_set(err, CMN_EINVAL, 0, "%.400s",
				   errb->len ? errb->data : "the script could not be loaded");
	j = json_loadb(out->data ? out->data : "", out->len, 0, NULL);
	kind = json_string_value(json_object_get(j, "kind"));
	sig = json_string_value(json_object_get(j, "signature"));
	rets = json_object_get(j, "returns");
	if (!kind || !json_is_array(rets) || strlen(kind) >= sizeof(desc->kind) ||
	    (sig && strlen(sig) >= sizeof(desc->signature))) {
		json_decref(j);
		return cmn_err_set(err, CMN_EINTERNAL, 0, "cordon-node --describe: bad answer");
	}
	snprintf(desc->kind, sizeof(desc->kind), "%s", kind);
	snprintf(desc->signature, sizeof(desc->signature), "%s", sig ? sig : "");
	desc->nreturns = json_array_size(rets);
	json_decref(j);
	return 0;
}

int sch_function_describe(const char *node_path, const char *script_name, const void *src,
			  size_t len, const char *entry, const struct sch_fn_resource *res,
			  size_t nres, uint64_t udf_memory, struct sch_fn_description *out,
			  struct cmn_err *err)
{
	struct describe_run *d = calloc(1, sizeof(*d));
	cleanup_buf struct cmn_buf so = { 0 }, se = { 0 };
	char node[PATH_MAX];
	cleanup_free char *node_dir = NULL;
	int po[2] = { -1, -1 }, pe[2] = { -1, -1 }, rc = -1;
	struct sbx_bind bind = { NULL, NULL, false };
	struct sbx_spec spec;
	struct sbx_child *child = NULL;
	struct sbx_result result;
	uint64_t mem = udf_memory ? udf_memory : DEFAULT_UDF_MEMORY;

	cmn_buf_init(&so, 0);
	cmn_buf_init(&se, 0);
	if (!d)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	if (node_path)
		snprintf(node, sizeof(node), "%s", node_path);
	else if (node_path_default(node, sizeof(node), err) < 0)
		goto out;
	node_dir = strdup(node);
	if (!node_dir) {
		cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		goto out;
	}
	if (prepare(d, node, script_name, src, len, entry, res, nres, mem, err) < 0)
		goto out;
	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
		cmn_err_sys(err, "pipe2");
		goto out;
	}
	d->fds[d->nfd++] = (struct sbx_fd){ po[1], 1 };
	d->fds[d->nfd++] = (struct sbx_fd){ pe[1], 2 };
	bind.src = dirname(node_dir); /* a build dir is not under /usr */
	sbx_spec_init(&spec);
	spec.argv = d->argv;
	spec.fds = d->fds;
	spec.fd_count = d->nfd;
	spec.binds = &bind;
	spec.bind_count = 1;
	spec.profile = SBX_PROFILE_UDF;
	spec.net = SBX_NET_NONE;
	/* as `cordon udf run`: the outer wall above the inner one, so the
	 * sandbox names the limit; loading a script is one call's worth */
	spec.limits.memory_bytes = 2 * mem + (256ull << 20);
	spec.limits.cpu_time_ns = 4000000000ull;
	spec.limits.wall_time_ns = 10000000000ull;
	spec.limits.pids = 8;
	spec.limits.nofile = 64;
	if (sbx_spawn(&spec, &child, err) < 0) {
		cmn_err_wrap(err, "describe %s", script_name);
		goto out;
	}
	cmn_closep(&po[1]);
	cmn_closep(&pe[1]);
	rc = drain(po[0], pe[0], &so, &se, err);
	if (sbx_wait(child, &result, rc < 0 ? NULL : err) < 0) {
		rc = -1;
		goto out;
	}
	if (rc == 0)
		rc = verdict(&result, &spec.limits, &so, &se, out, err);
out:
	for (size_t i = 0; i < d->nowned; i++)
		close(d->owned[i]);
	for (int i = 0; i < 2; i++) {
		cmn_closep(&po[i]);
		cmn_closep(&pe[i]);
	}
	free(d);
	return rc;
}

/* ---- CREATE FUNCTION ------------------------------------------------------- */

/* The USING resource that holds the script 'x' of 'x.entry': "x" or "x.lua". */
static const char *script_resource(const struct sch_q_stmt *s, const char *script)
{
	size_t n = strlen(script);
	for (size_t i = 0; i < s->resources.n; i++) {
		const char *r = s->resources.v[i];
		if (strcasecmp(r, script) == 0 ||
		    (strncasecmp(r, script, n) == 0 && strcasecmp(r + n, ".lua") == 0))
			return r;
	}
	return NULL;
}

struct loaded {
	struct cmn_buf bufs[MAX_USING];
	struct sch_fn_resource data[MAX_USING];
	size_t ndata;
	struct cmn_buf script;
};

static void loaded_free(struct loaded *l)
{
	for (size_t i = 0; i < MAX_USING; i++)
		cmn_buf_free(&l->bufs[i]);
	cmn_buf_free(&l->script);
	free(l);
}

/* The script and the other USING resources from the catalog. */
static int load_using(struct sch_catalog *cat, const char *project, const struct sch_q_stmt *s,
		      const char *script_res, struct loaded *l, struct cmn_err *err)
{
	if (s->resources.n > MAX_USING)
		return cmn_err_set(err, CMN_ELIMIT, 0, "%d:%d: at most %d USING resources", s->line,
				   s->col, MAX_USING);
	cmn_buf_init(&l->script, SCH_RESOURCE_MAX_BYTES);
	for (size_t i = 0; i < s->resources.n; i++) {
		const char *r = s->resources.v[i];
		struct cmn_buf *b = r == script_res ? &l->script : &l->bufs[l->ndata];
		if (r != script_res)
			cmn_buf_init(b, SCH_RESOURCE_MAX_BYTES);
		if (sch_resource_get(cat, project, r, b, err) < 0)
			return cmn_err_wrap(err, "%d:%d: USING", s->line, s->col);
		if (r != script_res)
			l->data[l->ndata++] = (struct sch_fn_resource){ r, b->data, b->len };
	}
	return 0;
}

/* The catalog form of a described signature. tables.h keeps one result
 * type (a table function's columns share it): a table function whose
 * columns differ is kept as STRING columns (values still leave the node
 * typed by the script; STRING is what every type converts to). "*->t"
 * (any arguments) is kept as no signature. */
static void catalog_signature(const struct sch_fn_description *d, char *out, size_t len)
{
	const char *arrow = strstr(d->signature, "->");
	const char *ret;
	char first[32];
	size_t n;
	bool same = true;

	out[0] = '\0';
	if (!arrow || d->signature[0] == '*')
		return;
	ret = arrow + 2;
	n = strcspn(ret, ",");
	snprintf(first, sizeof(first), "%.*s", (int)(n < 31 ? n : 31), ret);
	for (const char *p = ret + n; *p == ','; p += 1 + strcspn(p + 1, ","))
		if (strncmp(p + 1, first, strlen(first)) != 0 ||
		    (p[1 + strlen(first)] != ',' && p[1 + strlen(first)] != '\0'))
			same = false;
	snprintf(out, len, "%.*s->%s", (int)(arrow - d->signature), d->signature,
		 same ? first : "string");
}

static int fill_def(struct sch_funcdef *f, const struct sch_fn_description *d, char *sig,
		    size_t siglen, char (*colnames)[16], char **colv, struct cmn_err *err)
{
	size_t ncols = d->nreturns ? d->nreturns : 1;

	f->kind = !strcmp(d->kind, "aggregate") ? SCH_FN_AGGREGATE
		  : !strcmp(d->kind, "table")   ? SCH_FN_TABLE
						: SCH_FN_SCALAR;
	catalog_signature(d, sig, siglen);
	if (sig[0] && sch_signature_parse(sig, f, err) < 0)
		return cmn_err_wrap(err, "signature of %s.%s", f->script, f->entry);
	if (f->kind != SCH_FN_TABLE)
		return 0;
	if (ncols > RT_MAX_COLS_CATALOG)
		return cmn_err_set(err, CMN_ELIMIT, 0, "a table function of %zu columns", ncols);
	/* positional names: the query names the columns (AS (a, b) or LATERAL
	 * VIEW ... AS a, b); these are what the node's table calls them */
	for (size_t i = 0; i < ncols; i++) {
		snprintf(colnames[i], 16, "c%zu", i + 1);
		colv[i] = colnames[i];
	}
	f->columns.v = colv;
	f->columns.n = ncols;
	return 0;
}

/* The describe runs without the API's lock: it reads nothing of the
 * catalog (the resources are loaded), and the decisions were made before.
 * A concurrent CREATE of the same name makes the registration a 409. */
static int describe_unlocked(const char *script_res, const struct loaded *l, const char *entry,
			     uint64_t memory, struct sch_fn_description *d, struct cmn_err *err)
{
	int rc;

	if (api_lock)
		pthread_mutex_unlock(api_lock);
	rc = sch_function_describe(NULL, script_res, l->script.data ? l->script.data : "",
				   l->script.len, entry, l->data, l->ndata, memory, d, err);
	if (api_lock)
		pthread_mutex_lock(api_lock);
	return rc;
}

static json_t *created_result(const struct sch_funcdef *f, const char *kind, const char *sig)
{
	json_t *cols = json_array();
	for (size_t i = 0; cols && i < f->columns.n; i++)
		json_array_append_new(cols, json_string(f->columns.v[i]));
	return json_pack("{s:[s,s,s,s,s], s:[[s,s,s,s?,o]]}", "columns", "name", "kind", "script",
			 "signature", "columns", "rows", f->name, kind, f->script,
			 sig[0] ? sig : NULL, cols ? cols : json_array());
}

static void audit_change(struct sch_stmt_ctx *ctx, const char *event, const char *project,
			 const char *name)
{
	char res[SCH_AUTHZ_RESOURCE_MAX];
	struct sch_authz_resource r = { project, SCH_OBJ_FUNCTION, name, NULL };
	struct sch_audit_event ev = { .event_name = event, .resource = res };

	if (!ctx->audit)
		return;
	sch_authz_resource_name(&r, res, sizeof(res));
	ctx->audit(ctx->audit_arg, &ev);
}

/* Registers f in job_functions and the authorization registry at once. */
static int register_function(struct sch_stmt_ctx *ctx, const struct sch_funcdef *f, const char *sig,
			     struct cmn_err *err)
{
	bool outer;
	int rc;

	if (sch_resource_txn_begin(ctx->cat, "function_create", &outer, err) < 0)
		return -1;
	rc = sch_functions_put(ctx->cat, f, sig[0] ? sig : NULL, ctx->principal->name, err);
	if (rc == 0)
		rc = sch_authz_object_create(ctx->cat, f->project, SCH_OBJ_FUNCTION, f->name,
					     ctx->principal->name, false, NULL, 0, err);
	if (sch_resource_txn_end(ctx->cat, "function_create", outer, rc == 0,
				 rc == 0 ? err : NULL) < 0)
		rc = -1;
	return rc;
}

static int create_function(struct sch_stmt_ctx *ctx, const struct sch_job_compiled *c,
			   json_t **result, struct cmn_err *err)
{
	const struct sch_q_stmt *s = c->stmt;
	const char *project = s->name.project ? s->name.project : ctx->project;
	const char *dot = strrchr(s->class_name, '.'), *script_res;
	cleanup_free char *script = strndup(s->class_name, (size_t)(dot - s->class_name));
	struct loaded *l = calloc(1, sizeof(*l));
	struct sch_fn_description d;
	struct sch_funcdef f = { 0 };
	char sig[512], colnames[RT_MAX_COLS_CATALOG][16], *colv[RT_MAX_COLS_CATALOG];
	int rc = -1;

	if (!script || !l) {
		free(l);
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	}
	script_res = script_resource(s, script);
	if (!script_res) {
		cmn_err_set(err, CMN_EINVAL, 0,
			    "%d:%d: the script '%s' of '%s' is not among the USING resources"
			    " (name it '%s.lua' or '%s' there)",
			    s->line, s->col, script, s->class_name, script, script);
		goto out;
	}
	if (load_using(ctx->cat, project, s, script_res, l, err) < 0)
		goto out;
	if (sch_resource_check(script_res, l->script.data, l->script.len, err) < 0 ||
	    describe_unlocked(script_res, l, dot + 1, (uint64_t)c->settings.udf_memory, &d, err) <
		0) {
		cmn_err_wrap(err, "%d:%d: CREATE FUNCTION %s: %s.%s", s->line, s->col, s->name.name,
			     script_res, dot + 1);
		goto out;
	}
	f.project = (char *)(uintptr_t)project;
	f.name = s->name.name;
	f.script = (char *)(uintptr_t)script_res;
	f.entry = (char *)(uintptr_t)(dot + 1);
	f.resources = s->resources;
	f.ret = SCH_QT_STRING;
	if (fill_def(&f, &d, sig, sizeof(sig), colnames, colv, err) < 0 ||
	    register_function(ctx, &f, sig, err) < 0)
		goto out;
	*result = created_result(&f, d.kind, sig);
	rc = *result ? 0 : cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
out:
	free(f.args);
	loaded_free(l);
	return rc;
}

static int drop_function(struct sch_stmt_ctx *ctx, const struct sch_job_compiled *c,
			 struct cmn_err *err)
{
	const struct sch_q_stmt *s = c->stmt;
	const char *project = s->name.project ? s->name.project : ctx->project;
	struct sch_funcdef *f = NULL;
	bool outer;
	int rc;

	if (sch_functions_get(ctx->cat, project, s->name.name, &f, err) < 0)
		return -1;
	if (!f)
		return 0; /* IF EXISTS: the resolver refused the rest */
	if (sch_resource_txn_begin(ctx->cat, "function_drop", &outer, err) < 0) {
		sch_funcdef_free(f);
		return -1;
	}
	rc = sch_functions_drop(ctx->cat, f->project, f->name, err);
	/* the registry entry takes the function's ACLs with it */
	if (rc == 0 &&
	    sch_authz_object_drop(ctx->cat, f->project, SCH_OBJ_FUNCTION, f->name, err) < 0)
		rc = err->code == CMN_ENOTFOUND ? 0 : -1;
	if (sch_resource_txn_end(ctx->cat, "function_drop", outer, rc == 0, rc == 0 ? err : NULL) <
	    0)
		rc = -1;
	sch_funcdef_free(f);
	return rc;
}

int sch_functions_stmt_handler(struct sch_stmt_ctx *ctx, const char *sql, size_t len,
			       json_t **result, struct cmn_err *err)
{
	struct sch_job_request req = sch_job_request_of(ctx, 1);
	struct sch_job_compiled c;
	enum sch_q_kind kind;
	const char *project;
	int rc;

	/* another grammar (security statements), or a job: someone else's */
	kind = sch_q_text_kind(sql, len);
	if (kind != SCH_Q_CREATE_FUNCTION && kind != SCH_Q_DROP_FUNCTION)
		return 0;
	if (sch_job_compile(&req, sql, len, &c, err) < 0)
		return -1;
	project = c.stmt->name.project ? c.stmt->name.project : ctx->project;
	*result = NULL;
	if (kind == SCH_Q_CREATE_FUNCTION) {
		rc = create_function(ctx, &c, result, err);
	} else {
		rc = drop_function(ctx, &c, err);
		*result = rc == 0 ? json_pack("{s:[s], s:[[s]]}", "columns", "result", "rows", "OK")
				  : NULL;
		if (rc == 0 && !*result)
			rc = cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	}
	if (rc == 0)
		audit_change(ctx, kind == SCH_Q_CREATE_FUNCTION ? "CreateFunction" : "DropFunction",
			     project, c.stmt->name.name);
	sch_job_compiled_free(&c);
	return rc < 0 ? -1 : 1;
}
