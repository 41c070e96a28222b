/* netoverlay/guard.c — the hub's nftables rules.
 *
 * bridge table cordon_guard: every frame entering the bridge from a node's
 * port must carry that node's MAC, and its IPv4 source or ARP sender must
 * be that node's address; ARP must be plain Ethernet/IPv4; anything else
 * (IPv6, VLAN tags, other ethertypes) is dropped. Without this a node with
 * CAP_NET_RAW in its netns (there should be none, but the guard does not
 * rely on the container) could impersonate a peer or poison ARP caches.
 * A per-port rate can be policed here too.
 *
 * ip table cordon_hub: the hub itself accepts and forwards nothing
 * (policies drop); a grant adds the only forward accepts. */
#define _GNU_SOURCE
#include <stdio.h>

#include "common/buf.h"
#include "netoverlay/internal.h"

/* The common case (an IPv4 frame with the right MAC and source) is accepted
 * by the third rule. "ether type" is explicit: "ip saddr" alone depends on
 * the skb's protocol, which for a VLAN-tagged frame (the tag offloaded by
 * the veth) is the inner one, and a tagged frame would pass; whatever no rule accepts returns to
 * the base chain, whose policy drops it: IPv6, VLAN tags, other ethertypes, a wrong IPv4 source,
 * ARP that is not plain Ethernet/IPv4 or names another sender. */
static int port_chain(struct cmn_buf *b, size_t i, const struct ovl_node *n, uint64_t rate,
		      struct cmn_err *err)
{
	char mac[18];
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", n->mac[0], n->mac[1], n->mac[2],
		 n->mac[3], n->mac[4], n->mac[5]);
	if (cmn_buf_printf(b, err, "\tchain port%zu {\n\t\tether saddr != %s drop\n", i, mac) < 0)
		return -1;
	if (rate && cmn_buf_printf(b, err, "\t\tlimit rate over %llu bytes/second drop\n",
				   (unsigned long long)rate) < 0)
		return -1;
	return cmn_buf_printf(b, err,
			      "\t\tether type ip ip saddr %s accept\n"
			      "\t\tether type arp arp htype 1 arp ptype ip arp hlen 6 arp plen 4 "
			      "arp saddr ether %s arp saddr ip %s accept\n\t}\n",
			      n->addr_str, mac, n->addr_str);
}

int guard_install(struct ovl_overlay *ov, int origin_fd, uint64_t port_rate_bytes,
		  struct cmn_err *err)
{
	cleanup_buf struct cmn_buf b;
	cmn_buf_init(&b, 0);
	if (cmn_buf_append_str(&b, "table bridge cordon_guard {\n", err) < 0)
		return -1;
	for (size_t i = 0; i < ov->node_count; i++) {
		if (port_chain(&b, i, &ov->nodes[i], port_rate_bytes, err) < 0)
			return -1;
	}
	if (cmn_buf_append_str(&b,
			       "\tchain prerouting {\n"
			       "\t\ttype filter hook prerouting priority -200; policy drop;\n"
			       "\t\tiifname vmap {",
			       err) < 0)
		return -1;
	for (size_t i = 0; i < ov->node_count; i++) {
		if (cmn_buf_printf(&b, err, "%s \"p%zu\" : jump port%zu", i ? "," : "", i, i) < 0)
			return -1;
	}
	if (cmn_buf_append_str(
		&b,
		" }\n\t}\n}\n"
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
