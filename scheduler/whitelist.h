/* scheduler/whitelist.h — project IP whitelists (SQL.md
 * `SETPROJECT odps.security.ip.whitelist=...`): a comma-separated list of
 * IPv4/IPv6 addresses, CIDR blocks and "a-b" ranges. Empty = no whitelist
 * (every address allowed). Each entry becomes an inclusive [lo, hi] range
 * of 16-byte addresses; IPv4 is kept apart from IPv6 (an IPv4-mapped
 * IPv6 peer such as ::ffff:10.0.0.1 is matched as IPv4). */
#ifndef SCH_WHITELIST_H
#define SCH_WHITELIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define SCH_WHITELIST_MAX 256

struct sch_ip_range {
	int family; /* AF_INET or AF_INET6 */
	uint8_t lo[16], hi[16];
};

struct sch_whitelist {
	size_t count;
	struct sch_ip_range ranges[SCH_WHITELIST_MAX];
};

/* Fails with CMN_EINVAL naming the bad entry. */
int sch_whitelist_parse(const char *text, struct sch_whitelist *out, struct cmn_err *err);
/* An empty whitelist allows everything. An unparsable address is refused. */
bool sch_whitelist_allows(const struct sch_whitelist *wl, const char *addr);
/* Parses one textual address into family + 16 bytes (IPv4 in the first 4,
 * IPv4-mapped IPv6 folded to IPv4). */
int sch_ip_parse(const char *s, int *family, uint8_t addr[16]);

#endif
