/* runtime/udf_json.h — SQL values as JSON, for `cordon udf run` input and
 * output (JSON lines).
 *
 * JSON -> value: null, true/false, integers (BIGINT), reals (DOUBLE),
 * strings (STRING; BINARY when the signature says so; DATETIME from
 * "YYYY-MM-DD HH:MM:SS[.mmm]" UTC or from integer seconds), and
 * {"base64": "..."} for BINARY. Value -> JSON: the same; BINARY and strings
 * that are not UTF-8 become {"base64": ...}; DATETIME a string; a DOUBLE
 * that is not finite the strings "NaN", "Infinity", "-Infinity".
 */
#ifndef RT_UDF_JSON_H
#define RT_UDF_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "common/err.h"
#include "runtime/udf_value.h"

/* Parses one line (a JSON array). Strings in args point into *holder, which
 * the caller json_decref()s when done with args. Errors: CMN_EINVAL for bad
 * JSON, CMN_EINVAL naming the argument for a value that cannot be its type. */
int rt_json_parse_args(const char *text, size_t len, const struct rt_signature *sig,
		       json_t **holder, struct rt_value *args, int *nargs, struct cmn_err *err);
/* Writes one line: the value (as_array false, ncols 1) or a JSON array. */
int rt_json_write_row(FILE *out, const struct rt_value *cols, int ncols, bool as_array,
		      struct cmn_err *err);

#endif
