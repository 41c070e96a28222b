/* scheduler/storage_facade.c — what cordond asks of storage: the operator
 * view (status, scrub, repair), project keys, and the narrow facade for the
 * job runner (tables of row batches); see storage_glue.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/rowfmt.h"
#include "scheduler/storage_int.h"
#include "storage/storage.h"

static int need_cluster(struct sch_storage *s, struct cmn_err *err)
{
	if (!sch_storage_enabled(s))
		return cmn_err_set(err, CMN_EUNAVAIL, 0,
				   "storage is disabled (cordond --chunkservers 0)");
	return 0;
}

/* Adds the supervisor's pid to each server (matched by address) and the
 * summary fields to storage's own status. */
static void summarize(struct sch_storage *s, json_t *st)
{
	json_t *servers = json_object_get(st, "servers"), *srv, *racks = json_object();
	json_int_t live = 0, free_bytes = 0;
	size_t i;

	json_array_foreach(servers, i, srv)
	{
		const char *addr = json_string_value(json_object_get(srv, "addr"));
		const char *state = json_string_value(json_object_get(srv, "state"));
		pthread_mutex_lock(&s->sup_mu);
		for (unsigned k = 0; addr && k < stor_supervisor_count(s->sup); k++) {
			const char *a = stor_supervisor_addr(s->sup, k);
			if (a && strcmp(a, addr) == 0)
				json_object_set_new(srv, "pid",
						    json_integer(stor_supervisor_pid(s->sup, k)));
		}
		pthread_mutex_unlock(&s->sup_mu);
		if (state && strcmp(state, "live") == 0) {
			live++;
			free_bytes += json_integer_value(json_object_get(srv, "free_bytes"));
			json_object_set_new(racks, json_string_value(json_object_get(srv, "rack")),
					    json_true());
		}
	}
	json_object_set_new(st, "enabled", json_true());
	json_object_set_new(st, "live", json_integer(live));
	json_object_set_new(st, "racks", json_integer((json_int_t)json_object_size(racks)));
	json_object_set_new(st, "capacityFreeBytes", json_integer(free_bytes));
	json_object_set_new(
	    st, "underReplicated",
	    json_integer(json_integer_value(json_object_get(st, "under_replicated"))));
	json_object_del(st, "under_replicated");
	json_object_set_new(
	    st, "state",
	    json_string(live == (json_int_t)json_array_size(servers) &&
				json_integer_value(json_object_get(st, "underReplicated")) == 0
			    ? "healthy"
			    : "degraded"));
	json_decref(racks);
}

json_t *sch_storage_status(struct sch_storage *s, struct cmn_err *err)
{
	char *text = NULL;
	json_t *st;

	if (!sch_storage_enabled(s))
		return json_pack("{s:b, s:s, s:[], s:i, s:i}", "enabled", 0, "state", "disabled",
				 "servers", "live", 0, "racks", 0);
	if (stor_status_json(s->c, &text, err) < 0)
		return NULL;
	st = json_loads(text, 0, NULL);
	free(text);
	if (!json_is_object(st)) {
		json_decref(st);
		cmn_err_set(err, CMN_EINTERNAL, 0, "storage status is not a JSON object");
		return NULL;
	}
	summarize(s, st);
	return st;
}

/* An operator's scrub or repair runs with the master's background thread
 * paused: two repairers of the same chunk at once would both copy it (one
 * replica too many). */
static int exclusive(struct sch_storage *s, bool scrub, uint64_t timeout_ms, struct cmn_err *err)
{
	int rc;

	pthread_mutex_lock(&s->op_mu);
	stor_master_stop(s->c);
	rc = scrub ? stor_master_scrub_all(s->c, err) : stor_master_repair(s->c, timeout_ms, err);
	if (stor_master_start(s->c, rc < 0 ? NULL : err) < 0)
		rc = -1;
	pthread_mutex_unlock(&s->op_mu);
	return rc;
}

json_t *sch_storage_scrub(struct sch_storage *s, struct cmn_err *err)
{
	if (need_cluster(s, err) < 0 || exclusive(s, true, 0, err) < 0)
		return NULL;
	return sch_storage_status(s, err);
}

json_t *sch_storage_repair(struct sch_storage *s, uint64_t timeout_ms, struct cmn_err *err)
{
	if (need_cluster(s, err) < 0 || exclusive(s, false, timeout_ms, err) < 0)
		return NULL;
	return sch_storage_status(s, err);
}

int sch_storage_project_created(struct sch_storage *s, const char *project, struct cmn_err *err)
{
	struct cmn_err e = CMN_ERR_INIT;
	if (stor_keyring_project_create(s->kr, project, NULL, &e) == 0 || e.code == CMN_EEXIST)
		return 0;
	if (err)
		*err = e;
	return -1;
}

int sch_storage_project_key_set(struct sch_storage *s, const char *project, const uint8_t *byok,
				uint32_t *version, struct cmn_err *err)
{
	struct cmn_err e = CMN_ERR_INIT;

	if (stor_keyring_project_rotate(s->kr, project, byok, version, &e) == 0)
		return 0;
	if (e.code != CMN_ENOTFOUND) {
		if (err)
			*err = e;
		return -1;
	}
	/* a project created before storage was wired in has no key yet */
	if (stor_keyring_project_create(s->kr, project, byok, err) < 0)
		return -1;
	*version = 1;
	return 0;
}

int sch_storage_project_key_version(struct sch_storage *s, const char *project, uint32_t *version,
				    struct cmn_err *err)
{
	return stor_keyring_project_version(s->kr, project, version, err);
}

int sch_storage_project_deleted(struct sch_storage *s, const char *project, struct cmn_err *err)
{
	if (!s)
		return 0;
	if (s->c)
		return stor_drop_project(s->c, project, NULL, err);
	return stor_keyring_project_destroy(s->kr, project, NULL, NULL, err);
}

int sch_storage_table_create(struct sch_storage *s, const char *project, uint64_t table_id,
			     struct cmn_err *err)
{
	if (need_cluster(s, err) < 0)
		return -1;
	return stor_keyring_table_create(s->kr, project, table_id, err);
}

/* A row group is stored as column chunks when each column chunk would
 * average at least this much: below it, a query reading one column saves
 * less than the extra chunks (files, fsyncs, round trips) cost. */
#define COLUMN_CHUNK_MIN (64u << 10)

static void frame(uint8_t *p, size_t len)
{
	p[0] = (uint8_t)(len >> 24);
	p[1] = (uint8_t)(len >> 16);
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
}

/* The batches [0, n), all of ncols columns named as in r (the first
 * batch's header), cut into one part per column: each part is the same
 * framing as a row chunk (u32 length + batch), of one-column batches. */
static int split_group(const struct sch_storage_batch *b, size_t n, size_t ncols,
		       struct cmn_buf *parts, struct cmn_err *err)
{
	cleanup_free struct cmn_rowbatch_reader *r = calloc(1, sizeof(*r));
	cleanup_free struct cmn_rowbatch_writer *ws = calloc(ncols, sizeof(*ws));
	int rc = 0;

	if (!r || !ws)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	for (size_t i = 0; rc == 0 && i < n; i++) {
		size_t made = 0;
		rc = cmn_rowbatch_open_validated(r, b[i].data, b[i].len, err);
		for (size_t c = 0; rc == 0 && c < ncols; c++, made++)
			rc = cmn_rowbatch_begin(&ws[c], &r->cols[c], 1, 0, err);
		while (rc == 0 && (rc = cmn_rowbatch_next_split(r, ws, err)) == 1)
			rc = 0;
		for (size_t c = 0; rc == 0 && c < ncols; c++) {
			uint8_t hdr[4];
			rc = cmn_rowbatch_finish(&ws[c], err);
			frame(hdr, ws[c].buf.len);
			if (rc == 0)
				rc = cmn_buf_append(&parts[c], hdr, 4, err);
			if (rc == 0)
				rc = cmn_buf_append(&parts[c], ws[c].buf.data, ws[c].buf.len, err);
		}
		for (size_t c = 0; c < made; c++)
			cmn_rowbatch_writer_free(&ws[c]);
	}
	return rc < 0 ? -1 : 0;
}

/* Same columns (names and types) as the group's first batch. */
static bool same_columns(const struct cmn_rowbatch_reader *a, const struct cmn_rowbatch_reader *b)
{
	if (a->ncols != b->ncols)
		return false;
	for (size_t i = 0; i < a->ncols; i++)
		if (a->cols[i].type != b->cols[i].type ||
		    a->cols[i].name_len != b->cols[i].name_len ||
		    memcmp(a->cols[i].name, b->cols[i].name, a->cols[i].name_len) != 0)
			return false;
	return true;
}

/* One row group (the batches [0, n), up to a chunk of rows): column chunks
 * when it is big enough and every batch has the same columns, else one
 * chunk of rows. */
static int write_group(struct stor_writer *w, const struct sch_storage_batch *b, size_t n,
		       size_t bytes, struct cmn_err *err)
{
	size_t cs = stor_writer_chunk_size(w);
	cleanup_free struct cmn_rowbatch_reader *r0 = calloc(1, sizeof(*r0));
	cleanup_free struct cmn_rowbatch_reader *r = calloc(1, sizeof(*r));
	cleanup_free struct cmn_buf *parts = NULL;
	cleanup_free struct stor_part *sp = NULL;
	size_t ncols;
	bool columns;
	int rc;

	if (!r0 || !r)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	if (cmn_rowbatch_open_validated(r0, b[0].data, b[0].len, err) < 0)
		return -1;
	ncols = r0->ncols;
	/* a group over a chunk is one batch too big for one: append_batch
	 * refuses it with the limit's own message */
	columns = ncols >= 2 && ncols <= STOR_MAX_PARTS && bytes <= cs &&
		  bytes / ncols >= COLUMN_CHUNK_MIN;
	for (size_t i = 1; columns && i < n; i++)
		columns = cmn_rowbatch_open_validated(r, b[i].data, b[i].len, err) == 0 &&
			  same_columns(r0, r);
	if (!columns) {
		for (size_t i = 0; i < n; i++)
			if (stor_writer_append_batch(w, b[i].data, b[i].len, err) < 0)
				return -1;
		return 0;
	}
	parts = calloc(ncols, sizeof(*parts));
	sp = calloc(ncols, sizeof(*sp));
	if (!parts || !sp)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	for (size_t c = 0; c < ncols; c++)
		cmn_buf_init(&parts[c], 0);
	rc = split_group(b, n, ncols, parts, err);
	for (size_t c = 0; c < ncols; c++)
		sp[c] = (struct stor_part){ (int)c, (const uint8_t *)parts[c].data, parts[c].len };
	if (rc == 0)
		rc = stor_writer_append_group(w, sp, ncols, err);
	for (size_t c = 0; c < ncols; c++)
		cmn_buf_free(&parts[c]);
	return rc;
}

int sch_storage_table_write(struct sch_storage *s, uint64_t table_id, uint64_t version,
			    const struct sch_storage_batch *batches, size_t nbatches,
			    struct cmn_err *err)
{
	struct stor_writer *w;
	size_t cs;

	if (need_cluster(s, err) < 0)
		return -1;
	/* nothing unverified goes in: what is read back must decode */
	for (size_t i = 0; i < nbatches; i++) {
		struct cmn_rowbatch_reader r;
		if (cmn_rowbatch_open(&r, batches[i].data, batches[i].len, err) < 0)
			return cmn_err_wrap(err, "batch %zu", i);
	}
	if (stor_writer_open(s->c, table_id, version, &w, err) < 0)
		return -1;
	cs = stor_writer_chunk_size(w);
	/* row groups: as many whole batches as one chunk of rows holds (a
	 * batch too big for a chunk is refused by append_batch) */
	for (size_t i = 0, j; i < nbatches; i = j) {
		size_t bytes = 4 + batches[i].len;
		for (j = i + 1; j < nbatches && bytes + 4 + batches[j].len <= cs; j++)
			bytes += 4 + batches[j].len;
		if (write_group(w, batches + i, j - i, bytes, err) < 0) {
			stor_writer_abort(w);
			return cmn_err_wrap(err, "table %llu version %llu",
					    (unsigned long long)table_id,
					    (unsigned long long)version);
		}
	}
	return stor_writer_commit(w, err);
}

struct read_ctx {
	sch_storage_batch_cb cb;
	void *ctx;
	const int *cols;                /* the table columns wanted, in the caller's order */
	size_t ncols;                   /* 0: every column, in table order */
	size_t *src;                    /* cols as a row batch's column numbers */
	struct cmn_col *ocols;          /* a projected batch's columns */
	bool in_order;                  /* cols[k] == k for every k */
	struct cmn_rowbatch_reader *rs; /* one per part, for column chunks */
	size_t nrs;
};

static uint32_t unframe(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A stored batch of whole rows (r, opened on batch) to cb, projected to
 * the wanted columns: stored batches hold the table's columns in table
 * order, so wanted column k is the batch's column cols[k]. */
static int pass_rows(struct read_ctx *rc, struct cmn_rowbatch_reader *r, const void *batch,
		     size_t len, struct cmn_err *err)
{
	struct cmn_rowbatch_writer w;
	int rv;

	if (rc->ncols == 0 || (rc->in_order && r->ncols == rc->ncols))
		return rc->cb(rc->ctx, batch, len, err);
	for (size_t k = 0; k < rc->ncols; k++) {
		if (rc->src[k] >= r->ncols)
			return cmn_err_set(err, CMN_EPROTO, 0,
					   "stored batch of %zu columns has no column %zu",
					   r->ncols, rc->src[k]);
		rc->ocols[k] = r->cols[rc->src[k]];
	}
	rv = cmn_rowbatch_begin(&w, rc->ocols, rc->ncols, 0, err);
	/* the values' bytes as stored */
	while (rv == 0 && (rv = cmn_rowbatch_next_projected(r, &w, rc->src, err)) == 1)
		rv = 0;
	if (rv == 0)
		rv = cmn_rowbatch_finish(&w, err);
	if (rv == 0)
		rv = rc->cb(rc->ctx, w.buf.data, w.buf.len, err);
	cmn_rowbatch_writer_free(&w);
	return rv < 0 ? -1 : 0;
}

/* A chunk holds whole batches framed as u32 (big-endian) length + batch.
 * Its bytes passed AES-GCM under the table's key: they are what this
 * cordond wrote, and it wrote only batches it had validated. So only the
 * header is read here (cmn_rowbatch_open_validated); every reader's next()
 * still checks every length, and a node validates each frame in full. */
static int split_chunk(struct read_ctx *rc, const struct stor_part *part, struct cmn_err *err)
{
	const uint8_t *data = part->data;
	size_t off = 0, len = part->len;

	while (off < len) {
		struct cmn_rowbatch_reader r;
		size_t blen;
		if (len - off < 4)
			return cmn_err_set(err, CMN_EPROTO, 0, "chunk ends inside a batch header");
		blen = unframe(data + off);
		off += 4;
		if (blen > len - off)
			return cmn_err_set(err, CMN_EPROTO, 0,
					   "batch of %zu bytes overruns its chunk", blen);
		/* whole rows, projected; or the one column asked for, as it is */
		if (cmn_rowbatch_open_validated(&r, data + off, blen, err) < 0 ||
		    (part->col < 0 ? pass_rows(rc, &r, data + off, blen, err)
				   : rc->cb(rc->ctx, data + off, blen, err)) < 0)
			return -1;
		off += blen;
	}
	return 0;
}

/* Column chunks back into rows of the wanted columns: the k-th batch of
 * every part holds the same rows; they are zipped into one batch. */
static int zip_group(struct read_ctx *rc, const struct stor_part *parts, size_t n,
		     struct cmn_err *err)
{
	size_t ncols = rc->ncols ? rc->ncols : n;
	cleanup_free size_t *src = calloc(ncols, sizeof(*src));
	cleanup_free size_t *off = calloc(n, sizeof(*off));
	cleanup_free struct cmn_col *cols = calloc(ncols, sizeof(*cols));
	int rc2 = 0;

	if (!src || !off || !cols)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	if (rc->nrs < n) {
		struct cmn_rowbatch_reader *nr = realloc(rc->rs, n * sizeof(*nr));
		if (!nr)
			return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		rc->rs = nr;
		rc->nrs = n;
	}
	/* which part each wanted column comes from (parts ascend by column) */
	for (size_t k = 0; k < ncols; k++) {
		int want = rc->ncols ? rc->cols[k] : (int)k;
		size_t p = 0;
		while (p < n && parts[p].col != want)
			p++;
		if (p == n)
			return cmn_err_set(err, CMN_EPROTO, 0, "row group has no column %d", want);
		src[k] = p;
	}
	while (rc2 == 0 && off[0] < parts[0].len) {
		struct cmn_rowbatch_writer w;
		for (size_t p = 0; p < n; p++) {
			size_t blen;
			if (parts[p].len - off[p] < 4)
				return cmn_err_set(err, CMN_EPROTO, 0,
						   "column %d ends before column %d", parts[p].col,
						   parts[0].col);
			blen = unframe(parts[p].data + off[p]);
			off[p] += 4;
			if (blen > parts[p].len - off[p])
				return cmn_err_set(err, CMN_EPROTO, 0,
						   "batch of %zu bytes overruns its chunk", blen);
			if (cmn_rowbatch_open_validated(&rc->rs[p], parts[p].data + off[p], blen,
							err) < 0)
				return -1;
			off[p] += blen;
		}
		for (size_t k = 0; k < ncols; k++)
			cols[k] = rc->rs[src[k]].cols[0];
		rc2 = cmn_rowbatch_begin(&w, cols, ncols, 0, err);
		while (rc2 == 0 && (rc2 = cmn_rowbatch_next_zipped(rc->rs, n, &w, src, err)) == 1)
			rc2 = 0;
		if (rc2 == 0)
			rc2 = cmn_rowbatch_finish(&w, err);
		if (rc2 == 0)
			rc2 = rc->cb(rc->ctx, w.buf.data, w.buf.len, err);
		cmn_rowbatch_writer_free(&w);
	}
	for (size_t p = 0; rc2 == 0 && p < n; p++)
		if (off[p] != parts[p].len)
			return cmn_err_set(err, CMN_EPROTO, 0,
					   "column %d has more batches than column %d",
					   parts[p].col, parts[0].col);
	return rc2 < 0 ? -1 : 0;
}

static int read_group(void *arg, const struct stor_part *parts, size_t n, struct cmn_err *err)
{
	struct read_ctx *rc = arg;
	/* whole rows; or the one column asked for: its batches are the answer */
	if (n == 1 && (parts[0].col < 0 || rc->ncols == 1))
		return split_chunk(rc, &parts[0], err);
	for (size_t p = 0; p < n; p++)
		if (parts[p].col < 0)
			return cmn_err_set(err, CMN_EPROTO, 0, "row group mixes rows and columns");
	return zip_group(rc, parts, n, err);
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

static int read_groups(struct sch_storage *s, uint64_t table_id, uint64_t version, uint64_t *index,
		       unsigned slice, unsigned nslices, const int *cols, size_t ncols,
		       sch_storage_batch_cb cb, void *ctx, struct cmn_err *err)
{
	struct read_ctx rc = { cb, ctx, cols, ncols, NULL, NULL, true, NULL, 0 };
	cleanup_free int *want = NULL;
	cleanup_free size_t *src = NULL;
	cleanup_free struct cmn_col *ocols = NULL;
	size_t nw = 0;
	int r;

	if (need_cluster(s, err) < 0)
		return -1;
	if (ncols > 0) { /* storage wants them ascending, once each */
		want = malloc(ncols * sizeof(*want));
		src = malloc(ncols * sizeof(*src));
		ocols = malloc(ncols * sizeof(*ocols));
		if (!want || !src || !ocols)
			return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		for (size_t k = 0; k < ncols; k++) {
			if (cols[k] < 0)
				return cmn_err_set(err, CMN_EINVAL, 0, "read: column %d", cols[k]);
			src[k] = (size_t)cols[k];
			rc.in_order = rc.in_order && cols[k] == (int)k;
		}
		rc.src = src;
		rc.ocols = ocols;
		memcpy(want, cols, ncols * sizeof(*want));
		qsort(want, ncols, sizeof(*want), cmp_int);
		for (size_t i = 0; i < ncols; i++)
			if (i == 0 || want[i] != want[nw - 1])
				want[nw++] = want[i];
	}
	r = stor_read_groups(s->c, table_id, version, index, slice, nslices, want, nw, read_group,
			     &rc, err);
	free(rc.rs);
	return r;
}

int sch_storage_table_read(struct sch_storage *s, uint64_t table_id, uint64_t version,
			   sch_storage_batch_cb cb, void *ctx, struct cmn_err *err)
{
	uint64_t index = 0;
	return read_groups(s, table_id, version, &index, 0, 1, NULL, 0, cb, ctx, err);
}

int sch_storage_table_read_slice(struct sch_storage *s, uint64_t table_id, uint64_t version,
				 uint64_t *index, unsigned slice, unsigned nslices, const int *cols,
				 size_t ncols, sch_storage_batch_cb cb, void *ctx,
				 struct cmn_err *err)
{
	return read_groups(s, table_id, version, index, slice, nslices, cols, ncols, cb, ctx, err);
}

int sch_storage_table_drop(struct sch_storage *s, uint64_t table_id, struct cmn_err *err)
{
	if (need_cluster(s, err) < 0)
		return -1;
	return stor_drop_table(s->c, table_id, err);
}

/* ---- Old versions ---------------------------------------------------------
 * A write publishes a whole new version; the one it replaced is garbage as
 * soon as nobody reads it. Holds are counted per (table, version) in this
 * process, which is the only reader (jobs' feeders, downloads, the rows an
 * append keeps). A crash loses the list: the start-up sweep then drops every
 * version but the published one. */
struct sch_storage_hold {
	uint64_t table_id, version;
	unsigned readers;
	bool retired;
	struct sch_storage_hold *next;
};

static struct sch_storage_hold **hold_find(struct sch_storage *s, uint64_t table_id,
					   uint64_t version)
{
	struct sch_storage_hold **h = &s->holds;
	while (*h && ((*h)->table_id != table_id || (*h)->version != version))
		h = &(*h)->next;
	return h;
}

static void drop_version(struct sch_storage *s, uint64_t table_id, uint64_t version)
{
	struct cmn_err err = CMN_ERR_INIT;
	if (sch_storage_enabled(s) && stor_drop_version(s->c, table_id, version, &err) < 0)
		cmn_warn("storage: drop table %llu version %llu: %s (the start-up sweep "
			 "retries)",
			 (unsigned long long)table_id, (unsigned long long)version, err.msg);
}

void sch_storage_version_hold(struct sch_storage *s, uint64_t table_id, uint64_t version)
{
	struct sch_storage_hold **h;

	if (!s || version == 0)
		return;
	pthread_mutex_lock(&s->hold_mu);
	h = hold_find(s, table_id, version);
	if (!*h && (*h = calloc(1, sizeof(**h))) != NULL) {
		(*h)->table_id = table_id;
		(*h)->version = version;
	}
	if (*h)
		(*h)->readers++;
	/* out of memory: no hold, and the read may lose its version to a
	 * concurrent replace; it then fails cleanly (version not found) */
	pthread_mutex_unlock(&s->hold_mu);
}

void sch_storage_version_release(struct sch_storage *s, uint64_t table_id, uint64_t version)
{
	struct sch_storage_hold **h, *gone = NULL;

	if (!s || version == 0)
		return;
	pthread_mutex_lock(&s->hold_mu);
	h = hold_find(s, table_id, version);
	if (*h && --(*h)->readers == 0) {
		gone = *h;
		*h = gone->next;
	}
	pthread_mutex_unlock(&s->hold_mu);
	if (gone && gone->retired)
		drop_version(s, table_id, version);
	free(gone);
}

void sch_storage_version_retire(struct sch_storage *s, uint64_t table_id, uint64_t version)
{
	struct sch_storage_hold **h;
	bool now;

	if (!s || version == 0)
		return;
	pthread_mutex_lock(&s->hold_mu);
	h = hold_find(s, table_id, version);
	now = !*h;
	if (*h)
		(*h)->retired = true; /* the last release drops it */
	pthread_mutex_unlock(&s->hold_mu);
	if (now)
		drop_version(s, table_id, version);
}

void sch_storage_holds_free(struct sch_storage *s)
{
	while (s->holds) {
		struct sch_storage_hold *h = s->holds;
		s->holds = h->next;
		free(h);
	}
}

int sch_storage_table_sweep(struct sch_storage *s, uint64_t table_id, const uint64_t *keep,
			    size_t nkeep, size_t *dropped, struct cmn_err *err)
{
	cleanup_free uint64_t *v = NULL;
	size_t n;

	*dropped = 0;
	if (need_cluster(s, err) < 0 || stor_table_versions(s->c, table_id, &v, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		bool kept = false;
		for (size_t k = 0; k < nkeep; k++)
			kept = kept || keep[k] == v[i];
		if (!kept) {
			if (stor_drop_version(s->c, table_id, v[i], err) < 0)
				return -1;
			(*dropped)++;
		}
	}
	return 0;
}
