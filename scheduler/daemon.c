/* scheduler/daemon.c — cordond's start-up and shutdown of everything the
 * API stands on. First start in an empty DIR creates: DIR/keys/root.key,
 * DIR/catalog.db, DIR/tls/{cert,key}.pem, the operator account "admin"
 * with an access key in DIR/admin.credentials (AWS credentials file form,
 * 0600), DIR/keys/audit.key and DIR/audit/audit.pub. Later starts reuse
 * them. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "scheduler/api.h"
#include "netoverlay/netoverlay.h"
#include "scheduler/authz.h"
#include "scheduler/netlinks.h"
#include "scheduler/functions.h"
#include "scheduler/tabledata.h"
#include "scheduler/resources.h"
#include "scheduler/tables.h"
#include "scheduler/tls.h"
#include "scheduler/stmt.h"

static int write_credentials(const char *path, const struct sch_new_key *key, struct cmn_err *err)
{
	cleanup_close int fd =
	    open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	char text[256];
	int n;

	if (fd < 0)
		return cmn_err_sys(err, "create %s", path);
	n = snprintf(text, sizeof(text),
		     "# Cordon operator (ALIYUN$" SCH_OPERATOR_ACCOUNT ") credentials.\n"
		     "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
		     key->id, key->secret);
	if (fchmod(fd, 0600) < 0 || write(fd, text, (size_t)n) != n || fsync(fd) < 0) {
		OPENSSL_cleanse(text, sizeof(text));
		return cmn_err_sys(err, "write %s", path);
	}
	OPENSSL_cleanse(text, sizeof(text));
	return 0;
}

static int ensure_operator(struct sch_api *api, struct cmn_err *err)
{
	struct sch_new_key key;
	char path[4200];
	int rc = sch_account_exists(api->acc, SCH_OPERATOR_ACCOUNT, err);

	snprintf(path, sizeof(path), "%s/admin.credentials", api->cfg.data_dir);
	if (rc < 0)
		return -1;
	if (rc == 1) {
		cmn_info("operator credentials: %s", path);
		return 0;
	}
	if (sch_account_create(api->acc, SCH_OPERATOR_ACCOUNT, true, &key, err) < 0)
		return cmn_err_wrap(err, "operator account");
	rc = write_credentials(path, &key, err);
	OPENSSL_cleanse(&key, sizeof(key));
	if (rc == 0)
		cmn_info("created operator account ALIYUN$%s; credentials: %s",
			 SCH_OPERATOR_ACCOUNT, path);
	return rc;
}

static int make_dir(const char *path, struct cmn_err *err)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return cmn_err_sys(err, "mkdir %s", path);
	return 0;
}

/* Storage glue (storage_glue.h): the keyring (always: it wraps the
 * access-key secrets from now on) and, unless --chunkservers 0, the local
 * chunk servers with the storage master. */
static int start_storage(struct sch_api *api, struct cmn_err *err)
{
	struct sch_storage_cfg cfg = {
		.data_dir = api->cfg.data_dir,
		.root_key_file = sch_keywrap_root_key_path(api->kw),
		.servers = api->cfg.chunkservers,
		.racks = api->cfg.racks,
		.scrub_per_min = api->cfg.scrub_rate,
	};
	if (sch_storage_open(&api->storage, &cfg, err) < 0)
		return -1;
	sch_keywrap_use_keyring(api->kw, sch_storage_keyring(api->storage));
	return 0;
}

/* Secrets wrapped before the keyring took over are rewrapped once. */
static int migrate_secrets(struct sch_api *api, struct cmn_err *err)
{
	size_t n = 0;
	if (sch_storage_migrate_secrets(api->kw, sch_catalog_db(api->cat), &n, err) < 0)
		return -1;
	if (n > 0)
		cmn_info("rewrapped %zu access-key secrets under the storage keyring", n);
	return 0;
}

/* The job runner. First what a crashed cordond's jobs left: overlays (and
 * the node processes still in their namespaces); the sandbox removes a
 * dead caller's cgroups on its next start. */
static int start_jobs(struct sch_api *api, struct cmn_err *err)
{
	struct ovl_gc_report rep = { 0 };
	struct sch_jobs_cfg cfg = {
		.cat = api->cat,
		.storage = api->storage,
		.api_lock = &api->lock,
		.overlay_run_dir = api->cfg.overlay_run_dir,
		.max_running = api->cfg.max_jobs,
		.results_memory = api->cfg.results_memory,
		.netlink_gateway = api->cfg.netlink_gateway,
	};

	struct sch_tabledata td = { api->cat, api->storage, &api->lock };
	size_t dropped = 0;

	if (ovl_gc(api->cfg.overlay_run_dir, api->cfg.netlink_gateway, &rep, err) < 0)
		cmn_warn("overlay clean-up: %s", err->msg);
	else if (rep.overlays || rep.processes)
		cmn_info("removed %u overlays and %u node processes of an earlier run",
			 rep.overlays, rep.processes);
	/* nothing reads a table yet: every stored version but the published
	 * ones is what a crash left */
	if (sch_tabledata_sweep(&td, &dropped, err) < 0)
		cmn_warn("storage sweep of old table versions: %s", err->msg);
	else if (dropped)
		cmn_info("dropped %zu table versions an earlier run left", dropped);
	if (sch_jobs_open(&api->jobs, &cfg, err) < 0)
		return cmn_err_wrap(err, "jobs");
	sch_jobs_set_default(api->jobs);
	return 0;
}

int sch_daemon_init(struct sch_api *api, struct cmn_err *err)
{
	char path[4200];
	uint8_t prefix[8];

	pthread_mutex_init(&api->lock, NULL);
	sch_functions_set_api_lock(&api->lock); /* CREATE FUNCTION describes unlocked */
	snprintf(path, sizeof(path), "%s/tls", api->cfg.data_dir);
	if (make_dir(api->cfg.data_dir, err) < 0 || make_dir(path, err) < 0)
		return -1;
	if (sch_keywrap_open(&api->kw, api->cfg.data_dir, err) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/catalog.db", api->cfg.data_dir);
	if (sch_catalog_open(&api->cat, path, err) < 0 || start_storage(api, err) < 0 ||
	    sch_accounts_open(&api->acc, api->cat, api->kw, err) < 0 ||
	    migrate_secrets(api, err) < 0 || ensure_operator(api, err) < 0 ||
	    sch_audit_open(&api->audit, api->cat, api->cfg.data_dir,
			   api->cfg.audit_checkpoint_every, err) < 0)
		return -1;
	/* every component's tables exist before the first request */
	if (sch_authz_migrate(api->cat, err) < 0 || sch_tables_migrate(api->cat, err) < 0 ||
	    sch_netlinks_migrate(api->cat, err) < 0 || sch_tabledata_migrate(api->cat, err) < 0)
		return -1;
	if (sch_resources_migrate(api->cat, err) < 0)
		return -1;
	sch_audit_set_default(api->audit);
	if (start_jobs(api, err) < 0)
		return -1;
	if (api->cfg.tls_cert) {
		snprintf(api->cert_path, sizeof(api->cert_path), "%s", api->cfg.tls_cert);
		snprintf(api->key_path, sizeof(api->key_path), "%s",
			 api->cfg.tls_key ? api->cfg.tls_key : api->cfg.tls_cert);
	} else {
		snprintf(api->cert_path, sizeof(api->cert_path), "%s/tls/cert.pem",
			 api->cfg.data_dir);
		snprintf(api->key_path, sizeof(api->key_path), "%s/tls/key.pem", api->cfg.data_dir);
		if (sch_tls_ensure_self_signed(api->cert_path, api->key_path, api->cfg.listen_host,
					       err) < 0)
			return -1;
	}
	cmn_info("TLS certificate (use it as the CA file): %s", api->cert_path);
	api->ssl = sch_tls_server_ctx(api->cert_path, api->key_path, err);
	if (!api->ssl)
		return -1;
	if (sch_whitelist_parse(api->cfg.trusted_proxies ? api->cfg.trusted_proxies : "",
				&api->proxies, err) < 0)
		return cmn_err_wrap(err, "--trusted-proxies");
	if (RAND_bytes(prefix, sizeof(prefix)) != 1)
		return cmn_err_set(err, CMN_EINTERNAL, 0, "RAND_bytes failed");
	for (size_t i = 0; i < sizeof(prefix); i++)
		snprintf(api->request_prefix + 2 * i, 3, "%02x", prefix[i]);
	/* the table-data statements (registered in main.c) act from now on */
	sch_tabledata_stmt_use(api->cat, api->storage, &api->lock);
	if (sch_stmt_basic_register(api->acc) < 0)
		return cmn_err_set(err, CMN_EINTERNAL, 0, "cannot register statement handlers");
	return 0;
}

void sch_daemon_fini(struct sch_api *api)
{
	/* jobs first (they use storage and the catalog), then storage: its
	 * master audits through the default audit log */
	sch_jobs_close(api->jobs);
	api->jobs = NULL;
	sch_storage_close(api->storage);
	api->storage = NULL;
	sch_audit_set_default(NULL);
	sch_audit_close(api->audit); /* flush + signed checkpoint */
	sch_accounts_close(api->acc);
	sch_catalog_close(api->cat);
	sch_keywrap_close(api->kw);
	SSL_CTX_free(api->ssl);
	api->audit = NULL;
	api->acc = NULL;
	api->cat = NULL;
	api->kw = NULL;
	api->ssl = NULL;
}
