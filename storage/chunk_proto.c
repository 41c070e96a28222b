/* storage/chunk_proto.c — framing, ids, the cluster-key handshake. Shared by
 * cordon-chunkd and every client of it. */
#include "storage/chunk_proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/parse.h"

bool stor_id_valid(const char *id, size_t len)
{
	if (len != STOR_ID_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return true;
}

void stor_hex(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int stor_unhex(const char *in, size_t hexlen, uint8_t *out)
{
	if (hexlen % 2)
		return -1;
	for (size_t i = 0; i < hexlen / 2; i++) {
		int hi = hexval(in[2 * i]), lo = hexval(in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int stor_random_id(char out[STOR_ID_LEN + 1], struct cmn_err *err)
{
	uint8_t r[STOR_ID_LEN / 2];
	if (RAND_bytes(r, sizeof(r)) != 1)
		return cmn_err_set(err, CMN_EINTERNAL, 0, "RAND_bytes failed");
	stor_hex(r, sizeof(r), out);
	return 0;
}

int stor_sha256(const void *data, size_t len, uint8_t out[STOR_SHA_LEN], struct cmn_err *err)
{
	unsigned int n = 0;
	if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1 || n != STOR_SHA_LEN)
		return cmn_err_set(err, CMN_EINTERNAL, 0, "EVP_Digest sha256 failed");
	return 0;
}

static int write_all(int fd, const void *p, size_t n, struct cmn_err *err)
{
	const uint8_t *b = p;
	while (n > 0) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return cmn_err_sys(err, "send");
		}
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, void *p, size_t n, struct cmn_err *err)
{
	uint8_t *b = p;
	while (n > 0) {
		ssize_t r = recv(fd, b, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return cmn_err_set(err, CMN_ETIMEOUT, errno, "recv: timed out");
			return cmn_err_sys(err, "recv");
		}
		if (r == 0)
			return cmn_err_set(err, CMN_EPROTO, 0, "recv: peer closed the connection");
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

int stor_send_frame(int fd, uint8_t type, const void *p1, size_t n1, const void *p2, size_t n2,
		    struct cmn_err *err)
{
	uint8_t hdr[5];
	if (n1 > STOR_FRAME_MAX || n2 > STOR_FRAME_MAX - n1)
		return cmn_err_set(err, CMN_ELIMIT, 0, "frame of %zu bytes is too large", n1 + n2);
	stor_put_be32(hdr, (uint32_t)(1 + n1 + n2));
	hdr[4] = type;
	/* one segment for small frames: keeps request latency off Nagle */
	if (n1 + n2 <= 512) {
		uint8_t small[5 + 512];
		memcpy(small, hdr, 5);
		if (n1)
			memcpy(small + 5, p1, n1);
		if (n2)
			memcpy(small + 5 + n1, p2, n2);
		return write_all(fd, small, 5 + n1 + n2, err);
	}
	if (write_all(fd, hdr, 5, err) < 0 || (n1 && write_all(fd, p1, n1, err) < 0) ||
	    (n2 && write_all(fd, p2, n2, err) < 0))
		return -1;
	return 0;
}

int stor_recv_frame(int fd, size_t max, uint8_t *type, uint8_t **payload, size_t *len,
		    struct cmn_err *err)
{
	uint8_t hdr[5];
	uint32_t n;
	uint8_t *p;

	*payload = NULL;
	*len = 0;
	if (read_all(fd, hdr, 4, err) < 0)
		return -1;
	n = stor_get_be32(hdr);
	if (n == 0 || n - 1 > max)
		return cmn_err_set(err, CMN_EPROTO, 0, "frame length %u out of range", n);
	if (read_all(fd, hdr + 4, 1, err) < 0)
		return -1;
	*type = hdr[4];
	p = malloc(n); /* n >= 1, so never malloc(0) */
	if (!p)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory for a %u-byte frame", n);
	if (read_all(fd, p, n - 1, err) < 0) {
		free(p);
		return -1;
	}
	*payload = p;
	*len = n - 1;
	return 0;
}

int stor_recv_frame_into(int fd, struct stor_rbuf *rb, size_t headroom, size_t max, uint8_t *type,
			 uint8_t **payload, size_t *len, struct cmn_err *err)
{
	uint8_t hdr[5];
	uint32_t n;

	*payload = NULL;
	*len = 0;
	if (read_all(fd, hdr, 4, err) < 0)
		return -1;
	n = stor_get_be32(hdr);
	if (n == 0 || n - 1 > max || max > STOR_FRAME_MAX || headroom > STOR_IO_ALIGN)
		return cmn_err_set(err, CMN_EPROTO, 0, "frame length %u out of range", n);
	if (read_all(fd, hdr + 4, 1, err) < 0)
		return -1;
	*type = hdr[4];
	if (rb->cap < headroom + n) {
		void *nb = NULL;
		/* rounded up so that a few sizes of frame do not regrow it */
		size_t want = (headroom + n + STOR_IO_ALIGN - 1) & ~(size_t)(STOR_IO_ALIGN - 1);
		if (posix_memalign(&nb, STOR_IO_ALIGN, want) != 0)
			return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory for a %u-byte frame",
					   n);
		stor_rbuf_free(rb);
		rb->data = nb;
		rb->cap = want;
	}
	if (read_all(fd, rb->data + headroom, n - 1, err) < 0)
		return -1;
	*payload = rb->data + headroom;
	*len = n - 1;
	return 0;
}

void stor_rbuf_free(struct stor_rbuf *rb)
{
	if (rb->mapped && rb->data)
		munmap(rb->data, rb->cap);
	else
		free(rb->data);
	rb->data = NULL;
	rb->cap = 0;
	rb->mapped = false;
}

int stor_rbuf_map(struct stor_rbuf *rb, struct cmn_err *err)
{
	/* the largest frame stor_recv_frame_into takes (type byte + max) after
	 * the largest headroom, in whole pages: it never regrows this one */
	size_t cap =
	    (STOR_IO_ALIGN + STOR_FRAME_MAX + 1 + STOR_IO_ALIGN - 1) & ~(size_t)(STOR_IO_ALIGN - 1);
	void *p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return cmn_err_sys(err, "mmap receive buffer");
	if (madvise(p, cap, MADV_DONTFORK) < 0) {
		int e = errno;
		munmap(p, cap);
		errno = e;
		return cmn_err_sys(err, "madvise receive buffer");
	}
	stor_rbuf_free(rb);
	*rb = (struct stor_rbuf){ p, cap, true };
	return 0;
}

int stor_send_resp(int fd, int status, const void *p1, size_t n1, const void *p2, size_t n2,
		   struct cmn_err *err)
{
	uint8_t st = (uint8_t)status;
	uint8_t head[1 + 512];

	if (n1 <= 511) {
		head[0] = st;
		if (n1)
			memcpy(head + 1, p1, n1);
		return stor_send_frame(fd, STOR_MSG_RESP, head, 1 + n1, p2, n2, err);
	}
	/* large first part: status byte is sent as its own piece */
	{
		uint8_t hdr[6];
		if (n1 > STOR_FRAME_MAX || n2 > STOR_FRAME_MAX - n1)
			return cmn_err_set(err, CMN_ELIMIT, 0, "response too large");
		stor_put_be32(hdr, (uint32_t)(2 + n1 + n2));
		hdr[4] = STOR_MSG_RESP;
		hdr[5] = st;
		if (write_all(fd, hdr, 6, err) < 0 || write_all(fd, p1, n1, err) < 0 ||
		    (n2 && write_all(fd, p2, n2, err) < 0))
			return -1;
		return 0;
	}
}

void stor_cluster_key_wipe(struct stor_cluster_key *k)
{
	OPENSSL_cleanse(k, sizeof(*k));
}

int stor_cluster_key_load(struct stor_cluster_key *k, const char *path, struct cmn_err *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	ssize_t n;

	memset(k, 0, sizeof(*k));
	if (fd < 0)
		return cmn_err_sys(err, "open cluster key %s", path);
	if (fstat(fd, &st) < 0)
		return cmn_err_sys(err, "fstat cluster key %s", path);
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077))
		return cmn_err_set(err, CMN_EDENIED, 0,
				   "cluster key %s must be a regular file of mode 0600", path);
	n = read(fd, k->key, sizeof(k->key));
	if (n < 0)
		return cmn_err_sys(err, "read cluster key %s", path);
	while (n > 0 && (k->key[n - 1] == '\n' || k->key[n - 1] == '\r'))
		n--;
	if (n < 32) {
		stor_cluster_key_wipe(k);
		return cmn_err_set(err, CMN_EINVAL, 0, "cluster key %s: %zd bytes, need >= 32",
				   path, n);
	}
	k->len = (size_t)n;
	return 0;
}

int stor_auth_mac(const struct stor_cluster_key *k, const char *label, const uint8_t *a,
		  const uint8_t *b, uint8_t mac[STOR_MAC_LEN], struct cmn_err *err)
{
	uint8_t msg[64 + 2 * STOR_NONCE_LEN];
	size_t ll = strlen(label);
	unsigned int n = 0;

	if (ll > 64)
		return cmn_err_set(err, CMN_EINTERNAL, 0, "auth label too long");
	memcpy(msg, label, ll);
	memcpy(msg + ll, a, STOR_NONCE_LEN);
	memcpy(msg + ll + STOR_NONCE_LEN, b, STOR_NONCE_LEN);
	if (!HMAC(EVP_sha256(), k->key, (int)k->len, msg, ll + 2 * STOR_NONCE_LEN, mac, &n) ||
	    n != STOR_MAC_LEN)
		return cmn_err_set(err, CMN_EINTERNAL, 0, "HMAC-SHA256 failed");
	return 0;
}

#define LABEL_C "cordon-chunkd-v1 client proof"
#define LABEL_S "cordon-chunkd-v1 server proof"

int stor_auth_server(int fd, const struct stor_cluster_key *k, struct cmn_err *err)
{
	uint8_t hello[5 + STOR_NONCE_LEN], want[STOR_MAC_LEN], mine[STOR_MAC_LEN];
	cleanup_free uint8_t *p = NULL;
	uint8_t type;
	size_t len;

	memcpy(hello, "CHKD", 4);
	hello[4] = STOR_PROTO_VERSION;
	if (RAND_bytes(hello + 5, STOR_NONCE_LEN) != 1)
		return cmn_err_set(err, CMN_EINTERNAL, 0, "RAND_bytes failed");
	if (stor_send_frame(fd, STOR_MSG_HELLO, hello, sizeof(hello), NULL, 0, err) < 0)
		return -1;
	if (stor_recv_frame(fd, 2 * STOR_NONCE_LEN, &type, &p, &len, err) < 0)
		return cmn_err_wrap(err, "auth");
	if (type != STOR_MSG_AUTH || len != STOR_NONCE_LEN + STOR_MAC_LEN)
		return cmn_err_set(err, CMN_EAUTH, 0, "auth: expected AUTH, got type %u", type);
	if (stor_auth_mac(k, LABEL_C, hello + 5, p, want, err) < 0)
		return -1;
	if (CRYPTO_memcmp(want, p + STOR_NONCE_LEN, STOR_MAC_LEN) != 0)
		return cmn_err_set(err, CMN_EAUTH, 0, "auth: wrong cluster key proof");
	if (stor_auth_mac(k, LABEL_S, p, hello + 5, mine, err) < 0)
		return -1;
	return stor_send_frame(fd, STOR_MSG_AUTH_OK, mine, sizeof(mine), NULL, 0, err);
}

int stor_auth_client(int fd, const struct stor_cluster_key *k, struct cmn_err *err)
{
	uint8_t msg[STOR_NONCE_LEN + STOR_MAC_LEN], want[STOR_MAC_LEN];
	cleanup_free uint8_t *p = NULL;
	cleanup_free uint8_t *q = NULL;
	uint8_t type;
	size_t len;

	if (stor_recv_frame(fd, 5 + STOR_NONCE_LEN, &type, &p, &len, err) < 0)
		return cmn_err_wrap(err, "hello");
	if (type != STOR_MSG_HELLO || len != 5 + STOR_NONCE_LEN || memcmp(p, "CHKD", 4) != 0 ||
	    p[4] != STOR_PROTO_VERSION)
		return cmn_err_set(err, CMN_EPROTO, 0, "not a cordon-chunkd (bad HELLO)");
	if (RAND_bytes(msg, STOR_NONCE_LEN) != 1)
		return cmn_err_set(err, CMN_EINTERNAL, 0, "RAND_bytes failed");
	if (stor_auth_mac(k, LABEL_C, p + 5, msg, msg + STOR_NONCE_LEN, err) < 0)
		return -1;
	if (stor_send_frame(fd, STOR_MSG_AUTH, msg, sizeof(msg), NULL, 0, err) < 0)
		return -1;
	if (stor_recv_frame(fd, 512, &type, &q, &len, err) < 0)
		return cmn_err_set(err, CMN_EAUTH, 0, "auth: server refused the cluster key");
	if (type != STOR_MSG_AUTH_OK || len != STOR_MAC_LEN)
		return cmn_err_set(err, CMN_EAUTH, 0, "auth: server refused the cluster key");
	if (stor_auth_mac(k, LABEL_S, msg, p + 5, want, err) < 0)
		return -1;
	if (CRYPTO_memcmp(want, q, STOR_MAC_LEN) != 0)
		return cmn_err_set(err, CMN_EAUTH, 0, "auth: server does not hold the cluster key");
	return 0;
}

int stor_parse_addr(const char *s, void *out, unsigned *len_out, struct cmn_err *err)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	uint64_t port;
	size_t hl;

	if (!colon || colon == s)
		return cmn_err_set(err, CMN_EINVAL, 0, "address '%s': want IP:PORT", s);
	hl = (size_t)(colon - s);
	if (s[0] == '[') {
		if (hl < 3 || s[hl - 1] != ']')
			return cmn_err_set(err, CMN_EINVAL, 0, "address '%s': bad [v6]", s);
		hl -= 2;
		s++;
	}
	if (hl >= sizeof(host))
		return cmn_err_set(err, CMN_EINVAL, 0, "address: host too long");
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (cmn_parse_u64(colon + 1, &port, NULL) < 0 || port > 65535)
		return cmn_err_set(err, CMN_EINVAL, 0, "address: bad port '%s'", colon + 1);
	memset(out, 0, sizeof(struct sockaddr_storage));
	{
		struct sockaddr_in *a4 = out;
		struct sockaddr_in6 *a6 = out;
		if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
			a4->sin_family = AF_INET;
			a4->sin_port = htons((uint16_t)port);
			*len_out = sizeof(*a4);
			return 0;
		}
		if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
			a6->sin6_family = AF_INET6;
			a6->sin6_port = htons((uint16_t)port);
			*len_out = sizeof(*a6);
			return 0;
		}
	}
	return cmn_err_set(err, CMN_EINVAL, 0, "address '%s': not a numeric IP", host);
}
