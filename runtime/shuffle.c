/* runtime/shuffle.c — rows between stages over TCP (docs/stage-plan.md).
 *
 * Sending: one connection per peer, a hello line, then framed batches of the
 * rows whose partition hash picks that peer, then the end frame.
 * Receiving: one listener; every connection must send a valid hello (this
 * job, an earlier stage, an upstream input, a sender index below K, not seen
 * before) within hello_timeout_ms or it is dropped with a warning — a
 * stranger on the overlay cannot end or stall the job by connecting. A
 * connection that said hello is part of the result: if it breaks the
 * protocol or closes before its end frame, the stage fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "runtime/stage.h"

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull
/* open connections at once; more wait in the listen backlog, never refused */
#define MAX_CONNS 512
#define CONNECT_WAIT_MS 30000

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= FNV_PRIME;
	}
	return h;
}

static uint64_t fnv_le64(uint64_t h, uint64_t v)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	return fnv(h, b, sizeof(b));
}

uint64_t rt_partition_hash(const struct cmn_value *vals, const struct cmn_col *cols,
			   const size_t *keys, size_t nkeys)
{
	uint64_t h = FNV_OFFSET;

	for (size_t k = 0; k < nkeys; k++) {
		const struct cmn_value *v = &vals[keys[k]];
		enum cmn_col_type t = cols[keys[k]].type;
		uint8_t tag = v->is_null ? 0 : (uint8_t)t, b, sep = 0xff;
		uint64_t bits;
		double d;

		h = fnv(h, &tag, 1);
		if (v->is_null)
			continue;
		switch (t) {
		case CMN_COL_BIGINT:
		case CMN_COL_DATETIME:
			h = fnv_le64(h, (uint64_t)v->v.i64);
			break;
		case CMN_COL_DOUBLE:
			d = v->v.f64 == 0.0 ? 0.0 : v->v.f64;
			memcpy(&bits, &d, sizeof(bits));
			h = fnv_le64(h, bits);
			break;
		case CMN_COL_BOOLEAN:
			b = v->v.b ? 1 : 0;
			h = fnv(h, &b, 1);
			break;
		case CMN_COL_STRING:
		case CMN_COL_BINARY:
			h = fnv(h, v->v.bytes.ptr, v->v.bytes.len);
			h = fnv(h, &sep, 1);
			break;
		}
	}
	return h;
}

/* ---- the output side ------------------------------------------------------------ */

static int open_peer(struct rt_stage *st, size_t i, struct cmn_err *err)
{
	const struct rt_plan *p = &st->plan;
	cleanup_buf struct cmn_buf hello = { 0 };
	struct rt_hello h;
	int fd;

	memset(&h, 0, sizeof(h));
	snprintf(h.job, sizeof(h.job), "%s", p->job);
	h.stage_index = p->stage_index;
	h.input = p->sink_input;
	h.sender = p->node_index;
	fd = rt_tcp_connect(p->peers[i].host, p->peers[i].port, CONNECT_WAIT_MS, err);
	if (fd < 0)
		return cmn_err_wrap(err, "peer %zu", i);
	if (rt_hello_format(&h, &hello, err) < 0 ||
	    rt_write_full(fd, hello.data, hello.len, err) < 0) {
		close(fd);
		return cmn_err_wrap(err, "peer %zu: hello", i);
	}
	return fd;
}

int rt_sink_open(struct rt_stage *st, struct rt_sink *s, const struct cmn_col *cols, size_t ncols,
		 struct cmn_err *err)
{
	const struct rt_plan *p = &st->plan;
	size_t n = p->sink_fd >= 0 ? 1 : p->npeers;

	memset(s, 0, sizeof(*s));
	s->outs = calloc(n, sizeof(*s->outs));
	if (!s->outs)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	for (size_t i = 0; i < n; i++)
		s->outs[i].fd = -1;
	s->nouts = n;
	s->cols = cols;
	s->keys = p->keys;
	s->nkeys = p->nkeys;
	s->max_bytes = p->output_bytes;
	for (size_t i = 0; i < n; i++) {
		/* the sink fd is ours from here on: closing it is the reader's EOF */
		int fd = p->sink_fd >= 0 ? p->sink_fd : open_peer(st, i, err);
		if (fd < 0)
			return -1;
		if (p->sink_fd >= 0)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
		rt_batch_out_init(&s->outs[i], fd, cols, ncols, 0);
	}
	return 0;
}

int rt_sink_add(struct rt_sink *s, const struct cmn_value *vals, struct cmn_err *err)
{
	size_t i = 0;
	uint64_t before, after;

	if (s->nouts > 1)
		i = (size_t)(rt_partition_hash(vals, s->cols, s->keys, s->nkeys) % s->nouts);
	before = s->outs[i].bytes;
	if (rt_batch_out_add(&s->outs[i], vals, err) < 0)
		return -1;
	after = s->outs[i].bytes;
	s->bytes += after - before;
	s->rows++;
	if (s->max_bytes && s->bytes > s->max_bytes)
		return cmn_err_set(err, CMN_ELIMIT, 0, "limit exceeded: output");
	return 0;
}

int rt_sink_end(struct rt_sink *s, struct cmn_err *err)
{
	for (size_t i = 0; i < s->nouts; i++) {
		uint64_t before = s->outs[i].bytes;
		if (rt_batch_out_end(&s->outs[i], err) < 0)
			return -1;
		s->bytes += s->outs[i].bytes - before;
		if (s->max_bytes && s->bytes > s->max_bytes)
			return cmn_err_set(err, CMN_ELIMIT, 0, "limit exceeded: output");
		/* a socket: tell the peer we are done, then wait for nothing more */
		shutdown(s->outs[i].fd, SHUT_WR);
	}
	return 0;
}

void rt_sink_free(struct rt_sink *s)
{
	for (size_t i = 0; s->outs && i < s->nouts; i++) {
		rt_batch_out_free(&s->outs[i]);
		if (s->outs[i].fd >= 0)
			close(s->outs[i].fd);
	}
	free(s->outs);
	memset(s, 0, sizeof(*s));
}

/* ---- the input side ---------------------------------------------------------------- */

struct conn {
	int fd;
	bool hello_done;
	uint64_t deadline_ms;
	struct cmn_buf buf; /* bytes not yet consumed */
	unsigned input, sender;
	char peer[64];
};

struct rt_recv {
	struct rt_stage *st;
	struct conn conns[MAX_CONNS];
	size_t nconns;
	/* seen[input][sender]: 1 said hello, 2 sent its end frame */
	uint8_t seen[RT_PLAN_MAX_INPUTS][RT_PLAN_MAX_UPSTREAM];
	unsigned ended[RT_PLAN_MAX_INPUTS];
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void drop(struct rt_recv *rs, size_t i, const char *why)
{
	struct conn *c = &rs->conns[i];

	if (why)
		fprintf(stderr, "cordon-node: warning: dropped connection from %s: %s\n", c->peer,
			why);
	close(c->fd);
	cmn_buf_free(&c->buf);
	rs->conns[i] = rs->conns[--rs->nconns];
}

static bool all_ended(const struct rt_recv *rs)
{
	const struct rt_plan *p = &rs->st->plan;

	for (size_t i = 0; i < p->ninputs; i++)
		if (p->inputs[i].fd < 0 && rs->ended[i] < p->inputs[i].upstream)
			return false;
	return true;
}

/* Checks a hello line; a reason string when the connection is to be dropped. */
static const char *check_hello(struct rt_recv *rs, struct conn *c, const char *line, size_t len)
{
	const struct rt_plan *p = &rs->st->plan;
	struct cmn_err err = CMN_ERR_INIT;
	struct rt_hello h;

	if (rt_hello_parse(line, len, &h, &err) < 0)
		return "malformed hello";
	if (strcmp(h.job, p->job) != 0)
		return "hello for another job";
	if (h.stage_index >= p->stage_index)
		return "hello from a stage that is not upstream";
	if (h.input >= p->ninputs || p->inputs[h.input].fd >= 0)
		return "hello for an input that is not upstream";
	if (h.sender >= p->inputs[h.input].upstream)
		return "hello from an unknown sender";
	if (rs->seen[h.input][h.sender])
		return "second hello of a sender";
	rs->seen[h.input][h.sender] = 1;
	c->hello_done = true;
	c->input = h.input;
	c->sender = h.sender;
	return NULL;
}

/* Consumes whole frames in c->buf. 1 when the end frame came, 0 for more,
 * -1 on a protocol error (fatal). */
static int consume_frames(struct rt_recv *rs, struct conn *c, struct cmn_err *err)
{
	struct rt_input *in = &rs->st->inputs[c->input];

	while (c->buf.len >= 4) {
		const uint8_t *b = (const uint8_t *)c->buf.data;
		uint32_t len = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
			       (uint32_t)b[3] << 24;
		struct cmn_buf frame;

		if (len == 0) {
			cmn_buf_consume(&c->buf, 4);
			if (c->buf.len)
				return cmn_err_set(err, CMN_EPROTO, 0,
						   "sender %u: bytes after the end frame",
						   c->sender);
			return 1;
		}
		if (len > RT_FRAME_MAX)
			return cmn_err_set(err, CMN_EPROTO, 0, "sender %u: frame of %u bytes",
					   c->sender, len);
		if (c->buf.len - 4 < len)
			return 0;
		cmn_buf_init(&frame, RT_FRAME_MAX);
		if (cmn_buf_append(&frame, c->buf.data + 4, len, err) < 0)
			return -1;
		cmn_buf_consume(&c->buf, 4 + (size_t)len);
		if (rt_input_add_frame(in, &frame, err) < 0) {
			cmn_buf_free(&frame);
			return cmn_err_wrap(err, "sender %u", c->sender);
		}
	}
	return 0;
}

/* Reads what c has. 0 ok, 1 dropped or finished (c is gone), -1 fatal. */
static int conn_read(struct rt_recv *rs, size_t i, struct cmn_err *err)
{
	struct conn *c = &rs->conns[i];
	char chunk[65536];
	ssize_t n = read(c->fd, chunk, sizeof(chunk));
	char *nl;
	int rc;

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0 && !c->hello_done) {
		drop(rs, i, "closed before its hello");
		return 1;
	}
	if (n < 0)
		return cmn_err_sys(err, "read from sender %u", c->sender);
	if (n == 0)
		return cmn_err_set(err, CMN_EPROTO, 0,
				   "input %u: sender %u closed its stream without the end frame",
				   c->input, c->sender);
	if (cmn_buf_append(&c->buf, chunk, (size_t)n, err) < 0) {
		if (!c->hello_done) {
			drop(rs, i, "hello too long");
			return 1;
		}
		return cmn_err_wrap(err, "sender %u", c->sender);
	}
	if (!c->hello_done) {
		const char *why;
		nl = memchr(c->buf.data, '\n', c->buf.len);
		if (!nl) {
			if (c->buf.len > RT_HELLO_MAX) {
				drop(rs, i, "hello too long");
				return 1;
			}
			return 0;
		}
		why = check_hello(rs, c, c->buf.data, (size_t)(nl - c->buf.data));
		if (why) {
			drop(rs, i, why);
			return 1;
		}
		cmn_buf_consume(&c->buf, (size_t)(nl - c->buf.data) + 1);
		c->buf.max = RT_FRAME_MAX + 65536 + 4;
	}
	rc = consume_frames(rs, c, err);
	if (rc < 0)
		return cmn_err_wrap(err, "input %u", c->input);
	if (rc == 1) {
		rs->seen[c->input][c->sender] = 2;
		rs->ended[c->input]++;
		drop(rs, i, NULL);
		return 1;
	}
	return 0;
}

static void accept_one(struct rt_recv *rs, uint64_t now)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd =
	    accept4(rs->st->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct conn *c;

	if (fd < 0)
		return;
	if (rs->nconns == MAX_CONNS) { /* poll_once does not ask then; a race at most */
		close(fd);
		return;
	}
	c = &rs->conns[rs->nconns++];
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->deadline_ms = now + rs->st->plan.hello_timeout_ms;
	cmn_buf_init(&c->buf, RT_HELLO_MAX + 65536);
	if (getnameinfo((struct sockaddr *)&ss, sl, c->peer, sizeof(c->peer), NULL, 0,
			NI_NUMERICHOST) != 0)
		snprintf(c->peer, sizeof(c->peer), "?");
}

/* One poll round: accepts, reads every ready connection, drops strangers
 * whose hello is late. */
static int poll_once(struct rt_recv *rs, struct cmn_err *err)
{
	struct pollfd pfd[MAX_CONNS + 1];
	uint64_t now = mono_ms();
	int timeout = -1, rc = 0;

	/* full: leave newcomers in the backlog until a connection ends */
	pfd[0] = (struct pollfd){ .fd = rs->st->listen_fd,
				  .events = rs->nconns < MAX_CONNS ? POLLIN : 0 };
	for (size_t i = 0; i < rs->nconns; i++) {
		pfd[i + 1] = (struct pollfd){ .fd = rs->conns[i].fd, .events = POLLIN };
		if (!rs->conns[i].hello_done) {
			uint64_t left =
			    rs->conns[i].deadline_ms > now ? rs->conns[i].deadline_ms - now : 0;
			if (timeout < 0 || left < (uint64_t)timeout)
				timeout = (int)(left > 60000 ? 60000 : left);
		}
	}
	if (poll(pfd, rs->nconns + 1, timeout) < 0 && errno != EINTR)
		return cmn_err_sys(err, "poll");
	now = mono_ms();
	/* back to front: drop() moves the last connection into the hole */
	for (size_t i = rs->nconns; rc == 0 && i-- > 0;) {
		if (pfd[i + 1].revents)
			rc = conn_read(rs, i, err) < 0 ? -1 : 0;
		else if (!rs->conns[i].hello_done && now >= rs->conns[i].deadline_ms)
			drop(rs, i, "no hello in time");
	}
	if (rc == 0 && (pfd[0].revents & POLLIN))
		accept_one(rs, now);
	return rc;
}

int rt_shuffle_open(struct rt_stage *st, struct cmn_err *err)
{
	st->recv = calloc(1, sizeof(*st->recv));
	if (!st->recv)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	st->recv->st = st;
	return 0;
}

int rt_shuffle_pump(struct rt_stage *st, size_t input, struct cmn_err *err)
{
	struct rt_recv *rs = st->recv;
	struct rt_input *in = &st->inputs[input];
	size_t before = in->nframes;

	if (!rs)
		return cmn_err_set(err, CMN_EINTERNAL, 0, "input %zu: no listener", input);
	while (in->nframes == before && rs->ended[input] < in->plan->upstream)
		if (poll_once(rs, err) < 0)
			return -1;
	if (in->nframes > before)
		return 1;
	in->done = true;
	return 0;
}

int rt_shuffle_finish(struct rt_stage *st, struct cmn_err *err)
{
	struct rt_recv *rs = st->recv;

	while (rs && !all_ended(rs))
		if (poll_once(rs, err) < 0)
			return -1;
	return 0;
}

void rt_shuffle_free(struct rt_stage *st)
{
	struct rt_recv *rs = st->recv;

	if (!rs)
		return;
	while (rs->nconns)
		drop(rs, rs->nconns - 1, NULL);
	free(rs);
	st->recv = NULL;
}
