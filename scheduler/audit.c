/* scheduler/audit.c — the audit writer: chain, batching, checkpoints,
 * catalog and .jsonl storage, queries; see audit.h. Verification lives in
 * audit_verify.c. */
#include "scheduler/audit.h"

#include <dirent.h>
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
#include "scheduler/audit_internal.h"
#include "scheduler/dbutil.h"
#include "scheduler/sigv4.h"

#define QUEUE_MAX 256
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

struct sch_audit {
	sqlite3 *db;
	char dir[4096];
	EVP_PKEY *key;
	unsigned checkpoint_every, since_checkpoint;
	uint64_t seq;       /* last assigned */
	char prev_hash[65]; /* hash of the last assigned record */
	struct queued queue[QUEUE_MAX];
	size_t queued;
	int fd; /* current .jsonl */
	uint64_t file_bytes;
};

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
	au->db = sch_catalog_db(cat);
	au->checkpoint_every = checkpoint_every ? checkpoint_every : 1000;
	snprintf(au->dir, sizeof(au->dir), "%s/audit", data_dir);
	if ((mkdir(au->dir, 0750) < 0 && errno != EEXIST &&
	     cmn_err_sys(err, "mkdir %s", au->dir)) ||
	    sch_catalog_migrate(cat, "audit", migrations, CMN_ARRAY_SIZE(migrations), err) < 0 ||
	    load_or_create_key(au, data_dir, err) < 0 || load_tail(au, err) < 0 ||
	    open_file(au, err) < 0) {
		sch_audit_close(au);
		return cmn_err_wrap(err, "audit log");
	}
	*out = au;
	return 0;
}

static void free_queued(struct queued *q)
{
	free(q->event_name);
	free(q->principal);
	free(q->project);
	free(q->line);
	memset(q, 0, sizeof(*q));
}

void sch_audit_close(struct sch_audit *au)
{
	if (!au)
		return;
	if (au->fd >= 0 && au->key) {
		(void)sch_audit_checkpoint(au, NULL);
		(void)sch_audit_flush(au, NULL);
	}
	for (size_t i = 0; i < au->queued; i++)
		free_queued(&au->queue[i]);
	if (au->fd >= 0)
		close(au->fd);
	EVP_PKEY_free(au->key);
	free(au);
}

uint64_t sch_audit_last_seq(const struct sch_audit *au)
{
	return au->seq;
}

static int set_str(json_t *o, const char *k, const char *v)
{
	/* A value that is not valid UTF-8 (a hostile User-Agent) is recorded
	 * hex-escaped instead of being dropped: the record must exist. */
	json_t *j = v ? json_string(v) : json_null();
	if (!j && v) {
		cleanup_buf struct cmn_buf b;
		cmn_buf_init(&b, 4096);
		for (const unsigned char *p = (const unsigned char *)v; *p; p++)
			if (cmn_buf_printf(&b, NULL, *p < 0x80 ? "%c" : "\\x%02x", *p) < 0)
				break;
		j = json_string(b.data ? b.data : "");
	}
	return j ? json_object_set_new(o, k, j) : -1;
}

static int enqueue(struct sch_audit *au, json_t *rec, int64_t ms, const char *event_name,
		   const char *principal, const char *project, struct cmn_err *err)
{
	struct queued *q;
	char *line;

	if (au->queued == QUEUE_MAX && sch_audit_flush(au, err) < 0)
		return -1;
	json_object_set_new(rec, "prevHash", json_string(au->prev_hash));
	line = json_dumps(rec, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (!line)
		return cmn_err_set(err, CMN_ENOMEM, 0, "audit: cannot serialize record");
	q = &au->queue[au->queued++];
	q->seq = au->seq;
	q->time_ms = ms;
	q->line = line;
	q->event_name = strdup(event_name);
	q->principal = principal ? strdup(principal) : NULL;
	q->project = project ? strdup(project) : NULL;
	sch_sha256_hex(line, strlen(line), au->prev_hash);
	return 0;
}

int sch_audit_write(struct sch_audit *au, const struct sch_audit_record *r, struct cmn_err *err)
{
	json_t *rec = json_object();
	uint8_t id[16];
	char event_id[40], when[32];
	int64_t ms = now_ms();
	int rc;

	if (!rec)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	RAND_bytes(id, sizeof(id));
	snprintf(event_id, sizeof(event_id),
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", id[0],
		 id[1], id[2], id[3], id[4], id[5], id[6], id[7], id[8], id[9], id[10], id[11],
		 id[12], id[13], id[14], id[15]);
	format_time(ms, when);
	au->seq++;
	json_object_set_new(rec, "seq", json_integer((json_int_t)au->seq));
	set_str(rec, "eventId", event_id);
	set_str(rec, "eventName", r->event_name);
	set_str(rec, "eventTime", when);
	set_str(rec, "requestId", r->request_id);
	set_str(rec, "sourceIpAddress", r->source_ip);
	set_str(rec, "userAgent", r->user_agent);
	set_str(rec, "principal", r->principal);
	set_str(rec, "accessKeyId", r->access_key_id);
	set_str(rec, "project", r->project);
	set_str(rec, "resource", r->resource);
	set_str(rec, "decision", r->decision);
	set_str(rec, "reason", r->reason);
	set_str(rec, "errorCode", r->error_code);
	if (r->http_status)
		json_object_set_new(rec, "httpStatus", json_integer(r->http_status));
	rc = enqueue(au, rec, ms, r->event_name, r->principal, r->project, err);
	json_decref(rec);
	if (rc < 0)
		return -1;
	if (++au->since_checkpoint >= au->checkpoint_every)
		return sch_audit_checkpoint(au, err);
	return 0;
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

int sch_audit_checkpoint(struct sch_audit *au, struct cmn_err *err)
{
	json_t *rec;
	char when[32], sig[128];
	int64_t ms = now_ms();
	int rc;

	if (au->since_checkpoint == 0)
		return 0;
	au->seq++;
	if (sch_audit_sign(au->key, au->seq, au->prev_hash, sig, sizeof(sig)) < 0)
		return cmn_err_set(err, CMN_EINTERNAL, 0, "audit: Ed25519 signing failed");
	format_time(ms, when);
	rec = json_pack("{s:I, s:s, s:s, s:s}", "seq", (json_int_t)au->seq, "eventName",
			"AuditCheckpoint", "eventTime", when, "signature", sig);
	if (!rec)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	au->since_checkpoint = 0;
	rc = enqueue(au, rec, ms, "AuditCheckpoint", NULL, NULL, err);
	json_decref(rec);
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

/* Catalog first (one transaction, synchronous=FULL), then the file: the
 * catalog is the record of truth and open_file() repairs the file. */
int sch_audit_flush(struct sch_audit *au, struct cmn_err *err)
{
	struct cmn_err local = CMN_ERR_INIT;
	cleanup_buf struct cmn_buf lines;
	size_t n = au->queued;

	cmn_buf_init(&lines, 0);
	if (!err)
		err = &local;
	if (n == 0)
		return 0;
	if (sch_db_begin(au->db, err) < 0)
		return cmn_err_wrap(err, "audit flush");
	for (size_t i = 0; i < n; i++) {
		struct queued *q = &au->queue[i];
		if (sch_db_run(au->db, err,
			       "INSERT INTO audit_log(seq, event_time, event_name, principal, "
			       "project, line) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
			       "iissss", (int64_t)q->seq, q->time_ms, q->event_name, q->principal,
			       q->project, q->line) < 0 ||
		    cmn_buf_printf(&lines, err, "%s\n", q->line) < 0) {
			sch_db_rollback(au->db);
			return cmn_err_wrap(err, "audit flush");
		}
	}
	if (sch_db_commit(au->db, err) < 0) {
		sch_db_rollback(au->db);
		return cmn_err_wrap(err, "audit flush");
	}
	if (rotate_if_needed(au, au->queue[0].seq, err) < 0)
		return -1;
	if (write(au->fd, lines.data, lines.len) != (ssize_t)lines.len || fdatasync(au->fd) < 0)
		return cmn_err_sys(err, "write audit file");
	au->file_bytes += lines.len;
	for (size_t i = 0; i < n; i++)
		free_queued(&au->queue[i]);
	au->queued = 0;
	return 0;
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
