/* bench/api/loadgen.c — a small HTTPS keep-alive load generator for
 * bench/api/run: T threads, each with one TLS connection, replaying one
 * request (pre-signed once with SigV4 for /v1/whoami, unsigned for
 * /healthz) for S seconds; prints "<requests per second> <errors>".
 * Replaying a signed GET within the 15-minute window is allowed by the API.
 *
 * usage: loadgen PORT PATH THREADS SECONDS [ACCESS_KEY SECRET REGION] */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "common/buf.h"
#include "scheduler/sigv4.h"

static struct cmn_buf request;
static int port;
static atomic_ulong done, failed;
static atomic_int stop;

static SSL *connect_tls(SSL_CTX *ctx)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	SSL *ssl;

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1) {
		SSL_free(ssl);
		close(fd);
		return NULL;
	}
	return ssl;
}

/* Reads one response; returns its status or -1. */
static long read_response(SSL *ssl, char *buf, size_t cap)
{
	size_t have = 0;
	for (;;) {
		char *end;
		int n = SSL_read(ssl, buf + have, (int)(cap - have - 1));
		if (n <= 0)
			return -1;
		have += (size_t)n;
		buf[have] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end) {
			char *cl = strcasestr(buf, "Content-Length:");
			size_t body = cl ? strtoul(cl + 15, NULL, 10) : 0;
			if (have >= (size_t)(end + 4 - buf) + body)
				return strtol(buf + 9, NULL, 10);
		}
		if (have + 1 >= cap)
			return -1;
	}
}

static void *worker(void *arg)
{
	SSL_CTX *ctx = arg;
	SSL *ssl = NULL;
	char buf[16384];

	while (!atomic_load(&stop)) {
		if (!ssl && !(ssl = connect_tls(ctx))) {
			atomic_fetch_add(&failed, 1);
			usleep(1000);
			continue;
		}
		if (SSL_write(ssl, request.data, (int)request.len) != (int)request.len ||
		    read_response(ssl, buf, sizeof(buf)) != 200) {
			atomic_fetch_add(&failed, 1);
			close(SSL_get_fd(ssl));
			SSL_free(ssl);
			ssl = NULL;
			continue;
		}
		atomic_fetch_add(&done, 1);
	}
	if (ssl) {
		close(SSL_get_fd(ssl));
		SSL_free(ssl);
	}
	return NULL;
}

static int build(const char *path, int argc, char **argv)
{
	char host[64], amz_date[17], empty[65];
	struct cmn_buf authz;

	snprintf(host, sizeof(host), "127.0.0.1:%d", port);
	cmn_buf_init(&request, 0);
	cmn_buf_init(&authz, 0);
	if (argc < 8)
		return cmn_buf_printf(&request, NULL, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path,
				      host);
	sch_sigv4_format_amz_date(time(NULL), amz_date);
	sch_sha256_hex("", 0, empty);
	{
		struct sch_http_header h[2] = { { "host", host }, { "x-amz-date", amz_date } };
		struct sch_sigv4_request req = { "GET", path, NULL, h, 2, empty };
		if (sch_sigv4_sign(&req, argv[5], argv[6], argv[7], "cordon", amz_date, &authz,
				   NULL) < 0)
			return -1;
	}
	return cmn_buf_printf(
	    &request, NULL,
	    "GET %s HTTP/1.1\r\nHost: %s\r\nX-Amz-Date: %s\r\nAuthorization: %s\r\n"
	    "User-Agent: cordon-bench\r\n\r\n",
	    path, host, amz_date, authz.data);
}

int main(int argc, char **argv)
{
	pthread_t th[64];
	int threads;
	double secs;
	struct timespec t0, t1;
	SSL_CTX *ctx;

	if (argc != 5 && argc != 8) {
		fprintf(stderr, "usage: loadgen PORT PATH THREADS SECONDS [AK SK REGION]\n");
		return 2;
	}
	port = (int)strtol(argv[1], NULL, 10);
	threads = (int)strtol(argv[3], NULL, 10);
	secs = strtod(argv[4], NULL);
	if (threads < 1 || threads > 64 || build(argv[2], argc, argv) < 0)
		return 2;
	ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL); /* bench only: loopback, own server */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, worker, ctx);
	usleep((useconds_t)(secs * 1e6));
	atomic_store(&stop, 1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	printf("%.0f %lu\n",
	       (double)atomic_load(&done) /
		   ((double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9),
	       atomic_load(&failed));
	SSL_CTX_free(ctx);
	return 0;
}
