/* scheduler/tls.h — cordond's TLS: the self-signed certificate it makes on
 * first start (DIR/tls/cert.pem + key.pem, SANs localhost, 127.0.0.1, ::1
 * and the listen host) and the server SSL_CTX (TLS 1.2+, no renegotiation). */
#ifndef SCH_TLS_H
#define SCH_TLS_H

#include <openssl/ssl.h>

#include "common/err.h"

/* Creates cert_path/key_path when cert_path does not exist yet. */
int sch_tls_ensure_self_signed(const char *cert_path, const char *key_path, const char *listen_host,
			       struct cmn_err *err);
SSL_CTX *sch_tls_server_ctx(const char *cert_path, const char *key_path, struct cmn_err *err);

#endif
