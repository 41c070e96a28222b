/* common/jsontext.c — see jsontext.h. */
#include "common/jsontext.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Bytes a character takes escaped (1: as is). */
static size_t escaped_len(unsigned char c)
{
	if (c >= 0x20)
		return c == '"' || c == '\\' ? 2 : 1;
	return c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t' ? 2 : 6;
}

/* Index of the first byte that needs an escape, n if none does: 16 bytes
 * per step where SSE2 is there (always on x86-64). Result downloads are
 * mostly strings with nothing to escape, and the byte-wise scan of both
 * passes below was a third of cordond's CPU while serving them. */
static size_t first_escape(const char *p, size_t n)
{
	size_t i = 0;
#ifdef __SSE2__
	const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'),
		      ctl = _mm_set1_epi8(0x1f);
	for (; i + 16 <= n; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
		/* unsigned v <= 0x1f exactly when max(v, 0x1f) == 0x1f */
		__m128i m =
		    _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
				 _mm_cmpeq_epi8(_mm_max_epu8(v, ctl), ctl));
		unsigned bits = (unsigned)_mm_movemask_epi8(m);
		if (bits)
			return i + (size_t)__builtin_ctz(bits);
	}
#endif
	/* 8 bytes at a time (the tail of a string, or no SSE2): a byte below
	 * 0x20, or equal to '"' or '\\', makes its lane's top bit set in
	 * `hit`; the test says only whether one does, the loop below where. */
	const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
	for (; i + 8 <= n; i += 8) {
		uint64_t x, q, s;
		memcpy(&x, p + i, 8);
		q = x ^ (ones * '"');
		s = x ^ (ones * '\\');
		uint64_t hit = ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((s - ones) & ~s);
		if (hit & highs)
			break;
	}
	for (; i < n; i++)
		if (escaped_len((unsigned char)p[i]) != 1)
			return i;
	return n;
}

int cmn_json_string(struct cmn_buf *b, const char *p, size_t n, struct cmn_err *err)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t plain = first_escape(p, n), need = 2 + plain;

	/* exactly what the text takes, reserved once: no checks per byte */
	for (size_t i = plain; i < n; i++)
		need += escaped_len((unsigned char)p[i]);
	if (cmn_buf_reserve(b, need, err) < 0)
		return -1;
	char *o = b->data + b->len;
	*o++ = '"';
	memcpy(o, p, plain);
	o += plain;
	for (size_t i = plain; i < n;) {
		size_t run = i;
		/* the longest stretch that needs no escape, copied at once */
		while (run < n && escaped_len((unsigned char)p[run]) == 1)
			run++;
		memcpy(o, p + i, run - i);
		o += run - i;
		if (run == n)
			break;
		unsigned char c = (unsigned char)p[run];
		*o++ = '\\';
		switch (c) {
		case '\b':
			*o++ = 'b';
			break;
		case '\f':
			*o++ = 'f';
			break;
		case '\n':
			*o++ = 'n';
			break;
		case '\r':
			*o++ = 'r';
			break;
		case '\t':
			*o++ = 't';
			break;
		default:
			if (c >= 0x20) { /* '"' or '\\' */
				*o++ = (char)c;
				break;
			}
			memcpy(o, "u00", 3);
			o[3] = hex[c >> 4];
			o[4] = hex[c & 15];
			o += 5;
		}
		i = run + 1;
	}
	*o++ = '"';
	b->len = (size_t)(o - b->data);
	b->data[b->len] = '\0';
	return 0;
}

int cmn_json_int(struct cmn_buf *b, int64_t v, struct cmn_err *err)
{
	char tmp[24], *e = tmp + sizeof(tmp), *s = e;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	do {
		*--s = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--s = '-';
	return cmn_buf_append(b, s, (size_t)(e - s), err);
}

int cmn_json_double(struct cmn_buf *b, double v, struct cmn_err *err)
{
	char tmp[40];
	int n = snprintf(tmp, sizeof(tmp), "%.17g", v);

	if (n < 0 || (size_t)n >= sizeof(tmp) - 2)
		return cmn_err_set(err, CMN_EINTERNAL, 0, "double %g does not format", v);
	/* the C locale is cordond's: the decimal point is '.' */
	char *e = strchr(tmp, 'e');
	if (!e && !strchr(tmp, '.')) {
		memcpy(tmp + n, ".0", 3);
		n += 2;
	} else if (e) {
		/* as jansson: "1e+20" -> "1e20", "1e-05" -> "1e-5" */
		char *d = e + 1, *s = d;
		if (*s == '+')
			s++;
		else if (*s == '-')
			d = ++s;
		while (*s == '0' && s[1])
			s++;
		memmove(d, s, strlen(s) + 1);
		n = (int)strlen(tmp);
	}
	return cmn_buf_append(b, tmp, (size_t)n, err);
}
