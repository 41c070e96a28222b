/* scheduler/keywrap.c — root-key wrap of catalog secrets; see keywrap.h. */
#include "scheduler/keywrap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/cleanup.h"

#define ROOT_KEY_LEN 32
#define NONCE_LEN 12
#define TAG_LEN 16
#define WRAP_VERSION 1

struct sch_keywrap {
	uint8_t key[ROOT_KEY_LEN];
};

static int read_key(const char *path, uint8_t key[ROOT_KEY_LEN], struct cmn_err *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	ssize_t n;

	if (fd < 0)
		return cmn_err_sys(err, "open %s", path);
	if (fstat(fd, &st) < 0)
		return cmn_err_sys(err, "fstat %s", path);
	if (st.st_mode & 077)
		return cmn_err_set(err, CMN_EDENIED, 0,
				   "root key %s is readable by others (mode %o); expected 0600",
				   path, (unsigned)(st.st_mode & 0777));
	n = read(fd, key, ROOT_KEY_LEN);
	if (n != ROOT_KEY_LEN)
		return cmn_err_set(err, CMN_EIO, n < 0 ? errno : 0, "read %s: expected %d bytes",
				   path, ROOT_KEY_LEN);
	return 0;
}

static int create_key(const char *path, uint8_t key[ROOT_KEY_LEN], struct cmn_err *err)
{
	cleanup_close int fd = -1;

	if (RAND_priv_bytes(key, ROOT_KEY_LEN) != 1)
		return cmn_err_set(err, CMN_EINTERNAL, 0, "RAND_priv_bytes failed");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return cmn_err_sys(err, "create %s", path);
	if (write(fd, key, ROOT_KEY_LEN) != ROOT_KEY_LEN || fsync(fd) < 0)
		return cmn_err_sys(err, "write %s", path);
	return 0;
}

int sch_keywrap_open(struct sch_keywrap **out, const char *data_dir, struct cmn_err *err)
{
	cleanup_free struct sch_keywrap *kw = calloc(1, sizeof(*kw));
	char dir[4096], path[4200];

	*out = NULL;
	if (!kw)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	snprintf(dir, sizeof(dir), "%s/keys", data_dir);
	snprintf(path, sizeof(path), "%s/root.key", dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return cmn_err_sys(err, "mkdir %s", dir);
	if (access(path, F_OK) == 0) {
		if (read_key(path, kw->key, err) < 0)
			return cmn_err_wrap(err, "root key");
	} else if (create_key(path, kw->key, err) < 0) {
		return cmn_err_wrap(err, "root key");
	}
	*out = steal_pointer(&kw);
	return 0;
}

void sch_keywrap_close(struct sch_keywrap *kw)
{
	if (!kw)
		return;
	OPENSSL_cleanse(kw->key, sizeof(kw->key));
	free(kw);
}

static int gcm(struct sch_keywrap *kw, int enc, const char *context, const uint8_t *nonce,
	       const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0, ok;

	if (!ctx || len > INT32_MAX) {
		EVP_CIPHER_CTX_free(ctx);
		return -1;
	}
	ok = EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, kw->key, nonce, enc) &&
	     EVP_CipherUpdate(ctx, NULL, &n, (const uint8_t *)context, (int)strlen(context)) &&
	     EVP_CipherUpdate(ctx, out, &n, in, (int)len);
	if (ok && !enc)
		ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag);
	ok = ok && EVP_CipherFinal_ex(ctx, out + n, &n);
	if (ok && enc)
		ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag);
	EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : -1;
}

int sch_keywrap_wrap(struct sch_keywrap *kw, const char *context, const void *plain, size_t len,
		     struct cmn_buf *out, struct cmn_err *err)
{
	size_t total = 1 + NONCE_LEN + len + TAG_LEN;
	uint8_t *p;

	if (len > SIZE_MAX / 2)
		return cmn_err_set(err, CMN_EINVAL, 0, "secret too large");
	cmn_buf_reset(out);
	if (cmn_buf_reserve(out, total, err) < 0)
		return -1;
	p = (uint8_t *)out->data;
	p[0] = WRAP_VERSION;
	if (RAND_bytes(p + 1, NONCE_LEN) != 1 ||
	    gcm(kw, 1, context, p + 1, plain, len, p + 1 + NONCE_LEN, p + 1 + NONCE_LEN + len) < 0)
		return cmn_err_set(err, CMN_EINTERNAL, 0, "AES-256-GCM wrap failed");
	out->len = total;
	out->data[total] = '\0';
	return 0;
}

int sch_keywrap_unwrap(struct sch_keywrap *kw, const char *context, const void *wrapped, size_t len,
		       struct cmn_buf *out, struct cmn_err *err)
{
	const uint8_t *w = wrapped;
	uint8_t tag[TAG_LEN];
	size_t plen;

	if (len < 1 + NONCE_LEN + TAG_LEN || w[0] != WRAP_VERSION)
		return cmn_err_set(err, CMN_EAUTH, 0, "wrapped secret is malformed");
	plen = len - 1 - NONCE_LEN - TAG_LEN;
	memcpy(tag, w + len - TAG_LEN, TAG_LEN);
	cmn_buf_reset(out);
	if (cmn_buf_reserve(out, plen + 1, err) < 0)
		return -1;
	if (gcm(kw, 0, context, w + 1, w + 1 + NONCE_LEN, plen, (uint8_t *)out->data, tag) < 0) {
		OPENSSL_cleanse(out->data, plen);
		return cmn_err_set(err, CMN_EAUTH, 0, "wrapped secret failed authentication");
	}
	out->len = plen;
	out->data[plen] = '\0';
	return 0;
}
