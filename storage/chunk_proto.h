/* storage/chunk_proto.h — the wire protocol of cordon-chunkd (internal to
 * storage/; see docs/storage.md for the message table).
 *
 * Frame: u32 big-endian length of what follows (1..STOR_FRAME_MAX) | u8 type
 * | payload. A connection starts with a mutual challenge-response over the
 * cluster key (HMAC-SHA256, distinct labels per direction so neither side
 * can be used as an oracle for the other); nothing else is served before it.
 * Then the client sends requests and the server answers each with one RESP
 * frame: u8 status (enum cmn_code, 0 = OK) | payload (on error: message text).
 */
#ifndef STOR_CHUNK_PROTO_H
#define STOR_CHUNK_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define STOR_ID_LEN 32 /* chunk and server ids: 32 lowercase hex characters */
#define STOR_SHA_LEN 32
#define STOR_NONCE_LEN 32
#define STOR_MAC_LEN 32
#define STOR_CHUNK_MAX (8u << 20)              /* largest chunk a server accepts */
#define STOR_FRAME_MAX (STOR_CHUNK_MAX + 4096) /* largest frame either side reads */
#define STOR_LIST_MAX 65536                    /* ids per LIST answer */
#define STOR_PROTO_VERSION 1
/* Alignment of memory, file offsets and lengths for O_DIRECT writes: the
 * page size, which covers every logical block size Linux devices use. */
#define STOR_IO_ALIGN 4096
/* A chunk file's header ("CCK1" | u32 0 | u64 size | sha256), see chunk_store.h. */
#define STOR_FILE_HDR 48

enum stor_msg {
	STOR_MSG_HELLO = 1,   /* s->c: "CHKD" u8 version nonce[32] */
	STOR_MSG_AUTH = 2,    /* c->s: nonce[32] mac[32] */
	STOR_MSG_AUTH_OK = 3, /* s->c: mac[32] */
	STOR_MSG_PUT = 16,    /* id data                  -> sha[32] */
	STOR_MSG_GET = 17,    /* id                       -> sha[32] data */
	STOR_MSG_DELETE = 18, /* id                       -> (empty) */
	STOR_MSG_LIST = 19,   /* u32 max [after id]        -> u32 n, n x id */
	STOR_MSG_STAT = 20,   /* (empty)                  -> see struct stor_stat */
	STOR_MSG_COPY = 21,   /* id u16 len peer "ip:port" -> sha[32] */
	STOR_MSG_VERIFY = 22, /* id                       -> sha[32] u64 size */
	STOR_MSG_SCRUB = 23,  /* (empty)                  -> u64 checked, u32 n, n x id */
	STOR_MSG_RESP = 64,
};

struct stor_stat {
	char server_id[STOR_ID_LEN + 1];
	char rack[65];
	uint64_t total_bytes, free_bytes, chunk_count, used_bytes;
};

/* Big-endian helpers shared by the wire code. */
static inline void stor_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void stor_put_be32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}
static inline void stor_put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}
static inline uint16_t stor_get_be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t stor_get_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t stor_get_be64(const uint8_t *p)
{
	return ((uint64_t)stor_get_be32(p) << 32) | stor_get_be32(p + 4);
}

/* True when id is exactly 32 lowercase hex characters: the only ids that
 * ever become file names, so no path can be smuggled in. */
bool stor_id_valid(const char *id, size_t len);
void stor_hex(const uint8_t *in, size_t n, char *out); /* out gets 2n+1 bytes */
int stor_unhex(const char *in, size_t hexlen, uint8_t *out);
int stor_random_id(char out[STOR_ID_LEN + 1], struct cmn_err *err);

/* Frame I/O on a blocking socket (timeouts come from SO_RCVTIMEO/SNDTIMEO). */
int stor_send_frame(int fd, uint8_t type, const void *p1, size_t n1, const void *p2, size_t n2,
		    struct cmn_err *err);
/* Reads one frame; *payload is malloc'd (caller frees), len excludes the type. */
int stor_recv_frame(int fd, size_t max, uint8_t *type, uint8_t **payload, size_t *len,
		    struct cmn_err *err);
/* A receive buffer reused across frames (no allocation, and no fresh pages
 * to fault in, per 4 MiB chunk): data is STOR_IO_ALIGN-aligned and a
 * payload lands at data + headroom, so a server can build a file header in
 * front of it and write both with one O_DIRECT write. */
struct stor_rbuf {
	uint8_t *data;
	size_t cap;
	bool mapped; /* data is stor_rbuf_map's mapping, not malloc's */
};
/* A buffer for a whole frame, mapped apart and left out of fork (and of
 * every container clone: MADV_DONTFORK), so it can be kept and reused by
 * cordond's readers without its pages being write-protected, then faulted
 * again, after each node start. */
int stor_rbuf_map(struct stor_rbuf *rb, struct cmn_err *err);
/* Like stor_recv_frame, but *payload points into rb (valid until the next
 * call or stor_rbuf_free). */
int stor_recv_frame_into(int fd, struct stor_rbuf *rb, size_t headroom, size_t max, uint8_t *type,
			 uint8_t **payload, size_t *len, struct cmn_err *err);
void stor_rbuf_free(struct stor_rbuf *rb);
int stor_send_resp(int fd, int status, const void *p1, size_t n1, const void *p2, size_t n2,
		   struct cmn_err *err);

/* The cluster key: the file's bytes (at least 32), refused if group/world
 * readable. */
struct stor_cluster_key {
	uint8_t key[256];
	size_t len;
};
int stor_cluster_key_load(struct stor_cluster_key *k, const char *path, struct cmn_err *err);
void stor_cluster_key_wipe(struct stor_cluster_key *k);
/* mac = HMAC-SHA256(key, label | a | b) */
int stor_auth_mac(const struct stor_cluster_key *k, const char *label, const uint8_t *a,
		  const uint8_t *b, uint8_t mac[STOR_MAC_LEN], struct cmn_err *err);
/* Server side of the handshake; 0 when the peer proved the key. */
int stor_auth_server(int fd, const struct stor_cluster_key *k, struct cmn_err *err);
int stor_auth_client(int fd, const struct stor_cluster_key *k, struct cmn_err *err);

/* "a.b.c.d:port" or "[v6]:port" (numeric only, no name lookup). */
int stor_parse_addr(const char *s, void *sockaddr_storage_out, unsigned *len_out,
		    struct cmn_err *err);
int stor_sha256(const void *data, size_t len, uint8_t out[STOR_SHA_LEN], struct cmn_err *err);

/* A client connection to one chunk server (used by the client, the master,
 * and by chunkd itself for copy-from-peer). */
struct stor_conn {
	int fd;
	char addr[80];
};
int stor_conn_open(struct stor_conn *c, const char *addr, const struct stor_cluster_key *k,
		   int timeout_ms, struct cmn_err *err);
void stor_conn_close(struct stor_conn *c);
/* One request, one answer; on a non-OK status returns -1 with err->code =
 * the server's status and its message. *resp is malloc'd. */
int stor_conn_call(struct stor_conn *c, uint8_t type, const void *p1, size_t n1, const void *p2,
		   size_t n2, uint8_t **resp, size_t *resp_len, struct cmn_err *err);
int stor_conn_put(struct stor_conn *c, const char *id, const void *data, size_t len,
		  uint8_t sha[STOR_SHA_LEN], struct cmn_err *err);
/* The chunk is received into rb (grown as needed, reused across calls);
 * *data points into it at rb->data + STOR_FILE_HDR, so it can be stored
 * with stor_store_put_framed as it is. sha is the server's stored checksum
 * (already checked by it). */
int stor_conn_get(struct stor_conn *c, const char *id, struct stor_rbuf *rb, const uint8_t **data,
		  size_t *len, uint8_t sha[STOR_SHA_LEN], struct cmn_err *err);
int stor_conn_delete(struct stor_conn *c, const char *id, struct cmn_err *err);
int stor_conn_verify(struct stor_conn *c, const char *id, uint8_t sha[STOR_SHA_LEN], uint64_t *size,
		     struct cmn_err *err);
int stor_conn_copy(struct stor_conn *c, const char *id, const char *peer, uint8_t sha[STOR_SHA_LEN],
		   struct cmn_err *err);
int stor_conn_stat(struct stor_conn *c, struct stor_stat *st, struct cmn_err *err);
/* Appends every id (sorted) to *ids (malloc'd array of 33-byte strings). */
int stor_conn_list(struct stor_conn *c, char (**ids)[STOR_ID_LEN + 1], size_t *n,
		   struct cmn_err *err);
int stor_conn_scrub(struct stor_conn *c, uint64_t *checked, char (**bad)[STOR_ID_LEN + 1],
		    size_t *nbad, struct cmn_err *err);

#endif
