/* storage/chunkd_main.c — cordon-chunkd: stores ciphertext chunks for one disk. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "common/cli.h"
#include "common/log.h"
#include "common/parse.h"
#include "storage/chunkd.h"
#include "storage/storage.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: cordon-chunkd --data-dir DIR --listen ADDR:PORT --rack NAME\n"
		     "                     --cluster-key-file FILE [--port-file FILE]\n"
		     "                     [--log-level LEVEL] [--idle-timeout-ms N]\n"
		     "       cordon-chunkd --help | --version\n\n"
		     "Stores, serves, checks and copies encrypted chunks for one disk.\n"
		     "Every connection must prove the cluster key (challenge-response).\n"
		     "--listen with port 0 picks a free port; --port-file receives it.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "data-dir", required_argument, NULL, 'd' },
		{ "listen", required_argument, NULL, 'l' },
		{ "rack", required_argument, NULL, 'r' },
		{ "cluster-key-file", required_argument, NULL, 'k' },
		{ "port-file", required_argument, NULL, 'p' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "idle-timeout-ms", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	struct stor_chunkd_cfg cfg = { 0 };
	struct cmn_err err = CMN_ERR_INIT;
	enum cmn_log_level level = CMN_LOG_INFO;
	struct sigaction sa;
	uint64_t idle;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return CMN_EXIT_OK;
		case 'V':
			cmn_print_version(stdout, "cordon-chunkd");
			stor_print_deps(stdout);
			return CMN_EXIT_OK;
		case 'd':
			cfg.data_dir = optarg;
			break;
		case 'l':
			cfg.listen = optarg;
			break;
		case 'r':
			cfg.rack = optarg;
			break;
		case 'k':
			cfg.key_file = optarg;
			break;
		case 'p':
			cfg.port_file = optarg;
			break;
		case 'L':
			if (cmn_log_level_parse(optarg, &level) < 0) {
				fprintf(stderr, "cordon-chunkd: bad --log-level %s\n", optarg);
				return CMN_EXIT_USAGE;
			}
			break;
		case 'i':
			if (cmn_parse_u64(optarg, &idle, &err) < 0 || idle == 0 || idle > 3600000) {
				fprintf(stderr, "cordon-chunkd: bad --idle-timeout-ms\n");
				return CMN_EXIT_USAGE;
			}
			cfg.idle_timeout_ms = (int)idle;
			break;
		default:
			usage(stderr);
			return CMN_EXIT_USAGE;
		}
	}
	if (!cfg.data_dir || !cfg.listen || !cfg.rack || !cfg.key_file || optind != argc) {
		usage(stderr);
		return CMN_EXIT_USAGE;
	}
	cmn_log_init("cordon-chunkd", level, false);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (stor_chunkd_run(&cfg, &stop_flag, &err) < 0) {
		cmn_error("%s", err.msg);
		return CMN_EXIT_FAIL;
	}
	return CMN_EXIT_OK;
}
