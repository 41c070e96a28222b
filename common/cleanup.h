/* common/cleanup.h — scope-bound ownership with __attribute__((cleanup)).
 *
 *   cleanup_free char *s = strdup(x);    freed when s leaves scope
 *   cleanup_close int fd = open(...);    closed when fd leaves scope (if >= 0)
 *   return steal_pointer(&s);            hands ownership on, s becomes NULL
 *   out->fd = steal_fd(&fd);             hands the fd on, fd becomes -1
 *
 * Never rely on these across lua_error(): it longjmps past the cleanups.
 * Code that can be unwound by Lua uses userdata with __gc/__close instead.
 */
#ifndef CMN_CLEANUP_H
#define CMN_CLEANUP_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void cmn_freep(void *p)
{
	void **pp = (void **)p;
	free(*pp);
	*pp = NULL;
}

static inline void cmn_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno; /* close() must not clobber the error being returned */
		close(*fd);
		errno = saved;
		*fd = -1;
	}
}

static inline void cmn_fclosep(FILE **f)
{
	if (*f) {
		int saved = errno;
		fclose(*f);
		errno = saved;
		*f = NULL;
	}
}

#define cleanup_free __attribute__((cleanup(cmn_freep)))
#define cleanup_close __attribute__((cleanup(cmn_closep)))
#define cleanup_fclose __attribute__((cleanup(cmn_fclosep)))

#define steal_pointer(pp)                                                                          \
	({                                                                                         \
		__typeof__(*(pp)) steal_tmp_ = *(pp);                                              \
		*(pp) = NULL;                                                                      \
		steal_tmp_;                                                                        \
	})

#define steal_fd(fdp)                                                                              \
	({                                                                                         \
		int steal_fd_tmp_ = *(fdp);                                                        \
		*(fdp) = -1;                                                                       \
		steal_fd_tmp_;                                                                     \
	})

#define CMN_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
