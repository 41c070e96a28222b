/* scheduler/main.c — cordond: the Cordon scheduler daemon. Parses the
 * command line; daemon.c builds the state, server.c serves. */
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cli.h"
#include "common/log.h"
#include "common/parse.h"
#include "scheduler/api.h"
#include "scheduler/authz.h"
#include "scheduler/job.h"
#include "scheduler/functions.h"
#include "scheduler/netlinks.h"
#include "scheduler/plan.h"
#include "scheduler/resources.h"
#include "scheduler/tabledata.h"
#include "scheduler/tables.h"
#include "scheduler/stmt.h"
#include "scheduler/scheduler.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: cordond --data-dir DIR [--listen ADDR:PORT] [--region NAME]\n"
		"               [--chunkservers N --racks R] [--tls-cert F --tls-key F]\n"
		"               [--trusted-proxies LIST] [--header-timeout SECONDS]\n"
		"               [--audit-checkpoint-every N] [--threads N] [--log-level LEVEL]\n"
		"               [--max-jobs N] [--overlay-run-dir DIR] [--max-upload SIZE]\n"
		"               [--results-memory SIZE] [--scrub-rate N]\n"
		"               [--netlink-gateway NETNS]\n"
		"       cordond --help | --version\n\n"
		"Serves Cordon's HTTPS API: authenticates and authorizes SQL jobs and runs\n"
		"them on sandboxed nodes. Defaults: --listen 127.0.0.1:8443, --region local.\n"
		"On first start DIR receives the root key, the catalog, a self-signed TLS\n"
		"certificate (DIR/tls/cert.pem) and the operator's DIR/admin.credentials.\n"
		"--trusted-proxies: addresses/CIDRs whose X-Forwarded-For is believed.\n"
		"--threads: event loops (default: one per CPU, at least 4, at most 8); a\n"
		"request waiting for a job (POST .../jobs?wait=S) holds one.\n"
		"--max-jobs N: jobs running at once (default 4), the rest wait in order.\n"
		"--overlay-run-dir DIR: the job overlays' leases and owner records\n"
		"(default /run/cordon/overlay).\n"
		"--chunkservers N --racks R: local cordon-chunkd processes cordond starts\n"
		"and supervises, on R rack labels (default 4 and 3; --chunkservers 0: none).\n"
		"--scrub-rate N: replicas' chunks verified in the background per minute\n"
		"(default 60, one 4 MiB chunk a second; 0: off).\n"
		"--results-memory: the finished jobs' results cordond keeps, all together\n"
		"(default 1G); past it the oldest finished job is forgotten.\n"
		"--max-upload: largest body of PUT .../tables/T/data (default 256M; other\n"
		"requests stay at 1 MiB).\n"
		"--netlink-gateway NETNS: the network namespace (a path such as\n"
		"/run/netns/X or /proc/PID/ns/net) through which jobs that set\n"
		"odps.session.networklink reach their link's destinations; without it\n"
		"such jobs fail (network links are not configured on this server).\n");
}

/* "host:port", "[v6]:port" or ":port". */
static int parse_listen(const char *s, struct sch_api_config *cfg)
{
	const char *colon = strrchr(s, ':');
	uint64_t port;
	size_t hlen;

	if (!colon || cmn_parse_u64(colon + 1, &port, NULL) < 0 || port > 65535)
		return -1;
	hlen = (size_t)(colon - s);
	if (hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']') {
		s++;
		hlen -= 2;
	}
	if (hlen >= sizeof(cfg->listen_host))
		return -1;
	if (hlen == 0)
		snprintf(cfg->listen_host, sizeof(cfg->listen_host), "127.0.0.1");
	else
		snprintf(cfg->listen_host, sizeof(cfg->listen_host), "%.*s", (int)hlen, s);
	cfg->listen_port = (int)port;
	return 0;
}

static int parse_uint(const char *s, unsigned *out)
{
	uint64_t v;
	if (cmn_parse_u64(s, &v, NULL) < 0 || v == 0 || v > 1000000)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* 0..max */
static int parse_count(const char *s, unsigned *out, unsigned max)
{
	uint64_t v;
	if (cmn_parse_u64(s, &v, NULL) < 0 || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* One event loop per CPU, at least 4 (a request waiting for a job holds
 * its loop), at most 8: TLS and HTTP parsing scale with them, request
 * handling is serialized anyway. */
static unsigned default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 4 ? 4 : n > 8 ? 8 : (unsigned)n;
}

static int serve(struct sch_api *api)
{
	struct cmn_err err = CMN_ERR_INIT;
	int rc = CMN_EXIT_OK;

	/* Statement handlers of other modules (the SQL compiler/authorizer,
	 * jobs) register here with sch_stmt_register(), before
	 * sch_daemon_init() adds the API's own (stmt_basic.c) last: the
	 * authorization module parses the whole job text with the one SQL
	 * parser and runs every security statement (and WHOAMI); what it does
	 * not recognise falls through to the API's handler. */
	if (sch_stmt_register("authz", sch_authz_stmt_handler) < 0 ||
	    /* DROP TABLE / DROP PARTITION with their rows: before "tables" */
	    sch_stmt_register("tabledata", sch_tabledata_stmt_handler) < 0 ||
	    sch_stmt_register("tables", sch_tables_stmt_handler) < 0 ||
	    sch_stmt_register("explain", sch_plan_explain_handler) < 0 ||
	    sch_stmt_register("netlinks", sch_netlinks_stmt_handler) < 0 ||
	    sch_stmt_register("functions", sch_functions_stmt_handler) < 0) {
		cmn_error("cannot register the statement handlers");
		return CMN_EXIT_FAIL;
	}
	/* the job handler takes every text nobody else did, so it goes after
	 * the API's own (registered by sch_daemon_init) */
	if (sch_daemon_init(api, &err) < 0 ||
	    (sch_stmt_register("jobs", sch_job_stmt_handler) < 0 &&
	     cmn_err_set(&err, CMN_EINTERNAL, 0, "cannot register the job handler") < 0) ||
	    sch_server_run(api, &err) < 0) {
		cmn_error("%s", err.msg);
		rc = CMN_EXIT_FAIL;
	}
	sch_daemon_fini(api);
	if (rc == CMN_EXIT_OK)
		cmn_info("stopped cleanly");
	return rc;
}

static const struct option opts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "data-dir", required_argument, NULL, 'd' },
	{ "listen", required_argument, NULL, 'l' },
	{ "region", required_argument, NULL, 'r' },
	{ "chunkservers", required_argument, NULL, 'C' },
	{ "racks", required_argument, NULL, 'R' },
	{ "tls-cert", required_argument, NULL, 'c' },
	{ "tls-key", required_argument, NULL, 'k' },
	{ "trusted-proxies", required_argument, NULL, 'P' },
	{ "header-timeout", required_argument, NULL, 'T' },
	{ "audit-checkpoint-every", required_argument, NULL, 'A' },
	{ "log-level", required_argument, NULL, 'L' },
	{ "threads", required_argument, NULL, 't' },
	{ "netlink-gateway", required_argument, NULL, 'N' },
	{ "max-jobs", required_argument, NULL, 'J' },
	{ "overlay-run-dir", required_argument, NULL, 'O' },
	{ "max-upload", required_argument, NULL, 'U' },
	{ "results-memory", required_argument, NULL, 'M' },
	{ "scrub-rate", required_argument, NULL, 'S' },
	{ NULL, 0, NULL, 0 },
};

/* One option into cfg; -1 if its value is invalid. */
static int take_option(int c, const char *arg, struct sch_api_config *cfg,
		       enum cmn_log_level *level)
{
	switch (c) {
	case 'd':
		cfg->data_dir = arg;
		return 0;
	case 'l':
		return parse_listen(arg, cfg);
	case 'r':
		cfg->region = arg;
		return !*arg || strlen(arg) > 63 ? -1 : 0;
	case 'J':
		return parse_count(arg, &cfg->max_jobs, 64) < 0 || cfg->max_jobs == 0 ? -1 : 0;
	case 'O':
		cfg->overlay_run_dir = arg;
		return 0;
	case 'C': /* storage glue: local chunk servers, 0 = none */
		return parse_count(arg, &cfg->chunkservers, 64);
	case 'S': /* storage glue: background scrub, chunks per minute */
		return parse_count(arg, &cfg->scrub_rate, 60000);
	case 'R':
		return parse_count(arg, &cfg->racks, 64) < 0 || cfg->racks == 0 ? -1 : 0;
	case 'c':
		cfg->tls_cert = arg;
		return 0;
	case 'k':
		cfg->tls_key = arg;
		return 0;
	case 'P':
		cfg->trusted_proxies = arg;
		return 0;
	case 'T':
		if (parse_uint(arg, &cfg->header_timeout_s) < 0)
			return -1;
		if (cfg->io_timeout_s > cfg->header_timeout_s)
			cfg->io_timeout_s = cfg->header_timeout_s;
		return 0;
	case 'A':
		return parse_uint(arg, &cfg->audit_checkpoint_every);
	case 'L':
		return cmn_log_level_parse(arg, level);
	case 't':
		return parse_uint(arg, &cfg->threads) < 0 || cfg->threads > 64 ? -1 : 0;
	case 'N': {
		struct cmn_err err = CMN_ERR_INIT;
		if (sch_netlinks_check_gateway(arg, &err) < 0) {
			fprintf(stderr, "cordond: --netlink-gateway: %s\n", err.msg);
			return -1;
		}
		cfg->netlink_gateway = arg;
		return 0;
	}
	case 'M': { /* job results kept in memory, all together: 64 KiB .. 64 GiB */
		uint64_t v;
		if (cmn_parse_size(arg, &v, NULL) < 0 || v < (64u << 10) ||
		    v > ((uint64_t)64 << 30))
			return -1;
		cfg->results_memory = v;
		return 0;
	}
	case 'U': { /* bulk table upload (api_tabledata.c): 1 MiB .. 4 GiB */
		uint64_t v;
		if (cmn_parse_size(arg, &v, NULL) < 0 || v < (1u << 20) || v > ((uint64_t)4 << 30))
			return -1;
		cfg->max_upload = (size_t)v;
		return 0;
	}
	default:
		return -1;
	}
}

int main(int argc, char **argv)
{
	static struct sch_api api;
	enum cmn_log_level level = CMN_LOG_INFO;
	int c, index = 0;

	/* Fixed malloc thresholds. glibc raises its mmap threshold each time a
	 * big mmapped block is freed (up to 32 MiB) and the trim threshold with
	 * it; from then on the feeders' and collectors' MiB-sized buffers come
	 * from per-thread arenas and stay resident there once freed (12 MiB of
	 * free top chunk in each of ~10 arenas), where malloc_trim does not
	 * reach them. Every container start clones cordond's page tables, so
	 * those dead pages cost ~8 ms of copy and unmap per clone, 4 clones per
	 * 2-node job. Set explicitly, the thresholds stay put: big buffers are
	 * mmapped and unmapped, freed arena tops are trimmed. */
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
	mallopt(M_TRIM_THRESHOLD, 4 << 20);

	api.cfg = (struct sch_api_config){
		.listen_host = "127.0.0.1",
		.listen_port = 8443,
		.region = "local",
		.header_timeout_s = 30,
		.io_timeout_s = 30,
		.max_connections = 2048,
		.max_body = 1 << 20,
		.max_resource_body = SCH_RESOURCE_MAX_BYTES,
		.max_upload = (size_t)256 << 20,
		.max_headers = 16384,
		.audit_checkpoint_every = 1000,
		.clock_skew_s = 15 * 60,
		.threads = default_threads(),
		.chunkservers = 4,
		.racks = 3,
		.scrub_rate = 60,
	};
	while ((c = getopt_long(argc, argv, "h", opts, &index)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return CMN_EXIT_OK;
		}
		if (c == 'V') {
			cmn_print_version(stdout, "cordond");
			sch_print_deps(stdout);
			return CMN_EXIT_OK;
		}
		if (c == '?') {
			usage(stderr);
			return CMN_EXIT_USAGE;
		}
		if (take_option(c, optarg, &api.cfg, &level) < 0) {
			fprintf(stderr, "cordond: invalid value for --%s: '%s'\n", opts[index].name,
				optarg);
			return CMN_EXIT_USAGE;
		}
	}
	if (!api.cfg.data_dir || optind != argc) {
		usage(stderr);
		return CMN_EXIT_USAGE;
	}
	cmn_log_init("cordond", level, false);
	/* The catalog holds wrapped secrets and the audit trail: owner only. */
	umask(077);
	return serve(&api);
}
