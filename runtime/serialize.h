/* runtime/serialize.h — aggregate buffers as plain data between nodes.
 *
 * A UDAF buffer leaves a node (MAP partial aggregation -> REDUCE merge) as
 * bytes: nil, booleans, integers, floats, strings and tables of those (keys:
 * strings, numbers, booleans), no cycles, at most RT_SER_MAX_DEPTH levels and
 * max_bytes in all. Functions, userdata, threads and metatables are errors.
 * The decoder treats its input as hostile (it came from another container).
 *
 * Format (little-endian): "CB1" then one value; value = tag byte:
 *   0 nil, 1 false, 2 true, 3 int64, 4 double (IEEE bits), 5 u32 len + bytes,
 *   6 u32 count + count * (key value).
 */
#ifndef RT_SERIALIZE_H
#define RT_SERIALIZE_H

#include <stddef.h>

#include "common/buf.h"

struct lua_State;

#define RT_SER_MAX_DEPTH 32

/* Both raise Lua errors (call them inside a protected call). */
void rt_ser_encode(struct lua_State *L, int idx, struct cmn_buf *out, size_t max_bytes);
void rt_ser_decode(struct lua_State *L, const void *data, size_t len);

#endif
