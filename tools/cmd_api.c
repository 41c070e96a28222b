/* tools/cmd_api.c — `cordon whoami` and `cordon sql`: the job submitter's
 * commands, over the signed HTTPS API (client.c). */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/cli.h"
#include "tools/client.h"
#include "tools/cmds.h"

int cmd_whoami(int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_OPTIONS,
					      { "format", required_argument, NULL, 'f' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	struct cli_config cfg = { 0 };
	struct cli_response resp;
	const char *format = "text";
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (cli_common_option(c, optarg, &cfg))
			continue;
		if (c == 'f') {
			format = optarg;
			continue;
		}
		fprintf(c == 'h' ? stdout : stderr,
			"usage: cordon whoami [--format text|json]\n" CLI_COMMON_HELP);
		return c == 'h' ? CMN_EXIT_OK : CMN_EXIT_USAGE;
	}
	rc = cli_call("cordon whoami", &cfg, "GET", "/v1/whoami", NULL, &resp);
	if (rc)
		return rc;
	if (strcmp(format, "json") == 0) {
		json_object_del(resp.json, "requestId");
		json_dumpf(resp.json, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		printf("principal: %s\naccount:   %s\ntype:      %s\n",
		       json_string_value(json_object_get(resp.json, "principal")),
		       json_string_value(json_object_get(resp.json, "account")),
		       json_string_value(json_object_get(resp.json, "type")));
	}
	cli_response_free(&resp);
	return CMN_EXIT_OK;
}

/* A cell as text: strings as is, NULL as "NULL", numbers and booleans in
 * their JSON form. */
static char *cell_text(json_t *v)
{
	if (json_is_string(v))
		return strdup(json_string_value(v));
	if (json_is_null(v) || !v)
		return strdup("NULL");
	if (json_is_real(v)) { /* the shortest text that reads back the same double */
		double d = json_real_value(v);
		char buf[40];
		for (int prec = 15; prec <= 17; prec++) {
			snprintf(buf, sizeof(buf), "%.*g", prec, d);
			if (strtod(buf, NULL) == d)
				break;
		}
		return strdup(buf);
	}
	return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
}

static size_t utf8_width(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

static void print_table(json_t *cols, json_t *rows)
{
	size_t ncols = json_array_size(cols), i, j;
	size_t *w = calloc(ncols ? ncols : 1, sizeof(*w));
	json_t *row;

	if (!w)
		return;
	for (j = 0; j < ncols; j++)
		w[j] = utf8_width(json_string_value(json_array_get(cols, j)) ?: "");
	json_array_foreach(rows, i, row) for (j = 0; j < ncols; j++)
	{
		cleanup_free char *t = cell_text(json_array_get(row, j));
		if (t && utf8_width(t) > w[j])
			w[j] = utf8_width(t);
	}
	for (j = 0; j < ncols; j++) {
		const char *name = json_string_value(json_array_get(cols, j)) ?: "";
		printf("%s%s%*s", j ? " | " : "", name, (int)(w[j] - utf8_width(name)), "");
	}
	putchar('\n');
	for (j = 0; j < ncols; j++) {
		printf("%s", j ? "-+-" : "");
		for (size_t k = 0; k < w[j]; k++)
			putchar('-');
	}
	putchar('\n');
	json_array_foreach(rows, i, row)
	{
		for (j = 0; j < ncols; j++) {
			cleanup_free char *t = cell_text(json_array_get(row, j));
			printf("%s%s%*s", j ? " | " : "", t ? t : "",
			       (int)(w[j] - utf8_width(t ? t : "")), "");
		}
		putchar('\n');
	}
	free(w);
}

static void csv_cell(const char *t)
{
	if (!strpbrk(t, ",\"\r\n")) {
		fputs(t, stdout);
		return;
	}
	putchar('"');
	for (; *t; t++) {
		if (*t == '"')
			putchar('"');
		putchar(*t);
	}
	putchar('"');
}

static void print_csv(json_t *cols, json_t *rows)
{
	size_t i, j;
	json_t *row, *v;

	json_array_foreach(cols, j, v)
	{
		if (j)
			putchar(',');
		csv_cell(json_string_value(v) ?: "");
	}
	putchar('\n');
	json_array_foreach(rows, i, row)
	{
		for (j = 0; j < json_array_size(cols); j++) {
			cleanup_free char *t = cell_text(json_array_get(row, j));
			if (j)
				putchar(',');
			csv_cell(t ? t : "");
		}
		putchar('\n');
	}
}

static char *read_file(const char *path)
{
	cleanup_fclose FILE *f = strcmp(path, "-") ? fopen(path, "re") : NULL;
	FILE *in = strcmp(path, "-") ? f : stdin;
	struct cmn_buf b;
	char chunk[8192];
	size_t n;

	if (!in)
		return NULL;
	cmn_buf_init(&b, 16 << 20);
	while ((n = fread(chunk, 1, sizeof(chunk), in)) > 0)
		if (cmn_buf_append(&b, chunk, n, NULL) < 0) {
			cmn_buf_free(&b);
			return NULL;
		}
	if (cmn_buf_append(&b, "", 0, NULL) < 0)
		return NULL;
	return cmn_buf_steal(&b, NULL);
}

int cmd_sql(int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_OPTIONS,
					      { "format", required_argument, NULL, 'F' },
					      { "file", required_argument, NULL, 'f' },
					      { "async", no_argument, NULL, 'a' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	struct cli_config cfg = { 0 };
	struct cli_response resp;
	struct cmn_err err = CMN_ERR_INIT;
	cleanup_free char *sql = NULL, *body = NULL;
	const char *format = "table", *file = NULL;
	bool async = false;
	char path[300];
	json_t *req;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "hf:", opts, NULL)) != -1) {
		if (cli_common_option(c, optarg, &cfg))
			continue;
		if (c == 'F' || c == 'f') {
			*(c == 'F' ? &format : &file) = optarg;
			continue;
		}
		if (c == 'a') {
			async = true;
			continue;
		}
		fprintf(
		    c == 'h' ? stdout : stderr,
		    "usage: cordon sql [--project P] [--format table|json|csv] [--async] "
		    "(\"STATEMENT;\" | -f FILE)\n"
		    "Runs a job and prints its result. A job that runs longer than a second\n"
		    "shows one progress line per stage on stderr; Ctrl-C cancels it.\n"
		    "--async: print the job id and return (see `cordon job`).\n" CLI_COMMON_HELP);
		return c == 'h' ? CMN_EXIT_OK : CMN_EXIT_USAGE;
	}
	if ((file != NULL) == (optind < argc) || optind + (file ? 0 : 1) != argc ||
	    (strcmp(format, "table") && strcmp(format, "json") && strcmp(format, "csv"))) {
		fprintf(stderr, "usage: cordon sql [--project P] [--format table|json|csv] "
				"(\"STATEMENT;\" | -f FILE)\n");
		return CMN_EXIT_USAGE;
	}
	sql = file ? read_file(file) : strdup(argv[optind]);
	if (!sql) {
		fprintf(stderr, "cordon sql: cannot read %s\n", file ? file : "statement");
		return CMN_EXIT_FAIL;
	}
	if (cli_config_resolve(&cfg, &err) < 0) {
		fprintf(stderr, "cordon sql: %s\n", err.msg);
		return CMN_EXIT_USAGE;
	}
	if (!cfg.project[0]) {
		fprintf(stderr, "cordon sql: no project: use --project, CORDON_PROJECT or "
				"project= in ~/.cordon/config\n");
		return CMN_EXIT_USAGE;
	}
	snprintf(path, sizeof(path), "/v1/projects/%s/jobs?wait=%d", cfg.project, async ? 0 : 1);
	req = json_pack("{s:s}", "sql", sql);
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!body) {
		fprintf(stderr, "cordon sql: the statement is not valid UTF-8\n");
		return CMN_EXIT_USAGE;
	}
	rc = cli_call("cordon sql", &cfg, "POST", path, body, &resp);
	if (rc)
		return rc;
	if (async && resp.status == 202) {
		printf("%s\n", json_string_value(json_object_get(resp.json, "id")));
		cli_response_free(&resp);
		return CMN_EXIT_OK;
	}
	if (json_object_get(resp.json, "error")) {
		json_t *e = json_object_get(resp.json, "error");
		fprintf(stderr, "cordon sql: job %s %s: %s: %s\n",
			json_string_value(json_object_get(resp.json, "id")),
			json_string_value(json_object_get(resp.json, "status")),
			json_string_value(json_object_get(e, "code")),
			json_string_value(json_object_get(e, "message")));
		cli_response_free(&resp);
		return CMN_EXIT_FAIL;
	}
	if (resp.status == 202 || json_object_get(resp.json, "truncated") == json_true()) {
		const char *id = json_string_value(json_object_get(resp.json, "id"));
		char jid[64];
		snprintf(jid, sizeof(jid), "%s", id ? id : "");
		cli_response_free(&resp);
		rc = follow_job(&cfg, jid, &resp);
		if (rc)
			return rc;
	}
	if (strcmp(format, "json") == 0) {
		json_t *out =
		    json_pack("{s:O, s:O}", "columns", json_object_get(resp.json, "columns"),
			      "rows", json_object_get(resp.json, "rows"));
		json_dumpf(out, stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(out);
	} else if (strcmp(format, "csv") == 0) {
		print_csv(json_object_get(resp.json, "columns"),
			  json_object_get(resp.json, "rows"));
	} else {
		print_table(json_object_get(resp.json, "columns"),
			    json_object_get(resp.json, "rows"));
	}
	cli_response_free(&resp);
	return CMN_EXIT_OK;
}
