/* Unit tests of storage/chunk_store.c's write path and the reusable receive
 * buffer: chunk files written with O_DIRECT (aligned bulk + buffered tail)
 * and with the buffered fallback are byte-identical, for sizes on both
 * sides of every alignment boundary; framed puts from an aligned receive
 * buffer and puts from any buffer agree; limits hold. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "storage/chunk_store.h"

static const size_t sizes[] = { 0,
				1,
				STOR_IO_ALIGN - STOR_FILE_HDR - 1,
				STOR_IO_ALIGN - STOR_FILE_HDR,
				STOR_IO_ALIGN - STOR_FILE_HDR + 1,
				STOR_IO_ALIGN,
				2 * STOR_IO_ALIGN - STOR_FILE_HDR,
				(1u << 20) + 7,
				(4u << 20) + 1,
				STOR_CHUNK_MAX };

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

static void rm_rf(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)((i * 2654435761u + seed) >> 7);
}

/* The file on disk: "CCK1" | u32 0 | u64 size | sha256 | data, nothing more. */
static void check_file(struct stor_store *s, const char *id, const uint8_t *data, size_t len)
{
	char path[4096];
	uint8_t sha[STOR_SHA_LEN], *file = malloc(STOR_FILE_HDR + len + 1);
	struct cmn_err err = CMN_ERR_INIT;
	int fd;

	assert_non_null(file);
	snprintf(path, sizeof(path), "%s/chunks/%.2s/%s", s->dir, id, id);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, file, STOR_FILE_HDR + len + 1), (ssize_t)(STOR_FILE_HDR + len));
	close(fd);
	assert_memory_equal(file, "CCK1\0\0\0\0", 8);
	assert_int_equal(stor_get_be64(file + 8), len);
	assert_int_equal(stor_sha256(data, len, sha, &err), 0);
	assert_memory_equal(file + 16, sha, STOR_SHA_LEN);
	if (len)
		assert_memory_equal(file + STOR_FILE_HDR, data, len);
	free(file);
}

static void check_get(struct stor_store *s, const char *id, const uint8_t *data, size_t len)
{
	uint8_t *got = NULL, sha[STOR_SHA_LEN];
	size_t glen = 0;
	struct cmn_err err = CMN_ERR_INIT;

	assert_int_equal(stor_store_get(s, id, &got, &glen, sha, &err), 0);
	assert_int_equal(glen, len);
	if (len)
		assert_memory_equal(got, data, len);
	free(got);
}

/* A flipped byte, a truncation and a grown file: each read (direct or
 * not) reports the chunk corrupt, never returns its bytes. */
static void damaged_reads(struct stor_store *s, uint8_t *data)
{
	size_t len = 3 * STOR_IO_ALIGN + 100;
	struct cmn_err err = CMN_ERR_INIT;
	struct stor_rbuf rb = { NULL, 0, false };

	for (int how = 0; how < 3; how++) {
		char id[STOR_ID_LEN + 1], path[4096];
		uint8_t sha[STOR_SHA_LEN], byte;
		const uint8_t *got = (const uint8_t *)"";
		size_t glen = 1;
		int fd;

		fill(data, len, 77u + (unsigned)how);
		assert_int_equal(stor_random_id(id, &err), 0);
		assert_int_equal(stor_store_put(s, id, data, len, sha, &err), 0);
		snprintf(path, sizeof(path), "%s/chunks/%.2s/%s", s->dir, id, id);
		fd = open(path, O_RDWR | O_CLOEXEC);
		assert_true(fd >= 0);
		if (how == 0) {
			assert_int_equal(pread(fd, &byte, 1, STOR_IO_ALIGN + 5), 1);
			byte ^= 1;
			assert_int_equal(pwrite(fd, &byte, 1, STOR_IO_ALIGN + 5), 1);
		} else if (how == 1) {
			assert_int_equal(ftruncate(fd, STOR_FILE_HDR + (off_t)len - 1), 0);
		} else {
			assert_int_equal(pwrite(fd, "x", 1, STOR_FILE_HDR + (off_t)len), 1);
		}
		close(fd);
		err = (struct cmn_err)CMN_ERR_INIT;
		assert_int_equal(stor_store_get_into(s, id, &rb, &got, &glen, sha, &err), -1);
		assert_int_equal(err.code, CMN_EIO);
		assert_null(got);
		assert_int_equal(glen, 0);
		assert_int_equal(stor_store_delete(s, id, &err), 0);
	}
	stor_rbuf_free(&rb);
}

static void put_all_sizes(bool direct)
{
	char dir[] = "/tmp/cordon-test-store-XXXXXX", tmpdir[4096];
	struct stor_store s;
	struct cmn_err err = CMN_ERR_INIT;
	uint8_t *data = malloc(STOR_CHUNK_MAX);
	void *framed = NULL;

	assert_non_null(data);
	assert_non_null(mkdtemp(dir));
	assert_int_equal(stor_store_open(&s, dir, &err), 0);
	atomic_store(&s.direct_io, direct);
	assert_int_equal(posix_memalign(&framed, STOR_IO_ALIGN, STOR_FILE_HDR + STOR_CHUNK_MAX), 0);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char id1[STOR_ID_LEN + 1], id2[STOR_ID_LEN + 1];
		uint8_t sha1[STOR_SHA_LEN], sha2[STOR_SHA_LEN];
		size_t len = sizes[i];

		fill(data, len, (unsigned)i);
		assert_int_equal(stor_random_id(id1, &err), 0);
		assert_int_equal(stor_random_id(id2, &err), 0);
		/* from any buffer (copied into an aligned one) */
		assert_int_equal(stor_store_put(&s, id1, data, len, sha1, &err), 0);
		/* in place: the bytes at framed + STOR_FILE_HDR, header room in front */
		if (len)
			memcpy((uint8_t *)framed + STOR_FILE_HDR, data, len);
		assert_int_equal(stor_store_put_framed(&s, id2, framed, len, sha2, &err), 0);
		assert_memory_equal(sha1, sha2, STOR_SHA_LEN);
		check_file(&s, id1, data, len);
		check_file(&s, id2, data, len);
		check_get(&s, id1, data, len);
		check_get(&s, id2, data, len);
	}
	assert_int_equal(s.chunk_count, 2 * (sizeof(sizes) / sizeof(sizes[0])));
	damaged_reads(&s, data);
	/* nothing left behind in tmp/ */
	snprintf(tmpdir, sizeof(tmpdir), "%s/tmp", dir);
	assert_int_equal(rmdir(tmpdir), 0);
	free(framed);
	free(data);
	stor_store_close(&s);
	rm_rf(dir);
}

static void test_put_direct(void **state)
{
	(void)state;
	put_all_sizes(true);
}

static void test_put_buffered(void **state)
{
	(void)state;
	put_all_sizes(false);
}

/* A framed put from a buffer that breaks the alignment contract still
 * writes the right file (through the page cache), and the limits hold. */
static void test_put_unaligned_and_limits(void **state)
{
	char dir[] = "/tmp/cordon-test-store-XXXXXX", id[STOR_ID_LEN + 1];
	struct stor_store s;
	struct cmn_err err = CMN_ERR_INIT;
	uint8_t *raw = malloc(STOR_FILE_HDR + 3 * STOR_IO_ALIGN + 1), sha[STOR_SHA_LEN];
	size_t len = 2 * STOR_IO_ALIGN + 5;
	(void)state;

	assert_non_null(raw);
	assert_non_null(mkdtemp(dir));
	assert_int_equal(stor_store_open(&s, dir, &err), 0);
	assert_int_equal(stor_random_id(id, &err), 0);
	fill(raw + 1 + STOR_FILE_HDR, len, 9);
	assert_int_equal(stor_store_put_framed(&s, id, raw + 1, len, sha, &err), 0);
	check_file(&s, id, raw + 1 + STOR_FILE_HDR, len);
	assert_int_equal(stor_store_put(&s, id, raw, STOR_CHUNK_MAX + 1, sha, &err), -1);
	assert_int_equal(err.code, CMN_ELIMIT);
	err = (struct cmn_err)CMN_ERR_INIT;
	assert_int_equal(stor_store_put(&s, "../../etc/passwd0000000000000000", raw, 1, sha, &err),
			 -1);
	assert_int_equal(err.code, CMN_EINVAL);
	free(raw);
	stor_store_close(&s);
	rm_rf(dir);
}

static void pair(int sv[2])
{
	int big = 16 << 20;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
}

/* The payload lands at data + headroom in an aligned buffer that is reused
 * (grown only when a larger frame comes); limits as stor_recv_frame. */
static void test_recv_into(void **state)
{
	struct stor_rbuf rb = { NULL, 0, false };
	struct cmn_err err = CMN_ERR_INIT;
	uint8_t *payload = malloc(1 << 20), *p, type, raw[8];
	size_t len, cap;
	int sv[2];
	(void)state;

	assert_non_null(payload);
	fill(payload, 1 << 20, 3);
	pair(sv);
	assert_int_equal(stor_send_frame(sv[0], 16, payload, 1 << 20, NULL, 0, &err), 0);
	assert_int_equal(
	    stor_recv_frame_into(sv[1], &rb, 16, STOR_FRAME_MAX, &type, &p, &len, &err), 0);
	assert_int_equal(type, 16);
	assert_int_equal(len, 1 << 20);
	assert_ptr_equal(p, rb.data + 16);
	assert_int_equal((uintptr_t)rb.data % STOR_IO_ALIGN, 0);
	assert_memory_equal(p, payload, len);
	cap = rb.cap;
	assert_int_equal(stor_send_frame(sv[0], 17, "ab", 2, NULL, 0, &err), 0);
	assert_int_equal(
	    stor_recv_frame_into(sv[1], &rb, 16, STOR_FRAME_MAX, &type, &p, &len, &err), 0);
	assert_int_equal(len, 2);
	assert_memory_equal(p, "ab", 2);
	assert_int_equal(rb.cap, cap);
	/* over the reader's limit, and a half message */
	assert_int_equal(stor_send_frame(sv[0], 17, "abcd", 4, NULL, 0, &err), 0);
	assert_int_equal(stor_recv_frame_into(sv[1], &rb, 16, 3, &type, &p, &len, &err), -1);
	assert_int_equal(err.code, CMN_EPROTO);
	close(sv[0]);
	close(sv[1]);
	pair(sv);
	stor_put_be32(raw, 50);
	raw[4] = 16;
	assert_int_equal(write(sv[0], raw, 6), 6);
	close(sv[0]);
	assert_int_equal(stor_recv_frame_into(sv[1], &rb, 16, 100, &type, &p, &len, &err), -1);
	assert_null(p);
	close(sv[1]);
	stor_rbuf_free(&rb);
	free(payload);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_direct),
		cmocka_unit_test(test_put_buffered),
		cmocka_unit_test(test_put_unaligned_and_limits),
		cmocka_unit_test(test_recv_into),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
