/* common/rowfmt.h — the one row format: storage chunks, the job shuffle and
 * API results all carry rows as row batches in this encoding.
 *
 * A batch is self-describing (its schema travels with it) and little-endian:
 *   magic "CRB1" | u16 ncols | ncols x (u8 type, u16 name_len, name)
 *   | u32 nrows | nrows x row
 *   row = null bitmap (ceil(ncols/8) bytes, bit set = NULL, unused bits 0)
 *         then each non-NULL value in column order:
 *           BIGINT, DATETIME (ms since the epoch): i64;  DOUBLE: IEEE-754 binary64;
 *           BOOLEAN: u8 0 or 1;  STRING (valid UTF-8), BINARY: u32 len + bytes.
 * The decoder is strict: every length is checked against the bytes that are
 * left, unknown types, non-zero padding bits, booleans other than 0/1,
 * invalid UTF-8 and trailing bytes are errors. Values returned by the reader
 * point into the caller's buffer (no copy); the buffer must outlive them.
 */
#ifndef CMN_ROWFMT_H
#define CMN_ROWFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

enum cmn_col_type {
	CMN_COL_BIGINT = 1,
	CMN_COL_DOUBLE = 2,
	CMN_COL_BOOLEAN = 3,
	CMN_COL_STRING = 4,
	CMN_COL_BINARY = 5,
	CMN_COL_DATETIME = 6,
};

#define CMN_ROW_MAX_COLS 1024
#define CMN_ROW_MAX_NAME 1024
#define CMN_ROW_MAGIC "CRB1"

struct cmn_col {
	enum cmn_col_type type;
	const char
	    *name; /* not owned; for a decoded batch: points into the buffer, not NUL-terminated */
	size_t name_len;
};

struct cmn_value {
	bool is_null;
	union {
		int64_t i64; /* BIGINT, DATETIME */
		double f64;  /* DOUBLE */
		bool b;      /* BOOLEAN */
		struct {
			const char *ptr; /* STRING, BINARY: not owned, not NUL-terminated */
			size_t len;
		} bytes;
	} v;
};

/* Builds one batch in buf (owned by the writer; take it with cmn_buf_steal
 * after cmn_rowbatch_finish). */
struct cmn_rowbatch_writer {
	struct cmn_buf buf;
	size_t ncols;
	enum cmn_col_type types[CMN_ROW_MAX_COLS];
	size_t nrows_off; /* where the row count is patched in at finish */
	uint32_t nrows;
	bool finished;
};

/* max_bytes bounds the batch (0 = unbounded); a row that would pass it fails
 * with CMN_ELIMIT and leaves the batch as it was. */
int cmn_rowbatch_begin(struct cmn_rowbatch_writer *w, const struct cmn_col *cols, size_t ncols,
		       size_t max_bytes, struct cmn_err *err);
int cmn_rowbatch_add(struct cmn_rowbatch_writer *w, const struct cmn_value *vals,
		     struct cmn_err *err);
int cmn_rowbatch_finish(struct cmn_rowbatch_writer *w, struct cmn_err *err);
void cmn_rowbatch_writer_free(struct cmn_rowbatch_writer *w);

/* Reads one batch. cmn_rowbatch_open validates the whole batch (so a reader
 * that got 0 from open never meets a malformed row later). */
struct cmn_rowbatch_reader {
	const uint8_t *data;
	size_t len;
	size_t pos; /* next row */
	size_t rows_start;
	size_t ncols;
	struct cmn_col cols[CMN_ROW_MAX_COLS];
	uint32_t nrows;
	uint32_t row; /* rows returned so far */
};

int cmn_rowbatch_open(struct cmn_rowbatch_reader *r, const void *data, size_t len,
		      struct cmn_err *err);
/* The header only, for bytes this process already opened with
 * cmn_rowbatch_open and has not changed since (a result kept in memory, a
 * stored batch that the storage read validated): no pass over the rows.
 * Lengths are still checked row by row in next(); contents are not. */
int cmn_rowbatch_open_validated(struct cmn_rowbatch_reader *r, const void *data, size_t len,
				struct cmn_err *err);
/* Fills vals[0..ncols-1]. Returns 1 with a row, 0 at the end, -1 on error.
 * Lengths are checked; contents (UTF-8, booleans, padding) were checked
 * by open. */
int cmn_rowbatch_next(struct cmn_rowbatch_reader *r, struct cmn_value *vals, struct cmn_err *err);
/* Two values of a column of type t are the same: both NULL, or equal by
 * the type (DOUBLE by ==, so -0.0 = 0.0 and NaN is never equal; STRING and
 * BINARY by their bytes). */
bool cmn_value_equal(enum cmn_col_type t, const struct cmn_value *a, const struct cmn_value *b);
/* Moves the next row of r into w with only the columns src[0..w->ncols)
 * of r, in that order, copying their bytes as they are: a projection that
 * decodes nothing. The caller checked that each src column has w's type,
 * and r was opened (validated). Returns 1 with a row, 0 at the end, -1 on
 * error (the row is then not added). */
int cmn_rowbatch_next_projected(struct cmn_rowbatch_reader *r, struct cmn_rowbatch_writer *w,
				const size_t *src, struct cmn_err *err);
/* Rows into column chunks: appends each column i of r's next row to
 * ws[i], a one-column writer of that column (ws has r->ncols writers), bytes
 * copied as they are. A failure may leave the writers with part of the row:
 * drop them. Returns 1 with a row, 0 at the end, -1 on error. */
int cmn_rowbatch_next_split(struct cmn_rowbatch_reader *r, struct cmn_rowbatch_writer *ws,
			    struct cmn_err *err);
/* Column chunks back into rows: moves the next row of each one-column
 * reader rs[0..nr) into w as one row whose column k is the value of
 * rs[src[k]] (a reader may feed several columns), bytes copied as they
 * are. The readers were opened (validated) and hold the same number of
 * rows; the caller checked that each column has w's type. Returns 1 with a
 * row, 0 at the end, -1 on error (the row is then not added). */
int cmn_rowbatch_next_zipped(struct cmn_rowbatch_reader *rs, size_t nr,
			     struct cmn_rowbatch_writer *w, const size_t *src, struct cmn_err *err);
void cmn_rowbatch_rewind(struct cmn_rowbatch_reader *r);

const char *cmn_col_type_name(enum cmn_col_type t);
/* True when s[0..len) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool cmn_utf8_valid(const char *s, size_t len);

#endif
