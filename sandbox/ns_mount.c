/* sandbox/ns_mount.c — the container's mount namespace and root.
 *
 * Runs in the container init, in its new mount ns, holding the capabilities
 * of its new user ns. Builds a tmpfs root at STAGING, puts in it:
 *   /usr (and /lib... when the host is not usrmerged)  read-only binds
 *   /bin /sbin /lib /lib32 /lib64 /libx32               symlinks as on the host
 *   the spec's binds                                    read-only unless writable
 *   /work                                               tmpfs, size capped
 *   /tmp -> /work/tmp
 *   /proc                                               fresh, read-only
 *   /dev                                                tmpfs (ro) with null zero full urandom
 * then pivot_root()s into it, detaches the old root and makes / read-only.
 *
 * Bind sources are opened with open_tree() before the staging tmpfs hides
 * anything (a source may live under STAGING, e.g. a test's /tmp dir), and
 * their attributes are set recursively with mount_setattr() on the detached
 * copy before it is attached: no window where a submount is writable.
 * mount(2) propagation is made private first so nothing leaks to the host.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/internal.h"

#define STAGING "/tmp"

static const char *const usr_links[] = { "bin", "sbin", "lib", "lib32", "lib64", "libx32" };
static const char *const devices[] = { "null", "zero", "full", "urandom" };

static int open_one(struct sbx_tree *t, const char *src, const char *dst, bool writable,
		    bool device, struct cmn_err *err)
{
	struct stat st;
	if (stat(src, &st) < 0)
		return cmn_err_sys(err, "stat bind source %s", src);
	t->fd = open_tree(AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (t->fd < 0)
		return cmn_err_sys(err, "open_tree %s", src);
	t->dst = dst;
	t->is_dir = S_ISDIR(st.st_mode);
	t->writable = writable;
	t->device = device;
	struct mount_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.attr_set = MOUNT_ATTR_NOSUID | (device ? MOUNT_ATTR_NOEXEC : MOUNT_ATTR_NODEV) |
			(writable || device ? 0 : MOUNT_ATTR_RDONLY);
	attr.propagation = MS_PRIVATE;
	if (mount_setattr(t->fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0)
		return cmn_err_sys(err, "mount_setattr %s", src);
	return 0;
}

/* The default binds: /usr, the library dirs of a non-usrmerged host, the
 * devices; then the spec's. Fills trees, returns the count or -1. */
static int open_trees(const struct sbx_spec *spec, struct sbx_tree *trees, struct cmn_err *err)
{
	static char dev_paths[4][16];
	int n = 0;
	if (open_one(&trees[n++], "/usr", "/usr", false, false, err) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(usr_links) / sizeof(usr_links[0]); i++) {
		static char paths[6][16];
		struct stat st;
		snprintf(paths[i], sizeof(paths[i]), "/%s", usr_links[i]);
		if (lstat(paths[i], &st) == 0 && S_ISDIR(st.st_mode) &&
		    open_one(&trees[n++], paths[i], paths[i], false, false, err) < 0)
			return -1;
	}
	for (size_t i = 0; i < sizeof(devices) / sizeof(devices[0]); i++) {
		snprintf(dev_paths[i], sizeof(dev_paths[i]), "/dev/%s", devices[i]);
		if (open_one(&trees[n++], dev_paths[i], dev_paths[i], true, true, err) < 0)
			return -1;
	}
	for (size_t i = 0; i < spec->bind_count; i++) {
		const struct sbx_bind *b = &spec->binds[i];
		if (open_one(&trees[n++], b->src, b->dst ? b->dst : b->src, b->writable, false,
			     err) < 0)
			return cmn_err_wrap(err, "bind %s", b->src);
	}
	return n;
}

/* mkdir -p of STAGING + path; the last component as a file when !is_dir. */
static int make_target(const char *path, bool is_dir, char *full, size_t len, struct cmn_err *err)
{
	int w = snprintf(full, len, "%s%s", STAGING, path);
	if (w < 0 || (size_t)w >= len)
		return cmn_err_set(err, CMN_EINVAL, 0, "path too long: %s", path);
	for (char *p = full + strlen(STAGING) + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int rc = mkdir(full, 0755);
		*p = '/';
		if (rc < 0 && errno != EEXIST)
			return cmn_err_sys(err, "mkdir %s", full);
	}
	if (is_dir) {
		if (mkdir(full, 0755) < 0 && errno != EEXIST)
			return cmn_err_sys(err, "mkdir %s", full);
		return 0;
	}
	int fd = open(full, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return cmn_err_sys(err, "create mount point %s", full);
	close(fd);
	return 0;
}

static int attach_trees(struct sbx_tree *trees, int n, struct cmn_err *err)
{
	char full[PATH_MAX];
	for (int i = 0; i < n; i++) {
		if (make_target(trees[i].dst, trees[i].is_dir, full, sizeof(full), err) < 0)
			return -1;
		if (move_mount(trees[i].fd, "", AT_FDCWD, full, MOVE_MOUNT_F_EMPTY_PATH) < 0)
			return cmn_err_sys(err, "move_mount onto %s", full);
		close(trees[i].fd);
		trees[i].fd = -1;
	}
	return 0;
}

static int make_links(struct cmn_err *err)
{
	char target[PATH_MAX], host[32], link[64];
	for (size_t i = 0; i < sizeof(usr_links) / sizeof(usr_links[0]); i++) {
		snprintf(host, sizeof(host), "/%s", usr_links[i]);
		ssize_t len = readlink(host, target, sizeof(target) - 1);
		if (len < 0)
			continue; /* absent, or a real dir bound by open_trees() */
		target[len] = '\0';
		snprintf(link, sizeof(link), "%s/%s", STAGING, usr_links[i]);
		if (symlink(target, link) < 0)
			return cmn_err_sys(err, "symlink %s -> %s", link, target);
	}
	static const char *const dev_links[][2] = {
		{ "/proc/self/fd", STAGING "/dev/fd" },
		{ "/proc/self/fd/0", STAGING "/dev/stdin" },
		{ "/proc/self/fd/1", STAGING "/dev/stdout" },
		{ "/proc/self/fd/2", STAGING "/dev/stderr" },
		{ "work/tmp", STAGING "/tmp" },
	};
	for (size_t i = 0; i < sizeof(dev_links) / sizeof(dev_links[0]); i++) {
		if (symlink(dev_links[i][0], dev_links[i][1]) < 0)
			return cmn_err_sys(err, "symlink %s", dev_links[i][1]);
	}
	return 0;
}

static int mount_fresh(const struct sbx_limits *lim, struct cmn_err *err)
{
	char opts[96];
	snprintf(opts, sizeof(opts), "size=%" PRIu64 ",nr_inodes=65536,mode=0755",
		 lim->tmpfs_bytes);
	if (mkdir(STAGING SBX_WORK_DIR, 0755) < 0 && errno != EEXIST)
		return cmn_err_sys(err, "mkdir %s", STAGING SBX_WORK_DIR);
	if (mount("tmpfs", STAGING SBX_WORK_DIR, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
		return cmn_err_sys(err, "mount tmpfs %s (%s)", SBX_WORK_DIR, opts);
	if (mkdir(STAGING SBX_WORK_DIR "/tmp", 01777) < 0 ||
	    chmod(STAGING SBX_WORK_DIR "/tmp", 01777) < 0)
		return cmn_err_sys(err, "mkdir %s/tmp", SBX_WORK_DIR);
	if (mkdir(STAGING "/proc", 0555) < 0)
		return cmn_err_sys(err, "mkdir /proc");
	if (mount("proc", STAGING "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY,
		  NULL) < 0)
		return cmn_err_sys(err, "mount proc read-only");
	if (mkdir(STAGING "/dev", 0755) < 0)
		return cmn_err_sys(err, "mkdir /dev");
	if (mount("tmpfs", STAGING "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC,
		  "size=16k,nr_inodes=64,mode=0755") < 0)
		return cmn_err_sys(err, "mount tmpfs /dev");
	return 0;
}

static int enter_root(const struct sbx_spec *spec, struct cmn_err *err)
{
	if (chdir(STAGING) < 0)
		return cmn_err_sys(err, "chdir %s", STAGING);
	/* pivot_root(".", "."): the old root ends up on top of the new one and
	 * is detached right away; no directory for it is needed. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return cmn_err_sys(err, "pivot_root %s", STAGING);
	if (umount2(".", MNT_DETACH) < 0)
		return cmn_err_sys(err, "umount2 old root");
	if (mount(NULL, "/dev", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL) < 0)
		return cmn_err_sys(err, "remount /dev read-only");
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) <
	    0)
		return cmn_err_sys(err, "remount / read-only");
	const char *cwd = spec->cwd ? spec->cwd : SBX_WORK_DIR;
	if (chdir(cwd) < 0)
		return cmn_err_sys(err, "chdir %s", cwd);
	return 0;
}

/* Runs with the caller's file access (before the switch to the inner ids):
 * the caller chose the binds, and a source under a 0700 dir of its own is
 * fine; inside, every access through the bind is checked against the
 * container's own (unprivileged) ids. */
int child_open_binds(const struct sbx_spec *spec, struct sbx_mount_plan *plan, struct cmn_err *err)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return cmn_err_sys(err, "mount / MS_REC|MS_PRIVATE");
	plan->count = open_trees(spec, plan->trees, err);
	return plan->count < 0 ? -1 : 0;
}

int child_build_root(const struct sbx_spec *spec, const struct sbx_limits *lim,
		     struct sbx_mount_plan *plan, struct cmn_err *err)
{
	if (mount("tmpfs", STAGING, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755") < 0)
		return cmn_err_sys(err, "mount tmpfs root on %s", STAGING);
	if (mount_fresh(lim, err) < 0 || make_links(err) < 0 ||
	    attach_trees(plan->trees, plan->count, err) < 0)
		return -1;
	return enter_root(spec, err);
}
