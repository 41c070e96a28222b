/* common/err.c — see err.h for the convention. */
#include "common/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const code_names[CMN_ECODE_MAX] = {
	[CMN_OK] = "ok",
	[CMN_EINTERNAL] = "internal",
	[CMN_EINVAL] = "invalid_argument",
	[CMN_ENOTFOUND] = "not_found",
	[CMN_EEXIST] = "already_exists",
	[CMN_EDENIED] = "permission_denied",
	[CMN_EAUTH] = "unauthenticated",
	[CMN_ELIMIT] = "limit_exceeded",
	[CMN_EIO] = "io_error",
	[CMN_ENOMEM] = "out_of_memory",
	[CMN_ETIMEOUT] = "timeout",
	[CMN_EUNAVAIL] = "unavailable",
	[CMN_ECONFLICT] = "conflict",
	[CMN_EPROTO] = "protocol_error",
};

const char *cmn_code_name(int code)
{
	if (code < 0 || code >= CMN_ECODE_MAX)
		return "unknown";
	return code_names[code];
}

int cmn_code_from_errno(int e)
{
	switch (e) {
	case 0:
		return CMN_EINTERNAL;
	case ENOMEM:
		return CMN_ENOMEM;
	case EACCES:
	case EPERM:
		return CMN_EDENIED;
	case ENOENT:
	case ESRCH:
		return CMN_ENOTFOUND;
	case EEXIST:
		return CMN_EEXIST;
	case EINVAL:
	case ENAMETOOLONG:
		return CMN_EINVAL;
	case ETIMEDOUT:
		return CMN_ETIMEOUT;
	case EMFILE:
	case ENFILE:
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
		return CMN_ELIMIT;
	case ECONNREFUSED:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case ENOSYS:
	case EOPNOTSUPP:
		return CMN_EUNAVAIL;
	case EIO:
	case EPIPE:
	case ECONNRESET:
		return CMN_EIO;
	default:
		return CMN_EINTERNAL;
	}
}

int cmn_err_set(struct cmn_err *err, int code, int sys_errno, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	err->code = code;
	err->sys_errno = sys_errno;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

int cmn_err_sys(struct cmn_err *err, const char *fmt, ...)
{
	int e = errno;
	size_t n;
	va_list ap;

	if (!err) {
		errno = e;
		return -1;
	}
	err->code = cmn_code_from_errno(e);
	err->sys_errno = e;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	n = strlen(err->msg);
	if (n < sizeof(err->msg))
		snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", strerror(e));
	errno = e;
	return -1;
}

int cmn_err_wrap(struct cmn_err *err, const char *fmt, ...)
{
	char ctx[CMN_ERR_MSG_MAX];
	char joined[2 * CMN_ERR_MSG_MAX + 2];
	va_list ap;

	if (!err)
		return -1;
	va_start(ap, fmt);
	vsnprintf(ctx, sizeof(ctx), fmt, ap);
	va_end(ap);
	err->msg[sizeof(err->msg) - 1] = '\0';
	if (err->msg[0])
		snprintf(joined, sizeof(joined), "%s: %s", ctx, err->msg);
	else
		snprintf(joined, sizeof(joined), "%s", ctx);
	/* truncation is intended: a message is a bounded diagnostic */
	memcpy(err->msg, joined, sizeof(err->msg) - 1);
	err->msg[sizeof(err->msg) - 1] = '\0';
	if (err->code == CMN_OK)
		err->code = CMN_EINTERNAL;
	return -1;
}

void cmn_err_clear(struct cmn_err *err)
{
	if (!err)
		return;
	err->code = CMN_OK;
	err->sys_errno = 0;
	err->msg[0] = '\0';
}
