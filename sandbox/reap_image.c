/* sandbox/reap_image.c — the cordon-reap executable (reap.c), embedded so
 * that a container's init can exec it from a memfd wherever the library
 * runs (cordond, the CLI, tests): no path to find, nothing to install. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/internal.h"

/* reap.c is freestanding and spells these out itself. */
_Static_assert(MSG_STATUS == 5, "reap.c's MSG_STATUS");
_Static_assert(sizeof(struct sbx_msg) == 2 * sizeof(int), "reap.c's message layout");

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U /* Linux 6.3: executable even under vm.memfd_noexec=1 */
#endif

__asm__(".section .rodata\n"
	".balign 16\n"
	".global sbx_reap_image\n"
	"sbx_reap_image:\n"
	".incbin \"" SBX_REAP_PATH "\"\n"
	".global sbx_reap_image_end\n"
	"sbx_reap_image_end:\n"
	".previous\n");

int sbx_reap_memfd(struct cmn_err *err)
{
	int fd = memfd_create("cordon-reap", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
	if (fd < 0 && errno == EINVAL)
		fd = memfd_create("cordon-reap", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return cmn_err_sys(err, "memfd_create cordon-reap");
	size_t len = (size_t)(sbx_reap_image_end - sbx_reap_image);
	/* Execute only: an execve of a file its caller cannot read leaves the
	 * process non-dumpable, so the container's pid 1 stays closed to the
	 * payload from the execve on (reap.c also says so itself, first). */
	if (write(fd, sbx_reap_image, len) != (ssize_t)len || fchmod(fd, 0111) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
		cmn_err_sys(err, "memfd cordon-reap");
		close(fd);
		return -1;
	}
	return fd;
}
