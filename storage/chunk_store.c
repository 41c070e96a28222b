/* storage/chunk_store.c — see chunk_store.h. */
#define _GNU_SOURCE /* O_DIRECT */
#include "storage/chunk_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/cleanup.h"

static int fsync_path(const char *path, struct cmn_err *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return cmn_err_sys(err, "open %s", path);
	if (fsync(fd) < 0)
		return cmn_err_sys(err, "fsync %s", path);
	return 0;
}

static int mkdir_p1(const char *path, struct cmn_err *err)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return cmn_err_sys(err, "mkdir %s", path);
	return 0;
}

static int load_server_id(struct stor_store *s, struct cmn_err *err)
{
	char path[4096], buf[STOR_ID_LEN + 2];
	cleanup_close int fd = -1;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/server-id", s->dir);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		char tmp[4096];
		snprintf(tmp, sizeof(tmp), "%s/server-id.tmp", s->dir);
		if (stor_random_id(s->server_id, err) < 0)
			return -1;
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0)
			return cmn_err_sys(err, "open %s", tmp);
		if (write(fd, s->server_id, STOR_ID_LEN) != STOR_ID_LEN || fsync(fd) < 0)
			return cmn_err_sys(err, "write %s", tmp);
		if (rename(tmp, path) < 0)
			return cmn_err_sys(err, "rename %s", tmp);
		return fsync_path(s->dir, err);
	}
	if (fd < 0)
		return cmn_err_sys(err, "open %s", path);
	n = read(fd, buf, sizeof(buf));
	if (n < STOR_ID_LEN || !stor_id_valid(buf, STOR_ID_LEN))
		return cmn_err_set(err, CMN_EINVAL, 0, "%s: not a server id", path);
	memcpy(s->server_id, buf, STOR_ID_LEN);
	s->server_id[STOR_ID_LEN] = '\0';
	return 0;
}

/* Empties tmp/ (writes that never finished) and counts the chunks. */
static int scan(struct stor_store *s, struct cmn_err *err)
{
	char path[4096];
	DIR *d;
	struct dirent *e;

	snprintf(path, sizeof(path), "%s/tmp", s->dir);
	d = opendir(path);
	if (!d)
		return cmn_err_sys(err, "opendir %s", path);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	for (int i = 0; i < 256; i++) {
		snprintf(path, sizeof(path), "%s/chunks/%02x", s->dir, i);
		if (mkdir_p1(path, err) < 0)
			return -1;
		d = opendir(path);
		if (!d)
			return cmn_err_sys(err, "opendir %s", path);
		while ((e = readdir(d))) {
			struct stat st;
			if (!stor_id_valid(e->d_name, strlen(e->d_name)))
				continue;
			if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
				s->chunk_count++;
				s->used_bytes += (uint64_t)st.st_size;
			}
		}
		closedir(d);
	}
	snprintf(path, sizeof(path), "%s/chunks", s->dir);
	return fsync_path(path, err);
}

int stor_store_open(struct stor_store *s, const char *dir, struct cmn_err *err)
{
	char path[4096];

	memset(s, 0, sizeof(*s));
	s->lock_fd = -1;
	atomic_init(&s->direct_io, true);
	pthread_mutex_init(&s->mu, NULL);
	if (strlen(dir) > 3000)
		return cmn_err_set(err, CMN_EINVAL, 0, "data dir path too long");
	s->dir = strdup(dir);
	if (!s->dir)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	if (mkdir_p1(dir, err) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/LOCK", dir);
	s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lock_fd < 0)
		return cmn_err_sys(err, "open %s", path);
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0)
		return cmn_err_set(err, CMN_ECONFLICT, errno,
				   "data dir %s is in use by another cordon-chunkd", dir);
	snprintf(path, sizeof(path), "%s/tmp", dir);
	if (mkdir_p1(path, err) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/chunks", dir);
	if (mkdir_p1(path, err) < 0 || load_server_id(s, err) < 0 || scan(s, err) < 0)
		return -1;
	return fsync_path(dir, err);
}

void stor_store_close(struct stor_store *s)
{
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	s->lock_fd = -1;
	free(s->dir);
	s->dir = NULL;
	pthread_mutex_destroy(&s->mu);
}

static void chunk_path(struct stor_store *s, const char *id, char *out, size_t n, bool dir_only)
{
	if (dir_only)
		snprintf(out, n, "%s/chunks/%.2s", s->dir, id);
	else
		snprintf(out, n, "%s/chunks/%.2s/%.32s", s->dir, id, id);
}

static int check_id(const char *id, struct cmn_err *err)
{
	if (!stor_id_valid(id, strlen(id)))
		return cmn_err_set(err, CMN_EINVAL, 0, "bad chunk id");
	return 0;
}

static int pwrite_all(int fd, const uint8_t *p, size_t len, off_t off, struct cmn_err *err)
{
	while (len > 0) {
		ssize_t w = pwrite(fd, p, len, off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return cmn_err_sys(err, "write chunk");
		p += w;
		off += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Writes buf[0..total) to fd, which may be open with O_DIRECT: the aligned
 * bulk goes straight from buf to the device; the tail (< STOR_IO_ALIGN,
 * which O_DIRECT cannot take) and everything after a refusal (EINVAL: the
 * file system wants another alignment) go through the page cache. The
 * fsync that follows covers both. */
static int write_file(struct stor_store *s, int fd, const uint8_t *buf, size_t total,
		      struct cmn_err *err)
{
	size_t bulk = total & ~(size_t)(STOR_IO_ALIGN - 1), done = 0;
	int fl = fcntl(fd, F_GETFL);

	if ((uintptr_t)buf % STOR_IO_ALIGN != 0)
		bulk = 0;

	if (fl >= 0 && (fl & O_DIRECT)) {
		while (done < bulk) {
			ssize_t w = pwrite(fd, buf + done, bulk - done, (off_t)done);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0 && errno == EINVAL) {
				if (done == 0)
					atomic_store(&s->direct_io, false);
				break;
			}
			if (w <= 0)
				return cmn_err_sys(err, "write chunk (O_DIRECT)");
			done += (size_t)w;
		}
		if (fcntl(fd, F_SETFL, fl & ~O_DIRECT) < 0)
			return cmn_err_sys(err, "fcntl ~O_DIRECT");
	}
	if (pwrite_all(fd, buf + done, total - done, (off_t)done, err) < 0)
		return -1;
	if (fsync(fd) < 0)
		return cmn_err_sys(err, "fsync chunk");
	return 0;
}

/* O_DIRECT when the store uses it and the file system takes it. */
static int open_tmp(struct stor_store *s, const char *tmp)
{
	int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, fd = -1;
	if (atomic_load(&s->direct_io)) {
		fd = open(tmp, flags | O_DIRECT, 0600);
		if (fd < 0 && errno == EINVAL)
			atomic_store(&s->direct_io, false);
	}
	if (fd < 0 && !atomic_load(&s->direct_io))
		fd = open(tmp, flags, 0600);
	return fd;
}

int stor_store_put_framed(struct stor_store *s, const char *id, uint8_t *buf, size_t len,
			  uint8_t sha[STOR_SHA_LEN], struct cmn_err *err)
{
	char tmp[4096], final[4096], dir[4096], rnd[STOR_ID_LEN + 1];
	struct stat st;
	bool existed;
	int fd;

	if (len > STOR_CHUNK_MAX)
		return cmn_err_set(err, CMN_ELIMIT, 0, "chunk too large");
	if (check_id(id, err) < 0 || stor_sha256(buf + STOR_FILE_HDR, len, sha, err) < 0 ||
	    stor_random_id(rnd, err) < 0)
		return -1;
	memcpy(buf, "CCK1", 4);
	stor_put_be32(buf + 4, 0);
	stor_put_be64(buf + 8, len);
	memcpy(buf + 16, sha, STOR_SHA_LEN);
	snprintf(tmp, sizeof(tmp), "%s/tmp/%s.%.8s", s->dir, id, rnd);
	chunk_path(s, id, final, sizeof(final), false);
	chunk_path(s, id, dir, sizeof(dir), true);
	fd = open_tmp(s, tmp);
	if (fd < 0)
		return cmn_err_sys(err, "open %s", tmp);
	if (write_file(s, fd, buf, STOR_FILE_HDR + len, err) < 0) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	existed = lstat(final, &st) == 0;
	if (rename(tmp, final) < 0) {
		cmn_err_sys(err, "rename %s", final);
		unlink(tmp);
		return -1;
	}
	if (fsync_path(dir, err) < 0)
		return -1;
	pthread_mutex_lock(&s->mu);
	if (existed) {
		s->used_bytes -=
		    (uint64_t)st.st_size < s->used_bytes ? (uint64_t)st.st_size : s->used_bytes;
	} else {
		s->chunk_count++;
	}
	s->used_bytes += STOR_FILE_HDR + len;
	pthread_mutex_unlock(&s->mu);
	return 0;
}

int stor_store_put(struct stor_store *s, const char *id, const void *data, size_t len,
		   uint8_t sha[STOR_SHA_LEN], struct cmn_err *err)
{
	void *buf = NULL;
	int rc;

	if (len > STOR_CHUNK_MAX)
		return cmn_err_set(err, CMN_ELIMIT, 0, "chunk too large");
	if (posix_memalign(&buf, STOR_IO_ALIGN, STOR_FILE_HDR + len) != 0)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory for a chunk");
	if (len)
		memcpy((uint8_t *)buf + STOR_FILE_HDR, data, len);
	rc = stor_store_put_framed(s, id, buf, len, sha, err);
	free(buf);
	return rc;
}

/* Opens a chunk (O_DIRECT when the store uses it); *fsize = file size,
 * checked against the largest file a chunk can make. */
static int open_chunk(struct stor_store *s, const char *id, size_t *fsize, struct cmn_err *err)
{
	char path[4096];
	struct stat st;
	int fd = -1, flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW;

	if (check_id(id, err) < 0)
		return -1;
	chunk_path(s, id, path, sizeof(path), false);
	if (atomic_load(&s->direct_io))
		fd = open(path, flags | O_DIRECT);
	if (fd < 0 && (!atomic_load(&s->direct_io) || errno == EINVAL))
		fd = open(path, flags);
	if (fd < 0) {
		if (errno == ENOENT)
			return cmn_err_set(err, CMN_ENOTFOUND, ENOENT, "chunk %s not found", id);
		return cmn_err_sys(err, "open chunk %s", id);
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < STOR_FILE_HDR ||
	    (uint64_t)st.st_size > STOR_FILE_HDR + (uint64_t)STOR_CHUNK_MAX) {
		close(fd);
		return cmn_err_set(err, CMN_EIO, 0, "chunk %s is corrupt (file of %lld bytes)", id,
				   (long long)st.st_size);
	}
	*fsize = (size_t)st.st_size;
	return fd;
}

/* Reads the whole file (header + data, total bytes) into buf, which is
 * STOR_IO_ALIGN-aligned with room for total rounded up to STOR_IO_ALIGN:
 * with O_DIRECT in aligned pieces (the last one short at end of file), and
 * buffered after a refusal. */
static int read_file(int fd, uint8_t *buf, size_t total, const char *id, struct cmn_err *err)
{
	size_t off = 0;
	int fl = fcntl(fd, F_GETFL);

	while (off < total) {
		size_t want = total - off;
		ssize_t r;
		if (fl >= 0 && (fl & O_DIRECT))
			want = (want + STOR_IO_ALIGN - 1) & ~(size_t)(STOR_IO_ALIGN - 1);
		r = pread(fd, buf + off, want, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EINVAL && (fl & O_DIRECT) &&
		    fcntl(fd, F_SETFL, fl & ~O_DIRECT) == 0) {
			fl &= ~O_DIRECT;
			continue;
		}
		if (r <= 0)
			return cmn_err_set(err, CMN_EIO, errno, "chunk %s: short read", id);
		off += (size_t)r;
		/* a short direct read that is not at the end leaves an unaligned
		 * offset: the rest goes through the page cache */
		if (off < total && (off % STOR_IO_ALIGN) && (fl & O_DIRECT) &&
		    fcntl(fd, F_SETFL, fl & ~O_DIRECT) == 0)
			fl &= ~O_DIRECT;
	}
	return 0;
}

int stor_store_get_into(struct stor_store *s, const char *id, struct stor_rbuf *rb,
			const uint8_t **data, size_t *len, uint8_t sha[STOR_SHA_LEN],
			struct cmn_err *err)
{
	size_t total = 0, need, size;
	cleanup_close int fd = open_chunk(s, id, &total, err);
	const uint8_t *hdr;

	*data = NULL;
	*len = 0;
	if (fd < 0)
		return -1;
	need = (total + STOR_IO_ALIGN - 1) & ~(size_t)(STOR_IO_ALIGN - 1);
	if (rb->cap < need) {
		void *nb = NULL;
		if (posix_memalign(&nb, STOR_IO_ALIGN, need) != 0)
			return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		stor_rbuf_free(rb);
		rb->data = nb;
		rb->cap = need;
	}
	if (read_file(fd, rb->data, total, id, err) < 0)
		return -1;
	hdr = rb->data;
	size = (size_t)stor_get_be64(hdr + 8);
	if (memcmp(hdr, "CCK1", 4) != 0)
		return cmn_err_set(err, CMN_EIO, 0, "chunk %s is corrupt (bad header)", id);
	if (size != total - STOR_FILE_HDR)
		return cmn_err_set(err, CMN_EIO, 0, "chunk %s is corrupt (size %zu, file %zu)", id,
				   size, total);
	if (stor_sha256(rb->data + STOR_FILE_HDR, size, sha, err) < 0)
		return -1;
	if (CRYPTO_memcmp(sha, hdr + 16, STOR_SHA_LEN) != 0)
		return cmn_err_set(err, CMN_EIO, 0, "chunk %s is corrupt (checksum mismatch)", id);
	*data = rb->data + STOR_FILE_HDR;
	*len = size;
	return 0;
}

int stor_store_get(struct stor_store *s, const char *id, uint8_t **data, size_t *len,
		   uint8_t sha[STOR_SHA_LEN], struct cmn_err *err)
{
	struct stor_rbuf rb = { NULL, 0, false };
	const uint8_t *p;
	size_t n;

	*data = NULL;
	if (stor_store_get_into(s, id, &rb, &p, &n, sha, err) < 0) {
		stor_rbuf_free(&rb);
		return -1;
	}
	*data = malloc(n ? n : 1);
	if (*data && n)
		memcpy(*data, p, n);
	stor_rbuf_free(&rb);
	if (!*data)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	*len = n;
	return 0;
}

int stor_store_verify(struct stor_store *s, const char *id, struct stor_rbuf *rb,
		      uint8_t sha[STOR_SHA_LEN], uint64_t *size, struct cmn_err *err)
{
	const uint8_t *data;
	size_t len;
	if (stor_store_get_into(s, id, rb, &data, &len, sha, err) < 0)
		return -1;
	*size = len;
	return 0;
}

int stor_store_delete(struct stor_store *s, const char *id, struct cmn_err *err)
{
	char path[4096], dir[4096];
	struct stat st;

	if (check_id(id, err) < 0)
		return -1;
	chunk_path(s, id, path, sizeof(path), false);
	chunk_path(s, id, dir, sizeof(dir), true);
	if (lstat(path, &st) < 0 || unlink(path) < 0) {
		if (errno == ENOENT)
			return cmn_err_set(err, CMN_ENOTFOUND, ENOENT, "chunk %s not found", id);
		return cmn_err_sys(err, "unlink chunk %s", id);
	}
	pthread_mutex_lock(&s->mu);
	if (s->chunk_count)
		s->chunk_count--;
	s->used_bytes -=
	    (uint64_t)st.st_size < s->used_bytes ? (uint64_t)st.st_size : s->used_bytes;
	pthread_mutex_unlock(&s->mu);
	return fsync_path(dir, err);
}

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, STOR_ID_LEN);
}

int stor_store_list(struct stor_store *s, const char *after, size_t max,
		    char (**ids)[STOR_ID_LEN + 1], size_t *n, struct cmn_err *err)
{
	char(*a)[STOR_ID_LEN + 1] = NULL;
	size_t cap = 0, cnt = 0;
	uint8_t b0 = 0;
	int first = 0;

	*ids = NULL;
	*n = 0;
	if (after) {
		if (!stor_id_valid(after, STOR_ID_LEN) || stor_unhex(after, 2, &b0) < 0)
			return cmn_err_set(err, CMN_EINVAL, 0, "bad LIST cursor");
		first = b0;
	}
	for (int i = first; i < 256 && cnt < max; i++) {
		char path[4096];
		struct dirent *e;
		size_t start = cnt;
		DIR *d;

		snprintf(path, sizeof(path), "%s/chunks/%02x", s->dir, i);
		d = opendir(path);
		if (!d)
			continue;
		while ((e = readdir(d))) {
			if (!stor_id_valid(e->d_name, strlen(e->d_name)) ||
			    (after && memcmp(e->d_name, after, STOR_ID_LEN) <= 0))
				continue;
			if (cnt == cap) {
				void *na;
				cap = cap ? cap * 2 : 256;
				na = realloc(a, cap * sizeof(*a));
				if (!na) {
					closedir(d);
					free(a);
					return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
				}
				a = na;
			}
			memcpy(a[cnt++], e->d_name, STOR_ID_LEN + 1);
		}
		closedir(d);
		if (cnt > start)
			qsort(a + start, cnt - start, sizeof(*a), cmp_id);
	}
	if (cnt > max)
		cnt = max;
	*ids = a;
	*n = cnt;
	return 0;
}

int stor_store_stat(struct stor_store *s, struct stor_stat *st, struct cmn_err *err)
{
	struct statvfs v;
	if (statvfs(s->dir, &v) < 0)
		return cmn_err_sys(err, "statvfs %s", s->dir);
	memset(st, 0, sizeof(*st));
	memcpy(st->server_id, s->server_id, sizeof(st->server_id));
	st->total_bytes = (uint64_t)v.f_blocks * v.f_frsize;
	st->free_bytes = (uint64_t)v.f_bavail * v.f_frsize;
	pthread_mutex_lock(&s->mu);
	st->chunk_count = s->chunk_count;
	st->used_bytes = s->used_bytes;
	pthread_mutex_unlock(&s->mu);
	return 0;
}
