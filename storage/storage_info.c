/* storage/storage_info.c — what the storage layer was built against. */
#include "storage/storage.h"

#include <openssl/crypto.h>

void stor_print_deps(FILE *out)
{
	fprintf(out, "  %s\n", OpenSSL_version(OPENSSL_VERSION));
}
