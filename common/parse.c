/* common/parse.c — see parse.h. */
#include "common/parse.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int cmn_parse_u64(const char *s, uint64_t *out, struct cmn_err *err)
{
	char *end;
	unsigned long long v;

	if (!s || !isdigit((unsigned char)s[0]))
		return cmn_err_set(err, CMN_EINVAL, 0, "'%s' is not a non-negative integer",
				   s ? s : "");
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return cmn_err_set(err, CMN_EINVAL, 0, "'%s' is too large", s);
	if (*end)
		return cmn_err_set(err, CMN_EINVAL, 0, "'%s' is not a non-negative integer", s);
	*out = v;
	return 0;
}

int cmn_parse_i64(const char *s, int64_t *out, struct cmn_err *err)
{
	char *end;
	long long v;

	if (!s || !(isdigit((unsigned char)s[0]) || (s[0] == '-' && isdigit((unsigned char)s[1]))))
		return cmn_err_set(err, CMN_EINVAL, 0, "'%s' is not an integer", s ? s : "");
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno == ERANGE)
		return cmn_err_set(err, CMN_EINVAL, 0, "'%s' is out of range", s);
	if (*end)
		return cmn_err_set(err, CMN_EINVAL, 0, "'%s' is not an integer", s);
	*out = v;
	return 0;
}

int cmn_parse_size(const char *s, uint64_t *out, struct cmn_err *err)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!s || !isdigit((unsigned char)s[0]))
		return cmn_err_set(err, CMN_EINVAL, 0, "'%s' is not a size (e.g. 64M)", s ? s : "");
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return cmn_err_set(err, CMN_EINVAL, 0, "size '%s' is too large", s);
	switch (toupper((unsigned char)*end)) {
	case '\0':
		break;
	case 'K':
		shift = 10;
		end++;
		break;
	case 'M':
		shift = 20;
		end++;
		break;
	case 'G':
		shift = 30;
		end++;
		break;
	case 'T':
		shift = 40;
		end++;
		break;
	case 'B':
		break;
	default:
		return cmn_err_set(err, CMN_EINVAL, 0, "'%s' is not a size (e.g. 64M)", s);
	}
	if (shift && (*end == 'i' || *end == 'I'))
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end)
		return cmn_err_set(err, CMN_EINVAL, 0, "'%s' is not a size (e.g. 64M)", s);
	if (shift && v > (UINT64_MAX >> shift))
		return cmn_err_set(err, CMN_EINVAL, 0, "size '%s' is too large", s);
	*out = (uint64_t)v << shift;
	return 0;
}

int cmn_parse_duration(const char *s, uint64_t *out_ns, struct cmn_err *err)
{
	static const struct {
		const char *suffix;
		double ns;
	} units[] = { { "ns", 1 }, { "us", 1e3 }, { "ms", 1e6 },   { "s", 1e9 },
		      { "", 1e9 }, { "m", 60e9 }, { "min", 60e9 }, { "h", 3600e9 } };
	char *end;
	double v;

	if (!s || !(isdigit((unsigned char)s[0]) || s[0] == '.'))
		return cmn_err_set(err, CMN_EINVAL, 0, "'%s' is not a duration (e.g. 2s, 500ms)",
				   s ? s : "");
	errno = 0;
	v = strtod(s, &end);
	if (errno == ERANGE || !isfinite(v) || v < 0)
		return cmn_err_set(err, CMN_EINVAL, 0, "duration '%s' is out of range", s);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(end, units[i].suffix) == 0) {
			double ns = v * units[i].ns;
			if (ns >= 1.8e19)
				return cmn_err_set(err, CMN_EINVAL, 0, "duration '%s' is too long",
						   s);
			*out_ns = (uint64_t)ns;
			return 0;
		}
	}
	return cmn_err_set(err, CMN_EINVAL, 0, "'%s' is not a duration (e.g. 2s, 500ms)", s);
}

void cmn_format_size(uint64_t bytes, char *out, unsigned outlen)
{
	static const char units[] = "KMGT";
	int u = -1;
	uint64_t v = bytes;

	while (v && (v & 1023) == 0 && u < 3) {
		v >>= 10;
		u++;
	}
	if (u < 0)
		snprintf(out, outlen, "%llu", (unsigned long long)bytes);
	else
		snprintf(out, outlen, "%llu%c", (unsigned long long)v, units[u]);
}
