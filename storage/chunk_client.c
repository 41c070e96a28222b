/* storage/chunk_client.c — a blocking, authenticated connection to one
 * cordon-chunkd and its requests. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "storage/chunk_proto.h"

static void set_timeouts(int fd, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int connect_timeout(int fd, const struct sockaddr *sa, socklen_t len, int ms,
			   const char *addr, struct cmn_err *err)
{
	int flags = fcntl(fd, F_GETFL), soerr = 0;
	socklen_t sl = sizeof(soerr);
	struct pollfd pfd = { fd, POLLOUT, 0 };

	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return cmn_err_sys(err, "fcntl O_NONBLOCK");
	if (connect(fd, sa, len) < 0 && errno != EINPROGRESS)
		return cmn_err_sys(err, "connect %s", addr);
	for (;;) {
		int r = poll(&pfd, 1, ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return cmn_err_sys(err, "poll connect %s", addr);
		if (r == 0)
			return cmn_err_set(err, CMN_ETIMEOUT, 0, "connect %s: timed out", addr);
		break;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		return cmn_err_sys(err, "getsockopt SO_ERROR");
	if (soerr) {
		errno = soerr;
		return cmn_err_sys(err, "connect %s", addr);
	}
	if (fcntl(fd, F_SETFL, flags) < 0)
		return cmn_err_sys(err, "fcntl");
	return 0;
}

int stor_conn_open(struct stor_conn *c, const char *addr, const struct stor_cluster_key *k,
		   int timeout_ms, struct cmn_err *err)
{
	struct sockaddr_storage ss;
	unsigned sl;
	cleanup_close int fd = -1;

	c->fd = -1;
	snprintf(c->addr, sizeof(c->addr), "%s", addr);
	if (stor_parse_addr(addr, &ss, &sl, err) < 0)
		return -1;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return cmn_err_sys(err, "socket");
	if (connect_timeout(fd, (struct sockaddr *)&ss, sl, timeout_ms, addr, err) < 0)
		return -1;
	set_timeouts(fd, timeout_ms);
	if (stor_auth_client(fd, k, err) < 0)
		return cmn_err_wrap(err, "chunk server %s", addr);
	/* data transfers may take longer than the handshake: 4x, at least 30 s */
	set_timeouts(fd, timeout_ms * 4 > 30000 ? timeout_ms * 4 : 30000);
	c->fd = steal_fd(&fd);
	return 0;
}

void stor_conn_close(struct stor_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

int stor_conn_call(struct stor_conn *c, uint8_t type, const void *p1, size_t n1, const void *p2,
		   size_t n2, uint8_t **resp, size_t *resp_len, struct cmn_err *err)
{
	uint8_t *p = NULL, rtype;
	size_t len;

	*resp = NULL;
	*resp_len = 0;
	if (c->fd < 0)
		return cmn_err_set(err, CMN_EUNAVAIL, 0, "%s: not connected", c->addr);
	if (stor_send_frame(c->fd, type, p1, n1, p2, n2, err) < 0 ||
	    stor_recv_frame(c->fd, STOR_FRAME_MAX, &rtype, &p, &len, err) < 0) {
		stor_conn_close(c); /* the stream is out of step now */
		return cmn_err_wrap(err, "%s", c->addr);
	}
	if (rtype != STOR_MSG_RESP || len < 1) {
		free(p);
		stor_conn_close(c);
		return cmn_err_set(err, CMN_EPROTO, 0, "%s: bad response type %u", c->addr, rtype);
	}
	if (p[0] != CMN_OK) {
		int code = p[0] < CMN_ECODE_MAX ? p[0] : CMN_EPROTO;
		int mlen = len - 1 > 400 ? 400 : (int)(len - 1);
		cmn_err_set(err, code, 0, "%s: %.*s", c->addr, mlen, (const char *)p + 1);
		free(p);
		return -1;
	}
	memmove(p, p + 1, len - 1);
	*resp = p;
	*resp_len = len - 1;
	return 0;
}

int stor_conn_put(struct stor_conn *c, const char *id, const void *data, size_t len,
		  uint8_t sha[STOR_SHA_LEN], struct cmn_err *err)
{
	cleanup_free uint8_t *r = NULL;
	size_t rl;
	if (stor_conn_call(c, STOR_MSG_PUT, id, STOR_ID_LEN, data, len, &r, &rl, err) < 0)
		return -1;
	if (rl != STOR_SHA_LEN)
		return cmn_err_set(err, CMN_EPROTO, 0, "%s: bad PUT answer", c->addr);
	memcpy(sha, r, STOR_SHA_LEN);
	return 0;
}

int stor_conn_get(struct stor_conn *c, const char *id, struct stor_rbuf *rb, const uint8_t **data,
		  size_t *len, uint8_t sha[STOR_SHA_LEN], struct cmn_err *err)
{
	/* the answer is status | sha | data: data lands at STOR_FILE_HDR */
	const size_t headroom = STOR_FILE_HDR - 1 - STOR_SHA_LEN;
	uint8_t rtype, *p = NULL;
	size_t rl;

	*data = NULL;
	*len = 0;
	if (c->fd < 0)
		return cmn_err_set(err, CMN_EUNAVAIL, 0, "%s: not connected", c->addr);
	if (stor_send_frame(c->fd, STOR_MSG_GET, id, STOR_ID_LEN, NULL, 0, err) < 0 ||
	    stor_recv_frame_into(c->fd, rb, headroom, STOR_FRAME_MAX, &rtype, &p, &rl, err) < 0) {
		stor_conn_close(c);
		return cmn_err_wrap(err, "%s", c->addr);
	}
	if (rtype != STOR_MSG_RESP || rl < 1) {
		stor_conn_close(c);
		return cmn_err_set(err, CMN_EPROTO, 0, "%s: bad response type %u", c->addr, rtype);
	}
	if (p[0] != CMN_OK) {
		int code = p[0] < CMN_ECODE_MAX ? p[0] : CMN_EPROTO;
		int mlen = rl - 1 > 400 ? 400 : (int)(rl - 1);
		return cmn_err_set(err, code, 0, "%s: %.*s", c->addr, mlen, (const char *)p + 1);
	}
	if (rl < 1 + STOR_SHA_LEN)
		return cmn_err_set(err, CMN_EPROTO, 0, "%s: bad GET answer", c->addr);
	memcpy(sha, p + 1, STOR_SHA_LEN);
	*data = p + 1 + STOR_SHA_LEN;
	*len = rl - 1 - STOR_SHA_LEN;
	return 0;
}

int stor_conn_delete(struct stor_conn *c, const char *id, struct cmn_err *err)
{
	cleanup_free uint8_t *r = NULL;
	size_t rl;
	return stor_conn_call(c, STOR_MSG_DELETE, id, STOR_ID_LEN, NULL, 0, &r, &rl, err);
}

int stor_conn_verify(struct stor_conn *c, const char *id, uint8_t sha[STOR_SHA_LEN], uint64_t *size,
		     struct cmn_err *err)
{
	cleanup_free uint8_t *r = NULL;
	size_t rl;
	if (stor_conn_call(c, STOR_MSG_VERIFY, id, STOR_ID_LEN, NULL, 0, &r, &rl, err) < 0)
		return -1;
	if (rl != STOR_SHA_LEN + 8)
		return cmn_err_set(err, CMN_EPROTO, 0, "%s: bad VERIFY answer", c->addr);
	memcpy(sha, r, STOR_SHA_LEN);
	*size = stor_get_be64(r + STOR_SHA_LEN);
	return 0;
}

int stor_conn_copy(struct stor_conn *c, const char *id, const char *peer, uint8_t sha[STOR_SHA_LEN],
		   struct cmn_err *err)
{
	cleanup_free uint8_t *r = NULL;
	uint8_t req[STOR_ID_LEN + 2 + 80];
	size_t pl = strlen(peer), rl;

	if (pl >= 80)
		return cmn_err_set(err, CMN_EINVAL, 0, "peer address too long");
	memcpy(req, id, STOR_ID_LEN);
	stor_put_be16(req + STOR_ID_LEN, (uint16_t)pl);
	memcpy(req + STOR_ID_LEN + 2, peer, pl);
	if (stor_conn_call(c, STOR_MSG_COPY, req, STOR_ID_LEN + 2 + pl, NULL, 0, &r, &rl, err) < 0)
		return -1;
	if (rl != STOR_SHA_LEN)
		return cmn_err_set(err, CMN_EPROTO, 0, "%s: bad COPY answer", c->addr);
	memcpy(sha, r, STOR_SHA_LEN);
	return 0;
}

int stor_conn_stat(struct stor_conn *c, struct stor_stat *st, struct cmn_err *err)
{
	cleanup_free uint8_t *r = NULL;
	size_t rl, racklen;

	if (stor_conn_call(c, STOR_MSG_STAT, NULL, 0, NULL, 0, &r, &rl, err) < 0)
		return -1;
	if (rl < STOR_ID_LEN + 34)
		return cmn_err_set(err, CMN_EPROTO, 0, "%s: bad STAT answer", c->addr);
	racklen = stor_get_be16(r + STOR_ID_LEN + 32);
	if (rl != STOR_ID_LEN + 34 + racklen || racklen >= sizeof(st->rack) ||
	    !stor_id_valid((const char *)r, STOR_ID_LEN))
		return cmn_err_set(err, CMN_EPROTO, 0, "%s: bad STAT answer", c->addr);
	memcpy(st->server_id, r, STOR_ID_LEN);
	st->server_id[STOR_ID_LEN] = '\0';
	st->total_bytes = stor_get_be64(r + STOR_ID_LEN);
	st->free_bytes = stor_get_be64(r + STOR_ID_LEN + 8);
	st->chunk_count = stor_get_be64(r + STOR_ID_LEN + 16);
	st->used_bytes = stor_get_be64(r + STOR_ID_LEN + 24);
	memcpy(st->rack, r + STOR_ID_LEN + 34, racklen);
	st->rack[racklen] = '\0';
	return 0;
}

/* Appends n ids from a LIST/SCRUB answer body to a growing array. */
static int take_ids(const uint8_t *p, size_t avail, uint32_t n, char (**ids)[STOR_ID_LEN + 1],
		    size_t *count, struct cmn_err *err)
{
	char(*a)[STOR_ID_LEN + 1];
	if ((uint64_t)n * STOR_ID_LEN != avail)
		return cmn_err_set(err, CMN_EPROTO, 0, "id list length mismatch");
	if (n == 0)
		return 0;
	a = realloc(*ids, (*count + n) * sizeof(**ids));
	if (!a)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory for ids");
	*ids = a;
	for (uint32_t i = 0; i < n; i++) {
		if (!stor_id_valid((const char *)p + i * STOR_ID_LEN, STOR_ID_LEN))
			return cmn_err_set(err, CMN_EPROTO, 0, "bad id in list");
		memcpy(a[*count], p + i * STOR_ID_LEN, STOR_ID_LEN);
		a[*count][STOR_ID_LEN] = '\0';
		(*count)++;
	}
	return 0;
}

int stor_conn_list(struct stor_conn *c, char (**ids)[STOR_ID_LEN + 1], size_t *n,
		   struct cmn_err *err)
{
	uint8_t req[4 + STOR_ID_LEN];
	size_t reqlen = 4;

	*ids = NULL;
	*n = 0;
	stor_put_be32(req, STOR_LIST_MAX);
	for (;;) {
		cleanup_free uint8_t *r = NULL;
		size_t rl;
		uint32_t got;
		if (stor_conn_call(c, STOR_MSG_LIST, req, reqlen, NULL, 0, &r, &rl, err) < 0 ||
		    rl < 4 || take_ids(r + 4, rl - 4, got = stor_get_be32(r), ids, n, err) < 0) {
			free(*ids);
			*ids = NULL;
			*n = 0;
			return err && err->code
				   ? -1
				   : cmn_err_set(err, CMN_EPROTO, 0, "bad LIST answer");
		}
		if (got < STOR_LIST_MAX)
			return 0;
		memcpy(req + 4, (*ids)[*n - 1], STOR_ID_LEN);
		reqlen = 4 + STOR_ID_LEN;
	}
}

int stor_conn_scrub(struct stor_conn *c, uint64_t *checked, char (**bad)[STOR_ID_LEN + 1],
		    size_t *nbad, struct cmn_err *err)
{
	cleanup_free uint8_t *r = NULL;
	size_t rl;

	*bad = NULL;
	*nbad = 0;
	if (stor_conn_call(c, STOR_MSG_SCRUB, NULL, 0, NULL, 0, &r, &rl, err) < 0)
		return -1;
	if (rl < 12)
		return cmn_err_set(err, CMN_EPROTO, 0, "%s: bad SCRUB answer", c->addr);
	*checked = stor_get_be64(r);
	if (take_ids(r + 12, rl - 12, stor_get_be32(r + 8), bad, nbad, err) < 0) {
		free(*bad);
		*bad = NULL;
		*nbad = 0;
		return -1;
	}
	return 0;
}
