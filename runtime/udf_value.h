/* runtime/udf_value.h — SQL values as they cross the UDF boundary.
 *
 * struct rt_value is the host's view of one SQL value; it maps one-to-one on
 * SQLite's (INTEGER = BIGINT, REAL = DOUBLE, TEXT = STRING, BLOB = BINARY,
 * NULL) plus BOOLEAN and DATETIME, so cordon-node can register UDFs as SQLite
 * functions and the row format can carry them. Strings are (pointer, length)
 * and never owned by the value: whoever produced it says how long it lives.
 *
 * In Lua: NULL = nil, BIGINT = integer, DOUBLE = float, BOOLEAN = boolean,
 * STRING and BINARY = string, DATETIME = seconds since the epoch (UTC; an
 * integer when whole, a float when it has milliseconds).
 */
#ifndef RT_UDF_VALUE_H
#define RT_UDF_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct lua_State;

enum rt_type {
	RT_T_NULL = 0,
	RT_T_BIGINT,
	RT_T_DOUBLE,
	RT_T_BOOLEAN,
	RT_T_STRING,
	RT_T_BINARY,
	RT_T_DATETIME, /* v.ms: milliseconds since 1970-01-01 00:00:00 UTC */
	RT_T_ANY,      /* only in signatures: "*" / no signature */
};

struct rt_value {
	enum rt_type type;
	union {
		int64_t i;
		double d;
		bool b;
		int64_t ms;
		struct {
			const char *p;
			size_t len;
		} s;
	} v;
};

#define RT_MAX_COLS 64

/* "bigint,string->string" (MaxCompute's annotate form); "*->string" takes
 * any arguments; "->bigint" none; a table function may return several
 * columns: "string->string,bigint". */
struct rt_signature {
	bool present;
	bool any_args;
	int nargs;
	enum rt_type args[RT_MAX_COLS];
	int nret;
	enum rt_type ret[RT_MAX_COLS];
};

const char *rt_type_name(enum rt_type t); /* "bigint", ..., "null", "any" */
int rt_sig_parse(const char *text, struct rt_signature *sig, struct cmn_err *err);

/* Checks an argument against the declared type, converting where SQL does
 * implicitly (BIGINT -> DOUBLE, STRING <-> BINARY). NULL always passes.
 * The error names the argument: "argument 2: expected bigint, got string". */
int rt_value_coerce(struct rt_value *v, enum rt_type want, int argno, struct cmn_err *err);

/* Pushes v on the Lua stack (strings allocate: call from a protected
 * context or with rt_lua_host_push on). */
void rt_value_push(struct lua_State *L, const struct rt_value *v);

/* Reads the Lua value at idx as type want (RT_T_ANY: from the Lua type).
 * Never allocates and never calls metamethods. Strings point into the Lua
 * string, valid while it stays on the stack. On a type error returns -1 and
 * writes "expected T, got U" into why. */
int rt_value_from_lua(struct lua_State *L, int idx, enum rt_type want, struct rt_value *out,
		      char *why, size_t whylen);

/* Bytes a value counts against the output limit. */
size_t rt_value_size(const struct rt_value *v);

/* DATETIME text "YYYY-MM-DD HH:MM:SS[.mmm]" (UTC) <-> ms. */
int rt_datetime_parse(const char *s, size_t len, int64_t *ms);
void rt_datetime_format(int64_t ms, char *out, size_t len);

#endif
