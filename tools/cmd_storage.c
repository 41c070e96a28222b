/* tools/cmd_storage.c — `cordon admin storage ...`: the operator's view of
 * storage. status, scrub, repair and key-rotate go through cordond's admin
 * API (cmd_storage_api.c) unless --data-dir is given; with it, every
 * command runs in direct mode on a storage dir (--data-dir DIR):
 *   DIR/storage.db   the catalog tables of storage (stor_*)
 *   DIR/root.key     the root key (0600; or --kms-command)
 *   DIR/cluster.key  the secret every cordon-chunkd connection proves
 * or, on a cordond data dir (DIR/catalog.db, no DIR/storage.db): the
 * catalog, DIR/keys/root.key and DIR/storage/cluster.key.
 * The same code paths cordond links (storage.h), not a copy.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/cleanup.h"
#include "common/cli.h"
#include "common/log.h"
#include "common/parse.h"
#include "storage/storage.h"
#include "tools/cmds.h"

struct sopts {
	const char *data_dir, *root_key, *kms, *project, *in, *out, *import, *chunkd;
	uint64_t table, version, lost_timeout_ms, timeout_ms, chunk_size;
	bool have_table, have_version;
	unsigned servers, racks;
	double scrub_rate;
	char **args;
	int nargs;
};

struct session {
	sqlite3 *db;
	struct stor_keyring *kr;
	struct stor_cluster *c;
	char key_path[4096];
};

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: cordon admin storage status|scrub|repair|key-rotate [options]   (via cordond)\n"
	    "       cordon admin storage COMMAND --data-dir DIR [options]        (direct mode)\n"
	    "  init                              create DIR with root key, cluster key, catalog\n"
	    "  server-add ADDR...                register running cordon-chunkd servers\n"
	    "  status                            servers, chunks, replicas, metrics (JSON)\n"
	    "  scrub                             verify every replica now; repair bad ones\n"
	    "  repair [--timeout D]              heartbeats + re-replication until all have 3\n"
	    "  put --project P --table N --version V [--in FILE]   write (default stdin)\n"
	    "  get --table N --version V [--out FILE]              read (default stdout)\n"
	    "  drop-table --table N              delete replicas, destroy the data key\n"
	    "  key-rotate --project P [--import FILE]   new (or first) project key; BYOK: 64 hex\n"
	    "  serve [--servers N] [--racks R]   embedded default: supervise N chunk servers\n"
	    "                                    and run the master until SIGTERM\n"
	    "options: --root-key-file F | --kms-command CMD, --lost-timeout D (10s),\n"
	    "         --chunk-size SIZE (4M), --scrub-rate N (chunks/s), --chunkd PATH\n");
}

/* One option into o: 0, 1 for --help, <0 for a bad option or value. */
static int apply_opt(struct sopts *o, int c, const char *arg, struct cmn_err *err)
{
	uint64_t v = 0;
	int rc = 0;

	switch (c) {
	case 'd':
		o->data_dir = arg;
		return 0;
	case 'R':
		o->root_key = arg;
		return 0;
	case 'K':
		o->kms = arg;
		return 0;
	case 'p':
		o->project = arg;
		return 0;
	case 'i':
		o->in = arg;
		return 0;
	case 'o':
		o->out = arg;
		return 0;
	case 'I':
		o->import = arg;
		return 0;
	case 'x':
		o->chunkd = arg;
		return 0;
	case 't':
		o->have_table = true;
		return cmn_parse_u64(arg, &o->table, err);
	case 'v':
		o->have_version = true;
		return cmn_parse_u64(arg, &o->version, err);
	case 'c':
		return cmn_parse_size(arg, &o->chunk_size, err);
	case 'L':
	case 'T':
		rc = cmn_parse_duration(arg, &v, err);
		*(c == 'L' ? &o->lost_timeout_ms : &o->timeout_ms) = v / 1000000;
		return rc;
	case 's':
	case 'n':
	case 'r':
		rc = cmn_parse_u64(arg, &v, err);
		if (rc == 0 && v > 1000000)
			rc = cmn_err_set(err, CMN_EINVAL, 0, "value %llu too large",
					 (unsigned long long)v);
		if (c == 's')
			o->scrub_rate = (double)v;
		else
			*(c == 'n' ? &o->servers : &o->racks) = (unsigned)v;
		return rc;
	case 'h':
		usage(stdout);
		return 1;
	default:
		usage(stderr);
		return cmn_err_set(err, CMN_EINVAL, 0, "bad option");
	}
}

static int parse_opts(int argc, char **argv, struct sopts *o)
{
	static const struct option opts[] = {
		{ "data-dir", required_argument, NULL, 'd' },
		{ "root-key-file", required_argument, NULL, 'R' },
		{ "kms-command", required_argument, NULL, 'K' },
		{ "project", required_argument, NULL, 'p' },
		{ "table", required_argument, NULL, 't' },
		{ "version", required_argument, NULL, 'v' },
		{ "in", required_argument, NULL, 'i' },
		{ "out", required_argument, NULL, 'o' },
		{ "import", required_argument, NULL, 'I' },
		{ "lost-timeout", required_argument, NULL, 'L' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "chunk-size", required_argument, NULL, 'c' },
		{ "scrub-rate", required_argument, NULL, 's' },
		{ "servers", required_argument, NULL, 'n' },
		{ "racks", required_argument, NULL, 'r' },
		{ "chunkd", required_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cmn_err err = CMN_ERR_INIT;
	int c;

	memset(o, 0, sizeof(*o));
	o->timeout_ms = 60000;
	o->scrub_rate = -1; /* unset: 20 for serve, off for one-shot commands */
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int rc = apply_opt(o, c, optarg, &err);
		if (rc > 0)
			return 1;
		if (rc < 0) {
			if (c != '?')
				fprintf(stderr, "cordon: admin storage: %s\n", err.msg);
			return -1;
		}
	}
	if (!o->data_dir) {
		fprintf(stderr, "cordon: admin storage: --data-dir is required (direct mode)\n");
		return -1;
	}
	o->args = argv + optind;
	o->nargs = argc - optind;
	return 0;
}

static int write_new_key_file(const char *path, struct cmn_err *err)
{
	uint8_t raw[32];
	char hex[66];
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	static const char digits[] = "0123456789abcdef";
	ssize_t n;

	if (fd < 0)
		return errno == EEXIST ? 0 : cmn_err_sys(err, "create %s", path);
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		close(fd);
		return cmn_err_set(err, CMN_EINTERNAL, 0, "RAND_bytes failed");
	}
	for (int i = 0; i < 32; i++) {
		hex[2 * i] = digits[raw[i] >> 4];
		hex[2 * i + 1] = digits[raw[i] & 15];
	}
	hex[64] = '\n';
	n = write(fd, hex, 65);
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(hex, sizeof(hex));
	if (n != 65 || fsync(fd) < 0) {
		close(fd);
		return cmn_err_sys(err, "write %s", path);
	}
	close(fd);
	return 0;
}

static void audit_to_log(void *ctx, const char *event, const char *detail)
{
	(void)ctx;
	(void)event;
	(void)detail; /* stor_audit already logs; cordond records these in its audit log */
}

/* A cordond data dir (storage_glue.h): the storage tables live in its
 * catalog, the root key in keys/, the cluster key in storage/. Direct mode
 * works next to a running cordond (SQLite WAL, busy timeout). path, root
 * and key are 4096 bytes each. */
static int cordond_layout(const char *dir, char *path, char *root, char *key)
{
	char probe[4200];
	snprintf(probe, sizeof(probe), "%s/catalog.db", dir);
	if (access(probe, F_OK) != 0)
		return -1;
	snprintf(path, 4096, "%s/catalog.db", dir);
	snprintf(root, 4096, "%s/keys/root.key", dir);
	snprintf(key, 4096, "%s/storage/cluster.key", dir);
	return 0;
}

static int session_open(struct session *s, const struct sopts *o, bool serve, struct cmn_err *err)
{
	char path[4096], root[4096];
	struct stor_keyring_cfg kcfg = { 0 };
	struct stor_cluster_cfg ccfg = { 0 };

	memset(s, 0, sizeof(*s));
	snprintf(path, sizeof(path), "%s/storage.db", o->data_dir);
	snprintf(root, sizeof(root), "%s/root.key", o->data_dir);
	snprintf(s->key_path, sizeof(s->key_path), "%s/cluster.key", o->data_dir);
	if (access(path, F_OK) != 0 && cordond_layout(o->data_dir, path, root, s->key_path) == 0)
		cmn_info("using cordond's data dir %s (catalog.db)", o->data_dir);
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK)
		return cmn_err_set(err, CMN_EIO, 0, "open %s: %s", path,
				   s->db ? sqlite3_errmsg(s->db) : "out of memory");
	sqlite3_busy_timeout(s->db, 10000);
	sqlite3_exec(s->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
	if (o->kms)
		kcfg.kms_command = o->kms;
	else
		kcfg.root_key_file = o->root_key ? o->root_key : root;
	if (stor_keyring_open(&s->kr, s->db, &kcfg, err) < 0)
		return -1;
	ccfg.db = s->db;
	ccfg.keyring = s->kr;
	ccfg.cluster_key_file = s->key_path;
	ccfg.chunk_size = o->chunk_size;
	ccfg.lost_timeout_ms = o->lost_timeout_ms;
	ccfg.heartbeat_ms = 500;
	ccfg.scrub_chunks_per_sec = o->scrub_rate >= 0 ? o->scrub_rate : serve ? 20 : 0;
	ccfg.audit = audit_to_log;
	return stor_cluster_open(&s->c, &ccfg, err);
}

static void session_close(struct session *s)
{
	stor_cluster_close(s->c);
	stor_keyring_close(s->kr);
	if (s->db)
		sqlite3_close(s->db);
}

static int do_init(const struct sopts *o, struct cmn_err *err)
{
	char path[4096];
	struct session s;
	int rc;

	if (mkdir(o->data_dir, 0700) < 0 && errno != EEXIST)
		return cmn_err_sys(err, "mkdir %s", o->data_dir);
	snprintf(path, sizeof(path), "%s/cluster.key", o->data_dir);
	if (write_new_key_file(path, err) < 0)
		return -1;
	rc = session_open(&s, o, false, err);
	session_close(&s);
	if (rc == 0)
		printf("storage dir %s ready (cluster key %s)\n", o->data_dir, path);
	return rc;
}

static int do_server_add(struct session *s, const struct sopts *o, struct cmn_err *err)
{
	if (o->nargs == 0)
		return cmn_err_set(err, CMN_EINVAL, 0, "server-add: give ADDR...");
	for (int i = 0; i < o->nargs; i++)
		if (stor_server_add(s->c, o->args[i], err) < 0)
			return -1;
	return 0;
}

static int do_status(struct session *s, struct cmn_err *err)
{
	char *json;
	if (stor_master_tick(s->c, err) < 0 || stor_status_json(s->c, &json, err) < 0)
		return -1;
	printf("%s\n", json);
	free(json);
	return 0;
}

static int print_summary(struct session *s, const char *what, struct cmn_err *err)
{
	struct stor_metrics m;
	stor_metrics_get(s->c, &m);
	printf("%s: %llu replicas checked, %llu bad, %llu repaired, %llu repairs failed, %llu "
	       "servers lost\n",
	       what, (unsigned long long)m.scrubbed_replicas,
	       (unsigned long long)m.corrupt_replicas, (unsigned long long)m.repairs_done,
	       (unsigned long long)m.repairs_failed, (unsigned long long)m.servers_lost);
	return do_status(s, err);
}

static int do_scrub(struct session *s, struct cmn_err *err)
{
	if (stor_master_scrub_all(s->c, err) < 0)
		return -1;
	return print_summary(s, "scrub", err);
}

static int do_repair(struct session *s, const struct sopts *o, struct cmn_err *err)
{
	if (stor_master_repair(s->c, o->timeout_ms, err) < 0)
		return -1;
	return print_summary(s, "repair", err);
}

static int do_put(struct session *s, const struct sopts *o, struct cmn_err *err)
{
	struct stor_writer *w;
	cleanup_free char *buf = malloc(1 << 20);
	int fd = 0;
	uint64_t total = 0;

	if (!o->project || !o->have_table || !o->have_version)
		return cmn_err_set(err, CMN_EINVAL, 0, "put: --project, --table, --version needed");
	if (!buf)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	if (!stor_keyring_table_exists(s->kr, o->table) &&
	    stor_keyring_table_create(s->kr, o->project, o->table, err) < 0)
		return -1;
	if (o->in && strcmp(o->in, "-") != 0) {
		fd = open(o->in, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return cmn_err_sys(err, "open %s", o->in);
	}
	if (stor_writer_open(s->c, o->table, o->version, &w, err) < 0)
		goto fail_fd;
	for (;;) {
		ssize_t n = read(fd, buf, 1 << 20);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cmn_err_sys(err, "read input");
			stor_writer_abort(w);
			goto fail_fd;
		}
		if (n == 0)
			break;
		if (stor_writer_append(w, buf, (size_t)n, err) < 0) {
			stor_writer_abort(w);
			goto fail_fd;
		}
		total += (uint64_t)n;
	}
	if (fd > 0)
		close(fd);
	if (stor_writer_commit(w, err) < 0)
		return -1;
	printf("wrote %llu bytes to table %llu version %llu\n", (unsigned long long)total,
	       (unsigned long long)o->table, (unsigned long long)o->version);
	return 0;
fail_fd:
	if (fd > 0)
		close(fd);
	return -1;
}

static int write_out(void *ctx, const uint8_t *data, size_t len, struct cmn_err *err)
{
	int fd = *(int *)ctx;
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return cmn_err_sys(err, "write output");
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

static int do_get(struct session *s, const struct sopts *o, struct cmn_err *err)
{
	int fd = 1, rc;
	char tmp[4200];

	if (!o->have_table || !o->have_version)
		return cmn_err_set(err, CMN_EINVAL, 0, "get: --table and --version needed");
	if (o->out && strcmp(o->out, "-") != 0) {
		/* the output appears only when the whole read succeeded */
		snprintf(tmp, sizeof(tmp), "%s.partial", o->out);
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0)
			return cmn_err_sys(err, "open %s", tmp);
	}
	rc = stor_read_version(s->c, o->table, o->version, write_out, &fd, err);
	if (fd != 1) {
		close(fd);
		if (rc == 0 && rename(tmp, o->out) < 0)
			rc = cmn_err_sys(err, "rename %s", o->out);
		if (rc < 0)
			unlink(tmp);
	}
	return rc;
}

static int do_drop(struct session *s, const struct sopts *o, struct cmn_err *err)
{
	if (!o->have_table)
		return cmn_err_set(err, CMN_EINVAL, 0, "drop-table: --table needed");
	if (stor_drop_table(s->c, o->table, err) < 0)
		return -1;
	printf("table %llu dropped: data key destroyed\n", (unsigned long long)o->table);
	return 0;
}

static int do_rotate(struct session *s, const struct sopts *o, struct cmn_err *err)
{
	uint8_t byok[32];
	char text[80];
	uint32_t v = 0;
	int rc;

	if (!o->project)
		return cmn_err_set(err, CMN_EINVAL, 0, "key-rotate: --project needed");
	if (o->import) {
		int fd = open(o->import, O_RDONLY | O_CLOEXEC);
		ssize_t n;
		size_t len;
		if (fd < 0)
			return cmn_err_sys(err, "open %s", o->import);
		n = read(fd, text, sizeof(text) - 1);
		close(fd);
		len = n > 0 ? (size_t)n : 0;
		while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
			len--;
		rc = len == 64 ? 0 : -1;
		for (size_t i = 0; rc == 0 && i < 32; i++) {
			unsigned b;
			if (sscanf(text + 2 * i, "%2x", &b) != 1)
				rc = -1;
			byok[i] = (uint8_t)b;
		}
		OPENSSL_cleanse(text, sizeof(text));
		if (rc < 0)
			return cmn_err_set(err, CMN_EINVAL, 0, "%s: want a 256-bit key as 64 hex",
					   o->import);
	}
	/* a project without a key gets its first one (BYOK at creation) */
	if (stor_keyring_project_version(s->kr, o->project, &v, NULL) < 0) {
		rc = stor_keyring_project_create(s->kr, o->project, o->import ? byok : NULL, err);
		v = 1;
	} else {
		rc = stor_keyring_project_rotate(s->kr, o->project, o->import ? byok : NULL, &v,
						 err);
	}
	OPENSSL_cleanse(byok, sizeof(byok));
	if (rc == 0)
		printf("project %s key version %u (%s)\n", o->project, v,
		       o->import ? "imported" : "generated");
	return rc;
}

static volatile sig_atomic_t serve_stop;

static void on_term(int sig)
{
	(void)sig;
	serve_stop = 1;
}

/* DIR/servers.json: pid and address of each supervised server, rewritten
 * after every (re)start so operators and tests can find them. */
static void write_servers_file(struct stor_supervisor *sup, const char *dir)
{
	char path[4096], tmp[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/servers.json", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f)
		return;
	fprintf(f, "[");
	for (unsigned i = 0; i < stor_supervisor_count(sup); i++) {
		const char *a = stor_supervisor_addr(sup, i);
		fprintf(f, "%s{\"index\":%u,\"pid\":%d,\"addr\":\"%s\"}", i ? "," : "", i,
			stor_supervisor_pid(sup, i), a ? a : "");
	}
	fprintf(f, "]\n");
	fclose(f);
	rename(tmp, path);
}

static int do_serve(struct session *s, const struct sopts *o, struct cmn_err *err)
{
	struct stor_supervisor_cfg cfg = { 0 };
	struct stor_supervisor *sup;
	char self[4096], chunkd[4200], dir[4200];
	struct sigaction sa;
	ssize_t n;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return cmn_err_sys(err, "readlink /proc/self/exe");
	self[n] = '\0';
	*strrchr(self, '/') = '\0';
	snprintf(chunkd, sizeof(chunkd), "%s/cordon-chunkd", self);
	snprintf(dir, sizeof(dir), "%s/servers", o->data_dir);
	cfg.chunkd_path = o->chunkd ? o->chunkd : chunkd;
	cfg.data_dir = dir;
	cfg.cluster_key_file = s->key_path;
	cfg.servers = o->servers;
	cfg.racks = o->racks;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (stor_supervisor_start(&sup, &cfg, err) < 0)
		return -1;
	for (unsigned i = 0; i < stor_supervisor_count(sup); i++)
		if (stor_server_add(s->c, stor_supervisor_addr(sup, i), err) < 0) {
			stor_supervisor_stop(sup);
			return -1;
		}
	write_servers_file(sup, o->data_dir);
	if (stor_master_start(s->c, err) < 0) {
		stor_supervisor_stop(sup);
		return -1;
	}
	printf("serving: %u chunk servers\n", stor_supervisor_count(sup));
	fflush(stdout);
	while (!serve_stop) {
		struct timespec ts = { 0, 200 * 1000 * 1000 };
		if (stor_supervisor_poll(sup, NULL) > 0)
			write_servers_file(sup, o->data_dir);
		nanosleep(&ts, NULL);
	}
	stor_master_stop(s->c);
	stor_supervisor_stop(sup);
	return 0;
}

static bool has_data_dir(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--data-dir") == 0 || strncmp(argv[i], "--data-dir=", 11) == 0)
			return true;
	return false;
}

int cmd_admin_storage(int argc, char **argv)
{
	struct cmn_err err = CMN_ERR_INIT;
	struct session s;
	struct sopts o;
	const char *cmd;
	int rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? CMN_EXIT_USAGE : CMN_EXIT_OK;
	}
	cmd = argv[1];
	/* Without --data-dir the operator commands go through cordond's API. */
	if (!has_data_dir(argc, argv) &&
	    (strcmp(cmd, "status") == 0 || strcmp(cmd, "scrub") == 0 ||
	     strcmp(cmd, "repair") == 0 || strcmp(cmd, "key-rotate") == 0))
		return cmd_admin_storage_api(argc, argv);
	rc = parse_opts(argc - 1, argv + 1, &o);
	if (rc != 0)
		return rc > 0 ? CMN_EXIT_OK : CMN_EXIT_USAGE;
	cmn_log_init("cordon", CMN_LOG_INFO, false);
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(cmd, "init") == 0) {
		rc = do_init(&o, &err);
		goto done;
	}
	if (session_open(&s, &o, strcmp(cmd, "serve") == 0, &err) < 0) {
		session_close(&s);
		rc = -1;
		goto done;
	}
	if (strcmp(cmd, "server-add") == 0)
		rc = do_server_add(&s, &o, &err);
	else if (strcmp(cmd, "status") == 0)
		rc = do_status(&s, &err);
	else if (strcmp(cmd, "scrub") == 0)
		rc = do_scrub(&s, &err);
	else if (strcmp(cmd, "repair") == 0)
		rc = do_repair(&s, &o, &err);
	else if (strcmp(cmd, "put") == 0)
		rc = do_put(&s, &o, &err);
	else if (strcmp(cmd, "get") == 0)
		rc = do_get(&s, &o, &err);
	else if (strcmp(cmd, "drop-table") == 0)
		rc = do_drop(&s, &o, &err);
	else if (strcmp(cmd, "key-rotate") == 0)
		rc = do_rotate(&s, &o, &err);
	else if (strcmp(cmd, "serve") == 0)
		rc = do_serve(&s, &o, &err);
	else {
		session_close(&s);
		fprintf(stderr, "cordon: admin storage: unknown command %s\n", cmd);
		usage(stderr);
		return CMN_EXIT_USAGE;
	}
	session_close(&s);
done:
	if (rc < 0) {
		fprintf(stderr, "cordon: admin storage %s: %s [%s]\n", cmd, err.msg,
			cmn_code_name(err.code));
		return CMN_EXIT_FAIL;
	}
	return CMN_EXIT_OK;
}
