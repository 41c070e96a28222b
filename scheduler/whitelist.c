/* scheduler/whitelist.c — see whitelist.h. */
#include "scheduler/whitelist.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "common/parse.h"

static const uint8_t v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

int sch_ip_parse(const char *s, int *family, uint8_t addr[16])
{
	uint8_t a6[16];

	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, a6) != 1)
		return -1;
	if (memcmp(a6, v4_mapped, 12) == 0) {
		*family = AF_INET;
		memcpy(addr, a6 + 12, 4);
	} else {
		*family = AF_INET6;
		memcpy(addr, a6, 16);
	}
	return 0;
}

static int addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

static int parse_entry(const char *e, struct sch_ip_range *r)
{
	char a[64], b[64];
	const char *slash = strchr(e, '/'), *dash = strchr(e, '-');
	int fb;

	if (strlen(e) >= sizeof(a))
		return -1;
	if (slash) {
		uint64_t bits;
		int len;
		snprintf(a, sizeof(a), "%.*s", (int)(slash - e), e);
		if (sch_ip_parse(a, &r->family, r->lo) < 0 || !isdigit((unsigned char)slash[1]) ||
		    cmn_parse_u64(slash + 1, &bits, NULL) < 0)
			return -1;
		len = addr_len(r->family);
		if (bits > (uint64_t)len * 8)
			return -1;
		for (int i = 0; i < len; i++) {
			int keep = (int)bits - i * 8;
			uint8_t mask = keep >= 8   ? 0xff
				       : keep <= 0 ? 0
						   : (uint8_t)(0xff << (8 - keep));
			r->lo[i] &= mask;
			r->hi[i] = r->lo[i] | (uint8_t)~mask;
		}
		return 0;
	}
	if (dash) {
		snprintf(a, sizeof(a), "%.*s", (int)(dash - e), e);
		snprintf(b, sizeof(b), "%s", dash + 1);
		if (sch_ip_parse(a, &r->family, r->lo) < 0 || sch_ip_parse(b, &fb, r->hi) < 0 ||
		    fb != r->family || memcmp(r->lo, r->hi, 16) > 0)
			return -1;
		return 0;
	}
	if (sch_ip_parse(e, &r->family, r->lo) < 0)
		return -1;
	memcpy(r->hi, r->lo, 16);
	return 0;
}

int sch_whitelist_parse(const char *text, struct sch_whitelist *out, struct cmn_err *err)
{
	const char *p = text;

	out->count = 0;
	while (*p) {
		char entry[128];
		size_t len = strcspn(p, ","), s = 0, e = len;
		while (s < e && isspace((unsigned char)p[s]))
			s++;
		while (e > s && isspace((unsigned char)p[e - 1]))
			e--;
		if (e - s >= sizeof(entry))
			return cmn_err_set(err, CMN_EINVAL, 0, "whitelist entry too long");
		snprintf(entry, sizeof(entry), "%.*s", (int)(e - s), p + s);
		if (entry[0]) {
			if (out->count == SCH_WHITELIST_MAX)
				return cmn_err_set(err, CMN_EINVAL, 0,
						   "whitelist has more than %d entries",
						   SCH_WHITELIST_MAX);
			if (parse_entry(entry, &out->ranges[out->count]) < 0)
				return cmn_err_set(err, CMN_EINVAL, 0,
						   "invalid whitelist entry '%s' (expected an "
						   "address, a CIDR block or a-b range)",
						   entry);
			out->count++;
		} else if (p[len] == ',' || len > 0) {
			if (p[len] == ',')
				return cmn_err_set(err, CMN_EINVAL, 0, "empty whitelist entry");
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

bool sch_whitelist_allows(const struct sch_whitelist *wl, const char *addr)
{
	uint8_t a[16];
	int family;

	if (wl->count == 0)
		return true;
	if (sch_ip_parse(addr, &family, a) < 0)
		return false;
	for (size_t i = 0; i < wl->count; i++) {
		const struct sch_ip_range *r = &wl->ranges[i];
		int len = addr_len(family);
		if (r->family == family && memcmp(a, r->lo, (size_t)len) >= 0 &&
		    memcmp(a, r->hi, (size_t)len) <= 0)
			return true;
	}
	return false;
}
