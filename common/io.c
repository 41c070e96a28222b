/* common/io.c — see io.h. */
#include "common/io.h"

#include <errno.h>
#include <unistd.h>

int cmn_write_all(int fd, const void *data, size_t len, struct cmn_err *err)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cmn_err_sys(err, "write");
		if (n == 0)
			return cmn_err_set(err, CMN_EIO, 0, "write: no progress");
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
