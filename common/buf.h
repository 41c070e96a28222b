/* common/buf.h — a growable byte buffer.
 *
 * data is always NUL-terminated (one spare byte past len) so a buffer can be
 * used as a C string when it holds text. Growth is checked for overflow and
 * bounded by max (0 = no bound other than SIZE_MAX), which is how callers
 * cap what a peer can make them allocate.
 */
#ifndef CMN_BUF_H
#define CMN_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include "common/err.h"

struct cmn_buf {
	char *data;
	size_t len;
	size_t cap; /* bytes allocated, including the NUL spare */
	size_t max; /* largest len allowed, 0 = unbounded */
};

void cmn_buf_init(struct cmn_buf *b, size_t max);
int cmn_buf_reserve(struct cmn_buf *b, size_t extra, struct cmn_err *err);
int cmn_buf_append(struct cmn_buf *b, const void *data, size_t len, struct cmn_err *err);
int cmn_buf_append_str(struct cmn_buf *b, const char *s, struct cmn_err *err);
int cmn_buf_printf(struct cmn_buf *b, struct cmn_err *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int cmn_buf_vprintf(struct cmn_buf *b, struct cmn_err *err, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
/* Appends everything read from fd until EOF (retrying EINTR). Fails with
 * CMN_ELIMIT when the buffer's max would be passed, so a peer cannot make
 * the caller allocate without bound. */
int cmn_buf_read_fd(struct cmn_buf *b, int fd, struct cmn_err *err);
/* Drops the first n bytes (a consumed prefix). */
void cmn_buf_consume(struct cmn_buf *b, size_t n);
void cmn_buf_reset(struct cmn_buf *b);
/* Returns the data (caller frees) and leaves the buffer empty. Never NULL
 * unless allocation fails. */
char *cmn_buf_steal(struct cmn_buf *b, size_t *len);
void cmn_buf_free(struct cmn_buf *b);

/* cmn_buf_append for a few bytes in a hot loop (a row's brackets and
 * commas): inline when they fit, the same checks otherwise. */
static inline int cmn_buf_append_small(struct cmn_buf *b, const char *s, size_t len,
				       struct cmn_err *err)
{
	if (b->len + len < b->cap && (!b->max || b->len + len <= b->max)) {
		memcpy(b->data + b->len, s, len);
		b->len += len;
		b->data[b->len] = '\0';
		return 0;
	}
	return cmn_buf_append(b, s, len, err);
}

static inline void cmn_buf_freep(struct cmn_buf *b)
{
	cmn_buf_free(b);
}
#define cleanup_buf __attribute__((cleanup(cmn_buf_freep)))

#endif
