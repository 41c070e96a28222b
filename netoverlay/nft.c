/* netoverlay/nft.c — nftables scripts through libnftables.
 *
 * libnftables talks netlink from the netns of the thread that runs the
 * command, so the thread enters the target netns for the whole context's
 * life (its socket is opened there) and returns afterwards. A script is one
 * nft transaction: it applies whole or not at all. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netlink.h>

#include <nftables/libnftables.h>

#include "netoverlay/internal.h"

/* libnftables calls exit() when it cannot open its netlink socket (e.g.
 * EMFILE): a daemon must not die of that. Opening one first turns the
 * common cause into an error; only a race with another thread taking the
 * last descriptor in between is left. */
static int netlink_available(struct cmn_err *err)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	if (fd < 0)
		return cmn_err_sys(err, "socket AF_NETLINK NETLINK_NETFILTER (before libnftables)");
	close(fd);
	return 0;
}

static int run_here(const char *script, char **out, struct cmn_err *err)
{
	if (netlink_available(err) < 0)
		return -1;
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!ctx)
		return cmn_err_set(err, CMN_ENOMEM, ENOMEM, "nft_ctx_new");
	int rc = -1;
	if (nft_ctx_buffer_error(ctx) != 0 || (out && nft_ctx_buffer_output(ctx) != 0)) {
		cmn_err_set(err, CMN_ENOMEM, ENOMEM, "nft_ctx_buffer_output");
		goto out;
	}
	if (nft_run_cmd_from_buffer(ctx, script) != 0) {
		const char *e = nft_ctx_get_error_buffer(ctx);
		size_t n = e ? strlen(e) : 0;
		while (n > 0 && (e[n - 1] == '\n' || e[n - 1] == ' '))
			n--;
		cmn_err_set(err, CMN_EINTERNAL, 0, "nft: %.*s", (int)(n > 400 ? 400 : n),
			    e ? e : "failed");
		goto out;
	}
	if (out) {
		const char *o = nft_ctx_get_output_buffer(ctx);
		*out = strdup(o ? o : "");
		if (!*out) {
			cmn_err_set(err, CMN_ENOMEM, ENOMEM, "strdup nft output");
			goto out;
		}
	}
	rc = 0;
out:
	nft_ctx_free(ctx);
	return rc;
}

int nft_run_in(int ns_fd, int origin_fd, const char *script, char **out, struct cmn_err *err)
{
	if (ns_fd < 0)
		return run_here(script, out, err);
	if (ns_enter(ns_fd, "for nft", err) < 0)
		return -1;
	int rc = run_here(script, out, err);
	struct cmn_err back = CMN_ERR_INIT;
	if (ns_return(origin_fd, &back) < 0) {
		if (err)
			*err = back;
		return -1;
	}
	return rc;
}
