/* sandbox/fds.c — which file descriptors reach the container.
 *
 * The clone of the caller starts with every fd the caller had (cordond's
 * sockets, key files...). The init closes all but its own two channels
 * right away; the fds of a start arrive by SCM_RIGHTS (handoff.c), and the
 * payload moves each to its number inside and closes everything else, so an
 * fd that is not named in the spec never reaches the untrusted program,
 * CLOEXEC or not.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/close_range.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "sandbox/internal.h"

static void sort_ints(int *v, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
			int t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	}
}

/* Closes every fd >= from that is not in keep (keep is sorted in place). */
static int close_except(int *keep, size_t n, int from, struct cmn_err *err)
{
	sort_ints(keep, n);
	unsigned lo = (unsigned)from;
	for (size_t i = 0; i < n; i++) {
		unsigned k = (unsigned)keep[i];
		if (keep[i] < 0 || k < lo)
			continue;
		if (k > lo && syscall(SYS_close_range, lo, k - 1, 0) < 0)
			return cmn_err_sys(err, "close_range %u %u", lo, k - 1);
		lo = k + 1;
	}
	if (syscall(SYS_close_range, lo, ~0U, 0) < 0)
		return cmn_err_sys(err, "close_range %u ~0", lo);
	return 0;
}

int child_close_all_but(const int *keep, size_t keep_count, struct cmn_err *err)
{
	int all[8];
	size_t n = 0;
	for (size_t i = 0; i < keep_count && n < 8; i++)
		all[n++] = keep[i];
	return close_except(all, n, 0, err);
}

int child_install_fds(const struct sbx_run *run, int *keep, size_t keep_count, struct cmn_err *err)
{
	int floor = 3, tmp[SBX_MAX_FDS];
	for (size_t i = 0; i < run->fd_count; i++) {
		if (run->fds[i].child_fd + 1 > floor)
			floor = run->fds[i].child_fd + 1;
		if (run->fds[i].parent_fd + 1 > floor)
			floor = run->fds[i].parent_fd + 1;
	}
	for (size_t i = 0; i < keep_count; i++) {
		int moved = fcntl(keep[i], F_DUPFD_CLOEXEC, floor);
		if (moved < 0)
			return cmn_err_sys(err, "fcntl F_DUPFD_CLOEXEC %d", keep[i]);
		close(keep[i]);
		keep[i] = moved;
	}
	for (size_t i = 0; i < run->fd_count; i++) {
		tmp[i] = fcntl(run->fds[i].parent_fd, F_DUPFD_CLOEXEC, floor);
		if (tmp[i] < 0)
			return cmn_err_sys(err, "fcntl F_DUPFD_CLOEXEC %d", run->fds[i].parent_fd);
	}
	int targets[SBX_MAX_FDS + 8];
	size_t n = 0;
	for (size_t i = 0; i < run->fd_count; i++) {
		if (dup2(tmp[i], run->fds[i].child_fd) < 0)
			return cmn_err_sys(err, "dup2 %d %d", tmp[i], run->fds[i].child_fd);
		targets[n++] = run->fds[i].child_fd;
	}
	for (size_t i = 0; i < keep_count; i++)
		targets[n++] = keep[i];
	if (close_except(targets, n, 0, err) < 0)
		return -1;
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		int null = open("/dev/null", O_RDWR);
		if (null < 0)
			return cmn_err_sys(err, "open /dev/null for fd %d", fd);
		if (null != fd) {
			dup2(null, fd);
			close(null);
		}
	}
	return 0;
}
