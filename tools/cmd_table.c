/* tools/cmd_table.c — `cordon table upload|download`: bulk table data over
 * PUT/GET /v1/projects/{p}/tables/{t}/data (docs/api.md), CSV with a header
 * line or JSON lines. The file is read whole and sent in one signed request
 * (the payload hash covers the body); progress goes to stderr for files of
 * 8 MiB and more. */
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/cli.h"
#include "common/parse.h"
#include "tools/client.h"
#include "tools/cmds.h"

#define MAX_FILE ((size_t)4 << 30)
#define MAX_DOWNLOAD ((size_t)1 << 30)
#define PROGRESS_FROM ((size_t)8 << 20)

static const char upload_usage[] =
    "usage: cordon table upload PROJECT TABLE FILE|- [--partition SPEC] [--overwrite]\n"
    "                           [--format csv|jsonl]\n"
    "Appends (or with --overwrite replaces) the rows of FILE to PROJECT.TABLE.\n"
    "CSV: a header line naming the data columns; an empty unquoted field is NULL,\n"
    "\"\" is an empty string. JSON lines: one object per line, missing keys are NULL.\n"
    "BINARY values are base64, DATETIME 'YYYY-MM-DD HH:MM:SS[.mmm]' (UTC).\n"
    "--partition ds=2024/hr=1: the partition of every row (partitioned tables);\n"
    "with --overwrite only that partition is replaced. --format defaults to jsonl\n"
    "for *.jsonl / *.ndjson files, csv otherwise. Needs odps:Update on the table.\n"
    "A bad value fails the whole upload naming its line and column.\n" CLI_COMMON_HELP;

static const char download_usage[] =
    "usage: cordon table download PROJECT TABLE [--format csv|jsonl] [--partition SPEC]\n"
    "                             [--limit N] [--columns a,b] [--output FILE]\n"
    "Writes the rows of PROJECT.TABLE to stdout (or FILE): JSON lines by default,\n"
    "CSV with a header line with --format csv. Needs odps:Select on every column\n"
    "read, and odps:Download when the project enables it\n"
    "(SETPROJECT odps.security.enabledownloadprivilege=true).\n" CLI_COMMON_HELP;

static const char table_usage[] =
    "usage: cordon table upload PROJECT TABLE FILE|- [options]\n"
    "       cordon table download PROJECT TABLE [options]\n"
    "`cordon table upload --help` and `cordon table download --help` describe them.\n";

static int data_path(struct cmn_buf *path, const char *project, const char *table,
		     const char *partition, const char *mode, const char *limit,
		     const char *columns, struct cmn_err *err)
{
	char sep = '?';
	const char *names[] = { "partition", "mode", "limit", "columns" };
	const char *vals[] = { partition, mode, limit, columns };

	if (cmn_buf_append_str(path, "/v1/projects/", err) < 0 ||
	    cli_query_escape(path, project, err) < 0 ||
	    cmn_buf_append_str(path, "/tables/", err) < 0 ||
	    cli_query_escape(path, table, err) < 0 || cmn_buf_append_str(path, "/data", err) < 0)
		return -1;
	for (size_t i = 0; i < 4; i++) {
		if (!vals[i])
			continue;
		if (cmn_buf_printf(path, err, "%c%s=", sep, names[i]) < 0 ||
		    cli_query_escape(path, vals[i], err) < 0)
			return -1;
		sep = '&';
	}
	return 0;
}

struct progress {
	unsigned last_decile;
	bool tty;
};

static void show_progress(void *arg, size_t sent, size_t total)
{
	struct progress *p = arg;
	unsigned decile = total ? (unsigned)(sent * 10 / total) : 10;

	if (total < PROGRESS_FROM || decile == p->last_decile)
		return;
	p->last_decile = decile;
	fprintf(stderr, "cordon table upload: sent %zu of %zu MiB (%u%%)%s", sent >> 20,
		total >> 20, decile * 10, p->tty && decile < 10 ? "\r" : "\n");
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int read_input(const char *file, struct cmn_buf *data)
{
	struct cmn_err err = CMN_ERR_INIT;
	cleanup_close int fd = strcmp(file, "-") == 0 ? dup(0) : open(file, O_RDONLY | O_CLOEXEC);

	cmn_buf_init(data, MAX_FILE);
	if (fd < 0) {
		fprintf(stderr, "cordon table upload: open %s: %m\n", file);
		return CMN_EXIT_FAIL;
	}
	if (cmn_buf_read_fd(data, fd, &err) < 0) {
		fprintf(stderr, "cordon table upload: read %s: %s\n", file, err.msg);
		return CMN_EXIT_FAIL;
	}
	return 0;
}

static int upload(int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_OPTIONS,
					      { "partition", required_argument, NULL, 'T' },
					      { "overwrite", no_argument, NULL, 'O' },
					      { "format", required_argument, NULL, 'f' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	struct cli_config cfg = { 0 };
	struct cli_response resp;
	struct cmn_err err = CMN_ERR_INIT;
	cleanup_buf struct cmn_buf path = { 0 }, data = { 0 };
	const char *partition = NULL, *format = NULL;
	struct progress prog = { 0, isatty(2) == 1 };
	bool overwrite = false;
	int c, rc;

	cmn_buf_init(&path, 0);
	cmn_buf_init(&data, 0);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (cli_common_option(c, optarg, &cfg))
			continue;
		if (c == 'T')
			partition = optarg;
		else if (c == 'O')
			overwrite = true;
		else if (c == 'f' && (!strcmp(optarg, "csv") || !strcmp(optarg, "jsonl")))
			format = optarg;
		else {
			fputs(upload_usage, c == 'h' ? stdout : stderr);
			return c == 'h' ? CMN_EXIT_OK : CMN_EXIT_USAGE;
		}
	}
	if (argc - optind != 3) {
		fputs(upload_usage, stderr);
		return CMN_EXIT_USAGE;
	}
	if (!format)
		format =
		    ends_with(argv[optind + 2], ".jsonl") || ends_with(argv[optind + 2], ".ndjson")
			? "jsonl"
			: "csv";
	rc = read_input(argv[optind + 2], &data);
	if (rc)
		return rc;
	if (data_path(&path, argv[optind], argv[optind + 1], partition,
		      overwrite ? "overwrite" : "append", NULL, NULL, &err) < 0) {
		fprintf(stderr, "cordon table upload: %s\n", err.msg);
		return CMN_EXIT_FAIL;
	}
	struct cli_request_opts o = {
		.content_type = strcmp(format, "jsonl") == 0 ? "application/x-ndjson" : "text/csv",
		.body = data.data ? data.data : "",
		.body_len = data.len,
		.progress = show_progress,
		.progress_arg = &prog,
	};
	if (!cfg.endpoint[0] && cli_config_resolve(&cfg, &err) < 0) {
		fprintf(stderr, "cordon table upload: %s\n", err.msg);
		return CMN_EXIT_USAGE;
	}
	if (cli_request_ex(&cfg, "PUT", path.data, &o, &resp, &err) < 0) {
		fprintf(stderr, "cordon table upload: %s\n", err.msg);
		return CMN_EXIT_FAIL;
	}
	rc = cli_report("cordon table upload", &resp);
	if (rc == 0)
		printf("%s.%s%s%s: %lld rows (%s)\n", argv[optind], argv[optind + 1],
		       partition ? " " : "", partition ? partition : "",
		       (long long)json_integer_value(json_object_get(resp.json, "rows")),
		       overwrite ? "overwrite" : "append");
	cli_response_free(&resp);
	return rc;
}

static int write_output(const char *file, const struct cmn_buf *body)
{
	cleanup_close int fd =
	    file ? open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : dup(1);
	size_t off = 0;

	if (fd < 0) {
		fprintf(stderr, "cordon table download: open %s: %m\n", file ? file : "stdout");
		return CMN_EXIT_FAIL;
	}
	while (off < body->len) {
		ssize_t n = write(fd, body->data + off, body->len - off);
		if (n < 0) {
			fprintf(stderr, "cordon table download: write: %m\n");
			return CMN_EXIT_FAIL;
		}
		off += (size_t)n;
	}
	return CMN_EXIT_OK;
}

static int download(int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_OPTIONS,
					      { "partition", required_argument, NULL, 'T' },
					      { "limit", required_argument, NULL, 'l' },
					      { "columns", required_argument, NULL, 'c' },
					      { "output", required_argument, NULL, 'o' },
					      { "format", required_argument, NULL, 'f' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	struct cli_config cfg = { 0 };
	struct cli_response resp;
	struct cmn_err err = CMN_ERR_INIT;
	cleanup_buf struct cmn_buf path = { 0 };
	const char *partition = NULL, *limit = NULL, *columns = NULL, *output = NULL;
	bool csv = false;
	uint64_t n;
	int c, rc;

	cmn_buf_init(&path, 0);
	optind = 1;
	while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
		if (cli_common_option(c, optarg, &cfg))
			continue;
		if (c == 'T')
			partition = optarg;
		else if (c == 'l' && cmn_parse_u64(optarg, &n, NULL) == 0 && n > 0)
			limit = optarg;
		else if (c == 'c')
			columns = optarg;
		else if (c == 'o')
			output = optarg;
		else if (c == 'f' && (!strcmp(optarg, "csv") || !strcmp(optarg, "jsonl")))
			csv = strcmp(optarg, "csv") == 0;
		else {
			fputs(download_usage, c == 'h' ? stdout : stderr);
			return c == 'h' ? CMN_EXIT_OK : CMN_EXIT_USAGE;
		}
	}
	if (argc - optind != 2) {
		fputs(download_usage, stderr);
		return CMN_EXIT_USAGE;
	}
	if (data_path(&path, argv[optind], argv[optind + 1], partition, NULL, limit, columns,
		      &err) < 0) {
		fprintf(stderr, "cordon table download: %s\n", err.msg);
		return CMN_EXIT_FAIL;
	}
	struct cli_request_opts o = { .accept = csv ? "text/csv" : "application/x-ndjson",
				      .max_response = MAX_DOWNLOAD };
	if (!cfg.endpoint[0] && cli_config_resolve(&cfg, &err) < 0) {
		fprintf(stderr, "cordon table download: %s\n", err.msg);
		return CMN_EXIT_USAGE;
	}
	if (cli_request_ex(&cfg, "GET", path.data, &o, &resp, &err) < 0) {
		fprintf(stderr, "cordon table download: %s\n", err.msg);
		return CMN_EXIT_FAIL;
	}
	rc = cli_report("cordon table download", &resp);
	if (rc == 0)
		rc = write_output(output, &resp.body);
	cli_response_free(&resp);
	return rc;
}

int cmd_table(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "upload") == 0)
		return upload(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "download") == 0)
		return download(argc - 1, argv + 1);
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(table_usage, stdout);
		return CMN_EXIT_OK;
	}
	fputs(table_usage, stderr);
	return CMN_EXIT_USAGE;
}
