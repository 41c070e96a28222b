/* netoverlay/link.c — links, addresses and routes through libnl-route.
 *
 * Every nl_sock is bound to the netns it was opened in (the socket keeps
 * that netns, not the thread's current one), which is how one socket per
 * namespace configures the overlay without moving the thread. Links are
 * created with the ifindex the overlay chose, so no lookup round trip is
 * needed afterwards; the veth peer is created directly in its target netns
 * (IFLA_NET_NS_FD in the peer's info), which is much cheaper than creating it
 * here and moving it. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <net/if.h>
#include <string.h>

#include <arpa/inet.h>
#include <linux/rtnetlink.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>

#include "netoverlay/internal.h"

static int nl_code(int nlerr)
{
	switch (nlerr) {
	case NLE_EXIST:
		return CMN_EEXIST;
	case NLE_NOMEM:
		return CMN_ENOMEM;
	case NLE_PERM:
	case NLE_NOACCESS:
		return CMN_EDENIED;
	case NLE_OBJ_NOTFOUND:
	case NLE_NODEV:
		return CMN_ENOTFOUND;
	case NLE_INVAL:
	case NLE_RANGE:
		return CMN_EINVAL;
	case NLE_OPNOTSUPP:
	case NLE_AF_NOSUPPORT:
		return CMN_EUNAVAIL;
	default:
		return CMN_EINTERNAL;
	}
}

__attribute__((format(printf, 3, 4))) static int nl_fail(struct cmn_err *err, int rc,
							 const char *fmt, ...)
{
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	int e = rc < 0 ? -rc : rc;
	return cmn_err_set(err, nl_code(e), 0, "netlink %s: %s", what, nl_geterror(e));
}

int lk_socket(struct nl_sock **out, struct cmn_err *err)
{
	struct nl_sock *sk = nl_socket_alloc();
	if (!sk)
		return cmn_err_set(err, CMN_ENOMEM, ENOMEM, "nl_socket_alloc");
	/* libnl opens the socket with SOCK_CLOEXEC. */
	int rc = nl_connect(sk, NETLINK_ROUTE);
	if (rc < 0) {
		nl_socket_free(sk);
		return nl_fail(err, rc, "connect NETLINK_ROUTE");
	}
	*out = sk;
	return 0;
}

void lk_socket_free(struct nl_sock *sk)
{
	if (sk)
		nl_socket_free(sk); /* closes the fd too */
}

int lk_socket_fd(struct nl_sock *sk)
{
	return nl_socket_get_fd(sk);
}

int lk_bridge_add(struct nl_sock *sk, const char *name, int ifindex, struct cmn_err *err)
{
	struct rtnl_link *link = rtnl_link_bridge_alloc();
	if (!link)
		return cmn_err_set(err, CMN_ENOMEM, ENOMEM, "rtnl_link_bridge_alloc");
	rtnl_link_set_name(link, name);
	rtnl_link_set_ifindex(link, ifindex);
	rtnl_link_set_flags(link, IFF_UP);
	int rc = rtnl_link_add(sk, link, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_link_put(link);
	if (rc < 0)
		return nl_fail(err, rc, "add bridge %s", name);
	return 0;
}

int lk_veth_add(struct nl_sock *sk, const char *name, int ifindex, int master_ifindex,
		int peer_ns_fd, const char *peer_name, int peer_ifindex,
		const unsigned char *peer_mac, unsigned mtu, struct cmn_err *err)
{
	struct rtnl_link *link = rtnl_link_veth_alloc();
	if (!link)
		return cmn_err_set(err, CMN_ENOMEM, ENOMEM, "rtnl_link_veth_alloc");
	struct rtnl_link *peer = rtnl_link_veth_get_peer(link);
	struct nl_addr *mac = NULL;
	int rc = -NLE_NOMEM;
	rtnl_link_set_name(link, name);
	if (ifindex > 0)
		rtnl_link_set_ifindex(link, ifindex);
	if (master_ifindex > 0)
		rtnl_link_set_master(link, master_ifindex);
	rtnl_link_set_flags(link, IFF_UP);
	/* One queue each way, asked for explicitly: without IFLA_NUM_*_QUEUES
	 * the kernel allocates one per possible CPU and veth_init_queues then
	 * shrinks the real count to 1, and shrinking a registered device's tx
	 * queues waits for an RCU grace period (synchronize_net under RTNL),
	 * which was half the cost of each veth. One queue is what the kernel
	 * would use anyway without XDP. */
	rtnl_link_set_num_tx_queues(link, 1);
	rtnl_link_set_num_rx_queues(link, 1);
	rtnl_link_set_num_tx_queues(peer, 1);
	rtnl_link_set_num_rx_queues(peer, 1);
	if (mtu > 0) { /* 0: the kernel's default */
		rtnl_link_set_mtu(link, mtu);
		rtnl_link_set_mtu(peer, mtu);
	}
	rtnl_link_set_name(peer, peer_name);
	if (peer_ifindex > 0)
		rtnl_link_set_ifindex(peer, peer_ifindex);
	rtnl_link_set_ns_fd(peer, peer_ns_fd);
	if (peer_mac) {
		mac = nl_addr_build(AF_LLC, peer_mac, 6);
		if (!mac)
			goto out;
		rtnl_link_set_addr(peer, mac);
	}
	rc = rtnl_link_add(sk, link, NLM_F_CREATE | NLM_F_EXCL);
out:
	nl_addr_put(mac);
	rtnl_link_put(peer);
	rtnl_link_put(link);
	if (rc < 0)
		return nl_fail(err, rc, "add veth %s (peer %s)", name, peer_name);
	return 0;
}

int lk_up(struct nl_sock *sk, int ifindex, struct cmn_err *err)
{
	struct rtnl_link *link = rtnl_link_alloc();
	if (!link)
		return cmn_err_set(err, CMN_ENOMEM, ENOMEM, "rtnl_link_alloc");
	rtnl_link_set_ifindex(link, ifindex);
	rtnl_link_set_flags(link, IFF_UP);
	int rc = rtnl_link_change(sk, link, link, 0);
	rtnl_link_put(link);
	if (rc < 0)
		return nl_fail(err, rc, "set link %d up", ifindex);
	return 0;
}

static struct nl_addr *nl_inet(uint32_t addr, unsigned prefix)
{
	uint32_t be = htonl(addr);
	struct nl_addr *a = nl_addr_build(AF_INET, &be, sizeof(be));
	if (a)
		nl_addr_set_prefixlen(a, (int)prefix);
	return a;
}

int lk_addr_add(struct nl_sock *sk, int ifindex, uint32_t addr, unsigned prefix,
		struct cmn_err *err)
{
	struct rtnl_addr *ra = rtnl_addr_alloc();
	struct nl_addr *local = nl_inet(addr, prefix);
	int rc = -NLE_NOMEM;
	if (!ra || !local)
		goto out;
	rtnl_addr_set_ifindex(ra, ifindex);
	rtnl_addr_set_family(ra, AF_INET);
	rc = rtnl_addr_set_local(ra, local);
	if (rc == 0)
		rc = rtnl_addr_add(sk, ra, 0);
out:
	nl_addr_put(local);
	rtnl_addr_put(ra);
	if (rc < 0) {
		char text[16];
		ipam_format(addr, text, sizeof(text));
		return nl_fail(err, rc, "add address %s/%u on link %d", text, prefix, ifindex);
	}
	return 0;
}

int lk_route_add(struct nl_sock *sk, uint32_t dst, unsigned prefix, uint32_t gateway, int ifindex,
		 unsigned mtu, struct cmn_err *err)
{
	struct rtnl_route *route = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	struct nl_addr *d = nl_inet(dst, prefix);
	struct nl_addr *gw = nl_inet(gateway, 32);
	int rc = -NLE_NOMEM;
	if (!route || !nh || !d || !gw)
		goto out;
	rtnl_route_set_family(route, AF_INET);
	rtnl_route_set_table(route, RT_TABLE_MAIN);
	rtnl_route_set_protocol(route, RTPROT_STATIC);
	rtnl_route_set_scope(route, RT_SCOPE_UNIVERSE);
	rtnl_route_set_type(route, RTN_UNICAST);
	rc = rtnl_route_set_dst(route, d);
	if (rc == 0 && mtu > 0)
		rc = rtnl_route_set_metric(route, RTAX_MTU, mtu);
	if (rc < 0)
		goto out;
	rtnl_route_nh_set_ifindex(nh, ifindex);
	rtnl_route_nh_set_gateway(nh, gw);
	rtnl_route_add_nexthop(route, nh);
	nh = NULL; /* owned by the route now */
	rc = rtnl_route_add(sk, route, NLM_F_EXCL);
out:
	if (nh)
		rtnl_route_nh_free(nh);
	nl_addr_put(gw);
	nl_addr_put(d);
	if (route)
		rtnl_route_put(route);
	if (rc < 0) {
		char text[16];
		ipam_format(dst, text, sizeof(text));
		return nl_fail(err, rc, "add route %s/%u", text, prefix);
	}
	return 0;
}

int lk_index(struct nl_sock *sk, const char *name, int *out, struct cmn_err *err)
{
	struct rtnl_link *link = NULL;
	int rc = rtnl_link_get_kernel(sk, 0, name, &link);
	*out = 0;
	if (rc == -NLE_NODEV || rc == -NLE_OBJ_NOTFOUND)
		return 0;
	if (rc < 0)
		return nl_fail(err, rc, "get link %s", name);
	*out = rtnl_link_get_ifindex(link);
	rtnl_link_put(link);
	return 0;
}

int lk_delete(struct nl_sock *sk, const char *name, struct cmn_err *err)
{
	struct rtnl_link *link = rtnl_link_alloc();
	if (!link)
		return cmn_err_set(err, CMN_ENOMEM, ENOMEM, "rtnl_link_alloc");
	rtnl_link_set_name(link, name);
	int rc = rtnl_link_delete(sk, link);
	rtnl_link_put(link);
	if (rc < 0 && rc != -NLE_NODEV && rc != -NLE_OBJ_NOTFOUND)
		return nl_fail(err, rc, "delete link %s", name);
	return 0;
}

struct name_iter {
	void (*fn)(const char *name, void *arg);
	void *arg;
};

static void name_cb(struct nl_object *obj, void *arg)
{
	struct name_iter *it = arg;
	const char *name = rtnl_link_get_name((struct rtnl_link *)obj);
	if (name)
		it->fn(name, it->arg);
}

int lk_each_name(struct nl_sock *sk, void (*fn)(const char *name, void *arg), void *arg,
		 struct cmn_err *err)
{
	struct nl_cache *cache = NULL;
	int rc = rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache);
	if (rc < 0)
		return nl_fail(err, rc, "dump links");
	struct name_iter it = { fn, arg };
	nl_cache_foreach(cache, name_cb, &it);
	nl_cache_free(cache);
	return 0;
}

struct route_iter {
	void (*fn)(uint32_t dst, unsigned prefix, void *arg);
	void *arg;
};

static void route_cb(struct nl_object *obj, void *arg)
{
	struct route_iter *it = arg;
	struct nl_addr *dst = rtnl_route_get_dst((struct rtnl_route *)obj);
	if (!dst || nl_addr_get_family(dst) != AF_INET || nl_addr_get_len(dst) != 4)
		return;
	unsigned prefix = nl_addr_get_prefixlen(dst);
	if (prefix == 0)
		return; /* a default route overlaps everything; it is not "the host's" */
	uint32_t be;
	memcpy(&be, nl_addr_get_binary_addr(dst), sizeof(be));
	it->fn(ntohl(be), prefix, it->arg);
}

int lk_each_route(struct nl_sock *sk, void (*fn)(uint32_t dst, unsigned prefix, void *arg),
		  void *arg, struct cmn_err *err)
{
	struct nl_cache *cache = NULL;
	int rc = rtnl_route_alloc_cache(sk, AF_INET, 0, &cache);
	if (rc < 0)
		return nl_fail(err, rc, "dump routes");
	struct route_iter it = { fn, arg };
	nl_cache_foreach(cache, route_cb, &it);
	nl_cache_free(cache);
	return 0;
}
