/* tools/cmd_job.c — following a job: `cordon sql`'s wait with progress
 * and Ctrl-C cancel, and `cordon job status|result|cancel ID`. */
#define _GNU_SOURCE
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/cli.h"
#include "tools/client.h"
#include "tools/cmds.h"

#define PAGE 100000

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One line per stage: "stage 0 MAP     3/4 nodes done, 120000 rows out".
 * On a terminal the lines are redrawn in place; elsewhere (a log) they are
 * printed again only when a stage's figures changed. */
static void progress(json_t *st, double elapsed, int *lines)
{
	static char last[4096];
	json_t *stages = json_object_get(st, "stages"), *s;
	bool tty = isatty(2);
	char *now = json_dumps(stages, JSON_COMPACT);
	size_t i;

	if (!tty && now && strcmp(now, last) == 0) {
		free(now);
		return;
	}
	if (now)
		snprintf(last, sizeof(last), "%s", now);
	free(now);
	if (tty && *lines)
		fprintf(stderr, "\033[%dA", *lines);
	json_array_foreach(stages, i, s)
	{
		if (json_integer_value(json_object_get(s, "nodes")) == 0) { /* FINAL in cordond */
			fprintf(stderr, "%sstage %zu %-6s in cordond, %lld rows out (%.1f s)\n",
				tty ? "\r\033[K" : "", i,
				json_string_value(json_object_get(s, "kind")),
				json_integer_value(json_object_get(s, "rowsOut")), elapsed);
			continue;
		}
		fprintf(stderr, "%sstage %zu %-6s %lld/%lld nodes done, %lld rows out (%.1f s)%s\n",
			tty ? "\r\033[K" : "", i, json_string_value(json_object_get(s, "kind")),
			json_integer_value(json_object_get(s, "nodesDone")),
			json_integer_value(json_object_get(s, "nodes")),
			json_integer_value(json_object_get(s, "rowsOut")), elapsed, "");
	}
	*lines = tty ? (int)json_array_size(stages) : 0;
}

static int fetch_result(struct cli_config *cfg, const char *id, json_t *status,
			struct cli_response *out)
{
	json_t *cols = json_object_get(json_object_get(status, "result"), "columns");
	json_t *names = json_array(), *rows = json_array(), *c;
	long long total =
	    json_integer_value(json_object_get(json_object_get(status, "result"), "rows"));
	char path[512];
	size_t i;

	json_array_foreach(cols, i, c) json_array_append(names, json_object_get(c, "name"));
	for (long long off = 0; off < total;) {
		struct cli_response page;
		char *line, *save = NULL;
		int rc;
		snprintf(path, sizeof(path), "/v1/projects/%s/jobs/%s/result?offset=%lld&limit=%d",
			 cfg->project, id, off, PAGE);
		rc = cli_call("cordon", cfg, "GET", path, NULL, &page);
		if (rc) {
			json_decref(names);
			json_decref(rows);
			return rc;
		}
		if (cmn_buf_append(&page.body, "", 1, NULL) < 0) {
			cli_response_free(&page);
			break;
		}
		for (line = strtok_r(page.body.data, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save), off++)
			json_array_append_new(rows, json_loads(line, JSON_DECODE_ANY, NULL));
		cli_response_free(&page);
		if (json_array_size(rows) == 0)
			break;
	}
	memset(out, 0, sizeof(*out));
	out->status = 200;
	out->json = json_pack("{s:o, s:o}", "columns", names, "rows", rows);
	return 0;
}

int follow_job(struct cli_config *cfg, const char *id, struct cli_response *out)
{
	double start = now_s();
	struct sigaction sa = { .sa_handler = on_sigint }, old;
	int lines = 0, rc = 0;
	char path[512];
	bool cancelled = false;

	sigaction(SIGINT, &sa, &old);
	snprintf(path, sizeof(path), "/v1/projects/%s/jobs/%s", cfg->project, id);
	for (;;) {
		struct cli_response st;
		const char *state;
		rc = cli_call("cordon sql", cfg, "GET", path, NULL, &st);
		if (rc)
			break;
		state = json_string_value(json_object_get(st.json, "status"));
		if (now_s() - start > 1.0)
			progress(st.json, now_s() - start, &lines);
		if (state && strcmp(state, "succeeded") == 0) {
			rc = fetch_result(cfg, id, st.json, out);
			cli_response_free(&st);
			break;
		}
		if (state && strcmp(state, "queued") && strcmp(state, "running")) {
			json_t *e = json_object_get(st.json, "error");
			fprintf(stderr, "cordon sql: job %s %s: %s: %s\n", id, state,
				json_string_value(json_object_get(e, "code")),
				json_string_value(json_object_get(e, "message")));
			cli_response_free(&st);
			rc = CMN_EXIT_FAIL;
			break;
		}
		cli_response_free(&st);
		if (interrupted && !cancelled) {
			struct cli_response del;
			fprintf(stderr, "cordon sql: cancelling job %s\n", id);
			if (cli_call("cordon sql", cfg, "DELETE", path, NULL, &del) == 0)
				cli_response_free(&del);
			cancelled = true;
		}
		usleep(200000);
	}
	sigaction(SIGINT, &old, NULL);
	return rc;
}

int cmd_job(int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_OPTIONS,
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	static const char usage[] =
	    "usage: cordon job status|result|cancel|wait ID [--project P]\n"
	    "status: the job's state, stages and usage (JSON); result: its rows as JSON\n"
	    "lines; cancel: stop it; wait: follow it like `cordon sql` and print the rows.\n";
	struct cli_config cfg = { 0 };
	struct cli_response resp;
	struct cmn_err err = CMN_ERR_INIT;
	char path[512];
	const char *verb, *id;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (cli_common_option(c, optarg, &cfg))
			continue;
		fprintf(c == 'h' ? stdout : stderr, "%s%s", usage, CLI_COMMON_HELP);
		return c == 'h' ? CMN_EXIT_OK : CMN_EXIT_USAGE;
	}
	if (optind + 2 != argc) {
		fputs(usage, stderr);
		return CMN_EXIT_USAGE;
	}
	verb = argv[optind];
	id = argv[optind + 1];
	if (cli_config_resolve(&cfg, &err) < 0 || !cfg.project[0]) {
		fprintf(stderr, "cordon job: %s\n", cfg.project[0] ? err.msg : "no project");
		return CMN_EXIT_USAGE;
	}
	snprintf(path, sizeof(path), "/v1/projects/%s/jobs/%s%s", cfg.project, id,
		 strcmp(verb, "result") == 0 ? "/result" : "");
	if (strcmp(verb, "wait") == 0) {
		rc = follow_job(&cfg, id, &resp);
		if (rc == 0) {
			json_dumpf(resp.json, stdout, JSON_COMPACT);
			putchar('\n');
			cli_response_free(&resp);
		}
		return rc;
	}
	if (strcmp(verb, "status") && strcmp(verb, "result") && strcmp(verb, "cancel")) {
		fputs(usage, stderr);
		return CMN_EXIT_USAGE;
	}
	rc = cli_call("cordon job", &cfg, strcmp(verb, "cancel") == 0 ? "DELETE" : "GET", path,
		      NULL, &resp);
	if (rc)
		return rc;
	fwrite(resp.body.data, 1, resp.body.len, stdout);
	if (resp.body.len && resp.body.data[resp.body.len - 1] != '\n')
		putchar('\n');
	cli_response_free(&resp);
	return CMN_EXIT_OK;
}
