/* scheduler/api.h — cordond's HTTPS API: start-up state, the server loop
 * and the request context the route handlers share.
 *
 * Files: daemon.c (data dir, keys, catalog, operator credentials),
 * server.c (libevent evhttp + bufferevent_openssl, limits, deadlines,
 * signals), api.c (per-request pipeline: request id, source address,
 * SigV4, routing, replies, audit, metrics), api_admin.c (accounts, users,
 * roles, keys, projects, audit query), stmt_basic.c (WHOAMI, SETPROJECT),
 * api_storage.c (storage admin endpoints; storage_glue.h).
 */
#ifndef SCH_API_H
#define SCH_API_H

#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "common/buf.h"
#include "common/err.h"
#include "scheduler/accounts.h"
#include "scheduler/audit.h"
#include "scheduler/catalog.h"
#include "scheduler/job.h"
#include "scheduler/keywrap.h"
#include "scheduler/principal.h"
#include "scheduler/stmt.h"
#include "scheduler/storage_glue.h"
#include "scheduler/whitelist.h"

#define SCH_OPERATOR_ACCOUNT "admin"

struct sch_api_config {
	const char *data_dir;
	char listen_host[256];
	int listen_port;
	const char *region;
	const char *tls_cert, *tls_key; /* NULL = DIR/tls/{cert,key}.pem */
	const char *trusted_proxies;    /* whitelist syntax, "" = none */
	unsigned header_timeout_s;      /* a connection must finish a request this often */
	unsigned io_timeout_s;          /* read/write inactivity */
	unsigned max_connections;
	size_t max_body, max_headers;
	size_t max_upload;        /* PUT .../tables/{t}/data only (api_tabledata.c) */
	size_t max_resource_body; /* PUT /v1/projects/{p}/resources/{name} (resources.h) */
	unsigned audit_checkpoint_every;
	int clock_skew_s; /* ±window for x-amz-date */
	unsigned threads; /* worker event loops */
	/* storage glue (storage_glue.h): local chunk servers, 0 = none */
	unsigned chunkservers, racks;
	unsigned scrub_rate; /* background scrub, chunks per minute (--scrub-rate) */
	/* network links (netlinks.h): the netns path a job's overlay grant goes
	 * through (--netlink-gateway), NULL = links are not configured */
	const char *netlink_gateway;
	/* jobs (job.h) */
	unsigned max_jobs;           /* running at once, 0 = 4 */
	uint64_t results_memory;     /* finished jobs' results together, 0 = 1 GiB */
	const char *overlay_run_dir; /* NULL = the overlay library's default */
};

struct sch_api {
	struct sch_api_config cfg;
	char cert_path[4096], key_path[4096];
	struct sch_keywrap *kw;
	struct sch_catalog *cat;
	struct sch_accounts *acc;
	struct sch_audit *audit;
	struct sch_whitelist proxies;
	struct sch_storage *storage; /* storage_glue.h: keyring, chunk servers */
	struct sch_jobs *jobs;       /* job.h: the job runner */
	SSL_CTX *ssl;
	struct event_base *base;
	/* Held while a request is handled: the catalog connection, the key
	 * cache, metrics and the statement handlers are single-threaded. */
	pthread_mutex_t lock;
	atomic_uint connections;
	atomic_bool draining;
	char request_prefix[17];
	unsigned long long request_counter; /* under lock */
};

/* One request in flight. */
/* The body of a reply streamed in chunks (chunked transfer encoding) once
 * api->lock is released: fill appends body bytes to out until it holds
 * `want` (1: more may follow) or the body ends (0); -1 is an error after the
 * status line went out, so the reply is cut short (no last chunk). close
 * releases ctx, whether the body ended or the client went away. */
struct sch_api_stream_src {
	int (*fill)(void *ctx, struct cmn_buf *out, size_t want, struct cmn_err *err);
	void (*close)(void *ctx);
	void *ctx;
};

struct sch_api_req {
	struct sch_api *api;
	struct evhttp_request *req;
	enum evhttp_cmd_type method;
	char request_id[40];
	char peer[64];      /* the connection's address (last hop) */
	char source_ip[64]; /* peer, or the client a trusted proxy forwarded for */
	const char *user_agent;
	char path[1024]; /* without the query */
	const char *query;
	struct timespec start;
	/* The reply, sent after api->lock is released. */
	int status;
	const char *content_type;
	char *reply; /* owned */
	size_t reply_len;
	bool authenticated;
	struct sch_principal principal;
	const char *event_name;
	char project[128];
	char resource[512];
	const unsigned char *body;
	size_t body_len;
	bool replied;
	/* a streamed reply (sch_api_reply_stream): its body */
	struct sch_api_stream_src stream;
	/* POST .../jobs?wait=S: the job to wait for once api->lock is released */
	char wait_job[32];
	uint64_t wait_ms;
};

int sch_daemon_init(struct sch_api *api, struct cmn_err *err);
void sch_daemon_fini(struct sch_api *api);
int sch_server_run(struct sch_api *api, struct cmn_err *err);
void sch_server_request_seen(struct evhttp_request *req);

/* api.c */
void sch_api_handle(struct evhttp_request *req, void *arg);
void sch_api_reply_json(struct sch_api_req *r, int status, json_t *body);
void sch_api_replace_reply(struct sch_api_req *r, int status, json_t *body);
void sch_api_reply_error(struct sch_api_req *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A reply that is not JSON (a resource's bytes); takes data (malloc'd). */
void sch_api_reply_bytes(struct sch_api_req *r, int status, const char *ctype, char *data,
			 size_t len);
/* A 200 whose body src streams (sch_api_stream_src); takes src. */
void sch_api_reply_stream(struct sch_api_req *r, const char *ctype, struct sch_api_stream_src src);
/* Maps err->code to status and code string and replies. */
void sch_api_reply_err(struct sch_api_req *r, const struct cmn_err *err);
/* Body as a JSON object; replies 400 itself and returns NULL on failure. */
json_t *sch_api_body_json(struct sch_api_req *r);
/* The project whitelist check; replies 403 IpNotInWhitelist and returns
 * false when the source address is outside. */
bool sch_api_whitelist_ok(struct sch_api_req *r, const char *project);
void sch_api_stmt_audit(void *arg, const struct sch_audit_event *ev);
/* One access decided by the decision function (authz.h) and audited; on a
 * deny replies 403 naming the action, resource, rule and reason, on an
 * error replies it, and returns false. */
struct sch_authz_resource;
struct sch_authz_context;
bool sch_api_authorize(struct sch_api_req *r, const char *action,
		       const struct sch_authz_resource *res, const struct sch_authz_context *ctx);

/* auth.c: SigV4; replies 403 with the AWS error code and returns -1 on
 * failure, fills r->principal on success. */
int sch_api_authenticate(struct sch_api_req *r);

/* api_admin.c: segs are the path segments after "/v1/". */
void sch_api_route_accounts(struct sch_api_req *r, char **segs, size_t n);
void sch_api_route_admin(struct sch_api_req *r, char **segs, size_t n);
void sch_api_route_projects(struct sch_api_req *r, char **segs, size_t n);
/* api_jobs.c: /v1/projects/{p}/jobs[/{id}[/result]] (segs after the
 * project; the project exists and its whitelist passed) */
void sch_api_route_jobs(struct sch_api_req *r, const char *project, char **segs, size_t n);
/* after api->lock is released: waits for r->wait_job and replaces the reply */
void sch_api_finish_wait(struct sch_api_req *r);
/* ?wait=SECONDS of POST .../jobs in ms; -1 when malformed or > 300 s */
int sch_api_wait_param(struct sch_api_req *r, uint64_t *ms);
void sch_api_route_audit(struct sch_api_req *r);
/* api_storage.c: /v1/admin/storage[/scrub|/repair] and
 * /v1/admin/projects/{p}/key (segs after "/v1/admin/"). */
void sch_api_route_admin_storage(struct sch_api_req *r, char **segs, size_t n);

/* api_resources.c: /v1/projects/{p}/resources[/{name}] (segs after the
 * project), and the body cap of a request (cfg.max_body but for a
 * resource PUT); evhttp itself reads up to the largest of them. */
void sch_api_route_resources(struct sch_api_req *r, const char *project, char **segs, size_t n);
size_t sch_api_body_cap(const struct sch_api_req *r);

/* api_tabledata.c: PUT/GET /v1/projects/{p}/tables/{t}/data, and
 * whether r is an upload (its body may reach cfg.max_upload) */
void sch_api_route_table_data(struct sch_api_req *r, const char *project, const char *table);
bool sch_api_is_table_upload(const struct sch_api_req *r);

/* stmt_basic.c */
int sch_stmt_basic_register(struct sch_accounts *acc);

#endif
