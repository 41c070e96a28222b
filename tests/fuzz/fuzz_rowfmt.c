/* libFuzzer target: the row batch decoder (common/rowfmt). Any input must be
 * either refused or walked to the end without reading out of bounds; a
 * batch it accepts, split into one-column batches (column chunks) and
 * zipped back, must give exactly its bytes. */
/* rowfmt.c is compiled in here so that it carries the fuzzer's coverage
 * instrumentation (the common library is built without it). */
#include "../../common/rowfmt.c"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void split_and_zip(struct cmn_rowbatch_reader *r, const uint8_t *data, size_t size)
{
	static struct cmn_rowbatch_writer ws[CMN_ROW_MAX_COLS], z;
	static struct cmn_rowbatch_reader rs[CMN_ROW_MAX_COLS];
	static size_t ident[CMN_ROW_MAX_COLS];
	struct cmn_err err = CMN_ERR_INIT;
	size_t n = r->ncols;
	bool ok = true;

	cmn_rowbatch_rewind(r);
	for (size_t c = 0; c < n; c++) {
		ident[c] = c;
		if (cmn_rowbatch_begin(&ws[c], &r->cols[c], 1, 0, &err) < 0)
			abort();
	}
	while (cmn_rowbatch_next_split(r, ws, &err) == 1)
		;
	for (size_t c = 0; c < n; c++)
		if (cmn_rowbatch_finish(&ws[c], &err) < 0 ||
		    cmn_rowbatch_open(&rs[c], ws[c].buf.data, ws[c].buf.len, &err) < 0)
			abort(); /* a column of a valid batch is a valid batch */
	if (cmn_rowbatch_begin(&z, r->cols, n, 0, &err) < 0)
		abort();
	while (cmn_rowbatch_next_zipped(rs, n, &z, ident, &err) == 1)
		;
	if (cmn_rowbatch_finish(&z, &err) < 0 || z.buf.len != size ||
	    memcmp(z.buf.data, data, size) != 0)
		ok = false;
	cmn_rowbatch_writer_free(&z);
	for (size_t c = 0; c < n; c++)
		cmn_rowbatch_writer_free(&ws[c]);
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cmn_rowbatch_reader r;
	static struct cmn_value vals[CMN_ROW_MAX_COLS];
	struct cmn_err err = CMN_ERR_INIT;

	if (cmn_rowbatch_open(&r, data, size, &err) < 0)
		return 0;
	while (cmn_rowbatch_next(&r, vals, &err) == 1)
		;
	split_and_zip(&r, data, size);
	return 0;
}
