/* sandbox/ — containers for untrusted code.
 *
 * Responsibility: run one command (a job node or a TRANSFORM script) inside
 * user/pid/mount/ipc/uts/cgroup/net namespaces with a read-only root,
 * no capabilities, a seccomp allowlist, rlimits and cgroup limits, and
 * report how it ended as seen from outside. See docs/sandbox.md.
 */
#ifndef SBX_SANDBOX_H
#define SBX_SANDBOX_H

#include <stdio.h>

void sbx_print_deps(FILE *out);

#endif
