/* common/io.h — small I/O helpers shared by cordond, the CLI and the logger. */
#ifndef CMN_IO_H
#define CMN_IO_H

#include <stddef.h>

#include "common/err.h"

/* write(2) until all len bytes are out, retrying after EINTR. 0, or -1 with
 * err (may be NULL) from errno; a write that makes no progress is EIO. */
int cmn_write_all(int fd, const void *data, size_t len, struct cmn_err *err);

#endif
