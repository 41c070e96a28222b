/* scheduler/audit.c — the audit writer: chain, batching, checkpoints,
 * catalog and .jsonl storage, queries; see audit.h. Verification lives in
 * audit_verify.c. */
#include "scheduler/audit.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "scheduler/audit_internal.h"
#include "scheduler/dbutil.h"
#include "scheduler/sigv4.h"

/* The writer takes a batch when this many records wait, or 100 ms after
 * the first one; past QUEUE_LIMIT writers wait for it (backpressure). */
#define BATCH_RECORDS 256
#define BATCH_DELAY_NS 100000000L
#define QUEUE_LIMIT 65536
#define FILE_ROTATE_BYTES (64u << 20)

static const struct sch_migration migrations[] = {
	{ 1, "CREATE TABLE audit_log ("
	     "  seq INTEGER PRIMARY KEY, event_time INTEGER NOT NULL,"
	     "  event_name TEXT NOT NULL, principal TEXT, project TEXT, line TEXT NOT NULL);"
	     "CREATE INDEX audit_log_time ON audit_log(event_time);"
	     "CREATE INDEX audit_log_project ON audit_log(project, seq);" },
};

struct queued {
	uint64_t seq;
	int64_t time_ms;
	char *event_name, *principal, *project, *line;
};

/* Threads: any thread may write records (the chain is extended under mu);
 * one writer thread owns wdb, fd and file_bytes after start-up and makes
 * batches durable, so fsync never stalls the API's event loop. */
struct sch_audit {
	sqlite3 *db; /* the catalog connection of the opening thread */
	sqlite3 *wdb;
	char dir[4096];
	EVP_PKEY *key;
	unsigned checkpoint_every, since_checkpoint;
	pthread_mutex_t mu;
	pthread_cond_t wake, durable_cv;
	pthread_t thread;
	bool started, stopping, flush_wanted, failed;
	char boot_id[20]; /* random per start: eventId prefix */
	unsigned long long event_counter;
	uint64_t seq;       /* last assigned */
	uint64_t durable;   /* last stored in catalog and file */
	char prev_hash[65]; /* hash of the last assigned record */
	struct queued *pending;
	size_t npending, cap;
	int fd; /* current .jsonl */
	uint64_t file_bytes;
};

static int start_writer(struct sch_audit *au, struct cmn_err *err);

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void format_time(int64_t ms, char out[32])
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	char base[24];
	gmtime_r(&s, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 32, "%s.%03dZ", base, (int)(ms % 1000));
}

static int load_or_create_key(struct sch_audit *au, const char *data_dir, struct cmn_err *err)
{
	char path[4200], pub[4200];
	cleanup_fclose FILE *f = NULL;

	snprintf(path, sizeof(path), "%s/keys/audit.key", data_dir);
	snprintf(pub, sizeof(pub), "%s/audit.pub", au->dir);
	f = fopen(path, "re");
	if (f) {
		au->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		if (!au->key)
			return cmn_err_set(err, CMN_EIO, 0, "read audit key %s", path);
	} else {
		cleanup_close int fd = -1;
		au->key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		if (!au->key)
			return cmn_err_set(err, CMN_EINTERNAL, 0, "Ed25519 keygen failed");
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0 || !(f = fdopen(fd, "we")))
			return cmn_err_sys(err, "create %s", path);
		steal_fd(&fd);
		if (!PEM_write_PrivateKey(f, au->key, NULL, NULL, 0, NULL, NULL) || fflush(f) ||
		    fsync(fileno(f)) < 0)
			return cmn_err_set(err, CMN_EIO, 0, "write %s", path);
	}
	if (access(pub, F_OK) != 0) {
		cleanup_fclose FILE *pf = fopen(pub, "wxe");
		if (!pf || !PEM_write_PUBKEY(pf, au->key) || fflush(pf))
			return cmn_err_sys(err, "write %s", pub);
	}
	return 0;
}

/* Re-creates .jsonl lines the catalog has but the file lost (a crash between
 * the catalog commit and the file write). Leaves au->fd open for append. */
static int open_file(struct sch_audit *au, struct cmn_err *err)
{
	uint64_t file_last = 0, first_seq = 0;
	char path[4200];
	struct stat st;
	sqlite3_stmt *q;
	int rc;

	if (sch_audit_files_last(au->dir, path, sizeof(path), &first_seq, &file_last, err) < 0)
		return -1;
	if (!path[0])
		snprintf(path, sizeof(path), "%s/audit-%012llu.jsonl", au->dir,
			 (unsigned long long)(file_last + 1));
	au->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (au->fd < 0)
		return cmn_err_sys(err, "open %s", path);
	if (fstat(au->fd, &st) == 0)
		au->file_bytes = (uint64_t)st.st_size;
	q = sch_db_prepare(au->db, err, "SELECT line FROM audit_log WHERE seq > ?1 ORDER BY seq",
			   "i", (int64_t)file_last);
	if (!q)
		return -1;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *line = (const char *)sqlite3_column_text(q, 0);
		size_t len = (size_t)sqlite3_column_bytes(q, 0);
		if (write(au->fd, line, len) != (ssize_t)len || write(au->fd, "\n", 1) != 1) {
			sqlite3_finalize(q);
			return cmn_err_sys(err, "write %s", path);
		}
		au->file_bytes += len + 1;
	}
	sqlite3_finalize(q);
	if (fdatasync(au->fd) < 0)
		return cmn_err_sys(err, "fdatasync %s", path);
	return rc == SQLITE_DONE ? 0 : cmn_err_set(err, CMN_EIO, 0, "%s", sqlite3_errmsg(au->db));
}

static int load_tail(struct sch_audit *au, struct cmn_err *err)
{
	sqlite3_stmt *q = sch_db_prepare(
	    au->db, err, "SELECT seq, line FROM audit_log ORDER BY seq DESC LIMIT 1", NULL);
	int rc;

	if (!q)
		return -1;
	memset(au->prev_hash, '0', 64);
	au->prev_hash[64] = '\0';
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		au->seq = (uint64_t)sqlite3_column_int64(q, 0);
		sch_sha256_hex(sqlite3_column_text(q, 1), (size_t)sqlite3_column_bytes(q, 1),
			       au->prev_hash);
	}
	sqlite3_finalize(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE
		   ? 0
		   : cmn_err_set(err, CMN_EIO, 0, "%s", sqlite3_errmsg(au->db));
}

int sch_audit_open(struct sch_audit **out, struct sch_catalog *cat, const char *data_dir,
		   unsigned checkpoint_every, struct cmn_err *err)
{
	struct sch_audit *au = calloc(1, sizeof(*au));

	*out = NULL;
	if (!au)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	au->fd = -1;
	pthread_mutex_init(&au->mu, NULL);
	pthread_cond_init(&au->wake, NULL);
	pthread_cond_init(&au->durable_cv, NULL);
	au->db = sch_catalog_db(cat);
	au->checkpoint_every = checkpoint_every ? checkpoint_every : 1000;
	{
		uint8_t id[8];
		RAND_bytes(id, sizeof(id));
		for (size_t i = 0; i < sizeof(id); i++)
			snprintf(au->boot_id + 2 * i, 3, "%02x", id[i]);
	}
	snprintf(au->dir, sizeof(au->dir), "%s/audit", data_dir);
	if ((mkdir(au->dir, 0750) < 0 && errno != EEXIST &&
	     cmn_err_sys(err, "mkdir %s", au->dir)) ||
	    sch_catalog_migrate(cat, "audit", migrations, CMN_ARRAY_SIZE(migrations), err) < 0 ||
	    load_or_create_key(au, data_dir, err) < 0 || load_tail(au, err) < 0 ||
	    open_file(au, err) < 0 || start_writer(au, err) < 0) {
		sch_audit_close(au);
		return cmn_err_wrap(err, "audit log");
	}
	*out = au;
	return 0;
}

static struct sch_audit *_Atomic default_audit;

void sch_audit_set_default(struct sch_audit *au)
{
	atomic_store(&default_audit, au);
}

struct sch_audit *sch_audit_default(void)
{
	return atomic_load(&default_audit);
}

uint64_t sch_audit_last_seq(const struct sch_audit *au)
{
	return au->seq;
}

/* Length of the valid UTF-8 sequence at p (1..4), 0 if invalid. */
static size_t utf8_seq(const unsigned char *p)
{
	size_t n = p[0] >= 0xF0 && p[0] <= 0xF4 ? 4 : p[0] >= 0xE0 ? 3 : p[0] >= 0xC2 ? 2 : 0;
	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xC0) != 0x80)
			return 0;
	if ((n == 3 && p[0] == 0xE0 && p[1] < 0xA0) || (n == 3 && p[0] == 0xED && p[1] >= 0xA0) ||
	    (n == 4 && p[0] == 0xF0 && p[1] < 0x90) || (n == 4 && p[0] == 0xF4 && p[1] >= 0x90))
		return 0;
	return n;
}

/* Appends "key":"value" (or null) and a comma. Records are written by hand,
 * not through jansson: one record per request is the API's hottest path.
 * A byte that is not part of valid UTF-8 (a hostile User-Agent) is kept as
 * \u00XX so the evidence survives and the line stays valid JSON. */
static int put(struct cmn_buf *b, const char *key, const char *v)
{
	static const char hex[] = "0123456789abcdef";
	int rc = cmn_buf_printf(b, NULL, "\"%s\":", key);

	if (rc < 0)
		return -1;
	if (!v)
		return cmn_buf_append(b, "null,", 5, NULL);
	if (cmn_buf_append(b, "\"", 1, NULL) < 0)
		return -1;
	for (const unsigned char *p = (const unsigned char *)v; *p;) {
		size_t run = 0, n;
		while (p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' && p[run] != '\\')
			run++;
		if (run) {
			if (cmn_buf_append(b, p, run, NULL) < 0)
				return -1;
			p += run;
			continue;
		}
		if (!*p)
			break;
		if (*p == '"' || *p == '\\') {
			char esc[2] = { '\\', (char)*p };
			rc = cmn_buf_append(b, esc, 2, NULL);
			p++;
		} else if (*p >= 0x80 && (n = utf8_seq(p)) > 0) {
			rc = cmn_buf_append(b, p, n, NULL);
			p += n;
		} else {
			char esc[6] = { '\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15] };
			rc = cmn_buf_append(b, esc, 6, NULL);
			p++;
		}
		if (rc < 0)
			return -1;
	}
	return cmn_buf_append(b, "\",", 2, NULL);
}

/* Called with mu held: assigns the next seq, chains and queues. body holds
 * every field after "seq" and before "prevHash", each followed by ','. */
static int enqueue_locked(struct sch_audit *au, const struct cmn_buf *body, int64_t ms,
			  const char *event_name, const char *principal, const char *project,
			  struct cmn_err *err)
{
	struct cmn_buf line;
	struct queued *q;

	while (au->npending >= QUEUE_LIMIT && !au->failed)
		pthread_cond_wait(&au->durable_cv, &au->mu);
	if (au->npending == au->cap) {
		size_t cap = au->cap ? au->cap * 2 : BATCH_RECORDS;
		struct queued *n = realloc(au->pending, cap * sizeof(*n));
		if (!n)
			return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		au->pending = n;
		au->cap = cap;
	}
	cmn_buf_init(&line, 0);
	if (cmn_buf_reserve(&line, body->len + 128, err) < 0 ||
	    cmn_buf_printf(&line, err, "{\"seq\":%llu,", (unsigned long long)(au->seq + 1)) < 0 ||
	    cmn_buf_append(&line, body->data, body->len, err) < 0 ||
	    cmn_buf_printf(&line, err, "\"prevHash\":\"%s\"}", au->prev_hash) < 0) {
		cmn_buf_free(&line);
		return -1;
	}
	q = &au->pending[au->npending++];
	q->seq = ++au->seq;
	q->time_ms = ms;
	q->event_name = strdup(event_name);
	q->principal = principal ? strdup(principal) : NULL;
	q->project = project ? strdup(project) : NULL;
	sch_sha256_hex(line.data, line.len, au->prev_hash);
	q->line = cmn_buf_steal(&line, NULL);
	if (au->npending == 1 || au->npending >= BATCH_RECORDS)
		pthread_cond_signal(&au->wake);
	return 0;
}

static int checkpoint_locked(struct sch_audit *au, struct cmn_err *err);

int sch_audit_write(struct sch_audit *au, const struct sch_audit_record *r, struct cmn_err *err)
{
	cleanup_buf struct cmn_buf body = { 0 };
	char event_id[48], when[32], status[32] = "";
	int64_t ms = now_ms();
	int rc;

	cmn_buf_init(&body, 1 << 20);
	/* Unique without a random draw per record: the writer's random boot id
	 * and a counter. */
	pthread_mutex_lock(&au->mu);
	snprintf(event_id, sizeof(event_id), "%s-%llu", au->boot_id, ++au->event_counter);
	pthread_mutex_unlock(&au->mu);
	format_time(ms, when);
	if (r->http_status)
		snprintf(status, sizeof(status), "\"httpStatus\":%d,", r->http_status);
	if (put(&body, "eventId", event_id) < 0 || put(&body, "eventName", r->event_name) < 0 ||
	    put(&body, "eventTime", when) < 0 || put(&body, "requestId", r->request_id) < 0 ||
	    put(&body, "sourceIpAddress", r->source_ip) < 0 ||
	    put(&body, "userAgent", r->user_agent) < 0 ||
	    put(&body, "principal", r->principal) < 0 ||
	    put(&body, "accessKeyId", r->access_key_id) < 0 ||
	    put(&body, "project", r->project) < 0 || put(&body, "resource", r->resource) < 0 ||
	    put(&body, "decision", r->decision) < 0 || put(&body, "reason", r->reason) < 0 ||
	    put(&body, "errorCode", r->error_code) < 0 ||
	    cmn_buf_append_str(&body, status, err) < 0)
		return cmn_err_set(err, CMN_ENOMEM, 0, "audit: record too large");
	pthread_mutex_lock(&au->mu);
	rc = enqueue_locked(au, &body, ms, r->event_name, r->principal, r->project, err);
	if (rc == 0 && ++au->since_checkpoint >= au->checkpoint_every)
		rc = checkpoint_locked(au, err);
	pthread_mutex_unlock(&au->mu);
	return rc;
}

int sch_audit_sign(EVP_PKEY *key, uint64_t seq, const char *prev_hash, char *b64, size_t b64_len)
{
	char msg[160];
	uint8_t sig[64];
	size_t sig_len = sizeof(sig);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int n = snprintf(msg, sizeof(msg), SCH_AUDIT_SIGN_PREFIX "%llu:%s", (unsigned long long)seq,
			 prev_hash);
	int ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) &&
		 EVP_DigestSign(ctx, sig, &sig_len, (const uint8_t *)msg, (size_t)n);

	EVP_MD_CTX_free(ctx);
	if (!ok || b64_len < 4 * ((sig_len + 2) / 3) + 1)
		return -1;
	EVP_EncodeBlock((unsigned char *)b64, sig, (int)sig_len);
	return 0;
}

static int checkpoint_locked(struct sch_audit *au, struct cmn_err *err)
{
	cleanup_buf struct cmn_buf body = { 0 };
	char when[32], sig[128];
	int64_t ms = now_ms();

	cmn_buf_init(&body, 0);
	if (au->since_checkpoint == 0)
		return 0;
	if (sch_audit_sign(au->key, au->seq + 1, au->prev_hash, sig, sizeof(sig)) < 0)
		return cmn_err_set(err, CMN_EINTERNAL, 0, "audit: Ed25519 signing failed");
	format_time(ms, when);
	if (put(&body, "eventName", "AuditCheckpoint") < 0 || put(&body, "eventTime", when) < 0 ||
	    put(&body, "signature", sig) < 0)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	au->since_checkpoint = 0;
	return enqueue_locked(au, &body, ms, "AuditCheckpoint", NULL, NULL, err);
}

int sch_audit_checkpoint(struct sch_audit *au, struct cmn_err *err)
{
	int rc;
	pthread_mutex_lock(&au->mu);
	rc = checkpoint_locked(au, err);
	pthread_mutex_unlock(&au->mu);
	return rc;
}

static int rotate_if_needed(struct sch_audit *au, uint64_t next_seq, struct cmn_err *err)
{
	char path[4200];

	if (au->file_bytes < FILE_ROTATE_BYTES)
		return 0;
	snprintf(path, sizeof(path), "%s/audit-%012llu.jsonl", au->dir,
		 (unsigned long long)next_seq);
	close(au->fd);
	au->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	au->file_bytes = 0;
	return au->fd < 0 ? cmn_err_sys(err, "open %s", path) : 0;
}

static void free_batch(struct queued *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(b[i].event_name);
		free(b[i].principal);
		free(b[i].project);
		free(b[i].line);
	}
	free(b);
}

/* Writer thread: catalog first (one transaction, synchronous=FULL), then
 * the file: the catalog is the record of truth and open_file() repairs the
 * file at the next start. */
static int store_batch(struct sch_audit *au, struct queued *b, size_t n, struct cmn_err *err)
{
	cleanup_buf struct cmn_buf lines = { 0 };
	sqlite3_stmt *st = NULL;
	int rc = -1;

	cmn_buf_init(&lines, 0);
	if (sch_db_begin(au->wdb, err) < 0)
		return -1;
	st =
	    sch_db_prepare(au->wdb, err,
			   "INSERT INTO audit_log(seq, event_time, event_name, principal, project, "
			   "line) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
			   NULL);
	if (!st)
		goto out;
	for (size_t i = 0; i < n; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, (int64_t)b[i].seq);
		sqlite3_bind_int64(st, 2, b[i].time_ms);
		sqlite3_bind_text(st, 3, b[i].event_name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, b[i].principal, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, b[i].project, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, b[i].line, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE) {
			cmn_err_set(err, CMN_EIO, 0, "insert: %s", sqlite3_errmsg(au->wdb));
			goto out;
		}
		if (cmn_buf_printf(&lines, err, "%s\n", b[i].line) < 0)
			goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (sch_db_commit(au->wdb, err) < 0)
		goto out;
	if (rotate_if_needed(au, b[0].seq, err) < 0)
		return -1;
	if (write(au->fd, lines.data, lines.len) != (ssize_t)lines.len || fdatasync(au->fd) < 0)
		return cmn_err_sys(err, "write audit file");
	au->file_bytes += lines.len;
	return 0;
out:
	sqlite3_finalize(st);
	sch_db_rollback(au->wdb);
	return rc;
}

static void *writer_main(void *arg)
{
	struct sch_audit *au = arg;

	pthread_mutex_lock(&au->mu);
	for (;;) {
		struct cmn_err err = CMN_ERR_INIT;
		struct queued *batch;
		size_t n;
		int rc;

		while (au->npending == 0 && !au->stopping)
			pthread_cond_wait(&au->wake, &au->mu);
		if (au->npending == 0 && au->stopping)
			break;
		if (!au->flush_wanted && !au->stopping && au->npending < BATCH_RECORDS) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += BATCH_DELAY_NS;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			while (!au->flush_wanted && !au->stopping && au->npending < BATCH_RECORDS &&
			       pthread_cond_timedwait(&au->wake, &au->mu, &until) == 0)
				;
		}
		batch = au->pending;
		n = au->npending;
		au->pending = NULL;
		au->npending = au->cap = 0;
		au->flush_wanted = false;
		pthread_mutex_unlock(&au->mu);
		rc = store_batch(au, batch, n, &err);
		if (rc < 0)
			cmn_error("audit: %s", err.msg);
		pthread_mutex_lock(&au->mu);
		if (rc < 0)
			au->failed = true;
		else
			au->durable = batch[n - 1].seq;
		free_batch(batch, n);
		pthread_cond_broadcast(&au->durable_cv);
	}
	pthread_mutex_unlock(&au->mu);
	return NULL;
}

static int start_writer(struct sch_audit *au, struct cmn_err *err)
{
	const char *path = sqlite3_db_filename(au->db, "main");

	au->durable = au->seq;
	if (sqlite3_open_v2(path, &au->wdb, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL) !=
	    SQLITE_OK)
		return cmn_err_set(err, CMN_EIO, 0, "open %s for the audit writer", path);
	sqlite3_busy_timeout(au->wdb, 10000);
	if (sch_db_run(au->wdb, err, "PRAGMA synchronous=FULL", NULL) < 0)
		return -1;
	if (pthread_create(&au->thread, NULL, writer_main, au) != 0)
		return cmn_err_set(err, CMN_EINTERNAL, 0, "pthread_create audit writer");
	au->started = true;
	return 0;
}

int sch_audit_flush(struct sch_audit *au, struct cmn_err *err)
{
	int rc = 0;

	pthread_mutex_lock(&au->mu);
	if (au->durable < au->seq && au->started) {
		uint64_t target = au->seq;
		au->flush_wanted = true;
		pthread_cond_signal(&au->wake);
		while (au->durable < target && !au->failed)
			pthread_cond_wait(&au->durable_cv, &au->mu);
	}
	if (au->failed)
		rc = cmn_err_set(err, CMN_EIO, 0, "the audit log cannot be written (see the log)");
	pthread_mutex_unlock(&au->mu);
	return rc;
}

void sch_audit_close(struct sch_audit *au)
{
	if (!au)
		return;
	if (au->started) {
		(void)sch_audit_checkpoint(au, NULL);
		(void)sch_audit_flush(au, NULL);
		pthread_mutex_lock(&au->mu);
		au->stopping = true;
		pthread_cond_signal(&au->wake);
		pthread_mutex_unlock(&au->mu);
		pthread_join(au->thread, NULL);
	}
	free_batch(au->pending, au->npending);
	sqlite3_close(au->wdb);
	if (au->fd >= 0)
		close(au->fd);
	EVP_PKEY_free(au->key);
	pthread_cond_destroy(&au->wake);
	pthread_cond_destroy(&au->durable_cv);
	pthread_mutex_destroy(&au->mu);
	free(au);
}

json_t *sch_audit_query(struct sch_audit *au, const struct sch_audit_filter *f, struct cmn_err *err)
{
	json_t *rows, *out;
	size_t i;
	json_t *row;

	if (sch_audit_flush(au, err) < 0)
		return NULL;
	rows = sch_db_query_json(
	    au->db, err,
	    "SELECT line FROM audit_log WHERE (?1 IS NULL OR project = ?1) "
	    "AND (?2 IS NULL OR principal = ?2) AND (?3 IS NULL OR event_name = ?3) "
	    "AND (?4 = 0 OR event_time >= ?4 * 1000) AND (?5 = 0 OR event_time < ?5 * 1000) "
	    "AND (?6 IS NULL OR project IN (SELECT name FROM projects WHERE owner = ?6)) "
	    "ORDER BY seq DESC LIMIT ?7",
	    "sssiisi", f->project, f->principal, f->event, f->since, f->until, f->projects_owner,
	    (int64_t)(f->limit ? f->limit : 1000));
	if (!rows)
		return NULL;
	out = json_array();
	json_array_foreach(rows, i, row)
	{
		json_t *rec = json_loads(json_string_value(json_object_get(row, "line")), 0, NULL);
		if (rec)
			json_array_insert_new(out, 0, rec);
	}
	json_decref(rows);
	return out;
}
