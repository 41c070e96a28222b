/* common/rowfmt.c — see rowfmt.h. Little-endian fixed-width integers; every
 * read is preceded by a check that the bytes are there. */
#include "common/rowfmt.h"

#include <string.h>

static void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static bool type_valid(unsigned t)
{
	return t >= CMN_COL_BIGINT && t <= CMN_COL_DATETIME;
}

const char *cmn_col_type_name(enum cmn_col_type t)
{
	static const char *const names[] = { "?",      "BIGINT", "DOUBLE",  "BOOLEAN",
					     "STRING", "BINARY", "DATETIME" };
	return type_valid((unsigned)t) ? names[t] : "unknown";
}

bool cmn_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		unsigned c = p[i];
		size_t n;
		uint32_t cp;

		if (c < 0x80) {
			/* ASCII, the common case, 8 bytes at a time */
			uint64_t w;
			i++;
			while (len - i >= 8) {
				memcpy(&w, p + i, 8);
				if (w & 0x8080808080808080ull)
					break;
				i += 8;
			}
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (len - i - 1 < n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

int cmn_rowbatch_begin(struct cmn_rowbatch_writer *w, const struct cmn_col *cols, size_t ncols,
		       size_t max_bytes, struct cmn_err *err)
{
	uint8_t hdr[8];

	memset(w, 0, sizeof(*w));
	cmn_buf_init(&w->buf, max_bytes);
	if (ncols == 0 || ncols > CMN_ROW_MAX_COLS)
		return cmn_err_set(err, CMN_EINVAL, 0, "row batch: %zu columns (1..%d allowed)",
				   ncols, CMN_ROW_MAX_COLS);
	memcpy(hdr, CMN_ROW_MAGIC, 4);
	put_u16(hdr + 4, (uint16_t)ncols);
	if (cmn_buf_append(&w->buf, hdr, 6, err) < 0)
		return -1;
	for (size_t i = 0; i < ncols; i++) {
		size_t nl = cols[i].name ? cols[i].name_len : 0;
		uint8_t c[3];

		if (!type_valid((unsigned)cols[i].type) || nl > CMN_ROW_MAX_NAME)
			return cmn_err_set(err, CMN_EINVAL, 0,
					   "row batch: column %zu: bad type or name", i);
		c[0] = (uint8_t)cols[i].type;
		put_u16(c + 1, (uint16_t)nl);
		if (cmn_buf_append(&w->buf, c, 3, err) < 0 ||
		    cmn_buf_append(&w->buf, cols[i].name, nl, err) < 0)
			return -1;
		w->types[i] = cols[i].type;
	}
	w->ncols = ncols;
	w->nrows_off = w->buf.len;
	put_u32(hdr, 0);
	return cmn_buf_append(&w->buf, hdr, 4, err);
}

static int add_value(struct cmn_buf *b, enum cmn_col_type t, const struct cmn_value *v,
		     struct cmn_err *err)
{
	uint8_t tmp[8];

	switch (t) {
	case CMN_COL_BIGINT:
	case CMN_COL_DATETIME:
		put_u64(tmp, (uint64_t)v->v.i64);
		return cmn_buf_append(b, tmp, 8, err);
	case CMN_COL_DOUBLE: {
		uint64_t bits;
		memcpy(&bits, &v->v.f64, 8);
		put_u64(tmp, bits);
		return cmn_buf_append(b, tmp, 8, err);
	}
	case CMN_COL_BOOLEAN:
		tmp[0] = v->v.b ? 1 : 0;
		return cmn_buf_append(b, tmp, 1, err);
	case CMN_COL_STRING:
	case CMN_COL_BINARY:
		if (v->v.bytes.len > UINT32_MAX)
			return cmn_err_set(err, CMN_ELIMIT, 0, "row batch: value over 4 GiB");
		if (t == CMN_COL_STRING && !cmn_utf8_valid(v->v.bytes.ptr, v->v.bytes.len))
			return cmn_err_set(err, CMN_EINVAL, 0, "row batch: STRING is not UTF-8");
		put_u32(tmp, (uint32_t)v->v.bytes.len);
		if (cmn_buf_append(b, tmp, 4, err) < 0)
			return -1;
		return cmn_buf_append(b, v->v.bytes.ptr, v->v.bytes.len, err);
	}
	return cmn_err_set(err, CMN_EINVAL, 0, "row batch: bad column type");
}

int cmn_rowbatch_add(struct cmn_rowbatch_writer *w, const struct cmn_value *vals,
		     struct cmn_err *err)
{
	uint8_t bitmap[CMN_ROW_MAX_COLS / 8];
	size_t nb = (w->ncols + 7) / 8;
	size_t saved = w->buf.len;

	if (w->finished || w->ncols == 0)
		return cmn_err_set(err, CMN_EINVAL, 0, "row batch: not open");
	if (w->nrows == UINT32_MAX)
		return cmn_err_set(err, CMN_ELIMIT, 0, "row batch: too many rows");
	memset(bitmap, 0, nb);
	for (size_t i = 0; i < w->ncols; i++)
		if (vals[i].is_null)
			bitmap[i / 8] |= (uint8_t)(1u << (i % 8));
	if (cmn_buf_append(&w->buf, bitmap, nb, err) < 0)
		goto fail;
	for (size_t i = 0; i < w->ncols; i++)
		if (!vals[i].is_null && add_value(&w->buf, w->types[i], &vals[i], err) < 0)
			goto fail;
	w->nrows++;
	return 0;
fail:
	/* the batch stays as it was before this row */
	w->buf.len = saved;
	if (w->buf.data)
		w->buf.data[saved] = '\0';
	return cmn_err_wrap(err, "row %u", w->nrows);
}

int cmn_rowbatch_finish(struct cmn_rowbatch_writer *w, struct cmn_err *err)
{
	if (w->finished || w->ncols == 0)
		return cmn_err_set(err, CMN_EINVAL, 0, "row batch: not open");
	put_u32((uint8_t *)w->buf.data + w->nrows_off, w->nrows);
	w->finished = true;
	return 0;
}

void cmn_rowbatch_writer_free(struct cmn_rowbatch_writer *w)
{
	cmn_buf_free(&w->buf);
	w->ncols = 0;
}

/* Reads one row at r->pos into vals (may be NULL to only validate). Every
 * length is checked against the bytes left, always; check also validates
 * the contents (padding bits, booleans, UTF-8), which a row that open()
 * validated does not need again. */
static int read_row(struct cmn_rowbatch_reader *r, struct cmn_value *vals, bool check,
		    struct cmn_err *err)
{
	size_t nb = (r->ncols + 7) / 8;
	const uint8_t *bm;

	if (r->len - r->pos < nb)
		return cmn_err_set(err, CMN_EINVAL, 0, "row batch: row %u truncated", r->row);
	bm = r->data + r->pos;
	if (check && r->ncols % 8 && (bm[nb - 1] >> (r->ncols % 8)))
		return cmn_err_set(err, CMN_EINVAL, 0, "row batch: row %u: padding bits set",
				   r->row);
	r->pos += nb;
	for (size_t i = 0; i < r->ncols; i++) {
		struct cmn_value tmp, *v = vals ? &vals[i] : &tmp;
		size_t left = r->len - r->pos;
		const uint8_t *p = r->data + r->pos;

		memset(v, 0, sizeof(*v));
		if (bm[i / 8] & (1u << (i % 8))) {
			v->is_null = true;
			continue;
		}
		switch (r->cols[i].type) {
		case CMN_COL_BIGINT:
		case CMN_COL_DATETIME:
		case CMN_COL_DOUBLE: {
			uint64_t bits;
			if (left < 8)
				goto trunc;
			bits = get_u64(p);
			if (r->cols[i].type == CMN_COL_DOUBLE)
				memcpy(&v->v.f64, &bits, 8);
			else
				v->v.i64 = (int64_t)bits;
			r->pos += 8;
			break;
		}
		case CMN_COL_BOOLEAN:
			if (left < 1)
				goto trunc;
			if (check && p[0] > 1)
				return cmn_err_set(err, CMN_EINVAL, 0,
						   "row batch: row %u col %zu: bad BOOLEAN", r->row,
						   i);
			v->v.b = p[0] == 1;
			r->pos += 1;
			break;
		case CMN_COL_STRING:
		case CMN_COL_BINARY: {
			uint32_t n;
			if (left < 4)
				goto trunc;
			n = get_u32(p);
			if (left - 4 < n)
				goto trunc;
			v->v.bytes.ptr = (const char *)p + 4;
			v->v.bytes.len = n;
			if (check && r->cols[i].type == CMN_COL_STRING &&
			    !cmn_utf8_valid(v->v.bytes.ptr, n))
				return cmn_err_set(err, CMN_EINVAL, 0,
						   "row batch: row %u col %zu: STRING not UTF-8",
						   r->row, i);
			r->pos += 4 + (size_t)n;
			break;
		}
		}
	}
	return 0;
trunc:
	return cmn_err_set(err, CMN_EINVAL, 0, "row batch: row %u truncated", r->row);
}

static int read_header(struct cmn_rowbatch_reader *r, struct cmn_err *err)
{
	const uint8_t *p = r->data;
	size_t pos = 6;

	if (r->len < 6 || memcmp(p, CMN_ROW_MAGIC, 4) != 0)
		return cmn_err_set(err, CMN_EINVAL, 0, "row batch: bad magic");
	r->ncols = get_u16(p + 4);
	if (r->ncols == 0 || r->ncols > CMN_ROW_MAX_COLS)
		return cmn_err_set(err, CMN_EINVAL, 0, "row batch: %zu columns", r->ncols);
	for (size_t i = 0; i < r->ncols; i++) {
		size_t nl;
		if (r->len - pos < 3)
			return cmn_err_set(err, CMN_EINVAL, 0, "row batch: schema truncated");
		if (!type_valid(p[pos]))
			return cmn_err_set(err, CMN_EINVAL, 0, "row batch: column %zu: type %u", i,
					   p[pos]);
		nl = get_u16(p + pos + 1);
		if (nl > CMN_ROW_MAX_NAME || r->len - pos - 3 < nl)
			return cmn_err_set(err, CMN_EINVAL, 0, "row batch: column %zu: bad name",
					   i);
		r->cols[i].type = (enum cmn_col_type)p[pos];
		r->cols[i].name = (const char *)p + pos + 3;
		r->cols[i].name_len = nl;
		pos += 3 + nl;
	}
	if (r->len - pos < 4)
		return cmn_err_set(err, CMN_EINVAL, 0, "row batch: row count truncated");
	r->nrows = get_u32(p + pos);
	r->rows_start = pos + 4;
	return 0;
}

int cmn_rowbatch_open(struct cmn_rowbatch_reader *r, const void *data, size_t len,
		      struct cmn_err *err)
{
	if (cmn_rowbatch_open_validated(r, data, len, err) < 0)
		return -1;
	/* then every row, in full */
	for (r->row = 0; r->row < r->nrows; r->row++)
		if (read_row(r, NULL, true, err) < 0)
			return -1;
	if (r->pos != r->len)
		return cmn_err_set(err, CMN_EINVAL, 0, "row batch: %zu trailing bytes",
				   r->len - r->pos);
	cmn_rowbatch_rewind(r);
	return 0;
}

int cmn_rowbatch_open_validated(struct cmn_rowbatch_reader *r, const void *data, size_t len,
				struct cmn_err *err)
{
	memset(r, 0, sizeof(*r));
	r->data = data;
	r->len = len;
	if (read_header(r, err) < 0)
		return -1;
	/* Each row takes at least its bitmap, so a huge count in a small buffer
	 * is caught here before any per-row work. */
	if ((uint64_t)r->nrows * ((r->ncols + 7) / 8) > r->len - r->rows_start)
		return cmn_err_set(err, CMN_EINVAL, 0, "row batch: %u rows cannot fit", r->nrows);
	cmn_rowbatch_rewind(r);
	return 0;
}

/* Where each value of r's current row is (lengths checked against the
 * bytes left; contents were checked by open): off[i], len[i] (0 for NULL),
 * *bm its null bitmap. */
static int row_values(const struct cmn_rowbatch_reader *r, const uint8_t **bm, size_t *off,
		      size_t *len, struct cmn_err *err)
{
	size_t nb = (r->ncols + 7) / 8;

	if (r->len - r->pos < nb)
		goto trunc;
	*bm = r->data + r->pos;
	off[0] = r->pos + nb;
	for (size_t i = 0; i < r->ncols; i++) {
		size_t at = i ? off[i - 1] + len[i - 1] : off[0], left = r->len - at;
		off[i] = at;
		len[i] = 0;
		if ((*bm)[i / 8] & (1u << (i % 8)))
			continue;
		switch (r->cols[i].type) {
		case CMN_COL_BOOLEAN:
			len[i] = 1;
			break;
		case CMN_COL_STRING:
		case CMN_COL_BINARY:
			if (left < 4 || left - 4 < get_u32(r->data + at))
				goto trunc;
			len[i] = 4 + (size_t)get_u32(r->data + at);
			break;
		default:
			len[i] = 8;
		}
		if (left < len[i])
			goto trunc;
	}
	return 0;
trunc:
	return cmn_err_set(err, CMN_EINVAL, 0, "row batch: row %u truncated", r->row);
}

static void next_row(struct cmn_rowbatch_reader *r, const size_t *off, const size_t *len)
{
	r->pos = off[r->ncols - 1] + len[r->ncols - 1];
	r->row++;
}

/* Appends one row to w: its column k is value src[k] (at[], len[], null[]),
 * bytes copied as they are. */
static int put_row(struct cmn_rowbatch_writer *w, const size_t *src, const uint8_t *const *at,
		   const size_t *len, const bool *null, struct cmn_err *err)
{
	size_t onb = (w->ncols + 7) / 8, need = onb;
	uint8_t *o;

	for (size_t k = 0; k < w->ncols; k++)
		need += len[src[k]];
	if (cmn_buf_reserve(&w->buf, need, err) < 0)
		return -1;
	o = (uint8_t *)w->buf.data + w->buf.len;
	memset(o, 0, onb);
	for (size_t k = 0; k < w->ncols; k++)
		if (null[src[k]])
			o[k / 8] |= (uint8_t)(1u << (k % 8));
	o += onb;
	for (size_t k = 0; k < w->ncols; k++) {
		memcpy(o, at[src[k]], len[src[k]]);
		o += len[src[k]];
	}
	w->buf.len += need;
	w->buf.data[w->buf.len] = '\0';
	w->nrows++;
	return 0;
}

int cmn_rowbatch_next_projected(struct cmn_rowbatch_reader *r, struct cmn_rowbatch_writer *w,
				const size_t *src, struct cmn_err *err)
{
	size_t off[CMN_ROW_MAX_COLS], len[CMN_ROW_MAX_COLS];
	const uint8_t *bm, *at[CMN_ROW_MAX_COLS];
	bool null[CMN_ROW_MAX_COLS];

	if (r->row >= r->nrows)
		return 0;
	if (w->finished || w->ncols == 0)
		return cmn_err_set(err, CMN_EINVAL, 0, "row batch: not open");
	if (w->nrows == UINT32_MAX)
		return cmn_err_set(err, CMN_ELIMIT, 0, "row batch: too many rows");
	if (row_values(r, &bm, off, len, err) < 0)
		return -1;
	for (size_t i = 0; i < r->ncols; i++) {
		at[i] = r->data + off[i];
		null[i] = bm[i / 8] & (1u << (i % 8));
	}
	if (put_row(w, src, at, len, null, err) < 0)
		return -1;
	next_row(r, off, len);
	return 1;
}

int cmn_rowbatch_next_split(struct cmn_rowbatch_reader *r, struct cmn_rowbatch_writer *ws,
			    struct cmn_err *err)
{
	size_t off[CMN_ROW_MAX_COLS], len[CMN_ROW_MAX_COLS];
	const uint8_t *bm;

	if (r->row >= r->nrows)
		return 0;
	for (size_t i = 0; i < r->ncols; i++)
		if (ws[i].finished || ws[i].ncols != 1 || ws[i].nrows == UINT32_MAX)
			return cmn_err_set(err, CMN_EINVAL, 0, "row batch: column %zu not open", i);
	if (row_values(r, &bm, off, len, err) < 0)
		return -1;
	for (size_t i = 0; i < r->ncols; i++) {
		struct cmn_rowbatch_writer *w = &ws[i];
		uint8_t *o;
		if (cmn_buf_reserve(&w->buf, 1 + len[i], err) < 0)
			return -1;
		o = (uint8_t *)w->buf.data + w->buf.len;
		o[0] = (bm[i / 8] >> (i % 8)) & 1u;
		memcpy(o + 1, r->data + off[i], len[i]);
		w->buf.len += 1 + len[i];
		w->buf.data[w->buf.len] = '\0';
		w->nrows++;
	}
	next_row(r, off, len);
	return 1;
}

/* The value of the current row of a one-column reader: *off, *len (0 for
 * NULL); lengths checked against the bytes left. */
static int single_value(const struct cmn_rowbatch_reader *r, size_t *off, size_t *len, bool *null,
			struct cmn_err *err)
{
	size_t left;

	if (r->len - r->pos < 1)
		goto trunc;
	*off = r->pos + 1;
	*len = 0;
	*null = r->data[r->pos] & 1u;
	if (*null)
		return 0;
	left = r->len - *off;
	switch (r->cols[0].type) {
	case CMN_COL_BOOLEAN:
		*len = 1;
		break;
	case CMN_COL_STRING:
	case CMN_COL_BINARY:
		if (left < 4 || left - 4 < get_u32(r->data + *off))
			goto trunc;
		*len = 4 + (size_t)get_u32(r->data + *off);
		break;
	default:
		*len = 8;
	}
	if (left < *len)
		goto trunc;
	return 0;
trunc:
	return cmn_err_set(err, CMN_EINVAL, 0, "row batch: row %u truncated", r->row);
}

int cmn_rowbatch_next_zipped(struct cmn_rowbatch_reader *rs, size_t nr,
			     struct cmn_rowbatch_writer *w, const size_t *src, struct cmn_err *err)
{
	size_t off[CMN_ROW_MAX_COLS], len[CMN_ROW_MAX_COLS];
	const uint8_t *at[CMN_ROW_MAX_COLS];
	bool null[CMN_ROW_MAX_COLS];

	if (nr == 0 || nr > CMN_ROW_MAX_COLS || w->finished || w->ncols == 0)
		return cmn_err_set(err, CMN_EINVAL, 0, "row batch: not open");
	for (size_t i = 0; i < nr; i++)
		if (rs[i].ncols != 1 || rs[i].nrows != rs[0].nrows)
			return cmn_err_set(err, CMN_EINVAL, 0,
					   "row batch: column %zu: %zu columns of %u rows, not one "
					   "of %u",
					   i, rs[i].ncols, rs[i].nrows, rs[0].nrows);
	if (rs[0].row >= rs[0].nrows)
		return 0;
	if (w->nrows == UINT32_MAX)
		return cmn_err_set(err, CMN_ELIMIT, 0, "row batch: too many rows");
	for (size_t i = 0; i < nr; i++) {
		if (single_value(&rs[i], &off[i], &len[i], &null[i], err) < 0)
			return -1;
		at[i] = rs[i].data + off[i];
	}
	if (put_row(w, src, at, len, null, err) < 0)
		return -1;
	for (size_t i = 0; i < nr; i++) {
		rs[i].pos = off[i] + len[i];
		rs[i].row++;
	}
	return 1;
}

void cmn_rowbatch_rewind(struct cmn_rowbatch_reader *r)
{
	r->pos = r->rows_start;
	r->row = 0;
}

int cmn_rowbatch_next(struct cmn_rowbatch_reader *r, struct cmn_value *vals, struct cmn_err *err)
{
	if (r->row >= r->nrows)
		return 0;
	if (read_row(r, vals, false, err) < 0)
		return -1;
	r->row++;
	return 1;
}

bool cmn_value_equal(enum cmn_col_type t, const struct cmn_value *a, const struct cmn_value *b)
{
	if (a->is_null || b->is_null)
		return a->is_null && b->is_null;
	switch (t) {
	case CMN_COL_BIGINT:
	case CMN_COL_DATETIME:
		return a->v.i64 == b->v.i64;
	case CMN_COL_DOUBLE:
		return a->v.f64 == b->v.f64;
	case CMN_COL_BOOLEAN:
		return a->v.b == b->v.b;
	case CMN_COL_STRING:
	case CMN_COL_BINARY:
		return a->v.bytes.len == b->v.bytes.len &&
		       (a->v.bytes.len == 0 ||
			memcmp(a->v.bytes.ptr, b->v.bytes.ptr, a->v.bytes.len) == 0);
	}
	return false;
}
