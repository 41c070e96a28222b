/* storage/chunkd.h — the cordon-chunkd server loop (internal; the binary's
 * main is chunkd_main.c). */
#ifndef STOR_CHUNKD_H
#define STOR_CHUNKD_H

#include <signal.h>

#include "storage/chunk_proto.h"

struct stor_chunkd_cfg {
	const char *data_dir;
	const char *listen; /* "IP:PORT"; port 0 picks a free one */
	const char *rack;
	const char *key_file;
	const char *port_file; /* optional: the bound port is written here */
	int max_conns;         /* default 128 */
	int idle_timeout_ms;   /* default 30000: a silent peer is dropped */
};

/* Serves until *stop becomes non-zero. */
int stor_chunkd_run(const struct stor_chunkd_cfg *cfg, volatile sig_atomic_t *stop,
		    struct cmn_err *err);

#endif
