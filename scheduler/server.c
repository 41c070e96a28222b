/* scheduler/server.c — the HTTPS server: N worker threads, each with its
 * own libevent loop and evhttp over bufferevent_openssl, all accepting on
 * one listening socket (a dup each). No SO_REUSEPORT: another process of
 * the same user must not be able to bind the port and take connections. TLS and HTTP
 * parsing run in parallel; request handling runs under api->lock (the
 * catalog connection and the handlers are single-threaded), and the reply
 * is encrypted and sent after the lock is released (api.c).
 *
 * Limits that keep slow or hostile clients from exhausting it:
 *   - header and body size caps (evhttp answers 4xx and closes);
 *   - read/write inactivity timeouts;
 *   - a per-connection deadline: a connection must complete one request
 *     every header_timeout_s seconds or it is shut down — a slowloris
 *     client trickling a byte a second still loses its connection;
 *   - a connection cap: over it, a new connection is closed at once.
 * SIGTERM/SIGINT drain: every worker stops accepting, lets its connections
 * finish (new replies carry "Connection: close") and leaves its loop when
 * none is left or after 5 s.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/util.h>

#include "common/log.h"
#include "scheduler/api.h"

struct sch_worker {
	struct sch_api *api;
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	struct event *tick;
	pthread_t thread;
	bool thread_started;
	unsigned connections; /* this worker's, touched by its thread only */
	unsigned drain_ticks;
};

struct conn {
	struct sch_worker *w;
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
	c->w->connections--;
	atomic_fetch_sub(&c->w->api->connections, 1);
	free(c);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct timeval tv = { c->w->api->cfg.header_timeout_s, 0 };

	if (c->requests == c->seen) {
		evutil_socket_t s = bufferevent_getfd(c->bev);
		/* evhttp owns the connection; a shutdown makes it see EOF and
		 * free it through its own path. */
		if (s >= 0)
			shutdown(s, SHUT_RDWR);
		return;
	}
	c->seen = c->requests;
	evtimer_add(c->deadline, &tv);
}

static struct bufferevent *bev_cb(struct event_base *base, void *arg)
{
	struct sch_worker *w = arg;
	struct sch_api *api = w->api;
	SSL *ssl = SSL_new(api->ssl);
	struct conn *c = calloc(1, sizeof(*c));
	struct timeval tv = { api->cfg.header_timeout_s, 0 };
	unsigned total;

	if (!ssl || !c) {
		SSL_free(ssl);
		free(c);
		return NULL;
	}
	c->w = w;
	w->connections++;
	total = atomic_fetch_add(&api->connections, 1) + 1;
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
		if (total > api->cfg.max_connections || atomic_load(&api->draining))
			tv.tv_sec = 0;
		evtimer_add(c->deadline, &tv);
	}
	return c->bev;
}

/* Called by api.c for each request, so the deadline sees progress. */
void sch_server_request_seen(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
	SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
	struct conn *c = ssl ? SSL_get_ex_data(ssl, conn_idx) : NULL;
	if (c)
		c->requests++;
}

/* 100 ms tick per worker: notices a drain and ends the loop when its
 * connections are gone, or after 5 s. */
static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sch_worker *w = arg;

	if (!atomic_load(&w->api->draining))
		return;
	if (w->bound) {
		evhttp_del_accept_socket(w->http, w->bound);
		w->bound = NULL;
	}
	if (w->connections == 0 || ++w->drain_ticks >= 50)
		event_base_loopexit(w->base, NULL);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct sch_api *api = arg;
	if (!atomic_exchange(&api->draining, true))
		cmn_info("signal %d: draining (no new connections)", (int)sig);
}

static int listen_socket(struct sch_api *api, struct cmn_err *err)
{
	struct evutil_addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	char port[16];
	int fd, one = 1;

	snprintf(port, sizeof(port), "%d", api->cfg.listen_port);
	if (evutil_getaddrinfo(api->cfg.listen_host, port, &hints, &res) != 0 || !res)
		return cmn_err_set(err, CMN_EINVAL, 0, "cannot resolve listen address %s",
				   api->cfg.listen_host);
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		evutil_freeaddrinfo(res);
		return cmn_err_sys(err, "socket");
	}
	/* TCP_NODELAY is inherited by accepted sockets on Linux: a reply
	 * written as several TLS records must not wait for a delayed ACK. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(fd, res->ai_addr, (socklen_t)res->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
		int e = errno;
		evutil_freeaddrinfo(res);
		close(fd);
		errno = e;
		return cmn_err_sys(err, "bind %s:%d", api->cfg.listen_host, api->cfg.listen_port);
	}
	evutil_freeaddrinfo(res);
	if (api->cfg.listen_port == 0) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
			api->cfg.listen_port =
			    ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							   : ((struct sockaddr_in *)&ss)->sin_port);
	}
	return fd;
}

static int setup_worker(struct sch_api *api, struct sch_worker *w, int listen_fd,
			struct cmn_err *err)
{
	struct timeval tick = { 0, 100000 };
	int fd = fcntl(listen_fd, F_DUPFD_CLOEXEC, 3);

	w->api = api;
	w->base = event_base_new();
	w->http = w->base ? evhttp_new(w->base) : NULL;
	if (!w->http)
		return cmn_err_set(err, CMN_ENOMEM, 0, "event_base/evhttp_new failed");
	evhttp_set_bevcb(w->http, bev_cb, w);
	evhttp_set_gencb(w->http, sch_api_handle, api);
	evhttp_set_max_headers_size(w->http, (ev_ssize_t)api->cfg.max_headers);
	/* the largest route cap: api.c holds every other route to its own
	 * (sch_api_body_cap) */
	size_t cap = api->cfg.max_body;
	if (api->cfg.max_resource_body > cap)
		cap = api->cfg.max_resource_body;
	if (api->cfg.max_upload > cap)
		cap = api->cfg.max_upload;
	evhttp_set_max_body_size(w->http, (ev_ssize_t)cap);
	evhttp_set_timeout(w->http, (int)api->cfg.io_timeout_s);
	evhttp_set_allowed_methods(w->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
						EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD);
	evhttp_set_default_content_type(w->http, "application/json");
	if (fd < 0)
		return cmn_err_sys(err, "dup listening socket");
	w->bound = evhttp_accept_socket_with_handle(w->http, fd);
	if (!w->bound) {
		close(fd);
		return cmn_err_set(err, CMN_EINTERNAL, 0, "evhttp_accept_socket failed");
	}
	w->tick = event_new(w->base, -1, EV_PERSIST, tick_cb, w);
	if (!w->tick || event_add(w->tick, &tick) < 0)
		return cmn_err_set(err, CMN_EINTERNAL, 0, "cannot add the worker tick");
	return 0;
}

static void free_worker(struct sch_worker *w)
{
	if (w->http)
		evhttp_free(w->http); /* frees the connections: conn_free runs */
	if (w->tick)
		event_free(w->tick);
	if (w->base)
		event_base_free(w->base);
}

static void *worker_main(void *arg)
{
	struct sch_worker *w = arg;
	event_base_dispatch(w->base);
	return NULL;
}

static int run_workers(struct sch_api *api, struct sch_worker *ws, unsigned n, struct cmn_err *err)
{
	struct event *sig_term, *sig_int;
	bool v6 = strchr(api->cfg.listen_host, ':') != NULL;
	int rc = 0;

	sig_term = evsignal_new(ws[0].base, SIGTERM, signal_cb, api);
	sig_int = evsignal_new(ws[0].base, SIGINT, signal_cb, api);
	if (!sig_term || !sig_int || evsignal_add(sig_term, NULL) < 0 ||
	    evsignal_add(sig_int, NULL) < 0)
		rc = cmn_err_set(err, CMN_EINTERNAL, 0, "cannot install signal events");
	for (unsigned i = 1; rc == 0 && i < n; i++) {
		if (pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]) != 0)
			rc = cmn_err_set(err, CMN_EINTERNAL, 0, "pthread_create worker %u", i);
		else
			ws[i].thread_started = true;
	}
	if (rc == 0) {
		/* One line on stdout, for scripts and tests that wait for it. */
		printf("cordond: serving https://%s%s%s:%d\n", v6 ? "[" : "", api->cfg.listen_host,
		       v6 ? "]" : "", api->cfg.listen_port);
		fflush(stdout);
		cmn_info("serving (region %s, %u worker threads)", api->cfg.region, n);
		if (event_base_dispatch(ws[0].base) < 0)
			rc = cmn_err_set(err, CMN_EINTERNAL, 0, "event loop failed");
	}
	atomic_store(&api->draining, true); /* also stops the others on a failure */
	for (unsigned i = 1; i < n; i++)
		if (ws[i].thread_started)
			pthread_join(ws[i].thread, NULL);
	if (sig_term)
		event_free(sig_term);
	if (sig_int)
		event_free(sig_int);
	return rc;
}

int sch_server_run(struct sch_api *api, struct cmn_err *err)
{
	unsigned n = api->cfg.threads ? api->cfg.threads : 1;
	struct sch_worker *ws = calloc(n, sizeof(*ws));
	int rc = 0, fd;

	if (!ws)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	signal(SIGPIPE, SIG_IGN);
	if (conn_idx < 0)
		conn_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_free);
	fd = listen_socket(api, err);
	if (fd < 0) {
		free(ws);
		return -1;
	}
	for (unsigned i = 0; rc == 0 && i < n; i++)
		rc = setup_worker(api, &ws[i], fd, err);
	close(fd);
	if (rc == 0)
		rc = run_workers(api, ws, n, err);
	for (unsigned i = 0; i < n; i++)
		free_worker(&ws[i]);
	free(ws);
	return rc;
}
