/* runtime/vtab_index.c — equality lookups on a stage input (a join's inner
 * side), so that SQLite's nested loop over two virtual tables costs one
 * probe per outer row instead of a scan of the whole inner input.
 *
 * SQLite builds no automatic index on a virtual table: without this, a
 * REDUCE join of two 20,000-row inputs took 25 s. The input offers an EQ
 * constraint to xBestIndex (vtab_input.c); at the first lookup the whole
 * input is read and every row is hashed on that column. The constraint is
 * never omitted: SQLite checks `=` on each row returned, so a lookup may
 * return more rows than match, never fewer. Keys are normalized so that
 * every row SQLite's `=` could match hashes alike: numbers (BIGINT, DOUBLE,
 * DATETIME, BOOLEAN) as their double value, STRING and BINARY as bytes. A
 * value of another kind than the column's (where SQLite's affinities could
 * make '5' = 5 true) is not looked up: the cursor scans the whole input.
 * NULL matches nothing.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/stage.h"

#define NO_ROW UINT32_MAX

struct rt_index {
	size_t col;
	uint32_t nrows;
	uint32_t *frame, *pos, *row; /* where each indexed row is */
	uint32_t *ord;               /* its rowid: its place in the input, as a scan counts */
	uint64_t *hash;
	uint32_t *next;  /* chain of rows with the same bucket */
	uint32_t *heads; /* nbuckets */
	uint32_t mask;
	struct rt_index *link; /* the input's other indexes */
};

uint64_t rt_hash_bytes(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 1099511628211ull;
	return h ^ (h >> 29);
}

uint64_t rt_hash_number(double d)
{
	uint64_t bits;

	if (d == 0)
		d = 0; /* -0.0 = 0.0 */
	memcpy(&bits, &d, sizeof(bits));
	bits ^= bits >> 33;
	bits *= 0xff51afd7ed558ccdull;
	return bits ^ (bits >> 33);
}

bool rt_col_numeric(enum cmn_col_type t)
{
	return t != CMN_COL_STRING && t != CMN_COL_BINARY;
}

double rt_number_of(enum cmn_col_type t, const struct cmn_value *v)
{
	if (t == CMN_COL_DOUBLE)
		return v->v.f64;
	if (t == CMN_COL_BOOLEAN)
		return v->v.b ? 1 : 0;
	return (double)v->v.i64;
}

uint64_t rt_hash_value(enum cmn_col_type t, const struct cmn_value *v)
{
	return rt_col_numeric(t) ? rt_hash_number(rt_number_of(t, v))
				 : rt_hash_bytes(v->v.bytes.ptr, v->v.bytes.len);
}

static void index_free(struct rt_index *ix)
{
	free(ix->frame);
	free(ix->pos);
	free(ix->row);
	free(ix->ord);
	free(ix->hash);
	free(ix->next);
	free(ix->heads);
	free(ix);
}

void rt_index_free_all(struct rt_input *in)
{
	while (in->indexes) {
		struct rt_index *ix = in->indexes;
		in->indexes = ix->link;
		index_free(ix);
	}
}

/* Every row of the input (read to its end) whose col is not NULL. */
static int build(struct rt_input *in, size_t col, struct rt_index *ix, struct cmn_err *err)
{
	struct cmn_rowbatch_reader *r = malloc(sizeof(*r));
	struct cmn_value *vals = calloc(in->plan->cols.n + 1, sizeof(*vals));
	enum cmn_col_type t = in->plan->cols.v[col].type;
	uint64_t nb = 1;
	int rc;

	while ((rc = rt_input_pull(in, err)) == 1)
		;
	if (rc < 0 || !r || !vals)
		goto out;
	if (in->rows >= NO_ROW) {
		rc = cmn_err_set(err, CMN_ELIMIT, 0, "input %s: too many rows to look up",
				 in->plan->table);
		goto out;
	}
	while (nb < 2 * in->rows)
		nb <<= 1;
	ix->col = col;
	ix->mask = (uint32_t)(nb - 1);
	ix->frame = malloc((in->rows + 1) * sizeof(uint32_t));
	ix->pos = malloc((in->rows + 1) * sizeof(uint32_t));
	ix->row = malloc((in->rows + 1) * sizeof(uint32_t));
	ix->ord = malloc((in->rows + 1) * sizeof(uint32_t));
	ix->hash = malloc((in->rows + 1) * sizeof(uint64_t));
	ix->next = malloc((in->rows + 1) * sizeof(uint32_t));
	ix->heads = malloc(nb * sizeof(uint32_t));
	if (!ix->frame || !ix->pos || !ix->row || !ix->ord || !ix->hash || !ix->next ||
	    !ix->heads) {
		rc = cmn_err_set(err, CMN_ENOMEM, 0, "input %s: out of memory for an index",
				 in->plan->table);
		goto out;
	}
	memset(ix->heads, 0xff, nb * sizeof(uint32_t));
	/* a scan's rowids count every row from 1 (vtab_input.c); SQLite's RIGHT
	 * and FULL joins match rows of both ways of reading by rowid */
	uint32_t ord = 0;
	for (size_t f = 0; f < in->nframes; f++) {
		/* rt_input_add_frame validated every frame */
		if (cmn_rowbatch_open_validated(r, in->frames[f].data, in->frames[f].len, err) <
		    0) {
			rc = -1;
			goto out;
		}
		for (uint32_t k = 0;; k++) {
			uint32_t at = (uint32_t)r->pos, id = ix->nrows;
			rc = cmn_rowbatch_next(r, vals, err);
			if (rc <= 0)
				break;
			ord++;
			if (vals[col].is_null || id >= in->rows)
				continue;
			ix->ord[id] = ord;
			ix->frame[id] = (uint32_t)f;
			ix->pos[id] = at;
			ix->row[id] = k;
			ix->hash[id] = rt_hash_value(t, &vals[col]);
			ix->next[id] = ix->heads[ix->hash[id] & ix->mask];
			ix->heads[ix->hash[id] & ix->mask] = id;
			ix->nrows++;
		}
		if (rc < 0)
			goto out;
	}
	rc = 0;
out:
	free(r);
	free(vals);
	return rc;
}

static int index_of(struct rt_input *in, size_t col, struct rt_index **out, struct cmn_err *err)
{
	struct rt_index *ix;

	for (ix = in->indexes; ix; ix = ix->link)
		if (ix->col == col) {
			*out = ix;
			return 0;
		}
	ix = calloc(1, sizeof(*ix));
	if (!ix)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	if (build(in, col, ix, err) < 0) {
		index_free(ix);
		return -1;
	}
	ix->link = in->indexes;
	in->indexes = ix;
	*out = ix;
	return 0;
}

int rt_lookup_start(struct rt_input *in, size_t col, sqlite3_value *v, struct rt_lookup *lk,
		    struct cmn_err *err)
{
	enum cmn_col_type t = in->plan->cols.v[col].type;
	int vt = sqlite3_value_type(v);

	memset(lk, 0, sizeof(*lk));
	lk->cur = NO_ROW;
	if (vt == SQLITE_NULL)
		return 1; /* = NULL is never true: no rows */
	if (rt_col_numeric(t) && (vt == SQLITE_INTEGER || vt == SQLITE_FLOAT)) {
		lk->numeric = true;
		lk->num =
		    vt == SQLITE_INTEGER ? (double)sqlite3_value_int64(v) : sqlite3_value_double(v);
		lk->hash = rt_hash_number(lk->num);
	} else if ((t == CMN_COL_STRING && vt == SQLITE_TEXT) ||
		   (t == CMN_COL_BINARY && vt == SQLITE_BLOB)) {
		lk->bytes =
		    vt == SQLITE_TEXT ? (const void *)sqlite3_value_text(v) : sqlite3_value_blob(v);
		lk->len = (size_t)sqlite3_value_bytes(v);
		if (!lk->bytes)
			lk->bytes = "";
		lk->hash = rt_hash_bytes(lk->bytes, lk->len);
	} else {
		return 0; /* affinities could make it match: scan everything */
	}
	if (index_of(in, col, &lk->ix, err) < 0)
		return -1;
	lk->cur = lk->ix->heads[lk->hash & lk->ix->mask];
	return 1;
}

static bool same_key(const struct rt_lookup *lk, enum cmn_col_type t, const struct cmn_value *v)
{
	if (v->is_null)
		return false;
	if (lk->numeric)
		return rt_number_of(t, v) == lk->num;
	return v->v.bytes.len == lk->len && memcmp(v->v.bytes.ptr, lk->bytes, lk->len) == 0;
}

int rt_lookup_next(struct rt_input *in, struct rt_lookup *lk, struct cmn_rowbatch_reader *r,
		   size_t *open_frame, struct cmn_value *vals, sqlite3_int64 *rowid,
		   struct cmn_err *err)
{
	enum cmn_col_type t = in->plan->cols.v[lk->ix ? lk->ix->col : 0].type;

	while (lk->cur != NO_ROW) {
		const struct rt_index *ix = lk->ix;
		uint32_t id = lk->cur;

		lk->cur = ix->next[id];
		if (ix->hash[id] != lk->hash)
			continue;
		if (*open_frame != ix->frame[id]) {
			const struct cmn_buf *f = &in->frames[ix->frame[id]];
			if (cmn_rowbatch_open_validated(r, f->data, f->len, err) < 0)
				return -1;
			*open_frame = ix->frame[id];
		}
		r->pos = ix->pos[id];
		r->row = ix->row[id];
		int rc = cmn_rowbatch_next(r, vals, err);
		if (rc != 1)
			return rc < 0 ? -1
				      : cmn_err_set(err, CMN_EINTERNAL, 0,
						    "input %s: an index entry past its frame",
						    in->plan->table);
		if (!same_key(lk, t, &vals[ix->col]))
			continue; /* a hash collision */
		*rowid = (sqlite3_int64)ix->ord[id];
		return 1;
	}
	return 0;
}
