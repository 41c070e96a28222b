/* storage/ — replicated, encrypted chunk storage.
 *
 * Responsibility: cordon-chunkd (ciphertext only), the client and master
 * linked into cordond (chunking, AES-256-GCM per chunk, 3 replicas, repair),
 * and the key hierarchy (root key -> project keys -> table data keys).
 * See docs/storage.md.
 */
#ifndef STOR_STORAGE_H
#define STOR_STORAGE_H

#include <stdio.h>

void stor_print_deps(FILE *out);

#endif
