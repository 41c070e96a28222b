/* netoverlay/internal.h — what the files of netoverlay/ share; not a public
 * contract. One file per concern: netns.c (entering/creating namespaces,
 * sysctls), link.c (libnl), nft.c (libnftables), ipam.c (subnets, leases),
 * par.c (a helper thread), guard.c (bridge pinning), grant.c (uplinks),
 * gc.c, overlay.c (the steps). */
#ifndef OVL_INTERNAL_H
#define OVL_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "netoverlay/netoverlay.h"

struct nl_sock;

/* Names inside the overlay's own namespaces (they are private, so fixed),
 * and the fixed ifindexes requested at creation so no lookup is needed. */
#define OVL_BRIDGE "br0"
#define OVL_BRIDGE_IFINDEX 2
#define OVL_HUB_UPLINK "up0"
#define OVL_HUB_UPLINK_IFINDEX 9
#define OVL_PORT_IFINDEX_BASE 10 /* hub end of node i: "p<i>", ifindex 10 + i */
#define OVL_NODE_IF "eth0"
#define OVL_NODE_IFINDEX 2
/* MTU of the node veths, their hub ports and so the bridge: the largest an
 * IPv4 packet can be. The overlay never leaves the machine, so no wire
 * limits it, and at 1500 bytes the extra veth hop and bridge of the node
 * path cost a fifth of node-to-node TCP throughput (per-packet work on
 * ACKs and segments); at this MTU they cost nothing measurable
 * (bench/overlay). Granted traffic leaves through the 1500-byte uplink, so
 * node routes to granted prefixes carry OVL_UPLINK_MTU. */
#define OVL_NODE_MTU 65535
#define OVL_UPLINK_MTU 1500
/* Names in the gateway netns, where other owners live too: a prefix plus
 * the job id makes ownership obvious and lets ovl_gc find them. */
#define OVL_GW_LINK_PREFIX "cdn-"
#define OVL_GW_TABLE_PREFIX "cordon_"
#define OVL_JOB_FILE_PREFIX "job-"
#define OVL_LEASE_FILE_PREFIX "subnet-"

struct ovl_overlay {
	char job[OVL_JOB_MAX + 1];
	char subnet_str[20];
	uint32_t subnet; /* host byte order, .0 of the job's /24 */
	size_t node_count;
	struct ovl_node *nodes;
	int hub_fd;
	uint64_t hub_cookie;
	char run_dir[PATH_MAX];
	int job_fd;   /* owner record, flock'ed while the overlay lives */
	int lease_fd; /* subnet lease, flock'ed while the overlay lives */
	bool granted;
	int gw_fd; /* the grant's gateway netns, -1 without a grant */
	uint64_t gw_cookie;
	char gw_path[PATH_MAX];
};

/* --- netns.c ------------------------------------------------------------ */
/* The calling thread's current netns. */
int ns_open_current(int *out_fd, struct cmn_err *err);
/* unshare(CLONE_NEWNET): the thread is now in a fresh netns (owned by the
 * caller's user ns) and *out_fd refers to it. Return with ns_return(). */
int ns_create_enter(int *out_fd, struct cmn_err *err);
int ns_enter(int ns_fd, const char *what, struct cmn_err *err);
/* Back to origin_fd. Failing here leaves the thread in a foreign netns, so
 * the error is CMN_EINTERNAL and callers must stop. */
int ns_return(int origin_fd, struct cmn_err *err);
/* Writes value to /proc/sys/<key> of the current netns. optional: a missing
 * key is not an error (e.g. bridge-nf-* without br_netfilter). */
int ns_sysctl(const char *key, const char *value, bool optional, struct cmn_err *err);
/* The settings applied to every overlay netns: IPv6 off; bridge-nf off in hubs. */
int ns_harden(bool hub, struct cmn_err *err);
/* SO_NETNS_COOKIE of the current netns / of the netns a socket lives in. */
int ns_cookie_here(uint64_t *out, struct cmn_err *err);
int ns_cookie_of_socket(int sock_fd, uint64_t *out, struct cmn_err *err);
/* Cookie of the netns behind fd (enters it briefly). */
int ns_cookie_of(int ns_fd, int origin_fd, uint64_t *out, struct cmn_err *err);
/* Opens a netns path and checks it is one (nsfs, CLONE_NEWNET). */
int ns_open_path(const char *path, int *out_fd, struct cmn_err *err);

/* --- link.c (libnl-route; every sk is bound to one netns) --------------- */
int lk_socket(struct nl_sock **out, struct cmn_err *err);
void lk_socket_free(struct nl_sock *sk);
int lk_socket_fd(struct nl_sock *sk);
int lk_bridge_add(struct nl_sock *sk, const char *name, int ifindex, struct cmn_err *err);
/* veth: local end `name` (ifindex, enslaved to master_ifindex if > 0, up),
 * peer `peer_name` created directly in peer_ns_fd (peer_ifindex if > 0,
 * peer_mac if not NULL; down: setting IFF_UP on a peer created in another
 * netns fails with ENOTCONN, so the peer's own netns brings it up); both
 * ends get `mtu` (0: the kernel's default). */
int lk_veth_add(struct nl_sock *sk, const char *name, int ifindex, int master_ifindex,
		int peer_ns_fd, const char *peer_name, int peer_ifindex,
		const unsigned char *peer_mac, unsigned mtu, struct cmn_err *err);
int lk_up(struct nl_sock *sk, int ifindex, struct cmn_err *err);
int lk_addr_add(struct nl_sock *sk, int ifindex, uint32_t addr, unsigned prefix,
		struct cmn_err *err);
/* Route dst/prefix via gateway on ifindex; mtu > 0 sets the route's MTU. */
int lk_route_add(struct nl_sock *sk, uint32_t dst, unsigned prefix, uint32_t gateway, int ifindex,
		 unsigned mtu, struct cmn_err *err);
/* ifindex of name, 0 if there is none. */
int lk_index(struct nl_sock *sk, const char *name, int *out, struct cmn_err *err);
/* Deletes link `name`; absent is not an error. */
int lk_delete(struct nl_sock *sk, const char *name, struct cmn_err *err);
/* Calls fn for every link name in sk's netns. */
int lk_each_name(struct nl_sock *sk, void (*fn)(const char *name, void *arg), void *arg,
		 struct cmn_err *err);
/* Calls fn(dst, prefix) for every IPv4 route in every table but the default. */
int lk_each_route(struct nl_sock *sk, void (*fn)(uint32_t dst, unsigned prefix, void *arg),
		  void *arg, struct cmn_err *err);

/* --- nft.c ------------------------------------------------------------ */
/* Runs an nft script in the netns ns_fd (-1 = the current one). If out is
 * not NULL it receives the command output (caller frees). */
int nft_run_in(int ns_fd, int origin_fd, const char *script, char **out, struct cmn_err *err);

/* --- ipam.c ----------------------------------------------------------- */
int ipam_parse_cidr(const char *text, uint32_t *net, unsigned *prefix, struct cmn_err *err);
void ipam_format(uint32_t addr, char *buf, size_t len);
/* Takes the lease of a free /24 (fixed_subnet or from pool, avoiding routes
 * of route_ns_fd). Fills ov->subnet, ov->subnet_str, ov->lease_fd. */
int ipam_acquire(struct ovl_overlay *ov, const char *pool, const char *fixed_subnet,
		 int route_ns_fd, int origin_fd, struct cmn_err *err);
void ipam_release(struct ovl_overlay *ov);
/* Opens run_dir/name, creating it, and takes its flock without waiting.
 * Returns 1 if this call now holds it, 0 if a live owner does, <0 on error. */
int lock_file(const char *dir, const char *name, int *out_fd, struct cmn_err *err);
int run_dir_ensure(const char *dir, struct cmn_err *err);

/* --- par.c ------------------------------------------------------------ */
typedef int (*par_fn)(void *arg, struct cmn_err *err);
/* A helper thread running fn, which calls par_post(t) each time one more of
 * its items is ready. Fields are par.c's; the caller only owns the memory
 * (it must outlive par_join). */
struct par_task {
	pthread_t thread;
	bool spawned;
	par_fn fn;
	void *arg;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t ready; /* items posted */
	bool ended;   /* fn returned */
	int rc;       /* fn's result, valid once ended */
	struct cmn_err err;
};
/* Starts fn(arg) on a helper thread, or runs it to completion right here if
 * no thread can be made. */
void par_start(struct par_task *t, par_fn fn, void *arg);
void par_post(struct par_task *t);
/* Waits until count items are posted: 0, or -1 if fn ended before posting
 * them (it failed: par_join says why). */
int par_wait(struct par_task *t, size_t count);
/* Waits for fn to end: 0, or -1 with err set to fn's error. Always call it
 * after par_start, also on the caller's own failure paths. */
int par_join(struct par_task *t, struct cmn_err *err);
/* For state the caller and fn share beyond a count of items: both change it
 * between par_lock and par_unlock; par_unlock_notify also wakes a
 * par_sleep'er; par_sleep (lock held) waits for a notify or fn's end;
 * par_ended / par_failed (lock held) say whether fn has returned / has
 * returned an error. */
void par_lock(struct par_task *t);
void par_unlock(struct par_task *t);
void par_unlock_notify(struct par_task *t);
void par_sleep(struct par_task *t);
bool par_ended(const struct par_task *t);
bool par_failed(const struct par_task *t);

/* --- guard.c / grant.c / gc.c ------------------------------------------ */
int guard_install(struct ovl_overlay *ov, int origin_fd, uint64_t port_rate_bytes,
		  struct cmn_err *err);
/* Removes the job's nft table from the gateway and, if delete_link, its
 * uplink (which otherwise goes when the hub netns is cleaned up). */
int grant_remove_gateway(const char *job, int gw_fd, int origin_fd, bool delete_link,
			 struct cmn_err *err);
/* Owner record: rewritten whole (small) after create and after a grant. */
int record_write(const struct ovl_overlay *ov, struct cmn_err *err);
bool job_valid(const char *job);

#endif
