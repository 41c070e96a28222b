/* common/jsontext.c — see jsontext.h. */
#include "common/jsontext.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Bytes a character takes escaped (1: as is). */
static size_t escaped_len(unsigned char c)
{
	if (c >= 0x20)
		return c == '"' || c == '\\' ? 2 : 1;
	return c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t' ? 2 : 6;
}

int cmn_json_string(struct cmn_buf *b, const char *p, size_t n, struct cmn_err *err)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t need = 2;

	/* exactly what the text takes, reserved once: no checks per byte */
	for (size_t i = 0; i < n; i++)
		need += escaped_len((unsigned char)p[i]);
	if (cmn_buf_reserve(b, need, err) < 0)
		return -1;
	char *o = b->data + b->len;
	*o++ = '"';
	for (size_t i = 0; i < n;) {
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
