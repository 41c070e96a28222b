/* scheduler/keywrap.c — root-key wrap of catalog secrets; see keywrap.h.
 * Since the storage glue: new wraps delegate to the storage keyring. */
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
#include "storage/storage.h"

#define ROOT_KEY_LEN 32
#define NONCE_LEN 12
#define TAG_LEN 16
#define WRAP_VERSION 1 /* the original format, read for old data dirs */
#define WRAP_KEYRING 2 /* through the storage keyring */

struct sch_keywrap {
	uint8_t key[ROOT_KEY_LEN];
	char path[4200];
	struct stor_keyring *kr; /* not owned; NULL: original format */
};

static const char hexdigits[] = "0123456789abcdef";

static int unhex_key(const char *text, size_t len, uint8_t key[ROOT_KEY_LEN])
{
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	if (len != 2 * ROOT_KEY_LEN)
		return -1;
	for (size_t i = 0; i < ROOT_KEY_LEN; i++) {
		const char *hi = memchr(hexdigits, text[2 * i] | 0x20, 16);
		const char *lo = memchr(hexdigits, text[2 * i + 1] | 0x20, 16);
		if (!hi || !lo || !text[2 * i] || !text[2 * i + 1])
			return -1;
		key[i] = (uint8_t)(((hi - hexdigits) << 4) | (lo - hexdigits));
	}
	return 0;
}

/* Writes the key as 64 hex characters + newline: to a temporary name, then
 * renamed over path, so a crash leaves either the old file or the new. */
static int write_hex_key(const char *path, const uint8_t key[ROOT_KEY_LEN], struct cmn_err *err)
{
	char tmp[4300], hex[2 * ROOT_KEY_LEN + 1];
	cleanup_close int fd = -1;
	int rc = 0;

	for (size_t i = 0; i < ROOT_KEY_LEN; i++) {
		hex[2 * i] = hexdigits[key[i] >> 4];
		hex[2 * i + 1] = hexdigits[key[i] & 15];
	}
	hex[2 * ROOT_KEY_LEN] = '\n';
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		rc = cmn_err_sys(err, "create %s", tmp);
	else if (write(fd, hex, sizeof(hex)) != (ssize_t)sizeof(hex) || fsync(fd) < 0)
		rc = cmn_err_sys(err, "write %s", tmp);
	else if (rename(tmp, path) < 0)
		rc = cmn_err_sys(err, "rename %s to %s", tmp, path);
	OPENSSL_cleanse(hex, sizeof(hex));
	if (rc < 0)
		unlink(tmp);
	return rc;
}

/* Reads the root key: 64 hex characters, or the original 32 raw bytes,
 * which are rewritten as hex (the storage keyring reads only hex). */
static int read_key(const char *path, uint8_t key[ROOT_KEY_LEN], struct cmn_err *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	char text[2 * ROOT_KEY_LEN + 8];
	struct stat st;
	ssize_t n;
	int rc = 0;

	if (fd < 0)
		return cmn_err_sys(err, "open %s", path);
	if (fstat(fd, &st) < 0)
		return cmn_err_sys(err, "fstat %s", path);
	if (st.st_mode & 077)
		return cmn_err_set(err, CMN_EDENIED, 0,
				   "root key %s is readable by others (mode %o); expected 0600",
				   path, (unsigned)(st.st_mode & 0777));
	n = read(fd, text, sizeof(text));
	if (n == ROOT_KEY_LEN) {
		memcpy(key, text, ROOT_KEY_LEN);
		rc = write_hex_key(path, key, err);
	} else if (n < 0 || unhex_key(text, (size_t)n, key) < 0) {
		rc = cmn_err_set(err, CMN_EIO, n < 0 ? errno : 0,
				 "read %s: expected 64 hex characters (or 32 bytes)", path);
	}
	OPENSSL_cleanse(text, sizeof(text));
	return rc;
}

static int create_key(const char *path, uint8_t key[ROOT_KEY_LEN], struct cmn_err *err)
{
	if (RAND_priv_bytes(key, ROOT_KEY_LEN) != 1)
		return cmn_err_set(err, CMN_EINTERNAL, 0, "RAND_priv_bytes failed");
	return write_hex_key(path, key, err);
}

int sch_keywrap_open(struct sch_keywrap **out, const char *data_dir, struct cmn_err *err)
{
	cleanup_free struct sch_keywrap *kw = calloc(1, sizeof(*kw));
	char dir[4096];
	const char *path;

	*out = NULL;
	if (!kw)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	snprintf(dir, sizeof(dir), "%s/keys", data_dir);
	snprintf(kw->path, sizeof(kw->path), "%s/root.key", dir);
	path = kw->path;
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

void sch_keywrap_use_keyring(struct sch_keywrap *kw, struct stor_keyring *kr)
{
	kw->kr = kr;
}

const char *sch_keywrap_root_key_path(const struct sch_keywrap *kw)
{
	return kw->path;
}

bool sch_keywrap_is_legacy(const void *wrapped, size_t len)
{
	return len > 0 && ((const uint8_t *)wrapped)[0] == WRAP_VERSION;
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

/* 0x02 | the storage keyring's wrap of the secret, labelled by context. */
static int keyring_wrap(struct sch_keywrap *kw, const char *context, const void *plain, size_t len,
			struct cmn_buf *out, struct cmn_err *err)
{
	uint8_t *w = NULL;
	size_t wlen = 0;
	int rc;

	if (stor_keyring_wrap_secret(kw->kr, context, plain, len, &w, &wlen, err) < 0)
		return cmn_err_wrap(err, "wrap secret");
	cmn_buf_reset(out);
	rc = cmn_buf_reserve(out, wlen + 2, err);
	if (rc == 0) {
		out->data[0] = WRAP_KEYRING;
		memcpy(out->data + 1, w, wlen);
		out->len = wlen + 1;
		out->data[out->len] = '\0';
	}
	free(w); /* ciphertext only */
	return rc;
}

static int keyring_unwrap(struct sch_keywrap *kw, const char *context, const uint8_t *w, size_t len,
			  struct cmn_buf *out, struct cmn_err *err)
{
	uint8_t *plain = NULL;
	size_t plen = 0;
	int rc;

	if (!kw->kr)
		return cmn_err_set(err, CMN_EAUTH, 0,
				   "wrapped secret needs the storage keyring, which is not open");
	if (stor_keyring_unwrap_secret(kw->kr, context, w + 1, len - 1, &plain, &plen, NULL) < 0)
		return cmn_err_set(err, CMN_EAUTH, 0, "wrapped secret failed authentication");
	cmn_buf_reset(out);
	rc = cmn_buf_reserve(out, plen + 1, err);
	if (rc == 0) {
		memcpy(out->data, plain, plen);
		out->len = plen;
		out->data[plen] = '\0';
	}
	stor_secret_free(plain, plen);
	return rc;
}

int sch_keywrap_wrap(struct sch_keywrap *kw, const char *context, const void *plain, size_t len,
		     struct cmn_buf *out, struct cmn_err *err)
{
	size_t total = 1 + NONCE_LEN + len + TAG_LEN;
	uint8_t *p;

	if (len > SIZE_MAX / 2)
		return cmn_err_set(err, CMN_EINVAL, 0, "secret too large");
	if (kw->kr)
		return keyring_wrap(kw, context, plain, len, out, err);
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

	if (len > 0 && w[0] == WRAP_KEYRING)
		return keyring_unwrap(kw, context, w, len, out, err);
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
