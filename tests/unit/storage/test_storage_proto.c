/* Unit tests of storage/chunk_proto.c: ids, addresses, frame limits and the
 * cluster-key handshake (both directions, right and wrong keys), over a
 * socketpair. */
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "storage/chunk_proto.h"

static void test_ids_and_hex(void **state)
{
	char id[STOR_ID_LEN + 1], hex[9];
	uint8_t raw[4] = { 0xde, 0xad, 0x00, 0x0f }, back[4];
	struct cmn_err err = CMN_ERR_INIT;
	(void)state;

	assert_int_equal(stor_random_id(id, &err), 0);
	assert_true(stor_id_valid(id, strlen(id)));
	assert_false(stor_id_valid("../../../../../../../../etc/pass", 32));
	assert_false(stor_id_valid("0123456789ABCDEF0123456789abcdef", 32));
	assert_false(stor_id_valid("0123456789abcdef0123456789abcde", 31));
	assert_false(stor_id_valid("0123456789abcdef0123456789abcde\0", 32));
	stor_hex(raw, 4, hex);
	assert_string_equal(hex, "dead000f");
	assert_int_equal(stor_unhex(hex, 8, back), 0);
	assert_memory_equal(raw, back, 4);
	assert_int_equal(stor_unhex("zz", 2, back), -1);
	assert_int_equal(stor_unhex("abc", 3, back), -1);
}

static void test_addr_parse(void **state)
{
	struct sockaddr_storage ss;
	unsigned len;
	struct cmn_err err = CMN_ERR_INIT;
	(void)state;

	assert_int_equal(stor_parse_addr("127.0.0.1:4000", &ss, &len, &err), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 4000);
	assert_int_equal(stor_parse_addr("[::1]:1", &ss, &len, &err), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(stor_parse_addr("localhost:80", &ss, &len, &err), -1);
	assert_int_equal(stor_parse_addr("127.0.0.1:65536", &ss, &len, &err), -1);
	assert_int_equal(stor_parse_addr("127.0.0.1:-1", &ss, &len, &err), -1);
	assert_int_equal(stor_parse_addr("127.0.0.1", &ss, &len, &err), -1);
	assert_int_equal(stor_parse_addr(":80", &ss, &len, &err), -1);
}

static void pair(int sv[2])
{
	struct timeval tv = { 5, 0 };
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	for (int i = 0; i < 2; i++)
		setsockopt(sv[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

static void test_frames(void **state)
{
	int sv[2];
	uint8_t type, *p, raw[8];
	size_t len;
	struct cmn_err err = CMN_ERR_INIT;
	(void)state;

	pair(sv);
	assert_int_equal(stor_send_frame(sv[0], 17, "ab", 2, "cd", 2, &err), 0);
	assert_int_equal(stor_recv_frame(sv[1], 100, &type, &p, &len, &err), 0);
	assert_int_equal(type, 17);
	assert_int_equal(len, 4);
	assert_memory_equal(p, "abcd", 4);
	free(p);
	/* a frame over the reader's limit is refused before any allocation */
	assert_int_equal(stor_send_frame(sv[0], 17, "abcd", 4, NULL, 0, &err), 0);
	assert_int_equal(stor_recv_frame(sv[1], 3, &type, &p, &len, &err), -1);
	assert_int_equal(err.code, CMN_EPROTO);
	close(sv[0]);
	close(sv[1]);
	/* zero length, 4 GiB claimed, and a half message */
	pair(sv);
	stor_put_be32(raw, 0);
	assert_int_equal(write(sv[0], raw, 4), 4);
	assert_int_equal(stor_recv_frame(sv[1], 100, &type, &p, &len, &err), -1);
	stor_put_be32(raw, 0xffffffffu);
	assert_int_equal(write(sv[0], raw, 5), 5);
	assert_int_equal(stor_recv_frame(sv[1], STOR_FRAME_MAX, &type, &p, &len, &err), -1);
	assert_null(p);
	close(sv[1]);
	close(sv[0]);
	pair(sv);
	stor_put_be32(raw, 50);
	raw[4] = 16;
	assert_int_equal(write(sv[0], raw, 6), 6);
	close(sv[0]);
	assert_int_equal(stor_recv_frame(sv[1], 100, &type, &p, &len, &err), -1);
	assert_null(p);
	close(sv[1]);
}

struct srv_arg {
	int fd;
	struct stor_cluster_key key;
	int rc;
};

static void *server_side(void *a)
{
	struct srv_arg *s = a;
	s->rc = stor_auth_server(s->fd, &s->key, NULL);
	if (s->rc < 0)
		shutdown(s->fd, SHUT_RDWR); /* as chunkd does: hang up */
	return NULL;
}

static int handshake(const char *server_key, const char *client_key, int *server_rc)
{
	struct srv_arg s;
	struct stor_cluster_key ck;
	struct cmn_err err = CMN_ERR_INIT;
	pthread_t t;
	int sv[2], rc;

	pair(sv);
	memset(&s, 0, sizeof(s));
	memset(&ck, 0, sizeof(ck));
	s.fd = sv[0];
	s.key.len = strlen(server_key);
	memcpy(s.key.key, server_key, s.key.len);
	ck.len = strlen(client_key);
	memcpy(ck.key, client_key, ck.len);
	pthread_create(&t, NULL, server_side, &s);
	rc = stor_auth_client(sv[1], &ck, &err);
	pthread_join(t, NULL);
	close(sv[0]);
	close(sv[1]);
	*server_rc = s.rc;
	return rc;
}

static void test_handshake(void **state)
{
	const char *k1 = "0123456789abcdef0123456789abcdef",
		   *k2 = "0123456789abcdef0123456789abcdeX";
	int src;
	(void)state;

	assert_int_equal(handshake(k1, k1, &src), 0);
	assert_int_equal(src, 0);
	assert_int_equal(handshake(k1, k2, &src), -1);
	assert_int_equal(src, -1);
}

static void test_mac_labels_differ(void **state)
{
	struct stor_cluster_key k = { .len = 32 };
	uint8_t a[STOR_NONCE_LEN] = { 1 }, b[STOR_NONCE_LEN] = { 2 }, m1[32], m2[32];
	(void)state;

	memset(k.key, 7, 32);
	assert_int_equal(stor_auth_mac(&k, "cordon-chunkd-v1 client proof", a, b, m1, NULL), 0);
	assert_int_equal(stor_auth_mac(&k, "cordon-chunkd-v1 server proof", a, b, m2, NULL), 0);
	assert_memory_not_equal(m1, m2, 32);
	assert_int_equal(stor_auth_mac(&k, "cordon-chunkd-v1 client proof", b, a, m2, NULL), 0);
	assert_memory_not_equal(m1, m2, 32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids_and_hex),
		cmocka_unit_test(test_addr_parse),
		cmocka_unit_test(test_frames),
		cmocka_unit_test(test_handshake),
		cmocka_unit_test(test_mac_labels_differ),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
