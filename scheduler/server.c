/* scheduler/server.c — the HTTPS server: one libevent loop, evhttp over
 * bufferevent_openssl, with the limits that keep slow or hostile clients
 * from exhausting it:
 *   - header and body size caps (evhttp answers 4xx and closes);
 *   - read/write inactivity timeouts;
 *   - a per-connection deadline: a connection must complete one request
 *     every header_timeout_s seconds or it is shut down — a slowloris
 *     client trickling a byte a second still loses its connection;
 *   - a connection cap: over it, a new connection is closed at once.
 * SIGTERM/SIGINT drain: stop accepting, let connections finish (new replies
 * carry "Connection: close"), exit the loop when none is left or after 5 s.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>

#include "common/log.h"
#include "scheduler/api.h"

struct conn {
	struct sch_api *api;
	struct bufferevent *bev;
	struct event *deadline;
	unsigned long long requests, seen;
};

static int conn_idx = -1;

/* SSL_free (from the bufferevent's free) releases the connection's state:
 * the only hook libevent 2.1 gives at the end of an evhttp connection
 * that also fires for connections that never sent a request. */
static void conn_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	struct conn *c = ptr;
	if (!c)
		return;
	if (c->deadline)
		event_free(c->deadline);
	c->api->connections--;
	free(c);
}

static void conn_close(struct conn *c)
{
	evutil_socket_t fd = bufferevent_getfd(c->bev);
	/* evhttp owns the connection; a shutdown makes it see EOF and free it
	 * through its own path. */
	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct timeval tv = { c->api->cfg.header_timeout_s, 0 };

	if (c->requests == c->seen) {
		conn_close(c);
		return;
	}
	c->seen = c->requests;
	evtimer_add(c->deadline, &tv);
}

static struct bufferevent *bev_cb(struct event_base *base, void *arg)
{
	struct sch_api *api = arg;
	SSL *ssl = SSL_new(api->ssl);
	struct conn *c = calloc(1, sizeof(*c));
	struct timeval tv = { api->cfg.header_timeout_s, 0 };

	if (!ssl || !c) {
		SSL_free(ssl);
		free(c);
		return NULL;
	}
	c->api = api;
	api->connections++;
	SSL_set_ex_data(ssl, conn_idx, c);
	c->bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
						BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (!c->bev)
		return NULL; /* SSL_free ran conn_free */
	/* A TLS 1.2 truncation attack cannot fake a complete HTTP request:
	 * evhttp checks Content-Length. Allowing dirty shutdown keeps clients
	 * that just close the socket from logging errors. */
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	c->deadline = evtimer_new(base, deadline_cb, c);
	if (c->deadline) {
		if (api->connections > api->cfg.max_connections || api->draining)
			tv.tv_sec = 0;
		evtimer_add(c->deadline, &tv);
	}
	return c->bev;
}

/* Called by api.c for each request, so the deadline sees progress. */
void sch_server_request_seen(struct evhttp_request *req);
void sch_server_request_seen(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
	SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
	struct conn *c = ssl ? SSL_get_ex_data(ssl, conn_idx) : NULL;
	if (c)
		c->requests++;
}

static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sch_api *api = arg;
	/* 100 ms ticks: leave when every connection is gone or after 5 s. */
	if (api->connections == 0 || ++api->drain_ticks >= 50)
		event_base_loopexit(api->base, NULL);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct sch_api *api = arg;
	struct timeval tick = { 0, 100000 };

	if (api->draining)
		return;
	cmn_info("signal %d: draining (no new connections)", (int)sig);
	api->draining = true;
	if (api->bound) {
		evhttp_del_accept_socket(api->http, api->bound);
		api->bound = NULL;
	}
	api->drain_timer = event_new(api->base, -1, EV_PERSIST, drain_cb, api);
	if (!api->drain_timer || event_add(api->drain_timer, &tick) < 0)
		event_base_loopexit(api->base, NULL);
}

static int setup(struct sch_api *api, struct cmn_err *err)
{
	if (conn_idx < 0)
		conn_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_free);
	api->base = event_base_new();
	api->http = api->base ? evhttp_new(api->base) : NULL;
	if (!api->http)
		return cmn_err_set(err, CMN_ENOMEM, 0, "event_base/evhttp_new failed");
	evhttp_set_bevcb(api->http, bev_cb, api);
	evhttp_set_gencb(api->http, sch_api_handle, api);
	evhttp_set_max_headers_size(api->http, (ev_ssize_t)api->cfg.max_headers);
	evhttp_set_max_body_size(api->http, (ev_ssize_t)api->cfg.max_body);
	evhttp_set_timeout(api->http, (int)api->cfg.io_timeout_s);
	evhttp_set_allowed_methods(api->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
						  EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD);
	evhttp_set_default_content_type(api->http, "application/json");
	api->bound = evhttp_bind_socket_with_handle(api->http, api->cfg.listen_host,
						    (ev_uint16_t)api->cfg.listen_port);
	if (!api->bound)
		return cmn_err_set(err, CMN_EIO, errno, "bind %s:%d: %s", api->cfg.listen_host,
				   api->cfg.listen_port, strerror(errno));
	{
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		evutil_socket_t fd = evhttp_bound_socket_get_fd(api->bound);
		int one = 1;
		/* Inherited by accepted sockets on Linux: a reply written as
		 * several TLS records must not wait for the peer's delayed ACK. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
			api->cfg.listen_port =
			    ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							   : ((struct sockaddr_in *)&ss)->sin_port);
	}
	api->sig_term = evsignal_new(api->base, SIGTERM, signal_cb, api);
	api->sig_int = evsignal_new(api->base, SIGINT, signal_cb, api);
	if (!api->sig_term || !api->sig_int || evsignal_add(api->sig_term, NULL) < 0 ||
	    evsignal_add(api->sig_int, NULL) < 0)
		return cmn_err_set(err, CMN_EINTERNAL, 0, "cannot install signal/timer events");
	return 0;
}

int sch_server_run(struct sch_api *api, struct cmn_err *err)
{
	int rc = setup(api, err);

	signal(SIGPIPE, SIG_IGN);
	if (rc == 0) {
		bool v6 = strchr(api->cfg.listen_host, ':') != NULL;
		/* One line on stdout, for scripts and tests that wait for it. */
		printf("cordond: serving https://%s%s%s:%d\n", v6 ? "[" : "", api->cfg.listen_host,
		       v6 ? "]" : "", api->cfg.listen_port);
		fflush(stdout);
		cmn_info("serving (region %s)", api->cfg.region);
		if (event_base_dispatch(api->base) < 0)
			rc = cmn_err_set(err, CMN_EINTERNAL, 0, "event loop failed");
	}
	if (api->http)
		evhttp_free(api->http);
	if (api->sig_term)
		event_free(api->sig_term);
	if (api->sig_int)
		event_free(api->sig_int);
	if (api->drain_timer)
		event_free(api->drain_timer);
	if (api->base)
		event_base_free(api->base);
	api->http = NULL;
	api->base = NULL;
	return rc;
}
