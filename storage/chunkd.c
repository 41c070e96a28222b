/* storage/chunkd.c — cordon-chunkd's server: accept, authenticate, serve.
 *
 * One thread per connection (bounded by max_conns); each connection is
 * authenticated before any request is read, answers requests in order, and
 * is dropped on the first protocol violation or after idle_timeout_ms of
 * silence. Every request field is validated here before the store sees it;
 * the store validates ids once more (defence in depth for file names).
 */
#define _GNU_SOURCE
#include "storage/chunkd.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "storage/chunk_store.h"

#define HANDSHAKE_TIMEOUT_MS 5000

struct chunkd {
	struct stor_store store;
	struct stor_cluster_key key;
	const char *rack;
	int idle_ms;
	atomic_int conns;
	pthread_mutex_t mu; /* guards fds */
	int fds[1024];
};

struct conn_arg {
	struct chunkd *d;
	int fd;
	int slot;
};

static void set_timeout(int fd, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int send_err(int fd, struct cmn_err *e)
{
	int code = e->code > CMN_OK && e->code < CMN_ECODE_MAX ? e->code : CMN_EINTERNAL;
	return stor_send_resp(fd, code, e->msg, strlen(e->msg), NULL, 0, NULL);
}

/* rb: when not NULL, the receive buffer p lies in, at rb->data +
 * STOR_FILE_HDR - STOR_ID_LEN, so the chunk is written from where it
 * arrived (and a GET answer is read into it once the request is parsed). */
static int do_put(struct chunkd *d, int fd, const uint8_t *p, size_t len, struct stor_rbuf *rb,
		  struct cmn_err *err)
{
	int rc;

	char id[STOR_ID_LEN + 1];
	uint8_t sha[STOR_SHA_LEN];

	if (len < STOR_ID_LEN || !stor_id_valid((const char *)p, STOR_ID_LEN))
		return cmn_err_set(err, CMN_EINVAL, 0, "PUT: bad chunk id");
	if (len - STOR_ID_LEN > STOR_CHUNK_MAX)
		return cmn_err_set(err, CMN_ELIMIT, 0, "PUT: chunk too large");
	memcpy(id, p, STOR_ID_LEN);
	id[STOR_ID_LEN] = '\0';
	if (rb)
		rc = stor_store_put_framed(&d->store, id, rb->data, len - STOR_ID_LEN, sha, err);
	else
		rc = stor_store_put(&d->store, id, p + STOR_ID_LEN, len - STOR_ID_LEN, sha, err);
	if (rc < 0)
		return -1;
	return stor_send_resp(fd, CMN_OK, sha, sizeof(sha), NULL, 0, err);
}

static int take_id(const uint8_t *p, size_t len, char id[STOR_ID_LEN + 1], struct cmn_err *err)
{
	if (len != STOR_ID_LEN || !stor_id_valid((const char *)p, STOR_ID_LEN))
		return cmn_err_set(err, CMN_EINVAL, 0, "bad chunk id");
	memcpy(id, p, STOR_ID_LEN);
	id[STOR_ID_LEN] = '\0';
	return 0;
}

static int do_get(struct chunkd *d, int fd, const uint8_t *p, size_t len, struct stor_rbuf *rb,
		  struct cmn_err *err)
{
	char id[STOR_ID_LEN + 1];
	uint8_t sha[STOR_SHA_LEN];
	const uint8_t *data;
	size_t dl;

	/* p (in rb) is not read after take_id: rb takes the file */
	if (take_id(p, len, id, err) < 0 ||
	    stor_store_get_into(&d->store, id, rb, &data, &dl, sha, err) < 0)
		return -1;
	return stor_send_resp(fd, CMN_OK, sha, sizeof(sha), data, dl, err);
}

static int do_verify(struct chunkd *d, int fd, const uint8_t *p, size_t len, struct stor_rbuf *rb,
		     struct cmn_err *err)
{
	char id[STOR_ID_LEN + 1];
	uint8_t out[STOR_SHA_LEN + 8];
	uint64_t size;

	if (take_id(p, len, id, err) < 0 ||
	    stor_store_verify(&d->store, id, rb, out, &size, err) < 0)
		return -1;
	stor_put_be64(out + STOR_SHA_LEN, size);
	return stor_send_resp(fd, CMN_OK, out, sizeof(out), NULL, 0, err);
}

static int do_delete(struct chunkd *d, int fd, const uint8_t *p, size_t len, struct cmn_err *err)
{
	char id[STOR_ID_LEN + 1];
	if (take_id(p, len, id, err) < 0 || stor_store_delete(&d->store, id, err) < 0)
		return -1;
	return stor_send_resp(fd, CMN_OK, NULL, 0, NULL, 0, err);
}

static int do_list(struct chunkd *d, int fd, const uint8_t *p, size_t len, struct cmn_err *err)
{
	char after[STOR_ID_LEN + 1];
	char(*ids)[STOR_ID_LEN + 1] = NULL;
	cleanup_free uint8_t *out = NULL;
	size_t n = 0;
	uint32_t max;
	int rc;

	if (len != 4 && len != 4 + STOR_ID_LEN)
		return cmn_err_set(err, CMN_EINVAL, 0, "LIST: bad request length");
	max = stor_get_be32(p);
	if (max == 0 || max > STOR_LIST_MAX)
		return cmn_err_set(err, CMN_EINVAL, 0, "LIST: max out of range");
	if (len > 4 && take_id(p + 4, STOR_ID_LEN, after, err) < 0)
		return -1;
	if (stor_store_list(&d->store, len > 4 ? after : NULL, max, &ids, &n, err) < 0)
		return -1;
	out = malloc(4 + n * STOR_ID_LEN);
	if (!out) {
		free(ids);
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	}
	stor_put_be32(out, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		memcpy(out + 4 + i * STOR_ID_LEN, ids[i], STOR_ID_LEN);
	free(ids);
	rc = stor_send_resp(fd, CMN_OK, out, 4 + n * STOR_ID_LEN, NULL, 0, err);
	return rc;
}

static int do_stat(struct chunkd *d, int fd, size_t len, struct cmn_err *err)
{
	struct stor_stat st;
	uint8_t out[STOR_ID_LEN + 34 + 64];
	size_t rl = strlen(d->rack);

	if (len != 0)
		return cmn_err_set(err, CMN_EINVAL, 0, "STAT: takes no arguments");
	if (stor_store_stat(&d->store, &st, err) < 0)
		return -1;
	memcpy(out, st.server_id, STOR_ID_LEN);
	stor_put_be64(out + STOR_ID_LEN, st.total_bytes);
	stor_put_be64(out + STOR_ID_LEN + 8, st.free_bytes);
	stor_put_be64(out + STOR_ID_LEN + 16, st.chunk_count);
	stor_put_be64(out + STOR_ID_LEN + 24, st.used_bytes);
	stor_put_be16(out + STOR_ID_LEN + 32, (uint16_t)rl);
	memcpy(out + STOR_ID_LEN + 34, d->rack, rl);
	return stor_send_resp(fd, CMN_OK, out, STOR_ID_LEN + 34 + rl, NULL, 0, err);
}

/* Fetches the chunk from a peer (authenticated with the same cluster key),
 * checks the peer's checksum against the bytes, stores it. */
static int do_copy(struct chunkd *d, int fd, const uint8_t *p, size_t len, struct cmn_err *err)
{
	char id[STOR_ID_LEN + 1], peer[80];
	uint8_t sha[STOR_SHA_LEN], mine[STOR_SHA_LEN];
	struct stor_rbuf crb = { NULL, 0, false };
	const uint8_t *data;
	struct stor_conn c;
	size_t dl, pl;
	int rc;

	if (len < STOR_ID_LEN + 2 || take_id(p, STOR_ID_LEN, id, err) < 0)
		return cmn_err_set(err, CMN_EINVAL, 0, "COPY: bad request");
	pl = stor_get_be16(p + STOR_ID_LEN);
	if (pl != len - STOR_ID_LEN - 2 || pl == 0 || pl >= sizeof(peer))
		return cmn_err_set(err, CMN_EINVAL, 0, "COPY: bad peer address length");
	memcpy(peer, p + STOR_ID_LEN + 2, pl);
	peer[pl] = '\0';
	if (stor_conn_open(&c, peer, &d->key, 5000, err) < 0)
		return cmn_err_wrap(err, "COPY");
	rc = stor_conn_get(&c, id, &crb, &data, &dl, sha, err);
	stor_conn_close(&c);
	if (rc < 0) {
		stor_rbuf_free(&crb);
		return cmn_err_wrap(err, "COPY from %s", peer);
	}
	if (dl > STOR_CHUNK_MAX)
		rc = cmn_err_set(err, CMN_EPROTO, 0, "COPY: peer sent an oversized chunk");
	else /* the chunk sits at crb.data + STOR_FILE_HDR: written from there */
		rc = stor_store_put_framed(&d->store, id, crb.data, dl, mine, err);
	stor_rbuf_free(&crb);
	if (rc < 0)
		return -1;
	if (memcmp(mine, sha, STOR_SHA_LEN) != 0) {
		stor_store_delete(&d->store, id, NULL);
		return cmn_err_set(err, CMN_EIO, 0, "COPY: chunk from %s fails its checksum", peer);
	}
	return stor_send_resp(fd, CMN_OK, mine, sizeof(mine), NULL, 0, err);
}

static int do_scrub(struct chunkd *d, int fd, size_t len, struct stor_rbuf *rb, struct cmn_err *err)
{
	char(*ids)[STOR_ID_LEN + 1] = NULL;
	struct cmn_buf out;
	uint8_t head[12];
	uint32_t nbad = 0;
	size_t n = 0;
	int rc;

	if (len != 0)
		return cmn_err_set(err, CMN_EINVAL, 0, "SCRUB: takes no arguments");
	if (stor_store_list(&d->store, NULL, SIZE_MAX, &ids, &n, err) < 0)
		return -1;
	cmn_buf_init(&out, 0);
	for (size_t i = 0; i < n && out.len + STOR_ID_LEN < STOR_FRAME_MAX - 64; i++) {
		uint8_t sha[STOR_SHA_LEN];
		uint64_t size;
		struct cmn_err e = CMN_ERR_INIT;
		if (stor_store_verify(&d->store, ids[i], rb, sha, &size, &e) < 0 &&
		    e.code != CMN_ENOTFOUND) {
			cmn_warn("scrub: %s", e.msg);
			if (cmn_buf_append(&out, ids[i], STOR_ID_LEN, err) < 0)
				break;
			nbad++;
		}
	}
	stor_put_be64(head, n);
	stor_put_be32(head + 8, nbad);
	free(ids);
	rc = stor_send_resp(fd, CMN_OK, head, sizeof(head), out.data, out.len, err);
	cmn_buf_free(&out);
	return rc;
}

/* Returns <0 to drop the connection (protocol broken or I/O failed).
 * rb: the connection's receive buffer, p at rb->data + STOR_FILE_HDR -
 * STOR_ID_LEN (see do_put); NULL when p is elsewhere (the fuzz target). */
static int serve_one(struct chunkd *d, int fd, uint8_t type, const uint8_t *p, size_t len,
		     struct stor_rbuf *rb)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct stor_rbuf own = { NULL, 0, false };
	int rc;

	if (rb && p != rb->data + STOR_FILE_HDR - STOR_ID_LEN)
		rb = NULL;

	switch (type) {
	case STOR_MSG_PUT:
		rc = do_put(d, fd, p, len, rb, &err);
		break;
	case STOR_MSG_GET:
		rc = do_get(d, fd, p, len, rb ? rb : &own, &err);
		break;
	case STOR_MSG_DELETE:
		rc = do_delete(d, fd, p, len, &err);
		break;
	case STOR_MSG_LIST:
		rc = do_list(d, fd, p, len, &err);
		break;
	case STOR_MSG_STAT:
		rc = do_stat(d, fd, len, &err);
		break;
	case STOR_MSG_COPY:
		rc = do_copy(d, fd, p, len, &err);
		break;
	case STOR_MSG_VERIFY:
		rc = do_verify(d, fd, p, len, rb ? rb : &own, &err);
		break;
	case STOR_MSG_SCRUB:
		rc = do_scrub(d, fd, len, rb ? rb : &own, &err);
		break;
	default:
		cmn_err_set(&err, CMN_EPROTO, 0, "unknown message type %u", type);
		send_err(fd, &err);
		return -1;
	}
	stor_rbuf_free(&own);
	if (rc < 0) {
		if (err.code == CMN_EIO)
			cmn_warn("%s", err.msg);
		/* an error the peer can hear about keeps the connection */
		if (send_err(fd, &err) < 0)
			return -1;
	}
	return 0;
}

static void *conn_main(void *arg)
{
	struct conn_arg a = *(struct conn_arg *)arg;
	struct cmn_err err = CMN_ERR_INIT;
	struct stor_rbuf rb = { NULL, 0, false };
	const size_t headroom = STOR_FILE_HDR - STOR_ID_LEN;

	free(arg);
	set_timeout(a.fd, HANDSHAKE_TIMEOUT_MS);
	if (stor_auth_server(a.fd, &a.d->key, &err) < 0) {
		cmn_warn("connection refused: %s", err.msg);
		goto out;
	}
	set_timeout(a.fd, a.d->idle_ms);
	for (;;) {
		uint8_t type, *p = NULL;
		size_t len;
		if (stor_recv_frame_into(a.fd, &rb, headroom, STOR_FRAME_MAX, &type, &p, &len,
					 &err) < 0) {
			if (err.code == CMN_EPROTO && strstr(err.msg, "out of range"))
				send_err(a.fd, &err);
			break;
		}
		if (serve_one(a.d, a.fd, type, p, len, &rb) < 0)
			break;
	}
out:
	stor_rbuf_free(&rb);
	pthread_mutex_lock(&a.d->mu);
	a.d->fds[a.slot] = -1;
	pthread_mutex_unlock(&a.d->mu);
	close(a.fd);
	atomic_fetch_sub(&a.d->conns, 1);
	return NULL;
}

static int open_listener(const char *addr, int *port_out, struct cmn_err *err)
{
	struct sockaddr_storage ss;
	unsigned sl;
	socklen_t bl = sizeof(ss);
	int one = 1;
	cleanup_close int fd = -1;

	if (stor_parse_addr(addr, &ss, &sl, err) < 0)
		return -1;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return cmn_err_sys(err, "socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0)
		return cmn_err_sys(err, "bind %s", addr);
	if (listen(fd, 128) < 0)
		return cmn_err_sys(err, "listen %s", addr);
	if (getsockname(fd, (struct sockaddr *)&ss, &bl) < 0)
		return cmn_err_sys(err, "getsockname");
	*port_out = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
						  : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return steal_fd(&fd);
}

static int write_port_file(const char *path, int port, struct cmn_err *err)
{
	char tmp[4096], text[16];
	cleanup_close int fd = -1;
	int n = snprintf(text, sizeof(text), "%d\n", port);

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return cmn_err_sys(err, "open %s", tmp);
	if (write(fd, text, (size_t)n) != n)
		return cmn_err_sys(err, "write %s", tmp);
	if (rename(tmp, path) < 0)
		return cmn_err_sys(err, "rename %s", path);
	return 0;
}

static void accept_one(struct chunkd *d, int lfd, int max_conns)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	struct conn_arg *a;
	pthread_attr_t attr;
	pthread_t t;
	int slot = -1, one = 1;

	if (fd < 0)
		return;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	pthread_mutex_lock(&d->mu);
	if (atomic_load(&d->conns) < max_conns)
		for (int i = 0; i < (int)CMN_ARRAY_SIZE(d->fds); i++)
			if (d->fds[i] < 0) {
				slot = i;
				d->fds[i] = fd;
				break;
			}
	pthread_mutex_unlock(&d->mu);
	if (slot < 0) {
		cmn_warn("too many connections; dropping one");
		close(fd);
		return;
	}
	a = malloc(sizeof(*a));
	if (!a)
		goto fail;
	*a = (struct conn_arg){ d, fd, slot };
	atomic_fetch_add(&d->conns, 1);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, conn_main, a) != 0) {
		pthread_attr_destroy(&attr);
		atomic_fetch_sub(&d->conns, 1);
		free(a);
		goto fail;
	}
	pthread_attr_destroy(&attr);
	return;
fail:
	pthread_mutex_lock(&d->mu);
	d->fds[slot] = -1;
	pthread_mutex_unlock(&d->mu);
	close(fd);
}

/* Wakes every connection thread (shutdown of their sockets) and waits up to
 * 10 s for them to leave, so the store is not closed under them. */
static void drain(struct chunkd *d)
{
	pthread_mutex_lock(&d->mu);
	for (size_t i = 0; i < CMN_ARRAY_SIZE(d->fds); i++)
		if (d->fds[i] >= 0)
			shutdown(d->fds[i], SHUT_RDWR);
	pthread_mutex_unlock(&d->mu);
	for (int i = 0; i < 1000 && atomic_load(&d->conns) > 0; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

int stor_chunkd_run(const struct stor_chunkd_cfg *cfg, volatile sig_atomic_t *stop,
		    struct cmn_err *err)
{
	struct chunkd *d = calloc(1, sizeof(*d));
	cleanup_close int lfd = -1;
	int port = 0, rc = -1;
	int max_conns = cfg->max_conns > 0 ? cfg->max_conns : 128;

	if (!d)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	pthread_mutex_init(&d->mu, NULL);
	for (size_t i = 0; i < CMN_ARRAY_SIZE(d->fds); i++)
		d->fds[i] = -1;
	if (max_conns > (int)CMN_ARRAY_SIZE(d->fds))
		max_conns = (int)CMN_ARRAY_SIZE(d->fds);
	d->rack = cfg->rack;
	d->idle_ms = cfg->idle_timeout_ms > 0 ? cfg->idle_timeout_ms : 30000;
	if (strlen(cfg->rack) == 0 || strlen(cfg->rack) > 64) {
		cmn_err_set(err, CMN_EINVAL, 0, "rack name must be 1..64 characters");
		goto out_free;
	}
	if (stor_cluster_key_load(&d->key, cfg->key_file, err) < 0)
		goto out_free;
	if (stor_store_open(&d->store, cfg->data_dir, err) < 0) {
		cmn_err_wrap(err, "data dir %s", cfg->data_dir);
		goto out_store;
	}
	lfd = open_listener(cfg->listen, &port, err);
	if (lfd < 0 || (cfg->port_file && write_port_file(cfg->port_file, port, err) < 0))
		goto out_store;
	cmn_info("serving %s on port %d (rack %s, server %s, %llu chunks)", cfg->data_dir, port,
		 cfg->rack, d->store.server_id, (unsigned long long)d->store.chunk_count);
	while (!*stop) {
		struct pollfd pfd = { lfd, POLLIN, 0 };
		int r = poll(&pfd, 1, 200);
		if (r > 0 && (pfd.revents & POLLIN))
			accept_one(d, lfd, max_conns);
	}
	rc = 0;
	drain(d);
out_store:
	if (atomic_load(&d->conns) == 0) {
		stor_store_close(&d->store);
	}
out_free:
	stor_cluster_key_wipe(&d->key);
	if (atomic_load(&d->conns) == 0) {
		pthread_mutex_destroy(&d->mu);
		free(d);
	}
	return rc;
}
