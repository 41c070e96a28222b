/* runtime/sqlfn_crypto.c — column encryption functions; see sqlfn_crypto.h.
 *
 * Formats (all integers big-endian):
 *   SYM_ENCRYPT, AES-GCM-256:  nonce(12) | ciphertext | tag(16)
 *   SYM_ENCRYPT, AES-SIV-*:    siv(16) | ciphertext of (0x01 | value)   (RFC 5297)
 *            (the 0x01 version byte makes every SIV message non-empty:
 *            OpenSSL 3.0's SIV cannot process an empty one)
 *   keyset:  "CKS1" | primary_key_id u32 | key_count u16 |
 *            key_count x { key_id u32 | type u8 | status u8 |
 *                          desc_len u16 | desc | material_len u16 | material }
 *   ENHANCED_SYM_ENCRYPT: 0x01 | key_id u32 | <SYM_ENCRYPT format of that key>
 *            with the 5-byte header authenticated as associated data before
 *            the caller's aad, so a ciphertext cannot be moved to another key id.
 * Keysets are parsed strictly: every length is checked against what is
 * left, so a hostile BINARY value cannot make the node read out of bounds.
 */
#include "runtime/sqlfn_crypto.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/cleanup.h"

#define GCM_NONCE 12
#define TAG_LEN 16
#define MAX_KEYS 64
#define MAX_DESC 1024
#define MAX_VALUE (64u << 20) /* largest value a function accepts */
#define ENH_HEADER 5

enum key_type { KT_NONE = 0, KT_GCM256 = 1, KT_SIV128 = 2, KT_SIV256 = 3 };

static const struct {
	const char *name;
	const char *cipher;
	size_t key_len;
} key_types[] = {
	[KT_NONE] = { NULL, NULL, 0 },
	[KT_GCM256] = { "AES-GCM-256", "AES-256-GCM", 32 },
	[KT_SIV128] = { "AES-SIV-CMAC-128", "AES-128-SIV", 32 },
	[KT_SIV256] = { "AES-SIV-CMAC-256", "AES-256-SIV", 64 },
};

enum { STATUS_ENABLED = 1, STATUS_DISABLED = 2 };

struct key {
	uint32_t id;
	enum key_type type;
	int status;
	const unsigned char *desc;
	size_t desc_len;
	const unsigned char *material;
	size_t material_len;
};

struct keyset {
	uint32_t primary;
	size_t count;
	struct key keys[MAX_KEYS];
};

static enum key_type key_type_parse(const char *s)
{
	for (int t = KT_GCM256; t <= KT_SIV256; t++)
		if (s && strcasecmp(s, key_types[t].name) == 0)
			return (enum key_type)t;
	return KT_NONE;
}

/* ---- AEAD ---------------------------------------------------------------- */

/* Encrypts into out (appended). aad2 may be NULL. */
static int aead_seal(enum key_type t, const unsigned char *key, const unsigned char *aad1,
		     size_t aad1_len, const unsigned char *aad2, size_t aad2_len,
		     const unsigned char *pt, size_t pt_len, struct cmn_buf *out)
{
	EVP_CIPHER *cipher = EVP_CIPHER_fetch(NULL, key_types[t].cipher, NULL);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	unsigned char nonce[GCM_NONCE], tag[TAG_LEN];
	int outl = 0, ok = 0;
	size_t start = out->len;
	bool gcm = (t == KT_GCM256);

	if (!cipher || !ctx)
		goto out;
	if (cmn_buf_reserve(out, pt_len + GCM_NONCE + TAG_LEN + 16, NULL) < 0)
		goto out;
	if (gcm) {
		if (RAND_bytes(nonce, sizeof(nonce)) != 1)
			goto out;
		memcpy(out->data + out->len, nonce, GCM_NONCE);
		out->len += GCM_NONCE;
	} else {
		out->len += TAG_LEN; /* the SIV goes first, filled in below */
	}
	if (EVP_EncryptInit_ex2(ctx, cipher, key, gcm ? nonce : NULL, NULL) != 1)
		goto out;
	/* SIV takes each associated-data component separately (a vector); GCM
	 * concatenates them. Zero-length components are skipped in both. */
	if (aad1_len && EVP_EncryptUpdate(ctx, NULL, &outl, aad1, (int)aad1_len) != 1)
		goto out;
	if (aad2_len && EVP_EncryptUpdate(ctx, NULL, &outl, aad2, (int)aad2_len) != 1)
		goto out;
	if (gcm) {
		if (EVP_EncryptUpdate(ctx, (unsigned char *)out->data + out->len, &outl, pt,
				      (int)pt_len) != 1)
			goto out;
	} else {
		/* SIV takes the whole message in one update */
		unsigned char *msg = malloc(pt_len + 1);
		int r;
		if (!msg)
			goto out;
		msg[0] = 1;
		memcpy(msg + 1, pt, pt_len);
		r = EVP_EncryptUpdate(ctx, (unsigned char *)out->data + out->len, &outl, msg,
				      (int)pt_len + 1);
		OPENSSL_cleanse(msg, pt_len + 1);
		free(msg);
		if (r != 1)
			goto out;
	}
	out->len += (size_t)outl;
	if (EVP_EncryptFinal_ex(ctx, (unsigned char *)out->data + out->len, &outl) != 1)
		goto out;
	out->len += (size_t)outl;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TAG_LEN, tag) != 1)
		goto out;
	if (gcm) {
		memcpy(out->data + out->len, tag, TAG_LEN);
		out->len += TAG_LEN;
	} else {
		memcpy(out->data + start, tag, TAG_LEN);
	}
	ok = 1;
out:
	if (!ok)
		out->len = start;
	EVP_CIPHER_CTX_free(ctx);
	EVP_CIPHER_free(cipher);
	return ok ? 0 : -1;
}

static int aead_open(enum key_type t, const unsigned char *key, const unsigned char *aad1,
		     size_t aad1_len, const unsigned char *aad2, size_t aad2_len,
		     const unsigned char *ct, size_t ct_len, struct cmn_buf *out)
{
	EVP_CIPHER *cipher = NULL;
	EVP_CIPHER_CTX *ctx = NULL;
	bool gcm = (t == KT_GCM256);
	const unsigned char *nonce = NULL, *tag, *body;
	unsigned char tag_copy[TAG_LEN]; /* EVP_CTRL_AEAD_SET_TAG takes a non-const pointer */
	size_t body_len;
	int outl = 0, ok = 0;

	if (ct_len < (gcm ? GCM_NONCE + TAG_LEN : TAG_LEN + 1))
		return -1;
	if (gcm) {
		nonce = ct;
		body = ct + GCM_NONCE;
		body_len = ct_len - GCM_NONCE - TAG_LEN;
		tag = ct + ct_len - TAG_LEN;
	} else {
		tag = ct;
		body = ct + TAG_LEN;
		body_len = ct_len - TAG_LEN;
	}
	cipher = EVP_CIPHER_fetch(NULL, key_types[t].cipher, NULL);
	ctx = EVP_CIPHER_CTX_new();
	if (!cipher || !ctx || cmn_buf_reserve(out, body_len + 16, NULL) < 0)
		goto out;
	if (EVP_DecryptInit_ex2(ctx, cipher, key, nonce, NULL) != 1)
		goto out;
	memcpy(tag_copy, tag, TAG_LEN);
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_LEN, tag_copy) != 1)
		goto out;
	if (aad1_len && EVP_DecryptUpdate(ctx, NULL, &outl, aad1, (int)aad1_len) != 1)
		goto out;
	if (aad2_len && EVP_DecryptUpdate(ctx, NULL, &outl, aad2, (int)aad2_len) != 1)
		goto out;
	if (EVP_DecryptUpdate(ctx, (unsigned char *)out->data, &outl, body, (int)body_len) != 1)
		goto out;
	out->len = (size_t)outl;
	if (EVP_DecryptFinal_ex(ctx, (unsigned char *)out->data + out->len, &outl) != 1)
		goto out;
	out->len += (size_t)outl;
	if (!gcm) {
		if (out->len < 1 || out->data[0] != 1)
			goto out;
		cmn_buf_consume(out, 1);
	}
	ok = 1;
out:
	if (!ok && out->data) {
		/* never hand back unauthenticated plaintext */
		OPENSSL_cleanse(out->data, out->cap);
		out->len = 0;
	}
	EVP_CIPHER_CTX_free(ctx);
	EVP_CIPHER_free(cipher);
	return ok ? 0 : -1;
}

/* ---- keysets ------------------------------------------------------------- */

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t get_u16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void put_u16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

/* Parses a keyset; keys point into data. Returns NULL on success or a
 * message naming what is wrong. */
static const char *keyset_parse(const unsigned char *data, size_t len, struct keyset *ks)
{
	size_t off = 10;
	bool have_primary = false;

	if (!data || len < 10 || memcmp(data, "CKS1", 4) != 0)
		return "not a Cordon keyset";
	ks->primary = get_u32(data + 4);
	ks->count = get_u16(data + 8);
	if (ks->count == 0 || ks->count > MAX_KEYS)
		return "keyset has no keys or too many";
	for (size_t i = 0; i < ks->count; i++) {
		struct key *k = &ks->keys[i];
		if (len - off < 8)
			return "keyset is truncated";
		k->id = get_u32(data + off);
		k->type = (enum key_type)data[off + 4];
		k->status = data[off + 5];
		k->desc_len = get_u16(data + off + 6);
		off += 8;
		if (k->type < KT_GCM256 || k->type > KT_SIV256)
			return "keyset has a key of unknown type";
		if (k->status != STATUS_ENABLED && k->status != STATUS_DISABLED)
			return "keyset has a key of unknown status";
		if (len - off < k->desc_len + 2)
			return "keyset is truncated";
		k->desc = data + off;
		off += k->desc_len;
		k->material_len = get_u16(data + off);
		off += 2;
		if (k->material_len != key_types[k->type].key_len || len - off < k->material_len)
			return "keyset has a key of the wrong length";
		k->material = data + off;
		off += k->material_len;
		for (size_t j = 0; j < i; j++)
			if (ks->keys[j].id == k->id)
				return "keyset has a duplicate key id";
		if (k->id == ks->primary)
			have_primary = true;
	}
	if (off != len)
		return "keyset has trailing bytes";
	if (!have_primary)
		return "keyset's primary key is missing";
	return NULL;
}

static int keyset_write(const struct keyset *ks, struct cmn_buf *out)
{
	unsigned char hdr[10];

	memcpy(hdr, "CKS1", 4);
	put_u32(hdr + 4, ks->primary);
	put_u16(hdr + 8, (uint16_t)ks->count);
	if (cmn_buf_append(out, hdr, sizeof(hdr), NULL) < 0)
		return -1;
	for (size_t i = 0; i < ks->count; i++) {
		const struct key *k = &ks->keys[i];
		unsigned char kh[8], ml[2];
		put_u32(kh, k->id);
		kh[4] = (unsigned char)k->type;
		kh[5] = (unsigned char)k->status;
		put_u16(kh + 6, (uint16_t)k->desc_len);
		put_u16(ml, (uint16_t)k->material_len);
		if (cmn_buf_append(out, kh, sizeof(kh), NULL) < 0 ||
		    cmn_buf_append(out, k->desc, k->desc_len, NULL) < 0 ||
		    cmn_buf_append(out, ml, sizeof(ml), NULL) < 0 ||
		    cmn_buf_append(out, k->material, k->material_len, NULL) < 0)
			return -1;
	}
	return 0;
}

static const struct key *keyset_find(const struct keyset *ks, uint32_t id)
{
	for (size_t i = 0; i < ks->count; i++)
		if (ks->keys[i].id == id)
			return &ks->keys[i];
	return NULL;
}

/* Appends a new key (random material unless raw is given) and makes it the
 * primary. material_store must outlive ks until it is written. */
static const char *keyset_add(struct keyset *ks, enum key_type t, const unsigned char *raw,
			      size_t raw_len, const char *desc, unsigned char *material_store)
{
	struct key *k;
	uint32_t id;

	if (ks->count >= MAX_KEYS)
		return "keyset is full";
	if (desc && strlen(desc) > MAX_DESC)
		return "description is too long";
	if (raw && raw_len != key_types[t].key_len)
		return "raw key has the wrong length for its type";
	do {
		if (RAND_bytes((unsigned char *)&id, sizeof(id)) != 1)
			return "no randomness";
	} while (id == 0 || keyset_find(ks, id));
	if (raw)
		memcpy(material_store, raw, raw_len);
	else if (RAND_bytes(material_store, (int)key_types[t].key_len) != 1)
		return "no randomness";
	k = &ks->keys[ks->count++];
	k->id = id;
	k->type = t;
	k->status = STATUS_ENABLED;
	k->desc = (const unsigned char *)(desc ? desc : "");
	k->desc_len = desc ? strlen(desc) : 0;
	k->material = material_store;
	k->material_len = key_types[t].key_len;
	ks->primary = id;
	return NULL;
}

/* ---- SQL glue ------------------------------------------------------------ */

static void result_buf(sqlite3_context *ctx, struct cmn_buf *b, bool wipe)
{
	sqlite3_result_blob64(ctx, b->data ? b->data : "", b->len, SQLITE_TRANSIENT);
	if (wipe && b->data)
		OPENSSL_cleanse(b->data, b->cap);
}

static bool any_null(int argc, sqlite3_value **argv)
{
	for (int i = 0; i < argc; i++)
		if (sqlite3_value_type(argv[i]) == SQLITE_NULL)
			return true;
	return false;
}

static const unsigned char *arg_bytes(sqlite3_value *v, size_t *len)
{
	const unsigned char *p;

	if (sqlite3_value_type(v) == SQLITE_BLOB)
		p = sqlite3_value_blob(v);
	else
		p = sqlite3_value_text(v);
	*len = (size_t)sqlite3_value_bytes(v);
	return p ? p : (const unsigned char *)"";
}

static void fail(sqlite3_context *ctx, const char *fn, const char *msg)
{
	char m[256];

	snprintf(m, sizeof(m), "%s: %s", fn, msg);
	sqlite3_result_error(ctx, m, -1);
}

/* SYM_ENCRYPT / SYM_DECRYPT: (value, key [, mode [, aad]]) */
static void fn_sym(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	bool enc = sqlite3_user_data(ctx) != NULL;
	const char *fn = enc ? "SYM_ENCRYPT" : "SYM_DECRYPT";
	enum key_type t = KT_GCM256;
	size_t vlen, klen, alen = 0;
	const unsigned char *v, *key, *aad = NULL;
	cleanup_buf struct cmn_buf out = { 0 };

	cmn_buf_init(&out, 0);
	if (argc < 2 || argc > 4)
		return fail(ctx, fn, "takes 2 to 4 arguments");
	if (any_null(argc, argv))
		return sqlite3_result_null(ctx);
	if (argc >= 3 && (t = key_type_parse((const char *)sqlite3_value_text(argv[2]))) == KT_NONE)
		return fail(ctx, fn,
			    "unknown mode (AES-GCM-256, AES-SIV-CMAC-128, AES-SIV-CMAC-256)");
	v = arg_bytes(argv[0], &vlen);
	key = arg_bytes(argv[1], &klen);
	if (argc == 4)
		aad = arg_bytes(argv[3], &alen);
	if (klen != key_types[t].key_len)
		return fail(ctx, fn, "key has the wrong length for the mode");
	if (vlen > MAX_VALUE)
		return fail(ctx, fn, "value is too large");
	if (enc ? aead_seal(t, key, aad, alen, NULL, 0, v, vlen, &out)
		: aead_open(t, key, aad, alen, NULL, 0, v, vlen, &out))
		return fail(
		    ctx, fn,
		    enc ? "encryption failed"
			: "decryption failed (wrong key, wrong aad or tampered ciphertext)");
	result_buf(ctx, &out, !enc);
}

static void keyset_result(sqlite3_context *ctx, const char *fn, const struct keyset *ks)
{
	cleanup_buf struct cmn_buf out = { 0 };

	cmn_buf_init(&out, 0);
	if (keyset_write(ks, &out) < 0)
		return fail(ctx, fn, "out of memory");
	result_buf(ctx, &out, true);
}

/* NEW_KEYSET(type [, desc]) */
static void fn_new_keyset(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct keyset ks = { 0 };
	unsigned char material[64];
	enum key_type t;
	const char *msg;

	if (argc < 1 || argc > 2)
		return fail(ctx, "NEW_KEYSET", "takes 1 or 2 arguments");
	if (sqlite3_value_type(argv[0]) == SQLITE_NULL)
		return sqlite3_result_null(ctx);
	t = key_type_parse((const char *)sqlite3_value_text(argv[0]));
	if (t == KT_NONE)
		return fail(ctx, "NEW_KEYSET", "unknown key type");
	msg = keyset_add(&ks, t, NULL, 0,
			 argc == 2 ? (const char *)sqlite3_value_text(argv[1]) : NULL, material);
	if (msg)
		return fail(ctx, "NEW_KEYSET", msg);
	keyset_result(ctx, "NEW_KEYSET", &ks);
	OPENSSL_cleanse(material, sizeof(material));
}

/* ROTATE_KEYSET(keyset, type [, desc]) and ADD_KEY_TO_KEYSET(keyset, type, raw [, desc]) */
static void fn_rotate_keyset(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	bool add = sqlite3_user_data(ctx) != NULL;
	const char *fn = add ? "ADD_KEY_TO_KEYSET" : "ROTATE_KEYSET";
	struct keyset ks;
	unsigned char material[64];
	const unsigned char *data, *raw = NULL;
	size_t len, raw_len = 0;
	enum key_type t;
	const char *msg, *desc = NULL;
	int min = add ? 3 : 2;

	if (argc < min || argc > min + 1)
		return fail(ctx, fn, add ? "takes 3 or 4 arguments" : "takes 2 or 3 arguments");
	if (any_null(min, argv))
		return sqlite3_result_null(ctx);
	data = arg_bytes(argv[0], &len);
	if ((msg = keyset_parse(data, len, &ks)))
		return fail(ctx, fn, msg);
	t = key_type_parse((const char *)sqlite3_value_text(argv[1]));
	if (t == KT_NONE)
		return fail(ctx, fn, "unknown key type");
	if (add)
		raw = arg_bytes(argv[2], &raw_len);
	if (argc == min + 1)
		desc = (const char *)sqlite3_value_text(argv[min]);
	if ((msg = keyset_add(&ks, t, raw, raw_len, desc, material)))
		return fail(ctx, fn, msg);
	keyset_result(ctx, fn, &ks);
	OPENSSL_cleanse(material, sizeof(material));
}

/* ENHANCED_SYM_ENCRYPT / _DECRYPT: (keyset, value [, aad]) */
static void fn_enhanced(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	bool enc = sqlite3_user_data(ctx) != NULL;
	const char *fn = enc ? "ENHANCED_SYM_ENCRYPT" : "ENHANCED_SYM_DECRYPT";
	struct keyset ks;
	const struct key *k;
	const unsigned char *data, *v, *aad = NULL;
	size_t len, vlen, alen = 0;
	unsigned char hdr[ENH_HEADER];
	const char *msg;
	cleanup_buf struct cmn_buf out = { 0 };

	cmn_buf_init(&out, 0);
	if (argc < 2 || argc > 3)
		return fail(ctx, fn, "takes 2 or 3 arguments");
	if (any_null(argc, argv))
		return sqlite3_result_null(ctx);
	data = arg_bytes(argv[0], &len);
	if ((msg = keyset_parse(data, len, &ks)))
		return fail(ctx, fn, msg);
	v = arg_bytes(argv[1], &vlen);
	if (argc == 3)
		aad = arg_bytes(argv[2], &alen);
	if (vlen > MAX_VALUE)
		return fail(ctx, fn, "value is too large");
	if (enc) {
		k = keyset_find(&ks, ks.primary);
		if (k->status != STATUS_ENABLED)
			return fail(ctx, fn, "the keyset's primary key is disabled");
		hdr[0] = 1;
		put_u32(hdr + 1, k->id);
		if (cmn_buf_append(&out, hdr, sizeof(hdr), NULL) < 0 ||
		    aead_seal(k->type, k->material, hdr, sizeof(hdr), aad, alen, v, vlen, &out))
			return fail(ctx, fn, "encryption failed");
		return result_buf(ctx, &out, false);
	}
	if (vlen < ENH_HEADER || v[0] != 1)
		return fail(ctx, fn, "not a ciphertext of ENHANCED_SYM_ENCRYPT");
	k = keyset_find(&ks, get_u32(v + 1));
	if (!k)
		return fail(ctx, fn, "the keyset has no key for this ciphertext");
	if (aead_open(k->type, k->material, v, ENH_HEADER, aad, alen, v + ENH_HEADER,
		      vlen - ENH_HEADER, &out))
		return fail(ctx, fn,
			    "decryption failed (wrong keyset, wrong aad or tampered ciphertext)");
	result_buf(ctx, &out, true);
}

static void fn_keyset_to_json(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct keyset ks;
	const unsigned char *data;
	size_t len;
	const char *msg;
	json_t *keys, *root;
	char *s;

	if (sqlite3_value_type(argv[0]) == SQLITE_NULL)
		return sqlite3_result_null(ctx);
	data = arg_bytes(argv[0], &len);
	if ((msg = keyset_parse(data, len, &ks)))
		return fail(ctx, "KEYSET_TO_JSON", msg);
	keys = json_array();
	for (size_t i = 0; i < ks.count; i++) {
		const struct key *k = &ks.keys[i];
		unsigned char b64[4 * ((64 + 2) / 3) + 1];
		EVP_EncodeBlock(b64, k->material, (int)k->material_len);
		json_array_append_new(
		    keys,
		    json_pack("{s:I, s:s, s:s, s:s%, s:s}", "key_id", (json_int_t)k->id, "type",
			      key_types[k->type].name, "status",
			      k->status == STATUS_ENABLED ? "ENABLED" : "DISABLED", "description",
			      (const char *)k->desc, k->desc_len, "material", (const char *)b64));
		OPENSSL_cleanse(b64, sizeof(b64));
	}
	root = json_pack("{s:I, s:o}", "primary_key_id", (json_int_t)ks.primary, "key", keys);
	s = root ? json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(root);
	if (!s)
		return fail(ctx, "KEYSET_TO_JSON", "description is not valid UTF-8");
	sqlite3_result_text(ctx, s, -1, SQLITE_TRANSIENT);
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

static const char *key_from_json(json_t *jk, struct key *k, unsigned char *store)
{
	const char *type, *status, *desc = "", *material;
	json_int_t id;
	unsigned char tmp[4 * ((64 + 2) / 3)];
	size_t mlen;
	int n;

	if (json_unpack(jk, "{s:I, s:s, s:s, s?s, s:s}", "key_id", &id, "type", &type, "status",
			&status, "description", &desc, "material", &material) != 0)
		return "key entry needs key_id, type, status and material";
	if (id <= 0 || id > UINT32_MAX)
		return "key_id out of range";
	k->id = (uint32_t)id;
	k->type = key_type_parse(type);
	if (k->type == KT_NONE)
		return "unknown key type";
	k->status = strcmp(status, "ENABLED") == 0    ? STATUS_ENABLED
		    : strcmp(status, "DISABLED") == 0 ? STATUS_DISABLED
						      : 0;
	if (!k->status)
		return "status must be ENABLED or DISABLED";
	mlen = strlen(material);
	if (mlen > sizeof(tmp) || mlen % 4)
		return "material is not base64 of the right length";
	n = EVP_DecodeBlock(tmp, (const unsigned char *)material, (int)mlen);
	if (n < 0)
		return "material is not base64";
	/* EVP_DecodeBlock keeps the padding bytes in its count */
	while (mlen && material[mlen - 1] == '=') {
		mlen--;
		n--;
	}
	if ((size_t)n != key_types[k->type].key_len)
		return "material has the wrong length for its type";
	memcpy(store, tmp, (size_t)n);
	OPENSSL_cleanse(tmp, sizeof(tmp));
	k->material = store;
	k->material_len = (size_t)n;
	k->desc = (const unsigned char *)desc;
	k->desc_len = strlen(desc);
	return k->desc_len > MAX_DESC ? "description is too long" : NULL;
}

static void fn_keyset_from_json(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct keyset ks = { 0 };
	unsigned char store[MAX_KEYS][64];
	json_t *root, *keys, *jk;
	json_int_t primary;
	const char *msg = NULL;
	size_t i;

	if (sqlite3_value_type(argv[0]) == SQLITE_NULL)
		return sqlite3_result_null(ctx);
	root = json_loads((const char *)sqlite3_value_text(argv[0]), JSON_REJECT_DUPLICATES, NULL);
	if (!root || json_unpack(root, "{s:I, s:o}", "primary_key_id", &primary, "key", &keys) ||
	    !json_is_array(keys) || json_array_size(keys) == 0 || json_array_size(keys) > MAX_KEYS)
		msg = "expects {\"primary_key_id\": n, \"key\": [...]}";
	json_array_foreach(msg ? NULL : keys, i, jk)
	{
		if ((msg = key_from_json(jk, &ks.keys[i], store[i])))
			break;
		ks.count++;
	}
	if (!msg) {
		struct cmn_buf out;
		struct keyset check;
		ks.primary = (uint32_t)primary;
		cmn_buf_init(&out, 0);
		/* round-trip through the strict parser: one definition of "valid" */
		if (keyset_write(&ks, &out) < 0)
			msg = "out of memory";
		else if (!(msg = keyset_parse((unsigned char *)out.data, out.len, &check)))
			result_buf(ctx, &out, true);
		cmn_buf_free(&out);
	}
	OPENSSL_cleanse(store, sizeof(store));
	json_decref(root);
	if (msg)
		fail(ctx, "KEYSET_FROM_JSON", msg);
}

int rt_sqlfn_crypto_register(sqlite3 *db, struct cmn_err *err)
{
	static int enc = 1;
	const struct {
		const char *name;
		int nargs;
		void (*fn)(sqlite3_context *, int, sqlite3_value **);
		void *data;
		bool deterministic;
	} fns[] = {
		{ "SYM_ENCRYPT", -1, fn_sym, &enc, false },
		{ "SYM_DECRYPT", -1, fn_sym, NULL, true },
		{ "NEW_KEYSET", -1, fn_new_keyset, NULL, false },
		{ "ROTATE_KEYSET", -1, fn_rotate_keyset, NULL, false },
		{ "ADD_KEY_TO_KEYSET", -1, fn_rotate_keyset, &enc, false },
		{ "KEYSET_TO_JSON", 1, fn_keyset_to_json, NULL, true },
		{ "KEYSET_FROM_JSON", 1, fn_keyset_from_json, NULL, true },
		{ "ENHANCED_SYM_ENCRYPT", -1, fn_enhanced, &enc, false },
		{ "ENHANCED_SYM_DECRYPT", -1, fn_enhanced, NULL, true },
	};

	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		/* Random nonces and keys: SQLite must not fold or cache these calls. */
		int flags = SQLITE_UTF8 | (fns[i].deterministic ? SQLITE_DETERMINISTIC : 0);
		if (sqlite3_create_function_v2(db, fns[i].name, fns[i].nargs, flags, fns[i].data,
					       fns[i].fn, NULL, NULL, NULL) != SQLITE_OK)
			return cmn_err_set(err, CMN_EINTERNAL, 0, "register %s: %s", fns[i].name,
					   sqlite3_errmsg(db));
	}
	return 0;
}
