/* scheduler/tabledata_text.c — table data as text: the text form of one
 * value (bulk upload/download, partition specs) and the upload body parsers
 * (CSV with a header line, JSON lines) into row batches of a table's data
 * columns. Pure functions over memory, no I/O and no lock: the API calls
 * them with its request lock released, and tests/fuzz/fuzz_tabledata_text.c
 * feeds them hostile bodies. Every error names line and column. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "common/cleanup.h"
#include "common/parse.h"
#include "scheduler/tabledata.h"
#include "scheduler/tables.h"

/* One upload batch; a row larger than this is refused. */
#define UPLOAD_BATCH_MAX (1u << 20)

/* The table being parsed for: nd data columns come first in t->cols. */
struct tbl {
	const struct sch_tabledef *t;
	size_t nd;
};

/* ---- values ------------------------------------------------------------- */

static int b64_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

static int b64_decode(const char *s, size_t len, struct cmn_buf *out, struct cmn_err *err)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t pad = 0;

	if (len % 4 != 0)
		return cmn_err_set(err, CMN_EINVAL, 0, "base64 length is not a multiple of 4");
	if (cmn_buf_reserve(out, len / 4 * 3, err) < 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int v = s[i] == '=' ? 0 : b64_value((unsigned char)s[i]);
		if (s[i] == '=') {
			if (i + 2 < len || (pad == 0 && i + 1 < len && s[i + 1] != '='))
				return cmn_err_set(err, CMN_EINVAL, 0, "misplaced '=' in base64");
			pad++;
		} else if (v < 0 || pad) {
			return cmn_err_set(err, CMN_EINVAL, 0, "invalid base64");
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out->data[out->len++] = (char)(acc >> bits & 0xff);
		}
	}
	out->len -= pad;
	out->data[out->len] = '\0';
	return 0;
}

static int b64_encode(const uint8_t *p, size_t len, struct cmn_buf *out, struct cmn_err *err)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	if (len > (SIZE_MAX - 3) / 4 * 3 || cmn_buf_reserve(out, (len + 2) / 3 * 4, err) < 0)
		return cmn_err_set(err, CMN_ELIMIT, 0, "value too large");
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		size_t n = len - i < 3 ? len - i : 3;
		char q[4];
		if (n > 1)
			v |= (uint32_t)p[i + 1] << 8;
		if (n > 2)
			v |= p[i + 2];
		q[0] = tab[v >> 18 & 63];
		q[1] = tab[v >> 12 & 63];
		q[2] = n > 1 ? tab[v >> 6 & 63] : '=';
		q[3] = n > 2 ? tab[v & 63] : '=';
		if (cmn_buf_append(out, q, 4, err) < 0)
			return -1;
	}
	return 0;
}

/* 'YYYY-MM-DD[( |T)HH:MM:SS[.mmm]]', UTC, to ms since the epoch. */
static int parse_datetime(const char *s, size_t len, int64_t *ms)
{
	char text[32];
	int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, n = 0, fn = 0;
	struct tm tm = { 0 };

	if (len >= sizeof(text))
		return -1;
	memcpy(text, s, len);
	text[len] = '\0';
	if (len == 10) {
		if (sscanf(text, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
			return -1;
	} else if (len >= 19 && (text[10] == ' ' || text[10] == 'T')) {
		if (sscanf(text, "%4d-%2d-%2d%*c%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) !=
			6 ||
		    n != 19)
			return -1;
		if (len > 19) {
			if (text[19] != '.' || len > 23 || len == 20)
				return -1;
			for (size_t i = 20; i < len; i++, fn++) {
				if (text[i] < '0' || text[i] > '9')
					return -1;
				frac = frac * 10 + (text[i] - '0');
			}
			for (; fn < 3; fn++)
				frac *= 10;
		}
	} else {
		return -1;
	}
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	time_t t = timegm(&tm);
	/* timegm normalizes 2023-02-30 to March: refuse dates that moved */
	if (tm.tm_mday != d || tm.tm_mon != mo - 1)
		return -1;
	*ms = (int64_t)t * 1000 + frac;
	return 0;
}

int sch_tabledata_value_from_text(enum cmn_col_type type, const char *s, size_t len,
				  struct cmn_value *out, struct cmn_buf *scratch,
				  struct cmn_err *err)
{
	char num[400];
	char *end;

	memset(out, 0, sizeof(*out));
	switch (type) {
	case CMN_COL_BIGINT:
	case CMN_COL_DOUBLE:
		if (len == 0 || len >= sizeof(num))
			break;
		memcpy(num, s, len);
		num[len] = '\0';
		if (type == CMN_COL_BIGINT)
			return cmn_parse_i64(num, &out->v.i64, NULL) < 0
				   ? cmn_err_set(err, CMN_EINVAL, 0, "'%s' is not a BIGINT", num)
				   : 0;
		if (num[0] == ' ' || num[0] == '\t')
			break;
		out->v.f64 = strtod(num, &end);
		if (*end || !isfinite(out->v.f64))
			break;
		return 0;
	case CMN_COL_BOOLEAN:
		if (len == 4 && strncasecmp(s, "true", 4) == 0)
			out->v.b = true;
		else if (!(len == 5 && strncasecmp(s, "false", 5) == 0))
			break;
		return 0;
	case CMN_COL_STRING:
		if (!cmn_utf8_valid(s, len))
			return cmn_err_set(err, CMN_EINVAL, 0, "STRING is not valid UTF-8");
		out->v.bytes.ptr = s;
		out->v.bytes.len = len;
		return 0;
	case CMN_COL_BINARY:
		cmn_buf_reset(scratch);
		if (b64_decode(s, len, scratch, err) < 0)
			return cmn_err_wrap(err, "BINARY (base64)");
		out->v.bytes.ptr = scratch->data ? scratch->data : "";
		out->v.bytes.len = scratch->len;
		return 0;
	case CMN_COL_DATETIME:
		if (parse_datetime(s, len, &out->v.i64) == 0)
			return 0;
		break;
	}
	/* quote at most 64 bytes, cut on a character boundary */
	size_t shown = len > 64 ? 64 : len;
	while (shown < len && shown > 0 && ((unsigned char)s[shown] & 0xc0) == 0x80)
		shown--;
	if (!cmn_utf8_valid(s, shown))
		return cmn_err_set(err, CMN_EINVAL, 0, "value is not a %s",
				   cmn_col_type_name(type));
	return cmn_err_set(err, CMN_EINVAL, 0, "'%.*s'%s is not a %s", (int)shown, s,
			   shown < len ? "..." : "", cmn_col_type_name(type));
}

int sch_tabledata_value_to_text(enum cmn_col_type type, const struct cmn_value *v,
				struct cmn_buf *out, struct cmn_err *err)
{
	switch (type) {
	case CMN_COL_BIGINT:
		return cmn_buf_printf(out, err, "%lld", (long long)v->v.i64);
	case CMN_COL_DOUBLE:
		return cmn_buf_printf(out, err, "%.17g", v->v.f64);
	case CMN_COL_BOOLEAN:
		return cmn_buf_append_str(out, v->v.b ? "true" : "false", err);
	case CMN_COL_STRING:
		return cmn_buf_append(out, v->v.bytes.ptr, v->v.bytes.len, err);
	case CMN_COL_BINARY:
		return b64_encode((const uint8_t *)v->v.bytes.ptr, v->v.bytes.len, out, err);
	case CMN_COL_DATETIME: {
		int64_t ms = v->v.i64, q = ms / 1000, r = ms % 1000;
		time_t t;
		struct tm tm;
		if (r < 0) {
			r += 1000;
			q--;
		}
		t = (time_t)q;
		if (!gmtime_r(&t, &tm))
			return cmn_err_set(err, CMN_EINVAL, 0, "DATETIME %lld out of range",
					   (long long)ms);
		return cmn_buf_printf(out, err, "%04d-%02d-%02d %02d:%02d:%02d.%03d",
				      tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
				      tm.tm_min, tm.tm_sec, (int)r);
	}
	}
	return cmn_err_set(err, CMN_EINVAL, 0, "bad column type %d", (int)type);
}

/* ---- upload bodies ------------------------------------------------------------ */

int sch_tabledata_column(const struct sch_tabledef *t, const char *name, size_t len, size_t from,
			 size_t to)
{
	for (size_t j = from; j < to; j++)
		if (strlen(t->cols[j].name) == len && strncasecmp(t->cols[j].name, name, len) == 0)
			return (int)j;
	return -1;
}

/* ---- upload: rows into batches ------------------------------------------ */

/* Batches built from the body: data columns in table order. */
struct batches {
	struct sch_storage_batch *v;
	size_t n, cap;
	struct cmn_rowbatch_writer *w;
	struct cmn_col cols[CMN_ROW_MAX_COLS];
	size_t ncols;
	uint64_t rows;
};

static void batches_free(struct batches *b)
{
	for (size_t i = 0; i < b->n; i++)
		free((void *)(uintptr_t)b->v[i].data);
	free(b->v);
	if (b->w)
		cmn_rowbatch_writer_free(b->w);
	free(b->w);
}

static int batches_flush(struct batches *b, struct cmn_err *err)
{
	struct sch_storage_batch *nv;
	size_t len;
	char *data;

	if (!b->w || b->w->ncols == 0 || b->w->nrows == 0)
		return 0;
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 16;
		nv = realloc(b->v, b->cap * sizeof(*nv));
		if (!nv)
			return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		b->v = nv;
	}
	if (cmn_rowbatch_finish(b->w, err) < 0)
		return -1;
	data = cmn_buf_steal(&b->w->buf, &len);
	cmn_rowbatch_writer_free(b->w);
	if (!data)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	b->v[b->n].data = data;
	b->v[b->n++].len = len;
	return 0;
}

static int batches_add(struct batches *b, const struct cmn_value *vals, size_t line,
		       struct cmn_err *err)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		struct cmn_err e = CMN_ERR_INIT;
		if (!b->w && !(b->w = calloc(1, sizeof(*b->w))))
			return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		if (b->w->ncols == 0 &&
		    cmn_rowbatch_begin(b->w, b->cols, b->ncols, UPLOAD_BATCH_MAX, err) < 0)
			return -1;
		if (cmn_rowbatch_add(b->w, vals, &e) == 0) {
			b->rows++;
			return 0;
		}
		if (e.code != CMN_ELIMIT || b->w->nrows == 0)
			break;
		if (batches_flush(b, err) < 0)
			return -1;
	}
	return cmn_err_set(err, CMN_EINVAL, 0, "line %zu: the row is larger than %u bytes", line,
			   UPLOAD_BATCH_MAX);
}

/* Per-column scratch for unescaped CSV text and decoded BINARY. */
struct scratch {
	struct cmn_buf text[CMN_ROW_MAX_COLS], bin[CMN_ROW_MAX_COLS];
	size_t n;
};

static void scratch_free(struct scratch *s)
{
	for (size_t i = 0; i < s->n; i++) {
		cmn_buf_free(&s->text[i]);
		cmn_buf_free(&s->bin[i]);
	}
}

/* One text field into vals[col]; errors name line and column. */
static int text_value(const struct tbl *q, struct scratch *s, size_t col, const char *p, size_t len,
		      struct cmn_value *out, size_t line, struct cmn_err *err)
{
	if (sch_tabledata_value_from_text((enum cmn_col_type)q->t->cols[col].type, p, len, out,
					  &s->bin[col], err) < 0)
		return cmn_err_wrap(err, "line %zu, column '%s'", line, q->t->cols[col].name);
	return 0;
}

/* ---- CSV (RFC 4180; an unquoted empty field is NULL, "" is empty) ------- */

struct csv {
	const char *p, *end;
	size_t line;
};

/* Reads one field into s->text[slot] (unescaped). *eol: the record ended.
 * *quoted: the field was quoted. Returns 0, or -1 with line in err. */
static int csv_field(struct csv *c, struct cmn_buf *out, bool *quoted, bool *eol,
		     struct cmn_err *err)
{
	size_t start_line = c->line;

	cmn_buf_reset(out);
	*quoted = c->p < c->end && *c->p == '"';
	if (*quoted) {
		c->p++;
		for (;;) {
			const char *q = memchr(c->p, '"', (size_t)(c->end - c->p));
			if (!q)
				return cmn_err_set(err, CMN_EINVAL, 0,
						   "line %zu: quoted field never closed",
						   start_line);
			for (const char *x = c->p; x < q; x++)
				c->line += *x == '\n';
			if (cmn_buf_append(out, c->p, (size_t)(q - c->p), err) < 0)
				return -1;
			c->p = q + 1;
			if (c->p < c->end && *c->p == '"') {
				if (cmn_buf_append(out, "\"", 1, err) < 0)
					return -1;
				c->p++;
				continue;
			}
			break;
		}
	} else {
		const char *s = c->p;
		while (c->p < c->end && *c->p != ',' && *c->p != '\n' && *c->p != '\r') {
			if (*c->p == '"')
				return cmn_err_set(err, CMN_EINVAL, 0,
						   "line %zu: '\"' inside an unquoted field",
						   c->line);
			c->p++;
		}
		if (cmn_buf_append(out, s, (size_t)(c->p - s), err) < 0)
			return -1;
	}
	if (c->p == c->end) {
		*eol = true;
		return 0;
	}
	if (*c->p == ',') {
		c->p++;
		*eol = false;
		return 0;
	}
	if (*c->p == '\r' && c->p + 1 < c->end && c->p[1] == '\n')
		c->p++;
	if (*c->p == '\n') {
		c->p++;
		c->line++;
		*eol = true;
		return 0;
	}
	return cmn_err_set(err, CMN_EINVAL, 0, "line %zu: unexpected character after a %s field",
			   c->line, *quoted ? "quoted" : "");
}

/* The header: the data columns, each once, in any order. map[i] = table
 * column of field i. */
static int csv_header(const struct tbl *q, struct csv *c, struct scratch *s, size_t *map,
		      size_t *nfields, struct cmn_err *err)
{
	cleanup_free bool *seen = calloc(q->nd + 1, sizeof(*seen));
	bool quoted, eol = false;

	*nfields = 0;
	if (!seen)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	if (c->end - c->p >= 3 && memcmp(c->p, "\xef\xbb\xbf", 3) == 0)
		c->p += 3; /* a UTF-8 byte order mark */
	if (c->p == c->end)
		return cmn_err_set(err, CMN_EINVAL, 0, "line 1: the CSV needs a header line");
	while (!eol) {
		int j;
		/* unknown and repeated names are refused: at most nd fields */
		if (csv_field(c, &s->text[0], &quoted, &eol, err) < 0)
			return -1;
		j = sch_tabledata_column(q->t, s->text[0].data ? s->text[0].data : "",
					 s->text[0].len, 0, q->nd);
		if (j < 0)
			return cmn_err_set(
			    err, CMN_EINVAL, 0,
			    "line 1, field %zu: '%.64s' is not a data column of '%s'%s",
			    *nfields + 1, s->text[0].data ? s->text[0].data : "", q->t->name,
			    sch_tabledata_column(q->t, s->text[0].data ? s->text[0].data : "",
						 s->text[0].len, q->nd, q->t->ncols) >= 0
				? " (partition values come from ?partition=)"
				: "");
		if (seen[j])
			return cmn_err_set(err, CMN_EINVAL, 0, "line 1: column '%s' given twice",
					   q->t->cols[j].name);
		seen[j] = true;
		map[(*nfields)++] = (size_t)j;
	}
	for (size_t j = 0; j < q->nd; j++)
		if (!seen[j])
			return cmn_err_set(err, CMN_EINVAL, 0, "line 1: column '%s' missing",
					   q->t->cols[j].name);
	return 0;
}

static int csv_record(const struct tbl *q, struct csv *c, struct scratch *s, const size_t *map,
		      size_t nfields, struct cmn_value *vals, struct cmn_err *err)
{
	size_t line = c->line, f = 0;
	bool quoted, eol = false;

	while (!eol) {
		size_t col;
		if (f == nfields)
			return cmn_err_set(err, CMN_EINVAL, 0,
					   "line %zu: more than the header's %zu fields", line,
					   nfields);
		col = map[f];
		if (csv_field(c, &s->text[col], &quoted, &eol, err) < 0)
			return -1;
		memset(&vals[col], 0, sizeof(vals[col]));
		vals[col].is_null = !quoted && s->text[col].len == 0;
		if (!vals[col].is_null &&
		    text_value(q, s, col, s->text[col].data ? s->text[col].data : "",
			       s->text[col].len, &vals[col], line, err) < 0)
			return -1;
		f++;
	}
	if (f != nfields)
		return cmn_err_set(err, CMN_EINVAL, 0, "line %zu: %zu fields, the header has %zu",
				   line, f, nfields);
	return 0;
}

static int parse_csv(const struct tbl *q, const char *body, size_t len, struct batches *b,
		     struct scratch *s, struct cmn_err *err)
{
	struct csv c = { body, body + len, 1 };
	cleanup_free size_t *map = calloc(q->nd + 1, sizeof(*map));
	cleanup_free struct cmn_value *vals = calloc(q->nd + 1, sizeof(*vals));
	size_t nfields;

	if (!map || !vals)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	if (csv_header(q, &c, s, map, &nfields, err) < 0)
		return -1;
	while (c.p < c.end) {
		size_t line = c.line;
		if (csv_record(q, &c, s, map, nfields, vals, err) < 0 ||
		    batches_add(b, vals, line, err) < 0)
			return -1;
	}
	return 0;
}

/* ---- JSON lines ------------------------------------------------------------ */

static int json_value(const struct tbl *q, struct scratch *s, size_t col, json_t *v,
		      struct cmn_value *out, size_t line, struct cmn_err *err)
{
	enum cmn_col_type type = (enum cmn_col_type)q->t->cols[col].type;
	bool ok = false;

	memset(out, 0, sizeof(*out));
	if (json_is_null(v)) {
		out->is_null = true;
		return 0;
	}
	switch (type) {
	case CMN_COL_BIGINT:
		ok = json_is_integer(v);
		out->v.i64 = ok ? (int64_t)json_integer_value(v) : 0;
		break;
	case CMN_COL_DOUBLE:
		ok = json_is_number(v);
		out->v.f64 = ok ? json_number_value(v) : 0;
		break;
	case CMN_COL_BOOLEAN:
		ok = json_is_boolean(v);
		out->v.b = json_is_true(v);
		break;
	default:
		if (json_is_string(v))
			return text_value(q, s, col, json_string_value(v), json_string_length(v),
					  out, line, err);
	}
	if (!ok)
		return cmn_err_set(err, CMN_EINVAL, 0,
				   "line %zu, column '%s': a JSON %s is not a %s", line,
				   q->t->cols[col].name,
				   json_is_string(v)    ? "string"
				   : json_is_number(v)  ? "number"
				   : json_is_boolean(v) ? "boolean"
							: "array or object",
				   cmn_col_type_name(type));
	return 0;
}

static int jsonl_line(const struct tbl *q, struct scratch *s, const char *p, size_t len,
		      size_t line, struct cmn_value *vals, struct cmn_err *err)
{
	json_error_t jerr;
	json_t *obj = json_loadb(p, len, JSON_REJECT_DUPLICATES, &jerr), *v;
	const char *key;
	int rc = 0;

	if (!obj)
		return cmn_err_set(err, CMN_EINVAL, 0, "line %zu, column %d: invalid JSON: %s",
				   line, jerr.column, jerr.text);
	if (!json_is_object(obj)) {
		json_decref(obj);
		return cmn_err_set(err, CMN_EINVAL, 0, "line %zu: a row is a JSON object", line);
	}
	for (size_t j = 0; j < q->nd; j++)
		vals[j] = (struct cmn_value){ .is_null = true }; /* a missing key is NULL */
	json_object_foreach(obj, key, v)
	{
		int j = sch_tabledata_column(q->t, key, strlen(key), 0, q->nd);
		if (j < 0) {
			rc = cmn_err_set(
			    err, CMN_EINVAL, 0,
			    "line %zu, column '%.64s': not a data column of '%s'%s", line, key,
			    q->t->name,
			    sch_tabledata_column(q->t, key, strlen(key), q->nd, q->t->ncols) >= 0
				? " (partition values come from ?partition=)"
				: "");
			break;
		}
		/* STRING values point into obj: copy them out of it */
		if (json_value(q, s, (size_t)j, v, &vals[j], line, err) < 0) {
			rc = -1;
			break;
		}
		if (json_is_string(v) && !vals[j].is_null && q->t->cols[j].type == SCH_QT_STRING) {
			cmn_buf_reset(&s->text[j]);
			if (cmn_buf_append(&s->text[j], vals[j].v.bytes.ptr, vals[j].v.bytes.len,
					   err) < 0) {
				rc = -1;
				break;
			}
			vals[j].v.bytes.ptr = s->text[j].data ? s->text[j].data : "";
		}
	}
	json_decref(obj);
	return rc;
}

static int parse_jsonl(const struct tbl *q, const char *body, size_t len, struct batches *b,
		       struct scratch *s, struct cmn_err *err)
{
	cleanup_free struct cmn_value *vals = calloc(q->nd + 1, sizeof(*vals));
	const char *p = body, *end = body + len;
	size_t line = 0;

	if (!vals)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		line++;
		if (n && p[n - 1] == '\r')
			n--;
		if (n == 0) {
			if (nl && nl + 1 < end)
				return cmn_err_set(err, CMN_EINVAL, 0, "line %zu: empty line",
						   line);
		} else if (jsonl_line(q, s, p, n, line, vals, err) < 0 ||
			   batches_add(b, vals, line, err) < 0) {
			return -1;
		}
		p = nl ? nl + 1 : end;
	}
	return 0;
}

/* ---- the whole body ---------------------------------------------------------- */

int sch_tabledata_parse_body(const struct sch_tabledef *t, bool jsonl, const char *body, size_t len,
			     struct sch_tabledata_rows *out, struct cmn_err *err)
{
	const struct tbl q = { t, t->ncols - t->npcols };
	struct batches *b = calloc(1, sizeof(*b));
	struct scratch *s = calloc(1, sizeof(*s));
	int rc;

	memset(out, 0, sizeof(*out));
	if (!b || !s || q.nd == 0 || q.nd > CMN_ROW_MAX_COLS) {
		free(b);
		free(s);
		return !b || !s ? cmn_err_set(err, CMN_ENOMEM, 0, "out of memory")
				: cmn_err_set(err, CMN_EINVAL, 0, "table '%s' has %zu data columns",
					      t->name, q.nd);
	}
	b->ncols = s->n = q.nd;
	for (size_t i = 0; i < q.nd; i++) {
		b->cols[i] = (struct cmn_col){ (enum cmn_col_type)t->cols[i].type, t->cols[i].name,
					       strlen(t->cols[i].name) };
		cmn_buf_init(&s->text[i], 0);
		cmn_buf_init(&s->bin[i], 0);
	}
	rc = jsonl ? parse_jsonl(&q, body, len, b, s, err) : parse_csv(&q, body, len, b, s, err);
	if (rc == 0)
		rc = batches_flush(b, err);
	scratch_free(s);
	free(s);
	if (rc == 0) {
		out->v = b->v;
		out->n = b->n;
		out->rows = b->rows;
		b->v = NULL;
		b->n = 0;
	}
	batches_free(b);
	free(b);
	return rc < 0 ? -1 : 0;
}

void sch_tabledata_rows_free(struct sch_tabledata_rows *rows)
{
	for (size_t i = 0; i < rows->n; i++)
		free((void *)(uintptr_t)rows->v[i].data); /* ours: built by batches_flush */
	free(rows->v);
	memset(rows, 0, sizeof(*rows));
}
