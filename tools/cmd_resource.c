/* tools/cmd_resource.c — `cordon resource put|get|rm|ls`: a project's
 * resources (Lua scripts, data files) over the signed API
 * (/v1/projects/{p}/resources[/{name}], docs/api.md).
 *
 * Exit status: 0 ok; 1 failure (the server's code and message on stderr);
 * 2 usage; 3 access denied (cli_report). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/io.h"
#include "common/cli.h"
#include "scheduler/resources.h"
#include "tools/client.h"
#include "tools/cmds.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: cordon resource put FILE|- [--name NAME]\n"
		     "       cordon resource get NAME [-o FILE]\n"
		     "       cordon resource rm NAME\n"
		     "       cordon resource ls [--format table|json]\n\n"
		     "Uploads, downloads, deletes and lists the resources of a project: Lua\n"
		     "scripts for CREATE FUNCTION ... USING and data files UDFs read with\n"
		     "resource.read(). put reads FILE (or stdin with -, which needs --name);\n"
		     "the name defaults to FILE's base name. Replacing a resource needs Write\n"
		     "on it, creating one CreateResource on the project. A Lua script (*.lua)\n"
		     "must be UTF-8 source text; precompiled chunks are refused. At most 64 MiB.\n"
		     "get writes the content to stdout, or to FILE with -o.\n" CLI_COMMON_HELP);
}

/* Reads all of fd (at most the resource cap, plus one byte so that a
 * larger file is noticed here and refused with a clear message). */
static int read_input(const char *file, struct cmn_buf *out)
{
	struct cmn_err err = CMN_ERR_INIT;
	cleanup_close int fd = strcmp(file, "-") == 0 ? fcntl(0, F_DUPFD_CLOEXEC, 3)
						      : open(file, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "cordon resource: open %s: %s\n", file, strerror(errno));
		return -1;
	}
	cmn_buf_init(out, (size_t)SCH_RESOURCE_MAX_BYTES);
	if (cmn_buf_read_fd(out, fd, &err) < 0) {
		if (err.code == CMN_ELIMIT)
			fprintf(stderr, "cordon resource: %s is larger than %u bytes (64 MiB)\n",
				file, SCH_RESOURCE_MAX_BYTES);
		else
			fprintf(stderr, "cordon resource: read %s: %s\n", file, err.msg);
		return -1;
	}
	return 0;
}

static int put(struct cli_config *cfg, const char *file, const char *name)
{
	cleanup_buf struct cmn_buf data = { 0 };
	cleanup_free char *copy = strdup(file);
	struct cli_response resp;
	char path[512];
	int rc;

	cmn_buf_init(&data, 0);
	if (!copy)
		return CMN_EXIT_FAIL;
	if (!name && strcmp(file, "-") == 0) {
		fprintf(stderr, "cordon resource put: reading stdin needs --name\n");
		return CMN_EXIT_USAGE;
	}
	if (!name)
		name = basename(copy);
	if (!sch_resource_name_ok(name)) {
		fprintf(stderr,
			"cordon resource put: bad name '%s' (1..%d of [A-Za-z0-9_.-], not "
			"starting with '-' or '.'); use --name\n",
			name, SCH_RESOURCE_NAME_MAX);
		return CMN_EXIT_USAGE;
	}
	if (read_input(file, &data) < 0)
		return CMN_EXIT_FAIL;
	snprintf(path, sizeof(path), "/v1/projects/%s/resources/%s", cfg->project, name);
	rc = cli_call_bytes("cordon resource put", cfg, "PUT", path, data.data ? data.data : "",
			    data.len, "application/octet-stream", &resp);
	if (rc)
		return rc;
	printf("%s %s: %lld bytes, sha256 %s\n",
	       json_is_true(json_object_get(resp.json, "replaced")) ? "replaced" : "created",
	       json_string_value(json_object_get(resp.json, "name")),
	       (long long)json_integer_value(json_object_get(resp.json, "size")),
	       json_string_value(json_object_get(resp.json, "sha256")));
	cli_response_free(&resp);
	return CMN_EXIT_OK;
}

static int get(struct cli_config *cfg, const char *name, const char *outfile)
{
	struct cli_response resp;
	char path[512];
	int rc, fd = 1;

	snprintf(path, sizeof(path), "/v1/projects/%s/resources/%s", cfg->project, name);
	rc = cli_call("cordon resource get", cfg, "GET", path, NULL, &resp);
	if (rc)
		return rc;
	if (outfile) {
		fd = open(outfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0) {
			fprintf(stderr, "cordon resource get: open %s: %s\n", outfile,
				strerror(errno));
			cli_response_free(&resp);
			return CMN_EXIT_FAIL;
		}
	}
	rc = cmn_write_all(fd, resp.body.data ? resp.body.data : "", resp.body.len, NULL);
	if (outfile && close(fd) < 0)
		rc = -1;
	if (rc < 0)
		fprintf(stderr, "cordon resource get: write %s: %s\n", outfile ? outfile : "stdout",
			strerror(errno));
	cli_response_free(&resp);
	return rc < 0 ? CMN_EXIT_FAIL : CMN_EXIT_OK;
}

static int rm(struct cli_config *cfg, const char *name)
{
	struct cli_response resp;
	char path[512];
	int rc;

	snprintf(path, sizeof(path), "/v1/projects/%s/resources/%s", cfg->project, name);
	rc = cli_call("cordon resource rm", cfg, "DELETE", path, NULL, &resp);
	if (rc)
		return rc;
	printf("deleted %s\n", json_string_value(json_object_get(resp.json, "deleted")));
	cli_response_free(&resp);
	return CMN_EXIT_OK;
}

static int ls(struct cli_config *cfg, const char *format)
{
	struct cli_response resp;
	char path[512];
	json_t *list, *row;
	size_t i;
	int rc;

	snprintf(path, sizeof(path), "/v1/projects/%s/resources", cfg->project);
	rc = cli_call("cordon resource ls", cfg, "GET", path, NULL, &resp);
	if (rc)
		return rc;
	list = json_object_get(resp.json, "resources");
	if (strcmp(format, "json") == 0) {
		json_dumpf(list, stdout, JSON_COMPACT);
		putchar('\n');
	} else {
		printf("%-32s %10s  %-20s  %-64s  %s\n", "name", "size", "created (UTC)", "sha256",
		       "owner");
		json_array_foreach(list, i, row)
		{
			time_t t = (time_t)json_integer_value(json_object_get(row, "created"));
			struct tm tm;
			char when[32] = "";
			if (gmtime_r(&t, &tm))
				strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
			printf("%-32s %10lld  %-20s  %-64s  %s\n",
			       json_string_value(json_object_get(row, "name")),
			       (long long)json_integer_value(json_object_get(row, "size")), when,
			       json_string_value(json_object_get(row, "sha256")),
			       json_string_value(json_object_get(row, "owner")));
		}
	}
	cli_response_free(&resp);
	return CMN_EXIT_OK;
}

/* The subcommand with its operands; a usage error otherwise. */
static int dispatch(struct cli_config *cfg, const char *sub, int nops, char **ops, const char *name,
		    const char *outfile, const char *format)
{
	if (strcmp(sub, "put") == 0 && nops == 1)
		return put(cfg, ops[0], name);
	if (strcmp(sub, "get") == 0 && nops == 1)
		return get(cfg, ops[0], outfile);
	if (strcmp(sub, "rm") == 0 && nops == 1)
		return rm(cfg, ops[0]);
	if (strcmp(sub, "ls") == 0 && nops == 0 &&
	    (strcmp(format, "table") == 0 || strcmp(format, "json") == 0))
		return ls(cfg, format);
	usage(stderr);
	return CMN_EXIT_USAGE;
}

int cmd_resource(int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_OPTIONS,
					      { "name", required_argument, NULL, 'n' },
					      { "output", required_argument, NULL, 'o' },
					      { "format", required_argument, NULL, 'F' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	struct cli_config cfg = { 0 };
	struct cmn_err err = CMN_ERR_INIT;
	const char *name = NULL, *outfile = NULL, *format = "table", *sub;
	int c;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? CMN_EXIT_USAGE : CMN_EXIT_OK;
	}
	sub = argv[1];
	optind = 1;
	/* options may come before or after the operands */
	while ((c = getopt_long(argc - 1, argv + 1, "hn:o:", opts, NULL)) != -1) {
		if (cli_common_option(c, optarg, &cfg))
			continue;
		if (c == 'n')
			name = optarg;
		else if (c == 'o')
			outfile = optarg;
		else if (c == 'F')
			format = optarg;
		else {
			usage(c == 'h' ? stdout : stderr);
			return c == 'h' ? CMN_EXIT_OK : CMN_EXIT_USAGE;
		}
	}
	if (strcmp(sub, "put") && strcmp(sub, "get") && strcmp(sub, "rm") && strcmp(sub, "ls")) {
		fprintf(stderr, "cordon resource: unknown subcommand '%s'\n", sub);
		usage(stderr);
		return CMN_EXIT_USAGE;
	}
	if (cli_config_resolve(&cfg, &err) < 0) {
		fprintf(stderr, "cordon resource: %s\n", err.msg);
		return CMN_EXIT_USAGE;
	}
	if (!cfg.project[0]) {
		fprintf(stderr, "cordon resource: no project: use --project, CORDON_PROJECT or "
				"project= in ~/.cordon/config\n");
		return CMN_EXIT_USAGE;
	}
	return dispatch(&cfg, sub, argc - 1 - optind, argv + 1 + optind, name, outfile, format);
}
