/* sandbox/ns_net.c — the container's network namespace.
 *
 * SBX_NET_NONE / SBX_NET_LOOPBACK: clone() makes a new, empty netns owned by
 * the container's user ns; with LOOPBACK the setup brings `lo` up while it
 * still holds CAP_NET_ADMIN there.
 * SBX_NET_JOIN: the target (e.g. a job overlay node netns) is owned by the
 * host user ns, where the container has no capability, so it cannot be
 * joined from inside. The spawning thread enters it just for the clone()
 * (setns affects only the calling thread, and clone copies that thread's
 * namespaces), then returns to where it was.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "sandbox/internal.h"

int sbx_netns_enter(int netns_fd, int *saved_fd, struct cmn_err *err)
{
	cleanup_close int saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (saved < 0)
		return cmn_err_sys(err, "open /proc/thread-self/ns/net");
	if (setns(netns_fd, CLONE_NEWNET) < 0)
		return cmn_err_sys(err, "setns fd %d CLONE_NEWNET", netns_fd);
	*saved_fd = steal_fd(&saved);
	return 0;
}

int sbx_netns_leave(int saved_fd, struct cmn_err *err)
{
	int rc = setns(saved_fd, CLONE_NEWNET);
	if (rc < 0)
		cmn_err_sys(err, "setns back to the caller's netns");
	close(saved_fd);
	return rc < 0 ? -1 : 0;
}

int child_loopback_up(struct cmn_err *err)
{
	cleanup_close int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return cmn_err_sys(err, "socket AF_INET for lo");
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "lo", 3);
	if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0)
		return cmn_err_sys(err, "ioctl SIOCGIFFLAGS lo");
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0)
		return cmn_err_sys(err, "ioctl SIOCSIFFLAGS lo up");
	return 0;
}
