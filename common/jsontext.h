/* common/jsontext.h — JSON text for result rows, written straight into a
 * buffer.
 *
 * Results and downloads stream millions of rows as JSON lines; building a
 * jansson tree per row and dumping it cost about 1.5 us a row (allocations
 * per value and per row), more than the rest of the result path. These
 * write exactly what jansson's json_dumps(..., JSON_COMPACT) writes for the
 * same values (tests/unit/common/test_jsontext.c compares them), so readers
 * see no difference. Strings must be valid UTF-8 (row batches are checked
 * when they are opened); they are escaped as jansson does: \" \\ \b \f \n \r
 * \t, other controls as \u00XX, everything else as is.
 */
#ifndef CMN_JSONTEXT_H
#define CMN_JSONTEXT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

int cmn_json_string(struct cmn_buf *b, const char *p, size_t n, struct cmn_err *err);
int cmn_json_int(struct cmn_buf *b, int64_t v, struct cmn_err *err);
/* A finite double as jansson writes it (%.17g, ".0" added to integral
 * values); the caller decides what a NaN or an infinity becomes. */
int cmn_json_double(struct cmn_buf *b, double v, struct cmn_err *err);

#endif
