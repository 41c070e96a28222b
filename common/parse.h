/* common/parse.h — strict parsers for numbers, sizes and durations given on
 * command lines, in settings and in config files. Strict: the whole string
 * must parse, no sign surprises, overflow is an error. */
#ifndef CMN_PARSE_H
#define CMN_PARSE_H

#include <stdint.h>

#include "common/err.h"

/* Decimal unsigned integer. */
int cmn_parse_u64(const char *s, uint64_t *out, struct cmn_err *err);
/* Decimal signed integer. */
int cmn_parse_i64(const char *s, int64_t *out, struct cmn_err *err);
/* "512", "64K", "64M", "2G", "1T" (binary units, optional trailing B/iB) -> bytes. */
int cmn_parse_size(const char *s, uint64_t *out, struct cmn_err *err);
/* "250ms", "2s", "1.5s", "5m", "1h", "100us", plain number = seconds -> nanoseconds. */
int cmn_parse_duration(const char *s, uint64_t *out_ns, struct cmn_err *err);
/* Formats bytes as "64M"-style text (exact unit when it divides, else bytes). */
void cmn_format_size(uint64_t bytes, char *out, unsigned outlen);

#endif
