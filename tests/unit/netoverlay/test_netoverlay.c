/* Unit tests of netoverlay/: parsers, IPAM leases, create/destroy.
 *
 * The tests that build overlays first move the whole test process into a
 * network namespace of its own (unshare at start, as root), so nothing is
 * created where ctest runs; without root they are skipped. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netoverlay/internal.h"
#include "netoverlay/netoverlay.h"

static bool have_netns;
static char run_dir[64];

static void test_dest_parse(void **state)
{
	(void)state;
	struct ovl_dest d;
	struct cmn_err err = CMN_ERR_INIT;
	assert_int_equal(ovl_dest_parse("198.51.100.0/24:443", &d, &err), 0);
	assert_int_equal(ntohl(d.net.s_addr), 0xc6336400u);
	assert_int_equal(d.prefix, 24);
	assert_int_equal(d.port_lo, 443);
	assert_int_equal(d.port_hi, 443);
	assert_int_equal(ovl_dest_parse("198.51.100.7:8000-8080", &d, &err), 0);
	assert_int_equal(d.prefix, 32);
	assert_int_equal(d.port_lo, 8000);
	assert_int_equal(d.port_hi, 8080);
	assert_int_equal(ovl_dest_parse("0.0.0.0/0:1-65535", &d, &err), 0);
	const char *bad[] = { "198.51.100.7",
			      "198.51.100.7:",
			      "198.51.100.7:0",
			      "198.51.100.7:65536",
			      "198.51.100.7:9-8",
			      "198.51.100.7/24:80",
			      "198.51.100.0/33:80",
			      "198.51.100.0/-1:80",
			      "host:80",
			      ":80",
			      "198.51.100.7:+80",
			      "198.51.100.7:1-",
			      "198.51.100.7:80x" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cmn_err_clear(&err);
		assert_int_equal(ovl_dest_parse(bad[i], &d, &err), -1);
		assert_int_equal(err.code, CMN_EINVAL);
	}
}

static void test_cidr_parse(void **state)
{
	(void)state;
	uint32_t net;
	unsigned prefix;
	assert_int_equal(ipam_parse_cidr("10.0.0.0/8", &net, &prefix, NULL), 0);
	assert_int_equal(net, 0x0a000000u);
	assert_int_equal(prefix, 8);
	assert_int_equal(ipam_parse_cidr("10.0.0.1/8", &net, &prefix, NULL), -1);
	assert_int_equal(ipam_parse_cidr("10.0.0.0/", &net, &prefix, NULL), -1);
	assert_int_equal(ipam_parse_cidr("10.0.0/8", &net, &prefix, NULL), -1);
	char buf[16];
	ipam_format(0xc0000201u, buf, sizeof(buf));
	assert_string_equal(buf, "192.0.2.1");
}

static void test_bad_options(void **state)
{
	(void)state;
	struct ovl_options opt;
	struct ovl_overlay *ov = NULL;
	struct cmn_err err = CMN_ERR_INIT;
	ovl_options_init(&opt);
	opt.run_dir = run_dir;
	opt.node_count = 1;
	const char *jobs[] = { NULL, "", "has-dash", "has space", "twelvechars0", "../x" };
	for (size_t i = 0; i < sizeof(jobs) / sizeof(jobs[0]); i++) {
		opt.job = jobs[i];
		assert_int_equal(ovl_create(&opt, &ov, &err), -1);
		assert_int_equal(err.code, CMN_EINVAL);
		assert_null(ov);
	}
	opt.job = "ok";
	opt.node_count = 0;
	assert_int_equal(ovl_create(&opt, &ov, &err), -1);
	opt.node_count = OVL_MAX_NODES + 1;
	assert_int_equal(ovl_create(&opt, &ov, &err), -1);
	assert_int_equal(err.code, CMN_EINVAL);
}

static void test_lock_file(void **state)
{
	(void)state;
	int a = -1, b = -1;
	assert_int_equal(run_dir_ensure(run_dir, NULL), 0);
	assert_int_equal(lock_file(run_dir, "lk", &a, NULL), 1);
	/* flock is per open file: a second open conflicts even in-process. */
	assert_int_equal(lock_file(run_dir, "lk", &b, NULL), 0);
	close(a);
	assert_int_equal(lock_file(run_dir, "lk", &b, NULL), 1);
	close(b);
	char path[128];
	snprintf(path, sizeof(path), "%s/lk", run_dir);
	unlink(path);
}

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static void test_create_destroy(void **state)
{
	(void)state;
	if (!have_netns)
		skip();
	struct ovl_options opt;
	struct ovl_overlay *a = NULL, *b = NULL;
	struct cmn_err err = CMN_ERR_INIT;
	int fds = count_fds();
	ovl_options_init(&opt);
	opt.run_dir = run_dir;
	opt.job = "ua";
	opt.node_count = 3;
	opt.pool = "10.200.0.0/23";
	assert_int_equal(ovl_create(&opt, &a, &err), 0);
	assert_string_equal(ovl_subnet(a), "10.200.0.0/24");
	assert_int_equal(ovl_node_count(a), 3);
	assert_string_equal(ovl_node_get(a, 2)->addr_str, "10.200.0.4");
	assert_null(ovl_node_get(a, 3));
	char *peers = NULL;
	assert_int_equal(ovl_peers(a, 1, &peers, &err), 0);
	assert_string_equal(peers, "10.200.0.2,10.200.0.4");
	free(peers);
	/* Every fd the overlay holds is close-on-exec. */
	int flags = fcntl(ovl_node_get(a, 0)->netns_fd, F_GETFD);
	assert_true(flags & FD_CLOEXEC);
	assert_true(fcntl(ovl_hub_netns_fd(a), F_GETFD) & FD_CLOEXEC);

	opt.job = "ub";
	assert_int_equal(ovl_create(&opt, &b, &err), 0);
	assert_string_equal(ovl_subnet(b), "10.200.1.0/24");
	/* The pool is exhausted while both live. */
	struct ovl_overlay *c = NULL;
	opt.job = "uc";
	assert_int_equal(ovl_create(&opt, &c, &err), -1);
	assert_int_equal(err.code, CMN_ELIMIT);
	ovl_destroy(a);
	assert_int_equal(ovl_create(&opt, &c, &err), 0);
	assert_string_equal(ovl_subnet(c), "10.200.0.0/24");
	ovl_destroy(b);
	ovl_destroy(c);
	assert_int_equal(count_fds(), fds);
	/* The thread is back in the namespace it started in. */
	struct stat self, now;
	assert_int_equal(stat("/proc/self/ns/net", &self), 0);
	assert_int_equal(stat("/proc/thread-self/ns/net", &now), 0);
	assert_int_equal(self.st_ino, now.st_ino);
}

/* par_*: the helper runs on its own thread, the caller sees each posted
 * item, a helper that fails wakes a caller waiting for more, and par_join
 * hands its error on. */
struct par_probe {
	struct par_task *task;
	pid_t tid;
	size_t items;
	int fail_code; /* after posting `items` */
};

static int par_probe_fn(void *arg, struct cmn_err *err)
{
	struct par_probe *p = arg;
	p->tid = gettid();
	for (size_t i = 0; i < p->items; i++)
		par_post(p->task);
	if (p->fail_code)
		return cmn_err_set(err, p->fail_code, 0, "step failed with %d", p->fail_code);
	return 0;
}

static void test_par(void **state)
{
	(void)state;
	struct cmn_err err = CMN_ERR_INIT;
	struct par_task t;
	struct par_probe p = { &t, 0, 3, 0 };
	par_start(&t, par_probe_fn, &p);
	assert_int_equal(par_wait(&t, 3), 0);
	assert_int_equal(par_join(&t, &err), 0);
	assert_true(p.tid > 0);
	assert_int_not_equal(p.tid, gettid());

	struct par_probe q = { &t, 0, 1, CMN_ELIMIT };
	par_start(&t, par_probe_fn, &q);
	assert_int_equal(par_wait(&t, 1), 0);
	assert_int_equal(par_wait(&t, 2), -1); /* returns: the helper ended */
	/* A caller sleeping on shared state is woken by the helper's end and
	 * does not sleep again once it has ended. */
	par_lock(&t);
	while (!par_ended(&t))
		par_sleep(&t);
	par_sleep(&t);
	par_unlock(&t);
	assert_int_equal(par_join(&t, &err), -1);
	assert_int_equal(err.code, CMN_ELIMIT);
}

/* Out of descriptors, an nft script is an error, not the end of the
 * process: libnftables itself calls exit() when its netlink socket cannot
 * be opened, so nft_run_in must find out first. */
static void test_nft_without_fds(void **state)
{
	(void)state;
	if (!have_netns)
		skip();
	struct rlimit old;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	int lowest = dup(0);
	assert_true(lowest >= 0);
	close(lowest);
	struct rlimit none = { (rlim_t)lowest, old.rlim_max };
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &none), 0);
	struct cmn_err err = CMN_ERR_INIT;
	int rc = nft_run_in(-1, -1, "list ruleset", NULL, &err);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_int_equal(rc, -1);
	assert_non_null(strstr(err.msg, "NETLINK_NETFILTER"));
}

/* Small overlays through the helper thread: every node gets its address
 * and its own netns, distinct from the hub's. */
static void test_create_small(void **state)
{
	(void)state;
	if (!have_netns)
		skip();
	struct ovl_options opt;
	struct cmn_err err = CMN_ERR_INIT;
	ovl_options_init(&opt);
	opt.run_dir = run_dir;
	opt.job = "us";
	opt.pool = "10.202.0.0/24";
	for (unsigned n = 1; n <= 2; n++) {
		struct ovl_overlay *ov = NULL;
		opt.node_count = n;
		assert_int_equal(ovl_create(&opt, &ov, &err), 0);
		struct stat hub, node0, node1;
		assert_int_equal(fstat(ovl_hub_netns_fd(ov), &hub), 0);
		assert_int_equal(fstat(ovl_node_get(ov, 0)->netns_fd, &node0), 0);
		assert_int_not_equal(hub.st_ino, node0.st_ino);
		assert_string_equal(ovl_node_get(ov, n - 1)->addr_str,
				    n == 1 ? "10.202.0.2" : "10.202.0.3");
		if (n == 2) {
			assert_int_equal(fstat(ovl_node_get(ov, 1)->netns_fd, &node1), 0);
			assert_int_not_equal(node1.st_ino, node0.st_ino);
			assert_int_not_equal(node1.st_ino, hub.st_ino);
		}
		ovl_destroy(ov);
	}
}

static void test_grant_errors(void **state)
{
	(void)state;
	if (!have_netns)
		skip();
	struct ovl_options opt;
	struct ovl_overlay *a = NULL;
	struct cmn_err err = CMN_ERR_INIT;
	ovl_options_init(&opt);
	opt.run_dir = run_dir;
	opt.job = "ug";
	opt.node_count = 1;
	opt.subnet = "10.201.0.0/24";
	assert_int_equal(ovl_create(&opt, &a, &err), 0);
	struct ovl_dest d;
	assert_int_equal(ovl_dest_parse("10.201.0.0/16:80", &d, &err), 0);
	assert_int_equal(ovl_grant(a, "/proc/self/ns/net", &d, 1, &err), -1);
	assert_int_equal(err.code, CMN_EINVAL);
	assert_int_equal(ovl_dest_parse("198.51.100.1:80", &d, &err), 0);
	assert_int_equal(ovl_grant(a, "/proc/self/ns/net", &d, 0, &err), -1);
	assert_int_equal(ovl_grant(a, "/proc/self/ns/user", &d, 1, &err), -1);
	assert_int_equal(err.code, CMN_EINVAL);
	assert_int_equal(ovl_grant(a, "/nonexistent", &d, 1, &err), -1);
	ovl_destroy(a);
}

int main(void)
{
	snprintf(run_dir, sizeof(run_dir), "/tmp/cordon-ovl-unit.%d", (int)getpid());
	/* Everything below happens in a netns of our own, never in ctest's. */
	if (geteuid() == 0 && unshare(CLONE_NEWNET) == 0)
		have_netns = true;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dest_parse),
		cmocka_unit_test(test_cidr_parse),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_lock_file),
		cmocka_unit_test(test_create_destroy),
		cmocka_unit_test(test_grant_errors),
		cmocka_unit_test(test_par),
		cmocka_unit_test(test_create_small),
		cmocka_unit_test(test_nft_without_fds),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(run_dir);
	return rc;
}
