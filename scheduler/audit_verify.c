/* scheduler/audit_verify.c — offline verification of the audit chain and
 * its signed checkpoints (`cordon audit verify DIR/audit`), and the file
 * helpers the writer shares. See audit.h for the record format. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common/cleanup.h"
#include "scheduler/audit.h"
#include "scheduler/audit_internal.h"
#include "scheduler/sigv4.h"

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int sch_audit_list_files(const char *dir, char ***names, size_t *count, struct cmn_err *err)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **v = NULL;
	size_t n = 0, cap = 0;

	*names = NULL;
	*count = 0;
	if (!d)
		return cmn_err_sys(err, "opendir %s", dir);
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (strncmp(e->d_name, "audit-", 6) != 0 || len < 7 ||
		    strcmp(e->d_name + len - 6, ".jsonl") != 0)
			continue;
		if (n == cap) {
			char **nv = realloc(v, (cap = cap ? cap * 2 : 8) * sizeof(*v));
			if (!nv)
				break;
			v = nv;
		}
		v[n] = strdup(e->d_name);
		if (v[n])
			n++;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), name_cmp);
	*names = v;
	*count = n;
	return 0;
}

static void free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static uint64_t line_seq(const char *line)
{
	json_t *j = json_loads(line, 0, NULL);
	json_int_t s = j ? json_integer_value(json_object_get(j, "seq")) : 0;
	json_decref(j);
	return s > 0 ? (uint64_t)s : 0;
}

int sch_audit_files_last(const char *dir, char *path, size_t path_len, uint64_t *first_seq,
			 uint64_t *last_seq, struct cmn_err *err)
{
	char **names;
	size_t n;
	cleanup_fclose FILE *f = NULL;
	cleanup_free char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	off_t good = 0;

	path[0] = '\0';
	*first_seq = *last_seq = 0;
	if (sch_audit_list_files(dir, &names, &n, err) < 0)
		return -1;
	if (n == 0) {
		free(names);
		return 0;
	}
	snprintf(path, path_len, "%s/%s", dir, names[n - 1]);
	*first_seq = strtoull(names[n - 1] + 6, NULL, 10);
	free_names(names, n);
	f = fopen(path, "re");
	if (!f)
		return cmn_err_sys(err, "open %s", path);
	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] != '\n')
			break; /* a torn write at a crash: dropped, the catalog has it */
		line[len - 1] = '\0';
		*last_seq = line_seq(line);
		good += len;
	}
	if (truncate(path, good) < 0)
		return cmn_err_sys(err, "truncate %s", path);
	return 0;
}

struct rec {
	uint64_t seq;
	char *line;
	char file[64];
	size_t lineno;
};

static int load_all(const char *dir, struct rec **out, size_t *count, struct cmn_err *err)
{
	char **names;
	size_t n, total = 0, cap = 0;
	struct rec *v = NULL;

	if (sch_audit_list_files(dir, &names, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char path[4200];
		FILE *f;
		char *line = NULL;
		size_t lcap = 0, lineno = 0;
		ssize_t len;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		f = fopen(path, "re");
		if (!f)
			continue;
		while ((len = getline(&line, &lcap, f)) > 0) {
			lineno++;
			if (line[len - 1] == '\n')
				line[len - 1] = '\0';
			if (total == cap) {
				struct rec *nv =
				    realloc(v, (cap = cap ? cap * 2 : 256) * sizeof(*v));
				if (!nv)
					break;
				v = nv;
			}
			v[total].line = strdup(line);
			v[total].seq = line_seq(line);
			v[total].lineno = lineno;
			snprintf(v[total].file, sizeof(v[total].file), "%s", names[i]);
			total++;
		}
		free(line);
		fclose(f);
	}
	free_names(names, n);
	*out = v;
	*count = total;
	return 0;
}

static bool seq_later(const struct rec *v, size_t from, size_t n, uint64_t seq)
{
	for (size_t i = from; i < n; i++)
		if (v[i].seq == seq)
			return true;
	return false;
}

static int check_signature(EVP_PKEY *pub, json_t *rec, uint64_t seq, const char *prev)
{
	const char *sig64 = json_string_value(json_object_get(rec, "signature"));
	uint8_t sig[96];
	char msg[160];
	int n, len, ok;
	EVP_MD_CTX *ctx;

	if (!sig64 || strlen(sig64) != 88)
		return -1;
	len = EVP_DecodeBlock(sig, (const unsigned char *)sig64, 88);
	if (len < 64)
		return -1;
	n = snprintf(msg, sizeof(msg), SCH_AUDIT_SIGN_PREFIX "%llu:%s", (unsigned long long)seq,
		     prev);
	ctx = EVP_MD_CTX_new();
	ok = ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pub) == 1 &&
	     EVP_DigestVerify(ctx, sig, 64, (const uint8_t *)msg, (size_t)n) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* Checks record i against the chain state; fills err naming the record. */
static int check_one(const struct rec *v, size_t i, size_t n, uint64_t expect, const char *prev,
		     EVP_PKEY *pub, unsigned *checkpoints, uint64_t *last_cp, struct cmn_err *err)
{
	const struct rec *r = &v[i];
	json_t *j = json_loads(r->line, 0, NULL);
	const char *ph;
	int rc = 0;

	if (!j || r->seq == 0) {
		json_decref(j);
		return cmn_err_set(
		    err, CMN_ECONFLICT, 0,
		    "%s line %zu (after seq %llu): record changed: not a valid record", r->file,
		    r->lineno, (unsigned long long)(expect - 1));
	}
	if (r->seq != expect) {
		if (r->seq < expect)
			rc = cmn_err_set(err, CMN_ECONFLICT, 0,
					 "record seq %llu (%s line %zu) repeats or goes back: a "
					 "record was inserted or reordered before it (expected seq "
					 "%llu)",
					 (unsigned long long)r->seq, r->file, r->lineno,
					 (unsigned long long)expect);
		else if (seq_later(v, i + 1, n, expect))
			rc = cmn_err_set(err, CMN_ECONFLICT, 0,
					 "record seq %llu was reordered: it appears after seq %llu "
					 "(%s line %zu)",
					 (unsigned long long)expect, (unsigned long long)r->seq,
					 r->file, r->lineno);
		else
			rc = cmn_err_set(err, CMN_ECONFLICT, 0,
					 "record seq %llu was removed (%s line %zu holds seq %llu)",
					 (unsigned long long)expect, r->file, r->lineno,
					 (unsigned long long)r->seq);
		goto out;
	}
	ph = json_string_value(json_object_get(j, "prevHash"));
	if (!ph || strcmp(ph, prev) != 0) {
		rc = cmn_err_set(err, CMN_ECONFLICT, 0,
				 "record seq %llu was changed: its SHA-256 does not match prevHash "
				 "of seq %llu (%s line %zu)",
				 (unsigned long long)(r->seq - 1), (unsigned long long)r->seq,
				 r->file, r->lineno);
		goto out;
	}
	if (strcmp(json_string_value(json_object_get(j, "eventName")) ?: "", "AuditCheckpoint") ==
	    0) {
		if (check_signature(pub, j, r->seq, prev) < 0) {
			rc = cmn_err_set(err, CMN_ECONFLICT, 0,
					 "checkpoint seq %llu: signature does not verify: records "
					 "after seq %llu up to it were rewritten",
					 (unsigned long long)r->seq, (unsigned long long)*last_cp);
			goto out;
		}
		(*checkpoints)++;
		*last_cp = r->seq;
	}
out:
	json_decref(j);
	return rc;
}

static EVP_PKEY *read_pub(const char *path, struct cmn_err *err)
{
	cleanup_fclose FILE *f = fopen(path, "re");
	EVP_PKEY *k;
	if (!f) {
		cmn_err_sys(err, "open %s", path);
		return NULL;
	}
	k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	if (!k)
		cmn_err_set(err, CMN_EINVAL, 0, "%s is not a PEM public key", path);
	return k;
}

int sch_audit_verify_dir(const char *dir, const char *pubkey_path, struct cmn_buf *report,
			 struct cmn_err *err)
{
	char pubpath[4200], prev[65];
	struct rec *v = NULL;
	size_t n = 0;
	unsigned checkpoints = 0;
	uint64_t last_cp = 0, expect = 1;
	EVP_PKEY *pub;
	int rc = 0;

	snprintf(pubpath, sizeof(pubpath), "%s/audit.pub", dir);
	pub = read_pub(pubkey_path ? pubkey_path : pubpath, err);
	if (!pub)
		return -1;
	if (load_all(dir, &v, &n, err) < 0) {
		EVP_PKEY_free(pub);
		return -1;
	}
	memset(prev, '0', 64);
	prev[64] = '\0';
	if (n > 0 && v[0].seq > 1)
		rc = cmn_err_set(err, CMN_ECONFLICT, 0, "records before seq %llu were removed",
				 (unsigned long long)v[0].seq);
	for (size_t i = 0; rc == 0 && i < n; i++, expect++) {
		rc = check_one(v, i, n, expect, prev, pub, &checkpoints, &last_cp, err);
		sch_sha256_hex(v[i].line, strlen(v[i].line), prev);
	}
	if (rc == 0)
		cmn_buf_printf(report, NULL,
			       "audit log OK: %zu records, %u signed checkpoints, last checkpoint "
			       "seq %llu, %llu records after it not yet signed\n",
			       n, checkpoints, (unsigned long long)last_cp,
			       (unsigned long long)(n - (size_t)last_cp));
	for (size_t i = 0; i < n; i++)
		free(v[i].line);
	free(v);
	EVP_PKEY_free(pub);
	return rc;
}
