/* storage/supervisor.c — the embedded default: N local cordon-chunkd
 * processes, each with its own data dir and rack label, restarted when one
 * dies. cordond owns the children: they get SIGTERM if cordond dies
 * (PR_SET_PDEATHSIG), and they are stopped by pid, never by name.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "storage/storage.h"

#define SUP_MAX 64

struct sup_child {
	pid_t pid;
	int port;
	char dir[4096], port_file[4200], rack[32], addr[96];
	uint64_t started_ms;
};

struct stor_supervisor {
	struct stor_supervisor_cfg cfg;
	char chunkd[4096], key[4096], ip[48];
	unsigned n;
	struct sup_child ch[SUP_MAX];
};

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int read_port(const char *path)
{
	char buf[16] = { 0 };
	int fd = open(path, O_RDONLY | O_CLOEXEC), port = 0;
	ssize_t n;
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
		port = port * 10 + (buf[i] - '0');
	return port > 0 && port < 65536 ? port : 0;
}

static int spawn(struct stor_supervisor *s, struct sup_child *c, struct cmn_err *err)
{
	char listen[96];
	pid_t parent = getpid();

	snprintf(listen, sizeof(listen), "%s:%d", s->ip, c->port);
	unlink(c->port_file);
	c->pid = fork();
	if (c->pid < 0)
		return cmn_err_sys(err, "fork cordon-chunkd");
	if (c->pid == 0) {
		char o_dir[] = "--data-dir", o_listen[] = "--listen", o_rack[] = "--rack",
		     o_key[] = "--cluster-key-file", o_port[] = "--port-file";
		char *argv[] = { s->chunkd, o_dir, c->dir, o_listen, listen,       o_rack,
				 c->rack,   o_key, s->key, o_port,   c->port_file, NULL };
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1);
		execv(s->chunkd, argv);
		_exit(127);
	}
	c->started_ms = mono_ms();
	/* wait until it listens (the port file appears), at most 10 s */
	for (int i = 0; i < 1000; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		int st;
		if (read_port(c->port_file)) {
			c->port = read_port(c->port_file);
			snprintf(c->addr, sizeof(c->addr), "%s:%d", s->ip, c->port);
			return 0;
		}
		if (waitpid(c->pid, &st, WNOHANG) == c->pid) {
			c->pid = -1;
			return cmn_err_set(err, CMN_EUNAVAIL, 0,
					   "cordon-chunkd for %s exited at start (status %d)",
					   c->dir, st);
		}
		nanosleep(&ts, NULL);
	}
	return cmn_err_set(err, CMN_ETIMEOUT, 0, "cordon-chunkd for %s did not start", c->dir);
}

int stor_supervisor_start(struct stor_supervisor **out, const struct stor_supervisor_cfg *cfg,
			  struct cmn_err *err)
{
	struct stor_supervisor *s = calloc(1, sizeof(*s));
	unsigned racks;

	*out = NULL;
	if (!s)
		return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
	s->cfg = *cfg;
	s->n = cfg->servers ? cfg->servers : 4;
	racks = cfg->racks ? cfg->racks : 3;
	if (s->n > SUP_MAX || !cfg->chunkd_path || !cfg->data_dir || !cfg->cluster_key_file) {
		free(s);
		return cmn_err_set(err, CMN_EINVAL, 0, "supervisor: bad configuration");
	}
	snprintf(s->chunkd, sizeof(s->chunkd), "%s", cfg->chunkd_path);
	snprintf(s->key, sizeof(s->key), "%s", cfg->cluster_key_file);
	snprintf(s->ip, sizeof(s->ip), "%s", cfg->listen_ip ? cfg->listen_ip : "127.0.0.1");
	if (mkdir(cfg->data_dir, 0700) < 0 && errno != EEXIST) {
		free(s);
		return cmn_err_sys(err, "mkdir %s", cfg->data_dir);
	}
	for (unsigned i = 0; i < s->n; i++) {
		struct sup_child *c = &s->ch[i];
		c->pid = -1;
		snprintf(c->dir, sizeof(c->dir), "%s/chunk-%u", cfg->data_dir, i);
		/* dir is at most 4095 bytes and port_file has room for it + ".port" */
		memcpy(c->port_file, c->dir, strlen(c->dir));
		memcpy(c->port_file + strlen(c->dir), ".port", 6);
		snprintf(c->rack, sizeof(c->rack), "rack-%u", i % racks);
		/* keep the port of an earlier run so the catalog's address holds */
		c->port = read_port(c->port_file);
	}
	for (unsigned i = 0; i < s->n; i++)
		if (spawn(s, &s->ch[i], err) < 0) {
			stor_supervisor_stop(s);
			return cmn_err_wrap(err, "start chunk server %u", i);
		}
	*out = s;
	return 0;
}

int stor_supervisor_poll(struct stor_supervisor *s, struct cmn_err *err)
{
	int restarted = 0;
	for (unsigned i = 0; i < s->n; i++) {
		struct sup_child *c = &s->ch[i];
		int st;
		if (c->pid > 0 && waitpid(c->pid, &st, WNOHANG) != c->pid)
			continue;
		/* a server that keeps dying is restarted at most once a second */
		if (c->pid > 0 || mono_ms() - c->started_ms > 1000) {
			cmn_warn("storage: chunk server %u (%s) died; restarting", i, c->dir);
			c->pid = -1;
			if (spawn(s, c, err) < 0)
				cmn_warn("storage: restart of %s: %s", c->dir,
					 err ? err->msg : "failed");
			else
				restarted++;
		}
	}
	return restarted;
}

const char *stor_supervisor_addr(struct stor_supervisor *s, unsigned i)
{
	return i < s->n && s->ch[i].port ? s->ch[i].addr : NULL;
}

int stor_supervisor_pid(struct stor_supervisor *s, unsigned i)
{
	return i < s->n ? s->ch[i].pid : -1;
}

unsigned stor_supervisor_count(struct stor_supervisor *s)
{
	return s->n;
}

void stor_supervisor_stop(struct stor_supervisor *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < s->n; i++)
		if (s->ch[i].pid > 0)
			kill(s->ch[i].pid, SIGTERM);
	for (unsigned i = 0; i < s->n; i++) {
		struct sup_child *c = &s->ch[i];
		int st;
		for (int k = 0; c->pid > 0 && k < 1000; k++) {
			struct timespec ts = { 0, 10 * 1000 * 1000 };
			if (waitpid(c->pid, &st, WNOHANG) == c->pid)
				c->pid = -1;
			else
				nanosleep(&ts, NULL);
		}
		if (c->pid > 0) {
			kill(c->pid, SIGKILL);
			waitpid(c->pid, &st, 0);
		}
	}
	free(s);
}
