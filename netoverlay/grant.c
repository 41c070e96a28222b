/* netoverlay/grant.c — a network link from a job's overlay to exact
 * destinations.
 *
 * Path of a granted connection: node eth0 → (route for the granted prefix
 * via 10.x.y.1) → hub br0 → hub forward chain (policy drop; accepts exactly
 * the granted daddr/dport) → masquerade to 10.x.y.253 on up0 → uplink veth
 * → gateway netns "cdn-<job>" (10.x.y.254/30) → the gateway's own routing,
 * where table cordon_<job> again accepts only the granted destinations from
 * the uplink, drops anything addressed to the gateway itself, and
 * masquerades to the gateway's outgoing address. The hub and the gateway
 * each enforce the list, so neither alone is a single point of failure.
 * Nothing is added to the gateway but the uplink, its address, forwarding on
 * that one device, and the job's own nft table (whose base chains accept by
 * default so they cannot affect the gateway's other traffic). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/parse.h"
#include "netoverlay/internal.h"

#define UPLINK_NET(ov) ((ov)->subnet + 252) /* 10.x.y.252/30 */
#define HUB_UP_ADDR(ov) ((ov)->subnet + 253)
#define GW_UP_ADDR(ov) ((ov)->subnet + 254)
#define HUB_BR_ADDR(ov) ((ov)->subnet + 1)

static int parse_port(const char *s, size_t len, uint16_t *out)
{
	char buf[8];
	uint64_t v;
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (cmn_parse_u64(buf, &v, NULL) < 0 || v < 1 || v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

int ovl_dest_parse(const char *text, struct ovl_dest *out, struct cmn_err *err)
{
	const char *colon = strrchr(text, ':');
	if (!colon)
		return cmn_err_set(err, CMN_EINVAL, 0, "destination '%s' is not CIDR:PORT", text);
	char cidr[32];
	size_t clen = (size_t)(colon - text);
	if (clen == 0 || clen >= sizeof(cidr))
		return cmn_err_set(err, CMN_EINVAL, 0, "bad destination '%s'", text);
	memcpy(cidr, text, clen);
	cidr[clen] = '\0';
	uint32_t net;
	unsigned prefix;
	if (ipam_parse_cidr(cidr, &net, &prefix, err) < 0)
		return cmn_err_wrap(err, "destination '%s'", text);
	const char *ports = colon + 1;
	const char *dash = strchr(ports, '-');
	uint16_t lo, hi;
	if (dash) {
		if (parse_port(ports, (size_t)(dash - ports), &lo) < 0 ||
		    parse_port(dash + 1, strlen(dash + 1), &hi) < 0 || hi < lo)
			return cmn_err_set(err, CMN_EINVAL, 0, "bad port range in '%s'", text);
	} else {
		if (parse_port(ports, strlen(ports), &lo) < 0)
			return cmn_err_set(err, CMN_EINVAL, 0, "bad port in '%s'", text);
		hi = lo;
	}
	out->net.s_addr = htonl(net);
	out->prefix = prefix;
	out->port_lo = lo;
	out->port_hi = hi;
	return 0;
}

static int dest_rules(struct cmn_buf *b, const struct ovl_dest *d, size_t n, const char *prefix,
		      struct cmn_err *err)
{
	for (size_t i = 0; i < n; i++) {
		char net[16];
		ipam_format(ntohl(d[i].net.s_addr), net, sizeof(net));
		if (cmn_buf_printf(b, err, "%sip daddr %s/%u tcp dport %u-%u accept\n", prefix, net,
				   d[i].prefix, d[i].port_lo, d[i].port_hi) < 0)
			return -1;
	}
	return 0;
}

static int check_dests(const struct ovl_overlay *ov, const struct ovl_dest *d, size_t n,
		       struct cmn_err *err)
{
	if (n < 1 || n > OVL_MAX_DESTS)
		return cmn_err_set(err, CMN_EINVAL, 0, "a grant needs 1..%d destinations",
				   OVL_MAX_DESTS);
	for (size_t i = 0; i < n; i++) {
		uint32_t net = ntohl(d[i].net.s_addr);
		unsigned m = d[i].prefix < 24 ? d[i].prefix : 24;
		uint32_t mask = m == 0 ? 0 : ~0u << (32 - m);
		uint32_t pmask = d[i].prefix == 0 ? 0 : ~0u << (32 - d[i].prefix);
		if (d[i].prefix > 32 || (net & ~pmask) || d[i].port_lo == 0 ||
		    d[i].port_hi < d[i].port_lo)
			return cmn_err_set(err, CMN_EINVAL, 0, "destination %zu is malformed", i);
		if (((net ^ ov->subnet) & mask) == 0)
			return cmn_err_set(err, CMN_EINVAL, 0,
					   "destination %zu overlaps the job subnet %s", i,
					   ov->subnet_str);
	}
	return 0;
}

static int drop_stale_uplink(struct ovl_overlay *ov, int origin, const char *gwname,
			     struct cmn_err *err)
{
	struct nl_sock *sk = NULL;
	if (ns_enter(ov->gw_fd, "gateway", err) < 0)
		return -1;
	int rc = lk_socket(&sk, err);
	if (ns_return(origin, err) < 0) {
		lk_socket_free(sk);
		return -1;
	}
	if (rc == 0)
		rc = lk_delete(sk, gwname, err);
	lk_socket_free(sk);
	return rc;
}

static int hub_side(struct ovl_overlay *ov, int origin, const struct ovl_dest *d, size_t n,
		    struct cmn_err *err)
{
	struct nl_sock *sk = NULL;
	char gwname[IF_NAMESIZE];
	snprintf(gwname, sizeof(gwname), OVL_GW_LINK_PREFIX "%s", ov->job);
	if (ns_enter(ov->hub_fd, "hub", err) < 0)
		return -1;
	int rc = ns_sysctl("net/ipv4/conf/all/forwarding", "1", false, err);
	if (rc == 0)
		rc = lk_socket(&sk, err);
	if (ns_return(origin, err) < 0) {
		lk_socket_free(sk);
		return -1;
	}
	/* A previous overlay of this job id may have left its uplink to the
	 * kernel's asynchronous cleanup; we hold the job's lock, so it is ours. */
	if (rc == 0)
		rc = drop_stale_uplink(ov, origin, gwname, err);
	if (rc == 0)
		rc = lk_veth_add(sk, OVL_HUB_UPLINK, OVL_HUB_UPLINK_IFINDEX, 0, ov->gw_fd, gwname,
				 0, NULL, OVL_UPLINK_MTU, err);
	if (rc == 0)
		rc = lk_addr_add(sk, OVL_HUB_UPLINK_IFINDEX, HUB_UP_ADDR(ov), 30, err);
	if (rc == 0)
		rc = lk_addr_add(sk, OVL_BRIDGE_IFINDEX, HUB_BR_ADDR(ov), 24, err);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = lk_route_add(sk, ntohl(d[i].net.s_addr), d[i].prefix, GW_UP_ADDR(ov),
				  OVL_HUB_UPLINK_IFINDEX, 0, err);
	lk_socket_free(sk);
	if (rc < 0)
		return -1;

	cleanup_buf struct cmn_buf b = { 0 };
	cmn_buf_init(&b, 0);
	char net[16];
	ipam_format(ov->subnet, net, sizeof(net));
	if (cmn_buf_printf(&b, err,
			   "add rule ip cordon_hub forward iifname \"" OVL_HUB_UPLINK
			   "\" oifname \"" OVL_BRIDGE
			   "\" ct state established,related accept\n") < 0)
		return -1;
	char pfx[128];
	snprintf(pfx, sizeof(pfx),
		 "add rule ip cordon_hub forward iifname \"" OVL_BRIDGE
		 "\" oifname \"" OVL_HUB_UPLINK "\" ip saddr %s/24 ",
		 net);
	if (dest_rules(&b, d, n, pfx, err) < 0 ||
	    cmn_buf_append_str(&b,
			       "table ip cordon_nat {\n\tchain postrouting {\n"
			       "\t\ttype nat hook postrouting priority 100; policy accept;\n"
			       "\t\toifname \"" OVL_HUB_UPLINK "\" masquerade\n\t}\n}\n",
			       err) < 0)
		return -1;
	return nft_run_in(ov->hub_fd, origin, b.data, NULL, err);
}

static int gateway_side(struct ovl_overlay *ov, int origin, const struct ovl_dest *d, size_t n,
			struct cmn_err *err)
{
	char gwname[IF_NAMESIZE], key[96], up[16];
	snprintf(gwname, sizeof(gwname), OVL_GW_LINK_PREFIX "%s", ov->job);
	ipam_format(UPLINK_NET(ov), up, sizeof(up));
	cleanup_buf struct cmn_buf b = { 0 };
	cmn_buf_init(&b, 0);
	if (cmn_buf_printf(
		&b, err,
		"table ip " OVL_GW_TABLE_PREFIX "%s {\n"
		"\tchain input {\n\t\ttype filter hook input priority 0; policy accept;\n"
		"\t\tiifname \"%s\" drop\n\t}\n"
		"\tchain forward {\n\t\ttype filter hook forward priority 0; policy accept;\n"
		"\t\tiifname \"%s\" jump from_job\n"
		"\t\toifname \"%s\" ct state established,related accept\n"
		"\t\toifname \"%s\" drop\n\t}\n"
		"\tchain postrouting {\n"
		"\t\ttype nat hook postrouting priority 100; policy accept;\n"
		"\t\tip saddr %s/30 oifname != \"%s\" masquerade\n\t}\n"
		"\tchain from_job {\n",
		ov->job, gwname, gwname, gwname, gwname, up, gwname) < 0 ||
	    dest_rules(&b, d, n, "\t\t", err) < 0 ||
	    cmn_buf_append_str(&b, "\t\tdrop\n\t}\n}\n", err) < 0)
		return -1;

	struct nl_sock *sk = NULL;
	int ifindex = 0;
	if (ns_enter(ov->gw_fd, "gateway", err) < 0)
		return -1;
	int rc = lk_socket(&sk, err);
	if (rc == 0)
		rc = lk_index(sk, gwname, &ifindex, err);
	if (rc == 0 && ifindex == 0)
		rc = cmn_err_set(err, CMN_EINTERNAL, 0, "uplink %s missing in the gateway", gwname);
	if (rc == 0)
		rc = lk_addr_add(sk, ifindex, GW_UP_ADDR(ov), 30, err);
	if (rc == 0)
		rc = lk_up(sk, ifindex, err);
	snprintf(key, sizeof(key), "net/ipv4/conf/%s/forwarding", gwname);
	if (rc == 0)
		rc = ns_sysctl(key, "1", false, err);
	if (rc == 0)
		rc = nft_run_in(-1, origin, b.data, NULL, err);
	lk_socket_free(sk);
	if (ns_return(origin, err) < 0)
		return -1;
	return rc;
}

static int node_routes(struct ovl_overlay *ov, int origin, const struct ovl_dest *d, size_t n,
		       struct cmn_err *err)
{
	for (size_t i = 0; i < ov->node_count; i++) {
		struct nl_sock *sk = NULL;
		if (ns_enter(ov->nodes[i].netns_fd, "node", err) < 0)
			return -1;
		int rc = lk_socket(&sk, err);
		if (ns_return(origin, err) < 0) {
			lk_socket_free(sk);
			return -1;
		}
		for (size_t j = 0; rc == 0 && j < n; j++)
			rc = lk_route_add(sk, ntohl(d[j].net.s_addr), d[j].prefix, HUB_BR_ADDR(ov),
					  OVL_NODE_IFINDEX, OVL_UPLINK_MTU, err);
		lk_socket_free(sk);
		if (rc < 0)
			return cmn_err_wrap(err, "node %zu", i);
	}
	return 0;
}

int ovl_grant(struct ovl_overlay *ov, const char *gateway_netns, const struct ovl_dest *dests,
	      size_t dest_count, struct cmn_err *err)
{
	if (ov->granted)
		return cmn_err_set(err, CMN_EEXIST, 0, "job %s already has a grant", ov->job);
	if (check_dests(ov, dests, dest_count, err) < 0)
		return -1;
	size_t plen = strlen(gateway_netns);
	if (plen >= sizeof(ov->gw_path))
		return cmn_err_set(err, CMN_EINVAL, 0, "gateway path too long");
	cleanup_close int origin = -1;
	if (ns_open_current(&origin, err) < 0 || ns_open_path(gateway_netns, &ov->gw_fd, err) < 0)
		return cmn_err_wrap(err, "grant");
	memcpy(ov->gw_path, gateway_netns, plen + 1);
	ov->granted = true;
	/* Recorded before anything exists in the gateway, so a crash from here
	 * on leaves something ovl_gc can find. */
	int rc = ns_cookie_of(ov->gw_fd, origin, &ov->gw_cookie, err);
	if (rc == 0)
		rc = record_write(ov, err);
	if (rc == 0)
		rc = hub_side(ov, origin, dests, dest_count, err);
	if (rc == 0)
		rc = gateway_side(ov, origin, dests, dest_count, err);
	if (rc == 0)
		rc = node_routes(ov, origin, dests, dest_count, err);
	if (rc < 0)
		return cmn_err_wrap(err, "grant for job %s via %s", ov->job, gateway_netns);
	return 0;
}

int grant_remove_gateway(const char *job, int gw_fd, int origin_fd, bool delete_link,
			 struct cmn_err *err)
{
	char gwname[IF_NAMESIZE], script[160];
	snprintf(gwname, sizeof(gwname), OVL_GW_LINK_PREFIX "%s", job);
	/* "add" then "delete" in one transaction: removes the table whether or
	 * not it exists (nft 1.0.6 has no "destroy"). */
	snprintf(script, sizeof(script),
		 "add table ip " OVL_GW_TABLE_PREFIX "%s\ndelete table ip " OVL_GW_TABLE_PREFIX
		 "%s\n",
		 job, job);
	struct nl_sock *sk = NULL;
	if (ns_enter(gw_fd, "gateway", err) < 0)
		return -1;
	int rc = delete_link ? lk_socket(&sk, err) : 0;
	if (rc == 0 && delete_link)
		rc = lk_delete(sk, gwname, err);
	lk_socket_free(sk);
	if (rc == 0)
		rc = nft_run_in(-1, origin_fd, script, NULL, err);
	if (ns_return(origin_fd, err) < 0)
		return -1;
	return rc;
}
