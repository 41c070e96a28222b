/* netoverlay/ — per-job private networks.
 *
 * Responsibility: a hub netns with a bridge per job, one netns per node
 * joined by a veth, MAC/IP pinning in an nftables bridge table, grants to
 * exact destinations, IPAM and garbage collection. Built with libnl and
 * libnftables, never by spawning ip(8). See docs/overlay.md.
 *
 * Entry points: ovl_create() builds a job's overlay; ovl_grant() adds an
 * uplink to a caller-supplied gateway netns allowing exact destinations;
 * ovl_destroy() drops it (closes the namespaces, the kernel cleans up
 * asynchronously); ovl_gc() removes what a crashed owner left.
 *
 * Threads: the calling thread briefly enters the overlay's namespaces
 * (setns) and always returns to the one it started in. ovl_create also runs
 * one short-lived helper thread (signals blocked) that makes the hub, installs
 * the guard and makes node namespaces alongside the caller; it is joined before
 * ovl_create returns. Namespaces
 * are held by file descriptors only (no bind mounts), so a crashed owner's namespaces go away with
 * its fds unless a process still lives in them (ovl_gc kills those).
 */
#ifndef OVL_NETOVERLAY_H
#define OVL_NETOVERLAY_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/err.h"

#define OVL_MAX_NODES 250 /* .2 .. .251 of the job's /24 */
#define OVL_JOB_MAX 11    /* "cdn-" + job fits IFNAMSIZ */
#define OVL_MAX_DESTS 64  /* destinations of one grant */
#define OVL_DEFAULT_RUN_DIR "/run/cordon/overlay"
#define OVL_DEFAULT_POOL "10.0.0.0/8"

struct ovl_options {
	const char *job;          /* [A-Za-z0-9]{1,OVL_JOB_MAX}; unique among live overlays */
	unsigned node_count;      /* 1 .. OVL_MAX_NODES */
	const char *run_dir;      /* leases and owner records; NULL = OVL_DEFAULT_RUN_DIR */
	const char *pool;         /* IPAM pool "A.B.C.D/N", N <= 24; NULL = OVL_DEFAULT_POOL */
	const char *subnet;       /* a fixed "A.B.C.0/24" instead of IPAM; NULL = from the pool */
	int route_netns_fd;       /* IPAM avoids this netns' routes; -1 = the caller's netns */
	uint64_t port_rate_bytes; /* per-port policing in bytes/s; 0 = none */
};

struct ovl_node {
	int netns_fd;          /* owned by the overlay; valid until ovl_destroy */
	struct in_addr addr;   /* network byte order */
	unsigned char mac[6];  /* of the node's eth0, pinned by the guard */
	char addr_str[16];     /* dotted quad */
	uint64_t netns_cookie; /* SO_NETNS_COOKIE: never reused, unlike inode numbers */
};

/* One granted destination: TCP to net/prefix, ports port_lo..port_hi. */
struct ovl_dest {
	struct in_addr net; /* network byte order, host bits zero */
	unsigned prefix;    /* 0 .. 32 */
	uint16_t port_lo, port_hi;
};

struct ovl_overlay; /* opaque: one job's overlay */

/* Fills defaults: route_netns_fd = -1, everything else zero/NULL. */
void ovl_options_init(struct ovl_options *opt);
int ovl_create(const struct ovl_options *opt, struct ovl_overlay **out, struct cmn_err *err);
size_t ovl_node_count(const struct ovl_overlay *ov);
const struct ovl_node *ovl_node_get(const struct ovl_overlay *ov, size_t index);
const char *ovl_job(const struct ovl_overlay *ov);
/* "10.1.2.0/24" */
const char *ovl_subnet(const struct ovl_overlay *ov);
int ovl_hub_netns_fd(const struct ovl_overlay *ov);
/* Comma-separated addresses of every node but `index` (caller frees). */
int ovl_peers(const struct ovl_overlay *ov, size_t index, char **out, struct cmn_err *err);

/* "CIDR:PORT" or "CIDR:LO-HI" (a bare address means /32). */
int ovl_dest_parse(const char *text, struct ovl_dest *out, struct cmn_err *err);
/* Adds an uplink from the hub to the netns at path gateway_netns (one the
 * caller owns, e.g. /run/netns/X or /proc/PID/ns/net: the host's in
 * production; recorded so ovl_gc can clean it after a crash), masquerade, and forward chains whose
 * policy is drop and whose accepts are exactly dests (and their replies). Nodes get a route to the
 * granted prefixes only. One grant per overlay. The gateway must forward (net.ipv4.ip_forward or
 * per-device forwarding) towards the destinations; the library enables forwarding only on its own
 * uplink. */
int ovl_grant(struct ovl_overlay *ov, const char *gateway_netns, const struct ovl_dest *dests,
	      size_t dest_count, struct cmn_err *err);
/* Closes the namespaces and releases the subnet; does not wait for the
 * kernel's cleanup. Removes the grant's objects in the gateway netns. */
void ovl_destroy(struct ovl_overlay *ov);

struct ovl_gc_report {
	unsigned overlays;   /* owner records of dead owners removed */
	unsigned processes;  /* processes killed in a dead owner's namespaces */
	unsigned gw_objects; /* nft tables and links removed from gateway netns */
};
/* Removes what overlays of dead owners left (found in run_dir, NULL =
 * default): processes still in their namespaces, the uplink and nft table in
 * the recorded gateway netns, leases. If gateway_netns is not NULL, also sweeps
 * that netns for cordon objects whose job has no live owner. Live overlays
 * (whose owner still holds its lock) are never touched. */
int ovl_gc(const char *run_dir, const char *gateway_netns, struct ovl_gc_report *report,
	   struct cmn_err *err);

void ovl_print_deps(FILE *out);

#endif
