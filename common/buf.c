/* common/buf.c — see buf.h. */
#include "common/buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void cmn_buf_init(struct cmn_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

int cmn_buf_reserve(struct cmn_buf *b, size_t extra, struct cmn_err *err)
{
	size_t need, ncap;
	char *p;

	if (extra > SIZE_MAX - b->len - 1)
		return cmn_err_set(err, CMN_ELIMIT, 0, "buffer size overflow");
	need = b->len + extra + 1;
	if (b->max && need - 1 > b->max)
		return cmn_err_set(err, CMN_ELIMIT, 0, "buffer limit of %zu bytes reached", b->max);
	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2) {
			ncap = need;
			break;
		}
		ncap *= 2;
	}
	p = realloc(b->data, ncap);
	if (!p)
		return cmn_err_set(err, CMN_ENOMEM, 0,
				   "out of memory growing a buffer to %zu bytes", ncap);
	b->data = p;
	b->cap = ncap;
	return 0;
}

int cmn_buf_append(struct cmn_buf *b, const void *data, size_t len, struct cmn_err *err)
{
	if (cmn_buf_reserve(b, len, err) < 0)
		return -1;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int cmn_buf_append_str(struct cmn_buf *b, const char *s, struct cmn_err *err)
{
	return cmn_buf_append(b, s, strlen(s), err);
}

int cmn_buf_vprintf(struct cmn_buf *b, struct cmn_err *err, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return cmn_err_set(err, CMN_EINVAL, 0, "bad format string");
	if (cmn_buf_reserve(b, (size_t)n, err) < 0)
		return -1;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int cmn_buf_printf(struct cmn_buf *b, struct cmn_err *err, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = cmn_buf_vprintf(b, err, fmt, ap);
	va_end(ap);
	return rc;
}

int cmn_buf_read_fd(struct cmn_buf *b, int fd, struct cmn_err *err)
{
	char chunk[65536];

	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cmn_err_sys(err, "read fd %d", fd);
		if (n == 0)
			return 0;
		if (cmn_buf_append(b, chunk, (size_t)n, err) < 0)
			return cmn_err_wrap(err, "read fd %d", fd);
	}
}

void cmn_buf_consume(struct cmn_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
	} else {
		memmove(b->data, b->data + n, b->len - n);
		b->len -= n;
	}
	if (b->data)
		b->data[b->len] = '\0';
}

void cmn_buf_reset(struct cmn_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

char *cmn_buf_steal(struct cmn_buf *b, size_t *len)
{
	char *p = b->data;

	if (!p) {
		p = calloc(1, 1);
		if (!p)
			return NULL;
	}
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}

void cmn_buf_free(struct cmn_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}
