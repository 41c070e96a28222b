/* netoverlay/netoverlay_info.c — what the overlay layer was built against. */
#include "netoverlay/netoverlay.h"

#include <netlink/version.h>

void ovl_print_deps(FILE *out)
{
	fprintf(out, "  libnl %s\n", LIBNL_STRING);
}
