/* sandbox/sandbox_info.c — what the container layer was built against. */
#include "sandbox/sandbox.h"

#include <seccomp.h>
#include <stdio.h>

void sbx_print_deps(FILE *out)
{
	const struct scmp_version *v = seccomp_version();
	fprintf(out, "  libseccomp %u.%u.%u\n", v->major, v->minor, v->micro);
}
