/* sandbox/ns_user.c — the user namespace and its id mapping.
 *
 * The container sees one uid and one gid, SBX_INNER_ID (not 0, so execve of
 * anything never grants it capabilities). Outside they map to an
 * unprivileged id: nobody/nogroup when the caller is root, else the caller's
 * own ids (the only mapping an unprivileged user may write). Host root is
 * never mapped, so files in the read-only binds keep their host owners'
 * permissions and "root" inside means nothing outside.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "sandbox/internal.h"

#define NOBODY_ID 65534

int sbx_ids_choose(struct sbx_ids *ids, struct cmn_err *err)
{
	ids->privileged = geteuid() == 0;
	ids->host_uid = ids->privileged ? NOBODY_ID : geteuid();
	ids->host_gid = ids->privileged ? NOBODY_ID : getegid();
	if (ids->host_uid == 0 || ids->host_gid == 0)
		return cmn_err_set(err, CMN_EINVAL, 0,
				   "refusing to map the container to host root");
	return 0;
}

static int write_proc_file(pid_t pid, const char *name, const char *text, struct cmn_err *err)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return cmn_err_sys(err, "open %s", path);
	size_t len = strlen(text);
	if (write(fd, text, len) != (ssize_t)len)
		return cmn_err_sys(err, "write %s (%s)", path, text);
	return 0;
}

int sbx_userns_map(pid_t pid, const struct sbx_ids *ids, struct cmn_err *err)
{
	char line[64];
	/* An unprivileged writer must deny setgroups first (CVE-2014-8989:
	 * dropping a group could otherwise grant access a negative ACL denied). */
	if (!ids->privileged && write_proc_file(pid, "setgroups", "deny", err) < 0)
		return -1;
	snprintf(line, sizeof(line), "%d %u 1\n", SBX_INNER_ID, (unsigned)ids->host_uid);
	if (write_proc_file(pid, "uid_map", line, err) < 0)
		return -1;
	snprintf(line, sizeof(line), "%d %u 1\n", SBX_INNER_ID, (unsigned)ids->host_gid);
	return write_proc_file(pid, "gid_map", line, err);
}

/* Switches to the inner ids while keeping the capabilities of the new user
 * ns for the rest of the setup (files created in the new root must belong to
 * a mapped id, else the kernel answers EOVERFLOW). caps.c drops them later.
 * Raw syscalls: glibc's wrappers broadcast an id change to every thread it
 * knows of, and in a clone of a threaded caller those threads do not exist,
 * so the broadcast would wait for them forever. */
int child_become_inner(const struct sbx_ids *ids, struct cmn_err *err)
{
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return cmn_err_sys(err, "prctl PR_SET_KEEPCAPS");
	/* Host root's supplementary groups (gid 0) must not follow us in. */
	if (ids->privileged && syscall(SYS_setgroups, 0, NULL) < 0)
		return cmn_err_sys(err, "setgroups 0");
	if (syscall(SYS_setresgid, SBX_INNER_ID, SBX_INNER_ID, SBX_INNER_ID) < 0)
		return cmn_err_sys(err, "setresgid %d", SBX_INNER_ID);
	if (syscall(SYS_setresuid, SBX_INNER_ID, SBX_INNER_ID, SBX_INNER_ID) < 0)
		return cmn_err_sys(err, "setresuid %d", SBX_INNER_ID);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return cmn_err_sys(err, "prctl PR_SET_KEEPCAPS 0");
	return 0;
}
