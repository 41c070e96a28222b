/* runtime/stream.c — framed row-batch streams (docs/stage-plan.md "Streams"):
 * u32 LE length | batch, a 0 length ends the stream. Works the same on pipes,
 * files and TCP sockets (blocking fds). A stream that stops before its end
 * frame is an error, so a lost connection can never look like a short
 * result.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "runtime/stage.h"

int rt_read_full(int fd, void *p, size_t len, struct cmn_err *err)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)p + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cmn_err_sys(err, "read fd %d", fd);
		if (n == 0) {
			if (got == 0)
				return 1;
			return cmn_err_set(err, CMN_EPROTO, 0, "read fd %d: truncated", fd);
		}
		got += (size_t)n;
	}
	return 0;
}

int rt_write_full(int fd, const void *p, size_t len, struct cmn_err *err)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, (const char *)p + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cmn_err_sys(err, "write fd %d", fd);
		done += (size_t)n;
	}
	return 0;
}

int rt_frame_read(int fd, struct cmn_buf *out, struct cmn_err *err)
{
	uint8_t hdr[4];
	uint32_t len;
	int rc = rt_read_full(fd, hdr, sizeof(hdr), err);

	if (rc == 1)
		return cmn_err_set(err, CMN_EPROTO, 0, "stream ended without its end frame");
	if (rc < 0)
		return cmn_err_wrap(err, "frame header");
	len = (uint32_t)hdr[0] | (uint32_t)hdr[1] << 8 | (uint32_t)hdr[2] << 16 |
	      (uint32_t)hdr[3] << 24;
	if (len == 0)
		return 0;
	if (len > RT_FRAME_MAX)
		return cmn_err_set(err, CMN_EPROTO, 0, "frame of %u bytes (at most %u)", len,
				   RT_FRAME_MAX);
	cmn_buf_init(out, RT_FRAME_MAX);
	if (cmn_buf_reserve(out, len, err) < 0)
		return -1;
	rc = rt_read_full(fd, out->data, len, err);
	if (rc != 0) {
		cmn_buf_free(out);
		if (rc == 1)
			return cmn_err_set(err, CMN_EPROTO, 0, "stream ended inside a frame");
		return cmn_err_wrap(err, "frame body");
	}
	out->len = len;
	out->data[len] = '\0';
	return 1;
}

int rt_frame_write(int fd, const void *data, size_t len, struct cmn_err *err)
{
	uint8_t hdr[4];

	if (len == 0 || len > RT_FRAME_MAX)
		return cmn_err_set(err, CMN_ELIMIT, 0, "frame of %zu bytes", len);
	hdr[0] = (uint8_t)len;
	hdr[1] = (uint8_t)(len >> 8);
	hdr[2] = (uint8_t)(len >> 16);
	hdr[3] = (uint8_t)(len >> 24);
	if (rt_write_full(fd, hdr, sizeof(hdr), err) < 0)
		return -1;
	return rt_write_full(fd, data, len, err);
}

int rt_frame_write_end(int fd, struct cmn_err *err)
{
	static const uint8_t zero[4];

	return rt_write_full(fd, zero, sizeof(zero), err);
}

/* ---- hello ------------------------------------------------------------------ */

int rt_hello_format(const struct rt_hello *h, struct cmn_buf *out, struct cmn_err *err)
{
	json_t *o = json_pack("{s:s, s:I, s:I, s:I}", "job", h->job, "stage_index",
			      (json_int_t)h->stage_index, "input", (json_int_t)h->input, "sender",
			      (json_int_t)h->sender);
	char *s;
	int rc;

	if (!o)
		return cmn_err_set(err, CMN_ENOMEM, 0, "hello: json_pack failed");
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!s)
		return cmn_err_set(err, CMN_ENOMEM, 0, "hello: json_dumps failed");
	rc = cmn_buf_printf(out, err, "%s\n", s);
	free(s);
	return rc;
}

static int hello_uint(json_t *o, const char *key, unsigned max, unsigned *out, struct cmn_err *err)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
		return cmn_err_set(err, CMN_EPROTO, 0, "hello: bad '%s'", key);
	*out = (unsigned)json_integer_value(v);
	return 0;
}

int rt_hello_parse(const char *line, size_t len, struct rt_hello *h, struct cmn_err *err)
{
	json_error_t jerr;
	json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	const char *job;
	int rc = -1;

	memset(h, 0, sizeof(*h));
	if (!json_is_object(o) || json_object_size(o) != 4) {
		cmn_err_set(err, CMN_EPROTO, 0, "hello: not an object of 4 fields");
		goto out;
	}
	job = json_string_value(json_object_get(o, "job"));
	if (!job || strlen(job) > RT_PLAN_MAX_NAME) {
		cmn_err_set(err, CMN_EPROTO, 0, "hello: bad 'job'");
		goto out;
	}
	memcpy(h->job, job, strlen(job) + 1);
	if (hello_uint(o, "stage_index", 1000, &h->stage_index, err) < 0 ||
	    hello_uint(o, "input", RT_PLAN_MAX_INPUTS - 1, &h->input, err) < 0 ||
	    hello_uint(o, "sender", RT_PLAN_MAX_UPSTREAM - 1, &h->sender, err) < 0)
		goto out;
	rc = 0;
out:
	json_decref(o);
	return rc;
}

/* ---- TCP -------------------------------------------------------------------- */

static int resolve(const char *host, const char *port, bool passive, struct addrinfo **res,
		   struct cmn_err *err)
{
	struct addrinfo hints;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
	rc = getaddrinfo(host, port, &hints, res);
	if (rc != 0)
		return cmn_err_set(err, CMN_EINVAL, 0, "getaddrinfo %s:%s: %s", host, port,
				   gai_strerror(rc));
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int rt_tcp_connect(const char *host, const char *port, uint64_t wait_ms, struct cmn_err *err)
{
	struct addrinfo *ai;
	uint64_t deadline = now_ms() + wait_ms;
	int one = 1, e, pause_ms = 1;

	if (resolve(host, port, false, &ai, err) < 0)
		return -1;
	for (;;) {
		int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			freeaddrinfo(ai);
			return cmn_err_sys(err, "socket");
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			freeaddrinfo(ai);
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			return fd;
		}
		e = errno;
		cmn_err_sys(err, "connect %s:%s", host, port);
		close(fd);
		/* refused or unreachable: the peer's node or its overlay is still coming up */
		if ((e != ECONNREFUSED && e != EINTR && e != EAGAIN && e != EHOSTUNREACH &&
		     e != ENETUNREACH) ||
		    now_ms() >= deadline) {
			freeaddrinfo(ai);
			return -1;
		}
		/* The peer usually listens within a few ms of this node's start:
		 * a fixed 50 ms pause cost most 2-node jobs 50 ms. Start at 1 ms
		 * and double up to 32 ms. */
		poll(NULL, 0, pause_ms);
		if (pause_ms < 32)
			pause_ms *= 2;
	}
}

int rt_tcp_listen(const char *host, const char *port, struct cmn_err *err)
{
	struct addrinfo *ai;
	int one = 1, fd;

	if (resolve(host, port, true, &ai, err) < 0)
		return -1;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		freeaddrinfo(ai);
		return cmn_err_sys(err, "socket");
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0) {
		cmn_err_sys(err, "bind/listen %s:%s", host, port);
		freeaddrinfo(ai);
		close(fd);
		return -1;
	}
	freeaddrinfo(ai);
	return fd;
}

/* ---- batched output ----------------------------------------------------------- */

void rt_batch_out_init(struct rt_batch_out *o, int fd, const struct cmn_col *cols, size_t ncols,
		       uint64_t max_bytes)
{
	memset(o, 0, sizeof(*o));
	o->fd = fd;
	o->cols = cols;
	o->ncols = ncols;
	o->max_bytes = max_bytes;
}

int rt_batch_out_flush(struct rt_batch_out *o, struct cmn_err *err)
{
	if (!o->open)
		return 0;
	o->open = false;
	if (o->w.nrows == 0) {
		cmn_rowbatch_writer_free(&o->w);
		return 0;
	}
	if (cmn_rowbatch_finish(&o->w, err) < 0)
		return -1;
	if (o->max_bytes && o->bytes + o->w.buf.len + 4 > o->max_bytes) {
		cmn_rowbatch_writer_free(&o->w);
		return cmn_err_set(err, CMN_ELIMIT, 0, "limit exceeded: output");
	}
	o->bytes += o->w.buf.len + 4;
	if (rt_frame_write(o->fd, o->w.buf.data, o->w.buf.len, err) < 0) {
		cmn_rowbatch_writer_free(&o->w);
		return -1;
	}
	cmn_rowbatch_writer_free(&o->w);
	return 0;
}

int rt_batch_out_add(struct rt_batch_out *o, const struct cmn_value *vals, struct cmn_err *err)
{
	if (!o->open) {
		if (cmn_rowbatch_begin(&o->w, o->cols, o->ncols, RT_FRAME_MAX, err) < 0)
			return -1;
		o->open = true;
	}
	if (cmn_rowbatch_add(&o->w, vals, err) < 0) {
		if (err && err->code == CMN_ELIMIT && o->w.nrows > 0) {
			/* the batch is full: send it and start the next with this row */
			if (rt_batch_out_flush(o, err) < 0)
				return -1;
			return rt_batch_out_add(o, vals, err);
		}
		return -1;
	}
	o->rows++;
	if (o->w.buf.len >= RT_BATCH_BYTES)
		return rt_batch_out_flush(o, err);
	return 0;
}

int rt_batch_out_end(struct rt_batch_out *o, struct cmn_err *err)
{
	if (rt_batch_out_flush(o, err) < 0)
		return -1;
	o->bytes += 4;
	return rt_frame_write_end(o->fd, err);
}

void rt_batch_out_free(struct rt_batch_out *o)
{
	if (o->open)
		cmn_rowbatch_writer_free(&o->w);
	o->open = false;
}
