/* libFuzzer target: cordon-chunkd's message handling. The first input byte
 * picks the message type, the rest is its payload, handed to the same
 * serve_one() the server runs after authentication (chunkd.c is included
 * to reach it). A second pass feeds the raw bytes to the frame reader and
 * to the client's answer parsers. COPY is skipped: it would connect to an
 * address taken from the input, and a fuzzer sends no traffic anywhere. */
#include "../../storage/chunkd.c"

#include <ftw.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct chunkd *fz;
static char fz_dir[] = "/tmp/cordon-fuzz-chunkd-XXXXXX";

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

/* libFuzzer leaves through exit(): the store's dir goes with it */
static void remove_dir(void)
{
	nftw(fz_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
	char *dir = fz_dir;
	struct cmn_err err = CMN_ERR_INIT;

	if (!mkdtemp(dir))
		return;
	atexit(remove_dir);
	fz = calloc(1, sizeof(*fz));
	if (!fz || stor_store_open(&fz->store, dir, &err) < 0) {
		fz = NULL;
		return;
	}
	fz->rack = "fuzz";
	cmn_log_init("fuzz", CMN_LOG_OFF, false);
}

static void drain_fd(int fd)
{
	char buf[65536];
	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];
	uint8_t type, *p = NULL;
	size_t len;
	struct cmn_err err = CMN_ERR_INIT;

	if (!fz)
		setup();
	if (!fz || size < 1 || size > (1u << 20))
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	{
		int big = 4 << 20;
		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
		setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	}
	if (data[0] != STOR_MSG_COPY && data[0] != STOR_MSG_SCRUB) {
		serve_one(fz, sv[0], data[0], data + 1, size - 1, NULL);
		drain_fd(sv[1]);
		if (data[0] == STOR_MSG_PUT && size > 1 + STOR_ID_LEN) {
			char id[STOR_ID_LEN + 1];
			memcpy(id, data + 1, STOR_ID_LEN);
			id[STOR_ID_LEN] = '\0';
			stor_store_delete(&fz->store, id, NULL);
		}
	}
	/* the frame reader on the raw bytes (what a peer can send) */
	if (size < 65536 && send(sv[1], data, size, 0) == (ssize_t)size) {
		shutdown(sv[1], SHUT_WR);
		while (stor_recv_frame(sv[0], 65536, &type, &p, &len, &err) == 0) {
			free(p);
			p = NULL;
		}
	}
	close(sv[0]);
	close(sv[1]);
	return 0;
}
