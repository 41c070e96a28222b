/* sandbox/sandbox_info.c — what the container layer was built against. */
#include "sandbox/sandbox.h"

#include <stdio.h>

#include "sandbox/internal.h"

/* The seccomp programs and syscall names were compiled with this
 * libseccomp (cordon-bpfgen); it is not loaded at run time. */
void sbx_print_deps(FILE *out)
{
	fprintf(out, "  libseccomp %s\n", sbx_libseccomp_version);
}
