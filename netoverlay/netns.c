/* netoverlay/netns.c — creating, entering and leaving network namespaces,
 * and the per-namespace sysctls.
 *
 * Namespaces are created with unshare(CLONE_NEWNET) on the calling thread,
 * which makes them owned by the caller's user namespace (the initial one for
 * cordond): code in a container's own user ns holds no capability over them
 * and cannot reconfigure its node's network. Only the calling thread moves;
 * every path back goes through ns_return(). /proc/sys/net reflects the netns
 * of the thread that opens the file, so sysctls are written while inside. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/nsfs.h>

#include "common/cleanup.h"
#include "netoverlay/internal.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

int ns_open_current(int *out_fd, struct cmn_err *err)
{
	int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cmn_err_sys(err, "open /proc/thread-self/ns/net");
	*out_fd = fd;
	return 0;
}

int ns_create_enter(int *out_fd, struct cmn_err *err)
{
	if (unshare(CLONE_NEWNET) < 0)
		return cmn_err_sys(err, "unshare CLONE_NEWNET");
	return ns_open_current(out_fd, err);
}

int ns_enter(int ns_fd, const char *what, struct cmn_err *err)
{
	if (setns(ns_fd, CLONE_NEWNET) < 0)
		return cmn_err_sys(err, "setns %s", what);
	return 0;
}

int ns_return(int origin_fd, struct cmn_err *err)
{
	if (setns(origin_fd, CLONE_NEWNET) < 0) {
		cmn_err_sys(err, "setns back to the caller's netns");
		err->code = CMN_EINTERNAL;
		return -1;
	}
	return 0;
}

int ns_sysctl(const char *key, const char *value, bool optional, struct cmn_err *err)
{
	char path[256];
	int n = snprintf(path, sizeof(path), "/proc/sys/%s", key);
	if (n < 0 || (size_t)n >= sizeof(path))
		return cmn_err_set(err, CMN_EINVAL, 0, "sysctl name too long: %s", key);
	cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		if (optional && errno == ENOENT)
			return 0;
		return cmn_err_sys(err, "open %s", path);
	}
	size_t len = strlen(value);
	if (write(fd, value, len) != (ssize_t)len)
		return cmn_err_sys(err, "write %s to %s", value, path);
	return 0;
}

int ns_harden(bool hub, struct cmn_err *err)
{
	/* IPv6 off everywhere: link-local fe80:: addresses come up by
	 * themselves and would connect nodes around every IPv4 rule. "default"
	 * covers the devices created after this point (the veths). */
	if (ns_sysctl("net/ipv6/conf/all/disable_ipv6", "1", true, err) < 0 ||
	    ns_sysctl("net/ipv6/conf/default/disable_ipv6", "1", true, err) < 0)
		return -1;
	if (!hub)
		return 0;
	/* A fresh netns has bridge-nf-call-* on (with br_netfilter), which
	 * would send bridged frames through the ip/ip6/arp hooks of the hub. The
	 * bridge table does the pinning; the ip hooks are only for routed
	 * (granted) traffic. */
	static const char *const keys[] = { "net/bridge/bridge-nf-call-iptables",
					    "net/bridge/bridge-nf-call-ip6tables",
					    "net/bridge/bridge-nf-call-arptables" };
	for (size_t i = 0; i < CMN_ARRAY_SIZE(keys); i++) {
		if (ns_sysctl(keys[i], "0", true, err) < 0)
			return -1;
	}
	return 0;
}

int ns_cookie_of_socket(int sock_fd, uint64_t *out, struct cmn_err *err)
{
	socklen_t len = sizeof(*out);
	if (getsockopt(sock_fd, SOL_SOCKET, SO_NETNS_COOKIE, out, &len) < 0)
		return cmn_err_sys(err, "getsockopt SO_NETNS_COOKIE");
	return 0;
}

int ns_cookie_here(uint64_t *out, struct cmn_err *err)
{
	cleanup_close int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return cmn_err_sys(err, "socket AF_UNIX");
	return ns_cookie_of_socket(fd, out, err);
}

int ns_cookie_of(int ns_fd, int origin_fd, uint64_t *out, struct cmn_err *err)
{
	if (ns_enter(ns_fd, "to read its cookie", err) < 0)
		return -1;
	int rc = ns_cookie_here(out, err);
	if (ns_return(origin_fd, err) < 0)
		return -1;
	return rc;
}

int ns_open_path(const char *path, int *out_fd, struct cmn_err *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cmn_err_sys(err, "open netns %s", path);
	struct statfs sfs;
	if (fstatfs(fd, &sfs) < 0)
		return cmn_err_sys(err, "fstatfs %s", path);
	if (sfs.f_type != NSFS_MAGIC)
		return cmn_err_set(err, CMN_EINVAL, 0, "%s is not a namespace file", path);
	int type = ioctl(fd, NS_GET_NSTYPE);
	if (type < 0)
		return cmn_err_sys(err, "ioctl NS_GET_NSTYPE %s", path);
	if (type != CLONE_NEWNET)
		return cmn_err_set(err, CMN_EINVAL, 0, "%s is not a network namespace", path);
	*out_fd = steal_fd(&fd);
	return 0;
}
