/* netoverlay/overlay.c — creating and destroying a job's overlay; the
 * orchestration reads as the list of steps, each step lives in the file of
 * its concern.
 *
 * Topology (docs/overlay.md): hub netns { br0, p0..pN-1 } and node netns i
 * { lo, eth0 = peer of p<i>, 10.x.y.(i+2)/24, no default route }. The host
 * netns gets no device. What the overlay owns: the hub and node netns fds,
 * the owner record (job-<job>) and the subnet lease, both flock'ed. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "netoverlay/internal.h"

bool job_valid(const char *job)
{
	size_t n = job ? strlen(job) : 0;
	if (n == 0 || n > OVL_JOB_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = job[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			return false;
	}
	return true;
}

void ovl_options_init(struct ovl_options *opt)
{
	memset(opt, 0, sizeof(*opt));
	opt->route_netns_fd = -1;
}

static int fd_ino(int fd, unsigned long long *ino)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -1;
	*ino = (unsigned long long)st.st_ino;
	return 0;
}

int record_write(const struct ovl_overlay *ov, struct cmn_err *err)
{
	cleanup_buf struct cmn_buf b = { 0 };
	cmn_buf_init(&b, 0);
	unsigned long long ino = 0;
	if (fd_ino(ov->hub_fd, &ino) < 0)
		return cmn_err_sys(err, "fstat hub netns");
	if (cmn_buf_printf(&b, err, "job %s\nsubnet %s\nns %llu %llu\n", ov->job, ov->subnet_str,
			   ino, (unsigned long long)ov->hub_cookie) < 0)
		return -1;
	for (size_t i = 0; i < ov->node_count; i++) {
		if (fd_ino(ov->nodes[i].netns_fd, &ino) < 0)
			return cmn_err_sys(err, "fstat node netns");
		if (cmn_buf_printf(&b, err, "ns %llu %llu\n", ino,
				   (unsigned long long)ov->nodes[i].netns_cookie) < 0)
			return -1;
	}
	if (ov->granted) {
		if (fd_ino(ov->gw_fd, &ino) < 0)
			return cmn_err_sys(err, "fstat gateway netns");
		if (cmn_buf_printf(&b, err, "gateway %llu %llu %s\n", ino,
				   (unsigned long long)ov->gw_cookie, ov->gw_path) < 0)
			return -1;
	}
	if (ftruncate(ov->job_fd, 0) < 0 || pwrite(ov->job_fd, b.data, b.len, 0) != (ssize_t)b.len)
		return cmn_err_sys(err, "write owner record of job %s", ov->job);
	return 0;
}

/* Addresses and MACs follow from the subnet; filled before any thread starts
 * so that every step may read them. */
static void node_addrs(struct ovl_overlay *ov)
{
	for (size_t i = 0; i < ov->node_count; i++) {
		struct ovl_node *n = &ov->nodes[i];
		uint32_t a = ov->subnet + 2 + (uint32_t)i;
		n->addr.s_addr = htonl(a);
		ipam_format(a, n->addr_str, sizeof(n->addr_str));
		/* Locally administered, unique among live overlays (it embeds
		 * the leased subnet). */
		const unsigned char mac[6] = { 0x02,
					       0xcd,
					       (unsigned char)(a >> 24),
					       (unsigned char)(a >> 16),
					       (unsigned char)(a >> 8),
					       (unsigned char)a };
		memcpy(n->mac, mac, sizeof(mac));
	}
}

/* Loopback comes up here rather than with eth0, whose peer must exist
 * first. */
static int node_ns(struct ovl_overlay *ov, size_t i, int origin_fd, struct nl_sock **sk,
		   struct cmn_err *err)
{
	struct ovl_node *n = &ov->nodes[i];
	int rc = ns_create_enter(&n->netns_fd, err);
	if (rc == 0)
		rc = ns_harden(false, err);
	if (rc == 0)
		rc = lk_socket(sk, err);
	if (rc == 0)
		rc = ns_cookie_of_socket(lk_socket_fd(*sk), &n->netns_cookie, err);
	if (rc == 0)
		rc = lk_up(*sk, 1, err);
	if (ns_return(origin_fd, err) < 0)
		return -1;
	if (rc < 0)
		return cmn_err_wrap(err, "node %zu netns", i);
	return 0;
}

static int hub_ns(struct ovl_overlay *ov, int origin_fd, struct nl_sock **sk, struct cmn_err *err)
{
	int rc = ns_create_enter(&ov->hub_fd, err);
	if (rc == 0)
		rc = ns_harden(true, err);
	if (rc == 0)
		rc = lk_socket(sk, err);
	if (rc == 0)
		rc = ns_cookie_of_socket(lk_socket_fd(*sk), &ov->hub_cookie, err);
	if (rc == 0)
		rc = lk_up(*sk, 1, err);
	if (ns_return(origin_fd, err) < 0)
		return -1;
	return rc < 0 ? cmn_err_wrap(err, "hub netns") : 0;
}

/* build()'s schedule. Nearly all of it is the kernel making namespaces
 * (~1 ms each) and veths (~0.5 ms each), so two threads share the work
 * (par.c). The caller makes the hub netns and the bridge first (every wire
 * needs them, and the caller is surely running while the helper may not be
 * scheduled yet), then wires each node as soon as its netns exists (always
 * through its own socket in the hub); when no node is ready to wire it
 * makes the next node netns itself, and the guard last. The helper makes
 * node namespaces, then the guard if nobody took it. Neither idles while
 * work is left that it may do. State below is shared under the task's
 * lock. */
enum { NODE_UNCLAIMED, NODE_MAKING, NODE_MADE, NODE_WIRED };

struct sched {
	struct ovl_overlay *ov;
	int origin_fd;
	struct nl_sock **node_sk;
	uint64_t rate;
	struct par_task task;
	struct nl_sock *hub;  /* the caller's */
	unsigned char *state; /* NODE_* per node */
	size_t next;          /* lowest node that may still be NODE_UNCLAIMED */
	bool hub_ready;       /* the hub netns exists (the guard may go in) */
	bool guard_claimed, guard_done;
	bool stop; /* the caller failed: the helper takes nothing more */
};

/* Lock held. SIZE_MAX if every node is claimed. */
static size_t claim_node(struct sched *s)
{
	while (s->next < s->ov->node_count && s->state[s->next] != NODE_UNCLAIMED)
		s->next++;
	if (s->next == s->ov->node_count)
		return SIZE_MAX;
	s->state[s->next] = NODE_MAKING;
	return s->next++;
}

/* Lock held. */
static bool claim_guard(struct sched *s)
{
	if (s->guard_claimed || !s->hub_ready)
		return false;
	s->guard_claimed = true;
	return true;
}

/* Makes node i's netns and publishes it; the thread that failed publishes
 * nothing and its failure ends the build. */
static int make_node(struct sched *s, size_t i, struct cmn_err *err)
{
	if (node_ns(s->ov, i, s->origin_fd, &s->node_sk[i], err) < 0)
		return -1;
	par_lock(&s->task);
	s->state[i] = NODE_MADE;
	par_unlock_notify(&s->task);
	return 0;
}

static int make_guard(struct sched *s, struct cmn_err *err)
{
	if (guard_install(s->ov, s->origin_fd, s->rate, err) < 0)
		return -1;
	par_lock(&s->task);
	s->guard_done = true;
	par_unlock_notify(&s->task);
	return 0;
}

static int helper_main(void *p, struct cmn_err *err)
{
	struct sched *s = p;
	for (;;) {
		par_lock(&s->task);
		bool guard = !s->stop && claim_guard(s);
		size_t i = s->stop || guard ? SIZE_MAX : claim_node(s);
		par_unlock(&s->task);
		if (guard) {
			if (make_guard(s, err) < 0)
				return -1;
			continue;
		}
		if (i == SIZE_MAX)
			return 0;
		if (make_node(s, i, err) < 0)
			return -1;
	}
}

/* The hub end p<i> (ifindex 10+i, in br0, up) with its peer made directly
 * as eth0 in node i's netns, then eth0 up with its address. */
static int wire_node(struct sched *s, size_t i, struct cmn_err *err)
{
	struct ovl_overlay *ov = s->ov;
	char port[24];
	snprintf(port, sizeof(port), "p%u", (unsigned)i);
	if (lk_veth_add(s->hub, port, OVL_PORT_IFINDEX_BASE + (int)i, OVL_BRIDGE_IFINDEX,
			ov->nodes[i].netns_fd, OVL_NODE_IF, OVL_NODE_IFINDEX, ov->nodes[i].mac,
			OVL_NODE_MTU, err) < 0 ||
	    lk_up(s->node_sk[i], OVL_NODE_IFINDEX, err) < 0 ||
	    lk_addr_add(s->node_sk[i], OVL_NODE_IFINDEX, ov->subnet + 2 + (uint32_t)i, 24, err) < 0)
		return cmn_err_wrap(err, "node %zu", i);
	return 0;
}

/* What the caller does next, decided under the lock. */
enum step { STEP_DONE, STEP_WIRE, STEP_MAKE, STEP_GUARD, STEP_HELPER_FAILED };

static enum step next_step(struct sched *s, size_t *node)
{
	for (;;) {
		if (par_failed(&s->task))
			return STEP_HELPER_FAILED;
		size_t wired = 0;
		for (size_t i = 0; i < s->ov->node_count; i++) {
			if (s->state[i] == NODE_WIRED)
				wired++;
			else if (s->state[i] == NODE_MADE) {
				s->state[i] = NODE_WIRED; /* claimed: only the caller wires */
				*node = i;
				return STEP_WIRE;
			}
		}
		if (wired == s->ov->node_count && s->guard_done)
			return STEP_DONE;
		if ((*node = claim_node(s)) != SIZE_MAX)
			return STEP_MAKE;
		if (claim_guard(s))
			return STEP_GUARD;
		/* What is left is the helper's, on its way. */
		par_sleep(&s->task);
	}
}

/* Returns 1 if the helper failed first (par_join says why). */
static int caller_main(struct sched *s, struct cmn_err *err)
{
	if (hub_ns(s->ov, s->origin_fd, &s->hub, err) < 0)
		return -1;
	par_lock(&s->task);
	s->hub_ready = true;
	par_unlock(&s->task);
	if (lk_bridge_add(s->hub, OVL_BRIDGE, OVL_BRIDGE_IFINDEX, err) < 0)
		return -1;
	for (;;) {
		size_t i = 0;
		par_lock(&s->task);
		enum step st = next_step(s, &i);
		par_unlock(&s->task);
		int rc = 0;
		switch (st) {
		case STEP_DONE:
			return 0;
		case STEP_HELPER_FAILED:
			return 1;
		case STEP_WIRE:
			rc = wire_node(s, i, err);
			break;
		case STEP_MAKE:
			rc = make_node(s, i, err);
			break;
		case STEP_GUARD:
			rc = make_guard(s, err);
			break;
		}
		if (rc < 0)
			return -1;
	}
}

/* Nothing runs in a node before ovl_create returns, so the guard landing
 * while links come up opens no window. */
static int build(struct ovl_overlay *ov, const struct ovl_options *opt, int origin_fd,
		 struct nl_sock **node_sk, struct cmn_err *err)
{
	if (ipam_acquire(ov, opt->pool, opt->subnet, opt->route_netns_fd, origin_fd, err) < 0)
		return -1;
	node_addrs(ov);
	struct sched s = {
		.ov = ov, .origin_fd = origin_fd, .node_sk = node_sk, .rate = opt->port_rate_bytes
	};
	s.state = calloc(ov->node_count, 1);
	if (!s.state)
		return cmn_err_set(err, CMN_ENOMEM, ENOMEM, "calloc node states");
	par_start(&s.task, helper_main, &s);
	int rc = caller_main(&s, err);
	if (rc < 0) {
		par_lock(&s.task);
		s.stop = true;
		par_unlock(&s.task);
	}
	struct cmn_err herr = CMN_ERR_INIT;
	int hrc = par_join(&s.task, &herr);
	lk_socket_free(s.hub);
	free(s.state);
	/* Our own failure first: one to return to our netns (CMN_EINTERNAL)
	 * is what the caller must see. */
	if (rc < 0)
		return -1;
	if (hrc < 0) {
		*err = herr;
		return -1;
	}
	if (rc > 0)
		return cmn_err_set(err, CMN_EINTERNAL, 0, "overlay helper stopped early");
	return record_write(ov, err);
}

static struct ovl_overlay *overlay_alloc(const struct ovl_options *opt, struct cmn_err *err)
{
	struct ovl_overlay *ov = calloc(1, sizeof(*ov));
	if (!ov) {
		cmn_err_set(err, CMN_ENOMEM, ENOMEM, "calloc overlay");
		return NULL;
	}
	ov->hub_fd = ov->job_fd = ov->lease_fd = ov->gw_fd = -1;
	ov->node_count = opt->node_count;
	ov->nodes = calloc(opt->node_count, sizeof(*ov->nodes));
	if (!ov->nodes) {
		free(ov);
		cmn_err_set(err, CMN_ENOMEM, ENOMEM, "calloc %u nodes", opt->node_count);
		return NULL;
	}
	for (size_t i = 0; i < ov->node_count; i++)
		ov->nodes[i].netns_fd = -1;
	memcpy(ov->job, opt->job, strlen(opt->job) + 1);
	const char *dir = opt->run_dir ? opt->run_dir : OVL_DEFAULT_RUN_DIR;
	size_t len = strlen(dir);
	if (len >= sizeof(ov->run_dir)) {
		ovl_destroy(ov);
		cmn_err_set(err, CMN_EINVAL, 0, "run dir too long");
		return NULL;
	}
	memcpy(ov->run_dir, dir, len + 1);
	return ov;
}

int ovl_create(const struct ovl_options *opt, struct ovl_overlay **out, struct cmn_err *err)
{
	*out = NULL;
	if (!job_valid(opt->job))
		return cmn_err_set(err, CMN_EINVAL, 0, "job id must be 1-%d letters or digits",
				   OVL_JOB_MAX);
	if (opt->node_count < 1 || opt->node_count > OVL_MAX_NODES)
		return cmn_err_set(err, CMN_EINVAL, 0, "node count %u is not in 1..%d",
				   opt->node_count, OVL_MAX_NODES);
	struct ovl_overlay *ov = overlay_alloc(opt, err);
	if (!ov)
		return -1;
	cleanup_close int origin = -1;
	char name[64];
	snprintf(name, sizeof(name), OVL_JOB_FILE_PREFIX "%s", ov->job);
	int rc = run_dir_ensure(ov->run_dir, err);
	if (rc == 0)
		rc = lock_file(ov->run_dir, name, &ov->job_fd, err);
	if (rc == 0) {
		cmn_err_set(err, CMN_EEXIST, 0, "job %s already has a live overlay", ov->job);
		rc = -1;
	}
	if (rc > 0)
		rc = ns_open_current(&origin, err);
	struct nl_sock **node_sk = NULL;
	if (rc >= 0) {
		node_sk = calloc(ov->node_count, sizeof(*node_sk));
		if (!node_sk)
			rc = cmn_err_set(err, CMN_ENOMEM, ENOMEM, "calloc sockets");
	}
	if (rc >= 0)
		rc = build(ov, opt, origin, node_sk, err);
	for (size_t i = 0; node_sk && i < ov->node_count; i++)
		lk_socket_free(node_sk[i]);
	free(node_sk);
	if (rc < 0) {
		/* A failure to return to our own netns must not be followed by
		 * more work in the wrong namespace: ovl_destroy only closes. */
		ovl_destroy(ov);
		return cmn_err_wrap(err, "overlay for job %s", opt->job);
	}
	*out = ov;
	return 0;
}

void ovl_destroy(struct ovl_overlay *ov)
{
	if (!ov)
		return;
	if (ov->gw_fd >= 0) {
		/* The gateway's nft table would stay forever; the uplink goes
		 * with the hub netns, asynchronously (deleting it here would
		 * block on the kernel's cleanup). */
		struct cmn_err e = CMN_ERR_INIT;
		int origin = -1;
		if (ns_open_current(&origin, &e) == 0) {
			grant_remove_gateway(ov->job, ov->gw_fd, origin, false, &e);
			close(origin);
		}
		close(ov->gw_fd);
	}
	for (size_t i = 0; ov->nodes && i < ov->node_count; i++) {
		if (ov->nodes[i].netns_fd >= 0)
			close(ov->nodes[i].netns_fd);
	}
	if (ov->hub_fd >= 0)
		close(ov->hub_fd);
	ipam_release(ov);
	if (ov->job_fd >= 0) {
		char path[PATH_MAX + 32];
		snprintf(path, sizeof(path), "%s/" OVL_JOB_FILE_PREFIX "%s", ov->run_dir, ov->job);
		unlink(path);
		close(ov->job_fd);
	}
	free(ov->nodes);
	free(ov);
}

size_t ovl_node_count(const struct ovl_overlay *ov)
{
	return ov->node_count;
}

const struct ovl_node *ovl_node_get(const struct ovl_overlay *ov, size_t index)
{
	return index < ov->node_count ? &ov->nodes[index] : NULL;
}

const char *ovl_job(const struct ovl_overlay *ov)
{
	return ov->job;
}

const char *ovl_subnet(const struct ovl_overlay *ov)
{
	return ov->subnet_str;
}

int ovl_hub_netns_fd(const struct ovl_overlay *ov)
{
	return ov->hub_fd;
}

int ovl_peers(const struct ovl_overlay *ov, size_t index, char **out, struct cmn_err *err)
{
	cleanup_buf struct cmn_buf b = { 0 };
	cmn_buf_init(&b, 0);
	*out = NULL;
	if (cmn_buf_append_str(&b, "", err) < 0)
		return -1;
	for (size_t i = 0; i < ov->node_count; i++) {
		if (i == index)
			continue;
		if (cmn_buf_printf(&b, err, "%s%s", b.len ? "," : "", ov->nodes[i].addr_str) < 0)
			return -1;
	}
	*out = cmn_buf_steal(&b, NULL);
	if (!*out)
		return cmn_err_set(err, CMN_ENOMEM, ENOMEM, "peers");
	return 0;
}
