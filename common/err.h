/* common/err.h — Cordon's error convention.
 *
 * A function that can fail returns int (< 0 on failure) and fills a
 * struct cmn_err: a stable code (mapped to HTTP status / CLI exit codes by
 * the callers), the errno of the failing syscall if any, and a message that
 * names the syscall and its argument. Callers add context on the way up with
 * cmn_err_wrap(), so the final message reads outermost-first:
 *   "spawn node 2: mount /proc: Operation not permitted".
 * Every setter accepts err == NULL (the caller does not care why) and returns
 * -1 so it can be used as `return cmn_err_set(...)`.
 */
#ifndef CMN_ERR_H
#define CMN_ERR_H

#include <stddef.h>

enum cmn_code {
	CMN_OK = 0,
	CMN_EINTERNAL, /* a bug or an unexpected system failure */
	CMN_EINVAL,    /* bad input from the caller */
	CMN_ENOTFOUND,
	CMN_EEXIST,
	CMN_EDENIED, /* authorization said no */
	CMN_EAUTH,   /* authentication failed */
	CMN_ELIMIT,  /* a resource limit was reached */
	CMN_EIO,     /* storage or network I/O failed */
	CMN_ENOMEM,
	CMN_ETIMEOUT,
	CMN_EUNAVAIL, /* a dependency (server, kernel feature) is not there */
	CMN_ECONFLICT,
	CMN_EPROTO, /* a peer broke the protocol */
	CMN_ECODE_MAX
};

#define CMN_ERR_MSG_MAX 512

struct cmn_err {
	int code;      /* enum cmn_code */
	int sys_errno; /* errno of the failing syscall, 0 if none */
	char msg[CMN_ERR_MSG_MAX];
};

#define CMN_ERR_INIT                                                                               \
	{                                                                                          \
		0, 0,                                                                              \
		{                                                                                  \
			0                                                                          \
		}                                                                                  \
	}

/* Sets code and message; sys_errno may be 0. Returns -1. */
int cmn_err_set(struct cmn_err *err, int code, int sys_errno, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* For a failed syscall: takes errno, appends ": strerror(errno)", picks the
 * code from errno (ENOMEM -> CMN_ENOMEM, EACCES/EPERM -> CMN_EDENIED, ...).
 * Returns -1. */
int cmn_err_sys(struct cmn_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefixes the existing message with context ("ctx: old"). Keeps code and
 * errno. Returns -1. */
int cmn_err_wrap(struct cmn_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cmn_err_clear(struct cmn_err *err);
/* Stable name of a code, e.g. "EINVAL" -> "invalid_argument". */
const char *cmn_code_name(int code);
/* Code for an errno value. */
int cmn_code_from_errno(int e);

#endif
