/* netoverlay/ipam.c — a /24 per live job from a pool, and the lock files
 * that make "live" mean something across processes.
 *
 * A lease is run_dir/subnet-A.B.C.0 held with flock(LOCK_EX) for the life of
 * the overlay: the kernel drops the lock when the owner dies, however it
 * dies, so a lease is live exactly while its owner is. A job never gets a
 * subnet whose lease is held, and subnets overlapping any route of the
 * routing netns (the host's own networks) are never handed out. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/parse.h"
#include "netoverlay/internal.h"

#define MAX_AVOID 4096

int ipam_parse_cidr(const char *text, uint32_t *net, unsigned *prefix, struct cmn_err *err)
{
	char addr[32];
	const char *slash = strchr(text, '/');
	size_t alen = slash ? (size_t)(slash - text) : strlen(text);
	if (alen == 0 || alen >= sizeof(addr))
		return cmn_err_set(err, CMN_EINVAL, 0, "bad CIDR '%s'", text);
	memcpy(addr, text, alen);
	addr[alen] = '\0';
	struct in_addr in;
	if (inet_pton(AF_INET, addr, &in) != 1)
		return cmn_err_set(err, CMN_EINVAL, 0, "bad IPv4 address '%s'", addr);
	uint64_t p = 32;
	if (slash) {
		struct cmn_err e2 = CMN_ERR_INIT;
		if (slash[1] == '\0' || cmn_parse_u64(slash + 1, &p, &e2) < 0 || p > 32)
			return cmn_err_set(err, CMN_EINVAL, 0, "bad prefix length in '%s'", text);
	}
	uint32_t a = ntohl(in.s_addr);
	uint32_t mask = p == 0 ? 0 : ~0u << (32 - p);
	if (a & ~mask)
		return cmn_err_set(err, CMN_EINVAL, 0, "'%s' has host bits set", text);
	*net = a;
	*prefix = (unsigned)p;
	return 0;
}

void ipam_format(uint32_t addr, char *buf, size_t len)
{
	snprintf(buf, len, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 255, (addr >> 8) & 255,
		 addr & 255);
}

int run_dir_ensure(const char *dir, struct cmn_err *err)
{
	char path[PATH_MAX];
	size_t len = strlen(dir);
	if (len == 0 || len >= sizeof(path))
		return cmn_err_set(err, CMN_EINVAL, 0, "bad run dir '%s'", dir);
	memcpy(path, dir, len + 1);
	for (char *p = path + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(path, 0700) < 0 && errno != EEXIST)
				return cmn_err_sys(err, "mkdir %s", path);
			*p = c;
			if (c == '\0')
				break;
		}
	}
	return 0;
}

int lock_file(const char *dir, const char *name, int *out_fd, struct cmn_err *err)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return cmn_err_set(err, CMN_EINVAL, 0, "path too long: %s/%s", dir, name);
	for (int attempt = 0; attempt < 8; attempt++) {
		cleanup_close int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			return cmn_err_sys(err, "open %s", path);
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			if (errno == EWOULDBLOCK)
				return 0;
			return cmn_err_sys(err, "flock %s", path);
		}
		/* The previous holder may have unlinked the file between our open
		 * and our flock: then we hold a lock nobody can see. Retry. */
		struct stat a, b;
		if (fstat(fd, &a) < 0)
			return cmn_err_sys(err, "fstat %s", path);
		if (stat(path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
			*out_fd = steal_fd(&fd);
			return 1;
		}
	}
	return cmn_err_set(err, CMN_ECONFLICT, 0, "lock %s: keeps being replaced", path);
}

struct avoid {
	uint32_t net[MAX_AVOID];
	unsigned prefix[MAX_AVOID];
	size_t count;
	bool overflow;
};

static void add_avoid(uint32_t dst, unsigned prefix, void *arg)
{
	struct avoid *a = arg;
	if (a->count == MAX_AVOID) {
		a->overflow = true;
		return;
	}
	a->net[a->count] = dst;
	a->prefix[a->count] = prefix;
	a->count++;
}

static bool overlaps(const struct avoid *a, uint32_t subnet)
{
	for (size_t i = 0; i < a->count; i++) {
		unsigned m = a->prefix[i] < 24 ? a->prefix[i] : 24;
		uint32_t mask = m == 0 ? 0 : ~0u << (32 - m);
		if (((a->net[i] ^ subnet) & mask) == 0)
			return true;
	}
	return false;
}

static int load_routes(struct avoid *a, int route_ns_fd, int origin_fd, struct cmn_err *err)
{
	struct nl_sock *sk = NULL;
	if (route_ns_fd >= 0 && ns_enter(route_ns_fd, "to read routes", err) < 0)
		return -1;
	int rc = lk_socket(&sk, err);
	if (route_ns_fd >= 0 && ns_return(origin_fd, err) < 0) {
		lk_socket_free(sk);
		return -1;
	}
	if (rc < 0)
		return -1;
	rc = lk_each_route(sk, add_avoid, a, err);
	lk_socket_free(sk);
	if (rc == 0 && a->overflow)
		return cmn_err_set(err, CMN_ELIMIT, 0, "more than %d routes to avoid", MAX_AVOID);
	return rc;
}

static int try_lease(struct ovl_overlay *ov, uint32_t subnet, struct cmn_err *err)
{
	char name[48], text[16];
	ipam_format(subnet, text, sizeof(text));
	snprintf(name, sizeof(name), OVL_LEASE_FILE_PREFIX "%s", text);
	int fd = -1;
	int rc = lock_file(ov->run_dir, name, &fd, err);
	if (rc <= 0)
		return rc;
	size_t len = strlen(ov->job);
	if (ftruncate(fd, 0) < 0 || pwrite(fd, ov->job, len, 0) != (ssize_t)len) {
		cmn_err_sys(err, "write lease %s", name);
		close(fd);
		return -1;
	}
	ov->lease_fd = fd;
	ov->subnet = subnet;
	snprintf(ov->subnet_str, sizeof(ov->subnet_str), "%s/24", text);
	return 1;
}

int ipam_acquire(struct ovl_overlay *ov, const char *pool, const char *fixed_subnet,
		 int route_ns_fd, int origin_fd, struct cmn_err *err)
{
	uint32_t net;
	unsigned prefix;
	cleanup_free struct avoid *a = calloc(1, sizeof(*a));
	if (!a)
		return cmn_err_set(err, CMN_ENOMEM, ENOMEM, "calloc route table");
	if (load_routes(a, route_ns_fd, origin_fd, err) < 0)
		return cmn_err_wrap(err, "ipam");
	if (fixed_subnet) {
		if (ipam_parse_cidr(fixed_subnet, &net, &prefix, err) < 0)
			return -1;
		if (prefix != 24)
			return cmn_err_set(err, CMN_EINVAL, 0, "subnet %s is not a /24",
					   fixed_subnet);
		if (overlaps(a, net))
			return cmn_err_set(err, CMN_ECONFLICT, 0,
					   "subnet %s overlaps a route of the host", fixed_subnet);
		int rc = try_lease(ov, net, err);
		if (rc == 0)
			return cmn_err_set(err, CMN_ECONFLICT, 0,
					   "subnet %s is leased to a live job", fixed_subnet);
		return rc < 0 ? -1 : 0;
	}
	if (ipam_parse_cidr(pool ? pool : OVL_DEFAULT_POOL, &net, &prefix, err) < 0)
		return cmn_err_wrap(err, "ipam pool");
	if (prefix > 24)
		return cmn_err_set(err, CMN_EINVAL, 0, "ipam pool must be /24 or larger");
	uint32_t count = 1u << (24 - prefix);
	for (uint32_t i = 0; i < count; i++) {
		uint32_t subnet = net + (i << 8);
		if (overlaps(a, subnet))
			continue;
		int rc = try_lease(ov, subnet, err);
		if (rc < 0)
			return -1;
		if (rc == 1)
			return 0;
	}
	return cmn_err_set(err, CMN_ELIMIT, 0, "ipam: no free /24 left in %s",
			   pool ? pool : OVL_DEFAULT_POOL);
}

void ipam_release(struct ovl_overlay *ov)
{
	if (ov->lease_fd < 0)
		return;
	char path[PATH_MAX], text[16];
	ipam_format(ov->subnet, text, sizeof(text));
	int n = snprintf(path, sizeof(path), "%s/" OVL_LEASE_FILE_PREFIX "%s", ov->run_dir, text);
	/* Unlink while still holding the lock, so nobody sees a free file that
	 * is about to vanish (lock_file re-checks the inode anyway). */
	if (n > 0 && (size_t)n < sizeof(path))
		unlink(path);
	close(ov->lease_fd);
	ov->lease_fd = -1;
}
