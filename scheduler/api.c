/* scheduler/api.c — the per-request pipeline: request id, source address,
 * SigV4 authentication, routing, JSON replies, one audit record and the
 * metrics for every request. Route handlers live in api_admin.c. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "scheduler/api.h"
#include "scheduler/metrics.h"
#include "scheduler/sigv4.h"
#include "scheduler/stmt.h"

static double elapsed(const struct timespec *start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static void audit_request(struct sch_api_req *r, int status, const char *error_code,
			  const char *reason)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct sch_audit_record rec = {
		.event_name = r->event_name ? r->event_name : "UnknownRequest",
		.request_id = r->request_id,
		.source_ip = r->source_ip,
		.user_agent = r->user_agent,
		.principal = r->authenticated ? r->principal.name : NULL,
		.access_key_id = r->principal.access_key_id[0] ? r->principal.access_key_id : NULL,
		.project = r->project[0] ? r->project : NULL,
		.resource = r->resource[0] ? r->resource : r->path,
		.decision = status < 400 ? "allow" : "deny",
		.reason = reason,
		.error_code = error_code,
		.http_status = status,
	};
	if (sch_audit_write(r->api->audit, &rec, &err) < 0 ||
	    (r->method != EVHTTP_REQ_GET && sch_audit_flush(r->api->audit, &err) < 0))
		cmn_error("audit: %s", err.msg);
}

/* Records the reply; sch_api_handle() sends it once api->lock is released,
 * so TLS encryption of replies runs in parallel on the workers. */
static void send_reply(struct sch_api_req *r, int status, const char *ctype, const char *data,
		       size_t len)
{
	r->replied = true;
	r->status = status;
	r->content_type = ctype;
	free(r->reply);
	r->reply = malloc(len ? len : 1);
	r->reply_len = r->reply ? len : 0;
	if (r->reply)
		memcpy(r->reply, data, len);
	sch_metrics_request(status, elapsed(&r->start));
}

static void transmit(struct sch_api_req *r)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(r->req);
	struct evbuffer *buf = evbuffer_new();
	static const char *reasons[] = { [200] = "OK",
					 [201] = "Created",
					 [202] = "Accepted",
					 [400] = "Bad Request",
					 [403] = "Forbidden",
					 [404] = "Not Found",
					 [405] = "Method Not Allowed",
					 [409] = "Conflict",
					 [413] = "Payload Too Large",
					 [500] = "Internal Server Error",
					 [501] = "Not Implemented" };
	const char *reason = r->status < 502 && reasons[r->status] ? reasons[r->status] : "Error";

	evhttp_add_header(out, "Content-Type", r->content_type);
	evhttp_add_header(out, "X-Cordon-Request-Id", r->request_id);
	if (atomic_load(&r->api->draining))
		evhttp_add_header(out, "Connection", "close");
	if (buf && r->reply)
		evbuffer_add(buf, r->reply, r->reply_len);
	evhttp_send_reply(r->req, r->status, reason, buf);
	if (buf)
		evbuffer_free(buf);
}

/* Outside api->lock (no audit: the request was audited when handled). */
void sch_api_replace_reply(struct sch_api_req *r, int status, json_t *body)
{
	char *text;
	json_object_set_new(body, "requestId", json_string(r->request_id));
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (!text)
		return;
	free(r->reply);
	r->reply = text;
	r->reply_len = strlen(text);
	r->status = status;
	r->content_type = "application/json";
}

void sch_api_reply_json(struct sch_api_req *r, int status, json_t *body)
{
	char *text;

	json_object_set_new(body, "requestId", json_string(r->request_id));
	text = json_dumps(body, JSON_COMPACT);
	audit_request(r, status, NULL, NULL);
	send_reply(r, status, "application/json", text ? text : "{}", text ? strlen(text) : 2);
	free(text);
	json_decref(body);
}

void sch_api_reply_bytes(struct sch_api_req *r, int status, const char *ctype, char *data,
			 size_t len)
{
	audit_request(r, status, NULL, NULL);
	r->replied = true;
	r->status = status;
	r->content_type = ctype;
	free(r->reply);
	r->reply = data;
	r->reply_len = data ? len : 0;
	sch_metrics_request(status, elapsed(&r->start));
}

void sch_api_reply_stream(struct sch_api_req *r, const char *ctype, struct sch_api_stream_src src)
{
	audit_request(r, 200, NULL, NULL);
	r->replied = true;
	r->status = 200;
	r->content_type = ctype;
	free(r->reply);
	r->reply = NULL;
	r->reply_len = 0;
	r->stream = src;
	sch_metrics_request(200, elapsed(&r->start));
}

__attribute__((format(printf, 4, 0))) static void
reply_error_v(struct sch_api_req *r, int status, const char *code, const char *fmt, va_list ap)
{
	char msg[1024];
	json_t *body;
	char *text;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	body =
	    json_pack("{s:s, s:s, s:s}", "code", code, "message", msg, "requestId", r->request_id);
	if (!body) /* msg may echo hostile bytes that are not UTF-8 */
		body = json_pack("{s:s, s:s, s:s}", "code", code, "message",
				 "(message not valid UTF-8)", "requestId", r->request_id);
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	audit_request(r, status, code, msg);
	send_reply(r, status, "application/json", text ? text : "{}", text ? strlen(text) : 2);
	free(text);
	json_decref(body);
}

void sch_api_reply_error(struct sch_api_req *r, int status, const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	reply_error_v(r, status, code, fmt, ap);
	va_end(ap);
}

void sch_api_reply_err(struct sch_api_req *r, const struct cmn_err *err)
{
	int status = 500;
	const char *code = "InternalError";

	switch (err->code) {
	case CMN_EINVAL:
		status = 400, code = "InvalidArgument";
		break;
	case CMN_ENOTFOUND:
		status = 404, code = "NotFound";
		break;
	case CMN_EEXIST:
		status = 409, code = "AlreadyExists";
		break;
	case CMN_ECONFLICT:
		status = 409, code = "Conflict";
		break;
	case CMN_EDENIED:
		status = 403, code = "AccessDenied";
		break;
	case CMN_ELIMIT:
		status = 429, code = "LimitExceeded";
		break;
	case CMN_EUNAVAIL:
		status = 501, code = "NotImplemented";
		break;
	default:
		cmn_error("request %s: %s", r->request_id, err->msg);
	}
	sch_api_reply_error(r, status, code, "%s",
			    status == 500 ? "internal error (see the server log)" : err->msg);
}

json_t *sch_api_body_json(struct sch_api_req *r)
{
	json_error_t jerr;
	json_t *j;

	if (r->body_len == 0) {
		sch_api_reply_error(r, 400, "MalformedJSON", "the request needs a JSON body");
		return NULL;
	}
	j = json_loadb((const char *)r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		sch_api_reply_error(r, 400, "MalformedJSON",
				    "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
				    jerr.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		sch_api_reply_error(r, 400, "MalformedJSON", "the body must be a JSON object");
		return NULL;
	}
	return j;
}

/* The source address: the peer, unless the peer is a configured proxy; then
 * X-Forwarded-For is walked from the right past every trusted proxy. */
static int source_address(struct sch_api_req *r)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(r->req);
	const char *xff = evhttp_find_header(in, "X-Forwarded-For");
	char copy[1024];

	snprintf(r->source_ip, sizeof(r->source_ip), "%s", r->peer);
	if (!xff || r->api->proxies.count == 0 || !sch_whitelist_allows(&r->api->proxies, r->peer))
		return 0;
	if (strlen(xff) >= sizeof(copy))
		return -1;
	snprintf(copy, sizeof(copy), "%s", xff);
	for (;;) {
		char *comma = strrchr(copy, ','), *hop = comma ? comma + 1 : copy;
		int family;
		uint8_t addr[16];
		while (*hop == ' ')
			hop++;
		for (char *e = hop + strlen(hop); e > hop && e[-1] == ' ';)
			*--e = '\0';
		if (sch_ip_parse(hop, &family, addr) < 0)
			return -1;
		snprintf(r->source_ip, sizeof(r->source_ip), "%.63s", hop);
		if (!comma || !sch_whitelist_allows(&r->api->proxies, hop))
			return 0;
		*comma = '\0';
	}
}

bool sch_api_whitelist_ok(struct sch_api_req *r, const char *project)
{
	struct cmn_err err = CMN_ERR_INIT;
	cleanup_free char *text = NULL;
	struct sch_whitelist *wl;
	bool ok;

	if (sch_project_get_whitelist(r->api->acc, project, &text, &err) < 0) {
		sch_api_reply_err(r, &err);
		return false;
	}
	if (!text[0])
		return true;
	wl = malloc(sizeof(*wl));
	if (!wl || sch_whitelist_parse(text, wl, &err) < 0) {
		free(wl);
		sch_api_reply_error(r, 500, "InternalError", "stored whitelist is invalid");
		return false;
	}
	ok = sch_whitelist_allows(wl, r->source_ip);
	free(wl);
	if (!ok)
		sch_api_reply_error(r, 403, "IpNotInWhitelist",
				    "source address %s is not in the IP whitelist of project %s",
				    r->source_ip, project);
	return ok;
}

static void route_v1(struct sch_api_req *r, char **segs, size_t n)
{
	if (n == 1 && strcmp(segs[0], "whoami") == 0) {
		static const char *types[] = { "account", "user", "role" };
		r->event_name = "GetCallerIdentity";
		if (r->method != EVHTTP_REQ_GET) {
			sch_api_reply_error(r, 405, "MethodNotAllowed", "use GET");
			return;
		}
		sch_api_reply_json(r, 200,
				   json_pack("{s:s, s:s, s:s, s:b}", "principal", r->principal.name,
					     "account", r->principal.account, "type",
					     types[r->principal.type], "operator",
					     r->principal.super_admin));
	} else if (n >= 1 && strcmp(segs[0], "admin") == 0) {
		sch_api_route_admin(r, segs + 1, n - 1);
	} else if (n >= 1 && strcmp(segs[0], "accounts") == 0) {
		sch_api_route_accounts(r, segs + 1, n - 1);
	} else if (n >= 1 && strcmp(segs[0], "projects") == 0) {
		sch_api_route_projects(r, segs + 1, n - 1);
	} else if (n == 1 && strcmp(segs[0], "audit") == 0) {
		sch_api_route_audit(r);
	} else {
		sch_api_reply_error(r, 404, "NotFound", "no such endpoint");
	}
}

/* Splits "/v1/a/b" into {"a","b"} in place; NULL when the path is not
 * under /v1 or holds an empty, dot or encoded segment. */
static size_t split_path(char *path, char **segs, size_t max)
{
	size_t n = 0;
	char *save = NULL, *tok;

	if (strncmp(path, "/v1/", 4) != 0)
		return 0;
	for (tok = strtok_r(path + 4, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (n == max || tok[0] == '.' || strchr(tok, '%'))
			return 0;
		segs[n++] = tok;
	}
	return n;
}

static void public_endpoint(struct sch_api_req *r)
{
	if (strcmp(r->path, "/healthz") == 0) {
		send_reply(r, 200, "application/json", "{\"status\":\"ok\"}", 15);
	} else {
		cleanup_buf struct cmn_buf out = { 0 };
		cmn_buf_init(&out, 0);
		if (sch_metrics_render(&out, NULL) < 0)
			send_reply(r, 500, "text/plain", "error\n", 6);
		else
			send_reply(r, 200, "text/plain; version=0.0.4", out.data, out.len);
	}
}

/* The event name of a request refused before routing (authentication);
 * routing sets the exact one. */
static const char *early_event_name(const struct sch_api_req *r)
{
	size_t len = strlen(r->path);
	if (strcmp(r->path, "/v1/whoami") == 0)
		return "GetCallerIdentity";
	if (len > 5 && strcmp(r->path + len - 5, "/jobs") == 0)
		return "InsertJob";
	if (strcmp(r->path, "/v1/audit") == 0)
		return "LookupEvents";
	return "ApiCall";
}

static void handle(struct sch_api *api, struct evhttp_request *req, struct sch_api_req *r)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct evbuffer *body = evhttp_request_get_input_buffer(req);
	const char *uri = evhttp_request_get_uri(req), *q;
	char *peer_addr = NULL, path_copy[1024], *segs[16];
	ev_uint16_t peer_port = 0;
	size_t n, plen;

	clock_gettime(CLOCK_MONOTONIC, &r->start);
	sch_server_request_seen(req);
	r->method = evhttp_request_get_command(req);
	snprintf(r->request_id, sizeof(r->request_id), "%s-%012llx", api->request_prefix,
		 ++api->request_counter);
	if (evcon)
		evhttp_connection_get_peer(evcon, &peer_addr, &peer_port);
	snprintf(r->peer, sizeof(r->peer), "%s", peer_addr ? peer_addr : "");
	r->user_agent = evhttp_find_header(evhttp_request_get_input_headers(req), "User-Agent");
	q = uri ? strchr(uri, '?') : NULL;
	plen = uri ? (q ? (size_t)(q - uri) : strlen(uri)) : 0;
	if (!uri || uri[0] != '/' || plen >= sizeof(r->path)) {
		sch_api_reply_error(r, 400, "InvalidURI", "the request target must be a path");
		return;
	}
	snprintf(r->path, sizeof(r->path), "%.*s", (int)plen, uri);
	r->query = q ? q + 1 : NULL;
	if (r->method == EVHTTP_REQ_GET &&
	    (strcmp(r->path, "/healthz") == 0 || strcmp(r->path, "/metrics") == 0)) {
		public_endpoint(r);
		return;
	}
	r->body_len = evbuffer_get_length(body);
	/* evhttp reads up to the largest route's cap; each route keeps its own
	 * (resources.h), decided here before anything else looks at the body */
	if (r->body_len > sch_api_body_cap(r)) {
		r->event_name = early_event_name(r);
		sch_api_reply_error(r, 413, "EntityTooLarge",
				    "the body is %zu bytes; this endpoint takes at most %zu",
				    r->body_len, sch_api_body_cap(r));
		return;
	}
	r->body = r->body_len ? evbuffer_pullup(body, -1) : (const unsigned char *)"";
	if (source_address(r) < 0) {
		sch_api_reply_error(r, 400, "InvalidArgument",
				    "malformed X-Forwarded-For from a trusted proxy");
		return;
	}
	r->event_name = early_event_name(r);
	if (sch_api_authenticate(r) < 0)
		return;
	r->authenticated = true;
	snprintf(path_copy, sizeof(path_copy), "%s", r->path);
	n = split_path(path_copy, segs, CMN_ARRAY_SIZE(segs));
	if (n == 0) {
		sch_api_reply_error(r, 404, "NotFound", "no such endpoint");
		return;
	}
	route_v1(r, segs, n);
	if (!r->replied)
		sch_api_reply_error(r, 500, "InternalError", "no reply");
}

/* ---- streamed replies ------------------------------------------------------
 * Each chunk is made when the one before has gone to the socket, so a big
 * result costs one chunk of memory, and formatting overlaps the client's
 * reading. The worker's event loop runs it all; no lock is held. */
#define STREAM_CHUNK (256u << 10)

struct stream {
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	struct sch_api_stream_src src;
	struct cmn_buf buf;
	struct evbuffer *evb;
	char request_id[40];
};

static void stream_free(struct stream *s)
{
	s->src.close(s->src.ctx);
	cmn_buf_free(&s->buf);
	if (s->evb)
		evbuffer_free(s->evb);
	free(s);
}

/* The connection closes before the body's end: the client went away, a
 * write timed out, or the server stops. */
static void stream_closed(struct evhttp_connection *evcon, void *arg)
{
	struct stream *s = arg;

	(void)evcon;
	/* after EOF or a timeout evhttp detaches the unfinished request, and
	 * it is ours to free; otherwise the connection frees it */
	if (!evhttp_request_get_connection(s->req))
		evhttp_send_reply_end(s->req);
	cmn_warn("request %s: the client left before the end of a streamed reply", s->request_id);
	stream_free(s);
}

static void stream_next(struct stream *s);

static void stream_sent(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	stream_next(arg);
}

/* Cuts the reply short: no last chunk, so the client cannot take what it
 * got for the whole body. evhttp sees EOF and stream_closed frees. */
static void stream_cut(struct stream *s, const char *why)
{
	evutil_socket_t fd = bufferevent_getfd(evhttp_connection_get_bufferevent(s->evcon));

	cmn_error("request %s: streamed reply cut short: %s", s->request_id, why);
	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
}

static void stream_next(struct stream *s)
{
	struct cmn_err err = CMN_ERR_INIT;
	int more;

	s->buf.len = 0;
	more = s->src.fill(s->src.ctx, &s->buf, STREAM_CHUNK, &err);
	if (more < 0) { /* the status line is out: cutting is the only way left */
		stream_cut(s, err.msg);
		return;
	}
	if (more && s->buf.len == 0) { /* nothing to wait for: it would stall */
		stream_cut(s, "no bytes from the source");
		return;
	}
	if (s->buf.len) {
		if (evbuffer_add(s->evb, s->buf.data, s->buf.len) < 0) {
			stream_cut(s, "out of memory");
			return;
		}
		sch_server_request_seen(s->req); /* progress, for the idle deadline */
		evhttp_send_reply_chunk_with_cb(s->req, s->evb, more ? stream_sent : NULL, s);
	}
	if (!more) {
		evhttp_connection_set_closecb(s->evcon, NULL, NULL);
		evhttp_send_reply_end(s->req);
		stream_free(s);
	}
}

static void stream_start(struct sch_api_req *r)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(r->req);
	struct stream *s = calloc(1, sizeof(*s));

	if (s)
		s->evb = evbuffer_new();
	s = s && s->evb ? s : (free(s), NULL);
	if (!s || !(s->evcon = evhttp_request_get_connection(r->req))) {
		r->stream.close(r->stream.ctx);
		if (s)
			evbuffer_free(s->evb);
		free(s);
		evhttp_send_error(r->req, 500, "Internal Server Error");
		return;
	}
	s->req = r->req;
	s->src = r->stream;
	snprintf(s->request_id, sizeof(s->request_id), "%s", r->request_id);
	cmn_buf_init(&s->buf, 0);
	evhttp_add_header(out, "Content-Type", r->content_type);
	evhttp_add_header(out, "X-Cordon-Request-Id", r->request_id);
	if (atomic_load(&r->api->draining))
		evhttp_add_header(out, "Connection", "close");
	evhttp_connection_set_closecb(s->evcon, stream_closed, s);
	evhttp_send_reply_start(r->req, 200, "OK");
	stream_next(s);
}

void sch_api_handle(struct evhttp_request *req, void *arg)
{
	struct sch_api *api = arg;
	struct sch_api_req r = { .api = api, .req = req };

	pthread_mutex_lock(&api->lock);
	handle(api, req, &r);
	pthread_mutex_unlock(&api->lock);
	if (r.wait_job[0])
		sch_api_finish_wait(&r);
	if (r.stream.fill)
		stream_start(&r);
	else
		transmit(&r);
	free(r.reply);
}
