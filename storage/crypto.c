/* storage/crypto.c — see crypto.h. OpenSSL EVP only; every derived key and
 * temporary is wiped with OPENSSL_cleanse before its memory is released. */
#include "storage/crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "storage/chunk_proto.h"

#define AAD_LABEL "cordon-chunk-v1"

void stor_key_wipe(struct stor_key *k)
{
	OPENSSL_cleanse(k, sizeof(*k));
}

void stor_secret_free(void *p, size_t len)
{
	if (p) {
		OPENSSL_cleanse(p, len);
		free(p);
	}
}

int stor_key_random(struct stor_key *k, struct cmn_err *err)
{
	if (RAND_priv_bytes(k->b, sizeof(k->b)) != 1)
		return cmn_err_set(err, CMN_EINTERNAL, 0, "RAND_priv_bytes failed");
	return 0;
}

static int chunk_key(const struct stor_key *data_key, const uint8_t id[16], struct stor_key *out,
		     struct cmn_err *err)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM params[5];
	int ok;

	if (!ctx) {
		EVP_KDF_free(kdf);
		return cmn_err_set(err, CMN_EINTERNAL, 0, "HKDF unavailable");
	}
	/* OSSL_PARAM takes non-const pointers but only reads through them */
	char digest[] = "SHA256", salt[] = AAD_LABEL;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
						      (void *)(uintptr_t)data_key->b, STOR_KEY_LEN);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt, strlen(salt));
	params[3] =
	    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)(uintptr_t)id, 16);
	params[4] = OSSL_PARAM_construct_end();
	ok = EVP_KDF_derive(ctx, out->b, STOR_KEY_LEN, params) == 1;
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	if (!ok)
		return cmn_err_set(err, CMN_EINTERNAL, 0, "HKDF derive failed");
	return 0;
}

/* AAD = label | chunk id (16 raw bytes) | table_id | version | key_version
 *       [| row group | column, for a column chunk] */
static int build_aad(const struct stor_chunk_aad *a, uint8_t *out, uint8_t id[16],
		     struct cmn_err *err)
{
	size_t ll = strlen(AAD_LABEL);
	if (!a->chunk_id || !stor_id_valid(a->chunk_id, strlen(a->chunk_id)) ||
	    stor_unhex(a->chunk_id, STOR_ID_LEN, id) < 0)
		return cmn_err_set(err, CMN_EINVAL, 0, "bad chunk id");
	memcpy(out, AAD_LABEL, ll);
	memcpy(out + ll, id, 16);
	stor_put_be64(out + ll + 16, a->table_id);
	stor_put_be64(out + ll + 24, a->version);
	stor_put_be32(out + ll + 32, a->key_version);
	if (!a->columnar)
		return (int)(ll + 36);
	stor_put_be32(out + ll + 36, a->rg);
	stor_put_be32(out + ll + 40, a->col);
	return (int)(ll + 44);
}

static int gcm(int enc, const uint8_t *key, const uint8_t *nonce, const uint8_t *aad, size_t aadlen,
	       const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag, struct cmn_err *err)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0, ok = 0;
	size_t done = 0;

	if (!ctx)
		return cmn_err_set(err, CMN_ENOMEM, 0, "EVP_CIPHER_CTX_new failed");
	if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce, enc) != 1 ||
	    EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aadlen) != 1)
		goto out;
	/* EVP takes int lengths: feed large buffers in 1 GiB pieces */
	while (done < len) {
		size_t piece = len - done > (1u << 30) ? (1u << 30) : len - done;
		if (EVP_CipherUpdate(ctx, out + done, &n, in + done, (int)piece) != 1)
			goto out;
		done += piece;
	}
	if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, STOR_TAG_LEN, tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(ctx, out + done, &n) != 1)
		goto out;
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, STOR_TAG_LEN, tag) != 1)
		goto out;
	ok = 1;
out:
	EVP_CIPHER_CTX_free(ctx);
	if (!ok)
		return cmn_err_set(err, enc ? CMN_EINTERNAL : CMN_EAUTH, 0,
				   enc ? "AES-256-GCM encryption failed"
				       : "AES-256-GCM: authentication failed (wrong key, "
					 "binding or tampered data)");
	return 0;
}

int stor_chunk_seal(const struct stor_key *data_key, const struct stor_chunk_aad *aad,
		    const void *pt, size_t len, uint8_t *out, struct cmn_err *err)
{
	uint8_t ad[64], id[16];
	struct stor_key k;
	int adl = build_aad(aad, ad, id, err), rc;

	if (adl < 0)
		return -1;
	memcpy(out, "CEN1", 4);
	stor_put_be32(out + 4, aad->key_version);
	if (RAND_bytes(out + 8, STOR_NONCE_GCM) != 1)
		return cmn_err_set(err, CMN_EINTERNAL, 0, "RAND_bytes failed");
	if (chunk_key(data_key, id, &k, err) < 0)
		return -1;
	rc = gcm(1, k.b, out + 8, ad, (size_t)adl, pt, len, out + 8 + STOR_NONCE_GCM,
		 out + 8 + STOR_NONCE_GCM + len, err);
	stor_key_wipe(&k);
	return rc;
}

int stor_chunk_open(const struct stor_key *data_key, const struct stor_chunk_aad *aad,
		    const uint8_t *ct, size_t ctlen, uint8_t *out, size_t *outlen,
		    struct cmn_err *err)
{
	uint8_t ad[64], id[16], tag[STOR_TAG_LEN];
	struct stor_key k;
	int adl, rc;
	size_t len;

	if (ctlen < STOR_SEAL_OVERHEAD || memcmp(ct, "CEN1", 4) != 0)
		return cmn_err_set(err, CMN_EAUTH, 0, "not a sealed chunk");
	if (stor_get_be32(ct + 4) != aad->key_version)
		return cmn_err_set(err, CMN_EAUTH, 0, "chunk sealed under key version %u, want %u",
				   stor_get_be32(ct + 4), aad->key_version);
	adl = build_aad(aad, ad, id, err);
	if (adl < 0)
		return -1;
	len = ctlen - STOR_SEAL_OVERHEAD;
	memcpy(tag, ct + 8 + STOR_NONCE_GCM + len, STOR_TAG_LEN);
	if (chunk_key(data_key, id, &k, err) < 0)
		return -1;
	rc = gcm(0, k.b, ct + 8, ad, (size_t)adl, ct + 8 + STOR_NONCE_GCM, len, out, tag, err);
	stor_key_wipe(&k);
	if (rc < 0) {
		OPENSSL_cleanse(out, len);
		return -1;
	}
	*outlen = len;
	return 0;
}

int stor_wrap(const struct stor_key *kek, const char *label, const void *secret, size_t len,
	      uint8_t **out, size_t *outlen, struct cmn_err *err)
{
	uint8_t *o;

	*out = NULL;
	if (len > (1u << 20))
		return cmn_err_set(err, CMN_EINVAL, 0, "secret too large to wrap");
	o = malloc(len + STOR_WRAP_OVERHEAD);
	if (!o)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	if (RAND_bytes(o, STOR_NONCE_GCM) != 1 ||
	    gcm(1, kek->b, o, (const uint8_t *)label, strlen(label), secret, len,
		o + STOR_NONCE_GCM, o + STOR_NONCE_GCM + len, err) < 0) {
		free(o);
		return cmn_err_set(err, CMN_EINTERNAL, 0, "wrap %s failed", label);
	}
	*out = o;
	*outlen = len + STOR_WRAP_OVERHEAD;
	return 0;
}

int stor_unwrap(const struct stor_key *kek, const char *label, const uint8_t *in, size_t len,
		uint8_t **out, size_t *outlen, struct cmn_err *err)
{
	uint8_t tag[STOR_TAG_LEN], *o;
	size_t n;

	*out = NULL;
	if (len < STOR_WRAP_OVERHEAD)
		return cmn_err_set(err, CMN_EAUTH, 0, "wrapped %s is truncated", label);
	n = len - STOR_WRAP_OVERHEAD;
	o = malloc(n ? n : 1);
	if (!o)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	memcpy(tag, in + STOR_NONCE_GCM + n, STOR_TAG_LEN);
	if (gcm(0, kek->b, in, (const uint8_t *)label, strlen(label), in + STOR_NONCE_GCM, n, o,
		tag, err) < 0) {
		stor_secret_free(o, n);
		return cmn_err_wrap(err, "unwrap %s", label);
	}
	*out = o;
	*outlen = n;
	return 0;
}
