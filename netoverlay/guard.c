/* netoverlay/guard.c — the hub's nftables rules.
 *
 * bridge table cordon_guard: every frame entering the bridge from a node's
 * port must carry that node's MAC, and its IPv4 source or ARP sender must
 * be that node's address; ARP must be plain Ethernet/IPv4; anything else
 * (IPv6, VLAN tags, other ethertypes) is dropped. Without this a node with
 * CAP_NET_RAW in its netns (there should be none, but the guard does not
 * rely on the container) could impersonate a peer or poison ARP caches.
 * The check is one lookup in a set keyed by (port name, MAC, address)
 * rather than a chain per port: fewer objects for ovl_create to make, fewer
 * expressions per frame on the bridged path. A per-port rate can be
 * policed here too (then with one small chain per port).
 *
 * ip table cordon_hub: the hub itself accepts and forwards nothing
 * (policies drop); a grant adds the only forward accepts. */
#define _GNU_SOURCE
#include <stdio.h>

#include "common/buf.h"
#include "netoverlay/internal.h"

static void mac_text(const unsigned char *m, char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* One element per node in each set: its port's name (so the guard goes in
 * before the ports exist; by name rather than the fixed ifindex because
 * libnftables resolves "iif" values through a link dump, one more netlink
 * socket and round trip), its MAC, and its address. */
static int guard_sets(struct cmn_buf *b, const struct ovl_overlay *ov, struct cmn_err *err)
{
	for (int arp = 0; arp < 2; arp++) {
		if (cmn_buf_printf(b, err,
				   arp ? "\tset arp4 { type ifname . ether_addr . ether_addr . "
					 "ipv4_addr; elements = {"
				       : "\tset ip4 { type ifname . ether_addr . ipv4_addr; "
					 "elements = {") < 0)
			return -1;
		for (size_t i = 0; i < ov->node_count; i++) {
			const struct ovl_node *n = &ov->nodes[i];
			char mac[18];
			mac_text(n->mac, mac, sizeof(mac));
			if (cmn_buf_printf(b, err, "%s \"p%zu\" . %s . %s%s%s", i ? "," : "", i,
					   mac, arp ? mac : "", arp ? " . " : "", n->addr_str) < 0)
				return -1;
		}
		if (cmn_buf_append_str(b, " } }\n", err) < 0)
			return -1;
	}
	return 0;
}

/* Policing needs one limit per port, so only then a chain per port. */
static int rate_chains(struct cmn_buf *b, const struct ovl_overlay *ov, uint64_t rate,
		       struct cmn_err *err)
{
	for (size_t i = 0; rate && i < ov->node_count; i++) {
		if (cmn_buf_printf(b, err,
				   "\tchain rate%zu { limit rate over %llu bytes/second drop; }\n",
				   i, (unsigned long long)rate) < 0)
			return -1;
	}
	return 0;
}

static int rate_dispatch(struct cmn_buf *b, const struct ovl_overlay *ov, uint64_t rate,
			 struct cmn_err *err)
{
	if (!rate)
		return 0;
	if (cmn_buf_append_str(b, "\t\tiifname vmap {", err) < 0)
		return -1;
	for (size_t i = 0; i < ov->node_count; i++) {
		if (cmn_buf_printf(b, err, "%s \"p%zu\" : jump rate%zu", i ? "," : "", i, i) < 0)
			return -1;
	}
	return cmn_buf_append_str(b, " }\n", err);
}

/* A frame is accepted only if (port, source MAC, IPv4 source) or, for
 * plain Ethernet/IPv4 ARP, (port, source MAC, sender MAC, sender IPv4) is a
 * node's own: one hash lookup per frame. "ether type" is explicit: "ip
 * saddr" alone depends on the skb's protocol, which for a VLAN-tagged frame
 * (the tag offloaded by the veth) is the inner one, and a tagged frame would
 * pass. Whatever no rule accepts meets the policy, drop: IPv6, VLAN tags,
 * other ethertypes, a wrong MAC or IPv4 source, ARP that is not plain
 * Ethernet/IPv4 or names another sender. */
int guard_install(struct ovl_overlay *ov, int origin_fd, uint64_t port_rate_bytes,
		  struct cmn_err *err)
{
	cleanup_buf struct cmn_buf b = { 0 };
	cmn_buf_init(&b, 0);
	if (cmn_buf_append_str(&b, "table bridge cordon_guard {\n", err) < 0 ||
	    guard_sets(&b, ov, err) < 0 || rate_chains(&b, ov, port_rate_bytes, err) < 0 ||
	    cmn_buf_append_str(&b,
			       "\tchain prerouting {\n"
			       "\t\ttype filter hook prerouting priority -200; policy drop;\n",
			       err) < 0 ||
	    rate_dispatch(&b, ov, port_rate_bytes, err) < 0)
		return -1;
	if (cmn_buf_append_str(
		&b,
		"\t\tether type ip iifname . ether saddr . ip saddr @ip4 accept\n"
		"\t\tether type arp arp htype 1 arp ptype ip arp hlen 6 arp plen 4 "
		"iifname . ether saddr . arp saddr ether . arp saddr ip @arp4 accept\n"
		"\t}\n}\n"
		"table ip cordon_hub {\n"
		"\tchain input { type filter hook input priority 0; policy drop; }\n"
		"\tchain forward { type filter hook forward priority 0; policy drop; }\n"
		"\tchain output { type filter hook output priority 0; policy drop; }\n"
		"}\n",
		err) < 0)
		return -1;
	if (nft_run_in(ov->hub_fd, origin_fd, b.data, NULL, err) < 0)
		return cmn_err_wrap(err, "install the hub guard");
	return 0;
}
