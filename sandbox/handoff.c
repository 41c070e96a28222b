/* sandbox/handoff.c — what crosses the socket between the caller and the
 * container's init and payload.
 *
 *   caller -> init     MSG_GO      ids mapped, go on; value 1: a MSG_START
 *                                  follows (sbx_spawn), so no MSG_READY
 *   caller -> init     MSG_CGROUP  the cgroup is made: v1, its "tasks" files
 *                                  (SCM_RIGHTS) for the init to join; v2, the
 *                                  init already moved in by the caller
 *   init -> caller     MSG_READY   the container is built, waiting for work
 *                                  (sbx_prepare only)
 *   caller -> init     MSG_START   argv, envp and the fds (SCM_RIGHTS)
 *   payload -> caller  MSG_NOTIFY_FD  the seccomp listener (SCM_RIGHTS)
 *   init -> caller     MSG_STATUS  the payload's wait status
 *
 * The fds of a start travel by SCM_RIGHTS rather than by inheritance, so the
 * init closes every fd it inherited from the caller before anything else.
 * The init side parses into static storage: it may not allocate (it is a
 * clone of a possibly threaded caller), and it runs one start only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "sandbox/internal.h"

struct start_hdr {
	int type; /* MSG_START */
	uint32_t argc, envc, fd_count;
	int child_fd[SBX_MAX_FDS];
	uint32_t blob_len; /* argv then envp strings, each NUL-terminated */
};

int sbx_send_fds(int sock, int type, const int *fds, size_t n, struct cmn_err *err)
{
	struct sbx_msg m = { type, (int)n };
	struct iovec iov = { &m, sizeof(m) };
	char cbuf[CMSG_SPACE(sizeof(int) * SBX_MSG_MAX_FDS)];
	memset(cbuf, 0, sizeof(cbuf));
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (n > SBX_MSG_MAX_FDS)
		return cmn_err_set(err, CMN_EINVAL, 0, "at most %d fds in a message",
				   SBX_MSG_MAX_FDS);
	if (n > 0) {
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * n);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
	}
	if (sendmsg(sock, &mh, MSG_NOSIGNAL) < 0)
		return cmn_err_sys(err, "sendmsg %zu fds", n);
	return 0;
}

int sbx_send_fd(int sock, int type, int fd, struct cmn_err *err)
{
	return sbx_send_fds(sock, type, &fd, 1, err);
}

int child_recv_fds(int sock, int type, int *fds, size_t *n, struct cmn_err *err)
{
	struct sbx_msg m;
	struct iovec iov = { &m, sizeof(m) };
	char cbuf[CMSG_SPACE(sizeof(int) * SBX_MSG_MAX_FDS)];
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	ssize_t got;
	do
		got = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (got < 0 && errno == EINTR);
	if (got == 0)
		_exit(123); /* the caller gave up */
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	size_t nfds =
	    c && c->cmsg_type == SCM_RIGHTS ? (c->cmsg_len - CMSG_LEN(0)) / sizeof(int) : 0;
	if (nfds > 0)
		memcpy(fds, CMSG_DATA(c), sizeof(int) * nfds);
	*n = nfds;
	if (got != sizeof(m) || m.type != type || (mh.msg_flags & MSG_CTRUNC) ||
	    nfds != (size_t)m.value)
		return cmn_err_set(err, CMN_EPROTO, 0, "bad message %d (expected %d)",
				   got == sizeof(m) ? m.type : -1, type);
	return 0;
}

int sbx_recv_msg(int sock, struct sbx_msg *m, int *fd_out, int flags)
{
	struct iovec iov = { m, sizeof(*m) };
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	ssize_t n;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | flags);
	while (n < 0 && errno == EINTR);
	if (n != sizeof(*m))
		return -1;
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	*fd_out = -1;
	if (c && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(fd_out, CMSG_DATA(c), sizeof(int));
	return 0;
}

static int append_strings(char *blob, size_t *used, const char *const *v, uint32_t *count,
			  struct cmn_err *err)
{
	for (*count = 0; v && v[*count]; (*count)++) {
		size_t len = strlen(v[*count]) + 1;
		if (*count >= SBX_MAX_ARGS || len > SBX_MAX_ARGV_BYTES - *used)
			return cmn_err_set(err, CMN_EINVAL, 0,
					   "argv and envp exceed %d strings or %d bytes",
					   SBX_MAX_ARGS, SBX_MAX_ARGV_BYTES);
		memcpy(blob + *used, v[*count], len);
		*used += len;
	}
	return 0;
}

int sbx_send_start(int sock, const struct sbx_run *run, struct cmn_err *err)
{
	cleanup_free char *buf = malloc(sizeof(struct start_hdr) + SBX_MAX_ARGV_BYTES);
	if (!buf)
		return cmn_err_set(err, CMN_ENOMEM, ENOMEM, "start message: out of memory");
	struct start_hdr hdr;
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = MSG_START;
	size_t used = 0;
	char *blob = buf + sizeof(hdr);
	if (append_strings(blob, &used, run->argv, &hdr.argc, err) < 0 ||
	    append_strings(blob, &used, run->envp, &hdr.envc, err) < 0)
		return -1;
	hdr.blob_len = (uint32_t)used;
	hdr.fd_count = (uint32_t)run->fd_count;
	char cbuf[CMSG_SPACE(sizeof(int) * SBX_MAX_FDS)];
	memset(cbuf, 0, sizeof(cbuf));
	int parent_fds[SBX_MAX_FDS];
	for (size_t i = 0; i < run->fd_count; i++) {
		hdr.child_fd[i] = run->fds[i].child_fd;
		parent_fds[i] = run->fds[i].parent_fd;
	}
	memcpy(buf, &hdr, sizeof(hdr));
	struct iovec iov = { buf, sizeof(hdr) + used };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (run->fd_count > 0) {
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * run->fd_count);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * run->fd_count);
		memcpy(CMSG_DATA(c), parent_fds, sizeof(int) * run->fd_count);
	}
	if (sendmsg(sock, &mh, MSG_NOSIGNAL) < 0)
		return cmn_err_sys(err, "sendmsg start (%zu bytes, %zu fds)", iov.iov_len,
				   run->fd_count);
	return 0;
}

/* Splits count NUL-terminated strings off *p; NULL-terminates out. */
static int take_strings(char **p, const char *end, uint32_t count, const char **out)
{
	for (uint32_t i = 0; i < count; i++) {
		const char *nul = memchr(*p, '\0', (size_t)(end - *p));
		if (!nul)
			return -1;
		out[i] = *p;
		*p = (char *)(uintptr_t)(nul + 1);
	}
	out[count] = NULL;
	return 0;
}

int child_recv_start(int sock, struct sbx_run *out, struct cmn_err *err)
{
	static char buf[sizeof(struct start_hdr) + SBX_MAX_ARGV_BYTES];
	static const char *argv[SBX_MAX_ARGS + 1], *envp[SBX_MAX_ARGS + 1];
	static struct sbx_fd fds[SBX_MAX_FDS];
	static char cbuf[CMSG_SPACE(sizeof(int) * SBX_MAX_FDS)];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	ssize_t n;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		_exit(123); /* the caller gave up (sbx_kill of a prepared child) */
	struct start_hdr hdr;
	if (n < (ssize_t)sizeof(hdr) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
		return cmn_err_set(err, CMN_EPROTO, 0, "bad start message (%zd bytes)", n);
	memcpy(&hdr, buf, sizeof(hdr));
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	size_t got =
	    c && c->cmsg_type == SCM_RIGHTS ? (c->cmsg_len - CMSG_LEN(0)) / sizeof(int) : 0;
	if (hdr.type != MSG_START || hdr.fd_count != got || hdr.fd_count > SBX_MAX_FDS ||
	    hdr.argc == 0 || hdr.argc > SBX_MAX_ARGS || hdr.envc > SBX_MAX_ARGS ||
	    hdr.blob_len != (size_t)n - sizeof(hdr))
		return cmn_err_set(err, CMN_EPROTO, 0, "bad start message");
	for (size_t i = 0; i < got; i++) {
		memcpy(&fds[i].parent_fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
		fds[i].child_fd = hdr.child_fd[i];
	}
	char *p = buf + sizeof(hdr);
	const char *end = buf + n;
	if (take_strings(&p, end, hdr.argc, argv) < 0 || take_strings(&p, end, hdr.envc, envp) < 0)
		return cmn_err_set(err, CMN_EPROTO, 0, "bad start message strings");
	out->argv = argv;
	out->envp = envp;
	out->fds = fds;
	out->fd_count = got;
	return 0;
}
