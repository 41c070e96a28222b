/* netoverlay/ — per-job private networks.
 *
 * Responsibility: a hub netns with a bridge per job, one netns per node
 * joined by a veth, MAC/IP pinning in an nftables bridge table, grants to
 * exact destinations, IPAM and garbage collection. Built with libnl and
 * libnftables, never by spawning ip(8). See docs/overlay.md.
 */
#ifndef OVL_NETOVERLAY_H
#define OVL_NETOVERLAY_H

#include <stdio.h>

void ovl_print_deps(FILE *out);

#endif
