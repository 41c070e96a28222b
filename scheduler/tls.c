/* scheduler/tls.c — see tls.h. */
#include "scheduler/tls.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "common/cleanup.h"

static int add_ext(X509 *cert, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -1;
	X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return 0;
}

static int write_pem(const char *path, mode_t mode, EVP_PKEY *key, X509 *cert)
{
	cleanup_close int fd =
	    open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	FILE *f;
	int ok;

	if (fd < 0)
		return -1;
	f = fdopen(fd, "we");
	if (!f)
		return -1;
	steal_fd(&fd);
	ok =
	    key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) : PEM_write_X509(f, cert);
	ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
	fclose(f);
	return ok ? 0 : -1;
}

static void san_list(const char *host, char *out, size_t len)
{
	unsigned char addr[16];
	int n = snprintf(out, len, "DNS:localhost,IP:127.0.0.1,IP:::1");

	if (!host || !*host || strcmp(host, "localhost") == 0 || strcmp(host, "127.0.0.1") == 0 ||
	    strcmp(host, "::1") == 0 || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 ||
	    n < 0 || (size_t)n >= len)
		return;
	if (inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1)
		snprintf(out + n, len - (size_t)n, ",IP:%s", host);
	else
		snprintf(out + n, len - (size_t)n, ",DNS:%s", host);
}

/* True when the certificate at path names host (an address or a DNS name). */
static bool cert_names(const char *path, const char *host)
{
	FILE *f = fopen(path, "re");
	X509 *cert = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	unsigned char addr[16];
	bool ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
	bool ok = cert && (ip ? X509_check_ip_asc(cert, host, 0) == 1
			      : X509_check_host(cert, host, 0, 0, NULL) == 1);

	X509_free(cert);
	if (f)
		fclose(f);
	return ok;
}

int sch_tls_ensure_self_signed(const char *cert_path, const char *key_path, const char *listen_host,
			       struct cmn_err *err)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	X509_NAME *name;
	char sans[512];
	uint8_t serial[16];
	BIGNUM *bn = NULL;
	int rc = -1;

	/* Reused across starts, unless --listen moved to a name it lacks
	 * (0.0.0.0 and :: are not names a client connects to). */
	if (access(cert_path, F_OK) == 0 &&
	    (!listen_host || !*listen_host || strcmp(listen_host, "0.0.0.0") == 0 ||
	     strcmp(listen_host, "::") == 0 || cert_names(cert_path, listen_host)))
		return 0;
	key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	cert = X509_new();
	if (!key || !cert || RAND_bytes(serial, sizeof(serial)) != 1)
		goto out;
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)))
		goto out;
	X509_set_version(cert, 2);
	X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(cert), 10L * 365 * 24 * 3600);
	X509_set_pubkey(cert, key);
	name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Cordon", -1, -1,
				   0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)"cordond self-signed", -1, -1, 0);
	X509_set_issuer_name(cert, name);
	san_list(listen_host, sans, sizeof(sans));
	/* CA:TRUE so clients can use this very file as their CA bundle
	 * (curl --cacert, botocore verify=, cordon --ca-file). */
	if (add_ext(cert, NID_subject_alt_name, sans) < 0 ||
	    add_ext(cert, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") < 0 ||
	    add_ext(cert, NID_key_usage, "critical,digitalSignature,keyCertSign") < 0 ||
	    add_ext(cert, NID_ext_key_usage, "serverAuth") < 0 ||
	    add_ext(cert, NID_subject_key_identifier, "hash") < 0 ||
	    !X509_sign(cert, key, EVP_sha256()))
		goto out;
	if (write_pem(key_path, 0600, key, NULL) < 0 ||
	    write_pem(cert_path, 0644, NULL, cert) < 0) {
		cmn_err_sys(err, "write %s", cert_path);
		goto done;
	}
	rc = 0;
	goto done;
out:
	cmn_err_set(err, CMN_EINTERNAL, 0, "create self-signed certificate: OpenSSL error %lu",
		    ERR_get_error());
done:
	BN_free(bn);
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

SSL_CTX *sch_tls_server_ctx(const char *cert_path, const char *key_path, struct cmn_err *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx) {
		cmn_err_set(err, CMN_EINTERNAL, 0, "SSL_CTX_new failed");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
				     SSL_OP_NO_COMPRESSION);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		cmn_err_set(err, CMN_EINVAL, 0,
			    "load TLS certificate %s / key %s: OpenSSL error %lu", cert_path,
			    key_path, ERR_get_error());
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}
