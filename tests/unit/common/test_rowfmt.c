/* Unit tests of common/rowfmt: round trips of every type with NULLs, limits,
 * and the strict decoder's refusals (truncation at every byte, bad types,
 * bad booleans, bad UTF-8, padding bits, trailing bytes, huge counts). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/rowfmt.h"

static const struct cmn_col cols6[] = {
	{ CMN_COL_BIGINT, "id", 2 },   { CMN_COL_DOUBLE, "score", 5 },
	{ CMN_COL_BOOLEAN, "ok", 2 },  { CMN_COL_STRING, "name", 4 },
	{ CMN_COL_BINARY, "blob", 4 }, { CMN_COL_DATETIME, "at", 2 },
};

static void fill_row(struct cmn_value *v, int64_t i)
{
	static const char bin[] = { 0, 1, 2, (char)0xff };
	memset(v, 0, 6 * sizeof(*v));
	v[0].v.i64 = i * 1000003 - 5;
	v[1].v.f64 = (double)i / 7.0;
	v[2].v.b = i % 2;
	v[3].v.bytes.ptr = "h\xc3\xa9llo";
	v[3].v.bytes.len = 6;
	v[4].v.bytes.ptr = bin;
	v[4].v.bytes.len = (size_t)(i % 5);
	v[5].v.i64 = INT64_MIN + i;
	if (i % 3 == 0)
		v[(size_t)i % 6].is_null = true;
}

static char *make_batch(int rows, size_t *len)
{
	struct cmn_rowbatch_writer *w = malloc(sizeof(*w));
	struct cmn_err err = CMN_ERR_INIT;
	struct cmn_value v[6];
	char *out;

	assert_non_null(w);
	assert_int_equal(cmn_rowbatch_begin(w, cols6, 6, 0, &err), 0);
	for (int i = 0; i < rows; i++) {
		fill_row(v, i);
		assert_int_equal(cmn_rowbatch_add(w, v, &err), 0);
	}
	assert_int_equal(cmn_rowbatch_finish(w, &err), 0);
	out = cmn_buf_steal(&w->buf, len);
	cmn_rowbatch_writer_free(w);
	free(w);
	return out;
}

static void test_round_trip(void **state)
{
	struct cmn_rowbatch_reader *r = malloc(sizeof(*r));
	struct cmn_err err = CMN_ERR_INIT;
	struct cmn_value want[6], got[6];
	size_t len;
	char *b = make_batch(100, &len);
	int i = 0, rc;
	(void)state;

	assert_non_null(r);
	assert_int_equal(cmn_rowbatch_open(r, b, len, &err), 0);
	assert_int_equal(r->ncols, 6);
	assert_int_equal(r->nrows, 100);
	assert_int_equal(r->cols[3].type, CMN_COL_STRING);
	assert_memory_equal(r->cols[1].name, "score", 5);
	while ((rc = cmn_rowbatch_next(r, got, &err)) == 1) {
		fill_row(want, i);
		for (int c = 0; c < 6; c++) {
			assert_int_equal(got[c].is_null, want[c].is_null);
			if (got[c].is_null)
				continue;
			switch (c) {
			case 0:
			case 5:
				assert_true(got[c].v.i64 == want[c].v.i64);
				break;
			case 1:
				assert_true(got[c].v.f64 == want[c].v.f64);
				break;
			case 2:
				assert_int_equal(got[c].v.b, want[c].v.b);
				break;
			default:
				assert_int_equal(got[c].v.bytes.len, want[c].v.bytes.len);
				assert_memory_equal(got[c].v.bytes.ptr, want[c].v.bytes.ptr,
						    want[c].v.bytes.len);
			}
		}
		i++;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(i, 100);
	cmn_rowbatch_rewind(r);
	assert_int_equal(cmn_rowbatch_next(r, got, &err), 1);
	free(b);
	free(r);
}

static void test_double_specials_and_empty(void **state)
{
	struct cmn_rowbatch_writer *w = malloc(sizeof(*w));
	struct cmn_rowbatch_reader *r = malloc(sizeof(*r));
	struct cmn_err err = CMN_ERR_INIT;
	struct cmn_col c = { CMN_COL_DOUBLE, NULL, 0 };
	struct cmn_value v = { 0 };
	size_t len;
	char *b;
	(void)state;

	assert_int_equal(cmn_rowbatch_begin(w, &c, 1, 0, &err), 0);
	assert_int_equal(cmn_rowbatch_finish(w, &err), 0);
	assert_int_equal(cmn_rowbatch_open(r, w->buf.data, w->buf.len, &err), 0);
	assert_int_equal(r->nrows, 0);
	assert_int_equal(cmn_rowbatch_next(r, &v, &err), 0);
	cmn_rowbatch_writer_free(w);

	assert_int_equal(cmn_rowbatch_begin(w, &c, 1, 0, &err), 0);
	v.v.f64 = NAN;
	assert_int_equal(cmn_rowbatch_add(w, &v, &err), 0);
	v.v.f64 = -INFINITY;
	assert_int_equal(cmn_rowbatch_add(w, &v, &err), 0);
	assert_int_equal(cmn_rowbatch_finish(w, &err), 0);
	b = cmn_buf_steal(&w->buf, &len);
	assert_int_equal(cmn_rowbatch_open(r, b, len, &err), 0);
	assert_int_equal(cmn_rowbatch_next(r, &v, &err), 1);
	assert_true(isnan(v.v.f64));
	assert_int_equal(cmn_rowbatch_next(r, &v, &err), 1);
	assert_true(isinf(v.v.f64) && v.v.f64 < 0);
	free(b);
	cmn_rowbatch_writer_free(w);
	free(w);
	free(r);
}

static void test_writer_refusals(void **state)
{
	struct cmn_rowbatch_writer *w = malloc(sizeof(*w));
	struct cmn_err err = CMN_ERR_INIT;
	struct cmn_col c = { CMN_COL_STRING, "s", 1 }, bad = { (enum cmn_col_type)9, "x", 1 };
	struct cmn_value v = { 0 };
	size_t before;
	(void)state;

	assert_int_equal(cmn_rowbatch_begin(w, &bad, 1, 0, &err), -1);
	assert_int_equal(err.code, CMN_EINVAL);
	cmn_rowbatch_writer_free(w);
	assert_int_equal(cmn_rowbatch_begin(w, &c, 0, 0, &err), -1);
	cmn_rowbatch_writer_free(w);

	assert_int_equal(cmn_rowbatch_begin(w, &c, 1, 64, &err), 0);
	v.v.bytes.ptr = "\xc0\xaf"; /* overlong '/' */
	v.v.bytes.len = 2;
	before = w->buf.len;
	assert_int_equal(cmn_rowbatch_add(w, &v, &err), -1);
	assert_int_equal(w->buf.len, before);
	v.v.bytes.ptr = "0123456789012345678901234567890123456789012345678901234567890123";
	v.v.bytes.len = 64;
	assert_int_equal(cmn_rowbatch_add(w, &v, &err), -1);
	assert_int_equal(err.code, CMN_ELIMIT);
	assert_int_equal(w->buf.len, before);
	v.v.bytes.len = 4;
	assert_int_equal(cmn_rowbatch_add(w, &v, &err), 0);
	assert_int_equal(w->nrows, 1);
	cmn_rowbatch_writer_free(w);
	free(w);
}

static void test_decoder_truncation_everywhere(void **state)
{
	struct cmn_rowbatch_reader *r = malloc(sizeof(*r));
	struct cmn_err err = CMN_ERR_INIT;
	size_t len;
	char *b = make_batch(7, &len);
	(void)state;

	for (size_t n = 0; n < len; n++) {
		/* a copy of exactly n bytes, so ASan sees any read past it */
		char *cut = malloc(n ? n : 1);
		memcpy(cut, b, n);
		assert_int_equal(cmn_rowbatch_open(r, cut, n, &err), -1);
		free(cut);
	}
	free(b);
	free(r);
}

static void expect_bad(const uint8_t *data, size_t len, const char *needle)
{
	struct cmn_rowbatch_reader *r = malloc(sizeof(*r));
	struct cmn_err err = CMN_ERR_INIT;

	assert_int_equal(cmn_rowbatch_open(r, data, len, &err), -1);
	assert_int_equal(err.code, CMN_EINVAL);
	if (!strstr(err.msg, needle))
		fail_msg("'%s' does not mention '%s'", err.msg, needle);
	free(r);
}

static void test_decoder_refusals(void **state)
{
	/* one BOOLEAN column "b", one row */
	uint8_t ok[] = { 'C', 'R', 'B', '1', 1, 0, 3, 1, 0, 'b', 1, 0, 0, 0, 0, 1 };
	uint8_t t[sizeof(ok) + 1];
	struct cmn_rowbatch_reader *r = malloc(sizeof(*r));
	struct cmn_err err = CMN_ERR_INIT;
	(void)state;

	assert_int_equal(cmn_rowbatch_open(r, ok, sizeof(ok), &err), 0);
	free(r);
	memcpy(t, ok, sizeof(ok));
	t[0] = 'X';
	expect_bad(t, sizeof(ok), "magic");
	memcpy(t, ok, sizeof(ok));
	t[6] = 7;
	expect_bad(t, sizeof(ok), "type");
	memcpy(t, ok, sizeof(ok));
	t[15] = 2;
	expect_bad(t, sizeof(ok), "BOOLEAN");
	memcpy(t, ok, sizeof(ok));
	t[14] = 0x80; /* bit 7 of the bitmap: no such column */
	expect_bad(t, sizeof(ok), "padding");
	memcpy(t, ok, sizeof(ok));
	t[sizeof(ok)] = 0;
	expect_bad(t, sizeof(ok) + 1, "trailing");
	memcpy(t, ok, sizeof(ok));
	t[10] = 0xff; /* 4 billion rows claimed in 2 bytes */
	t[11] = 0xff;
	t[12] = 0xff;
	t[13] = 0xff;
	expect_bad(t, sizeof(ok), "cannot fit");
	memcpy(t, ok, sizeof(ok));
	t[4] = 0;
	expect_bad(t, sizeof(ok), "columns");
}

static void test_decoder_bad_string(void **state)
{
	/* one STRING column, one row, length 2 bytes: bad UTF-8, then a huge length */
	uint8_t s[] = { 'C', 'R', 'B', '1', 1, 0, 4, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0xed, 0xa0 };
	(void)state;
	expect_bad(s, sizeof(s), "UTF-8");
	s[17] = 0x80;
	expect_bad(s, sizeof(s), "truncated");
	assert_true(cmn_utf8_valid("\xf4\x8f\xbf\xbf", 4));
	assert_false(cmn_utf8_valid("\xf4\x90\x80\x80", 4));
	assert_false(cmn_utf8_valid("\xe0\x80\xaf", 3));
	assert_false(cmn_utf8_valid("\xc3", 1));
}

/* The 8-bytes-at-a-time ASCII path must see a bad or a multi-byte sequence
 * at every offset and alignment: each case is placed after 0..17 ASCII
 * bytes and followed by 0..9 more. */
static void test_utf8_every_offset(void **state)
{
	static const struct {
		const char *s;
		bool ok;
	} cases[] = {
		{ "\xc3\xa9", true },
		{ "\xe4\xb8\xad", true },
		{ "\xf0\x9f\x98\x80", true },
		{ "\xc3", false },
		{ "\x80", false },
		{ "\xed\xa0\x80", false },
		{ "\xf4\x90\x80\x80", false },
		{ "\xff", false },
		{ "\xc0\xaf", false },
	};
	char buf[64];
	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
		for (size_t pre = 0; pre < 18; pre++)
			for (size_t post = 0; post < 10; post++) {
				size_t n = strlen(cases[c].s), len = pre + n + post;
				memset(buf, 'a', sizeof(buf));
				memcpy(buf + pre, cases[c].s, n);
				assert_int_equal(cmn_utf8_valid(buf, len), cases[c].ok);
				/* a truncated multi-byte sequence at the very end */
				if (cases[c].ok && n > 1)
					assert_false(cmn_utf8_valid(buf, pre + n - 1));
			}
	assert_true(cmn_utf8_valid("", 0));
}

/* open_validated + next read what open + next read; a truncated batch
 * is still caught by next's length checks (never a read past the end). */
static void test_open_validated(void **state)
{
	struct cmn_col cols[] = { { CMN_COL_STRING, "s", 1 }, { CMN_COL_BIGINT, "i", 1 } };
	struct cmn_rowbatch_writer w;
	struct cmn_rowbatch_reader a, b;
	struct cmn_value in[2] = { 0 }, va[2], vb[2];
	struct cmn_err err = CMN_ERR_INIT;
	int ra, rb;

	(void)state;
	memset(&w, 0, sizeof(w));
	assert_int_equal(cmn_rowbatch_begin(&w, cols, 2, 0, &err), 0);
	for (int i = 0; i < 50; i++) {
		in[0].v.bytes.ptr = "h\xc3\xa9llo";
		in[0].v.bytes.len = 6;
		in[0].is_null = i % 7 == 0;
		in[1].v.i64 = i * 1000003;
		assert_int_equal(cmn_rowbatch_add(&w, in, &err), 0);
	}
	assert_int_equal(cmn_rowbatch_finish(&w, &err), 0);
	assert_int_equal(cmn_rowbatch_open(&a, w.buf.data, w.buf.len, &err), 0);
	assert_int_equal(cmn_rowbatch_open_validated(&b, w.buf.data, w.buf.len, &err), 0);
	do {
		ra = cmn_rowbatch_next(&a, va, &err);
		rb = cmn_rowbatch_next(&b, vb, &err);
		assert_int_equal(ra, rb);
		if (ra == 1) {
			assert_int_equal(va[0].is_null, vb[0].is_null);
			assert_int_equal(va[1].v.i64, vb[1].v.i64);
		}
	} while (ra == 1);
	/* cut the last 3 bytes: open refuses; open_validated lets next find it */
	assert_int_equal(cmn_rowbatch_open(&a, w.buf.data, w.buf.len - 3, &err), -1);
	assert_int_equal(cmn_rowbatch_open_validated(&b, w.buf.data, w.buf.len - 3, &err), 0);
	while ((rb = cmn_rowbatch_next(&b, vb, &err)) == 1)
		;
	assert_int_equal(rb, -1);
	cmn_rowbatch_writer_free(&w);
}

/* A projection by bytes equals one that decodes and re-adds the values:
 * every type, NULLs in every column, reordered and repeated columns. */
static void test_next_projected(void **state)
{
	struct cmn_col cols[] = { { CMN_COL_STRING, "s", 1 },  { CMN_COL_BIGINT, "i", 1 },
				  { CMN_COL_BOOLEAN, "b", 1 }, { CMN_COL_DOUBLE, "d", 1 },
				  { CMN_COL_BINARY, "x", 1 },  { CMN_COL_DATETIME, "t", 1 },
				  { CMN_COL_STRING, "s2", 2 }, { CMN_COL_BIGINT, "i2", 2 },
				  { CMN_COL_BOOLEAN, "b2", 2 } };
	const size_t src[] = { 6, 0, 3, 3, 8, 4, 1 };
	struct cmn_col ocols[7];
	struct cmn_rowbatch_writer w, pa, pb;
	struct cmn_rowbatch_reader r;
	struct cmn_value v[9], o[7];
	struct cmn_err err = CMN_ERR_INIT;
	int rc;

	(void)state;
	for (size_t k = 0; k < 7; k++)
		ocols[k] = cols[src[k]];
	assert_int_equal(cmn_rowbatch_begin(&w, cols, 9, 0, &err), 0);
	for (int i = 0; i < 40; i++) {
		for (size_t c = 0; c < 9; c++) {
			memset(&v[c], 0, sizeof(v[c]));
			v[c].is_null = (i + (int)c) % 5 == 0;
			v[c].v.i64 = i * 77 - 5;
		}
		v[2].v.b = v[8].v.b = i % 2;
		v[3].v.f64 = i / 3.0;
		v[0].v.bytes.ptr = v[4].v.bytes.ptr = v[6].v.bytes.ptr = "abc\xc3\xa9";
		v[0].v.bytes.len = (size_t)i % 4; /* never inside the 2-byte character */
		v[4].v.bytes.len = 5;
		v[6].v.bytes.len = 0;
		assert_int_equal(cmn_rowbatch_add(&w, v, &err), 0);
	}
	assert_int_equal(cmn_rowbatch_finish(&w, &err), 0);
	assert_int_equal(cmn_rowbatch_open(&r, w.buf.data, w.buf.len, &err), 0);
	assert_int_equal(cmn_rowbatch_begin(&pa, ocols, 7, 0, &err), 0);
	while ((rc = cmn_rowbatch_next_projected(&r, &pa, src, &err)) == 1)
		;
	assert_int_equal(rc, 0);
	cmn_rowbatch_rewind(&r);
	assert_int_equal(cmn_rowbatch_begin(&pb, ocols, 7, 0, &err), 0);
	while (cmn_rowbatch_next(&r, v, &err) == 1) {
		for (size_t k = 0; k < 7; k++)
			o[k] = v[src[k]];
		assert_int_equal(cmn_rowbatch_add(&pb, o, &err), 0);
	}
	assert_int_equal(cmn_rowbatch_finish(&pa, &err), 0);
	assert_int_equal(cmn_rowbatch_finish(&pb, &err), 0);
	assert_int_equal(pa.buf.len, pb.buf.len);
	assert_memory_equal(pa.buf.data, pb.buf.data, pa.buf.len);
	/* a writer bound too small: an error, the batch as it was */
	cmn_rowbatch_rewind(&r);
	cmn_rowbatch_writer_free(&pa);
	assert_int_equal(cmn_rowbatch_begin(&pa, ocols, 7, 80, &err), 0);
	while ((rc = cmn_rowbatch_next_projected(&r, &pa, src, &err)) == 1)
		;
	assert_int_equal(rc, -1);
	assert_true(pa.buf.len <= 80 && pa.nrows > 0);
	assert_int_equal(cmn_rowbatch_finish(&pa, &err), 0);
	assert_int_equal(cmn_rowbatch_open(&r, pa.buf.data, pa.buf.len, &err), 0);
	cmn_rowbatch_writer_free(&w);
	cmn_rowbatch_writer_free(&pa);
	cmn_rowbatch_writer_free(&pb);
}

/* Rows into column chunks and back: every column split off alone (each a
 * valid batch by the strict decoder) zips back into the same bytes, a
 * projection (columns reordered and repeated) zipped from the columns
 * equals the one projected from the rows, and columns that do not line up
 * are refused. */
static void test_split_and_zip(void **state)
{
	const struct cmn_col cols[] = { { CMN_COL_STRING, "s", 1 },  { CMN_COL_BIGINT, "i", 1 },
					{ CMN_COL_BOOLEAN, "b", 1 }, { CMN_COL_DOUBLE, "d", 1 },
					{ CMN_COL_BINARY, "x", 1 },  { CMN_COL_DATETIME, "t", 1 } };
	const size_t n = 6, src[] = { 3, 0, 3, 5 }, ident[] = { 0, 1, 2, 3, 4, 5 };
	static struct cmn_rowbatch_reader r, rs[6];
	struct cmn_rowbatch_writer w, ws[6], z, p, q;
	struct cmn_col pcols[4];
	struct cmn_value v[6];
	struct cmn_err err = CMN_ERR_INIT;
	int rc;

	(void)state;
	assert_int_equal(cmn_rowbatch_begin(&w, cols, n, 0, &err), 0);
	for (int i = 0; i < 50; i++) {
		for (size_t c = 0; c < n; c++) {
			memset(&v[c], 0, sizeof(v[c]));
			v[c].is_null = (i + (int)c) % 4 == 0;
			v[c].v.i64 = i * 1001 - 7;
		}
		v[2].v.b = i % 3 == 0;
		v[3].v.f64 = i / 7.0;
		v[0].v.bytes.ptr = v[4].v.bytes.ptr = "xy\xc3\xa9z";
		v[0].v.bytes.len = (size_t)(i % 2) * 5;
		v[4].v.bytes.len = (size_t)i % 6;
		assert_int_equal(cmn_rowbatch_add(&w, v, &err), 0);
	}
	assert_int_equal(cmn_rowbatch_finish(&w, &err), 0);
	assert_int_equal(cmn_rowbatch_open(&r, w.buf.data, w.buf.len, &err), 0);
	for (size_t c = 0; c < n; c++)
		assert_int_equal(cmn_rowbatch_begin(&ws[c], &cols[c], 1, 0, &err), 0);
	while ((rc = cmn_rowbatch_next_split(&r, ws, &err)) == 1)
		;
	assert_int_equal(rc, 0);
	for (size_t c = 0; c < n; c++) {
		assert_int_equal(cmn_rowbatch_finish(&ws[c], &err), 0);
		assert_int_equal(cmn_rowbatch_open(&rs[c], ws[c].buf.data, ws[c].buf.len, &err), 0);
		assert_int_equal(rs[c].nrows, 50);
	}
	/* all of them, in order: the original bytes */
	assert_int_equal(cmn_rowbatch_begin(&z, cols, n, 0, &err), 0);
	while ((rc = cmn_rowbatch_next_zipped(rs, n, &z, ident, &err)) == 1)
		;
	assert_int_equal(rc, 0);
	assert_int_equal(cmn_rowbatch_finish(&z, &err), 0);
	assert_int_equal(z.buf.len, w.buf.len);
	assert_memory_equal(z.buf.data, w.buf.data, w.buf.len);
	/* a projection: the same bytes as next_projected's */
	for (size_t k = 0; k < 4; k++)
		pcols[k] = cols[src[k]];
	cmn_rowbatch_rewind(&r);
	assert_int_equal(cmn_rowbatch_begin(&p, pcols, 4, 0, &err), 0);
	while (cmn_rowbatch_next_projected(&r, &p, src, &err) == 1)
		;
	assert_int_equal(cmn_rowbatch_finish(&p, &err), 0);
	for (size_t c = 0; c < n; c++)
		cmn_rowbatch_rewind(&rs[c]);
	assert_int_equal(cmn_rowbatch_begin(&q, pcols, 4, 0, &err), 0);
	while (cmn_rowbatch_next_zipped(rs, n, &q, src, &err) == 1)
		;
	assert_int_equal(cmn_rowbatch_finish(&q, &err), 0);
	assert_int_equal(q.buf.len, p.buf.len);
	assert_memory_equal(q.buf.data, p.buf.data, p.buf.len);
	cmn_rowbatch_writer_free(&q);
	/* refused: a reader of two columns, columns of different lengths */
	for (size_t c = 0; c < n; c++)
		cmn_rowbatch_rewind(&rs[c]);
	rs[5] = r;
	assert_int_equal(cmn_rowbatch_begin(&q, pcols, 4, 0, &err), 0);
	assert_int_equal(cmn_rowbatch_next_zipped(rs, n, &q, src, &err), -1);
	assert_int_equal(cmn_rowbatch_open(&rs[5], p.buf.data, p.buf.len, &err), 0);
	assert_int_equal(cmn_rowbatch_open(&rs[4], w.buf.data, 0, &err), -1);
	assert_int_equal(cmn_rowbatch_open(&rs[5], ws[5].buf.data, ws[5].buf.len, &err), 0);
	rs[5].nrows = 49;
	assert_int_equal(cmn_rowbatch_next_zipped(rs, n, &q, src, &err), -1);
	assert_int_equal(q.nrows, 0);
	cmn_rowbatch_writer_free(&q);
	cmn_rowbatch_writer_free(&p);
	cmn_rowbatch_writer_free(&z);
	for (size_t c = 0; c < n; c++)
		cmn_rowbatch_writer_free(&ws[c]);
	cmn_rowbatch_writer_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_next_projected),
		cmocka_unit_test(test_split_and_zip),
		cmocka_unit_test(test_open_validated),
		cmocka_unit_test(test_utf8_every_offset),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_double_specials_and_empty),
		cmocka_unit_test(test_writer_refusals),
		cmocka_unit_test(test_decoder_truncation_everywhere),
		cmocka_unit_test(test_decoder_refusals),
		cmocka_unit_test(test_decoder_bad_string),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
